//! `GET /v1/reports/shift`: this till's day for the shift's close, from its own records (it
//! works offline, and matches the cloud's `GET /v1/admin/reports/shift` once synced).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::http::extract::ApiQuery;
use crate::reports::{format_day, local_day, parse_date, ShiftTotals};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftQuery {
    /// The local day (UTC+3), `YYYY-MM-DD`; today if absent.
    pub date: Option<String>,
}

/// One day of this till.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShiftView {
    pub date: String,
    #[serde(flatten)]
    pub totals: ShiftTotals,
}

#[utoipa::path(get, path = "/v1/reports/shift", tag = "reports", operation_id = "shift_report", params(ShiftQuery),
    responses((status = 200, body = ShiftView), (status = 422, body = crate::wire::ErrorBody, description = "invalid_date")))]
pub async fn shift(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ShiftQuery>,
) -> Result<Json<ShiftView>, ApiError> {
    let day = match query.date.as_deref().map(str::trim) {
        None | Some("") => local_day(crate::clock::now()),
        Some(text) => parse_date(text).ok_or_else(|| {
            ApiError::unprocessable("invalid_date", "date must be a date as YYYY-MM-DD, such as 2026-03-08")
                .with("param", "date")
        })?,
    };
    let totals = state.store()?.shift_totals(day).await?;
    Ok(Json(ShiftView { date: format_day(day), totals }))
}
