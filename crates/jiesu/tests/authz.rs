#![allow(clippy::unwrap_used)]
//! The authorization matrix: every role against every endpoint of the API, allowed and denied
//! as specified; anonymous callers and another tenant's users against all of them; and a
//! completeness check: every operation of the OpenAPI document the server serves has a case
//! here, or is listed below as public, as an interface for other systems, or as excluded,
//! each with its reason.

mod common;

use common::*;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::cell::Cell;
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

/// An operation outside the role matrix: method, path as documented, and why.
type Listed = (&'static str, &'static str, &'static str);

/// Operations open to anyone by design: the OpenAPI document declares them with an empty
/// security requirement (`security(())`), and the completeness check holds the two together.
const PUBLIC: &[Listed] = &[
    ("GET", "/api/health", "health probe for load balancers"),
    ("GET", "/api/health/live", "liveness probe"),
    ("GET", "/api/health/ready", "readiness probe"),
    (
        "GET",
        "/api/meta",
        "codes and labels of enums for pickers; no tenant data",
    ),
    ("POST", "/api/auth/login", "how a session is opened"),
    (
        "GET",
        "/api/public/meta",
        "citizen portal (码上说): no staff account, tested in tests/portal.rs",
    ),
    (
        "POST",
        "/api/public/requests",
        "citizen portal: a citizen submits a request, tested in tests/portal.rs",
    ),
    (
        "GET",
        "/api/public/requests/{number}",
        "citizen portal: progress by number and query code, tested in tests/portal.rs",
    ),
    (
        "POST",
        "/api/public/requests/{number}/rating",
        "citizen portal: rating with the query code, tested in tests/portal.rs",
    ),
];

/// Interfaces for other systems: only a bearer token holding the interface's scope gets in,
/// never a staff session (checked here: anonymous and session callers get 401, a token for the
/// JSON API gets 403). What the systems may do is tested in the files named.
const INTERFACES: &[Listed] = &[
    (
        "POST",
        "/api/telephony/events",
        "call centre events, `telephony` token; tests/telephony.rs",
    ),
    (
        "POST",
        "/api/transfer/inbound",
        "orders transferred from peer platforms, `transfer`/`grid` token; tests/transfer.rs",
    ),
    (
        "POST",
        "/api/transfer/status",
        "status reports of peer platforms, `transfer`/`grid` token; tests/transfer.rs",
    ),
];

/// Operations outside the role matrix for another reason.
const EXCLUDED: &[Listed] = &[
    (
        "POST",
        "/api/auth/logout",
        "ends the caller's own session and needs none; tests/login.rs",
    ),
    (
        "GET",
        "/open311/discovery.json",
        "Open311 GeoReport v2: public discovery; tests/open311.rs",
    ),
    (
        "GET",
        "/open311/v2/services.json",
        "Open311: public service list; tests/open311.rs",
    ),
    (
        "GET",
        "/open311/v2/services/{service_code}.json",
        "Open311: public service definition; tests/open311.rs",
    ),
    (
        "GET",
        "/open311/v2/requests.json",
        "Open311: public request list (citizens masked); tests/open311.rs",
    ),
    (
        "GET",
        "/open311/v2/requests/{service_request_id}.json",
        "Open311: one public request; tests/open311.rs",
    ),
    (
        "GET",
        "/open311/v2/tokens/{token}.json",
        "Open311: token to request id; tests/open311.rs",
    ),
    (
        "POST",
        "/open311/v2/requests.json",
        "Open311: submit with an `open311` api_key token; tests/open311.rs",
    ),
];

/// Operations that still lack a case. Keep this empty: an entry is a gap in the matrix.
const NOT_YET_COVERED: &[Listed] = &[];

/// What must exist before the call: an order in a state, or another object (`{res}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    None,
    PendingReview,
    Dispatched,
    Handling,
    ExtensionPending,
    Replied,
    CallbackPending,
    /// Dispatched to P1 and under supervision, notice 1 addressed to P1.
    Supervised,
    /// Dispatched, with a file attached (`{res}` is the file).
    Attachment,
    /// P1's notice of a supervised order (`{res}` is the notice).
    Notification,
    /// An API token (`{res}`).
    Token,
    /// A centre's knowledge entry as a draft, under review or published (`{res}`).
    KbDraft,
    KbReview,
    KbPublished,
    /// A knowledge search that found nothing (`{res}` is its text, URL-encoded).
    KbMiss,
    /// An abandoned call waiting in the missed-call queue (`{res}`).
    MissedCall,
    /// A day the centre does not work (`{res}` is the date).
    Closure,
}

impl Setup {
    fn order_state(self) -> Option<Setup> {
        use Setup::*;
        match self {
            PendingReview | Dispatched | Handling | ExtensionPending | Replied
            | CallbackPending | Supervised => Some(self),
            Attachment => Some(Dispatched),
            Notification => Some(Supervised),
            _ => Option::None,
        }
    }
}

/// What an allowed role gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A 2xx answer.
    Success,
    /// Past the role check, the object named does not exist (it cannot be made here): 404
    /// for allowed roles, so denied roles must get exactly 403.
    NotFound,
}

struct Case {
    method: Method,
    /// `{id}` is replaced by the prepared order, `{other}` by a second pending order, `{res}`
    /// by the prepared object; see `World::fill` for the rest.
    path: &'static str,
    body: Value,
    setup: Setup,
    allowed: &'static [&'static str],
    expect: Expect,
    /// Sent as a multipart upload (form field `file`) instead of the JSON body.
    file: Option<(&'static str, &'static [u8])>,
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
        expect: Expect::Success,
        file: None,
    }
}

impl Case {
    fn not_found_when_allowed(mut self) -> Case {
        self.expect = Expect::NotFound;
        self
    }

    fn upload(mut self, name: &'static str, data: &'static [u8]) -> Case {
        self.file = Some((name, data));
        self
    }

    /// Whether the call names an object of tenant t1 (which another tenant must not reach).
    fn names_t1_object(&self) -> bool {
        [
            "{id}",
            "{other}",
            "{res}",
            "{p1a}",
            "{handler2}",
            "{peer}",
            "{hook}",
        ]
        .iter()
        .any(|p| self.path.contains(p))
    }
}

const KB_IMPORT: &[u8] =
    "{\"title\":\"占道经营投诉\",\"answer\":\"由城管局依法查处。\"}\n".as_bytes();

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
    // Who adds to an order's record (notes, files): centre staff but leaders, and the units
    // holding it.
    let contributors: &'static [&'static str] = &[
        "agent",
        "dispatcher",
        "handler",
        "unit_admin",
        "callback",
        "supervisor",
    ];
    // Readers of city-wide figures: rankings, reports, evaluations, insight, the board.
    let figures: &'static [&'static str] = &["dispatcher", "supervisor", "leader", "admin"];
    let catalogue: &'static [&'static str] = &["dispatcher", "supervisor", "admin"];
    let kb_writers: &'static [&'static str] =
        &["dispatcher", "handler", "unit_admin", "supervisor", "admin"];
    let kb_centre_writers: &'static [&'static str] = &["dispatcher", "supervisor", "admin"];
    let kb_reviewers: &'static [&'static str] = &["supervisor", "admin"];
    let kb_gaps: &'static [&'static str] = &["unit_admin", "supervisor", "admin"];
    let stats: &'static [&'static str] =
        &["dispatcher", "unit_admin", "supervisor", "leader", "admin"];
    let missed: &'static [&'static str] = &["agent", "callback", "supervisor", "admin"];
    let admin: &'static [&'static str] = &["admin"];
    vec![
        // ---- orders: taking, reading, the lifecycle (api/orders.rs) ----
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
            M::GET,
            "/api/orders/{id}/sheet",
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
            contributors,
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
            "/api/orders/{id}/callback-attempt",
            json!({"note": "无人接听"}),
            CallbackPending,
            &["callback"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/supervise",
            json!({"kind": "supervision", "level": "key", "content": "请于明日前上报整改进展", "respond_within_hours": 24}),
            Dispatched,
            &["supervisor"],
        ),
        case(
            M::POST,
            "/api/orders/{id}/notice-response",
            json!({"no": 1, "content": "已约谈物业，本周完成整改"}),
            Supervised,
            &["handler", "unit_admin"],
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
        // ---- search, deadlines, files, transfers of orders ----
        case(
            M::GET,
            "/api/orders/search?q=%E7%83%A7%E7%83%A4",
            json!(null),
            None,
            all,
        ),
        case(
            M::GET,
            "/api/orders/{id}/similar",
            json!(null),
            Dispatched,
            all,
        ),
        case(
            M::GET,
            "/api/orders/{id}/duplicates",
            json!(null),
            Dispatched,
            all,
        ),
        case(
            M::GET,
            "/api/orders/{id}/suggestion",
            json!(null),
            Dispatched,
            &["agent", "dispatcher"],
        ),
        case(
            M::GET,
            "/api/orders/{id}/deadlines",
            json!(null),
            Dispatched,
            all,
        ),
        case(M::GET, "/api/orders/export", json!(null), None, all),
        case(
            M::GET,
            "/api/orders/{id}/attachments",
            json!(null),
            Dispatched,
            all,
        ),
        case(
            M::POST,
            "/api/orders/{id}/attachments",
            json!(null),
            Handling,
            contributors,
        )
        .upload("现场照片说明.txt", "楼下烧烤店凌晨仍在营业。".as_bytes()),
        case(
            M::GET,
            "/api/attachments/{res}",
            json!(null),
            Attachment,
            all,
        ),
        case(
            M::GET,
            "/api/orders/{id}/transfers",
            json!(null),
            Dispatched,
            all,
        ),
        case(
            M::POST,
            "/api/orders/{id}/transfer",
            json!({"peer_id": "{peer}", "reason": "属公共事业热线职责"}),
            PendingReview,
            &["agent", "dispatcher"],
        ),
        case(
            M::GET,
            "/api/transfer/peers",
            json!(null),
            None,
            &["agent", "dispatcher", "admin"],
        ),
        case(
            M::POST,
            "/api/transfer/peers",
            json!({"code": "water-{n}", "name": "自来水热线{n}", "kind": "utility", "url": "http://127.0.0.1:9/transfer", "token": "jst_peer_token"}),
            None,
            admin,
        ),
        case(
            M::PUT,
            "/api/transfer/peers/{peer}/active",
            json!({"active": true}),
            None,
            admin,
        ),
        // ---- organisation, accounts, reference data (api/admin.rs) ----
        case(M::GET, "/api/units", json!(null), None, all),
        case(
            M::POST,
            "/api/units",
            json!({"parent_id": p1, "kind": "department", "name": "新科室"}),
            None,
            admin,
        ),
        case(
            M::PUT,
            "/api/units/{p1a}",
            json!({"parent_id": p1, "kind": "department", "name": "住建局物业科"}),
            None,
            admin,
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
            admin,
        ),
        case(
            M::PUT,
            "/api/users/{handler2}",
            json!({"display_name": "城管承办人", "unit_id": t.unit("P2"), "roles": ["handler"], "active": true}),
            None,
            admin,
        ),
        case(
            M::POST,
            "/api/users/{handler2}/password",
            json!({"password": "pass-word-456"}),
            None,
            admin,
        ),
        case(M::GET, "/api/categories", json!(null), None, all),
        case(
            M::POST,
            "/api/categories",
            json!({"code": "98.{n}", "parent_code": null, "name": "新分类"}),
            None,
            admin,
        ),
        case(
            M::PUT,
            "/api/categories/01",
            json!({"name": "城乡建设", "active": true}),
            None,
            admin,
        ),
        case(M::GET, "/api/regions", json!(null), None, all),
        case(
            M::POST,
            "/api/regions",
            json!({"items": [{"code": "990102001", "name": "B区一街道", "level": 4, "parent_code": "990102"}]}),
            None,
            admin,
        ),
        case(M::GET, "/api/tokens", json!(null), None, admin),
        case(
            M::POST,
            "/api/tokens",
            json!({"name": "grid", "unit_id": p1, "roles": ["agent"]}),
            None,
            admin,
        ),
        case(M::DELETE, "/api/tokens/{res}", json!(null), Token, admin),
        case(
            M::GET,
            "/api/audit",
            json!(null),
            None,
            &["supervisor", "admin"],
        ),
        case(M::GET, "/api/auth/me", json!(null), None, all),
        // ---- outbound webhooks and messages (api/webhooks.rs) ----
        case(M::GET, "/api/webhooks", json!(null), None, admin),
        case(
            M::POST,
            "/api/webhooks",
            json!({"name": "网格平台{n}", "url": "http://127.0.0.1:9/hook", "events": ["replied"]}),
            None,
            admin,
        ),
        case(
            M::PUT,
            "/api/webhooks/{hook}/active",
            json!({"active": false}),
            None,
            admin,
        ),
        case(
            M::GET,
            "/api/webhooks/{hook}/deliveries",
            json!(null),
            None,
            admin,
        ),
        case(
            M::POST,
            "/api/webhooks/deliveries/999999/retry",
            json!(null),
            None,
            admin,
        )
        .not_found_when_allowed(),
        case(M::GET, "/api/messages", json!(null), None, admin),
        // ---- dispatch catalogue and suggestions (api/dispatch.rs) ----
        case(
            M::GET,
            "/api/dispatch/catalogue",
            json!(null),
            None,
            catalogue,
        ),
        case(
            M::PUT,
            "/api/dispatch/catalogue",
            json!({"base_version": 1, "rules": [], "reason": "调整派单目录"}),
            None,
            admin,
        ),
        case(
            M::GET,
            "/api/dispatch/catalogue/versions",
            json!(null),
            None,
            catalogue,
        ),
        case(
            M::GET,
            "/api/dispatch/catalogue/versions/1",
            json!(null),
            None,
            catalogue,
        ),
        case(
            M::POST,
            "/api/dispatch/suggest",
            json!({"title": "路灯不亮", "content": "小区路灯连续三晚不亮", "address": "幸福小区"}),
            None,
            &["agent", "dispatcher"],
        ),
        case(M::GET, "/api/dispatch/accuracy", json!(null), None, figures),
        // ---- knowledge base (api/kb.rs) ----
        case(M::GET, "/api/kb/entries", json!(null), None, all),
        case(
            M::POST,
            "/api/kb/entries",
            json!({"title": "路灯不亮报修", "answer": "由城管局路灯所维修。"}),
            None,
            kb_writers,
        ),
        case(
            M::GET,
            "/api/kb/entries/{res}",
            json!(null),
            KbDraft,
            centre,
        ),
        case(
            M::GET,
            "/api/kb/entries/{res}/versions",
            json!(null),
            KbDraft,
            centre,
        ),
        case(
            M::PUT,
            "/api/kb/entries/{res}",
            json!({"title": "路灯不亮报修", "answer": "由城管局路灯所负责维修。", "expected_version": 1, "reason": "补充"}),
            KbDraft,
            kb_centre_writers,
        ),
        case(
            M::POST,
            "/api/kb/entries/{res}/submit",
            json!({}),
            KbDraft,
            kb_centre_writers,
        ),
        case(
            M::POST,
            "/api/kb/entries/{res}/publish",
            json!({}),
            KbReview,
            kb_reviewers,
        ),
        case(
            M::POST,
            "/api/kb/entries/{res}/reject",
            json!({"reason": "请补充办理地点"}),
            KbReview,
            kb_reviewers,
        ),
        case(
            M::POST,
            "/api/kb/entries/{res}/withdraw",
            json!({"reason": "政策调整"}),
            KbPublished,
            kb_reviewers,
        ),
        case(
            M::GET,
            "/api/kb/search?q=%E7%A4%BE%E4%BF%9D%E5%8D%A1",
            json!(null),
            None,
            all,
        ),
        case(M::GET, "/api/kb/export", json!(null), None, all),
        case(M::POST, "/api/kb/import", json!(null), None, kb_reviewers)
            .upload("kb.jsonl", KB_IMPORT),
        case(M::GET, "/api/kb/misses", json!(null), None, kb_gaps),
        case(
            M::DELETE,
            "/api/kb/misses?text={res}",
            json!(null),
            KbMiss,
            kb_gaps,
        ),
        case(M::GET, "/api/admin/kb/synonyms", json!(null), None, admin),
        case(
            M::PUT,
            "/api/admin/kb/synonyms",
            json!({"groups": [["医保", "医疗保险"]]}),
            None,
            admin,
        ),
        // ---- insight (api/insight.rs) ----
        case(M::GET, "/api/insight/hotspots", json!(null), None, figures),
        case(
            M::GET,
            "/api/insight/hotspots/999999999",
            json!(null),
            None,
            figures,
        )
        .not_found_when_allowed(),
        case(M::GET, "/api/insight/warnings", json!(null), None, figures),
        case(M::GET, "/api/insight/trend", json!(null), None, figures),
        case(M::GET, "/api/insight/settings", json!(null), None, figures),
        case(
            M::PUT,
            "/api/insight/settings",
            json!({"repeat_window_days": 30, "repeat_min_similarity": 0.3, "hotspot_window_days": 60, "warning_min_count": 5}),
            None,
            admin,
        ),
        // ---- statistics, reports, evaluations, supervision (api/stats.rs) ----
        case(
            M::GET,
            "/api/stats/rates?from=2025-05-01&to=2025-05-31",
            json!(null),
            None,
            stats,
        ),
        case(
            M::GET,
            "/api/stats/orders?measure=accepted&from=2025-05-01&to=2025-05-31",
            json!(null),
            None,
            stats,
        ),
        case(M::GET, "/api/stats/formulas", json!(null), None, all),
        case(
            M::PUT,
            "/api/stats/formulas",
            json!("{formulas}"),
            None,
            admin,
        ),
        case(
            M::GET,
            "/api/stats/formulas/presets",
            json!(null),
            None,
            all,
        ),
        case(
            M::GET,
            "/api/stats/ranking?from=2025-05-01&to=2025-05-31",
            json!(null),
            None,
            figures,
        ),
        case(
            M::GET,
            "/api/reports/monthly?month=2025-05",
            json!(null),
            None,
            figures,
        ),
        case(M::GET, "/api/reports", json!(null), None, figures),
        case(
            M::GET,
            "/api/reports/monthly/2025-05",
            json!(null),
            None,
            figures,
        )
        .not_found_when_allowed(),
        case(
            M::GET,
            "/api/evaluations/2025-05",
            json!(null),
            None,
            figures,
        ),
        case(
            M::GET,
            "/api/evaluations/year/2025",
            json!(null),
            None,
            figures,
        ),
        case(
            M::POST,
            "/api/evaluations/2025-04/close",
            json!(null),
            None,
            admin,
        ),
        case(
            M::POST,
            "/api/evaluations/2025-05/adjustments",
            json!({"unit_id": p1, "points": 1.5, "reason": "重大活动保障加分"}),
            None,
            admin,
        ),
        case(
            M::GET,
            "/api/supervision/hard-cases?month=2025-05",
            json!(null),
            None,
            figures,
        ),
        case(
            M::POST,
            "/api/supervision/hard-cases/2025-{ri}",
            json!({"category": "01", "district": "990101", "note": "集中办理物业问题"}),
            None,
            &["supervisor", "admin"],
        ),
        case(M::GET, "/api/supervision/board", json!(null), None, figures),
        case(M::GET, "/api/cockpit", json!(null), None, figures),
        // ---- telephony (api/telephony.rs) ----
        case(M::GET, "/api/telephony/missed", json!(null), None, missed),
        case(
            M::GET,
            "/api/telephony/missed/{res}",
            json!(null),
            MissedCall,
            missed,
        ),
        case(
            M::POST,
            "/api/telephony/missed/{res}/callback",
            json!({"outcome": "not_reached", "note": "无人接听"}),
            MissedCall,
            &["agent", "callback"],
        ),
        case(
            M::GET,
            "/api/telephony/stats?from=2025-05-01&to=2025-05-31",
            json!(null),
            None,
            &["supervisor", "leader", "admin"],
        ),
        // ---- time limits, calendar, notices (api/time.rs) ----
        case(M::GET, "/api/calendar", json!(null), None, all),
        case(
            M::GET,
            "/api/calendar/add?start=2026-03-02T09:00:00%2B08:00&amount=2&unit=working_days",
            json!(null),
            None,
            all,
        ),
        case(
            M::POST,
            "/api/calendar/closures",
            json!({"date": "{year0}-03-05", "reason": "停电检修"}),
            None,
            admin,
        ),
        case(
            M::DELETE,
            "/api/calendar/closures/{res}",
            json!(null),
            Closure,
            admin,
        ),
        case(
            M::POST,
            "/api/calendar/years",
            json!({"year": "{year_before}", "holidays": {}, "makeup_workdays": {}}),
            None,
            admin,
        ),
        case(M::GET, "/api/notifications", json!(null), None, all),
        case(
            M::POST,
            "/api/notifications/{res}/read",
            json!(null),
            Notification,
            &["handler", "unit_admin", "supervisor", "leader"],
        ),
        case(M::GET, "/api/time-rules", json!(null), None, all),
        // Last: a preset replaces the time rules, the next case puts the original ones back.
        case(
            M::POST,
            "/api/time-rules/preset",
            json!({"preset": "ordos"}),
            None,
            admin,
        ),
        case(
            M::PUT,
            "/api/time-rules",
            json!("{time_rules}"),
            None,
            admin,
        ),
    ]
}

/// What `prepare` made: the order and the other object of a case.
#[derive(Clone, Debug, Default)]
struct Prepared {
    order: Option<i64>,
    res: Option<String>,
}

struct World<'a> {
    t: &'a TestApp,
    clients: HashMap<&'static str, Client>,
    handler2_id: i64,
    /// `{peer}`, `{hook}`, `{year0}`, `{year_before}`, `{formulas}`, `{time_rules}`.
    vars: HashMap<&'static str, String>,
    telephony_token: String,
    seq: Cell<usize>,
}

fn created(s: StatusCode, v: &Value, what: &str) {
    assert!(s.is_success(), "{what}: {s} {v}");
}

impl<'a> World<'a> {
    /// A world for callers who never get past authentication: placeholders filled with
    /// plausible values.
    fn bare(t: &'a TestApp) -> World<'a> {
        let vars = [
            ("peer", "1"),
            ("hook", "1"),
            ("year0", "2019"),
            ("year_before", "2018"),
            ("formulas", "{}"),
            ("time_rules", "{}"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        World {
            t,
            clients: HashMap::new(),
            handler2_id: 0,
            vars,
            telephony_token: String::new(),
            seq: Cell::new(0),
        }
    }

    /// Every role logged in, and what the cases rely on: KB-1 published, version 1 of the
    /// dispatch catalogue, May 2025's evaluation closed, a telephony token, a peer platform,
    /// a webhook, and the current formulas, time rules and calendar.
    async fn new(t: &'a TestApp) -> World<'a> {
        let mut w = World::bare(t);
        for r in ROLES {
            w.clients.insert(r, t.login(r).await);
        }
        let sup = w.c("supervisor");
        let (s, e) = call(
            sup,
            t.url("/api/kb/entries"),
            json!({"title": "社保卡补办", "answer": "携带身份证到社保网点补办。"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        assert_eq!(e["code"], "KB-1");
        let (s, e) = call(sup, t.url("/api/kb/entries/1/publish"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{e}");
        let admin = w.c("admin");
        let (_, users) = get(admin, t.url("/api/users")).await;
        let handler2_id = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "handler2")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let (s, v) = put(
            admin,
            t.url("/api/dispatch/catalogue"),
            json!({"base_version": 0, "rules": [], "reason": "初始派单目录"}),
        )
        .await;
        assert_eq!((s, &v["version"]), (StatusCode::OK, &json!(1)), "{v}");
        let (s, v) = call(admin, t.url("/api/evaluations/2025-05/close"), json!({})).await;
        created(s, &v, "closing May 2025");
        let (s, v) = call(
            admin,
            t.url("/api/tokens"),
            json!({"name": "呼叫中心", "unit_id": t.unit("root"), "roles": ["agent"], "scopes": ["telephony"]}),
        )
        .await;
        created(s, &v, "telephony token");
        let telephony_token = v["token"].as_str().unwrap().to_string();
        let (s, v) = call(
            admin,
            t.url("/api/transfer/peers"),
            json!({"code": "gas-hotline", "name": "燃气热线", "kind": "utility", "url": "http://127.0.0.1:9/transfer", "token": "jst_peer_token"}),
        )
        .await;
        created(s, &v, "peer platform");
        let peer = v["id"].as_i64().unwrap();
        let (s, v) = call(
            admin,
            t.url("/api/webhooks"),
            json!({"name": "区网格化平台", "url": "http://127.0.0.1:9/hook", "events": ["replied"]}),
        )
        .await;
        created(s, &v, "webhook");
        let hook = v["id"].as_i64().unwrap();
        let (s, formulas) = get(admin, t.url("/api/stats/formulas")).await;
        assert_eq!(s, StatusCode::OK, "{formulas}");
        let (s, rules) = get(admin, t.url("/api/time-rules")).await;
        assert_eq!(s, StatusCode::OK, "{rules}");
        let (s, cal) = get(admin, t.url("/api/calendar")).await;
        assert_eq!(s, StatusCode::OK, "{cal}");
        let year0 = cal["years"][0].as_i64().unwrap();
        for (k, v) in [
            ("peer", peer.to_string()),
            ("hook", hook.to_string()),
            ("year0", year0.to_string()),
            ("year_before", (year0 - 1).to_string()),
            ("formulas", formulas.to_string()),
            ("time_rules", rules.to_string()),
        ] {
            w.vars.insert(k, v);
        }
        w.telephony_token = telephony_token;
        w.handler2_id = handler2_id;
        w
    }

    fn c(&self, who: &str) -> &Client {
        &self.clients[who]
    }

    fn next(&self) -> usize {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        n
    }

    async fn prepare_order(&self, setup: Setup) -> i64 {
        let t = self.t;
        let o = t.accept(self.c("agent"), json!({})).await;
        let id = o["id"].as_i64().unwrap();
        let u = |p: &str| t.url(&format!("/api/orders/{id}/{p}"));
        let dispatch = (
            "dispatcher",
            "dispatch",
            json!({"targets": [{"unit_id": t.unit("P1"), "role": "lead"}]}),
        );
        let sign = ("handler", "sign", json!({}));
        let reply = ("handler", "reply", json!({"content": "已处理"}));
        let steps: Vec<(&str, &str, Value)> = match setup {
            Setup::Dispatched => vec![dispatch],
            Setup::Handling => vec![dispatch, sign],
            Setup::ExtensionPending => vec![
                dispatch,
                sign,
                (
                    "handler",
                    "extension",
                    json!({"days": 2, "reason": "需协调"}),
                ),
            ],
            Setup::Replied => vec![dispatch, sign, reply],
            Setup::CallbackPending => vec![
                dispatch,
                sign,
                reply,
                ("dispatcher", "check", json!({"approve": true})),
            ],
            Setup::Supervised => vec![
                dispatch,
                (
                    "supervisor",
                    "supervise",
                    json!({"kind": "supervision", "level": "key", "content": "请于明日前上报整改进展", "respond_within_hours": 24}),
                ),
            ],
            _ => vec![],
        };
        for (who, cmd, body) in steps {
            let (s, b) = call(self.c(who), u(cmd), body).await;
            assert_eq!(
                s,
                StatusCode::OK,
                "preparing {setup:?}: {cmd} as {who}: {b}"
            );
        }
        id
    }

    async fn prepare(&self, setup: Setup) -> Prepared {
        let t = self.t;
        let order = match setup.order_state() {
            Some(s) => Some(self.prepare_order(s).await),
            None => None,
        };
        let k = self.next();
        let res = match setup {
            Setup::Attachment => {
                let id = order.unwrap();
                let form = reqwest::multipart::Form::new().part(
                    "file",
                    reqwest::multipart::Part::bytes("现场情况说明".as_bytes().to_vec())
                        .file_name("说明.txt"),
                );
                let r = self
                    .c("dispatcher")
                    .post(t.url(&format!("/api/orders/{id}/attachments")))
                    .multipart(form)
                    .send()
                    .await
                    .unwrap();
                let s = r.status();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                created(s, &v, "attaching a file");
                Some(v["id"].as_i64().unwrap().to_string())
            }
            Setup::Notification => {
                let id = order.unwrap();
                let (_, n) = get(self.c("handler"), t.url("/api/notifications?unread=true")).await;
                let notice = n["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["order_id"] == id && i["kind"] == "supervision")
                    .unwrap_or_else(|| panic!("P1's supervision notice of order {id}: {n}"));
                Some(notice["id"].as_i64().unwrap().to_string())
            }
            Setup::Token => {
                let (s, v) = call(
                    self.c("admin"),
                    t.url("/api/tokens"),
                    json!({"name": format!("临时对接{k}"), "unit_id": t.unit("root"), "roles": ["agent"]}),
                )
                .await;
                created(s, &v, "token");
                Some(v["id"].as_i64().unwrap().to_string())
            }
            Setup::KbDraft | Setup::KbReview | Setup::KbPublished => {
                let sup = self.c("supervisor");
                let (s, v) = call(
                    sup,
                    t.url("/api/kb/entries"),
                    json!({"title": format!("路灯不亮报修{k}"), "answer": "由城管局路灯所维修。"}),
                )
                .await;
                assert_eq!(s, StatusCode::CREATED, "{v}");
                let id = v["id"].as_i64().unwrap();
                let then = match setup {
                    Setup::KbReview => Some("submit"),
                    Setup::KbPublished => Some("publish"),
                    _ => None,
                };
                if let Some(action) = then {
                    let (s, v) = call(
                        sup,
                        t.url(&format!("/api/kb/entries/{id}/{action}")),
                        json!({}),
                    )
                    .await;
                    assert_eq!(s, StatusCode::OK, "{action}: {v}");
                }
                Some(id.to_string())
            }
            Setup::KbMiss => {
                let text = enc(&format!("骆驼养殖补贴怎么申请{k}"));
                let (s, v) = get(self.c("agent"), t.url(&format!("/api/kb/search?q={text}"))).await;
                assert_eq!(s, StatusCode::OK, "{v}");
                assert_eq!(v["total"], 0, "{v}");
                Some(text)
            }
            Setup::MissedCall => {
                let caller = format!("1390000{k:04}");
                let at = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
                let r = Client::new()
                    .post(t.url("/api/telephony/events"))
                    .bearer_auth(&self.telephony_token)
                    .json(&json!({"call_id": format!("authz-{k}"), "event": "abandoned", "at": at, "caller": caller}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let (_, l) = get(self.c("agent"), t.url("/api/telephony/missed?limit=200")).await;
                let item = l["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["caller"] == caller.as_str())
                    .unwrap_or_else(|| panic!("{caller} in the missed-call queue: {l}"));
                Some(item["id"].as_i64().unwrap().to_string())
            }
            Setup::Closure => {
                let date = format!("{}-03-06", self.vars["year0"]);
                let (s, v) = call(
                    self.c("admin"),
                    t.url("/api/calendar/closures"),
                    json!({"date": date, "reason": "停电检修"}),
                )
                .await;
                created(s, &v, "closure");
                Some(date)
            }
            _ => None,
        };
        Prepared { order, res }
    }

    /// The case's text with its placeholders filled; a placeholder standing for a number or
    /// a JSON value, written as a JSON string (`"{other}"`), becomes that value.
    fn fill(&self, s: &str, p: &Prepared, other: Option<i64>, role: &str, n: usize) -> String {
        let num = |v: Option<i64>| v.map(|i| i.to_string()).unwrap_or_default();
        let ri = ROLES.iter().position(|r| *r == role).map_or(1, |i| i + 1);
        let mut pairs: Vec<(&str, String)> = vec![
            ("id", num(p.order)),
            ("other", num(other)),
            ("res", p.res.clone().unwrap_or_else(|| "1".into())),
            ("p1a", self.t.unit("P1a").to_string()),
            ("handler2", self.handler2_id.to_string()),
            ("role", role.to_string()),
            ("n", format!("{n:02}")),
            ("ri", format!("{ri:02}")),
        ];
        for (k, v) in &self.vars {
            pairs.push((*k, v.clone()));
        }
        let mut out = s.to_string();
        for (k, v) in pairs {
            let bare = format!("{{{k}}}");
            if !out.contains(&bare) {
                continue;
            }
            if serde_json::from_str::<Value>(&v).is_ok_and(|j| !j.is_string()) {
                out = out.replace(&format!("\"{bare}\""), &v);
            }
            out = out.replace(&bare, &v);
        }
        out
    }

    async fn send(
        &self,
        client: &Client,
        c: &Case,
        p: &Prepared,
        other: Option<i64>,
        role: &str,
        n: usize,
    ) -> (StatusCode, String) {
        let path = self.fill(c.path, p, other, role, n);
        let mut req = client.request(c.method.clone(), self.t.url(&path));
        if let Some((name, data)) = c.file {
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(data.to_vec()).file_name(name),
            );
            req = req.multipart(form);
        } else if !c.body.is_null() {
            let body: Value =
                serde_json::from_str(&self.fill(&c.body.to_string(), p, other, role, n))
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

/// A user of tenant t2 holding every role at its root: the strongest caller of another
/// platform.
async fn other_tenant_user(t: &TestApp) -> Client {
    let admin2 = t.login_tenant("admin2", "t2").await;
    let (s, v) = call(
        &admin2,
        t.url("/api/users"),
        json!({"username": "omni2", "display_name": "全角色", "password": PASSWORD, "unit_id": t.unit("root2"), "roles": ROLES}),
    )
    .await;
    created(s, &v, "t2 user with every role");
    t.login_tenant("omni2", "t2").await
}

async fn every_role_is_allowed_and_denied_as_specified(t: &TestApp) {
    let w = World::new(t).await;
    let omni = other_tenant_user(t).await;
    let mut n = 0;
    for c in cases(t) {
        let what = format!("{} {}", c.method, c.path);
        // Denied roles first, all against one prepared object, which must not change.
        let prep = w.prepare(c.setup).await;
        let other = if c.path.contains("merge") {
            w.prepare(Setup::PendingReview).await.order
        } else {
            None
        };
        let before = match prep.order {
            Some(id) => Some(w.version(id).await),
            None => None,
        };
        let unchanged = |after: Value, who: &str| {
            if let Some(before) = &before {
                assert_eq!(&after, before, "{what} denied to {who} changed the order");
            }
        };
        for role in ROLES.iter().filter(|r| !c.allowed.contains(r)) {
            n += 1;
            let (s, body) = w.send(w.c(role), &c, &prep, other, role, n).await;
            let denied = s == StatusCode::FORBIDDEN
                || (s == StatusCode::NOT_FOUND && c.expect == Expect::Success);
            assert!(denied, "{what} as {role} must be denied, got {s}: {body}");
            if let Some(id) = prep.order {
                unchanged(w.version(id).await, role);
            }
        }
        // Another tenant's user with every role reaches none of t1's objects: refused, not
        // found (a t1 id in the body may be refused first as unknown input: 422), or for a
        // list under a t1 object, an empty one.
        if c.names_t1_object() {
            n += 1;
            let (s, body) = w.send(&omni, &c, &prep, other, "admin", n).await;
            let empty_list = s == StatusCode::OK
                && c.method == Method::GET
                && serde_json::from_str::<Value>(&body)
                    .is_ok_and(|v| v["items"].as_array().is_some_and(Vec::is_empty));
            assert!(
                empty_list
                    || matches!(
                        s,
                        StatusCode::FORBIDDEN
                            | StatusCode::NOT_FOUND
                            | StatusCode::UNPROCESSABLE_ENTITY
                    ),
                "{what} as another tenant's user must find nothing, got {s}: {body}"
            );
            if let Some(id) = prep.order {
                unchanged(w.version(id).await, "another tenant");
            }
        }
        // Each allowed role on a fresh object in the right state.
        for role in c.allowed {
            n += 1;
            let prep = w.prepare(c.setup).await;
            let other = if c.path.contains("merge") {
                w.prepare(Setup::PendingReview).await.order
            } else {
                None
            };
            let (s, body) = w.send(w.c(role), &c, &prep, other, role, n).await;
            match c.expect {
                Expect::Success => assert!(
                    s.is_success(),
                    "{what} as {role} must be allowed, got {s}: {body}"
                ),
                Expect::NotFound => assert_eq!(
                    s,
                    StatusCode::NOT_FOUND,
                    "{what} as {role} must pass the role check: {body}"
                ),
            }
        }
    }
}

async fn anonymous_callers_and_other_tenants_get_nothing(t: &TestApp) {
    let agent = t.login("agent").await;
    let o = t.accept(&agent, json!({})).await;
    let id = o["id"].as_i64().unwrap();
    let anon = Client::new();
    let w = World::bare(t);
    let prep = Prepared {
        order: Some(id),
        res: None,
    };
    for (i, c) in cases(t).iter().enumerate() {
        let (s, body) = w.send(&anon, c, &prep, Some(id), "anon", i).await;
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
    let ids = |l: &Value| -> Vec<i64> { ids_in(l, "items") };
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

/// One operation of the OpenAPI document.
#[derive(Debug)]
struct Op {
    method: String,
    path: String,
    security: Option<Value>,
}

fn segments(path: &str) -> Vec<&str> {
    let path = path.split('?').next().unwrap_or(path);
    path.trim_matches('/').split('/').collect()
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// The documented operation a case calls, picked as the router picks a route: a literal
/// segment wins over a parameter. A placeholder of the case (`{id}`) only fills a parameter.
fn route_of<'o>(method: &str, path: &str, ops: &'o [Op]) -> Option<&'o Op> {
    let segs = segments(path);
    ops.iter()
        .filter(|o| o.method == method)
        .filter_map(|o| {
            let ts = segments(&o.path);
            if ts.len() != segs.len() {
                return None;
            }
            let mut literal = 0;
            for (a, b) in segs.iter().zip(&ts) {
                if is_param(b) {
                    continue;
                }
                if is_param(a) || a != b {
                    return None;
                }
                literal += 1;
            }
            Some((literal, o))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, o)| o)
}

fn listed(list: &[Listed], o: &Op) -> bool {
    list.iter().any(|(m, p, _)| *m == o.method && *p == o.path)
}

/// An API token of `scopes` for an agent of the root unit.
async fn token(t: &TestApp, admin: &Client, scopes: Value) -> String {
    let (s, v) = call(
        admin,
        t.url("/api/tokens"),
        json!({"name": "对接系统", "unit_id": t.unit("root"), "roles": ["agent"], "scopes": scopes}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn every_endpoint_has_an_authorization_case(t: &TestApp) {
    let anon = Client::new();
    let (s, doc) = get(&anon, t.url("/api/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                ops.push(Op {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    security: op.get("security").cloned(),
                });
            }
        }
    }
    assert!(
        ops.len() > 100,
        "the document lists {} operations",
        ops.len()
    );

    let mut covered: HashMap<(String, String), usize> = HashMap::new();
    let mut stray = Vec::new();
    for c in cases(t) {
        match route_of(c.method.as_str(), c.path, &ops) {
            Some(o) => {
                *covered
                    .entry((o.method.clone(), o.path.clone()))
                    .or_default() += 1
            }
            None => stray.push(format!("{} {}", c.method, c.path)),
        }
    }
    assert!(
        stray.is_empty(),
        "cases calling no documented operation: {stray:#?}"
    );

    let lists: [(&str, &[Listed]); 4] = [
        ("PUBLIC", PUBLIC),
        ("INTERFACES", INTERFACES),
        ("EXCLUDED", EXCLUDED),
        ("NOT_YET_COVERED", NOT_YET_COVERED),
    ];
    let mut missing = Vec::new();
    let mut twice = Vec::new();
    for o in &ops {
        let cased = covered.contains_key(&(o.method.clone(), o.path.clone()));
        let in_lists: Vec<&str> = lists
            .iter()
            .filter(|(_, l)| listed(l, o))
            .map(|(name, _)| *name)
            .collect();
        match (cased, in_lists.len()) {
            (true, 0) | (false, 1) => {}
            (false, 0) => missing.push(format!("{} {}", o.method, o.path)),
            _ => twice.push(format!(
                "{} {} (has a case: {cased}; listed in {in_lists:?})",
                o.method, o.path
            )),
        }
    }
    assert!(
        missing.is_empty(),
        "endpoints without an authorization case: add a case to `cases` (roles allowed, setup), \
         or list the endpoint with its reason in PUBLIC, INTERFACES or EXCLUDED: {missing:#?}"
    );
    assert!(
        twice.is_empty(),
        "endpoints both tested and listed, or listed twice: {twice:#?}"
    );
    for (name, list) in lists {
        for (m, p, _) in list {
            assert!(
                ops.iter().any(|o| o.method == *m && o.path == *p),
                "{name} lists {m} {p}, which the API does not have"
            );
        }
    }
    eprintln!(
        "{} operations: {} with cases, {} public, {} interfaces, {} excluded, {} not yet covered",
        ops.len(),
        covered.len(),
        PUBLIC.len(),
        INTERFACES.len(),
        EXCLUDED.len(),
        NOT_YET_COVERED.len()
    );

    // What the document declares open is exactly PUBLIC; the interfaces declare their token.
    for o in &ops {
        let open = o.security.as_ref() == Some(&json!([{}]));
        assert_eq!(
            open,
            listed(PUBLIC, o),
            "{} {}: declared open (security(())) in the OpenAPI document iff listed in PUBLIC",
            o.method,
            o.path
        );
        if listed(INTERFACES, o) {
            assert_eq!(
                o.security,
                Some(json!([{"token": []}])),
                "{} {}",
                o.method,
                o.path
            );
        }
    }
    // The open reads without parameters answer anyone.
    for (m, p, _) in PUBLIC {
        if *m == "GET" && !p.contains('{') {
            let s = anon.get(t.url(p)).send().await.unwrap().status();
            assert!(
                s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN,
                "{p} anonymously: {s}"
            );
        }
    }

    // Interfaces: no token or a session gets 401, a token for the JSON API 403; and an
    // interface's token does not open the JSON API.
    let admin = t.login("admin").await;
    let api_token = token(t, &admin, json!(["api"])).await;
    for (m, p, _) in INTERFACES {
        assert_eq!(*m, "POST");
        let body = match *p {
            "/api/telephony/events" => {
                json!({"call_id": "authz-probe", "event": "abandoned", "at": "2026-01-05T09:00:00+08:00", "caller": "13900009999"})
            }
            "/api/transfer/inbound" => {
                json!({"from": "gas-hotline", "order": {"channel": "phone", "request_type": "help", "content": "求助"}})
            }
            _ => json!({"from": "gas-hotline", "key": "k-1", "seq": 1, "status": "handling"}),
        };
        let r = anon.post(t.url(p)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{p} anonymously");
        let r = admin.post(t.url(p)).json(&body).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{p} with an admin's session"
        );
        let r = anon
            .post(t.url(p))
            .bearer_auth(&api_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{p} with a token for the JSON API"
        );
    }
    for scope in ["telephony", "transfer", "grid", "open311"] {
        let tok = token(t, &admin, json!([scope])).await;
        let r = anon
            .get(t.url("/api/orders"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "a {scope} token on the JSON API"
        );
    }
    // Not in the document: /metrics needs its own token (none is configured here).
    let s = anon.get(t.url("/metrics")).send().await.unwrap().status();
    assert!(
        s == StatusCode::NOT_FOUND || s == StatusCode::UNAUTHORIZED,
        "/metrics anonymously: {s}"
    );
}

/// A district centre's staff (dispatcher and handler at D) read their own subtree's figures,
/// not the city's rankings, evaluations, reports or insight.
async fn district_centres_do_not_read_city_wide_figures(t: &TestApp) {
    let admin = t.login("admin").await;
    let (s, v) = call(&admin, t.url("/api/evaluations/2025-05/close"), json!({})).await;
    created(s, &v, "closing May 2025");
    let district = t.login("district").await;
    for path in [
        "/api/stats/ranking?from=2025-05-01&to=2025-05-31",
        "/api/evaluations/2025-05",
        "/api/evaluations/2025-06",
        "/api/evaluations/year/2025",
        "/api/reports/monthly?month=2025-05",
        "/api/reports",
        "/api/reports/monthly/2025-05",
        "/api/supervision/hard-cases?month=2025-05",
        "/api/supervision/board",
        "/api/cockpit",
        "/api/insight/hotspots",
        "/api/insight/warnings",
        "/api/insight/trend",
    ] {
        let (s, body) = get(&district, t.url(path)).await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "{path} as a district centre: {body}"
        );
    }
    // Its own figures it reads.
    let (s, r) = get(
        &district,
        t.url("/api/stats/rates?from=2025-05-01&to=2025-05-31"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["unit_id"], t.unit("D"), "{r}");
}

on_both_backends! {
    every_role_is_allowed_and_denied_as_specified => super::every_role_is_allowed_and_denied_as_specified,
    anonymous_callers_and_other_tenants_get_nothing => super::anonymous_callers_and_other_tenants_get_nothing,
    units_see_only_their_own_subtree => super::units_see_only_their_own_subtree,
    every_endpoint_has_an_authorization_case => super::every_endpoint_has_an_authorization_case,
    district_centres_do_not_read_city_wide_figures => super::district_centres_do_not_read_city_wide_figures,
}
