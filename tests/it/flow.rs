//! The worked example end to end: enroll, 171 points, find by every phone format, quote,
//! commit (twice), return — receipt 250.00, spend 171, pay 79.00.

use serde_json::json;

use crate::support::{assert_error, Agent};

#[tokio::test]
async fn receipt_250_balance_171_pays_79() {
    let agent = Agent::start().await;
    let customer = agent.enroll("+7 (999) 123-45-67", "Ivan Petrov").await;
    let id = customer["id"].as_str().unwrap().to_owned();
    assert_eq!(customer["phone"], "+79991234567");
    assert_eq!(customer["points"], json!({ "balance": 0, "available": 0, "pending": 0 }));
    agent.give_points(&id, 171).await;

    for query in ["+7 (999) 123-45-67", "8 999 123 45 67", "9991234567", "+79991234567", "4567"] {
        let (status, found) = agent.get(&format!("/v1/customers/search?q={}", urlencode(query))).await;
        assert_eq!(status, 200, "{query}: {found}");
        let customers = found["customers"].as_array().unwrap();
        assert_eq!(customers.len(), 1, "{query}: {found}");
        assert_eq!(customers[0]["id"], id.as_str(), "{query}");
        assert_eq!(customers[0]["points"]["available"], 171, "{query}");
    }
    let card = customer["card"].as_str().unwrap();
    let (_, by_card) = agent.get(&format!("/v1/customers/search?q={card}")).await;
    assert_eq!(by_card["matched_by"], "card");
    assert_eq!(by_card["customers"][0]["id"], id.as_str());

    let receipt = json!({
        "customer": { "phone": "8 999 123 45 67" },
        "lines": [{ "sku": "coffee-beans", "name": "Coffee beans 1 kg", "quantity": "1", "price": 25000 }],
        "redeem": "max"
    });
    let (status, quote) = agent.post("/v1/receipts/calculate", receipt.clone()).await;
    assert_eq!(status, 200, "{quote}");
    assert_eq!(quote["subtotal"], 25000);
    assert_eq!(quote["discount"], 17100);
    assert_eq!(quote["total"], 7900);
    assert_eq!(
        quote["points"],
        json!({ "balance": 171, "available": 171, "max_redeem": 171, "redeem": 171, "earn": 3, "balance_after": 3 })
    );
    // A quote changes nothing.
    let (_, unchanged) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(unchanged["points"]["balance"], 171);

    let mut commit = receipt.clone();
    commit["id"] = json!("till-1/000042");
    let (status, committed) = agent.post("/v1/receipts", commit.clone()).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["total"], 7900);
    assert_eq!(committed["lines"][0]["discount"], 17100);
    assert_eq!(committed["lines"][0]["paid"], 7900);
    let (_, after) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(after["points"], json!({ "balance": 3, "available": 3, "pending": 0 }));

    // The same receipt again: the stored answer, and no second debit.
    let (status, again) = agent.post("/v1/receipts", commit.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(again, committed);
    let (_, still) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(still["points"]["balance"], 3);

    // The same id with other contents is a conflict.
    let mut changed = commit.clone();
    changed["lines"][0]["price"] = json!(26000);
    assert_error(&agent.post("/v1/receipts", changed).await, 409, "receipt_conflict");

    // Return everything: the 3 earned points go, the 171 spent come back, 79.00 is refunded.
    let (status, returned) =
        agent.post("/v1/receipts/till-1%2F000042/returns", json!({ "id": "ret-1", "all": true })).await;
    assert_eq!(status, 200, "{returned}");
    assert_eq!(returned["refund"], 7900);
    assert_eq!(returned["points_taken_back"], 3);
    assert_eq!(returned["points_given_back"], 171);
    assert_eq!(returned["balance_after"], 171);
    let (_, restored) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(restored["points"]["balance"], 171);

    // The return is idempotent, and nothing is left to return.
    let (status, again) =
        agent.post("/v1/receipts/till-1%2F000042/returns", json!({ "id": "ret-1", "all": true })).await;
    assert_eq!((status, &again), (200, &returned));
    assert_error(
        &agent.post("/v1/receipts/till-1%2F000042/returns", json!({ "id": "ret-2", "all": true })).await,
        422,
        "nothing_to_return",
    );

    let (status, view) = agent.get("/v1/receipts/till-1%2F000042").await;
    assert_eq!(status, 200);
    assert_eq!(view["receipt"], committed);
    assert_eq!(view["returns"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cap_50_percent_and_tobacco_line() {
    let agent = Agent::start_with_program("redeem_cap_percent = 50\nexcluded_categories = [\"tobacco\"]\n").await;
    let customer = agent.enroll("+79990000001", "Anna").await;
    let id = customer["id"].as_str().unwrap();
    agent.give_points(id, 171).await;
    let (status, quote) = agent
        .post(
            "/v1/receipts/calculate",
            json!({ "customer": { "id": id }, "lines": [{ "sku": "a", "quantity": 1, "price": 25000 }], "redeem": "max" }),
        )
        .await;
    assert_eq!(status, 200, "{quote}");
    assert_eq!(quote["points"]["max_redeem"], 125);
    assert_eq!(quote["total"], 12500);
    // Asking for more than the cap names the limit.
    let over = agent
        .post(
            "/v1/receipts/calculate",
            json!({ "customer": { "id": id }, "lines": [{ "sku": "a", "quantity": 1, "price": 25000 }], "redeem": 126 }),
        )
        .await;
    assert_error(&over, 422, "redeem_limit");
    assert!(over.1["error"]["message"].as_str().unwrap().contains("125"));

    let (status, quote) = agent
        .post(
            "/v1/receipts/calculate",
            json!({ "customer": { "id": id }, "redeem": "max", "lines": [
                { "sku": "bread", "quantity": 1, "price": 10000 },
                { "sku": "cigarettes", "category": "tobacco", "quantity": 1, "price": 20000 }
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{quote}");
    let tobacco = &quote["lines"][1];
    assert_eq!(tobacco["excluded"], true);
    assert_eq!(tobacco["discount"], 0);
    assert_eq!(tobacco["earn"], 0);
    assert_eq!(tobacco["paid"], 20000);
    assert_eq!(quote["points"]["max_redeem"], 50, "cap 50 % of the 100.00 that is not tobacco");
}

#[tokio::test]
async fn partial_return_and_debt() {
    let agent = Agent::start_with_program("accrual_percent = 10\n").await;
    let customer = agent.enroll("+79990000002", "Oleg").await;
    let id = customer["id"].as_str().unwrap();
    // Buy 2 × 100.00 and earn 20; spend all 20 on another receipt; return one unit of the first.
    let (status, sale) = agent
        .post(
            "/v1/receipts",
            json!({ "id": "s1", "customer": { "id": id }, "lines": [{ "sku": "x", "quantity": "2", "price": 10000 }] }),
        )
        .await;
    assert_eq!(status, 200, "{sale}");
    assert_eq!(sale["points"]["earn"], 20);
    let (status, spend) = agent
        .post(
            "/v1/receipts",
            json!({ "id": "s2", "customer": { "id": id }, "lines": [{ "sku": "y", "quantity": "1", "price": 5000 }], "redeem": 20 }),
        )
        .await;
    assert_eq!(status, 200, "{spend}");
    let (_, now) = agent.get(&format!("/v1/customers/{id}")).await;
    let before = now["points"]["balance"].as_i64().unwrap();
    assert_eq!(before, 3, "20 − 20 + 3 earned on the 30.00 paid");

    let (status, ret) =
        agent.post("/v1/receipts/s1/returns", json!({ "id": "r1", "lines": [{ "sku": "x", "quantity": "1" }] })).await;
    assert_eq!(status, 200, "{ret}");
    assert_eq!(ret["refund"], 10000);
    assert_eq!(ret["points_taken_back"], 10);
    // 10 taken back from a balance of 3: a debt of 7, not floored at 0.
    assert_eq!(ret["balance_after"], -7);
    let (_, customer) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(customer["points"]["balance"], -7);
    assert_eq!(customer["points"]["available"], 0);

    // More than remains is refused.
    assert_error(
        &agent
            .post("/v1/receipts/s1/returns", json!({ "id": "r2", "lines": [{ "sku": "x", "quantity": "1.001" }] }))
            .await,
        422,
        "return_exceeds_sale",
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn promo_codes_activation_and_openapi() {
    let program = r#"
activation_days = 14
accrual_percent = 10

[[promo_codes]]
code = "ONCE10"
kind = "percent"
value = 10
usage_limit = 1

[[promo_codes]]
code = "OLD"
kind = "amount"
value = 500
valid_until = 2020-01-01
"#;
    let agent = Agent::start_with_program(program).await;
    let customer = agent.enroll("+79998887766", "Promo").await;
    let id = customer["id"].as_str().unwrap();
    let line = json!({ "sku": "tea", "quantity": 2, "price": 5000 });

    let (status, check) = agent.post("/v1/promo-codes/check", json!({ "code": "once10" })).await;
    assert_eq!(status, 200);
    assert_eq!(check["valid"], true, "{check}");
    let (_, check) =
        agent.post("/v1/promo-codes/check", json!({ "code": "ONCE10", "receipt": { "lines": [line.clone()] } })).await;
    assert_eq!(check["discount"], 1000, "10 % of 100.00: {check}");
    let (_, expired) = agent.post("/v1/promo-codes/check", json!({ "code": "OLD" })).await;
    assert_eq!((expired["valid"].clone(), expired["reason"].clone()), (json!(false), json!("expired")));
    let (_, unknown) = agent.post("/v1/promo-codes/check", json!({ "code": "NOPE" })).await;
    assert_eq!(unknown["reason"], "unknown");

    let (status, sale) = agent
        .post(
            "/v1/receipts",
            json!({ "id": "p1", "customer": { "id": id }, "lines": [line.clone()], "promo_codes": ["ONCE10"] }),
        )
        .await;
    assert_eq!(status, 200, "{sale}");
    assert_eq!(sale["total"], 9000);
    assert_eq!(sale["promo_codes"][0]["discount"], 1000);
    assert_eq!(sale["points"]["earn"], 9);
    // Earned points wait 14 days before they can be spent.
    let (_, after) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(after["points"], json!({ "balance": 9, "available": 0, "pending": 9 }));
    // The one-time code is used up.
    let (_, used) = agent.post("/v1/promo-codes/check", json!({ "code": "ONCE10" })).await;
    assert_eq!(used["reason"], "used_up", "{used}");
    assert_error(
        &agent.post("/v1/receipts/calculate", json!({ "lines": [line.clone()], "promo_codes": ["ONCE10"] })).await,
        422,
        "promo_rejected",
    );

    let (status, doc) = agent.get("/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/v1/health",
        "/v1/customers/search",
        "/v1/customers",
        "/v1/customers/{id}",
        "/v1/customers/{id}/adjustments",
        "/v1/receipts/calculate",
        "/v1/receipts",
        "/v1/receipts/{id}",
        "/v1/receipts/{id}/returns",
        "/v1/promo-codes/check",
        "/v1/qr/decode",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from /openapi.json");
    }
    assert!(doc["components"]["schemas"]["Calculation"].is_object());
}
