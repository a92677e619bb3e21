//! The arithmetic checks on hand-built sales and returns.

use serde_json::json;

use super::*;

/// 250.00 receipt, 171 points spent, 3 earned — the worked example as a till sends it.
fn sale() -> SaleEvent {
    serde_json::from_value(json!({
        "receipt": {
            "id": "r1", "customer_id": "c1", "program_version": 1, "tier": null,
            "subtotal": 25000, "discount": 17100, "total": 7900,
            "points": { "balance": 171, "available": 171, "max_redeem": 171, "redeem": 171, "earn": 3, "balance_after": 3 },
            "lines": [{ "sku": "beans", "name": null, "category": null, "quantity": "1", "price": 25000, "amount": 25000,
                        "excluded": false, "promo_discount": 0, "points_discount": 17100, "discount": 17100,
                        "paid": 7900, "earn": 3, "redeem_points": 171 }],
            "promo_codes": [], "limits": []
        },
        "request": { "id": "r1", "customer": { "id": "c1" },
                     "lines": [{ "sku": "beans", "quantity": "1", "price": 25000 }], "redeem": "max" }
    }))
    .expect("a sale event")
}

#[test]
fn the_worked_example_adds_up() {
    let figures = check_sale(&sale(), Some(&Program::default())).expect("consistent");
    assert_eq!((figures.total, figures.earn, figures.redeem), (7900, 3, 171));
    assert_eq!(figures.lines, vec![SoldLine { quantity: 1000, paid: 7900, earn: 3, redeem_points: 171 }]);
}

#[test]
fn wrong_figures_are_refused() {
    type Spoil = fn(&mut SaleEvent);
    let cases: Vec<(&str, Spoil)> = vec![
        ("total", |s| s.receipt.total = 8000),
        ("line paid", |s| s.receipt.lines[0].paid = 8000),
        ("earn", |s| s.receipt.points.earn = 4),
        ("redeem", |s| s.receipt.points.redeem = 170),
        ("negative", |s| s.receipt.lines[0].earn = -3),
        ("discount split", |s| s.receipt.lines[0].promo_discount = 1),
        ("overflow", |s| s.receipt.lines[0].amount = i64::MAX),
        ("absurd", |s| {
            s.receipt.lines[0].amount = MAX_FIGURE + 1;
            s.receipt.lines[0].paid = MAX_FIGURE + 1 - 17100;
        }),
    ];
    for (name, spoil) in cases {
        let mut event = sale();
        spoil(&mut event);
        let refusal = check_sale(&event, Some(&Program::default())).expect_err(name);
        assert_eq!(refusal.code, "bad_arithmetic", "{name}: {refusal:?}");
    }
    // A point worth 2.00 under the named program: 171 points cannot be a 171.00 discount.
    let dear = Program { point_value: 200, ..Program::default() };
    assert_eq!(check_sale(&sale(), Some(&dear)).unwrap_err().code, "bad_arithmetic");
    assert!(check_sale(&sale(), None).is_ok(), "without the program the point value is not checked");
}

#[test]
fn returns_cannot_exceed_the_sale() {
    let sold = vec![(SoldLine { quantity: 1000, paid: 7900, earn: 3, redeem_points: 171 }, Returned::default())];
    let event = |refund: i64, taken: i64, given: i64| -> ReturnEvent {
        serde_json::from_value(json!({
            "return": { "id": "ret1", "receipt_id": "r1", "customer_id": "c1",
                        "lines": [{ "line": 0, "sku": "beans", "quantity": "1", "refund": refund,
                                    "points_taken_back": taken, "points_given_back": given }],
                        "refund": refund, "points_taken_back": taken, "points_given_back": given,
                        "balance_after": 171, "created_at": "2026-01-01T00:00:00Z" },
            "request": { "id": "ret1", "all": true }
        }))
        .expect("a return event")
    };
    let after = check_return(&event(7900, 3, 171), &sold).expect("a full return");
    assert_eq!(after[0].1, Returned { quantity: 1000, refunded: 7900, earn_taken_back: 3, redeem_given_back: 171 });
    assert_eq!(check_return(&event(7901, 3, 171), &sold).unwrap_err().code, "return_exceeds_sale");
    assert_eq!(check_return(&event(7900, 4, 171), &sold).unwrap_err().code, "return_exceeds_sale");
    let mut wrong_sum = event(7900, 3, 171);
    wrong_sum.result.refund = 100;
    assert_eq!(check_return(&wrong_sum, &sold).unwrap_err().code, "bad_arithmetic");
}

/// What a sale says its campaigns gave must fit the line and the receipt's totals.
#[test]
fn campaign_figures_that_do_not_add_up_are_refused() {
    let with = |line: serde_json::Value, total: serde_json::Value| {
        let mut event = serde_json::to_value(sale()).expect("json");
        event["receipt"]["lines"][0]["campaigns"] = line;
        event["receipt"]["campaigns"] = total;
        let event: SaleEvent = serde_json::from_value(event).expect("a sale event");
        check_sale(&event, Some(&Program::default())).map(|_| ()).map_err(|r| r.code)
    };
    let gain = |points: i64| json!({"id": "x2", "name": "x2", "points": points, "discount": 0});
    assert_eq!(with(json!([gain(2)]), json!([gain(2)])), Ok(()), "2 of the line's 3 points");
    assert_eq!(with(json!([gain(4)]), json!([gain(4)])), Err("bad_arithmetic"), "more than the line earned");
    assert_eq!(with(json!([gain(2)]), json!([gain(3)])), Err("bad_arithmetic"), "a total that is not its lines'");
    assert_eq!(with(json!([gain(2)]), json!([])), Err("bad_arithmetic"), "a line's campaign missing from the totals");
    assert_eq!(with(json!([gain(-1)]), json!([gain(-1)])), Err("bad_arithmetic"), "negative points");
    assert_eq!(with(json!([gain(1)]), json!([gain(1), gain(0)])), Err("bad_arithmetic"), "listed twice");
    let stamps = json!({"id": "card", "name": "card", "points": 0, "discount": 0, "stamps": {"earned": 1, "used": 0, "after": 1}});
    assert_eq!(with(json!([stamps.clone()]), json!([stamps.clone()])), Ok(()));
    let mut more = stamps.clone();
    more["stamps"]["earned"] = json!(2);
    assert_eq!(with(json!([stamps]), json!([more])), Err("bad_arithmetic"), "stamps that are not the lines'");
}

mod campaign_receipts {
    use proptest::prelude::*;
    use serde_json::json;

    use crate::rules::campaign_properties::{campaigns, context, lines, NOW};
    use crate::rules::{calculate, CalcInput, CustomerPoints, Program, Redeem};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        /// Issue 12: what a till prices with up to 20 campaigns, the cloud takes as the till
        /// priced it — its checks of the figures, what each campaign gave included, pass.
        #[test]
        fn the_cloud_takes_a_receipt_with_campaigns_as_the_till_priced_it(
            campaigns in campaigns(),
            lines in lines(),
            context in context(),
            (accrual, point_value, available, redeem_max) in (0i64..=20, 1i64..=200, 0i64..20_000, any::<bool>()),
        ) {
            let program: Program = serde_json::from_value(json!({
                "campaigns": campaigns, "accrual_percent": accrual, "point_value": point_value,
                "excluded_categories": ["tobacco"],
            })).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let customer = Some(CustomerPoints { balance: available, available, paid_total: crate::rules::Money(0) });
            let redeem = if redeem_max { Redeem::Max } else { Redeem::None };
            let input = CalcInput { program: &program, customer, lines: &lines, redeem, promo_codes: &[], now: NOW, campaigns: &context };
            let result = calculate(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let receipt = crate::wire::to_wire(&result, Some("c1".into()), Some(("r1", NOW)));
            let request_lines: Vec<_> = lines
                .iter()
                .map(|l| json!({"sku": l.sku, "category": l.category, "quantity": l.quantity.to_decimal_string(), "price": l.price.0}))
                .collect();
            let sale: crate::wire::SaleEvent = serde_json::from_value(json!({
                "receipt": receipt, "request": {"id": "r1", "customer": {"id": "c1"}, "lines": request_lines},
            })).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let checked = super::check_sale(&sale, Some(&program));
            prop_assert!(checked.is_ok(), "the cloud refused the till's receipt: {:?}", checked);
        }
    }
}
