//! Reads for insight: earlier orders of one caller or address (repeats), the orders of a
//! time window as text (hot spots), and order counts per day by category and region (spike
//! warnings, seasonal trends).

use crate::orders::StoredOrder;
use crate::packed::StateText;
use crate::{Result, Store, StoreError, col};
use chrono::{DateTime, Utc};
use jiesu_core::order::Status;
use jiesu_core::values::CategoryCode;
use jiesu_core::{OrderId, TenantId};

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

/// An earlier order a new one may repeat: what linking them needs, read from the order's
/// columns (a new order is compared with up to sixty). Its text is read only where what was
/// made of it before is not kept (see `Store::repeat_contents`).
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatCandidate {
    pub id: OrderId,
    pub number: String,
    pub title: String,
    pub category: Option<CategoryCode>,
    pub status: Status,
    pub accepted_at: DateTime<Utc>,
    /// Moves with every change of the order.
    pub version: u32,
    /// The word set stored with the order, if it was stored with one.
    pub words: Option<OrderWords>,
}

/// What repeat detection made of an order's text when the order was accepted, stored with
/// it: a word set (opaque to the store) and the basis it was made on (the dictionary and the
/// rules; a set of another basis is not comparable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderWords {
    pub basis: i64,
    pub words: Vec<u8>,
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
    ) -> Result<Vec<(RepeatCandidate, bool, bool)>> {
        // A phone is stored sealed (under any of the keys) or, from before, as it is: one
        // part per form and one for the address, each walking the index `(tenant_id, column,
        // accepted_at)` newest first and stopping at `limit`, all in one statement (one
        // round trip instead of three for every new order); then the newest `limit` of the
        // caller's. (`citizen_phone IN (a, b) ORDER BY accepted_at` cannot follow the index's
        // order: it reads every order of a frequent caller.)
        let phones: Vec<String> = phone
            .map(|p| self.pii().ring().lookups(p))
            .unwrap_or_default();
        let Some(sql) = repeat_sql(phones.len(), address_key.is_some()) else {
            return Ok(Vec::new());
        };
        let mut params: Vec<sea_orm::Value> =
            vec![tenant.0.into(), since.into(), (limit as i64).into()];
        params.extend(phones.iter().map(|p| p.clone().into()));
        if let Some(key) = address_key {
            params.push(key.to_string().into());
        }
        let rows = self.read.query_all_raw(self.stmt(&sql, params)).await?;
        // Each order once, with whether its caller and its address are the ones asked for.
        let mut read: Vec<(RepeatCandidate, bool, bool)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = OrderId(col(r, "id")?);
            if read.iter().any(|(s, _, _)| s.id == id) {
                continue;
            }
            let their_phone: Option<String> = col(r, "citizen_phone")?;
            let their_key: Option<String> = col(r, "address_key")?;
            let category: Option<String> = col(r, "category_code")?;
            let candidate = RepeatCandidate {
                id,
                number: col(r, "number")?,
                title: col(r, "title")?,
                category: category
                    .map(|c| CategoryCode::parse("category_code", &c))
                    .transpose()
                    .map_err(StoreError::corrupt)?,
                status: Status::parse("status", &col::<String>(r, "status")?)
                    .map_err(StoreError::corrupt)?,
                accepted_at: crate::from_ms(col(r, "accepted_at")?),
                version: col::<i32>(r, "version")? as u32,
                words: match col::<Option<i64>>(r, "basis")? {
                    Some(basis) => Some(OrderWords {
                        basis,
                        words: col(r, "words")?,
                    }),
                    None => None,
                },
            };
            read.push((
                candidate,
                their_phone.is_some_and(|p| phones.contains(&p)),
                their_key.is_some() && their_key.as_deref() == address_key,
            ));
        }
        read.sort_by_key(|(s, _, _)| std::cmp::Reverse((s.accepted_at, s.id.0)));
        // The caller's newest `limit`, then the address's newest `limit` not among them.
        let limit = limit as usize;
        let mut found: Vec<(RepeatCandidate, bool, bool)> = Vec::new();
        let (mut callers, mut addresses) = (0, 0);
        for (s, phone, address) in read {
            let address = address && addresses < limit;
            addresses += usize::from(address);
            let phone = phone && callers < limit;
            callers += usize::from(phone);
            if phone {
                found.push((s, true, address));
            } else if address {
                found.push((s, false, true));
            }
        }
        Ok(found)
    }

    /// The content of each of the tenant's orders `ids` (those that exist).
    pub async fn repeat_contents(
        &self,
        tenant: TenantId,
        ids: &[OrderId],
    ) -> Result<std::collections::HashMap<OrderId, String>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        let q = crate::orders::by_ids_sql("id, state", tenant, ids);
        for r in self.read.query_all_raw(q.build(self.backend)).await? {
            let mut content = StateText::of(&r, self.backend)?.content();
            // Sealing replaces whole string values (the citizen's phone and ID number), so
            // the state is read sealed: only a content that is nothing but such a value is a
            // token to open.
            if content.starts_with(crate::pii::PREFIX) {
                content = self.pii().open(&content)?;
            }
            out.insert(OrderId(col(&r, "id")?), content);
        }
        Ok(out)
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
        rows.iter().map(|r| text_of(r, self.backend)).collect()
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
        rows.iter().map(|r| text_of(r, self.backend)).collect()
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
            .map(|r| Ok((col(r, "accepted_at")?, self.order_from_row(r)?)))
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
        rows.iter().map(|r| self.order_from_row(r)).collect()
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
        rows.iter().map(|r| self.order_from_row(r)).collect()
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

fn text_of(r: &impl crate::lite::Cols, backend: sea_orm::DbBackend) -> Result<OrderText> {
    let (content, address) = StateText::of(r, backend)?.into_parts();
    Ok(OrderText {
        id: col(r, "id")?,
        accepted_at: col(r, "accepted_at")?,
        title: col(r, "title")?,
        content,
        address,
        region_code: col(r, "region_code")?,
        category_code: col(r, "category_code")?,
        // The sealed token where sealed: one caller, one token under one key, which is all
        // that counting distinct callers needs (and no plaintext reaches the hot-spot file).
        phone: col(r, "citizen_phone")?,
    })
}

/// The statement reading a caller's (`phones`: the forms their number is stored in) and an
/// address's newest orders: parameters `$1` tenant, `$2` since, `$3` limit, then the phones,
/// then the address key. None when there is nothing to look for.
/// Inserts of new orders' word sets, many to a statement.
pub(crate) fn order_words_sql<'a>(
    rows: impl IntoIterator<Item = (TenantId, OrderId, &'a OrderWords)>,
) -> Vec<crate::orders::Sql> {
    let rows: Vec<[sea_orm::Value; 4]> = rows
        .into_iter()
        .map(|(t, id, w)| {
            [
                t.0.into(),
                id.0.into(),
                w.basis.into(),
                w.words.clone().into(),
            ]
        })
        .collect();
    crate::orders::rows_sql(
        "INSERT INTO order_words (tenant_id, order_id, basis, words) VALUES ",
        &rows,
    )
}

fn repeat_sql(phones: usize, address: bool) -> Option<String> {
    let part = |column: &str, param: usize| {
        format!(
            "SELECT * FROM (SELECT id, number, title, category_code, status, accepted_at, \
             version, citizen_phone, address_key FROM orders \
             WHERE tenant_id = $1 AND {column} = ${param} AND accepted_at >= $2 \
             ORDER BY accepted_at DESC LIMIT $3) AS p{param}"
        )
    };
    let mut parts: Vec<String> = (0..phones).map(|i| part("citizen_phone", 4 + i)).collect();
    if address {
        parts.push(part("address_key", 4 + phones));
    }
    // Each candidate's stored word set beside it (none where it was stored without one).
    (!parts.is_empty()).then(|| {
        format!(
            "SELECT c.*, w.basis, w.words FROM ({}) AS c LEFT JOIN order_words w \
             ON w.tenant_id = $1 AND w.order_id = c.id",
            parts.join(" UNION ALL ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::{
        accepted_from, create, sqlite_plan, sqlite_store, sqlite_store_with, tenant_one,
    };
    use sea_orm::{DbBackend, Statement};

    #[tokio::test]
    async fn a_callers_and_an_addresss_latest_orders_are_read_in_index_order() {
        let (_dir, store) = sqlite_store().await;
        let sql = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            repeat_sql(2, true).unwrap(),
            vec![
                1i64.into(),
                0i64.into(),
                30i64.into(),
                "x".into(),
                "y".into(),
                "z".into(),
            ],
        );
        let text = sqlite_plan(&store, sql).await.join("\n");
        for (column, index, times) in [
            ("citizen_phone", "orders_phone", 2),
            ("address_key", "orders_address", 1),
        ] {
            assert_eq!(
                text.matches(&format!(
                    "{index} (tenant_id=? AND {column}=? AND accepted_at>?)"
                ))
                .count(),
                times,
                "every part walks its index:\n{text}"
            );
        }
        assert!(
            !text.contains("TEMP B-TREE"),
            "a frequent caller's orders must not all be read and sorted:\n{text}"
        );
        assert!(
            text.contains("SEARCH w USING PRIMARY KEY (tenant_id=? AND order_id=?)"),
            "each candidate's stored words by its key:\n{text}"
        );
        assert_eq!(repeat_sql(0, false), None);
    }

    #[tokio::test]
    async fn a_candidate_is_read_from_its_sealed_state_and_a_sealed_text_opened() {
        use crate::pii::{Keyring, PiiKeys};
        let keys_dir = tempfile::tempdir().unwrap();
        let keys = keys_dir.path().join("pii.json");
        let (ring, _) = Keyring::load_or_create(&keys).unwrap();
        let opts = crate::StoreOptions {
            pii: std::sync::Arc::new(PiiKeys::new(Some(keys), ring)),
            ..crate::StoreOptions::default()
        };
        let (_dir, store) = sqlite_store_with(&opts).await;
        tenant_one(&store).await;
        let phone = "13900000003";
        let at = chrono::Utc::now() - chrono::Duration::hours(1);
        let mut ids = Vec::new();
        // The second order's text is nothing but the caller's number: sealed with it.
        for text in ["夜间施工噪音扰民", phone] {
            let mut new = accepted_from(&store, 1, at, Some(phone), Some("幸福路1号"));
            new.order.content = text.to_string();
            ids.push(create(&store, new).await);
        }
        let raw = store
            .read
            .query_one_raw(store.stmt(
                "SELECT state FROM orders WHERE id = $1",
                vec![ids[1].0.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let state = crate::packed::state_of(&raw, store.backend).unwrap();
        assert!(!state.contains(phone) && state.contains(crate::pii::PREFIX));
        let since = (at - chrono::Duration::days(1)).timestamp_millis();
        let mut got = store
            .repeat_candidates(TenantId(1), Some(phone), None, since, 5)
            .await
            .unwrap();
        got.sort_by_key(|c| c.0.id);
        let contents = store
            .repeat_contents(TenantId(1), &[ids[0], ids[1], OrderId(999_999)])
            .await
            .unwrap();
        assert_eq!(contents.len(), 2, "only orders that exist");
        let texts: Vec<(OrderId, &str, &str, Status)> = got
            .iter()
            .map(|(c, _, _)| (c.id, c.title.as_str(), contents[&c.id].as_str(), c.status))
            .collect();
        assert_eq!(
            texts,
            vec![
                (
                    ids[0],
                    "噪音扰民",
                    "夜间施工噪音扰民",
                    Status::PendingReview
                ),
                (ids[1], "噪音扰民", phone, Status::PendingReview),
            ]
        );
        assert!(
            got.iter()
                .all(|(c, by_phone, _)| *by_phone && c.number.len() > 10 && c.version == 1)
        );
        assert!(
            store
                .repeat_contents(TenantId(2), &[ids[0]])
                .await
                .unwrap()
                .is_empty(),
            "another tenant's order is not read"
        );
    }

    #[tokio::test]
    async fn the_candidates_are_the_callers_newest_and_the_addresss_newest() {
        let (_dir, store) = sqlite_store().await;
        tenant_one(&store).await;
        let start = chrono::Utc::now() - chrono::Duration::days(1);
        // Accepted a minute apart, in this order: caller A's five orders (the first two and
        // the last at address X), then caller B's two at X.
        let (a, b, x, y) = ("13900000001", "13900000002", "幸福路1号", "幸福路9号");
        let mut ids = Vec::new();
        for (i, (phone, address)) in [(a, x), (a, x), (a, y), (a, y), (a, x), (b, x), (b, x)]
            .into_iter()
            .enumerate()
        {
            let at = start + chrono::Duration::minutes(i as i64);
            let new = accepted_from(&store, 1, at, Some(phone), Some(address));
            ids.push(create(&store, new).await);
        }
        let key = jiesu_core::values::address_key(x).unwrap();
        let since = (start - chrono::Duration::days(1)).timestamp_millis();
        let mut got: Vec<(OrderId, bool, bool)> = store
            .repeat_candidates(TenantId(1), Some(a), Some(&key), since, 3)
            .await
            .unwrap()
            .into_iter()
            .map(|(s, phone, address)| (s.id, phone, address))
            .collect();
        got.sort_by_key(|g| g.0);
        // A's newest three (the last also among X's newest three), then X's others: B's two.
        // A's two oldest at X are among neither.
        assert_eq!(
            got,
            vec![
                (ids[2], true, false),
                (ids[3], true, false),
                (ids[4], true, true),
                (ids[5], false, true),
                (ids[6], false, true),
            ]
        );
        // Only the caller, only the address, neither; and the window.
        let by_caller = store
            .repeat_candidates(TenantId(1), Some(b), None, since, 3)
            .await
            .unwrap();
        assert_eq!(by_caller.len(), 2);
        assert!(
            by_caller
                .iter()
                .all(|(_, phone, address)| *phone && !*address)
        );
        let by_address = store
            .repeat_candidates(TenantId(1), None, Some(&key), since, 10)
            .await
            .unwrap();
        assert_eq!(by_address.len(), 5);
        assert!(
            by_address
                .iter()
                .all(|(_, phone, address)| !*phone && *address)
        );
        let later = (start + chrono::Duration::minutes(5)).timestamp_millis();
        let recent = store
            .repeat_candidates(TenantId(1), Some(a), Some(&key), later, 3)
            .await
            .unwrap();
        assert_eq!(
            recent.iter().map(|c| c.0.id).collect::<Vec<_>>(),
            vec![ids[6], ids[5]]
        );
        assert!(
            store
                .repeat_candidates(TenantId(1), None, None, since, 3)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
