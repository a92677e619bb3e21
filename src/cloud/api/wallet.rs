//! Wallet cards over HTTP.
//!
//! - Apple's PassKit web service under `/wallet/apple` (the `webServiceURL` every pass
//!   carries): register and unregister a device, list the serials updated since a tag, serve
//!   the latest pass (`Last-Modified`, 304 on `If-Modified-Since`), and take a device's logs.
//!   The credential is `Authorization: ApplePass <authenticationToken>` of the pass.
//! - The customer's downloads: `GET /v1/me/wallet.pkpass` and `GET /v1/me/wallet/google`
//!   (the self-service cookie), and the back office's `GET /v1/admin/customers/{id}/wallet.pkpass`,
//!   `…/wallet/google` and `GET /v1/admin/wallet` (what the wallets are doing).
//!
//! The use cases are `store::wallet`; the cards are built by `crate::wallet`.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, IF_MODIFIED_SINCE, LAST_MODIFIED, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{scoped, ApiError, AppState};
use crate::clock::now;
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{Registration, WalletCard, WalletSummary};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};

const PKPASS: &str = "application/vnd.apple.pkpass";

fn not_configured(wallet: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "wallet_not_configured",
        format!("{wallet} cards are not set up on this cloud; the operator configures them (README \"Wallet cards\")"),
    )
    .with("wallet", wallet)
}

fn pass_unauthorized() -> Response {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "pass_unauthorized",
        "send the pass's token as \"Authorization: ApplePass <token>\"",
    )
    .into_response()
}

fn build_failed(e: crate::wallet::WalletError) -> ApiError {
    tracing::error!(error = %e, "a wallet card could not be built");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "wallet_unavailable",
        "the card could not be built right now; try again later",
    )
}

fn apple_pass_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("ApplePass "))
        .map(|v| v.trim().to_owned())
}

/// The signed .pkpass of `card`, as a download.
fn pkpass(state: &AppState, card: &WalletCard) -> Result<Response, ApiError> {
    let apple = state.wallets.apple.as_ref().ok_or_else(|| not_configured("apple"))?;
    let bytes = apple.passes.build(&card.view, &card.auth_token).map_err(build_failed)?;
    Ok((
        [
            (CONTENT_TYPE, PKPASS.to_owned()),
            (CACHE_CONTROL, "private, no-store".to_owned()),
            (LAST_MODIFIED, httpdate::fmt_http_date(seconds(card.modified_at))),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"card-{}.pkpass\"", card.serial)),
        ],
        bytes,
    )
        .into_response())
}

fn seconds(at: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64)
}

/// The "Save to Google Wallet" link of a customer's card (noting the card as on Google).
async fn google_link(state: &AppState, customer_id: String) -> Result<String, ApiError> {
    let google = state.wallets.google.as_ref().ok_or_else(|| not_configured("google"))?;
    let card = state.store.wallet_card_for_google(customer_id, now()).await?;
    let origins: Vec<String> = state.wallets.public_url.iter().cloned().collect();
    google.save_link(&card.view, &origins).map_err(build_failed)
}

/// `POST …/registrations/…` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterDevice {
    #[serde(rename = "pushToken")]
    pub push_token: String,
}

/// Registers a device for a pass's updates (201 new, 200 already registered).
#[utoipa::path(post, path = "/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}", tag = "wallet",
    request_body = RegisterDevice,
    params(("device" = String, Path, description = "The device's library id"),
           ("pass_type" = String, Path, description = "The pass type id"),
           ("serial" = String, Path, description = "The pass's serial number (the card number)")),
    responses((status = 201), (status = 200), (status = 401, body = crate::wire::ErrorBody)), security(()))]
pub async fn register(
    State(state): State<AppState>,
    ApiPath((device, pass_type, serial)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterDevice>,
) -> Result<Response, ApiError> {
    let Some(token) = apple_pass_token(&headers) else { return Ok(pass_unauthorized()) };
    if !valid_part(&device) || !valid_part(&body.push_token) || !is_our_pass_type(&state, &pass_type) {
        return Ok(pass_unauthorized());
    }
    let outcome = state.store.wallet_register(device, pass_type, serial, body.push_token, token, now()).await?;
    Ok(match outcome {
        Registration::Created => StatusCode::CREATED.into_response(),
        Registration::AlreadyRegistered => StatusCode::OK.into_response(),
        Registration::Unauthorized => pass_unauthorized(),
    })
}

/// Unregisters a device from a pass.
#[utoipa::path(delete, path = "/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}", tag = "wallet",
    params(("device" = String, Path, description = "The device's library id"),
           ("pass_type" = String, Path, description = "The pass type id"),
           ("serial" = String, Path, description = "The pass's serial number (the card number)")),
    responses((status = 200), (status = 401, body = crate::wire::ErrorBody)), security(()))]
pub async fn unregister(
    State(state): State<AppState>,
    ApiPath((device, pass_type, serial)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = apple_pass_token(&headers) else { return Ok(pass_unauthorized()) };
    if !state.store.wallet_unregister(device, pass_type, serial, token).await? {
        return Ok(pass_unauthorized());
    }
    Ok(StatusCode::OK.into_response())
}

/// A device id or push token: what Apple sends (hex, dots, dashes), bounded.
fn valid_part(value: &str) -> bool {
    !value.is_empty() && value.len() <= 200 && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

fn is_our_pass_type(state: &AppState, pass_type: &str) -> bool {
    state.wallets.apple.as_ref().is_some_and(|apple| apple.passes.pass_type_id() == pass_type)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdatedSince {
    /// The `lastUpdated` tag of the previous answer.
    #[serde(rename = "passesUpdatedSince")]
    pub passes_updated_since: Option<String>,
}

/// The serials a device should fetch again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpdatedSerials {
    #[serde(rename = "serialNumbers")]
    pub serial_numbers: Vec<String>,
    #[serde(rename = "lastUpdated")]
    pub last_updated: String,
}

/// The serials registered on a device that changed since a tag (204 when none did).
#[utoipa::path(get, path = "/wallet/apple/v1/devices/{device}/registrations/{pass_type}", tag = "wallet",
    params(("device" = String, Path, description = "The device's library id"),
           ("pass_type" = String, Path, description = "The pass type id"), UpdatedSince),
    responses((status = 200, body = UpdatedSerials), (status = 204),
              (status = 404, body = crate::wire::ErrorBody, description = "wallet_not_configured")), security(()))]
pub async fn updated(
    State(state): State<AppState>,
    ApiPath((device, pass_type)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<UpdatedSince>,
) -> Result<Response, ApiError> {
    if state.wallets.apple.is_none() {
        return Err(not_configured("apple"));
    }
    // A tag this cloud never gave (or none) lists every pass of the device.
    let since = query.passes_updated_since.and_then(|tag| tag.trim().parse::<i64>().ok());
    let (serials, last) = state.store.wallet_updated_serials(device, pass_type, since).await?;
    if serials.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(UpdatedSerials { serial_numbers: serials, last_updated: last.to_string() }).into_response())
}

/// The latest version of a pass; 304 when it has not changed since `If-Modified-Since`.
#[utoipa::path(get, path = "/wallet/apple/v1/passes/{pass_type}/{serial}", tag = "wallet",
    params(("pass_type" = String, Path, description = "The pass type id"),
           ("serial" = String, Path, description = "The pass's serial number (the card number)")),
    responses((status = 200, content_type = "application/vnd.apple.pkpass", body = Vec<u8>), (status = 304),
              (status = 401, body = crate::wire::ErrorBody)), security(()))]
pub async fn latest_pass(
    State(state): State<AppState>,
    ApiPath((pass_type, serial)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = apple_pass_token(&headers) else { return Ok(pass_unauthorized()) };
    if !is_our_pass_type(&state, &pass_type) {
        return Ok(pass_unauthorized());
    }
    let Some(card) = state.store.wallet_pass(serial, token, now()).await? else { return Ok(pass_unauthorized()) };
    let since =
        headers.get(IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).and_then(|v| httpdate::parse_http_date(v).ok());
    if since.is_some_and(|since| seconds(card.modified_at) <= since) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    pkpass(&state, &card)
}

/// What a device reports about passes it could not handle.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeviceLogs {
    #[serde(default)]
    pub logs: Vec<String>,
}

/// Takes a device's log lines (logged, bounded).
#[utoipa::path(post, path = "/wallet/apple/v1/log", tag = "wallet", request_body = DeviceLogs,
    responses((status = 200)), security(()))]
pub async fn device_log(ApiJson(body): ApiJson<DeviceLogs>) -> StatusCode {
    for line in body.logs.iter().take(20) {
        let line: String = line.chars().take(500).collect();
        tracing::warn!(log = %line, "a wallet device reported a problem");
    }
    StatusCode::OK
}

/// The card's logo, for Google Wallet to fetch (the class's `programLogo`).
#[utoipa::path(get, path = "/wallet/logo.png", tag = "wallet",
    responses((status = 200, content_type = "image/png", body = Vec<u8>),
              (status = 404, body = crate::wire::ErrorBody, description = "wallet_not_configured")), security(()))]
pub async fn logo(State(state): State<AppState>) -> Result<Response, ApiError> {
    let png = state.wallets.logo_png.clone().filter(|_| state.wallets.google.is_some());
    let png = png.ok_or_else(|| not_configured("google"))?;
    Ok(([(CONTENT_TYPE, "image/png"), (CACHE_CONTROL, "public, max-age=86400")], png).into_response())
}

/// The signed-in shopper's Apple Wallet pass.
#[utoipa::path(get, path = "/v1/me/wallet.pkpass", tag = "self-service",
    responses((status = 200, content_type = "application/vnd.apple.pkpass", body = Vec<u8>),
              (status = 401, body = crate::wire::ErrorBody), (status = 404, body = crate::wire::ErrorBody, description = "wallet_not_configured")),
    security(("me_session" = [])))]
pub async fn me_pkpass(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = super::me::signed_in(&state, &headers).await?;
    if state.wallets.apple.is_none() {
        return Err(not_configured("apple"));
    }
    let card = state.store.wallet_card(id, now()).await?;
    pkpass(&state, &card)
}

/// Sends the signed-in shopper to Google Wallet to save their card (303).
#[utoipa::path(get, path = "/v1/me/wallet/google", tag = "self-service",
    responses((status = 303), (status = 401, body = crate::wire::ErrorBody), (status = 404, body = crate::wire::ErrorBody)),
    security(("me_session" = [])))]
pub async fn me_google(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = super::me::signed_in(&state, &headers).await?;
    let link = google_link(&state, id).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, link), (CACHE_CONTROL, "no-store".to_owned())]).into_response())
}

/// A customer's Apple Wallet pass, for the back office to hand over or check.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/wallet.pkpass", tag = "admin",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, content_type = "application/vnd.apple.pkpass", body = Vec<u8>), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn admin_pkpass(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    scoped::customer(&state, &principal, &id).await?;
    if state.wallets.apple.is_none() {
        return Err(not_configured("apple"));
    }
    let card = state.store.wallet_card(id, now()).await?;
    pkpass(&state, &card)
}

/// A customer's "Save to Google Wallet" link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoogleSaveLink {
    pub url: String,
}

#[utoipa::path(get, path = "/v1/admin/customers/{id}/wallet/google", tag = "admin",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, body = GoogleSaveLink), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn admin_google(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GoogleSaveLink>, ApiError> {
    scoped::customer(&state, &principal, &id).await?;
    Ok(Json(GoogleSaveLink { url: google_link(&state, id).await? }))
}

/// What the wallets are configured as and doing: cards, devices, pushes and updates.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WalletStatus {
    pub apple: bool,
    pub google: bool,
    #[serde(flatten)]
    pub summary: WalletSummary,
}

#[utoipa::path(get, path = "/v1/admin/wallet", tag = "admin", responses((status = 200, body = WalletStatus)))]
pub async fn admin_status(State(state): State<AppState>) -> Result<Json<WalletStatus>, ApiError> {
    Ok(Json(WalletStatus {
        apple: state.wallets.apple.is_some(),
        google: state.wallets.google.is_some(),
        summary: state.store.wallet_summary().await?,
    }))
}
