//! Property tests over random receipts: the calculation's invariants, and that returns (one
//! full return or several partial ones) reverse a sale exactly, in money and in the wallet.

use super::tests::line;
use super::*;
use proptest::prelude::*;

const NOW: Timestamp = 1_000 * DAY;

#[derive(Debug, Clone)]
enum RedeemChoice {
    Max,
    /// Thousandths of the receipt's `max_redeem`.
    Share(i64),
    /// Any number, possibly above the limit.
    Raw(i64),
}

/// A program and receipt: SKUs repeat across lines (`S0`..`S4`) so returns by SKU get tested,
/// `S3` is excluded by SKU and lines marked so are excluded by category.
fn receipt() -> impl Strategy<Value = (Program, Vec<CalcLine>)> {
    let lines = prop::collection::vec((0i64..10_000_000, 1i64..=100_000, any::<bool>(), 0usize..5), 1..=20);
    (lines, 0i64..=100, 0i64..1_000_000, 0i64..=100, 1i64..=1000, any::<bool>()).prop_map(
        |(raw, cap, min_payable, accrual, point_value, accrue_on_redeemed)| {
            let program = Program {
                redeem_cap_percent: cap,
                min_payable: Money(min_payable),
                accrual_percent: accrual,
                point_value,
                accrue_on_redeemed,
                excluded_categories: vec!["tobacco".into()],
                excluded_skus: vec!["s3".into()],
                ..Program::default()
            };
            let lines = raw
                .into_iter()
                .map(|(price, quantity, tobacco, sku)| {
                    line(&format!("S{sku}"), tobacco.then_some("Tobacco"), price, quantity)
                })
                .collect();
            (program, lines)
        },
    )
}

fn redeem_choice() -> impl Strategy<Value = RedeemChoice> {
    prop_oneof![
        Just(RedeemChoice::Max),
        (0i64..=1000).prop_map(RedeemChoice::Share),
        (0i64..200_000).prop_map(RedeemChoice::Raw),
    ]
}

/// Lots active or pending, expired or not, around `NOW`, plus some debt.
fn wallet() -> impl Strategy<Value = Wallet> {
    let lot = (0i64..5_000, -10i64..10, prop::option::of(-10i64..30));
    (prop::collection::vec(lot, 0..6), 0i64..100).prop_map(|(lots, debt)| Wallet {
        lots: lots
            .into_iter()
            .map(|(points, activates, expires)| Lot {
                id: 0,
                source: LotSource::Accrual,
                receipt_id: Some("earlier".into()),
                points,
                remaining: points,
                activates_at: NOW + activates * DAY,
                expires_at: expires.map(|days| NOW + days * DAY),
            })
            .collect(),
        debt,
    })
}

fn price(program: &Program, lines: &[CalcLine], available: i64, redeem: Redeem) -> Result<Calculation, RulesError> {
    let customer = Some(CustomerPoints { balance: available, available, paid_total: Money(0) });
    calculate(&CalcInput {
        program,
        customer,
        lines,
        redeem,
        promo_codes: &[],
        now: NOW,
        campaigns: CampaignContext::neutral(),
    })
}

/// Prices with the chosen redemption; `None` when a raw request was (rightly) above the limit.
fn price_with_choice(
    program: &Program,
    lines: &[CalcLine],
    available: i64,
    choice: &RedeemChoice,
) -> Result<Option<Calculation>, TestCaseError> {
    let max = price(program, lines, available, Redeem::None).map_err(fail)?.points.max_redeem;
    let redeem = match *choice {
        RedeemChoice::Max => Redeem::Max,
        RedeemChoice::Share(thousandths) => Redeem::Points(max * thousandths / 1000),
        RedeemChoice::Raw(points) => Redeem::Points(points),
    };
    match price(program, lines, available, redeem) {
        Ok(calculation) => Ok(Some(calculation)),
        Err(RulesError::RedeemAboveLimit { requested, max: reported, .. }) => {
            prop_assert!(requested > max && reported == max);
            Ok(None)
        }
        Err(other) => Err(fail(other)),
    }
}

fn fail(error: RulesError) -> TestCaseError {
    TestCaseError::fail(format!("unexpected error: {error}"))
}

/// A calculation's lines as the till stores them once sold (nothing returned yet).
pub(super) fn sold_lines(calculation: &Calculation) -> Vec<SoldLine> {
    calculation
        .lines
        .iter()
        .enumerate()
        .map(|(line_no, line)| SoldLine {
            line_no,
            sku: line.sku.clone(),
            quantity: line.quantity_milli,
            paid: line.paid,
            earn: line.earn,
            redeem_points: line.redeem_points,
            returned: Quantity(0),
            refunded: Money(0),
            earn_taken_back: 0,
            redeem_given_back: 0,
            stamps: Vec::new(),
        })
        .collect()
}

/// Records a committed return on the sale and the customer's wallet, as the agent would.
fn commit_return(sold: &mut [SoldLine], wallet: &mut Wallet, plan: &ReturnPlan) {
    for returned in &plan.lines {
        if let Some(line) = sold.iter_mut().find(|line| line.line_no == returned.line_no) {
            line.returned.0 += returned.quantity.0;
            line.refunded.0 += returned.refund.0;
            line.earn_taken_back += returned.earn_back;
            line.redeem_given_back += returned.redeem_back;
        }
    }
    wallet.take_back_accrual("r1", plan.points_taken_back, NOW);
    wallet.credit(plan.points_given_back, LotSource::ReturnRefund, Some("r1".into()), NOW, None);
}

/// Turns random picks into a valid partial-return request: each pick takes a share of what
/// its line still has, either naming the line or by SKU only.
fn partial_request(sold: &[SoldLine], picks: &[(usize, i64, bool)]) -> Vec<ReturnLineRequest> {
    let mut budget: Vec<i64> = sold.iter().map(|line| line.quantity.0 - line.returned.0).collect();
    let mut request = Vec::new();
    for &(pick, thousandths, by_line) in picks {
        let index = pick % sold.len().max(1);
        let (Some(line), Some(left)) = (sold.get(index), budget.get_mut(index)) else {
            continue;
        };
        let quantity = (*left * thousandths / 1000).max(1).min(*left);
        if quantity == 0 {
            continue;
        }
        *left -= quantity;
        request.push(ReturnLineRequest {
            sku: line.sku.clone(),
            line: by_line.then_some(line.line_no),
            quantity: Quantity(quantity),
        });
    }
    request
}

proptest! {
    #[test]
    fn calculation_invariants(
        (program, lines) in receipt(),
        available in 0i64..1_000_000,
        choice in redeem_choice(),
    ) {
        let Some(result) = price_with_choice(&program, &lines, available, &choice)? else { return Ok(()) };
        let points = &result.points;

        let line_discounts: i64 = result.lines.iter().map(|l| l.discount.0).sum();
        prop_assert_eq!(line_discounts, result.discount.0);
        prop_assert_eq!(result.total.0, result.subtotal.0 - result.discount.0);
        let points_money: i64 = result.lines.iter().map(|l| l.points_discount.0).sum();
        prop_assert_eq!(points_money, points.redeem * program.point_value);
        for l in &result.lines {
            prop_assert!(l.paid.0 >= 0 && l.discount.0 >= 0 && l.earn >= 0 && l.redeem_points >= 0);
            prop_assert_eq!(l.paid.0 + l.discount.0, l.amount.0);
            if l.excluded {
                prop_assert_eq!((l.discount.0, l.earn, l.redeem_points), (0, 0, 0));
            }
        }

        let eligible: i64 = result.lines.iter().filter(|l| !l.excluded).map(|l| l.amount.0).sum();
        prop_assert!(points.redeem <= available);
        prop_assert!(points.redeem <= points.max_redeem);
        prop_assert!(points.redeem <= eligible * program.redeem_cap_percent / 100 / program.point_value);
        if points.redeem > 0 {
            prop_assert!(result.total >= program.min_payable);
        }
        if let RedeemChoice::Max = choice {
            prop_assert_eq!(points.redeem, points.max_redeem);
        }

        prop_assert_eq!(result.lines.iter().map(|l| l.earn).sum::<i64>(), points.earn);
        prop_assert_eq!(result.lines.iter().map(|l| l.redeem_points).sum::<i64>(), points.redeem);
        prop_assert_eq!(points.balance_after, available - points.redeem + points.earn);
    }

    #[test]
    fn returns_restore_the_sale_and_the_balance_exactly(
        (program, lines) in receipt(),
        start in wallet(),
        choice in redeem_choice(),
        activation_days in 0i64..3,
        steps in prop::collection::vec(
            prop::collection::vec((0usize..20, 0i64..=1000, any::<bool>()), 1..4),
            0..4,
        ),
    ) {
        let mut wallet = start;
        let balance_before = wallet.balance(NOW);
        let available = wallet.available(NOW);
        let Some(sale) = price_with_choice(&program, &lines, available, &choice)? else {
            return Ok(());
        };

        wallet.debit(sale.points.redeem, NOW);
        let activates_at = NOW + activation_days * DAY;
        wallet.credit(sale.points.earn, LotSource::Accrual, Some("r1".into()), activates_at, None);
        prop_assert_eq!(wallet.balance(NOW), balance_before - sale.points.redeem + sale.points.earn);

        let mut sold = sold_lines(&sale);
        let mut refund = 0i64;
        for picks in &steps {
            let request = partial_request(&sold, picks);
            if request.is_empty() {
                continue;
            }
            let plan = plan_return(&sold, Some(&request)).map_err(fail)?;
            let asked: i64 = request.iter().map(|r| r.quantity.0).sum();
            prop_assert_eq!(plan.lines.iter().map(|l| l.quantity.0).sum::<i64>(), asked);
            refund += plan.refund.0;
            commit_return(&mut sold, &mut wallet, &plan);
        }
        match plan_return(&sold, None) {
            Ok(plan) => {
                refund += plan.refund.0;
                commit_return(&mut sold, &mut wallet, &plan);
            }
            Err(RulesError::NothingToReturn) => {}
            Err(other) => return Err(fail(other)),
        }
        prop_assert_eq!(plan_return(&sold, None), Err(RulesError::NothingToReturn));

        for (line, priced) in sold.iter().zip(&sale.lines) {
            prop_assert_eq!(line.returned, line.quantity);
            prop_assert_eq!(line.refunded, priced.paid);
            prop_assert_eq!(line.earn_taken_back, priced.earn);
            prop_assert_eq!(line.redeem_given_back, priced.redeem_points);
        }
        prop_assert_eq!(refund, sale.total.0);
        prop_assert_eq!(wallet.balance(NOW), balance_before);
    }
}

/// Any i64 at all, or one in the range real input uses, so checks both refuse and pass.
fn sometimes_sane(range: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), range]
}

/// A program nobody validated: every number arbitrary.
fn unchecked_program() -> impl Strategy<Value = Program> {
    let tier = (any::<i64>(), prop::option::of(any::<i64>()), prop::option::of(any::<i64>()), any::<bool>());
    let promo = ("[ab]{1,2}", any::<bool>(), any::<i64>(), any::<i64>(), prop::option::of(any::<i64>()));
    (
        sometimes_sane(1..=1000),
        sometimes_sane(0..=100),
        sometimes_sane(0..=100),
        sometimes_sane(0..=100),
        any::<i64>(),
        any::<bool>(),
        prop::collection::vec(tier, 0..3),
        prop::collection::vec(promo, 0..3),
    )
        .prop_map(|(point_value, accrual, discount, cap, min_payable, discount_kind, tiers, promos)| Program {
            point_value,
            kind: if discount_kind { ProgramKind::Discount } else { ProgramKind::Bonus },
            accrual_percent: accrual,
            discount_percent: discount,
            redeem_cap_percent: cap,
            min_payable: Money(min_payable),
            excluded_skus: vec!["a".into()],
            tiers: tiers
                .into_iter()
                .map(|(threshold, percent, cap, discount)| Tier {
                    name: "t".into(),
                    threshold: Money(threshold),
                    kind: discount.then_some(ProgramKind::Discount),
                    accrual_percent: percent,
                    discount_percent: percent,
                    redeem_cap_percent: cap,
                })
                .collect(),
            promo_codes: promos
                .into_iter()
                .map(|(code, percent, value, min_receipt, usage_limit)| PromoCode {
                    code,
                    kind: if percent { PromoKind::Percent } else { PromoKind::Amount },
                    value,
                    min_receipt: Money(min_receipt),
                    valid_from: None,
                    valid_until: None,
                    usage_limit,
                    per_customer_limit: None,
                })
                .collect(),
            ..Program::default()
        })
}

proptest! {
    /// The API hands these functions whatever a client sends: errors are fine, panics are not.
    #[test]
    fn arbitrary_input_never_panics(
        program in unchecked_program(),
        raw in prop::collection::vec(
            ("[ab]", sometimes_sane(0..=100_000_000_000), sometimes_sane(1..=Quantity::MAX.0)),
            0..6,
        ),
        customer in prop::option::of((any::<i64>(), any::<i64>(), any::<i64>())),
        redeem in prop_oneof![Just(Redeem::None), Just(Redeem::Max), any::<i64>().prop_map(Redeem::Points)],
        entered in prop::collection::vec(("[ab]{1,2}", any::<i64>(), any::<i64>()), 0..3),
        now in any::<i64>(),
    ) {
        let lines: Vec<CalcLine> =
            raw.into_iter().map(|(sku, price, quantity)| line(&sku, None, price, quantity)).collect();
        let customer = customer.map(|(balance, available, paid)| CustomerPoints {
            balance,
            available,
            paid_total: Money(paid),
        });
        let promo_codes: Vec<(String, PromoUsage)> = entered
            .into_iter()
            .map(|(code, total, by_customer)| (code, PromoUsage { total, by_customer }))
            .collect();
        let _ = program.validate();
        let input = CalcInput {
            program: &program,
            customer,
            lines: &lines,
            redeem,
            promo_codes: &promo_codes,
            now,
            campaigns: CampaignContext::neutral(),
        };
        if let Ok(result) = calculate(&input) {
            prop_assert_eq!(result.lines.iter().map(|l| l.discount.0).sum::<i64>(), result.discount.0);
            prop_assert!(result.lines.iter().all(|l| l.paid.0 >= 0));
        }
    }

    #[test]
    fn arbitrary_returns_and_wallets_never_panic(
        sold in prop::collection::vec(
            (
                "[ab]",
                sometimes_sane(1..=10_000),
                (any::<i64>(), any::<i64>(), any::<i64>()),
                (any::<i64>(), any::<i64>(), any::<i64>()),
            ),
            0..4,
        ),
        requests in prop::option::of(prop::collection::vec(
            ("[abc]", prop::option::of(0usize..5), any::<i64>()),
            0..4,
        )),
        lots in prop::collection::vec((any::<i64>(), any::<i64>(), prop::option::of(any::<i64>())), 0..4),
        debt in any::<i64>(),
        points in any::<i64>(),
        now in any::<i64>(),
    ) {
        let sold: Vec<SoldLine> = sold
            .into_iter()
            .enumerate()
            .map(|(line_no, (sku, quantity, (paid, earn, redeem_points), (returned, refunded, taken)))| SoldLine {
                line_no,
                sku,
                quantity: Quantity(quantity),
                paid: Money(paid),
                earn,
                redeem_points,
                returned: Quantity(returned),
                refunded: Money(refunded),
                earn_taken_back: taken,
                redeem_given_back: taken,
                stamps: Vec::new(),
            })
            .collect();
        let requests: Option<Vec<ReturnLineRequest>> = requests.map(|requests| {
            requests
                .into_iter()
                .map(|(sku, line, quantity)| ReturnLineRequest { sku, line, quantity: Quantity(quantity) })
                .collect()
        });
        let _ = plan_return(&sold, requests.as_deref());

        let lots = lots
            .into_iter()
            .map(|(remaining, activates_at, expires_at)| Lot {
                id: 1,
                source: LotSource::Accrual,
                receipt_id: Some("r1".into()),
                points: remaining,
                remaining,
                activates_at,
                expires_at,
            })
            .collect();
        let mut wallet = Wallet { lots, debt };
        let _ = (wallet.balance(now), wallet.pending(now), wallet.available(now));
        wallet.debit(points, now);
        wallet.take_back_accrual("r1", points, now);
        wallet.credit(points, LotSource::Adjustment, None, now, None);
        let _ = wallet.balance(now);
    }
}
