//! Admin: what the campaigns have given (CONTRACTS.md §campaigns) — per campaign across the
//! chain, and per customer (stamp cards and the receipts campaigns applied to). The figures
//! come from `store::campaigns`.

use axum::extract::State;
use axum::Json;

use super::{scoped, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{CampaignReport, CustomerCampaigns};
use crate::http::extract::ApiPath;

/// The current program's campaigns, each with its state (running, scheduled, ended, budget
/// spent), what it has given in points and discount, on how many receipts, customers and
/// tills, and what is left of its budget; then campaigns since removed that gave something.
#[utoipa::path(get, path = "/v1/admin/campaigns", tag = "admin", operation_id = "admin_campaigns",
    responses((status = 200, body = CampaignReport)))]
pub async fn list(State(state): State<AppState>, _principal: Principal) -> Result<Json<CampaignReport>, ApiError> {
    Ok(Json(state.store.campaign_report().await?))
}

/// A customer's stamp cards ("4 of 5") and the latest 50 receipts campaigns applied to.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/campaigns", tag = "admin", operation_id = "admin_customer_campaigns",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, body = CustomerCampaigns), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn customer(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CustomerCampaigns>, ApiError> {
    let (customer, _) = state.store.customer(id).await?;
    scoped::customer(&state, &principal, &customer.id).await?;
    Ok(Json(state.store.customer_campaigns(customer.profile.id).await?))
}
