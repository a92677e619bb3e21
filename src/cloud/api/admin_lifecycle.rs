//! Admin: the birthday job, run now (CONTRACTS.md §campaigns, `birthday`). Every cloud process
//! also runs it at start and every hour (`cloud::lifecycle`); running it again grants nothing
//! twice. Referrals are read under the customer (`admin_customers::referrals`).

use axum::extract::State;
use axum::Json;

use super::{audit, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::BirthdayRun;

/// Grants the birthday points due now: every customer whose birthday's window (the program's
/// `birthday.days_before` to `days_after`, in its `time_zone`) holds this moment and who has
/// not had them for that birthday's year. Answers how many were granted.
#[utoipa::path(post, path = "/v1/admin/birthdays/grant", tag = "admin", operation_id = "admin_birthdays_grant",
    responses((status = 200, body = BirthdayRun)))]
pub async fn grant(State(state): State<AppState>, principal: Principal) -> Result<Json<BirthdayRun>, ApiError> {
    let run = state.store.grant_birthdays(crate::clock::now()).await?;
    if run.granted > 0 {
        audit(&state, &principal, "birthdays.grant", None, None, serde_json::to_value(&run).ok()).await;
    }
    Ok(Json(run))
}
