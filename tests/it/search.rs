//! Customer search and enrollment rules: formats, last digits, emails, duplicates, cards.

use std::time::Duration;

use serde_json::json;

use crate::support::{assert_error, Agent};

#[tokio::test]
async fn search_by_every_identifier() {
    let agent = Agent::start().await;
    let ivan = agent.enroll("+7 999 111-22-33", "Ivan").await;
    let (status, olga) = agent
        .post(
            "/v1/customers",
            json!({ "phone": "89992223333", "name": "Olga", "email": "Olga@Example.COM", "card": "1234 5678 9012" }),
        )
        .await;
    assert_eq!(status, 201, "{olga}");
    assert_eq!(olga["card"], "123456789012");
    assert_eq!(olga["email"], "olga@example.com");

    let cases = [
        ("olga@example.com", "email", &olga),
        ("OLGA@example.com", "email", &olga),
        ("123456789012", "card", &olga),
        ("1234 5678 9012", "card", &olga),
        ("+79991112233", "phone", &ivan),
        ("8 (999) 111-22-33", "phone", &ivan),
        ("2233", "phone_suffix", &ivan),
    ];
    for (query, matched_by, who) in cases {
        let (status, found) =
            agent.get(&format!("/v1/customers/search?q={}", query.replace(' ', "%20").replace('+', "%2B"))).await;
        assert_eq!(status, 200);
        assert_eq!(found["matched_by"], matched_by, "{query}: {found}");
        assert_eq!(found["customers"][0]["id"], who["id"], "{query}");
    }
    // The QR text of a card finds its owner.
    let card = ivan["card"].as_str().unwrap();
    let (_, found) = agent.get(&format!("/v1/customers/search?q=loyalty:card:{card}")).await;
    assert_eq!(found["customers"][0]["id"], ivan["id"], "{found}");
    assert_eq!(found["matched_by"], "qr");

    // A Saint Petersburg landline (+7 812 …): the trunk 8 and the area code's 8 are different.
    let spb = agent.enroll("8 (812) 123-45-67", "Petersburg").await;
    assert_eq!(spb["phone"], "+78121234567");
    let (_, found) = agent.get("/v1/customers/search?q=%2B7%20812%20123%2045%2067").await;
    assert_eq!(found["customers"][0]["id"], spb["id"], "{found}");

    // Last digits shared by several customers: a list.
    agent.enroll("+79993332233", "Third").await;
    let (_, several) = agent.get("/v1/customers/search?q=2233").await;
    assert_eq!(several["customers"].as_array().unwrap().len(), 2, "{several}");

    // Unknown: an empty list, not an error.
    for query in ["+79990000000", "0000", "nobody@example.com", "zzz"] {
        let (status, none) = agent.get(&format!("/v1/customers/search?q={}", query.replace('+', "%2B"))).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(none["customers"], json!([]), "{query}");
        assert_eq!(none["matched_by"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn enrollment_rules() {
    let agent = Agent::start_with_program("welcome_points = 50\n").await;
    let (status, first) = agent
        .post(
            "/v1/customers",
            json!({ "phone": "+79994445566", "name": "First", "consents": { "sms": true, "email": false } }),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let card = first["card"].as_str().unwrap();
    assert!(card.starts_with("2700") && card.len() == 13, "prefix + 8 digits + check digit: {card}");
    assert!(luhn_ok(card), "{card}");
    assert_eq!(first["points"]["balance"], 50, "welcome points");
    assert_eq!(first["consents"]["sms"]["granted"], true);
    assert_eq!(first["consents"]["sms"]["source"], "till");
    assert!(first["consents"]["sms"]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["consents"]["email"]["granted"], false);

    // The same phone in another format is a duplicate naming the customer.
    let duplicate = agent.post("/v1/customers", json!({ "phone": "8 999 444 55 66", "name": "Second" })).await;
    assert_error(&duplicate, 409, "phone_taken");
    assert_eq!(duplicate.1["error"]["details"]["customer"], first["id"], "{}", duplicate.1);
    assert!(duplicate.1["error"]["message"].as_str().unwrap().contains(first["card"].as_str().unwrap()));
    let taken_card = agent.post("/v1/customers", json!({ "phone": "+79994445567", "card": card })).await;
    assert_error(&taken_card, 409, "card_taken");

    assert_error(&agent.post("/v1/customers", json!({ "name": "No phone" })).await, 422, "invalid_field");
    assert_error(&agent.post("/v1/customers", json!({ "phone": "123" })).await, 422, "invalid_phone");
    assert_error(
        &agent.post("/v1/customers", json!({ "phone": "+79994445599", "birthday": "31.12.1990" })).await,
        422,
        "invalid_birthday",
    );
    assert_error(
        &agent.post("/v1/customers", json!({ "phone": "+79994445599", "email": "not-an-email" })).await,
        422,
        "invalid_email",
    );

    // Cards are assigned in sequence and never collide.
    let second = agent.enroll("+79994445577", "Another").await;
    assert_ne!(second["card"], first["card"]);

    // Edit personal data; an opt-out is recorded with its time.
    let id = first["id"].as_str().unwrap();
    let (status, edited) = agent
        .patch(
            &format!("/v1/customers/{id}"),
            json!({ "name": "First Renamed", "email": "first@example.com", "consents": { "sms": false } }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["name"], "First Renamed");
    assert_eq!(edited["consents"]["sms"]["granted"], false);
    assert_eq!(edited["consents"]["email"]["granted"], false, "untouched consent stays");
    let (_, cleared) = agent.patch(&format!("/v1/customers/{id}"), json!({ "email": null })).await;
    assert_eq!(cleared["email"], serde_json::Value::Null);
    assert_error(
        &agent.patch(&format!("/v1/customers/{id}"), json!({ "phone": "+79994445577" })).await,
        409,
        "phone_taken",
    );
    assert_error(&agent.get("/v1/customers/no-such-id").await, 404, "customer_not_found");
}

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Issue 9, point 7: the first lookup after a start — the phone rules untouched in this
/// process, no read connection opened yet — finds the customer in every spelling, and so do the
/// card and last-digits searches right after it.
#[tokio::test]
async fn first_lookup_after_start_finds_the_customer() {
    let mut agent = Agent::start().await;
    let ivan = agent.enroll("+7 999 610-20-30", "Ivan").await;
    for query in ["8%20999%20610%2020%2030", "%2B79996102030", "9996102030"] {
        agent.restart();
        let (status, found) = agent.get(&format!("/v1/customers/search?q={query}")).await;
        assert_eq!(status, 200, "the first search after a start ({query}): {found}");
        assert_eq!(found["matched_by"], "phone", "{query}: {found}");
        assert_eq!(found["customers"][0]["id"], ivan["id"], "{query}: {found}");
    }
    let card = ivan["card"].as_str().expect("a card number");
    let (_, by_card) = agent.get(&format!("/v1/customers/search?q={card}")).await;
    assert_eq!(by_card["customers"][0]["id"], ivan["id"], "{by_card}");
    let (_, by_suffix) = agent.get("/v1/customers/search?q=2030").await;
    assert_eq!(by_suffix["matched_by"], "phone_suffix", "{by_suffix}");
    assert_eq!(by_suffix["customers"][0]["id"], ivan["id"], "{by_suffix}");
}

/// Issue 9, point 7: the warm-up happens before the agent listens. Its log line is written
/// (to stderr, unbuffered) before `agent started`, which follows the listening line; the agent
/// is killed only once that line was read, so both are in the captured stderr.
#[test]
fn warm_up_runs_before_the_listener_accepts() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(crate::support::agent_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--no-tray", "--data-dir"])
        .arg(dir.path())
        .env("LOYALTY_AGENT_TOKEN", crate::support::TOKEN)
        .env("LOYALTY_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loyalty-agent");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the listening line");
    assert!(line.starts_with("loyalty-agent listening on http://"), "{line:?}");
    // `agent started` is logged right after the listening line; give it a moment, then stop.
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut log).expect("the agent's log");
    let warm = log.find("warm-up done").unwrap_or_else(|| panic!("no warm-up line in the log:\n{log}"));
    let started = log.find("agent started").unwrap_or_else(|| panic!("no start line in the log:\n{log}"));
    assert!(warm < started, "the warm-up must finish before the agent listens:\n{log}");
    let warm_line = log[warm..].lines().next().unwrap_or_default();
    assert!(warm_line.contains("readers=4"), "every pooled reader is primed: {warm_line}");
    assert!(!warm_line.contains("phone_examples=0"), "the default region's phone rules are warmed: {warm_line}");
}
