//! Closed months' evaluations (考核): a snapshot of the scores as closed, and adjustments.

use crate::{Result, Store, StoreError, col};
use jiesu_core::{TenantId, UserId};
use sea_orm::ConnectionTrait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedEvaluation {
    pub period: String,
    /// The scores as closed (JSON, written by the application).
    pub snapshot: String,
    pub closed_at: i64,
    pub closed_by_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub id: i64,
    pub period: String,
    pub unit_id: i64,
    /// Hundredths of a point, signed.
    pub centipoints: i64,
    pub reason: String,
    pub at: i64,
    pub by_name: String,
}

/// An issue picked as the month's hard case (每月一题).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardCasePick {
    pub month: String,
    /// `category|district`, as the aggregates key issues.
    pub issue: String,
    pub unit_id: Option<i64>,
    pub note: String,
    pub by_name: String,
    pub at: i64,
}

impl Store {
    /// Records a pick; `Duplicate` when the issue was picked for the month already.
    pub async fn pick_hard_case(
        &self,
        tenant: TenantId,
        pick: &HardCasePick,
        by: UserId,
    ) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "INSERT INTO hard_cases (tenant_id, month, issue, unit_id, note, by_user, by_name, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                vec![
                    tenant.0.into(),
                    pick.month.clone().into(),
                    pick.issue.clone().into(),
                    pick.unit_id.into(),
                    pick.note.clone().into(),
                    by.0.into(),
                    pick.by_name.clone().into(),
                    pick.at.into(),
                ],
            ))
            .await;
        match r {
            Err(e) if crate::is_unique_violation(&e) => Err(StoreError::Duplicate("issue")),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(()),
        }
    }

    /// The month's picks, in the order they were made.
    pub async fn hard_case_picks(
        &self,
        tenant: TenantId,
        month: &str,
    ) -> Result<Vec<HardCasePick>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT month, issue, unit_id, note, by_name, at FROM hard_cases \
                 WHERE tenant_id = $1 AND month = $2 ORDER BY at",
                vec![tenant.0.into(), month.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HardCasePick {
                    month: col(r, "month")?,
                    issue: col(r, "issue")?,
                    unit_id: col(r, "unit_id")?,
                    note: col(r, "note")?,
                    by_name: col(r, "by_name")?,
                    at: col(r, "at")?,
                })
            })
            .collect()
    }

    /// Freezes `period`; `Duplicate` when it was closed already.
    pub async fn close_evaluation(
        &self,
        tenant: TenantId,
        period: &str,
        snapshot: &str,
        at: i64,
        by: (UserId, &str),
    ) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "INSERT INTO evaluations (tenant_id, period, snapshot, closed_at, closed_by, closed_by_name) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    tenant.0.into(),
                    period.into(),
                    snapshot.into(),
                    at.into(),
                    by.0.0.into(),
                    by.1.into(),
                ],
            ))
            .await;
        match r {
            Err(e) if crate::is_unique_violation(&e) => Err(StoreError::Duplicate("period")),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(()),
        }
    }

    /// The closed evaluations whose period starts with `prefix` (`2026-` for a year, or a
    /// whole `2026-11`), by period.
    pub async fn closed_evaluations(
        &self,
        tenant: TenantId,
        prefix: &str,
    ) -> Result<Vec<ClosedEvaluation>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT period, snapshot, closed_at, closed_by_name FROM evaluations \
                 WHERE tenant_id = $1 AND period LIKE $2 ORDER BY period",
                vec![tenant.0.into(), format!("{prefix}%").into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ClosedEvaluation {
                    period: col(r, "period")?,
                    snapshot: col(r, "snapshot")?,
                    closed_at: col(r, "closed_at")?,
                    closed_by_name: col(r, "closed_by_name")?,
                })
            })
            .collect()
    }

    pub async fn add_adjustment(&self, tenant: TenantId, a: &Adjustment, by: UserId) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "INSERT INTO evaluation_adjustments (tenant_id, period, unit_id, centipoints, reason, at, by_user, by_name) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                vec![
                    tenant.0.into(),
                    a.period.clone().into(),
                    a.unit_id.into(),
                    a.centipoints.into(),
                    a.reason.clone().into(),
                    a.at.into(),
                    by.0.into(),
                    a.by_name.clone().into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// The adjustments of the periods starting with `prefix`, oldest first.
    pub async fn adjustments(&self, tenant: TenantId, prefix: &str) -> Result<Vec<Adjustment>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, period, unit_id, centipoints, reason, at, by_name FROM evaluation_adjustments \
                 WHERE tenant_id = $1 AND period LIKE $2 ORDER BY at, id",
                vec![tenant.0.into(), format!("{prefix}%").into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Adjustment {
                    id: col(r, "id")?,
                    period: col(r, "period")?,
                    unit_id: col(r, "unit_id")?,
                    centipoints: col(r, "centipoints")?,
                    reason: col(r, "reason")?,
                    at: col(r, "at")?,
                    by_name: col(r, "by_name")?,
                })
            })
            .collect()
    }
}

/// A report kept by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub kind: String,
    pub name: String,
    pub generated_at: i64,
}

impl Store {
    /// Keeps a generated report; false when one of that kind and name was kept already.
    pub async fn save_report(
        &self,
        tenant: TenantId,
        kind: &str,
        name: &str,
        data: Vec<u8>,
        at: i64,
    ) -> Result<bool> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "INSERT INTO reports (tenant_id, kind, name, generated_at, data) VALUES ($1, $2, $3, $4, $5)",
                vec![tenant.0.into(), kind.into(), name.into(), at.into(), data.into()],
            ))
            .await;
        match r {
            Err(e) if crate::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(true),
        }
    }

    pub async fn report_kept(&self, tenant: TenantId, kind: &str, name: &str) -> Result<bool> {
        Ok(self
            .read
            .query_one_raw(self.stmt(
                "SELECT 1 AS x FROM reports WHERE tenant_id = $1 AND kind = $2 AND name = $3",
                vec![tenant.0.into(), kind.into(), name.into()],
            ))
            .await?
            .is_some())
    }

    /// The kept reports, newest first, at most `limit`.
    pub async fn kept_reports(&self, tenant: TenantId, limit: u64) -> Result<Vec<StoredReport>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT kind, name, generated_at FROM reports WHERE tenant_id = $1 \
                 ORDER BY generated_at DESC, kind, name LIMIT $2",
                vec![tenant.0.into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredReport {
                    kind: col(r, "kind")?,
                    name: col(r, "name")?,
                    generated_at: col(r, "generated_at")?,
                })
            })
            .collect()
    }

    pub async fn report_data(
        &self,
        tenant: TenantId,
        kind: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT data FROM reports WHERE tenant_id = $1 AND kind = $2 AND name = $3",
                vec![tenant.0.into(), kind.into(), name.into()],
            ))
            .await?;
        row.map(|r| col(&r, "data")).transpose()
    }
}
