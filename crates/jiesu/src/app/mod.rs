//! Use cases: each loads what it needs, checks permission, calls the domain, persists.
//! HTTP handlers and CLI commands both come through here, so there is one path for every change.

pub mod admin;
pub mod auth;
mod cache;
pub mod cockpit;
pub mod dispatch;
pub mod evaluation;
pub mod files;
pub mod hardcase;
pub mod insight;
pub mod kb;
pub mod notify;
pub mod open311;
pub mod orders;
pub mod portal;
pub mod report;
pub mod search;
pub mod stats;
pub mod supervision;
pub mod telephony;
pub mod time;
pub mod transfers;
pub mod webhooks;

use crate::config::Config;
use cache::CACHE_TTL;
use jiesu_core::calendar::{Calendar, CalendarData, WorkingHours};
use jiesu_core::order::Actor;
use jiesu_core::org::OrgTree;
use jiesu_core::role::{Role, RoleSet, Scope, ScopeSet};
use jiesu_core::{DomainError, FieldError, TenantId, UnitId, UserId};
use jiesu_store::{Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How long a node trusts its cached copy of a tenant's organisation tree and code lists
/// before reading them again (other nodes may have changed them).

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("请先登录")]
    Unauthenticated,
    #[error("用户名或密码错误")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}不存在")]
    NotFound(&'static str),
    #[error(transparent)]
    Invalid(FieldError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Calendar(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    /// The database cannot take the request just now (disk full, locked by another process,
    /// read-only): nothing was changed, the request can be repeated later.
    #[error("{}", unavailable_message(*.0))]
    Unavailable(jiesu_store::Unavailable),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a user is told when the database cannot take the request (see `AppError::Unavailable`).
pub fn unavailable_message(u: jiesu_store::Unavailable) -> &'static str {
    match u {
        jiesu_store::Unavailable::Full => {
            "服务器存储空间已满，本次操作未保存，请联系系统管理员处理后重试"
        }
        jiesu_store::Unavailable::Busy => "数据库正被其他程序占用，本次操作未保存，请稍后重试",
        jiesu_store::Unavailable::ReadOnly => {
            "数据库当前为只读状态，本次操作未保存，请联系系统管理员"
        }
    }
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid(FieldError::new(field, message))
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => AppError::Invalid(f),
            DomainError::Forbidden(m) => AppError::Forbidden(m),
            DomainError::Conflict(m) => AppError::Conflict(m),
            DomainError::Calendar(c) => AppError::Calendar(c.to_string()),
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        if let Some(u) = e.unavailable() {
            tracing::warn!(error = %e, "the database cannot take the request");
            return AppError::Unavailable(u);
        }
        match e {
            StoreError::NotFound => AppError::NotFound("记录"),
            StoreError::Concurrent => {
                AppError::Conflict("工单已被他人同时修改，请刷新后重试".into())
            }
            StoreError::Duplicate(what) => {
                AppError::Conflict(format!("{}已存在", duplicate_label(what)))
            }
            e => AppError::Internal(e.to_string()),
        }
    }
}

fn duplicate_label(what: &str) -> &str {
    match what {
        "username" => "用户名",
        "external_ref" => "来源编号（external_ref）",
        "category code" => "分类代码",
        "tenant code" => "租户代码",
        other => other,
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// An authenticated person or system.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub unit_id: UnitId,
    pub roles: RoleSet,
    /// The scopes of the API token the caller came with; `None` for a login session.
    pub token_scopes: Option<ScopeSet>,
}

impl Principal {
    /// A login session may use everything its roles allow; a token only its scopes.
    pub fn may_use(&self, scope: Scope) -> bool {
        self.token_scopes.is_none_or(|s| s.contains(scope))
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user_id,
            username: self.username.clone(),
            roles: self.roles,
            unit_id: self.unit_id,
        }
    }

    pub fn has(&self, r: Role) -> bool {
        self.roles.contains(r)
    }

    /// The admin capability: only code holding one can reach administrative operations.
    pub fn as_admin(&self) -> AppResult<AdminCap<'_>> {
        if self.has(Role::Admin) {
            Ok(AdminCap(self))
        } else {
            Err(AppError::Forbidden("需要系统管理员权限".into()))
        }
    }

    /// Requires one of `roles`.
    pub fn require_any(&self, roles: &[Role], what: &str) -> AppResult<()> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.label()).collect();
            Err(AppError::Forbidden(format!(
                "{what}需要以下角色之一：{}",
                names.join("、")
            )))
        }
    }
}

/// Proof that the holder is an administrator.
pub struct AdminCap<'a>(pub &'a Principal);

/// Codes a tenant accepts, for validating input.
#[derive(Debug, Default)]
pub struct RefData {
    pub categories: HashSet<String>,
    pub regions: HashSet<String>,
    /// Names by code (inactive categories too, for showing old records).
    pub category_names: HashMap<String, String>,
    pub region_names: HashMap<String, String>,
}

/// Who is behind a session or token, remembered for a few seconds so that a busy client does
/// not cost a database read per request. Logout, password resets, deactivation and token
/// revocation clear it at once on this node; other nodes follow within [`CACHE_TTL`].
#[derive(Default)]
pub struct PrincipalCache {
    map: Mutex<HashMap<String, (Instant, Principal)>>,
}

impl PrincipalCache {
    const MAX: usize = 10_000;

    pub fn get(&self, key: &str) -> Option<Principal> {
        let g = self.map.lock().ok()?;
        g.get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, p)| p.clone())
    }

    pub fn put(&self, key: String, p: Principal) {
        if let Ok(mut g) = self.map.lock() {
            if g.len() >= Self::MAX {
                g.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
                if g.len() >= Self::MAX {
                    g.clear();
                }
            }
            g.insert(key, (Instant::now(), p));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut g) = self.map.lock() {
            g.clear();
        }
    }
}

pub struct App {
    pub store: Store,
    pub config: Config,
    /// The calendar every tenant starts from (the built-in table or `holidays_file`).
    pub base_calendar: CalendarData,
    pub hours: WorkingHours,
    times: cache::TenantCache<time::TenantTime>,
    orgs: cache::TenantCache<OrgTree>,
    refs: cache::TenantCache<RefData>,
    pub principals: PrincipalCache,
    /// Sends SMS and work messages (default: the log).
    pub notifier: Arc<dyn notify::Notifier>,
    /// Set when the node begins to shut down: readiness answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
    /// Bumped by every invalidation: a cache fill that read before it is dropped.
    cache_generation: std::sync::atomic::AtomicU64,
    services: cache::TenantCache<Vec<open311::Service>>,
    kb: tokio::sync::OnceCell<Arc<kb::KbEngine>>,
    order_index: tokio::sync::OnceCell<Arc<search::OrderEngine>>,
    analyzer: tokio::sync::OnceCell<(jiesu_text::Analyzer, String)>,
    dispatch: dispatch::DispatchState,
    insight: insight::InsightState,
    /// Failed logins per client address (see `auth::AddressFailures`).
    login_addresses: auth::AddressFailures,
}

impl App {
    pub fn new(store: Store, config: Config) -> anyhow::Result<App> {
        let hours = WorkingHours::parse(&config.working_hours)?;
        let base_calendar = match &config.holidays_file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("holidays_file {}: {e}", p.display()))?;
                CalendarData::from_json(&text)
                    .map_err(|e| anyhow::anyhow!("holidays_file {}: {e}", p.display()))?
            }
            None => CalendarData::official(),
        };
        // Fail at start-up, not at the first order, if the table and hours do not fit.
        Calendar::build(base_calendar.clone(), hours.clone())?;
        Ok(App {
            store,
            config,
            base_calendar,
            hours,
            times: Default::default(),
            orgs: Default::default(),
            refs: Default::default(),
            principals: PrincipalCache::default(),
            notifier: Arc::new(notify::LogNotifier),
            draining: std::sync::atomic::AtomicBool::new(false),
            cache_generation: std::sync::atomic::AtomicU64::new(0),
            services: Default::default(),
            kb: tokio::sync::OnceCell::new(),
            order_index: tokio::sync::OnceCell::new(),
            analyzer: tokio::sync::OnceCell::new(),
            dispatch: dispatch::DispatchState::default(),
            insight: insight::InsightState::default(),
            login_addresses: auth::AddressFailures::default(),
        })
    }

    /// The tenant's organisation tree (cached for a few seconds).
    pub async fn org(&self, tenant: TenantId) -> AppResult<Arc<OrgTree>> {
        self.orgs
            .get(tenant, &self.cache_generation, || async {
                Ok(OrgTree::new(self.store.units(tenant).await?))
            })
            .await
    }

    pub async fn ref_data(&self, tenant: TenantId) -> AppResult<Arc<RefData>> {
        self.refs
            .get(tenant, &self.cache_generation, || async {
                let cats = self.store.categories(tenant).await?;
                let regions = self.store.regions(tenant).await?;
                Ok(RefData {
                    categories: cats
                        .iter()
                        .filter(|c| c.active)
                        .map(|c| c.code.clone())
                        .collect(),
                    regions: regions.iter().map(|r| r.code.clone()).collect(),
                    category_names: cats.into_iter().map(|c| (c.code, c.name)).collect(),
                    region_names: regions.into_iter().map(|r| (r.code, r.name)).collect(),
                })
            })
            .await
    }

    /// Forgets cached reference data and identities after an admin change on this node.
    pub fn invalidate_caches(&self, tenant: TenantId) {
        self.cache_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.principals.clear();
        self.orgs.forget(tenant);
        self.refs.forget(tenant);
        self.services.forget(tenant);
        self.times.forget(tenant);
        self.forget_aids(tenant);
    }

    /// The tenant's calendar and time-limit rules (cached for a few seconds).
    pub async fn time(&self, tenant: TenantId) -> AppResult<Arc<time::TenantTime>> {
        self.times
            .get(tenant, &self.cache_generation, || self.load_time(tenant))
            .await
    }
}
