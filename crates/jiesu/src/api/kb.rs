//! The knowledge base over HTTP: entries and their review, search for the agent's panel,
//! "no answer" searches, synonyms, import and export.

use super::auth::AuthUser;
use super::files::{file_response, xlsx};
use super::{ApiError, ApiJson, ApiResult, AppState, ErrorBody, query};
use crate::app::kb::{EXPIRING_DAYS, SearchInput};
use crate::app::{App, AppError, Principal, RefData};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use jiesu_core::UnitId;
use jiesu_core::calendar::china_offset;
use jiesu_core::kb::{KbAction, KbContent, KbInput, KbState, code};
use jiesu_core::org::OrgTree;
use jiesu_store::kb::{KbFilter, KbRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest knowledge file an import takes.
pub const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

#[derive(Serialize, ToSchema)]
pub struct EntryDto {
    pub id: i64,
    /// `KB-12`: what an instant answer cites.
    pub code: String,
    #[schema(value_type = String, example = "published")]
    pub state: KbState,
    pub state_label: &'static str,
    /// The latest version (shown and edited).
    pub version: u32,
    /// The version search serves; none while unpublished, withdrawn or expired.
    pub live_version: Option<u32>,
    pub title: String,
    pub answer: String,
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub category_name: Option<String>,
    pub unit_id: Option<i64>,
    pub unit_name: Option<String>,
    pub region: Option<String>,
    pub region_name: Option<String>,
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
    /// Live and its validity ends within 30 days: its owner should renew it.
    pub expiring: bool,
    /// Times an instant answer cited it.
    pub usage: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    pub can_edit: bool,
    pub can_review: bool,
    pub can_withdraw: bool,
    /// Every transition, newest first (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryDto>>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryDto {
    pub version: u32,
    #[schema(value_type = String, example = "publish")]
    pub action: KbAction,
    pub action_label: &'static str,
    #[schema(value_type = Option<String>)]
    pub from_state: Option<KbState>,
    #[schema(value_type = String)]
    pub to_state: KbState,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

struct Names<'a> {
    org: &'a OrgTree,
    refs: &'a RefData,
}

impl Names<'_> {
    fn unit(&self, u: Option<UnitId>) -> Option<String> {
        u.map(|u| self.org.name(u).to_string())
    }
    fn category(&self, c: Option<&str>) -> Option<String> {
        c.and_then(|c| self.refs.category_names.get(c).cloned())
    }
    fn region(&self, r: Option<&str>) -> Option<String> {
        r.and_then(|r| self.refs.region_names.get(r).cloned())
    }
}

fn entry_dto(app: &App, p: &Principal, n: &Names<'_>, r: KbRow, now: DateTime<Utc>) -> EntryDto {
    let can_edit = app.can_write(p, n.org, r.content.unit_id);
    let can_review = app.can_review(p, n.org);
    let can_withdraw = app.can_withdraw(p, n.org, &r) && r.state != KbState::Withdrawn;
    let expiring = r.live_version.is_some()
        && r.live_valid_to
            .is_some_and(|t| t > now && t <= now + Duration::days(EXPIRING_DAYS));
    let c = r.content;
    EntryDto {
        id: r.id,
        code: code(r.id),
        state: r.state,
        state_label: r.state.label(),
        version: r.version,
        live_version: r.live_version,
        category_name: n.category(c.category.as_ref().map(|x| x.as_str())),
        unit_name: n.unit(c.unit_id),
        region_name: n.region(c.region.as_ref().map(|x| x.as_str())),
        title: c.title,
        answer: c.answer,
        questions: c.questions,
        tags: c.tags,
        category: c.category.map(|x| x.as_str().to_string()),
        unit_id: c.unit_id.map(|u| u.0),
        region: c.region.map(|x| x.as_str().to_string()),
        effective_from: c.effective_from,
        effective_to: c.effective_to,
        expiring,
        usage: r.usage,
        created_by: r.created_by,
        created_at: r.created_at,
        updated_by: r.updated_by,
        updated_at: r.updated_at,
        can_edit,
        can_review,
        can_withdraw,
        history: None,
    }
}

async fn dto(app: &App, p: &Principal, r: KbRow) -> ApiResult<EntryDto> {
    let org = app.org(p.tenant).await?;
    let refs = app.ref_data(p.tenant).await?;
    let n = Names {
        org: &org,
        refs: &refs,
    };
    Ok(entry_dto(app, p, &n, r, Utc::now()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    pub title: String,
    pub answer: String,
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub unit_id: Option<i64>,
    pub region: Option<String>,
    /// `YYYY-MM-DD`
    pub effective_from: Option<String>,
    /// `YYYY-MM-DD` (the last valid day)
    pub effective_to: Option<String>,
    /// Why (required for an edit: 修改说明).
    pub reason: Option<String>,
    /// The version the editor started from (required for an edit).
    pub expected_version: Option<u32>,
}

impl EntryInput {
    fn content(&self) -> Result<KbContent, jiesu_core::FieldError> {
        KbContent::parse(KbInput {
            title: &self.title,
            answer: &self.answer,
            questions: &self.questions,
            tags: &self.tags,
            category: self.category.as_deref(),
            unit_id: self.unit_id.map(UnitId),
            region: self.region.as_deref(),
            effective_from: self.effective_from.as_deref(),
            effective_to: self.effective_to.as_deref(),
        })
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct KbReason {
    pub reason: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// draft, review, published, expired or withdrawn
    pub state: Option<String>,
    /// Title contains.
    pub q: Option<String>,
    /// This category and below.
    pub category: Option<String>,
    pub unit_id: Option<i64>,
    /// Only live entries whose validity ends within 30 days.
    pub expiring: Option<bool>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryList {
    pub items: Vec<EntryDto>,
    pub total: u64,
}

fn filter_of(q: &ListParams) -> ApiResult<KbFilter> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("limit", "每页 1–500 条").into());
    }
    Ok(KbFilter {
        state: q
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| KbState::parse("state", s))
            .transpose()?,
        unit_id: q.unit_id.map(UnitId),
        title: q
            .q
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        category: q.category.clone().filter(|s| !s.is_empty()),
        live_ending_before: q
            .expiring
            .filter(|e| *e)
            .map(|_| Utc::now() + Duration::days(EXPIRING_DAYS)),
        limit,
        offset: q.offset.unwrap_or(0),
        units: None,
    })
}

/// Entries (most recently changed first). Centre staff see all; unit staff their unit's.
#[utoipa::path(get, path = "/api/kb/entries", tag = "knowledge", params(ListParams),
    responses((status = 200, body = EntryList), (status = 422, body = ErrorBody)))]
async fn list_entries(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<EntryList>> {
    let q = query(q)?;
    let f = filter_of(&q)?;
    let (rows, total) = app.kb_list(&p, f).await?;
    let org = app.org(p.tenant).await?;
    let refs = app.ref_data(p.tenant).await?;
    let n = Names {
        org: &org,
        refs: &refs,
    };
    let now = Utc::now();
    Ok(Json(EntryList {
        items: rows
            .into_iter()
            .map(|r| entry_dto(&app, &p, &n, r, now))
            .collect(),
        total,
    }))
}

/// Write a new entry (a draft). Unit staff write for their own unit.
#[utoipa::path(post, path = "/api/kb/entries", tag = "knowledge", request_body = EntryInput,
    responses((status = 201, body = EntryDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_entry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(i): ApiJson<EntryInput>,
) -> ApiResult<(StatusCode, Json<EntryDto>)> {
    if i.expected_version.is_some() {
        return Err(AppError::invalid("expected_version", "新建条目不需要版本号").into());
    }
    let row = app.kb_create(&p, i.content()?, i.reason.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(dto(&app, &p, row).await?)))
}

/// An entry with its history.
#[utoipa::path(get, path = "/api/kb/entries/{id}", tag = "knowledge", params(("id" = i64, Path)),
    responses((status = 200, body = EntryDto), (status = 404, body = ErrorBody)))]
async fn get_entry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<EntryDto>> {
    let row = app.kb_entry(&p, id).await?;
    let mut d = dto(&app, &p, row).await?;
    let history = app
        .store
        .kb_history(p.tenant, id)
        .await
        .map_err(AppError::from)?;
    d.history = Some(
        history
            .into_iter()
            .map(|h| HistoryDto {
                version: h.version,
                action: h.action,
                action_label: h.action.label(),
                from_state: h.from_state,
                to_state: h.to_state,
                actor: h.actor,
                at: h.at,
                reason: h.reason,
            })
            .collect(),
    );
    Ok(Json(d))
}

/// Edit: a new version, back to draft (a published version stays live until the new one is
/// published). Needs `expected_version` and a `reason`.
#[utoipa::path(put, path = "/api/kb/entries/{id}", tag = "knowledge", params(("id" = i64, Path)), request_body = EntryInput,
    responses((status = 200, body = EntryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn edit_entry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(i): ApiJson<EntryInput>,
) -> ApiResult<Json<EntryDto>> {
    let Some(expected) = i.expected_version else {
        return Err(AppError::invalid("expected_version", "修改须带上所依据的版本号").into());
    };
    let row = app
        .kb_act(
            &p,
            id,
            KbAction::Edit,
            Some(i.content()?),
            Some(expected),
            i.reason.as_deref(),
        )
        .await?;
    Ok(Json(dto(&app, &p, row).await?))
}

async fn act(
    app: &App,
    p: &Principal,
    id: i64,
    action: KbAction,
    body: Option<KbReason>,
) -> ApiResult<Json<EntryDto>> {
    let reason = body.and_then(|b| b.reason);
    let row = app
        .kb_act(p, id, action, None, None, reason.as_deref())
        .await?;
    Ok(Json(dto(app, p, row).await?))
}

/// An optional JSON body (`{}` or none at all).
fn optional_body(body: axum::body::Bytes) -> ApiResult<Option<KbReason>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(None)
    } else {
        super::parse_json(&body).map(Some)
    }
}

/// Submit for review (提交审核).
#[utoipa::path(post, path = "/api/kb/entries/{id}/submit", tag = "knowledge", params(("id" = i64, Path)), request_body = KbReason,
    responses((status = 200, body = EntryDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn submit_entry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<EntryDto>> {
    act(&app, &p, id, KbAction::Submit, optional_body(body)?).await
}

/// Publish (审核发布): the current version becomes the one search serves. Centre reviewers.
#[utoipa::path(post, path = "/api/kb/entries/{id}/publish", tag = "knowledge", params(("id" = i64, Path)), request_body = KbReason,
    responses((status = 200, body = EntryDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn publish_entry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<EntryDto>> {
    act(&app, &p, id, KbAction::Publish, optional_body(body)?).await
}

/// Send back for changes (退回修改), with a reason. Centre reviewers.
#[utoipa::path(post, path = "/api/kb/entries/{id}/reject", tag = "knowledge", params(("id" = i64, Path)), request_body = KbReason,
    responses((status = 200, body = EntryDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reject_entry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<KbReason>,
) -> ApiResult<Json<EntryDto>> {
    act(&app, &p, id, KbAction::Reject, Some(b)).await
}

/// Withdraw (撤回), with a reason: out of search at once.
#[utoipa::path(post, path = "/api/kb/entries/{id}/withdraw", tag = "knowledge", params(("id" = i64, Path)), request_body = KbReason,
    responses((status = 200, body = EntryDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn withdraw_entry(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<KbReason>,
) -> ApiResult<Json<EntryDto>> {
    act(&app, &p, id, KbAction::Withdraw, Some(b)).await
}

#[derive(Serialize, ToSchema)]
pub struct VersionDto {
    pub version: u32,
    pub title: String,
    pub answer: String,
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub unit_id: Option<i64>,
    pub region: Option<String>,
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
    pub author: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    pub items: Vec<VersionDto>,
}

/// Every version's text, newest first, with who wrote it, when and why.
#[utoipa::path(get, path = "/api/kb/entries/{id}/versions", tag = "knowledge", params(("id" = i64, Path)),
    responses((status = 200, body = VersionList), (status = 404, body = ErrorBody)))]
async fn versions(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<VersionList>> {
    app.kb_entry(&p, id).await?;
    let items = app
        .store
        .kb_versions(p.tenant, id)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|v| VersionDto {
            version: v.version,
            title: v.content.title,
            answer: v.content.answer,
            questions: v.content.questions,
            tags: v.content.tags,
            category: v.content.category.map(|x| x.as_str().to_string()),
            unit_id: v.content.unit_id.map(|u| u.0),
            region: v.content.region.map(|x| x.as_str().to_string()),
            effective_from: v.content.effective_from,
            effective_to: v.content.effective_to,
            author: v.author,
            at: v.at,
            reason: v.reason,
        })
        .collect();
    Ok(Json(VersionList { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// The caller's words.
    pub q: Option<String>,
    pub category: Option<String>,
    pub unit_id: Option<i64>,
    /// Entries for this region or above it.
    pub region: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// Typed live (the agent's panel): not logged as a "no answer" search, and `total` is
    /// not counted.
    pub live: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct HitDto {
    pub id: i64,
    pub code: String,
    pub version: u32,
    pub title: String,
    pub score: f32,
    /// The best passage, HTML-escaped, matched words in `<em>`.
    pub highlight: String,
    pub answer: String,
    pub category: Option<String>,
    pub category_name: Option<String>,
    pub unit_id: Option<i64>,
    pub unit_name: Option<String>,
    pub effective_to: Option<NaiveDate>,
    pub usage: u64,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    pub items: Vec<HitDto>,
    /// Entries matching at least one word of the search; for a live search (`live=true`,
    /// not counted, to stay fast while typing) the hits returned up to this page.
    pub total: usize,
}

/// Search published, currently valid entries: Chinese segmentation with local place names,
/// synonyms, highlights; entries that answered more calls rank higher among close matches.
#[utoipa::path(get, path = "/api/kb/search", tag = "knowledge", params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 422, body = ErrorBody)))]
async fn search(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<SearchResponse>> {
    let q = query(q)?;
    if let Some(r) = q.region.as_deref().filter(|s| !s.is_empty()) {
        jiesu_core::values::RegionCode::parse("region", r)?;
    }
    let hits = app
        .kb_search(
            &p,
            SearchInput {
                text: q.q.unwrap_or_default(),
                category: q.category.filter(|s| !s.is_empty()),
                unit_id: q.unit_id.map(UnitId),
                region: q.region.filter(|s| !s.is_empty()),
                limit: q.limit.unwrap_or(10),
                offset: q.offset.unwrap_or(0),
                live: q.live.unwrap_or(false),
            },
        )
        .await?;
    let org = app.org(p.tenant).await?;
    let refs = app.ref_data(p.tenant).await?;
    let n = Names {
        org: &org,
        refs: &refs,
    };
    let day = |ms: i64| {
        // valid_to is the first moment after the last day.
        DateTime::from_timestamp_millis(ms - 1)
            .map(|t| t.with_timezone(&china_offset()).date_naive())
    };
    Ok(Json(SearchResponse {
        total: hits.total,
        items: hits
            .items
            .into_iter()
            .map(|h| HitDto {
                id: h.id as i64,
                code: code(h.id as i64),
                version: h.version as u32,
                title: h.title,
                score: h.score,
                highlight: h.highlight,
                answer: h.answer,
                category_name: n.category(h.category.as_deref()),
                category: h.category,
                unit_name: n.unit(h.unit_id.map(|u| UnitId(u as i64))),
                unit_id: h.unit_id.map(|u| u as i64),
                effective_to: h.valid_to.and_then(day),
                usage: h.usage,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MissDto {
    pub text: String,
    pub count: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MissList {
    pub items: Vec<MissDto>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MissParams {
    pub limit: Option<u64>,
    /// The search text to mark handled (DELETE).
    pub text: Option<String>,
}

fn may_fill_gaps(app: &App, p: &Principal, org: &OrgTree) -> ApiResult<()> {
    if app.can_review(p, org) || p.has(jiesu_core::role::Role::UnitAdmin) {
        Ok(())
    } else {
        Err(
            AppError::Forbidden("查看未找到答案的搜索需要督办员、单位联络员或管理员权限".into())
                .into(),
        )
    }
}

/// Searches that found nothing, most frequent first: the gaps for owners to fill.
#[utoipa::path(get, path = "/api/kb/misses", tag = "knowledge", params(MissParams),
    responses((status = 200, body = MissList), (status = 403, body = ErrorBody)))]
async fn misses(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<MissParams>, QueryRejection>,
) -> ApiResult<Json<MissList>> {
    let q = query(q)?;
    let org = app.org(p.tenant).await?;
    may_fill_gaps(&app, &p, &org)?;
    let items = app
        .store
        .kb_misses(p.tenant, q.limit.unwrap_or(100))
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|m| MissDto {
            text: m.text,
            count: m.count,
            first_at: m.first_at,
            last_at: m.last_at,
        })
        .collect();
    Ok(Json(MissList { items }))
}

/// Mark a "no answer" search handled.
#[utoipa::path(delete, path = "/api/kb/misses", tag = "knowledge", params(MissParams),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn clear_miss(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<MissParams>, QueryRejection>,
) -> ApiResult<StatusCode> {
    let q = query(q)?;
    let org = app.org(p.tenant).await?;
    may_fill_gaps(&app, &p, &org)?;
    let Some(text) = q.text.filter(|t| !t.trim().is_empty()) else {
        return Err(AppError::invalid("text", "请指定要标记为已处理的搜索内容").into());
    };
    if app
        .store
        .kb_clear_miss(p.tenant, &text)
        .await
        .map_err(AppError::from)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("该搜索记录").into())
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SynonymGroups {
    /// Groups of words that mean the same, e.g. `[["医保", "医疗保险"]]`.
    pub groups: Vec<Vec<String>>,
}

/// The tenant's synonym groups.
#[utoipa::path(get, path = "/api/admin/kb/synonyms", tag = "knowledge",
    responses((status = 200, body = SynonymGroups), (status = 403, body = ErrorBody)))]
async fn get_synonyms(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<SynonymGroups>> {
    let cap = p.as_admin()?;
    Ok(Json(SynonymGroups {
        groups: app.synonyms(cap.0.tenant).await?,
    }))
}

/// Replace the synonym groups (take effect at once, no reindex).
#[utoipa::path(put, path = "/api/admin/kb/synonyms", tag = "knowledge", request_body = SynonymGroups,
    responses((status = 200, body = SynonymGroups), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_synonyms(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(b): ApiJson<SynonymGroups>,
) -> ApiResult<Json<SynonymGroups>> {
    let cap = p.as_admin()?;
    Ok(Json(SynonymGroups {
        groups: app.set_synonyms(&cap, b.groups).await?,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
    pub published: usize,
}

/// Import entries from a `.jsonl` or `.xlsx` file (form field `file`); they are published at
/// once. The first bad line stops the import and nothing is stored. Centre reviewers.
#[utoipa::path(post, path = "/api/kb/import", tag = "knowledge",
    request_body(content = super::files::UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = ImportResult), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    mut form: Multipart,
) -> ApiResult<Json<ImportResult>> {
    let read_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::App(AppError::TooLarge("导入文件不能超过 32 MB".into()))
        } else {
            ApiError::Malformed {
                field: Some("file".into()),
                message: format!("无法读取上传内容：{}", e.body_text()),
            }
        }
    };
    let org = app.org(p.tenant).await?;
    if !app.can_review(&p, &org) {
        return Err(
            AppError::Forbidden("导入知识库需要热线中心的督办员或系统管理员权限".into()).into(),
        );
    }
    while let Some(field) = form.next_field().await.map_err(read_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_string();
        let Some(format) = crate::kbfile::format_of(&name) else {
            return Err(AppError::invalid("file", "请上传 .jsonl 或 .xlsx 文件").into());
        };
        let data = field.bytes().await.map_err(read_error)?;
        let refs = app.ref_data(p.tenant).await?;
        // Reading a large workbook is CPU work: done off the runtime's threads.
        let org = org.clone();
        let items =
            tokio::task::spawn_blocking(move || crate::kbfile::parse(&data, format, &org, &refs))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??;
        let n = app.kb_import(&p, items).await?;
        return Ok(Json(ImportResult {
            imported: n,
            published: n,
        }));
    }
    Err(AppError::invalid("file", "缺少文件（表单字段 file）").into())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `xlsx` (default) or `jsonl`
    pub format: Option<String>,
    pub state: Option<String>,
}

/// Export the entries the caller sees (latest versions) to Excel or JSONL; the file imports
/// again.
#[utoipa::path(get, path = "/api/kb/export", tag = "knowledge", params(ExportParams),
    responses((status = 200, description = "an .xlsx workbook or a .jsonl file"), (status = 422, body = ErrorBody)))]
async fn export(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    q: Result<Query<ExportParams>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let format = q.format.as_deref().unwrap_or("xlsx");
    if !matches!(format, "xlsx" | "jsonl") {
        return Err(AppError::invalid("format", "导出格式为 xlsx 或 jsonl").into());
    }
    let base = filter_of(&ListParams {
        state: q.state,
        q: None,
        category: None,
        unit_id: None,
        expiring: None,
        limit: Some(500),
        offset: None,
    })?;
    let org = app.org(p.tenant).await?;
    let mut rows = Vec::new();
    loop {
        let f = KbFilter {
            offset: rows.len() as u64,
            ..base.clone()
        };
        let (page, _) = app.kb_list(&p, f).await?;
        let n = page.len();
        rows.extend(page);
        if n < 500 || rows.len() >= 200_000 {
            break;
        }
    }
    let stamp = Utc::now()
        .with_timezone(&china_offset())
        .format("%Y%m%d-%H%M");
    if format == "jsonl" {
        let mut text = String::new();
        for r in &rows {
            text.push_str(&crate::kbfile::export_json(r, &org));
            text.push('\n');
        }
        return Ok(file_response(
            "application/x-ndjson; charset=utf-8",
            &format!("知识库-{stamp}.jsonl"),
            text.into_bytes(),
        ));
    }
    let cells = rows
        .iter()
        .map(|r| crate::kbfile::export_row(r, &org))
        .collect();
    let bytes = xlsx(
        "知识库",
        &crate::kbfile::EXPORT_HEADERS,
        &crate::kbfile::EXPORT_WIDTHS,
        cells,
    )
    .await?;
    Ok(file_response(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("知识库-{stamp}.xlsx"),
        bytes,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_entries, create_entry))
        .routes(routes!(get_entry, edit_entry))
        .routes(routes!(submit_entry))
        .routes(routes!(publish_entry))
        .routes(routes!(reject_entry))
        .routes(routes!(withdraw_entry))
        .routes(routes!(versions))
        .routes(routes!(search))
        .routes(routes!(misses, clear_miss))
        .routes(routes!(get_synonyms, put_synonyms))
        .routes(routes!(export))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import))
                .layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
}
