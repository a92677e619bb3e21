//! Customer endpoints: search, enroll, read, edit, adjust points.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppState, Mode};
use crate::agent::store::{CustomerRecord, CustomerUpdate, NewCustomer};
use crate::clock;
use crate::http::common::validate_key;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::rules::Program;
use crate::wire::RequestHash;
use crate::wire::{AdjustmentRequest, AdjustmentResult, Customer, CustomerPatch, EnrollRequest, SearchResult};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A phone in any format, a card number, QR text, an email or the last 4+ digits of a phone.
    pub q: String,
}

/// Finds customers. Nothing found is an empty list, not an error.
#[utoipa::path(get, path = "/v1/customers/search", tag = "customers", params(SearchQuery),
    responses((status = 200, body = SearchResult), (status = 400, body = crate::wire::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResult>, ApiError> {
    let outcome = state.store()?.search_customers(query.q).await?;
    let now = clock::now();
    Ok(Json(SearchResult {
        matched_by: outcome.matched_by.map(str::to_owned),
        customers: outcome.customers.iter().map(|c| customer_json(c, &state.program(), now)).collect(),
    }))
}

/// Enrolls a customer at the till.
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = EnrollRequest,
    responses((status = 201, body = Customer), (status = 409, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn enroll(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EnrollRequest>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let now = clock::now();
    // Checked here, offline too: a mistyped code is the cashier's to fix now, while one the
    // cloud does not know can only be found out there (and is ignored there).
    let referral_code = match request.referral_code.as_deref().map(str::trim).filter(|code| !code.is_empty()) {
        Some(code) => Some(crate::identity::normalize_referral_code(code)?),
        None => None,
    };
    let new = NewCustomer {
        phone: request.phone,
        name: request.name,
        email: request.email,
        card: request.card,
        birthday: request.birthday,
        tags: request.tags,
        consents: request.consents,
        source: "till",
    };
    let customer = state.store()?.enroll_referred(new, referral_code, state.program(), now).await?;
    state.outbox_changed();
    tracing::info!(customer = %customer.id, phone = %crate::identity::mask_phone(&customer.phone), "customer enrolled");
    Ok((StatusCode::CREATED, Json(customer_json(&customer, &state.program(), now))))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", operation_id = "customer_read",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, body = Customer), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn read(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<Customer>, ApiError> {
    let customer = state.store()?.customer(id).await?;
    Ok(Json(customer_json(&customer, &state.program(), clock::now())))
}

/// Edits personal data and consents; absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers", request_body = CustomerPatch,
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, body = Customer), (status = 404, body = crate::wire::ErrorBody), (status = 409, body = crate::wire::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> Result<Json<Customer>, ApiError> {
    let now = clock::now();
    let update = CustomerUpdate {
        phone: patch.phone,
        name: patch.name,
        email: patch.email,
        birthday: patch.birthday,
        tags: patch.tags,
        consents: patch.consents,
    };
    let customer = state.store()?.update_customer(id, update, now).await?;
    state.outbox_changed();
    Ok(Json(customer_json(&customer, &state.program(), now)))
}

/// A manual correction of points (standalone mode only; a connected till asks the cloud).
#[utoipa::path(post, path = "/v1/customers/{id}/adjustments", tag = "customers", request_body = AdjustmentRequest,
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 201, body = AdjustmentResult), (status = 409, body = crate::wire::ErrorBody)))]
pub async fn adjust(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<(StatusCode, Json<AdjustmentResult>), ApiError> {
    if state.mode != Mode::Standalone {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "adjustments_in_cloud",
            "this till is connected to a cloud; make adjustments in the cloud's back office",
        ));
    }
    validate_key("id", &request.id)?;
    crate::identity::fields::check_adjustment(request.points, &request.reason)?;
    let hash = RequestHash::of(&request);
    let result = state.store()?.adjust_points(id, request, hash, state.program(), clock::now()).await?;
    state.outbox_changed();
    Ok((StatusCode::CREATED, Json(result)))
}

/// A customer as the API shows them, with points computed at `now` by whichever ledger is
/// the authority (the cloud's balance on a connected till, the local lots standalone).
pub fn customer_json(customer: &CustomerRecord, program: &Program, now: i64) -> Customer {
    customer.profile.to_wire(program, customer.points(now), customer.next_expiry(now))
}

/// Where a spending code went.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    /// The phone, masked as the cashier may read it aloud: `+7 *** ***-45-67`.
    pub sent_to: String,
    pub expires_in_s: i64,
}

/// Sends the customer a 6-digit code by SMS for confirming a spending of points
/// (`verify_spending`); the commit carries it as `"verification": {"code"}`. One code a
/// minute; five wrong codes lock the customer's codes for 15 minutes.
#[utoipa::path(post, path = "/v1/customers/{id}/verification-codes", tag = "customers",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 201, body = CodeSent), (status = 404, body = crate::wire::ErrorBody),
              (status = 429, body = crate::wire::ErrorBody, description = "verification_code_recent or verification_locked (details.retry_after_s)"),
              (status = 503, body = crate::wire::ErrorBody, description = "sms_unavailable")))]
pub async fn send_verification_code(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<CodeSent>), ApiError> {
    let store = state.store()?;
    let issued = store.issue_spending_code(id, clock::now()).await?;
    // A connected till asks the cloud, whose gateway and outbox send the chain's SMS; a
    // customer the cloud does not know yet (enrolled here, not synced) gets it from this till.
    if let (Mode::Connected, Some(sync)) = (&state.mode, &state.sync) {
        use crate::agent::sync::SpendingCodeError;
        match sync.client().send_spending_code(&issued.customer_id, &issued.code).await {
            Ok(queued) => {
                tracing::info!(customer = %issued.customer_id, "a spending code was sent through the cloud");
                return Ok((
                    StatusCode::CREATED,
                    Json(CodeSent { sent_to: queued.sent_to, expires_in_s: issued.expires_in_s }),
                ));
            }
            Err(SpendingCodeError::UnknownCustomer) => {}
            Err(SpendingCodeError::Refused { code, message, retry_after_s }) => {
                store.withdraw_spending_code(issued.customer_id).await?;
                let status = if code == "verification_code_recent" {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let error = ApiError::new(status, code, message);
                return Err(match retry_after_s {
                    Some(seconds) => error.with("retry_after_s", seconds),
                    None => error,
                });
            }
            Err(SpendingCodeError::Sync(e)) => {
                tracing::warn!(customer = %issued.customer_id, error = %e, "the cloud could not send a spending code");
                store.withdraw_spending_code(issued.customer_id).await?;
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sms_unavailable",
                    "the cloud, which sends the SMS, cannot be reached; ask the customer for the code on their page",
                ));
            }
        }
    }
    let message = crate::moysklad::CodeMessage {
        phone: issued.phone.clone(),
        code: issued.code.clone(),
        purpose: crate::moysklad::CodePurpose::Spending,
    };
    if let Err(e) = state.sms.send(&message).await {
        tracing::warn!(customer = %issued.customer_id, error = %e, "a spending code was not sent");
        store.withdraw_spending_code(issued.customer_id).await?;
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "sms_unavailable",
            "the SMS could not be sent; try again, or ask the customer for the code on their page",
        ));
    }
    tracing::info!(customer = %issued.customer_id, phone = %crate::identity::mask_phone(&issued.phone), "a spending code was sent");
    Ok((
        StatusCode::CREATED,
        Json(CodeSent { sent_to: crate::identity::phone_hint(&issued.phone), expires_in_s: issued.expires_in_s }),
    ))
}
