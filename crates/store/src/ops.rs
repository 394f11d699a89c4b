//! What operations watch: the depth of every background queue and each tenant's open and
//! overdue orders, read when Prometheus scrapes `/metrics`. Every count walks an index.

use crate::{Result, Store, col, to_ms};
use chrono::{DateTime, Utc};

/// A tenant's counts at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantGauges {
    pub tenant: String,
    /// Orders per status (the maintained `order_counts`).
    pub by_status: Vec<(String, u64)>,
    /// Orders whose running deadline has passed.
    pub overdue: u64,
    /// Orders whose reminder or overdue mark is due and not yet sent (the scheduler's backlog).
    pub alerts_due: u64,
    /// 漏话回拨 items waiting for a callback.
    pub missed_calls_pending: u64,
}

/// The node-independent queues (rows in the database) and every tenant's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpsGauges {
    /// `(queue, rows waiting)`: order changes not yet fanned out to webhooks and messages;
    /// webhook deliveries, messages and transfers waiting to be sent. (How far each node's
    /// order index is behind is the node's own figure.)
    pub queues: Vec<(&'static str, u64)>,
    pub tenants: Vec<TenantGauges>,
}

impl Store {
    /// Reads the gauges at `now`.
    pub async fn ops_gauges(&self, now: DateTime<Utc>) -> Result<OpsGauges> {
        let mut queues = Vec::new();
        for (queue, sql) in [
            ("event_outbox", "SELECT COUNT(*) AS n FROM event_outbox"),
            (
                "webhook_deliveries",
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'",
            ),
            (
                "outbound_messages",
                "SELECT COUNT(*) AS n FROM outbound_messages WHERE status = 'pending'",
            ),
            (
                "transfers",
                "SELECT COUNT(*) AS n FROM transfers WHERE state = 'pending'",
            ),
        ] {
            queues.push((queue, self.count(sql, vec![]).await?));
        }
        let mut tenants = Vec::new();
        for t in self.tenants().await? {
            let by_status = self.status_counts(t.id).await?.into_iter().collect();
            let overdue = self
                .count(
                    "SELECT COUNT(*) AS n FROM orders WHERE tenant_id = $1 AND due_at < $2",
                    vec![t.id.0.into(), to_ms(now).into()],
                )
                .await?;
            let missed_calls_pending = self
                .count(
                    "SELECT COUNT(*) AS n FROM missed_calls WHERE tenant_id = $1 AND status = 'pending'",
                    vec![t.id.0.into()],
                )
                .await?;
            tenants.push(TenantGauges {
                tenant: t.code,
                by_status,
                overdue,
                alerts_due: self.count_due_alerts(t.id, now).await?,
                missed_calls_pending,
            });
        }
        Ok(OpsGauges { queues, tenants })
    }

    async fn count(&self, sql: &str, values: Vec<sea_orm::Value>) -> Result<u64> {
        let row = self
            .read
            .query_one_raw(self.stmt(sql, values))
            .await?
            .ok_or(crate::StoreError::NotFound)?;
        let n: i64 = col(&row, "n")?;
        Ok(n.max(0) as u64)
    }
}
