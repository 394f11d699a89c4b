//! The official working calendar (DOMAIN §5): weekends and public holidays are off, make-up
//! workdays (调休) are on, local closures are off, and working hours are configuration.
//! Deadlines are computed in Asia/Shanghai local time (UTC+8, no daylight saving since 1991)
//! and stored in UTC.
//!
//! A `Calendar` is built once from its `CalendarData` into a running count of working days, so
//! that adding working time is a binary search, not a walk over the days.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

    /// Working minutes in a working day.
    pub fn minutes_per_day(&self) -> i64 {
        self.periods
            .iter()
            .map(|(a, b)| (*b - *a).num_minutes())
            .sum()
    }

    /// Working minutes after `t` on a working day.
    fn minutes_after(&self, t: NaiveTime) -> i64 {
        self.periods
            .iter()
            .filter(|(_, b)| *b > t)
            .map(|(a, b)| (*b - t.max(*a)).num_minutes())
            .sum()
    }

    /// `m` working minutes after `t` on a working day, if the day holds them. Period ends
    /// count as working time, so the result of an addition can be added to again.
    fn within_day(&self, t: NaiveTime, m: i64) -> Option<NaiveTime> {
        let mut left = m;
        let mut t = t;
        for (a, b) in &self.periods {
            if t > *b {
                continue;
            }
            let from = t.max(*a);
            let avail = (*b - from).num_minutes();
            if left <= avail {
                return Some(from + Duration::minutes(left));
            }
            left -= avail;
            t = *b;
        }
        None
    }

    /// `08:30–12:00、14:00–17:30`
    pub fn describe(&self) -> String {
        self.periods
            .iter()
            .map(|(a, b)| format!("{}–{}", a.format("%H:%M"), b.format("%H:%M")))
            .collect::<Vec<_>>()
            .join("、")
    }
}

/// What a calendar is made of: the official table (and any later years an administrator
/// added) plus local closures. This is what gets stored and edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarData {
    /// First and last year the table covers, inclusive.
    pub years: [i32; 2],
    pub holidays: BTreeMap<NaiveDate, String>,
    pub makeup_workdays: BTreeMap<NaiveDate, String>,
    #[serde(default)]
    pub closures: BTreeMap<NaiveDate, String>,
}

impl CalendarData {
    pub fn official() -> Self {
        Self::from_json(OFFICIAL_TABLE).expect("the shipped table is valid")
    }

    /// A table in the shipped format: `{"years":[2019,2026],"holidays":{date:name},"makeup_workdays":{date:name}}`.
    pub fn from_json(json: &str) -> Result<Self, CalendarError> {
        let d: CalendarData =
            serde_json::from_str(json).map_err(|e| CalendarError::BadTable(e.to_string()))?;
        d.check()?;
        Ok(d)
    }

    fn check(&self) -> Result<(), CalendarError> {
        let [first, last] = self.years;
        if first > last || last - first > 100 {
            return Err(CalendarError::BadTable(format!(
                "years 范围 {first}–{last} 无效"
            )));
        }
        for d in self.holidays.keys().chain(self.makeup_workdays.keys()) {
            if d.year() < first || d.year() > last {
                return Err(CalendarError::BadTable(format!(
                    "{d} 不在 {first}–{last} 年之内"
                )));
            }
        }
        if let Some(d) = self
            .holidays
            .keys()
            .find(|d| self.makeup_workdays.contains_key(*d))
        {
            return Err(CalendarError::BadTable(format!(
                "{d} 既是假日又是调休工作日"
            )));
        }
        Ok(())
    }

    /// Adds the State Council's notice for the year after the last covered one (or before the
    /// first): its holidays and make-up workdays.
    pub fn add_year(
        &mut self,
        year: i32,
        holidays: BTreeMap<NaiveDate, String>,
        makeup_workdays: BTreeMap<NaiveDate, String>,
    ) -> Result<(), CalendarError> {
        let [first, last] = self.years;
        if year != last + 1 && year != first - 1 {
            return Err(CalendarError::BadTable(format!(
                "只能在现有 {first}–{last} 年之前或之后紧接着添加一年，不能添加 {year} 年"
            )));
        }
        let mut next = self.clone();
        next.years = [first.min(year), last.max(year)];
        next.holidays.extend(holidays);
        next.makeup_workdays.extend(makeup_workdays);
        next.check()?;
        *self = next;
        Ok(())
    }
}

/// Why a day is not an ordinary weekday or weekend day.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Note {
    Holiday(String),
    Makeup(String),
    Closure(String),
}

/// Chinese name of a holiday in the shipped table.
fn holiday_name(name: &str) -> &str {
    match name {
        "New Year's Day" => "元旦",
        "Spring Festival" => "春节",
        "Tomb-sweeping Day" => "清明节",
        "Labour Day" => "劳动节",
        "Dragon Boat Festival" => "端午节",
        "National Day" => "国庆节",
        "Mid-autumn Festival" => "中秋节",
        "Anti-Fascist 70th Day" => "抗战胜利纪念日",
        other => other,
    }
}

fn weekday_cn(d: NaiveDate) -> &'static str {
    ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
        [d.weekday().num_days_from_monday() as usize]
}

/// How long a stage may take (DOMAIN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "value")]
pub enum TimeLimit {
    /// Close of business on the n-th following working day (0: today's, or the next working day's).
    WorkingDays(u32),
    /// Hours of working time.
    WorkingHours(u32),
    /// Hours on the clock, 24×7 (emergencies).
    ClockHours(u32),
    /// Minutes on the clock (即办).
    ClockMinutes(u32),
}

impl TimeLimit {
    /// `3 个工作日`
    pub fn describe(self) -> String {
        match self {
            TimeLimit::WorkingDays(n) => format!("{n} 个工作日"),
            TimeLimit::WorkingHours(n) => format!("{n} 个工作小时"),
            TimeLimit::ClockHours(n) => format!("{n} 小时（自然时间）"),
            TimeLimit::ClockMinutes(n) => format!("{n} 分钟（自然时间）"),
        }
    }
}

/// A computed deadline with the reasons for it, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    pub due: DateTime<Utc>,
    /// e.g. `2026-10-10 17:30 到期：自 09-30 10:00 起 3 个工作日；跳过 10-01…10-07 国庆节假期；10-10（周六）为调休工作日，计入`
    pub text: String,
}

/// A tenant's working calendar, ready for computing.
#[derive(Debug, Clone)]
pub struct Calendar {
    data: CalendarData,
    hours: WorkingHours,
    first: NaiveDate,
    /// `cum[i]`: working days in `[first, first + i)`; one more entry than days covered.
    cum: Vec<u32>,
    notes: BTreeMap<NaiveDate, Note>,
}

impl Calendar {
    /// The shipped official table with standard working hours.
    pub fn official() -> Self {
        Self::build(CalendarData::official(), WorkingHours::standard())
            .expect("the shipped table is valid")
    }

    pub fn from_json(json: &str, hours: WorkingHours) -> Result<Self, CalendarError> {
        Self::build(CalendarData::from_json(json)?, hours)
    }

    pub fn build(data: CalendarData, hours: WorkingHours) -> Result<Self, CalendarError> {
        data.check()?;
        let [first_year, last_year] = data.years;
        let first = NaiveDate::from_ymd_opt(first_year, 1, 1)
            .ok_or_else(|| CalendarError::BadTable(format!("{first_year} 年无效")))?;
        let end = NaiveDate::from_ymd_opt(last_year + 1, 1, 1)
            .ok_or_else(|| CalendarError::BadTable(format!("{last_year} 年无效")))?;
        let mut notes = BTreeMap::new();
        for (d, n) in &data.holidays {
            notes.insert(*d, Note::Holiday(holiday_name(n).to_string()));
        }
        for (d, n) in &data.makeup_workdays {
            notes.insert(*d, Note::Makeup(holiday_name(n).to_string()));
        }
        for (d, r) in &data.closures {
            notes.insert(*d, Note::Closure(r.clone()));
        }
        let days = (end - first).num_days() as usize;
        let mut cum = Vec::with_capacity(days + 1);
        cum.push(0u32);
        let mut d = first;
        let mut n = 0u32;
        while d < end {
            let working = match notes.get(&d) {
                Some(Note::Holiday(_) | Note::Closure(_)) => false,
                Some(Note::Makeup(_)) => true,
                None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
            };
            n += u32::from(working);
            cum.push(n);
            d = d.succ_opt().unwrap_or(end);
        }
        Ok(Self {
            data,
            hours,
            first,
            cum,
            notes,
        })
    }

    pub fn data(&self) -> &CalendarData {
        &self.data
    }

    pub fn hours(&self) -> &WorkingHours {
        &self.hours
    }

    pub fn covered_years(&self) -> (i32, i32) {
        (self.data.years[0], self.data.years[1])
    }

    fn not_covered(&self, date: NaiveDate, year: i32) -> CalendarError {
        let (first, last) = self.covered_years();
        CalendarError::NotCovered {
            date,
            year,
            first,
            last,
        }
    }

    /// The day's position in `cum`, or the error naming its year.
    fn index(&self, date: NaiveDate) -> Result<usize, CalendarError> {
        let i = (date - self.first).num_days();
        if i < 0 || i as usize >= self.cum.len() - 1 {
            return Err(self.not_covered(date, date.year()));
        }
        Ok(i as usize)
    }

    fn date_at(&self, i: usize) -> NaiveDate {
        self.first + Duration::days(i as i64)
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let i = self.index(date)?;
        Ok(self.cum[i + 1] > self.cum[i])
    }

    /// The `n`-th working day after `date` (`n == 0`: `date` itself if working, else the next).
    fn nth_working_after(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let i = self.index(date)?;
        // The k-th working day of the table (1-based) sits at the first index whose running
        // count reaches k.
        let k = if n == 0 {
            self.cum[i] + 1
        } else {
            self.cum[i + 1] + n
        };
        let j = self.cum.partition_point(|c| *c < k);
        if j == 0 || j >= self.cum.len() {
            let (_, last) = self.covered_years();
            return Err(self.not_covered(date, last + 1));
        }
        Ok(self.date_at(j - 1))
    }

    /// Close of business on the `n`-th working day after the local day of `start`.
    /// `n == 0` means close of business today if today is a working day, else the next one.
    pub fn add_working_days(
        &self,
        start: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let day = start.with_timezone(&china_offset()).date_naive();
        let due = self.nth_working_after(day, n)?;
        local_to_utc(due, self.hours.close_of_business())
    }

    /// `minutes` of working time after `start`, counted only inside working periods of
    /// working days. Period ends count as working time.
    pub fn add_working_minutes(
        &self,
        start: DateTime<Utc>,
        minutes: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let local = start.with_timezone(&china_offset());
        let (day, time) = (local.date_naive(), local.time());
        let mut left = i64::from(minutes);
        if self.is_working_day(day)? {
            if let Some(t) = self.hours.within_day(time, left) {
                return local_to_utc(day, t);
            }
            left -= self.hours.minutes_after(time);
        }
        if left == 0 {
            // Nothing left to add, outside working time: the next start of work.
            let working_today = self.is_working_day(day)?;
            let next = self.nth_working_after(day, u32::from(working_today))?;
            let start_of_work = self
                .hours
                .within_day(NaiveTime::MIN, 0)
                .unwrap_or(NaiveTime::MIN);
            return local_to_utc(next, start_of_work);
        }
        let per_day = self.hours.minutes_per_day().max(1);
        let (full, rest) = (left / per_day, left % per_day);
        if rest == 0 {
            let due = self.nth_working_after(day, full as u32)?;
            return local_to_utc(due, self.hours.close_of_business());
        }
        let due = self.nth_working_after(day, full as u32 + 1)?;
        let t = self
            .hours
            .within_day(NaiveTime::MIN, rest)
            .unwrap_or_else(|| self.hours.close_of_business());
        local_to_utc(due, t)
    }

    /// The deadline `limit` after `start`.
    pub fn due(
        &self,
        start: DateTime<Utc>,
        limit: TimeLimit,
    ) -> Result<DateTime<Utc>, CalendarError> {
        match limit {
            TimeLimit::WorkingDays(n) => self.add_working_days(start, n),
            TimeLimit::WorkingHours(h) => self.add_working_minutes(start, h.saturating_mul(60)),
            TimeLimit::ClockHours(h) => Ok(start + Duration::hours(i64::from(h))),
            TimeLimit::ClockMinutes(m) => Ok(start + Duration::minutes(i64::from(m))),
        }
    }

    /// The deadline with the holidays, closures, weekends and make-up workdays that shaped it.
    pub fn explain(
        &self,
        start: DateTime<Utc>,
        limit: TimeLimit,
    ) -> Result<Explained, CalendarError> {
        let due = self.due(start, limit)?;
        let tz = china_offset();
        let (ls, ld) = (start.with_timezone(&tz), due.with_timezone(&tz));
        let mut parts = vec![format!(
            "{} 到期：自 {} 起 {}",
            ld.format("%Y-%m-%d %H:%M"),
            ls.format("%m-%d %H:%M"),
            limit.describe()
        )];
        match limit {
            TimeLimit::ClockHours(_) | TimeLimit::ClockMinutes(_) => {
                parts.push("按自然时间连续计算，夜间与节假日不停".into());
            }
            TimeLimit::WorkingDays(_) | TimeLimit::WorkingHours(_) => {
                if matches!(limit, TimeLimit::WorkingDays(_)) {
                    parts.push(format!(
                        "截至当日下班 {}",
                        self.hours.close_of_business().format("%H:%M")
                    ));
                } else {
                    parts.push(format!("只计工作时间 {}", self.hours.describe()));
                }
                parts.extend(self.day_notes(ls.date_naive(), ld.date_naive()));
            }
        }
        Ok(Explained {
            due,
            text: parts.join("；"),
        })
    }

    /// Holiday runs, closures, make-up workdays and weekend days between two local dates.
    fn day_notes(&self, from: NaiveDate, to: NaiveDate) -> Vec<String> {
        let mut out = Vec::new();
        let mut weekend = 0;
        let mut run: Option<(NaiveDate, NaiveDate, String)> = None;
        let flush = |run: &mut Option<(NaiveDate, NaiveDate, String)>, out: &mut Vec<String>| {
            if let Some((a, b, name)) = run.take() {
                if a == b {
                    out.push(format!("跳过 {} {name}假期", a.format("%m-%d")));
                } else {
                    out.push(format!(
                        "跳过 {}…{} {name}假期",
                        a.format("%m-%d"),
                        b.format("%m-%d")
                    ));
                }
            }
        };
        let mut d = from;
        while d <= to {
            match self.notes.get(&d) {
                Some(Note::Holiday(name)) => match &mut run {
                    Some((_, b, n)) if n == name && *b + Duration::days(1) >= d => *b = d,
                    _ => {
                        flush(&mut run, &mut out);
                        run = Some((d, d, name.clone()));
                    }
                },
                Some(Note::Closure(reason)) => {
                    flush(&mut run, &mut out);
                    out.push(format!("跳过 {} 停止办公（{reason}）", d.format("%m-%d")));
                }
                Some(Note::Makeup(_)) => {
                    flush(&mut run, &mut out);
                    out.push(format!(
                        "{}（{}）为调休工作日，计入",
                        d.format("%m-%d"),
                        weekday_cn(d)
                    ));
                }
                None => {
                    if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                        weekend += 1;
                    }
                }
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        flush(&mut run, &mut out);
        if weekend > 0 {
            out.push(format!("跳过周末 {weekend} 天"));
        }
        out
    }
}

fn local_to_utc(day: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>, CalendarError> {
    china_offset()
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| CalendarError::BadHours(format!("{day} {time} 不是有效的本地时间")))
}

#[cfg(test)]
mod tests;
