//! Knowledge entries: the entry row (state, the latest text's title and scope for lists, the
//! live version search serves), every version's text, every transition, and a per-tenant
//! change sequence. Each change takes the next number of the sequence in the same
//! transaction; the counter row is locked until commit, so changes commit in sequence order
//! and an index that has applied everything up to `n` never misses a later commit below `n`.

use crate::{Result, Store, StoreError, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::kb::{KbAction, KbContent, KbState};
use jiesu_core::{TenantId, UnitId, UserId};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait, Value};

#[derive(Debug, Clone)]
pub struct KbRow {
    pub id: i64,
    pub state: KbState,
    pub version: u32,
    pub live_version: Option<u32>,
    /// The latest version's text.
    pub content: KbContent,
    pub live_valid_to: Option<DateTime<Utc>>,
    pub usage: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct KbVersion {
    pub version: u32,
    pub content: KbContent,
    pub author_id: UserId,
    pub author: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct KbHistory {
    pub version: u32,
    pub action: KbAction,
    pub from_state: Option<KbState>,
    pub to_state: KbState,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// An entry as the search index needs it, in change order.
#[derive(Debug, Clone)]
pub struct KbChange {
    pub id: i64,
    pub seq: i64,
    /// The live version and its text; `None`: not searchable (remove from the index).
    pub live: Option<(u32, KbContent)>,
    pub usage: i64,
}

/// Who changes an entry, and why.
#[derive(Debug, Clone)]
pub struct KbWho<'a> {
    pub actor_id: UserId,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// A change decided by the caller from `row` as read: the optimistic check makes it fail
/// with [`StoreError::Concurrent`] if someone changed the entry in between.
pub struct KbTransition<'a> {
    pub action: KbAction,
    pub from: &'a KbRow,
    pub to: KbState,
    /// New text (an edit): becomes version `from.version + 1`.
    pub content: Option<&'a KbContent>,
}

#[derive(Debug, Clone, Default)]
pub struct KbFilter {
    pub state: Option<KbState>,
    /// Entries owned by these units (unit staff); `None`: all.
    pub units: Option<Vec<UnitId>>,
    pub unit_id: Option<UnitId>,
    /// Title contains.
    pub title: Option<String>,
    /// This category and below.
    pub category: Option<String>,
    /// Live and ending before this time.
    pub live_ending_before: Option<DateTime<Utc>>,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Debug, Clone)]
pub struct KbMiss {
    pub text: String,
    pub count: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

const ENTRY_COLS: &str = "e.id, e.state, e.version, e.live_version, e.live_valid_to, e.usage, \
     e.created_by, e.created_at, e.updated_by, e.updated_at, v.content";

fn content_of(r: &impl crate::lite::Cols) -> Result<KbContent> {
    let text: String = col(r, "content")?;
    serde_json::from_str(&text).map_err(StoreError::corrupt)
}

fn state_of(s: &str) -> Result<KbState> {
    KbState::parse("state", s).map_err(StoreError::corrupt)
}

fn row_of(r: &impl crate::lite::Cols) -> Result<KbRow> {
    let live: Option<i64> = col(r, "live_version")?;
    let version: i64 = col(r, "version")?;
    Ok(KbRow {
        id: col(r, "id")?,
        state: state_of(&col::<String>(r, "state")?)?,
        version: version as u32,
        live_version: live.map(|v| v as u32),
        content: content_of(r)?,
        live_valid_to: col::<Option<i64>>(r, "live_valid_to")?.map(from_ms),
        usage: col(r, "usage")?,
        created_by: col(r, "created_by")?,
        created_at: from_ms(col(r, "created_at")?),
        updated_by: col(r, "updated_by")?,
        updated_at: from_ms(col(r, "updated_at")?),
    })
}

fn json(c: &KbContent) -> Result<String> {
    serde_json::to_string(c).map_err(StoreError::corrupt)
}

impl Store {
    /// The next number of the tenant's change sequence, in `txn`.
    async fn kb_next_seq(&self, txn: &DatabaseTransaction, tenant: TenantId) -> Result<i64> {
        let row = txn
            .query_one_raw(self.stmt(
                "INSERT INTO kb_seq (tenant_id, n) VALUES ($1, 1) \
                 ON CONFLICT (tenant_id) DO UPDATE SET n = kb_seq.n + 1 RETURNING n",
                vec![tenant.0.into()],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        col(&row, "n")
    }

    async fn kb_insert_version(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        id: i64,
        version: u32,
        content: &KbContent,
        who: &KbWho<'_>,
    ) -> Result<()> {
        txn.execute_raw(self.stmt(
            "INSERT INTO kb_versions (tenant_id, entry_id, version, content, author_id, author, at, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                tenant.0.into(),
                id.into(),
                i64::from(version).into(),
                json(content)?.into(),
                who.actor_id.0.into(),
                who.actor.into(),
                to_ms(who.at).into(),
                who.reason.map(str::to_string).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn kb_insert_history(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        id: i64,
        version: u32,
        action: KbAction,
        from: Option<KbState>,
        to: KbState,
        who: &KbWho<'_>,
    ) -> Result<()> {
        txn.execute_raw(self.stmt(
            "INSERT INTO kb_history (tenant_id, entry_id, version, action, from_state, to_state, actor_id, actor, at, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                tenant.0.into(),
                id.into(),
                i64::from(version).into(),
                action.as_str().into(),
                from.map(|s| s.as_str()).into(),
                to.as_str().into(),
                who.actor_id.0.into(),
                who.actor.into(),
                to_ms(who.at).into(),
                who.reason.map(str::to_string).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    /// Creates entries (`Create`: drafts; `Import`: published at once), in one transaction.
    pub async fn kb_create(
        &self,
        tenant: TenantId,
        items: &[KbContent],
        action: KbAction,
        who: &KbWho<'_>,
    ) -> Result<Vec<i64>> {
        let to = action.next(None).map_err(StoreError::corrupt)?;
        let live = action.live_after(1, None);
        let txn = self.write.begin().await?;
        let mut ids = Vec::with_capacity(items.len());
        for c in items {
            let seq = self.kb_next_seq(&txn, tenant).await?;
            let valid_to = live.and(c.valid_to()).map(to_ms);
            let row = txn
                .query_one_raw(self.stmt(
                    "INSERT INTO kb_entries (tenant_id, state, version, live_version, title, category, unit_id, region, \
                     live_valid_to, usage, created_by, created_at, updated_by, updated_at, seq) \
                     VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, 0, $9, $10, $9, $10, $11) RETURNING id",
                    vec![
                        tenant.0.into(),
                        to.as_str().into(),
                        live.map(i64::from).into(),
                        c.title.clone().into(),
                        c.category.as_ref().map(|x| x.as_str().to_string()).into(),
                        c.unit_id.map(|u| u.0).into(),
                        c.region.as_ref().map(|x| x.as_str().to_string()).into(),
                        valid_to.into(),
                        who.actor.into(),
                        to_ms(who.at).into(),
                        seq.into(),
                    ],
                ))
                .await?
                .ok_or(StoreError::NotFound)?;
            let id: i64 = col(&row, "id")?;
            self.kb_insert_version(&txn, tenant, id, 1, c, who).await?;
            self.kb_insert_history(&txn, tenant, id, 1, action, None, to, who)
                .await?;
            ids.push(id);
        }
        txn.commit().await?;
        Ok(ids)
    }

    /// Applies a transition decided from `t.from`, as one transaction.
    pub async fn kb_transition(
        &self,
        tenant: TenantId,
        t: KbTransition<'_>,
        who: &KbWho<'_>,
    ) -> Result<()> {
        let from = t.from;
        let version = if t.content.is_some() {
            from.version + 1
        } else {
            from.version
        };
        let live = t.action.live_after(version, from.live_version);
        let txn = self.write.begin().await?;
        if let Some(c) = t.content {
            self.kb_insert_version(&txn, tenant, from.id, version, c, who)
                .await?;
        }
        // The live version's end of validity, for expiry and the "expiring" flag.
        let live_valid_to = match live {
            None => None,
            Some(v) if v == from.version && t.content.is_none() => {
                from.content.valid_to().map(to_ms)
            }
            Some(v) if v == version && t.content.is_some() => {
                t.content.and_then(|c| c.valid_to()).map(to_ms)
            }
            Some(_) => from.live_valid_to.map(to_ms),
        };
        let latest = t.content.unwrap_or(&from.content);
        let seq = self.kb_next_seq(&txn, tenant).await?;
        let r = txn
            .execute_raw(self.stmt(
                "UPDATE kb_entries SET state = $1, version = $2, live_version = $3, title = $4, category = $5, \
                 unit_id = $6, region = $7, live_valid_to = $8, updated_by = $9, updated_at = $10, seq = $11 \
                 WHERE tenant_id = $12 AND id = $13 AND version = $14 AND state = $15",
                vec![
                    t.to.as_str().into(),
                    i64::from(version).into(),
                    live.map(i64::from).into(),
                    latest.title.clone().into(),
                    latest.category.as_ref().map(|x| x.as_str().to_string()).into(),
                    latest.unit_id.map(|u| u.0).into(),
                    latest.region.as_ref().map(|x| x.as_str().to_string()).into(),
                    live_valid_to.into(),
                    who.actor.into(),
                    to_ms(who.at).into(),
                    seq.into(),
                    tenant.0.into(),
                    from.id.into(),
                    i64::from(from.version).into(),
                    from.state.as_str().into(),
                ],
            ))
            .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Concurrent);
        }
        self.kb_insert_history(
            &txn,
            tenant,
            from.id,
            version,
            t.action,
            Some(from.state),
            t.to,
            who,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn kb_entry(&self, tenant: TenantId, id: i64) -> Result<Option<KbRow>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                &format!(
                    "SELECT {ENTRY_COLS} FROM kb_entries e JOIN kb_versions v \
                     ON v.tenant_id = e.tenant_id AND v.entry_id = e.id AND v.version = e.version \
                     WHERE e.tenant_id = $1 AND e.id = $2"
                ),
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        row.as_ref().map(row_of).transpose()
    }

    /// Entries, most recently changed first, and how many match.
    pub async fn kb_list(&self, tenant: TenantId, f: &KbFilter) -> Result<(Vec<KbRow>, u64)> {
        let mut cond = String::from("e.tenant_id = $1");
        let mut vals: Vec<Value> = vec![tenant.0.into()];
        let mut push = |cond: &mut String, sql: &str, v: Value| {
            vals.push(v);
            cond.push_str(&sql.replace('?', &format!("${}", vals.len())));
        };
        if let Some(s) = f.state {
            push(&mut cond, " AND e.state = ?", s.as_str().into());
        }
        if let Some(u) = f.unit_id {
            push(&mut cond, " AND e.unit_id = ?", u.0.into());
        }
        if let Some(units) = &f.units {
            let list: Vec<String> = units.iter().map(|u| u.0.to_string()).collect();
            if list.is_empty() {
                cond.push_str(" AND FALSE");
            } else {
                // Unit ids are numbers from the tree, not input: safe to inline.
                cond.push_str(&format!(" AND e.unit_id IN ({})", list.join(",")));
            }
        }
        if let Some(t) = &f.title {
            let pat = format!(
                "%{}%",
                t.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            push(&mut cond, " AND e.title LIKE ? ESCAPE '\\'", pat.into());
        }
        if let Some(c) = &f.category {
            push(&mut cond, " AND (e.category = ?", c.clone().into());
            push(&mut cond, " OR e.category LIKE ?)", format!("{c}.%").into());
        }
        if let Some(t) = f.live_ending_before {
            push(
                &mut cond,
                " AND e.live_version IS NOT NULL AND e.live_valid_to < ?",
                to_ms(t).into(),
            );
        }
        let total = self
            .read
            .query_one_raw(self.stmt(
                &format!("SELECT COUNT(*) AS n FROM kb_entries e WHERE {cond}"),
                vals.clone(),
            ))
            .await?
            .map(|r| col::<i64>(&r, "n"))
            .transpose()?
            .unwrap_or(0);
        let n = vals.len();
        vals.push((f.limit.clamp(1, 500) as i64).into());
        vals.push((f.offset as i64).into());
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT {ENTRY_COLS} FROM kb_entries e JOIN kb_versions v \
                     ON v.tenant_id = e.tenant_id AND v.entry_id = e.id AND v.version = e.version \
                     WHERE {cond} ORDER BY e.updated_at DESC, e.id DESC LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ),
                vals,
            ))
            .await?;
        let items = rows.iter().map(row_of).collect::<Result<Vec<_>>>()?;
        Ok((items, total as u64))
    }

    pub async fn kb_versions(&self, tenant: TenantId, id: i64) -> Result<Vec<KbVersion>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT version, content, author_id, author, at, reason FROM kb_versions \
                 WHERE tenant_id = $1 AND entry_id = $2 ORDER BY version DESC",
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(KbVersion {
                    version: col::<i64>(r, "version")? as u32,
                    content: content_of(r)?,
                    author_id: UserId(col(r, "author_id")?),
                    author: col(r, "author")?,
                    at: from_ms(col(r, "at")?),
                    reason: col(r, "reason")?,
                })
            })
            .collect()
    }

    pub async fn kb_version(
        &self,
        tenant: TenantId,
        id: i64,
        version: u32,
    ) -> Result<Option<KbContent>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT content FROM kb_versions WHERE tenant_id = $1 AND entry_id = $2 AND version = $3",
                vec![tenant.0.into(), id.into(), i64::from(version).into()],
            ))
            .await?;
        row.as_ref().map(content_of).transpose()
    }

    pub async fn kb_history(&self, tenant: TenantId, id: i64) -> Result<Vec<KbHistory>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT version, action, from_state, to_state, actor, at, reason FROM kb_history \
                 WHERE tenant_id = $1 AND entry_id = $2 ORDER BY id DESC",
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let action: String = col(r, "action")?;
                Ok(KbHistory {
                    version: col::<i64>(r, "version")? as u32,
                    action: KbAction::parse(&action).ok_or_else(|| StoreError::corrupt(&action))?,
                    from_state: col::<Option<String>>(r, "from_state")?
                        .map(|s| state_of(&s))
                        .transpose()?,
                    to_state: state_of(&col::<String>(r, "to_state")?)?,
                    actor: col(r, "actor")?,
                    at: from_ms(col(r, "at")?),
                    reason: col(r, "reason")?,
                })
            })
            .collect()
    }

    /// Counts `n` uses of an entry (it answered calls); the index follows for its ranking.
    pub async fn kb_count_use(&self, tenant: TenantId, id: i64, n: i64) -> Result<()> {
        let txn = self.write.begin().await?;
        let seq = self.kb_next_seq(&txn, tenant).await?;
        txn.execute_raw(self.stmt(
            "UPDATE kb_entries SET usage = usage + $1, seq = $2 WHERE tenant_id = $3 AND id = $4",
            vec![n.into(), seq.into(), tenant.0.into(), id.into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// How many entries the tenant has.
    pub async fn kb_count(&self, tenant: TenantId) -> Result<u64> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT COUNT(*) AS n FROM kb_entries WHERE tenant_id = $1",
                vec![tenant.0.into()],
            ))
            .await?;
        Ok(row.map(|r| col::<i64>(&r, "n")).transpose()?.unwrap_or(0) as u64)
    }

    /// The tenant's latest change number.
    pub async fn kb_seq(&self, tenant: TenantId) -> Result<i64> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT n FROM kb_seq WHERE tenant_id = $1",
                vec![tenant.0.into()],
            ))
            .await?;
        Ok(row.map(|r| col::<i64>(&r, "n")).transpose()?.unwrap_or(0))
    }

    /// Entries changed after `after`, in change order, with their live text.
    pub async fn kb_changes(
        &self,
        tenant: TenantId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<KbChange>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT e.id, e.seq, e.live_version, e.usage, v.content FROM kb_entries e \
                 LEFT JOIN kb_versions v ON v.tenant_id = e.tenant_id AND v.entry_id = e.id AND v.version = e.live_version \
                 WHERE e.tenant_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3",
                vec![tenant.0.into(), after.into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let live: Option<i64> = col(r, "live_version")?;
                let live = match live {
                    Some(v) => Some((v as u32, content_of(r)?)),
                    None => None,
                };
                Ok(KbChange {
                    id: col(r, "id")?,
                    seq: col(r, "seq")?,
                    live,
                    usage: col(r, "usage")?,
                })
            })
            .collect()
    }

    /// Published entries whose validity ended before `now`.
    pub async fn kb_ended(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<Vec<i64>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id FROM kb_entries WHERE tenant_id = $1 AND state = 'published' \
                 AND live_valid_to IS NOT NULL AND live_valid_to <= $2 ORDER BY id LIMIT 1000",
                vec![tenant.0.into(), to_ms(now).into()],
            ))
            .await?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    /// Records a search that found nothing (one row per distinct text, counted).
    pub async fn kb_record_miss(
        &self,
        tenant: TenantId,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "INSERT INTO kb_misses (tenant_id, text, count, first_at, last_at) VALUES ($1, $2, 1, $3, $3) \
                 ON CONFLICT (tenant_id, text) DO UPDATE SET count = kb_misses.count + 1, last_at = $3",
                vec![tenant.0.into(), text.into(), to_ms(at).into()],
            ))
            .await?;
        Ok(())
    }

    /// Searches that found nothing, most frequent first.
    pub async fn kb_misses(&self, tenant: TenantId, limit: u64) -> Result<Vec<KbMiss>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT text, count, first_at, last_at FROM kb_misses WHERE tenant_id = $1 \
                 ORDER BY count DESC, last_at DESC LIMIT $2",
                vec![tenant.0.into(), (limit.clamp(1, 1000) as i64).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(KbMiss {
                    text: col(r, "text")?,
                    count: col(r, "count")?,
                    first_at: from_ms(col(r, "first_at")?),
                    last_at: from_ms(col(r, "last_at")?),
                })
            })
            .collect()
    }

    /// Forgets a miss once the gap is filled.
    pub async fn kb_clear_miss(&self, tenant: TenantId, text: &str) -> Result<bool> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "DELETE FROM kb_misses WHERE tenant_id = $1 AND text = $2",
                vec![tenant.0.into(), text.into()],
            ))
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Names of places and units, for the segmenter's dictionary of local words.
    pub async fn local_names(&self) -> Result<Vec<String>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT name FROM regions UNION SELECT name FROM units",
                vec![],
            ))
            .await?;
        rows.iter().map(|r| col(r, "name")).collect()
    }
}
