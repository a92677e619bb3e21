//! The campaign contract (CONTRACTS.md §campaigns): what a marketing team writes into the program
//! — "double points on coffee", "+50 points per bag of beans", "every 6th latte free" — and the
//! program-level lifecycle rewards (`birthday`, `referral`).
//!
//! This file is the model only: the types serde reads from `program.toml` and the program's JSON,
//! with every field but `id` and `effect` optional. Checking them is `validate.rs`; evaluating
//! them against a receipt is `campaigns.rs`. Dates, days and times are kept as the text the
//! store wrote, so that a bad one is a validation problem naming its field (a 422 the editor can
//! point at) rather than a parse error, and so that a till that cannot read one simply skips the
//! campaign instead of refusing the whole program.

use super::Money;
use serde::{Deserialize, Serialize};

/// One campaign. Unknown fields are refused in files and admin requests (a typo must not
/// silently widen a campaign); a till reading a newer cloud's program drops them instead
/// (`Program::from_cloud_json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Stable and unique in the program: receipts, budgets and stamp counts refer to it.
    pub id: String,
    /// What the cashier and the receipt show; the id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Higher first. Decides which `exclusive` campaign wins and the order discounts apply in;
    /// ties break by `id`, so every till and the cloud agree.
    #[serde(default)]
    pub priority: i64,
    /// First and last day (`YYYY-MM-DD`, inclusive, in the program's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub conditions: Conditions,
    pub effect: EffectSpec,
    #[serde(default)]
    pub stacking: Stacking,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_per_customer: Option<CustomerLimit>,
    /// The campaign's whole budget in points, counted by the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_points: Option<i64>,
    /// What one till may give while it cannot confirm the budget with the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub till_allowance_points: Option<i64>,
}

/// When in the week a campaign runs, in the program's local time. An absent part is no bound:
/// no `days` = every day, no `from` = from midnight, no `to` = until midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `mon` … `sun`.
    #[serde(default)]
    pub days: Vec<String>,
    /// `HH:MM`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `HH:MM`, exclusive; after `from` (a window over midnight is two campaigns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// What a receipt must have for the campaign to apply. Empty lists are no restriction.
/// `categories` and `skus` pick the campaign's lines (a line matches either list); the others
/// are about the whole receipt and the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    pub categories: Vec<String>,
    pub skus: Vec<String>,
    /// Tier names (`tiers[].name`); `base` is not a tier, so a list here needs a tier.
    pub tiers: Vec<String>,
    /// The customer must carry one of these tags.
    pub tags: Vec<String>,
    /// The receipt must be rung up in one of these stores.
    pub stores: Vec<String>,
    /// Minimum receipt subtotal, minor units.
    pub min_receipt: Money,
    /// Only the customer's first purchase.
    pub first_purchase: bool,
}

/// The effect, written as an object with exactly one key (`{"points_multiplier": 2}`). Held
/// as optional fields rather than an enum so that "none" or "two" is a validation problem that
/// names the field, not serde's generic complaint; [`EffectSpec::effect`] gives the one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EffectSpec {
    /// Integer ≥ 1: the matching lines earn this many times their points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_multiplier: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_points: Option<ExtraPoints>,
    /// Whole percent off the matching lines, before points (like a promo code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_percent: Option<i64>,
    /// Minor units off the matching lines together, before points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp_card: Option<StampCard>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPoints {
    pub points: i64,
    #[serde(default)]
    pub per: PointsPer,
}

/// What `extra_points` counts: the receipt once, each matching line, or each whole unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PointsPer {
    #[default]
    Receipt,
    Line,
    Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StampCard {
    /// Stamps a customer collects before the next matching unit is free.
    pub stamps_for_reward: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Adds to the other campaigns on the same lines.
    #[default]
    Stack,
    /// The highest-priority exclusive campaign that applies is the only one on its lines.
    Exclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerLimit {
    /// Receipts per customer and period the campaign may apply to.
    pub count: i64,
    #[serde(default)]
    pub period: LimitPeriod,
}

/// The period `limit_per_customer` counts in, in the program's local calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitPeriod {
    Day,
    /// Monday to Sunday.
    Week,
    Month,
    Year,
    #[default]
    Ever,
}

/// The one effect of a campaign, as evaluation uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    PointsMultiplier(i64),
    ExtraPoints(ExtraPoints),
    DiscountPercent(i64),
    DiscountAmount(Money),
    StampCard(StampCard),
}

impl EffectSpec {
    /// How many effects are set (a valid campaign has exactly one).
    pub fn count(&self) -> usize {
        [
            self.points_multiplier.is_some(),
            self.extra_points.is_some(),
            self.discount_percent.is_some(),
            self.discount_amount.is_some(),
            self.stamp_card.is_some(),
        ]
        .iter()
        .filter(|&&set| set)
        .count()
    }

    /// The effect, when exactly one is set.
    pub fn effect(&self) -> Option<Effect> {
        if self.count() != 1 {
            return None;
        }
        self.points_multiplier
            .map(Effect::PointsMultiplier)
            .or(self.extra_points.map(Effect::ExtraPoints))
            .or(self.discount_percent.map(Effect::DiscountPercent))
            .or(self.discount_amount.map(Effect::DiscountAmount))
            .or(self.stamp_card.map(Effect::StampCard))
    }
}

impl Campaign {
    /// The name the cashier reads.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().filter(|name| !name.trim().is_empty()).unwrap_or(&self.id)
    }
}

/// Points on the customer's birthday: granted once per birthday year by the cloud's birthday
/// job, as a lot of their own, active at once (`rules::birthday` has the window's arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Birthday {
    pub points: i64,
    /// The grant comes from this many days before the birthday (0–180) …
    #[serde(default)]
    pub days_before: i64,
    /// … to this many days after it (0–180), whole local days in the program's time zone.
    #[serde(default)]
    pub days_after: i64,
    /// The granted lot expires this many days after it is granted; 0 = when the window ends
    /// (local midnight after its last day).
    #[serde(default)]
    pub expiry_days: i64,
}

/// Bring-a-friend rewards, granted by the cloud after the friend's first qualifying receipt
/// (subtotal ≥ `min_receipt`) is applied there; both lots follow the program's `expiry_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    #[serde(default)]
    pub referrer_points: i64,
    #[serde(default)]
    pub friend_points: i64,
    /// The friend's first receipt must reach this subtotal (minor units).
    #[serde(default)]
    pub min_receipt: Money,
    /// Friends one customer may be rewarded for (absent = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_referrer: Option<i64>,
}

/// The program's time zone when it names none: the chain's home (CONTRACTS.md §campaigns).
pub const DEFAULT_TIME_ZONE: &str = "Europe/Moscow";
