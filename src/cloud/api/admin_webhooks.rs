//! Admin: webhooks (CONTRACTS.md §webhooks) — subscribe a URL to `balance_changed` and `customer_created`,
//! list and delete subscriptions, and see (and resend) their deliveries. The secret that signs
//! deliveries is shown once, when the webhook is created. A receiver inside the cloud's own
//! network is refused (`webhook_address_private`) unless the cloud allows it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::paging::PageParams;
use super::{audit, ApiError, AppState};
use crate::clock::{now, now_ms};
use crate::cloud::backoffice::Principal;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::wire::{DeliveryList, WebhookCreate, WebhookCreated, WebhookList};

/// Subscribes `url` to `events`; answers the signing secret (shown this once).
#[utoipa::path(post, path = "/v1/admin/webhooks", tag = "admin", operation_id = "admin_webhook_create", request_body = WebhookCreate,
    responses((status = 201, body = WebhookCreated), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<WebhookCreate>,
) -> Result<(StatusCode, Json<WebhookCreated>), ApiError> {
    let allow_private = state.webhooks.allow_private;
    let created = state.store.create_webhook(request.url, request.events, allow_private, now()).await?;
    tracing::info!(webhook = %created.id, "webhook created");
    // Without the secret: it signs deliveries and is shown once.
    let after = serde_json::json!({ "url": created.url, "events": created.events });
    audit(&state, &principal, "webhook.create", Some(created.id.clone()), None, Some(after)).await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Every webhook (without secrets), with its deliveries counted by status.
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin", operation_id = "admin_webhook_list", responses((status = 200, body = WebhookList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<WebhookList>, ApiError> {
    Ok(Json(WebhookList { webhooks: state.store.list_webhooks().await? }))
}

/// Deletes a webhook and its deliveries; nothing more is sent to it.
#[utoipa::path(delete, path = "/v1/admin/webhooks/{id}", tag = "admin", operation_id = "admin_webhook_delete",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 204), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_webhook(id.clone()).await?;
    audit(&state, &principal, "webhook.delete", Some(id), None, None).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state: `pending`, `delivered` or `failed`.
    pub status: Option<String>,
}

/// A page of a webhook's deliveries, newest first: status, attempts, the receiver's last
/// answer, the body.
#[utoipa::path(get, path = "/v1/admin/webhooks/{id}/deliveries", tag = "admin", operation_id = "admin_webhook_deliveries",
    params(("id" = String, Path, description = "The webhook's id"), DeliveryQuery, PageParams),
    responses((status = 200, body = DeliveryList), (status = 404, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    lang: crate::http::Lang,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<DeliveryList>, ApiError> {
    let page = state.store.deliveries(id, query.status, page.page()?).await?;
    // The stored error in the reader's language.
    let deliveries = page
        .items
        .into_iter()
        .map(|mut delivery| {
            delivery.last_error = delivery
                .last_error
                .map(|error| crate::cloud::webhooks::error_sentence(delivery.last_status, &error).say(lang));
            delivery
        })
        .collect();
    Ok(Json(DeliveryList { deliveries, next_cursor: page.next_cursor }))
}

/// Sends a failed delivery again (same id and body), with a fresh set of attempts.
#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "admin", operation_id = "admin_webhook_retry",
    params(("id" = String, Path, description = "The webhook's id"), ("delivery_id" = String, Path, description = "The failed delivery's id")),
    responses((status = 202), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, delivery_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.store.retry_delivery(id.clone(), delivery_id.clone(), now_ms()).await?;
    let after = serde_json::json!({ "delivery": delivery_id });
    audit(&state, &principal, "webhook.retry", Some(id), None, Some(after)).await;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SmsQuery {
    /// Only messages in this state: `pending`, `sent`, `failed`, `expired`.
    pub status: Option<String>,
}

/// The SMS gateway in use and the latest 100 messages, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SmsList {
    /// `log` (development: logged, not sent), `webhook:<address>` or `smsru`.
    pub gateway: String,
    pub messages: Vec<crate::cloud::store::SmsView>,
}

/// The SMS codes the cloud sent (MoySklad's verification codes, self-service logins): each
/// one's state, attempts and the gateway's last error, the phone and the code masked.
#[utoipa::path(get, path = "/v1/admin/sms", tag = "admin", operation_id = "admin_sms_list", params(SmsQuery),
    responses((status = 200, body = SmsList), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn sms(
    State(state): State<AppState>,
    _principal: Principal,
    ApiQuery(query): ApiQuery<SmsQuery>,
) -> Result<Json<SmsList>, ApiError> {
    let status = query.status.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(status) = &status {
        if !["pending", "sent", "failed", "expired"].contains(&status.as_str()) {
            return Err(ApiError::unprocessable("invalid_status", "status must be pending, sent, failed or expired")
                .with("param", "status"));
        }
    }
    let gateway = match state.sms.gateway() {
        crate::sms::SmsGateway::Log => "log".to_owned(),
        crate::sms::SmsGateway::Webhook { url, .. } => format!("webhook:{url}"),
        crate::sms::SmsGateway::SmsRu { .. } => "smsru".to_owned(),
    };
    Ok(Json(SmsList { gateway, messages: state.store.sms_list(status, 100).await? }))
}
