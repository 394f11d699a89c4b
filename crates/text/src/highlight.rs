//! Highlighted passages: the window of a text with the most of a search's words, the words
//! in `<em>`, the rest HTML-escaped. It looks for the words themselves (folded, as the
//! analyzer made them) instead of segmenting every hit's text again, which is what tantivy's
//! snippet generator does and what cost most of a search's time.

use crate::analyzer::fold;

/// Text made safe to show as HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Characters shown before the first highlighted word of a passage.
const LEAD: usize = 12;

/// At most `max_chars` characters of `text` around the most of `words`, with every
/// occurrence of a word in `<em>`; the opening of the text where none occurs.
pub(crate) fn highlight(text: &str, words: &[String], max_chars: usize) -> String {
    // Folding maps one character to one, so char positions agree between the two.
    let folded: Vec<char> = fold(text).chars().collect();
    let bytes: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    if bytes.len() != folded.len() + 1 {
        return escape(&text.chars().take(max_chars).collect::<String>());
    }
    // Every occurrence, as (start, end, word) in characters.
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for (w, word) in words.iter().enumerate() {
        let word: Vec<char> = word.chars().collect();
        if word.is_empty() || word.len() > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - word.len() {
            if folded[start..start + word.len()] == word[..] {
                found.push((start, start + word.len(), w));
            }
        }
    }
    found.sort();
    // The window that holds the most distinct words (then the most occurrences).
    let mut best = (0usize, 0usize, 0usize);
    for (i, &(start, ..)) in found.iter().enumerate() {
        let in_window: Vec<usize> = found[i..]
            .iter()
            .take_while(|(_, e, _)| *e <= start + max_chars.saturating_sub(LEAD))
            .map(|(.., w)| *w)
            .collect();
        let mut distinct = in_window.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let score = (distinct.len(), in_window.len());
        if (score.0, score.1) > (best.0, best.1) {
            best = (score.0, score.1, start);
        }
    }
    let from = if found.is_empty() {
        0
    } else {
        best.2.saturating_sub(LEAD)
    };
    let to = (from + max_chars).min(folded.len());
    let from = to.saturating_sub(max_chars).min(from);
    // Overlapping occurrences (a word and its sub-word) become one highlighted span.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for &(s, e, _) in &found {
        let (s, e) = (s.max(from), e.min(to));
        if s >= e {
            continue;
        }
        match spans.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => spans.push((s, e)),
        }
    }
    let slice = |a: usize, b: usize| escape(&text[bytes[a]..bytes[b]]);
    let mut out = String::new();
    let mut at = from;
    for (s, e) in spans {
        out.push_str(&slice(at, s));
        out.push_str("<em>");
        out.push_str(&slice(s, e));
        out.push_str("</em>");
        at = e;
    }
    out.push_str(&slice(at, to));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn marks_words_in_the_best_window_and_escapes_the_rest() {
        let text = format!(
            "{}小区停水请联系<物业>，物业费另计。",
            "无关的开头。".repeat(30)
        );
        let h = highlight(&text, &words(&["停水", "物业", "物业费"]), 40);
        assert!(h.contains("<em>停水</em>"), "{h}");
        // A word and its longer form overlap: one span.
        assert!(h.contains("<em>物业费</em>"), "{h}");
        assert!(h.contains("&lt;<em>物业</em>&gt;"), "{h}");
        let shown = h.replace("<em>", "").replace("</em>", "");
        // Near the end the window fills up with what comes before.
        assert!(shown.ends_with("另计。"), "{shown}");
        assert_eq!(
            shown
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .chars()
                .count(),
            40
        );
        let h = highlight(
            &format!("{text}{}", "后文。".repeat(30)),
            &words(&["停水"]),
            40,
        );
        assert!(
            h.starts_with("的开头。无关的开头。小区<em>停水</em>"),
            "a little lead before the first word: {h}"
        );
    }

    #[test]
    fn folded_matches_map_back_to_the_original() {
        let h = highlight("办理ＷＩＦＩ业务", &words(&["wifi"]), 50);
        assert_eq!(h, "办理<em>ＷＩＦＩ</em>业务");
        assert_eq!(
            highlight("没有匹配 & 转义", &words(&["停水"]), 4),
            "没有匹配"
        );
        assert_eq!(highlight("a<b", &words(&[]), 10), "a&lt;b");
    }
}
