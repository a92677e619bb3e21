//! Admin: back-office accounts (owners manage them) and the signed-in user's own password and
//! second factor. Passwords are hashed here, on the blocking pool, before the use case runs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{audit, ApiError, AppState};
use crate::clock::now;
use crate::cloud::backoffice::{password, totp, Principal, Role};
use crate::cloud::store::{UserChange, UserView};
use crate::http::extract::{ApiJson, ApiPath};

/// Every account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

/// `POST /v1/admin/users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub role: Role,
    /// A manager's stores.
    #[serde(default)]
    pub stores: Vec<String>,
    pub password: String,
}

/// `PATCH /v1/admin/users/{id}`; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub stores: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

/// A new password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

/// `POST /v1/admin/me/password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// A second factor being set up: the secret for an authenticator app, as text, link and QR.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
    /// The link as an SVG QR code to scan.
    pub qr_svg: String,
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    pub code: String,
}

/// Checks and hashes a new password (Argon2id on the blocking pool).
pub async fn hash_new_password(password: String) -> Result<String, ApiError> {
    password::check_new(&password).map_err(|why| {
        ApiError::unprocessable("weak_password", why).with("field", "password").with("min", password::MIN_LENGTH)
    })?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| ApiError::unavailable("the password could not be hashed; retry"))?
        .map_err(|_| ApiError::unavailable("the password could not be hashed; retry"))
}

fn user_json(user: &UserView) -> serde_json::Value {
    serde_json::to_value(user).unwrap_or_default()
}

#[utoipa::path(get, path = "/v1/admin/users", tag = "back office", operation_id = "admin_user_list", responses((status = 200, body = UserList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList { users: state.store.users().await? }))
}

#[utoipa::path(post, path = "/v1/admin/users", tag = "back office", operation_id = "admin_user_create", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 409, body = crate::wire::ErrorBody, description = "user_exists"),
              (status = 422, body = crate::wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let hash = hash_new_password(request.password).await?;
    let user = state.store.add_user(request.email, request.role, request.stores, hash, now()).await?;
    audit(&state, &principal, "user.create", Some(user.id.clone()), None, Some(user_json(&user))).await;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(patch, path = "/v1/admin/users/{id}", tag = "back office", operation_id = "admin_user_update", request_body = UserPatch,
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 200, body = UserView), (status = 404, body = crate::wire::ErrorBody),
              (status = 409, body = crate::wire::ErrorBody, description = "last_owner")))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let change = UserChange { role: patch.role, stores: patch.stores, disabled: patch.disabled };
    let (before, after) = state.store.update_user(id.clone(), change, now()).await?;
    audit(&state, &principal, "user.update", Some(id), Some(user_json(&before)), Some(user_json(&after))).await;
    Ok(Json(after))
}

#[utoipa::path(post, path = "/v1/admin/users/{id}/password", tag = "back office", operation_id = "admin_user_reset_password", request_body = NewPassword,
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 204, description = "set; the account's sessions ended"), (status = 404, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody, description = "weak_password")))]
pub async fn reset_password(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<NewPassword>,
) -> Result<StatusCode, ApiError> {
    let hash = hash_new_password(request.password).await?;
    state.store.set_password(id.clone(), hash, None, now()).await?;
    audit(&state, &principal, "user.reset_password", Some(id), None, None).await;
    Ok(StatusCode::NO_CONTENT)
}

fn own_id(principal: &Principal) -> Result<String, ApiError> {
    principal.user_id.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "role_forbidden",
            "the admin token has no account; sign in to the back office",
        )
    })
}

#[utoipa::path(post, path = "/v1/admin/me/password", tag = "back office", operation_id = "admin_me_password", request_body = PasswordChange,
    responses((status = 204, description = "changed; other sessions ended"), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn change_own_password(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let id = own_id(&principal)?;
    let account = state.store.login_account(id.clone()).await?;
    let stored = account.map(|a| a.password_hash).unwrap_or_default();
    let current = request.current;
    let matches = tokio::task::spawn_blocking(move || password::verify(&current, &stored)).await.unwrap_or(false);
    if !matches {
        return Err(ApiError::unprocessable("wrong_password", "the current password is wrong; type it again")
            .with("field", "current"));
    }
    let hash = hash_new_password(request.new).await?;
    let keep = super::access::session_hash(&headers);
    state.store.set_password(id.clone(), hash, keep, now()).await?;
    audit(&state, &principal, "user.change_password", Some(id), None, None).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/admin/me/totp", tag = "back office", operation_id = "admin_me_totp_begin",
    responses((status = 200, body = TotpSetup, description = "a secret to confirm with a code")))]
pub async fn begin_totp(State(state): State<AppState>, principal: Principal) -> Result<Json<TotpSetup>, ApiError> {
    let id = own_id(&principal)?;
    let secret = totp::new_secret();
    let otpauth_url = totp::otpauth_url(&secret, &principal.who)
        .ok_or_else(|| ApiError::unavailable("the second factor could not be prepared; retry"))?;
    let qr_svg = crate::identity::render_svg(&otpauth_url).map_err(|_| {
        ApiError::unavailable("the second factor's QR code could not be drawn; type the secret instead")
    })?;
    state.store.begin_totp(id, secret.clone()).await?;
    Ok(Json(TotpSetup { secret, otpauth_url, qr_svg }))
}

#[utoipa::path(post, path = "/v1/admin/me/totp/confirm", tag = "back office", operation_id = "admin_me_totp_confirm", request_body = TotpCode,
    responses((status = 204, description = "the second factor is on"), (status = 422, body = crate::wire::ErrorBody, description = "totp_failed")))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<TotpCode>,
) -> Result<StatusCode, ApiError> {
    let id = own_id(&principal)?;
    let at = now();
    let pending = state.store.pending_totp(id.clone()).await?.ok_or_else(|| {
        ApiError::unprocessable("totp_not_started", "start setting up the second factor first (POST /v1/admin/me/totp)")
    })?;
    let step = totp::check(&pending, &request.code, at).ok_or_else(|| {
        ApiError::unprocessable("totp_failed", "the code from the authenticator app is wrong; enter the current one")
            .with("field", "code")
    })?;
    state.store.set_totp(id.clone(), Some(step), at).await?;
    audit(&state, &principal, "user.totp_on", Some(id), None, None).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/admin/me/totp", tag = "back office", operation_id = "admin_me_totp_off", responses((status = 204, description = "the second factor is off")))]
pub async fn disable_totp(State(state): State<AppState>, principal: Principal) -> Result<StatusCode, ApiError> {
    let id = own_id(&principal)?;
    state.store.set_totp(id.clone(), None, now()).await?;
    audit(&state, &principal, "user.totp_off", Some(id), None, None).await;
    Ok(StatusCode::NO_CONTENT)
}
