//! loyalty-cloud's HTTP API: the router, its state, the two kinds of credentials and the one
//! place where [`CloudError`] becomes an HTTP answer.
//!
//! - public: `GET /v1/health`, `GET /openapi.json`, `POST /v1/enroll` (the code is the
//!   credential), `POST /v1/signup` (the website's form, rate-limited), and the sign-up page
//!   that calls it (`GET /signup`, `/signup.js`, `/signup.css`), the shopper's self-service page
//!   (`GET /me`) and its API (`/v1/me/…`, SMS-code sign-in, its own cookie), Apple's PassKit web
//!   service (`/wallet/apple/…`, the pass's own token), and the back-office console's
//!   page (`GET /admin/`, `/admin/assets/…`; its API calls need the session);
//! - admin token: everything under `/v1/admin/`;
//! - device token: `/v1/sync/push`, `/v1/sync/pull`, `/v1/sync/known-events` and `/v1/sync/gift-cards/…` (the till is
//!   known from the token).
//!
//! Every error is `{"error": {"code", "message"}}`; no input panics or answers 500.

pub mod access;
mod admin_audit;
mod admin_campaigns;
mod admin_customers;
mod admin_gift_cards;
mod admin_ledger;
mod admin_lifecycle;
mod admin_moysklad;
mod admin_reports;
mod admin_tills;
mod admin_users;
mod admin_webhooks;
mod console_page;
mod health;
mod me;
mod me_page;
mod openapi;
mod paging;
mod scoped;
mod signup;
mod signup_page;
mod sync;
mod wallet;

use std::time::{Duration, Instant};

use crate::http::common::{self, Deadline};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use crate::http::ApiError;
pub use openapi::CloudApiDoc;

use super::backoffice::{Area, Principal};
use super::db::DbError;
use super::store::{CloudError, Store};
use super::token::AdminToken;
use crate::wire::TillReport;

/// The largest request body accepted (a push of 1000 events fits comfortably).
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// How long one request may take; long-polls end well before (at most 30 s of waiting).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The request deadline and what the caller is told past it.
const DEADLINE: Deadline = Deadline { limit: REQUEST_TIMEOUT, advice: "the cloud could not answer in time; retry" };

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub admin_token: AdminToken,
    pub started: Instant,
    pub webhooks: crate::cloud::webhooks::WebhookSettings,
    /// The sign-up form's rate limits.
    pub signup: std::sync::Arc<SignupGuard>,
    /// Website origins allowed to call the sign-up form from a browser (CORS); none = no CORS.
    pub signup_origins: Vec<String>,
    /// The personal-data operator and policy the sign-up page names.
    pub personal_data: crate::wire::PersonalDataNotice,
    /// Failed back-office sign-ins per address.
    pub login: std::sync::Arc<access::LoginGuard>,
    /// The cloud's public address is https: session cookies are `Secure`.
    pub public_https: bool,
    /// Where SMS codes are queued (`cloud::sms`).
    pub sms: crate::cloud::sms::SmsOutbox,
    /// Days before points expire that webhooks hear `points_expiring`.
    pub expiry_notice_days: i64,
    /// Seconds a signed QR token of the self-service page stays valid.
    pub qr_lifetime_s: i64,
    /// The self-service page's sign-in limits.
    pub me: std::sync::Arc<me::MeGuard>,
    /// Apple Wallet and Google Wallet, as configured (`cloud::wallet`).
    pub wallets: std::sync::Arc<crate::cloud::wallet::Wallets>,
}

pub use me::MeGuard;
pub use signup::SignupGuard;

/// The till a device token belongs to, put into the request by the guard.
#[derive(Debug, Clone)]
pub struct TillId(pub String);

pub fn router(state: AppState) -> Router {
    // Each area of the admin API is checked against the caller's role (`access::authorize`),
    // after the caller is known (`access::authenticate`: the admin token or a session).
    let area = |router: Router<AppState>, area: Area| {
        router.route_layer(axum::middleware::from_fn_with_state(area, access::authorize))
    };
    let admin = Router::new()
        .merge(area(
            Router::new()
                .route("/v1/admin/tills", post(admin_tills::create).get(admin_tills::list))
                .route("/v1/admin/tills/{id}/enrollment-code", post(admin_tills::new_code))
                .route("/v1/admin/tills/{id}/revoke", post(admin_tills::revoke)),
            Area::Tills,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/customers", post(admin_customers::create).get(admin_customers::find))
                .route("/v1/admin/customers/{id}", get(admin_customers::read).patch(admin_customers::update))
                .route("/v1/admin/customers/{id}/adjustments", post(admin_customers::adjust))
                .route("/v1/admin/customers/{id}/activity", get(admin_customers::activity))
                .route("/v1/admin/customers/{id}/campaigns", get(admin_campaigns::customer))
                .route("/v1/admin/customers/{id}/consents", get(admin_customers::consents))
                .route("/v1/admin/customers/{id}/referrals", get(admin_customers::referrals))
                .route("/v1/admin/customers/{id}/qr.svg", get(admin_customers::qr))
                .route("/v1/admin/customers/{id}/wallet.pkpass", get(wallet::admin_pkpass))
                .route("/v1/admin/customers/{id}/wallet/google", get(wallet::admin_google))
                .route("/v1/admin/customers.csv", get(admin_reports::export))
                .route("/v1/admin/customers/import", post(admin_reports::import)),
            Area::Customers,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/dashboard", get(admin_reports::dashboard))
                .route("/v1/admin/reports/liability", get(admin_reports::liability))
                .route("/v1/admin/reports/daily", get(admin_reports::daily))
                .route("/v1/admin/reports/shift", get(admin_reports::shift)),
            Area::Reports,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/receipts", get(admin_ledger::receipts))
                .route("/v1/admin/receipts/{till_id}/{receipt_id}", get(admin_ledger::receipt)),
            Area::Receipts,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/program", get(admin_ledger::program).put(admin_ledger::put_program))
                .route("/v1/admin/program/versions", get(admin_ledger::program_versions))
                .route("/v1/admin/program/preview", post(admin_ledger::preview))
                .route("/v1/admin/campaigns", get(admin_campaigns::list))
                .route("/v1/admin/birthdays/grant", post(admin_lifecycle::grant)),
            Area::Program,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/conflicts", get(admin_ledger::conflicts))
                .route("/v1/admin/conflicts/{id}/handled", post(admin_ledger::handled)),
            Area::Conflicts,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/webhooks", post(admin_webhooks::create).get(admin_webhooks::list))
                .route("/v1/admin/webhooks/{id}", axum::routing::delete(admin_webhooks::delete))
                .route("/v1/admin/webhooks/{id}/deliveries", get(admin_webhooks::deliveries))
                .route("/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry", post(admin_webhooks::retry))
                .route("/v1/admin/sms", get(admin_webhooks::sms))
                .route("/v1/admin/wallet", get(wallet::admin_status)),
            Area::Webhooks,
        ))
        .merge(area(
            Router::new().route("/v1/admin/stores/moysklad-keys", get(admin_moysklad::list)).route(
                "/v1/admin/stores/{store}/moysklad-key",
                post(admin_moysklad::create).delete(admin_moysklad::revoke),
            ),
            Area::Moysklad,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/gift-cards", post(admin_gift_cards::issue).get(admin_gift_cards::list))
                .route("/v1/admin/gift-cards/{id}", get(admin_gift_cards::read))
                .route("/v1/admin/gift-cards/{id}/void", post(admin_gift_cards::void)),
            Area::GiftCards,
        ))
        .merge(area(
            Router::new()
                .route("/v1/admin/users", post(admin_users::create).get(admin_users::list))
                .route("/v1/admin/users/{id}", axum::routing::patch(admin_users::update))
                .route("/v1/admin/users/{id}/password", post(admin_users::reset_password)),
            Area::Users,
        ))
        .merge(area(Router::new().route("/v1/admin/audit", get(admin_audit::list)), Area::Audit))
        .merge(area(
            Router::new()
                .route("/v1/admin/me/password", post(admin_users::change_own_password))
                .route("/v1/admin/me/totp", post(admin_users::begin_totp).delete(admin_users::disable_totp))
                .route("/v1/admin/me/totp/confirm", post(admin_users::confirm_totp)),
            Area::OwnAccount,
        ))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), access::authenticate));
    // The console's sign-in; its page is public (its calls need the session).
    let console = Router::new()
        .route("/admin/login", post(access::login))
        .route("/admin/session", get(access::session))
        .route("/admin/logout", post(access::logout));
    let till = Router::new()
        .route("/v1/sync/push", post(sync::push))
        .route("/v1/sync/pull", get(sync::pull))
        .route("/v1/sync/known-events", post(sync::known_events))
        .route("/v1/sync/gift-cards/redeem", post(sync::redeem_gift_cards))
        .route("/v1/sync/spending-codes", post(sync::send_spending_code))
        .route("/v1/sync/gift-cards/{number}", get(sync::gift_card))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), check_device));
    // MoySklad's calls carry their own key (a store's, see admin_moysklad.rs).
    let moysklad = crate::moysklad::service(
        crate::cloud::moysklad_backend::CloudBackend::new(state.store.clone()),
        std::sync::Arc::new(state.sms.clone()),
    );
    let signup = Router::new()
        // OPTIONS is routed so the CORS layer sees browsers' preflight requests (it answers
        // them itself); without configured origins it is a plain 204 without CORS headers.
        .route("/v1/signup", post(signup::signup).options(|| async { StatusCode::NO_CONTENT }))
        .route("/v1/signup/notice", get(signup::notice))
        .layer(DefaultBodyLimit::max(signup::BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(signup::BODY_LIMIT, common::check_declared_size));
    let signup = match cors(&state.signup_origins) {
        Some(cors) => signup.layer(cors),
        None => signup,
    };
    let public = Router::new()
        .route("/v1/health", get(health::health))
        .nest_service(crate::moysklad::PREFIX, moysklad)
        .route("/v1/enroll", post(sync::enroll))
        .route("/signup", get(signup_page::page))
        .route("/signup.js", get(signup_page::script))
        .route("/signup.css", get(signup_page::style))
        // The shopper's self-service page and its API (the cookie is the credential).
        .route("/me", get(me_page::page))
        .route("/me.js", get(me_page::script))
        .route("/me.css", get(me_page::style))
        .route("/v1/me", get(me::me))
        .route("/v1/me/qr.svg", get(me::qr))
        .route("/v1/me/code", get(me::code))
        .route("/v1/me/code.svg", get(me::code_qr))
        .route("/v1/me/login", post(me::login))
        .route("/v1/me/verify", post(me::verify))
        .route("/v1/me/consents/withdraw", post(me::withdraw))
        .route("/v1/me/logout", post(me::logout))
        .route("/v1/me/wallet.pkpass", get(wallet::me_pkpass))
        .route("/v1/me/wallet/google", get(wallet::me_google))
        // Apple's PassKit web service (the pass's token is the credential).
        .route(
            "/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}",
            post(wallet::register).delete(wallet::unregister),
        )
        .route("/wallet/apple/v1/devices/{device}/registrations/{pass_type}", get(wallet::updated))
        .route("/wallet/apple/v1/passes/{pass_type}/{serial}", get(wallet::latest_pass))
        .route("/wallet/apple/v1/log", post(wallet::device_log))
        .route("/wallet/logo.png", get(wallet::logo))
        // The back-office console's page and files; its API calls carry the session.
        .route("/admin", get(console_page::redirect))
        .route("/admin/", get(console_page::index))
        .route("/admin/assets/{file}", get(console_page::file))
        .route("/openapi.json", get(openapi::document));

    public
        .merge(console)
        .merge(signup)
        .merge(admin)
        .merge(till)
        .fallback(common::not_found)
        .method_not_allowed_fallback(common::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(BODY_LIMIT, common::check_declared_size))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(DEADLINE, common::time_and_log))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "loyalty-cloud hit a bug; it was logged")
                .into_response()
        }))
        .layer(axum::middleware::from_fn(crate::http::i18n::localize))
        .with_state(state)
}

/// CORS for the sign-up form, when website origins are configured: a browser on those pages
/// may POST JSON to it. Nothing else is ever open to other origins.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    let origins: Vec<axum::http::HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([axum::http::Method::POST])
            .allow_headers([axum::http::header::CONTENT_TYPE])
            .max_age(Duration::from_secs(3600)),
    )
}

/// The bearer token of a request, never from the query string.
fn bearer(request: &Request) -> Option<String> {
    request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|v| v.trim().to_owned())
}

/// A 401 naming the credential; `credential` (`admin`, `device`, `device_unknown`) picks the
/// translation.
fn unauthorized(credential: &'static str, what: &str) -> Response {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("send the {what} as \"Authorization: Bearer <token>\""),
    )
    .with(credential, "")
    .into_response()
}

async fn check_device(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(token) = bearer(&request).filter(|t| !t.is_empty() && t.len() <= 256) else {
        return unauthorized("device", "device token this till got at enrollment");
    };
    match state.store.till_for_token(token).await {
        Ok(Some(till_id)) => {
            let headers = request.headers();
            let report = TillReport::read(
                headers.get(crate::wire::AGENT_VERSION_HEADER).map(|v| v.as_bytes()),
                headers.get(crate::wire::PENDING_EVENTS_HEADER).map(|v| v.as_bytes()),
            );
            // Every sync call comes through here: "last contact" for the dashboard and the
            // list of tills. A push's count still includes the events it carries: the push
            // handler records what is left once it has answered (`sync::push`).
            let noted = match request.uri().path() == sync::PUSH_PATH {
                true => TillReport { pending_events: None, ..report.clone() },
                false => report.clone(),
            };
            if let Err(e) = state.store.till_seen(&till_id, crate::clock::now(), noted).await {
                tracing::warn!(till = %till_id, error = %e, "could not note when the till was last seen");
            }
            request.extensions_mut().insert(TillId(till_id));
            request.extensions_mut().insert(report);
            next.run(request).await
        }
        Ok(None) => {
            unauthorized("device_unknown", "device token this till got at enrollment (it is unknown or was replaced)")
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

pub use crate::http::common::validate_key;

/// Records a change in the audit log: who (from the request's [`Principal`]), from where, what
/// and before/after. A failure to record is logged, not answered: the change itself is done.
pub(crate) async fn audit(
    state: &AppState,
    principal: &Principal,
    action: &'static str,
    target: Option<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) {
    let record = crate::cloud::store::AuditRecord {
        who: principal.who.clone(),
        address: principal.address.clone(),
        action,
        target,
        before,
        after,
    };
    if let Err(e) = state.store.audit(record, crate::clock::now()).await {
        tracing::error!(error = %e, action, "the audit log could not record a change");
    }
}

impl From<CloudError> for ApiError {
    fn from(e: CloudError) -> ApiError {
        match e {
            CloudError::Db(DbError::Open(message)) => {
                tracing::error!(error = %message, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    format!("the database is not available ({message}); retry"),
                )
                .with("cloud", "")
            }
            CloudError::Db(DbError::NulInText) => ApiError::unprocessable(
                "invalid_text",
                "text must not contain NUL characters; remove them and send again",
            ),
            CloudError::Db(e) => {
                tracing::error!(error = %e, "database failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the cloud's database failed; nothing was stored — retry",
                )
                .with("cloud", "")
            }
            CloudError::NotFound(missing) => {
                ApiError::not_found(missing.code(), format!("{missing} not found; check the identifier"))
                    .with_params(missing.params())
            }
            CloudError::Corrupt { .. } => {
                // One unreadable row: retrying cannot help (not a 503), and the database as a
                // whole is fine.
                tracing::error!(error = %e, "a stored record cannot be read");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "stored_data_corrupt",
                    format!(
                        "{e}; the rest of the cloud keeps working — restore that record from a backup of the database"
                    ),
                )
                .with("cloud", "")
            }
            CloudError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            CloudError::ConflictWith { code, message, params } => {
                ApiError::new(StatusCode::CONFLICT, code, message).with_params(params)
            }
            CloudError::Invalid { code, message } => ApiError::unprocessable(code, message),
            CloudError::InvalidWith { code, message, params } => {
                ApiError::unprocessable(code, message).with_params(params)
            }
            CloudError::Denied { code, message } => ApiError::new(StatusCode::UNAUTHORIZED, code, message),
            CloudError::Rules(rule) => ApiError::from(rule),
        }
    }
}
