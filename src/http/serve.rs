//! Serving a router on a bound listener so that slow or idle clients cannot starve the server:
//! both the agent and the cloud run their HTTP/1.1 connections through [`serve`].
//!
//! Three limits, all in [`ServeLimits`]:
//! - **Header read timeout.** A connection whose request head (request line and headers) has not
//!   fully arrived within it is closed. hyper's timer runs from the moment a connection waits for
//!   a request, so it also closes a connection that opens and sends nothing.
//! - **Idle timeout.** A keep-alive connection that has answered a request and has none running
//!   is closed after it. It is at most the header timeout (hyper's timer would close it then).
//! - **Connection bound.** At most `max_connections` connections are served at once. Past it a
//!   new connection is answered `503 server_busy` with `Retry-After` and closed, so the process
//!   meets a flood with an answer instead of running out of file descriptors. Those answers are
//!   themselves bounded ([`REFUSING_AT_ONCE`]); beyond that a connection is closed unanswered.
//!
//! Request bodies and handlers are bounded elsewhere: each server's `time_and_log` deadline
//! covers reading the body and answering.
//!
//! Shutdown: when the shutdown future resolves the listener closes, every connection finishes
//! the request it is serving and closes (hyper's graceful shutdown; an idle one closes at once),
//! and [`serve`] returns when all of them are gone.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use super::ApiError;

/// How long the client has to send a request head, how long an idle keep-alive connection
/// stays open, and how many connections are served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// The header read timeout both servers use unless configured otherwise.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle keep-alive connection stays open by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections answered `503 server_busy` at once; more are closed unanswered.
pub const REFUSING_AT_ONCE: usize = 64;
/// How long a refused connection has to send its request head before it is closed.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// The `Retry-After` of a `503 server_busy`, in seconds.
const BUSY_RETRY_AFTER_SECONDS: u64 = 2;
/// How often the "too many open connections" warning is logged at most.
const BUSY_WARNING_EVERY: Duration = Duration::from_secs(10);
/// File descriptors kept back from the connection bound for the database, logs and files.
const RESERVED_DESCRIPTORS: u64 = 128;

impl ServeLimits {
    /// The defaults with a connection bound of `max_connections`.
    pub fn with_max_connections(max_connections: usize) -> ServeLimits {
        ServeLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections,
        }
    }

    /// Overrides from the environment: `{prefix}_HEADER_TIMEOUT_MS`, `{prefix}_IDLE_TIMEOUT_MS`
    /// and `{prefix}_MAX_CONNECTIONS` (e.g. `LOYALTY_AGENT_…`). A value that is not a positive
    /// whole number is an error naming the variable.
    pub fn from_env(self, prefix: &str) -> Result<ServeLimits, String> {
        let read = |name: &str| -> Result<Option<u64>, String> {
            let variable = format!("{prefix}_{name}");
            match std::env::var(&variable) {
                Ok(text) if text.trim().is_empty() => Ok(None),
                Ok(text) => match text.trim().parse::<u64>() {
                    Ok(value) if value > 0 => Ok(Some(value)),
                    _ => Err(format!("{variable} must be a positive whole number, not {text:?}")),
                },
                Err(_) => Ok(None),
            }
        };
        let mut limits = self;
        if let Some(ms) = read("HEADER_TIMEOUT_MS")? {
            limits.header_read_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = read("IDLE_TIMEOUT_MS")? {
            limits.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(count) = read("MAX_CONNECTIONS")? {
            limits.max_connections = usize::try_from(count).unwrap_or(usize::MAX);
        }
        Ok(limits)
    }

    /// The limits as served: the idle timeout no longer than the header timeout, the bound at
    /// least 1, at most what `u32` counts, and within the process's file descriptor limit.
    fn effective(self) -> ServeLimits {
        let mut limits = self;
        limits.idle_timeout = limits.idle_timeout.min(limits.header_read_timeout);
        let mut bound = limits.max_connections.clamp(1, u32::MAX as usize);
        if let Some(descriptors) = descriptor_limit(bound) {
            let usable = descriptors.saturating_sub(descriptors_for(0)).max(1);
            if (bound as u64) > usable {
                tracing::warn!(
                    configured = bound,
                    usable,
                    "the connection bound is above what the file descriptor limit (ulimit -n) allows; serving fewer"
                );
                bound = usize::try_from(usable).unwrap_or(bound);
            }
        }
        limits.max_connections = bound;
        limits
    }
}

/// Descriptors the connection bound needs besides the connections themselves.
const fn descriptors_for(connections: u64) -> u64 {
    connections + RESERVED_DESCRIPTORS + REFUSING_AT_ONCE as u64
}

/// The process's limit on open files, raised first (within the hard limit) far enough for
/// `connections`: service managers often start processes with a soft limit of 1024 but allow
/// more. `None` where the system has no such limit.
#[cfg(unix)]
fn descriptor_limit(connections: usize) -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let wanted = descriptors_for(connections as u64);
    if let Some(current) = limit.current.filter(|current| *current < wanted) {
        let raised = limit.maximum.map_or(wanted, |maximum| maximum.min(wanted));
        if raised > current {
            limit.current = Some(raised);
            match setrlimit(Resource::Nofile, limit) {
                Ok(()) => {
                    tracing::info!(from = current, to = raised, "raised the open file limit for the connection bound")
                }
                Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
            }
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
fn descriptor_limit(_connections: usize) -> Option<u64> {
    None
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets every
/// connection finish its request and returns when all are closed. Each request carries the
/// peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = limits.effective();
    let serving = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    // `true` once shutdown began; every connection task watches it.
    let (stopping, stop_seen) = watch::channel(false);
    let mut last_busy_warning = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before it was taken:
                    // wait a moment rather than spin, and keep serving what is open.
                    if !is_connection_error(&e) {
                        tracing::warn!(error = %e, "cannot accept a connection; retrying shortly");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        match serving.clone().try_acquire_owned() {
            Ok(permit) => {
                let (app, stop_seen) = (app.clone(), stop_seen.clone());
                tokio::spawn(async move {
                    serve_connection(stream, peer, app, limits, stop_seen).await;
                    drop(permit);
                });
            }
            Err(_) => match refusing.clone().try_acquire_owned() {
                Ok(permit) => {
                    // A flood would log a line per connection: one line in a while says enough.
                    if last_busy_warning.is_none_or(|at: std::time::Instant| at.elapsed() >= BUSY_WARNING_EVERY) {
                        last_busy_warning = Some(std::time::Instant::now());
                        tracing::warn!(
                            limit = limits.max_connections,
                            "too many open connections; answering 503 server_busy"
                        );
                    }
                    let stop_seen = stop_seen.clone();
                    tokio::spawn(async move {
                        refuse_connection(stream, stop_seen).await;
                        drop(permit);
                    });
                }
                // Even the refusals are at their bound: close without an answer.
                Err(_) => drop(stream),
            },
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection task holds a permit until it ends: taking them all waits for the last.
    let _ = serving.acquire_many(limits.max_connections as u32).await;
    let _ = refusing.acquire_many(REFUSING_AT_ONCE as u32).await;
    Ok(())
}

/// Errors of one connection that came and went before `accept` took it: nothing to wait for.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// What the connection has been doing, for the idle timeout.
#[derive(Debug, Default, Clone, Copy)]
struct Requests {
    running: usize,
    served: u64,
}

/// Counts a request as running until dropped (when its response is ready or it was cancelled).
struct Running(Arc<watch::Sender<Requests>>);

impl Running {
    fn start(requests: &Arc<watch::Sender<Requests>>) -> Running {
        requests.send_modify(|r| r.running += 1);
        Running(requests.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|r| {
            r.running -= 1;
            r.served += 1;
        });
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ServeLimits,
    mut stop_seen: watch::Receiver<bool>,
) {
    let requests = Arc::new(watch::Sender::new(Requests::default()));
    let watched = requests.subscribe();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let running = Running::start(&requests);
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await;
            drop(running);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let idle = idle_for(watched, limits.idle_timeout);
    tokio::pin!(idle);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                // A client that went away or sent no head in time: normal, not worth a warning.
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed");
                }
                return;
            }
            () = &mut idle, if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            changed = stop_seen.wait_for(|stop| *stop), if !closing => {
                if changed.is_ok() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Resolves once the connection has answered a request and then had none running for `limit`.
/// (Before the first request the header read timeout is what bounds the wait.)
async fn idle_for(mut requests: watch::Receiver<Requests>, limit: Duration) {
    loop {
        if requests.wait_for(|r| r.served > 0 && r.running == 0).await.is_err() {
            return std::future::pending().await;
        }
        match tokio::time::timeout(limit, requests.changed()).await {
            Err(_) => return,
            Ok(Err(_)) => return std::future::pending().await,
            // A request started (or ended) meanwhile: wait for the next quiet moment.
            Ok(Ok(())) => continue,
        }
    }
}

/// Answers one request `503 server_busy` and closes; a client that sends no head within a
/// second is closed unanswered.
async fn refuse_connection(stream: TcpStream, mut stop_seen: watch::Receiver<bool>) {
    // The refusal goes through the same language layer as every other answer.
    let refusal = Router::new().fallback(|| async { busy() }).layer(axum::middleware::from_fn(super::i18n::localize));
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let refusal = refusal.clone();
        async move { Ok::<_, Infallible>(refusal.oneshot(request).await.unwrap_or_else(|never| match never {})) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(REFUSAL_HEADER_TIMEOUT).keep_alive(false);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stop_seen.wait_for(|stop| *stop) => {}
    }
}

/// The answer past the connection bound.
fn busy() -> Response {
    let mut response = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_busy",
        "the server has as many connections open as it serves at once; try again in a few seconds",
    )
    .into_response();
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_SECONDS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_timeout_never_outlasts_the_header_timeout_and_the_bound_is_positive() {
        let limits = ServeLimits {
            header_read_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(60),
            max_connections: 0,
        }
        .effective();
        assert_eq!(limits.idle_timeout, Duration::from_secs(2));
        assert_eq!(limits.max_connections, 1);
        let defaults = ServeLimits::with_max_connections(100);
        assert_eq!(defaults.header_read_timeout, Duration::from_secs(10));
        assert_eq!(defaults.idle_timeout, Duration::from_secs(5));
    }
}
