//! Wallet cards in storage (migration 17): which customers carry a card in a phone's wallet,
//! what their card last showed, Apple's device registrations, and the two outboxes the wallet
//! task (`cloud::wallet`) sends from: APNs pushes and Google Wallet updates.
//!
//! **When a card changes.** Every writing transaction ends in [`super::publish`], which names
//! the customers whose balance or record it touched; [`mark_dirty`] notes those who carry a
//! card in `wallet_dirty`, in the same transaction. Figures also move with time alone (points
//! becoming spendable, points expiring): a card keeps the next such moment (`refresh_at`), and
//! the task notes it dirty then. The task then *recomputes* each dirty card's figures
//! ([`refresh_card`]) and compares them with what the card last showed: only a real
//! difference takes a new update tag and a new Last-Modified second, and queues one push per
//! registered device and one Google update. A burst of changes to one customer before the task
//! looks is one refresh; a push already waiting for a device covers every change before it is
//! sent (`generation` counts them, so a change while a push is in flight sends another).
//!
//! Claims are leases, as the webhook and SMS outboxes' are: with several processes on one
//! PostgreSQL, a push or update is sent by one of them at a time.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::admin::current_program;
use super::customers::{load_resolved, not_found, CustomerRecord};
use super::{CloudError, Store};
use crate::cloud::db::{Dialect, Sql, Value};
use crate::cloud::token::random_token;
use crate::rules::Program;
use crate::vals;
use crate::wallet::{NextExpiry, PassView};

/// Google's limit: updates that notify the holder, per card and day; later ones are silent.
pub const GOOGLE_NOTIFIED_PER_DAY: i64 = 3;

/// A customer's wallet card as stored: what it shows and its web-service identity.
#[derive(Debug, Clone)]
pub struct WalletCard {
    pub customer_id: String,
    /// Apple's serial number (the card number when the card was first issued; it never changes).
    pub serial: String,
    /// The pass's `authenticationToken`.
    pub auth_token: String,
    pub view: PassView,
    /// The update tag: larger for every later change of any card.
    pub tag: i64,
    /// Last-Modified, Unix seconds; strictly larger after every change of this card.
    pub modified_at: i64,
}

/// What registering a device came to (PassKit answers 201 and 200 for the first two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Created,
    AlreadyRegistered,
    /// No such pass, or the token is not its token: 401, whichever it was.
    Unauthorized,
}

/// A push claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedPush {
    pub push_token: String,
    pub generation: i64,
    pub attempts: i64,
}

/// A Google update claimed for one attempt, with the card's figures as of the claim.
#[derive(Debug, Clone)]
pub struct ClaimedPatch {
    pub customer_id: String,
    pub generation: i64,
    pub view: PassView,
    /// Whether this update asks Google to notify the holder: the points changed and the card
    /// has notified fewer than [`GOOGLE_NOTIFIED_PER_DAY`] times today (UTC).
    pub notify: bool,
    pub attempts: i64,
}

/// How an attempt ended, as the outbox records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The device is gone (APNs) or the customer has not saved the card (Google).
    Gone,
    /// Try again at this moment (ms); `None`: no attempt is left.
    Retry {
        error: String,
        at_ms: Option<i64>,
    },
    Refused(String),
}

/// What the back office sees of the wallets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WalletSummary {
    /// Customers given a card (an Apple pass or a Google save link).
    pub cards: i64,
    pub google_cards: i64,
    /// Apple devices registered for updates.
    pub apple_devices: i64,
    /// Cards whose figures may have changed and are waiting to be recomputed.
    pub cards_to_refresh: i64,
    pub apple_pushes: OutboxCounts,
    pub google_updates: OutboxCounts,
    /// The latest failures (newest first), for the operator to act on.
    pub recent_errors: Vec<WalletFailure>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sent: i64,
    /// Refused for good or out of attempts; the next change tries again.
    pub failed: i64,
    /// Devices that are gone (APNs) / cards never saved (Google).
    pub gone: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WalletFailure {
    /// `apple` or `google`.
    pub wallet: String,
    pub attempts: i64,
    pub error: String,
    pub at: String,
}

/// Notes the customers among `ids` who carry a wallet card as possibly changed. Called by
/// `publish` with every customer a transaction touched; deferred on PostgreSQL (no round trip).
pub(crate) fn mark_dirty(sql: &mut dyn Sql, ids: &[&str]) -> Result<(), CloudError> {
    let now_ms = crate::clock::now_ms();
    for part in ids.chunks(200) {
        let list = (0..part.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let mut params: Vec<Value> = Vec::with_capacity(part.len() + 1);
        params.push(Value::Int(now_ms));
        params.extend(part.iter().map(|id| Value::from(*id)));
        sql.write(
            &format!(
                "INSERT INTO wallet_dirty (customer_id, since)
                 SELECT customer_id, $1 FROM wallet_cards WHERE customer_id IN ({list})
                 ON CONFLICT (customer_id) DO NOTHING"
            ),
            &params,
        )?;
    }
    Ok(())
}

/// What `customer`'s card shows at `at`, and the next moment that changes with time alone.
fn pass_view(customer: &CustomerRecord, program: &Program, at: i64) -> (PassView, Option<i64>) {
    let wallet = &customer.wallet;
    let view = PassView {
        card: customer.profile.card.clone(),
        name: customer.profile.name.clone(),
        balance: wallet.balance(at),
        available: wallet.available(at),
        pending: wallet.pending(at),
        tier: program.settings_for(customer.profile.paid_total).tier,
        next_expiry: wallet.next_expiry(at).map(|(points, at)| NextExpiry { points, at }),
    };
    (view, wallet.next_change(at))
}

fn parse_view(customer_id: &str, text: &str) -> Result<PassView, CloudError> {
    serde_json::from_str(text)
        .map_err(|source| CloudError::Corrupt { what: format!("the wallet card of customer {customer_id}"), source })
}

fn view_text(view: &PassView) -> String {
    // A struct of strings and integers always serialises.
    serde_json::to_string(view).unwrap_or_default()
}

fn next_tag(sql: &mut dyn Sql) -> Result<i64, CloudError> {
    Ok(sql.query_one("UPDATE wallet_counter SET tag = tag + 1 WHERE id = 1 RETURNING tag", &[])?.int(0)?)
}

fn load_card(sql: &mut dyn Sql, column: &'static str, value: &str) -> Result<Option<WalletCard>, CloudError> {
    let Some(row) = sql.query_opt(
        &format!(
            "SELECT customer_id, serial, auth_token, view, tag, modified_at FROM wallet_cards WHERE {column} = $1"
        ),
        vals![value],
    )?
    else {
        return Ok(None);
    };
    let customer_id = row.text(0)?;
    let view = parse_view(&customer_id, &row.text(3)?)?;
    Ok(Some(WalletCard {
        serial: row.text(1)?,
        auth_token: row.text(2)?,
        view,
        tag: row.int(4)?,
        modified_at: row.int(5)?,
        customer_id,
    }))
}

/// The customer's card, created when they have none: serial = their card number (the
/// customer id if another card took that serial first), a fresh web-service token.
fn ensure_card(sql: &mut dyn Sql, customer_id: &str, at: i64) -> Result<WalletCard, CloudError> {
    if let Some(card) = load_card(sql, "customer_id", customer_id)? {
        return Ok(card);
    }
    let customer = load_resolved(sql, customer_id, false)?.ok_or_else(|| not_found(customer_id))?;
    // A merged-away id names the customer it was merged into: the card is theirs.
    let customer_id = customer.profile.id.clone();
    if let Some(card) = load_card(sql, "customer_id", &customer_id)? {
        return Ok(card);
    }
    let program = current_program(sql)?;
    let (view, refresh_at) = pass_view(&customer, &program, at);
    let taken = sql.query_opt("SELECT 1 FROM wallet_cards WHERE serial = $1", vals![&view.card])?.is_some();
    let serial = if taken { customer_id.clone() } else { view.card.clone() };
    let tag = next_tag(sql)?;
    let auth_token = random_token();
    sql.execute(
        "INSERT INTO wallet_cards (customer_id, serial, auth_token, view, tag, modified_at, refresh_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
        vals![&customer_id, &serial, &auth_token, view_text(&view), tag, at, refresh_at],
    )?;
    Ok(WalletCard { customer_id, serial, auth_token, view, tag, modified_at: at })
}

/// Recomputes `card`'s figures at `at`; when they differ from what it showed, stores them with
/// a new tag and Last-Modified and queues a push to each registered device and a Google update
/// (notifying when the points changed). Answers the card as it now stands.
fn refresh_card(sql: &mut dyn Sql, card: WalletCard, program: &Program, at: i64) -> Result<WalletCard, CloudError> {
    let Some(customer) = load_resolved(sql, &card.customer_id, false)? else {
        // The customer is gone (erased): the card keeps its last figures.
        return Ok(card);
    };
    let (view, refresh_at) = pass_view(&customer, program, at);
    if view == card.view {
        sql.write(
            "UPDATE wallet_cards SET refresh_at = $1 WHERE customer_id = $2",
            vals![refresh_at, &card.customer_id],
        )?;
        return Ok(card);
    }
    let points_changed =
        (view.balance, view.available, view.pending) != (card.view.balance, card.view.available, card.view.pending);
    let tag = next_tag(sql)?;
    let modified_at = at.max(card.modified_at.saturating_add(1));
    sql.write(
        "UPDATE wallet_cards SET view = $1, tag = $2, modified_at = $3, refresh_at = $4 WHERE customer_id = $5",
        vals![view_text(&view), tag, modified_at, refresh_at, &card.customer_id],
    )?;
    let now_ms = crate::clock::now_ms();
    // A push waiting (or in flight) for a device covers this change too: its generation
    // grows, so one in flight is sent again once it is done. A sent, failed or gone one is
    // queued afresh.
    sql.write(
        "INSERT INTO apple_pushes (push_token, generation, status, due_ms, attempts, created_ms)
         SELECT DISTINCT push_token, 1, 'pending', $1, 0, $1 FROM apple_devices WHERE serial = $2
         ON CONFLICT (push_token) DO UPDATE SET
             generation = apple_pushes.generation + 1,
             attempts = CASE WHEN apple_pushes.status = 'pending' THEN apple_pushes.attempts ELSE 0 END,
             due_ms = CASE WHEN apple_pushes.status = 'pending' THEN apple_pushes.due_ms ELSE excluded.due_ms END,
             status = 'pending', last_error = NULL",
        vals![now_ms, &card.serial],
    )?;
    sql.write(
        "INSERT INTO google_patches (customer_id, generation, notify, status, due_ms, attempts, created_ms)
         SELECT customer_id, 1, $1, 'pending', $2, 0, $2 FROM wallet_cards WHERE customer_id = $3 AND google = 1
         ON CONFLICT (customer_id) DO UPDATE SET
             generation = google_patches.generation + 1,
             notify = CASE WHEN excluded.notify = 1 OR (google_patches.status = 'pending' AND google_patches.notify = 1)
                           THEN 1 ELSE 0 END,
             attempts = CASE WHEN google_patches.status = 'pending' THEN google_patches.attempts ELSE 0 END,
             due_ms = CASE WHEN google_patches.status = 'pending' THEN google_patches.due_ms ELSE excluded.due_ms END,
             status = 'pending', last_error = NULL",
        vals![i64::from(points_changed), now_ms, &card.customer_id],
    )?;
    Ok(WalletCard { view, tag, modified_at, ..card })
}

fn skip_locked(sql: &dyn Sql) -> &'static str {
    match sql.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    }
}

fn utc_day(at: i64) -> String {
    crate::clock::rfc3339(at).chars().take(10).collect()
}

impl Store {
    /// The customer's card, created if they have none and brought up to date, for a download.
    pub async fn wallet_card(&self, customer_id: String, at: i64) -> Result<WalletCard, CloudError> {
        self.write(move |sql| {
            let card = ensure_card(sql, &customer_id, at)?;
            let program = current_program(sql)?;
            refresh_card(sql, card, &program, at)
        })
        .await
    }

    /// [`Store::wallet_card`], noting that a Google save link was issued for it: from now on
    /// its changes are sent to Google too.
    pub async fn wallet_card_for_google(&self, customer_id: String, at: i64) -> Result<WalletCard, CloudError> {
        self.write(move |sql| {
            let card = ensure_card(sql, &customer_id, at)?;
            sql.execute("UPDATE wallet_cards SET google = 1 WHERE customer_id = $1", vals![&card.customer_id])?;
            let program = current_program(sql)?;
            refresh_card(sql, card, &program, at)
        })
        .await
    }

    /// The pass with `serial` if `auth_token` is its token, brought up to date (PassKit's "get
    /// the latest pass"); `None` for an unknown serial or a wrong token alike.
    pub async fn wallet_pass(
        &self,
        serial: String,
        auth_token: String,
        at: i64,
    ) -> Result<Option<WalletCard>, CloudError> {
        self.write(move |sql| {
            let Some(card) = load_card(sql, "serial", &serial)? else { return Ok(None) };
            if !crate::cloud::token::same_secret(&card.auth_token, &auth_token) {
                return Ok(None);
            }
            let program = current_program(sql)?;
            refresh_card(sql, card, &program, at).map(Some)
        })
        .await
    }

    /// Registers `device` for updates of the pass `serial` (PassKit's register call).
    pub async fn wallet_register(
        &self,
        device: String,
        pass_type: String,
        serial: String,
        push_token: String,
        auth_token: String,
        at: i64,
    ) -> Result<Registration, CloudError> {
        self.write(move |sql| {
            let Some(card) = load_card(sql, "serial", &serial)? else { return Ok(Registration::Unauthorized) };
            if !crate::cloud::token::same_secret(&card.auth_token, &auth_token) {
                return Ok(Registration::Unauthorized);
            }
            let known = sql
                .query_opt(
                    "SELECT push_token FROM apple_devices WHERE device_id = $1 AND pass_type_id = $2 AND serial = $3",
                    vals![&device, &pass_type, &serial],
                )?
                .is_some();
            sql.execute(
                "INSERT INTO apple_devices (device_id, pass_type_id, serial, push_token, registered_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (device_id, pass_type_id, serial) DO UPDATE SET push_token = excluded.push_token",
                vals![&device, &pass_type, &serial, &push_token, at],
            )?;
            Ok(if known { Registration::AlreadyRegistered } else { Registration::Created })
        })
        .await
    }

    /// Forgets `device`'s registration for `serial`; `false` when the token is not the pass's.
    pub async fn wallet_unregister(
        &self,
        device: String,
        pass_type: String,
        serial: String,
        auth_token: String,
    ) -> Result<bool, CloudError> {
        self.write(move |sql| {
            let Some(card) = load_card(sql, "serial", &serial)? else { return Ok(false) };
            if !crate::cloud::token::same_secret(&card.auth_token, &auth_token) {
                return Ok(false);
            }
            sql.execute(
                "DELETE FROM apple_devices WHERE device_id = $1 AND pass_type_id = $2 AND serial = $3",
                vals![&device, &pass_type, &serial],
            )?;
            Ok(true)
        })
        .await
    }

    /// The serials registered on `device` updated after tag `since` (all of them without one),
    /// and the largest tag among them.
    pub async fn wallet_updated_serials(
        &self,
        device: String,
        pass_type: String,
        since: Option<i64>,
    ) -> Result<(Vec<String>, i64), CloudError> {
        self.read(move |sql| {
            let rows = sql.query(
                "SELECT c.serial, c.tag FROM apple_devices d JOIN wallet_cards c ON c.serial = d.serial
                 WHERE d.device_id = $1 AND d.pass_type_id = $2 AND c.tag > $3 ORDER BY c.tag",
                vals![&device, &pass_type, since.unwrap_or(0)],
            )?;
            let mut serials = Vec::with_capacity(rows.len());
            let mut last = 0;
            for row in &rows {
                serials.push(row.text(0)?);
                last = last.max(row.int(1)?);
            }
            Ok((serials, last))
        })
        .await
    }

    /// Recomputes up to `limit` cards noted dirty at least `settle` ago (and those whose
    /// figures moved with time); answers how many were looked at.
    pub async fn wallet_refresh_dirty(&self, at: i64, settle: Duration, limit: i64) -> Result<usize, CloudError> {
        let now_ms = crate::clock::now_ms();
        let settled = now_ms.saturating_sub(settle.as_millis() as i64);
        let due = self
            .read(move |sql| {
                Ok(sql.query_opt("SELECT 1 FROM wallet_dirty WHERE since <= $1 LIMIT 1", vals![settled])?.is_some()
                    || sql
                        .query_opt(
                            "SELECT 1 FROM wallet_cards WHERE refresh_at IS NOT NULL AND refresh_at <= $1 LIMIT 1",
                            vals![at],
                        )?
                        .is_some())
            })
            .await?;
        if !due {
            return Ok(0);
        }
        self.write(move |sql| {
            sql.execute(
                "INSERT INTO wallet_dirty (customer_id, since)
                 SELECT customer_id, 0 FROM wallet_cards WHERE refresh_at IS NOT NULL AND refresh_at <= $1
                 ON CONFLICT (customer_id) DO NOTHING",
                vals![at],
            )?;
            sql.execute(
                "UPDATE wallet_cards SET refresh_at = NULL WHERE refresh_at IS NOT NULL AND refresh_at <= $1",
                vals![at],
            )?;
            let lock = skip_locked(sql);
            let rows = sql.query(
                &format!("SELECT customer_id FROM wallet_dirty WHERE since <= $1 ORDER BY since LIMIT $2{lock}"),
                vals![settled, limit],
            )?;
            let ids = rows.iter().map(|row| row.text(0)).collect::<Result<Vec<_>, _>>()?;
            let program = current_program(sql)?;
            for id in &ids {
                if let Some(card) = load_card(sql, "customer_id", id)? {
                    refresh_card(sql, card, &program, at)?;
                }
                sql.write("DELETE FROM wallet_dirty WHERE customer_id = $1", vals![id])?;
            }
            Ok(ids.len())
        })
        .await
    }

    /// Claims up to `limit` due pushes for `owner` until `now_ms + lease`.
    pub async fn claim_apple_pushes(
        &self,
        owner: String,
        now_ms: i64,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedPush>, CloudError> {
        let until = now_ms.saturating_add(lease.as_millis() as i64);
        self.write(move |sql| {
            let lock = skip_locked(sql);
            let rows = sql.query(
                &format!(
                    "UPDATE apple_pushes SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
                     WHERE push_token IN (SELECT push_token FROM apple_pushes
                                          WHERE status = 'pending' AND due_ms <= $3
                                            AND (lease_until IS NULL OR lease_until < $3)
                                          ORDER BY due_ms LIMIT $4{lock})
                     RETURNING push_token, generation, attempts"
                ),
                vals![&owner, until, now_ms, limit],
            )?;
            rows.iter()
                .map(|row| Ok(ClaimedPush { push_token: row.text(0)?, generation: row.int(1)?, attempts: row.int(2)? }))
                .collect()
        })
        .await
    }

    /// Records how a push ended while `owner` holds its lease. A push sent while a newer
    /// change came in stays pending (due now): the device hears of that change too. A gone
    /// device's registrations are forgotten.
    pub async fn finish_apple_push(
        &self,
        owner: String,
        claimed: ClaimedPush,
        outcome: Delivery,
        now_ms: i64,
    ) -> Result<(), CloudError> {
        self.write(move |sql| {
            let (token, generation) = (&claimed.push_token, claimed.generation);
            match &outcome {
                Delivery::Sent => sql.execute(
                    "UPDATE apple_pushes SET
                         status = CASE WHEN generation = $1 THEN 'sent' ELSE 'pending' END,
                         attempts = CASE WHEN generation = $1 THEN attempts ELSE 0 END,
                         due_ms = $2, done_ms = $2, last_error = NULL, lease_owner = NULL, lease_until = NULL
                     WHERE push_token = $3 AND lease_owner = $4",
                    vals![generation, now_ms, token, &owner],
                )?,
                Delivery::Gone => {
                    sql.execute("DELETE FROM apple_devices WHERE push_token = $1", vals![token])?;
                    sql.execute(
                        "UPDATE apple_pushes SET status = 'gone', done_ms = $1, lease_owner = NULL, lease_until = NULL
                         WHERE push_token = $2 AND lease_owner = $3",
                        vals![now_ms, token, &owner],
                    )?
                }
                Delivery::Retry { error, at_ms } => {
                    finish_failed(sql, "apple_pushes", "push_token", token, &owner, error, *at_ms, now_ms)?
                }
                Delivery::Refused(error) => {
                    finish_failed(sql, "apple_pushes", "push_token", token, &owner, error, None, now_ms)?
                }
            };
            Ok(())
        })
        .await
    }

    /// Claims up to `limit` due Google updates, each with the card's current figures and
    /// whether it may notify the holder today.
    pub async fn claim_google_patches(
        &self,
        owner: String,
        now_ms: i64,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedPatch>, CloudError> {
        let until = now_ms.saturating_add(lease.as_millis() as i64);
        let today = utc_day(now_ms / 1000);
        self.write(move |sql| {
            let lock = skip_locked(sql);
            let rows = sql.query(
                &format!(
                    "UPDATE google_patches SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
                     WHERE customer_id IN (SELECT customer_id FROM google_patches
                                           WHERE status = 'pending' AND due_ms <= $3
                                             AND (lease_until IS NULL OR lease_until < $3)
                                           ORDER BY due_ms LIMIT $4{lock})
                     RETURNING customer_id, generation, notify, attempts"
                ),
                vals![&owner, until, now_ms, limit],
            )?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in &rows {
                let customer_id = row.text(0)?;
                let Some(card) = sql.query_opt(
                    "SELECT view, google_day, google_notified FROM wallet_cards WHERE customer_id = $1",
                    vals![&customer_id],
                )?
                else {
                    continue;
                };
                let notified_today =
                    if card.opt_text(1)?.as_deref() == Some(today.as_str()) { card.int(2)? } else { 0 };
                claimed.push(ClaimedPatch {
                    view: parse_view(&customer_id, &card.text(0)?)?,
                    generation: row.int(1)?,
                    notify: row.int(2)? == 1 && notified_today < GOOGLE_NOTIFIED_PER_DAY,
                    attempts: row.int(3)?,
                    customer_id,
                });
            }
            Ok(claimed)
        })
        .await
    }

    /// Records how a Google update ended; a notifying one counts against today's limit.
    pub async fn finish_google_patch(
        &self,
        owner: String,
        claimed: ClaimedPatch,
        outcome: Delivery,
        now_ms: i64,
    ) -> Result<(), CloudError> {
        let today = utc_day(now_ms / 1000);
        self.write(move |sql| {
            let id = &claimed.customer_id;
            match &outcome {
                Delivery::Sent => {
                    let changed = sql.execute(
                        "UPDATE google_patches SET
                             status = CASE WHEN generation = $1 THEN 'sent' ELSE 'pending' END,
                             notify = CASE WHEN generation = $1 THEN 0 ELSE notify END,
                             attempts = CASE WHEN generation = $1 THEN attempts ELSE 0 END,
                             due_ms = $2, done_ms = $2, last_error = NULL, lease_owner = NULL, lease_until = NULL
                         WHERE customer_id = $3 AND lease_owner = $4",
                        vals![claimed.generation, now_ms, id, &owner],
                    )?;
                    if changed > 0 && claimed.notify {
                        sql.execute(
                            "UPDATE wallet_cards SET
                                 google_notified = CASE WHEN google_day = $1 THEN google_notified + 1 ELSE 1 END,
                                 google_day = $1
                             WHERE customer_id = $2",
                            vals![&today, id],
                        )?;
                    }
                }
                Delivery::Gone => {
                    sql.execute(
                        "UPDATE google_patches SET status = 'gone', done_ms = $1, lease_owner = NULL, lease_until = NULL
                         WHERE customer_id = $2 AND lease_owner = $3",
                        vals![now_ms, id, &owner],
                    )?;
                }
                Delivery::Retry { error, at_ms } => {
                    finish_failed(sql, "google_patches", "customer_id", id, &owner, error, *at_ms, now_ms)?;
                }
                Delivery::Refused(error) => {
                    finish_failed(sql, "google_patches", "customer_id", id, &owner, error, None, now_ms)?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Counts and the latest failures, for the back office.
    pub async fn wallet_summary(&self) -> Result<WalletSummary, CloudError> {
        self.read(|sql| {
            let count =
                |sql: &mut dyn Sql, query: &str| -> Result<i64, CloudError> { Ok(sql.query_one(query, &[])?.int(0)?) };
            let outbox = |sql: &mut dyn Sql, table: &str| -> Result<OutboxCounts, CloudError> {
                let mut counts = OutboxCounts::default();
                for row in sql.query(&format!("SELECT status, COUNT(*) FROM {table} GROUP BY status"), &[])? {
                    let n = row.int(1)?;
                    match row.text(0)?.as_str() {
                        "pending" => counts.pending = n,
                        "sent" => counts.sent = n,
                        "failed" => counts.failed = n,
                        _ => counts.gone += n,
                    }
                }
                Ok(counts)
            };
            let mut recent_errors = Vec::new();
            for (wallet, table) in [("apple", "apple_pushes"), ("google", "google_patches")] {
                for row in sql.query(
                    &format!(
                        "SELECT attempts, last_error, COALESCE(done_ms, due_ms) FROM {table}
                         WHERE last_error IS NOT NULL ORDER BY COALESCE(done_ms, due_ms) DESC LIMIT 10"
                    ),
                    &[],
                )? {
                    recent_errors.push((
                        row.int(2)?,
                        WalletFailure {
                            wallet: wallet.to_owned(),
                            attempts: row.int(0)?,
                            error: row.text(1)?,
                            at: crate::clock::rfc3339(row.int(2)? / 1000),
                        },
                    ));
                }
            }
            recent_errors.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
            Ok(WalletSummary {
                cards: count(sql, "SELECT COUNT(*) FROM wallet_cards")?,
                google_cards: count(sql, "SELECT COUNT(*) FROM wallet_cards WHERE google = 1")?,
                apple_devices: count(sql, "SELECT COUNT(*) FROM apple_devices")?,
                cards_to_refresh: count(sql, "SELECT COUNT(*) FROM wallet_dirty")?,
                apple_pushes: outbox(sql, "apple_pushes")?,
                google_updates: outbox(sql, "google_patches")?,
                recent_errors: recent_errors.into_iter().take(10).map(|(_, e)| e).collect(),
            })
        })
        .await
    }
}

/// A failed attempt: due again at `retry_at_ms`, or `failed` (until the next change queues it
/// afresh) when no attempt is left.
#[allow(clippy::too_many_arguments)]
fn finish_failed(
    sql: &mut dyn Sql,
    table: &'static str,
    key: &'static str,
    id: &str,
    owner: &str,
    error: &str,
    retry_at_ms: Option<i64>,
    now_ms: i64,
) -> Result<u64, CloudError> {
    let error: String = error.chars().take(500).collect();
    let (status, due) = match retry_at_ms {
        Some(at) => ("pending", at),
        None => ("failed", now_ms),
    };
    Ok(sql.execute(
        &format!(
            "UPDATE {table} SET status = $1, due_ms = $2, last_error = $3, done_ms = $4,
                 lease_owner = NULL, lease_until = NULL
             WHERE {key} = $5 AND lease_owner = $6"
        ),
        vals![status, due, &error, now_ms, id, owner],
    )?)
}
