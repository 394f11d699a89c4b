#![allow(clippy::unwrap_used)]
//! Bad input gets a clear 4xx naming the field, and changes nothing.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn order_count(t: &TestApp) -> u64 {
    let d = t.login("dispatcher").await;
    let (_, l) = get(&d, t.url("/api/orders?limit=1")).await;
    l["total"].as_u64().unwrap()
}

async fn bad_order_bodies_are_refused_with_the_field_named_and_nothing_stored(t: &TestApp) {
    let agent = t.login("agent").await;
    let before = order_count(t).await;
    let long = "长".repeat(10_001);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"request_type": "help", "content": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "channel",
        ),
        (
            json!({"channel": "phone", "request_type": "help"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "citizen": {"nickname": "a"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "citizen.nickname",
        ),
        (
            json!({"channel": "fax", "request_type": "help", "content": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "channel",
        ),
        (
            json!({"channel": "phone", "request_type": "gossip", "content": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request_type",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": long}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "region_code": "990199"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "region_code",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "region_code": "99"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "region_code",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "category": "77.77"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "category",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "citizen": {"phone": "12345"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "citizen.phone",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "citizen": {"id_number": "110101199003071234"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "citizen.id_number",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "lat": 123.0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lat",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "urgency": 3}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "urgency",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "flags": {"needs_contact": true}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "citizen.phone",
        ),
        (
            json!({"channel": "phone", "request_type": "help", "content": "x", "instant_answer": {"knowledge_entry_id": ""}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "knowledge_entry_id",
        ),
        (json!([1, 2]), StatusCode::UNPROCESSABLE_ENTITY, ""),
    ];
    for (body, status, field) in cases {
        let (s, e) = call(&agent, t.url("/api/orders"), body.clone()).await;
        assert_eq!(s, status, "{body}: {e}");
        assert_eq!(e["error"]["code"], "invalid_input", "{e}");
        if !field.is_empty() {
            assert_eq!(e["error"]["field"], field, "{body}: {e}");
        }
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Malformed JSON and a wrong media type.
    let r = agent
        .post(t.url("/api/orders"))
        .header("content-type", "application/json")
        .body("{\"channel\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "malformed_request");
    let r = agent
        .post(t.url("/api/orders"))
        .body("channel=phone")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A body over the limit is refused before it is read.
    let huge = format!("{{\"content\": \"{}\"}}", "x".repeat(300 * 1024));
    let r = agent
        .post(t.url("/api/orders"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Wrong role.
    let leader = t.login("leader").await;
    let (s, e) = call(
        &leader,
        t.url("/api/orders"),
        json!({"channel": "phone", "request_type": "help", "content": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(e["error"]["code"], "forbidden");
    assert_eq!(order_count(t).await, before, "nothing was stored");
}

async fn bad_commands_are_refused_and_leave_the_order_as_it_was(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    let url = |p: &str| t.url(&format!("/api/orders/{id}/{p}"));
    let cases: Vec<(&str, Value, StatusCode, Option<&str>)> = vec![
        (
            "dispatch",
            json!({"targets": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets"),
        ),
        (
            "dispatch",
            json!({"targets": [{"unit_id": t.unit("P1"), "role": "co"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets"),
        ),
        (
            "dispatch",
            json!({"targets": [{"unit_id": 999999, "role": "lead"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets[0].unit_id"),
        ),
        (
            "dispatch",
            json!({"targets": [{"unit_id": t.unit("P1"), "role": "boss"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets[0].role"),
        ),
        (
            "dispatch",
            json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}, {"unit_id": t.unit("P1"), "role": "co"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets[1].unit_id"),
        ),
        (
            "dispatch",
            json!({"targets": [{"unit_id": "P1", "role": "lead"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets[0].unit_id"),
        ),
        (
            "dispatch",
            json!({"targets": [{"unit_id": t.unit("root2"), "role": "lead"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets[0].unit_id"),
        ),
        (
            "withdraw",
            json!({"reason": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("reason"),
        ),
        (
            "withdraw",
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("reason"),
        ),
        ("sign", json!({}), StatusCode::FORBIDDEN, None),
        (
            "reply",
            json!({"content": "x"}),
            StatusCode::FORBIDDEN,
            None,
        ),
        (
            "check",
            json!({"approve": true}),
            StatusCode::CONFLICT,
            None,
        ),
        (
            "callback",
            json!({"satisfaction": "happy", "resolved": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("satisfaction"),
        ),
        (
            "merge",
            json!({"target_id": id, "reason": "自身"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("target_id"),
        ),
        (
            "merge",
            json!({"reason": "无目标"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("target_id"),
        ),
        (
            "amend",
            json!({"reason": "无改动"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("request_type"),
        ),
        ("nonsense", json!({}), StatusCode::NOT_FOUND, None),
    ];
    let (_, before) = get(&dispatcher, t.url(&format!("/api/orders/{id}"))).await;
    for (cmd, body, status, field) in cases {
        let (s, e) = call(&dispatcher, url(cmd), body.clone()).await;
        assert_eq!(s, status, "{cmd} {body}: {e}");
        if let Some(f) = field {
            assert_eq!(e["error"]["field"], f, "{cmd} {body}: {e}");
        }
    }
    let (_, after) = get(&dispatcher, t.url(&format!("/api/orders/{id}"))).await;
    assert_eq!(before, after, "refused commands changed the order");
    let (_, h) = get(&dispatcher, t.url(&format!("/api/orders/{id}/events"))).await;
    assert_eq!(h["items"].as_array().unwrap().len(), 1);
    // Unknown order, and a malformed id.
    let (s, _) = get(&dispatcher, t.url("/api/orders/987654")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = dispatcher
        .get(t.url("/api/orders/abc"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    // Bad list parameters name the parameter.
    for (q, field) in [
        ("status=open", "status"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("sort=price", "sort"),
        ("cursor=%%%", "cursor"),
        ("from=yesterday", "from"),
        ("number=abc", "number"),
        ("assignment_status=handling", "assignment_status"),
        ("unit=999999", "unit"),
        ("region=12", "region"),
    ] {
        let (s, e) = get(&dispatcher, t.url(&format!("/api/orders?{q}"))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
        assert_eq!(e["error"]["field"], field, "{q}: {e}");
    }
}

async fn one_bad_order_in_a_group_commit_does_not_fail_the_others(t: &TestApp) {
    let agent = t.login("agent").await;
    let before = order_count(t).await;
    let first = t
        .accept(&agent, json!({"channel": "api", "external_ref": "DUP-1"}))
        .await;
    assert!(first["id"].is_i64());
    // Many at once, so that they share commits; one of them repeats a source id.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = agent.clone();
        let url = t.url("/api/orders");
        let external = if i == 17 {
            "DUP-1".to_string()
        } else {
            format!("OK-{i}")
        };
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .json(&json!({"channel": "api", "request_type": "help", "content": format!("并发 {i}"), "external_ref": external}))
                .send()
                .await
                .unwrap();
            r.status()
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (39, 1));
    assert_eq!(
        order_count(t).await,
        before + 40,
        "the first and 39 of the 40"
    );
    let d = t.login("dispatcher").await;
    let (_, l) = get(&d, t.url("/api/orders?limit=200&channel=api")).await;
    let mut numbers: Vec<String> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap().to_string())
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 40, "unique numbers");
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

on_both_backends! {
    one_bad_order_in_a_group_commit_does_not_fail_the_others => super::one_bad_order_in_a_group_commit_does_not_fail_the_others,
    bad_order_bodies_are_refused_with_the_field_named_and_nothing_stored => super::bad_order_bodies_are_refused_with_the_field_named_and_nothing_stored,
    bad_commands_are_refused_and_leave_the_order_as_it_was => super::bad_commands_are_refused_and_leave_the_order_as_it_was,
}
