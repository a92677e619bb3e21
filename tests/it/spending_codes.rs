//! Spending codes on the native API (issue 14): with `verify_spending = true` a quote or a sale
//! that spends points needs the customer's code. A standalone till sends the SMS itself through
//! its `[sms]` section; each refusal has its code and sentence (Russian too); the 250/171/79
//! example works with a code; a code is used once, wrong codes count, and the fifth locks.

use std::time::Duration;

use reqwest::header::COOKIE;
use serde_json::{json, Value};

use crate::cloud_support::Backend;
use crate::cloud_test;
use crate::proxy::{Fault, FaultProxy};
use crate::self_service::{cloud_with_sms, customer, sign_in, SmsInbox, PHONE};
use crate::support::{assert_error, Agent, TOKEN};
use crate::sync_e2e::{enroll, eventually, wait_drained};

/// A standalone till whose program confirms spending, sending SMS to `inbox`.
fn till(inbox: &SmsInbox) -> (Agent, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("program.toml"), "verify_spending = true\n").expect("program file");
    let url = inbox.url.strip_prefix("webhook:").expect("the inbox's webhook URL");
    std::fs::write(dir.path().join("config.toml"), format!("[sms]\nwebhook_url = \"{url}\"\nsecret = \"s3cret\"\n"))
        .expect("config file");
    (Agent::spawn_in(dir.path(), None), dir)
}

fn receipt(id: &str, redeem: Value, code: Option<&str>) -> Value {
    let mut receipt = json!({
        "id": id,
        "lines": [{ "sku": "coffee-beans", "name": "Coffee beans 1 kg", "quantity": "1", "price": 25000 }],
        "redeem": redeem,
    });
    if let Some(code) = code {
        receipt["verification"] = json!({ "code": code });
    }
    receipt
}

/// `receipt` for `customer`; the calculation leaves the id out.
fn for_customer(mut receipt: Value, customer: &str, quote: bool) -> Value {
    receipt["customer"] = json!({ "id": customer });
    if quote {
        receipt.as_object_mut().unwrap().remove("id");
    }
    receipt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_till_confirms_spending_with_an_sms_code() {
    let inbox = SmsInbox::start().await;
    let (agent, _dir) = till(&inbox);
    let customer = agent.enroll(PHONE, "Анна").await;
    let id = customer["id"].as_str().unwrap().to_owned();
    agent.give_points(&id, 171).await;
    let quote = |redeem: Value, code: Option<&str>| for_customer(receipt("q", redeem, code), &id, true);
    let sale = |receipt_id: &str, code: Option<&str>| for_customer(receipt(receipt_id, json!("max"), code), &id, false);

    // Spending without a code: refused, saying how to get one; earning only is unchanged.
    let refused = agent.post("/v1/receipts/calculate", quote(json!("max"), None)).await;
    assert_error(&refused, 422, "verification_required");
    let message = refused.1["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("/v1/customers/{id}/verification-codes")), "{message}");
    let (status, earning) = agent.post("/v1/receipts/calculate", quote(json!(0), None)).await;
    assert_eq!((status, earning["points"]["earn"].as_i64()), (200, Some(12)), "{earning}");
    assert_error(&agent.post("/v1/receipts", sale("r-0", None)).await, 422, "verification_required");
    let in_russian = agent
        .client()
        .post(agent.url("/v1/receipts/calculate"))
        .bearer_auth(TOKEN)
        .header("Accept-Language", "ru-RU")
        .json(&quote(json!(50), None))
        .send()
        .await
        .unwrap();
    let body: Value = in_russian.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Программа подтверждает списание"), "{body}");

    // The code goes out by SMS; asking again at once is refused.
    let (status, sent) = agent.post(&format!("/v1/customers/{id}/verification-codes"), json!({})).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent, json!({ "sent_to": "+7 *** ***-45-67", "expires_in_s": 300 }));
    let again = agent.post(&format!("/v1/customers/{id}/verification-codes"), json!({})).await;
    assert_error(&again, 429, "verification_code_recent");
    let (code, text) = inbox.code(0).await;
    assert!(text.contains("списания баллов"), "{text}");
    let wrong = if code == "000000" { "111111" } else { "000000" };

    // A wrong code counts; the right one prices and sells 250.00 − 171 points = 79.00.
    let failed = agent.post("/v1/receipts", sale("r-1", Some(wrong))).await;
    assert_error(&failed, 422, "verification_failed");
    assert_eq!(failed.1["error"]["details"]["attempts_left"], "4", "{}", failed.1);
    let (status, priced) = agent.post("/v1/receipts/calculate", quote(json!("max"), Some(&code))).await;
    assert_eq!((status, priced["total"].as_i64()), (200, Some(7900)), "{priced}");
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let (status, sold) = agent.post("/v1/receipts", sale("r-1", Some(&spaced))).await;
    assert_eq!(status, 200, "{sold}");
    assert_eq!((sold["discount"].as_i64(), sold["total"].as_i64()), (Some(17100), Some(7900)), "{sold}");
    // A retry of the same receipt, with any code, is the stored answer.
    let (status, retried) = agent.post("/v1/receipts", sale("r-1", Some(wrong))).await;
    assert_eq!((status, &retried["total"]), (200, &sold["total"]), "{retried}");

    // The code is used up; with nothing to check a code against, a guess is not counted.
    agent.give_points(&id, 100).await;
    assert_error(&agent.post("/v1/receipts", sale("r-2", Some(&code))).await, 422, "verification_code_used");
    assert_error(&agent.post("/v1/receipts", sale("r-2", Some(wrong))).await, 422, "verification_unavailable");

    // Another customer sent a code: five wrong codes lock their codes for 15 minutes.
    let other = agent.enroll("+79017654321", "Олег").await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    agent.give_points(&other_id, 50).await;
    let (status, _) = agent.post(&format!("/v1/customers/{other_id}/verification-codes"), json!({})).await;
    assert_eq!(status, 201);
    let guess =
        |receipt_id: &str, code: &str| for_customer(receipt(receipt_id, json!("max"), Some(code)), &other_id, false);
    for n in 0..4 {
        assert_error(&agent.post("/v1/receipts", guess(&format!("o-{n}"), "123456")).await, 422, "verification_failed");
    }
    let locked = agent.post("/v1/receipts", guess("o-5", "123456")).await;
    assert_error(&locked, 429, "verification_locked");
    assert_eq!(locked.1["error"]["details"]["minutes"], "15", "{}", locked.1);
    let no_more = agent.post(&format!("/v1/customers/{other_id}/verification-codes"), json!({})).await;
    assert_error(&no_more, 429, "verification_locked");
    assert_eq!(inbox.count(), 2, "no SMS while locked");
    let (_, after) = agent.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(after["points"]["balance"], 103, "171 − 171 + 3 + 100, nothing spent by the refusals: {after}");
    // Earning stays open to them.
    let mut earn_only = sale("r-3", None);
    earn_only["redeem"] = json!(0);
    let (status, earned) = agent.post("/v1/receipts", earn_only).await;
    assert_eq!(status, 200, "{earned}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_customer_gets_no_code() {
    let inbox = SmsInbox::start().await;
    let (agent, _dir) = till(&inbox);
    let missing = agent.post("/v1/customers/no-such-customer/verification-codes", json!({})).await;
    assert_error(&missing, 404, "customer_not_found");
    assert_eq!(inbox.count(), 0);
}

/// Asks a till to sync now and waits for it (push and pull).
async fn sync_now(agent: &Agent) {
    let (status, body) = agent.post("/v1/sync", json!({})).await;
    assert_eq!(status, 200, "sync: {body}");
}

cloud_test!(the_page_code_is_taken_offline_once_per_till_and_a_replay_is_listed, offline_code_scenario);
/// The customer's page shows a time-based code; two connected tills lose their link; each
/// takes the code without the network (once: the same till refuses it again), and after the
/// link returns the cloud lists the second till's use as `code_replayed`.
async fn offline_code_scenario(backend: Backend) {
    let inbox = SmsInbox::start().await;
    let cloud = cloud_with_sms(backend, &inbox).await;
    let (status, body) = cloud.admin_put("/v1/admin/program", json!({ "verify_spending": true })).await;
    assert!(status == 200 || status == 201, "{body}");
    let id = customer(&cloud).await;
    let (status, body) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{id}/adjustments"),
            json!({ "id": "adj-1", "points": 300, "reason": "gift" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The page shows the code (and makes the secret the tills are sent).
    let cookie = sign_in(&cloud, &inbox, 0).await;
    let http = reqwest::Client::new();
    let me: Value = http.get(cloud.url("/v1/me")).header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["spending_code"], "/v1/me/code", "{me}");
    let shown: Value =
        http.get(cloud.url("/v1/me/code")).header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    let code = shown["code"].as_str().unwrap_or_else(|| panic!("a code: {shown}")).to_owned();
    assert_eq!(code.len(), 6);
    assert!((1..=30).contains(&shown["expires_in_s"].as_i64().unwrap()), "{shown}");
    let qr = http
        .get(cloud.url(&format!("/v1/me/code.svg?step={}", shown["step"])))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    assert!(qr.text().await.unwrap().contains("<svg"), "the code as a QR");
    let (_, admin_view) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    assert!(!admin_view.to_string().to_lowercase().contains("secret"), "no admin answer carries it: {admin_view}");

    // Two tills, each behind its own link.
    let mut tills = Vec::new();
    for name in ["till-a", "till-b"] {
        let proxy = FaultProxy::start(cloud.addr()).await;
        let dir = tempfile::tempdir().unwrap();
        let till_id = enroll(&cloud, &proxy.url(), dir.path(), name).await;
        let agent = Agent::spawn_in(dir.path(), None);
        wait_drained(&agent, Duration::from_secs(10)).await;
        sync_now(&agent).await;
        tills.push((proxy, agent, dir, till_id));
    }
    // Online, a till's SMS code goes out through the cloud's gateway; the cloud allows one a
    // minute per customer, whichever till asks.
    let (till_a, till_b) = (&tills[0].1, &tills[1].1);
    let (status, sent) = till_a.post(&format!("/v1/customers/{id}/verification-codes"), json!({})).await;
    assert_eq!((status, sent["sent_to"].as_str()), (201, Some("+7 *** ***-45-67")), "{sent}");
    let (sms_code, text) = inbox.code(1).await;
    assert!(text.contains("списания баллов"), "{text}");
    let too_soon = till_b.post(&format!("/v1/customers/{id}/verification-codes"), json!({})).await;
    assert_error(&too_soon, 429, "verification_code_recent");
    let online = json!({ "id": "a-sms", "customer": { "id": id },
                         "lines": [{ "sku": "beans", "quantity": "1", "price": 10000 }],
                         "redeem": 10, "verification": { "code": sms_code },
                         "cashier": { "id": "c-1", "name": "Мария" }, "entry": "phone" });
    let (status, body) = till_a.post("/v1/receipts", online).await;
    assert_eq!(status, 200, "the cloud's SMS code at the till that made it: {body}");
    let sms_spent = 10 - body["points"]["earn"].as_i64().unwrap();
    // The cashier and how the customer was found reach the cloud; the code does not.
    wait_drained(till_a, Duration::from_secs(10)).await;
    let (status, applied) = cloud.admin_get(&format!("/v1/admin/receipts/{}/a-sms", tills[0].3)).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["request"]["cashier"], json!({ "id": "c-1", "name": "Мария" }), "{applied}");
    assert_eq!(applied["request"]["entry"], "phone");
    assert!(applied["request"].get("verification").is_none(), "the code stays at the till: {applied}");

    for (proxy, ..) in &tills {
        proxy.set(Fault::Refuse);
    }
    let sale = |receipt: &str, code: &str| {
        json!({ "id": receipt, "customer": { "id": id },
                "lines": [{ "sku": "beans", "quantity": "1", "price": 25000 }],
                "redeem": 100, "verification": { "code": code } })
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_error(&till_a.post("/v1/receipts", sale("a-0", wrong)).await, 422, "verification_failed");
    let (status, sold) = till_a.post("/v1/receipts", sale("a-1", &code)).await;
    assert_eq!((status, sold["discount"].as_i64()), (200, Some(10_000)), "offline, with the page's code: {sold}");
    assert_error(&till_a.post("/v1/receipts", sale("a-2", &code)).await, 422, "verification_code_used");
    let (status, replayed) = till_b.post("/v1/receipts", sale("b-1", &code)).await;
    assert_eq!(status, 200, "another till cannot know: {replayed}");

    // The link returns: the cloud has both sales and lists the replay.
    for (proxy, agent, ..) in &tills {
        proxy.set(Fault::None);
        sync_now(agent).await;
        wait_drained(agent, Duration::from_secs(15)).await;
    }
    let conflicts = eventually(Duration::from_secs(15), "the replay listed", || async {
        let (_, list) = cloud.admin_get("/v1/admin/conflicts").await;
        let found: Vec<Value> = list["conflicts"]
            .as_array()
            .map(|c| c.iter().filter(|c| c["kind"] == "code_replayed").cloned().collect())
            .unwrap_or_default();
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let conflict = &conflicts[0];
    let said = conflict["what_happened"].as_str().unwrap_or_default();
    assert!(said.contains("b-1") && said.contains("a-1"), "the second use names the first: {conflict}");
    assert_eq!(conflict["receipt_id"], "b-1", "{conflict}");
    assert_eq!(conflict["customer_id"], id.as_str());
    let (_, customer) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    let earned = sold["points"]["earn"].as_i64().unwrap() + replayed["points"]["earn"].as_i64().unwrap();
    assert_eq!(customer["points"]["balance"], 300 - 200 + earned - sms_spent, "both sales stand: {customer}");
}

cloud_test!(the_pages_signed_qr_is_checked_offline_and_expires, signed_qr_scenario);
/// The self-service page's QR holds a signed token that expires (`--qr-lifetime`, 3 s here);
/// a till with no link to the cloud finds the customer by it, refuses an altered one, and
/// refuses it once expired; a plain card number still finds the card.
async fn signed_qr_scenario(backend: Backend) {
    let inbox = SmsInbox::start().await;
    let cloud = crate::cloud_support::Cloud::start_with(
        backend,
        &[
            ("LOYALTY_CLOUD_SMS", inbox.url.as_str()),
            ("LOYALTY_CLOUD_SMS_SECRET", "s3cret"),
            ("LOYALTY_CLOUD_QR_LIFETIME", "3"),
        ],
    )
    .await;
    let id = customer(&cloud).await;
    // Spending needs the page's QR code (or a code): a card number alone only earns.
    let (status, body) = cloud.admin_put("/v1/admin/program", json!({ "require_signed_qr": true })).await;
    assert!(status == 200 || status == 201, "{body}");
    let (status, body) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{id}/adjustments"),
            json!({ "id": "adj-qr", "points": 300, "reason": "gift" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let proxy = FaultProxy::start(cloud.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &proxy.url(), dir.path(), "till-qr").await;
    let till = Agent::spawn_in(dir.path(), None);
    wait_drained(&till, Duration::from_secs(10)).await;
    sync_now(&till).await;

    let cookie = sign_in(&cloud, &inbox, 0).await;
    let me: Value = reqwest::Client::new()
        .get(cloud.url("/v1/me"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = me["card"].as_str().unwrap();
    let token = me["qr_token"].as_str().unwrap_or_else(|| panic!("a token: {me}")).to_owned();
    assert!(token.starts_with(&format!("loyalty:v1:{card}:")), "{token}");

    proxy.set(Fault::Refuse);
    let search = |q: String| {
        let till = &till;
        async move { till.get(&format!("/v1/customers/search?q={}", crate::cloud_support::urlencode(&q))).await }
    };
    let (status, found) = search(token.clone()).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!((found["matched_by"].as_str(), found["customers"][0]["id"].as_str()), (Some("qr"), Some(id.as_str())));
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_error(&search(forged.clone()).await, 422, "qr_forged");
    let by_qr = json!({ "id": "qr-1", "customer": { "qr": token },
                        "lines": [{ "sku": "beans", "quantity": "1", "price": 10000 }], "redeem": 50 });
    let (status, sold) = till.post("/v1/receipts", by_qr).await;
    assert_eq!((status, sold["customer_id"].as_str()), (200, Some(id.as_str())), "{sold}");
    assert_eq!(sold["points"]["redeem"], 50, "the page's QR lets points be spent offline: {sold}");
    let by_card = |receipt: &str, redeem: i64| {
        json!({ "id": receipt, "customer": { "card": card },
                "lines": [{ "sku": "beans", "quantity": "1", "price": 10000 }], "redeem": redeem })
    };
    assert_error(&till.post("/v1/receipts", by_card("card-1", 50)).await, 422, "signed_qr_required");
    let (status, earned) = till.post("/v1/receipts", by_card("card-2", 0)).await;
    assert_eq!(status, 200, "a card number still earns: {earned}");
    let forged_sale = json!({ "id": "qr-2", "customer": { "qr": forged },
                              "lines": [{ "sku": "beans", "quantity": "1", "price": 10000 }] });
    assert_error(&till.post("/v1/receipts", forged_sale).await, 422, "qr_forged");

    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_error(&search(token.clone()).await, 422, "qr_expired");
    let (_, by_card) = search(card.to_owned()).await;
    assert_eq!(by_card["customers"][0]["id"], id.as_str(), "a plain card number still finds the card");
}

/// `redeem_requires_scan`: a typed card number earns but cannot spend; a scanned card spends;
/// a receipt's cashier is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_card_number_cannot_spend_when_the_program_asks_for_a_scan() {
    let agent = Agent::start_with_program("redeem_requires_scan = true\n").await;
    let customer = agent.enroll(PHONE, "Анна").await;
    let card = customer["card"].as_str().unwrap().to_owned();
    agent.give_points(customer["id"].as_str().unwrap(), 171).await;
    let sale = |id: &str, entry: &str, redeem: Value| {
        json!({ "id": id, "customer": { "card": card }, "entry": entry,
                "cashier": { "id": "c-7", "name": "Мария" },
                "lines": [{ "sku": "beans", "quantity": "1", "price": 25000 }], "redeem": redeem })
    };
    assert_error(&agent.post("/v1/receipts", sale("t-1", "typed", json!("max"))).await, 422, "scan_required");
    let (status, earned) = agent.post("/v1/receipts", sale("t-2", "typed", json!(0))).await;
    assert_eq!((status, earned["points"]["earn"].as_i64()), (200, Some(12)), "a typed card still earns: {earned}");
    let (status, spent) = agent.post("/v1/receipts", sale("t-3", "scanned", json!("max"))).await;
    assert_eq!((status, spent["total"].as_i64()), (200, Some(25000 - 18300)), "{spent}");
    let mut nameless = sale("t-4", "scanned", json!(0));
    nameless["cashier"] = json!({ "id": "" });
    assert_error(&agent.post("/v1/receipts", nameless).await, 422, "invalid_cashier");
    let mut unknown = sale("t-5", "telepathy", json!(0));
    unknown["entry"] = json!("telepathy");
    let refused = agent.post("/v1/receipts", unknown).await;
    assert_eq!(refused.0, 422, "an entry this API does not know: {:?}", refused);
}
