//! Planning a return against a committed sale (DESIGN §3 "Returns").
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
pub fn plan_return(sold: &[SoldLine], request: Option<&[ReturnLineRequest]>) -> Result<ReturnPlan, RulesError> {
    todo!("{sold:?}{request:?}")
}
