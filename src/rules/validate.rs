//! Checking a program for contradictions before it prices anything.
//!
//! A store edits `program.toml` by hand, so every check answers one sentence naming the field
//! at fault. Pricing never depends on these checks having run: `calculate` clamps what it uses.

use super::campaign::{Campaign, Effect};
use super::local_time::{parse_date, parse_day, parse_time, time_zone};
use super::program::same_text;
use super::{Program, PromoKind, Tier};

/// The longest activation or expiry window a program may set (about a hundred years): beyond
/// it, `now + days × DAY` could overflow in the callers that turn days into timestamps.
const MAX_DAYS: i64 = 36_500;

/// What is wrong with a program: one sentence naming the field at fault, and the same in
/// parts (the field's path, what kind of problem, the values the sentence names) so that an
/// editor can mark the field and a reader of another language gets the sentence in theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramProblem {
    /// The field as the program's JSON names it: `accrual_percent`, `tiers[1].name`,
    /// `promo_codes[0].usage_limit`.
    pub field: String,
    /// `percent`, `at_least_one`, `negative`, `days`, `tier_unnamed`, `tier_negative`,
    /// `tier_unsorted`, `tier_twice`, `promo_empty`, `promo_twice`, `promo_percent`,
    /// `promo_amount`, `promo_negative_min`, `promo_dates`, `promo_limit`, `time_zone`,
    /// `campaigns_too_many`, `campaign_id`, `campaign_twice`, `campaign_effect`,
    /// `campaign_multiplier`, `campaign_percent`, `campaign_at_least_one`, `campaign_stamp_condition`,
    /// `campaign_day`, `campaign_time`, `campaign_schedule`, `campaign_date`, `campaign_dates`,
    /// `campaign_negative`.
    pub problem: &'static str,
    /// The values the sentence names: `setting` (the field's last part), `value`, `tier`,
    /// `code`, `max`, … (amounts as `1234.50`).
    pub values: Vec<(&'static str, String)>,
    message: String,
}

impl ProgramProblem {
    fn new(field: String, problem: &'static str, message: String) -> ProgramProblem {
        let setting = field.rsplit('.').next().unwrap_or(&field).to_owned();
        let values = if setting.contains('[') { Vec::new() } else { vec![("setting", setting)] };
        ProgramProblem { field, problem, values, message }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> ProgramProblem {
        self.values.push((name, value.to_string()));
        self
    }

    /// The English sentence.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ProgramProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProgramProblem {}

impl Program {
    /// Checks the program for contradictions (percent outside 0..=100, point_value < 1,
    /// negative days, duplicate promo codes, unsorted or duplicate tiers) and says which.
    ///
    /// The answer is one sentence naming the offending field, for the person editing the file,
    /// with its parts beside it ([`ProgramProblem`]).
    pub fn validate(&self) -> Result<(), ProgramProblem> {
        check_percent("accrual_percent", self.accrual_percent)?;
        check_percent("discount_percent", self.discount_percent)?;
        check_percent("redeem_cap_percent", self.redeem_cap_percent)?;
        if self.point_value < 1 {
            let message = format!("point_value must be at least 1, not {}.", self.point_value);
            return Err(
                ProgramProblem::new("point_value".into(), "at_least_one", message).with("value", self.point_value)
            );
        }
        check_not_negative("min_payable", self.min_payable.0)?;
        check_days("activation_days", self.activation_days)?;
        check_days("expiry_days", self.expiry_days)?;
        check_not_negative("welcome_points", self.welcome_points)?;
        check_not_negative("offline_redeem_limit", self.offline_redeem_limit)?;
        check_not_negative("offline_max_redemptions", self.offline_max_redemptions)?;
        check_not_negative("offline_max_age_hours", self.offline_max_age_hours)?;
        self.validate_tiers()?;
        self.validate_promo_codes()?;
        if time_zone(&self.time_zone).is_none() {
            let message =
                format!("time_zone must be an IANA time zone name such as Europe/Moscow, not {:?}.", self.time_zone);
            return Err(ProgramProblem::new("time_zone".into(), "time_zone", message).with("value", &self.time_zone));
        }
        self.validate_campaigns()?;
        self.validate_lifecycle()
    }

    fn validate_campaigns(&self) -> Result<(), ProgramProblem> {
        if self.campaigns.len() > MAX_CAMPAIGNS {
            let message =
                format!("campaigns: a program may have at most {MAX_CAMPAIGNS}, not {}.", self.campaigns.len());
            return Err(ProgramProblem::new("campaigns".into(), "campaigns_too_many", message)
                .with("max", MAX_CAMPAIGNS)
                .with("count", self.campaigns.len()));
        }
        for (index, campaign) in self.campaigns.iter().enumerate() {
            validate_campaign(index, campaign, &self.campaigns)?;
        }
        Ok(())
    }

    fn validate_lifecycle(&self) -> Result<(), ProgramProblem> {
        if let Some(birthday) = &self.birthday {
            check_not_negative("birthday.points", birthday.points)?;
            // Each side of the window at most 180 days: a window then never reaches the next
            // year's birthday, so a moment is in one birthday's window at most.
            check_days_up_to("birthday.days_before", birthday.days_before, super::MAX_BIRTHDAY_WINDOW_DAYS)?;
            check_days_up_to("birthday.days_after", birthday.days_after, super::MAX_BIRTHDAY_WINDOW_DAYS)?;
            check_days("birthday.expiry_days", birthday.expiry_days)?;
        }
        if let Some(referral) = &self.referral {
            check_not_negative("referral.referrer_points", referral.referrer_points)?;
            check_not_negative("referral.friend_points", referral.friend_points)?;
            check_not_negative("referral.min_receipt", referral.min_receipt.0)?;
            if let Some(max) = referral.max_per_referrer {
                if max < 1 {
                    let message =
                        format!("referral.max_per_referrer must be at least 1, not {max}; leave it out for no limit.");
                    return Err(ProgramProblem::new("referral.max_per_referrer".into(), "at_least_one", message)
                        .with("value", max));
                }
            }
        }
        Ok(())
    }

    fn validate_tiers(&self) -> Result<(), ProgramProblem> {
        let mut previous: Option<&Tier> = None;
        for (index, tier) in self.tiers.iter().enumerate() {
            let name = &tier.name;
            let at = |field: &str| format!("tiers[{index}].{field}");
            if name.trim().is_empty() {
                return Err(ProgramProblem::new(at("name"), "tier_unnamed", "tiers: every tier needs a name.".into()));
            }
            if tier.threshold.0 < 0 {
                let message = format!("tiers: tier {name:?} has a negative threshold.");
                return Err(ProgramProblem::new(at("threshold"), "tier_negative", message).with("tier", name));
            }
            if let Some(previous) = previous {
                if tier.threshold <= previous.threshold {
                    let message = format!(
                        "tiers must be sorted by threshold, each above the one before: tier {name:?} ({}) follows tier {:?} ({}).",
                        tier.threshold.0, previous.name, previous.threshold.0
                    );
                    return Err(ProgramProblem::new(at("threshold"), "tier_unsorted", message)
                        .with("tier", name)
                        .with("threshold", tier.threshold)
                        .with("previous", &previous.name)
                        .with("previous_threshold", previous.threshold));
                }
            }
            if self.tiers.iter().filter(|other| same_text(&other.name, name)).count() > 1 {
                let message = format!("tiers: the name {name:?} is used twice.");
                return Err(ProgramProblem::new(at("name"), "tier_twice", message).with("tier", name));
            }
            let overrides = [
                ("accrual_percent", tier.accrual_percent),
                ("discount_percent", tier.discount_percent),
                ("redeem_cap_percent", tier.redeem_cap_percent),
            ];
            for (field, value) in overrides {
                if let Some(value) = value {
                    check_percent(field, value).map_err(|e| {
                        let message = format!("tiers: tier {name:?}: {e}");
                        ProgramProblem { field: at(field), message, ..e }.with("tier", name)
                    })?;
                }
            }
            previous = Some(tier);
        }
        Ok(())
    }

    fn validate_promo_codes(&self) -> Result<(), ProgramProblem> {
        for (index, promo) in self.promo_codes.iter().enumerate() {
            let at = |field: &str| format!("promo_codes[{index}].{field}");
            let code = promo.code.trim();
            if code.is_empty() {
                let message = "promo_codes: every promo code needs a non-empty code.".to_string();
                return Err(ProgramProblem::new(at("code"), "promo_empty", message));
            }
            let problem =
                |field: &str, problem, message| ProgramProblem::new(at(field), problem, message).with("code", code);
            let copies = self.promo_codes.iter().filter(|other| same_text(other.code.trim(), code)).count();
            if copies > 1 {
                let message = format!("promo_codes: the code {code:?} is defined {copies} times.");
                return Err(problem("code", "promo_twice", message).with("copies", copies));
            }
            match promo.kind {
                PromoKind::Percent if !(1..=100).contains(&promo.value) => {
                    let message = format!(
                        "promo_codes: code {code:?} is a percent code, so its value must be between 1 and 100, not {}.",
                        promo.value
                    );
                    return Err(problem("value", "promo_percent", message).with("value", promo.value));
                }
                PromoKind::Amount if promo.value < 1 => {
                    let message = format!(
                        "promo_codes: code {code:?} is an amount code, so its value must be at least 1, not {}.",
                        promo.value
                    );
                    return Err(problem("value", "promo_amount", message).with("value", promo.value));
                }
                _ => {}
            }
            if promo.min_receipt.0 < 0 {
                let message = format!("promo_codes: code {code:?} has a negative min_receipt.");
                return Err(problem("min_receipt", "promo_negative_min", message));
            }
            if let (Some(from), Some(until)) = (promo.valid_from, promo.valid_until) {
                if from > until {
                    let message = format!("promo_codes: code {code:?} has valid_from after valid_until.");
                    return Err(problem("valid_from", "promo_dates", message));
                }
            }
            for (field, limit) in [("usage_limit", promo.usage_limit), ("per_customer_limit", promo.per_customer_limit)]
            {
                if limit.is_some_and(|limit| limit < 1) {
                    let message = format!("promo_codes: code {code:?} has {field} below 1; leave it out for no limit.");
                    return Err(problem(field, "promo_limit", message));
                }
            }
        }
        Ok(())
    }
}

/// The most campaigns one program may carry: evaluation is linear in them per line, and the
/// calculate budget (20 lines, 50 campaigns, p99 ≤ 1 ms) leaves room for this many.
const MAX_CAMPAIGNS: usize = 500;
/// The largest points multiplier: beyond it a typo (`20` for `2`) is likelier than a campaign.
const MAX_MULTIPLIER: i64 = 100;
/// The longest campaign id, in characters.
const MAX_CAMPAIGN_ID: usize = 64;

fn validate_campaign(index: usize, campaign: &Campaign, all: &[Campaign]) -> Result<(), ProgramProblem> {
    let at = |field: &str| format!("campaigns[{index}].{field}");
    let id = campaign.id.trim();
    if id.is_empty() || campaign.id.chars().count() > MAX_CAMPAIGN_ID || campaign.id != id {
        let message = format!(
            "campaigns: every campaign needs an id of 1 to {MAX_CAMPAIGN_ID} characters without surrounding spaces; campaign {index} has {:?}.",
            campaign.id
        );
        return Err(ProgramProblem::new(at("id"), "campaign_id", message).with("max", MAX_CAMPAIGN_ID));
    }
    let problem = |field: &str, problem, message: String| {
        ProgramProblem::new(at(field), problem, format!("campaigns: campaign {id:?}: {message}")).with("campaign", id)
    };
    if all.iter().filter(|other| same_text(&other.id, id)).count() > 1 {
        return Err(problem("id", "campaign_twice", "the id is used by more than one campaign.".into()));
    }
    let effects = campaign.effect.count();
    let effect = match campaign.effect.effect() {
        Some(effect) => effect,
        None => {
            let message = format!(
                "effect must set exactly one of points_multiplier, extra_points, discount_percent, discount_amount, stamp_card; it sets {effects}."
            );
            return Err(problem("effect", "campaign_effect", message).with("count", effects));
        }
    };
    match effect {
        Effect::PointsMultiplier(m) if !(1..=MAX_MULTIPLIER).contains(&m) => {
            let message = format!("points_multiplier must be a whole number from 1 to {MAX_MULTIPLIER}, not {m}.");
            return Err(problem("effect.points_multiplier", "campaign_multiplier", message)
                .with("value", m)
                .with("max", MAX_MULTIPLIER));
        }
        Effect::ExtraPoints(extra) if extra.points < 1 => {
            let message = format!("extra_points.points must be at least 1, not {}.", extra.points);
            return Err(
                problem("effect.extra_points.points", "campaign_at_least_one", message).with("value", extra.points)
            );
        }
        Effect::DiscountPercent(p) if !(1..=100).contains(&p) => {
            let message = format!("discount_percent must be between 1 and 100, not {p}.");
            return Err(problem("effect.discount_percent", "campaign_percent", message).with("value", p));
        }
        Effect::DiscountAmount(amount) if amount.0 < 1 => {
            let message = format!("discount_amount must be at least 1 minor unit, not {}.", amount.0);
            return Err(problem("effect.discount_amount", "campaign_at_least_one", message).with("value", amount.0));
        }
        Effect::StampCard(card) if card.stamps_for_reward < 1 => {
            let message = format!("stamp_card.stamps_for_reward must be at least 1, not {}.", card.stamps_for_reward);
            return Err(problem("effect.stamp_card.stamps_for_reward", "campaign_at_least_one", message)
                .with("value", card.stamps_for_reward));
        }
        Effect::StampCard(_) if campaign.conditions.categories.is_empty() && campaign.conditions.skus.is_empty() => {
            let message = "a stamp card needs conditions.categories or conditions.skus naming what earns stamps.";
            return Err(problem("conditions", "campaign_stamp_condition", message.into()));
        }
        _ => {}
    }
    let numbers = [
        ("priority", Some(campaign.priority)),
        ("conditions.min_receipt", Some(campaign.conditions.min_receipt.0)),
        ("budget_points", campaign.budget_points),
        ("till_allowance_points", campaign.till_allowance_points),
    ];
    for (field, value) in numbers {
        if let Some(value) = value.filter(|&v| v < 0) {
            let message = format!("{field} must not be negative, not {value}.");
            return Err(problem(field, "campaign_negative", message).with("value", value));
        }
    }
    if let Some(limit) = &campaign.limit_per_customer {
        if limit.count < 1 {
            let message = format!(
                "limit_per_customer.count must be at least 1, not {}; leave the limit out for none.",
                limit.count
            );
            return Err(
                problem("limit_per_customer.count", "campaign_at_least_one", message).with("value", limit.count)
            );
        }
    }
    if let Some(schedule) = &campaign.schedule {
        for (day_index, day) in schedule.days.iter().enumerate() {
            if parse_day(day).is_none() {
                let message =
                    format!("schedule.days: {day:?} is not a day; write mon, tue, wed, thu, fri, sat or sun.");
                return Err(problem(&format!("schedule.days[{day_index}]"), "campaign_day", message).with("value", day));
            }
        }
        let from = match &schedule.from {
            Some(text) => Some(parse_time(text, false).ok_or_else(|| {
                problem(
                    "schedule.from",
                    "campaign_time",
                    format!("schedule.from must be a time like 16:00, not {text:?}."),
                )
                .with("value", text)
            })?),
            None => None,
        };
        let to = match &schedule.to {
            Some(text) => Some(parse_time(text, true).ok_or_else(|| {
                problem("schedule.to", "campaign_time", format!("schedule.to must be a time like 18:00, not {text:?}."))
                    .with("value", text)
            })?),
            None => None,
        };
        if from.unwrap_or(0) >= to.unwrap_or(24 * 60) {
            let (from_text, to_text) =
                (schedule.from.as_deref().unwrap_or("00:00"), schedule.to.as_deref().unwrap_or("24:00"));
            let message = format!(
                "schedule.from ({from_text}) must be before schedule.to ({to_text}); a window over midnight is two campaigns."
            );
            return Err(problem("schedule.to", "campaign_schedule", message)
                .with("from", from_text)
                .with("to", to_text));
        }
    }
    let mut dates = [None, None];
    for (slot, (field, text)) in
        [("valid_from", &campaign.valid_from), ("valid_until", &campaign.valid_until)].into_iter().enumerate()
    {
        if let Some(text) = text {
            let date = parse_date(text).ok_or_else(|| {
                problem(field, "campaign_date", format!("{field} must be a date like 2026-12-31, not {text:?}."))
                    .with("value", text)
            })?;
            dates[slot] = Some(date);
        }
    }
    if let [Some(from), Some(until)] = dates {
        if until < from {
            let message = "valid_until is before valid_from.".to_string();
            return Err(problem("valid_until", "campaign_dates", message));
        }
    }
    Ok(())
}

fn check_percent(field: &str, value: i64) -> Result<(), ProgramProblem> {
    if (0..=100).contains(&value) {
        Ok(())
    } else {
        let message = format!("{field} must be between 0 and 100, not {value}.");
        Err(ProgramProblem::new(field.into(), "percent", message).with("value", value))
    }
}

fn check_not_negative(field: &str, value: i64) -> Result<(), ProgramProblem> {
    if value >= 0 {
        Ok(())
    } else {
        let message = format!("{field} must not be negative, not {value}.");
        Err(ProgramProblem::new(field.into(), "negative", message).with("value", value))
    }
}

fn check_days(field: &str, value: i64) -> Result<(), ProgramProblem> {
    check_days_up_to(field, value, MAX_DAYS)
}

fn check_days_up_to(field: &str, value: i64, max: i64) -> Result<(), ProgramProblem> {
    if (0..=max).contains(&value) {
        Ok(())
    } else {
        let message = format!("{field} must be between 0 and {max} days, not {value}.");
        Err(ProgramProblem::new(field.into(), "days", message).with("value", value).with("max", max))
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
            let problem = program.validate().expect_err(needle);
            assert!(problem.message().contains(needle), "{problem:?} should name {needle}");
        }
    }
}
