//! Money and quantity newtypes: exact integers, never floating point.
//!
//! Rounding lives here too: a line amount is `price × quantity` rounded half-up to a minor unit,
//! computed in `i128` so no intermediate product can overflow.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::RulesError;

/// An amount of money in minor units (kopecks, cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub i64);

/// A quantity with up to three decimals, held as integer thousandths (`"0.354"` → `Quantity(354)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(pub i64);

/// Thousandths in one unit.
const MILLI: i64 = 1000;

impl Quantity {
    /// One piece.
    pub const ONE: Quantity = Quantity(1000);
    /// The largest quantity a line may carry (one million units); more is an input error.
    pub const MAX: Quantity = Quantity(1_000_000_000);

    /// Parses a decimal text such as `"2"`, `"0.354"` or `"1.5"`.
    /// Errors: empty, not a number, negative or zero, more than three decimals, above [`Quantity::MAX`].
    ///
    /// Surrounding whitespace is ignored. A leading `+`, an exponent, a bare `"1."` or `".5"` and
    /// non-ASCII digits are "not a number": the till sends plain decimals, and accepting more
    /// shapes would only hide bugs on its side.
    pub fn parse(text: &str) -> Result<Quantity, RulesError> {
        let bad = |why: &'static str| RulesError::InvalidQuantity { text: text.to_string(), why };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        let (negative, body) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = match body.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (body, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(bad("not a number"));
        }
        let fraction = fraction.unwrap_or("");
        // Checked before the sign and the size so "1.2345" is reported as what it is, not rounded.
        if fraction.len() > 3 {
            return Err(bad("more than 3 decimals"));
        }
        if negative {
            return Err(bad("must be more than zero"));
        }
        // Digits are accumulated with an early stop, so a hundred-digit text cannot overflow.
        let mut units: i64 = 0;
        for digit in whole.bytes().map(|b| i64::from(b - b'0')) {
            units = units * 10 + digit;
            if units > Self::MAX.0 / MILLI {
                return Err(bad("more than 1000000 units"));
            }
        }
        let mut thousandths: i64 = 0;
        for digit in fraction.bytes().map(|b| i64::from(b - b'0')) {
            thousandths = thousandths * 10 + digit;
        }
        for _ in fraction.len()..3 {
            thousandths *= 10;
        }
        let value = units * MILLI + thousandths;
        if value == 0 {
            return Err(bad("must be more than zero"));
        }
        if value > Self::MAX.0 {
            return Err(bad("more than 1000000 units"));
        }
        Ok(Quantity(value))
    }

    /// The canonical decimal text: `Quantity(354)` → `"0.354"`, `Quantity(2000)` → `"2"`, `Quantity(1500)` → `"1.5"`.
    pub fn to_decimal_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        // unsigned_abs so that even i64::MIN prints instead of overflowing.
        let magnitude = self.0.unsigned_abs();
        let units = magnitude / 1000;
        let thousandths = magnitude % 1000;
        if thousandths == 0 {
            return format!("{sign}{units}");
        }
        let fraction = format!("{thousandths:03}");
        format!("{sign}{units}.{}", fraction.trim_end_matches('0'))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

impl Money {
    /// `price × quantity`, rounded half-up to a minor unit. `None` on overflow.
    ///
    /// Half-up means half away from zero, so a (refused anyway) negative price rounds
    /// symmetrically with a positive one.
    pub fn times(self, quantity: Quantity) -> Option<Money> {
        let product = i128::from(self.0) * i128::from(quantity.0);
        let half = i128::from(MILLI / 2);
        let rounded =
            if product >= 0 { (product + half) / i128::from(MILLI) } else { (product - half) / i128::from(MILLI) };
        i64::try_from(rounded).ok().map(Money)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
}

/// Two decimals (`Money(17100)` → `"171.00"`), for the cashier's messages. The API itself
/// always carries integer minor units.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quantities() {
        let cases: &[(&str, i64)] = &[
            ("2", 2000),
            ("0.354", 354),
            ("1.5", 1500),
            ("  3 ", 3000),
            ("0.001", 1),
            ("007.10", 7100),
            ("1000000", 1_000_000_000),
            ("999999.999", 999_999_999),
        ];
        for &(text, expected) in cases {
            assert_eq!(Quantity::parse(text), Ok(Quantity(expected)), "{text:?}");
        }
    }

    #[test]
    fn rejects_bad_quantities() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("+1", "not a number"),
            ("1e3", "not a number"),
            ("1.", "not a number"),
            (".5", "not a number"),
            ("1.2.3", "not a number"),
            ("1,5", "not a number"),
            ("abc", "not a number"),
            ("-", "not a number"),
            ("١", "not a number"),
            ("1 000", "not a number"),
            ("1.2345", "more than 3 decimals"),
            ("0.0001", "more than 3 decimals"),
            ("0", "must be more than zero"),
            ("0.000", "must be more than zero"),
            ("-1", "must be more than zero"),
            ("-0.5", "must be more than zero"),
            ("1000000.001", "more than 1000000 units"),
            ("1000001", "more than 1000000 units"),
            ("99999999999999999999999999", "more than 1000000 units"),
        ];
        for &(text, why) in cases {
            let expected = RulesError::InvalidQuantity { text: text.to_string(), why };
            assert_eq!(Quantity::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn prints_canonical_decimals() {
        let cases: &[(i64, &str)] =
            &[(354, "0.354"), (2000, "2"), (1500, "1.5"), (1, "0.001"), (1010, "1.01"), (0, "0"), (-1500, "-1.5")];
        for &(milli, text) in cases {
            assert_eq!(Quantity(milli).to_decimal_string(), text);
        }
        assert_eq!(Quantity(i64::MIN).to_decimal_string(), "-9223372036854775.808");
    }

    #[test]
    fn round_trips_through_text() {
        for milli in [1, 9, 10, 99, 354, 1000, 1500, 123_456, 1_000_000_000] {
            assert_eq!(Quantity::parse(&Quantity(milli).to_decimal_string()), Ok(Quantity(milli)));
        }
    }

    #[test]
    fn line_amounts_round_half_up() {
        // 0.354 kg at 199.99: 70.79646 → 70.80.
        assert_eq!(Money(19999).times(Quantity(354)), Some(Money(7080)));
        // Exactly half a kopeck rounds up: 1 × 0.5 = 0.5 → 1.
        assert_eq!(Money(1).times(Quantity(500)), Some(Money(1)));
        assert_eq!(Money(1).times(Quantity(499)), Some(Money(0)));
        assert_eq!(Money(-1).times(Quantity(500)), Some(Money(-1)));
        assert_eq!(Money(25000).times(Quantity::ONE), Some(Money(25000)));
        assert_eq!(Money(i64::MAX).times(Quantity(2000)), None);
        assert_eq!(Money(i64::MAX).times(Quantity::ONE), Some(Money(i64::MAX)));
    }

    #[test]
    fn money_prints_two_decimals() {
        assert_eq!(Money(17100).to_string(), "171.00");
        assert_eq!(Money(5).to_string(), "0.05");
        assert_eq!(Money(-150).to_string(), "-1.50");
    }
}
