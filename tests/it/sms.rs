//! SMS codes reach a real gateway (issue 13, "Real SMS"): a MoySklad verification code asked
//! of the cloud is sent to the configured webhook, signed, retried after a failure with the
//! same id, and listed for the back office with the phone and the code masked; SMS.ru's
//! documented API is spoken to a stand-in, and a number it refuses is listed as failed with
//! its reason; a till's own `[sms]` section sends its codes itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::moysklad::{cloud_moysklad, fixture, MoySklad, VERIFY_REGISTRATION};
use crate::support::{Agent, TOKEN};
use crate::sync_e2e::eventually;

const SECRET: &str = "sms-signing-secret";
const PHONE: &str = "+79011231122";

#[derive(Debug, Clone)]
struct Received {
    /// The request's form or JSON body.
    body: Value,
    delivery: String,
    signature_ok: bool,
}

#[derive(Default)]
struct GatewayState {
    received: Vec<Received>,
    /// Answer this many requests with a 500 first.
    fail_next: usize,
    /// SMS.ru's per-number `status_code` to answer (100 = accepted).
    smsru_code: i64,
}

/// A stand-in for both kinds of gateway: `POST /send` (our webhook form) and
/// `POST /sms/send` (SMS.ru's API, form-encoded, answering its documented JSON).
struct Gateway {
    base: String,
    state: Arc<Mutex<GatewayState>>,
}

impl Gateway {
    async fn start(fail_next: usize, smsru_code: i64) -> Gateway {
        let state = Arc::new(Mutex::new(GatewayState { fail_next, smsru_code, ..GatewayState::default() }));
        let (webhook_state, smsru_state) = (state.clone(), state.clone());
        let app = axum::Router::new()
            .route(
                "/send",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let state = webhook_state.clone();
                    async move {
                        let header =
                            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                        mac.update(&body);
                        let signature_ok = header("x-loyalty-signature")
                            .strip_prefix("sha256=")
                            .and_then(|h| hex::decode(h).ok())
                            .is_some_and(|tag| mac.verify_slice(&tag).is_ok());
                        let mut state = state.lock().unwrap();
                        state.received.push(Received {
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                            delivery: header("x-loyalty-delivery"),
                            signature_ok,
                        });
                        if state.fail_next > 0 {
                            state.fail_next -= 1;
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        }
                    }
                }),
            )
            .route(
                "/sms/send",
                axum::routing::post(move |body: Bytes| {
                    let state = smsru_state.clone();
                    async move {
                        let query = format!("http://form/?{}", String::from_utf8_lossy(&body));
                        let form: std::collections::HashMap<String, String> = reqwest::Url::parse(&query)
                            .map(|url| url.query_pairs().into_owned().collect())
                            .unwrap_or_default();
                        let mut state = state.lock().unwrap();
                        let to = form.get("to").cloned().unwrap_or_default();
                        let code = state.smsru_code;
                        state.received.push(Received {
                            body: serde_json::to_value(&form).unwrap(),
                            delivery: String::new(),
                            signature_ok: false,
                        });
                        let number = if code == 100 {
                            json!({"status": "OK", "status_code": 100, "sms_id": "000000-10000001"})
                        } else {
                            json!({"status": "ERROR", "status_code": code,
                                   "status_text": "На этот номер нельзя отправлять сообщения"})
                        };
                        axum::Json(json!({"status": "OK", "status_code": 100, "sms": {to: number}, "balance": 4122.56}))
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Gateway { base, state }
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

/// Asks the cloud's MoySklad adapter for a registration code: the code it answers.
async fn ask_for_a_code(ms: &MoySklad) -> String {
    let verify = fixture(VERIFY_REGISTRATION, &[("/phone", json!(PHONE))]);
    let answer = ms.post("/counterparty/verify", &verify).await;
    answer.ok(200);
    answer.body["verificationCode"].as_str().map(str::to_owned).expect("the code MoySklad shows the cashier")
}

async fn cloud_with(backend: Backend, env: &[(&str, &str)]) -> (Cloud, MoySklad) {
    let cloud = Cloud::start_with(backend, env).await;
    let (status, body) = cloud.admin_put("/v1/admin/program", json!({ "verify_registration": true })).await;
    assert!(status == 200 || status == 201, "{body}");
    let (ms, _) = cloud_moysklad(&cloud).await;
    (cloud, ms)
}

async fn listed(cloud: &Cloud, status: &str) -> Value {
    eventually(Duration::from_secs(20), "the message to be listed", || async {
        let (_, list) = cloud.admin_get(&format!("/v1/admin/sms?status={status}")).await;
        list["messages"].as_array().filter(|m| !m.is_empty()).map(|m| m[0].clone())
    })
    .await
}

cloud_test!(a_code_reaches_the_webhook_gateway_retried_and_listed, webhook_scenario);
async fn webhook_scenario(backend: Backend) {
    let gateway = Gateway::start(1, 100).await;
    let url = format!("webhook:{}/send", gateway.base);
    let (cloud, ms) =
        cloud_with(backend, &[("LOYALTY_CLOUD_SMS", url.as_str()), ("LOYALTY_CLOUD_SMS_SECRET", SECRET)]).await;
    let code = ask_for_a_code(&ms).await;

    // The first attempt meets a 500; the second, a moment later, is taken — with the same id.
    let received = eventually(Duration::from_secs(20), "two attempts", || async {
        let received = gateway.received();
        (received.len() >= 2).then_some(received)
    })
    .await;
    for attempt in &received {
        assert!(attempt.signature_ok, "signed like the webhooks: {attempt:?}");
        assert_eq!(attempt.body["phone"], PHONE);
        assert!(attempt.body["text"].as_str().unwrap().contains(&code), "{attempt:?}");
        assert_eq!(attempt.body["id"], received[0].body["id"]);
        assert_eq!(attempt.delivery, received[0].body["id"].as_str().unwrap());
    }
    let message = listed(&cloud, "sent").await;
    assert_eq!(message["attempts"], 2, "{message}");
    assert_eq!(message["purpose"], "moysklad_registration");
    assert_eq!(message["phone"], "+7 *** ***-11-22", "{message}");
    let text = message["text"].as_str().unwrap();
    assert!(!text.contains(&code) && text.contains('•'), "the back office never sees the code: {text}");
    let (_, list) = cloud.admin_get("/v1/admin/sms").await;
    assert!(list["gateway"].as_str().unwrap().starts_with("webhook:"), "{list}");
    assert_eq!(received.len(), 2, "sent once it was taken");

    let (status, refused) = cloud.admin_get("/v1/admin/sms?status=lost").await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("invalid_status")), "{refused}");
}

cloud_test!(smsru_is_spoken_to_and_its_refusal_is_listed, smsru_scenario);
async fn smsru_scenario(backend: Backend) {
    let gateway = Gateway::start(0, 207).await;
    let (cloud, ms) =
        cloud_with(backend, &[("LOYALTY_CLOUD_SMS", "smsru:TEST-KEY-1"), ("LOYALTY_CLOUD_SMSRU_URL", &gateway.base)])
            .await;
    let code = ask_for_a_code(&ms).await;
    let message = listed(&cloud, "failed").await;
    assert!(message["last_error"].as_str().unwrap().contains("207"), "SMS.ru's reason is kept: {message}");
    assert_eq!(message["attempts"], 1, "a number SMS.ru refuses is not tried again");
    let received = gateway.received();
    assert_eq!(received.len(), 1);
    let form = &received[0].body;
    assert_eq!(
        (form["api_id"].as_str(), form["to"].as_str(), form["json"].as_str()),
        (Some("TEST-KEY-1"), Some("79011231122"), Some("1"))
    );
    assert!(form["msg"].as_str().unwrap().contains(&code), "{form}");

    // Accepted, it is sent with SMS.ru's id.
    gateway.state.lock().unwrap().smsru_code = 100;
    let verify = fixture(VERIFY_REGISTRATION, &[("/phone", json!("+79011231133"))]);
    ms.post("/counterparty/verify", &verify).await.ok(200);
    let sent = listed(&cloud, "sent").await;
    assert_eq!(sent["gateway_id"], "000000-10000001", "{sent}");
}

/// A standalone till with `[sms] webhook_url` sends its MoySklad codes itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_sends_its_own_codes_through_its_sms_section() {
    let gateway = Gateway::start(0, 100).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("program.toml"), "verify_registration = true\n").expect("program file");
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[sms]\nwebhook_url = \"{}/send\"\nsecret = \"{SECRET}\"\n", gateway.base),
    )
    .expect("config file");
    let agent = Agent::spawn_in(dir.path(), None);
    let ms = MoySklad::new(&agent.base, TOKEN);
    let code = ask_for_a_code(&ms).await;
    let received = eventually(Duration::from_secs(10), "the till's SMS", || async {
        let received = gateway.received();
        (!received.is_empty()).then_some(received)
    })
    .await;
    assert!(received[0].signature_ok);
    assert!(received[0].body["text"].as_str().unwrap().contains(&code));
    assert_eq!(received[0].body["phone"], PHONE);
}
