//! The loyalty program: the rules a store configures (DESIGN §3), versioned.
//!
//! A program is read from TOML (the agent's `program.toml`, later the cloud's program versions).
//! Every field has the default of DESIGN §3, so an empty file is a valid program.

use super::{Money, Timestamp};
use serde::{Deserialize, Serialize};

/// Whether a group earns and spends points or gets a fixed discount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProgramKind {
    #[default]
    Bonus,
    Discount,
}

/// A whole program version. Unknown TOML keys are rejected (`deny_unknown_fields`) so a typo in
/// the store's file is an error at start-up, not a silently ignored rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Program {
    /// Assigned by storage when the program is recorded; 0 in a file.
    pub version: i64,
    /// Minor units one point is worth (default 100 = 1.00).
    pub point_value: i64,
    pub kind: ProgramKind,
    /// Whole percent of the accrual base earned as points (default 5).
    pub accrual_percent: i64,
    /// Whole percent off for `discount` groups (default 0).
    pub discount_percent: i64,
    /// Max share of the eligible amount payable with points (default 100).
    pub redeem_cap_percent: i64,
    /// Minor units the customer must still pay (default 0).
    pub min_payable: Money,
    pub accrue_on_redeemed: bool,
    pub excluded_categories: Vec<String>,
    pub excluded_skus: Vec<String>,
    /// Accrued points become spendable after this many days (0 = at once).
    pub activation_days: i64,
    /// Accrued points expire this many days after activation (0 = never).
    pub expiry_days: i64,
    pub welcome_points: i64,
    /// Ordered by threshold, ascending. A customer belongs to the highest tier whose threshold
    /// their cumulative paid amount reaches; below every threshold the base settings apply.
    pub tiers: Vec<Tier>,
    pub promo_codes: Vec<PromoCode>,
    /// Offline redemption bounds (DESIGN §7), used once the agent syncs to a cloud.
    pub offline_redeem_limit: i64,
    pub offline_max_redemptions: i64,
    pub offline_max_age_hours: i64,
}

/// A customer group reached by cumulative paid amount; `None` fields inherit the base program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: String,
    /// Cumulative paid amount (minor units) from which this tier applies.
    pub threshold: Money,
    pub kind: Option<ProgramKind>,
    pub accrual_percent: Option<i64>,
    pub discount_percent: Option<i64>,
    pub redeem_cap_percent: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromoKind {
    /// `value` is a whole percent off the eligible lines.
    Percent,
    /// `value` is minor units off the eligible lines (never more than they cost).
    Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoCode {
    /// Matched case-insensitively.
    pub code: String,
    pub kind: PromoKind,
    pub value: i64,
    /// Minimum receipt subtotal (minor units) for the code to apply.
    #[serde(default)]
    pub min_receipt: Money,
    /// Unix seconds; `None` = no bound. (The TOML loader accepts RFC 3339 text or a date and
    /// converts it before this struct is built; see `agent::config`.)
    #[serde(default)]
    pub valid_from: Option<Timestamp>,
    #[serde(default)]
    pub valid_until: Option<Timestamp>,
    /// Total uses allowed across all customers (`None` = unlimited, 1 = one-time).
    #[serde(default)]
    pub usage_limit: Option<i64>,
    /// Uses allowed per customer (`None` = unlimited).
    #[serde(default)]
    pub per_customer_limit: Option<i64>,
}

/// The settings that apply to one customer: the base program with their tier's overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub tier: Option<String>,
    pub kind: ProgramKind,
    pub accrual_percent: i64,
    pub discount_percent: i64,
    pub redeem_cap_percent: i64,
}

impl Default for Program {
    fn default() -> Self {
        todo!("the defaults of DESIGN §3; offline_redeem_limit 500, offline_max_redemptions 3, offline_max_age_hours 24")
    }
}

impl Program {
    /// Checks the program for contradictions (percent outside 0..=100, point_value < 1,
    /// negative days, duplicate promo codes, unsorted or duplicate tiers) and says which.
    pub fn validate(&self) -> Result<(), String> {
        todo!()
    }

    /// The effective settings for a customer who has paid `paid_total` so far.
    pub fn settings_for(&self, paid_total: Money) -> Settings {
        todo!("{paid_total:?}")
    }

    /// Whether a line with this SKU and category gets no discount, no redemption and no accrual.
    pub fn is_excluded(&self, sku: &str, category: Option<&str>) -> bool {
        todo!("{sku}{category:?}")
    }

    pub fn find_promo(&self, code: &str) -> Option<&PromoCode> {
        todo!("{code}")
    }
}
