//! The organisation tree.

use crate::{Result, Store, StoreError, col, to_ms};
use chrono::Utc;
use jiesu_core::org::{Unit, UnitKind};
use jiesu_core::{TenantId, UnitId};
use sea_orm::ConnectionTrait;

/// Fields of a new or edited unit.
#[derive(Debug, Clone)]
pub struct UnitInput {
    pub parent_id: Option<UnitId>,
    pub kind: UnitKind,
    pub name: String,
    pub region_code: Option<String>,
    pub active: bool,
}

fn unit_from_row(r: &impl crate::lite::Cols) -> Result<Unit> {
    let kind: String = col(r, "kind")?;
    Ok(Unit {
        id: UnitId(col(r, "id")?),
        parent_id: col::<Option<i64>>(r, "parent_id")?.map(UnitId),
        kind: UnitKind::parse(&kind)
            .ok_or_else(|| StoreError::corrupt(format!("unit kind {kind}")))?,
        name: col(r, "name")?,
        region_code: col(r, "region_code")?,
        active: col(r, "active")?,
    })
}

impl Store {
    pub async fn units(&self, tenant: TenantId) -> Result<Vec<Unit>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, parent_id, kind, name, region_code, active FROM units WHERE tenant_id = $1 ORDER BY sort, id",
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter().map(unit_from_row).collect()
    }

    pub async fn create_unit(&self, tenant: TenantId, u: &UnitInput) -> Result<UnitId> {
        let now = to_ms(Utc::now());
        let row = self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO units (tenant_id, parent_id, kind, name, region_code, active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                vec![
                    tenant.0.into(),
                    u.parent_id.map(|p| p.0).into(),
                    u.kind.as_str().into(),
                    u.name.clone().into(),
                    u.region_code.clone().into(),
                    u.active.into(),
                    now.into(),
                ],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(UnitId(col(&row, "id")?))
    }

    pub async fn update_unit(&self, tenant: TenantId, id: UnitId, u: &UnitInput) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE units SET parent_id = $3, kind = $4, name = $5, region_code = $6, active = $7, updated_at = $8 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant.0.into(),
                    id.0.into(),
                    u.parent_id.map(|p| p.0).into(),
                    u.kind.as_str().into(),
                    u.name.clone().into(),
                    u.region_code.clone().into(),
                    u.active.into(),
                    to_ms(Utc::now()).into(),
                ],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
