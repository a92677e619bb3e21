//! Between the protocol and our ledger: MoySklad positions become receipt lines of the native
//! API (`wire::ReceiptLineInput`), and our per-line results become the `discountPercent` and
//! `discountedPrice` MoySklad wants for every position.
//!
//! The one subtle part is [`price_parts`]. MoySklad prints a position as `quantity` units at a
//! per-unit `discountedPrice` with two decimals, but our rules give each line a *total* to pay
//! (the points discount is spread over lines to the kopeck). 250.00 → 79.00 for one unit is a
//! price; 200.00 for three units is not (66.666…). The protocol allows splitting one position
//! into two for exactly this, so the line becomes 1 × 66.66 + 2 × 66.67. Each part's sum is
//! `discountedPrice × quantity` rounded half-up to the kopeck, the rule our rules use for line
//! amounts, so the parts add up to our figure exactly.

use super::errors::MsError;
use super::number::{Percent, Qty, Rubles};
use super::wire::Position;
use crate::rules::Quantity;
use crate::wire::{Calculation, QuantityInput, ReceiptLineInput};

/// The most positions one receipt may carry (the rules refuse more lines anyway).
pub const MAX_POSITIONS: usize = 1000;
/// The longest product id accepted (the rules' SKU limit).
const MAX_SKU_CHARS: usize = 128;

/// A position, checked: what the rules price, and the original to echo back.
#[derive(Debug, Clone)]
pub struct ReadPosition {
    /// `assortment.meta.id` (or the till's `syncId`): our SKU.
    pub sku: String,
    /// Thousandths.
    pub quantity: i64,
    /// Kopecks per unit, before any discount.
    pub price: i64,
    pub original: Position,
}

/// Checks `positions` (required, 1 to [`MAX_POSITIONS`]); every error names the field.
pub fn read_positions(positions: Option<&[Position]>) -> Result<Vec<ReadPosition>, MsError> {
    let positions = positions.ok_or_else(|| MsError::invalid_field("positions", "the receipt needs positions"))?;
    if positions.is_empty() || positions.len() > MAX_POSITIONS {
        return Err(MsError::invalid_field("positions", format!("expected 1 to {MAX_POSITIONS} positions")));
    }
    positions
        .iter()
        .enumerate()
        .map(|(i, position)| {
            let field = |name: &str| format!("positions[{i}].{name}");
            let sku = position
                .assortment
                .key()
                .filter(|sku| sku.chars().count() <= MAX_SKU_CHARS)
                .ok_or_else(|| MsError::invalid_field(field("assortment.meta.id"), "the product id is missing"))?;
            let quantity = position
                .quantity
                .map(|q| q.0)
                .filter(|&q| q > 0 && q <= Quantity::MAX.0)
                .ok_or_else(|| MsError::invalid_field(field("quantity"), "expected 0.001 to 1000000"))?;
            let price = position
                .price
                .map(|p| p.0)
                .filter(|&p| p >= 0)
                .ok_or_else(|| MsError::invalid_field(field("price"), "expected a price of 0 or more"))?;
            Ok(ReadPosition { sku: sku.to_owned(), quantity, price, original: position.clone() })
        })
        .collect()
}

/// The positions as lines of the native API, in the same order.
pub fn to_lines(positions: &[ReadPosition]) -> Vec<ReceiptLineInput> {
    positions
        .iter()
        .map(|p| ReceiptLineInput {
            sku: p.sku.clone(),
            name: None,
            category: None,
            quantity: QuantityInput(Quantity(p.quantity).to_decimal_string()),
            price: p.price,
        })
        .collect()
}

/// One resulting position: `quantity` thousandths at `unit` kopecks each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub quantity: i64,
    pub unit: i64,
}

/// What MoySklad charges for `quantity` thousandths at `unit` kopecks: half-up to a kopeck.
pub fn part_sum(unit: i64, quantity: i64) -> i128 {
    (i128::from(unit) * i128::from(quantity) + 500).div_euclid(1000)
}

/// `ceil(a / b)` for `b > 0`.
fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

/// Per-unit prices (2 decimals) for a line of `quantity` thousandths at `price` that must cost
/// exactly `paid` kopecks: one part when a single price does it, otherwise two parts whose prices
/// are a kopeck apart, the dearer one on whole units. Every price stays within `0..=price`, so no
/// discount is negative. A line that cannot be placed (input outside `0 ≤ paid ≤ price ×
/// quantity`, refused earlier) gets the nearest single price rather than a panic.
pub fn price_parts(price: i64, quantity: i64, paid: i64) -> Vec<Part> {
    if quantity <= 0 {
        return vec![Part { quantity, unit: price }];
    }
    let (q, paid_wide) = (i128::from(quantity), i128::from(paid));
    // round(unit × q / 1000) = paid ⇔ paid×1000 − 500 ≤ unit × q < paid×1000 + 500.
    let low = ceil_div(paid_wide * 1000 - 500, q).max(0);
    let high = (ceil_div(paid_wide * 1000 + 500, q) - 1).min(i128::from(price));
    let ideal = (2 * paid_wide * 1000 + q).div_euclid(2 * q);
    if low <= high {
        let unit = i64::try_from(ideal.clamp(low, high)).unwrap_or(price);
        return vec![Part { quantity, unit }];
    }
    // Two prices: `k` whole units at unit + 1, the rest (whole units and any fraction) at unit:
    // sum = whole × unit + round(unit × fraction / 1000) + k, so k is what is left to pay.
    let (whole, fraction) = (q / 1000, q % 1000);
    let base = (paid_wide * 1000).div_euclid(q);
    for unit in [base, base + 1, base - 1] {
        if unit < 0 || unit + 1 > i128::from(price) {
            continue;
        }
        let k = paid_wide - whole * unit - part_sum_wide(unit, fraction);
        let rest = q - k * 1000;
        if k >= 1 && k <= whole && rest > 0 {
            if let (Ok(unit), Ok(k), Ok(rest)) = (i64::try_from(unit), i64::try_from(k), i64::try_from(rest)) {
                return vec![Part { quantity: rest, unit }, Part { quantity: k * 1000, unit: unit + 1 }];
            }
        }
    }
    let unit = i64::try_from(ideal.clamp(0, i128::from(price.max(0)))).unwrap_or(price);
    vec![Part { quantity, unit }]
}

fn part_sum_wide(unit: i128, quantity: i128) -> i128 {
    (unit * quantity + 500).div_euclid(1000)
}

/// `discountPercent`: (price − discounted) / price, in hundredths of a percent, half-up.
pub fn discount_percent(price: i64, discounted: i64) -> i64 {
    if price <= 0 {
        return 0;
    }
    let off = i128::from(price - discounted).max(0);
    i64::try_from((off * 10_000 * 2 + i128::from(price)).div_euclid(2 * i128::from(price))).unwrap_or(0).min(10_000)
}

/// Every position back with its discount, split where one price cannot carry it, in order.
/// `calc` must be the pricing of `to_lines(positions)`.
pub fn priced_positions(positions: &[ReadPosition], calc: &Calculation) -> Result<Vec<Position>, MsError> {
    if calc.lines.len() != positions.len() {
        return Err(MsError::unavailable("the priced receipt does not match the positions"));
    }
    let mut out = Vec::with_capacity(positions.len());
    for (position, line) in positions.iter().zip(&calc.lines) {
        let parts = price_parts(position.price, position.quantity, line.paid);
        let serials = split_serials(position.original.sn.as_deref(), &parts);
        for (part, sn) in parts.iter().zip(serials) {
            out.push(Position {
                assortment: position.original.assortment.clone(),
                quantity: Some(Qty(part.quantity)),
                price: Some(Rubles(position.price)),
                discount_percent: Some(Percent(discount_percent(position.price, part.unit))),
                discounted_price: Some(Rubles(part.unit)),
                sn,
                pack: position.original.pack.clone(),
            });
        }
    }
    Ok(out)
}

type Serials = Option<Vec<Box<serde_json::value::RawValue>>>;

/// Serial numbers follow their units: after a split, each part keeps as many serials as it has
/// units, in order (the protocol requires `sn.length == quantity` for each).
fn split_serials(sn: Option<&[Box<serde_json::value::RawValue>]>, parts: &[Part]) -> Vec<Serials> {
    let Some(sn) = sn else { return vec![None; parts.len()] };
    if parts.len() < 2 {
        return vec![Some(sn.to_vec())];
    }
    let mut rest = sn;
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let take = if i + 1 == parts.len() { rest.len() } else { usize::try_from(part.quantity / 1000).unwrap_or(0) };
        let (mine, later) = rest.split_at(take.min(rest.len()));
        out.push((!mine.is_empty()).then(|| mine.to_vec()));
        rest = later;
    }
    out
}

/// The text printed on the receipt: what was spent and earned and the balance after.
pub fn receipt_extra_info(redeem: i64, earn: i64, balance_after: i64) -> String {
    let mut lines = Vec::new();
    if redeem > 0 {
        lines.push(format!("Списано баллов: {redeem}"));
    }
    lines.push(format!("Начислено баллов: {earn}"));
    lines.push(format!("Баланс баллов: {balance_after}"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn total(parts: &[Part]) -> i128 {
        parts.iter().map(|p| part_sum(p.unit, p.quantity)).sum()
    }

    #[test]
    fn the_seed_receipt_is_one_price() {
        // 250.00, 171 points spent: 79.00 to pay, 68.40 % off.
        assert_eq!(price_parts(25_000, 1_000, 7_900), vec![Part { quantity: 1_000, unit: 7_900 }]);
        assert_eq!(discount_percent(25_000, 7_900), 6_840);
    }

    #[test]
    fn splits_when_one_price_cannot_carry_the_line() {
        // Three units must cost 200.00: 1 × 66.66 + 2 × 66.67.
        let parts = price_parts(10_000, 3_000, 20_000);
        assert_eq!(parts, vec![Part { quantity: 1_000, unit: 6_666 }, Part { quantity: 2_000, unit: 6_667 }]);
        assert_eq!(total(&parts), 20_000);
        // 2.5 kg at 1.00 must cost 2.49: 1.5 kg at 0.99 (1.485 → 1.49) + 1 kg at 1.00.
        let parts = price_parts(100, 2_500, 249);
        assert_eq!(parts, vec![Part { quantity: 1_500, unit: 99 }, Part { quantity: 1_000, unit: 100 }]);
        // Weight goods under one unit always find a single price.
        assert_eq!(price_parts(19_999, 354, 6_080).len(), 1);
        // No discount: the price itself.
        assert_eq!(price_parts(12_345, 123_456, 1_524_064), vec![Part { quantity: 123_456, unit: 12_345 }]);
    }

    #[test]
    fn percents_have_two_decimals_and_stay_in_range() {
        assert_eq!(discount_percent(30_000, 20_000), 3_333);
        assert_eq!(discount_percent(30_000, 10_000), 6_667);
        assert_eq!(discount_percent(100, 0), 10_000);
        assert_eq!(discount_percent(0, 0), 0);
        assert_eq!(discount_percent(100, 150), 0);
    }

    #[test]
    fn serials_follow_their_units() {
        let sn: Vec<Box<serde_json::value::RawValue>> = ["\"a\"", "\"b\"", "\"c\""]
            .iter()
            .map(|s| serde_json::value::RawValue::from_string((*s).into()).unwrap())
            .collect();
        let parts = [Part { quantity: 1_000, unit: 1 }, Part { quantity: 2_000, unit: 2 }];
        let split = split_serials(Some(&sn), &parts);
        let texts: Vec<Vec<String>> =
            split.iter().map(|s| s.iter().flatten().map(|r| r.get().to_owned()).collect()).collect();
        assert_eq!(texts, vec![vec!["\"a\"".to_owned()], vec!["\"b\"".to_owned(), "\"c\"".to_owned()]]);
    }

    proptest! {
        /// Whatever the price, quantity and discount: at most two parts, the quantities add up,
        /// each price lies within 0..=price, and the parts cost exactly what the line must.
        #[test]
        fn parts_cost_exactly_the_line(price in 0i64..100_000_000, quantity in 1i64..1_000_000, share in 0u32..=1000) {
            let amount = i64::try_from(part_sum(price, quantity)).unwrap();
            let paid = i64::try_from(i128::from(amount) * i128::from(share) / 1000).unwrap();
            let parts = price_parts(price, quantity, paid);
            prop_assert!(parts.len() <= 2);
            prop_assert_eq!(parts.iter().map(|p| p.quantity).sum::<i64>(), quantity);
            for part in &parts {
                prop_assert!(part.quantity > 0 && part.unit >= 0 && part.unit <= price, "{:?}", parts);
            }
            prop_assert_eq!(total(&parts), i128::from(paid), "{:?}", parts);
        }

        #[test]
        fn small_prices_and_whole_units(price in 0i64..500, units in 1i64..50, paid_share in 0u32..=1000) {
            let quantity = units * 1000;
            let paid = i64::try_from(i128::from(price * units) * i128::from(paid_share) / 1000).unwrap();
            let parts = price_parts(price, quantity, paid);
            prop_assert_eq!(total(&parts), i128::from(paid), "{:?}", parts);
        }
    }
}
