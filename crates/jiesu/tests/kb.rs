#![allow(clippy::unwrap_used)]
//! The knowledge base over HTTP, on SQLite and PostgreSQL: writing, review and publishing with
//! versions and history, search (synonyms, validity, tenants), instant answers citing entries,
//! "no answer" searches, import/export, and the index catching up after a crash between the
//! database write and the index write.

mod common;

use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn create(t: &TestApp, c: &Client, body: Value) -> Value {
    let (s, e) = call(c, t.url("/api/kb/entries"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    e
}

async fn act(t: &TestApp, c: &Client, id: i64, action: &str, body: Value) -> (StatusCode, Value) {
    call(c, t.url(&format!("/api/kb/entries/{id}/{action}")), body).await
}

async fn search_codes(t: &TestApp, c: &Client, q: &str) -> Vec<String> {
    let (s, r) = get(c, t.url(&format!("/api/kb/search?q={}", enc(q)))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["code"].as_str().unwrap().to_string())
        .collect()
}

async fn put(c: &Client, url: String, body: Value) -> (StatusCode, Value) {
    let r = c.put(url).json(&body).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn an_entry_is_written_reviewed_published_revised_and_withdrawn(t: &TestApp) {
    let handler = t.login("handler").await;
    let handler2 = t.login("handler2").await;
    let supervisor = t.login("supervisor").await;
    let agent = t.login("agent").await;

    // Agents answer from the base; they do not write it.
    let (s, _) = call(
        &agent,
        t.url("/api/kb/entries"),
        json!({"title": "x", "answer": "y"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Bad input names the field.
    for (body, field) in [
        (json!({"title": " ", "answer": "y"}), "title"),
        (
            json!({"title": "t", "answer": "a", "category": "99.99"}),
            "category",
        ),
        (
            json!({"title": "t", "answer": "a", "effective_from": "2026-02-01", "effective_to": "2026-01-01"}),
            "effective_to",
        ),
        (
            json!({"title": "t", "answer": "a", "effective_to": "明年"}),
            "effective_to",
        ),
        (
            json!({"title": "t", "answer": "a", "colour": "red"}),
            "colour",
        ),
    ] {
        let (s, e) = call(&handler, t.url("/api/kb/entries"), body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    // A unit writes for itself only.
    let (s, _) = call(
        &handler,
        t.url("/api/kb/entries"),
        json!({"title": "t", "answer": "a", "unit_id": t.unit("P2")}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let e = create(
        t,
        &handler,
        json!({
            "title": "物业维修基金使用流程",
            "answer": "业主大会表决通过后，由物业服务企业向住建局物业科提出申请，审核后划拨维修资金。",
            "questions": ["电梯坏了能不能用维修基金", "维修资金怎么申请"],
            "tags": ["物业"],
            "category": "01.01.01",
        }),
    )
    .await;
    let id = e["id"].as_i64().unwrap();
    assert_eq!(e["state"], "draft");
    assert_eq!(e["version"], 1);
    assert_eq!(
        e["unit_id"],
        t.unit("P1"),
        "unit staff write for their unit"
    );
    assert_eq!(e["code"], format!("KB-{id}"));
    assert!(e["live_version"].is_null());
    // Drafts are not searchable, and another unit does not see them.
    assert!(
        !search_codes(t, &agent, "维修基金")
            .await
            .contains(&format!("KB-{id}"))
    );
    let (s, _) = get(&handler2, t.url(&format!("/api/kb/entries/{id}"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, l) = get(&handler2, t.url("/api/kb/entries")).await;
    assert!(l["items"].as_array().unwrap().iter().all(|x| x["id"] != id));

    // Only centre reviewers publish; the unit submits.
    let (s, _) = act(t, &handler, id, "publish", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = act(t, &handler, id, "submit", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["state"], "review");
    let (s, e) = act(t, &supervisor, id, "reject", json!({})).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a reason: {e}"
    );
    assert_eq!(e["error"]["field"], "reason");
    let (s, e) = act(
        t,
        &supervisor,
        id,
        "reject",
        json!({"reason": "请补充申请材料清单"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["state"], "draft");
    let (s, _) = act(t, &supervisor, id, "reject", json!({"reason": "again"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a draft cannot be rejected");
    act(t, &handler, id, "submit", json!({})).await;
    let (s, e) = act(t, &supervisor, id, "publish", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["state"], "published");
    assert_eq!(e["live_version"], 1);
    let code = format!("KB-{id}");
    assert_eq!(
        search_codes(t, &agent, "维修基金怎么用").await.first(),
        Some(&code)
    );
    // A question variant finds it too, and the hit carries the answer and the unit.
    let (_, r) = get(
        &agent,
        t.url(&format!("/api/kb/search?q={}", enc("电梯坏了"))),
    )
    .await;
    let hit = &r["items"][0];
    assert_eq!(hit["code"], code);
    assert_eq!(hit["unit_name"], "住建局");
    assert!(hit["answer"].as_str().unwrap().contains("维修资金"));
    // Others may read a published entry.
    let (s, _) = get(&handler2, t.url(&format!("/api/kb/entries/{id}"))).await;
    assert_eq!(s, StatusCode::OK);

    // A revision: needs the version it started from and a reason; another unit may not.
    let revised = json!({
        "title": "物业专项维修资金使用流程（2026版）",
        "answer": "经业主表决同意后，通过线上平台提交申请，住建局五个工作日内审核。",
        "category": "01.01.01",
        "expected_version": 1,
        "reason": "按新办法更新",
    });
    let (s, _) = put(
        &handler2,
        t.url(&format!("/api/kb/entries/{id}")),
        revised.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut no_reason = revised.clone();
    no_reason.as_object_mut().unwrap().remove("reason");
    let (s, e) = put(&handler, t.url(&format!("/api/kb/entries/{id}")), no_reason).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "reason");
    let (s, e) = put(
        &handler,
        t.url(&format!("/api/kb/entries/{id}")),
        revised.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["version"], 2);
    assert_eq!(e["state"], "draft");
    assert_eq!(e["live_version"], 1, "the published version stays live");
    let (s, _) = put(&handler, t.url(&format!("/api/kb/entries/{id}")), revised).await;
    assert_eq!(s, StatusCode::CONFLICT, "stale expected_version");
    assert_eq!(
        search_codes(t, &agent, "维修基金").await.first(),
        Some(&code)
    );
    assert!(search_codes(t, &agent, "线上平台提交").await.is_empty());
    let (s, _) = act(t, &supervisor, id, "publish", json!({"reason": "已核对"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        search_codes(t, &agent, "线上平台提交").await.first(),
        Some(&code)
    );

    // Versions and history: who, when, why.
    let (_, v) = get(&handler, t.url(&format!("/api/kb/entries/{id}/versions"))).await;
    let v = v["items"].as_array().unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["version"], 2);
    assert_eq!(v[0]["reason"], "按新办法更新");
    assert_eq!(v[1]["title"], "物业维修基金使用流程");
    let (_, d) = get(&handler, t.url(&format!("/api/kb/entries/{id}"))).await;
    let actions: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "publish", "edit", "publish", "submit", "reject", "submit", "create"
        ]
    );
    let reject = &d["history"].as_array().unwrap()[4];
    assert_eq!(reject["reason"], "请补充申请材料清单");
    assert!(reject["actor"].as_str().is_some_and(|a| !a.is_empty()));

    // Withdrawn: out of search at once.
    let (s, _) = act(t, &handler, id, "withdraw", json!({"reason": "政策废止"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "handlers do not withdraw");
    let unit_admin = t.login("unit_admin").await;
    let (s, e) = act(
        t,
        &unit_admin,
        id,
        "withdraw",
        json!({"reason": "政策废止"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["state"], "withdrawn");
    assert!(search_codes(t, &agent, "线上平台提交").await.is_empty());

    // Lists filter by state.
    let (_, l) = get(&supervisor, t.url("/api/kb/entries?state=withdrawn")).await;
    assert!(l["items"].as_array().unwrap().iter().any(|x| x["id"] == id));
    let (s, e) = get(&supervisor, t.url("/api/kb/entries?state=gone")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "state");
}

/// A published entry, written and published by the supervisor.
async fn published(t: &TestApp, c: &Client, body: Value) -> (i64, String) {
    let e = create(t, c, body).await;
    let id = e["id"].as_i64().unwrap();
    let (s, e) = act(t, c, id, "publish", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    (id, format!("KB-{id}"))
}

async fn instant_answers_cite_published_entries_and_count_their_use(t: &TestApp) {
    let supervisor = t.login("supervisor").await;
    let agent = t.login("agent").await;
    let (id, code) = published(
        t,
        &supervisor,
        json!({"title": "社保卡补办", "answer": "携带身份证到任一社保服务网点补办，立等可取。"}),
    )
    .await;
    let o = t
        .accept(
            &agent,
            json!({"request_type": "consultation", "instant_answer": {"knowledge_entry_id": code}}),
        )
        .await;
    assert_eq!(o["status"]["code"], "closed");
    assert_eq!(o["instant_answer"]["knowledge_entry_id"], code);
    assert_eq!(o["instant_answer"]["knowledge_version"], 1);
    assert_eq!(
        o["instant_answer"]["answer"], "携带身份证到任一社保服务网点补办，立等可取。",
        "the entry's answer when none is given"
    );
    let (_, e) = get(&supervisor, t.url(&format!("/api/kb/entries/{id}"))).await;
    assert_eq!(e["usage"], 1);

    // Citations of drafts, unknown entries and non-codes are refused and store nothing.
    let draft = create(t, &supervisor, json!({"title": "草稿", "answer": "未审核"})).await;
    let (_, before) = get(&supervisor, t.url("/api/orders?limit=1")).await;
    for cited in [
        draft["code"].as_str().unwrap().to_string(),
        "KB-999999".to_string(),
        "社保".to_string(),
    ] {
        let (s, e) = call(
            &agent,
            t.url("/api/orders"),
            json!({"channel": "phone", "request_type": "consultation", "content": "社保卡丢了怎么办",
                   "citizen": {"phone": "13800138000"}, "instant_answer": {"knowledge_entry_id": cited}}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{cited}: {e}");
        assert_eq!(e["error"]["field"], "knowledge_entry_id");
    }
    let (_, after) = get(&supervisor, t.url("/api/orders?limit=1")).await;
    assert_eq!(before["total"], after["total"]);

    // The usage ranks it over an equally good unused entry.
    let (_, twin) = published(
        t,
        &supervisor,
        json!({"title": "社保卡补办", "answer": "携带身份证到任一社保服务网点补办，立等可取。"}),
    )
    .await;
    let codes = search_codes(t, &agent, "社保卡补办").await;
    assert_eq!(codes, vec![code, twin]);
}

async fn search_uses_synonyms_validity_and_keeps_tenants_apart(t: &TestApp) {
    let supervisor = t.login("supervisor").await;
    let agent = t.login("agent").await;
    let admin = t.login("admin").await;
    let (_, code) = published(
        t,
        &supervisor,
        json!({"title": "医疗保险异地报销", "answer": "异地就医需先备案，出院后凭票据到医保中心报销。"}),
    )
    .await;
    assert!(
        !search_codes(t, &agent, "看病钱能报吗")
            .await
            .contains(&code)
    );

    // Synonyms: admins only, checked, effective at once.
    let (s, _) = put(
        &supervisor,
        t.url("/api/admin/kb/synonyms"),
        json!({"groups": [["看病", "就医"]]}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = put(
        &admin,
        t.url("/api/admin/kb/synonyms"),
        json!({"groups": [["看病"]]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "groups[0]");
    let (s, e) = put(
        &admin,
        t.url("/api/admin/kb/synonyms"),
        json!({"groups": [["看病", "就医"], ["报销", "报账"]]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(
        search_codes(t, &agent, "外地看病报账").await.first(),
        Some(&code)
    );
    let (_, g) = get(&admin, t.url("/api/admin/kb/synonyms")).await;
    assert_eq!(g["groups"][0], json!(["看病", "就医"]));

    // Validity: not yet in force, and ended (then expired by the platform).
    let (_, future) = published(
        t,
        &supervisor,
        json!({"title": "2099年供暖补贴申领", "answer": "供暖补贴按新标准发放。", "effective_from": "2099-01-01"}),
    )
    .await;
    assert!(!search_codes(t, &agent, "供暖补贴").await.contains(&future));
    let (old_id, old) = published(
        t,
        &supervisor,
        json!({"title": "2020年消费券领取", "answer": "消费券在活动期间通过小程序领取。", "effective_to": "2020-12-31"}),
    )
    .await;
    assert!(!search_codes(t, &agent, "消费券领取").await.contains(&old));
    assert!(t.app.kb_expire_due(chrono::Utc::now()).await.unwrap() >= 1);
    let (_, e) = get(&supervisor, t.url(&format!("/api/kb/entries/{old_id}"))).await;
    assert_eq!(e["state"], "expired");
    assert_eq!(e["history"][0]["action"], "expire");
    // Soon-ending entries are flagged to their owner.
    let soon = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let (soon_id, _) = published(
        t,
        &supervisor,
        json!({"title": "临时交通管制", "answer": "管制期间请绕行。", "effective_to": soon}),
    )
    .await;
    let (_, l) = get(&supervisor, t.url("/api/kb/entries?expiring=true")).await;
    let items = l["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|x| x["id"] == soon_id && x["expiring"] == true)
    );
    assert!(items.iter().all(|x| x["expiring"] == true));

    // Another tenant's agent finds none of this.
    let c = Client::builder().cookie_store(true).build().unwrap();
    let r = c
        .post(t.url("/api/auth/login"))
        .json(&json!({"username": "agent2", "password": PASSWORD, "tenant": "t2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(search_codes(t, &c, "医疗保险异地报销").await.is_empty());

    // Empty queries are an error naming q.
    let (s, e) = get(&agent, t.url("/api/kb/search?q=%20")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "q");
}

async fn searches_without_an_answer_are_logged_for_the_owners(t: &TestApp) {
    let agent = t.login("agent").await;
    let supervisor = t.login("supervisor").await;
    let q = "骆驼养殖补贴怎么申请";
    for _ in 0..2 {
        assert!(search_codes(t, &agent, q).await.is_empty());
    }
    // Typed live in the agent's panel: not logged.
    let (s, _) = get(
        &agent,
        t.url(&format!(
            "/api/kb/search?live=true&q={}",
            enc("牦牛养殖补贴")
        )),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = get(&agent, t.url("/api/kb/misses")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, m) = get(&supervisor, t.url("/api/kb/misses")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let items = m["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{m}");
    assert_eq!(items[0]["text"], q);
    assert_eq!(items[0]["count"], 2);
    let r = supervisor
        .delete(t.url(&format!("/api/kb/misses?text={}", enc(q))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, m) = get(&supervisor, t.url("/api/kb/misses")).await;
    assert!(m["items"].as_array().unwrap().is_empty());
}

async fn upload(t: &TestApp, c: &Client, name: &str, data: Vec<u8>) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(data).file_name(name.to_string()),
    );
    let r = c
        .post(t.url("/api/kb/import"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// `xlsx` with one more text cell at `cell` (e.g. `XFD1048576`), in a row of its own at the
/// end of its first sheet.
fn with_cell(xlsx: &[u8], cell: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let r = cell.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let row = format!(r#"<row r="{r}"><c r="{cell}" t="inlineStr"><is><t>x</t></is></c></row>"#);
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        if name != "xl/worksheets/sheet1.xml" {
            zout.raw_copy_file(f).unwrap();
            continue;
        }
        let mut sheet = String::new();
        f.read_to_string(&mut sheet).unwrap();
        assert!(sheet.contains("</sheetData>"), "{sheet}");
        let sheet = sheet.replace("</sheetData>", &format!("{row}</sheetData>"));
        zout.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zout.write_all(sheet.as_bytes()).unwrap();
    }
    zout.finish().unwrap().into_inner()
}

async fn entries_import_from_files_and_export_again(t: &TestApp) {
    let supervisor = t.login("supervisor").await;
    let agent = t.login("agent").await;
    let bad = "{\"title\":\"公积金提取\",\"answer\":\"凭购房合同提取。\"}\n{\"title\":\"\",\"answer\":\"x\"}\n";
    let (s, e) = upload(t, &supervisor, "kb.jsonl", bad.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "line 2: title");
    assert!(
        search_codes(t, &agent, "公积金提取").await.is_empty(),
        "nothing stored"
    );
    let (s, _) = upload(t, &agent, "kb.jsonl", bad.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = upload(t, &supervisor, "kb.csv", b"title,answer\n".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let good = "{\"title\":\"公积金提取\",\"answer\":\"凭购房合同和身份证到公积金中心提取。\",\"questions\":[\"买房能取公积金吗\"],\"category\":\"01.01.01\",\"unit\":\"住建局\",\"effective_to\":\"2099-12-31\"}\n\
                {\"title\":\"占道经营投诉\",\"answer\":\"由城管局依法查处。\",\"unit\":\"城管局\"}\n";
    let (s, r) = upload(t, &supervisor, "kb.jsonl", good.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["imported"], 2);
    let found = search_codes(t, &agent, "买房取公积金").await;
    assert_eq!(found.len(), 1);
    let (_, e) = get(
        &supervisor,
        t.url(&format!("/api/kb/entries/{}", &found[0][3..])),
    )
    .await;
    assert_eq!(e["state"], "published");
    assert_eq!(e["unit_name"], "住建局");
    assert_eq!(e["effective_to"], "2099-12-31");
    assert_eq!(e["history"][0]["action"], "import");

    // Export, then import the export: the same entries again.
    let r = supervisor
        .get(t.url("/api/kb/export?format=xlsx"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let xlsx = r.bytes().await.unwrap().to_vec();
    assert_eq!(&xlsx[..2], b"PK");
    // Forged copies of the export: a cell at Excel's far corner would make a dense sheet of
    // 17 billion cells (and abort the server); a cell past the corner is a damaged file.
    for (cell, field) in [("XFD1048576", "line 4: title"), ("A1048577", "file")] {
        let (s, e) = upload(t, &supervisor, "伪造.xlsx", with_cell(&xlsx, cell)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{cell}: {e}");
        assert_eq!(e["error"]["field"], field, "{cell}: {e}");
        if field == "file" {
            let message = e["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("超出 Excel 的范围"), "{cell}: {e}");
        }
    }
    let (s, r) = upload(t, &supervisor, "导出.xlsx", xlsx).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["imported"], 2);
    let r = supervisor
        .get(t.url("/api/kb/export?format=jsonl"))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().count(), 4);
    let (s, r) = upload(t, &supervisor, "again.jsonl", text.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["imported"], 4);
    assert_eq!(search_codes(t, &agent, "买房取公积金").await.len(), 4);
}

on_both_backends! {
    an_entry_is_written_reviewed_published_revised_and_withdrawn => super::an_entry_is_written_reviewed_published_revised_and_withdrawn,
    instant_answers_cite_published_entries_and_count_their_use => super::instant_answers_cite_published_entries_and_count_their_use,
    search_uses_synonyms_validity_and_keeps_tenants_apart => super::search_uses_synonyms_validity_and_keeps_tenants_apart,
    searches_without_an_answer_are_logged_for_the_owners => super::searches_without_an_answer_are_logged_for_the_owners,
    entries_import_from_files_and_export_again => super::entries_import_from_files_and_export_again,
}

/// The database committed an entry, then the process died before the index did: at the next
/// start the index catches up, and search finds the entry.
async fn the_index_catches_up_after_a_crash_between_database_and_index(backend: Backend) {
    let Some(t) = spawn_app(backend).await else {
        return;
    };
    let agent = t.login("agent").await;
    assert!(search_codes(&t, &agent, "社区食堂").await.is_empty());
    t.app.kb().await.unwrap();
    let config = t.config.clone();
    let tenant = t.seed.tenant;
    // Stop the server first so its indexer cannot pick the entry up: only the start-up
    // catch-up can.
    let t = t.restart_stopped().await;
    let store = jiesu_store::Store::open(&config.database_url(), &Default::default())
        .await
        .unwrap();
    let content = jiesu_core::kb::KbContent::parse(jiesu_core::kb::KbInput {
        title: "社区食堂开放时间",
        answer: "社区食堂每天11点至13点、17点至19点开放，老年人凭卡就餐享受优惠。",
        ..Default::default()
    })
    .unwrap();
    let who = jiesu_store::kb::KbWho {
        actor_id: jiesu_core::UserId(1),
        actor: "admin",
        reason: None,
        at: chrono::Utc::now(),
    };
    store
        .kb_create(tenant, &[content], jiesu_core::kb::KbAction::Import, &who)
        .await
        .unwrap();
    store.close().await;
    let t = t.start(config).await;
    let agent = t.login("agent").await;
    assert_eq!(search_codes(&t, &agent, "社区食堂").await.len(), 1);
    // `reindex` rebuilds the same from scratch.
    let n = t.app.kb_rebuild(&()).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(search_codes(&t, &agent, "社区食堂").await.len(), 1);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_catches_up_after_a_crash_between_database_and_index_on_sqlite() {
    the_index_catches_up_after_a_crash_between_database_and_index(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_catches_up_after_a_crash_between_database_and_index_on_postgres() {
    the_index_catches_up_after_a_crash_between_database_and_index(Backend::Postgres).await;
}
