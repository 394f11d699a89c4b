//! Order search (full text with the list filters) and similar orders.

use super::auth::AuthUser;
use super::dto::OrderSummaryDto;
use super::orders::{csv_list, parse_time};
use super::{ApiResult, AppState, ErrorBody, query};
use crate::app::search::{OrderFound, OrderSearch, replies};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use jiesu_core::OrderId;
use jiesu_core::order::{RequestType, Status};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words to find in title, content, address and replies.
    pub q: Option<String>,
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Comma-separated request types.
    pub request_type: Option<String>,
    /// This category and below.
    pub category: Option<String>,
    /// This region and below.
    pub region: Option<String>,
    /// Accepted at or after (RFC 3339).
    pub from: Option<String>,
    /// Accepted before (RFC 3339).
    pub to: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct FoundDto {
    #[serde(flatten)]
    pub order: OrderSummaryDto,
    pub score: f32,
    /// The best passage of the content, HTML-escaped, matched words in `<em>`.
    pub highlight: String,
    /// What the units replied (similar orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FoundList {
    pub items: Vec<FoundDto>,
    pub total: usize,
}

fn found(f: OrderFound, now: DateTime<Utc>, with_reply: bool) -> FoundDto {
    let reply = with_reply
        .then(|| replies(&f.view.stored.order))
        .filter(|r| !r.is_empty());
    FoundDto {
        order: OrderSummaryDto::of(&f.view, now),
        score: f.score,
        highlight: f.highlight,
        reply,
    }
}

fn time(field: &str, s: &Option<String>) -> ApiResult<Option<DateTime<Utc>>> {
    s.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time(field, s))
        .transpose()
}

/// Full-text search over the orders the caller may see (same analyzer as the knowledge
/// base, same filters as the lists), best matches first.
#[utoipa::path(get, path = "/api/orders/search", tag = "orders", params(SearchParams),
    responses((status = 200, body = FoundList), (status = 422, body = ErrorBody)))]
async fn search(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<FoundList>> {
    let q = query(q)?;
    if let Some(r) = q.region.as_deref().filter(|s| !s.is_empty()) {
        jiesu_core::values::RegionCode::parse("region", r)?;
    }
    let s = OrderSearch {
        text: q.q.clone().unwrap_or_default(),
        statuses: csv_list("status", &q.status, Status::parse)?
            .into_iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        request_types: csv_list("request_type", &q.request_type, RequestType::parse)?
            .into_iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        category: q.category.clone().filter(|s| !s.is_empty()),
        region: q.region.clone().filter(|s| !s.is_empty()),
        accepted_from: time("from", &q.from)?,
        accepted_to: time("to", &q.to)?,
        limit: q.limit.unwrap_or(20),
        offset: q.offset.unwrap_or(0),
    };
    let (items, total) = app.search_orders(&p, s).await?;
    let now = Utc::now();
    Ok(Json(FoundList {
        items: items.into_iter().map(|f| found(f, now, false)).collect(),
        total,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SimilarParams {
    pub limit: Option<usize>,
}

/// Earlier orders about the same issue, with what the reply was.
#[utoipa::path(get, path = "/api/orders/{id}/similar", tag = "orders", params(("id" = i64, Path), SimilarParams),
    responses((status = 200, body = FoundList), (status = 404, body = ErrorBody)))]
async fn similar(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    q: Result<Query<SimilarParams>, QueryRejection>,
) -> ApiResult<Json<FoundList>> {
    let q = query(q)?;
    let items = app
        .similar_orders(&p, OrderId(id), q.limit.unwrap_or(5))
        .await?;
    let now = Utc::now();
    Ok(Json(FoundList {
        total: items.len(),
        items: items.into_iter().map(|f| found(f, now, true)).collect(),
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(similar))
}
