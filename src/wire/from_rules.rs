//! The rules' answers in the wire's shape, written once for both servers: a calculation
//! (`rules::Calculation` → `Calculation`, the agent's receipts and the cloud's MoySklad ledger)
//! and a customer's next tier.

use super::{
    Calculation, CampaignApplied, CampaignNotApplied, LimitApplied, LineResult, NextTier, PointsQuote, PromoApplied,
    StampsMoved,
};

/// The rules' answer in the wire's shape; `committed` is the receipt id and its commit time.
pub fn to_wire(
    calc: &crate::rules::Calculation,
    customer_id: Option<String>,
    committed: Option<(&str, i64)>,
) -> Calculation {
    Calculation {
        id: committed.map(|(id, _)| id.to_owned()),
        customer_id,
        program_version: calc.program_version,
        tier: calc.tier.clone(),
        subtotal: calc.subtotal.0,
        discount: calc.discount.0,
        total: calc.total.0,
        points: PointsQuote {
            balance: calc.points.balance,
            available: calc.points.available,
            max_redeem: calc.points.max_redeem,
            redeem: calc.points.redeem,
            earn: calc.points.earn,
            balance_after: calc.points.balance_after,
        },
        lines: calc
            .lines
            .iter()
            .map(|line| LineResult {
                sku: line.sku.clone(),
                name: line.name.clone(),
                category: line.category.clone(),
                quantity: line.quantity.clone(),
                price: line.price.0,
                amount: line.amount.0,
                excluded: line.excluded,
                promo_discount: line.promo_discount.0,
                points_discount: line.points_discount.0,
                discount: line.discount.0,
                paid: line.paid.0,
                earn: line.earn,
                redeem_points: line.redeem_points,
                campaigns: line.campaigns.iter().map(campaign).collect(),
            })
            .collect(),
        promo_codes: calc
            .promo_codes
            .iter()
            .map(|promo| PromoApplied { code: promo.code.clone(), discount: promo.discount.0 })
            .collect(),
        limits: calc
            .limits
            .iter()
            .map(|limit| LimitApplied { code: limit.code.to_owned(), message: limit.message.clone() })
            .collect(),
        campaigns: calc.campaigns.iter().map(campaign).collect(),
        campaigns_not_applied: calc
            .campaigns_skipped
            .iter()
            .map(|skipped| CampaignNotApplied {
                id: skipped.id.clone(),
                name: skipped.name.clone(),
                reason: skipped.reason.to_owned(),
                detail: skipped.detail.clone(),
            })
            .collect(),
        committed_at: committed.map(|(_, at)| crate::clock::rfc3339(at)),
    }
}

fn campaign(gain: &crate::rules::CampaignGain) -> CampaignApplied {
    CampaignApplied {
        id: gain.id.clone(),
        name: gain.name.clone(),
        points: gain.points,
        discount: gain.discount.0,
        stamps: gain.stamps.map(|s| StampsMoved {
            earned: s.earned,
            used: s.used,
            after: s.after,
            for_reward: s.for_reward,
        }),
    }
}

impl NextTier {
    /// The next tier of `program` for a customer who has paid `paid_total`.
    pub fn of(program: &crate::rules::Program, paid_total: crate::rules::Money) -> Option<NextTier> {
        program.next_tier(paid_total).map(|(tier, remaining)| NextTier {
            name: tier.name.clone(),
            threshold: tier.threshold.0,
            remaining: remaining.0,
        })
    }
}
