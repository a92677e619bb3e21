//! The guards every request passes, outermost first (DESIGN §9):
//! 1. the `Host` header must name this agent (loopback or a configured name) — this defeats DNS
//!    rebinding, where a web page's own host name is pointed at 127.0.0.1;
//! 2. a state-changing request from a browser must come from an allowed `Origin`;
//! 3. everything but health needs the agent token as a bearer token (never in a query string);
//! 4. a request that takes too long is cut off with a clear error.
//!
//! No CORS headers are sent unless origins are configured, so other web pages cannot read our
//! answers.

use std::time::Duration;

use crate::http::common::Deadline;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// How long one request may take before the agent gives up on it, and what it then says.
pub const DEADLINE: Deadline = Deadline {
    limit: Duration::from_secs(30),
    advice: "the agent could not answer in time; retry, and run `loyalty-agent doctor` if it keeps happening",
};

/// Paths anyone on this machine may call without the token. The MoySklad adapter checks its
/// own key (`Lognex-Discount-API-Auth-Token`), since MoySklad cannot send a bearer token.
fn is_public(path: &str) -> bool {
    path == "/v1/health" || path == crate::moysklad::PREFIX || path.starts_with("/moysklad/")
}

pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match host {
        Some(host) if state.security.host_allowed(&host) => next.run(request).await,
        _ => ApiError::forbidden(
            "forbidden_host",
            "this agent only answers requests addressed to 127.0.0.1, localhost or a configured host name",
        )
        .into_response(),
    }
}

pub async fn check_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state {
        if let Some(origin) = request.headers().get(ORIGIN) {
            let allowed = origin.to_str().map(|o| state.security.origin_allowed(o)).unwrap_or(false);
            if !allowed {
                return ApiError::forbidden("forbidden_origin", "requests from this web page's origin are not allowed")
                    .into_response();
            }
        }
    }
    next.run(request).await
}

pub async fn check_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_public(request.uri().path()) || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match presented {
        Some(token) if state.token.matches(token) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Which hosts and origins the guards accept.
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    /// Lower-case host names without port.
    hosts: Vec<String>,
    /// The port the agent listens on; a Host header with another port is refused.
    port: u16,
    origins: Vec<String>,
}

impl SecurityPolicy {
    pub fn new(port: u16, extra_hosts: &[String], extra_origins: &[String]) -> SecurityPolicy {
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"].iter().map(|h| (*h).to_owned()).collect();
        hosts.extend(extra_hosts.iter().map(|h| h.trim().to_ascii_lowercase()));
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}:{port}")).collect();
        origins.extend(extra_origins.iter().map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase()));
        SecurityPolicy { hosts, port, origins }
    }

    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_host_port(&host);
        let port_ok = match port {
            None => true,
            Some(port) => port.parse::<u16>().map(|p| p == self.port).unwrap_or(false),
        };
        port_ok && self.hosts.iter().any(|h| h == name)
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        self.origins.contains(&origin)
    }

    pub fn extra_origins(&self) -> &[String] {
        &self.origins
    }
}

/// `"127.0.0.1:8719"` → (`"127.0.0.1"`, `Some("8719")`); `"[::1]:8719"` → (`"[::1]"`, `Some("8719")`).
fn split_host_port(host: &str) -> (&str, Option<&str>) {
    if let Some(end) = host.find(']') {
        let (name, rest) = host.split_at(end + 1);
        return (name, rest.strip_prefix(':'));
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let policy = SecurityPolicy::new(8719, &["till-3.local".into()], &[]);
        for ok in ["127.0.0.1:8719", "localhost:8719", "[::1]:8719", "LOCALHOST", "till-3.local:8719"] {
            assert!(policy.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8719", "127.0.0.1:80", "127.0.0.1.evil.example:8719", "", "[::1]:1"] {
            assert!(!policy.host_allowed(bad), "{bad}");
        }
        assert!(policy.origin_allowed("http://127.0.0.1:8719"));
        assert!(!policy.origin_allowed("http://evil.example"));
        assert!(!policy.origin_allowed("null"));
    }
}
