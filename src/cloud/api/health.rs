//! `GET /v1/health`: answers without a token, for load balancers and monitoring.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::AppState;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CloudHealth {
    /// `ok`, or `unhealthy` when the database does not answer.
    pub status: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Why the database check failed, while it fails.
    pub error: Option<String>,
    pub uptime_seconds: u64,
}

/// Health of this process and its database; 503 when the database does not answer.
#[utoipa::path(get, path = "/v1/health", tag = "health", responses((status = 200, body = CloudHealth), (status = 503, body = CloudHealth)), security(()))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<CloudHealth>) {
    let check = state.store.ping().await;
    let status = if check.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(CloudHealth {
            status: if check.is_ok() { "ok" } else { "unhealthy" }.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database: state.store.dialect_name().to_owned(),
            error: check.err().map(|e| e.to_string()),
            uptime_seconds: state.started.elapsed().as_secs(),
        }),
    )
}
