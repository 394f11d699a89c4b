#![allow(clippy::unwrap_used)]
//! Operations: Prometheus metrics (requests and latencies per route, queue depths, open and
//! overdue orders per tenant) behind the configured scrape token, liveness and readiness, and
//! a graceful shutdown that first reports "not ready" while it still serves.

mod common;

use common::{Backend, TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

const TOKEN: &str = "scrape-token-0123456789";

/// The value of the sample `name{labels}` in an OpenMetrics text, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn scrape(t: &TestApp) -> String {
    let r = reqwest::Client::new()
        .get(t.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    r.text().await.unwrap()
}

async fn metrics_count_requests_and_read_queues_and_overdue_orders(t: TestApp) {
    // Off without a token: not even its existence is shown.
    let plain = reqwest::Client::new();
    let r = plain.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let mut config = t.config.clone();
    config.metrics_token = TOKEN.into();
    let t = t.restart(config).await;
    let r = plain.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("\"error\""));
    let r = plain
        .get(t.url("/metrics"))
        .bearer_auth("scrape-token-wrong-guess")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let agent = t.login("agent").await;
    for _ in 0..3 {
        t.accept(&agent, json!({})).await;
    }
    // A bad request is counted under its own status.
    let r = agent
        .post(t.url("/api/orders"))
        .json(&json!({"channel": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Accepted at 09:00 on 2 March 2026: long past its dispatch deadline.
    let p = t.agent_principal().await;
    let req: jiesu::api::dto::CreateOrderRequest = serde_json::from_value(
        json!({"channel": "phone", "request_type": "complaint", "content": "路灯不亮，夜间出行不便"}),
    )
    .unwrap();
    let (new, _) = req.parse().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    t.app
        .accept_order_at(&p, new, None, Some(at))
        .await
        .unwrap();

    let text = scrape(&t).await;
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    let route = "method=\"POST\",route=\"/api/orders\"";
    assert_eq!(
        sample(
            &text,
            &format!("jiesu_http_requests_total{{{route},status=\"201\"}}")
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("jiesu_http_requests_total{{{route},status=\"422\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("jiesu_http_request_duration_seconds_count{{{route}}}")
        ),
        Some(4.0)
    );
    // Routes are counted by pattern, not by path (no series per order).
    assert!(!text.contains("route=\"/api/orders/1\""));
    assert_eq!(
        sample(&text, "jiesu_orders_overdue{tenant=\"t1\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "jiesu_orders_overdue{tenant=\"t2\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "jiesu_orders{tenant=\"t1\",status=\"pending_review\"}"
        ),
        Some(4.0),
        "{text}"
    );
    for queue in [
        "event_outbox",
        "webhook_deliveries",
        "outbound_messages",
        "transfers",
    ] {
        let n = sample(&text, &format!("jiesu_queue_depth{{queue=\"{queue}\"}}"));
        assert!(n.is_some_and(|n| n >= 0.0), "{queue}: {text}");
    }
    assert!(sample(&text, "jiesu_writer_jobs").is_some_and(|n| n >= 4.0));
    // The writer's time by phase: its batches took some time, each phase is reported.
    let phases: Vec<f64> = ["begin", "work", "commit"]
        .iter()
        .map(|p| {
            sample(&text, &format!("jiesu_writer_seconds{{phase=\"{p}\"}}"))
                .unwrap_or_else(|| panic!("{p}: {text}"))
        })
        .collect();
    assert!(phases.iter().all(|s| *s >= 0.0), "{phases:?}");
    assert!(phases.iter().sum::<f64>() > 0.0, "{phases:?}");
    assert!(sample(&text, "jiesu_writer_slow_batches").is_some());
    // SQLite's reads by way: the requests above read on their own threads (PostgreSQL's
    // reads go through sqlx: none counted).
    let quick = sample(&text, "jiesu_sqlite_reads{way=\"quick\"}").unwrap_or(-1.0);
    let opened = sample(&text, "jiesu_sqlite_read_connections_opened").unwrap_or(-1.0);
    // SQLite's log is synced by a thread of its own, which answers the writer's callers: the
    // writes above waited for its fsyncs (PostgreSQL syncs inside its commits: none counted).
    let syncs = sample(&text, "jiesu_writer_syncs").unwrap_or(-1.0);
    let synced = sample(&text, "jiesu_writer_seconds{phase=\"sync\"}").unwrap_or(-1.0);
    // SQLite's checkpoints are made by the writer after its commits (a few writes leave the
    // log short of one; PostgreSQL has none).
    let checkpoints = sample(&text, "jiesu_writer_checkpoints").unwrap_or(-1.0);
    let checkpointed = sample(&text, "jiesu_writer_seconds{phase=\"checkpoint\"}").unwrap_or(-1.0);
    assert!(checkpoints >= 0.0 && checkpointed >= 0.0, "{text}");
    // SQLite's page caches skip the truncations with nothing to drop: the writes above ended
    // in some (the counts are the process's; PostgreSQL's runs may follow SQLite's).
    let wrapped = sample(&text, "jiesu_sqlite_cache_wrapped").unwrap_or(-1.0);
    let skipped = sample(&text, "jiesu_sqlite_cache_truncations{outcome=\"skipped\"}");
    assert!(
        sample(&text, "jiesu_sqlite_cache_truncations{outcome=\"passed\"}").is_some(),
        "{text}"
    );
    if t.backend == Backend::Sqlite {
        assert_eq!(wrapped, 1.0, "{text}");
        assert!(skipped.is_some_and(|n| n >= 1.0), "{text}");
        assert!(quick >= 1.0 && opened >= 1.0, "{text}");
        assert!(syncs >= 1.0 && synced > 0.0, "{text}");
    } else {
        assert!(quick == 0.0 && opened == 0.0, "{text}");
        assert!(syncs == 0.0 && synced == 0.0, "{text}");
        assert!(checkpoints == 0.0 && checkpointed == 0.0, "{text}");
    }
    assert!(sample(&text, "jiesu_order_index_behind").is_some());
    assert!(sample(&text, "jiesu_alerts_due{tenant=\"t1\"}").is_some());
    assert!(sample(&text, "jiesu_missed_calls_pending{tenant=\"t1\"}").is_some());
    // The order writes reach the queues' consumers: the outboxes empty again.
    let start = Instant::now();
    loop {
        let text = scrape(&t).await;
        if sample(&text, "jiesu_queue_depth{queue=\"event_outbox\"}") == Some(0.0)
            && sample(&text, "jiesu_order_index_behind") == Some(0.0)
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.stop().await;
}

async fn shutdown_reports_not_ready_first_and_still_serves(t: TestApp) {
    let c = reqwest::Client::new();
    let r = c.get(t.url("/api/health/ready")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(t.url("/api/health/live")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mut config = t.config.clone();
    config.shutdown_grace_ms = 1500;
    let t = t.restart(config).await;
    let agent = t.login("agent").await;
    let base = t.base.clone();
    let url = move |p: &str| format!("{base}{p}");
    let signalled = Instant::now();
    let stopping = tokio::spawn(t.stop());
    // Within the grace period: not ready, but alive and still serving.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = c.get(url("/api/health/ready")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "draining");
    let r = c.get(url("/api/health/live")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = agent.get(url("/api/orders")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "requests are still served");
    stopping.await.unwrap();
    assert!(
        signalled.elapsed() >= Duration::from_millis(1500),
        "the node stopped before its grace period ended"
    );
    assert!(
        c.get(url("/api/health/live")).send().await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_sqlite() {
    metrics_count_requests_and_read_queues_and_overdue_orders(
        spawn_app(Backend::Sqlite).await.unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_postgres() {
    let Some(t) = spawn_app(Backend::Postgres).await else {
        return;
    };
    metrics_count_requests_and_read_queues_and_overdue_orders(t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_on_sqlite() {
    shutdown_reports_not_ready_first_and_still_serves(spawn_app(Backend::Sqlite).await.unwrap())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_on_postgres() {
    let Some(t) = spawn_app(Backend::Postgres).await else {
        return;
    };
    shutdown_reports_not_ready_first_and_still_serves(t).await;
}
