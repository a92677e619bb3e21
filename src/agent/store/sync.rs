//! The store's side of sync: reading the outbox in order, dropping what the cloud answered
//! for, and applying pulled pages of changes — each page and its cursor in one transaction.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::customers::reversed_digits;
use super::{Store, StoreError};
use crate::rules::Program;
use crate::wire::{BalanceSnapshot, Change, CustomerSnapshot, EventOutcome, EventResult, KnownEvent, SyncEvent};

/// What acknowledging a push did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AckSummary {
    /// Events the cloud has (applied now, before, or refused for good) — removed from the outbox.
    pub removed: usize,
    pub rejected: usize,
    /// The push must stop: the cloud holds other events under our sequence numbers.
    pub sequence_conflict: bool,
    /// The cloud wants the events from this seq on (resend from there).
    pub resend_from: Option<i64>,
}

/// What `renumber_outbox` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Renumbered {
    /// Events the cloud had applied already (sent before the backup was restored).
    pub already_held: usize,
    /// Events the cloud had refused for good, now on record as refused here too.
    pub rejected: usize,
    /// Events still to send, now numbered after the cloud's.
    pub renumbered: usize,
    /// The first of those numbers, if any.
    pub first_seq: Option<i64>,
    /// The number the last of them took (the cloud's last seq when none).
    pub last_seq: i64,
}

/// What a pulled page changed locally.
#[derive(Debug, Default, Clone)]
pub struct PageSummary {
    pub customers: usize,
    pub balances: usize,
    /// A new program version, to put in force.
    pub program: Option<Program>,
    /// Customers whose phone, card or email the cloud gave to another customer (merged
    /// duplicates enrolled offline on two tills).
    pub released: usize,
    /// Local duplicates folded into the customer the cloud kept.
    pub merged: usize,
}

impl Store {
    /// Up to `limit` events from the outbox, oldest first.
    pub async fn outbox_batch(&self, limit: usize) -> Result<Vec<SyncEvent>, StoreError> {
        self.read(move |conn, _| {
            let mut stmt = conn
                .prepare_cached("SELECT seq, event_id, kind, created_at, payload FROM outbox ORDER BY seq LIMIT ?1")?;
            let rows = stmt.query_map([limit as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })?;
            let mut events = Vec::new();
            for row in rows {
                let (seq, event_id, kind, created_at, payload) = row?;
                events.push(SyncEvent {
                    seq,
                    event_id,
                    kind: serde_json::from_value(serde_json::Value::String(kind))?,
                    created_at: crate::clock::rfc3339(created_at),
                    payload: serde_json::value::RawValue::from_string(payload)
                        .map_err(|e| StoreError::corrupt(format!("outbox event {seq}"), e))?,
                });
            }
            Ok(events)
        })
        .await
    }

    /// Drops from the outbox every event the cloud has answered for, keeping refusals on
    /// record. Nothing leaves the outbox without an answer for it.
    pub async fn acknowledge(&self, results: Vec<EventResult>, now: i64) -> Result<AckSummary, StoreError> {
        self.write(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut summary = AckSummary::default();
            for result in &results {
                match result.outcome {
                    EventOutcome::Applied | EventOutcome::Duplicate => {
                        summary.removed += delete_event(&tx, result)?;
                    }
                    EventOutcome::Rejected => {
                        tx.execute(
                            "INSERT OR IGNORE INTO sync_rejections (seq, event_id, kind, payload, code, message, rejected_at)
                             SELECT seq, event_id, kind, payload, ?3, ?4, ?5 FROM outbox WHERE seq = ?1 AND event_id = ?2",
                            params![
                                result.seq,
                                result.event_id,
                                result.code.as_deref().unwrap_or("rejected"),
                                result.message.as_deref().unwrap_or(""),
                                now
                            ],
                        )?;
                        summary.removed += delete_event(&tx, result)?;
                        summary.rejected += 1;
                    }
                    EventOutcome::OutOfOrder => {
                        summary.resend_from = result.expected_seq;
                        break;
                    }
                    EventOutcome::SequenceConflict => {
                        summary.sequence_conflict = true;
                        // Kept until the till is enrolled again: `enroll --replace` and the
                        // doctor read it, with or without the agent running.
                        set_meta(&tx, "sync_conflict", &result.seq.to_string())?;
                        break;
                    }
                }
            }
            // The cloud expects a later seq than ours: it applied those events already and the
            // answers were lost. They are acknowledged by that expectation.
            if let Some(expected) = summary.resend_from {
                summary.removed += tx.execute("DELETE FROM outbox WHERE seq < ?1", [expected])?;
            }
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

    /// The cursor the next pull continues from (`None` = from the beginning).
    pub async fn sync_cursor(&self) -> Result<Option<String>, StoreError> {
        self.read(|conn, _| Ok(meta(conn, "sync_cursor")?)).await
    }

    /// Forgets the cursor, so the next pull pages the whole directory again.
    pub async fn reset_sync_cursor(&self) -> Result<(), StoreError> {
        self.write(|conn, _| {
            conn.execute("DELETE FROM meta WHERE key = 'sync_cursor'", [])?;
            Ok(())
        })
        .await
    }

    /// Applies one pulled page and its cursor in one transaction.
    pub async fn apply_pull_page(&self, changes: Vec<Change>, next_cursor: String) -> Result<PageSummary, StoreError> {
        self.write(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut summary = PageSummary::default();
            for change in changes {
                match change {
                    Change::Customer(customer) => {
                        summary.released += upsert_customer(&tx, &customer)?;
                        summary.customers += 1;
                    }
                    Change::Balance(balance) => {
                        upsert_balance(&tx, &balance)?;
                        super::campaigns::apply_cloud_state(&tx, &balance)?;
                        summary.balances += 1;
                    }
                    Change::CampaignBudget(budget) => super::campaigns::apply_budget(&tx, &budget)?,
                    Change::Unknown => {
                        tracing::debug!("skipped a kind of change this agent does not know");
                    }
                    Change::CustomerMerged { from, into } => {
                        merge_customer(&tx, &from, &into)?;
                        summary.merged += 1;
                    }
                    Change::Program(snapshot) => {
                        let mut program = program_from_cloud(&snapshot)?;
                        program.version = snapshot.version;
                        if let Some(key) = &snapshot.qr_key {
                            set_meta(&tx, "qr_key", &key.0)?;
                        }
                        let kept = crate::wire::ProgramSnapshot { qr_key: None, ..snapshot.clone() };
                        set_meta(&tx, "cloud_program", &serde_json::to_string(&kept)?)?;
                        summary.program = Some(program);
                    }
                }
            }
            set_meta(&tx, "sync_cursor", &next_cursor)?;
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

    /// Remembers that a sync cycle completed (the offline allowance counts from here, across
    /// restarts).
    pub async fn record_sync_success(&self, now: i64) -> Result<(), StoreError> {
        self.write(move |conn, _| {
            set_meta(conn, "sync_last_success", &now.to_string())?;
            // A push that went through means the numbering agrees with the cloud again.
            conn.execute("DELETE FROM meta WHERE key = 'sync_conflict'", [])?;
            Ok(())
        })
        .await
    }

    /// The seq at which the cloud last stopped a push with `sequence_conflict`, until the till
    /// is enrolled again over this database (`enroll --replace`).
    pub async fn sequence_conflict(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn, _| Ok(meta(conn, "sync_conflict")?.and_then(|v| v.parse().ok()))).await
    }

    /// The id of every event in the outbox, oldest first.
    pub async fn outbox_event_ids(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn, _| {
            let mut statement = conn.prepare("SELECT event_id FROM outbox ORDER BY seq")?;
            let ids = statement.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
        .await
    }

    /// Makes the outbox follow the cloud's numbering after the till was enrolled again over
    /// this database (a restore from a backup; CONTRACTS.md §sync), in one transaction:
    ///
    /// 1. Events the cloud already holds (`known`, from any till) leave the outbox, as an
    ///    acknowledgement would take them (refusals kept on record).
    /// 2. Journal entries whose event has left the outbox count as included in the cloud's
    ///    balances (`outbox_seq` 0): the cloud holds them, and the pull from the beginning
    ///    that follows brings balances that include them. Without this an entry acknowledged
    ///    under the old numbering could be counted again on top of the cloud's figure.
    /// 3. The rest keep their ids and order and are numbered from `cloud_last_seq + 1`, their
    ///    journal entries with them, and the next new event follows the last.
    /// 4. The pull cursor and the recorded conflict are forgotten.
    pub async fn renumber_outbox(
        &self,
        known: Vec<KnownEvent>,
        cloud_last_seq: i64,
        now: i64,
    ) -> Result<Renumbered, StoreError> {
        self.write(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut report = Renumbered::default();
            for event in &known {
                if event.outcome == EventOutcome::Rejected {
                    tx.execute(
                        "INSERT OR IGNORE INTO sync_rejections (seq, event_id, kind, payload, code, message, rejected_at)
                         SELECT seq, event_id, kind, payload, ?2, ?3, ?4 FROM outbox WHERE event_id = ?1",
                        params![
                            event.event_id,
                            event.code.as_deref().unwrap_or("rejected"),
                            event.message.as_deref().unwrap_or(""),
                            now
                        ],
                    )?;
                }
                let removed = tx.execute("DELETE FROM outbox WHERE event_id = ?1", [&event.event_id])?;
                if event.outcome == EventOutcome::Rejected {
                    report.rejected += removed;
                } else {
                    report.already_held += removed;
                }
            }
            // Campaign points and stamp moves follow their events like journal entries.
            const CARRIED: [&str; 3] = ["ledger", "campaign_points", "stamp_moves"];
            for table in CARRIED {
                tx.execute(
                    &format!(
                        "UPDATE {table} SET outbox_seq = 0 WHERE outbox_seq > 0 AND outbox_seq NOT IN (SELECT seq FROM outbox)"
                    ),
                    [],
                )?;
            }
            // Old → new numbers in a table, so each update is one pass; through negative
            // numbers, so no row ever takes a number another still holds.
            tx.execute_batch("DROP TABLE IF EXISTS temp.renumbering; CREATE TEMP TABLE renumbering (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")?;
            report.renumbered = tx.execute(
                "INSERT INTO temp.renumbering (old, new) SELECT seq, ?1 + ROW_NUMBER() OVER (ORDER BY seq) FROM outbox",
                [cloud_last_seq],
            )?;
            for table in CARRIED {
                tx.execute_batch(&format!(
                    "UPDATE {table} SET outbox_seq = -(SELECT new FROM temp.renumbering WHERE old = {table}.outbox_seq)
                         WHERE outbox_seq IN (SELECT old FROM temp.renumbering);
                     UPDATE {table} SET outbox_seq = -outbox_seq WHERE outbox_seq < 0;"
                ))?;
            }
            tx.execute_batch(
                "UPDATE outbox SET seq = -(SELECT new FROM temp.renumbering WHERE old = outbox.seq);
                 UPDATE outbox SET seq = -seq;
                 DROP TABLE temp.renumbering;",
            )?;
            let last = cloud_last_seq + report.renumbered as i64;
            // AUTOINCREMENT numbers the next event after the highest it ever gave: make that `last`.
            tx.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'", [])?;
            tx.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?1)", [last])?;
            report.first_seq = (report.renumbered > 0).then_some(cloud_last_seq + 1);
            report.last_seq = last;
            tx.execute("DELETE FROM meta WHERE key IN ('sync_cursor', 'sync_conflict')", [])?;
            tx.commit()?;
            Ok(report)
        })
        .await
    }

    /// When a sync cycle last completed, if ever.
    pub async fn last_sync_success(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn, _| Ok(meta(conn, "sync_last_success")?.and_then(|v| v.parse().ok()))).await
    }

    /// The program the cloud sent last, if any (a connected agent prices with it).
    pub async fn cloud_program(&self) -> Result<Option<Program>, StoreError> {
        self.read(|conn, _| {
            let Some(text) = meta(conn, "cloud_program")? else { return Ok(None) };
            let snapshot: crate::wire::ProgramSnapshot = serde_json::from_str(&text)?;
            let mut program = program_from_cloud(&snapshot)?;
            program.version = snapshot.version;
            Ok(Some(program))
        })
        .await
    }

    /// Events the cloud refused for good, newest first (for health and the back office).
    pub async fn rejected_count(&self) -> Result<i64, StoreError> {
        self.read(|conn, _| Ok(conn.query_row("SELECT COUNT(*) FROM sync_rejections", [], |row| row.get(0))?)).await
    }
}

/// A program the cloud sent, read leniently: a newer cloud may send fields this build does not
/// know (a new kind of campaign), and refusing them would leave the till on an old version for
/// good. They are dropped and named in one warning each time a program is read (once per
/// pulled version, and once at start-up for the stored one).
fn program_from_cloud(snapshot: &crate::wire::ProgramSnapshot) -> Result<Program, serde_json::Error> {
    let (program, ignored) = Program::from_cloud_json(snapshot.program.clone())?;
    if !ignored.is_empty() {
        tracing::warn!(
            version = snapshot.version,
            fields = ?ignored,
            "the cloud's program has fields this agent does not know; they are ignored (update the agent to use them)"
        );
    }
    Ok(program)
}

fn delete_event(conn: &Connection, result: &EventResult) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND event_id = ?2")?
        .execute(params![result.seq, result.event_id])?)
}

/// Inserts or updates a customer from the cloud. If another local customer holds the same
/// phone, card, email or MoySklad link (the same person enrolled offline on this till, merged by the cloud),
/// that record gives them up: its receipts stay intact, and searches find the cloud's customer.
/// Returns how many local records gave up an identifier.
fn upsert_customer(conn: &Connection, customer: &CustomerSnapshot) -> Result<usize, StoreError> {
    let mut released = 0;
    for (column, value) in [
        ("phone", Some(&customer.phone)),
        ("card", Some(&customer.card)),
        ("email", customer.email.as_ref()),
        ("external_id", customer.external_id.as_ref()),
    ] {
        let Some(value) = value else { continue };
        let sql = format!("SELECT id FROM customers WHERE {column} = ?1 AND id != ?2");
        let holder: Option<String> = conn.query_row(&sql, params![value, customer.id], |row| row.get(0)).optional()?;
        if let Some(holder) = holder {
            tracing::warn!(local = %holder, cloud = %customer.id, field = column, "a local customer gives an identifier up to the cloud's customer");
            let release = match column {
                "email" | "external_id" => format!("UPDATE customers SET {column} = NULL WHERE id = ?1"),
                // Phones and cards are required: keep them unique and unsearchable.
                _ => format!("UPDATE customers SET {column} = 'merged:' || id WHERE id = ?1"),
            };
            conn.execute(&release, [&holder])?;
            released += 1;
        }
    }
    let now = crate::clock::now();
    conn.prepare_cached(
        "INSERT INTO customers (id, phone, phone_rev, name, email, card, birthday, tags, consents, external_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (id) DO UPDATE SET phone = excluded.phone, phone_rev = excluded.phone_rev, name = excluded.name,
             email = excluded.email, card = excluded.card, birthday = excluded.birthday, tags = excluded.tags,
             consents = excluded.consents, external_id = excluded.external_id, updated_at = excluded.updated_at",
    )?
    .execute(params![
        customer.id,
        customer.phone,
        reversed_digits(&customer.phone),
        customer.name,
        customer.email,
        customer.card,
        customer.birthday,
        serde_json::to_string(&customer.tags)?,
        serde_json::to_string(&customer.consents)?,
        customer.external_id,
        now
    ])?;
    if let Some(secret) = &customer.code_secret {
        super::verification::save_code_secret(conn, &customer.id, Some(&secret.0))?;
    }
    Ok(released)
}

/// Folds the local customer `from` into `into` (the cloud decided they are one person): their
/// receipts, journal, lots and promo uses move over, so the till's unconfirmed movements count
/// for the customer the cloud kept, and `from` stays an alias so a till that remembers the old
/// id still finds them.
fn merge_customer(conn: &Connection, from: &str, into: &str) -> Result<(), StoreError> {
    if from == into {
        return Ok(());
    }
    conn.execute(
        "INSERT INTO customer_aliases (alias, customer_id) VALUES (?1, ?2)
         ON CONFLICT (alias) DO UPDATE SET customer_id = excluded.customer_id",
        params![from, into],
    )?;
    // Aliases of `from` now lead to `into` too.
    conn.execute("UPDATE customer_aliases SET customer_id = ?2 WHERE customer_id = ?1", params![from, into])?;
    let exists = |id: &str| -> rusqlite::Result<bool> {
        conn.prepare_cached("SELECT 1 FROM customers WHERE id = ?1")?.exists([id])
    };
    if !exists(from)? || !exists(into)? {
        return Ok(());
    }
    for table in ["receipts", "ledger", "point_lots", "promo_uses", "adjustments"] {
        conn.execute(&format!("UPDATE {table} SET customer_id = ?2 WHERE customer_id = ?1"), params![from, into])?;
    }
    // One MoySklad link per customer: the kept customer's own link wins.
    conn.execute(
        "UPDATE moysklad_links SET customer_id = ?2 WHERE customer_id = ?1
         AND NOT EXISTS (SELECT 1 FROM moysklad_links WHERE customer_id = ?2)",
        params![from, into],
    )?;
    conn.execute("DELETE FROM moysklad_links WHERE customer_id = ?1", [from])?;
    conn.execute("DELETE FROM cloud_balances WHERE customer_id = ?1", [from])?;
    super::campaigns::merge_customer(conn, from, into)?;
    conn.execute("DELETE FROM customers WHERE id = ?1", [from])?;
    tracing::info!(from, into, "a local customer was merged into the one the cloud kept");
    Ok(())
}

fn upsert_balance(conn: &Connection, balance: &BalanceSnapshot) -> Result<(), StoreError> {
    let expiry =
        balance.next_expiry.as_ref().and_then(|expiry| Some((expiry.points, crate::clock::parse_rfc3339(&expiry.at)?)));
    conn.prepare_cached(
        "INSERT INTO cloud_balances
             (customer_id, balance, available, pending, paid_total, included_seq, expiring_points, expiring_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (customer_id) DO UPDATE SET balance = excluded.balance, available = excluded.available,
             pending = excluded.pending, paid_total = excluded.paid_total,
             included_seq = MAX(cloud_balances.included_seq, excluded.included_seq),
             expiring_points = excluded.expiring_points, expiring_at = excluded.expiring_at",
    )?
    .execute(params![
        balance.customer_id,
        balance.balance,
        balance.available,
        balance.pending,
        balance.paid_total,
        balance.included_seq,
        expiry.map(|(points, _)| points),
        expiry.map(|(_, at)| at),
    ])?;
    conn.prepare_cached("UPDATE customers SET paid_total = ?2 WHERE id = ?1")?
        .execute(params![balance.customer_id, balance.paid_total])?;
    Ok(())
}

fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |row| row.get(0)).optional()
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::store::StoreSettings;

    fn settings() -> StoreSettings {
        StoreSettings { default_region: "RU".into(), card_prefix: "2700".into(), connected: true, store: None }
    }

    /// Three queued events of one customer (seq 1–3, ids e1–e3), each with a journal entry,
    /// and an entry of an event the cloud acknowledged before (seq 0 would be "included").
    fn queue(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO ledger (customer_id, kind, points, reference, created_at, outbox_seq) VALUES ('c', 'accrual', 1, 'acked', 0, 7);
             INSERT INTO outbox (seq, event_id, kind, payload, created_at) VALUES (8, 'e1', 'receipt_committed', '{}', 0);
             INSERT INTO outbox (seq, event_id, kind, payload, created_at) VALUES (9, 'e2', 'receipt_committed', '{}', 0);
             INSERT INTO outbox (seq, event_id, kind, payload, created_at) VALUES (10, 'e3', 'receipt_committed', '{}', 0);
             INSERT INTO ledger (customer_id, kind, points, reference, created_at, outbox_seq) VALUES ('c', 'accrual', 10, 'r1', 0, 8);
             INSERT INTO ledger (customer_id, kind, points, reference, created_at, outbox_seq) VALUES ('c', 'accrual', 20, 'r2', 0, 9);
             INSERT INTO ledger (customer_id, kind, points, reference, created_at, outbox_seq) VALUES ('c', 'accrual', 40, 'r3', 0, 10);
             INSERT INTO campaign_points (campaign_id, receipt_id, outbox_seq, points) VALUES ('beans', 'r2', 9, 50), ('beans', 'r3', 10, 50);
             INSERT INTO stamp_moves (outbox_seq, customer_id, campaign_id, change) VALUES (9, 'c', 'card', 2), (10, 'c', 'card', 3);
             INSERT INTO meta (key, value) VALUES ('sync_conflict', '10'), ('sync_cursor', '1.5');",
        )
        .unwrap();
    }

    fn rows(path: &std::path::Path, sql: &str) -> Vec<(String, i64)> {
        let conn = Connection::open(path).unwrap();
        let mut statement = conn.prepare(sql).unwrap();
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    /// Issue 12: a till reads a newer cloud's program (fields it does not know) instead of
    /// failing the pull, while the program file and the admin API still refuse such a field.
    #[tokio::test]
    async fn a_program_from_a_newer_cloud_is_read_while_the_file_and_the_admin_api_refuse_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("agent.db"), settings()).unwrap();
        let program = serde_json::json!({
            "accrual_percent": 7,
            "future_thing": 1,
            "campaigns": [{"id": "coffee-x2", "effect": {"points_multiplier": 2, "future_effect": {}}}]
        });
        let snapshot = crate::wire::ProgramSnapshot { version: 3, program, qr_key: None };
        let summary = store.apply_pull_page(vec![Change::Program(snapshot)], "1.1".into()).await.unwrap();
        let pulled = summary.program.expect("the pulled program is taken");
        assert_eq!((pulled.version, pulled.accrual_percent), (3, 7));
        assert_eq!(pulled.campaigns[0].effect.points_multiplier, Some(2));
        let stored = store.cloud_program().await.unwrap().expect("the stored program reads back at start-up");
        assert_eq!(stored, pulled);

        let file = crate::agent::program_file::parse_program("accrual_percent = 7\nfuture_thing = 1\n")
            .expect_err("the program file refuses an unknown field");
        assert!(file.contains("future_thing"), "{file}");
        let put = crate::http::extract::parse_json::<Program>(br#"{"accrual_percent": 7, "future_thing": 1}"#)
            .expect_err("the admin API refuses an unknown field");
        assert_eq!((put.status.as_u16(), put.code), (422, "invalid_field"));
        assert!(put.params.iter().any(|(name, value)| *name == "field" && value == "future_thing"), "{put:?}");
    }

    #[tokio::test]
    async fn renumbering_drops_what_the_cloud_holds_and_numbers_the_rest_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let store = Store::open(&path, settings()).unwrap();
        queue(&path);
        assert_eq!(store.sequence_conflict().await.unwrap(), Some(10));
        assert_eq!(store.outbox_event_ids().await.unwrap(), ["e1", "e2", "e3"]);

        // The cloud applied e2 already (under another number) and refused e1 for good.
        let known = vec![
            KnownEvent { event_id: "e2".into(), outcome: EventOutcome::Applied, code: None, message: None },
            KnownEvent {
                event_id: "e1".into(),
                outcome: EventOutcome::Rejected,
                code: Some("customer_not_found".into()),
                message: Some("no such customer".into()),
            },
        ];
        let report = store.renumber_outbox(known, 41, 1_000).await.unwrap();
        assert_eq!(
            report,
            Renumbered { already_held: 1, rejected: 1, renumbered: 1, first_seq: Some(42), last_seq: 42 }
        );
        assert_eq!(rows(&path, "SELECT event_id, seq FROM outbox"), [("e3".to_owned(), 42)]);
        // e3's entry follows it; the entries of events that left the outbox count as included.
        assert_eq!(
            rows(&path, "SELECT reference, outbox_seq FROM ledger ORDER BY seq"),
            [("acked".to_owned(), 0), ("r1".to_owned(), 0), ("r2".to_owned(), 0), ("r3".to_owned(), 42)]
        );
        // Campaign points and stamp moves follow their events the same way.
        assert_eq!(
            rows(&path, "SELECT receipt_id, outbox_seq FROM campaign_points ORDER BY receipt_id"),
            [("r2".to_owned(), 0), ("r3".to_owned(), 42)]
        );
        assert_eq!(
            rows(&path, "SELECT campaign_id, outbox_seq FROM stamp_moves ORDER BY change"),
            [("card".to_owned(), 0), ("card".to_owned(), 42)]
        );
        assert_eq!(rows(&path, "SELECT event_id, length(code) FROM sync_rejections"), [("e1".to_owned(), 18)]);
        assert_eq!(store.sequence_conflict().await.unwrap(), None);
        assert_eq!(store.sync_cursor().await.unwrap(), None, "the next pull starts from the beginning");

        // The next event takes the number after the last.
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO outbox (event_id, kind, payload, created_at) VALUES ('next', 'receipt_committed', '{}', 0)",
            [],
        )
        .unwrap();
        let next = conn.last_insert_rowid();
        assert_eq!(next, 43);
    }

    #[tokio::test]
    async fn renumbering_an_empty_outbox_makes_the_next_event_follow_the_cloud() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let store = Store::open(&path, settings()).unwrap();
        let report = store.renumber_outbox(Vec::new(), 500, 0).await.unwrap();
        assert_eq!(report, Renumbered { last_seq: 500, ..Renumbered::default() });
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO outbox (event_id, kind, payload, created_at) VALUES ('next', 'receipt_committed', '{}', 0)",
            [],
        )
        .unwrap();
        let next = conn.last_insert_rowid();
        assert_eq!(next, 501);
    }
}
