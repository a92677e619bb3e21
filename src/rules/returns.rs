//! Planning a return against a committed sale (CONTRACTS.md §returns).
//!
//! Every per-line figure is reversed cumulatively: after `k` of `n` units came back, exactly
//! `floor(earn × k / n)` earned points were taken back (money: half-up rounding of
//! `paid × k / n`), so partial returns never drift and a full return restores everything exactly.

use super::{Money, Quantity, RulesError};

/// One line of the committed sale, with what earlier returns already reversed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldLine {
    /// 0-based position in the receipt.
    pub line_no: usize,
    pub sku: String,
    pub quantity: Quantity,
    /// Money paid for the line after all its discounts.
    pub paid: Money,
    /// Points earned by the line.
    pub earn: i64,
    /// Points redeemed against the line.
    pub redeem_points: i64,
    pub returned: Quantity,
    pub refunded: Money,
    pub earn_taken_back: i64,
    pub redeem_given_back: i64,
    /// The stamp cards' stamps the line moved (empty for receipts from before stamp cards).
    pub stamps: Vec<SoldStamps>,
}

/// One stamp card's stamps on a sold line, with what earlier returns already reversed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldStamps {
    pub campaign_id: String,
    /// Stamps the line's units earned.
    pub earned: i64,
    /// Stamps the line's free units spent.
    pub used: i64,
    pub earned_taken_back: i64,
    pub used_given_back: i64,
}

/// What a return does to one stamp card: stamps to take from the customer and to give back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampsBack {
    pub campaign_id: String,
    pub earned_back: i64,
    pub used_back: i64,
}

/// "Return this much of this SKU". When several lines share a SKU, `line` picks one; otherwise
/// the quantity is taken from those lines in receipt order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnLineRequest {
    pub sku: String,
    pub line: Option<usize>,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedLine {
    pub line_no: usize,
    pub sku: String,
    pub quantity: Quantity,
    pub refund: Money,
    pub earn_back: i64,
    pub redeem_back: i64,
    /// Per stamp card, reversed cumulatively like the points (a full return gives back exactly
    /// what the line moved).
    pub stamps: Vec<StampsBack>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPlan {
    pub lines: Vec<ReturnedLine>,
    pub refund: Money,
    /// Earned points to take back from the customer.
    pub points_taken_back: i64,
    /// Spent points to give back to the customer.
    pub points_given_back: i64,
}

/// Plans a return. `request = None` returns everything not yet returned
/// (`NothingToReturn` if that is nothing). More than remains → `ReturnTooMuch`;
/// a SKU not on the receipt → `UnknownReturnLine`.
///
/// Request lines add up: the same SKU twice is one request for the sum. Requests naming a
/// `line` are placed first, then SKU-only requests fill the remaining quantity in receipt order.
/// An empty request is `NothingToReturn`; a request quantity of zero or less is `InvalidQuantity`.
pub fn plan_return(sold: &[SoldLine], request: Option<&[ReturnLineRequest]>) -> Result<ReturnPlan, RulesError> {
    let take = match request {
        None => sold.iter().map(returnable).collect(),
        Some(requests) => allocate(sold, requests)?,
    };
    if take.iter().all(|&quantity| quantity == 0) {
        return Err(RulesError::NothingToReturn);
    }

    let mut plan = ReturnPlan { lines: Vec::new(), refund: Money(0), points_taken_back: 0, points_given_back: 0 };
    for (line, &quantity) in sold.iter().zip(&take) {
        if quantity == 0 {
            continue;
        }
        let total = line.quantity.0;
        let after = line.returned.0.max(0).checked_add(quantity).ok_or(RulesError::Overflow)?;
        // Cumulative reversal: what should have come back after `after` units, minus what already
        // did. A corrupt record that already gave back more yields 0 rather than a negative.
        let refund = still_due(half_up_share(line.paid.0, after, total)?, line.refunded.0)?;
        let earn_back = still_due(floor_share(line.earn, after, total)?, line.earn_taken_back)?;
        let redeem_back = still_due(floor_share(line.redeem_points, after, total)?, line.redeem_given_back)?;
        let mut stamps = Vec::with_capacity(line.stamps.len());
        for card in &line.stamps {
            stamps.push(StampsBack {
                campaign_id: card.campaign_id.clone(),
                earned_back: still_due(floor_share(card.earned, after, total)?, card.earned_taken_back)?,
                used_back: still_due(floor_share(card.used, after, total)?, card.used_given_back)?,
            });
        }

        plan.refund = plan.refund.checked_add(Money(refund)).ok_or(RulesError::Overflow)?;
        plan.points_taken_back = plan.points_taken_back.checked_add(earn_back).ok_or(RulesError::Overflow)?;
        plan.points_given_back = plan.points_given_back.checked_add(redeem_back).ok_or(RulesError::Overflow)?;
        plan.lines.push(ReturnedLine {
            line_no: line.line_no,
            sku: line.sku.clone(),
            quantity: Quantity(quantity),
            refund: Money(refund),
            earn_back,
            redeem_back,
            stamps,
        });
    }
    Ok(plan)
}

/// What is left to return on a line, in thousandths (never negative, even for corrupt records).
fn returnable(line: &SoldLine) -> i64 {
    line.quantity.0.saturating_sub(line.returned.0.max(0)).max(0)
}

/// Turns the request into a quantity per sold line (same order as `sold`), checking every limit.
fn allocate(sold: &[SoldLine], requests: &[ReturnLineRequest]) -> Result<Vec<i64>, RulesError> {
    let mut take = vec![0i64; sold.len()];
    // SKU-only requests, summed per SKU in the order first seen.
    let mut by_sku: Vec<(&str, i64)> = Vec::new();
    for request in requests {
        if request.quantity.0 <= 0 {
            return Err(RulesError::InvalidQuantity {
                text: request.quantity.to_decimal_string(),
                why: "must be more than zero",
            });
        }
        if !sold.iter().any(|line| line.sku == request.sku) {
            return Err(RulesError::UnknownReturnLine { line: request.sku.clone() });
        }
        match request.line {
            Some(line_no) => {
                let slot = sold
                    .iter()
                    .zip(take.iter_mut())
                    .find(|(line, _)| line.line_no == line_no && line.sku == request.sku)
                    .map(|(_, slot)| slot)
                    .ok_or_else(|| RulesError::UnknownReturnLine {
                        line: format!("{} at position {line_no}", request.sku),
                    })?;
                *slot = slot.checked_add(request.quantity.0).ok_or(RulesError::Overflow)?;
            }
            None => match by_sku.iter_mut().find(|(sku, _)| *sku == request.sku) {
                Some((_, quantity)) => {
                    *quantity = quantity.checked_add(request.quantity.0).ok_or(RulesError::Overflow)?;
                }
                None => by_sku.push((&request.sku, request.quantity.0)),
            },
        }
    }

    for (line, &quantity) in sold.iter().zip(&take) {
        if quantity > returnable(line) {
            return Err(too_much(&line.sku, quantity, returnable(line)));
        }
    }
    for (sku, wanted) in by_sku {
        let room: i64 = sold
            .iter()
            .zip(&take)
            .filter(|(line, _)| line.sku == sku)
            .fold(0i64, |room, (line, &taken)| room.saturating_add(returnable(line) - taken));
        if wanted > room {
            return Err(too_much(sku, wanted, room));
        }
        let mut left = wanted;
        for (line, slot) in sold.iter().zip(take.iter_mut()) {
            if line.sku == sku {
                let here = left.min(returnable(line) - *slot);
                *slot += here;
                left -= here;
            }
        }
    }
    Ok(take)
}

fn too_much(sku: &str, requested: i64, remaining: i64) -> RulesError {
    RulesError::ReturnTooMuch {
        sku: sku.to_string(),
        requested: Quantity(requested).to_decimal_string(),
        remaining: Quantity(remaining).to_decimal_string(),
    }
}

/// What should have come back so far minus what already did; never negative.
fn still_due(cumulative: i64, already: i64) -> Result<i64, RulesError> {
    cumulative.checked_sub(already).map(|due| due.max(0)).ok_or(RulesError::Overflow)
}

/// `floor(value × part / whole)`; 0 for a line sold with no quantity.
fn floor_share(value: i64, part: i64, whole: i64) -> Result<i64, RulesError> {
    if whole <= 0 {
        return Ok(0);
    }
    let share = (i128::from(value) * i128::from(part)).div_euclid(i128::from(whole));
    i64::try_from(share).map_err(|_| RulesError::Overflow)
}

/// `value × part / whole` rounded half-up; 0 for a line sold with no quantity.
fn half_up_share(value: i64, part: i64, whole: i64) -> Result<i64, RulesError> {
    if whole <= 0 {
        return Ok(0);
    }
    let whole = i128::from(whole);
    let share = (2 * i128::from(value) * i128::from(part) + whole).div_euclid(2 * whole);
    i64::try_from(share).map_err(|_| RulesError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sold(line_no: usize, sku: &str, quantity: i64, paid: i64, earn: i64, redeem_points: i64) -> SoldLine {
        SoldLine {
            line_no,
            sku: sku.to_string(),
            quantity: Quantity(quantity),
            paid: Money(paid),
            earn,
            redeem_points,
            returned: Quantity(0),
            refunded: Money(0),
            earn_taken_back: 0,
            redeem_given_back: 0,
            stamps: Vec::new(),
        }
    }

    fn ask(sku: &str, line: Option<usize>, quantity: i64) -> ReturnLineRequest {
        ReturnLineRequest { sku: sku.to_string(), line, quantity: Quantity(quantity) }
    }

    /// Records a plan on the sale, as storage does after committing the return.
    fn record(lines: &mut [SoldLine], plan: &ReturnPlan) {
        for returned in &plan.lines {
            if let Some(line) = lines.iter_mut().find(|line| line.line_no == returned.line_no) {
                line.returned.0 += returned.quantity.0;
                line.refunded.0 += returned.refund.0;
                line.earn_taken_back += returned.earn_back;
                line.redeem_given_back += returned.redeem_back;
            }
        }
    }

    #[test]
    fn three_partial_returns_reverse_exactly() {
        // 3 units paid 100.00 together, 7 points earned, 5 redeemed.
        let mut lines = vec![sold(0, "A", 3000, 10_000, 7, 5)];
        let mut seen = Vec::new();
        for _ in 0..3 {
            let plan = plan_return(&lines, Some(&[ask("A", None, 1000)])).expect("one unit back");
            let line = plan.lines.first().expect("one line");
            seen.push((line.refund.0, line.earn_back, line.redeem_back));
            record(&mut lines, &plan);
        }
        // Cumulative: 33.33 | 66.67 | 100.00; floor(7k/3) = 2, 4, 7; floor(5k/3) = 1, 3, 5.
        assert_eq!(seen, vec![(3_333, 2, 1), (3_334, 2, 2), (3_333, 3, 2)]);
        assert_eq!(plan_return(&lines, None), Err(RulesError::NothingToReturn));
    }

    #[test]
    fn weight_goods_return_in_thousandths() {
        let lines = vec![sold(0, "CHEESE", 354, 7_080, 3, 0)];
        let plan = plan_return(&lines, Some(&[ask("CHEESE", None, 177)])).expect("half back");
        assert_eq!((plan.refund, plan.points_taken_back), (Money(3_540), 1));
    }

    #[test]
    fn a_full_return_gives_back_what_is_left() {
        let mut lines = vec![sold(0, "A", 2000, 1_001, 3, 2), sold(1, "B", 1000, 500, 1, 1)];
        let first = plan_return(&lines, Some(&[ask("A", None, 1000)])).expect("half of A");
        assert_eq!((first.refund, first.points_taken_back, first.points_given_back), (Money(501), 1, 1));
        record(&mut lines, &first);
        let rest = plan_return(&lines, None).expect("the rest");
        assert_eq!((rest.refund, rest.points_taken_back, rest.points_given_back), (Money(1_000), 3, 2));
        assert_eq!(rest.lines.iter().map(|l| l.quantity.0).collect::<Vec<_>>(), vec![1000, 1000]);
    }

    #[test]
    fn the_same_sku_twice_adds_up_and_fills_lines_in_order() {
        let lines = vec![sold(0, "A", 1000, 100, 0, 0), sold(1, "B", 1000, 50, 0, 0), sold(2, "A", 2000, 400, 0, 0)];
        let plan = plan_return(&lines, Some(&[ask("A", None, 1000), ask("A", None, 500)])).expect("1.5 of A");
        let placed: Vec<(usize, i64)> = plan.lines.iter().map(|l| (l.line_no, l.quantity.0)).collect();
        assert_eq!(placed, vec![(0, 1000), (2, 500)]);
        assert_eq!(plan.refund, Money(200));

        let picked = plan_return(&lines, Some(&[ask("A", Some(2), 2000), ask("A", None, 1000)])).expect("all of A");
        let placed: Vec<(usize, i64)> = picked.lines.iter().map(|l| (l.line_no, l.quantity.0)).collect();
        assert_eq!(placed, vec![(0, 1000), (2, 2000)]);
    }

    #[test]
    fn refuses_bad_requests() {
        let lines = vec![sold(0, "A", 1000, 100, 0, 0), sold(1, "A", 1000, 100, 0, 0)];
        assert_eq!(
            plan_return(&lines, Some(&[ask("Z", None, 1000)])),
            Err(RulesError::UnknownReturnLine { line: "Z".into() })
        );
        assert_eq!(
            plan_return(&lines, Some(&[ask("A", Some(7), 1000)])),
            Err(RulesError::UnknownReturnLine { line: "A at position 7".into() })
        );
        assert_eq!(
            plan_return(&lines, Some(&[ask("A", None, 1500), ask("A", None, 1000)])),
            Err(RulesError::ReturnTooMuch { sku: "A".into(), requested: "2.5".into(), remaining: "2".into() })
        );
        assert_eq!(
            plan_return(&lines, Some(&[ask("A", Some(1), 1001)])),
            Err(RulesError::ReturnTooMuch { sku: "A".into(), requested: "1.001".into(), remaining: "1".into() })
        );
        assert_eq!(
            plan_return(&lines, Some(&[ask("A", Some(1), 1000), ask("A", None, 1001)])),
            Err(RulesError::ReturnTooMuch { sku: "A".into(), requested: "1.001".into(), remaining: "1".into() })
        );
        assert!(matches!(plan_return(&lines, Some(&[ask("A", None, 0)])), Err(RulesError::InvalidQuantity { .. })));
        assert_eq!(plan_return(&lines, Some(&[])), Err(RulesError::NothingToReturn));
        assert_eq!(plan_return(&[], None), Err(RulesError::NothingToReturn));
    }

    #[test]
    fn huge_or_corrupt_records_do_not_panic() {
        let mut corrupt = sold(0, "A", 0, i64::MAX, i64::MAX, i64::MIN);
        corrupt.returned = Quantity(-5);
        assert_eq!(plan_return(&[corrupt.clone()], None), Err(RulesError::NothingToReturn));
        let big = sold(0, "A", Quantity::MAX.0, i64::MAX, i64::MAX, i64::MAX);
        let plan = plan_return(&[big], None).expect("everything back");
        assert_eq!((plan.refund.0, plan.points_taken_back), (i64::MAX, i64::MAX));
        let request = [ask("A", None, i64::MAX), ask("A", None, i64::MAX)];
        assert_eq!(plan_return(&[sold(0, "A", 1000, 1, 1, 1)], Some(&request)), Err(RulesError::Overflow));
    }

    /// Two lattes, the first the fifth stamp and the second free: returning one gives back
    /// neither stamp yet (floors), the second return settles exactly what the line moved.
    #[test]
    fn stamps_are_reversed_cumulatively_and_exactly_on_a_full_return() {
        let mut line = sold(0, "LATTE", 2000, 20000, 10, 0);
        line.stamps = vec![SoldStamps {
            campaign_id: "latte".into(),
            earned: 1,
            used: 5,
            earned_taken_back: 0,
            used_given_back: 0,
        }];
        let mut lines = vec![line];
        let first = plan_return(&lines, Some(&[ask("LATTE", None, 1000)])).expect("one latte");
        assert_eq!(
            first.lines[0].stamps,
            vec![StampsBack { campaign_id: "latte".into(), earned_back: 0, used_back: 2 }]
        );
        record(&mut lines, &first);
        lines[0].stamps[0].earned_taken_back += first.lines[0].stamps[0].earned_back;
        lines[0].stamps[0].used_given_back += first.lines[0].stamps[0].used_back;
        let rest = plan_return(&lines, None).expect("the rest");
        assert_eq!(
            rest.lines[0].stamps,
            vec![StampsBack { campaign_id: "latte".into(), earned_back: 1, used_back: 3 }]
        );
        // A receipt from before stamp cards has none to reverse.
        assert!(plan_return(&[sold(0, "A", 1000, 100, 1, 0)], None).expect("plain").lines[0].stamps.is_empty());
    }
}
