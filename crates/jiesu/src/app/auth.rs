//! Authentication: argon2 passwords, cookie sessions for people, bearer tokens for systems.
//! Tokens carry their tenant id in clear so the lookup key always includes the tenant; only a
//! SHA-256 of the secret part is stored.

use super::{App, AppError, AppResult, Principal};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use jiesu_core::TenantId;
use jiesu_core::role::{Scope, ScopeSet};
use jiesu_store::users::UserRecord;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration as StdDuration, Instant};

pub const SESSION_COOKIE: &str = "jiesu_session";
const TOKEN_PREFIX: &str = "jst_";
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes a password for storage (argon2id, random salt). CPU-heavy: call off the async threads.
pub fn hash_password(password: &str) -> AppResult<String> {
    check_password_policy(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

pub fn check_password_policy(password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password",
            format!("密码至少 {MIN_PASSWORD_CHARS} 位"),
        ));
    }
    if password.chars().count() > 256 {
        return Err(AppError::invalid("password", "密码过长"));
    }
    Ok(())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A real hash of a random secret, verified when the user does not exist so that a wrong
/// username costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password(&random_secret()).unwrap_or_default())
}

pub(crate) fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Splits `<tenant>.<secret>`.
fn split_token(token: &str, sep: char) -> Option<(TenantId, &str)> {
    let (t, secret) = token.split_once(sep)?;
    let id: i64 = t.parse().ok()?;
    if secret.len() < 32 || secret.len() > 128 {
        return None;
    }
    Some((TenantId(id), secret))
}

fn principal(u: UserRecord, token_scopes: Option<ScopeSet>) -> Principal {
    Principal {
        tenant: u.tenant_id,
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        unit_id: u.unit_id,
        roles: u.roles,
        token_scopes,
    }
}

/// Failed logins per client address within the lock window, on this node. A password spray
/// — many names, one or two guesses each — never locks a name; it is stopped by its
/// address instead. Successful logins do not count (a centre's seats behind one NAT all log
/// in at the change of shift).
#[derive(Default)]
pub struct AddressFailures(std::sync::Mutex<HashMap<IpAddr, VecDeque<Instant>>>);

/// Addresses kept before the stale ones are dropped (bounds the memory under a flood of
/// addresses).
const ADDRESSES_KEPT: usize = 10_000;

impl AddressFailures {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<Instant>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `ip` must wait before its next attempt, if it is stopped now.
    pub fn wait(
        &self,
        ip: IpAddr,
        window: StdDuration,
        max: u32,
        now: Instant,
    ) -> Option<StdDuration> {
        let mut map = self.map();
        let times = map.get_mut(&ip)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() < max as usize {
            return None;
        }
        times
            .front()
            .map(|t| window.saturating_sub(now.duration_since(*t)))
    }

    /// Counts a failed login from `ip`.
    pub fn record(&self, ip: IpAddr, window: StdDuration, max: u32, now: Instant) {
        let mut map = self.map();
        if map.len() >= ADDRESSES_KEPT && !map.contains_key(&ip) {
            map.retain(|_, t| t.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let times = map.entry(ip).or_default();
        times.push_back(now);
        // Only the last `max` matter.
        while times.len() > max as usize {
            times.pop_front();
        }
    }
}

/// The answer to a login from an address that failed too often.
fn address_stopped(wait: StdDuration) -> AppError {
    AppError::TooMany(format!(
        "此网络地址登录失败次数过多，请 {} 分钟后再试",
        wait.as_secs().div_ceil(60).max(1)
    ))
}

/// The answer to a login while its name is locked.
fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> AppError {
    let minutes = ((until - now).num_seconds() + 59) / 60;
    AppError::TooMany(format!(
        "登录失败次数过多，该账号已临时锁定，请 {} 分钟后再试",
        minutes.max(1)
    ))
}

impl App {
    /// Which tenant a login is for: the named one, else the configured default, else the only one.
    pub async fn resolve_tenant(&self, code: Option<&str>) -> AppResult<TenantId> {
        let tenants = self.store.tenants().await?;
        let wanted = code.unwrap_or(&self.config.default_tenant);
        if let Some(t) = tenants.iter().find(|t| t.code == wanted) {
            return Ok(t.id);
        }
        match (code, tenants.as_slice()) {
            (None, [only]) => Ok(only.id),
            (Some(_), _) => Err(AppError::invalid("tenant", "租户不存在")),
            _ => Err(AppError::invalid("tenant", "请指定租户")),
        }
    }

    /// Checks the password; on success opens a session and returns its cookie value.
    /// `client` is the address the attempt came from, when known (see `AddressFailures`).
    pub async fn login(
        &self,
        tenant: Option<&str>,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> AppResult<(String, Principal)> {
        let window = StdDuration::from_secs(u64::from(self.config.login_lock_minutes) * 60);
        let per_address = self.config.login_ip_max_failures;
        if let Some(ip) = client
            && let Some(wait) = self
                .login_addresses
                .wait(ip, window, per_address, Instant::now())
        {
            tracing::warn!(%ip, "login refused: too many failures from this address");
            return Err(address_stopped(wait));
        }
        let tenant = self.resolve_tenant(tenant).await?;
        let now = Utc::now();
        let failures = self.store.login_failures(tenant, username).await?;
        if let Some(until) = failures.and_then(|f| f.locked_until).filter(|u| *u > now) {
            return Err(locked(until, now));
        }
        let user = self.store.user_by_name(tenant, username).await?;
        let hash = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let user = match user {
            Some(u) if ok && u.active && !u.system_account => u,
            _ => {
                if let Some(ip) = client {
                    self.login_addresses
                        .record(ip, window, per_address, Instant::now());
                }
                // Counted for any name, known or not: the answer never tells which.
                let minutes = i64::from(self.config.login_lock_minutes);
                let f = self
                    .store
                    .record_login_failure(
                        tenant,
                        username,
                        now,
                        Duration::minutes(minutes),
                        self.config.login_max_failures,
                        Duration::minutes(minutes),
                    )
                    .await?;
                if let Some(until) = f.locked_until.filter(|u| *u > now) {
                    tracing::warn!(
                        tenant = tenant.0,
                        failures = f.failures,
                        "login locked after repeated failures"
                    );
                    return Err(locked(until, now));
                }
                return Err(AppError::BadCredentials);
            }
        };
        if failures.is_some() {
            self.store.clear_login_failures(tenant, username).await?;
        }
        let secret = random_secret();
        let expires = Utc::now() + Duration::hours(i64::from(self.config.session_hours));
        self.store
            .create_session(tenant, &sha256_hex(&secret), user.id, expires)
            .await?;
        tracing::info!(user_id = user.id.0, tenant = tenant.0, "login");
        Ok((format!("{}.{}", tenant.0, secret), principal(user, None)))
    }

    pub async fn logout(&self, cookie: &str) -> AppResult<()> {
        if let Some((tenant, secret)) = split_token(cookie, '.') {
            self.store
                .delete_session(tenant, &sha256_hex(secret))
                .await?;
        }
        self.principals.clear();
        Ok(())
    }

    /// The person behind a session cookie, if it is valid.
    pub async fn session_principal(&self, cookie: &str) -> AppResult<Option<Principal>> {
        match split_token(cookie, '.') {
            Some((tenant, secret)) => self.principal_for(tenant, secret, false).await,
            None => Ok(None),
        }
    }

    /// The system behind a bearer token, if it is valid.
    pub async fn token_principal(&self, token: &str) -> AppResult<Option<Principal>> {
        match token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| split_token(rest, '_'))
        {
            Some((tenant, secret)) => self.principal_for(tenant, secret, true).await,
            None => Ok(None),
        }
    }

    /// The system behind an interface key (Open311's `api_key`, the transfer and telephony
    /// interfaces' `X-Api-Key`): a token as issued, or a plain key a centre agreed with the
    /// other system (stored hashed like any token), in `tenant`. The token must hold `scope`.
    pub async fn key_principal(
        &self,
        tenant: TenantId,
        key: &str,
        scope: Scope,
    ) -> AppResult<Principal> {
        let key = key.trim();
        let found = match key
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| split_token(rest, '_'))
        {
            Some((t, secret)) if t == tenant => self.principal_for(t, secret, true).await?,
            Some(_) => None,
            None if key.len() >= 8 && key.len() <= 200 => {
                self.principal_for(tenant, key, true).await?
            }
            None => None,
        };
        match found {
            Some(p) if p.may_use(scope) => Ok(p),
            Some(_) => Err(AppError::Forbidden(format!(
                "该密钥不能用于{}",
                scope.label()
            ))),
            None => Err(AppError::Forbidden("api_key 无效或已失效".into())),
        }
    }

    /// Looks up a session (or API token) secret, through the short-lived cache.
    async fn principal_for(
        &self,
        tenant: TenantId,
        secret: &str,
        token: bool,
    ) -> AppResult<Option<Principal>> {
        let key = sha256_hex(secret);
        // A plain interface key is only unique within its tenant; a session secret could in
        // principle equal a token's: the cache tells them apart.
        let cache_key = format!("{}:{}:{key}", if token { 't' } else { 's' }, tenant.0);
        if let Some(p) = self.principals.get(&cache_key) {
            return Ok(Some(p));
        }
        let now = Utc::now();
        let p = if token {
            self.store
                .token_user(tenant, &key, now)
                .await?
                .map(|(u, scopes)| principal(u, Some(scopes)))
        } else {
            self.store
                .session_user(tenant, &key, now)
                .await?
                .map(|u| principal(u, None))
        };
        if let Some(p) = &p {
            self.principals.put(cache_key, p.clone());
        }
        Ok(p)
    }

    /// Registers a key agreed with another system (e.g. the demo's Open311 key), stored hashed
    /// like a minted token.
    pub async fn register_key(
        &self,
        tenant: TenantId,
        user: jiesu_core::UserId,
        name: &str,
        key: &str,
        scopes: ScopeSet,
    ) -> AppResult<i64> {
        if key.len() < 8 {
            return Err(AppError::invalid("key", "密钥至少 8 个字符"));
        }
        Ok(self
            .store
            .create_api_token(tenant, user, name, &sha256_hex(key), None, scopes)
            .await?)
    }

    /// Mints a token for `user`; the clear value is returned once and never stored.
    pub async fn issue_token(
        &self,
        tenant: TenantId,
        user: jiesu_core::UserId,
        name: &str,
        expires_days: Option<u32>,
        scopes: ScopeSet,
    ) -> AppResult<(i64, String)> {
        let secret = random_secret();
        let expires = expires_days.map(|d| Utc::now() + Duration::days(i64::from(d)));
        let id = self
            .store
            .create_api_token(tenant, user, name, &sha256_hex(&secret), expires, scopes)
            .await?;
        Ok((id, format!("{TOKEN_PREFIX}{}_{secret}", tenant.0)))
    }
}

#[cfg(test)]
mod address_tests {
    use super::AddressFailures;
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    #[test]
    fn an_address_is_stopped_after_its_failures_until_the_oldest_leaves_the_window() {
        let f = AddressFailures::default();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        let window = Duration::from_secs(600);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(f.wait(ip, window, 3, t0 + Duration::from_secs(i)), None);
            f.record(ip, window, 3, t0 + Duration::from_secs(i));
        }
        let now = t0 + Duration::from_secs(100);
        assert_eq!(f.wait(ip, window, 3, now), Some(Duration::from_secs(500)));
        assert_eq!(f.wait(other, window, 3, now), None);
        // The first failure leaves the window: one more try.
        assert_eq!(f.wait(ip, window, 3, t0 + Duration::from_secs(600)), None);
    }

    #[test]
    fn a_flood_of_addresses_keeps_the_map_bounded() {
        let f = AddressFailures::default();
        let window = Duration::from_secs(1);
        let t0 = Instant::now();
        for i in 0..super::ADDRESSES_KEPT as u32 {
            f.record(IpAddr::from(i.to_be_bytes()), window, 5, t0);
        }
        let later = t0 + Duration::from_secs(2);
        f.record("198.51.100.1".parse().unwrap(), window, 5, later);
        assert_eq!(f.map().len(), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("jiesu-demo").unwrap();
        assert!(verify_password("jiesu-demo", &h));
        assert!(!verify_password("jiesu-demO", &h));
        assert!(!verify_password("anything", dummy_hash()));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn tokens_carry_their_tenant() {
        let s = random_secret();
        let cookie = format!("7.{s}");
        assert_eq!(
            split_token(&cookie, '.').unwrap(),
            (TenantId(7), s.as_str())
        );
        assert!(split_token("x.abc", '.').is_none());
        assert!(split_token("7.short", '.').is_none());
    }
}
