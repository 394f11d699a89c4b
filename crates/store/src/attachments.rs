//! Files attached to orders. The bytes live in the database (both backends), so that a
//! backup holds them and every node of a server deployment sees them; an order lists its
//! files by id in its state, written with the `attachment_added` event, so a file whose
//! event never committed is never shown.

use crate::{Result, Store, StoreError, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::{OrderId, TenantId, UserId};
use sea_orm::ConnectionTrait;

#[derive(Debug, Clone)]
pub struct StoredFile {
    pub id: i64,
    pub order_id: OrderId,
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub uploaded_by: UserId,
    pub uploaded_at: DateTime<Utc>,
    pub data: Vec<u8>,
}

/// A file to store.
pub struct NewFile<'a> {
    pub order_id: OrderId,
    pub name: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub uploaded_by: UserId,
    pub data: &'a [u8],
}

impl Store {
    pub async fn insert_file(
        &self,
        tenant: TenantId,
        f: NewFile<'_>,
    ) -> Result<(i64, DateTime<Utc>)> {
        let now = Utc::now();
        let row = self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO attachments (tenant_id, order_id, name, content_type, size, sha256, data, uploaded_by, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                vec![
                    tenant.0.into(),
                    f.order_id.0.into(),
                    f.name.into(),
                    f.content_type.into(),
                    (f.data.len() as i64).into(),
                    f.sha256.into(),
                    f.data.to_vec().into(),
                    f.uploaded_by.0.into(),
                    to_ms(now).into(),
                ],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((col(&row, "id")?, now))
    }

    /// Removes a file whose event was refused (nothing refers to it).
    pub async fn delete_file(&self, tenant: TenantId, id: i64) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "DELETE FROM attachments WHERE tenant_id = $1 AND id = $2",
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        Ok(())
    }

    pub async fn file(&self, tenant: TenantId, id: i64) -> Result<Option<StoredFile>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT id, order_id, name, content_type, sha256, data, uploaded_by, uploaded_at \
                 FROM attachments WHERE tenant_id = $1 AND id = $2",
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        row.map(|r| {
            Ok(StoredFile {
                id: col(&r, "id")?,
                order_id: OrderId(col(&r, "order_id")?),
                name: col(&r, "name")?,
                content_type: col(&r, "content_type")?,
                sha256: col(&r, "sha256")?,
                uploaded_by: UserId(col(&r, "uploaded_by")?),
                uploaded_at: from_ms(col(&r, "uploaded_at")?),
                data: col(&r, "data")?,
            })
        })
        .transpose()
    }
}
