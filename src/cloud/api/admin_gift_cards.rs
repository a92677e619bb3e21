//! Admin: gift cards — issue, list, read (with the sales paid with it), void. Amounts are
//! kopecks. MoySklad looks cards up by number (`/moysklad/v1/giftcard`) and pays with them in a
//! sale; connected tills do the same online through the sync API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::paging::PageParams;
use super::{audit, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::wire::{GiftCardIssue, GiftCardView};

/// Issues a card: `{amount}` in kopecks, optionally `number` (else a Luhn number 2999…) and
/// `expires_at` (RFC 3339).
#[utoipa::path(post, path = "/v1/admin/gift-cards", tag = "admin", operation_id = "admin_gift_card_issue", request_body = GiftCardIssue,
    responses((status = 201, body = GiftCardView), (status = 409, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn issue(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<GiftCardIssue>,
) -> Result<(StatusCode, Json<GiftCardView>), ApiError> {
    let card = state.store.gift_card_issue(request).await?;
    audit(&state, &principal, "gift_card.issue", Some(card.id.clone()), None, serde_json::to_value(&card).ok()).await;
    Ok((StatusCode::CREATED, Json(card)))
}

/// A page of the cloud's gift cards.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct GiftCardPage {
    /// Newest first.
    pub gift_cards: Vec<GiftCardView>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of cards, newest first.
#[utoipa::path(get, path = "/v1/admin/gift-cards", tag = "admin", operation_id = "admin_gift_card_list", params(PageParams),
    responses((status = 200, body = GiftCardPage), (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<GiftCardPage>, ApiError> {
    let page = state.store.gift_cards(page.page()?).await?;
    Ok(Json(GiftCardPage { gift_cards: page.items, next_cursor: page.next_cursor }))
}

/// A card by its id or number, with the sales paid with it.
#[utoipa::path(get, path = "/v1/admin/gift-cards/{id}", tag = "admin", operation_id = "admin_gift_card_read",
    params(("id" = String, Path, description = "The card's id or number")),
    responses((status = 200, body = GiftCardView), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn read(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<GiftCardView>, ApiError> {
    Ok(Json(state.store.gift_card(id).await?))
}

/// Voids a card for good: MoySklad then sees it `INVALID` and no sale can pay with it.
#[utoipa::path(post, path = "/v1/admin/gift-cards/{id}/void", tag = "admin", operation_id = "admin_gift_card_void",
    params(("id" = String, Path, description = "The card's id or number")),
    responses((status = 200, body = GiftCardView), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn void(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GiftCardView>, ApiError> {
    let card = state.store.gift_card_void(id).await?;
    audit(&state, &principal, "gift_card.void", Some(card.id.clone()), None, serde_json::to_value(&card).ok()).await;
    Ok(Json(card))
}
