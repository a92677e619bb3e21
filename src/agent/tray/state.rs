//! What the tray shows: the agent's state read from `/v1/health`, as a colour, a tooltip in
//! words, status lines for the menu, and one stable word for the log (tests and support staff
//! grep for `tray state: …`). Pure: no I/O.

use crate::wire::{Health, SyncState};

/// The state the icon shows. `pending` counts operations committed here and not yet confirmed
/// by the cloud (the outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// Connected, and the last sync attempt reached the cloud.
    Online { pending: i64 },
    /// Connected, and the cloud has not answered yet since the agent started.
    Connecting { pending: i64 },
    /// Connected, and the cloud is unreachable: sales go on, and wait in the outbox.
    Offline { pending: i64 },
    /// The cloud refused this till's credentials: sync stopped until it is enrolled again.
    AuthError { pending: i64 },
    /// No cloud configured: the local ledger is the authority.
    Standalone,
    /// The agent answers, but its database cannot be written: sales cannot be committed.
    StorageUnavailable,
    /// Nothing answers at the agent's address.
    AgentUnreachable,
}

/// Which colour an icon has; [`super::icon`] turns it into pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    Green,
    Amber,
    Red,
    /// The brand blue: a neutral "all is as configured" for standalone tills.
    Neutral,
    Grey,
}

impl TrayState {
    /// Reads the agent's health. The storage check wins: a till that cannot commit is red
    /// whatever the cloud says.
    pub fn from_health(health: &Health) -> TrayState {
        if health.status != "ok" || !health.storage.ok {
            return TrayState::StorageUnavailable;
        }
        let pending = health.sync.pending;
        if health.mode == "standalone" {
            return TrayState::Standalone;
        }
        match health.sync.state {
            SyncState::Disabled => TrayState::Standalone,
            SyncState::Online => TrayState::Online { pending },
            SyncState::Connecting => TrayState::Connecting { pending },
            SyncState::AuthError => TrayState::AuthError { pending },
            // Any state a newer agent may add: the cloud is not being reached.
            SyncState::Offline | SyncState::Syncing | SyncState::Unknown => TrayState::Offline { pending },
        }
    }

    pub fn tone(&self) -> Tone {
        match self {
            TrayState::Online { .. } => Tone::Green,
            TrayState::Connecting { .. } | TrayState::Offline { .. } => Tone::Amber,
            TrayState::AuthError { .. } | TrayState::StorageUnavailable => Tone::Red,
            TrayState::Standalone => Tone::Neutral,
            TrayState::AgentUnreachable => Tone::Grey,
        }
    }

    /// The stable word of the log line `tray state: <word>[ pending=N]`.
    pub fn log_word(&self) -> String {
        let (word, pending) = match self {
            TrayState::Online { pending } => ("online", *pending),
            TrayState::Connecting { pending } => ("connecting", *pending),
            TrayState::Offline { pending } => ("offline", *pending),
            TrayState::AuthError { pending } => ("auth_error", *pending),
            TrayState::Standalone => ("standalone", 0),
            TrayState::StorageUnavailable => ("storage_unavailable", 0),
            TrayState::AgentUnreachable => ("agent_unreachable", 0),
        };
        if pending > 0 {
            format!("{word} pending={pending}")
        } else {
            word.to_owned()
        }
    }

    /// The tooltip: one sentence a cashier understands.
    pub fn tooltip(&self) -> String {
        let waiting = |n: i64| match n {
            1 => "1 operation waiting".to_owned(),
            n => format!("{n} operations waiting"),
        };
        match *self {
            TrayState::Online { pending: 0 } => "Loyalty agent: online".to_owned(),
            TrayState::Online { pending } => format!("Loyalty agent: online — {} to sync", waiting(pending)),
            TrayState::Connecting { pending: 0 } => "Loyalty agent: connecting to the cloud".to_owned(),
            TrayState::Connecting { pending } => {
                format!("Loyalty agent: connecting to the cloud — {}", waiting(pending))
            }
            TrayState::Offline { pending: 0 } => {
                "Loyalty agent: offline — the cloud is unreachable; sales go on".to_owned()
            }
            TrayState::Offline { pending } => format!("Loyalty agent: offline — {}", waiting(pending)),
            TrayState::AuthError { pending } => format!(
                "Loyalty agent: sync stopped — the cloud refused this till; enroll it again ({})",
                waiting(pending)
            ),
            TrayState::Standalone => "Loyalty agent: standalone (no cloud)".to_owned(),
            TrayState::StorageUnavailable => {
                "Loyalty agent: the local database cannot be written — sales cannot be committed".to_owned()
            }
            TrayState::AgentUnreachable => "Loyalty agent is not running".to_owned(),
        }
    }
}

/// One reading of the agent, as the tray shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub state: TrayState,
    /// The status submenu's lines: mode, database, sync, last sync (from `status::describe`),
    /// or why the agent cannot be reached.
    pub status_lines: Vec<String>,
}

impl Snapshot {
    pub fn from_health(health: &Health) -> Snapshot {
        Snapshot {
            state: TrayState::from_health(health),
            status_lines: crate::agent::status::describe(health).lines().map(str::to_owned).collect(),
        }
    }

    pub fn unreachable(why: &str) -> Snapshot {
        Snapshot {
            state: TrayState::AgentUnreachable,
            status_lines: vec![
                "The loyalty agent is not running.".to_owned(),
                why.to_owned(),
                "Start it with `loyalty-agent serve` or the system service.".to_owned(),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{StorageHealth, SyncHealth};

    fn health(mode: &str, state: &str, pending: i64, storage_ok: bool) -> Health {
        Health {
            status: if storage_ok { "ok" } else { "unhealthy" }.to_owned(),
            version: "0.1.0".to_owned(),
            mode: mode.to_owned(),
            sync: SyncHealth {
                // Read as the tray reads a health answer, so a word a newer agent may send is
                // tested too.
                state: serde_json::from_value(serde_json::Value::from(state)).expect("a sync state"),
                pending,
                oldest_pending_seconds: None,
                last_success_at: None,
                consecutive_failures: 0,
                last_error: None,
                drain: None,
            },
            storage: StorageHealth { ok: storage_ok, error: (!storage_ok).then(|| "disk full".to_owned()) },
        }
    }

    #[test]
    fn states_from_health() {
        let cases = [
            (health("standalone", "disabled", 4, true), TrayState::Standalone, "standalone", Tone::Neutral),
            (health("connected", "online", 0, true), TrayState::Online { pending: 0 }, "online", Tone::Green),
            (health("connected", "online", 2, true), TrayState::Online { pending: 2 }, "online pending=2", Tone::Green),
            (
                health("connected", "offline", 1, true),
                TrayState::Offline { pending: 1 },
                "offline pending=1",
                Tone::Amber,
            ),
            (
                health("connected", "connecting", 0, true),
                TrayState::Connecting { pending: 0 },
                "connecting",
                Tone::Amber,
            ),
            (
                health("connected", "auth_error", 3, true),
                TrayState::AuthError { pending: 3 },
                "auth_error pending=3",
                Tone::Red,
            ),
            (health("connected", "something_new", 0, true), TrayState::Offline { pending: 0 }, "offline", Tone::Amber),
            // Storage wins over the cloud's state.
            (health("connected", "online", 0, false), TrayState::StorageUnavailable, "storage_unavailable", Tone::Red),
            (
                health("standalone", "disabled", 0, false),
                TrayState::StorageUnavailable,
                "storage_unavailable",
                Tone::Red,
            ),
        ];
        for (health, state, word, tone) in cases {
            let got = TrayState::from_health(&health);
            assert_eq!(got, state, "{health:?}");
            assert_eq!(got.log_word(), word);
            assert_eq!(got.tone(), tone);
        }
        assert_eq!(TrayState::AgentUnreachable.log_word(), "agent_unreachable");
        assert_eq!(TrayState::AgentUnreachable.tone(), Tone::Grey);
    }

    #[test]
    fn tooltips_are_words() {
        assert_eq!(TrayState::Online { pending: 0 }.tooltip(), "Loyalty agent: online");
        assert_eq!(TrayState::Offline { pending: 3 }.tooltip(), "Loyalty agent: offline — 3 operations waiting");
        assert_eq!(TrayState::Offline { pending: 1 }.tooltip(), "Loyalty agent: offline — 1 operation waiting");
        assert_eq!(TrayState::AgentUnreachable.tooltip(), "Loyalty agent is not running");
        assert_eq!(TrayState::Standalone.tooltip(), "Loyalty agent: standalone (no cloud)");
        assert!(TrayState::AuthError { pending: 0 }.tooltip().contains("enroll it again"));
    }

    #[test]
    fn snapshot_lines_come_from_status() {
        let snapshot = Snapshot::from_health(&health("standalone", "disabled", 0, true));
        assert!(snapshot.status_lines[0].contains("standalone"), "{:?}", snapshot.status_lines);
        assert!(snapshot.status_lines.iter().any(|l| l.starts_with("Local database")));
        let down = Snapshot::unreachable("connection refused");
        assert_eq!(down.state, TrayState::AgentUnreachable);
        assert!(down.status_lines.iter().any(|l| l.contains("loyalty-agent serve")));
    }
}
