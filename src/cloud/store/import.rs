//! The chain's bulk import (`loyalty-cloud customers import`): one batch of rows, already
//! normalised by [`crate::csv_import`], in one transaction.
//!
//! Each imported customer gets a UUIDv7 id (time-ordered, so the primary-key index grows at
//! its right edge instead of being written all over), a card number when the row has none,
//! a feed row (so every till pulls them), `customer_created` webhook deliveries when someone
//! subscribed, and — with points — a point lot, a journal entry and a balance feed row.
//! Imported points are carried over as they were in the old system: spendable at once, no
//! expiry, no welcome bonus.
//!
//! Speed comes from multi-row statements (hundreds of rows each) rather than one statement per
//! row; `ON CONFLICT DO NOTHING … RETURNING id` tells which rows were stored, so a phone, card
//! or email that is already taken is reported for that row without aborting the batch (which
//! PostgreSQL would otherwise do on the first unique violation).

use std::collections::HashSet;
use std::sync::Arc;

use super::{customers, webhooks, CloudError, Store, StoreSettings};
use crate::clock::rfc3339;
use crate::cloud::db::{Sql, Value};
use crate::csv_import::{ImportRow, RejectedRow};
use crate::identity;
use crate::vals;
use crate::wire::{CustomerCreatedData, CustomerSnapshot, PointsBalance, WebhookEventType};

/// Rows per statement: 500 × 6 placeholders stays far below both databases' limits.
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Imports a batch in one transaction; answers the rows it had to skip, and why.
    pub async fn import_customers(&self, rows: Vec<ImportRow>, at: i64) -> Result<Vec<RejectedRow>, CloudError> {
        let settings = self.settings().clone();
        // The use case may run again after a retryable failure, so it borrows the rows.
        let rows = Arc::new(rows);
        self.write(move |sql| import_batch(sql, &settings, &rows, at)).await
    }
}

fn import_batch(
    sql: &mut dyn Sql,
    settings: &StoreSettings,
    rows: &[ImportRow],
    at: i64,
) -> Result<Vec<RejectedRow>, CloudError> {
    if sql.dialect() == crate::cloud::db::Dialect::Sqlite {
        // A 64 MB page cache keeps the unique indexes' pages (phone, email and card land all
        // over them) in memory between batches. Only the import command's own connection gets
        // it; a serving cloud keeps SQLite's small default.
        sql.execute("PRAGMA cache_size = -65536", &[])?;
    }
    let cards = assign_cards(sql, settings, rows)?;
    let ids: Vec<String> = rows.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect();

    let mut stored = HashSet::with_capacity(rows.len());
    for start in (0..rows.len()).step_by(ROWS_PER_STATEMENT) {
        let end = (start + ROWS_PER_STATEMENT).min(rows.len());
        let mut statement = String::from(
            "INSERT INTO customers (id, phone, name, email, card, created_at, updated_at, source) VALUES ",
        );
        let mut params = Vec::with_capacity((end - start) * 6);
        for i in start..end {
            let n = params.len();
            if i > start {
                statement.push_str(", ");
            }
            statement.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, 'import')",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 6
            ));
            params.extend([
                Value::from(&ids[i]),
                Value::from(&rows[i].phone),
                Value::from(rows[i].name.clone()),
                Value::from(rows[i].email.clone()),
                Value::from(&cards[i]),
                Value::Int(at),
            ]);
        }
        statement.push_str(" ON CONFLICT DO NOTHING RETURNING id");
        for row in sql.query(&statement, &params)? {
            stored.insert(row.text(0)?);
        }
    }

    let mut rejected = Vec::new();
    let mut points = Vec::new();
    let mut new_ids = Vec::with_capacity(stored.len());
    for (i, row) in rows.iter().enumerate() {
        if stored.contains(&ids[i]) {
            new_ids.push(ids[i].as_str());
            if row.points > 0 {
                points.push((ids[i].as_str(), row.points));
            }
        } else {
            rejected.push(why_not_stored(sql, row, &cards[i])?);
        }
    }
    credit_points(sql, &points, at)?;
    announce(sql, rows, &ids, &cards, &stored, at)?;
    super::publish_new_customers(sql, &new_ids, &points.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
    Ok(rejected)
}

/// The card of every row: its own, or the next free number of the cloud's series. The serial
/// row is locked (PostgreSQL) so a concurrent admin creation cannot take the same numbers.
fn assign_cards(sql: &mut dyn Sql, settings: &StoreSettings, rows: &[ImportRow]) -> Result<Vec<String>, CloudError> {
    sql.execute("INSERT INTO meta (key, value) VALUES ('card_serial', '0') ON CONFLICT (key) DO NOTHING", &[])?;
    let row =
        sql.query_one(&format!("SELECT value FROM meta WHERE key = 'card_serial'{}", sql.dialect().for_update()), &[])?;
    let mut serial: u64 = row.text(0)?.parse().unwrap_or(0);
    let mut cards: Vec<String> = rows.iter().map(|row| row.card.clone().unwrap_or_default()).collect();
    let mut need: Vec<usize> = rows.iter().enumerate().filter(|(_, row)| row.card.is_none()).map(|(i, _)| i).collect();
    // Numbers of the series can be taken already (a card given in an earlier file): draw
    // candidates for every row still without one, keep the free ones, draw again for the rest.
    while !need.is_empty() {
        let candidates: Vec<(usize, String)> = need
            .iter()
            .map(|&i| {
                serial += 1;
                (i, identity::card_number(&settings.card_prefix, serial, 8))
            })
            .collect();
        let taken = taken_cards(sql, candidates.iter().map(|(_, card)| card.as_str()))?;
        need = Vec::new();
        for (i, card) in candidates {
            if taken.contains(&card) {
                need.push(i);
            } else {
                cards[i] = card;
            }
        }
    }
    sql.execute("UPDATE meta SET value = $1 WHERE key = 'card_serial'", vals![serial.to_string()])?;
    Ok(cards)
}

fn taken_cards<'a>(sql: &mut dyn Sql, cards: impl Iterator<Item = &'a str>) -> Result<HashSet<String>, CloudError> {
    let cards: Vec<&str> = cards.collect();
    let mut taken = HashSet::new();
    for chunk in cards.chunks(ROWS_PER_STATEMENT) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let statement = format!("SELECT card FROM customers WHERE card IN ({})", placeholders.join(", "));
        let params: Vec<Value> = chunk.iter().map(|card| Value::from(*card)).collect();
        for row in sql.query(&statement, &params)? {
            taken.insert(row.text(0)?);
        }
    }
    Ok(taken)
}

/// Why a row was not stored: which of its identifiers someone already holds (perhaps a row
/// earlier in the same file).
fn why_not_stored(sql: &mut dyn Sql, row: &ImportRow, card: &str) -> Result<RejectedRow, CloudError> {
    let field = if customers::holder(sql, "phone", &row.phone, None)?.is_some() {
        "phone"
    } else if customers::holder(sql, "card", card, None)?.is_some() {
        "card"
    } else if let Some(email) = &row.email {
        if customers::holder(sql, "email", email, None)?.is_some() {
            "email"
        } else {
            return Ok(RejectedRow::duplicate(row.line));
        }
    } else {
        return Ok(RejectedRow::duplicate(row.line));
    };
    Ok(RejectedRow::taken(row.line, field))
}

/// A point lot and a journal entry per customer imported with points.
fn credit_points(sql: &mut dyn Sql, points: &[(&str, i64)], at: i64) -> Result<(), CloudError> {
    for chunk in points.chunks(ROWS_PER_STATEMENT) {
        let mut lots =
            String::from("INSERT INTO point_lots (customer_id, source, points, remaining, activates_at) VALUES ");
        let mut journal = String::from("INSERT INTO ledger (customer_id, kind, points, reference, created_at) VALUES ");
        let mut params = Vec::with_capacity(chunk.len() * 3);
        for (i, (id, points)) in chunk.iter().enumerate() {
            let n = params.len();
            let separator = if i > 0 { ", " } else { "" };
            lots.push_str(&format!("{separator}(${}, 'import', ${}, ${}, ${})", n + 1, n + 2, n + 2, n + 3));
            journal.push_str(&format!("{separator}(${}, 'import', ${}, 'import', ${})", n + 1, n + 2, n + 3));
            params.extend([Value::from(*id), Value::Int(*points), Value::Int(at)]);
        }
        sql.execute(&lots, &params)?;
        sql.execute(&journal, &params)?;
        let mut moves = Vec::with_capacity(chunk.len() * 6);
        for (id, points) in chunk {
            moves.extend_from_slice(crate::vals![*id, "lot", *points, at, None::<i64>, at]);
        }
        crate::cloud::ledger::write_moves(sql, &moves)?;
    }
    Ok(())
}

/// A `customer_created` delivery per imported customer for each webhook subscribed to it
/// (nothing is built when there is none: most imports happen before anyone subscribes).
fn announce(
    sql: &mut dyn Sql,
    rows: &[ImportRow],
    ids: &[String],
    cards: &[String],
    stored: &HashSet<String>,
    at: i64,
) -> Result<(), CloudError> {
    let hooks = webhooks::subscribers(sql, WebhookEventType::CustomerCreated)?;
    if hooks.is_empty() {
        return Ok(());
    }
    for (i, row) in rows.iter().enumerate().filter(|(i, _)| stored.contains(&ids[*i])) {
        let data = CustomerCreatedData {
            customer: CustomerSnapshot {
                id: ids[i].clone(),
                phone: row.phone.clone(),
                name: row.name.clone(),
                email: row.email.clone(),
                card: cards[i].clone(),
                birthday: None,
                tags: Vec::new(),
                consents: Default::default(),
                external_id: None,
                updated_at: rfc3339(at),
                code_secret: None,
            },
            points: PointsBalance { balance: row.points, available: row.points, pending: 0 },
            source: "import".into(),
        };
        let data = serde_json::to_value(data)?;
        for hook in &hooks {
            webhooks::insert_delivery(sql, hook, WebhookEventType::CustomerCreated, data.clone(), at)?;
        }
    }
    Ok(())
}
