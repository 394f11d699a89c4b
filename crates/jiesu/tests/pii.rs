#![allow(clippy::unwrap_used)]
//! Citizens' phone and ID numbers are sealed at rest (issue 10): the database holds neither
//! anywhere, the API still shows them to whom it may, a caller's orders are still found by
//! number, and a key rotation re-seals everything under a new key without breaking a chain.

mod common;

use common::*;
use jiesu_store::pii;
use serde_json::{Value, json};

const PHONE: &str = "13912345678";
const ID_NUMBER: &str = "11010519491231002X";

/// Every text column of every table holding `needle`, as `table.column`.
async fn columns_holding(t: &TestApp, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let pattern = format!("%{needle}%");
    match t.backend {
        Backend::Sqlite => {
            let url = t.config.database_url();
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let tables: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            for (table,) in tables {
                let cols: Vec<(i64, String, String, i64, Option<String>, i64)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})")))
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                for (_, col, ty, ..) in cols.iter().filter(|c| c.2 == "TEXT") {
                    let _ = ty;
                    if (table.as_str(), col.as_str()) == ("orders", "state") {
                        // Stored packed: searched unpacked.
                        let states: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT state FROM orders")
                            .fetch_all(&pool)
                            .await
                            .unwrap();
                        if states
                            .into_iter()
                            .any(|(s,)| jiesu_store::packed::unpack(s).unwrap().contains(needle))
                        {
                            found.push(format!("{table}.{col}"));
                        }
                        continue;
                    }
                    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM {table} WHERE {col} LIKE $1"
                    )))
                    .bind(&pattern)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    if n > 0 {
                        found.push(format!("{table}.{col}"));
                    }
                }
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&t.config.database_url())
                .await
                .unwrap();
            let cols: Vec<(String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND data_type = 'text'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for (table, col) in cols {
                let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {table} WHERE {col} LIKE $1"
                )))
                .bind(&pattern)
                .fetch_one(&pool)
                .await
                .unwrap();
                if n > 0 {
                    found.push(format!("{table}.{col}"));
                }
            }
            pool.close().await;
        }
    }
    found
}

async fn order_of(t: &TestApp, c: &reqwest::Client, id: i64) -> Value {
    let (s, o) = get(c, t.url(&format!("/api/orders/{id}"))).await;
    assert_eq!(s, 200, "{o}");
    o
}

async fn by_phone(t: &TestApp, c: &reqwest::Client) -> Vec<i64> {
    let (s, page) = get(c, t.url(&format!("/api/orders?phone={PHONE}"))).await;
    assert_eq!(s, 200, "{page}");
    let mut ids: Vec<i64> = ids_in(&page, "items");
    ids.sort_unstable();
    ids
}

async fn telephony_token(t: &TestApp) -> String {
    let (s, v) = call(
        &t.login("admin").await,
        t.url("/api/tokens"),
        json!({"name": "呼叫中心", "unit_id": t.unit("root"), "roles": ["agent"], "scopes": ["telephony"]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// A call from the citizen that rings and is given up.
async fn abandoned_call(t: &TestApp, token: &str, call_id: &str) {
    let now = chrono::Utc::now().to_rfc3339();
    for body in [
        json!({"call_id": call_id, "event": "incoming", "at": now, "caller": PHONE, "line": "12345"}),
        json!({"call_id": call_id, "event": "abandoned", "at": now}),
    ] {
        let r = reqwest::Client::new()
            .post(t.url("/api/telephony/events"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
}

/// How many calls the citizen's pending missed-call item counts (there is exactly one).
async fn missed_of_caller(t: &TestApp, c: &reqwest::Client) -> i64 {
    let (s, v) = get(c, t.url("/api/telephony/missed?status=pending")).await;
    assert_eq!(s, 200, "{v}");
    let items: Vec<&Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["caller"].as_str().is_some_and(|c| c.ends_with("5678")))
        .collect();
    assert_eq!(items.len(), 1, "{v}");
    items[0]["missed"].as_i64().unwrap()
}

async fn sealed_at_rest_and_rotated(t: &TestApp) {
    let agent = t.login("agent").await;
    let first = t
        .accept(
            &agent,
            json!({"citizen": {"name": "李女士", "phone": PHONE, "id_number": ID_NUMBER}}),
        )
        .await;
    let second = t
        .accept(
            &agent,
            json!({"citizen": {"name": "李女士", "phone": PHONE}}),
        )
        .await;
    let other = t.accept(&agent, json!({})).await;
    let ids = [
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
    ];
    // The same citizen calls and gives up, twice: one missed-call item, calls recorded.
    let tel = telephony_token(t).await;
    for call_id in ["X1", "X2"] {
        abandoned_call(t, &tel, call_id).await;
    }
    assert_eq!(missed_of_caller(t, &agent).await, 2);

    // Nowhere in the database, in any table.
    assert_eq!(columns_holding(t, PHONE).await, Vec::<String>::new());
    assert_eq!(columns_holding(t, ID_NUMBER).await, Vec::<String>::new());
    // What is there are tokens of the first key, one per value.
    let tokens = columns_holding(t, "/pii1:k1:").await;
    assert!(
        tokens.contains(&"orders.citizen_phone".to_string()),
        "{tokens:?}"
    );
    assert!(tokens.contains(&"orders.state".to_string()), "{tokens:?}");
    for column in ["calls.caller", "missed_calls.caller"] {
        assert!(tokens.contains(&column.to_string()), "{tokens:?}");
    }
    assert!(
        tokens.contains(&"order_events.payload".to_string()),
        "{tokens:?}"
    );
    if t.backend == Backend::Sqlite {
        // Not even in the file's pages or its write-ahead log.
        let db = t.data_dir.path().join("jiesu.db");
        let mut bytes = std::fs::read(&db).unwrap();
        bytes.extend(std::fs::read(db.with_extension("db-wal")).unwrap_or_default());
        for needle in [PHONE, ID_NUMBER] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} is in the database file"
            );
        }
    }

    // The agent reads them; a caller's orders are found by the number.
    let o = order_of(t, &agent, ids[0]).await;
    assert_eq!(o["citizen"]["phone"], PHONE, "{o}");
    assert_eq!(o["citizen"]["id_number"], ID_NUMBER, "{o}");
    assert_eq!(by_phone(t, &agent).await, ids.to_vec());
    assert_ne!(
        order_of(t, &agent, other["id"].as_i64().unwrap()).await["citizen"]["phone"],
        PHONE
    );

    // A change of the order is sealed too, and the chain verifies over the plaintext.
    let dispatcher = t.login("dispatcher").await;
    let (s, b) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{}/amend", ids[0])),
        json!({"urgency": "urgent", "reason": "老人独居，尽快处理"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(columns_holding(t, PHONE).await, Vec::<String>::new());
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Rotation: a second key seals from now on; every stored value is sealed anew under it.
    let path = t.config.pii_key_path();
    assert_eq!(pii::add_key(&path).unwrap(), "k2");
    let r = t.app.store.reseal_pii(|_| {}).await.unwrap();
    // Three orders (the third with the harness's default caller), each with the citizen in
    // its acceptance event; the text messages' numbers too.
    assert_eq!(r.orders_resealed, 3, "{r:?}");
    assert_eq!(r.events_resealed, 3, "{r:?}");
    assert_eq!(
        t.app.store.pii().ring().current_id(),
        Some("k2"),
        "read again at once"
    );
    assert_eq!(columns_holding(t, "/pii1:k1:").await, Vec::<String>::new());
    assert!(!columns_holding(t, "/pii1:k2:").await.is_empty());
    assert!(t.app.store.reseal_pii(|_| {}).await.unwrap().settled());
    let usage = t.app.store.pii_key_usage(|_| {}).await.unwrap();
    assert_eq!(usage.get("k2"), Some(&3), "{usage:?}");
    assert_eq!(usage.get("k1"), None, "{usage:?}");

    // The caller's pending item is found again under the new key.
    abandoned_call(t, &tel, "X3").await;
    assert_eq!(missed_of_caller(t, &agent).await, 3);

    // New orders and reads under k2; the old key can go.
    let third = t.accept(&agent, json!({"citizen": {"phone": PHONE}})).await;
    pii::remove_keys(&path, &["k1".to_string()]).unwrap();
    t.app
        .store
        .forget_pii_keys(&["k1".to_string()])
        .await
        .unwrap();
    t.app.store.pii().reload().unwrap();
    assert_eq!(t.app.store.pii().ring().ids(), ["k2"]);
    let mut all = ids.to_vec();
    all.push(third["id"].as_i64().unwrap());
    assert_eq!(by_phone(t, &agent).await, all);
    assert_eq!(
        order_of(t, &agent, ids[0]).await["citizen"]["id_number"],
        ID_NUMBER
    );
    assert_eq!(columns_holding(t, PHONE).await, Vec::<String>::new());
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // A node with another key file is refused instead of sealing what others cannot open.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut stranger = t.config.clone();
    stranger.pii_key_file = Some(elsewhere.path().join("pii.json"));
    stranger.data_dir = elsewhere.path().to_path_buf();
    stranger.database_url = t.config.database_url();
    let refused = jiesu::open_app(stranger).await.err().expect("refused");
    assert!(refused.to_string().contains("pii_key_file"), "{refused}");
}

on_both_backends! {
    sealed_at_rest_and_rotated => super::sealed_at_rest_and_rotated,
}

/// The command line: rotate, status, retire, and the server's data still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_from_the_command_line() {
    let t = spawn_app(Backend::Sqlite).await.unwrap();
    let agent = t.login("agent").await;
    t.accept(
        &agent,
        json!({"citizen": {"phone": PHONE, "id_number": ID_NUMBER}}),
    )
    .await;
    let stopped = t.restart_stopped().await;
    let dir = stopped.data_dir.path().to_path_buf();
    let jiesu = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jiesu"))
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, out) = jiesu(&["pii", "status"]);
    assert!(ok, "{out}");
    assert!(out.contains("k1 (seals): 1 orders"), "{out}");
    let (ok, out) = jiesu(&["pii", "rotate"]);
    assert!(ok, "{out}");
    assert!(out.contains("key k2 seals from now on; 1 orders"), "{out}");
    let (ok, out) = jiesu(&["pii", "rotate", "--retire"]);
    assert!(ok, "{out}");
    assert!(out.contains("retired k1"), "{out}");
    let (ok, out) = jiesu(&["pii", "status"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("k2 (seals): 1 orders") && !out.contains("k1"),
        "{out}"
    );
    let (ok, out) = jiesu(&["verify"]);
    assert!(ok, "{out}");
    // Without its key file the data does not open: verify says so and fails.
    std::fs::rename(dir.join("keys/pii.json"), dir.join("pii.json.away")).unwrap();
    let (ok, out) = jiesu(&["verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains("pii_key_file"), "{out}");
}
