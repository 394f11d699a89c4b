//! `jiesu-bench`: measures the work-order core against its performance targets by driving the
//! real `jiesu` server over HTTP, as a child process, and prints the figures (a human report,
//! or one JSON object with `--json`).
//!
//! Scenarios and targets (on a 2-core machine, SQLite, durable writes: WAL with
//! `synchronous=FULL`, every group commit fsynced before any caller hears back):
//!
//! * `create`: a data directory with the demo city (`jiesu demo --no-serve`), then
//!   `POST /api/orders` with realistic, varied bodies from 16 concurrent clients (each logged in
//!   as `agent` with its own session and connection), 2 s warm-up, 20 s measured.
//!   Targets: **≥ 3,000 orders/s** and **p99 latency < 20 ms**. Also reported: the server's and
//!   the benchmark's CPU use, fsync calls (group-commit batch size, where `perf` can count
//!   them) and the server's resident memory.
//! * `list`: a data directory with the demo plus 1,000,000 orders (loaded once with
//!   `jiesu import`, accepted times spread over the last 12 months, or over HTTP with
//!   `--load http`; a directory already loaded is reused), then `GET /api/orders` as
//!   `dispatcher` from 4 clients with typical filters (status, unit inbox, category prefix,
//!   district, overdue, number prefix, date range, a combined view, and following
//!   `next_cursor`). Target: **p99 < 50 ms** (per filter and overall).
//!   Then the server's memory from `/proc/<pid>/status`: VmRSS and the peak VmHWM.
//!   Target: **< 200 MB**.
//! * `deadlines`: `Calendar::due` on one core for varied starts and limits, no server.
//!   Target: **≥ 1,000,000 deadlines/s**.
//! * `kb`: the knowledge-base engine alone over 100,000 entries from real replies: indexing
//!   (target **≥ 5,000 entries/s**) and single-threaded search (target **p99 < 10 ms**).
//! * `kb-http`: `GET /api/kb/search?live=true` at 16 clients against the release server with
//!   the demo and 100,000 entries imported by `jiesu kb import`. Target: **≥ 1,000/s**.
//! * `scheduler`: `jiesu scheduler` over the `list` data directory: a pass with nothing due
//!   (target **< 1 s** over 1,000,000 open orders), a dry run that finds every due order, and
//!   an alert pass (orders alerted per second). Scheduler cost on creation: `create
//!   --scheduler-interval-ms 100 --backlog 20000` against `--scheduler-interval-ms 0`
//!   (target: **≤ 10% slower**).
//!
//! * `rates`: the demo grown to 1,000 units, the maintained aggregates of 10,000,000 orders
//!   over 12 months, then this month's rates and rankings and the cockpit over HTTP.
//!   Targets: **monthly rates and ranking < 1 s**, **cockpit < 200 ms**.
//!
//! * `open311`: the demo data directory, then `POST /open311/v2/requests.json` form-encoded
//!   with the demo's `api_key` (varied services from `services.json`, descriptions, coordinates
//!   or addresses, sometimes name, phone and e-mail) from 16 concurrent clients, each on its own
//!   connection, 2 s warm-up, 20 s measured; only 200s with a `service_request_id` count.
//!   Target: **≥ 1,500 requests/s**.
//! * `webhooks`: the demo, a subscription to every event (`POST /api/webhooks`) pointing at a
//!   loopback receiver the benchmark runs, the server's retry base 100 ms. A steady phase
//!   creates orders as `agent` at a fixed rate (8 clients, 400 orders/s, half dispatched at
//!   once) for 20 s and measures event → delivery latency (arrival minus the event's `at`).
//!   Target: **p99 < 1 s**. A backlog phase pauses the subscription, creates 40,000 orders
//!   (about 80,000 events: the body pool repeats, so most orders also get `repeat_found`),
//!   resumes it and times the drain. Target: **≥ 2,000 events/s delivered**. Then every event
//!   is checked to have arrived exactly once (receiver log, the server's delivery counts,
//!   sequence numbers, sampled histories).
//!
//! * `pg-create`: a fresh PostgreSQL database with the demo, `--nodes` (2) `jiesu serve`
//!   processes on it, 16 clients spread over them, 2 s warm-up, 20 s measured; then pgbench
//!   TPC-B on a scratch database of the same server, same clients and duration, and the ratio.
//!   Target: **≥ 2,500 orders/s** with 2 nodes.
//! * `pg-list`: the `list` scenario on PostgreSQL over 10,000,000 orders made inside the
//!   database from the demo's orders (see `pg_list.rs`; the database is kept for later runs).
//!   Target: **p99 < 100 ms**.
//!
//! * `soak`: the demo, then an open-loop mixed load at a target rate for a long time:
//!   `--rate` new orders/s (default 200, twice Beijing's average) as `agent`, each flowing on
//!   through dispatch, sign, reply, check and callback at realistic proportions (`dispatcher`,
//!   `handler`, `callback`), plus reads (lists, search, order detail, the `leader`'s cockpit)
//!   at `--reads-per-order` per order; `--duration-seconds` (1800), windows of
//!   `--window-seconds` (10). Every request is sent when due whatever the others do, and its
//!   latency is measured from its due time (no coordinated omission). Per window and per
//!   kind: count, p50/p95/p99/max, errors; the server's RSS and CPU. At the end: every order
//!   listed with its number and last state, the kept per-status totals against a full count
//!   and against before + the soak's orders, today's rate counts, and `jiesu verify` (hash
//!   chains) with the server stopped. Writes `soak.csv` and `soak.svg` (latency over time
//!   and memory) to `--out`. Targets: **200 orders/s mixed with p99 < 50 ms in every
//!   window** and **flat memory** (< 10% RSS growth over the last half).
//!
//! The `jiesu` binary defaults to the release build in `$CARGO_TARGET_DIR/release/jiesu`
//! (else `./target/release/jiesu`); build both with
//! `cargo build --release -p jiesu -p jiesu-bench`.

mod body;
mod client;
mod create;
mod deadlines;
mod insight;
mod kb;
mod kb_http;
mod list;
mod open311;
mod order_search;
mod pg_create;
mod pg_list;
mod pii;
mod rates;
mod scheduler;
mod server;
mod soak;
mod sqlite_calls;
mod state_codec;
mod stats;
mod webhooks;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "jiesu-bench",
    version,
    about = "Benchmarks of the Jiesu work-order core over HTTP"
)]
struct Cli {
    /// The jiesu binary to run (default: $CARGO_TARGET_DIR/release/jiesu, else ./target/release/jiesu).
    #[arg(long, global = true)]
    jiesu: Option<PathBuf>,
    /// Print one JSON object instead of the report.
    #[arg(long, global = true)]
    json: bool,
    /// Tokio worker threads of the benchmark client (kept low: it shares the machine).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Order creation over HTTP: throughput and latency at N clients.
    Create(create::CreateArgs),
    /// Filtered list queries over a large data directory, then the server's memory.
    List(list::ListArgs),
    /// Deadline computations per second on one core (no server).
    Deadlines(deadlines::DeadlineArgs),
    /// What sealing a citizen's phone and ID number costs per order state (no server).
    Pii(pii::PiiArgs),
    /// How a data directory's order states pack for SQLite, and what it costs (no server);
    /// `--train FILE` trains a new dictionary on them.
    StateCodec(state_codec::StateCodecArgs),
    /// What one SQLite statement costs through sea-orm/sqlx and through rusqlite (no server).
    SqliteCalls(sqlite_calls::SqliteCallsArgs),
    /// Knowledge-base indexing and search on one thread (no server).
    Kb(kb::KbArgs),
    /// Knowledge-base searches over HTTP at N clients (release server, imported entries).
    KbHttp(kb_http::KbHttpArgs),
    /// Order search over N orders (jiesu-text alone, no server): p99 < 50 ms at 1,000,000.
    OrderSearch(order_search::OrderSearchArgs),
    /// The deadline scheduler's scans and alert rate over the `list` data directory.
    Scheduler(scheduler::SchedulerArgs),
    /// Dispatch suggestion models (jiesu-text alone): training on N orders, one suggestion.
    Dispatch(insight::DispatchArgs),
    /// Hot spots (jiesu-text alone): N orders in the window, then an update of new ones.
    Hotspots(insight::HotspotArgs),
    /// Rates, rankings and the cockpit over 1,000 units and 10,000,000 orders' aggregates.
    Rates(rates::RatesArgs),
    /// Open311 request submission (form POST with an api_key) at N clients.
    Open311(open311::Open311Args),
    /// Webhook delivery to a loopback receiver: latency at a steady load, backlog drain rate.
    Webhooks(webhooks::WebhooksArgs),
    /// Order creation on PostgreSQL with several nodes, and pgbench TPC-B on the same server.
    PgCreate(pg_create::PgCreateArgs),
    /// Lists and filters on PostgreSQL over 10,000,000 orders (made in the database).
    PgList(pg_list::PgListArgs),
    /// A long open-loop mixed load (create → dispatch → sign → reply → check → callback, and
    /// reads) at a target rate: latency and memory per window, then the data checked.
    Soak(soak::SoakArgs),
}

/// What every scenario needs.
pub struct Common {
    pub jiesu: PathBuf,
}

impl Common {
    /// Where default data directories go: `<target dir>/jiesu-bench`.
    pub fn work_root(&self) -> PathBuf {
        target_dir().join("jiesu-bench")
    }
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("target"),
    }
}

fn default_jiesu() -> PathBuf {
    let candidate = target_dir().join("release").join("jiesu");
    if candidate.exists() {
        return candidate;
    }
    PathBuf::from("target/release/jiesu")
}

/// A data directory: one given (kept), or a fresh one (removed unless kept).
pub struct DataDir {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl DataDir {
    pub fn kept(path: PathBuf) -> DataDir {
        DataDir { path, temp: None }
    }

    pub fn fresh(root: &Path, prefix: &str, keep: bool) -> anyhow::Result<DataDir> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let t = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(root)
            .with_context(|| format!("creating a directory in {}", root.display()))?;
        if keep {
            let path = t.keep();
            return Ok(DataDir { path, temp: None });
        }
        Ok(DataDir {
            path: t.path().to_path_buf(),
            temp: Some(t),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes a fresh directory (dropping does too, quietly).
    pub fn finish(self) -> anyhow::Result<()> {
        if let Some(t) = self.temp {
            t.close().context("removing the data directory")?;
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Cmd::Deadlines(args) = &cli.command {
        let report = deadlines::run(args)?;
        return emit(cli.json, &report, || report.print());
    }
    if let Cmd::Pii(args) = &cli.command {
        let report = pii::run(args)?;
        return emit(cli.json, &report, || report.print());
    }
    if let Cmd::StateCodec(args) = &cli.command {
        let report = state_codec::run(args).await?;
        return emit(cli.json, &report, || report.print());
    }
    if let Cmd::SqliteCalls(args) = &cli.command {
        let report = sqlite_calls::run(args).await?;
        return emit(cli.json, &report, || report.print());
    }
    if let Cmd::Kb(args) = &cli.command {
        let report = tokio::task::block_in_place(|| kb::run(args))?;
        return emit(cli.json, &report, || report.print());
    }
    if let Cmd::OrderSearch(args) = &cli.command {
        let report = tokio::task::block_in_place(|| order_search::run(args))?;
        return emit(cli.json, &report, || report.print());
    }
    if let Cmd::Dispatch(args) = &cli.command {
        let report = tokio::task::block_in_place(|| insight::run_dispatch(args))?;
        return emit(cli.json, &report, || report.print());
    }
    if let Cmd::Hotspots(args) = &cli.command {
        let report = tokio::task::block_in_place(|| insight::run_hotspots(args))?;
        return emit(cli.json, &report, || report.print());
    }
    let jiesu = cli.jiesu.clone().unwrap_or_else(default_jiesu);
    if !jiesu.exists() {
        anyhow::bail!(
            "no jiesu binary at {}: build it with `cargo build --release -p jiesu` or pass --jiesu PATH",
            jiesu.display()
        );
    }
    let jiesu = std::fs::canonicalize(&jiesu).unwrap_or(jiesu);
    let common = Common { jiesu };
    match &cli.command {
        Cmd::Create(args) => {
            let report = create::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::List(args) => {
            let report = list::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::Deadlines(_)
        | Cmd::Pii(_)
        | Cmd::StateCodec(_)
        | Cmd::SqliteCalls(_)
        | Cmd::Kb(_)
        | Cmd::OrderSearch(_)
        | Cmd::Dispatch(_)
        | Cmd::Hotspots(_) => {
            unreachable!("handled before the binary is needed")
        }
        Cmd::KbHttp(args) => {
            let report = kb_http::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::Scheduler(args) => {
            let report = scheduler::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::Rates(args) => {
            let report = rates::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::Open311(args) => {
            let report = open311::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::Webhooks(args) => {
            let report = webhooks::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::PgCreate(args) => {
            let report = pg_create::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::PgList(args) => {
            let report = pg_list::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
        }
        Cmd::Soak(args) => {
            let report = soak::run(&common, args).await?;
            emit(cli.json, &report, || report.print())?;
            report.ensure_invariants()?;
        }
    }
    Ok(())
}

/// Prints a report: as JSON with `--json`, else for people.
fn emit<T: serde::Serialize>(json: bool, report: &T, print: impl FnOnce()) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print();
    }
    Ok(())
}
