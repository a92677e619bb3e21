//! Who may call the admin API, and the console's sign-in.
//!
//! Two credentials reach `/v1/admin/…`: the admin token (`Authorization: Bearer`, for scripts
//! and integrations: an owner without an account) and a back-office session (the console's
//! cookie). [`authenticate`] turns either into a [`Principal`] in the request; for a cookie it
//! also wants the session's CSRF value in `X-CSRF-Token` on every state-changing call (the
//! cookie is SameSite=Strict as well). [`authorize`] then checks the route's [`Area`] against
//! the principal's role, on the server, for every call: the console only hides what it
//! refuses. A manager's store scope travels in the principal; use cases filter by it.
//!
//! Sign-in (`POST /admin/login`): wrong passwords are slowed down (a growing pause before the
//! answer), five in a row lock the account for 15 minutes, and an address that keeps failing
//! is refused for a while whatever account it tries; a wrong email costs as long as a wrong
//! password.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{bearer, unauthorized, ApiError, AppState};
use crate::clock::now;
use crate::cloud::backoffice::{password, totp, Access, Area, Principal};
use crate::cloud::store::{UserView, SESSION_SECONDS};
use crate::cloud::token::{random_token, secret_hash};
use crate::http::rate_limit::{retry_after_seconds, KeyedLimiter, Rate};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "loyalty_session";
/// The header the console sends the CSRF value in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Failed sign-ins one address may make in 15 minutes before it is refused for a while.
const FAILURES_PER_ADDRESS: u32 = 20;

/// Failed sign-ins per client address (only failures are charged).
pub struct LoginGuard {
    failures: KeyedLimiter<std::net::IpAddr>,
}

impl Default for LoginGuard {
    fn default() -> LoginGuard {
        LoginGuard { failures: KeyedLimiter::new(Rate::per(FAILURES_PER_ADDRESS, Duration::from_secs(900)), 100_000) }
    }
}

/// The client's address as the audit log and the sign-in limits see it.
fn client_address(state: &AppState, parts_headers: &HeaderMap, peer: Option<SocketAddr>) -> std::net::IpAddr {
    state.signup.client(peer, parts_headers)
}

fn peer_of(request: &Request) -> Option<SocketAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0)
}

/// The value of the session cookie, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE_NAME)
}

/// The value of the cookie `name` (at most 256 bytes), if the request has one.
pub(super) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 256)
}

/// Whether the console was reached over https (directly, or through our own proxy that says so).
pub(super) fn over_https(state: &AppState, headers: &HeaderMap) -> bool {
    state.public_https
        || (state.signup.trusts_forwarded()
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https")))
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("loyalty_session=; Path=/; Max-Age=0"))
}

/// The stored hash of the request's session cookie, if it has one.
pub fn session_hash(headers: &HeaderMap) -> Option<String> {
    session_cookie(headers).map(|value| secret_hash(&value))
}

fn not_signed_in() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "not_signed_in",
        "sign in to the back office first (the session ended or was never started)",
    )
}

/// Guards every admin route: the admin token, or a live session (with its CSRF value on
/// anything but a read). Puts the [`Principal`] into the request.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let address = client_address(&state, request.headers(), peer_of(&request)).to_string();
    if let Some(token) = bearer(&request) {
        if state.admin_token.matches(&token) {
            request.extensions_mut().insert(Principal::admin_token(address));
            return next.run(request).await;
        }
        return unauthorized(
            "admin",
            "admin token (LOYALTY_CLOUD_ADMIN_TOKEN, or the admin-token file in the data directory)",
        );
    }
    let Some(cookie) = session_cookie(request.headers()) else {
        return unauthorized(
            "admin",
            "admin token (LOYALTY_CLOUD_ADMIN_TOKEN, or the admin-token file in the data directory), or sign in at /admin/",
        );
    };
    let (user, csrf) = match state.store.session(secret_hash(&cookie), now()).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_signed_in().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if Access::of(request.method()) == Access::Change {
        let sent = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(csrf.as_bytes())) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_required",
                "this change needs the session's X-CSRF-Token header; reload the back office and try again",
            )
            .with("console", "")
            .into_response();
        }
    }
    request.extensions_mut().insert(Principal::user(user.id, user.email, user.role, user.stores, address));
    next.run(request).await
}

/// Refuses a caller whose role may not read or change `area` (403 `role_forbidden`).
pub async fn authorize(State(area): State<Area>, request: Request, next: Next) -> Response {
    let allowed = request
        .extensions()
        .get::<Principal>()
        .is_some_and(|principal| principal.may(area, Access::of(request.method())));
    if !allowed {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "role_forbidden",
            "your role cannot do this; ask an owner of the chain's back office",
        )
        .into_response();
    }
    next.run(request).await
}

/// Handlers behind [`authenticate`] take the caller as an argument.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Principal, ApiError> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(not_signed_in)
    }
}

/// `POST /admin/login` body (JSON or a form).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The 6-digit code of the account's authenticator app, when it has a second factor.
    #[serde(default)]
    pub totp: Option<String>,
}

/// A signed-in session: who, and the value to send as `X-CSRF-Token`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub user: UserView,
    pub csrf: String,
    /// The chain's offset from UTC in seconds: the reports' days start at local midnight, and
    /// the console's "today" must be the same day (a browser elsewhere, or a server in UTC,
    /// would otherwise ask for yesterday around midnight).
    pub day_offset_s: i64,
}

fn login_refused(code: &'static str, message: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message.to_owned()).into_response()
}

fn locked(seconds: u64, scope: &'static str) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "login_locked",
        format!(
            "too many wrong passwords {}; wait {} min, or ask an owner to reset the password",
            if scope == "account" { "for this account" } else { "from this address" },
            seconds.div_ceil(60)
        ),
    )
    .with("retry_after_s", seconds)
    .with("minutes", seconds.div_ceil(60))
    .with("scope", scope)
    .with(scope, "")
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

/// Reads the login body as JSON or as a form (a browser without script).
async fn login_body(request: Request, state: &AppState) -> Result<(LoginRequest, bool), Response> {
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        match axum::Form::<LoginRequest>::from_request(request, state).await {
            Ok(axum::Form(body)) => Ok((body, true)),
            Err(_) => Err(ApiError::unprocessable("invalid_login", "send email and password").into_response()),
        }
    } else {
        match crate::http::extract::ApiJson::<LoginRequest>::from_request(request, state).await {
            Ok(crate::http::extract::ApiJson(body)) => Ok((body, false)),
            Err(rejection) => Err(rejection.into_response()),
        }
    }
}

use axum::extract::FromRequest;

/// Starts a back-office session.
#[utoipa::path(post, path = "/admin/login", tag = "back office", operation_id = "console_login", request_body = LoginRequest,
    responses((status = 200, body = SessionView, description = "signed in; the session cookie is set"),
              (status = 401, body = crate::wire::ErrorBody, description = "login_failed, totp_required or totp_failed"),
              (status = 403, body = crate::wire::ErrorBody, description = "account_disabled"),
              (status = 429, body = crate::wire::ErrorBody, description = "login_locked; see Retry-After")),
    security(()))]
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let peer = peer_of(&request);
    let client = client_address(&state, request.headers(), peer);
    let secure = over_https(&state, request.headers());
    let (body, is_form) = match login_body(request, &state).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let answer = sign_in(&state, body, client, secure, started).await;
    if !is_form {
        return answer;
    }
    // A form post: back to the console, which shows the session or the error.
    let ok = answer.status().is_success();
    let mut redirect =
        axum::response::Redirect::to(if ok { "/admin/" } else { "/admin/?login=failed" }).into_response();
    if let Some(cookie) = answer.headers().get(SET_COOKIE) {
        redirect.headers_mut().insert(SET_COOKIE, cookie.clone());
    }
    redirect
}

async fn sign_in(
    state: &AppState,
    body: LoginRequest,
    client: std::net::IpAddr,
    secure: bool,
    started: Instant,
) -> Response {
    let guard = &state.login;
    if let Some(wait) = guard.failures.wait(&client, Instant::now()) {
        return locked(retry_after_seconds(wait), "address");
    }
    let at = now();
    let account = match state.store.login_account(body.email.trim().to_lowercase()).await {
        Ok(account) => account.filter(|_| body.email.contains('@')),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let wrong = "wrong email or password; check both and try again";
    let Some(account) = account else {
        let password = body.password.clone();
        let _ = tokio::task::spawn_blocking(move || password::verify(&password, password::dummy_hash())).await;
        let _ = guard.failures.check(&client, Instant::now());
        return login_refused("login_failed", wrong);
    };
    if let Some(until) = account.locked_until.filter(|until| *until > at) {
        return locked((until - at) as u64, "account");
    }
    let (password, stored) = (body.password.clone(), account.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored)).await.unwrap_or(false);
    let mut step = None;
    let failed = if !matches {
        Some(("login_failed", wrong))
    } else if let Some(secret) = &account.totp_secret {
        match body.totp.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "totp_required",
                    "enter the 6-digit code from your authenticator app",
                )
                .with("field", "totp")
                .into_response()
            }
            Some(code) => match totp::check(secret, code, at) {
                Some(s) if account.totp_last_step.is_none_or(|last| s > last) => {
                    step = Some(s);
                    None
                }
                _ => Some((
                    "totp_failed",
                    "the code from the authenticator app is wrong or was already used; enter the current one",
                )),
            },
        }
    } else {
        None
    };
    if let Some((code, message)) = failed {
        let _ = guard.failures.check(&client, Instant::now());
        let failure = match state.store.login_failed(account.user.id.clone(), at).await {
            Ok(failure) => failure,
            Err(e) => return ApiError::from(e).into_response(),
        };
        tracing::warn!(user = %account.user.id, failures = failure.failures, "a wrong back-office password");
        if let Some(until) = failure.locked_until {
            return locked((until - at) as u64, "account");
        }
        // Slowed down: each failure in a row waits longer before it is answered.
        let pause = Duration::from_millis(400 * failure.failures as u64);
        tokio::time::sleep(pause.saturating_sub(started.elapsed())).await;
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        if code == "totp_failed" {
            error = error.with("field", "totp");
        }
        return error.into_response();
    }
    if account.user.disabled {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled; ask an owner of the back office",
        )
        .into_response();
    }
    let (token, csrf) = (random_token(), random_token());
    if let Err(e) = state
        .store
        .start_session(account.user.id.clone(), secret_hash(&token), csrf.clone(), client.to_string(), step, at)
        .await
    {
        return ApiError::from(e).into_response();
    }
    tracing::info!(user = %account.user.id, "signed in to the back office");
    let mut response = Json(SessionView { user: account.user, csrf, day_offset_s: crate::reports::UTC_OFFSET_SECONDS })
        .into_response();
    response.headers_mut().insert(SET_COOKIE, cookie(&token, SESSION_SECONDS, secure));
    response
}

/// The signed-in session, for the console's start.
#[utoipa::path(get, path = "/admin/session", tag = "back office", operation_id = "console_session",
    responses((status = 200, body = SessionView), (status = 401, body = crate::wire::ErrorBody, description = "not_signed_in")),
    security(()))]
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<SessionView>, ApiError> {
    let cookie = session_cookie(&headers).ok_or_else(not_signed_in)?;
    match state.store.session(secret_hash(&cookie), now()).await? {
        Some((user, csrf)) => Ok(Json(SessionView { user, csrf, day_offset_s: crate::reports::UTC_OFFSET_SECONDS })),
        None => Err(not_signed_in()),
    }
}

/// Ends the session (needs its CSRF value).
#[utoipa::path(post, path = "/admin/logout", tag = "back office", operation_id = "console_logout",
    responses((status = 204, description = "signed out; the cookie is cleared"), (status = 403, body = crate::wire::ErrorBody, description = "csrf_required")),
    security(()))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let secure = over_https(&state, &headers);
    if let Some(value) = session_cookie(&headers) {
        let hash = secret_hash(&value);
        if let Some((_, csrf)) = state.store.session(hash.clone(), now()).await? {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !bool::from(sent.as_bytes().ct_eq(csrf.as_bytes())) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_required",
                    "this change needs the session's X-CSRF-Token header; reload the back office and try again",
                )
                .with("console", ""));
            }
        }
        state.store.end_session(hash).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(SET_COOKIE, cookie("", 0, secure));
    Ok(response)
}
