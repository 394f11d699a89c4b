//! Table tests on real holiday periods and property tests of working-time arithmetic.

use super::*;
use proptest::prelude::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn the_official_table_knows_holidays_and_makeup_days() {
    let c = Calendar::official();
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

/// (start, limit, due) on real periods.
#[test]
fn deadlines_on_real_holiday_periods() {
    use TimeLimit::*;
    let cases = [
        // Spring Festival 2026: 02-15…02-23 off, Saturdays 02-14 and 02-28 worked.
        (
            "2026-02-13T10:00:00+08:00",
            WorkingDays(1),
            "2026-02-14T17:30:00+08:00",
        ),
        (
            "2026-02-13T10:00:00+08:00",
            WorkingDays(3),
            "2026-02-25T17:30:00+08:00",
        ),
        (
            "2026-02-26T10:00:00+08:00",
            WorkingDays(2),
            "2026-02-28T17:30:00+08:00",
        ),
        (
            "2026-02-14T16:00:00+08:00",
            WorkingHours(3),
            "2026-02-24T10:00:00+08:00",
        ),
        // National Day 2025: 10-01…10-08 off, Sunday 09-28 and Saturday 10-11 worked.
        (
            "2025-09-28T09:00:00+08:00",
            WorkingDays(3),
            "2025-10-09T17:30:00+08:00",
        ),
        (
            "2025-09-30T15:00:00+08:00",
            WorkingDays(3),
            "2025-10-11T17:30:00+08:00",
        ),
        // National Day 2026: 10-01…10-07 off, Saturday 10-10 worked.
        (
            "2026-09-30T10:00:00+08:00",
            WorkingDays(3),
            "2026-10-10T17:30:00+08:00",
        ),
        // New Year 2026: 01-01…01-03 off, Sunday 01-04 worked.
        (
            "2025-12-31T10:00:00+08:00",
            WorkingDays(1),
            "2026-01-04T17:30:00+08:00",
        ),
        // Accepted at 17:59 on the eve of a holiday.
        (
            "2026-09-30T17:59:00+08:00",
            WorkingDays(1),
            "2026-10-08T17:30:00+08:00",
        ),
        (
            "2026-09-30T17:59:00+08:00",
            WorkingHours(2),
            "2026-10-08T10:30:00+08:00",
        ),
        // A Saturday make-up workday is worked like any other day.
        (
            "2026-10-10T09:00:00+08:00",
            WorkingHours(4),
            "2026-10-10T15:00:00+08:00",
        ),
        // Emergencies run on the clock, across midnight and holidays.
        (
            "2026-10-01T23:30:00+08:00",
            ClockHours(2),
            "2026-10-02T01:30:00+08:00",
        ),
        (
            "2026-02-16T23:50:00+08:00",
            ClockMinutes(30),
            "2026-02-17T00:20:00+08:00",
        ),
        // Lunch and the weekend are not working time.
        (
            "2026-11-24T11:00:00+08:00",
            WorkingHours(2),
            "2026-11-24T15:00:00+08:00",
        ),
        (
            "2026-11-27T17:00:00+08:00",
            WorkingHours(1),
            "2026-11-30T09:00:00+08:00",
        ),
        // Zero working days: close of business today, or of the next working day.
        (
            "2026-11-24T09:00:00+08:00",
            WorkingDays(0),
            "2026-11-24T17:30:00+08:00",
        ),
        (
            "2026-11-28T09:00:00+08:00",
            WorkingDays(0),
            "2026-11-30T17:30:00+08:00",
        ),
    ];
    let c = Calendar::official();
    for (start, limit, due) in cases {
        assert_eq!(
            c.due(at(start), limit).unwrap(),
            at(due),
            "{start} + {limit:?}"
        );
    }
}

#[test]
fn a_deadline_explains_the_holidays_and_makeup_days_it_crossed() {
    let c = Calendar::official();
    let e = c
        .explain(at("2026-09-30T10:00:00+08:00"), TimeLimit::WorkingDays(3))
        .unwrap();
    assert_eq!(e.due, at("2026-10-10T17:30:00+08:00"));
    assert!(e.text.starts_with("2026-10-10 17:30 到期"), "{}", e.text);
    assert!(e.text.contains("跳过 10-01…10-07 国庆节假期"), "{}", e.text);
    assert!(
        e.text.contains("10-10（周六）为调休工作日，计入"),
        "{}",
        e.text
    );
    let e = c
        .explain(at("2026-02-13T10:00:00+08:00"), TimeLimit::WorkingDays(3))
        .unwrap();
    assert!(e.text.contains("02-14（周六）为调休工作日"), "{}", e.text);
    assert!(e.text.contains("跳过 02-15…02-23 春节假期"), "{}", e.text);
    let e = c
        .explain(at("2026-10-01T23:30:00+08:00"), TimeLimit::ClockHours(2))
        .unwrap();
    assert!(e.text.contains("自然时间"), "{}", e.text);
}

#[test]
fn local_closures_are_days_off_and_are_named() {
    let mut data = CalendarData::official();
    data.closures.insert(d("2026-11-25"), "台风停工".into());
    let c = Calendar::build(data, WorkingHours::standard()).unwrap();
    assert!(!c.is_working_day(d("2026-11-25")).unwrap());
    let e = c
        .explain(at("2026-11-24T10:00:00+08:00"), TimeLimit::WorkingDays(1))
        .unwrap();
    assert_eq!(e.due, at("2026-11-26T17:30:00+08:00"));
    assert!(e.text.contains("台风停工"), "{}", e.text);
}

#[test]
fn a_date_beyond_the_table_is_a_clear_error_until_the_next_notice_is_added() {
    let c = Calendar::official();
    let e = c
        .add_working_days(at("2026-12-30T10:00:00+08:00"), 3)
        .unwrap_err();
    assert!(matches!(e, CalendarError::NotCovered { year: 2027, .. }));
    assert!(e.to_string().contains("2027"), "{e}");
    assert!(
        c.add_working_days(at("2027-03-01T10:00:00+08:00"), 1)
            .is_err()
    );
    let mut data = CalendarData::official();
    let holidays = [("2027-01-01", "New Year's Day")]
        .into_iter()
        .map(|(a, b)| (d(a), b.to_string()))
        .collect();
    data.add_year(2027, holidays, BTreeMap::new()).unwrap();
    assert!(
        data.add_year(2029, BTreeMap::new(), BTreeMap::new())
            .is_err(),
        "years must follow on"
    );
    let c = Calendar::build(data, WorkingHours::standard()).unwrap();
    // 12-30 Wed: 12-31 Thu, (01-01 off), 01-04 Mon, 01-05 Tue.
    assert_eq!(
        c.add_working_days(at("2026-12-30T10:00:00+08:00"), 3)
            .unwrap(),
        at("2027-01-05T17:30:00+08:00")
    );
}

#[test]
fn bad_tables_and_hours_are_rejected_with_the_reason() {
    assert!(WorkingHours::parse(&["12:00-08:00".into()]).is_err());
    assert!(WorkingHours::parse(&["08:00-12:00".into(), "11:00-13:00".into()]).is_err());
    assert!(WorkingHours::parse(&["8点-12点".into()]).is_err());
    assert!(CalendarData::from_json("{}").is_err());
    let clash = r#"{"years":[2026,2026],"holidays":{"2026-10-01":"National Day"},"makeup_workdays":{"2026-10-01":"National Day"}}"#;
    assert!(CalendarData::from_json(clash).is_err());
}

fn arb_start() -> impl Strategy<Value = DateTime<Utc>> {
    // 2019-01-01 … 2026-06-30, any minute.
    (0i64..(7 * 365 + 180) * 24 * 60)
        .prop_map(|m| at("2019-01-01T00:00:00+08:00") + Duration::minutes(m))
}

fn in_working_time(c: &Calendar, t: DateTime<Utc>) -> bool {
    let l = t.with_timezone(&china_offset());
    c.is_working_day(l.date_naive()).unwrap()
        && c.hours()
            .periods
            .iter()
            .any(|(a, b)| l.time() >= *a && l.time() <= *b)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn adding_working_time_is_monotonic(t in arb_start(), dt in 0i64..5000, a in 0u32..3000, b in 0u32..3000) {
        let c = Calendar::official();
        let t2 = t + Duration::minutes(dt);
        prop_assert!(c.add_working_minutes(t, a).unwrap() <= c.add_working_minutes(t2, a).unwrap());
        prop_assert!(c.add_working_minutes(t, a.min(b)).unwrap() <= c.add_working_minutes(t, a.max(b)).unwrap());
        let (da, db) = (a % 20, b % 20);
        prop_assert!(c.add_working_days(t, da).unwrap() <= c.add_working_days(t2, da).unwrap());
        prop_assert!(c.add_working_days(t, da.min(db)).unwrap() <= c.add_working_days(t, da.max(db)).unwrap());
    }

    #[test]
    fn a_working_deadline_never_falls_in_non_working_time(t in arb_start(), m in 0u32..5000, n in 0u32..20) {
        let c = Calendar::official();
        let due = c.add_working_minutes(t, m).unwrap();
        prop_assert!(in_working_time(&c, due), "{} + {} min = {}", t, m, due);
        prop_assert!(due >= t);
        let due = c.add_working_days(t, n).unwrap();
        prop_assert!(in_working_time(&c, due), "{} + {} days = {}", t, n, due);
    }

    #[test]
    fn adding_a_then_b_equals_adding_a_plus_b(t in arb_start(), a in 0u32..3000, b in 0u32..3000, da in 1u32..15, db in 0u32..15) {
        let c = Calendar::official();
        let step = c.add_working_minutes(c.add_working_minutes(t, a).unwrap(), b).unwrap();
        prop_assert_eq!(step, c.add_working_minutes(t, a + b).unwrap());
        let step = c.add_working_days(c.add_working_days(t, da).unwrap(), db).unwrap();
        prop_assert_eq!(step, c.add_working_days(t, da + db).unwrap());
    }
}
