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
