//! Administration: organisation tree, users and roles, categories, regions, API tokens.
//! Every change is recorded in the audit log with who, when and what.

use super::{AdminCap, App, AppError, AppResult};
use chrono::Utc;
use jiesu_core::org::UnitKind;
use jiesu_core::role::{RoleSet, ScopeSet};
use jiesu_core::values::required_text;
use jiesu_core::{TenantId, UnitId, UserId};
use jiesu_store::audit::AuditEntry;
use jiesu_store::catalog::{Category, Region};
use jiesu_store::org::UnitInput;
use jiesu_store::users::NewUser;

/// A new account, before validation.
pub struct UserInput {
    pub username: String,
    pub display_name: String,
    pub password: Option<String>,
    pub unit_id: UnitId,
    pub roles: RoleSet,
    pub system_account: bool,
}

pub fn check_username(s: &str) -> AppResult<()> {
    let ok = (2..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "username",
            "用户名为 2–64 位字母、数字或 _ - .",
        ))
    }
}

impl App {
    /// Records an admin's change in the audit log.
    pub(crate) async fn audit(
        &self,
        cap: &AdminCap<'_>,
        action: &str,
        target: String,
        detail: String,
    ) -> AppResult<()> {
        self.store
            .audit(
                cap.0.tenant,
                AuditEntry {
                    at: Utc::now(),
                    user_id: Some(cap.0.user_id),
                    username: cap.0.username.clone(),
                    action: action.into(),
                    target,
                    detail,
                },
            )
            .await?;
        Ok(())
    }

    async fn check_unit_input(
        &self,
        tenant: TenantId,
        id: Option<UnitId>,
        u: &mut UnitInput,
    ) -> AppResult<()> {
        u.name = required_text("name", &u.name, 100)?;
        let org = self.org(tenant).await?;
        match u.parent_id {
            None => {
                if u.kind != UnitKind::CityCentre {
                    return Err(AppError::invalid(
                        "parent_id",
                        "除市级中心外，每个单位都须有上级单位",
                    ));
                }
                if org.root().is_some_and(|r| Some(r) != id) {
                    return Err(AppError::invalid("parent_id", "每个平台只有一个市级中心"));
                }
            }
            Some(parent) => {
                if org.get(parent).is_none() {
                    return Err(AppError::invalid("parent_id", "上级单位不存在"));
                }
                if u.kind == UnitKind::CityCentre {
                    return Err(AppError::invalid("kind", "市级中心不能有上级单位"));
                }
                if let Some(id) = id
                    && org.is_within(parent, id)
                {
                    return Err(AppError::invalid(
                        "parent_id",
                        "不能把单位移到它自己或其下级单位之下",
                    ));
                }
            }
        }
        if let Some(r) = &u.region_code {
            let refs = self.ref_data(tenant).await?;
            if !refs.regions.contains(r) {
                return Err(AppError::invalid(
                    "region_code",
                    format!("行政区划“{r}”不存在"),
                ));
            }
        }
        Ok(())
    }

    pub async fn create_unit(&self, cap: &AdminCap<'_>, mut u: UnitInput) -> AppResult<UnitId> {
        let tenant = cap.0.tenant;
        self.check_unit_input(tenant, None, &mut u).await?;
        let id = self.store.create_unit(tenant, &u).await?;
        self.invalidate_caches(tenant);
        self.audit(
            cap,
            "unit.create",
            format!("unit:{id}"),
            format!("{} ({})", u.name, u.kind.as_str()),
        )
        .await?;
        Ok(id)
    }

    pub async fn update_unit(
        &self,
        cap: &AdminCap<'_>,
        id: UnitId,
        mut u: UnitInput,
    ) -> AppResult<()> {
        let tenant = cap.0.tenant;
        if self.org(tenant).await?.get(id).is_none() {
            return Err(AppError::NotFound("单位"));
        }
        self.check_unit_input(tenant, Some(id), &mut u).await?;
        self.store.update_unit(tenant, id, &u).await?;
        self.invalidate_caches(tenant);
        self.audit(
            cap,
            "unit.update",
            format!("unit:{id}"),
            format!(
                "{} ({}), parent {:?}, active {}",
                u.name,
                u.kind.as_str(),
                u.parent_id.map(|p| p.0),
                u.active
            ),
        )
        .await
    }

    pub async fn create_user(&self, cap: &AdminCap<'_>, u: UserInput) -> AppResult<UserId> {
        let tenant = cap.0.tenant;
        let id = self.add_user(tenant, u).await?;
        self.audit(cap, "user.create", format!("user:{id}"), String::new())
            .await?;
        Ok(id)
    }

    /// Creates an account without an admin (CLI and demo set-up).
    pub async fn add_user(&self, tenant: TenantId, u: UserInput) -> AppResult<UserId> {
        check_username(&u.username)?;
        let display_name = required_text("display_name", &u.display_name, 50)?;
        if u.roles.is_empty() {
            return Err(AppError::invalid("roles", "至少分配一个角色"));
        }
        if self.org(tenant).await?.get(u.unit_id).is_none() {
            return Err(AppError::invalid("unit_id", "单位不存在"));
        }
        let password_hash = match u.password {
            Some(pw) => Some(
                tokio::task::spawn_blocking(move || super::auth::hash_password(&pw))
                    .await
                    .map_err(|e| AppError::Internal(e.to_string()))??,
            ),
            None if u.system_account => None,
            None => return Err(AppError::invalid("password", "请设置密码")),
        };
        Ok(self
            .store
            .create_user(
                tenant,
                &NewUser {
                    username: u.username,
                    display_name,
                    password_hash,
                    unit_id: u.unit_id,
                    roles: u.roles,
                    system_account: u.system_account,
                },
            )
            .await?)
    }

    pub async fn update_user(
        &self,
        cap: &AdminCap<'_>,
        id: UserId,
        display_name: &str,
        unit_id: UnitId,
        roles: RoleSet,
        active: bool,
    ) -> AppResult<()> {
        let tenant = cap.0.tenant;
        let display_name = required_text("display_name", display_name, 50)?;
        if roles.is_empty() {
            return Err(AppError::invalid("roles", "至少分配一个角色"));
        }
        if self.org(tenant).await?.get(unit_id).is_none() {
            return Err(AppError::invalid("unit_id", "单位不存在"));
        }
        if id == cap.0.user_id && (!active || !roles.contains(jiesu_core::role::Role::Admin)) {
            return Err(AppError::invalid(
                "roles",
                "不能停用自己或移除自己的管理员角色",
            ));
        }
        self.store
            .update_user(tenant, id, &display_name, unit_id, roles, active)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("用户"),
                e => e.into(),
            })?;
        self.principals.clear();
        self.audit(
            cap,
            "user.update",
            format!("user:{id}"),
            format!("unit {unit_id}, roles {}, active {active}", roles.to_csv()),
        )
        .await
    }

    pub async fn set_user_password(
        &self,
        tenant: TenantId,
        id: UserId,
        password: String,
    ) -> AppResult<()> {
        let hash = tokio::task::spawn_blocking(move || super::auth::hash_password(&password))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        self.store
            .set_password(tenant, id, &hash)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("用户"),
                e => e.into(),
            })?;
        self.principals.clear();
        Ok(())
    }

    pub async fn reset_password(
        &self,
        cap: &AdminCap<'_>,
        id: UserId,
        password: String,
    ) -> AppResult<()> {
        self.set_user_password(cap.0.tenant, id, password).await?;
        self.audit(
            cap,
            "user.reset_password",
            format!("user:{id}"),
            String::new(),
        )
        .await
    }

    pub async fn create_category(
        &self,
        cap: &AdminCap<'_>,
        code: String,
        parent: Option<String>,
        name: String,
        keywords: Vec<String>,
    ) -> AppResult<()> {
        let tenant = cap.0.tenant;
        let keywords = category_keywords(keywords)?;
        let code = jiesu_core::values::CategoryCode::parse("code", &code)?
            .as_str()
            .to_string();
        let name = required_text("name", &name, 50)?;
        let cats = self.store.categories(tenant).await?;
        let level = match &parent {
            None => 1,
            Some(p) => {
                let parent = cats
                    .iter()
                    .find(|c| &c.code == p)
                    .ok_or_else(|| AppError::invalid("parent_code", "上级分类不存在"))?;
                parent.level + 1
            }
        };
        self.store
            .insert_categories(
                tenant,
                &[Category {
                    code: code.clone(),
                    parent_code: parent,
                    name: name.clone(),
                    level,
                    active: true,
                    keywords,
                }],
            )
            .await?;
        self.invalidate_caches(tenant);
        self.audit(cap, "category.create", format!("category:{code}"), name)
            .await
    }

    pub async fn update_category(
        &self,
        cap: &AdminCap<'_>,
        code: &str,
        name: String,
        active: bool,
        keywords: Option<Vec<String>>,
    ) -> AppResult<()> {
        let tenant = cap.0.tenant;
        let name = required_text("name", &name, 50)?;
        let keywords = match keywords {
            Some(k) => category_keywords(k)?,
            None => self
                .store
                .categories(tenant)
                .await?
                .into_iter()
                .find(|c| c.code == code)
                .map(|c| c.keywords)
                .unwrap_or_default(),
        };
        self.store
            .update_category(tenant, code, &name, active, &keywords)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("分类"),
                e => e.into(),
            })?;
        self.invalidate_caches(tenant);
        self.audit(
            cap,
            "category.update",
            format!("category:{code}"),
            format!("{name}, active {active}, keywords {}", keywords.join(" ")),
        )
        .await
    }

    pub async fn add_regions(&self, cap: &AdminCap<'_>, regions: Vec<Region>) -> AppResult<u64> {
        let tenant = cap.0.tenant;
        let existing = self.ref_data(tenant).await?;
        for (i, r) in regions.iter().enumerate() {
            jiesu_core::values::RegionCode::parse(&format!("regions[{i}].code"), &r.code)?;
            required_text(&format!("regions[{i}].name"), &r.name, 50)?;
            if let Some(p) = &r.parent_code
                && !existing.regions.contains(p)
                && !regions[..i].iter().any(|x| &x.code == p)
            {
                return Err(AppError::invalid(
                    format!("regions[{i}].parent_code"),
                    "上级区划不存在",
                ));
            }
        }
        let n = self.store.insert_regions(tenant, &regions).await?;
        self.invalidate_caches(tenant);
        self.audit(cap, "region.add", "regions".into(), format!("{n} added"))
            .await?;
        Ok(n)
    }

    /// Creates a system account with `roles` at `unit` and a token for it.
    pub async fn create_api_token(
        &self,
        cap: &AdminCap<'_>,
        name: String,
        unit_id: UnitId,
        roles: RoleSet,
        expires_days: Option<u32>,
        scopes: ScopeSet,
    ) -> AppResult<(i64, String)> {
        let tenant = cap.0.tenant;
        let name = required_text("name", &name, 64)?;
        let username = format!(
            "sys-{}-{}",
            name.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(24)
                .collect::<String>(),
            Utc::now().timestamp_millis()
        );
        let user = self
            .add_user(
                tenant,
                UserInput {
                    username,
                    display_name: name.clone(),
                    password: None,
                    unit_id,
                    roles,
                    system_account: true,
                },
            )
            .await?;
        let (id, token) = self
            .issue_token(tenant, user, &name, expires_days, scopes)
            .await?;
        self.audit(
            cap,
            "token.create",
            format!("token:{id}"),
            format!(
                "{name}, roles {}, scopes {}",
                roles.to_csv(),
                scopes.to_csv()
            ),
        )
        .await?;
        Ok((id, token))
    }

    pub async fn revoke_api_token(&self, cap: &AdminCap<'_>, id: i64) -> AppResult<()> {
        self.store
            .revoke_api_token(cap.0.tenant, id)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("令牌"),
                e => e.into(),
            })?;
        self.principals.clear();
        self.audit(cap, "token.revoke", format!("token:{id}"), String::new())
            .await
    }
}

/// Keywords of a category: trimmed, 2 to 20 characters each, at most 200, no repeats.
fn category_keywords(words: Vec<String>) -> AppResult<Vec<String>> {
    if words.len() > 200 {
        return Err(AppError::invalid("keywords", "关键词最多 200 个"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let w = w.trim();
        let n = w.chars().count();
        if !(2..=20).contains(&n) {
            return Err(AppError::invalid(
                format!("keywords[{i}]"),
                "关键词须为 2 至 20 个字",
            ));
        }
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    Ok(out)
}
