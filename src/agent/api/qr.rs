//! QR codes: a customer's card as SVG or PNG, the sign-up link a till prints on a receipt, and
//! decoding a scanned image.

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use serde::Deserialize;

use super::{ApiError, AppState};
use crate::http::extract::{read_body, ApiPath, ApiQuery};
use crate::identity;
use crate::wire::QrDecoded;

/// The customer's card as a QR code: `qr.svg` or `qr.png`.
#[utoipa::path(get, path = "/v1/customers/{id}/{file}", tag = "customers",
    params(("id" = String, Path, description = "The customer's id"),
           ("file" = String, Path, description = "qr.svg or qr.png", example = "qr.svg")),
    responses((status = 200, content_type = "image/svg+xml"), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn card_qr(
    State(state): State<AppState>,
    ApiPath((id, file)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let png = match file.as_str() {
        "qr.svg" => false,
        "qr.png" => true,
        _ => {
            return Err(
                ApiError::not_found("no_such_endpoint", "a card's QR code is at qr.svg or qr.png").with("qr", "")
            )
        }
    };
    let customer = state.store()?.customer(id).await?;
    render(&identity::card_qr_payload(&customer.card), png)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignupQrQuery {
    /// The store the customer joins in (its name, up to 64 characters); by default the
    /// enrolled till's store.
    pub store: Option<String>,
}

/// The sign-up QR code as SVG, for a receipt: a link to the public sign-up page of this store.
#[utoipa::path(get, path = "/v1/signup-qr.svg", tag = "customers", params(SignupQrQuery),
    responses((status = 200, content_type = "image/svg+xml"), (status = 409, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody)))]
pub async fn signup_qr_svg(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SignupQrQuery>,
) -> Result<Response, ApiError> {
    signup_qr(&state, query, false)
}

/// The sign-up QR code as PNG (see `signup-qr.svg`).
#[utoipa::path(get, path = "/v1/signup-qr.png", tag = "customers", params(SignupQrQuery),
    responses((status = 200, content_type = "image/png"), (status = 409, body = crate::wire::ErrorBody),
              (status = 422, body = crate::wire::ErrorBody)))]
pub async fn signup_qr_png(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SignupQrQuery>,
) -> Result<Response, ApiError> {
    signup_qr(&state, query, true)
}

fn signup_qr(state: &AppState, query: SignupQrQuery, png: bool) -> Result<Response, ApiError> {
    let Some(target) = &state.signup else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "signup_not_configured",
            "this agent knows no sign-up page: set signup_url in config.toml to your public sign-up page's address, or enroll the till with a cloud (`loyalty-agent enroll`), whose page is used",
        ));
    };
    let store = match query.store.filter(|s| !s.is_empty()) {
        Some(store) if identity::valid_store(&store) => Some(store),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_store",
                format!(
                    "store must be 1 to {} letters, digits, single spaces and simple punctuation, such as \"Main street 5\"",
                    identity::MAX_STORE_LEN
                ),
            )
            .with("max", identity::MAX_STORE_LEN))
        }
        None => target.default_store.clone(),
    };
    let payload = identity::signup_link(&target.base, store.as_deref());
    render(&payload, png)
}

/// `text` as a QR code image, PNG or SVG.
fn render(text: &str, png: bool) -> Result<Response, ApiError> {
    let render_failed = ApiError::from;
    let (content_type, body) = if png {
        ("image/png", identity::render_png(text, 8).map_err(render_failed)?)
    } else {
        ("image/svg+xml", identity::render_svg(text).map_err(render_failed)?.into_bytes())
    };
    Ok(([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-store")], body).into_response())
}

/// Decodes the QR code in a PNG or JPEG image (e.g. a webcam frame).
#[utoipa::path(post, path = "/v1/qr/decode", tag = "customers",
    request_body(content = Vec<u8>, content_type = "image/png"),
    responses((status = 200, body = QrDecoded), (status = 415, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn decode(State(_state): State<AppState>, request: Request) -> Result<Json<QrDecoded>, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(content_type.as_str(), "image/png" | "image/jpeg" | "application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the image as image/png or image/jpeg",
        )
        .with("image", ""));
    }
    let bytes = read_body(request, &()).await?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("empty_body", "the request body is empty; send a PNG or JPEG image")
            .with("body", "image"));
    }
    // Decoding is CPU work on a possibly large image: keep it off the async workers.
    let decoded = tokio::task::spawn_blocking(move || identity::decode_image(&bytes))
        .await
        .map_err(|_| ApiError::unprocessable("not_an_image", "the image could not be decoded"))?;
    match decoded {
        Ok(text) => {
            let card = identity::parse_qr_payload(&text);
            Ok(Json(QrDecoded { text, card }))
        }
        Err(e) => Err(ApiError::from(e)),
    }
}
