//! `rates`: the centre's figures at a big city's scale. The demo city grown to 1,000 handling
//! units (departments and towns, created over the admin API), and the maintained aggregates
//! (`stat_daily`) holding what 10,000,000 orders accepted over the last 12 months put there:
//! per day, a row per lead unit, per category, per region and per issue, with the counts the
//! lifecycle gives (dispatched, signed on time, called back, satisfied …). Writing 10 million
//! real orders takes hours at the import rate; the figures read only the aggregate rows, whose
//! number depends on units × days, not on orders, so the rows are written directly (server
//! stopped) the way the orders' write transactions would have left them.
//!
//! Then over HTTP as `leader`: last month's rates, the departments' and towns' rankings (the
//! monthly evaluation), the same over the whole year (all 10 million orders), one unit's
//! figures, and the cockpit. Targets: **monthly rates and ranking < 1 s**, **cockpit < 200 ms**.

use crate::client::{self, RefData, get_json};
use crate::create::ensure_demo;
use crate::server::Server;
use crate::stats::{Latencies, LatencySummary, thousands, verdict};
use crate::{Common, DataDir};
use anyhow::Context;
use chrono::{Datelike, Duration as Days, NaiveDate, Utc};
use jiesu_core::stats::Measure;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, TransactionTrait, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const TARGET_MONTH_MS: f64 = 1_000.0;
pub const TARGET_COCKPIT_MS: f64 = 200.0;

#[derive(clap::Args, Debug)]
pub struct RatesArgs {
    /// Handling units in all (departments and towns, half each).
    #[arg(long, default_value_t = 1_000)]
    pub units: usize,
    /// Orders the aggregates account for, accepted over the last 365 days.
    #[arg(long, default_value_t = 10_000_000)]
    pub orders: u64,
    /// Measured repetitions of each request.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Data directory to use (and keep); built if it holds no demo yet.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub request: String,
    pub latency: LatencySummary,
}

#[derive(Debug, Serialize)]
pub struct RatesReport {
    pub scenario: &'static str,
    pub units: usize,
    pub orders: u64,
    pub aggregate_rows: u64,
    pub load_seconds: f64,
    pub figures: Vec<Figure>,
    /// p99 of last month's rates plus both rankings (what a monthly evaluation reads).
    pub month_p99_ms: f64,
    pub cockpit_p99_ms: f64,
    pub month_met: bool,
    pub cockpit_met: bool,
}

impl RatesReport {
    pub fn print(&self) {
        println!(
            "rates — figures over {} orders (aggregates: {} rows), {} units",
            thousands(self.orders),
            thousands(self.aggregate_rows),
            thousands(self.units as u64)
        );
        for f in &self.figures {
            println!("  {:<34} {}", f.name, f.latency.line());
        }
        println!(
            "  last month: rates + both rankings p99 {:.1} ms (target < {:.0} ms: {})",
            self.month_p99_ms,
            TARGET_MONTH_MS,
            verdict(self.month_met)
        );
        println!(
            "  cockpit p99 {:.1} ms (target < {:.0} ms: {})",
            self.cockpit_p99_ms,
            TARGET_COCKPIT_MS,
            verdict(self.cockpit_met)
        );
        println!(
            "  set-up {:.1} s (demo, units, aggregate rows)",
            self.load_seconds
        );
    }
}

#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct UnitRow {
    id: i64,
    kind: String,
    active: bool,
}

#[derive(Serialize, Deserialize)]
struct Marker {
    units: usize,
    orders: u64,
    rows: u64,
}

const MARKER: &str = "bench-rates.json";

pub async fn run(common: &Common, args: &RatesArgs) -> anyhow::Result<RatesReport> {
    anyhow::ensure!(args.units >= 2, "--units must be at least 2");
    anyhow::ensure!(args.repeat >= 1, "--repeat must be at least 1");
    let dir = match &args.data_dir {
        Some(d) => DataDir::kept(d.clone()),
        None => DataDir::fresh(&common.work_root(), "rates-", false)?,
    };
    let started = Instant::now();
    let marker_path = dir.path().join(MARKER);
    let marker: Option<Marker> = std::fs::read(&marker_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|m: &Marker| m.units == args.units && m.orders == args.orders);
    let rows = match marker {
        Some(m) => m.rows,
        None => {
            eprintln!("[rates] building the demo in {}", dir.path().display());
            ensure_demo(&common.jiesu, dir.path()).await?;
            let server = Server::start(&common.jiesu, dir.path()).await?;
            let grown = grow_units(&server.base, args.units).await;
            server.stop().await?;
            let (units, refs) = grown?;
            eprintln!(
                "[rates] writing the aggregates of {} orders",
                thousands(args.orders)
            );
            let rows = write_aggregates(dir.path(), &units, &refs, args.orders).await?;
            let m = Marker {
                units: args.units,
                orders: args.orders,
                rows,
            };
            std::fs::write(&marker_path, serde_json::to_vec(&m)?)?;
            rows
        }
    };
    let load_seconds = started.elapsed().as_secs_f64();
    let server = Server::start(&common.jiesu, dir.path()).await?;
    let result = measure(&server.base, args, rows, load_seconds).await;
    if result.is_err() {
        eprintln!("[rates] server log tail:\n{}", server.log_tail());
    }
    server.stop().await?;
    let report = result?;
    dir.finish()?;
    Ok(report)
}

/// Adds departments under the city centre and towns under the district centres until the
/// tenant has `n` active ones; returns their ids and the reference data.
async fn grow_units(base: &str, n: usize) -> anyhow::Result<(Vec<i64>, RefData)> {
    let admin = client::login(base, "admin").await?;
    let list: Items<UnitRow> = get_json(&admin, base, "/api/units").await?;
    let centre = list
        .items
        .iter()
        .find(|u| u.kind == "city_centre")
        .map(|u| u.id)
        .context("the demo has no city centre")?;
    let districts: Vec<i64> = list
        .items
        .iter()
        .filter(|u| u.kind == "district_centre")
        .map(|u| u.id)
        .collect();
    let handling = |u: &UnitRow| u.active && matches!(u.kind.as_str(), "department" | "town");
    let mut have = list.items.iter().filter(|u| handling(u)).count();
    let mut k = 0usize;
    while have < n {
        let (kind, parent) = if k.is_multiple_of(2) || districts.is_empty() {
            ("department", centre)
        } else {
            ("town", districts[k % districts.len()])
        };
        let r = admin
            .post(format!("{base}/api/units"))
            .json(&json!({"parent_id": parent, "kind": kind, "name": format!("压测单位{k:04}")}))
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "creating a unit: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        have += 1;
        k += 1;
    }
    let list: Items<UnitRow> = get_json(&admin, base, "/api/units").await?;
    let units = list
        .items
        .iter()
        .filter(|u| handling(u))
        .map(|u| u.id)
        .collect();
    let refs = RefData::fetch(&admin, base).await?;
    Ok((units, refs))
}

/// The counts (in `Measure::ALL` order) a batch of `n` dispatched orders ends with, by the
/// centre's usual shares.
fn lifecycle(n: i64, rng: &mut StdRng) -> [i64; 16] {
    let share = |x: i64, p: f64, rng: &mut StdRng| -> i64 {
        let jitter = rng.gen_range(0.97..1.03);
        ((x as f64) * (p * jitter).min(1.0)).round() as i64
    };
    let dispatched = n;
    let signed = share(dispatched, 0.97, rng);
    let completed = share(dispatched, 0.92, rng);
    let on_time = share(completed, 0.95, rng);
    let due = share(completed, 0.96, rng);
    let called = share(due, 0.93, rng);
    let satisfied = share(called, 0.80, rng);
    let basically = share(called - satisfied, 0.6, rng);
    let dissatisfied = called - satisfied - basically;
    [
        n,
        0,
        dispatched,
        signed,
        completed,
        on_time,
        due,
        called,
        called,
        satisfied,
        basically,
        dissatisfied,
        share(called, 0.88, rng),
        share(dispatched, 0.03, rng),
        share(dispatched, 0.04, rng),
        share(dispatched, 0.004, rng),
    ]
}

/// Writes the aggregate rows of `orders` orders over the last 365 days: 70% dispatched to the
/// units, the rest answered at once (即答) or not yet dispatched; the same orders spread over
/// the categories, regions and issues. Returns the rows written.
async fn write_aggregates(
    dir: &std::path::Path,
    units: &[i64],
    refs: &RefData,
    orders: u64,
) -> anyhow::Result<u64> {
    let url = format!("sqlite://{}?mode=rw", dir.join("jiesu.db").display());
    let db = Database::connect(&url).await.context("opening jiesu.db")?;
    let tenant: i64 = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT tenant_id FROM units WHERE id = {}", units[0]),
        ))
        .await?
        .context("the units' tenant")?
        .try_get("", "tenant_id")?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "DELETE FROM stat_daily WHERE tenant_id = $1",
        vec![tenant.into()],
    ))
    .await?;
    let mut rng = StdRng::seed_from_u64(20_261_130);
    let today = (Utc::now() + Days::hours(8)).date_naive();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).context("epoch")?;
    let per_day = orders as f64 / 365.0;
    let issues: Vec<String> = refs
        .category_prefixes
        .iter()
        .filter(|c| c.contains('.'))
        .flat_map(|c| refs.districts.iter().map(move |d| format!("{c}|{d}")))
        .collect();
    let mut written = 0u64;
    let mut total = 0u64;
    for back in 0..365 {
        let date = today - Days::days(back);
        let day = (date - epoch).num_days();
        // Weekends are quieter.
        let weekday = date.weekday().num_days_from_monday();
        let scale = if weekday >= 5 { 0.7 } else { 1.12 };
        let n_day = (per_day * scale * rng.gen_range(0.9..1.1)).round() as i64;
        let dispatched = (n_day as f64 * 0.7).round() as i64;
        let instant = (n_day - dispatched) * 3 / 4;
        let mut rows: BTreeMap<(&'static str, String), [i64; 16]> = BTreeMap::new();
        // By unit: the dispatched orders shared out (unevenly) over the units.
        let weights: Vec<f64> = units.iter().map(|_| rng.gen_range(0.2..1.8)).collect();
        let sum: f64 = weights.iter().sum();
        for (u, w) in units.iter().zip(&weights) {
            let n = (dispatched as f64 * w / sum).round() as i64;
            if n > 0 {
                rows.insert(("u", u.to_string()), lifecycle(n, &mut rng));
            }
        }
        let mut rest = [0i64; 16];
        rest[0] = n_day - dispatched;
        rest[1] = instant;
        rows.insert(("u", "0".into()), rest);
        // The same orders by category, region and issue.
        for (dim, keys) in [
            ("c", &refs.leaf_categories),
            ("r", &refs.places.iter().map(|p| p.code.clone()).collect()),
            ("i", &issues),
        ] {
            if keys.is_empty() {
                continue;
            }
            let weights: Vec<f64> = keys.iter().map(|_| rng.gen_range(0.1..1.9)).collect();
            let sum: f64 = weights.iter().sum();
            for (k, w) in keys.iter().zip(&weights) {
                let n = (n_day as f64 * w / sum).round() as i64;
                if n > 0 {
                    let d = (n as f64 * 0.7).round() as i64;
                    let mut c = lifecycle(d, &mut rng);
                    c[0] = n;
                    c[1] = (n - d) * 3 / 4;
                    rows.insert((dim, k.clone()), c);
                }
            }
        }
        total += n_day as u64;
        written += insert_rows(&db, tenant, day, rows).await?;
    }
    db.close().await?;
    eprintln!(
        "[rates] {} aggregate rows for {} orders",
        thousands(written),
        thousands(total)
    );
    Ok(written)
}

async fn insert_rows(
    db: &sea_orm::DatabaseConnection,
    tenant: i64,
    day: i64,
    rows: BTreeMap<(&'static str, String), [i64; 16]>,
) -> anyhow::Result<u64> {
    let txn = db.begin().await?;
    let rows: Vec<_> = rows.into_iter().collect();
    for chunk in rows.chunks(200) {
        let columns: Vec<&str> = Measure::ALL.iter().map(|m| m.as_str()).collect();
        let mut sql = format!(
            "INSERT INTO stat_daily (tenant_id, dim, day, key, {}) VALUES ",
            columns.join(", ")
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 20);
        for (i, ((dim, key), counts)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let base = values.len();
            let marks: Vec<String> = (1..=20).map(|j| format!("${}", base + j)).collect();
            sql.push_str(&format!("({})", marks.join(", ")));
            values.extend([tenant.into(), (*dim).into(), day.into(), key.clone().into()]);
            values.extend(counts.iter().map(|c| Value::from(*c)));
        }
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(rows.len() as u64)
}

async fn measure(
    base: &str,
    args: &RatesArgs,
    rows: u64,
    load_seconds: f64,
) -> anyhow::Result<RatesReport> {
    let leader = client::login(base, "leader").await?;
    let today = (Utc::now() + Days::hours(8)).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    // The last full month: what a monthly evaluation reads (this month may be a day old).
    let last_end = first - Days::days(1);
    let last_first = last_end.with_day(1).unwrap_or(last_end);
    let year = today - Days::days(364);
    let units: Items<UnitRow> = get_json(&leader, base, "/api/units").await?;
    let one = units
        .items
        .iter()
        .find(|u| u.kind == "department")
        .map(|u| u.id)
        .context("a department")?;
    let month = format!("from={last_first}&to={last_end}");
    let so_far = format!("from={first}&to={today}");
    let whole = format!("from={year}&to={today}");
    let requests: Vec<(&str, String)> = vec![
        (
            "last month: rates, whole centre",
            format!("/api/stats/rates?{month}"),
        ),
        (
            "last month: ranking of departments",
            format!("/api/stats/ranking?{month}&kind=department"),
        ),
        (
            "last month: ranking of towns",
            format!("/api/stats/ranking?{month}&kind=town"),
        ),
        (
            "last month: rates, one unit",
            format!("/api/stats/rates?{month}&unit={one}"),
        ),
        (
            "this month so far: rates",
            format!("/api/stats/rates?{so_far}"),
        ),
        (
            "year: rates, whole centre",
            format!("/api/stats/rates?{whole}"),
        ),
        (
            "year: ranking of departments",
            format!("/api/stats/ranking?{whole}&kind=department"),
        ),
        ("cockpit", "/api/cockpit".to_string()),
    ];
    let mut figures = Vec::new();
    let mut month_total = Latencies::new();
    let mut month_parts: Vec<Vec<Duration>> = vec![Vec::new(); 3];
    for (i, (name, path)) in requests.iter().enumerate() {
        // One unmeasured request: caches of the organisation and the formulas.
        get_json::<serde_json::Value>(&leader, base, path).await?;
        let mut lat = Latencies::new();
        for _ in 0..args.repeat {
            let t = Instant::now();
            let body: serde_json::Value = get_json(&leader, base, path).await?;
            let d = t.elapsed();
            anyhow::ensure!(body.is_object(), "{path}: not an object");
            lat.record(d);
            if i < 3 {
                month_parts[i].push(d);
            }
        }
        figures.push(Figure {
            name: name.to_string(),
            request: path.clone(),
            latency: lat.summary(),
        });
    }
    for k in 0..args.repeat {
        month_total.record(month_parts.iter().map(|p| p[k]).sum());
    }
    // The figures are real: the year's accepted count is the orders written.
    let year_rates: serde_json::Value =
        get_json(&leader, base, &format!("/api/stats/rates?{whole}")).await?;
    let accepted = year_rates["counts"]["accepted"].as_u64().unwrap_or(0);
    let month_p99_ms = month_total.summary().p99_ms;
    let cockpit_p99_ms = figures.last().map_or(0.0, |f| f.latency.p99_ms);
    Ok(RatesReport {
        scenario: "rates",
        units: args.units,
        orders: accepted,
        aggregate_rows: rows,
        load_seconds,
        figures,
        month_p99_ms,
        cockpit_p99_ms,
        month_met: month_p99_ms < TARGET_MONTH_MS,
        cockpit_met: cockpit_p99_ms < TARGET_COCKPIT_MS,
    })
}
