//! The agent as a system service: where a service install keeps its data on each platform,
//! and on Windows the service control manager's side of `loyalty-agent service run`.
//!
//! Linux and macOS need no code here: systemd (`installer/linux/loyalty-agent.service`) and
//! launchd (`installer/macos/`) run `loyalty-agent serve --no-tray --data-dir <system folder>`
//! and stop it with SIGTERM, which `serve` already handles. Windows services cannot be plain
//! processes: the SCM starts them through a dispatcher and stops them with a control message,
//! so `windows.rs` (compiled only on Windows) bridges that to the same server `serve` runs.

use std::path::PathBuf;

/// The service's name, as systemd, launchd (`…loyalty-agent`) and the Windows SCM know it.
pub const SERVICE_NAME: &str = "loyalty-agent";

/// The fixed folder of a system service install (CONTRACTS.md §platform): `/var/lib/loyalty-agent`,
/// `/Library/Application Support/loyalty-agent`, `%ProgramData%\loyalty-agent`. `None` where
/// there is no such convention. `LOYALTY_AGENT_SYSTEM_DIR` names another one (an install laid
/// out differently, and the tests).
pub fn system_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LOYALTY_AGENT_SYSTEM_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if cfg!(target_os = "linux") {
        Some(PathBuf::from("/var/lib/loyalty-agent"))
    } else if cfg!(target_os = "macos") {
        Some(PathBuf::from("/Library/Application Support/loyalty-agent"))
    } else if cfg!(windows) {
        let program_data = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
        Some(PathBuf::from(program_data).join("loyalty-agent"))
    } else {
        None
    }
}

/// What `loyalty-agent service …` says where the platform's own service manager is used.
pub const MANAGED_ELSEWHERE: &str = "on this system the agent service is managed by the service manager, not by \
`loyalty-agent service`: with systemd, `systemctl status|restart loyalty-agent` (the Debian package installs the \
unit); on macOS, `launchctl kickstart -k system/com.loyalty-agent.agent` (see installer/macos/)";

// `define_windows_service!` expands to an `unsafe` block (reading the argument vector the SCM
// passes in), which is why the crate denies rather than forbids unsafe code.
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows;
#[cfg(windows)]
pub use windows::{run, ServiceError};
