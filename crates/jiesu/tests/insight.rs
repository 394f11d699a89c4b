#![allow(clippy::unwrap_used)]
//! Insight over HTTP, on SQLite and PostgreSQL: repeats found at acceptance (same caller or
//! address, same issue, within the configured window), hot spots and near-duplicates,
//! spike warnings against the usual level, and the seasonal trend.

mod common;

use chrono::{Duration, Utc};
use common::*;
use jiesu_core::order::{Channel, Citizen, Flags, Location, NewOrder, RequestType, Urgency};
use jiesu_core::values::{CategoryCode, Phone, RegionCode};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn new_order(
    title: &str,
    content: &str,
    phone: &str,
    category: Option<&str>,
    region: &str,
) -> NewOrder {
    NewOrder {
        channel: Channel::Phone,
        request_type: RequestType::Complaint,
        category: category.map(|c| CategoryCode::parse("category", c).unwrap()),
        title: title.into(),
        content: content.into(),
        citizen: Citizen {
            name: None,
            phone: Phone::parse("phone", phone).ok(),
            id_number: None,
            anonymous: false,
        },
        location: Location {
            region_code: Some(RegionCode::parse("region_code", region).unwrap()),
            ..Location::default()
        },
        urgency: Urgency::Normal,
        flags: Flags::default(),
        external_ref: None,
        query_code_hash: None,
        source: Default::default(),
    }
}

async fn accept(
    t: &TestApp,
    agent: &Client,
    title: &str,
    content: &str,
    phone: &str,
    address: &str,
) -> Value {
    t.accept(
        agent,
        json!({"title": title, "content": content, "address": address,
               "citizen": {"name": "王五", "phone": phone}}),
    )
    .await
}

async fn an_order_of_the_same_caller_or_address_about_the_same_issue_is_a_repeat(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let first = accept(
        t,
        &agent,
        "楼下烧烤摊油烟扰民",
        "幸福路12号楼下烧烤摊每晚油烟很大，影响休息。",
        "13900000001",
        "幸福路12号",
    )
    .await;
    assert_eq!(first["flags"]["repeat"], false);
    assert!(first["repeat_of"].as_array().unwrap().is_empty());
    let again = accept(
        t,
        &agent,
        "烧烤摊油烟又扰民",
        "楼下烧烤摊油烟扰民，每晚无法休息，上次反映后没有改善。",
        "13900000001",
        "",
    )
    .await;
    assert_eq!(again["flags"]["repeat"], true, "{again}");
    let link = &again["repeat_of"][0];
    assert_eq!(link["id"], first["id"]);
    assert_eq!(link["basis"], "caller");
    assert_eq!(link["title"], "楼下烧烤摊油烟扰民");
    assert!(link["similarity"].as_f64().unwrap() >= 0.3, "{link}");
    // The same caller about something else is no repeat.
    let other = accept(
        t,
        &agent,
        "路灯不亮",
        "幸福路路灯坏了一个月，晚上出行不安全。",
        "13900000001",
        "",
    )
    .await;
    assert_eq!(other["flags"]["repeat"], false, "{other}");
    // Another caller from the same address, the same issue.
    let neighbour = accept(
        t,
        &agent,
        "烧烤油烟扰民",
        "楼下烧烤摊油烟很大，晚上影响休息。",
        "13900000002",
        "幸福路 12 号",
    )
    .await;
    assert_eq!(neighbour["repeat_of"][0]["basis"], "address", "{neighbour}");
    // It is in the order's history, with who and when.
    let id = again["id"].as_i64().unwrap();
    let (_, h) = get(&dispatcher, t.url(&format!("/api/orders/{id}/events"))).await;
    let kinds: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["accepted", "repeat_found"]);
    assert_eq!(h["items"][1]["label"], "识别为重复诉求");
    assert_eq!(h["items"][1]["actor"]["username"], "agent");

    // The window: an order 40 days old is outside the default 30 days.
    let p = t.agent_principal().await;
    let old = t
        .app
        .accept_order_at(
            &p,
            new_order(
                "小区电梯经常困人",
                "幸福小区3栋电梯经常困人，物业维修不及时。",
                "13900000003",
                None,
                "990101001",
            ),
            None,
            Some(Utc::now() - Duration::days(40)),
        )
        .await
        .unwrap();
    let content = "幸福小区3栋电梯又困人了，物业维修不及时。";
    let later = accept(t, &agent, "小区电梯困人", content, "13900000003", "").await;
    assert_eq!(later["flags"]["repeat"], false, "{later}");
    let admin = t.login("admin").await;
    let (s, cfg) = get(&admin, t.url("/api/insight/settings")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(cfg["repeat_window_days"], 30);
    let settings = t.url("/api/insight/settings");
    let mut wider = cfg.clone();
    wider["repeat_window_days"] = json!(60);
    let (s, _) = put(&dispatcher, settings.clone(), wider.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut bad = cfg.clone();
    bad["repeat_min_similarity"] = json!(1.5);
    let (s, e) = put(&admin, settings.clone(), bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "repeat_min_similarity");
    let (s, _) = put(&admin, settings, wider).await;
    assert_eq!(s, StatusCode::OK);
    // A candidate changed since its words were kept (dispatched: a new version) has its
    // text read again and is still found.
    let (s, d) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{}/dispatch", old.stored.id.0)),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let third = accept(t, &agent, "小区电梯困人", content, "13900000003", "").await;
    let linked: Vec<i64> = ids_in(&third, "repeat_of");
    assert!(linked.contains(&old.stored.id.0), "{third}");
    assert!(linked.contains(&later["id"].as_i64().unwrap()), "{third}");
}

/// An order is stored with the word set of its text, and a later request is compared with
/// that set (its text is not read and segmented again); a set made on another basis (another
/// dictionary, other rules) is not used: the text is.
async fn a_repeat_is_compared_with_the_words_stored_with_the_earlier_order(t: &TestApp) {
    let agent = t.login("agent").await;
    let bbq = (
        "楼下烧烤摊油烟扰民",
        "幸福路12号楼下烧烤摊每晚油烟很大，影响休息。",
    );
    let first = accept(t, &agent, bbq.0, bbq.1, "13900000011", "").await;
    let first_id = first["id"].as_i64().unwrap();
    let lamp = accept(
        t,
        &agent,
        "路灯不亮",
        "幸福路路灯坏了一个月，晚上出行不安全。",
        "13900000012",
        "",
    )
    .await;
    let lamp_id = lamp["id"].as_i64().unwrap();
    let stored = t
        .app
        .store
        .repeat_candidates(t.seed.tenant, Some("13900000011"), None, 0, 30)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let words = stored[0].0.words.clone().expect("stored with its words");
    assert!(
        !words.words.is_empty() && words.words.len() % 8 == 0,
        "{} bytes",
        words.words.len()
    );
    // The first order's stored set swapped for the lamp's: the same issue from the same caller
    // no longer reads alike, since the stored set is what it is compared with.
    t.exec(&format!(
        "UPDATE order_words SET words = (SELECT w.words FROM order_words w WHERE w.order_id = {lamp_id}) \
         WHERE order_id = {first_id}"
    ))
    .await;
    let again = accept(t, &agent, "烧烤摊油烟又扰民", bbq.1, "13900000011", "").await;
    assert!(!ids_in(&again, "repeat_of").contains(&first_id), "{again}");
    // Stored on another basis, the set is not used: the first order's text is, and it repeats.
    t.exec(&format!(
        "UPDATE order_words SET basis = CASE WHEN basis = 0 THEN 1 ELSE 0 END \
         WHERE order_id = {first_id}"
    ))
    .await;
    let third = accept(t, &agent, "烧烤摊油烟又扰民", bbq.1, "13900000011", "").await;
    let linked = ids_in(&third, "repeat_of");
    assert!(linked.contains(&first_id), "{third}");
    assert!(linked.contains(&again["id"].as_i64().unwrap()), "{third}");
    // Without a stored set (orders stored before sets were, imported ones) alike.
    t.exec(&format!(
        "DELETE FROM order_words WHERE order_id = {first_id}"
    ))
    .await;
    let fourth = accept(t, &agent, "烧烤摊油烟又扰民", bbq.1, "13900000011", "").await;
    assert!(ids_in(&fourth, "repeat_of").contains(&first_id), "{fourth}");
}

async fn hotspots_when_ready(t: &TestApp, c: &Client, want: usize) -> Value {
    for _ in 0..100 {
        t.app.orders_catch_up().await.unwrap();
        let (s, r) = get(c, t.url("/api/insight/hotspots")).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        if r["ready"] == true && r["items"].as_array().unwrap().len() >= want {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no hot spots came");
}

async fn orders_about_one_issue_at_one_place_form_a_hot_spot_to_merge(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let leader = t.login("leader").await;
    let mut ids = Vec::new();
    for (i, (title, content)) in [
        (
            "丽发新城小区搅拌站噪音扰民",
            "丽发新城小区旁边的搅拌站日夜施工，噪音很大。",
        ),
        (
            "丽发新城小区附近搅拌站噪音大",
            "丽发新城小区附近搅拌站晚上还在作业，噪音扰民。",
        ),
        (
            "投诉丽发新城小区搅拌站噪音",
            "丽发新城小区搅拌站噪音严重扰民，请尽快处理。",
        ),
        (
            "丽发新城小区搅拌站夜间噪音扰民",
            "丽发新城小区的搅拌站夜间噪音扰民，无法入睡。",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let o = accept(t, &agent, title, content, &format!("1380000100{i}"), "").await;
        ids.push(o["id"].as_i64().unwrap());
    }
    accept(
        t,
        &agent,
        "湘府华城小区停车难",
        "湘府华城小区车位不够，停车难。",
        "13800002000",
        "",
    )
    .await;
    accept(
        t,
        &agent,
        "路灯不亮",
        "幸福路路灯坏了一个月。",
        "13800002001",
        "",
    )
    .await;
    let r = hotspots_when_ready(t, &leader, 1).await;
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{r}");
    let spot = &items[0];
    assert_eq!(spot["size"], 4, "{spot}");
    assert_eq!(spot["callers"], 4);
    assert_eq!(spot["open"], 4);
    assert_eq!(spot["recent"], 4);
    assert!(
        spot["place"].as_str().unwrap().contains("丽发新城"),
        "{spot}"
    );
    assert!(
        spot["words"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "搅拌站" || w == "噪音"),
        "{spot}"
    );
    assert_eq!(spot["region"]["code"], "990101001");
    assert!(r["orders"].as_u64().unwrap() >= 6);
    let key = spot["key"].as_str().unwrap();
    let (s, d) = get(&leader, t.url(&format!("/api/insight/hotspots/{key}"))).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let mut members: Vec<i64> = ids_in(&d, "orders");
    members.sort();
    assert_eq!(members, ids);
    let (s, _) = get(&leader, t.url("/api/insight/hotspots/12345")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = get(&leader, t.url("/api/insight/hotspots?rank=loudest")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "rank");
    // Units and district staff do not see the city's hot spots.
    for who in ["handler", "district"] {
        let c = t.login(who).await;
        let (s, _) = get(&c, t.url("/api/insight/hotspots")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}");
    }

    // Near-duplicates of the first order: the other three, to merge.
    let (s, dup) = get(
        &dispatcher,
        t.url(&format!("/api/orders/{}/duplicates", ids[0])),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{dup}");
    let mut found: Vec<i64> = ids_in(&dup, "items");
    found.sort();
    assert_eq!(found, ids[1..]);
    let (s, e) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{}/merge", ids[1])),
        json!({"target_id": ids[0], "reason": "同一搅拌站噪音问题"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, dup) = get(
        &dispatcher,
        t.url(&format!("/api/orders/{}/duplicates", ids[0])),
    )
    .await;
    assert_eq!(
        dup["items"].as_array().unwrap().len(),
        2,
        "a merged order is no candidate"
    );
    let r = hotspots_when_ready(t, &leader, 1).await;
    assert_eq!(r["items"][0]["open"], 3, "{r}");
}

async fn a_category_far_above_its_usual_level_in_a_district_raises_a_warning(t: &TestApp) {
    let p = t.agent_principal().await;
    // The day looked at: yesterday (China time), so that no order falls on another day.
    let day = jiesu::app::insight::china_today() - Duration::days(1);
    let now = day.and_hms_opt(4, 0, 0).unwrap().and_utc(); // 12:00 in China
    let mut n = 0;
    let mut at = |title: &str, category: &str, region: &str, when: chrono::DateTime<Utc>| {
        n += 1;
        let o = new_order(
            title,
            "请有关部门处理。",
            &format!("1370000{n:04}"),
            Some(category),
            region,
        );
        let app = t.app.clone();
        let p = p.clone();
        async move {
            app.accept_order_at(&p, o, None, Some(when)).await.unwrap();
        }
    };
    // The usual level: one safety order every four days in 一街道 (A区), steady.
    for d in (4..=28).step_by(4) {
        at("安全隐患", "01.01.03", "990101001", now - Duration::days(d)).await;
    }
    // A year ago, the same fortnight: two.
    at(
        "安全隐患",
        "01.01.03",
        "990101002",
        now - Duration::days(365),
    )
    .await;
    at(
        "安全隐患",
        "01.01.01",
        "990101001",
        now - Duration::days(366),
    )
    .await;
    // Today: six in the district (both streets count for A区).
    for i in 0..6 {
        let region = if i % 2 == 0 { "990101001" } else { "990101002" };
        at("安全隐患", "01.01.02", region, now - Duration::minutes(i)).await;
    }
    // Another district, four today against none: below the minimum of five.
    for i in 0..4 {
        at("安全隐患", "01.01.02", "990102", now - Duration::minutes(i)).await;
    }
    let supervisor = t.login("supervisor").await;
    let (s, w) = get(
        &supervisor,
        t.url(&format!("/api/insight/warnings?date={day}")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    let items = w["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{w}");
    let x = &items[0];
    assert_eq!(x["category"]["code"], "01.01");
    assert_eq!(x["category"]["name"], "安全生产");
    assert_eq!(x["region"]["code"], "990101");
    assert_eq!(x["region"]["name"], "A区");
    assert_eq!(x["count"], 6);
    assert_eq!(x["baseline"], 0.25);
    assert_eq!(x["level"], "red");
    assert!(x["last_year"].as_f64().unwrap() > 0.0, "{x}");
    // A day without spikes, and bad input.
    let quiet = day - Duration::days(10);
    let (_, w) = get(
        &supervisor,
        t.url(&format!("/api/insight/warnings?date={quiet}")),
    )
    .await;
    assert!(w["items"].as_array().unwrap().is_empty(), "{w}");
    let (s, e) = get(&supervisor, t.url("/api/insight/warnings?date=2026-13-01")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "date");

    // Seasonal: this month against the same month a year earlier.
    let (s, tr) = get(
        &supervisor,
        t.url("/api/insight/trend?category=01.01&region=990101&months=13"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tr}");
    let months = tr["items"].as_array().unwrap();
    assert_eq!(months.len(), 13);
    assert_eq!(
        months.last().unwrap()["month"],
        jiesu::app::insight::china_today()
            .format("%Y-%m")
            .to_string()
    );
    let this_year: i64 = months.iter().map(|m| m["count"].as_i64().unwrap()).sum();
    assert!(this_year >= 13, "{tr}");
    let total_last_year: i64 = months
        .iter()
        .map(|m| m["last_year"].as_i64().unwrap())
        .sum();
    assert!(total_last_year >= 2, "{tr}");
    let (s, e) = get(&supervisor, t.url("/api/insight/trend?category=99")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "category");
}

on_both_backends! {
    an_order_of_the_same_caller_or_address_about_the_same_issue_is_a_repeat => super::an_order_of_the_same_caller_or_address_about_the_same_issue_is_a_repeat,
    a_repeat_is_compared_with_the_words_stored_with_the_earlier_order => super::a_repeat_is_compared_with_the_words_stored_with_the_earlier_order,
    orders_about_one_issue_at_one_place_form_a_hot_spot_to_merge => super::orders_about_one_issue_at_one_place_form_a_hot_spot_to_merge,
    a_category_far_above_its_usual_level_in_a_district_raises_a_warning => super::a_category_far_above_its_usual_level_in_a_district_raises_a_warning,
}
