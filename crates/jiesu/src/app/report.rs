//! Reports (日报/周报/月报): the period's figures, volumes by channel, type, category and
//! district, the units ranked among their peers, the period's hot spots and the orders that
//! went back for re-handling. The same numbers as `/api/stats/*`: one pass over the orders
//! accepted in the period.

use super::stats::{Accepted, Period, Ranked, RateReport, StatCut};
use super::{App, AppError, AppResult, Principal};
use chrono::{Datelike, Duration, NaiveDate};
use jiesu_core::OrderId;
use jiesu_core::org::UnitKind;
use jiesu_core::role::Role;
use jiesu_core::stats::{Counts, Rates};
use jiesu_store::insight::OrderText;
use jiesu_store::orders::Scope;
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

/// How long a report's period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Daily,
    Weekly,
    Monthly,
}

impl ReportKind {
    pub const ALL: [ReportKind; 3] = [ReportKind::Daily, ReportKind::Weekly, ReportKind::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Daily => "daily",
            ReportKind::Weekly => "weekly",
            ReportKind::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ReportKind::Daily => "日报",
            ReportKind::Weekly => "周报",
            ReportKind::Monthly => "月报",
        }
    }

    /// The period a key names — a day (`YYYY-MM-DD`), the Monday-to-Sunday week of a day, a
    /// month (`YYYY-MM`) — and the period's name (the day, the week's Monday, the month).
    pub fn period(self, key: &str) -> AppResult<(Period, String)> {
        let key = key.trim();
        match self {
            ReportKind::Monthly => Ok((month_period(key)?, key.to_string())),
            ReportKind::Daily | ReportKind::Weekly => {
                let day = NaiveDate::parse_from_str(key, "%Y-%m-%d")
                    .map_err(|_| AppError::invalid("date", "日期格式须为 YYYY-MM-DD"))?;
                if self == ReportKind::Daily {
                    return Ok((Period::new(day, day)?, day.to_string()));
                }
                let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                Ok((
                    Period::new(monday, monday + Duration::days(6))?,
                    monday.to_string(),
                ))
            }
        }
    }
}

pub struct Report {
    pub tenant: String,
    pub kind: ReportKind,
    /// The period's name: the day, the week's Monday or the month.
    pub name: String,
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
    pub async fn monthly_report(&self, p: &Principal, month: &str) -> AppResult<Report> {
        self.report(p, ReportKind::Monthly, month).await
    }

    /// The report of the period `key` names (see [`ReportKind::period`]).
    pub async fn report(&self, p: &Principal, kind: ReportKind, key: &str) -> AppResult<Report> {
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
            ],
            "生成报表",
        )?;
        let (period, name) = kind.period(key)?;
        let org = self.org(p.tenant).await?;
        let refs = self.ref_data(p.tenant).await?;
        let figures = self.rates(p, period, &StatCut::default()).await?;
        let (departments, _) = self.ranking(p, period, UnitKind::Department).await?;
        let (towns, _) = self.ranking(p, period, UnitKind::Town).await?;
        let mut channel: BTreeMap<String, u64> = BTreeMap::new();
        let mut types: BTreeMap<String, u64> = BTreeMap::new();
        let mut category: BTreeMap<String, u64> = BTreeMap::new();
        let mut district: BTreeMap<String, u64> = BTreeMap::new();
        let mut rehandled: Vec<NotableLine> = Vec::new();
        let name_of = |names: &std::collections::HashMap<String, String>, code: &str| {
            names.get(code).cloned().unwrap_or_else(|| code.to_string())
        };
        // The period's hot spots: the orders are clustered a page at a time as they are read
        // (in acceptance order, as clustering wants them), on a background thread (minutes of
        // work for a big city's month: it takes only what requests leave); neither the month's
        // texts nor their words are ever held all at once.
        let (analyzer, _) = self.analyzer().await?;
        let end = period
            .to
            .and_hms_opt(23, 59, 59)
            .map_or(0, |t| t.and_utc().timestamp_millis());
        let (pages_tx, mut pages_rx) = tokio::sync::mpsc::channel::<Vec<OrderText>>(2);
        // Spawned (not merely created): the thread must be reading before the pages are sent.
        let clustering = tokio::spawn(crate::priority::in_background("jiesu-report", move || {
            let mut h = Hotspots::new(analyzer, Settings::default());
            while let Some(texts) = pages_rx.blocking_recv() {
                let incoming: Vec<Incoming<'_>> =
                    texts.iter().map(super::insight::incoming).collect();
                h.add(&incoming);
            }
            h.top(2, LISTED, Rank::Size, end, 7 * 86_400_000)
        }));
        let all = None;
        let cut = StatCut::default();
        let mut pages = Accepted::new(period, &all, &cut);
        while let Some(page) = self.accepted_page(p, &mut pages).await? {
            let mut texts = Vec::with_capacity(page.len());
            for (s, f) in page {
                let o = &s.order;
                *channel.entry(o.channel.label().to_string()).or_default() += 1;
                *types.entry(o.request_type.label().to_string()).or_default() += 1;
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
                let mut t = super::insight::text_of(&s);
                // The clustering reads the opening only.
                t.content = t.content.chars().take(300).collect();
                texts.push(t);
            }
            if pages_tx.send(texts).await.is_err() {
                // The clustering thread is gone: awaiting it below says why.
                break;
            }
        }
        drop(pages_tx);
        let top = clustering
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(AppError::Internal)?;
        let ids: Vec<OrderId> = top.iter().map(|s| OrderId(s.representative)).collect();
        let titles = self.store.order_titles(p.tenant, &ids).await?;
        let spots = top
            .into_iter()
            .map(|s| HotspotLine {
                title: titles
                    .get(&OrderId(s.representative))
                    .map(|(_, title)| title.clone())
                    .unwrap_or_default(),
                place: s.place.clone(),
                size: s.size(),
                callers: s.callers,
            })
            .collect();
        let tenant = self
            .store
            .tenants()
            .await?
            .into_iter()
            .find(|t| t.id == p.tenant)
            .map(|t| t.name)
            .unwrap_or_default();
        Ok(Report {
            tenant,
            kind,
            name,
            figures,
            by_channel: sorted(channel),
            by_type: sorted(types),
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

impl App {
    /// Generates and keeps the reports whose periods have ended and that are not kept yet:
    /// yesterday's daily report, last week's weekly one, last month's monthly one, for every
    /// tenant. Run hourly by the server (and at start); returns how many it made.
    pub async fn generate_due_reports(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<usize> {
        let today = (now + Duration::hours(8)).date_naive();
        let last_month = today.with_day(1).unwrap_or(today) - Duration::days(1);
        let due = [
            (ReportKind::Daily, (today - Duration::days(1)).to_string()),
            (ReportKind::Weekly, (today - Duration::days(7)).to_string()),
            (
                ReportKind::Monthly,
                format!("{:04}-{:02}", last_month.year(), last_month.month()),
            ),
        ];
        let mut made = 0;
        for t in self.store.tenants().await? {
            let org = self.org(t.id).await?;
            let Some(root) = org.root() else { continue };
            // Reports are read as the centre's leadership reads them.
            let p = Principal {
                tenant: t.id,
                user_id: jiesu_core::UserId(0),
                username: "system".into(),
                display_name: "系统".into(),
                unit_id: root,
                roles: jiesu_core::role::RoleSet::of(&[Role::Leader]),
                token_scopes: None,
            };
            for (kind, key) in &due {
                let (_, name) = kind.period(key)?;
                if self.store.report_kept(t.id, kind.as_str(), &name).await? {
                    continue;
                }
                let report = self.report(&p, *kind, key).await?;
                let bytes =
                    tokio::task::spawn_blocking(move || crate::report::report_xlsx(&report))
                        .await
                        .map_err(|e| AppError::Internal(e.to_string()))?
                        .map_err(|e| AppError::Internal(format!("xlsx: {e}")))?;
                if self
                    .store
                    .save_report(t.id, kind.as_str(), &name, bytes, now.timestamp_millis())
                    .await?
                {
                    made += 1;
                }
            }
        }
        Ok(made)
    }
}

impl App {
    /// Kept reports rank the units of the whole city, as generating one does: centre staff of
    /// the city only.
    async fn require_reports(&self, p: &Principal) -> AppResult<()> {
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
            ],
            "查看报表",
        )?;
        let org = self.org(p.tenant).await?;
        match self.scope(p, &org) {
            Scope::All => Ok(()),
            Scope::Units(_) => Err(AppError::Forbidden("报表仅市级中心人员可查看".into())),
        }
    }

    /// The reports kept by the server, newest first.
    pub async fn kept_reports(
        &self,
        p: &Principal,
    ) -> AppResult<Vec<jiesu_store::evaluations::StoredReport>> {
        self.require_reports(p).await?;
        Ok(self.store.kept_reports(p.tenant, 200).await?)
    }

    /// A kept report's workbook.
    pub async fn kept_report(
        &self,
        p: &Principal,
        kind: ReportKind,
        name: &str,
    ) -> AppResult<Vec<u8>> {
        self.require_reports(p).await?;
        self.store
            .report_data(p.tenant, kind.as_str(), name)
            .await?
            .ok_or(AppError::NotFound("报表"))
    }
}
