//! The maintained aggregates of the rates (`stat_daily`, migration M0009): each order's facts
//! counted under the day it was accepted by lead unit, category and region, kept in the
//! transaction that changes the order (`orders::tally_sql`). A month of figures for a
//! thousand units reads tens of thousands of rows however many orders there are.

use crate::orders::TallyDeltas;
use crate::{Result, Store, StoreError, col};
use jiesu_core::TenantId;
use jiesu_core::stats::{Counts, Dim, Measure};

/// How `stat_sums` groups the rows of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatGroup {
    /// One row per key over the whole period.
    Key,
    /// One row per day over every key.
    Day,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    /// The day (days since 1970-01-01, China time) for `StatGroup::Day`.
    pub day: Option<i64>,
    /// The key for `StatGroup::Key`: the unit id (`0`: undispatched), category or region code.
    pub key: String,
    pub counts: Counts,
}

fn sum_columns(measures: &[Measure]) -> String {
    measures
        .iter()
        // PostgreSQL sums BIGINT as NUMERIC: cast back (SQLite keeps integers either way).
        .map(|m| format!("CAST(SUM({0}) AS BIGINT) AS {0}", m.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn counts_of(r: &impl crate::lite::Cols, measures: &[Measure]) -> Result<Counts> {
    let mut c = Counts::default();
    for m in measures.iter().copied() {
        let n: i64 = col(r, m.as_str())?;
        c.add_to(m, n.max(0) as u64);
    }
    Ok(c)
}

impl Store {
    /// The counts under `dim` of the orders accepted on days `from..=to`, grouped by key or
    /// by day.
    pub async fn stat_sums(
        &self,
        tenant: TenantId,
        dim: Dim,
        from: i64,
        to: i64,
        group: StatGroup,
    ) -> Result<Vec<StatRow>> {
        self.stat_read(tenant, dim, (from, to), group, &Measure::ALL)
            .await
    }

    /// `stat_sums` with only the accepted count (volumes: trends, heat maps, warnings), a
    /// sixteenth of the columns to sum and read.
    pub async fn stat_accepted(
        &self,
        tenant: TenantId,
        dim: Dim,
        from: i64,
        to: i64,
        group: StatGroup,
    ) -> Result<Vec<StatRow>> {
        self.stat_read(tenant, dim, (from, to), group, &[Measure::Accepted])
            .await
    }

    async fn stat_read(
        &self,
        tenant: TenantId,
        dim: Dim,
        (from, to): (i64, i64),
        group: StatGroup,
        measures: &[Measure],
    ) -> Result<Vec<StatRow>> {
        let by = match group {
            StatGroup::Key => "key",
            StatGroup::Day => "day",
        };
        let sql = format!(
            "SELECT {by}, {} FROM stat_daily WHERE tenant_id = $1 AND dim = $2 AND day >= $3 AND day <= $4 GROUP BY {by}",
            sum_columns(measures)
        );
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &sql,
                vec![tenant.0.into(), dim.as_str().into(), from.into(), to.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(match group {
                    StatGroup::Key => StatRow {
                        day: None,
                        key: col(r, "key")?,
                        counts: counts_of(r, measures)?,
                    },
                    StatGroup::Day => StatRow {
                        day: Some(col(r, "day")?),
                        key: String::new(),
                        counts: counts_of(r, measures)?,
                    },
                })
            })
            .collect()
    }

    /// Every aggregate row of the tenant whose counts are not all zero, as `TallyDeltas`
    /// (for `verify` to compare with a recount).
    pub(crate) async fn stat_rows(&self, tenant: TenantId) -> Result<TallyDeltas> {
        let cols: Vec<&str> = Measure::ALL.iter().map(|m| m.as_str()).collect();
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT dim, day, key, {} FROM stat_daily WHERE tenant_id = $1 GROUP BY dim, day, key",
                    sum_columns(&Measure::ALL)
                ),
                vec![tenant.0.into()],
            ))
            .await?;
        let mut out = TallyDeltas::new();
        for r in &rows {
            let dim: String = col(r, "dim")?;
            let Some(dim) = Dim::parse(&dim) else {
                return Err(StoreError::corrupt(format!(
                    "stat_daily row of unknown dim {dim}"
                )));
            };
            let mut d = [0i64; 16];
            for (i, c) in cols.iter().enumerate() {
                d[i] = col(r, c)?;
            }
            if d.iter().any(|x| *x != 0) {
                out.insert((tenant, dim, col(r, "day")?, col(r, "key")?), d);
            }
        }
        Ok(out)
    }
}
