//! Issue 9, point 4: slow clients cannot starve either server. Hundreds of connections that
//! send half a request are held open against the real `loyalty-cloud` and `loyalty-agent`
//! binaries while a normal client keeps getting answers; past the connection bound a new
//! connection is answered `503 server_busy`; after the header read timeout the server has
//! closed every half-sent connection and serves as before.
//!
//! The timeouts are shortened through the environment (the defaults are 10 s and 5 s).

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cloud_support::{Backend, Cloud};
use crate::support::Agent;

const HALF_SENT: usize = 600;
const BOUND: usize = 650;
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Each flood holds about `BOUND` sockets in this process and the agent and cloud floods may run
/// at once: make sure the open file limit allows that (raising the soft limit if it must).
fn ensure_descriptors() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let wanted = 4 * BOUND as u64;
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|current| current < wanted) {
        assert!(
            limit.maximum.is_none_or(|maximum| maximum >= wanted),
            "this test needs {wanted} open files; the hard limit (ulimit -Hn) is {:?}",
            limit.maximum
        );
        limit.current = Some(wanted);
        setrlimit(Resource::Nofile, limit).expect("raise the open file limit");
    }
}

/// A client without a connection pool, so it holds no connection between requests.
fn normal_client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(10)).build().expect("client")
}

/// A complete request, as raw bytes.
fn health_request(addr: &str) -> Vec<u8> {
    format!("GET /v1/health HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
}

/// Reads until the end of the response head and returns its status code and the head.
async fn read_head(stream: &mut TcpStream) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("a response head in time")
            .expect("read the response");
        assert!(n > 0, "the server closed before answering: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let status =
        text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"));
    (status, text)
}

async fn read_status(stream: &mut TcpStream) -> u16 {
    read_head(stream).await.0
}

/// The flood and its checks, against a server at `addr` (`host:port`) whose `/v1/health`
/// answers 200 without a token.
async fn flood(addr: &str) {
    let health = format!("http://{addr}/v1/health");
    let client = normal_client();
    assert_eq!(client.get(&health).send().await.expect("health").status(), 200);

    // Half-sent requests: a request line and the start of a header, never finished.
    let opened = Instant::now();
    let mut half_sent = Vec::with_capacity(HALF_SENT);
    for _ in 0..HALF_SENT {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(format!("POST /v1/health HTTP/1.1\r\nHost: {addr}\r\nContent-Ty").as_bytes())
            .await
            .expect("send");
        half_sent.push(stream);
    }

    // A normal client still gets answers, promptly.
    for _ in 0..5 {
        let started = Instant::now();
        let response = client.get(&health).send().await.expect("health while flooded");
        assert_eq!(response.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(2), "a health request took {:?}", started.elapsed());
    }

    // Fill the bound with complete requests held open (keep-alive); the first connection past
    // it is answered 503 with our error body and Retry-After, then closed.
    let mut admitted = Vec::new();
    let (mut refused, head) = loop {
        assert!(admitted.len() <= BOUND - HALF_SENT, "{} more connections were served past the bound", admitted.len());
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&health_request(addr)).await.expect("send");
        match read_head(&mut stream).await {
            (200, _) => admitted.push(stream),
            (503, head) => break (stream, head.to_lowercase()),
            (other, _) => panic!("unexpected status {other} while filling the bound"),
        }
    };
    // The normal client's connections were closed, but the server may not have seen every
    // close yet when the bound filled; a few fewer than the rest of the bound is fine.
    assert!(admitted.len() + 10 >= BOUND - HALF_SENT, "only {} more connections were served", admitted.len());
    assert!(head.contains("retry-after: 2"), "no Retry-After in {head:?}");
    let mut body = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), refused.read_to_end(&mut body))
        .await
        .expect("the refused connection is closed")
        .expect("read the 503");
    let body: Value = serde_json::from_slice(&body).expect("a JSON error body");
    assert_eq!(body["error"]["code"], "server_busy", "{body}");

    // Before the header timeout the half-sent connections are still open.
    if opened.elapsed() < HEADER_TIMEOUT - Duration::from_secs(1) {
        let mut byte = [0u8; 1];
        for stream in half_sent.iter_mut().step_by(50) {
            let read = tokio::time::timeout(Duration::from_millis(5), stream.read(&mut byte)).await;
            assert!(read.is_err(), "a half-sent connection was closed before the header timeout: {read:?}");
        }
    }

    // After it, the server has closed every one of them (without an answer).
    let deadline = tokio::time::Instant::from_std(opened + HEADER_TIMEOUT + Duration::from_secs(5));
    let mut outcomes = Vec::with_capacity(HALF_SENT);
    for mut stream in half_sent {
        let mut rest = Vec::new();
        let read = tokio::time::timeout_at(deadline, stream.read_to_end(&mut rest)).await;
        outcomes.push((read.is_ok(), rest.is_empty()));
    }
    let still_open = outcomes.iter().filter(|(closed, _)| !closed).count();
    assert_eq!(still_open, 0, "{still_open} half-sent connections were still open after the header timeout");
    assert!(
        opened.elapsed() >= HEADER_TIMEOUT - Duration::from_millis(500),
        "closed too early: {:?}",
        opened.elapsed()
    );
    assert!(outcomes.iter().all(|(_, empty)| *empty), "a half-sent connection got an answer");
    drop(admitted);

    // The server serves as before: new connections are welcome again.
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&health_request(addr)).await.expect("send");
        assert_eq!(read_status(&mut stream).await, 200);
    }
    assert_eq!(client.get(&health).send().await.expect("health afterwards").status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_cannot_starve_the_cloud() {
    ensure_descriptors();
    let (timeout, bound) = (HEADER_TIMEOUT.as_millis().to_string(), BOUND.to_string());
    let cloud = Cloud::start_with(
        Backend::Sqlite,
        &[("LOYALTY_CLOUD_HEADER_TIMEOUT_MS", &timeout), ("LOYALTY_CLOUD_MAX_CONNECTIONS", &bound)],
    )
    .await;
    flood(&cloud.addr().to_string()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_cannot_starve_the_agent() {
    ensure_descriptors();
    let (timeout, bound) = (HEADER_TIMEOUT.as_millis().to_string(), BOUND.to_string());
    let agent = Agent::start_with_env(&[
        ("LOYALTY_AGENT_HEADER_TIMEOUT_MS", &timeout),
        ("LOYALTY_AGENT_MAX_CONNECTIONS", &bound),
    ])
    .await;
    flood(agent.addr()).await;
}

/// An idle keep-alive connection is closed after the idle timeout, well before the header
/// timeout would close it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let agent = Agent::start_with_env(&[
        ("LOYALTY_AGENT_HEADER_TIMEOUT_MS", "20000"),
        ("LOYALTY_AGENT_IDLE_TIMEOUT_MS", "1000"),
    ])
    .await;
    let mut stream = TcpStream::connect(agent.addr()).await.expect("connect");
    let started = Instant::now();
    for _ in 0..3 {
        stream.write_all(&health_request(agent.addr())).await.expect("send");
        assert_eq!(read_status(&mut stream).await, 200);
        // The body, then a pause shorter than the idle timeout: the connection stays open.
        let mut chunk = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut chunk)).await;
    }
    let quiet = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("the idle connection is closed within the idle timeout")
        .expect("read");
    let idle = quiet.elapsed();
    assert!(idle >= Duration::from_millis(500) && idle < Duration::from_secs(5), "closed after {idle:?} idle");
    assert!(started.elapsed() < Duration::from_secs(20));
}
