//! The wallet budgets of DESIGN §11, one function per measurement:
//!
//! - `pass` builds and signs an Apple Wallet pass (≤ 20 ms p99);
//! - `fan_out`: 10,000 customers each with a pass on a registered device, 10,000 sales pushed by
//!   a till (ten pushes of 1,000), timed from the first push until the APNs stand-in (HTTP/2
//!   over TLS, every JWT verified) has received a push for every device (≤ 60 s) — against the
//!   real `loyalty-cloud` binary on SQLite. Exactly one push per device is checked too.
//!
//! `cargo bench --bench wallet_budgets` runs both in full and exits non-zero when a budget is
//! missed. Without `--bench` (as `cargo test --all-targets` runs it) it is a quick check: a few
//! builds, one verified with `openssl smime`, and a fan-out to 30 devices, timings printed, not
//! judged.

#[allow(dead_code)]
#[path = "../tests/it/apns_standin.rs"]
mod apns_standin;
#[allow(dead_code)]
#[path = "support/cloud.rs"]
mod cloud;
#[allow(dead_code)]
mod support;
#[allow(dead_code)]
#[path = "../tests/it/wallet_keys.rs"]
mod wallet_keys;

use std::io::Read as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use loyalty::wallet::apple::{AppleConfig, ApplePasses, CardTemplate};
use loyalty::wallet::{NextExpiry, PassView};
use serde_json::{json, Value};

const PASS_BUDGET: Duration = Duration::from_millis(20);
const FAN_OUT_BUDGET: Duration = Duration::from_secs(60);
const PUBLIC_URL: &str = "https://loyalty.example.com";

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
    let pass_held = pass(full);
    let fan_out_held = fan_out(full);
    if pass_held && fan_out_held {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One sale of 100.00 earning `earn` points, as a till's outbox sends it.
fn sale_event(seq: i64, customer_id: &str, earn: i64) -> Value {
    let receipt = format!("fan-out-{seq}");
    json!({
        "seq": seq,
        "event_id": uuid::Uuid::new_v4().to_string(),
        "kind": "sale",
        "created_at": "2026-12-01T10:00:00Z",
        "payload": {
            "receipt": {
                "id": receipt, "customer_id": customer_id, "program_version": 1, "tier": null,
                "subtotal": 10_000, "discount": 0, "total": 10_000,
                "points": { "balance": 0, "available": 0, "max_redeem": 0, "redeem": 0, "earn": earn,
                            "balance_after": 0 },
                "lines": [{ "sku": "beans", "name": "Coffee beans", "category": null, "quantity": "1",
                            "price": 10_000, "amount": 10_000, "excluded": false, "promo_discount": 0,
                            "points_discount": 0, "discount": 0, "paid": 10_000, "earn": earn, "redeem_points": 0 }],
                "promo_codes": [], "limits": [], "committed_at": "2026-12-01T10:00:00Z"
            },
            "request": { "id": receipt, "customer": { "id": customer_id },
                         "lines": [{ "sku": "beans", "quantity": "1", "price": 10_000 }], "redeem": 0 }
        },
    })
}

/// A pass's `authenticationToken` and serial, read from the downloaded .pkpass.
fn pass_identity(pkpass: &[u8]) -> (String, String) {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(pkpass)).expect("a .pkpass is a zip");
    let mut text = String::new();
    archive.by_name("pass.json").expect("pass.json in the pass").read_to_string(&mut text).expect("pass.json");
    let pass: Value = serde_json::from_str(&text).expect("pass.json is JSON");
    let field = |key: &str| pass[key].as_str().unwrap_or_else(|| panic!("{key} in {pass}")).to_owned();
    (field("authenticationToken"), field("serialNumber"))
}

/// Runs `tasks` with at most `width` in flight; answers their results in order.
async fn in_flight<T, F>(width: usize, tasks: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    use futures_util::stream::StreamExt as _;
    futures_util::stream::iter(tasks).buffered(width).collect().await
}

/// 10,000 changes → 10,000 devices; returns whether the budget held.
fn fan_out(full: bool) -> bool {
    let devices: usize = if full { 10_000 } else { 30 };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let keys = wallet_keys::apple_test_keys(dir.path());
    let apns = apns_standin::apns_key(dir.path());
    let standin = runtime.block_on(apns_standin::ApnsStandIn::start(&apns.public_pem));
    let path = |p: &std::path::Path| p.to_str().expect("a UTF-8 path").to_owned();
    let (cert, key, wwdr, p8, ca) = (
        path(&keys.cert_path),
        path(&keys.key_path),
        path(&keys.wwdr_path),
        path(&apns.key_path),
        path(&standin.ca_path),
    );
    let cloud = cloud::Cloud::start_with_env(
        &cloud::Backend::Sqlite,
        None,
        &[
            ("LOYALTY_CLOUD_PUBLIC_URL", PUBLIC_URL),
            ("LOYALTY_CLOUD_APPLE_PASS_CERT", &cert),
            ("LOYALTY_CLOUD_APPLE_PASS_KEY", &key),
            ("LOYALTY_CLOUD_APPLE_WWDR_CERT", &wwdr),
            ("LOYALTY_CLOUD_APPLE_PASS_TYPE_ID", wallet_keys::TEST_PASS_TYPE_ID),
            ("LOYALTY_CLOUD_APPLE_TEAM_ID", wallet_keys::TEST_TEAM_ID),
            ("LOYALTY_CLOUD_APNS_KEY", &p8),
            ("LOYALTY_CLOUD_APNS_KEY_ID", apns_standin::KEY_ID),
            ("LOYALTY_CLOUD_APNS_URL", &standin.url),
            ("LOYALTY_CLOUD_APNS_CA", &ca),
        ],
    );
    let base = cloud.url();
    let (till_id, code) = cloud.create_till("Fan-out till");
    let setup = Instant::now();
    let (elapsed, first, pushes) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let admin = |method: reqwest::Method, path: String| {
            http.request(method, format!("{base}{path}")).bearer_auth(cloud::ADMIN)
        };
        // The customers, each with a pass on one registered device.
        let created = in_flight(
            8,
            (0..devices)
                .map(|i| {
                    let request = admin(reqwest::Method::POST, "/v1/admin/customers".into())
                        .json(&json!({ "phone": format!("+7916{:07}", i), "name": format!("Customer {i}") }));
                    async move {
                        let answer: Value = request.send().await.expect("create").json().await.expect("JSON");
                        answer["id"].as_str().unwrap_or_else(|| panic!("a customer: {answer}")).to_owned()
                    }
                })
                .collect(),
        )
        .await;
        let registrations = in_flight(
            8,
            created
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let download = admin(reqwest::Method::GET, format!("/v1/admin/customers/{id}/wallet.pkpass"));
                    let (http, base) = (http.clone(), base.clone());
                    async move {
                        let pkpass = download.send().await.expect("the pass").bytes().await.expect("its bytes");
                        let (token, serial) = pass_identity(&pkpass);
                        let url = format!(
                            "{base}/wallet/apple/v1/devices/bench-device-{i}/registrations/{}/{serial}",
                            wallet_keys::TEST_PASS_TYPE_ID
                        );
                        let registered = http
                            .post(url)
                            .header("Authorization", format!("ApplePass {token}"))
                            .json(&json!({ "pushToken": format!("{:064x}", i + 1) }))
                            .send()
                            .await
                            .expect("the registration");
                        assert_eq!(registered.status(), 201, "a device registers");
                    }
                })
                .collect(),
        )
        .await;
        assert_eq!(registrations.len(), devices);
        let enrolled: Value = http
            .post(format!("{base}/v1/enroll"))
            .json(&json!({ "code": code }))
            .send()
            .await
            .expect("enroll")
            .json()
            .await
            .expect("JSON");
        assert_eq!(enrolled["till_id"], till_id.as_str(), "{enrolled}");
        let device_token = enrolled["device_token"].as_str().expect("a device token").to_owned();
        println!("  fan-out: {devices} customers, passes and devices set up in {:.1} s", setup.elapsed().as_secs_f64());

        // The changes: one sale per customer, in pushes of 1,000 as a till's outbox drains.
        let started = Instant::now();
        let mut seq = 0;
        for batch in created.chunks(1_000) {
            let events: Vec<Value> = batch
                .iter()
                .map(|id| {
                    seq += 1;
                    sale_event(seq, id, 50)
                })
                .collect();
            let pushed: Value = http
                .post(format!("{base}/v1/sync/push"))
                .bearer_auth(&device_token)
                .json(&json!({ "events": events }))
                .send()
                .await
                .expect("push")
                .json()
                .await
                .expect("JSON");
            let applied =
                pushed["results"].as_array().map_or(0, |r| r.iter().filter(|r| r["outcome"] == "applied").count());
            assert_eq!(applied, batch.len(), "every sale applied: {pushed}");
        }
        let mut first = None;
        let deadline = started + FAN_OUT_BUDGET * 3;
        while standin.count() < devices && Instant::now() < deadline {
            if first.is_none() && standin.count() > 0 {
                first = Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = started.elapsed();
        // Nothing more comes: one push per device for one change.
        tokio::time::sleep(Duration::from_secs(3)).await;
        (elapsed, first.unwrap_or(elapsed), standin.pushes())
    });
    let mut tokens: Vec<&str> = pushes.iter().map(|p| p.token.as_str()).collect();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), devices, "every device got a push");
    assert_eq!(pushes.len(), devices, "exactly one push per device");
    assert!(pushes.iter().all(|p| p.http2 && p.token_verified && p.status == 200), "pushes as APNs takes them");
    let held = elapsed <= FAN_OUT_BUDGET;
    let mark = match (full, held) {
        (false, _) => "",
        (true, true) => "  ✓ (≤ 60 s)",
        (true, false) => "  ✗ (> 60 s)",
    };
    println!(
        "  fan-out: {devices} sales → {devices} pushes in {:.2} s (first push after {:.2} s, {:.0} pushes/s){mark}",
        elapsed.as_secs_f64(),
        first.as_secs_f64(),
        devices as f64 / elapsed.as_secs_f64().max(0.001)
    );
    !full || held
}
