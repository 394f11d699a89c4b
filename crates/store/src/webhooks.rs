//! Outbound webhooks: subscriptions, the event outbox they are fed from, and the durable
//! delivery queue with its log. Every order's new events enter `event_outbox` in the
//! transaction that stores them; a fan-out pass turns each into one delivery per subscribed
//! endpoint (and removes it from the outbox) in one transaction; deliveries are attempted in
//! order per endpoint and order, retried with back-off, and end delivered or dead.

use crate::orders::Sql;
use crate::{Result, Store, StoreError, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::order::Event;
use jiesu_core::{OrderId, TenantId, UserId};
use sea_orm::{ConnectionTrait, DbBackend};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: i64,
    #[serde(skip)]
    pub tenant: TenantId,
    pub name: String,
    pub url: String,
    /// Signs every delivery (HMAC-SHA256); never shown again after creation.
    #[serde(skip)]
    pub secret: String,
    /// Event kinds it wants (`accepted`, `dispatched`, …); empty: every event.
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}

/// Orders with new events not yet fanned out.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub tenant: TenantId,
    pub order_id: OrderId,
    pub from_seq: u32,
    pub to_seq: u32,
}

pub struct NewDelivery {
    pub tenant: TenantId,
    pub webhook_id: i64,
    pub order_id: OrderId,
    pub seq: u32,
    pub event_type: String,
    pub payload: String,
    pub at: DateTime<Utc>,
}

/// A notification to store, derived from an event.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub tenant: TenantId,
    pub order_id: OrderId,
    pub seq: u32,
    /// sms or wechat
    pub channel: &'static str,
    /// A phone number, or `unit:<id>` for a unit's work account.
    pub recipient: String,
    pub template: &'static str,
    pub body: String,
}

/// A stored notification.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRow {
    pub id: i64,
    #[serde(skip)]
    pub tenant: TenantId,
    pub order_id: i64,
    pub seq: u32,
    pub channel: String,
    pub recipient: String,
    pub template: String,
    pub body: String,
    /// pending, sent or failed
    pub status: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub adapter: Option<String>,
    pub last_error: Option<String>,
}

/// What one send came to.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub id: i64,
    pub tenant: TenantId,
    /// sent, pending (to retry) or failed
    pub status: &'static str,
    pub adapter: String,
    pub error: Option<String>,
    pub next_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

const MESSAGE_COLS: &str = "id, tenant_id, order_id, seq, channel, recipient, template, body, status, attempts, next_at, created_at, sent_at, adapter, last_error";

fn message_from_row(r: &impl crate::lite::Cols, pii: &crate::pii::PiiKeys) -> Result<MessageRow> {
    Ok(MessageRow {
        id: col(r, "id")?,
        tenant: TenantId(col(r, "tenant_id")?),
        order_id: col(r, "order_id")?,
        seq: col::<i32>(r, "seq")? as u32,
        channel: col(r, "channel")?,
        recipient: pii.open(&col::<String>(r, "recipient")?)?,
        template: col(r, "template")?,
        body: col(r, "body")?,
        status: col(r, "status")?,
        attempts: col::<i32>(r, "attempts")? as u32,
        next_at: from_ms(col(r, "next_at")?),
        created_at: from_ms(col(r, "created_at")?),
        sent_at: col::<Option<i64>>(r, "sent_at")?.map(from_ms),
        adapter: col(r, "adapter")?,
        last_error: col(r, "last_error")?,
    })
}

/// A delivery whose turn has come: the oldest pending one of its endpoint and order.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub tenant: TenantId,
    pub webhook_id: i64,
    pub order_id: OrderId,
    pub seq: u32,
    pub event_type: String,
    pub payload: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub url: String,
    pub secret: String,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: i64,
    pub tenant: TenantId,
    pub delivered: bool,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Given up: no further attempts.
    pub dead: bool,
    pub next_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// One line of the delivery log.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub order_id: i64,
    pub seq: u32,
    pub event_type: String,
    /// pending, delivered or dead.
    pub status: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

fn webhook_from_row(r: &impl crate::lite::Cols) -> Result<Webhook> {
    let events: String = col(r, "events")?;
    Ok(Webhook {
        id: col(r, "id")?,
        tenant: TenantId(col(r, "tenant_id")?),
        name: col(r, "name")?,
        url: col(r, "url")?,
        secret: col(r, "secret")?,
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(String::from)
            .collect(),
        active: col(r, "active")?,
        created_at: from_ms(col(r, "created_at")?),
    })
}

const WEBHOOK_COLS: &str = "id, tenant_id, name, url, secret, events, active, created_at";

impl Store {
    pub async fn create_webhook(
        &self,
        tenant: TenantId,
        name: &str,
        url: &str,
        secret: &str,
        events: &[String],
        by: UserId,
    ) -> Result<i64> {
        let row = self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO webhooks (tenant_id, name, url, secret, events, active, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                vec![
                    tenant.0.into(),
                    name.into(),
                    url.into(),
                    secret.into(),
                    events.join(",").into(),
                    true.into(),
                    to_ms(Utc::now()).into(),
                    by.0.into(),
                ],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        col(&row, "id")
    }

    pub async fn webhooks(&self, tenant: TenantId) -> Result<Vec<Webhook>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE tenant_id = $1 ORDER BY id"),
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    /// Every tenant's subscriptions (the fan-out pass's view: a paused one collects its
    /// deliveries and sends them when resumed).
    pub async fn all_webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!("SELECT {WEBHOOK_COLS} FROM webhooks ORDER BY tenant_id, id"),
                vec![],
            ))
            .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub async fn set_webhook_active(&self, tenant: TenantId, id: i64, active: bool) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE webhooks SET active = $3 WHERE tenant_id = $1 AND id = $2",
                vec![tenant.0.into(), id.into(), active.into()],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The oldest outbox rows, across tenants.
    pub async fn event_outbox(&self, limit: u64) -> Result<Vec<OutboxRow>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, tenant_id, order_id, from_seq, to_seq FROM event_outbox ORDER BY id LIMIT $1",
                vec![(limit as i64).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: col(r, "id")?,
                    tenant: TenantId(col(r, "tenant_id")?),
                    order_id: OrderId(col(r, "order_id")?),
                    from_seq: col::<i32>(r, "from_seq")? as u32,
                    to_seq: col::<i32>(r, "to_seq")? as u32,
                })
            })
            .collect()
    }

    /// An order's events from `from_seq` on.
    pub async fn order_events_from(
        &self,
        tenant: TenantId,
        id: OrderId,
        from_seq: u32,
    ) -> Result<Vec<Event>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT payload FROM order_events WHERE tenant_id = $1 AND order_id = $2 AND seq >= $3 ORDER BY seq",
                vec![tenant.0.into(), id.0.into(), (from_seq as i32).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let payload = self.pii().open_json(&col::<String>(r, "payload")?)?;
                serde_json::from_str(&payload).map_err(StoreError::corrupt)
            })
            .collect()
    }

    /// Stores the deliveries and removes the outbox rows they came from, together: a crash
    /// leaves either both or neither (and a repeated pass adds no duplicate). Several nodes
    /// may fan out the same outbox rows at once: every row is written in the order of its
    /// unique key, so two such passes wait for each other instead of locking the same keys
    /// crosswise (a deadlock that failed whole group commits).
    pub async fn fan_out(
        &self,
        deliveries: &[NewDelivery],
        notifications: &[NewMessage],
        done: &[i64],
    ) -> Result<()> {
        let mut notifications: Vec<&NewMessage> = notifications.iter().collect();
        notifications.sort_by(|a, b| {
            (a.tenant, a.order_id, a.seq, a.template, &a.recipient).cmp(&(
                b.tenant,
                b.order_id,
                b.seq,
                b.template,
                &b.recipient,
            ))
        });
        let mut deliveries: Vec<&NewDelivery> = deliveries.iter().collect();
        deliveries.sort_by_key(|d| (d.tenant, d.webhook_id, d.order_id, d.seq));
        let mut done = done.to_vec();
        done.sort_unstable();
        let mut stmts = Vec::new();
        let now = to_ms(Utc::now());
        let ring = self.pii().ring();
        for chunk in notifications.chunks(100) {
            let mut q = Sql::new(
                "INSERT INTO outbound_messages (tenant_id, order_id, seq, channel, recipient, template, body, status, attempts, next_at, created_at) VALUES ",
            );
            for (n, x) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                q.push_values([
                    x.tenant.0.into(),
                    x.order_id.0.into(),
                    (x.seq as i32).into(),
                    x.channel.into(),
                    crate::pii::seal_number(&ring, &x.recipient).into(),
                    x.template.into(),
                    x.body.clone().into(),
                    "pending".into(),
                    0i32.into(),
                    now.into(),
                    now.into(),
                ]);
                q.push(")");
            }
            q.push(" ON CONFLICT (tenant_id, order_id, seq, template, recipient) DO NOTHING");
            stmts.push(q.build(self.backend));
        }
        for chunk in deliveries.chunks(100) {
            let mut q = Sql::new(
                "INSERT INTO webhook_deliveries (tenant_id, webhook_id, order_id, seq, event_type, payload, status, attempts, next_at, created_at) VALUES ",
            );
            for (n, d) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                q.push_values([
                    d.tenant.0.into(),
                    d.webhook_id.into(),
                    d.order_id.0.into(),
                    (d.seq as i32).into(),
                    d.event_type.clone().into(),
                    d.payload.clone().into(),
                    "pending".into(),
                    0i32.into(),
                    to_ms(d.at).into(),
                    to_ms(d.at).into(),
                ]);
                q.push(")");
            }
            q.push(" ON CONFLICT (tenant_id, webhook_id, order_id, seq) DO NOTHING");
            stmts.push(q.build(self.backend));
        }
        for chunk in done.chunks(500) {
            let mut q = Sql::new("DELETE FROM event_outbox WHERE id IN (");
            let list = q.in_list(chunk);
            q.push(&list);
            q.push(")");
            stmts.push(q.build(self.backend));
        }
        self.write_all(stmts).await
    }

    /// Deliveries whose turn has come: pending, due, of an active endpoint, and the oldest
    /// pending one of their endpoint and order (so one order's events arrive in order);
    /// claimed for this node for `lease` (see `Store::claim`).
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<DueDelivery>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT d.id, d.tenant_id, d.webhook_id, d.order_id, d.seq, d.event_type, d.payload, d.attempts, d.created_at, w.url, w.secret \
                 FROM webhook_deliveries d JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id \
                 WHERE d.status = 'pending' AND d.next_at <= $1 AND w.active \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.tenant_id = d.tenant_id AND e.webhook_id = d.webhook_id \
                   AND e.order_id = d.order_id AND e.seq < d.seq AND e.status = 'pending') \
                 ORDER BY d.id LIMIT $2",
                vec![to_ms(now).into(), i64::from(limit).into()],
            ))
            .await?;
        let due: Vec<DueDelivery> = rows
            .iter()
            .map(|r| {
                Ok(DueDelivery {
                    id: col(r, "id")?,
                    tenant: TenantId(col(r, "tenant_id")?),
                    webhook_id: col(r, "webhook_id")?,
                    order_id: OrderId(col(r, "order_id")?),
                    seq: col::<i32>(r, "seq")? as u32,
                    event_type: col(r, "event_type")?,
                    payload: col(r, "payload")?,
                    attempts: col::<i32>(r, "attempts")? as u32,
                    created_at: from_ms(col(r, "created_at")?),
                    url: col(r, "url")?,
                    secret: col(r, "secret")?,
                })
            })
            .collect::<Result<_>>()?;
        let keys: Vec<(i64, i64)> = due.iter().map(|d| (d.tenant.0, d.id)).collect();
        let got = self.claim("webhook_deliveries", &keys, now, lease).await?;
        Ok(due
            .into_iter()
            .filter(|d| got.contains(&(d.tenant.0, d.id)))
            .collect())
    }

    /// Records a batch of attempts in one transaction.
    pub async fn record_attempts(&self, attempts: &[Attempt]) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut stmts = Vec::new();
        for a in attempts {
            let status = if a.delivered {
                "delivered"
            } else if a.dead {
                "dead"
            } else {
                "pending"
            };
            stmts.push(self.stmt(
                "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1, next_at = $4, \
                 delivered_at = $5, last_status = $6, last_error = $7 WHERE tenant_id = $1 AND id = $2",
                vec![
                    a.tenant.0.into(),
                    a.id.into(),
                    status.into(),
                    to_ms(a.next_at).into(),
                    a.delivered.then(|| to_ms(a.at)).into(),
                    a.status.map(i32::from).into(),
                    a.error.clone().into(),
                ],
            ));
        }
        self.write_all(stmts).await
    }

    /// The delivery log of one endpoint, newest first, optionally of one status.
    pub async fn deliveries(
        &self,
        tenant: TenantId,
        webhook_id: i64,
        status: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>> {
        let mut q = Sql::new(
            "SELECT id, webhook_id, order_id, seq, event_type, status, attempts, next_at, created_at, delivered_at, last_status, last_error \
             FROM webhook_deliveries WHERE tenant_id = ",
        );
        let t = q.param(tenant.0);
        q.push(&t);
        let w = q.param(webhook_id);
        q.push(&format!(" AND webhook_id = {w}"));
        if let Some(s) = status {
            let p = q.param(s.to_string());
            q.push(&format!(" AND status = {p}"));
        }
        if let Some(b) = before_id {
            let p = q.param(b);
            q.push(&format!(" AND id < {p}"));
        }
        let l = q.param(i64::from(limit));
        q.push(&format!(" ORDER BY id DESC LIMIT {l}"));
        let rows = self.read.query_all_raw(q.build(self.backend)).await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    id: col(r, "id")?,
                    webhook_id: col(r, "webhook_id")?,
                    order_id: col(r, "order_id")?,
                    seq: col::<i32>(r, "seq")? as u32,
                    event_type: col(r, "event_type")?,
                    status: col(r, "status")?,
                    attempts: col::<i32>(r, "attempts")? as u32,
                    next_at: from_ms(col(r, "next_at")?),
                    created_at: from_ms(col(r, "created_at")?),
                    delivered_at: col::<Option<i64>>(r, "delivered_at")?.map(from_ms),
                    last_status: col::<Option<i32>>(r, "last_status")?.map(|s| s as u16),
                    last_error: col(r, "last_error")?,
                })
            })
            .collect()
    }

    /// Sends a dead delivery again (an admin's decision once the receiver is fixed).
    pub async fn retry_delivery(&self, tenant: TenantId, id: i64) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE webhook_deliveries SET status = 'pending', next_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'dead'",
                vec![tenant.0.into(), id.into(), to_ms(Utc::now()).into()],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deliveries per status (pending, delivered, dead) of one endpoint.
    pub async fn delivery_counts(
        &self,
        tenant: TenantId,
        webhook_id: i64,
    ) -> Result<Vec<(String, u64)>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT status, COUNT(*) AS n FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 GROUP BY status ORDER BY status",
                vec![tenant.0.into(), webhook_id.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| Ok((col(r, "status")?, col::<i64>(r, "n")? as u64)))
            .collect()
    }
}

impl Store {
    /// Several orders' events from the given sequence numbers on (the fan-out's read).
    pub async fn events_from(
        &self,
        tenant: TenantId,
        from: &[(OrderId, u32)],
    ) -> Result<Vec<(OrderId, Event)>> {
        if from.is_empty() {
            return Ok(Vec::new());
        }
        let min: std::collections::HashMap<i64, u32> =
            from.iter().map(|(o, s)| (o.0, *s)).collect();
        let mut q = Sql::new("SELECT order_id, seq, payload FROM order_events WHERE tenant_id = ");
        let t = q.param(tenant.0);
        q.push(&t);
        q.push(" AND order_id IN (");
        let ids: Vec<i64> = min.keys().copied().collect();
        let list = q.in_list(&ids);
        q.push(&list);
        q.push(") ORDER BY order_id, seq");
        let rows = self.read.query_all_raw(q.build(self.backend)).await?;
        let mut out = Vec::new();
        for r in &rows {
            let order: i64 = col(r, "order_id")?;
            let seq = col::<i32>(r, "seq")? as u32;
            if min.get(&order).is_some_and(|m| seq >= *m) {
                let payload = self.pii().open_json(&col::<String>(r, "payload")?)?;
                out.push((
                    OrderId(order),
                    serde_json::from_str(&payload).map_err(StoreError::corrupt)?,
                ));
            }
        }
        Ok(out)
    }

    /// Notifications due to be sent, across tenants, claimed for this node for `lease` (see
    /// `Store::claim`: with several nodes, each message is sent by one).
    pub async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<MessageRow>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT {MESSAGE_COLS} FROM outbound_messages WHERE status = 'pending' AND next_at <= $1 ORDER BY next_at, id LIMIT $2"
                ),
                vec![to_ms(now).into(), i64::from(limit).into()],
            ))
            .await?;
        let due: Vec<MessageRow> = rows
            .iter()
            .map(|r| message_from_row(r, self.pii()))
            .collect::<Result<_>>()?;
        let keys: Vec<(i64, i64)> = due.iter().map(|m| (m.tenant.0, m.id)).collect();
        let got = self.claim("outbound_messages", &keys, now, lease).await?;
        Ok(due
            .into_iter()
            .filter(|m| got.contains(&(m.tenant.0, m.id)))
            .collect())
    }

    /// Records a batch of sends in one transaction.
    pub async fn record_sends(&self, sends: &[SendResult]) -> Result<()> {
        if sends.is_empty() {
            return Ok(());
        }
        let mut stmts = Vec::new();
        // The common case, sent at once: one statement per adapter, not one per message.
        let mut sent: std::collections::BTreeMap<(i64, &str), Vec<i64>> = Default::default();
        let mut at = None;
        for s in sends
            .iter()
            .filter(|s| s.status == "sent" && s.error.is_none())
        {
            sent.entry((s.tenant.0, s.adapter.as_str()))
                .or_default()
                .push(s.id);
            at = at.max(Some(to_ms(s.at)));
        }
        for ((tenant, adapter), ids) in &sent {
            for chunk in ids.chunks(500) {
                let mut q = Sql::new(
                    "UPDATE outbound_messages SET status = 'sent', attempts = attempts + 1, sent_at = ",
                );
                let a = q.param(at.unwrap_or_default());
                q.push(&a);
                q.push(", next_at = ");
                let n = q.param(at.unwrap_or_default());
                q.push(&n);
                q.push(", adapter = ");
                let d = q.param(adapter.to_string());
                q.push(&d);
                // SQLite would rather scan the tenant's messages (index by tenant and order)
                // than look a list of three or more ids up by rowid: `+` keeps it off that
                // index. (PostgreSQL uses its key (tenant_id, id).)
                q.push(if self.backend == DbBackend::Sqlite {
                    " WHERE +tenant_id = "
                } else {
                    " WHERE tenant_id = "
                });
                let t = q.param(*tenant);
                q.push(&t);
                q.push(" AND id IN (");
                let list = q.in_list(chunk);
                q.push(&list);
                q.push(")");
                stmts.push(q.build(self.backend));
            }
        }
        for s in sends
            .iter()
            .filter(|s| !(s.status == "sent" && s.error.is_none()))
        {
            stmts.push(self.stmt(
                "UPDATE outbound_messages SET status = $3, attempts = attempts + 1, next_at = $4, sent_at = $5, adapter = $6, last_error = $7 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    s.tenant.0.into(),
                    s.id.into(),
                    s.status.into(),
                    to_ms(s.next_at).into(),
                    (s.status == "sent").then(|| to_ms(s.at)).into(),
                    s.adapter.clone().into(),
                    s.error.clone().into(),
                ],
            ));
        }
        self.write_all(stmts).await
    }

    /// The notification log, newest first, optionally of one order and one status.
    pub async fn outbound_messages(
        &self,
        tenant: TenantId,
        order: Option<OrderId>,
        status: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageRow>> {
        let mut q = Sql::new(&format!(
            "SELECT {MESSAGE_COLS} FROM outbound_messages WHERE tenant_id = "
        ));
        let t = q.param(tenant.0);
        q.push(&t);
        if let Some(o) = order {
            let p = q.param(o.0);
            q.push(&format!(" AND order_id = {p}"));
        }
        if let Some(s) = status {
            let p = q.param(s.to_string());
            q.push(&format!(" AND status = {p}"));
        }
        if let Some(b) = before_id {
            let p = q.param(b);
            q.push(&format!(" AND id < {p}"));
        }
        let l = q.param(i64::from(limit));
        q.push(&format!(" ORDER BY id DESC LIMIT {l}"));
        let rows = self.read.query_all_raw(q.build(self.backend)).await?;
        rows.iter()
            .map(|r| message_from_row(r, self.pii()))
            .collect()
    }
}
