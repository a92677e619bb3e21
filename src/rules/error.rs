//! Why the rules refused a receipt, a return or a promo code.

use std::fmt;

use super::{Money, Quantity};

/// A rule violation. Each variant maps to a stable snake_case `code()` and a sentence for the
/// cashier (`Display`). The HTTP layer turns all of them into 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("quantity {text:?} is not valid: {why}")]
    InvalidQuantity { text: String, why: &'static str },
    #[error("line {line}: {why}")]
    InvalidLine { line: usize, why: LineProblem },
    #[error("the receipt has no lines")]
    EmptyReceipt,
    #[error("the amounts are too large to compute")]
    Overflow,
    /// More points requested than may be redeemed; `bound_by` names the limit
    /// (`available_points`, `redeem_cap`, `min_payable`, `no_customer`, `excluded_lines`).
    #[error("at most {max} points can be redeemed on this receipt ({bound_by}); {requested} were requested")]
    RedeemAboveLimit { requested: i64, max: i64, bound_by: &'static str },
    #[error("points to redeem must be zero or more, not {0}")]
    NegativeRedeem(i64),
    /// A promo code that cannot be applied; `reason` is a stable code
    /// (`unknown`, `not_yet_valid`, `expired`, `min_receipt`, `used_up`, `customer_limit`), and
    /// `values` the figures `message` names (`from`, `until`, `min_receipt`, `subtotal`), so that
    /// a translation can name them too.
    #[error("promo code {code:?} cannot be applied: {message}")]
    PromoRejected { code: String, reason: &'static str, message: String, values: Vec<(&'static str, String)> },
    #[error("line {line} was not in the receipt")]
    UnknownReturnLine { line: String },
    #[error("cannot return {requested} of {sku}: {remaining} left to return")]
    ReturnTooMuch { sku: String, requested: String, remaining: String },
    #[error("nothing left to return on this receipt")]
    NothingToReturn,
}

/// What is wrong with one line of a receipt. `Display` is the English the cashier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    TooManyLines { max: usize, count: usize },
    EmptySku,
    SkuTooLong { max: usize },
    NegativePrice { price: Money },
    PriceTooHigh { price: Money, max: Money },
    QuantityOutOfRange { quantity: Quantity, max: Quantity },
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::TooManyLines { max, count } => {
                write!(f, "a receipt may have at most {max} lines, this one has {count}")
            }
            LineProblem::EmptySku => f.write_str("the SKU is empty"),
            LineProblem::SkuTooLong { max } => write!(f, "the SKU is longer than {max} characters"),
            LineProblem::NegativePrice { price } => write!(f, "the price {price} is negative"),
            LineProblem::PriceTooHigh { price, max } => write!(f, "the price {price} is above the maximum of {max}"),
            LineProblem::QuantityOutOfRange { quantity, max } => {
                write!(f, "the quantity {quantity} is not between 0.001 and {max}")
            }
        }
    }
}

impl RulesError {
    /// The stable machine-readable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            RulesError::InvalidQuantity { .. } => "invalid_quantity",
            RulesError::InvalidLine { .. } => "invalid_line",
            RulesError::EmptyReceipt => "empty_receipt",
            RulesError::Overflow => "amount_overflow",
            RulesError::RedeemAboveLimit { .. } => "redeem_limit",
            RulesError::NegativeRedeem(_) => "negative_redeem",
            RulesError::PromoRejected { .. } => "promo_rejected",
            RulesError::UnknownReturnLine { .. } => "unknown_return_line",
            RulesError::ReturnTooMuch { .. } => "return_exceeds_sale",
            RulesError::NothingToReturn => "nothing_to_return",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        let cases = [
            (RulesError::InvalidQuantity { text: "x".into(), why: "not a number" }, "invalid_quantity"),
            (RulesError::InvalidLine { line: 0, why: LineProblem::EmptySku }, "invalid_line"),
            (RulesError::EmptyReceipt, "empty_receipt"),
            (RulesError::Overflow, "amount_overflow"),
            (RulesError::RedeemAboveLimit { requested: 2, max: 1, bound_by: "redeem_cap" }, "redeem_limit"),
            (RulesError::NegativeRedeem(-1), "negative_redeem"),
            (
                RulesError::PromoRejected {
                    code: "X".into(),
                    reason: "unknown",
                    message: "no such code".into(),
                    values: Vec::new(),
                },
                "promo_rejected",
            ),
            (RulesError::UnknownReturnLine { line: "A".into() }, "unknown_return_line"),
            (
                RulesError::ReturnTooMuch { sku: "A".into(), requested: "2".into(), remaining: "1".into() },
                "return_exceeds_sale",
            ),
            (RulesError::NothingToReturn, "nothing_to_return"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }
}
