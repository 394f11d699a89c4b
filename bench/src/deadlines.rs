//! `deadlines`: deadline computations per second on one core: `Calendar::due` for varied
//! starts (2025–2026, any minute) and limits (working days, working hours, clock hours), as
//! the state machine computes them when a stage starts. Target: ≥ 1,000,000/s.

use crate::stats::{thousands, verdict};
use chrono::{DateTime, Duration, Utc};
use jiesu_core::calendar::{Calendar, TimeLimit};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct DeadlineArgs {
    /// Computations to time.
    #[arg(long, default_value_t = 5_000_000)]
    pub count: usize,
}

#[derive(Debug, Serialize)]
pub struct DeadlineReport {
    pub scenario: &'static str,
    pub computations: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub explanations_per_second: f64,
    pub target_per_second: f64,
    pub met: bool,
}

impl DeadlineReport {
    pub fn print(&self) {
        println!(
            "deadlines — Calendar::due on one core, {} computations",
            thousands(self.computations as u64)
        );
        println!(
            "  throughput  {:.0} deadlines/s   (target ≥ {:.0}/s: {})",
            self.per_second,
            self.target_per_second,
            verdict(self.met)
        );
        println!(
            "  explained   {:.0} deadlines/s with their explanation text",
            self.explanations_per_second
        );
    }
}

pub fn run(args: &DeadlineArgs) -> anyhow::Result<DeadlineReport> {
    let calendar = Calendar::official();
    let base = DateTime::parse_from_rfc3339("2025-01-01T00:00:00+08:00")?.with_timezone(&Utc);
    let mut rng = StdRng::seed_from_u64(20261124);
    // Inputs drawn beforehand, so that only the computation is timed; starts leave room
    // for the longest limit before the table ends.
    let inputs: Vec<(DateTime<Utc>, TimeLimit)> = (0..args.count.max(1))
        .map(|_| {
            let start = base + Duration::minutes(rng.gen_range(0..(700 * 24 * 60)));
            let limit = match rng.gen_range(0..10) {
                0..=5 => TimeLimit::WorkingDays(rng.gen_range(1..=5)),
                6..=8 => TimeLimit::WorkingHours(rng.gen_range(1..=16)),
                _ => TimeLimit::ClockHours(rng.gen_range(1..=48)),
            };
            (start, limit)
        })
        .collect();
    let started = Instant::now();
    let mut checksum = 0i64;
    for (start, limit) in &inputs {
        checksum ^= calendar.due(*start, *limit)?.timestamp();
    }
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    let sample = &inputs[..inputs.len().min(100_000)];
    let started = Instant::now();
    let mut chars = 0usize;
    for (start, limit) in sample {
        chars += calendar.explain(*start, *limit)?.text.len();
    }
    let explained = sample.len() as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(chars);
    let per_second = inputs.len() as f64 / seconds;
    Ok(DeadlineReport {
        scenario: "deadlines",
        computations: inputs.len(),
        seconds,
        per_second,
        explanations_per_second: explained,
        target_per_second: 1_000_000.0,
        met: per_second >= 1_000_000.0,
    })
}
