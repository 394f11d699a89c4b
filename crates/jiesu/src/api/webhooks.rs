//! Webhook subscriptions and their delivery log (admin).

use super::auth::AuthUser;
use super::{ApiJson, ApiResult, AppState, ErrorBody};
use crate::app::webhooks::{WebhookInput, event_kinds};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// Event kinds it receives; empty: all.
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
}

#[derive(Serialize, ToSchema)]
pub struct WebhooksResponse {
    pub items: Vec<WebhookDto>,
    /// The event kinds a subscription may name.
    pub event_kinds: Vec<&'static str>,
}

/// Subscriptions to order events (admin).
#[utoipa::path(get, path = "/api/webhooks", tag = "admin",
    responses((status = 200, body = WebhooksResponse), (status = 403, body = ErrorBody)))]
async fn list_webhooks(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<WebhooksResponse>> {
    let cap = p.as_admin()?;
    let items = app
        .webhooks(&cap)
        .await?
        .into_iter()
        .map(|(h, counts)| {
            let n = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
            WebhookDto {
                pending: n("pending"),
                delivered: n("delivered"),
                dead: n("dead"),
                id: h.id,
                name: h.name,
                url: h.url,
                events: h.events,
                active: h.active,
                created_at: h.created_at,
            }
        })
        .collect();
    Ok(Json(WebhooksResponse {
        items,
        event_kinds: event_kinds().to_vec(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "区网格化平台", "url": "https://grid.example.gov.cn/jiesu/events", "events": ["dispatched", "replied"]}))]
pub struct CreateWebhookRequest {
    pub name: String,
    /// Receives `POST` with the event as JSON; headers `X-Jiesu-Event`, `X-Jiesu-Event-Id`
    /// (the same on every retry: dedup on it), `X-Jiesu-Delivery` and
    /// `X-Jiesu-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
    pub url: String,
    /// Event kinds (see `event_kinds`); omitted or empty: every event.
    #[serde(default)]
    pub events: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreateWebhookResponse {
    pub id: i64,
    /// The signing secret, shown once.
    pub secret: String,
}

/// Subscribe an endpoint to order events (admin). 2xx within the timeout counts as
/// delivered; anything else is retried with exponential back-off.
#[utoipa::path(post, path = "/api/webhooks", tag = "admin", request_body = CreateWebhookRequest,
    responses((status = 201, body = CreateWebhookResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_webhook(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, Json<CreateWebhookResponse>)> {
    let cap = p.as_admin()?;
    let (id, secret) = app
        .create_webhook(
            &cap,
            WebhookInput {
                name: r.name,
                url: r.url,
                events: r.events,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateWebhookResponse { id, secret }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveRequest {
    pub active: bool,
}

/// Pause or resume a subscription (admin); paused, its events wait and go out on resuming.
#[utoipa::path(put, path = "/api/webhooks/{id}/active", tag = "admin", params(("id" = i64, Path)),
    request_body = ActiveRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_active(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<ActiveRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.set_webhook_active(&cap, id, r.active).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    /// pending, delivered or dead
    pub status: Option<String>,
    /// Only deliveries older than this id (paging).
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: i64,
    pub order_id: i64,
    pub seq: u32,
    pub event_type: String,
    pub status: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveriesResponse {
    pub items: Vec<DeliveryDto>,
}

/// The delivery log of a subscription, newest first (admin).
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "admin",
    params(("id" = i64, Path), DeliveriesQuery),
    responses((status = 200, body = DeliveriesResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn deliveries(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<DeliveriesResponse>> {
    let cap = p.as_admin()?;
    let rows = app
        .webhook_deliveries(
            &cap,
            id,
            q.status.as_deref(),
            q.before,
            q.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(DeliveriesResponse {
        items: rows
            .into_iter()
            .map(|d| DeliveryDto {
                id: d.id,
                order_id: d.order_id,
                seq: d.seq,
                event_type: d.event_type,
                status: d.status,
                attempts: d.attempts,
                next_at: d.next_at,
                created_at: d.created_at,
                delivered_at: d.delivered_at,
                last_status: d.last_status,
                last_error: d.last_error,
            })
            .collect(),
    }))
}

/// Send a dead delivery again (admin), once its receiver is fixed.
#[utoipa::path(post, path = "/api/webhooks/deliveries/{id}/retry", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn retry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.retry_delivery(&cap, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct NotificationsQuery {
    pub order_id: Option<i64>,
    /// pending, sent or failed
    pub status: Option<String>,
    /// Only notifications older than this id (paging).
    pub before: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationsResponse {
    /// Newest first; `recipient` is the phone masked, or `unit:<id>`; `channel` sms (to the
    /// citizen) or wechat (a unit's work account); `template` accepted, closed, dispatched,
    /// reminder, overdue or supervised; `status` pending, sent or failed; `adapter` the one
    /// that sent it (`log` by default).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<jiesu_store::webhooks::MessageRow>,
}

/// The outbound message log (admin): SMS to citizens on acceptance and closure, work messages to
/// units on dispatch, deadline reminders, overdue marks and supervision notices.
#[utoipa::path(get, path = "/api/messages", tag = "admin", params(NotificationsQuery),
    responses((status = 200, body = NotificationsResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn notifications(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Query(q): Query<NotificationsQuery>,
) -> ApiResult<Json<NotificationsResponse>> {
    let cap = p.as_admin()?;
    let items = app
        .notification_log(
            &cap,
            q.order_id.map(jiesu_core::OrderId),
            q.status.as_deref(),
            q.before,
            q.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(NotificationsResponse { items }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(notifications))
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(set_active))
        .routes(routes!(deliveries))
        .routes(routes!(retry))
}
