//! The arithmetic of the finance reports, shared by the cloud (daily and shift reports from its
//! rollup) and the agent (the shift report from its own receipts, offline): the chain's local
//! day, dates in and out of the API, and a shift's totals built from the receipts and returns
//! a till made. Pure: no I/O, no clock, integers only (`docs/CONTRACTS.md` §reports).

use crate::wire::{Calculation, ReturnResult};
use serde::Serialize;

/// The chain's local time: Europe/Moscow, UTC+3 all year (no daylight saving since 2014). The
/// program has no time zone setting; report days run from 00:00 to 24:00 of this offset.
pub const UTC_OFFSET_SECONDS: i64 = 3 * 3600;

const DAY: i64 = 86_400;

/// The local day `at` falls on, as days since 1970-01-01 (local).
pub fn local_day(at: i64) -> i64 {
    (at + UTC_OFFSET_SECONDS).div_euclid(DAY)
}

/// The first second of local `day`.
pub fn day_start(day: i64) -> i64 {
    day * DAY - UTC_OFFSET_SECONDS
}

/// `"2026-03-08"` → the local day number; `None` unless it is a real `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format).ok()?;
    Some(
        date.to_julian_day() as i64
            - time::Date::from_calendar_date(1970, time::Month::January, 1).ok()?.to_julian_day() as i64,
    )
}

/// The local day number → `"2026-03-08"`.
pub fn format_day(day: i64) -> String {
    let epoch = time::Date::from_calendar_date(1970, time::Month::January, 1).map(|d| d.to_julian_day() as i64);
    let date =
        epoch.ok().and_then(|epoch| i32::try_from(epoch + day).ok()).and_then(|j| time::Date::from_julian_day(j).ok());
    match date {
        Some(date) => format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day()),
        None => day.to_string(),
    }
}

/// What one sale adds to a day's or a shift's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleFigures {
    pub loyalty: bool,
    /// What the customer paid (`total`), minor units.
    pub sales: i64,
    /// Σ line `points_discount`, minor units.
    pub points_discount: i64,
    pub earned: i64,
    pub spent: i64,
}

impl SaleFigures {
    pub fn of(receipt: &Calculation) -> SaleFigures {
        SaleFigures {
            loyalty: receipt.customer_id.is_some(),
            sales: receipt.total,
            points_discount: receipt.lines.iter().fold(0i64, |sum, line| sum.saturating_add(line.points_discount)),
            earned: receipt.points.earn,
            spent: receipt.points.redeem,
        }
    }
}

/// What one return adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnFigures {
    pub refund: i64,
    /// Earned points the return took back.
    pub taken_back: i64,
    /// Spent points the return gave back.
    pub given_back: i64,
}

impl ReturnFigures {
    pub fn of(result: &ReturnResult) -> ReturnFigures {
        ReturnFigures {
            refund: result.refund,
            taken_back: result.points_taken_back,
            given_back: result.points_given_back,
        }
    }
}

/// One till's day: the shift report, the same on the till and in the cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShiftTotals {
    pub receipts: i64,
    /// Receipts with a customer.
    pub loyalty_receipts: i64,
    /// Σ what customers paid, minor units.
    pub sales_amount: i64,
    /// Σ the points discount, minor units.
    pub points_discount: i64,
    pub points_earned: i64,
    pub points_spent: i64,
    pub returns: i64,
    /// Σ refunds, minor units.
    pub refund_amount: i64,
    /// Earned points taken back by returns.
    pub points_taken_back: i64,
    /// Spent points given back by returns.
    pub points_given_back: i64,
    /// Unix seconds of the day's first and last receipt (the till's clock).
    pub first_receipt_at: Option<i64>,
    pub last_receipt_at: Option<i64>,
}

impl ShiftTotals {
    pub fn add_sale(&mut self, sale: SaleFigures, at: i64) {
        self.receipts += 1;
        self.loyalty_receipts += i64::from(sale.loyalty);
        self.sales_amount = self.sales_amount.saturating_add(sale.sales);
        self.points_discount = self.points_discount.saturating_add(sale.points_discount);
        self.points_earned = self.points_earned.saturating_add(sale.earned);
        self.points_spent = self.points_spent.saturating_add(sale.spent);
        self.first_receipt_at = Some(self.first_receipt_at.map_or(at, |first| first.min(at)));
        self.last_receipt_at = Some(self.last_receipt_at.map_or(at, |last| last.max(at)));
    }

    pub fn add_return(&mut self, back: ReturnFigures) {
        self.returns += 1;
        self.refund_amount = self.refund_amount.saturating_add(back.refund);
        self.points_taken_back = self.points_taken_back.saturating_add(back.taken_back);
        self.points_given_back = self.points_given_back.saturating_add(back.given_back);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moscow_day_starts_at_21_utc_the_day_before() {
        // 2026-03-07T21:00:00Z is 2026-03-08 00:00 in Moscow.
        let midnight = crate::clock::parse_rfc3339("2026-03-07T21:00:00Z").unwrap_or_default();
        let day = parse_date("2026-03-08").unwrap_or_default();
        assert_eq!(day_start(day), midnight);
        assert_eq!(local_day(midnight), day);
        assert_eq!(local_day(midnight - 1), day - 1);
        assert_eq!(format_day(day), "2026-03-08");
        assert_eq!(format_day(0), "1970-01-01");
    }

    #[test]
    fn dates_that_are_not_dates_are_refused() {
        for text in ["2026-02-30", "2026-13-01", "08.03.2026", "", "2026-3-8"] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }

    #[test]
    fn a_shift_adds_up_its_receipts_and_returns() {
        let mut shift = ShiftTotals::default();
        shift.add_sale(SaleFigures { loyalty: true, sales: 900, points_discount: 100, earned: 9, spent: 1 }, 200);
        shift.add_sale(SaleFigures { loyalty: false, sales: 500, points_discount: 0, earned: 0, spent: 0 }, 100);
        shift.add_return(ReturnFigures { refund: 450, taken_back: 4, given_back: 1 });
        assert_eq!((shift.receipts, shift.loyalty_receipts, shift.sales_amount), (2, 1, 1400));
        assert_eq!((shift.points_earned, shift.points_spent, shift.points_discount), (9, 1, 100));
        assert_eq!(
            (shift.returns, shift.refund_amount, shift.points_taken_back, shift.points_given_back),
            (1, 450, 4, 1)
        );
        assert_eq!((shift.first_receipt_at, shift.last_receipt_at), (Some(100), Some(200)));
    }
}
