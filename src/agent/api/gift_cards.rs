//! Gift cards of a standalone till: issue, list, read (with the sales paid with it), void.
//! Amounts are kopecks. A connected till's cards live in the cloud (`/v1/admin/gift-cards`
//! there): issuing or voiding here answers 422 `connected_mode`; listing and reading show the
//! till's own (none) and the payments its sales recorded.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::{ApiError, AppState};
use crate::clock;
use crate::http::extract::{ApiJson, ApiPath};
use crate::wire::{GiftCardIssue, GiftCardList, GiftCardView};

/// Issues a card: `{amount}` in kopecks, optionally `number` (else a Luhn number 2970…) and
/// `expires_at` (RFC 3339).
#[utoipa::path(post, path = "/v1/gift-cards", tag = "gift cards", operation_id = "gift_card_issue", request_body = GiftCardIssue,
    responses((status = 201, body = GiftCardView), (status = 409, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn issue(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<GiftCardIssue>,
) -> Result<(StatusCode, Json<GiftCardView>), ApiError> {
    let card = state.store()?.gift_card_issue(request, clock::now()).await?;
    tracing::info!(card = %card.id, amount = card.initial, "gift card issued");
    Ok((StatusCode::CREATED, Json(card)))
}

/// The newest cards first (at most 1000).
#[utoipa::path(get, path = "/v1/gift-cards", tag = "gift cards", operation_id = "gift_card_list", responses((status = 200, body = GiftCardList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<GiftCardList>, ApiError> {
    Ok(Json(GiftCardList { gift_cards: state.store()?.gift_cards(clock::now()).await? }))
}

/// A card by its id or number, with the sales paid with it.
#[utoipa::path(get, path = "/v1/gift-cards/{id}", tag = "gift cards", operation_id = "gift_card_read",
    params(("id" = String, Path, description = "The card's id or number")),
    responses((status = 200, body = GiftCardView), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn read(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<GiftCardView>, ApiError> {
    Ok(Json(state.store()?.gift_card(id, clock::now()).await?))
}

/// Voids a card for good: MoySklad then sees it `INVALID` and no sale can pay with it.
#[utoipa::path(post, path = "/v1/gift-cards/{id}/void", tag = "gift cards", operation_id = "gift_card_void",
    params(("id" = String, Path, description = "The card's id or number")),
    responses((status = 200, body = GiftCardView), (status = 404, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn void(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<GiftCardView>, ApiError> {
    let card = state.store()?.gift_card_void(id, clock::now()).await?;
    tracing::info!(card = %card.id, "gift card voided");
    Ok(Json(card))
}
