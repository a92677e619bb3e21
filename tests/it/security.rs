//! CONTRACTS.md §security: Host allow-list, token, Origin, CORS, body size.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::json;

use crate::support::{Agent, TOKEN};

/// Sends a raw HTTP/1.1 request (so the Host header is exactly what we say) and returns the
/// status and body.
fn raw(agent: &Agent, request: &str) -> (u16, String) {
    let addr = agent.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn foreign_host_header_is_refused_everywhere() {
    let agent = Agent::start().await;
    let port = agent.base.rsplit(':').next().unwrap().to_owned();
    for path in ["/v1/health", "/v1/customers/search?q=1234", "/openapi.json"] {
        let (status, body) = raw(
            &agent,
            &format!("GET {path} HTTP/1.1\r\nHost: evil.example:{port}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("forbidden_host"), "{body}");
    }
    let (status, _) =
        raw(&agent, &format!("GET /v1/health HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200, "localhost with our port is fine");
    let (status, _) = raw(&agent, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 403, "another port is a rebinding attempt");
}

#[tokio::test]
async fn token_is_required_and_checked() {
    let agent = Agent::start().await;
    let client = agent.client();
    let health = client.get(agent.url("/v1/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "health needs no token");

    let missing = client.get(agent.url("/v1/customers/search?q=1234")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let wrong = client.get(agent.url("/v1/customers/search?q=1234")).bearer_auth("not-the-token").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let in_query = client.get(agent.url(&format!("/v1/customers/search?q=1234&token={TOKEN}"))).send().await.unwrap();
    assert_eq!(in_query.status(), 401, "a token in the query string is never accepted");
    let commit = client
        .post(agent.url("/v1/receipts"))
        .json(&json!({ "id": "x", "lines": [{ "sku": "a", "quantity": 1, "price": 1 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(commit.status(), 401);
    let openapi = client.get(agent.url("/openapi.json")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(openapi.status(), 200);
}

#[tokio::test]
async fn foreign_origin_cannot_change_state_or_read() {
    let agent = Agent::start().await;
    let client = agent.client();
    let forged = client
        .post(agent.url("/v1/customers"))
        .bearer_auth(TOKEN)
        .header("origin", "http://evil.example")
        .json(&json!({ "phone": "+79990001122" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let body: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden_origin");

    // Preflight from a foreign origin gets no CORS permission.
    let preflight = client
        .request(reqwest::Method::OPTIONS, agent.url("/v1/customers"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    let read = client.get(agent.url("/v1/health")).header("origin", "http://evil.example").send().await.unwrap();
    assert!(read.headers().get("access-control-allow-origin").is_none(), "never a permissive CORS header");

    // Our own origin (the cashier page) is fine.
    let own = client
        .post(agent.url("/v1/customers"))
        .bearer_auth(TOKEN)
        .header("origin", agent.base.clone())
        .json(&json!({ "phone": "+79990001122" }))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let agent = Agent::start().await;
    // A raw client, because a well-behaved server answers 413 without reading a 5 MB body and a
    // high-level client may see the connection close while it is still sending.
    let port = agent.base.rsplit(':').next().unwrap().to_owned();
    for (path, content_type) in [("/v1/receipts/calculate", "application/json"), ("/v1/qr/decode", "image/png")] {
        let mut stream = TcpStream::connect(agent.base.trim_start_matches("http://")).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            5 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&vec![b' '; 64 * 1024]).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains("body_too_large"), "{path}: {answer}");
    }
    // Under the limit is fine.
    let (status, _) = agent.post_raw("/v1/receipts/calculate", Some("application/json"), vec![b' '; 1024]).await;
    assert_eq!(status, 400, "blank JSON is an empty body, not too large");
}
