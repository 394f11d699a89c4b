//! Staff and system accounts, cookie sessions, API tokens. Secrets are stored only as hashes
//! (argon2 for passwords, SHA-256 for random session and API tokens).

use crate::{Result, Store, StoreError, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::role::{RoleSet, ScopeSet};
use jiesu_core::{TenantId, UnitId, UserId};
use sea_orm::{ConnectionTrait, Value};
use serde::Serialize;

#[derive(Clone, Serialize)]
pub struct UserRecord {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub unit_id: UnitId,
    pub roles: RoleSet,
    pub active: bool,
    pub system_account: bool,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("unit_id", &self.unit_id)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub unit_id: UnitId,
    pub roles: RoleSet,
    pub system_account: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub scopes: ScopeSet,
}

const USER_COLS: &str = "u.id, u.tenant_id, u.username, u.display_name, u.password_hash, u.unit_id, u.roles, u.active, u.system_account";

fn user_from_row(r: &impl crate::lite::Cols) -> Result<UserRecord> {
    let roles: String = col(r, "roles")?;
    Ok(UserRecord {
        id: UserId(col(r, "id")?),
        tenant_id: TenantId(col(r, "tenant_id")?),
        username: col(r, "username")?,
        display_name: col(r, "display_name")?,
        password_hash: col(r, "password_hash")?,
        unit_id: UnitId(col(r, "unit_id")?),
        roles: RoleSet::parse_csv(&roles).map_err(StoreError::Corrupt)?,
        active: col(r, "active")?,
        system_account: col(r, "system_account")?,
    })
}

impl Store {
    async fn one_user(&self, sql: &str, values: Vec<Value>) -> Result<Option<UserRecord>> {
        let row = self.read.query_one_raw(self.stmt(sql, values)).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn create_user(&self, tenant: TenantId, u: &NewUser) -> Result<UserId> {
        let now = to_ms(Utc::now());
        let r = self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO users (tenant_id, username, display_name, password_hash, unit_id, roles, active, system_account, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
                vec![
                    tenant.0.into(),
                    u.username.clone().into(),
                    u.display_name.clone().into(),
                    u.password_hash.clone().into(),
                    u.unit_id.0.into(),
                    u.roles.to_csv().into(),
                    true.into(),
                    u.system_account.into(),
                    now.into(),
                ],
            ))
            .await;
        match r {
            Err(e) if crate::is_unique_violation(&e) => Err(StoreError::Duplicate("username")),
            Err(e) => Err(e.into()),
            Ok(row) => Ok(UserId(col(&row.ok_or(StoreError::NotFound)?, "id")?)),
        }
    }

    pub async fn user_by_name(
        &self,
        tenant: TenantId,
        username: &str,
    ) -> Result<Option<UserRecord>> {
        self.one_user(
            &format!("SELECT {USER_COLS} FROM users u WHERE u.tenant_id = $1 AND u.username = $2"),
            vec![tenant.0.into(), username.into()],
        )
        .await
    }

    pub async fn user(&self, tenant: TenantId, id: UserId) -> Result<Option<UserRecord>> {
        self.one_user(
            &format!("SELECT {USER_COLS} FROM users u WHERE u.tenant_id = $1 AND u.id = $2"),
            vec![tenant.0.into(), id.0.into()],
        )
        .await
    }

    pub async fn users(&self, tenant: TenantId) -> Result<Vec<UserRecord>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!("SELECT {USER_COLS} FROM users u WHERE u.tenant_id = $1 ORDER BY u.id"),
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn set_password(&self, tenant: TenantId, id: UserId, hash: &str) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE users SET password_hash = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
                vec![tenant.0.into(), id.0.into(), hash.into(), to_ms(Utc::now()).into()],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // A new password ends every session opened with the old one.
        self.write
            .execute_raw(self.stmt(
                "DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2",
                vec![tenant.0.into(), id.0.into()],
            ))
            .await?;
        Ok(())
    }

    pub async fn update_user(
        &self,
        tenant: TenantId,
        id: UserId,
        display_name: &str,
        unit_id: UnitId,
        roles: RoleSet,
        active: bool,
    ) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE users SET display_name = $3, unit_id = $4, roles = $5, active = $6, updated_at = $7 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant.0.into(),
                    id.0.into(),
                    display_name.into(),
                    unit_id.0.into(),
                    roles.to_csv().into(),
                    active.into(),
                    to_ms(Utc::now()).into(),
                ],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if !active {
            self.write
                .execute_raw(self.stmt(
                    "DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2",
                    vec![tenant.0.into(), id.0.into()],
                ))
                .await?;
        }
        Ok(())
    }

    pub async fn create_session(
        &self,
        tenant: TenantId,
        token_hash: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "INSERT INTO sessions (tenant_id, token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    tenant.0.into(),
                    token_hash.into(),
                    user.0.into(),
                    to_ms(Utc::now()).into(),
                    to_ms(expires_at).into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// The active user behind an unexpired session.
    pub async fn session_user(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>> {
        self.one_user(
            &format!(
                "SELECT {USER_COLS} FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
                 WHERE s.tenant_id = $1 AND s.token_hash = $2 AND s.expires_at > $3 AND u.active"
            ),
            vec![tenant.0.into(), token_hash.into(), to_ms(now).into()],
        )
        .await
    }

    pub async fn delete_session(&self, tenant: TenantId, token_hash: &str) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "DELETE FROM sessions WHERE tenant_id = $1 AND token_hash = $2",
                vec![tenant.0.into(), token_hash.into()],
            ))
            .await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "DELETE FROM sessions WHERE expires_at <= $1",
                vec![to_ms(now).into()],
            ))
            .await?;
        Ok(r.rows_affected())
    }

    pub async fn create_api_token(
        &self,
        tenant: TenantId,
        user: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<DateTime<Utc>>,
        scopes: ScopeSet,
    ) -> Result<i64> {
        let row = self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO api_tokens (tenant_id, user_id, name, token_hash, created_at, expires_at, scopes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                vec![
                    tenant.0.into(),
                    user.0.into(),
                    name.into(),
                    token_hash.into(),
                    to_ms(Utc::now()).into(),
                    expires_at.map(to_ms).into(),
                    scopes.to_csv().into(),
                ],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        col(&row, "id")
    }

    /// The active account behind a valid API token, with the token's scopes.
    pub async fn token_user(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserRecord, ScopeSet)>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                &format!(
                    "SELECT {USER_COLS}, t.scopes FROM api_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id \
                     WHERE t.tenant_id = $1 AND t.token_hash = $2 AND t.revoked_at IS NULL \
                     AND (t.expires_at IS NULL OR t.expires_at > $3) AND u.active"
                ),
                vec![tenant.0.into(), token_hash.into(), to_ms(now).into()],
            ))
            .await?;
        row.as_ref()
            .map(|r| {
                let scopes: String = col(r, "scopes")?;
                Ok((
                    user_from_row(r)?,
                    ScopeSet::parse_csv(&scopes).map_err(StoreError::Corrupt)?,
                ))
            })
            .transpose()
    }

    pub async fn api_tokens(&self, tenant: TenantId) -> Result<Vec<ApiTokenInfo>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, user_id, name, created_at, expires_at, revoked_at, scopes FROM api_tokens WHERE tenant_id = $1 ORDER BY id",
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenInfo {
                    id: col(r, "id")?,
                    user_id: UserId(col(r, "user_id")?),
                    name: col(r, "name")?,
                    created_at: from_ms(col(r, "created_at")?),
                    expires_at: col::<Option<i64>>(r, "expires_at")?.map(from_ms),
                    revoked: col::<Option<i64>>(r, "revoked_at")?.is_some(),
                    scopes: ScopeSet::parse_csv(&col::<String>(r, "scopes")?)
                        .map_err(StoreError::Corrupt)?,
                })
            })
            .collect()
    }

    pub async fn revoke_api_token(&self, tenant: TenantId, id: i64) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                vec![tenant.0.into(), id.into(), to_ms(Utc::now()).into()],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// A name's failed logins in the current window, and the lock they caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Store {
    /// The name's failed logins and lock, if it has any.
    pub async fn login_failures(
        &self,
        tenant: TenantId,
        username: &str,
    ) -> Result<Option<LoginFailures>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT failures, locked_until FROM login_failures WHERE tenant_id = $1 AND username = $2",
                vec![tenant.0.into(), username.into()],
            ))
            .await?;
        row.map(|r| failures_of(&r)).transpose()
    }

    /// Counts a failed login as `username` (known or not): a window of `window` starts at the
    /// first failure; the `max`-th failure within it locks the name until `now + lock`.
    pub async fn record_login_failure(
        &self,
        tenant: TenantId,
        username: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        max: u32,
        lock: chrono::Duration,
    ) -> Result<LoginFailures> {
        let row = self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO login_failures (tenant_id, username, failures, window_start, locked_until) \
                 VALUES ($1, $2, 1, $3, CASE WHEN $5 <= 1 THEN $6 ELSE NULL END) \
                 ON CONFLICT (tenant_id, username) DO UPDATE SET \
                   failures = CASE WHEN login_failures.window_start < $4 THEN 1 ELSE login_failures.failures + 1 END, \
                   locked_until = CASE \
                     WHEN login_failures.window_start < $4 THEN (CASE WHEN $5 <= 1 THEN $6 ELSE NULL END) \
                     WHEN login_failures.failures + 1 >= $5 THEN $6 \
                     ELSE login_failures.locked_until END, \
                   window_start = CASE WHEN login_failures.window_start < $4 THEN $3 ELSE login_failures.window_start END \
                 RETURNING failures, locked_until",
                vec![
                    tenant.0.into(),
                    username.into(),
                    to_ms(now).into(),
                    to_ms(now - window).into(),
                    i64::from(max).into(),
                    to_ms(now + lock).into(),
                ],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        failures_of(&row)
    }

    /// A successful login forgets the name's failures.
    pub async fn clear_login_failures(&self, tenant: TenantId, username: &str) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "DELETE FROM login_failures WHERE tenant_id = $1 AND username = $2",
                vec![tenant.0.into(), username.into()],
            ))
            .await?;
        Ok(())
    }
}

fn failures_of(r: &impl crate::lite::Cols) -> Result<LoginFailures> {
    Ok(LoginFailures {
        failures: col::<i32>(r, "failures")?.max(0) as u32,
        locked_until: col::<Option<i64>>(r, "locked_until")?.map(from_ms),
    })
}
