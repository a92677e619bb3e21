//! `loyalty-agent tray`: a small per-user process that shows the agent's state as a tray icon
//! (CONTRACTS.md §platform: a Windows service cannot show UI, so the tray is a process of its own).
//!
//! The parts that need no desktop are always compiled and tested without one:
//! - [`state`]: what the icon says — [`TrayState`] from the agent's `/v1/health`, the tooltip in
//!   words, the status lines, the stable log word;
//! - [`icon`]: the icons, drawn in code as RGBA discs;
//! - [`monitor`]: the poller that runs on tokio, and the menu's actions (open the cashier page
//!   with a one-time launch code, sync now).
//!
//! With cargo feature `tray`, `gui` puts them on screen with the `tray-icon` crate: on Linux in
//! a GTK event loop that owns the main thread (`linux.rs`), on Windows and macOS in `tao`'s
//! (`desktop.rs`, not compiled here); the tray object is not `Send`, so the monitor talks to it
//! through a channel.

pub mod icon;
pub mod monitor;
pub mod state;

#[cfg(all(feature = "tray", any(windows, target_os = "macos")))]
mod desktop;
#[cfg(feature = "tray")]
mod gui;
#[cfg(all(feature = "tray", target_os = "linux"))]
mod linux;

pub use state::{Snapshot, TrayState};

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::agent::config::AgentConfig;

/// What the tray needs to know: where the agent listens and the token its menu actions send.
#[derive(Clone)]
pub struct TrayOptions {
    pub listen: SocketAddr,
    /// `None` when neither `LOYALTY_AGENT_TOKEN` nor the token file gives one: the icon still
    /// follows the agent (health needs no token), and the menu's actions say what is missing.
    pub token: Option<String>,
    /// A folder of this process's own for the icon images (appindicator shows icons from
    /// files): per user and per process, so two users' trays never share one. Removed at exit.
    pub icon_dir: PathBuf,
}

impl std::fmt::Debug for TrayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrayOptions")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("icon_dir", &self.icon_dir)
            .finish()
    }
}

impl TrayOptions {
    /// The options for the agent `config` describes: its address, and its token read without
    /// creating one.
    pub fn from_config(config: &AgentConfig) -> TrayOptions {
        let user_dir = directories::ProjectDirs::from("", "", "loyalty-agent")
            .map(|dirs| dirs.runtime_dir().unwrap_or(dirs.cache_dir()).to_path_buf())
            .unwrap_or_else(|| std::env::temp_dir().join("loyalty-agent"));
        TrayOptions {
            listen: config.listen,
            token: read_token(config),
            icon_dir: user_dir.join(format!("tray-{}", std::process::id())),
        }
    }

    /// The agent's base address, e.g. `http://127.0.0.1:8719`.
    pub fn base(&self) -> String {
        format!("http://{}", self.listen)
    }
}

/// Why the tray cannot run. Each says what to do; none is a panic.
#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    #[error(
        "no graphical display (DISPLAY/WAYLAND_DISPLAY); the tray needs a desktop session — the agent itself runs without it"
    )]
    NoDisplay,
    #[error(
        "the appindicator library is missing (libayatana-appindicator3.so.1 or libappindicator3.so.1); install the Debian package libayatana-appindicator3-1 (`sudo apt install libayatana-appindicator3-1`) and start the tray again"
    )]
    NoAppIndicator,
    #[error(
        "the desktop toolkit could not start: {0}; the tray needs a desktop session — the agent itself runs without it"
    )]
    Toolkit(String),
    #[error("the tray icon could not be created: {0}")]
    Icon(String),
    #[error("this build's tray does not support this platform yet; the agent itself runs without it")]
    Unsupported,
}

/// Runs the tray until Quit, SIGINT or SIGTERM. The event loop takes the calling thread (call it
/// from the main thread); the monitor runs on `runtime`.
#[cfg(feature = "tray")]
pub fn run(options: TrayOptions, runtime: &tokio::runtime::Handle) -> Result<(), TrayError> {
    #[cfg(target_os = "linux")]
    {
        linux::run(options, runtime)
    }
    #[cfg(any(windows, target_os = "macos"))]
    {
        desktop::run(options, runtime)
    }
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
    {
        let _ = (options, runtime);
        Err(TrayError::Unsupported)
    }
}

/// Reads the agent token without creating one: `LOYALTY_AGENT_TOKEN` (already in `config`),
/// else the token file, else a system install's (see `AgentConfig::client_token`). A tray must
/// never write a token the agent does not know.
pub fn read_token(config: &AgentConfig) -> Option<String> {
    match config.existing_client_token() {
        Ok(token) => token.map(|token| token.as_str().to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "the tray cannot read the agent's token; its menu actions will be refused");
            None
        }
    }
}
