//! `GET /v1/sync/pull`: the change feed.
//!
//! Every writing transaction appends `(pos, kind, entity_id)` rows to `feed`, taking the
//! positions from the single `feed_counter` row as its last statement (`store::publish`). In
//! PostgreSQL that `UPDATE` holds the row's lock until commit, so writers pass that point one
//! at a time and commit in position order; a transaction is visible to new snapshots before its
//! locks are released, so a reader that sees position n also sees every position below n. That
//! closes the trap of sequence-built cursors, where position 11 commits before 10 and a reader
//! that saw 11 moves its cursor past 10 for good. SQLite has one writer, so it holds trivially.
//!
//! A page answers, for each feed row after the cursor, the entity's *current* state read in
//! the same snapshot (a page never goes back in time). The cursor is `EPOCH.POS`: the epoch is
//! random per database, so a cursor from another database — or one ahead of this one after a
//! restore — answers `must_refetch` instead of silently skipping changes.

use std::time::Duration;

use tokio::time::Instant;

use super::{CloudError, Store};
use crate::cloud::db::Sql;
use crate::rules::Program;
use crate::vals;
use crate::wire::{BalanceSnapshot, Change, ProgramSnapshot, PullResponse};

/// Changes per page by default, and at most.
pub const DEFAULT_LIMIT: i64 = 500;
pub const MAX_LIMIT: i64 = 5000;
/// The longest long-poll.
pub const MAX_WAIT_SECONDS: u64 = 30;
/// How often a long-poll looks again even without a local signal: another process on the same
/// PostgreSQL database does not signal this one.
const RECHECK: Duration = Duration::from_millis(250);

impl Store {
    /// One page of changes after `cursor`, waiting up to `wait` for one when there is none.
    pub async fn pull(
        &self,
        till_id: String,
        cursor: Option<String>,
        limit: i64,
        wait: Duration,
    ) -> Result<PullResponse, CloudError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let deadline = Instant::now() + wait.min(Duration::from_secs(MAX_WAIT_SECONDS));
        loop {
            // Registered before the read, so a commit between the read and the wait still wakes us.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (till, cursor) = (till_id.clone(), cursor.clone());
            let (page, advanced) = self.read(move |sql| page(sql, &till, cursor.as_deref(), limit)).await?;
            if advanced || page.must_refetch || Instant::now() >= deadline {
                return Ok(page);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(RECHECK) => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

/// A page, and whether it moved past the cursor.
fn page(
    sql: &mut dyn Sql,
    till_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<(PullResponse, bool), CloudError> {
    let epoch = sql.query_one("SELECT value FROM meta WHERE key = 'feed_epoch'", &[])?.text(0)?;
    let head = sql.query_one("SELECT pos FROM feed_counter WHERE id = 1", &[])?.int(0)?;
    let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => Some(0),
        Some(cursor) => match cursor.split_once('.') {
            Some((their_epoch, pos)) if their_epoch == epoch => {
                pos.parse::<i64>().ok().filter(|p| (0..=head).contains(p))
            }
            _ => None,
        },
    };
    let Some(after) = after else {
        let page = PullResponse {
            changes: Vec::new(),
            next_cursor: format!("{epoch}.0"),
            has_more: head > 0,
            must_refetch: true,
        };
        return Ok((page, true));
    };
    let rows = sql
        .query("SELECT pos, kind, entity_id FROM feed WHERE pos > $1 ORDER BY pos LIMIT $2", vals![after, limit + 1])?;
    let has_more = rows.len() as i64 > limit;
    let mut changes = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut program = None;
    let mut next = after;
    for row in rows.iter().take(limit as usize) {
        next = row.int(0)?;
        let (kind, id) = (row.text(1)?, row.text(2)?);
        if seen.iter().any(|(k, i)| *k == kind && *i == id) {
            continue;
        }
        if let Some(change) = snapshot(sql, till_id, &kind, &id, &mut program)? {
            changes.push(change);
        }
        seen.push((kind, id));
    }
    let page = PullResponse { changes, next_cursor: format!("{epoch}.{next}"), has_more, must_refetch: false };
    Ok((page, next != after))
}

/// The current state of one feed entry for `till_id`. `program` is the current program, read
/// once per page by the first balance that needs it.
fn snapshot(
    sql: &mut dyn Sql,
    till_id: &str,
    kind: &str,
    id: &str,
    program: &mut Option<Program>,
) -> Result<Option<Change>, CloudError> {
    Ok(match kind {
        "customer" => match super::customers::load_by(sql, "id", id, false)? {
            Some(customer) => {
                let mut snapshot = super::customers::snapshot(&customer);
                // The tills check the customer's time-based code offline (`spending_codes`).
                snapshot.code_secret = super::spending_codes::secret_of(sql, id)?.map(crate::wire::CodeSecret);
                Some(Change::Customer(Box::new(snapshot)))
            }
            None => None,
        },
        "balance" => match super::customers::load_by(sql, "id", id, false)? {
            Some(customer) => {
                let at = crate::clock::now();
                let included_seq = sql
                    .query_opt(
                        "SELECT seq FROM customer_till_seq WHERE customer_id = $1 AND till_id = $2",
                        vals![id, till_id],
                    )?
                    .map(|row| row.int(0))
                    .transpose()?
                    .unwrap_or(0);
                Some(Change::Balance(BalanceSnapshot {
                    customer_id: customer.profile.id.clone(),
                    balance: customer.wallet.balance(at),
                    available: customer.wallet.available(at),
                    pending: customer.wallet.pending(at),
                    paid_total: customer.paid_total.0,
                    included_seq,
                    next_expiry: customer.wallet.next_expiry(at).map(crate::wire::PointsExpiry::of),
                    stamps: Some(super::campaigns::stamps_of(sql, id)?),
                    campaign_uses: Some({
                        if program.is_none() {
                            *program = Some(super::admin::current_program(sql)?);
                        }
                        match program.as_ref() {
                            Some(program) => super::campaigns::uses_elsewhere(sql, program, id, till_id, at)?,
                            None => Vec::new(),
                        }
                    }),
                }))
            }
            None => None,
        },
        "merge" => sql
            .query_opt("SELECT customer_id FROM customer_aliases WHERE alias_id = $1", vals![id])?
            .map(|row| row.text(0))
            .transpose()?
            .map(|into| Change::CustomerMerged { from: id.to_owned(), into }),
        "campaign_budget" => Some(Change::CampaignBudget(super::campaigns::budget_snapshot(sql, id, till_id)?)),
        "program" => {
            let program = super::admin::current_program(sql)?;
            Some(Change::Program(ProgramSnapshot {
                version: program.version,
                program: serde_json::to_value(&program)?,
                // Tills check the customers' signed QR tokens offline with it.
                qr_key: super::spending_codes::qr_key_text(sql)?.map(crate::wire::CodeSecret),
            }))
        }
        _ => None,
    })
}
