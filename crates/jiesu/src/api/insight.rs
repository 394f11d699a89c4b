//! Insight over HTTP (研判分析): hot spots, spike warnings, seasonal trends, near-duplicates
//! of an order, and the settings behind repeats and hot spots.

use super::auth::AuthUser;
use super::dto::OrderSummaryDto;
use super::{ApiJson, ApiResult, AppState, ErrorBody, query};
use crate::app::insight::{HotspotView, InsightSettings, china_today};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, NaiveDate, Utc};
use jiesu_core::{FieldError, OrderId};
use jiesu_text::hotspots::Rank;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct CodeName {
    pub code: String,
    pub name: String,
}

fn code_name(c: Option<(String, String)>) -> Option<CodeName> {
    c.map(|(code, name)| CodeName { code, name })
}

#[derive(Serialize, ToSchema)]
pub struct HotspotDto {
    /// Stable while the hot spot lives.
    pub key: String,
    /// The title of the order most like the whole hot spot.
    pub title: String,
    pub representative_id: i64,
    /// The place most of its orders name.
    pub place: String,
    /// The words of the issue.
    pub words: Vec<String>,
    pub size: usize,
    /// Orders in the last 7 days, and in the 7 days before (growth).
    pub recent: usize,
    pub previous: usize,
    /// Distinct callers (reach).
    pub callers: usize,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Orders of it not closed yet.
    pub open: usize,
    pub category: Option<CodeName>,
    pub region: Option<CodeName>,
}

fn hotspot_dto(v: HotspotView) -> HotspotDto {
    HotspotDto {
        key: v.spot.key.to_string(),
        title: v.title,
        representative_id: v.spot.representative,
        place: v.spot.place.clone(),
        words: v.spot.words.clone(),
        size: v.spot.size(),
        recent: v.spot.recent,
        previous: v.spot.previous,
        callers: v.spot.callers,
        first: DateTime::from_timestamp_millis(v.spot.first),
        last: DateTime::from_timestamp_millis(v.spot.last),
        open: v.open,
        category: code_name(v.category),
        region: code_name(v.region),
    }
}

#[derive(Serialize, ToSchema)]
pub struct HotspotList {
    /// False while the server is still building the hot spots (after a start).
    pub ready: bool,
    pub window_days: u32,
    /// Orders in the window.
    pub orders: usize,
    pub items: Vec<HotspotDto>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HotspotParams {
    /// `heat` (size, growth and reach together; default), `size`, `growth` or `reach`.
    pub rank: Option<String>,
    /// Fewest orders in a hot spot (default and least 2).
    pub min_size: Option<usize>,
    /// At most this many (1–200, default 20).
    pub limit: Option<usize>,
}

/// Hot spots (热点): many orders about one issue at one place, ranked.
#[utoipa::path(get, path = "/api/insight/hotspots", tag = "insight", params(HotspotParams),
    responses((status = 200, body = HotspotList), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn hotspots(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<HotspotParams>, QueryRejection>,
) -> ApiResult<Json<HotspotList>> {
    let q = query(q)?;
    let rank = match q.rank.as_deref().unwrap_or("heat") {
        "heat" => Rank::Heat,
        "size" => Rank::Size,
        "growth" => Rank::Growth,
        "reach" => Rank::Reach,
        _ => {
            return Err(FieldError::new("rank", "排序须为 heat、size、growth 或 reach").into());
        }
    };
    let limit = q.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(FieldError::new("limit", "须在 1 至 200 之间").into());
    }
    let list = app
        .hotspots(&p, rank, q.min_size.unwrap_or(2), limit)
        .await?;
    Ok(Json(HotspotList {
        ready: list.ready,
        window_days: list.window_days,
        orders: list.orders,
        items: list.items.into_iter().map(hotspot_dto).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct HotspotDetail {
    #[serde(flatten)]
    pub spot: HotspotDto,
    /// Its orders, newest first.
    pub orders: Vec<OrderSummaryDto>,
}

/// One hot spot with its orders.
#[utoipa::path(get, path = "/api/insight/hotspots/{key}", tag = "insight", params(("key" = String, Path)),
    responses((status = 200, body = HotspotDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn hotspot(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(key): Path<String>,
) -> ApiResult<Json<HotspotDetail>> {
    let key: u64 = key
        .parse()
        .map_err(|_| crate::app::AppError::NotFound("热点"))?;
    let (spot, orders) = app.hotspot(&p, key).await?;
    let now = Utc::now();
    Ok(Json(HotspotDetail {
        spot: hotspot_dto(spot),
        orders: orders.iter().map(|v| OrderSummaryDto::of(v, now)).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WarningParams {
    /// The day (China time, `YYYY-MM-DD`); default today.
    pub date: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WarningDto {
    /// The category (its first two levels).
    pub category: CodeName,
    /// The district.
    pub region: CodeName,
    /// Orders that day.
    pub count: i64,
    /// Mean orders a day over the 28 days before.
    pub baseline: f64,
    pub ratio: f64,
    /// `red` (at least three times the usual level and five standard deviations) or
    /// `yellow` (twice and three).
    pub level: String,
    /// Mean orders a day in the same fortnight a year earlier (seasonal level).
    pub last_year: f64,
}

#[derive(Serialize, ToSchema)]
pub struct WarningList {
    pub date: String,
    pub items: Vec<WarningDto>,
}

fn date_param(field: &str, s: Option<&str>) -> ApiResult<NaiveDate> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(china_today()),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| FieldError::new(field, "日期格式须为 YYYY-MM-DD").into()),
    }
}

/// Spike warnings (预警): category × district counts of a day far above their usual level.
#[utoipa::path(get, path = "/api/insight/warnings", tag = "insight", params(WarningParams),
    responses((status = 200, body = WarningList), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn warnings(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<WarningParams>, QueryRejection>,
) -> ApiResult<Json<WarningList>> {
    let q = query(q)?;
    let date = date_param("date", q.date.as_deref())?;
    let items = app
        .warnings(&p, date)
        .await?
        .into_iter()
        .map(|w| WarningDto {
            category: CodeName {
                code: w.category.0,
                name: w.category.1,
            },
            region: CodeName {
                code: w.region.0,
                name: w.region.1,
            },
            count: w.count,
            baseline: w.baseline,
            ratio: (w.ratio * 100.0).round() / 100.0,
            level: w.level.to_string(),
            last_year: w.last_year,
        })
        .collect();
    Ok(Json(WarningList {
        date: date.to_string(),
        items,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TrendParams {
    /// A category code (and those below it).
    pub category: Option<String>,
    /// A region code (and those below it).
    pub region: Option<String>,
    /// Months back to the current one (1–36, default 12).
    pub months: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct MonthDto {
    /// `YYYY-MM`
    pub month: String,
    pub count: i64,
    /// The same month a year earlier.
    pub last_year: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TrendDto {
    pub items: Vec<MonthDto>,
}

/// Orders per month against the same month last year (seasonal patterns, e.g. heating in
/// November).
#[utoipa::path(get, path = "/api/insight/trend", tag = "insight", params(TrendParams),
    responses((status = 200, body = TrendDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn trend(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<TrendParams>, QueryRejection>,
) -> ApiResult<Json<TrendDto>> {
    let q = query(q)?;
    let items = app
        .trend(
            &p,
            q.category.as_deref().filter(|s| !s.is_empty()),
            q.region.as_deref().filter(|s| !s.is_empty()),
            q.months.unwrap_or(12),
            china_today(),
        )
        .await?
        .into_iter()
        .map(|m| MonthDto {
            month: m.month,
            count: m.count,
            last_year: m.last_year,
        })
        .collect();
    Ok(Json(TrendDto { items }))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsDto {
    /// An order repeats earlier orders of its caller or address within these days (1–365).
    pub repeat_window_days: u32,
    /// How alike two requests must read to be one issue (0–1).
    pub repeat_min_similarity: f32,
    /// Hot spots are found among the orders of these last days (7–365).
    pub hotspot_window_days: u32,
    /// A category in a district warns only from this many orders a day.
    pub warning_min_count: u32,
}

fn settings_dto(s: InsightSettings) -> SettingsDto {
    SettingsDto {
        repeat_window_days: s.repeat_window_days,
        repeat_min_similarity: s.repeat_min_similarity,
        hotspot_window_days: s.hotspot_window_days,
        warning_min_count: s.warning_min_count,
    }
}

/// The settings behind repeats, hot spots and warnings.
#[utoipa::path(get, path = "/api/insight/settings", tag = "insight",
    responses((status = 200, body = SettingsDto), (status = 403, body = ErrorBody)))]
async fn get_settings(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<SettingsDto>> {
    Ok(Json(settings_dto(app.settings_for(&p).await?)))
}

/// Change them (admin).
#[utoipa::path(put, path = "/api/insight/settings", tag = "insight", request_body = SettingsDto,
    responses((status = 200, body = SettingsDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<SettingsDto>,
) -> ApiResult<Json<SettingsDto>> {
    let cap = p.as_admin()?;
    let s = app
        .put_insight_settings(
            &cap,
            InsightSettings {
                repeat_window_days: r.repeat_window_days,
                repeat_min_similarity: r.repeat_min_similarity,
                hotspot_window_days: r.hotspot_window_days,
                warning_min_count: r.warning_min_count,
            },
        )
        .await?;
    Ok(Json(settings_dto(s)))
}

#[derive(Serialize, ToSchema)]
pub struct DuplicateDto {
    #[serde(flatten)]
    pub order: OrderSummaryDto,
    /// How alike it reads (0–1).
    pub similarity: f32,
}

#[derive(Serialize, ToSchema)]
pub struct DuplicateList {
    pub items: Vec<DuplicateDto>,
}

/// Open orders of other callers about the same issue at the same place (疑似重复): candidates
/// to merge into one.
#[utoipa::path(get, path = "/api/orders/{id}/duplicates", tag = "insight", params(("id" = i64, Path)),
    responses((status = 200, body = DuplicateList), (status = 404, body = ErrorBody)))]
async fn duplicates(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<DuplicateList>> {
    let now = Utc::now();
    let items = app
        .duplicates(&p, OrderId(id))
        .await?
        .iter()
        .map(|d| DuplicateDto {
            order: OrderSummaryDto::of(&d.view, now),
            similarity: d.similarity,
        })
        .collect();
    Ok(Json(DuplicateList { items }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(hotspots))
        .routes(routes!(hotspot))
        .routes(routes!(warnings))
        .routes(routes!(trend))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(duplicates))
}
