//! Receipt endpoints: calculate (a quote), commit (durable, idempotent), return, read.

use axum::extract::State;
use axum::Json;

use super::{ApiError, AppState};
use crate::clock;
use crate::http::common::validate_key;
use crate::http::extract::{ApiJson, ApiPath};
use crate::wire::RequestHash;
use crate::wire::{
    CalculateRequest, Calculation, CommitRequest, ReceiptList, ReceiptView, ReturnRequest, ReturnResult,
};

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

/// The receipts a list shows by default, and the most one page may hold.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// `?limit=&cursor=` of a receipt list, read as text so that a bad value gets its own answer.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Receipts per page, 1–1000 (default 100).
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page; absent for the newest.
    pub cursor: Option<String>,
}

impl ListQuery {
    fn page(&self) -> Result<(Option<i64>, usize), ApiError> {
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::unprocessable(
                        "invalid_limit",
                        format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                    .with("max", MAX_LIMIT)
                    .with("default", DEFAULT_LIMIT))
                }
            },
        };
        let before = match self.cursor.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(ApiError::unprocessable(
                        "invalid_cursor",
                        "this cursor was not given by this list; start again without a cursor",
                    ))
                }
            },
        };
        Ok((before, limit))
    }
}

fn list(receipts: Vec<crate::wire::ReceiptSummary>, next: Option<i64>) -> Json<ReceiptList> {
    Json(ReceiptList { receipts, next_cursor: next.map(|n| n.to_string()) })
}

/// This till's receipts, newest first, a page at a time (whatever committed them: the page,
/// the till's integration, MoySklad).
#[utoipa::path(get, path = "/v1/receipts", tag = "receipts", operation_id = "list_receipts", params(ListQuery),
    responses((status = 200, body = ReceiptList), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn list_all(
    State(state): State<AppState>,
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<ListQuery>,
) -> Result<Json<ReceiptList>, ApiError> {
    let (before, limit) = query.page()?;
    let (receipts, next) = state.store()?.receipts(None, before, limit).await?;
    Ok(list(receipts, next))
}

/// One customer's receipts at this till, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/receipts", tag = "receipts", operation_id = "list_customer_receipts",
    params(("id" = String, Path, description = "The customer's id"), ListQuery),
    responses((status = 200, body = ReceiptList), (status = 404, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody)))]
pub async fn list_for_customer(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<ListQuery>,
) -> Result<Json<ReceiptList>, ApiError> {
    let (before, limit) = query.page()?;
    let (receipts, next) = state.store()?.receipts(Some(id), before, limit).await?;
    Ok(list(receipts, next))
}
