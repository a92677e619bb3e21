//! Starting the agent: open everything `serve` needs and run the HTTP server on a bound
//! listener until a shutdown future resolves. Tests call [`run`] with a port-0 listener.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::api::{self, security::SecurityPolicy, AppState, Mode, SignupTarget};
use super::cloud_link::CloudLink;
use super::config::AgentConfig;
use super::program_file::{self, EXAMPLE_PROGRAM};
use super::store::{Store, StoreSettings};
use super::sync::{self, SyncClient};
use super::token::AgentToken;
use crate::clock;
use crate::http::serve::{self, ServeLimits};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read or create the agent token at {path}: {source}")]
    Token { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Program(#[from] program_file::ProgramFileError),
    #[error(transparent)]
    Link(#[from] super::cloud_link::LinkError),
    #[error("cannot listen on {addr}: {source}; is another agent already running? (`loyalty-agent status`)")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
}

/// Everything `serve` prepares before it accepts connections.
pub struct Prepared {
    pub state: AppState,
    pub listener: TcpListener,
    /// Timeouts and the connection bound of the HTTP server.
    pub limits: ServeLimits,
    /// Tells background work (the sync worker) to stop.
    stop: watch::Sender<bool>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// Loads the token and program, opens the database and binds the listener.
///
/// A database that cannot be opened does not stop the agent: it starts, reports itself
/// unhealthy and refuses data requests with 503, so the till sees a clear reason.
pub async fn prepare(config: &AgentConfig) -> Result<Prepared, StartError> {
    let token = match &config.token_override {
        Some(token) => AgentToken::new(token.clone()),
        None => AgentToken::load_or_create(&config.token_path())
            .map_err(|source| StartError::Token { path: config.token_path(), source })?,
    };

    let program_path = config.program_path();
    if !program_path.exists() {
        // Give the store owner a commented file to edit; the agent works without it.
        if let Err(e) = std::fs::write(&program_path, EXAMPLE_PROGRAM) {
            tracing::warn!(path = %program_path.display(), error = %e, "could not write the example program file");
        }
    }
    let (mut program, program_text) = program_file::load_program(&program_path)?;

    let link = CloudLink::load(&config.config_dir)?;
    let mode = if link.is_some() { Mode::Connected } else { Mode::Standalone };
    let settings = StoreSettings {
        default_region: config.default_country.clone(),
        card_prefix: config.card_prefix.clone(),
        connected: link.is_some(),
        store: link.as_ref().map(|link| link.store.clone()),
    };
    let storage = match Store::open(&config.database_path(), settings) {
        Ok(store) => {
            let hash = hex::encode(Sha256::digest(program_text.as_bytes()));
            match store.record_program(hash, program_text, clock::now()).await {
                Ok(version) => program.version = version,
                Err(e) => tracing::error!(error = %e, "could not record the program version"),
            }
            // Before the listener exists, so the first lookup after a start is as fast as the rest.
            match store.warm_up().await {
                Ok(warm) => tracing::info!(
                    took_ms = warm.took.as_millis() as u64,
                    readers = warm.readers,
                    phone_examples = warm.phone_examples,
                    "warm-up done"
                ),
                Err(e) => tracing::warn!(error = %e, "the start-up warm-up failed; the first lookups may be slower"),
            }
            Ok(store)
        }
        Err(e) => {
            tracing::error!(error = %e, "the local database is unavailable; the agent runs unhealthy");
            Err(Arc::new(e.to_string()))
        }
    };

    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(config.listen.port());
    if !config.listen.ip().is_loopback() {
        tracing::warn!(addr = %config.listen, "listening beyond loopback: anyone who can reach this address and has the token can use the agent");
    }
    // Connected, the cloud's program is the one in force (the file is only a fallback until
    // the first pull brings one).
    if let (Some(_), Ok(store)) = (&link, &storage) {
        match store.cloud_program().await {
            Ok(Some(cloud_program)) => program = cloud_program,
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "could not read the cloud's program"),
        }
    }

    // The sign-up QR code's page: the configured one, else the enrolled cloud's. It names the
    // till's store unless a request names another.
    let default_store = link.as_ref().map(|link| link.store.clone()).filter(|store| {
        let valid = crate::identity::valid_store(store);
        if !valid {
            tracing::warn!(store, "the till's store name cannot go into a sign-up link; sign-up QR codes name a store only when asked with ?store=");
        }
        valid
    });
    let signup = config
        .signup_url
        .clone()
        .or_else(|| link.as_ref().map(|link| link.url.clone()))
        .map(|base| SignupTarget { base, default_store });

    let (stop, stopped) = watch::channel(false);
    let mut state = AppState {
        storage,
        program: Arc::new(std::sync::RwLock::new(Arc::new(program))),
        token,
        moysklad_key: config.moysklad_key.clone().map(AgentToken::new),
        security: Arc::new(SecurityPolicy::new(port, &config.allowed_hosts, &config.allowed_origins)),
        mode,
        started: Instant::now(),
        sync: None,
        signup,
        personal_data: config.personal_data.clone(),
        sessions: Arc::new(super::session::Sessions::new()),
        sms: Arc::new(super::sms::DirectSender::new(config.sms.clone())),
    };
    let mut background = Vec::new();
    if let (Some(link), Ok(store)) = (&link, &state.storage) {
        let client = SyncClient::for_link(link).reporting(store.clone());
        let program_slot = state.clone();
        let on_program = Arc::new(move |program| program_slot.set_program(program));
        let last_success = store.last_sync_success().await.unwrap_or(None);
        let (handle, task) = sync::spawn(store.clone(), client, on_program, last_success, stopped);
        tracing::info!(cloud = %link.url, till = %link.till_id, "connected to the cloud");
        state.sync = Some(handle);
        background.push(task);
    }
    Ok(Prepared { state, listener, limits: config.http, stop, background })
}

/// How long background work gets to finish after the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves the API on `listener` until `shutdown` resolves, then finishes in-flight requests
/// and stops the background work (waiting for it at most a few seconds).
pub async fn run(prepared: Prepared, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let Prepared { state, listener, limits, stop, background } = prepared;
    let app = api::router(state);
    let served = serve::serve(listener, app, limits, shutdown).await;
    let _ = stop.send(true);
    for task in background {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, task).await;
    }
    served
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what service managers send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
