//! Table tests of campaigns (issue 12): each effect, stacking and exclusivity, ties, schedules
//! in the program's time zone, validity dates, the context's limits and budgets, validation.

use super::tests::line;
use super::*;
use serde_json::json;

/// 2026-12-01 (a Tuesday) 13:30 UTC = 16:30 in Moscow.
const TUESDAY_1630_MSK: Timestamp = 1_796_131_800;
const HOUR: i64 = 3600;

fn program(campaigns: serde_json::Value) -> Program {
    let program: Program = serde_json::from_value(json!({ "campaigns": campaigns })).expect("a program");
    program.validate().expect("a valid program");
    program
}

fn customer() -> Option<CustomerPoints> {
    Some(CustomerPoints { balance: 0, available: 0, paid_total: Money(0) })
}

fn coffee_and_bread() -> Vec<CalcLine> {
    vec![line("LATTE", Some("coffee"), 20_000, 1000), line("BREAD", Some("bakery"), 10_000, 1000)]
}

fn price_at(program: &Program, lines: &[CalcLine], context: &CampaignContext, now: Timestamp) -> Calculation {
    calculate(&CalcInput {
        program,
        customer: customer(),
        lines,
        redeem: Redeem::None,
        promo_codes: &[],
        now,
        campaigns: context,
    })
    .expect("priced")
}

fn price(program: &Program, lines: &[CalcLine]) -> Calculation {
    price_at(program, lines, CampaignContext::neutral(), TUESDAY_1630_MSK)
}

fn applied(calc: &Calculation) -> Vec<(&str, i64, i64)> {
    calc.campaigns.iter().map(|c| (c.id.as_str(), c.points, c.discount.0)).collect()
}

fn skipped(calc: &Calculation) -> Vec<(&str, &str)> {
    calc.campaigns_skipped.iter().map(|c| (c.id.as_str(), c.reason)).collect()
}

#[test]
fn worked_example_coffee_x2_earns_20_plus_5() {
    let program = program(json!([{"id": "coffee-x2", "name": "Double points on coffee",
        "conditions": {"categories": ["coffee"]}, "effect": {"points_multiplier": 2}}]));
    let calc = price(&program, &coffee_and_bread());
    assert_eq!(calc.points.earn, 25);
    assert_eq!((calc.lines[0].earn, calc.lines[1].earn), (20, 5));
    assert_eq!(applied(&calc), [("coffee-x2", 10, 0)]);
    assert_eq!(calc.lines[0].campaigns.len(), 1);
    assert!(calc.lines[1].campaigns.is_empty());
    assert_eq!(calc.total, Money(30_000));
}

#[test]
fn each_effect() {
    let lines = coffee_and_bread();
    let cases: Vec<(serde_json::Value, i64, i64, i64)> = vec![
        // effect, points earned, discount, total paid
        (json!({"points_multiplier": 3}), 15 + 20, 0, 30_000),
        (json!({"extra_points": {"points": 50}}), 15 + 50, 0, 30_000),
        (json!({"extra_points": {"points": 50, "per": "line"}}), 15 + 50, 0, 30_000),
        (json!({"discount_percent": 10}), 14, 2_000, 28_000),
        (json!({"discount_amount": 5_000}), 12, 5_000, 25_000),
        (json!({"discount_amount": 50_000}), 5, 20_000, 10_000),
    ];
    for (effect, earn, discount, total) in cases {
        let program = program(json!([{"id": "c", "conditions": {"categories": ["coffee"]}, "effect": effect}]));
        let calc = price(&program, &lines);
        assert_eq!((calc.points.earn, calc.discount.0, calc.total.0), (earn, discount, total), "{effect}");
        assert_eq!(calc.lines[1].discount, Money(0), "{effect}: bread is not in the campaign");
    }
    // Per unit: three bags of beans earn 3 × 50.
    let program = program(json!([{"id": "beans", "conditions": {"skus": ["BEANS"]},
        "effect": {"extra_points": {"points": 50, "per": "unit"}}}]));
    let calc = price(&program, &[line("BEANS", None, 50_000, 3000)]);
    assert_eq!(calc.points.earn, 75 + 150);
}

#[test]
fn a_stamp_card_gives_the_sixth_latte_and_starts_again() {
    let program = program(json!([{"id": "latte-6", "conditions": {"skus": ["LATTE"]},
        "effect": {"stamp_card": {"stamps_for_reward": 5}}}]));
    let lines = [line("LATTE", Some("coffee"), 20_000, 2000)];
    let mut context = CampaignContext::default();
    context.stamps.insert("latte-6".into(), 4);
    let calc = price_at(&program, &lines, &context, TUESDAY_1630_MSK);
    // The first latte is the fifth stamp, the second is free and the count restarts.
    assert_eq!(calc.discount, Money(20_000));
    let stamps = calc.campaigns[0].stamps.expect("stamps");
    assert_eq!((stamps.earned, stamps.used, stamps.after), (1, 5, 0));
    assert_eq!(calc.points.earn, 10, "the free latte earns nothing");
    // With no stamps held, two lattes earn two stamps and no discount.
    let calc = price(&program, &lines);
    assert_eq!(calc.discount, Money(0));
    let stamps = calc.campaigns[0].stamps.expect("stamps");
    assert_eq!((stamps.earned, stamps.used, stamps.after), (2, 0, 2));
}

#[test]
fn stacking_adds_and_the_highest_exclusive_wins_ties_by_id() {
    let x2 = json!({"id": "x2", "priority": 1, "conditions": {"categories": ["coffee"]}, "effect": {"points_multiplier": 2}});
    let x3 = json!({"id": "x3", "priority": 1, "conditions": {"categories": ["coffee"]}, "effect": {"points_multiplier": 3}});
    let lines = coffee_and_bread();
    // Stacking: 10 base + 10 + 20.
    let calc = price(&program(json!([x2, x3])), &lines);
    assert_eq!(calc.lines[0].earn, 40);
    assert_eq!(applied(&calc), [("x2", 10, 0), ("x3", 20, 0)]);

    let exclusive = |v: &serde_json::Value, priority: i64| {
        let mut v = v.clone();
        v["stacking"] = json!("exclusive");
        v["priority"] = json!(priority);
        v
    };
    // The higher priority exclusive wins over the other and over stacking campaigns.
    let calc = price(&program(json!([x2, exclusive(&x3, 5)])), &lines);
    assert_eq!(calc.lines[0].earn, 30);
    assert_eq!(applied(&calc), [("x3", 20, 0)]);
    assert_eq!(skipped(&calc), [("x2", "exclusive_overridden")]);
    assert_eq!(calc.campaigns_skipped[0].detail.as_deref(), Some("x3"));
    // Equal priority: the smaller id wins, whichever order the program lists them in.
    for pair in [json!([exclusive(&x2, 5), exclusive(&x3, 5)]), json!([exclusive(&x3, 5), exclusive(&x2, 5)])] {
        let calc = price(&program(pair), &lines);
        assert_eq!(applied(&calc), [("x2", 10, 0)]);
        assert_eq!(skipped(&calc), [("x3", "exclusive_overridden")]);
    }
    // An exclusive campaign takes only its own lines: a receipt-wide bonus still gets bread.
    let all = json!({"id": "all", "effect": {"extra_points": {"points": 7, "per": "line"}}});
    let calc = price(&program(json!([exclusive(&x3, 5), all])), &lines);
    assert_eq!(applied(&calc), [("x3", 20, 0), ("all", 7, 0)]);
    assert_eq!((calc.lines[0].earn, calc.lines[1].earn), (30, 12));
}

#[test]
fn discounts_come_before_promo_codes_and_points() {
    let mut program =
        program(json!([{"id": "off", "conditions": {"categories": ["coffee"]}, "effect": {"discount_percent": 50}}]));
    program.promo_codes.push(PromoCode {
        code: "TEN".into(),
        kind: PromoKind::Percent,
        value: 10,
        min_receipt: Money(0),
        valid_from: None,
        valid_until: None,
        usage_limit: None,
        per_customer_limit: None,
    });
    let customer = Some(CustomerPoints { balance: 50, available: 50, paid_total: Money(0) });
    let calc = calculate(&CalcInput {
        program: &program,
        customer,
        lines: &coffee_and_bread(),
        redeem: Redeem::Points(50),
        promo_codes: &[("TEN".into(), PromoUsage::default())],
        now: TUESDAY_1630_MSK,
        campaigns: CampaignContext::neutral(),
    })
    .expect("priced");
    // Coffee 200 → 100 by the campaign; the promo takes 10 % of the 200 left (20.00); then 50.00
    // of points; 130.00 is paid and earns 6.
    assert_eq!(calc.promo_codes[0].discount, Money(2_000));
    assert_eq!(calc.discount, Money(10_000 + 2_000 + 5_000));
    assert_eq!(calc.total, Money(13_000));
    assert_eq!(calc.points.earn, 6);
    assert_eq!(calc.lines.iter().map(|l| l.discount.0).sum::<i64>(), calc.discount.0);
}

#[test]
fn schedules_are_local_time_with_midnight_and_day_edges() {
    let at = |days: serde_json::Value, from: &str, to: &str, zone: &str, now: Timestamp| {
        let mut program = program(json!([{"id": "happy", "schedule": {"days": days, "from": from, "to": to},
            "effect": {"extra_points": {"points": 1}}}]));
        program.time_zone = zone.into();
        program.validate().expect("valid");
        let calc = price_at(&program, &coffee_and_bread(), CampaignContext::neutral(), now);
        match (calc.campaigns.len(), calc.campaigns_skipped.first()) {
            (1, _) => "on",
            (_, Some(skipped)) => skipped.reason,
            _ => "missing",
        }
    };
    let msk = "Europe/Moscow";
    // 16:30 Moscow on a Tuesday.
    assert_eq!(at(json!(["tue"]), "16:00", "18:00", msk, TUESDAY_1630_MSK), "on");
    assert_eq!(at(json!(["wed"]), "16:00", "18:00", msk, TUESDAY_1630_MSK), "outside_schedule");
    assert_eq!(at(json!([]), "16:30", "16:31", msk, TUESDAY_1630_MSK), "on", "from is inclusive");
    assert_eq!(at(json!([]), "16:00", "16:30", msk, TUESDAY_1630_MSK), "outside_schedule", "to is exclusive");
    // The same instant is 13:30 in London (UTC in December) and 22:30 in Vladivostok.
    assert_eq!(at(json!([]), "16:00", "18:00", "Europe/London", TUESDAY_1630_MSK), "outside_schedule");
    assert_eq!(at(json!([]), "13:00", "14:00", "Europe/London", TUESDAY_1630_MSK), "on");
    assert_eq!(at(json!(["tue"]), "22:00", "24:00", "Asia/Vladivostok", TUESDAY_1630_MSK), "on");
    // Midnight in Moscow: 21:00 UTC on Tuesday is already Wednesday 00:00.
    let midnight = TUESDAY_1630_MSK + 7 * HOUR + 30 * 60;
    assert_eq!(at(json!(["wed"]), "00:00", "01:00", msk, midnight), "on");
    assert_eq!(at(json!(["tue"]), "23:00", "24:00", msk, midnight), "outside_schedule");
    assert_eq!(at(json!(["tue"]), "23:00", "24:00", msk, midnight - 1), "on");
}

#[test]
fn validity_dates_are_whole_local_days() {
    let at = |from: &str, until: &str, now: Timestamp| {
        let program = program(json!([{"id": "dec", "valid_from": from, "valid_until": until,
            "effect": {"extra_points": {"points": 1}}}]));
        let calc = price_at(&program, &coffee_and_bread(), CampaignContext::neutral(), now);
        calc.campaigns_skipped.first().map_or("on", |s| s.reason)
    };
    assert_eq!(at("2026-12-01", "2026-12-01", TUESDAY_1630_MSK), "on");
    assert_eq!(at("2026-12-02", "2027-01-31", TUESDAY_1630_MSK), "not_yet_valid");
    assert_eq!(at("2026-11-01", "2026-11-30", TUESDAY_1630_MSK), "expired");
    // 2026-11-30 21:00 UTC is already December 1st in Moscow.
    let dec_first_msk = TUESDAY_1630_MSK - 16 * HOUR - 30 * 60;
    assert_eq!(at("2026-12-01", "2027-01-31", dec_first_msk), "on");
    assert_eq!(at("2026-12-01", "2027-01-31", dec_first_msk - 1), "not_yet_valid");
}

#[test]
fn conditions_limits_and_budgets_come_from_the_context() {
    let lines = coffee_and_bread();
    let one = |campaign: serde_json::Value, context: &CampaignContext| {
        let calc = price_at(&program(json!([campaign])), &lines, context, TUESDAY_1630_MSK);
        calc.campaigns_skipped.first().map(|s| (s.reason, s.detail.clone())).unwrap_or(("on", None))
    };
    let neutral = CampaignContext::neutral();
    let effect = json!({"points_multiplier": 2});
    let not_met = |name: &str| ("condition_not_met", Some(name.to_owned()));
    assert_eq!(one(json!({"id": "t", "conditions": {"tags": ["vip"]}, "effect": effect}), neutral), not_met("tags"));
    assert_eq!(
        one(json!({"id": "s", "conditions": {"stores": ["Main"]}, "effect": effect}), neutral),
        not_met("stores")
    );
    assert_eq!(
        one(json!({"id": "m", "conditions": {"min_receipt": 30_001}, "effect": effect}), neutral),
        not_met("min_receipt")
    );
    assert_eq!(one(json!({"id": "m", "conditions": {"min_receipt": 30_000}, "effect": effect}), neutral).0, "on");
    assert_eq!(
        one(json!({"id": "f", "conditions": {"first_purchase": true}, "effect": effect}), neutral),
        not_met("first_purchase")
    );
    let mut context = CampaignContext {
        tags: vec!["VIP".into()],
        store: Some("main".into()),
        first_purchase: true,
        ..CampaignContext::default()
    };
    assert_eq!(one(json!({"id": "t", "conditions": {"tags": ["vip"], "stores": ["Main"], "first_purchase": true}, "effect": effect}), &context).0, "on");
    context.uses.insert("l".into(), 1);
    assert_eq!(
        one(json!({"id": "l", "limit_per_customer": {"count": 1, "period": "day"}, "effect": effect}), &context).0,
        "limit_reached"
    );
    assert_eq!(
        one(json!({"id": "l", "limit_per_customer": {"count": 2, "period": "day"}, "effect": effect}), &context).0,
        "on"
    );
    context.budgets.insert("b".into(), BudgetState::Stopped);
    assert_eq!(one(json!({"id": "b", "effect": effect}), &context).0, "budget_spent");
    context.budgets.insert("b".into(), BudgetState::Allowance(0));
    assert_eq!(one(json!({"id": "b", "effect": effect}), &context).0, "till_allowance_spent");
    // A partly spent allowance caps what the campaign gives on this till.
    context.budgets.insert("b".into(), BudgetState::Allowance(4));
    let calc = price_at(&program(json!([{"id": "b", "effect": effect}])), &lines, &context, TUESDAY_1630_MSK);
    assert_eq!(applied(&calc), [("b", 4, 0)]);
    assert_eq!(calc.points.earn, 15 + 4);
    // Anonymous: a discount campaign applies, a points one says why not.
    let program = program(json!([{"id": "p", "effect": effect}, {"id": "d", "effect": {"discount_percent": 10}}]));
    let calc = calculate(&CalcInput {
        program: &program,
        customer: None,
        lines: &lines,
        redeem: Redeem::None,
        promo_codes: &[],
        now: TUESDAY_1630_MSK,
        campaigns: neutral,
    })
    .expect("priced");
    assert_eq!(applied(&calc), [("d", 0, 3_000)]);
    assert_eq!(skipped(&calc), [("p", "no_customer")]);
}

#[test]
fn excluded_lines_get_no_campaign() {
    let mut program = program(json!([{"id": "all", "effect": {"discount_percent": 10}}]));
    program.excluded_categories = vec!["tobacco".into()];
    let calc = price(&program, &[line("CIG", Some("tobacco"), 20_000, 1000), line("BREAD", None, 10_000, 1000)]);
    assert_eq!((calc.lines[0].discount.0, calc.lines[1].discount.0), (0, 1_000));
    // A campaign only on excluded lines is not on the receipt at all.
    let program = Program {
        excluded_categories: vec!["tobacco".into()],
        ..self::program(
            json!([{"id": "cig", "conditions": {"categories": ["tobacco"]}, "effect": {"discount_percent": 10}}]),
        )
    };
    let calc = price(&program, &[line("CIG", Some("tobacco"), 20_000, 1000)]);
    assert!(calc.campaigns.is_empty() && calc.campaigns_skipped.is_empty());
}

#[test]
fn the_issues_campaign_reads_from_json_and_toml() {
    let issue = json!({"id": "coffee-x2", "name": "Double points on coffee", "priority": 10,
        "valid_from": "2026-12-01", "valid_until": "2027-01-31",
        "schedule": {"days": ["tue", "wed"], "from": "16:00", "to": "18:00"},
        "conditions": {"categories": ["coffee"], "skus": [], "tiers": [], "tags": [], "stores": [],
                       "min_receipt": 0, "first_purchase": false},
        "effect": {"points_multiplier": 2},
        "stacking": "stack",
        "limit_per_customer": {"count": 1, "period": "day"},
        "budget_points": 100000, "till_allowance_points": 2000});
    let program = program(json!([issue]));
    let calc = price(&program, &coffee_and_bread());
    assert_eq!(calc.points.earn, 25);
    let toml_text = toml::to_string(&program).expect("as TOML");
    let back: Program = toml::from_str(&toml_text).expect("TOML round trip");
    assert_eq!(back, program);
    let birthday: Program = serde_json::from_value(json!({
        "birthday": {"points": 300, "days_before": 3, "days_after": 3, "expiry_days": 14},
        "referral": {"referrer_points": 200, "friend_points": 100, "min_receipt": 50000, "max_per_referrer": 10}
    }))
    .expect("lifecycle rewards");
    assert_eq!(birthday.validate(), Ok(()));
    assert!(serde_json::from_value::<Program>(
        json!({"campaigns": [{"id": "x", "effect": {"points_multiplier": 2}, "colour": 1}]})
    )
    .is_err());
}

#[test]
fn validation_names_the_field() {
    let base = || json!({"id": "c", "conditions": {"categories": ["coffee"]}, "effect": {"points_multiplier": 2}});
    let with = |path: &[&str], value: serde_json::Value| {
        let mut campaign = base();
        let mut at = &mut campaign;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        campaign
    };
    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (
            json!([with(&["effect", "points_multiplier"], json!(0))]),
            "campaigns[0].effect.points_multiplier",
            "campaign_multiplier",
        ),
        (json!([with(&["effect"], json!({}))]), "campaigns[0].effect", "campaign_effect"),
        (json!([with(&["effect", "discount_percent"], json!(5))]), "campaigns[0].effect", "campaign_effect"),
        (
            json!([with(&["effect"], json!({"stamp_card": {"stamps_for_reward": 5}})).as_object().map(|o| {
                let mut o = o.clone();
                o.remove("conditions");
                serde_json::Value::Object(o)
            })]),
            "campaigns[0].conditions",
            "campaign_stamp_condition",
        ),
        (
            json!([with(&["schedule"], json!({"from": "18:00", "to": "16:00"}))]),
            "campaigns[0].schedule.to",
            "campaign_schedule",
        ),
        (
            json!([with(&["schedule"], json!({"from": "16:00", "to": "16:00"}))]),
            "campaigns[0].schedule.to",
            "campaign_schedule",
        ),
        (
            json!([with(&["schedule"], json!({"days": ["mon", "funday"]}))]),
            "campaigns[0].schedule.days[1]",
            "campaign_day",
        ),
        (json!([with(&["schedule"], json!({"from": "4pm"}))]), "campaigns[0].schedule.from", "campaign_time"),
        (
            json!([with(&["valid_from"], json!("2027-02-01")),])
                .as_array()
                .map(|a| {
                    let mut c = a[0].clone();
                    c["valid_until"] = json!("2027-01-31");
                    json!([c])
                })
                .unwrap_or_default(),
            "campaigns[0].valid_until",
            "campaign_dates",
        ),
        (json!([with(&["valid_from"], json!("01.12.2026"))]), "campaigns[0].valid_from", "campaign_date"),
        (json!([with(&["budget_points"], json!(-1))]), "campaigns[0].budget_points", "campaign_negative"),
        (
            json!([with(&["conditions", "min_receipt"], json!(-1))]),
            "campaigns[0].conditions.min_receipt",
            "campaign_negative",
        ),
        (
            json!([with(&["effect"], json!({"extra_points": {"points": -5}}))]),
            "campaigns[0].effect.extra_points.points",
            "campaign_at_least_one",
        ),
        (
            json!([with(&["limit_per_customer"], json!({"count": 0}))]),
            "campaigns[0].limit_per_customer.count",
            "campaign_at_least_one",
        ),
        (json!([base(), base()]), "campaigns[0].id", "campaign_twice"),
        (json!([with(&["id"], json!(" "))]), "campaigns[0].id", "campaign_id"),
    ];
    for (campaigns, field, problem) in cases {
        let program: Program = serde_json::from_value(json!({ "campaigns": campaigns })).expect("parses");
        let found = program.validate().expect_err(field);
        assert_eq!((found.field.as_str(), found.problem), (field, problem), "{found}");
    }
    let zone: Program = serde_json::from_value(json!({"time_zone": "Moscow"})).expect("parses");
    let found = zone.validate().expect_err("unknown zone");
    assert_eq!((found.field.as_str(), found.problem), ("time_zone", "time_zone"));
    let referral: Program = serde_json::from_value(json!({"referral": {"friend_points": -1}})).expect("parses");
    assert_eq!(referral.validate().expect_err("negative").field, "referral.friend_points");
}
