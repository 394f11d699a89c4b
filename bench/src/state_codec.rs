//! `state-codec`: how the order states of a data directory pack (what SQLite stores) and what
//! packing and unpacking cost on one core; with `--train FILE`, a new dictionary trained on
//! those states (half of them, measured on the other half, then written trained on all).
//! No server: the database is opened read-only.

use crate::stats::thousands;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct StateCodecArgs {
    /// A data directory (e.g. the demo's, `data/demo`) whose orders are read.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Train a new dictionary on the states and write it here.
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Size of a trained dictionary, in bytes.
    #[arg(long, default_value_t = 32 * 1024)]
    pub dict_bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct StateCodecReport {
    pub scenario: &'static str,
    pub states: usize,
    /// Mean bytes of an order's JSON (sealed, as stored before packing).
    pub json_bytes: f64,
    /// Mean bytes packed with the shipped dictionary.
    pub packed_bytes: f64,
    /// Mean bytes with zstd at the same level without a dictionary.
    pub plain_zstd_bytes: f64,
    pub pack_us: f64,
    pub unpack_us: f64,
    /// A dictionary trained on half of the states: mean bytes of the other half.
    pub trained_bytes: Option<f64>,
}

impl StateCodecReport {
    pub fn print(&self) {
        println!(
            "state-codec — {} order states, one core",
            thousands(self.states as u64)
        );
        let ratio = |b: f64| self.json_bytes / b.max(1.0);
        println!(
            "  JSON {:.0} bytes; packed {:.0} ({:.2}×); zstd without a dictionary {:.0} ({:.2}×)",
            self.json_bytes,
            self.packed_bytes,
            ratio(self.packed_bytes),
            self.plain_zstd_bytes,
            ratio(self.plain_zstd_bytes)
        );
        println!(
            "  pack {:.1} µs, unpack {:.1} µs a state",
            self.pack_us, self.unpack_us
        );
        if let Some(t) = self.trained_bytes {
            println!(
                "  a dictionary trained on the other half: {t:.0} bytes ({:.2}×)",
                ratio(t)
            );
        }
    }
}

pub async fn run(args: &StateCodecArgs) -> anyhow::Result<StateCodecReport> {
    let db = args.data_dir.join("jiesu.db");
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    let conn = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", db.display())).await?;
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT state FROM orders ORDER BY id",
        ))
        .await?;
    let mut states = Vec::with_capacity(rows.len());
    for r in &rows {
        states.push(jiesu_store::packed::unpack(
            r.try_get::<Vec<u8>>("", "state")?,
        )?);
    }
    anyhow::ensure!(
        states.len() >= 100,
        "too few orders to measure: {}",
        states.len()
    );
    let n = states.len();
    let mean = |total: usize| total as f64 / n as f64;

    let started = Instant::now();
    let mut packed = Vec::with_capacity(n);
    for s in &states {
        packed.push(jiesu_store::packed::pack(s)?);
    }
    let pack = started.elapsed();
    let started = Instant::now();
    for (p, s) in packed.iter().zip(&states) {
        anyhow::ensure!(
            jiesu_store::packed::unpack(p.clone())? == *s,
            "a state unpacks to what was packed"
        );
    }
    let unpack = started.elapsed();
    let mut plain = zstd::bulk::Compressor::new(zstd::DEFAULT_COMPRESSION_LEVEL)?;
    let mut plain_bytes = 0;
    for s in &states {
        plain_bytes += plain.compress(s.as_bytes())?.len();
    }

    let trained_bytes = match &args.train {
        None => None,
        Some(out) => {
            let (even, odd): (Vec<_>, Vec<_>) =
                states.iter().enumerate().partition(|(i, _)| i % 2 == 0);
            let even: Vec<&[u8]> = even.iter().map(|(_, s)| s.as_bytes()).collect();
            let dict = zstd::dict::from_samples(&even, args.dict_bytes)?;
            let mut c =
                zstd::bulk::Compressor::with_dictionary(zstd::DEFAULT_COMPRESSION_LEVEL, &dict)?;
            let mut bytes = 0;
            for (_, s) in &odd {
                bytes += c.compress(s.as_bytes())?.len();
            }
            let all: Vec<&[u8]> = states.iter().map(|s| s.as_bytes()).collect();
            std::fs::write(out, zstd::dict::from_samples(&all, args.dict_bytes)?)?;
            Some(bytes as f64 / odd.len().max(1) as f64)
        }
    };
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6 / n as f64;
    Ok(StateCodecReport {
        scenario: "state-codec",
        states: n,
        json_bytes: mean(states.iter().map(String::len).sum()),
        packed_bytes: mean(packed.iter().map(Vec::len).sum()),
        plain_zstd_bytes: mean(plain_bytes),
        pack_us: us(pack),
        // With the copy and the comparison of each check (about a microsecond).
        unpack_us: us(unpack),
        trained_bytes,
    })
}
