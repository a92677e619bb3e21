//! Webhooks in storage: subscriptions, the delivery outbox and the lease that lets several
//! loyalty-cloud processes share it.
//!
//! A change that subscribers hear about is noted in the writing transaction's [`Changes`] and
//! written by [`enqueue`] — inside `publish`, so in the same transaction as the change itself:
//! a rolled-back change sends nothing, and a committed one cannot be lost. Each subscribed
//! webhook gets its own outbox row; the row's id (a UUIDv7) is the body's `id` and the
//! `X-Loyalty-Delivery` header, the same on every retry.
//!
//! Delivering (`cloud::webhooks`) claims due rows with a lease: `lease_owner` and
//! `lease_until_ms` are set in one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, so
//! two processes claiming at once take different rows (PostgreSQL skips the rows the other is
//! claiming; SQLite has one writer), and a committed lease keeps every other process off the
//! row until it expires. A process that dies mid-delivery leaves its lease to run out and the
//! row is delivered again (at least once; receivers deduplicate by the delivery id). Outcomes
//! are recorded only by the lease's owner.

use std::time::Duration;

use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{invalid, invalid_with, Changes, CloudError, Store};
use crate::clock::rfc3339;
use crate::cloud::db::{Row, Sql};
use crate::cloud::webhook_address;
use crate::vals;
use crate::wire::{DeliveryView, WebhookBody, WebhookCreated, WebhookEventType, WebhookView};

/// A subscriber cap keeps the fan-out inside each writing transaction small.
pub const MAX_WEBHOOKS: i64 = 50;

/// A change subscribers hear about, noted during a transaction.
#[derive(Debug, Clone)]
pub(crate) struct WebhookEvent {
    pub kind: WebhookEventType,
    pub data: serde_json::Value,
}

/// A delivery claimed by this process, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub webhook_id: String,
    pub kind: String,
    pub body: String,
    pub url: String,
    pub secret: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// Another status, or no answer at all (`status` is `None`).
    Failed { status: Option<u16>, error: String },
    /// Not sent: the receiver's address is refused (`cloud::webhook_address`). Final at once —
    /// the next attempt would be refused the same way; the admin can retry it once allowed.
    Refused { error: String },
}

/// Retry policy: the n-th failed attempt waits `backoff × 2^(n−1)`, at most an hour; after
/// `max_attempts` the delivery is `failed`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub backoff: Duration,
    pub max_attempts: i64,
}

impl RetryPolicy {
    pub fn delay_after(&self, attempts: i64) -> Duration {
        let doublings = attempts.clamp(1, 30) as u32 - 1;
        self.backoff.saturating_mul(1u32 << doublings.min(20)).min(Duration::from_secs(3600))
    }
}

/// Writes one outbox row per webhook subscribed to each event. Called by `publish`.
pub(crate) fn enqueue(sql: &mut dyn Sql, events: &[WebhookEvent], at: i64) -> Result<(), CloudError> {
    if events.is_empty() {
        return Ok(());
    }
    let hooks = subscriptions(sql)?;
    for event in events {
        for (webhook_id, kinds) in &hooks {
            if kinds.contains(&event.kind) {
                insert_delivery(sql, webhook_id, event.kind, event.data.clone(), at)?;
            }
        }
    }
    Ok(())
}

/// The webhooks subscribed to `kind` (for callers that build event data only when needed).
pub(crate) fn subscribers(sql: &mut dyn Sql, kind: WebhookEventType) -> Result<Vec<String>, CloudError> {
    Ok(subscriptions(sql)?.into_iter().filter(|(_, kinds)| kinds.contains(&kind)).map(|(id, _)| id).collect())
}

/// Every event kind some webhook subscribes to.
pub(crate) fn subscribed_kinds(sql: &mut dyn Sql) -> Result<Vec<WebhookEventType>, CloudError> {
    let mut kinds: Vec<WebhookEventType> = subscriptions(sql)?.into_iter().flat_map(|(_, kinds)| kinds).collect();
    kinds.sort_by_key(|kind| kind.as_str());
    kinds.dedup();
    Ok(kinds)
}

fn subscriptions(sql: &mut dyn Sql) -> Result<Vec<(String, Vec<WebhookEventType>)>, CloudError> {
    let rows = sql.query("SELECT id, events FROM webhooks", &[])?;
    rows.iter().map(|row| Ok((row.text(0)?, serde_json::from_str(&row.text(1)?)?))).collect()
}

pub(crate) fn insert_delivery(
    sql: &mut dyn Sql,
    webhook_id: &str,
    kind: WebhookEventType,
    data: serde_json::Value,
    at: i64,
) -> Result<(), CloudError> {
    let id = uuid::Uuid::now_v7().to_string();
    let body = WebhookBody { id: id.clone(), kind, created_at: rfc3339(at), data };
    sql.write(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_type, body, next_attempt_ms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        vals![id, webhook_id, kind.as_str(), serde_json::to_string(&body)?, at.saturating_mul(1000), at],
    )?;
    Ok(())
}

impl Changes {
    pub(crate) fn webhook(&mut self, kind: WebhookEventType, data: impl serde::Serialize) {
        if !self.hears(kind) {
            return;
        }
        // The data types are plain structs: serialising them cannot fail.
        if let Ok(data) = serde_json::to_value(data) {
            self.webhooks.push(WebhookEvent { kind, data });
        }
    }
}

impl Store {
    pub async fn create_webhook(
        &self,
        url: String,
        events: Vec<WebhookEventType>,
        allow_private: bool,
        at: i64,
    ) -> Result<WebhookCreated, CloudError> {
        let parsed = check_url(&url)?;
        if !allow_private {
            webhook_address::check_at_creation(&parsed).await.map_err(private_address)?;
        }
        let url = parsed.to_string();
        let mut kinds = Vec::new();
        for kind in events {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() {
            return Err(invalid("invalid_events", "name at least one event: balance_changed, customer_created"));
        }
        let created = WebhookCreated {
            id: uuid::Uuid::now_v7().to_string(),
            url,
            events: kinds,
            secret: crate::cloud::token::random_token(),
            created_at: rfc3339(at),
        };
        let row = created.clone();
        self.write(move |sql| {
            let count = sql.query_one("SELECT COUNT(*) FROM webhooks", &[])?.int(0)?;
            if count >= MAX_WEBHOOKS {
                return Err(invalid_with(
                    "too_many_webhooks",
                    format!("at most {MAX_WEBHOOKS} webhooks; delete one first"),
                    vec![("max", MAX_WEBHOOKS.to_string())],
                ));
            }
            sql.execute(
                "INSERT INTO webhooks (id, url, events, secret, created_at) VALUES ($1, $2, $3, $4, $5)",
                vals![&row.id, &row.url, serde_json::to_string(&row.events)?, &row.secret, at],
            )?;
            Ok(())
        })
        .await?;
        Ok(created)
    }

    pub async fn list_webhooks(&self) -> Result<Vec<WebhookView>, CloudError> {
        self.read(|sql| {
            let hooks = sql.query("SELECT id, url, events, created_at FROM webhooks ORDER BY id", &[])?;
            let mut views = Vec::with_capacity(hooks.len());
            for row in &hooks {
                let id = row.text(0)?;
                let mut view = WebhookView {
                    url: row.text(1)?,
                    events: serde_json::from_str(&row.text(2)?)?,
                    created_at: rfc3339(row.int(3)?),
                    pending: 0,
                    delivered: 0,
                    failed: 0,
                    id,
                };
                let counts = sql.query(
                    "SELECT status, COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 GROUP BY status",
                    vals![&view.id],
                )?;
                for count in &counts {
                    match count.text(0)?.as_str() {
                        "pending" => view.pending = count.int(1)?,
                        "delivered" => view.delivered = count.int(1)?,
                        _ => view.failed += count.int(1)?,
                    }
                }
                views.push(view);
            }
            Ok(views)
        })
        .await
    }

    /// Deletes a webhook and its deliveries, sent or not.
    pub async fn delete_webhook(&self, id: String) -> Result<(), CloudError> {
        self.write(move |sql| {
            sql.execute("DELETE FROM webhook_deliveries WHERE webhook_id = $1", vals![&id])?;
            match sql.execute("DELETE FROM webhooks WHERE id = $1", vals![&id])? {
                0 => Err(CloudError::NotFound(super::Missing::Webhook(id.clone()))),
                _ => Ok(()),
            }
        })
        .await
    }

    /// A page of a webhook's deliveries, newest first (by id: UUIDv7, in creation order),
    /// optionally only those with `status`.
    pub async fn deliveries(
        &self,
        webhook_id: String,
        status: Option<String>,
        page: Page,
    ) -> Result<Paged<DeliveryView>, CloudError> {
        if let Some(status) = &status {
            if !["pending", "delivered", "failed"].contains(&status.as_str()) {
                return Err(invalid_with(
                    "invalid_query",
                    "status is one of pending, delivered, failed",
                    vec![("status", String::new())],
                ));
            }
        }
        self.read(move |sql| {
            let after = page.key("deliveries", &[KeyPart::Text])?;
            if sql.query_opt("SELECT id FROM webhooks WHERE id = $1", vals![&webhook_id])?.is_none() {
                return Err(CloudError::NotFound(super::Missing::Webhook(webhook_id.clone())));
            }
            let columns = "id, event_type, status, attempts, created_at, last_attempt_ms, next_attempt_ms, last_status,
                           last_error, done_at, body";
            let mut query = PageQuery::new();
            query.filter("webhook_id", &webhook_id);
            if let Some(status) = &status {
                query.filter("status", status);
            }
            query.after(&["id"], after, true);
            let clauses = query.clauses("id DESC", page.fetch());
            let rows = sql.query(&format!("SELECT {columns} FROM webhook_deliveries{clauses}"), &query.params)?;
            page.finish("deliveries", rows, |row| key_columns(row, &[0])).try_map(|row| delivery_view(&row))
        })
        .await
    }

    /// Sends a failed delivery again: it becomes pending, due now, with a fresh attempt count.
    pub async fn retry_delivery(&self, webhook_id: String, delivery_id: String, now_ms: i64) -> Result<(), CloudError> {
        self.write(move |sql| {
            let changed = sql.execute(
                "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_ms = $1, done_at = NULL
                 WHERE id = $2 AND webhook_id = $3 AND status = 'failed'",
                vals![now_ms, &delivery_id, &webhook_id],
            )?;
            if changed == 0 {
                return Err(CloudError::NotFound(super::Missing::Delivery(delivery_id.clone())));
            }
            Ok(())
        })
        .await
    }

    /// Claims up to `limit` due deliveries for `owner` until `now_ms + lease`.
    pub async fn claim_deliveries(
        &self,
        owner: String,
        now_ms: i64,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, CloudError> {
        let until = now_ms.saturating_add(lease.as_millis() as i64);
        // A read first: an idle outbox (the common case, polled every second) costs no write
        // transaction, which on SQLite would queue behind the one writer.
        let due = self
            .read(move |sql| {
                Ok(sql
                    .query_opt(
                        "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_ms <= $1
                           AND (lease_until_ms IS NULL OR lease_until_ms < $1) LIMIT 1",
                        vals![now_ms],
                    )?
                    .is_some())
            })
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        // Not `self.write`: claiming changes nothing a long-poll waits for, so it wakes none.
        self.db
            .run(crate::cloud::db::Mode::Write, move |sql| {
                let skip_locked = match sql.dialect() {
                    crate::cloud::db::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
                    crate::cloud::db::Dialect::Sqlite => "",
                };
                let claimed = sql.query(
                    &format!(
                        "UPDATE webhook_deliveries SET lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1,
                             last_attempt_ms = $3
                         WHERE id IN (SELECT id FROM webhook_deliveries
                                      WHERE status = 'pending' AND next_attempt_ms <= $3
                                        AND (lease_until_ms IS NULL OR lease_until_ms < $3)
                                      ORDER BY next_attempt_ms LIMIT $4{skip_locked})
                         RETURNING id, webhook_id, event_type, body, attempts"
                    ),
                    vals![&owner, until, now_ms, limit],
                )?;
                let mut out = Vec::with_capacity(claimed.len());
                for row in &claimed {
                    let webhook_id = row.text(1)?;
                    let Some(hook) =
                        sql.query_opt("SELECT url, secret FROM webhooks WHERE id = $1", vals![&webhook_id])?
                    else {
                        continue;
                    };
                    out.push(ClaimedDelivery {
                        id: row.text(0)?,
                        webhook_id,
                        kind: row.text(2)?,
                        body: row.text(3)?,
                        attempts: row.int(4)?,
                        url: hook.text(0)?,
                        secret: hook.text(1)?,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Records how an attempt ended — only while `owner` still holds the lease.
    pub async fn finish_delivery(
        &self,
        owner: String,
        delivery: ClaimedDelivery,
        outcome: AttemptOutcome,
        policy: RetryPolicy,
        now_ms: i64,
    ) -> Result<(), CloudError> {
        self.db
            .run(crate::cloud::db::Mode::Write, move |sql| {
                let done_at = now_ms / 1000;
                let (status, error, gave_up) = match &outcome {
                    AttemptOutcome::Delivered { status } => {
                        sql.execute(
                            "UPDATE webhook_deliveries SET status = 'delivered', lease_owner = NULL, lease_until_ms = NULL,
                                 last_status = $1, last_error = NULL, done_at = $2
                             WHERE id = $3 AND lease_owner = $4",
                            vals![i64::from(*status), done_at, &delivery.id, &owner],
                        )?;
                        return Ok(());
                    }
                    AttemptOutcome::Failed { status, error } => {
                        (*status, error, delivery.attempts >= policy.max_attempts)
                    }
                    AttemptOutcome::Refused { error } => (None, error, true),
                };
                let next = now_ms.saturating_add(policy.delay_after(delivery.attempts).as_millis() as i64);
                let error: String = error.chars().take(500).collect();
                sql.execute(
                    "UPDATE webhook_deliveries SET status = $1, next_attempt_ms = $2, lease_owner = NULL,
                         lease_until_ms = NULL, last_status = $3, last_error = $4, done_at = $5
                     WHERE id = $6 AND lease_owner = $7",
                    vals![
                        if gave_up { "failed" } else { "pending" },
                        next,
                        status.map(i64::from),
                        error,
                        gave_up.then_some(done_at),
                        &delivery.id,
                        &owner
                    ],
                )?;
                Ok::<(), CloudError>(())
            })
            .await
    }

    /// Forgets deliveries that succeeded more than `age` ago (failed ones stay listed).
    pub async fn prune_deliveries(&self, now: i64, age: Duration) -> Result<u64, CloudError> {
        let before = now.saturating_sub(age.as_secs() as i64);
        self.db
            .run(crate::cloud::db::Mode::Write, move |sql| {
                Ok::<u64, CloudError>(sql.execute(
                    "DELETE FROM webhook_deliveries WHERE status = 'delivered' AND done_at < $1",
                    vals![before],
                )?)
            })
            .await
    }
}

fn delivery_view(row: &Row) -> Result<DeliveryView, CloudError> {
    let status = row.text(2)?;
    let millis = |v: Option<i64>| v.map(|ms| rfc3339(ms.div_euclid(1000)));
    Ok(DeliveryView {
        id: row.text(0)?,
        kind: row.text(1)?,
        attempts: row.int(3)?,
        created_at: rfc3339(row.int(4)?),
        last_attempt_at: millis(row.opt_int(5)?),
        next_attempt_at: if status == "pending" { millis(row.opt_int(6)?) } else { None },
        last_status: row.opt_int(7)?,
        last_error: row.opt_text(8)?,
        done_at: row.opt_int(9)?.map(rfc3339),
        body: serde_json::from_str(&row.text(10)?)?,
        status,
    })
}

/// An absolute `http(s)://` URL with a host, of reasonable length.
fn check_url(url: &str) -> Result<reqwest::Url, CloudError> {
    let url = url.trim();
    let bad =
        || invalid("invalid_url", "the url must be an absolute http:// or https:// address of at most 2000 characters");
    if url.len() > 2000 {
        return Err(bad());
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(parsed)
}

/// A receiver inside the cloud's own network, refused at creation.
fn private_address(refused: webhook_address::Refused) -> CloudError {
    let mut params = vec![("host", refused.host.clone())];
    if let Some(address) = refused.address {
        params.push(("address", address.to_string()));
    }
    invalid_with("webhook_address_private", refused.to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy { backoff: Duration::from_secs(5), max_attempts: 12 };
        assert_eq!(policy.delay_after(1), Duration::from_secs(5));
        assert_eq!(policy.delay_after(2), Duration::from_secs(10));
        assert_eq!(policy.delay_after(4), Duration::from_secs(40));
        assert_eq!(policy.delay_after(40), Duration::from_secs(3600));
        assert_eq!(policy.delay_after(0), Duration::from_secs(5));
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            check_url(" https://hooks.example.com/loyalty ").unwrap().as_str(),
            "https://hooks.example.com/loyalty"
        );
        for bad in ["", "hooks.example.com", "ftp://example.com/", "javascript:alert(1)", "http://"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2000))).is_err());
    }
}
