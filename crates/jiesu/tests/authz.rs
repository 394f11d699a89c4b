#![allow(clippy::unwrap_used)]
//! The authorization matrix: every role against every endpoint, allowed and denied as
//! specified; anonymous callers and another tenant's users against all of them.

mod common;

use common::*;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;

const ROLES: [&str; 8] = [
    "agent",
    "dispatcher",
    "handler",
    "unit_admin",
    "callback",
    "supervisor",
    "leader",
    "admin",
];

/// The state an order must be in for the endpoint to make sense.
#[derive(Clone, Copy, Debug)]
enum Setup {
    None,
    PendingReview,
    Dispatched,
    Handling,
    ExtensionPending,
    Replied,
    CallbackPending,
}

struct Case {
    method: Method,
    /// `{id}` is replaced by the prepared order, `{other}` by a second pending order.
    path: &'static str,
    body: Value,
    setup: Setup,
    allowed: &'static [&'static str],
}

fn case(
    method: Method,
    path: &'static str,
    body: Value,
    setup: Setup,
    allowed: &'static [&'static str],
) -> Case {
    Case {
        method,
        path,
        body,
        setup,
        allowed,
    }
}

fn cases(t: &TestApp) -> Vec<Case> {
    use Method as M;
    use Setup::*;
    let p1 = t.unit("P1");
    let p1a = t.unit("P1a");
    let all: &'static [&'static str] = &ROLES;
    let centre: &'static [&'static str] = &[
        "agent",
        "dispatcher",
        "callback",
        "supervisor",
        "leader",
        "admin",
    ];
    vec![
        case(
            M::POST,
            "/api/orders",
            json!({"channel": "phone", "request_type": "help", "content": "求助"}),
            None,
            &["agent", "dispatcher"],
        ),
        case(M::GET, "/api/orders", json!(null), None, all),
        case(M::GET, "/api/orders/{id}", json!(null), Dispatched, all),
        case(
            M::GET,
            "/api/orders/{id}",
            json!(null),
            PendingReview,
            centre,
        ),
        case(
            M::GET,
            "/api/orders/{id}/events",
            json!(null),
            Dispatched,
            all,
        ),
        case(
            M::POST,
            "/api/orders/{id}/amend",
            json!({"request_type": "report", "reason": "更正"}),
            PendingReview,
            &["agent", "dispatcher"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/dispatch",
            json!({"targets": [{"unit_id": p1, "role": "lead"}]}),
            PendingReview,
            &["dispatcher"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/sign",
            json!({}),
            Dispatched,
            &["handler", "unit_admin"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/return",
            json!({"reason": "非本单位职责"}),
            Dispatched,
            &["handler", "unit_admin"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/sub-dispatch",
            json!({"unit_ids": [p1a]}),
            Handling,
            &["handler", "unit_admin"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/note",
            json!({"text": "已联系物业"}),
            Handling,
            &[
                "agent",
                "dispatcher",
                "handler",
                "unit_admin",
                "callback",
                "supervisor",
            ],
        ),
        case(
            M::POST,
            "/api/orders/{id}/extension",
            json!({"days": 2, "reason": "需协调"}),
            Handling,
            &["handler", "unit_admin"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/extension-review",
            json!({"approve": true}),
            ExtensionPending,
            &["dispatcher"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/reply",
            json!({"content": "已处理"}),
            Handling,
            &["handler", "unit_admin"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/check",
            json!({"approve": true}),
            Replied,
            &["dispatcher"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/callback",
            json!({"satisfaction": "satisfied", "resolved": true}),
            CallbackPending,
            &["callback"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/close",
            json!({"knowledge_entry_id": "KB-1"}),
            PendingReview,
            &["agent", "dispatcher"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/close",
            json!({"reason": "诉求人拒绝回访"}),
            CallbackPending,
            &["dispatcher", "callback"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/withdraw",
            json!({"reason": "撤回"}),
            PendingReview,
            &["agent", "dispatcher"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/invalidate",
            json!({"reason": "测试"}),
            PendingReview,
            &["dispatcher"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/merge",
            json!({"target_id": "{other}", "reason": "重复"}),
            PendingReview,
            &["dispatcher"],
        ),
        case(M::GET, "/api/units", json!(null), None, all),
        case(
            M::POST,
            "/api/units",
            json!({"parent_id": p1, "kind": "department", "name": "新科室"}),
            None,
            &["admin"],
        ),
        case(
            M::PUT,
            "/api/units/{p1a}",
            json!({"parent_id": p1, "kind": "department", "name": "住建局物业科"}),
            None,
            &["admin"],
        ),
        case(
            M::GET,
            "/api/users",
            json!(null),
            None,
            &["unit_admin", "admin"],
        ),
        case(
            M::POST,
            "/api/users",
            json!({"username": "u_{role}", "display_name": "新用户", "password": "pass-word-123", "unit_id": p1, "roles": ["handler"]}),
            None,
            &["admin"],
        ),
        case(
            M::PUT,
            "/api/users/{handler2}",
            json!({"display_name": "城管承办人", "unit_id": t.unit("P2"), "roles": ["handler"], "active": true}),
            None,
            &["admin"],
        ),
        case(
            M::POST,
            "/api/users/{handler2}/password",
            json!({"password": "pass-word-456"}),
            None,
            &["admin"],
        ),
        case(M::GET, "/api/categories", json!(null), None, all),
        case(
            M::POST,
            "/api/categories",
            json!({"code": "98.{n}", "parent_code": null, "name": "新分类"}),
            None,
            &["admin"],
        ),
        case(
            M::PUT,
            "/api/categories/01",
            json!({"name": "城乡建设", "active": true}),
            None,
            &["admin"],
        ),
        case(M::GET, "/api/regions", json!(null), None, all),
        case(
            M::POST,
            "/api/regions",
            json!({"items": [{"code": "990102001", "name": "B区一街道", "level": 4, "parent_code": "990102"}]}),
            None,
            &["admin"],
        ),
        case(M::GET, "/api/tokens", json!(null), None, &["admin"]),
        case(
            M::POST,
            "/api/tokens",
            json!({"name": "grid", "unit_id": p1, "roles": ["agent"]}),
            None,
            &["admin"],
        ),
        case(
            M::GET,
            "/api/audit",
            json!(null),
            None,
            &["supervisor", "admin"],
        ),
        case(M::GET, "/api/auth/me", json!(null), None, all),
    ]
}

struct World<'a> {
    t: &'a TestApp,
    clients: HashMap<&'static str, Client>,
    handler2_id: i64,
}

impl World<'_> {
    fn c(&self, who: &str) -> &Client {
        &self.clients[who]
    }

    async fn prepare(&self, setup: Setup) -> Option<i64> {
        let t = self.t;
        if matches!(setup, Setup::None) {
            return None;
        }
        let o = t.accept(self.c("agent"), json!({})).await;
        let id = o["id"].as_i64()?;
        let u = |p: &str| t.url(&format!("/api/orders/{id}/{p}"));
        let steps: &[(&str, &str, Value)] = match setup {
            Setup::None | Setup::PendingReview => &[],
            Setup::Dispatched => &[(
                "dispatcher",
                "dispatch",
                json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
            )],
            Setup::Handling => &[
                (
                    "dispatcher",
                    "dispatch",
                    json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
                ),
                ("handler", "sign", json!({})),
            ],
            Setup::ExtensionPending => &[
                (
                    "dispatcher",
                    "dispatch",
                    json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
                ),
                ("handler", "sign", json!({})),
                (
                    "handler",
                    "extension",
                    json!({"days": 2, "reason": "需协调"}),
                ),
            ],
            Setup::Replied => &[
                (
                    "dispatcher",
                    "dispatch",
                    json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
                ),
                ("handler", "sign", json!({})),
                ("handler", "reply", json!({"content": "已处理"})),
            ],
            Setup::CallbackPending => &[
                (
                    "dispatcher",
                    "dispatch",
                    json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
                ),
                ("handler", "sign", json!({})),
                ("handler", "reply", json!({"content": "已处理"})),
                ("dispatcher", "check", json!({"approve": true})),
            ],
        };
        for (who, cmd, body) in steps {
            let (s, b) = call(self.c(who), u(cmd), body.clone()).await;
            assert_eq!(
                s,
                StatusCode::OK,
                "preparing {setup:?}: {cmd} as {who}: {b}"
            );
        }
        Some(id)
    }

    fn fill(&self, s: &str, id: Option<i64>, other: Option<i64>, role: &str, n: usize) -> String {
        s.replace("{id}", &id.map(|i| i.to_string()).unwrap_or_default())
            .replace(
                "\"{other}\"",
                &other.map(|i| i.to_string()).unwrap_or_default(),
            )
            .replace("{other}", &other.map(|i| i.to_string()).unwrap_or_default())
            .replace("{p1a}", &self.t.unit("P1a").to_string())
            .replace("{handler2}", &self.handler2_id.to_string())
            .replace("{role}", role)
            .replace("{n}", &format!("{n:02}"))
    }

    async fn send(
        &self,
        client: &Client,
        c: &Case,
        id: Option<i64>,
        other: Option<i64>,
        role: &str,
        n: usize,
    ) -> (StatusCode, String) {
        let path = self.fill(c.path, id, other, role, n);
        let mut req = client.request(c.method.clone(), self.t.url(&path));
        if !c.body.is_null() {
            let body: Value =
                serde_json::from_str(&self.fill(&c.body.to_string(), id, other, role, n))
                    .expect("body");
            req = req.json(&body);
        }
        let r = req.send().await.expect("request");
        let s = r.status();
        (s, r.text().await.unwrap_or_default())
    }

    async fn version(&self, id: i64) -> Value {
        let (_, o) = get(
            self.c("dispatcher"),
            self.t.url(&format!("/api/orders/{id}")),
        )
        .await;
        json!([o["version"], o["status"]["code"]])
    }
}

async fn every_role_is_allowed_and_denied_as_specified(t: &TestApp) {
    let mut clients = HashMap::new();
    for r in ROLES {
        clients.insert(r, t.login(r).await);
    }
    // KB-1, the entry the instant-answer cases cite.
    let (s, e) = call(
        &clients["supervisor"],
        t.url("/api/kb/entries"),
        json!({"title": "社保卡补办", "answer": "携带身份证到社保网点补办。"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["code"], "KB-1");
    let (s, e) = call(
        &clients["supervisor"],
        t.url("/api/kb/entries/1/publish"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, users) = get(&clients["admin"], t.url("/api/users")).await;
    let handler2_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "handler2")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let w = World {
        t,
        clients,
        handler2_id,
    };
    let mut n = 0;
    for c in cases(t) {
        // Denied roles first, all against one order, which must not change.
        let id = w.prepare(c.setup).await;
        let other = if c.path.contains("merge") {
            w.prepare(Setup::PendingReview).await
        } else {
            None
        };
        let before = match id {
            Some(id) => Some(w.version(id).await),
            None => None,
        };
        for role in ROLES.iter().filter(|r| !c.allowed.contains(r)) {
            n += 1;
            let (s, body) = w.send(w.c(role), &c, id, other, role, n).await;
            assert!(
                s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                "{} {} as {role} must be denied, got {s}: {body}",
                c.method,
                c.path
            );
            if let (Some(id), Some(before)) = (id, &before) {
                assert_eq!(
                    &w.version(id).await,
                    before,
                    "a denied {} changed the order",
                    c.path
                );
            }
        }
        // Each allowed role on a fresh order in the right state.
        for role in c.allowed {
            n += 1;
            let id = w.prepare(c.setup).await;
            let other = if c.path.contains("merge") {
                w.prepare(Setup::PendingReview).await
            } else {
                None
            };
            let (s, body) = w.send(w.c(role), &c, id, other, role, n).await;
            assert!(
                s.is_success(),
                "{} {} as {role} must be allowed, got {s}: {body}",
                c.method,
                c.path
            );
        }
    }
}

async fn anonymous_callers_and_other_tenants_get_nothing(t: &TestApp) {
    let agent = t.login("agent").await;
    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    let anon = Client::new();
    let w = World {
        t,
        clients: HashMap::new(),
        handler2_id: 0,
    };
    for (i, c) in cases(t).iter().enumerate() {
        let (s, body) = w.send(&anon, c, Some(id), Some(id), "anon", i).await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{} {} anonymously: {body}",
            c.method,
            c.path
        );
    }
    // A user of tenant t2 sees none of t1's orders and cannot act on them.
    let other = Client::builder().cookie_store(true).build().unwrap();
    let r = other
        .post(t.url("/api/auth/login"))
        .json(&json!({"username": "agent2", "password": PASSWORD, "tenant": "t2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, _) = get(&other, t.url(&format!("/api/orders/{id}"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&other, t.url(&format!("/api/orders/{id}/events"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, l) = get(&other, t.url("/api/orders")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["total"], 0);
    let (s, _) = call(
        &other,
        t.url(&format!("/api/orders/{id}/withdraw")),
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, units) = get(&other, t.url("/api/units")).await;
    assert!(
        units["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["id"] != t.unit("P1"))
    );
    // The same username in t1 does not exist: no login across tenants.
    let r = Client::new()
        .post(t.url("/api/auth/login"))
        .json(&json!({"username": "agent2", "password": PASSWORD, "tenant": "t1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn units_see_only_their_own_subtree(t: &TestApp) {
    let agent = t.login("agent").await;
    let dispatcher = t.login("dispatcher").await;
    let district = t.login("district").await;
    let town1 = t.login("town1").await;
    let town2 = t.login("town2").await;
    let handler = t.login("handler").await;
    let a = t.accept(&agent, json!({})).await;
    let b = t.accept(&agent, json!({})).await;
    call(
        &dispatcher,
        t.url(&format!("/api/orders/{}/dispatch", a["id"])),
        json!({"targets": [{"unit_id": t.unit("T1"), "role": "lead"}]}),
    )
    .await;
    call(
        &dispatcher,
        t.url(&format!("/api/orders/{}/dispatch", b["id"])),
        json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
    )
    .await;
    let ids = |l: &Value| -> Vec<i64> {
        l["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    let (_, l) = get(&town1, t.url("/api/orders")).await;
    assert_eq!(ids(&l), vec![a["id"].as_i64().unwrap()]);
    let (_, l) = get(&town2, t.url("/api/orders")).await;
    assert!(ids(&l).is_empty());
    let (_, l) = get(&district, t.url("/api/orders")).await;
    assert_eq!(
        ids(&l),
        vec![a["id"].as_i64().unwrap()],
        "a district centre sees its subtree"
    );
    let (_, l) = get(&handler, t.url("/api/orders")).await;
    assert_eq!(ids(&l), vec![b["id"].as_i64().unwrap()]);
    let (s, _) = get(&town2, t.url(&format!("/api/orders/{}", a["id"]))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An inbox: the unit's orders waiting to be signed for.
    let (_, l) = get(
        &town1,
        t.url(&format!(
            "/api/orders?unit={}&assignment_status=pending_sign",
            t.unit("T1")
        )),
    )
    .await;
    assert_eq!(ids(&l), vec![a["id"].as_i64().unwrap()]);
    // Asking for another unit's orders yields nothing outside one's own scope.
    let (_, l) = get(&town2, t.url(&format!("/api/orders?unit={}", t.unit("T1")))).await;
    assert!(ids(&l).is_empty());
}

on_both_backends! {
    every_role_is_allowed_and_denied_as_specified => super::every_role_is_allowed_and_denied_as_specified,
    anonymous_callers_and_other_tenants_get_nothing => super::anonymous_callers_and_other_tenants_get_nothing,
    units_see_only_their_own_subtree => super::units_see_only_their_own_subtree,
}
