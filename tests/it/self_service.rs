//! The self-service page's API (issue 13, `GET /me`): a shopper asks for an SMS code, the code
//! reaches the SMS gateway (a local stand-in), signs them in with an HttpOnly cookie, and
//! `GET /v1/me` shows the points a till's sale and an adjustment gave; withdrawing the SMS
//! consent is recorded with source `web`, in the admin history and the tills' feed. Wrong codes
//! lock after five, an expired code fails, an unknown phone gets the same answer and no SMS,
//! and the per-phone and per-address limits hold. Both backends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use reqwest::header::{ACCEPT_LANGUAGE, COOKIE, SET_COOKIE};
use serde_json::{json, Value};

use crate::cloud_support::{sale, Backend, Cloud};
use crate::cloud_test;
use crate::sync_e2e::eventually;

pub const PHONE: &str = "+79011234567";

/// A stand-in for the SMS webhook gateway: it keeps every message it is sent.
#[derive(Clone)]
pub struct SmsInbox {
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl SmsInbox {
    pub async fn start() -> SmsInbox {
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let app = axum::Router::new().route(
            "/send",
            axum::routing::post(move |body: Bytes| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("webhook:http://{}/send", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        SmsInbox { url, received }
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The code of the `n`-th message (0-based), once it has arrived.
    pub async fn code(&self, n: usize) -> (String, String) {
        let message = eventually(Duration::from_secs(20), "the SMS code", || async {
            self.received.lock().unwrap().get(n).cloned()
        })
        .await;
        let text = message["text"].as_str().unwrap_or_default().to_owned();
        let code: String = text.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(code.len(), 6, "one 6-digit code in {text:?}");
        assert_eq!(message["phone"], PHONE);
        (code, text)
    }
}

pub async fn cloud_with_sms(backend: Backend, inbox: &SmsInbox) -> Cloud {
    Cloud::start_with(backend, &[("LOYALTY_CLOUD_SMS", inbox.url.as_str()), ("LOYALTY_CLOUD_SMS_SECRET", "s3cret")])
        .await
}

/// A request to the self-service API with an optional cookie: (status, body, Set-Cookie).
async fn me(
    cloud: &Cloud,
    method: reqwest::Method,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
    lang: &str,
) -> (u16, Value, String) {
    let mut request = reqwest::Client::new().request(method, cloud.url(path)).header(ACCEPT_LANGUAGE, lang);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("HTTP request");
    let status = response.status().as_u16();
    let set_cookie = response.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), set_cookie)
}

async fn login(cloud: &Cloud, phone: &str) -> (u16, Value) {
    let (status, body, _) =
        me(cloud, reqwest::Method::POST, "/v1/me/login", None, Some(json!({ "phone": phone })), "en").await;
    (status, body)
}

async fn verify(cloud: &Cloud, code: &str) -> (u16, Value, String) {
    me(cloud, reqwest::Method::POST, "/v1/me/verify", None, Some(json!({ "phone": PHONE, "code": code })), "en").await
}

/// Signs in with the `n`-th SMS: the cookie to send.
pub async fn sign_in(cloud: &Cloud, inbox: &SmsInbox, n: usize) -> String {
    let (status, answer) = login(cloud, PHONE).await;
    assert_eq!((status, answer["hint"].as_str()), (202, Some("+7 *** ***-45-67")), "{answer}");
    let (code, _) = inbox.code(n).await;
    let (status, body, set_cookie) = verify(cloud, &code).await;
    assert_eq!(status, 200, "{body}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/v1/me"] {
        assert!(set_cookie.contains(flag), "{flag} in {set_cookie}");
    }
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A customer with SMS and email consents; their id.
pub async fn customer(cloud: &Cloud) -> String {
    customer_with_phone(cloud, "8 901 123-45-67").await
}

/// Another customer, Анна too, with the given phone.
pub async fn customer_with_phone(cloud: &Cloud, phone: &str) -> String {
    let (status, created) = cloud
        .admin_post(
            "/v1/admin/customers",
            json!({ "phone": phone, "name": "Анна",
                    "consents": { "sms": true, "email": true, "personal_data": true } }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

cloud_test!(a_shopper_signs_in_by_sms_and_sees_their_points, flow_scenario);
async fn flow_scenario(backend: Backend) {
    let inbox = SmsInbox::start().await;
    let cloud = cloud_with_sms(backend, &inbox).await;
    let id = customer(&cloud).await;
    let till = cloud.till("Till 1").await;
    cloud.push_expect(&till, vec![sale(1, "r-1", &id, 150_000, 0, 75)], &["applied"]).await;
    let (status, adjusted) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{id}/adjustments"),
            json!({ "id": "adj-1", "points": 25, "reason": "welcome" }),
        )
        .await;
    assert_eq!(status, 201, "{adjusted}");

    // No cookie: a 401 with a sentence, in the reader's language.
    let (status, refused, _) = me(&cloud, reqwest::Method::GET, "/v1/me", None, None, "ru").await;
    assert_eq!((status, refused["error"]["code"].as_str()), (401, Some("me_not_signed_in")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("войдите"), "{refused}");

    let cookie = sign_in(&cloud, &inbox, 0).await;
    let (_, text) = inbox.code(0).await;
    assert!(text.contains("Your sign-in code"), "the SMS in the asker's language: {text}");
    let (status, shown, _) = me(&cloud, reqwest::Method::GET, "/v1/me", Some(&cookie), None, "en").await;
    assert_eq!(status, 200, "{shown}");
    let (_, card) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    assert_eq!(shown["card"], card["card"]);
    assert_eq!(shown["name"], "Анна");
    assert_eq!(shown["points"]["balance"], 100, "75 from the sale and 25 adjusted: {shown}");
    assert_eq!(shown["points"], card["points"], "the back office's figures");
    assert_eq!(shown["receipts"][0]["total"], 150_000, "{shown}");
    assert_eq!(shown["receipts"][0]["earned"], 75);
    assert_eq!(shown["receipts"][0]["store"], "Main street");
    assert_eq!(shown["consents"], json!({ "sms": true, "email": true, "personal_data": true }));
    assert!(shown["expiring"].is_array());
    let fresh = reqwest::Client::new().get(cloud.url("/v1/me")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(fresh.headers()["cache-control"], "private, no-store", "personal data is not cached");
    let qr = reqwest::Client::new().get(cloud.url("/v1/me/qr.svg")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(qr.status(), 200);
    assert!(qr.text().await.unwrap().contains("<svg"));

    // The SMS consent withdrawn on the page: source `web` in the history, and in the feed.
    let (status, consents, _) = me(
        &cloud,
        reqwest::Method::POST,
        "/v1/me/consents/withdraw",
        Some(&cookie),
        Some(json!({ "channel": "sms" })),
        "en",
    )
    .await;
    assert_eq!((status, &consents), (200, &json!({ "sms": false, "email": true, "personal_data": true })));
    let (_, history) = cloud.admin_get(&format!("/v1/admin/customers/{id}/consents")).await;
    let latest = &history["changes"][0];
    assert_eq!(
        (latest["channel"].as_str(), latest["granted"].as_bool(), latest["source"].as_str()),
        (Some("sms"), Some(false), Some("web")),
        "{history}"
    );
    let feed = cloud.pull(&till, None, 1000, 0).await;
    let fed = feed["changes"].as_array().unwrap().iter().find(|c| c["type"] == "customer" && c["id"] == id.as_str());
    let fed = fed.unwrap_or_else(|| panic!("the customer in the feed: {feed}"));
    assert_eq!(
        (fed["consents"]["sms"]["granted"].as_bool(), fed["consents"]["sms"]["source"].as_str()),
        (Some(false), Some("web")),
        "{fed}"
    );
    let (status, bad, _) = me(
        &cloud,
        reqwest::Method::POST,
        "/v1/me/consents/withdraw",
        Some(&cookie),
        Some(json!({ "channel": "fax" })),
        "en",
    )
    .await;
    assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("invalid_channel")), "{bad}");

    // Log out: the cookie is cleared and no longer opens the page.
    let (status, _, cleared) = me(&cloud, reqwest::Method::POST, "/v1/me/logout", Some(&cookie), None, "en").await;
    assert_eq!(status, 204);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(me(&cloud, reqwest::Method::GET, "/v1/me", Some(&cookie), None, "en").await.0, 401);

    // A session ends when the customer's phone changes.
    let cookie = sign_in(&cloud, &inbox, 1).await;
    assert_eq!(me(&cloud, reqwest::Method::GET, "/v1/me", Some(&cookie), None, "en").await.0, 200);
    let (status, _) = cloud.admin_patch(&format!("/v1/admin/customers/{id}"), json!({ "phone": "+79017654321" })).await;
    assert_eq!(status, 200);
    assert_eq!(me(&cloud, reqwest::Method::GET, "/v1/me", Some(&cookie), None, "en").await.0, 401);
    let stored = cloud.sql_texts("SELECT token_hash FROM me_sessions");
    assert!(stored.iter().flatten().all(|hash| !cookie.contains(hash.as_str())), "only hashes are stored");
}

cloud_test!(codes_lock_expire_and_are_rate_limited, codes_scenario);
async fn codes_scenario(backend: Backend) {
    let inbox = SmsInbox::start().await;
    let cloud = cloud_with_sms(backend, &inbox).await;
    customer(&cloud).await;

    // Five wrong codes and the code is dead, even the right one.
    let (status, known) = login(&cloud, PHONE).await;
    assert_eq!(status, 202);
    let (code, _) = inbox.code(0).await;
    let stored = cloud.sql_texts("SELECT code_hash FROM me_codes");
    assert!(stored.iter().flatten().all(|hash| !hash.contains(&code)), "the code is not stored in clear");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..=4).rev() {
        let (status, body, _) = verify(&cloud, wrong).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_wrong")), "{body}");
        assert_eq!(body["error"]["details"]["attempts_left"], left.to_string(), "{body}");
    }
    let (status, body, _) = verify(&cloud, wrong).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_locked")), "{body}");
    let (status, body, cookie) = verify(&cloud, &code).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_locked")), "{body}");
    assert!(cookie.is_empty());
    let (status, body, _) = verify(&cloud, "12ab").await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_code")), "{body}");

    // An expired code fails.
    assert_eq!(login(&cloud, PHONE).await.0, 202);
    let (code, _) = inbox.code(1).await;
    cloud.sql("UPDATE me_codes SET expires_at = 0");
    let (status, body, _) = verify(&cloud, &code).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_expired")), "{body}");

    // An unknown phone: the same answer, and no SMS.
    let (status, unknown) = login(&cloud, "+79019998877").await;
    assert_eq!(status, 202, "{unknown}");
    assert_eq!(unknown["status"], known["status"]);
    assert_eq!(unknown["expires_in_seconds"], known["expires_in_seconds"]);
    assert_eq!(
        unknown["message"].as_str().unwrap().replace(unknown["hint"].as_str().unwrap(), "…"),
        known["message"].as_str().unwrap().replace(known["hint"].as_str().unwrap(), "…"),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(inbox.count(), 2, "no SMS to a phone that is not a customer's");

    // Per phone: three codes an hour.
    assert_eq!(login(&cloud, PHONE).await.0, 202);
    let (status, limited) = login(&cloud, PHONE).await;
    assert_eq!((status, limited["error"]["code"].as_str()), (429, Some("me_rate_limited")), "{limited}");
    assert_eq!(limited["error"]["details"]["scope"], "phone", "{limited}");

    // Per address: ten requests an hour, whatever the phones (five made so far).
    for n in 0..5 {
        assert_eq!(login(&cloud, &format!("+7901555000{n}")).await.0, 202);
    }
    let (status, limited) = login(&cloud, "+79015550009").await;
    assert_eq!((status, limited["error"]["code"].as_str()), (429, Some("me_rate_limited")), "{limited}");
    assert_eq!(limited["error"]["details"]["scope"], "address", "{limited}");
}

cloud_test!(a_withdrawal_on_the_page_is_told_to_webhook_subscribers, webhook_scenario);
async fn webhook_scenario(backend: Backend) {
    let inbox = SmsInbox::start().await;
    let cloud = Cloud::start_with(
        backend,
        &[
            ("LOYALTY_CLOUD_SMS", inbox.url.as_str()),
            ("LOYALTY_CLOUD_SMS_SECRET", "s3cret"),
            ("LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS", "true"),
        ],
    )
    .await;
    let (url, bodies) = crate::cloud_consents::collecting_receiver().await;
    let (status, hook) =
        cloud.admin_post("/v1/admin/webhooks", json!({ "url": url, "events": ["consent_changed"] })).await;
    assert_eq!(status, 201, "{hook}");
    let id = customer(&cloud).await;
    let cookie = sign_in(&cloud, &inbox, 0).await;
    let (status, _, _) = me(
        &cloud,
        reqwest::Method::POST,
        "/v1/me/consents/withdraw",
        Some(&cookie),
        Some(json!({ "channel": "email" })),
        "en",
    )
    .await;
    assert_eq!(status, 200);
    let told = eventually(Duration::from_secs(20), "the withdrawal's webhook", || async {
        bodies.lock().unwrap().iter().find(|b| b["type"] == "consent_changed" && b["data"]["source"] == "web").cloned()
    })
    .await;
    let data = &told["data"];
    assert_eq!(
        (data["customer_id"].as_str(), data["channel"].as_str(), data["old"].as_bool(), data["new"].as_bool()),
        (Some(id.as_str()), Some("email"), Some(true), Some(false)),
        "{told}"
    );
}
