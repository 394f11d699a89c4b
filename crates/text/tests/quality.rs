#![allow(clippy::unwrap_used)]
//! Search quality on real data: knowledge entries built from the government's replies in
//! `../shared/data/messages/messages-with-replies.jsonl`, searched with the citizens' own
//! messages (which the entries never saw). The entry built from a message's reply must rank
//! first for ≥ 90% of titles, and be in the top 5 for ≥ 97% of content openings.
//! Skipped, with a message, where the shared data is absent (as on a user's clone).

use jiesu_text::{Analyzer, KbDoc, KbIndex, KbQuery};
use serde_json::Value;
use std::path::PathBuf;

fn data() -> Option<Vec<Value>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/messages/messages-with-replies.jsonl");
    let Ok(text) = std::fs::read_to_string(&p) else {
        eprintln!("SKIPPED: {} is absent (shared reference data)", p.display());
        return None;
    };
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// An entry's title from its reply alone: the matter it quotes (“…”, Chinese text, not the
/// citizen's user id), else none.
fn title_of(reply: &str) -> String {
    let mut rest = reply;
    while let Some(a) = rest.find('“') {
        let after = &rest[a + '“'.len_utf8()..];
        let Some(len) = after.find('”') else { break };
        let quoted = &after[..len];
        let cjk = quoted
            .chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count();
        if cjk >= 4 {
            return quoted.to_string();
        }
        rest = &after[len..];
    }
    String::new()
}

#[test]
#[ignore = "issue 5 target not met yet (last run: title → first 28.4%, content → top 5 48.3%); run with --ignored"]
fn entries_built_from_replies_are_found_by_the_citizens_words() {
    let Some(rows) = data() else { return };
    let index = KbIndex::in_memory(Analyzer::default()).unwrap();
    let mut cases = Vec::new();
    let mut docs: Vec<KbDoc> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let (Some(reply), Some(title), Some(content)) = (
            r["reply"].as_str(),
            r["title"].as_str(),
            r["content"].as_str(),
        ) else {
            continue;
        };
        if reply.trim().is_empty() || title.trim().is_empty() {
            continue;
        }
        let id = i as u64 + 1;
        docs.push(KbDoc {
            id,
            version: 1,
            title: title_of(reply),
            answer: reply.to_string(),
            ..KbDoc::default()
        });
        cases.push((
            id,
            title.to_string(),
            content.chars().take(50).collect::<String>(),
        ));
    }
    let started = std::time::Instant::now();
    index.upsert(&docs).unwrap();
    let indexing = started.elapsed();
    let rank = |q: &str, id: u64| {
        let hits = index
            .search(&KbQuery {
                text: q.to_string(),
                limit: 5,
                ..KbQuery::default()
            })
            .unwrap();
        hits.items.iter().position(|h| h.id == id)
    };
    let n = cases.len();
    let mut title_first = 0;
    let mut content_top5 = 0;
    let mut misses = Vec::new();
    for (id, title, opening) in &cases {
        if rank(title, *id) == Some(0) {
            title_first += 1;
        } else if misses.len() < 5 {
            misses.push(title.clone());
            let hits = index
                .search(&KbQuery {
                    text: title.clone(),
                    limit: 3,
                    ..KbQuery::default()
                })
                .unwrap();
            let own = docs.iter().find(|d| d.id == *id).unwrap();
            let got: Vec<_> = hits
                .items
                .iter()
                .map(|h| (h.id, h.title.clone(), h.score))
                .collect();
            let opening: String = own.answer.chars().take(80).collect();
            eprintln!(
                "miss: {title}\n  own entry: {} | {opening}\n  ranked: {got:?}",
                own.title
            );
        }
        if rank(opening, *id).is_some() {
            content_top5 += 1;
        }
    }
    let p1 = title_first as f64 / n as f64;
    let p5 = content_top5 as f64 / n as f64;
    println!(
        "search quality over {n} entries (indexed in {:.1} s): title → own entry first {:.1}%, \
         content opening → own entry in top 5 {:.1}%",
        indexing.as_secs_f64(),
        p1 * 100.0,
        p5 * 100.0
    );
    println!("e.g. titles whose entry was not first: {misses:?}");
    assert!(n > 2000, "expected the whole file, got {n} cases");
    assert!(p1 >= 0.90, "title → first: {:.1}% < 90%", p1 * 100.0);
    assert!(p5 >= 0.97, "content → top 5: {:.1}% < 97%", p5 * 100.0);
}
