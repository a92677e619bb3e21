//! The sync API for agents (CONTRACTS.md §sync, `wire::sync`): enroll, push, pull; and the gift card
//! calls a connected till makes online (`wire::gift_cards`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::{ApiError, AppState, TillId};
use crate::cloud::store::{CloudError, DEFAULT_LIMIT, MAX_BATCH};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::wire::{
    GiftCardRedeem, GiftCardRedeemed, GiftCardView, KnownEventsRequest, KnownEventsResponse, PullResponse, PushRequest,
    PushResponse, TillEnrollRequest, TillEnrollResponse, TillReport, MAX_KNOWN_EVENTS,
};

/// Exchanges a one-time enrollment code for the till's device token.
#[utoipa::path(post, path = "/v1/enroll", tag = "sync", request_body = TillEnrollRequest,
    responses((status = 200, body = TillEnrollResponse), (status = 401, body = crate::wire::ErrorBody),
        (status = 429, body = crate::wire::ErrorBody, description = "too many wrong codes from this address; see Retry-After")),
    security(()))]
pub async fn enroll(State(state): State<AppState>, request: Request) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let client = match state.signup.admit_enrolment(peer, request.headers()) {
        Ok(client) => client,
        Err(refused) => return *refused,
    };
    let request = match ApiJson::<TillEnrollRequest>::from_request(request, &state).await {
        Ok(ApiJson(request)) => request,
        Err(e) => return e.into_response(),
    };
    match state.store.enroll_till(request.code).await {
        Ok(answer) => {
            tracing::info!(till = %answer.till_id, "till enrolled");
            Json(answer).into_response()
        }
        Err(e) => {
            if matches!(e, CloudError::Denied { code, .. } if code.starts_with("enrollment_code_")) {
                state.signup.wrong_enrolment_code(client);
            }
            ApiError::from(e).into_response()
        }
    }
}

/// The push's path: its count of pending events is recorded once it is answered.
pub const PUSH_PATH: &str = "/v1/sync/push";

/// Applies the till's events in order; one answer per event up to the first `out_of_order`
/// or `sequence_conflict` (events after it are not processed).
#[utoipa::path(post, path = "/v1/sync/push", tag = "sync", request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 401, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)),
    security(("device_token" = [])))]
pub async fn push(
    State(state): State<AppState>,
    Extension(TillId(till_id)): Extension<TillId>,
    Extension(report): Extension<TillReport>,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    let pushed = push_events(&state, &till_id, request).await;
    // The till counted its outbox with this push's events in it. Those the cloud answered for
    // for good (applied, duplicate, rejected) leave the outbox when the answer arrives, so
    // what is left is the count less those: recorded now, it is true as soon as the push is
    // done, and a push that drains the outbox records 0 without waiting for the next call.
    // (Recording the raw count would show the last batch as pending until the pull after it;
    // an answer lost on the way is the one case where the till still holds events the cloud
    // has, and its next push, answered `duplicate`, settles it.)
    if let Some(pending) = report.pending_events {
        let answered = match &pushed {
            Ok(response) => response.results.iter().filter(|r| r.outcome.is_final()).count(),
            Err(_) => 0,
        };
        let left =
            TillReport { agent_version: None, pending_events: Some(pending.saturating_sub(answered as i64).max(0)) };
        if let Err(e) = state.store.till_seen(&till_id, crate::clock::now(), left).await {
            tracing::warn!(till = %till_id, error = %e, "could not note the till's pending events");
        }
    }
    pushed.map(Json)
}

async fn push_events(state: &AppState, till_id: &str, request: PushRequest) -> Result<PushResponse, ApiError> {
    if request.events.len() > MAX_BATCH {
        return Err(ApiError::unprocessable(
            "batch_too_large",
            format!("send at most {MAX_BATCH} events per push, in seq order"),
        )
        .with("max", MAX_BATCH));
    }
    if request.events.windows(2).any(|pair| pair[1].seq <= pair[0].seq) || request.events.iter().any(|e| e.seq < 1) {
        return Err(ApiError::unprocessable("events_not_in_order", "events must have seq ≥ 1 in increasing order"));
    }
    let printable =
        |text: &str, max: usize| !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control);
    if request.events.iter().any(|e| !printable(&e.event_id, 128)) {
        return Err(ApiError::unprocessable(
            "invalid_event_id",
            "every event_id must be 1 to 128 characters without control characters",
        ));
    }
    if request.events.iter().any(|e| !printable(&e.created_at, 64)) {
        return Err(ApiError::unprocessable("invalid_event", "every created_at must be an RFC 3339 time"));
    }
    let results = state.store.push(till_id.to_owned(), request.events).await?;
    Ok(PushResponse { results })
}

/// Which of these events the cloud already holds: asked by a till enrolled again over a
/// database restored from a backup, before it numbers its unsent events after the cloud's.
#[utoipa::path(post, path = "/v1/sync/known-events", tag = "sync", request_body = KnownEventsRequest,
    responses((status = 200, body = KnownEventsResponse), (status = 401, body = crate::wire::ErrorBody),
        (status = 422, body = crate::wire::ErrorBody)),
    security(("device_token" = [])))]
pub async fn known_events(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<KnownEventsRequest>,
) -> Result<Json<KnownEventsResponse>, ApiError> {
    if request.event_ids.len() > MAX_KNOWN_EVENTS {
        return Err(ApiError::unprocessable(
            "batch_too_large",
            format!("ask about at most {MAX_KNOWN_EVENTS} events per call"),
        )
        .with("max", MAX_KNOWN_EVENTS));
    }
    let events = state.store.known_events(request.event_ids).await?;
    Ok(Json(KnownEventsResponse { events }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// The `next_cursor` of the previous page; absent = from the beginning.
    pub cursor: Option<String>,
    /// Changes per page (1–5000, default 500).
    pub limit: Option<i64>,
    /// Seconds to wait for a change when there is none (0–30, default 0).
    pub wait: Option<u64>,
}

/// A page of changes after the cursor; with `wait`, answers as soon as there is one.
#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", params(PullQuery),
    responses((status = 200, body = PullResponse), (status = 401, body = crate::wire::ErrorBody)),
    security(("device_token" = [])))]
pub async fn pull(
    State(state): State<AppState>,
    Extension(TillId(till_id)): Extension<TillId>,
    ApiQuery(query): ApiQuery<PullQuery>,
) -> Result<Json<PullResponse>, ApiError> {
    if query.cursor.as_ref().is_some_and(|c| c.len() > 200) {
        return Err(ApiError::bad_request("invalid_query", "the cursor is too long").with("cursor", ""));
    }
    let wait = Duration::from_secs(query.wait.unwrap_or(0));
    let page = state.store.pull(till_id, query.cursor, query.limit.unwrap_or(DEFAULT_LIMIT), wait).await?;
    Ok(Json(page))
}

/// A gift card by its number, for a connected till's MoySklad lookup (asked online: a till
/// keeps no copy of the cards, so none can be spent twice offline).
#[utoipa::path(get, path = "/v1/sync/gift-cards/{number}", tag = "sync", operation_id = "sync_gift_card",
    params(("number" = String, Path, description = "The card's number")),
    responses((status = 200, body = GiftCardView), (status = 404, body = crate::wire::ErrorBody)),
    security(("device_token" = [])))]
pub async fn gift_card(
    State(state): State<AppState>,
    ApiPath(number): ApiPath<String>,
) -> Result<Json<GiftCardView>, ApiError> {
    let card = state
        .store
        .gift_card_by_number(number.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("gift_card_not_found", "no gift card has this number; check it"))?;
    Ok(Json(GiftCardView::of(&card, crate::clock::now(), Vec::new())))
}

/// Takes a connected till's sale's gift card payments now, before the till records the sale.
/// Idempotent by `(till, receipt_id)`; a card that cannot pay refuses all of them (422
/// `gift_card_*`), other payments under the same receipt are a 409.
#[utoipa::path(post, path = "/v1/sync/gift-cards/redeem", tag = "sync", operation_id = "sync_redeem_gift_cards", request_body = GiftCardRedeem,
    responses((status = 200, body = GiftCardRedeemed), (status = 409, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)),
    security(("device_token" = [])))]
pub async fn redeem_gift_cards(
    State(state): State<AppState>,
    Extension(TillId(till_id)): Extension<TillId>,
    ApiJson(request): ApiJson<GiftCardRedeem>,
) -> Result<Json<GiftCardRedeemed>, ApiError> {
    let receipt_id = request.receipt_id.clone();
    let cards = state.store.gift_card_redeem(till_id.clone(), request.receipt_id, request.payments).await?;
    tracing::info!(till = %till_id, receipt = %receipt_id, cards = cards.len(), "gift card payments taken for a till");
    Ok(Json(GiftCardRedeemed { receipt_id, cards }))
}

/// How often one customer may be sent a spending code.
const SPENDING_CODE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends a customer the spending code a connected till made, with the cloud's SMS gateway
/// (outbox, retries, the back office's list). One a minute per customer.
#[utoipa::path(post, path = "/v1/sync/spending-codes", tag = "sync", operation_id = "sync_send_spending_code",
    request_body = crate::wire::SpendingCodeRequest,
    responses((status = 202, body = crate::wire::SpendingCodeQueued), (status = 404, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody, description = "invalid_code"),
              (status = 429, body = crate::wire::ErrorBody, description = "verification_code_recent")),
    security(("device_token" = [])))]
pub async fn send_spending_code(
    State(state): State<AppState>,
    Extension(TillId(till_id)): Extension<TillId>,
    ApiJson(request): ApiJson<crate::wire::SpendingCodeRequest>,
) -> Result<(axum::http::StatusCode, Json<crate::wire::SpendingCodeQueued>), ApiError> {
    let Some(code) = crate::verification::normalize_code(&request.code) else {
        return Err(ApiError::unprocessable("invalid_code", "a spending code is six digits"));
    };
    let (customer, _) = state.store.customer(request.customer_id).await?;
    if state.store.sms_sent_within(customer.phone.clone(), SPENDING_CODE_PURPOSE, SPENDING_CODE_EVERY).await? {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "verification_code_recent",
            "a code was sent less than a minute ago; ask the customer to check their SMS, or send another in a minute",
        )
        .with("retry_after_s", SPENDING_CODE_EVERY.as_secs()));
    }
    let text = format!("Код для списания баллов: {code}");
    let ttl = std::time::Duration::from_secs(crate::verification::sms_code::CODE_TTL_SECONDS as u64);
    state.sms.queue(customer.phone.clone(), text, SPENDING_CODE_PURPOSE, ttl).await?;
    tracing::info!(till = %till_id, customer = %customer.id, "a spending code queued for a till");
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(crate::wire::SpendingCodeQueued { sent_to: crate::identity::phone_hint(&customer.phone) }),
    ))
}

/// The SMS outbox's purpose for a till's spending code.
const SPENDING_CODE_PURPOSE: &str = "spending_code";
