//! `POST /v1/signup`: the public registration form of a chain's website (no token).
//!
//! Abuse is bounded by token buckets: per client IP (5 a minute; IPv6 counted per /64, which
//! one subscriber usually holds whole), per phone number (3 an hour, so nobody floods one
//! person's number), and in total (`--signup-per-minute`, 300 by default); past a bound the
//! answer is 429 with `Retry-After`. The per-address and per-phone buckets are checked first:
//! only a request that passes them spends the global budget. The limits are per process: N
//! processes behind a load balancer allow N times as much (put a stricter limit in the
//! balancer if that matters).
//!
//! A phone that is already registered gets exactly the answer a new one gets (202
//! `{"status": "received"}`), and nothing about that customer changes: the form cannot prove
//! who is typing, so it must neither reveal who is a customer nor let a stranger edit one.
//! The same guard throttles wrong enrolment codes (`POST /v1/enroll`): 10 per address, then one
//! more a minute; right codes are never charged.
//!
//! Invalid input (a malformed phone, a bad date) is a 422 — that says nothing about anyone.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{ApiError, AppState};
use crate::http::extract::ApiJson;
use crate::http::rate_limit::{retry_after_seconds, KeyedLimiter, Limiter, Rate};
use crate::http::Lang;
use crate::wire::{SignupAccepted, SignupRequest};

/// Wrong enrolment codes one address may send in 10 minutes (then one more a minute).
const WRONG_CODES_PER_10_MIN: u32 = 10;

/// The largest sign-up body: a form is a few hundred bytes.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The sign-up form's limits and how the client's address is found.
#[derive(Debug)]
pub struct SignupGuard {
    global: Limiter,
    per_ip: KeyedLimiter<IpAddr>,
    per_phone: KeyedLimiter<String>,
    /// Wrong enrolment codes per address (`POST /v1/enroll`): only failures are charged, so a
    /// store enrolling many tills behind one router is never slowed down.
    wrong_enrolment_codes: KeyedLimiter<IpAddr>,
    /// Take the client's address from the last `X-Forwarded-For` entry (set by our own load
    /// balancer) instead of the TCP peer. Only behind a proxy that sets it: otherwise anyone
    /// could claim any address.
    trust_forwarded_for: bool,
    default_region: String,
}

impl SignupGuard {
    pub fn new(per_minute: u32, trust_forwarded_for: bool, default_region: String) -> SignupGuard {
        SignupGuard {
            global: Limiter::new(Rate::per(per_minute, Duration::from_secs(60))),
            per_ip: KeyedLimiter::new(Rate::per(5, Duration::from_secs(60)), 100_000),
            per_phone: KeyedLimiter::new(Rate::per(3, Duration::from_secs(3600)), 100_000),
            wrong_enrolment_codes: KeyedLimiter::new(
                Rate::per(WRONG_CODES_PER_10_MIN, Duration::from_secs(600)),
                100_000,
            ),
            trust_forwarded_for,
            default_region,
        }
    }

    /// Refuses an enrolment attempt from an address that has sent too many wrong codes
    /// lately (a 429 with `Retry-After`), else answers the address to charge a failure to.
    pub fn admit_enrolment(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Result<IpAddr, Box<Response>> {
        let client = self.client(peer, headers);
        match self.wrong_enrolment_codes.wait(&client, Instant::now()) {
            None => Ok(client),
            Some(wait) => {
                let seconds = retry_after_seconds(wait);
                let error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "enrollment_throttled",
                    format!(
                        "too many wrong enrollment codes from this address; check the code and try again in {seconds} s"
                    ),
                )
                .with("seconds", seconds);
                Err(Box::new(with_retry_after(error.into_response(), seconds)))
            }
        }
    }

    /// Counts a wrong enrolment code against `client`.
    pub fn wrong_enrolment_code(&self, client: IpAddr) {
        let _ = self.wrong_enrolment_codes.check(&client, Instant::now());
    }

    /// The client's address, as the rate limits count it.
    /// Whether `X-Forwarded-*` headers come from our own proxy.
    pub(crate) fn trusts_forwarded(&self) -> bool {
        self.trust_forwarded_for
    }

    pub(crate) fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let forwarded = self
            .trust_forwarded_for
            .then(|| headers.get_all("x-forwarded-for").iter().next_back())
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        let ip = forwarded.or(peer.map(|p| p.ip())).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut segments = v6.segments();
                    segments[4..].fill(0);
                    IpAddr::from(segments)
                }
            },
            v4 => v4,
        }
    }
}

/// A 429; `scope` (`global`, `address`, `phone`) names the bucket for translations.
fn too_many(wait: Duration, scope: &'static str, what: &str) -> Response {
    let response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many sign-ups {what}; try again in {} s", retry_after_seconds(wait)),
    )
    .with("scope", scope)
    .with("seconds", retry_after_seconds(wait))
    .into_response();
    with_retry_after(response, retry_after_seconds(wait))
}

fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Who processes the personal data the form collects, and the privacy policy's address, for the
/// text beside the form's consent (the cloud's `--personal-data-operator`,
/// `--privacy-policy-url`; both null when not configured).
#[utoipa::path(get, path = "/v1/signup/notice", tag = "public",
    responses((status = 200, body = crate::wire::PersonalDataNotice)), security(()))]
pub async fn notice(State(state): State<AppState>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.personal_data.clone())).into_response()
}

/// Registers a customer from the website's form; answers the same for a new and a known phone.
#[utoipa::path(post, path = "/v1/signup", tag = "public", request_body = SignupRequest,
    responses((status = 202, body = SignupAccepted), (status = 422, body = crate::wire::ErrorBody),
              (status = 429, body = crate::wire::ErrorBody, description = "rate limited; see Retry-After")),
    security(()))]
pub async fn signup(State(state): State<AppState>, request: Request) -> Response {
    let now = Instant::now();
    let guard = &state.signup;
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let client = guard.client(peer, request.headers());
    let lang = request.extensions().get::<Lang>().copied().unwrap_or_default();
    // The narrow buckets first, the shared one last: a request refused for its address, its
    // phone or its body never spends the global budget, so one address hammering the form
    // cannot lock everyone else out of it.
    if let Err(wait) = guard.per_ip.check(&client, now) {
        return too_many(wait, "address", "from this address");
    }
    let body = match ApiJson::<SignupRequest>::from_request(request, &state).await {
        Ok(ApiJson(body)) => body,
        Err(e) => return e.into_response(),
    };
    // Invalid phones are refused by the store below; only a real number has a bucket.
    if let Ok(phone) = crate::identity::normalize_phone(&body.phone, &guard.default_region) {
        if let Err(wait) = guard.per_phone.check(&phone.as_str().to_owned(), now) {
            return too_many(wait, "phone", "for this phone number");
        }
    }
    if let Err(wait) = guard.global.check(now) {
        return too_many(wait, "global", "right now");
    }
    match state.store.signup(body, client.to_string()).await {
        Ok(outcome) => {
            tracing::info!(known = matches!(outcome, crate::cloud::store::SignupOutcome::AlreadyKnown), "sign-up");
            let answer = SignupAccepted {
                status: "received".into(),
                message: accepted_message(lang).into(),
                wallet: state.wallets.any().then(|| "/me#wallet".to_owned()),
            };
            (StatusCode::ACCEPTED, Json(answer)).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The sentence the sign-up page shows after an accepted sign-up, in the reader's language.
fn accepted_message(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Thank you! Your loyalty card is on its way.",
        Lang::Ru => "Спасибо! Номер карты скоро придёт вам в SMS или на почту.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_says_otherwise() {
        let peer: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1, 203.0.113.9"));
        let direct = SignupGuard::new(300, false, "RU".into());
        assert_eq!(direct.client(Some(peer), &headers), "198.51.100.7".parse::<IpAddr>().unwrap());
        let proxied = SignupGuard::new(300, true, "RU".into());
        assert_eq!(proxied.client(Some(peer), &headers), "203.0.113.9".parse::<IpAddr>().unwrap());
        let six: SocketAddr = "[2001:db8:1:2:3:4:5:6]:443".parse().unwrap();
        assert_eq!(direct.client(Some(six), &HeaderMap::new()), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
    }
}
