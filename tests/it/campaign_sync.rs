//! Campaigns across a chain (issue 12), with the real cloud and two real connected tills: a till
//! gives double points on coffee and stamps offline; after sync the cloud's balance and stamp
//! count equal the till's and the other till continues the card ("every 6th latte free"); a
//! budget given by two offline tills overshoots by at most the sum of their allowances, is
//! listed as conflicts, and stops the campaign on every till; a per-customer limit counts the
//! uses at every till.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::proxy::{Fault, FaultProxy};
use crate::support::Agent;
use crate::sync_e2e::{enroll, eventually, wait_drained};
use crate::webdriver::{self, Browser};

const BUDGET: i64 = 100;
const ALLOWANCE: i64 = 60;

fn program() -> Value {
    json!({
        "accrual_percent": 5,
        "point_value": 100,
        "time_zone": "Europe/Moscow",
        "campaigns": [
            {"id": "coffee-x2", "name": "Двойные баллы на кофе", "conditions": {"categories": ["coffee"]},
             "effect": {"points_multiplier": 2}},
            {"id": "latte-card", "name": "Каждый шестой латте", "conditions": {"skus": ["LATTE"]},
             "effect": {"stamp_card": {"stamps_for_reward": 5}}},
            {"id": "beans-50", "name": "+50 за зерно", "conditions": {"categories": ["beans"]},
             "effect": {"extra_points": {"points": 50, "per": "receipt"}},
             "budget_points": BUDGET, "till_allowance_points": ALLOWANCE},
            {"id": "hello-10", "name": "+10 в первый раз", "conditions": {"categories": ["bakery"]},
             "effect": {"extra_points": {"points": 10, "per": "receipt"}},
             "limit_per_customer": {"count": 1, "period": "ever"}}
        ]
    })
}

/// A commit (`id` given) or a quote (`id` "q").
fn receipt(id: &str, customer_id: &str, lines: Value) -> Value {
    let mut body = json!({ "customer": { "id": customer_id }, "lines": lines, "redeem": 0 });
    if id != "q" {
        body["id"] = json!(id);
    }
    body
}

fn latte(quantity: &str) -> Value {
    json!({ "sku": "LATTE", "category": "coffee", "quantity": quantity, "price": 15000 })
}

fn beans() -> Value {
    json!({ "sku": "BEANS", "category": "beans", "quantity": "1", "price": 40000 })
}

fn bread() -> Value {
    json!({ "sku": "BREAD", "category": "bakery", "quantity": "1", "price": 10000 })
}

fn campaign<'a>(answer: &'a Value, id: &str) -> Option<&'a Value> {
    answer["campaigns"].as_array()?.iter().find(|c| c["id"] == id)
}

fn not_applied<'a>(answer: &'a Value, id: &str) -> Option<&'a str> {
    answer["campaigns_not_applied"].as_array()?.iter().find(|c| c["id"] == id)?["reason"].as_str()
}

async fn go_offline(agent: &Agent) {
    eventually(Duration::from_secs(10), "the till to see it is offline", || async {
        let _ = agent.post("/v1/sync", json!({})).await;
        (agent.get("/v1/health").await.1["sync"]["state"] == "offline").then_some(())
    })
    .await;
}

async fn sync(agent: &Agent) {
    let _ = agent.post("/v1/sync", json!({})).await;
    wait_drained(agent, Duration::from_secs(20)).await;
}

cloud_test!(campaigns_run_offline_and_agree_after_sync, campaigns_scenario);
async fn campaigns_scenario(backend: Backend) {
    let in_browser = !backend.is_postgres() && webdriver::available().is_some();
    let cloud = Cloud::start(backend).await;
    let (status, body) = cloud.admin_put("/v1/admin/program", program()).await;
    assert_eq!(status, 200, "{body}");
    let proxy = FaultProxy::start(cloud.addr()).await;
    let customer = cloud.customer("+79997120011").await;
    let customer_id = customer["id"].as_str().expect("an id").to_owned();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    enroll(&cloud, &proxy.url(), dir_a.path(), "till-a").await;
    enroll(&cloud, &proxy.url(), dir_b.path(), "till-b").await;
    let a = Agent::spawn_in(dir_a.path(), None);
    let b = Agent::spawn_in(dir_b.path(), None);
    for till in [&a, &b] {
        sync(till).await;
        // The tills price with the cloud's program and its campaigns.
        let quote = till.post("/v1/receipts/calculate", receipt("q", &customer_id, json!([latte("1")]))).await;
        assert!(campaign(&quote.1, "coffee-x2").is_some(), "{quote:?}");
    }

    // The network goes. Till A: coffee earns double, four lattes earn four stamps, the first
    // bakery receipt earns its one-time bonus, beans give the budgeted campaign up to the
    // till's allowance.
    proxy.set(Fault::Refuse);
    go_offline(&a).await;
    go_offline(&b).await;
    let (status, a1) = a.post("/v1/receipts", receipt("a1", &customer_id, json!([latte("4"), bread()]))).await;
    assert_eq!(status, 200, "{a1}");
    // 4 × 150.00 coffee at 5 % ×2 = 60, bread 100.00 at 5 % = 5, +10 once.
    assert_eq!(a1["points"]["earn"], 60 + 5 + 10, "{a1}");
    let stamps = &campaign(&a1, "latte-card").expect("the stamp card")["stamps"];
    assert_eq!((stamps["earned"].as_i64(), stamps["after"].as_i64()), (Some(4), Some(4)), "{a1}");
    let mut given_a = 0;
    for id in ["a2", "a3", "a4"] {
        let (status, sale) = a.post("/v1/receipts", receipt(id, &customer_id, json!([beans()]))).await;
        assert_eq!(status, 200, "{sale}");
        given_a += campaign(&sale, "beans-50").map_or(0, |c| c["points"].as_i64().expect("points"));
    }
    assert_eq!(given_a, ALLOWANCE, "an offline till gives the campaign up to its allowance, not beyond");
    let (_, quote) = a.post("/v1/receipts/calculate", receipt("q", &customer_id, json!([beans()]))).await;
    assert_eq!(not_applied(&quote, "beans-50"), Some("till_allowance_spent"), "{quote}");

    // Till B, also offline, gives the budgeted campaign its own allowance.
    let mut given_b = 0;
    for id in ["b1", "b2"] {
        let (status, sale) = b.post("/v1/receipts", receipt(id, &customer_id, json!([beans()]))).await;
        assert_eq!(status, 200, "{sale}");
        given_b += campaign(&sale, "beans-50").map_or(0, |c| c["points"].as_i64().expect("points"));
    }
    assert_eq!(given_b, ALLOWANCE);

    // Back online: everything is applied (the sales happened); the budget is overshot by at
    // most the two allowances, and each receipt past it is listed.
    proxy.set(Fault::None);
    sync(&a).await;
    sync(&b).await;
    let (status, report) = cloud.admin_get("/v1/admin/campaigns").await;
    assert_eq!(status, 200, "{report}");
    let beans_report = report["campaigns"].as_array().unwrap().iter().find(|c| c["id"] == "beans-50").unwrap().clone();
    assert_eq!(beans_report["given_points"], given_a + given_b, "{report}");
    assert!(given_a + given_b <= BUDGET + 2 * ALLOWANCE);
    assert_eq!((beans_report["budget_left"].as_i64(), beans_report["state"].as_str()), (Some(0), Some("budget_spent")));
    assert_eq!((beans_report["receipts"].as_i64(), beans_report["tills"].as_i64()), (Some(4), Some(2)), "{report}");
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=campaign_budget_exceeded").await;
    let listed = conflicts["conflicts"].as_array().expect("conflicts");
    assert!(!listed.is_empty(), "{conflicts}");
    let over: i64 = listed.iter().map(|c| c["details"]["over"].as_i64().expect("over")).sum();
    assert_eq!(over, given_a + given_b - BUDGET, "each point past the budget is listed once: {conflicts}");

    // Every till hears the budget is spent and stops the campaign.
    for till in [&a, &b] {
        eventually(Duration::from_secs(15), "the tills to stop the spent campaign", || async {
            let _ = till.post("/v1/sync", json!({})).await;
            let (_, quote) = till.post("/v1/receipts/calculate", receipt("q", &customer_id, json!([beans()]))).await;
            (not_applied(&quote, "beans-50") == Some("budget_spent")).then_some(())
        })
        .await;
    }

    // The cloud's balance and stamps are the tills': 75 + 3 × 20 beans accrual + 60 on A,
    // 2 × 20 + 60 on B.
    let earned: i64 = 75 + 3 * 20 + given_a + 2 * 20 + given_b;
    let (status, stamps) = cloud.admin_get(&format!("/v1/admin/customers/{customer_id}/campaigns")).await;
    assert_eq!(status, 200, "{stamps}");
    assert_eq!(
        stamps["stamps"],
        json!([{"campaign_id": "latte-card", "name": "Каждый шестой латте", "stamps": 4, "for_reward": 5}])
    );
    assert_eq!(cloud.points(&customer_id).await["balance"], earned);
    for till in [&a, &b] {
        eventually(Duration::from_secs(15), "the till's balance to be the cloud's", || async {
            let _ = till.post("/v1/sync", json!({})).await;
            let (_, seen) = till.get(&format!("/v1/customers/{customer_id}")).await;
            (seen["points"]["balance"] == earned).then_some(())
        })
        .await;
    }

    // Till B continues the card A started: with 4 stamps held, the 5th latte earns the last
    // stamp and the 6th is free. The one-time bonus A gave is now known at B.
    let (status, b3) = b.post("/v1/receipts", receipt("b3", &customer_id, json!([latte("2"), bread()]))).await;
    assert_eq!(status, 200, "{b3}");
    let card = campaign(&b3, "latte-card").expect("the stamp card");
    assert_eq!(card["discount"], 15000, "the 6th latte is free: {b3}");
    assert_eq!((card["stamps"]["earned"].as_i64(), card["stamps"]["used"].as_i64()), (Some(1), Some(5)));
    assert_eq!(card["stamps"]["after"], 0);
    assert_eq!(not_applied(&b3, "hello-10"), Some("limit_reached"), "{b3}");
    sync(&b).await;
    let (_, stamps) = cloud.admin_get(&format!("/v1/admin/customers/{customer_id}/campaigns")).await;
    assert_eq!(stamps["stamps"], json!([]), "the reward used the card up: {stamps}");
    let uses = stamps["uses"].as_array().expect("uses");
    assert_eq!(uses.iter().filter(|u| u["campaign_id"] == "latte-card").count(), 2, "{stamps}");
    let stamps_at_a = |expected: i64| {
        let (a, customer_id) = (&a, &customer_id);
        async move {
            let _ = a.post("/v1/sync", json!({})).await;
            let (_, quote) = a.post("/v1/receipts/calculate", receipt("q", customer_id, json!([latte("1")]))).await;
            (campaign(&quote, "latte-card")?["stamps"]["after"] == expected).then_some(())
        }
    };
    // Till A hears the card was used up at B: one latte now makes one stamp, not five.
    eventually(Duration::from_secs(15), "till A to hear of B's reward", || stamps_at_a(1)).await;

    // A return on B takes back what the returned lattes earned and gives back what they used.
    let (status, back) = b.post("/v1/receipts/b3/returns", json!({ "id": "b3-back", "all": true })).await;
    assert_eq!(status, 200, "{back}");
    sync(&b).await;
    let (_, stamps) = cloud.admin_get(&format!("/v1/admin/customers/{customer_id}/campaigns")).await;
    assert_eq!(stamps["stamps"][0]["stamps"], 4, "the return gives the four stamps back: {stamps}");
    eventually(Duration::from_secs(15), "till A to hear of the return's stamps", || stamps_at_a(5)).await;

    if in_browser {
        customer_card_shows_the_stamps(&cloud, &customer_id).await;
    }
}

/// The back office's customer card shows the stamp card as the shopper knows it and the
/// receipts campaigns gave something on, in Russian and in English.
async fn customer_card_shows_the_stamps(cloud: &Cloud, customer_id: &str) {
    const OWNER: &str = "owner@romashka.ru";
    const PASSWORD: &str = "correct horse battery";
    cloud.add_user(OWNER, "owner", &[], PASSWORD).await;
    for (lang, stamps, campaign) in
        [("ru-RU", "4 из 5 штампов", "Каждый шестой латте"), ("en-US", "4 of 5 stamps", "Каждый шестой латте")]
    {
        let browser = Browser::start("console_customer_campaigns", lang).await;
        browser.goto(&cloud.url("/admin/")).await;
        browser.send_keys(&browser.find("#signin-email").await, OWNER).await;
        browser.send_keys(&browser.find("#signin-password").await, PASSWORD).await;
        browser.click_css("#signin-submit").await;
        browser.find("#nav-list a").await;
        browser.execute("location.hash = arguments[0];", vec![json!(format!("#/customers/{customer_id}"))]).await;
        let panel = browser.wait_text("#customer-campaigns", "the stamp card", |t| t.contains(stamps)).await;
        assert!(panel.contains(campaign), "{panel}");
        // The latest receipts: the stamp card on A's and B's, the beans bonus, the one-time bonus.
        assert!(panel.contains("+50 за зерно") && panel.contains("+10 в первый раз"), "{panel}");
        let filled =
            browser.execute("return document.querySelectorAll('#customer-campaigns .stamp.on').length;", vec![]).await;
        assert_eq!(filled, 4, "four stamps drawn filled");
        browser.execute("document.getElementById('customer-campaigns').scrollIntoView();", vec![]).await;
        browser.screenshot(lang).await;
        // The program page's campaign cards say what each has given and what is left of a budget.
        browser.execute("location.hash = arguments[0];", vec![json!("#/program")]).await;
        let cards = browser
            .wait_text("#campaign-list", "the campaigns' figures", |t| {
                t.contains(if lang == "ru-RU" {
                    "от бюджета осталось 0 из 100"
                } else {
                    "0 of the 100 budget left"
                })
            })
            .await;
        let spent = if lang == "ru-RU" { "бюджет израсходован" } else { "budget spent" };
        let given = if lang == "ru-RU" {
            "выдано 120 баллов на 4 чеках"
        } else {
            "120 points given on 4 receipts"
        };
        let card = if lang == "ru-RU" {
            "применена на 2 чеках · скидок на 150,00"
        } else {
            "applied on 2 receipts · ₽150.00 of discounts"
        };
        assert!(cards.contains(spent) && cards.contains(given) && cards.contains(card), "{cards}");
        browser.execute("document.querySelector('.campaign-figures').scrollIntoView({block: 'center'});", vec![]).await;
        browser.screenshot(&format!("{lang}-program")).await;
    }
}
