//! The program's local calendar: `now` (Unix seconds) seen in the program's IANA time zone, and
//! the texts campaigns write dates, days and times in.
//!
//! The time zone database is the one `jiff` bundles into the binary, so a till without
//! /usr/share/zoneinfo prices like one with it, and nothing here reads a file or the clock.
//! Every parser answers `None` for text it cannot read; callers decide whether that is a
//! validation problem (the program's editor) or a campaign that does not run (a till).

use super::campaign::LimitPeriod;
use super::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A moment as the program's local clock shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalMoment {
    /// `(year, month, day)`, which orders like the calendar.
    pub date: (i16, i8, i8),
    /// 1 = Monday … 7 = Sunday.
    pub weekday: i8,
    /// Minutes since local midnight, 0..1440.
    pub minute: i32,
}

/// Looks a zone up by its IANA name (`Europe/Moscow`), case as the database spells it.
pub(crate) fn time_zone(name: &str) -> Option<TimeZone> {
    if name.trim().is_empty() {
        return None;
    }
    TimeZone::get(name).ok()
}

/// `now` in `zone`; `None` only beyond the years jiff represents (±9999).
pub(crate) fn local(now: Timestamp, zone: &TimeZone) -> Option<LocalMoment> {
    let civil = zone.to_datetime(jiff::Timestamp::from_second(now).ok()?);
    let date = civil.date();
    Some(LocalMoment {
        date: (date.year(), date.month(), date.day()),
        weekday: date.weekday().to_monday_one_offset(),
        minute: i32::from(civil.hour()) * 60 + i32::from(civil.minute()),
    })
}

/// `YYYY-MM-DD` exactly, and a day the calendar has.
pub(crate) fn parse_date(text: &str) -> Option<(i16, i8, i8)> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i32> {
        let part = bytes.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, &b| n * 10 + i32::from(b - b'0')))
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (year, month, day) = (i16::try_from(year).ok()?, i8::try_from(month).ok()?, i8::try_from(day).ok()?);
    Date::new(year, month, day).ok().map(|_| (year, month, day))
}

/// `HH:MM`, 00:00 to 23:59, as minutes since midnight; `24:00` (the end of the day) too when
/// `end` is set, so a window can run until midnight.
pub(crate) fn parse_time(text: &str, end: bool) -> Option<i32> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' || !bytes.iter().enumerate().all(|(i, b)| i == 2 || b.is_ascii_digit()) {
        return None;
    }
    let hour = i32::from(bytes[0] - b'0') * 10 + i32::from(bytes[1] - b'0');
    let minute = i32::from(bytes[3] - b'0') * 10 + i32::from(bytes[4] - b'0');
    match (hour, minute) {
        (24, 0) if end => Some(24 * 60),
        (0..=23, 0..=59) => Some(hour * 60 + minute),
        _ => None,
    }
}

/// `mon` … `sun` (any case) as 1 … 7.
pub(crate) fn parse_day(text: &str) -> Option<i8> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let position = DAYS.iter().position(|day| day.eq_ignore_ascii_case(text.trim()))?;
    i8::try_from(position + 1).ok()
}

/// When the `limit_per_customer` period holding `now` began, as a Unix second: local midnight
/// of the day, of the week's Monday, of the month's 1st or of the year's 1 January, in `zone`.
/// `None` for `ever` (every use counts), for a zone the build does not know (such a campaign
/// does not run at all) and for a moment beyond jiff's years. A local midnight
/// a clock change skips resolves to the first moment that exists (jiff's `compatible`).
pub fn period_start(time_zone_name: &str, period: LimitPeriod, now: Timestamp) -> Option<Timestamp> {
    let zone = time_zone(time_zone_name)?;
    let civil = zone.to_datetime(jiff::Timestamp::from_second(now).ok()?);
    let day = civil.date();
    let first = match period {
        LimitPeriod::Ever => return None,
        LimitPeriod::Day => day,
        // Weeks start on Monday (`to_monday_zero_offset` is 0 on Mondays).
        LimitPeriod::Week => {
            day.checked_sub(jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset()))).ok()?
        }
        LimitPeriod::Month => day.first_of_month(),
        LimitPeriod::Year => Date::new(day.year(), 1, 1).ok()?,
    };
    let start = zone.to_timestamp(first.to_datetime(jiff::civil::Time::midnight())).ok()?;
    Some(start.as_second())
}

/// A wall-clock moment written in the program's local time — `2026-12-01T16:30`,
/// `2026-12-01T16:30:15` (a space may stand for the `T`) or a bare `2026-12-01` (its local
/// midnight) — as a Unix second in the zone named `time_zone_name`. A local time a clock change
/// skips or repeats resolves as jiff's `compatible` does (the later of a gap, the earlier of a
/// fold). `None` for text of another shape, a day or time the calendar does not have, or an
/// unknown zone. The back office's preview reads its `at` with this, so a manager can say
/// "Tuesday 16:30" as the tills' clocks show it.
pub fn local_timestamp(time_zone_name: &str, text: &str) -> Option<Timestamp> {
    let zone = time_zone(time_zone_name)?;
    let text = text.trim();
    let (date, clock) = match text.split_once(['T', ' ']) {
        Some((date, clock)) => (date, Some(clock)),
        None => (text, None),
    };
    let (year, month, day) = parse_date(date)?;
    let (hour, minute, second) = match clock {
        None => (0, 0, 0),
        Some(clock) => {
            let (hm, second) = match clock.len() {
                5 => (clock, 0),
                8 if clock.as_bytes()[5] == b':' => {
                    let seconds = clock.get(6..8).filter(|s| s.bytes().all(|b| b.is_ascii_digit()))?;
                    (clock.get(..5)?, seconds.parse::<i8>().ok().filter(|s| *s < 60)?)
                }
                _ => return None,
            };
            let minutes = parse_time(hm, false)?;
            (i8::try_from(minutes / 60).ok()?, i8::try_from(minutes % 60).ok()?, second)
        }
    };
    let civil = jiff::civil::DateTime::new(year, month, day, hour, minute, second, 0).ok()?;
    zone.to_timestamp(civil).ok().map(|at| at.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moscow_is_three_hours_ahead_of_utc_and_the_database_is_bundled() {
        let zone = time_zone("Europe/Moscow").expect("the bundled database has Moscow");
        // 2026-12-01T13:30:00Z is a Tuesday, 16:30 in Moscow.
        let moment = local(1_796_131_800, &zone).expect("in range");
        assert_eq!(moment, LocalMoment { date: (2026, 12, 1), weekday: 2, minute: 16 * 60 + 30 });
        // 21:00 UTC is already the next day in Moscow.
        let late = local(1_796_131_800 + 7 * 3600 + 30 * 60, &zone).expect("in range");
        assert_eq!((late.date, late.weekday, late.minute), ((2026, 12, 2), 3, 0));
        assert!(time_zone("Asia/Vladivostok").is_some());
        assert!(time_zone("Mars/Olympus").is_none());
        assert!(time_zone("").is_none());
    }

    #[test]
    fn periods_start_at_local_midnight_and_weeks_on_monday() {
        use super::LimitPeriod::*;
        // 2026-12-02T20:30:00Z: Wednesday 2 December, 23:30 in Moscow (UTC+3).
        let now = 1_796_131_800 + 31 * 3600;
        let moscow_midnight = |unix_midnight_utc: i64| unix_midnight_utc - 3 * 3600;
        // 2026-12-02T00:00Z = 1_796_169_600.
        assert_eq!(period_start("Europe/Moscow", Day, now), Some(moscow_midnight(1_796_169_600)));
        // Monday 30 November.
        assert_eq!(period_start("Europe/Moscow", Week, now), Some(moscow_midnight(1_796_169_600 - 2 * 86_400)));
        assert_eq!(period_start("Europe/Moscow", Month, now), Some(moscow_midnight(1_796_169_600 - 86_400)));
        // 2026-01-01T00:00Z = 1_767_225_600.
        assert_eq!(period_start("Europe/Moscow", Year, now), Some(moscow_midnight(1_767_225_600)));
        assert_eq!(period_start("Europe/Moscow", Ever, now), None);
        // 21:30 UTC is already Thursday in Moscow, the same day as 00:00 UTC on Thursday.
        assert_eq!(period_start("Europe/Moscow", Day, now + 3600), Some(moscow_midnight(1_796_169_600 + 86_400)));
        // On a Monday the week starts that very day.
        let monday = moscow_midnight(1_796_169_600 - 2 * 86_400) + 60;
        assert_eq!(period_start("Europe/Moscow", Week, monday), Some(monday - 60));
        assert_eq!(period_start("UTC", Day, i64::MAX), None);
        assert_eq!(period_start("Mars/Olympus", Day, now), None);
    }

    #[test]
    fn local_moments_read_in_the_zone() {
        // Tuesday 1 December 2026, 16:30 in Moscow is 13:30 UTC.
        assert_eq!(local_timestamp("Europe/Moscow", "2026-12-01T16:30"), Some(1_796_131_800));
        assert_eq!(local_timestamp("Europe/Moscow", "2026-12-01 16:30:00"), Some(1_796_131_800));
        assert_eq!(local_timestamp("Europe/Moscow", "2026-12-01T16:30:15"), Some(1_796_131_815));
        assert_eq!(local_timestamp("Europe/Moscow", "2026-12-01"), Some(1_796_131_800 - (16 * 3600 + 1800)));
        // The same wall clock in Vladivostok (UTC+10) is seven hours earlier.
        assert_eq!(local_timestamp("Asia/Vladivostok", "2026-12-01T16:30"), Some(1_796_131_800 - 7 * 3600));
        for bad in [
            "2026-12-01T24:00",
            "2026-12-01T16:60",
            "2026-12-01T16:30:60",
            "2026-02-30T10:00",
            "2026-12-01T1630",
            "2026-12-01T16:30Z",
            "tuesday",
            "",
        ] {
            assert_eq!(local_timestamp("Europe/Moscow", bad), None, "{bad:?}");
        }
        assert_eq!(local_timestamp("Mars/Olympus", "2026-12-01T16:30"), None);
        // A local time the clocks skip (Berlin, 29 March 2026, 02:30) is read as after the gap.
        let gap = local_timestamp("Europe/Berlin", "2026-03-29T02:30").expect("resolved");
        assert_eq!(gap, local_timestamp("Europe/Berlin", "2026-03-29T03:30").expect("after the change"));
    }

    #[test]
    fn far_timestamps_do_not_panic() {
        let zone = time_zone("UTC").expect("UTC");
        assert_eq!(local(i64::MAX, &zone), None);
        assert_eq!(local(i64::MIN, &zone), None);
        assert!(local(0, &zone).is_some());
    }

    #[test]
    fn texts_parse_strictly() {
        assert_eq!(parse_date("2026-12-01"), Some((2026, 12, 1)));
        for bad in ["2026-02-30", "2026-1-01", "26-12-01", "2026/12/01", "2026-12-01T00:00", "", "２０２６-12-01"] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
        assert_eq!(parse_time("16:00", false), Some(960));
        assert_eq!(parse_time("00:00", false), Some(0));
        assert_eq!(parse_time("24:00", true), Some(1440));
        for bad in ["24:00", "7:00", "16:60", "25:00", "16-00", "", "16:0０"] {
            assert_eq!(parse_time(bad, false), None, "{bad:?}");
        }
        assert_eq!(parse_day("Tue"), Some(2));
        assert_eq!(parse_day("sun"), Some(7));
        assert_eq!(parse_day("tuesday"), None);
    }
}
