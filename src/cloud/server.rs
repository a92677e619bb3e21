//! Starting loyalty-cloud: open the database (migrations run here), load the admin token, bind
//! the listener, then serve until a shutdown future resolves. Tests run the real binary; the
//! library form ([`prepare`] + [`run`]) takes a bound listener, so port 0 works.

use std::future::Future;
use std::time::Instant;

use tokio::net::TcpListener;

use super::api::{self, AppState};
use super::config::{redact_url, CloudConfig};
use super::db::{self, DbError};
use super::store::{CloudError, Store, StoreSettings};
use super::token::AdminToken;
use super::webhooks;
use crate::http::serve::{self, ServeLimits};

/// Why the cloud cannot start. Each message names the step; the cause follows as the error's
/// source (the binary prints the whole chain, so the message does not repeat it).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read or create the admin token at {path}")]
    Token { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot open the database {what}")]
    Database { what: String, source: DbError },
    #[error("cannot prepare the database")]
    Store(#[from] CloudError),
    #[error("the wallet cards are misconfigured: {0}")]
    Wallet(String),
    #[error("cannot listen on {addr}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
}

pub struct Prepared {
    pub state: AppState,
    pub listener: TcpListener,
    /// Timeouts and the connection bound of the HTTP server.
    pub limits: ServeLimits,
}

pub async fn prepare(config: &CloudConfig) -> Result<Prepared, StartError> {
    let admin_token = match &config.admin_token {
        Some(token) if !token.trim().is_empty() => AdminToken::new(token.trim().to_owned()),
        _ => {
            let path = config.admin_token_path();
            let token =
                AdminToken::load_or_create(&path).map_err(|source| StartError::Token { path: path.clone(), source })?;
            tracing::info!(path = %path.display(), "the admin token is in this file");
            token
        }
    };
    let wallets = super::wallet::Wallets::from_options(&config.wallet, config.public_url.as_deref())
        .map_err(StartError::Wallet)?;
    let store = open_store(config).await?;
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let signup =
        api::SignupGuard::new(config.signup_per_minute, config.trust_forwarded_for, config.default_country.clone());
    let state = AppState {
        store: store.clone(),
        admin_token,
        started: Instant::now(),
        webhooks: config.webhooks,
        signup: std::sync::Arc::new(signup),
        signup_origins: config.signup_origins.clone(),
        personal_data: config.personal_data.clone(),
        login: std::sync::Arc::new(api::access::LoginGuard::default()),
        public_https: config.public_url.as_deref().is_some_and(|url| url.starts_with("https://")),
        sms: super::sms::SmsOutbox::new(store.clone(), config.sms.clone()),
        expiry_notice_days: config.expiry_notice_days,
        qr_lifetime_s: config.qr_lifetime_s,
        me: std::sync::Arc::new(api::MeGuard::default()),
        wallets: std::sync::Arc::new(wallets),
    };
    Ok(Prepared { state, listener, limits: config.http })
}

/// Opens the database named by the configuration (migrations run here) and the store over it.
pub async fn open_store(config: &CloudConfig) -> Result<Store, StartError> {
    let what = match &config.database_url {
        Some(url) => redact_url(url),
        None => config.database_path().display().to_string(),
    };
    // The PostgreSQL client blocks (it runs its own small runtime), so it connects off the
    // async threads, like every later database call.
    let (url, path) = (config.database_url.clone(), config.database_path());
    let database = tokio::task::spawn_blocking(move || db::open(url.as_deref(), &path))
        .await
        .map_err(|_| StartError::Database { what: what.clone(), source: DbError::TaskFailed })?
        .map_err(|source| StartError::Database { what, source })?;
    let settings =
        StoreSettings { default_region: config.default_country.clone(), card_prefix: config.card_prefix.clone() };
    Ok(Store::new(database, settings).await?)
}

/// How long a stopping server waits for the webhook task: a delivery in flight may take its
/// whole timeout; one cut short is sent again when its lease runs out.
const WEBHOOK_STOP: std::time::Duration = std::time::Duration::from_secs(15);

/// Serves on `listener` within `limits` until `shutdown` resolves, then finishes in-flight
/// requests. The webhook and SMS delivery tasks and the birthday job run beside the server
/// and stop with it.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let deliveries = webhooks::spawn(state.store.clone(), state.webhooks, stopped.clone());
    let texts = super::sms::spawn(state.sms.clone(), stopped.clone());
    let cards = super::wallet::spawn(state.store.clone(), state.wallets.clone(), stopped.clone());
    let birthdays = super::lifecycle::spawn(
        state.store.clone(),
        super::lifecycle::BIRTHDAY_EVERY,
        state.expiry_notice_days,
        stopped,
    );
    // `serve` gives every request the peer's address (`ConnectInfo`): the client's IP for the
    // sign-up form's and the enrolment's rate limits.
    let app = api::router(state);
    let served = serve::serve(listener, app, limits, async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await;
    if tokio::time::timeout(WEBHOOK_STOP, deliveries).await.is_err() {
        tracing::warn!("the webhook task did not stop in time; unfinished deliveries are retried later");
    }
    if tokio::time::timeout(WEBHOOK_STOP, texts).await.is_err() {
        tracing::warn!("the SMS task did not stop in time; unsent messages are tried again later");
    }
    if let Some(cards) = cards {
        if tokio::time::timeout(WEBHOOK_STOP, cards).await.is_err() {
            tracing::warn!("the wallet task did not stop in time; unsent pushes are sent later");
        }
    }
    // A batch in flight is one transaction: it commits or is rolled back, and the next run
    // grants whatever it did not.
    if tokio::time::timeout(WEBHOOK_STOP, birthdays).await.is_err() {
        tracing::warn!("the birthday job did not stop in time; its next run grants what this one did not");
    }
    served
}
