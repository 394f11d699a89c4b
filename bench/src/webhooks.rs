//! `jiesu-bench webhooks`: outbound webhook delivery from the durable outbox to a loopback
//! receiver run by the benchmark itself.
//!
//! Two phases against one subscription to every event:
//!
//! 1. Steady: orders are created over HTTP as `agent` at a fixed rate (and a share of them
//!    dispatched at once as `dispatcher`, a second event); the receiver notes when each event
//!    arrives, and event → delivery latency is the arrival minus the event's own `at` (both on
//!    this machine's clock).
//! 2. Backlog: the subscription is paused, orders are created until their events wait as
//!    pending deliveries, then it is resumed and the receiver times how fast the backlog
//!    drains: the delivery capacity.
//!
//! At the end every event is checked to have arrived exactly once: the receiver's log against
//! the server's delivery counts, each order's sequence numbers, and a sample of orders' full
//! histories.

use crate::client::{self, RefData};
use crate::create::{Stop, body_pool, ensure_demo};
use crate::server::{CpuMark, CpuUse, Memory, Server, SlowStatement};
use crate::stats::{Latencies, LatencySummary, thousands, verdict};
use crate::{Common, DataDir};
use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TARGET_EVENTS_PER_SEC: f64 = 2000.0;
pub const TARGET_P99_MS: f64 = 1000.0;

#[derive(clap::Args, Debug, Clone)]
pub struct WebhooksArgs {
    /// Clients creating orders in the steady phase (each logged in as `agent`, with a
    /// `dispatcher` session beside it).
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Orders created per second in the steady phase, over all clients.
    #[arg(long, default_value_t = 400.0)]
    pub rate: f64,
    /// Share of the steady phase's orders dispatched right after creation (a second event).
    #[arg(long, default_value_t = 0.5)]
    pub dispatch: f64,
    /// Measured seconds of the steady phase.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Unmeasured seconds of the same load before the measurement.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Orders created (one event each) while the subscription is paused, then drained;
    /// 0 skips the backlog phase.
    #[arg(long, default_value_t = 40_000)]
    pub backlog: u64,
    /// Clients creating the backlog (as fast as the server takes them).
    #[arg(long, default_value_t = 16)]
    pub backlog_clients: usize,
    /// The server's first retry delay (`JIESU_WEBHOOK_RETRY_BASE_MS`).
    #[arg(long, default_value_t = 100)]
    pub retry_base_ms: u64,
    /// The server's deliveries in flight (`JIESU_WEBHOOK_CONCURRENCY`); default the server's.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Orders whose full history is compared with what the receiver got.
    #[arg(long, default_value_t = 200)]
    pub sample: usize,
    /// Data directory to use (and keep); built with `jiesu demo` if it holds no demo yet.
    /// Default: a fresh directory under the target directory, removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the fresh data directory.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Serialize)]
pub struct SteadyReport {
    pub clients: usize,
    pub warmup_seconds: f64,
    pub duration_seconds: f64,
    /// The orders per second asked for.
    pub rate: f64,
    /// Orders created (201) with the response inside the window.
    pub orders: u64,
    pub orders_per_sec: f64,
    /// Of those, dispatched at once.
    pub dispatched: u64,
    pub create_errors: u64,
    pub dispatch_errors: u64,
    pub first_error: Option<String>,
    pub create_latency: LatencySummary,
    pub dispatch_latency: LatencySummary,
    /// Events whose `at` lies in the window (all arrived by the end of the phase).
    pub events: u64,
    pub events_per_sec: f64,
    /// Deliveries that arrived at the receiver inside the window, per second.
    pub delivered_per_sec: f64,
    /// Arrival at the receiver minus the event's `at`, for the window's events.
    pub event_to_delivery: LatencySummary,
    /// Seconds after the window until every event had arrived.
    pub drain_seconds: f64,
    pub cpu: CpuUse,
}

#[derive(Debug, Serialize)]
pub struct BacklogReport {
    pub orders: u64,
    pub create_errors: u64,
    pub first_error: Option<String>,
    /// Seconds creating the backlog's orders, and orders per second.
    pub create_seconds: f64,
    pub create_orders_per_sec: f64,
    /// CPU while the backlog was created (the subscription paused, the fan-out running).
    pub create_cpu: CpuUse,
    /// Seconds after the last order until the fan-out had turned every event into a
    /// pending delivery (the subscription paused).
    pub fan_out_seconds: f64,
    /// Pending deliveries when the subscription was resumed.
    pub events: u64,
    /// From resuming until the last of them arrived.
    pub drain_seconds: f64,
    /// `events / drain_seconds`: the delivery capacity.
    pub events_per_sec: f64,
    /// The rate between the 10th and the 90th percent of arrivals (no start or tail).
    pub middle_events_per_sec: f64,
    pub cpu: CpuUse,
}

#[derive(Debug, Default, Serialize)]
pub struct Integrity {
    /// Deliveries the receiver got, and distinct event ids among them.
    pub received: u64,
    pub unique: u64,
    /// Same event id more than once.
    pub duplicates: u64,
    /// Bodies the receiver could not read.
    pub unreadable: u64,
    /// The server's delivery log for the subscription at the end.
    pub server_delivered: u64,
    pub server_pending: u64,
    pub server_dead: u64,
    /// Orders the benchmark created (both phases).
    pub orders: u64,
    /// Of those, without their `accepted` event (seq 1) at the receiver.
    pub orders_missing_accepted: u64,
    /// Dispatched orders without a `dispatched` event at the receiver.
    pub dispatched_missing: u64,
    /// Orders whose received sequence numbers have a gap (1..=max not all there).
    pub orders_with_gaps: u64,
    /// Events of orders the benchmark did not create (the scheduler's on demo orders).
    pub other_events: u64,
    /// Distinct events received, by kind.
    pub kinds: BTreeMap<String, u64>,
    /// Orders whose whole history (`GET /api/orders/{id}/events`) was compared.
    pub sampled_orders: u64,
    /// Sampled orders whose history and received events differ.
    pub sample_mismatches: u64,
    pub exactly_once: bool,
}

#[derive(Debug, Serialize)]
pub struct WebhooksReport {
    pub scenario: &'static str,
    pub jiesu: String,
    pub data_dir: String,
    pub demo_build_seconds: f64,
    pub retry_base_ms: u64,
    pub concurrency: Option<usize>,
    pub steady: SteadyReport,
    pub backlog: Option<BacklogReport>,
    pub integrity: Integrity,
    pub server_memory: Memory,
    pub slow_statements: Vec<SlowStatement>,
    pub target_events_per_sec: f64,
    pub target_p99_ms: f64,
    pub throughput_met: Option<bool>,
    pub p99_met: bool,
}

impl WebhooksReport {
    pub fn print(&self) {
        let s = &self.steady;
        println!(
            "webhooks — one subscription to every event, loopback receiver; retry base {} ms, concurrency {}",
            self.retry_base_ms,
            self.concurrency
                .map(|c| c.to_string())
                .unwrap_or_else(|| "server default".into())
        );
        println!(
            "  steady      {} clients at {:.0} orders/s asked, {:.0} s measured after {:.0} s warm-up",
            s.clients, s.rate, s.duration_seconds, s.warmup_seconds
        );
        println!(
            "              {} orders ({:.0}/s), {} dispatched; {} events ({:.0}/s), {:.0} delivered/s",
            thousands(s.orders),
            s.orders_per_sec,
            thousands(s.dispatched),
            thousands(s.events),
            s.events_per_sec,
            s.delivered_per_sec
        );
        println!(
            "  event→recv  {}   (target p99 < {:.0} ms: {})",
            s.event_to_delivery.line(),
            self.target_p99_ms,
            verdict(self.p99_met)
        );
        println!("  create      {}", s.create_latency.line());
        if s.dispatched > 0 {
            println!("  dispatch    {}", s.dispatch_latency.line());
        }
        if s.create_errors + s.dispatch_errors > 0 {
            println!(
                "  errors      {} create, {} dispatch; first: {}",
                thousands(s.create_errors),
                thousands(s.dispatch_errors),
                s.first_error.as_deref().unwrap_or("-")
            );
        }
        println!(
            "              all delivered {:.1} s after the window",
            s.drain_seconds
        );
        println!("  cpu         {}", s.cpu.line());
        match &self.backlog {
            Some(b) => {
                println!(
                    "  backlog     {} orders created paused in {:.1} s ({:.0}/s), fanned out {:.1} s later: {} pending",
                    thousands(b.orders),
                    b.create_seconds,
                    b.create_orders_per_sec,
                    b.fan_out_seconds,
                    thousands(b.events)
                );
                println!("  cpu         {}", b.create_cpu.line());
                println!(
                    "  drain       {:.1} s: {:.0} events/s (middle 80%: {:.0}/s)   (target ≥ {:.0}/s: {})",
                    b.drain_seconds,
                    b.events_per_sec,
                    b.middle_events_per_sec,
                    self.target_events_per_sec,
                    verdict(self.throughput_met.unwrap_or(false))
                );
                if b.create_errors > 0 {
                    println!(
                        "              {} create errors; first: {}",
                        thousands(b.create_errors),
                        b.first_error.as_deref().unwrap_or("-")
                    );
                }
                println!("  cpu         {}", b.cpu.line());
            }
            None => println!("  backlog     skipped (--backlog 0): no delivery capacity measured"),
        }
        let i = &self.integrity;
        println!(
            "  integrity   {} received, {} unique, {} duplicates, {} unreadable; server: {} delivered, {} pending, {} dead",
            thousands(i.received),
            thousands(i.unique),
            thousands(i.duplicates),
            thousands(i.unreadable),
            thousands(i.server_delivered),
            thousands(i.server_pending),
            thousands(i.server_dead)
        );
        println!(
            "              {} orders: {} without accepted, {} dispatched without the event, {} with gaps; {} other events; {} histories compared, {} differ → exactly once: {}",
            thousands(i.orders),
            i.orders_missing_accepted,
            i.dispatched_missing,
            i.orders_with_gaps,
            thousands(i.other_events),
            i.sampled_orders,
            i.sample_mismatches,
            if i.exactly_once { "yes" } else { "NO" }
        );
        let kinds: Vec<String> = i
            .kinds
            .iter()
            .map(|(k, n)| format!("{k} {}", thousands(*n)))
            .collect();
        println!("              by kind: {}", kinds.join(", "));
        crate::server::print_server_tail(&self.server_memory, &self.slow_statements);
        println!(
            "  demo data   built in {:.1} s in {}",
            self.demo_build_seconds, self.data_dir
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    at_receiver: DateTime<Utc>,
    event_id: String,
    order_id: i64,
    seq: u32,
    kind: String,
    event_at: DateTime<Utc>,
}

#[derive(Default)]
struct Inbox {
    log: Mutex<Vec<Received>>,
    count: AtomicU64,
    unreadable: AtomicU64,
}

impl Inbox {
    fn snapshot(&self) -> Vec<Received> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Deserialize)]
struct Payload {
    id: String,
    order: PayloadOrder,
    event: PayloadEvent,
}

#[derive(Deserialize)]
struct PayloadOrder {
    id: i64,
}

#[derive(Deserialize)]
struct PayloadEvent {
    seq: u32,
    kind: String,
    at: DateTime<Utc>,
}

/// Answers 200 at once and notes the arrival.
async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = Utc::now();
    match serde_json::from_slice::<Payload>(&body) {
        Ok(p) => {
            let event_id = headers
                .get("x-jiesu-event-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or(p.id);
            let r = Received {
                at_receiver: now,
                event_id,
                order_id: p.order.id,
                seq: p.event.seq,
                kind: p.event.kind,
                event_at: p.event.at,
            };
            inbox.log.lock().unwrap_or_else(|e| e.into_inner()).push(r);
            inbox.count.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            inbox.unreadable.fetch_add(1, Ordering::Relaxed);
        }
    }
    StatusCode::OK
}

/// Starts the receiver on a free loopback port: its URL.
async fn start_receiver(inbox: Arc<Inbox>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the receiver")?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(inbox);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("[webhooks] the receiver stopped: {e}");
        }
    });
    Ok(format!("http://{addr}/hook"))
}

// ---------------------------------------------------------------------------------------------
// The server's side

#[derive(Debug, Deserialize)]
struct HookList {
    items: Vec<HookInfo>,
}

#[derive(Debug, Deserialize)]
struct HookInfo {
    id: i64,
    pending: u64,
    delivered: u64,
    dead: u64,
}

async fn hook_counts(admin: &reqwest::Client, base: &str, id: i64) -> anyhow::Result<HookInfo> {
    let list: HookList = client::get_json(admin, base, "/api/webhooks").await?;
    list.items
        .into_iter()
        .find(|h| h.id == id)
        .with_context(|| format!("webhook {id} is not listed"))
}

async fn set_active(
    admin: &reqwest::Client,
    base: &str,
    id: i64,
    active: bool,
) -> anyhow::Result<()> {
    let r = admin
        .put(format!("{base}/api/webhooks/{id}/active"))
        .json(&json!({ "active": active }))
        .send()
        .await?;
    let status = r.status();
    anyhow::ensure!(
        status.is_success(),
        "PUT /api/webhooks/{id}/active: {status} {}",
        r.text().await.unwrap_or_default()
    );
    Ok(())
}

#[derive(Deserialize)]
struct Created {
    id: i64,
}

#[derive(Deserialize)]
struct EventList {
    items: Vec<EventItem>,
}

#[derive(Deserialize)]
struct EventItem {
    seq: u32,
}

// ---------------------------------------------------------------------------------------------
// The load

/// What one order client did.
#[derive(Default)]
struct OrderResult {
    create: Latencies,
    dispatch: Latencies,
    created_in_window: u64,
    dispatched_in_window: u64,
    create_errors: u64,
    dispatch_errors: u64,
    first_error: Option<String>,
    created: Vec<i64>,
    dispatched: Vec<i64>,
}

impl OrderResult {
    fn merge(&mut self, o: OrderResult) {
        self.create.add(&o.create);
        self.dispatch.add(&o.dispatch);
        self.created_in_window += o.created_in_window;
        self.dispatched_in_window += o.dispatched_in_window;
        self.create_errors += o.create_errors;
        self.dispatch_errors += o.dispatch_errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.created.extend(o.created);
        self.dispatched.extend(o.dispatched);
    }
}

struct OrderClient {
    agent: reqwest::Client,
    /// Dispatches what `agent` created, where the load dispatches.
    dispatcher: Option<reqwest::Client>,
    base: String,
    bodies: Arc<Vec<String>>,
    units: Arc<Vec<i64>>,
    offset: usize,
    /// Share of orders dispatched at once.
    dispatch: f64,
    /// Time between this client's orders (none: back to back).
    every: Option<Duration>,
    seed: u64,
}

async fn error_text(resp: reqwest::Response) -> String {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    format!("{status}: {}", text.chars().take(300).collect::<String>())
}

/// One client: creates orders (paced or back to back), dispatching a share of them.
async fn order_client(c: OrderClient, stop: Stop, remaining: Arc<AtomicU64>) -> OrderResult {
    let mut r = OrderResult::default();
    let mut rng = StdRng::seed_from_u64(c.seed);
    let create_url = format!("{}/api/orders", c.base);
    let begun = Instant::now();
    let mut k: u32 = 0;
    let mut i = c.offset;
    loop {
        if let Some(every) = c.every {
            let next = begun + every * k;
            if next > Instant::now() {
                tokio::time::sleep_until(next.into()).await;
            }
        }
        k = k.wrapping_add(1);
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
        let in_window = |t: Instant| match stop {
            Stop::Window { t0, t1 } => t >= t0 && t < t1,
            Stop::Count => false,
        };
        let body = c.bodies[i % c.bodies.len()].clone();
        i = i.wrapping_add(1);
        let res = c
            .agent
            .post(&create_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let created = match res {
            Ok(resp) if resp.status() == reqwest::StatusCode::CREATED => {
                resp.json::<Created>().await.map_err(|e| e.to_string())
            }
            Ok(resp) => Err(error_text(resp).await),
            Err(e) => Err(e.to_string()),
        };
        let done = Instant::now();
        let id = match created {
            Ok(o) => {
                if measured {
                    r.create.record(done - started);
                }
                if in_window(done) {
                    r.created_in_window += 1;
                }
                r.created.push(o.id);
                o.id
            }
            Err(e) => {
                r.create_errors += 1;
                if r.first_error.is_none() {
                    r.first_error = Some(format!("create: {e}"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(dispatcher) = &c.dispatcher else {
            continue;
        };
        if !rng.gen_bool(c.dispatch.clamp(0.0, 1.0)) {
            continue;
        }
        let unit = c.units.choose(&mut rng).copied().unwrap_or(1);
        let started = Instant::now();
        let res = dispatcher
            .post(format!("{}/api/orders/{id}/dispatch", c.base))
            .json(&json!({"targets": [{"unit_id": unit, "role": "lead"}], "note": "请按时限办理"}))
            .send()
            .await;
        let ok = match res {
            Ok(resp) if resp.status().is_success() => {
                resp.bytes().await.map(|_| ()).map_err(|e| e.to_string())
            }
            Ok(resp) => Err(error_text(resp).await),
            Err(e) => Err(e.to_string()),
        };
        let done = Instant::now();
        match ok {
            Ok(()) => {
                if measured {
                    r.dispatch.record(done - started);
                }
                if in_window(done) {
                    r.dispatched_in_window += 1;
                }
                r.dispatched.push(id);
            }
            Err(e) => {
                r.dispatch_errors += 1;
                if r.first_error.is_none() {
                    r.first_error = Some(format!("dispatch: {e}"));
                }
            }
        }
    }
    r
}

// ---------------------------------------------------------------------------------------------
// The run

pub async fn run(common: &Common, args: &WebhooksArgs) -> anyhow::Result<WebhooksReport> {
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(
        args.backlog_clients >= 1,
        "--backlog-clients must be at least 1"
    );
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    anyhow::ensure!(args.warmup >= 0.0, "--warmup must not be negative");
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.dispatch),
        "--dispatch is a share between 0 and 1"
    );
    let dir = match &args.data_dir {
        Some(d) => DataDir::kept(d.clone()),
        None => DataDir::fresh(&common.work_root(), "webhooks-", args.keep)?,
    };
    eprintln!("[webhooks] building the demo in {}", dir.path().display());
    let demo_build_seconds = ensure_demo(&common.jiesu, dir.path()).await?;
    eprintln!("[webhooks] demo ready ({demo_build_seconds:.1} s); starting the server");
    let mut env = vec![(
        "JIESU_WEBHOOK_RETRY_BASE_MS",
        args.retry_base_ms.to_string(),
    )];
    if let Some(c) = args.concurrency {
        env.push(("JIESU_WEBHOOK_CONCURRENCY", c.to_string()));
    }
    let server = Server::start_with_env(&common.jiesu, dir.path(), &env).await?;
    // Start-up work (models, hot spots, the demo's own outbox) is not measured.
    let settled = server.settle(Duration::from_secs(120)).await?;
    eprintln!("[webhooks] server idle after {settled:.0} s (start-up warm-up done)");
    let result = measure(common, args, &server, dir.path(), demo_build_seconds).await;
    if result.is_err() {
        eprintln!("[webhooks] server log tail:\n{}", server.log_tail());
    }
    server.stop().await?;
    let report = result?;
    dir.finish()?;
    Ok(report)
}

/// Waits until the server reports nothing pending and the receiver holds every delivery the
/// server recorded (at most `limit`): the seconds waited.
async fn wait_drained(
    admin: &reqwest::Client,
    base: &str,
    hook: i64,
    inbox: &Inbox,
    limit: Duration,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    loop {
        let c = hook_counts(admin, base, hook).await?;
        if c.pending == 0 && inbox.count.load(Ordering::Relaxed) >= c.delivered {
            return Ok(start.elapsed().as_secs_f64());
        }
        if start.elapsed() > limit {
            eprintln!(
                "[webhooks] not drained after {limit:?}: {} pending, {} delivered, {} received",
                c.pending,
                c.delivered,
                inbox.count.load(Ordering::Relaxed)
            );
            return Ok(start.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[allow(clippy::too_many_arguments)]
fn order_clients(
    n: usize,
    base: &str,
    agents: Vec<reqwest::Client>,
    dispatchers: Vec<Option<reqwest::Client>>,
    bodies: &Arc<Vec<String>>,
    units: &Arc<Vec<i64>>,
    dispatch: f64,
    every: Option<Duration>,
    seed: u64,
) -> Vec<OrderClient> {
    agents
        .into_iter()
        .zip(dispatchers)
        .take(n)
        .enumerate()
        .map(|(k, (agent, dispatcher))| OrderClient {
            agent,
            dispatcher,
            base: base.to_string(),
            bodies: bodies.clone(),
            units: units.clone(),
            offset: k * 257,
            dispatch,
            every,
            seed: seed + k as u64,
        })
        .collect()
}

async fn measure(
    common: &Common,
    args: &WebhooksArgs,
    server: &Server,
    dir: &Path,
    demo_build_seconds: f64,
) -> anyhow::Result<WebhooksReport> {
    let base = server.base.clone();
    let inbox = Arc::new(Inbox::default());
    let url = start_receiver(inbox.clone()).await?;
    let admin = client::login(&base, "admin").await?;
    let r = admin
        .post(format!("{base}/api/webhooks"))
        .json(&json!({"name": "压测接收端", "url": url}))
        .send()
        .await
        .context("POST /api/webhooks")?;
    let status = r.status();
    anyhow::ensure!(
        status == reqwest::StatusCode::CREATED,
        "POST /api/webhooks: {status} {}",
        r.text().await.unwrap_or_default()
    );
    let hook = r.json::<Created>().await?.id;
    eprintln!("[webhooks] subscription {hook} → {url}");

    let agent = client::login(&base, "agent").await?;
    let refs = RefData::fetch(&agent, &base).await?;
    let bodies = body_pool(&refs, 4096, 20261201)?;
    let units = Arc::new(refs.handling_units.clone());

    // ---- steady phase
    let agents = crate::create::login_many(&base, "agent", args.clients).await?;
    let mut dispatchers = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        dispatchers.push(if args.dispatch > 0.0 {
            Some(client::login(&base, "dispatcher").await?)
        } else {
            None
        });
    }
    let every = Duration::from_secs_f64(args.clients as f64 / args.rate);
    let start = Instant::now() + Duration::from_millis(50);
    let t0 = start + Duration::from_secs_f64(args.warmup);
    let t1 = t0 + Duration::from_secs_f64(args.duration);
    let wall = |t: Instant| -> DateTime<Utc> {
        let now_i = Instant::now();
        let now_w = Utc::now();
        if t >= now_i {
            now_w + chrono::Duration::from_std(t - now_i).unwrap_or_default()
        } else {
            now_w - chrono::Duration::from_std(now_i - t).unwrap_or_default()
        }
    };
    let (t0_wall, t1_wall) = (wall(t0), wall(t1));
    let remaining = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    tokio::time::sleep_until(start.into()).await;
    for c in order_clients(
        args.clients,
        &base,
        agents,
        dispatchers,
        &bodies,
        &units,
        args.dispatch,
        Some(every),
        7,
    ) {
        tasks.spawn(order_client(c, Stop::Window { t0, t1 }, remaining.clone()));
    }
    eprintln!(
        "[webhooks] steady: {:.0} orders/s from {} clients, {:.0}% dispatched; warming up {:.0} s, then measuring {:.0} s",
        args.rate,
        args.clients,
        args.dispatch * 100.0,
        args.warmup,
        args.duration
    );
    tokio::time::sleep_until(t0.into()).await;
    let mark = CpuMark::take(server)?;
    tokio::time::sleep_until(t1.into()).await;
    let steady_cpu = mark.since(server)?;
    let mut steady = OrderResult::default();
    while let Some(r) = tasks.join_next().await {
        steady.merge(r.context("an order client failed")?);
    }
    let drain_started = Instant::now();
    let drained = wait_drained(&admin, &base, hook, &inbox, Duration::from_secs(300)).await?;
    let steady_drain = drain_started.elapsed().as_secs_f64().max(drained);
    let log = inbox.snapshot();
    let mut lat = Latencies::new();
    let mut events = 0u64;
    let mut delivered_in_window = 0u64;
    let mut seen = HashSet::new();
    for d in &log {
        if d.at_receiver >= t0_wall && d.at_receiver < t1_wall {
            delivered_in_window += 1;
        }
        if d.event_at >= t0_wall && d.event_at < t1_wall && seen.insert(d.event_id.as_str()) {
            events += 1;
            let gap = (d.at_receiver - d.event_at).to_std().unwrap_or_default();
            lat.record(gap);
        }
    }
    let event_to_delivery = lat.summary();
    eprintln!(
        "[webhooks] steady: {} events in the window, p99 {:.1} ms; all delivered {:.1} s after it",
        events, event_to_delivery.p99_ms, steady_drain
    );
    let steady_report = SteadyReport {
        clients: args.clients,
        warmup_seconds: args.warmup,
        duration_seconds: args.duration,
        rate: args.rate,
        orders: steady.created_in_window,
        orders_per_sec: steady.created_in_window as f64 / args.duration,
        dispatched: steady.dispatched_in_window,
        create_errors: steady.create_errors,
        dispatch_errors: steady.dispatch_errors,
        first_error: steady.first_error.clone(),
        create_latency: steady.create.summary(),
        dispatch_latency: steady.dispatch.summary(),
        events,
        events_per_sec: events as f64 / args.duration,
        delivered_per_sec: delivered_in_window as f64 / args.duration,
        event_to_delivery,
        drain_seconds: steady_drain,
        cpu: steady_cpu,
    };
    let mut created: Vec<i64> = steady.created;
    let dispatched: Vec<i64> = steady.dispatched;

    // ---- backlog phase
    let backlog = if args.backlog > 0 {
        set_active(&admin, &base, hook, false).await?;
        let before = hook_counts(&admin, &base, hook).await?;
        eprintln!(
            "[webhooks] paused; creating {} orders from {} clients",
            args.backlog, args.backlog_clients
        );
        let agents = crate::create::login_many(&base, "agent", args.backlog_clients).await?;
        let none: Vec<Option<reqwest::Client>> = (0..args.backlog_clients).map(|_| None).collect();
        let remaining = Arc::new(AtomicU64::new(args.backlog));
        let create_mark = CpuMark::take(server)?;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for c in order_clients(
            args.backlog_clients,
            &base,
            agents,
            none,
            &bodies,
            &units,
            0.0,
            None,
            1007,
        ) {
            tasks.spawn(order_client(c, Stop::Count, remaining.clone()));
        }
        let mut made = OrderResult::default();
        while let Some(r) = tasks.join_next().await {
            made.merge(r.context("an order client failed")?);
        }
        let create_seconds = started.elapsed().as_secs_f64();
        let create_cpu = create_mark.since(server)?;
        let orders = made.created.len() as u64;
        eprintln!(
            "[webhooks] {} orders in {:.1} s; waiting for the fan-out",
            orders, create_seconds
        );
        // The fan-out runs while the subscription is paused: wait until every order's
        // events wait as pending deliveries and the count holds still.
        let fan_started = Instant::now();
        let want = before.pending + orders;
        let mut last = u64::MAX;
        let mut still_since = Instant::now();
        let pending = loop {
            let c = hook_counts(&admin, &base, hook).await?;
            if c.pending != last {
                last = c.pending;
                still_since = Instant::now();
            }
            if c.pending >= want && still_since.elapsed() >= Duration::from_millis(1000) {
                break c.pending;
            }
            if fan_started.elapsed() > Duration::from_secs(300) {
                eprintln!(
                    "[webhooks] fan-out incomplete after 300 s: {} pending of {} expected",
                    c.pending, want
                );
                break c.pending;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let fan_out_seconds = fan_started
            .elapsed()
            .saturating_sub(Duration::from_millis(1000))
            .as_secs_f64();
        let received_before = inbox.count.load(Ordering::Relaxed);
        eprintln!("[webhooks] {pending} pending deliveries; resuming");
        let mark = CpuMark::take(server)?;
        let resumed_wall = Utc::now();
        let resumed = Instant::now();
        set_active(&admin, &base, hook, true).await?;
        let goal = received_before + pending;
        let limit = Duration::from_secs(600);
        while inbox.count.load(Ordering::Relaxed) < goal && resumed.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let drain_seconds = resumed.elapsed().as_secs_f64();
        let cpu = mark.since(server)?;
        let got = inbox.count.load(Ordering::Relaxed) - received_before;
        if got < pending {
            eprintln!("[webhooks] drain incomplete after {limit:?}: {got} of {pending}");
        }
        let mut arrivals: Vec<DateTime<Utc>> = inbox
            .snapshot()
            .iter()
            .map(|d| d.at_receiver)
            .filter(|t| *t >= resumed_wall)
            .collect();
        arrivals.sort();
        let middle = if arrivals.len() >= 10 {
            let a = arrivals.len() / 10;
            let b = arrivals.len() * 9 / 10;
            let secs = (arrivals[b] - arrivals[a]).num_microseconds().unwrap_or(0) as f64 / 1e6;
            if secs > 0.0 {
                (b - a) as f64 / secs
            } else {
                0.0
            }
        } else {
            0.0
        };
        let events_per_sec = got.min(pending) as f64 / drain_seconds.max(1e-9);
        eprintln!("[webhooks] drained {got} in {drain_seconds:.1} s: {events_per_sec:.0} events/s");
        created.extend(made.created);
        Some(BacklogReport {
            orders,
            create_errors: made.create_errors,
            first_error: made.first_error,
            create_seconds,
            create_orders_per_sec: orders as f64 / create_seconds.max(1e-9),
            create_cpu,
            fan_out_seconds,
            events: pending,
            drain_seconds,
            events_per_sec,
            middle_events_per_sec: middle,
            cpu,
        })
    } else {
        None
    };

    // ---- exactly once
    wait_drained(&admin, &base, hook, &inbox, Duration::from_secs(120)).await?;
    // Histories are read as the centre's dispatcher, who sees every order.
    let reader = client::login(&base, "dispatcher").await?;
    let integrity = check(
        &admin,
        &reader,
        &base,
        hook,
        &inbox,
        &created,
        &dispatched,
        args.sample,
    )
    .await?;

    let throughput_met = backlog
        .as_ref()
        .map(|b| b.events_per_sec >= TARGET_EVENTS_PER_SEC);
    let p99_met = steady_report.event_to_delivery.count > 0
        && steady_report.event_to_delivery.p99_ms < TARGET_P99_MS;
    Ok(WebhooksReport {
        scenario: "webhooks",
        jiesu: common.jiesu.display().to_string(),
        data_dir: dir.display().to_string(),
        demo_build_seconds,
        retry_base_ms: args.retry_base_ms,
        concurrency: args.concurrency,
        steady: steady_report,
        backlog,
        integrity,
        server_memory: server.memory()?,
        slow_statements: server.slow_statements(),
        target_events_per_sec: TARGET_EVENTS_PER_SEC,
        target_p99_ms: TARGET_P99_MS,
        throughput_met,
        p99_met,
    })
}

/// Compares what arrived with what the server holds.
#[allow(clippy::too_many_arguments)]
async fn check(
    admin: &reqwest::Client,
    reader: &reqwest::Client,
    base: &str,
    hook: i64,
    inbox: &Inbox,
    created: &[i64],
    dispatched: &[i64],
    sample: usize,
) -> anyhow::Result<Integrity> {
    let log = inbox.snapshot();
    let counts = hook_counts(admin, base, hook).await?;
    let mut by_id: HashMap<&str, u64> = HashMap::new();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for d in &log {
        let n = by_id.entry(d.event_id.as_str()).or_default();
        *n += 1;
        if *n == 1 {
            *kinds.entry(d.kind.clone()).or_default() += 1;
        }
    }
    let unique = by_id.len() as u64;
    let received = log.len() as u64;
    // Each order's received events, by seq (once each).
    let mut per_order: HashMap<i64, BTreeMap<u32, &str>> = HashMap::new();
    for d in &log {
        per_order
            .entry(d.order_id)
            .or_default()
            .insert(d.seq, d.kind.as_str());
    }
    let ours: HashSet<i64> = created.iter().copied().collect();
    let other_events = log.iter().filter(|d| !ours.contains(&d.order_id)).count() as u64;
    let mut missing_accepted = 0u64;
    let mut gaps = 0u64;
    for id in created {
        match per_order.get(id) {
            Some(seqs) => {
                if seqs.get(&1) != Some(&"accepted") {
                    missing_accepted += 1;
                }
                let max = seqs.keys().next_back().copied().unwrap_or(0);
                if seqs.len() as u32 != max {
                    gaps += 1;
                }
            }
            None => missing_accepted += 1,
        }
    }
    let dispatched_missing = dispatched
        .iter()
        .filter(|id| {
            !per_order
                .get(id)
                .is_some_and(|s| s.values().any(|k| *k == "dispatched"))
        })
        .count() as u64;
    // A sample of whole histories: every event the order holds arrived, and nothing else.
    let mut rng = StdRng::seed_from_u64(11);
    let picked: Vec<i64> = created
        .choose_multiple(&mut rng, sample.min(created.len()))
        .copied()
        .collect();
    let mut mismatches = 0u64;
    for id in &picked {
        let h: EventList = client::get_json(reader, base, &format!("/api/orders/{id}/events"))
            .await
            .with_context(|| format!("the history of order {id}"))?;
        let want: Vec<u32> = h.items.iter().map(|e| e.seq).collect();
        let got: Vec<u32> = per_order
            .get(id)
            .map(|s| s.keys().copied().collect())
            .unwrap_or_default();
        if want != got {
            mismatches += 1;
            if mismatches <= 3 {
                eprintln!("[webhooks] order {id}: history {want:?}, received {got:?}");
            }
        }
    }
    let duplicates = received - unique;
    let unreadable = inbox.unreadable.load(Ordering::Relaxed);
    let exactly_once = duplicates == 0
        && unreadable == 0
        && counts.pending == 0
        && counts.dead == 0
        && counts.delivered == unique
        && missing_accepted == 0
        && dispatched_missing == 0
        && gaps == 0
        && mismatches == 0;
    Ok(Integrity {
        received,
        unique,
        duplicates,
        unreadable,
        server_delivered: counts.delivered,
        server_pending: counts.pending,
        server_dead: counts.dead,
        orders: created.len() as u64,
        orders_missing_accepted: missing_accepted,
        dispatched_missing,
        orders_with_gaps: gaps,
        other_events,
        kinds,
        sampled_orders: picked.len() as u64,
        sample_mismatches: mismatches,
        exactly_once,
    })
}
