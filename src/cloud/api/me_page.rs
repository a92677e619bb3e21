//! `GET /me`: the shopper's self-service page (README "The self-service page"). A small
//! phone-sized page in Russian and English: the phone, the SMS code, then the card's QR code,
//! points, expiring points, tier, receipts and consents (which can be withdrawn). Its script
//! calls `/v1/me/…` on the same origin (`api::me`); the session is an HttpOnly cookie the
//! script never sees.
//!
//! Static files compiled into the binary, served with the sign-up page's strict
//! Content-Security-Policy (no inline script or style, no framing). Nothing the server knows
//! is put into the HTML: the script shows names and stores with `textContent`.

use axum::response::Response;

use super::signup_page::file;

const PAGE: &str = include_str!("../../../assets/me/index.html");
const SCRIPT: &str = include_str!("../../../assets/me/me.js");
const STYLE: &str = include_str!("../../../assets/me/me.css");

pub async fn page() -> Response {
    file("text/html; charset=utf-8", PAGE)
}

pub async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}
