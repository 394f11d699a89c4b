//! Transfers between platforms: the peers (admin), one-click transfer of an order (agents,
//! dispatchers), and the interface other platforms call: inbound orders and status reports.

use super::auth::{AuthUser, interface_principal};
use super::dto::{CreateOrderRequest, OrderDto};
use super::{ApiJson, ApiResult, AppState, ErrorBody, header_str};
use crate::app::AppError;
use crate::app::transfers::{InboundAck, PeerInput, StatusReport};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use jiesu_core::OrderId;
use jiesu_core::role::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct PeerDto {
    pub id: i64,
    /// The other platform's code; its requests name it in `from`.
    pub code: String,
    pub name: String,
    /// police_110, utility, grid or hotline
    pub kind: String,
    pub kind_label: String,
    /// Base URL of its transfer interface (shown to admins only).
    pub url: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct PeersResponse {
    pub items: Vec<PeerDto>,
}

/// The platforms this centre exchanges orders with (admins; agents and dispatchers see the
/// active ones, for the transfer button).
#[utoipa::path(get, path = "/api/transfer/peers", tag = "transfer",
    responses((status = 200, body = PeersResponse), (status = 403, body = ErrorBody)))]
async fn list_peers(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<PeersResponse>> {
    let admin = p.as_admin().is_ok();
    let items = app
        .peers(&p)
        .await?
        .into_iter()
        .filter(|x| admin || x.active)
        .map(|x| PeerDto {
            kind_label: jiesu_core::order::PeerKind::parse("kind", &x.kind)
                .map(|k| k.label().to_string())
                .unwrap_or_default(),
            id: x.id,
            code: x.code,
            name: x.name,
            kind: x.kind,
            url: admin.then_some(x.url),
            active: x.active,
            created_at: x.created_at,
        })
        .collect();
    Ok(Json(PeersResponse { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "ordos-110", "name": "市公安局110指挥中心", "kind": "police_110", "url": "https://110.example.gov.cn", "token": "jst_…"}))]
pub struct CreatePeerRequest {
    /// The other platform's code (letters, digits, `-_.`); it sends it as `from`.
    pub code: String,
    pub name: String,
    /// police_110, utility, grid or hotline
    pub kind: String,
    /// Base URL of its transfer interface: we POST to `{url}/api/transfer/inbound` and
    /// `{url}/api/transfer/status`.
    pub url: String,
    /// The bearer token it issued to us.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedId {
    pub id: i64,
}

/// Register a platform (admin).
#[utoipa::path(post, path = "/api/transfer/peers", tag = "transfer", request_body = CreatePeerRequest,
    responses((status = 201, body = CreatedId), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_peer(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<CreatePeerRequest>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let cap = p.as_admin()?;
    let id = app
        .create_peer(
            &cap,
            PeerInput {
                code: r.code,
                name: r.name,
                kind: r.kind,
                url: r.url,
                token: r.token,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedId { id })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerActiveRequest {
    pub active: bool,
}

/// Pause or resume a platform (admin): paused, nothing is sent to it or taken from it.
#[utoipa::path(put, path = "/api/transfer/peers/{id}/active", tag = "transfer", params(("id" = i64, Path)),
    request_body = PeerActiveRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_peer_active(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<PeerActiveRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.set_peer_active(&cap, id, r.active).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"peer_id": 1, "reason": "涉及人身安全，请110立即处置", "close_on_accept": false}))]
pub struct TransferRequest {
    pub peer_id: i64,
    pub reason: String,
    /// Close the order as transferred (转办结) once the platform accepts it (default); false
    /// keeps it here for dispatch as well (e.g. 110 acts first, units follow).
    pub close_on_accept: Option<bool>,
}

/// 一键转办: transfer an order waiting for dispatch to another platform (agents, dispatchers).
/// An emergency (突发) must go to 110 first. The platform's answer and its later reports
/// arrive in the order's history.
#[utoipa::path(post, path = "/api/orders/{id}/transfer", tag = "transfer", params(("id" = i64, Path)),
    request_body = TransferRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn transfer(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<TransferRequest>,
) -> ApiResult<Json<OrderDto>> {
    let v = app
        .transfer_order(
            &p,
            OrderId(id),
            r.peer_id,
            r.reason,
            r.close_on_accept.unwrap_or(true),
        )
        .await?;
    Ok(Json(OrderDto::of(&v, Utc::now())))
}

#[derive(Serialize, ToSchema)]
pub struct TransferDto {
    pub id: i64,
    pub peer_id: i64,
    pub peer: String,
    /// out (we sent it) or in (it came to us)
    pub direction: String,
    pub key: String,
    /// out: pending, accepted, rejected, failed; in: accepted (closed once its finished
    /// order has been reported back)
    pub state: String,
    /// The other platform's number for the order.
    pub remote_ref: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// in: the last version of the order reported back.
    pub synced_seq: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct TransfersResponse {
    pub items: Vec<TransferDto>,
}

/// The transfers of an order, either way, with their delivery state.
#[utoipa::path(get, path = "/api/orders/{id}/transfers", tag = "transfer", params(("id" = i64, Path)),
    responses((status = 200, body = TransfersResponse), (status = 404, body = ErrorBody)))]
async fn order_transfers(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<TransfersResponse>> {
    let items = app
        .order_transfers(&p, OrderId(id))
        .await?
        .into_iter()
        .map(|(t, peer)| TransferDto {
            id: t.id,
            peer_id: t.peer_id,
            peer,
            direction: t.direction,
            key: t.key,
            state: t.state,
            remote_ref: t.remote_ref,
            attempts: t.attempts,
            last_error: t.last_error,
            synced_seq: t.synced_seq,
            created_at: t.created_at,
        })
        .collect();
    Ok(Json(TransfersResponse { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "ordos-110", "key": "110-20261201-0042", "remote_ref": "J2026120100042", "reason": "非警务类求助，转12345办理",
    "order": {"channel": "police_110", "request_type": "help", "content": "小区内路灯连续三晚不亮，老人夜间出行不便。", "citizen": {"name": "王女士", "phone": "13800138000"}, "address": "A市A3区洋湖街道某小区"}}))]
pub struct InboundRequest {
    /// Our code for the sending platform (a registered peer).
    pub from: String,
    /// The sender's id of this transfer; a resend with the same key returns the same order.
    /// The `Idempotency-Key` header may carry it instead.
    pub key: Option<String>,
    /// The sender's own number for the order.
    pub remote_ref: Option<String>,
    /// Why it is transferred.
    pub reason: Option<String>,
    /// The order, as for `POST /api/orders` (its channel is set from the platform's kind;
    /// codes unknown here are dropped, the address kept).
    pub order: CreateOrderRequest,
}

#[derive(Serialize, ToSchema)]
pub struct InboundAckDto {
    pub order_id: i64,
    pub number: String,
    pub status: String,
    pub duplicate: bool,
}

fn ack_dto(a: InboundAck) -> InboundAckDto {
    InboundAckDto {
        order_id: a.order_id,
        number: a.number,
        status: a.status,
        duplicate: a.duplicate,
    }
}

/// An order from another platform (token with the `transfer` scope, or `grid` for a grid
/// platform). 201 with our order's id and number is the acknowledgement; a resend with the
/// same key answers 200 with the same order. The order's progress is then reported back to
/// `{peer url}/api/transfer/status` until the platform has seen every change.
#[utoipa::path(post, path = "/api/transfer/inbound", tag = "transfer", request_body = InboundRequest,
    security(("token" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "the transfer's key, if not in the body")),
    responses((status = 201, body = InboundAckDto), (status = 200, body = InboundAckDto, description = "a resend: the first request's order"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn inbound(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiJson(r): ApiJson<InboundRequest>,
) -> ApiResult<(StatusCode, Json<InboundAckDto>)> {
    let p = interface_principal(&app, &headers, &[Scope::Transfer, Scope::Grid]).await?;
    let key = r
        .key
        .or_else(|| {
            header_str(&headers, header::HeaderName::from_static("idempotency-key"))
                .map(String::from)
        })
        .ok_or_else(|| AppError::invalid("key", "缺少转办编号（key 或 Idempotency-Key）"))?;
    let (mut new, _) = r.order.parse().map_err(|mut e| {
        e.field = format!("order.{}", e.field);
        AppError::Invalid(e)
    })?;
    if let Some(reason) = r.reason.filter(|s| !s.trim().is_empty()) {
        new.source
            .insert("transfer_reason".into(), reason.chars().take(500).collect());
    }
    let ack = app
        .transfer_inbound(&p, &r.from, &key, r.remote_ref, new)
        .await?;
    let status = if ack.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ack_dto(ack))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "ordos-110", "key": "1-1024-k3J9x0aQ2b", "seq": 4, "status": "handling", "status_label": "已出警", "note": "民警已到场处置", "at": "2026-12-01T10:12:00+08:00"}))]
pub struct StatusRequest {
    pub from: String,
    /// The key we gave the transfer.
    pub key: String,
    /// The sender's version of the order; older or repeated reports change nothing.
    pub seq: u32,
    pub status: String,
    /// The status for people.
    pub status_label: Option<String>,
    pub note: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct StatusResponse {
    /// applied or duplicate
    pub result: &'static str,
}

/// A platform reports on an order we transferred to it (token with the `transfer` or `grid`
/// scope); the report enters the order's history.
#[utoipa::path(post, path = "/api/transfer/status", tag = "transfer", request_body = StatusRequest,
    security(("token" = [])),
    responses((status = 200, body = StatusResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such transfer"), (status = 422, body = ErrorBody)))]
async fn status(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiJson(r): ApiJson<StatusRequest>,
) -> ApiResult<Json<StatusResponse>> {
    let p = interface_principal(&app, &headers, &[Scope::Transfer, Scope::Grid]).await?;
    let applied = app
        .transfer_status(
            &p,
            StatusReport {
                from: r.from,
                key: r.key,
                seq: r.seq,
                status: r.status,
                status_label: r.status_label.unwrap_or_default(),
                note: r.note,
            },
        )
        .await?;
    Ok(Json(StatusResponse {
        result: if applied { "applied" } else { "duplicate" },
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_peers, create_peer))
        .routes(routes!(set_peer_active))
        .routes(routes!(transfer))
        .routes(routes!(order_transfers))
        .routes(routes!(inbound))
        .routes(routes!(status))
}
