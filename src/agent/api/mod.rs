//! The agent's native HTTP API (CONTRACTS.md §api): the router, its shared state and the guards.
//!
//! Handlers are thin: they parse, call one `Store` use-case method and shape the answer.
//! Errors go through [`ApiError`], the one place that turns failures into HTTP.

mod customers;
mod error;
mod gift_cards;
mod health;
mod openapi;
mod page;
mod promo;
mod qr;
mod receipts;
mod reports;
pub mod security;
mod session;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use crate::http::common;
pub use error::ApiError;
pub use openapi::ApiDoc;

pub use crate::agent::state::{AppState, Mode, SignupTarget};
use crate::agent::store::Store;

/// The largest request body accepted (a webcam frame for QR decoding fits comfortably).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

impl AppState {
    /// The store, or a 503 saying why there is none.
    pub fn store(&self) -> Result<&Store, ApiError> {
        self.storage.as_ref().map_err(|why| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                format!("the till's local database is not available ({why}); run `loyalty-agent doctor`"),
            )
        })
    }
}

/// The whole application: routes, guards and limits.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/health", get(health::health))
        .route("/v1/customers/search", get(customers::search))
        .route("/v1/customers", post(customers::enroll))
        .route("/v1/customers/{id}", get(customers::read).patch(customers::update))
        .route("/v1/customers/{id}/adjustments", post(customers::adjust))
        .route("/v1/customers/{id}/verification-codes", post(customers::send_verification_code))
        .route("/v1/customers/{id}/receipts", get(receipts::list_for_customer))
        .route("/v1/customers/{id}/{file}", get(qr::card_qr))
        .route("/v1/signup-qr.svg", get(qr::signup_qr_svg))
        .route("/v1/signup-qr.png", get(qr::signup_qr_png))
        .route("/v1/receipts/calculate", post(receipts::calculate))
        .route("/v1/receipts", post(receipts::commit).get(receipts::list_all))
        .route("/v1/receipts/{id}", get(receipts::read))
        .route("/v1/receipts/{id}/returns", post(receipts::return_lines))
        .route("/v1/reports/shift", get(reports::shift))
        .route("/v1/gift-cards", post(gift_cards::issue).get(gift_cards::list))
        .route("/v1/gift-cards/{id}", get(gift_cards::read))
        .route("/v1/gift-cards/{id}/void", post(gift_cards::void))
        .route("/v1/promo-codes/check", post(promo::check))
        .route("/v1/qr/decode", post(qr::decode))
        .route("/v1/sync", post(health::sync_now))
        .route("/v1/launch-codes", post(session::create_launch_code))
        .route("/v1/session", get(session::current))
        .route("/launch/{code}", get(session::launch))
        .route("/", get(page::index))
        .route("/favicon.ico", get(page::favicon))
        .route("/assets/cashier/{file}", get(page::file))
        .route("/openapi.json", get(openapi::document))
        .nest_service(
            crate::moysklad::PREFIX,
            crate::moysklad::service(
                crate::agent::moysklad_backend::AgentBackend::new(state.clone()),
                state.sms.clone(),
            ),
        )
        .fallback(common::not_found)
        .method_not_allowed_fallback(common::method_not_allowed);

    let cors = {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origins: Vec<_> = state.security.extra_origins().iter().filter_map(|o| o.parse().ok()).collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST, axum::http::Method::PATCH])
            .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE])
    };

    // Layers run outermost-last: the language of error answers, logging/timeout, then Host,
    // then Origin, then the token.
    api.layer(axum::middleware::from_fn_with_state(state.clone(), security::check_token))
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::check_origin))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::check_host))
        .layer(axum::middleware::from_fn_with_state(BODY_LIMIT, common::check_declared_size))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(security::DEADLINE, common::time_and_log))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the agent hit a bug; it was logged — please report it",
            )
            .into_response()
        }))
        .layer(axum::middleware::from_fn(crate::http::i18n::localize))
        .with_state(state)
}
