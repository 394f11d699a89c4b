//! Reference data of a tenant: the request-category tree and the administrative divisions
//! it serves.

use crate::{Result, Store, StoreError, col};
use jiesu_core::TenantId;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub code: String,
    pub parent_code: Option<String>,
    pub name: String,
    pub level: i32,
    pub active: bool,
    /// Words that signal the category in a request (they seed the classifier).
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub level: i32,
    pub parent_code: Option<String>,
}

impl Store {
    pub async fn categories(&self, tenant: TenantId) -> Result<Vec<Category>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT code, parent_code, name, level, active, keywords FROM categories WHERE tenant_id = $1 ORDER BY sort, code",
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Category {
                    code: col(r, "code")?,
                    parent_code: col(r, "parent_code")?,
                    name: col(r, "name")?,
                    level: col(r, "level")?,
                    active: col(r, "active")?,
                    keywords: serde_json::from_str(&col::<String>(r, "keywords")?)
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Inserts categories in order (parents before children), in one transaction.
    pub async fn insert_categories(&self, tenant: TenantId, cats: &[Category]) -> Result<()> {
        let txn = self.write.begin().await?;
        for (i, c) in cats.iter().enumerate() {
            let r = txn
                .execute_raw(self.stmt(
                    "INSERT INTO categories (tenant_id, code, parent_code, name, level, sort, active, keywords) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    vec![
                        tenant.0.into(),
                        c.code.clone().into(),
                        c.parent_code.clone().into(),
                        c.name.clone().into(),
                        c.level.into(),
                        (i as i32).into(),
                        c.active.into(),
                        serde_json::to_string(&c.keywords).unwrap_or_default().into(),
                    ],
                ))
                .await;
            match r {
                Err(e) if crate::is_unique_violation(&e) => {
                    return Err(StoreError::Duplicate("category code"));
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
        }
        txn.commit().await?;
        Ok(())
    }

    pub async fn update_category(
        &self,
        tenant: TenantId,
        code: &str,
        name: &str,
        active: bool,
        keywords: &[String],
    ) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE categories SET name = $3, active = $4, keywords = $5 WHERE tenant_id = $1 AND code = $2",
                vec![
                    tenant.0.into(),
                    code.into(),
                    name.into(),
                    active.into(),
                    serde_json::to_string(keywords).unwrap_or_default().into(),
                ],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn regions(&self, tenant: TenantId) -> Result<Vec<Region>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT code, name, level, parent_code FROM regions WHERE tenant_id = $1 ORDER BY code",
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Region {
                    code: col(r, "code")?,
                    name: col(r, "name")?,
                    level: col(r, "level")?,
                    parent_code: col(r, "parent_code")?,
                })
            })
            .collect()
    }

    /// Inserts regions (parents first) in one transaction; existing codes are left as they are.
    pub async fn insert_regions(&self, tenant: TenantId, regions: &[Region]) -> Result<u64> {
        let txn = self.write.begin().await?;
        let mut n = 0;
        for r in regions {
            n += txn
                .execute_raw(self.stmt(
                    "INSERT INTO regions (tenant_id, code, name, level, parent_code) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id, code) DO NOTHING",
                    vec![
                        tenant.0.into(),
                        r.code.clone().into(),
                        r.name.clone().into(),
                        r.level.into(),
                        r.parent_code.clone().into(),
                    ],
                ))
                .await?
                .rows_affected();
        }
        txn.commit().await?;
        Ok(n)
    }
}
