//! The protocol's decimal numbers, held as exact integers: rubles with 2 decimals (kopecks),
//! quantities with 3 (thousandths), percents with 2 (hundredths of a percent), whole points and
//! gift-card kopecks.
//!
//! They are read from the JSON *text* of the number (serde_json's `RawValue`), never through an
//! `f64`: `250.00` is 25000 kopecks and `123.456` is 123456 thousandths, exactly. A value with
//! more precision than the protocol allows (`10.005` rubles) is refused rather than rounded. A
//! number written as a JSON string (`"1000"`, as the gift-card example prints them) is read the
//! same way. Written back, rubles and percents always carry two decimals (`79.00`) and
//! quantities their shortest decimal form (`2`, `0.354`), again without any floating point.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::rules::Quantity;

/// Rubles with two decimals, held as kopecks. May be negative in the input; the adapter checks
/// signs where they matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Rubles(pub i64);

/// A quantity with up to three decimals, held as thousandths (`123.456` → 123456).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qty(pub i64);

/// A percent with two decimals, held as hundredths of a percent (`49.99` → 4999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percent(pub i64);

/// Whole points. The protocol types points as `number`, but MoySklad's own bonus operations are
/// integers; `171.0` is read as 171, `171.5` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Points(pub i64);

/// An integer amount of kopecks (gift cards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kopecks(pub i64);

/// The largest magnitude accepted for any figure, in its smallest unit: 10^15 (ten trillion
/// rubles as kopecks). Far beyond any receipt and far below `i64::MAX`, so sums cannot overflow.
pub const MAX_MAGNITUDE: i64 = 1_000_000_000_000_000;

/// The OpenAPI schema of each number type: a JSON number, with its unit and precision said.
macro_rules! number_schema {
    ($($ty:ident: $kind:ident, $description:literal;)*) => {$(
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::$kind)
                    .description(Some($description))
                    .into()
            }
        }
        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(concat!("MoySklad", stringify!($ty)))
            }
        }
    )*};
}

number_schema! {
    Rubles: Number, "Rubles with two decimals, e.g. 79.00.";
    Qty: Number, "A quantity with up to three decimals, e.g. 123.456.";
    Percent: Number, "A percent (0–100) with two decimals, e.g. 68.40.";
    Points: Number, "Whole points (the protocol types them as number; fractions are refused).";
    Kopecks: Integer, "Kopecks (gift cards), e.g. 100000 for 1,000.00.";
}

/// Reads a decimal literal as an integer count of `10^-decimals` units, exactly.
///
/// Accepts JSON's number grammar (`-12`, `0.5`, `1.25e2`), surrounding whitespace, and trailing
/// zeros beyond the allowed decimals (`250.000` as rubles is 25000 kopecks). Refuses anything
/// that would need rounding, magnitudes above [`MAX_MAGNITUDE`], and non-numbers.
pub fn parse_scaled(text: &str, decimals: u32) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a number");
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => {
            let exp_text = &body[at + 1..];
            let exp_text = exp_text.strip_prefix('+').unwrap_or(exp_text);
            let exponent: i32 = if exp_text.len() <= 4 && !exp_text.is_empty() {
                exp_text.parse().map_err(|_| bad())?
            } else {
                return Err(format!("{text:?} has an exponent out of range"));
            };
            (&body[..at], exponent)
        }
        None => (body, 0),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (mantissa, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) || mantissa.ends_with('.') {
        return Err(bad());
    }
    // All the digits, and how many of them sit after the decimal point once the exponent moved it.
    let all: Vec<u8> = whole.bytes().chain(fraction.bytes()).map(|b| b - b'0').collect();
    let after_point = i64::try_from(fraction.len()).map_err(|_| bad())? - i64::from(exponent);
    let keep = i64::from(decimals);
    let mut value: i128 = 0;
    let limit = i128::from(MAX_MAGNITUDE);
    let too_big = || format!("{text:?} is too large");
    // Digits beyond the allowed precision must all be zero.
    let significant = (all.len() as i64 - (after_point - keep).max(0)).max(0) as usize;
    if all[significant.min(all.len())..].iter().any(|&d| d != 0) {
        return Err(format!("{text:?} has more than {decimals} decimals"));
    }
    for &digit in &all[..significant.min(all.len())] {
        value = value * 10 + i128::from(digit);
        if value > limit {
            return Err(too_big());
        }
    }
    // Too few decimals: scale up to the unit.
    for _ in 0..(keep - after_point).max(0) {
        value *= 10;
        if value > limit {
            return Err(too_big());
        }
    }
    let value = i64::try_from(value).map_err(|_| too_big())?;
    Ok(if negative { -value } else { value })
}

/// The text of a number as it was written: the literal, or the contents of a JSON string.
fn number_text(raw: &RawValue) -> Result<String, String> {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).map_err(|e| e.to_string()),
        Some(b'-' | b'0'..=b'9') => Ok(text.to_owned()),
        _ => Err(format!("expected a number, found {text}")),
    }
}

fn read_scaled<'de, D: Deserializer<'de>>(deserializer: D, decimals: u32) -> Result<i64, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    let text = number_text(&raw).map_err(D::Error::custom)?;
    parse_scaled(&text, decimals).map_err(D::Error::custom)
}

/// `value` as decimal text with exactly `decimals` decimals (`7900`, 2 → `79.00`).
pub fn fixed_text(value: i64, decimals: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let scale = 10u64.pow(decimals);
    if decimals == 0 {
        return format!("{sign}{magnitude}");
    }
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = decimals as usize)
}

fn serialize_text<S: Serializer>(serializer: S, text: String) -> Result<S::Ok, S::Error> {
    let raw = RawValue::from_string(text).map_err(serde::ser::Error::custom)?;
    raw.serialize(serializer)
}

impl<'de> Deserialize<'de> for Rubles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_scaled(deserializer, 2).map(Rubles)
    }
}

impl Serialize for Rubles {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_text(serializer, fixed_text(self.0, 2))
    }
}

impl<'de> Deserialize<'de> for Qty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_scaled(deserializer, 3).map(Qty)
    }
}

impl Serialize for Qty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_text(serializer, Quantity(self.0).to_decimal_string())
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_scaled(deserializer, 2).map(Percent)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_text(serializer, fixed_text(self.0, 2))
    }
}

impl<'de> Deserialize<'de> for Points {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_scaled(deserializer, 0).map(Points)
    }
}

impl Serialize for Points {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Kopecks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_scaled(deserializer, 0).map(Kopecks)
    }
}

impl Serialize for Kopecks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_decimals_exactly() {
        let cases: &[(&str, u32, i64)] = &[
            ("250.00", 2, 25_000),
            ("250", 2, 25_000),
            ("79.0", 2, 7_900),
            ("0.1", 2, 10),
            ("123.45", 2, 12_345),
            ("-1.5", 2, -150),
            ("250.000", 2, 25_000),
            ("1.25e2", 2, 12_500),
            ("125E-2", 2, 125),
            ("1e-2", 2, 1),
            ("0", 2, 0),
            ("123.456", 3, 123_456),
            ("0.354", 3, 354),
            ("2", 3, 2_000),
            ("1.5", 3, 1_500),
            ("171", 0, 171),
            ("171.0", 0, 171),
            ("283100.0", 2, 28_310_000),
            ("  7 ", 0, 7),
        ];
        for &(text, decimals, expected) in cases {
            assert_eq!(parse_scaled(text, decimals), Ok(expected), "{text} at {decimals}");
        }
    }

    #[test]
    fn refuses_what_would_need_rounding_or_is_not_a_number() {
        for (text, decimals) in [
            ("10.005", 2),
            ("0.0001", 3),
            ("171.5", 0),
            ("1e-3", 2),
            ("abc", 2),
            ("", 2),
            ("1.", 2),
            (".5", 2),
            ("+1", 2),
            ("1.2.3", 2),
            ("1e", 2),
            ("1e99999", 2),
            ("99999999999999999999", 2),
            ("1e30", 0),
            ("--1", 2),
        ] {
            assert!(parse_scaled(text, decimals).is_err(), "{text} at {decimals}");
        }
    }

    #[test]
    fn json_numbers_and_strings_round_trip_without_floats() {
        #[derive(Deserialize, Serialize)]
        struct Line {
            price: Rubles,
            quantity: Qty,
            percent: Percent,
            points: Points,
            kopecks: Kopecks,
        }
        let line: Line = serde_json::from_str(
            r#"{"price": 83.33, "quantity": "0.354", "percent": 49.99, "points": 171, "kopecks": "1000"}"#,
        )
        .unwrap();
        assert_eq!(
            (line.price, line.quantity, line.percent, line.points, line.kopecks.0),
            (Rubles(8333), Qty(354), Percent(4999), Points(171), 1000)
        );
        let back = serde_json::to_string(&Line { price: Rubles(7900), quantity: Qty(2000), ..line }).unwrap();
        assert_eq!(back, r#"{"price":79.00,"quantity":2,"percent":49.99,"points":171,"kopecks":1000}"#);
        assert!(serde_json::from_str::<Line>(
            r#"{"price": true, "quantity": 1, "percent": 0, "points": 0, "kopecks": 0}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Option<Rubles>>("null").unwrap().is_none());
    }

    #[test]
    fn fixed_text_pads_decimals() {
        assert_eq!(fixed_text(7_900, 2), "79.00");
        assert_eq!(fixed_text(5, 2), "0.05");
        assert_eq!(fixed_text(-150, 2), "-1.50");
        assert_eq!(fixed_text(i64::MIN, 2), "-92233720368547758.08");
        assert_eq!(fixed_text(42, 0), "42");
    }
}
