//! The citizen portal (码上说): requests submitted without a staff login, followed and rated
//! with the query code the citizen got at submission. The portal acts as the system user
//! `citizen-portal`; every order it creates or rates carries that actor in its history.

use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::TenantId;
use jiesu_core::ids::UserId;
use jiesu_core::order::{Command, NewOrder, Satisfaction, Status};
use jiesu_core::org::OrgTree;
use jiesu_core::role::{Role, RoleSet};
use jiesu_store::orders::{StoredEvent, StoredOrder};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Letters and digits a citizen cannot confuse (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;

pub struct Submitted {
    pub number: String,
    pub query_code: String,
    pub accepted_at: DateTime<Utc>,
}

/// An order as its citizen may follow it.
pub struct Followed {
    pub tenant: TenantId,
    pub order: StoredOrder,
    pub events: Vec<StoredEvent>,
    pub org: Arc<OrgTree>,
}

fn new_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// The stored form of a query code; codes are compared case-insensitively.
fn code_hash(tenant: TenantId, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("jiesu-query-code:{}:", tenant.0));
    h.update(code.trim().to_ascii_uppercase());
    hex::encode(h.finalize())
}

impl App {
    async fn portal_principal(&self, tenant: TenantId) -> AppResult<Principal> {
        let org = self.org(tenant).await?;
        let root = org.root().ok_or(AppError::NotFound("市级中心"))?;
        Ok(Principal {
            tenant,
            user_id: UserId(0),
            username: "citizen-portal".into(),
            display_name: "市民（网上诉求）".into(),
            unit_id: root,
            roles: RoleSet::of(&[Role::System]),
            token_scopes: None,
        })
    }

    /// Accepts a citizen's own request and returns its number and query code (shown once).
    pub async fn portal_submit(
        &self,
        tenant: Option<&str>,
        mut new: NewOrder,
    ) -> AppResult<Submitted> {
        let tenant = self.resolve_tenant(tenant).await?;
        if new.citizen.phone.is_none() {
            return Err(AppError::invalid(
                "phone",
                "请填写联系电话，以便办理单位联系您",
            ));
        }
        let code = new_code();
        new.query_code_hash = Some(code_hash(tenant, &code));
        let p = self.portal_principal(tenant).await?;
        let view = self.accept_order(&p, new, None).await?;
        Ok(Submitted {
            number: view.stored.order.number,
            query_code: code,
            accepted_at: view.stored.order.accepted_at,
        })
    }

    /// The order with `number` if `code` is its query code; anything else is "not found",
    /// so that a guess learns nothing.
    pub async fn portal_follow(
        &self,
        tenant: Option<&str>,
        number: &str,
        code: &str,
    ) -> AppResult<Followed> {
        const NOT_FOUND: AppError = AppError::NotFound("工单编号或查询码有误，该工单");
        let tenant = self.resolve_tenant(tenant).await?;
        if number.len() > 40 || code.len() > 40 {
            return Err(NOT_FOUND);
        }
        let id = self
            .store
            .order_id_by_number(tenant, number.trim())
            .await?
            .ok_or(NOT_FOUND)?;
        let order = self.store.order(tenant, id).await?.ok_or(NOT_FOUND)?;
        match &order.order.query_code_hash {
            Some(h) if *h == code_hash(tenant, code) => {}
            _ => return Err(NOT_FOUND),
        }
        let events = self.store.order_events(tenant, id).await?;
        let org = self.org(tenant).await?;
        Ok(Followed {
            tenant,
            order,
            events,
            org,
        })
    }

    /// The citizen's satisfaction rating after the reply, recorded as the order's callback:
    /// satisfied closes it, dissatisfied sends it back for re-handling.
    pub async fn portal_rate(
        &self,
        tenant: Option<&str>,
        number: &str,
        code: &str,
        satisfaction: Satisfaction,
        comment: Option<String>,
    ) -> AppResult<Followed> {
        let followed = self.portal_follow(tenant, number, code).await?;
        let o = &followed.order;
        if o.order.status != Status::CallbackPending {
            return Err(AppError::Conflict(match o.order.status {
                Status::Closed => "该工单已办结，不能再评价".into(),
                s if s.is_terminal() => format!("该工单{}，不能评价", s.label()),
                _ => "办理单位答复并经中心核验后才能评价".into(),
            }));
        }
        let p = self
            .portal_principal(self.resolve_tenant(tenant).await?)
            .await?;
        let comment = match comment.map(|c| c.trim().to_string()) {
            Some(c) if !c.is_empty() => format!("市民网上评价：{c}"),
            _ => "市民网上评价".into(),
        };
        self.run_command(
            p.tenant,
            &p.actor(),
            None,
            o.id,
            &Command::Callback {
                satisfaction,
                resolved: satisfaction != Satisfaction::Dissatisfied,
                comment: Some(comment),
            },
            Utc::now(),
        )
        .await?;
        self.portal_follow(tenant, number, code).await
    }
}
