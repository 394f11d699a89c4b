#![allow(clippy::unwrap_used)]
//! Several `jiesu serve` nodes on one PostgreSQL (issue 9), in one process: a session made on
//! one node works on the other; orders created through both get unique numbers; each node's
//! search index finds every order, whichever node wrote it; the webhook and notification
//! passes of both nodes send each event and message once; both schedulers mark each overdue
//! order once; the search outbox is cleaned up once every node has passed it. (SQLite is one
//! node's database: there is nothing to share.)

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use common::*;
use jiesu::app::App;
use jiesu::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A second node: its own data directory (and search index), the same database.
struct Node {
    base: String,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start(mut config: Config) -> Node {
        let dir = tempfile::tempdir().unwrap();
        // Every node seals personal data with the same keys.
        config.pii_key_file = Some(config.pii_key_path());
        config.data_dir = dir.path().to_path_buf();
        let app = jiesu::open_app(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let a = app.clone();
        let server = tokio::spawn(async move {
            let _ = jiesu::launch(listener, a, async {
                let _ = rx.await;
            })
            .await;
        });
        Node {
            base,
            app,
            stop: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }
}

/// A webhook receiver that keeps every (order, seq) it is sent and counts repeats.
#[derive(Default)]
struct Received {
    events: BTreeSet<(i64, u64)>,
    repeats: usize,
}

async fn receive(State(r): State<Arc<Mutex<Received>>>, body: Bytes) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap();
    let key = (
        v["order"]["id"].as_i64().unwrap(),
        v["event"]["seq"].as_u64().unwrap(),
    );
    let mut r = r.lock().unwrap();
    if !r.events.insert(key) {
        r.repeats += 1;
    }
    StatusCode::OK
}

async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn old_order(app: &App, p: &jiesu::app::Principal, i: usize) -> i64 {
    let req: jiesu::api::dto::CreateOrderRequest = serde_json::from_value(json!({
        "channel": "phone", "request_type": "complaint",
        "content": format!("第{i}号旧单：井盖缺失，行人容易踩空。")
    }))
    .unwrap();
    let (new, _) = req.parse().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.accept_order_at(p, new, None, Some(at))
        .await
        .unwrap()
        .stored
        .id
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_one_postgresql() {
    let Some(t) = spawn_app(Backend::Postgres).await else {
        return;
    };
    // Both nodes run the scheduler.
    let mut config = t.config.clone();
    config.scheduler_interval_ms = 100;
    let t = t.restart(config.clone()).await;
    let b = Node::start(config.clone()).await;
    let on_b = |p: &str| format!("{}{p}", b.base);

    let received = Arc::new(Mutex::new(Received::default()));
    let hook = Router::new()
        .route("/hook", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, hook).await;
    });
    let admin = t.login("admin").await;
    let (s, v) = call(
        &admin,
        t.url("/api/webhooks"),
        json!({"name": "接收方", "url": hook_url}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // One session, both nodes.
    let agent = t.login("agent").await;
    let (s, me) = get(&agent, on_b("/api/auth/me")).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a session made on node A works on node B: {me}"
    );

    // Orders through both nodes at once.
    let creates = (0..40).map(|i| {
        let agent = agent.clone();
        let url = if i % 2 == 0 {
            t.url("/api/orders")
        } else {
            on_b("/api/orders")
        };
        async move {
            let r = agent
                .post(url)
                .json(&json!({
                    "channel": "phone", "request_type": "complaint",
                    "content": format!("第{i}号：小区门口井盖缺失，夜间行人容易踩空。"),
                    "citizen": {"name": "王先生", "phone": "13900001111"},
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.unwrap()
        }
    });
    let created: Vec<Value> = futures::future::join_all(creates).await;
    let numbers: HashSet<&str> = created
        .iter()
        .map(|o| o["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 40, "order numbers are unique across nodes");
    let mut ids: Vec<i64> = created.iter().map(|o| o["id"].as_i64().unwrap()).collect();

    // Overdue orders written by both nodes; both schedulers look for them.
    let pa = t.agent_principal().await;
    let mut old = Vec::new();
    for i in 0..4 {
        let app = if i % 2 == 0 { &t.app } else { &b.app };
        old.push(old_order(app, &pa, i).await);
    }
    ids.extend(&old);
    let dispatcher = t.login("dispatcher").await;
    let kinds = |id: i64| {
        let d = dispatcher.clone();
        let url = t.url(&format!("/api/orders/{id}/events"));
        async move {
            let (_, h) = get(&d, url).await;
            h["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["kind"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    for &id in &old {
        wait_until("the overdue mark", || async {
            kinds(id).await.iter().any(|k| k == "overdue_marked")
        })
        .await;
    }
    // Both schedulers had time to try again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for &id in &old {
        let k = kinds(id).await;
        assert_eq!(
            k.iter().filter(|k| *k == "overdue_marked").count(),
            1,
            "marked once: {k:?}"
        );
    }

    // Every event reaches the receiver once, whichever node sent it.
    let mut expected = BTreeSet::new();
    for &id in &ids {
        for seq in 1..=kinds(id).await.len() as u64 {
            expected.insert((id, seq));
        }
    }
    wait_until("every event delivered", || async {
        received.lock().unwrap().events == expected
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        received.lock().unwrap().repeats,
        0,
        "no event delivered twice"
    );

    // Every SMS is sent once: an attempt counted by one node only.
    let db = sqlx::PgPool::connect(&t.config.database_url).await.unwrap();
    wait_until("every message sent", || {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM outbound_messages WHERE status = 'pending'",
            )
            .fetch_one(&db)
            .await
            .unwrap()
                == 0
        }
    })
    .await;
    let attempts: BTreeMap<i32, i64> = sqlx::query_as::<_, (i32, i64)>(
        "SELECT attempts, COUNT(*) FROM outbound_messages GROUP BY attempts",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(
        attempts.keys().copied().collect::<Vec<_>>(),
        vec![1],
        "{attempts:?}"
    );
    assert!(attempts[&1] >= 40, "{attempts:?}");

    // Each node's own index finds every order.
    for (node, base) in [(&t.app, t.base.clone()), (&b.app, b.base.clone())] {
        node.orders_catch_up().await.unwrap();
        let (s, r) = get(
            &dispatcher,
            format!("{base}/api/orders/search?q={}&limit=100", enc("井盖")),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let mut found: Vec<i64> = ids_in(&r, "items");
        found.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(found, want, "{base}");
    }
    // Both nodes have passed every row: the clean-up leaves only the last one (so that no id
    // is handed out twice).
    t.app
        .store
        .prune_search_outbox(chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_outbox")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 1);
    // A new order still reaches both indexes.
    let o = t
        .accept(
            &agent,
            json!({"content": "幸福路下水道井盖松动，车辆经过响声很大。"}),
        )
        .await;
    let id = o["id"].as_i64().unwrap();
    for (node, base) in [(&t.app, t.base.clone()), (&b.app, b.base.clone())] {
        node.orders_catch_up().await.unwrap();
        let (_, r) = get(
            &dispatcher,
            format!("{base}/api/orders/search?q={}", enc("松动")),
        )
        .await;
        assert_eq!(r["items"][0]["id"].as_i64(), Some(id), "{base}: {r}");
    }
    db.close().await;
    b.stop().await;
    t.stop().await;
}

/// A `jiesu serve` process.
struct Proc {
    child: std::process::Child,
    base: String,
    dir: std::path::PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(database_url: &str, dir: std::path::PathBuf, keys: &std::path::Path) -> Proc {
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_jiesu"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&dir)
        .args(["--database-url", database_url])
        .env("JIESU_PII_KEY_FILE", keys)
        .env("JIESU_SCHEDULER_INTERVAL_MS", "200")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        // Warnings kept per node directory (appended across restarts) for the checks below.
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("node.log"))
                .unwrap(),
        )
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    wait_until("a node ready", || {
        let r = c.get(format!("{base}/api/health/ready")).send();
        async move { r.await.is_ok_and(|r| r.status() == StatusCode::OK) }
    })
    .await;
    Proc { child, base, dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_node_processes_one_killed_under_load() {
    let Some(t) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let url = t.config.database_url.clone();
    // Every node seals personal data with the first one's keys.
    let keys = t.config.pii_key_path();
    // Orders long overdue, so the three schedulers have alerts to race for while the load runs.
    let pa = t.agent_principal().await;
    let mut old = Vec::new();
    for i in 0..400 {
        old.push(old_order(&t.app, &pa, i).await);
    }
    let stopped = t.restart_stopped().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for d in &dirs {
        nodes.push(serve(&url, d.path().to_path_buf(), &keys).await);
    }
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let agent = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = agent
        .post(format!("{}/api/auth/login", bases[0]))
        .json(&json!({"username": "agent", "password": PASSWORD, "tenant": "t1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Twelve clients, four a node; a client whose node stops answering goes to the next.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<(i64, String)>::new()));
    let clients: Vec<_> = (0..12)
        .map(|i| {
            let (agent, bases, stop, acked) =
                (agent.clone(), bases.clone(), stop.clone(), acked.clone());
            tokio::spawn(async move {
                let mut node = i % 3;
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let r = agent
                        .post(format!("{}/api/orders", bases[node]))
                        .json(&json!({
                            "channel": "phone", "request_type": "complaint",
                            "content": format!("客户端{i}第{n}单：路灯不亮，夜间出行不便。"),
                        }))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            let v: Value = r.json().await.unwrap();
                            acked.lock().unwrap().push((
                                v["id"].as_i64().unwrap(),
                                v["number"].as_str().unwrap().to_string(),
                            ));
                        }
                        // Refused or cut off: not acknowledged; try the next node.
                        _ => node = (node + 1) % 3,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut killed = nodes.remove(1);
    killed.child.kill().unwrap(); // SIGKILL
    killed.child.wait().unwrap();
    let acked_at_kill = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "acknowledged {} orders over 4 s on 3 then 2 nodes ({acked_at_kill} before the kill)",
        acked.len()
    );
    assert!(
        acked.len() > acked_at_kill && acked_at_kill > 0,
        "load before and after the kill: {acked_at_kill} then {}",
        acked.len()
    );

    let db = sqlx::PgPool::connect(&url).await.unwrap();
    // No acknowledged order lost: each is there with the number it was given.
    let stored: BTreeMap<i64, String> =
        sqlx::query_as::<_, (i64, String)>("SELECT id, number FROM orders")
            .fetch_all(&db)
            .await
            .unwrap()
            .into_iter()
            .collect();
    for (id, number) in &acked {
        assert_eq!(stored.get(id), Some(number), "acknowledged order {id}");
    }
    // Order numbers unique.
    let numbers: HashSet<&String> = stored.values().collect();
    assert_eq!(numbers.len(), stored.len());

    // No alert missed: the two nodes left finish the schedule, also the orders the killed
    // node had taken (theirs once its lease runs out: an old order's next alert is then
    // none, it is overdue and marked); none sent twice: every old order (accepted together
    // under the same rules) has the same alerts, one overdue mark.
    wait_until("every due alert sent", || {
        let db = db.clone();
        let old = old.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM orders WHERE next_alert_at <= $1 \
                 OR (id = ANY($2) AND next_alert_at IS NOT NULL)",
            )
            .bind(chrono::Utc::now().timestamp_millis())
            .bind(&old)
            .fetch_one(&db)
            .await
            .unwrap()
                == 0
        }
    })
    .await;
    let alerts: Vec<(i64, String)> = sqlx::query_as(
        "SELECT order_id, string_agg(kind, ',' ORDER BY seq) FROM order_events \
         WHERE order_id = ANY($1) AND kind IN ('reminder_sent', 'overdue_marked') GROUP BY order_id",
    )
    .bind(&old)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(alerts.len(), old.len(), "every overdue order was alerted");
    let kinds: BTreeSet<&str> = alerts.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(kinds.len(), 1, "the same alerts on every order: {kinds:?}");
    let one = kinds.first().unwrap();
    assert_eq!(one.matches("overdue_marked").count(), 1, "{one}");

    // The killed node comes back on its own directory and finds what was written meanwhile.
    let back = serve(&url, killed.dir.clone(), &keys).await;
    let (last_id, _) = acked.last().unwrap();
    let (s, o) = get(&agent, format!("{}/api/orders/{last_id}", back.base)).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    nodes.push(back);

    // Every order's history verifies.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jiesu"))
        .args(["verify", "--database-url", &url])
        .arg("--data-dir")
        .arg(dirs[0].path())
        .env("JIESU_PII_KEY_FILE", &keys)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for mut n in nodes {
        let _ = n.child.kill();
        let _ = n.child.wait();
    }
    // No scheduler ran into another node's: each alerts only the orders it took.
    let mut logs = String::new();
    for d in &dirs {
        logs += &std::fs::read_to_string(d.path().join("node.log")).unwrap_or_default();
    }
    let clashes: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("scheduler") && l.contains("deadlock"))
        .collect();
    assert!(clashes.is_empty(), "schedulers deadlocked: {clashes:?}");
    // Deadlocks elsewhere are counted, not yet failed: the webhook fan-out of several nodes
    // still meets them (see the issue note). A server process reports its counters when its
    // client goes away: the nodes are gone now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let deadlocks: i64 = sqlx::query_scalar(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    eprintln!("PostgreSQL counted {deadlocks} deadlocks in this test's database");
    db.close().await;
    drop(stopped);
}
