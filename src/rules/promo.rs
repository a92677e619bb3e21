//! Promo code validity: window, minimum receipt, usage limits.

use super::{Money, PromoCode, RulesError, Timestamp};

/// How often a code has been used so far, as the store counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromoUsage {
    pub total: i64,
    /// Uses by the customer on this receipt (0 with no customer).
    pub by_customer: i64,
}

/// Checks that `promo` may be applied to a receipt with this `subtotal` at `now`, and returns
/// the discount it gives on `eligible` (the sum of non-excluded line amounts), never more than
/// `eligible`. The reasons are the `PromoRejected.reason` codes.
pub fn check_promo(
    promo: &PromoCode,
    subtotal: Money,
    eligible: Money,
    usage: PromoUsage,
    now: Timestamp,
) -> Result<Money, RulesError> {
    todo!("{promo:?}{subtotal:?}{eligible:?}{usage:?}{now}")
}
