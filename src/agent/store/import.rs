//! Bulk import of customers (`loyalty-agent customers import`): batches of rows, each batch one
//! transaction, each bad row reported and skipped without losing the good ones.
//!
//! Rows arrive already normalised by [`crate::csv_import`], which parses phones and emails
//! while the previous batch is being written; this module assigns cards and enforces uniqueness.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::customers::reversed_digits;
use super::{Store, StoreError};
pub use crate::csv_import::{ImportRow, RejectedRow};
use crate::identity;

impl Store {
    /// Imports a batch in one transaction; returns the rows it had to skip.
    pub async fn import_customers(&self, rows: Vec<ImportRow>, now: i64) -> Result<Vec<RejectedRow>, StoreError> {
        self.write(move |conn, settings| {
            // A bigger page cache for the bulk load keeps the unique indexes' pages in memory
            // between batches; the running agent keeps SQLite's small default.
            conn.pragma_update(None, "cache_size", -65_536)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut serial: u64 = tx
                .query_row("SELECT value FROM meta WHERE key = 'card_serial'", [], |row| row.get::<_, String>(0))
                .optional()?
                .and_then(|text| text.parse().ok())
                .unwrap_or(0);
            let mut rejected = Vec::new();
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO customers (id, phone, phone_rev, name, email, card, consents, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, '{}', ?7, ?7)",
                )?;
                let mut card_taken = tx.prepare_cached("SELECT 1 FROM customers WHERE card = ?1")?;
                let mut lot = tx.prepare_cached(
                    "INSERT INTO point_lots (customer_id, source, points, remaining, activates_at) VALUES (?1, 'import', ?2, ?2, ?3)",
                )?;
                let mut journal =
                    tx.prepare_cached("INSERT INTO ledger (customer_id, kind, points, reference, created_at) VALUES (?1, 'import', ?2, 'import', ?3)")?;
                for row in rows {
                    let card = match row.card {
                        Some(card) => card,
                        None => loop {
                            serial += 1;
                            let card = identity::card_number(&settings.card_prefix, serial, 8);
                            if !card_taken.exists([&card])? {
                                break card;
                            }
                        },
                    };
                    let (phone, email) = (row.phone, row.email);
                    let id = uuid::Uuid::now_v7().to_string();
                    let name = row.name.as_deref().map(str::trim).filter(|n| !n.is_empty() && n.chars().count() <= 200);
                    match insert.execute(params![id, phone, reversed_digits(&phone), name, email, card, now]) {
                        Ok(_) => {}
                        Err(rusqlite::Error::SqliteFailure(e, message)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                            let what = message.unwrap_or_default();
                            let field = ["phone", "email", "card"].into_iter().find(|f| what.contains(&format!("customers.{f}")));
                            rejected.push(match field {
                                Some(field) => RejectedRow::taken(row.line, field),
                                None => RejectedRow::duplicate(row.line),
                            });
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                    if row.points > 0 {
                        lot.execute(params![id, row.points, now])?;
                        journal.execute(params![id, row.points, now])?;
                    }
                }
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('card_serial', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [serial.to_string()],
            )?;
            tx.commit()?;
            conn.pragma_update(None, "cache_size", -2_000)?;
            Ok(rejected)
        })
        .await
    }
}
