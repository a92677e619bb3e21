//! The wallet budgets of DESIGN §11, one function per measurement: `pass` builds and signs an
//! Apple Wallet pass (≤ 20 ms p99).
//!
//! `cargo bench --bench wallet_budgets` times 2,000 builds after a warm-up and exits non-zero
//! when the p99 is above budget. Without `--bench` (as `cargo test --all-targets` runs it) it is
//! a quick check: a few builds, one verified with `openssl smime`, timings printed, not judged.

#[allow(dead_code)]
#[path = "../tests/it/wallet_keys.rs"]
mod wallet_keys;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use loyalty::wallet::apple::{AppleConfig, ApplePasses, CardTemplate};
use loyalty::wallet::{NextExpiry, PassView};

const PASS_BUDGET: Duration = Duration::from_millis(20);

/// The `percent`-th percentile of sorted samples (nearest rank below).
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let index = sorted.len().saturating_sub(1) * percent / 100;
    sorted.get(index).copied().unwrap_or_default()
}

/// Builds and signs passes for changing balances; returns whether the budget held.
fn pass(full: bool) -> bool {
    let (warmup, count) = if full { (100, 2_000) } else { (1, 5) };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let keys = wallet_keys::apple_test_keys(dir.path());
    let passes = ApplePasses::new(AppleConfig {
        pass_cert_pem: keys.cert_pem.clone(),
        pass_key_pem: keys.key_pem.clone(),
        wwdr_cert_pem: keys.wwdr_pem.clone(),
        pass_type_id: wallet_keys::TEST_PASS_TYPE_ID.into(),
        team_id: wallet_keys::TEST_TEAM_ID.into(),
        web_service_url: "https://loyalty.example.com/wallet/apple".into(),
        template: CardTemplate::default_for("Зерно"),
    })
    .expect("the bench's configuration");
    let mut samples = Vec::with_capacity(count);
    for round in 0..warmup + count {
        let view = PassView {
            card: "2000000000015".into(),
            name: Some("Анна".into()),
            balance: 1_000 + round as i64,
            available: 1_000,
            pending: round as i64,
            tier: Some("Золото".into()),
            next_expiry: Some(NextExpiry { points: 120, at: 1_803_934_800 }),
        };
        let started = Instant::now();
        let pkpass = passes.build(&view, "bench-token-0123456789").expect("a pass");
        let took = started.elapsed();
        if round == 0 {
            let pass = wallet_keys::verify_pkpass(&pkpass, &keys.wwdr_path);
            assert_eq!(pass["storeCard"]["primaryFields"][0]["value"], 1_000);
        }
        if round >= warmup {
            samples.push(took);
        }
    }
    samples.sort_unstable();
    let (p50, p99, max) =
        (percentile(&samples, 50), percentile(&samples, 99), samples.last().copied().unwrap_or_default());
    let held = p99 <= PASS_BUDGET;
    let mark = match (full, held) {
        (false, _) => "",
        (true, true) => "  ✓ (≤ 20 ms)",
        (true, false) => "  ✗ (> 20 ms)",
    };
    println!(
        "  pass: {count} builds, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms{mark}",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    !full || held
}

fn main() -> ExitCode {
    let full = std::env::args().any(|arg| arg == "--bench");
    println!(
        "wallet_budgets: {} run ({} build)",
        if full { "full" } else { "quick correctness" },
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    if pass(full) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
