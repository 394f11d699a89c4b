//! Per-tenant settings (a tenant's calendar and time-limit rules, as JSON) and the in-app
//! notices the scheduler leaves for units.

use crate::{Result, Store, StoreError, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::{OrderId, TenantId, UnitId};
use sea_orm::{ConnectionTrait, Value};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: i64,
    pub unit_id: UnitId,
    pub order_id: OrderId,
    pub order_number: String,
    /// `reminder` or `overdue`.
    pub kind: String,
    pub stage: String,
    pub due_at: DateTime<Utc>,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn setting(&self, tenant: TenantId, key: &str) -> Result<Option<String>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT value FROM tenant_settings WHERE tenant_id = $1 AND key = $2",
                vec![tenant.0.into(), key.into()],
            ))
            .await?;
        row.map(|r| col(&r, "value")).transpose()
    }

    pub async fn put_setting(&self, tenant: TenantId, key: &str, value: &str) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "INSERT INTO tenant_settings (tenant_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, key) DO UPDATE SET value = $3, updated_at = $4",
                vec![tenant.0.into(), key.into(), value.into(), to_ms(Utc::now()).into()],
            ))
            .await?;
        Ok(())
    }

    /// Notices for any of `units`, newest first.
    pub async fn notifications(
        &self,
        tenant: TenantId,
        units: &[UnitId],
        unread_only: bool,
        limit: u64,
    ) -> Result<Vec<Notification>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let mut values: Vec<Value> = vec![tenant.0.into()];
        let list: Vec<String> = units
            .iter()
            .map(|u| {
                values.push(u.0.into());
                format!("${}", values.len())
            })
            .collect();
        values.push((limit as i64).into());
        let sql = format!(
            "SELECT id, unit_id, order_id, order_number, kind, stage, due_at, message, created_at, read_at \
             FROM notifications WHERE tenant_id = $1 AND unit_id IN ({}){} ORDER BY created_at DESC, id DESC LIMIT ${}",
            list.join(", "),
            if unread_only {
                " AND read_at IS NULL"
            } else {
                ""
            },
            values.len()
        );
        let rows = self.read.query_all_raw(self.stmt(&sql, values)).await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: col(r, "id")?,
                    unit_id: UnitId(col(r, "unit_id")?),
                    order_id: OrderId(col(r, "order_id")?),
                    order_number: col(r, "order_number")?,
                    kind: col(r, "kind")?,
                    stage: col(r, "stage")?,
                    due_at: from_ms(col(r, "due_at")?),
                    message: col(r, "message")?,
                    created_at: from_ms(col(r, "created_at")?),
                    read_at: col::<Option<i64>>(r, "read_at")?.map(from_ms),
                })
            })
            .collect()
    }

    /// Marks a notice of one of `units` as read.
    pub async fn mark_notification_read(
        &self,
        tenant: TenantId,
        id: i64,
        units: &[UnitId],
    ) -> Result<()> {
        let mut values: Vec<Value> = vec![tenant.0.into(), id.into(), to_ms(Utc::now()).into()];
        let list: Vec<String> = units
            .iter()
            .map(|u| {
                values.push(u.0.into());
                format!("${}", values.len())
            })
            .collect();
        if list.is_empty() {
            return Err(StoreError::NotFound);
        }
        let sql = format!(
            "UPDATE notifications SET read_at = COALESCE(read_at, $3) WHERE tenant_id = $1 AND id = $2 AND unit_id IN ({})",
            list.join(", ")
        );
        let r = self.write.execute_raw(self.stmt(&sql, values)).await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// How many orders have a reminder or overdue mark due by `now` (a walk of the
    /// `next_alert_at` index, sending nothing).
    pub async fn count_due_alerts(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<u64> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT COUNT(*) AS n FROM orders WHERE tenant_id = $1 AND next_alert_at <= $2",
                vec![tenant.0.into(), to_ms(now).into()],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        let n: i64 = col(&row, "n")?;
        Ok(n.max(0) as u64)
    }

    /// Orders whose next reminder or overdue mark is due by `now`, most overdue first,
    /// taken for this node's scheduler. On PostgreSQL several nodes run the scheduler: each
    /// takes its orders in one statement that skips rows another transaction holds
    /// (`FOR UPDATE SKIP LOCKED`) and moves their `next_alert_at` to `now + lease`, so no two
    /// nodes alert the same order at once (their transactions would lock the same rows in
    /// different orders). The alert rewrites `next_alert_at` from the order; a node that dies
    /// mid-pass leaves its orders to whichever node comes first after the lease. SQLite
    /// serves one node: a plain read.
    pub async fn due_alerts(
        &self,
        tenant: TenantId,
        now: DateTime<Utc>,
        limit: u64,
        lease: std::time::Duration,
    ) -> Result<Vec<OrderId>> {
        let values = vec![tenant.0.into(), to_ms(now).into(), (limit as i64).into()];
        let rows = if self.is_sqlite() {
            self.read
                .query_all_raw(self.stmt(
                    "SELECT id FROM orders WHERE tenant_id = $1 AND next_alert_at <= $2 ORDER BY next_alert_at, id LIMIT $3",
                    values,
                ))
                .await?
        } else {
            let until =
                now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
            let mut values = values;
            values.push(to_ms(until).into());
            self.write
                .query_all_raw(self.stmt(
                    "UPDATE orders SET next_alert_at = $4 WHERE tenant_id = $1 AND id IN (\
                     SELECT id FROM orders WHERE tenant_id = $1 AND next_alert_at <= $2 \
                     ORDER BY next_alert_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id",
                    values,
                ))
                .await?
                .into_iter()
                .map(crate::lite::Row::Sea)
                .collect()
        };
        let mut ids = rows
            .iter()
            .map(|r| Ok(OrderId(col(r, "id")?)))
            .collect::<Result<Vec<_>>>()?;
        ids.sort();
        Ok(ids)
    }
}
