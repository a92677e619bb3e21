//! The self-service API behind `GET /me`: a shopper signs in with a code sent by SMS and reads
//! their card, points and receipts, or withdraws a consent. Public routes; the credential is
//! the `loyalty_me` cookie (HttpOnly, SameSite=Strict, `Secure` over https, path `/v1/me`),
//! whose SHA-256 is all the cloud keeps.
//!
//! - `POST /v1/me/login {phone}`: 202 and "we sent a code to +7 *** ***-45-67" whether or not
//!   the phone belongs to a customer (only a customer's phone gets an SMS), so the answer
//!   tells nobody who is a customer. Limited per address (10 an hour) and per phone (3 an hour).
//! - `POST /v1/me/verify {phone, code}`: 6 digits, 5 minutes, 5 wrong attempts and the code is
//!   dead; limited per address (30 in 10 minutes), which bounds guessing across phones.
//! - `GET /v1/me`, `GET /v1/me/qr.svg`, `POST /v1/me/consents/withdraw`, `POST /v1/me/logout`.
//!
//! The use cases are `store::self_service`; this module only speaks HTTP and rate-limits.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{access, ApiError, AppState};
use crate::clock::{now, rfc3339};
use crate::cloud::store::{CodeCheck, CODE_SECONDS, ME_SESSION_SECONDS};
use crate::cloud::token::{random_token, secret_hash};
use crate::http::extract::ApiJson;
use crate::http::rate_limit::{retry_after_seconds, KeyedLimiter, Rate};
use crate::http::Lang;
use crate::wire::{PointsBalance, PointsExpiry};

/// The self-service cookie's name.
pub const COOKIE_NAME: &str = "loyalty_me";
/// The SMS purpose the outbox lists.
const PURPOSE: &str = "self_service_login";

/// The self-service page's limits, per process (like the sign-up form's).
#[derive(Debug)]
pub struct MeGuard {
    login_per_address: KeyedLimiter<IpAddr>,
    login_per_phone: KeyedLimiter<String>,
    verify_per_address: KeyedLimiter<IpAddr>,
}

impl Default for MeGuard {
    fn default() -> MeGuard {
        MeGuard {
            login_per_address: KeyedLimiter::new(Rate::per(10, Duration::from_secs(3600)), 100_000),
            login_per_phone: KeyedLimiter::new(Rate::per(3, Duration::from_secs(3600)), 100_000),
            verify_per_address: KeyedLimiter::new(Rate::per(30, Duration::from_secs(600)), 100_000),
        }
    }
}

/// `POST /v1/me/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeLoginRequest {
    /// Any common format; normalised with the cloud's default country.
    pub phone: String,
}

/// The answer to a sign-in request: the same for every valid phone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeLoginAccepted {
    /// `sent`.
    pub status: String,
    /// The phone as "+7 *** ***-45-67", for "we sent the code to …".
    pub hint: String,
    /// How long the code may be used.
    pub expires_in_seconds: i64,
    /// A sentence for the page, in the reader's language.
    pub message: String,
}

/// `POST /v1/me/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeVerifyRequest {
    pub phone: String,
    /// The 6 digits of the SMS.
    pub code: String,
}

/// Signed in: the cookie is set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeSignedIn {
    /// `signed_in`.
    pub status: String,
}

/// The tier above the customer's and how much more they must pay to reach it (minor units).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeNextTier {
    pub name: String,
    pub remaining: i64,
}

/// One receipt, as the shopper sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeReceiptView {
    /// RFC 3339: when the cloud recorded it.
    pub at: String,
    pub store: Option<String>,
    /// Paid (minor units).
    pub total: i64,
    /// Points earned on it.
    pub earned: i64,
    /// Points spent on it.
    pub spent: i64,
}

/// The customer's consents as on/off.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeConsents {
    pub sms: bool,
    pub email: bool,
    pub personal_data: bool,
}

/// What the self-service page shows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    /// The card number (its QR code is `GET /v1/me/qr.svg`).
    pub card: String,
    pub name: Option<String>,
    /// The phone, masked.
    pub phone_hint: String,
    pub points: PointsBalance,
    /// Points still to expire, soonest first.
    pub expiring: Vec<PointsExpiry>,
    /// The customer's tier, if the program has tiers.
    pub tier: Option<String>,
    pub next_tier: Option<MeNextTier>,
    /// The latest receipts (at most 20), newest first.
    pub receipts: Vec<MeReceiptView>,
    pub consents: MeConsents,
    pub wallet: MeWallet,
    /// `/v1/me/code` when the program confirms spending with a code (`verify_spending`): the
    /// page shows the shopper's time-based code for the cashier.
    pub spending_code: Option<String>,
    /// What the page's QR code holds: a signed token (`loyalty:v1:<card>:<expires>:<mac>`)
    /// the tills check offline, renewed with every fetch; `/v1/me/qr.svg` draws a fresh one.
    pub qr_token: String,
    /// When that token stops being taken (RFC 3339).
    pub qr_expires_at: String,
}

/// Where the shopper adds their card to a phone's wallet; `None` when the chain has not set
/// that wallet up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeWallet {
    /// `/v1/me/wallet.pkpass`.
    pub apple: Option<String>,
    /// `/v1/me/wallet/google` (sends the browser on to Google Wallet).
    pub google: Option<String>,
}

/// `POST /v1/me/consents/withdraw`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeWithdrawRequest {
    /// `sms` or `email`.
    pub channel: String,
}

fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

/// A 429; `scope` (`address`, `phone`) names the bucket.
fn too_many(wait: Duration, scope: &'static str) -> Response {
    let seconds = retry_after_seconds(wait);
    let response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "me_rate_limited",
        format!("too many sign-in attempts {}; try again in {seconds} s", scope_words(scope)),
    )
    .with("scope", scope)
    .with("seconds", seconds)
    .into_response();
    with_retry_after(response, seconds)
}

fn scope_words(scope: &str) -> &'static str {
    match scope {
        "phone" => "for this phone number",
        _ => "from this address",
    }
}

fn not_signed_in() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "me_not_signed_in",
        "sign in with your phone first: the session ended or was never started",
    )
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/v1/me; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("loyalty_me=; Path=/v1/me; Max-Age=0"))
}

fn client(state: &AppState, request: &Request) -> IpAddr {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    state.signup.client(peer, request.headers())
}

fn lang_of(request: &Request) -> Lang {
    request.extensions().get::<Lang>().copied().unwrap_or_default()
}

fn phone_of(state: &AppState, input: &str) -> Result<String, ApiError> {
    Ok(state.store.me_phone(input)?)
}

/// The customer of the request's session, or the 401.
pub(super) async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let cookie = access::cookie_value(headers, COOKIE_NAME).ok_or_else(not_signed_in)?;
    state.store.me_session(secret_hash(&cookie), now()).await?.ok_or_else(not_signed_in)
}

/// Sends a sign-in code by SMS to a customer's phone; the same answer for any valid phone.
#[utoipa::path(post, path = "/v1/me/login", tag = "self-service", request_body = MeLoginRequest,
    responses((status = 202, body = MeLoginAccepted), (status = 422, body = crate::wire::ErrorBody),
              (status = 429, body = crate::wire::ErrorBody, description = "rate limited; see Retry-After")),
    security(()))]
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let at = Instant::now();
    let (client, lang) = (client(&state, &request), lang_of(&request));
    if let Err(wait) = state.me.login_per_address.check(&client, at) {
        return too_many(wait, "address");
    }
    let body = match ApiJson::<MeLoginRequest>::from_request(request, &state).await {
        Ok(ApiJson(body)) => body,
        Err(e) => return e.into_response(),
    };
    let phone = match phone_of(&state, &body.phone) {
        Ok(phone) => phone,
        Err(e) => return e.into_response(),
    };
    if let Err(wait) = state.me.login_per_phone.check(&phone, at) {
        return too_many(wait, "phone");
    }
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    match state.store.me_new_code(phone.clone(), code.clone(), now()).await {
        Ok(Some(customer)) => {
            let text = match lang {
                Lang::Ru => format!("Код для входа в личный кабинет: {code}. Никому его не сообщайте."),
                Lang::En => format!("Your sign-in code: {code}. Do not share it with anyone."),
            };
            if let Err(e) =
                state.sms.queue(phone.clone(), text, PURPOSE, Duration::from_secs(CODE_SECONDS as u64)).await
            {
                return ApiError::from(e).into_response();
            }
            tracing::info!(customer = %customer, "a self-service sign-in code was queued");
        }
        Ok(None) => tracing::info!("a self-service sign-in code was asked for an unknown phone"),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let hint = crate::identity::phone_hint(&phone);
    let message = match lang {
        Lang::Ru => format!("Если номер {hint} есть в программе, на него придёт SMS с кодом."),
        Lang::En => format!("If {hint} is in the programme, a text message with a code is on its way."),
    };
    let answer = MeLoginAccepted { status: "sent".into(), hint, expires_in_seconds: CODE_SECONDS, message };
    (StatusCode::ACCEPTED, Json(answer)).into_response()
}

/// Checks the SMS code; a right one sets the session cookie.
#[utoipa::path(post, path = "/v1/me/verify", tag = "self-service", request_body = MeVerifyRequest,
    responses((status = 200, body = MeSignedIn, description = "signed in; the `loyalty_me` cookie is set"),
              (status = 401, body = crate::wire::ErrorBody, description = "code_wrong, code_locked or code_expired"),
              (status = 422, body = crate::wire::ErrorBody),
              (status = 429, body = crate::wire::ErrorBody, description = "rate limited; see Retry-After")),
    security(()))]
pub async fn verify(State(state): State<AppState>, request: Request) -> Response {
    let client = client(&state, &request);
    if let Err(wait) = state.me.verify_per_address.check(&client, Instant::now()) {
        return too_many(wait, "address");
    }
    let secure = access::over_https(&state, request.headers());
    let body = match ApiJson::<MeVerifyRequest>::from_request(request, &state).await {
        Ok(ApiJson(body)) => body,
        Err(e) => return e.into_response(),
    };
    let phone = match phone_of(&state, &body.phone) {
        Ok(phone) => phone,
        Err(e) => return e.into_response(),
    };
    let code = body.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return ApiError::unprocessable("invalid_code", "the code is the 6 digits of the SMS")
            .with("field", "code")
            .into_response();
    }
    let token = random_token();
    match state.store.me_check_code(phone, code.to_owned(), secret_hash(&token), now()).await {
        Ok(CodeCheck::SignedIn { customer_id }) => {
            tracing::info!(customer = %customer_id, "a shopper signed in to the self-service page");
            let mut response = Json(MeSignedIn { status: "signed_in".into() }).into_response();
            response.headers_mut().insert(SET_COOKIE, cookie(&token, ME_SESSION_SECONDS, secure));
            response
        }
        Ok(CodeCheck::Wrong { attempts_left }) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "code_wrong",
            format!("the code is wrong; {attempts_left} attempts left"),
        )
        .with("attempts_left", attempts_left)
        .into_response(),
        Ok(CodeCheck::Locked) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "code_locked", "too many wrong codes; ask for a new code")
                .into_response()
        }
        Ok(CodeCheck::NoCode) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "code_expired",
            "this code has expired or was never sent; ask for a new code",
        )
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The signed-in shopper's card, points, expiring points, tier, receipts and consents.
#[utoipa::path(get, path = "/v1/me", tag = "self-service",
    responses((status = 200, body = MeView), (status = 401, body = crate::wire::ErrorBody, description = "me_not_signed_in")),
    security(("me_session" = [])))]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = signed_in(&state, &headers).await?;
    let at = now();
    let (customer, program) = state.store.customer(id.clone()).await?;
    let wire = super::admin_customers::customer_json(&customer, &program, at);
    let expiring = state.store.me_expiring(id.clone(), at).await?;
    let receipts = state.store.me_receipts(id, 20).await?;
    let granted = |c: &Option<crate::wire::Consent>| c.as_ref().is_some_and(|c| c.granted);
    let (qr_token, qr_expires) = qr_token(&state, &customer.card, at).await?;
    let view = MeView {
        card: wire.card,
        name: wire.name,
        phone_hint: crate::identity::phone_hint(&wire.phone),
        points: wire.points,
        expiring: expiring.into_iter().map(|e| PointsExpiry::of((e.points, e.at))).collect(),
        tier: wire.group,
        next_tier: wire.next_tier.map(|t| MeNextTier { name: t.name, remaining: t.remaining }),
        receipts: receipts
            .into_iter()
            .map(|r| MeReceiptView {
                at: rfc3339(r.at),
                store: r.store,
                total: r.total,
                earned: r.earned,
                spent: r.spent,
            })
            .collect(),
        consents: MeConsents {
            sms: granted(&wire.consents.sms),
            email: granted(&wire.consents.email),
            personal_data: granted(&wire.consents.personal_data),
        },
        wallet: MeWallet {
            apple: state.wallets.apple.is_some().then(|| "/v1/me/wallet.pkpass".to_owned()),
            google: state.wallets.google.is_some().then(|| "/v1/me/wallet/google".to_owned()),
        },
        spending_code: program.verify_spending.then(|| "/v1/me/code".to_owned()),
        qr_token,
        qr_expires_at: crate::clock::rfc3339(qr_expires),
    };
    // Personal data: never kept by a shared cache or the browser's.
    Ok(([(axum::http::header::CACHE_CONTROL, "private, no-store")], Json(view)).into_response())
}

/// The card's signed QR token at `at` and when it expires; the plain card payload if the
/// program's key is missing (which `Store::new` prevents).
async fn qr_token(state: &AppState, card: &str, at: i64) -> Result<(String, i64), ApiError> {
    let payload = crate::identity::card_qr_payload(card);
    Ok(state.store.signed_qr(payload.clone(), at, state.qr_lifetime_s).await?.unwrap_or((payload, at)))
}

/// The signed-in shopper's card as the QR code tills read: a signed token that expires
/// (`--qr-lifetime`), so a screenshot of it stops working.
#[utoipa::path(get, path = "/v1/me/qr.svg", tag = "self-service",
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = crate::wire::ErrorBody)),
    security(("me_session" = [])))]
pub async fn qr(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = signed_in(&state, &headers).await?;
    let (customer, _) = state.store.customer(id).await?;
    let (token, _) = qr_token(&state, &customer.card, now()).await?;
    let svg = crate::identity::render_svg(&token)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "image/svg+xml"), (axum::http::header::CACHE_CONTROL, "private, no-store")],
        svg,
    )
        .into_response())
}

/// Withdraws the shopper's consent to SMS or email; recorded with source `web` and sent to
/// every till.
#[utoipa::path(post, path = "/v1/me/consents/withdraw", tag = "self-service", request_body = MeWithdrawRequest,
    responses((status = 200, body = MeConsents), (status = 401, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody, description = "invalid_channel")),
    security(("me_session" = [])))]
pub async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MeWithdrawRequest>,
) -> Result<Json<MeConsents>, ApiError> {
    let id = signed_in(&state, &headers).await?;
    let channel = match body.channel.as_str() {
        "sms" => "sms",
        "email" => "email",
        _ => {
            return Err(ApiError::unprocessable("invalid_channel", "channel must be \"sms\" or \"email\"")
                .with("field", "channel"))
        }
    };
    let consents = state.store.me_withdraw_consent(id.clone(), channel).await?;
    tracing::info!(customer = %id, channel, "a shopper withdrew a consent on the self-service page");
    let granted = |c: &Option<crate::wire::Consent>| c.as_ref().is_some_and(|c| c.granted);
    Ok(Json(MeConsents {
        sms: granted(&consents.sms),
        email: granted(&consents.email),
        personal_data: granted(&consents.personal_data),
    }))
}

/// Ends the session and clears the cookie.
#[utoipa::path(post, path = "/v1/me/logout", tag = "self-service",
    responses((status = 204, description = "signed out; the cookie is cleared")), security(("me_session" = [])))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(value) = access::cookie_value(&headers, COOKIE_NAME) {
        state.store.me_end_session(secret_hash(&value)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(SET_COOKIE, cookie("", 0, access::over_https(&state, &headers)));
    Ok(response)
}

/// The shopper's spending code of this moment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeCode {
    /// Six digits, for the cashier to type or scan.
    pub code: String,
    /// The code's 30-second step (RFC 6238's counter); the QR of the same code is
    /// `/v1/me/code.svg?step=…`.
    pub step: i64,
    /// Seconds until the next code.
    pub expires_in_s: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CodeStep {
    /// The step of the code to draw (the current one, or one either side).
    pub step: Option<String>,
}

/// The signed-in shopper's time-based spending code: what a till asks for when the program
/// confirms spending (`verify_spending`); the tills check it without the network.
#[utoipa::path(get, path = "/v1/me/code", tag = "self-service",
    responses((status = 200, body = MeCode), (status = 401, body = crate::wire::ErrorBody)),
    security(("me_session" = [])))]
pub async fn code(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = signed_in(&state, &headers).await?;
    let now = crate::clock::now();
    let secret = state.store.code_secret(id, now).await?;
    let code = MeCode {
        code: crate::verification::totp::code_at(&secret, now),
        step: crate::verification::totp::step_at(now),
        expires_in_s: crate::verification::totp::seconds_left(now),
    };
    Ok(([(axum::http::header::CACHE_CONTROL, "private, no-store")], Json(code)).into_response())
}

/// The spending code as a QR code (its six digits), for a till's scanner.
#[utoipa::path(get, path = "/v1/me/code.svg", tag = "self-service", params(CodeStep),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody, description = "invalid_step")),
    security(("me_session" = [])))]
pub async fn code_qr(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<CodeStep>,
) -> Result<Response, ApiError> {
    let id = signed_in(&state, &headers).await?;
    let now = crate::clock::now();
    let current = crate::verification::totp::step_at(now);
    let step = match query.step.as_deref().map(str::trim) {
        None | Some("") => current,
        Some(text) => match text.parse::<i64>() {
            Ok(step) if step.abs_diff(current) <= crate::verification::totp::SKEW_STEPS.unsigned_abs() => step,
            _ => {
                return Err(ApiError::unprocessable(
                    "invalid_step",
                    "this code is no longer shown; reload the page for the current one",
                ))
            }
        },
    };
    let secret = state.store.code_secret(id, now).await?;
    let svg = crate::identity::render_svg(&crate::verification::totp::code_at_step(&secret, step))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "image/svg+xml"), (axum::http::header::CACHE_CONTROL, "private, no-store")],
        svg,
    )
        .into_response())
}
