//! Dispatch aids over HTTP: the dispatch catalogue (派单目录) with its versions, the
//! suggestion for a request or an order, and the suggestion's accuracy over time.

use super::auth::AuthUser;
use super::{ApiJson, ApiResult, AppState, ErrorBody, query};
use crate::app::dispatch::{CatalogueView, RequestText, Suggestion};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use jiesu_core::dispatch::{Rule, RuleTarget, RuleUnit};
use jiesu_core::order::AssignmentRole;
use jiesu_core::{FieldError, OrderId, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleUnitDto {
    /// `unit` (a fixed unit) or `territorial` (属地: the unit serving the order's region).
    pub kind: String,
    /// For `kind = unit`.
    #[serde(default)]
    pub unit_id: Option<i64>,
    /// `lead` (主办) or `co` (协办).
    pub role: String,
    /// The unit's name (answers only).
    #[serde(default, skip_deserializing)]
    pub unit_name: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDto {
    /// Category code; the rule covers the categories below it too.
    pub category: String,
    /// Region code; absent: every region. Covers the regions below it.
    #[serde(default)]
    pub region: Option<String>,
    /// The rule applies only when one of these words is in the request.
    #[serde(default)]
    pub keywords: Vec<String>,
    pub units: Vec<RuleUnitDto>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct CatalogueDto {
    /// 0 before the first publication.
    pub version: i32,
    pub rules: Vec<RuleDto>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CatalogueVersionsDto {
    pub items: Vec<CatalogueDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishCatalogueRequest {
    /// The version the edit started from; a newer publication in between answers 409.
    pub base_version: i32,
    pub rules: Vec<RuleDto>,
    /// Why (recorded with the version).
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublishedDto {
    pub version: i32,
}

fn rule_of(i: usize, r: RuleDto) -> Result<Rule, FieldError> {
    let units = r
        .units
        .into_iter()
        .enumerate()
        .map(|(k, u)| {
            let at = |f: &str| format!("rules[{i}].units[{k}].{f}");
            let role = AssignmentRole::parse(&at("role"), &u.role)?;
            let target = match (u.kind.as_str(), u.unit_id) {
                ("unit", Some(id)) => RuleTarget::Unit {
                    unit_id: UnitId(id),
                },
                ("unit", None) => return Err(FieldError::new(at("unit_id"), "请指定单位")),
                ("territorial", _) => RuleTarget::Territorial,
                _ => return Err(FieldError::new(at("kind"), "须为 unit 或 territorial")),
            };
            Ok(RuleUnit { target, role })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule {
        category: r.category,
        region: r.region.filter(|s| !s.trim().is_empty()),
        keywords: r.keywords,
        units,
        priority: r.priority,
        note: r.note,
    })
}

fn dto_of(r: Rule, name: &dyn Fn(UnitId) -> String) -> RuleDto {
    RuleDto {
        category: r.category,
        region: r.region,
        keywords: r.keywords,
        units: r
            .units
            .into_iter()
            .map(|u| match u.target {
                RuleTarget::Unit { unit_id } => RuleUnitDto {
                    kind: "unit".into(),
                    unit_id: Some(unit_id.0),
                    role: u.role.as_str().into(),
                    unit_name: Some(name(unit_id)),
                },
                RuleTarget::Territorial => RuleUnitDto {
                    kind: "territorial".into(),
                    unit_id: None,
                    role: u.role.as_str().into(),
                    unit_name: None,
                },
            })
            .collect(),
        priority: r.priority,
        note: r.note,
    }
}

async fn catalogue_dto(
    app: &AppState,
    p: &crate::app::Principal,
    v: CatalogueView,
) -> ApiResult<CatalogueDto> {
    let org = app.org(p.tenant).await?;
    let name = |id: UnitId| org.name(id).to_string();
    Ok(CatalogueDto {
        version: v.version,
        rules: v.rules.into_iter().map(|r| dto_of(r, &name)).collect(),
        published_at: v.published_at,
        published_by: v.published_by,
        reason: v.reason,
    })
}

/// The dispatch catalogue in force (派单目录): category × region (× keyword) → units.
#[utoipa::path(get, path = "/api/dispatch/catalogue", tag = "dispatch",
    responses((status = 200, body = CatalogueDto), (status = 403, body = ErrorBody)))]
async fn get_catalogue(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<CatalogueDto>> {
    let v = app.catalogue(&p).await?;
    Ok(Json(catalogue_dto(&app, &p, v).await?))
}

/// Publish a new version of the catalogue (admin): the whole set of rules, with the reason.
#[utoipa::path(put, path = "/api/dispatch/catalogue", tag = "dispatch", request_body = PublishCatalogueRequest,
    responses((status = 200, body = PublishedDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn publish_catalogue(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<PublishCatalogueRequest>,
) -> ApiResult<Json<PublishedDto>> {
    let cap = p.as_admin()?;
    let rules = r
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| rule_of(i, r))
        .collect::<Result<Vec<_>, _>>()?;
    let version = app
        .publish_catalogue(&cap, r.base_version, rules, r.reason)
        .await?;
    Ok(Json(PublishedDto { version }))
}

/// Every published version, newest first (without their rules).
#[utoipa::path(get, path = "/api/dispatch/catalogue/versions", tag = "dispatch",
    responses((status = 200, body = CatalogueVersionsDto), (status = 403, body = ErrorBody)))]
async fn catalogue_versions(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<CatalogueVersionsDto>> {
    let items = app
        .catalogue_history(&p)
        .await?
        .into_iter()
        .map(|v| CatalogueDto {
            version: v.version,
            rules: Vec::new(),
            published_at: v.published_at,
            published_by: v.published_by,
            reason: v.reason,
        })
        .collect();
    Ok(Json(CatalogueVersionsDto { items }))
}

/// One published version with its rules.
#[utoipa::path(get, path = "/api/dispatch/catalogue/versions/{version}", tag = "dispatch", params(("version" = i32, Path)),
    responses((status = 200, body = CatalogueDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn catalogue_version(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(version): Path<i32>,
) -> ApiResult<Json<CatalogueDto>> {
    let v = app.catalogue_version(&p, version).await?;
    Ok(Json(catalogue_dto(&app, &p, v).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Serialize, ToSchema)]
pub struct PickDto {
    pub code: String,
    pub name: String,
    /// Calibrated: of suggestions made with confidence 0.8, about 80% are right.
    pub probability: f32,
}

#[derive(Serialize, ToSchema)]
pub struct RegionPickDto {
    pub code: String,
    /// Names from the city down.
    pub path: Vec<String>,
    /// The place names found in the text.
    pub words: Vec<String>,
    /// Codes of equally likely places when the text could mean several.
    pub ambiguous: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UnitPickDto {
    pub unit_id: i64,
    pub name: String,
    /// `lead` or `co`.
    pub role: String,
    /// `catalogue` (a rule) or `history` (learned from past dispatches).
    pub source: String,
}

#[derive(Serialize, ToSchema)]
pub struct RulePickDto {
    pub version: i32,
    /// Position of the rule in that version.
    pub index: usize,
    pub category: String,
    pub region: Option<String>,
    pub keyword: Option<String>,
    pub note: String,
}

/// What to fill in the dispatch dialog, and why.
#[derive(Serialize, ToSchema)]
pub struct SuggestionDto {
    pub category: Option<PickDto>,
    pub alternatives: Vec<PickDto>,
    /// The words that drove the category.
    pub reasons: Vec<String>,
    pub request_type: Option<PickDto>,
    pub region: Option<RegionPickDto>,
    /// Lead first.
    pub units: Vec<UnitPickDto>,
    pub rule: Option<RulePickDto>,
    /// Orders the models learned from; 0: keywords and catalogue only (cold start).
    pub learned_from: usize,
}

fn pick(p: crate::app::dispatch::Pick) -> PickDto {
    PickDto {
        code: p.code,
        name: p.name,
        probability: (p.probability * 1000.0).round() / 1000.0,
    }
}

impl From<Suggestion> for SuggestionDto {
    fn from(s: Suggestion) -> Self {
        SuggestionDto {
            category: s.category.map(pick),
            alternatives: s.alternatives.into_iter().map(pick).collect(),
            reasons: s.reasons,
            request_type: s.request_type.map(pick),
            region: s.region.map(|r| RegionPickDto {
                code: r.code,
                path: r.path,
                words: r.words,
                ambiguous: r.ambiguous,
            }),
            units: s
                .units
                .into_iter()
                .map(|u| UnitPickDto {
                    unit_id: u.unit_id.0,
                    name: u.name,
                    role: u.role.as_str().into(),
                    source: u.source.into(),
                })
                .collect(),
            rule: s.rule.map(|r| RulePickDto {
                version: r.version,
                index: r.index,
                category: r.category,
                region: r.region,
                keyword: r.keyword,
                note: r.note,
            }),
            learned_from: s.learned_from,
        }
    }
}

/// Suggest category, type, region and units for a request being taken (agents, dispatchers).
#[utoipa::path(post, path = "/api/dispatch/suggest", tag = "dispatch", request_body = SuggestRequest,
    responses((status = 200, body = SuggestionDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn suggest(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<SuggestRequest>,
) -> ApiResult<Json<SuggestionDto>> {
    let title = r.title.trim();
    if title.is_empty() && r.content.trim().is_empty() {
        return Err(FieldError::new("title", "标题和内容不能都为空").into());
    }
    if r.title.chars().count() > 200
        || r.content.chars().count() > 10_000
        || r.address.chars().count() > 200
    {
        return Err(FieldError::new("content", "文本过长").into());
    }
    // Without a title, the one the order would get from its content.
    let title = if title.is_empty() {
        super::dto::derive_title(&r.content)
    } else {
        r.title
    };
    let s = app
        .suggest(
            &p,
            &RequestText {
                title,
                content: r.content,
                address: r.address,
            },
        )
        .await?;
    Ok(Json(s.into()))
}

/// The suggestion for an order (its title, content and address).
#[utoipa::path(get, path = "/api/orders/{id}/suggestion", tag = "dispatch", params(("id" = i64, Path)),
    responses((status = 200, body = SuggestionDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn order_suggestion(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<SuggestionDto>> {
    Ok(Json(app.suggest_for_order(&p, OrderId(id)).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccuracyParams {
    /// Days back from now (1–366, default 30).
    pub days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct DayAccuracyDto {
    /// China-time date.
    pub date: String,
    pub dispatches: i64,
    /// Dispatches whose category was the suggested one.
    pub category_hits: i64,
    /// … whose lead unit was the suggested one.
    pub unit_hits: i64,
    pub type_hits: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AccuracyDto {
    pub items: Vec<DayAccuracyDto>,
    pub dispatches: i64,
    /// Shares over the whole period (0 when nothing was dispatched).
    pub category_rate: f64,
    pub unit_rate: f64,
    pub type_rate: f64,
}

/// How often the suggestion matched the dispatchers' final choices, per day.
#[utoipa::path(get, path = "/api/dispatch/accuracy", tag = "dispatch", params(AccuracyParams),
    responses((status = 200, body = AccuracyDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accuracy(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<AccuracyParams>, QueryRejection>,
) -> ApiResult<Json<AccuracyDto>> {
    let q = query(q)?;
    let days = app.suggestion_accuracy(&p, q.days.unwrap_or(30)).await?;
    let n: i64 = days.iter().map(|d| d.dispatches).sum();
    let rate = |f: fn(&jiesu_store::dispatch::DayAccuracy) -> i64| {
        if n == 0 {
            0.0
        } else {
            days.iter().map(f).sum::<i64>() as f64 / n as f64
        }
    };
    Ok(Json(AccuracyDto {
        dispatches: n,
        category_rate: rate(|d| d.category_hits),
        unit_rate: rate(|d| d.unit_hits),
        type_rate: rate(|d| d.type_hits),
        items: days
            .iter()
            .map(|d| DayAccuracyDto {
                date: chrono::DateTime::from_timestamp(d.day * 86_400, 0)
                    .map(|t| t.date_naive().to_string())
                    .unwrap_or_default(),
                dispatches: d.dispatches,
                category_hits: d.category_hits,
                unit_hits: d.unit_hits,
                type_hits: d.type_hits,
            })
            .collect(),
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_catalogue, publish_catalogue))
        .routes(routes!(catalogue_versions))
        .routes(routes!(catalogue_version))
        .routes(routes!(suggest))
        .routes(routes!(order_suggestion))
        .routes(routes!(accuracy))
}
