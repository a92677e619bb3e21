//! The tray icon on screen, with the `tray-icon` crate: the icon, its tooltip and its menu
//! ("Open cashier page", "Sync now", a "Status" submenu of read-only lines, "Quit").
//!
//! Everything here lives on the event loop's thread: `TrayIcon` and the menu items are not
//! `Send`. The platform's loop (`linux.rs`) feeds it [`Update`]s and asks it what a menu click
//! means.

use tray_icon::menu::{IsMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem, Submenu};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::icon;
use super::monitor::{Action, Update};
use super::state::{Snapshot, Tone};
use super::TrayError;

/// What a menu click asks for.
pub(super) enum Choice {
    Action(Action),
    Quit,
}

pub(super) struct TrayUi {
    tray: TrayIcon,
    status: Submenu,
    /// The read-only lines in the status submenu, replaced on each snapshot.
    lines: Vec<MenuItem>,
    /// The outcome of the last action, shown under the status lines.
    notice: Option<String>,
    /// The snapshot on screen.
    shown: Snapshot,
    tone: Tone,
    open: MenuId,
    sync: MenuId,
    quit: MenuId,
}

fn icon_of(tone: Tone) -> Result<Icon, TrayError> {
    Icon::from_rgba(icon::rgba(tone), icon::SIZE, icon::SIZE).map_err(|e| TrayError::Icon(e.to_string()))
}

fn menu_error(e: tray_icon::menu::Error) -> TrayError {
    TrayError::Icon(e.to_string())
}

impl TrayUi {
    /// Builds the icon and its menu. Must run on the event loop's thread, after the toolkit is
    /// up (and, on Linux, after the appindicator library was found: tray-icon panics without it).
    pub(super) fn new(first: &Snapshot, icon_dir: &std::path::Path) -> Result<TrayUi, TrayError> {
        let open = MenuItem::new("Open cashier page", true, None);
        let sync = MenuItem::new("Sync now", true, None);
        let status = Submenu::new("Status", true);
        let quit = MenuItem::new("Quit", true, None);
        let menu = Menu::new();
        menu.append_items(&[&open, &sync, &status, &PredefinedMenuItem::separator(), &quit]).map_err(menu_error)?;
        let tone = first.state.tone();
        let tray = TrayIconBuilder::new()
            .with_menu(Box::new(menu))
            .with_tooltip(first.state.tooltip())
            .with_temp_dir_path(icon_dir)
            .with_icon(icon_of(tone)?)
            .build()
            .map_err(|e| TrayError::Icon(e.to_string()))?;
        let mut ui = TrayUi {
            tray,
            status,
            lines: Vec::new(),
            notice: None,
            shown: first.clone(),
            tone,
            open: open.id().clone(),
            sync: sync.id().clone(),
            quit: quit.id().clone(),
        };
        ui.fill_status(first);
        Ok(ui)
    }

    pub(super) fn apply(&mut self, update: Update) {
        match update {
            Update::Snapshot(snapshot) => {
                let tone = snapshot.state.tone();
                if tone != self.tone {
                    match icon_of(tone)
                        .and_then(|icon| self.tray.set_icon(Some(icon)).map_err(|e| TrayError::Icon(e.to_string())))
                    {
                        Ok(()) => self.tone = tone,
                        Err(e) => tracing::warn!(error = %e, "the tray icon could not be changed"),
                    }
                }
                if let Err(e) = self.tray.set_tooltip(Some(snapshot.state.tooltip())) {
                    tracing::debug!(error = %e, "the tooltip could not be set");
                }
                self.fill_status(&snapshot);
            }
            Update::Notice(text) => {
                self.notice = Some(text);
                let shown = self.shown.clone();
                self.fill_status(&shown);
            }
        }
    }

    /// Replaces the status submenu's lines: the snapshot's, then the last action's outcome.
    fn fill_status(&mut self, snapshot: &Snapshot) {
        for item in self.lines.drain(..) {
            if let Err(e) = self.status.remove(&item) {
                tracing::debug!(error = %e, "a status line could not be removed");
            }
        }
        self.shown = snapshot.clone();
        let mut lines = vec![snapshot.state.tooltip()];
        lines.extend(snapshot.status_lines.iter().cloned());
        if let Some(notice) = &self.notice {
            lines.push(format!("Last action: {notice}"));
        }
        for line in lines {
            self.append_line(line);
        }
    }

    fn append_line(&mut self, text: String) {
        // Disabled: these are information, not commands.
        let item = MenuItem::new(text, false, None);
        match self.status.append(&item as &dyn IsMenuItem) {
            Ok(()) => self.lines.push(item),
            Err(e) => tracing::debug!(error = %e, "a status line could not be added"),
        }
    }

    pub(super) fn choice(&self, event: &MenuEvent) -> Option<Choice> {
        if event.id == self.open {
            Some(Choice::Action(Action::OpenCashierPage))
        } else if event.id == self.sync {
            Some(Choice::Action(Action::SyncNow))
        } else if event.id == self.quit {
            Some(Choice::Quit)
        } else {
            None
        }
    }
}
