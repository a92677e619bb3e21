//! The tray's background side, on tokio: polls the agent's `/v1/health` every couple of
//! seconds, logs each change of state as `tray state: <word>`, and runs the menu's actions.
//! It knows nothing about the desktop: it publishes [`Update`]s through a callback, which the
//! GUI turns into a channel to its own thread.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::state::{Snapshot, TrayState};
use super::TrayOptions;
use crate::agent::{open, status};

/// How often the agent is asked how it is.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What the menu asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    OpenCashierPage,
    SyncNow,
}

/// What the monitor tells the GUI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    Snapshot(Snapshot),
    /// The outcome of the last menu action, in words.
    Notice(String),
}

/// Something that takes updates to the GUI (a channel's sender, in practice).
pub type Publish = Arc<dyn Fn(Update) + Send + Sync>;

/// Polls until `actions` closes (the GUI has gone), publishing a snapshot whenever what the
/// tray shows changes. Actions run as tasks of their own, so a slow sync never delays the
/// icon; when one ends, the agent is polled at once to show its effect.
pub async fn watch(
    options: TrayOptions,
    interval: Duration,
    publish: Publish,
    mut actions: mpsc::UnboundedReceiver<Action>,
) {
    let client = match http_client(Duration::from_secs(5)) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "the tray cannot make an HTTP client");
            return;
        }
    };
    let base = options.base();
    let repoll = Arc::new(Notify::new());
    let mut shown: Option<Snapshot> = None;
    loop {
        let snapshot = poll(&client, &base).await;
        if shown.as_ref().map(|s| s.state) != Some(snapshot.state) {
            // A stable line: support staff and the tests look for it.
            tracing::info!("tray state: {}", snapshot.state.log_word());
        }
        if shown.as_ref() != Some(&snapshot) {
            publish(Update::Snapshot(snapshot.clone()));
            shown = Some(snapshot);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = repoll.notified() => {}
            action = actions.recv() => match action {
                None => break,
                Some(action) => {
                    let (options, publish, repoll) = (options.clone(), publish.clone(), repoll.clone());
                    tokio::spawn(async move {
                        let notice = perform(action, &options).await;
                        publish(Update::Notice(notice));
                        repoll.notify_one();
                    });
                }
            },
        }
    }
    tracing::debug!("tray monitor stopped");
}

fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().timeout(timeout).build()
}

/// One reading of the agent; an agent that does not answer is a state, not an error.
async fn poll(client: &reqwest::Client, base: &str) -> Snapshot {
    match status::fetch_health_with(client, base).await {
        Ok(health) => Snapshot::from_health(&health),
        Err(why) => Snapshot::unreachable(&why),
    }
}

/// Runs one menu action and says how it went, in words (also logged).
pub async fn perform(action: Action, options: &TrayOptions) -> String {
    let Some(token) = options.token.as_deref() else {
        let message = "no agent token: set LOYALTY_AGENT_TOKEN or run the tray as a user who can read the agent's token file (`loyalty-agent token`)".to_owned();
        tracing::warn!("{message}");
        return message;
    };
    match action {
        Action::SyncNow => match status::sync_now(&options.base(), token).await {
            Ok(line) => {
                tracing::info!("{line}");
                line
            }
            Err(line) => {
                tracing::warn!("{line}");
                line
            }
        },
        Action::OpenCashierPage => match open::launch_url(&options.base(), token).await {
            // Waited on the blocking pool, so the opener's failure (no browser configured) is
            // reported rather than taken for success.
            Ok(url) => match tokio::task::spawn_blocking(move || open::open_in_browser(&url))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            {
                Ok(()) => {
                    // The URL carries a one-time code: it is not logged.
                    tracing::info!("opened the cashier page");
                    "Opened the cashier page in the browser.".to_owned()
                }
                Err(e) => {
                    let message = format!("could not start a browser ({e}); run `loyalty-agent open` instead");
                    tracing::warn!("{message}");
                    message
                }
            },
            Err(message) => {
                tracing::warn!("{message}");
                message
            }
        },
    }
}

/// The state shown before the first poll answers.
pub fn initial() -> Snapshot {
    Snapshot { state: TrayState::AgentUnreachable, status_lines: vec!["Asking the agent…".to_owned()] }
}
