//! The leader cockpit (领导驾驶舱): today's volume, this month's rates, the departments'
//! ranking, requests over the city's districts (heat map), the last 30 days' trend and
//! today's warnings, in one read.

use super::insight::{Warning, china_today};
use super::stats::{Period, Ranked, RateReport};
use super::{App, AppResult, Principal};
use chrono::{Datelike, Duration, NaiveDate};
use jiesu_core::org::UnitKind;
use std::collections::BTreeMap;

const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
/// Days of the trend and the heat map.
const DAYS: i64 = 30;

pub struct Cockpit {
    pub today: NaiveDate,
    pub accepted_today: i64,
    pub month: RateReport,
    /// The best departments this month (at most 10).
    pub departments: Vec<Ranked>,
    /// Orders per district over the last 30 days: (code, name, orders).
    pub districts: Vec<(String, String, i64)>,
    /// Orders per day over the last 30 days, oldest first.
    pub trend: Vec<(NaiveDate, i64)>,
    pub warnings: Vec<Warning>,
}

fn day_start_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis() - CHINA_OFFSET_MS)
}

impl App {
    pub async fn cockpit(&self, p: &Principal) -> AppResult<Cockpit> {
        let today = china_today();
        let month = Period::new(today.with_day(1).unwrap_or(today), today)?;
        // Centre staff only: the rates, ranking and warnings check that.
        let figures = self.rates(p, month, None).await?;
        let (mut departments, _) = self.ranking(p, month, UnitKind::Department).await?;
        departments.retain(|r| r.rank.is_some());
        departments.truncate(10);
        let warnings = self.warnings(p, today).await?;
        let first = today - Duration::days(DAYS - 1);
        let rows = self
            .store
            .day_counts(
                p.tenant,
                day_start_ms(first),
                day_start_ms(today + Duration::days(1)),
                None,
                None,
            )
            .await?;
        let refs = self.ref_data(p.tenant).await?;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let first_day = (first - epoch).num_days();
        let mut per_day = vec![0i64; DAYS as usize];
        let mut per_district: BTreeMap<String, i64> = BTreeMap::new();
        let today_day = (today - epoch).num_days();
        let mut accepted_today = 0;
        for r in &rows {
            if let Some(slot) = usize::try_from(r.day - first_day)
                .ok()
                .and_then(|i| per_day.get_mut(i))
            {
                *slot += r.count;
            }
            if r.day == today_day {
                accepted_today += r.count;
            }
            if let Some(code) = &r.region_code {
                let district = code.get(..6).unwrap_or(code).to_string();
                *per_district.entry(district).or_default() += r.count;
            }
        }
        let mut districts: Vec<(String, String, i64)> = per_district
            .into_iter()
            .map(|(code, n)| {
                let name = refs.region_names.get(&code).cloned().unwrap_or_default();
                (code, name, n)
            })
            .collect();
        districts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        Ok(Cockpit {
            today,
            accepted_today,
            month: figures,
            departments,
            districts,
            trend: per_day
                .into_iter()
                .enumerate()
                .map(|(i, n)| (first + Duration::days(i as i64), n))
                .collect(),
            warnings,
        })
    }
}
