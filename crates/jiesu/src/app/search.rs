//! Order search: full text over every order (title, content, address, replies) with the list
//! filters and the viewer's scope, and "similar orders" for an order.
//!
//! The index (`<data_dir>/index/orders`) follows the `search_outbox` table, which every order
//! write fills in its own transaction; a row is removed only after the index committed the
//! order, so a crash in between re-indexes it (idempotently) instead of losing it.

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
const INDEX_FORMAT: u32 = 1;
const BATCH: u64 = 2_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Bookmark {
    format: u32,
    dict: String,
}

pub struct OrderEngine {
    pub index: Arc<OrderIndex>,
    payload: String,
    sync: tokio::sync::Mutex<()>,
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
        let want = Bookmark {
            format: INDEX_FORMAT,
            dict,
        };
        let payload = serde_json::to_string(&want).map_err(internal)?;
        let stored: Option<Bookmark> = index
            .payload()
            .map_err(internal)?
            .and_then(|p| serde_json::from_str(&p).ok());
        let engine = OrderEngine {
            index: Arc::new(index),
            payload,
            sync: tokio::sync::Mutex::new(()),
        };
        if stored.as_ref() != Some(&want) {
            tracing::info!("building the order search index");
            self.rebuild_orders_with(&engine, &()).await?;
        } else {
            self.orders_catch_up_with(&engine).await?;
        }
        Ok(engine)
    }

    /// Indexes the orders in the outbox and clears their rows. Returns how many.
    pub async fn orders_catch_up(&self) -> AppResult<u64> {
        let engine = self.order_index().await?;
        self.orders_catch_up_with(&engine).await
    }

    async fn orders_catch_up_with(&self, engine: &OrderEngine) -> AppResult<u64> {
        let _guard = engine.sync.lock().await;
        let mut n = 0;
        loop {
            let rows = self.store.search_outbox(BATCH).await?;
            if rows.is_empty() {
                break;
            }
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
            self.apply_orders(engine, docs).await?;
            let done: Vec<i64> = rows.iter().map(|(id, _, _)| *id).collect();
            self.store.search_outbox_done(&done).await?;
            n += rows.len() as u64;
            if (rows.len() as u64) < BATCH {
                break;
            }
        }
        Ok(n)
    }

    async fn apply_orders(&self, engine: &OrderEngine, docs: Vec<OrderDoc>) -> AppResult<()> {
        let index = engine.index.clone();
        let payload = engine.payload.clone();
        tokio::task::spawn_blocking(move || index.apply(&docs, Some(&payload)))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    /// Merges the segments of both indexes where bulk changes left many (each search looks
    /// its terms up in every segment). Run by the indexer every few minutes and after bulk
    /// imports and rebuilds.
    pub async fn compact_indexes(&self) -> AppResult<()> {
        let kb = self.kb().await?.index.clone();
        let orders = self.order_index().await?.index.clone();
        tokio::task::spawn_blocking(move || -> Result<(), jiesu_text::TantivyError> {
            if kb.compact()? {
                tracing::info!("knowledge index merged into one segment");
            }
            if orders.compact()? {
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
        {
            let _guard = engine.sync.lock().await;
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
                self.apply_orders(engine, docs).await?;
                progress.advance(n);
            }
        }
        // Changes made meanwhile are in the outbox.
        self.orders_catch_up_with(engine).await?;
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
        for h in hits.items {
            // The index's scope filter decided; the stored order confirms it.
            let Some(s) = stored.remove(&(h.id as i64)) else {
                continue;
            };
            if let Some(view) = self.view_if_visible(p, &org, s) {
                out.push(OrderFound {
                    view,
                    score: h.score,
                    highlight: h.highlight,
                });
            }
        }
        Ok((out, hits.total))
    }
}
