//! The server under test: the real `jiesu` binary run as a child process, and what Linux tells
//! about it (`/proc/<pid>/status` for memory, `/proc/<pid>/stat` for CPU time).

use anyhow::{Context, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Runs `jiesu <args>` to completion, returning its stdout; fails with its output on error.
pub async fn run_jiesu(jiesu: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(jiesu)
        .args(args)
        .env("JIESU_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", jiesu.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "`{} {}` failed ({}):\n{}{}",
            jiesu.display(),
            args.join(" "),
            out.status,
            tail(&stdout, 2000),
            tail(&String::from_utf8_lossy(&out.stderr), 4000)
        );
    }
    Ok(stdout)
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// A free TCP port on the loopback interface (bound once and released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a local port")?;
    Ok(l.local_addr()?.port())
}

/// A running `jiesu serve`.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `jiesu serve` on a free port and waits until `GET /api/health` answers.
    pub async fn start(jiesu: &Path, data_dir: &Path) -> anyhow::Result<Server> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let log = data_dir.join("bench-server.log");
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(jiesu)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(&listen)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", jiesu.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Server {
            child,
            pid,
            base: format!("http://{listen}"),
            log,
        };
        server.wait_healthy(Duration::from_secs(120)).await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self, limit: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/api/health", self.base);
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server exited during start-up ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if start.elapsed() > limit {
                bail!(
                    "the server did not become healthy within {limit:?}; its log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log)
            .map(|s| tail(&s, 4000).to_string())
            .unwrap_or_default()
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        Memory::of(self.pid)
    }

    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(&format!("/proc/{}/stat", self.pid))
    }

    /// SIGTERM (graceful: the writer drains and commits), then SIGKILL after 30 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(r) => {
                r?;
            }
            Err(_) => {
                eprintln!("the server did not stop within 30 s of SIGTERM; killing it");
                self.child.kill().await?;
            }
        }
        Ok(())
    }
}

/// Resident memory of a process, in bytes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_bytes: u64,
    /// VmHWM: the peak resident size over the process's life.
    pub peak_rss_bytes: u64,
}

impl Memory {
    pub fn of(pid: u32) -> anyhow::Result<Memory> {
        let path = format!("/proc/{pid}/status");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = text
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("{path} has no {name}"))?;
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("unreadable line in {path}: {line}"))?;
            Ok(kib * 1024)
        };
        Ok(Memory {
            rss_bytes: field("VmRSS:")?,
            peak_rss_bytes: field("VmHWM:")?,
        })
    }
}

/// Clock ticks per second for `/proc/*/stat` (USER_HZ); 100 on every mainstream Linux.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU seconds of a process (all its threads) from a `/proc/…/stat` file.
pub fn cpu_seconds(stat_path: &str) -> anyhow::Result<f64> {
    let text =
        std::fs::read_to_string(stat_path).with_context(|| format!("reading {stat_path}"))?;
    // The command name may hold spaces; the fields we want follow its closing parenthesis.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("unreadable {stat_path}"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of the full line, so utime (14) and stime (15) are at 11, 12.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("unreadable {stat_path}"))
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

/// Busy and total jiffies of the whole machine (first line of `/proc/stat`).
pub fn machine_jiffies() -> anyhow::Result<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = text.lines().next().context("empty /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok((total.saturating_sub(idle), total))
}

/// CPU use over a measured window: the server, this benchmark, and the machine.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuUse {
    pub cores: usize,
    /// Percent of one core (200 = two cores fully busy).
    pub server_percent: f64,
    pub bench_percent: f64,
    /// Percent of the whole machine that was busy (all processes).
    pub machine_busy_percent: f64,
}

/// Samples taken at the start of a window, to compare with the end.
pub struct CpuMark {
    server: f64,
    bench: f64,
    machine: (u64, u64),
    at: Instant,
}

impl CpuMark {
    pub fn take(server: &Server) -> anyhow::Result<CpuMark> {
        Ok(CpuMark {
            server: server.cpu_seconds()?,
            bench: cpu_seconds("/proc/self/stat")?,
            machine: machine_jiffies()?,
            at: Instant::now(),
        })
    }

    pub fn since(&self, server: &Server) -> anyhow::Result<CpuUse> {
        let secs = self.at.elapsed().as_secs_f64().max(1e-9);
        let (busy, total) = machine_jiffies()?;
        let d_total = total.saturating_sub(self.machine.1).max(1) as f64;
        let d_busy = busy.saturating_sub(self.machine.0) as f64;
        Ok(CpuUse {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            server_percent: 100.0 * (server.cpu_seconds()? - self.server) / secs,
            bench_percent: 100.0 * (cpu_seconds("/proc/self/stat")? - self.bench) / secs,
            machine_busy_percent: 100.0 * d_busy / d_total,
        })
    }
}

/// Counts the server's fsync/fdatasync calls with `perf stat` tracepoints (near-zero
/// overhead), where perf is installed and allowed; `None` otherwise.
pub struct SyncCounter {
    child: Child,
    out: PathBuf,
}

impl SyncCounter {
    pub async fn start(pid: u32, scratch: &Path) -> Option<SyncCounter> {
        let out = scratch.join("bench-perf.txt");
        let child = Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
                "-o",
            ])
            .arg(&out)
            .arg("-p")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let mut c = SyncCounter { child, out };
        // perf needs a moment to attach; if it fails (no permission, no tracepoints) it exits.
        tokio::time::sleep(Duration::from_millis(300)).await;
        match c.child.try_wait() {
            Ok(None) => Some(c),
            _ => None,
        }
    }

    /// Stops perf (SIGINT makes it print its counts) and returns the number of sync calls.
    pub async fn finish(mut self) -> Option<u64> {
        let pid = self.child.id()?;
        let _ = std::process::Command::new("kill")
            .arg("-INT")
            .arg(pid.to_string())
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let text = std::fs::read_to_string(&self.out).ok()?;
        let _ = std::fs::remove_file(&self.out);
        let mut total = 0u64;
        let mut seen = false;
        for line in text.lines() {
            if line.contains("sys_enter_fsync") || line.contains("sys_enter_fdatasync") {
                let n = line.split(',').next()?.trim();
                total += n.parse::<u64>().ok()?;
                seen = true;
            }
        }
        seen.then_some(total)
    }
}
