#![allow(clippy::unwrap_used)]
//! The callback loop over HTTP, on SQLite and PostgreSQL: attempts that do not reach the
//! citizen (the third closes the order without callback), and re-handling limited to two
//! rounds before an unsatisfied order is handed to supervision.

mod common;

use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn step(c: &Client, t: &TestApp, id: i64, command: &str, body: Value) -> Value {
    let (s, o) = call(c, t.url(&format!("/api/orders/{id}/{command}")), body).await;
    assert_eq!(s, StatusCode::OK, "{command}: {o}");
    o
}

/// An order replied and checked, waiting for its callback.
async fn waiting_for_callback(t: &TestApp) -> i64 {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let id = t.accept(&agent, json!({})).await["id"].as_i64().unwrap();
    let to_p1 = json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]});
    step(&dispatcher, t, id, "dispatch", to_p1).await;
    step(&handler, t, id, "sign", json!({})).await;
    replied_and_checked(t, id).await;
    id
}

async fn replied_and_checked(t: &TestApp, id: i64) {
    let handler = t.login("handler").await;
    let dispatcher = t.login("dispatcher").await;
    let reply = json!({"content": "已处理", "contacted_citizen": true});
    step(&handler, t, id, "reply", reply).await;
    let o = step(&dispatcher, t, id, "check", json!({"approve": true})).await;
    assert_eq!(o["status"]["code"], "callback_pending");
}

async fn three_unanswered_callbacks_close_the_order_without_callback(t: &TestApp) {
    let id = waiting_for_callback(t).await;
    let cb = t.login("callback").await;
    let agent = t.login("agent").await;
    let url = t.url(&format!("/api/orders/{id}/callback-attempt"));
    let (s, _) = call(&agent, url.clone(), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = call(&cb, url.clone(), json!({"note": "无人接听", "x": 1})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    for n in 1..=2 {
        let o = step(&cb, t, id, "callback-attempt", json!({"note": "无人接听"})).await;
        assert_eq!(o["callback_attempts"], n);
        assert_eq!(o["status"]["code"], "callback_pending");
    }
    let o = step(&cb, t, id, "callback-attempt", json!({"note": "关机"})).await;
    assert_eq!(o["status"]["code"], "closed");
    assert_eq!(o["closure"]["code"], "without_callback");
    let (s, _) = call(&cb, url, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, h) = get(&cb, t.url(&format!("/api/orders/{id}/events"))).await;
    let tail: Vec<(&str, &str)> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(4)
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        tail,
        [
            ("closed_without_callback", "连续 3 次回访未接通"),
            ("callback_not_reached", "关机"),
            ("callback_not_reached", "无人接听"),
            ("callback_not_reached", "无人接听"),
        ]
    );
}

async fn an_order_still_unsatisfied_after_two_rounds_goes_to_supervision(t: &TestApp) {
    let id = waiting_for_callback(t).await;
    let cb = t.login("callback").await;
    let unsatisfied =
        json!({"satisfaction": "dissatisfied", "resolved": false, "comment": "问题依旧"});
    for round in 1..=2 {
        let o = step(&cb, t, id, "callback", unsatisfied.clone()).await;
        assert_eq!(o["status"]["code"], "handling");
        assert_eq!(o["rehandle_count"], round);
        replied_and_checked(t, id).await;
    }
    let o = step(&cb, t, id, "callback", unsatisfied).await;
    assert_eq!(o["status"]["code"], "closed");
    assert_eq!(o["escalated"], true);
    let (_, h) = get(&cb, t.url(&format!("/api/orders/{id}/events"))).await;
    let last = h["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["label"], "回访不满意，转督办");
    assert_eq!(last["actor"]["username"], "callback");
}

on_both_backends! {
    three_unanswered_callbacks_close_the_order_without_callback => super::three_unanswered_callbacks_close_the_order_without_callback,
    an_order_still_unsatisfied_after_two_rounds_goes_to_supervision => super::an_order_still_unsatisfied_after_two_rounds_goes_to_supervision,
}
