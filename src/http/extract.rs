//! Request extractors that answer in our error format instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON body: `application/json` required (which also closes form-post CSRF), parsed with
/// errors a till integrator can act on.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with \"Content-Type: application/json\"",
            ));
        }
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("empty_body", "the request body is empty; send a JSON object")
                .with("body", "json"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// Reads the whole body, mapping the size limit to a 413 in our format.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::bad_request("unreadable_body", format!("the request body could not be read: {rejection}"))
        }
    })
}

/// Parses JSON: broken syntax is a 400, well-formed JSON of the wrong shape a 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
                    .with("line", e.line())
                    .with("column", e.column())
            }
            Category::Data => {
                ApiError::unprocessable("invalid_field", format!("the body has a wrong or missing field: {e}"))
                    .with_params(serde_params(&e.to_string()))
                    .with("line", e.line())
                    .with("column", e.column())
            }
        }
    })
}

/// What a serde data error is about, for translations: serde words these errors the same way
/// in every format (`missing field `x``, `unknown field `x`, expected …`, `unknown variant
/// `x``), so the kind and the name in backticks can be read back. Other errors give no kind,
/// and the translation then says only where the problem is.
fn serde_params(message: &str) -> super::ErrorParams {
    let kind = if message.starts_with("missing field") {
        "missing"
    } else if message.starts_with("unknown field") {
        "unknown"
    } else if message.starts_with("unknown variant") {
        "variant"
    } else {
        return Vec::new();
    };
    match backticked(message) {
        Some(name) => vec![(kind, String::new()), ("field", name.to_owned())],
        None => Vec::new(),
    }
}

/// The first name in backticks, as serde and axum quote field names.
fn backticked(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once('`')?;
    let (name, _) = rest.split_once('`')?;
    (!name.is_empty() && name.len() <= 64).then_some(name)
}

fn is_json(value: Option<&axum::http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A query string, with our error format.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| ApiQuery(q.0)).map_err(|e| {
            let text = e.body_text();
            let error = ApiError::bad_request("invalid_query", format!("the query string is not valid: {text}"));
            match backticked(&text) {
                Some(field) => error.with("field", field),
                None => error,
            }
        })
    }
}

/// A path parameter, with our error format.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::bad_request("invalid_path", format!("the address is not valid: {}", e.body_text())))
    }
}
