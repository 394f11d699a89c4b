//! Deadline configuration an administrator uploads: the holiday calendar (then deadlines
//! computed on it), working hours and time-limit rules. Nothing may panic or hang.
#![no_main]

use jiesu_core::calendar::{Calendar, CalendarData, TimeLimit, WorkingHours};
use jiesu_core::deadline::TimeRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cal) = CalendarData::from_json(text)
        && let Ok(cal) = Calendar::build(cal, WorkingHours::standard())
    {
        let start = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        for limit in [
            TimeLimit::WorkingDays(3),
            TimeLimit::WorkingHours(5),
            TimeLimit::ClockHours(24),
            TimeLimit::ClockMinutes(30),
        ] {
            let _ = cal.due(start, limit);
        }
    }
    if let Ok(periods) = serde_json::from_str::<Vec<String>>(text) {
        let _ = WorkingHours::parse(&periods);
    }
    if let Ok(rules) = serde_json::from_str::<TimeRules>(text) {
        let _ = rules.validate();
    }
});
