//! 每月一题: each month the centre reviews the issues (a category's first two levels in a
//! district) that were hardest for citizens, picks some for concentrated handling and names
//! the unit responsible. Candidates come from the maintained aggregates (`Dim::Issue`),
//! ranked by difficulty: what stayed unresolved or unsatisfied, was re-handled, escalated or
//! late; every figure drills down to its orders with the category and region cut.

use super::report::month_period;
use super::stats::Period;
use super::{App, AppError, AppResult, Principal};
use chrono::{Duration, Utc};
use jiesu_core::UnitId;
use jiesu_core::role::Role;
use jiesu_core::stats::{Counts, Dim, Rates};
use jiesu_store::StoreError;
use jiesu_store::audit::AuditEntry;
use jiesu_store::evaluations::HardCasePick;
use jiesu_store::orders::Scope;
use jiesu_store::stats::StatGroup;
use std::collections::HashMap;

/// Candidates listed at most (picked issues are always listed).
const CANDIDATES: usize = 20;
/// An issue needs this many orders in the month to be a candidate.
const MIN_ORDERS: u64 = 2;

pub struct Pick {
    pub unit: Option<(UnitId, String)>,
    pub note: String,
    pub by_name: String,
    pub at: chrono::DateTime<Utc>,
}

pub struct HardCase {
    pub category: (String, String),
    pub district: (String, String),
    pub counts: Counts,
    pub rates: Rates,
    /// Orders of the issue in the month before.
    pub previous: u64,
    /// 难点分 = unresolved + dissatisfied + 2 × re-handled + 3 × escalated + late.
    pub difficulty: u64,
    pub picked: Option<Pick>,
}

/// The difficulty of an issue's month (see `HardCase::difficulty`).
pub fn difficulty(c: &Counts) -> u64 {
    c.called_back.saturating_sub(c.resolved)
        + c.dissatisfied
        + 2 * c.rehandled
        + 3 * c.escalated
        + c.late
}

fn previous_month(p: Period) -> AppResult<Period> {
    let last = p.from - Duration::days(1);
    month_period(&last.format("%Y-%m").to_string())
}

impl App {
    fn require_centre(&self, p: &Principal, org: &jiesu_core::org::OrgTree) -> AppResult<()> {
        match self.scope(p, org) {
            Scope::All => Ok(()),
            Scope::Units(_) => Err(AppError::Forbidden("每月一题仅市级中心人员可查看".into())),
        }
    }

    /// The month's candidate issues, hardest first, with the picks made.
    pub async fn hard_cases(
        &self,
        p: &Principal,
        month: &str,
    ) -> AppResult<(Period, Vec<HardCase>)> {
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
            ],
            "查看每月一题",
        )?;
        let org = self.org(p.tenant).await?;
        self.require_centre(p, &org)?;
        let period = month_period(month)?;
        let before = previous_month(period)?;
        let month = period.from.format("%Y-%m").to_string();
        let sums = |q: Period| async move {
            let (from, to) = q.days();
            self.store
                .stat_sums(p.tenant, Dim::Issue, from, to, StatGroup::Key)
                .await
        };
        let now = sums(period).await?;
        let previous: HashMap<String, u64> = sums(before)
            .await?
            .into_iter()
            .map(|r| (r.key, r.counts.accepted))
            .collect();
        let picks: HashMap<String, HardCasePick> = self
            .store
            .hard_case_picks(p.tenant, &month)
            .await?
            .into_iter()
            .map(|k| (k.issue.clone(), k))
            .collect();
        let formulas = self.stat_formulas(p.tenant).await?;
        let refs = self.ref_data(p.tenant).await?;
        let name = |code: &str, names: &HashMap<String, String>| {
            names.get(code).cloned().unwrap_or_else(|| code.to_string())
        };
        let mut out: Vec<HardCase> = now
            .into_iter()
            .filter(|r| r.counts.accepted >= MIN_ORDERS || picks.contains_key(&r.key))
            .filter_map(|r| {
                let (c, d) = r.key.split_once('|')?;
                let picked = picks.get(&r.key).map(|k| Pick {
                    unit: k
                        .unit_id
                        .map(|u| (UnitId(u), org.name(UnitId(u)).to_string())),
                    note: k.note.clone(),
                    by_name: k.by_name.clone(),
                    at: chrono::DateTime::from_timestamp_millis(k.at).unwrap_or_default(),
                });
                Some(HardCase {
                    category: (c.to_string(), name(c, &refs.category_names)),
                    district: (d.to_string(), name(d, &refs.region_names)),
                    rates: Rates::of(&r.counts, &formulas),
                    previous: previous.get(&r.key).copied().unwrap_or(0),
                    difficulty: difficulty(&r.counts),
                    counts: r.counts,
                    picked,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.difficulty
                .cmp(&a.difficulty)
                .then(b.counts.accepted.cmp(&a.counts.accepted))
                .then(a.category.0.cmp(&b.category.0))
                .then(a.district.0.cmp(&b.district.0))
        });
        let mut listed = 0;
        out.retain(|h| {
            listed += 1;
            listed <= CANDIDATES || h.picked.is_some()
        });
        Ok((period, out))
    }

    /// Picks an issue as one of the month's hard cases, naming the unit responsible
    /// (supervisors and administrators); recorded in the audit log.
    pub async fn pick_hard_case(
        &self,
        p: &Principal,
        month: &str,
        category: &str,
        district: &str,
        unit: Option<UnitId>,
        note: String,
    ) -> AppResult<()> {
        p.require_any(&[Role::Supervisor, Role::Admin], "确定每月一题")?;
        let org = self.org(p.tenant).await?;
        self.require_centre(p, &org)?;
        let period = month_period(month)?;
        let refs = self.ref_data(p.tenant).await?;
        if !refs.category_names.contains_key(category) || category.matches('.').count() > 1 {
            return Err(AppError::invalid(
                "category",
                "分类不存在或不是一、二级分类",
            ));
        }
        if district.len() != 6 || !refs.region_names.contains_key(district) {
            return Err(AppError::invalid("district", "区县代码不存在"));
        }
        if let Some(u) = unit
            && org.get(u).is_none()
        {
            return Err(AppError::invalid("unit_id", "单位不存在"));
        }
        let note = note.trim().to_string();
        if note.is_empty() {
            return Err(AppError::invalid("note", "请说明选题理由与办理要求"));
        }
        if note.chars().count() > 1000 {
            return Err(AppError::invalid("note", "说明至多 1000 字"));
        }
        let month = period.from.format("%Y-%m").to_string();
        let issue = format!("{category}|{district}");
        let at = Utc::now();
        let pick = HardCasePick {
            month: month.clone(),
            issue: issue.clone(),
            unit_id: unit.map(|u| u.0),
            note: note.clone(),
            by_name: p.display_name.clone(),
            at: at.timestamp_millis(),
        };
        match self.store.pick_hard_case(p.tenant, &pick, p.user_id).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => {
                return Err(AppError::Conflict("该问题已列入本月每月一题".into()));
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .audit(
                p.tenant,
                AuditEntry {
                    at,
                    user_id: Some(p.user_id),
                    username: p.username.clone(),
                    action: "hard_case.pick".into(),
                    target: format!("{month} {issue}"),
                    detail: serde_json::json!({"unit_id": unit.map(|u| u.0), "note": note})
                        .to_string(),
                },
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difficulty_weighs_what_went_wrong() {
        let c = Counts {
            accepted: 10,
            called_back: 6,
            resolved: 4,
            dissatisfied: 1,
            rehandled: 1,
            escalated: 1,
            late: 2,
            ..Counts::default()
        };
        assert_eq!(difficulty(&c), 2 + 1 + 2 + 3 + 2);
        assert_eq!(difficulty(&Counts::default()), 0);
    }
}
