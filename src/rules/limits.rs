//! The redemption limit of CONTRACTS.md §calculation, step 2, and the program numbers it divides by.
//!
//! Kept apart from `calculate` because the limit is also the cashier's explanation: every bound
//! that holds the quote down becomes a `LimitApplied` with a stable code and a sentence.

use super::{CustomerPoints, LimitApplied, Money, Program, ProgramKind, RulesError, Settings};

/// The program's numbers made safe to divide by and multiply with.
pub(super) struct Rates {
    pub point_value: i64,
    pub accrual: i64,
    pub discount: i64,
    pub cap: i64,
    pub min_payable: i64,
}

impl Rates {
    pub fn new(program: &Program, settings: &Settings) -> Rates {
        Rates {
            point_value: program.point_value.max(1),
            accrual: settings.accrual_percent.clamp(0, 100),
            discount: settings.discount_percent.clamp(0, 100),
            cap: settings.redeem_cap_percent.clamp(0, 100),
            min_payable: program.min_payable.0.max(0),
        }
    }
}

/// The most points this receipt may take and the limits that made it so, in a fixed order.
pub(super) struct RedeemLimit {
    pub max: i64,
    pub applied: Vec<LimitApplied>,
}

impl RedeemLimit {
    pub fn bound_by(&self) -> &'static str {
        self.applied.first().map_or("available_points", |limit| limit.code)
    }
}

pub(super) fn redeem_limit(
    customer: Option<CustomerPoints>,
    settings: &Settings,
    rates: &Rates,
    eligible: i64,
    all_excluded: bool,
) -> Result<RedeemLimit, RulesError> {
    let only =
        |code: &'static str, message: String| RedeemLimit { max: 0, applied: vec![LimitApplied { code, message }] };
    let Some(customer) = customer else {
        return Ok(only(
            "no_customer",
            "No customer is attached, so points are neither redeemed nor earned.".to_string(),
        ));
    };
    if settings.kind == ProgramKind::Discount {
        let message = format!("The customer's group gets {}% off instead of points.", rates.discount);
        return Ok(only("discount_group", message));
    }
    let point_value = i128::from(rates.point_value);
    let by_available = customer.available.max(0);
    let by_cap = i64::try_from(i128::from(eligible) * i128::from(rates.cap) / (100 * point_value))
        .map_err(|_| RulesError::Overflow)?;
    let by_min_payable = i64::try_from((i128::from(eligible) - i128::from(rates.min_payable)).div_euclid(point_value))
        .map_err(|_| RulesError::Overflow)?
        .max(0);
    let max = by_available.min(by_cap).min(by_min_payable);

    let mut applied = Vec::new();
    if all_excluded {
        let message = "Every line is excluded from discounts and points, so no points can be redeemed.";
        applied.push(LimitApplied { code: "excluded_lines", message: message.to_string() });
    }
    if by_available == max {
        let message = format!("The customer has {by_available} points available to spend.");
        applied.push(LimitApplied { code: "available_points", message });
    }
    if by_cap == max {
        let message = format!("Points may pay at most {}% of the eligible amount: {by_cap} points here.", rates.cap);
        applied.push(LimitApplied { code: "redeem_cap", message });
    }
    if by_min_payable == max {
        let message = format!(
            "At least {} must be paid in money, so at most {by_min_payable} points can be redeemed.",
            Money(rates.min_payable)
        );
        applied.push(LimitApplied { code: "min_payable", message });
    }
    Ok(RedeemLimit { max, applied })
}
