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

use super::apply::{apply_event, parse_payloads, value_marks, Applied, ChunkCache, Context, ParsedPayload};
use super::tills::lock_till;
use super::{publish, Changes, CloudError, Store, StoreSettings};
use crate::clock::now;
use crate::cloud::db::{DbError, Sql, Value};
use crate::vals;
use crate::wire::{EventKind, EventOutcome, EventPayload, EventResult, SyncEvent};
use std::collections::HashMap;

/// Events applied in one transaction: a till's whole batch (its worker sends 500), so a batch
/// costs the database one commit — one WAL flush and sync — rather than three.
const CHUNK: usize = 500;
/// The most events one push may carry.
pub const MAX_BATCH: usize = 1000;

impl Store {
    /// Applies a batch. The answers cover the batch up to the first `out_of_order` or
    /// `sequence_conflict`; events after it are not processed and not answered.
    pub async fn push(&self, till_id: String, events: Vec<SyncEvent>) -> Result<Vec<EventResult>, CloudError> {
        let mut results = Vec::with_capacity(events.len());
        // The chunks take the events over rather than copying them.
        let mut events = events.into_iter();
        loop {
            let chunk: Vec<SyncEvent> = events.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
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

/// What the events table already holds for a chunk: by this till's seq, and by event id.
#[derive(Default)]
struct Known {
    by_seq: HashMap<i64, (String, String, Option<String>, Option<String>)>,
    by_id: HashMap<String, (String, Option<String>, Option<String>)>,
}

impl Known {
    /// Two queries for every seq and event id of the chunk (run after the till row is locked),
    /// instead of two per event. Two, not one with an `OR`: PostgreSQL planned the `OR` of the
    /// two lists as a scan of the whole table (every pushed event ever) for each chunk.
    fn load(sql: &mut dyn Sql, till_id: &str, events: &[SyncEvent]) -> Result<Known, CloudError> {
        let mut known = Known::default();
        let mut params: Vec<Value> = Vec::with_capacity(1 + events.len());
        params.push(Value::from(till_id));
        params.extend(events.iter().map(|event| Value::Int(event.seq)));
        let marks: Vec<String> = (2..=params.len()).map(|i| format!("${i}")).collect();
        let by_seq = format!(
            "SELECT event_id, seq, outcome, code, message FROM events WHERE till_id = $1 AND seq IN ({})",
            marks.join(", ")
        );
        for row in sql.query(&by_seq, &params)? {
            let (event_id, seq) = (row.text(0)?, row.int(1)?);
            let (outcome, code, message) = (row.text(2)?, row.opt_text(3)?, row.opt_text(4)?);
            known.by_seq.insert(seq, (event_id.clone(), outcome.clone(), code.clone(), message.clone()));
            known.by_id.insert(event_id, (outcome, code, message));
        }
        // An id no database can take fails at its own turn (see `earlier_answer`).
        let ids: Vec<Value> = events
            .iter()
            .map(|e| e.event_id.as_str())
            .filter(|id| !id.contains('\0') && !known.by_id.contains_key(*id))
            .map(Value::from)
            .collect();
        if !ids.is_empty() {
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let by_id =
                format!("SELECT event_id, outcome, code, message FROM events WHERE event_id IN ({})", marks.join(", "));
            for row in sql.query(&by_id, &ids)? {
                known.by_id.insert(row.text(0)?, (row.text(1)?, row.opt_text(2)?, row.opt_text(3)?));
            }
        }
        Ok(known)
    }

    /// An event of this chunk just answered: later ones with its seq or id see it.
    fn note(&mut self, event: &SyncEvent, record: &EventRecord) {
        let outcome = if record.code.is_some() { "rejected" } else { "applied" }.to_owned();
        self.by_seq
            .insert(event.seq, (event.event_id.clone(), outcome.clone(), record.code.clone(), record.message.clone()));
        self.by_id.insert(event.event_id.clone(), (outcome, record.code.clone(), record.message.clone()));
    }
}

/// An event's row in `events`, written with the chunk's others in few statements.
struct EventRecord {
    code: Option<String>,
    message: Option<String>,
}

fn push_chunk(
    sql: &mut dyn Sql,
    settings: &StoreSettings,
    till_id: &str,
    events: &[SyncEvent],
    at: i64,
) -> Result<(Vec<EventResult>, bool), CloudError> {
    let first_seq = lock_till(sql, till_id)?;
    let mut known = Known::load(sql, till_id, events)?;
    let mut last_seq = first_seq;
    let mut changes = Changes::heard_by_subscribers(sql)?;
    let mut results = Vec::with_capacity(events.len());
    let mut records: Vec<(&SyncEvent, EventRecord)> = Vec::with_capacity(events.len());
    let mut savepoint = Savepoint { open: false };
    let mut payloads = parse_payloads(events);
    let cache = ChunkCache::for_events(sql, till_id, &payloads)?;
    let mut stopped = false;
    for (event, payload) in events.iter().zip(payloads.iter_mut()) {
        let result = match earlier_answer(&known, till_id, last_seq, event)? {
            Some(result) => result,
            None => {
                let (result, record) = apply_one(
                    sql,
                    &mut savepoint,
                    &Context { settings, till_id, event, at, cache: &cache },
                    payload,
                    &mut changes,
                )?;
                known.note(event, &record);
                records.push((event, record));
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
    savepoint.close(sql)?;
    cache.write_held(sql, till_id, at)?;
    // Referral rewards the chunk's sales qualified for, now that the wallets they credit are
    // written (see `lifecycle.rs`).
    super::lifecycle::settle_noted(sql, &mut changes, at)?;
    sql.plan_once(true)?;
    insert_events(sql, till_id, &records, at)?;
    sql.plan_once(false)?;
    if last_seq != first_seq {
        sql.write("UPDATE tills SET last_seq = $1 WHERE id = $2", vals![last_seq, till_id])?;
    }
    publish(sql, &changes, at)?;
    Ok((results, stopped))
}

/// The per-event savepoint (see `Sql::open_event_savepoint`: on PostgreSQL it is only taken
/// when the event sends something to the server before the next one begins).
struct Savepoint {
    open: bool,
}

impl Savepoint {
    fn begin(&mut self, sql: &mut dyn Sql) -> Result<(), DbError> {
        self.close(sql)?;
        sql.open_event_savepoint()?;
        self.open = true;
        Ok(())
    }

    /// Refused: undo everything since the savepoint, and end it.
    fn undo(&mut self, sql: &mut dyn Sql) -> Result<(), DbError> {
        sql.undo_event_savepoint()?;
        self.open = false;
        Ok(())
    }

    /// Ends an open savepoint, keeping its work.
    fn close(&mut self, sql: &mut dyn Sql) -> Result<(), DbError> {
        if self.open {
            sql.release_event_savepoint()?;
        }
        self.open = false;
        Ok(())
    }
}

/// The chunk's event records, many rows a statement.
fn insert_events(
    sql: &mut dyn Sql,
    till_id: &str,
    records: &[(&SyncEvent, EventRecord)],
    at: i64,
) -> Result<(), CloudError> {
    for part in records.chunks(100) {
        let statement = format!(
            "INSERT INTO events (event_id, till_id, seq, kind, outcome, code, message, payload, till_time, received_at) VALUES {}",
            value_marks(10, part.len())
        );
        let mut params: Vec<Value> = Vec::with_capacity(part.len() * 10);
        for (event, record) in part {
            params.extend([
                Value::from(&event.event_id),
                Value::from(till_id),
                Value::Int(event.seq),
                Value::from(event.kind.as_str()),
                Value::from(if record.code.is_some() { "rejected" } else { "applied" }),
                Value::from(record.code.clone()),
                Value::from(record.message.clone()),
                Value::from(kept_payload(event, record.code.is_none())),
                Value::from(&event.created_at),
                Value::Int(at),
            ]);
        }
        sql.write(&statement, &params)?;
    }
    Ok(())
}

/// The payload an event's row keeps: none for an applied sale, whose receipt keeps the same
/// text as its `body` (one copy of each sale, not two).
pub(super) fn kept_payload(event: &SyncEvent, applied: bool) -> Option<&str> {
    (!(applied && event.kind == EventKind::Sale)).then(|| event.payload.get())
}

/// The answer for an event that must not be applied now, or `None` to apply it.
fn earlier_answer(
    known: &Known,
    till_id: &str,
    last_seq: i64,
    event: &SyncEvent,
) -> Result<Option<EventResult>, CloudError> {
    if event.event_id.contains('\0') {
        return Err(DbError::NulInText.into());
    }
    if let Some((event_id, outcome, code, message)) = known.by_seq.get(&event.seq) {
        if *event_id != event.event_id {
            let mut result = answer(event, EventOutcome::SequenceConflict);
            result.code = Some("sequence_conflict".into());
            result.message = Some(format!(
                "seq {} was already applied with another event: this till's database is older than what the cloud holds \
                 (restored from a backup?). Nothing was overwritten. Ask the back office for a new enrollment code for \
                 till {till_id}, then run `loyalty-agent enroll --cloud URL --code CODE --replace` on the till",
                event.seq
            ));
            result.expected_seq = Some(last_seq + 1);
            return Ok(Some(result));
        }
        return Ok(Some(stored(event, outcome.clone(), code.clone(), message.clone())));
    }
    if let Some((outcome, code, message)) = known.by_id.get(&event.event_id) {
        return Ok(Some(stored(event, outcome.clone(), code.clone(), message.clone())));
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
    savepoint: &mut Savepoint,
    context: &Context<'_>,
    payload: &mut ParsedPayload,
    changes: &mut Changes,
) -> Result<(EventResult, EventRecord), CloudError> {
    let Context { till_id, event, at, .. } = *context;
    let mut event_changes = changes.empty_like();
    if event.kind != EventKind::Sale {
        // Other events may read what the chunk's sales added and change the customers held for
        // them: the held rows are written first, outside this event's savepoint, so that
        // refusing the event cannot take them back.
        savepoint.close(sql)?;
        context.cache.write_held(sql, till_id, at)?;
    }
    savepoint.begin(sql)?;
    // Each event is applied once in a chunk (an event answered earlier never gets here).
    let payload = payload.take().unwrap_or_else(|| EventPayload::from_raw(event.kind, &event.payload));
    match apply_event(sql, context, payload, &mut event_changes) {
        Ok(()) => {
            // The savepoint stays open until the next event's (or the end of the chunk).
            changes.absorb(event_changes);
            Ok((answer(event, EventOutcome::Applied), EventRecord { code: None, message: None }))
        }
        Err(Applied::Refused(refusal)) => {
            savepoint.undo(sql)?;
            super::admin::record_conflict(
                sql,
                super::admin::NewConflict {
                    kind: "rejected_event",
                    till_id: Some(till_id),
                    event: Some(event),
                    customer_id: None,
                    receipt_id: None,
                    happened: crate::http::sentence::Sentence::new(
                        "conflict_rejected_event",
                        format!("a {} event was refused: {}", event.kind.as_str(), refusal.message),
                    )
                    .with("event", event.kind.as_str())
                    .with("code", refusal.code),
                    done: crate::http::sentence::Sentence::new(
                        "conflict_rejected_event_done",
                        format!(
                            "nothing was applied; the till was answered `rejected` ({}) and moved on",
                            refusal.code
                        ),
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
            Ok((result, EventRecord { code: Some(refusal.code.to_owned()), message: Some(refusal.message) }))
        }
        Err(Applied::Failed(e)) => Err(e),
    }
}
