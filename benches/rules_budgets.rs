//! The campaign budget of CONTRACTS.md §budgets, in the pricing core: `rules::calculate` for a
//! receipt of 20 lines against a program with 50 active campaigns (every one within its dates
//! and schedule, spread over the receipt's categories, all five effects, some exclusive), with
//! the same run's figure for the same receipts and no campaigns beside it. The HTTP part of a
//! calculate (the floor) is measured by `agent_budgets`; this isolates what campaigns add.
//!
//! Then the same as a till meets it: a real `loyalty-agent` with the 50 campaigns in its
//! `program.toml`, `POST /v1/receipts/calculate` with those 20 lines for a customer, beside the
//! same run's HTTP floor (a 404 that touches no storage) — the budget is judged there too.
//!
//! `cargo bench --bench rules_budgets` times 20,000 calculations after a warm-up (2,000 over
//! HTTP) and exits non-zero when a p99 is above 1 ms. Without `--bench` (as `cargo test
//! --all-targets` runs it) it is a quick check: a few calculations, each answer checked,
//! timings printed, not judged.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use loyalty::rules::{
    calculate, CalcInput, CalcLine, CampaignContext, CustomerPoints, Money, Program, Quantity, Redeem,
};
use serde_json::{json, Value};
use support::{Client, Server};

const BUDGET: Duration = Duration::from_millis(1);
/// 2026-12-01 16:30 in Moscow, a Tuesday: inside every generated campaign's dates and schedule.
const NOW: i64 = 1_796_131_800;
const CATEGORIES: [&str; 5] = ["coffee", "bakery", "dairy", "fruit", "snacks"];
const AGENT: &str = env!("CARGO_BIN_EXE_loyalty-agent");
/// The token the agent is started with (the API wants 64 characters of it).
const TOKEN: &str = "bench-token-0123456789abcdef0123456789abcdef0123456789abcdef0123";

/// When a program's campaigns may run: from the fixed moment `NOW` (in process), or whenever
/// the bench happens to run (over HTTP the agent reads its own clock).
#[derive(Clone, Copy, PartialEq)]
enum Active {
    AtNow,
    Always,
}

fn program(campaigns: usize, active: Active) -> Program {
    let campaigns: Vec<_> = (0..campaigns)
        .map(|i| {
            let effect = match i % 5 {
                0 => json!({"points_multiplier": 2}),
                1 => {
                    let per = ["receipt", "line", "unit"][i % 3];
                    json!({"extra_points": {"points": 10, "per": per}})
                }
                2 => json!({"discount_percent": 5}),
                3 => json!({"discount_amount": 1000}),
                _ => json!({"stamp_card": {"stamps_for_reward": 5}}),
            };
            let stacking = if i % 10 == 9 { "exclusive" } else { "stack" };
            let mut campaign = json!({
                "id": format!("campaign-{i:02}"),
                "name": format!("Campaign {i}"),
                "priority": i % 7,
                "conditions": {"categories": [CATEGORIES[i % CATEGORIES.len()]], "min_receipt": 1000},
                "effect": effect,
                "stacking": stacking,
                "limit_per_customer": {"count": 3, "period": "day"},
                "budget_points": 1_000_000, "till_allowance_points": 5_000,
            });
            if active == Active::AtNow {
                campaign["valid_from"] = json!("2026-11-01");
                campaign["valid_until"] = json!("2027-01-31");
                campaign["schedule"] =
                    json!({"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "22:00"});
            }
            campaign
        })
        .collect();
    let program: Program = serde_json::from_value(json!({"campaigns": campaigns})).expect("the bench's program");
    program.validate().expect("a valid program");
    program
}

fn lines() -> Vec<CalcLine> {
    (0..20)
        .map(|i| CalcLine {
            sku: format!("SKU-{i:03}"),
            name: None,
            category: Some(CATEGORIES[i % CATEGORIES.len()].to_owned()),
            quantity: Quantity(1000 * (1 + (i as i64 % 3))),
            price: Money(5_000 + 1_337 * i as i64),
        })
        .collect()
}

fn measure(program: &Program, lines: &[CalcLine], warmup: usize, count: usize) -> Vec<Duration> {
    let customer = Some(CustomerPoints { balance: 500, available: 500, paid_total: Money(0) });
    let mut samples = Vec::with_capacity(count);
    for round in 0..warmup + count {
        let input = CalcInput {
            program,
            customer,
            lines,
            redeem: Redeem::Max,
            promo_codes: &[],
            now: NOW,
            campaigns: CampaignContext::neutral(),
        };
        let started = Instant::now();
        let result = calculate(&input).expect("priced");
        let took = started.elapsed();
        assert_eq!(result.lines.iter().map(|l| l.discount.0).sum::<i64>(), result.discount.0);
        if !program.campaigns.is_empty() {
            assert!(result.campaigns.len() >= 10, "the campaigns must apply: {:?}", result.campaigns_skipped);
        }
        if round >= warmup {
            samples.push(took);
        }
    }
    samples.sort_unstable();
    samples
}

/// The `percent`-th percentile of sorted samples (nearest rank below).
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let index = sorted.len().saturating_sub(1) * percent / 100;
    sorted.get(index).copied().unwrap_or_default()
}

fn main() -> ExitCode {
    let full = std::env::args().any(|arg| arg == "--bench");
    let (warmup, count) = if full { (2_000, 20_000) } else { (2, 20) };
    println!(
        "rules_budgets: {} run ({} build), calculate with 20 lines",
        if full { "full" } else { "quick correctness" },
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let lines = lines();
    let mut verdict = ExitCode::SUCCESS;
    for campaigns in [0, 50] {
        let samples = measure(&program(campaigns, Active::AtNow), &lines, warmup, count);
        let (p50, p99) = (percentile(&samples, 50), percentile(&samples, 99));
        let judged = campaigns > 0 && full;
        let mark = if !judged {
            ""
        } else if p99 <= BUDGET {
            "  ✓ (≤ 1 ms)"
        } else {
            "  ✗ (> 1 ms)"
        };
        println!("  {campaigns:>2} campaigns: p50 {:>6} µs, p99 {:>6} µs{mark}", p50.as_micros(), p99.as_micros());
        if judged && p99 > BUDGET {
            verdict = ExitCode::FAILURE;
        }
    }
    let (floor, priced) = over_http(if full { (200, 2_000) } else { (2, 20) });
    let (floor, priced) = (percentile(&floor, 99), (percentile(&priced, 50), percentile(&priced, 99)));
    let mark = match (full, priced.1 <= BUDGET) {
        (false, _) => "",
        (true, true) => "  ✓ (≤ 1 ms)",
        (true, false) => "  ✗ (> 1 ms)",
    };
    println!(
        "  over HTTP, 50 campaigns: p50 {:>6} µs, p99 {:>6} µs{mark}; HTTP floor p99 {} µs",
        priced.0.as_micros(),
        priced.1.as_micros(),
        floor.as_micros()
    );
    if full && priced.1 > BUDGET {
        verdict = ExitCode::FAILURE;
    }
    verdict
}

/// Calculates over a real agent's API with the 50 campaigns in its program: the sorted samples
/// of the HTTP floor and of the calculations, `(warm-up, count)` of each.
fn over_http((warmup, count): (usize, usize)) -> (Vec<Duration>, Vec<Duration>) {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let program = toml::to_string(&program(50, Active::Always)).expect("the program as TOML");
    std::fs::write(dir.path().join("program.toml"), program).expect("program.toml written");
    let agent = Server::agent(AGENT, dir.path(), TOKEN);
    let mut client = Client::connect(agent.addr, Some(TOKEN));
    let enrolled = client.request(
        "POST",
        "/v1/customers",
        Some(&serde_json::to_vec(&json!({"phone": "+79990001122", "name": "Bench"})).expect("JSON")),
    );
    assert_eq!(enrolled.status, 201, "a customer to price for: {}", enrolled.text());
    let customer = enrolled.json("enrol")["id"].clone();
    let body: Vec<u8> = {
        let lines: Vec<Value> = lines()
            .iter()
            .map(|line| {
                json!({"sku": line.sku, "category": line.category, "quantity": line.quantity.0 / 1000,
                       "price": line.price.0})
            })
            .collect();
        serde_json::to_vec(&json!({"customer": {"id": customer}, "lines": lines, "redeem": 0})).expect("JSON")
    };
    let mut time = |path: &str, body: Option<&[u8]>, expect: u16| {
        let mut samples = Vec::with_capacity(count);
        for round in 0..warmup + count {
            let started = Instant::now();
            let reply = client.request(if body.is_some() { "POST" } else { "GET" }, path, body);
            let took = started.elapsed();
            assert_eq!(reply.status, expect, "{path}: {}", reply.text());
            if body.is_some() {
                let answer = reply.json("calculate");
                let applied = answer["campaigns"].as_array().map_or(0, Vec::len);
                assert!(applied >= 10, "the campaigns must apply over HTTP too: {answer}");
            }
            if round >= warmup {
                samples.push(took);
            }
        }
        samples.sort_unstable();
        samples
    };
    let floor = time("/v1/no-such-endpoint", None, 404);
    let priced = time("/v1/receipts/calculate", Some(&body), 200);
    (floor, priced)
}
