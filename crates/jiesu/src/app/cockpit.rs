//! The leader cockpit (领导驾驶舱): today's volume, this month's rates, the departments'
//! ranking, requests over the city's districts (heat map), the last 30 days' trend and
//! today's warnings, in one read.

use super::insight::{Warning, china_today};
use super::stats::{Period, Ranked, RateReport};
use super::{App, AppResult, Principal};
use chrono::{Datelike, Duration, NaiveDate};
use jiesu_core::org::UnitKind;
use jiesu_core::stats::Dim;
use jiesu_store::stats::StatGroup;
use std::collections::BTreeMap;

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

impl App {
    pub async fn cockpit(&self, p: &Principal) -> AppResult<Cockpit> {
        let today = china_today();
        let month = Period::new(today.with_day(1).unwrap_or(today), today)?;
        // Centre staff only: the ranking and warnings check that. This month's rates and
        // ranking come from one read; the warnings, the trend and the heat map (volumes from
        // the aggregates too) are read at the same time.
        let first = today - Duration::days(DAYS - 1);
        let window = Period::new(first, today)?;
        let (from, to) = window.days();
        let ((figures, mut departments), warnings, by_day, by_region) = tokio::try_join!(
            self.rates_and_ranking(p, month, UnitKind::Department),
            self.warnings(p, today),
            async {
                Ok(self
                    .store
                    .stat_accepted(p.tenant, Dim::Unit, from, to, StatGroup::Day)
                    .await?)
            },
            async {
                Ok(self
                    .store
                    .stat_accepted(p.tenant, Dim::Region, from, to, StatGroup::Key)
                    .await?)
            },
        )?;
        departments.retain(|r| r.rank.is_some());
        departments.truncate(10);
        let refs = self.ref_data(p.tenant).await?;
        let mut per_day = vec![0i64; DAYS as usize];
        let mut accepted_today = 0;
        for r in &by_day {
            let Some(day) = r.day else { continue };
            let n = r.counts.accepted as i64;
            if let Some(slot) = usize::try_from(day - from)
                .ok()
                .and_then(|i| per_day.get_mut(i))
            {
                *slot += n;
            }
            if day == to {
                accepted_today += n;
            }
        }
        let mut per_district: BTreeMap<String, i64> = BTreeMap::new();
        for r in &by_region {
            if r.key.is_empty() {
                continue;
            }
            let district = r.key.get(..6).unwrap_or(&r.key).to_string();
            *per_district.entry(district).or_default() += r.counts.accepted as i64;
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
