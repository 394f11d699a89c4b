//! `jiesu-bench soak`: a long, open-loop, mixed load against one release `jiesu serve` over the
//! demo city, reported window by window, and the data checked at the end.
//!
//! The load (defaults: 200 new orders/s for 30 minutes, 10 s windows):
//!
//! * New orders (`POST /api/orders` as `agent`, realistic bodies) at `--rate` per second, on a
//!   fixed schedule: order k is due at `start + k / rate`.
//! * Each order then goes through the lifecycle as the people would, each step due a while
//!   (`--step-seconds` on average, drawn from 0.2–1.8× it) after the previous one answered:
//!   90% are dispatched by `dispatcher` (70% of those to 市住房和城乡建设局, whose `handler`
//!   works them; the rest to the other departments and district centres, whose staff accounts
//!   the soak hands over first as an admin would: it sets their passwords); each unit's
//!   handler signs 95% of its orders and replies to 90% of those; the
//!   dispatcher checks 95% of the replies; `callback` calls back 80% of the orders waiting for
//!   it: 75% satisfied, 15% basically satisfied, 10% dissatisfied (re-handled: reply, check and
//!   callback again). Steps due after the end of the run are not made: the orders stop where
//!   they are, in every state of the lifecycle.
//! * Reads at `--reads-per-order` × `--rate` per second, also on a fixed schedule: 50% lists
//!   (the dispatcher's queues, the handler's inbox, the callback queue, filters by category and
//!   district), 30% one order's detail (a recent one), 15% full-text search, 5% the leader's
//!   cockpit.
//!
//! Every request is spawned at its due time whatever the others are doing (open loop), with at
//! most `--max-in-flight` in flight; its latency is measured from the time it was **due**, not
//! from when it was sent, so a slow server (or a late client) cannot hide its queueing delay
//! (no coordinated omission). The client's own delay (due → sent) is reported as `lag`. A
//! request counts in the window in which it completed; only 2xx answers enter the latency
//! figures. Any other answer is an error, except a 409 `state_conflict` on a lifecycle step,
//! which is counted apart as a conflict (none is expected: each order is driven by one task).
//!
//! Each window: per request kind the count and p50/p95/p99/max, the whole mix, the server's
//! resident memory (VmRSS from `/proc/<pid>/status`) and its CPU. Targets: the mix's **p99 <
//! 50 ms in every window**, and **flat memory** (RSS at the end within 10% of RSS halfway).
//!
//! At the end, with the load stopped: every order the soak got a 201 for is listed by the API
//! with its number and the state the soak last saw; the per-status totals the server keeps
//! (`GET /api/orders?status=…`, from its maintained counts) equal a count over the whole list,
//! and the totals before the run plus the soak's orders; today's rate counts (`/api/stats/rates`:
//! accepted, dispatched, completed, closed by callback, called back, re-handled) grew by the
//! soak's orders, by the server's definitions of those counts; then the
//! server is stopped and `jiesu verify` checks every order's hash chain and the kept counts.
//! Written to `--out`: `soak.csv` (one row per window) and `soak.svg` (latency over time and
//! the server's memory).

use crate::client::{ListPage, RefData, get_json};
use crate::create::{body_pool, ensure_demo};
use crate::server::{CpuMark, CpuUse, Memory, Server, SlowStatement, cpu_seconds, run_jiesu};
use crate::stats::{fmt_mib, fmt_ms, thousands, verdict};
use crate::{Common, DataDir};
use anyhow::Context;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

pub const TARGET_P99_MS: f64 = 50.0;
/// Memory is flat when RSS at the end is within this share of RSS halfway through.
pub const FLAT_GROWTH_PERCENT: f64 = 10.0;

// The lifecycle's proportions (see the module's comment).
const P_DISPATCH: f64 = 0.90;
const P_TO_HANDLER: f64 = 0.70;
const P_SIGN: f64 = 0.95;
const P_REPLY: f64 = 0.90;
const P_CHECK: f64 = 0.95;
const P_CALLBACK: f64 = 0.80;
const P_SATISFIED: f64 = 0.75;
const P_BASICALLY: f64 = 0.15;

/// The reads and their weights.
const READ_MIX: [(Kind, u32); 4] = [
    (Kind::List, 50),
    (Kind::Detail, 30),
    (Kind::Search, 15),
    (Kind::Cockpit, 5),
];

/// Words people search the orders for.
const SEARCH_TERMS: &[&str] = &[
    "烧烤",
    "噪音",
    "电梯",
    "垃圾",
    "占道经营",
    "供暖",
    "积水",
    "停水",
    "路灯",
    "公积金",
    "医保",
    "充电",
    "拖欠工资",
    "装修",
    "食品安全",
    "红绿灯",
    "公交",
    "物业",
];

const REPLIES: &[&str] = &[
    "已联系来电人并到现场核实，问题已整改完毕。",
    "经核查情况属实，已责令相关单位限期整改，并向来电人说明处理结果。",
    "已协调物业公司安排维修，来电人表示认可。",
    "已安排执法人员现场检查，依法作出处理，后续将加强巡查。",
    "已向来电人解释相关政策及办理流程，来电人表示理解。",
];

const STATUSES: [&str; 10] = [
    "pending_review",
    "returned",
    "dispatched",
    "handling",
    "replied",
    "callback_pending",
    "closed",
    "withdrawn",
    "invalid",
    "merged",
];

#[derive(clap::Args, Debug, Clone)]
pub struct SoakArgs {
    /// New orders per second (each then flows through the lifecycle).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds of load.
    #[arg(long, default_value_t = 1800)]
    pub duration_seconds: u64,
    /// Seconds per reported window.
    #[arg(long, default_value_t = 10)]
    pub window_seconds: u64,
    /// Reads (lists, detail, search, cockpit) per new order.
    #[arg(long, default_value_t = 1.0)]
    pub reads_per_order: f64,
    /// Mean seconds between one lifecycle step of an order and its next.
    #[arg(long, default_value_t = 5.0)]
    pub step_seconds: f64,
    /// Requests in flight at most; a request waiting for a slot is late, and the wait counts.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
    /// Sessions (each with its own connections) per demo user.
    #[arg(long, default_value_t = 4)]
    pub sessions: usize,
    /// Seed of the bodies and the choices.
    #[arg(long, default_value_t = 20261224)]
    pub seed: u64,
    /// Where `soak.csv` and `soak.svg` go (default: the work directory, `<target>/jiesu-bench`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Data directory to use (and keep); built with `jiesu demo` if it holds no demo yet.
    /// Default: a fresh directory under the target directory, removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the fresh data directory.
    #[arg(long)]
    pub keep: bool,
}

// ---------------------------------------------------------------------------------------------
// Request kinds and histograms

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Dispatch,
    Sign,
    Reply,
    Check,
    Callback,
    List,
    Search,
    Cockpit,
    Detail,
}

const KINDS: [Kind; 10] = [
    Kind::Create,
    Kind::Dispatch,
    Kind::Sign,
    Kind::Reply,
    Kind::Check,
    Kind::Callback,
    Kind::List,
    Kind::Search,
    Kind::Cockpit,
    Kind::Detail,
];
const N_KINDS: usize = KINDS.len();

impl Kind {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Dispatch => "dispatch",
            Kind::Sign => "sign",
            Kind::Reply => "reply",
            Kind::Check => "check",
            Kind::Callback => "callback",
            Kind::List => "list",
            Kind::Search => "search",
            Kind::Cockpit => "cockpit",
            Kind::Detail => "detail",
        }
    }
}

/// Latencies in microseconds (1 µs to 10 min, 3 significant digits).
#[derive(Clone)]
struct Hist(Histogram<u64>);

impl Hist {
    fn new() -> Hist {
        Hist(
            Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("constant histogram bounds are valid"),
        )
    }

    fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(us);
    }

    fn add(&mut self, o: &Hist) {
        // Same bounds: adding cannot fail.
        let _ = self.0.add(&o.0);
    }

    fn summary(&self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        let ms = |q: f64| self.0.value_at_quantile(q) as f64 / 1000.0;
        Percentiles {
            count: self.0.len(),
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: self.0.max() as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

// ---------------------------------------------------------------------------------------------
// The report

#[derive(Debug, Serialize)]
pub struct KindFigures {
    pub kind: &'static str,
    /// 2xx answers.
    pub ok: u64,
    pub per_sec: f64,
    pub errors: u64,
    pub conflicts: u64,
    pub latency: Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub index: usize,
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// 2xx answers completed in the window.
    pub requests: u64,
    pub errors: u64,
    pub conflicts: u64,
    /// The whole mix.
    pub latency: Percentiles,
    /// Due → sent: the client's own lateness (waiting for a slot or for the runtime).
    pub lag_p99_ms: f64,
    pub rss_bytes: u64,
    pub rss_anon_bytes: u64,
    /// Percent of one core over the window.
    pub server_cpu_percent: f64,
    /// Per kind, in the order of `KINDS` (for the CSV).
    #[serde(skip)]
    kinds: Vec<Percentiles>,
}

#[derive(Debug, Serialize)]
pub struct MemoryFigures {
    pub first_window_rss_bytes: u64,
    pub last_window_rss_bytes: u64,
    pub max_window_rss_bytes: u64,
    pub max_window: usize,
    /// RSS in the window halfway through, and the growth from there to the last window.
    pub half_rss_bytes: u64,
    pub last_half_growth_bytes: i64,
    pub last_half_growth_percent: f64,
    /// Least-squares slope of RSS over the last half, MiB per hour.
    pub last_half_slope_mib_per_hour: f64,
    /// The server's peak (VmHWM) at the end.
    pub peak_rss_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct StatusCount {
    pub status: &'static str,
    /// `total` of `GET /api/orders?status=…` (the server's maintained counts).
    pub server: u64,
    /// Orders in that state over the whole list, page by page.
    pub listed: u64,
    /// The server's total before the run.
    pub before: u64,
    /// The soak's orders the soak last saw in that state.
    pub soak: u64,
}

#[derive(Debug, Serialize)]
pub struct StatsCheck {
    pub day: String,
    /// (count, before, after, the soak's orders): after − before should equal the soak's.
    pub counts: Vec<(String, u64, u64, u64)>,
    /// False when the run crossed midnight (China time): not comparable.
    pub comparable: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Invariants {
    /// Orders the soak got a 201 for.
    pub orders: u64,
    /// Of those, listed by the API at the end (walking every page of `GET /api/orders`).
    pub found: u64,
    pub missing: u64,
    pub number_mismatches: u64,
    /// Listed in another state than the soak last saw.
    pub status_mismatches: u64,
    /// Orders whose state the soak could not tell (a step failed and the order could not be read).
    pub status_unknown: u64,
    /// Orders the list walk returned, and ids it returned twice.
    pub listed_total: u64,
    pub listed_duplicates: u64,
    pub statuses: Vec<StatusCount>,
    pub statuses_ok: bool,
    pub stats: Option<StatsCheck>,
    pub stats_ok: bool,
    /// `jiesu verify --data-dir DIR` after the server stopped.
    pub verify_ok: bool,
    pub verify_orders: Option<u64>,
    pub verify_events: Option<u64>,
    pub verify_output: String,
    pub examples: Vec<String>,
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub scenario: &'static str,
    pub jiesu: String,
    pub data_dir: String,
    pub demo_build_seconds: f64,
    pub rate: f64,
    pub duration_seconds: u64,
    pub window_seconds: u64,
    pub reads_per_order: f64,
    pub step_seconds: f64,
    pub max_in_flight: usize,
    /// Orders created (201).
    pub orders: u64,
    pub orders_per_sec: f64,
    /// 2xx answers of every kind.
    pub requests: u64,
    pub requests_per_sec: f64,
    pub kinds: Vec<KindFigures>,
    pub all: Percentiles,
    pub errors: u64,
    pub conflicts: u64,
    /// Errors by kind and answer (`create 500`, `sign transport` …).
    pub errors_by: BTreeMap<String, u64>,
    pub error_examples: Vec<String>,
    /// Requests still unanswered when the report was made (none unless the server hung).
    pub unfinished: bool,
    pub windows: Vec<Window>,
    pub worst_window_p99_ms: f64,
    pub worst_window: usize,
    pub windows_over_target: usize,
    pub memory: MemoryFigures,
    pub server_cpu_percent: f64,
    /// Over the whole load: the server (and its busiest threads), this benchmark, the machine.
    pub cpu: Option<CpuUse>,
    /// What the server wrote to storage during the load (`/proc/<pid>/io`), if readable.
    pub disk_write_bytes: Option<u64>,
    pub slow_statements: Vec<SlowStatement>,
    pub invariants: Invariants,
    pub csv: String,
    pub svg: String,
    pub target_p99_ms: f64,
    pub rate_met: bool,
    pub p99_met: bool,
    pub flat_memory: bool,
}

impl SoakReport {
    pub fn print(&self) {
        println!(
            "soak — {:.0} orders/s asked for {} s, {:.1} reads per order, a step every ~{:.0} s, windows of {} s",
            self.rate,
            self.duration_seconds,
            self.reads_per_order,
            self.step_seconds,
            self.window_seconds
        );
        println!(
            "  throughput  {} orders, {:.1} orders/s   (asked {:.0}/s: {}); {} requests, {:.0}/s",
            thousands(self.orders),
            self.orders_per_sec,
            self.rate,
            verdict(self.rate_met),
            thousands(self.requests),
            self.requests_per_sec
        );
        println!(
            "  {:<10} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9}",
            "kind", "ok", "/s", "p50", "p95", "p99", "max", "errors", "conflicts"
        );
        let row = |name: &str, ok: u64, per_sec: f64, l: &Percentiles, e: u64, c: u64| {
            println!(
                "  {:<10} {:>10} {:>8.1} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9}",
                name,
                thousands(ok),
                per_sec,
                fmt_ms(l.p50_ms),
                fmt_ms(l.p95_ms),
                fmt_ms(l.p99_ms),
                fmt_ms(l.max_ms),
                e,
                c
            );
        };
        for k in &self.kinds {
            row(k.kind, k.ok, k.per_sec, &k.latency, k.errors, k.conflicts);
        }
        row(
            "all",
            self.requests,
            self.requests_per_sec,
            &self.all,
            self.errors,
            self.conflicts,
        );
        println!(
            "  windows     {}; worst p99 {} (window {}), {} over {:.0} ms   (target p99 < {:.0} ms in every window: {})",
            self.windows.len(),
            fmt_ms(self.worst_window_p99_ms),
            self.worst_window,
            self.windows_over_target,
            self.target_p99_ms,
            self.target_p99_ms,
            verdict(self.p99_met)
        );
        let m = &self.memory;
        println!(
            "  server RSS  first window {}, last {}, max {} (window {}); peak VmHWM {}",
            fmt_mib(m.first_window_rss_bytes),
            fmt_mib(m.last_window_rss_bytes),
            fmt_mib(m.max_window_rss_bytes),
            m.max_window,
            fmt_mib(m.peak_rss_bytes)
        );
        println!(
            "              last half {} → {} ({:+.1}%, {:+.1} MiB/h)   (target flat, < {:.0}% growth: {})",
            fmt_mib(m.half_rss_bytes),
            fmt_mib(m.last_window_rss_bytes),
            m.last_half_growth_percent,
            m.last_half_slope_mib_per_hour,
            FLAT_GROWTH_PERCENT,
            verdict(self.flat_memory)
        );
        if let Some(b) = self.disk_write_bytes {
            println!(
                "  disk        server wrote {} ({:.1} MiB/s, {:.0} KiB per order)",
                fmt_mib(b),
                b as f64 / (1024.0 * 1024.0) / self.duration_seconds.max(1) as f64,
                b as f64 / 1024.0 / self.orders.max(1) as f64
            );
        }
        match &self.cpu {
            Some(c) => println!("  cpu         {}", c.line()),
            None => println!(
                "  server CPU  {:.0}% of one core on average",
                self.server_cpu_percent
            ),
        }
        if self.errors + self.conflicts > 0 {
            let by: Vec<String> = self
                .errors_by
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect();
            println!(
                "  errors      {} errors, {} conflicts: {}",
                thousands(self.errors),
                thousands(self.conflicts),
                by.join(", ")
            );
            for e in self.error_examples.iter().take(5) {
                println!("              {e}");
            }
        } else {
            println!("  errors      none");
        }
        if self.unfinished {
            println!("  unfinished  requests were still unanswered 120 s after the end");
        }
        let i = &self.invariants;
        println!(
            "  orders      {} created, {} listed with their numbers, {} missing, {} number and {} state mismatches ({} states unknown)",
            thousands(i.orders),
            thousands(i.found),
            i.missing,
            i.number_mismatches,
            i.status_mismatches,
            i.status_unknown
        );
        println!(
            "  statuses    {:<17} {:>9} {:>9} {:>9} {:>9}",
            "", "server", "listed", "before", "+soak"
        );
        for s in &i.statuses {
            if s.server + s.listed + s.before + s.soak == 0 {
                continue;
            }
            println!(
                "              {:<17} {:>9} {:>9} {:>9} {:>9}",
                s.status,
                thousands(s.server),
                thousands(s.listed),
                thousands(s.before),
                thousands(s.soak)
            );
        }
        println!(
            "              {} orders listed ({} twice); counts agree: {}",
            thousands(i.listed_total),
            i.listed_duplicates,
            if i.statuses_ok { "yes" } else { "NO" }
        );
        if let Some(s) = &i.stats {
            let parts: Vec<String> = s
                .counts
                .iter()
                .map(|(name, before, after, soak)| {
                    format!(
                        "{name} {}→{} (+{} soak)",
                        thousands(*before),
                        thousands(*after),
                        thousands(*soak)
                    )
                })
                .collect();
            println!(
                "  rates       {} {}: {}",
                s.day,
                if s.comparable {
                    if i.stats_ok { "agree" } else { "DIFFER" }
                } else {
                    "not compared (the run crossed midnight)"
                },
                parts.join(", ")
            );
        }
        println!(
            "  verify      {}",
            if i.verify_ok {
                i.verify_output.clone()
            } else {
                format!("FAILED: {}", i.verify_output)
            }
        );
        for e in i.examples.iter().take(5) {
            println!("              {e}");
        }
        println!("  invariants  {}", if i.ok { "PASS" } else { "FAIL" });
        for s in self.slow_statements.iter().take(3) {
            println!(
                "  slow SQL    {}× (max {:.1} s): {}",
                s.count,
                s.max_seconds,
                s.statement.chars().take(160).collect::<String>()
            );
        }
        println!("  files       {} and {}", self.csv, self.svg);
        println!(
            "  demo data   built in {:.1} s in {}",
            self.demo_build_seconds, self.data_dir
        );
    }

    /// Fails when a check of the data failed (after the report was printed).
    pub fn ensure_invariants(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.invariants.ok,
            "the soak's invariants failed (see the report)"
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The load

/// What the load tells the collector.
enum Msg {
    /// A request answered (or failed).
    Done {
        kind: Kind,
        latency: Duration,
        lag: Duration,
        outcome: Outcome,
    },
    /// A response the soak could not read.
    Unreadable { kind: Kind, error: String },
    Created {
        id: i64,
        number: String,
        status: String,
    },
    /// A lifecycle step succeeded: the order's state now.
    Moved { id: i64, kind: Kind, status: String },
    /// A step failed: the order's state read back, if it could be.
    Resynced { id: i64, status: Option<String> },
}

enum Outcome {
    Ok,
    Conflict(String),
    Error { key: String, message: String },
}

#[derive(Deserialize)]
struct Brief {
    id: i64,
    number: String,
    status: Code,
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

#[derive(Clone, Copy)]
enum Who {
    Dispatcher,
    Handler,
    Callback,
}

/// Everything the load's tasks share.
struct Ctx {
    base: String,
    agents: Vec<reqwest::Client>,
    dispatchers: Vec<reqwest::Client>,
    handlers: Vec<reqwest::Client>,
    callbacks: Vec<reqwest::Client>,
    leaders: Vec<reqwest::Client>,
    handler_unit: i64,
    other_units: Vec<i64>,
    /// The other units' staff, by unit.
    staff: HashMap<i64, Vec<reqwest::Client>>,
    bodies: Arc<Vec<String>>,
    lists: Vec<(Who, String)>,
    /// `/api/orders/search?q=…` paths.
    searches: Vec<String>,
    recent: Mutex<VecDeque<i64>>,
    slots: Semaphore,
    tx: UnboundedSender<Msg>,
    end: Instant,
    step_seconds: f64,
    seed: u64,
}

fn pick(v: &[reqwest::Client], k: u64) -> &reqwest::Client {
    &v[(k % v.len() as u64) as usize]
}

impl Ctx {
    fn send(&self, m: Msg) {
        // The collector outlives every task; a closed channel only means it gave up waiting.
        let _ = self.tx.send(m);
    }

    /// Who acts; `unit` the order's unit for a handler.
    fn who(&self, w: Who, unit: i64, k: u64) -> &reqwest::Client {
        match w {
            Who::Dispatcher => pick(&self.dispatchers, k),
            Who::Handler => match self.staff.get(&unit) {
                Some(staff) if unit != self.handler_unit => pick(staff, k),
                _ => pick(&self.handlers, k),
            },
            Who::Callback => pick(&self.callbacks, k),
        }
    }

    fn remember(&self, id: i64) {
        let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() >= 1_000 {
            r.pop_front();
        }
        r.push_back(id);
    }

    fn recent_order(&self, k: u64) -> Option<i64> {
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_empty() {
            return None;
        }
        // One of the newest thousand: what people look at.
        r.get((k % r.len() as u64) as usize).copied()
    }

    fn think(&self, rng: &mut StdRng) -> Duration {
        Duration::from_secs_f64(self.step_seconds * rng.gen_range(0.2..1.8))
    }

    /// Sends a request due at `at` (waiting for a slot first) and tells the collector how it
    /// went: the body of a 2xx answer and when it arrived.
    async fn call(
        &self,
        kind: Kind,
        at: Instant,
        req: reqwest::RequestBuilder,
    ) -> Option<(Vec<u8>, Instant)> {
        let permit = self.slots.acquire().await;
        let sent = Instant::now();
        let result = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(b) if status.is_success() => Ok(b.to_vec()),
                    Ok(b) => {
                        let text = String::from_utf8_lossy(&b);
                        let text: String = text.chars().take(300).collect();
                        if status == reqwest::StatusCode::CONFLICT
                            && text.contains("\"state_conflict\"")
                        {
                            Err(Outcome::Conflict(format!("{}: {text}", kind.name())))
                        } else {
                            Err(Outcome::Error {
                                key: format!("{} {}", kind.name(), status.as_u16()),
                                message: format!("{} {status}: {text}", kind.name()),
                            })
                        }
                    }
                    Err(e) => Err(Outcome::Error {
                        key: format!("{} body", kind.name()),
                        message: format!("{} {status}, reading the body: {e}", kind.name()),
                    }),
                }
            }
            Err(e) => Err(Outcome::Error {
                key: format!(
                    "{} {}",
                    kind.name(),
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    }
                ),
                message: format!("{}: {e}", kind.name()),
            }),
        };
        let done = Instant::now();
        drop(permit);
        let (outcome, body) = match result {
            Ok(b) => (Outcome::Ok, Some(b)),
            Err(o) => (o, None),
        };
        self.send(Msg::Done {
            kind,
            latency: done.saturating_duration_since(at),
            lag: sent.saturating_duration_since(at),
            outcome,
        });
        body.map(|b| (b, done))
    }

    /// A lifecycle request: the order as it answered.
    async fn step(
        &self,
        kind: Kind,
        at: Instant,
        req: reqwest::RequestBuilder,
    ) -> Option<(Brief, Instant)> {
        let (body, done) = self.call(kind, at, req).await?;
        match serde_json::from_slice::<Brief>(&body) {
            Ok(b) => Some((b, done)),
            Err(e) => {
                self.send(Msg::Unreadable {
                    kind,
                    error: format!("{}: unreadable answer: {e}", kind.name()),
                });
                None
            }
        }
    }

    /// The order's state as the server has it (after a failed step; not measured).
    async fn read_status(&self, id: i64, k: u64) -> Option<String> {
        let r = pick(&self.dispatchers, k)
            .get(format!("{}/api/orders/{id}", self.base))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json::<Brief>().await.ok().map(|b| b.status.code)
    }
}

/// One order: created when due, then step by step through the lifecycle.
async fn order_flow(ctx: Arc<Ctx>, at: Instant, k: u64) {
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let body = ctx.bodies[(k % ctx.bodies.len() as u64) as usize].clone();
    let req = pick(&ctx.agents, k)
        .post(format!("{}/api/orders", ctx.base))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    let Some((order, mut last)) = ctx.step(Kind::Create, at, req).await else {
        return;
    };
    let id = order.id;
    let mut status = order.status.code;
    ctx.send(Msg::Created {
        id,
        number: order.number,
        status: status.clone(),
    });
    ctx.remember(id);
    let to_handler = ctx.other_units.is_empty() || rng.gen_bool(P_TO_HANDLER);
    let unit = if to_handler {
        ctx.handler_unit
    } else {
        ctx.other_units
            .choose(&mut rng)
            .copied()
            .unwrap_or(ctx.handler_unit)
    };
    // Units without staff to log in as leave their orders dispatched.
    let worked = unit == ctx.handler_unit || ctx.staff.contains_key(&unit);
    loop {
        let (kind, p) = match status.as_str() {
            "pending_review" => (Kind::Dispatch, P_DISPATCH),
            "dispatched" if worked => (Kind::Sign, P_SIGN),
            "handling" => (Kind::Reply, P_REPLY),
            "replied" => (Kind::Check, P_CHECK),
            "callback_pending" => (Kind::Callback, P_CALLBACK),
            _ => break,
        };
        if !rng.gen_bool(p) {
            break;
        }
        let due = last + ctx.think(&mut rng);
        if due >= ctx.end {
            break;
        }
        let (who, body) = match kind {
            Kind::Dispatch => (
                Who::Dispatcher,
                json!({"targets": [{"unit_id": unit, "role": "lead"}], "note": "请按时限办理"}),
            ),
            Kind::Sign => (Who::Handler, json!({})),
            Kind::Reply => (
                Who::Handler,
                json!({
                    "content": REPLIES.choose(&mut rng).copied().unwrap_or("已处理"),
                    "contacted_citizen": true
                }),
            ),
            Kind::Check => (Who::Dispatcher, json!({"approve": true})),
            _ => {
                let x: f64 = rng.r#gen();
                let body = if x < P_SATISFIED {
                    json!({"satisfaction": "satisfied", "resolved": true})
                } else if x < P_SATISFIED + P_BASICALLY {
                    json!({"satisfaction": "basically_satisfied", "resolved": true})
                } else {
                    json!({"satisfaction": "dissatisfied", "resolved": false, "comment": "问题仍未解决"})
                };
                (Who::Callback, body)
            }
        };
        tokio::time::sleep_until(due.into()).await;
        let path = match kind {
            Kind::Dispatch => "dispatch",
            Kind::Sign => "sign",
            Kind::Reply => "reply",
            Kind::Check => "check",
            _ => "callback",
        };
        let req = ctx
            .who(who, unit, k)
            .post(format!("{}/api/orders/{id}/{path}", ctx.base))
            .json(&body);
        match ctx.step(kind, due, req).await {
            Some((o, done)) => {
                status = o.status.code;
                last = done;
                ctx.send(Msg::Moved {
                    id,
                    kind,
                    status: status.clone(),
                });
            }
            None => {
                let status = ctx.read_status(id, k).await;
                ctx.send(Msg::Resynced { id, status });
                break;
            }
        }
    }
}

/// New orders at `rate` per second from `t0` until the end.
async fn create_issuer(ctx: Arc<Ctx>, t0: Instant, rate: f64) {
    let mut k: u64 = 0;
    loop {
        let at = t0 + Duration::from_secs_f64(k as f64 / rate);
        if at >= ctx.end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        tokio::spawn(order_flow(ctx.clone(), at, k));
        k += 1;
    }
}

/// Reads at `rate` per second from `t0` until the end.
async fn read_issuer(ctx: Arc<Ctx>, t0: Instant, rate: f64) {
    if rate <= 0.0 {
        return;
    }
    let mut rng = StdRng::seed_from_u64(ctx.seed.wrapping_add(1));
    let total: u32 = READ_MIX.iter().map(|(_, w)| w).sum();
    let mut k: u64 = 0;
    loop {
        let at = t0 + Duration::from_secs_f64(k as f64 / rate);
        if at >= ctx.end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let mut x = rng.gen_range(0..total);
        let mut kind = Kind::List;
        for (kd, w) in READ_MIX {
            if x < w {
                kind = kd;
                break;
            }
            x -= w;
        }
        tokio::spawn(read_one(ctx.clone(), kind, at, rng.r#gen()));
        k += 1;
    }
}

async fn read_one(ctx: Arc<Ctx>, kind: Kind, at: Instant, r: u64) {
    let list = |ctx: &Ctx| {
        let (who, path) = &ctx.lists[(r % ctx.lists.len() as u64) as usize];
        ctx.who(*who, ctx.handler_unit, r)
            .get(format!("{}{path}", ctx.base))
    };
    let (kind, req) = match kind {
        Kind::Detail => match ctx.recent_order(r) {
            Some(id) => (
                Kind::Detail,
                pick(&ctx.dispatchers, r).get(format!("{}/api/orders/{id}", ctx.base)),
            ),
            // Nothing created yet: a list instead.
            None => (Kind::List, list(ctx.as_ref())),
        },
        Kind::Search if !ctx.searches.is_empty() => {
            let path = &ctx.searches[(r % ctx.searches.len() as u64) as usize];
            (
                Kind::Search,
                pick(&ctx.dispatchers, r).get(format!("{}{path}", ctx.base)),
            )
        }
        Kind::Cockpit => (
            Kind::Cockpit,
            pick(&ctx.leaders, r).get(format!("{}/api/cockpit", ctx.base)),
        ),
        _ => (Kind::List, list(ctx.as_ref())),
    };
    let _ = ctx.call(kind, at, req).await;
}

// ---------------------------------------------------------------------------------------------
// The collector

#[derive(Default)]
struct Tracked {
    number: String,
    /// None: a step failed and the order could not be read back.
    status: Option<String>,
    dispatched: bool,
    called_back: bool,
    /// Sent back for re-handling by a callback at least once.
    rehandled: bool,
}

struct Collector {
    pid: u32,
    t0: Instant,
    window: Vec<Hist>,
    window_all: Hist,
    window_lag: Hist,
    window_errors: u64,
    window_conflicts: u64,
    totals: Vec<Hist>,
    total_all: Hist,
    ok: [u64; N_KINDS],
    errors: [u64; N_KINDS],
    conflicts: [u64; N_KINDS],
    errors_by: BTreeMap<String, u64>,
    error_examples: Vec<String>,
    orders: HashMap<i64, Tracked>,
    windows: Vec<Window>,
    cpu_mark: (Instant, f64),
}

impl Collector {
    fn new(pid: u32, t0: Instant) -> Collector {
        let cpu = cpu_seconds(&format!("/proc/{pid}/stat")).unwrap_or(0.0);
        Collector {
            pid,
            t0,
            window: (0..N_KINDS).map(|_| Hist::new()).collect(),
            window_all: Hist::new(),
            window_lag: Hist::new(),
            window_errors: 0,
            window_conflicts: 0,
            totals: (0..N_KINDS).map(|_| Hist::new()).collect(),
            total_all: Hist::new(),
            ok: [0; N_KINDS],
            errors: [0; N_KINDS],
            conflicts: [0; N_KINDS],
            errors_by: BTreeMap::new(),
            error_examples: Vec::new(),
            orders: HashMap::new(),
            windows: Vec::new(),
            cpu_mark: (Instant::now(), cpu),
        }
    }

    fn error(&mut self, kind: Kind, key: String, message: String) {
        self.errors[kind.index()] += 1;
        self.window_errors += 1;
        let n = self.errors_by.entry(key).or_default();
        *n += 1;
        // The first of each kind of error, and a few more.
        if (*n == 1 && self.error_examples.len() < 20) || self.error_examples.len() < 5 {
            self.error_examples.push(message);
        }
    }

    fn apply(&mut self, m: Msg) {
        match m {
            Msg::Done {
                kind,
                latency,
                lag,
                outcome,
            } => match outcome {
                Outcome::Ok => {
                    self.ok[kind.index()] += 1;
                    self.window[kind.index()].record(latency);
                    self.window_all.record(latency);
                    self.window_lag.record(lag);
                }
                Outcome::Conflict(message) => {
                    self.conflicts[kind.index()] += 1;
                    self.window_conflicts += 1;
                    *self
                        .errors_by
                        .entry(format!("{} 409 state_conflict", kind.name()))
                        .or_default() += 1;
                    if self.error_examples.len() < 20 {
                        self.error_examples.push(message);
                    }
                }
                Outcome::Error { key, message } => self.error(kind, key, message),
            },
            Msg::Unreadable { kind, error } => {
                // Counted as answered above; an answer the soak cannot read is an error too.
                self.error(kind, format!("{} unreadable", kind.name()), error);
            }
            Msg::Created { id, number, status } => {
                self.orders.insert(
                    id,
                    Tracked {
                        number,
                        status: Some(status),
                        ..Tracked::default()
                    },
                );
            }
            Msg::Moved { id, kind, status } => {
                if let Some(t) = self.orders.get_mut(&id) {
                    match kind {
                        Kind::Dispatch => t.dispatched = true,
                        Kind::Callback => {
                            t.called_back = true;
                            t.rehandled |= status == "handling";
                        }
                        _ => {}
                    }
                    t.status = Some(status);
                }
            }
            Msg::Resynced { id, status } => {
                if let Some(t) = self.orders.get_mut(&id) {
                    t.status = status;
                }
            }
        }
    }

    /// Closes window `index` (ending at `end`): its figures, the server's memory and CPU.
    fn close(&mut self, index: usize, end: Instant) {
        let kinds: Vec<Percentiles> = self.window.iter().map(Hist::summary).collect();
        for (t, w) in self.totals.iter_mut().zip(&self.window) {
            t.add(w);
        }
        self.total_all.add(&self.window_all);
        let latency = self.window_all.summary();
        let lag = self.window_lag.summary();
        let mem = Memory::of(self.pid).ok();
        let now = Instant::now();
        let cpu = cpu_seconds(&format!("/proc/{}/stat", self.pid)).ok();
        let server_cpu_percent = match cpu {
            Some(c) => {
                let secs = now.duration_since(self.cpu_mark.0).as_secs_f64().max(1e-9);
                let p = 100.0 * (c - self.cpu_mark.1) / secs;
                self.cpu_mark = (now, c);
                p
            }
            None => 0.0,
        };
        let start = self.windows.last().map(|w| w.end_seconds).unwrap_or(0.0);
        let w = Window {
            index,
            start_seconds: start,
            end_seconds: end.saturating_duration_since(self.t0).as_secs_f64(),
            requests: latency.count,
            errors: self.window_errors,
            conflicts: self.window_conflicts,
            latency,
            lag_p99_ms: lag.p99_ms,
            rss_bytes: mem.map(|m| m.rss_bytes).unwrap_or(0),
            rss_anon_bytes: mem.map(|m| m.rss_anon_bytes).unwrap_or(0),
            server_cpu_percent,
            kinds,
        };
        eprintln!(
            "[soak] {:>5.0} s  {:>6} ok ({:>5.0}/s)  p50 {:>8}  p99 {:>8}  max {:>8}  lag p99 {:>8}  errors {}  RSS {}  CPU {:.0}%",
            w.end_seconds,
            w.requests,
            w.requests as f64 / (w.end_seconds - w.start_seconds).max(1e-9),
            fmt_ms(w.latency.p50_ms),
            fmt_ms(w.latency.p99_ms),
            fmt_ms(w.latency.max_ms),
            fmt_ms(w.lag_p99_ms),
            w.errors + w.conflicts,
            fmt_mib(w.rss_bytes),
            w.server_cpu_percent
        );
        self.windows.push(w);
        for h in &mut self.window {
            h.0.reset();
        }
        self.window_all.0.reset();
        self.window_lag.0.reset();
        self.window_errors = 0;
        self.window_conflicts = 0;
    }
}

/// Takes the load's messages until every task is done (at most 120 s after `end`), closing a
/// window every `every`; the last window takes what completes after `end`. True when tasks
/// were still running when it gave up.
async fn collect(
    c: &mut Collector,
    mut rx: UnboundedReceiver<Msg>,
    t0: Instant,
    every: Duration,
    windows: usize,
    end: Instant,
) -> bool {
    let give_up = end + Duration::from_secs(120);
    let mut index = 0usize;
    let mut unfinished = false;
    loop {
        let boundary = t0 + every * (index as u32 + 1);
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => c.apply(m),
                None => break,
            },
            _ = tokio::time::sleep_until(boundary.min(end).into()), if index + 1 < windows => {
                c.close(index, boundary.min(end));
                index += 1;
            }
            _ = tokio::time::sleep_until(give_up.into()) => {
                unfinished = true;
                break;
            }
        }
    }
    // Take whatever arrived meanwhile, then close the rest (the last one, normally).
    while let Ok(m) = rx.try_recv() {
        c.apply(m);
    }
    while index < windows {
        let boundary = (t0 + every * (index as u32 + 1)).min(end);
        c.close(index, boundary);
        index += 1;
    }
    unfinished
}

// ---------------------------------------------------------------------------------------------
// The run

pub async fn run(common: &Common, args: &SoakArgs) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be positive"
    );
    anyhow::ensure!(
        args.duration_seconds >= 1,
        "--duration-seconds must be at least 1"
    );
    anyhow::ensure!(
        args.window_seconds >= 1,
        "--window-seconds must be at least 1"
    );
    anyhow::ensure!(
        args.reads_per_order >= 0.0 && args.reads_per_order.is_finite(),
        "--reads-per-order must not be negative"
    );
    anyhow::ensure!(
        args.step_seconds > 0.0 && args.step_seconds.is_finite(),
        "--step-seconds must be positive"
    );
    anyhow::ensure!(
        args.max_in_flight >= 1,
        "--max-in-flight must be at least 1"
    );
    anyhow::ensure!(args.sessions >= 1, "--sessions must be at least 1");
    let out = args.out.clone().unwrap_or_else(|| common.work_root());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let dir = match &args.data_dir {
        Some(d) => DataDir::kept(d.clone()),
        None => DataDir::fresh(&common.work_root(), "soak-", args.keep)?,
    };
    eprintln!("[soak] building the demo in {}", dir.path().display());
    let demo_build_seconds = ensure_demo(&common.jiesu, dir.path()).await?;
    eprintln!("[soak] demo ready ({demo_build_seconds:.1} s); starting the server");
    let server = Server::start(&common.jiesu, dir.path()).await?;
    // Start-up work (models, hot spots, index catch-up) is not measured.
    let settled = server.settle(Duration::from_secs(120)).await?;
    eprintln!("[soak] server idle after {settled:.0} s (start-up warm-up done)");
    let result = measure(common, args, &server, dir.path(), demo_build_seconds).await;
    if result.is_err() {
        eprintln!("[soak] server log tail:\n{}", server.log_tail());
    }
    server.stop().await?;
    let mut report = result?;
    // The chains, with the server stopped.
    let dir_s = dir
        .path()
        .to_str()
        .context("the data directory path is not UTF-8")?;
    eprintln!("[soak] server stopped; jiesu verify");
    match run_jiesu(&common.jiesu, &["verify", "--data-dir", dir_s]).await {
        Ok(stdout) => {
            let i = &mut report.invariants;
            i.verify_ok = stdout.contains("all chains intact");
            i.verify_output = stdout.lines().collect::<Vec<_>>().join("; ");
            if let Some((o, e)) = parse_verify(&stdout) {
                i.verify_orders = Some(o);
                i.verify_events = Some(e);
            }
        }
        Err(e) => {
            let i = &mut report.invariants;
            i.verify_ok = false;
            i.verify_output = format!("{e:#}").chars().take(2000).collect();
        }
    }
    let i = &mut report.invariants;
    if i.verify_orders.is_some_and(|n| n != i.listed_total) {
        i.examples.push(format!(
            "jiesu verify checked {} orders, the list walk found {}",
            i.verify_orders.unwrap_or(0),
            i.listed_total
        ));
    }
    i.ok = i.ok && i.verify_ok && i.verify_orders == Some(i.listed_total);
    let csv = out.join("soak.csv");
    let svg = out.join("soak.svg");
    write_csv(&csv, &report.windows)?;
    write_svg(&svg, &report)?;
    report.csv = csv.display().to_string();
    report.svg = svg.display().to_string();
    dir.finish()?;
    Ok(report)
}

/// "checked 12 orders and 34 events" → (12, 34).
fn parse_verify(stdout: &str) -> Option<(u64, u64)> {
    let line = stdout.lines().find(|l| l.starts_with("checked "))?;
    let mut words = line.split_whitespace();
    let orders = words.nth(1)?.parse().ok()?;
    let events = words.nth(2)?.parse().ok()?;
    Some((orders, events))
}

async fn measure(
    common: &Common,
    args: &SoakArgs,
    server: &Server,
    dir: &Path,
    demo_build_seconds: f64,
) -> anyhow::Result<SoakReport> {
    let base = server.base.clone();
    let login = |user: &'static str| {
        let base = base.clone();
        async move { crate::create::login_many(&base, user, args.sessions).await }
    };
    let agents = login("agent").await?;
    let dispatchers = login("dispatcher").await?;
    let handlers = login("handler").await?;
    let callbacks = login("callback").await?;
    let leaders = crate::create::login_many(&base, "leader", args.sessions.min(2)).await?;
    let refs = RefData::fetch(&agents[0], &base).await?;
    #[derive(Deserialize)]
    struct Me {
        unit_id: i64,
    }
    let me: Me = get_json(&handlers[0], &base, "/api/auth/me").await?;
    let handler_unit = me.unit_id;
    let other_units: Vec<i64> = refs
        .handling_units
        .iter()
        .copied()
        .filter(|u| *u != handler_unit)
        .collect();
    let staff = hand_over_staff(&base, &other_units, args.sessions.min(2)).await?;
    let bodies = body_pool(&refs, 16_384, args.seed)?;
    let lists = list_reads(&refs, handler_unit, args.seed);
    let searches = SEARCH_TERMS
        .iter()
        .map(|q| {
            serde_urlencoded::to_string([("q", *q), ("limit", "20")])
                .map(|query| format!("/api/orders/search?{query}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    eprintln!(
        "[soak] handler's unit {handler_unit}, {} other handling units ({} with staff logged in), {} list queries; {} sessions per user",
        other_units.len(),
        staff.len(),
        lists.len(),
        args.sessions
    );

    // Before: the kept per-status totals and today's rate counts.
    let reader = dispatchers[0].clone();
    let leader = leaders[0].clone();
    let before_status = status_totals(&reader, &base).await?;
    let day = china_today()?;
    let before_stats = today_counts(&leader, &base, &day).await?;

    let (tx, rx) = unbounded_channel();
    let t0 = Instant::now() + Duration::from_millis(200);
    let duration = Duration::from_secs(args.duration_seconds);
    let end = t0 + duration;
    let ctx = Arc::new(Ctx {
        base: base.clone(),
        agents,
        dispatchers,
        handlers,
        callbacks,
        leaders,
        handler_unit,
        other_units,
        staff,
        bodies,
        lists,
        searches,
        recent: Mutex::new(VecDeque::new()),
        slots: Semaphore::new(args.max_in_flight),
        tx,
        end,
        step_seconds: args.step_seconds,
        seed: args.seed,
    });
    let mut collector = Collector::new(server.pid, t0);
    let every = Duration::from_secs(args.window_seconds);
    let windows = args.duration_seconds.div_ceil(args.window_seconds) as usize;
    eprintln!(
        "[soak] {:.0} orders/s and {:.0} reads/s for {} s, windows of {} s",
        args.rate,
        args.rate * args.reads_per_order,
        args.duration_seconds,
        args.window_seconds
    );
    tokio::spawn(create_issuer(ctx.clone(), t0, args.rate));
    tokio::spawn(read_issuer(
        ctx.clone(),
        t0,
        args.rate * args.reads_per_order,
    ));
    // The tasks hold the only senders: the channel closes when the last of them is done.
    drop(ctx);
    let mark = CpuMark::take(server).ok();
    let written_before = server.disk_written().ok();
    let unfinished = collect(&mut collector, rx, t0, every, windows, end).await;
    let cpu = mark.and_then(|m| m.since(server).ok());
    let disk_write_bytes = written_before
        .zip(server.disk_written().ok())
        .map(|(a, b)| b.saturating_sub(a));
    let load_end = Instant::now();
    eprintln!(
        "[soak] load done ({:.1} s after the end); checking the orders",
        load_end.saturating_duration_since(end).as_secs_f64()
    );

    // ---- figures
    let secs = duration.as_secs_f64();
    let c = &collector;
    let kinds: Vec<KindFigures> = KINDS
        .iter()
        .map(|k| KindFigures {
            kind: k.name(),
            ok: c.ok[k.index()],
            per_sec: c.ok[k.index()] as f64 / secs,
            errors: c.errors[k.index()],
            conflicts: c.conflicts[k.index()],
            latency: c.totals[k.index()].summary(),
        })
        .collect();
    let all = c.total_all.summary();
    let orders = c.ok[Kind::Create.index()];
    let (worst_window, worst_window_p99_ms) = c
        .windows
        .iter()
        .map(|w| (w.index, w.latency.p99_ms))
        .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let windows_over_target = c
        .windows
        .iter()
        .filter(|w| w.latency.count > 0 && w.latency.p99_ms >= TARGET_P99_MS)
        .count();
    let memory = memory_figures(&c.windows, server.memory().ok());
    let flat_memory = memory.last_half_growth_percent < FLAT_GROWTH_PERCENT;
    let server_cpu_percent = if c.windows.is_empty() {
        0.0
    } else {
        c.windows.iter().map(|w| w.server_cpu_percent).sum::<f64>() / c.windows.len() as f64
    };

    // ---- invariants (the server still up; `jiesu verify` follows once it stopped)
    let invariants = check(
        &reader,
        &leader,
        &base,
        &c.orders,
        &before_status,
        (&day, &before_stats),
    )
    .await?;

    let errors: u64 = c.errors.iter().sum();
    let conflicts: u64 = c.conflicts.iter().sum();
    Ok(SoakReport {
        scenario: "soak",
        jiesu: common.jiesu.display().to_string(),
        data_dir: dir.display().to_string(),
        demo_build_seconds,
        rate: args.rate,
        duration_seconds: args.duration_seconds,
        window_seconds: args.window_seconds,
        reads_per_order: args.reads_per_order,
        step_seconds: args.step_seconds,
        max_in_flight: args.max_in_flight,
        orders,
        orders_per_sec: orders as f64 / secs,
        requests: all.count,
        requests_per_sec: all.count as f64 / secs,
        kinds,
        all,
        errors,
        conflicts,
        errors_by: c.errors_by.clone(),
        error_examples: c.error_examples.clone(),
        unfinished,
        windows: c.windows.clone(),
        worst_window_p99_ms,
        worst_window,
        windows_over_target,
        memory,
        server_cpu_percent,
        cpu,
        disk_write_bytes,
        slow_statements: server.slow_statements(),
        invariants,
        csv: String::new(),
        svg: String::new(),
        target_p99_ms: TARGET_P99_MS,
        rate_met: orders as f64 >= 0.99 * args.rate * secs,
        p99_met: all.count > 0 && windows_over_target == 0,
        flat_memory,
    })
}

/// Logs in `sessions` times as a handler of each of `units`, after setting their passwords as
/// the demo's admin (the demo creates the other units' staff without one, as a centre does
/// before handing an account over). Units without a handler account are left out.
async fn hand_over_staff(
    base: &str,
    units: &[i64],
    sessions: usize,
) -> anyhow::Result<HashMap<i64, Vec<reqwest::Client>>> {
    #[derive(Deserialize)]
    struct User {
        id: i64,
        username: String,
        unit_id: i64,
        roles: Vec<String>,
        active: bool,
        system_account: bool,
    }
    #[derive(Deserialize)]
    struct Users {
        items: Vec<User>,
    }
    let admin = crate::client::login(base, "admin").await?;
    let users: Users = get_json(&admin, base, "/api/users").await?;
    let mut out = HashMap::new();
    for &unit in units {
        let Some(u) = users.items.iter().find(|u| {
            u.unit_id == unit
                && u.active
                && !u.system_account
                && u.roles.iter().any(|r| r == "handler")
        }) else {
            continue;
        };
        let r = admin
            .post(format!("{base}/api/users/{}/password", u.id))
            .json(&json!({"password": crate::client::DEMO_PASSWORD}))
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "setting the password of {}: {}",
            u.username,
            r.status()
        );
        out.insert(
            unit,
            crate::create::login_many(base, &u.username, sessions).await?,
        );
    }
    Ok(out)
}

/// The lists people keep open: the dispatcher's queues, the handler's inbox, the callback
/// queue, and filters by category and district.
fn list_reads(refs: &RefData, handler_unit: i64, seed: u64) -> Vec<(Who, String)> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(2));
    let mut out = vec![
        (
            Who::Dispatcher,
            "/api/orders?status=pending_review&limit=50".to_string(),
        ),
        (
            Who::Dispatcher,
            "/api/orders?status=replied&limit=50".to_string(),
        ),
        (Who::Dispatcher, "/api/orders?limit=50".to_string()),
        (
            Who::Dispatcher,
            "/api/orders?overdue=true&limit=50".to_string(),
        ),
        (
            Who::Dispatcher,
            "/api/orders?status=dispatched,handling&due_within_hours=24&sort=due_at&limit=50"
                .to_string(),
        ),
        (
            Who::Handler,
            format!("/api/orders?unit={handler_unit}&assignment_status=pending_sign&limit=50"),
        ),
        (
            Who::Handler,
            format!("/api/orders?unit={handler_unit}&assignment_status=handling&limit=50"),
        ),
        (
            Who::Callback,
            "/api/orders?status=callback_pending&limit=50".to_string(),
        ),
    ];
    for c in refs.category_prefixes.choose_multiple(&mut rng, 3) {
        out.push((
            Who::Dispatcher,
            format!("/api/orders?category={c}&limit=50"),
        ));
    }
    for d in refs.districts.choose_multiple(&mut rng, 3) {
        out.push((
            Who::Dispatcher,
            format!("/api/orders?region={d}&status=handling,dispatched&limit=50"),
        ));
    }
    out
}

fn memory_figures(windows: &[Window], now: Option<Memory>) -> MemoryFigures {
    let rss: Vec<u64> = windows.iter().map(|w| w.rss_bytes).collect();
    let first = rss.first().copied().unwrap_or(0);
    let last = rss.last().copied().unwrap_or(0);
    let (max_window, max) = rss
        .iter()
        .copied()
        .enumerate()
        .fold((0, 0), |a, b| if b.1 > a.1 { b } else { a });
    let half_index = rss.len() / 2;
    let half = rss.get(half_index).copied().unwrap_or(0);
    let growth = last as i64 - half as i64;
    let growth_percent = if half > 0 {
        100.0 * growth as f64 / half as f64
    } else {
        0.0
    };
    // Least squares over the last half: MiB per hour.
    let pts: Vec<(f64, f64)> = windows[half_index.min(windows.len())..]
        .iter()
        .map(|w| (w.end_seconds, w.rss_bytes as f64 / (1024.0 * 1024.0)))
        .collect();
    let slope = if pts.len() >= 2 {
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx > 0.0 { sxy / sxx * 3600.0 } else { 0.0 }
    } else {
        0.0
    };
    MemoryFigures {
        first_window_rss_bytes: first,
        last_window_rss_bytes: last,
        max_window_rss_bytes: max,
        max_window,
        half_rss_bytes: half,
        last_half_growth_bytes: growth,
        last_half_growth_percent: growth_percent,
        last_half_slope_mib_per_hour: slope,
        peak_rss_bytes: now.map(|m| m.peak_rss_bytes).unwrap_or(0),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

/// The server's kept total of each status (`GET /api/orders?status=…&limit=1` as centre staff
/// answers from its maintained counts).
async fn status_totals(
    reader: &reqwest::Client,
    base: &str,
) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let mut out = BTreeMap::new();
    for s in STATUSES {
        let page: ListPage =
            get_json(reader, base, &format!("/api/orders?status={s}&limit=1")).await?;
        out.insert(s, page.total);
    }
    Ok(out)
}

fn china_today() -> anyhow::Result<String> {
    let china = chrono::FixedOffset::east_opt(8 * 3600).context("UTC+8")?;
    Ok(chrono::Utc::now()
        .with_timezone(&china)
        .format("%Y-%m-%d")
        .to_string())
}

/// The rate counts the soak can account for, for orders accepted on `day`.
const STAT_COUNTS: [&str; 6] = [
    "accepted",
    "dispatched",
    "completed",
    "callback_done",
    "called_back",
    "rehandled",
];

/// Whether one of the soak's orders counts towards a rate count, by the server's definitions
/// (`jiesu_core::stats::OrderFacts`): completed while the lead's reply stands (a re-handled
/// order until the unit replies again) or once closed after handling; the soak's orders are
/// only ever closed by their callback.
fn soak_counts_towards(name: &str, t: &Tracked) -> bool {
    let status = t.status.as_deref().unwrap_or_default();
    match name {
        "accepted" => true,
        "dispatched" => t.dispatched,
        "completed" => t.dispatched && matches!(status, "replied" | "callback_pending" | "closed"),
        "callback_done" => t.called_back && status == "closed",
        "called_back" => t.called_back,
        "rehandled" => t.rehandled,
        _ => false,
    }
}

async fn today_counts(
    leader: &reqwest::Client,
    base: &str,
    day: &str,
) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let v: Value = get_json(
        leader,
        base,
        &format!("/api/stats/rates?from={day}&to={day}"),
    )
    .await?;
    let mut out = BTreeMap::new();
    for name in STAT_COUNTS {
        let n = v["counts"][name]
            .as_u64()
            .with_context(|| format!("/api/stats/rates has no counts.{name}: {v}"))?;
        out.insert(name, n);
    }
    Ok(out)
}

async fn check(
    reader: &reqwest::Client,
    leader: &reqwest::Client,
    base: &str,
    orders: &HashMap<i64, Tracked>,
    before_status: &BTreeMap<&'static str, u64>,
    (day, before_stats): (&str, &BTreeMap<&'static str, u64>),
) -> anyhow::Result<Invariants> {
    let mut inv = Invariants {
        orders: orders.len() as u64,
        ..Invariants::default()
    };
    // Every order, page by page.
    let mut listed: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0u64;
    let walk_started = Instant::now();
    loop {
        let path = match &cursor {
            None => "/api/orders?limit=200".to_string(),
            Some(c) => format!("/api/orders?limit=200&cursor={c}"),
        };
        let page: ListPage = get_json(reader, base, &path).await?;
        pages += 1;
        for item in &page.items {
            let id = item["id"]
                .as_i64()
                .with_context(|| format!("a listed order without an id: {item}"))?;
            let number = item["number"].as_str().unwrap_or_default();
            let status = item["status"]["code"].as_str().unwrap_or_default();
            if !seen.insert(id) {
                inv.listed_duplicates += 1;
                continue;
            }
            *listed.entry(status.to_string()).or_default() += 1;
            if let Some(t) = orders.get(&id) {
                inv.found += 1;
                if t.number != number {
                    inv.number_mismatches += 1;
                    if inv.examples.len() < 10 {
                        inv.examples.push(format!(
                            "order {id}: number {number}, created as {}",
                            t.number
                        ));
                    }
                }
                match &t.status {
                    Some(s) if s != status => {
                        inv.status_mismatches += 1;
                        if inv.examples.len() < 10 {
                            inv.examples
                                .push(format!("order {id} ({number}): {status}, the soak saw {s}"));
                        }
                    }
                    Some(_) => {}
                    None => inv.status_unknown += 1,
                }
            }
        }
        if pages.is_multiple_of(500) {
            eprintln!(
                "[soak] listed {} orders ({:.0} s)",
                seen.len(),
                walk_started.elapsed().as_secs_f64()
            );
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    inv.listed_total = seen.len() as u64;
    inv.missing = orders.keys().filter(|id| !seen.contains(id)).count() as u64;
    for id in orders.keys().filter(|id| !seen.contains(id)).take(5) {
        inv.examples.push(format!("order {id} is not listed"));
    }
    eprintln!(
        "[soak] listed {} orders in {} pages ({:.0} s)",
        inv.listed_total,
        pages,
        walk_started.elapsed().as_secs_f64()
    );

    // The kept totals against the walk, and against before + the soak's orders.
    let after = status_totals(reader, base).await?;
    let mut soak: BTreeMap<&str, u64> = BTreeMap::new();
    for t in orders.values() {
        if let Some(s) = &t.status {
            *soak.entry(s.as_str()).or_default() += 1;
        }
    }
    let mut statuses_ok = inv.status_unknown == 0;
    for s in STATUSES {
        let c = StatusCount {
            status: s,
            server: after.get(s).copied().unwrap_or(0),
            listed: listed.get(s).copied().unwrap_or(0),
            before: before_status.get(s).copied().unwrap_or(0),
            soak: soak.get(s).copied().unwrap_or(0),
        };
        if c.server != c.listed || c.server != c.before + c.soak {
            statuses_ok = false;
            inv.examples.push(format!(
                "{s}: the server keeps {}, {} listed, {} before + {} by the soak",
                c.server, c.listed, c.before, c.soak
            ));
        }
        inv.statuses.push(c);
    }
    let known: u64 = listed.values().sum();
    let unknown_states: Vec<&String> = listed
        .keys()
        .filter(|k| !STATUSES.contains(&k.as_str()))
        .collect();
    if !unknown_states.is_empty() {
        statuses_ok = false;
        inv.examples.push(format!(
            "listed in states the soak does not know: {unknown_states:?}"
        ));
    }
    let all_total: ListPage = get_json(reader, base, "/api/orders?limit=1").await?;
    if all_total.total != known || all_total.total != inv.listed_total {
        statuses_ok = false;
        inv.examples.push(format!(
            "the server keeps {} orders in all, {} listed",
            all_total.total, inv.listed_total
        ));
    }
    inv.statuses_ok = statuses_ok;

    // Today's rate counts grew by the soak's orders.
    let day_now = china_today()?;
    let after_stats = today_counts(leader, base, day).await?;
    let soak_counts: BTreeMap<&str, u64> = STAT_COUNTS
        .iter()
        .map(|name| {
            let n = orders
                .values()
                .filter(|t| soak_counts_towards(name, t))
                .count();
            (*name, n as u64)
        })
        .collect();
    let comparable = day_now == day;
    let mut stats_ok = true;
    let mut counts = Vec::new();
    for name in STAT_COUNTS {
        let b = before_stats.get(name).copied().unwrap_or(0);
        let a = after_stats.get(name).copied().unwrap_or(0);
        let s = soak_counts.get(name).copied().unwrap_or(0);
        if comparable && a != b + s {
            stats_ok = false;
            inv.examples.push(format!(
                "rates of {day}: {name} {b} before, {a} after, the soak {s}"
            ));
        }
        counts.push((name.to_string(), b, a, s));
    }
    inv.stats = Some(StatsCheck {
        day: day.to_string(),
        counts,
        comparable,
    });
    inv.stats_ok = stats_ok;
    // `verify_ok` is added once the server stopped.
    inv.ok = inv.missing == 0
        && inv.number_mismatches == 0
        && inv.status_mismatches == 0
        && inv.listed_duplicates == 0
        && inv.statuses_ok
        && inv.stats_ok;
    Ok(inv)
}

// ---------------------------------------------------------------------------------------------
// Files

fn write_csv(path: &Path, windows: &[Window]) -> anyhow::Result<()> {
    let mut s = String::from(
        "window,start_s,end_s,requests,requests_per_s,errors,conflicts,p50_ms,p95_ms,p99_ms,max_ms,lag_p99_ms,rss_mib,rss_anon_mib,server_cpu_percent",
    );
    for k in KINDS {
        let n = k.name();
        write!(s, ",{n}_count,{n}_p50_ms,{n}_p95_ms,{n}_p99_ms,{n}_max_ms")?;
    }
    s.push('\n');
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for w in windows {
        let secs = (w.end_seconds - w.start_seconds).max(1e-9);
        write!(
            s,
            "{},{:.3},{:.3},{},{:.1},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.1},{:.1},{:.1}",
            w.index,
            w.start_seconds,
            w.end_seconds,
            w.requests,
            w.requests as f64 / secs,
            w.errors,
            w.conflicts,
            w.latency.p50_ms,
            w.latency.p95_ms,
            w.latency.p99_ms,
            w.latency.max_ms,
            w.lag_p99_ms,
            mib(w.rss_bytes),
            mib(w.rss_anon_bytes),
            w.server_cpu_percent
        )?;
        for p in &w.kinds {
            write!(
                s,
                ",{},{:.3},{:.3},{:.3},{:.3}",
                p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
            )?;
        }
        s.push('\n');
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

/// Latency over time (p50 and p99 of the whole mix per window, the target) above the server's
/// memory (RSS and its heap part) per window.
fn write_svg(path: &Path, r: &SoakReport) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let w = &r.windows;
    let minutes = r.duration_seconds >= 600;
    let scale = if minutes { 60.0 } else { 1.0 };
    let x_unit = if minutes { "minutes" } else { "seconds" };
    let x = |w: &Window| w.end_seconds / scale;
    let x_max = (r.duration_seconds as f64 / scale).max(1e-3);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let root = SVGBackend::new(path, (1200, 800)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(500);

    let answered: Vec<&Window> = w.iter().filter(|w| w.latency.count > 0).collect();
    let y_max = answered
        .iter()
        .map(|w| w.latency.p99_ms)
        .fold(r.target_p99_ms, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!(
                "jiesu soak: {:.0} orders/s asked, {:.0} requests/s mixed; latency per {} s window (from the due time)",
                r.rate, r.requests_per_sec, r.window_seconds
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc(x_unit)
        .y_desc("latency (ms)")
        .draw()?;
    let target = r.target_p99_ms;
    let orange = RGBColor(230, 140, 0);
    chart
        .draw_series(LineSeries::new(
            [(0.0, target), (x_max, target)],
            orange.stroke_width(1),
        ))?
        .label(format!("target p99 < {target:.0} ms"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange));
    chart
        .draw_series(LineSeries::new(
            answered.iter().map(|w| (x(w), w.latency.p99_ms)),
            RED.stroke_width(2),
        ))?
        .label("p99")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .draw_series(LineSeries::new(
            answered.iter().map(|w| (x(w), w.latency.p50_ms)),
            BLUE.stroke_width(2),
        ))?
        .label("p50")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;

    let rss_max = w.iter().map(|w| mib(w.rss_bytes)).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&lower)
        .caption("server memory per window", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..rss_max)?;
    chart.configure_mesh().x_desc(x_unit).y_desc("MiB").draw()?;
    let green = RGBColor(0, 140, 70);
    chart
        .draw_series(LineSeries::new(
            w.iter().map(|w| (x(w), mib(w.rss_bytes))),
            green.stroke_width(2),
        ))?
        .label("RSS (VmRSS)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], green));
    let purple = RGBColor(120, 60, 160);
    chart
        .draw_series(LineSeries::new(
            w.iter().map(|w| (x(w), mib(w.rss_anon_bytes))),
            purple.stroke_width(1),
        ))?
        .label("heap (RssAnon)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], purple));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_output_is_read() {
        assert_eq!(
            parse_verify("checked 12 orders and 34 events\nall chains intact\n"),
            Some((12, 34))
        );
        assert_eq!(parse_verify("nothing"), None);
    }

    #[test]
    fn memory_growth_is_measured_over_the_last_half() {
        let win = |i: usize, rss_mib: u64| Window {
            index: i,
            start_seconds: i as f64 * 10.0,
            end_seconds: (i + 1) as f64 * 10.0,
            requests: 1,
            errors: 0,
            conflicts: 0,
            latency: Percentiles::default(),
            lag_p99_ms: 0.0,
            rss_bytes: rss_mib << 20,
            rss_anon_bytes: 0,
            server_cpu_percent: 0.0,
            kinds: Vec::new(),
        };
        let ws: Vec<Window> = [50, 80, 100, 100, 105, 110]
            .iter()
            .enumerate()
            .map(|(i, m)| win(i, *m))
            .collect();
        let m = memory_figures(&ws, None);
        assert_eq!(m.first_window_rss_bytes, 50 << 20);
        assert_eq!(m.half_rss_bytes, 100 << 20);
        assert_eq!(m.max_window, 5);
        assert!((m.last_half_growth_percent - 10.0).abs() < 1e-9);
        assert!(m.last_half_slope_mib_per_hour > 0.0);
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut h = Hist::new();
        for i in 1..=100u64 {
            h.record(Duration::from_millis(i));
        }
        let p = h.summary();
        assert_eq!(p.count, 100);
        assert!((p.p95_ms - 95.0).abs() < 0.1, "{}", p.p95_ms);
        assert!((p.max_ms - 100.0).abs() < 0.1);
    }

    #[test]
    fn the_read_mix_adds_up_to_lists_details_searches_and_the_cockpit() {
        let total: u32 = READ_MIX.iter().map(|(_, w)| w).sum();
        assert_eq!(total, 100);
        assert!(
            READ_MIX.iter().all(|(k, _)| matches!(
                k,
                Kind::List | Kind::Detail | Kind::Search | Kind::Cockpit
            ))
        );
    }
}
