//! Birthday windows in the program's time zone (CONTRACTS.md §campaigns, `birthday`): which
//! customers' birthdays have a window holding a moment, which year's birthday that is, and
//! when the window ends. The cloud's birthday job grants with these; nothing here reads the
//! clock or a database.
//!
//! A birthday's window is the whole local days from `days_before` days before it to
//! `days_after` days after it, both included, in the program's `time_zone`. A birthday on
//! 29 February falls on 28 February in a year that has no 29th. The window "belongs" to the
//! year of the birthday it is around (a window from 29 December to 4 January is the next
//! year's birthday on 1 January), and that year is what the grant is recorded under: one grant
//! per customer per birthday year. A birth year, when the record has one, is never a birthday
//! itself: the first one is a year later.

use super::campaign::Birthday;
use super::local_time::time_zone;
use super::Timestamp;
use jiff::civil::{Date, Time};
use jiff::Span;

/// The most `days_before` and `days_after` may each be: with both at most 180 a window is
/// shorter than a year, so no moment is in two birthdays' windows.
pub const MAX_BIRTHDAY_WINDOW_DAYS: i64 = 180;

/// A birthday as a customer's record holds it: `YYYY-MM-DD` (what the stores write), or a bare
/// `MM-DD` / `--MM-DD` with no year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate {
    pub year: Option<i16>,
    pub month: i8,
    pub day: i8,
}

/// Reads a stored birthday; `None` for text that is not one (never a panic).
pub fn parse_birthday(text: &str) -> Option<BirthDate> {
    let text = text.trim();
    if let Some((year, month, day)) = super::local_time::parse_date(text) {
        return Some(BirthDate { year: Some(year), month, day });
    }
    let short = text.strip_prefix("--").unwrap_or(text);
    let bytes = short.as_bytes();
    if bytes.len() != 5 || bytes[2] != b'-' || !bytes.iter().enumerate().all(|(i, b)| i == 2 || b.is_ascii_digit()) {
        return None;
    }
    let month = i8::try_from((bytes[0] - b'0') * 10 + (bytes[1] - b'0')).ok()?;
    let day = i8::try_from((bytes[3] - b'0') * 10 + (bytes[4] - b'0')).ok()?;
    // A leap year, so 02-29 is a day.
    Date::new(2000, month, day).ok()?;
    Some(BirthDate { year: None, month, day })
}

/// The day the birthday falls on in `year`: 29 February is 28 February in a year without it.
pub fn birthday_in(birth: BirthDate, year: i16) -> Option<Date> {
    Date::new(year, birth.month, birth.day)
        .ok()
        .or_else(|| (birth.month == 2 && birth.day == 29).then(|| Date::new(year, 2, 28).ok()).flatten())
}

/// A birthday whose window holds the moment asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthdayDue {
    /// The year of the birthday the window is around: what the grant is recorded under.
    pub year: i16,
    /// The day it falls on that year, `(year, month, day)`.
    pub date: (i16, i8, i8),
    /// The first moment after the window: local midnight after its last day.
    pub window_end: Timestamp,
}

fn window(rule: &Birthday) -> (i64, i64) {
    (rule.days_before.clamp(0, MAX_BIRTHDAY_WINDOW_DAYS), rule.days_after.clamp(0, MAX_BIRTHDAY_WINDOW_DAYS))
}

fn shift(date: Date, days: i64) -> Option<Date> {
    date.checked_add(Span::new().try_days(days).ok()?).ok()
}

/// The local day `now` is in `zone_name`; `None` for a zone the build does not know or a
/// moment beyond jiff's years.
fn today(zone_name: &str, now: Timestamp) -> Option<(jiff::tz::TimeZone, Date)> {
    let zone = time_zone(zone_name)?;
    let day = zone.to_datetime(jiff::Timestamp::from_second(now).ok()?).date();
    Some((zone, day))
}

/// The birthday of `birth` whose window holds `now`, in the program's `time_zone_name`, if any.
pub fn birthday_due(birth: BirthDate, rule: &Birthday, time_zone_name: &str, now: Timestamp) -> Option<BirthdayDue> {
    let (zone, today) = today(time_zone_name, now)?;
    let (before, after) = window(rule);
    for year in [today.year().checked_sub(1)?, today.year(), today.year().checked_add(1)?] {
        if birth.year.is_some_and(|born| year <= born) {
            continue;
        }
        let Some(day) = birthday_in(birth, year) else { continue };
        let (Some(first), Some(last)) = (shift(day, -before), shift(day, after)) else { continue };
        if first <= today && today <= last {
            let end = zone.to_timestamp(shift(last, 1)?.to_datetime(Time::midnight())).ok()?;
            return Some(BirthdayDue { year, date: (day.year(), day.month(), day.day()), window_end: end.as_second() });
        }
    }
    None
}

/// Every `MM-DD` whose birthday's window holds `now`, with the year of that birthday: what the
/// last five characters of a stored birthday must be for its customer to be due (the cloud's
/// job selects by them, then checks each with [`birthday_due`]). On 28 February of a year
/// without a 29th, `02-29` is there too.
pub fn month_days_due(rule: &Birthday, time_zone_name: &str, now: Timestamp) -> Vec<(String, i16)> {
    let Some((_, today)) = today(time_zone_name, now) else { return Vec::new() };
    let (before, after) = window(rule);
    let mut days = Vec::new();
    for offset in -after..=before {
        let Some(day) = shift(today, offset) else { continue };
        days.push((format!("{:02}-{:02}", day.month(), day.day()), day.year()));
        if day.month() == 2 && day.day() == 28 && !day.in_leap_year() {
            days.push(("02-29".to_owned(), day.year()));
        }
    }
    days
}

/// When a birthday lot granted at `granted_at` expires: `expiry_days` after the grant, or with
/// `expiry_days` 0 at the end of the window (the points are for the birthday).
pub fn birthday_expiry(rule: &Birthday, due: &BirthdayDue, granted_at: Timestamp) -> Timestamp {
    if rule.expiry_days > 0 {
        granted_at.saturating_add(rule.expiry_days.saturating_mul(super::DAY))
    } else {
        due.window_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOSCOW: &str = "Europe/Moscow";

    fn rule(days_before: i64, days_after: i64, expiry_days: i64) -> Birthday {
        Birthday { points: 300, days_before, days_after, expiry_days }
    }

    /// Unix seconds of a local moment in `zone`.
    fn at(zone: &str, (y, m, d): (i16, i8, i8), hour: i8, minute: i8) -> Timestamp {
        let zone = time_zone(zone).unwrap();
        let civil = Date::new(y, m, d).unwrap().to_datetime(Time::new(hour, minute, 0, 0).unwrap());
        zone.to_timestamp(civil).unwrap().as_second()
    }

    fn born(text: &str) -> BirthDate {
        parse_birthday(text).unwrap_or_else(|| panic!("{text} is a birthday"))
    }

    #[test]
    fn stored_birthdays_parse_with_or_without_a_year() {
        assert_eq!(parse_birthday("1990-04-01"), Some(BirthDate { year: Some(1990), month: 4, day: 1 }));
        assert_eq!(parse_birthday("04-01"), Some(BirthDate { year: None, month: 4, day: 1 }));
        assert_eq!(parse_birthday("--02-29"), Some(BirthDate { year: None, month: 2, day: 29 }));
        for bad in ["", "1990-02-30", "13-01", "02-30", "4-1", "1990/04/01", "yesterday", "--1990-04-01", "０４-01"] {
            assert_eq!(parse_birthday(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_window_is_whole_local_days_around_the_birthday() {
        let rule = rule(3, 3, 14);
        let birth = born("1990-04-10");
        // 7 April 00:00 Moscow is the first moment; 6 April 23:59 is not yet.
        assert_eq!(birthday_due(birth, &rule, MOSCOW, at(MOSCOW, (2026, 4, 6), 23, 59)), None);
        let first = birthday_due(birth, &rule, MOSCOW, at(MOSCOW, (2026, 4, 7), 0, 0)).expect("in the window");
        assert_eq!((first.year, first.date), (2026, (2026, 4, 10)));
        // The window ends at midnight after 13 April, local time: 13 April 21:00 UTC.
        assert_eq!(first.window_end, at(MOSCOW, (2026, 4, 14), 0, 0));
        assert_eq!(first.window_end, at("UTC", (2026, 4, 13), 21, 0));
        assert!(birthday_due(birth, &rule, MOSCOW, at(MOSCOW, (2026, 4, 13), 23, 59)).is_some());
        assert_eq!(birthday_due(birth, &rule, MOSCOW, at(MOSCOW, (2026, 4, 14), 0, 0)), None);
    }

    #[test]
    fn the_day_is_the_programs_not_utcs() {
        let rule = rule(0, 0, 0);
        let birth = born("04-10");
        // 9 April 22:00 UTC is already 10 April in Moscow (UTC+3) but still 9 April in UTC.
        let moment = at("UTC", (2026, 4, 9), 22, 0);
        assert!(birthday_due(birth, &rule, MOSCOW, moment).is_some());
        assert_eq!(birthday_due(birth, &rule, "UTC", moment), None);
        // And Vladivostok (UTC+10) is already there at 14:00 UTC.
        assert!(birthday_due(birth, &rule, "Asia/Vladivostok", at("UTC", (2026, 4, 9), 14, 0)).is_some());
        assert_eq!(birthday_due(birth, &rule, "Mars/Olympus", moment), None);
    }

    #[test]
    fn a_window_across_new_year_belongs_to_the_birthdays_year() {
        let rule = rule(3, 3, 0);
        let new_year = born("1985-01-01");
        let december = birthday_due(new_year, &rule, MOSCOW, at(MOSCOW, (2026, 12, 30), 12, 0)).expect("due");
        assert_eq!((december.year, december.date), (2027, (2027, 1, 1)));
        let january = birthday_due(new_year, &rule, MOSCOW, at(MOSCOW, (2027, 1, 3), 12, 0)).expect("due");
        assert_eq!(january.year, 2027, "the same birthday, so the same grant");
        let late_december = born("1985-12-31");
        let after = birthday_due(late_december, &rule, MOSCOW, at(MOSCOW, (2027, 1, 2), 12, 0)).expect("due");
        assert_eq!((after.year, after.date), (2026, (2026, 12, 31)));
        assert_eq!(after.window_end, at(MOSCOW, (2027, 1, 4), 0, 0));
    }

    #[test]
    fn the_29th_of_february_is_kept_on_the_28th_in_other_years() {
        let rule = rule(0, 0, 0);
        let leap = born("2000-02-29");
        let common = birthday_due(leap, &rule, MOSCOW, at(MOSCOW, (2027, 2, 28), 10, 0)).expect("due on the 28th");
        assert_eq!(common.date, (2027, 2, 28));
        assert_eq!(birthday_due(leap, &rule, MOSCOW, at(MOSCOW, (2027, 3, 1), 10, 0)), None);
        assert_eq!(birthday_due(leap, &rule, MOSCOW, at(MOSCOW, (2028, 2, 28), 10, 0)), None, "2028 has the 29th");
        assert_eq!(
            birthday_due(leap, &rule, MOSCOW, at(MOSCOW, (2028, 2, 29), 10, 0)).map(|d| d.date),
            Some((2028, 2, 29))
        );
        // The job's selection says the same: 02-29 is due on a common year's 28 February.
        let days = month_days_due(&rule, MOSCOW, at(MOSCOW, (2027, 2, 28), 10, 0));
        assert_eq!(days, vec![("02-28".to_owned(), 2027), ("02-29".to_owned(), 2027)]);
        let days = month_days_due(&rule, MOSCOW, at(MOSCOW, (2028, 2, 28), 10, 0));
        assert_eq!(days, vec![("02-28".to_owned(), 2028)]);
    }

    #[test]
    fn the_birth_year_itself_is_not_a_birthday() {
        let rule = rule(3, 3, 0);
        assert_eq!(birthday_due(born("2026-05-10"), &rule, MOSCOW, at(MOSCOW, (2026, 5, 10), 12, 0)), None);
        assert!(birthday_due(born("2025-05-10"), &rule, MOSCOW, at(MOSCOW, (2026, 5, 10), 12, 0)).is_some());
        // Born 1 January 2027, seen on 30 December 2026: not born yet, nothing due.
        assert_eq!(birthday_due(born("2027-01-01"), &rule, MOSCOW, at(MOSCOW, (2026, 12, 30), 12, 0)), None);
    }

    #[test]
    fn the_selection_lists_every_day_whose_window_holds_now_with_its_year() {
        let rule = rule(2, 1, 0);
        // 31 December 2026: birthdays from 30 December (one day ago) to 2 January (two ahead).
        let days = month_days_due(&rule, MOSCOW, at(MOSCOW, (2026, 12, 31), 12, 0));
        let want: Vec<(String, i16)> =
            [("12-30", 2026), ("12-31", 2026), ("01-01", 2027), ("01-02", 2027)].map(|(d, y)| (d.to_owned(), y)).into();
        assert_eq!(days, want);
        // Each listed day is due by the precise check, with the same year; the days around are not.
        let now = at(MOSCOW, (2026, 12, 31), 12, 0);
        for (day, year) in &days {
            assert_eq!(birthday_due(born(day), &rule, MOSCOW, now).map(|due| due.year), Some(*year), "{day}");
        }
        for outside in ["12-29", "01-03"] {
            assert_eq!(birthday_due(born(outside), &rule, MOSCOW, now), None, "{outside}");
        }
    }

    #[test]
    fn the_lot_expires_after_expiry_days_or_with_the_window() {
        let now = at(MOSCOW, (2026, 4, 8), 15, 30);
        let due = birthday_due(born("04-10"), &rule(3, 3, 14), MOSCOW, now).unwrap();
        assert_eq!(birthday_expiry(&rule(3, 3, 14), &due, now), now + 14 * crate::rules::DAY);
        assert_eq!(birthday_expiry(&rule(3, 3, 0), &due, now), at(MOSCOW, (2026, 4, 14), 0, 0));
    }

    #[test]
    fn windows_wider_than_the_checks_allow_are_clamped_and_far_moments_do_not_panic() {
        let huge = rule(36_500, 36_500, 0);
        assert_eq!(
            month_days_due(&huge, MOSCOW, at(MOSCOW, (2026, 4, 8), 0, 0)).len(),
            361 + 1,
            "180 days either side and the day itself, and 02-29 beside 28 February 2026"
        );
        assert_eq!(birthday_due(born("04-10"), &huge, MOSCOW, i64::MAX), None);
        assert!(month_days_due(&huge, MOSCOW, i64::MIN).is_empty());
    }
}
