//! The cashier page: plain HTML, CSS and JavaScript from `assets/cashier/`, embedded in the
//! binary (no build step, nothing to install). Served without the token, behind the Host check,
//! with headers that keep it out of frames and forbid any script but its own files.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The page's own files only: no inline script, no other origin, no frames. Camera frames are
/// drawn to a canvas and sent with `fetch`; card QR codes are shown from `blob:` URLs (they are
/// fetched with the session's CSRF header, which an `<img src>` could not send).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Paths the page is made of; they need no token (the Host check still applies).
pub fn is_page_path(path: &str) -> bool {
    path == "/" || path == "/favicon.ico" || path.starts_with("/assets/")
}

/// Adds the page's security headers to a response.
pub fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    // `no-cache`: after an upgrade of the agent the browser must not keep running old files.
    security_headers(([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body).into_response())
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", include_bytes!("../../../assets/cashier/index.html"))
}

pub async fn favicon() -> Response {
    asset("image/svg+xml", include_bytes!("../../../assets/icon.svg"))
}

pub async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(match name.as_str() {
        "app.js" => asset("text/javascript; charset=utf-8", include_bytes!("../../../assets/cashier/app.js")),
        "strings.js" => asset("text/javascript; charset=utf-8", include_bytes!("../../../assets/cashier/strings.js")),
        "app.css" => asset("text/css; charset=utf-8", include_bytes!("../../../assets/cashier/app.css")),
        "icon.svg" => asset("image/svg+xml", include_bytes!("../../../assets/icon.svg")),
        _ => return Err(ApiError::not_found("no_such_file", "the cashier page has no such file")),
    })
}
