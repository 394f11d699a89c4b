#![allow(clippy::unwrap_used)]
//! `jiesu copy` (issue 9): a tenant moves from the embedded SQLite database to PostgreSQL with
//! its ids, numbers and histories; the copy is checked and verified; the server then runs on
//! PostgreSQL as it did on SQLite, and new orders continue the numbering. A second copy of
//! the same tenant is refused and changes nothing; another tenant of the same source follows.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Command, Output};

fn copy(data: &std::path::Path, tenant: &str, to: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jiesu"))
        .args(["copy", "--tenant", tenant, "--to", to])
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_moves_from_sqlite_to_postgresql() {
    let Some(base) = postgres_url() else { return };
    let t = spawn_app(Backend::Sqlite).await.unwrap();
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let mut orders = Vec::new();
    for i in 0..3 {
        orders.push(
            t.accept(
                &agent,
                json!({"content": format!("第{i}号：楼道灯坏了，晚上看不清台阶。")}),
            )
            .await,
        );
    }
    let first = orders[0]["id"].as_i64().unwrap();
    let (s, v) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{first}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, before) = get(&dispatcher, t.url(&format!("/api/orders/{first}/events"))).await;
    let (_, list_before) = get(&dispatcher, t.url("/api/orders?limit=50")).await;
    let stopped = t.restart_stopped().await;
    let data = stopped.data_dir.path().to_path_buf();

    let pg = PgDb::create(&base).await;
    let o = copy(&data, "t1", &pg.url);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("copied tenant t1"), "{}", text(&o));
    assert!(
        text(&o).contains("orders' histories verified"),
        "{}",
        text(&o)
    );

    // Again: refused, nothing changed.
    let o = copy(&data, "t1", &pg.url);
    assert!(!o.status.success());
    assert!(text(&o).contains("already has tenant"), "{}", text(&o));
    let o = copy(&data, "nosuch", &pg.url);
    assert!(!o.status.success());
    assert!(text(&o).contains("no tenant “nosuch”"), "{}", text(&o));

    // The server on PostgreSQL: the same orders, numbers and histories.
    let dir = tempfile::tempdir().unwrap();
    let on_pg = Stopped {
        seed: stopped.seed,
        backend: Backend::Postgres,
        data_dir: dir,
        pg: Some(pg),
    };
    let mut config = test_config(
        on_pg.data_dir.path(),
        Some(on_pg.pg.as_ref().unwrap().url.clone()),
    );
    // The copied personal data opens with the keys it was sealed with.
    config.pii_key_file = Some(data.join("keys").join("pii.json"));
    let t = on_pg.start(config).await;
    let dispatcher = t.login("dispatcher").await;
    let (s, list_after) = get(&dispatcher, t.url("/api/orders?limit=50")).await;
    assert_eq!(s, StatusCode::OK);
    let numbers = |l: &Value| {
        l["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["id"].as_i64().unwrap(),
                    o["number"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(&list_after), numbers(&list_before));
    let (_, after) = get(&dispatcher, t.url(&format!("/api/orders/{first}/events"))).await;
    assert_eq!(after, before, "the history, hashes included");
    // New orders continue after the copied ids and numbers.
    let agent = t.login("agent").await;
    let new = t.accept(&agent, json!({})).await;
    let max_id = orders
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(new["id"].as_i64().unwrap() > max_id, "{new}");
    let last_number = orders.last().unwrap()["number"].as_str().unwrap();
    assert!(new["number"].as_str().unwrap() > last_number, "{new}");
    // The other tenant was not copied; it follows on its own.
    let admin2 = || async {
        reqwest::Client::new()
            .post(t.url("/api/auth/login"))
            .json(&json!({"username": "admin2", "password": PASSWORD, "tenant": "t2"}))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_ne!(admin2().await, StatusCode::OK);
    let o = copy(&data, "t2", &t.config.database_url);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(admin2().await, StatusCode::OK);
    t.stop().await;
}

/// `jiesu backup` on PostgreSQL (pg_dump) while the server runs, and `jiesu restore` into an
/// empty database: the restored copy verifies and serves the same orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_backup_restores_into_an_empty_database() {
    let Some(base) = postgres_url() else { return };
    let Some(t) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let agent = t.login("agent").await;
    let first = t.accept(&agent, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jiesu.pgdump");
    // The nodes' key file, kept apart from the data (and from the backup).
    let keys = dir.path().join("pii.json");
    std::fs::copy(t.config.pii_key_path(), &keys).unwrap();
    let run = |args: &[&str], url: &str| {
        Command::new(env!("CARGO_BIN_EXE_jiesu"))
            .args(args)
            .args(["--database-url", url])
            .arg("--data-dir")
            .arg(dir.path())
            .env("JIESU_PII_KEY_FILE", &keys)
            .output()
            .unwrap()
    };
    let o = run(
        &["backup", "--out", file.to_str().unwrap()],
        &t.config.database_url,
    );
    assert!(o.status.success(), "{}", text(&o));
    let target = PgDb::create(&base).await;
    let o = run(&["restore", file.to_str().unwrap()], &target.url);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("all chains intact"), "{}", text(&o));
    t.stop().await;
    let stopped = Stopped {
        seed: seed_of_restored(&target.url).await,
        backend: Backend::Postgres,
        data_dir: tempfile::tempdir().unwrap(),
        pg: Some(target),
    };
    let mut config = test_config(
        stopped.data_dir.path(),
        Some(stopped.pg.as_ref().unwrap().url.clone()),
    );
    config.pii_key_file = Some(keys.clone());
    let r = stopped.start(config).await;
    let agent = r.login("agent").await;
    let (s, o) = get(&agent, r.url(&format!("/api/orders/{}", first["id"]))).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["number"], first["number"]);
    r.stop().await;
}

/// The seed's names on a restored database (the tenant and units keep their ids).
async fn seed_of_restored(url: &str) -> Seed {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let tenant: i64 = sqlx::query_scalar("SELECT id FROM tenants WHERE code = 't1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    Seed {
        tenant: jiesu_core::TenantId(tenant),
        units: Default::default(),
    }
}
