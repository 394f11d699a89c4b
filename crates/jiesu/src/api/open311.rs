//! Open311 GeoReport v2 over HTTP: `/open311/discovery.{json,xml}` and `/open311/v2/…`, every
//! resource in JSON and XML (the format is the path's extension), errors as the specification's
//! list of `{code, description}` with the HTTP status equal to the code. The use cases are in
//! `app::open311`; this module parses parameters and writes the two formats from one tree.

use super::AppState;
use super::dto::{CitizenInput, CreateOrderRequest, FlagsInput};
use crate::app::open311::{MAX_IDS, RequestView, RequestsQuery, Service};
use crate::app::{AppError, Principal};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use jiesu_core::TenantId;
use jiesu_core::calendar::china_offset;
use jiesu_core::order::{RequestType, Urgency};
use jiesu_core::role::Scope;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Times are given in China's offset, with the offset, as ISO 8601 requires here.
fn iso(t: DateTime<Utc>) -> String {
    t.with_timezone(&china_offset())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// When this interface last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-11-30T00:00:00+08:00";

// ---------------------------------------------------------------------------------------------
// One tree, two formats

/// A response document: JSON and XML are written from the same tree, so they cannot disagree.
#[derive(Debug, Clone)]
pub enum Node {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Fields in the specification's order.
    Obj(Vec<(&'static str, Node)>),
    /// A list, with the XML element name of its items.
    List(&'static str, Vec<Node>),
}

impl Node {
    /// Text; an empty value is null (an empty element in XML), so both formats agree.
    fn text(s: impl Into<String>) -> Node {
        let s = s.into();
        if s.is_empty() {
            Node::Null
        } else {
            Node::Text(s)
        }
    }
    fn opt(s: Option<String>) -> Node {
        s.map_or(Node::Null, Node::Text)
    }
}

impl Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_none(),
            Node::Text(t) => s.serialize_str(t),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Obj(fields) => {
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Node::List(_, items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(v)?;
                }
                q.end()
            }
        }
    }
}

/// Characters XML 1.0 cannot carry at all are dropped; markup characters are escaped.
fn xml_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
}

fn write_xml(out: &mut String, name: &str, node: &Node) {
    match node {
        Node::Null => {
            let _ = write!(out, "<{name}/>");
        }
        Node::Text(t) => {
            let _ = write!(out, "<{name}>");
            xml_escape(out, t);
            let _ = write!(out, "</{name}>");
        }
        Node::Int(i) => {
            let _ = write!(out, "<{name}>{i}</{name}>");
        }
        Node::Float(f) => {
            let _ = write!(out, "<{name}>{f}</{name}>");
        }
        Node::Bool(b) => {
            let _ = write!(out, "<{name}>{b}</{name}>");
        }
        Node::Obj(fields) => {
            let _ = write!(out, "<{name}>");
            for (k, v) in fields {
                write_xml(out, k, v);
            }
            let _ = write!(out, "</{name}>");
        }
        Node::List(item, items) => {
            let _ = write!(out, "<{name}>");
            for v in items {
                write_xml(out, item, v);
            }
            let _ = write!(out, "</{name}>");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// Splits `name.json` / `name.xml` into the name and its format.
    fn split(file: &str) -> Option<(&str, Format)> {
        let (name, ext) = file.rsplit_once('.')?;
        let f = match ext {
            "json" => Format::Json,
            "xml" => Format::Xml,
            _ => return None,
        };
        (!name.is_empty()).then_some((name, f))
    }
}

/// The document `root` in `format`, with `status`.
fn respond(format: Format, status: StatusCode, root: &str, node: &Node) -> Response {
    match format {
        Format::Json => {
            let body = serde_json::to_string(node).unwrap_or_else(|_| "[]".into());
            (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )],
                body,
            )
                .into_response()
        }
        Format::Xml => {
            let mut body = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            write_xml(&mut body, root, node);
            (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                )],
                body,
            )
                .into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An Open311 error: the status and the list body say the same code.
pub struct Open311Error {
    format: Format,
    status: StatusCode,
    description: String,
}

impl Open311Error {
    fn new(format: Format, status: StatusCode, description: impl Into<String>) -> Self {
        Open311Error {
            format,
            status,
            description: description.into(),
        }
    }
    fn bad(format: Format, field: &str, message: &str) -> Self {
        Self::new(
            format,
            StatusCode::BAD_REQUEST,
            format!("{field}: {message}"),
        )
    }
    /// The app's error in Open311's terms, with our field names translated to the form's.
    fn from_app(format: Format, e: AppError) -> Self {
        let (status, description) = match e {
            AppError::Invalid(f) => (
                StatusCode::BAD_REQUEST,
                format!("{}: {}", form_field(&f.field), f.message),
            ),
            AppError::Unauthenticated | AppError::BadCredentials | AppError::Forbidden(_) => {
                (StatusCode::FORBIDDEN, e.to_string())
            }
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, e.to_string()),
            AppError::Conflict(m) | AppError::Calendar(m) => (StatusCode::CONFLICT, m),
            AppError::TooMany(m) => (StatusCode::TOO_MANY_REQUESTS, m),
            AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            AppError::UnsupportedType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            AppError::Internal(m) => {
                tracing::error!(error = %m, "open311 request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "服务器内部错误，请稍后重试".into(),
                )
            }
        };
        Open311Error::new(format, status, description)
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let body = Node::List(
            "error",
            vec![Node::Obj(vec![
                ("code", Node::Int(i64::from(self.status.as_u16()))),
                ("description", Node::Text(self.description)),
            ])],
        );
        respond(self.format, self.status, "errors", &body)
    }
}

/// Our field names as the Open311 form calls them.
fn form_field(field: &str) -> String {
    match field {
        "content" => "description",
        "citizen.phone" => "phone",
        "citizen.name" => "last_name",
        "lng" => "long",
        "address" => "address_string",
        "region_code" => "address_id",
        "category" => "service_code",
        "title" => "attribute[title]",
        "request_type" => "attribute[request_type]",
        "urgency" => "attribute[urgency]",
        "tenant" => "jurisdiction_id",
        f => f,
    }
    .to_string()
}

type R = Result<Response, Open311Error>;

/// The query string's parameters (repeated keys kept in order).
fn params(format: Format, raw: Option<&str>) -> Result<Vec<(String, String)>, Open311Error> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| Open311Error::new(format, StatusCode::BAD_REQUEST, "查询参数格式错误"))
}

fn param<'a>(ps: &'a [(String, String)], key: &str) -> Option<&'a str> {
    ps.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The jurisdiction (tenant); unknown → 404 as the specification says.
async fn jurisdiction(
    app: &AppState,
    format: Format,
    ps: &[(String, String)],
) -> Result<TenantId, Open311Error> {
    let code = param(ps, "jurisdiction_id");
    app.resolve_tenant(code).await.map_err(|e| match (code, e) {
        (Some(_), AppError::Invalid(_)) => Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            "jurisdiction_id: 该辖区不存在",
        ),
        (_, e) => Open311Error::from_app(format, e),
    })
}

/// A valid key of the tenant (optional on reads: it only widens what is shown).
async fn reader(
    app: &AppState,
    format: Format,
    tenant: TenantId,
    ps: &[(String, String)],
) -> Result<Option<Principal>, Open311Error> {
    match param(ps, "api_key") {
        None => Ok(None),
        Some(k) => app
            .key_principal(tenant, k, Scope::Open311)
            .await
            .map(Some)
            .map_err(|e| Open311Error::from_app(format, e)),
    }
}

fn not_found(format: Format) -> Open311Error {
    Open311Error::new(format, StatusCode::NOT_FOUND, "资源不存在")
}

// ---------------------------------------------------------------------------------------------
// Discovery

/// Service discovery: where the GeoReport v2 endpoint is and what it speaks.
#[utoipa::path(get, path = "/open311/discovery.json", tag = "open311",
    responses((status = 200, description = "Discovery document (also `/open311/discovery.xml`)",
        example = json!({"changeset": "2026-11-30T00:00:00+08:00", "contact": "12345 热线中心",
            "key_service": "向热线中心系统管理员申请 api_key（接口范围 open311）",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": "http://127.0.0.1:8080/open311/v2",
                "changeset": "2026-11-30T00:00:00+08:00", "type": "production", "formats": ["text/xml", "application/json"]}]}))))]
pub async fn discovery(
    State(app): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> R {
    let Some(("discovery", format)) = Format::split(&file) else {
        return Err(not_found(if file.ends_with(".xml") {
            Format::Xml
        } else {
            Format::Json
        }));
    };
    let host = super::header_str(&headers, header::HOST).unwrap_or("127.0.0.1");
    let scheme = super::header_str(
        &headers,
        header::HeaderName::from_static("x-forwarded-proto"),
    )
    .filter(|p| *p == "https")
    .unwrap_or("http");
    let contact = match app.resolve_tenant(None).await {
        Ok(t) => app
            .store
            .tenants()
            .await
            .ok()
            .and_then(|ts| ts.into_iter().find(|x| x.id == t).map(|x| x.name)),
        Err(_) => None,
    };
    let changeset = Node::text(CHANGESET);
    let doc = Node::Obj(vec![
        ("changeset", changeset.clone()),
        (
            "contact",
            Node::text(contact.unwrap_or_else(|| "12345 政务服务便民热线".into())),
        ),
        (
            "key_service",
            Node::text("向热线中心系统管理员申请 api_key（接口范围 open311）"),
        ),
        (
            "endpoints",
            Node::List(
                "endpoint",
                vec![Node::Obj(vec![
                    (
                        "specification",
                        Node::text("http://wiki.open311.org/GeoReport_v2"),
                    ),
                    ("url", Node::text(format!("{scheme}://{host}/open311/v2"))),
                    ("changeset", changeset),
                    ("type", Node::text("production")),
                    (
                        "formats",
                        Node::List(
                            "format",
                            vec![Node::text("text/xml"), Node::text("application/json")],
                        ),
                    ),
                ])],
            ),
        ),
    ]);
    Ok(respond(format, StatusCode::OK, "discovery", &doc))
}

// ---------------------------------------------------------------------------------------------
// Services

fn service_node(s: &Service) -> Node {
    Node::Obj(vec![
        ("service_code", Node::text(s.code.clone())),
        ("service_name", Node::text(s.name.clone())),
        ("description", Node::text(s.description.clone())),
        ("metadata", Node::Bool(true)),
        ("type", Node::text("realtime")),
        ("keywords", Node::text(s.keywords.join(","))),
        ("group", Node::text(s.group.clone())),
    ])
}

/// The attributes every service takes (all optional: a plain GeoReport client need not know
/// them).
fn attributes() -> Node {
    fn values(pairs: Vec<(&str, &str)>) -> Node {
        Node::List(
            "value",
            pairs
                .into_iter()
                .map(|(k, n)| Node::Obj(vec![("key", Node::text(k)), ("name", Node::text(n))]))
                .collect(),
        )
    }
    let attr = |order: i64, code: &str, datatype: &str, description: &str, vals: Option<Node>| {
        Node::Obj(vec![
            ("variable", Node::Bool(true)),
            ("code", Node::text(code)),
            ("datatype", Node::text(datatype)),
            ("required", Node::Bool(false)),
            ("datatype_description", Node::Null),
            ("order", Node::Int(order)),
            ("description", Node::text(description)),
            ("values", vals.unwrap_or(Node::List("value", Vec::new()))),
        ])
    };
    Node::List(
        "attribute",
        vec![
            attr(
                1,
                "request_type",
                "singlevaluelist",
                "诉求类型（不填为求助）",
                Some(values(
                    RequestType::ALL
                        .iter()
                        .map(|t| (t.as_str(), t.label()))
                        .collect(),
                )),
            ),
            attr(2, "title", "string", "诉求标题（不填取描述的开头）", None),
            attr(
                3,
                "urgency",
                "singlevaluelist",
                "紧急程度（不填为一般）",
                Some(values(
                    Urgency::ALL
                        .iter()
                        .map(|u| (u.as_str(), u.label()))
                        .collect(),
                )),
            ),
            attr(
                4,
                "confidential",
                "singlevaluelist",
                "是否保密（保密诉求不公开内容和地点）",
                Some(values(vec![("false", "否"), ("true", "是")])),
            ),
        ],
    )
}

/// Services: the hotline's categories.
#[utoipa::path(get, path = "/open311/v2/services.json", tag = "open311",
    params(("jurisdiction_id" = Option<String>, Query, description = "Tenant code; default: the server's")),
    responses((status = 200, description = "Services (also `services.xml`)",
        example = json!([{"service_code": "01.05", "service_name": "市容环境", "description": "城乡建设 > 市容环境",
            "metadata": true, "type": "realtime", "keywords": "垃圾,占道", "group": "城乡建设"}]))))]
pub async fn services(
    State(app): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> R {
    let format = match Format::split(&file) {
        Some(("services", f)) => f,
        Some((_, f)) => return Err(not_found(f)),
        None => return Err(not_found(Format::Json)),
    };
    let ps = params(format, raw.as_deref())?;
    let tenant = jurisdiction(&app, format, &ps).await?;
    let list = app
        .open311_services(tenant)
        .await
        .map_err(|e| Open311Error::from_app(format, e))?;
    let node = Node::List("service", list.iter().map(service_node).collect());
    Ok(respond(format, StatusCode::OK, "services", &node))
}

/// A service's definition: the attributes a request for it may carry.
#[utoipa::path(get, path = "/open311/v2/services/{service_code}.json", tag = "open311",
    params(("service_code" = String, Path), ("jurisdiction_id" = Option<String>, Query)),
    responses((status = 200, description = "Service definition (also `.xml`)"),
        (status = 404, description = "Unknown service_code", example = json!([{"code": 404, "description": "服务（service_code）不存在"}]))))]
pub async fn service_definition(
    State(app): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> R {
    let (code, format) = Format::split(&file).ok_or_else(|| not_found(Format::Json))?;
    let ps = params(format, raw.as_deref())?;
    let tenant = jurisdiction(&app, format, &ps).await?;
    let s = app
        .open311_service(tenant, code)
        .await
        .map_err(|e| Open311Error::from_app(format, e))?;
    let node = Node::Obj(vec![
        ("service_code", Node::text(s.code)),
        ("attributes", attributes()),
    ]);
    Ok(respond(format, StatusCode::OK, "service_definition", &node))
}

// ---------------------------------------------------------------------------------------------
// Requests

fn request_node(v: &RequestView, extensions: bool) -> Node {
    let o = &v.order.order;
    let (lat, long) = match v.coordinates() {
        Some((a, b)) => (Node::Float(a), Node::Float(b)),
        None => (Node::Null, Node::Null),
    };
    let mut fields = vec![
        ("service_request_id", Node::text(o.number.clone())),
        (
            "status",
            Node::text(if v.is_open() { "open" } else { "closed" }),
        ),
        ("status_notes", Node::text(v.status_notes())),
        ("service_name", Node::opt(v.service_name.clone())),
        (
            "service_code",
            Node::opt(o.category.as_ref().map(|c| c.as_str().to_string())),
        ),
        ("description", Node::text(v.description())),
        ("agency_responsible", Node::text(v.agency())),
        ("service_notice", Node::Null),
        ("requested_datetime", Node::text(iso(o.accepted_at))),
        ("updated_datetime", Node::text(iso(o.updated_at))),
        (
            "expected_datetime",
            Node::opt(o.deadlines.reply.as_ref().map(|d| iso(d.due))),
        ),
        ("address", Node::opt(v.address())),
        (
            "address_id",
            Node::opt(
                o.location
                    .region_code
                    .as_ref()
                    .map(|r| r.as_str().to_string()),
            ),
        ),
        ("zipcode", Node::Null),
        ("lat", lat),
        ("long", long),
        (
            "media_url",
            Node::opt(o.source.get("media_url").filter(|_| v.full).cloned()),
        ),
    ];
    if extensions {
        let history = v
            .events
            .iter()
            .flatten()
            .map(|e| {
                let ev = &e.event;
                let description = match (v.full, ev.kind.reason()) {
                    (true, Some(r)) => format!("{}：{r}", ev.kind.label()),
                    _ => ev.kind.label().to_string(),
                };
                Node::Obj(vec![
                    ("at", Node::text(iso(ev.at))),
                    ("status", Node::text(ev.to.as_str())),
                    ("action", Node::text(ev.kind.name())),
                    ("description", Node::text(description)),
                ])
            })
            .collect();
        fields.push((
            "extended_attributes",
            Node::Obj(vec![
                ("jiesu_status", Node::text(o.status.as_str())),
                ("jiesu_status_label", Node::text(o.status.label())),
                (
                    "satisfaction",
                    Node::opt(
                        o.callback
                            .as_ref()
                            .map(|c| c.satisfaction.as_str().to_string()),
                    ),
                ),
                ("history", Node::List("entry", history)),
            ]),
        ));
    }
    Node::Obj(fields)
}

/// A date parameter: ISO 8601 with a zone, or a plain date (China's day).
fn date_param(
    format: Format,
    ps: &[(String, String)],
    key: &str,
    end_of_day: bool,
) -> Result<Option<DateTime<Utc>>, Open311Error> {
    let Some(v) = param(ps, key) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        if let Some(t) = t {
            return Ok(Some(t.and_utc() - chrono::Duration::hours(8)));
        }
    }
    Err(Open311Error::bad(
        format,
        key,
        "应为 ISO 8601 时间（含时区，如 2026-11-30T08:00:00+08:00）或日期 YYYY-MM-DD",
    ))
}

fn extensions_param(ps: &[(String, String)]) -> bool {
    matches!(param(ps, "extensions"), Some("true" | "1"))
}

/// GET requests (`requests.json`/`.xml`) and POST requests.
#[utoipa::path(get, path = "/open311/v2/requests.json", tag = "open311",
    params(
        ("service_request_id" = Option<String>, Query, description = "Comma-separated; overrides every other filter"),
        ("service_code" = Option<String>, Query, description = "Comma-separated service codes"),
        ("start_date" = Option<String>, Query, description = "ISO 8601 with zone (or YYYY-MM-DD)"),
        ("end_date" = Option<String>, Query, description = "ISO 8601 with zone (or YYYY-MM-DD, inclusive)"),
        ("status" = Option<String>, Query, description = "open, closed or open,closed"),
        ("extensions" = Option<bool>, Query, description = "Jiesu extension: add `extended_attributes` (lifecycle state, satisfaction, history)"),
        ("api_key" = Option<String>, Query, description = "With a valid key: full address, coordinates and text"),
        ("jurisdiction_id" = Option<String>, Query)),
    responses((status = 200, description = "Requests, newest first: at most 1000, by default of the last 90 days",
        example = json!([{"service_request_id": "202611300001", "status": "open", "status_notes": "办理中",
            "service_name": "市容环境", "service_code": "01.05", "description": "小区门口垃圾三天没人清运",
            "agency_responsible": "A3区城市管理局", "service_notice": null,
            "requested_datetime": "2026-11-30T09:12:03+08:00", "updated_datetime": "2026-11-30T10:02:11+08:00",
            "expected_datetime": "2026-12-07T17:30:00+08:00", "address": "A3区洋湖街道", "address_id": "990103001",
            "zipcode": null, "lat": null, "long": null, "media_url": null}])),
        (status = 400, description = "Bad filter", example = json!([{"code": 400, "description": "start_date: 应为 ISO 8601 时间"}]))))]
pub async fn requests_get(
    State(app): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> R {
    let format = match Format::split(&file) {
        Some(("requests", f)) => f,
        Some((_, f)) => return Err(not_found(f)),
        None => return Err(not_found(Format::Json)),
    };
    let ps = params(format, raw.as_deref())?;
    let tenant = jurisdiction(&app, format, &ps).await?;
    let key = reader(&app, format, tenant, &ps).await?;
    let list = |key: &str| -> Vec<String> {
        param(&ps, key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let ids = list("service_request_id");
    if ids.len() > MAX_IDS {
        return Err(Open311Error::bad(
            format,
            "service_request_id",
            &format!("一次最多查询 {MAX_IDS} 个"),
        ));
    }
    let mut open = None;
    for s in list("status") {
        let this = match s.as_str() {
            "open" => true,
            "closed" => false,
            _ => {
                return Err(Open311Error::bad(
                    format,
                    "status",
                    "应为 open、closed 或 open,closed",
                ));
            }
        };
        open = match open {
            None => Some(Some(this)),
            Some(Some(o)) if o != this => Some(None),
            o => o,
        };
    }
    let q = RequestsQuery {
        ids,
        service_codes: list("service_code"),
        start: date_param(format, &ps, "start_date", false)?,
        end: date_param(format, &ps, "end_date", true)?,
        open: open.flatten(),
    };
    if let (Some(s), Some(e)) = (q.start, q.end)
        && s > e
    {
        return Err(Open311Error::bad(format, "end_date", "不能早于 start_date"));
    }
    let extensions = extensions_param(&ps);
    let views = app
        .open311_requests(tenant, &q, key.is_some(), extensions)
        .await
        .map_err(|e| Open311Error::from_app(format, e))?;
    let node = Node::List(
        "request",
        views.iter().map(|v| request_node(v, extensions)).collect(),
    );
    Ok(respond(format, StatusCode::OK, "service_requests", &node))
}

/// One request.
#[utoipa::path(get, path = "/open311/v2/requests/{service_request_id}.json", tag = "open311",
    params(("service_request_id" = String, Path), ("extensions" = Option<bool>, Query), ("api_key" = Option<String>, Query), ("jurisdiction_id" = Option<String>, Query)),
    responses((status = 200, description = "A list holding the one request (also `.xml`)"),
        (status = 404, description = "Unknown id", example = json!([{"code": 404, "description": "服务请求（service_request_id）不存在"}]))))]
pub async fn request_get(
    State(app): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> R {
    let (id, format) = Format::split(&file).ok_or_else(|| not_found(Format::Json))?;
    let ps = params(format, raw.as_deref())?;
    let tenant = jurisdiction(&app, format, &ps).await?;
    let key = reader(&app, format, tenant, &ps).await?;
    let extensions = extensions_param(&ps);
    let v = app
        .open311_request(tenant, id, key.is_some(), extensions)
        .await
        .map_err(|e| Open311Error::from_app(format, e))?;
    let node = Node::List("request", vec![request_node(&v, extensions)]);
    Ok(respond(format, StatusCode::OK, "service_requests", &node))
}

/// The request a token stands for.
#[utoipa::path(get, path = "/open311/v2/tokens/{token}.json", tag = "open311",
    params(("token" = String, Path), ("jurisdiction_id" = Option<String>, Query)),
    responses((status = 200, description = "The request id for the token (also `.xml`)",
        example = json!([{"service_request_id": "202611300001", "token": "r5f0c…"}])),
        (status = 404, description = "Unknown token")))]
pub async fn token_get(
    State(app): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> R {
    let (token, format) = Format::split(&file).ok_or_else(|| not_found(Format::Json))?;
    let ps = params(format, raw.as_deref())?;
    let tenant = jurisdiction(&app, format, &ps).await?;
    let order = app
        .open311_by_token(tenant, token)
        .await
        .map_err(|e| Open311Error::from_app(format, e))?
        .ok_or_else(|| Open311Error::new(format, StatusCode::NOT_FOUND, "token 不存在"))?;
    let node = Node::List(
        "request",
        vec![Node::Obj(vec![
            ("service_request_id", Node::text(order.order.number)),
            ("token", Node::text(token)),
        ])],
    );
    Ok(respond(format, StatusCode::OK, "service_requests", &node))
}

/// A posted form body (`application/x-www-form-urlencoded`) as an order request, read as
/// `POST /open311/v2/requests` reads it before it looks anything up: what the fuzz target
/// `open311_form` drives. `None` for a body the endpoint refuses.
pub fn form_request(body: &str) -> Option<CreateOrderRequest> {
    let ps = params(Format::Json, Some(body)).ok()?;
    let code = param(&ps, "service_code")?;
    order_from_form(Format::Json, &ps, code).ok()
}

/// The posted form as an order request, checked by the same rules as every other channel.
fn order_from_form(
    format: Format,
    ps: &[(String, String)],
    service_code: &str,
) -> Result<CreateOrderRequest, Open311Error> {
    let mut attrs: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in ps {
        if let Some(code) = k.strip_prefix("attribute[") {
            let code = code.trim_end_matches("[]").trim_end_matches(']');
            let known = ["request_type", "title", "urgency", "confidential"];
            if !known.contains(&code) {
                return Err(Open311Error::bad(
                    format,
                    k,
                    &format!("未知属性，可用：{}", known.join(", ")),
                ));
            }
            if !v.trim().is_empty() {
                attrs.insert(code, v.trim());
            }
        }
    }
    let number = |key: &str| -> Result<Option<f64>, Open311Error> {
        param(ps, key)
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| Open311Error::bad(format, key, "应为数字（WGS84 十进制度）"))
            })
            .transpose()
    };
    let lat = number("lat")?;
    let lng = number("long")?;
    if lat.is_some() != lng.is_some() {
        return Err(Open311Error::bad(
            format,
            if lat.is_some() { "long" } else { "lat" },
            "lat 与 long 须同时提供",
        ));
    }
    let address = param(ps, "address_string").map(String::from);
    let region = param(ps, "address_id").map(String::from);
    if lat.is_none() && address.is_none() && region.is_none() {
        return Err(Open311Error::bad(
            format,
            "lat",
            "须提供位置：lat 和 long，或 address_string，或 address_id",
        ));
    }
    let description = param(ps, "description")
        .ok_or_else(|| Open311Error::bad(format, "description", "请填写诉求内容"))?;
    let name = match (param(ps, "last_name"), param(ps, "first_name")) {
        (None, None) => None,
        (l, f) => Some(format!("{}{}", l.unwrap_or(""), f.unwrap_or(""))),
    };
    let phone = param(ps, "phone").map(String::from);
    let confidential = match attrs.get("confidential").copied() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Open311Error::bad(
                format,
                "attribute[confidential]",
                "应为 true 或 false",
            ));
        }
    };
    let anonymous = name.is_none() && phone.is_none();
    Ok(CreateOrderRequest {
        channel: "open311".into(),
        request_type: attrs.get("request_type").unwrap_or(&"help").to_string(),
        category: Some(service_code.to_string()),
        title: attrs.get("title").map(|s| s.to_string()),
        content: description.to_string(),
        citizen: Some(CitizenInput {
            name,
            phone,
            id_number: None,
            anonymous,
        }),
        address,
        region_code: region,
        lat,
        lng,
        urgency: attrs.get("urgency").map(|s| s.to_string()),
        flags: Some(FlagsInput {
            emergency: None,
            complex: None,
            repeat: None,
            confidential: Some(confidential),
            needs_contact: None,
        }),
        external_ref: None,
        instant_answer: None,
    })
}

/// POST a request: form-encoded, with the system's `api_key`.
#[utoipa::path(post, path = "/open311/v2/requests.json", tag = "open311",
    request_body(content_type = "application/x-www-form-urlencoded",
        description = "api_key, service_code, lat+long | address_string | address_id, description, attribute[request_type|title|urgency|confidential], first_name, last_name, phone, email, device_id, account_id, media_url; header Idempotency-Key makes a retry safe"),
    responses((status = 200, description = "Accepted (also `requests.xml`)",
        example = json!([{"service_request_id": "202611300001", "service_notice": "已受理，工单编号 202611300001，中心将按规定时限分派办理", "account_id": null}])),
        (status = 404, description = "Unknown service_code", example = json!([{"code": 404, "description": "service_code: 该服务不存在"}])),
        (status = 400, description = "Missing or invalid parameter", example = json!([{"code": 400, "description": "service_code: 请选择服务"}])),
        (status = 403, description = "api_key missing or invalid", example = json!([{"code": 403, "description": "api_key 无效或已失效"}]))))]
pub async fn requests_post(
    State(app): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let format = match Format::split(&file) {
        Some(("requests", f)) => f,
        Some((_, f)) => return Err(not_found(f)),
        None => return Err(not_found(Format::Json)),
    };
    let ctype = super::header_str(&headers, header::CONTENT_TYPE).unwrap_or("");
    if !ctype.starts_with("application/x-www-form-urlencoded") {
        return Err(Open311Error::new(
            format,
            StatusCode::BAD_REQUEST,
            "请求体须为表单编码（application/x-www-form-urlencoded）",
        ));
    }
    let body = std::str::from_utf8(&body)
        .map_err(|_| Open311Error::new(format, StatusCode::BAD_REQUEST, "请求体须为 UTF-8"))?;
    let mut ps = params(format, raw.as_deref())?;
    ps.extend(params(format, Some(body))?);
    let tenant = jurisdiction(&app, format, &ps).await?;
    let key = param(&ps, "api_key")
        .ok_or_else(|| Open311Error::new(format, StatusCode::FORBIDDEN, "api_key: 缺少 api_key"))?;
    let p = app
        .key_principal(tenant, key, Scope::Open311)
        .await
        .map_err(|e| Open311Error::from_app(format, e))?;
    let code = param(&ps, "service_code")
        .ok_or_else(|| Open311Error::bad(format, "service_code", "请选择服务"))?;
    if app.open311_service(tenant, code).await.is_err() {
        // The specification's POST errors: "service_code … was not found" is a 404.
        return Err(Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            "service_code: 该服务不存在，请从 services 列表中选择",
        ));
    }
    let (mut new, _) = order_from_form(format, &ps, code)?
        .parse()
        .map_err(|f| Open311Error::from_app(format, AppError::Invalid(f)))?;
    for k in ["email", "device_id", "account_id", "media_url"] {
        if let Some(v) = param(&ps, k) {
            if v.chars().count() > 500 {
                return Err(Open311Error::bad(format, k, "不能超过 500 个字符"));
            }
            new.source.insert(k.to_string(), v.to_string());
        }
    }
    let idem = super::header_str(&headers, header::HeaderName::from_static("idempotency-key"))
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200);
    let (order, _token) = app
        .open311_submit(&p, new, idem)
        .await
        .map_err(|e| Open311Error::from_app(format, e))?;
    // Realtime: the id at once, and (as the specification asks) not also a token.
    let node = Node::List(
        "request",
        vec![Node::Obj(vec![
            ("service_request_id", Node::text(order.order.number.clone())),
            (
                "service_notice",
                Node::text(format!(
                    "已受理，工单编号 {}，中心将按规定时限分派办理",
                    order.order.number
                )),
            ),
            (
                "account_id",
                Node::opt(order.order.source.get("account_id").cloned()),
            ),
        ])],
    );
    Ok(respond(format, StatusCode::OK, "service_requests", &node))
}

/// The Open311 routes (outside `/api`: their paths are the specification's).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/{file}", get(discovery))
        .route("/open311/v2/{file}", get(dispatch_get).post(requests_post))
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(request_get))
        .route("/open311/v2/tokens/{file}", get(token_get))
}

/// `services.*` and `requests.*` share the path level.
async fn dispatch_get(state: State<AppState>, Path(file): Path<String>, raw: RawQuery) -> R {
    if file.starts_with("services.") {
        services(state, Path(file), raw).await
    } else {
        requests_get(state, Path(file), raw).await
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    discovery,
    services,
    service_definition,
    requests_get,
    request_get,
    token_get,
    requests_post
))]
pub struct Open311Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_xml_are_written_from_one_tree() {
        let n = Node::List(
            "request",
            vec![Node::Obj(vec![
                ("service_request_id", Node::text("2026<1>")),
                ("lat", Node::Float(39.5)),
                ("zipcode", Node::Null),
                ("metadata", Node::Bool(true)),
            ])],
        );
        assert_eq!(
            serde_json::to_string(&n).unwrap_or_default(),
            r#"[{"service_request_id":"2026<1>","lat":39.5,"zipcode":null,"metadata":true}]"#
        );
        let mut x = String::new();
        write_xml(&mut x, "service_requests", &n);
        assert_eq!(
            x,
            "<service_requests><request><service_request_id>2026&lt;1&gt;</service_request_id><lat>39.5</lat><zipcode/><metadata>true</metadata></request></service_requests>"
        );
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        let mut x = String::new();
        xml_escape(&mut x, "a\u{1}b&\n");
        assert_eq!(x, "ab&amp;\n");
    }

    #[test]
    fn the_format_is_the_extension() {
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("2026.1.xml"), Some(("2026.1", Format::Xml)));
        assert_eq!(Format::split("services.csv"), None);
        assert_eq!(Format::split(".json"), None);
    }

    #[test]
    fn times_carry_china_offset() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T01:02:03Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(iso(t), "2026-11-30T09:02:03+08:00");
    }
}
