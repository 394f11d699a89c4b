//! Time-limit rules (办理时限, DOMAIN §5): which limit applies to each stage of an order, by
//! request type, urgency and flags; the staged reminders before each deadline (the "531"
//! scheme); and the deadlines themselves, recorded with what they were computed from so that
//! they can be explained later.

use crate::calendar::{Calendar, CalendarError, Explained, TimeLimit};
use crate::error::FieldError;
use crate::order::{Flags, RequestType, Urgency};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A stage of the lifecycle that runs against a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The centre dispatches (审核派单).
    Dispatch,
    /// The unit signs for it (签收).
    Sign,
    /// The unit replies with the result (办理反馈).
    Reply,
    /// The centre checks the reply (核验).
    Check,
    /// The centre calls the citizen back (回访).
    Callback,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Dispatch,
        Stage::Sign,
        Stage::Reply,
        Stage::Check,
        Stage::Callback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dispatch => "dispatch",
            Stage::Sign => "sign",
            Stage::Reply => "reply",
            Stage::Check => "check",
            Stage::Callback => "callback",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Dispatch => "派单",
            Stage::Sign => "签收",
            Stage::Reply => "办理反馈",
            Stage::Check => "核验",
            Stage::Callback => "回访",
        }
    }

    /// Whether the centre (rather than a handling unit) is responsible for the stage.
    pub fn is_centre_stage(self) -> bool {
        matches!(self, Stage::Dispatch | Stage::Check | Stage::Callback)
    }
}

/// Which orders a rule applies to; an empty list or `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_types: Vec<RequestType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urgencies: Vec<Urgency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex: Option<bool>,
}

impl RuleMatch {
    fn matches(&self, t: RequestType, u: Urgency, f: &Flags) -> bool {
        (self.request_types.is_empty() || self.request_types.contains(&t))
            && (self.urgencies.is_empty() || self.urgencies.contains(&u))
            && self.emergency.is_none_or(|e| e == f.emergency)
            && self.complex.is_none_or(|c| c == f.complex)
    }

    fn is_catch_all(&self) -> bool {
        *self == RuleMatch::default()
    }
}

/// Limits for some stages of the orders a rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub when: RuleMatch,
    pub limits: BTreeMap<Stage, TimeLimit>,
}

/// A tenant's time limits: for each stage the first rule that matches the order and names the
/// stage decides. The last rule matches everything and names every stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRules {
    /// The preset these rules started from (`ordos`, `jinchang`) or `custom`.
    pub preset: String,
    pub rules: Vec<Rule>,
    /// Reminders before each deadline, in minutes of remaining time, largest first
    /// (the "531" scheme: 5, 3 and 1 hours before).
    pub reminders: Vec<u32>,
    /// Longest extension a unit may ask for, in working days (at most 5).
    pub max_extension_days: u32,
}

fn rule(name: &str, when: RuleMatch, limits: &[(Stage, TimeLimit)]) -> Rule {
    Rule {
        name: name.into(),
        when,
        limits: limits.iter().copied().collect(),
    }
}

impl TimeRules {
    pub const PRESETS: [&'static str; 2] = ["ordos", "jinchang"];

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "ordos" => Some(Self::ordos()),
            "jinchang" => Some(Self::jinchang()),
            _ => None,
        }
    }

    /// Ordos (DOMAIN §5): dispatch within 1 working day; consultation 1 working day;
    /// help/complaint/report/suggestion 3; complex 5; emergencies dispatched at once and
    /// replied within 2 clock hours.
    pub fn ordos() -> Self {
        use Stage::*;
        use TimeLimit::*;
        TimeRules {
            preset: "ordos".into(),
            rules: vec![
                rule(
                    "突发事件",
                    RuleMatch {
                        emergency: Some(true),
                        ..RuleMatch::default()
                    },
                    &[
                        (Dispatch, ClockMinutes(30)),
                        (Sign, ClockMinutes(30)),
                        (Reply, ClockHours(2)),
                        (Check, ClockHours(2)),
                    ],
                ),
                rule(
                    "疑难诉求",
                    RuleMatch {
                        complex: Some(true),
                        ..RuleMatch::default()
                    },
                    &[(Reply, WorkingDays(5))],
                ),
                rule(
                    "咨询类",
                    RuleMatch {
                        request_types: vec![RequestType::Consultation],
                        ..RuleMatch::default()
                    },
                    &[(Reply, WorkingDays(1))],
                ),
                rule(
                    "一般诉求",
                    RuleMatch::default(),
                    &[
                        (Dispatch, WorkingDays(1)),
                        (Sign, WorkingHours(2)),
                        (Reply, WorkingDays(3)),
                        (Check, WorkingDays(1)),
                        (Callback, WorkingDays(2)),
                    ],
                ),
            ],
            reminders: vec![300, 180, 60],
            max_extension_days: 5,
        }
    }

    /// Jinchang's five levels: 即办 (30 clock minutes), 3 hours, 24 hours, 3 days, 5 days.
    pub fn jinchang() -> Self {
        use Stage::*;
        use TimeLimit::*;
        TimeRules {
            preset: "jinchang".into(),
            rules: vec![
                rule(
                    "即办",
                    RuleMatch {
                        emergency: Some(true),
                        ..RuleMatch::default()
                    },
                    &[
                        (Dispatch, ClockMinutes(10)),
                        (Sign, ClockMinutes(10)),
                        (Reply, ClockMinutes(30)),
                        (Check, ClockHours(1)),
                    ],
                ),
                rule(
                    "3小时",
                    RuleMatch {
                        urgencies: vec![Urgency::VeryUrgent],
                        ..RuleMatch::default()
                    },
                    &[
                        (Dispatch, ClockMinutes(30)),
                        (Sign, ClockMinutes(30)),
                        (Reply, ClockHours(3)),
                    ],
                ),
                rule(
                    "24小时",
                    RuleMatch {
                        urgencies: vec![Urgency::Urgent],
                        ..RuleMatch::default()
                    },
                    &[
                        (Dispatch, WorkingHours(2)),
                        (Sign, WorkingHours(1)),
                        (Reply, ClockHours(24)),
                    ],
                ),
                rule(
                    "5天",
                    RuleMatch {
                        complex: Some(true),
                        ..RuleMatch::default()
                    },
                    &[(Reply, WorkingDays(5))],
                ),
                rule(
                    "3天",
                    RuleMatch::default(),
                    &[
                        (Dispatch, WorkingDays(1)),
                        (Sign, WorkingHours(2)),
                        (Reply, WorkingDays(3)),
                        (Check, WorkingDays(1)),
                        (Callback, WorkingDays(2)),
                    ],
                ),
            ],
            reminders: vec![300, 180, 60],
            max_extension_days: 5,
        }
    }

    /// The limit of `stage` for an order of this type, urgency and flags, and the rule's name.
    pub fn limit(
        &self,
        stage: Stage,
        t: RequestType,
        u: Urgency,
        f: &Flags,
    ) -> Option<(&str, TimeLimit)> {
        self.rules
            .iter()
            .filter(|r| r.when.matches(t, u, f))
            .find_map(|r| r.limits.get(&stage).map(|l| (r.name.as_str(), *l)))
    }

    /// Checks rules an administrator wrote; the error names the offending field.
    pub fn validate(&self) -> Result<(), FieldError> {
        let Some(last) = self.rules.last() else {
            return Err(FieldError::new("rules", "至少需要一条规则"));
        };
        if !last.when.is_catch_all() {
            return Err(FieldError::new(
                format!("rules[{}].when", self.rules.len() - 1),
                "最后一条规则须适用于所有工单（不设条件）",
            ));
        }
        for s in Stage::ALL {
            if !last.limits.contains_key(&s) {
                return Err(FieldError::new(
                    format!("rules[{}].limits", self.rules.len() - 1),
                    format!("最后一条规则须规定“{}”时限", s.label()),
                ));
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.name.trim().is_empty() || r.name.chars().count() > 40 {
                return Err(FieldError::new(
                    format!("rules[{i}].name"),
                    "规则名称须为 1–40 字",
                ));
            }
            for (s, l) in &r.limits {
                let ok = match l {
                    TimeLimit::WorkingDays(n) => *n <= 60,
                    TimeLimit::WorkingHours(n) => (1..=480).contains(n),
                    TimeLimit::ClockHours(n) => (1..=1440).contains(n),
                    TimeLimit::ClockMinutes(n) => (1..=1440).contains(n),
                };
                if !ok {
                    return Err(FieldError::new(
                        format!("rules[{i}].limits.{}", s.as_str()),
                        "时限超出允许范围（工作日 ≤ 60，工作小时 1–480，小时 1–1440，分钟 1–1440）",
                    ));
                }
            }
        }
        if self.reminders.len() > 10
            || self.reminders.iter().any(|m| *m == 0 || *m > 60 * 24 * 30)
            || self.reminders.windows(2).any(|w| w[0] <= w[1])
        {
            return Err(FieldError::new(
                "reminders",
                "提醒点须为从大到小排列、互不相同的剩余分钟数（至多 10 个）",
            ));
        }
        if !(1..=5).contains(&self.max_extension_days) {
            return Err(FieldError::new(
                "max_extension_days",
                "延期上限为 1 至 5 个工作日",
            ));
        }
        Ok(())
    }
}

/// A deadline of one stage, with what it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub stage: Stage,
    /// When the stage started (or, for an extension, the deadline it extended).
    pub start: DateTime<Utc>,
    pub limit: TimeLimit,
    /// The rule that set the limit, or why it changed (延期).
    pub rule: String,
    pub due: DateTime<Utc>,
    /// Reminders planned when the stage started, in minutes before `due`.
    #[serde(default)]
    pub reminders: Vec<u32>,
}

impl Deadline {
    pub fn compute(
        calendar: &Calendar,
        stage: Stage,
        start: DateTime<Utc>,
        limit: TimeLimit,
        rule: &str,
        reminders: &[u32],
    ) -> Result<Deadline, CalendarError> {
        let due = calendar.due(start, limit)?;
        Ok(Deadline {
            stage,
            start,
            limit,
            rule: rule.to_string(),
            due,
            // Only reminders that fall after the stage started make sense.
            reminders: reminders
                .iter()
                .copied()
                .filter(|m| due - Duration::minutes(i64::from(*m)) > start)
                .collect(),
        })
    }

    /// The explanation of this deadline on `calendar` (recomputed; if the calendar changed
    /// since, the explanation says so).
    pub fn explain(&self, calendar: &Calendar) -> Result<Explained, CalendarError> {
        let mut e = calendar.explain(self.start, self.limit)?;
        e.text = format!("{}：{}", self.rule, e.text);
        if e.due != self.due {
            e.text
                .push_str("（工作日历已调整，按现行日历应为上述时间；本单期限以受理时计算为准）");
        }
        Ok(e)
    }

    /// When reminder `k` (0-based) is due.
    pub fn reminder_at(&self, k: usize) -> Option<DateTime<Utc>> {
        self.reminders
            .get(k)
            .map(|m| self.due - Duration::minutes(i64::from(*m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_naming_the_stage_decides() {
        let r = TimeRules::ordos();
        let plain = Flags::default();
        let complex = Flags {
            complex: true,
            ..Flags::default()
        };
        let emergency = Flags {
            emergency: true,
            ..Flags::default()
        };
        let lim = |t, u, f: &Flags, s| r.limit(s, t, u, f).map(|(_, l)| l);
        use RequestType::*;
        use Stage::*;
        use TimeLimit::*;
        assert_eq!(
            lim(Consultation, Urgency::Normal, &plain, Reply),
            Some(WorkingDays(1))
        );
        assert_eq!(
            lim(Complaint, Urgency::Normal, &plain, Reply),
            Some(WorkingDays(3))
        );
        assert_eq!(
            lim(Complaint, Urgency::Normal, &complex, Reply),
            Some(WorkingDays(5))
        );
        assert_eq!(
            lim(Consultation, Urgency::Normal, &complex, Reply),
            Some(WorkingDays(5)),
            "complex wins, listed first"
        );
        assert_eq!(
            lim(Help, Urgency::Normal, &emergency, Reply),
            Some(ClockHours(2))
        );
        assert_eq!(
            lim(Help, Urgency::Normal, &emergency, Dispatch),
            Some(ClockMinutes(30))
        );
        assert_eq!(
            lim(Help, Urgency::Normal, &complex, Dispatch),
            Some(WorkingDays(1)),
            "falls through to the default"
        );
        let j = TimeRules::jinchang();
        assert_eq!(
            j.limit(Reply, Complaint, Urgency::Urgent, &plain)
                .map(|x| x.1),
            Some(ClockHours(24))
        );
        assert_eq!(
            j.limit(Reply, Complaint, Urgency::VeryUrgent, &plain)
                .map(|x| x.1),
            Some(ClockHours(3))
        );
        assert_eq!(
            j.limit(Reply, Complaint, Urgency::Normal, &emergency)
                .map(|x| x.1),
            Some(ClockMinutes(30))
        );
    }

    #[test]
    fn the_presets_are_valid_and_bad_rules_name_their_field() {
        TimeRules::ordos().validate().unwrap();
        TimeRules::jinchang().validate().unwrap();
        let mut r = TimeRules::ordos();
        r.rules.pop();
        assert_eq!(r.validate().unwrap_err().field, "rules[2].when");
        let mut r = TimeRules::ordos();
        r.reminders = vec![60, 180];
        assert_eq!(r.validate().unwrap_err().field, "reminders");
        let mut r = TimeRules::ordos();
        r.rules[3]
            .limits
            .insert(Stage::Reply, TimeLimit::WorkingDays(99));
        assert_eq!(r.validate().unwrap_err().field, "rules[3].limits.reply");
        let mut r = TimeRules::ordos();
        r.max_extension_days = 6;
        assert_eq!(r.validate().unwrap_err().field, "max_extension_days");
        let json = serde_json::to_string(&TimeRules::jinchang()).unwrap();
        assert_eq!(
            serde_json::from_str::<TimeRules>(&json).unwrap(),
            TimeRules::jinchang()
        );
    }

    #[test]
    fn reminders_before_the_stage_started_are_dropped() {
        let c = Calendar::official();
        let start = DateTime::parse_from_rfc3339("2026-11-24T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let d = Deadline::compute(
            &c,
            Stage::Reply,
            start,
            TimeLimit::ClockHours(2),
            "突发事件",
            &[300, 180, 60],
        )
        .unwrap();
        assert_eq!(d.reminders, vec![60]);
        assert_eq!(d.reminder_at(0), Some(start + Duration::hours(1)));
    }
}
