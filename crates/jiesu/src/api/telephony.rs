//! Telephony: call events from the call centre, the missed-call queue (漏话回拨) and the
//! centre's call figures (接通率, answer times).

use super::auth::{AuthUser, interface_principal};
use super::stats::period;
use super::{ApiJson, ApiResult, AppState, ErrorBody, query};
use crate::app::AppError;
use crate::app::telephony::{CallEventInput, CallStats, MissedView};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use jiesu_core::role::Scope;
use jiesu_store::telephony::{CallApplied, MissedCallLog};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"call_id": "20261201-0931-00017", "event": "abandoned", "at": "2026-12-01T09:31:42+08:00", "caller": "13800138000", "line": "12345"}))]
pub struct CallEventRequest {
    /// The call centre's id of the call; all events of one call carry it.
    pub call_id: String,
    /// `incoming` (ringing/queued), `answered` (an agent took it), `abandoned` (the caller
    /// hung up before an answer) or `ended` (an answered call finished; for an unanswered
    /// one, the same as abandoned).
    pub event: String,
    /// When it happened (RFC 3339 with offset).
    pub at: DateTime<Utc>,
    /// The calling number; required on `incoming` and on the first event of an unknown call.
    pub caller: Option<String>,
    /// The hotline or queue it came in on.
    pub line: Option<String>,
    /// The agent's id in the call centre; required on `answered`.
    pub agent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CallEventResponse {
    pub call_id: String,
    /// `applied`, or `duplicate` for an event the call already had (a resend).
    pub result: &'static str,
}

/// A call event from the call centre (token with the `telephony` scope). Events of one call
/// may be resent: a duplicate changes nothing. An abandoned call puts its caller in the
/// missed-call queue; an answered call from a caller waiting there settles their item.
#[utoipa::path(post, path = "/api/telephony/events", tag = "telephony", request_body = CallEventRequest,
    security(("token" = [])),
    responses((status = 200, body = CallEventResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the event contradicts the call's state, e.g. answered after abandoned"),
        (status = 422, body = ErrorBody)))]
async fn call_event(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiJson(r): ApiJson<CallEventRequest>,
) -> ApiResult<Json<CallEventResponse>> {
    let p = interface_principal(&app, &headers, &[Scope::Telephony]).await?;
    let call_id = r.call_id.clone();
    let result = app
        .call_event(
            &p,
            CallEventInput {
                call_id: r.call_id,
                event: r.event,
                at: r.at,
                caller: r.caller,
                line: r.line,
                agent: r.agent,
            },
        )
        .await?;
    Ok(Json(CallEventResponse {
        call_id,
        result: match result {
            CallApplied::Applied => "applied",
            CallApplied::Duplicate => "duplicate",
        },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MissedDto {
    pub id: i64,
    /// The number to call back; masked (`138****8000`) for roles that do not call citizens.
    pub caller: String,
    pub caller_masked: bool,
    pub first_call_id: String,
    /// Calls from this number missed while it waited.
    pub missed: u32,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// `pending` or `done`
    pub status: String,
    /// Once done: `reached`, `called_in` (the caller got through later), `unreachable`
    /// (attempts used up) or `invalid_number`.
    pub result: Option<String>,
    /// Callback attempts that did not reach the caller.
    pub attempts: u32,
    pub max_attempts: u32,
    pub order_id: Option<i64>,
    pub closed_at: Option<DateTime<Utc>>,
}

fn missed_dto(v: MissedView, max_attempts: u32) -> MissedDto {
    let m = v.item;
    MissedDto {
        id: m.id,
        caller: m.caller,
        caller_masked: v.caller_masked,
        first_call_id: m.first_call_id,
        missed: m.missed,
        first_at: m.first_at,
        last_at: m.last_at,
        status: m.status,
        result: m.result,
        attempts: m.attempts,
        max_attempts,
        order_id: m.order_id,
        closed_at: m.closed_at,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MissedQuery {
    /// `pending` (default; oldest first) or `done` (newest first).
    pub status: Option<String>,
    /// Paging: the last id of the previous page.
    pub after: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct MissedListResponse {
    pub items: Vec<MissedDto>,
}

/// The missed-call queue (漏话回拨): every abandoned call's caller until called back (agents,
/// callback staff, supervisors, admins).
#[utoipa::path(get, path = "/api/telephony/missed", tag = "telephony", params(MissedQuery),
    responses((status = 200, body = MissedListResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn missed_list(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<MissedQuery>, QueryRejection>,
) -> ApiResult<Json<MissedListResponse>> {
    let q = query(q)?;
    let pending = match q.status.as_deref().unwrap_or("pending") {
        "pending" => true,
        "done" => false,
        other => {
            return Err(
                AppError::invalid("status", format!("“{other}”无效，可选：pending, done")).into(),
            );
        }
    };
    let max = app.config.missed_call_max_attempts;
    let items = app
        .missed_calls(&p, pending, q.after, q.limit.unwrap_or(50))
        .await?
        .into_iter()
        .map(|v| missed_dto(v, max))
        .collect();
    Ok(Json(MissedListResponse { items }))
}

#[derive(Serialize, ToSchema)]
pub struct MissedLogDto {
    pub no: u32,
    pub at: DateTime<Utc>,
    /// The person; absent for the call centre's own events.
    pub by_user: Option<i64>,
    pub by_name: String,
    /// `missed`, `called_in`, `reached`, `not_reached`, `unreachable`, `invalid_number`
    pub action: String,
    pub note: Option<String>,
    pub order_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MissedDetailResponse {
    pub item: MissedDto,
    pub log: Vec<MissedLogDto>,
}

fn log_dto(l: MissedCallLog) -> MissedLogDto {
    MissedLogDto {
        no: l.no,
        at: l.at,
        by_user: l.by_user,
        by_name: l.by_name,
        action: l.action,
        note: l.note,
        order_id: l.order_id,
    }
}

/// One missed-call item with its log: each missed call, each callback attempt, who and when.
#[utoipa::path(get, path = "/api/telephony/missed/{id}", tag = "telephony", params(("id" = i64, Path)),
    responses((status = 200, body = MissedDetailResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn missed_detail(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<MissedDetailResponse>> {
    let (item, log) = app.missed_call(&p, id).await?;
    Ok(Json(MissedDetailResponse {
        item: missed_dto(item, app.config.missed_call_max_attempts),
        log: log.into_iter().map(log_dto).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "reached", "note": "市民反映小区停水，已受理为工单", "order_id": 1024}))]
pub struct MissedCallbackRequest {
    /// `reached`, `not_reached` (counts an attempt; the last allowed one closes the item as
    /// unreachable) or `invalid_number`.
    pub outcome: String,
    pub note: Option<String>,
    /// The order the callback opened or concerned.
    pub order_id: Option<i64>,
}

/// Record a callback of a missed call (agents, callback staff).
#[utoipa::path(post, path = "/api/telephony/missed/{id}/callback", tag = "telephony", params(("id" = i64, Path)),
    request_body = MissedCallbackRequest,
    responses((status = 200, body = MissedDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "already settled"), (status = 422, body = ErrorBody)))]
async fn missed_callback(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<MissedCallbackRequest>,
) -> ApiResult<Json<MissedDto>> {
    let v = app
        .missed_callback(&p, id, &r.outcome, r.note, r.order_id)
        .await?;
    Ok(Json(missed_dto(v, app.config.missed_call_max_attempts)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallStatsQuery {
    /// First day, `YYYY-MM-DD` (China time).
    pub from: String,
    /// Last day, included.
    pub to: String,
}

/// The centre's call figures: 接通率 = answered / (answered + abandoned), the service level
/// (answered within `telephony_service_level_s` seconds), answer, abandon and talk times, per
/// agent, and the missed-call queue's outcome (漏话回拨率 = (reached + called_in) / items).
/// Supervisors, leaders, admins.
#[utoipa::path(get, path = "/api/telephony/stats", tag = "telephony", params(CallStatsQuery),
    responses((status = 200, body = CallStats), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn call_stats(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<CallStatsQuery>, QueryRejection>,
) -> ApiResult<Json<CallStats>> {
    let q = query(q)?;
    Ok(Json(app.call_stats(&p, period(&q.from, &q.to)?).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(call_event))
        .routes(routes!(missed_list))
        .routes(routes!(missed_detail))
        .routes(routes!(missed_callback))
        .routes(routes!(call_stats))
}
