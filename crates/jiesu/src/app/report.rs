//! The monthly report (月报): the month's figures, volumes by channel, type, category and
//! district, the units ranked among their peers, the month's hot spots and the orders that
//! went back for re-handling. The same numbers as `/api/stats/*`: one pass over the orders
//! accepted in the month.

use super::stats::{Period, Ranked, RateReport};
use super::{App, AppError, AppResult, Principal};
use chrono::{Datelike, Duration, NaiveDate};
use jiesu_core::org::UnitKind;
use jiesu_core::role::Role;
use jiesu_core::stats::{Counts, Rates};
use jiesu_store::insight::OrderText;
use jiesu_text::hotspots::{Hotspots, Incoming, Rank, Settings};
use std::collections::BTreeMap;

/// Hot spots and re-handled orders listed at most.
const LISTED: usize = 20;

pub struct HotspotLine {
    pub title: String,
    pub place: String,
    pub size: usize,
    pub callers: usize,
}

pub struct NotableLine {
    pub number: String,
    pub title: String,
    pub unit: String,
    pub rehandled: u32,
}

pub struct MonthlyReport {
    pub tenant: String,
    pub month: String,
    pub figures: RateReport,
    /// (label, orders), largest first.
    pub by_channel: Vec<(String, u64)>,
    pub by_type: Vec<(String, u64)>,
    pub by_category: Vec<(String, u64)>,
    pub by_district: Vec<(String, u64)>,
    pub departments: Vec<Ranked>,
    pub towns: Vec<Ranked>,
    pub hotspots: Vec<HotspotLine>,
    pub rehandled: Vec<NotableLine>,
}

/// `YYYY-MM` as the month's first and last day.
pub fn month_period(month: &str) -> AppResult<Period> {
    let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d")
        .map_err(|_| AppError::invalid("month", "月份格式须为 YYYY-MM"))?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(|| AppError::invalid("month", "月份超出范围"))?;
    Period::new(first, next - Duration::days(1))
}

fn sorted(map: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

impl App {
    /// The monthly report for `month` (`YYYY-MM`), for the centre's staff.
    pub async fn monthly_report(&self, p: &Principal, month: &str) -> AppResult<MonthlyReport> {
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
            ],
            "生成月报",
        )?;
        let period = month_period(month)?;
        let org = self.org(p.tenant).await?;
        let refs = self.ref_data(p.tenant).await?;
        let figures = self.rates(p, period, None).await?;
        let (departments, _) = self.ranking(p, period, UnitKind::Department).await?;
        let (towns, _) = self.ranking(p, period, UnitKind::Town).await?;
        let mut channel: BTreeMap<String, u64> = BTreeMap::new();
        let mut kind: BTreeMap<String, u64> = BTreeMap::new();
        let mut category: BTreeMap<String, u64> = BTreeMap::new();
        let mut district: BTreeMap<String, u64> = BTreeMap::new();
        let mut texts: Vec<OrderText> = Vec::new();
        let mut rehandled: Vec<NotableLine> = Vec::new();
        let name_of = |names: &std::collections::HashMap<String, String>, code: &str| {
            names.get(code).cloned().unwrap_or_else(|| code.to_string())
        };
        self.each_order(p, period, &None, |s, f| {
            let o = &s.order;
            *channel.entry(o.channel.label().to_string()).or_default() += 1;
            *kind.entry(o.request_type.label().to_string()).or_default() += 1;
            let top = o
                .category
                .as_ref()
                .map(|c| c.as_str().split('.').next().unwrap_or_default().to_string());
            *category
                .entry(top.map_or("未分类".into(), |c| name_of(&refs.category_names, &c)))
                .or_default() += 1;
            let d = o.location.region_code.as_ref().map(|r| {
                let code = r.as_str();
                code.get(..6).unwrap_or(code).to_string()
            });
            *district
                .entry(d.map_or("未定位".into(), |c| name_of(&refs.region_names, &c)))
                .or_default() += 1;
            if f.rehandled && rehandled.len() < LISTED {
                rehandled.push(NotableLine {
                    number: o.number.clone(),
                    title: o.title.clone(),
                    unit: f.lead.map(|u| org.name(u).to_string()).unwrap_or_default(),
                    rehandled: o.rehandle_count,
                });
            }
            texts.push(OrderText {
                id: s.id.0,
                accepted_at: o.accepted_at.timestamp_millis(),
                title: o.title.clone(),
                content: o.content.chars().take(300).collect(),
                address: o.location.address.clone().unwrap_or_default(),
                region_code: o
                    .location
                    .region_code
                    .as_ref()
                    .map(|r| r.as_str().to_string()),
                category_code: None,
                phone: o.citizen.phone.as_ref().map(|p| p.as_str().to_string()),
            });
        })
        .await?;
        let (analyzer, _) = self.analyzer().await?;
        let end = period
            .to
            .and_hms_opt(23, 59, 59)
            .map_or(0, |t| t.and_utc().timestamp_millis());
        let spots = tokio::task::spawn_blocking(move || {
            texts.sort_by_key(|t| (t.accepted_at, t.id));
            let mut h = Hotspots::new(analyzer, Settings::default());
            let incoming: Vec<Incoming<'_>> = texts
                .iter()
                .map(|t| Incoming {
                    id: t.id,
                    time: t.accepted_at,
                    title: &t.title,
                    content: &t.content,
                    address: &t.address,
                    region: t.region_code.as_deref(),
                    caller: t.phone.as_deref(),
                })
                .collect();
            h.add(&incoming);
            let titles: std::collections::HashMap<i64, String> =
                texts.iter().map(|t| (t.id, t.title.clone())).collect();
            h.top(2, LISTED, Rank::Size, end, 7 * 86_400_000)
                .into_iter()
                .map(|s| HotspotLine {
                    title: titles.get(&s.representative).cloned().unwrap_or_default(),
                    place: s.place.clone(),
                    size: s.size(),
                    callers: s.callers,
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        let tenant = self
            .store
            .tenants()
            .await?
            .into_iter()
            .find(|t| t.id == p.tenant)
            .map(|t| t.name)
            .unwrap_or_default();
        Ok(MonthlyReport {
            tenant,
            month: format!("{:04}-{:02}", period.from.year(), period.from.month()),
            figures,
            by_channel: sorted(channel),
            by_type: sorted(kind),
            by_category: sorted(category),
            by_district: sorted(district),
            departments,
            towns,
            hotspots: spots,
            rehandled,
        })
    }
}

/// The rates of a report row, in the order the report lists them, with their names.
pub fn rate_rows(r: &Rates) -> [(&'static str, Option<f64>); 7] {
    [
        ("响应率", r.response_rate),
        ("办结率", r.completion_rate),
        ("按期办结率", r.on_time_rate),
        ("解决率", r.resolution_rate),
        ("满意率", r.satisfaction_rate),
        ("即答率", r.instant_answer_rate),
        ("回访率", r.callback_rate),
    ]
}

/// The counts of a report, with their names.
pub fn count_rows(c: &Counts) -> [(&'static str, u64); 9] {
    [
        ("受理", c.accepted),
        ("即答办结", c.instant),
        ("派单", c.dispatched),
        ("按时签收", c.signed_on_time),
        ("办结", c.completed),
        ("按期办结", c.completed_on_time),
        ("回访", c.called_back),
        ("满意", c.satisfied),
        ("基本满意", c.basically_satisfied),
    ]
}
