//! Issue 9 point 14: one definition of a valid customer. The till and the cloud check phones,
//! cards, text fields, consents and manual adjustments with the same code
//! (`identity::fields`), so the same input gets the same answer — code and sentence — from
//! both, and a customer one of them stores in a form the other would not is impossible.

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::support::Agent;

fn refusal(answer: &(u16, Value)) -> (u16, String, String) {
    let error = &answer.1["error"];
    (
        answer.0,
        error["code"].as_str().unwrap_or_default().to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

cloud_test!(till_and_cloud_accept_and_refuse_the_same_customers, same_customers);
async fn same_customers(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let agent = Agent::start().await;

    let refused = [
        (json!({ "phone": "12ab" }), "invalid_phone"),
        (json!({ "phone": "+79997050001", "card": "12" }), "invalid_card"),
        (json!({ "phone": "+79997050002", "card": "abcd-efgh" }), "invalid_card"),
        (json!({ "phone": "+79997050003", "card": "1".repeat(41) }), "invalid_field"),
        (json!({ "phone": "+79997050004", "email": "not-an-email" }), "invalid_email"),
        (json!({ "phone": "+79997050005", "birthday": "1990-02-30" }), "invalid_birthday"),
        (json!({ "phone": "+79997050006", "name": "x".repeat(201) }), "invalid_field"),
    ];
    for (body, code) in refused {
        let at_till = refusal(&agent.post("/v1/customers", body.clone()).await);
        let in_cloud = refusal(&cloud.admin_post("/v1/admin/customers", body.clone()).await);
        assert_eq!((at_till.0, at_till.1.as_str()), (422, code), "{body}: {at_till:?}");
        assert_eq!(at_till, in_cloud, "{body}: the two ledgers answer differently");
    }

    // The same customer is stored in the same form on both: E.164, card digits, lowercased
    // email, consents stamped.
    let body = json!({ "phone": "8 (999) 705-00-10", "card": " 4321 8765 ", "email": " Anna@Example.COM ",
        "name": "  Анна  ", "consents": { "sms": true } });
    let (status, at_till) = agent.post("/v1/customers", body.clone()).await;
    assert_eq!(status, 201, "{at_till}");
    let (status, in_cloud) = cloud.admin_post("/v1/admin/customers", body).await;
    assert_eq!(status, 201, "{in_cloud}");
    for field in ["phone", "card", "email", "name"] {
        assert_eq!(at_till[field], in_cloud[field], "{field}");
    }
    assert_eq!((at_till["phone"].as_str(), at_till["card"].as_str()), (Some("+79997050010"), Some("43218765")));
    assert_eq!(at_till["consents"]["sms"]["granted"], true);
    assert_eq!(in_cloud["consents"]["sms"]["granted"], true);

    // Manual adjustments are bounded alike.
    let till_path = format!("/v1/customers/{}/adjustments", at_till["id"].as_str().unwrap());
    let cloud_path = format!("/v1/admin/customers/{}/adjustments", in_cloud["id"].as_str().unwrap());
    let adjustments = [
        (json!({ "id": "a1", "points": 0, "reason": "fix" }), "invalid_points"),
        (json!({ "id": "a2", "points": 1_000_000_001i64, "reason": "fix" }), "invalid_points"),
        (json!({ "id": "a3", "points": -1_000_000_001i64, "reason": "fix" }), "invalid_points"),
        (json!({ "id": "a4", "points": 5, "reason": "  " }), "invalid_reason"),
        (json!({ "id": "a5", "points": 5, "reason": "x".repeat(501) }), "invalid_reason"),
    ];
    for (body, code) in adjustments {
        let at_till = refusal(&agent.post(&till_path, body.clone()).await);
        let in_cloud = refusal(&cloud.admin_post(&cloud_path, body.clone()).await);
        assert_eq!((at_till.0, at_till.1.as_str()), (422, code), "{body}: {at_till:?}");
        assert_eq!(at_till, in_cloud, "{body}: the two ledgers answer differently");
    }
    let limit = json!({ "id": "a6", "points": -1_000_000_000i64, "reason": "the largest debt" });
    assert_eq!(agent.post(&till_path, limit.clone()).await.0, 201);
    assert_eq!(cloud.admin_post(&cloud_path, limit).await.0, 201);
}
