//! The tray on Windows and macOS: `tao`'s event loop on the calling (main) thread, which is
//! what `tray-icon` needs there (a Win32 message loop, the AppKit run loop).
//!
//! NOT BUILT FOR OR RUN ON Windows or macOS here (see the README): the project's machines are
//! Linux. It was type-checked once against tao's (cross-platform) API by compiling it on Linux,
//! and it is kept to the shape of `linux.rs`, whose behaviour the Xvfb tests check. The model,
//! icons, menu (`gui.rs`) and monitor are the same code on every platform.
//!
//! Threads: the loop's thread owns the icon and the menu. The monitor runs on tokio and sends
//! [`Update`]s through a std channel, drained every 100 ms; menu clicks go the other way
//! through a tokio channel. Quit and Ctrl-C end the loop after removing the icon.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tao::event::Event;
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tray_icon::menu::MenuEvent;

use super::gui::{Choice, TrayUi};
use super::monitor::{self, Publish, Update, POLL_INTERVAL};
use super::{TrayError, TrayOptions};

pub(super) fn run(options: TrayOptions, runtime: &tokio::runtime::Handle) -> Result<(), TrayError> {
    let event_loop = EventLoopBuilder::new().build();
    let icon_dir = options.icon_dir.clone();
    let (update_tx, update_rx) = std::sync::mpsc::channel::<Update>();
    let (action_tx, action_rx) = tokio::sync::mpsc::unbounded_channel();
    let publish: Publish = Arc::new(move |update| {
        // A send fails only once the loop has gone, when nobody needs the update.
        let _ = update_tx.send(update);
    });
    let mut monitor = Some(runtime.spawn(monitor::watch(options, POLL_INTERVAL, publish, action_rx)));
    let interrupted = Arc::new(AtomicBool::new(false));
    runtime.spawn({
        let interrupted = interrupted.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
            }
        }
    });

    let mut ui: Option<TrayUi> = None;
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::WaitUntil(Instant::now() + Duration::from_millis(100));
        if !matches!(event, Event::NewEvents(_)) {
            return;
        }
        // Made once the loop runs: AppKit wants its status item created from inside it.
        if ui.is_none() {
            match TrayUi::new(&monitor::initial(), &icon_dir) {
                Ok(made) => {
                    tracing::info!(pid = std::process::id(), "tray started");
                    ui = Some(made);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    if let Some(monitor) = monitor.take() {
                        monitor.abort();
                    }
                    std::process::exit(1);
                }
            }
        }
        let Some(shown) = ui.as_mut() else { return };
        // Only the newest snapshot matters, but notices must all be seen: apply in order.
        while let Ok(update) = update_rx.try_recv() {
            shown.apply(update);
        }
        let mut stop = interrupted.load(Ordering::SeqCst).then_some("Ctrl-C");
        while let Ok(event) = MenuEvent::receiver().try_recv() {
            match shown.choice(&event) {
                Some(Choice::Quit) => stop = Some("Quit"),
                Some(Choice::Action(action)) => {
                    tracing::info!(?action, "menu");
                    let _ = action_tx.send(action);
                }
                None => {}
            }
        }
        if let Some(why) = stop {
            tracing::info!("stopping the tray ({why})");
            if let Some(monitor) = monitor.take() {
                monitor.abort();
            }
            // The icon goes on its own thread, before the process ends.
            ui = None;
            let _ = std::fs::remove_dir_all(&icon_dir);
            tracing::info!("tray stopped");
            *control_flow = ControlFlow::Exit;
        }
    })
}
