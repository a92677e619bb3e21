//! Issue 9 point 2: a retry is the same receipt however its JSON is written and across an
//! upgrade. The agent compares a canonical fingerprint of the request's meaning
//! (`wire::RequestHash`): another key order, `"promo_codes": []` or `"redeem": 0` spelled out,
//! `"1.000"` for `1` get the stored answer; a receipt stored by an agent before the canonical
//! form existed (its bare-hex, field-order hash) still gets its stored answer on a retry.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::Agent;

async fn enrolled(agent: &Agent, phone: &str) -> String {
    let (status, customer) = agent.post("/v1/customers", json!({ "phone": phone })).await;
    assert_eq!(status, 201, "{customer}");
    customer["id"].as_str().unwrap().to_owned()
}

fn raw(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn a_retry_written_differently_gets_the_stored_answer() {
    let agent = Agent::start().await;
    let customer = enrolled(&agent, "+79997060001").await;
    let first = json!({ "id": "r-idem-1", "customer": { "id": customer }, "redeem": 0,
                        "lines": [{ "sku": "coffee", "quantity": "1", "price": 25000 }] });
    let (status, stored) = agent.post("/v1/receipts", first).await;
    assert_eq!(status, 200, "{stored}");

    let retries = [
        format!(
            r#"{{"lines": [{{"price": 25000, "quantity": 1, "sku": "coffee"}}], "promo_codes": [], "customer": {{"id": "{customer}"}}, "id": "r-idem-1"}}"#
        ),
        format!(
            r#"{{"id": "r-idem-1", "customer": {{"id": "{customer}", "phone": null}}, "lines": [{{"sku": "coffee", "quantity": "1.000", "price": 25000, "name": null}}]}}"#
        ),
    ];
    for retry in retries {
        let (status, answer) = agent.post("/v1/receipts", raw(&retry)).await;
        assert_eq!(status, 200, "{retry}: {answer}");
        assert_eq!(answer, stored, "the stored result, not a second sale");
    }
    let (_, found) = agent.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(found["points"]["balance"], 12, "5 % of 250.00 earned once: {found}");

    // A different receipt under the same id is still a conflict.
    let other = json!({ "id": "r-idem-1", "customer": { "id": customer },
                        "lines": [{ "sku": "coffee", "quantity": "2", "price": 25000 }] });
    let (status, answer) = agent.post("/v1/receipts", other).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("receipt_conflict")), "{answer}");
}

#[tokio::test]
async fn a_receipt_stored_before_the_upgrade_keeps_its_answer() {
    let mut agent = Agent::start().await;
    let customer = enrolled(&agent, "+79997060002").await;
    let body = json!({ "id": "r-old-1", "customer": { "id": customer },
                       "lines": [{ "sku": "coffee", "quantity": "1", "price": 10000 }] });
    let (status, stored) = agent.post("/v1/receipts", body.clone()).await;
    assert_eq!(status, 200, "{stored}");

    // Turn the row into what an agent before the canonical form stored: SHA-256 of the
    // request struct's JSON in field order, bare hex.
    let request: loyalty::wire::CommitRequest = serde_json::from_value(body.clone()).unwrap();
    let v1 = hex::encode(Sha256::digest(serde_json::to_vec(&request).unwrap()));
    agent.kill9();
    let db = rusqlite::Connection::open(agent.dir.join("agent.db")).unwrap();
    let current: String =
        db.query_row("SELECT request_hash FROM receipts WHERE id = 'r-old-1'", [], |r| r.get(0)).unwrap();
    assert!(current.starts_with("v2:"), "{current}");
    db.execute("UPDATE receipts SET request_hash = ?1 WHERE id = 'r-old-1'", [&v1]).unwrap();
    drop(db);

    agent.restart();
    let (status, answer) = agent.post("/v1/receipts", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, stored);
    let changed = json!({ "id": "r-old-1", "customer": { "id": customer },
                          "lines": [{ "sku": "coffee", "quantity": "1", "price": 10001 }] });
    assert_eq!(agent.post("/v1/receipts", changed).await.0, 409);
}
