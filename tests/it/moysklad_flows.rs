//! MoySklad verification codes (registration's 412 / 28001 and spending's `needVerification`)
//! on the cloud and the agent, and a MoySklad sale on an enrolled agent reaching the cloud.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::moysklad::{
    agent_with, cloud_moysklad, fixture, seed_recalc, MoySklad, Native, CREATE, SALE, STORE_ID, VERIFY_REGISTRATION,
    VERIFY_SPENDING,
};
use crate::support::{agent_binary, Agent, TOKEN};

const NEW_MS_ID: &str = "0f0f0f0f-0000-4000-8000-000000000001";

/// The registration and spending codes, with `age_codes` moving every stored code 10 minutes
/// into the past (past its 5-minute life).
async fn verification(ms: &MoySklad, native: &Native<'_>, age_codes: impl Fn()) {
    let create = |status_check: Option<&str>, phone: &str, ms_id: &str| {
        let mut body = fixture(
            CREATE,
            &[("/phone", json!(phone)), ("/meta/id", json!(ms_id)), ("/discountCardNumber", json!("09716398"))],
        );
        if let Some(object) = body.as_object_mut() {
            match status_check {
                Some(check) => object.insert("statusCheck".into(), json!(check)),
                None => object.remove("statusCheck"),
            };
        }
        body
    };
    // A new customer must confirm: UNCHECKED, unstated, and CHECKED without a code we issued.
    let refused = ms.post("/counterparty", &create(Some("UNCHECKED"), "+79011231122", NEW_MS_ID)).await;
    assert_eq!(refused.error(412, 28001)["error"], "Требуется подтверждение");
    ms.post("/counterparty", &create(None, "+79011231122", NEW_MS_ID)).await.error(412, 28001);
    ms.post("/counterparty", &create(Some("CHECKED"), "+79011231122", NEW_MS_ID)).await.error(412, 28001);

    // The till asks for the code (the documentation's body); asking again within a minute gets
    // the same code, not a second SMS.
    let first = ms.post("/counterparty/verify", &fixture(VERIFY_REGISTRATION, &[])).await;
    let code = first.ok(200)["verificationCode"].as_str().expect("code").to_owned();
    assert!(code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()), "{}", first.text);
    assert_eq!(first.body["timeForRepeat"], 60);
    let message = first.body["messageForCashier"].as_str().unwrap_or("");
    assert!(message.contains("+7901***1122") && message.chars().count() <= 140, "{message}");
    let again = ms.post("/counterparty/verify", &fixture(VERIFY_REGISTRATION, &[])).await;
    assert_eq!(again.ok(200)["verificationCode"], code.as_str());
    assert!(again.body["timeForRepeat"].as_i64().is_some_and(|t| t > 0 && t <= 60), "{}", again.text);
    ms.post("/counterparty/verify", &json!({ "meta": { "href": "h" }, "phone": null })).await.error(400, 40001);

    // CHECKED uses the code up: the customer is created and linked; the code does not serve twice.
    assert_eq!(ms.post("/counterparty", &create(Some("CHECKED"), "+79011231122", NEW_MS_ID)).await.status, 201);
    let row = ms.get("/counterparty?search=79011231122").await.ok(200)["rows"][0].clone();
    assert_eq!(row["msId"], NEW_MS_ID);
    assert_eq!(row["discountCardNumber"], "09716398", "a digits-only MoySklad card is kept");
    let other = "0f0f0f0f-0000-4000-8000-000000000002";
    ms.post("/counterparty", &create(Some("CHECKED"), "+79011231133", other)).await.error(412, 28001);
    // IGNORE: MoySklad keeps the counterparty anyway, so do we.
    assert_eq!(ms.post("/counterparty", &create(Some("IGNORE"), "+79011231133", other)).await.status, 201);
    // An expired code confirms nothing.
    let third = "0f0f0f0f-0000-4000-8000-000000000003";
    let verify_third = fixture(VERIFY_REGISTRATION, &[("/phone", json!("+79011231144"))]);
    assert_eq!(ms.post("/counterparty/verify", &verify_third).await.ok(200)["timeForRepeat"], 60);
    age_codes();
    ms.post("/counterparty", &create(Some("CHECKED"), "+79011231144", third)).await.error(412, 28001);
    assert_eq!(ms.post("/counterparty/verify", &verify_third).await.ok(200)["timeForRepeat"], 60, "a fresh code");
    assert_eq!(ms.post("/counterparty", &create(Some("CHECKED"), "+79011231144", third)).await.status, 201);

    // Spending: the quote asks for a code; the code goes to the customer's phone.
    let id = row["id"].as_str().expect("id").to_owned();
    native.give_points(&id, 171).await;
    let spending = ms.post("/retaildemand/recalc", &seed_recalc(NEW_MS_ID, &[])).await;
    assert_eq!(spending.ok(200)["needVerification"], true, "{}", spending.text);
    let mut earning = seed_recalc(NEW_MS_ID, &[]);
    earning["bonusProgram"]["transactionType"] = json!("EARNING");
    assert_eq!(ms.post("/retaildemand/recalc", &earning).await.ok(200)["needVerification"], false);
    let verify = fixture(VERIFY_SPENDING, &[("/counterpartyId", json!(NEW_MS_ID))]);
    let sent = ms.post("/retaildemand/verify", &verify).await;
    assert_eq!(sent.ok(200)["verificationCode"].as_str().map(str::len), Some(4), "{}", sent.text);
    // Found by phone when the id is the till's own (a syncId).
    let by_phone = fixture(VERIFY_SPENDING, &[("/counterpartyId", json!("sync-id-unknown-here"))]);
    assert_eq!(
        ms.post("/retaildemand/verify", &by_phone).await.ok(200)["verificationCode"],
        sent.body["verificationCode"]
    );
    let nobody = fixture(VERIFY_SPENDING, &[("/counterpartyId", json!("nobody")), ("/phone", json!("+79990000009"))]);
    ms.post("/retaildemand/verify", &nobody).await.error(404, 40400);
    // The sale spends; the code is used up by it.
    let sale = json!({
        "retailStore": { "meta": { "href": "h", "id": "store" } }, "name": "V-1", "moment": "2026-11-21 12:00:00",
        "meta": { "href": "", "id": "" }, "agent": { "meta": { "href": "h", "id": NEW_MS_ID } },
        "positions": [crate::moysklad::position("coffee", json!(1), json!(250.00))],
        "bonusProgram": { "bonusValueToSpend": 171, "bonusValueToEarn": 3 }
    });
    assert_eq!(ms.post("/retaildemand", &sale).await.status, 201);
    assert_eq!(native.customer(&id).await["points"]["balance"], 3);
}

cloud_test!(moysklad_codes_on_the_cloud, cloud_codes_scenario);
async fn cloud_codes_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (status, body) =
        cloud.admin_put("/v1/admin/program", json!({ "verify_registration": true, "verify_spending": true })).await;
    assert!(status == 200 || status == 201, "{body}");
    let (ms, till_id) = cloud_moysklad(&cloud).await;
    let age = || cloud.sql("UPDATE moysklad_codes SET issued_at = issued_at - 600, expires_at = expires_at - 600");
    verification(&ms, &Native::Cloud { cloud: &cloud, till_id }, age).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moysklad_codes_on_the_agent() {
    let (agent, dir) = agent_with("verify_registration = true\nverify_spending = true\n", None);
    let ms = MoySklad::new(&agent.base, TOKEN);
    let database = dir.path().join("agent.db");
    let age = move || {
        let conn = rusqlite::Connection::open(&database).expect("open the agent database");
        conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        conn.execute_batch("UPDATE moysklad_codes SET issued_at = issued_at - 600, expires_at = expires_at - 600")
            .expect("age the codes");
    };
    verification(&ms, &Native::Agent(&agent), age).await;
}

/// Enrolls a fresh agent data directory with the cloud (the real CLI).
pub async fn enroll(cloud: &Cloud, dir: &Path) {
    let (_, code) = cloud.create_till("Till 1").await;
    let (url, dir) = (cloud.base.clone(), dir.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(agent_binary())
            .args(["enroll", "--cloud", &url, "--code", &code, "--data-dir"])
            .arg(&dir)
            .env("LOYALTY_LOG", "warn")
            .output()
            .expect("run loyalty-agent enroll")
    })
    .await
    .expect("enroll");
    assert!(output.status.success(), "enroll failed: {}", String::from_utf8_lossy(&output.stderr));
}

pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn drained(agent: &Agent) -> bool {
    let health = agent.get("/v1/health").await.1;
    health["sync"]["pending"] == 0 && health["sync"]["state"] == "online"
}

cloud_test!(moysklad_sale_on_the_agent_reaches_the_cloud, agent_to_cloud_scenario);
async fn agent_to_cloud_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let dir = tempfile::tempdir().expect("temp dir");
    enroll(&cloud, dir.path()).await;
    let agent = Agent::spawn_in(dir.path(), None);
    let ms = MoySklad::new(&agent.base, TOKEN);

    // A customer created through MoySklad on the till reaches the cloud like any enrollment.
    let create = fixture(CREATE, &[("/phone", json!("+79991112233"))]);
    assert_eq!(ms.post("/counterparty", &create).await.status, 201);
    let id = ms.get("/counterparty?search=79991112233").await.ok(200)["rows"][0]["id"].as_str().expect("id").to_owned();
    eventually("the customer in the cloud", || async {
        cloud.admin_get(&format!("/v1/admin/customers/{id}")).await.0 == 200
    })
    .await;

    // Points given in the cloud come down; the till's link to MoySklad survives the pull.
    let body = json!({ "id": "adj-1", "points": 171, "reason": "test" });
    assert_eq!(cloud.admin_post(&format!("/v1/admin/customers/{id}/adjustments"), body).await.0, 201);
    let detail = json!({ "meta": { "href": "h", "id": crate::moysklad::MS_IVAN } });
    eventually("the balance on the till", || async {
        ms.post("/counterparty/detail", &detail).await.body["bonusProgram"]["agentBonusBalance"] == 171
    })
    .await;

    // The seed's sale on the till: in the outbox, then in the cloud's receipts and balance.
    let sale = json!({
        "retailStore": { "meta": { "href": "h", "id": "store" } }, "name": "S-1", "moment": "2026-11-22 09:00:00",
        "meta": { "href": "h", "id": "5a1e0000-0000-4000-8000-0000000000e2" },
        "agent": { "meta": { "href": "h", "id": crate::moysklad::MS_IVAN } },
        "positions": [crate::moysklad::position("coffee", json!(1), json!(250.00))],
        "bonusProgram": { "bonusValueToSpend": 171, "bonusValueToEarn": 3 }
    });
    assert_eq!(ms.post("/retaildemand", &sale).await.status, 201);
    eventually("the outbox to drain", || drained(&agent)).await;
    let (_, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={id}")).await;
    let receipt: Value = receipts["receipts"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["receipt_id"] == "moysklad:5a1e0000-0000-4000-8000-0000000000e2").cloned())
        .unwrap_or_else(|| panic!("the MoySklad sale in the cloud: {receipts}"));
    assert_eq!(
        (receipt["receipt"]["total"].as_i64(), receipt["receipt"]["points"]["redeem"].as_i64()),
        (Some(7900), Some(171))
    );
    assert_eq!(cloud.points(&id).await["balance"], 3);

    // And its return, by the sale's id.
    let back = json!({
        "retailStore": { "meta": { "href": "h", "id": "store" } }, "name": "R-1", "moment": "2026-11-22 10:00:00",
        "meta": { "href": "h", "id": "7e70e000-0000-4000-8000-0000000000e2" },
        "demand": { "meta": { "href": "h", "id": "5a1e0000-0000-4000-8000-0000000000e2" } }, "agent": {},
        "positions": [crate::moysklad::position("coffee", json!(1), json!(250.00))]
    });
    assert_eq!(ms.post("/retailsalesreturn", &back).await.status, 201);
    eventually("the outbox to drain", || drained(&agent)).await;
    assert_eq!(cloud.points(&id).await["balance"], 171);
}

/// A customer with 171 points, created through MoySklad, and the documentation's sale
/// (`retaildemand.json`) reshaped into the seed's receipt spending them all.
async fn customer_with_points(ms: &MoySklad, native: &Native<'_>) -> (String, Value) {
    let create = fixture(CREATE, &[("/phone", json!("+79995554433"))]);
    assert_eq!(ms.post("/counterparty", &create).await.status, 201);
    let id = ms.get("/counterparty?search=79995554433").await.ok(200)["rows"][0]["id"].as_str().expect("id").to_owned();
    native.give_points(&id, 171).await;
    let sale = fixture(
        SALE,
        &[
            ("/name", json!("O-1")),
            ("/moment", json!("2026-11-22 12:00:00")),
            ("/positions", json!([crate::moysklad::position("coffee", json!(1), json!(250.00))])),
            ("/bonusProgram", json!({ "bonusValueToSpend": 171, "bonusValueToEarn": 3 })),
            ("/giftCards", json!([])),
        ],
    );
    (id, sale)
}

/// Between the recalc and the sale, 100 of the 171 points were spent elsewhere. The sale is
/// fiscalised already, so the cloud and the agent book it alike: the shortfall becomes debt
/// (later accruals pay it off) and the receipt carries an `overdraft` limit. Answers the
/// customer's balance after it.
async fn overdrawn_sale(ms: &MoySklad, native: &Native<'_>) -> i64 {
    let (id, sale) = customer_with_points(ms, native).await;
    native.give_points(&id, -100).await;
    let booked = ms.post("/retaildemand", &sale).await;
    assert_eq!((booked.status, booked.text.as_str()), (201, ""), "{booked:?}");
    // Sent again, booked once.
    assert_eq!(ms.post("/retaildemand", &sale).await.status, 201);
    let receipt = native.receipt(&crate::moysklad::derived_key(STORE_ID, "O-1", "2026-11-22 12:00:00")).await;
    let points = &receipt["receipt"]["points"];
    assert_eq!((points["redeem"].as_i64(), points["available"].as_i64()), (Some(171), Some(71)), "{receipt}");
    let limits = receipt["receipt"]["limits"].as_array().cloned().unwrap_or_default();
    assert!(limits.iter().any(|l| l["code"] == "overdraft"), "{receipt}");
    native.customer(&id).await["points"]["balance"].as_i64().expect("balance")
}

// On the cloud an `overdraft` conflict also tells the back office — as for tills spending offline.
cloud_test!(moysklad_overdraft_on_the_cloud, cloud_overdraft_scenario);
async fn cloud_overdraft_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (ms, till_id) = cloud_moysklad(&cloud).await;
    let native = Native::Cloud { cloud: &cloud, till_id: till_id.clone() };
    // 71 − 171 = −100 of debt, of which the 3 points earned pay 3 back.
    assert_eq!(overdrawn_sale(&ms, &native).await, -97);
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=overdraft").await;
    let listed = conflicts["conflicts"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 1, "{conflicts}");
    assert_eq!(listed[0]["till_id"], till_id.as_str());
}

// The agent's ledger books the same sale to the same balance; its native API, whose till asks
// before it sells, still refuses to spend points the customer does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moysklad_overdraft_on_the_agent() {
    let (agent, _dir) = agent_with("", None);
    let ms = MoySklad::new(&agent.base, TOKEN);
    let native = Native::Agent(&agent);
    assert_eq!(overdrawn_sale(&ms, &native).await, -97);
    let id = ms.get("/counterparty?search=79995554433").await.ok(200)["rows"][0]["id"].as_str().expect("id").to_owned();
    let refused = agent
        .post(
            "/v1/receipts",
            json!({ "id": "native-1", "customer": { "id": id }, "redeem": 1,
                    "lines": [{ "sku": "coffee", "quantity": "1", "price": 25000 }] }),
        )
        .await;
    crate::support::assert_error(&refused, 422, "redeem_limit");
    assert_eq!(native.customer(&id).await["points"]["balance"], -97);
}
