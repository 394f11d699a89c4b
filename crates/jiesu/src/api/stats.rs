//! The centre's figures over HTTP: rates for a period (and a unit), the orders behind every
//! count, and the formulas.

use super::auth::AuthUser;
use super::dto::OrderSummaryDto;
use super::{ApiJson, ApiResult, AppState, ErrorBody, query};
use crate::app::report::ReportKind;
use crate::app::stats::{Period, StatCut};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{NaiveDate, Utc};
use jiesu_core::org::UnitKind;
use jiesu_core::stats::{Composite, Counts, Deductions, Formulas, Measure};
use jiesu_core::values::{CategoryCode, RegionCode};
use jiesu_core::{FieldError, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RateParams {
    /// First day, `YYYY-MM-DD` (China time).
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// A unit: its figures with the units below it. Default: all the caller may see.
    pub unit: Option<i64>,
    /// A category code: its figures with the categories below it.
    pub category: Option<String>,
    /// A region code (district, street or community): the orders located within it.
    pub region: Option<String>,
}

/// The cut of `unit`, `category` and `region` parameters, each checked.
fn cut(unit: Option<i64>, category: Option<&str>, region: Option<&str>) -> ApiResult<StatCut> {
    fn nonempty(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    Ok(StatCut {
        unit: unit.map(UnitId),
        category: nonempty(category)
            .map(|c| CategoryCode::parse("category", c))
            .transpose()?,
        region: nonempty(region)
            .map(|r| RegionCode::parse("region", r))
            .transpose()?,
    })
}

fn day(field: &str, s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "日期格式须为 YYYY-MM-DD").into())
}

pub(crate) fn period(from: &str, to: &str) -> ApiResult<Period> {
    Ok(Period::new(day("from", from)?, day("to", to)?)?)
}

/// The counts behind the rates.
#[derive(Serialize, ToSchema)]
pub struct CountsDto {
    /// Orders accepted in the period.
    pub accepted: u64,
    /// … closed on the spot from the knowledge base (即答).
    pub instant: u64,
    /// … dispatched (with a lead unit).
    pub dispatched: u64,
    /// … signed for by the lead by its sign-for deadline.
    pub signed_on_time: u64,
    /// … replied to by the lead, or closed after handling.
    pub completed: u64,
    /// … completed by the reply deadline (as extended).
    pub completed_on_time: u64,
    /// … closed after handling: to be called back.
    pub callback_due: u64,
    /// … of those, closed by their callback.
    pub callback_done: u64,
    /// … called back (the latest callback; re-handled orders too).
    pub called_back: u64,
    pub satisfied: u64,
    pub basically_satisfied: u64,
    pub dissatisfied: u64,
    pub resolved: u64,
    /// … sent back for re-handling after a callback.
    pub rehandled: u64,
    /// … whose lead let its sign-for or reply deadline pass.
    pub late: u64,
    /// … closed unsatisfied after the last round of re-handling.
    pub escalated: u64,
}

impl From<Counts> for CountsDto {
    fn from(c: Counts) -> Self {
        CountsDto {
            accepted: c.accepted,
            instant: c.instant,
            dispatched: c.dispatched,
            signed_on_time: c.signed_on_time,
            completed: c.completed,
            completed_on_time: c.completed_on_time,
            callback_due: c.callback_due,
            callback_done: c.callback_done,
            called_back: c.called_back,
            satisfied: c.satisfied,
            basically_satisfied: c.basically_satisfied,
            dissatisfied: c.dissatisfied,
            resolved: c.resolved,
            rehandled: c.rehandled,
            late: c.late,
            escalated: c.escalated,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompositeDto {
    pub response: f64,
    pub resolution: f64,
    pub satisfaction: f64,
}

/// The formulas: satisfaction = (satisfied + basically_satisfied_weight × basically
/// satisfied) / called back; a unit's composite score = 100 × (response × response rate +
/// resolution × resolution rate + satisfaction × satisfaction rate), the weights summing to 1
/// (a rate that cannot be computed yet gives its weight to the others).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormulasDto {
    /// What a “basically satisfied” counts for in the satisfaction rate (0–1; default 1).
    pub basically_satisfied_weight: f64,
    /// Default 0.1 / 0.5 / 0.4.
    #[serde(default)]
    pub composite: Option<CompositeDto>,
    /// Points off the evaluation score per order (default 0.5 a late one, 1 an escalated one).
    #[serde(default)]
    pub deductions: Option<DeductionsDto>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeductionsDto {
    /// Per order whose sign-for or reply deadline the unit let pass (逾期).
    pub late: f64,
    /// Per order closed unsatisfied after the last round of re-handling (转督办).
    pub escalated: f64,
}

impl From<Formulas> for FormulasDto {
    fn from(f: Formulas) -> Self {
        FormulasDto {
            basically_satisfied_weight: f.basically_satisfied_weight,
            composite: Some(CompositeDto {
                response: f.composite.response,
                resolution: f.composite.resolution,
                satisfaction: f.composite.satisfaction,
            }),
            deductions: Some(DeductionsDto {
                late: f.deductions.late,
                escalated: f.deductions.escalated,
            }),
        }
    }
}

impl From<FormulasDto> for Formulas {
    fn from(d: FormulasDto) -> Self {
        Formulas {
            basically_satisfied_weight: d.basically_satisfied_weight,
            composite: d.composite.map_or(Composite::STANDARD, |c| Composite {
                response: c.response,
                resolution: c.resolution,
                satisfaction: c.satisfaction,
            }),
            deductions: d.deductions.map_or(Deductions::default(), |x| Deductions {
                late: x.late,
                escalated: x.escalated,
            }),
        }
    }
}

/// Rates as fractions 0…1 (null where there was nothing to count, e.g. no callbacks yet),
/// with the counts and formulas behind them.
#[derive(Serialize, ToSchema)]
pub struct RatesDto {
    pub from: String,
    pub to: String,
    pub unit_id: Option<i64>,
    pub unit_name: Option<String>,
    /// 响应率 = signed_on_time / dispatched
    pub response_rate: Option<f64>,
    /// 办结率 = completed / dispatched
    pub completion_rate: Option<f64>,
    /// 按期办结率 = completed_on_time / completed
    pub on_time_rate: Option<f64>,
    /// 解决率 = resolved / called_back
    pub resolution_rate: Option<f64>,
    /// 满意率 = (satisfied + weight × basically_satisfied) / called_back
    pub satisfaction_rate: Option<f64>,
    /// 即答率 = instant / accepted
    pub instant_answer_rate: Option<f64>,
    /// 回访率 = callback_done / callback_due
    pub callback_rate: Option<f64>,
    /// 接通率 = calls answered / (answered + abandoned), from the call centre's events; only
    /// for the whole centre (no unit, category or region) and where calls were reported.
    pub connect_rate: Option<f64>,
    /// The calls behind `connect_rate`.
    pub calls: Option<CallCountsDto>,
    pub counts: CountsDto,
    pub formulas: FormulasDto,
}

/// The rates of the orders accepted in a period (each order counts in the period it was
/// accepted in), for a unit and those below it or for all the caller may see.
#[utoipa::path(get, path = "/api/stats/rates", tag = "stats", params(RateParams),
    responses((status = 200, body = RatesDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rates(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<RateParams>, QueryRejection>,
) -> ApiResult<Json<RatesDto>> {
    let q = query(q)?;
    let period = period(&q.from, &q.to)?;
    let cut = cut(q.unit, q.category.as_deref(), q.region.as_deref())?;
    let r = app.rates(&p, period, &cut).await?;
    // Calls are the centre's: only for a reader of the whole centre with no cut.
    let calls = if r.unit.is_none() && cut.category.is_none() && cut.region.is_none() {
        Some(app.call_stats_of(p.tenant, period).await?)
    } else {
        None
    };
    let mut dto = rates_dto(r);
    if let Some(c) = calls.filter(|c| c.offered > 0) {
        dto.connect_rate = c.connect_rate.map(|v| (v * 10_000.0).round() / 10_000.0);
        dto.calls = Some(CallCountsDto {
            offered: c.offered,
            answered: c.answered,
            abandoned: c.abandoned,
        });
    }
    Ok(Json(dto))
}

/// Calls counted for 接通率.
#[derive(Serialize, ToSchema)]
pub struct CallCountsDto {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatOrdersParams {
    /// The count: `accepted`, `instant`, `dispatched`, `signed_on_time`, `completed`,
    /// `completed_on_time`, `callback_due`, `callback_done`, `called_back`, `satisfied`,
    /// `basically_satisfied`, `dissatisfied`, `resolved`, `rehandled`, `late`, `escalated`.
    pub measure: String,
    pub from: String,
    pub to: String,
    pub unit: Option<i64>,
    pub category: Option<String>,
    pub region: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StatOrdersDto {
    /// How many orders the count has (the figure).
    pub total: u64,
    /// The orders, oldest first (at most 5,000).
    pub items: Vec<OrderSummaryDto>,
}

/// The orders behind one count of `/api/stats/rates` (drill-down).
#[utoipa::path(get, path = "/api/stats/orders", tag = "stats", params(StatOrdersParams),
    responses((status = 200, body = StatOrdersDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn stat_orders(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<StatOrdersParams>, QueryRejection>,
) -> ApiResult<Json<StatOrdersDto>> {
    let q = query(q)?;
    let measure = Measure::parse(q.measure.trim())
        .ok_or_else(|| FieldError::new("measure", "没有这项统计"))?;
    let period = period(&q.from, &q.to)?;
    let cut = cut(q.unit, q.category.as_deref(), q.region.as_deref())?;
    let (views, total) = app.stat_orders(&p, measure, period, &cut).await?;
    let now = Utc::now();
    Ok(Json(StatOrdersDto {
        total,
        items: views.iter().map(|v| OrderSummaryDto::of(v, now)).collect(),
    }))
}

/// The formulas the rates are computed with.
#[utoipa::path(get, path = "/api/stats/formulas", tag = "stats",
    responses((status = 200, body = FormulasDto)))]
async fn get_formulas(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<FormulasDto>> {
    Ok(Json(app.stat_formulas(p.tenant).await?.into()))
}

/// Change them (admin; audited).
#[utoipa::path(put, path = "/api/stats/formulas", tag = "stats", request_body = FormulasDto,
    responses((status = 200, body = FormulasDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_formulas(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<FormulasDto>,
) -> ApiResult<Json<FormulasDto>> {
    let cap = p.as_admin()?;
    Ok(Json(app.put_stat_formulas(&cap, r.into()).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct PresetDto {
    /// `standard`, `strict` or `ordos`.
    pub name: String,
    pub label: String,
    pub formulas: FormulasDto,
}

/// The shipped presets, with their formulas stated.
#[utoipa::path(get, path = "/api/stats/formulas/presets", tag = "stats",
    responses((status = 200, body = Vec<PresetDto>)))]
async fn presets(AuthUser(_p): AuthUser) -> ApiResult<Json<Vec<PresetDto>>> {
    let items = [
        ("standard", "满意率 =（满意 + 基本满意）/ 回访数；综合得分 = 0.1 × 响应率 + 0.5 × 解决率 + 0.4 × 满意率"),
        ("strict", "满意率 =（满意 + 0.9 × 基本满意）/ 回访数；综合得分 = 0.1 × 响应率 + 0.5 × 解决率 + 0.4 × 满意率"),
        ("ordos", "满意率 =（满意 + 0.9 × 基本满意）/ 回访数；综合得分 = 0.3 × 响应率 + 0.35 × 解决率 + 0.35 × 满意率（鄂尔多斯旗区）"),
    ]
    .into_iter()
    .filter_map(|(name, label)| {
        Some(PresetDto {
            name: name.into(),
            label: label.into(),
            formulas: Formulas::preset(name)?.into(),
        })
    })
    .collect();
    Ok(Json(items))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RankingParams {
    pub from: String,
    pub to: String,
    /// The peers ranked: `department` (职能部门, default), `town` (乡镇街道),
    /// `district_centre`, `community`, `grid`.
    pub kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RankedDto {
    pub unit_id: i64,
    pub unit_name: String,
    /// 1 for the best; equal scores share a rank; null without a score.
    pub rank: Option<usize>,
    /// Composite score 0–100 by the formulas.
    pub score: Option<f64>,
    /// Points taken off (deductions × late and escalated orders).
    pub deduction: f64,
    /// The evaluation score (考核得分): score less deduction, at least 0; ranks by it.
    pub evaluation: Option<f64>,
    pub response_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub counts: CountsDto,
}

#[derive(Serialize, ToSchema)]
pub struct RankingDto {
    pub from: String,
    pub to: String,
    pub kind: String,
    pub formulas: FormulasDto,
    pub items: Vec<RankedDto>,
}

/// Units of one kind ranked by their composite score over a period (each with the figures of
/// the units below it).
#[utoipa::path(get, path = "/api/stats/ranking", tag = "stats", params(RankingParams),
    responses((status = 200, body = RankingDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn ranking(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<RankingParams>, QueryRejection>,
) -> ApiResult<Json<RankingDto>> {
    let q = query(q)?;
    let period = period(&q.from, &q.to)?;
    let kind = kind_of(q.kind.as_deref())?;
    let (items, formulas) = app.ranking(&p, period, kind).await?;
    Ok(Json(RankingDto {
        from: period.from.to_string(),
        to: period.to.to_string(),
        kind: kind.as_str().to_string(),
        formulas: formulas.into(),
        items: items.into_iter().map(ranked_dto).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// `YYYY-MM`, for the monthly report.
    pub month: Option<String>,
    /// `YYYY-MM-DD`, for the daily report (that day) and the weekly one (its Monday-to-Sunday
    /// week).
    pub date: Option<String>,
    /// `xlsx` (default, a workbook) or `pdf` (printable).
    pub format: Option<String>,
}

/// A report (日报 `daily`, 周报 `weekly`, 月报 `monthly`) as an Excel workbook (or a
/// printable PDF with `format=pdf`): the period's
/// rates and counts, volumes by channel, type, category and district, departments and towns
/// ranked, hot spots and the orders sent back for re-handling; the same numbers as
/// `/api/stats/rates`.
#[utoipa::path(get, path = "/api/reports/{kind}", tag = "stats", params(("kind" = String, Path), ReportParams),
    responses((status = 200, description = "an .xlsx workbook, or a PDF with format=pdf", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn report(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    axum::extract::Path(kind): axum::extract::Path<String>,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> ApiResult<axum::response::Response> {
    let q = query(q)?;
    let kind = ReportKind::parse(&kind).ok_or(crate::app::AppError::NotFound("报表"))?;
    let key = match kind {
        ReportKind::Monthly => q
            .month
            .ok_or_else(|| FieldError::new("month", "请指定月份 YYYY-MM"))?,
        _ => q
            .date
            .ok_or_else(|| FieldError::new("date", "请指定日期 YYYY-MM-DD"))?,
    };
    let pdf = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("xlsx") => false,
        Some("pdf") => true,
        Some(_) => return Err(FieldError::new("format", "格式须为 xlsx 或 pdf").into()),
    };
    let report = app.report(&p, kind, &key).await?;
    if pdf {
        let name = format!("{}{}.pdf", report.name, kind.label());
        let bytes = tokio::task::spawn_blocking(move || crate::report_pdf::report_pdf(&report))
            .await
            .map_err(|e| crate::app::AppError::Internal(e.to_string()))?;
        return Ok(super::files::file_response("application/pdf", &name, bytes));
    }
    let name = format!("{}{}.xlsx", report.name, kind.label());
    let bytes = tokio::task::spawn_blocking(move || crate::report::report_xlsx(&report))
        .await
        .map_err(|e| crate::app::AppError::Internal(e.to_string()))?
        .map_err(|e| crate::app::AppError::Internal(format!("xlsx: {e}")))?;
    Ok(super::files::file_response(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
        bytes,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct KeptReportDto {
    /// `daily`, `weekly` or `monthly`.
    pub kind: String,
    /// The day, the week's Monday or the month.
    pub name: String,
    pub generated_at: Option<chrono::DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct KeptReportsDto {
    pub items: Vec<KeptReportDto>,
}

/// The reports the server generated on schedule (yesterday's daily, last week's weekly, last
/// month's monthly, and so on back), newest first.
#[utoipa::path(get, path = "/api/reports", tag = "stats",
    responses((status = 200, body = KeptReportsDto), (status = 403, body = ErrorBody)))]
async fn kept_reports(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<KeptReportsDto>> {
    let items = app
        .kept_reports(&p)
        .await?
        .into_iter()
        .map(|r| KeptReportDto {
            kind: r.kind,
            name: r.name,
            generated_at: chrono::DateTime::from_timestamp_millis(r.generated_at),
        })
        .collect();
    Ok(Json(KeptReportsDto { items }))
}

/// A kept report's workbook, as generated.
#[utoipa::path(get, path = "/api/reports/{kind}/{name}", tag = "stats", params(("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "an .xlsx workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn kept_report(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    axum::extract::Path((kind, name)): axum::extract::Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    let kind = ReportKind::parse(&kind).ok_or(crate::app::AppError::NotFound("报表"))?;
    let data = app.kept_report(&p, kind, &name).await?;
    Ok(super::files::file_response(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("{name}{}.xlsx", kind.label()),
        data,
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KindParams {
    /// The peer group: `department` (default), `town`, `district_centre`, `community`, `grid`.
    pub kind: Option<String>,
}

fn kind_of(k: Option<&str>) -> ApiResult<UnitKind> {
    UnitKind::parse(k.unwrap_or("department"))
        .filter(|k| *k != UnitKind::CityCentre)
        .ok_or_else(|| {
            FieldError::new(
                "kind",
                "单位类别须为 department、town、district_centre、community 或 grid",
            )
            .into()
        })
}

#[derive(Serialize, ToSchema)]
pub struct EvalLineDto {
    pub unit_id: i64,
    pub unit_name: String,
    /// Rank by the adjusted score; null without a score.
    pub rank: Option<usize>,
    /// The evaluation score as computed (frozen once the month is closed).
    pub evaluation: Option<f64>,
    /// Adjustments made after closing, in points.
    pub adjustment: f64,
    /// evaluation + adjustment, within 0–100.
    pub adjusted: Option<f64>,
    pub score: Option<f64>,
    pub deduction: f64,
    pub dispatched: u64,
    pub late: u64,
    pub escalated: u64,
    pub response_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct AdjustmentDto {
    pub unit_id: i64,
    pub points: f64,
    pub reason: String,
    pub at: Option<chrono::DateTime<Utc>>,
    pub by: String,
}

#[derive(Serialize, ToSchema)]
pub struct EvaluationDto {
    /// `YYYY-MM`
    pub month: String,
    pub kind: String,
    /// Closed months are frozen; open ones are live figures.
    pub closed: bool,
    pub closed_at: Option<chrono::DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub formulas: FormulasDto,
    pub items: Vec<EvalLineDto>,
    pub adjustments: Vec<AdjustmentDto>,
}

fn two(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 100.0).round() / 100.0)
}

/// A month's evaluation (考核) of one peer group: live until the month is closed, then frozen,
/// with later adjustments on top.
#[utoipa::path(get, path = "/api/evaluations/{month}", tag = "stats", params(("month" = String, Path), KindParams),
    responses((status = 200, body = EvaluationDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn evaluation(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    axum::extract::Path(month): axum::extract::Path<String>,
    q: Result<Query<KindParams>, QueryRejection>,
) -> ApiResult<Json<EvaluationDto>> {
    let q = query(q)?;
    let kind = kind_of(q.kind.as_deref())?;
    let v = app.evaluation(&p, &month, kind).await?;
    Ok(Json(EvaluationDto {
        month: v.period,
        kind: kind.as_str().to_string(),
        closed: v.closed.is_some(),
        closed_at: v.closed.as_ref().map(|c| c.0),
        closed_by: v.closed.map(|c| c.1),
        formulas: v.formulas.into(),
        items: v
            .lines
            .into_iter()
            .map(|l| EvalLineDto {
                unit_id: l.row.unit_id,
                unit_name: l.row.unit_name,
                rank: l.rank,
                evaluation: two(l.row.evaluation),
                adjustment: (l.adjustment * 100.0).round() / 100.0,
                adjusted: two(l.adjusted),
                score: two(l.row.score),
                deduction: l.row.deduction,
                dispatched: l.row.dispatched,
                late: l.row.late,
                escalated: l.row.escalated,
                response_rate: l.row.response_rate,
                completion_rate: l.row.completion_rate,
                on_time_rate: l.row.on_time_rate,
                resolution_rate: l.row.resolution_rate,
                satisfaction_rate: l.row.satisfaction_rate,
            })
            .collect(),
        adjustments: v
            .adjustments
            .into_iter()
            .map(|a| AdjustmentDto {
                unit_id: a.unit_id,
                points: a.centipoints as f64 / 100.0,
                reason: a.reason,
                at: chrono::DateTime::from_timestamp_millis(a.at),
                by: a.by_name,
            })
            .collect(),
    }))
}

/// Close a past month (admin): every peer group's scores are frozen as they are now.
#[utoipa::path(post, path = "/api/evaluations/{month}/close", tag = "stats", params(("month" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn close_evaluation(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    axum::extract::Path(month): axum::extract::Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let cap = p.as_admin()?;
    app.close_evaluation(&cap, &month).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    pub unit_id: i64,
    /// Points added (or, negative, taken off), −100…100.
    pub points: f64,
    pub reason: String,
}

/// Correct a closed month's score of one unit (admin), with the reason.
#[utoipa::path(post, path = "/api/evaluations/{month}/adjustments", tag = "stats", params(("month" = String, Path)), request_body = AdjustmentRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn adjust_evaluation(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    axum::extract::Path(month): axum::extract::Path<String>,
    ApiJson(r): ApiJson<AdjustmentRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let cap = p.as_admin()?;
    app.adjust_evaluation(&cap, &month, UnitId(r.unit_id), r.points, r.reason)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HardCaseParams {
    /// `YYYY-MM`.
    pub month: String,
}

#[derive(Serialize, ToSchema)]
pub struct HardCasePickDto {
    pub unit_id: Option<i64>,
    pub unit_name: Option<String>,
    pub note: String,
    pub by_name: String,
    pub at: chrono::DateTime<Utc>,
}

/// One issue of the month: a category's first two levels in a district.
#[derive(Serialize, ToSchema)]
pub struct HardCaseDto {
    pub category_code: String,
    pub category_name: String,
    pub district_code: String,
    pub district_name: String,
    pub counts: CountsDto,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    /// Orders of the issue in the month before.
    pub previous_accepted: u64,
    /// 难点分 = (called back − resolved) + dissatisfied + 2 × re-handled + 3 × escalated + late.
    pub difficulty: u64,
    /// Set when the issue is one of the month's hard cases.
    pub picked: Option<HardCasePickDto>,
}

#[derive(Serialize, ToSchema)]
pub struct HardCasesDto {
    pub month: String,
    pub from: String,
    pub to: String,
    /// The hardest issues first (20 at most, plus every picked one).
    pub items: Vec<HardCaseDto>,
}

/// 每月一题: the month's hardest issues (category × district) from the figures, and the
/// ones picked for concentrated handling (centre staff).
#[utoipa::path(get, path = "/api/supervision/hard-cases", tag = "stats", params(HardCaseParams),
    responses((status = 200, body = HardCasesDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn hard_cases(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<HardCaseParams>, QueryRejection>,
) -> ApiResult<Json<HardCasesDto>> {
    let q = query(q)?;
    let (period, items) = app.hard_cases(&p, &q.month).await?;
    let round = |x: Option<f64>| x.map(|v| (v * 10_000.0).round() / 10_000.0);
    Ok(Json(HardCasesDto {
        month: period.from.format("%Y-%m").to_string(),
        from: period.from.to_string(),
        to: period.to.to_string(),
        items: items
            .into_iter()
            .map(|h| HardCaseDto {
                category_code: h.category.0,
                category_name: h.category.1,
                district_code: h.district.0,
                district_name: h.district.1,
                resolution_rate: round(h.rates.resolution_rate),
                satisfaction_rate: round(h.rates.satisfaction_rate),
                counts: h.counts.into(),
                previous_accepted: h.previous,
                difficulty: h.difficulty,
                picked: h.picked.map(|k| HardCasePickDto {
                    unit_id: k.unit.as_ref().map(|u| u.0.0),
                    unit_name: k.unit.map(|u| u.1),
                    note: k.note,
                    by_name: k.by_name,
                    at: k.at,
                }),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HardCasePickRequest {
    /// A first- or second-level category code.
    pub category: String,
    /// A district code (six digits).
    pub district: String,
    /// The unit made responsible.
    pub unit_id: Option<i64>,
    /// Why, and what is asked of the unit.
    pub note: String,
}

/// Pick an issue as one of the month's hard cases (supervisors, administrators).
#[utoipa::path(post, path = "/api/supervision/hard-cases/{month}", tag = "stats", params(("month" = String, Path)), request_body = HardCasePickRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pick_hard_case(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    axum::extract::Path(month): axum::extract::Path<String>,
    ApiJson(r): ApiJson<HardCasePickRequest>,
) -> ApiResult<axum::http::StatusCode> {
    app.pick_hard_case(
        &p,
        &month,
        r.category.trim(),
        r.district.trim(),
        r.unit_id.map(UnitId),
        r.note,
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct YearLineDto {
    pub unit_id: i64,
    pub unit_name: String,
    pub rank: usize,
    /// Mean adjusted score over the closed months the unit was scored in.
    pub mean: f64,
    pub months: usize,
}

#[derive(Serialize, ToSchema)]
pub struct YearDto {
    pub year: i32,
    pub kind: String,
    /// The closed months it is made of.
    pub months: Vec<String>,
    pub items: Vec<YearLineDto>,
}

/// A year's evaluation of one peer group: the mean of its closed months.
#[utoipa::path(get, path = "/api/evaluations/year/{year}", tag = "stats", params(("year" = i32, Path), KindParams),
    responses((status = 200, body = YearDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn year_evaluation(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    axum::extract::Path(year): axum::extract::Path<i32>,
    q: Result<Query<KindParams>, QueryRejection>,
) -> ApiResult<Json<YearDto>> {
    let q = query(q)?;
    let kind = kind_of(q.kind.as_deref())?;
    let (months, lines) = app.year_evaluation(&p, year, kind).await?;
    Ok(Json(YearDto {
        year,
        kind: kind.as_str().to_string(),
        months,
        items: lines
            .into_iter()
            .map(|l| YearLineDto {
                unit_id: l.unit_id,
                unit_name: l.unit_name,
                rank: l.rank,
                mean: (l.mean * 100.0).round() / 100.0,
                months: l.months,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct DistrictDto {
    pub code: String,
    pub name: String,
    /// Orders over the last 30 days.
    pub orders: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DayDto {
    pub date: String,
    pub orders: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CockpitWarningDto {
    pub category: String,
    pub region: String,
    pub count: i64,
    pub baseline: f64,
    pub level: String,
}

/// The leader cockpit in one read.
#[derive(Serialize, ToSchema)]
pub struct CockpitDto {
    pub today: String,
    pub accepted_today: i64,
    /// This month so far (the same as `/api/stats/rates` for it).
    pub month: RatesDto,
    /// The best departments this month by evaluation score (at most 10).
    pub departments: Vec<RankedDto>,
    /// Requests per district over the last 30 days (the heat map), most first.
    pub districts: Vec<DistrictDto>,
    /// Requests per day over the last 30 days.
    pub trend: Vec<DayDto>,
    pub warnings: Vec<CockpitWarningDto>,
}

fn rates_dto(r: crate::app::stats::RateReport) -> RatesDto {
    let round = |x: Option<f64>| x.map(|v| (v * 10_000.0).round() / 10_000.0);
    RatesDto {
        from: r.period.from.to_string(),
        to: r.period.to.to_string(),
        unit_id: r.unit.as_ref().map(|(u, _)| u.0),
        unit_name: r.unit.map(|(_, n)| n),
        response_rate: round(r.rates.response_rate),
        completion_rate: round(r.rates.completion_rate),
        on_time_rate: round(r.rates.on_time_rate),
        resolution_rate: round(r.rates.resolution_rate),
        satisfaction_rate: round(r.rates.satisfaction_rate),
        instant_answer_rate: round(r.rates.instant_answer_rate),
        callback_rate: round(r.rates.callback_rate),
        connect_rate: None,
        calls: None,
        counts: r.counts.into(),
        formulas: r.formulas.into(),
    }
}

fn ranked_dto(r: crate::app::stats::Ranked) -> RankedDto {
    let round = |x: Option<f64>| x.map(|v| (v * 10_000.0).round() / 10_000.0);
    RankedDto {
        unit_id: r.unit.0,
        unit_name: r.name,
        rank: r.rank,
        score: r.score.map(|s| (s * 100.0).round() / 100.0),
        deduction: (r.deduction * 100.0).round() / 100.0,
        evaluation: r.evaluation.map(|s| (s * 100.0).round() / 100.0),
        response_rate: round(r.rates.response_rate),
        completion_rate: round(r.rates.completion_rate),
        on_time_rate: round(r.rates.on_time_rate),
        resolution_rate: round(r.rates.resolution_rate),
        satisfaction_rate: round(r.rates.satisfaction_rate),
        counts: r.counts.into(),
    }
}

/// The leader cockpit (领导驾驶舱): today's volume, this month's rates, the best departments,
/// requests over the districts, the 30-day trend and today's warnings (centre staff).
#[utoipa::path(get, path = "/api/cockpit", tag = "stats",
    responses((status = 200, body = CockpitDto), (status = 403, body = ErrorBody)))]
async fn cockpit(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<CockpitDto>> {
    let c = app.cockpit(&p).await?;
    Ok(Json(CockpitDto {
        today: c.today.to_string(),
        accepted_today: c.accepted_today,
        month: rates_dto(c.month),
        departments: c.departments.into_iter().map(ranked_dto).collect(),
        districts: c
            .districts
            .into_iter()
            .map(|(code, name, orders)| DistrictDto { code, name, orders })
            .collect(),
        trend: c
            .trend
            .into_iter()
            .map(|(d, orders)| DayDto {
                date: d.to_string(),
                orders,
            })
            .collect(),
        warnings: c
            .warnings
            .into_iter()
            .map(|w| CockpitWarningDto {
                category: w.category.1,
                region: w.region.1,
                count: w.count,
                baseline: w.baseline,
                level: w.level.to_string(),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SectionDto {
    /// How many orders the list has (at most 200 are listed).
    pub total: usize,
    pub items: Vec<OrderSummaryDto>,
}

/// The supervisor's board (督办看板).
#[derive(Serialize, ToSchema)]
pub struct BoardDto {
    /// Open orders whose running deadline has passed (逾期).
    pub overdue: SectionDto,
    /// Returned by units twice or more (存疑工单).
    pub returned_twice: SectionDto,
    /// Re-handled after a callback and still open (重办).
    pub rehandled: SectionDto,
    /// Open repeats (重复诉求).
    pub repeats: SectionDto,
    /// Closed unsatisfied after the last round of re-handling, last 30 days (转督办).
    pub escalated: SectionDto,
    /// Supervision notices awaiting their unit's response, and those past their time.
    pub notices_pending: SectionDto,
    pub notices_overdue: SectionDto,
}

/// The orders that need the centre's attention now (centre staff).
#[utoipa::path(get, path = "/api/supervision/board", tag = "stats",
    responses((status = 200, body = BoardDto), (status = 403, body = ErrorBody)))]
async fn board(State(app): State<AppState>, AuthUser(p): AuthUser) -> ApiResult<Json<BoardDto>> {
    let now = Utc::now();
    let b = app.supervision_board(&p, now).await?;
    let section = |s: crate::app::supervision::Section| SectionDto {
        total: s.total,
        items: s
            .items
            .iter()
            .map(|v| OrderSummaryDto::of(v, now))
            .collect(),
    };
    Ok(Json(BoardDto {
        overdue: section(b.overdue),
        returned_twice: section(b.returned_twice),
        rehandled: section(b.rehandled),
        repeats: section(b.repeats),
        escalated: section(b.escalated),
        notices_pending: section(b.notices_pending),
        notices_overdue: section(b.notices_overdue),
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(rates))
        .routes(routes!(stat_orders))
        .routes(routes!(get_formulas, put_formulas))
        .routes(routes!(presets))
        .routes(routes!(ranking))
        .routes(routes!(report))
        .routes(routes!(kept_reports))
        .routes(routes!(kept_report))
        .routes(routes!(board))
        .routes(routes!(hard_cases))
        .routes(routes!(pick_hard_case))
        .routes(routes!(cockpit))
        .routes(routes!(evaluation))
        .routes(routes!(close_evaluation))
        .routes(routes!(adjust_evaluation))
        .routes(routes!(year_evaluation))
}
