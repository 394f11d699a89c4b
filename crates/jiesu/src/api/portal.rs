//! `/api/public`: the citizen portal (码上说), without a staff login. A citizen submits a
//! request and gets its number and a query code; with both they follow its progress, read
//! the reply and rate it. What they see is the citizen's view: steps in plain words, no
//! staff names, no internal notes.

use super::admin::{CategoryDto, CodeLabel, RegionDto, labels};
use super::dto::{CitizenInput, CreateOrderRequest};
use super::{ApiError, ApiJson, ApiResult, AppState, ErrorBody};
use crate::app::AppError;
use crate::app::portal::Followed;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jiesu_core::order::{EventKind, RequestType, Satisfaction, Status};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TenantQuery {
    /// The hotline (tenant code); default: the server's default tenant.
    pub tenant: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicMeta {
    pub centre_name: String,
    pub request_types: Vec<CodeLabel>,
    pub satisfactions: Vec<CodeLabel>,
    /// Active categories, parents before children.
    pub categories: Vec<CategoryDto>,
    pub regions: Vec<RegionDto>,
}

/// What the portal needs for its pickers.
#[utoipa::path(get, path = "/api/public/meta", tag = "portal", security(()), params(TenantQuery),
    responses((status = 200, body = PublicMeta), (status = 422, body = ErrorBody)))]
async fn public_meta(
    State(app): State<AppState>,
    Query(q): Query<TenantQuery>,
) -> ApiResult<Json<PublicMeta>> {
    let tenant = app.resolve_tenant(q.tenant.as_deref()).await?;
    let name = app
        .store
        .tenants()
        .await
        .map_err(AppError::from)?
        .into_iter()
        .find(|t| t.id == tenant)
        .map(|t| t.name)
        .unwrap_or_default();
    let categories = app
        .store
        .categories(tenant)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .filter(|c| c.active)
        .map(CategoryDto::from)
        .collect();
    let regions = app
        .store
        .regions(tenant)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(RegionDto::from)
        .collect();
    Ok(Json(PublicMeta {
        centre_name: name,
        request_types: labels!(RequestType),
        satisfactions: labels!(Satisfaction),
        categories,
        regions,
    }))
}

/// A citizen's request from the portal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "request_type": "complaint", "category": "01.05.03", "region_code": "990103001",
    "address": "洋湖街道某小区3号楼", "content": "楼下烧烤店油烟扰民，晚上十二点还在营业。",
    "name": "张先生", "phone": "13800138000"
}))]
pub struct PublicRequest {
    /// consultation, help, complaint, report, suggestion, praise
    pub request_type: String,
    pub category: Option<String>,
    pub region_code: Option<String>,
    pub address: Option<String>,
    pub content: String,
    pub name: Option<String>,
    /// So that the handling unit can reach the citizen; required.
    pub phone: Option<String>,
    /// `web` (default), `qr_code` (scanned the printed code) or `mini_program`.
    pub channel: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Submitted {
    pub number: String,
    /// Shown once: with the number it opens the request's progress.
    pub query_code: String,
    pub accepted_at: DateTime<Utc>,
}

/// Submit a request (网上诉求). Answers the order number and its query code.
#[utoipa::path(post, path = "/api/public/requests", tag = "portal", security(()), params(TenantQuery),
    request_body = PublicRequest,
    responses((status = 201, body = Submitted), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit(
    State(app): State<AppState>,
    Query(q): Query<TenantQuery>,
    ApiJson(req): ApiJson<PublicRequest>,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let channel = req.channel.unwrap_or_else(|| "web".into());
    if !["web", "qr_code", "mini_program"].contains(&channel.as_str()) {
        return Err(AppError::invalid("channel", "可选：web, qr_code, mini_program").into());
    }
    let order = CreateOrderRequest {
        channel,
        request_type: req.request_type,
        category: req.category,
        title: None,
        content: req.content,
        citizen: Some(CitizenInput {
            name: req.name,
            phone: req.phone,
            id_number: None,
            anonymous: false,
        }),
        address: req.address,
        region_code: req.region_code,
        lat: None,
        lng: None,
        urgency: None,
        flags: None,
        external_ref: None,
        instant_answer: None,
    };
    // The portal's fields are flat: `citizen.phone` is `phone` here.
    let (new, _) = order.parse().map_err(|mut e| {
        if let Some(f) = e.field.strip_prefix("citizen.") {
            e.field = f.to_string();
        }
        ApiError::from(e)
    })?;
    let s = app.portal_submit(q.tenant.as_deref(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(Submitted {
            number: s.number,
            query_code: s.query_code,
            accepted_at: s.accepted_at,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FollowQuery {
    /// The query code given at submission.
    pub code: String,
    pub tenant: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicStep {
    pub at: DateTime<Utc>,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicReply {
    pub content: String,
    pub at: DateTime<Utc>,
    pub unit_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicRating {
    pub satisfaction: &'static str,
    pub satisfaction_label: &'static str,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// A request as its citizen follows it.
#[derive(Serialize, ToSchema)]
pub struct PublicProgress {
    pub number: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub accepted_at: DateTime<Utc>,
    pub request_type_label: &'static str,
    pub category_label: Option<String>,
    pub content: String,
    pub steps: Vec<PublicStep>,
    /// The reply, once the centre has checked it.
    pub reply: Option<PublicReply>,
    /// True while the reply waits for the citizen's (or a callback's) rating.
    pub can_rate: bool,
    pub rating: Option<PublicRating>,
}

fn step_label(f: &Followed, kind: &EventKind) -> Option<String> {
    let names = |units: &[jiesu_core::UnitId]| {
        units
            .iter()
            .map(|u| f.org.name(*u).to_string())
            .collect::<Vec<_>>()
            .join("、")
    };
    // Assignments are numbered from 1 in the order they were made, and never removed.
    let unit_of = |no: u32| {
        f.order
            .order
            .assignments
            .iter()
            .find(|a| a.no == no)
            .map(|a| f.org.name(a.unit_id).to_string())
            .unwrap_or_else(|| "办理单位".into())
    };
    Some(match kind {
        EventKind::Accepted { .. } => "您的诉求已受理".into(),
        EventKind::InstantAnswered { .. } => "已当场答复并办结".into(),
        EventKind::Dispatched { targets, .. } => {
            let units: Vec<_> = targets.iter().map(|(u, _)| *u).collect();
            format!("已转交{}办理", names(&units))
        }
        EventKind::Signed { assignment } => {
            format!("{}已接收，正在办理", unit_of(*assignment))
        }
        EventKind::ExtensionDecided { approved: true, .. } => "办理期限经批准延长".into(),
        EventKind::Replied { assignment, .. } => {
            format!("{}已提交办理结果", unit_of(*assignment))
        }
        EventKind::Checked { approved: true, .. } => "热线中心已审核答复".into(),
        EventKind::Checked {
            approved: false, ..
        } => "答复未通过审核，重新办理".into(),
        EventKind::CalledBack {
            satisfaction,
            rehandle,
            ..
        } => match rehandle {
            Some(_) => format!("回访评价：{}，重新办理", satisfaction.label()),
            None => format!("回访评价：{}", satisfaction.label()),
        },
        EventKind::ClosedWithoutCallback { .. } => "已办结".into(),
        EventKind::Withdrawn { .. } => "已撤销".into(),
        EventKind::Invalidated { .. } => "经核实为无效诉求，已关闭".into(),
        EventKind::MergedInto { .. } => "已与同一事项的其他诉求合并办理".into(),
        _ => return None,
    })
}

async fn progress(app: &AppState, f: Followed) -> ApiResult<PublicProgress> {
    let o = &f.order.order;
    let category_label = match &o.category {
        Some(c) => app
            .store
            .categories(f.tenant)
            .await
            .ok()
            .and_then(|cats| cats.into_iter().find(|x| x.code == c.as_str()))
            .map(|x| x.name),
        None => None,
    };
    let steps = f
        .events
        .iter()
        .filter_map(|e| {
            step_label(&f, &e.event.kind).map(|label| PublicStep {
                at: e.event.at,
                label,
            })
        })
        .collect();
    let checked = matches!(o.status, Status::CallbackPending | Status::Closed);
    let reply = o.reply.as_ref().filter(|_| checked).map(|r| PublicReply {
        content: r.content.clone(),
        at: r.at,
        unit_name: f.org.name(r.unit_id).to_string(),
    });
    Ok(PublicProgress {
        number: o.number.clone(),
        status: o.status.as_str(),
        status_label: o.status.label(),
        accepted_at: o.accepted_at,
        request_type_label: o.request_type.label(),
        category_label,
        content: o.content.clone(),
        steps,
        reply,
        can_rate: o.status == Status::CallbackPending,
        rating: o.callback.as_ref().map(|c| PublicRating {
            satisfaction: c.satisfaction.as_str(),
            satisfaction_label: c.satisfaction.label(),
            comment: c.comment.clone(),
            at: c.at,
        }),
    })
}

/// Follow a request with its number and query code. A wrong code answers 404, as an
/// unknown number does.
#[utoipa::path(get, path = "/api/public/requests/{number}", tag = "portal", security(()),
    params(("number" = String, Path), FollowQuery),
    responses((status = 200, body = PublicProgress), (status = 404, body = ErrorBody)))]
async fn follow(
    State(app): State<AppState>,
    Path(number): Path<String>,
    Query(q): Query<FollowQuery>,
) -> ApiResult<Json<PublicProgress>> {
    let f = app
        .portal_follow(q.tenant.as_deref(), &number, &q.code)
        .await?;
    Ok(Json(progress(&app, f).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    pub code: String,
    /// satisfied, basically_satisfied, dissatisfied
    pub satisfaction: String,
    pub comment: Option<String>,
}

/// Rate the reply (满意度评价). Satisfied or basically satisfied closes the request;
/// dissatisfied sends it back to be handled again. 409 before the reply is checked.
#[utoipa::path(post, path = "/api/public/requests/{number}/rating", tag = "portal", security(()),
    params(("number" = String, Path), TenantQuery), request_body = RatingRequest,
    responses((status = 200, body = PublicProgress), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rate(
    State(app): State<AppState>,
    Path(number): Path<String>,
    Query(q): Query<TenantQuery>,
    ApiJson(req): ApiJson<RatingRequest>,
) -> ApiResult<Json<PublicProgress>> {
    let satisfaction = Satisfaction::parse("satisfaction", req.satisfaction.trim())?;
    let comment = jiesu_core::values::optional_text("comment", req.comment.as_deref(), 500)?;
    let f = app
        .portal_rate(
            q.tenant.as_deref(),
            &number,
            &req.code,
            satisfaction,
            comment,
        )
        .await?;
    Ok(Json(progress(&app, f).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_meta))
        .routes(routes!(submit))
        .routes(routes!(follow))
        .routes(routes!(rate))
}
