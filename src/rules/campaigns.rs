//! Evaluating campaigns against a receipt (CONTRACTS.md §campaigns), for `calculate`.
//!
//! Three steps, called by `calculate` at its own steps so the documented order holds:
//! [`plan`] decides which campaigns apply to which lines (validity dates, schedule, conditions,
//! limits and budgets from the [`CampaignContext`], then exclusivity); [`discounts`] gives the
//! discount effects on those lines before promo codes and points; [`accrue`] adds multipliers
//! and extra points once the ordinary accrual is known per line.
//!
//! Campaigns are taken in one order everywhere: priority, highest first, then `id`. So the
//! order they are written in the program never changes an answer, and every till and the cloud
//! agree. Nothing here reads a clock or a store: how many stamps a customer holds, how often a
//! campaign was used this period and what is left of its budget are the caller's inputs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::campaign::{Campaign, Effect, PointsPer, Stacking};
use super::local_time::{local, parse_date, parse_day, parse_time, time_zone, LocalMoment};
use super::program::same_text;
use super::spread::spread;
use super::{CalcLine, Money, Program, RulesError, Timestamp};

/// What the stores know about the customer and the campaigns, for one receipt. The default is
/// the neutral context: no tags, not a first purchase, no store, no stamps, nothing used, every
/// budget open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignContext {
    pub tags: Vec<String>,
    pub first_purchase: bool,
    /// The store the till belongs to.
    pub store: Option<String>,
    /// Stamps the customer holds, per campaign id.
    pub stamps: BTreeMap<String, i64>,
    /// Receipts the campaign already applied to for this customer in its current period.
    pub uses: BTreeMap<String, i64>,
    /// Campaigns whose budget is not simply open.
    pub budgets: BTreeMap<String, BudgetState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetState {
    /// The cloud said the budget is spent, or the campaign was stopped: it gives nothing.
    Stopped,
    /// The till cannot confirm the budget and may give at most this many more points.
    Allowance(i64),
}

impl CampaignContext {
    /// The neutral context, for callers whose stores do not track campaigns yet.
    pub fn neutral() -> &'static CampaignContext {
        static NEUTRAL: CampaignContext = CampaignContext {
            tags: Vec::new(),
            first_purchase: false,
            store: None,
            stamps: BTreeMap::new(),
            uses: BTreeMap::new(),
            budgets: BTreeMap::new(),
        };
        &NEUTRAL
    }
}

/// Stamps a stamp card moved on a line or a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StampResult {
    /// Stamps earned by matching units bought.
    pub earned: i64,
    /// Stamps spent on free units (`stamps_for_reward` each).
    pub used: i64,
    /// The customer's count after this line (on the receipt: after the receipt).
    pub after: i64,
    /// The card's `stamps_for_reward`, so a cashier can say "4 of 5".
    pub for_reward: i64,
}

/// What one campaign gave, on a line or on the whole receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignGain {
    pub id: String,
    pub name: String,
    pub points: i64,
    pub discount: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stamps: Option<StampResult>,
}

/// A campaign with lines on this receipt that gave nothing, and why. `reason` is stable:
/// `not_yet_valid`, `expired`, `outside_schedule`, `condition_not_met` (`detail` names the
/// condition: `tiers`, `tags`, `stores`, `min_receipt`, `first_purchase`), `no_customer`,
/// `discount_group` (the customer's group earns no points), `limit_reached`, `budget_spent`,
/// `till_allowance_spent`, `exclusive_overridden` (`detail` is the winner's id),
/// `nothing_to_give`, `unsupported_effect` (a program this build cannot fully read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignSkipped {
    pub id: String,
    pub name: String,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The receipt and customer facts [`plan`] checks campaigns against.
pub(crate) struct Facts<'a> {
    pub program: &'a Program,
    pub context: &'a CampaignContext,
    pub lines: &'a [CalcLine],
    pub excluded: &'a [bool],
    pub subtotal: i64,
    /// `None` for an anonymous quote.
    pub tier: Option<Option<&'a str>>,
    /// The customer earns points (a bonus group).
    pub earns: bool,
    pub now: Timestamp,
}

/// A campaign that applies, and the lines it applies to (ascending).
pub(crate) struct Active<'p> {
    campaign: &'p Campaign,
    effect: Effect,
    lines: Vec<usize>,
}

pub(crate) struct Plan<'p> {
    active: Vec<Active<'p>>,
    pub skipped: Vec<CampaignSkipped>,
}

/// Per line and per active campaign (in the plan's order): (points, discount, stamps).
#[derive(Clone, Default)]
struct Given {
    points: i64,
    discount: i64,
    stamps: Option<StampResult>,
}

/// What the campaigns gave, filled in by [`discounts`] and [`accrue`].
pub(crate) struct Outcome<'p> {
    plan: Plan<'p>,
    /// `given[campaign][line]`.
    given: Vec<Vec<Given>>,
}

impl Plan<'_> {
    pub(crate) fn empty() -> Plan<'static> {
        Plan { active: Vec::new(), skipped: Vec::new() }
    }
}

fn skip(campaign: &Campaign, reason: &'static str, detail: Option<String>) -> CampaignSkipped {
    CampaignSkipped { id: campaign.id.clone(), name: campaign.display_name().to_owned(), reason, detail }
}

fn matches_any(list: &[String], value: Option<&str>) -> bool {
    value.is_some_and(|value| list.iter().any(|item| same_text(item, value)))
}

/// Which campaigns apply to which lines. Campaigns none of whose lines are on the receipt are
/// left out altogether (a receipt of bread says nothing about the coffee campaign).
pub(crate) fn plan<'p>(facts: &Facts<'p>) -> Plan<'p> {
    let program = facts.program;
    let mut order: Vec<&Campaign> = program.campaigns.iter().collect();
    order.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
    let moment = time_zone(&program.time_zone).and_then(|zone| local(facts.now, &zone));

    let mut candidates: Vec<Active<'p>> = Vec::new();
    let mut skipped = Vec::new();
    for campaign in order {
        let conditions = &campaign.conditions;
        let lines: Vec<usize> = facts
            .lines
            .iter()
            .enumerate()
            .filter(|&(i, line)| {
                let by_list = conditions.categories.is_empty() && conditions.skus.is_empty()
                    || matches_any(&conditions.categories, line.category.as_deref())
                    || matches_any(&conditions.skus, Some(&line.sku));
                by_list && !facts.excluded.get(i).copied().unwrap_or(true)
            })
            .map(|(i, _)| i)
            .collect();
        if lines.is_empty() {
            continue;
        }
        match gate(campaign, facts, moment) {
            Ok(effect) => candidates.push(Active { campaign, effect, lines }),
            Err((reason, detail)) => skipped.push(skip(campaign, reason, detail)),
        }
    }

    // Exclusivity: on each line, the first exclusive candidate in order (the highest priority,
    // then the smallest id) is the only campaign. A candidate left with no line is overridden.
    let mut winner: Vec<Option<usize>> = vec![None; facts.lines.len()];
    for (index, candidate) in candidates.iter().enumerate() {
        if candidate.campaign.stacking == Stacking::Exclusive {
            for &line in &candidate.lines {
                if let Some(slot) = winner.get_mut(line) {
                    slot.get_or_insert(index);
                }
            }
        }
    }
    let ids: Vec<&'p str> = candidates.iter().map(|candidate| candidate.campaign.id.as_str()).collect();
    let mut active = Vec::with_capacity(candidates.len());
    for (index, mut candidate) in candidates.into_iter().enumerate() {
        let mut beaten_by = None;
        candidate.lines.retain(|&line| match winner.get(line).copied().flatten() {
            Some(w) if w != index => {
                beaten_by.get_or_insert(w);
                false
            }
            _ => true,
        });
        if candidate.lines.is_empty() {
            let by = beaten_by.and_then(|w| ids.get(w)).map(|id| (*id).to_owned());
            skipped.push(skip(candidate.campaign, "exclusive_overridden", by));
        } else {
            active.push(candidate);
        }
    }
    Plan { active, skipped }
}

/// Whether `campaign` may apply at all: its effect, dates, schedule, conditions, limit, budget.
/// Where `now` is in a campaign's dates (its schedule aside), in the program's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignDates {
    /// Before `valid_from`.
    Before,
    Within,
    /// After `valid_until`.
    After,
}

/// A campaign without dates is always within them; one whose dates or zone cannot be read
/// (refused by the validator) reads as before them, as the till would not run it.
pub fn campaign_dates(campaign: &Campaign, time_zone: &str, now: Timestamp) -> CampaignDates {
    if campaign.valid_from.is_none() && campaign.valid_until.is_none() {
        return CampaignDates::Within;
    }
    let Some(moment) = super::local_time::time_zone(time_zone).and_then(|zone| local(now, &zone)) else {
        return CampaignDates::Before;
    };
    if let Some(from) = &campaign.valid_from {
        if parse_date(from).is_none_or(|from| moment.date < from) {
            return CampaignDates::Before;
        }
    }
    match &campaign.valid_until {
        Some(until) if parse_date(until).is_none_or(|until| moment.date > until) => CampaignDates::After,
        _ => CampaignDates::Within,
    }
}

fn gate(
    campaign: &Campaign,
    facts: &Facts<'_>,
    moment: Option<LocalMoment>,
) -> Result<Effect, (&'static str, Option<String>)> {
    let effect = campaign.effect.effect().ok_or(("unsupported_effect", None))?;
    let timed = campaign.valid_from.is_some() || campaign.valid_until.is_some() || campaign.schedule.is_some();
    if timed {
        // Without a readable time zone or date the till cannot know the campaign runs, so it
        // does not; the validator refuses such programs before they reach a till.
        let moment = moment.ok_or(("outside_schedule", None))?;
        if let Some(from) = &campaign.valid_from {
            if parse_date(from).is_none_or(|from| moment.date < from) {
                return Err(("not_yet_valid", Some(from.clone())));
            }
        }
        if let Some(until) = &campaign.valid_until {
            if parse_date(until).is_none_or(|until| moment.date > until) {
                return Err(("expired", Some(until.clone())));
            }
        }
        if let Some(schedule) = &campaign.schedule {
            let day_ok = schedule.days.is_empty() || schedule.days.iter().any(|d| parse_day(d) == Some(moment.weekday));
            let from = schedule.from.as_deref().map_or(Some(0), |t| parse_time(t, false));
            let to = schedule.to.as_deref().map_or(Some(24 * 60), |t| parse_time(t, true));
            let time_ok = matches!((from, to), (Some(from), Some(to)) if from <= moment.minute && moment.minute < to);
            if !day_ok || !time_ok {
                return Err(("outside_schedule", None));
            }
        }
    }
    let conditions = &campaign.conditions;
    let gives_points = matches!(effect, Effect::PointsMultiplier(_) | Effect::ExtraPoints(_));
    let needs_customer = gives_points
        || matches!(effect, Effect::StampCard(_))
        || campaign.limit_per_customer.is_some()
        || !conditions.tiers.is_empty()
        || !conditions.tags.is_empty()
        || conditions.first_purchase;
    let Some(tier) = facts.tier else {
        return if needs_customer {
            Err(("no_customer", None))
        } else {
            check_receipt(campaign, facts).map(|()| effect)
        };
    };
    check_receipt(campaign, facts)?;
    let condition = |name: &str| Err(("condition_not_met", Some(name.to_owned())));
    if !conditions.tiers.is_empty() && !matches_any(&conditions.tiers, tier) {
        return condition("tiers");
    }
    if !conditions.tags.is_empty() && !facts.context.tags.iter().any(|tag| matches_any(&conditions.tags, Some(tag))) {
        return condition("tags");
    }
    if conditions.first_purchase && !facts.context.first_purchase {
        return condition("first_purchase");
    }
    if gives_points && !facts.earns {
        return Err(("discount_group", None));
    }
    if let Some(limit) = &campaign.limit_per_customer {
        if facts.context.uses.get(&campaign.id).copied().unwrap_or(0) >= limit.count {
            return Err(("limit_reached", Some(limit.count.to_string())));
        }
    }
    match facts.context.budgets.get(&campaign.id) {
        Some(BudgetState::Stopped) => Err(("budget_spent", None)),
        Some(BudgetState::Allowance(left)) if gives_points && *left <= 0 => Err(("till_allowance_spent", None)),
        _ => Ok(effect),
    }
}

/// The conditions about the receipt itself, which hold for anonymous quotes too.
fn check_receipt(campaign: &Campaign, facts: &Facts<'_>) -> Result<(), (&'static str, Option<String>)> {
    let conditions = &campaign.conditions;
    if !conditions.stores.is_empty() && !matches_any(&conditions.stores, facts.context.store.as_deref()) {
        return Err(("condition_not_met", Some("stores".into())));
    }
    if facts.subtotal < conditions.min_receipt.0 {
        return Err(("condition_not_met", Some("min_receipt".into())));
    }
    Ok(())
}

/// Step 1 of the calculation, before promo codes: the discount effects (discount_percent,
/// discount_amount, stamp cards' free units), each on what the campaigns before it left of its
/// lines. Answers the outcome so far and the campaign discount per line (never above a line's
/// `amounts`, the eligible amounts, so no line goes below 0).
pub(crate) fn discounts<'p>(
    plan: Plan<'p>,
    facts_lines: &[CalcLine],
    amounts: &[i64],
    context: &CampaignContext,
) -> Result<(Outcome<'p>, Vec<i64>), RulesError> {
    let mut left: Vec<i64> = amounts.to_vec();
    let mut given = vec![vec![Given::default(); amounts.len()]; plan.active.len()];
    for (slot, active) in plan.active.iter().enumerate() {
        let row = &mut given[slot];
        match active.effect {
            Effect::DiscountPercent(percent) => {
                let percent = i128::from(percent.clamp(0, 100));
                for &i in &active.lines {
                    let base = left.get(i).copied().unwrap_or(0).max(0);
                    let off = i64::try_from(i128::from(base) * percent / 100).map_err(|_| RulesError::Overflow)?;
                    row[i].discount = off;
                    left[i] -= off;
                }
            }
            Effect::DiscountAmount(amount) => {
                let weights: Vec<i64> = active.lines.iter().map(|&i| left.get(i).copied().unwrap_or(0)).collect();
                let room =
                    weights.iter().try_fold(0i64, |s, &w| s.checked_add(w.max(0))).ok_or(RulesError::Overflow)?;
                let shares = spread(amount.0.clamp(0, room), &weights)?;
                for (&i, off) in active.lines.iter().zip(shares) {
                    row[i].discount = off;
                    left[i] -= off;
                }
            }
            Effect::StampCard(card) => {
                let per_reward = card.stamps_for_reward.max(1);
                let mut held = context.stamps.get(&active.campaign.id).copied().unwrap_or(0).max(0);
                for &i in &active.lines {
                    let Some(line) = facts_lines.get(i) else { continue };
                    let units = line.quantity.0.max(0) / 1000;
                    let stamps = stamp_units(units, per_reward, &mut held);
                    let free_value = line.price.0.max(0).saturating_mul(stamps.free);
                    let off = free_value.min(left.get(i).copied().unwrap_or(0).max(0));
                    row[i].discount = off;
                    left[i] -= off;
                    row[i].stamps = Some(StampResult {
                        earned: stamps.earned,
                        used: stamps.used,
                        after: held,
                        for_reward: per_reward,
                    });
                }
            }
            Effect::PointsMultiplier(_) | Effect::ExtraPoints(_) => {}
        }
    }
    let line_discounts: Vec<i64> = amounts.iter().zip(&left).map(|(&a, &l)| a - l).collect();
    Ok((Outcome { plan, given }, line_discounts))
}

struct Stamps {
    earned: i64,
    used: i64,
    free: i64,
}

/// `units` matching units bought with `held` stamps on a card of `per_reward`: each unit either
/// is free (when `per_reward` stamps are held; they are spent) or earns a stamp. Closed form, so
/// a million units cost no more than one.
fn stamp_units(units: i64, per_reward: i64, held: &mut i64) -> Stamps {
    let mut s = Stamps { earned: 0, used: 0, free: 0 };
    let mut units = units.max(0);
    // Rewards already held (a count above the card, say after the card was shortened).
    let from_held = units.min(*held / per_reward);
    s.free += from_held;
    s.used = s.used.saturating_add(from_held.saturating_mul(per_reward));
    *held -= from_held.saturating_mul(per_reward);
    units -= from_held;
    if units == 0 {
        return s;
    }
    let first = units.min(per_reward - *held);
    s.earned += first;
    *held += first;
    units -= first;
    if units == 0 {
        return s;
    }
    // Now `held == per_reward`: the rest is cycles of one free unit and `per_reward` earning ones.
    let cycle = per_reward.saturating_add(1);
    let (cycles, rest) = (units / cycle, units % cycle);
    s.free += cycles;
    s.used = s.used.saturating_add(cycles.saturating_mul(per_reward));
    s.earned = s.earned.saturating_add(cycles.saturating_mul(per_reward));
    if rest > 0 {
        s.free += 1;
        s.used = s.used.saturating_add(per_reward);
        s.earned += rest - 1;
        *held = rest - 1;
    }
    s
}

/// Step 5 of the calculation, after the ordinary accrual: multipliers (each adds `m − 1` times
/// the points its lines earn, so stacking campaigns add up) and extra points, each capped by the
/// till's allowance for the campaign. `base_earn` and `paid` are per line. Answers the campaign
/// points per line.
pub(crate) fn accrue(
    outcome: &mut Outcome<'_>,
    lines: &[CalcLine],
    base_earn: &[i64],
    amounts: &[i64],
    context: &CampaignContext,
) -> Result<Vec<i64>, RulesError> {
    let mut extra = vec![0i64; base_earn.len()];
    for (slot, active) in outcome.plan.active.iter().enumerate() {
        let wide = |v: i128| i64::try_from(v).map_err(|_| RulesError::Overflow);
        let mut points: Vec<i64> = match active.effect {
            Effect::PointsMultiplier(m) => active
                .lines
                .iter()
                .map(|&i| wide(i128::from(base_earn.get(i).copied().unwrap_or(0)) * i128::from(m.max(1) - 1)))
                .collect::<Result<_, _>>()?,
            Effect::ExtraPoints(bonus) => match bonus.per {
                PointsPer::Receipt => {
                    let weights: Vec<i64> =
                        active.lines.iter().map(|&i| amounts.get(i).copied().unwrap_or(0)).collect();
                    apportion(bonus.points.max(0), &weights)
                }
                PointsPer::Line => active.lines.iter().map(|_| bonus.points.max(0)).collect(),
                PointsPer::Unit => active
                    .lines
                    .iter()
                    .map(|&i| {
                        let units = lines.get(i).map_or(0, |line| line.quantity.0.max(0) / 1000);
                        wide(i128::from(bonus.points.max(0)) * i128::from(units))
                    })
                    .collect::<Result<_, _>>()?,
            },
            _ => continue,
        };
        if let Some(BudgetState::Allowance(left)) = context.budgets.get(&active.campaign.id) {
            let total = points.iter().try_fold(0i64, |s, &p| s.checked_add(p)).ok_or(RulesError::Overflow)?;
            if total > *left {
                points = spread((*left).max(0), &points)?;
            }
        }
        for (&i, p) in active.lines.iter().zip(points) {
            outcome.given[slot][i].points = p;
            extra[i] = extra[i].checked_add(p).ok_or(RulesError::Overflow)?;
        }
    }
    Ok(extra)
}

/// Splits `total` over `weights` by largest remainder like `spread`, but `total` may exceed
/// the weights (points are not bounded by money); with no weight at all, the first line takes it.
fn apportion(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|&w| i128::from(w.max(0))).sum();
    let mut shares = vec![0i64; weights.len()];
    if weights.is_empty() {
        return shares;
    }
    if sum == 0 {
        shares[0] = total;
        return shares;
    }
    let total_wide = i128::from(total);
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    let mut placed: i128 = 0;
    for (i, &w) in weights.iter().enumerate() {
        let scaled = total_wide * i128::from(w.max(0));
        // Each share is at most `total`, which is an i64.
        shares[i] = i64::try_from(scaled / sum).unwrap_or(0);
        placed += scaled / sum;
        remainders.push((scaled % sum, i));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total_wide - placed;
    for (_, i) in remainders {
        if left <= 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

impl Outcome<'_> {
    /// The campaigns that gave something on line `i`.
    pub(crate) fn line(&self, i: usize) -> Vec<CampaignGain> {
        let mut gains = Vec::new();
        for (slot, active) in self.plan.active.iter().enumerate() {
            let Some(given) = self.given.get(slot).and_then(|row| row.get(i)) else { continue };
            if given.points != 0 || given.discount != 0 || given.stamps.is_some() {
                gains.push(gain(active.campaign, given.points, given.discount, given.stamps));
            }
        }
        gains
    }

    /// The receipt's campaigns: what each gave in all, and the skipped ones (a campaign that
    /// applied but gave nothing becomes `nothing_to_give`).
    pub(crate) fn totals(self) -> Result<(Vec<CampaignGain>, Vec<CampaignSkipped>), RulesError> {
        let mut applied = Vec::new();
        let mut skipped = self.plan.skipped;
        for (slot, active) in self.plan.active.iter().enumerate() {
            let row = self.given.get(slot).map(Vec::as_slice).unwrap_or(&[]);
            let add = |f: fn(&Given) -> i64| row.iter().try_fold(0i64, |s, g| s.checked_add(f(g)));
            let points = add(|g| g.points).ok_or(RulesError::Overflow)?;
            let discount = add(|g| g.discount).ok_or(RulesError::Overflow)?;
            let stamps = row.iter().filter_map(|g| g.stamps).reduce(|a, b| StampResult {
                earned: a.earned.saturating_add(b.earned),
                used: a.used.saturating_add(b.used),
                after: b.after,
                for_reward: b.for_reward,
            });
            let moved = stamps.is_some_and(|s| s.earned != 0 || s.used != 0);
            if points == 0 && discount == 0 && !moved {
                skipped.push(skip(active.campaign, "nothing_to_give", None));
            } else {
                applied.push(gain(active.campaign, points, discount, stamps));
            }
        }
        Ok((applied, skipped))
    }
}

fn gain(campaign: &Campaign, points: i64, discount: i64, stamps: Option<StampResult>) -> CampaignGain {
    CampaignGain {
        id: campaign.id.clone(),
        name: campaign.display_name().to_owned(),
        points,
        discount: Money(discount),
        stamps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_units_follow_the_card() {
        let run = |units, per, held| {
            let mut held = held;
            let s = stamp_units(units, per, &mut held);
            (s.earned, s.used, s.free, held)
        };
        // Five stamps earn the sixth unit free, then the count starts again.
        assert_eq!(run(6, 5, 0), (5, 5, 1, 0));
        assert_eq!(run(1, 5, 5), (0, 5, 1, 0));
        assert_eq!(run(2, 5, 4), (1, 5, 1, 0));
        assert_eq!(run(3, 5, 4), (2, 5, 1, 1));
        assert_eq!(run(13, 5, 0), (11, 10, 2, 1));
        assert_eq!(run(0, 5, 3), (0, 0, 0, 3));
        assert_eq!(run(2, 5, 12), (0, 10, 2, 2), "rewards already held are spent first");
        // Brute force agrees with the closed form.
        for per in 1..6 {
            for held0 in 0..12 {
                for units in 0..20 {
                    let (mut held, mut earned, mut used, mut free) = (held0, 0, 0, 0);
                    for _ in 0..units {
                        if held >= per {
                            held -= per;
                            used += per;
                            free += 1;
                        } else {
                            held += 1;
                            earned += 1;
                        }
                    }
                    assert_eq!(
                        run(units, per, held0),
                        (earned, used, free, held),
                        "{units} units, card {per}, {held0} held"
                    );
                }
            }
        }
        // Hostile sizes do not overflow.
        let _ = run(i64::MAX, i64::MAX, i64::MAX);
        let _ = run(1_000_000, 1, 0);
    }

    #[test]
    fn apportion_places_every_point() {
        assert_eq!(apportion(50, &[20_000, 10_000]), vec![33, 17]);
        assert_eq!(apportion(50, &[0, 0]), vec![50, 0]);
        assert_eq!(apportion(7, &[1, 1, 1]), vec![3, 2, 2]);
        assert_eq!(apportion(0, &[]), Vec::<i64>::new());
    }
}
