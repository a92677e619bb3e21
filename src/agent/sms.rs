//! A till's own SMS sender (`[sms]` in `config.toml`): the codes a till sends itself — today
//! MoySklad's verification codes on this till's adapter — go straight to the configured gateway
//! (`crate::sms`). A till keeps no outbox: the request that needs the code answers at once, and
//! a failed attempt is tried again in the background while the code is still valid.

use std::sync::Arc;
use std::time::Duration;

use crate::moysklad::verify::{CodeMessage, CodeSender, SendError, CODE_TTL_SECONDS};
use crate::sms::{send, SendOutcome, SmsGateway, SmsMessage};

/// Attempts per message, a few seconds apart, within the code's life.
const ATTEMPTS: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct DirectSender {
    gateway: Arc<SmsGateway>,
    client: reqwest::Client,
}

impl DirectSender {
    pub fn new(gateway: SmsGateway) -> DirectSender {
        DirectSender { gateway: Arc::new(gateway), client: reqwest::Client::new() }
    }
}

impl CodeSender for DirectSender {
    fn send<'a>(
        &'a self,
        message: &'a CodeMessage,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(async move {
            let sms =
                SmsMessage { phone: message.phone.clone(), text: message.text(), id: uuid::Uuid::now_v7().to_string() };
            match send(&self.client, &self.gateway, &sms).await {
                SendOutcome::Sent { .. } => Ok(()),
                SendOutcome::Refused(why) => Err(SendError(why)),
                SendOutcome::Retry(why) => {
                    tracing::warn!(id = %sms.id, error = %why, "an SMS code was not sent; trying again in the background");
                    let (gateway, client) = (self.gateway.clone(), self.client.clone());
                    tokio::spawn(retry(gateway, client, sms));
                    Ok(())
                }
            }
        })
    }
}

async fn retry(gateway: Arc<SmsGateway>, client: reqwest::Client, sms: SmsMessage) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(CODE_TTL_SECONDS as u64);
    let mut wait = FIRST_WAIT;
    for _ in 1..ATTEMPTS {
        tokio::time::sleep(wait).await;
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        match send(&client, &gateway, &sms).await {
            SendOutcome::Sent { .. } => return,
            SendOutcome::Refused(why) => {
                tracing::warn!(id = %sms.id, error = %why, "the SMS gateway refused a code");
                return;
            }
            SendOutcome::Retry(why) => tracing::warn!(id = %sms.id, error = %why, "an SMS code was not sent"),
        }
        wait *= 2;
    }
    tracing::warn!(id = %sms.id, "an SMS code was given up on: its gateway did not take it in time");
}
