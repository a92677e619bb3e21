//! The tray on Linux: a GTK event loop on the calling (main) thread, with the icon shown
//! through appindicator by `tray-icon`.
//!
//! Start-up checks come first so that a till without a desktop or without the appindicator
//! library gets a sentence, not a crash: no `DISPLAY`/`WAYLAND_DISPLAY` → [`TrayError::NoDisplay`];
//! the library not loadable → [`TrayError::NoAppIndicator`] (tray-icon would panic in
//! `TrayIconBuilder::build`); GTK not starting → [`TrayError::Toolkit`].
//!
//! Threads: the GTK thread owns the icon and the menu. The monitor runs on tokio and sends
//! [`Update`]s through a std channel, which a 100 ms GLib timeout drains; menu clicks go the
//! other way through a tokio channel. SIGINT and SIGTERM are GLib sources on the same loop, so
//! every way out (Quit, a signal) ends `gtk::main` and the icon is dropped on its own thread.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use gtk::glib;
use tray_icon::menu::MenuEvent;

use super::gui::{Choice, TrayUi};
use super::monitor::{self, Publish, Update, POLL_INTERVAL};
use super::{TrayError, TrayOptions};

/// Signal numbers on Linux (every architecture Rust supports there uses these two).
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// The libraries tray-icon's appindicator binding tries, in its order.
const APPINDICATOR_LIBRARIES: [&str; 2] = ["libayatana-appindicator3.so.1", "libappindicator3.so.1"];

pub(super) fn run(options: TrayOptions, runtime: &tokio::runtime::Handle) -> Result<(), TrayError> {
    if !has_display() {
        return Err(TrayError::NoDisplay);
    }
    if !appindicator_loadable() {
        return Err(TrayError::NoAppIndicator);
    }
    gtk::init().map_err(|e| TrayError::Toolkit(e.to_string()))?;

    let icon_dir = options.icon_dir.clone();
    let ui = Rc::new(RefCell::new(TrayUi::new(&monitor::initial(), &icon_dir)?));
    let (update_tx, update_rx) = std::sync::mpsc::channel::<Update>();
    let (action_tx, action_rx) = tokio::sync::mpsc::unbounded_channel();
    let publish: Publish = Arc::new(move |update| {
        // A send fails only once the GTK side has gone, when nobody needs the update.
        let _ = update_tx.send(update);
    });
    let monitor = runtime.spawn(monitor::watch(options, POLL_INTERVAL, publish, action_rx));

    let stop = |why: &'static str| {
        move || {
            tracing::info!("stopping the tray ({why})");
            gtk::main_quit();
            // Continue: the source is removed below; removing a finished source panics in glib.
            glib::ControlFlow::Continue
        }
    };
    let sources = vec![
        glib::unix_signal_add_local(SIGTERM, stop("SIGTERM")),
        glib::unix_signal_add_local(SIGINT, stop("SIGINT")),
        glib::timeout_add_local(Duration::from_millis(100), {
            let ui = ui.clone();
            move || {
                let mut ui = ui.borrow_mut();
                // Only the newest snapshot matters, but notices must all be seen: apply in order.
                while let Ok(update) = update_rx.try_recv() {
                    ui.apply(update);
                }
                while let Ok(event) = MenuEvent::receiver().try_recv() {
                    match ui.choice(&event) {
                        Some(Choice::Quit) => {
                            tracing::info!("stopping the tray (Quit)");
                            gtk::main_quit();
                        }
                        Some(Choice::Action(action)) => {
                            tracing::info!(?action, "menu");
                            let _ = action_tx.send(action);
                        }
                        None => {}
                    }
                }
                glib::ControlFlow::Continue
            }
        }),
    ];
    // The pid lets a test (or a script under xvfb-run) signal this process itself.
    tracing::info!(pid = std::process::id(), "tray started");
    gtk::main();

    // Removing the timeout drops the action sender, which ends the monitor's loop; it is also
    // aborted, since it may be waiting on a slow agent.
    for source in sources {
        source.remove();
    }
    monitor.abort();
    drop(ui);
    let _ = std::fs::remove_dir_all(&icon_dir);
    tracing::info!("tray stopped");
    Ok(())
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// Whether the appindicator library tray-icon needs can be loaded, asked the way tray-icon will
/// ask (dlopen by soname), so the answer cannot disagree with it.
#[allow(unsafe_code)]
fn appindicator_loadable() -> bool {
    APPINDICATOR_LIBRARIES.iter().any(|name| {
        // SAFETY: loading runs the library's initialisers. These are the GTK-based libraries
        // tray-icon is about to load itself; they have no initialiser that needs anything from us.
        match unsafe { libloading::Library::new(name) } {
            Ok(library) => {
                // Kept loaded: tray-icon opens the same library next, and unloading a library
                // that registered GLib types is not safe.
                std::mem::forget(library);
                true
            }
            Err(e) => {
                tracing::debug!(library = name, error = %e, "appindicator library not loadable");
                false
            }
        }
    })
}
