//! Monthly and yearly evaluation of units (考核): a month's scores are live until an admin
//! closes the month; then they are frozen as they were, and later corrections are recorded as
//! adjustments (points, who, when, why) on top of the frozen scores. A year is the mean of
//! its closed months.

use super::report::month_period;
use super::stats::Ranked;
use super::{AdminCap, App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::UnitId;
use jiesu_core::org::UnitKind;
use jiesu_core::role::Role;
use jiesu_core::stats::Formulas;
use jiesu_store::evaluations::Adjustment;
use jiesu_store::orders::Scope;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The peer groups evaluated.
const KINDS: [UnitKind; 5] = [
    UnitKind::Department,
    UnitKind::Town,
    UnitKind::DistrictCentre,
    UnitKind::Community,
    UnitKind::Grid,
];

/// One unit's figures as evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    pub unit_id: i64,
    pub unit_name: String,
    pub kind: String,
    pub dispatched: u64,
    pub late: u64,
    pub escalated: u64,
    pub response_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub score: Option<f64>,
    pub deduction: f64,
    pub evaluation: Option<f64>,
}

impl EvalRow {
    fn of(r: &Ranked) -> EvalRow {
        EvalRow {
            unit_id: r.unit.0,
            unit_name: r.name.clone(),
            kind: r.kind.as_str().to_string(),
            dispatched: r.counts.dispatched,
            late: r.counts.late,
            escalated: r.counts.escalated,
            response_rate: r.rates.response_rate,
            completion_rate: r.rates.completion_rate,
            on_time_rate: r.rates.on_time_rate,
            resolution_rate: r.rates.resolution_rate,
            satisfaction_rate: r.rates.satisfaction_rate,
            score: r.score,
            deduction: r.deduction,
            evaluation: r.evaluation,
        }
    }
}

/// A closed month as frozen.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    formulas: Formulas,
    rows: Vec<EvalRow>,
}

/// A row with its adjustments and rank.
#[derive(Debug, Clone)]
pub struct EvalLine {
    pub row: EvalRow,
    /// The adjustments' sum, in points.
    pub adjustment: f64,
    /// The evaluation plus the adjustments, within 0–100.
    pub adjusted: Option<f64>,
    pub rank: Option<usize>,
}

pub struct EvaluationView {
    pub period: String,
    /// When and by whom the month was closed; `None`: live figures, not frozen.
    pub closed: Option<(DateTime<Utc>, String)>,
    pub formulas: Formulas,
    pub lines: Vec<EvalLine>,
    pub adjustments: Vec<Adjustment>,
}

pub struct YearLine {
    pub unit_id: i64,
    pub unit_name: String,
    /// Closed months the unit was scored in.
    pub months: usize,
    pub mean: f64,
    pub rank: usize,
}

/// Ranks by `score` (best first); equal scores to the hundredth share a rank.
fn rank_lines(lines: &mut [EvalLine]) {
    lines.sort_by(|a, b| {
        b.adjusted
            .unwrap_or(-1.0)
            .total_cmp(&a.adjusted.unwrap_or(-1.0))
            .then(b.row.dispatched.cmp(&a.row.dispatched))
            .then(a.row.unit_id.cmp(&b.row.unit_id))
    });
    let mut previous: Option<(f64, usize)> = None;
    for (i, l) in lines.iter_mut().enumerate() {
        let Some(score) = l.adjusted else { continue };
        let rounded = (score * 100.0).round();
        let rank = match previous {
            Some((s, k)) if s == rounded => k,
            _ => i + 1,
        };
        previous = Some((rounded, rank));
        l.rank = Some(rank);
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

impl App {
    /// Evaluations rank the units of the whole city: centre staff of the city only, closed
    /// months as well as live ones (a live month checks this again through the ranking).
    async fn require_evaluation(&self, p: &Principal) -> AppResult<()> {
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
            ],
            "查看考核",
        )?;
        let org = self.org(p.tenant).await?;
        match self.scope(p, &org) {
            Scope::All => Ok(()),
            Scope::Units(_) => Err(AppError::Forbidden("考核排名仅市级中心人员可查看".into())),
        }
    }

    /// A month's evaluation of one peer group: frozen (with adjustments) once closed, live
    /// before.
    pub async fn evaluation(
        &self,
        p: &Principal,
        month: &str,
        kind: UnitKind,
    ) -> AppResult<EvaluationView> {
        self.require_evaluation(p).await?;
        let period = month_period(month)?;
        let name = month.trim().to_string();
        let closed = self.store.closed_evaluations(p.tenant, &name).await?;
        let adjustments = self.store.adjustments(p.tenant, &name).await?;
        let (rows, formulas, closed) = match closed.into_iter().find(|c| c.period == name) {
            Some(c) => {
                let s: Snapshot = serde_json::from_str(&c.snapshot).map_err(internal)?;
                let rows: Vec<EvalRow> = s
                    .rows
                    .into_iter()
                    .filter(|r| r.kind == kind.as_str())
                    .collect();
                (
                    rows,
                    s.formulas,
                    Some((
                        DateTime::from_timestamp_millis(c.closed_at).unwrap_or_default(),
                        c.closed_by_name,
                    )),
                )
            }
            None => {
                let (ranked, formulas) = self.ranking(p, period, kind).await?;
                (ranked.iter().map(EvalRow::of).collect(), formulas, None)
            }
        };
        let mut lines: Vec<EvalLine> = rows
            .into_iter()
            .map(|row| {
                let adjustment = adjustments
                    .iter()
                    .filter(|a| a.unit_id == row.unit_id)
                    .map(|a| a.centipoints as f64 / 100.0)
                    .sum::<f64>();
                EvalLine {
                    adjusted: row.evaluation.map(|e| (e + adjustment).clamp(0.0, 100.0)),
                    adjustment,
                    rank: None,
                    row,
                }
            })
            .collect();
        rank_lines(&mut lines);
        Ok(EvaluationView {
            period: name,
            closed,
            formulas,
            lines,
            adjustments,
        })
    }

    /// Closes a past month: every peer group's scores are frozen as they are now.
    pub async fn close_evaluation(&self, cap: &AdminCap<'_>, month: &str) -> AppResult<()> {
        let p = cap.0;
        let period = month_period(month)?;
        if period.to >= super::insight::china_today() {
            return Err(AppError::invalid("month", "只能关闭已经结束的月份"));
        }
        let mut rows = Vec::new();
        let mut formulas = None;
        for kind in KINDS {
            let (ranked, f) = self.ranking(p, period, kind).await?;
            rows.extend(ranked.iter().map(EvalRow::of));
            formulas = Some(f);
        }
        let snapshot = Snapshot {
            formulas: formulas.unwrap_or_default(),
            rows,
        };
        let json = serde_json::to_string(&snapshot).map_err(internal)?;
        let name = month.trim();
        self.store
            .close_evaluation(
                p.tenant,
                name,
                &json,
                Utc::now().timestamp_millis(),
                (p.user_id, &p.display_name),
            )
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::Duplicate(_) => {
                    AppError::Conflict(format!("{name} 的考核已经关闭"))
                }
                e => e.into(),
            })?;
        self.audit(
            cap,
            "evaluation.close",
            format!("evaluation:{name}"),
            format!("{} units frozen", snapshot.rows.len()),
        )
        .await
    }

    /// A correction to a closed month's score, with the reason.
    pub async fn adjust_evaluation(
        &self,
        cap: &AdminCap<'_>,
        month: &str,
        unit: UnitId,
        points: f64,
        reason: String,
    ) -> AppResult<()> {
        let p = cap.0;
        month_period(month)?;
        let name = month.trim().to_string();
        let reason = jiesu_core::values::required_text("reason", &reason, 500)?;
        if !(-100.0..=100.0).contains(&points) || points == 0.0 {
            return Err(AppError::invalid(
                "points",
                "调整分值须在 -100 至 100 之间且不为 0",
            ));
        }
        let closed = self.store.closed_evaluations(p.tenant, &name).await?;
        let Some(c) = closed.into_iter().find(|c| c.period == name) else {
            return Err(AppError::Conflict(format!(
                "{name} 的考核尚未关闭：请直接更正工单，分数会随之变化"
            )));
        };
        let s: Snapshot = serde_json::from_str(&c.snapshot).map_err(internal)?;
        if !s.rows.iter().any(|r| r.unit_id == unit.0) {
            return Err(AppError::invalid("unit_id", "该单位不在本月考核中"));
        }
        let centipoints = (points * 100.0).round() as i64;
        self.store
            .add_adjustment(
                p.tenant,
                &Adjustment {
                    id: 0,
                    period: name.clone(),
                    unit_id: unit.0,
                    centipoints,
                    reason: reason.clone(),
                    at: Utc::now().timestamp_millis(),
                    by_name: p.display_name.clone(),
                },
                p.user_id,
            )
            .await?;
        self.audit(
            cap,
            "evaluation.adjust",
            format!("evaluation:{name}:unit:{}", unit.0),
            format!("{points:+.2}: {reason}"),
        )
        .await
    }

    /// A year of one peer group: each unit's mean adjusted score over the year's closed
    /// months.
    pub async fn year_evaluation(
        &self,
        p: &Principal,
        year: i32,
        kind: UnitKind,
    ) -> AppResult<(Vec<String>, Vec<YearLine>)> {
        self.require_evaluation(p).await?;
        if !(2000..=2100).contains(&year) {
            return Err(AppError::invalid("year", "年份超出范围"));
        }
        let prefix = format!("{year:04}-");
        let closed = self.store.closed_evaluations(p.tenant, &prefix).await?;
        let mut months = Vec::new();
        let mut sums: BTreeMap<i64, (String, usize, f64)> = BTreeMap::new();
        for c in &closed {
            let view = self.evaluation(p, &c.period, kind).await?;
            months.push(c.period.clone());
            for l in view.lines {
                if let Some(score) = l.adjusted {
                    let e = sums
                        .entry(l.row.unit_id)
                        .or_insert((l.row.unit_name.clone(), 0, 0.0));
                    e.1 += 1;
                    e.2 += score;
                }
            }
        }
        let mut lines: Vec<YearLine> = sums
            .into_iter()
            .map(|(unit_id, (unit_name, n, sum))| YearLine {
                unit_id,
                unit_name,
                months: n,
                mean: sum / n as f64,
                rank: 0,
            })
            .collect();
        lines.sort_by(|a, b| b.mean.total_cmp(&a.mean).then(a.unit_id.cmp(&b.unit_id)));
        let mut previous: Option<(f64, usize)> = None;
        for (i, l) in lines.iter_mut().enumerate() {
            let rounded = (l.mean * 100.0).round();
            l.rank = match previous {
                Some((s, k)) if s == rounded => k,
                _ => i + 1,
            };
            previous = Some((rounded, l.rank));
        }
        Ok((months, lines))
    }
}
