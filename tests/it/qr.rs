//! QR codes: a card's QR as SVG and PNG, and decoding it back from an uploaded image.

use crate::support::{assert_error, Agent, TOKEN};

#[tokio::test]
async fn card_qr_round_trip() {
    let agent = Agent::start().await;
    let customer = agent.enroll("+79996660011", "Scanner").await;
    let id = customer["id"].as_str().unwrap();
    let card = customer["card"].as_str().unwrap();

    let svg =
        agent.client().get(agent.url(&format!("/v1/customers/{id}/qr.svg"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    let png =
        agent.client().get(agent.url(&format!("/v1/customers/{id}/qr.png"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap().to_vec();
    assert_eq!(&bytes[..4], b"\x89PNG");

    // The webcam path: upload the image, get the text, find the customer with it.
    let (status, decoded) = agent.post_raw("/v1/qr/decode", Some("image/png"), bytes).await;
    assert_eq!(status, 200, "{decoded}");
    assert_eq!(decoded["card"], card);
    let text = decoded["text"].as_str().unwrap();
    let (_, found) = agent.get(&format!("/v1/customers/search?q={text}")).await;
    assert_eq!(found["customers"][0]["id"], id);

    assert_error(&agent.get("/v1/customers/nobody/qr.svg").await, 404, "customer_not_found");
}

#[tokio::test]
async fn decode_rejects_what_is_not_a_qr_image() {
    let agent = Agent::start().await;
    assert_error(
        &agent.post_raw("/v1/qr/decode", Some("image/png"), b"definitely not a png".to_vec()).await,
        422,
        "not_an_image",
    );
    assert_error(&agent.post_raw("/v1/qr/decode", Some("image/png"), Vec::new()).await, 400, "empty_body");
    assert_error(
        &agent.post_raw("/v1/qr/decode", Some("application/json"), b"{}".to_vec()).await,
        415,
        "unsupported_media_type",
    );
    // A valid PNG with no QR code in it.
    let blank = image::GrayImage::from_pixel(64, 64, image::Luma([255u8]));
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(blank)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    assert_error(&agent.post_raw("/v1/qr/decode", Some("image/png"), png).await, 422, "no_qr_found");
}

/// The sign-up QR code as a till gets it: the PNG, decoded back to its text by the agent.
pub async fn signup_qr_text(agent: &Agent, query: &str) -> String {
    let png =
        agent.client().get(agent.url(&format!("/v1/signup-qr.png{query}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(png.status(), 200, "{query}");
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap().to_vec();
    let (status, decoded) = agent.post_raw("/v1/qr/decode", Some("image/png"), bytes).await;
    assert_eq!(status, 200, "{decoded}");
    assert_eq!(decoded["card"], serde_json::Value::Null, "a sign-up link is not a card: {decoded}");
    decoded["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_standalone_agent_without_a_signup_page_says_what_to_set() {
    let agent = Agent::start().await;
    for path in ["/v1/signup-qr.svg", "/v1/signup-qr.png?store=Main"] {
        let answer = agent.get(path).await;
        assert_error(&answer, 409, "signup_not_configured");
        let message = answer.1["error"]["message"].as_str().unwrap();
        assert!(message.contains("signup_url") && message.contains("enroll"), "{message}");
    }
    // Like every endpoint but health, it needs the token.
    let anonymous = agent.client().get(agent.url("/v1/signup-qr.svg")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn the_signup_qr_holds_the_configured_page_and_the_store() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("program.toml"), "").unwrap();
    std::fs::write(temp.path().join("config.toml"), "signup_url = \"https://shop.example.com/loyalty/\"\n").unwrap();
    let agent = Agent::spawn_in(temp.path(), None);

    assert_eq!(signup_qr_text(&agent, "").await, "https://shop.example.com/loyalty/signup");
    assert_eq!(
        signup_qr_text(&agent, "?store=Main%20street%205").await,
        "https://shop.example.com/loyalty/signup?store=Main%20street%205"
    );
    assert_eq!(
        signup_qr_text(&agent, "?store=%D0%A2%D0%A6%20%C2%AB%D0%95%D0%B2%D1%80%D0%BE%D0%BF%D0%B0%C2%BB").await,
        "https://shop.example.com/loyalty/signup?store=%D0%A2%D0%A6%20%C2%AB%D0%95%D0%B2%D1%80%D0%BE%D0%BF%D0%B0%C2%BB"
    );
    let svg = agent.client().get(agent.url("/v1/signup-qr.svg?store=North")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!((svg.status().as_u16(), svg.headers()["content-type"].to_str().unwrap()), (200, "image/svg+xml"));
    assert!(svg.text().await.unwrap().contains("<svg"));

    // Junk in the store: a clear 422, never a code that would print nonsense on receipts.
    let long = "x".repeat(65);
    for store in ["%3Cscript%3E", "a%0Ab", "%20lead", "two%20%20spaces", "a%3Bb", long.as_str()] {
        assert_error(&agent.get(&format!("/v1/signup-qr.svg?store={store}")).await, 422, "invalid_store");
    }
}

#[tokio::test]
async fn a_signup_url_that_is_not_an_address_stops_the_agent_at_start() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("config.toml"), "signup_url = \"shop.example.com?x=1\"\n").unwrap();
    let output = std::process::Command::new(crate::support::agent_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--no-tray", "--data-dir"])
        .arg(temp.path())
        .env("LOYALTY_AGENT_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("signup_url must be an http(s) address"), "{said}");
}
