#![allow(clippy::unwrap_used)]
//! Deadlines over HTTP: the calculator, the calendar and rules as admins edit them, order
//! deadlines with explanations, due-soon and overdue lists, and the scheduler's reminders and
//! overdue marks (once each, also across a restart).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn the_calculator_adds_working_time_on_the_tenants_calendar(t: &TestApp) {
    let c = t.login("agent").await;
    let q = |s: &str| t.url(&format!("/api/calendar/add?{s}"));
    let (s, r) = get(
        &c,
        q("start=2026-09-30T10:00:00%2B08:00&amount=3&unit=working_days"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["due"], "2026-10-10T17:30:00+08:00");
    let e = r["explanation"].as_str().unwrap();
    assert!(
        e.contains("跳过 10-01…10-07 国庆节假期") && e.contains("10-10（周六）为调休工作日"),
        "{e}"
    );
    let (_, r) = get(
        &c,
        q("start=2026-11-24T11:00:00%2B08:00&amount=2&unit=working_hours"),
    )
    .await;
    assert_eq!(r["due"], "2026-11-24T15:00:00+08:00");
    let (_, r) = get(
        &c,
        q("start=2026-10-01T23:30:00%2B08:00&amount=2&unit=hours"),
    )
    .await;
    assert_eq!(r["due"], "2026-10-02T01:30:00+08:00");
    for (query, field) in [
        ("start=yesterday&amount=1&unit=working_days", "start"),
        (
            "start=2026-09-30T10:00:00%2B08:00&amount=1&unit=fortnights",
            "unit",
        ),
        (
            "start=2026-09-30T10:00:00%2B08:00&amount=-1&unit=hours",
            "amount",
        ),
    ] {
        let (s, e) = get(&c, q(query)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {e}");
        assert_eq!(e["error"]["field"], field, "{query}: {e}");
    }
    // Beyond the table: a clear error naming the notice to add.
    let (s, e) = get(
        &c,
        q("start=2026-12-30T10:00:00%2B08:00&amount=3&unit=working_days"),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["error"]["code"], "calendar_not_covered");
    assert!(e["error"]["message"].as_str().unwrap().contains("2027"));

    // The admin adds 2027's notice and a local closure; both count at once.
    let admin = t.login("admin").await;
    let (s, e) = call(
        &c,
        t.url("/api/calendar/closures"),
        json!({"date": "2026-11-25", "reason": "台风停工"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let r = post(
        &admin,
        t.url("/api/calendar/closures"),
        json!({"date": "2026-11-25", "reason": "台风停工"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, r) = get(
        &c,
        q("start=2026-11-24T10:00:00%2B08:00&amount=1&unit=working_days"),
    )
    .await;
    assert_eq!(r["due"], "2026-11-26T17:30:00+08:00");
    assert!(r["explanation"].as_str().unwrap().contains("台风停工"));
    let r = admin
        .delete(t.url("/api/calendar/closures/2026-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, e) = call(
        &admin,
        t.url("/api/calendar/years"),
        json!({"year": 2028, "holidays": {}}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "years must follow on: {e}"
    );
    let r = post(
        &admin,
        t.url("/api/calendar/years"),
        json!({"year": 2027, "holidays": {"2027-01-01": "元旦"}, "makeup_workdays": {}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, r) = get(
        &c,
        q("start=2026-12-30T10:00:00%2B08:00&amount=3&unit=working_days"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["due"], "2027-01-05T17:30:00+08:00");
    let (_, cal) = get(&c, t.url("/api/calendar")).await;
    assert_eq!(cal["years"], json!([2019, 2027]));
}

async fn orders_carry_every_stage_deadline_explained_by_the_rules_in_force(t: &TestApp) {
    let agent = t.login("agent").await;
    let d = t.login("dispatcher").await;
    let admin = t.login("admin").await;
    let o = t
        .accept(&agent, json!({"request_type": "consultation"}))
        .await;
    let id = o["id"].as_i64().unwrap();
    call(
        &d,
        t.url(&format!("/api/orders/{id}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    let (s, dl) = get(&d, t.url(&format!("/api/orders/{id}/deadlines"))).await;
    assert_eq!(s, StatusCode::OK, "{dl}");
    let items = dl["items"].as_array().unwrap();
    let stages: Vec<&str> = items
        .iter()
        .map(|i| i["stage"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["sign", "reply"]);
    assert_eq!(items[0]["running"], true);
    assert_eq!(items[1]["rule"], "咨询类");
    assert_eq!(items[1]["limit"], "1 个工作日");
    assert!(
        items[1]["explanation"]
            .as_str()
            .unwrap()
            .starts_with("咨询类："),
        "{}",
        items[1]
    );
    assert!(dl["next_alert_at"].is_string());
    let (_, full) = get(&d, t.url(&format!("/api/orders/{id}"))).await;
    assert_eq!(full["deadlines"]["items"].as_array().unwrap().len(), 2);

    // Switching to Jinchang's levels: an urgent request gets 24 clock hours.
    let r = post(
        &admin,
        t.url("/api/time-rules/preset"),
        json!({"preset": "jinchang"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let o = t.accept(&agent, json!({"urgency": "urgent"})).await;
    let id = o["id"].as_i64().unwrap();
    let (_, o) = call(
        &d,
        t.url(&format!("/api/orders/{id}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    let reply = o["deadlines"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["stage"]["code"] == "reply")
        .unwrap()
        .clone();
    assert_eq!(reply["rule"], "24小时");
    let start = DateTime::parse_from_rfc3339(reply["start"].as_str().unwrap()).unwrap();
    let due = DateTime::parse_from_rfc3339(reply["due"].as_str().unwrap()).unwrap();
    assert_eq!(due - start, Duration::hours(24));
    // Rules an admin writes are checked; the error names the field.
    let (_, mut rules) = get(&admin, t.url("/api/time-rules")).await;
    rules["reminders"] = json!([60, 300]);
    let r = admin
        .put(t.url("/api/time-rules"))
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "reminders");
    rules["reminders"] = json!([120, 30]);
    rules["preset"] = json!("custom");
    let r = admin
        .put(t.url("/api/time-rules"))
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, now) = get(&d, t.url("/api/time-rules")).await;
    assert_eq!(now["reminders"], json!([120, 30]));
    let r = d
        .put(t.url("/api/time-rules"))
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// Orders accepted in the past, so that their deadlines are near or gone.
async fn old_orders(t: &TestApp, accepted: &[&str]) -> Vec<i64> {
    let p = t.agent_principal().await;
    let mut ids = Vec::new();
    for a in accepted {
        let req: jiesu::api::dto::CreateOrderRequest =
            serde_json::from_value(json!({"channel": "phone", "request_type": "complaint", "content": "积水严重", "title": format!("旧单 {a}")})).unwrap();
        let (new, _) = req.parse().unwrap();
        let v = t
            .app
            .accept_order_at(&p, new, None, Some(at(a)))
            .await
            .unwrap();
        ids.push(v.stored.id.0);
    }
    ids
}

async fn kinds(t: &TestApp, c: &reqwest::Client, id: i64) -> Vec<String> {
    let (_, h) = get(c, t.url(&format!("/api/orders/{id}/events"))).await;
    h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn due_soon_and_overdue_lists_per_unit_and_for_the_centre(t: &TestApp) {
    let d = t.login("dispatcher").await;
    let agent = t.login("agent").await;
    // Accepted two hours ago on a working day that is not now: overdue for dispatch.
    let ids = old_orders(t, &["2026-03-02T09:00:00+08:00"]).await;
    let fresh = t.accept(&agent, json!({})).await;
    call(
        &d,
        t.url(&format!("/api/orders/{}/dispatch", fresh["id"])),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    let list = |q: &str| t.url(&format!("/api/orders?{q}"));
    let idsof = |l: &Value| ids_in(l, "items");
    let (_, l) = get(&d, list("overdue=true")).await;
    assert_eq!(idsof(&l), ids);
    // The fresh order's sign-for deadline (2 working hours) falls within the next 3 days.
    let (_, l) = get(&d, list("due_within_hours=72&sort=due_at")).await;
    assert!(idsof(&l).contains(&fresh["id"].as_i64().unwrap()), "{l}");
    assert!(!idsof(&l).contains(&ids[0]), "overdue is not 'due soon'");
    let (_, l) = get(
        &d,
        list(&format!("due_within_hours=72&unit={}", t.unit("P1"))),
    )
    .await;
    assert_eq!(idsof(&l), vec![fresh["id"].as_i64().unwrap()], "per unit");
    let (_, l) = get(&d, list(&format!("overdue=true&unit={}", t.unit("P1")))).await;
    assert!(idsof(&l).is_empty());
    let (s, e) = get(&d, list("due_within_hours=0")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

async fn reminders_and_overdue_marks_go_out_once_even_across_a_restart(t: TestApp) {
    let d = t.login("dispatcher").await;
    // Monday 2026-03-02 09:00: dispatch due Tuesday 17:30; reminders at 12:30, 14:30, 16:30.
    let ids = old_orders(
        &t,
        &["2026-03-02T09:00:00+08:00", "2026-03-02T09:00:00+08:00"],
    )
    .await;
    let due = at("2026-03-03T17:30:00+08:00");
    // Before anything is due: nothing.
    let p = t
        .app
        .run_scheduler_once(at("2026-03-03T12:00:00+08:00"))
        .await
        .unwrap();
    assert_eq!(p.alerted, 0);
    // Two reminders due by 15:00.
    let p = t
        .app
        .run_scheduler_once(at("2026-03-03T15:00:00+08:00"))
        .await
        .unwrap();
    assert_eq!((p.orders, p.alerted), (2, 2));
    let again = t
        .app
        .run_scheduler_once(at("2026-03-03T15:00:00+08:00"))
        .await
        .unwrap();
    assert_eq!(again.alerted, 0, "none twice");
    let k = kinds(&t, &d, ids[0]).await;
    assert_eq!(k, ["accepted", "reminder_sent", "reminder_sent"]);
    let (_, n) = get(&d, t.url("/api/notifications?unread=true")).await;
    let notices = n["items"].as_array().unwrap();
    assert_eq!(
        notices.len(),
        4,
        "two reminders for each order go to the centre: {n}"
    );
    assert!(
        notices[0]["message"].as_str().unwrap().contains("派单"),
        "{}",
        notices[0]
    );
    let r = post(
        &d,
        t.url(&format!("/api/notifications/{}/read", notices[0]["id"])),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, n) = get(&d, t.url("/api/notifications?unread=true")).await;
    assert_eq!(n["items"].as_array().unwrap().len(), 3);
    // A handling unit does not see the centre's notices.
    let h = t.login("handler").await;
    let (_, n) = get(&h, t.url("/api/notifications")).await;
    assert!(n["items"].as_array().unwrap().is_empty());

    // Down from 15:00 until the next morning; on restart the missed reminder and the overdue
    // mark go out, once.
    let config = t.config.clone();
    let t = t.restart(config).await;
    let d = t.login("dispatcher").await;
    let p = t
        .app
        .run_scheduler_once(due + Duration::hours(15))
        .await
        .unwrap();
    assert_eq!(p.alerted, 2);
    let p = t
        .app
        .run_scheduler_once(due + Duration::hours(16))
        .await
        .unwrap();
    assert_eq!(p.alerted, 0);
    for id in &ids {
        let k = kinds(&t, &d, *id).await;
        assert_eq!(
            k,
            [
                "accepted",
                "reminder_sent",
                "reminder_sent",
                "reminder_sent",
                "overdue_marked"
            ],
            "order {id}"
        );
        let (_, o) = get(&d, t.url(&format!("/api/orders/{id}"))).await;
        assert_eq!(o["deadlines"]["late_stages"][0]["code"], "dispatch");
    }
    let (_, n) = get(&d, t.url("/api/notifications")).await;
    let overdue = n["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "overdue")
        .count();
    assert_eq!(overdue, 2);
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    t.stop().await;
}

async fn the_background_scheduler_runs_by_itself(t: TestApp) {
    let mut config = t.config.clone();
    config.scheduler_interval_ms = 100;
    let t = t.restart(config).await;
    let ids = old_orders(&t, &["2026-03-02T09:00:00+08:00"]).await;
    let d = t.login("dispatcher").await;
    let mut k = Vec::new();
    for _ in 0..100 {
        k = kinds(&t, &d, ids[0]).await;
        if k.last().is_some_and(|x| x == "overdue_marked") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        k,
        [
            "accepted",
            "reminder_sent",
            "reminder_sent",
            "reminder_sent",
            "overdue_marked"
        ]
    );
    t.stop().await;
}

on_both_backends! {
    the_calculator_adds_working_time_on_the_tenants_calendar => super::the_calculator_adds_working_time_on_the_tenants_calendar,
    orders_carry_every_stage_deadline_explained_by_the_rules_in_force => super::orders_carry_every_stage_deadline_explained_by_the_rules_in_force,
    due_soon_and_overdue_lists_per_unit_and_for_the_centre => super::due_soon_and_overdue_lists_per_unit_and_for_the_centre,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_and_overdue_marks_go_out_once_even_across_a_restart_on_sqlite() {
    reminders_and_overdue_marks_go_out_once_even_across_a_restart(
        spawn_app(Backend::Sqlite).await.unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_and_overdue_marks_go_out_once_even_across_a_restart_on_postgres() {
    let Some(t) = spawn_app(Backend::Postgres).await else {
        return;
    };
    reminders_and_overdue_marks_go_out_once_even_across_a_restart(t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_scheduler_runs_by_itself_on_sqlite() {
    the_background_scheduler_runs_by_itself(spawn_app(Backend::Sqlite).await.unwrap()).await;
}
