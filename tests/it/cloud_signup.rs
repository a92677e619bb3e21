//! `POST /v1/signup`, the website's registration form, on SQLite and PostgreSQL: a signed-up
//! customer reaches an enrolled till within seconds; a known phone gets the very same answer
//! and changes nothing; limits per address and per phone answer 429 with `Retry-After`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cloud_support::{assert_error, Backend, Cloud};
use crate::cloud_test;
use crate::support::Agent;
use crate::sync_e2e::{enroll, eventually, wait_drained};
use crate::webdriver::{self, Browser};

/// Posts the form as a browser behind the cloud's (trusted) load balancer at `ip` would.
/// The form's consent to the processing of personal data is ticked unless `body` says
/// otherwise about it.
async fn signup(cloud: &Cloud, ip: &str, mut body: Value) -> (u16, Option<String>, Value) {
    if let Some(fields) = body.as_object_mut() {
        let consents = fields.entry("consents").or_insert_with(|| json!({}));
        if let Some(consents) = consents.as_object_mut() {
            consents.entry("personal_data").or_insert(Value::Bool(true));
        }
    }
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
    assert_eq!(found["consents"]["personal_data"]["granted"], true, "the 152-ФЗ consent is kept with the customer");
    assert_eq!(found["consents"]["personal_data"]["source"], "web");
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
    for (n, (body, code)) in [
        (json!({ "phone": "12" }), "invalid_phone"),
        (json!({ "phone": "+79997000003", "birthday": "31.12.1990" }), "invalid_birthday"),
        (json!({ "phone": "+79997000003", "card": "123456" }), "invalid_field"),
        (json!({ "name": "No phone" }), "invalid_field"),
        (json!({ "phone": "+79997000003", "consents": { "personal_data": false } }), "personal_data_consent_required"),
        (json!({ "phone": "+79997000003", "consents": { "personal_data": null } }), "personal_data_consent_required"),
    ]
    .into_iter()
    .enumerate()
    {
        // An address each: five a minute per address is the rate limit tested below.
        let (status, _, answer) = signup(&cloud, &format!("203.0.113.{}", 40 + n), body).await;
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

cloud_test!(a_receipts_signup_qr_opens_the_clouds_page, signup_page_scenario);
/// An enrolled till prints a sign-up QR code; a phone follows it to the cloud's page, which is
/// a strict-CSP HTML form whose script posts JSON to `/v1/signup`, carrying the store.
async fn signup_page_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, &[("LOYALTY_CLOUD_TRUST_FORWARDED_FOR", "true")]).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &cloud.base, dir.path(), "till-qr").await;
    let agent = Agent::spawn_in(dir.path(), None);

    // By default the code names the till's own store (created as "Main street").
    let link = crate::qr::signup_qr_text(&agent, "").await;
    assert_eq!(link, format!("{}/signup?store=Main%20street", cloud.base));
    assert_eq!(
        crate::qr::signup_qr_text(&agent, "?store=Kiosk%202").await,
        format!("{}/signup?store=Kiosk%202", cloud.base)
    );

    let client = reqwest::Client::new();
    let page = client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    let csp = header(&page, "content-security-policy");
    for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains('*'), "{csp}");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let html = page.text().await.unwrap();
    for needle in [
        r#"<form id="signup""#,
        r#"name="phone" type="tel""#,
        r#"name="sms" type="checkbox""#,
        r#"name="email_consent" type="checkbox""#,
        r#"<script src="/signup.js" defer></script>"#,
        r#"<link rel="stylesheet" href="/signup.css">"#,
        "Телефон",
        r#"data-en="Phone""#,
    ] {
        assert!(html.contains(needle), "the page lacks {needle}");
    }
    // No inline script or style: the CSP would block them.
    assert_eq!(html.matches("<script").count(), 1, "only the external script");
    assert!(!html.contains(" style=") && !html.contains("<style"), "no inline style");
    let handler = html.split(" on").skip(1).any(|rest| {
        let name = rest.trim_start_matches(|c: char| c.is_ascii_lowercase());
        name.len() < rest.len() && name.starts_with('=')
    });
    assert!(!handler, "no inline event handlers");
    assert!(!html.contains("Main street"), "the server never writes the store into the markup");

    for (path, content_type, needle) in [
        ("/signup.js", "text/javascript; charset=utf-8", "fetch('/v1/signup'"),
        ("/signup.css", "text/css; charset=utf-8", "max-width"),
    ] {
        let file = client.get(cloud.url(path)).send().await.unwrap();
        assert_eq!((file.status().as_u16(), header(&file, "content-type")), (200, content_type.to_owned()), "{path}");
        assert!(header(&file, "content-security-policy").contains("frame-ancestors 'none'"), "{path}");
        assert!(file.text().await.unwrap().contains(needle), "{path}");
    }

    // The JSON the page's script sends, store included: accepted, and the store is logged.
    let form = json!({ "phone": "+7 999 700-55-01", "name": "Anna", "consents": { "sms": true, "email": false },
                       "store": "Main street" });
    let (status, _, answer) = signup(&cloud, "203.0.113.50", form).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["message"], "Thank you! Your loyalty card is on its way.");
    let stores = cloud.sql_texts("SELECT store FROM signups WHERE phone = '+79997005501'");
    assert_eq!(stores, [Some("Main street".to_owned())]);
    let (status, _, _) = signup(&cloud, "203.0.113.51", json!({ "phone": "+79997005502" })).await;
    assert_eq!(status, 202, "a body without a store is still accepted");
    assert_eq!(cloud.sql_texts("SELECT store FROM signups WHERE phone = '+79997005502'"), [None]);
    let (status, _, refused) =
        signup(&cloud, "203.0.113.52", json!({ "phone": "+79997005503", "store": "<b>x</b>" })).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("invalid_store")), "{refused}");
}

/// The page for real: a browser opens the link from a receipt, the script (allowed by the CSP)
/// shows the store, and a filled-in form reaches the cloud with its consents and store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_signs_up_on_the_page_in_a_real_browser() {
    if webdriver::available().is_none() {
        return;
    }
    let browser = Browser::start("signup_page", "en-US").await;
    let env = [
        ("LOYALTY_CLOUD_PERSONAL_DATA_OPERATOR", "ООО «Ромашка», ИНН 7700000000"),
        ("LOYALTY_CLOUD_PRIVACY_POLICY_URL", "https://shop.example.com/privacy"),
    ];
    let cloud = Cloud::start_with(Backend::Sqlite, &env).await;
    browser.goto(&cloud.url("/signup?store=Main%20street%205")).await;
    assert_eq!(browser.text_of("h1").await, "Loyalty card", "the script switched the page to English");
    assert_eq!(browser.text_of("#store-name").await, "Main street 5");
    // 152-ФЗ: the consent names the operator and links the policy (the cloud's settings).
    let operator = browser.wait_text("#operator-line", "the operator", |t| !t.is_empty()).await;
    assert_eq!(operator, "Operator: ООО «Ромашка», ИНН 7700000000.");
    assert_eq!(
        browser.execute("return document.getElementById('policy-link').href;", vec![]).await,
        "https://shop.example.com/privacy"
    );
    assert_eq!(browser.text_of("#policy-link").await, "Privacy policy");

    // Without the personal-data consent nothing is sent.
    browser.send_keys(&browser.find("#phone").await, "8 999 700-66-01").await;
    browser.click_css("#submit").await;
    let said = browser.wait_text("#answer", "the page's answer", |t| !t.is_empty()).await;
    assert!(said.contains("personal data"), "{said}");
    assert!(cloud.sql_texts("SELECT store FROM signups").is_empty());

    browser.send_keys(&browser.find("#name").await, "Vera").await;
    browser.click_css("#consent-sms").await;
    browser.click_css("#consent-data").await;
    browser.screenshot("filled").await;
    browser.click_css("#submit").await;
    let said = browser.wait_text("#answer", "the cloud's answer on the page", |t| t.contains("Thank you")).await;
    assert_eq!(said, "Thank you! Your loyalty card is on its way.");
    // The answer offers the self-service page.
    let link = browser.wait_text("#me-link", "the self-service link", |t| !t.is_empty()).await;
    assert!(link.contains("My card"), "{link}");
    let href = browser.execute("return document.querySelector('#me-link a').getAttribute('href');", vec![]).await;
    assert_eq!(href, "/me");
    // The form is gone (not just marked hidden under a CSS rule), the answer is in view, and
    // the button cannot send the form again.
    let shown = browser
        .execute(
            "const form = document.getElementById('signup'); const answer = document.getElementById('answer').getBoundingClientRect();
             return [getComputedStyle(form).display, answer.top >= 0 && answer.bottom <= window.innerHeight,
                     document.getElementById('submit').disabled];",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(["none", true, true]), "form display, answer in view, button disabled");
    browser.screenshot("accepted").await;
    assert_eq!(
        cloud.sql_texts("SELECT store FROM signups WHERE phone = '+79997006601'"),
        [Some("Main street 5".into())]
    );
    let (_, found) = cloud.admin_get("/v1/admin/customers?phone=%2B79997006601").await;
    assert_eq!(found["customers"][0]["name"], "Vera");
    assert_eq!(found["customers"][0]["consents"]["sms"]["granted"], true);
    assert_eq!(found["customers"][0]["consents"]["email"]["granted"], false);
    assert_eq!(found["customers"][0]["consents"]["personal_data"]["granted"], true);
    assert_eq!(found["customers"][0]["consents"]["personal_data"]["source"], "web");

    // The notice is public JSON, and empty when nothing is configured.
    let notice: Value = reqwest::get(cloud.url("/v1/signup/notice")).await.unwrap().json().await.unwrap();
    assert_eq!(
        notice,
        json!({ "operator": "ООО «Ромашка», ИНН 7700000000", "policy_url": "https://shop.example.com/privacy" })
    );
    let bare = Cloud::start(Backend::Sqlite).await;
    let notice: Value = reqwest::get(bare.url("/v1/signup/notice")).await.unwrap().json().await.unwrap();
    assert_eq!(notice, json!({ "operator": null, "policy_url": null }));
}

cloud_test!(one_address_cannot_close_the_form_for_everyone, one_address_scenario);
/// Issue 9 point 5: refusals for one address must not spend the budget every address shares.
async fn one_address_scenario(backend: Backend) {
    let env = [("LOYALTY_CLOUD_TRUST_FORWARDED_FOR", "true"), ("LOYALTY_CLOUD_SIGNUP_PER_MINUTE", "20")];
    let cloud = Cloud::start_with(backend, &env).await;
    let mut refused = 0;
    let started = Instant::now();
    for n in 0..400 {
        let (status, _, answer) = signup(&cloud, "198.51.100.50", json!({ "phone": format!("+7999702{n:04}") })).await;
        match status {
            202 => {}
            429 => {
                assert_eq!(answer["error"]["code"], "rate_limited", "{answer}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {answer}"),
        }
    }
    // Five at once, then one more every 12 s while the loop runs (slow on a loaded machine).
    let refilled = started.elapsed().as_secs() / 12;
    assert!((395 - refilled..=395).contains(&refused), "five a minute from one address, the rest refused: {refused}");
    // Every other address still signs up: the 395 refusals spent none of the 20 a minute.
    for n in 0..12 {
        let (status, _, answer) =
            signup(&cloud, &format!("203.0.113.{n}"), json!({ "phone": format!("+7999703{n:04}") })).await;
        assert_eq!(status, 202, "address {n}: {answer}");
    }
}

cloud_test!(wrong_enrolment_codes_are_throttled_per_address, wrong_codes_scenario);
async fn wrong_codes_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, &[("LOYALTY_CLOUD_TRUST_FORWARDED_FOR", "true")]).await;
    let (_, code) = cloud.create_till("Till 1").await;
    let enroll = |ip: &'static str, code: String| {
        let url = cloud.url("/v1/enroll");
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("X-Forwarded-For", ip)
                .json(&json!({ "code": code }))
                .send()
                .await
                .expect("HTTP request");
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            (status, retry_after, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for _ in 0..10 {
        let (status, _, answer) = enroll("198.51.100.77", "ABCDEFGHJK".into()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("enrollment_code_invalid")), "{answer}");
    }
    // The eleventh wrong code is refused before it is looked at, and so is a right one from
    // that address until the wait is over: guessing stops there.
    for attempt in ["ABCDEFGHJK".to_owned(), code.clone()] {
        let (status, retry_after, answer) = enroll("198.51.100.77", attempt).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (429, Some("enrollment_throttled")), "{answer}");
        let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&seconds), "{seconds}");
    }
    // Another address is not slowed down, and right codes are never charged.
    let (status, _, answer) = enroll("203.0.113.77", code).await;
    assert_eq!(status, 200, "{answer}");
    for n in 0..12 {
        let (_, fresh) = cloud.create_till(&format!("Till {}", n + 2)).await;
        assert_eq!(enroll("203.0.113.78", fresh).await.0, 200, "till {n}");
    }
}
