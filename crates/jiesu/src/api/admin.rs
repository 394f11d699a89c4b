//! Administration endpoints and the reference lists every screen needs.

use super::auth::AuthUser;
use super::{ApiJson, ApiResult, AppState, ErrorBody};
use crate::app::AppError;
use crate::app::admin::UserInput;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiesu_core::org::UnitKind;
use jiesu_core::role::{Role, RoleSet, Scope, ScopeSet};
use jiesu_core::{OrderId, UnitId, UserId};
use jiesu_store::catalog::Region;
use jiesu_store::org::UnitInput;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct UnitDto {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// city_centre, district_centre, department, town, community, grid
    pub kind: String,
    pub kind_label: String,
    pub name: String,
    pub region_code: Option<String>,
    pub active: bool,
}

#[derive(Serialize, ToSchema)]
pub struct UnitsResponse {
    pub items: Vec<UnitDto>,
}

/// The organisation tree as a flat list (parents before children within a level order).
#[utoipa::path(get, path = "/api/units", tag = "admin", responses((status = 200, body = UnitsResponse)))]
async fn list_units(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<UnitsResponse>> {
    let units = app.store.units(p.tenant).await.map_err(AppError::from)?;
    Ok(Json(UnitsResponse {
        items: units
            .into_iter()
            .map(|u| UnitDto {
                id: u.id.0,
                parent_id: u.parent_id.map(|x| x.0),
                kind: u.kind.as_str().into(),
                kind_label: u.kind.label().into(),
                name: u.name,
                region_code: u.region_code,
                active: u.active,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitRequest {
    pub parent_id: Option<i64>,
    pub kind: String,
    pub name: String,
    pub region_code: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl UnitRequest {
    fn parse(self) -> ApiResult<UnitInput> {
        let kind = UnitKind::parse(&self.kind).ok_or_else(|| {
            AppError::invalid(
                "kind",
                "可选：city_centre, district_centre, department, town, community, grid",
            )
        })?;
        Ok(UnitInput {
            parent_id: self.parent_id.map(UnitId),
            kind,
            name: self.name,
            region_code: self.region_code.filter(|r| !r.trim().is_empty()),
            active: self.active,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct IdResponse {
    pub id: i64,
}

/// Add a unit to the tree (admin).
#[utoipa::path(post, path = "/api/units", tag = "admin", request_body = UnitRequest,
    responses((status = 201, body = IdResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_unit(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<UnitRequest>,
) -> ApiResult<(StatusCode, Json<IdResponse>)> {
    let cap = p.as_admin()?;
    let id = app.create_unit(&cap, r.parse()?).await?;
    Ok((StatusCode::CREATED, Json(IdResponse { id: id.0 })))
}

/// Rename, move, re-type or deactivate a unit (admin).
#[utoipa::path(put, path = "/api/units/{id}", tag = "admin", params(("id" = i64, Path)), request_body = UnitRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_unit(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<UnitRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.update_unit(&cap, UnitId(id), r.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    pub roles: Vec<String>,
    pub active: bool,
    pub system_account: bool,
}

#[derive(Serialize, ToSchema)]
pub struct UsersResponse {
    pub items: Vec<UserDto>,
}

/// Accounts: all of them for admins; a unit's own staff for its unit admin.
#[utoipa::path(get, path = "/api/users", tag = "admin", responses((status = 200, body = UsersResponse), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<UsersResponse>> {
    p.require_any(&[Role::Admin, Role::UnitAdmin], "查看用户")?;
    let subtree = if p.has(Role::Admin) {
        None
    } else {
        Some(app.org(p.tenant).await?.subtree(p.unit_id))
    };
    let users = app.store.users(p.tenant).await.map_err(AppError::from)?;
    Ok(Json(UsersResponse {
        items: users
            .into_iter()
            .filter(|u| subtree.as_ref().is_none_or(|s| s.contains(&u.unit_id)))
            .map(|u| UserDto {
                id: u.id.0,
                username: u.username,
                display_name: u.display_name,
                unit_id: u.unit_id.0,
                roles: u.roles.iter().map(|r| r.as_str().to_string()).collect(),
                active: u.active,
                system_account: u.system_account,
            })
            .collect(),
    }))
}

fn parse_roles(roles: &[String]) -> ApiResult<RoleSet> {
    let mut set = RoleSet::default();
    for (i, r) in roles.iter().enumerate() {
        set.insert(
            r.parse::<Role>()
                .map_err(|m| AppError::invalid(format!("roles[{i}]"), m))?,
        );
    }
    Ok(set)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub unit_id: i64,
    /// agent, dispatcher, handler, unit_admin, callback, supervisor, leader, admin
    pub roles: Vec<String>,
}

/// Create a staff account (admin).
#[utoipa::path(post, path = "/api/users", tag = "admin", request_body = CreateUserRequest,
    responses((status = 201, body = IdResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<IdResponse>)> {
    let cap = p.as_admin()?;
    let roles = parse_roles(&r.roles)?;
    let id = app
        .create_user(
            &cap,
            UserInput {
                username: r.username.trim().to_string(),
                display_name: r.display_name,
                password: Some(r.password),
                unit_id: UnitId(r.unit_id),
                roles,
                system_account: false,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(IdResponse { id: id.0 })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: String,
    pub unit_id: i64,
    pub roles: Vec<String>,
    pub active: bool,
}

/// Change a user's name, unit, roles or activity (admin). Deactivation ends their sessions.
#[utoipa::path(put, path = "/api/users/{id}", tag = "admin", params(("id" = i64, Path)), request_body = UpdateUserRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_user(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<UpdateUserRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    let roles = parse_roles(&r.roles)?;
    app.update_user(
        &cap,
        UserId(id),
        &r.display_name,
        UnitId(r.unit_id),
        roles,
        r.active,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    pub password: String,
}

/// Set a new password (admin); the user's sessions end.
#[utoipa::path(post, path = "/api/users/{id}/password", tag = "admin", params(("id" = i64, Path)), request_body = PasswordRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reset_password(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<PasswordRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.reset_password(&cap, UserId(id), r.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct CategoryDto {
    pub code: String,
    pub parent_code: Option<String>,
    pub name: String,
    pub level: i32,
    pub active: bool,
    /// Words that signal the category in a request; they seed the dispatch suggestion.
    pub keywords: Vec<String>,
}

impl From<jiesu_store::catalog::Category> for CategoryDto {
    fn from(c: jiesu_store::catalog::Category) -> Self {
        CategoryDto {
            code: c.code,
            parent_code: c.parent_code,
            name: c.name,
            level: c.level,
            active: c.active,
            keywords: c.keywords,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoriesResponse {
    pub items: Vec<CategoryDto>,
}

/// The request-category tree (诉求分类).
#[utoipa::path(get, path = "/api/categories", tag = "admin", responses((status = 200, body = CategoriesResponse)))]
async fn list_categories(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<CategoriesResponse>> {
    let cats = app
        .store
        .categories(p.tenant)
        .await
        .map_err(AppError::from)?;
    Ok(Json(CategoriesResponse {
        items: cats.into_iter().map(CategoryDto::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategoryRequest {
    pub code: String,
    pub parent_code: Option<String>,
    pub name: String,
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// Add a category (admin).
#[utoipa::path(post, path = "/api/categories", tag = "admin", request_body = CreateCategoryRequest,
    responses((status = 201), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_category(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<CreateCategoryRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.create_category(&cap, r.code, r.parent_code, r.name, r.keywords)
        .await?;
    Ok(StatusCode::CREATED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategoryRequest {
    pub name: String,
    pub active: bool,
    /// Replaces the keywords when given; absent keeps them.
    pub keywords: Option<Vec<String>>,
}

/// Rename or deactivate a category, or set its keywords (admin).
#[utoipa::path(put, path = "/api/categories/{code}", tag = "admin", params(("code" = String, Path)), request_body = UpdateCategoryRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_category(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(code): Path<String>,
    ApiJson(r): ApiJson<UpdateCategoryRequest>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.update_category(&cap, &code, r.name, r.active, r.keywords)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionDto {
    pub code: String,
    pub name: String,
    pub level: i32,
    pub parent_code: Option<String>,
}

impl From<jiesu_store::catalog::Region> for RegionDto {
    fn from(r: jiesu_store::catalog::Region) -> Self {
        RegionDto {
            code: r.code,
            name: r.name,
            level: r.level,
            parent_code: r.parent_code,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RegionsResponse {
    pub items: Vec<RegionDto>,
}

/// The administrative divisions this platform serves.
#[utoipa::path(get, path = "/api/regions", tag = "admin", responses((status = 200, body = RegionsResponse)))]
async fn list_regions(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<RegionsResponse>> {
    let regions = app.store.regions(p.tenant).await.map_err(AppError::from)?;
    Ok(Json(RegionsResponse {
        items: regions.into_iter().map(RegionDto::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRegionsRequest {
    pub items: Vec<RegionDto>,
}

#[derive(Serialize, ToSchema)]
pub struct CountResponse {
    pub count: u64,
}

/// Add divisions (parents first; existing codes are kept) (admin).
#[utoipa::path(post, path = "/api/regions", tag = "admin", request_body = AddRegionsRequest,
    responses((status = 200, body = CountResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_regions(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<AddRegionsRequest>,
) -> ApiResult<Json<CountResponse>> {
    let cap = p.as_admin()?;
    let regions = r
        .items
        .into_iter()
        .map(|r| Region {
            code: r.code,
            name: r.name,
            level: r.level,
            parent_code: r.parent_code,
        })
        .collect();
    let count = app.add_regions(&cap, regions).await?;
    Ok(Json(CountResponse { count }))
}

#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked: bool,
    /// The interfaces the token may use: `api`, `open311`, `transfer`, `telephony`, `grid`.
    pub scopes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokensResponse {
    pub items: Vec<TokenDto>,
}

/// API tokens of other systems (admin).
#[utoipa::path(get, path = "/api/tokens", tag = "admin", responses((status = 200, body = TokensResponse), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
) -> ApiResult<Json<TokensResponse>> {
    p.as_admin()?;
    let tokens = app
        .store
        .api_tokens(p.tenant)
        .await
        .map_err(AppError::from)?;
    Ok(Json(TokensResponse {
        items: tokens
            .into_iter()
            .map(|t| TokenDto {
                id: t.id,
                user_id: t.user_id.0,
                name: t.name,
                created_at: t.created_at,
                expires_at: t.expires_at,
                revoked: t.revoked,
                scopes: t.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// The system, e.g. "110 联动平台".
    pub name: String,
    /// The unit the system acts for.
    pub unit_id: i64,
    pub roles: Vec<String>,
    pub expires_days: Option<u32>,
    /// The interfaces it may use (`api`, `open311`, `transfer`, `telephony`, `grid`);
    /// default `["api"]`, the JSON API in the given roles.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreateTokenResponse {
    pub id: i64,
    /// Shown once; send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Issue an API token for another system (admin). The token is shown only in this response.
#[utoipa::path(post, path = "/api/tokens", tag = "admin", request_body = CreateTokenRequest,
    responses((status = 201, body = CreateTokenResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(r): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreateTokenResponse>)> {
    let cap = p.as_admin()?;
    let roles = parse_roles(&r.roles)?;
    if roles.contains(Role::Admin) {
        return Err(AppError::invalid("roles", "API 令牌不能拥有管理员角色").into());
    }
    if r.expires_days == Some(0) {
        return Err(AppError::invalid("expires_days", "有效期至少 1 天").into());
    }
    let scopes = match &r.scopes {
        None => ScopeSet::of(&[Scope::Api]),
        Some(v) => {
            let set =
                ScopeSet::parse_csv(&v.join(",")).map_err(|m| AppError::invalid("scopes", m))?;
            if set.is_empty() {
                return Err(AppError::invalid("scopes", "至少选择一个接口范围").into());
            }
            set
        }
    };
    let (id, token) = app
        .create_api_token(
            &cap,
            r.name,
            UnitId(r.unit_id),
            roles,
            r.expires_days,
            scopes,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreateTokenResponse { id, token })))
}

/// Revoke a token at once (admin).
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let cap = p.as_admin()?;
    app.revoke_api_token(&cap, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only reads of this order's personal data.
    pub order_id: Option<i64>,
    /// 1–1000, default 200.
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditResponse {
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<jiesu_store::audit::AuditEntry>,
    #[schema(value_type = Vec<Object>)]
    pub personal_data_reads: Vec<jiesu_store::audit::PiiRead>,
}

/// The audit trail: administrative changes and reads of citizens' personal data (admin, supervisor).
#[utoipa::path(get, path = "/api/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = AuditResponse), (status = 403, body = ErrorBody)))]
async fn audit(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditResponse>> {
    p.require_any(&[Role::Admin, Role::Supervisor], "查看审计记录")?;
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let changes = if p.has(Role::Admin) {
        app.store
            .audit_log(p.tenant, limit)
            .await
            .map_err(AppError::from)?
    } else {
        Vec::new()
    };
    let reads = app
        .store
        .pii_reads(p.tenant, q.order_id.map(OrderId), limit)
        .await
        .map_err(AppError::from)?;
    Ok(Json(AuditResponse {
        changes,
        personal_data_reads: reads,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CodeLabel {
    pub code: &'static str,
    pub label: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct MetaResponse {
    pub channels: Vec<CodeLabel>,
    pub request_types: Vec<CodeLabel>,
    pub urgencies: Vec<CodeLabel>,
    pub statuses: Vec<CodeLabel>,
    pub assignment_statuses: Vec<CodeLabel>,
    pub satisfactions: Vec<CodeLabel>,
    pub roles: Vec<CodeLabel>,
    pub unit_kinds: Vec<CodeLabel>,
}

/// `CodeLabel`s of every value of a coded enum.
macro_rules! labels {
    ($t:ty) => {
        <$t>::ALL
            .iter()
            .map(|v| $crate::api::admin::CodeLabel {
                code: v.as_str(),
                label: v.label(),
            })
            .collect()
    };
}
pub(crate) use labels;

/// Codes and their Chinese labels, for pickers.
#[utoipa::path(get, path = "/api/meta", tag = "admin", security(()), responses((status = 200, body = MetaResponse)))]
async fn meta() -> Json<MetaResponse> {
    use jiesu_core::order::*;
    Json(MetaResponse {
        channels: labels!(Channel),
        request_types: labels!(RequestType),
        urgencies: labels!(Urgency),
        statuses: labels!(Status),
        assignment_statuses: labels!(AssignmentStatus),
        satisfactions: labels!(Satisfaction),
        roles: Role::ALL
            .iter()
            .map(|r| CodeLabel {
                code: r.as_str(),
                label: r.label(),
            })
            .collect(),
        unit_kinds: UnitKind::ALL
            .iter()
            .map(|k| CodeLabel {
                code: k.as_str(),
                label: k.label(),
            })
            .collect(),
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_units, create_unit))
        .routes(routes!(update_unit))
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
        .routes(routes!(reset_password))
        .routes(routes!(list_categories, create_category))
        .routes(routes!(update_category))
        .routes(routes!(list_regions, add_regions))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(audit))
        .routes(routes!(meta))
}
