//! `jiesu-bench create`: durable order creation over HTTP at N concurrent clients.

use crate::body;
use crate::client::{self, RefData};
use crate::server::{CpuMark, CpuUse, Memory, Server, SyncCounter, run_jiesu};
use crate::stats::{Latencies, LatencySummary, fmt_mib, thousands, verdict};
use crate::{Common, DataDir};
use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const TARGET_ORDERS_PER_SEC: f64 = 3000.0;
pub const TARGET_P99_MS: f64 = 20.0;

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// Concurrent clients, each with its own connection and session (as `agent`).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Unmeasured seconds of the same load before the measurement.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Data directory to use (and keep); built with `jiesu demo` if it holds no demo yet.
    /// Default: a fresh directory under the target directory, removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the fresh data directory.
    #[arg(long)]
    pub keep: bool,
    /// The server's scheduler interval in milliseconds (0: scheduler off); default the server's.
    #[arg(long)]
    pub scheduler_interval_ms: Option<u64>,
    /// Before the run, import this many orders accepted ten days ago, so that the scheduler
    /// has their reminders and overdue marks to send while orders are being created.
    #[arg(long, default_value_t = 0)]
    pub backlog: u64,
}

#[derive(Debug, Serialize)]
pub struct CreateReport {
    pub scenario: &'static str,
    pub jiesu: String,
    pub data_dir: String,
    pub demo_build_seconds: f64,
    pub clients: usize,
    pub warmup_seconds: f64,
    pub duration_seconds: f64,
    /// The server's scheduler interval, where the run set it.
    pub scheduler_interval_ms: Option<u64>,
    /// Overdue orders imported before the run for the scheduler to work through.
    pub backlog: u64,
    /// Orders the server's scheduler alerted from its start to the end of the run.
    pub scheduler_alerted: u64,
    /// Created (201) orders whose response arrived inside the measured window.
    pub orders: u64,
    pub orders_per_sec: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: LatencySummary,
    pub cpu: CpuUse,
    /// fsync + fdatasync calls by the server in the window (perf tracepoints), if countable.
    pub server_syncs: Option<u64>,
    /// Orders per sync call: a lower bound of the writer's group-commit batch size.
    pub orders_per_sync: Option<f64>,
    pub server_memory: Memory,
    pub target_orders_per_sec: f64,
    pub target_p99_ms: f64,
    pub throughput_met: bool,
    pub p99_met: bool,
}

impl CreateReport {
    pub fn print(&self) {
        println!(
            "create — POST /api/orders, {} clients, {:.0} s measured after {:.0} s warm-up",
            self.clients, self.duration_seconds, self.warmup_seconds
        );
        if self.backlog > 0 || self.scheduler_interval_ms.is_some() {
            println!(
                "  scheduler   interval {}, backlog of {} overdue orders to alert; {} alerted by the end",
                self.scheduler_interval_ms
                    .map(|ms| if ms == 0 {
                        "off".to_string()
                    } else {
                        format!("{ms} ms")
                    })
                    .unwrap_or_else(|| "server default".into()),
                thousands(self.backlog),
                thousands(self.scheduler_alerted)
            );
        }
        println!(
            "  throughput  {} orders, {:.0} orders/s   (target ≥ {:.0}/s: {})",
            thousands(self.orders),
            self.orders_per_sec,
            self.target_orders_per_sec,
            verdict(self.throughput_met)
        );
        println!(
            "  latency     {}   (target p99 < {:.0} ms: {})",
            self.latency.line(),
            self.target_p99_ms,
            verdict(self.p99_met)
        );
        if self.errors > 0 {
            println!(
                "  errors      {}  first: {}",
                thousands(self.errors),
                self.first_error.as_deref().unwrap_or("-")
            );
        }
        println!("  cpu         {}", self.cpu.line());
        match (self.server_syncs, self.orders_per_sync) {
            (Some(s), Some(b)) => println!(
                "  writer      {} fsync/fdatasync calls in the window, {:.1} orders per sync (group commit)",
                thousands(s),
                b
            ),
            _ => println!(
                "  writer      sync calls not countable here (needs `perf` with tracepoints)"
            ),
        }
        println!(
            "  server RSS  {} now, {} peak ({} heap, {} files)",
            fmt_mib(self.server_memory.rss_bytes),
            fmt_mib(self.server_memory.peak_rss_bytes),
            fmt_mib(self.server_memory.rss_anon_bytes),
            fmt_mib(self.server_memory.rss_file_bytes)
        );
        println!(
            "  demo data   built in {:.1} s in {}",
            self.demo_build_seconds, self.data_dir
        );
    }
}

/// Makes sure `dir` holds the demo (`jiesu demo --no-serve` leaves an existing one alone).
pub async fn ensure_demo(jiesu: &Path, dir: &Path) -> anyhow::Result<f64> {
    ensure_demo_with(jiesu, dir, &[]).await
}

/// `ensure_demo` with more arguments for `jiesu demo` (e.g. `--database-url`).
pub async fn ensure_demo_with(jiesu: &Path, dir: &Path, extra: &[&str]) -> anyhow::Result<f64> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir_s = dir
        .to_str()
        .context("the data directory path is not UTF-8")?;
    let start = Instant::now();
    let mut args = vec!["demo", "--data-dir", dir_s, "--no-serve"];
    args.extend_from_slice(extra);
    run_jiesu(jiesu, &args).await?;
    Ok(start.elapsed().as_secs_f64())
}

/// What one client did.
#[derive(Default)]
pub struct WorkerResult {
    pub latencies: Latencies,
    /// 201s completed inside the window.
    pub ok_in_window: u64,
    pub ok_total: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl WorkerResult {
    pub fn merge(&mut self, o: WorkerResult) {
        self.latencies.add(&o.latencies);
        self.ok_in_window += o.ok_in_window;
        self.ok_total += o.ok_total;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

/// How long a create load runs.
#[derive(Clone, Copy)]
pub enum Stop {
    /// Measure requests started in [t0, t1) and stop at t1.
    Window { t0: Instant, t1: Instant },
    /// Stop once this many orders were requested in all (a shared counter); no measuring.
    Count,
}

/// Pre-generated bodies: varied, and cheap for the client to send.
pub fn body_pool(refs: &RefData, n: usize, seed: u64) -> anyhow::Result<Arc<Vec<String>>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let bodies = (0..n)
        .map(|_| serde_json::to_string(&body::create_body(&mut rng, refs)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(bodies))
}

/// One client: POST bodies back to back until told to stop.
pub async fn create_worker(
    client: reqwest::Client,
    base: String,
    bodies: Arc<Vec<String>>,
    offset: usize,
    stop: Stop,
    remaining: Arc<AtomicU64>,
) -> WorkerResult {
    let url = format!("{base}/api/orders");
    let mut r = WorkerResult::default();
    let mut i = offset;
    loop {
        let started = Instant::now();
        let measured = match stop {
            Stop::Window { t0, t1 } => {
                if started >= t1 {
                    break;
                }
                started >= t0
            }
            Stop::Count => {
                if remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_err()
                {
                    break;
                }
                false
            }
        };
        let body = bodies[i % bodies.len()].clone();
        i = i.wrapping_add(1);
        let res = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let outcome = match res {
            Ok(resp) if resp.status() == reqwest::StatusCode::CREATED => {
                // Read the whole response, as a client would.
                match resp.bytes().await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(format!("reading the response: {e}")),
                }
            }
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                Err(format!(
                    "{status}: {}",
                    text.chars().take(300).collect::<String>()
                ))
            }
            Err(e) => Err(e.to_string()),
        };
        let done = Instant::now();
        match outcome {
            Ok(()) => {
                r.ok_total += 1;
                if measured {
                    r.latencies.record(done - started);
                }
                if let Stop::Window { t0, t1 } = stop
                    && done >= t0
                    && done < t1
                {
                    r.ok_in_window += 1;
                }
            }
            Err(e) => {
                r.errors += 1;
                if r.first_error.is_none() {
                    r.first_error = Some(e);
                }
                // Do not spin on a broken server.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    r
}

/// A create load over a measured window: the clients (each with the base URL it posts to)
/// start together, `warmup` seconds pass unmeasured, then `duration` seconds are measured.
pub struct Load {
    pub t0: Instant,
    pub t1: Instant,
    tasks: tokio::task::JoinSet<WorkerResult>,
}

impl Load {
    pub async fn start(
        clients: Vec<(reqwest::Client, String)>,
        bodies: Arc<Vec<String>>,
        warmup: f64,
        duration: f64,
    ) -> Load {
        let start = Instant::now() + Duration::from_millis(50);
        let t0 = start + Duration::from_secs_f64(warmup);
        let t1 = t0 + Duration::from_secs_f64(duration);
        let stop = Stop::Window { t0, t1 };
        let remaining = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        tokio::time::sleep_until(start.into()).await;
        for (k, (c, base)) in clients.into_iter().enumerate() {
            tasks.spawn(create_worker(
                c,
                base,
                bodies.clone(),
                k * 257,
                stop,
                remaining.clone(),
            ));
        }
        Load { t0, t1, tasks }
    }

    /// Waits for every client and adds up what they did.
    pub async fn finish(mut self) -> anyhow::Result<WorkerResult> {
        let mut total = WorkerResult::default();
        while let Some(r) = self.tasks.join_next().await {
            total.merge(r.context("a client task failed")?);
        }
        Ok(total)
    }
}

/// Logs `n` clients in as `username`, one session each.
pub async fn login_many(
    base: &str,
    username: &str,
    n: usize,
) -> anyhow::Result<Vec<reqwest::Client>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(client::login(base, username).await?);
    }
    Ok(out)
}

pub async fn run(common: &Common, args: &CreateArgs) -> anyhow::Result<CreateReport> {
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    anyhow::ensure!(args.warmup >= 0.0, "--warmup must not be negative");
    let dir = match &args.data_dir {
        Some(d) => DataDir::kept(d.clone()),
        None => DataDir::fresh(&common.work_root(), "create-", args.keep)?,
    };
    eprintln!("[create] building the demo in {}", dir.path().display());
    let demo_build_seconds = ensure_demo(&common.jiesu, dir.path()).await?;
    eprintln!("[create] demo ready ({demo_build_seconds:.1} s); starting the server");
    if args.backlog > 0 {
        eprintln!(
            "[create] importing a backlog of {} overdue orders",
            args.backlog
        );
        import_backlog(&common.jiesu, dir.path(), args.backlog).await?;
    }
    let mut env = Vec::new();
    if let Some(ms) = args.scheduler_interval_ms {
        env.push(("JIESU_SCHEDULER_INTERVAL_MS", ms.to_string()));
    }
    let server = Server::start_with_env(&common.jiesu, dir.path(), &env).await?;
    // A fresh server first builds its hot spots and dispatch models (a few seconds of both
    // cores on the demo); creation is measured on a server that is up, not one warming up.
    let settled = server.settle(Duration::from_secs(120)).await?;
    eprintln!("[create] server idle after {settled:.0} s (start-up warm-up done)");
    let mut result = measure(common, args, &server, dir.path(), demo_build_seconds).await;
    if let Ok(r) = &mut result {
        r.scheduler_alerted = server.scheduler_alerted();
    }
    if result.is_err() {
        eprintln!("[create] server log tail:\n{}", server.log_tail());
    }
    server.stop().await?;
    let report = result?;
    dir.finish()?;
    Ok(report)
}

/// Orders accepted ten days ago: every reminder and the overdue mark of their dispatch
/// deadline is due as soon as the server starts.
async fn import_backlog(jiesu: &Path, dir: &Path, n: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let day = (chrono::Utc::now() - chrono::Duration::days(10))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).context("UTC+8")?)
        .format("%Y-%m-%d");
    let path = dir.join("bench-backlog.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for i in 0..n {
        let row = serde_json::json!({
            "channel": "phone",
            "request_type": "complaint",
            "content": format!("小区积水严重，请尽快处理（积压工单 {i}）"),
            "accepted_at": format!("{day} 09:{:02}:{:02}", (i / 60) % 60, i % 60),
            "external_ref": format!("BACKLOG-{i:07}"),
        });
        serde_json::to_writer(&mut w, &row)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    drop(w);
    let path_s = path
        .to_str()
        .context("the data directory path is not UTF-8")?;
    let dir_s = dir
        .to_str()
        .context("the data directory path is not UTF-8")?;
    let out = crate::server::import_jsonl(jiesu, dir_s, path_s).await?;
    eprintln!("[create] {}", out.lines().next().unwrap_or_default());
    Ok(())
}

async fn measure(
    common: &Common,
    args: &CreateArgs,
    server: &Server,
    dir: &Path,
    demo_build_seconds: f64,
) -> anyhow::Result<CreateReport> {
    let base = server.base.clone();
    let admin = client::login(&base, "agent").await?;
    let refs = RefData::fetch(&admin, &base).await?;
    let bodies = body_pool(&refs, 4096, 20261124)?;
    eprintln!(
        "[create] {} leaf categories, {} places; logging in {} clients as agent",
        refs.leaf_categories.len(),
        refs.places.len(),
        args.clients
    );
    let clients = login_many(&base, "agent", args.clients).await?;
    let load = Load::start(
        clients.into_iter().map(|c| (c, base.clone())).collect(),
        bodies,
        args.warmup,
        args.duration,
    )
    .await;
    eprintln!(
        "[create] warming up {:.0} s, then measuring {:.0} s",
        args.warmup, args.duration
    );
    tokio::time::sleep_until(load.t0.into()).await;
    let mark = CpuMark::take(server)?;
    let syncs = SyncCounter::start(server.pid, dir).await;
    tokio::time::sleep_until(load.t1.into()).await;
    let cpu = mark.since(server)?;
    let server_syncs = match syncs {
        Some(s) => s.finish().await,
        None => None,
    };
    let total = load.finish().await?;
    let server_memory = server.memory()?;
    let orders = total.ok_in_window;
    let orders_per_sec = orders as f64 / args.duration;
    let latency = total.latencies.summary();
    Ok(CreateReport {
        scenario: "create",
        jiesu: common.jiesu.display().to_string(),
        data_dir: dir.display().to_string(),
        demo_build_seconds,
        clients: args.clients,
        warmup_seconds: args.warmup,
        duration_seconds: args.duration,
        scheduler_interval_ms: args.scheduler_interval_ms,
        backlog: args.backlog,
        scheduler_alerted: 0,
        orders,
        orders_per_sec,
        errors: total.errors,
        first_error: total.first_error,
        latency,
        cpu,
        server_syncs,
        orders_per_sync: server_syncs
            .filter(|s| *s > 0)
            .map(|s| orders as f64 / s as f64),
        server_memory,
        target_orders_per_sec: TARGET_ORDERS_PER_SEC,
        target_p99_ms: TARGET_P99_MS,
        throughput_met: orders_per_sec >= TARGET_ORDERS_PER_SEC,
        p99_met: latency.count > 0 && latency.p99_ms < TARGET_P99_MS,
    })
}
