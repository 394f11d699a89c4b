//! Tenants: one per city platform.

use crate::{Result, Store, StoreError, col, to_ms};
use chrono::Utc;
use jiesu_core::TenantId;
use sea_orm::ConnectionTrait;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub code: String,
    pub name: String,
}

impl Store {
    pub async fn create_tenant(&self, code: &str, name: &str) -> Result<Tenant> {
        let next = self
            .write
            .query_one_raw(self.stmt(
                "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM tenants",
                vec![],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        let id: i64 = col(&next, "next")?;
        let r = self
            .write
            .execute_raw(self.stmt(
                "INSERT INTO tenants (id, code, name, created_at) VALUES ($1, $2, $3, $4)",
                vec![
                    id.into(),
                    code.into(),
                    name.into(),
                    to_ms(Utc::now()).into(),
                ],
            ))
            .await;
        match r {
            Err(e) if crate::is_unique_violation(&e) => Err(StoreError::Duplicate("tenant code")),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(Tenant {
                id: TenantId(id),
                code: code.into(),
                name: name.into(),
            }),
        }
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let rows = self
            .read
            .query_all_raw(self.stmt("SELECT id, code, name FROM tenants ORDER BY id", vec![]))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Tenant {
                    id: TenantId(col(r, "id")?),
                    code: col(r, "code")?,
                    name: col(r, "name")?,
                })
            })
            .collect()
    }

    pub async fn tenant_by_code(&self, code: &str) -> Result<Option<Tenant>> {
        Ok(self.tenants().await?.into_iter().find(|t| t.code == code))
    }
}
