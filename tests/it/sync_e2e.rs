//! The agent and the cloud together, as real processes: enrollment, pushing sales, pulling
//! customers and balances, the cloud going away and coming back, faults on the network, kill -9
//! of the agent mid-stream, and two tills spending the same points offline.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::proxy::{Fault, FaultProxy};
use crate::support::{agent_binary, Agent};

/// Enrolls a fresh agent data directory with the cloud at `cloud_url` (the real CLI).
pub(crate) async fn enroll(cloud: &Cloud, cloud_url: &str, dir: &Path, name: &str) -> String {
    let (till_id, code) = cloud.create_till(name).await;
    let (cloud_url, dir) = (cloud_url.to_owned(), dir.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(agent_binary())
            .args(["enroll", "--cloud", &cloud_url, "--code", &code, "--data-dir"])
            .arg(&dir)
            .env("LOYALTY_LOG", "warn")
            .output()
            .expect("run loyalty-agent enroll")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "enroll failed: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&till_id), "{stdout}");
    till_id
}

/// Polls `check` until it returns `Some`, or fails the test after `limit`.
pub(crate) async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn health(agent: &Agent) -> Value {
    agent.get("/v1/health").await.1
}

pub(crate) async fn wait_drained(agent: &Agent, limit: Duration) {
    eventually(limit, "the outbox to drain", || async {
        let health = health(agent).await;
        (health["sync"]["pending"] == 0 && health["sync"]["state"] == "online").then_some(())
    })
    .await;
}

async fn cloud_balance(cloud: &Cloud, customer_id: &str) -> i64 {
    cloud.points(customer_id).await["balance"].as_i64().expect("balance")
}

fn sale(id: &str, customer_id: &str, price: i64, redeem: Value) -> Value {
    json!({ "id": id, "customer": { "id": customer_id }, "redeem": redeem,
            "lines": [{ "sku": "beans", "quantity": "1", "price": price }] })
}

cloud_test!(agent_and_cloud_agree, agent_and_cloud_agree_scenario);
async fn agent_and_cloud_agree_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let ivan = cloud.customer("+79991234567").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let (status, body) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{ivan_id}/adjustments"),
            json!({ "id": "gift", "points": 171, "reason": "test" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let dir = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &cloud.base, dir.path(), "till-1").await;
    let agent = Agent::spawn_in(dir.path(), None);
    let first = health(&agent).await;
    assert_eq!(first["mode"], "connected");

    // The directory came with enrollment: the customer and their points are here.
    let (_, found) = agent.get("/v1/customers/search?q=8%20999%20123%2045%2067").await;
    assert_eq!(found["customers"][0]["id"], ivan_id.as_str(), "{found}");
    assert_eq!(found["customers"][0]["points"]["available"], 171);

    // The worked example, committed at the till, reaches the cloud once.
    let (status, committed) = agent.post("/v1/receipts", sale("r-1", &ivan_id, 25000, json!("max"))).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!((committed["total"].clone(), committed["points"]["earn"].clone()), (json!(7900), json!(3)));
    wait_drained(&agent, Duration::from_secs(10)).await;
    eventually(Duration::from_secs(10), "the cloud balance", || async {
        (cloud_balance(&cloud, &ivan_id).await == 3).then_some(())
    })
    .await;
    let (status, receipt) = cloud.admin_get(&format!("/v1/admin/receipts/{till_id}/r-1")).await;
    assert_eq!(status, 200, "{receipt}");
    let (_, local) = agent.get(&format!("/v1/customers/{ivan_id}")).await;
    assert_eq!(local["points"]["balance"], 3, "{local}");

    // A customer who signs up in the cloud is found at the till within about a second.
    let olga = cloud.customer("+79990001111").await;
    let started = Instant::now();
    eventually(Duration::from_secs(5), "the new customer at the till", || async {
        let (_, found) = agent.get("/v1/customers/search?q=%2B79990001111").await;
        (found["customers"][0]["id"] == olga["id"]).then_some(())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?} after the cloud answered", started.elapsed());

    // A return at the till gives the 171 back in the cloud too.
    let (status, returned) = agent.post("/v1/receipts/r-1/returns", json!({ "id": "ret-1", "all": true })).await;
    assert_eq!(status, 200, "{returned}");
    wait_drained(&agent, Duration::from_secs(10)).await;
    eventually(Duration::from_secs(10), "the refund in the cloud", || async {
        (cloud_balance(&cloud, &ivan_id).await == 171).then_some(())
    })
    .await;
}

cloud_test!(cloud_down_then_back, cloud_down_then_back_scenario);
async fn cloud_down_then_back_scenario(backend: Backend) {
    let mut cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let customer = cloud.customer("+79992223344").await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &proxy.url(), dir.path(), "till-down").await;
    let agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(10)).await;

    cloud.stop();
    for n in 0..5 {
        let (status, body) = agent.post("/v1/receipts", sale(&format!("off-{n}"), &customer_id, 10000, json!(0))).await;
        assert_eq!(status, 200, "the till keeps selling offline: {body}");
    }
    let offline = eventually(Duration::from_secs(10), "health to say offline", || async {
        let health = health(&agent).await;
        (health["sync"]["state"] == "offline").then_some(health)
    })
    .await;
    assert_eq!(offline["sync"]["pending"], 5, "{offline}");
    assert!(offline["sync"]["oldest_pending_seconds"].as_i64().is_some());
    let (_, found) = agent.get("/v1/customers/search?q=%2B79992223344").await;
    assert_eq!(found["customers"][0]["points"]["balance"], 25, "5 % of 5 × 100.00, offline");

    cloud.restart();
    proxy.set_upstream(cloud.addr());
    let (status, synced) = agent.post("/v1/sync", json!({})).await;
    assert_eq!(status, 200, "{synced}");
    wait_drained(&agent, Duration::from_secs(15)).await;
    assert_eq!(cloud_balance(&cloud, &customer_id).await, 25);
    let (_, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={customer_id}")).await;
    assert_eq!(receipts["receipts"].as_array().map(Vec::len), Some(5), "{receipts}");
}

cloud_test!(network_faults_apply_each_receipt_once, network_faults_scenario);
async fn network_faults_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let customer = cloud.customer("+79993334455").await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &proxy.url(), dir.path(), "till-faults").await;
    let agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(10)).await;

    let mut committed = 0;
    for fault in [Fault::Refuse, Fault::CutResponse, Fault::Stall, Fault::Trickle, Fault::CutResponse] {
        proxy.set(fault);
        for _ in 0..4 {
            let id = format!("f-{committed}");
            let (status, body) = agent.post("/v1/receipts", sale(&id, &customer_id, 20000, json!(0))).await;
            assert_eq!(status, 200, "{fault:?}: {body}");
            committed += 1;
        }
        // Let the worker try through the fault for a moment.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    proxy.set(Fault::None);
    let _ = agent.post("/v1/sync", json!({})).await;
    wait_drained(&agent, Duration::from_secs(30)).await;

    // Each receipt once: 10.00 points each at 5 %, and one stored receipt per sale.
    assert_eq!(cloud_balance(&cloud, &customer_id).await, 10 * committed);
    let (_, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={customer_id}&limit=1000")).await;
    let ids: Vec<&str> =
        receipts["receipts"].as_array().unwrap().iter().filter_map(|r| r["receipt_id"].as_str()).collect();
    assert_eq!(ids.len() as i64, committed, "{receipts}");
    let (status, _) = cloud.admin_get(&format!("/v1/admin/receipts/{till_id}/f-0")).await;
    assert_eq!(status, 200);
    let (_, local) = agent.get(&format!("/v1/customers/{customer_id}")).await;
    assert_eq!(local["points"]["balance"], 10 * committed, "both sides agree: {local}");
}

cloud_test!(kill_9_mid_stream_loses_nothing, kill_9_scenario);
async fn kill_9_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let customer = cloud.customer("+79994445566").await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &cloud.base, dir.path(), "till-k9").await;
    let mut agent = Agent::spawn_in(dir.path(), None);

    let mut answered = 0i64;
    for round in 0..4 {
        // Fire commits without waiting for the answers of the last few, then kill the agent.
        let mut pending = Vec::new();
        for n in 0..12 {
            let id = format!("k-{round}-{n}");
            let url = agent.url("/v1/receipts");
            let body = sale(&id, &customer_id, 10000, json!(0));
            let client = agent.client().clone();
            pending.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(crate::support::TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }));
            if n == 8 {
                tokio::time::sleep(Duration::from_millis(rand_delay())).await;
                agent.kill9();
            }
        }
        for task in pending {
            if let Ok(Ok(200)) = task.await {
                answered += 1;
            }
        }
        agent.restart();
    }
    wait_drained(&agent, Duration::from_secs(20)).await;
    let (_, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={customer_id}&limit=1000")).await;
    let in_cloud = receipts["receipts"].as_array().unwrap().len() as i64;
    assert!(in_cloud >= answered, "every commit answered 200 is in the cloud: {in_cloud} < {answered}");
    // Nothing twice: the cloud's balance is exactly 5 points per receipt it holds.
    assert_eq!(cloud_balance(&cloud, &customer_id).await, 5 * in_cloud);
}

fn rand_delay() -> u64 {
    use rand::Rng;
    rand::rng().random_range(0..30)
}

cloud_test!(two_tills_overspend_offline, overspend_scenario);
async fn overspend_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let customer = cloud.customer("+79995556677").await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let (status, _) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{customer_id}/adjustments"),
            json!({ "id": "seed", "points": 100, "reason": "test" }),
        )
        .await;
    assert_eq!(status, 201);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    enroll(&cloud, &proxy.url(), dir_a.path(), "till-a").await;
    enroll(&cloud, &proxy.url(), dir_b.path(), "till-b").await;
    let a = Agent::spawn_in(dir_a.path(), None);
    let b = Agent::spawn_in(dir_b.path(), None);
    wait_drained(&a, Duration::from_secs(10)).await;
    wait_drained(&b, Duration::from_secs(10)).await;

    // The network goes down; each till lets the customer spend 80 of their 100 points.
    proxy.set(Fault::Refuse);
    for agent in [&a, &b] {
        eventually(Duration::from_secs(10), "offline", || async {
            let _ = agent.post("/v1/sync", json!({})).await;
            (health(agent).await["sync"]["state"] == "offline").then_some(())
        })
        .await;
    }
    for (agent, id) in [(&a, "spend-a"), (&b, "spend-b")] {
        let (status, body) = agent.post("/v1/receipts", sale(id, &customer_id, 10000, json!(80))).await;
        assert_eq!(status, 200, "{body}");
        // Offline, spending beyond the offline limit is refused with a clear code.
        let over = agent.post("/v1/receipts/calculate", sale("quote", &customer_id, 10000, json!(90))).await;
        assert!(over.0 == 422, "{over:?}");
    }

    proxy.set(Fault::None);
    for agent in [&a, &b] {
        let _ = agent.post("/v1/sync", json!({})).await;
        wait_drained(agent, Duration::from_secs(15)).await;
    }
    // Both spends applied (the goods are gone): 100 − 160 + earned on the 2 × 20.00 paid.
    let points = cloud.points(&customer_id).await;
    assert_eq!(points["balance"], 100 - 160 + 2, "{points}");
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts").await;
    let overdrafts: Vec<&Value> =
        conflicts["conflicts"].as_array().unwrap().iter().filter(|c| c["kind"] == "overdraft").collect();
    assert_eq!(overdrafts.len(), 1, "{conflicts}");
}

cloud_test!(edits_merge_per_field_and_opt_out_wins, merge_scenario);
async fn merge_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let (status, anna) = cloud
        .admin_post(
            "/v1/admin/customers",
            json!({ "phone": "+79996667788", "name": "Anna", "email": "anna@example.com" }),
        )
        .await;
    assert_eq!(status, 201, "{anna}");
    let id = anna["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &proxy.url(), dir.path(), "till-merge").await;
    let agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(10)).await;

    // Offline, the till renames her and records her SMS opt-in.
    proxy.set(Fault::Refuse);
    let (status, edited) = agent
        .patch(&format!("/v1/customers/{id}"), json!({ "name": "Anna Karenina", "consents": { "sms": true } }))
        .await;
    assert_eq!(status, 200, "{edited}");
    // A second later, in the back office, her email changes and she opts out of SMS.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = cloud
        .admin_patch(
            &format!("/v1/admin/customers/{id}"),
            json!({ "email": "karenina@example.com", "consents": { "sms": false } }),
        )
        .await;
    assert_eq!(status, 200);

    // Reconnected: each field keeps its own latest value, and the older opt-in that arrived
    // late does not override the newer opt-out — on both sides.
    proxy.set(Fault::None);
    let _ = agent.post("/v1/sync", json!({})).await;
    wait_drained(&agent, Duration::from_secs(10)).await;
    let (_, in_cloud) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    assert_eq!(in_cloud["name"], "Anna Karenina", "{in_cloud}");
    assert_eq!(in_cloud["email"], "karenina@example.com", "{in_cloud}");
    assert_eq!(in_cloud["consents"]["sms"]["granted"], false, "{in_cloud}");
    let at_till = eventually(Duration::from_secs(10), "the merged customer at the till", || async {
        let (_, customer) = agent.get(&format!("/v1/customers/{id}")).await;
        (customer["email"] == "karenina@example.com").then_some(customer)
    })
    .await;
    assert_eq!(at_till["name"], "Anna Karenina");
    assert_eq!(at_till["consents"]["sms"]["granted"], false, "{at_till}");

    // The other direction: the till opts her out, later than an opt-in the office sends late.
    let (status, _) =
        cloud.admin_patch(&format!("/v1/admin/customers/{id}"), json!({ "consents": { "email": true } })).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = agent.patch(&format!("/v1/customers/{id}"), json!({ "consents": { "email": false } })).await;
    assert_eq!(status, 200);
    wait_drained(&agent, Duration::from_secs(10)).await;
    let (_, in_cloud) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    assert_eq!(in_cloud["consents"]["email"]["granted"], false, "{in_cloud}");
    assert_eq!(in_cloud["consents"]["email"]["source"], "till", "{in_cloud}");
}

cloud_test!(a_customer_enrolled_twice_is_merged_at_the_till, merged_scenario);
async fn merged_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &proxy.url(), dir.path(), "till-merge-2").await;
    let agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(10)).await;

    // While the till is offline, the same person signs up in the cloud and enrolls at the till.
    proxy.set(Fault::Refuse);
    let _ = agent.post("/v1/sync", json!({})).await;
    let in_cloud = cloud.customer("+79998889900").await;
    let kept = in_cloud["id"].as_str().unwrap().to_owned();
    let local = agent.enroll("8 999 888 99 00", "Boris").await;
    let local_id = local["id"].as_str().unwrap().to_owned();
    assert_ne!(local_id, kept);
    let (status, sale_answer) = agent.post("/v1/receipts", sale("m-1", &local_id, 20000, json!(0))).await;
    assert_eq!(status, 200, "{sale_answer}");

    // Reconnected: the cloud keeps its customer, and the till folds its duplicate into it.
    proxy.set(Fault::None);
    let _ = agent.post("/v1/sync", json!({})).await;
    wait_drained(&agent, Duration::from_secs(15)).await;
    let merged = eventually(Duration::from_secs(10), "the merge at the till", || async {
        let (_, found) = agent.get("/v1/customers/search?q=%2B79998889900").await;
        let customers = found["customers"].as_array().cloned().unwrap_or_default();
        (customers.len() == 1 && customers[0]["id"] == kept.as_str()).then(|| customers[0].clone())
    })
    .await;
    assert_eq!(merged["points"]["balance"], 10, "the sale's 10 points count for the kept customer: {merged}");
    assert_eq!(cloud_balance(&cloud, &kept).await, 10);
    // The old id still answers, as the customer it became.
    let (status, by_old_id) = agent.get(&format!("/v1/customers/{local_id}")).await;
    assert_eq!(status, 200, "{by_old_id}");
    assert_eq!(by_old_id["id"], kept.as_str());
    let (_, receipt) = agent.get("/v1/receipts/m-1").await;
    assert_eq!(receipt["receipt"]["id"], "m-1");
}

/// Issue 9, point 12: a drain that takes a while answers `POST /v1/sync` with 202 and its
/// progress instead of a timeout, health's `sync.drain` follows it batch by batch, and
/// `loyalty-agent sync` follows it to the end. 600 customers enrolled offline are two push
/// batches (500 + 100); the proxy trickles the first so the drain is slow enough to watch.
#[tokio::test]
async fn a_long_drain_reports_its_progress() {
    let cloud = Cloud::start(Backend::Sqlite).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &proxy.url(), dir.path(), "till-progress").await;
    proxy.set(Fault::Refuse);
    let agent = Agent::spawn_in(dir.path(), None);
    const QUEUED: u64 = 600;
    for k in 0..QUEUED {
        let (status, body) = agent
            .post("/v1/customers", json!({ "phone": format!("+7999777{k:04}"), "name": format!("Queued {k}") }))
            .await;
        assert_eq!(status, 201, "enrolling offline: {body}");
    }
    eventually(Duration::from_secs(15), "health to say offline with the queue", || async {
        let health = health(&agent).await;
        (health["sync"]["state"] == "offline" && health["sync"]["pending"] == QUEUED).then_some(())
    })
    .await;
    assert!(health(&agent).await["sync"].get("drain").is_none(), "no drain while nothing is being pushed");

    proxy.set(Fault::Trickle);
    let (status, answer) = agent.post("/v1/sync?wait=0", json!({})).await;
    assert_eq!(status, 202, "a sync still running is answered with its progress: {answer}");
    assert_eq!(answer["state"], "syncing", "{answer}");
    let progress = &answer["progress"];
    assert_eq!(
        progress["sent"].as_u64().unwrap_or(0) + progress["left"].as_u64().unwrap_or(0),
        QUEUED,
        "sent and left add up to the queue: {answer}"
    );
    assert!(answer["message"].as_str().unwrap_or("").contains("left"), "{answer}");

    // The command line follows the same drain (its stdout is not a terminal: lines, no bar).
    let addr = agent.addr().to_owned();
    let cli = tokio::task::spawn_blocking(move || {
        Command::new(agent_binary())
            .args(["sync", "--listen", &addr])
            .env("LOYALTY_AGENT_TOKEN", crate::support::TOKEN)
            .env("LOYALTY_LOG", "warn")
            .output()
            .expect("run loyalty-agent sync")
    });

    let halfway = eventually(Duration::from_secs(60), "the first batch to be acknowledged", || async {
        let health = health(&agent).await;
        (health["sync"]["drain"]["sent"].as_u64() >= Some(500)).then_some(health)
    })
    .await;
    let drain = &halfway["sync"]["drain"];
    assert_eq!(drain["sent"], 500, "one batch answered: {halfway}");
    assert_eq!(drain["left"], QUEUED - 500, "the rest still queued: {halfway}");
    assert!(drain["rate_per_s"].as_u64() > Some(0), "a rate once something was sent: {halfway}");
    assert_eq!(halfway["sync"]["pending"], QUEUED - 500, "{halfway}");

    proxy.set(Fault::None);
    let output = cli.await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "`loyalty-agent sync` ends well: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("reached the cloud"), "{stdout}");
    let done = health(&agent).await;
    assert_eq!(done["sync"]["pending"], 0, "the CLI returned only once the outbox was empty: {done}");
    assert!(done["sync"].get("drain").is_none(), "no drain once it is over: {done}");
    let (status, synced) = agent.post("/v1/sync", json!({})).await;
    assert_eq!(status, 200, "a quick sync is answered when done: {synced}");
    let (_, tills) = cloud.admin_get("/v1/admin/tills").await;
    let till = tills["tills"].as_array().and_then(|t| t.iter().find(|t| t["name"] == "till-progress")).cloned();
    assert_eq!(
        till.map(|t| t["last_seq"].clone()),
        Some(json!(QUEUED)),
        "every queued event reached the cloud: {tills}"
    );
}

cloud_test!(expiring_points_and_the_next_tier_reach_the_till, expiry_scenario);
/// What the cashier tells a customer ("50 points expire on …", "1 000 ₽ more to Gold") comes
/// from the cloud's lots and program, the same at the till as in the back office.
async fn expiry_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let program = json!({ "expiry_days": 20, "tiers": [{ "name": "Gold", "threshold": 100000 }] });
    let (status, body) = cloud.admin_put("/v1/admin/program", program).await;
    assert_eq!(status, 200, "{body}");
    let vera = cloud.customer("+79994440001").await;
    let vera_id = vera["id"].as_str().unwrap().to_owned();
    let (status, body) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{vera_id}/adjustments"),
            json!({ "id": "gift", "points": 50, "reason": "test" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, in_cloud) = cloud.admin_get(&format!("/v1/admin/customers/{vera_id}")).await;
    assert_eq!(in_cloud["next_expiry"]["points"], 50, "{in_cloud}");
    let at = in_cloud["next_expiry"]["at"].as_str().expect("an expiry time").to_owned();
    let days = (time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).unwrap()
        - time::OffsetDateTime::now_utc())
    .whole_days();
    assert!((19..=20).contains(&days), "20 days from now: {at}");
    assert_eq!(in_cloud["next_tier"], json!({ "name": "Gold", "threshold": 100000, "remaining": 100000 }));

    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &cloud.base, dir.path(), "till-expiry").await;
    let agent = Agent::spawn_in(dir.path(), None);
    let at_till = eventually(Duration::from_secs(10), "Vera's points at the till", || async {
        let (_, found) = agent.get(&format!("/v1/customers/{vera_id}")).await;
        (found["points"]["balance"] == 50).then_some(found)
    })
    .await;
    assert_eq!(at_till["next_expiry"], in_cloud["next_expiry"], "the till says what the cloud says");
    assert_eq!(at_till["next_tier"], in_cloud["next_tier"]);
}
