//! `/api/orders`: accept, list, read, history, and one endpoint per lifecycle command.

use super::auth::AuthUser;
use super::dto::*;
use super::{ApiError, ApiJson, ApiResult, AppState, ErrorBody};
use crate::app::AppError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use jiesu_core::calendar::china_offset;
use jiesu_core::order::{
    AssignmentRole, AssignmentStatus, Channel, Command, DispatchTarget, InstantAnswer, NoticeKind,
    RequestType, Satisfaction, Status, SupervisionLevel,
};
use jiesu_core::{OrderId, UnitId};
use jiesu_store::orders::{Cursor, OrderFilter, Sort};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Accept a request (受理): stores a work order pending review, or closes it at once as an
/// instant answer (即答办结) when `instant_answer` cites a knowledge entry.
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = CreateOrderRequest,
    responses((status = 201, body = OrderDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_order(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(req): ApiJson<CreateOrderRequest>,
) -> ApiResult<(StatusCode, Json<OrderDto>)> {
    let (new, instant) = req.parse()?;
    let v = app.accept_order(&p, new, instant).await?;
    Ok((StatusCode::CREATED, Json(OrderDto::of(&v, Utc::now()))))
}

#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Comma-separated statuses, e.g. `pending_review,returned`.
    pub status: Option<String>,
    /// Comma-separated request types.
    pub request_type: Option<String>,
    /// Comma-separated channels.
    pub channel: Option<String>,
    /// A category code; its subcategories match too.
    pub category: Option<String>,
    /// A region code; regions below it match too.
    pub region: Option<String>,
    /// A unit id: orders dispatched to it or any unit below it.
    pub unit: Option<i64>,
    /// With `unit`: that unit's part is in this state (pending_sign, handling, replied, returned…).
    pub assignment_status: Option<String>,
    /// Accepted at or after (RFC 3339, or a local date YYYY-MM-DD).
    pub from: Option<String>,
    /// Accepted before (RFC 3339, or a local date YYYY-MM-DD, exclusive).
    pub to: Option<String>,
    /// `true`: only orders whose running deadline has passed.
    pub overdue: Option<bool>,
    /// Due soon: only orders whose running deadline falls within this many hours from now.
    pub due_within_hours: Option<u32>,
    pub emergency: Option<bool>,
    /// The start of the order number, e.g. `2026-11-24`.
    pub number: Option<String>,
    /// Orders from this phone number (caller history).
    pub phone: Option<String>,
    /// `pending`: orders whose extension request waits for the centre's decision.
    pub extension: Option<String>,
    /// `pending`: open orders with a supervision notice (督办) awaiting its unit's response.
    pub notice: Option<String>,
    /// `-accepted_at` (default), `accepted_at`, `due_at`, `-updated_at`.
    pub sort: Option<String>,
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

pub(crate) fn csv_list<T>(
    field: &str,
    s: &Option<String>,
    parse: impl Fn(&str, &str) -> Result<T, jiesu_core::FieldError>,
) -> ApiResult<Vec<T>> {
    match s {
        None => Ok(Vec::new()),
        Some(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| parse(field, p).map_err(ApiError::from))
            .collect(),
    }
}

pub(crate) fn parse_time(field: &str, s: &str) -> ApiResult<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(china_offset()).single())
    {
        return Ok(t.with_timezone(&Utc));
    }
    Err(AppError::invalid(
        field,
        "时间格式应为 RFC 3339（如 2026-11-24T08:00:00+08:00）或日期 2026-11-24",
    )
    .into())
}

fn encode_cursor(c: Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}:{}:{}:{}",
        c.key, c.id, c.total, c.total_capped as u8
    ))
}

fn decode_cursor(s: &str) -> ApiResult<Cursor> {
    let bad = || ApiError::from(AppError::invalid("cursor", "分页游标无效"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let parts: Vec<&str> = text.split(':').collect();
    let [k, i, t, c] = parts.as_slice() else {
        return Err(bad());
    };
    Ok(Cursor {
        key: k.parse().map_err(|_| bad())?,
        id: i.parse().map_err(|_| bad())?,
        total: t.parse().map_err(|_| bad())?,
        total_capped: *c == "1",
    })
}

/// List orders visible to the caller, filtered, in a stable order, a page at a time.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(ListQuery),
    responses((status = 200, body = OrderListResponse), (status = 422, body = ErrorBody)))]
async fn list_orders(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<OrderListResponse>> {
    let now = Utc::now();
    let (q, f, sort) = list_filter(&app, &p, query, now).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("limit", "每页 1–200 条").into());
    }
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = app.list_summaries(&p, f, sort, cursor, limit).await?;
    Ok(Json(OrderListResponse {
        items: page
            .items
            .into_iter()
            .map(|l| OrderSummaryDto::listed(&l.summary, l.citizen_name, now))
            .collect(),
        total: page.total,
        total_capped: page.total_capped,
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// The list query's filter and order, checked field by field.
pub(crate) async fn list_filter(
    app: &AppState,
    p: &crate::app::Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    now: DateTime<Utc>,
) -> ApiResult<(ListQuery, OrderFilter, Sort)> {
    let q = super::query(query)?;
    let mut f = OrderFilter {
        statuses: csv_list("status", &q.status, Status::parse)?,
        request_types: csv_list("request_type", &q.request_type, RequestType::parse)?,
        channels: csv_list("channel", &q.channel, Channel::parse)?,
        category: q.category.clone(),
        region: q.region.clone(),
        ..OrderFilter::default()
    };
    if let Some(r) = &q.region {
        jiesu_core::values::RegionCode::parse("region", r)?;
    }
    if let Some(c) = &q.category {
        jiesu_core::values::CategoryCode::parse("category", c)?;
    }
    if let Some(u) = q.unit {
        f.units = Some(app.unit_filter(p, UnitId(u)).await?);
    }
    if let Some(s) = &q.assignment_status {
        if q.unit.is_none() {
            return Err(AppError::invalid("assignment_status", "须与 unit 一起使用").into());
        }
        f.assignment_status = Some(AssignmentStatus::parse("assignment_status", s)?);
    }
    f.accepted_from = q
        .from
        .as_deref()
        .map(|s| parse_time("from", s))
        .transpose()?;
    f.accepted_to = q.to.as_deref().map(|s| parse_time("to", s)).transpose()?;
    if q.overdue == Some(true) {
        f.overdue_at = Some(now);
    }
    if let Some(h) = q.due_within_hours {
        if !(1..=24 * 30).contains(&h) {
            return Err(AppError::invalid("due_within_hours", "应为 1 到 720 小时").into());
        }
        f.due_between = Some((now, now + chrono::Duration::hours(i64::from(h))));
    }
    f.emergency = q.emergency;
    if let Some(n) = &q.number {
        if n.is_empty() || n.len() > 20 || !n.chars().all(|c| c.is_ascii_digit() || c == '-') {
            return Err(AppError::invalid("number", "工单编号前缀只能包含数字和“-”").into());
        }
        f.number_prefix = Some(n.clone());
    }
    if let Some(ph) = &q.phone {
        f.citizen_phone = Some(
            jiesu_core::values::Phone::parse("phone", ph)?
                .as_str()
                .to_string(),
        );
    }
    match q.extension.as_deref() {
        None => {}
        Some("pending") => f.extension_pending = true,
        Some(_) => return Err(AppError::invalid("extension", "可选：pending").into()),
    }
    match q.notice.as_deref() {
        None => {}
        Some("pending") => f.notice_pending = true,
        Some(_) => return Err(AppError::invalid("notice", "可选：pending").into()),
    }
    let sort = match q.sort.as_deref().unwrap_or("-accepted_at") {
        "-accepted_at" => Sort::AcceptedDesc,
        "accepted_at" => Sort::AcceptedAsc,
        "due_at" => Sort::DueAsc,
        "-updated_at" => Sort::UpdatedDesc,
        _ => {
            return Err(AppError::invalid(
                "sort",
                "可选：-accepted_at, accepted_at, due_at, -updated_at",
            )
            .into());
        }
    };
    Ok((q, f, sort))
}

/// One order. The citizen is shown as the caller's role allows; a read in clear is logged.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = ErrorBody)))]
async fn get_order(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<OrderDto>> {
    let v = app.order_detail(&p, OrderId(id)).await?;
    Ok(Json(OrderDto::of(&v, Utc::now())))
}

/// The order's whole history (一单到底): every step with who, when, what, why, and its hash chain.
#[utoipa::path(get, path = "/api/orders/{id}/events", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = EventsResponse), (status = 404, body = ErrorBody)))]
async fn order_events(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<EventsResponse>> {
    let (events, citizen) = app.order_history(&p, OrderId(id)).await?;
    Ok(Json(EventsResponse {
        items: events.iter().map(|e| EventDto::of(e, &citizen)).collect(),
    }))
}

async fn run(
    app: &AppState,
    p: &crate::app::Principal,
    id: i64,
    cmd: Command,
) -> ApiResult<Json<OrderDto>> {
    let v = app.order_command(p, OrderId(id), cmd).await?;
    Ok(Json(OrderDto::of(&v, Utc::now())))
}

/// Dispatch (派单): from the centre to one lead unit and any co-handlers; by a district centre
/// that holds the order, onward within its district (二级派单).
#[utoipa::path(post, path = "/api/orders/{id}/dispatch", tag = "orders", params(("id" = i64, Path)), request_body = DispatchRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dispatch(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<DispatchRequest>,
) -> ApiResult<Json<OrderDto>> {
    let targets = r
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let role = AssignmentRole::parse(&format!("targets[{i}].role"), &t.role)?;
            if role == AssignmentRole::Sub {
                return Err(jiesu_core::FieldError::new(
                    format!("targets[{i}].role"),
                    "派单只能指定 lead 或 co",
                ));
            }
            Ok(DispatchTarget {
                unit_id: UnitId(t.unit_id),
                role,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The dispatcher's choice is a label: the suggestion's outcome is recorded with it and
    // the models learn it.
    let v = app
        .dispatch_order(
            &p,
            OrderId(id),
            Command::Dispatch {
                targets,
                note: r.note,
            },
        )
        .await?;
    Ok(Json(OrderDto::of(&v, Utc::now())))
}

/// Sub-dispatch (下派): a handling unit passes work to units below it and stays responsible.
#[utoipa::path(post, path = "/api/orders/{id}/sub-dispatch", tag = "orders", params(("id" = i64, Path)), request_body = SubDispatchRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sub_dispatch(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<SubDispatchRequest>,
) -> ApiResult<Json<OrderDto>> {
    let units = r.unit_ids.into_iter().map(UnitId).collect();
    run(
        &app,
        &p,
        id,
        Command::SubDispatch {
            units,
            note: r.note,
        },
    )
    .await
}

/// Sign for (签收) the order on behalf of the caller's unit.
#[utoipa::path(post, path = "/api/orders/{id}/sign", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sign(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<OrderDto>> {
    run(&app, &p, id, Command::Sign).await
}

/// Return (退单) with a reason: not this unit's responsibility.
#[utoipa::path(post, path = "/api/orders/{id}/return", tag = "orders", params(("id" = i64, Path)), request_body = ReasonRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn return_order(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<ReasonRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(&app, &p, id, Command::Return { reason: r.reason }).await
}

/// Add a handling note (办理记录).
#[utoipa::path(post, path = "/api/orders/{id}/note", tag = "orders", params(("id" = i64, Path)), request_body = NoteRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn note(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<NoteRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(&app, &p, id, Command::Note { text: r.text }).await
}

/// Request an extension (申请延期): once per order, at most 5 working days, never for emergencies.
#[utoipa::path(post, path = "/api/orders/{id}/extension", tag = "orders", params(("id" = i64, Path)), request_body = ExtensionRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn extension(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<ExtensionRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(
        &app,
        &p,
        id,
        Command::RequestExtension {
            days: r.days,
            reason: r.reason,
        },
    )
    .await
}

/// Approve or reject the pending extension request (the centre).
#[utoipa::path(post, path = "/api/orders/{id}/extension-review", tag = "orders", params(("id" = i64, Path)), request_body = DecisionRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn extension_review(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<DecisionRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(
        &app,
        &p,
        id,
        Command::ReviewExtension {
            approve: r.approve,
            comment: r.comment,
        },
    )
    .await
}

/// Reply (反馈) with the result: by the lead unit for the order, by co-handlers and sub-units for their part.
#[utoipa::path(post, path = "/api/orders/{id}/reply", tag = "orders", params(("id" = i64, Path)), request_body = ReplyRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reply(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<ReplyRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(
        &app,
        &p,
        id,
        Command::Reply {
            content: r.content,
            contacted_citizen: r.contacted_citizen,
        },
    )
    .await
}

/// Check the reply (核验): accept it for callback, or send it back with a comment.
#[utoipa::path(post, path = "/api/orders/{id}/check", tag = "orders", params(("id" = i64, Path)), request_body = DecisionRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn check(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<DecisionRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(
        &app,
        &p,
        id,
        Command::Check {
            approve: r.approve,
            comment: r.comment,
        },
    )
    .await
}

/// Record the callback (回访): satisfied and resolved closes the order; otherwise it goes back
/// to the unit for re-handling (重办) with a new deadline.
#[utoipa::path(post, path = "/api/orders/{id}/callback", tag = "orders", params(("id" = i64, Path)), request_body = CallbackRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn callback(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<CallbackRequest>,
) -> ApiResult<Json<OrderDto>> {
    let satisfaction = Satisfaction::parse("satisfaction", &r.satisfaction)?;
    run(
        &app,
        &p,
        id,
        Command::Callback {
            satisfaction,
            resolved: r.resolved,
            comment: r.comment,
        },
    )
    .await
}

/// The printable work-order sheet (工单打印): the order on an A4 page with its whole history,
/// as HTML to print or save as PDF; the citizen as the caller may see them.
#[utoipa::path(get, path = "/api/orders/{id}/sheet", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, description = "an HTML page for printing", content_type = "text/html"),
              (status = 404, body = ErrorBody)))]
async fn sheet(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<axum::response::Response> {
    let v = app.order_detail(&p, OrderId(id)).await?;
    let (events, _) = app.order_history(&p, OrderId(id)).await?;
    let org = app.org(p.tenant).await?;
    let refs = app.ref_data(p.tenant).await?;
    let centre = org
        .root()
        .map(|r| org.name(r).to_string())
        .unwrap_or_default();
    let html = crate::sheet::order_sheet(&centre, &v, &events, &org, &refs.category_names);
    Ok(axum::response::IntoResponse::into_response((
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )))
}

/// Put the order under supervision (督办) and send a notice (提示单/督办单) to a unit that
/// handles it (the lead by default), which must respond within the hours given (supervisors
/// of the centre).
#[utoipa::path(post, path = "/api/orders/{id}/supervise", tag = "orders", params(("id" = i64, Path)), request_body = SuperviseRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn supervise(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<SuperviseRequest>,
) -> ApiResult<Json<OrderDto>> {
    let kind = NoticeKind::parse("kind", &r.kind)?;
    let level = SupervisionLevel::parse("level", &r.level)?;
    run(
        &app,
        &p,
        id,
        Command::Supervise {
            kind,
            level,
            unit_id: r.unit_id.map(UnitId),
            content: r.content,
            respond_within_hours: r.respond_within_hours,
        },
    )
    .await
}

/// A unit answers a supervision notice addressed to it (督办回复).
#[utoipa::path(post, path = "/api/orders/{id}/notice-response", tag = "orders", params(("id" = i64, Path)), request_body = NoticeResponseRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn notice_response(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<NoticeResponseRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(
        &app,
        &p,
        id,
        Command::RespondNotice {
            no: r.no,
            content: r.content,
        },
    )
    .await
}

/// Record a callback that did not reach the citizen (未接通); the third in a round closes
/// the order without callback (免回访办结), the attempts kept in its history.
#[utoipa::path(post, path = "/api/orders/{id}/callback-attempt", tag = "orders", params(("id" = i64, Path)), request_body = CallbackAttemptRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn callback_attempt(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<CallbackAttemptRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(&app, &p, id, Command::CallbackAttempt { note: r.note }).await
}

/// Close: as an instant answer (即答办结, citing a knowledge entry) while pending review, or
/// without a callback (with a reason) while waiting for one.
#[utoipa::path(post, path = "/api/orders/{id}/close", tag = "orders", params(("id" = i64, Path)), request_body = CloseRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn close(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<CloseRequest>,
) -> ApiResult<Json<OrderDto>> {
    let instant_answer = r.knowledge_entry_id.map(|k| InstantAnswer {
        knowledge_entry_id: k,
        knowledge_version: None,
        answer: r.answer,
    });
    run(
        &app,
        &p,
        id,
        Command::Close {
            instant_answer,
            reason: r.reason,
        },
    )
    .await
}

/// Withdraw (撤单) at the citizen's wish.
#[utoipa::path(post, path = "/api/orders/{id}/withdraw", tag = "orders", params(("id" = i64, Path)), request_body = ReasonRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn withdraw(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<ReasonRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(&app, &p, id, Command::Withdraw { reason: r.reason }).await
}

/// Mark invalid (无效: prank, test call).
#[utoipa::path(post, path = "/api/orders/{id}/invalidate", tag = "orders", params(("id" = i64, Path)), request_body = ReasonRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn invalidate(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<ReasonRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(&app, &p, id, Command::Invalidate { reason: r.reason }).await
}

/// Correct type, category, region, urgency or flags before dispatch.
#[utoipa::path(post, path = "/api/orders/{id}/amend", tag = "orders", params(("id" = i64, Path)), request_body = AmendRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn amend(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<AmendRequest>,
) -> ApiResult<Json<OrderDto>> {
    run(&app, &p, id, r.parse()?).await
}

/// Merge (合并) this order into another reporting the same issue; both record the link.
#[utoipa::path(post, path = "/api/orders/{id}/merge", tag = "orders", params(("id" = i64, Path)), request_body = MergeRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn merge(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<MergeRequest>,
) -> ApiResult<Json<OrderDto>> {
    let target = match (r.target_id, r.target_number.as_deref()) {
        (Some(t), _) => OrderId(t),
        (None, Some(n)) => app
            .store
            .order_id_by_number(p.tenant, n.trim())
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| AppError::invalid("target_number", "目标工单不存在"))?,
        (None, None) => {
            return Err(AppError::invalid(
                "target_id",
                "请指定目标工单（target_id 或 target_number）",
            )
            .into());
        }
    };
    let v = app.merge_order(&p, OrderId(id), target, r.reason).await?;
    Ok(Json(OrderDto::of(&v, Utc::now())))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(order_events))
        .routes(routes!(dispatch))
        .routes(routes!(sub_dispatch))
        .routes(routes!(sign))
        .routes(routes!(return_order))
        .routes(routes!(note))
        .routes(routes!(extension))
        .routes(routes!(extension_review))
        .routes(routes!(reply))
        .routes(routes!(check))
        .routes(routes!(callback))
        .routes(routes!(callback_attempt))
        .routes(routes!(supervise))
        .routes(routes!(sheet))
        .routes(routes!(notice_response))
        .routes(routes!(close))
        .routes(routes!(withdraw))
        .routes(routes!(invalidate))
        .routes(routes!(amend))
        .routes(routes!(merge))
}
