//! Tests of [`calculate`](super::calculate) by example: the worked examples of CONTRACTS.md §calculation, promo
//! codes, tiers, discount groups and the input checks. Property tests live in `properties.rs`.

use super::*;

pub(super) fn line(sku: &str, category: Option<&str>, price: i64, quantity: i64) -> CalcLine {
    CalcLine {
        sku: sku.to_string(),
        name: None,
        category: category.map(str::to_string),
        quantity: Quantity(quantity),
        price: Money(price),
    }
}

fn customer(available: i64) -> Option<CustomerPoints> {
    Some(CustomerPoints { balance: available, available, paid_total: Money(0) })
}

fn quote(program: &Program, customer: Option<CustomerPoints>, lines: &[CalcLine], redeem: Redeem) -> Calculation {
    try_quote(program, customer, lines, redeem, &[]).expect("the receipt prices")
}

fn try_quote(
    program: &Program,
    customer: Option<CustomerPoints>,
    lines: &[CalcLine],
    redeem: Redeem,
    promo_codes: &[(String, PromoUsage)],
) -> Result<Calculation, RulesError> {
    calculate(&CalcInput {
        program,
        customer,
        lines,
        redeem,
        promo_codes,
        now: 1_000,
        campaigns: CampaignContext::neutral(),
    })
}

fn codes(calculation: &Calculation) -> Vec<&'static str> {
    calculation.limits.iter().map(|limit| limit.code).collect()
}

#[test]
fn worked_example_1_redeem_max_on_250() {
    let program = Program::default();
    let result = quote(&program, customer(171), &[line("A", None, 25_000, 1000)], Redeem::Max);
    assert_eq!((result.points.max_redeem, result.points.redeem), (171, 171));
    assert_eq!((result.subtotal, result.discount, result.total), (Money(25_000), Money(17_100), Money(7_900)));
    // 79.00 × 5 % = 3.95 points, floored.
    assert_eq!(result.points.earn, 3);
    // 171 − 171 + 3.
    assert_eq!(result.points.balance_after, 3);
    assert_eq!(codes(&result), vec!["available_points"]);
    let only = result.lines.first().expect("one line");
    assert_eq!((only.points_discount, only.paid, only.earn, only.redeem_points), (Money(17_100), Money(7_900), 3, 171));
}

#[test]
fn worked_example_2_cap_50_percent() {
    let program = Program { redeem_cap_percent: 50, ..Program::default() };
    let result = quote(&program, customer(171), &[line("A", None, 25_000, 1000)], Redeem::Max);
    assert_eq!((result.points.max_redeem, result.points.redeem), (125, 125));
    assert_eq!(result.total, Money(12_500));
    assert_eq!(codes(&result), vec!["redeem_cap"]);
    let error = try_quote(&program, customer(171), &[line("A", None, 25_000, 1000)], Redeem::Points(126), &[]);
    assert_eq!(error, Err(RulesError::RedeemAboveLimit { requested: 126, max: 125, bound_by: "redeem_cap" }));
}

#[test]
fn worked_example_3_tobacco_gets_nothing() {
    let program = Program { excluded_categories: vec!["tobacco".into()], ..Program::default() };
    let lines = [line("MILK", Some("dairy"), 10_000, 1000), line("CIGS", Some("Tobacco"), 20_000, 1000)];
    let result = quote(&program, customer(1_000), &lines, Redeem::Max);
    let [milk, cigs] = result.lines.as_slice() else { panic!("two lines") };
    assert!(cigs.excluded && !milk.excluded);
    assert_eq!((cigs.discount, cigs.paid, cigs.earn, cigs.redeem_points), (Money(0), Money(20_000), 0, 0));
    // Only the milk is eligible: 100 points pay it in full and nothing is left to earn on.
    assert_eq!((result.points.redeem, milk.paid, result.total), (100, Money(0), Money(20_000)));
    assert_eq!(result.points.earn, 0);
    assert_eq!(codes(&result), vec!["excluded_lines", "redeem_cap", "min_payable"]);

    let without_points = quote(&program, customer(0), &lines, Redeem::None);
    let cigs = without_points.lines.get(1).expect("two lines");
    assert_eq!((cigs.earn, without_points.points.earn), (0, 5));
}

#[test]
fn an_all_excluded_receipt_names_the_exclusion() {
    let program = Program { excluded_skus: vec!["cigs".into()], ..Program::default() };
    let lines = [line("CIGS", None, 20_000, 1000)];
    let error = try_quote(&program, customer(50), &lines, Redeem::Points(1), &[]);
    assert_eq!(error, Err(RulesError::RedeemAboveLimit { requested: 1, max: 0, bound_by: "excluded_lines" }));
}

#[test]
fn min_payable_keeps_money_on_the_receipt() {
    let program = Program { min_payable: Money(100), ..Program::default() };
    let result = quote(&program, customer(1_000), &[line("A", None, 25_050, 1000)], Redeem::Max);
    // (250.50 − 1.00) / 1.00 = 249.5 → 249 points; 1.50 is left to pay.
    assert_eq!((result.points.redeem, result.total), (249, Money(150)));
    assert_eq!(codes(&result), vec!["min_payable"]);
}

#[test]
fn the_points_discount_is_spread_by_largest_remainder() {
    let program = Program { point_value: 1, ..Program::default() };
    let lines = [line("A", None, 100, 1000), line("B", None, 100, 1000), line("C", None, 100, 1000)];
    let result = quote(&program, customer(100), &lines, Redeem::Points(100));
    let discounts: Vec<i64> = result.lines.iter().map(|l| l.points_discount.0).collect();
    assert_eq!(discounts, vec![34, 33, 33]);
    let points: Vec<i64> = result.lines.iter().map(|l| l.redeem_points).collect();
    assert_eq!(points, vec![34, 33, 33]);
}

#[test]
fn no_customer_means_no_points() {
    let program = Program::default();
    let lines = [line("A", None, 25_000, 1000)];
    let result = quote(&program, None, &lines, Redeem::Max);
    assert_eq!((result.points.redeem, result.points.earn, result.total), (0, 0, Money(25_000)));
    assert_eq!(codes(&result), vec!["no_customer"]);
    let error = try_quote(&program, None, &lines, Redeem::Points(1), &[]);
    assert_eq!(error, Err(RulesError::RedeemAboveLimit { requested: 1, max: 0, bound_by: "no_customer" }));
}

#[test]
fn redeem_requests_are_checked() {
    let program = Program::default();
    let lines = [line("A", None, 25_000, 1000)];
    assert_eq!(try_quote(&program, customer(10), &lines, Redeem::Points(-1), &[]), Err(RulesError::NegativeRedeem(-1)));
    let error = try_quote(&program, customer(10), &lines, Redeem::Points(11), &[]);
    assert_eq!(error, Err(RulesError::RedeemAboveLimit { requested: 11, max: 10, bound_by: "available_points" }));
    let exact = quote(&program, customer(10), &lines, Redeem::Points(10));
    assert_eq!((exact.points.redeem, exact.total), (10, Money(24_000)));
}

#[test]
fn accrue_on_redeemed_counts_the_points_part() {
    let program = Program { accrue_on_redeemed: true, ..Program::default() };
    let result = quote(&program, customer(171), &[line("A", None, 25_000, 1000)], Redeem::Max);
    // 250.00 × 5 % = 12.5 → 12 points although 171.00 of it was paid with points.
    assert_eq!(result.points.earn, 12);
}

fn promo(code: &str, kind: PromoKind, value: i64) -> PromoCode {
    PromoCode {
        code: code.to_string(),
        kind,
        value,
        min_receipt: Money(0),
        valid_from: None,
        valid_until: None,
        usage_limit: None,
        per_customer_limit: None,
    }
}

fn entered(codes: &[&str]) -> Vec<(String, PromoUsage)> {
    codes.iter().map(|code| (code.to_string(), PromoUsage::default())).collect()
}

#[test]
fn promo_codes_discount_eligible_lines_before_points() {
    let program = Program {
        excluded_categories: vec!["tobacco".into()],
        promo_codes: vec![promo("TEN", PromoKind::Percent, 10), promo("FIVER", PromoKind::Amount, 500)],
        ..Program::default()
    };
    let lines = [line("A", None, 10_000, 1000), line("B", None, 5_000, 2000), line("T", Some("tobacco"), 7_000, 1000)];
    let result =
        try_quote(&program, customer(0), &lines, Redeem::None, &entered(&[" ten", "FIVER", "Ten"])).expect("prices");
    // Eligible 200.00: 10 % = 20.00, then 5.00 off the remaining 180.00; "Ten" again counts once.
    let applied: Vec<(&str, i64)> = result.promo_codes.iter().map(|p| (p.code.as_str(), p.discount.0)).collect();
    assert_eq!(applied, vec![("TEN", 2_000), ("FIVER", 500)]);
    let shares: Vec<i64> = result.lines.iter().map(|l| l.promo_discount.0).collect();
    assert_eq!(shares, vec![1_250, 1_250, 0]);
    assert_eq!((result.discount, result.total), (Money(2_500), Money(24_500)));
    // Accrual on the paid eligible part: 175.00 × 5 % = 8.75 → 8.
    assert_eq!(result.points.earn, 8);
}

#[test]
fn promo_rejections_name_the_reason() {
    let program = Program {
        promo_codes: vec![PromoCode { min_receipt: Money(50_000), ..promo("BIG", PromoKind::Amount, 100) }],
        ..Program::default()
    };
    let lines = [line("A", None, 10_000, 1000)];
    let reason = |codes: &[&str]| match try_quote(&program, None, &lines, Redeem::None, &entered(codes)) {
        Err(RulesError::PromoRejected { reason, .. }) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(reason(&["NOPE"]), "unknown");
    assert_eq!(reason(&["big"]), "min_receipt");
}

#[test]
fn tiers_change_the_rates() {
    let gold = Tier {
        name: "gold".into(),
        threshold: Money(1_000_000),
        kind: None,
        accrual_percent: Some(10),
        discount_percent: None,
        redeem_cap_percent: Some(20),
    };
    let program = Program { tiers: vec![gold], ..Program::default() };
    let lines = [line("A", None, 25_000, 1000)];
    let regular = quote(&program, customer(1_000), &lines, Redeem::Max);
    assert_eq!((regular.tier.as_deref(), regular.points.redeem), (None, 250));

    let golden = Some(CustomerPoints { balance: 1_000, available: 1_000, paid_total: Money(1_000_000) });
    let result = quote(&program, golden, &lines, Redeem::Max);
    assert_eq!(result.tier.as_deref(), Some("gold"));
    // Cap 20 % of 250.00 = 50 points; then 10 % of the 200.00 paid = 20 points.
    assert_eq!((result.points.redeem, result.total, result.points.earn), (50, Money(20_000), 20));
}

#[test]
fn a_discount_group_gets_its_percent_and_no_points() {
    let vip = Tier {
        name: "vip".into(),
        threshold: Money(0),
        kind: Some(ProgramKind::Discount),
        accrual_percent: None,
        discount_percent: Some(7),
        redeem_cap_percent: None,
    };
    let program = Program { tiers: vec![vip], excluded_skus: vec!["T".into()], ..Program::default() };
    let lines = [line("A", None, 9_999, 1000), line("T", None, 5_000, 1000)];
    let result = quote(&program, customer(500), &lines, Redeem::Max);
    // floor(99.99 × 7 %) = 6.99, on the eligible line only; no points either way.
    assert_eq!((result.discount, result.points.redeem, result.points.earn), (Money(699), 0, 0));
    assert!(codes(&result).contains(&"discount_group"));
    let error = try_quote(&program, customer(500), &lines, Redeem::Points(1), &[]);
    assert_eq!(error, Err(RulesError::RedeemAboveLimit { requested: 1, max: 0, bound_by: "discount_group" }));
    // Without a customer the group is unknown, so the quote is at full price.
    assert_eq!(quote(&program, None, &lines, Redeem::None).discount, Money(0));
}

#[test]
fn weight_goods_are_priced_half_up() {
    let result = quote(&Program::default(), None, &[line("CHEESE", None, 19_999, 354)], Redeem::None);
    let cheese = result.lines.first().expect("one line");
    assert_eq!((cheese.amount, cheese.quantity.as_str()), (Money(7_080), "0.354"));
}

#[test]
fn bad_receipts_are_refused() {
    let program = Program::default();
    let check = |lines: &[CalcLine]| try_quote(&program, None, lines, Redeem::None, &[]);
    assert_eq!(check(&[]), Err(RulesError::EmptyReceipt));
    let invalid_line = |lines: &[CalcLine]| match check(lines) {
        Err(RulesError::InvalidLine { line, .. }) => Some(line),
        _ => None,
    };
    assert_eq!(invalid_line(&[line("A", None, 1, 1000), line("B", None, -1, 1000)]), Some(1));
    assert_eq!(invalid_line(&[line("A", None, 100_000_000_001, 1000)]), Some(0));
    assert_eq!(invalid_line(&[line(" ", None, 1, 1000)]), Some(0));
    assert_eq!(invalid_line(&[line(&"x".repeat(129), None, 1, 1000)]), Some(0));
    assert_eq!(invalid_line(&[line("A", None, 1, 0)]), Some(0));
    assert_eq!(invalid_line(&[line("A", None, 1, Quantity::MAX.0 + 1)]), Some(0));
    assert_eq!(invalid_line(&vec![line("A", None, 1, 1000); 1001]), Some(1000));
    assert!(check(&vec![line("A", None, 1, 1000); 1000]).is_ok());
    // 1000 lines of the largest price and quantity do not fit an i64 subtotal.
    let huge = vec![line("A", None, 100_000_000_000, Quantity::MAX.0); 1000];
    assert_eq!(check(&huge), Err(RulesError::Overflow));
}

#[test]
fn an_unvalidated_program_is_clamped_not_a_panic() {
    let program = Program { point_value: 0, redeem_cap_percent: 500, accrual_percent: -3, ..Program::default() };
    let result = quote(&program, customer(1_000_000), &[line("A", None, 25_000, 1000)], Redeem::Max);
    assert_eq!((result.points.redeem, result.total, result.points.earn), (25_000, Money(0), 0));
}

/// A sale that already happened spends what it spent: only the customer's points give way.
#[test]
fn a_booked_sale_overdraws_points_but_no_other_limit() {
    let lines = [line("A", None, 25_000, 1000)];
    let booked = |program: &Program, available: i64, redeem: i64| {
        let customer = customer(available);
        let input = CalcInput {
            program,
            customer,
            lines: &lines,
            redeem: Redeem::Points(redeem),
            promo_codes: &[],
            now: 1_000,
            campaigns: CampaignContext::neutral(),
        };
        calculate_booked(&input)
    };
    let program = Program::default();
    let over = booked(&program, 71, 171).expect("booked");
    assert_eq!((over.points.redeem, over.points.available, over.total), (171, 71, Money(7_900)));
    assert_eq!(codes(&over), vec![OVERDRAFT]);
    // Within the points, nothing is flagged and the answer is calculate's.
    let within = booked(&program, 171, 171).expect("booked");
    assert_eq!(codes(&within), vec!["available_points"]);
    assert_eq!(Ok(within), try_quote(&program, customer(171), &lines, Redeem::Points(171), &[]));
    // The redemption cap still binds: 126 points on 250.00 at 50 % cannot be spent.
    let capped = Program { redeem_cap_percent: 50, ..Program::default() };
    assert_eq!(
        booked(&capped, 0, 126),
        Err(RulesError::RedeemAboveLimit { requested: 126, max: 125, bound_by: "redeem_cap" })
    );
}
