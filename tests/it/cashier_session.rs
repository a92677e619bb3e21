//! The cashier page's sign-in at the HTTP level (CONTRACTS.md §security): launch codes are single use and
//! expire, the session is an HttpOnly SameSite=Strict cookie that only works together with its
//! CSRF header, and a page from another origin can neither read nor change anything. Also the
//! page's own security headers and `loyalty-agent open`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};

use crate::support::{agent_binary, Agent, TOKEN};

/// A client that shows redirects instead of following them, and keeps no cookies.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn new_code(agent: &Agent) -> Value {
    let (status, body) = agent.post("/v1/launch-codes", json!({})).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Exchanges a fresh launch code: `(cookie header value, csrf)`.
async fn sign_in(agent: &Agent) -> (String, String) {
    let code = new_code(agent).await;
    let response = client().get(code["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let session: Value =
        client().get(agent.url("/v1/session")).header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    (cookie, session["csrf"].as_str().expect("csrf").to_owned())
}

async fn pair(response: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn a_launch_code_is_minted_with_the_token_and_works_once() {
    let agent = Agent::start().await;
    // Without the token: no code.
    let (status, _, body) = pair(client().post(agent.url("/v1/launch-codes")).send().await.unwrap()).await;
    assert_eq!(status, 401, "{body}");

    // With it, an empty body or `{}` both work.
    let empty = client().post(agent.url("/v1/launch-codes")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(empty.status(), 201);
    let code = new_code(&agent).await;
    let text = code["code"].as_str().unwrap();
    assert!(text.len() >= 32 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{code}");
    assert_eq!(code["url"], format!("{}/launch/{text}", agent.base));
    assert_eq!(code["expires_in_s"], 60);

    let response = client().get(code["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/");
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("loyalty_session="), "{set_cookie}");
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} missing: {set_cookie}");
    }

    // Used: refused with a page that says how to open it again.
    let (status, headers, body) = pair(client().get(code["url"].as_str().unwrap()).send().await.unwrap()).await;
    assert_eq!(status, 410);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = body.as_str().unwrap_or_default();
    assert!(body.contains("already been used") && body.contains("loyalty-agent open"), "{body}");
    assert!(!headers.contains_key(SET_COOKIE));

    // Unknown: refused too.
    let (status, _, body) =
        pair(client().get(agent.url(&format!("/launch/{}", "0".repeat(64)))).send().await.unwrap()).await;
    assert_eq!(status, 403);
    assert!(body.as_str().unwrap_or_default().contains("loyalty-agent open"));

    // A session cannot mint launch codes: only the token holder (the tray, `open`) can.
    let (cookie, csrf) = sign_in(&agent).await;
    let (status, _, body) = pair(
        client()
            .post(agent.url("/v1/launch-codes"))
            .header(COOKIE, &cookie)
            .header("x-loyalty-csrf", &csrf)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("token_required")), "{body}");
}

#[tokio::test]
async fn a_launch_code_expires_after_a_minute() {
    let agent = Agent::start().await;
    let code = new_code(&agent).await;
    let fresh = new_code(&agent).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    for code in [&code, &fresh] {
        let (status, _, body) = pair(client().get(code["url"].as_str().unwrap()).send().await.unwrap()).await;
        assert_eq!(status, 410);
        assert!(body.as_str().unwrap_or_default().contains("expired"), "{body}");
    }
}

#[tokio::test]
async fn the_session_needs_its_csrf_header() {
    let agent = Agent::start().await;
    let customer = agent.enroll("+79990007788", "Csrf Check").await;
    let (cookie, csrf) = sign_in(&agent).await;
    let search = agent.url("/v1/customers/search?q=7788");

    // Cookie and header: works.
    let (status, _, body) =
        pair(client().get(&search).header(COOKIE, &cookie).header("x-loyalty-csrf", &csrf).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customers"][0]["id"], customer["id"]);

    // The cookie alone (what a cross-site request could carry, were it not SameSite): refused.
    let (status, _, body) = pair(client().get(&search).header(COOKIE, &cookie).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("csrf_required")), "{body}");
    let (status, _, body) =
        pair(client().get(&search).header(COOKIE, &cookie).header("x-loyalty-csrf", "guess").send().await.unwrap())
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("csrf_required")), "{body}");
    let enroll = |cookie: &str| {
        client()
            .post(agent.url("/v1/customers"))
            .header(COOKIE, cookie)
            .header("content-type", "application/json")
            .body(r#"{"phone": "+79990009999"}"#)
    };
    let (status, _, body) = pair(enroll(&cookie).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("csrf_required")), "{body}");
    // The header alone is nothing either.
    let (status, _, body) = pair(client().get(&search).header("x-loyalty-csrf", &csrf).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{body}");

    // A POST from another origin is refused even with the cookie and the header.
    let (status, _, body) = pair(
        enroll(&cookie).header("x-loyalty-csrf", &csrf).header("origin", "http://evil.example").send().await.unwrap(),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden_origin")), "{body}");
    // And so is a request the browser marks as coming from another site, or from another port
    // of this machine ("same-site": SameSite cookies do not tell ports apart, so this matters).
    for site in ["cross-site", "same-site"] {
        let (status, _, body) = pair(
            client()
                .get(&search)
                .header(COOKIE, &cookie)
                .header("x-loyalty-csrf", &csrf)
                .header("sec-fetch-site", site)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden_origin")), "{site}: {body}");
    }
    // From the page's own origin it works.
    let (status, _, body) = pair(
        enroll(&cookie).header("x-loyalty-csrf", &csrf).header("origin", agent.base.clone()).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Another origin gets no CORS permission to read the session (so never learns the CSRF value).
    let read = client()
        .get(agent.url("/v1/session"))
        .header(COOKIE, &cookie)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(read.headers().get("access-control-allow-origin").is_none());
    assert!(read.headers().get("access-control-allow-credentials").is_none());
    let preflight = client()
        .request(reqwest::Method::OPTIONS, agent.url("/v1/customers/search?q=7788"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-loyalty-csrf")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    // (tower-http lists its configured headers to anyone; without an allowed origin the browser
    // still refuses, and the CSRF header is never among them.)
    let allowed = preflight.headers().get("access-control-allow-headers").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(!allowed.to_ascii_lowercase().contains("x-loyalty-csrf"), "{allowed}");

    // /v1/session needs the cookie; without it (or with a made-up one) it says how to sign in.
    let (status, _, body) = pair(client().get(agent.url("/v1/session")).send().await.unwrap()).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) =
        pair(client().get(agent.url("/v1/session")).header(COOKIE, "loyalty_session=made-up").send().await.unwrap())
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("session_expired")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("loyalty-agent open"), "{body}");
}

#[tokio::test]
async fn sessions_end_when_the_agent_restarts() {
    let mut agent = Agent::start().await;
    let (cookie, csrf) = sign_in(&agent).await;
    agent.restart();
    let (status, _, body) = pair(
        client()
            .get(agent.url("/v1/customers/search?q=1234"))
            .header(COOKIE, &cookie)
            .header("x-loyalty-csrf", &csrf)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("session_expired")), "{body}");
}

/// Sends a raw request so the Host header is exactly what we say; returns the whole answer.
fn raw(agent: &Agent, request: &str) -> String {
    let mut stream = TcpStream::connect(agent.base.trim_start_matches("http://")).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test]
async fn the_page_is_served_with_strict_headers() {
    let agent = Agent::start().await;
    for (path, content_type) in [
        ("/", "text/html"),
        ("/assets/cashier/app.js", "text/javascript"),
        ("/assets/cashier/strings.js", "text/javascript"),
        ("/assets/cashier/app.css", "text/css"),
    ] {
        let response = client().get(agent.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path} needs no token");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap().starts_with(content_type), "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        for part in ["default-src 'self'", "script-src 'self'", "img-src 'self' data: blob:", "frame-ancestors 'none'"]
        {
            assert!(csp.contains(part), "{path}: {part} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    let page = client().get(agent.url("/")).send().await.unwrap().text().await.unwrap();
    let inline = page.contains("<script>")
        || [" onclick=", " onload=", " onerror=", " oninput="].iter().any(|h| page.contains(h));
    assert!(!inline, "no inline script or handlers: the CSP forbids them");
    assert!(!page.contains(TOKEN));
    let (status, _, body) = pair(client().get(agent.url("/assets/cashier/nope.js")).send().await.unwrap()).await;
    assert_eq!(status, 404, "{body}");

    // The Host check applies to the page and the launch link too (DNS rebinding).
    let port = agent.base.rsplit(':').next().unwrap().to_owned();
    let code = new_code(&agent).await;
    for path in
        ["/".to_owned(), "/assets/cashier/app.js".to_owned(), format!("/launch/{}", code["code"].as_str().unwrap())]
    {
        let answer =
            raw(&agent, &format!("GET {path} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"));
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
        assert!(answer.contains("forbidden_host"), "{answer}");
    }
    // The refused attempt did not spend the code.
    let response = client().get(code["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn open_prints_a_working_link() {
    let agent = Agent::start().await;
    let listen = agent.base.trim_start_matches("http://").to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(agent_binary())
            .args(["open", "--print", "--listen", &listen])
            .env("LOYALTY_AGENT_TOKEN", TOKEN)
            .env("LOYALTY_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(url.starts_with(&format!("{}/launch/", agent.base)), "{url}");
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 303, "the printed link signs in");

    // No browser can be started (no launcher on the PATH): the link is printed instead.
    let empty = tempfile::tempdir().unwrap();
    let listen = agent.base.trim_start_matches("http://").to_owned();
    let output = Command::new(agent_binary())
        .args(["open", "--listen", &listen])
        .env("LOYALTY_AGENT_TOKEN", TOKEN)
        .env("LOYALTY_LOG", "warn")
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("no browser could be started") && said.contains("60 seconds"), "{said}");
    let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(client().get(&url).send().await.unwrap().status(), 303, "{url}");

    // No agent there: a clear message and a failing exit code.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let output = Command::new(agent_binary())
        .args(["open", "--print", "--listen", &free.to_string()])
        .env("LOYALTY_AGENT_TOKEN", TOKEN)
        .env("LOYALTY_LOG", "warn")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("no agent answers") && said.contains("loyalty-agent serve"), "{said}");
    assert!(output.stdout.is_empty());
}
