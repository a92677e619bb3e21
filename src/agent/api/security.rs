//! The guards every request passes, outermost first (CONTRACTS.md §security):
//! 1. the `Host` header must name this agent (loopback or a configured name) — this defeats DNS
//!    rebinding, where a web page's own host name is pointed at 127.0.0.1;
//! 2. a state-changing request from a browser must come from an allowed `Origin`;
//! 3. everything but health, the cashier page's files and its launch link needs the agent token
//!    as a bearer token (never in a query string), or the cashier page's session: its HttpOnly
//!    SameSite=Strict cookie *and* its CSRF header (`agent::session`);
//! 4. a request that takes too long is cut off with a clear error.
//!
//! No CORS headers are sent unless origins are configured, so other web pages cannot read our
//! answers — which is also why they cannot learn a session's CSRF value.

use std::time::{Duration, Instant};

use crate::http::common::Deadline;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::agent::session::{cookie_value, CookieCheck, SessionView, COOKIE_NAME, CSRF_HEADER};

/// How a request proved itself, for the handlers that care (only the token may mint launch
/// codes; `GET /v1/session` answers the session's own values). Put in the request's extensions
/// by [`check_token`].
#[derive(Debug, Clone)]
pub enum Caller {
    /// `Authorization: Bearer <agent token>`.
    Token,
    /// The cashier page's session cookie (with its CSRF header, except on `GET /v1/session`).
    Session(SessionView),
}

/// The one path a session cookie opens without the CSRF header: where the page reads it.
const SESSION_PATH: &str = "/v1/session";

/// How long one request may take before the agent gives up on it, and what it then says.
pub const DEADLINE: Deadline = Deadline {
    limit: Duration::from_secs(30),
    advice: "the agent could not answer in time; retry, and run `loyalty-agent doctor` if it keeps happening",
};

/// Paths anyone on this machine may call without the token. The MoySklad adapter checks its
/// own key (`Lognex-Discount-API-Auth-Token`), since MoySklad cannot send a bearer token.
/// The cashier page's files and its one-time launch link need no token either: the link carries
/// its own secret, and the files are the same for everyone.
fn is_public(path: &str) -> bool {
    path == "/v1/health"
        || path == crate::moysklad::PREFIX
        || path.starts_with("/moysklad/")
        || super::page::is_page_path(path)
        || path.starts_with("/launch/")
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
                    .with("origin", "page")
                    .into_response();
            }
        }
    }
    next.run(request).await
}

pub async fn check_token(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if is_public(request.uri().path()) || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let headers = request.headers();
    // A request that presents a bearer token is judged by it alone.
    if let Some(authorization) = headers.get(AUTHORIZATION) {
        let presented = authorization
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        return match presented {
            Some(token) if state.token.matches(token) => {
                request.extensions_mut().insert(Caller::Token);
                next.run(request).await
            }
            _ => ApiError::unauthorized().into_response(),
        };
    }
    let cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|header| cookie_value(header, COOKIE_NAME))
        .map(str::to_owned);
    let Some(cookie) = cookie else {
        return ApiError::unauthorized().into_response();
    };
    // SameSite=Strict keeps other sites' requests from carrying the cookie, but a page on
    // another port of this machine is the "same site" and would send it: browsers say where a
    // request came from, and only the page's own origin may use the session.
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site"));
    if cross_site {
        return ApiError::forbidden("forbidden_origin", "requests from another web site are not allowed")
            .with("origin", "site")
            .into_response();
    }
    let csrf = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reading_session = request.method() == Method::GET && request.uri().path() == SESSION_PATH;
    match state.sessions.check(&cookie, csrf.as_deref(), Instant::now()) {
        CookieCheck::Valid { session, csrf_ok } if csrf_ok || reading_session => {
            request.extensions_mut().insert(Caller::Session(session));
            next.run(request).await
        }
        CookieCheck::Valid { .. } => ApiError::forbidden(
            "csrf_required",
            "this request carried the cashier page's session cookie without its X-Loyalty-CSRF header; \
             only the cashier page itself may use the session (other programs send the agent token)",
        )
        .into_response(),
        CookieCheck::Unknown => ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "session_expired",
            "the cashier page's session has ended (the agent restarted, or the page was unused for 12 hours); \
             open the page again from the tray icon or with `loyalty-agent open`",
        )
        .into_response(),
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
