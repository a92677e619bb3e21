//! Middleware and helpers both servers use: the body-size guard, the timeout-and-log layer,
//! the JSON 404/405 fallbacks, idempotency fingerprints and caller-chosen id checks.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Refuses a body announced (by `Content-Length`) as larger than the limit before reading any
/// of it; the extractors' streaming limit still catches bodies that announce nothing.
/// Use with `from_fn_with_state(limit_in_bytes, check_declared_size)`.
pub async fn check_declared_size(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => ApiError::too_large().into_response(),
        _ => next.run(request).await,
    }
}

/// How long a request may take, and what to tell the caller when it took longer.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub limit: Duration,
    pub advice: &'static str,
}

/// Cuts off slow requests with a JSON 503 and logs each request — method, path without the
/// query (which may hold a phone number), status and time.
pub async fn time_and_log(State(deadline): State<Deadline>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = match tokio::time::timeout(deadline.limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "request_timeout", deadline.advice).into_response(),
    };
    tracing::debug!(%method, %path, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    response
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no_such_endpoint", "there is no such endpoint; see /openapi.json for the API")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not accept that method")
}

/// Ids and idempotency keys a caller chooses: 1–128 printable characters without spaces.
pub fn validate_key(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty() && value.len() <= 128 && value.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable("invalid_id", format!("{field} must be 1 to 128 characters without spaces"))
            .with("field", field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_and_bounded() {
        assert!(validate_key("id", "till-1/000042").is_ok());
        assert!(validate_key("id", "").is_err());
        assert!(validate_key("id", "a b").is_err());
        assert!(validate_key("id", &"x".repeat(129)).is_err());
    }
}
