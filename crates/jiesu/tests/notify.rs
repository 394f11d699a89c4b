#![allow(clippy::unwrap_used)]
//! Notifications and the grid platform: order events give SMS to citizens and work messages
//! to units, sent by the (logging) adapter and listed for admins with phones masked; an order
//! dispatched to a grid cell is pushed to the grid platform, which acknowledges it, while the
//! order stays with the cell.

mod common;

use common::{TestApp, call, get};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn messages(
    t: &TestApp,
    admin: &reqwest::Client,
    order: i64,
    until: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (s, v) = get(admin, t.url(&format!("/api/messages?order_id={order}"))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let items = v["items"].as_array().unwrap().clone();
        if until(&items) {
            return items;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn citizens_and_units_are_notified_and_grid_cells_reach_the_grid_platform(t: &TestApp) {
    let admin = t.login("admin").await;
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;

    // Accepted: the citizen gets an SMS with the number, sent by the log adapter.
    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    let number = o["number"].as_str().unwrap().to_string();
    let items = messages(t, &admin, id, |m| m.iter().any(|x| x["status"] == "sent")).await;
    let sms = &items[0];
    assert_eq!(
        (sms["channel"].as_str(), sms["template"].as_str()),
        (Some("sms"), Some("accepted")),
        "{items:?}"
    );
    assert_eq!(
        sms["recipient"], "138****8000",
        "the log shows the phone masked"
    );
    assert!(sms["body"].as_str().unwrap().contains(&number));
    assert_eq!(sms["adapter"], "log");
    // Dispatched: a work message to the unit, naming it and the deadline.
    let (s, v) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = messages(t, &admin, id, |m| {
        m.iter()
            .any(|x| x["template"] == "dispatched" && x["status"] == "sent")
    })
    .await;
    let w = items
        .iter()
        .find(|x| x["template"] == "dispatched")
        .unwrap();
    assert_eq!(w["channel"], "wechat");
    assert_eq!(w["recipient"], format!("unit:{}", t.unit("P1")));
    assert!(w["body"].as_str().unwrap().contains("住建局"), "{w}");
    assert!(w["body"].as_str().unwrap().contains("签收"), "{w}");
    // Each once, however often the pass runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, v) = get(&admin, t.url(&format!("/api/messages?order_id={id}"))).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");
    // An anonymous caller gets none.
    let anon = t
        .accept(
            &agent,
            json!({"citizen": {"anonymous": true, "phone": "13900139000"}}),
        )
        .await;
    let anon_id = anon["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, v) = get(&admin, t.url(&format!("/api/messages?order_id={anon_id}"))).await;
    assert_eq!(v["items"], json!([]));
    // Admins only; bad filters named.
    let (s, _) = get(&agent, t.url("/api/messages")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = get(&admin, t.url("/api/messages?status=lost")).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );

    // The grid platform: here the server itself (a loopback round trip), registered as a
    // grid peer under its own tenant code, with a token holding the grid scope.
    let (s, tok) = call(&admin, t.url("/api/tokens"), json!({"name": "网格平台", "unit_id": t.unit("root"), "roles": ["agent"], "scopes": ["grid"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{tok}");
    let (s, v) = call(&admin, t.url("/api/transfer/peers"), json!({"code": "t1", "name": "区网格化平台", "kind": "grid", "url": t.base, "token": tok["token"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, cell) = call(
        &admin,
        t.url("/api/units"),
        json!({"parent_id": t.unit("C"), "kind": "grid", "name": "幸福社区第3网格"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{cell}");
    let cell = cell["id"].as_i64().unwrap();
    let o = t
        .accept(
            &agent,
            json!({"content": "楼道堆放杂物堵塞消防通道，请网格员处理。"}),
        )
        .await;
    let gid = o["id"].as_i64().unwrap();
    let (s, v) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{gid}/dispatch")),
        json!({"targets": [{"unit_id": cell, "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let start = Instant::now();
    let pushed = loop {
        let (_, o) = get(&dispatcher, t.url(&format!("/api/orders/{gid}"))).await;
        if o["transfers"][0]["state"] == "accepted" {
            break o;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "not pushed: {o}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let tr = &pushed["transfers"][0];
    assert_eq!(
        (tr["kind"].as_str(), tr["close_on_accept"].as_bool()),
        (Some("grid"), Some(false)),
        "{tr}"
    );
    assert!(tr["reason"].as_str().unwrap().contains("幸福社区第3网格"));
    // The order stays with the cell, which still signs and replies here.
    assert_eq!(pushed["status"]["code"], "dispatched");
    // The grid platform's order carries the grid channel.
    let remote = tr["remote_ref"].as_str().unwrap();
    let (_, list) = get(&dispatcher, t.url(&format!("/api/orders?number={remote}"))).await;
    assert_eq!(list["items"][0]["channel"]["code"], "grid", "{list}");
    // The cell got its work message.
    let (_, v) = get(&admin, t.url(&format!("/api/messages?order_id={gid}"))).await;
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["recipient"] == format!("unit:{cell}")),
        "{v}"
    );
}

on_both_backends! {
    citizens_and_units_are_notified_and_grid_cells_reach_the_grid_platform => super::citizens_and_units_are_notified_and_grid_cells_reach_the_grid_platform,
}
