#![allow(clippy::unwrap_used)]
//! Open311 GeoReport v2 over real HTTP: requests posted by another system become orders on the
//! `open311` channel and read back in JSON and XML; every error is the specification's list
//! with the HTTP status as its code, and changes nothing. (The independent contract suite in
//! `tests/contract` checks the same interface against JSON Schemas from the specification.)

mod common;

use common::{TestApp, call, get};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// A key for the `open311` interface, made by the admin as a real centre would.
async fn open311_key(t: &TestApp, scopes: Value) -> String {
    let admin = t.login("admin").await;
    let (s, tok) = call(
        &admin,
        t.url("/api/tokens"),
        json!({"name": "城市服务APP", "unit_id": t.unit("root"), "roles": ["agent"], "scopes": scopes}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{tok}");
    tok["token"].as_str().unwrap().to_string()
}

async fn post_form(t: &TestApp, file: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = Client::new()
        .post(t.url(&format!("/open311/v2/{file}")))
        .form(form)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.text().await.unwrap())
}

async fn get_text(t: &TestApp, path: &str) -> (StatusCode, String, String) {
    let r = Client::new().get(t.url(path)).send().await.unwrap();
    let s = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (s, ct, r.text().await.unwrap())
}

async fn get_json(t: &TestApp, path: &str) -> (StatusCode, Value) {
    let (s, _, body) = get_text(t, path).await;
    (s, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn order_count(t: &TestApp) -> u64 {
    t.app
        .store
        .status_counts(t.seed.tenant)
        .await
        .unwrap()
        .values()
        .sum()
}

/// One error in the list, with the status as its code.
fn assert_error(status: StatusCode, body: &str, want: StatusCode, mentions: &str) {
    assert_eq!(status, want, "{body}");
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v[0]["code"], want.as_u16(), "{body}");
    let d = v[0]["description"].as_str().unwrap();
    assert!(d.contains(mentions), "{d} should mention {mentions}");
}

async fn a_request_posted_over_open311_becomes_an_order_and_reads_back_in_both_formats(
    t: &TestApp,
) {
    let key = open311_key(t, json!(["open311"])).await;
    let (s, services) = get_json(t, "/open311/v2/services.json?jurisdiction_id=t1").await;
    assert_eq!(s, StatusCode::OK);
    let svc = &services[0];
    let code = svc["service_code"].as_str().unwrap().to_string();
    assert_eq!(svc["metadata"], true);
    assert_eq!(svc["type"], "realtime");
    let (s, ct, xml) = get_text(t, "/open311/v2/services.xml?jurisdiction_id=t1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains(&format!("<service><service_code>{code}</service_code>")));
    let (s, def) = get_json(
        t,
        &format!("/open311/v2/services/{code}.json?jurisdiction_id=t1"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(def["service_code"], code.as_str());
    let codes: Vec<&str> = def["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["request_type", "title", "urgency", "confidential"]);

    let before = order_count(t).await;
    let (s, body) = post_form(
        t,
        "requests.json",
        &[
            ("api_key", key.as_str()),
            ("jurisdiction_id", "t1"),
            ("service_code", code.as_str()),
            ("lat", "40.1234"),
            ("long", "116.5678"),
            ("address_string", "A区一街道幸福小区3号楼"),
            ("address_id", "990101001"),
            ("description", "小区门口垃圾三天没人清运，请回电13800138000"),
            ("first_name", "先生"),
            ("last_name", "王"),
            ("phone", "13900139000"),
            ("email", "wang@example.com"),
            ("media_url", "https://example.com/p/1.jpg"),
            ("attribute[request_type]", "complaint"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let posted: Value = serde_json::from_str(&body).unwrap();
    let number = posted[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(posted[0].get("token").is_none(), "an id, not also a token");
    assert_eq!(order_count(t).await, before + 1);

    // The order itself: channel, type, category, citizen and the source's extras.
    let id = t
        .app
        .store
        .order_id_by_number(t.seed.tenant, &number)
        .await
        .unwrap()
        .unwrap();
    let o = t
        .app
        .store
        .order(t.seed.tenant, id)
        .await
        .unwrap()
        .unwrap()
        .order;
    assert_eq!(o.channel.as_str(), "open311");
    assert_eq!(o.request_type.as_str(), "complaint");
    assert_eq!(o.category.as_ref().map(|c| c.as_str()), Some(code.as_str()));
    assert_eq!(o.citizen.name.as_deref(), Some("王先生"));
    assert_eq!(o.source["email"], "wang@example.com");
    // Its token (the source reference) leads back to it as well.
    let token = o.external_ref.clone().unwrap();

    // The token leads to the request.
    let (s, tk) = get_json(
        t,
        &format!("/open311/v2/tokens/{token}.json?jurisdiction_id=t1"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(tk[0]["service_request_id"], number.as_str());

    // Read back without a key: what a city may publish.
    let (s, public) = get_json(
        t,
        &format!("/open311/v2/requests/{number}.json?jurisdiction_id=t1"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{public}");
    let r = &public[0];
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], code.as_str());
    assert_eq!(r["agency_responsible"], "测试市12345热线");
    assert_eq!(
        r["description"],
        "小区门口垃圾三天没人清运，请回电138******00"
    );
    assert_eq!(r["address"], "一街道");
    assert!(r["lat"].is_null() && r["long"].is_null() && r["media_url"].is_null());
    assert!(
        r["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    assert!(r.get("extended_attributes").is_none());
    // With the key: as submitted.
    let (_, full) = get_json(
        t,
        &format!(
            "/open311/v2/requests/{number}.json?jurisdiction_id=t1&api_key={key}&extensions=true"
        ),
    )
    .await;
    let r = &full[0];
    assert_eq!(r["lat"], 40.1234);
    assert_eq!(r["long"], 116.5678);
    assert_eq!(r["address"], "A区一街道幸福小区3号楼");
    assert_eq!(r["media_url"], "https://example.com/p/1.jpg");
    assert!(r["description"].as_str().unwrap().contains("13800138000"));
    let ext = &r["extended_attributes"];
    assert_eq!(ext["jiesu_status"], "pending_review");
    assert_eq!(ext["history"][0]["action"], "accepted");

    // The XML of the same request says the same.
    let (s, ct, xml) = get_text(
        t,
        &format!("/open311/v2/requests/{number}.xml?jurisdiction_id=t1&extensions=true"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/xml"));
    assert!(xml.contains(&format!(
        "<service_requests><request><service_request_id>{number}</service_request_id><status>open</status>"
    )));
    assert!(xml.contains("<lat/><long/>"), "{xml}");
    assert!(xml.contains("<history><entry><at>"), "{xml}");

    // Filters: status, service code, dates, ids.
    let list = |q: String| async move {
        let (s, v) = get_json(
            t,
            &format!("/open311/v2/requests.json?jurisdiction_id=t1&{q}"),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(list("status=open".into()).await.contains(&number));
    assert!(!list("status=closed".into()).await.contains(&number));
    assert!(list("status=open,closed".into()).await.contains(&number));
    assert!(list(format!("service_code={code}")).await.contains(&number));
    assert!(!list("service_code=99.99".into()).await.contains(&number));
    assert!(
        !list("end_date=2020-01-01T00:00:00Z".into())
            .await
            .contains(&number)
    );
    assert_eq!(
        list(format!("service_request_id={number},nope")).await,
        vec![number.clone()]
    );

    // A retry with the same idempotency key gets the same request, not a second order.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let r = Client::new()
            .post(t.url("/open311/v2/requests.xml"))
            .header("Idempotency-Key", "app-42")
            .form(&[
                ("api_key", key.as_str()),
                ("jurisdiction_id", "t1"),
                ("service_code", code.as_str()),
                ("address_id", "990101002"),
                ("description", "路灯不亮"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let xml = r.text().await.unwrap();
        assert!(xml.starts_with("<?xml"));
        seen.push(xml);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(order_count(t).await, before + 2);
}

async fn open311_errors_are_lists_whose_code_is_the_status_and_change_nothing(t: &TestApp) {
    let key = open311_key(t, json!(["open311"])).await;
    let api_only = open311_key(t, json!(["api"])).await;
    let (_, services) = get_json(t, "/open311/v2/services.json?jurisdiction_id=t1").await;
    let code = services[0]["service_code"].as_str().unwrap().to_string();
    let before = order_count(t).await;
    let base = |api_key: Option<&str>| {
        let mut f: Vec<(&str, String)> = vec![
            ("jurisdiction_id", "t1".into()),
            ("service_code", code.clone()),
            ("address_string", "A区一街道".into()),
            ("description", "噪音扰民".into()),
        ];
        if let Some(k) = api_key {
            f.push(("api_key", k.to_string()));
        }
        f
    };
    let send = |form: Vec<(&'static str, String)>, file: &'static str| async move {
        let r = Client::new()
            .post(t.url(&format!("/open311/v2/{file}")))
            .form(&form)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.text().await.unwrap())
    };
    // Keys: missing, wrong, another interface's, another tenant's jurisdiction.
    let (s, b) = send(base(None), "requests.json").await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "api_key");
    let (s, b) = send(base(Some("not-a-valid-key")), "requests.json").await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "api_key");
    let (s, b) = send(base(Some(&api_only)), "requests.json").await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "Open311");
    let mut other = base(Some(&key));
    other[0].1 = "t2".into();
    let (s, b) = send(other, "requests.json").await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "api_key");
    let mut unknown = base(Some(&key));
    unknown[0].1 = "nowhere".into();
    let (s, b) = send(unknown, "requests.json").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "jurisdiction_id");
    // Parameters, each named in the description.
    let drop = |k: &str| {
        let mut f = base(Some(&key));
        f.retain(|(x, _)| *x != k);
        f
    };
    let (s, b) = send(drop("service_code"), "requests.json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "service_code");
    let (s, b) = send(drop("address_string"), "requests.json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "lat");
    let (s, b) = send(drop("description"), "requests.json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "description");
    let mut f = base(Some(&key));
    f[1].1 = "99.99".into();
    let (s, b) = send(f, "requests.json").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "service_code");
    let mut f = base(Some(&key));
    f.push(("phone", "12345".into()));
    let (s, b) = send(f, "requests.json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "phone");
    let mut f = base(Some(&key));
    f.push(("lat", "91".into()));
    f.push(("long", "116".into()));
    let (s, b) = send(f, "requests.json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "lat");
    let mut f = base(Some(&key));
    f.push(("attribute[colour]", "red".into()));
    let (s, b) = send(f, "requests.json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "attribute[colour]");
    let mut f = base(Some(&key));
    f.push(("attribute[request_type]", "rant".into()));
    let (s, b) = send(f, "requests.json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "attribute[request_type]");
    // XML errors have the specification's shape.
    let (s, b) = send(drop("service_code"), "requests.xml").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b.contains("<errors><error><code>400</code><description>service_code"),
        "{b}"
    );
    assert_eq!(
        order_count(t).await,
        before,
        "no failed POST created an order"
    );

    // Reads.
    let (s, _, b) = get_text(t, "/open311/v2/requests/NOPE-1.json?jurisdiction_id=t1").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "service_request_id");
    let (s, _, b) = get_text(t, "/open311/v2/services/99.99.xml?jurisdiction_id=t1").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(b.contains("<code>404</code>"), "{b}");
    let (s, _, b) = get_text(
        t,
        "/open311/v2/requests.json?jurisdiction_id=t1&start_date=yesterday",
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "start_date");
    let (s, _, b) = get_text(
        t,
        "/open311/v2/requests.json?jurisdiction_id=t1&status=pending",
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "status");
    let (s, _, b) = get_text(
        t,
        "/open311/v2/requests.json?jurisdiction_id=t1&api_key=wrong-key-123",
    )
    .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "api_key");
    let (s, _, _) = get_text(t, "/open311/v2/services.csv").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // An Open311 key is not a key to the JSON API.
    let r = Client::new()
        .get(t.url("/api/orders"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let admin = t.login("admin").await;
    let (_, toks) = get(&admin, t.url("/api/tokens")).await;
    assert!(
        toks["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["scopes"] == json!(["open311"])),
        "{toks}"
    );
}

async fn discovery_points_at_the_v2_endpoint(t: &TestApp) {
    let (s, d) = get_json(t, "/open311/discovery.json").await;
    assert_eq!(s, StatusCode::OK);
    let e = &d["endpoints"][0];
    assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert!(e["url"].as_str().unwrap().ends_with("/open311/v2"));
    assert_eq!(e["formats"], json!(["text/xml", "application/json"]));
    let (s, _, xml) = get_text(t, "/open311/discovery.xml").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        xml.contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        )
    );
    // The OpenAPI document describes the interface.
    let (_, doc) = get_json(t, "/api/openapi.json").await;
    assert!(doc["paths"]["/open311/v2/requests.json"]["post"].is_object());
}

on_both_backends! {
    a_request_posted_over_open311_becomes_an_order_and_reads_back_in_both_formats => super::a_request_posted_over_open311_becomes_an_order_and_reads_back_in_both_formats,
    open311_errors_are_lists_whose_code_is_the_status_and_change_nothing => super::open311_errors_are_lists_whose_code_is_the_status_and_change_nothing,
    discovery_points_at_the_v2_endpoint => super::discovery_points_at_the_v2_endpoint,
}
