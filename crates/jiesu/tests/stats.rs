#![allow(clippy::unwrap_used)]
//! The centre's rates over HTTP, on SQLite and PostgreSQL, on a hand-computed fixture: orders
//! through the real lifecycle, the figures for the centre and per unit, an order of an
//! earlier period, a unit without callbacks, the orders behind each count, the formulas, and
//! who may read which figures.

mod common;

use chrono::{Datelike, Duration, Utc};
use common::*;
use jiesu::app::insight::china_today;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn step(c: &Client, t: &TestApp, id: i64, command: &str, body: Value) {
    let (s, e) = call(c, t.url(&format!("/api/orders/{id}/{command}")), body).await;
    assert_eq!(s, StatusCode::OK, "{command}: {e}");
}

/// Accepted, dispatched to `unit` by the dispatcher; signed, replied, checked and called
/// back with `callback` where the steps are given.
async fn order(
    t: &TestApp,
    unit: &str,
    handler: Option<&Client>,
    callback: Option<(&str, bool)>,
) -> i64 {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    step(
        &dispatcher,
        t,
        id,
        "dispatch",
        json!({"targets": [{"unit_id": t.unit(unit), "role": "lead"}]}),
    )
    .await;
    let Some(h) = handler else { return id };
    step(h, t, id, "sign", json!({})).await;
    step(
        h,
        t,
        id,
        "reply",
        json!({"content": "已处理", "contacted_citizen": true}),
    )
    .await;
    step(&dispatcher, t, id, "check", json!({"approve": true})).await;
    if let Some((satisfaction, resolved)) = callback {
        let cb = t.login("callback").await;
        step(
            &cb,
            t,
            id,
            "callback",
            json!({"satisfaction": satisfaction, "resolved": resolved}),
        )
        .await;
    }
    id
}

async fn figures(c: &Client, t: &TestApp, query: &str) -> (StatusCode, Value) {
    get(c, t.url(&format!("/api/stats/rates?{query}"))).await
}

async fn drill(c: &Client, t: &TestApp, query: &str) -> (u64, Vec<i64>) {
    let (s, r) = get(c, t.url(&format!("/api/stats/orders?{query}"))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let mut ids: Vec<i64> = ids_in(&r, "items");
    ids.sort();
    (r["total"].as_u64().unwrap(), ids)
}

async fn rates_are_counted_from_the_orders_of_the_period_and_drill_down_to_them(t: &TestApp) {
    let handler = t.login("handler").await;
    // Hand-computed: 5 accepted today; 4 dispatched (three to 住建局 P1, one to 城管局 P2);
    // P1's three signed and replied, then called back satisfied and basically satisfied
    // (both resolved: closed) and dissatisfied (sent back for re-handling: no longer
    // completed); P2's not signed; one pending review.
    let o1 = order(t, "P1", Some(&handler), Some(("satisfied", true))).await;
    let o2 = order(t, "P1", Some(&handler), Some(("basically_satisfied", true))).await;
    let o3 = order(t, "P2", None, None).await;
    let o5 = order(t, "P1", Some(&handler), Some(("dissatisfied", false))).await;
    let agent = t.login("agent").await;
    let o4 = t.accept(&agent, json!({})).await["id"].as_i64().unwrap();
    // An order of an earlier period (40 days ago), dispatched today: not today's figures.
    let p = t.agent_principal().await;
    let new = serde_json::from_value(json!({
        "channel": "phone", "request_type": "complaint", "category": null, "title": "路灯不亮",
        "content": "幸福路路灯不亮",
        "citizen": {"name": null, "phone": null, "id_number": null, "anonymous": true},
        "location": {"address": null, "region_code": null, "lat": null, "lng": null},
        "urgency": "normal",
        "flags": {"emergency": false, "complex": false, "repeat": false,
                  "confidential": false, "needs_contact": false},
        "external_ref": null
    }))
    .unwrap();
    let old = t
        .app
        .accept_order_at(&p, new, None, Some(Utc::now() - Duration::days(40)))
        .await
        .unwrap()
        .stored
        .id
        .0;
    let dispatcher = t.login("dispatcher").await;
    let to_p2 = json!({"targets": [{"unit_id": t.unit("P2"), "role": "lead"}]});
    step(&dispatcher, t, old, "dispatch", to_p2).await;

    let today = china_today();
    let period = format!(
        "from={}&to={}",
        today - Duration::days(1),
        today + Duration::days(1)
    );
    let leader = t.login("leader").await;
    let (s, r) = figures(&leader, t, &period).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let c = &r["counts"];
    let got: Vec<u64> = [
        "accepted",
        "dispatched",
        "signed_on_time",
        "completed",
        "completed_on_time",
        "callback_due",
        "callback_done",
        "called_back",
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
        "resolved",
        "rehandled",
        "instant",
    ]
    .iter()
    .map(|k| c[k].as_u64().unwrap())
    .collect();
    assert_eq!(got, [5, 4, 3, 2, 2, 2, 2, 3, 1, 1, 1, 2, 1, 0], "{r}");
    assert_eq!(r["response_rate"], 0.75);
    assert_eq!(r["completion_rate"], 0.5);
    assert_eq!(r["on_time_rate"], 1.0);
    assert_eq!(r["resolution_rate"], 0.6667);
    assert_eq!(r["satisfaction_rate"], 0.6667);
    assert_eq!(r["instant_answer_rate"], 0.0);
    assert_eq!(r["callback_rate"], 1.0);

    // Per unit: 住建局 has everything; 城管局 has nothing called back yet (no rate, not 0).
    let p1 = format!("{period}&unit={}", t.unit("P1"));
    let (_, r1) = figures(&leader, t, &p1).await;
    assert_eq!(r1["unit_name"], "住建局");
    assert_eq!(r1["counts"]["dispatched"], 3);
    assert_eq!(r1["response_rate"], 1.0);
    let p2 = format!("{period}&unit={}", t.unit("P2"));
    let (_, r2) = figures(&leader, t, &p2).await;
    assert_eq!(r2["counts"]["dispatched"], 1);
    assert_eq!(r2["response_rate"], 0.0);
    assert!(r2["satisfaction_rate"].is_null(), "{r2}");
    assert!(r2["resolution_rate"].is_null(), "{r2}");

    // Every figure is a list of orders.
    let called = format!("measure=called_back&{period}");
    assert_eq!(drill(&leader, t, &called).await, (3, vec![o1, o2, o5]));
    let rehandled = format!("measure=rehandled&{period}");
    assert_eq!(drill(&leader, t, &rehandled).await, (1, vec![o5]));
    let accepted = format!("measure=accepted&{period}");
    let mut all = vec![o1, o2, o3, o4, o5];
    all.sort();
    assert_eq!(drill(&leader, t, &accepted).await, (5, all));
    let dispatched = format!("measure=dispatched&{p2}");
    assert_eq!(drill(&leader, t, &dispatched).await, (1, vec![o3]));
    // The earlier period has the old order, dispatched since.
    let then = today - Duration::days(40);
    let earlier = format!(
        "from={}&to={}",
        then - Duration::days(1),
        then + Duration::days(1)
    );
    let (_, e) = figures(&leader, t, &earlier).await;
    assert_eq!(e["counts"]["accepted"], 1, "{e}");
    assert_eq!(e["counts"]["dispatched"], 1, "{e}");
    let accepted = format!("measure=accepted&{earlier}");
    assert_eq!(drill(&leader, t, &accepted).await, (1, vec![old]));

    // Departments ranked by the composite score, 0.1 × response + 0.5 × resolution + 0.4 ×
    // satisfaction: 住建局 100 × (0.1 + 0.9 × 2/3) = 70; 城管局 only a response rate (0).
    let ranking = t.url(&format!("/api/stats/ranking?{period}&kind=department"));
    let (s, rk) = get(&leader, ranking.clone()).await;
    assert_eq!(s, StatusCode::OK, "{rk}");
    let items = rk["items"].as_array().unwrap();
    let row = |name: &str| {
        items
            .iter()
            .find(|i| i["unit_name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            row("住建局")["rank"].as_u64(),
            row("住建局")["score"].as_f64()
        ),
        (Some(1), Some(70.0))
    );
    assert_eq!(
        (
            row("城管局")["rank"].as_u64(),
            row("城管局")["score"].as_f64()
        ),
        (Some(2), Some(0.0))
    );
    assert_eq!(items[0]["unit_name"], "住建局");
    let (_, towns) = get(
        &leader,
        t.url(&format!("/api/stats/ranking?{period}&kind=town")),
    )
    .await;
    assert!(
        towns["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["rank"].is_null()),
        "{towns}"
    );
    let (s, _) = get(&t.login("unit_admin").await, ranking).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = get(
        &leader,
        t.url(&format!("/api/stats/ranking?{period}&kind=planet")),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("kind"))
    );

    // The formulas: basically satisfied counting 0.9.
    let admin = t.login("admin").await;
    let url = t.url("/api/stats/formulas");
    let weight = |w: f64| json!({ "basically_satisfied_weight": w });
    let (s, _) = put(&leader, url.clone(), weight(0.9)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = put(&admin, url.clone(), weight(2.0)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "basically_satisfied_weight");
    let mut uneven = weight(0.9);
    uneven["composite"] = json!({"response": 0.5, "resolution": 0.5, "satisfaction": 0.5});
    let (s, e) = put(&admin, url.clone(), uneven).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "composite");
    let (s, _) = put(&admin, url, weight(0.9)).await;
    assert_eq!(s, StatusCode::OK);
    let (_, r) = figures(&leader, t, &period).await;
    assert_eq!(r["satisfaction_rate"], 0.6333);
    assert_eq!(r["formulas"]["basically_satisfied_weight"], 0.9);

    // Who reads what: a unit's liaison its own unit; a handler nothing; bad input named.
    let liaison = t.login("unit_admin").await;
    let (s, mine) = figures(&liaison, t, &period).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine["counts"]["dispatched"], 3, "{mine}");
    assert_eq!(mine["unit_name"], "住建局", "{mine}");
    let (s, _) = figures(&liaison, t, &p2).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = figures(&handler, t, &period).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (query, field) in [
        ("from=2026-13-01&to=2026-12-31", "from"),
        ("from=2026-12-01&to=2026-11-01", "to"),
        ("from=2026-01-01&to=2026-01-31&unit=999999", "unit"),
    ] {
        let (s, e) = figures(&leader, t, query).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(e["error"]["field"], field, "{query}");
    }
    let loudest = t.url(&format!("/api/stats/orders?measure=loudest&{period}"));
    let (s, e) = get(&leader, loudest).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "measure");
    // After the whole lifecycle (re-handling included) the maintained aggregates agree with
    // a recount of the orders.
    assert_verified(t).await;
}

async fn assert_verified(t: &TestApp) {
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Figures by category and by region (from the maintained aggregates) and by a unit and a
/// category together (counted through the orders) are the counts of the orders behind them.
async fn figures_by_category_and_region_are_the_counts_of_their_orders(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let leader = t.login("leader").await;
    let mut ids = Vec::new();
    for (category, region, unit) in [
        ("01.01", "990101001", Some("P1")),
        ("01.02", "990101002", Some("P2")),
        ("02.01", "990102", None),
        ("01.01", "990101001", None),
    ] {
        let o = t
            .accept(&agent, json!({"category": category, "region_code": region}))
            .await;
        let id = o["id"].as_i64().unwrap();
        if let Some(u) = unit {
            let to = json!({"targets": [{"unit_id": t.unit(u), "role": "lead"}]});
            step(&dispatcher, t, id, "dispatch", to).await;
        }
        ids.push(id);
    }
    let today = china_today();
    let period = format!("from={today}&to={today}");
    let count = |r: &Value, k: &str| r["counts"][k].as_u64().unwrap();
    for (cut, accepted, dispatched) in [
        ("category=01", 3, 2),
        ("category=01.01", 2, 1),
        ("category=02", 1, 0),
        ("category=03", 0, 0),
        ("region=990101", 3, 2),
        ("region=990101001", 2, 1),
        ("region=990102", 1, 0),
        (&*format!("unit={}&category=01", t.unit("P1")), 1, 1),
        (&*format!("unit={}&category=02", t.unit("P1")), 0, 0),
        ("category=01&region=990101002", 1, 1),
    ] {
        let (s, r) = figures(&leader, t, &format!("{period}&{cut}")).await;
        assert_eq!(s, StatusCode::OK, "{cut}: {r}");
        assert_eq!(
            (count(&r, "accepted"), count(&r, "dispatched")),
            (accepted, dispatched),
            "{cut}: {r}"
        );
        let (n, _) = drill(&leader, t, &format!("measure=accepted&{period}&{cut}")).await;
        assert_eq!(n, accepted, "{cut}");
    }
    let (_, listed) = drill(
        &leader,
        t,
        &format!("measure=accepted&{period}&category=01.01"),
    )
    .await;
    assert_eq!(listed, vec![ids[0], ids[3]]);
    for (cut, field) in [("category=x!", "category"), ("region=12", "region")] {
        let (s, e) = figures(&leader, t, &format!("{period}&{cut}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{cut}");
        assert_eq!(e["error"]["field"], field, "{cut}");
    }
    assert_verified(t).await;
}

/// The strings a PDF shows (`Tj`), page by page, decoded from the report's UCS-2 codes.
fn pdf_texts(bytes: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(bytes).unwrap();
    let mut out = Vec::new();
    for (_, page) in doc.get_pages() {
        let data = doc.get_page_content(page).unwrap();
        let content = lopdf::content::Content::decode(&data).unwrap();
        for op in content.operations {
            if op.operator != "Tj" {
                continue;
            }
            if let Some(lopdf::Object::String(b, _)) = op.operands.first() {
                let units: Vec<u16> = b
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                    .collect();
                out.push(String::from_utf16_lossy(&units));
            }
        }
    }
    out
}

/// The monthly report opened as a workbook and as a PDF: its figures are the API's.
async fn the_monthly_report_carries_the_figures_of_the_api(t: &TestApp) {
    use calamine::{Data, Reader};
    let handler = t.login("handler").await;
    order(t, "P1", Some(&handler), Some(("satisfied", true))).await;
    order(t, "P1", Some(&handler), Some(("basically_satisfied", true))).await;
    order(t, "P2", None, None).await;
    let today = china_today();
    let month = today.format("%Y-%m").to_string();
    let first = today.with_day(1).unwrap();
    let last = (first + Duration::days(32)).with_day(1).unwrap() - Duration::days(1);
    let leader = t.login("leader").await;
    let (_, api) = figures(&leader, t, &format!("from={first}&to={last}")).await;
    let r = leader
        .get(t.url(&format!("/api/reports/monthly?month={month}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let bytes = r.bytes().await.unwrap().to_vec();
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range("概况").unwrap();
    let value = |name: &str| -> Option<f64> {
        sheet
            .rows()
            .find_map(|row| match (row.first(), row.get(1)) {
                (Some(Data::String(n)), Some(Data::Float(v))) if n == name => Some(*v),
                _ => None,
            })
    };
    for (name, key) in [
        ("响应率", "response_rate"),
        ("办结率", "completion_rate"),
        ("解决率", "resolution_rate"),
        ("满意率", "satisfaction_rate"),
        ("回访率", "callback_rate"),
    ] {
        let v = value(name).unwrap_or_else(|| panic!("no {name} in the report"));
        assert!(
            (v - api[key].as_f64().unwrap()).abs() < 1e-4,
            "{name}: {v} vs {api}"
        );
    }
    assert_eq!(value("受理"), api["counts"]["accepted"].as_f64());
    assert_eq!(value("派单"), api["counts"]["dispatched"].as_f64());
    // The ranking sheet ranks 住建局 first.
    let ranking = wb.worksheet_range("部门排名").unwrap();
    let first_row: Vec<String> = ranking
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        (first_row[0].as_str(), first_row[1].as_str()),
        ("1", "住建局"),
        "{first_row:?}"
    );
    // The printable PDF says the same: its text, in the order it is drawn.
    let r = leader
        .get(t.url(&format!("/api/reports/monthly?month={month}&format=pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let texts = pdf_texts(&r.bytes().await.unwrap());
    let after = |label: &str| -> String {
        let i = texts
            .iter()
            .position(|t| t == label)
            .unwrap_or_else(|| panic!("no {label} in {texts:?}"));
        texts[i + 1].clone()
    };
    for (name, key) in [
        ("响应率", "response_rate"),
        ("办结率", "completion_rate"),
        ("满意率", "satisfaction_rate"),
    ] {
        let want = format!("{:.2}%", api[key].as_f64().unwrap() * 100.0);
        assert_eq!(after(name), want, "{name}");
    }
    assert_eq!(after("受理"), api["counts"]["accepted"].to_string());
    assert_eq!(after("派单"), api["counts"]["dispatched"].to_string());
    // The departments' table starts with 住建局, ranked 1.
    let i = texts.iter().position(|t| t == "住建局").unwrap();
    assert_eq!(texts[i - 1], "1");
    assert!(texts.iter().any(|t| t.starts_with("第 1 页 共")));
    let (s, e) = get(
        &leader,
        t.url(&format!("/api/reports/monthly?month={month}&format=doc")),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("format"))
    );
    // A unit's handler gets no report; a bad month is named.
    let (s, _) = get(
        &handler,
        t.url(&format!("/api/reports/monthly?month={month}")),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = get(&leader, t.url("/api/reports/monthly?month=2026-13")).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("month"))
    );
}

/// The last day of `YYYY-MM`.
fn month_end(month: &str) -> chrono::NaiveDate {
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").unwrap();
    (first + Duration::days(32)).with_day(1).unwrap() - Duration::days(1)
}

/// An order accepted at `when`, through the API afterwards.
async fn accepted_at(t: &TestApp, when: chrono::DateTime<Utc>) -> i64 {
    let p = t.agent_principal().await;
    let new = serde_json::from_value(json!({
        "channel": "phone", "request_type": "complaint", "category": null, "title": "小区路灯不亮",
        "content": "幸福小区路灯不亮",
        "citizen": {"name": null, "phone": null, "id_number": null, "anonymous": true},
        "location": {"address": null, "region_code": null, "lat": null, "lng": null},
        "urgency": "normal",
        "flags": {"emergency": false, "complex": false, "repeat": false,
                  "confidential": false, "needs_contact": false},
        "external_ref": null
    }))
    .unwrap();
    t.app
        .accept_order_at(&p, new, None, Some(when))
        .await
        .unwrap()
        .stored
        .id
        .0
}

async fn a_closed_month_is_frozen_and_corrected_by_recorded_adjustments(t: &TestApp) {
    let when = Utc::now() - Duration::days(40);
    let month = (china_today() - Duration::days(40))
        .format("%Y-%m")
        .to_string();
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let cb = t.login("callback").await;
    let to_p1 = json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]});
    let id = accepted_at(t, when).await;
    step(&dispatcher, t, id, "dispatch", to_p1.clone()).await;
    step(&handler, t, id, "sign", json!({})).await;
    step(
        &handler,
        t,
        id,
        "reply",
        json!({"content": "已修复", "contacted_citizen": true}),
    )
    .await;
    step(&dispatcher, t, id, "check", json!({"approve": true})).await;
    step(
        &cb,
        t,
        id,
        "callback",
        json!({"satisfaction": "satisfied", "resolved": true}),
    )
    .await;

    let leader = t.login("leader").await;
    let url = |s: &str| t.url(&format!("/api/evaluations/{month}{s}"));
    let (s, live) = get(&leader, url("?kind=department")).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    assert_eq!(live["closed"], false);
    assert_eq!(live["items"][0]["unit_name"], "住建局");
    assert_eq!(
        (
            live["items"][0]["rank"].as_u64(),
            live["items"][0]["evaluation"].as_f64()
        ),
        (Some(1), Some(100.0))
    );

    // Only admins close, only past months, once.
    let admin = t.login("admin").await;
    let (s, _) = call(&leader, url("/close"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let this_month = china_today().format("%Y-%m").to_string();
    let (s, e) = call(
        &admin,
        t.url(&format!("/api/evaluations/{this_month}/close")),
        json!({}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("month"))
    );
    let (s, _) = call(&admin, url("/close"), json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(&admin, url("/close"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A late-found order of that month changes the live figures, not the frozen score.
    let unsigned = accepted_at(t, when).await;
    step(&dispatcher, t, unsigned, "dispatch", to_p1).await;
    let (_, r) = figures(
        &leader,
        t,
        &format!(
            "from={month}-01&to={}&unit={}",
            month_end(&month),
            t.unit("P1")
        ),
    )
    .await;
    assert_eq!(r["response_rate"], 0.5, "{r}");
    let (_, frozen) = get(&leader, url("?kind=department")).await;
    assert_eq!(frozen["closed"], true);
    assert_eq!(frozen["closed_by"], "系统管理员");
    assert_eq!(frozen["items"][0]["evaluation"], 100.0);

    // Corrections are adjustments with a reason, on top of the frozen score.
    let adjust = |body: Value| {
        let admin = admin.clone();
        let u = url("/adjustments");
        async move { call(&admin, u, body).await }
    };
    let (s, e) = adjust(json!({"unit_id": t.unit("P1"), "points": 0, "reason": "x"})).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("points"))
    );
    let (s, e) = adjust(json!({"unit_id": 999_999, "points": -5, "reason": "x"})).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unit_id"))
    );
    let (s, _) =
        adjust(json!({"unit_id": t.unit("P1"), "points": -5, "reason": "核实群众投诉，扣 5 分"}))
            .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = get(&leader, url("?kind=department")).await;
    let p1 = &v["items"][0];
    assert_eq!(
        (
            p1["adjustment"].as_f64(),
            p1["adjusted"].as_f64(),
            p1["evaluation"].as_f64()
        ),
        (Some(-5.0), Some(95.0), Some(100.0))
    );
    assert_eq!(v["adjustments"][0]["reason"], "核实群众投诉，扣 5 分");
    assert_eq!(v["adjustments"][0]["by"], "系统管理员");
    let (s, _) = call(
        &admin,
        t.url(&format!("/api/evaluations/{this_month}/adjustments")),
        json!({"unit_id": t.unit("P1"), "points": 1, "reason": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The year: the mean of its closed months.
    let year = &month[..4];
    let (s, y) = get(
        &leader,
        t.url(&format!("/api/evaluations/year/{year}?kind=department")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{y}");
    assert_eq!(y["months"], json!([month]));
    assert_eq!(
        (
            y["items"][0]["unit_name"].as_str(),
            y["items"][0]["mean"].as_f64()
        ),
        (Some("住建局"), Some(95.0))
    );
}

async fn the_cockpit_shows_today_the_month_the_districts_and_the_trend(t: &TestApp) {
    let handler = t.login("handler").await;
    order(t, "P1", Some(&handler), Some(("satisfied", true))).await;
    order(t, "P2", None, None).await;
    // Ten days ago, in B区.
    let p = t.agent_principal().await;
    let new = serde_json::from_value(json!({
        "channel": "phone", "request_type": "help", "category": null, "title": "井盖缺失",
        "content": "和平路井盖缺失", "citizen": {"name": null, "phone": null, "id_number": null, "anonymous": true},
        "location": {"address": null, "region_code": "990102", "lat": null, "lng": null},
        "urgency": "normal",
        "flags": {"emergency": false, "complex": false, "repeat": false, "confidential": false, "needs_contact": false},
        "external_ref": null
    }))
    .unwrap();
    t.app
        .accept_order_at(&p, new, None, Some(Utc::now() - Duration::days(10)))
        .await
        .unwrap();
    let leader = t.login("leader").await;
    let (s, c) = get(&leader, t.url("/api/cockpit")).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["today"], china_today().to_string());
    assert_eq!(c["accepted_today"], 2, "{c}");
    let trend = c["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 30);
    assert_eq!(trend.last().unwrap()["orders"], 2);
    assert_eq!(
        trend
            .iter()
            .map(|d| d["orders"].as_i64().unwrap())
            .sum::<i64>(),
        3
    );
    // The two of today are in A区 (一街道); the older one in B区.
    let districts: Vec<(&str, i64)> = c["districts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["orders"].as_i64().unwrap()))
        .collect();
    assert_eq!(districts, [("A区", 2), ("B区", 1)]);
    assert_eq!(c["departments"][0]["unit_name"], "住建局");
    assert!(
        c["month"]["counts"]["accepted"].as_u64().unwrap() >= 2,
        "{c}"
    );
    let (s, _) = get(&t.login("unit_admin").await, t.url("/api/cockpit")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Daily and weekly reports (with the period's hot spots), and the reports the server
/// generates and keeps on schedule.
async fn reports_of_each_period_are_made_on_demand_and_kept_on_schedule(t: &TestApp) {
    let handler = t.login("handler").await;
    order(t, "P1", Some(&handler), Some(("satisfied", true))).await;
    // Two more callers about the same barbecue smoke at the same compound (a hot spot of
    // three with the order above), and one lone street-light request elsewhere.
    let agent = t.login("agent").await;
    for phone in ["13900000001", "13900000002"] {
        t.accept(&agent, json!({"citizen": {"name": "李四", "phone": phone}}))
            .await;
    }
    t.accept(
        &agent,
        json!({
            "content": "滨河路东段路灯连续一周不亮，夜间行人看不清路，请尽快维修。",
            "address": "A区二街道滨河路东段",
            "region_code": "990101002",
            "citizen": {"name": "王五", "phone": "13900000003"},
        }),
    )
    .await;
    let leader = t.login("leader").await;
    let today = china_today();
    for (kind, query) in [
        ("daily", format!("date={today}")),
        ("weekly", format!("date={today}")),
    ] {
        let r = leader
            .get(t.url(&format!("/api/reports/{kind}?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
        use calamine::Reader;
        let sheet = wb.worksheet_range("概况").unwrap();
        let accepted = sheet
            .rows()
            .find_map(|row| match (row.first(), row.get(1)) {
                (Some(calamine::Data::String(n)), Some(calamine::Data::Float(v)))
                    if n == "受理" =>
                {
                    Some(*v)
                }
                _ => None,
            });
        assert_eq!(accepted, Some(4.0), "{kind}");
        // 热点: title, place, orders, callers — the three about the smoke, nothing else.
        let spots = wb.worksheet_range("热点").unwrap();
        let rows: Vec<Vec<String>> = spots
            .rows()
            .skip(1)
            .map(|row| row.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(rows.len(), 1, "{kind}: {rows:?}");
        assert!(!rows[0][0].is_empty(), "{kind}: a title: {rows:?}");
        assert_eq!(rows[0][2..], ["3", "3"], "{kind}: {rows:?}");
    }
    let (s, e) = get(&leader, t.url("/api/reports/daily")).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("date"))
    );
    let (s, _) = get(&leader, t.url("/api/reports/yearly?date=2026-01-01")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // On schedule: tomorrow, yesterday's daily report (today's), last week's weekly and last
    // month's monthly ones are made once and kept (the server made those already due at
    // its start).
    let tomorrow = Utc::now() + Duration::days(1);
    let made = t.app.generate_due_reports(tomorrow).await.unwrap();
    assert!(made >= 1, "{made}");
    assert_eq!(
        t.app.generate_due_reports(tomorrow).await.unwrap(),
        0,
        "kept once"
    );
    let (s, kept) = get(&leader, t.url("/api/reports")).await;
    assert_eq!(s, StatusCode::OK, "{kept}");
    let names: Vec<(String, String)> = kept["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        names.contains(&("daily".into(), today.to_string())),
        "{names:?}"
    );
    let r = leader
        .get(t.url(&format!("/api/reports/daily/{today}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));
    let (s, _) = get(&leader, t.url("/api/reports/daily/1999-01-01")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&handler, t.url("/api/reports")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

on_both_backends! {
    figures_by_category_and_region_are_the_counts_of_their_orders => super::figures_by_category_and_region_are_the_counts_of_their_orders,
    reports_of_each_period_are_made_on_demand_and_kept_on_schedule => super::reports_of_each_period_are_made_on_demand_and_kept_on_schedule,
    the_cockpit_shows_today_the_month_the_districts_and_the_trend => super::the_cockpit_shows_today_the_month_the_districts_and_the_trend,
    a_closed_month_is_frozen_and_corrected_by_recorded_adjustments => super::a_closed_month_is_frozen_and_corrected_by_recorded_adjustments,
    the_monthly_report_carries_the_figures_of_the_api => super::the_monthly_report_carries_the_figures_of_the_api,
    rates_are_counted_from_the_orders_of_the_period_and_drill_down_to_them => super::rates_are_counted_from_the_orders_of_the_period_and_drill_down_to_them,
}
