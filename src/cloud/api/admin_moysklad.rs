//! Admin: a store's MoySklad access key. `POST` creates it (or replaces it: the old key stops
//! working at once) and shows it once; the cloud keeps its SHA-256. `DELETE` revokes it. `GET
//! /v1/admin/stores/moysklad-keys` lists the stores that have or had one (never the keys).
//! The store then enters `https://<this cloud>/moysklad/v1/` and the key in MoySklad.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::{audit, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{MoyskladKey, MoyskladStore};
use crate::http::extract::ApiPath;

/// The stores connected to MoySklad.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MoyskladStores {
    pub stores: Vec<MoyskladStore>,
}

/// Every store that has a MoySklad key or had one revoked, by name, with when its key was made
/// or revoked. Reading it changes nothing, so the audit log is not written.
#[utoipa::path(get, path = "/v1/admin/stores/moysklad-keys", tag = "admin", operation_id = "admin_moysklad_keys_list",
    responses((status = 200, body = MoyskladStores), (status = 401, body = crate::wire::ErrorBody), (status = 403, body = crate::wire::ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<MoyskladStores>, ApiError> {
    Ok(Json(MoyskladStores { stores: state.store.moysklad_stores().await? }))
}

/// Creates or replaces the store's MoySklad key; the answer is the only time it is shown.
#[utoipa::path(post, path = "/v1/admin/stores/{store}/moysklad-key", tag = "admin", operation_id = "admin_moysklad_key_create",
    params(("store" = String, Path, description = "The store's name, as its tills carry it")),
    responses((status = 201, body = MoyskladKey), (status = 401, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store): ApiPath<String>,
) -> Result<(StatusCode, Json<MoyskladKey>), ApiError> {
    let key = state.store.moysklad_new_key(store).await?;
    tracing::info!(store = %key.store, till = %key.till_id, "MoySklad key created");
    // The key itself is a credential and stays out of the log.
    let after = serde_json::json!({ "till_id": key.till_id });
    audit(&state, &principal, "moysklad.key_create", Some(key.store.clone()), None, Some(after)).await;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Revokes the store's MoySklad key; its documents stay.
#[utoipa::path(delete, path = "/v1/admin/stores/{store}/moysklad-key", tag = "admin", operation_id = "admin_moysklad_key_revoke",
    params(("store" = String, Path, description = "The store's name")),
    responses((status = 204), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.store.moysklad_revoke_key(store.clone()).await?;
    audit(&state, &principal, "moysklad.key_revoke", Some(store), None, None).await;
    Ok(StatusCode::NO_CONTENT)
}
