//! The JSON API: authenticate, authorise, parse into typed commands, call `app`, answer.
//! Errors are answered in one shape: `{"error": {"code", "message", "field"}}`.

pub mod admin;
pub mod auth;
pub mod dispatch;
pub mod dto;
pub mod files;
pub mod insight;
pub mod kb;
pub mod metrics;
pub mod open311;
pub mod orders;
pub mod portal;
pub mod search;
pub mod stats;
pub mod telephony;
pub mod time;
pub mod transfers;
pub mod ui;
pub mod webhooks;

use crate::app::{App, AppError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub type AppState = Arc<App>;

/// The error answer of every endpoint.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_input`, `state_conflict`.
    pub code: &'static str,
    /// What went wrong, for people (Simplified Chinese).
    pub message: String,
    /// The request field at fault, where there is one.
    pub field: Option<String>,
}

/// An API error: an `AppError` or a malformed request.
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    Malformed {
        field: Option<String>,
        message: String,
    },
    UnsupportedMedia,
    /// A body over the route's limit.
    BodyTooLarge,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

impl From<jiesu_core::FieldError> for ApiError {
    fn from(e: jiesu_core::FieldError) -> Self {
        ApiError::App(AppError::Invalid(e))
    }
}

impl From<jiesu_core::DomainError> for ApiError {
    fn from(e: jiesu_core::DomainError) -> Self {
        ApiError::App(e.into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field) = match self {
            ApiError::Malformed { field, message } => {
                (StatusCode::BAD_REQUEST, "malformed_request", message, field)
            }
            ApiError::UnsupportedMedia => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请求体须为 JSON（Content-Type: application/json）".to_string(),
                None,
            ),
            ApiError::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "请求体过大".to_string(),
                None,
            ),
            ApiError::App(e) => match e {
                AppError::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    e.to_string(),
                    None,
                ),
                AppError::BadCredentials => (
                    StatusCode::UNAUTHORIZED,
                    "bad_credentials",
                    e.to_string(),
                    None,
                ),
                AppError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m, None),
                AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", e.to_string(), None),
                AppError::Invalid(f) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    f.message,
                    Some(f.field),
                ),
                AppError::Conflict(m) => (StatusCode::CONFLICT, "state_conflict", m, None),
                AppError::Calendar(m) => (StatusCode::CONFLICT, "calendar_not_covered", m, None),
                AppError::TooMany(m) => {
                    (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", m, None)
                }
                AppError::TooLarge(m) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    m,
                    Some("file".into()),
                ),
                AppError::UnsupportedType(m) => (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_file_type",
                    m,
                    Some("file".into()),
                ),
                AppError::Unavailable(u) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    match u {
                        jiesu_store::Unavailable::Full => "storage_full",
                        jiesu_store::Unavailable::Busy => "database_busy",
                        jiesu_store::Unavailable::ReadOnly => "database_read_only",
                    },
                    e.to_string(),
                    None,
                ),
                AppError::Internal(detail) => {
                    tracing::error!(%detail, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "服务器内部错误，请稍后重试".to_string(),
                        None,
                    )
                }
            },
        };
        let mut r = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code,
                    message,
                    field,
                },
            }),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
        }
        r
    }
}

/// The address a request came from: the peer, or, when the peer is one of the configured
/// `trusted_proxies`, the last address in `X-Forwarded-For` that is not a trusted proxy.
/// `None` when the server was not started with peer addresses (tests calling the router).
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(peer.map(|p| {
            forwarded_client(p, &parts.headers, &app.config.trusted_proxy_addrs())
        })))
    }
}

/// See [`ClientIp`]: walks `X-Forwarded-For` from the right (the entries the trusted proxies
/// appended) to the first address that is not a trusted proxy.
fn forwarded_client(
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            // A forged or garbled entry: the last good hop answers for it.
            Err(_) => return client,
        }
    }
    client
}

/// A JSON body whose errors name the field: syntax errors are 400, a missing, unknown or
/// mistyped field is 422 with its path.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMedia);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge
            } else {
                ApiError::Malformed {
                    field: None,
                    message: format!("无法读取请求体：{e}"),
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::Malformed {
                field: None,
                message: format!("JSON 格式错误：{inner}"),
            };
        }
        let msg = inner.to_string();
        // A missing field is named in backticks and the path is its parent; an unknown
        // field's path already ends with it.
        let named = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("missing field"));
        let field = match (named, path.as_str()) {
            (Some(n), "." | "") => n.to_string(),
            (Some(n), p) => format!("{p}.{n}"),
            (None, p) => p.trim_start_matches('.').to_string(),
        };
        let message = if msg.starts_with("missing field") {
            "缺少必填字段".to_string()
        } else if msg.starts_with("unknown field") {
            "未知字段".to_string()
        } else {
            format!(
                "字段类型或取值错误：{}",
                msg.split(" at line").next().unwrap_or(&msg)
            )
        };
        ApiError::App(AppError::invalid(field, message))
    })
}

/// A query string, or a 422 naming the parameter at fault.
pub fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<T> {
    let axum::extract::Query(q) = q.map_err(|e| {
        // "Failed to deserialize query string: limit: invalid digit…" or "…unknown field `x`…"
        let text = e.body_text();
        let detail = text.split("query string: ").nth(1).unwrap_or(&text);
        let field = match detail.split('`').nth(1) {
            Some(name) if detail.starts_with("unknown field") => name,
            _ => detail.split(':').next().unwrap_or("query"),
        };
        ApiError::from(AppError::invalid(
            field.trim(),
            format!("查询参数取值无效：{detail}"),
        ))
    })?;
    Ok(q)
}

/// Request ids: a counter per process, short and readable in logs.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:x}-{n}", std::process::id()))
            .ok()
            .map(RequestId::new)
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::app::auth::SESSION_COOKIE,
            ))),
        );
        c.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("jst_…")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jiesu 接诉即办 API",
        description = "Work orders of a 12345 government service hotline: accept, dispatch, handle, reply, call back, close. \
Authenticate with `POST /api/auth/login` (session cookie) or `Authorization: Bearer jst_…` (API token). \
Errors: `{\"error\": {\"code\", \"message\", \"field\"}}` with 400 (malformed JSON), 401, 403, 404, 409 (the order's state does not allow the command), 415, 422 (a field is invalid; `field` names it).",
    ),
    modifiers(&Security),
    security(("session" = []), ("token" = [])),
    tags(
        (name = "orders", description = "工单与流转"),
        (name = "auth", description = "登录与会话"),
        (name = "admin", description = "组织、用户、分类、区划、令牌"),
        (name = "deadlines", description = "办理时限、工作日历、到期提醒"),
        (name = "knowledge", description = "知识库：条目、审核发布、检索、导入导出、同义词"),
        (name = "portal", description = "市民门户（无需登录）：提交诉求、查询进度、满意度评价"),
        (name = "dispatch", description = "智能派单：派单目录、派单建议（分类、区域、承办单位）与建议准确率"),
        (name = "insight", description = "研判分析：热点、预警、同比趋势、疑似重复工单"),
        (name = "stats", description = "统计：响应率、办结率、按期办结率、解决率、满意率、即答率、回访率及其明细工单"),
        (name = "transfer", description = "平台转办：110、公共事业热线、网格平台与其他热线平台之间的工单转办、回执与状态同步"),
        (name = "telephony", description = "话务对接：通话事件、接通率与应答时长、漏话回拨"),
        (name = "system", description = "健康检查"),
    )
)]
struct ApiDoc;

/// Health: 200 when the database answers.
#[utoipa::path(get, path = "/api/health", tag = "system", security(()), responses((status = 200, description = "healthy"), (status = 503, description = "database unavailable")))]
async fn health(axum::extract::State(app): axum::extract::State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Liveness: 200 while the process serves requests (restart the node when this fails).
#[utoipa::path(get, path = "/api/health/live", tag = "system", security(()), responses((status = 200, description = "alive")))]
async fn live() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Readiness: 200 when the node should get traffic — the database answers and the node is
/// not shutting down; 503 with `status` `draining` or `database_unavailable` otherwise.
#[utoipa::path(get, path = "/api/health/ready", tag = "system", security(()), responses((status = 200, description = "ready"), (status = 503, description = "draining or database unavailable")))]
async fn ready(axum::extract::State(app): axum::extract::State<AppState>) -> Response {
    let unavailable = |status: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": status})),
        )
            .into_response()
    };
    if app.draining.load(Ordering::SeqCst) {
        return unavailable("draining");
    }
    match app.store.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            unavailable("database_unavailable")
        }
    }
}

/// The whole HTTP application.
pub fn router(app: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(utoipa_axum::routes!(health))
        .routes(utoipa_axum::routes!(live))
        .routes(utoipa_axum::routes!(ready))
        .merge(auth::router())
        .merge(orders::router())
        .merge(admin::router())
        .merge(time::router())
        .merge(files::router(app.config.attachment_limit_mib))
        .merge(portal::router())
        .merge(kb::router())
        .merge(search::router())
        .merge(dispatch::router())
        .merge(insight::router())
        .merge(stats::router())
        .merge(webhooks::router())
        .merge(telephony::router())
        .merge(transfers::router())
        .split_for_parts();
    let mut openapi = openapi;
    openapi.merge(<open311::Open311Doc as utoipa::OpenApi>::openapi());
    let body_limit = app.config.body_limit_kib * 1024;
    // The outer cap lets an upload through; each extractor applies its route's own limit.
    let upload_limit =
        (app.config.attachment_limit_mib * 1024 * 1024 + 64 * 1024).max(kb::IMPORT_LIMIT);
    let openapi_json = Arc::new(openapi.clone());
    let metrics = Arc::new(metrics::Metrics::new());
    Router::new()
        .merge(api)
        .merge(open311::router())
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = openapi_json.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .merge(SwaggerUi::new("/api/docs").config(utoipa_swagger_ui::Config::new(["/api/openapi.json"])))
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async {
                ApiError::App(AppError::NotFound("接口")).into_response()
            }),
        )
        // Every route above is counted and timed under its pattern (not its path).
        .route_layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            metrics::track,
        ))
        .route(
            "/metrics",
            get(metrics::scrape).with_state((app.clone(), metrics)),
        )
        .fallback(
            get(ui::serve).layer(tower_http::compression::CompressionLayer::new()),
        )
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            body_limit.max(upload_limit),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(Counter::default()))
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::App(AppError::Internal("handler panicked".into())).into_response()
        }))
        .with_state(app)
}

/// A header value as text, if present and readable.
pub fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod client_ip_tests {
    use super::forwarded_client;
    use axum::http::HeaderMap;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "198.51.100.9".parse().unwrap());
        // Not a trusted proxy: the header is anyone's to forge.
        assert_eq!(
            forwarded_client(ip("203.0.113.5"), &h, &[]),
            ip("203.0.113.5")
        );
        let lb = [ip("10.0.0.2"), ip("10.0.0.3")];
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &h, &lb),
            ip("198.51.100.9")
        );
        // The client forged an entry in front; the proxies appended the real one and their own.
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 198.51.100.9".parse().unwrap());
        h.append("x-forwarded-for", "10.0.0.3".parse().unwrap());
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &h, &lb),
            ip("198.51.100.9")
        );
        // Garbage where the client should be: the last proxy answers for it.
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "not-an-ip, 10.0.0.3".parse().unwrap());
        assert_eq!(forwarded_client(ip("10.0.0.2"), &h, &lb), ip("10.0.0.3"));
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &HeaderMap::new(), &lb),
            ip("10.0.0.2")
        );
    }
}
