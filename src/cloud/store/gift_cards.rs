//! The cloud's gift cards (`crate::gift_cards` has their rules): issued, listed, read and voided
//! by the office; looked up and paid with by MoySklad sales (`moysklad_ledger.rs`, in the sale's
//! own transaction) and by connected tills online (`/v1/sync/gift-cards/…`).
//!
//! Invariant: a card's balance only goes down, through [`take_payments`], which locks the card
//! row, checks the payment against it and writes one `gift_card_payments` row per (till, sale,
//! card) in the same transaction; a sale booked again finds its rows and takes nothing.

use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{CloudError, Store};
use crate::clock::{now, rfc3339};
use crate::cloud::db::{Row, Sql};
use crate::gift_cards::{self, Card, Payment, Refusal};
use crate::vals;
use crate::wire::{GiftCardIssue, GiftCardPaymentView, GiftCardView};

const COLUMNS: &str = "id, number, initial, balance, expires_at, voided_at, created_at";

fn card_of(row: &Row) -> Result<Card, CloudError> {
    Ok(Card {
        id: row.text(0)?,
        number: row.text(1)?,
        initial: row.int(2)?,
        balance: row.int(3)?,
        expires_at: row.opt_int(4)?,
        voided_at: row.opt_int(5)?,
        created_at: row.int(6)?,
    })
}

pub(crate) fn refused(refusal: Refusal) -> CloudError {
    CloudError::InvalidWith { code: refusal.code, message: refusal.message, params: refusal.values }
}

/// A card by its id or (normalised) number.
fn load(sql: &mut dyn Sql, key: &str, lock: bool) -> Result<Option<Card>, CloudError> {
    let number = gift_cards::normalize_number(key).unwrap_or_default();
    let lock = if lock { sql.dialect().for_update() } else { "" };
    let row = sql.query_opt(
        &format!("SELECT {COLUMNS} FROM gift_cards WHERE id = $1 OR number = $2{lock}"),
        vals![key, &number],
    )?;
    row.as_ref().map(card_of).transpose()
}

/// The payments already taken for a till's sale, as [`gift_cards::merge_payments`] orders them.
fn stored_payments(sql: &mut dyn Sql, till_id: &str, receipt_id: &str) -> Result<Vec<Payment>, CloudError> {
    let rows = sql.query(
        "SELECT c.number, p.amount FROM gift_card_payments p JOIN gift_cards c ON c.id = p.card_id
         WHERE p.till_id = $1 AND p.receipt_id = $2 ORDER BY c.number",
        vals![till_id, receipt_id],
    )?;
    rows.iter().map(|row| Ok(Payment { number: row.text(0)?, amount: row.int(1)? })).collect()
}

/// Takes a sale's gift card payments, inside the caller's transaction. The same payments for
/// the same sale again take nothing (they were taken); other payments under that sale are a
/// `receipt_conflict`. A card that is unknown, void, expired, used up or short refuses the
/// whole sale (`gift_card_*`), and the caller's transaction then rolls back. Answers the cards
/// after the payments.
pub(crate) fn take_payments(
    sql: &mut dyn Sql,
    till_id: &str,
    receipt_id: &str,
    payments: &[Payment],
    at: i64,
) -> Result<Vec<Card>, CloudError> {
    let merged = gift_cards::merge_payments(payments).map_err(refused)?;
    let stored = stored_payments(sql, till_id, receipt_id)?;
    if !stored.is_empty() || merged.is_empty() {
        if stored != merged {
            return Err(CloudError::Conflict {
                code: "receipt_conflict",
                message: format!("sale {receipt_id} was already paid with other gift cards or other sums"),
            });
        }
        let mut cards = Vec::with_capacity(stored.len());
        for payment in &stored {
            cards.extend(load(sql, &payment.number, false)?);
        }
        return Ok(cards);
    }
    let mut cards = Vec::with_capacity(merged.len());
    for payment in &merged {
        let mut card = load(sql, &payment.number, true)?.ok_or_else(|| refused(Refusal::unknown(&payment.number)))?;
        card.check_payment(payment.amount, at).map_err(refused)?;
        sql.execute("UPDATE gift_cards SET balance = balance - $1 WHERE id = $2", vals![payment.amount, &card.id])?;
        sql.execute(
            "INSERT INTO gift_card_payments (till_id, receipt_id, card_id, amount, created_at) VALUES ($1, $2, $3, $4, $5)",
            vals![till_id, receipt_id, &card.id, payment.amount, at],
        )?;
        card.balance -= payment.amount;
        cards.push(card);
    }
    Ok(cards)
}

/// Whether a sale's stored payments are exactly these (the check a sale sent again passes).
pub(crate) fn same_payments(
    sql: &mut dyn Sql,
    till_id: &str,
    receipt_id: &str,
    payments: &[Payment],
) -> Result<bool, CloudError> {
    let merged = gift_cards::merge_payments(payments).map_err(refused)?;
    Ok(stored_payments(sql, till_id, receipt_id)? == merged)
}

impl Store {
    /// Issues a card; its number is generated (a Luhn number, prefix 2999) unless given.
    pub async fn gift_card_issue(&self, request: GiftCardIssue) -> Result<GiftCardView, CloudError> {
        let at = now();
        let (number, amount, expires_at) =
            gift_cards::check_issue(request.number.as_deref(), request.amount, request.expires_at.as_deref(), at)
                .map_err(refused)?;
        // Time-ordered, so the list's order holds among cards issued in the same second.
        let id = uuid::Uuid::now_v7().to_string();
        let card = self
            .write(move |sql| {
                let number = match &number {
                    Some(number) => {
                        if load(sql, number, false)?.is_some() {
                            return Err(CloudError::ConflictWith {
                                code: "gift_card_taken",
                                message: format!("a gift card numbered {number} exists already"),
                                params: vec![("number", number.clone())],
                            });
                        }
                        number.clone()
                    }
                    None => loop {
                        let candidate = gift_cards::generate_number(gift_cards::CLOUD_PREFIX, &mut rand::rng());
                        if load(sql, &candidate, false)?.is_none() {
                            break candidate;
                        }
                    },
                };
                sql.execute(
                    &format!("INSERT INTO gift_cards ({COLUMNS}) VALUES ($1, $2, $3, $3, $4, NULL, $5)"),
                    vals![&id, &number, amount, expires_at, at],
                )?;
                Ok(Card {
                    id: id.clone(),
                    number,
                    initial: amount,
                    balance: amount,
                    expires_at,
                    voided_at: None,
                    created_at: at,
                })
            })
            .await?;
        tracing::info!(card = %card.id, amount = card.initial, "gift card issued");
        Ok(GiftCardView::of(&card, at, Vec::new()))
    }

    /// A page of cards, newest first (in the order they were issued, `list_order`): a card
    /// issued during a walk belongs to the next one.
    pub async fn gift_cards(&self, page: Page) -> Result<Paged<GiftCardView>, CloudError> {
        let at = now();
        self.read(move |sql| {
            let after = page.key("gift_cards", &[KeyPart::Int])?;
            let mut query = PageQuery::new();
            query.after(&["list_order"], after, true);
            let clauses = query.clauses("list_order DESC", page.fetch());
            let rows = sql.query(&format!("SELECT {COLUMNS}, list_order FROM gift_cards{clauses}"), &query.params)?;
            page.finish("gift_cards", rows, |row| key_columns(row, &[7]))
                .try_map(|row| Ok(GiftCardView::of(&card_of(&row)?, at, Vec::new())))
        })
        .await
    }

    /// A card by id or number, with the sales paid with it.
    pub async fn gift_card(&self, key: String) -> Result<GiftCardView, CloudError> {
        let at = now();
        self.read(move |sql| {
            let card =
                load(sql, &key, false)?.ok_or_else(|| CloudError::NotFound(super::Missing::GiftCard(key.clone())))?;
            let rows = sql.query(
                "SELECT till_id, receipt_id, amount, created_at FROM gift_card_payments WHERE card_id = $1
                 ORDER BY created_at, receipt_id",
                vals![&card.id],
            )?;
            let payments = rows
                .iter()
                .map(|row| {
                    Ok(GiftCardPaymentView {
                        till_id: Some(row.text(0)?),
                        receipt_id: row.text(1)?,
                        amount: row.int(2)?,
                        at: rfc3339(row.int(3)?),
                    })
                })
                .collect::<Result<Vec<_>, CloudError>>()?;
            Ok(GiftCardView::of(&card, at, payments))
        })
        .await
    }

    /// Voids a card for good (voiding it again changes nothing).
    pub async fn gift_card_void(&self, key: String) -> Result<GiftCardView, CloudError> {
        let at = now();
        let card = self
            .write(move |sql| {
                let mut card = load(sql, &key, true)?
                    .ok_or_else(|| CloudError::NotFound(super::Missing::GiftCard(key.clone())))?;
                if card.voided_at.is_none() {
                    sql.execute("UPDATE gift_cards SET voided_at = $1 WHERE id = $2", vals![at, &card.id])?;
                    card.voided_at = Some(at);
                }
                Ok(card)
            })
            .await?;
        tracing::info!(card = %card.id, "gift card voided");
        Ok(GiftCardView::of(&card, at, Vec::new()))
    }

    /// A card by its number, as MoySklad's lookup and a connected till's see it.
    pub async fn gift_card_by_number(&self, number: String) -> Result<Option<Card>, CloudError> {
        let Some(number) = gift_cards::normalize_number(&number) else { return Ok(None) };
        self.read(move |sql| {
            let row = sql.query_opt(&format!("SELECT {COLUMNS} FROM gift_cards WHERE number = $1"), vals![&number])?;
            row.as_ref().map(card_of).transpose()
        })
        .await
    }

    /// Takes a connected till's sale's payments online, before the till records the sale.
    pub async fn gift_card_redeem(
        &self,
        till_id: String,
        receipt_id: String,
        payments: Vec<Payment>,
    ) -> Result<Vec<GiftCardView>, CloudError> {
        crate::http::common::validate_key("receipt_id", &receipt_id).map_err(|_| CloudError::Invalid {
            code: "invalid_receipt_id",
            message: "receipt_id must be 1 to 128 characters without spaces".into(),
        })?;
        if payments.is_empty() || payments.len() > 20 {
            return Err(CloudError::Invalid {
                code: "invalid_gift_card",
                message: "send 1 to 20 gift card payments".into(),
            });
        }
        let at = now();
        let cards = self.write(move |sql| take_payments(sql, &till_id, &receipt_id, &payments, at)).await?;
        Ok(cards.iter().map(|card| GiftCardView::of(card, at, Vec::new())).collect())
    }
}
