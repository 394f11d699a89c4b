//! Transfers between platforms (issue 8, DOMAIN §8): 110 and the utility hotlines both ways,
//! the grid platform, other 12345 centres.
//!
//! Outbound: an agent transfers an order that waits for dispatch to a peer (an emergency goes
//! to 110 first). The transfer is recorded before the order's event, and a background pass
//! sends it with its key as `Idempotency-Key` until the peer answers: accepted (with the
//! order closed as transferred, if so asked), refused (4xx), or unreachable after the allowed
//! attempts. Inbound: a peer posts an order with its key; a resend returns the same order.
//! Every change of an inbound order is then reported back to the peer (`synced_seq`), and the
//! peer's reports on our outbound transfers enter our order's history.

use super::webhooks::backoff;
use super::{AdminCap, App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::order::{Channel, Command, NewOrder, PeerKind, Status};
use jiesu_core::role::{Role, Scope};
use jiesu_core::{OrderId, TenantId};
use jiesu_store::transfers::{NewPeer, Peer, TransferRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

/// Transfers one pass takes on.
const BATCH: u32 = 100;

/// What the peer gets and answers, the same on both sides (both may run Jiesu).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundAck {
    pub order_id: i64,
    pub number: String,
    pub status: String,
    /// The key was seen before: this is the order the first request created.
    pub duplicate: bool,
}

/// A peer's report on an order we transferred to it.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub from: String,
    pub key: String,
    pub seq: u32,
    pub status: String,
    pub status_label: String,
    pub note: Option<String>,
}

pub struct PeerInput {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub token: String,
}

/// The channel an inbound order carries: the kind of platform it came from.
pub fn channel_of(kind: PeerKind) -> Channel {
    match kind {
        PeerKind::Police110 => Channel::Police110,
        PeerKind::Utility => Channel::Utility,
        PeerKind::Grid => Channel::Grid,
        PeerKind::Hotline => Channel::Api,
    }
}

fn peer_kind(p: &Peer) -> PeerKind {
    PeerKind::parse("kind", &p.kind).unwrap_or(PeerKind::Hotline)
}

fn endpoint(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

impl App {
    /// Adds a platform to exchange orders with (admin).
    pub async fn create_peer(&self, cap: &AdminCap<'_>, input: PeerInput) -> AppResult<i64> {
        let code = jiesu_core::values::required_text("code", &input.code, 64)?;
        if !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(AppError::invalid(
                "code",
                "平台代码只能包含字母、数字、-、_、.",
            ));
        }
        let name = jiesu_core::values::required_text("name", &input.name, 64)?;
        let kind = PeerKind::parse("kind", input.kind.trim())?;
        let url = super::webhooks::http_url(&input.url, "对方平台接口地址")?;
        let token = jiesu_core::values::required_text("token", &input.token, 500)?;
        let id = self
            .store
            .create_peer(
                cap.0.tenant,
                &NewPeer {
                    code: &code,
                    name: &name,
                    kind: kind.as_str(),
                    url: &url,
                    token: &token,
                },
            )
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::Duplicate(_) => {
                    AppError::invalid("code", format!("平台代码“{code}”已存在"))
                }
                e => e.into(),
            })?;
        self.audit(
            cap,
            "peer.create",
            format!("peer:{id}"),
            format!("{name} ({}) → {url}", kind.label()),
        )
        .await?;
        Ok(id)
    }

    /// The platforms (admins, and the centre staff who transfer).
    pub async fn peers(&self, p: &Principal) -> AppResult<Vec<Peer>> {
        p.require_any(
            &[Role::Admin, Role::Agent, Role::Dispatcher],
            "查看对接平台",
        )?;
        Ok(self.store.peers(p.tenant).await?)
    }

    pub async fn set_peer_active(
        &self,
        cap: &AdminCap<'_>,
        id: i64,
        active: bool,
    ) -> AppResult<()> {
        self.store
            .set_peer_active(cap.0.tenant, id, active)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("对接平台"),
                e => e.into(),
            })?;
        self.audit(
            cap,
            if active { "peer.resume" } else { "peer.pause" },
            format!("peer:{id}"),
            String::new(),
        )
        .await
    }

    /// 一键转办: transfers an order waiting for dispatch to `peer_id`.
    pub async fn transfer_order(
        &self,
        p: &Principal,
        id: OrderId,
        peer_id: i64,
        reason: String,
        close_on_accept: bool,
    ) -> AppResult<super::orders::OrderView> {
        let peer = self
            .store
            .peer(p.tenant, peer_id)
            .await?
            .filter(|x| x.active)
            .ok_or_else(|| AppError::invalid("peer_id", "对接平台不存在或已停用"))?;
        let key = format!(
            "{}-{}-{}",
            p.tenant.0,
            id.0,
            super::auth::random_secret().get(..10).unwrap_or("0")
        );
        // The transfer is recorded first: once the order says "transferred", it will go out.
        let row = self
            .store
            .insert_transfer(p.tenant, peer.id, "out", &key, id, "pending", None)
            .await?
            .ok_or_else(|| AppError::Conflict("转办编号冲突，请重试".into()))?;
        let cmd = Command::Transfer {
            id: key,
            peer_id: peer.id,
            peer: peer.name.clone(),
            kind: peer_kind(&peer),
            reason,
            close_on_accept,
        };
        match self.order_command(p, id, cmd).await {
            Ok(v) => Ok(v),
            Err(e) => {
                self.store.delete_transfer(p.tenant, row).await?;
                Err(e)
            }
        }
    }

    /// The transfers of an order, either way, with their peers' names.
    pub async fn order_transfers(
        &self,
        p: &Principal,
        id: OrderId,
    ) -> AppResult<Vec<(TransferRow, String)>> {
        let org = self.org(p.tenant).await?;
        self.visible(p, &org, id).await?;
        let names: HashMap<i64, String> = self
            .store
            .peers(p.tenant)
            .await?
            .into_iter()
            .map(|x| (x.id, x.name))
            .collect();
        Ok(self
            .store
            .order_transfers(p.tenant, id)
            .await?
            .into_iter()
            .map(|t| {
                let n = names.get(&t.peer_id).cloned().unwrap_or_default();
                (t, n)
            })
            .collect())
    }

    async fn peer_named(&self, tenant: TenantId, from: &str) -> AppResult<Peer> {
        self.store
            .peer_by_code(tenant, from.trim())
            .await?
            .filter(|x| x.active)
            .ok_or_else(|| AppError::invalid("from", format!("未登记或已停用的对接平台“{from}”")))
    }

    /// An order pushed to us by a peer (token with the `transfer` or `grid` scope). A resend
    /// with the same key returns the order the first one created.
    pub async fn transfer_inbound(
        &self,
        p: &Principal,
        from: &str,
        key: &str,
        remote_ref: Option<String>,
        mut new: NewOrder,
    ) -> AppResult<InboundAck> {
        if !(p.may_use(Scope::Transfer) || p.may_use(Scope::Grid)) {
            return Err(AppError::Forbidden("该令牌不能用于平台转办".into()));
        }
        let peer = self.peer_named(p.tenant, from).await?;
        let kind = peer_kind(&peer);
        let needed = if kind == PeerKind::Grid {
            Scope::Grid
        } else {
            Scope::Transfer
        };
        if !p.may_use(needed) {
            return Err(AppError::Forbidden("该令牌不能用于此类平台的转办".into()));
        }
        let key = jiesu_core::values::required_text("key", key, 100)?;
        let ack = |o: &jiesu_store::orders::StoredOrder, duplicate| InboundAck {
            order_id: o.id.0,
            number: o.order.number.clone(),
            status: o.order.status.as_str().to_string(),
            duplicate,
        };
        if let Some(t) = self
            .store
            .transfer_by_key(p.tenant, peer.id, "in", &key)
            .await?
            && let Some(o) = self.store.order(p.tenant, OrderId(t.order_id)).await?
        {
            return Ok(ack(&o, true));
        }
        // Codes of the other platform that mean nothing here are dropped (the address stays).
        let refs = self.ref_data(p.tenant).await?;
        if new
            .category
            .as_ref()
            .is_some_and(|c| !refs.categories.contains(c.as_str()))
        {
            new.category = None;
        }
        if new
            .location
            .region_code
            .as_ref()
            .is_some_and(|r| !refs.regions.contains(r.as_str()))
        {
            new.location.region_code = None;
        }
        new.channel = channel_of(kind);
        let external = format!("{}:{key}", peer.code);
        new.external_ref = Some(external.clone());
        new.source.insert("transfer_from".into(), peer.name.clone());
        if let Some(r) = &remote_ref {
            new.source.insert("transfer_ref".into(), r.clone());
        }
        let order = match self.accept_order(p, new, None).await {
            Ok(v) => (v.stored, false),
            Err(AppError::Conflict(_)) => {
                // A concurrent resend stored it first.
                let id = self
                    .store
                    .order_id_by_external_ref(p.tenant, channel_of(kind), &external)
                    .await?
                    .ok_or(AppError::NotFound("工单"))?;
                let o = self
                    .store
                    .order(p.tenant, id)
                    .await?
                    .ok_or(AppError::NotFound("工单"))?;
                (o, true)
            }
            Err(e) => return Err(e),
        };
        self.store
            .insert_transfer(
                p.tenant,
                peer.id,
                "in",
                &key,
                order.0.id,
                "accepted",
                remote_ref.as_deref(),
            )
            .await?;
        Ok(ack(&order.0, order.1))
    }

    /// A peer's report on an order we transferred to it; older or repeated reports change
    /// nothing (`false`).
    pub async fn transfer_status(&self, p: &Principal, r: StatusReport) -> AppResult<bool> {
        if !(p.may_use(Scope::Transfer) || p.may_use(Scope::Grid)) {
            return Err(AppError::Forbidden("该令牌不能用于平台转办".into()));
        }
        let peer = self.peer_named(p.tenant, &r.from).await?;
        let t = self
            .store
            .transfer_by_key(p.tenant, peer.id, "out", r.key.trim())
            .await?
            .ok_or(AppError::NotFound("转办记录"))?;
        if r.seq <= t.synced_seq {
            return Ok(false);
        }
        let actor = self.system_actor(p.tenant).await?;
        let label = if r.status_label.trim().is_empty() {
            r.status
        } else {
            r.status_label
        };
        self.run_command(
            p.tenant,
            &actor,
            None,
            OrderId(t.order_id),
            &Command::TransferStatus {
                id: t.key.clone(),
                status: label,
                note: r.note,
            },
            Utc::now(),
        )
        .await?;
        self.store
            .update_transfer(
                p.tenant,
                t.id,
                &t.state,
                None,
                t.attempts,
                t.next_at,
                t.last_error.as_deref(),
                r.seq,
            )
            .await?;
        Ok(true)
    }

    /// Pushes an order dispatched to grid cell `unit` (event `seq`) to the tenant's grid
    /// platform, if it has one. Idempotent: the transfer row and the order's event are each
    /// made once, whatever the repeats.
    pub(crate) async fn push_to_grid(
        &self,
        tenant: TenantId,
        id: OrderId,
        seq: u32,
        unit: jiesu_core::UnitId,
    ) -> AppResult<()> {
        let Some(peer) = self
            .store
            .peers(tenant)
            .await?
            .into_iter()
            .find(|p| p.active && p.kind == PeerKind::Grid.as_str())
        else {
            return Ok(());
        };
        let key = format!("{}-{}-g{seq}-{}", tenant.0, id.0, unit.0);
        self.store
            .insert_transfer(tenant, peer.id, "out", &key, id, "pending", None)
            .await?;
        let org = self.org(tenant).await?;
        let actor = self.system_actor(tenant).await?;
        let cmd = Command::GridPush {
            id: key,
            peer_id: peer.id,
            peer: peer.name.clone(),
            reason: format!("派至网格“{}”，同步推送网格平台", org.name(unit)),
        };
        match self
            .run_command(tenant, &actor, None, id, &cmd, Utc::now())
            .await
        {
            Ok(_) | Err(AppError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One pass: send what is due, report what changed. Returns the transfers handled.
    pub async fn transfer_once(&self, client: &reqwest::Client) -> AppResult<usize> {
        // One platform at a time: at most BATCH calls in a row.
        let lease = super::webhooks::pass_lease(self.config.webhook_timeout_ms, BATCH as usize);
        let due = self.store.due_transfers(Utc::now(), BATCH, lease).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let codes: HashMap<TenantId, String> = self
            .store
            .tenants()
            .await?
            .into_iter()
            .map(|t| (t.id, t.code))
            .collect();
        let n = due.len();
        for t in due {
            let Some(peer) = self.store.peer(t.tenant, t.peer_id).await? else {
                continue;
            };
            let from = codes.get(&t.tenant).cloned().unwrap_or_default();
            let r = if t.direction == "out" {
                self.send_transfer(client, &peer, &from, &t).await
            } else {
                self.report_back(client, &peer, &from, &t).await
            };
            if let Err(e) = r {
                tracing::warn!(error = %e, transfer = t.id, "transfer pass failed on one transfer");
            }
        }
        Ok(n)
    }

    async fn send_transfer(
        &self,
        client: &reqwest::Client,
        peer: &Peer,
        from: &str,
        t: &TransferRow,
    ) -> AppResult<()> {
        let Some(stored) = self.store.order(t.tenant, OrderId(t.order_id)).await? else {
            return Ok(());
        };
        let o = &stored.order;
        let Some(tr) = o.transfers.iter().find(|x| x.id == t.key) else {
            // The order's event is written just after the row: wait for it a while. If it
            // never comes (the command failed and the clean-up did not happen), there is
            // nothing to send.
            let now = Utc::now();
            let (state, next) = if now - t.created_at < chrono::Duration::minutes(5) {
                ("pending", now + chrono::Duration::seconds(1))
            } else {
                ("failed", now)
            };
            return Ok(self
                .store
                .update_transfer(
                    t.tenant,
                    t.id,
                    state,
                    None,
                    t.attempts,
                    next,
                    Some("工单无转办记录"),
                    t.synced_seq,
                )
                .await?);
        };
        let body = json!({
            "from": from,
            "key": t.key,
            "remote_ref": o.number,
            "reason": tr.reason,
            "order": {
                "channel": "api",
                "request_type": o.request_type.as_str(),
                "category": o.category.as_ref().map(|c| c.as_str()),
                "title": o.title,
                "content": o.content,
                "citizen": {
                    "name": o.citizen.name,
                    "phone": o.citizen.phone.as_ref().map(|p| p.as_str()),
                    "anonymous": o.citizen.anonymous,
                },
                "address": o.location.address,
                "region_code": o.location.region_code.as_ref().map(|r| r.as_str()),
                "lat": o.location.lat,
                "lng": o.location.lng,
                "urgency": o.urgency.as_str(),
                "flags": {"emergency": o.flags.emergency},
            },
        });
        let res = client
            .post(endpoint(&peer.url, "/api/transfer/inbound"))
            .bearer_auth(&peer.token)
            .header("Idempotency-Key", &t.key)
            .json(&body)
            .send()
            .await;
        let actor = self.system_actor(t.tenant).await?;
        let answer = |accepted: bool, remote_ref: Option<String>, reason: Option<String>| {
            Command::TransferAnswer {
                id: t.key.clone(),
                accepted,
                remote_ref,
                reason,
            }
        };
        let (state, cmd, remote, error) = match res {
            Ok(r) if r.status().is_success() => {
                let ack: InboundAck = r.json().await.map_err(|e| {
                    AppError::Internal(format!("peer answered without an acknowledgement: {e}"))
                })?;
                (
                    "accepted",
                    Some(answer(true, Some(ack.number.clone()), None)),
                    Some(ack.number),
                    None,
                )
            }
            Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 408 | 429) => {
                let status = r.status().as_u16();
                let text: serde_json::Value = r.json().await.unwrap_or_default();
                let msg = text["error"]["message"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("HTTP {status}"));
                let reason = format!("{}拒收：{msg}", peer.name);
                (
                    "rejected",
                    Some(answer(false, None, Some(reason.clone()))),
                    None,
                    Some(reason),
                )
            }
            other => {
                let error = match other {
                    Ok(r) => format!("HTTP {}", r.status().as_u16()),
                    Err(e) if e.is_timeout() => "超时".to_string(),
                    Err(e) => format!("连接失败：{e}"),
                };
                let attempts = t.attempts + 1;
                if attempts >= self.config.webhook_max_attempts {
                    let reason = format!("{}无响应（{attempts} 次尝试，最后：{error}）", peer.name);
                    (
                        "failed",
                        Some(answer(false, None, Some(reason.clone()))),
                        None,
                        Some(reason),
                    )
                } else {
                    let next = Utc::now() + backoff(self.config.webhook_retry_base_ms, t.attempts);
                    return Ok(self
                        .store
                        .update_transfer(
                            t.tenant,
                            t.id,
                            "pending",
                            None,
                            attempts,
                            next,
                            Some(&error),
                            t.synced_seq,
                        )
                        .await?);
                }
            }
        };
        // The order first: a crash before the row is updated sends again, the peer answers
        // the same, and the answer is found recorded.
        if let Some(cmd) = cmd {
            match self
                .run_command(
                    t.tenant,
                    &actor,
                    None,
                    OrderId(t.order_id),
                    &cmd,
                    Utc::now(),
                )
                .await
            {
                Ok(_) | Err(AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self
            .store
            .update_transfer(
                t.tenant,
                t.id,
                state,
                remote.as_deref(),
                t.attempts + 1,
                Utc::now(),
                error.as_deref(),
                t.synced_seq,
            )
            .await?)
    }

    /// Reports an inbound order's latest state to the peer it came from.
    async fn report_back(
        &self,
        client: &reqwest::Client,
        peer: &Peer,
        from: &str,
        t: &TransferRow,
    ) -> AppResult<()> {
        let Some(stored) = self.store.order(t.tenant, OrderId(t.order_id)).await? else {
            return Ok(());
        };
        let o = &stored.order;
        let note = match o.status {
            Status::Replied | Status::CallbackPending | Status::Closed => o
                .reply
                .as_ref()
                .map(|r| r.content.clone())
                .or_else(|| o.instant_answer.as_ref().and_then(|a| a.answer.clone())),
            _ => None,
        };
        let body = json!({
            "from": from,
            "key": t.key,
            "seq": o.version,
            "status": o.status.as_str(),
            "status_label": o.status.label(),
            "note": note,
            "at": o.updated_at,
        });
        let res = client
            .post(endpoint(&peer.url, "/api/transfer/status"))
            .bearer_auth(&peer.token)
            .json(&body)
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() || r.status() == reqwest::StatusCode::NOT_FOUND => {
                // 404: the peer does not know the transfer (anymore); nothing more to tell it.
                // A finished order, once reported, leaves the pass's query for good.
                let state = if o.status.is_terminal() {
                    "closed"
                } else {
                    t.state.as_str()
                };
                self.store
                    .update_transfer(t.tenant, t.id, state, None, 0, Utc::now(), None, o.version)
                    .await?;
            }
            other => {
                let error = match other {
                    Ok(r) => format!("HTTP {}", r.status().as_u16()),
                    Err(e) => format!("{e}"),
                };
                let next: DateTime<Utc> =
                    Utc::now() + backoff(self.config.webhook_retry_base_ms, t.attempts);
                self.store
                    .update_transfer(
                        t.tenant,
                        t.id,
                        &t.state,
                        None,
                        t.attempts + 1,
                        next,
                        Some(&error),
                        t.synced_seq,
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

/// The background transfer loop of a node.
pub async fn run(app: std::sync::Arc<App>) {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(
            app.config.webhook_timeout_ms,
        ))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "transfer client could not be built; transfers stop");
            return;
        }
    };
    loop {
        let n = match app.transfer_once(&client).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "transfer pass failed");
                0
            }
        };
        if n == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
