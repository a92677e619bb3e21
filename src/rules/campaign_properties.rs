//! Property tests of campaigns (issue 12): over 10,000 generated receipts and programs with up
//! to 20 campaigns, the line discounts add up to the total, no line goes below 0, points are
//! never negative, the answer does not depend on the order campaigns are listed in, and a full
//! return reverses exactly what the receipt got. (That the cloud's checks take such a receipt
//! as the till priced it is `cloud::ledger`'s property test, over these generators.)

use super::properties::sold_lines;
use super::tests::line;
use super::*;
use proptest::prelude::*;
use serde_json::json;

/// 2026-12-01 13:30 UTC, a Tuesday; generated moments fall in the week around it.
pub(crate) const NOW: Timestamp = 1_796_131_800;

fn effect() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (1i64..=5).prop_map(|m| json!({"points_multiplier": m})),
        (1i64..=500, 0usize..3).prop_map(|(points, per)| {
            let per = ["receipt", "line", "unit"][per];
            json!({"extra_points": {"points": points, "per": per}})
        }),
        (1i64..=100).prop_map(|p| json!({"discount_percent": p})),
        (1i64..=200_000).prop_map(|a| json!({"discount_amount": a})),
        (1i64..=6).prop_map(|n| json!({"stamp_card": {"stamps_for_reward": n}})),
    ]
}

fn subset(names: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(names), 0..3)
}

fn campaign(index: usize) -> impl Strategy<Value = serde_json::Value> {
    (
        (0i64..4, any::<bool>(), effect()),
        (subset(&["a", "b", "c"]), subset(&["S0", "S1", "S2", "S3"]), prop_oneof![Just(0i64), 0i64..50_000]),
        (
            prop::option::of((subset(&["mon", "tue", "wed", "sun"]), 0u32..20, 1u32..5)),
            prop::option::of((0i64..2, 0i64..3)),
            prop::option::of(1i64..3),
        ),
    )
        .prop_map(
            move |((priority, exclusive, effect), (categories, skus, min_receipt), (schedule, dates, limit))| {
                let mut categories = categories;
                // A stamp card needs lines to count; the validator insists on it.
                if effect.get("stamp_card").is_some() && categories.is_empty() && skus.is_empty() {
                    categories.push("a");
                }
                let mut campaign = json!({
                    "id": format!("c{index:02}"),
                    "priority": priority,
                    "stacking": if exclusive { "exclusive" } else { "stack" },
                    "effect": effect,
                    "conditions": {"categories": categories, "skus": skus, "min_receipt": min_receipt},
                });
                if let Some((days, from, length)) = schedule {
                    let to = (from + length * 2).min(24);
                    campaign["schedule"] =
                        json!({"days": days, "from": format!("{from:02}:00"), "to": format!("{to:02}:00")});
                }
                if let Some((before, after)) = dates {
                    campaign["valid_from"] = json!(format!("2026-11-{:02}", 29 + before));
                    campaign["valid_until"] = json!(format!("2026-12-{:02}", 1 + after));
                }
                if let Some(count) = limit {
                    campaign["limit_per_customer"] = json!({"count": count, "period": "day"});
                }
                campaign
            },
        )
}

pub(crate) fn campaigns() -> impl Strategy<Value = Vec<serde_json::Value>> {
    (0usize..=20).prop_flat_map(|count| (0..count).map(campaign).collect::<Vec<_>>())
}

pub(crate) fn lines() -> impl Strategy<Value = Vec<CalcLine>> {
    prop::collection::vec(
        (
            0usize..6,
            prop::option::of(prop::sample::select(&["a", "b", "c", "tobacco"][..])),
            0i64..100_000,
            prop_oneof![1i64..5000, (1i64..4).prop_map(|n| n * 1000)],
        ),
        1..12,
    )
    .prop_map(|lines| {
        lines
            .into_iter()
            .map(|(sku, category, price, quantity)| line(&format!("S{sku}"), category, price, quantity))
            .collect()
    })
}

pub(crate) fn context() -> impl Strategy<Value = CampaignContext> {
    (
        prop::collection::btree_map((0usize..20).prop_map(|i| format!("c{i:02}")), 0i64..12, 0..6),
        prop::collection::btree_map((0usize..20).prop_map(|i| format!("c{i:02}")), 0i64..3, 0..6),
        prop::collection::btree_map(
            (0usize..20).prop_map(|i| format!("c{i:02}")),
            prop_oneof![Just(BudgetState::Stopped), (0i64..100).prop_map(BudgetState::Allowance)],
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(stamps, uses, budgets, first_purchase)| CampaignContext {
            stamps,
            uses,
            budgets,
            first_purchase,
            ..CampaignContext::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn campaigns_keep_the_receipt_whole_and_do_not_depend_on_their_order(
        campaigns in campaigns(),
        lines in lines(),
        context in context(),
        (accrual, point_value, available, redeem_max) in (0i64..=20, 1i64..=200, 0i64..20_000, any::<bool>()),
        offset in -(7 * DAY)..(7 * DAY),
    ) {
        let program: Program = serde_json::from_value(json!({
            "campaigns": campaigns,
            "accrual_percent": accrual,
            "point_value": point_value,
            "excluded_categories": ["tobacco"],
        })).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(program.validate(), Ok(()));
        let customer = Some(CustomerPoints { balance: available, available, paid_total: Money(0) });
        let redeem = if redeem_max { Redeem::Max } else { Redeem::None };
        let now = NOW + offset;
        let input = CalcInput { program: &program, customer, lines: &lines, redeem, promo_codes: &[], now, campaigns: &context };
        let result = calculate(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;

        prop_assert_eq!(result.lines.iter().map(|l| l.discount.0).sum::<i64>(), result.discount.0);
        prop_assert_eq!(result.subtotal.0 - result.discount.0, result.total.0);
        prop_assert_eq!(result.lines.iter().map(|l| l.earn).sum::<i64>(), result.points.earn);
        prop_assert!(result.points.earn >= 0);
        for line in &result.lines {
            prop_assert!(line.paid.0 >= 0 && line.paid <= line.amount, "{:?}", line);
            prop_assert!(line.earn >= 0);
            prop_assert!(line.campaigns.iter().map(|c| c.points).sum::<i64>() <= line.earn);
            prop_assert!(line.campaigns.iter().map(|c| c.discount.0).sum::<i64>() <= line.promo_discount.0);
            prop_assert!(line.campaigns.iter().all(|c| c.points >= 0 && c.discount.0 >= 0));
        }
        for applied in &result.campaigns {
            let on_lines: (i64, i64) = result.lines.iter().flat_map(|l| &l.campaigns).filter(|c| c.id == applied.id)
                .fold((0, 0), |(p, d), c| (p + c.points, d + c.discount.0));
            prop_assert_eq!(on_lines, (applied.points, applied.discount.0));
            if let Some(BudgetState::Allowance(left)) = context.budgets.get(&applied.id) {
                prop_assert!(applied.points <= *left, "a till gives no more than its allowance");
            }
        }

        // Same input, same answer; and the order the program lists campaigns in is irrelevant.
        prop_assert_eq!(&calculate(&input).map_err(|e| TestCaseError::fail(e.to_string()))?, &result);
        let mut listed_backwards = program.clone();
        listed_backwards.campaigns.reverse();
        let reversed = CalcInput { program: &listed_backwards, ..input };
        prop_assert_eq!(&calculate(&reversed).map_err(|e| TestCaseError::fail(e.to_string()))?, &result);

        // A full return gives back exactly what the receipt got: money, campaign points included.
        match plan_return(&sold_lines(&result), None) {
            Ok(plan) => {
                prop_assert_eq!(plan.refund, result.total);
                prop_assert_eq!(plan.points_taken_back, result.points.earn);
                prop_assert_eq!(plan.points_given_back, result.points.redeem);
            }
            Err(RulesError::NothingToReturn) => prop_assert!(false, "a sale always has something to return"),
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        }
    }
}
