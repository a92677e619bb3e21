//! Receipt endpoints: calculate (a quote), commit (durable, idempotent), return, read.

use axum::extract::State;
use axum::Json;

use super::{ApiError, AppState};
use crate::clock;
use crate::http::common::validate_key;
use crate::http::extract::{ApiJson, ApiPath};
use crate::wire::RequestHash;
use crate::wire::{CalculateRequest, Calculation, CommitRequest, ReceiptView, ReturnRequest, ReturnResult};

/// Prices a receipt with points; changes nothing.
#[utoipa::path(post, path = "/v1/receipts/calculate", tag = "receipts", request_body = CalculateRequest,
    responses((status = 200, body = Calculation), (status = 404, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn calculate(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CalculateRequest>,
) -> Result<Json<Calculation>, ApiError> {
    let answer = state.store()?.calculate(request, state.program(), state.offline(), clock::now()).await?;
    Ok(Json(answer))
}

/// Commits a sale. The receipt `id` is the idempotency key: the same body again answers the
/// stored result; a different body with the same id is a 409. A 200 means it is on disk.
#[utoipa::path(post, path = "/v1/receipts", tag = "receipts", request_body = CommitRequest,
    responses((status = 200, body = Calculation), (status = 409, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody), (status = 503, body = crate::wire::ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CommitRequest>,
) -> Result<Json<Calculation>, ApiError> {
    validate_key("id", &request.id)?;
    let hash = RequestHash::of(&request);
    let answer = state.store()?.commit_receipt(request, hash, state.program(), state.offline(), clock::now()).await?;
    state.outbox_changed();
    Ok(Json(answer))
}

/// Returns lines of a committed receipt (or everything with `all: true`).
#[utoipa::path(post, path = "/v1/receipts/{id}/returns", tag = "receipts", request_body = ReturnRequest,
    params(("id" = String, Path, description = "The receipt's id, as the till committed it")),
    responses((status = 200, body = ReturnResult), (status = 404, body = crate::wire::ErrorBody),
              (status = 409, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn return_lines(
    State(state): State<AppState>,
    ApiPath(receipt_id): ApiPath<String>,
    ApiJson(request): ApiJson<ReturnRequest>,
) -> Result<Json<ReturnResult>, ApiError> {
    validate_key("id", &request.id)?;
    let hash = RequestHash::of(&request);
    let answer = state.store()?.return_receipt(receipt_id, request, hash, state.program(), clock::now()).await?;
    state.outbox_changed();
    Ok(Json(answer))
}

/// The stored receipt, as it was answered at commit, and its returns.
#[utoipa::path(get, path = "/v1/receipts/{id}", tag = "receipts", operation_id = "receipt_read",
    params(("id" = String, Path, description = "The receipt's id, as the till committed it")),
    responses((status = 200, body = ReceiptView), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn read(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<ReceiptView>, ApiError> {
    Ok(Json(state.store()?.receipt(id).await?))
}
