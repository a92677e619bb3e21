//! `POST /v1/sync/push`: a till's events, applied in order, each at most once.
//!
//! Per event, in this order: the same `(till, seq)` already answered → `duplicate` when it is
//! the same event (or the stored `rejected` again), `sequence_conflict` when it is another (a
//! till restored from an old backup: processing stops, nothing is overwritten); the same
//! `event_id` under another seq → `duplicate`; a seq that is not `last_seq + 1` →
//! `out_of_order` with `expected_seq` (processing stops); otherwise the event is applied — or
//! rejected for good with a code, listed in the conflicts — and `last_seq` advances.
//!
//! Events are applied in chunks, one transaction per chunk (a savepoint per event, so a
//! rejected event leaves no trace but its record). The till row is locked first: two processes
//! given the same batch take turns, and the second finds every event already answered. The
//! unique keys on `(till_id, seq)` and `event_id` back that up; a violation reruns the chunk,
//! which then answers `duplicate`.

use super::apply::{apply_event, Applied, Context};
use super::tills::lock_till;
use super::{publish, Changes, CloudError, Store, StoreSettings};
use crate::cloud::clock::now;
use crate::cloud::db::Sql;
use crate::vals;
use crate::wire::{EventOutcome, EventResult, SyncEvent};

/// Events applied in one transaction.
const CHUNK: usize = 200;
/// The most events one push may carry.
pub const MAX_BATCH: usize = 1000;

impl Store {
    /// Applies a batch. The answers cover the batch up to the first `out_of_order` or
    /// `sequence_conflict`; events after it are not processed and not answered.
    pub async fn push(&self, till_id: String, events: Vec<SyncEvent>) -> Result<Vec<EventResult>, CloudError> {
        let mut results = Vec::with_capacity(events.len());
        for chunk in events.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            let till_id = till_id.clone();
            let settings = self.settings().clone();
            let (answers, stopped) = self.write(move |sql| push_chunk(sql, &settings, &till_id, &chunk, now())).await?;
            results.extend(answers);
            if stopped {
                break;
            }
        }
        Ok(results)
    }
}

fn answer(event: &SyncEvent, outcome: EventOutcome) -> EventResult {
    EventResult {
        seq: event.seq,
        event_id: event.event_id.clone(),
        outcome,
        code: None,
        message: None,
        expected_seq: None,
    }
}

fn push_chunk(
    sql: &mut dyn Sql,
    settings: &StoreSettings,
    till_id: &str,
    events: &[SyncEvent],
    at: i64,
) -> Result<(Vec<EventResult>, bool), CloudError> {
    let first_seq = lock_till(sql, till_id)?;
    let mut last_seq = first_seq;
    let mut changes = Changes::default();
    let mut results = Vec::with_capacity(events.len());
    let mut stopped = false;
    for event in events {
        let result = match earlier_answer(sql, till_id, last_seq, event)? {
            Some(result) => result,
            None => {
                let result = apply_one(sql, settings, till_id, event, at, &mut changes)?;
                last_seq = event.seq;
                result
            }
        };
        stopped = matches!(result.outcome, EventOutcome::OutOfOrder | EventOutcome::SequenceConflict);
        results.push(result);
        if stopped {
            break;
        }
    }
    if last_seq != first_seq {
        sql.execute("UPDATE tills SET last_seq = $1 WHERE id = $2", vals![last_seq, till_id])?;
    }
    publish(sql, &changes, at)?;
    Ok((results, stopped))
}

/// The answer for an event that must not be applied now, or `None` to apply it.
fn earlier_answer(
    sql: &mut dyn Sql,
    till_id: &str,
    last_seq: i64,
    event: &SyncEvent,
) -> Result<Option<EventResult>, CloudError> {
    let at_seq = sql.query_opt(
        "SELECT event_id, outcome, code, message FROM events WHERE till_id = $1 AND seq = $2",
        vals![till_id, event.seq],
    )?;
    if let Some(row) = at_seq {
        if row.text(0)? != event.event_id {
            let mut result = answer(event, EventOutcome::SequenceConflict);
            result.code = Some("sequence_conflict".into());
            result.message = Some(format!(
                "seq {} was already applied with another event; this till may have been restored from an old backup — enroll it again",
                event.seq
            ));
            result.expected_seq = Some(last_seq + 1);
            return Ok(Some(result));
        }
        return Ok(Some(stored(event, row.text(1)?, row.opt_text(2)?, row.opt_text(3)?)));
    }
    let by_id =
        sql.query_opt("SELECT outcome, code, message FROM events WHERE event_id = $1", vals![&event.event_id])?;
    if let Some(row) = by_id {
        return Ok(Some(stored(event, row.text(0)?, row.opt_text(1)?, row.opt_text(2)?)));
    }
    if event.seq != last_seq + 1 {
        let mut result = answer(event, EventOutcome::OutOfOrder);
        result.expected_seq = Some(last_seq + 1);
        result.message = Some(format!("the next event expected from this till is seq {}", last_seq + 1));
        return Ok(Some(result));
    }
    Ok(None)
}

/// An event answered before: applied ones are `duplicate`; rejected ones are rejected again
/// with the same reason, so a lost answer cannot turn a rejection into a success.
fn stored(event: &SyncEvent, outcome: String, code: Option<String>, message: Option<String>) -> EventResult {
    if outcome == "rejected" {
        EventResult { code, message, ..answer(event, EventOutcome::Rejected) }
    } else {
        answer(event, EventOutcome::Duplicate)
    }
}

fn apply_one(
    sql: &mut dyn Sql,
    settings: &StoreSettings,
    till_id: &str,
    event: &SyncEvent,
    at: i64,
    changes: &mut Changes,
) -> Result<EventResult, CloudError> {
    let context = Context { settings, till_id, event, at };
    let mut event_changes = Changes::default();
    sql.execute("SAVEPOINT event", &[])?;
    let outcome = apply_event(sql, &context, &mut event_changes);
    let (result, code, message) = match outcome {
        Ok(()) => {
            sql.execute("RELEASE SAVEPOINT event", &[])?;
            changes.absorb(event_changes);
            (answer(event, EventOutcome::Applied), None, None)
        }
        Err(Applied::Refused(refusal)) => {
            sql.execute("ROLLBACK TO SAVEPOINT event", &[])?;
            sql.execute("RELEASE SAVEPOINT event", &[])?;
            super::admin::record_conflict(
                sql,
                super::admin::NewConflict {
                    kind: "rejected_event",
                    till_id: Some(till_id),
                    event: Some(event),
                    customer_id: None,
                    receipt_id: None,
                    happened: format!("a {} event was refused: {}", event.kind.as_str(), refusal.message),
                    done: format!(
                        "nothing was applied; the till was answered `rejected` ({}) and moved on",
                        refusal.code
                    ),
                    details: serde_json::json!({ "code": refusal.code }),
                },
                at,
            )?;
            let result = EventResult {
                code: Some(refusal.code.to_owned()),
                message: Some(refusal.message.clone()),
                ..answer(event, EventOutcome::Rejected)
            };
            (result, Some(refusal.code.to_owned()), Some(refusal.message))
        }
        Err(Applied::Failed(e)) => return Err(e),
    };
    sql.execute(
        "INSERT INTO events (event_id, till_id, seq, kind, outcome, code, message, payload, till_time, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vals![
            &event.event_id,
            till_id,
            event.seq,
            event.kind.as_str(),
            if code.is_some() { "rejected" } else { "applied" },
            code,
            message,
            event.payload.to_string(),
            &event.created_at,
            at
        ],
    )?;
    Ok(result)
}
