#![allow(clippy::unwrap_used)]
//! The citizen portal (码上说) over HTTP, on SQLite and PostgreSQL: submit without a login,
//! follow with the query code, read the checked reply, rate it.

mod common;

use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn public(t: &TestApp, path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    t.url(&format!("/api/public{path}{sep}tenant=t1"))
}

fn labels(p: &Value) -> Vec<String> {
    p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_string())
        .collect()
}

async fn order_count(t: &TestApp, c: &Client) -> u64 {
    let (_, l) = get(c, t.url("/api/orders?limit=1")).await;
    l["total"].as_u64().unwrap()
}

async fn a_citizen_submits_follows_and_rates_a_request(t: &TestApp) {
    let citizen = Client::new();
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;

    let (s, meta) = get(&citizen, public(t, "/meta")).await;
    assert_eq!(s, StatusCode::OK, "{meta}");
    assert_eq!(meta["centre_name"], "测试市12345热线");
    assert!(!meta["categories"].as_array().unwrap().is_empty());
    assert!(
        meta["request_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "complaint")
    );

    // Bad input names the field and stores nothing.
    let before = order_count(t, &dispatcher).await;
    let good = json!({
        "request_type": "complaint", "category": "01.01.01", "region_code": "990101001",
        "address": "幸福小区3号楼", "content": "小区门口道路破损严重，雨天积水，老人出行不便。",
        "name": "李女士", "phone": "13900139000"
    });
    for (patch, field) in [
        (json!({"phone": null}), "phone"),
        (json!({"phone": "12345"}), "phone"),
        (json!({"content": "  "}), "content"),
        (json!({"category": "99.99"}), "category"),
        (json!({"request_type": "gossip"}), "request_type"),
        (json!({"channel": "police_110"}), "channel"),
        (json!({"status": "closed"}), "status"),
    ] {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, e) = call(&citizen, public(t, "/requests"), body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    assert_eq!(order_count(t, &dispatcher).await, before);

    let (s, sub) = call(&citizen, public(t, "/requests"), good.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let number = sub["number"].as_str().unwrap().to_string();
    let code = sub["query_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 8);
    assert_eq!(order_count(t, &dispatcher).await, before + 1);

    // Following needs the right code; a wrong one looks like an unknown number.
    let follow = |c: &str| public(t, &format!("/requests/{number}?code={c}"));
    let (s, e) = get(&citizen, follow("AAAAAAAA")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = get(
        &citizen,
        t.url(&format!(
            "/api/public/requests/{number}?code={code}&tenant=t2"
        )),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another hotline does not know it");
    let (s, p) = get(&citizen, follow(&code.to_lowercase())).await;
    assert_eq!(s, StatusCode::OK, "codes are case-insensitive: {p}");
    assert_eq!(p["status"], "pending_review");
    assert_eq!(labels(&p), vec!["您的诉求已受理"]);
    assert!(p["reply"].is_null());
    assert_eq!(p["can_rate"], false);
    assert_eq!(
        p["category_label"].as_str().map(|s| !s.is_empty()),
        Some(true)
    );
    let (s, e) = call(
        &citizen,
        public(t, &format!("/requests/{number}/rating")),
        json!({"code": code, "satisfaction": "satisfied"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "nothing to rate yet: {e}");

    // Staff see an ordinary web order, accepted by the portal, with the citizen's details.
    let (_, list) = get(&dispatcher, t.url(&format!("/api/orders?number={number}"))).await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    assert_eq!(list["items"][0]["channel"]["code"], "web");
    let (_, ev) = get(&dispatcher, t.url(&format!("/api/orders/{id}/events"))).await;
    assert_eq!(ev["items"][0]["actor"]["username"], "citizen-portal");
    assert!(
        ev["items"][0]["payload"]["order"]
            .get("query_code_hash")
            .is_none(),
        "the code's hash stays inside: {}",
        ev["items"][0]["payload"]
    );

    // Dispatched, signed and replied: the citizen sees the steps, not yet the reply.
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let (s, _) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/sign")),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/reply")),
        json!({"content": "已安排施工队修补路面，预计三日内完工。", "contacted_citizen": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, p) = get(&citizen, follow(&code)).await;
    assert_eq!(
        labels(&p),
        vec![
            "您的诉求已受理",
            "已转交住建局办理",
            "住建局已接收，正在办理",
            "住建局已提交办理结果"
        ]
    );
    assert!(p["reply"].is_null(), "the centre checks the reply first");

    let (s, _) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/check")),
        json!({"approve": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, p) = get(&citizen, follow(&code)).await;
    assert_eq!(p["reply"]["unit_name"], "住建局");
    assert_eq!(
        p["reply"]["content"],
        "已安排施工队修补路面，预计三日内完工。"
    );
    assert_eq!(p["can_rate"], true);

    // Dissatisfied: back to the unit for re-handling.
    let (s, bad) = call(
        &citizen,
        public(t, &format!("/requests/{number}/rating")),
        json!({"code": code, "satisfaction": "so-so"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["error"]["field"], "satisfaction");
    let (s, p) = call(
        &citizen,
        public(t, &format!("/requests/{number}/rating")),
        json!({"code": code, "satisfaction": "dissatisfied", "comment": "路面还没修"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["status"], "handling");
    assert_eq!(p["can_rate"], false);
    assert!(labels(&p).last().unwrap().contains("重新办理"), "{p}");
    let (_, ev) = get(&dispatcher, t.url(&format!("/api/orders/{id}/events"))).await;
    let last = ev["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "called_back");
    assert_eq!(last["actor"]["username"], "citizen-portal");
    assert_eq!(last["reason"], "市民网上评价：路面还没修");

    let (s, _) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/reply")),
        json!({"content": "路面已修补完毕，经现场复查无积水。"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/check")),
        json!({"approve": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = call(
        &citizen,
        public(t, &format!("/requests/{number}/rating")),
        json!({"code": code, "satisfaction": "satisfied", "comment": "谢谢"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["status"], "closed");
    assert_eq!(p["rating"]["satisfaction"], "satisfied");
    assert_eq!(p["reply"]["content"], "路面已修补完毕，经现场复查无积水。");
    let (s, e) = call(
        &citizen,
        public(t, &format!("/requests/{number}/rating")),
        json!({"code": code, "satisfaction": "dissatisfied"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "rated once: {e}");
    // A wrong code cannot rate either.
    let (s, _) = call(
        &citizen,
        public(t, &format!("/requests/{number}/rating")),
        json!({"code": "WRONG234", "satisfaction": "satisfied"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

on_both_backends! {
    a_citizen_submits_follows_and_rates_a_request => super::a_citizen_submits_follows_and_rates_a_request,
}
