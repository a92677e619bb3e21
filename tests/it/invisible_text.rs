//! Issue 9 point 10: names, emails and tags carrying invisible format characters (a
//! right-to-left override that makes a name read backwards, a zero-width space that makes two
//! equal-looking names differ) are refused with a 422 everywhere a customer is written — the
//! till (enrol, edit), the cloud's admin API and the public sign-up form — by one shared check
//! (`identity::fields`), so the two ledgers accept the same customers.

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::support::Agent;

const SNEAKY: [&str; 4] = ["Ivan \u{202E}vorteP", "Iv\u{200B}an", "\u{FEFF}Ivan", "Ivan\u{2066} Petrov"];

fn assert_invisible_refused(status: u16, answer: &Value, field: &str) {
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "invisible_characters", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(field) && message.contains("type it again"), "{message}");
}

#[tokio::test]
async fn the_till_refuses_invisible_characters_in_names_emails_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::spawn_in(dir.path(), None);
    for (n, name) in SNEAKY.iter().enumerate() {
        let (status, answer) =
            agent.post("/v1/customers", json!({ "phone": format!("+7999704000{n}"), "name": name })).await;
        assert_invisible_refused(status, &answer, "name");
    }
    let (status, answer) =
        agent.post("/v1/customers", json!({ "phone": "+79997040010", "email": "ivan\u{200B}@example.com" })).await;
    assert_invisible_refused(status, &answer, "email");

    // An honest customer enrols; edits with hidden characters are refused and change nothing.
    let (status, customer) =
        agent.post("/v1/customers", json!({ "phone": "+79997040011", "name": "Иван Петров" })).await;
    assert_eq!(status, 201, "{customer}");
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let (status, answer) = agent.patch(&path, json!({ "name": "Иван\u{202E} Петров" })).await;
    assert_invisible_refused(status, &answer, "name");
    let (status, answer) = agent.patch(&path, json!({ "tags": ["vip\u{200D}"] })).await;
    assert_invisible_refused(status, &answer, "tag");
    let (_, unchanged) = agent.get(&path).await;
    assert_eq!(unchanged["name"], "Иван Петров", "{unchanged}");
    assert_eq!(unchanged["tags"], json!([]), "{unchanged}");
}

cloud_test!(the_cloud_refuses_invisible_characters_in_names_and_emails, cloud_scenario);
async fn cloud_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    for (n, name) in SNEAKY.iter().enumerate() {
        let (status, answer) =
            cloud.admin_post("/v1/admin/customers", json!({ "phone": format!("+7999705000{n}"), "name": name })).await;
        assert_invisible_refused(status, &answer, "name");
    }
    let customer = cloud.customer("+79997050010").await;
    let path = format!("/v1/admin/customers/{}", customer["id"].as_str().unwrap());
    let (status, answer) = cloud.admin_patch(&path, json!({ "email": "a\u{2060}b@example.com" })).await;
    assert_invisible_refused(status, &answer, "email");

    // The website's form: refused with the same code, in Russian for a Russian page.
    let response = reqwest::Client::new()
        .post(cloud.url("/v1/signup"))
        .header("Accept-Language", "ru")
        .json(&json!({ "phone": "+79997050020", "name": "Ivan \u{202E}vorteP" }))
        .send()
        .await
        .expect("HTTP request");
    assert_eq!(response.status().as_u16(), 422);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "invisible_characters", "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap_or_default().starts_with("Имя: есть невидимые"), "{answer}");
}
