//! Checking a program for contradictions before it prices anything.
//!
//! A store edits `program.toml` by hand, so every check answers one sentence naming the field
//! at fault. Pricing never depends on these checks having run: `calculate` clamps what it uses.

use super::program::same_text;
use super::{Program, PromoKind, Tier};

/// The longest activation or expiry window a program may set (about a hundred years): beyond
/// it, `now + days × DAY` could overflow in the callers that turn days into timestamps.
const MAX_DAYS: i64 = 36_500;

impl Program {
    /// Checks the program for contradictions (percent outside 0..=100, point_value < 1,
    /// negative days, duplicate promo codes, unsorted or duplicate tiers) and says which.
    ///
    /// The answer is one sentence naming the offending field, for the person editing the file.
    pub fn validate(&self) -> Result<(), String> {
        check_percent("accrual_percent", self.accrual_percent)?;
        check_percent("discount_percent", self.discount_percent)?;
        check_percent("redeem_cap_percent", self.redeem_cap_percent)?;
        if self.point_value < 1 {
            return Err(format!("point_value must be at least 1, not {}.", self.point_value));
        }
        check_not_negative("min_payable", self.min_payable.0)?;
        check_days("activation_days", self.activation_days)?;
        check_days("expiry_days", self.expiry_days)?;
        check_not_negative("welcome_points", self.welcome_points)?;
        check_not_negative("offline_redeem_limit", self.offline_redeem_limit)?;
        check_not_negative("offline_max_redemptions", self.offline_max_redemptions)?;
        check_not_negative("offline_max_age_hours", self.offline_max_age_hours)?;
        self.validate_tiers()?;
        self.validate_promo_codes()
    }

    fn validate_tiers(&self) -> Result<(), String> {
        let mut previous: Option<&Tier> = None;
        for tier in &self.tiers {
            let name = &tier.name;
            if name.trim().is_empty() {
                return Err("tiers: every tier needs a name.".to_string());
            }
            if tier.threshold.0 < 0 {
                return Err(format!("tiers: tier {name:?} has a negative threshold."));
            }
            if let Some(previous) = previous {
                if tier.threshold <= previous.threshold {
                    return Err(format!(
                        "tiers must be sorted by threshold, each above the one before: tier {name:?} ({}) follows tier {:?} ({}).",
                        tier.threshold.0, previous.name, previous.threshold.0
                    ));
                }
            }
            if self.tiers.iter().filter(|other| same_text(&other.name, name)).count() > 1 {
                return Err(format!("tiers: the name {name:?} is used twice."));
            }
            let overrides = [
                ("accrual_percent", tier.accrual_percent),
                ("discount_percent", tier.discount_percent),
                ("redeem_cap_percent", tier.redeem_cap_percent),
            ];
            for (field, value) in overrides {
                if let Some(value) = value {
                    check_percent(field, value).map_err(|e| format!("tiers: tier {name:?}: {e}"))?;
                }
            }
            previous = Some(tier);
        }
        Ok(())
    }

    fn validate_promo_codes(&self) -> Result<(), String> {
        for promo in &self.promo_codes {
            let code = promo.code.trim();
            if code.is_empty() {
                return Err("promo_codes: every promo code needs a non-empty code.".to_string());
            }
            let copies = self.promo_codes.iter().filter(|other| same_text(other.code.trim(), code)).count();
            if copies > 1 {
                return Err(format!("promo_codes: the code {code:?} is defined {copies} times."));
            }
            match promo.kind {
                PromoKind::Percent if !(1..=100).contains(&promo.value) => {
                    return Err(format!(
                        "promo_codes: code {code:?} is a percent code, so its value must be between 1 and 100, not {}.",
                        promo.value
                    ));
                }
                PromoKind::Amount if promo.value < 1 => {
                    return Err(format!(
                        "promo_codes: code {code:?} is an amount code, so its value must be at least 1, not {}.",
                        promo.value
                    ));
                }
                _ => {}
            }
            if promo.min_receipt.0 < 0 {
                return Err(format!("promo_codes: code {code:?} has a negative min_receipt."));
            }
            if let (Some(from), Some(until)) = (promo.valid_from, promo.valid_until) {
                if from > until {
                    return Err(format!("promo_codes: code {code:?} has valid_from after valid_until."));
                }
            }
            for (field, limit) in [("usage_limit", promo.usage_limit), ("per_customer_limit", promo.per_customer_limit)]
            {
                if limit.is_some_and(|limit| limit < 1) {
                    return Err(format!("promo_codes: code {code:?} has {field} below 1; leave it out for no limit."));
                }
            }
        }
        Ok(())
    }
}

fn check_percent(field: &str, value: i64) -> Result<(), String> {
    if (0..=100).contains(&value) {
        Ok(())
    } else {
        Err(format!("{field} must be between 0 and 100, not {value}."))
    }
}

fn check_not_negative(field: &str, value: i64) -> Result<(), String> {
    if value >= 0 {
        Ok(())
    } else {
        Err(format!("{field} must not be negative, not {value}."))
    }
}

fn check_days(field: &str, value: i64) -> Result<(), String> {
    if (0..=MAX_DAYS).contains(&value) {
        Ok(())
    } else {
        Err(format!("{field} must be between 0 and {MAX_DAYS} days, not {value}."))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Money, PromoCode};
    use super::*;

    fn tier(name: &str, threshold: i64) -> Tier {
        Tier {
            name: name.to_string(),
            threshold: Money(threshold),
            kind: None,
            accrual_percent: None,
            discount_percent: None,
            redeem_cap_percent: None,
        }
    }

    fn promo(code: &str) -> PromoCode {
        PromoCode {
            code: code.to_string(),
            kind: PromoKind::Percent,
            value: 10,
            min_receipt: Money(0),
            valid_from: None,
            valid_until: None,
            usage_limit: None,
            per_customer_limit: None,
        }
    }

    #[test]
    fn validate_names_the_field() {
        let cases: Vec<(Program, &str)> = vec![
            (Program { accrual_percent: 101, ..Program::default() }, "accrual_percent"),
            (Program { discount_percent: -1, ..Program::default() }, "discount_percent"),
            (Program { redeem_cap_percent: 200, ..Program::default() }, "redeem_cap_percent"),
            (Program { point_value: 0, ..Program::default() }, "point_value"),
            (Program { min_payable: Money(-1), ..Program::default() }, "min_payable"),
            (Program { activation_days: -1, ..Program::default() }, "activation_days"),
            (Program { expiry_days: 100_000, ..Program::default() }, "expiry_days"),
            (Program { welcome_points: -5, ..Program::default() }, "welcome_points"),
            (Program { tiers: vec![tier("gold", 100), tier("silver", 50)], ..Program::default() }, "sorted"),
            (Program { tiers: vec![tier("gold", 100), tier("plat", 100)], ..Program::default() }, "sorted"),
            (Program { tiers: vec![tier("gold", 100), tier("GOLD", 200)], ..Program::default() }, "used twice"),
            (Program { promo_codes: vec![promo("SALE"), promo(" sale ")], ..Program::default() }, "SALE"),
            (Program { promo_codes: vec![promo("  ")], ..Program::default() }, "non-empty"),
            (Program { promo_codes: vec![PromoCode { value: 0, ..promo("X") }], ..Program::default() }, "value"),
            (
                Program {
                    promo_codes: vec![PromoCode { valid_from: Some(10), valid_until: Some(5), ..promo("X") }],
                    ..Program::default()
                },
                "valid_from",
            ),
            (
                Program { promo_codes: vec![PromoCode { usage_limit: Some(0), ..promo("X") }], ..Program::default() },
                "usage_limit",
            ),
        ];
        for (program, needle) in cases {
            let message = program.validate().expect_err(needle);
            assert!(message.contains(needle), "{message:?} should name {needle}");
        }
    }
}
