#![allow(clippy::unwrap_used)]
//! Telephony over HTTP: the call centre posts call events with its token; the centre gets
//! 接通率 and answer times from them, and every abandoned call's caller waits in the missed-call
//! queue (漏话回拨) until called back, the attempts run out, or they get through themselves.

mod common;

use chrono::{Duration, FixedOffset, Utc};
use common::{TestApp, call, get};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn token(t: &TestApp, scopes: Value) -> String {
    let (s, v) = call(
        &t.login("admin").await,
        t.url("/api/tokens"),
        json!({"name": "呼叫中心", "unit_id": t.unit("root"), "roles": ["agent"], "scopes": scopes}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn event(t: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let r = Client::new()
        .post(t.url("/api/telephony/events"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn at(base: chrono::DateTime<Utc>, secs: i64) -> String {
    (base + Duration::seconds(secs)).to_rfc3339()
}

async fn calls_give_connect_rate_and_a_missed_call_queue(t: &TestApp) {
    let tel = token(t, json!(["telephony"])).await;
    let api_only = token(t, json!(["api"])).await;
    let t0 = Utc::now() - Duration::minutes(10);
    let ok = |v: (StatusCode, Value), result: &str| {
        assert_eq!(v.0, StatusCode::OK, "{}", v.1);
        assert_eq!(v.1["result"], result, "{}", v.1);
    };

    // A: answered after 10 s by agent 1001, talk 120 s.
    ok(event(t, &tel, json!({"call_id": "A", "event": "incoming", "at": at(t0, 0), "caller": "138 0000 0001", "line": "12345"})).await, "applied");
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "A", "event": "answered", "at": at(t0, 10), "agent": "1001"}),
        )
        .await,
        "applied",
    );
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "A", "event": "ended", "at": at(t0, 130)}),
        )
        .await,
        "applied",
    );
    // B and C: the same caller gives up twice: one queue item, two calls missed.
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "B", "event": "incoming", "at": at(t0, 20), "caller": "13800000002"}),
        )
        .await,
        "applied",
    );
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "B", "event": "abandoned", "at": at(t0, 50)}),
        )
        .await,
        "applied",
    );
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "C", "event": "incoming", "at": at(t0, 60), "caller": "13800000002"}),
        )
        .await,
        "applied",
    );
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "C", "event": "ended", "at": at(t0, 70)}),
        )
        .await,
        "applied",
    );
    // D: the first event heard of the call is its abandonment.
    ok(event(t, &tel, json!({"call_id": "D", "event": "abandoned", "at": at(t0, 80), "caller": "13800000003"})).await, "applied");
    // E gives up, then F from the same number gets through: the item settles by itself.
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "E", "event": "incoming", "at": at(t0, 90), "caller": "13800000004"}),
        )
        .await,
        "applied",
    );
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "E", "event": "abandoned", "at": at(t0, 95)}),
        )
        .await,
        "applied",
    );
    ok(event(t, &tel, json!({"call_id": "F", "event": "incoming", "at": at(t0, 200), "caller": "13800000004"})).await, "applied");
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "F", "event": "answered", "at": at(t0, 205), "agent": "1002"}),
        )
        .await,
        "applied",
    );

    // Resends change nothing; contradictions and bad input are refused with the field named.
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "B", "event": "abandoned", "at": at(t0, 50)}),
        )
        .await,
        "duplicate",
    );
    ok(
        event(
            t,
            &tel,
            json!({"call_id": "A", "event": "incoming", "at": at(t0, 0), "caller": "13800000001"}),
        )
        .await,
        "duplicate",
    );
    let (s, e) = event(
        t,
        &tel,
        json!({"call_id": "B", "event": "answered", "at": at(t0, 55), "agent": "1001"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    for (body, field) in [
        (
            json!({"call_id": "G", "event": "ringing", "at": at(t0, 1), "caller": "13800000009"}),
            "event",
        ),
        (
            json!({"call_id": "G", "event": "incoming", "at": at(t0, 1)}),
            "caller",
        ),
        (
            json!({"call_id": "G", "event": "incoming", "at": at(t0, 1), "caller": "匿名"}),
            "caller",
        ),
        (
            json!({"call_id": "H", "event": "answered", "at": at(t0, 1), "agent": "1001"}),
            "caller",
        ),
        (
            json!({"call_id": "A2", "event": "answered", "at": at(t0, 1), "caller": "13800000009"}),
            "agent",
        ),
        (
            json!({"call_id": "", "event": "incoming", "at": at(t0, 1), "caller": "13800000009"}),
            "call_id",
        ),
        (
            json!({"call_id": "G", "event": "incoming", "at": "yesterday", "caller": "13800000009"}),
            "at",
        ),
        (
            json!({"call_id": "G", "event": "incoming", "at": at(Utc::now(), 3600), "caller": "13800000009"}),
            "at",
        ),
    ] {
        let (s, e) = event(t, &tel, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
    }
    // Only a token with the telephony scope may post; a session may not.
    let body =
        json!({"call_id": "X", "event": "incoming", "at": at(t0, 1), "caller": "13800000009"});
    assert_eq!(
        event(t, &api_only, body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        event(t, "jst_nonsense", body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let agent = t.login("agent").await;
    let (s, _) = call(&agent, t.url("/api/telephony/events"), body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // …and the telephony token cannot use the JSON API.
    let r = Client::new()
        .get(t.url("/api/orders"))
        .bearer_auth(&tel)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The queue: the callers waiting, oldest first, numbers in clear for agents only.
    let (s, q) = get(&agent, t.url("/api/telephony/missed")).await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let items = q["items"].as_array().unwrap();
    let callers: Vec<&str> = items
        .iter()
        .map(|i| i["caller"].as_str().unwrap())
        .collect();
    assert_eq!(callers, ["13800000002", "13800000003"], "{q}");
    assert_eq!(items[0]["missed"], 2);
    assert_eq!(items[0]["first_call_id"], "B");
    let (twice, once) = (
        items[0]["id"].as_i64().unwrap(),
        items[1]["id"].as_i64().unwrap(),
    );
    let (_, sq) = get(&t.login("supervisor").await, t.url("/api/telephony/missed")).await;
    assert_eq!(sq["items"][0]["caller"], "138****0002", "{sq}");
    assert_eq!(sq["items"][0]["caller_masked"], true);
    let (s, _) = get(&t.login("handler").await, t.url("/api/telephony/missed")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The caller who got through is settled by the system.
    let (_, done) = get(&agent, t.url("/api/telephony/missed?status=done")).await;
    assert_eq!(done["items"][0]["caller"], "13800000004", "{done}");
    assert_eq!(done["items"][0]["result"], "called_in");

    // Calling back: three unanswered attempts close an item as unreachable…
    let cb = |id: i64| t.url(&format!("/api/telephony/missed/{id}/callback"));
    for n in 1..=3 {
        let (s, v) = call(
            &agent,
            cb(once),
            json!({"outcome": "not_reached", "note": format!("第{n}次无人接听")}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["attempts"], n);
        assert_eq!(v["status"], if n < 3 { "pending" } else { "done" });
    }
    let (_, d) = get(&agent, t.url(&format!("/api/telephony/missed/{once}"))).await;
    assert_eq!(d["item"]["result"], "unreachable", "{d}");
    let actions: Vec<&str> = d["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "missed",
            "not_reached",
            "not_reached",
            "not_reached",
            "unreachable"
        ]
    );
    assert!(
        d["log"][1]["by_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(d["log"][0]["note"], "D");
    // …reaching the caller closes it with the order the call opened.
    let order = t.accept(&agent, json!({"channel": "phone"})).await;
    let (s, e) = call(&agent, cb(twice), json!({"outcome": "maybe"})).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("outcome"))
    );
    let (s, e) = call(
        &agent,
        cb(twice),
        json!({"outcome": "reached", "order_id": 999_999}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("order_id"))
    );
    let (s, e) = call(
        &t.login("supervisor").await,
        cb(twice),
        json!({"outcome": "reached"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (s, v) = call(
        &agent,
        cb(twice),
        json!({"outcome": "reached", "note": "已受理为工单", "order_id": order["id"]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["result"].as_str()),
        (Some("done"), Some("reached"))
    );
    assert_eq!(v["order_id"], order["id"]);
    let (s, _) = call(&agent, cb(twice), json!({"outcome": "reached"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(&agent, cb(424_242), json!({"outcome": "reached"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, q) = get(&agent, t.url("/api/telephony/missed")).await;
    assert_eq!(q["items"], json!([]), "nothing left to call back");
    // Another tenant sees none of it.
    let other = t.login_tenant("agent2", "t2").await;
    let (_, q) = get(&other, t.url("/api/telephony/missed?status=done")).await;
    assert_eq!(q["items"], json!([]));

    // The figures: 6 calls, 2 answered (10 s and 5 s), 4 abandoned.
    let china = FixedOffset::east_opt(8 * 3600).unwrap();
    let from = t0.with_timezone(&china).date_naive();
    let to = Utc::now().with_timezone(&china).date_naive();
    let sup = t.login("supervisor").await;
    let (s, st) = get(
        &sup,
        t.url(&format!("/api/telephony/stats?from={from}&to={to}")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(
        (
            st["offered"].as_u64(),
            st["answered"].as_u64(),
            st["abandoned"].as_u64()
        ),
        (Some(6), Some(2), Some(4)),
        "{st}"
    );
    assert_eq!(st["connect_rate"].as_f64().unwrap(), 2.0 / 6.0);
    assert_eq!(st["service_level"].as_f64().unwrap(), 2.0 / 6.0);
    assert_eq!(st["avg_answer_s"], 7.5);
    assert_eq!(st["avg_talk_s"], 120.0);
    // Abandoned after 30, 10, 0 (first heard when abandoned) and 5 s.
    assert_eq!(st["avg_abandon_s"], 11.25);
    assert_eq!(st["max_wait_s"], 30.0);
    assert_eq!(
        st["agents"],
        json!([
            {"agent": "1001", "answered": 1, "avg_answer_s": 10.0, "avg_talk_s": 120.0},
            {"agent": "1002", "answered": 1, "avg_answer_s": 5.0, "avg_talk_s": null},
        ])
    );
    let m = &st["missed"];
    assert_eq!(
        (
            m["items"].as_u64(),
            m["pending"].as_u64(),
            m["reached"].as_u64(),
            m["called_in"].as_u64(),
            m["unreachable"].as_u64()
        ),
        (Some(3), Some(0), Some(1), Some(1), Some(1)),
        "{st}"
    );
    assert_eq!(m["recovery_rate"].as_f64().unwrap(), 2.0 / 3.0);
    let (s, _) = get(
        &agent,
        t.url(&format!("/api/telephony/stats?from={from}&to={to}")),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = get(
        &sup,
        t.url("/api/telephony/stats?from=2026-13-01&to=2026-12-01"),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("from"))
    );

    // 接通率 joins the centre's rates (and only the whole centre's).
    let (_, r) = get(
        &sup,
        t.url(&format!("/api/stats/rates?from={from}&to={to}")),
    )
    .await;
    assert_eq!(r["connect_rate"], 0.3333, "{r}");
    assert_eq!(
        r["calls"],
        json!({"offered": 6, "answered": 2, "abandoned": 4})
    );
    let (_, r) = get(
        &sup,
        t.url(&format!(
            "/api/stats/rates?from={from}&to={to}&unit={}",
            t.unit("P1")
        )),
    )
    .await;
    assert_eq!(r["connect_rate"], Value::Null, "{r}");
}

on_both_backends! {
    calls_give_connect_rate_and_a_missed_call_queue => super::calls_give_connect_rate_and_a_missed_call_queue,
}
