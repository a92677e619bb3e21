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
        verified: None,
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

/// The back office's preview prices a draft's campaigns at a chosen moment for a sample
/// customer (issue 12's campaign editor): `at` in the draft's time zone or RFC 3339, `tier`,
/// `tags`, `stamps`, `store` and `first_purchase`, all optional, beside the version in force.
mod preview {
    use serde_json::{json, Value};

    use crate::cloud_support::{assert_error, Backend, Cloud, ADMIN};
    use crate::cloud_test;

    fn draft() -> Value {
        json!({
            "accrual_percent": 5,
            "tiers": [{ "name": "Серебро", "threshold": 1000000 }, { "name": "Золото", "threshold": 5000000 }],
            "campaigns": [
                { "id": "coffee-x2", "name": "Двойные баллы на кофе", "priority": 10,
                  "schedule": { "days": ["tue", "wed"], "from": "16:00", "to": "18:00" },
                  "conditions": { "categories": ["coffee"] }, "effect": { "points_multiplier": 2 } },
                { "id": "latte-card", "name": "Каждый шестой латте", "conditions": { "skus": ["LATTE"] },
                  "effect": { "stamp_card": { "stamps_for_reward": 5 } } },
                { "id": "gold-bonus", "name": "Золоту +30", "conditions": { "tiers": ["Золото"] },
                  "effect": { "extra_points": { "points": 30, "per": "receipt" } } },
                { "id": "vip-beans", "name": "Зерно для своих", "conditions": { "categories": ["beans"], "tags": ["vip"], "stores": ["Арбат"] },
                  "effect": { "discount_percent": 10 } },
                { "id": "first-beans", "name": "Первая пачка", "conditions": { "categories": ["beans"], "first_purchase": true },
                  "effect": { "extra_points": { "points": 100, "per": "receipt" } } }
            ]
        })
    }

    fn line(sku: &str, category: &str, quantity: &str, price: i64) -> Value {
        json!({ "sku": sku, "category": category, "quantity": quantity, "price": price })
    }

    async fn preview(cloud: &Cloud, program: &Value, receipt: Value) -> Value {
        let (status, answer) =
            cloud.admin_post("/v1/admin/program/preview", json!({ "program": program, "receipt": receipt })).await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    fn reason<'a>(side: &'a Value, id: &str) -> Option<(&'a str, Option<&'a str>)> {
        side["calculation"]["campaigns_not_applied"]
            .as_array()?
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| (c["reason"].as_str().unwrap_or_default(), c["detail"].as_str()))
    }

    fn applied<'a>(side: &'a Value, id: &str) -> Option<&'a Value> {
        side["calculation"]["campaigns"].as_array()?.iter().find(|c| c["id"] == id)
    }

    cloud_test!(preview_inputs, preview_inputs_scenario);
    async fn preview_inputs_scenario(backend: Backend) {
        let cloud = Cloud::start(backend).await;
        let program = draft();
        let coffee = || json!([line("ESPRESSO", "coffee", "1", 20000)]);

        // An old request (none of the new fields) prices as before: now, no customer.
        let old = preview(&cloud, &program, json!({ "lines": coffee() })).await;
        assert_eq!(old["draft"]["calculation"]["points"]["earn"], 0, "{old}");
        let why = reason(&old["draft"], "coffee-x2").map(|(reason, _)| reason);
        assert!(matches!(why, Some("no_customer" | "outside_schedule")), "{old}");
        let at = loyalty::clock::parse_rfc3339(old["at"].as_str().expect("the moment priced at")).unwrap();
        assert!((at - loyalty::clock::now()).abs() < 60, "{old}");

        // Tuesday 16:30 in Moscow (the draft's default zone): coffee earns double in the draft only.
        let tuesday =
            preview(&cloud, &program, json!({ "lines": coffee(), "balance": 0, "at": "2026-12-01T16:30" })).await;
        assert_eq!(tuesday["at"], "2026-12-01T13:30:00Z");
        assert_eq!(tuesday["current"]["calculation"]["points"]["earn"], 10, "{tuesday}");
        assert_eq!(tuesday["draft"]["calculation"]["points"]["earn"], 20, "{tuesday}");
        assert_eq!(applied(&tuesday["draft"], "coffee-x2").map(|c| c["points"].clone()), Some(json!(10)));
        assert!(tuesday["current"]["calculation"].get("campaigns").is_none(), "the version in force has none");
        // The same moment as RFC 3339; Monday is outside the schedule.
        let same =
            preview(&cloud, &program, json!({ "lines": coffee(), "balance": 0, "at": "2026-12-01T13:30:00Z" })).await;
        assert_eq!(same["draft"]["calculation"]["points"]["earn"], 20, "{same}");
        let monday =
            preview(&cloud, &program, json!({ "lines": coffee(), "balance": 0, "at": "2026-11-30T16:30" })).await;
        assert_eq!(monday["draft"]["calculation"]["points"]["earn"], 10, "{monday}");
        assert_eq!(reason(&monday["draft"], "coffee-x2"), Some(("outside_schedule", None)));
        // A local time is the draft's zone's: 16:30 in Vladivostok is 06:30 UTC, and applies.
        let mut far_east = program.clone();
        far_east["time_zone"] = json!("Asia/Vladivostok");
        let east =
            preview(&cloud, &far_east, json!({ "lines": coffee(), "balance": 0, "at": "2026-12-01T16:30" })).await;
        assert_eq!(east["at"], "2026-12-01T06:30:00Z");
        assert_eq!(east["draft"]["calculation"]["points"]["earn"], 20, "{east}");

        // Stamps held: 4 of 5, one latte makes the card full; two lattes, the second is free.
        let latte = |quantity: &str| json!([line("LATTE", "drinks", quantity, 15000)]);
        let stamps = json!({ "latte-card": 4 });
        let full = preview(&cloud, &program, json!({ "lines": latte("1"), "stamps": stamps })).await;
        assert_eq!(
            applied(&full["draft"], "latte-card").map(|c| c["stamps"].clone()),
            Some(json!({ "earned": 1, "used": 0, "after": 5, "for_reward": 5 })),
            "stamps imply a customer: {full}"
        );
        let free = preview(&cloud, &program, json!({ "lines": latte("2"), "stamps": stamps })).await;
        let card = applied(&free["draft"], "latte-card").expect("the card gave a free latte");
        assert_eq!((card["discount"].as_i64(), card["stamps"]["used"].as_i64()), (Some(15000), Some(5)), "{free}");
        assert_eq!(card["stamps"]["after"], 0);
        assert_eq!(free["draft"]["calculation"]["total"], 15000);
        assert_eq!(free["current"]["calculation"]["total"], 30000);

        // A tier by its name in the draft, in any case: the customer has paid its threshold.
        let gold =
            preview(&cloud, &program, json!({ "lines": coffee(), "tier": "золото", "at": "2026-11-30T10:00" })).await;
        assert_eq!(gold["draft"]["calculation"]["tier"], "Золото", "{gold}");
        assert_eq!(applied(&gold["draft"], "gold-bonus").map(|c| c["points"].clone()), Some(json!(30)));
        assert_eq!(gold["current"]["calculation"]["tier"], Value::Null, "the version in force has no tiers");
        let silver = preview(&cloud, &program, json!({ "lines": coffee(), "tier": "Серебро" })).await;
        assert_eq!(reason(&silver["draft"], "gold-bonus"), Some(("condition_not_met", Some("tiers"))));
        let unknown = cloud
            .admin_post(
                "/v1/admin/program/preview",
                json!({ "program": program, "receipt": { "lines": coffee(), "tier": "Платина" } }),
            )
            .await;
        assert_error(&unknown, 422, "unknown_tier");
        assert_eq!(unknown.1["error"]["details"]["field"], "receipt.tier");

        // Tags and the store: the vip discount in its store only, for a tagged customer only.
        let beans = || json!([line("BEANS-1", "beans", "1", 100000)]);
        let vip = preview(&cloud, &program, json!({ "lines": beans(), "tags": ["vip"], "store": "Арбат" })).await;
        assert_eq!(applied(&vip["draft"], "vip-beans").map(|c| c["discount"].clone()), Some(json!(10000)), "{vip}");
        let elsewhere =
            preview(&cloud, &program, json!({ "lines": beans(), "tags": ["vip"], "store": "Тверская" })).await;
        assert_eq!(reason(&elsewhere["draft"], "vip-beans"), Some(("condition_not_met", Some("stores"))));
        let untagged = preview(&cloud, &program, json!({ "lines": beans(), "balance": 0, "store": "Арбат" })).await;
        assert_eq!(reason(&untagged["draft"], "vip-beans"), Some(("condition_not_met", Some("tags"))));
        // The first purchase.
        let first = preview(&cloud, &program, json!({ "lines": beans(), "first_purchase": true })).await;
        assert_eq!(applied(&first["draft"], "first-beans").map(|c| c["points"].clone()), Some(json!(100)));
        assert_eq!(reason(&untagged["draft"], "first-beans"), Some(("condition_not_met", Some("first_purchase"))));

        // A moment that is none is refused, naming the field, in the reader's language.
        let bad = json!({ "program": program, "receipt": { "lines": coffee(), "at": "вторник" } });
        let refused = cloud.admin_post("/v1/admin/program/preview", bad.clone()).await;
        assert_error(&refused, 422, "invalid_at");
        assert_eq!(refused.1["error"]["details"]["field"], "receipt.at");
        let russian: Value = reqwest::Client::new()
            .post(cloud.url("/v1/admin/program/preview"))
            .bearer_auth(ADMIN)
            .header("Accept-Language", "ru")
            .json(&bad)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let said = russian["error"]["message"].as_str().unwrap_or_default();
        assert!(said.contains("Europe/Moscow") && said.contains("2026-12-01T16:30"), "{said}");

        // The new inputs are described in the OpenAPI document.
        let (_, doc) = cloud.send(reqwest::Method::GET, "/openapi.json", None, None).await;
        let receipt = &doc["components"]["schemas"]["PreviewReceipt"]["properties"];
        for field in ["at", "tier", "tags", "stamps", "store", "first_purchase"] {
            assert!(receipt[field].is_object(), "PreviewReceipt.{field} is described: {receipt}");
        }
        assert!(doc["components"]["schemas"]["PreviewAnswer"]["properties"]["at"].is_object());
    }
}
