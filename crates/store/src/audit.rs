//! Accountability records: every read of a citizen's personal data in clear, and every
//! administrative change.

use crate::{Result, Store, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::{OrderId, TenantId, UserId};
use sea_orm::ConnectionTrait;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct PiiRead {
    pub at: DateTime<Utc>,
    pub user_id: UserId,
    pub username: String,
    pub order_id: OrderId,
    pub fields: String,
    pub purpose: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub user_id: Option<UserId>,
    pub username: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl Store {
    /// Records a read of personal data; durable (group-committed) before it returns, so that
    /// the data is never shown without the record.
    pub async fn log_pii_read(&self, tenant: TenantId, r: PiiRead) -> Result<()> {
        let backend = self.backend;
        self.writer
            .submit(move |tx| {
                let r = r.clone();
                Box::pin(async move {
                    tx.execute(sea_orm::Statement::from_sql_and_values(
                        backend,
                        "INSERT INTO pii_reads (tenant_id, at, user_id, username, order_id, fields, purpose) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        vec![
                            tenant.0.into(),
                            to_ms(r.at).into(),
                            r.user_id.0.into(),
                            r.username.into(),
                            r.order_id.0.into(),
                            r.fields.into(),
                            r.purpose.into(),
                        ],
                    ))
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    pub async fn pii_reads(
        &self,
        tenant: TenantId,
        order: Option<OrderId>,
        limit: u64,
    ) -> Result<Vec<PiiRead>> {
        let (sql, values) = match order {
            Some(o) => (
                "SELECT at, user_id, username, order_id, fields, purpose FROM pii_reads WHERE tenant_id = $1 AND order_id = $2 ORDER BY at DESC, id DESC LIMIT $3",
                vec![tenant.0.into(), o.0.into(), (limit as i64).into()],
            ),
            None => (
                "SELECT at, user_id, username, order_id, fields, purpose FROM pii_reads WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
                vec![tenant.0.into(), (limit as i64).into()],
            ),
        };
        let rows = self.read.query_all_raw(self.stmt(sql, values)).await?;
        rows.iter()
            .map(|r| {
                Ok(PiiRead {
                    at: from_ms(col(r, "at")?),
                    user_id: UserId(col(r, "user_id")?),
                    username: col(r, "username")?,
                    order_id: OrderId(col(r, "order_id")?),
                    fields: col(r, "fields")?,
                    purpose: col(r, "purpose")?,
                })
            })
            .collect()
    }

    pub async fn audit(&self, tenant: TenantId, e: AuditEntry) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "INSERT INTO audit_log (tenant_id, at, user_id, username, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![
                    tenant.0.into(),
                    to_ms(e.at).into(),
                    e.user_id.map(|u| u.0).into(),
                    e.username.into(),
                    e.action.into(),
                    e.target.into(),
                    e.detail.into(),
                ],
            ))
            .await?;
        Ok(())
    }

    pub async fn audit_log(&self, tenant: TenantId, limit: u64) -> Result<Vec<AuditEntry>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT at, user_id, username, action, target, detail FROM audit_log WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
                vec![tenant.0.into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: from_ms(col(r, "at")?),
                    user_id: col::<Option<i64>>(r, "user_id")?.map(UserId),
                    username: col(r, "username")?,
                    action: col(r, "action")?,
                    target: col(r, "target")?,
                    detail: col(r, "detail")?,
                })
            })
            .collect()
    }
}
