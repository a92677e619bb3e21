//! Text messages in storage (migration 13): the SMS outbox the delivery task (`cloud::sms`)
//! sends from, and what the back office lists of it.
//!
//! A message is queued by the request that needs it (a MoySklad verification code, a
//! self-service login code) and claimed under a lease exactly like a webhook delivery, so with
//! several processes on one PostgreSQL each message is sent by one of them at a time. A message
//! carries a code that is useless once it expires: it is not sent after `expires_at_ms`
//! (`expired`), and once it is done its text keeps no code (its digits are masked), so the
//! database never holds a code that could still be used.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::{CloudError, Store};
use crate::cloud::db::{Dialect, Mode};
use crate::sms::{masked_text, SendOutcome, SmsMessage};
use crate::vals;

/// A message claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedSms {
    pub message: SmsMessage,
    pub attempts: i64,
    pub expires_at_ms: i64,
}

/// A message as the back office lists it: the phone and the code masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SmsView {
    pub id: String,
    /// `+7 *** ***-45-67`.
    pub phone: String,
    /// The text with its digits hidden.
    pub text: String,
    /// `moysklad_registration`, `moysklad_spending`, `self_service_login`, …
    pub purpose: String,
    /// `pending` (waiting for an attempt), `sent`, `failed` (the gateway refused it, or every
    /// attempt failed), `expired` (its code ran out before it could be sent).
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The gateway's id for it, when it gives one.
    pub gateway_id: Option<String>,
    pub created_at: String,
    pub done_at: Option<String>,
}

impl Store {
    /// Queues a message to `phone` (E.164), to be sent before `ttl` runs out.
    pub async fn queue_sms(
        &self,
        phone: String,
        text: String,
        purpose: &'static str,
        ttl: Duration,
    ) -> Result<String, CloudError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = crate::clock::now_ms();
        let expires = now.saturating_add(ttl.as_millis() as i64);
        let queued = id.clone();
        self.db
            .run(Mode::Write, move |sql| {
                sql.execute(
                    "INSERT INTO sms_messages (id, phone, text, purpose, status, next_attempt_ms, expires_at_ms, created_at_ms)
                     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $5)",
                    vals![&queued, &phone, &text, purpose, now, expires],
                )?;
                Ok::<(), CloudError>(())
            })
            .await?;
        Ok(id)
    }

    /// Whether a message of `purpose` went to `phone` within `window` (a limit on how often a
    /// customer is sent codes).
    pub async fn sms_sent_within(
        &self,
        phone: String,
        purpose: &'static str,
        window: Duration,
    ) -> Result<bool, CloudError> {
        let since = crate::clock::now_ms().saturating_sub(window.as_millis() as i64);
        self.db
            .run(Mode::Read, move |sql| {
                let row = sql.query_opt(
                    "SELECT 1 FROM sms_messages WHERE phone = $1 AND purpose = $2 AND created_at_ms >= $3 LIMIT 1",
                    vals![&phone, purpose, since],
                )?;
                Ok::<bool, CloudError>(row.is_some())
            })
            .await
    }

    /// Claims up to `limit` messages due for `owner` until `now_ms + lease`; those whose code
    /// expired meanwhile are marked `expired` instead.
    pub async fn claim_sms(
        &self,
        owner: String,
        now_ms: i64,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedSms>, CloudError> {
        let until = now_ms.saturating_add(lease.as_millis() as i64);
        let due = self
            .read(move |sql| {
                Ok(sql
                    .query_opt(
                        "SELECT id FROM sms_messages WHERE status = 'pending' AND next_attempt_ms <= $1
                           AND (lease_until_ms IS NULL OR lease_until_ms < $1) LIMIT 1",
                        vals![now_ms],
                    )?
                    .is_some())
            })
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        self.db
            .run(Mode::Write, move |sql| {
                sql.execute(
                    "UPDATE sms_messages SET status = 'expired', done_at_ms = $1, lease_owner = NULL, lease_until_ms = NULL
                     WHERE status = 'pending' AND expires_at_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms < $1)",
                    vals![now_ms],
                )?;
                mask_done(sql)?;
                let skip_locked = match sql.dialect() {
                    Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
                    Dialect::Sqlite => "",
                };
                let rows = sql.query(
                    &format!(
                        "UPDATE sms_messages SET lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1
                         WHERE id IN (SELECT id FROM sms_messages
                                      WHERE status = 'pending' AND next_attempt_ms <= $3
                                        AND (lease_until_ms IS NULL OR lease_until_ms < $3)
                                      ORDER BY next_attempt_ms LIMIT $4{skip_locked})
                         RETURNING id, phone, text, attempts, expires_at_ms"
                    ),
                    vals![&owner, until, now_ms, limit],
                )?;
                rows.iter()
                    .map(|row| {
                        Ok(ClaimedSms {
                            message: SmsMessage { id: row.text(0)?, phone: row.text(1)?, text: row.text(2)? },
                            attempts: row.int(3)?,
                            expires_at_ms: row.int(4)?,
                        })
                    })
                    .collect::<Result<Vec<_>, CloudError>>()
            })
            .await
    }

    /// Records how an attempt ended, while `owner` holds the lease: sent, refused for good,
    /// or due again at `retry_at_ms` (`None`: no attempt is left).
    pub async fn finish_sms(
        &self,
        owner: String,
        id: String,
        outcome: SendOutcome,
        retry_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(), CloudError> {
        self.db
            .run(Mode::Write, move |sql| {
                let (status, error, gateway_id, next) = match outcome.clone() {
                    SendOutcome::Sent { gateway_id } => ("sent", None, gateway_id, now_ms),
                    SendOutcome::Refused(error) => ("failed", Some(error), None, now_ms),
                    SendOutcome::Retry(error) => match retry_at_ms {
                        Some(at) => ("pending", Some(error), None, at),
                        None => ("failed", Some(error), None, now_ms),
                    },
                };
                let error: Option<String> = error.map(|e| e.chars().take(500).collect());
                sql.execute(
                    "UPDATE sms_messages SET status = $1, last_error = $2, gateway_id = $3, next_attempt_ms = $4,
                         lease_owner = NULL, lease_until_ms = NULL, done_at_ms = $5
                     WHERE id = $6 AND lease_owner = $7",
                    vals![status, error, gateway_id, next, (status != "pending").then_some(now_ms), &id, &owner],
                )?;
                mask_done(sql)?;
                Ok::<(), CloudError>(())
            })
            .await
    }

    /// The latest messages, newest first, optionally of one status.
    pub async fn sms_list(&self, status: Option<String>, limit: i64) -> Result<Vec<SmsView>, CloudError> {
        self.read(move |sql| {
            let rows = sql.query(
                "SELECT id, phone, text, purpose, status, attempts, last_error, gateway_id, created_at_ms, done_at_ms
                   FROM sms_messages WHERE ($1 = '' OR status = $1) ORDER BY created_at_ms DESC, id DESC LIMIT $2",
                vals![status.clone().unwrap_or_default(), limit],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(SmsView {
                        id: row.text(0)?,
                        phone: crate::identity::phone_hint(&row.text(1)?),
                        text: masked_text(&row.text(2)?),
                        purpose: row.text(3)?,
                        status: row.text(4)?,
                        attempts: row.int(5)?,
                        last_error: row.opt_text(6)?,
                        gateway_id: row.opt_text(7)?,
                        created_at: crate::clock::rfc3339(row.int(8)? / 1000),
                        done_at: row.opt_int(9)?.map(|ms| crate::clock::rfc3339(ms / 1000)),
                    })
                })
                .collect::<Result<_, crate::cloud::db::DbError>>()
                .map_err(CloudError::from)
        })
        .await
    }
}

/// Done messages keep no code: their digits are masked (`•`), in the same transaction that
/// finished them.
fn mask_done(sql: &mut dyn crate::cloud::db::Sql) -> Result<(), crate::cloud::db::DbError> {
    let rows = sql.query("SELECT id, text FROM sms_messages WHERE status <> 'pending' AND masked = 0", &[])?;
    for row in rows {
        let (id, text) = (row.text(0)?, row.text(1)?);
        sql.execute("UPDATE sms_messages SET text = $1, masked = 1 WHERE id = $2", vals![masked_text(&text), &id])?;
    }
    Ok(())
}
