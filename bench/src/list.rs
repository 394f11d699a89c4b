//! `jiesu-bench list`: filtered list queries against a data directory holding N orders, then
//! the server's resident memory.

use crate::Common;
use crate::body;
use crate::client::{self, ListPage, RefData};
use crate::create::{Stop, body_pool, create_worker, ensure_demo, login_many};
use crate::server::{CpuMark, CpuUse, Memory, Server, SlowStatement};
use crate::stats::{Latencies, LatencySummary, fmt_mib, fmt_ms, thousands, verdict};
use anyhow::{Context, bail};
use chrono::{Duration as Days, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub const TARGET_P99_MS: f64 = 50.0;
pub const TARGET_RSS_BYTES: u64 = 200 * 1024 * 1024;
const MARKER: &str = "bench-load.json";
const CHUNK: u64 = 50_000;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadPath {
    /// `jiesu import` (JSONL with accepted_at spread over the last 12 months), server stopped.
    Import,
    /// POST /api/orders at 16 clients (every order accepted now).
    Http,
    /// Copies of the demo's orders made inside PostgreSQL (`pg-list` only).
    #[value(skip)]
    Copies,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ListArgs {
    /// Orders to load on top of the demo.
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: u64,
    /// How to load them.
    #[arg(long, value_enum, default_value_t = LoadPath::Import)]
    pub load: LoadPath,
    #[command(flatten)]
    pub mix: Mix,
    /// Data directory; reused when it already holds the orders.
    /// Default: <target dir>/jiesu-bench/list-<orders>.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// The measured requests: how many, by how many clients, over which filters (shared by
/// `list` and `pg-list`).
#[derive(clap::Args, Debug, Clone)]
pub struct Mix {
    /// Concurrent clients, each with its own session (as `dispatcher`).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Measured requests in all.
    #[arg(long, default_value_t = 1000)]
    pub requests: u64,
    /// Unmeasured requests first (cache warm-up).
    #[arg(long, default_value_t = 50)]
    pub warmup_requests: u64,
    /// Only these filters (comma-separated): all, pending, unit, category, region, overdue,
    /// due-soon, number, range, combined. Default: all of them.
    #[arg(long, value_delimiter = ',')]
    pub filters: Vec<String>,
    /// Pages read by following next_cursor (the first page included).
    #[arg(long, default_value_t = 5)]
    pub pages: u32,
}

/// What the data directory holds, written after every loaded chunk (resumable).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub orders: u64,
    pub(crate) method: LoadPath,
    pub(crate) seconds: f64,
    /// The accepted times lie in the 365 local days before this date (import path).
    pub(crate) range_end: NaiveDate,
}

impl Marker {
    fn read(dir: &Path) -> Option<Marker> {
        let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
        serde_json::from_str(&text).ok()
    }
    fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let tmp = dir.join(format!("{MARKER}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, dir.join(MARKER))?;
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub method: LoadPath,
    /// Orders loaded by this benchmark (all runs) and the time that took.
    pub orders: u64,
    pub seconds: f64,
    pub orders_per_sec: f64,
    /// Loaded in this run (0 when the directory was reused).
    pub loaded_now: u64,
    pub reused: bool,
}

#[derive(Debug, Serialize)]
pub struct FilterReport {
    pub name: String,
    pub example: String,
    /// Mean `total` the server reported (orders matching the filter).
    pub mean_matches: u64,
    pub latency: LatencySummary,
    pub p99_met: bool,
}

#[derive(Debug, Serialize)]
pub struct ListReport {
    pub scenario: &'static str,
    pub jiesu: String,
    pub data_dir: String,
    pub database_bytes: u64,
    pub orders_in_database: u64,
    pub load: LoadReport,
    pub clients: usize,
    /// The filters of `--filters` (empty: all).
    pub only_filters: Vec<String>,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub requests_per_sec: f64,
    pub filters: Vec<FilterReport>,
    pub overall: LatencySummary,
    pub cpu: CpuUse,
    /// Statements the server logged as slow (over 1 s) during the whole list run.
    pub slow_statements: Vec<SlowStatement>,
    /// After start-up and one login, before any list query.
    pub server_memory_idle: Memory,
    /// After the list run.
    pub server_memory: Memory,
    pub target_p99_ms: f64,
    pub target_rss_bytes: u64,
    pub p99_met: bool,
    pub rss_met: bool,
}

impl ListReport {
    pub fn print(&self) {
        println!(
            "list — GET /api/orders as dispatcher, {} clients, {} requests over {} orders",
            self.clients,
            thousands(self.requests),
            thousands(self.orders_in_database)
        );
        if !self.only_filters.is_empty() {
            println!("  filters     only {}", self.only_filters.join(", "));
        }
        println!(
            "  data        {} ({:.0} MiB database); {} orders loaded by {} in {:.0} s ({:.0}/s){}",
            self.data_dir,
            self.database_bytes as f64 / (1024.0 * 1024.0),
            thousands(self.load.orders),
            match self.load.method {
                LoadPath::Import => "`jiesu import`",
                LoadPath::Http => "POST /api/orders",
                LoadPath::Copies => "copies made in PostgreSQL",
            },
            self.load.seconds,
            self.load.orders_per_sec,
            if self.load.reused { ", reused" } else { "" }
        );
        println!(
            "  {:<34} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "filter", "matches", "p50", "p90", "p99", "max"
        );
        for f in &self.filters {
            println!(
                "  {:<34} {:>10} {:>9} {:>9} {:>9} {:>9}{}",
                f.name,
                thousands(f.mean_matches),
                fmt_ms(f.latency.p50_ms),
                fmt_ms(f.latency.p90_ms),
                fmt_ms(f.latency.p99_ms),
                fmt_ms(f.latency.max_ms),
                if f.p99_met {
                    ""
                } else {
                    "  ← p99 over target"
                }
            );
        }
        println!(
            "  {:<34} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "overall",
            "",
            fmt_ms(self.overall.p50_ms),
            fmt_ms(self.overall.p90_ms),
            fmt_ms(self.overall.p99_ms),
            fmt_ms(self.overall.max_ms)
        );
        println!(
            "  latency     overall p99 {} (target < {:.0} ms: {}); {:.0} requests/s",
            fmt_ms(self.overall.p99_ms),
            self.target_p99_ms,
            verdict(self.p99_met),
            self.requests_per_sec
        );
        if self.errors > 0 {
            println!(
                "  errors      {}  first: {}",
                thousands(self.errors),
                self.first_error.as_deref().unwrap_or("-")
            );
        }
        println!("  cpu         {}", self.cpu.line());
        for s in self.slow_statements.iter().take(3) {
            println!(
                "  slow        {}× over 1 s (max {:.1} s): {}",
                s.count,
                s.max_seconds,
                s.statement.chars().take(160).collect::<String>()
            );
        }
        println!(
            "  server RSS  {} (VmRSS) after the run, {} peak (VmHWM)   (target < {}: {})",
            fmt_mib(self.server_memory.rss_bytes),
            fmt_mib(self.server_memory.peak_rss_bytes),
            fmt_mib(self.target_rss_bytes),
            verdict(self.rss_met)
        );
        println!(
            "              of it {} heap (RssAnon), {} files (RssFile); {} after start-up",
            fmt_mib(self.server_memory.rss_anon_bytes),
            fmt_mib(self.server_memory.rss_file_bytes),
            fmt_mib(self.server_memory_idle.rss_bytes),
        );
    }
}

/// Today in China (UTC+8, no daylight saving): the platform's local date.
pub(crate) fn today_local() -> NaiveDate {
    (Utc::now() + Days::hours(8)).date_naive()
}

/// Call volume by hour of day (a hotline's daily curve).
const HOUR_WEIGHTS: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 10, 12, 14, 14, 12, 10, 8, 7, 6, 4, 3, 2,
];

fn random_time<R: Rng>(rng: &mut R) -> (u32, u32, u32) {
    let total: u32 = HOUR_WEIGHTS.iter().sum();
    let mut x = rng.gen_range(0..total);
    let mut hour = 0;
    for (h, w) in HOUR_WEIGHTS.iter().enumerate() {
        if x < *w {
            hour = h as u32;
            break;
        }
        x -= w;
    }
    (hour, rng.gen_range(0..60), rng.gen_range(0..60))
}

/// Writes rows `from..to` of `n` as JSONL: accepted times spread evenly over the 365 days
/// before `range_end`, oldest first, at a hotline's time-of-day curve.
fn write_chunk(
    path: &Path,
    refs: &RefData,
    from: u64,
    to: u64,
    n: u64,
    range_end: NaiveDate,
) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut rng = StdRng::seed_from_u64(from ^ 0x6a69_6573);
    let first_day = range_end - Days::days(365);
    let mut i = from;
    while i < to {
        let day = i * 365 / n.max(1);
        // All rows of this day in this chunk, sorted by time.
        let mut j = i;
        while j < to && j * 365 / n.max(1) == day {
            j += 1;
        }
        let date = first_day + Days::days(day as i64);
        let mut times: Vec<(u32, u32, u32)> = (i..j).map(|_| random_time(&mut rng)).collect();
        times.sort_unstable();
        for (k, (h, m, s)) in times.into_iter().enumerate() {
            let at = format!("{date} {h:02}:{m:02}:{s:02}");
            let row = body::import_row(&mut rng, refs, &at, &format!("BENCH-{:07}", i + k as u64));
            serde_json::to_writer(&mut w, &row)?;
            w.write_all(b"\n")?;
        }
        i = j;
    }
    w.flush()?;
    Ok(())
}

/// Fetches the reference data from a briefly started server.
async fn reference_data(jiesu: &Path, dir: &Path) -> anyhow::Result<RefData> {
    let server = Server::start(jiesu, dir).await?;
    let r = async {
        let c = client::login(&server.base, "agent").await?;
        RefData::fetch(&c, &server.base).await
    }
    .await;
    server.stop().await?;
    r
}

async fn load_import(
    jiesu: &Path,
    dir: &Path,
    refs: &RefData,
    marker: &mut Marker,
    target: u64,
) -> anyhow::Result<u64> {
    let dir_s = dir
        .to_str()
        .context("the data directory path is not UTF-8")?;
    let chunk_path = dir.join("bench-chunk.jsonl");
    let chunk_s = chunk_path
        .to_str()
        .context("the data directory path is not UTF-8")?
        .to_string();
    let mut loaded_now = 0;
    while marker.orders < target {
        let from = marker.orders;
        let to = (from + CHUNK).min(target);
        let gen_start = Instant::now();
        write_chunk(&chunk_path, refs, from, to, target, marker.range_end)?;
        let gen_secs = gen_start.elapsed().as_secs_f64();
        let start = Instant::now();
        let out = crate::server::import_jsonl(jiesu, dir_s, &chunk_s).await?;
        let secs = start.elapsed().as_secs_f64();
        let (imported, rejected) = parse_import_summary(&out)
            .with_context(|| format!("unexpected `jiesu import` output: {out}"))?;
        if rejected > 0 {
            // A chunk interrupted earlier: its rows already stored are rejected as duplicates.
            let sample: Vec<&str> = out.lines().skip(1).take(3).collect();
            eprintln!(
                "[list] {rejected} rows rejected (already imported?), e.g. {}",
                sample.join(" | ")
            );
            if imported == 0 && !out.contains("external_ref") {
                bail!("`jiesu import` rejected every row:\n{}", sample.join("\n"));
            }
        }
        marker.orders = to;
        marker.seconds += secs;
        marker.write(dir)?;
        loaded_now += to - from;
        eprintln!(
            "[list] imported {}/{} ({} rows in {:.1} s = {:.0}/s; generating took {:.1} s)",
            thousands(to),
            thousands(target),
            thousands(imported),
            secs,
            (to - from) as f64 / secs.max(1e-9),
            gen_secs
        );
    }
    let _ = std::fs::remove_file(&chunk_path);
    Ok(loaded_now)
}

fn parse_import_summary(out: &str) -> Option<(u64, u64)> {
    // "imported 50000 orders, rejected 0 rows"
    let line = out.lines().find(|l| l.starts_with("imported "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    Some((words.get(1)?.parse().ok()?, words.get(4)?.parse().ok()?))
}

async fn load_http(
    jiesu: &Path,
    dir: &Path,
    marker: &mut Marker,
    target: u64,
) -> anyhow::Result<u64> {
    let server = Server::start(jiesu, dir).await?;
    let r = async {
        let c = client::login(&server.base, "agent").await?;
        let refs = RefData::fetch(&c, &server.base).await?;
        let bodies = body_pool(&refs, 4096, 7)?;
        let mut loaded_now = 0;
        while marker.orders < target {
            let n = (target - marker.orders).min(CHUNK);
            let remaining = Arc::new(AtomicU64::new(n));
            let clients = login_many(&server.base, "agent", 16).await?;
            let start = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for (k, c) in clients.into_iter().enumerate() {
                tasks.spawn(create_worker(
                    c,
                    server.base.clone(),
                    bodies.clone(),
                    (marker.orders as usize) + k * 257,
                    Stop::Count,
                    remaining.clone(),
                ));
            }
            let mut errors = 0;
            let mut first = None;
            while let Some(r) = tasks.join_next().await {
                let r = r.context("a client task failed")?;
                errors += r.errors;
                first = first.or(r.first_error);
            }
            if errors > 0 {
                bail!(
                    "{errors} requests failed while loading; first: {}",
                    first.unwrap_or_default()
                );
            }
            let secs = start.elapsed().as_secs_f64();
            marker.orders += n;
            marker.seconds += secs;
            marker.write(dir)?;
            loaded_now += n;
            eprintln!(
                "[list] created {}/{} over HTTP ({:.0}/s)",
                thousands(marker.orders),
                thousands(target),
                n as f64 / secs.max(1e-9)
            );
        }
        Ok(loaded_now)
    }
    .await;
    server.stop().await?;
    r
}

/// The kinds of list request a dispatcher's screens make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    All,
    Pending,
    HandlingUnit,
    Category,
    Region,
    Overdue,
    DueSoon,
    NumberDay,
    DateRange,
    Combined,
    NextPages,
}

impl Kind {
    const ROTATION: [Kind; 10] = [
        Kind::Pending,
        Kind::HandlingUnit,
        Kind::Category,
        Kind::Region,
        Kind::Overdue,
        Kind::DueSoon,
        Kind::NumberDay,
        Kind::DateRange,
        Kind::Combined,
        // Reads the first page of all orders, then follows next_cursor.
        Kind::All,
    ];

    /// The name `--filters` knows it by.
    fn key(self) -> &'static str {
        match self {
            Kind::All | Kind::NextPages => "all",
            Kind::Pending => "pending",
            Kind::HandlingUnit => "unit",
            Kind::Category => "category",
            Kind::Region => "region",
            Kind::Overdue => "overdue",
            Kind::DueSoon => "due-soon",
            Kind::NumberDay => "number",
            Kind::DateRange => "range",
            Kind::Combined => "combined",
        }
    }

    /// The rotation restricted to `keys` (all kinds when empty).
    fn rotation(keys: &[String]) -> anyhow::Result<Vec<Kind>> {
        for k in keys {
            if !Kind::ROTATION.iter().any(|r| r.key() == k.trim()) {
                let known: Vec<&str> = Kind::ROTATION.iter().map(|r| r.key()).collect();
                bail!(
                    "--filters: unknown filter “{k}”; known: {}",
                    known.join(", ")
                );
            }
        }
        Ok(Kind::ROTATION
            .iter()
            .copied()
            .filter(|r| keys.is_empty() || keys.iter().any(|k| k.trim() == r.key()))
            .collect())
    }

    fn name(self) -> &'static str {
        match self {
            Kind::All => "all orders (first page)",
            Kind::Pending => "status=pending_review",
            Kind::HandlingUnit => "status=handling&unit=U",
            Kind::Category => "category=PREFIX",
            Kind::Region => "region=DISTRICT",
            Kind::Overdue => "overdue=true",
            Kind::DueSoon => "in progress, due in 24 h",
            Kind::NumberDay => "number=YYYY-MM-DD",
            Kind::DateRange => "from=D&to=D+7",
            Kind::Combined => "pending_review+region+from",
            Kind::NextPages => "next_cursor (pages 2..)",
        }
    }
}

/// Query strings for the request kinds, drawn at random from real codes and dates.
struct Queries {
    rotation: Vec<Kind>,
    refs: RefData,
    first_day: NaiveDate,
    days: i64,
}

impl Queries {
    fn day<R: Rng>(&self, rng: &mut R) -> NaiveDate {
        self.first_day + Days::days(rng.gen_range(0..self.days))
    }

    fn query<R: Rng>(&self, rng: &mut R, kind: Kind) -> String {
        let district = self.refs.districts.choose(rng).cloned().unwrap_or_default();
        match kind {
            Kind::All | Kind::NextPages => String::new(),
            Kind::Pending => "status=pending_review".into(),
            Kind::HandlingUnit => {
                // Mostly the housing department (the demo's busiest unit), sometimes another.
                let unit = if rng.gen_bool(0.5) {
                    self.refs.handling_units.first()
                } else {
                    self.refs.handling_units.choose(rng)
                };
                format!("status=handling&unit={}", unit.copied().unwrap_or(1))
            }
            Kind::Category => format!(
                "category={}",
                self.refs
                    .category_prefixes
                    .choose(rng)
                    .cloned()
                    .unwrap_or_default()
            ),
            Kind::Region => format!("region={district}"),
            Kind::Overdue => "overdue=true".into(),
            // The supervisor's "due within 24 hours" (the soak's list too).
            Kind::DueSoon => "status=dispatched,handling&due_within_hours=24&sort=due_at".into(),
            Kind::NumberDay => format!("number={}", self.day(rng)),
            Kind::DateRange => {
                let d = self.day(rng);
                format!("from={d}&to={}", d + Days::days(7))
            }
            Kind::Combined => format!(
                "status=pending_review&region={district}&from={}",
                self.first_day + Days::days((self.days - 30).max(0))
            ),
        }
    }
}

#[derive(Default)]
struct ListWorkerResult {
    by_kind: BTreeMap<Kind, (Latencies, u64, u64)>,
    errors: u64,
    first_error: Option<String>,
}

async fn list_get(client: &reqwest::Client, url: &str) -> Result<ListPage, String> {
    let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        return Err(format!(
            "{status} for {url}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    resp.json::<ListPage>().await.map_err(|e| e.to_string())
}

async fn list_worker(
    client: reqwest::Client,
    base: String,
    queries: Arc<Queries>,
    budget: Arc<AtomicU64>,
    pages: u32,
    seed: u64,
    record: bool,
) -> ListWorkerResult {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut r = ListWorkerResult::default();
    let mut turn = seed as usize;
    let pages = u64::from(pages.max(1));
    while let Some(kind) = queries
        .rotation
        .get(turn % queries.rotation.len().max(1))
        .copied()
    {
        turn += 1;
        // The first page of "all" is followed by up to `pages - 1` more; each costs one request.
        let want = if kind == Kind::All { pages } else { 1 };
        let allowed = match budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n > 0).then(|| n - want.min(n))
        }) {
            Ok(before) => want.min(before),
            Err(_) => break,
        };
        let q = queries.query(&mut rng, kind);
        let mut url = format!("{base}/api/orders?{q}");
        let mut kind_now = kind;
        let mut page = 1;
        loop {
            let started = Instant::now();
            let res = list_get(&client, &url).await;
            let elapsed = started.elapsed();
            match res {
                Ok(p) => {
                    if record {
                        let e = r.by_kind.entry(kind_now).or_default();
                        e.0.record(elapsed);
                        e.1 += p.total;
                        e.2 += 1;
                    }
                    let _ = p.items.len();
                    match (kind, p.next_cursor) {
                        (Kind::All, Some(c)) if page < allowed => {
                            page += 1;
                            kind_now = Kind::NextPages;
                            url = format!("{base}/api/orders?cursor={c}");
                        }
                        _ => break,
                    }
                }
                Err(e) => {
                    r.errors += 1;
                    if r.first_error.is_none() {
                        r.first_error = Some(e);
                    }
                    break;
                }
            }
        }
    }
    r
}

async fn run_list_load(
    base: &str,
    queries: &Arc<Queries>,
    clients: usize,
    requests: u64,
    pages: u32,
    record: bool,
) -> anyhow::Result<ListWorkerResult> {
    let budget = Arc::new(AtomicU64::new(requests));
    let logged = login_many(base, "dispatcher", clients).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (k, c) in logged.into_iter().enumerate() {
        tasks.spawn(list_worker(
            c,
            base.to_string(),
            queries.clone(),
            budget.clone(),
            pages,
            k as u64 * 3 + 1,
            record,
        ));
    }
    let mut total = ListWorkerResult::default();
    while let Some(r) = tasks.join_next().await {
        let r = r.context("a client task failed")?;
        for (k, (l, sum, n)) in r.by_kind {
            let e = total.by_kind.entry(k).or_default();
            e.0.add(&l);
            e.1 += sum;
            e.2 += n;
        }
        total.errors += r.errors;
        total.first_error = total.first_error.or(r.first_error);
    }
    Ok(total)
}

fn database_bytes(dir: &Path) -> u64 {
    ["jiesu.db", "jiesu.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

pub async fn run(common: &Common, args: &ListArgs) -> anyhow::Result<ListReport> {
    anyhow::ensure!(args.mix.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.mix.requests >= 1, "--requests must be at least 1");
    Kind::rotation(&args.mix.filters)?;
    let (dir_path, marker, load) = prepare(common, args).await?;
    let dir = dir_path.as_path();

    eprintln!("[list] starting the server");
    let server = Server::start(&common.jiesu, dir).await?;
    let result = measure(common, args, &server, dir, load, &marker).await;
    if result.is_err() {
        eprintln!("[list] server log tail:\n{}", server.log_tail());
    }
    server.stop().await?;
    result
}

/// The data directory with the demo and `args.orders` benchmark orders, loaded now where
/// they are not there yet (also used by the `scheduler` scenario).
pub async fn prepare(
    common: &Common,
    args: &ListArgs,
) -> anyhow::Result<(PathBuf, Marker, LoadReport)> {
    let dir_path = args
        .data_dir
        .clone()
        .unwrap_or_else(|| common.work_root().join(format!("list-{}", args.orders)));
    let dir = dir_path.as_path();
    let has_demo = dir.join("jiesu.db").exists();
    if !has_demo {
        eprintln!("[list] building the demo in {}", dir.display());
    }
    ensure_demo(&common.jiesu, dir).await?;
    let mut marker = Marker::read(dir).unwrap_or(Marker {
        orders: 0,
        method: args.load,
        seconds: 0.0,
        range_end: today_local(),
    });
    let reused = marker.orders >= args.orders;
    let loaded_now = if reused {
        eprintln!(
            "[list] reusing {}: it holds {} benchmark orders (loaded by {:?} in {:.0} s)",
            dir.display(),
            thousands(marker.orders),
            marker.method,
            marker.seconds
        );
        0
    } else {
        if marker.orders > 0 && marker.method != args.load {
            eprintln!(
                "[list] continuing a {:?} load with {:?}",
                marker.method, args.load
            );
        }
        marker.method = args.load;
        eprintln!(
            "[list] loading {} orders ({} there) with {:?}",
            thousands(args.orders - marker.orders),
            thousands(marker.orders),
            args.load
        );
        match args.load {
            LoadPath::Import => {
                let refs = reference_data(&common.jiesu, dir).await?;
                load_import(&common.jiesu, dir, &refs, &mut marker, args.orders).await?
            }
            LoadPath::Http => load_http(&common.jiesu, dir, &mut marker, args.orders).await?,
            LoadPath::Copies => bail!("copies are made by `pg-list`"),
        }
    };
    let load = LoadReport {
        method: marker.method,
        orders: marker.orders,
        seconds: marker.seconds,
        orders_per_sec: marker.orders as f64 / marker.seconds.max(1e-9),
        loaded_now,
        reused,
    };
    Ok((dir_path.clone(), marker, load))
}

pub(crate) async fn measure(
    common: &Common,
    args: &ListArgs,
    server: &Server,
    dir: &Path,
    load: LoadReport,
    marker: &Marker,
) -> anyhow::Result<ListReport> {
    let base = server.base.clone();
    let disp = client::login(&base, "dispatcher").await?;
    let server_memory_idle = server.memory()?;
    let refs = RefData::fetch(&disp, &base).await?;
    let all: ListPage = client::get_json(&disp, &base, "/api/orders?limit=1").await?;
    let orders_in_database = all.total;
    let (first_day, days) = match marker.method {
        LoadPath::Import | LoadPath::Copies => (marker.range_end - Days::days(365), 365),
        // HTTP-loaded orders are all from today; the demo spans the last year.
        LoadPath::Http => (today_local() - Days::days(365), 366),
    };
    let queries = Arc::new(Queries {
        rotation: Kind::rotation(&args.mix.filters)?,
        refs,
        first_day,
        days,
    });
    eprintln!(
        "[list] {} orders in the database; warming up with {} requests",
        thousands(orders_in_database),
        args.mix.warmup_requests
    );
    if args.mix.warmup_requests > 0 {
        let w = run_list_load(
            &base,
            &queries,
            args.mix.clients,
            args.mix.warmup_requests,
            args.mix.pages,
            false,
        )
        .await?;
        if w.errors > 0 {
            bail!(
                "warm-up requests failed: {}",
                w.first_error.unwrap_or_default()
            );
        }
    }
    eprintln!(
        "[list] measuring {} requests at {} clients",
        args.mix.requests, args.mix.clients
    );
    let mark = CpuMark::take(server)?;
    let start = Instant::now();
    let total = run_list_load(
        &base,
        &queries,
        args.mix.clients,
        args.mix.requests,
        args.mix.pages,
        true,
    )
    .await?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu = mark.since(server)?;
    let server_memory = server.memory()?;
    let mut overall = Latencies::new();
    let mut filters = Vec::new();
    let mut example_rng = StdRng::seed_from_u64(99);
    for (kind, (lat, sum, n)) in &total.by_kind {
        overall.add(lat);
        let latency = lat.summary();
        filters.push(FilterReport {
            name: kind.name().to_string(),
            example: match kind {
                Kind::NextPages => "cursor=…".into(),
                k => queries.query(&mut example_rng, *k),
            },
            mean_matches: if *n > 0 { sum / n } else { 0 },
            p99_met: latency.p99_ms < TARGET_P99_MS,
            latency,
        });
    }
    let overall = overall.summary();
    Ok(ListReport {
        scenario: "list",
        jiesu: common.jiesu.display().to_string(),
        data_dir: dir.display().to_string(),
        database_bytes: database_bytes(dir),
        orders_in_database,
        load,
        clients: args.mix.clients,
        only_filters: args.mix.filters.clone(),
        requests: overall.count,
        errors: total.errors,
        first_error: total.first_error,
        seconds,
        requests_per_sec: overall.count as f64 / seconds.max(1e-9),
        filters,
        overall,
        cpu,
        slow_statements: server.slow_statements(),
        server_memory_idle,
        server_memory,
        target_p99_ms: TARGET_P99_MS,
        target_rss_bytes: TARGET_RSS_BYTES,
        p99_met: overall.count > 0 && overall.p99_ms < TARGET_P99_MS,
        rss_met: server_memory.peak_rss_bytes < TARGET_RSS_BYTES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_the_rotation() {
        assert_eq!(Kind::rotation(&[]).expect("all").len(), 10);
        let r = Kind::rotation(&["overdue".into(), "all".into()]).expect("two");
        assert_eq!(r, vec![Kind::Overdue, Kind::All]);
        assert!(Kind::rotation(&["nope".into()]).is_err());
    }

    #[test]
    fn import_summaries_parse() {
        assert_eq!(
            parse_import_summary("imported 50000 orders, rejected 2 rows\n  row 3: x\n"),
            Some((50000, 2))
        );
        assert_eq!(parse_import_summary("nothing"), None);
    }

    #[test]
    fn chunks_spread_over_the_year_oldest_first() {
        let refs = RefData {
            leaf_categories: vec!["01.01.01".into()],
            category_prefixes: vec!["01".into()],
            districts: vec!["990101".into()],
            places: vec![crate::client::Place {
                code: "990101".into(),
                address: "A市A1区".into(),
            }],
            handling_units: vec![2],
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.jsonl");
        let end = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
        write_chunk(&p, &refs, 0, 730, 730, end).expect("write");
        let text = std::fs::read_to_string(&p).expect("read");
        let times: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["accepted_at"].as_str().expect("accepted_at").to_string()
            })
            .collect();
        assert_eq!(times.len(), 730);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[0].starts_with("2025-11-24"), "{}", times[0]);
        assert!(times[729].starts_with("2026-11-23"), "{}", times[729]);
    }
}
