//! `sqlite-calls`: what one SQLite statement costs through each way of reaching it — sea-orm on
//! a sqlx pool (how `jiesu-store` read until session 49), sqlx on a connection held, rusqlite
//! on the calling thread (how it reads now), and rusqlite behind one `spawn_blocking` hop. sqlx
//! runs each SQLite connection on a thread of its own: a statement is a message to that thread
//! and its rows a message back. The figures say how much of a statement's cost is the way there
//! rather than SQLite's own work (a point read by key, and a 20-row range read of ~1 KB rows).
//! No server.

use anyhow::Context;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct SqliteCallsArgs {
    /// Point reads per way (range reads: a quarter as many).
    #[arg(long, default_value_t = 20_000)]
    pub reads: u64,
    /// Rows in the table read.
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
}

#[derive(Debug, Serialize)]
pub struct Way {
    pub way: &'static str,
    pub read: &'static str,
    /// Per statement: wall time, and CPU time of the whole process (every thread).
    pub wall_us: f64,
    pub cpu_us: f64,
}

#[derive(Debug, Serialize)]
pub struct SqliteCallsReport {
    pub scenario: &'static str,
    pub ways: Vec<Way>,
}

impl SqliteCallsReport {
    pub fn print(&self) {
        println!("sqlite-calls — one statement at a time, µs each (CPU: every thread)");
        for w in &self.ways {
            println!(
                "  {:38} {:6} wall {:7.1}  cpu {:7.1}",
                w.way, w.read, w.wall_us, w.cpu_us
            );
        }
        let cpu = |way: &str, read: &str| {
            self.ways
                .iter()
                .find(|w| w.way == way && w.read == read)
                .map_or(f64::NAN, |w| w.cpu_us)
        };
        for read in ["point", "range"] {
            println!(
                "  {read}: sea-orm on a pool costs {:.1}× the CPU of rusqlite on the calling thread",
                cpu(SEA_ORM, read) / cpu(RUSQLITE, read)
            );
        }
    }
}

const SEA_ORM: &str = "sea-orm on a sqlx pool (the store's way)";
const SQLX_HELD: &str = "sqlx, connection held";
const RUSQLITE: &str = "rusqlite, calling thread";
const RUSQLITE_HOP: &str = "rusqlite, one spawn_blocking hop";
const POINT: &str = "SELECT id, status, body FROM t WHERE id = ?";
const RANGE: &str =
    "SELECT id, status, body FROM t WHERE status = ? AND id > ? ORDER BY id LIMIT 20";

fn cpu_seconds() -> anyhow::Result<f64> {
    crate::server::cpu_seconds("/proc/self/stat")
}

struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> anyhow::Result<Clock> {
        Ok(Clock {
            wall: Instant::now(),
            cpu: cpu_seconds()?,
        })
    }
    fn way(self, way: &'static str, read: &'static str, n: u64) -> anyhow::Result<Way> {
        let per = |s: f64| s * 1e6 / n.max(1) as f64;
        Ok(Way {
            way,
            read,
            wall_us: per(self.wall.elapsed().as_secs_f64()),
            cpu_us: per(cpu_seconds()? - self.cpu),
        })
    }
}

pub async fn run(args: &SqliteCallsArgs) -> anyhow::Result<SqliteCallsReport> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("calls.db");
    let rows = args.rows.max(1) as i64;
    let key = move |i: u64| (i as i64 * 7919) % rows;
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL);
         CREATE INDEX t_status ON t (status, id);",
    )?;
    {
        let tx = conn.unchecked_transaction()?;
        let mut insert = tx.prepare("INSERT INTO t VALUES (?1, ?2, ?3)")?;
        let body = "小区楼下烧烤店油烟扰民，晚上十二点还在营业。".repeat(16);
        for i in 0..rows {
            insert.execute(rusqlite::params![
                i,
                ["handling", "replied", "closed", "pending"][(i % 4) as usize],
                body
            ])?;
        }
        drop(insert);
        tx.commit()?;
    }
    let conn = Arc::new(Mutex::new(conn));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(SqliteConnectOptions::new().filename(&path))
        .await?;
    let db = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.clone());
    let (n, ranges) = (args.reads.max(1), (args.reads / 4).max(1));
    let mut ways = Vec::new();
    let mut sum = 0i64;

    let clock = Clock::start()?;
    for i in 0..n {
        let r = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                POINT,
                [key(i).into()],
            ))
            .await?
            .context("no row")?;
        sum += r.try_get::<i64>("", "id")?;
    }
    ways.push(clock.way(SEA_ORM, "point", n)?);
    let clock = Clock::start()?;
    for i in 0..ranges {
        let rs = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                RANGE,
                ["replied".into(), key(i).into()],
            ))
            .await?;
        sum += rs.len() as i64;
    }
    ways.push(clock.way(SEA_ORM, "range", ranges)?);

    let mut held = pool.acquire().await?;
    let clock = Clock::start()?;
    for i in 0..n {
        let r = sqlx::query(POINT)
            .bind(key(i))
            .fetch_one(&mut *held)
            .await?;
        sum += r.try_get::<i64, _>(0)?;
    }
    ways.push(clock.way(SQLX_HELD, "point", n)?);
    let clock = Clock::start()?;
    for i in 0..ranges {
        let rs = sqlx::query(RANGE)
            .bind("replied")
            .bind(key(i))
            .fetch_all(&mut *held)
            .await?;
        sum += rs.len() as i64;
    }
    ways.push(clock.way(SQLX_HELD, "range", ranges)?);
    drop(held);

    let point = |c: &rusqlite::Connection, k: i64| -> rusqlite::Result<i64> {
        c.prepare_cached(POINT)?.query_row([k], |r| {
            let _: String = r.get(1)?;
            let _: String = r.get(2)?;
            r.get(0)
        })
    };
    let clock = Clock::start()?;
    {
        let c = conn.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for i in 0..n {
            sum += point(&c, key(i))?;
        }
    }
    ways.push(clock.way(RUSQLITE, "point", n)?);
    let clock = Clock::start()?;
    {
        let c = conn.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let mut st = c.prepare_cached(RANGE)?;
        for i in 0..ranges {
            let rs = st
                .query_map(rusqlite::params!["replied", key(i)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            sum += rs.len() as i64;
        }
    }
    ways.push(clock.way(RUSQLITE, "range", ranges)?);
    let clock = Clock::start()?;
    for i in 0..n {
        let conn = conn.clone();
        let k = key(i);
        sum += tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
            let c = conn.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            Ok(point(&c, k)?)
        })
        .await??;
    }
    ways.push(clock.way(RUSQLITE_HOP, "point", n)?);
    anyhow::ensure!(sum > 0, "nothing was read");
    Ok(SqliteCallsReport {
        scenario: "sqlite-calls",
        ways,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_way_reads_and_is_timed() {
        let r = run(&SqliteCallsArgs {
            reads: 200,
            rows: 1_000,
        })
        .await
        .unwrap();
        let ways: Vec<(&str, &str)> = r.ways.iter().map(|w| (w.way, w.read)).collect();
        assert_eq!(
            ways,
            [
                (SEA_ORM, "point"),
                (SEA_ORM, "range"),
                (SQLX_HELD, "point"),
                (SQLX_HELD, "range"),
                (RUSQLITE, "point"),
                (RUSQLITE, "range"),
                (RUSQLITE_HOP, "point"),
            ]
        );
        for w in &r.ways {
            assert!(w.wall_us > 0.0 && w.cpu_us >= 0.0, "{w:?}");
        }
    }
}
