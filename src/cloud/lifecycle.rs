//! The birthday job (and the expiry notices) as a background component: one per loyalty-cloud process, started and
//! stopped by `server::run` (CONTRACTS.md §campaigns, `birthday`).
//!
//! It runs once at start and then every hour: a birthday's window is whole local days, so an
//! hour late is on the right day, and a customer whose window opened at midnight, or who gave
//! their birthday mid-window, is granted within the hour. The work is the store's
//! ([`Store::grant_birthdays`]), which keys every grant by customer and birthday year: a
//! restart, a second process on the same PostgreSQL, or the back office's "grant now"
//! (`POST /v1/admin/birthdays/grant`) never grants twice. A failed run is logged and tried
//! again at the next hour.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::store::Store;
use crate::clock::now;

/// How often the job runs after the first run at start.
pub const BIRTHDAY_EVERY: Duration = Duration::from_secs(3600);

/// Starts the job; it ends when `stop` turns true (or its sender goes away). A run in flight is
/// a sequence of short transactions: stopping between them leaves nothing half done.
/// `expiry_notice_days`: how long before points expire `points_expiring` is sent (0 = never);
/// the same runs send `points_expired` ([`Store::notify_expiry`]).
pub fn spawn(store: Store, every: Duration, expiry_notice_days: i64, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(store, every, expiry_notice_days, stop))
}

async fn run(store: Store, every: Duration, expiry_notice_days: i64, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        match store.grant_birthdays(now()).await {
            Ok(run) if run.granted > 0 => {
                tracing::info!(customers = run.granted, points = run.points, "birthday points granted")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the birthday job failed; it runs again within the hour"),
        }
        match store.notify_expiry(now(), expiry_notice_days).await {
            Ok(run) if run.expiring + run.expired > 0 => {
                tracing::info!(expiring = run.expiring, expired = run.expired, "expiry notices sent to webhooks")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the expiry notices failed; they are tried again within the hour"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
