//! The centre's rates (“四率” and more) from the orders: what each order counts towards,
//! the counts of a set of orders, and the rates by the tenant's formulas.
//!
//! An order counts in the period it was accepted in, with everything that has happened to it
//! since (an order accepted on 30 November and closed on 2 December is November's), so that a
//! period's figures only grow towards their final values and every figure is the count of a
//! list of orders. Unit figures count the orders whose lead (主办) is the unit or below it.

use crate::ids::UnitId;
use crate::order::{AssignmentRole, AssignmentStatus, Closure, Order, Satisfaction, Status};
use serde::{Deserialize, Serialize};

/// What one order counts towards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFacts {
    /// The unit leading it (the last lead assignment still held), if dispatched.
    pub lead: Option<UnitId>,
    pub instant: bool,
    pub dispatched: bool,
    /// The lead signed for it by its sign-for deadline (响应).
    pub signed_on_time: bool,
    /// The lead replied, or the order was closed after dispatch (办结).
    pub completed: bool,
    /// … by the reply deadline (as extended).
    pub completed_on_time: bool,
    /// Closed after handling: the orders that are to be called back (全量回访).
    pub callback_due: bool,
    /// … and closed by its callback (回访办结).
    pub callback_done: bool,
    /// Called back (the latest callback counts; a re-handled order too).
    pub called_back: bool,
    pub satisfaction: Option<Satisfaction>,
    pub resolved: bool,
    /// Sent back for re-handling after a callback, at least once.
    pub rehandled: bool,
    /// The lead let a deadline of its own pass (sign-for or reply: 逾期).
    pub late: bool,
    /// Closed unsatisfied after the last round of re-handling (转督办).
    pub escalated: bool,
}

/// The lead assignment that handled the order: the last lead that was not returned,
/// cancelled or passed on.
fn lead_of(o: &Order) -> Option<&crate::order::Assignment> {
    o.assignments.iter().rev().find(|a| {
        a.role == AssignmentRole::Lead
            && !matches!(
                a.status,
                AssignmentStatus::Returned
                    | AssignmentStatus::Cancelled
                    | AssignmentStatus::Forwarded
            )
    })
}

impl OrderFacts {
    pub fn of(o: &Order) -> OrderFacts {
        let lead = lead_of(o);
        let instant = o.closure == Some(Closure::InstantAnswer);
        let dispatched = lead.is_some();
        let signed_on_time = lead.is_some_and(|a| match (a.signed_at, &a.sign_deadline) {
            (Some(at), Some(d)) => at <= d.due,
            (Some(_), None) => true,
            (None, _) => false,
        });
        let replied_at = lead.and_then(|a| a.replied_at);
        let closed_after_handling = dispatched
            && o.status == Status::Closed
            && matches!(
                o.closure,
                Some(Closure::Callback | Closure::WithoutCallback)
            );
        // A reply sent back for re-handling is no completion until the unit replies again.
        let replied = lead.is_some_and(|a| a.status == AssignmentStatus::Replied);
        let completed = dispatched && (replied || closed_after_handling);
        let finished_at = replied_at.or(o.closed_at);
        let completed_on_time = completed
            && match (&o.deadlines.reply, finished_at) {
                (Some(d), Some(at)) => at <= d.due,
                _ => true,
            };
        let callback = o.callback.as_ref();
        OrderFacts {
            lead: lead.map(|a| a.unit_id),
            instant,
            dispatched,
            signed_on_time,
            completed,
            completed_on_time,
            callback_due: closed_after_handling,
            callback_done: closed_after_handling && o.closure == Some(Closure::Callback),
            called_back: callback.is_some(),
            satisfaction: callback.map(|c| c.satisfaction),
            resolved: callback.is_some_and(|c| c.resolved),
            rehandled: o.rehandle_count > 0,
            late: lead.is_some_and(|a| {
                o.late.iter().any(|l| {
                    l.unit_id == a.unit_id
                        && matches!(
                            l.stage,
                            crate::deadline::Stage::Sign | crate::deadline::Stage::Reply
                        )
                })
            }),
            escalated: o.escalated,
        }
    }
}

/// Milliseconds from UTC to China time (UTC+8, no daylight saving).
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The China-time day (days since 1970-01-01) an instant falls on.
pub fn china_day(at: chrono::DateTime<chrono::Utc>) -> i64 {
    (at.timestamp_millis() + CHINA_OFFSET_MS).div_euclid(DAY_MS)
}

/// The category a warning counts in: its first two levels (城乡建设 › 物业管理).
pub fn warning_category(code: &str) -> &str {
    match code.match_indices('.').nth(1) {
        Some((i, _)) => &code[..i],
        None => code,
    }
}

/// The district (six-digit division) of a region code.
pub fn district(code: &str) -> &str {
    if code.len() > 6 && code.is_char_boundary(6) {
        &code[..6]
    } else {
        code
    }
}

/// The cuts the maintained aggregates keep each order's facts under: a row per day and
/// lead unit, per day and category, per day and region, and per day and issue (the
/// category's first two levels in a district, `01.02|150602`: what early warnings compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    Unit,
    Category,
    Region,
    Issue,
}

impl Dim {
    pub const ALL: [Dim; 4] = [Dim::Unit, Dim::Category, Dim::Region, Dim::Issue];

    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Unit => "u",
            Dim::Category => "c",
            Dim::Region => "r",
            Dim::Issue => "i",
        }
    }

    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// Where one order's facts are tallied: the day it was accepted (China time), its keys under
/// each cut (the lead unit's id or `0`, the category code or ``, the region code or ``),
/// and the facts. The aggregates move an order's tally from its old to its new state in the
/// transaction that changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub day: i64,
    pub unit: String,
    pub category: String,
    pub region: String,
    /// `category|district` (see `Dim::Issue`), or empty without both.
    pub issue: String,
    pub facts: OrderFacts,
}

impl Tally {
    pub fn of(o: &Order) -> Tally {
        let facts = OrderFacts::of(o);
        let issue = match (&o.category, &o.location.region_code) {
            (Some(c), Some(r)) => {
                format!("{}|{}", warning_category(c.as_str()), district(r.as_str()))
            }
            _ => String::new(),
        };
        Tally {
            issue,
            day: china_day(o.accepted_at),
            unit: facts.lead.map_or(0, |u| u.0).to_string(),
            category: o
                .category
                .as_ref()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            region: o
                .location
                .region_code
                .as_ref()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            facts,
        }
    }

    pub fn key(&self, d: Dim) -> &str {
        match d {
            Dim::Unit => &self.unit,
            Dim::Category => &self.category,
            Dim::Region => &self.region,
            Dim::Issue => &self.issue,
        }
    }

    /// The changes to the aggregate rows moving from `before` (none for a new order) to
    /// `self`: `(dim, day, key, deltas by Measure::ALL)`, only rows whose counts change.
    pub fn deltas<'a>(&'a self, before: Option<&'a Tally>) -> Vec<(Dim, i64, &'a str, [i64; 16])> {
        let mut out = Vec::new();
        let add = |f: &OrderFacts, sign: i64, d: &mut [i64; 16]| {
            for (i, m) in Measure::ALL.iter().enumerate() {
                if m.counts(f) {
                    d[i] += sign;
                }
            }
        };
        for dim in Dim::ALL {
            let key = self.key(dim);
            match before {
                Some(b) if b.key(dim) == key && b.day == self.day => {
                    let mut d = [0; 16];
                    add(&self.facts, 1, &mut d);
                    add(&b.facts, -1, &mut d);
                    if d.iter().any(|x| *x != 0) {
                        out.push((dim, self.day, key, d));
                    }
                }
                _ => {
                    let mut d = [0; 16];
                    add(&self.facts, 1, &mut d);
                    out.push((dim, self.day, key, d));
                }
            }
        }
        if let Some(b) = before {
            for dim in Dim::ALL {
                if b.key(dim) != self.key(dim) || b.day != self.day {
                    let mut d = [0; 16];
                    add(&b.facts, -1, &mut d);
                    out.push((dim, b.day, b.key(dim), d));
                }
            }
        }
        out
    }
}

/// The counts behind the rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub accepted: u64,
    pub instant: u64,
    pub dispatched: u64,
    pub signed_on_time: u64,
    pub completed: u64,
    pub completed_on_time: u64,
    pub callback_due: u64,
    pub callback_done: u64,
    pub called_back: u64,
    pub satisfied: u64,
    pub basically_satisfied: u64,
    pub dissatisfied: u64,
    pub resolved: u64,
    pub rehandled: u64,
    pub late: u64,
    pub escalated: u64,
}

/// A count a figure is made of: each names the orders behind it (drill-down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Accepted,
    Instant,
    Dispatched,
    SignedOnTime,
    Completed,
    CompletedOnTime,
    CallbackDue,
    CallbackDone,
    CalledBack,
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
    Resolved,
    Rehandled,
    Late,
    Escalated,
}

impl Measure {
    pub const ALL: [Measure; 16] = [
        Measure::Accepted,
        Measure::Instant,
        Measure::Dispatched,
        Measure::SignedOnTime,
        Measure::Completed,
        Measure::CompletedOnTime,
        Measure::CallbackDue,
        Measure::CallbackDone,
        Measure::CalledBack,
        Measure::Satisfied,
        Measure::BasicallySatisfied,
        Measure::Dissatisfied,
        Measure::Resolved,
        Measure::Rehandled,
        Measure::Late,
        Measure::Escalated,
    ];

    /// The snake_case name (also the aggregate table's column).
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Accepted => "accepted",
            Measure::Instant => "instant",
            Measure::Dispatched => "dispatched",
            Measure::SignedOnTime => "signed_on_time",
            Measure::Completed => "completed",
            Measure::CompletedOnTime => "completed_on_time",
            Measure::CallbackDue => "callback_due",
            Measure::CallbackDone => "callback_done",
            Measure::CalledBack => "called_back",
            Measure::Satisfied => "satisfied",
            Measure::BasicallySatisfied => "basically_satisfied",
            Measure::Dissatisfied => "dissatisfied",
            Measure::Resolved => "resolved",
            Measure::Rehandled => "rehandled",
            Measure::Late => "late",
            Measure::Escalated => "escalated",
        }
    }

    pub fn parse(s: &str) -> Option<Measure> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    /// Whether an order with `f` is counted by this measure.
    pub fn counts(self, f: &OrderFacts) -> bool {
        match self {
            Measure::Accepted => true,
            Measure::Instant => f.instant,
            Measure::Dispatched => f.dispatched,
            Measure::SignedOnTime => f.signed_on_time,
            Measure::Completed => f.completed,
            Measure::CompletedOnTime => f.completed_on_time,
            Measure::CallbackDue => f.callback_due,
            Measure::CallbackDone => f.callback_done,
            Measure::CalledBack => f.called_back,
            Measure::Satisfied => f.satisfaction == Some(Satisfaction::Satisfied),
            Measure::BasicallySatisfied => f.satisfaction == Some(Satisfaction::BasicallySatisfied),
            Measure::Dissatisfied => f.satisfaction == Some(Satisfaction::Dissatisfied),
            Measure::Resolved => f.resolved,
            Measure::Rehandled => f.rehandled,
            Measure::Late => f.late,
            Measure::Escalated => f.escalated,
        }
    }
}

impl Counts {
    pub fn add(&mut self, f: &OrderFacts) {
        for m in Measure::ALL {
            if m.counts(f) {
                *self.get_mut(m) += 1;
            }
        }
    }

    /// Adds `n` to the count of `m` (aggregate rows read back).
    pub fn add_to(&mut self, m: Measure, n: u64) {
        *self.get_mut(m) += n;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts) {
        for m in Measure::ALL {
            *self.get_mut(m) += other.get(m);
        }
    }

    pub fn get(&self, m: Measure) -> u64 {
        let mut c = *self;
        *c.get_mut(m)
    }

    fn get_mut(&mut self, m: Measure) -> &mut u64 {
        match m {
            Measure::Accepted => &mut self.accepted,
            Measure::Instant => &mut self.instant,
            Measure::Dispatched => &mut self.dispatched,
            Measure::SignedOnTime => &mut self.signed_on_time,
            Measure::Completed => &mut self.completed,
            Measure::CompletedOnTime => &mut self.completed_on_time,
            Measure::CallbackDue => &mut self.callback_due,
            Measure::CallbackDone => &mut self.callback_done,
            Measure::CalledBack => &mut self.called_back,
            Measure::Satisfied => &mut self.satisfied,
            Measure::BasicallySatisfied => &mut self.basically_satisfied,
            Measure::Dissatisfied => &mut self.dissatisfied,
            Measure::Resolved => &mut self.resolved,
            Measure::Rehandled => &mut self.rehandled,
            Measure::Late => &mut self.late,
            Measure::Escalated => &mut self.escalated,
        }
    }
}

/// The weights of the composite score (综合得分) of a unit, summing to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Composite {
    pub response: f64,
    pub resolution: f64,
    pub satisfaction: f64,
}

impl Composite {
    /// 0.1 × response + 0.5 × resolution + 0.4 × satisfaction.
    pub const STANDARD: Composite = Composite {
        response: 0.1,
        resolution: 0.5,
        satisfaction: 0.4,
    };
    /// 30/35/35, as reported for an Ordos banner (旗区).
    pub const ORDOS: Composite = Composite {
        response: 0.3,
        resolution: 0.35,
        satisfaction: 0.35,
    };

    /// The score 0–100 of `r`: the weighted rates, the weights of rates that could not be
    /// computed (no callbacks yet) shared out over the others; `None` without any rate.
    pub fn score(&self, r: &Rates) -> Option<f64> {
        let parts = [
            (self.response, r.response_rate),
            (self.resolution, r.resolution_rate),
            (self.satisfaction, r.satisfaction_rate),
        ];
        let weight: f64 = parts
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(w, _)| w)
            .sum();
        if weight <= 0.0 {
            return None;
        }
        let sum: f64 = parts.iter().filter_map(|(w, v)| v.map(|v| w * v)).sum();
        Some(100.0 * sum / weight)
    }
}

/// Points taken off a unit's evaluation score per order (考核扣分).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deductions {
    /// Per order whose sign-for or reply deadline the unit let pass (逾期).
    pub late: f64,
    /// Per order closed unsatisfied after the last round of re-handling (转督办).
    pub escalated: f64,
}

impl Default for Deductions {
    fn default() -> Self {
        Deductions {
            late: 0.5,
            escalated: 1.0,
        }
    }
}

/// How the rates are computed: the parts a tenant may set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Formulas {
    /// What a “basically satisfied” counts for in the satisfaction rate: 1 (DOMAIN: satisfied
    /// + basically satisfied over called back) or 0.9 (a common stricter preset).
    pub basically_satisfied_weight: f64,
    #[serde(default = "standard")]
    pub composite: Composite,
    #[serde(default)]
    pub deductions: Deductions,
}

fn standard() -> Composite {
    Composite::STANDARD
}

impl Default for Formulas {
    fn default() -> Self {
        Formulas {
            basically_satisfied_weight: 1.0,
            composite: Composite::STANDARD,
            deductions: Deductions::default(),
        }
    }
}

impl Formulas {
    /// The named presets: `standard` (DOMAIN: satisfaction = satisfied + basically satisfied;
    /// composite 0.1/0.5/0.4), `strict` (basically satisfied counts 0.9), `ordos` (composite
    /// 30/35/35).
    pub fn preset(name: &str) -> Option<Formulas> {
        match name {
            "standard" => Some(Formulas::default()),
            "strict" => Some(Formulas {
                basically_satisfied_weight: 0.9,
                composite: Composite::STANDARD,
                deductions: Deductions::default(),
            }),
            "ordos" => Some(Formulas {
                basically_satisfied_weight: 0.9,
                composite: Composite::ORDOS,
                deductions: Deductions::default(),
            }),
            _ => None,
        }
    }

    /// The points taken off for `c`.
    pub fn deduction(&self, c: &Counts) -> f64 {
        self.deductions.late * c.late as f64 + self.deductions.escalated * c.escalated as f64
    }

    /// The evaluation score (考核得分): the composite score less the deductions, at least 0;
    /// `None` without any rate.
    pub fn evaluate(&self, c: &Counts, r: &Rates) -> Option<f64> {
        self.composite
            .score(r)
            .map(|s| (s - self.deduction(c)).max(0.0))
    }

    /// Checks the values; the field at fault when one is out of range.
    pub fn check(&self) -> Result<(), crate::FieldError> {
        let d = &self.deductions;
        if !(0.0..=100.0).contains(&d.late) || !(0.0..=100.0).contains(&d.escalated) {
            return Err(crate::FieldError::new(
                "deductions",
                "扣分须在 0 至 100 分之间",
            ));
        }
        if !(0.0..=1.0).contains(&self.basically_satisfied_weight) {
            return Err(crate::FieldError::new(
                "basically_satisfied_weight",
                "基本满意的权重须在 0 至 1 之间",
            ));
        }
        let c = &self.composite;
        if [c.response, c.resolution, c.satisfaction]
            .iter()
            .any(|w| !(0.0..=1.0).contains(w))
            || (c.response + c.resolution + c.satisfaction - 1.0).abs() > 1e-6
        {
            return Err(crate::FieldError::new(
                "composite",
                "综合得分的权重须在 0 至 1 之间且合计为 1",
            ));
        }
        Ok(())
    }
}

/// The rates, fractions 0…1; `None` where nothing was there to count (no callbacks yet: no
/// satisfaction rate, not 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rates {
    /// 响应率 = signed on time / dispatched
    pub response_rate: Option<f64>,
    /// 办结率 = completed / dispatched
    pub completion_rate: Option<f64>,
    /// 按期办结率 = completed on time / completed
    pub on_time_rate: Option<f64>,
    /// 解决率 = resolved / called back
    pub resolution_rate: Option<f64>,
    /// 满意率 = (satisfied + w × basically satisfied) / called back
    pub satisfaction_rate: Option<f64>,
    /// 即答率 = instant answers / accepted
    pub instant_answer_rate: Option<f64>,
    /// 回访率 = closed by a callback / closed after handling (to be called back)
    pub callback_rate: Option<f64>,
}

fn ratio(num: f64, den: u64) -> Option<f64> {
    (den > 0).then(|| (num / den as f64).clamp(0.0, 1.0))
}

impl Rates {
    pub fn of(c: &Counts, f: &Formulas) -> Rates {
        Rates {
            response_rate: ratio(c.signed_on_time as f64, c.dispatched),
            completion_rate: ratio(c.completed as f64, c.dispatched),
            on_time_rate: ratio(c.completed_on_time as f64, c.completed),
            resolution_rate: ratio(c.resolved as f64, c.called_back),
            satisfaction_rate: ratio(
                c.satisfied as f64 + f.basically_satisfied_weight * c.basically_satisfied as f64,
                c.called_back,
            ),
            instant_answer_rate: ratio(c.instant as f64, c.accepted),
            callback_rate: ratio(c.callback_done as f64, c.callback_due),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_names_are_their_wire_names() {
        for m in Measure::ALL {
            assert_eq!(Measure::parse(m.as_str()), Some(m));
        }
    }

    fn tally(unit: &str, category: &str, facts: OrderFacts) -> Tally {
        Tally {
            day: 20_000,
            unit: unit.into(),
            category: category.into(),
            region: "150602".into(),
            issue: format!("{category}|150602"),
            facts,
        }
    }

    #[test]
    fn a_tally_moves_only_what_changed_and_a_new_order_counts_once_under_each_cut() {
        let new = tally("0", "01", OrderFacts::default());
        let d = new.deltas(None);
        assert_eq!(d.len(), 4);
        for (_, day, _, x) in &d {
            assert_eq!(*day, 20_000);
            assert_eq!(x[0], 1, "accepted");
            assert_eq!(x.iter().sum::<i64>(), 1);
        }
        // Nothing changed: nothing to write.
        assert!(new.deltas(Some(&new)).is_empty());
        // Dispatched to unit 7: the unit cut moves the order from 0 to 7; the category and
        // region rows gain `dispatched` only.
        let facts = OrderFacts {
            dispatched: true,
            lead: Some(UnitId(7)),
            ..OrderFacts::default()
        };
        let dispatched = tally("7", "01", facts);
        let d = dispatched.deltas(Some(&new));
        let unit: Vec<_> = d.iter().filter(|x| x.0 == Dim::Unit).collect();
        assert_eq!(unit.len(), 2);
        let to7 = unit.iter().find(|x| x.2 == "7").map(|x| x.3);
        let from0 = unit.iter().find(|x| x.2 == "0").map(|x| x.3);
        assert_eq!(to7.map(|x| (x[0], x[2])), Some((1, 1)));
        assert_eq!(from0.map(|x| (x[0], x[2])), Some((-1, 0)));
        let cat: Vec<_> = d.iter().filter(|x| x.0 == Dim::Category).collect();
        assert_eq!(cat.len(), 1);
        assert_eq!(d.len(), 5);
        assert_eq!(cat[0].3.iter().sum::<i64>(), 1);
        assert_eq!(cat[0].3[2], 1, "dispatched");
        // Re-classified: the category rows move, the others keep their counts.
        let moved = tally("7", "02", facts);
        let d = moved.deltas(Some(&dispatched));
        assert_eq!(d.len(), 4);
        assert!(d.iter().all(|x| matches!(x.0, Dim::Category | Dim::Issue)));
        let total: i64 = d.iter().map(|x| x.3[0]).sum();
        assert_eq!(total, 0);
    }

    #[test]
    fn rates_are_counts_over_their_bases_and_absent_without_a_base() {
        let c = Counts {
            accepted: 10,
            instant: 4,
            dispatched: 6,
            signed_on_time: 6,
            completed: 5,
            completed_on_time: 4,
            callback_due: 5,
            callback_done: 4,
            called_back: 4,
            satisfied: 2,
            basically_satisfied: 1,
            dissatisfied: 1,
            resolved: 3,
            rehandled: 1,
            ..Counts::default()
        };
        let r = Rates::of(&c, &Formulas::default());
        assert_eq!(r.response_rate, Some(1.0));
        assert_eq!(r.completion_rate, Some(5.0 / 6.0));
        assert_eq!(r.on_time_rate, Some(0.8));
        assert_eq!(r.resolution_rate, Some(0.75));
        assert_eq!(r.satisfaction_rate, Some(0.75));
        assert_eq!(r.instant_answer_rate, Some(0.4));
        assert_eq!(r.callback_rate, Some(0.8));
        let strict = Rates::of(&c, &Formulas::preset("strict").unwrap_or_default());
        assert!((strict.satisfaction_rate.unwrap_or(0.0) - 2.9 / 4.0).abs() < 1e-12);
        let none = Rates::of(&Counts::default(), &Formulas::default());
        assert_eq!(none, Rates::default());
    }

    #[test]
    fn the_composite_score_shares_out_the_weight_of_a_missing_rate() {
        let r = Rates {
            response_rate: Some(1.0),
            resolution_rate: Some(0.5),
            satisfaction_rate: Some(0.75),
            ..Rates::default()
        };
        let score = Composite::STANDARD.score(&r).unwrap_or_default();
        assert!((score - (10.0 + 25.0 + 30.0)).abs() < 1e-9, "{score}");
        let ordos = Composite::ORDOS.score(&r).unwrap_or_default();
        assert!((ordos - (30.0 + 17.5 + 26.25)).abs() < 1e-9, "{ordos}");
        // No callbacks yet: the response rate carries the score alone.
        let early = Rates {
            response_rate: Some(0.8),
            ..Rates::default()
        };
        assert_eq!(
            Composite::STANDARD.score(&early).map(|s| s.round()),
            Some(80.0)
        );
        assert_eq!(Composite::STANDARD.score(&Rates::default()), None);
        let mut bad = Formulas::default();
        bad.composite.response = 0.5;
        assert_eq!(
            bad.check().map_err(|e| e.field),
            Err("composite".to_string())
        );
        assert!(Formulas::preset("ordos").is_some_and(|f| f.check().is_ok()));
        // Deductions: 0.5 a late order, 1 an escalated one.
        let c = Counts {
            late: 4,
            escalated: 1,
            ..Counts::default()
        };
        let f = Formulas::default();
        assert_eq!(f.evaluate(&c, &r).map(|s| s.round()), Some(62.0));
        let many = Counts {
            escalated: 500,
            ..Counts::default()
        };
        assert_eq!(f.evaluate(&many, &r), Some(0.0));
    }

    #[test]
    fn measures_parse_from_their_names() {
        assert_eq!(Measure::parse("called_back"), Some(Measure::CalledBack));
        assert_eq!(Measure::parse("x"), None);
        for m in Measure::ALL {
            let name = serde_json::to_value(m).unwrap_or_default();
            assert_eq!(Measure::parse(name.as_str().unwrap_or_default()), Some(m));
        }
    }
}
