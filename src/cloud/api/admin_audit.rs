//! Admin: the audit log, newest first (owners).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::paging::PageParams;
use super::{ApiError, AppState};
use crate::cloud::store::AuditEntry;
use crate::http::extract::ApiQuery;

/// Filters of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action (`customer.adjust`, `program.publish`, …).
    pub action: Option<String>,
    /// Only changes to this target (a customer's id, a till's id, …).
    pub target: Option<String>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/admin/audit", tag = "back office", operation_id = "admin_audit_list", params(AuditQuery, PageParams),
    responses((status = 200, body = AuditList), (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<AuditList>, ApiError> {
    let page = state.store.audit_log(query.action, query.target, page.page()?).await?;
    Ok(Json(AuditList { entries: page.items, next_cursor: page.next_cursor }))
}
