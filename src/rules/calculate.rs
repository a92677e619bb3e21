//! Pricing a receipt: DESIGN §3 "Calculation", one deterministic function.
//!
//! Order of work: line amounts → promo and group discounts on eligible lines → the redemption
//! limit → the redemption discount spread over eligible lines (largest remainder, so the line
//! discounts add up exactly and no line goes below 0) → accrual on what is paid, kept per line.

use super::{Money, Program, PromoUsage, Quantity, RulesError, Timestamp};
use serde::Serialize;

/// The points a customer asks to spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Redeem {
    #[default]
    None,
    Points(i64),
    /// As many as the limits allow.
    Max,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalcLine {
    pub sku: String,
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: Quantity,
    /// Price of one unit, minor units, ≥ 0.
    pub price: Money,
}

/// What the ledger knows about the customer, or `None` for an anonymous quote
/// (no customer: nothing redeemed, nothing earned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerPoints {
    pub balance: i64,
    pub available: i64,
    /// Cumulative paid amount, which picks the tier.
    pub paid_total: Money,
}

pub struct CalcInput<'a> {
    pub program: &'a Program,
    pub customer: Option<CustomerPoints>,
    pub lines: &'a [CalcLine],
    pub redeem: Redeem,
    /// Promo codes entered, each with its usage so far (the caller counts uses).
    pub promo_codes: &'a [(String, PromoUsage)],
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointsQuote {
    pub balance: i64,
    pub available: i64,
    pub max_redeem: i64,
    pub redeem: i64,
    pub earn: i64,
    /// balance − redeem + earn (earned points count even while pending activation).
    pub balance_after: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineResult {
    pub sku: String,
    pub name: Option<String>,
    pub category: Option<String>,
    /// Canonical decimal text of the quantity.
    pub quantity: String,
    #[serde(skip)]
    pub quantity_milli: Quantity,
    pub price: Money,
    /// price × quantity, rounded half-up.
    pub amount: Money,
    pub excluded: bool,
    /// Promo and group discount on this line.
    pub promo_discount: Money,
    /// The share of the points discount on this line.
    pub points_discount: Money,
    /// promo_discount + points_discount.
    pub discount: Money,
    /// amount − discount, ≥ 0.
    pub paid: Money,
    /// Points this line earns.
    pub earn: i64,
    /// Points redeemed against this line (Σ over lines = the receipt's redeem).
    pub redeem_points: i64,
}

/// A limit that bound the quote, for the cashier: `code` is stable
/// (`available_points`, `redeem_cap`, `min_payable`, `no_customer`, `discount_group`, `excluded_lines`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitApplied {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedPromo {
    pub code: String,
    pub discount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Calculation {
    pub program_version: i64,
    pub tier: Option<String>,
    /// Σ line amounts.
    pub subtotal: Money,
    /// Σ line discounts (promo + group + points).
    pub discount: Money,
    /// subtotal − discount: what the customer pays.
    pub total: Money,
    pub points: PointsQuote,
    pub lines: Vec<LineResult>,
    pub promo_codes: Vec<AppliedPromo>,
    pub limits: Vec<LimitApplied>,
}

/// Prices a receipt. Errors: empty receipt, bad lines (price < 0, above 10^11 minor units,
/// more than 1000 lines), overflow, redeem above the limit (naming the bound), rejected promo.
pub fn calculate(input: &CalcInput<'_>) -> Result<Calculation, RulesError> {
    todo!("{:?}", input.lines)
}
