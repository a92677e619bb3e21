//! Admin: what the cloud applied (receipts and their returns), the program, and the conflicts.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::paging::PageParams;
use super::{audit, scoped, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{AppliedReceipt, ConflictView, ProgramVersion};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::rules::Program;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// The customer whose receipts to list.
    pub customer: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptList {
    pub receipts: Vec<AppliedReceipt>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictQuery {
    /// Only conflicts of this kind (`overdraft`, `rejected_event`, …).
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    pub conflicts: Vec<ConflictView>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of a customer's receipts as applied, newest first.
#[utoipa::path(get, path = "/v1/admin/receipts", tag = "admin", operation_id = "admin_receipt_list", params(ReceiptQuery, PageParams),
    responses((status = 200, body = ReceiptList), (status = 404, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn receipts(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ReceiptQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<ReceiptList>, ApiError> {
    let page = state.store.receipts_of(query.customer, page.page()?).await?;
    let receipts = scoped::by_till(&state, &principal, page.items, |r| Some(r.till_id.as_str())).await?;
    Ok(Json(ReceiptList { receipts, next_cursor: page.next_cursor }))
}

/// One receipt of one till, as applied, with its returns.
#[utoipa::path(get, path = "/v1/admin/receipts/{till_id}/{receipt_id}", tag = "admin", operation_id = "admin_receipt_read",
    params(("till_id" = String, Path, description = "The till that committed the receipt"),
           ("receipt_id" = String, Path, description = "The receipt's id on that till")),
    responses((status = 200, body = AppliedReceipt), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((till_id, receipt_id)): ApiPath<(String, String)>,
) -> Result<Json<AppliedReceipt>, ApiError> {
    if scoped::till(&state, &principal, &till_id).await.is_err() {
        let missing = crate::cloud::store::Missing::Receipt { id: receipt_id, till: Some(till_id) };
        return Err(crate::cloud::store::CloudError::NotFound(missing).into());
    }
    Ok(Json(state.store.receipt(till_id, receipt_id).await?))
}

/// The current program version.
#[utoipa::path(get, path = "/v1/admin/program", tag = "admin", responses((status = 200, body = ProgramVersion)))]
pub async fn program(State(state): State<AppState>) -> Result<Json<ProgramVersion>, ApiError> {
    Ok(Json(state.store.program().await?))
}

/// Stores a new program version (CONTRACTS.md §program settings, tiers, promo codes, offline limits);
/// every till receives it with its next pull. Absent settings take their defaults.
#[utoipa::path(put, path = "/v1/admin/program", tag = "admin", request_body(content = Object),
    responses((status = 200, body = ProgramVersion), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn put_program(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(program): ApiJson<Program>,
) -> Result<Json<ProgramVersion>, ApiError> {
    let before = state.store.program().await?;
    let version = state.store.put_program(program).await?;
    tracing::info!(version = version.version, "program version stored");
    audit(
        &state,
        &principal,
        "program.publish",
        Some(version.version.to_string()),
        serde_json::to_value(&before).ok(),
        serde_json::to_value(&version).ok(),
    )
    .await;
    Ok(Json(version))
}

/// A page of overdrafts, over-used promo codes, rejected events and merged customers,
/// newest first.
#[utoipa::path(get, path = "/v1/admin/conflicts", tag = "admin", operation_id = "admin_conflict_list", params(ConflictQuery, PageParams),
    responses((status = 200, body = ConflictList), (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn conflicts(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ConflictQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<ConflictList>, ApiError> {
    let page = state.store.conflicts(query.kind, page.page()?).await?;
    let conflicts = scoped::by_till(&state, &principal, page.items, |c| c.till_id.as_deref()).await?;
    Ok(Json(ConflictList { conflicts, next_cursor: page.next_cursor }))
}
