//! Insight from the orders (未诉先办): repeats (重复诉求) found when an order is accepted,
//! near-duplicates of an open order, hot spots (热点: one issue at one place, many orders),
//! spike warnings (预警: a category in a district far above its usual level) and seasonal
//! trends (this year against last year).
//!
//! Hot spots are derived data: per tenant, an in-memory clustering of the orders accepted in
//! the window, built from the orders table on first use (and at start), then fed with new
//! orders by the order indexer as it drains the search outbox, so every accepted order
//! reaches it even across a crash (the rebuild reads the table).

use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, Utc};
use jiesu_core::order::{NewOrder, OrderRef, RepeatBasis, RepeatLink, Status};
use jiesu_core::role::Role;
use jiesu_core::stats::Dim;
use jiesu_core::{OrderId, TenantId};
use jiesu_store::insight::{OrderText, OrderWords};
use jiesu_store::orders::{Scope, StoredOrder};
use jiesu_store::stats::StatGroup;
use jiesu_text::Analyzer;
use jiesu_text::hotspots::{self, Hotspot, Hotspots, Incoming, Rank, ReadRequest};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tenant setting that holds [`InsightSettings`].
const SETTINGS_KEY: &str = "insight";
const SETTINGS_TTL: Duration = Duration::from_secs(5);
/// Orders read per page when building the hot spots.
const PAGE: u64 = 5_000;
/// The growth period of a hot spot: the last seven days against the seven before.
const RECENT_MS: i64 = 7 * 86_400_000;
const DAY_MS: i64 = 86_400_000;
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
/// Days before a day that make its usual level.
const BASELINE_DAYS: i64 = 28;
/// Earlier orders of one caller or address compared with a new one, at most.
const REPEAT_CANDIDATES: u64 = 30;
const REPEAT_LINKS: usize = 5;
/// The most requests the hot spots keep, the newest: a window in days holds ~130,000 requests
/// at Ordos's volume but ~3.5 million at Beijing's, which a server should not keep in memory
/// (~400 bytes each). At that volume the hot spots cover the last days of the window.
const HOTSPOT_MAX_REQUESTS: usize = 200_000;

/// Per-tenant settings of the insight features (admin).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsightSettings {
    /// An order repeats earlier orders of its caller or address accepted within these days.
    pub repeat_window_days: u32,
    /// How alike (0–1, the share of words in common) two requests must read to be one issue.
    pub repeat_min_similarity: f32,
    /// Hot spots are found among the orders of these last days.
    pub hotspot_window_days: u32,
    /// A category in a district warns only from this many orders a day.
    pub warning_min_count: u32,
}

impl Default for InsightSettings {
    fn default() -> Self {
        InsightSettings {
            repeat_window_days: 30,
            repeat_min_similarity: 0.3,
            hotspot_window_days: 60,
            warning_min_count: 5,
        }
    }
}

impl InsightSettings {
    fn check(&self) -> AppResult<()> {
        if !(1..=365).contains(&self.repeat_window_days) {
            return Err(AppError::invalid(
                "repeat_window_days",
                "重复诉求时间窗须在 1 至 365 天之间",
            ));
        }
        if !(0.0..=1.0).contains(&self.repeat_min_similarity) {
            return Err(AppError::invalid(
                "repeat_min_similarity",
                "相似度阈值须在 0 至 1 之间",
            ));
        }
        if !(7..=365).contains(&self.hotspot_window_days) {
            return Err(AppError::invalid(
                "hotspot_window_days",
                "热点时间窗须在 7 至 365 天之间",
            ));
        }
        if !(1..=10_000).contains(&self.warning_min_count) {
            return Err(AppError::invalid(
                "warning_min_count",
                "预警最少件数须在 1 至 10000 之间",
            ));
        }
        Ok(())
    }
}

/// The hot spots of one tenant: being built (new orders wait) or ready.
enum Spots {
    Building {
        pending: Vec<OrderText>,
    },
    Ready {
        spots: Box<Hotspots>,
        window_ms: i64,
    },
}

#[derive(Default)]
pub struct InsightState {
    settings: Mutex<HashMap<TenantId, (Instant, InsightSettings)>>,
    spots: Mutex<HashMap<TenantId, Arc<Mutex<Spots>>>>,
    words: WordsCache,
    /// Readings of new orders made for repeat detection, by the hash of what they were read
    /// from, until the hot spots take them (see `observe_orders`): each text is then
    /// segmented once. Kept before the order is stored, so they are there when the order
    /// indexer hands the stored order on.
    readings: Mutex<HashMap<u64, hotspots::Reading>>,
    baselines: super::cache::TenantCache<Baseline>,
    /// Never moves: a baseline is only ever a few seconds old (see `Baseline`).
    baselines_generation: std::sync::atomic::AtomicU64,
}

/// A category and a district (`code|code` in the aggregates' issue dimension).
type IssueKey = (String, String);

fn issue_key(k: &str) -> Option<IssueKey> {
    let (c, r) = k.split_once('|')?;
    Some((c.to_string(), r.to_string()))
}

/// What today's counts per issue are compared with: the accepted orders per issue over the
/// days before `day` and around the same date last year. Past days hardly change as the day
/// goes on, so the cockpit (which asks every few seconds) reads them again only when the
/// cached one is older than the reference data's time to live; today's counts it always reads.
struct Baseline {
    day: i64,
    before: HashMap<IssueKey, i64>,
    last_year: HashMap<IssueKey, i64>,
}

/// Word sets of recent orders for repeat detection: a new request is compared with up to
/// twice `REPEAT_CANDIDATES` earlier ones, and segmenting each of them again for every new
/// request cost more than everything else its acceptance does. Keyed by order with a hash of
/// its text (an edited text is segmented again) and the order's version when it was last
/// seen: while the version stays, so does the text, and it need not even be read (a state
/// is 1–2 KB of JSON). Two generations of at most `WORDS_CACHE` orders each bound the memory
/// while keeping the recently used.
#[derive(Default)]
struct WordsCache {
    generations: Mutex<[WordsGeneration; 2]>,
}

/// Word sets by order, each with the hash of the text it was made from and the order's
/// version then.
type WordsGeneration = HashMap<OrderId, (u64, u32, Arc<hotspots::WordSet>)>;

const WORDS_CACHE: usize = 20_000;

/// The repeats found for a new request, and the word set of its text (with the text's hash)
/// where it was made.
#[derive(Default)]
pub(crate) struct Repeats {
    pub links: Vec<RepeatLink>,
    pub words: Option<NewWords>,
    /// The word set as the order stores it.
    pub stored: Option<OrderWords>,
}

/// The basis of the word sets this server makes: the dictionary's hash and the rules
/// (`WORDS_FORMAT`). Stored sets of another basis are made again from their texts.
fn words_basis(dict: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(hotspots::WORDS_FORMAT.to_le_bytes());
    h.update(dict.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    i64::from_le_bytes(first)
}

pub(crate) struct NewWords(u64, Arc<hotspots::WordSet>);

/// Readings kept at most for the hot spots: they take them within moments, unless a tenant's
/// hot spots are not being kept or the order was not stored (then the readings are dropped
/// once this many wait).
const READINGS: usize = 4_096;

/// The hash of what a reading is made from.
fn reading_fingerprint(address: &str, title: &str, content: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (address, title, content).hash(&mut h);
    h.finish()
}

impl WordsCache {
    fn fingerprint(title: &str, content: &str) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        (title, content).hash(&mut h);
        h.finish()
    }

    /// Keeps a word set made elsewhere for `id`'s text of hash `fp` at `version`.
    fn keep_made(&self, id: OrderId, fp: u64, version: u32, w: Arc<hotspots::WordSet>) {
        if let Ok(mut g) = self.generations.lock() {
            Self::keep(&mut g, id, (fp, version, w));
        }
    }

    /// The kept word set of `id` at `version`, if the order has not changed since.
    fn known(&self, id: OrderId, version: u32) -> Option<Arc<hotspots::WordSet>> {
        let mut g = self.generations.lock().ok()?;
        if let Some((_, v, w)) = g[0].get(&id) {
            return (*v == version).then(|| w.clone());
        }
        let entry = g[1].get(&id).filter(|(_, v, _)| *v == version).cloned()?;
        let w = entry.2.clone();
        Self::keep(&mut g, id, entry);
        Some(w)
    }

    /// The word set of `id`'s text at `version`: kept where the text is the one it was made
    /// from, else made.
    fn words(
        &self,
        analyzer: &Analyzer,
        id: OrderId,
        version: u32,
        title: &str,
        content: &str,
    ) -> Arc<hotspots::WordSet> {
        let fp = Self::fingerprint(title, content);
        if let Ok(mut g) = self.generations.lock() {
            let kept = g
                .iter()
                .find_map(|kept| kept.get(&id).filter(|(f, _, _)| *f == fp))
                .map(|(_, _, w)| w.clone());
            if let Some(w) = kept {
                Self::keep(&mut g, id, (fp, version, w.clone()));
                return w;
            }
        }
        let w = Arc::new(hotspots::words_of(analyzer, title, content));
        if let Ok(mut g) = self.generations.lock() {
            Self::keep(&mut g, id, (fp, version, w.clone()));
        }
        w
    }

    fn keep(g: &mut [WordsGeneration; 2], id: OrderId, entry: (u64, u32, Arc<hotspots::WordSet>)) {
        if g[0].len() >= WORDS_CACHE && !g[0].contains_key(&id) {
            g[1] = std::mem::take(&mut g[0]);
        }
        g[0].insert(id, entry);
    }
}

/// A hot spot with what the database adds.
#[derive(Debug, Clone)]
pub struct HotspotView {
    pub spot: Hotspot,
    pub title: String,
    /// Members not closed.
    pub open: usize,
    /// The most frequent category and region among the members.
    pub category: Option<(String, String)>,
    pub region: Option<(String, String)>,
}

pub struct HotspotList {
    pub ready: bool,
    pub window_days: u32,
    pub orders: usize,
    pub items: Vec<HotspotView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub category: (String, String),
    pub region: (String, String),
    pub count: i64,
    pub baseline: f64,
    pub ratio: f64,
    /// `red` or `yellow`.
    pub level: &'static str,
    pub last_year: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCount {
    pub month: String,
    pub count: i64,
    pub last_year: i64,
}

pub struct Duplicate {
    pub view: super::orders::OrderView,
    pub similarity: f32,
}

pub(crate) fn incoming(t: &OrderText) -> Incoming<'_> {
    Incoming {
        id: t.id,
        time: t.accepted_at,
        title: &t.title,
        content: &t.content,
        address: &t.address,
        region: t.region_code.as_deref(),
        caller: t.phone.as_deref(),
    }
}

pub(crate) fn text_of(s: &StoredOrder) -> OrderText {
    let o = &s.order;
    OrderText {
        id: s.id.0,
        accepted_at: o.accepted_at.timestamp_millis(),
        title: o.title.clone(),
        content: o.content.clone(),
        address: o.location.address.clone().unwrap_or_default(),
        region_code: o
            .location
            .region_code
            .as_ref()
            .map(|r| r.as_str().to_string()),
        category_code: o.category.as_ref().map(|c| c.as_str().to_string()),
        phone: o.citizen.phone.as_ref().map(|p| p.as_str().to_string()),
    }
}

fn is_open(status: Status) -> bool {
    !matches!(
        status,
        Status::Closed | Status::Withdrawn | Status::Invalid | Status::Merged
    )
}

fn china_day(ms: i64) -> i64 {
    (ms + CHINA_OFFSET_MS).div_euclid(DAY_MS)
}

fn day_start_ms(day: i64) -> i64 {
    day * DAY_MS - CHINA_OFFSET_MS
}

impl App {
    fn require_insight(&self, p: &Principal, org: &jiesu_core::org::OrgTree) -> AppResult<()> {
        p.require_any(
            &[
                Role::Dispatcher,
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
            ],
            "查看研判分析",
        )?;
        match self.scope(p, org) {
            Scope::All => Ok(()),
            Scope::Units(_) => Err(AppError::Forbidden(
                "研判分析覆盖全市工单，仅市级中心人员可查看".into(),
            )),
        }
    }

    pub async fn insight_settings(&self, tenant: TenantId) -> AppResult<InsightSettings> {
        if let Ok(g) = self.insight.settings.lock()
            && let Some((at, s)) = g.get(&tenant)
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(*s);
        }
        let s = match self.store.setting(tenant, SETTINGS_KEY).await? {
            Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable insight settings: defaults used");
                InsightSettings::default()
            }),
            None => InsightSettings::default(),
        };
        if let Ok(mut g) = self.insight.settings.lock() {
            g.insert(tenant, (Instant::now(), s));
        }
        Ok(s)
    }

    pub async fn settings_for(&self, p: &Principal) -> AppResult<InsightSettings> {
        p.require_any(
            &[
                Role::Dispatcher,
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
            ],
            "查看研判设置",
        )?;
        self.insight_settings(p.tenant).await
    }

    pub async fn put_insight_settings(
        &self,
        cap: &super::AdminCap<'_>,
        s: InsightSettings,
    ) -> AppResult<InsightSettings> {
        s.check()?;
        let tenant = cap.0.tenant;
        let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store.put_setting(tenant, SETTINGS_KEY, &json).await?;
        if let Ok(mut g) = self.insight.settings.lock() {
            g.remove(&tenant);
        }
        self.audit(
            cap,
            "insight_settings.update",
            "insight_settings".into(),
            json,
        )
        .await?;
        // A new window: the hot spots are rebuilt for it.
        if let Ok(mut g) = self.insight.spots.lock() {
            g.remove(&tenant);
        }
        Ok(s)
    }

    /// Earlier orders the new request repeats: from its caller or its address, within the
    /// window, reading alike. Never fails the acceptance: problems are logged.
    pub(crate) async fn find_repeats(
        &self,
        tenant: TenantId,
        new: &NewOrder,
        now: DateTime<Utc>,
    ) -> Repeats {
        match self.repeats_of(tenant, new, now).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "looking for repeats failed");
                Repeats::default()
            }
        }
    }

    /// Keeps the word set a new order was compared with under its id, once it has one: the
    /// next order from its caller or address compares with it without segmenting it again.
    pub(crate) fn keep_words(&self, id: OrderId, version: u32, words: Option<NewWords>) {
        if let Some(NewWords(fp, w)) = words {
            self.insight.words.keep_made(id, fp, version, w);
        }
    }

    async fn repeats_of(
        &self,
        tenant: TenantId,
        new: &NewOrder,
        now: DateTime<Utc>,
    ) -> AppResult<Repeats> {
        let phone = new.citizen.phone.as_ref().map(|p| p.as_str().to_string());
        let address = new
            .location
            .address
            .as_deref()
            .and_then(jiesu_core::values::address_key);
        if phone.is_none() && address.is_none() {
            return Ok(Repeats::default());
        }
        // The new order's words are made whether or not it repeats anything: they are stored
        // with it, for the orders that will be compared with it.
        let (analyzer, dict) = self.analyzer().await?;
        let basis = words_basis(&dict);
        // Read as the hot spots read it (places too), to hand on to them.
        let address_text = new.location.address.as_deref().unwrap_or_default();
        let reading = hotspots::Reading::new(&analyzer, address_text, &new.title, &new.content);
        let words = Arc::new(reading.words().clone());
        let fp = WordsCache::fingerprint(&new.title, &new.content);
        if let Ok(mut g) = self.insight.readings.lock() {
            if g.len() >= READINGS {
                g.clear();
            }
            g.insert(
                reading_fingerprint(address_text, &new.title, &new.content),
                reading,
            );
        }
        let stored = Some(OrderWords {
            basis,
            words: words.to_bytes(),
        });
        let s = self.insight_settings(tenant).await?;
        let since = now - ChronoDuration::days(i64::from(s.repeat_window_days));
        let candidates: Vec<_> = self
            .store
            .repeat_candidates(
                tenant,
                phone.as_deref(),
                address.as_deref(),
                since.timestamp_millis(),
                REPEAT_CANDIDATES,
            )
            .await?
            .into_iter()
            .filter(|(o, _, _)| o.status != Status::Invalid)
            .collect();
        // Each candidate's words as stored with it; for those stored without (imported, from
        // before, made with another dictionary), kept from before or made from their texts,
        // read in one statement.
        let mut theirs: HashMap<OrderId, Arc<hotspots::WordSet>> = HashMap::new();
        let mut unknown = Vec::new();
        for (o, _, _) in &candidates {
            let kept = o
                .words
                .as_ref()
                .filter(|w| w.basis == basis)
                .and_then(|w| hotspots::WordSet::from_bytes(&w.words))
                .map(Arc::new)
                .or_else(|| self.insight.words.known(o.id, o.version));
            match kept {
                Some(w) => {
                    theirs.insert(o.id, w);
                }
                None => unknown.push(o.id),
            }
        }
        if !unknown.is_empty() {
            let contents = self.store.repeat_contents(tenant, &unknown).await?;
            for (o, _, _) in &candidates {
                if let Some(content) = contents.get(&o.id) {
                    let w =
                        (self.insight.words).words(&analyzer, o.id, o.version, &o.title, content);
                    theirs.insert(o.id, w);
                }
            }
        }
        let mut links: Vec<RepeatLink> = candidates
            .into_iter()
            .filter_map(|(o, by_phone, _)| {
                let theirs = theirs.get(&o.id)?;
                let sim = hotspots::cosine(&words, theirs);
                let same_category = new.category.is_some() && new.category == o.category;
                let alike = sim >= s.repeat_min_similarity
                    || (same_category && sim >= s.repeat_min_similarity / 2.0);
                alike.then(|| RepeatLink {
                    order: OrderRef {
                        id: o.id,
                        number: o.number,
                    },
                    title: o.title,
                    accepted_at: o.accepted_at,
                    basis: if by_phone {
                        RepeatBasis::Caller
                    } else {
                        RepeatBasis::Address
                    },
                    similarity: (sim * 100.0).round() / 100.0,
                })
            })
            .collect();
        links.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(b.order.id.0.cmp(&a.order.id.0))
        });
        links.truncate(REPEAT_LINKS);
        Ok(Repeats {
            links,
            words: Some(NewWords(fp, words)),
            stored,
        })
    }

    /// The tenant's hot spots, building them on first use.
    fn spots_of(self: &Arc<Self>, tenant: TenantId) -> Arc<Mutex<Spots>> {
        let (spots, new) = match self.insight.spots.lock() {
            Ok(mut g) => match g.get(&tenant) {
                Some(s) => (s.clone(), false),
                None => {
                    let s = Arc::new(Mutex::new(Spots::Building {
                        pending: Vec::new(),
                    }));
                    g.insert(tenant, s.clone());
                    (s, true)
                }
            },
            Err(_) => (
                Arc::new(Mutex::new(Spots::Building {
                    pending: Vec::new(),
                })),
                false,
            ),
        };
        if new {
            let app = self.clone();
            let handle = spots.clone();
            tokio::spawn(async move {
                if let Err(e) = app.build_spots(tenant, handle).await {
                    tracing::warn!(tenant = tenant.0, error = %e, "building hot spots failed");
                    // Try again on the next use.
                    if let Ok(mut g) = app.insight.spots.lock() {
                        g.remove(&tenant);
                    }
                }
            });
        }
        spots
    }

    /// Reads the window's orders from the table and clusters them; orders that arrived
    /// meanwhile are added at the end.
    async fn build_spots(&self, tenant: TenantId, handle: Arc<Mutex<Spots>>) -> AppResult<()> {
        let started = Instant::now();
        let s = self.insight_settings(tenant).await?;
        let (analyzer, _) = self.analyzer().await?;
        let window_ms = i64::from(s.hotspot_window_days) * DAY_MS;
        let now = Utc::now().timestamp_millis();
        // The window's newest requests, newest first, up to the bound.
        let mut rows: Vec<OrderText> = Vec::new();
        let mut before = (i64::MAX, i64::MAX);
        while rows.len() < HOTSPOT_MAX_REQUESTS {
            let page = self
                .store
                .order_texts(tenant, now - window_ms, before, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            before = (last.accepted_at, last.id);
            let n = page.len();
            rows.extend(page);
            if (n as u64) < PAGE {
                break;
            }
        }
        newest(&mut rows, HOTSPOT_MAX_REQUESTS);
        // No request waits for this (the hot spots are shown once ready): at background
        // priority.
        let spots = crate::priority::paced_in_background("jiesu-hotspots", move || {
            let mut h = Hotspots::new(analyzer, hotspots::Settings::default());
            let incoming: Vec<Incoming<'_>> = rows.iter().map(incoming).collect();
            h.add(&incoming);
            h
        })
        .await
        .map_err(AppError::Internal)?;
        let mut g = handle
            .lock()
            .map_err(|_| AppError::Internal("hot spots poisoned".into()))?;
        let pending = match &mut *g {
            Spots::Building { pending } => std::mem::take(pending),
            Spots::Ready { .. } => Vec::new(),
        };
        let mut spots = spots;
        let mut pending = pending;
        pending.sort_by_key(|r| (r.accepted_at, r.id));
        let fresh: Vec<Incoming<'_>> = pending.iter().map(incoming).collect();
        spots.add(&fresh);
        spots.keep_newest(HOTSPOT_MAX_REQUESTS);
        tracing::info!(
            tenant = tenant.0,
            orders = spots.len(),
            ms = started.elapsed().as_millis() as u64,
            "hot spots built"
        );
        *g = Spots::Ready {
            spots: Box::new(spots),
            window_ms,
        };
        Ok(())
    }

    /// New or changed orders from the order indexer: those not yet clustered join the hot
    /// spots of their tenant (where they are being kept). The clustering (segmenting every
    /// text) runs on a blocking thread, not on the threads that serve requests.
    pub(crate) async fn observe_orders(&self, tenant: TenantId, orders: &[StoredOrder]) {
        let handle = match self.insight.spots.lock() {
            Ok(g) => g.get(&tenant).cloned(),
            Err(_) => None,
        };
        let Some(handle) = handle else { return };
        // With the reading made for repeat detection where there is one for the same text.
        let mut texts: Vec<(OrderText, Option<hotspots::Reading>)> = {
            let mut readings = self.insight.readings.lock().ok();
            orders
                .iter()
                .map(|o| {
                    let t = text_of(o);
                    let fp = reading_fingerprint(&t.address, &t.title, &t.content);
                    let reading = readings.as_mut().and_then(|g| g.remove(&fp));
                    (t, reading)
                })
                .collect()
        };
        let work = tokio::task::spawn_blocking(move || {
            // The texts are segmented between two short holds of the lock, so that readers
            // of the hot spots (on the request threads) do not wait for a batch's reading.
            let (analyzer, from) = {
                let Ok(mut g) = handle.lock() else { return };
                match &mut *g {
                    Spots::Building { pending } => {
                        pending.extend(texts.into_iter().map(|(t, _)| t));
                        return;
                    }
                    Spots::Ready { spots, window_ms } => {
                        let from = Utc::now().timestamp_millis() - *window_ms;
                        texts.retain(|(t, _)| !spots.contains(t.id) && t.accepted_at >= from);
                        (spots.analyzer().clone(), from)
                    }
                }
            };
            texts.sort_by_key(|(t, _)| (t.accepted_at, t.id));
            let reads: Vec<ReadRequest<'_>> = texts
                .iter_mut()
                .map(|(t, reading)| match reading.take() {
                    Some(r) => ReadRequest::with(incoming(t), r),
                    None => ReadRequest::new(&analyzer, incoming(t)),
                })
                .collect();
            let Ok(mut g) = handle.lock() else { return };
            // A handle once ready stays ready (a rebuild makes a new one).
            if let Spots::Ready { spots, .. } = &mut *g {
                spots.add_read(reads);
                spots.expire(from);
                spots.keep_newest(HOTSPOT_MAX_REQUESTS);
            }
        });
        if let Err(e) = work.await {
            tracing::warn!(error = %e, "adding orders to the hot spots failed");
        }
    }

    /// Starts building every tenant's hot spots (at start, so they are ready when looked at).
    pub async fn warm_hotspots(self: &Arc<Self>) -> AppResult<()> {
        for t in self.store.tenants().await? {
            self.spots_of(t.id);
        }
        Ok(())
    }

    /// Runs `f` on the tenant's hot spots once ready; `None` while they are being built.
    fn with_spots<T>(
        self: &Arc<Self>,
        tenant: TenantId,
        f: impl FnOnce(&Hotspots) -> T,
    ) -> AppResult<Option<T>> {
        let handle = self.spots_of(tenant);
        let mut g = handle
            .lock()
            .map_err(|_| AppError::Internal("hot spots poisoned".into()))?;
        match &mut *g {
            Spots::Building { .. } => Ok(None),
            Spots::Ready { spots, window_ms } => {
                spots.expire(Utc::now().timestamp_millis() - *window_ms);
                Ok(Some(f(spots)))
            }
        }
    }

    /// Hot spots, ranked.
    pub async fn hotspots(
        self: &Arc<Self>,
        p: &Principal,
        rank: Rank,
        min_size: usize,
        limit: usize,
    ) -> AppResult<HotspotList> {
        let org = self.org(p.tenant).await?;
        self.require_insight(p, &org)?;
        let s = self.insight_settings(p.tenant).await?;
        let now = Utc::now().timestamp_millis();
        let found = self.with_spots(p.tenant, |h| {
            (
                h.len(),
                h.top(min_size.max(2), limit.clamp(1, 200), rank, now, RECENT_MS),
            )
        })?;
        let Some((orders, spots)) = found else {
            return Ok(HotspotList {
                ready: false,
                window_days: s.hotspot_window_days,
                orders: 0,
                items: Vec::new(),
            });
        };
        let items = self.describe(p.tenant, spots).await?;
        Ok(HotspotList {
            ready: true,
            window_days: s.hotspot_window_days,
            orders,
            items,
        })
    }

    /// One hot spot with its orders (newest first).
    pub async fn hotspot(
        self: &Arc<Self>,
        p: &Principal,
        key: u64,
    ) -> AppResult<(HotspotView, Vec<super::orders::OrderView>)> {
        let org = self.org(p.tenant).await?;
        self.require_insight(p, &org)?;
        let now = Utc::now().timestamp_millis();
        let spot = self
            .with_spots(p.tenant, |h| h.hotspot(key, now, RECENT_MS))?
            .flatten()
            .ok_or(AppError::NotFound("热点"))?;
        let ids: Vec<OrderId> = spot.ids.iter().map(|i| OrderId(*i)).collect();
        let mut orders = self.store.orders_by_ids(p.tenant, &ids).await?;
        orders.sort_by(|a, b| {
            b.order
                .accepted_at
                .cmp(&a.order.accepted_at)
                .then(b.id.0.cmp(&a.id.0))
        });
        let view = self
            .describe(p.tenant, vec![spot])
            .await?
            .pop()
            .ok_or(AppError::NotFound("热点"))?;
        let orders = orders
            .into_iter()
            .filter_map(|o| self.view_if_visible(p, &org, o))
            .collect();
        Ok((view, orders))
    }

    async fn describe(&self, tenant: TenantId, spots: Vec<Hotspot>) -> AppResult<Vec<HotspotView>> {
        let refs = self.ref_data(tenant).await?;
        let ids: Vec<OrderId> = spots
            .iter()
            .flat_map(|s| s.ids.iter().map(|i| OrderId(*i)))
            .collect();
        let mut by_id: HashMap<i64, StoredOrder> = HashMap::new();
        for chunk in ids.chunks(1_000) {
            for o in self.store.orders_by_ids(tenant, chunk).await? {
                by_id.insert(o.id.0, o);
            }
        }
        let most = |counts: HashMap<String, usize>| {
            counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(k, _)| k)
        };
        Ok(spots
            .into_iter()
            .map(|spot| {
                let members: Vec<&StoredOrder> =
                    spot.ids.iter().filter_map(|i| by_id.get(i)).collect();
                let mut cats: HashMap<String, usize> = HashMap::new();
                let mut regions: HashMap<String, usize> = HashMap::new();
                for m in &members {
                    if let Some(c) = &m.order.category {
                        *cats.entry(c.as_str().to_string()).or_default() += 1;
                    }
                    if let Some(r) = &m.order.location.region_code {
                        *regions.entry(r.as_str().to_string()).or_default() += 1;
                    }
                }
                let named = |code: String, names: &HashMap<String, String>| {
                    let name = names.get(&code).cloned().unwrap_or_default();
                    (code, name)
                };
                HotspotView {
                    title: by_id
                        .get(&spot.representative)
                        .map(|o| o.order.title.clone())
                        .unwrap_or_default(),
                    open: members.iter().filter(|m| is_open(m.order.status)).count(),
                    category: most(cats).map(|c| named(c, &refs.category_names)),
                    region: most(regions).map(|r| named(r, &refs.region_names)),
                    spot,
                }
            })
            .collect())
    }

    /// Open orders of other callers about the same issue at the same place as order `id`:
    /// candidates to merge.
    pub async fn duplicates(
        self: &Arc<Self>,
        p: &Principal,
        id: OrderId,
    ) -> AppResult<Vec<Duplicate>> {
        let org = self.org(p.tenant).await?;
        let this = self.visible(p, &org, id).await?;
        let members = self
            .with_spots(p.tenant, |h| {
                h.cluster_of(id.0).map(|k| h.members(k)).unwrap_or_default()
            })?
            .unwrap_or_default();
        let others: Vec<OrderId> = members
            .into_iter()
            .filter(|m| *m != id.0)
            .map(OrderId)
            .collect();
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let (analyzer, _) = self.analyzer().await?;
        let phone = this.order.citizen.phone.clone();
        let words = self.insight.words.words(
            &analyzer,
            this.id,
            this.order.version,
            &this.order.title,
            &this.order.content,
        );
        let mut out: Vec<Duplicate> = Vec::new();
        for chunk in others.chunks(1_000) {
            for o in self.store.orders_by_ids(p.tenant, chunk).await? {
                if !is_open(o.order.status) || (phone.is_some() && o.order.citizen.phone == phone) {
                    continue;
                }
                let theirs = self.insight.words.words(
                    &analyzer,
                    o.id,
                    o.order.version,
                    &o.order.title,
                    &o.order.content,
                );
                let similarity = hotspots::cosine(&words, &theirs);
                if let Some(view) = self.view_if_visible(p, &org, o) {
                    out.push(Duplicate {
                        view,
                        similarity: (similarity * 100.0).round() / 100.0,
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(b.view.stored.id.0.cmp(&a.view.stored.id.0))
        });
        out.truncate(50);
        Ok(out)
    }

    /// Spike warnings for `date` (China time): category × district counts of that day far
    /// above the mean of the 28 days before.
    pub async fn warnings(&self, p: &Principal, date: NaiveDate) -> AppResult<Vec<Warning>> {
        let org = self.org(p.tenant).await?;
        self.require_insight(p, &org)?;
        let s = self.insight_settings(p.tenant).await?;
        let refs = self.ref_data(p.tenant).await?;
        let day = date
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default())
            .num_days();
        // From the maintained aggregates: today's counts per issue, and the baseline.
        let cached = self
            .insight
            .baselines
            .get(p.tenant, &self.insight.baselines_generation, || {
                self.baseline(p.tenant, day)
            })
            .await?;
        let base = if cached.day == day {
            cached
        } else {
            // Another day than the cached one's (a date asked for, or midnight).
            Arc::new(self.baseline(p.tenant, day).await?)
        };
        let today: BTreeMap<IssueKey, i64> = self
            .issue_counts(p.tenant, day, day)
            .await?
            .into_iter()
            .collect();
        let (before, last_year) = (&base.before, &base.last_year);
        let mut out: Vec<Warning> = today
            .into_iter()
            .filter_map(|(k, count)| {
                let baseline = *before.get(&k).unwrap_or(&0) as f64 / BASELINE_DAYS as f64;
                let level = spike_level(count, baseline, s.warning_min_count)?;
                let name = |code: &str, names: &HashMap<String, String>| {
                    names.get(code).cloned().unwrap_or_default()
                };
                Some(Warning {
                    category: (k.0.clone(), name(&k.0, &refs.category_names)),
                    region: (k.1.clone(), name(&k.1, &refs.region_names)),
                    count,
                    ratio: count as f64 / baseline.max(1.0 / BASELINE_DAYS as f64),
                    baseline: (baseline * 100.0).round() / 100.0,
                    level,
                    last_year: (*last_year.get(&k).unwrap_or(&0) as f64 / 15.0 * 100.0).round()
                        / 100.0,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (a.level != "red")
                .cmp(&(b.level != "red"))
                .then(b.ratio.total_cmp(&a.ratio))
                .then(b.count.cmp(&a.count))
        });
        Ok(out)
    }

    /// The baseline of `day`: the last four weeks before it and the 15 days around the same
    /// date last year.
    async fn baseline(&self, tenant: TenantId, day: i64) -> AppResult<Baseline> {
        let ly = day - 365;
        Ok(Baseline {
            day,
            before: self
                .issue_counts(tenant, day - BASELINE_DAYS, day - 1)
                .await?,
            last_year: self.issue_counts(tenant, ly - 7, ly + 7).await?,
        })
    }

    /// Accepted orders per issue over the days `from..=to`, from the maintained aggregates.
    async fn issue_counts(
        &self,
        tenant: TenantId,
        from: i64,
        to: i64,
    ) -> AppResult<HashMap<IssueKey, i64>> {
        let mut out: HashMap<IssueKey, i64> = HashMap::new();
        for r in self
            .store
            .stat_accepted(tenant, Dim::Issue, from, to, StatGroup::Key)
            .await?
        {
            if let Some(k) = issue_key(&r.key) {
                *out.entry(k).or_default() += r.counts.accepted as i64;
            }
        }
        Ok(out)
    }

    /// Orders per month over the last `months` months (to the current one), each with the
    /// same month a year before: the seasonal view.
    pub async fn trend(
        &self,
        p: &Principal,
        category: Option<&str>,
        region: Option<&str>,
        months: u32,
        today: NaiveDate,
    ) -> AppResult<Vec<MonthCount>> {
        let org = self.org(p.tenant).await?;
        self.require_insight(p, &org)?;
        if !(1..=36).contains(&months) {
            return Err(AppError::invalid("months", "月数须在 1 至 36 之间"));
        }
        let refs = self.ref_data(p.tenant).await?;
        if let Some(c) = category
            && !refs.category_names.contains_key(c)
        {
            return Err(AppError::invalid("category", "分类不存在"));
        }
        if let Some(r) = region
            && !refs.region_names.contains_key(r)
        {
            return Err(AppError::invalid("region", "区域不存在"));
        }
        let first = month_add(month_of(today), -(months as i32 - 1));
        let from = month_add(first, -12);
        let to = month_add(month_of(today), 1);
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let day_of = |d: NaiveDate| d.signed_duration_since(epoch).num_days();
        let rows = self
            .store
            .day_counts(
                p.tenant,
                day_start_ms(day_of(from)),
                day_start_ms(day_of(to)),
                category,
                region,
            )
            .await?;
        let mut per_month: HashMap<NaiveDate, i64> = HashMap::new();
        for r in rows {
            let d = epoch + ChronoDuration::days(r.day);
            *per_month.entry(month_of(d)).or_default() += r.count;
        }
        Ok((0..months as i32)
            .map(|i| {
                let m = month_add(first, i);
                MonthCount {
                    month: m.format("%Y-%m").to_string(),
                    count: *per_month.get(&m).unwrap_or(&0),
                    last_year: *per_month.get(&month_add(m, -12)).unwrap_or(&0),
                }
            })
            .collect())
    }
}

/// `red` or `yellow` when `count` is a spike over a usual level of `baseline` a day: at
/// least `min` orders, at least twice the usual level and beyond what chance gives (three
/// Poisson standard deviations; five and three times the level for red).
pub fn spike_level(count: i64, baseline: f64, min: u32) -> Option<&'static str> {
    let c = count as f64;
    if count < i64::from(min) {
        return None;
    }
    let usual = baseline.max(0.5);
    let sd = usual.sqrt();
    if c >= 3.0 * usual && c >= usual + 5.0 * sd {
        Some("red")
    } else if c >= 2.0 * usual && c >= usual + 3.0 * sd {
        Some("yellow")
    } else {
        None
    }
}

fn month_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn month_add(m: NaiveDate, months: i32) -> NaiveDate {
    let total = m.year() * 12 + m.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(m)
}

/// Today in China time.
pub fn china_today() -> NaiveDate {
    let day = china_day(Utc::now().timestamp_millis());
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + ChronoDuration::days(day)
}

/// Sorts requests by acceptance and keeps the newest `max`.
fn newest(rows: &mut Vec<OrderText>, max: usize) {
    rows.sort_by_key(|r| (r.accepted_at, r.id));
    let over = rows.len().saturating_sub(max);
    rows.drain(..over);
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiesu_core::stats::{district, warning_category};

    #[test]
    fn a_spike_needs_the_minimum_twice_the_usual_level_and_more_than_chance() {
        assert_eq!(spike_level(4, 0.1, 5), None, "below the minimum");
        assert_eq!(spike_level(5, 0.1, 5), Some("red"));
        assert_eq!(spike_level(10, 4.0, 5), Some("yellow"));
        assert_eq!(spike_level(8, 4.0, 5), None, "twice, but within chance");
        assert_eq!(spike_level(20, 4.0, 5), Some("red"));
        assert_eq!(spike_level(60, 40.0, 5), None, "1.5 times a large level");
    }

    #[test]
    fn warnings_count_in_second_level_categories_and_districts() {
        assert_eq!(warning_category("01.02.03"), "01.02");
        assert_eq!(warning_category("01"), "01");
        assert_eq!(district("990101001"), "990101");
        assert_eq!(district("9901"), "9901");
    }

    #[test]
    fn a_word_set_kept_for_a_new_order_serves_while_its_text_is_the_same() {
        let analyzer = Analyzer::default();
        let cache = WordsCache::default();
        let (title, content) = ("路灯不亮", "幸福路口的路灯坏了三天，晚上出行不便");
        let made = Arc::new(hotspots::words_of(&analyzer, title, content));
        cache.keep_made(
            OrderId(7),
            WordsCache::fingerprint(title, content),
            1,
            made.clone(),
        );
        // At the same version it serves without the text.
        let known = cache.known(OrderId(7), 1).unwrap();
        assert!(Arc::ptr_eq(&known, &made), "the kept set, not a new one");
        assert!(cache.known(OrderId(8), 1).is_none());
        // A later version needs the text: the same text keeps the set (and the version).
        assert!(cache.known(OrderId(7), 2).is_none());
        let again = cache.words(&analyzer, OrderId(7), 2, title, content);
        assert!(
            Arc::ptr_eq(&again, &made),
            "the same text is not segmented again"
        );
        assert!(Arc::ptr_eq(&cache.known(OrderId(7), 2).unwrap(), &made));
        // Edited, the text is segmented again.
        let edited = "幸福路口的路灯已经修好了";
        let now = cache.words(&analyzer, OrderId(7), 3, title, edited);
        assert!(!Arc::ptr_eq(&now, &made));
        assert_eq!(*now, hotspots::words_of(&analyzer, title, edited));
        assert_ne!(*now, *made);
        assert!(Arc::ptr_eq(&cache.known(OrderId(7), 3).unwrap(), &now));
        assert!(cache.known(OrderId(7), 2).is_none());
    }

    #[test]
    fn the_word_sets_of_the_last_two_generations_are_kept() {
        let analyzer = Analyzer::default();
        let cache = WordsCache::default();
        let w = Arc::new(hotspots::words_of(&analyzer, "路灯", "路灯不亮"));
        for id in 0..=WORDS_CACHE as i64 {
            cache.keep_made(OrderId(id), 0, 1, w.clone());
        }
        // The first generation filled up and became the second: its orders are still kept.
        assert!(cache.known(OrderId(0), 1).is_some());
        assert!(cache.known(OrderId(WORDS_CACHE as i64), 1).is_some());
        for id in 0..=WORDS_CACHE as i64 {
            cache.keep_made(OrderId(1_000_000 + id), 0, 1, w.clone());
        }
        // Order 0 was used again (moved into the newer generation), order 1 was not.
        assert!(cache.known(OrderId(0), 1).is_some());
        assert!(cache.known(OrderId(1), 1).is_none());
    }

    #[test]
    fn months_add_across_years() {
        let d = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
        assert_eq!(month_add(d(2026, 1), -1), d(2025, 12));
        assert_eq!(month_add(d(2026, 11), 14), d(2028, 1));
        assert_eq!(
            month_of(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()),
            d(2026, 11)
        );
    }
}
