//! Gift cards (issue 4) through MoySklad on the cloud (SQLite and PostgreSQL), a standalone
//! agent and a connected agent: issued with the admin or native API, looked up with
//! `/giftcard`, paid with in `/retaildemand` — all amounts in kopecks.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::moysklad::{agent_with, cloud_moysklad, position, MoySklad, Native, STORE_ID};
use crate::moysklad_flows::{drained, enroll, eventually};
use crate::support::{Agent, TOKEN};

/// A sale of one 500.00 position without a customer, paying `payments` (`(number, kopecks)`).
fn sale(id: &str, payments: &[(&str, i64)]) -> Value {
    let cards: Vec<Value> = payments
        .iter()
        .map(|(number, sum)| json!({ "id": "f085d67e-6eae-21e6-8a84-bc520403352a", "name": number, "paymentSum": sum }))
        .collect();
    json!({
        "retailStore": { "meta": { "href": "h", "id": STORE_ID } }, "name": id, "moment": "2026-11-23 10:00:00",
        "meta": { "href": "h", "id": id },
        "positions": [position("gift", json!(1), json!(500.00))],
        "bonusProgram": { "bonusValueToSpend": 0, "bonusValueToEarn": 0 },
        "cashSum": 0, "noCashSum": 0, "giftCards": cards
    })
}

async fn lookup(ms: &MoySklad, number: &str) -> Value {
    let answer =
        ms.get(&format!("/giftcard?name={}&retailStoreId={STORE_ID}", crate::cloud_support::urlencode(number))).await;
    answer.ok(200).clone()
}

/// `(status, currentBalance, initialBalance)` of a lookup.
fn summary(card: &Value) -> (String, Option<i64>, Option<i64>) {
    (card["status"].as_str().unwrap_or("").to_owned(), card["currentBalance"].as_i64(), card["initialBalance"].as_i64())
}

/// The whole life of gift cards on a ledger that keeps them; `expire(number)` moves a card's
/// expiry into the past.
async fn gift_cards(ms: &MoySklad, native: &Native<'_>, prefix: &str, expire: impl Fn(&str)) {
    // Issued without a number: a Luhn number with the ledger's prefix; 1,000.00 in kopecks.
    let (status, card) =
        native.gift_cards_post("", json!({ "amount": 100000, "expires_at": "2030-01-01T00:00:00Z" })).await;
    assert_eq!(status, 201, "{card}");
    let number = card["number"].as_str().expect("number").to_owned();
    assert!(number.starts_with(prefix) && number.len() == 15, "{card}");
    assert!(number.bytes().all(|b| b.is_ascii_digit()), "{card}");
    assert_eq!((card["status"].as_str(), card["balance"].as_i64()), (Some("active"), Some(100000)));

    let found = lookup(ms, &number).await;
    assert_eq!(summary(&found), ("CAN_BE_USED".into(), Some(100000), Some(100000)), "{found}");
    assert_eq!((found["id"].clone(), found["name"].clone()), (card["id"].clone(), json!(number)));
    assert_eq!(found["expireDate"], "2030-01-01 00:00:00");

    // 300.00 of a sale: partly redeemed. Sent again (MoySklad retries), taken once.
    for _ in 0..2 {
        let paid = ms.post("/retaildemand", &sale("gc-sale-1", &[(&number, 30000)])).await;
        assert_eq!((paid.status, paid.text.as_str()), (201, ""), "{paid:?}");
    }
    assert_eq!(summary(&lookup(ms, &number).await), ("PARTIALLY_REDEEMED".into(), Some(70000), Some(100000)));
    // The same sale with another sum is not the same sale.
    ms.post("/retaildemand", &sale("gc-sale-1", &[(&number, 20000)])).await.error(409, 40900);
    // More than is left: refused with the protocol's error, and nothing of the sale is booked.
    let short = ms.post("/retaildemand", &sale("gc-sale-2", &[(&number, 80000)])).await;
    let message = short.error(422, 42201)["error_message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("gift_card_short"), "{message}");
    let (status, _) = match native {
        Native::Cloud { cloud, till_id } => {
            cloud.admin_get(&format!("/v1/admin/receipts/{till_id}/moysklad%3Agc-sale-2")).await
        }
        Native::Agent(agent) => agent.get("/v1/receipts/moysklad%3Agc-sale-2").await,
    };
    assert_eq!(status, 404, "a refused sale is not booked");
    assert_eq!(summary(&lookup(ms, &number).await).1, Some(70000));
    // The rest, in two payments with the same card in one sale: used up.
    let rest = ms.post("/retaildemand", &sale("gc-sale-3", &[(&number, 50000), (&number, 20000)])).await;
    assert_eq!(rest.status, 201, "{rest:?}");
    assert_eq!(summary(&lookup(ms, &number).await), ("REDEEMED".into(), Some(0), Some(100000)));
    ms.post("/retaildemand", &sale("gc-sale-4", &[(&number, 1)])).await.error(422, 42201);
    let read = native.gift_card(&number).await;
    let payments: Vec<(Value, Value)> = read["payments"]
        .as_array()
        .map(|p| p.iter().map(|p| (p["receipt_id"].clone(), p["amount"].clone())).collect())
        .unwrap_or_default();
    assert_eq!(
        payments,
        vec![(json!("moysklad:gc-sale-1"), json!(30000)), (json!("moysklad:gc-sale-3"), json!(70000))]
    );
    assert_eq!((read["status"].as_str(), read["balance"].as_i64()), (Some("redeemed"), Some(0)));
    // A return gives nothing back to the card: the protocol has no way to.
    let back = json!({
        "retailStore": { "meta": { "href": "h", "id": STORE_ID } }, "name": "gc-return-1", "moment": "2026-11-23 11:00:00",
        "meta": { "href": "h", "id": "gc-return-1" }, "demand": { "meta": { "href": "h", "id": "gc-sale-1" } }, "agent": {},
        "positions": [position("gift", json!(1), json!(500.00))]
    });
    assert_eq!(ms.post("/retailsalesreturn", &back).await.status, 201);
    assert_eq!(native.gift_card(&number).await["balance"], 0);

    // A number of our choosing (spaces and dashes dropped), once.
    let named = native.issue_gift_card(Some("gc-7777"), 50000).await;
    assert_eq!(named["number"], "GC7777");
    let (status, taken) = native.gift_cards_post("", json!({ "number": "GC 7777", "amount": 1 })).await;
    assert_eq!((status, taken["error"]["code"].as_str()), (409, Some("gift_card_taken")), "{taken}");
    for bad in [
        json!({ "amount": 0 }),
        json!({ "amount": -5 }),
        json!({ "amount": 10, "number": "1" }),
        json!({ "amount": 10, "expires_at": "soon" }),
        json!({ "amount": 10, "expires_at": "2001-01-01T00:00:00Z" }),
    ] {
        let (status, body) = native.gift_cards_post("", bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, body) = native.gift_cards_post("", json!({ "amount": 10.5 })).await;
    assert!(status == 400 || status == 422, "{body}");
    assert_eq!(summary(&lookup(ms, "gc 7777").await), ("CAN_BE_USED".into(), Some(50000), Some(50000)));

    // Voided: INVALID, and no sale can pay with it.
    let (status, void) = native.gift_cards_post("/GC7777/void", json!({})).await;
    assert_eq!((status, void["status"].as_str()), (200, Some("void")), "{void}");
    assert_eq!(lookup(ms, "GC7777").await["status"], "INVALID");
    let refused = ms.post("/retaildemand", &sale("gc-sale-5", &[("GC7777", 100)])).await;
    assert!(refused.error(422, 42201)["error_message"].as_str().unwrap_or("").contains("gift_card_void"));
    let (status, _) = native.gift_cards_post("/no-such-card/void", json!({})).await;
    assert_eq!(status, 404);

    // Expired: EXPIRED with its UTC date, and refused.
    let old = native.issue_gift_card(Some("8800"), 2500).await;
    expire("8800");
    let expired = lookup(ms, "8800").await;
    assert_eq!(summary(&expired), ("EXPIRED".into(), Some(2500), Some(2500)), "{expired}");
    assert_eq!(
        (expired["id"].clone(), expired["expireDate"].clone()),
        (old["id"].clone(), json!("1970-01-01 00:00:01"))
    );
    let refused = ms.post("/retaildemand", &sale("gc-sale-6", &[("8800", 100)])).await;
    assert!(refused.error(422, 42201)["error_message"].as_str().unwrap_or("").contains("gift_card_expired"));

    // Unknown: INVALID, and refused; a sale naming a card without a sum is malformed.
    assert_eq!(lookup(ms, "55555555").await["status"], "INVALID");
    let refused = ms.post("/retaildemand", &sale("gc-sale-7", &[("55555555", 100)])).await;
    assert!(refused.error(422, 42201)["error_message"].as_str().unwrap_or("").contains("gift_card_unknown"));
    let mut no_sum = sale("gc-sale-8", &[("8800", 1)]);
    no_sum["giftCards"][0].as_object_mut().map(|card| card.remove("paymentSum"));
    ms.post("/retaildemand", &no_sum).await.error(400, 40001);

    // The list has the three cards, newest first.
    let (status, list) = match native {
        Native::Cloud { cloud, .. } => cloud.admin_get("/v1/admin/gift-cards").await,
        Native::Agent(agent) => agent.get("/v1/gift-cards").await,
    };
    let numbers: Vec<&str> = list["gift_cards"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["number"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!((status, numbers), (200, vec!["8800", "GC7777", number.as_str()]), "{list}");
}

cloud_test!(moysklad_gift_cards_on_the_cloud, cloud_gift_cards_scenario);
async fn cloud_gift_cards_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (status, _) = cloud.send(reqwest::Method::GET, "/v1/admin/gift-cards", None, None).await;
    assert_eq!(status, 401, "admin only");
    let (ms, till_id) = cloud_moysklad(&cloud).await;
    let expire = |number: &str| cloud.sql(&format!("UPDATE gift_cards SET expires_at = 1 WHERE number = '{number}'"));
    gift_cards(&ms, &Native::Cloud { cloud: &cloud, till_id }, "2999", expire).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moysklad_gift_cards_on_a_standalone_agent() {
    let (agent, dir) = agent_with("", None);
    let ms = MoySklad::new(&agent.base, TOKEN);
    let database = dir.path().join("agent.db");
    let expire = move |number: &str| {
        let conn = rusqlite::Connection::open(&database).expect("open the agent database");
        conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        conn.execute("UPDATE gift_cards SET expires_at = 1 WHERE number = ?1", [number]).expect("expire the card");
    };
    gift_cards(&ms, &Native::Agent(&agent), "2970", expire).await;
}

// A connected till keeps no gift cards: it asks the cloud, which takes a sale's payments
// online before the till records the sale. Without the cloud, cards look INVALID and sales
// paying with them are refused — a card can never be spent twice by two offline tills.
cloud_test!(moysklad_gift_cards_on_a_connected_agent, connected_gift_cards_scenario);
async fn connected_gift_cards_scenario(backend: Backend) {
    let mut cloud = Cloud::start(backend).await;
    let dir = tempfile::tempdir().expect("temp dir");
    enroll(&cloud, dir.path()).await;
    let agent = Agent::spawn_in(dir.path(), None);
    let ms = MoySklad::new(&agent.base, TOKEN);
    eventually("the agent online", || drained(&agent)).await;

    let (status, refused) = agent.post("/v1/gift-cards", json!({ "amount": 100 })).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("connected_mode")), "{refused}");
    let (status, card) = cloud.admin_post("/v1/admin/gift-cards", json!({ "amount": 100000 })).await;
    assert_eq!(status, 201, "{card}");
    let number = card["number"].as_str().expect("number").to_owned();
    assert_eq!(summary(&lookup(&ms, &number).await), ("CAN_BE_USED".into(), Some(100000), Some(100000)));

    for _ in 0..2 {
        let paid = ms.post("/retaildemand", &sale("gc-till-1", &[(&number, 40000)])).await;
        assert_eq!(paid.status, 201, "{paid:?}");
    }
    assert_eq!(summary(&lookup(&ms, &number).await), ("PARTIALLY_REDEEMED".into(), Some(60000), Some(100000)));
    ms.post("/retaildemand", &sale("gc-till-2", &[(&number, 60001)])).await.error(422, 42201);
    let (status, _) = agent.get("/v1/receipts/moysklad%3Agc-till-2").await;
    assert_eq!(status, 404, "a refused sale is not booked");
    // The sale reaches the cloud like any other; the payment is listed with the till's id.
    eventually("the outbox to drain", || drained(&agent)).await;
    let (_, read) = cloud.admin_get(&format!("/v1/admin/gift-cards/{number}")).await;
    assert_eq!(read["balance"], 60000, "{read}");
    let payments = read["payments"].as_array().cloned().unwrap_or_default();
    assert_eq!(payments.len(), 1, "{read}");
    assert_eq!(
        (payments[0]["receipt_id"].as_str(), payments[0]["amount"].as_i64()),
        (Some("moysklad:gc-till-1"), Some(40000))
    );
    let (_, receipt) = cloud
        .admin_get(&format!(
            "/v1/admin/receipts/{}/moysklad%3Agc-till-1",
            payments[0]["till_id"].as_str().unwrap_or("")
        ))
        .await;
    assert_eq!(receipt["receipt"]["total"], 50000, "{receipt}");

    // A sale the rules refuse (600 points on 500.00) takes nothing from the card.
    let create = crate::moysklad::fixture(crate::moysklad::CREATE, &[("/phone", json!("+79997770011"))]);
    assert_eq!(ms.post("/counterparty", &create).await.status, 201);
    let mut too_many_points = sale("gc-till-4", &[(&number, 100)]);
    too_many_points["agent"] = json!({ "meta": { "href": "h", "id": crate::moysklad::MS_IVAN } });
    too_many_points["bonusProgram"]["bonusValueToSpend"] = json!(600);
    let refused = ms.post("/retaildemand", &too_many_points).await;
    assert!(refused.error(422, 42200)["error_message"].as_str().unwrap_or("").contains("redeem_limit"));
    let (_, read) = cloud.admin_get(&format!("/v1/admin/gift-cards/{number}")).await;
    assert_eq!((read["balance"].as_i64(), read["payments"].as_array().map(Vec::len)), (Some(60000), Some(1)), "{read}");

    // The cloud gone: the card is INVALID at the till, and a sale paying with it is refused with
    // a reason; one already recorded is still answered.
    cloud.stop();
    assert_eq!(lookup(&ms, &number).await["status"], "INVALID");
    let offline = ms.post("/retaildemand", &sale("gc-till-3", &[(&number, 100)])).await;
    let message = offline.error(503, 50301)["error_message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("недоступен"), "{message}");
    let (status, _) = agent.get("/v1/receipts/moysklad%3Agc-till-3").await;
    assert_eq!(status, 404);
    assert_eq!(ms.post("/retaildemand", &sale("gc-till-1", &[(&number, 40000)])).await.status, 201);
}
