//! `jiesu-bench pg-create`: durable order creation over HTTP on PostgreSQL with several nodes
//! (issue 9: ≥ 2,500 orders/s with 2 nodes), and pgbench's TPC-B figure on the same server in
//! the same run, as the machine's ceiling.
//!
//! A fresh database is made on the server of `--database-url` (`jiesu_bench_<pid>`), filled
//! with the demo (`jiesu demo --no-serve --database-url …`), and served by `--nodes` `jiesu
//! serve` processes, each with a data directory (search index) of its own. The clients are
//! spread over the nodes, as a load balancer would. Then pgbench initialises a scratch
//! database (scale 10) and runs TPC-B with as many clients for as long. Both databases are
//! dropped at the end.

use crate::client::{self, RefData};
use crate::create::{Load, body_pool, ensure_demo_with, login_many};
use crate::server::{CpuMark, Server};
use crate::stats::{LatencySummary, thousands, verdict};
use crate::{Common, DataDir};
use anyhow::{Context, bail};
use serde::Serialize;
use std::time::Duration;

pub const TARGET_ORDERS_PER_SEC: f64 = 2500.0;

#[derive(clap::Args, Debug, Clone)]
pub struct PgCreateArgs {
    /// A PostgreSQL database on the server to use; the benchmark makes and drops its own
    /// databases next to it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub database_url: String,
    /// `jiesu serve` processes on the one database.
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Concurrent clients in all, spread over the nodes.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Database connections per node (default: the server's own, `max_connections` = 4,
    /// which gives each node two writers; 16 gives four, whose transactions queue on the day
    /// counter's row: 281–382 vs 395–523 orders/s on 2026-12-03).
    #[arg(long, default_value_t = 4)]
    pub max_connections: u32,
    /// Skip the pgbench run.
    #[arg(long)]
    pub no_pgbench: bool,
}

#[derive(Debug, Serialize)]
pub struct PgCreateReport {
    pub scenario: &'static str,
    pub nodes: usize,
    pub clients: usize,
    pub duration_seconds: f64,
    pub orders: u64,
    pub orders_per_sec: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: LatencySummary,
    /// Each node's CPU, percent of one core.
    pub node_cpu_percent: Vec<f64>,
    pub machine_busy_percent: f64,
    /// pgbench TPC-B transactions per second on the same server, same clients and duration.
    pub pgbench_tps: Option<f64>,
    /// orders/s ÷ pgbench tps.
    pub ratio_to_pgbench: Option<f64>,
    pub target_orders_per_sec: f64,
    pub throughput_met: bool,
}

impl PgCreateReport {
    pub fn print(&self) {
        println!(
            "pg-create — POST /api/orders on PostgreSQL, {} nodes, {} clients, {:.0} s measured",
            self.nodes, self.clients, self.duration_seconds
        );
        println!(
            "  throughput  {} orders, {:.0} orders/s   (target ≥ {:.0}/s: {})",
            thousands(self.orders),
            self.orders_per_sec,
            self.target_orders_per_sec,
            verdict(self.throughput_met)
        );
        println!("  latency     {}", self.latency.line());
        if self.errors > 0 {
            println!(
                "  errors      {}  first: {}",
                thousands(self.errors),
                self.first_error.as_deref().unwrap_or("-")
            );
        }
        let cpu: Vec<String> = self
            .node_cpu_percent
            .iter()
            .map(|p| format!("{p:.0}%"))
            .collect();
        println!(
            "  cpu         nodes {} of a core; machine {:.0}% busy (PostgreSQL included)",
            cpu.join(", "),
            self.machine_busy_percent
        );
        match (self.pgbench_tps, self.ratio_to_pgbench) {
            (Some(tps), Some(r)) => println!(
                "  pgbench     TPC-B {tps:.0} tps on the same server: orders/s are {r:.2}× that"
            ),
            _ => println!("  pgbench     not run"),
        }
    }
}

/// `postgres://…/NAME` with the database name replaced.
pub(crate) fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (head, tail) = url
        .rsplit_once('/')
        .context("--database-url must end in /DATABASE")?;
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}"));
    Ok(format!("{head}/{name}{}", query.unwrap_or_default()))
}

pub(crate) async fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    psql_value(url, sql).await.map(|_| ())
}

/// Runs `sql` with psql and returns what it printed, unaligned and trimmed (one value for a
/// one-value query).
pub(crate) async fn psql_value(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = tokio::process::Command::new("psql")
        .args([
            "--quiet",
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "-v",
            "ON_ERROR_STOP=1",
            "--dbname",
            url,
            "-c",
            sql,
        ])
        .output()
        .await
        .context("cannot run psql (install the PostgreSQL client tools)")?;
    if !out.status.success() {
        bail!(
            "psql `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// pgbench TPC-B on a scratch database: initialise at scale 10, run `clients` for `seconds`.
async fn pgbench(admin: &str, clients: usize, seconds: f64) -> anyhow::Result<f64> {
    let name = format!("jiesu_pgbench_{}", std::process::id());
    psql(admin, &format!("CREATE DATABASE {name}")).await?;
    let url = with_database(admin, &name)?;
    let run = async {
        let init = tokio::process::Command::new("pgbench")
            .args(["-i", "-s", "10", "-q", &url])
            .output()
            .await
            .context("cannot run pgbench")?;
        if !init.status.success() {
            bail!(
                "pgbench -i: {}",
                String::from_utf8_lossy(&init.stderr).trim()
            );
        }
        let out = tokio::process::Command::new("pgbench")
            .args([
                "-c",
                &clients.to_string(),
                "-j",
                "2",
                "-T",
                &format!("{}", seconds.ceil() as u64),
                &url,
            ])
            .output()
            .await?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!("pgbench: {}{}", text, String::from_utf8_lossy(&out.stderr));
        }
        text.lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .with_context(|| format!("no tps in pgbench's output:\n{text}"))
    }
    .await;
    psql(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await?;
    run
}

pub async fn run(common: &Common, args: &PgCreateArgs) -> anyhow::Result<PgCreateReport> {
    anyhow::ensure!(args.nodes >= 1, "--nodes must be at least 1");
    anyhow::ensure!(
        args.clients >= args.nodes,
        "--clients must be at least --nodes"
    );
    let name = format!("jiesu_bench_{}", std::process::id());
    psql(&args.database_url, &format!("CREATE DATABASE {name}")).await?;
    let url = with_database(&args.database_url, &name)?;
    let result = run_on(common, args, &url).await;
    let dropped = psql(
        &args.database_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    let mut report = result?;
    dropped?;
    if !args.no_pgbench {
        eprintln!("[pg-create] pgbench TPC-B, {} clients", args.clients);
        let tps = pgbench(&args.database_url, args.clients, args.duration).await?;
        report.pgbench_tps = Some(tps);
        report.ratio_to_pgbench = Some(report.orders_per_sec / tps);
    }
    Ok(report)
}

async fn run_on(common: &Common, args: &PgCreateArgs, url: &str) -> anyhow::Result<PgCreateReport> {
    let root = common.work_root();
    let seed_dir = DataDir::fresh(&root, "pg-create-demo-", false)?;
    eprintln!("[pg-create] building the demo on PostgreSQL");
    let built = ensure_demo_with(&common.jiesu, seed_dir.path(), &["--database-url", url]).await?;
    eprintln!(
        "[pg-create] demo ready ({built:.1} s); starting {} nodes",
        args.nodes
    );
    // Every node seals and unseals citizens' personal data with the demo's key file.
    let keys = seed_dir.path().join("keys").join("pii.json");
    let env = vec![
        ("JIESU_DATABASE_URL", url.to_string()),
        ("JIESU_MAX_CONNECTIONS", args.max_connections.to_string()),
        ("JIESU_PII_KEY_FILE", keys.display().to_string()),
    ];
    let mut dirs = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..args.nodes {
        let d = DataDir::fresh(&root, "pg-create-node-", false)?;
        servers.push(Server::start_with_env(&common.jiesu, d.path(), &env).await?);
        dirs.push(d);
    }
    for s in &servers {
        let settled = s.settle(Duration::from_secs(180)).await?;
        eprintln!("[pg-create] node {} idle after {settled:.0} s", s.base);
    }
    let result = measure(args, &servers).await;
    if result.is_err() {
        for s in &servers {
            eprintln!("[pg-create] {} log tail:\n{}", s.base, s.log_tail());
        }
    }
    for s in servers {
        s.stop().await?;
    }
    for d in dirs {
        d.finish()?;
    }
    seed_dir.finish()?;
    result
}

async fn measure(args: &PgCreateArgs, servers: &[Server]) -> anyhow::Result<PgCreateReport> {
    let first = &servers[0].base;
    let agent = client::login(first, "agent").await?;
    let refs = RefData::fetch(&agent, first).await?;
    let bodies = body_pool(&refs, 4096, 20261201)?;
    let mut clients = Vec::new();
    for k in 0..args.clients {
        let base = servers[k % servers.len()].base.clone();
        let c = login_many(&base, "agent", 1).await?;
        clients.extend(c.into_iter().map(|c| (c, base.clone())));
    }
    let load = Load::start(clients, bodies, args.warmup, args.duration).await;
    eprintln!(
        "[pg-create] warming up {:.0} s, then measuring {:.0} s",
        args.warmup, args.duration
    );
    tokio::time::sleep_until(load.t0.into()).await;
    let marks = servers
        .iter()
        .map(CpuMark::take)
        .collect::<anyhow::Result<Vec<_>>>()?;
    tokio::time::sleep_until(load.t1.into()).await;
    let mut node_cpu_percent = Vec::new();
    let mut machine_busy_percent = 0.0;
    for (m, s) in marks.iter().zip(servers) {
        let u = m.since(s)?;
        node_cpu_percent.push(u.server_percent);
        machine_busy_percent = u.machine_busy_percent;
    }
    let total = load.finish().await?;
    let orders = total.ok_in_window;
    let orders_per_sec = orders as f64 / args.duration;
    Ok(PgCreateReport {
        scenario: "pg-create",
        nodes: servers.len(),
        clients: args.clients,
        duration_seconds: args.duration,
        orders,
        orders_per_sec,
        errors: total.errors,
        first_error: total.first_error,
        latency: total.latencies.summary(),
        node_cpu_percent,
        machine_busy_percent,
        pgbench_tps: None,
        ratio_to_pgbench: None,
        target_orders_per_sec: TARGET_ORDERS_PER_SEC,
        throughput_met: orders_per_sec >= TARGET_ORDERS_PER_SEC,
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x").unwrap(),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x").unwrap(),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
