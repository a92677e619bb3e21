//! A commit that answered 200 survives kill -9 of the agent.

use serde_json::json;

use crate::support::Agent;

#[tokio::test]
async fn committed_receipts_survive_kill_9() {
    let mut agent = Agent::start_with_program("accrual_percent = 10\n").await;
    let customer = agent.enroll("+79995550011", "Durable").await;
    let id = customer["id"].as_str().unwrap().to_owned();

    let mut answered = Vec::new();
    for n in 0..20 {
        let receipt_id = format!("k9-{n}");
        let (status, body) = agent
            .post("/v1/receipts", json!({ "id": receipt_id, "customer": { "id": id }, "lines": [{ "sku": "x", "quantity": 1, "price": 1000 }] }))
            .await;
        assert_eq!(status, 200, "{body}");
        answered.push((receipt_id, body));
    }
    // No graceful shutdown: the process dies right after the last 200.
    agent.kill9();
    agent.restart();

    for (receipt_id, body) in &answered {
        let (status, view) = agent.get(&format!("/v1/receipts/{receipt_id}")).await;
        assert_eq!(status, 200, "{receipt_id} lost after kill -9");
        assert_eq!(&view["receipt"], body);
    }
    let (_, customer) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(customer["points"]["balance"], 20, "10 % of 10.00 on each of 20 receipts");
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["mode"], "standalone");
    assert_eq!(health["sync"]["state"], "disabled");
    assert_eq!(health["sync"]["pending"], 21, "one outbox event per enrollment and commit");
}
