//! `GET /signup`: the public sign-up page a receipt's sign-up QR code opens (the agent's
//! `GET /v1/signup-qr.svg?store=…` encodes `{cloud}/signup?store=…`). A small mobile page in
//! Russian and English; its script (`/signup.js`) POSTs the form as JSON to `POST /v1/signup` on
//! the same origin, carrying the store from the link. No token: it is public, like the API it
//! calls, whose rate limits apply.
//!
//! The page, script and style sheet are static files compiled into the binary. The store name
//! is never put into the HTML by the server: the script reads it from the address and shows it
//! with `textContent`, so no input reaches markup. Every answer carries a strict
//! Content-Security-Policy: only files from this origin, no inline script or style, no framing.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("../../../assets/signup/index.html");
const SCRIPT: &str = include_str!("../../../assets/signup/signup.js");
const STYLE: &str = include_str!("../../../assets/signup/signup.css");

/// The policy on everything this module serves.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
     form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'";

pub(super) fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (HeaderName::from_static("content-security-policy"), CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
            (HeaderName::from_static("x-frame-options"), "DENY"),
            // Short: a new release's page reaches phones within minutes, and the files are tiny.
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The sign-up page (`?store=` is read by its script).
pub async fn page() -> Response {
    file("text/html; charset=utf-8", PAGE)
}

pub async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}
