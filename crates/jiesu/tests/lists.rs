#![allow(clippy::unwrap_used)]
//! Order lists: every filter, stable cursor pagination, totals.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

fn ids(list: &Value) -> Vec<i64> {
    ids_in(list, "items")
}

async fn lists_filter_by_every_field_and_page_without_gaps_or_repeats(t: &TestApp) {
    let agent = t.login("agent").await;
    let d = t.login("dispatcher").await;
    let mut created = Vec::new();
    for i in 0..23 {
        let fields = json!({
            "channel": if i % 3 == 0 { "web" } else { "phone" },
            "request_type": if i % 2 == 0 { "complaint" } else { "consultation" },
            "category": if i % 4 == 0 { "01.01.01" } else { "02.01.01" },
            "region_code": if i % 5 == 0 { "990102" } else { "990101001" },
            "flags": {"emergency": i == 7},
        });
        created.push(t.accept(&agent, fields).await);
    }
    // Dispatch some to P1, one to T1.
    for o in &created[..5] {
        let (s, _) = call(
            &d,
            t.url(&format!("/api/orders/{}/dispatch", o["id"])),
            json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }
    call(
        &d,
        t.url(&format!("/api/orders/{}/dispatch", created[5]["id"])),
        json!({"targets": [{"unit_id": t.unit("T1"), "role": "lead"}]}),
    )
    .await;

    let q = |s: &str| t.url(&format!("/api/orders?{s}"));
    let (s, l) = get(&d, q("limit=200")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["total"], 23);
    let all = ids(&l);
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(all, sorted, "newest first by default");

    let count = |l: &Value| l["total"].as_u64().unwrap();
    let (_, l) = get(&d, q("status=dispatched")).await;
    assert_eq!(count(&l), 6);
    let (_, l) = get(&d, q("status=pending_review,dispatched")).await;
    assert_eq!(count(&l), 23);
    let (_, l) = get(&d, q("request_type=consultation")).await;
    assert_eq!(count(&l), 11);
    let (_, l) = get(&d, q("channel=web")).await;
    assert_eq!(count(&l), 8);
    let (_, l) = get(&d, q("category=01")).await;
    assert_eq!(
        count(&l),
        6,
        "a top-level category includes its subcategories"
    );
    let (_, l) = get(&d, q("category=02.01.01")).await;
    assert_eq!(count(&l), 17);
    let (_, l) = get(&d, q("region=990101")).await;
    assert_eq!(count(&l), 18, "a district includes its streets");
    let (_, l) = get(&d, q("region=990102")).await;
    assert_eq!(count(&l), 5);
    let (_, l) = get(&d, q(&format!("unit={}", t.unit("P1")))).await;
    assert_eq!(count(&l), 5);
    let (_, l) = get(&d, q(&format!("unit={}", t.unit("D")))).await;
    assert_eq!(count(&l), 1, "a unit filter covers its subtree");
    let (_, l) = get(&d, q("emergency=true")).await;
    assert_eq!(count(&l), 1);
    let number = created[3]["number"].as_str().unwrap();
    let (_, l) = get(&d, q(&format!("number={number}"))).await;
    assert_eq!(ids(&l), vec![created[3]["id"].as_i64().unwrap()]);
    let (_, l) = get(&d, q(&format!("number={}", &number[..10]))).await;
    assert_eq!(count(&l), 23, "a date prefix of the number");
    let (_, l) = get(&d, q("phone=13800138000")).await;
    assert_eq!(count(&l), 23);
    let (_, l) = get(&d, q("from=2000-01-01&to=2001-01-01")).await;
    assert_eq!(count(&l), 0);
    let (_, l) = get(&d, q("from=2000-01-01T00:00:00Z")).await;
    assert_eq!(count(&l), 23);
    let (_, l) = get(&d, q("overdue=true")).await;
    assert_eq!(count(&l), 0, "nothing is late yet");

    // Pages of 5 in both directions cover everything exactly once, in order.
    for sort in ["-accepted_at", "accepted_at", "-updated_at", "due_at"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("limit=5&sort={sort}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let (s, l) = get(&d, q(&url)).await;
            assert_eq!(s, StatusCode::OK, "{l}");
            assert_eq!(l["total"], 23);
            seen.extend(ids(&l));
            match l["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 23, "{sort}");
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            23,
            "{sort}: no repeats"
        );
    }

    // Overdue: an order accepted long ago and never dispatched.
    let imported = t
        .app
        .accept_order_at(
            &jiesu::app::Principal {
                tenant: t.seed.tenant,
                user_id: t
                    .app
                    .store
                    .user_by_name(t.seed.tenant, "agent")
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
                username: "agent".into(),
                display_name: "agent".into(),
                unit_id: t.seed.units["root"],
                roles: jiesu_core::role::RoleSet::of(&[jiesu_core::role::Role::Agent]),
                token_scopes: None,
            },
            serde_json::from_value::<jiesu::api::dto::CreateOrderRequest>(
                json!({"channel": "phone", "request_type": "help", "content": "旧诉求"}),
            )
            .unwrap()
            .parse()
            .unwrap()
            .0,
            None,
            Some(
                chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            ),
        )
        .await
        .unwrap();
    let (_, l) = get(&d, q("overdue=true")).await;
    assert_eq!(ids(&l), vec![imported.stored.id.0]);
    let (_, o) = get(&d, t.url(&format!("/api/orders/{}", imported.stored.id.0))).await;
    assert_eq!(o["deadlines"]["overdue"], true);
    assert_eq!(
        o["deadlines"]["dispatch_due"], "2026-03-03T09:30:00Z",
        "one working day: Tuesday 17:30 local"
    );

    // A unit's inbox pages in order of acceptance, not of creation: the order accepted in
    // March (created last) comes last, newest first. P1's inbox covers its subsection P1a
    // (an order in both is listed once); P1a's is one unit's. The same as the general list
    // (a status added), for the centre and for P1's own handler.
    let (s, _) = call(
        &d,
        t.url(&format!("/api/orders/{}/dispatch", imported.stored.id.0)),
        json!({"targets": [
            {"unit_id": t.unit("P1"), "role": "lead"},
            {"unit_id": t.unit("P1a"), "role": "co"}
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &d,
        t.url(&format!("/api/orders/{}/dispatch", created[6]["id"])),
        json!({"targets": [{"unit_id": t.unit("P1a"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let id = |o: &Value| o["id"].as_i64().unwrap();
    let mut p1: Vec<i64> = vec![id(&created[6])];
    p1.extend(created[..5].iter().rev().map(id));
    p1.push(imported.stored.id.0);
    let p1a = vec![id(&created[6]), imported.stored.id.0];
    let handler = t.login("handler").await;
    for (unit, newest_first) in [(t.unit("P1"), p1), (t.unit("P1a"), p1a)] {
        let inbox = format!("unit={unit}&assignment_status=pending_sign");
        for who in [&d, &handler] {
            for (sort, expected) in [
                ("-accepted_at", newest_first.clone()),
                ("accepted_at", newest_first.iter().rev().copied().collect()),
            ] {
                for filter in [inbox.clone(), format!("{inbox}&status=dispatched")] {
                    let mut seen = Vec::new();
                    let mut cursor: Option<String> = None;
                    for page in 0.. {
                        assert!(page <= expected.len(), "{filter} {sort}: pages without end");
                        let mut url = format!("{filter}&limit=2&sort={sort}");
                        if let Some(c) = &cursor {
                            url.push_str(&format!("&cursor={c}"));
                        }
                        let (s, l) = get(who, q(&url)).await;
                        assert_eq!(s, StatusCode::OK, "{l}");
                        assert_eq!(l["total"], expected.len(), "{filter}");
                        seen.extend(ids(&l));
                        match l["next_cursor"].as_str() {
                            Some(c) => cursor = Some(c.to_string()),
                            None => break,
                        }
                    }
                    assert_eq!(seen, expected, "{filter} {sort}");
                }
            }
        }
    }
    let (_, l) = get(
        &d,
        q(&format!("unit={}&assignment_status=handling", t.unit("P1"))),
    )
    .await;
    assert_eq!(count(&l), 0, "nothing signed for yet");

    // A unit's orders in some order statuses (the order's status, whatever the unit's part):
    // P1's subtree holds seven dispatched orders; once P1 signs two, they are handling, and
    // the lists follow each change, page by page, newest first.
    let p1 = t.unit("P1");
    let pages = |filter: String| {
        let d = &d;
        async move {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            let mut total = None;
            for _ in 0..20 {
                let mut url = format!("{filter}&limit=2");
                if let Some(c) = &cursor {
                    url.push_str(&format!("&cursor={c}"));
                }
                let (s, l) = get(d, t.url(&format!("/api/orders?{url}"))).await;
                assert_eq!(s, StatusCode::OK, "{l}");
                total.get_or_insert(l["total"].as_u64().unwrap());
                seen.extend(ids(&l));
                match l["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
            }
            assert_eq!(total, Some(seen.len() as u64), "{filter}: total and pages");
            seen
        }
    };
    let dispatched = pages(format!("unit={p1}&status=dispatched")).await;
    let mut newest_first = vec![id(&created[6])];
    newest_first.extend(created[..5].iter().rev().map(id));
    newest_first.push(imported.stored.id.0);
    assert_eq!(dispatched, newest_first, "accepted in March comes last");
    for o in [&created[1], &created[3]] {
        let (s, o) = call(
            &handler,
            t.url(&format!("/api/orders/{}/sign", id(o))),
            json!({}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{o}");
    }
    let signed = vec![id(&created[3]), id(&created[1])];
    assert_eq!(
        pages(format!("unit={p1}&status=handling")).await,
        signed,
        "the signed orders are handling"
    );
    let waiting: Vec<i64> = newest_first
        .iter()
        .copied()
        .filter(|i| !signed.contains(i))
        .collect();
    assert_eq!(
        pages(format!("unit={p1}&status=dispatched")).await,
        waiting,
        "and no longer dispatched"
    );
    assert_eq!(
        pages(format!("unit={p1}&status=handling,dispatched")).await,
        newest_first,
        "both statuses: every order once"
    );
    assert_eq!(
        pages(format!("unit={}&status=handling", t.unit("T1"))).await,
        Vec::<i64>::new(),
        "another unit's order is not P1's"
    );
    assert_eq!(
        pages(format!("unit={p1}&status=handling&sort=accepted_at")).await,
        signed.iter().rev().copied().collect::<Vec<_>>(),
        "oldest first"
    );

    // A change of the order's status alone (the centre approves a reply: the units' parts
    // stay as they are) moves the order between the unit's lists too.
    let (s, o) = call(
        &handler,
        t.url(&format!("/api/orders/{}/reply", signed[0])),
        json!({"content": "已安排维修人员上门处理", "contacted_citizen": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(
        pages(format!("unit={p1}&status=replied")).await,
        vec![signed[0]],
        "replied"
    );
    let (s, o) = call(
        &d,
        t.url(&format!("/api/orders/{}/check", signed[0])),
        json!({"approve": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["status"]["code"], "callback_pending", "{o}");
    assert_eq!(
        pages(format!("unit={p1}&status=callback_pending")).await,
        vec![signed[0]],
        "approved: waiting for the callback"
    );
    assert_eq!(
        pages(format!("unit={p1}&status=replied,handling")).await,
        vec![signed[1]],
        "no longer replied; the other one still handling"
    );
}

on_both_backends! {
    lists_filter_by_every_field_and_page_without_gaps_or_repeats => super::lists_filter_by_every_field_and_page_without_gaps_or_repeats,
}
