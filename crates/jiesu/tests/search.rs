#![allow(clippy::unwrap_used)]
//! Order search over HTTP, on SQLite and PostgreSQL: full text with the list filters and the
//! viewer's scope, similar orders with their replies, and the outbox that keeps the index
//! current (also across a restart).

mod common;

use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn found(t: &TestApp, c: &Client, query: &str) -> Vec<i64> {
    t.app.orders_catch_up().await.unwrap();
    let (s, r) = get(c, t.url(&format!("/api/orders/search?{query}"))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    ids_in(&r, "items")
}

async fn orders_are_found_by_their_words_within_filters_and_scope(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler2 = t.login("handler2").await;
    let bbq = t
        .accept(
            &agent,
            json!({"content": "小区楼下烧烤摊油烟很大，晚上十二点还在营业。"}),
        )
        .await;
    let lamp = t
        .accept(&agent, json!({"content": "幸福路路灯坏了一个月，晚上出行不安全。", "region_code": "990101002"}))
        .await;
    let bbq_id = bbq["id"].as_i64().unwrap();
    let lamp_id = lamp["id"].as_i64().unwrap();

    assert_eq!(
        found(t, &dispatcher, &format!("q={}", enc("烧烤油烟"))).await,
        vec![bbq_id]
    );
    assert_eq!(
        found(t, &dispatcher, &format!("q={}", enc("路灯"))).await,
        vec![lamp_id]
    );
    // A hit's passage is cut from its content, the searched words marked.
    let (_, r) = get(
        &dispatcher,
        t.url(&format!("/api/orders/search?q={}", enc("油烟"))),
    )
    .await;
    assert_eq!(
        r["items"][0]["highlight"], "小区楼下烧烤摊<em>油烟</em>很大，晚上十二点还在营业。",
        "{r}"
    );
    // The address is searched too, and filters apply.
    let both = found(t, &dispatcher, &format!("q={}", enc("晚上"))).await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(
        found(
            t,
            &dispatcher,
            &format!("q={}&region=990101002", enc("晚上"))
        )
        .await,
        vec![lamp_id]
    );
    assert!(
        found(t, &dispatcher, &format!("q={}&status=closed", enc("晚上")))
            .await
            .is_empty()
    );
    // A unit sees only what reached it.
    assert!(
        found(t, &handler2, &format!("q={}", enc("烧烤")))
            .await
            .is_empty()
    );
    let (s, e) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{bbq_id}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P2"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(
        found(t, &handler2, &format!("q={}", enc("烧烤"))).await,
        vec![bbq_id]
    );
    // The status changed in the index too.
    assert_eq!(
        found(
            t,
            &dispatcher,
            &format!("q={}&status=dispatched", enc("烧烤"))
        )
        .await,
        vec![bbq_id]
    );
    // Bad input names the field.
    for (q, field) in [
        ("q=", "q"),
        ("q=x&status=lost", "status"),
        ("q=x&region=12", "region"),
        ("q=x&from=yesterday", "from"),
    ] {
        let (s, e) = get(&dispatcher, t.url(&format!("/api/orders/search?{q}"))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
        assert_eq!(e["error"]["field"], field, "{q}: {e}");
    }
}

async fn similar_orders_show_the_earlier_reply(t: &TestApp) {
    let agent = t.login("agent").await;
    let supervisor = t.login("supervisor").await;
    let (_, e) = call(
        &supervisor,
        t.url("/api/kb/entries"),
        json!({"title": "居住证办理", "answer": "持身份证和租房合同到居住地派出所办理居住证。"}),
    )
    .await;
    let (_, e) = call(
        &supervisor,
        t.url(&format!("/api/kb/entries/{}/publish", e["id"])),
        json!({}),
    )
    .await;
    let first = t
        .accept(&agent, json!({"request_type": "consultation", "content": "外地户口在本市租房，居住证怎么办理？",
                               "instant_answer": {"knowledge_entry_id": e["code"]}}))
        .await;
    t.accept(&agent, json!({"content": "楼道堆放杂物，存在消防隐患。"}))
        .await;
    let again = t
        .accept(
            &agent,
            json!({"request_type": "consultation", "content": "租房的外地人办理居住证需要什么？"}),
        )
        .await;
    t.app.orders_catch_up().await.unwrap();
    let (s, r) = get(
        &agent,
        t.url(&format!("/api/orders/{}/similar", again["id"])),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let top = &r["items"][0];
    assert_eq!(top["id"], first["id"], "{r}");
    assert!(top["reply"].as_str().unwrap().contains("派出所"), "{r}");
    assert!(
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"] != again["id"]),
        "not itself"
    );
    let (s, _) = get(
        &t.login("handler2").await,
        t.url(&format!("/api/orders/{}/similar", again["id"])),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "an order outside the unit's scope"
    );
}

on_both_backends! {
    orders_are_found_by_their_words_within_filters_and_scope => super::orders_are_found_by_their_words_within_filters_and_scope,
    similar_orders_show_the_earlier_reply => super::similar_orders_show_the_earlier_reply,
}

/// Orders written while no index ran (a crash after the database commit) are in the outbox:
/// the next start indexes them; a lost index directory is rebuilt from the orders.
async fn the_order_index_catches_up_and_rebuilds(backend: Backend) {
    let Some(t) = spawn_app(backend).await else {
        return;
    };
    let agent = t.login("agent").await;
    let first: Value = t
        .accept(&agent, json!({"content": "噪音扰民，工地夜间施工。"}))
        .await;
    assert_eq!(
        found(&t, &agent, &format!("q={}", enc("夜间施工")))
            .await
            .len(),
        1
    );
    let config = t.config.clone();
    let stopped = t.restart_stopped().await;
    // Another order while the server is down, written by the store alone.
    let app = jiesu::open_app(config.clone()).await.unwrap();
    let p = {
        let u = app
            .store
            .user_by_name(stopped.seed.tenant, "agent")
            .await
            .unwrap()
            .unwrap();
        jiesu::app::Principal {
            tenant: stopped.seed.tenant,
            user_id: u.id,
            username: u.username,
            display_name: u.display_name,
            unit_id: u.unit_id,
            roles: u.roles,
            token_scopes: None,
        }
    };
    let new = jiesu_core::order::NewOrder {
        channel: jiesu_core::order::Channel::Phone,
        request_type: jiesu_core::order::RequestType::Complaint,
        category: None,
        title: "夜间施工".into(),
        content: "工地夜间施工，电钻声吵得睡不着。".into(),
        citizen: jiesu_core::order::Citizen {
            name: None,
            phone: jiesu_core::values::Phone::parse("phone", "13800138000").ok(),
            id_number: None,
            anonymous: false,
        },
        location: jiesu_core::order::Location::default(),
        urgency: jiesu_core::order::Urgency::Normal,
        flags: jiesu_core::order::Flags::default(),
        external_ref: None,
        query_code_hash: None,
        source: Default::default(),
    };
    app.accept_order(&p, new, None).await.unwrap();
    app.store.close().await;
    drop(app);
    let t = stopped.start(config.clone()).await;
    let agent = t.login("agent").await;
    assert_eq!(
        found(&t, &agent, &format!("q={}", enc("夜间施工")))
            .await
            .len(),
        2
    );
    // The index directory lost: rebuilt from the orders at the next start.
    let stopped = t.restart_stopped().await;
    std::fs::remove_dir_all(config.data_dir.join("index").join("orders")).unwrap();
    let t = stopped.start(config).await;
    let agent = t.login("agent").await;
    let ids = found(&t, &agent, &format!("q={}", enc("夜间施工"))).await;
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first["id"].as_i64().unwrap()));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_index_catches_up_and_rebuilds_on_sqlite() {
    the_order_index_catches_up_and_rebuilds(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_index_catches_up_and_rebuilds_on_postgres() {
    the_order_index_catches_up_and_rebuilds(Backend::Postgres).await;
}
