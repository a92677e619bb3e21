//! A standalone till's gift cards (`crate::gift_cards` has their rules): issued, listed, read
//! and voided with the agent token, looked up and paid with by MoySklad sales, whose payments
//! are taken in the sale's own transaction (`receipts.rs`, [`take_payments`]).
//!
//! A connected till keeps no cards: they live in the cloud, which takes a sale's payments
//! online before the till records the sale; the till then only records them
//! ([`record_payments`]).

use super::Missing;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{Store, StoreError};
use crate::clock::rfc3339;
use crate::gift_cards::{self, Card, Payment, Refusal};
use crate::wire::{GiftCardIssue, GiftCardPaymentView, GiftCardView};

const COLUMNS: &str = "id, number, initial, balance, expires_at, voided_at, created_at";
/// The most cards a list answers.
const LIST_LIMIT: i64 = 1000;

fn card_of(row: &Row<'_>) -> rusqlite::Result<Card> {
    Ok(Card {
        id: row.get(0)?,
        number: row.get(1)?,
        initial: row.get(2)?,
        balance: row.get(3)?,
        expires_at: row.get(4)?,
        voided_at: row.get(5)?,
        created_at: row.get(6)?,
    })
}

pub(crate) fn refused(refusal: Refusal) -> StoreError {
    StoreError::InvalidWith { code: refusal.code, message: refusal.message, params: refusal.values }
}

/// A card by its id or (normalised) number.
fn load(conn: &Connection, key: &str) -> Result<Option<Card>, StoreError> {
    let number = gift_cards::normalize_number(key).unwrap_or_default();
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM gift_cards WHERE id = ?1 OR number = ?2"))?
        .query_row(params![key, number], card_of)
        .optional()?)
}

/// The payments recorded for a sale, as `gift_cards::merge_payments` orders them.
pub(crate) fn stored_payments(conn: &Connection, receipt_id: &str) -> Result<Vec<Payment>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT number, amount FROM gift_card_payments WHERE receipt_id = ?1 ORDER BY number")?
        .query_map([receipt_id], |row| Ok(Payment { number: row.get(0)?, amount: row.get(1)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Takes a new sale's payments from this till's own cards, inside the sale's transaction (the
/// writer connection, so no other sale can spend the same card meanwhile). A card that is
/// unknown, void, expired, used up or short refuses the sale; the transaction then rolls back.
pub(crate) fn take_payments(
    conn: &Connection,
    receipt_id: &str,
    payments: &[Payment],
    now: i64,
) -> Result<(), StoreError> {
    for payment in payments {
        let card = load(conn, &payment.number)?.ok_or_else(|| refused(Refusal::unknown(&payment.number)))?;
        card.check_payment(payment.amount, now).map_err(refused)?;
        conn.prepare_cached("UPDATE gift_cards SET balance = balance - ?1 WHERE id = ?2")?
            .execute(params![payment.amount, card.id])?;
        insert_payment(conn, receipt_id, payment, &card.id, now)?;
    }
    Ok(())
}

/// Records payments the cloud already took (a connected till), with the cloud's card ids.
pub(crate) fn record_payments(
    conn: &Connection,
    receipt_id: &str,
    payments: &[(Payment, String)],
    now: i64,
) -> Result<(), StoreError> {
    for (payment, card_id) in payments {
        insert_payment(conn, receipt_id, payment, card_id, now)?;
    }
    Ok(())
}

fn insert_payment(
    conn: &Connection,
    receipt_id: &str,
    payment: &Payment,
    card_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO gift_card_payments (receipt_id, number, card_id, amount, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![receipt_id, payment.number, card_id, payment.amount, now])?;
    Ok(())
}

fn connected_refusal() -> StoreError {
    StoreError::Invalid {
        code: "connected_mode",
        message: "this till is connected to a cloud, which keeps the gift cards; issue and void them with the cloud's admin API (/v1/admin/gift-cards)".into(),
    }
}

impl Store {
    /// Issues a card on a standalone till; its number is generated (a Luhn number, prefix
    /// 2970) unless given.
    pub async fn gift_card_issue(&self, request: GiftCardIssue, now: i64) -> Result<GiftCardView, StoreError> {
        let (number, amount, expires_at) =
            gift_cards::check_issue(request.number.as_deref(), request.amount, request.expires_at.as_deref(), now)
                .map_err(refused)?;
        self.write(move |conn, settings| {
            if settings.connected {
                return Err(connected_refusal());
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let number = match number {
                Some(number) => {
                    if load(&tx, &number)?.is_some() {
                        return Err(StoreError::ConflictWith {
                            code: "gift_card_taken",
                            message: format!("a gift card numbered {number} exists already"),
                            params: vec![("number", number.clone())],
                        });
                    }
                    number
                }
                None => loop {
                    let candidate = gift_cards::generate_number(gift_cards::AGENT_PREFIX, &mut rand::rng());
                    if load(&tx, &candidate)?.is_none() {
                        break candidate;
                    }
                },
            };
            let card = Card {
                id: uuid::Uuid::new_v4().to_string(),
                number,
                initial: amount,
                balance: amount,
                expires_at,
                voided_at: None,
                created_at: now,
            };
            tx.execute(
                &format!("INSERT INTO gift_cards ({COLUMNS}) VALUES (?1, ?2, ?3, ?3, ?4, NULL, ?5)"),
                params![card.id, card.number, amount, expires_at, now],
            )?;
            tx.commit()?;
            Ok(GiftCardView::of(&card, now, Vec::new()))
        })
        .await
    }

    /// The newest cards first.
    pub async fn gift_cards(&self, now: i64) -> Result<Vec<GiftCardView>, StoreError> {
        self.read(move |conn, _| {
            let cards = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM gift_cards ORDER BY created_at DESC, rowid DESC LIMIT ?1"
                ))?
                .query_map([LIST_LIMIT], card_of)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(cards.iter().map(|card| GiftCardView::of(card, now, Vec::new())).collect())
        })
        .await
    }

    /// A card by id or number, with the sales paid with it.
    pub async fn gift_card(&self, key: String, now: i64) -> Result<GiftCardView, StoreError> {
        self.read(move |conn, _| {
            let card = load(conn, &key)?.ok_or_else(|| StoreError::NotFound(Missing::GiftCard(key.clone())))?;
            let payments = conn
                .prepare_cached(
                    "SELECT receipt_id, amount, created_at FROM gift_card_payments WHERE card_id = ?1
                     ORDER BY created_at, rowid",
                )?
                .query_map([&card.id], |row| {
                    Ok(GiftCardPaymentView {
                        till_id: None,
                        receipt_id: row.get(0)?,
                        amount: row.get(1)?,
                        at: rfc3339(row.get(2)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(GiftCardView::of(&card, now, payments))
        })
        .await
    }

    /// Voids a card for good (voiding it again changes nothing).
    pub async fn gift_card_void(&self, key: String, now: i64) -> Result<GiftCardView, StoreError> {
        self.write(move |conn, settings| {
            if settings.connected {
                return Err(connected_refusal());
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut card = load(&tx, &key)?.ok_or_else(|| StoreError::NotFound(Missing::GiftCard(key.clone())))?;
            if card.voided_at.is_none() {
                tx.execute("UPDATE gift_cards SET voided_at = ?1 WHERE id = ?2", params![now, card.id])?;
                card.voided_at = Some(now);
            }
            tx.commit()?;
            Ok(GiftCardView::of(&card, now, Vec::new()))
        })
        .await
    }

    /// A card of this till by its number (MoySklad's lookup on a standalone till).
    pub async fn gift_card_by_number(&self, number: String) -> Result<Option<Card>, StoreError> {
        let Some(number) = gift_cards::normalize_number(&number) else { return Ok(None) };
        self.read(move |conn, _| {
            Ok(conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM gift_cards WHERE number = ?1"))?
                .query_row([number], card_of)
                .optional()?)
        })
        .await
    }

    /// Whether a receipt with this id is stored (a sale sent again need not ask the cloud to
    /// take its gift card payments a second time).
    pub async fn receipt_exists(&self, id: String) -> Result<bool, StoreError> {
        self.read(move |conn, _| Ok(conn.prepare_cached("SELECT 1 FROM receipts WHERE id = ?1")?.exists([id])?)).await
    }
}
