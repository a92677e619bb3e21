//! The sync loop. One cycle pushes the whole outbox (in batches, in order) and then pulls
//! pages until the feed is exhausted; between cycles the worker long-polls the feed, and wakes
//! at once when a local commit or a "sync now" arrives.
//!
//! While it pushes, the worker publishes how far the push has come (`SyncStatus::drain`: events
//! answered, events left, the rate so far), so health, `POST /v1/sync` and `loyalty-agent sync`
//! can show a long drain moving instead of waiting for its end.
//!
//! Failures back off with full jitter — a random sleep up to min(60 s, 1 s × 2ⁿ) — honouring
//! the cloud's `Retry-After`, and reset on success. Refused credentials stop the loop until a
//! "sync now" (health shows `auth_error`): retrying cannot fix them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{mpsc, oneshot, watch, Notify};

use super::client::{SyncClient, SyncError};
use crate::agent::store::Store;
use crate::clock;
use crate::rules::Program;
use crate::wire::{DrainProgress, SyncState};

/// How long the first batch of a push is on its way before health shows a drain at 0 sent.
const FIRST_PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// Events per push request.
const PUSH_BATCH: usize = 500;
/// How long an idle pull waits at the cloud for something new.
const LONG_POLL_SECONDS: u32 = 25;
/// The longest backoff between failed attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What health and the tray show about sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// `Connecting` (no attempt finished yet), `Online`, `Offline` or `AuthError`.
    pub state: SyncState,
    /// Unix seconds of the last fully successful cycle.
    pub last_success_at: Option<i64>,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    /// While the outbox is being pushed: how far the push has come.
    pub drain: Option<DrainProgress>,
}

impl SyncStatus {
    fn starting(last_success_at: Option<i64>) -> SyncStatus {
        SyncStatus {
            state: SyncState::Connecting,
            last_success_at,
            consecutive_failures: 0,
            last_error: None,
            drain: None,
        }
    }
}

enum Command {
    /// Run a cycle now and report how it went.
    SyncNow(oneshot::Sender<SyncStatus>),
}

/// The handle the rest of the agent holds on the worker.
#[derive(Clone)]
pub struct SyncHandle {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<SyncStatus>,
    wake: Arc<Notify>,
    /// For the few calls that must reach the cloud at once (gift cards).
    client: SyncClient,
}

impl SyncHandle {
    /// The client the worker syncs with, for calls that cannot wait for a sync cycle.
    pub fn client(&self) -> &SyncClient {
        &self.client
    }

    pub fn status(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    /// Tells the worker there is something new in the outbox.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs a cycle at once (skipping any backoff) and answers when it is done.
    pub async fn sync_now(&self) -> SyncStatus {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::SyncNow(reply)).await.is_err() {
            return self.status();
        }
        answer.await.unwrap_or_else(|_| self.status())
    }

    /// [`SyncHandle::sync_now`], waiting at most `wait` for the cycle: `None` when it is still
    /// running then (it goes on; [`SyncHandle::status`] shows how far it has come).
    pub async fn sync_now_within(&self, wait: Duration) -> Option<SyncStatus> {
        tokio::time::timeout(wait, self.sync_now()).await.ok()
    }
}

/// Starts the worker. `on_program` is called with each new program version the cloud sends;
/// `last_success_at` is when a sync last completed (remembered across restarts).
pub fn spawn(
    store: Store,
    client: SyncClient,
    on_program: Arc<dyn Fn(Program) + Send + Sync>,
    last_success_at: Option<i64>,
    shutdown: watch::Receiver<bool>,
) -> (SyncHandle, tokio::task::JoinHandle<()>) {
    let (commands, receiver) = mpsc::channel(16);
    let (status_tx, status) = watch::channel(SyncStatus::starting(last_success_at));
    let wake = Arc::new(Notify::new());
    let handle = SyncHandle { commands, status, wake: wake.clone(), client: client.clone() };
    let worker = Worker { store, client, on_program, commands: receiver, status: status_tx, wake, shutdown };
    let task = tokio::spawn(worker.run());
    (handle, task)
}

struct Worker {
    store: Store,
    client: SyncClient,
    on_program: Arc<dyn Fn(Program) + Send + Sync>,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<SyncStatus>,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
}

/// What ended a wait between cycles.
enum Wakeup {
    Cycle,
    Stop,
}

impl Worker {
    async fn run(mut self) {
        let mut waiters: Vec<oneshot::Sender<SyncStatus>> = Vec::new();
        let mut failures: u32 = 0;
        loop {
            if *self.shutdown.borrow() {
                break;
            }
            let outcome = self.cycle().await;
            if outcome.is_ok() {
                if let Err(e) = self.store.record_sync_success(clock::now()).await {
                    tracing::warn!(error = %e, "could not record the sync time");
                }
            }
            let status = self.record(&outcome, &mut failures);
            for waiter in waiters.drain(..) {
                let _ = waiter.send(status.clone());
            }
            let wakeup = match outcome {
                Ok(()) => self.idle(&mut waiters).await,
                Err(e) if e.is_retryable() => {
                    let delay = backoff(failures, retry_after(&e));
                    tracing::info!(error = %e, retry_in_ms = delay.as_millis() as u64, "sync failed; will retry");
                    self.wait(Some(delay), &mut waiters).await
                }
                Err(e) => {
                    tracing::error!(error = %e, "sync stopped until the till is enrolled again or sync is asked for");
                    self.wait(None, &mut waiters).await
                }
            };
            if let Wakeup::Stop = wakeup {
                break;
            }
        }
        for waiter in waiters.drain(..) {
            let _ = waiter.send(self.status.borrow().clone());
        }
    }

    /// Pushes everything, then pulls until the feed is exhausted.
    async fn cycle(&mut self) -> Result<(), SyncError> {
        self.push_all().await?;
        self.pull_all().await
    }

    /// Pushes the outbox, publishing the progress after every batch; the progress is cleared
    /// when the push ends, however it ends.
    async fn push_all(&mut self) -> Result<(), SyncError> {
        let pushed = self.push_batches().await;
        self.status.send_modify(|status| status.drain = None);
        pushed
    }

    async fn push_batches(&mut self) -> Result<(), SyncError> {
        let started = Instant::now();
        let mut sent: u64 = 0;
        loop {
            let batch = self.store.outbox_batch(PUSH_BATCH).await?;
            let Some(first) = batch.first().map(|e| e.seq) else { return Ok(()) };
            let push = self.client.push(batch);
            let answer = if sent == 0 {
                // A push the cloud refuses at once (it is down) is no drain: the progress shows
                // only once the first batch has been on its way for a moment.
                tokio::pin!(push);
                tokio::select! {
                    answer = &mut push => answer?,
                    _ = tokio::time::sleep(FIRST_PROGRESS_AFTER) => {
                        self.publish_progress(started, sent).await;
                        push.await?
                    }
                }
            } else {
                push.await?
            };
            let summary = self.store.acknowledge(answer.results, clock::now()).await?;
            sent += summary.removed as u64;
            self.publish_progress(started, sent).await;
            if summary.sequence_conflict {
                return Err(self.client.sequence_conflict());
            }
            if let Some(expected) = summary.resend_from {
                if expected < first {
                    return Err(SyncError::Gap { expected, first });
                }
            } else if summary.removed == 0 {
                // The cloud answered for nothing; do not spin — try again after a backoff.
                return Err(SyncError::Refused {
                    status: 200,
                    message: "the cloud answered no event of the batch".into(),
                });
            }
        }
    }

    /// Publishes how far the push begun at `started` has come: `sent` answered, and what the
    /// outbox still holds (new sales made meanwhile included).
    async fn publish_progress(&self, started: Instant, sent: u64) {
        let Ok((left, _)) = self.store.outbox_pending(clock::now()).await else { return };
        let millis = started.elapsed().as_millis().max(1);
        let rate_per_s = u64::try_from(u128::from(sent) * 1000 / millis).unwrap_or(u64::MAX);
        let progress = DrainProgress { sent, left: u64::try_from(left).unwrap_or(0), rate_per_s };
        self.status.send_modify(|status| status.drain = Some(progress));
    }

    async fn pull_all(&mut self) -> Result<(), SyncError> {
        let on_program = self.on_program.clone();
        super::pager::pull_to_end(&self.client, &self.store, |summary, _| {
            if let Some(program) = &summary.program {
                tracing::info!(version = program.version, "a new program version from the cloud is in force");
                on_program(program.clone());
            }
        })
        .await?;
        Ok(())
    }

    /// Publishes how the cycle went and returns the new status.
    fn record(&mut self, outcome: &Result<(), SyncError>, failures: &mut u32) -> SyncStatus {
        let previous = self.status.borrow().clone();
        let status = match outcome {
            Ok(()) => {
                *failures = 0;
                SyncStatus {
                    state: SyncState::Online,
                    last_success_at: Some(clock::now()),
                    consecutive_failures: 0,
                    last_error: None,
                    drain: None,
                }
            }
            Err(e) => {
                *failures = failures.saturating_add(1);
                SyncStatus {
                    state: e.state(),
                    last_success_at: previous.last_success_at,
                    consecutive_failures: i64::from(*failures),
                    last_error: Some(e.to_string()),
                    drain: None,
                }
            }
        };
        if status.state != previous.state {
            tracing::info!(from = previous.state.as_str(), to = status.state.as_str(), "sync state changed");
        }
        self.status.send_replace(status.clone());
        status
    }

    /// Online and idle: long-poll the feed until something changes here or there.
    async fn idle(&mut self, waiters: &mut Vec<oneshot::Sender<SyncStatus>>) -> Wakeup {
        loop {
            let cursor = match self.store.sync_cursor().await {
                Ok(cursor) => cursor,
                Err(_) => return Wakeup::Cycle,
            };
            let client = self.client.clone();
            let poll = async move { client.pull(cursor.as_deref(), super::pager::PAGE_LIMIT, LONG_POLL_SECONDS).await };
            tokio::select! {
                page = poll => {
                    match page {
                        Ok(page) if page.changes.is_empty() && !page.must_refetch => {
                            if self.store.apply_pull_page(Vec::new(), page.next_cursor).await.is_err() {
                                return Wakeup::Cycle;
                            }
                            // A quiet answer still proves the cloud is reachable.
                            let now = clock::now();
                            let _ = self.store.record_sync_success(now).await;
                            self.status.send_modify(|status| status.last_success_at = Some(now));
                        }
                        // Something changed (or the poll failed): a full cycle handles it.
                        _ => return Wakeup::Cycle,
                    }
                }
                _ = self.wake.notified() => return Wakeup::Cycle,
                command = self.commands.recv() => {
                    match command {
                        Some(Command::SyncNow(reply)) => { waiters.push(reply); return Wakeup::Cycle; }
                        None => return Wakeup::Stop,
                    }
                }
                _ = self.shutdown.changed() => return Wakeup::Stop,
            }
        }
    }

    /// After a failure: sleep `delay` (forever if `None`), cut short by new work or a command.
    async fn wait(&mut self, delay: Option<Duration>, waiters: &mut Vec<oneshot::Sender<SyncStatus>>) -> Wakeup {
        let sleep = async {
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => Wakeup::Cycle,
            // New local work does not skip the backoff when the cloud is down; only a person
            // asking ("sync now") does.
            command = self.commands.recv() => match command {
                Some(Command::SyncNow(reply)) => { waiters.push(reply); Wakeup::Cycle }
                None => Wakeup::Stop,
            },
            _ = self.shutdown.changed() => Wakeup::Stop,
        }
    }
}

fn retry_after(error: &SyncError) -> Option<Duration> {
    match error {
        SyncError::Busy { retry_after, .. } => *retry_after,
        _ => None,
    }
}

/// Full jitter: a random delay up to min(60 s, 1 s × 2^(failures − 1)), or what the cloud asked
/// for when it said (capped at five minutes).
fn backoff(failures: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(asked) = retry_after {
        return asked.min(Duration::from_secs(300));
    }
    let exponent = failures.saturating_sub(1).min(16);
    let ceiling = Duration::from_secs(1).saturating_mul(1 << exponent).min(MAX_BACKOFF);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(60_000);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_and_capped() {
        for failures in 1..40 {
            let delay = backoff(failures, None);
            assert!(delay <= MAX_BACKOFF);
            assert!(delay <= Duration::from_secs(1 << (failures - 1).min(6)));
        }
        assert_eq!(backoff(3, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(backoff(3, Some(Duration::from_secs(7_000))), Duration::from_secs(300));
    }
}
