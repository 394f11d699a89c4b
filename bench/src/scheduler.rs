//! `scheduler`: the deadline scheduler over the `list` data directory (the demo plus
//! 1,000,000 open orders, accepted over the last twelve months and waiting for dispatch, so
//! each has a dispatch deadline and its reminders on the `next_alert_at` index).
//!
//! Three passes of `jiesu scheduler`, each timed by the binary itself (opening the database
//! excluded):
//! * **scan, nothing due**: a pass as of 2000-01-01, the steady state between deadlines.
//!   Target: **< 1 s** over the 1,000,000 open orders.
//! * **scan, all due**: `--dry-run` as of now walks every due entry of the index (all the
//!   old orders are overdue) and counts them, sending nothing.
//! * **alerts**: a pass as of now with `--budget` orders, each getting its reminders and
//!   overdue mark as order events with notices: alerts per second. This changes those orders
//!   (the list scenario's figures do not depend on it).

use crate::Common;
use crate::list::{ListArgs, LoadPath, prepare};
use crate::server::run_jiesu;
use crate::stats::{thousands, verdict};
use anyhow::Context;
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct SchedulerArgs {
    /// Open orders in the data directory (loaded first when not there, as `list` does).
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: u64,
    /// Orders the alert pass handles.
    #[arg(long, default_value_t = 2_000)]
    pub budget: u64,
}

#[derive(Debug, Serialize)]
pub struct SchedulerReport {
    pub scenario: &'static str,
    pub orders_in_directory: u64,
    pub idle_scan_ms: f64,
    pub idle_scan_due: u64,
    pub full_scan_ms: f64,
    pub full_scan_due: u64,
    pub alert_pass_ms: f64,
    pub alerted: u64,
    pub alerts_per_second: f64,
    pub target_scan_ms: f64,
    pub met: bool,
}

impl SchedulerReport {
    pub fn print(&self) {
        println!(
            "scheduler — `jiesu scheduler` over {} open orders",
            thousands(self.orders_in_directory)
        );
        println!(
            "  idle scan   {:.1} ms, {} due   (target < {:.0} ms: {})",
            self.idle_scan_ms,
            thousands(self.idle_scan_due),
            self.target_scan_ms,
            verdict(self.met)
        );
        println!(
            "  full scan   {:.1} ms to find {} due orders (dry run)",
            self.full_scan_ms,
            thousands(self.full_scan_due)
        );
        println!(
            "  alerts      {} orders alerted in {:.0} ms = {:.0} orders/s",
            thousands(self.alerted),
            self.alert_pass_ms,
            self.alerts_per_second
        );
    }
}

/// `… N orders due, M alerted, in X ms` or `… N orders due, in X ms (…)`.
fn parse(out: &str) -> anyhow::Result<(u64, Option<u64>, f64)> {
    let line = out
        .lines()
        .find(|l| l.starts_with("scheduler "))
        .with_context(|| format!("unexpected `jiesu scheduler` output: {out}"))?;
    let number_before = |word: &str| -> Option<f64> {
        let i = line.find(word)?;
        line[..i].split_whitespace().last()?.parse().ok()
    };
    let due = number_before(" orders due").context("no due count")? as u64;
    let alerted = number_before(" alerted").map(|n| n as u64);
    let ms = number_before(" ms").context("no time")?;
    Ok((due, alerted, ms))
}

pub async fn run(common: &Common, args: &SchedulerArgs) -> anyhow::Result<SchedulerReport> {
    let list_args = ListArgs {
        orders: args.orders,
        load: LoadPath::Import,
        mix: crate::list::Mix {
            clients: 1,
            requests: 1,
            warmup_requests: 0,
            filters: Vec::new(),
            pages: 1,
        },
        data_dir: None,
    };
    let (dir, marker, _) = prepare(common, &list_args).await?;
    let dir_s = dir
        .to_str()
        .context("the data directory path is not UTF-8")?;
    let scheduler = |extra: &'static [&'static str]| {
        let mut a = vec!["scheduler", "--data-dir", dir_s];
        a.extend_from_slice(extra);
        a
    };
    eprintln!("[scheduler] idle scan");
    let out = run_jiesu(&common.jiesu, &scheduler(&["--at", "2000-01-01T00:00:00Z"])).await?;
    let (idle_due, _, idle_ms) = parse(&out)?;
    eprintln!("[scheduler] full scan (dry run)");
    let out = run_jiesu(&common.jiesu, &scheduler(&["--dry-run"])).await?;
    let (full_due, _, full_ms) = parse(&out)?;
    eprintln!("[scheduler] alert pass of {} orders", args.budget);
    let budget = args.budget.to_string();
    let mut a = scheduler(&[]);
    a.extend_from_slice(&["--budget", &budget]);
    let out = run_jiesu(&common.jiesu, &a).await?;
    let (_, alerted, alert_ms) = parse(&out)?;
    let alerted = alerted.context("no alerted count")?;
    Ok(SchedulerReport {
        scenario: "scheduler",
        orders_in_directory: marker.orders,
        idle_scan_ms: idle_ms,
        idle_scan_due: idle_due,
        full_scan_ms: full_ms,
        full_scan_due: full_due,
        alert_pass_ms: alert_ms,
        alerted,
        alerts_per_second: alerted as f64 / (alert_ms / 1000.0).max(1e-9),
        target_scan_ms: 1000.0,
        met: idle_ms < 1000.0,
    })
}
