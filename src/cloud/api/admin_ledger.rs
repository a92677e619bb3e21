//! Admin: what the cloud applied (receipts and their returns), the program, and the conflicts.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::cloud::store::{AppliedReceipt, ConflictView, ProgramVersion};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::rules::Program;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReceiptQuery {
    /// The customer whose receipts to list.
    pub customer: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptList {
    pub receipts: Vec<AppliedReceipt>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConflictQuery {
    /// Only conflicts of this kind (`overdraft`, `rejected_event`, …).
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    pub conflicts: Vec<ConflictView>,
}

/// A customer's receipts as applied, newest first.
#[utoipa::path(get, path = "/v1/admin/receipts", tag = "admin", params(ReceiptQuery),
    responses((status = 200, body = ReceiptList), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn receipts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ReceiptQuery>,
) -> Result<Json<ReceiptList>, ApiError> {
    Ok(Json(ReceiptList { receipts: state.store.receipts_of(query.customer).await? }))
}

/// One receipt of one till, as applied, with its returns.
#[utoipa::path(get, path = "/v1/admin/receipts/{till_id}/{receipt_id}", tag = "admin",
    responses((status = 200, body = AppliedReceipt), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    ApiPath((till_id, receipt_id)): ApiPath<(String, String)>,
) -> Result<Json<AppliedReceipt>, ApiError> {
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
    ApiJson(program): ApiJson<Program>,
) -> Result<Json<ProgramVersion>, ApiError> {
    let version = state.store.put_program(program).await?;
    tracing::info!(version = version.version, "program version stored");
    Ok(Json(version))
}

/// Overdrafts, over-used promo codes, rejected events and merged customers, newest first.
#[utoipa::path(get, path = "/v1/admin/conflicts", tag = "admin", params(ConflictQuery),
    responses((status = 200, body = ConflictList)))]
pub async fn conflicts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ConflictQuery>,
) -> Result<Json<ConflictList>, ApiError> {
    Ok(Json(ConflictList { conflicts: state.store.conflicts(query.kind).await? }))
}
