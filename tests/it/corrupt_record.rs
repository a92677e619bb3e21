//! Issue 9 point 15: one stored record whose JSON no longer parses (bit rot, a bad manual edit)
//! is its own error, `500 stored_data_corrupt`, naming the record and what to do — not
//! `storage_unavailable`, and the till stays healthy: other receipts read, new sales commit,
//! and `loyalty-agent doctor` names the damaged record. The cloud answers the same for a
//! damaged receipt row.

use std::time::Duration;

use serde_json::{json, Value};

use reqwest::Method;

use crate::cloud_support::{customer_created, sale, Backend, Cloud};
use crate::cloud_test;
use crate::doctor::doctor;
use crate::support::{assert_error, Agent, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_receipt_is_its_own_error_and_the_till_stays_healthy() {
    let agent = Agent::start_with_program("accrual_percent = 10\n").await;
    let customer = agent.enroll("+79997060001", "Damaged Receipt").await;
    let sale = |id: &str| json!({ "id": id, "customer": { "id": customer["id"] }, "lines": [{ "sku": "x", "quantity": 1, "price": 1000 }] });
    for id in ["good-1", "bad-1"] {
        let (status, body) = agent.post("/v1/receipts", sale(id)).await;
        assert_eq!(status, 200, "{body}");
    }

    // The row is damaged in the real agent.db while the agent runs: its JSON cut short.
    let db = rusqlite::Connection::open(agent.dir.join("agent.db")).expect("open agent.db");
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let changed = db.execute("UPDATE receipts SET result = substr(result, 1, 20) WHERE id = 'bad-1'", []).unwrap();
    assert_eq!(changed, 1);
    drop(db);

    let answer = agent.get("/v1/receipts/bad-1").await;
    assert_error(&answer, 500, "stored_data_corrupt");
    let message = answer.1["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("receipt bad-1") && message.contains("loyalty-agent doctor"), "{message}");
    let russian: Value = agent
        .client()
        .get(agent.url("/v1/receipts/bad-1"))
        .bearer_auth(TOKEN)
        .header("Accept-Language", "ru")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(russian["error"]["code"], "stored_data_corrupt");
    let message = russian["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("повреждена") && message.contains("loyalty-agent doctor"), "{message}");

    // The same sale sent again reads the stored answer inside a write: the same error, and
    // the store is not marked unhealthy for it.
    assert_error(&agent.post("/v1/receipts", sale("bad-1")).await, 500, "stored_data_corrupt");
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!((health["status"].as_str(), health["storage"]["ok"].as_bool()), (Some("ok"), Some(true)), "{health}");

    // Everything else goes on.
    let (status, good) = agent.get("/v1/receipts/good-1").await;
    assert_eq!(status, 200, "{good}");
    let (status, body) = agent.post("/v1/receipts", sale("after-1")).await;
    assert_eq!(status, 200, "{body}");
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!(health["status"], "ok", "{health}");

    // The doctor names the damaged record and says what to do.
    let report = doctor(agent.addr(), &agent.dir).await;
    assert_eq!(report.code, Some(1), "{}", report.stdout);
    let line = report.line("database");
    assert!(line.starts_with('✗') && line.contains("receipt bad-1"), "{line}");
    assert!(!line.contains("good-1") && line.contains("restore agent.db from a backup"), "{line}");
}

cloud_test!(a_corrupt_receipt_in_the_cloud_is_its_own_error, cloud_corrupt_receipt);
async fn cloud_corrupt_receipt(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till corrupt").await;
    let customer = "c-corrupt";
    let events = vec![
        customer_created(1, customer, "8 999 706 00 02", "27000000025"),
        sale(2, "r-good", customer, 10000, 0, 5),
        sale(3, "r-bad", customer, 10000, 0, 5),
    ];
    cloud.push_expect(&till, events, &["applied", "applied", "applied"]).await;
    cloud.sql(&format!(
        "UPDATE receipts SET body = substr(body, 1, 20) WHERE till_id = '{}' AND receipt_id = 'r-bad'",
        till.id
    ));

    let answer = cloud.admin_get(&format!("/v1/admin/receipts/{}/r-bad", till.id)).await;
    assert_error(&answer, 500, "stored_data_corrupt");
    let message = answer.1["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("receipt r-bad of till"), "{message}");
    let (status, good) = cloud.admin_get(&format!("/v1/admin/receipts/{}/r-good", till.id)).await;
    assert_eq!(status, 200, "{good}");
    let (status, health) = cloud.send(Method::GET, "/v1/health", None, None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")), "{health}");
    // A receipt that is not there is still a plain 404 with its own code.
    assert_error(&cloud.admin_get(&format!("/v1/admin/receipts/{}/r-404", till.id)).await, 404, "receipt_not_found");
}
