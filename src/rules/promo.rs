//! Promo code validity: window, minimum receipt, usage limits.
//!
//! Checking is separate from pricing so the till can validate a code as the cashier types it,
//! and so the cloud can re-check the same rule when an offline use syncs.

use super::{Money, PromoCode, PromoKind, RulesError, Timestamp};

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
///
/// The checks run in a fixed order (window, minimum receipt, total uses, the customer's uses) so
/// the cashier always hears the same reason for the same situation.
pub fn check_promo(
    promo: &PromoCode,
    subtotal: Money,
    eligible: Money,
    usage: PromoUsage,
    now: Timestamp,
) -> Result<Money, RulesError> {
    let reject = |reason: &'static str, message: String, values: Vec<(&'static str, String)>| {
        RulesError::PromoRejected { code: promo.code.clone(), reason, message, values }
    };
    if let Some(from) = promo.valid_from.filter(|&from| now < from) {
        let from = describe_time(from);
        return Err(reject("not_yet_valid", format!("the code is valid only from {from}."), vec![("from", from)]));
    }
    if let Some(until) = promo.valid_until.filter(|&until| now > until) {
        let until = describe_time(until);
        return Err(reject("expired", format!("the code expired on {until}."), vec![("until", until)]));
    }
    if subtotal < promo.min_receipt {
        return Err(reject(
            "min_receipt",
            format!("the code needs a receipt of at least {}; this one is {subtotal}.", promo.min_receipt),
            vec![("min_receipt", promo.min_receipt.to_string()), ("subtotal", subtotal.to_string())],
        ));
    }
    if promo.usage_limit.is_some_and(|limit| usage.total >= limit) {
        return Err(reject(
            "used_up",
            "the code has already been used as many times as allowed.".to_string(),
            Vec::new(),
        ));
    }
    if promo.per_customer_limit.is_some_and(|limit| usage.by_customer >= limit) {
        return Err(reject(
            "customer_limit",
            "this customer has already used the code as often as allowed.".to_string(),
            Vec::new(),
        ));
    }
    let eligible = eligible.0.max(0);
    let discount = match promo.kind {
        // i128: eligible × value cannot overflow, and the clamp keeps an unvalidated 150 % sane.
        PromoKind::Percent => {
            let percent = i128::from(promo.value.clamp(0, 100));
            i64::try_from(i128::from(eligible) * percent / 100).map_err(|_| RulesError::Overflow)?
        }
        PromoKind::Amount => promo.value.clamp(0, eligible),
    };
    Ok(Money(discount.clamp(0, eligible)))
}

/// A UTC date and time for the cashier, e.g. `2025-03-01 00:00 UTC`; the raw seconds if the
/// timestamp is outside what the calendar can show.
fn describe_time(at: Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|moment| moment.format(format).ok())
        .unwrap_or_else(|| format!("{at} (Unix time)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(kind: PromoKind, value: i64) -> PromoCode {
        PromoCode {
            code: "SPRING".to_string(),
            kind,
            value,
            min_receipt: Money(0),
            valid_from: None,
            valid_until: None,
            usage_limit: None,
            per_customer_limit: None,
        }
    }

    fn reason(result: Result<Money, RulesError>) -> &'static str {
        match result {
            Err(RulesError::PromoRejected { reason, .. }) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    const UNUSED: PromoUsage = PromoUsage { total: 0, by_customer: 0 };

    #[test]
    fn percent_is_floored_and_amount_is_capped() {
        let ten = code(PromoKind::Percent, 10);
        assert_eq!(check_promo(&ten, Money(10_000), Money(9_999), UNUSED, 0), Ok(Money(999)));
        let amount = code(PromoKind::Amount, 5_000);
        assert_eq!(check_promo(&amount, Money(10_000), Money(9_000), UNUSED, 0), Ok(Money(5_000)));
        assert_eq!(check_promo(&amount, Money(10_000), Money(3_000), UNUSED, 0), Ok(Money(3_000)));
        assert_eq!(check_promo(&amount, Money(10_000), Money(0), UNUSED, 0), Ok(Money(0)));
    }

    #[test]
    fn unvalidated_values_never_give_more_than_eligible() {
        let too_much = code(PromoKind::Percent, 250);
        assert_eq!(check_promo(&too_much, Money(100), Money(100), UNUSED, 0), Ok(Money(100)));
        let negative = code(PromoKind::Amount, -5);
        assert_eq!(check_promo(&negative, Money(100), Money(100), UNUSED, 0), Ok(Money(0)));
        let huge = code(PromoKind::Percent, 100);
        assert_eq!(check_promo(&huge, Money(i64::MAX), Money(i64::MAX), UNUSED, 0), Ok(Money(i64::MAX)));
    }

    #[test]
    fn the_window_is_inclusive() {
        let windowed = PromoCode { valid_from: Some(100), valid_until: Some(200), ..code(PromoKind::Amount, 1) };
        assert_eq!(reason(check_promo(&windowed, Money(10), Money(10), UNUSED, 99)), "not_yet_valid");
        assert_eq!(check_promo(&windowed, Money(10), Money(10), UNUSED, 100), Ok(Money(1)));
        assert_eq!(check_promo(&windowed, Money(10), Money(10), UNUSED, 200), Ok(Money(1)));
        assert_eq!(reason(check_promo(&windowed, Money(10), Money(10), UNUSED, 201)), "expired");
    }

    #[test]
    fn minimum_receipt_uses_the_subtotal() {
        let min = PromoCode { min_receipt: Money(50_000), ..code(PromoKind::Percent, 10) };
        assert_eq!(reason(check_promo(&min, Money(49_999), Money(49_999), UNUSED, 0)), "min_receipt");
        // The subtotal counts excluded lines too; the discount only applies to eligible ones.
        assert_eq!(check_promo(&min, Money(50_000), Money(20_000), UNUSED, 0), Ok(Money(2_000)));
    }

    #[test]
    fn usage_limits() {
        let once = PromoCode { usage_limit: Some(1), ..code(PromoKind::Amount, 100) };
        assert_eq!(check_promo(&once, Money(500), Money(500), UNUSED, 0), Ok(Money(100)));
        let used = PromoUsage { total: 1, by_customer: 0 };
        assert_eq!(reason(check_promo(&once, Money(500), Money(500), used, 0)), "used_up");

        let per_customer = PromoCode { per_customer_limit: Some(2), ..code(PromoKind::Amount, 100) };
        let twice = PromoUsage { total: 40, by_customer: 2 };
        assert_eq!(reason(check_promo(&per_customer, Money(500), Money(500), twice, 0)), "customer_limit");
        let once_before = PromoUsage { total: 40, by_customer: 1 };
        assert_eq!(check_promo(&per_customer, Money(500), Money(500), once_before, 0), Ok(Money(100)));
    }

    #[test]
    fn messages_are_sentences_with_dates() {
        let windowed = PromoCode { valid_until: Some(1_740_787_200), ..code(PromoKind::Amount, 1) };
        let error = check_promo(&windowed, Money(10), Money(10), UNUSED, 1_740_787_201).expect_err("expired");
        assert_eq!(
            error.to_string(),
            "promo code \"SPRING\" cannot be applied: the code expired on 2025-03-01 00:00 UTC."
        );
        assert_eq!(error.code(), "promo_rejected");
    }
}
