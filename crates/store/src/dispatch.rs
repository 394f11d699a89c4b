//! The dispatch catalogue's published versions: each a whole set of rules (JSON) with who
//! published it, when and why; the newest is in force.

use crate::orders::Sql;
use crate::{Result, Store, StoreError, col};
use jiesu_core::{TenantId, UserId};
use sea_orm::{ConnectionTrait, DbBackend};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueVersion {
    pub version: i32,
    /// The rules as JSON (checked when published).
    pub rules: String,
    pub created_at: i64,
    pub created_by: i64,
    pub created_by_name: String,
    pub reason: String,
}

impl Store {
    /// The version in force (the newest), if any was published.
    pub async fn current_catalogue(&self, tenant: TenantId) -> Result<Option<CatalogueVersion>> {
        self.catalogue_rows(tenant, "ORDER BY version DESC LIMIT 1", None)
            .await
            .map(|mut v| v.pop())
    }

    pub async fn catalogue_version(
        &self,
        tenant: TenantId,
        version: i32,
    ) -> Result<Option<CatalogueVersion>> {
        self.catalogue_rows(tenant, "AND version = $2", Some(version))
            .await
            .map(|mut v| v.pop())
    }

    /// Every version, newest first, without their rules.
    pub async fn catalogue_history(&self, tenant: TenantId) -> Result<Vec<CatalogueVersion>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT version, '' AS rules, created_at, created_by, created_by_name, reason \
                 FROM dispatch_catalogues WHERE tenant_id = $1 ORDER BY version DESC",
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter().map(version_of).collect()
    }

    async fn catalogue_rows(
        &self,
        tenant: TenantId,
        tail: &str,
        version: Option<i32>,
    ) -> Result<Vec<CatalogueVersion>> {
        let mut params = vec![tenant.0.into()];
        if let Some(v) = version {
            params.push(v.into());
        }
        let sql = format!(
            "SELECT version, rules, created_at, created_by, created_by_name, reason \
             FROM dispatch_catalogues WHERE tenant_id = $1 {tail}"
        );
        let rows = self.read.query_all_raw(self.stmt(&sql, params)).await?;
        rows.iter().map(version_of).collect()
    }

    /// Publishes `rules` as the version after `base` (0 for the first). Fails with
    /// `Concurrent` when someone published since `base` was read.
    pub async fn publish_catalogue(
        &self,
        tenant: TenantId,
        base: i32,
        rules: &str,
        by: (UserId, &str),
        reason: &str,
        at: i64,
    ) -> Result<i32> {
        let current = self
            .current_catalogue(tenant)
            .await?
            .map_or(0, |c| c.version);
        if current != base {
            return Err(StoreError::Concurrent);
        }
        let version = base + 1;
        let r = self
            .write
            .execute_raw(self.stmt(
                "INSERT INTO dispatch_catalogues (tenant_id, version, rules, created_at, created_by, created_by_name, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![
                    tenant.0.into(),
                    version.into(),
                    rules.into(),
                    at.into(),
                    by.0.0.into(),
                    by.1.into(),
                    reason.into(),
                ],
            ))
            .await;
        match r {
            // Two publishers read the same base: the key (tenant, version) lets one through.
            Err(e) if crate::is_unique_violation(&e) => Err(StoreError::Concurrent),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(version),
        }
    }
}

fn version_of(r: &impl crate::lite::Cols) -> Result<CatalogueVersion> {
    Ok(CatalogueVersion {
        version: col(r, "version")?,
        rules: col(r, "rules")?,
        created_at: col(r, "created_at")?,
        created_by: col(r, "created_by")?,
        created_by_name: col(r, "created_by_name")?,
        reason: col(r, "reason")?,
    })
}

/// An order as a classifier example: its text and what the dispatcher chose.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledOrder {
    pub title: String,
    /// The opening of the content (at most [`LABELLED_CONTENT_CHARS`] characters).
    pub content: String,
    pub category: String,
    pub request_type: String,
    pub lead_unit: Option<i64>,
}

/// Characters of an order's content read as a classifier example (the classifiers read no
/// more: `jiesu_text::classify` reads the opening 1,000).
pub const LABELLED_CONTENT_CHARS: usize = 1_000;

/// The insert of a dispatch's suggestion outcome.
pub(crate) fn outcome_sql(tenant: TenantId, o: &SuggestionOutcome) -> Sql {
    let mut q = Sql::new(
        "INSERT INTO suggestion_outcomes (tenant_id, order_id, at, suggested_category, chosen_category, \
         suggested_unit, chosen_unit, suggested_type, chosen_type) VALUES (",
    );
    q.push_values([
        tenant.0.into(),
        o.order_id.into(),
        o.at.into(),
        o.suggested_category.clone().into(),
        o.chosen_category.clone().into(),
        o.suggested_unit.into(),
        o.chosen_unit.into(),
        o.suggested_type.clone().into(),
        o.chosen_type.clone().into(),
    ]);
    q.push(")");
    q
}

/// A dispatch: what was suggested and what was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionOutcome {
    pub order_id: i64,
    pub at: i64,
    pub suggested_category: Option<String>,
    pub chosen_category: Option<String>,
    pub suggested_unit: Option<i64>,
    pub chosen_unit: Option<i64>,
    pub suggested_type: Option<String>,
    pub chosen_type: String,
}

/// Suggestions that matched the choice, per local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayAccuracy {
    /// Days since 1970-01-01 in China time.
    pub day: i64,
    pub dispatches: i64,
    pub category_hits: i64,
    pub unit_hits: i64,
    pub type_hits: i64,
}

/// China time is UTC+8 all year.
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;

impl Store {
    /// The newest `limit` orders with a category, with what was chosen for them, `page` orders
    /// a statement.
    pub async fn labelled_orders_paged(
        &self,
        tenant: TenantId,
        limit: u64,
        page: u64,
    ) -> Result<Vec<LabelledOrder>> {
        self.labelled_orders_paced(tenant, limit, page, |_| async {})
            .await
    }

    /// The same, awaiting `pause(took)` after each full page short of `limit` (`took`: how
    /// long the page took to read): work in the background paces its reading with it. Of the content,
    /// only the opening a classifier reads ([`LABELLED_CONTENT_CHARS`]) is read.
    pub async fn labelled_orders_paced<F, Fut>(
        &self,
        tenant: TenantId,
        limit: u64,
        page: u64,
        mut pause: F,
    ) -> Result<Vec<LabelledOrder>>
    where
        F: FnMut(std::time::Duration) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        // SQLite stores the state packed: it is read whole and its content taken here.
        let sqlite = self.backend == DbBackend::Sqlite;
        let content = if sqlite {
            "state".to_string()
        } else {
            format!(
                "COALESCE(substr(CAST(state AS json) ->> 'content', 1, {LABELLED_CONTENT_CHARS}), '') AS content"
            )
        };
        let sql = format!(
            "SELECT id, accepted_at, title, {content}, \
             category_code, request_type, lead_unit_id \
             FROM orders WHERE tenant_id = $1 AND category_code IS NOT NULL \
             AND accepted_at <= $2 AND (accepted_at < $2 OR id < $3) \
             ORDER BY accepted_at DESC, id DESC LIMIT $4"
        );
        let mut out: Vec<LabelledOrder> = Vec::new();
        // Position (accepted_at, id) of the last order read.
        let mut before = (i64::MAX, i64::MAX);
        while (out.len() as u64) < limit {
            let started = std::time::Instant::now();
            let take = page.max(1).min(limit - out.len() as u64);
            let rows = self
                .read
                .query_all_raw(self.stmt(
                    &sql,
                    vec![
                        tenant.0.into(),
                        before.0.into(),
                        before.1.into(),
                        (take as i64).into(),
                    ],
                ))
                .await?;
            for r in &rows {
                before = (col(r, "accepted_at")?, col(r, "id")?);
                out.push(LabelledOrder {
                    title: col(r, "title")?,
                    content: if sqlite {
                        crate::packed::StateText::of(r, self.backend)?
                            .content()
                            .chars()
                            .take(LABELLED_CONTENT_CHARS)
                            .collect()
                    } else {
                        col(r, "content")?
                    },
                    category: col(r, "category_code")?,
                    request_type: col(r, "request_type")?,
                    lead_unit: col(r, "lead_unit_id")?,
                });
            }
            if (rows.len() as u64) < take || (out.len() as u64) >= limit {
                break;
            }
            pause(started.elapsed()).await;
        }
        Ok(out)
    }

    /// Per China-time day in `[from, to)` (epoch ms): dispatches and suggestion hits.
    pub async fn suggestion_accuracy(
        &self,
        tenant: TenantId,
        from: i64,
        to: i64,
    ) -> Result<Vec<DayAccuracy>> {
        let sql = format!(
            "SELECT (at + {CHINA_OFFSET_MS}) / 86400000 AS day, COUNT(*) AS n, \
             SUM(CASE WHEN suggested_category = chosen_category THEN 1 ELSE 0 END) AS c, \
             SUM(CASE WHEN suggested_unit = chosen_unit THEN 1 ELSE 0 END) AS u, \
             SUM(CASE WHEN suggested_type = chosen_type THEN 1 ELSE 0 END) AS t \
             FROM suggestion_outcomes WHERE tenant_id = $1 AND at >= $2 AND at < $3 \
             GROUP BY (at + {CHINA_OFFSET_MS}) / 86400000 ORDER BY day"
        );
        let rows = self
            .read
            .query_all_raw(self.stmt(&sql, vec![tenant.0.into(), from.into(), to.into()]))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DayAccuracy {
                    day: col(r, "day")?,
                    dispatches: col(r, "n")?,
                    category_hits: col(r, "c")?,
                    unit_hits: col(r, "u")?,
                    type_hits: col(r, "t")?,
                })
            })
            .collect()
    }
}
