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
            StoreError::Rules(rule) => ApiError::from(rule),
        }
    }
}
