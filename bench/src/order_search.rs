//! `order-search`: the order index (`jiesu-text`) on its own, no server: N orders built from the
//! real messages in `../shared/data/messages/messages.jsonl` (cycled to reach N, each copy with
//! its own region, status, units and time), searched single-threaded with real titles and
//! content openings, a third of the searches with a status filter and a third scoped to a
//! unit, as the lists do. Target: **p99 < 50 ms over 1,000,000 orders**.

use crate::stats::{Latencies, LatencySummary, fmt_mib, thousands, verdict};
use anyhow::Context;
use jiesu_text::{Analyzer, OrderDoc, OrderIndex, OrderQuery};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct OrderSearchArgs {
    /// Orders to index.
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: usize,
    /// Searches to time.
    #[arg(long, default_value_t = 2_000)]
    pub searches: usize,
    /// The messages file.
    #[arg(long, default_value = "../shared/data/messages/messages.jsonl")]
    pub messages: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct OrderSearchReport {
    pub scenario: &'static str,
    pub orders: usize,
    pub index_seconds: f64,
    pub orders_per_second: f64,
    /// The index's files on disk once every order is in.
    pub index_bytes: u64,
    pub search: LatencySummary,
    pub target_p99_ms: f64,
    pub met: bool,
}

impl OrderSearchReport {
    pub fn print(&self) {
        println!(
            "order-search — jiesu-text over {} orders from real messages, one thread",
            thousands(self.orders as u64)
        );
        println!(
            "  indexing    {:.1} s = {:.0} orders/s; {} on disk",
            self.index_seconds,
            self.orders_per_second,
            fmt_mib(self.index_bytes)
        );
        println!(
            "  search      {}   (target p99 < {:.0} ms: {})",
            self.search.line(),
            self.target_p99_ms,
            verdict(self.search.p99_ms < self.target_p99_ms)
        );
    }
}

const STATUSES: [&str; 6] = [
    "pending_review",
    "dispatched",
    "handling",
    "replied",
    "callback_pending",
    "closed",
];

pub fn run(args: &OrderSearchArgs) -> anyhow::Result<OrderSearchReport> {
    let text = std::fs::read_to_string(&args.messages).with_context(|| {
        format!(
            "{} is absent: the benchmark needs the shared reference data (--messages PATH)",
            args.messages.display()
        )
    })?;
    let rows: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["title"].as_str()?.to_string(),
                v["content"].as_str()?.to_string(),
            ))
        })
        .filter(|(t, c)| !t.is_empty() && !c.is_empty())
        .collect();
    anyhow::ensure!(
        !rows.is_empty(),
        "no messages in {}",
        args.messages.display()
    );
    let n = rows.len();
    let mut rng = StdRng::seed_from_u64(7);
    let dir = tempfile::tempdir()?;
    let index = OrderIndex::open(dir.path(), Analyzer::default())?;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for i in 0..args.orders {
        let (title, content) = &rows[i % n];
        let district = rng.gen_range(1..=9);
        batch.push(OrderDoc {
            tenant: 1,
            id: i as u64 + 1,
            title: title.clone(),
            content: content.clone(),
            address: format!("A市{district}区{}街道", rng.gen_range(1..=20)),
            reply: String::new(),
            status: STATUSES[rng.gen_range(0..STATUSES.len())].to_string(),
            request_type: "complaint".into(),
            category: Some(format!(
                "{:02}.{:02}",
                rng.gen_range(1..=15),
                rng.gen_range(1..=8)
            )),
            region: Some(format!("4301{district:02}{:03}", rng.gen_range(1..=20))),
            units: vec![1, rng.gen_range(2..200)],
            accepted_at: 1_700_000_000_000 + i as i64 * 30_000,
        });
        if batch.len() == 20_000 {
            index.apply(&batch, None)?;
            batch.clear();
        }
    }
    index.apply(&batch, None)?;
    let index_seconds = started.elapsed().as_secs_f64();
    let index_bytes = dir_bytes(dir.path())?;
    let mut lat = Latencies::new();
    for k in 0..args.searches.max(1) {
        let (t, c) = &rows[rng.gen_range(0..n)];
        let text = if k % 2 == 0 {
            t.clone()
        } else {
            c.chars().take(50).collect()
        };
        let q = OrderQuery {
            tenant: 1,
            text,
            limit: 20,
            statuses: if k % 3 == 1 {
                vec!["handling".into(), "dispatched".into()]
            } else {
                Vec::new()
            },
            units: (k % 3 == 2).then(|| vec![rng.gen_range(2..200)]),
            ..OrderQuery::default()
        };
        let t0 = Instant::now();
        let hits = index.search(&q)?;
        // As the server does, each hit's passage from its order's content (which the server
        // has read from the database by then; here it is in memory).
        let passages: Vec<String> = hits
            .items
            .iter()
            .map(|h| hits.highlight(&rows[(h.id as usize - 1) % n].1))
            .collect();
        lat.record(t0.elapsed());
        std::hint::black_box(passages);
    }
    let search = lat.summary();
    Ok(OrderSearchReport {
        scenario: "order-search",
        orders: args.orders,
        index_seconds,
        orders_per_second: args.orders as f64 / index_seconds,
        index_bytes,
        search,
        target_p99_ms: 50.0,
        met: search.p99_ms < 50.0,
    })
}

/// The bytes of the files in `dir` (the index keeps its files in one directory).
fn dir_bytes(dir: &std::path::Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let m = e?.metadata()?;
        if m.is_file() {
            total += m.len();
        }
    }
    Ok(total)
}
