//! The centre's figures (四率 and more) for a period, a unit's subtree or the whole centre,
//! each with the counts behind it and the list of orders behind every count.
//!
//! Counted from the orders accepted in the period (see `jiesu_core::stats` for what each
//! order counts towards). The figures by unit, by category and by region are read from the
//! maintained aggregates (`stat_daily`: a row per day and key, kept in each order's write
//! transaction); other cuts (a unit and a category together) and the lists behind the figures
//! go through the orders themselves, with the same facts.

use super::orders::OrderView;
use super::{AdminCap, App, AppError, AppResult, Principal};
use chrono::{Duration, NaiveDate};
use jiesu_core::UnitId;
use jiesu_core::org::UnitKind;
use jiesu_core::role::Role;
use jiesu_core::stats::Dim;
use jiesu_core::stats::{Counts, Formulas, Measure, OrderFacts, Rates};
use jiesu_core::values::{CategoryCode, RegionCode};
use jiesu_store::orders::{Scope, StoredOrder};
use jiesu_store::stats::StatGroup;
use std::collections::HashMap;
use std::collections::HashSet;

const FORMULAS_KEY: &str = "stat_formulas";
const PAGE: u64 = 2_000;
/// Orders listed behind a figure at most.
const MAX_LIST: usize = 5_000;
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;

/// Days, China time, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> AppResult<Period> {
        if to < from {
            return Err(AppError::invalid("to", "结束日期不能早于开始日期"));
        }
        if (to - from).num_days() > 366 {
            return Err(AppError::invalid("to", "统计期间至多 366 天"));
        }
        Ok(Period { from, to })
    }

    /// The first and last day as days since 1970-01-01 (the aggregates' `day`).
    pub fn days(&self) -> (i64, i64) {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        ((self.from - epoch).num_days(), (self.to - epoch).num_days())
    }

    /// `[start, end)` in epoch milliseconds.
    pub(crate) fn millis(&self) -> (i64, i64) {
        let start = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp_millis() - CHINA_OFFSET_MS)
        };
        (start(self.from), start(self.to + Duration::days(1)))
    }
}

/// One unit's figures in a ranking.
pub struct Ranked {
    pub unit: UnitId,
    pub name: String,
    pub kind: UnitKind,
    pub counts: Counts,
    pub rates: Rates,
    /// The composite score 0–100; `None` without any rate (nothing dispatched).
    pub score: Option<f64>,
    pub deduction: f64,
    /// The evaluation score: the composite less the deductions (ranks by it).
    pub evaluation: Option<f64>,
    /// 1 for the best score among its peers; `None` without a score.
    pub rank: Option<usize>,
}

/// What figures are cut by: a unit's subtree, a category and those below it, a region and
/// those within it (each optional; all together narrow).
#[derive(Debug, Clone, Default)]
pub struct StatCut {
    pub unit: Option<UnitId>,
    pub category: Option<CategoryCode>,
    pub region: Option<RegionCode>,
}

impl StatCut {
    pub fn unit(unit: Option<UnitId>) -> StatCut {
        StatCut {
            unit,
            ..StatCut::default()
        }
    }

    /// Whether an order of this category and region is in the cut (the unit is checked on
    /// the lead).
    fn admits(&self, category: Option<&str>, region: Option<&str>) -> bool {
        self.category
            .as_ref()
            .is_none_or(|c| category.is_some_and(|k| category_within(k, c.as_str())))
            && self
                .region
                .as_ref()
                .is_none_or(|r| region.is_some_and(|k| k.starts_with(r.as_str())))
    }
}

/// `code` is `parent` or a category below it (`01` ⊃ `01.02`).
fn category_within(code: &str, parent: &str) -> bool {
    code == parent
        || code
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Where a read of the orders accepted in a period has got to (see `App::accepted_page`):
/// a period's orders are read a page at a time, never all at once.
pub(crate) struct Accepted<'a> {
    from: i64,
    to: i64,
    /// The last (acceptance time, id) read.
    after: (i64, i64),
    done: bool,
    units: &'a Option<HashSet<UnitId>>,
    cut: &'a StatCut,
}

impl<'a> Accepted<'a> {
    pub(crate) fn new(
        period: Period,
        units: &'a Option<HashSet<UnitId>>,
        cut: &'a StatCut,
    ) -> Accepted<'a> {
        let (from, to) = period.millis();
        Accepted {
            from,
            to,
            after: (i64::MIN, i64::MIN),
            done: false,
            units,
            cut,
        }
    }
}

pub struct RateReport {
    pub period: Period,
    pub unit: Option<(UnitId, String)>,
    pub counts: Counts,
    pub rates: Rates,
    pub formulas: Formulas,
}

impl App {
    /// The units whose figures `p` may read: all (`None`) or a subtree. `unit` narrows it.
    fn stats_units(
        &self,
        p: &Principal,
        org: &jiesu_core::org::OrgTree,
        unit: Option<UnitId>,
    ) -> AppResult<Option<HashSet<UnitId>>> {
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
                Role::UnitAdmin,
            ],
            "查看统计",
        )?;
        if let Some(u) = unit
            && org.get(u).is_none()
        {
            return Err(AppError::invalid("unit", "单位不存在"));
        }
        match (self.scope(p, org), unit) {
            (Scope::All, None) => Ok(None),
            (Scope::All, Some(u)) => Ok(Some(org.subtree(u).into_iter().collect())),
            (Scope::Units(mine), None) => Ok(Some(mine.into_iter().collect())),
            (Scope::Units(mine), Some(u)) => {
                if !mine.contains(&u) {
                    return Err(AppError::Forbidden("只能查看本单位及下级单位的统计".into()));
                }
                Ok(Some(org.subtree(u).into_iter().collect()))
            }
        }
    }

    /// Runs `f` on every order accepted in the period within `cut` whose lead is among
    /// `units` (every order for `None`), with its facts, in acceptance order.
    async fn each_order_in(
        &self,
        p: &Principal,
        period: Period,
        units: &Option<HashSet<UnitId>>,
        cut: &StatCut,
        mut f: impl FnMut(StoredOrder, &OrderFacts),
    ) -> AppResult<()> {
        let mut pages = Accepted::new(period, units, cut);
        while let Some(page) = self.accepted_page(p, &mut pages).await? {
            for (o, facts) in page {
                f(o, &facts);
            }
        }
        Ok(())
    }

    /// The next page of `pages` (`None` past the last): the orders of one read, in
    /// acceptance order, less those outside the cut or led by another unit (a page may be
    /// empty).
    pub(crate) async fn accepted_page(
        &self,
        p: &Principal,
        pages: &mut Accepted<'_>,
    ) -> AppResult<Option<Vec<(StoredOrder, OrderFacts)>>> {
        if pages.done {
            return Ok(None);
        }
        let page = self
            .store
            .orders_accepted(p.tenant, pages.from, pages.to, pages.after, PAGE)
            .await?;
        pages.done = (page.len() as u64) < PAGE;
        let Some((at, last)) = page.last() else {
            return Ok(None);
        };
        pages.after = (*at, last.id.0);
        let kept = page
            .into_iter()
            .filter(|(_, o)| {
                pages.cut.admits(
                    o.order.category.as_ref().map(|c| c.as_str()),
                    o.order.location.region_code.as_ref().map(|r| r.as_str()),
                )
            })
            .map(|(_, o)| {
                let facts = OrderFacts::of(&o.order);
                (o, facts)
            })
            .filter(|(_, facts)| match pages.units {
                None => true,
                Some(us) => facts.lead.is_some_and(|l| us.contains(&l)),
            })
            .collect();
        Ok(Some(kept))
    }

    /// The rates of the orders accepted in `period` within `cut`, of all that `p` may see.
    pub async fn rates(
        &self,
        p: &Principal,
        period: Period,
        cut: &StatCut,
    ) -> AppResult<RateReport> {
        let org = self.org(p.tenant).await?;
        let units = self.stats_units(p, &org, cut.unit)?;
        let formulas = self.stat_formulas(p.tenant).await?;
        let counts = match (&units, &cut.category, &cut.region) {
            (_, None, None) => {
                let mut counts = Counts::default();
                for r in self.stat_rows(p, period, Dim::Unit).await? {
                    let counted = match &units {
                        None => true,
                        Some(us) => r.key.parse::<i64>().is_ok_and(|u| us.contains(&UnitId(u))),
                    };
                    if counted {
                        counts.merge(&r.counts);
                    }
                }
                counts
            }
            (None, Some(c), None) => {
                let mut counts = Counts::default();
                for r in self.stat_rows(p, period, Dim::Category).await? {
                    if category_within(&r.key, c.as_str()) {
                        counts.merge(&r.counts);
                    }
                }
                counts
            }
            (None, None, Some(g)) => {
                let mut counts = Counts::default();
                for r in self.stat_rows(p, period, Dim::Region).await? {
                    if !r.key.is_empty() && r.key.starts_with(g.as_str()) {
                        counts.merge(&r.counts);
                    }
                }
                counts
            }
            _ => {
                let mut counts = Counts::default();
                self.each_order_in(p, period, &units, cut, |_, f| counts.add(f))
                    .await?;
                counts
            }
        };
        // A unit's staff read their own unit's figures when they name none.
        let unit = cut.unit.or_else(|| units.as_ref().map(|_| p.unit_id));
        Ok(RateReport {
            period,
            unit: unit.map(|u| (u, org.name(u).to_string())),
            rates: Rates::of(&counts, &formulas),
            counts,
            formulas,
        })
    }

    /// The aggregate rows of the period under one cut, a row per key.
    async fn stat_rows(
        &self,
        p: &Principal,
        period: Period,
        dim: Dim,
    ) -> AppResult<Vec<jiesu_store::stats::StatRow>> {
        let (from, to) = period.days();
        Ok(self
            .store
            .stat_sums(p.tenant, dim, from, to, StatGroup::Key)
            .await?)
    }

    /// The units of one kind (the peers: departments, towns …) ranked by their composite
    /// score over the period, each with its subtree's figures. Units with nothing dispatched
    /// are listed last, unranked.
    pub async fn ranking(
        &self,
        p: &Principal,
        period: Period,
        kind: UnitKind,
    ) -> AppResult<(Vec<Ranked>, Formulas)> {
        let org = self.ranking_org(p).await?;
        let formulas = self.stat_formulas(p.tenant).await?;
        let rows = self.stat_rows(p, period, Dim::Unit).await?;
        Ok((ranked_of(&org, &formulas, &rows, kind), formulas))
    }

    /// The organisation, for centre staff who may read rankings.
    async fn ranking_org(
        &self,
        p: &Principal,
    ) -> AppResult<std::sync::Arc<jiesu_core::org::OrgTree>> {
        let org = self.org(p.tenant).await?;
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
            ],
            "查看单位排名",
        )?;
        if !matches!(self.scope(p, &org), Scope::All) {
            return Err(AppError::Forbidden("单位排名仅市级中心人员可查看".into()));
        }
        Ok(org)
    }

    /// The whole centre's rates and the ranking of `kind` from one read of the aggregates
    /// (the cockpit): centre staff who may read rankings.
    pub(crate) async fn rates_and_ranking(
        &self,
        p: &Principal,
        period: Period,
        kind: UnitKind,
    ) -> AppResult<(RateReport, Vec<Ranked>)> {
        let org = self.ranking_org(p).await?;
        let formulas = self.stat_formulas(p.tenant).await?;
        let rows = self.stat_rows(p, period, Dim::Unit).await?;
        let mut counts = Counts::default();
        for r in &rows {
            counts.merge(&r.counts);
        }
        let ranked = ranked_of(&org, &formulas, &rows, kind);
        Ok((
            RateReport {
                period,
                unit: None,
                rates: Rates::of(&counts, &formulas),
                counts,
                formulas,
            },
            ranked,
        ))
    }

    /// The orders behind one count (drill-down), oldest first: at most 5,000, and how many
    /// there are.
    pub async fn stat_orders(
        &self,
        p: &Principal,
        measure: Measure,
        period: Period,
        cut: &StatCut,
    ) -> AppResult<(Vec<OrderView>, u64)> {
        let org = self.org(p.tenant).await?;
        let units = self.stats_units(p, &org, cut.unit)?;
        let mut items = Vec::new();
        let mut total = 0u64;
        self.each_order_in(p, period, &units, cut, |o, f| {
            if measure.counts(f) {
                total += 1;
                if items.len() < MAX_LIST {
                    items.push(o);
                }
            }
        })
        .await?;
        // Figures count what the unit led; the list shows each order as the reader may see it.
        let views = items
            .into_iter()
            .filter_map(|o| self.view_if_visible(p, &org, o))
            .collect();
        Ok((views, total))
    }

    pub async fn stat_formulas(&self, tenant: jiesu_core::TenantId) -> AppResult<Formulas> {
        Ok(match self.store.setting(tenant, FORMULAS_KEY).await? {
            Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable rate formulas: defaults used");
                Formulas::default()
            }),
            None => Formulas::default(),
        })
    }

    pub async fn put_stat_formulas(&self, cap: &AdminCap<'_>, f: Formulas) -> AppResult<Formulas> {
        f.check()?;
        let json = serde_json::to_string(&f).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store
            .put_setting(cap.0.tenant, FORMULAS_KEY, &json)
            .await?;
        self.audit(cap, "stat_formulas.update", "stat_formulas".into(), json)
            .await?;
        Ok(f)
    }
}

/// The active units of `kind` ranked, each with its subtree's counts from the aggregate rows
/// by lead unit.
fn ranked_of(
    org: &jiesu_core::org::OrgTree,
    formulas: &Formulas,
    rows: &[jiesu_store::stats::StatRow],
    kind: UnitKind,
) -> Vec<Ranked> {
    // Each order counts for its lead and every unit above it.
    let mut counts: HashMap<UnitId, Counts> = HashMap::new();
    for r in rows {
        let Ok(lead) = r.key.parse::<i64>() else {
            continue;
        };
        if lead == 0 {
            continue;
        }
        let lead = UnitId(lead);
        counts.entry(lead).or_default().merge(&r.counts);
        for a in org.ancestors(lead) {
            counts.entry(a).or_default().merge(&r.counts);
        }
    }
    let mut out: Vec<Ranked> = org
        .units()
        .filter(|u| u.kind == kind && u.active)
        .map(|u| {
            let c = counts.get(&u.id).copied().unwrap_or_default();
            let rates = Rates::of(&c, formulas);
            Ranked {
                unit: u.id,
                name: u.name.clone(),
                kind: u.kind,
                counts: c,
                score: formulas.composite.score(&rates),
                deduction: formulas.deduction(&c),
                evaluation: formulas.evaluate(&c, &rates),
                rates,
                rank: None,
            }
        })
        .collect();
    rank(&mut out);
    out
}

/// Sorts by evaluation score (best first) and numbers the ranks; equal scores (to the
/// hundredth) share a rank (1, 2, 2, 4); units without a score come last, unranked.
pub fn rank(rows: &mut [Ranked]) {
    rows.sort_by(|a, b| {
        b.evaluation
            .unwrap_or(-1.0)
            .total_cmp(&a.evaluation.unwrap_or(-1.0))
            .then(b.counts.dispatched.cmp(&a.counts.dispatched))
            .then(a.unit.0.cmp(&b.unit.0))
    });
    let mut previous: Option<(f64, usize)> = None;
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = None;
        let Some(score) = r.evaluation else { continue };
        let rounded = (score * 100.0).round();
        let rank = match previous {
            Some((s, k)) if s == rounded => k,
            _ => i + 1,
        };
        previous = Some((rounded, rank));
        r.rank = Some(rank);
    }
}
