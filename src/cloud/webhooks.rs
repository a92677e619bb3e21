//! Webhook delivery: a background component, one per loyalty-cloud process (CONTRACTS.md §webhooks).
//!
//! The outbox rows are written by the changing transactions (`store::webhooks`); this task
//! claims due rows under a lease, POSTs each one signed (`X-Loyalty-Signature`), and records
//! the outcome: a 2xx is delivered; anything else — another status, a refused connection, a
//! timeout — is tried again after an exponential backoff, and after the last attempt the row
//! is `failed` and listed for the back office. A receiver whose address lies inside the
//! cloud's own network (`webhook_address`) is not contacted: that delivery is `failed` at
//! once, with the reason, unless the cloud was started with `--allow-private-webhooks`. With several processes on one PostgreSQL
//! database each claims different rows (see the store module for the lease), so a row is
//! delivered by one process at a time; receivers deduplicate by `X-Loyalty-Delivery` for the
//! rare redelivery after a crash.
//!
//! It wakes when this process commits a change (the store's signal), and polls otherwise, for
//! retries coming due and for rows another process wrote. It stops when the server stops; a
//! delivery cut short is retried when its lease runs out.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::store::{AttemptOutcome, ClaimedDelivery, RetryPolicy, Store};
use super::webhook_address::{self, GuardedResolver};
use crate::clock::{now, now_ms};

/// How deliveries are retried and how long a receiver may take.
#[derive(Debug, Clone, Copy)]
pub struct WebhookSettings {
    /// The wait after the first failure; it doubles per failure, up to an hour.
    pub backoff: Duration,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: i64,
    /// How long one POST may take.
    pub timeout: Duration,
    /// Whether receivers on loopback, private or link-local addresses are allowed
    /// (`--allow-private-webhooks`); off, such a webhook is refused at creation and delivery.
    pub allow_private: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        // 5 s, 10 s, 20 s … capped at an hour: twelve attempts span about three hours.
        WebhookSettings {
            backoff: Duration::from_secs(5),
            max_attempts: 12,
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

/// Deliveries claimed (and sent concurrently) at a time.
const BATCH: i64 = 16;
/// The longest wait between looks at the outbox when nothing wakes the task.
const POLL: Duration = Duration::from_secs(1);
/// Delivered rows are kept this long for the back office, then removed.
const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often old delivered rows are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the delivery task; it ends when `stop` turns true (or its sender goes away).
pub fn spawn(store: Store, settings: WebhookSettings, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(store, settings, stop))
}

async fn run(store: Store, settings: WebhookSettings, mut stop: watch::Receiver<bool>) {
    // Redirects are not followed: a receiver that moved must be updated by the admin, and a
    // signed body should not travel to an address nobody configured. Names are resolved only
    // by the guarded resolver, which passes the client checked addresses alone; no proxy from
    // the environment, since through one the resolver would check the proxy, not the receiver.
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(GuardedResolver { allow_private: settings.allow_private })
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks are not delivered");
            return;
        }
    };
    let owner = uuid::Uuid::new_v4().to_string();
    // The lease outlasts the slowest possible attempt, so it never runs out while one is in flight.
    let lease = settings.timeout * 2 + Duration::from_secs(30);
    let policy = RetryPolicy { backoff: settings.backoff, max_attempts: settings.max_attempts.max(1) };
    let poll = POLL.min(settings.backoff.max(Duration::from_millis(50)));
    let signal = store.change_signal();
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        // Registered before looking, so a commit made while we look still wakes the wait below.
        let changed = signal.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();

        match store.claim_deliveries(owner.clone(), now_ms(), lease, BATCH).await {
            Ok(claimed) if !claimed.is_empty() => {
                deliver_all(&store, &client, &owner, policy, settings.allow_private, claimed).await;
                // There may be more due right away.
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the webhook outbox; trying again"),
        }
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(tokio::time::Instant::now());
            if let Err(e) = store.prune_deliveries(now(), KEEP_DELIVERED).await {
                tracing::warn!(error = %e, "cannot remove old webhook deliveries");
            }
        }
        tokio::select! {
            _ = &mut changed => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Sends the claimed deliveries concurrently and records each outcome.
async fn deliver_all(
    store: &Store,
    client: &reqwest::Client,
    owner: &str,
    policy: RetryPolicy,
    allow_private: bool,
    claimed: Vec<ClaimedDelivery>,
) {
    let mut tasks = JoinSet::new();
    for delivery in claimed {
        let (store, client, owner) = (store.clone(), client.clone(), owner.to_owned());
        tasks.spawn(async move {
            let outcome = attempt(&client, allow_private, &delivery).await;
            match &outcome {
                AttemptOutcome::Delivered { status } => {
                    tracing::debug!(delivery = %delivery.id, status, "webhook delivered")
                }
                AttemptOutcome::Failed { error, .. } => {
                    tracing::info!(delivery = %delivery.id, webhook = %delivery.webhook_id, attempts = delivery.attempts, %error, "webhook delivery failed")
                }
                AttemptOutcome::Refused { error } => {
                    tracing::warn!(delivery = %delivery.id, webhook = %delivery.webhook_id, %error, "webhook delivery refused")
                }
            }
            if let Err(e) = store.finish_delivery(owner, delivery, outcome, policy, now_ms()).await {
                // The lease runs out and the delivery is tried again: at least once, never lost.
                tracing::warn!(error = %e, "cannot record a webhook delivery's outcome");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// One POST of one delivery — or none, when the receiver's address is refused.
async fn attempt(client: &reqwest::Client, allow_private: bool, delivery: &ClaimedDelivery) -> AttemptOutcome {
    // An IP literal never reaches the resolver, so it is checked here; names are checked by
    // the resolver as the client connects.
    if !allow_private {
        if let Ok(url) = reqwest::Url::parse(&delivery.url) {
            if let Err(refused) = webhook_address::check_literal(&url) {
                return AttemptOutcome::Refused { error: format!("{NOT_SENT}{refused}") };
            }
        }
    }
    let signature = crate::wire::signature(&delivery.secret, delivery.body.as_bytes());
    let sent = client
        .post(&delivery.url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("loyalty-cloud/", env!("CARGO_PKG_VERSION")))
        .header("X-Loyalty-Event", &delivery.kind)
        .header("X-Loyalty-Delivery", &delivery.id)
        .header("X-Loyalty-Signature", signature)
        .body(delivery.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {
            AttemptOutcome::Delivered { status: response.status().as_u16() }
        }
        Ok(response) => AttemptOutcome::Failed {
            status: Some(response.status().as_u16()),
            error: format!("{RECEIVER_ANSWERED}{}", response.status()),
        },
        Err(e) if webhook_address::find_refusal(&e).is_some() => {
            let refused = webhook_address::find_refusal(&e).map(ToString::to_string).unwrap_or_default();
            AttemptOutcome::Refused { error: format!("{NOT_SENT}{refused}") }
        }
        Err(e) => {
            let mut error = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                error.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            AttemptOutcome::Failed { status: None, error }
        }
    }
}

/// How a stored delivery error starts when the receiver answered with a failing status.
const RECEIVER_ANSWERED: &str = "the receiver answered HTTP ";
/// How it starts when the address was refused before sending (a private address).
const NOT_SENT: &str = "not sent: ";

/// A delivery's stored error as a sentence a reader gets in their language: the receiver's
/// status, an address refused before sending, or why the receiver could not be reached (the
/// transport's own words, which name the host and the cause). Told apart by how this module
/// writes them.
pub fn error_sentence(status: Option<i64>, error: &str) -> crate::http::sentence::Sentence {
    use crate::http::sentence::Sentence;
    match status {
        Some(status) if error.starts_with(RECEIVER_ANSWERED) => {
            Sentence::new("webhook_status", error).with("status", status)
        }
        _ if error.starts_with(NOT_SENT) => Sentence::new("webhook_not_sent", error),
        _ => Sentence::new("webhook_unreachable", error).with("error", error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Lang;

    /// Each stored error the sender writes reads in Russian; the transport's words stay, quoted.
    #[test]
    fn stored_delivery_errors_read_in_russian() {
        let status = error_sentence(Some(500), &format!("{RECEIVER_ANSWERED}500 Internal Server Error"));
        assert_eq!(status.say(Lang::Ru), "Получатель ответил кодом «HTTP 500» вместо успешного ответа.");
        assert_eq!(status.say(Lang::En), "the receiver answered HTTP 500 Internal Server Error");
        let refused = error_sentence(None, &format!("{NOT_SENT}crm.local resolves to 10.0.0.5"));
        assert!(refused.say(Lang::Ru).starts_with("Не отправлено: адрес получателя ведёт во внутреннюю сеть"));
        let down = error_sentence(None, "error sending request: connection refused");
        assert_eq!(
            down.say(Lang::Ru),
            "Не удалось связаться с получателем; ответ системы: «error sending request: connection refused»."
        );
    }
}
