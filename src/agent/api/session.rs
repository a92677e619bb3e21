//! The cashier page's sign-in over HTTP (CONTRACTS.md §security; the rules are in `agent::session`):
//! `POST /v1/launch-codes` (agent token only), `GET /launch/{code}` (the one-time link, public)
//! and `GET /v1/session` (the page reads its CSRF value; session cookie only).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::page::security_headers;
use super::security::Caller;
use super::{ApiError, AppState};
use crate::agent::session::{LaunchError, COOKIE_NAME, LAUNCH_CODE_TTL};
use crate::clock;
use crate::http::extract::{read_body, ApiPath};
use crate::wire::{LaunchCode, SessionInfo};

/// Mints a one-time launch code for the cashier page. Only the agent token may (the tray and
/// `loyalty-agent open` hold it); a page's session cannot mint more.
#[utoipa::path(post, path = "/v1/launch-codes", tag = "cashier page",
    responses((status = 201, body = LaunchCode), (status = 403, body = crate::wire::ErrorBody)))]
pub async fn create_launch_code(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if !matches!(request.extensions().get::<Caller>(), Some(Caller::Token)) {
        return Err(ApiError::forbidden(
            "token_required",
            "launch codes are minted with the agent token only (the tray icon or `loyalty-agent open` do it)",
        ));
    }
    // The host the caller addressed (already checked against the allow-list), so the link works
    // from wherever the caller reached the agent.
    let host = request
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let body = read_body(request, &()).await?;
    let blank = body.iter().all(u8::is_ascii_whitespace);
    if !blank && !matches!(serde_json::from_slice::<serde_json::Value>(&body), Ok(serde_json::Value::Object(_))) {
        return Err(ApiError::bad_request("malformed_json", "send an empty body or an empty JSON object {}"));
    }
    let code = state.sessions.new_launch_code(Instant::now());
    let answer =
        LaunchCode { url: format!("http://{host}/launch/{code}"), code, expires_in_s: LAUNCH_CODE_TTL.as_secs() };
    Ok((StatusCode::CREATED, [(CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}

/// Exchanges a launch code for a session cookie and sends the browser to the page.
pub async fn launch(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Response {
    match state.sessions.exchange(&code, Instant::now()) {
        Ok((cookie, _)) => {
            tracing::info!("the cashier page was opened with a launch code");
            // No Max-Age: the agent ends the session after 12 idle hours (sliding), which a
            // fixed browser-side expiry would cut short.
            let cookie = format!("{COOKIE_NAME}={cookie}; HttpOnly; SameSite=Strict; Path=/");
            let mut response =
                (StatusCode::SEE_OTHER, [(LOCATION, "/"), (CACHE_CONTROL, "no-store")], "").into_response();
            if let Ok(value) = cookie.parse() {
                response.headers_mut().insert(SET_COOKIE, value);
            }
            security_headers(response)
        }
        Err(why) => {
            tracing::info!(reason = %why, "a launch code was refused");
            let status = match why {
                LaunchError::Unknown => StatusCode::FORBIDDEN,
                LaunchError::Used | LaunchError::Expired => StatusCode::GONE,
            };
            let (ru, en) = match why {
                LaunchError::Unknown => (
                    "Эта ссылка выдана не этим агентом (или агент был перезапущен).",
                    "This link was not issued by this agent (or the agent restarted since).",
                ),
                LaunchError::Used => ("Эта ссылка уже использована.", "This link has already been used."),
                LaunchError::Expired => (
                    "Срок действия ссылки истёк (она действует 60 секунд).",
                    "This link has expired (links work for 60 seconds).",
                ),
            };
            let page = LAUNCH_FAILED.replace("{ru}", ru).replace("{en}", en);
            security_headers(
                (status, [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], page)
                    .into_response(),
            )
        }
    }
}

/// What a refused launch link shows: both languages, since the browser's is not known yet.
const LAUNCH_FAILED: &str = r#"<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Loyalty</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Откройте страницу кассира заново</h1>
<p>{ru} Откройте страницу из значка в трее («Открыть страницу кассира») или командой <code>loyalty-agent open</code>.</p>
<h1 lang="en">Open the cashier page again</h1>
<p lang="en">{en} Open the page from the tray icon ("Open the cashier page") or with <code>loyalty-agent open</code>.</p>
</body></html>
"#;

/// The page's session: its CSRF value and when it ends. Needs the session cookie (no CSRF
/// header: this is where the page learns it); other origins cannot read the answer, since the
/// agent sends them no CORS headers.
#[utoipa::path(get, path = "/v1/session", tag = "cashier page",
    responses((status = 200, body = SessionInfo), (status = 401, body = crate::wire::ErrorBody)), security(()))]
pub async fn current(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    match request.extensions().get::<Caller>() {
        Some(Caller::Session(session)) => {
            let remaining = session.expires_at.saturating_duration_since(Instant::now()).as_secs();
            let info = SessionInfo {
                csrf: session.csrf.clone(),
                expires_at: clock::rfc3339(clock::now().saturating_add(remaining as i64)),
                personal_data: state.personal_data.clone(),
                signup_qr: state.signup.is_some(),
            };
            Ok(security_headers(([(CACHE_CONTROL, "no-store")], Json(info)).into_response()))
        }
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_session",
            "there is no cashier-page session in this request; open the page from the tray icon or with `loyalty-agent open`",
        )),
    }
}
