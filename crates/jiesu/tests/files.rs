#![allow(clippy::unwrap_used)]
//! Attachments (type-checked, size-limited, scoped to who may see the order), the Excel
//! export of a list, and the web UI served by the same process; SQLite and PostgreSQL.

mod common;

use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR-not-a-real-image-but-the-right-magic";

async fn upload(
    t: &TestApp,
    c: &Client,
    id: i64,
    name: &str,
    data: Vec<u8>,
) -> (StatusCode, Value) {
    let form = Form::new().part("file", Part::bytes(data).file_name(name.to_string()));
    let r = c
        .post(t.url(&format!("/api/orders/{id}/attachments")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn version(t: &TestApp, c: &Client, id: i64) -> usize {
    let (_, ev) = get(c, t.url(&format!("/api/orders/{id}/events"))).await;
    ev["items"].as_array().unwrap().len()
}

async fn attachments_are_checked_stored_and_scoped(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let other = t.login("handler2").await;
    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();

    let (s, a) = upload(t, &agent, id, "现场照片.png", PNG.to_vec()).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["content_type"], "image/png");
    assert_eq!(a["size"], PNG.len());
    assert_eq!(a["name"], "现场照片.png");
    let file_id = a["id"].as_i64().unwrap();

    // Refused uploads say why, name the field and change nothing.
    let events = version(t, &agent, id).await;
    for (name, data, status) in [
        (
            "tool.exe",
            b"MZ\x90\0".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "fake.png",
            b"<html>hello</html>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "notes.txt",
            b"a\0b".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("empty.pdf", Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "huge.pdf",
            [b"%PDF-".as_slice(), &vec![b' '; 10 * 1024 * 1024]].concat(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let (s, e) = upload(t, &agent, id, name, data).await;
        assert_eq!(s, status, "{name}: {e}");
        assert_eq!(e["error"]["field"], "file", "{name}: {e}");
    }
    let r = agent
        .post(t.url(&format!("/api/orders/{id}/attachments")))
        .multipart(Form::new().text("comment", "no file"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(version(t, &agent, id).await, events);

    // A unit that does not hold the order can neither add nor read its files.
    let (s, _) = upload(t, &other, id, "x.png", PNG.to_vec()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = handler
        .get(t.url(&format!("/api/attachments/{file_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "not dispatched to P1 yet"
    );

    let (s, _) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{id}/dispatch")),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &handler,
        t.url(&format!("/api/orders/{id}/sign")),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, a2) = upload(t, &handler, id, "整改报告.pdf", b"%PDF-1.7 report".to_vec()).await;
    assert_eq!(s, StatusCode::CREATED, "{a2}");

    let r = handler
        .get(t.url(&format!("/api/attachments/{file_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cd.contains("filename*=UTF-8''%E7%8E%B0"), "{cd}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    let r = other
        .get(t.url(&format!("/api/attachments/{file_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let (s, list) = get(&dispatcher, t.url(&format!("/api/orders/{id}/attachments"))).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["uploaded_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![("现场照片.png", "agent"), ("整改报告.pdf", "handler")]
    );
    let (_, ev) = get(&dispatcher, t.url(&format!("/api/orders/{id}/events"))).await;
    let kinds: Vec<_> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "attachment_added").count(),
        2
    );

    // A closed order takes no more files.
    let (s, _) = call(
        &agent,
        t.url(&format!("/api/orders/{id}/withdraw")),
        json!({"reason": "市民来电撤回"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = upload(t, &agent, id, "late.png", PNG.to_vec()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}

fn sheet_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = wb.worksheet_range("工单").unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

async fn lists_export_to_excel_as_the_caller_sees_them(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let handler = t.login("handler").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let o = t
            .accept(
                &agent,
                json!({"content": format!("第{i}件：路灯不亮，夜间出行不安全。")}),
            )
            .await;
        ids.push(o["id"].as_i64().unwrap());
    }
    let (s, _) = call(
        &dispatcher,
        t.url(&format!("/api/orders/{}/dispatch", ids[0])),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let r = dispatcher
        .get(t.url("/api/orders/export?status=pending_review"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let rows = sheet_rows(&r.bytes().await.unwrap());
    assert_eq!(rows[0][0], "工单编号");
    assert_eq!(rows.len() - 1, 2, "the two orders still pending review");
    assert!(rows[1..].iter().all(|r| r[6] == "待审核"));
    // Citizens are masked as in the list.
    assert!(rows[1..].iter().all(|r| r[9].contains('*')), "{rows:?}");

    // A unit exports only what it sees.
    let r = handler
        .get(t.url("/api/orders/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rows = sheet_rows(&r.bytes().await.unwrap());
    assert_eq!(rows.len() - 1, 1);
    assert_eq!(rows[1][7], "住建局");

    let (s, e) = get(&dispatcher, t.url("/api/orders/export?sort=sideways")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "sort");
    let r = Client::new()
        .get(t.url("/api/orders/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn the_web_ui_is_served_by_the_same_process(t: &TestApp) {
    let c = Client::new();
    for path in ["/", "/orders/123", "/portal", "/admin/users"] {
        let r = c.get(t.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let body = r.text().await.unwrap();
        if jiesu::api::ui::available() {
            assert!(body.contains("<div id=\"app\""), "{path}: {body}");
        } else {
            assert!(body.contains("网页界面尚未构建"), "{path}: {body}");
        }
    }
    let r = c
        .get(t.url("/assets/missing-chunk.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (s, e) = get(&c, t.url("/api/no-such-endpoint")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["code"], "not_found");
}

on_both_backends! {
    attachments_are_checked_stored_and_scoped => super::attachments_are_checked_stored_and_scoped,
    lists_export_to_excel_as_the_caller_sees_them => super::lists_export_to_excel_as_the_caller_sees_them,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_is_served_by_the_same_process_on_sqlite() {
    let t = spawn_app(Backend::Sqlite).await.expect("sqlite");
    the_web_ui_is_served_by_the_same_process(&t).await;
    t.stop().await;
}
