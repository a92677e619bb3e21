//! Webhooks on SQLite and PostgreSQL: a receiver in the test (a tiny axum server) checks every
//! signature, sees `customer_created` and `balance_changed` after an admin adjustment and a
//! till's sale, and a retry with the same delivery id after it answered 500; a dead receiver
//! ends up `failed` in the deliveries list; two processes on one database deliver each row once.
//! The receivers listen on 127.0.0.1, so these clouds start with the private-address flag; the
//! refusal of such receivers without it — at creation, and at delivery for a webhook created
//! while the flag was on — has its own scenario.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};

use crate::cloud_support::{assert_error, sale, Backend, Cloud};
use crate::cloud_test;
use crate::sync_e2e::eventually;

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    event: String,
    delivery: String,
    signature_ok: bool,
    body: Value,
}

#[derive(Default)]
struct ReceiverState {
    secret: String,
    /// How many of the next requests get a 500.
    fail_next: usize,
    received: Vec<Received>,
}

/// A webhook receiver on port 0 that verifies `X-Loyalty-Signature` itself, as a customer's
/// integration would (HMAC-SHA256 of the raw body, constant-time compare).
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let mut state = state.lock().unwrap();
                    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(state.secret.as_bytes()).unwrap();
                    mac.update(&body);
                    let presented = header("x-loyalty-signature");
                    let signature_ok = presented
                        .strip_prefix("sha256=")
                        .and_then(|h| hex::decode(h).ok())
                        .is_some_and(|tag| mac.verify_slice(&tag).is_ok());
                    state.received.push(Received {
                        event: header("x-loyalty-event"),
                        delivery: header("x-loyalty-delivery"),
                        signature_ok,
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    if state.fail_next > 0 {
                        state.fail_next -= 1;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state }
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

/// A URL nothing listens on (a port bound and released).
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}/gone", listener.local_addr().unwrap())
}

/// Quick retries, and receivers on this machine allowed.
const FAST_RETRIES: &[(&str, &str)] = &[
    ("LOYALTY_CLOUD_WEBHOOK_BACKOFF_MS", "200"),
    ("LOYALTY_CLOUD_WEBHOOK_MAX_ATTEMPTS", "3"),
    ("LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS", "true"),
];
/// Quick retries, with the default refusal of private receivers.
const FAST_RETRIES_PUBLIC_ONLY: &[(&str, &str)] =
    &[("LOYALTY_CLOUD_WEBHOOK_BACKOFF_MS", "200"), ("LOYALTY_CLOUD_WEBHOOK_MAX_ATTEMPTS", "3")];

cloud_test!(webhooks_are_signed_retried_and_listed, webhooks_scenario);
async fn webhooks_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, FAST_RETRIES).await;
    let receiver = Receiver::start().await;
    let (status, hook) = cloud
        .admin_post(
            "/v1/admin/webhooks",
            json!({ "url": receiver.url, "events": ["balance_changed", "customer_created"] }),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64, "256 bits, hex");
    {
        let mut state = receiver.state.lock().unwrap();
        state.secret = secret;
        state.fail_next = 1;
    }
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let (status, dead) = cloud
        .admin_post("/v1/admin/webhooks", json!({ "url": dead_url().await, "events": ["customer_created"] }))
        .await;
    assert_eq!(status, 201, "{dead}");
    let dead_id = dead["id"].as_str().unwrap().to_owned();

    // A customer (the first delivery gets a 500 and is retried), an adjustment, a till's sale.
    let customer = cloud.customer("+79995550101").await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let (status, _) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{customer_id}/adjustments"),
            json!({ "id": "gift-1", "points": 50, "reason": "welcome gift" }),
        )
        .await;
    assert_eq!(status, 201);
    let till = cloud.till("Till 1").await;
    cloud.push_expect(&till, vec![sale(1, "r-1", &customer_id, 10000, 20, 4)], &["applied"]).await;

    let received = eventually(Duration::from_secs(20), "four deliveries (one retried)", || async {
        let received = receiver.received();
        let mut ids: Vec<&str> = received.iter().map(|r| r.delivery.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        (ids.len() == 3 && received.len() == 4).then_some(received)
    })
    .await;
    assert!(received.iter().all(|r| r.signature_ok), "every signature verifies: {received:?}");
    for r in &received {
        assert_eq!(r.body["id"], r.delivery.as_str(), "X-Loyalty-Delivery is the body's id");
        assert_eq!(r.body["type"], r.event.as_str());
        assert!(r.body["created_at"].is_string());
    }
    // The first request got a 500; the same delivery (id and body) came again.
    let retried = &received[0];
    let again = received[1..].iter().find(|r| r.delivery == retried.delivery).expect("the retry");
    assert_eq!(again.body, retried.body);
    let created: Vec<&Received> = received.iter().filter(|r| r.event == "customer_created").collect();
    assert_eq!(created.last().unwrap().body["data"]["customer"]["id"], customer_id.as_str());
    assert_eq!(created[0].body["data"]["customer"]["phone"], "+79995550101");
    assert_eq!(created[0].body["data"]["source"], "admin");
    let balances: Vec<&Value> =
        received.iter().filter(|r| r.event == "balance_changed").map(|r| &r.body["data"]).collect();
    let adjustment = balances.iter().find(|d| d["reason"] == "adjustment").expect("the adjustment");
    assert_eq!((adjustment["change"].as_i64(), adjustment["reference"].as_str()), (Some(50), Some("gift-1")));
    assert_eq!(adjustment["points"]["balance"], 50);
    assert_eq!(adjustment["till_id"], Value::Null);
    let sold = balances.iter().find(|d| d["reason"] == "sale").expect("the sale");
    assert_eq!((sold["change"].as_i64(), sold["reference"].as_str()), (Some(-16), Some("r-1")));
    assert_eq!(sold["till_id"], till.id.as_str());
    assert_eq!(sold["points"]["balance"], 34);
    assert_eq!(sold["customer_id"], customer_id.as_str());

    // The deliveries list shows the retry; the dead receiver's delivery ends up failed.
    // (The receiver answers before the cloud records the outcome: wait for the record.)
    let list = eventually(Duration::from_secs(10), "the deliveries recorded", || async {
        let (status, list) = cloud.admin_get(&format!("/v1/admin/webhooks/{hook_id}/deliveries")).await;
        assert_eq!(status, 200, "{list}");
        list["deliveries"].as_array().unwrap().iter().all(|d| d["status"] == "delivered").then_some(list)
    })
    .await;
    let first = list["deliveries"].as_array().unwrap().iter().find(|d| d["id"] == retried.delivery.as_str()).unwrap();
    assert_eq!((first["status"].as_str(), first["attempts"].as_i64()), (Some("delivered"), Some(2)), "{first}");
    assert_eq!(first["last_status"], 204);
    assert_eq!(list["deliveries"].as_array().unwrap().len(), 3);
    let failed = eventually(Duration::from_secs(20), "the dead receiver's delivery to fail", || async {
        let (_, list) = cloud.admin_get(&format!("/v1/admin/webhooks/{dead_id}/deliveries?status=failed")).await;
        list["deliveries"].as_array().and_then(|d| d.first().cloned())
    })
    .await;
    assert_eq!(failed["attempts"], 3, "{failed}");
    assert!(failed["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{failed}");
    assert_eq!(failed["body"]["data"]["customer"]["id"], customer_id.as_str());
    let (_, hooks) = cloud.admin_get("/v1/admin/webhooks").await;
    let listed: HashMap<&str, &Value> =
        hooks["webhooks"].as_array().unwrap().iter().map(|h| (h["id"].as_str().unwrap(), h)).collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[dead_id.as_str()]["failed"].as_i64(), listed[hook_id.as_str()]["delivered"].as_i64()),
        (Some(1), Some(3))
    );
    assert!(listed.values().all(|h| h.get("secret").is_none()), "secrets are shown once only");

    // A failed delivery can be sent again; a delivery that is not failed cannot.
    let retry = format!("/v1/admin/webhooks/{dead_id}/deliveries/{}/retry", failed["id"].as_str().unwrap());
    assert_eq!(cloud.admin_post(&retry, json!({})).await.0, 202);
    assert_error(&cloud.admin_post(&retry, json!({})).await, 404, "delivery_not_found");

    // Deleting stops deliveries; bad subscriptions are refused with clear codes.
    assert_eq!(cloud.admin_delete(&format!("/v1/admin/webhooks/{dead_id}")).await.0, 204);
    assert_error(&cloud.admin_delete(&format!("/v1/admin/webhooks/{dead_id}")).await, 404, "webhook_not_found");
    let bad = [
        (json!({ "url": receiver.url, "events": [] }), "invalid_events"),
        (json!({ "url": "ftp://example.com/", "events": ["customer_created"] }), "invalid_url"),
        (json!({ "url": "not a url", "events": ["customer_created"] }), "invalid_url"),
        (json!({ "url": receiver.url, "events": ["everything"] }), "invalid_field"),
    ];
    for (body, code) in bad {
        assert_error(&cloud.admin_post("/v1/admin/webhooks", body).await, 422, code);
    }
    let (status, _) = cloud.send(reqwest::Method::GET, "/v1/admin/webhooks", None, None).await;
    assert_eq!(status, 401);
    assert_error(&cloud.admin_get("/v1/admin/webhooks/nope/deliveries?status=lost").await, 422, "invalid_query");
}

cloud_test!(two_processes_deliver_each_row_once, two_process_delivery_scenario);
/// Two loyalty-cloud processes on one database both run a delivery task; every row is
/// delivered by exactly one of them.
async fn two_process_delivery_scenario(backend: Backend) {
    let first = Cloud::start_with(backend, FAST_RETRIES).await;
    let second = first.second();
    let receiver = Receiver::start().await;
    let (status, hook) =
        first.admin_post("/v1/admin/webhooks", json!({ "url": receiver.url, "events": ["customer_created"] })).await;
    assert_eq!(status, 201);
    receiver.state.lock().unwrap().secret = hook["secret"].as_str().unwrap().to_owned();
    for n in 0..30 {
        let cloud = if n % 2 == 0 { &first } else { &second };
        cloud.customer(&format!("+7999444{n:04}")).await;
    }
    eventually(Duration::from_secs(20), "30 deliveries", || async { (receiver.received().len() >= 30).then_some(()) })
        .await;
    // Long enough for a second delivery of any row to show up (each process polls every 200 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    let mut ids: Vec<&str> = received.iter().map(|r| r.delivery.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((ids.len(), received.len()), (30, 30), "each delivery once");
    assert!(received.iter().all(|r| r.signature_ok));
}

/// Addresses inside the cloud's own network, as an admin might type them.
const PRIVATE_URLS: &[&str] = &[
    "http://127.0.0.1:9000/hook",
    "http://10.0.0.1/hook",
    "http://[::1]:9000/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:9000/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://192.168.1.20/hook",
    "http://2130706433/hook",
];

cloud_test!(private_receivers_are_refused_unless_allowed, private_receivers_scenario);
/// Without `--allow-private-webhooks` a webhook to loopback, private or link-local addresses is
/// refused with `webhook_address_private` and a sentence naming the flag, in both languages; a
/// public address is accepted; with the flag every one of them is accepted.
async fn private_receivers_scenario(backend: Backend) {
    let mut cloud = Cloud::start_with(backend, FAST_RETRIES_PUBLIC_ONLY).await;
    for url in PRIVATE_URLS {
        let answer =
            cloud.admin_post("/v1/admin/webhooks", json!({ "url": url, "events": ["customer_created"] })).await;
        assert_error(&answer, 422, "webhook_address_private");
        let message = answer.1["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("--allow-private-webhooks"), "{url}: {message}");
    }
    let russian = reqwest::Client::new()
        .post(cloud.url("/v1/admin/webhooks"))
        .bearer_auth(crate::cloud_support::ADMIN)
        .header("Accept-Language", "ru")
        .json(&json!({ "url": "http://169.254.169.254/", "events": ["customer_created"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(russian.status().as_u16(), 422);
    let russian: Value = russian.json().await.unwrap();
    assert_eq!(russian["error"]["code"], "webhook_address_private");
    let message = russian["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("169.254.169.254") && message.contains("--allow-private-webhooks"), "{message}");
    assert!(message.contains("внутренней сети"), "{message}");
    // A public address (a documentation range nothing answers on) is fine; nothing was stored
    // for the refused ones.
    let (status, public) = cloud
        .admin_post("/v1/admin/webhooks", json!({ "url": "https://203.0.113.10/hook", "events": ["customer_created"] }))
        .await;
    assert_eq!(status, 201, "{public}");
    let (_, hooks) = cloud.admin_get("/v1/admin/webhooks").await;
    assert_eq!(hooks["webhooks"].as_array().map(Vec::len), Some(1), "{hooks}");

    cloud.restart_with(FAST_RETRIES);
    for url in PRIVATE_URLS {
        let (status, answer) =
            cloud.admin_post("/v1/admin/webhooks", json!({ "url": url, "events": ["customer_created"] })).await;
        assert_eq!(status, 201, "{url} with the flag: {answer}");
    }
}

cloud_test!(private_receivers_are_refused_at_delivery, refused_delivery_scenario);
/// The delivery checks the address again. Offline a test cannot make a public name's DNS answer
/// turn private, so the webhooks are created while the flag is on (one to the name `localhost`,
/// which goes through the delivery client's resolver, one to the literal 127.0.0.1), and the
/// cloud is restarted without it: the stored webhooks are what a DNS change would leave. Their
/// deliveries are not sent, fail on the first attempt with the reason (no retries), and the
/// receiver hears nothing; with the flag back, a retry delivers.
async fn refused_delivery_scenario(backend: Backend) {
    let mut cloud = Cloud::start_with(backend, FAST_RETRIES).await;
    let receiver = Receiver::start().await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let mut hooks = Vec::new();
    for url in [&by_name, &receiver.url] {
        let (status, hook) =
            cloud.admin_post("/v1/admin/webhooks", json!({ "url": url, "events": ["customer_created"] })).await;
        assert_eq!(status, 201, "{hook}");
        hooks.push(hook["id"].as_str().unwrap().to_owned());
    }
    cloud.restart_with(FAST_RETRIES_PUBLIC_ONLY);
    cloud.customer("+79995550177").await;
    for (hook_id, host) in hooks.iter().zip(["localhost", "127.0.0.1"]) {
        let failed = eventually(Duration::from_secs(20), "the refused delivery to fail", || async {
            let (_, list) = cloud.admin_get(&format!("/v1/admin/webhooks/{hook_id}/deliveries?status=failed")).await;
            list["deliveries"].as_array().and_then(|d| d.first().cloned())
        })
        .await;
        assert_eq!(failed["attempts"], 1, "refused once, not retried: {failed}");
        assert_eq!(failed["last_status"], Value::Null, "{failed}");
        let error = failed["last_error"].as_str().unwrap_or_default();
        assert!(error.starts_with("not sent: "), "{error}");
        assert!(error.contains(host) && error.contains("--allow-private-webhooks"), "{error}");
        if host == "localhost" {
            // The name was looked up at delivery and its answer refused.
            assert!(error.contains("resolves to"), "{error}");
        }
    }
    // A Russian reader (the console on a Russian page) gets the stored error in Russian.
    let russian: Value = reqwest::Client::new()
        .get(cloud.url(&format!("/v1/admin/webhooks/{}/deliveries?status=failed", hooks[0])))
        .bearer_auth(crate::cloud_support::ADMIN)
        .header("Accept-Language", "ru")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let error = russian["deliveries"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("Не отправлено: адрес получателя ведёт во внутреннюю сеть облака"), "{error}");
    // Longer than the backoff: nothing was retried behind the list's back.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.received().is_empty(), "a refused receiver is never contacted: {:?}", receiver.received());

    cloud.restart_with(FAST_RETRIES);
    let hook_id = &hooks[1];
    let (_, list) = cloud.admin_get(&format!("/v1/admin/webhooks/{hook_id}/deliveries?status=failed")).await;
    let delivery = list["deliveries"][0]["id"].as_str().unwrap().to_owned();
    let retry = format!("/v1/admin/webhooks/{hook_id}/deliveries/{delivery}/retry");
    assert_eq!(cloud.admin_post(&retry, json!({})).await.0, 202);
    eventually(Duration::from_secs(20), "the retried delivery", || async {
        receiver.received().iter().any(|r| r.delivery == delivery).then_some(())
    })
    .await;
}
