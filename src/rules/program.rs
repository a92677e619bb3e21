//! The loyalty program: the rules a store configures (CONTRACTS.md §program), versioned.
//!
//! A program is read from TOML (the agent's `program.toml`, later the cloud's program versions).
//! Every field has the default of CONTRACTS.md §program, so an empty file is a valid program.

use super::campaign::{Birthday, Campaign, Referral, DEFAULT_TIME_ZONE};
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
    /// Offline redemption bounds (CONTRACTS.md §sync), used once the agent syncs to a cloud.
    pub offline_redeem_limit: i64,
    pub offline_max_redemptions: i64,
    pub offline_max_age_hours: i64,
    /// Confirm a new customer's phone with an SMS code before enrolling them (MoySklad's
    /// registration flow: 412 / 28001, then `/counterparty/verify`). Default false.
    pub verify_registration: bool,
    /// Confirm spending points with the customer's code (MoySklad's `needVerification`; on the
    /// native API an SMS or time-based code). Default false.
    pub verify_spending: bool,
    /// Points may be spent only when the customer was not identified by a typed card number
    /// (`entry: "typed"`). Default false.
    pub redeem_requires_scan: bool,
    /// Points may be spent only when the customer showed their page's signed QR code (the
    /// receipt names them by it) or gave their spending code. Default false.
    pub require_signed_qr: bool,
    /// The IANA time zone campaign dates and schedules are written in (default Europe/Moscow).
    /// The campaign fields are left out of the JSON while unused, so a program without
    /// campaigns reads the same to tills built before them.
    #[serde(skip_serializing_if = "is_default_time_zone")]
    pub time_zone: String,
    /// CONTRACTS.md §campaigns; evaluated by `calculate` in priority order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<Campaign>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<Birthday>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

fn is_default_time_zone(zone: &str) -> bool {
    zone == DEFAULT_TIME_ZONE
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
        Program {
            version: 0,
            point_value: 100,
            kind: ProgramKind::Bonus,
            accrual_percent: 5,
            discount_percent: 0,
            redeem_cap_percent: 100,
            min_payable: Money(0),
            accrue_on_redeemed: false,
            excluded_categories: Vec::new(),
            excluded_skus: Vec::new(),
            activation_days: 0,
            expiry_days: 0,
            welcome_points: 0,
            tiers: Vec::new(),
            promo_codes: Vec::new(),
            offline_redeem_limit: 500,
            offline_max_redemptions: 3,
            offline_max_age_hours: 24,
            verify_registration: false,
            verify_spending: false,
            redeem_requires_scan: false,
            require_signed_qr: false,
            time_zone: DEFAULT_TIME_ZONE.to_owned(),
            campaigns: Vec::new(),
            birthday: None,
            referral: None,
        }
    }
}

impl Program {
    /// The base program's settings, no tier: what applies below every threshold.
    pub(crate) fn base_settings(&self) -> Settings {
        Settings {
            tier: None,
            kind: self.kind,
            accrual_percent: self.accrual_percent,
            discount_percent: self.discount_percent,
            redeem_cap_percent: self.redeem_cap_percent,
        }
    }

    /// The effective settings for a customer who has paid `paid_total` so far.
    ///
    /// The highest threshold reached wins even if the list is not sorted (a program that failed
    /// `validate` must still price predictably); between equal thresholds the later tier wins.
    pub fn settings_for(&self, paid_total: Money) -> Settings {
        let mut reached: Option<&Tier> = None;
        for tier in &self.tiers {
            if tier.threshold <= paid_total && reached.is_none_or(|best| tier.threshold >= best.threshold) {
                reached = Some(tier);
            }
        }
        let base = self.base_settings();
        match reached {
            None => base,
            Some(tier) => Settings {
                tier: Some(tier.name.clone()),
                kind: tier.kind.unwrap_or(base.kind),
                accrual_percent: tier.accrual_percent.unwrap_or(base.accrual_percent),
                discount_percent: tier.discount_percent.unwrap_or(base.discount_percent),
                redeem_cap_percent: tier.redeem_cap_percent.unwrap_or(base.redeem_cap_percent),
            },
        }
    }

    /// The next tier up for a customer who has paid `paid_total` so far: the lowest threshold
    /// above it (between equal thresholds the later tier, as in [`Program::settings_for`]), and
    /// how much more must be paid to reach it. `None` at the top or without tiers.
    pub fn next_tier(&self, paid_total: Money) -> Option<(&Tier, Money)> {
        let mut next: Option<&Tier> = None;
        for tier in &self.tiers {
            if tier.threshold > paid_total && next.is_none_or(|best| tier.threshold <= best.threshold) {
                next = Some(tier);
            }
        }
        next.map(|tier| (tier, Money(tier.threshold.0 - paid_total.0)))
    }

    /// Whether a line with this SKU and category gets no discount, no redemption and no accrual.
    ///
    /// Matching is exact but case-insensitive (Unicode-aware, so "Табак" matches "табак"):
    /// the store types the list by hand and the till's catalogue capitalises as it likes.
    pub fn is_excluded(&self, sku: &str, category: Option<&str>) -> bool {
        self.excluded_skus.iter().any(|excluded| same_text(excluded, sku))
            || category
                .is_some_and(|category| self.excluded_categories.iter().any(|excluded| same_text(excluded, category)))
    }

    /// The tier named `name`, ignoring case and surrounding whitespace.
    pub fn tier_named(&self, name: &str) -> Option<&Tier> {
        let name = name.trim();
        self.tiers.iter().find(|tier| same_text(tier.name.trim(), name))
    }

    /// The promo code matching `code`, ignoring case and surrounding whitespace.
    pub fn find_promo(&self, code: &str) -> Option<&PromoCode> {
        let code = code.trim();
        if code.is_empty() {
            return None;
        }
        self.promo_codes.iter().find(|promo| same_text(promo.code.trim(), code))
    }
}

/// Case-insensitive equality without allocating.
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
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
    fn an_empty_file_is_the_default_program() {
        let program: Program = toml::from_str("").expect("an empty program parses");
        assert_eq!(program, Program::default());
        assert_eq!(program.point_value, 100);
        assert_eq!(program.accrual_percent, 5);
        assert_eq!(program.redeem_cap_percent, 100);
        assert_eq!(program.offline_redeem_limit, 500);
        assert_eq!(program.validate(), Ok(()));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Program>("acrual_percent = 5").is_err());
    }

    #[test]
    fn tiers_override_the_base_from_their_threshold() {
        let gold = Tier { accrual_percent: Some(10), redeem_cap_percent: Some(50), ..tier("gold", 100_000) };
        let vip = Tier { kind: Some(ProgramKind::Discount), discount_percent: Some(7), ..tier("vip", 500_000) };
        let program = Program { tiers: vec![gold, vip], ..Program::default() };
        assert_eq!(program.validate(), Ok(()));

        let below = program.settings_for(Money(99_999));
        assert_eq!(below, program.base_settings());
        assert_eq!(below.tier, None);

        let at_gold = program.settings_for(Money(100_000));
        assert_eq!(at_gold.tier.as_deref(), Some("gold"));
        assert_eq!((at_gold.kind, at_gold.accrual_percent, at_gold.redeem_cap_percent), (ProgramKind::Bonus, 10, 50));
        assert_eq!(at_gold.discount_percent, 0);

        let at_vip = program.settings_for(Money(10_000_000));
        assert_eq!(at_vip.tier.as_deref(), Some("vip"));
        assert_eq!((at_vip.kind, at_vip.discount_percent, at_vip.accrual_percent), (ProgramKind::Discount, 7, 5));
    }

    #[test]
    fn the_next_tier_is_the_lowest_threshold_above() {
        let program = Program { tiers: vec![tier("vip", 500_000), tier("gold", 100_000)], ..Program::default() };
        let next = |paid| program.next_tier(Money(paid)).map(|(tier, left)| (tier.name.clone(), left.0));
        assert_eq!(next(0), Some(("gold".into(), 100_000)));
        assert_eq!(next(99_999), Some(("gold".into(), 1)));
        assert_eq!(next(100_000), Some(("vip".into(), 400_000)), "a reached threshold is not next");
        assert_eq!(next(500_000), None, "nothing above the top");
        assert_eq!(Program::default().next_tier(Money(0)), None);
    }

    #[test]
    fn unsorted_tiers_still_pick_the_highest_reached() {
        let program = Program { tiers: vec![tier("vip", 500), tier("gold", 100)], ..Program::default() };
        assert_eq!(program.settings_for(Money(600)).tier.as_deref(), Some("vip"));
        assert_eq!(program.settings_for(Money(200)).tier.as_deref(), Some("gold"));
    }

    #[test]
    fn exclusions_match_exactly_ignoring_case() {
        let program = Program {
            excluded_categories: vec!["Tobacco".into(), "Табак".into()],
            excluded_skus: vec!["SKU-1".into()],
            ..Program::default()
        };
        assert!(program.is_excluded("x", Some("tobacco")));
        assert!(program.is_excluded("x", Some("ТАБАК")));
        assert!(program.is_excluded("sku-1", None));
        assert!(!program.is_excluded("sku-10", Some("tobacco products")));
        assert!(!program.is_excluded("x", None));
    }

    #[test]
    fn promo_lookup_ignores_case_and_spaces() {
        let program = Program { promo_codes: vec![promo("Spring10")], ..Program::default() };
        assert_eq!(program.find_promo("  SPRING10 ").map(|p| p.code.as_str()), Some("Spring10"));
        assert_eq!(program.find_promo("spring1"), None);
        assert_eq!(program.find_promo(""), None);
    }
}
