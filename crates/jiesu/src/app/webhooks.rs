//! Outbound webhooks (issue 8): other systems subscribe to order events and receive each as a
//! signed JSON POST, delivered from the durable outbox in the database — in order per order and
//! endpoint, retried with exponential back-off, logged, and given up (dead, retryable by an
//! admin) only after many attempts. A receiver dedups on `X-Jiesu-Event-Id`, which is the same
//! on every retry of an event; a crash between a receiver's 2xx and our record of it is the only
//! way it sees an event twice.

use super::{AdminCap, App, AppError, AppResult};
use chrono::{Duration, Utc};
use futures::StreamExt;
use hmac::{KeyInit, Mac};
use jiesu_core::order::Event;
use jiesu_core::{OrderId, TenantId};
use jiesu_store::webhooks::{Attempt, DeliveryRow, DueDelivery, NewDelivery, OutboxRow, Webhook};
use serde_json::json;
use std::collections::HashMap;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Outbox rows one fan-out pass takes.
const FAN_OUT_BATCH: u64 = 500;
/// Deliveries one pass attempts (at most `config.webhook_concurrency` at a time).
const DELIVERY_BATCH: u32 = 400;

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it with
/// the endpoint's secret and rejects old timestamps (replays).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The delay before attempt `n + 1` after `n` failures: base × 2ⁿ, at most an hour.
pub fn backoff(base_ms: u64, failures: u32) -> Duration {
    let ms = base_ms.saturating_mul(1u64 << failures.min(20));
    Duration::milliseconds(ms.min(3_600_000) as i64)
}

/// The event kinds a subscription may name.
pub fn event_kinds() -> &'static [&'static str] {
    &[
        "accepted",
        "amended",
        "instant_answered",
        "dispatched",
        "signed",
        "returned",
        "note_added",
        "attachment_added",
        "extension_requested",
        "extension_decided",
        "replied",
        "checked",
        "called_back",
        "callback_not_reached",
        "supervised",
        "notice_responded",
        "closed_without_callback",
        "withdrawn",
        "invalidated",
        "merged_into",
        "merged_from",
        "repeat_found",
        "reminder_sent",
        "overdue_marked",
        "transfer_requested",
        "transfer_accepted",
        "transfer_failed",
        "transfer_status",
    ]
}

/// An http(s) address of another system (a webhook receiver, a platform's interface), or a
/// 422 on `url`.
/// `what` names it in the message (接收地址, 接口地址).
pub fn http_url(s: &str, what: &str) -> AppResult<String> {
    let url = s.trim().to_string();
    let parsed = reqwest::Url::parse(&url).map_err(|_| {
        AppError::invalid(
            "url",
            format!("请填写完整的{what}，如 https://example.gov.cn/hook"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AppError::invalid("url", format!("{what}须为 http(s) 地址")));
    }
    if url.len() > 500 {
        return Err(AppError::invalid("url", format!("{what}过长")));
    }
    Ok(url)
}

/// A new subscription as an admin gives it.
pub struct WebhookInput {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
}

impl App {
    /// Subscribes an endpoint; the signing secret is returned once.
    pub async fn create_webhook(
        &self,
        cap: &AdminCap<'_>,
        input: WebhookInput,
    ) -> AppResult<(i64, String)> {
        let name = jiesu_core::values::required_text("name", &input.name, 64)?;
        let url = http_url(&input.url, "接收地址")?;
        let known = event_kinds();
        for e in &input.events {
            if !known.contains(&e.as_str()) {
                return Err(AppError::invalid(
                    "events",
                    format!("未知事件“{e}”，可选：{}", known.join(", ")),
                ));
            }
        }
        let secret = format!("whsec_{}", super::auth::random_secret());
        let id = self
            .store
            .create_webhook(
                cap.0.tenant,
                &name,
                &url,
                &secret,
                &input.events,
                cap.0.user_id,
            )
            .await?;
        self.audit(
            cap,
            "webhook.create",
            format!("webhook:{id}"),
            format!("{name} → {url}"),
        )
        .await?;
        Ok((id, secret))
    }

    pub async fn webhooks(
        &self,
        cap: &AdminCap<'_>,
    ) -> AppResult<Vec<(Webhook, Vec<(String, u64)>)>> {
        let hooks = self.store.webhooks(cap.0.tenant).await?;
        let mut out = Vec::with_capacity(hooks.len());
        for h in hooks {
            let counts = self.store.delivery_counts(cap.0.tenant, h.id).await?;
            out.push((h, counts));
        }
        Ok(out)
    }

    pub async fn set_webhook_active(
        &self,
        cap: &AdminCap<'_>,
        id: i64,
        active: bool,
    ) -> AppResult<()> {
        self.store
            .set_webhook_active(cap.0.tenant, id, active)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("订阅"),
                e => e.into(),
            })?;
        self.audit(
            cap,
            if active {
                "webhook.enable"
            } else {
                "webhook.disable"
            },
            format!("webhook:{id}"),
            String::new(),
        )
        .await
    }

    pub async fn webhook_deliveries(
        &self,
        cap: &AdminCap<'_>,
        id: i64,
        status: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<DeliveryRow>> {
        if let Some(s) = status
            && !["pending", "delivered", "dead"].contains(&s)
        {
            return Err(AppError::invalid(
                "status",
                "应为 pending、delivered 或 dead",
            ));
        }
        Ok(self
            .store
            .deliveries(cap.0.tenant, id, status, before, limit.clamp(1, 500))
            .await?)
    }

    pub async fn retry_delivery(&self, cap: &AdminCap<'_>, id: i64) -> AppResult<()> {
        self.store
            .retry_delivery(cap.0.tenant, id)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("失败的投递"),
                e => e.into(),
            })?;
        self.audit(
            cap,
            "webhook.retry",
            format!("delivery:{id}"),
            String::new(),
        )
        .await
    }

    /// One fan-out pass: the outbox's oldest rows become deliveries to the endpoints that
    /// want their events, notifications (SMS, work messages), and pushes of orders dispatched
    /// to a grid cell to the grid platform. Returns the rows handled.
    pub async fn fan_out_once(&self) -> AppResult<usize> {
        let rows = self.store.event_outbox(FAN_OUT_BATCH).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let hooks = self.store.all_webhooks().await?;
        let mut by_tenant: HashMap<TenantId, Vec<&Webhook>> = HashMap::new();
        for h in &hooks {
            by_tenant.entry(h.tenant).or_default().push(h);
        }
        let now = Utc::now();
        let mut deliveries = Vec::new();
        let mut notifications = Vec::new();
        let mut grid_pushes = Vec::new();
        let tenant_codes: HashMap<TenantId, String> = self
            .store
            .tenants()
            .await?
            .into_iter()
            .map(|t| (t.id, t.code))
            .collect();
        let mut per_tenant: HashMap<TenantId, Vec<&OutboxRow>> = HashMap::new();
        for row in &rows {
            per_tenant.entry(row.tenant).or_default().push(row);
        }
        for (tenant, rows) in per_tenant {
            let org = self.org(tenant).await?;
            let subs = by_tenant.get(&tenant);
            let ids: Vec<OrderId> = rows.iter().map(|r| r.order_id).collect();
            let mut from: HashMap<OrderId, (u32, u32)> = HashMap::new();
            for r in &rows {
                let e = from.entry(r.order_id).or_insert((r.from_seq, r.to_seq));
                e.0 = e.0.min(r.from_seq);
                e.1 = e.1.max(r.to_seq);
            }
            let wanted: Vec<(OrderId, u32)> = from.iter().map(|(o, (f, _))| (*o, *f)).collect();
            let events = self.store.events_from(tenant, &wanted).await?;
            let mut by_order: HashMap<OrderId, Vec<&Event>> = HashMap::new();
            for (id, e) in &events {
                if from.get(id).is_some_and(|(_, to)| e.seq <= *to) {
                    by_order.entry(*id).or_default().push(e);
                }
            }
            // The whole order is read only where it is needed: for a subscriber's payload, or
            // to tell the citizen the order is closed. Notifications otherwise need the
            // number and title alone.
            let full: Vec<OrderId> = if subs.is_some() {
                ids.clone()
            } else {
                by_order
                    .iter()
                    .filter(|(_, evs)| {
                        evs.iter()
                            .any(|e| crate::app::notify::closes_after_handling(e))
                    })
                    .map(|(id, _)| *id)
                    .collect()
            };
            let orders: HashMap<OrderId, jiesu_store::orders::StoredOrder> = self
                .store
                .orders_by_ids(tenant, &full)
                .await?
                .into_iter()
                .map(|o| (o.id, o))
                .collect();
            let titles = if subs.is_some() {
                HashMap::new()
            } else {
                self.store.order_titles(tenant, &ids).await?
            };
            let tenant_code = tenant_codes.get(&tenant).cloned().unwrap_or_default();
            for (id, events) in by_order {
                let full_order = orders.get(&id);
                let brief = match (full_order, titles.get(&id)) {
                    (Some(o), _) => crate::app::notify::Brief {
                        number: &o.order.number,
                        title: &o.order.title,
                        citizen: Some(&o.order.citizen),
                    },
                    (None, Some((number, title))) => crate::app::notify::Brief {
                        number,
                        title,
                        citizen: None,
                    },
                    (None, None) => continue,
                };
                notifications.extend(App::derive_notifications(tenant, id, &brief, &events, &org));
                for e in &events {
                    if let jiesu_core::order::EventKind::Dispatched { targets, .. } = &e.kind {
                        for (unit, _) in targets {
                            if org
                                .get(*unit)
                                .is_some_and(|u| u.kind == jiesu_core::org::UnitKind::Grid)
                            {
                                grid_pushes.push((tenant, id, e.seq, *unit));
                            }
                        }
                    }
                    let (Some(subs), Some(order)) = (subs, full_order) else {
                        continue;
                    };
                    let kind = e.kind.name();
                    let payload = event_payload(&tenant_code, id, &order.order, e).to_string();
                    for h in subs.iter().filter(|h| h.wants(kind)) {
                        deliveries.push(NewDelivery {
                            tenant,
                            webhook_id: h.id,
                            order_id: id,
                            seq: e.seq,
                            event_type: format!("order.{kind}"),
                            payload: payload.clone(),
                            at: now,
                        });
                    }
                }
            }
        }
        // Before the outbox rows go: a crash here repeats the pushes, which are idempotent.
        for (tenant, id, seq, unit) in grid_pushes {
            if let Err(e) = self.push_to_grid(tenant, id, seq, unit).await {
                tracing::warn!(error = %e, order = id.0, "could not push an order to the grid platform");
            }
        }
        let done: Vec<i64> = rows.iter().map(|r| r.id).collect();
        self.store
            .fan_out(&deliveries, &notifications, &done)
            .await?;
        Ok(rows.len())
    }

    /// One delivery pass: every delivery whose turn has come is attempted (concurrently,
    /// one per endpoint and order) and the outcomes recorded together. Returns the attempts.
    pub async fn deliver_once(&self, client: &reqwest::Client) -> AppResult<usize> {
        let now = Utc::now();
        let rounds = DELIVERY_BATCH as usize / self.config.webhook_concurrency.max(1) + 1;
        let lease = pass_lease(self.config.webhook_timeout_ms, rounds);
        let due = self
            .store
            .due_deliveries(now, DELIVERY_BATCH, lease)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let base = self.config.webhook_retry_base_ms;
        let max_attempts = self.config.webhook_max_attempts;
        let attempts: Vec<Attempt> = futures::stream::iter(due)
            .map(|d| attempt(client, d, base, max_attempts))
            .buffer_unordered(self.config.webhook_concurrency.max(1))
            .collect()
            .await;
        let n = attempts.len();
        self.store.record_attempts(&attempts).await?;
        Ok(n)
    }
}

/// How long a background pass holds the rows it took (see `Store::claim`): long enough for
/// `calls` outside calls one after another, each at most `timeout_ms`, and a minute more.
pub(crate) fn pass_lease(timeout_ms: u64, calls: usize) -> std::time::Duration {
    std::time::Duration::from_millis(timeout_ms.saturating_mul(calls as u64))
        + std::time::Duration::from_secs(60)
}

/// What a receiver gets for one event. No personal data of the citizen: a receiver that
/// needs it reads the order through the API with its own permissions.
fn event_payload(
    tenant: &str,
    order_id: OrderId,
    o: &jiesu_core::order::Order,
    e: &Event,
) -> serde_json::Value {
    let kind = e.kind.name();
    json!({
        "id": format!("evt_{tenant}_{}_{}", order_id.0, e.seq),
        "type": format!("order.{kind}"),
        "tenant": tenant,
        "created_at": e.at,
        "order": {
            "id": order_id.0,
            "number": o.number,
            "channel": o.channel.as_str(),
            "request_type": o.request_type.as_str(),
            "category": o.category.as_ref().map(|c| c.as_str()),
            "region_code": o.location.region_code.as_ref().map(|r| r.as_str()),
            "status": o.status.as_str(),
            "lead_unit_id": o.lead_unit().map(|u| u.0),
            "reply_due": o.deadlines.reply.as_ref().map(|d| d.due),
            "version": o.version,
        },
        "event": {
            "seq": e.seq,
            "kind": kind,
            "label": e.kind.label(),
            "from": e.from.map(|s| s.as_str()),
            "to": e.to.as_str(),
            "at": e.at,
            "actor": {"username": e.actor.username, "role": e.actor.role.as_str(), "unit_id": e.actor.unit_id.0},
            "reason": e.kind.reason(),
        },
    })
}

async fn attempt(
    client: &reqwest::Client,
    d: DueDelivery,
    base_ms: u64,
    max_attempts: u32,
) -> Attempt {
    let now = Utc::now();
    let sig = signature(&d.secret, now.timestamp(), &d.payload);
    let event_id = format!("{}_{}_{}", d.tenant.0, d.order_id.0, d.seq);
    let r = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Jiesu-Event", &d.event_type)
        .header("X-Jiesu-Event-Id", event_id)
        .header("X-Jiesu-Delivery", d.id.to_string())
        .header("X-Jiesu-Signature", sig)
        .body(d.payload.clone())
        .send()
        .await;
    let at = Utc::now();
    let (delivered, status, error) = match r {
        Ok(resp) if resp.status().is_success() => (true, Some(resp.status().as_u16()), None),
        Ok(resp) => (
            false,
            Some(resp.status().as_u16()),
            Some(format!("receiver answered {}", resp.status())),
        ),
        Err(e) if e.is_timeout() => (false, None, Some("timed out".to_string())),
        Err(e) => (
            false,
            None,
            Some(format!("{e}").chars().take(300).collect()),
        ),
    };
    let failures = d.attempts + 1;
    let dead = !delivered && failures >= max_attempts;
    Attempt {
        id: d.id,
        tenant: d.tenant,
        delivered,
        status,
        error,
        dead,
        next_at: if delivered || dead {
            at
        } else {
            at + backoff(base_ms, d.attempts)
        },
        at,
    }
}

/// The background delivery loop of a node: fan out, deliver, and sleep a little when idle.
pub async fn run(app: std::sync::Arc<App>) {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(
            app.config.webhook_timeout_ms,
        ))
        .pool_max_idle_per_host(app.config.webhook_concurrency)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be built; deliveries stop");
            return;
        }
    };
    let idle = std::time::Duration::from_millis(100);
    loop {
        let fanned = match app.fan_out_once().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "webhook fan-out failed");
                0
            }
        };
        let sent = match app.deliver_once(&client).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery pass failed");
                0
            }
        };
        let notified = match app.notify_once().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "notification pass failed");
                0
            }
        };
        if fanned == 0 && sent == 0 && notified == 0 {
            tokio::time::sleep(idle).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_hmac_sha256_test_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap_or_else(|_| unreachable!());
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = signature("secret", 1_700_000_000, "{}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, signature("other", 1_700_000_000, "{}"));
    }

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!(backoff(1000, 0), Duration::seconds(1));
        assert_eq!(backoff(1000, 3), Duration::seconds(8));
        assert_eq!(backoff(1000, 30), Duration::hours(1));
    }
}
