//! Login, logout, the current user, and the extractor that authenticates every other request.

use super::{ApiError, ApiJson, ApiResult, AppState, ClientIp, ErrorBody, header_str};
use crate::app::auth::SESSION_COOKIE;
use crate::app::{AppError, Principal};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use jiesu_core::role::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The authenticated caller. Cookie sessions making unsafe requests must come from our own
/// origin (a cross-site form cannot act in a user's name).
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(auth) = header_str(&parts.headers, header::AUTHORIZATION) {
            let token = auth
                .strip_prefix("Bearer ")
                .ok_or(ApiError::App(AppError::Unauthenticated))?;
            return match app.token_principal(token.trim()).await? {
                Some(p) if p.may_use(Scope::Api) => Ok(AuthUser(p)),
                Some(_) => Err(AppError::Forbidden(
                    "该令牌只能用于其指定的对接接口，不能调用业务接口".into(),
                )
                .into()),
                None => Err(AppError::Unauthenticated.into()),
            };
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let cookie = jar
            .get(SESSION_COOKIE)
            .ok_or(ApiError::App(AppError::Unauthenticated))?;
        let p = app
            .session_principal(cookie.value())
            .await?
            .ok_or(ApiError::App(AppError::Unauthenticated))?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
            && is_cross_site(parts)
        {
            return Err(AppError::Forbidden("跨站请求被拒绝".into()).into());
        }
        Ok(AuthUser(p))
    }
}

/// The system behind an interface's bearer token, which must hold one of `scopes` (a token
/// for the JSON API alone cannot use the interfaces, and the other way round).
pub async fn interface_principal(
    app: &AppState,
    headers: &HeaderMap,
    scopes: &[Scope],
) -> ApiResult<Principal> {
    let token = header_str(headers, header::AUTHORIZATION)
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or(ApiError::App(AppError::Unauthenticated))?;
    match app.token_principal(token.trim()).await? {
        Some(p)
            if p.token_scopes
                .is_some_and(|s| scopes.iter().any(|x| s.contains(*x))) =>
        {
            Ok(p)
        }
        Some(_) => {
            let names: Vec<&str> = scopes.iter().map(|s| s.label()).collect();
            Err(AppError::Forbidden(format!("该令牌不能用于{}", names.join("或"))).into())
        }
        None => Err(AppError::Unauthenticated.into()),
    }
}

fn is_cross_site(parts: &Parts) -> bool {
    if header_str(
        &parts.headers,
        header::HeaderName::from_static("sec-fetch-site"),
    )
    .is_some_and(|v| v == "cross-site")
    {
        return true;
    }
    match (
        header_str(&parts.headers, header::ORIGIN),
        header_str(&parts.headers, header::HOST),
    ) {
        (Some(origin), Some(host)) => {
            let o = origin.split("://").nth(1).unwrap_or(origin);
            o != host
        }
        _ => false,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Tenant code; may be omitted where the server has a default tenant.
    pub tenant: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user_id: i64,
    pub tenant_id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    pub unit_name: String,
    pub unit_kind: String,
    pub roles: Vec<String>,
}

async fn me_of(app: &AppState, p: &Principal) -> ApiResult<MeResponse> {
    let org = app.org(p.tenant).await?;
    let unit = org.get(p.unit_id);
    Ok(MeResponse {
        user_id: p.user_id.0,
        tenant_id: p.tenant.0,
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        unit_id: p.unit_id.0,
        unit_name: unit.map(|u| u.name.clone()).unwrap_or_default(),
        unit_kind: unit
            .map(|u| u.kind.as_str().to_string())
            .unwrap_or_default(),
        roles: p.roles.iter().map(|r| r.as_str().to_string()).collect(),
    })
}

/// Log in with username and password; sets the session cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn login(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    jar: CookieJar,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    if req.username.trim().is_empty() {
        return Err(AppError::invalid("username", "请输入用户名").into());
    }
    if req.password.is_empty() {
        return Err(AppError::invalid("password", "请输入密码").into());
    }
    let (value, p) = app
        .login(
            req.tenant.as_deref(),
            req.username.trim(),
            &req.password,
            client,
        )
        .await?;
    // No Max-Age: the browser forgets it on close; the server expires it after session_hours.
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.config.cookie_secure)
        .build();
    let body = me_of(&app, &p).await?;
    Ok((jar.add(cookie), Json(body)).into_response())
}

/// End the session.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", responses((status = 204)))]
async fn logout(State(app): State<AppState>, jar: CookieJar) -> ApiResult<Response> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        app.logout(c.value()).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    Ok((jar, axum::http::StatusCode::NO_CONTENT).into_response())
}

/// The current user, their unit and roles.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
async fn me(State(app): State<AppState>, AuthUser(p): AuthUser) -> ApiResult<Json<MeResponse>> {
    Ok(Json(me_of(&app, &p).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}
