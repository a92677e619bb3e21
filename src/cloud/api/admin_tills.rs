//! Admin: tills and their one-time enrollment codes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::paging::PageParams;
use super::{audit, scoped, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{NewTill, TillView};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTill {
    /// The store the till is in.
    pub store: String,
    /// A name for the till ("Till 2").
    pub name: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TillQuery {
    /// Only this store's tills (for a manager, one of their own: another store's list is empty).
    pub store: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TillList {
    pub tills: Vec<TillView>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Creates a till and answers a one-time enrollment code (valid 24 hours, shown once).
#[utoipa::path(post, path = "/v1/admin/tills", tag = "admin", operation_id = "admin_till_create", request_body = CreateTill,
    responses((status = 201, body = NewTill), (status = 401, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateTill>,
) -> Result<(StatusCode, Json<NewTill>), ApiError> {
    if !principal.scope.allows(request.store.trim()) {
        return Err(ApiError::forbidden("role_forbidden", "a store manager creates tills for their own stores only")
            .with("store", request.store.trim()));
    }
    let till = state.store.create_till(request.store, request.name).await?;
    tracing::info!(till = %till.till_id, "till created");
    // The code is a credential: the log keeps the till, not the code.
    let after = serde_json::json!({ "store": till.store, "name": till.name, "code_expires_at": till.code_expires_at });
    audit(&state, &principal, "till.create", Some(till.till_id.clone()), None, Some(after)).await;
    Ok((StatusCode::CREATED, Json(till)))
}

/// A page of tills, oldest first, with when each last called, its agent's version, the events
/// its outbox still holds and whether it is online; a manager's page holds their stores' only.
#[utoipa::path(get, path = "/v1/admin/tills", tag = "admin", operation_id = "admin_till_list", params(TillQuery, PageParams),
    responses((status = 200, body = TillList), (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<TillQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<TillList>, ApiError> {
    let scope = principal.scope.narrowed(query.store.as_deref().map(str::trim));
    let page = state.store.list_tills(scope, page.page()?).await?;
    Ok(Json(TillList { tills: page.items, next_cursor: page.next_cursor }))
}

/// A new one-time code for an existing till, e.g. to enroll it again after a restore.
#[utoipa::path(post, path = "/v1/admin/tills/{id}/enrollment-code", tag = "admin", operation_id = "admin_till_new_code",
    params(("id" = String, Path, description = "The till's id")),
    responses((status = 201, body = NewTill), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn new_code(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<NewTill>), ApiError> {
    scoped::till(&state, &principal, &id).await?;
    let till = state.store.new_enrollment_code(id).await?;
    let after = serde_json::json!({ "code_expires_at": till.code_expires_at });
    audit(&state, &principal, "till.new_code", Some(till.till_id.clone()), None, Some(after)).await;
    Ok((StatusCode::CREATED, Json(till)))
}

/// Revokes a till (stolen, replaced, closed): its device token stops working at once, and its
/// unused enrollment codes too. A new enrollment code brings it back.
#[utoipa::path(post, path = "/v1/admin/tills/{id}/revoke", tag = "admin", operation_id = "admin_till_revoke",
    params(("id" = String, Path, description = "The till's id")),
    responses((status = 200, body = TillView), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TillView>, ApiError> {
    scoped::till(&state, &principal, &id).await?;
    let till = state.store.revoke_till(id.clone()).await?;
    tracing::info!(till = %id, "till revoked");
    audit(&state, &principal, "till.revoke", Some(id), None, serde_json::to_value(&till).ok()).await;
    Ok(Json(till))
}
