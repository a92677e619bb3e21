//! SMS delivery: a background task, one per loyalty-cloud process, sending the outbox
//! (`store::sms`) through the configured gateway (`crate::sms`).
//!
//! A request that needs a message queues it and wakes the task ([`SmsOutbox::queue`]); the
//! task claims due messages under a lease, sends them concurrently, and records each outcome:
//! sent; refused for good (listed as `failed` with the gateway's reason); or tried again after
//! a short backoff (1 s, 2 s, 4 s … capped at 30 s) while the code in it is still valid, and
//! `expired` once it is not. It also polls, for retries coming due and for messages another
//! process queued, and stops when the server stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use super::store::{CloudError, Store};
use crate::clock::now_ms;
use crate::moysklad::verify::{CodeMessage, CodeSender, SendError, CODE_TTL_SECONDS};
use crate::sms::{send, SendOutcome, SmsGateway};

/// Messages claimed at a time.
const BATCH: i64 = 16;
/// The longest wait between looks at the outbox when nothing wakes the task.
const POLL: Duration = Duration::from_secs(1);
/// How long a claim keeps other processes off a message: more than one attempt takes.
const LEASE: Duration = Duration::from_secs(30);
/// The wait after the first failed attempt; it doubles per failure, up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where requests queue their messages: the store and the task's wake-up.
#[derive(Clone)]
pub struct SmsOutbox {
    store: Store,
    wake: Arc<Notify>,
    gateway: Arc<SmsGateway>,
}

impl SmsOutbox {
    pub fn new(store: Store, gateway: SmsGateway) -> SmsOutbox {
        SmsOutbox { store, wake: Arc::new(Notify::new()), gateway: Arc::new(gateway) }
    }

    /// Queues `text` to `phone` (E.164), to be sent within `ttl`, and wakes the task.
    pub async fn queue(
        &self,
        phone: String,
        text: String,
        purpose: &'static str,
        ttl: Duration,
    ) -> Result<String, CloudError> {
        let id = self.store.queue_sms(phone, text, purpose, ttl).await?;
        self.wake.notify_one();
        Ok(id)
    }

    pub fn gateway(&self) -> &SmsGateway {
        &self.gateway
    }
}

/// MoySklad's verification codes, sent through the outbox.
impl CodeSender for SmsOutbox {
    fn send<'a>(
        &'a self,
        message: &'a CodeMessage,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(async move {
            let purpose = match message.purpose {
                crate::moysklad::service::CodePurpose::Registration => "moysklad_registration",
                crate::moysklad::service::CodePurpose::Spending => "moysklad_spending",
            };
            let ttl = Duration::from_secs(CODE_TTL_SECONDS as u64);
            self.queue(message.phone.clone(), message.text(), purpose, ttl)
                .await
                .map(|_| ())
                .map_err(|e| SendError(e.to_string()))
        })
    }
}

/// The wait before attempt `attempts + 1`.
fn backoff(attempts: i64) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 16) as u32;
    BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

/// Starts the delivery task; it ends when `stop` turns true.
pub fn spawn(outbox: SmsOutbox, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let owner = uuid::Uuid::new_v4().to_string();
        let client =
            match reqwest::Client::builder().user_agent(concat!("loyalty-cloud/", env!("CARGO_PKG_VERSION"))).build() {
                Ok(client) => client,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the SMS client; no SMS will be sent");
                    return;
                }
            };
        tracing::info!(gateway = %outbox.gateway.describe(), "SMS delivery started");
        loop {
            if *stop.borrow() {
                break;
            }
            match outbox.store.claim_sms(owner.clone(), now_ms(), LEASE, BATCH).await {
                Ok(claimed) if !claimed.is_empty() => {
                    let mut sends = JoinSet::new();
                    for claimed in claimed {
                        let (client, outbox, owner) = (client.clone(), outbox.clone(), owner.clone());
                        sends.spawn(async move {
                            let outcome = send(&client, &outbox.gateway, &claimed.message).await;
                            let now = now_ms();
                            let retry_at = now.saturating_add(backoff(claimed.attempts).as_millis() as i64);
                            let retry_at = (retry_at < claimed.expires_at_ms).then_some(retry_at);
                            if let SendOutcome::Retry(error) | SendOutcome::Refused(error) = &outcome {
                                tracing::warn!(id = %claimed.message.id, attempts = claimed.attempts, error = %error,
                                    "an SMS was not sent");
                            }
                            let id = claimed.message.id.clone();
                            if let Err(e) = outbox.store.finish_sms(owner, id, outcome, retry_at, now).await {
                                tracing::warn!(error = %e, "cannot record an SMS attempt; its lease runs out and it is tried again");
                            }
                        });
                    }
                    while sends.join_next().await.is_some() {}
                    // More may be due at once: look again without waiting.
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the SMS outbox"),
            }
            tokio::select! {
                _ = outbox.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stay_within_a_code_s_life() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
