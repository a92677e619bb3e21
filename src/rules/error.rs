//! Why the rules refused a receipt, a return or a promo code.

/// A rule violation. Each variant maps to a stable snake_case `code()` and a sentence for the
/// cashier (`Display`). The HTTP layer turns all of them into 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("quantity {text:?} is not valid: {why}")]
    InvalidQuantity { text: String, why: &'static str },
    #[error("line {line}: {why}")]
    InvalidLine { line: usize, why: String },
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
    /// (`unknown`, `not_yet_valid`, `expired`, `min_receipt`, `used_up`, `customer_limit`).
    #[error("promo code {code:?} cannot be applied: {message}")]
    PromoRejected { code: String, reason: &'static str, message: String },
    #[error("line {line} was not in the receipt")]
    UnknownReturnLine { line: String },
    #[error("cannot return {requested} of {sku}: {remaining} left to return")]
    ReturnTooMuch { sku: String, requested: String, remaining: String },
    #[error("nothing left to return on this receipt")]
    NothingToReturn,
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
            (RulesError::InvalidLine { line: 0, why: "the price is negative".into() }, "invalid_line"),
            (RulesError::EmptyReceipt, "empty_receipt"),
            (RulesError::Overflow, "amount_overflow"),
            (RulesError::RedeemAboveLimit { requested: 2, max: 1, bound_by: "redeem_cap" }, "redeem_limit"),
            (RulesError::NegativeRedeem(-1), "negative_redeem"),
            (
                RulesError::PromoRejected { code: "X".into(), reason: "unknown", message: "no such code".into() },
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
