//! Deadlines over HTTP: the working-time calculator, the tenant's calendar and time-limit
//! rules, an order's deadlines with their explanations, and units' notices.

use super::auth::AuthUser;
use super::dto::{Coded, deadlines_of};
use super::{ApiError, ApiJson, ApiResult, AppState, ErrorBody};
use crate::app::AppError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use jiesu_core::calendar::{TimeLimit, china_offset};
use jiesu_core::deadline::TimeRules;
use jiesu_core::role::Role;
use jiesu_core::{OrderId, UnitId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddQuery {
    /// RFC 3339, e.g. `2026-09-30T10:00:00+08:00`.
    pub start: String,
    pub amount: u32,
    /// `working_days`, `working_hours` or `hours` (clock hours).
    pub unit: String,
}

#[derive(Serialize, ToSchema)]
pub struct AddResponse {
    /// RFC 3339 in China Standard Time (+08:00).
    pub due: String,
    pub explanation: String,
}

/// The working-time calculator: `amount` working days, working hours or clock hours after
/// `start`, on the tenant's calendar and working hours, with the explanation.
#[utoipa::path(get, path = "/api/calendar/add", tag = "deadlines", params(AddQuery),
    responses((status = 200, body = AddResponse), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn calendar_add(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<AddQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AddResponse>> {
    let Query(q) = q.map_err(|e| {
        let text = e.body_text();
        let field = ["start", "amount", "unit"]
            .into_iter()
            .find(|f| text.contains(f))
            .unwrap_or("query");
        ApiError::from(AppError::invalid(field, format!("查询参数有误：{text}")))
    })?;
    let start = DateTime::parse_from_rfc3339(&q.start)
        .map_err(|_| {
            AppError::invalid("start", "应为 RFC 3339 时间，如 2026-09-30T10:00:00+08:00")
        })?
        .with_timezone(&Utc);
    if q.amount > 10_000 {
        return Err(AppError::invalid("amount", "数量过大（至多 10000）").into());
    }
    let limit = match q.unit.as_str() {
        "working_days" => TimeLimit::WorkingDays(q.amount),
        "working_hours" => TimeLimit::WorkingHours(q.amount),
        "hours" => TimeLimit::ClockHours(q.amount),
        _ => {
            return Err(
                AppError::invalid("unit", "可选：working_days, working_hours, hours").into(),
            );
        }
    };
    let e = app.working_time_add(p.tenant, start, limit).await?;
    Ok(Json(AddResponse {
        due: e.due.with_timezone(&china_offset()).to_rfc3339(),
        explanation: e.text,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct OrderDeadline {
    pub stage: Coded,
    pub due: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub limit: String,
    pub rule: String,
    /// Whether this is the deadline running now.
    pub running: bool,
    /// Passed with the stage unfinished, or finished late.
    pub late: bool,
    /// Why it falls when it does: holidays, make-up workdays, weekends crossed.
    pub explanation: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrderDeadlines {
    pub items: Vec<OrderDeadline>,
    /// The next reminder or overdue mark, if one is pending.
    pub next_alert_at: Option<DateTime<Utc>>,
}

/// An order's deadlines, each with its explanation.
#[utoipa::path(get, path = "/api/orders/{id}/deadlines", tag = "deadlines", params(("id" = i64, Path)),
    responses((status = 200, body = OrderDeadlines), (status = 404, body = ErrorBody)))]
async fn order_deadlines(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<OrderDeadlines>> {
    let v = app.order_summary(&p, OrderId(id)).await?;
    let o = &v.stored.order;
    let time = app.time(p.tenant).await?;
    let running = o.running_deadline();
    let now = Utc::now();
    let mut items = Vec::new();
    for d in deadlines_of(o) {
        let explanation = match d.explain(&time.calendar) {
            Ok(e) => e.text,
            Err(e) => e.to_string(),
        };
        let is_running = running == Some(d);
        items.push(OrderDeadline {
            stage: Coded {
                code: d.stage.as_str(),
                label: d.stage.label(),
            },
            due: d.due,
            start: d.start,
            limit: d.limit.describe(),
            rule: d.rule.clone(),
            running: is_running,
            late: o.late.iter().any(|l| l.stage == d.stage && l.due == d.due)
                || (is_running && d.due < now),
            explanation,
        });
    }
    Ok(Json(OrderDeadlines {
        items,
        next_alert_at: o.next_alert().map(|(at, _)| at),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CalendarResponse {
    /// First and last year covered.
    pub years: [i32; 2],
    pub working_hours: String,
    #[schema(value_type = Object)]
    pub holidays: BTreeMap<NaiveDate, String>,
    #[schema(value_type = Object)]
    pub makeup_workdays: BTreeMap<NaiveDate, String>,
    #[schema(value_type = Object)]
    pub closures: BTreeMap<NaiveDate, String>,
}

/// The tenant's working calendar.
#[utoipa::path(get, path = "/api/calendar", tag = "deadlines", responses((status = 200, body = CalendarResponse)))]
async fn calendar(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<CalendarResponse>> {
    let time = app.time(p.tenant).await?;
    let d = time.calendar.data();
    Ok(Json(CalendarResponse {
        years: d.years,
        working_hours: time.calendar.hours().describe(),
        holidays: d.holidays.clone(),
        makeup_workdays: d.makeup_workdays.clone(),
        closures: d.closures.clone(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRequest {
    /// `YYYY-MM-DD`
    #[schema(value_type = String)]
    pub date: NaiveDate,
    pub reason: String,
}

/// Add a local closure (a day off for deadlines, e.g. a typhoon) (admin).
#[utoipa::path(post, path = "/api/calendar/closures", tag = "deadlines", request_body = ClosureRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_closure(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<ClosureRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.add_closure(&cap, r.date, r.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a local closure (admin).
#[utoipa::path(delete, path = "/api/calendar/closures/{date}", tag = "deadlines", params(("date" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_closure(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(date): Path<String>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|_| AppError::invalid("date", "日期应为 YYYY-MM-DD"))?;
    app.remove_closure(&cap, date).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearRequest {
    pub year: i32,
    /// `{"2027-01-01": "元旦", …}`
    #[schema(value_type = Object)]
    pub holidays: BTreeMap<NaiveDate, String>,
    /// `{"2027-02-07": "春节", …}`
    #[schema(value_type = Object)]
    #[serde(default)]
    pub makeup_workdays: BTreeMap<NaiveDate, String>,
}

/// Add the State Council's holiday notice for the next year (admin).
#[utoipa::path(post, path = "/api/calendar/years", tag = "deadlines", request_body = YearRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_year(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<YearRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    for d in r.holidays.keys().chain(r.makeup_workdays.keys()) {
        if chrono::Datelike::year(d) != r.year {
            return Err(AppError::invalid("holidays", format!("{d} 不在 {} 年", r.year)).into());
        }
    }
    app.add_calendar_year(&cap, r.year, r.holidays, r.makeup_workdays)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's time-limit rules.
#[utoipa::path(get, path = "/api/time-rules", tag = "deadlines", responses((status = 200, body = Object)))]
async fn time_rules(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<TimeRules>> {
    Ok(Json(app.time(p.tenant).await?.rules.clone()))
}

/// Replace the time-limit rules (admin). Deadlines already running keep their due times;
/// new stages use the new rules.
#[utoipa::path(put, path = "/api/time-rules", tag = "deadlines", request_body = Object,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_time_rules(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(rules): ApiJson<TimeRules>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.set_time_rules(&cap, rules).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetRequest {
    /// `ordos` or `jinchang`
    pub preset: String,
}

/// Switch to a shipped preset of time-limit rules (admin).
#[utoipa::path(post, path = "/api/time-rules/preset", tag = "deadlines", request_body = PresetRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn use_preset(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<PresetRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    let rules = TimeRules::preset(&r.preset)
        .ok_or_else(|| AppError::invalid("preset", "可选：ordos, jinchang"))?;
    app.set_time_rules(&cap, rules).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// Only unread notices.
    pub unread: Option<bool>,
    /// 1–500, default 100.
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct NoticesResponse {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<jiesu_store::settings::Notification>,
}

/// Units whose notices the caller reads: their own, and for those who watch a subtree
/// (unit admins, supervisors, leaders) everything below it.
async fn notice_units(app: &AppState, p: &crate::app::Principal) -> ApiResult<Vec<UnitId>> {
    if p.has(Role::UnitAdmin) || p.has(Role::Supervisor) || p.has(Role::Leader) {
        Ok(app.org(p.tenant).await?.subtree(p.unit_id))
    } else {
        Ok(vec![p.unit_id])
    }
}

/// Reminders and overdue notices for the caller's unit, newest first.
#[utoipa::path(get, path = "/api/notifications", tag = "deadlines", params(NoticeQuery),
    responses((status = 200, body = NoticesResponse)))]
async fn notifications(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Query(q): Query<NoticeQuery>,
) -> ApiResult<Json<NoticesResponse>> {
    let units = notice_units(&app, &p).await?;
    let items = app
        .store
        .notifications(
            p.tenant,
            &units,
            q.unread.unwrap_or(false),
            q.limit.unwrap_or(100).clamp(1, 500),
        )
        .await
        .map_err(AppError::from)?;
    Ok(Json(NoticesResponse { items }))
}

/// Mark a notice read.
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "deadlines", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn read_notification(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let units = notice_units(&app, &p).await?;
    app.store
        .mark_notification_read(p.tenant, id, &units)
        .await
        .map_err(|e| match e {
            jiesu_store::StoreError::NotFound => AppError::NotFound("通知"),
            e => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(calendar_add))
        .routes(routes!(calendar))
        .routes(routes!(add_closure))
        .routes(routes!(remove_closure))
        .routes(routes!(add_year))
        .routes(routes!(time_rules, put_time_rules))
        .routes(routes!(use_preset))
        .routes(routes!(order_deadlines))
        .routes(routes!(notifications))
        .routes(routes!(read_notification))
}
