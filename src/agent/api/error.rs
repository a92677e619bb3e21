//! How the agent's storage errors answer over HTTP.

use axum::http::StatusCode;

use crate::agent::store::StoreError;
pub use crate::http::ApiError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable(source) => {
                tracing::error!(error = %source, "storage failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    format!(
                        "the till's local database cannot be written ({source}); nothing was stored — check the disk and retry"
                    ),
                )
            }
            StoreError::CannotOpen { .. } | StoreError::TaskFailed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                format!("{e}; nothing was stored — run `loyalty-agent doctor` and retry"),
            ),
            StoreError::Corrupt { .. } => {
                // One unreadable row: the request needing it fails, nothing else does, and a
                // retry cannot help, so it is neither a 503 nor a reason to call the store
                // unhealthy.
                tracing::error!(error = %e, "a stored record cannot be read");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "stored_data_corrupt",
                    format!(
                        "{e}; the rest of the till keeps working — run `loyalty-agent doctor` to list the damaged records, and restore agent.db from a backup if they are needed"
                    ),
                )
            }
            StoreError::NotFound(missing) => {
                let params = missing.id().map(|id| vec![("id", id.to_owned())]).unwrap_or_default();
                ApiError::not_found(missing.code(), format!("{missing} not found; check the identifier"))
                    .with_params(params)
            }
            StoreError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            StoreError::ConflictWith { code, message, params } => {
                ApiError::new(StatusCode::CONFLICT, code, message).with_params(params)
            }
            StoreError::Invalid { code, message } => ApiError::unprocessable(code, message),
            StoreError::InvalidWith { code, message, params } => {
                ApiError::unprocessable(code, message).with_params(params)
            }
            StoreError::TooSoon { code, message, retry_after_s } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
                    .with("retry_after_s", retry_after_s)
                    .with("minutes", (retry_after_s.max(1) + 59) / 60)
            }
            StoreError::Rules(rule) => ApiError::from(rule),
        }
    }
}
