//! The server under test: the real `jiesu` binary run as a child process, and what Linux tells
//! about it (`/proc/<pid>/status` for memory, `/proc/<pid>/stat` for CPU time).

use anyhow::{Context, bail};
use serde::Serialize;
use std::collections::BTreeMap;
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

/// `jiesu import FILE --format jsonl --as-user agent --data-dir DIR`: its stdout.
pub async fn import_jsonl(jiesu: &Path, dir: &str, file: &str) -> anyhow::Result<String> {
    run_jiesu(
        jiesu,
        &[
            "import",
            file,
            "--format",
            "jsonl",
            "--as-user",
            "agent",
            "--data-dir",
            dir,
        ],
    )
    .await
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
        Self::start_with_env(jiesu, data_dir, &[]).await
    }

    /// `start`, with extra environment variables for the server (its `JIESU_*` settings).
    pub async fn start_with_env(
        jiesu: &Path,
        data_dir: &Path,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let log = data_dir.join("bench-server.log");
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(jiesu)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
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

    /// The statements the server logged as slow (sqlx warns above 1 s), most frequent first.
    pub fn slow_statements(&self) -> Vec<SlowStatement> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        slow_statements(&text)
    }

    /// Orders the server's background scheduler alerted so far (its `scheduler pass` log lines).
    pub fn scheduler_alerted(&self) -> u64 {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("scheduler pass"))
            .filter_map(|l| {
                let rest = &l[l.find("alerted=")? + "alerted=".len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u64>().ok()
            })
            .sum()
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

    /// Bytes the server has caused to be written to storage (`write_bytes` of
    /// `/proc/<pid>/io`: the WAL, checkpoints into the database file, indexes, logs).
    pub fn disk_written(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/io", self.pid);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        text.lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no write_bytes in {path}"))
    }

    /// Waits until the server is idle (under 5% of a core for a second, at most `limit`):
    /// background work after its start (index catch-up and merges) is not measured. The
    /// seconds waited.
    pub async fn settle(&self, limit: Duration) -> anyhow::Result<f64> {
        let started = std::time::Instant::now();
        let mut before = self.cpu_seconds()?;
        while started.elapsed() < limit {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = self.cpu_seconds()?;
            if now - before < 0.05 {
                break;
            }
            before = now;
        }
        Ok(started.elapsed().as_secs_f64())
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
    /// RssAnon: the heap and stacks (page caches of SQLite, sort buffers…) within VmRSS.
    pub rss_anon_bytes: u64,
    /// RssFile: mapped files (the binary, shared libraries) within VmRSS.
    pub rss_file_bytes: u64,
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
            rss_anon_bytes: field("RssAnon:").unwrap_or(0),
            rss_file_bytes: field("RssFile:").unwrap_or(0),
        })
    }
}

/// Clock ticks per second for `/proc/*/stat` (USER_HZ); 100 on every mainstream Linux.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
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
    jiesu_text::pace::machine_jiffies().context("reading /proc/stat")
}

/// CPU use over a measured window: the server, this benchmark, and the machine.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub cores: usize,
    /// Percent of one core (200 = two cores fully busy).
    pub server_percent: f64,
    pub bench_percent: f64,
    /// Percent of the whole machine that was busy (all processes).
    pub machine_busy_percent: f64,
    /// The server's busiest threads (name, percent of one core).
    pub server_threads: Vec<ThreadUse>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadUse {
    pub name: String,
    pub percent: f64,
}

impl CpuUse {
    pub fn line(&self) -> String {
        let threads: Vec<String> = self
            .server_threads
            .iter()
            .take(4)
            .map(|t| format!("{} {:.0}%", t.name, t.percent))
            .collect();
        format!(
            "server {:.0}%, bench {:.0}% (of {} cores = {}%), machine busy {:.0}%\n              busiest server threads: {}",
            self.server_percent,
            self.bench_percent,
            self.cores,
            self.cores * 100,
            self.machine_busy_percent,
            threads.join(", ")
        )
    }
}

/// CPU seconds of each thread of `pid`, by thread id, with the thread's name.
fn thread_seconds(pid: u32) -> BTreeMap<String, (String, f64)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let tid = e.file_name().to_string_lossy().into_owned();
        let base = format!("/proc/{pid}/task/{tid}");
        let name = std::fs::read_to_string(format!("{base}/comm"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if let Ok(secs) = cpu_seconds(&format!("{base}/stat")) {
            out.insert(tid, (name, secs));
        }
    }
    out
}

/// Samples taken at the start of a window, to compare with the end.
pub struct CpuMark {
    server: f64,
    threads: BTreeMap<String, (String, f64)>,
    bench: f64,
    machine: (u64, u64),
    at: Instant,
}

impl CpuMark {
    pub fn take(server: &Server) -> anyhow::Result<CpuMark> {
        Ok(CpuMark {
            server: server.cpu_seconds()?,
            threads: thread_seconds(server.pid),
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
        let mut server_threads: Vec<ThreadUse> = thread_seconds(server.pid)
            .into_iter()
            .map(|(tid, (name, s))| {
                let before = self.threads.get(&tid).map(|(_, b)| *b).unwrap_or(0.0);
                ThreadUse {
                    name: format!("{name}[{tid}]"),
                    percent: 100.0 * (s - before) / secs,
                }
            })
            .filter(|t| t.percent >= 0.5)
            .collect();
        server_threads.sort_by(|a, b| b.percent.total_cmp(&a.percent));
        Ok(CpuUse {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            server_percent: 100.0 * (server.cpu_seconds()? - self.server) / secs,
            bench_percent: 100.0 * (cpu_seconds("/proc/self/stat")? - self.bench) / secs,
            machine_busy_percent: 100.0 * d_busy / d_total,
            server_threads,
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

/// A statement the server's log reported as slow.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SlowStatement {
    pub count: u64,
    pub max_seconds: f64,
    pub statement: String,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Groups sqlx's "slow statement" warnings by statement text.
pub fn slow_statements(log: &str) -> Vec<SlowStatement> {
    let mut by_text: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("slow statement")) {
        let line = strip_ansi(line);
        let statement = line
            .split_once("db.statement=\"")
            .and_then(|(_, rest)| rest.split_once("\" rows_affected"))
            .map(|(s, _)| {
                s.replace("\\n", " ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| "?".into());
        let secs = line
            .split_once(" elapsed_secs=")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let e = by_text.entry(statement).or_insert((0, 0.0));
        e.0 += 1;
        e.1 = e.1.max(secs);
    }
    let mut out: Vec<SlowStatement> = by_text
        .into_iter()
        .map(|(statement, (count, max_seconds))| SlowStatement {
            count,
            max_seconds,
            statement,
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.count));
    out
}

/// The report's lines on the server's memory and its slowest statements.
pub fn print_server_tail(memory: &Memory, slow: &[SlowStatement]) {
    println!(
        "  server RSS  {} now, {} peak",
        crate::stats::fmt_mib(memory.rss_bytes),
        crate::stats::fmt_mib(memory.peak_rss_bytes)
    );
    for s in slow.iter().take(3) {
        println!(
            "  slow SQL    {}× (max {:.1} s): {}",
            s.count,
            s.max_seconds,
            s.statement.chars().take(160).collect::<String>()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_statement_warnings_are_grouped() {
        let log = "\u{1b}[2m2026\u{1b}[0m WARN request{}: sqlx::query: slow statement: execution time exceeded alert threshold summary=\"SELECT\" db.statement=\"\\n\\nSELECT a FROM b WHERE c < $1\\n\" rows_affected=0 rows_returned=51 elapsed=1.8s elapsed_secs=1.8 slow_threshold=1s\n\
                   x WARN slow statement db.statement=\"SELECT a FROM b WHERE c < $1\" rows_affected=0 elapsed_secs=2.5 slow_threshold=1s\n\
                   INFO something else\n";
        let s = slow_statements(log);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].count, 2);
        assert_eq!(s[0].statement, "SELECT a FROM b WHERE c < $1");
        assert!((s[0].max_seconds - 2.5).abs() < 1e-9);
    }

    #[test]
    fn proc_stat_parsing_reads_this_process() {
        assert!(cpu_seconds("/proc/self/stat").expect("stat") >= 0.0);
        let m = Memory::of(std::process::id()).expect("status");
        assert!(m.rss_bytes > 0 && m.peak_rss_bytes >= m.rss_bytes);
    }
}
