//! The back-office console (`/admin/`): a single-page app of plain HTML, CSS and JavaScript
//! from `assets/console/`, compiled into the binary (no build step, nothing from the internet).
//!
//! The page itself is public: it holds no data and no credential. Its script signs in with
//! `POST /admin/login` (a session cookie and a CSRF value) and reads everything through the
//! `/v1/admin/…` API, which checks the session and the role of every call. The script builds
//! every element with `textContent`, never markup from data, and the strict policy below keeps
//! any other script, style or frame out: only this origin's files, `data:` and `blob:` images
//! (the QR codes the API answers as SVG are shown from `blob:` URLs).

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The policy on everything this module serves.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'";

/// The console's files, by the name the page asks for under `/admin/assets/`.
const FILES: &[(&str, &str, &str)] = &[
    ("console.css", "text/css; charset=utf-8", include_str!("../../../assets/console/console.css")),
    ("strings.js", "text/javascript; charset=utf-8", include_str!("../../../assets/console/strings.js")),
    ("core.js", "text/javascript; charset=utf-8", include_str!("../../../assets/console/core.js")),
    (
        "pages_customers.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../assets/console/pages_customers.js"),
    ),
    (
        "program_campaigns.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../assets/console/program_campaigns.js"),
    ),
    ("pages_program.js", "text/javascript; charset=utf-8", include_str!("../../../assets/console/pages_program.js")),
    ("pages_ops.js", "text/javascript; charset=utf-8", include_str!("../../../assets/console/pages_ops.js")),
    ("pages_admin.js", "text/javascript; charset=utf-8", include_str!("../../../assets/console/pages_admin.js")),
    ("main.js", "text/javascript; charset=utf-8", include_str!("../../../assets/console/main.js")),
    ("icon.svg", "image/svg+xml", include_str!("../../../assets/icon.svg")),
];

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(CONTENT_TYPE, content_type)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // `no-cache`: after an upgrade of the cloud the browser must not keep running old files
    // against a newer API; the files are small and revalidate cheaply.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /admin`: the page's files are addressed relative to `/admin/`.
pub async fn redirect() -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(LOCATION, "/admin/")]).into_response()
}

/// `GET /admin/`: the page (its script decides between the sign-in form and the console).
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", include_str!("../../../assets/console/index.html"))
}

/// `GET /admin/assets/{file}`.
pub async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => Ok(asset(content_type, body)),
        None => Err(ApiError::not_found("no_such_file", "the console has no such file").with("console", name)),
    }
}

#[cfg(test)]
mod tests {
    /// A key written twice in one language of a strings file silently keeps the last text
    /// (the console once showed «штампов: {after} из 5» that way): each key is written once per
    /// language, in the console's strings and the cashier page's.
    #[test]
    fn no_string_key_is_written_twice_in_one_language() {
        for (file, text) in [
            ("console", include_str!("../../../assets/console/strings.js")),
            ("cashier", include_str!("../../../assets/cashier/strings.js")),
        ] {
            let mut seen = std::collections::HashSet::new();
            let mut language = "";
            for line in text.lines() {
                // `  ru: {` opens a language; `    key: "…",` is one of its strings.
                if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(": {")) {
                    language = name;
                    seen.clear();
                    continue;
                }
                let Some(rest) = line.strip_prefix("    ") else { continue };
                let Some((key, _)) = rest.split_once(':') else { continue };
                if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !key.is_empty() {
                    assert!(seen.insert(key.to_owned()), "{file} strings: «{key}» is written twice in {language}");
                }
            }
            assert!(!language.is_empty(), "{file}: the languages were found");
        }
    }
}
