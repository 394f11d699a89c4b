//! Order search: full text over every order (title, content, address, replies) with the list
//! filters and the viewer's scope, and "similar orders" for an order.
//!
//! The index (`<data_dir>/index/orders`) follows the `search_outbox` table, which every order
//! write fills in its own transaction. Each node keeps its own index and follows the outbox
//! with its own cursor, committed with the index (a crash re-reads from there, re-indexing
//! idempotently instead of losing an order). Ids a node finds missing below its cursor are
//! watched for a while (on PostgreSQL a transaction that took an id may commit after one that
//! took a later id). Each node reports how far it got in `index_nodes`; rows are removed once
//! every node heard from in the last hour has passed them, and a node silent for longer
//! rebuilds its index when it starts.

use super::kb::{Progress, internal, open_derived};
use super::orders::OrderView;
use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::OrderId;
use jiesu_core::TenantId;
use jiesu_core::order::Order;
use jiesu_store::orders::{Scope, StoredOrder};
use jiesu_text::{OrderDoc, OrderIndex, OrderQuery};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bump when the index's schema or analysis changes: it is rebuilt at start.
const INDEX_FORMAT: u32 = 3;
const BATCH: u64 = 2_000;
/// How long a missing outbox id below the cursor is watched for.
const GAP_WAIT_MS: i64 = 60_000;
/// Missing ids watched at most; a larger jump of ids is a skipped range, not transactions
/// still in flight.
const MAX_GAPS: usize = 20_000;
/// A node silent for longer is left behind by the outbox's clean-up and rebuilds its index.
const NODE_SILENCE: chrono::Duration = chrono::Duration::hours(1);
/// After a rebuild the node re-reads this many outbox rows before the end of the scan.
const REBUILD_OVERLAP: i64 = 2_000;
/// How often a node reports its position at the least (a heartbeat), and cleans the outbox.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// What the index holds, committed with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Bookmark {
    format: u32,
    dict: String,
    /// This node's name in `index_nodes`, made when its index is first built.
    #[serde(default)]
    node: String,
    /// Every outbox row up to here is in the index, except the `gaps`.
    #[serde(default)]
    cursor: i64,
    /// Ids below the cursor not seen yet, with when they were first missed (epoch ms).
    #[serde(default)]
    gaps: Vec<(i64, i64)>,
}

impl Bookmark {
    /// The lowest outbox id this node may still need.
    fn low(&self) -> i64 {
        self.gaps
            .iter()
            .map(|g| g.0)
            .min()
            .unwrap_or(i64::MAX)
            .min(self.cursor + 1)
    }
}

/// The follower's state, behind one lock (one catch-up at a time).
struct Follow {
    mark: Bookmark,
    reported: Option<(i64, std::time::Instant)>,
    pruned: Option<std::time::Instant>,
}

pub struct OrderEngine {
    pub index: Arc<OrderIndex>,
    sync: tokio::sync::Mutex<Follow>,
    /// The cursor, readable without waiting for a catch-up (metrics).
    cursor: std::sync::atomic::AtomicI64,
}

/// An order search.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    pub text: String,
    pub statuses: Vec<String>,
    pub request_types: Vec<String>,
    pub category: Option<String>,
    pub region: Option<String>,
    pub accepted_from: Option<DateTime<Utc>>,
    pub accepted_to: Option<DateTime<Utc>>,
    pub limit: usize,
    pub offset: usize,
}

/// Why indexes are merged (see `App::compact_indexes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// After a bulk import or a rebuild.
    Bulk,
    /// The indexer's periodic pass while serving.
    Live,
}

pub struct OrderFound {
    pub view: OrderView,
    pub score: f32,
    pub highlight: String,
}

/// What the replies of an order said (units' replies and an instant answer).
pub fn replies(o: &Order) -> String {
    let mut parts: Vec<&str> = o
        .assignments
        .iter()
        .filter_map(|a| a.reply.as_deref())
        .collect();
    if let Some(a) = o.instant_answer.as_ref().and_then(|a| a.answer.as_deref()) {
        parts.push(a);
    }
    parts.join("\n")
}

fn doc_of(tenant: TenantId, s: &StoredOrder) -> OrderDoc {
    let o = &s.order;
    let mut units: Vec<u64> = std::iter::once(o.centre_id)
        .chain(o.assignments.iter().map(|a| a.unit_id))
        .map(|u| u.0 as u64)
        .collect();
    units.sort();
    units.dedup();
    OrderDoc {
        tenant: tenant.0 as u64,
        id: s.id.0 as u64,
        title: o.title.clone(),
        content: o.content.clone(),
        address: o.location.address.clone().unwrap_or_default(),
        reply: replies(o),
        status: o.status.as_str().to_string(),
        request_type: o.request_type.as_str().to_string(),
        category: o.category.as_ref().map(|c| c.as_str().to_string()),
        region: o
            .location
            .region_code
            .as_ref()
            .map(|r| r.as_str().to_string()),
        units,
        accepted_at: o.accepted_at.timestamp_millis(),
    }
}

/// A name for a node's index, unique among the nodes of one database.
fn new_node_name() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The node name kept beside the index (`NODE_FILE`), else a new one written there. A node
/// reports itself when a rebuild starts, before the index holds its bookmark: a restart
/// during the rebuild must come back under the same name, or the old name's report holds
/// the outbox rows for an hour.
fn node_name(dir: &std::path::Path) -> String {
    let file = dir.join(NODE_FILE);
    if let Ok(name) = std::fs::read_to_string(&file)
        && name.trim().len() == 16
        && name.trim().bytes().all(|b| b.is_ascii_hexdigit())
    {
        return name.trim().to_string();
    }
    let name = new_node_name();
    if let Err(e) = std::fs::write(&file, &name) {
        tracing::warn!(error = %e, "cannot keep the index node's name");
    }
    name
}

/// See `node_name`.
const NODE_FILE: &str = "node-name";

/// Moves the bookmark over the outbox rows just read (in any order): the cursor to the
/// highest id, ids skipped between watched as gaps, gaps that came removed.
fn advance(mark: &mut Bookmark, rows: &[(i64, TenantId, OrderId)], now_ms: i64) {
    let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    ids.dedup();
    mark.gaps.retain(|g| ids.binary_search(&g.0).is_err());
    let mut next = mark.cursor + 1;
    for &id in ids.iter().filter(|&&id| id > mark.cursor) {
        let skipped = id - next;
        if skipped > 0 && skipped as usize + mark.gaps.len() <= MAX_GAPS {
            mark.gaps.extend((next..id).map(|g| (g, now_ms)));
        }
        next = id + 1;
    }
    mark.cursor = mark.cursor.max(next - 1);
}

impl App {
    /// The order index, opened (rebuilt when new or built differently, else caught up) on
    /// first use.
    pub async fn order_index(&self) -> AppResult<Arc<OrderEngine>> {
        self.order_index
            .get_or_try_init(|| async {
                let engine = self.open_order_index().await?;
                Ok::<_, AppError>(Arc::new(engine))
            })
            .await
            .cloned()
    }

    async fn open_order_index(&self) -> AppResult<OrderEngine> {
        let (analyzer, dict) = self.analyzer().await?;
        let dir = self.config.data_dir.join("index").join("orders");
        let index = open_derived(&dir, || OrderIndex::open(&dir, analyzer.clone())).await?;
        let stored: Option<Bookmark> = index
            .payload()
            .map_err(internal)?
            .and_then(|p| serde_json::from_str(&p).ok());
        let why_not = match &stored {
            None => Some("no index yet".to_string()),
            Some(b) if b.format != INDEX_FORMAT => Some(format!("index format {}", b.format)),
            Some(b) if b.dict != dict => Some("the local dictionary changed".into()),
            Some(b) if b.node.is_empty() => Some("the index names no node".into()),
            Some(_) => None,
        };
        let current = stored.filter(|_| why_not.is_none());
        // A node the outbox's clean-up has left behind (or never heard of) starts afresh.
        let (heard, why_not) = match &current {
            Some(b) => match self.store.index_node_seen_at(&b.node).await? {
                Some(t) if t >= Utc::now() - NODE_SILENCE => (true, None),
                Some(t) => (false, Some(format!("node {} last reported at {t}", b.node))),
                None => (
                    false,
                    Some(format!("node {} is not in index_nodes", b.node)),
                ),
            },
            None => (false, why_not),
        };
        let mark = current.unwrap_or_else(|| Bookmark {
            format: INDEX_FORMAT,
            dict,
            node: node_name(&dir),
            cursor: 0,
            gaps: Vec::new(),
        });
        let engine = OrderEngine {
            index: Arc::new(index),
            cursor: std::sync::atomic::AtomicI64::new(mark.cursor),
            sync: tokio::sync::Mutex::new(Follow {
                mark,
                reported: None,
                pruned: None,
            }),
        };
        if heard {
            self.orders_catch_up_with(&engine).await?;
        } else {
            tracing::info!(
                reason = why_not.as_deref().unwrap_or("-"),
                "building the order search index"
            );
            self.rebuild_orders_with(&engine, &()).await?;
        }
        Ok(engine)
    }

    /// Indexes the outbox rows after this node's cursor (and missing ones that have come).
    /// Returns how many rows it read.
    pub async fn orders_catch_up(&self) -> AppResult<u64> {
        let engine = self.order_index().await?;
        self.orders_catch_up_with(&engine).await
    }

    /// How many outbox rows this node's index has not read yet.
    pub async fn order_index_behind(&self) -> AppResult<u64> {
        let engine = self.order_index().await?;
        let cursor = engine.cursor.load(std::sync::atomic::Ordering::Relaxed);
        Ok(self.store.search_outbox_behind(cursor).await?)
    }

    async fn orders_catch_up_with(&self, engine: &OrderEngine) -> AppResult<u64> {
        let mut follow = engine.sync.lock().await;
        self.catch_up_locked(engine, &mut follow).await
    }

    async fn catch_up_locked(&self, engine: &OrderEngine, f: &mut Follow) -> AppResult<u64> {
        let mut n = 0;
        loop {
            let now = Utc::now().timestamp_millis();
            f.mark.gaps.retain(|g| now - g.1 < GAP_WAIT_MS);
            let mut rows = self.store.search_outbox_after(f.mark.cursor, BATCH).await?;
            let more = rows.len() as u64 == BATCH;
            if !f.mark.gaps.is_empty() {
                let ids: Vec<i64> = f.mark.gaps.iter().map(|g| g.0).collect();
                rows.extend(self.store.search_outbox_rows(&ids).await?);
            }
            if rows.is_empty() {
                break;
            }
            advance(&mut f.mark, &rows, now);
            let mut by_tenant: BTreeMap<TenantId, Vec<OrderId>> = BTreeMap::new();
            for (_, t, id) in &rows {
                by_tenant.entry(*t).or_default().push(*id);
            }
            let mut docs = Vec::new();
            for (t, mut ids) in by_tenant {
                ids.sort();
                ids.dedup();
                let orders = self.store.orders_by_ids(t, &ids).await?;
                self.observe_orders(t, &orders).await;
                for s in &orders {
                    docs.push(doc_of(t, s));
                }
            }
            let payload = serde_json::to_string(&f.mark).map_err(internal)?;
            self.apply_orders(engine, docs, Some(payload)).await?;
            engine
                .cursor
                .store(f.mark.cursor, std::sync::atomic::Ordering::Relaxed);
            n += rows.len() as u64;
            if !more {
                break;
            }
        }
        self.report_position(f).await?;
        Ok(n)
    }

    /// Tells the other nodes how far this one got (when it moved, and as a heartbeat), and
    /// now and then removes the outbox rows every node has passed.
    async fn report_position(&self, f: &mut Follow) -> AppResult<()> {
        let low = f.mark.low();
        let due = f
            .reported
            .is_none_or(|(l, at)| l != low || at.elapsed() >= REPORT_EVERY);
        if due {
            self.store
                .index_node_report(&f.mark.node, low, Utc::now())
                .await?;
            f.reported = Some((low, std::time::Instant::now()));
        }
        if f.pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            self.store
                .prune_search_outbox(Utc::now() - NODE_SILENCE)
                .await?;
            f.pruned = Some(std::time::Instant::now());
        }
        Ok(())
    }

    async fn apply_orders(
        &self,
        engine: &OrderEngine,
        docs: Vec<OrderDoc>,
        payload: Option<String>,
    ) -> AppResult<()> {
        let index = engine.index.clone();
        // At background priority: no request waits for the index, and a second's changes
        // arrive at once (a thousand documents under load), whose segmentation and commit
        // otherwise took the cores from requests in a burst every second. The indexing
        // threads tantivy starts at the commit inherit the priority.
        crate::priority::in_background("jiesu-index", move || {
            index.apply(&docs, payload.as_deref())
        })
        .await
        .map_err(internal)?
        .map_err(internal)
    }

    /// Merges the segments of both indexes where bulk changes left many (each search looks
    /// its terms up in every segment). Run after bulk imports and rebuilds (`Compaction::Bulk`)
    /// and by the indexer every few minutes (`Compaction::Live`).
    pub async fn compact_indexes(&self, when: Compaction) -> AppResult<()> {
        let order_max = match when {
            Compaction::Bulk => 8,
            // The order index grows all the time by small commits, which tantivy's own merge
            // policy folds together by size in the background; merging all of it into one
            // segment every few minutes rewrote the whole index (in the soak: 40 s of both
            // cores and +500 MiB at 30,000 orders, every request slowed). Only an index the
            // policy has left far behind is merged here.
            Compaction::Live => 32,
        };
        let kb = self.kb().await?.index.clone();
        let orders = self.order_index().await?.index.clone();
        tokio::task::spawn_blocking(move || -> Result<(), jiesu_text::TantivyError> {
            if kb.compact()? {
                tracing::info!("knowledge index merged into one segment");
            }
            if orders.compact(order_max)? {
                tracing::info!("order index merged into one segment");
            }
            Ok(())
        })
        .await
        .map_err(internal)?
        .map_err(internal)
    }

    /// Rebuilds the order index from the orders table (`jiesu reindex`).
    pub async fn rebuild_orders(&self, progress: &dyn Progress) -> AppResult<u64> {
        let engine = self.order_index().await?;
        self.rebuild_orders_with(&engine, progress).await
    }

    async fn rebuild_orders_with(
        &self,
        engine: &OrderEngine,
        progress: &dyn Progress,
    ) -> AppResult<u64> {
        let mut f = engine.sync.lock().await;
        // Changes made from here on are read from the outbox after the scan: hold the rows
        // (a little before, for transactions still in flight) from the clean-up first.
        let start = (self.store.search_outbox_last().await? - REBUILD_OVERLAP).max(0);
        f.mark.cursor = start;
        f.mark.gaps.clear();
        f.reported = None;
        self.store
            .index_node_report(&f.mark.node, start + 1, Utc::now())
            .await?;
        // Without a payload until the end: a rebuild cut short starts again.
        engine.index.clear(None).map_err(internal)?;
        progress.total(self.store.order_total().await?);
        let mut after = 0;
        loop {
            let page = self.store.orders_after(after, BATCH).await?;
            let Some((_, last)) = page.last() else { break };
            after = last.id.0;
            let docs: Vec<OrderDoc> = page.iter().map(|(t, s)| doc_of(*t, s)).collect();
            let n = docs.len() as u64;
            self.apply_orders(engine, docs, None).await?;
            progress.advance(n);
        }
        // The catch-up commits the bookmark (at least an empty commit carrying it).
        if self.catch_up_locked(engine, &mut f).await? == 0 {
            let payload = serde_json::to_string(&f.mark).map_err(internal)?;
            self.apply_orders(engine, Vec::new(), Some(payload)).await?;
        }
        engine
            .cursor
            .store(f.mark.cursor, std::sync::atomic::Ordering::Relaxed);
        Ok(engine.index.len())
    }

    /// Full-text search over the orders `p` may see.
    pub async fn search_orders(
        &self,
        p: &Principal,
        s: OrderSearch,
    ) -> AppResult<(Vec<OrderFound>, usize)> {
        let text = s.text.trim().to_string();
        if text.is_empty() {
            return Err(AppError::invalid("q", "请输入要搜索的内容"));
        }
        if text.chars().count() > 2_000 {
            return Err(AppError::invalid("q", "搜索内容超过 2000 字"));
        }
        let org = self.org(p.tenant).await?;
        let units = match self.scope(p, &org) {
            Scope::All => None,
            Scope::Units(u) => Some(u.iter().map(|x| x.0 as u64).collect()),
        };
        let q = OrderQuery {
            tenant: p.tenant.0 as u64,
            text,
            limit: s.limit.clamp(1, 100),
            offset: s.offset.min(10_000),
            statuses: s.statuses,
            request_types: s.request_types,
            category: s.category,
            region: s.region,
            units,
            accepted_from: s.accepted_from.map(|t| t.timestamp_millis()),
            accepted_to: s.accepted_to.map(|t| t.timestamp_millis()),
            exclude: None,
        };
        self.run_order_query(p, q).await
    }

    /// Earlier orders about the same issue as order `id`, best first, with their replies.
    pub async fn similar_orders(
        &self,
        p: &Principal,
        id: OrderId,
        limit: usize,
    ) -> AppResult<Vec<OrderFound>> {
        let this = self.order_summary(p, id).await?;
        let o = &this.stored.order;
        let text: String = format!("{} {}", o.title, o.content)
            .chars()
            .take(300)
            .collect();
        let org = self.org(p.tenant).await?;
        let units = match self.scope(p, &org) {
            Scope::All => None,
            Scope::Units(u) => Some(u.iter().map(|x| x.0 as u64).collect()),
        };
        let q = OrderQuery {
            tenant: p.tenant.0 as u64,
            text,
            limit: limit.clamp(1, 20),
            units,
            accepted_to: Some(o.accepted_at.timestamp_millis() + 1),
            exclude: Some(id.0 as u64),
            ..OrderQuery::default()
        };
        Ok(self.run_order_query(p, q).await?.0)
    }

    async fn run_order_query(
        &self,
        p: &Principal,
        q: OrderQuery,
    ) -> AppResult<(Vec<OrderFound>, usize)> {
        let engine = self.order_index().await?;
        let index = engine.index.clone();
        let hits = tokio::task::spawn_blocking(move || index.search(&q))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        let ids: Vec<OrderId> = hits.items.iter().map(|h| OrderId(h.id as i64)).collect();
        let mut stored: BTreeMap<i64, StoredOrder> = self
            .store
            .orders_by_ids(p.tenant, &ids)
            .await?
            .into_iter()
            .map(|s| (s.id.0, s))
            .collect();
        let org = self.org(p.tenant).await?;
        let mut out = Vec::with_capacity(hits.items.len());
        for h in &hits.items {
            // The index's scope filter decided; the stored order confirms it.
            let Some(s) = stored.remove(&(h.id as i64)) else {
                continue;
            };
            if let Some(view) = self.view_if_visible(p, &org, s) {
                out.push(OrderFound {
                    // From the content as this viewer sees it.
                    highlight: hits.highlight(&view.stored.order.content),
                    view,
                    score: h.score,
                });
            }
        }
        Ok((out, hits.total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(cursor: i64, gaps: &[(i64, i64)]) -> Bookmark {
        Bookmark {
            format: INDEX_FORMAT,
            dict: String::new(),
            node: "n".into(),
            cursor,
            gaps: gaps.to_vec(),
        }
    }

    fn rows(ids: &[i64]) -> Vec<(i64, TenantId, OrderId)> {
        ids.iter().map(|&i| (i, TenantId(1), OrderId(i))).collect()
    }

    #[test]
    fn the_cursor_moves_past_what_was_read_and_skipped_ids_are_watched() {
        let mut m = mark(10, &[]);
        advance(&mut m, &rows(&[11, 12, 15, 13]), 1_000);
        assert_eq!(m.cursor, 15);
        assert_eq!(m.gaps, vec![(14, 1_000)]);
        assert_eq!(m.low(), 14);
        // The late transaction commits: its id leaves the gaps; a new skip is watched.
        advance(&mut m, &rows(&[14, 17]), 2_000);
        assert_eq!(m.cursor, 17);
        assert_eq!(m.gaps, vec![(16, 2_000)]);
        // Nothing read: nothing moves.
        advance(&mut m, &rows(&[]), 3_000);
        assert_eq!((m.cursor, m.low()), (17, 16));
        let mut done = mark(17, &[]);
        advance(&mut done, &rows(&[]), 3_000);
        assert_eq!(done.low(), 18);
    }

    #[test]
    fn a_jump_of_ids_too_large_for_transactions_in_flight_is_not_watched() {
        let mut m = mark(0, &[]);
        advance(&mut m, &rows(&[1_000_001]), 1);
        assert_eq!(m.cursor, 1_000_001);
        assert!(m.gaps.is_empty());
    }
}
