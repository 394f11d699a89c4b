#![allow(clippy::unwrap_used)]
//! Crash consistency: the real binary is killed with SIGKILL under write load and restarted;
//! every order whose creation was acknowledged is there, and `jiesu verify` passes. Also the
//! real server's process settings (transparent huge pages).

mod common;

use common::{PgDb, postgres_url};
use reqwest::StatusCode;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_jiesu");
const PW: &str = "crash-test-pw";

fn jiesu(data: &Path, db: &Option<String>, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .arg("--data-dir")
        .arg(data)
        .env("JIESU_PASSWORD", PW);
    if let Some(u) = db {
        c.arg("--database-url").arg(u);
    }
    c.output().expect("run jiesu")
}

/// Runs a `jiesu` command that must succeed.
fn jiesu_ok(data: &Path, db: &Option<String>, args: &[&str]) {
    let out = jiesu(data, db, args);
    assert!(
        out.status.success(),
        "jiesu {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `jiesu serve` on an ephemeral port, with `JIESU_ALLOW_THP` set to `allow_thp` or
/// unset; returns the child and its base URL.
fn serve(data: &Path, db: &Option<String>, allow_thp: Option<&str>) -> (Child, String) {
    let mut c = Command::new(BIN);
    c.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data);
    match allow_thp {
        Some(v) => c.env("JIESU_ALLOW_THP", v),
        None => c.env_remove("JIESU_ALLOW_THP"),
    };
    if let Some(u) = db {
        c.arg("--database-url").arg(u);
    }
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    let url = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .map(|a| format!("http://{a}"))
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    (child, url)
}

async fn login(base: &str) -> reqwest::Client {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = c
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "agent", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    c
}

async fn acknowledged_orders_survive_sigkill(db: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    jiesu_ok(
        data,
        &db,
        &["init", "--tenant", "crash", "--name", "崩溃测试市"],
    );
    jiesu_ok(
        data,
        &db,
        &[
            "user",
            "add",
            "--username",
            "agent",
            "--unit",
            "1",
            "--roles",
            "agent",
        ],
    );

    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    for round in 0..3u64 {
        let (mut child, base) = serve(data, &db, None);
        let client = login(&base).await;
        let mut tasks = Vec::new();
        for w in 0..8 {
            let c = client.clone();
            let base = base.clone();
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let r = c
                        .post(format!("{base}/api/orders"))
                        .json(&json!({"channel": "phone", "request_type": "complaint", "content": format!("第{round}轮 写入者{w} 第{i}单：噪音扰民")}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            // Acknowledged only once the whole body arrived.
                            if let Ok(v) = r.json::<serde_json::Value>().await {
                                let id = v["id"].as_i64().unwrap_or_default();
                                let n = v["number"].as_str().unwrap_or_default().to_string();
                                acked.lock().unwrap().push((id, n));
                            } else {
                                return;
                            }
                        }
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(700 + 400 * round)).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        for t in tasks {
            let _ = t.await;
        }
        assert!(
            !acked.lock().unwrap().is_empty(),
            "the load produced orders before the kill"
        );
    }

    // Restart: every acknowledged order is there with its number.
    let (mut child, base) = serve(data, &db, None);
    let client = login(&base).await;
    let acked = acked.lock().unwrap().clone();
    for (id, number) in &acked {
        let r = client
            .get(format!("{base}/api/orders/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "acknowledged order {id} lost");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["number"], number.as_str());
    }
    let numbers: std::collections::HashSet<_> = acked.iter().map(|(_, n)| n.clone()).collect();
    assert_eq!(numbers.len(), acked.len(), "order numbers are unique");
    // Writes work after recovery.
    let r = client
        .post(format!("{base}/api/orders"))
        .json(&json!({"channel": "phone", "request_type": "help", "content": "恢复后的新诉求"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    child.kill().unwrap();
    let _ = child.wait();
    let out = jiesu(data, &db, &["verify"]);
    assert!(
        out.status.success(),
        "verify after crashes: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{} acknowledged orders survived 3 SIGKILLs", acked.len());
    // An online backup of the recovered database.
    let dest = data.join("after-crash.backup");
    jiesu_ok(data, &db, &["backup", "--to", dest.to_str().unwrap()]);
    assert!(std::fs::metadata(&dest).unwrap().len() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_sigkill_on_sqlite() {
    acknowledged_orders_survive_sigkill(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_sigkill_on_postgres() {
    let Some(base) = postgres_url() else { return };
    let db = PgDb::create(&base).await;
    acknowledged_orders_survive_sigkill(Some(db.url.clone())).await;
}

/// The server turns transparent huge pages off for its process (see `main.rs`), and leaves
/// them to the system's setting when `JIESU_ALLOW_THP` is set.
#[test]
fn the_server_runs_without_transparent_huge_pages() {
    for (allow_thp, expected) in [(None, "0"), (Some("1"), "1")] {
        let dir = tempfile::tempdir().unwrap();
        jiesu_ok(
            dir.path(),
            &None,
            &["init", "--tenant", "thp", "--name", "大页测试市"],
        );
        let (mut child, _) = serve(dir.path(), &None, allow_thp);
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        let status = status.unwrap();
        let enabled = status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no THP_enabled in /proc/PID/status:\n{status}"));
        assert_eq!(enabled, expected, "JIESU_ALLOW_THP={allow_thp:?}");
    }
}

/// The server allocates with jemalloc, built unprefixed so that it is the process's `malloc`
/// (SQLite's pages and records included; see `main.rs`): only that build reads
/// `MALLOC_CONF`, here asking for its statistics at exit. (A build without the `jemalloc`
/// feature, for heap profiles, uses the system's `malloc`.)
#[cfg(feature = "jemalloc")]
#[test]
fn the_server_allocates_with_jemalloc_as_the_process_malloc() {
    let out = Command::new(BIN)
        .arg("--version")
        .env("MALLOC_CONF", "stats_print:true")
        .output()
        .expect("run jiesu --version");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("jemalloc statistics"),
        "no jemalloc statistics on stderr: {stderr}"
    );
}
