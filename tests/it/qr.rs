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
