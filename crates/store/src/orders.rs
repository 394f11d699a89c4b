//! Work orders: the current state (one row, indexed columns plus the whole state as JSON) and
//! the append-only, hash-chained history, written together in one transaction.

use crate::pii::{Keyring, PiiKeys};
use crate::writer::Tx;
use crate::{Result, Store, StoreError, col, from_ms, packed, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::calendar::china_offset;
use jiesu_core::chain;
use jiesu_core::mask::masked_name;
use jiesu_core::order::{
    AssignmentRole, AssignmentStatus, Channel, Event, Notice, Order, RequestType, Status, Urgency,
};
use jiesu_core::stats::{Dim, Measure, Tally};
use jiesu_core::{OrderId, TenantId, UnitId};
use sea_orm::{DbBackend, Statement, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An order as stored.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub id: OrderId,
    pub order: Order,
    pub last_hash: String,
}

/// An event as stored, with its chain links.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    #[serde(flatten)]
    pub event: Event,
    pub prev_hash: String,
    pub hash: String,
}

/// New events for one existing order, and its state after them.
#[derive(Debug, Clone)]
pub struct OrderChange {
    pub tenant: TenantId,
    pub id: OrderId,
    /// The version the events were decided on; the write fails if another came first.
    pub expected_version: u32,
    pub prev_hash: String,
    pub order: Order,
    pub events: Vec<Event>,
    /// Where the order's facts were tallied before these events (`Tally::of` the order as
    /// read): the aggregates move it to where the new state belongs.
    pub before: Tally,
}

/// Which orders a viewer may see at all.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    /// Orders accepted at one of these centres or dispatched to one of these units.
    Units(Vec<UnitId>),
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub statuses: Vec<Status>,
    pub request_types: Vec<RequestType>,
    pub channels: Vec<Channel>,
    /// This category and everything below it.
    pub category: Option<String>,
    /// Exactly one of these categories (Open311's service codes).
    pub categories: Vec<String>,
    /// Only orders that have a category.
    pub categorised: bool,
    /// This region and everything below it (division codes are hierarchical).
    pub region: Option<String>,
    /// Orders dispatched to any of these units (a unit and its subtree, resolved by the caller).
    pub units: Option<Vec<UnitId>>,
    /// With `units`: only where that unit's part is in this state (a unit's inbox).
    pub assignment_status: Option<AssignmentStatus>,
    pub accepted_from: Option<DateTime<Utc>>,
    pub accepted_to: Option<DateTime<Utc>>,
    /// `Some(now)`: only orders whose running deadline has passed.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only orders whose running deadline falls in `[from, to)` (due soon).
    pub due_between: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub number_prefix: Option<String>,
    pub emergency: Option<bool>,
    pub citizen_phone: Option<String>,
    /// Only orders whose extension request waits for the centre's decision.
    pub extension_pending: bool,
    /// Only open orders with a supervision notice waiting for its unit's response.
    pub notice_pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    AcceptedDesc,
    AcceptedAsc,
    DueAsc,
    UpdatedDesc,
}

impl Sort {
    fn column(self) -> &'static str {
        match self {
            Sort::AcceptedDesc | Sort::AcceptedAsc => "accepted_at",
            Sort::DueAsc => "due_at",
            Sort::UpdatedDesc => "updated_at",
        }
    }
    fn descending(self) -> bool {
        matches!(self, Sort::AcceptedDesc | Sort::UpdatedDesc)
    }
}

/// Position after the last row of a page: the sort key and the id that breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: i64,
    /// The first page's total, carried along so later pages need not count again.
    pub total: u64,
    pub total_capped: bool,
}

/// What a list shows of an order: its row's columns, no state decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSummary {
    pub id: OrderId,
    pub number: String,
    pub channel: Channel,
    pub request_type: RequestType,
    pub category: Option<String>,
    pub title: String,
    pub status: Status,
    pub urgency: Urgency,
    pub emergency: bool,
    pub confidential: bool,
    pub region_code: Option<String>,
    pub centre_id: UnitId,
    pub lead_unit_id: Option<UnitId>,
    /// The citizen's name masked (`张*`): the most any list shows of it.
    pub citizen_masked_name: Option<String>,
    pub accepted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The running deadline.
    pub current_due: Option<DateTime<Utc>>,
}

impl OrderSummary {
    pub fn of(id: OrderId, o: &Order) -> Self {
        OrderSummary {
            id,
            number: o.number.clone(),
            channel: o.channel,
            request_type: o.request_type,
            category: o.category.as_ref().map(|c| c.as_str().to_string()),
            title: o.title.clone(),
            status: o.status,
            urgency: o.urgency,
            emergency: o.flags.emergency,
            confidential: o.flags.confidential,
            region_code: o
                .location
                .region_code
                .as_ref()
                .map(|r| r.as_str().to_string()),
            centre_id: o.centre_id,
            lead_unit_id: o.lead_unit(),
            citizen_masked_name: masked_name(&o.citizen),
            accepted_at: o.accepted_at,
            updated_at: o.updated_at,
            current_due: o.current_due(),
        }
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.current_due.is_some_and(|d| d < now)
    }

    /// From a row of [`SUMMARY_COLUMNS`] whose `citizen_masked_name` is set.
    fn from_row(r: &impl crate::lite::Cols, citizen_masked_name: String) -> Result<Self> {
        fn coded<T>(
            r: &impl crate::lite::Cols,
            name: &str,
            parse: fn(&str, &str) -> std::result::Result<T, jiesu_core::FieldError>,
        ) -> Result<T> {
            parse(name, &col::<String>(r, name)?).map_err(StoreError::corrupt)
        }
        Ok(OrderSummary {
            id: OrderId(col(r, "id")?),
            number: col(r, "number")?,
            channel: coded(r, "channel", Channel::parse)?,
            request_type: coded(r, "request_type", RequestType::parse)?,
            category: col(r, "category_code")?,
            title: col(r, "title")?,
            status: coded(r, "status", Status::parse)?,
            urgency: coded(r, "urgency", Urgency::parse)?,
            emergency: col(r, "emergency")?,
            confidential: col(r, "confidential")?,
            region_code: col(r, "region_code")?,
            centre_id: UnitId(col(r, "centre_id")?),
            lead_unit_id: col::<Option<i64>>(r, "lead_unit_id")?.map(UnitId),
            citizen_masked_name: Some(citizen_masked_name).filter(|n| !n.is_empty()),
            accepted_at: from_ms(col(r, "accepted_at")?),
            updated_at: from_ms(col(r, "updated_at")?),
            current_due: col::<Option<i64>>(r, "due_at")?.map(from_ms),
        })
    }
}

/// The columns [`OrderSummary::from_row`] reads.
const SUMMARY_COLUMNS: &str = "id, number, channel, request_type, category_code, title, status, urgency, \
     emergency, confidential, region_code, centre_id, lead_unit_id, citizen_masked_name, \
     accepted_at, updated_at, due_at";

pub struct OrderPage<T = StoredOrder> {
    pub items: Vec<T>,
    /// Orders matching the filter; at most [`COUNT_CAP`] unless known exactly.
    pub total: u64,
    /// More than [`COUNT_CAP`] orders match and they were not counted one by one.
    pub total_capped: bool,
    pub next: Option<Cursor>,
}

impl<T> OrderPage<T> {
    /// The same page of other items.
    fn try_map<U>(mut self, f: impl FnMut(T) -> Result<U>) -> Result<OrderPage<U>> {
        let items = std::mem::take(&mut self.items).into_iter().map(f);
        Ok(self.with_items(items.collect::<Result<_>>()?))
    }

    /// The same page of other items.
    pub fn map<U>(mut self, f: impl FnMut(T) -> U) -> OrderPage<U> {
        let items = std::mem::take(&mut self.items).into_iter().map(f);
        self.with_items(items.collect())
    }

    /// This page's total and cursor with `items`.
    fn with_items<U>(self, items: Vec<U>) -> OrderPage<U> {
        OrderPage {
            items,
            total: self.total,
            total_capped: self.total_capped,
            next: self.next,
        }
    }
}

/// Filters whose matches are not kept counted are counted up to this many (shown as "≥
/// 10000"; exact figures are the statistics' job). Counting is most of a first page's cost
/// over a big centre's orders: 100,000 index entries took ~100 ms of PostgreSQL's time over
/// 10,000,000 orders (issue 9), as many as Elasticsearch counts by default.
pub const COUNT_CAP: u64 = 10_000;

/// A page is read by walking the list index in order (testing the filters on its entries)
/// when that is expected to visit at most this many entries; otherwise through the filter's
/// own index, sorting the (then few) matches.
const SCAN_BUDGET: u64 = 50_000;

impl OrderFilter {
    /// Only statuses (or nothing): the total is in `order_counts`.
    fn status_only(&self) -> bool {
        let OrderFilter {
            statuses: _,
            request_types,
            channels,
            category,
            categories,
            categorised,
            region,
            units,
            assignment_status,
            accepted_from,
            accepted_to,
            overdue_at,
            due_between,
            number_prefix,
            emergency,
            citizen_phone,
            extension_pending,
            notice_pending,
        } = self;
        request_types.is_empty()
            && channels.is_empty()
            && category.is_none()
            && categories.is_empty()
            && !categorised
            && region.is_none()
            && units.is_none()
            && assignment_status.is_none()
            && accepted_from.is_none()
            && accepted_to.is_none()
            && overdue_at.is_none()
            && due_between.is_none()
            && number_prefix.is_none()
            && emergency.is_none()
            && citizen_phone.is_none()
            && !extension_pending
            && !notice_pending
    }

    /// A number prefix that is only a date (`2026`, `2026-05`, `2026-05-06`, with or without a
    /// trailing `-`) means "accepted in that period": numbers carry the local day of
    /// acceptance. As a time range it is answered from the list index.
    fn with_number_dates(&self) -> Option<OrderFilter> {
        let p = self.number_prefix.as_deref()?.trim_end_matches('-');
        let (from, to) = local_period(p)?;
        let mut f = self.clone();
        f.number_prefix = None;
        f.accepted_from = Some(f.accepted_from.map_or(from, |t| t.max(from)));
        f.accepted_to = Some(f.accepted_to.map_or(to, |t| t.min(to)));
        Some(f)
    }

    /// Some units' orders in one assignment status and nothing else (a unit's inbox, the
    /// unit with its subtree): the units and the status.
    fn inbox(&self) -> Option<Inbox<'_>> {
        let units = self.units.as_deref().filter(|u| !u.is_empty())?;
        let status = match (self.assignment_status, self.statuses.as_slice()) {
            (Some(part), []) => InboxStatus::Part(part),
            (None, [_, ..]) => InboxStatus::Order(&self.statuses),
            _ => return None,
        };
        let rest = OrderFilter {
            units: None,
            assignment_status: None,
            ..self.clone()
        };
        rest.status_only().then_some(Inbox { units, status })
    }

    /// A bound on the running deadline (due within hours, overdue).
    fn due_bounded(&self) -> bool {
        self.overdue_at.is_some() || self.due_between.is_some()
    }

    /// Every condition can be tested on an `orders_list` entry.
    fn covered_by_list_index(&self) -> bool {
        self.units.is_none()
            && self.number_prefix.is_none()
            && self.citizen_phone.is_none()
            && !self.extension_pending
            && !self.notice_pending
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub orders: u64,
    pub events: u64,
    pub problems: Vec<VerifyProblem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyProblem {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub number: String,
    /// The first broken event (0 when the problem is in the order row).
    pub seq: u32,
    pub reason: String,
}

/// Where an aggregate row's shard goes in a statement: the writing transaction's shard (see
/// `writer::take_shard`) on PostgreSQL, 0 on SQLite (one writer).
pub(crate) const SHARD: &str = "{shard}";
const PG_SHARD: &str = "COALESCE(NULLIF(current_setting('jiesu.shard', true), '')::int, 0)";

/// Dynamic SQL with `$n` placeholders, valid on both backends.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            values: Vec::new(),
        }
    }
    pub(crate) fn param(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        format!("${}", self.values.len())
    }
    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }
    /// Appends another statement's text and values, renumbering its parameters.
    fn append(&mut self, other: Sql) {
        let shift = self.values.len();
        let mut chars = other.text.chars().peekable();
        while let Some(c) = chars.next() {
            self.text.push(c);
            if c == '$' {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n: usize = digits.parse().unwrap_or(0);
                self.text.push_str(&(n + shift).to_string());
            }
        }
        self.values.extend(other.values);
    }
    /// Appends `$a, $b, …` for `values`.
    pub(crate) fn push_values(&mut self, values: impl IntoIterator<Item = Value>) {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            let p = self.param(v);
            self.text.push_str(&p);
        }
    }
    pub(crate) fn in_list<T: Into<Value> + Clone>(&mut self, items: &[T]) -> String {
        let ps: Vec<String> = items.iter().map(|i| self.param(i.clone())).collect();
        ps.join(", ")
    }
    pub(crate) fn build(self, backend: DbBackend) -> Statement {
        match backend {
            DbBackend::Sqlite => {
                let text = self.text.replace(SHARD, "0");
                let (text, values) = anonymous_params(&text, self.values);
                Statement::from_sql_and_values(backend, text, values)
            }
            _ => Statement::from_sql_and_values(
                backend,
                self.text.replace(SHARD, PG_SHARD),
                self.values,
            ),
        }
    }
}

/// `text` with every `$n` outside string literals written as a plain `?`, and the values in
/// the order of those places (a parameter used twice is bound twice). On SQLite, binding a
/// named parameter looks its name up in a list as long as the statement's parameters, which
/// made binding a multi-row insert quadratic in its rows; anonymous ones are bound by
/// position. A `$n` beyond `values` is left as it is.
fn anonymous_params(text: &str, values: Vec<Value>) -> (String, Vec<Value>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // The value of each `?` in turn (0-based).
    let mut uses: Vec<usize> = Vec::with_capacity(values.len());
    let mut quoted = false;
    // `text[copied..]` is not yet in `out`. Every byte looked at is ASCII, so every cut is
    // at a character boundary.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let k = text[i + 1..i + 1 + digits].parse::<usize>().ok();
                if let Some(k) = k.filter(|k| (1..=values.len()).contains(k)) {
                    out.push_str(&text[copied..i]);
                    out.push('?');
                    uses.push(k - 1);
                    copied = i + 1 + digits;
                }
                i += 1 + digits;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    // Each value moves to its last use; earlier uses of the same value get copies (the
    // states and event payloads of a batch are most of its bytes, and are used once).
    let mut last = vec![usize::MAX; values.len()];
    for (at, k) in uses.iter().enumerate() {
        last[*k] = at;
    }
    let mut values: Vec<Option<Value>> = values.into_iter().map(Some).collect();
    let bound = uses
        .iter()
        .enumerate()
        .filter_map(|(at, k)| {
            if last[*k] == at {
                values[*k].take()
            } else {
                values[*k].clone()
            }
        })
        .collect();
    (out, bound)
}

/// The smallest string greater than every string starting with `prefix` and ending in a
/// character at most `below` (exclusive upper bound of a prefix range scan).
fn prefix_bound(prefix: &str, next: char) -> String {
    format!("{prefix}{next}")
}

/// The local period `YYYY`, `YYYY-MM` or `YYYY-MM-DD` as a UTC range.
fn local_period(p: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::{Months, NaiveDate, TimeZone};
    let parts: Vec<&str> = p.split('-').collect();
    let num = |s: &str, len: usize| (s.len() == len).then(|| s.parse::<u32>().ok()).flatten();
    let (start, end) = match parts.as_slice() {
        [y] => {
            let d = NaiveDate::from_ymd_opt(num(y, 4)? as i32, 1, 1)?;
            (d, d.checked_add_months(Months::new(12))?)
        }
        [y, m] => {
            let d = NaiveDate::from_ymd_opt(num(y, 4)? as i32, num(m, 2)?, 1)?;
            (d, d.checked_add_months(Months::new(1))?)
        }
        [y, m, d] => {
            let d = NaiveDate::from_ymd_opt(num(y, 4)? as i32, num(m, 2)?, num(d, 2)?)?;
            (d, d.succ_opt()?)
        }
        _ => return None,
    };
    let utc = |d: NaiveDate| {
        china_offset()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    Some((utc(start)?, utc(end)?))
}

fn local_day(t: DateTime<Utc>) -> String {
    t.with_timezone(&china_offset())
        .format("%Y-%m-%d")
        .to_string()
}

/// The unit rows kept for scoping: each unit's latest part in the order.
fn unit_parts(order: &Order) -> BTreeMap<UnitId, (AssignmentRole, AssignmentStatus)> {
    let mut m = BTreeMap::new();
    for a in &order.assignments {
        let keep = m
            .get(&a.unit_id)
            .is_none_or(|(_, s): &(AssignmentRole, AssignmentStatus)| {
                !s.is_active() || a.status.is_active()
            });
        if keep {
            m.insert(a.unit_id, (a.role, a.status));
        }
    }
    m
}

/// An order decoded from its stored state, with the chain head it was decoded at and the
/// length of the state it came from (what it weighs in [`DecodedOrders`]).
pub(crate) struct Decoded {
    last_hash: String,
    order: Order,
    bytes: u64,
}

/// Weighs a decoded order by the length of its stored state.
#[derive(Clone)]
pub(crate) struct StateBytes;

impl quick_cache::Weighter<i64, Arc<Decoded>> for StateBytes {
    fn weight(&self, _: &i64, v: &Arc<Decoded>) -> u64 {
        v.bytes
    }
}

/// Orders decoded from their stored state, by id. A state is a function of its order's
/// events, and `last_hash` names them all (it hashes the whole chain, the tenant included), so
/// an entry whose head is the row's is the row's order: reading it again skips opening the
/// sealed values and parsing the JSON. Each node keeps its own (an order changed elsewhere has
/// another head there, and misses here).
pub(crate) type DecodedOrders = quick_cache::sync::Cache<i64, Arc<Decoded>, StateBytes>;

/// At most this much stored state is kept decoded (~16,000 of the demo's orders: more than
/// the orders in the middle of their lifecycle at 200 new orders a second, each changed every
/// few seconds; an order's content may be up to 10,000 characters, so the bound is on bytes,
/// not orders).
const DECODED_BYTES: u64 = 32 << 20;

/// The totals of large lists, counted a moment ago. A list's first page counts the orders
/// matching its filter (up to [`COUNT_CAP`]): for a large list that is most of the page's
/// cost, and the queues a centre keeps open (the same filter for every dispatcher, refreshed
/// every few seconds) would count the same thousands of orders again and again. A total of
/// at least `from` orders is reused for `fresh` after it was counted (the page's orders are
/// always read as they are); smaller totals are always counted, so that a short list's total
/// is exactly its rows.
pub(crate) struct ListTotals {
    kept: quick_cache::sync::Cache<u64, (Instant, u64, bool)>,
    from: u64,
    fresh: Duration,
}

/// Totals of at least this many orders are reused ([`ListTotals`]).
const REUSED_TOTAL_FROM: u64 = 1_000;
/// For this long after they were counted.
const REUSED_TOTAL_FOR: Duration = Duration::from_secs(5);

impl ListTotals {
    pub(crate) fn new(from: u64, fresh: Duration) -> ListTotals {
        ListTotals {
            kept: quick_cache::sync::Cache::new(4_096),
            from,
            fresh,
        }
    }

    /// The key of a count statement: its text and the values bound to it.
    fn key(q: &Sql) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        q.text.hash(&mut h);
        format!("{:?}", q.values).hash(&mut h);
        h.finish()
    }

    fn reused(&self, key: u64) -> Option<(u64, bool)> {
        self.kept
            .get(&key)
            .filter(|(at, _, _)| at.elapsed() < self.fresh)
            .map(|(_, n, capped)| (n, capped))
    }

    fn counted(&self, key: u64, (n, capped): (u64, bool)) {
        if n >= self.from {
            self.kept.insert(key, (Instant::now(), n, capped));
        } else {
            self.kept.remove(&key);
        }
    }
}

pub(crate) fn list_totals() -> ListTotals {
    ListTotals::new(REUSED_TOTAL_FROM, REUSED_TOTAL_FOR)
}

pub(crate) fn decoded_orders() -> DecodedOrders {
    DecodedOrders::with_weighter(16_384, DECODED_BYTES, StateBytes)
}

impl Store {
    /// [`order_from_row`] through the decoded orders: for the reads that come back to the same
    /// orders (lists, an order's page, the followers of changes); scans read past them.
    pub(crate) fn cached_order_from_row(&self, r: &impl crate::lite::Cols) -> Result<StoredOrder> {
        let id: i64 = col(r, "id")?;
        let last_hash: String = col(r, "last_hash")?;
        if let Some(hit) = self.decoded.get(&id)
            && hit.last_hash == last_hash
        {
            return Ok(StoredOrder {
                id: OrderId(id),
                order: hit.order.clone(),
                last_hash,
            });
        }
        let state = packed::state_of(r, self.backend)?;
        let bytes = state.len() as u64;
        let stored = decode_order(id, last_hash, &state, &self.pii)?;
        self.decoded.insert(
            id,
            Arc::new(Decoded {
                last_hash: stored.last_hash.clone(),
                order: stored.order.clone(),
                bytes,
            }),
        );
        Ok(stored)
    }

    /// An order from its row (`id`, `last_hash`, `state`).
    pub(crate) fn order_from_row(&self, r: &impl crate::lite::Cols) -> Result<StoredOrder> {
        decode_order(
            col(r, "id")?,
            col(r, "last_hash")?,
            &packed::state_of(r, self.backend)?,
            &self.pii,
        )
    }
}

/// An order from its stored (sealed) state.
fn decode_order(id: i64, last_hash: String, state: &str, pii: &PiiKeys) -> Result<StoredOrder> {
    let state = pii.open_json(state)?;
    let order: Order = serde_json::from_str(&state).map_err(StoreError::corrupt)?;
    Ok(StoredOrder {
        id: OrderId(id),
        order,
        last_hash,
    })
}

/// An event serialised and linked into its order's chain, ready to insert.
struct Linked<'a> {
    event: &'a Event,
    /// The payload as stored: the citizen's phone and ID number sealed.
    payload: String,
    prev_hash: String,
    hash: String,
}

/// The citizen's values sealed wherever they stand in an order's documents.
pub(crate) fn pii_values(o: &Order) -> Vec<&str> {
    let c = &o.citizen;
    c.phone
        .as_ref()
        .map(|p| p.as_str())
        .into_iter()
        .chain(c.id_number.as_deref())
        .collect()
}

/// An order's state as stored: its JSON with the citizen's values sealed.
fn sealed_state(pii: &Keyring, o: &Order) -> Result<String> {
    let state = serde_json::to_string(o).map_err(StoreError::corrupt)?;
    Ok(pii.seal_json(state, &pii_values(o)))
}

/// Serialises `events` and chains them after `prev_hash`; the last hash is the order's. The
/// hashes cover the plaintext payload; what is stored has the citizen's values of `order`
/// sealed (so that a new key re-seals it without touching the chain).
fn link<'a>(
    pii: &Keyring,
    tenant: TenantId,
    order: &Order,
    mut prev_hash: String,
    events: &'a [Event],
) -> Result<Vec<Linked<'a>>> {
    let mut out = Vec::with_capacity(events.len());
    let secrets = pii_values(order);
    for e in events {
        let payload = serde_json::to_string(e).map_err(StoreError::corrupt)?;
        let hash = chain::event_hash(&prev_hash, tenant, &order.number, e.seq, &payload);
        out.push(Linked {
            event: e,
            payload: pii.seal_json(payload, &secrets),
            prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
            hash,
        });
    }
    Ok(out)
}

fn last_hash(linked: &[Linked], before: &str) -> String {
    linked
        .last()
        .map(|l| l.hash.clone())
        .unwrap_or_else(|| before.to_string())
}

/// Columns of `order_events`, in insert order.
const EVENT_COLUMNS: usize = 15;

/// Inserts linked events of many orders with multi-row statements.
/// Multi-row inserts of linked events (500 rows × 15 parameters stays well inside both
/// backends' limits).
fn events_sql(rows: Vec<(TenantId, OrderId, Linked<'_>)>) -> Vec<Sql> {
    let rows: Vec<_> = rows
        .into_iter()
        .map(|(t, id, l)| event_values(t, id, l))
        .collect();
    event_rows_sql(&rows)
}

/// One `order_events` row, in `event_rows_sql`'s column order.
fn event_values(tenant: TenantId, id: OrderId, l: Linked<'_>) -> [Value; EVENT_COLUMNS] {
    let e = l.event;
    [
        tenant.0.into(),
        id.0.into(),
        (e.seq as i32).into(),
        to_ms(e.at).into(),
        e.kind.name().into(),
        e.actor.user_id.0.into(),
        e.actor.username.clone().into(),
        e.actor.role.as_str().into(),
        e.actor.unit_id.0.into(),
        e.from.map(|s| s.as_str()).into(),
        e.to.as_str().into(),
        e.kind.reason().map(str::to_string).into(),
        l.payload.into(),
        l.prev_hash.into(),
        l.hash.into(),
    ]
}

fn event_rows_sql(rows: &[[Value; EVENT_COLUMNS]]) -> Vec<Sql> {
    rows.chunks(500)
        .map(|chunk| {
            let mut q = Sql::new(
                "INSERT INTO order_events (tenant_id, order_id, seq, at, kind, actor_id, actor_name, actor_role, unit_id, \
                 from_status, to_status, reason, payload, prev_hash, hash) VALUES ",
            );
            for (n, r) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                q.push_values(r.iter().cloned());
                q.push(")");
            }
            q
        })
        .collect()
}

/// When the order's next reminder or overdue mark is due, for the scheduler's index.
fn next_alert_ms(o: &Order) -> Option<i64> {
    o.next_alert().map(|(at, _)| to_ms(at))
}

fn notice_sql(
    tenant: TenantId,
    order: OrderId,
    number: &str,
    n: &Notice,
    at: DateTime<Utc>,
) -> Sql {
    let mut q = Sql::new(
        "INSERT INTO notifications (tenant_id, unit_id, order_id, order_number, kind, stage, due_at, message, created_at) VALUES (",
    );
    q.push_values([
        tenant.0.into(),
        n.unit_id.0.into(),
        order.0.into(),
        number.into(),
        n.kind.into(),
        n.stage.as_str().into(),
        to_ms(n.due).into(),
        n.message.clone().into(),
        to_ms(at).into(),
    ]);
    q.push(")");
    q
}

/// Adds `delta` to the count of a tenant's orders in `status`.
fn outbox_row(r: &impl crate::lite::Cols) -> Result<(i64, TenantId, OrderId)> {
    Ok((
        col(r, "id")?,
        TenantId(col(r, "tenant_id")?),
        OrderId(col(r, "order_id")?),
    ))
}

/// Outbox rows for the search index, many to a statement.
fn outbox_sql(orders: &[(TenantId, OrderId)]) -> Vec<Sql> {
    orders
        .chunks(400)
        .map(|chunk| {
            let mut q = Sql::new("INSERT INTO search_outbox (tenant_id, order_id) VALUES ");
            for (n, (t, id)) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                q.push_values([t.0.into(), id.0.into()]);
                q.push(")");
            }
            q
        })
        .collect()
}

/// Outbox rows for webhook delivery: each order's new events `from..=to`, in the transaction
/// that stores them (a crash never loses an event the order already shows).
fn event_outbox_sql(rows: &[(TenantId, OrderId, u32, u32)]) -> Vec<Sql> {
    rows.chunks(250)
        .map(|chunk| {
            let mut q = Sql::new(
                "INSERT INTO event_outbox (tenant_id, order_id, from_seq, to_seq) VALUES ",
            );
            for (n, (t, id, from, to)) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                q.push_values([t.0.into(), id.0.into(), (*from).into(), (*to).into()]);
                q.push(")");
            }
            q
        })
        .collect()
}

fn count_sql(tenant: TenantId, status: Status, delta: i64) -> Sql {
    let mut q = Sql::new("INSERT INTO order_counts (tenant_id, status, n, shard) VALUES (");
    q.push_values([tenant.0.into(), status.as_str().into(), delta.into()]);
    q.push(&format!(
        ", {SHARD}) ON CONFLICT (tenant_id, status, shard) DO UPDATE SET n = order_counts.n + $3"
    ));
    q
}

/// The aggregate rows to move: `(tenant, dim, day, key)` → deltas by `Measure::ALL`.
pub(crate) type TallyDeltas = BTreeMap<(TenantId, Dim, i64, String), [i64; 16]>;

/// Adds the moves of one order from `before` to `after` to `acc`.
pub(crate) fn tally_into(
    acc: &mut TallyDeltas,
    tenant: TenantId,
    before: Option<&Tally>,
    after: &Tally,
) {
    for (dim, day, key, d) in after.deltas(before) {
        add_deltas(acc, (tenant, dim, day, key.to_string()), &d);
    }
}

/// Adds `d` to the row `key` of `acc`.
fn add_deltas(acc: &mut TallyDeltas, key: (TenantId, Dim, i64, String), d: &[i64; 16]) {
    let row = acc.entry(key).or_insert([0; 16]);
    for (r, x) in row.iter_mut().zip(d) {
        *r += x;
    }
}

/// Upserts of the aggregate rows (`stat_daily`) in the transaction's shard, sorted by key;
/// rows whose deltas are all zero are left out.
pub(crate) fn tally_sql(acc: TallyDeltas) -> Vec<Sql> {
    tally_rows_sql(acc, true)
}

/// `tally_sql`, optionally for the table as it was before it had shards (a migration's
/// backfill).
pub(crate) fn tally_rows_sql(acc: TallyDeltas, sharded: bool) -> Vec<Sql> {
    let rows: Vec<_> = acc
        .into_iter()
        .filter(|(_, d)| d.iter().any(|x| *x != 0))
        .collect();
    let cols: Vec<&str> = Measure::ALL.iter().map(|m| m.as_str()).collect();
    rows.chunks(200)
        .map(|chunk| {
            let (shard_col, shard_key) = if sharded {
                (", shard", ", shard")
            } else {
                ("", "")
            };
            let mut q = Sql::new(&format!(
                "INSERT INTO stat_daily (tenant_id, dim, day, key, {}{shard_col}) VALUES ",
                cols.join(", ")
            ));
            for (n, ((t, dim, day, key), d)) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                let mut values: Vec<Value> = vec![
                    t.0.into(),
                    dim.as_str().into(),
                    (*day).into(),
                    key.clone().into(),
                ];
                values.extend(d.iter().map(|x| Value::from(*x)));
                q.push_values(values);
                if sharded {
                    q.push(&format!(", {SHARD}"));
                }
                q.push(")");
            }
            let set: Vec<String> = cols
                .iter()
                .map(|c| format!("{c} = stat_daily.{c} + excluded.{c}"))
                .collect();
            q.push(&format!(
                " ON CONFLICT (tenant_id, dim, day, key{shard_key}) DO UPDATE SET {}",
                set.join(", ")
            ));
            q
        })
        .collect()
}

/// Runs statements that return nothing, one by one (on SQLite's writer each is prepared once
/// per text and kept; see `writer::tx`).
async fn execute_all(tx: Tx<'_>, stmts: Vec<Sql>) -> Result<()> {
    let backend = tx.backend();
    for s in stmts {
        tx.execute(s.build(backend)).await?;
    }
    Ok(())
}

/// Runs statements that return nothing and touch different rows. On PostgreSQL as few
/// statements as the parameter limit allows, each `WITH s0 AS (…), s1 AS (…) …` (one round
/// trip; the parts share one snapshot, hence "different rows"); on SQLite one by one.
async fn execute_combined(tx: Tx<'_>, stmts: Vec<Sql>) -> Result<()> {
    let backend = tx.backend();
    if backend == DbBackend::Sqlite {
        return execute_all(tx, stmts).await;
    }
    // PostgreSQL takes at most 65,535 parameters a statement.
    const MAX_PARAMS: usize = 30_000;
    let mut groups: Vec<Vec<Sql>> = Vec::new();
    let mut params = 0;
    for s in stmts {
        match groups.last_mut() {
            Some(g) if params + s.values.len() <= MAX_PARAMS => {
                params += s.values.len();
                g.push(s);
            }
            _ => {
                params = s.values.len();
                groups.push(vec![s]);
            }
        }
    }
    for g in groups {
        let mut parts = g.into_iter();
        let Some(last) = parts.next_back() else {
            continue;
        };
        let mut q = Sql::new("");
        for (i, p) in parts.enumerate() {
            q.push(&format!("{} s{i} AS (", if i == 0 { "WITH" } else { "," }));
            q.append(p);
            q.push(") ");
        }
        q.append(last);
        tx.execute(q.build(backend)).await?;
    }
    Ok(())
}

/// A new order to store: its state and first events, without a number yet.
#[derive(Debug, Clone)]
pub(crate) struct NewOrderWrite {
    pub tenant: TenantId,
    pub order: Order,
    pub events: Vec<Event>,
    /// The keys the order's personal data is sealed with.
    pub pii: Arc<Keyring>,
    /// What repeat detection made of its text, stored with it.
    pub words: Option<crate::insight::OrderWords>,
}

/// Columns of `orders` set at creation, in insert order.
const ORDER_COLUMNS: usize = 25;

/// Stores new orders with a handful of statements however many there are: one counter
/// upsert for every tenant and local day of the batch, multi-row inserts of the orders, their
/// events and unit rows, one count update per tenant and status, the aggregates and outboxes.
/// Numbers are allocated here, in the committing transaction, and the events' hashes cover
/// them.
///
/// The day counter's row stays locked until the transaction commits, and every creating
/// transaction of every node needs it, so on PostgreSQL it is taken as late as possible: the
/// ids come first from the identity's sequence (with `take_shard`, the transaction's aggregate
/// shard in the same statement), then the aggregates (in that shard) and the outboxes are
/// written, and only then the counter, and the order rows, their events and unit rows in one
/// statement. SQLite has one writer, which holds the write lock from the counter's upsert on:
/// the upsert also answers the largest order id, and the new orders are numbered after it (as
/// SQLite would number them itself); the order rows go in statements of their own (kept by the
/// statement cache), the rest in one script.
pub(crate) async fn insert_new(
    tx: Tx<'_>,
    items: &[NewOrderWrite],
    take_shard: bool,
) -> Result<Vec<StoredOrder>> {
    let backend = tx.backend();
    let mut orders: Vec<(TenantId, Order, Vec<Event>)> = items
        .iter()
        .map(|i| (i.tenant, i.order.clone(), i.events.clone()))
        .collect();
    let pii = match items.first() {
        Some(i) => i.pii.clone(),
        None => return Ok(Vec::new()),
    };
    let pg = backend != DbBackend::Sqlite;
    let ids = if pg {
        let ids = reserve_order_ids(tx, orders.len(), take_shard).await?;
        execute_combined(tx, side_sql(&orders, &ids)).await?;
        assign_numbers(tx, &mut orders).await?;
        ids
    } else {
        let top = assign_numbers(tx, &mut orders)
            .await?
            .ok_or(StoreError::corrupt("no day counter was returned"))?;
        (1..=orders.len() as i64)
            .map(|k| OrderId(top + k))
            .collect()
    };
    let mut linked = Vec::with_capacity(orders.len());
    for (t, o, ev) in &orders {
        linked.push(link(&pii, *t, o, String::new(), ev)?);
    }
    let lasts: Vec<String> = linked.iter().map(|l| last_hash(l, "")).collect();
    let duplicate = |e: StoreError| {
        if e.is_unique_violation() {
            StoreError::Duplicate("external_ref")
        } else {
            e
        }
    };
    let mut stmts = order_rows_sql(backend, &pii, &orders, &lasts, &ids)?;
    let mut event_rows = Vec::new();
    for ((t, _, _), (l, id)) in orders.iter().zip(linked.into_iter().zip(&ids)) {
        event_rows.extend(l.into_iter().map(|x| (*t, *id, x)));
    }
    stmts.extend(events_sql(event_rows));
    stmts.extend(unit_parts_sql(
        orders.iter().zip(&ids).map(|((t, o, _), id)| (*t, *id, o)),
    ));
    stmts.extend(crate::insight::order_words_sql(
        items
            .iter()
            .zip(&ids)
            .filter_map(|(i, id)| Some((i.tenant, *id, i.words.as_ref()?))),
    ));
    if !pg {
        stmts.extend(side_sql(&orders, &ids));
    }
    execute_combined(tx, stmts).await.map_err(duplicate)?;
    Ok(orders
        .into_iter()
        .zip(lasts)
        .zip(ids)
        .map(|(((_, order, _), last_hash), id)| StoredOrder {
            id,
            order,
            last_hash,
        })
        .collect())
}

/// `columns` of the tenant's orders `ids`.
pub(crate) fn by_ids_sql(columns: &str, tenant: TenantId, ids: &[OrderId]) -> Sql {
    let mut q = Sql::new(&format!("SELECT {columns} FROM orders WHERE tenant_id = "));
    let t = q.param(tenant.0);
    q.push(&t);
    q.push(" AND id IN (");
    let list = q.in_list(&ids.iter().map(|i| i.0).collect::<Vec<_>>());
    q.push(&list);
    q.push(")");
    q
}

/// Inserts of the `order_units` rows of orders, many to a statement.
fn unit_parts_sql<'a>(
    orders: impl IntoIterator<Item = (TenantId, OrderId, &'a Order)>,
) -> Vec<Sql> {
    let rows: Vec<[Value; UNIT_COLUMNS]> = orders
        .into_iter()
        .flat_map(|(t, id, o)| unit_rows(t, id, o))
        .collect();
    unit_rows_sql(&rows)
}

/// The columns of an `order_units` row.
const UNIT_COLUMNS: usize = 7;

/// The `order_units` rows of an order: one per unit, with the unit's part and the order's
/// status (so a unit's orders in a status are read from its index alone).
fn unit_rows(t: TenantId, id: OrderId, o: &Order) -> Vec<[Value; UNIT_COLUMNS]> {
    unit_parts(o)
        .into_iter()
        .map(move |(unit, (role, status))| {
            [
                t.0.into(),
                id.0.into(),
                unit.0.into(),
                role.as_str().into(),
                status.as_str().into(),
                to_ms(o.accepted_at).into(),
                o.status.as_str().into(),
            ]
        })
        .collect()
}

fn unit_rows_sql(rows: &[[Value; UNIT_COLUMNS]]) -> Vec<Sql> {
    rows_sql(
        "INSERT INTO order_units (tenant_id, order_id, unit_id, role, status, accepted_at, order_status) VALUES ",
        rows,
    )
}

/// `insert` (ending in `VALUES `) of `rows`, a thousand to a statement.
pub(crate) fn rows_sql<const N: usize>(insert: &str, rows: &[[Value; N]]) -> Vec<Sql> {
    rows.chunks(1000)
        .map(|chunk| {
            let mut q = Sql::new(insert);
            for (n, r) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                q.push_values(r.iter().cloned());
                q.push(")");
            }
            q
        })
        .collect()
}

/// PostgreSQL: takes the first of 64 transaction-scoped advisory locks that is free and makes
/// its number the transaction's aggregate shard (`SHARD`), as a scalar subquery that yields
/// the shard taken (or NULL when none is free: shard 0).
pub(crate) const TAKE_SHARD: &str = "(SELECT set_config('jiesu.shard', s::text, true) FROM \
     generate_series(0, 63) AS s WHERE pg_try_advisory_xact_lock(19301, s) LIMIT 1)";

/// PostgreSQL: `n` ids from the sequence of `orders.id`, not locking anything; with
/// `take_shard`, the transaction's aggregate shard in the same statement.
async fn reserve_order_ids(tx: Tx<'_>, n: usize, take_shard: bool) -> Result<Vec<OrderId>> {
    let rows = tx
        .query_all(Statement::from_sql_and_values(
            tx.backend(),
            format!(
                "SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id, {} AS shard \
                 FROM generate_series(1, $1)",
                if take_shard { TAKE_SHARD } else { "NULL" }
            ),
            vec![(n as i64).into()],
        ))
        .await?;
    if rows.len() != n {
        return Err(StoreError::corrupt(
            "the order id sequence gave too few ids",
        ));
    }
    rows.iter().map(|r| Ok(OrderId(col(r, "id")?))).collect()
}

/// Gives each new order its number: one counter upsert for every tenant and local day of the
/// batch, in one statement. SQLite: returns the largest order id as well (see `insert_new`).
async fn assign_numbers(
    tx: Tx<'_>,
    orders: &mut [(TenantId, Order, Vec<Event>)],
) -> Result<Option<i64>> {
    let backend = tx.backend();
    let mut days: BTreeMap<(TenantId, String), Vec<usize>> = BTreeMap::new();
    for (i, (t, o, _)) in orders.iter().enumerate() {
        days.entry((*t, local_day(o.accepted_at)))
            .or_default()
            .push(i);
    }
    let mut q = Sql::new("INSERT INTO order_counters (tenant_id, day, last) VALUES ");
    for (n, ((tenant, day), idx)) in days.iter().enumerate() {
        q.push(if n == 0 { "(" } else { ", (" });
        q.push_values([
            Value::from(tenant.0),
            day.clone().into(),
            (idx.len() as i64).into(),
        ]);
        q.push(")");
    }
    q.push(
        " ON CONFLICT (tenant_id, day) DO UPDATE SET last = order_counters.last + excluded.last \
         RETURNING tenant_id, day, last",
    );
    let sqlite = backend == DbBackend::Sqlite;
    if sqlite {
        q.push(", (SELECT COALESCE(MAX(id), 0) FROM orders) AS top");
    }
    let mut lasts: BTreeMap<(TenantId, String), i64> = BTreeMap::new();
    let mut top = None;
    for r in tx.query_all(q.build(backend)).await? {
        lasts.insert(
            (TenantId(col(&r, "tenant_id")?), col(&r, "day")?),
            col(&r, "last")?,
        );
        if sqlite {
            top = Some(col::<i64>(&r, "top")?);
        }
    }
    for ((tenant, day), idx) in &days {
        let last = *lasts
            .get(&(*tenant, day.clone()))
            .ok_or(StoreError::corrupt("a day counter was not returned"))?;
        let k = idx.len() as i64;
        for (j, i) in idx.iter().enumerate() {
            let (_, o, ev) = &mut orders[*i];
            o.assign_number(ev, &format!("{day}-{:06}", last - k + 1 + j as i64));
        }
    }
    Ok(top)
}

/// The statements of a batch of new orders that do not need their numbers: counts per
/// status, aggregates, and the two outboxes.
fn side_sql(orders: &[(TenantId, Order, Vec<Event>)], ids: &[OrderId]) -> Vec<Sql> {
    let mut counts: BTreeMap<(TenantId, &'static str), (Status, i64)> = BTreeMap::new();
    let mut tallies = TallyDeltas::new();
    let mut changed = Vec::with_capacity(orders.len());
    let mut events = Vec::with_capacity(orders.len());
    for ((t, o, _), id) in orders.iter().zip(ids) {
        counts
            .entry((*t, o.status.as_str()))
            .or_insert((o.status, 0))
            .1 += 1;
        tally_into(&mut tallies, *t, None, &Tally::of(o));
        changed.push((*t, *id));
        events.push((*t, *id, 1, o.version));
    }
    let mut stmts: Vec<Sql> = counts
        .into_iter()
        .map(|((t, _), (st, n))| count_sql(t, st, n))
        .collect();
    stmts.extend(tally_sql(tallies));
    stmts.extend(outbox_sql(&changed));
    stmts.extend(event_outbox_sql(&events));
    stmts
}

/// The order's columns that say what it is and how it stands, as both the insert and the
/// update of its row set them: request type, category, region, status, urgency, emergency,
/// confidential.
fn kind_values(o: &Order) -> [Value; 7] {
    [
        o.request_type.as_str().into(),
        o.category.as_ref().map(|c| c.as_str().to_string()).into(),
        o.location
            .region_code
            .as_ref()
            .map(|r| r.as_str().to_string())
            .into(),
        o.status.as_str().into(),
        o.urgency.as_str().into(),
        o.flags.emergency.into(),
        o.flags.confidential.into(),
    ]
}

/// Inserts of the order rows with their reserved ids, many to a statement.
fn order_rows_sql(
    backend: DbBackend,
    pii: &Keyring,
    orders: &[(TenantId, Order, Vec<Event>)],
    lasts: &[String],
    ids: &[OrderId],
) -> Result<Vec<Sql>> {
    let mut out = Vec::new();
    let rows: Vec<_> = orders.iter().zip(lasts).enumerate().collect();
    for chunk in rows.chunks(400) {
        let mut q = Sql::new(
            "INSERT INTO orders (id, tenant_id, number, channel, request_type, category_code, region_code, status, \
             urgency, emergency, confidential, centre_id, lead_unit_id, citizen_phone, external_ref, title, \
             accepted_at, updated_at, closed_at, due_at, version, last_hash, state, next_alert_at, address_key, \
             citizen_masked_name) VALUES ",
        );
        for (n, (i, ((tenant, o, _), last))) in chunk.iter().enumerate() {
            let state = packed::stored(backend, sealed_state(pii, o)?)?;
            let [a, b, c, d, e, f, g] = kind_values(o);
            let values: [Value; ORDER_COLUMNS] = [
                tenant.0.into(),
                o.number.clone().into(),
                o.channel.as_str().into(),
                a,
                b,
                c,
                d,
                e,
                f,
                g,
                o.centre_id.0.into(),
                o.lead_unit().map(|u| u.0).into(),
                o.citizen
                    .phone
                    .as_ref()
                    .map(|p| pii.seal(p.as_str()).into_owned())
                    .into(),
                o.external_ref.clone().into(),
                o.title.clone().into(),
                to_ms(o.accepted_at).into(),
                to_ms(o.updated_at).into(),
                o.closed_at.map(to_ms).into(),
                o.current_due().map(to_ms).into(),
                (o.version as i32).into(),
                (*last).clone().into(),
                state,
                next_alert_ms(o).into(),
                o.location
                    .address
                    .as_deref()
                    .and_then(jiesu_core::values::address_key)
                    .into(),
                masked_name(&o.citizen).unwrap_or_default().into(),
            ];
            q.push(if n == 0 { "(" } else { ", (" });
            let id = ids.get(*i).ok_or(StoreError::NotFound)?;
            q.push_values([Value::from(id.0)]);
            q.push(", ");
            q.push_values(values);
            q.push(")");
        }
        out.push(q);
    }
    Ok(out)
}

/// An order change turned into rows by its caller (sealing, hashing and serialising stay off
/// the writer's thread), ready for a group commit: on SQLite the rows of every change of a
/// batch go into one statement per table (see `append_together`).
#[derive(Debug)]
pub(crate) struct PreparedChange {
    tenant: TenantId,
    id: OrderId,
    expected_version: u32,
    version: u32,
    /// The order's chain head after the change, and the length of its new (sealed) state:
    /// what the decoded orders keep it under once it is committed.
    last_hash: String,
    state_bytes: u64,
    /// The order row's new columns, `CHANGED_COLUMNS` in order (`update_sql`'s `$3..$20`, `$17`
    /// the expected version).
    row: Vec<Value>,
    events: Vec<[Value; EVENT_COLUMNS]>,
    /// Moves between the per-status counts.
    counts: Vec<(Status, i64)>,
    notices: Vec<Sql>,
    tallies: TallyDeltas,
    /// What changes in the order's `order_units` rows, if anything.
    units: Option<UnitRows>,
}

/// A change to an order's `order_units` rows.
#[derive(Debug)]
enum UnitRows {
    /// Its assignments changed: the rows are written again.
    Rewrite(Vec<[Value; UNIT_COLUMNS]>),
    /// Only the order's status changed: it is set on the rows in place (one index touched,
    /// instead of deleting and inserting every row and its three index entries).
    Status(Status),
}

/// One caller's writes for the writer: order changes, and statements that go with them.
#[derive(Debug)]
pub(crate) struct AppendJob {
    pub changes: Vec<PreparedChange>,
    /// Statements that touch no order's version (run after the changes).
    pub plain: Vec<Sql>,
}

/// The columns an order change sets, in the parameter order of `update_sql` from `$3`.
const CHANGED_COLUMNS: [&str; 18] = [
    "request_type",
    "category_code",
    "region_code",
    "status",
    "urgency",
    "emergency",
    "confidential",
    "lead_unit_id",
    "updated_at",
    "closed_at",
    "due_at",
    "version",
    "last_hash",
    "state",
    "", // $17: the version expected
    "next_alert_at",
    "extension_pending",
    "notice_pending",
];

fn prepare_change(
    backend: DbBackend,
    pii: &Keyring,
    c: &OrderChange,
    units_changed: bool,
) -> Result<PreparedChange> {
    let o = &c.order;
    let sealed = sealed_state(pii, o)?;
    let state_bytes = sealed.len() as u64;
    let state = packed::stored(backend, sealed)?;
    let linked = link(pii, c.tenant, o, c.prev_hash.clone(), &c.events)?;
    let last_hash = last_hash(&linked, &c.prev_hash);
    let head = last_hash.clone();
    let mut row: Vec<Value> = kind_values(o).into();
    row.extend([
        o.lead_unit().map(|u| u.0).into(),
        to_ms(o.updated_at).into(),
        o.closed_at.map(to_ms).into(),
        o.current_due().map(to_ms).into(),
        (o.version as i32).into(),
        last_hash.into(),
        state,
        (c.expected_version as i32).into(),
        next_alert_ms(o).into(),
        (!o.status.is_terminal() && o.extension.as_ref().is_some_and(|e| e.approved.is_none()))
            .into(),
        o.notice_pending().into(),
    ]);
    let mut counts = Vec::new();
    let status_changed = c
        .events
        .first()
        .and_then(|e| e.from)
        .filter(|before| *before != o.status);
    if let Some(before) = status_changed {
        counts.push((before, -1));
        counts.push((o.status, 1));
    }
    let notices = c
        .events
        .iter()
        .filter_map(|e| Notice::of(o, e).map(|n| notice_sql(c.tenant, c.id, &o.number, &n, e.at)))
        .collect();
    let mut tallies = TallyDeltas::new();
    tally_into(&mut tallies, c.tenant, Some(&c.before), &Tally::of(o));
    Ok(PreparedChange {
        tenant: c.tenant,
        id: c.id,
        expected_version: c.expected_version,
        version: o.version,
        last_hash: head,
        state_bytes,
        row,
        events: linked
            .into_iter()
            .map(|l| event_values(c.tenant, c.id, l))
            .collect(),
        counts,
        notices,
        tallies,
        units: if units_changed {
            Some(UnitRows::Rewrite(unit_rows(c.tenant, c.id, o)))
        } else {
            status_changed.map(|_| UnitRows::Status(o.status))
        },
    })
}

/// `SET` assignments of `CHANGED_COLUMNS`, each from `value(n)` (`n` counting from 3).
fn set_changed(value: impl Fn(usize) -> String) -> Vec<String> {
    CHANGED_COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, name)| !name.is_empty())
        .map(|(i, name)| format!("{name} = {}", value(i + 3)))
        .collect()
}

/// One order's update, only from the version the change was decided on.
fn update_sql(c: &PreparedChange) -> Sql {
    let set = set_changed(|i| format!("${i}"));
    let mut values = vec![c.tenant.0.into(), c.id.0.into()];
    values.extend(c.row.iter().cloned());
    Sql {
        text: format!(
            "UPDATE orders SET {} WHERE tenant_id = $1 AND id = $2 AND version = $17",
            set.join(", ")
        ),
        values,
    }
}

/// SQLite: the updates of many orders in one statement (`UPDATE … FROM (VALUES …)`), each
/// only from its expected version.
fn updates_sql(changes: &[&PreparedChange]) -> Vec<Sql> {
    let set = set_changed(|i| format!("v.column{i}"));
    changes
        .chunks(100)
        .map(|chunk| {
            let mut q = Sql::new(&format!(
                "UPDATE orders SET {} FROM (VALUES ",
                set.join(", ")
            ));
            for (n, c) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                let mut values = vec![c.tenant.0.into(), c.id.0.into()];
                values.extend(c.row.iter().cloned());
                q.push_values(values);
                q.push(")");
            }
            q.push(
                ") AS v WHERE orders.tenant_id = v.column1 AND orders.id = v.column2 \
                 AND orders.version = v.column17",
            );
            q
        })
        .collect()
}

/// Everything of `changes` but the order rows: their events, count moves, notices, aggregate
/// moves, outboxes and unit index rows, one statement per table (the rows of many changes
/// together).
fn change_rows_sql(changes: &[&PreparedChange]) -> Vec<Sql> {
    let events: Vec<[Value; EVENT_COLUMNS]> = changes
        .iter()
        .flat_map(|c| c.events.iter().cloned())
        .collect();
    let mut stmts = event_rows_sql(&events);
    let mut counts: BTreeMap<(TenantId, &str), (Status, i64)> = BTreeMap::new();
    let mut tallies = TallyDeltas::new();
    for c in changes {
        for (st, n) in &c.counts {
            counts.entry((c.tenant, st.as_str())).or_insert((*st, 0)).1 += n;
        }
        for (k, d) in &c.tallies {
            add_deltas(&mut tallies, k.clone(), d);
        }
        stmts.extend(c.notices.iter().cloned());
    }
    stmts.extend(
        counts
            .into_iter()
            .filter(|(_, (_, n))| *n != 0)
            .map(|((t, _), (st, n))| count_sql(t, st, n)),
    );
    stmts.extend(tally_sql(tallies));
    let ids: Vec<(TenantId, OrderId)> = changes.iter().map(|c| (c.tenant, c.id)).collect();
    stmts.extend(outbox_sql(&ids));
    let versions: Vec<_> = changes
        .iter()
        .map(|c| (c.tenant, c.id, c.expected_version + 1, c.version))
        .collect();
    stmts.extend(event_outbox_sql(&versions));
    let mut rewrite: BTreeMap<TenantId, Vec<i64>> = BTreeMap::new();
    let mut rows: Vec<[Value; UNIT_COLUMNS]> = Vec::new();
    let mut restatus: BTreeMap<(TenantId, &str), Vec<i64>> = BTreeMap::new();
    for c in changes {
        match &c.units {
            Some(UnitRows::Rewrite(r)) => {
                rewrite.entry(c.tenant).or_default().push(c.id.0);
                rows.extend(r.iter().cloned());
            }
            Some(UnitRows::Status(st)) => {
                restatus
                    .entry((c.tenant, st.as_str()))
                    .or_default()
                    .push(c.id.0);
            }
            None => {}
        }
    }
    for ((t, st), ids) in restatus {
        let mut q = Sql::new("");
        let (st, t, list) = (q.param(st), q.param(t.0), q.in_list(&ids));
        q.push(&format!(
            "UPDATE order_units SET order_status = {st} WHERE tenant_id = {t} AND order_id IN ({list})"
        ));
        stmts.push(q);
    }
    for (t, ids) in rewrite {
        let mut q = Sql::new("");
        let (t, list) = (q.param(t.0), q.in_list(&ids));
        q.push(&format!(
            "DELETE FROM order_units WHERE tenant_id = {t} AND order_id IN ({list})"
        ));
        stmts.push(q);
    }
    stmts.extend(unit_rows_sql(&rows));
    stmts
}

/// Applies one caller's changes, each order's update first: fails with
/// [`StoreError::Concurrent`] if an order moved on since it was read.
pub(crate) async fn append_one(tx: Tx<'_>, job: &AppendJob) -> Result<()> {
    for c in &job.changes {
        if tx.execute(update_sql(c).build(tx.backend())).await? != 1 {
            return Err(StoreError::Concurrent);
        }
        execute_all(tx, change_rows_sql(&[c])).await?;
    }
    execute_all(tx, job.plain.clone()).await
}

/// SQLite: applies many callers' changes together, whatever their number: one read of the
/// versions of every order they touch, then multi-row statements for every change of the
/// callers whose versions still hold (in the order given, so of two callers that read the
/// same version of an order, the first wins). One answer per caller: `Concurrent` for
/// those whose orders moved on. The writer is SQLite's only writer and reads inside its own
/// transaction, so the versions read are the ones the updates meet. An error means nothing
/// can be said of any caller: the writer rolls the whole set back and tries them one by one.
pub(crate) async fn append_together(
    tx: Tx<'_>,
    jobs: &[Arc<AppendJob>],
) -> Result<Vec<Result<()>>> {
    let mut ids: Vec<(i64, i64)> = jobs
        .iter()
        .flat_map(|j| j.changes.iter().map(|c| (c.tenant.0, c.id.0)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut current: std::collections::HashMap<(i64, i64), u32> = Default::default();
    for tenant in ids.chunk_by(|a, b| a.0 == b.0) {
        for chunk in tenant.chunks(500) {
            let mut q = Sql::new("SELECT id, version FROM orders WHERE tenant_id = ");
            let t = q.param(chunk[0].0);
            q.push(&t);
            q.push(" AND id IN (");
            let list = q.in_list(&chunk.iter().map(|(_, id)| *id).collect::<Vec<_>>());
            q.push(&list);
            q.push(")");
            for r in tx.query_all(q.build(DbBackend::Sqlite)).await? {
                let id: i64 = col(&r, "id")?;
                let version: i32 = col(&r, "version")?;
                current.insert((chunk[0].0, id), version as u32);
            }
        }
    }
    let mut accepted: Vec<&PreparedChange> = Vec::new();
    let mut plain: Vec<Sql> = Vec::new();
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        let holds = job
            .changes
            .iter()
            .all(|c| current.get(&(c.tenant.0, c.id.0)) == Some(&c.expected_version));
        if !holds {
            answers.push(Err(StoreError::Concurrent));
            continue;
        }
        for c in &job.changes {
            current.insert((c.tenant.0, c.id.0), c.version);
        }
        accepted.extend(job.changes.iter());
        plain.extend(job.plain.iter().cloned());
        answers.push(Ok(()));
    }
    // Two accepted changes of one order (the second read after the first) cannot share an
    // update statement: each round takes at most one change per order.
    let mut stmts = Vec::new();
    while !accepted.is_empty() {
        let mut seen = std::collections::HashSet::new();
        let (round, later): (Vec<&PreparedChange>, Vec<&PreparedChange>) = accepted
            .into_iter()
            .partition(|c| seen.insert((c.tenant, c.id)));
        stmts.extend(updates_sql(&round));
        stmts.extend(change_rows_sql(&round));
        accepted = later;
    }
    stmts.extend(plain);
    execute_all(tx, stmts).await?;
    Ok(answers)
}

impl Store {
    /// Stores a new order with its first events and allocates its number
    /// (`YYYY-MM-DD-NNNNNN`, per tenant and local day) in the committing transaction.
    /// Concurrent creations share multi-row statements and one commit.
    pub async fn create_order(
        &self,
        tenant: TenantId,
        order: Order,
        events: Vec<Event>,
        words: Option<crate::insight::OrderWords>,
    ) -> Result<StoredOrder> {
        self.writer
            .create(NewOrderWrite {
                tenant,
                order,
                events,
                pii: self.pii.ring(),
                words,
            })
            .await
    }

    /// Appends events to one or more orders atomically (a merge touches two).
    /// Fails with [`StoreError::Concurrent`] if any order moved on since it was read.
    pub async fn append(&self, changes: Vec<(OrderChange, bool)>) -> Result<()> {
        self.append_recording(changes, None).await
    }

    /// [`Self::append`] of a dispatch, with what the dispatch models had suggested for the
    /// order stored in the same transaction (so the dispatch and its outcome wait for one
    /// commit, and neither is stored without the other).
    pub async fn append_recording(
        &self,
        changes: Vec<(OrderChange, bool)>,
        outcome: Option<(TenantId, &crate::dispatch::SuggestionOutcome)>,
    ) -> Result<()> {
        let pii = self.pii.ring();
        let prepared = changes
            .iter()
            .map(|(c, units_changed)| prepare_change(self.backend, &pii, c, *units_changed))
            .collect::<Result<Vec<_>>>()?;
        let heads: Vec<(String, u64)> = prepared
            .iter()
            .map(|p| (p.last_hash.clone(), p.state_bytes))
            .collect();
        self.writer
            .append(AppendJob {
                changes: prepared,
                plain: outcome
                    .map(|(t, o)| crate::dispatch::outcome_sql(t, o))
                    .into_iter()
                    .collect(),
            })
            .await?;
        // Committed: each changed order is kept decoded under its new head, so that the reads
        // that follow a change (the order's next command, the search index, the fan-out, its
        // page) find it without unpacking and parsing the state just written. A change
        // without events keeps its head, under which the entry would then name two states:
        // it is dropped instead.
        for ((c, _), (last_hash, bytes)) in changes.into_iter().zip(heads) {
            if c.events.is_empty() {
                self.decoded.remove(&c.id.0);
                continue;
            }
            self.decoded.insert(
                c.id.0,
                Arc::new(Decoded {
                    last_hash,
                    order: c.order,
                    bytes,
                }),
            );
        }
        Ok(())
    }

    pub async fn order(&self, tenant: TenantId, id: OrderId) -> Result<Option<StoredOrder>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT id, last_hash, state FROM orders WHERE tenant_id = $1 AND id = $2",
                vec![tenant.0.into(), id.0.into()],
            ))
            .await?;
        row.as_ref()
            .map(|r| self.cached_order_from_row(r))
            .transpose()
    }

    /// Rows of the search outbox after `cursor`, in id order: (row id, tenant, order). Every
    /// node's order index follows the outbox with a cursor of its own; rows are removed only
    /// when every node has passed them (`prune_search_outbox`).
    pub async fn search_outbox_after(
        &self,
        cursor: i64,
        limit: u64,
    ) -> Result<Vec<(i64, TenantId, OrderId)>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT id, tenant_id, order_id FROM search_outbox WHERE id > $1 ORDER BY id LIMIT $2",
                vec![cursor.into(), (limit as i64).into()],
            ))
            .await?;
        // The index is kept outside the database: what it takes in must be durable first
        // (see `Store::durable`), or a power loss could leave it past rows the database lost
        // and will number again.
        self.durable().await?;
        rows.iter().map(outbox_row).collect()
    }

    /// The rows of the search outbox with these ids (ids a node saw missing: a transaction
    /// that took them may commit after later ones did).
    pub async fn search_outbox_rows(&self, ids: &[i64]) -> Result<Vec<(i64, TenantId, OrderId)>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut q = Sql::new("SELECT id, tenant_id, order_id FROM search_outbox WHERE id IN (");
            let list = q.in_list(chunk);
            q.push(&list);
            q.push(")");
            for r in self.read.query_all_raw(q.build(self.backend)).await? {
                out.push(outbox_row(&r)?);
            }
        }
        self.durable().await?;
        Ok(out)
    }

    /// The highest id in the search outbox (0 when empty).
    pub async fn search_outbox_last(&self) -> Result<i64> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT COALESCE(MAX(id), 0) AS n FROM search_outbox",
                vec![],
            ))
            .await?;
        self.durable().await?;
        Ok(row.map(|r| col::<i64>(&r, "n")).transpose()?.unwrap_or(0))
    }

    /// Outbox rows after `cursor` (how far a node's index is behind).
    pub async fn search_outbox_behind(&self, cursor: i64) -> Result<u64> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT COUNT(*) AS n FROM search_outbox WHERE id > $1",
                vec![cursor.into()],
            ))
            .await?;
        Ok(row
            .map(|r| col::<i64>(&r, "n"))
            .transpose()?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// When node `node` last reported its index's position, if it ever did.
    pub async fn index_node_seen_at(&self, node: &str) -> Result<Option<DateTime<Utc>>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT seen_at FROM index_nodes WHERE node = $1",
                vec![node.into()],
            ))
            .await?;
        row.map(|r| col::<i64>(&r, "seen_at").map(from_ms))
            .transpose()
    }

    /// Records that node `node` no longer needs outbox rows below `low`.
    pub async fn index_node_report(&self, node: &str, low: i64, now: DateTime<Utc>) -> Result<()> {
        self.write_all(vec![self.stmt(
            "INSERT INTO index_nodes (node, low, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (node) DO UPDATE SET low = excluded.low, seen_at = excluded.seen_at",
            vec![node.into(), low.into(), to_ms(now).into()],
        )])
        .await
    }

    /// Removes the outbox rows every node heard from since `alive_since` has passed (a node
    /// silent for longer rebuilds its index when it comes back). The highest row always stays,
    /// so that SQLite never hands its id out again.
    pub async fn prune_search_outbox(&self, alive_since: DateTime<Utc>) -> Result<()> {
        self.write_all(vec![self.stmt(
            "DELETE FROM search_outbox \
             WHERE id < (SELECT MIN(low) FROM index_nodes WHERE seen_at >= $1) \
               AND id < (SELECT MAX(id) FROM search_outbox)",
            vec![to_ms(alive_since).into()],
        )])
        .await
    }

    /// How many orders there are, in every tenant.
    pub async fn order_total(&self) -> Result<u64> {
        let row = self
            .read
            .query_one_raw(self.stmt("SELECT COUNT(*) AS n FROM orders", vec![]))
            .await?;
        Ok(row.map(|r| col::<i64>(&r, "n")).transpose()?.unwrap_or(0) as u64)
    }

    /// Orders of every tenant after `after` in id order, for rebuilding the index.
    pub async fn orders_after(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(TenantId, StoredOrder)>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT tenant_id, id, last_hash, state FROM orders WHERE id > $1 ORDER BY id LIMIT $2",
                vec![after.into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| Ok((TenantId(col(r, "tenant_id")?), self.order_from_row(r)?)))
            .collect()
    }

    /// Several orders by id (missing ones are left out).
    pub async fn orders_by_ids(
        &self,
        tenant: TenantId,
        ids: &[OrderId],
    ) -> Result<Vec<StoredOrder>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let q = by_ids_sql("id, last_hash, state", tenant, ids);
        let rows = self.read.query_all_raw(q.build(self.backend)).await?;
        rows.iter().map(|r| self.cached_order_from_row(r)).collect()
    }

    /// Several orders' numbers and titles by id, from their columns (no state to read).
    pub async fn order_titles(
        &self,
        tenant: TenantId,
        ids: &[OrderId],
    ) -> Result<std::collections::HashMap<OrderId, (String, String)>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let q = by_ids_sql("id, number, title", tenant, ids);
        let rows = self.read.query_all_raw(q.build(self.backend)).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    OrderId(col(r, "id")?),
                    (col(r, "number")?, col(r, "title")?),
                ))
            })
            .collect()
    }

    pub async fn order_id_by_number(
        &self,
        tenant: TenantId,
        number: &str,
    ) -> Result<Option<OrderId>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT id FROM orders WHERE tenant_id = $1 AND number = $2",
                vec![tenant.0.into(), number.into()],
            ))
            .await?;
        row.map(|r| Ok(OrderId(col(&r, "id")?))).transpose()
    }

    /// The order a source system knows by `external_ref` on `channel` (unique per channel).
    pub async fn order_id_by_external_ref(
        &self,
        tenant: TenantId,
        channel: Channel,
        external_ref: &str,
    ) -> Result<Option<OrderId>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                "SELECT id FROM orders WHERE tenant_id = $1 AND channel = $2 AND external_ref = $3",
                vec![
                    tenant.0.into(),
                    channel.as_str().into(),
                    external_ref.into(),
                ],
            ))
            .await?;
        row.map(|r| Ok(OrderId(col(&r, "id")?))).transpose()
    }

    pub async fn order_events(&self, tenant: TenantId, id: OrderId) -> Result<Vec<StoredEvent>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT payload, prev_hash, hash FROM order_events WHERE tenant_id = $1 AND order_id = $2 ORDER BY seq",
                vec![tenant.0.into(), id.0.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let payload = self.pii.open_json(&col::<String>(r, "payload")?)?;
                Ok(StoredEvent {
                    event: serde_json::from_str(&payload).map_err(StoreError::corrupt)?,
                    prev_hash: col(r, "prev_hash")?,
                    hash: col(r, "hash")?,
                })
            })
            .collect()
    }

    /// A page of orders matching `filter` within `scope`, in a stable order, with the total.
    pub async fn list_orders(
        &self,
        tenant: TenantId,
        scope: &Scope,
        filter: &OrderFilter,
        sort: Sort,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<OrderPage> {
        let page = self
            .list_page(tenant, scope, filter, sort, cursor, limit)
            .await?;
        let mut rows: BTreeMap<i64, StoredOrder> = self
            .orders_by_ids(tenant, &page.items)
            .await?
            .into_iter()
            .map(|o| (o.id.0, o))
            .collect();
        // A row deleted between the two reads cannot happen (orders are never deleted).
        page.try_map(|id| rows.remove(&id.0).ok_or(StoreError::NotFound))
    }

    /// [`Self::list_orders`] as lists show it: from the rows' columns, no state decoded (but
    /// for orders stored before their rows kept the citizen's masked name).
    pub async fn list_summaries(
        &self,
        tenant: TenantId,
        scope: &Scope,
        filter: &OrderFilter,
        sort: Sort,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<OrderPage<OrderSummary>> {
        let page = self
            .list_page(tenant, scope, filter, sort, cursor, limit)
            .await?;
        let mut rows: BTreeMap<i64, OrderSummary> = BTreeMap::new();
        let mut older = Vec::new();
        if !page.items.is_empty() {
            let q = by_ids_sql(SUMMARY_COLUMNS, tenant, &page.items);
            for r in self.read.query_all_raw(q.build(self.backend)).await? {
                match col::<Option<String>>(&r, "citizen_masked_name")? {
                    Some(name) => {
                        let o = OrderSummary::from_row(&r, name)?;
                        rows.insert(o.id.0, o);
                    }
                    None => older.push(OrderId(col(&r, "id")?)),
                }
            }
        }
        for o in self.orders_by_ids(tenant, &older).await? {
            rows.insert(o.id.0, OrderSummary::of(o.id, &o.order));
        }
        page.try_map(|id| rows.remove(&id.0).ok_or(StoreError::NotFound))
    }

    /// The ids of a page of orders matching `filter` within `scope`, with the total.
    async fn list_page(
        &self,
        tenant: TenantId,
        scope: &Scope,
        filter: &OrderFilter,
        sort: Sort,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<OrderPage<OrderId>> {
        let dated = filter.with_number_dates();
        let filter = dated.as_ref().unwrap_or(filter);
        let counts = self.status_counts(tenant).await?;
        let all: u64 = counts.values().sum();
        let mut base = Sql::new("");
        let wh = list_where(
            self.backend,
            &mut base,
            &self.pii.ring(),
            tenant,
            scope,
            filter,
            sort,
        );
        // A unit's inbox in order of acceptance is read from `order_units` alone, in the
        // order of its index: a page costs the same however long the inbox.
        let inbox = filter
            .inbox()
            .filter(|i| match scope {
                Scope::All => true,
                Scope::Units(mine) => i.units.iter().all(|u| mine.contains(u)),
            })
            .filter(|_| matches!(sort, Sort::AcceptedDesc | Sort::AcceptedAsc));
        let by_due = due_hint(self.backend, filter, sort);
        let (total, total_capped) = match cursor {
            Some(c) => (c.total, c.total_capped),
            None if matches!(scope, Scope::All) && filter.status_only() => {
                let n = if filter.statuses.is_empty() {
                    all
                } else {
                    filter
                        .statuses
                        .iter()
                        .map(|s| counts.get(s.as_str()).copied().unwrap_or(0))
                        .sum()
                };
                (n, false)
            }
            None => {
                let mut q = match &inbox {
                    Some(i) => {
                        let mut q = Sql::new("SELECT COUNT(*) AS n FROM (");
                        let sel = i.select(self.backend, &mut q, tenant, "fu.order_id");
                        q.push(&sel);
                        q
                    }
                    None => {
                        let mut q = Sql::new(&format!(
                            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders o{by_due} WHERE "
                        ));
                        q.push(&wh);
                        q.values = base.values.clone();
                        q
                    }
                };
                let cap = q.param(COUNT_CAP as i64 + 1);
                q.push(&format!(" LIMIT {cap}) AS matches"));
                let key = ListTotals::key(&q);
                match self.totals.reused(key) {
                    Some(total) => total,
                    None => {
                        let row = self.read.query_one_raw(q.build(self.backend)).await?;
                        let n = match &row {
                            Some(r) => col::<i64>(r, "n")? as u64,
                            None => 0,
                        };
                        let total = (n.min(COUNT_CAP), n > COUNT_CAP);
                        self.totals.counted(key, total);
                        total
                    }
                }
            }
        };
        if total == 0 {
            return Ok(OrderPage {
                items: Vec::new(),
                total: 0,
                total_capped: false,
                next: None,
            });
        }
        // Which way to find the page (see SCAN_BUDGET). PostgreSQL's planner has the
        // statistics to choose by itself.
        let walk_list = self.backend == DbBackend::Sqlite
            && matches!(sort, Sort::AcceptedDesc | Sort::AcceptedAsc)
            && matches!(scope, Scope::All)
            && filter.covered_by_list_index()
            // The orders due in a range are not spread evenly over the acceptance times (the
            // overdue ones are the oldest): up to the cap, they are read from their index.
            && (total_capped || !filter.due_bounded())
            && (u64::from(limit) + 1).saturating_mul(all) / total <= SCAN_BUDGET;
        let key = sort.column();
        let dir = if sort.descending() { "DESC" } else { "ASC" };
        let hint = if walk_list {
            " INDEXED BY orders_list"
        } else {
            by_due
        };
        // First the page's ids (a sort, if any, is of keys only), then its rows.
        let (mut q, key, id) = match &inbox {
            Some(i) => {
                let mut q = Sql::new("");
                let sel = i.select(
                    self.backend,
                    &mut q,
                    tenant,
                    "fu.order_id AS id, fu.accepted_at AS sort_key",
                );
                q.push(&sel);
                (q, "fu.accepted_at".to_string(), "fu.order_id")
            }
            None => {
                let mut q = Sql::new(&format!(
                    "SELECT o.id, o.{key} AS sort_key FROM orders o{hint} WHERE "
                ));
                q.push(&wh);
                q.values = base.values;
                (q, format!("o.{key}"), "o.id")
            }
        };
        if let Some(c) = cursor {
            let op = if sort.descending() { "<" } else { ">" };
            let k = q.param(c.key);
            let i = q.param(c.id);
            q.push(&format!(" AND ({key}, {id}) {op} ({k}, {i})"));
        }
        let lim = q.param(i64::from(limit) + 1);
        q.push(&format!(" ORDER BY {key} {dir}, {id} {dir} LIMIT {lim}"));
        let keys = self.read.query_all_raw(q.build(self.backend)).await?;
        let has_more = keys.len() > limit as usize;
        let page: Vec<(i64, Option<i64>)> = keys
            .iter()
            .take(limit as usize)
            .map(|r| Ok((col::<i64>(r, "id")?, col::<Option<i64>>(r, "sort_key")?)))
            .collect::<Result<_>>()?;
        let items = page.iter().map(|(id, _)| OrderId(*id)).collect();
        let next = match (has_more, page.last()) {
            (true, Some((id, key))) => Some(Cursor {
                key: key.unwrap_or(0),
                id: *id,
                total,
                total_capped,
            }),
            _ => None,
        };
        Ok(OrderPage {
            items,
            total,
            total_capped,
            next,
        })
    }

    /// A tenant's orders per status.
    pub async fn status_counts(&self, tenant: TenantId) -> Result<BTreeMap<String, u64>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM order_counts WHERE tenant_id = $1 GROUP BY status",
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    col::<String>(r, "status")?,
                    col::<i64>(r, "n")?.max(0) as u64,
                ))
            })
            .collect()
    }

    /// Checks every order's chain, its stored state against a replay of its events, and the
    /// row's version and last hash; `progress` is called with the orders checked so far.
    pub async fn verify(&self, mut progress: impl FnMut(u64)) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for t in self.tenants().await? {
            let mut after = 0i64;
            let mut tallies = TallyDeltas::new();
            loop {
                let orders = self
                    .read
                    .query_all_raw(self.stmt(
                        "SELECT id, number, version, last_hash, state FROM orders WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT 500",
                        vec![t.id.0.into(), after.into()],
                    ))
                    .await?;
                let (Some(first), Some(last)) = (orders.first(), orders.last()) else {
                    break;
                };
                let lo: i64 = col(first, "id")?;
                let hi: i64 = col(last, "id")?;
                after = hi;
                let events = self
                    .read
                    .query_all_raw(self.stmt(
                        "SELECT order_id, seq, kind, payload, prev_hash, hash FROM order_events \
                         WHERE tenant_id = $1 AND order_id >= $2 AND order_id <= $3 ORDER BY order_id, seq",
                        vec![t.id.0.into(), lo.into(), hi.into()],
                    ))
                    .await?;
                let mut by_order: BTreeMap<i64, Vec<&crate::lite::Row>> = BTreeMap::new();
                for e in &events {
                    by_order.entry(col(e, "order_id")?).or_default().push(e);
                }
                for o in &orders {
                    let id: i64 = col(o, "id")?;
                    let evs = by_order.remove(&id).unwrap_or_default();
                    report.orders += 1;
                    report.events += evs.len() as u64;
                    let state = packed::state_of(o, self.backend);
                    if let Ok(order) = state
                        .as_deref()
                        .map_err(StoreError::corrupt)
                        .and_then(|s| self.pii.open_json(s).map_err(StoreError::from))
                        .and_then(|s| {
                            serde_json::from_str::<Order>(&s).map_err(StoreError::corrupt)
                        })
                    {
                        tally_into(&mut tallies, t.id, None, &Tally::of(&order));
                    }
                    let state = state.map_err(|e| (0, format!("unreadable column state: {e}")));
                    if let Err((seq, reason)) = verify_one(&self.pii, t.id, o, state, &evs) {
                        report.problems.push(VerifyProblem {
                            tenant_id: t.id,
                            order_id: OrderId(id),
                            number: col(o, "number")?,
                            seq,
                            reason,
                        });
                    }
                }
                progress(report.orders);
            }
            // The kept counts agree with the orders.
            let kept = self.status_counts(t.id).await?;
            let rows = self
                .read
                .query_all_raw(self.stmt(
                    "SELECT status, COUNT(*) AS n FROM orders WHERE tenant_id = $1 GROUP BY status",
                    vec![t.id.0.into()],
                ))
                .await?;
            let mut actual: BTreeMap<String, u64> = BTreeMap::new();
            for r in &rows {
                actual.insert(col(r, "status")?, col::<i64>(r, "n")? as u64);
            }
            for status in kept
                .keys()
                .chain(actual.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                let (k, a) = (
                    kept.get(status).copied().unwrap_or(0),
                    actual.get(status).copied().unwrap_or(0),
                );
                if k != a {
                    report.problems.push(VerifyProblem {
                        tenant_id: t.id,
                        order_id: OrderId(0),
                        number: "-".into(),
                        seq: 0,
                        reason: format!("order_counts says {k} orders are {status}, there are {a}"),
                    });
                }
            }
            // The aggregates of the rates agree with a recount.
            tallies.retain(|_, d| d.iter().any(|x| *x != 0));
            let kept = self.stat_rows(t.id).await?;
            if kept != tallies {
                let differ = kept
                    .iter()
                    .filter(|(k, d)| tallies.get(*k) != Some(*d))
                    .map(|(k, _)| k)
                    .chain(tallies.keys().filter(|k| !kept.contains_key(*k)))
                    .count();
                report.problems.push(VerifyProblem {
                    tenant_id: t.id,
                    order_id: OrderId(0),
                    number: "-".into(),
                    seq: 0,
                    reason: format!(
                        "stat_daily differs from a recount of the orders in {differ} rows"
                    ),
                });
            }
        }
        Ok(report)
    }
}

fn verify_one(
    pii: &PiiKeys,
    tenant: TenantId,
    o: &crate::lite::Row,
    state: std::result::Result<String, (u32, String)>,
    evs: &[&crate::lite::Row],
) -> std::result::Result<(), (u32, String)> {
    use crate::lite::Cols;
    let get = |r: &crate::lite::Row, c: &str| -> std::result::Result<String, (u32, String)> {
        r.try_get::<String>("", c)
            .map_err(|e| (0, format!("unreadable column {c}: {e}")))
    };
    let number = get(o, "number")?;
    let mut links = Vec::with_capacity(evs.len());
    let mut payloads = Vec::with_capacity(evs.len());
    for e in evs {
        let seq: i32 = e.try_get("", "seq").map_err(|x| (0, x.to_string()))?;
        // The chain covers the plaintext: a sealed value that does not open is a problem.
        let payload = pii
            .open_json(&get(e, "payload")?)
            .map_err(|x| (seq as u32, x.to_string()))?;
        links.push((
            seq as u32,
            get(e, "prev_hash")?,
            get(e, "hash")?,
            payload,
            get(e, "kind")?,
        ));
    }
    let last = chain::verify(
        tenant,
        &number,
        links.iter().map(|(seq, p, h, j, _)| chain::Link {
            seq: *seq,
            prev_hash: p,
            hash: h,
            payload_json: j,
        }),
    )
    .map_err(|b| (b.seq, b.reason))?;
    for (seq, _, _, payload, kind) in &links {
        let e: Event =
            serde_json::from_str(payload).map_err(|x| (*seq, format!("unreadable event: {x}")))?;
        if e.seq != *seq || e.kind.name() != kind {
            return Err((*seq, "the event's columns disagree with its content".into()));
        }
        payloads.push(e);
    }
    if get(o, "last_hash")? != last {
        return Err((
            0,
            "the order's last_hash is not the hash of its last event".into(),
        ));
    }
    let version: i32 = o.try_get("", "version").map_err(|x| (0, x.to_string()))?;
    if version as usize != payloads.len() {
        return Err((
            0,
            format!(
                "the order says version {version} but has {} events",
                payloads.len()
            ),
        ));
    }
    let state = pii.open_json(&state?).map_err(|x| (0, x.to_string()))?;
    let state: Order =
        serde_json::from_str(&state).map_err(|x| (0, format!("unreadable state: {x}")))?;
    match Order::replay(&payloads) {
        Some(replayed) if replayed == state => Ok(()),
        Some(_) => Err((
            0,
            "the stored state differs from the replay of its events".into(),
        )),
        None => Err((0, "the events do not form a valid history".into())),
    }
}

/// Orders of some units in one assignment status (a unit's inbox) or in some order statuses
/// (a unit's orders in progress), from their `order_units` rows.
struct Inbox<'a> {
    units: &'a [UnitId],
    status: InboxStatus<'a>,
}

#[derive(Clone, Copy)]
enum InboxStatus<'a> {
    /// The units' part of the order is in this state.
    Part(AssignmentStatus),
    /// The order is in one of these statuses.
    Order(&'a [Status]),
}

impl Inbox<'_> {
    /// `SELECT columns FROM order_units fu WHERE` the inbox's rows, each order once (an order
    /// can be in two units of a subtree), from the unit index.
    fn select(&self, backend: DbBackend, q: &mut Sql, tenant: TenantId, columns: &str) -> String {
        let distinct = if self.units.len() > 1 {
            "DISTINCT "
        } else {
            ""
        };
        let t = q.param(tenant.0);
        let ids: Vec<i64> = self.units.iter().map(|u| u.0).collect();
        let units = q.in_list(&ids);
        let (index, status) = match self.status {
            InboxStatus::Part(part) => (
                "order_units_unit",
                format!("fu.status = {}", q.param(part.as_str())),
            ),
            InboxStatus::Order(statuses) => (
                "order_units_order_status",
                format!("fu.order_status IN ({})", status_list(q, statuses)),
            ),
        };
        // Without statistics SQLite would rather walk the table's key by tenant.
        let hint = if backend == DbBackend::Sqlite {
            format!(" INDEXED BY {index}")
        } else {
            String::new()
        };
        format!(
            "SELECT {distinct}{columns} FROM order_units fu{hint} WHERE fu.tenant_id = {t} AND fu.unit_id IN ({units}) AND {status}"
        )
    }
}

/// Order statuses as a parameter list of `q`.
fn status_list(q: &mut Sql, statuses: &[Status]) -> String {
    let v: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    q.in_list(&v)
}

/// The index a list by deadline is read from on SQLite, as a clause after the table: orders
/// in some statuses due in a range (or sorted by deadline) as one range of
/// `orders_status_due` per status, orders of any status due in a range from `orders_due`.
/// Left to itself, SQLite (without statistics) walks `orders_due` through every order due in
/// the range, whatever its status, to spare the sort of the few that match, or walks
/// `orders_list` from the newest order to find the oldest overdue ones.
fn due_hint(backend: DbBackend, filter: &OrderFilter, sort: Sort) -> &'static str {
    if backend != DbBackend::Sqlite || !filter.covered_by_list_index() {
        ""
    } else if !filter.statuses.is_empty() && (filter.due_bounded() || sort == Sort::DueAsc) {
        " INDEXED BY orders_status_due"
    } else if filter.due_bounded() {
        " INDEXED BY orders_due"
    } else {
        ""
    }
}

/// The condition of a list query (`o` the orders) for `backend`.
fn list_where(
    backend: DbBackend,
    q: &mut Sql,
    pii: &Keyring,
    tenant: TenantId,
    scope: &Scope,
    f: &OrderFilter,
    sort: Sort,
) -> String {
    let mut w = vec![format!("o.tenant_id = {}", q.param(tenant.0))];
    // A filter by units within the scope implies it (an order assigned to one of them is
    // assigned within the scope): the scope's test per order is left out.
    let implied = match (scope, &f.units) {
        (Scope::Units(mine), Some(wanted)) => {
            !wanted.is_empty() && wanted.iter().all(|u| mine.contains(u))
        }
        _ => false,
    };
    if let Scope::Units(units) = scope
        && !implied
    {
        if units.is_empty() {
            w.push("1 = 0".into());
        } else {
            let ids: Vec<i64> = units.iter().map(|u| u.0).collect();
            let a = q.in_list(&ids);
            let b = q.in_list(&ids);
            w.push(format!(
                "(o.centre_id IN ({a}) OR EXISTS (SELECT 1 FROM order_units su WHERE su.tenant_id = o.tenant_id AND su.order_id = o.id AND su.unit_id IN ({b})))"
            ));
        }
    }
    if !f.statuses.is_empty() {
        w.push(format!("o.status IN ({})", status_list(q, &f.statuses)));
    }
    if !f.request_types.is_empty() {
        let v: Vec<&str> = f.request_types.iter().map(|s| s.as_str()).collect();
        w.push(format!("o.request_type IN ({})", q.in_list(&v)));
    }
    if !f.channels.is_empty() {
        let v: Vec<&str> = f.channels.iter().map(|s| s.as_str()).collect();
        w.push(format!("o.channel IN ({})", q.in_list(&v)));
    }
    if let Some(c) = &f.category {
        // Category codes nest with '.', so `c` and `c.…` sort in [c, c + '/').
        let lo = q.param(c.clone());
        let hi = q.param(prefix_bound(c, '/'));
        w.push(format!(
            "o.category_code >= {lo} AND o.category_code < {hi}"
        ));
    }
    if !f.categories.is_empty() {
        w.push(format!("o.category_code IN ({})", q.in_list(&f.categories)));
    }
    if f.categorised {
        w.push("o.category_code IS NOT NULL".into());
    }
    if let Some(r) = &f.region {
        // Division codes nest by digits: `r` and `r…` sort in [r, r + ':').
        let lo = q.param(r.clone());
        let hi = q.param(prefix_bound(r, ':'));
        w.push(format!("o.region_code >= {lo} AND o.region_code < {hi}"));
    }
    if let Some(units) = &f.units {
        let ids: Vec<i64> = units.iter().map(|u| u.0).collect();
        let list = if ids.is_empty() {
            "NULL".to_string()
        } else {
            q.in_list(&ids)
        };
        let t = q.param(tenant.0);
        let mut status = match f.assignment_status {
            Some(s) => format!(" AND fu.status = {}", q.param(s.as_str())),
            None => String::new(),
        };
        if !f.statuses.is_empty() {
            // The order's status is on its units' rows too: fewer ids from the subquery.
            let list = status_list(q, &f.statuses);
            status.push_str(&format!(" AND fu.order_status IN ({list})"));
        }
        // The units' orders are found from their `order_units` rows (index by unit and
        // status), not by checking each order of the tenant.
        w.push(format!(
            "o.id IN (SELECT fu.order_id FROM order_units fu WHERE fu.tenant_id = {t} AND fu.unit_id IN ({list}){status})"
        ));
    }
    if let Some(t) = f.accepted_from {
        w.push(format!("o.accepted_at >= {}", q.param(to_ms(t))));
    }
    if let Some(t) = f.accepted_to {
        w.push(format!("o.accepted_at < {}", q.param(to_ms(t))));
    }
    if let Some(now) = f.overdue_at {
        w.push(format!("o.due_at < {}", q.param(to_ms(now))));
    }
    if let Some((from, to)) = f.due_between {
        let a = q.param(to_ms(from));
        let b = q.param(to_ms(to));
        w.push(format!("o.due_at >= {a} AND o.due_at < {b}"));
    }
    if let Some(p) = &f.number_prefix {
        let lo = q.param(p.clone());
        let hi = q.param(prefix_bound(p, '\u{7f}'));
        w.push(format!("o.number >= {lo} AND o.number < {hi}"));
    }
    if let Some(e) = f.emergency {
        w.push(format!("o.emergency = {}", q.param(e)));
    }
    if let Some(p) = &f.citizen_phone {
        // Sealed under any of the keys, or stored before sealing.
        w.push(format!(
            "o.citizen_phone IN ({})",
            q.in_list(&pii.lookups(p))
        ));
    }
    if f.extension_pending {
        w.push(format!("o.extension_pending = {}", q.param(true)));
    }
    if f.notice_pending {
        w.push(format!("o.notice_pending = {}", q.param(true)));
    }
    // Implied by a bound on the deadline, and not to be added then: SQLite would take it as
    // the range's lower bound in place of the bound (walking every deadline before the end).
    if sort == Sort::DueAsc && !f.due_bounded() {
        w.push("o.due_at IS NOT NULL".into());
    }
    if backend == DbBackend::Sqlite && f.units.is_some() {
        // SQLite without statistics would rather walk an index of the tenant's orders and
        // test each against the units' list: the `+` keeps `o.tenant_id` from choosing an
        // index, so the orders are looked up by id from the list.
        if let Some(first) = w.first_mut() {
            first.insert(0, '+');
        }
    }
    w.join(" AND ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, TransactionTrait};

    /// SQLite's plan for `sql`, one line per step.
    pub(crate) async fn sqlite_plan(store: &Store, sql: Statement) -> Vec<String> {
        let sql = Statement {
            sql: format!("EXPLAIN QUERY PLAN {}", sql.sql),
            ..sql
        };
        store
            .read
            .query_all_raw(sql)
            .await
            .unwrap()
            .iter()
            .map(|r| crate::col::<String>(r, "detail").unwrap())
            .collect()
    }

    pub(crate) async fn sqlite_store() -> (tempfile::TempDir, Store) {
        sqlite_store_with(&crate::StoreOptions::default()).await
    }

    pub(crate) async fn sqlite_store_with(
        opts: &crate::StoreOptions,
    ) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let store = Store::open(&url, opts).await.unwrap();
        (dir, store)
    }

    /// Stores a new order alone; its id.
    pub(crate) async fn create(store: &Store, new: NewOrderWrite) -> OrderId {
        store
            .create_order(new.tenant, new.order, new.events, None)
            .await
            .unwrap()
            .id
    }

    /// Tenant 1, which the store tests' orders belong to.
    pub(crate) async fn tenant_one(store: &Store) {
        store
            .write_all(vec![store.stmt(
                "INSERT INTO tenants (id, code, name, created_at) VALUES (1, 't', 't', 0)",
                vec![],
            )])
            .await
            .unwrap();
    }

    /// Two bare order rows (ids 1 and 2, version 1) of tenant 1.
    async fn two_orders(store: &Store) {
        tenant_one(store).await;
        store
            .write_all(vec![
                store.stmt(
                    "INSERT INTO orders (tenant_id, id, number, channel, request_type, status, urgency, \
                     emergency, confidential, centre_id, title, accepted_at, updated_at, version, last_hash, state) \
                     VALUES (1, 1, 'n1', 'phone', 'complaint', 'pending_review', 'normal', FALSE, FALSE, 1, 't', 0, 0, 1, '', '{}'), \
                     (1, 2, 'n2', 'phone', 'complaint', 'pending_review', 'normal', FALSE, FALSE, 1, 't', 0, 0, 1, '', '{}')",
                    vec![],
                ),
            ])
            .await
            .unwrap();
    }

    /// A change of order `id` from `from` to `from + 1` that marks the row's hash with
    /// `mark`, with `notices` (any statements) after it.
    fn change(id: i64, from: u32, mark: &str, notices: Vec<Sql>) -> AppendJob {
        let null_i = || Value::BigInt(None);
        let row: Vec<Value> = vec![
            "complaint".into(),
            Value::String(None),
            Value::String(None),
            "pending_review".into(),
            "normal".into(),
            false.into(),
            false.into(),
            null_i(),
            0i64.into(),
            null_i(),
            null_i(),
            (from as i32 + 1).into(),
            mark.into(),
            "{}".into(),
            (from as i32).into(),
            null_i(),
            false.into(),
            false.into(),
        ];
        assert_eq!(row.len(), CHANGED_COLUMNS.len());
        AppendJob {
            changes: vec![PreparedChange {
                tenant: TenantId(1),
                id: OrderId(id),
                expected_version: from,
                version: from + 1,
                last_hash: mark.into(),
                state_bytes: 2,
                row,
                events: Vec::new(),
                counts: Vec::new(),
                notices,
                tallies: TallyDeltas::new(),
                units: None,
            }],
            plain: Vec::new(),
        }
    }

    async fn row(store: &Store, id: i64) -> (i32, String) {
        let r = store
            .read
            .query_one_raw(store.stmt(
                "SELECT version, last_hash FROM orders WHERE tenant_id = 1 AND id = $1",
                vec![id.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        (col(&r, "version").unwrap(), col(&r, "last_hash").unwrap())
    }

    /// A fresh PostgreSQL database on `JIESU_TEST_POSTGRES_URL`'s server, dropped by the
    /// caller (`None`, said, when the variable is unset; under CI that is a failure).
    async fn pg_database(tag: &str) -> Option<(String, String)> {
        use sqlx::Connection;
        let base = match std::env::var("JIESU_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert!(
                    !std::env::var("CI").is_ok_and(|v| v == "true"),
                    "JIESU_TEST_POSTGRES_URL is not set: under CI the PostgreSQL tests must run"
                );
                eprintln!("SKIPPED: PostgreSQL test (set JIESU_TEST_POSTGRES_URL to run it)");
                return None;
            }
        };
        let name = format!("jiesu_store_{tag}_{}", std::process::id());
        let mut c = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut c)
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .unwrap();
        let cut = base.rfind('/').unwrap();
        Some((base.clone(), format!("{}/{name}", &base[..cut])))
    }

    /// Runs `check` on a store over a fresh PostgreSQL database named after `tag`, then drops
    /// it (skipped where no PostgreSQL is configured, outside CI).
    async fn on_postgres(tag: &str, check: impl AsyncFnOnce(&Store)) {
        let Some((base, url)) = pg_database(tag).await else {
            return;
        };
        let store = Store::open(&url, &crate::StoreOptions::default())
            .await
            .unwrap();
        check(&store).await;
        store.close().await;
        drop_database(&base, &url).await;
    }

    /// An accepted order of `tenant` at `at` (UTC), with its events.
    fn accepted(store: &Store, tenant: i64, at: &str) -> NewOrderWrite {
        accepted_from(store, tenant, at.parse().unwrap(), None, None)
    }

    /// A noise complaint of `tenant` accepted at `now` by a centre's agent, from `phone` about
    /// `address`, with its events.
    pub(crate) fn accepted_from(
        store: &Store,
        tenant: i64,
        now: DateTime<Utc>,
        phone: Option<&str>,
        address: Option<&str>,
    ) -> NewOrderWrite {
        use jiesu_core::order::*;
        let (org, actor, calendar, rules) = centre_agent();
        let new = NewOrder {
            channel: Channel::Phone,
            request_type: RequestType::Complaint,
            category: None,
            title: "噪音扰民".into(),
            content: "夜间施工噪音扰民".into(),
            citizen: Citizen {
                phone: phone.map(|p| jiesu_core::values::Phone::parse("phone", p).unwrap()),
                ..Citizen::default()
            },
            location: Location {
                address: address.map(str::to_string),
                ..Location::default()
            },
            urgency: Urgency::Normal,
            flags: Flags::default(),
            external_ref: None,
            query_code_hash: None,
            source: Default::default(),
        };
        let ctx = Ctx {
            now,
            actor: &actor,
            org: &org,
            calendar: &calendar,
            rules: &rules,
        };
        let (order, events) = Order::accept(new, None, &ctx).unwrap();
        NewOrderWrite {
            tenant: TenantId(tenant),
            order,
            events,
            pii: store.pii.ring(),
            words: None,
        }
    }

    /// A city centre (unit 1) with its agent, and the official calendar and rules: what the
    /// store tests' orders are decided with.
    fn centre_agent() -> (
        jiesu_core::org::OrgTree,
        jiesu_core::order::Actor,
        jiesu_core::calendar::Calendar,
        jiesu_core::deadline::TimeRules,
    ) {
        use jiesu_core::org::{OrgTree, Unit, UnitKind};
        use jiesu_core::role::{Role, RoleSet};
        use jiesu_core::{UnitId, UserId};
        let org = OrgTree::new([Unit {
            id: UnitId(1),
            parent_id: None,
            kind: UnitKind::CityCentre,
            name: "中心".into(),
            region_code: None,
            active: true,
        }]);
        let actor = jiesu_core::order::Actor {
            user_id: UserId(1),
            username: "agent".into(),
            roles: RoleSet::of(&[Role::Agent]),
            unit_id: UnitId(1),
        };
        (
            org,
            actor,
            jiesu_core::calendar::Calendar::official(),
            jiesu_core::deadline::TimeRules::ordos(),
        )
    }

    /// The centre's agent marks `read` urgent: the change, with its event, as the store takes
    /// it.
    fn made_urgent(t: TenantId, read: &StoredOrder) -> OrderChange {
        use jiesu_core::order::*;
        let (org, actor, calendar, rules) = centre_agent();
        let ctx = Ctx {
            now: read.order.updated_at + chrono::Duration::minutes(5),
            actor: &actor,
            org: &org,
            calendar: &calendar,
            rules: &rules,
        };
        let mut order = read.order.clone();
        let events = order
            .execute(
                &Command::Amend {
                    request_type: None,
                    category: None,
                    region_code: None,
                    urgency: Some(Urgency::Urgent),
                    flags: FlagsPatch::default(),
                    reason: "来电人再次来电，情况紧急".into(),
                },
                &ctx,
            )
            .unwrap();
        OrderChange {
            tenant: t,
            id: read.id,
            expected_version: read.order.version,
            prev_hash: read.last_hash.clone(),
            before: Tally::of(&read.order),
            order,
            events,
        }
    }

    /// One batch of new orders of two tenants on two local days: the counters of all four
    /// (tenant, day) pairs move in the batch's one reserving statement, every order gets the
    /// next numbers of its own pair, in batch order, and the id its rows are stored under.
    async fn a_batch_of_two_tenants_and_two_days(store: &Store, pg: bool) {
        store
            .write_all(vec![store.stmt(
                "INSERT INTO tenants (id, code, name, created_at) VALUES (1, 'a', 'a', 0), (2, 'b', 'b', 0)",
                vec![],
            )])
            .await
            .unwrap();
        // Days in China time: 12-01 (04:00 UTC is noon) and 12-02 (16:30 UTC is 00:30 next day).
        let (d1, d2) = ("2026-12-01T04:00:00Z", "2026-12-01T16:30:00Z");
        // Tenant 1 has one order of 12-01 already, stored alone.
        let one = accepted(store, 1, d1);
        let first = store
            .create_order(one.tenant, one.order, one.events, None)
            .await
            .unwrap();
        assert_eq!(first.order.number, "2026-12-01-000001");
        let plan = [
            (1, d1),
            (2, d2),
            (1, d2),
            (1, d1),
            (2, d1),
            (2, d2),
            (1, d1),
        ];
        let items: Vec<NewOrderWrite> =
            plan.iter().map(|(t, at)| accepted(store, *t, at)).collect();
        let txn = store.write.begin().await.unwrap();
        let stored = insert_new(Tx::Sea(&txn), &items, pg).await.unwrap();
        if pg {
            // The reserving statement took the transaction's aggregate shard.
            let shard = txn
                .query_one_raw(Statement::from_string(
                    store.backend,
                    "SELECT current_setting('jiesu.shard', true) AS s",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(col::<String>(&shard, "s").unwrap(), "0");
        }
        txn.commit().await.unwrap();
        let numbers: Vec<&str> = stored.iter().map(|s| s.order.number.as_str()).collect();
        assert_eq!(
            numbers,
            [
                "2026-12-01-000002",
                "2026-12-02-000001",
                "2026-12-02-000001",
                "2026-12-01-000003",
                "2026-12-01-000001",
                "2026-12-02-000002",
                "2026-12-01-000004",
            ]
        );
        let mut ids: Vec<i64> = stored.iter().map(|s| s.id.0).collect();
        assert!(ids.iter().all(|id| *id > first.id.0), "{ids:?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), plan.len(), "ids are unique");
        for (s, (t, _)) in stored.iter().zip(plan) {
            let read = store.order(TenantId(t), s.id).await.unwrap().unwrap();
            assert_eq!(read.order.number, s.order.number);
            assert_eq!(read.last_hash, s.last_hash);
        }
        let counts = store.status_counts(TenantId(1)).await.unwrap();
        assert_eq!(counts.values().sum::<u64>(), 5, "{counts:?}");
        let report = store.verify(|_| {}).await.unwrap();
        assert_eq!((report.orders, report.problems.len()), (8, 0));
    }

    /// Node `a` keeps the orders it reads decoded; node `b` (another connection to the same
    /// database) changes one under a new chain head before each of `a`'s reads: by id, by
    /// ids and in a list, `a` gives the row as it now is, never the order it kept.
    async fn decoded_orders_follow_the_rows(a: &Store, b: &Store) {
        tenant_one(a).await;
        let t = TenantId(1);
        let new = accepted(a, 1, "2026-03-02T01:00:00Z");
        let created = a
            .create_order(new.tenant, new.order, new.events, None)
            .await
            .unwrap();
        let id = created.id;
        let read = a.order(t, id).await.unwrap().unwrap();
        assert_eq!(
            (&read.order, &read.last_hash),
            (&created.order, &created.last_hash)
        );
        let kept = a.decoded.get(&id.0).expect("a read order is kept decoded");
        assert_eq!(
            (&kept.last_hash, &kept.order),
            (&created.last_hash, &created.order)
        );
        // Another node changes the order: a new state under a new head.
        let change = |title: &str, head: &str| {
            let mut o = created.order.clone();
            o.title = title.into();
            let q = b.stmt(
                "UPDATE orders SET state = $1, last_hash = $2 WHERE tenant_id = 1 AND id = $3",
                vec![
                    serde_json::to_string(&o).unwrap().into(),
                    head.into(),
                    id.0.into(),
                ],
            );
            (o, q)
        };
        let (o, q) = change("按编号读", "head-2");
        b.write_all(vec![q]).await.unwrap();
        let read = a.order(t, id).await.unwrap().unwrap();
        assert_eq!((&read.order, read.last_hash.as_str()), (&o, "head-2"));
        let (o, q) = change("按编号批量读", "head-3");
        b.write_all(vec![q]).await.unwrap();
        let by_ids = a.orders_by_ids(t, &[id]).await.unwrap();
        assert_eq!(
            (&by_ids[0].order, by_ids[0].last_hash.as_str()),
            (&o, "head-3")
        );
        let (o, q) = change("列表", "head-4");
        b.write_all(vec![q]).await.unwrap();
        let page = a
            .list_orders(
                t,
                &Scope::All,
                &OrderFilter::default(),
                Sort::AcceptedDesc,
                None,
                10,
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            (&page.items[0].order, page.items[0].last_hash.as_str()),
            (&o, "head-4")
        );
        assert_eq!(a.decoded.get(&id.0).unwrap().last_hash, "head-4");
        // A change `a` commits itself is kept decoded under its new head, as the row decodes
        // without the cache; a change without events (which keeps the head) is not kept.
        let read = a.order(t, id).await.unwrap().unwrap();
        let change = made_urgent(t, &read);
        let changed = change.order.clone();
        a.append(vec![(change, false)]).await.unwrap();
        let kept = a
            .decoded
            .get(&id.0)
            .expect("a committed change is kept decoded");
        assert_eq!(kept.order, changed);
        assert_ne!(kept.last_hash, read.last_hash);
        let row = a
            .read
            .query_one_raw(a.stmt(
                "SELECT id, last_hash, state FROM orders WHERE tenant_id = 1 AND id = $1",
                vec![id.0.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let decoded = a.order_from_row(&row).unwrap();
        assert_eq!(
            (&kept.last_hash, &kept.order),
            (&decoded.last_hash, &decoded.order)
        );
        assert_eq!(
            kept.bytes,
            packed::state_of(&row, a.backend).unwrap().len() as u64
        );
        let again = a.order(t, id).await.unwrap().unwrap();
        a.append(vec![(
            OrderChange {
                tenant: t,
                id,
                expected_version: again.order.version,
                prev_hash: again.last_hash.clone(),
                before: Tally::of(&again.order),
                order: again.order,
                events: Vec::new(),
            },
            false,
        )])
        .await
        .unwrap();
        assert!(a.decoded.get(&id.0).is_none());
    }

    /// A list's total of at least the reuse threshold (3 here) is counted once and reused
    /// while fresh, while the page's orders are read as they are; a smaller total is counted
    /// every time, another filter is counted by itself, and a stale total is counted again.
    async fn large_totals_are_reused_for_a_moment(store: &mut Store) {
        tenant_one(store).await;
        store.totals = Arc::new(ListTotals::new(3, Duration::from_secs(600)));
        let t = TenantId(1);
        let complaints = OrderFilter {
            request_types: vec![RequestType::Complaint],
            ..OrderFilter::default()
        };
        let list = |store: &Store, scope: Scope| {
            let (store, f) = (store.clone(), complaints.clone());
            async move {
                let page = store
                    .list_orders(t, &scope, &f, Sort::AcceptedDesc, None, 50)
                    .await
                    .unwrap();
                (page.total, page.items.len())
            }
        };
        for minute in 1..=2 {
            let at = format!("2026-03-02T01:0{minute}:00Z");
            create(store, accepted(store, 1, &at)).await;
        }
        assert_eq!(list(store, Scope::All).await, (2, 2));
        create(store, accepted(store, 1, "2026-03-02T01:03:00Z")).await;
        assert_eq!(
            list(store, Scope::All).await,
            (3, 3),
            "a small total is not kept"
        );
        create(store, accepted(store, 1, "2026-03-02T01:04:00Z")).await;
        assert_eq!(
            list(store, Scope::All).await,
            (3, 4),
            "a large total is reused while fresh; the orders are read as they are"
        );
        assert_eq!(
            list(store, Scope::Units(vec![UnitId(1)])).await,
            (4, 4),
            "another scope is another count"
        );
        store.totals = Arc::new(ListTotals::new(3, Duration::ZERO));
        assert_eq!(list(store, Scope::All).await, (4, 4));
    }

    #[tokio::test]
    async fn large_totals_are_reused_for_a_moment_on_sqlite() {
        let (_dir, mut store) = sqlite_store().await;
        large_totals_are_reused_for_a_moment(&mut store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_totals_are_reused_for_a_moment_on_postgres() {
        let Some((base, url)) = pg_database("totals").await else {
            return;
        };
        let mut store = Store::open(&url, &crate::StoreOptions::default())
            .await
            .unwrap();
        large_totals_are_reused_for_a_moment(&mut store).await;
        store.close().await;
        drop_database(&base, &url).await;
    }

    #[tokio::test]
    async fn decoded_orders_follow_the_rows_on_sqlite() {
        let (dir, a) = sqlite_store().await;
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let b = Store::open(&url, &crate::StoreOptions::default())
            .await
            .unwrap();
        decoded_orders_follow_the_rows(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn decoded_orders_follow_the_rows_on_postgres() {
        let Some((base, url)) = pg_database("decoded").await else {
            return;
        };
        let opts = crate::StoreOptions::default();
        let a = Store::open(&url, &opts).await.unwrap();
        let b = Store::open(&url, &opts).await.unwrap();
        decoded_orders_follow_the_rows(&a, &b).await;
        a.close().await;
        b.close().await;
        drop_database(&base, &url).await;
    }

    /// SQLite stores an order's state packed, PostgreSQL as JSON text; a text row (as SQLite
    /// wrote before packing) reads and verifies as it is, and its next change packs it.
    async fn order_states_as_stored(store: &Store, pg: bool) {
        tenant_one(store).await;
        let t = TenantId(1);
        let new = accepted(store, 1, "2026-03-02T01:00:00Z");
        let created = store
            .create_order(new.tenant, new.order, new.events, None)
            .await
            .unwrap();
        let id = created.id;
        let json = serde_json::to_string(&created.order).unwrap();
        let stored = || async {
            let r = store
                .read
                .query_one_raw(store.stmt(
                    "SELECT state FROM orders WHERE tenant_id = 1 AND id = $1",
                    vec![id.0.into()],
                ))
                .await
                .unwrap()
                .unwrap();
            if pg {
                col::<String>(&r, "state").unwrap().into_bytes()
            } else {
                col::<Vec<u8>>(&r, "state").unwrap()
            }
        };
        let first = stored().await;
        assert_eq!(packed::is_packed(&first), !pg);
        if pg {
            assert_eq!(first, json.as_bytes());
        } else {
            assert!(
                first.len() * 2 < json.len(),
                "{} of {}",
                first.len(),
                json.len()
            );
            assert_eq!(packed::unpack(first).unwrap(), json);
        }
        // A row as written before packing.
        store
            .write_all(vec![store.stmt(
                "UPDATE orders SET state = $1 WHERE tenant_id = 1 AND id = $2",
                vec![json.clone().into(), id.0.into()],
            )])
            .await
            .unwrap();
        assert!(!packed::is_packed(&stored().await));
        store.decoded.clear();
        let read = store.order(t, id).await.unwrap().unwrap();
        assert_eq!(read.order, created.order);
        assert!(store.verify(|_| {}).await.unwrap().problems.is_empty());
        // Its next change stores it packed again.
        store
            .append(vec![(
                OrderChange {
                    tenant: t,
                    id,
                    expected_version: read.order.version,
                    prev_hash: read.last_hash.clone(),
                    before: Tally::of(&read.order),
                    order: read.order,
                    events: Vec::new(),
                },
                false,
            )])
            .await
            .unwrap();
        assert_eq!(packed::is_packed(&stored().await), !pg);
        store.decoded.clear();
        assert_eq!(
            store.order(t, id).await.unwrap().unwrap().order,
            created.order
        );
        let report = store.verify(|_| {}).await.unwrap();
        assert_eq!((report.orders, report.problems.len()), (1, 0));
    }

    /// List rows read from the orders' columns are what the decoded orders show, after a
    /// change and for orders stored before the rows kept the citizen's masked name; the pages
    /// are those of the full list.
    async fn summaries_as_the_orders_show_them(store: &Store) {
        tenant_one(store).await;
        let t = TenantId(1);
        let mut ids = Vec::new();
        for (i, name) in [Some("王小明"), None, Some("李")].into_iter().enumerate() {
            let mut new = accepted(store, 1, &format!("2026-03-02T0{i}:00:00Z"));
            new.order.citizen.name = name.map(str::to_string);
            new.order.flags.confidential = i == 2;
            ids.push(create(store, new).await);
        }
        // A change moves the columns a list shows.
        let read = store.order(t, ids[1]).await.unwrap().unwrap();
        let mut o = read.order.clone();
        o.status = Status::Dispatched;
        o.urgency = Urgency::Urgent;
        o.flags.emergency = true;
        o.version += 1;
        o.updated_at += chrono::Duration::minutes(5);
        store
            .append(vec![(
                OrderChange {
                    tenant: t,
                    id: ids[1],
                    expected_version: read.order.version,
                    prev_hash: read.last_hash.clone(),
                    before: Tally::of(&read.order),
                    order: o,
                    events: Vec::new(),
                },
                false,
            )])
            .await
            .unwrap();
        // (A change without events keeps the chain's head, which the decoded orders go by.)
        store.decoded.clear();
        let pages = |limit| async move {
            let (mut full, mut listed, mut cursor) = (Vec::new(), Vec::new(), None);
            loop {
                let f = OrderFilter::default();
                let a = store
                    .list_orders(t, &Scope::All, &f, Sort::AcceptedDesc, cursor, limit)
                    .await
                    .unwrap();
                let b = store
                    .list_summaries(t, &Scope::All, &f, Sort::AcceptedDesc, cursor, limit)
                    .await
                    .unwrap();
                assert_eq!((a.total, a.next), (b.total, b.next));
                full.extend(a.items.iter().map(|s| OrderSummary::of(s.id, &s.order)));
                listed.extend(b.items);
                match a.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            (full, listed)
        };
        let (full, listed) = pages(2).await;
        assert_eq!(listed.len(), 3);
        assert_eq!(listed, full);
        let names: Vec<_> = listed
            .iter()
            .map(|s| s.citizen_masked_name.as_deref())
            .collect();
        assert_eq!(names, [Some("李*"), None, Some("王**")]);
        assert_eq!(
            (listed[1].status, listed[1].urgency, listed[1].emergency),
            (Status::Dispatched, Urgency::Urgent, true)
        );
        assert!(listed[0].confidential);
        // Rows from before the column: their lists decode them.
        store
            .write_all(vec![store.stmt(
                "UPDATE orders SET citizen_masked_name = NULL WHERE tenant_id = 1 AND id = $1",
                vec![ids[0].0.into()],
            )])
            .await
            .unwrap();
        store.decoded.clear();
        let (full, listed) = pages(10).await;
        assert_eq!(listed, full);
        assert_eq!(listed[2].citizen_masked_name.as_deref(), Some("王**"));
    }

    #[tokio::test]
    async fn lists_read_the_rows_as_the_orders_show_them_on_sqlite() {
        let (_dir, store) = sqlite_store().await;
        summaries_as_the_orders_show_them(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lists_read_the_rows_as_the_orders_show_them_on_postgres() {
        on_postgres("summaries", async |store| {
            summaries_as_the_orders_show_them(store).await
        })
        .await;
    }

    /// A dispatch's suggestion outcome is stored in its change's transaction: with it, or
    /// (when the order moved on) not at all.
    async fn outcome_with_its_change(store: &Store) {
        tenant_one(store).await;
        let t = TenantId(1);
        let new = accepted(store, 1, "2026-03-02T01:00:00Z");
        let created = store
            .create_order(new.tenant, new.order, new.events, None)
            .await
            .unwrap();
        let read = store.order(t, created.id).await.unwrap().unwrap();
        let outcome = crate::dispatch::SuggestionOutcome {
            order_id: created.id.0,
            at: 1_772_413_200_000,
            suggested_category: Some("01".into()),
            chosen_category: Some("01".into()),
            suggested_unit: None,
            chosen_unit: Some(2),
            suggested_type: None,
            chosen_type: "complaint".into(),
        };
        let change = |expected_version| OrderChange {
            tenant: t,
            id: created.id,
            expected_version,
            prev_hash: read.last_hash.clone(),
            before: Tally::of(&read.order),
            order: read.order.clone(),
            events: Vec::new(),
        };
        let outcomes = || async {
            let r = store
                .read
                .query_one_raw(store.stmt(
                    "SELECT COUNT(*) AS n FROM suggestion_outcomes WHERE tenant_id = 1 AND order_id = $1",
                    vec![created.id.0.into()],
                ))
                .await
                .unwrap()
                .unwrap();
            col::<i64>(&r, "n").unwrap()
        };
        // A stale read: the change is refused, and its outcome with it.
        let stale = store
            .append_recording(
                vec![(change(read.order.version + 1), false)],
                Some((t, &outcome)),
            )
            .await;
        assert!(matches!(stale, Err(StoreError::Concurrent)), "{stale:?}");
        assert_eq!(outcomes().await, 0);
        store
            .append_recording(
                vec![(change(read.order.version), false)],
                Some((t, &outcome)),
            )
            .await
            .unwrap();
        assert_eq!(outcomes().await, 1);
        let day = store
            .suggestion_accuracy(t, outcome.at - 1, outcome.at + 1)
            .await
            .unwrap();
        assert_eq!(
            (day.len(), day[0].dispatches, day[0].category_hits),
            (1, 1, 1),
            "{day:?}"
        );
    }

    #[tokio::test]
    async fn a_dispatch_outcome_is_stored_with_its_change_or_not_at_all_on_sqlite() {
        let (_dir, store) = sqlite_store().await;
        outcome_with_its_change(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dispatch_outcome_is_stored_with_its_change_or_not_at_all_on_postgres() {
        on_postgres("outcome", async |store| {
            outcome_with_its_change(store).await
        })
        .await;
    }

    #[tokio::test]
    async fn order_states_are_packed_on_sqlite_and_text_rows_still_read() {
        let (_dir, store) = sqlite_store().await;
        order_states_as_stored(&store, false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn order_states_are_json_text_on_postgres() {
        on_postgres("states", async |store| {
            order_states_as_stored(store, true).await
        })
        .await;
    }

    #[tokio::test]
    async fn new_orders_of_several_tenants_and_days_are_numbered_in_one_statement_on_sqlite() {
        let (_dir, store) = sqlite_store().await;
        a_batch_of_two_tenants_and_two_days(&store, false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_orders_of_several_tenants_and_days_are_numbered_in_one_statement_on_postgres() {
        on_postgres("numbers", async |store| {
            a_batch_of_two_tenants_and_two_days(store, true).await
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_job_chosen_to_end_a_deadlock_runs_again() {
        use sqlx::Connection;
        let Some((base, url)) = pg_database("deadlock").await else {
            return;
        };
        let store = Store::open(&url, &crate::StoreOptions::default())
            .await
            .unwrap();
        two_orders(&store).await;
        // Another session holds order 2 and then wants order 1; it waits long before looking
        // for deadlocks, so the writer's job (order 1, then 2) is the one PostgreSQL rolls back.
        let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
        for q in [
            "SET deadlock_timeout = '20s'",
            "BEGIN",
            "UPDATE orders SET last_hash = 'other' WHERE tenant_id = 1 AND id = 2",
        ] {
            sqlx::raw_sql(q).execute(&mut other).await.unwrap();
        }
        let update = |id: i64| {
            store.stmt(
                "UPDATE orders SET last_hash = 'job' WHERE tenant_id = 1 AND id = $1",
                vec![id.into()],
            )
        };
        let job = store.write_all(vec![update(1), update(2)]);
        let rival = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            // Waits for the job's lock of order 1: granted only once the job is rolled back.
            let r = sqlx::raw_sql(
                "UPDATE orders SET last_hash = 'other' WHERE tenant_id = 1 AND id = 1",
            )
            .execute(&mut other)
            .await;
            sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
            r
        };
        let (job, rival) = tokio::join!(job, rival);
        assert!(rival.is_ok(), "the other session went on: {rival:?}");
        assert!(job.is_ok(), "the job ran again after the deadlock: {job:?}");
        assert_eq!(row(&store, 1).await.1, "job", "the job ran last");
        assert_eq!(row(&store, 2).await.1, "job");
        store.close().await;
        drop(other);
        drop_database(&base, &url).await;
    }

    /// Drops the database of `url` (made by `pg_database`) from `base`'s server.
    async fn drop_database(base: &str, url: &str) {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(base).await.unwrap();
        let name = &url[url.rfind('/').unwrap() + 1..];
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut c)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn changes_applied_together_let_the_first_of_two_on_one_version_win() {
        let (_dir, store) = sqlite_store().await;
        two_orders(&store).await;
        let jobs = vec![
            Arc::new(change(1, 1, "a", vec![])),
            Arc::new(change(1, 1, "b", vec![])),
            Arc::new(change(2, 1, "c", vec![])),
            // Read after the first: it holds.
            Arc::new(change(1, 2, "d", vec![])),
        ];
        let txn = store.write.begin().await.unwrap();
        let answers = append_together(Tx::Sea(&txn), &jobs).await.unwrap();
        txn.commit().await.unwrap();
        let outcome: Vec<&str> = answers
            .iter()
            .map(|a| match a {
                Ok(()) => "ok",
                Err(StoreError::Concurrent) => "concurrent",
                Err(_) => "error",
            })
            .collect();
        assert_eq!(outcome, ["ok", "concurrent", "ok", "ok"]);
        assert_eq!(row(&store, 1).await, (3, "d".into()));
        assert_eq!(row(&store, 2).await, (2, "c".into()));
    }

    #[tokio::test]
    async fn a_change_whose_statements_fail_fails_alone_in_its_group_commit() {
        let (_dir, store) = sqlite_store().await;
        two_orders(&store).await;
        let bad = change(
            1,
            1,
            "bad",
            vec![Sql::new("INSERT INTO no_such_table VALUES (1)")],
        );
        let stale = change(2, 7, "stale", vec![]);
        let good = change(2, 1, "good", vec![]);
        // Sent together, so that the writer most likely takes them as one batch.
        let (b, s, g) = tokio::join!(
            store.writer.append(bad),
            store.writer.append(stale),
            store.writer.append(good)
        );
        // The writer's own SQLite connection answered (no such table).
        assert!(matches!(b, Err(StoreError::Sqlite(_))), "{b:?}");
        assert!(matches!(s, Err(StoreError::Concurrent)), "{s:?}");
        assert!(g.is_ok(), "{g:?}");
        assert_eq!(
            row(&store, 1).await,
            (1, "".into()),
            "nothing of the bad change"
        );
        assert_eq!(row(&store, 2).await, (2, "good".into()));
    }

    #[tokio::test]
    async fn a_units_inbox_is_read_from_its_assignments_not_from_every_order() {
        let (_dir, store) = sqlite_store().await;
        let filter = OrderFilter {
            units: Some(vec![UnitId(2)]),
            assignment_status: Some(AssignmentStatus::Handling),
            ..OrderFilter::default()
        };
        let scope = Scope::Units(vec![UnitId(2)]);
        let mut q = Sql::new("SELECT o.id FROM orders o WHERE ");
        let wh = list_where(
            DbBackend::Sqlite,
            &mut q,
            &Keyring::default(),
            TenantId(1),
            &scope,
            &filter,
            Sort::AcceptedDesc,
        );
        q.push(&wh);
        q.push(" ORDER BY o.accepted_at DESC, o.id DESC LIMIT 21");
        let plan = sqlite_plan(&store, q.build(DbBackend::Sqlite)).await;
        let text = plan.join("\n");
        assert!(
            text.contains("order_units_unit (tenant_id=? AND unit_id=? AND status=?)")
                && text.contains("SEARCH o USING INTEGER PRIMARY KEY"),
            "the inbox should come from the unit's assignments in that status:\n{text}"
        );
        assert!(!text.contains("SCAN o"), "no scan of the orders:\n{text}");
        // The unit is in the viewer's scope, which its filter then implies: no test of the
        // scope per order (a subquery of order_units for each).
        assert!(
            !wh.contains("su.unit_id") && !text.contains("CORRELATED"),
            "{wh}\n{text}"
        );
    }

    #[tokio::test]
    async fn a_units_inbox_or_its_orders_in_a_status_are_read_from_its_index_in_order() {
        let (_dir, store) = sqlite_store().await;
        let handling = [Status::Handling];
        for (units, status, index) in [
            (
                vec![UnitId(2)],
                InboxStatus::Part(AssignmentStatus::Handling),
                "order_units_unit (tenant_id=? AND unit_id=? AND status=?",
            ),
            (
                vec![UnitId(2), UnitId(3)],
                InboxStatus::Part(AssignmentStatus::Handling),
                "order_units_unit (tenant_id=? AND unit_id=? AND status=?",
            ),
            (
                vec![UnitId(2)],
                InboxStatus::Order(&handling),
                "order_units_order_status (tenant_id=? AND unit_id=? AND order_status=?",
            ),
            (
                vec![UnitId(2), UnitId(3)],
                InboxStatus::Order(&handling),
                "order_units_order_status (tenant_id=? AND unit_id=? AND order_status=?",
            ),
        ] {
            let inbox = Inbox {
                units: &units,
                status,
            };
            for (head, columns, tail) in [
                (
                    "",
                    "fu.order_id AS id, fu.accepted_at AS sort_key",
                    " AND (fu.accepted_at, fu.order_id) < (1, 2) ORDER BY fu.accepted_at DESC, fu.order_id DESC LIMIT 51",
                ),
                (
                    "SELECT COUNT(*) AS n FROM (",
                    "fu.order_id",
                    " LIMIT 100001) AS matches",
                ),
            ] {
                let mut q = Sql::new(head);
                let sel = inbox.select(DbBackend::Sqlite, &mut q, TenantId(1), columns);
                q.push(&sel);
                q.push(tail);
                let text = sqlite_plan(&store, q.build(DbBackend::Sqlite))
                    .await
                    .join("\n");
                assert!(
                    text.contains(&format!("USING COVERING INDEX {index}")),
                    "read from the units' index alone:\n{text}"
                );
                // One unit: its first entries in index order, nothing sorted.
                if units.len() == 1 {
                    assert!(!text.contains("TEMP B-TREE"), "{text}");
                }
            }
        }
    }

    #[test]
    fn a_units_filter_implies_the_scope_only_within_it() {
        let condition = |scope: &[i64], wanted: Option<Vec<i64>>| {
            let filter = OrderFilter {
                units: wanted.map(|w| w.into_iter().map(UnitId).collect()),
                ..OrderFilter::default()
            };
            let mut q = Sql::new("");
            list_where(
                DbBackend::Postgres,
                &mut q,
                &Keyring::default(),
                TenantId(1),
                &Scope::Units(scope.iter().copied().map(UnitId).collect()),
                &filter,
                Sort::AcceptedDesc,
            )
        };
        let scope_test = "su.unit_id";
        assert!(!condition(&[2, 3], Some(vec![3])).contains(scope_test));
        assert!(!condition(&[2, 3], Some(vec![2, 3])).contains(scope_test));
        // A unit outside the scope, or no units: the scope still applies.
        assert!(condition(&[2, 3], Some(vec![3, 4])).contains(scope_test));
        assert!(condition(&[2, 3], Some(vec![])).contains(scope_test));
        assert!(condition(&[2, 3], None).contains(scope_test));
    }

    /// The SQL `list_orders` runs on SQLite for `filter` and `sort`: the count, then the
    /// page's keys.
    fn list_sql(filter: &OrderFilter, sort: Sort) -> (Statement, Statement) {
        let mut base = Sql::new("");
        let wh = list_where(
            DbBackend::Sqlite,
            &mut base,
            &Keyring::default(),
            TenantId(1),
            &Scope::All,
            filter,
            sort,
        );
        let hint = due_hint(DbBackend::Sqlite, filter, sort);
        let mut count = Sql::new(&format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders o{hint} WHERE "
        ));
        count.push(&wh);
        count.values = base.values.clone();
        count.push(" LIMIT 10001) AS matches");
        let key = sort.column();
        let mut page = Sql::new(&format!(
            "SELECT o.id, o.{key} AS sort_key FROM orders o{hint} WHERE "
        ));
        page.push(&wh);
        page.values = base.values;
        page.push(&format!(" ORDER BY o.{key}, o.id LIMIT 51"));
        (
            count.build(DbBackend::Sqlite),
            page.build(DbBackend::Sqlite),
        )
    }

    #[tokio::test]
    async fn a_districts_or_the_next_days_orders_in_progress_are_counted_from_an_index_alone() {
        let (_dir, store) = sqlite_store().await;
        let statuses = vec![Status::Dispatched, Status::Handling];
        let now = Utc::now();
        for (filter, index) in [
            (
                OrderFilter {
                    statuses: statuses.clone(),
                    region: Some("990101".into()),
                    ..OrderFilter::default()
                },
                "orders_region",
            ),
            (
                OrderFilter {
                    statuses: statuses.clone(),
                    due_between: Some((now, now + chrono::Duration::hours(24))),
                    ..OrderFilter::default()
                },
                "orders_status_due",
            ),
        ] {
            let (count, _) = list_sql(&filter, Sort::AcceptedDesc);
            let text = sqlite_plan(&store, count).await.join("\n");
            assert!(
                text.contains(&format!("USING COVERING INDEX {index}")),
                "counted without reading each order's row:\n{text}"
            );
        }
    }

    #[tokio::test]
    async fn orders_in_some_statuses_by_deadline_are_read_by_status_then_deadline() {
        let (_dir, store) = sqlite_store().await;
        let now = Utc::now();
        let soon = OrderFilter {
            statuses: vec![Status::Dispatched, Status::Handling],
            due_between: Some((now, now + chrono::Duration::hours(24))),
            ..OrderFilter::default()
        };
        let overdue = OrderFilter {
            statuses: vec![Status::Handling],
            overdue_at: Some(now),
            ..OrderFilter::default()
        };
        let handling = OrderFilter {
            statuses: vec![Status::Handling],
            ..OrderFilter::default()
        };
        for (filter, sort, range) in [
            (&soon, Sort::DueAsc, "due_at>? AND due_at<?"),
            (&soon, Sort::AcceptedDesc, "due_at>? AND due_at<?"),
            (&overdue, Sort::DueAsc, "due_at<?"),
            (&handling, Sort::DueAsc, "due_at>?"),
        ] {
            let (count, page) = list_sql(filter, sort);
            for sql in [count, page] {
                // A bound on the deadline implies it is set: said as well, SQLite would take
                // `IS NOT NULL` as the lower bound and walk every deadline before the upper.
                let bounded = filter.due_between.is_some() || filter.overdue_at.is_some();
                assert_eq!(
                    !bounded,
                    sql.sql.contains("due_at IS NOT NULL"),
                    "{}",
                    sql.sql
                );
                let text = sqlite_plan(&store, sql).await.join("\n");
                assert!(
                    text.contains(&format!(
                        "INDEX orders_status_due (tenant_id=? AND status=? AND {range})"
                    )),
                    "one range per status:\n{text}"
                );
            }
        }
        // Without a status, from the deadline's own index; not for a unit's orders (read
        // from its `order_units` rows).
        let any = OrderFilter {
            overdue_at: Some(now),
            ..OrderFilter::default()
        };
        let units = OrderFilter {
            units: Some(vec![UnitId(2)]),
            ..soon.clone()
        };
        let (count, page) = list_sql(&any, Sort::AcceptedDesc);
        for sql in [count, page] {
            let text = sqlite_plan(&store, sql).await.join("\n");
            assert!(
                text.contains("INDEX orders_due (tenant_id=? AND due_at<?)"),
                "the overdue orders from their index, not every order from the newest:\n{text}"
            );
        }
        assert_eq!(due_hint(DbBackend::Sqlite, &units, Sort::DueAsc), "");
        assert_eq!(due_hint(DbBackend::Postgres, &soon, Sort::DueAsc), "");
    }

    fn local(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn sqlite_gets_anonymous_parameters_bound_in_the_order_they_are_used() {
        let v: Vec<Value> = vec![10i64.into(), "b".into(), 30i64.into()];
        let (text, bound) = anonymous_params(
            "UPDATE t SET n = n + $3, p = '$1' WHERE a = $1 AND b = $2 AND c = $3 AND d = $4 AND e = '宁$2'",
            v.clone(),
        );
        // `$4` is beyond the values: left as it is.
        assert_eq!(
            text,
            "UPDATE t SET n = n + ?, p = '$1' WHERE a = ? AND b = ? AND c = ? AND d = $4 AND e = '宁$2'"
        );
        assert_eq!(
            bound,
            vec![v[2].clone(), v[0].clone(), v[1].clone(), v[2].clone()]
        );
        // Counting goes past nine.
        let v: Vec<Value> = (1..=12i64).map(Value::from).collect();
        let names: Vec<String> = (1..=12).map(|i| format!("${i}")).collect();
        let (text, bound) = anonymous_params(&names.join(","), v.clone());
        assert_eq!(text, ["?"; 12].join(","));
        assert_eq!(bound, v);
    }

    #[test]
    fn combined_statements_renumber_the_parameters_of_later_parts() {
        let mut a = count_sql(TenantId(1), Status::Closed, 1);
        a.push(" ");
        a.append(count_sql(TenantId(1), Status::Handling, -1));
        assert!(a.text.contains("VALUES ($1, $2, $3, {shard}) ON CONFLICT (tenant_id, status, shard) DO UPDATE SET n = order_counts.n + $3 "));
        assert!(a.text.ends_with("VALUES ($4, $5, $6, {shard}) ON CONFLICT (tenant_id, status, shard) DO UPDATE SET n = order_counts.n + $6"));
        assert_eq!(a.values.len(), 6);
    }

    #[test]
    fn a_date_only_number_prefix_is_a_local_period() {
        assert_eq!(
            local_period("2026-05-06"),
            Some((
                local("2026-05-06T00:00:00+08:00"),
                local("2026-05-07T00:00:00+08:00")
            ))
        );
        assert_eq!(
            local_period("2026-12"),
            Some((
                local("2026-12-01T00:00:00+08:00"),
                local("2027-01-01T00:00:00+08:00")
            ))
        );
        assert_eq!(
            local_period("2026").map(|p| p.1),
            Some(local("2027-01-01T00:00:00+08:00"))
        );
        assert_eq!(local_period("2026-05-06-0001"), None);
        assert_eq!(local_period("2026-5"), None);
        assert_eq!(local_period("2026-02-30"), None);
        let f = OrderFilter {
            number_prefix: Some("2026-05-06-".into()),
            accepted_from: Some(local("2026-05-06T12:00:00+08:00")),
            ..OrderFilter::default()
        };
        let g = f.with_number_dates().unwrap();
        assert_eq!(g.number_prefix, None);
        assert_eq!(g.accepted_from, Some(local("2026-05-06T12:00:00+08:00")));
        assert_eq!(g.accepted_to, Some(local("2026-05-07T00:00:00+08:00")));
    }
}
