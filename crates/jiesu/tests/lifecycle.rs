#![allow(clippy::unwrap_used)]
//! The whole 接诉即办 lifecycle over HTTP, on SQLite and PostgreSQL.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn status(o: &Value) -> &str {
    o["status"]["code"].as_str().unwrap_or("?")
}

async fn an_order_travels_from_acceptance_to_a_satisfied_close(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let town = t.login("town1").await;
    let cb = t.login("callback").await;

    let o = t.accept(&agent, json!({"category": "01.01.01"})).await;
    let id = o["id"].as_i64().unwrap();
    assert_eq!(status(&o), "pending_review");
    assert!(
        o["number"].as_str().unwrap().len() == 17,
        "number like 2026-11-24-000001: {}",
        o["number"]
    );
    assert!(o["deadlines"]["dispatch_due"].is_string());

    let (s, o) = call(&dispatcher, t.url(&format!("/api/orders/{id}/dispatch")), json!({
        "targets": [{"unit_id": t.unit("P1"), "role": "lead"}, {"unit_id": t.unit("T1"), "role": "co"}],
        "note": "请住建局主办，街道配合"
    })).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(status(&o), "dispatched");
    assert_eq!(o["lead_unit_id"], t.unit("P1"));
    assert!(o["deadlines"]["reply_due"].is_string());

    let (s, o) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/sign")),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(status(&o), "handling");
    // Signing twice is a state conflict that says why.
    let (s, e) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/sign")),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["error"]["code"], "state_conflict");
    assert!(e["error"]["message"].as_str().unwrap().contains("签收"));

    // The co-handler signs and gives its part.
    let (s, _) = call(&town, t.url(&format!("/api/orders/{id}/sign")), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &town,
        t.url(&format!("/api/orders/{id}/reply")),
        json!({"content": "街道已配合现场检查"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let (s, o) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/extension")),
        json!({"days": 3, "reason": "需要协调环保部门联合执法"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let due_before = o["deadlines"]["reply_due"].as_str().unwrap().to_string();
    // The dispatcher's queue of extension requests holds it until it is decided.
    let pending = |c: &reqwest::Client| {
        let c = c.clone();
        let url = t.url("/api/orders?extension=pending");
        async move {
            let (s, l) = get(&c, url).await;
            assert_eq!(s, StatusCode::OK, "{l}");
            ids_in(&l, "items")
        }
    };
    assert_eq!(pending(&dispatcher).await, vec![id]);
    let (s, e) = get(&dispatcher, t.url("/api/orders?extension=approved")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "extension");
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/extension-review")),
        json!({"approve": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert!(
        o["deadlines"]["reply_due"].as_str().unwrap() > due_before.as_str(),
        "the extension moves the deadline"
    );
    assert!(pending(&dispatcher).await.is_empty());
    let (s, _) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/extension")),
        json!({"days": 1, "reason": "再延一天"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "only one extension per order");

    let (s, o) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/reply")),
        json!({"content": "已责令烧烤店安装油烟净化设备并限时营业", "contacted_citizen": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(status(&o), "replied");
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/check")),
        json!({"approve": false}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sending back needs a comment: {o}"
    );
    assert_eq!(o["error"]["field"], "comment");
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/check")),
        json!({"approve": false, "comment": "请补充整改照片"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "handling");
    let (s, _) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/reply")),
        json!({"content": "已补充整改照片，设备已安装"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/check")),
        json!({"approve": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "callback_pending");

    // Dissatisfied: back to the unit with a new deadline (重办).
    let (s, o) = call(
        &cb,
        t.url(&format!("/api/orders/{id}/callback")),
        json!({"satisfaction": "dissatisfied", "resolved": false, "comment": "晚上仍有油烟"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(status(&o), "handling");
    assert_eq!(o["rehandle_count"], 1);
    let (s, _) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/reply")),
        json!({"content": "再次上门，已停止夜间营业"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/check")),
        json!({"approve": true}),
    )
    .await;
    let (s, o) = call(
        &cb,
        t.url(&format!("/api/orders/{id}/callback")),
        json!({"satisfaction": "satisfied", "resolved": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "closed");
    assert_eq!(o["closure"]["code"], "callback");

    // 一单到底: every step, with who/when/from/to, chained by hashes.
    let (s, h) = get(&dispatcher, t.url(&format!("/api/orders/{id}/events"))).await;
    assert_eq!(s, StatusCode::OK);
    let items = h["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "accepted",
            "dispatched",
            "signed",
            "signed",
            "replied",
            "extension_requested",
            "extension_decided",
            "replied",
            "checked",
            "replied",
            "checked",
            "called_back",
            "replied",
            "checked",
            "called_back"
        ]
    );
    for (i, e) in items.iter().enumerate() {
        assert_eq!(e["seq"], i + 1);
        assert!(e["actor"]["username"].is_string() && e["at"].is_string());
        let prev = if i == 0 {
            ""
        } else {
            items[i - 1]["hash"].as_str().unwrap()
        };
        assert_eq!(e["prev_hash"], prev);
    }
    assert_eq!(items[1]["from"]["code"], "pending_review");
    assert_eq!(items[1]["to"]["code"], "dispatched");
    assert_eq!(items[8]["reason"], "请补充整改照片");

    // Terminal: nothing more is allowed, and the order is unchanged.
    let (s, _) = call(
        &agent,
        t.url(&format!("/api/orders/{id}/withdraw")),
        json!({"reason": "不需要了"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

async fn a_district_centre_dispatches_again_and_units_sub_dispatch_and_return(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let district = t.login("district").await;
    let town1 = t.login("town1").await;
    let town2 = t.login("town2").await;
    let community = t.login("community").await;
    let handler2 = t.login("handler2").await;

    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    let u = |p: &str| t.url(&format!("/api/orders/{id}/{p}"));
    let (s, _) = call(
        &dispatcher,
        u("dispatch"),
        json!({"targets": [{"unit_id": t.unit("D"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // A district centre cannot send outside its district.
    let (s, e) = call(
        &district,
        u("dispatch"),
        json!({"targets": [{"unit_id": t.unit("P2"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "targets[0].unit_id");
    let (s, o) = call(
        &district,
        u("dispatch"),
        json!({"targets": [{"unit_id": t.unit("T1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["lead_unit_id"], t.unit("T1"));
    // The town returns it: it goes back to the district centre, which sends it to the other town.
    let (s, o) = call(&town1, u("return"), json!({"reason": "该小区属二街道管辖"})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["lead_unit_id"], t.unit("D"));
    let (s, _) = call(
        &district,
        u("dispatch"),
        json!({"targets": [{"unit_id": t.unit("T2"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // town1 no longer holds it.
    let (s, _) = call(&town1, u("sign"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(&town2, u("sign"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    // Sub-dispatch only below oneself.
    let (s, _) = call(
        &town2,
        u("sub-dispatch"),
        json!({"unit_ids": [t.unit("C")]}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the community is under town 1"
    );
    // A unit that never had it cannot even see it.
    let (s, _) = get(&handler2, u("events").replace("/events", "")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&community, u("sign"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Sub-dispatch down the tree and reply up it, on another order.
    let o = t.accept(&agent, json!({"request_type": "help"})).await;
    let id2 = o["id"].as_i64().unwrap();
    let u2 = |p: &str| t.url(&format!("/api/orders/{id2}/{p}"));
    call(
        &dispatcher,
        u2("dispatch"),
        json!({"targets": [{"unit_id": t.unit("T1"), "role": "lead"}]}),
    )
    .await;
    call(&town1, u2("sign"), json!({})).await;
    let (s, o) = call(
        &town1,
        u2("sub-dispatch"),
        json!({"unit_ids": [t.unit("C")], "note": "请社区上门"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let (s, e) = call(&town1, u2("reply"), json!({"content": "已处理"})).await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "the community has not replied yet: {e}"
    );
    call(&community, u2("sign"), json!({})).await;
    let (s, _) = call(
        &community,
        u2("reply"),
        json!({"content": "社区已上门帮扶"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, o) = call(
        &town1,
        u2("reply"),
        json!({"content": "已协调社区帮扶到位"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "replied");

    // The whole-order return to the city centre and re-dispatch.
    let o = t.accept(&agent, json!({})).await;
    let id3 = o["id"].as_i64().unwrap();
    let u3 = |p: &str| t.url(&format!("/api/orders/{id3}/{p}"));
    call(
        &dispatcher,
        u3("dispatch"),
        json!({"targets": [{"unit_id": t.unit("P2"), "role": "lead"}]}),
    )
    .await;
    let (s, o) = call(&handler2, u3("return"), json!({"reason": "不属于城管职责"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "returned");
    let (s, list) = get(&dispatcher, t.url("/api/orders?status=returned")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id3)
    );
    let (s, o) = call(
        &dispatcher,
        u3("dispatch"),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "dispatched");
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

async fn instant_answers_withdrawals_invalid_orders_and_merges(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let cb = t.login("callback").await;
    let supervisor = t.login("supervisor").await;
    let mut codes = Vec::new();
    for title in ["社保卡补办", "医保报销"] {
        let (s, e) = call(
            &supervisor,
            t.url("/api/kb/entries"),
            json!({"title": title, "answer": "请带身份证到任一服务网点办理"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let (s, e) = call(
            &supervisor,
            t.url(&format!("/api/kb/entries/{}/publish", e["id"])),
            json!({}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        codes.push(e["code"].as_str().unwrap().to_string());
    }

    // 即答 at acceptance.
    let o = t
        .accept(&agent, json!({"request_type": "consultation", "instant_answer": {"knowledge_entry_id": codes[0], "answer": "社保卡补办请带身份证到任一服务网点"}}))
        .await;
    assert_eq!(status(&o), "closed");
    assert_eq!(o["closure"]["code"], "instant_answer");
    assert_eq!(o["instant_answer"]["knowledge_entry_id"], codes[0]);
    // 即答 after saving.
    let o = t
        .accept(&agent, json!({"request_type": "consultation"}))
        .await;
    let id = o["id"].as_i64().unwrap();
    let (s, e) = call(&agent, t.url(&format!("/api/orders/{id}/close")), json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "knowledge_entry_id");
    let (s, o) = call(
        &agent,
        t.url(&format!("/api/orders/{id}/close")),
        json!({"knowledge_entry_id": codes[1]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["instant_answer"]["knowledge_version"], 1);
    assert_eq!(status(&o), "closed");

    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    let (s, o) = call(
        &agent,
        t.url(&format!("/api/orders/{id}/withdraw")),
        json!({"reason": "诉求人已自行解决"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "withdrawn");

    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    let (s, _) = call(
        &agent,
        t.url(&format!("/api/orders/{id}/invalidate")),
        json!({"reason": "骚扰电话"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only dispatchers invalidate");
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/invalidate")),
        json!({"reason": "骚扰电话"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&o), "invalid");

    let a = t.accept(&agent, json!({})).await;
    let b = t.accept(&agent, json!({})).await;
    let (ida, idb) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{idb}/merge")),
        json!({"target_number": a["number"], "reason": "同一商户油烟问题"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(status(&o), "merged");
    assert_eq!(o["merged_into"]["id"], ida);
    let (_, a2) = get(&dispatcher, t.url(&format!("/api/orders/{ida}"))).await;
    assert_eq!(a2["merged_from"][0]["id"], idb);
    let (s, _) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{ida}/merge")),
        json!({"target_id": idb, "reason": "反向合并"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a merged order cannot be a merge target"
    );

    // Amend the classification before dispatch.
    let (s, o) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{ida}/amend")),
        json!({"request_type": "report", "flags": {"complex": true}, "reason": "实为举报"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["request_type"]["code"], "report");
    assert_eq!(o["flags"]["complex"], true);

    // Close without callback for an anonymous citizen.
    let o = t
        .accept(&agent, json!({"citizen": {"anonymous": true}}))
        .await;
    let id = o["id"].as_i64().unwrap();
    let handler = t.login("handler").await;
    call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    call(
        &handler,
        t.url(&format!("/api/orders/{id}/sign")),
        json!({}),
    )
    .await;
    call(
        &handler,
        t.url(&format!("/api/orders/{id}/reply")),
        json!({"content": "已处理"}),
    )
    .await;
    call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/check")),
        json!({"approve": true}),
    )
    .await;
    let (s, o) = call(
        &cb,
        t.url(&format!("/api/orders/{id}/close")),
        json!({"reason": "匿名诉求，无法回访"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["closure"]["code"], "without_callback");
}

async fn citizens_are_masked_for_units_hidden_when_confidential_and_clear_reads_are_logged(
    t: &TestApp,
) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let leader = t.login("leader").await;
    let admin = t.login("admin").await;

    let plain = t.accept(&agent, json!({})).await;
    let contact = t
        .accept(&agent, json!({"flags": {"needs_contact": true}}))
        .await;
    let secret = t
        .accept(
            &agent,
            json!({"flags": {"confidential": true, "needs_contact": true}}),
        )
        .await;
    assert_eq!(
        plain["citizen"]["phone"], "138****8000",
        "the acceptance response is masked"
    );
    for o in [&plain, &contact, &secret] {
        let id = o["id"].as_i64().unwrap();
        let (s, _) = call(
            &dispatcher,
            t.url(&format!("/api/orders/{id}/dispatch")),
            json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }
    let detail = |c: &reqwest::Client, o: &Value| {
        let url = t.url(&format!("/api/orders/{}", o["id"]));
        let c = c.clone();
        async move { get(&c, url).await.1 }
    };
    let d = detail(&handler, &plain).await;
    assert_eq!(d["citizen"]["name"], "张*");
    assert_eq!(d["citizen"]["phone"], "138****8000");
    assert_eq!(d["citizen"]["disclosure"], "masked");
    let d = detail(&handler, &contact).await;
    assert_eq!(
        d["citizen"]["phone"], "13800138000",
        "the unit must call the citizen"
    );
    let d = detail(&handler, &secret).await;
    assert_eq!(d["citizen"]["name"], Value::Null);
    assert_eq!(d["citizen"]["phone"], Value::Null);
    assert_eq!(d["citizen"]["disclosure"], "hidden");
    let (_, h) = get(
        &handler,
        t.url(&format!("/api/orders/{}/events", secret["id"])),
    )
    .await;
    assert_eq!(
        h["items"][0]["payload"]["order"]["citizen"]["phone"],
        Value::Null,
        "history is masked too"
    );
    let d = detail(&leader, &plain).await;
    assert_eq!(d["citizen"]["disclosure"], "masked");
    let d = detail(&dispatcher, &secret).await;
    assert_eq!(d["citizen"]["phone"], "13800138000");
    // Lists never show personal data in clear, and hide what the order's page hides.
    let (_, l) = get(&dispatcher, t.url("/api/orders")).await;
    assert!(
        l["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["citizen_name"] != "张三")
    );
    let listed = |l: &Value, o: &Value| {
        l["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == o["id"])
            .map(|i| i["citizen_name"].clone())
    };
    assert_eq!(listed(&l, &secret), Some(json!("张*")));
    let (_, l) = get(&handler, t.url("/api/orders")).await;
    assert_eq!(listed(&l, &plain), Some(json!("张*")));
    assert_eq!(listed(&l, &contact), Some(json!("张*")));
    assert_eq!(listed(&l, &secret), Some(Value::Null), "{l}");

    // Every clear read was logged: the handler's read of `contact`, the dispatcher's of `secret`.
    let (s, audit) = get(&admin, t.url("/api/audit")).await;
    assert_eq!(s, StatusCode::OK);
    let reads = audit["personal_data_reads"].as_array().unwrap();
    assert!(
        reads
            .iter()
            .any(|r| r["username"] == "handler" && r["order_id"] == contact["id"]),
        "{reads:?}"
    );
    assert!(
        reads
            .iter()
            .any(|r| r["username"] == "dispatcher" && r["order_id"] == secret["id"])
    );
    assert!(
        !reads
            .iter()
            .any(|r| r["order_id"] == plain["id"] && r["username"] == "handler")
    );
}

async fn logins_sessions_and_api_tokens_work_and_end(t: &TestApp) {
    let admin = t.login("admin").await;
    let anon = reqwest::Client::new();
    let (s, e) = call(
        &anon,
        t.url("/api/auth/login"),
        json!({"username": "agent", "password": "wrong-password", "tenant": "t1"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(e["error"]["code"], "bad_credentials");
    let (s, _) = get(&anon, t.url("/api/orders")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, me) = get(&admin, t.url("/api/auth/me")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["roles"], json!(["admin"]));

    // A system token acting as an agent of the city centre.
    let (s, tok) = call(&admin, t.url("/api/tokens"), json!({"name": "110联动平台", "unit_id": t.unit("root"), "roles": ["agent"], "expires_days": 30})).await;
    assert_eq!(s, StatusCode::CREATED, "{tok}");
    let token = tok["token"].as_str().unwrap().to_string();
    let sys = reqwest::Client::new();
    let r = sys
        .post(t.url("/api/orders"))
        .bearer_auth(&token)
        .json(&json!({"channel": "police_110", "request_type": "help", "content": "110转来：老人走失求助", "external_ref": "110-2026-0001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["channel"]["code"], "police_110");
    // The same source id twice is refused: intake is idempotent.
    let r = sys
        .post(t.url("/api/orders"))
        .bearer_auth(&token)
        .json(&json!({"channel": "police_110", "request_type": "help", "content": "重复推送", "external_ref": "110-2026-0001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = sys
        .post(t.url(&format!("/api/orders/{}/dispatch", o["id"])))
        .bearer_auth(&token)
        .json(&json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the token has only the agent role"
    );
    let r = reqwest::Client::new()
        .delete(t.url(&format!("/api/tokens/{}", tok["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = admin
        .delete(t.url(&format!("/api/tokens/{}", tok["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = sys
        .get(t.url("/api/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked token is dead at once"
    );

    // Logout ends the session; a password reset ends the user's sessions.
    let agent = t.login("agent").await;
    let r = agent.post(t.url("/api/auth/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, _) = get(&agent, t.url("/api/auth/me")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let handler = t.login("handler").await;
    let (_, users) = get(&admin, t.url("/api/users")).await;
    let hid = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "handler")
        .unwrap()["id"]
        .clone();
    let (s, _) = call(
        &admin,
        t.url(&format!("/api/users/{hid}/password")),
        json!({"password": "short"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(
        &admin,
        t.url(&format!("/api/users/{hid}/password")),
        json!({"password": "a-new-password-2"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, _) = get(&handler, t.url("/api/auth/me")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A cross-site form cannot act with the session cookie.
    let dispatcher = t.login("dispatcher").await;
    let r = dispatcher
        .post(t.url("/api/orders"))
        .header("origin", "https://evil.example")
        .json(&json!({"channel": "web", "request_type": "help", "content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn admins_edit_the_organisation_users_and_categories(t: &TestApp) {
    let admin = t.login("admin").await;
    let dispatcher = t.login("dispatcher").await;
    let (s, o) = call(
        &admin,
        t.url("/api/units"),
        json!({"parent_id": t.unit("T2"), "kind": "community", "name": "和平社区"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let cid = o["id"].as_i64().unwrap();
    let (s, _) = call(
        &dispatcher,
        t.url("/api/units"),
        json!({"parent_id": t.unit("T2"), "kind": "community", "name": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // No cycles: a town cannot move under its own community.
    let r = admin
        .put(t.url(&format!("/api/units/{}", t.unit("T1"))))
        .json(&json!({"parent_id": t.unit("C"), "kind": "town", "name": "一街道"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = admin
        .put(t.url(&format!("/api/units/{cid}")))
        .json(&json!({"parent_id": t.unit("T1"), "kind": "community", "name": "和平社区（迁）"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, units) = get(&dispatcher, t.url("/api/units")).await;
    let moved = units["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == cid)
        .unwrap()
        .clone();
    assert_eq!(moved["parent_id"], t.unit("T1"));

    let (s, u) = call(&admin, t.url("/api/users"), json!({"username": "newagent", "display_name": "新话务员", "password": "pass-word-123", "unit_id": t.unit("root"), "roles": ["agent"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let (s, e) = call(&admin, t.url("/api/users"), json!({"username": "newagent", "display_name": "重复", "password": "pass-word-123", "unit_id": t.unit("root"), "roles": ["agent"]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = call(&admin, t.url("/api/users"), json!({"username": "x2", "display_name": "x", "password": "pass-word-123", "unit_id": t.unit("root"), "roles": ["boss"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "roles[0]");

    let (s, _) = call(
        &admin,
        t.url("/api/categories"),
        json!({"code": "99", "name": "本地事项"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = call(
        &admin,
        t.url("/api/categories"),
        json!({"code": "99.01", "parent_code": "99", "name": "民俗活动"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let agent = t.login("agent").await;
    let o = t.accept(&agent, json!({"category": "99.01"})).await;
    assert_eq!(o["category"], "99.01");
    let r = admin
        .put(t.url("/api/categories/99.01"))
        .json(&json!({"name": "民俗活动", "active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, e) = call(
        &agent,
        t.url("/api/orders"),
        json!({"channel": "phone", "request_type": "help", "content": "x", "category": "99.01"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a deactivated category is refused: {e}"
    );

    let (s, audit) = get(&admin, t.url("/api/audit")).await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = audit["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    for a in [
        "unit.create",
        "unit.update",
        "user.create",
        "category.create",
        "category.update",
    ] {
        assert!(actions.contains(&a), "{a} missing in {actions:?}");
    }
}

async fn the_api_describes_itself_and_answers_health_probes(t: &TestApp) {
    let c = reqwest::Client::new();
    let (s, h) = get(&c, t.url("/api/health")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    let (s, doc) = get(&c, t.url("/api/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/orders",
        "/api/orders/{id}",
        "/api/orders/{id}/events",
        "/api/orders/{id}/dispatch",
        "/api/orders/{id}/sign",
        "/api/orders/{id}/return",
        "/api/orders/{id}/extension",
        "/api/orders/{id}/reply",
        "/api/orders/{id}/check",
        "/api/orders/{id}/callback",
        "/api/orders/{id}/close",
        "/api/orders/{id}/withdraw",
        "/api/orders/{id}/merge",
        "/api/auth/login",
        "/api/units",
        "/api/users",
        "/api/health",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    let r = c.get(t.url("/api/docs/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text().await.unwrap().contains("swagger"),
        "the interactive docs page"
    );
}

/// Many changes of a few orders at the same moment share group commits (on SQLite, one
/// statement per table for all of them): each accepted change is kept exactly once, in the
/// order's chain, and one that lost the race to another change of the same version is told so
/// (or retried by the server) — never both kept, never lost.
async fn changes_of_the_same_orders_at_once_are_each_kept_once(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let o = t.accept(&agent, json!({"category": "01.01.01"})).await;
        ids.push(o["id"].as_i64().unwrap());
    }
    let mut calls = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        for n in 0..8 {
            let c = if n % 2 == 0 { &agent } else { &dispatcher };
            let url = t.url(&format!("/api/orders/{id}/note"));
            calls.push(call(
                c,
                url,
                json!({"text": format!("第{k}单的第{n}条办理记录")}),
            ));
        }
    }
    let dispatch = call(
        &dispatcher,
        t.url(&format!("/api/orders/{}/dispatch", ids[0])),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    );
    let (answers, (ds, d)) = tokio::join!(futures::future::join_all(calls), dispatch);
    if ds == StatusCode::CONFLICT {
        // Eight notes on the same order may win every one of the server's retries: the
        // dispatcher is told so, and the dispatch goes through when tried again.
        assert!(
            d["error"]["message"].as_str().unwrap().contains("同时修改"),
            "{d}"
        );
        let (ds, d) = call(
            &dispatcher,
            t.url(&format!("/api/orders/{}/dispatch", ids[0])),
            json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
        )
        .await;
        assert_eq!(ds, StatusCode::OK, "{d}");
    } else {
        assert_eq!(ds, StatusCode::OK, "{d}");
    }
    let mut kept = std::collections::BTreeMap::<String, usize>::new();
    for (s, o) in &answers {
        match *s {
            StatusCode::OK => {}
            StatusCode::CONFLICT => assert!(
                o["error"]["message"].as_str().unwrap().contains("同时修改"),
                "{o}"
            ),
            other => panic!("{other}: {o}"),
        }
    }
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(
        ok >= ids.len(),
        "at least one change per order goes through"
    );
    for id in &ids {
        let (s, ev) = get(&agent, t.url(&format!("/api/orders/{id}/events"))).await;
        assert_eq!(s, StatusCode::OK, "{ev}");
        let items = ev["items"].as_array().unwrap();
        for (i, e) in items.iter().enumerate() {
            assert_eq!(e["seq"], i + 1, "events numbered without gaps: {ev}");
            if let Some(text) = e["payload"]["text"].as_str() {
                *kept.entry(text.to_string()).or_default() += 1;
            }
        }
        let (_, o) = get(&agent, t.url(&format!("/api/orders/{id}"))).await;
        assert_eq!(o["version"], items.len(), "{o}");
    }
    assert_eq!(kept.len(), ok, "every note answered OK is kept: {kept:?}");
    assert!(kept.values().all(|n| *n == 1), "each once: {kept:?}");
    let (_, o) = get(&agent, t.url(&format!("/api/orders/{}", ids[0]))).await;
    assert_eq!(status(&o), "dispatched");
    let report = t.app.store.verify(|_| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

on_both_backends! {
    changes_of_the_same_orders_at_once_are_each_kept_once => super::changes_of_the_same_orders_at_once_are_each_kept_once,
    an_order_travels_from_acceptance_to_a_satisfied_close => super::an_order_travels_from_acceptance_to_a_satisfied_close,
    a_district_centre_dispatches_again_and_units_sub_dispatch_and_return => super::a_district_centre_dispatches_again_and_units_sub_dispatch_and_return,
    instant_answers_withdrawals_invalid_orders_and_merges => super::instant_answers_withdrawals_invalid_orders_and_merges,
    citizens_are_masked_for_units_hidden_when_confidential_and_clear_reads_are_logged => super::citizens_are_masked_for_units_hidden_when_confidential_and_clear_reads_are_logged,
    logins_sessions_and_api_tokens_work_and_end => super::logins_sessions_and_api_tokens_work_and_end,
    admins_edit_the_organisation_users_and_categories => super::admins_edit_the_organisation_users_and_categories,
    the_api_describes_itself_and_answers_health_probes => super::the_api_describes_itself_and_answers_health_probes,
}
