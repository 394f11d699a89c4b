//! The official working calendar (DOMAIN §5): weekends and public holidays are off, make-up
//! workdays (调休) are on, and working hours are configuration. Deadlines are computed in
//! Asia/Shanghai local time (UTC+8, no daylight saving since 1991) and stored in UTC.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// The official table shipped with the product (2019–2026).
pub const OFFICIAL_TABLE: &str = include_str!("../data/cn-holidays.json");

/// China Standard Time.
pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error(
        "工作日历未包含 {year} 年的节假日安排（现有 {first}–{last} 年），无法计算 {date} 起的期限：请管理员导入国务院办公厅 {year} 年节假日安排通知"
    )]
    NotCovered {
        date: NaiveDate,
        year: i32,
        first: i32,
        last: i32,
    },
    #[error("节假日表格式有误：{0}")]
    BadTable(String),
    #[error("工作时间配置有误：{0}")]
    BadHours(String),
}

#[derive(Deserialize)]
struct TableFile {
    years: [i32; 2],
    holidays: BTreeMap<NaiveDate, String>,
    makeup_workdays: BTreeMap<NaiveDate, String>,
}

/// Working periods of a working day, e.g. 08:30–12:00 and 14:00–17:30.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    periods: Vec<(NaiveTime, NaiveTime)>,
}

impl WorkingHours {
    /// Parses `["08:30-12:00", "14:00-17:30"]`: ordered, non-overlapping, within one day.
    pub fn parse(periods: &[String]) -> Result<Self, CalendarError> {
        let mut out: Vec<(NaiveTime, NaiveTime)> = Vec::new();
        for p in periods {
            let (a, b) = p
                .split_once('-')
                .ok_or_else(|| CalendarError::BadHours(format!("“{p}”应写作 08:30-12:00")))?;
            let parse = |s: &str| {
                NaiveTime::parse_from_str(s.trim(), "%H:%M")
                    .map_err(|_| CalendarError::BadHours(format!("“{s}”不是 HH:MM 格式的时间")))
            };
            let (a, b) = (parse(a)?, parse(b)?);
            if a >= b {
                return Err(CalendarError::BadHours(format!(
                    "“{p}”的结束时间早于开始时间"
                )));
            }
            if out.last().is_some_and(|(_, end)| *end > a) {
                return Err(CalendarError::BadHours(format!(
                    "“{p}”与前一时段重叠或顺序颠倒"
                )));
            }
            out.push((a, b));
        }
        if out.is_empty() {
            return Err(CalendarError::BadHours("至少需要一个工作时段".into()));
        }
        Ok(Self { periods: out })
    }

    pub fn standard() -> Self {
        Self::parse(&["08:30-12:00".to_string(), "14:00-17:30".to_string()])
            .expect("standard hours are valid")
    }

    pub fn close_of_business(&self) -> NaiveTime {
        self.periods.last().map(|p| p.1).unwrap_or(NaiveTime::MIN)
    }
}

#[derive(Debug, Clone)]
pub struct Calendar {
    holidays: BTreeMap<NaiveDate, String>,
    makeup: BTreeSet<NaiveDate>,
    closures: BTreeMap<NaiveDate, String>,
    first_year: i32,
    last_year: i32,
    hours: WorkingHours,
}

impl Calendar {
    /// The shipped official table with standard working hours.
    pub fn official() -> Self {
        Self::from_json(OFFICIAL_TABLE, WorkingHours::standard())
            .expect("the shipped table is valid")
    }

    /// A table in the shipped format: `{"years":[2019,2026],"holidays":{date:name},"makeup_workdays":{date:name}}`.
    pub fn from_json(json: &str, hours: WorkingHours) -> Result<Self, CalendarError> {
        let t: TableFile =
            serde_json::from_str(json).map_err(|e| CalendarError::BadTable(e.to_string()))?;
        let [first_year, last_year] = t.years;
        if first_year > last_year {
            return Err(CalendarError::BadTable(
                "years 的起始年份晚于结束年份".into(),
            ));
        }
        Ok(Self {
            holidays: t.holidays,
            makeup: t.makeup_workdays.into_keys().collect(),
            closures: BTreeMap::new(),
            first_year,
            last_year,
            hours,
        })
    }

    pub fn hours(&self) -> &WorkingHours {
        &self.hours
    }

    pub fn covered_years(&self) -> (i32, i32) {
        (self.first_year, self.last_year)
    }

    /// Adds a local closure (e.g. a typhoon day) as a day off.
    pub fn add_closure(&mut self, date: NaiveDate, reason: String) {
        self.closures.insert(date, reason);
    }

    fn check_covered(&self, date: NaiveDate) -> Result<(), CalendarError> {
        let year = date.year();
        if year < self.first_year || year > self.last_year {
            return Err(CalendarError::NotCovered {
                date,
                year,
                first: self.first_year,
                last: self.last_year,
            });
        }
        Ok(())
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        self.check_covered(date)?;
        if self.closures.contains_key(&date) || self.holidays.contains_key(&date) {
            return Ok(false);
        }
        if self.makeup.contains(&date) {
            return Ok(true);
        }
        Ok(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// Close of business on the `n`-th working day after the local day of `start`.
    /// `n == 0` means close of business today if today is a working day, else the next one.
    pub fn add_working_days(
        &self,
        start: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let tz = china_offset();
        let mut day = start.with_timezone(&tz).date_naive();
        let mut left = n;
        if n == 0 {
            while !self.is_working_day(day)? {
                day = next_day(day)?;
            }
        }
        while left > 0 {
            day = next_day(day)?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        local_to_utc(day, self.hours.close_of_business())
    }

    /// `minutes` of working time after `start`, counted only inside working periods of
    /// working days.
    pub fn add_working_minutes(
        &self,
        start: DateTime<Utc>,
        minutes: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let tz = china_offset();
        let local = start.with_timezone(&tz);
        let mut day = local.date_naive();
        let mut time = local.time();
        let mut left = i64::from(minutes);
        // At most a few years of days: the coverage check stops runaway loops.
        loop {
            if self.is_working_day(day)? {
                for (a, b) in &self.hours.periods {
                    if time >= *b {
                        continue;
                    }
                    let from = time.max(*a);
                    let avail = (*b - from).num_minutes();
                    if left <= avail {
                        return local_to_utc(day, from + Duration::minutes(left));
                    }
                    left -= avail;
                    time = *b;
                }
            }
            day = next_day(day)?;
            time = NaiveTime::MIN;
        }
    }
}

fn next_day(d: NaiveDate) -> Result<NaiveDate, CalendarError> {
    d.succ_opt().ok_or(CalendarError::NotCovered {
        date: d,
        year: d.year(),
        first: 0,
        last: 0,
    })
}

fn local_to_utc(day: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>, CalendarError> {
    china_offset()
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| CalendarError::BadHours(format!("{day} {time} 不是有效的本地时间")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn official_table_knows_holidays_and_makeup_days() {
        let c = Calendar::official();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(!c.is_working_day(d("2026-10-01")).unwrap());
        assert!(
            c.is_working_day(d("2026-10-10")).unwrap(),
            "Saturday 10-10 is a make-up workday"
        );
        assert!(
            c.is_working_day(d("2026-01-04")).unwrap(),
            "Sunday 01-04 is a make-up workday"
        );
        assert!(
            !c.is_working_day(d("2026-11-28")).unwrap(),
            "an ordinary Saturday"
        );
        assert!(c.is_working_day(d("2026-11-24")).unwrap());
    }

    #[test]
    fn working_days_skip_the_national_day_holiday() {
        let c = Calendar::official();
        // Accepted Wednesday 2026-09-30: the holiday runs 10-01..10-07, 10-08 and 10-09 are
        // working days, Saturday 10-10 is a make-up workday.
        let due = c
            .add_working_days(at("2026-09-30T10:00:00+08:00"), 3)
            .unwrap();
        assert_eq!(due, at("2026-10-10T17:30:00+08:00"));
    }

    #[test]
    fn working_minutes_stop_at_lunch_and_overnight() {
        let c = Calendar::official();
        // Tuesday 11:00 + 2h: 1h until 12:00, then 14:00 + 1h.
        assert_eq!(
            c.add_working_minutes(at("2026-11-24T11:00:00+08:00"), 120)
                .unwrap(),
            at("2026-11-24T15:00:00+08:00")
        );
        // Friday 17:00 + 1h: 30 min Friday, 30 min Monday.
        assert_eq!(
            c.add_working_minutes(at("2026-11-27T17:00:00+08:00"), 60)
                .unwrap(),
            at("2026-11-30T09:00:00+08:00")
        );
    }

    #[test]
    fn a_date_beyond_the_table_is_a_clear_error() {
        let c = Calendar::official();
        let e = c
            .add_working_days(at("2026-12-30T10:00:00+08:00"), 3)
            .unwrap_err();
        assert!(matches!(e, CalendarError::NotCovered { year: 2027, .. }));
        assert!(e.to_string().contains("2027"));
    }

    #[test]
    fn bad_working_hours_are_rejected_with_the_reason() {
        assert!(WorkingHours::parse(&["12:00-08:00".into()]).is_err());
        assert!(WorkingHours::parse(&["08:00-12:00".into(), "11:00-13:00".into()]).is_err());
        assert!(WorkingHours::parse(&["8点-12点".into()]).is_err());
    }
}
