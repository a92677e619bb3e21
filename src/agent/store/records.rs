//! Rows as the rest of the agent sees them, and the mapping between rows and rules types.

use rusqlite::{Connection, OptionalExtension, Row};

use super::{StoreError, StoreSettings};
use crate::identity::CustomerProfile;
use crate::rules::{Lot, LotSource, Money, Wallet};

/// A customer of the local directory, with their points.
#[derive(Debug, Clone)]
pub struct CustomerRecord {
    pub profile: CustomerProfile,
    /// The local lots: the authority in standalone mode.
    pub wallet: Wallet,
    /// Connected to a cloud: the cloud's balance and the local movements after it.
    pub connected: Option<super::points::ConnectedPoints>,
}

/// The profile's fields read (and written) through the record, as `customer.phone`: the
/// record *is* a profile with points attached.
impl std::ops::Deref for CustomerRecord {
    type Target = CustomerProfile;
    fn deref(&self) -> &CustomerProfile {
        &self.profile
    }
}

impl std::ops::DerefMut for CustomerRecord {
    fn deref_mut(&mut self) -> &mut CustomerProfile {
        &mut self.profile
    }
}

/// What a search found and how.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    pub matched_by: Option<&'static str>,
    pub customers: Vec<CustomerRecord>,
}

pub(crate) const CUSTOMER_COLUMNS: &str =
    "id, phone, name, email, card, birthday, tags, consents, paid_total, created_at, updated_at, debt";

/// Maps a row selected with [`CUSTOMER_COLUMNS`]; the wallet's lots are loaded separately.
pub(crate) fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<CustomerRecord> {
    let tags: String = row.get(6)?;
    let consents: String = row.get(7)?;
    Ok(CustomerRecord {
        profile: CustomerProfile {
            id: row.get(0)?,
            phone: row.get(1)?,
            name: row.get(2)?,
            email: row.get(3)?,
            card: row.get(4)?,
            birthday: row.get(5)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            consents: serde_json::from_str(&consents).unwrap_or_default(),
            paid_total: Money(row.get(8)?),
            created_at: row.get(9)?,
            updated_at: row.get(10)?,
        },
        wallet: Wallet { lots: Vec::new(), debt: row.get(11)? },
        connected: None,
    })
}

/// Loads one customer by a unique column (`id`, `phone`, `card`, `email`), lots included.
pub(crate) fn load_customer_by(
    conn: &Connection,
    settings: &StoreSettings,
    column: &str,
    value: &str,
) -> Result<Option<CustomerRecord>, StoreError> {
    // `column` is always one of our own constants, never input.
    let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE {column} = ?1");
    let found = conn.prepare_cached(&sql)?.query_row([value], customer_from_row).optional()?;
    // An id the cloud merged into another customer still answers, as that customer.
    let found = match found {
        None if column == "id" => {
            let target: Option<String> = conn
                .prepare_cached("SELECT customer_id FROM customer_aliases WHERE alias = ?1")?
                .query_row([value], |row| row.get(0))
                .optional()?;
            match target {
                Some(target) => conn.prepare_cached(&sql)?.query_row([&target], customer_from_row).optional()?,
                None => None,
            }
        }
        found => found,
    };
    match found {
        Some(mut customer) => {
            load_points(conn, settings, &mut customer)?;
            Ok(Some(customer))
        }
        None => Ok(None),
    }
}

/// Loads what the customer's points are computed from: the lots, and in connected mode the
/// cloud's balance with the local movements after it.
pub(crate) fn load_points(
    conn: &Connection,
    settings: &StoreSettings,
    customer: &mut CustomerRecord,
) -> Result<(), StoreError> {
    customer.wallet.lots = load_lots(conn, &customer.id)?;
    if settings.connected {
        customer.connected = Some(super::points::load_connected(conn, &customer.id)?);
    }
    Ok(())
}

/// The customer's lots that still hold points, oldest first.
///
/// Ordered here, not with `ORDER BY`: SQLite re-plans a statement that has `ORDER BY` or
/// `GROUP BY` and an equality on a bound value every time the value changes, which cost more
/// than the rest of a lookup (issue 9).
pub(crate) fn load_lots(conn: &Connection, customer_id: &str) -> Result<Vec<Lot>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, source, receipt_id, points, remaining, activates_at, expires_at
         FROM point_lots WHERE customer_id = ?1 AND remaining > 0",
    )?;
    let mut lots = stmt
        .query_map([customer_id], |row| {
            let source: String = row.get(1)?;
            Ok(Lot {
                id: row.get(0)?,
                source: lot_source_from_str(&source),
                receipt_id: row.get(2)?,
                points: row.get(3)?,
                remaining: row.get(4)?,
                activates_at: row.get(5)?,
                expires_at: row.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<Lot>>>()?;
    lots.sort_unstable_by_key(|lot| lot.id);
    Ok(lots)
}

/// Writes back a wallet changed by the rules: updated remainders, new lots, the debt.
pub(crate) fn save_wallet(
    conn: &Connection,
    customer_id: &str,
    before: &Wallet,
    after: &Wallet,
) -> Result<(), StoreError> {
    for lot in &after.lots {
        if lot.id == 0 {
            conn.prepare_cached(
                "INSERT INTO point_lots (customer_id, source, receipt_id, points, remaining, activates_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(rusqlite::params![
                customer_id,
                lot_source_str(lot.source),
                lot.receipt_id,
                lot.points,
                lot.remaining,
                lot.activates_at,
                lot.expires_at
            ])?;
        } else if before.lots.iter().any(|old| old.id == lot.id && old.remaining != lot.remaining) {
            conn.prepare_cached("UPDATE point_lots SET remaining = ?1 WHERE id = ?2")?
                .execute(rusqlite::params![lot.remaining, lot.id])?;
        }
    }
    if before.debt != after.debt {
        conn.prepare_cached("UPDATE customers SET debt = ?1 WHERE id = ?2")?
            .execute(rusqlite::params![after.debt, customer_id])?;
    }
    Ok(())
}

/// One movement of points, as the journal records it.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    pub customer_id: &'a str,
    /// welcome | accrual | redemption | adjustment | return_accrual | return_redemption
    pub kind: &'static str,
    pub points: i64,
    /// The receipt, return or adjustment id.
    pub reference: &'a str,
    /// When earned points become spendable (accruals only).
    pub activates_at: Option<i64>,
}

/// Appends movements to the points journal, tagged with the outbox event that carries them
/// (zero movements are skipped).
pub(crate) fn journal(conn: &Connection, entries: &[Entry<'_>], outbox_seq: i64, now: i64) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO ledger (customer_id, kind, points, reference, created_at, outbox_seq, activates_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for entry in entries.iter().filter(|e| e.points != 0) {
        insert.execute(rusqlite::params![
            entry.customer_id,
            entry.kind,
            entry.points,
            entry.reference,
            now,
            outbox_seq,
            entry.activates_at
        ])?;
    }
    Ok(())
}

/// Queues an event for the cloud inside the caller's transaction and returns its `seq`.
pub(crate) fn enqueue(conn: &Connection, payload: &crate::wire::EventPayload, now: i64) -> Result<i64, StoreError> {
    conn.prepare_cached("INSERT INTO outbox (event_id, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4)")?.execute(
        rusqlite::params![
            uuid::Uuid::now_v7().to_string(),
            payload.kind().as_str(),
            payload.to_json()?.to_string(),
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

fn lot_source_str(source: LotSource) -> &'static str {
    match source {
        LotSource::Welcome => "welcome",
        LotSource::Accrual => "accrual",
        LotSource::Adjustment => "adjustment",
        LotSource::ReturnRefund => "return_refund",
        LotSource::Import => "import",
        LotSource::Birthday => "birthday",
        LotSource::Referral => "referral",
    }
}

fn lot_source_from_str(text: &str) -> LotSource {
    match text {
        "welcome" => LotSource::Welcome,
        "accrual" => LotSource::Accrual,
        "return_refund" => LotSource::ReturnRefund,
        "import" => LotSource::Import,
        "birthday" => LotSource::Birthday,
        "referral" => LotSource::Referral,
        _ => LotSource::Adjustment,
    }
}
