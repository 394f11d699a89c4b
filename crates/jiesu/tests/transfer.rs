#![allow(clippy::unwrap_used)]
//! Transfers between two Jiesu platforms on loopback: A (a 12345 centre) transfers orders to
//! B (acting as its 110), B acknowledges with its own order and reports every change back;
//! A's orders record the answer and the reports. An emergency goes to 110 first; a refused
//! transfer and an unreachable platform leave the order with A, said so in its history; a
//! resent transfer returns the same order.

mod common;

use common::{Backend, TestApp, call, get, spawn_app};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn token(t: &TestApp, scopes: Value) -> String {
    let (s, v) = call(
        &t.login("admin").await,
        t.url("/api/tokens"),
        json!({"name": "对端平台", "unit_id": t.unit("root"), "roles": ["agent"], "scopes": scopes}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn peer(t: &TestApp, code: &str, kind: &str, url: &str, token: &str) -> i64 {
    let (s, v) = call(
        &t.login("admin").await,
        t.url("/api/transfer/peers"),
        json!({"code": code, "name": format!("{code}平台"), "kind": kind, "url": url, "token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// Polls `f` until it returns `Some`, for at most 15 s.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn order(t: &TestApp, c: &Client, id: i64) -> Value {
    let (s, o) = get(c, t.url(&format!("/api/orders/{id}"))).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    o
}

async fn events(t: &TestApp, c: &Client, id: i64) -> Vec<Value> {
    let (_, e) = get(c, t.url(&format!("/api/orders/{id}/events"))).await;
    e["items"].as_array().unwrap().clone()
}

async fn inbound(t: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let r = Client::new()
        .post(t.url("/api/transfer/inbound"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn round_trip(backend: Backend) {
    let Some(a) = spawn_app(backend).await else {
        return;
    };
    // A gives up on an unreachable platform after three attempts.
    let mut cfg = a.config.clone();
    cfg.webhook_max_attempts = 3;
    let a = a.restart(cfg).await;
    let b = spawn_app(backend).await.unwrap();
    // Each platform issues the other a token; each registers the other under its tenant code
    // (both are "t1": the code a platform sends as `from`).
    let a_for_b = token(&a, json!(["transfer"])).await;
    let b_for_a = token(&b, json!(["transfer"])).await;
    let police = peer(&a, "t1", "police_110", &b.base, &b_for_a).await;
    let gas = peer(&a, "gas", "utility", "http://127.0.0.1:9", "jst_x").await;
    let refusing = peer(&a, "t2", "utility", &b.base, "jst_wrong_token").await;
    peer(&b, "t1", "hotline", &a.base, &a_for_b).await;
    // Bad peers are refused with the field named.
    let admin = a.login("admin").await;
    for (body, field) in [
        (
            json!({"code": "t1", "name": "x", "kind": "police_110", "url": b.base, "token": "x"}),
            "code",
        ),
        (
            json!({"code": "x y", "name": "x", "kind": "police_110", "url": b.base, "token": "x"}),
            "code",
        ),
        (
            json!({"code": "x", "name": "x", "kind": "fire", "url": b.base, "token": "x"}),
            "kind",
        ),
        (
            json!({"code": "x", "name": "x", "kind": "utility", "url": "ftp://x", "token": "x"}),
            "url",
        ),
    ] {
        let (s, e) = call(&admin, a.url("/api/transfer/peers"), body.clone()).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {e}"
        );
    }
    let agent = a.login("agent").await;
    let (_, peers) = get(&agent, a.url("/api/transfer/peers")).await;
    assert_eq!(peers["items"].as_array().unwrap().len(), 3, "{peers}");
    assert_eq!(
        peers["items"][0]["url"],
        Value::Null,
        "agents do not see the addresses"
    );
    let (s, _) = get(&a.login("handler").await, a.url("/api/transfer/peers")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // An emergency goes to 110 first.
    let o1 = a
        .accept(&agent, json!({"content": "小区地下车库有燃气泄漏的味道，有人晕倒，请立即处置！", "flags": {"emergency": true}, "urgency": "very_urgent"}))
        .await;
    let o1 = o1["id"].as_i64().unwrap();
    let tr = |id: i64| a.url(&format!("/api/orders/{id}/transfer"));
    let (s, e) = call(
        &agent,
        tr(o1),
        json!({"peer_id": gas, "reason": "燃气泄漏"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("peer_id")),
        "{e}"
    );
    let (s, v) = call(
        &agent,
        tr(o1),
        json!({"peer_id": police, "reason": "有人晕倒，请110立即处置", "close_on_accept": false}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["transfers"][0]["state"], "requested");
    let (s, _) = call(
        &agent,
        tr(o1),
        json!({"peer_id": police, "reason": "再转一次"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = call(
        &agent,
        tr(o1),
        json!({"peer_id": gas, "reason": "燃气公司关阀"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "after 110 the utility may follow: {v}");
    let (s, e) = call(&agent, tr(o1), json!({"peer_id": 9999, "reason": "x"})).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("peer_id"))
    );
    let (s, _) = call(
        &a.login("handler").await,
        tr(o1),
        json!({"peer_id": police, "reason": "x"}),
    )
    .await;
    assert!(
        matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{s}"
    );

    // B acknowledged with its own order; A records it, and the order stays with A.
    let o1v = eventually("110 to accept", || async {
        let o = order(&a, &agent, o1).await;
        (o["transfers"][0]["state"] == "accepted").then_some(o)
    })
    .await;
    let b_number = o1v["transfers"][0]["remote_ref"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(o1v["status"]["code"], "pending_review");
    // The unreachable gas company: three attempts, then the transfer fails, said in history.
    eventually("the gas transfer to fail", || async {
        let o = order(&a, &agent, o1).await;
        (o["transfers"][1]["state"] == "failed").then_some(())
    })
    .await;
    let (_, ts) = get(&agent, a.url(&format!("/api/orders/{o1}/transfers"))).await;
    let gas_row = ts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["peer_id"] == gas)
        .unwrap()
        .clone();
    assert_eq!(
        (gas_row["state"].as_str(), gas_row["attempts"].as_u64()),
        (Some("failed"), Some(3)),
        "{ts}"
    );

    // On B: an order from the 12345 platform, with the citizen and the reason.
    let b_disp = b.login("dispatcher").await;
    let (_, list) = get(&b_disp, b.url(&format!("/api/orders?number={b_number}"))).await;
    let bo = list["items"][0].clone();
    let bo_id = bo["id"].as_i64().unwrap();
    let bo = order(&b, &b_disp, bo_id).await;
    assert_eq!(bo["channel"]["code"], "api", "{bo}");
    assert_eq!(bo["flags"]["emergency"], true);
    assert_eq!(bo["citizen"]["phone"], "13800138000");
    // B's acceptance reaches A first (a change made before B reports would arrive as the
    // latest state instead, by design).
    eventually("B's acceptance to reach A", || async {
        let ev = events(&a, &agent, o1).await;
        ev.iter()
            .any(|e| e["kind"] == "transfer_status" && e["payload"]["status"] == "待审核")
            .then_some(())
    })
    .await;
    // B handles it; every change is reported back into A's order history.
    let (s, v) = call(
        &b_disp,
        b.url(&format!("/api/orders/{bo_id}/dispatch")),
        json!({"targets": [{"unit_id": b.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let b_handler = b.login("handler").await;
    call(
        &b_handler,
        b.url(&format!("/api/orders/{bo_id}/sign")),
        json!({}),
    )
    .await;
    let (s, v) = call(
        &b_handler,
        b.url(&format!("/api/orders/{bo_id}/reply")),
        json!({"content": "民警已到场，燃气公司已关阀，伤者送医。", "contacted_citizen": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let reports = eventually("B's reply to reach A", || async {
        let ev = events(&a, &agent, o1).await;
        let reports: Vec<Value> = ev
            .into_iter()
            .filter(|e| e["kind"] == "transfer_status")
            .collect();
        reports
            .iter()
            .any(|r| {
                r["payload"]["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("燃气公司已关阀"))
            })
            .then_some(reports)
    })
    .await;
    let labels: Vec<&str> = reports
        .iter()
        .map(|r| r["payload"]["status"].as_str().unwrap())
        .collect();
    // The latest state each time B reports (quick changes arrive as the last of them), in
    // lifecycle order, each once: from 待审核 to 待核验.
    let lifecycle = ["待审核", "待签收", "办理中", "待核验"];
    let pos: Vec<usize> = labels
        .iter()
        .map(|l| lifecycle.iter().position(|x| x == l).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{labels:?}");
    assert_eq!(
        (labels[0], *labels.last().unwrap()),
        ("待审核", "待核验"),
        "{labels:?}"
    );
    let o1v = order(&a, &agent, o1).await;
    assert_eq!(o1v["transfers"][0]["remote_status"], "待核验");
    assert_eq!(o1v["status"]["code"], "pending_review");

    // A plain transfer closes the order once accepted (转办结).
    let o2 = a
        .accept(
            &agent,
            json!({"content": "有人在小区门口打架斗殴，请警察处理。"}),
        )
        .await;
    let o2 = o2["id"].as_i64().unwrap();
    let (s, v) = call(
        &agent,
        tr(o2),
        json!({"peer_id": police, "reason": "治安案件，属公安职责"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let o2v = eventually("o2 to close", || async {
        let o = order(&a, &agent, o2).await;
        (o["status"]["code"] == "closed").then_some(o)
    })
    .await;
    assert_eq!(o2v["closure"]["code"], "transferred");
    let key = o2v["transfers"][0]["id"].as_str().unwrap().to_string();

    // A resend of the same transfer returns the same order on B.
    let body = json!({"from": "t1", "key": key, "order": {"channel": "api", "request_type": "report", "content": "有人在小区门口打架斗殴，请警察处理。"}});
    let (s, first) = inbound(&b, &b_for_a, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["duplicate"], true);
    assert_eq!(first["number"], o2v["transfers"][0]["remote_ref"]);
    // Bad inbound requests are refused with the field named, or for the token.
    for (body, field) in [
        (
            json!({"from": "nobody", "key": "k1", "order": {"channel": "api", "request_type": "help", "content": "x"}}),
            "from",
        ),
        (
            json!({"from": "t1", "order": {"channel": "api", "request_type": "help", "content": "x"}}),
            "key",
        ),
        (
            json!({"from": "t1", "key": "k2", "order": {"channel": "api", "request_type": "help", "content": " "}}),
            "order.content",
        ),
    ] {
        let (s, e) = inbound(&b, &b_for_a, body.clone()).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {e}"
        );
    }
    let api_only = token(&b, json!(["api"])).await;
    let (s, _) = inbound(&b, &api_only, body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The Idempotency-Key header may carry the key.
    let r = Client::new()
        .post(b.url("/api/transfer/inbound"))
        .bearer_auth(&b_for_a)
        .header("Idempotency-Key", "hdr-1")
        .json(&json!({"from": "t1", "order": {"channel": "api", "request_type": "help", "content": "路灯不亮，请维修。"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // A refusal (the platform does not accept our token) leaves the order with A.
    let o3 = a
        .accept(
            &agent,
            json!({"content": "家里停水两天了，请自来水公司尽快处理。"}),
        )
        .await;
    let o3 = o3["id"].as_i64().unwrap();
    let (s, v) = call(
        &agent,
        tr(o3),
        json!({"peer_id": refusing, "reason": "供水问题"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    eventually("the refusal", || async {
        let o = order(&a, &agent, o3).await;
        (o["transfers"][0]["state"] == "failed").then_some(())
    })
    .await;
    let ev = events(&a, &agent, o3).await;
    let failed = ev.iter().find(|e| e["kind"] == "transfer_failed").unwrap();
    assert!(
        failed["reason"].as_str().unwrap().contains("拒收"),
        "{failed}"
    );
    assert_eq!(
        order(&a, &agent, o3).await["status"]["code"],
        "pending_review"
    );
    // …and it can still be dispatched as usual.
    let (s, v) = call(
        &a.login("dispatcher").await,
        a.url(&format!("/api/orders/{o3}/dispatch")),
        json!({"targets": [{"unit_id": a.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Status reports: an unknown transfer is 404, an old one changes nothing.
    let st = |body: Value| {
        let token = a_for_b.clone();
        let url = a.url("/api/transfer/status");
        async move {
            let r = Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, _) = st(json!({"from": "t1", "key": "no-such", "seq": 9, "status": "handling"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let before = events(&a, &agent, o1).await.len();
    let (s, v) = st(json!({"from": "t1", "key": o1v["transfers"][0]["id"], "seq": 1, "status": "handling", "status_label": "旧消息"})).await;
    assert_eq!(
        (s, v["result"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    assert_eq!(events(&a, &agent, o1).await.len(), before);

    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_round_trip_between_two_platforms_on_sqlite() {
    round_trip(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_round_trip_between_two_platforms_on_postgres() {
    round_trip(Backend::Postgres).await;
}
