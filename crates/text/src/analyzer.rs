//! The Chinese analyzer: width-folding and lower-casing, jieba segmentation in search mode
//! (long words also yield their sub-words), a user dictionary for local names, stop words
//! dropped. The same analyzer serves indexing and queries, as a tantivy tokenizer.

use jieba_rs::Jieba;
use std::sync::Arc;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the analyzer is registered under in an index.
pub const ZH: &str = "zh";

/// Whether jieba guesses words missing from its dictionary (HMM).
const HMM: bool = false;

/// Words too common to tell requests apart.
const STOP_WORDS: &[&str] = &[
    "的", "了", "是", "在", "和", "与", "及", "或", "我", "我们", "你", "您", "他", "她", "它",
    "这", "那", "有", "也", "都", "就", "对", "把", "被", "让", "给", "从", "向", "到", "于", "为",
    "以", "之", "而", "等", "着", "过", "吗", "呢", "吧", "啊", "呀", "请", "一个", "什么", "怎么",
    "如何", "能否", "是否", "可以", "一下", "问题", "情况", "反映",
];

/// A segmenter with its dictionary (the bundled one plus local words); cheap to clone.
#[derive(Clone)]
pub struct Analyzer {
    jieba: Arc<Jieba>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(std::iter::empty::<&str>())
    }
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer")
    }
}

/// Full-width ASCII to half-width, the ideographic space to a space, lower-cased;
/// character for character.
pub fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            c => c,
        })
        .map(|c| {
            // One character for one, so that offsets in the folded text are offsets in the
            // original (the rare letters that lower-case to two stay as they are).
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

/// The part of `original` that folds to `folded_part` (its first occurrence), as written:
/// "A1区" for "a1区". The part itself where `original` does not contain it.
pub fn unfold(original: &str, folded_part: &str) -> String {
    let folded = fold(original);
    match folded.find(folded_part) {
        Some(b) => original
            .chars()
            .skip(folded[..b].chars().count())
            .take(folded_part.chars().count())
            .collect(),
        None => folded_part.to_string(),
    }
}

pub(crate) fn is_word(w: &str) -> bool {
    // Every stop word is at most two characters (six bytes). A set: every word of every
    // request and order is tested (a scan of the list was ~2.5% of the request threads).
    static STOP: std::sync::LazyLock<foldhash::HashSet<&'static str>> =
        std::sync::LazyLock::new(|| STOP_WORDS.iter().copied().collect());
    w.chars().any(char::is_alphanumeric) && (w.len() > 6 || !STOP.contains(w))
}

impl Analyzer {
    /// With `words` added to the dictionary: district, street and community names, unit
    /// names, so that "洋湖街道" or "景蓉华苑" stay whole.
    pub fn new<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> Self {
        let mut jieba = Jieba::new();
        for w in words {
            let w = fold(w.as_ref().trim());
            if w.chars().count() >= 2 {
                jieba.add_word(&w, None, None);
            }
        }
        Analyzer {
            jieba: Arc::new(jieba),
        }
    }

    /// The words of `text` without their sub-words (a synonym, a phrase).
    pub fn words(&self, text: &str) -> Vec<String> {
        let folded = fold(text);
        self.jieba
            .cut(&folded, HMM)
            .into_iter()
            .filter(|t| is_word(t.word))
            .map(|t| t.word.to_string())
            .collect()
    }

    /// Every token of already folded text with its part of speech (jieba's tags: `n`
    /// noun, `ns` place, `v` verb …), punctuation and stop words included.
    pub fn tag<'a>(&'a self, folded: &'a str) -> Vec<(&'a str, &'a str)> {
        self.jieba
            .tag(folded, HMM)
            .into_iter()
            .map(|t| (t.word, t.tag))
            .collect()
    }

    /// The terms of `text` in search mode: words and the sub-words of long ones.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let folded = fold(text);
        self.jieba
            .cut_for_search(&folded, HMM)
            .into_iter()
            .filter(|t| is_word(t.word))
            .map(|t| t.word.to_string())
            .collect()
    }
}

/// The analyzer as a tantivy tokenizer.
#[derive(Clone)]
pub struct ZhTokenizer {
    analyzer: Analyzer,
    tokens: Vec<Token>,
}

impl ZhTokenizer {
    pub fn new(analyzer: Analyzer) -> Self {
        ZhTokenizer {
            analyzer,
            tokens: Vec::new(),
        }
    }
}

pub struct ZhTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    index: usize,
}

impl Tokenizer for ZhTokenizer {
    type TokenStream<'a> = ZhTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ZhTokenStream<'a> {
        self.tokens.clear();
        // Folding keeps every character, so character offsets map back to `text`; highlights
        // need byte offsets in the original.
        let folded = fold(text);
        let byte_of: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .collect();
        let mut words: Vec<_> = self
            .analyzer
            .jieba
            .cut_for_search(&folded, HMM)
            .into_iter()
            .filter(|t| is_word(t.word))
            .collect();
        // Search mode yields a long word's parts before the word; highlighting needs the
        // tokens in text order.
        words.sort_by_key(|t| (t.start, t.end));
        // A sub-word inside a longer word ends where the word ends: ends never go back
        // (a highlight then covers the whole word).
        let mut end = 0;
        for (position, t) in words.into_iter().enumerate() {
            end = end.max(byte_of.get(t.end).copied().unwrap_or(text.len()));
            self.tokens.push(Token {
                offset_from: byte_of.get(t.start).copied().unwrap_or(text.len()),
                offset_to: end,
                position,
                text: t.word.to_string(),
                position_length: 1,
            });
        }
        ZhTokenStream {
            tokens: &mut self.tokens,
            index: 0,
        }
    }
}

impl TokenStream for ZhTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.index < self.tokens.len() {
            self.index += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.index - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.index - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolding_finds_the_text_as_written() {
        assert_eq!(unfold("投诉A市Ａ１区北路", "a1区"), "Ａ１区");
        assert_eq!(unfold("投诉A市A1区北路", "a市a1区"), "A市A1区");
        assert_eq!(unfold("别处", "a1区"), "a1区");
    }

    #[test]
    fn local_names_stay_whole_and_common_words_go() {
        let plain = Analyzer::default();
        let local = Analyzer::new(["洋湖街道", "桂花坪街道"]);
        let text = "洋湖街道和桂花坪街道的物业管理有问题";
        let before = plain.terms(text);
        assert!(!before.contains(&"桂花坪街道".to_string()), "{before:?}");
        let terms = local.terms(text);
        for w in ["洋湖街道", "桂花坪街道", "物业管理"] {
            assert!(terms.contains(&w.to_string()), "{w}: {terms:?}");
        }
        assert!(!terms.contains(&"的".to_string()));
        assert!(!terms.iter().any(|t| t.trim().is_empty()));
    }

    #[test]
    fn stop_words_are_short() {
        // `is_word` skips the list for longer words.
        assert!(STOP_WORDS.iter().all(|w| w.len() <= 6));
        assert!(STOP_WORDS.iter().all(|w| !is_word(w)));
        assert!(is_word("物业") && is_word("我们小区"));
    }

    #[test]
    fn full_width_and_case_fold() {
        let a = Analyzer::default();
        assert_eq!(fold("ＡＢＣ１２３　ｘ"), "abc123 x");
        assert!(a.terms("ＷＩＦＩ信号差").contains(&"wifi".to_string()));
    }

    #[test]
    fn tokens_point_into_the_original_text() {
        let mut t = ZhTokenizer::new(Analyzer::default());
        let text = "Ａ市物业费上涨";
        let mut s = t.token_stream(text);
        let mut seen = Vec::new();
        while s.advance() {
            let tok = s.token();
            seen.push((tok.text.clone(), &text[tok.offset_from..tok.offset_to]));
        }
        assert!(
            seen.iter()
                .any(|(w, orig)| w == "物业费" && *orig == "物业费"),
            "{seen:?}"
        );
        assert!(
            seen.iter().any(|(w, orig)| w == "a" && *orig == "Ａ"),
            "{seen:?}"
        );
    }
}
