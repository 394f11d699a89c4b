//! `kb`: the knowledge-base search engine (`jiesu-text`) on its own, no server: indexing
//! rate and single-threaded search latency over N entries built from the real replies in
//! `../shared/data/messages/messages-with-replies.jsonl` (cycled to reach N, each copy with
//! its own title and answer combination, answers of the real length), queried with the real messages' titles and
//! content openings. Targets: **indexing ≥ 5,000 entries/s**, **search p99 < 10 ms**.

use crate::stats::{Latencies, LatencySummary, thousands, verdict};
use anyhow::Context;
use jiesu_text::{Analyzer, KbDoc, KbIndex, KbQuery};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct KbArgs {
    /// Entries to index.
    #[arg(long, default_value_t = 100_000)]
    pub entries: usize,
    /// Searches to time.
    #[arg(long, default_value_t = 5_000)]
    pub searches: usize,
    /// The messages file.
    #[arg(
        long,
        default_value = "../shared/data/messages/messages-with-replies.jsonl"
    )]
    pub messages: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct KbReport {
    pub scenario: &'static str,
    pub entries: usize,
    /// Mean length of an answer, in characters.
    pub answer_chars: usize,
    pub index_seconds: f64,
    pub entries_per_second: f64,
    pub search: LatencySummary,
    pub searches_per_second: f64,
    /// The same searches counting every matching entry for `total` (a results page).
    pub search_counted: LatencySummary,
    pub target_entries_per_second: f64,
    pub target_p99_ms: f64,
    pub met: bool,
}

impl KbReport {
    pub fn print(&self) {
        println!(
            "kb — jiesu-text over {} entries from real replies (answers {} characters on average), one thread",
            thousands(self.entries as u64),
            self.answer_chars
        );
        println!(
            "  indexing    {:.1} s = {:.0} entries/s   (target ≥ {:.0}/s: {})",
            self.index_seconds,
            self.entries_per_second,
            self.target_entries_per_second,
            verdict(self.entries_per_second >= self.target_entries_per_second)
        );
        println!(
            "  search      {}; {:.0} searches/s   (target p99 < {:.0} ms: {})",
            self.search.line(),
            self.searches_per_second,
            self.target_p99_ms,
            verdict(self.search.p99_ms < self.target_p99_ms)
        );
        println!(
            "  with total  {}   (exact count of matching entries, as a results page asks)",
            self.search_counted.line()
        );
    }
}

/// A real message: its title, the first 50 characters of its content, and the reply.
pub type Message = (String, String, String);

/// The messages with replies in `path`.
pub fn load_messages(path: &Path) -> anyhow::Result<Vec<Message>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{} is absent: the benchmark needs the shared reference data (--messages PATH)",
            path.display()
        )
    })?;
    let rows: Vec<Message> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["title"].as_str()?.to_string(),
                v["content"].as_str()?.chars().take(50).collect(),
                v["reply"].as_str()?.to_string(),
            ))
        })
        .filter(|(t, _, r)| !t.is_empty() && !r.is_empty())
        .collect();
    anyhow::ensure!(
        !rows.is_empty(),
        "no messages with replies in {}",
        path.display()
    );
    Ok(rows)
}

/// `count` entries from `rows`, cycled: later rounds pair a title with another real reply,
/// so copies differ while answers keep the real length.
pub fn entries(rows: &[Message], count: usize) -> Vec<KbDoc> {
    let n = rows.len();
    (0..count)
        .map(|i| {
            let (title, _, reply) = &rows[i % n];
            let round = i / n;
            let answer = if round == 0 {
                reply.clone()
            } else {
                rows[(i * 7 + round) % n].2.clone()
            };
            KbDoc {
                id: i as u64 + 1,
                version: 1,
                title: if round == 0 {
                    title.clone()
                } else {
                    format!("{title}（{round}）")
                },
                answer,
                usage: (i % 50) as u64,
                ..KbDoc::default()
            }
        })
        .collect()
}

/// `count` searches: titles and content openings of random messages, half each.
pub fn queries(rows: &[Message], count: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count.max(1))
        .map(|_| {
            let (t, c, _) = &rows[rng.gen_range(0..rows.len())];
            if rng.gen_bool(0.5) {
                t.clone()
            } else {
                c.clone()
            }
        })
        .collect()
}

/// Runs every query on this thread: latencies and searches per second.
fn time_searches(
    index: &KbIndex,
    queries: &[String],
    count: bool,
) -> anyhow::Result<(LatencySummary, f64)> {
    let mut lat = Latencies::new();
    let started = Instant::now();
    for q in queries {
        let t = Instant::now();
        let hits = index.search(&KbQuery {
            text: q.clone(),
            limit: 10,
            count,
            ..KbQuery::default()
        })?;
        lat.record(t.elapsed());
        std::hint::black_box(hits);
    }
    let per_second = queries.len() as f64 / started.elapsed().as_secs_f64();
    Ok((lat.summary(), per_second))
}

pub fn run(args: &KbArgs) -> anyhow::Result<KbReport> {
    let rows = load_messages(&args.messages)?;
    let docs = entries(&rows, args.entries);
    let dir = tempfile::tempdir()?;
    let index = KbIndex::open(dir.path(), Analyzer::default())?;
    let started = Instant::now();
    for chunk in docs.chunks(10_000) {
        index.upsert(chunk)?;
    }
    let index_seconds = started.elapsed().as_secs_f64();
    let queries = queries(&rows, args.searches, 5);
    let (search, searches_per_second) = time_searches(&index, &queries, false)?;
    let (counted, _) = time_searches(&index, &queries, true)?;
    let entries_per_second = docs.len() as f64 / index_seconds;
    Ok(KbReport {
        scenario: "kb",
        entries: docs.len(),
        answer_chars: docs.iter().map(|d| d.answer.chars().count()).sum::<usize>()
            / docs.len().max(1),
        index_seconds,
        entries_per_second,
        search,
        searches_per_second,
        search_counted: counted,
        target_entries_per_second: 5_000.0,
        target_p99_ms: 10.0,
        met: entries_per_second >= 5_000.0 && search.p99_ms < 10.0 && counted.p99_ms < 10.0,
    })
}
