//! Pricing a receipt: CONTRACTS.md §calculation, one deterministic function.
//!
//! Order of work: line amounts → campaign discount effects on their lines (`campaigns.rs`) →
//! promo and group discounts on eligible lines → the redemption limit → the redemption discount
//! spread over eligible lines (largest remainder, so the line discounts add up exactly and no
//! line goes below 0) → accrual on what is paid, kept per line → campaign multipliers and extra
//! points on their lines.

use super::campaigns::{self, CampaignContext, CampaignGain, CampaignSkipped, Facts, Plan};
use super::limits::{redeem_limit, Rates};
use super::program::same_text;
use super::spread::spread;
use super::{check_promo, LineProblem, Money, Program, ProgramKind, PromoUsage, Quantity, RulesError, Timestamp};
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
    /// The customer's and the campaigns' state (`CampaignContext::neutral()` when the caller's
    /// stores do not track them).
    pub campaigns: &'a CampaignContext,
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
    /// Campaign, promo and group discount on this line.
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
    /// What each campaign gave on this line (its points are in `earn`, its discount in
    /// `promo_discount`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<CampaignGain>,
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
    /// The campaigns that applied, in evaluation order, with what each gave in all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<CampaignGain>,
    /// Campaigns with lines on this receipt that gave nothing, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campaigns_skipped: Vec<CampaignSkipped>,
}

/// The most lines one receipt may carry.
const MAX_LINES: usize = 1000;
/// The highest unit price accepted: 1 000 000 000.00 in minor units.
const MAX_PRICE: Money = Money(100_000_000_000);
/// The longest SKU accepted, in characters.
const MAX_SKU_CHARS: usize = 128;

/// Prices a receipt. Errors: empty receipt, bad lines (price < 0, above 10^11 minor units,
/// more than 1000 lines), overflow, redeem above the limit (naming the bound), rejected promo.
///
/// A program that fails [`Program::validate`] is still priced without panicking: percents are
/// clamped to 0..=100, `point_value` to at least 1 and `min_payable` to at least 0.
pub fn calculate(input: &CalcInput<'_>) -> Result<Calculation, RulesError> {
    let program = input.program;
    check_lines(input.lines)?;
    let amounts: Vec<i64> = input
        .lines
        .iter()
        .map(|line| line.price.times(line.quantity).map(|amount| amount.0).ok_or(RulesError::Overflow))
        .collect::<Result<_, _>>()?;
    let excluded: Vec<bool> =
        input.lines.iter().map(|line| program.is_excluded(&line.sku, line.category.as_deref())).collect();
    let eligible_amounts: Vec<i64> =
        amounts.iter().zip(&excluded).map(|(&amount, &excluded)| if excluded { 0 } else { amount }).collect();
    let subtotal = checked_sum(&amounts)?;
    let eligible_before = checked_sum(&eligible_amounts)?;

    // An anonymous quote gets the base program: tiers are about a customer's history.
    let settings = match input.customer {
        Some(customer) => program.settings_for(customer.paid_total),
        None => program.base_settings(),
    };
    let rates = Rates::new(program, &settings);
    let bonus_customer = input.customer.filter(|_| settings.kind == ProgramKind::Bonus);

    // Step 0: which campaigns apply, and their discount effects on their own lines.
    let plan = if program.campaigns.is_empty() {
        Plan::empty()
    } else {
        campaigns::plan(&Facts {
            program,
            context: input.campaigns,
            lines: input.lines,
            excluded: &excluded,
            subtotal,
            tier: input.customer.map(|_| settings.tier.as_deref()),
            earns: bonus_customer.is_some(),
            now: input.now,
        })
    };
    let (mut outcome, campaign_discounts) =
        campaigns::discounts(plan, input.lines, &eligible_amounts, input.campaigns)?;
    let after_campaigns: Vec<i64> = eligible_amounts.iter().zip(&campaign_discounts).map(|(&a, &d)| a - d).collect();
    let eligible_campaigns = checked_sum(&after_campaigns)?;

    // Step 1: promo codes, then the discount group's percent, spread over what the eligible
    // lines still cost.
    let (promo_codes, promo_total) = apply_promos(input, Money(subtotal), eligible_campaigns)?;
    let group_discount = match input.customer {
        Some(_) if settings.kind == ProgramKind::Discount => {
            percent_of(eligible_campaigns - promo_total, rates.discount)?
        }
        _ => 0,
    };
    let step1 = promo_total.checked_add(group_discount).ok_or(RulesError::Overflow)?;
    let promo_shares: Vec<i64> = spread(step1, &after_campaigns)?
        .into_iter()
        .zip(&campaign_discounts)
        .map(|(promo, &campaign)| promo + campaign)
        .collect();
    let after_promo: Vec<i64> = eligible_amounts.iter().zip(&promo_shares).map(|(&a, &d)| a - d).collect();
    let eligible = eligible_campaigns - step1;

    // Steps 2 and 3: the redemption limit and the requested points checked against it.
    let all_excluded = eligible_before == 0 && excluded.iter().any(|&e| e);
    let limit = redeem_limit(input.customer, &settings, &rates, eligible, all_excluded)?;
    let redeem = match input.redeem {
        Redeem::None => 0,
        Redeem::Max => limit.max,
        Redeem::Points(points) if points < 0 => return Err(RulesError::NegativeRedeem(points)),
        Redeem::Points(points) if points > limit.max => {
            return Err(RulesError::RedeemAboveLimit { requested: points, max: limit.max, bound_by: limit.bound_by() });
        }
        Redeem::Points(points) => points,
    };

    // Step 4: the money the points pay, spread over what the eligible lines still cost; the
    // points themselves follow the money so a return gives back exactly what its lines used.
    let points_money = redeem.checked_mul(rates.point_value).ok_or(RulesError::Overflow)?;
    let points_shares = spread(points_money, &after_promo)?;
    let redeem_shares = spread(redeem, &points_shares)?;

    // Step 5: accrual on what is paid (and the points part if the program says so).
    let paid: Vec<i64> = after_promo.iter().zip(&points_shares).map(|(&a, &d)| a - d).collect();
    let bases: Vec<i64> = paid
        .iter()
        .zip(&points_shares)
        .zip(&excluded)
        .map(|((&paid, &points), &excluded)| match excluded {
            true => 0,
            false if program.accrue_on_redeemed => paid + points,
            false => paid,
        })
        .collect();
    let earn = match bonus_customer {
        Some(_) => {
            let base = i128::from(checked_sum(&bases)?);
            let divisor = 100 * i128::from(rates.point_value);
            i64::try_from(base * i128::from(rates.accrual) / divisor).map_err(|_| RulesError::Overflow)?
        }
        None => 0,
    };
    let base_earn = spread(earn, &bases)?;

    // Step 6: campaign multipliers and extra points on their lines.
    let campaign_points = campaigns::accrue(&mut outcome, input.lines, &base_earn, &eligible_amounts, input.campaigns)?;
    let earn_shares: Vec<i64> = base_earn
        .iter()
        .zip(&campaign_points)
        .map(|(&b, &c)| b.checked_add(c).ok_or(RulesError::Overflow))
        .collect::<Result<_, _>>()?;
    let earn = checked_sum(&earn_shares)?;

    let mut lines = Vec::with_capacity(input.lines.len());
    let mut discount = 0i64;
    for (i, line) in input.lines.iter().enumerate() {
        let at = |v: &[i64]| v.get(i).copied().unwrap_or(0);
        let (promo_discount, points_discount) = (at(&promo_shares), at(&points_shares));
        let line_discount = promo_discount + points_discount;
        discount = discount.checked_add(line_discount).ok_or(RulesError::Overflow)?;
        lines.push(LineResult {
            sku: line.sku.clone(),
            name: line.name.clone(),
            category: line.category.clone(),
            quantity: line.quantity.to_decimal_string(),
            quantity_milli: line.quantity,
            price: line.price,
            amount: Money(at(&amounts)),
            excluded: excluded.get(i).copied().unwrap_or(false),
            promo_discount: Money(promo_discount),
            points_discount: Money(points_discount),
            discount: Money(line_discount),
            paid: Money(at(&amounts) - line_discount),
            earn: at(&earn_shares),
            redeem_points: at(&redeem_shares),
            campaigns: outcome.line(i),
        });
    }

    let mut limits = Vec::new();
    let excluded_count = excluded.iter().filter(|&&e| e).count();
    if excluded_count > 0 && !all_excluded {
        limits.push(LimitApplied {
            code: "excluded_lines",
            message: format!("{excluded_count} of {} lines are excluded from discounts and points.", input.lines.len()),
        });
    }
    limits.extend(limit.applied);

    let points = match input.customer {
        Some(customer) => PointsQuote {
            balance: customer.balance,
            available: customer.available,
            max_redeem: limit.max,
            redeem,
            earn,
            balance_after: customer
                .balance
                .checked_sub(redeem)
                .and_then(|b| b.checked_add(earn))
                .ok_or(RulesError::Overflow)?,
        },
        None => PointsQuote { balance: 0, available: 0, max_redeem: 0, redeem: 0, earn: 0, balance_after: 0 },
    };

    let (campaigns, campaigns_skipped) = outcome.totals()?;
    Ok(Calculation {
        program_version: program.version,
        tier: settings.tier,
        subtotal: Money(subtotal),
        discount: Money(discount),
        total: Money(subtotal - discount),
        points,
        lines,
        promo_codes,
        limits,
        campaigns,
        campaigns_skipped,
    })
}

fn check_lines(lines: &[CalcLine]) -> Result<(), RulesError> {
    if lines.is_empty() {
        return Err(RulesError::EmptyReceipt);
    }
    if lines.len() > MAX_LINES {
        let why = LineProblem::TooManyLines { max: MAX_LINES, count: lines.len() };
        return Err(RulesError::InvalidLine { line: MAX_LINES, why });
    }
    for (line_no, line) in lines.iter().enumerate() {
        let why = if line.sku.trim().is_empty() {
            LineProblem::EmptySku
        } else if line.sku.chars().count() > MAX_SKU_CHARS {
            LineProblem::SkuTooLong { max: MAX_SKU_CHARS }
        } else if line.price.0 < 0 {
            LineProblem::NegativePrice { price: line.price }
        } else if line.price > MAX_PRICE {
            LineProblem::PriceTooHigh { price: line.price, max: MAX_PRICE }
        } else if line.quantity.0 <= 0 || line.quantity > Quantity::MAX {
            LineProblem::QuantityOutOfRange { quantity: line.quantity, max: Quantity::MAX }
        } else {
            continue;
        };
        return Err(RulesError::InvalidLine { line: line_no, why });
    }
    Ok(())
}

fn checked_sum(values: &[i64]) -> Result<i64, RulesError> {
    values.iter().try_fold(0i64, |sum, &v| sum.checked_add(v)).ok_or(RulesError::Overflow)
}

/// `floor(amount × percent / 100)` for a percent already clamped to 0..=100.
fn percent_of(amount: i64, percent: i64) -> Result<i64, RulesError> {
    i64::try_from(i128::from(amount.max(0)) * i128::from(percent) / 100).map_err(|_| RulesError::Overflow)
}

/// Applies the entered promo codes in order, each on what the previous ones left eligible, so
/// together they never exceed the eligible amount. A code entered twice counts once.
fn apply_promos(input: &CalcInput<'_>, subtotal: Money, eligible: i64) -> Result<(Vec<AppliedPromo>, i64), RulesError> {
    let mut applied: Vec<AppliedPromo> = Vec::new();
    let mut total = 0i64;
    for (entered, usage) in input.promo_codes {
        let Some(promo) = input.program.find_promo(entered) else {
            return Err(RulesError::PromoRejected {
                code: entered.trim().to_string(),
                reason: "unknown",
                message: "there is no such promo code.".to_string(),
                values: Vec::new(),
            });
        };
        if applied.iter().any(|done| same_text(&done.code, &promo.code)) {
            continue;
        }
        let discount = check_promo(promo, subtotal, Money(eligible - total), *usage, input.now)?;
        total += discount.0;
        applied.push(AppliedPromo { code: promo.code.clone(), discount });
    }
    Ok((applied, total))
}

/// The code of the limit that flags a sale booked beyond the customer's points.
pub const OVERDRAFT: &str = "overdraft";

/// [`calculate`] for a sale that already happened (MoySklad reports a sale after closing it; a
/// till that spent offline): points beyond what the customer can spend do not refuse it. Every
/// other limit still holds. The result shows what really was available, carries an
/// [`OVERDRAFT`] limit, and its debit leaves the shortfall as debt (`Wallet::debit`).
pub fn calculate_booked(input: &CalcInput<'_>) -> Result<Calculation, RulesError> {
    match calculate(input) {
        Err(RulesError::RedeemAboveLimit { requested, bound_by: "available_points", .. }) => {
            let available = input.customer.map_or(0, |p| p.available);
            let raised = CalcInput {
                program: input.program,
                customer: input.customer.map(|p| CustomerPoints { available: p.available.max(requested), ..p }),
                lines: input.lines,
                redeem: input.redeem,
                promo_codes: input.promo_codes,
                now: input.now,
                campaigns: input.campaigns,
            };
            let mut calculation = calculate(&raised)?;
            calculation.points.available = available;
            // The raised figure is not what the customer had: the overdraft says what happened.
            calculation.limits.retain(|limit| limit.code != "available_points");
            calculation.limits.push(LimitApplied {
                code: OVERDRAFT,
                message: format!(
                    "{requested} points were spent while {available} could be; the sale had already happened, so it was booked and the shortfall is debt that later accruals pay off"
                ),
            });
            Ok(calculation)
        }
        other => other,
    }
}
