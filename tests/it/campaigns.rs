//! Issue 12: campaigns priced by a real agent through its HTTP API. The worked example of the
//! README: accrual 5 % and "double points on coffee"; coffee 200.00 and bread 100.00 earn
//! 20 + 5 = 25 points. The committed sale then passes the cloud's arithmetic re-check, and a
//! sale event written before campaigns existed still reads.

use serde_json::{json, Value};

use crate::support::{assert_error, Agent};

/// The program file a store writes: TOML, with the campaign's dates bare as TOML allows.
const PROGRAM: &str = r#"
accrual_percent = 5
time_zone = "Europe/Moscow"

[[campaigns]]
id = "coffee-x2"
name = "Double points on coffee"
priority = 10
valid_from = 2020-01-01
valid_until = 2099-12-31
conditions = { categories = ["coffee"] }
effect = { points_multiplier = 2 }
stacking = "stack"
"#;

fn receipt(customer: &str, id: Option<&str>) -> Value {
    let mut body = json!({
        "customer": { "id": customer },
        "lines": [
            { "sku": "LATTE", "category": "coffee", "quantity": "1", "price": 20000 },
            { "sku": "BREAD", "category": "bakery", "quantity": "1", "price": 10000 }
        ],
        "redeem": 0
    });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body
}

#[tokio::test]
async fn coffee_x2_earns_20_plus_5_through_the_agent() {
    let agent = Agent::start_with_program(PROGRAM).await;
    let customer = agent.enroll("+79997120001", "Анна").await;
    let customer_id = customer["id"].as_str().expect("an id");

    let (status, quote) = agent.post("/v1/receipts/calculate", receipt(customer_id, None)).await;
    assert_eq!(status, 200, "{quote}");
    assert_eq!(quote["points"]["earn"], 25, "{quote}");
    assert_eq!((quote["lines"][0]["earn"].as_i64(), quote["lines"][1]["earn"].as_i64()), (Some(20), Some(5)));
    assert_eq!(
        quote["campaigns"],
        json!([{ "id": "coffee-x2", "name": "Double points on coffee", "points": 10, "discount": 0 }])
    );
    assert_eq!(quote["lines"][0]["campaigns"][0]["points"], 10);
    assert!(quote["lines"][1].get("campaigns").is_none(), "bread is in no campaign: {quote}");
    assert_eq!(quote["total"], 30000);

    let commit_body = receipt(customer_id, Some("till-1-0001"));
    let (status, committed) = agent.post("/v1/receipts", commit_body.clone()).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["points"]["earn"], 25);
    let (status, stored) = agent.get("/v1/receipts/till-1-0001").await;
    assert_eq!(status, 200, "{stored}");
    let stored_receipt = if stored.get("receipt").is_some() { &stored["receipt"] } else { &stored };
    assert_eq!(stored_receipt["campaigns"][0]["id"], "coffee-x2", "{stored}");

    // The cloud re-checks the till's arithmetic with the program the sale names: campaign
    // points are in the lines' `earn`, so the sums it checks hold.
    let program = loyalty::agent::program_file::parse_program(PROGRAM).expect("the program file");
    let sale = loyalty::wire::SaleEvent {
        receipt: serde_json::from_value(committed.clone()).expect("the commit answer is a wire Calculation"),
        request: serde_json::from_value(commit_body).expect("a commit request"),
    };
    let figures = loyalty::cloud::ledger::check_sale(&sale, Some(&program)).expect("the cloud accepts the sale");
    assert_eq!(figures.earn, 25);

    // A sale event stored before campaigns (no `campaigns` anywhere) still reads and checks.
    let mut old = serde_json::to_value(&sale).expect("as JSON");
    old["receipt"].as_object_mut().expect("an object").remove("campaigns");
    for line in old["receipt"]["lines"].as_array_mut().expect("lines") {
        line.as_object_mut().expect("an object").remove("campaigns");
    }
    let old: loyalty::wire::SaleEvent = serde_json::from_value(old).expect("an old sale event reads");
    assert!(old.receipt.campaigns.is_empty());
    assert!(loyalty::cloud::ledger::check_sale(&old, Some(&program)).is_ok());
}

#[tokio::test]
async fn the_program_file_refuses_a_bad_or_unknown_campaign_field() {
    // The agent reads its program file with this function at start-up and refuses to serve a
    // program it refuses here; the admin API answers the same problems as 422s.
    let bad = PROGRAM.replace("points_multiplier = 2", "points_multiplier = 0");
    let refused = loyalty::agent::program_file::parse_program(&bad).expect_err("a multiplier of 0");
    assert!(refused.contains("campaigns[0]") || refused.contains("points_multiplier"), "{refused}");
    let unknown = format!("{PROGRAM}future_thing = 1\n");
    let refused = loyalty::agent::program_file::parse_program(
        &unknown.replace("stacking = \"stack\"\n", "stacking = \"stack\"\nfuture_thing = 1\n"),
    )
    .expect_err("an unknown campaign field");
    assert!(refused.contains("future_thing"), "{refused}");

    // A quote with a campaign still refuses bad input as before.
    let agent = Agent::start_with_program(PROGRAM).await;
    let answer = agent.post("/v1/receipts/calculate", json!({ "lines": [] })).await;
    assert_error(&answer, 422, "empty_receipt");
}
