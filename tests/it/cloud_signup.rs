//! `POST /v1/signup`, the website's registration form, on SQLite and PostgreSQL: a signed-up
//! customer reaches an enrolled till within seconds; a known phone gets the very same answer
//! and changes nothing; limits per address and per phone answer 429 with `Retry-After`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cloud_support::{assert_error, Backend, Cloud};
use crate::cloud_test;
use crate::support::Agent;
use crate::sync_e2e::{enroll, eventually, wait_drained};

/// Posts the form as a browser behind the cloud's (trusted) load balancer at `ip` would.
async fn signup(cloud: &Cloud, ip: &str, body: Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(cloud.url("/v1/signup"))
        .header("X-Forwarded-For", ip)
        .json(&body)
        .send()
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    (status, retry_after, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

cloud_test!(signup_reaches_the_tills_without_revealing_customers, signup_scenario);
async fn signup_scenario(backend: Backend) {
    let env =
        [("LOYALTY_CLOUD_TRUST_FORWARDED_FOR", "true"), ("LOYALTY_CLOUD_SIGNUP_ORIGINS", "https://shop.example.com")];
    let cloud = Cloud::start_with(backend, &env).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &cloud.base, dir.path(), "till-signup").await;
    let agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(10)).await;

    // Someone registers on the website; the till finds them within a few seconds.
    let started = Instant::now();
    let form = json!({ "phone": "8 (999) 700-00-01", "name": "Olga", "email": "olga@example.com",
                       "birthday": "1990-04-01", "consents": { "sms": true, "email": false } });
    let (status, _, accepted) = signup(&cloud, "203.0.113.1", form).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["status"], "received");
    let found = eventually(Duration::from_secs(5), "the signed-up customer at the till", || async {
        let (_, found) = agent.get("/v1/customers/search?q=%2B79997000001").await;
        found["customers"].as_array().and_then(|c| c.first().cloned())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(found["name"], "Olga");
    assert_eq!(found["birthday"], "1990-04-01");
    assert_eq!(found["consents"]["sms"]["granted"], true);
    assert_eq!(found["consents"]["sms"]["source"], "web");
    assert_eq!(found["consents"]["email"]["granted"], false);
    assert!(found["card"].as_str().unwrap().starts_with("2799"), "{found}");

    // The same phone again, from elsewhere, with other data: the same answer, nothing changed.
    let (status, _, again) = signup(
        &cloud,
        "203.0.113.2",
        json!({ "phone": "+79997000001", "name": "Mallory", "consents": { "sms": false } }),
    )
    .await;
    assert_eq!((status, &again), (202, &accepted), "a known phone is answered exactly like a new one");
    let (_, known) = cloud.admin_get("/v1/admin/customers?phone=%2B79997000001").await;
    assert_eq!(known["customers"][0]["name"], "Olga");
    assert_eq!(known["customers"][0]["consents"]["sms"]["granted"], true);
    assert_eq!(known["customers"].as_array().unwrap().len(), 1);

    // An email someone else uses is dropped (not refused: that would reveal it), and listed.
    let (status, _, _) =
        signup(&cloud, "203.0.113.3", json!({ "phone": "+79997000002", "email": "olga@example.com" })).await;
    assert_eq!(status, 202);
    let (_, second) = cloud.admin_get("/v1/admin/customers?phone=%2B79997000002").await;
    assert_eq!(second["customers"][0]["email"], Value::Null);
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=email_taken").await;
    assert_eq!(conflicts["conflicts"].as_array().unwrap().len(), 1, "{conflicts}");

    // Bad input says what is wrong, and nothing about anyone.
    for (body, code) in [
        (json!({ "phone": "12" }), "invalid_phone"),
        (json!({ "phone": "+79997000003", "birthday": "31.12.1990" }), "invalid_birthday"),
        (json!({ "phone": "+79997000003", "card": "123456" }), "invalid_field"),
        (json!({ "name": "No phone" }), "invalid_field"),
    ] {
        let (status, _, answer) = signup(&cloud, "203.0.113.4", body).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some(code)), "{answer}");
    }

    // Five a minute per address: the sixth gets 429 with Retry-After; another address is fine.
    for n in 0..5 {
        let (status, _, answer) = signup(&cloud, "198.51.100.9", json!({ "phone": format!("+7999701000{n}") })).await;
        assert_eq!(status, 202, "{answer}");
    }
    let (status, retry_after, answer) = signup(&cloud, "198.51.100.9", json!({ "phone": "+79997010009" })).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (429, Some("rate_limited")), "{answer}");
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=12).contains(&seconds), "{seconds}");
    assert_eq!(signup(&cloud, "198.51.100.10", json!({ "phone": "+79997010009" })).await.0, 202);

    // Three an hour per phone, whichever address they come from.
    for n in 0..2 {
        assert_eq!(signup(&cloud, &format!("192.0.2.{n}"), json!({ "phone": "+79997010009" })).await.0, 202);
    }
    let (status, retry_after, _) = signup(&cloud, "192.0.2.99", json!({ "phone": "+79997010009" })).await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some());

    // The shop's pages may call the form from a browser (CORS); other origins may not.
    for (origin, allowed) in [("https://shop.example.com", true), ("https://evil.example.net", false)] {
        let preflight = reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, cloud.url("/v1/signup"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .await
            .unwrap();
        let header = preflight.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok());
        assert_eq!(header, allowed.then_some(origin), "{origin}");
    }
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, cloud.url("/v1/admin/customers"))
        .header("Origin", "https://shop.example.com")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none(), "the admin API is never open to a site");
}

cloud_test!(odd_input_is_a_4xx_never_a_5xx, odd_input_scenario);
/// The public form and the webhook admin API with bodies of every wrong kind: each gets a
/// clear 4xx, the process neither panics nor answers 5xx.
async fn odd_input_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, &[("LOYALTY_CLOUD_TRUST_FORWARDED_FOR", "1")]).await;
    let long = "9".repeat(100_000);
    let bodies = [
        json!(null),
        json!([]),
        json!("phone"),
        json!({ "phone": 79991234567u64 }),
        json!({ "phone": null }),
        json!({ "phone": long }),
        json!({ "phone": "+7 999 123\u{0}45 67" }),
        json!({ "phone": "\u{202e}+79991234567" }),
        json!({ "phone": "+79991234567", "name": "x".repeat(500) }),
        json!({ "phone": "+79991234567", "name": "bell\u{7}" }),
        json!({ "phone": "+79991234567", "email": "@" }),
        json!({ "phone": "+79991234567", "birthday": "2024-02-30" }),
        json!({ "phone": "+79991234567", "consents": { "sms": "yes" } }),
        json!({ "phone": "+79991234567", "consents": { "push": true } }),
    ];
    for (n, body) in bodies.iter().enumerate() {
        let (status, _, answer) = signup(&cloud, &format!("192.0.2.{n}"), body.clone()).await;
        assert!((400..500).contains(&status), "{body}: {status} {answer}");
        assert!(answer["error"]["code"].is_string(), "{answer}");
    }
    let raw = reqwest::Client::new();
    let too_big = raw
        .post(cloud.url("/v1/signup"))
        .header("Content-Type", "application/json")
        .body(format!("{{\"phone\": \"{}\"}}", "1".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status().as_u16(), 413);
    let form = raw.post(cloud.url("/v1/signup")).body("phone=%2B79991234567").send().await.unwrap();
    assert_eq!(form.status().as_u16(), 415, "a plain HTML form post is not JSON");

    for body in [
        json!({ "url": long, "events": ["customer_created"] }),
        json!({ "url": "https://example.com/", "events": "customer_created" }),
        json!({ "url": "https://example.com/", "events": [null] }),
        json!({ "url": "https://example.com/", "events": ["customer_created"], "secret": "mine" }),
        json!({ "url": "http://[::1", "events": ["customer_created"] }),
    ] {
        let (status, answer) = cloud.admin_post("/v1/admin/webhooks", body.clone()).await;
        assert!((400..500).contains(&status), "{body}: {status} {answer}");
    }
    // A NUL character, which PostgreSQL cannot hold: a 4xx, and a till event holding one is
    // rejected (the queue moves on) rather than failing the push for ever.
    assert_error(&cloud.admin_get("/v1/admin/customers/a%00b").await, 422, "invalid_text");
    let till = cloud.till("Till 1").await;
    let nul = crate::cloud_support::sale(1, "r-1", "a\u{0}b", 1000, 0, 1);
    let answer = cloud.push_expect(&till, vec![nul], &["rejected"]).await;
    assert_eq!(answer["results"][0]["code"], "invalid_payload");
    for path in [
        "/v1/admin/webhooks/%00/deliveries",
        "/v1/admin/webhooks/x/deliveries?limit=-5",
        "/v1/admin/webhooks/x/deliveries?limit=99999999999999999999",
        "/v1/admin/webhooks/x/deliveries?status=%F0%9F%92%A9",
    ] {
        let (status, answer) = cloud.admin_get(path).await;
        assert!((400..500).contains(&status), "{path}: {status} {answer}");
    }
}
