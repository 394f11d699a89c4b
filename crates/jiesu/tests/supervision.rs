#![allow(clippy::unwrap_used)]
//! Supervision over HTTP, on SQLite and PostgreSQL: a supervisor's notice (督办单) to the
//! unit handling an order, the unit's in-app notice and pending list, its response, the
//! order's history, and the supervisor's board.

mod common;

use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn step(c: &Client, t: &TestApp, id: i64, command: &str, body: Value) -> Value {
    let (s, o) = call(c, t.url(&format!("/api/orders/{id}/{command}")), body).await;
    assert_eq!(s, StatusCode::OK, "{command}: {o}");
    o
}

fn ids(list: &Value) -> Vec<i64> {
    ids_in(list, "items")
}

async fn a_supervision_notice_reaches_the_unit_and_its_answer_the_history(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let supervisor = t.login("supervisor").await;
    let handler = t.login("handler").await;
    let handler2 = t.login("handler2").await;
    let id = t.accept(&agent, json!({})).await["id"].as_i64().unwrap();
    let url = t.url(&format!("/api/orders/{id}/supervise"));
    let notice = json!({"kind": "supervision", "level": "key", "content": "请于明日前上报整改进展", "respond_within_hours": 24});
    // Not yet with a unit: a notice needs someone to address.
    let (s, e) = call(&supervisor, url.clone(), notice.clone()).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unit_id"))
    );
    let to_p1 = json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]});
    step(&dispatcher, t, id, "dispatch", to_p1).await;
    // Only supervisors issue notices; the addressee must handle the order; a time is due.
    let (s, _) = call(&dispatcher, url.clone(), notice.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut elsewhere = notice.clone();
    elsewhere["unit_id"] = json!(t.unit("P2"));
    let (s, e) = call(&supervisor, url.clone(), elsewhere).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unit_id"))
    );
    let mut late = notice.clone();
    late["respond_within_hours"] = json!(0);
    let (s, _) = call(&supervisor, url.clone(), late).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let o = step(&supervisor, t, id, "supervise", notice).await;
    assert_eq!(o["supervision"]["code"], "key");
    assert_eq!(o["notices"][0]["unit_id"], t.unit("P1"));

    // The unit is told, and finds the order among its pending notices.
    let (_, n) = get(&handler, t.url("/api/notifications?unread=true")).await;
    let kinds: Vec<&str> = n["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"supervision"), "{n}");
    let (s, l) = get(&handler, t.url("/api/orders?notice=pending")).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(ids(&l), vec![id]);
    let (_, board) = get(&supervisor, t.url("/api/supervision/board")).await;
    assert_eq!(ids(&board["notices_pending"]), vec![id]);
    assert!(ids(&board["notices_overdue"]).is_empty());

    // Only the addressed unit answers, once.
    let answer = json!({"no": 1, "content": "已约谈物业，本周完成整改"});
    let response_url = t.url(&format!("/api/orders/{id}/notice-response"));
    let (s, _) = call(&handler2, response_url.clone(), answer.clone()).await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
        "{s}"
    );
    let (s, e) = call(
        &handler,
        response_url.clone(),
        json!({"no": 9, "content": "x"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("no"))
    );
    let o = step(&handler, t, id, "notice-response", answer.clone()).await;
    assert_eq!(
        o["notices"][0]["response"]["content"],
        "已约谈物业，本周完成整改"
    );
    let (s, _) = call(&handler, response_url, answer).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, l) = get(&handler, t.url("/api/orders?notice=pending")).await;
    assert!(ids(&l).is_empty());
    let (_, h) = get(&supervisor, t.url(&format!("/api/orders/{id}/events"))).await;
    let tail: Vec<(&str, &str, &str)> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|e| {
            (
                e["label"].as_str().unwrap(),
                e["actor"]["username"].as_str().unwrap(),
                e["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        tail,
        [
            ("督办回复", "handler", "已约谈物业，本周完成整改"),
            ("发出督办单", "supervisor", "请于明日前上报整改进展")
        ]
    );
    // The printable sheet carries the order and its whole history; the citizen as each
    // reader may see them; another unit cannot print it.
    let sheet = |c: Client| {
        let url = t.url(&format!("/api/orders/{id}/sheet"));
        async move {
            let r = c.get(url).send().await.unwrap();
            let status = r.status();
            let kind = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, kind, r.text().await.unwrap())
        }
    };
    let (s, kind, html) = sheet(supervisor.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains(o["number"].as_str().unwrap()));
    assert!(
        html.contains("发出督办单") && html.contains("督办回复"),
        "{html}"
    );
    assert!(
        !html.contains("13800138000"),
        "a supervisor needs no phone number"
    );
    let (_, _, html) = sheet(t.login("callback").await).await;
    assert!(
        html.contains("13800138000"),
        "who calls citizens back sees it"
    );
    let (s, _, html) = sheet(handler.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !html.contains("13800138000"),
        "a unit sees the phone masked"
    );
    let (s, _, _) = sheet(handler2.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The board is for the centre; a bad list filter is named.
    let (s, _) = get(&handler, t.url("/api/supervision/board")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = get(&handler, t.url("/api/orders?notice=all")).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("notice"))
    );
}

async fn the_board_lists_orders_returned_twice_rehandled_and_repeated(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let supervisor = t.login("supervisor").await;
    // Returned twice by the same department.
    let disputed = t.accept(&agent, json!({})).await["id"].as_i64().unwrap();
    for _ in 0..2 {
        let to_p1 = json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]});
        step(&dispatcher, t, disputed, "dispatch", to_p1).await;
        step(
            &handler,
            t,
            disputed,
            "return",
            json!({"reason": "不属于本单位职责"}),
        )
        .await;
    }
    // A repeat: the same caller about the same issue.
    let body = json!({"title": "楼下烧烤油烟扰民", "content": "楼下烧烤摊每晚油烟很大，影响休息。", "citizen": {"name": "李四", "phone": "13911112222"}, "address": "B区和平路1号"});
    t.accept(&agent, body.clone()).await;
    let repeat = t.accept(&agent, body).await["id"].as_i64().unwrap();
    let (s, b) = get(&supervisor, t.url("/api/supervision/board")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(ids(&b["returned_twice"]), vec![disputed]);
    assert_eq!(b["returned_twice"]["total"], 1);
    assert_eq!(ids(&b["repeats"]), vec![repeat]);
    assert!(ids(&b["rehandled"]).is_empty());
}

/// 每月一题: the month's issues ranked by what went wrong, one picked with its unit, the
/// pick shown and kept once; who may read and pick.
async fn the_hardest_issues_of_the_month_are_listed_and_one_is_picked(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let supervisor = t.login("supervisor").await;
    let cb = t.login("callback").await;
    let accept = |category: &'static str, region: &'static str| {
        let agent = agent.clone();
        async move {
            t.accept(&agent, json!({"category": category, "region_code": region}))
                .await["id"]
                .as_i64()
                .unwrap()
        }
    };
    // Issue A (01.01 in district 990101): two orders, one called back dissatisfied and
    // unresolved, so re-handled: difficulty 1 + 1 + 2 × 1 = 4.
    let a = accept("01.01", "990101001").await;
    accept("01.01", "990101002").await;
    let to_p1 = json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]});
    step(&dispatcher, t, a, "dispatch", to_p1).await;
    step(&handler, t, a, "sign", json!({})).await;
    step(
        &handler,
        t,
        a,
        "reply",
        json!({"content": "已处理", "contacted_citizen": true}),
    )
    .await;
    step(&dispatcher, t, a, "check", json!({"approve": true})).await;
    step(
        &cb,
        t,
        a,
        "callback",
        json!({"satisfaction": "dissatisfied", "resolved": false}),
    )
    .await;
    // Issue B (02.01 in 990102): three orders, nothing wrong yet. Issue C: one order only.
    for _ in 0..3 {
        accept("02.01", "990102").await;
    }
    accept("03.01", "990102").await;
    let month = jiesu::app::insight::china_today()
        .format("%Y-%m")
        .to_string();
    let url = t.url(&format!("/api/supervision/hard-cases?month={month}"));
    let (s, r) = get(&supervisor, url.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let items = r["items"].as_array().unwrap();
    let keys: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["category_code"].as_str().unwrap().to_string(),
                i["district_code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("01.01".to_string(), "990101".to_string()),
            ("02.01".to_string(), "990102".to_string())
        ],
        "{r}"
    );
    assert_eq!(items[0]["difficulty"], 4);
    assert_eq!(items[0]["counts"]["accepted"], 2);
    assert_eq!(items[0]["counts"]["rehandled"], 1);
    assert_eq!(items[0]["resolution_rate"], 0.0);
    assert_eq!(items[1]["difficulty"], 0);
    assert_eq!(items[1]["counts"]["accepted"], 3);
    assert!(items[0]["picked"].is_null());
    // The supervisor picks issue A and names 住建局; once only.
    let pick_url = t.url(&format!("/api/supervision/hard-cases/{month}"));
    let pick = json!({"category": "01.01", "district": "990101", "unit_id": t.unit("P1"), "note": "本月集中治理：小区油烟扰民"});
    let (s, e) = call(&t.login("leader").await, pick_url.clone(), pick.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    for (bad, field) in [
        (
            json!({"category": "01.01.01", "district": "990101", "note": "x"}),
            "category",
        ),
        (
            json!({"category": "01.01", "district": "990101001", "note": "x"}),
            "district",
        ),
        (
            json!({"category": "01.01", "district": "990101", "note": " "}),
            "note",
        ),
    ] {
        let (s, e) = call(&supervisor, pick_url.clone(), bad).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{e}"
        );
    }
    let (s, e) = call(&supervisor, pick_url.clone(), pick.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{e}");
    let (s, _) = call(&supervisor, pick_url, pick).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, r) = get(&supervisor, url.clone()).await;
    let picked = &r["items"][0]["picked"];
    assert_eq!(picked["unit_name"], "住建局", "{r}");
    assert_eq!(picked["note"], "本月集中治理：小区油烟扰民");
    assert!(r["items"][1]["picked"].is_null());
    // A unit's staff do not read the centre's list; a bad month is named.
    let (s, _) = get(&t.login("unit_admin").await, url).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = get(
        &supervisor,
        t.url("/api/supervision/hard-cases?month=2026-13"),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("month"))
    );
}

on_both_backends! {
    the_hardest_issues_of_the_month_are_listed_and_one_is_picked => super::the_hardest_issues_of_the_month_are_listed_and_one_is_picked,
    a_supervision_notice_reaches_the_unit_and_its_answer_the_history => super::a_supervision_notice_reaches_the_unit_and_its_answer_the_history,
    the_board_lists_orders_returned_twice_rehandled_and_repeated => super::the_board_lists_orders_returned_twice_rehandled_and_repeated,
}
