//! `loyalty-agent service run` on Windows: what the service control manager starts (the
//! installer registers it with these arguments). It runs the same server as `serve`, with its
//! data in `%ProgramData%\loyalty-agent`, and stops cleanly on the SCM's stop or shutdown control.
//!
//! Kept small on purpose: it is not compiled or tested on the Linux machines this project is
//! built on (see the README), so everything it can share with `serve` lives elsewhere.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

use super::SERVICE_NAME;
use crate::agent::config::AgentConfig;
use crate::agent::server;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the service control manager refused a call (is this run by the service manager, not a console?): {0}")]
    Scm(#[from] windows_service::Error),
    #[error(transparent)]
    Start(#[from] server::StartError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the service started without its configuration")]
    NoConfig,
}

/// The configuration `run` was given. The SCM calls `service_main` without any context, so it
/// is handed over through this cell.
static CONFIG: OnceLock<AgentConfig> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Connects to the SCM and serves until it stops the service. Blocks the calling thread.
pub fn run(config: AgentConfig) -> Result<(), ServiceError> {
    let _ = CONFIG.set(config);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)?;
    Ok(())
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = serve_until_stopped() {
        tracing::error!(error = %e, "the agent service stopped with an error");
    }
}

fn status(state: ServiceState, exit_code: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: ServiceExitCode::Win32(exit_code),
        checkpoint: 0,
        wait_hint: Duration::from_secs(10),
        process_id: None,
    }
}

fn serve_until_stopped() -> Result<(), ServiceError> {
    let config = CONFIG.get().cloned().ok_or(ServiceError::NoConfig)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut stop_tx = Some(stop_tx);
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(tx) = stop_tx.take() {
                let _ = tx.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = service_control_handler::register(SERVICE_NAME, handler)?;
    handle.set_service_status(status(ServiceState::StartPending, 0))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(async {
        let prepared = server::prepare(&config).await?;
        handle.set_service_status(status(ServiceState::Running, 0))?;
        tracing::info!(data_dir = %config.data_dir.display(), "agent service started");
        server::run(prepared, async move {
            let _ = stop_rx.await;
        })
        .await?;
        Ok::<(), ServiceError>(())
    });
    handle.set_service_status(status(ServiceState::StopPending, 0))?;
    drop(runtime);
    if let Err(e) = served {
        // The SCM applies the installer's failure actions (restart) when a service process ends
        // without reporting "stopped"; a reported stop with an error code does not count unless
        // the failure-actions flag is set, which the installer does not set. So: no report, exit.
        // (The last lines of the rolling log file may be lost: the process ends here.)
        tracing::error!(error = %e, "the agent service failed; exiting so the service manager restarts it");
        std::process::exit(1);
    }
    handle.set_service_status(status(ServiceState::Stopped, 0))?;
    Ok(())
}
