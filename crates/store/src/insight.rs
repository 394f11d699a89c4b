//! Reads for insight: earlier orders of one caller or address (repeats), the orders of a
//! time window as text (hot spots), and order counts per day by category and region (spike
//! warnings, seasonal trends).

use crate::orders::StoredOrder;
use crate::{Result, Store, StoreError, col};
use jiesu_core::{OrderId, TenantId};
use sea_orm::ConnectionTrait;

/// China time is UTC+8 all year.
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// An order as text, for clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderText {
    pub id: i64,
    pub accepted_at: i64,
    pub title: String,
    pub content: String,
    pub address: String,
    pub region_code: Option<String>,
    pub category_code: Option<String>,
    pub phone: Option<String>,
}

#[derive(serde::Deserialize)]
struct StateText {
    #[serde(default)]
    content: String,
    #[serde(default)]
    location: StateLocation,
}

#[derive(serde::Deserialize, Default)]
struct StateLocation {
    #[serde(default)]
    address: Option<String>,
}

/// Orders of one category and region on one day (China time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// Days since 1970-01-01, China time.
    pub day: i64,
    pub category_code: Option<String>,
    pub region_code: Option<String>,
    pub count: i64,
}

impl Store {
    /// Orders accepted since `since` (epoch ms) from `phone` or at the address `address_key`,
    /// newest first, at most `limit` of each.
    pub async fn repeat_candidates(
        &self,
        tenant: TenantId,
        phone: Option<&str>,
        address_key: Option<&str>,
        since: i64,
        limit: u64,
    ) -> Result<Vec<(StoredOrder, bool, bool)>> {
        // A phone is stored sealed (under any of the keys) or, from before, as it is: one
        // lookup per form, each walking the index `(tenant_id, column, accepted_at)` newest
        // first and stopping at `limit`, then the newest `limit` of them together.
        // (`citizen_phone IN (a, b) ORDER BY accepted_at` cannot follow the index's order: it
        // reads every order of a frequent caller.)
        let mut by_phone: Vec<StoredOrder> = Vec::new();
        if let Some(phone) = phone {
            for value in self.pii().ring().lookups(phone) {
                by_phone.extend(
                    self.newest_by(tenant, "citizen_phone", value, since, limit)
                        .await?,
                );
            }
        }
        by_phone.sort_by_key(|s| std::cmp::Reverse((s.order.accepted_at, s.id.0)));
        by_phone.dedup_by_key(|s| s.id);
        by_phone.truncate(limit as usize);
        let mut found: Vec<(StoredOrder, bool, bool)> =
            by_phone.into_iter().map(|s| (s, true, false)).collect();
        if let Some(key) = address_key {
            for s in self
                .newest_by(tenant, "address_key", key.to_string(), since, limit)
                .await?
            {
                match found.iter_mut().find(|(o, _, _)| o.id == s.id) {
                    Some(e) => e.2 = true,
                    None => found.push((s, false, true)),
                }
            }
        }
        Ok(found)
    }

    /// The newest `limit` orders accepted since `since` whose `column` is `value`.
    async fn newest_by(
        &self,
        tenant: TenantId,
        column: &'static str,
        value: String,
        since: i64,
        limit: u64,
    ) -> Result<Vec<StoredOrder>> {
        let sql = newest_by_sql(column);
        let params: Vec<sea_orm::Value> = vec![
            tenant.0.into(),
            value.into(),
            since.into(),
            (limit as i64).into(),
        ];
        let rows = self.read.query_all_raw(self.stmt(&sql, params)).await?;
        rows.iter()
            .map(|r| crate::orders::order_from_row(r, self.pii()))
            .collect()
    }

    /// Orders accepted from `from` on and before the position `before` (accepted_at, id),
    /// newest first, at most `limit`: the text hot spots are found in. (Read from the list
    /// index in its order, a page costs the same wherever it starts.)
    pub async fn order_texts(
        &self,
        tenant: TenantId,
        from: i64,
        before: (i64, i64),
        limit: u64,
    ) -> Result<Vec<OrderText>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, accepted_at, title, region_code, category_code, citizen_phone, state FROM orders \
                 WHERE tenant_id = $1 AND accepted_at >= $2 AND (accepted_at, id) < ($3, $4) \
                 ORDER BY accepted_at DESC, id DESC LIMIT $5",
                vec![
                    tenant.0.into(),
                    from.into(),
                    before.0.into(),
                    before.1.into(),
                    (limit as i64).into(),
                ],
            ))
            .await?;
        rows.iter().map(text_of).collect()
    }

    /// The same for the given orders.
    pub async fn order_texts_by_ids(
        &self,
        tenant: TenantId,
        ids: &[OrderId],
    ) -> Result<Vec<OrderText>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = ids.iter().map(|i| i.0.to_string()).collect();
        let sql = format!(
            "SELECT id, accepted_at, title, region_code, category_code, citizen_phone, state FROM orders \
             WHERE tenant_id = $1 AND id IN ({})",
            list.join(", ")
        );
        let rows = self
            .read
            .query_all_raw(self.stmt(&sql, vec![tenant.0.into()]))
            .await?;
        rows.iter().map(text_of).collect()
    }

    /// Orders accepted in `[from, to)` (epoch ms) after the position `after` (accepted_at,
    /// id), in that order, at most `limit`: the orders a period's figures are made of.
    pub async fn orders_accepted(
        &self,
        tenant: TenantId,
        from: i64,
        to: i64,
        after: (i64, i64),
        limit: u64,
    ) -> Result<Vec<(i64, StoredOrder)>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, accepted_at, last_hash, state FROM orders WHERE tenant_id = $1 \
                 AND accepted_at >= $2 AND accepted_at < $3 \
                 AND (accepted_at, id) > ($4, $5) \
                 ORDER BY accepted_at, id LIMIT $6",
                vec![
                    tenant.0.into(),
                    from.into(),
                    to.into(),
                    after.0.into(),
                    after.1.into(),
                    (limit as i64).into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    col(r, "accepted_at")?,
                    crate::orders::order_from_row(r, self.pii())?,
                ))
            })
            .collect()
    }

    /// Open orders (not closed, withdrawn, invalid or merged) with an id above `after`, by
    /// id, at most `limit`.
    pub async fn open_orders(
        &self,
        tenant: TenantId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<StoredOrder>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, last_hash, state FROM orders WHERE tenant_id = $1 \
                 AND status NOT IN ('closed', 'withdrawn', 'invalid', 'merged') AND id > $2 \
                 ORDER BY id LIMIT $3",
                vec![tenant.0.into(), after.into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| crate::orders::order_from_row(r, self.pii()))
            .collect()
    }

    /// Orders closed since `since` (epoch ms) with an id above `after`, by id, at most
    /// `limit`.
    pub async fn closed_since(
        &self,
        tenant: TenantId,
        since: i64,
        after: i64,
        limit: u64,
    ) -> Result<Vec<StoredOrder>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, last_hash, state FROM orders WHERE tenant_id = $1 \
                 AND status = 'closed' AND updated_at >= $2 AND id > $3 ORDER BY id LIMIT $4",
                vec![
                    tenant.0.into(),
                    since.into(),
                    after.into(),
                    (limit as i64).into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|r| crate::orders::order_from_row(r, self.pii()))
            .collect()
    }

    /// Orders per China-time day, category and region, accepted in `[from, to)` (epoch ms);
    /// optionally only a category (and those below it) and a region (and those below it).
    pub async fn day_counts(
        &self,
        tenant: TenantId,
        from: i64,
        to: i64,
        category: Option<&str>,
        region: Option<&str>,
    ) -> Result<Vec<DayCount>> {
        let mut params: Vec<sea_orm::Value> = vec![tenant.0.into(), from.into(), to.into()];
        let mut filter = String::new();
        if let Some(c) = category {
            params.push(c.into());
            params.push(format!("{c}.%").into());
            filter.push_str(&format!(
                " AND (category_code = ${} OR category_code LIKE ${})",
                params.len() - 1,
                params.len()
            ));
        }
        if let Some(r) = region {
            params.push(format!("{r}%").into());
            filter.push_str(&format!(" AND region_code LIKE ${}", params.len()));
        }
        let sql = format!(
            "SELECT (accepted_at + {CHINA_OFFSET_MS}) / {DAY_MS} AS day, category_code, region_code, COUNT(*) AS n \
             FROM orders WHERE tenant_id = $1 AND accepted_at >= $2 AND accepted_at < $3{filter} \
             GROUP BY (accepted_at + {CHINA_OFFSET_MS}) / {DAY_MS}, category_code, region_code"
        );
        let rows = self.read.query_all_raw(self.stmt(&sql, params)).await?;
        rows.iter()
            .map(|r| {
                Ok(DayCount {
                    day: col(r, "day")?,
                    category_code: col(r, "category_code")?,
                    region_code: col(r, "region_code")?,
                    count: col(r, "n")?,
                })
            })
            .collect()
    }
}

fn text_of(r: &sea_orm::QueryResult) -> Result<OrderText> {
    let state: String = col(r, "state")?;
    let s: StateText = serde_json::from_str(&state).map_err(StoreError::corrupt)?;
    Ok(OrderText {
        id: col(r, "id")?,
        accepted_at: col(r, "accepted_at")?,
        title: col(r, "title")?,
        content: s.content,
        address: s.location.address.unwrap_or_default(),
        region_code: col(r, "region_code")?,
        category_code: col(r, "category_code")?,
        // The sealed token where sealed: one caller, one token under one key, which is all
        // that counting distinct callers needs (and no plaintext reaches the hot-spot file).
        phone: col(r, "citizen_phone")?,
    })
}

/// The newest orders since a time with one value of `column` (`$2`): `$3` the time, `$4` how
/// many.
fn newest_by_sql(column: &str) -> String {
    format!(
        "SELECT id, last_hash, state FROM orders WHERE tenant_id = $1 AND {column} = $2 \
         AND accepted_at >= $3 ORDER BY accepted_at DESC LIMIT $4"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::{sqlite_plan, sqlite_store};
    use sea_orm::{DbBackend, Statement};

    #[tokio::test]
    async fn a_callers_and_an_addresss_latest_orders_are_read_in_index_order() {
        let (_dir, store) = sqlite_store().await;
        for (column, index) in [
            ("citizen_phone", "orders_phone"),
            ("address_key", "orders_address"),
        ] {
            let sql = Statement::from_sql_and_values(
                DbBackend::Sqlite,
                newest_by_sql(column),
                vec![1i64.into(), "x".into(), 0i64.into(), 30i64.into()],
            );
            let text = sqlite_plan(&store, sql).await.join("\n");
            assert!(
                text.contains(&format!(
                    "{index} (tenant_id=? AND {column}=? AND accepted_at>?)"
                )) && !text.contains("TEMP B-TREE"),
                "a frequent caller's orders must not all be read and sorted:\n{text}"
            );
        }
    }
}
