//! `kb-http`: knowledge-base searches over HTTP, as agents' panels send them
//! (`GET /api/kb/search?q=…&live=true`), at N concurrent clients against the release server
//! holding the demo plus N entries imported with `jiesu kb import` from the real replies
//! (see `kb`). Target: **≥ 1,000 searches/s**.

use crate::create::{ensure_demo, login_many};
use crate::kb::{entries, load_messages, queries};
use crate::server::{Server, run_jiesu};
use crate::stats::{Latencies, LatencySummary, thousands, verdict};
use crate::{Common, DataDir};
use anyhow::Context;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TARGET_PER_SEC: f64 = 1_000.0;

#[derive(clap::Args, Debug)]
pub struct KbHttpArgs {
    /// Entries to import.
    #[arg(long, default_value_t = 100_000)]
    pub entries: usize,
    /// Concurrent clients, each with its own session (as `agent`).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Unmeasured seconds of the same load before the measurement.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// The messages file.
    #[arg(
        long,
        default_value = "../shared/data/messages/messages-with-replies.jsonl"
    )]
    pub messages: PathBuf,
    /// Data directory to use (and keep); built (demo and import) if it holds no demo yet.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct KbHttpReport {
    pub scenario: &'static str,
    pub entries: usize,
    pub import_seconds: f64,
    pub clients: usize,
    pub duration_seconds: f64,
    pub searches: u64,
    pub searches_per_second: f64,
    pub latency: LatencySummary,
    pub errors: u64,
    pub first_error: Option<String>,
    pub target_per_second: f64,
    pub met: bool,
}

impl KbHttpReport {
    pub fn print(&self) {
        println!(
            "kb-http — GET /api/kb/search (live) over {} imported entries, {} clients",
            thousands(self.entries as u64),
            self.clients
        );
        println!(
            "  throughput  {:.0} searches/s over {:.0} s   (target ≥ {:.0}/s: {})",
            self.searches_per_second,
            self.duration_seconds,
            self.target_per_second,
            verdict(self.met)
        );
        println!("  latency     {}", self.latency.line());
        println!(
            "  errors      {}{}",
            self.errors,
            self.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
        println!(
            "  import      {:.1} s (`jiesu kb import`, with the demo built first)",
            self.import_seconds
        );
    }
}

pub async fn run(common: &Common, args: &KbHttpArgs) -> anyhow::Result<KbHttpReport> {
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    let rows = load_messages(&args.messages)?;
    let dir = match &args.data_dir {
        Some(d) => DataDir::kept(d.clone()),
        None => DataDir::fresh(&common.work_root(), "kb-http-", false)?,
    };
    let fresh = !dir.path().join("jiesu.db").exists();
    let started = Instant::now();
    if fresh {
        eprintln!("[kb-http] building the demo in {}", dir.path().display());
        ensure_demo(&common.jiesu, dir.path()).await?;
        let file = dir.path().join("bench-kb.jsonl");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for d in entries(&rows, args.entries) {
            let row = serde_json::json!({"title": d.title, "answer": d.answer});
            serde_json::to_writer(&mut w, &row)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        drop(w);
        eprintln!("[kb-http] importing {} entries", args.entries);
        let path = |p: &std::path::Path| -> anyhow::Result<String> {
            Ok(p.to_str().context("path is not UTF-8")?.to_string())
        };
        run_jiesu(
            &common.jiesu,
            &[
                "kb",
                "import",
                &path(&file)?,
                "--data-dir",
                &path(dir.path())?,
            ],
        )
        .await?;
    }
    let import_seconds = started.elapsed().as_secs_f64();
    let server = Server::start(&common.jiesu, dir.path()).await?;
    let result = measure(args, &server, &rows, import_seconds).await;
    if result.is_err() {
        eprintln!("[kb-http] server log tail:\n{}", server.log_tail());
    }
    server.stop().await?;
    let report = result?;
    dir.finish()?;
    Ok(report)
}

/// What one client did.
#[derive(Default)]
struct Worker {
    latencies: Latencies,
    in_window: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn measure(
    args: &KbHttpArgs,
    server: &Server,
    rows: &[crate::kb::Message],
    import_seconds: f64,
) -> anyhow::Result<KbHttpReport> {
    let base = server.base.clone();
    let urls: Arc<Vec<String>> = Arc::new(
        queries(rows, 4096, 11)
            .iter()
            .map(|q| {
                let mut u = reqwest::Url::parse(&format!("{base}/api/kb/search"))?;
                u.query_pairs_mut()
                    .append_pair("q", q)
                    .append_pair("limit", "10")
                    .append_pair("live", "true");
                Ok(u.to_string())
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let clients = login_many(&base, "agent", args.clients).await?;
    // The index is built at the server's first search: wait for it outside the window.
    clients[0]
        .get(&urls[0])
        .send()
        .await?
        .error_for_status()
        .context("a first search")?;
    let settled = server.settle(Duration::from_secs(120)).await?;
    eprintln!("[kb-http] server idle after {settled:.0} s; measuring");
    let t0 = Instant::now() + Duration::from_secs_f64(args.warmup);
    let t1 = t0 + Duration::from_secs_f64(args.duration);
    let mut tasks = tokio::task::JoinSet::new();
    for (k, client) in clients.into_iter().enumerate() {
        let urls = urls.clone();
        tasks.spawn(async move {
            let mut w = Worker::default();
            let mut i = k * 131;
            loop {
                let started = Instant::now();
                if started >= t1 {
                    break;
                }
                let url = &urls[i % urls.len()];
                i += 1;
                let outcome = match client.get(url).send().await {
                    Ok(r) if r.status().is_success() => {
                        r.bytes().await.map(|_| ()).map_err(|e| e.to_string())
                    }
                    Ok(r) => Err(format!("{}", r.status())),
                    Err(e) => Err(e.to_string()),
                };
                let done = Instant::now();
                match outcome {
                    Ok(()) if started >= t0 && done < t1 => {
                        w.in_window += 1;
                        w.latencies.record(done - started);
                    }
                    Ok(()) => {}
                    Err(e) => {
                        w.errors += 1;
                        w.first_error.get_or_insert(e);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            w
        });
    }
    let mut latencies = Latencies::new();
    let (mut searches, mut errors, mut first_error) = (0, 0, None);
    while let Some(w) = tasks.join_next().await {
        let w = w.context("a client task failed")?;
        latencies.add(&w.latencies);
        searches += w.in_window;
        errors += w.errors;
        first_error = first_error.or(w.first_error);
    }
    let searches_per_second = searches as f64 / args.duration;
    Ok(KbHttpReport {
        scenario: "kb-http",
        entries: args.entries,
        import_seconds,
        clients: args.clients,
        duration_seconds: args.duration,
        searches,
        searches_per_second,
        latency: latencies.summary(),
        errors,
        first_error,
        target_per_second: TARGET_PER_SEC,
        met: searches_per_second >= TARGET_PER_SEC && errors == 0,
    })
}
