//! Admin: customers — create, read, find by phone/card/email, edit, adjust points. Customers
//! are shown exactly as the agent shows them (`wire::Customer`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::paging::PageParams;
use super::{audit, scoped, validate_key, ApiError, AppState};
use crate::clock::now;
use crate::cloud::backoffice::Principal;
use crate::cloud::store::StoreScope;
use crate::cloud::store::{CustomerInput, CustomerRecord};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::rules::Program;
use crate::wire::RequestHash;
use crate::wire::{AdjustmentRequest, AdjustmentResult, Customer, CustomerPatch, EnrollRequest, PointsBalance};

/// A customer as the API shows them, with points computed at `at` from the cloud's lots and
/// the tier of the current program; the referral fields are [`with_referrals`]'.
pub fn customer_json(customer: &CustomerRecord, program: &Program, at: i64) -> Customer {
    let points = PointsBalance {
        balance: customer.wallet.balance(at),
        available: customer.wallet.available(at),
        pending: customer.wallet.pending(at),
    };
    customer.profile.to_wire(program, points, customer.wallet.next_expiry(at))
}

/// Customers as the admin API answers them: [`customer_json`] with their referral code, who
/// referred them and where that referral stands, read for all of them at once.
async fn with_referrals(
    state: &AppState,
    customers: &[CustomerRecord],
    program: &Program,
    at: i64,
) -> Result<Vec<Customer>, ApiError> {
    let ids = customers.iter().map(|c| c.profile.id.clone()).collect();
    let mut views = state.store.referral_views(ids).await?;
    Ok(customers
        .iter()
        .map(|customer| {
            let mut json = customer_json(customer, program, at);
            if let Some(view) = views.remove(&customer.profile.id) {
                json.referral_code = view.code;
                json.referred_by = view.referred_by;
                json.referral = view.status;
            }
            json
        })
        .collect())
}

/// [`with_referrals`] of one customer.
async fn one_with_referrals(
    state: &AppState,
    customer: &CustomerRecord,
    program: &Program,
    at: i64,
) -> Result<Customer, ApiError> {
    let mut all = with_referrals(state, std::slice::from_ref(customer), program, at).await?;
    Ok(all.pop().unwrap_or_else(|| customer_json(customer, program, at)))
}

/// A customer to create from the back office: what a till sends at enrolment, and the store
/// they join at. `EnrollRequest`'s fields are spelled out rather than flattened in, because
/// serde cannot refuse unknown fields through `#[serde(flatten)]`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Any common format; normalised to E.164 with the configured default country.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Assigned (prefix + digits + Luhn check digit) when absent.
    pub card: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub consents: Option<crate::wire::ConsentsInput>,
    /// The store the customer joins at. A store manager's customer joins at one of their
    /// stores: absent, their only one (with several, 422 `store_required`); another store is
    /// 403 `store_forbidden`. For the whole chain it is optional.
    pub store: Option<String>,
}

/// The store a new customer joins at, as `principal` may choose it.
fn joining_store(principal: &Principal, asked: Option<String>) -> Result<Option<String>, ApiError> {
    let asked = asked.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(store) = &asked {
        if !crate::identity::valid_store(store) {
            return Err(ApiError::unprocessable(
                "invalid_store",
                format!(
                    "store must be 1 to {} letters, digits, single spaces and simple punctuation",
                    crate::identity::MAX_STORE_LEN
                ),
            )
            .with("max", crate::identity::MAX_STORE_LEN)
            .with("field", "store"));
        }
    }
    match (&principal.scope, asked) {
        (StoreScope::All, asked) => Ok(asked),
        (StoreScope::Only(_), Some(store)) if principal.scope.allows(&store) => Ok(Some(store)),
        (StoreScope::Only(_), Some(store)) => Err(ApiError::forbidden(
            "store_forbidden",
            "a store manager creates customers for their own stores only; choose one of yours",
        )
        .with("store", store)
        .with("field", "store")),
        (StoreScope::Only(stores), None) => match stores.as_slice() {
            [only] => Ok(Some(only.clone())),
            _ => Err(ApiError::unprocessable(
                "store_required",
                "you manage several stores: say in `store` which one the customer joins at",
            )
            .with("field", "store")),
        },
    }
}

/// Creates a customer (card assigned when none is given, welcome points granted).
#[utoipa::path(post, path = "/v1/admin/customers", tag = "admin", operation_id = "admin_customer_create", request_body = NewCustomer,
    responses((status = 201, body = Customer), (status = 403, body = crate::wire::ErrorBody, description = "store_forbidden: a store outside the manager's"),
        (status = 409, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<NewCustomer>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    // A store manager's customer joins at one of their stores, so they can see them.
    let store = joining_store(&principal, request.store)?;
    let enroll = EnrollRequest {
        phone: request.phone,
        name: request.name,
        email: request.email,
        card: request.card,
        birthday: request.birthday,
        tags: request.tags,
        consents: request.consents,
        referral_code: None,
    };
    let (customer, program) = state.store.create_customer(enroll, store.clone(), principal.who.clone()).await?;
    let json = one_with_referrals(&state, &customer, &program, now()).await?;
    let mut after = serde_json::to_value(&json).ok();
    if let (Some(after), Some(store)) = (after.as_mut(), store) {
        after["store"] = serde_json::Value::String(store);
    }
    audit(&state, &principal, "customer.create", Some(json.id.clone()), None, after).await;
    Ok((StatusCode::CREATED, Json(json)))
}

#[utoipa::path(get, path = "/v1/admin/customers/{id}", tag = "admin", operation_id = "admin_customer_read",
    params(("id" = String, Path, description = "The customer's id (an id a till made that was merged is followed to the customer)")),
    responses((status = 200, body = Customer), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Customer>, ApiError> {
    let (customer, program) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &customer.id).await?;
    Ok(Json(one_with_referrals(&state, &customer, &program, now()).await?))
}

/// Customers found, or a page of the directory.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerList {
    /// `phone`, `card` or `email` when a search matched; null otherwise.
    pub matched_by: Option<String>,
    pub customers: Vec<Customer>,
    /// Listing and `q`: the `cursor` of the next page; null on the last page and for a search
    /// by `phone`, `card` or `email` (one customer at most).
    pub next_cursor: Option<String>,
}

/// Finds customers by exactly one of `phone` (any format), `card` or `email`, or by `q` (any
/// text: a phone or its last digits, a card, an email, part of a name in any case; paged,
/// latest changed first); with none of them, a page of the whole directory (by id). A store
/// manager's pages hold their stores' customers only, and are full pages.
#[utoipa::path(get, path = "/v1/admin/customers", tag = "admin", operation_id = "admin_customer_list", params(CustomerInput, PageParams),
    responses((status = 200, body = CustomerList), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn find(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CustomerInput>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<CustomerList>, ApiError> {
    let page = page.page()?;
    if query.is_empty() {
        let (customers, program) = state.store.list_customers(page, principal.scope.clone()).await?;
        return Ok(Json(CustomerList {
            matched_by: None,
            customers: with_referrals(&state, &customers.items, &program, now()).await?,
            next_cursor: customers.next_cursor,
        }));
    }
    if let Some(q) = query.q.clone() {
        if query.phone.is_some() || query.card.is_some() || query.email.is_some() {
            return Err(ApiError::unprocessable(
                "invalid_query",
                "give q alone, or exactly one of phone, card or email",
            )
            .with("one_of", ""));
        }
        let (customers, program) = state.store.search_customers(q, principal.scope.clone(), page).await?;
        return Ok(Json(CustomerList {
            matched_by: (!customers.items.is_empty()).then(|| "q".to_owned()),
            customers: with_referrals(&state, &customers.items, &program, now()).await?,
            next_cursor: customers.next_cursor,
        }));
    }
    let matched_by = if query.phone.is_some() {
        "phone"
    } else if query.card.is_some() {
        "card"
    } else {
        "email"
    };
    let (customers, program) = state.store.find_customers(query).await?;
    let customers = scoped::customers(&state, &principal, customers, |c| c.id.as_str()).await?;
    Ok(Json(CustomerList {
        matched_by: (!customers.is_empty()).then(|| matched_by.to_owned()),
        customers: with_referrals(&state, &customers, &program, now()).await?,
        next_cursor: None,
    }))
}

/// Edits personal data and consents; absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/admin/customers/{id}", tag = "admin", operation_id = "admin_customer_update", request_body = CustomerPatch,
    params(("id" = String, Path, description = "The customer's id (an id a till made that was merged is followed to the customer)")),
    responses((status = 200, body = Customer), (status = 404, body = crate::wire::ErrorBody), (status = 409, body = crate::wire::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> Result<Json<Customer>, ApiError> {
    let (before, program) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &before.id).await?;
    let before = one_with_referrals(&state, &before, &program, now()).await?;
    let (customer, program) = state.store.update_customer(before.id.clone(), patch, principal.who.clone()).await?;
    let after = one_with_referrals(&state, &customer, &program, now()).await?;
    audit(
        &state,
        &principal,
        "customer.update",
        Some(after.id.clone()),
        serde_json::to_value(&before).ok(),
        serde_json::to_value(&after).ok(),
    )
    .await;
    Ok(Json(after))
}

/// A manual correction of points, idempotent by `id`; a negative one may leave debt.
#[utoipa::path(post, path = "/v1/admin/customers/{id}/adjustments", tag = "admin", operation_id = "admin_customer_adjust", request_body = AdjustmentRequest,
    params(("id" = String, Path, description = "The customer's id (an id a till made that was merged is followed to the customer)")),
    responses((status = 201, body = AdjustmentResult), (status = 404, body = crate::wire::ErrorBody), (status = 409, body = crate::wire::ErrorBody)))]
pub async fn adjust(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<(StatusCode, Json<AdjustmentResult>), ApiError> {
    validate_key("id", &request.id)?;
    crate::identity::fields::check_adjustment(request.points, &request.reason)?;
    let (customer, _) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &customer.id).await?;
    let before = customer.wallet.balance(now());
    let hash = RequestHash::of(&request);
    let change = serde_json::json!({ "points": request.points, "reason": request.reason, "id": request.id });
    let result = state.store.adjust_points(customer.id.clone(), request, hash).await?;
    audit(
        &state,
        &principal,
        "customer.adjust",
        Some(customer.profile.id),
        Some(serde_json::json!({ "balance": before })),
        serde_json::to_value(&result).ok().map(|mut after| {
            after["request"] = change;
            after
        }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(result)))
}

/// How many ledger entries the customer card shows.
const ACTIVITY_ENTRIES: i64 = 200;

/// A customer's point lots with their dates and their latest 200 ledger entries with till and
/// store: what the back office's customer card lists.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/activity", tag = "admin", operation_id = "admin_customer_activity",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, body = crate::cloud::store::CustomerActivity), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn activity(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<crate::cloud::store::CustomerActivity>, ApiError> {
    let (customer, _) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &customer.id).await?;
    Ok(Json(state.store.customer_activity(customer.profile.id, ACTIVITY_ENTRIES).await?))
}

/// The customer's card as the QR code the tills read, to show or print.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/qr.svg", tag = "admin", operation_id = "admin_customer_qr",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn qr(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (customer, _) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &customer.id).await?;
    let svg = crate::identity::render_svg(&crate::identity::card_qr_payload(&customer.card))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "image/svg+xml"), (axum::http::header::CACHE_CONTROL, "private, no-cache")],
        svg,
    )
        .into_response())
}

/// A page of a customer's consent history.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentHistory {
    /// Newest first.
    pub changes: Vec<crate::cloud::store::ConsentChange>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Every change of the customer's consents (sms, email, personal data), newest first: when it
/// was given or withdrawn, from where (a till and its store, the sign-up form, the back office
/// and who), paged.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/consents", tag = "admin", operation_id = "admin_customer_consents",
    params(("id" = String, Path, description = "The customer's id"), PageParams),
    responses((status = 200, body = ConsentHistory), (status = 404, body = crate::wire::ErrorBody),
        (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn consents(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<ConsentHistory>, ApiError> {
    let page = page.page()?;
    let (customer, _) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &customer.id).await?;
    let history = state.store.consent_history(customer.profile.id, page).await?;
    Ok(Json(ConsentHistory { changes: history.items, next_cursor: history.next_cursor }))
}

/// A page of the friends a customer referred.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReferralList {
    /// Newest first.
    pub referrals: Vec<crate::cloud::store::ReferredFriend>,
    /// How many of all their friends were rewarded (what `max_per_referrer` counts).
    pub rewarded: i64,
    /// The program's `referral.max_per_referrer`; null for no limit (or no referral program).
    pub max_per_referrer: Option<i64>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The friends who joined with the customer's referral code, newest first: where each
/// referral stands (pending, rewarded, refused and why), the qualifying receipt and what the
/// reward gave, paged.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/referrals", tag = "admin", operation_id = "admin_customer_referrals",
    params(("id" = String, Path, description = "The referrer's customer id"), PageParams),
    responses((status = 200, body = ReferralList), (status = 404, body = crate::wire::ErrorBody),
        (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn referrals(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<ReferralList>, ApiError> {
    let page = page.page()?;
    let (customer, _) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &customer.id).await?;
    let friends = state.store.referred_friends(customer.profile.id, page).await?;
    Ok(Json(ReferralList {
        referrals: friends.page.items,
        rewarded: friends.rewarded,
        max_per_referrer: friends.max_per_referrer,
        next_cursor: friends.page.next_cursor,
    }))
}
