//! No input makes the agent panic or answer 500: each bad request gets a 4xx with a code and a
//! sentence (CONTRACTS.md §api, §security).

use serde_json::json;

use crate::support::{assert_error, Agent};

#[tokio::test]
async fn malformed_bodies() {
    let agent = Agent::start().await;
    let path = "/v1/receipts/calculate";
    assert_error(
        &agent.post_raw(path, Some("application/json"), b"{\"lines\": [".to_vec()).await,
        400,
        "malformed_json",
    );
    assert_error(&agent.post_raw(path, Some("application/json"), Vec::new()).await, 400, "empty_body");
    assert_error(&agent.post_raw(path, Some("text/plain"), b"{}".to_vec()).await, 415, "unsupported_media_type");
    assert_error(&agent.post_raw(path, None, b"{}".to_vec()).await, 415, "unsupported_media_type");
    assert_error(
        &agent.post_raw(path, Some("application/x-www-form-urlencoded"), b"lines=1".to_vec()).await,
        415,
        "unsupported_media_type",
    );
    assert_error(&agent.post_raw(path, Some("application/json"), vec![0xff, 0xfe, 0x00]).await, 400, "malformed_json");
    assert_error(&agent.post(path, json!([1, 2, 3])).await, 422, "invalid_field");
    assert_error(&agent.post(path, json!({ "lines": "many" })).await, 422, "invalid_field");
    assert_error(
        &agent.post(path, json!({ "lines": [{ "sku": 5, "quantity": 1, "price": 1 }] })).await,
        422,
        "invalid_field",
    );
    assert_error(
        &agent.post(path, json!({ "lines": [{ "sku": "a", "quantity": 1, "price": "12.50" }] })).await,
        422,
        "invalid_field",
    );
    assert_error(
        &agent.post(path, json!({ "lines": [{ "sku": "a", "quantity": 1, "price": 12.5 }] })).await,
        422,
        "invalid_field",
    );
    assert_error(&agent.post(path, json!({ "lines": [], "unknown_field": 1 })).await, 422, "invalid_field");
    assert_error(&agent.post(path, json!({ "lines": [] })).await, 422, "empty_receipt");
}

#[tokio::test]
async fn absurd_amounts_and_quantities() {
    let agent = Agent::start().await;
    let customer = agent.enroll("+79997770011", "Edge").await;
    let id = customer["id"].as_str().unwrap();
    let quote = |line: serde_json::Value| json!({ "customer": { "id": id }, "lines": [line] });
    let path = "/v1/receipts/calculate";

    for quantity in [
        json!("1.0001"),
        json!(0.0001),
        json!("0"),
        json!("-1"),
        json!(-2),
        json!("abc"),
        json!(""),
        json!("1e3"),
        json!("99999999999"),
    ] {
        assert_error(
            &agent.post(path, quote(json!({ "sku": "a", "quantity": quantity, "price": 100 }))).await,
            422,
            "invalid_quantity",
        );
    }
    // Three decimals are fine: 0.354 kg at 1000.00/kg = 354.00.
    let (status, weighed) =
        agent.post(path, quote(json!({ "sku": "cheese", "quantity": "0.354", "price": 100000 }))).await;
    assert_eq!(status, 200, "{weighed}");
    assert_eq!(weighed["subtotal"], 35400);
    let (status, weighed) =
        agent.post(path, quote(json!({ "sku": "cheese", "quantity": 0.354, "price": 100000 }))).await;
    assert_eq!((status, weighed["subtotal"].clone()), (200, json!(35400)), "a JSON number is read exactly");

    for price in [json!(-1), json!(i64::MAX), json!(100_000_000_001i64)] {
        assert_error(
            &agent.post(path, quote(json!({ "sku": "a", "quantity": 1, "price": price }))).await,
            422,
            "invalid_line",
        );
    }
    // Numbers beyond i64 do not fit the type at all.
    assert_error(
        &agent.post(path, quote(json!({ "sku": "a", "quantity": 1, "price": 1e30 }))).await,
        422,
        "invalid_field",
    );
    // Many expensive lines: no overflow panic.
    let lines: Vec<_> = (0..1000)
        .map(|i| json!({ "sku": format!("s{i}"), "quantity": "1000000", "price": 100_000_000_000i64 }))
        .collect();
    let answer = agent.post(path, json!({ "lines": lines })).await;
    assert!(answer.0 == 422, "{answer:?}");
    let too_many: Vec<_> = (0..1001).map(|i| json!({ "sku": format!("s{i}"), "quantity": 1, "price": 1 })).collect();
    assert_error(&agent.post(path, json!({ "lines": too_many })).await, 422, "invalid_line");

    // Redeem: negative, nonsense, too much.
    let line = json!({ "sku": "a", "quantity": 1, "price": 1000 });
    assert_error(
        &agent.post(path, json!({ "customer": { "id": id }, "lines": [line.clone()], "redeem": -5 })).await,
        422,
        "negative_redeem",
    );
    assert_error(
        &agent.post(path, json!({ "customer": { "id": id }, "lines": [line.clone()], "redeem": "lots" })).await,
        422,
        "invalid_redeem",
    );
    assert_error(
        &agent.post(path, json!({ "customer": { "id": id }, "lines": [line.clone()], "redeem": 1 })).await,
        422,
        "redeem_limit",
    );
    assert_error(
        &agent.post(path, json!({ "customer": { "id": id }, "lines": [line.clone()], "redeem": 1.5 })).await,
        422,
        "invalid_field",
    );

    // Unknown customers and promo codes.
    assert_error(
        &agent.post(path, json!({ "customer": { "id": "nope" }, "lines": [line.clone()] })).await,
        404,
        "customer_not_found",
    );
    assert_error(
        &agent.post(path, json!({ "customer": { "phone": "+79990000099" }, "lines": [line.clone()] })).await,
        404,
        "customer_not_found",
    );
    assert_error(
        &agent.post(path, json!({ "customer": {}, "lines": [line.clone()] })).await,
        422,
        "invalid_customer_ref",
    );
    assert_error(
        &agent.post(path, json!({ "customer": { "phone": "12" }, "lines": [line.clone()] })).await,
        422,
        "invalid_phone",
    );
    assert_error(
        &agent.post(path, json!({ "lines": [line.clone()], "promo_codes": ["NOPE"] })).await,
        422,
        "promo_rejected",
    );

    // Commit and return ids.
    assert_error(&agent.post("/v1/receipts", json!({ "id": "", "lines": [line.clone()] })).await, 422, "invalid_id");
    assert_error(&agent.post("/v1/receipts", json!({ "id": "a b", "lines": [line.clone()] })).await, 422, "invalid_id");
    assert_error(&agent.post("/v1/receipts", json!({ "lines": [line.clone()] })).await, 422, "invalid_field");
    assert_error(
        &agent.post("/v1/receipts/none/returns", json!({ "id": "r", "all": true })).await,
        404,
        "receipt_not_found",
    );
    let (status, _) = agent.post("/v1/receipts", json!({ "id": "ok-1", "lines": [line.clone()] })).await;
    assert_eq!(status, 200);
    assert_error(&agent.post("/v1/receipts/ok-1/returns", json!({ "id": "r" })).await, 422, "invalid_return");
    assert_error(
        &agent
            .post("/v1/receipts/ok-1/returns", json!({ "id": "r", "lines": [{ "sku": "zzz", "quantity": 1 }] }))
            .await,
        422,
        "unknown_return_line",
    );
    assert_error(
        &agent.post("/v1/receipts/ok-1/returns", json!({ "id": "r", "lines": [{ "sku": "a", "quantity": 2 }] })).await,
        422,
        "return_exceeds_sale",
    );
    assert_error(&agent.get("/v1/receipts/missing").await, 404, "receipt_not_found");

    // Adjustments.
    let adjust = format!("/v1/customers/{id}/adjustments");
    assert_error(&agent.post(&adjust, json!({ "id": "a1", "points": 0, "reason": "x" })).await, 422, "invalid_points");
    assert_error(&agent.post(&adjust, json!({ "id": "a1", "points": 10, "reason": "" })).await, 422, "invalid_reason");
    assert_error(
        &agent.post(&adjust, json!({ "id": "a1", "points": 1e20, "reason": "x" })).await,
        422,
        "invalid_field",
    );
    assert_error(
        &agent.post("/v1/customers/nope/adjustments", json!({ "id": "a1", "points": 5, "reason": "x" })).await,
        404,
        "customer_not_found",
    );
    let (status, first) = agent.post(&adjust, json!({ "id": "a1", "points": 5, "reason": "goodwill" })).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = agent.post(&adjust, json!({ "id": "a1", "points": 5, "reason": "goodwill" })).await;
    assert_eq!((status, again), (201, first), "idempotent by id");
    assert_error(
        &agent.post(&adjust, json!({ "id": "a1", "points": 6, "reason": "goodwill" })).await,
        409,
        "adjustment_conflict",
    );

    // Unicode oddities in text fields are stored or refused, never a crash.
    let (status, _) = agent.post("/v1/customers", json!({ "phone": "+79997770012", "name": "Анна 👩‍💼 O'Brien" })).await;
    assert_eq!(status, 201);
    assert_error(
        &agent.post("/v1/customers", json!({ "phone": "+79997770013", "name": "bad\u{0007}bell" })).await,
        422,
        "invalid_field",
    );
    let (status, _) = agent.post("/v1/customers", json!({ "phone": "٩٩٩١٢٣٤٥٦٧" })).await;
    assert!(status == 201 || status == 422, "Arabic-Indic digits are read as a number or refused: {status}");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let agent = Agent::start().await;
    assert_error(&agent.get("/v1/nothing-here").await, 404, "no_such_endpoint");
    assert_error(&agent.get("/v1/receipts/calculate").await, 405, "method_not_allowed");
    assert_error(&agent.get("/v1/customers/search").await, 400, "invalid_query");
    let (status, body) = agent.get("/v1/customers/search?q=").await;
    assert_eq!((status, body["customers"].clone()), (200, json!([])));
    let long = "9".repeat(10_000);
    let (status, _) = agent.get(&format!("/v1/customers/search?q={long}")).await;
    assert_eq!(status, 200);
    assert_error(&agent.get("/v1/customers/x/qr.gif").await, 404, "no_such_endpoint");
}
