//! Receipts: quotes, durable commits and returns, each commit or return one transaction with
//! its ledger entries and its outbox event.

use super::Missing;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::campaigns;
use super::customers::normalize_phone;
use super::gift_cards;
use super::records::{enqueue, journal, load_customer_by, save_wallet, Entry};
use super::verification;
use super::{CustomerRecord, Offline, Store, StoreError, StoreSettings};
use crate::clock::rfc3339;
use crate::identity;
use crate::rules::{
    self, CalcInput, CustomerPoints, LotSource, Money, Program, PromoUsage, Quantity, Redeem, ReturnLineRequest,
    SoldLine, DAY,
};
use crate::wire::{
    self, rules_input, to_wire, CalculateRequest, CommitRequest, CustomerRef, EventPayload, RequestHash, ReturnEvent,
    ReturnRequest, SaleEvent,
};

impl Store {
    /// Prices a receipt against the current balances; changes nothing. A spending that the
    /// program confirms with a code (`verify_spending`) needs the request's `verification`:
    /// a quote without one is refused, and one given is checked (see [`Store::quote`] for the
    /// price alone).
    pub async fn calculate(
        &self,
        request: CalculateRequest,
        program: Arc<Program>,
        offline: Option<Offline>,
        now: i64,
    ) -> Result<wire::Calculation, StoreError> {
        let code = request.verification.clone();
        let (answer, customer, signed_qr) = self.price_for(request, program.clone(), offline, now).await?;
        let redeem = answer.points.redeem;
        // Without a code there is nothing to look up: the quote passes or is refused as it is.
        let Some(code) = code else {
            let needs_code = program.verify_spending || (program.require_signed_qr && !signed_qr);
            return match customer.filter(|_| needs_code && redeem > 0) {
                Some(customer) => Err(verification::refusal_without_code(&program, &customer.id)),
                None => Ok(answer),
            };
        };
        let Some(customer) = customer.filter(|_| redeem > 0) else { return Ok(answer) };
        // A good code is seen on a read connection, so most quotes write nothing.
        let (peek_program, peek_customer, peek_code) = (program.clone(), customer.clone(), code.clone());
        let peeked = self
            .read(move |conn, _| {
                verification::confirm(
                    conn,
                    &peek_program,
                    Some(&peek_customer),
                    Some(&peek_code),
                    redeem,
                    signed_qr,
                    now,
                    verification::CodeUse::Peek,
                )
            })
            .await?;
        if let verification::Confirmation::Verified(_) | verification::Confirmation::NotNeeded = peeked {
            return Ok(answer);
        }
        // Any other code is checked again in a transaction: a wrong one counts towards the lock
        // (or quotes would let anyone try codes freely); a good one stays usable for the commit.
        self.write(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let confirmation = verification::confirm(
                &tx,
                &program,
                Some(&customer),
                Some(&code),
                redeem,
                signed_qr,
                now,
                verification::CodeUse::Check,
            )?;
            tx.commit()?;
            match confirmation {
                verification::Confirmation::Refused(refused) => Err(refused),
                _ => Ok(()),
            }
        })
        .await?;
        Ok(answer)
    }

    /// The price alone, whatever the program asks of codes: for a sale confirmed elsewhere
    /// (MoySklad checks its own codes) and for a promo code's check.
    pub async fn quote(
        &self,
        request: CalculateRequest,
        program: Arc<Program>,
        offline: Option<Offline>,
        now: i64,
    ) -> Result<wire::Calculation, StoreError> {
        Ok(self.price_for(request, program, offline, now).await?.0)
    }

    async fn price_for(
        &self,
        request: CalculateRequest,
        program: Arc<Program>,
        offline: Option<Offline>,
        now: i64,
    ) -> Result<(wire::Calculation, Option<CustomerRecord>, bool), StoreError> {
        self.read(move |conn, settings| {
            let customer = resolve_customer(conn, settings, request.customer.as_ref())?;
            let calculation = price(conn, settings, &program, customer.as_ref(), &request, offline, now, false)?;
            let signed_qr = verification::named_by_signed_qr(conn, request.customer.as_ref(), now);
            Ok((to_wire(&calculation, customer.as_ref().map(|c| c.id.clone()), None), customer, signed_qr))
        })
        .await
    }

    /// Prices a sale as [`commit_sale`](Store::commit_sale) with `overdraft` would book it,
    /// changing nothing: a connected till checks that a sale can be booked before the cloud
    /// takes its gift card payments, so a sale the rules refuse takes no money from a card.
    pub async fn check_booked_sale(
        &self,
        request: CalculateRequest,
        program: Arc<Program>,
        offline: Option<Offline>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.read(move |conn, settings| {
            let customer = resolve_customer(conn, settings, request.customer.as_ref())?;
            price(conn, settings, &program, customer.as_ref(), &request, offline, now, true)?;
            Ok(())
        })
        .await
    }

    /// Commits a sale durably, idempotent by the receipt id: the same body answers the stored
    /// result again, a different body is a conflict. The till asks before it sells, so points
    /// the customer cannot spend are refused.
    pub async fn commit_receipt(
        &self,
        request: CommitRequest,
        request_hash: RequestHash,
        program: Arc<Program>,
        offline: Option<Offline>,
        now: i64,
    ) -> Result<wire::Calculation, StoreError> {
        self.commit_sale(request, request_hash, program, offline, now, Booking::default()).await
    }

    /// [`commit_receipt`](Store::commit_receipt) for a sale that already happened elsewhere
    /// (see [`Booking`]).
    pub async fn commit_sale(
        &self,
        request: CommitRequest,
        request_hash: RequestHash,
        program: Arc<Program>,
        offline: Option<Offline>,
        now: i64,
        booking: Booking,
    ) -> Result<wire::Calculation, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(stored) = stored_answer(&tx, "receipts", &request.id, &request_hash)? {
                if gift_cards::stored_payments(&tx, &request.id)? != booking.gift_cards.payments() {
                    return Err(StoreError::Conflict {
                        code: "receipt_conflict",
                        message: format!("sale {} was already paid with other gift cards or other sums", request.id),
                    });
                }
                return serde_json::from_str(&stored)
                    .map_err(|e| StoreError::corrupt(format!("receipt {}", request.id), e));
            }
            let calc_request = request.calculation();
            let customer = resolve_customer(&tx, settings, calc_request.customer.as_ref())?;
            let calculation =
                price(&tx, settings, &program, customer.as_ref(), &calc_request, offline, now, booking.overdraft)?;
            if let Some(overdraft) = calculation.limits.iter().find(|l| l.code == rules::OVERDRAFT) {
                tracing::warn!(receipt = %request.id, customer = ?customer.as_ref().map(|c| &c.id), message = %overdraft.message, "a sale spends more points than the customer holds; booked as debt");
            }
            // A sale that already happened elsewhere (MoySklad's, which checks its own codes)
            // is booked whatever the program asks of codes here.
            let spent = if booking.overdraft { 0 } else { calculation.points.redeem };
            let signed_qr = verification::named_by_signed_qr(&tx, calc_request.customer.as_ref(), now);
            let verified = match verification::confirm(
                &tx,
                &program,
                customer.as_ref(),
                request.verification.as_ref(),
                spent,
                signed_qr,
                now,
                verification::CodeUse::Spend { receipt_id: &request.id },
            )? {
                verification::Confirmation::NotNeeded => None,
                verification::Confirmation::Verified(by) => Some(by),
                verification::Confirmation::Refused(refused) => {
                    // Nothing of the sale is written yet: this keeps only the wrong code's count.
                    tx.commit()?;
                    return Err(refused);
                }
            };
            let answer = to_wire(&calculation, customer.as_ref().map(|c| c.id.clone()), Some((&request.id, now)));

            tx.execute(
                "INSERT INTO receipts (id, request_hash, customer_id, program_version, result, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    request.id,
                    request_hash.stored(),
                    answer.customer_id,
                    program.version,
                    serde_json::to_string(&answer)?,
                    now
                ],
            )?;
            for (line_no, line) in calculation.lines.iter().enumerate() {
                tx.prepare_cached(
                    "INSERT INTO receipt_lines (receipt_id, line_no, sku, quantity, paid, earn, redeem_points)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    request.id,
                    line_no as i64,
                    line.sku,
                    line.quantity_milli.0,
                    line.paid.0,
                    line.earn,
                    line.redeem_points
                ])?;
            }
            match &booking.gift_cards {
                GiftCards::None => {}
                GiftCards::Take(payments) => gift_cards::take_payments(&tx, &request.id, payments, now)?,
                GiftCards::Settled(payments) => gift_cards::record_payments(&tx, &request.id, payments, now)?,
            }
            for promo in &calculation.promo_codes {
                tx.execute(
                    "INSERT OR IGNORE INTO promo_uses (code, receipt_id, customer_id) VALUES (?1, ?2, ?3)",
                    params![promo.code.to_uppercase(), request.id, answer.customer_id],
                )?;
            }
            // The code itself goes nowhere: the cloud learns only how the spending was confirmed.
            let sale = SaleEvent {
                receipt: answer.clone(),
                request: CommitRequest { verification: None, ..request.clone() },
                verified,
            };
            let seq = enqueue(&tx, &EventPayload::Sale(Box::new(sale)), now)?;
            campaigns::record_sale(&tx, &program, answer.customer_id.as_deref(), &request.id, seq, &calculation, now)?;
            if let Some(customer) = &customer {
                let before = customer.wallet.clone();
                let mut wallet = before.clone();
                let points = &calculation.points;
                let activates_at = now + program.activation_days * DAY;
                if points.redeem > 0 {
                    wallet.debit(points.redeem, now);
                }
                if points.earn > 0 {
                    let expires_at = (program.expiry_days > 0).then(|| activates_at + program.expiry_days * DAY);
                    wallet.credit(points.earn, LotSource::Accrual, Some(request.id.clone()), activates_at, expires_at);
                }
                let entries = [
                    Entry {
                        customer_id: &customer.id,
                        kind: "redemption",
                        points: -points.redeem,
                        reference: &request.id,
                        activates_at: None,
                    },
                    Entry {
                        customer_id: &customer.id,
                        kind: "accrual",
                        points: points.earn,
                        reference: &request.id,
                        activates_at: Some(activates_at),
                    },
                ];
                journal(&tx, &entries, seq, now)?;
                save_wallet(&tx, &customer.id, &before, &wallet)?;
                tx.execute(
                    "UPDATE customers SET paid_total = paid_total + ?2, updated_at = ?3 WHERE id = ?1",
                    params![customer.id, calculation.total.0, now],
                )?;
            }
            tx.commit()?;
            Ok(answer)
        })
        .await
    }

    /// Returns lines (or everything) of a committed receipt, idempotent by the return's id.
    pub async fn return_receipt(
        &self,
        receipt_id: String,
        request: ReturnRequest,
        request_hash: RequestHash,
        program: Arc<Program>,
        now: i64,
    ) -> Result<wire::ReturnResult, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let earlier: Option<(String, String, String)> = tx
                .query_row("SELECT receipt_id, request_hash, result FROM returns WHERE id = ?1", [&request.id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            if let Some((earlier_receipt, hash, result)) = earlier {
                if earlier_receipt == receipt_id && request_hash.matches(&hash) {
                    return serde_json::from_str(&result)
                        .map_err(|e| StoreError::corrupt(format!("return {}", request.id), e));
                }
                return Err(StoreError::Conflict {
                    code: "return_conflict",
                    message: format!(
                        "return {} was already made with different data; use a new id for a new return",
                        request.id
                    ),
                });
            }
            let customer_id: Option<String> = tx
                .query_row("SELECT customer_id FROM receipts WHERE id = ?1", [&receipt_id], |row| row.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(Missing::Receipt(receipt_id.clone())))?;
            let mut sold = sold_lines(&tx, &receipt_id)?;
            let mut stamps = campaigns::sold_stamps(&tx, &receipt_id)?;
            for line in &mut sold {
                line.stamps = stamps.remove(&(line.line_no as i64)).unwrap_or_default();
            }
            let wanted = return_lines(&request)?;
            let plan = rules::plan_return(&sold, wanted.as_deref())?;

            for line in &plan.lines {
                tx.prepare_cached(
                    "UPDATE receipt_lines SET returned = returned + ?3, refunded = refunded + ?4,
                     earn_taken_back = earn_taken_back + ?5, redeem_given_back = redeem_given_back + ?6
                     WHERE receipt_id = ?1 AND line_no = ?2",
                )?
                .execute(params![
                    receipt_id,
                    line.line_no as i64,
                    line.quantity.0,
                    line.refund.0,
                    line.earn_back,
                    line.redeem_back
                ])?;
            }
            let mut balance_after = None;
            if let Some(customer_id) = &customer_id {
                let customer = load_customer_by(&tx, settings, "id", customer_id)?
                    .ok_or_else(|| StoreError::NotFound(Missing::Customer(Some(customer_id.clone()))))?;
                let points_before = customer.points(now).balance;
                let before = customer.wallet.clone();
                let mut wallet = before.clone();
                if plan.points_taken_back > 0 {
                    wallet.take_back_accrual(&receipt_id, plan.points_taken_back, now);
                }
                if plan.points_given_back > 0 {
                    let expires_at = (program.expiry_days > 0).then(|| now + program.expiry_days * DAY);
                    wallet.credit(
                        plan.points_given_back,
                        LotSource::ReturnRefund,
                        Some(receipt_id.clone()),
                        now,
                        expires_at,
                    );
                }
                save_wallet(&tx, customer_id, &before, &wallet)?;
                tx.execute(
                    "UPDATE customers SET paid_total = MAX(0, paid_total - ?2), updated_at = ?3 WHERE id = ?1",
                    params![customer_id, plan.refund.0, now],
                )?;
                balance_after = Some(points_before - plan.points_taken_back + plan.points_given_back);
            }
            let result = wire::ReturnResult {
                id: request.id.clone(),
                receipt_id: receipt_id.clone(),
                customer_id: customer_id.clone(),
                lines: plan
                    .lines
                    .iter()
                    .map(|line| wire::ReturnedLine {
                        line: line.line_no,
                        sku: line.sku.clone(),
                        quantity: line.quantity.to_decimal_string(),
                        refund: line.refund.0,
                        points_taken_back: line.earn_back,
                        points_given_back: line.redeem_back,
                        stamps: line
                            .stamps
                            .iter()
                            .filter(|back| back.earned_back != 0 || back.used_back != 0)
                            .map(|back| wire::StampsReturned {
                                campaign_id: back.campaign_id.clone(),
                                earned_back: back.earned_back,
                                used_back: back.used_back,
                            })
                            .collect(),
                    })
                    .collect(),
                refund: plan.refund.0,
                points_taken_back: plan.points_taken_back,
                points_given_back: plan.points_given_back,
                balance_after,
                created_at: rfc3339(now),
            };
            tx.execute(
                "INSERT INTO returns (id, receipt_id, request_hash, result, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![request.id, receipt_id, request_hash.stored(), serde_json::to_string(&result)?, now],
            )?;
            let returned = ReturnEvent { result: result.clone(), request: request.clone() };
            let seq = enqueue(&tx, &EventPayload::Return(Box::new(returned)), now)?;
            campaigns::record_return(&tx, customer_id.as_deref(), &receipt_id, seq, &plan)?;
            if let Some(customer_id) = &customer_id {
                let entries = [
                    Entry {
                        customer_id,
                        kind: "return_accrual",
                        points: -plan.points_taken_back,
                        reference: &request.id,
                        activates_at: None,
                    },
                    Entry {
                        customer_id,
                        kind: "return_redemption",
                        points: plan.points_given_back,
                        reference: &request.id,
                        activates_at: None,
                    },
                ];
                journal(&tx, &entries, seq, now)?;
            }
            tx.commit()?;
            Ok(result)
        })
        .await
    }

    /// The stored receipt as it was answered, with its returns.
    pub async fn receipt(&self, id: String) -> Result<wire::ReceiptView, StoreError> {
        self.read(move |conn, _| {
            let result: String = conn
                .query_row("SELECT result FROM receipts WHERE id = ?1", [&id], |row| row.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(Missing::Receipt(id.clone())))?;
            let mut stmt =
                conn.prepare_cached("SELECT result FROM returns WHERE receipt_id = ?1 ORDER BY created_at, rowid")?;
            let returns = stmt
                .query_map([&id], |row| row.get::<_, String>(0))?
                .map(|row| {
                    serde_json::from_str(&row?).map_err(|e| StoreError::corrupt(format!("a return of receipt {id}"), e))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let receipt = serde_json::from_str(&result).map_err(|e| StoreError::corrupt(format!("receipt {id}"), e))?;
            Ok(wire::ReceiptView { receipt, returns })
        })
        .await
    }

    /// Committed receipts newest first, of one customer or all, `limit` after `before` (the
    /// `rowid` the previous page ended at). Keyed by `rowid`, which only grows, so receipts
    /// committed while someone pages never shift the pages.
    pub async fn receipts(
        &self,
        customer_id: Option<String>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<wire::ReceiptSummary>, Option<i64>), StoreError> {
        self.read(move |conn, _| {
            if let Some(id) = &customer_id {
                let known: bool = conn.prepare_cached("SELECT 1 FROM customers WHERE id = ?1")?.exists([id])?;
                if !known {
                    return Err(StoreError::NotFound(Missing::Customer(Some(id.clone()))));
                }
            }
            let mut stmt = conn.prepare_cached(
                "SELECT r.rowid, r.id, r.result,
                        (SELECT count(*) FROM receipt_lines l WHERE l.receipt_id = r.id AND l.returned > 0),
                        (SELECT count(*) FROM receipt_lines l WHERE l.receipt_id = r.id AND l.returned < l.quantity)
                   FROM receipts r
                  WHERE (?1 IS NULL OR r.customer_id = ?1) AND r.rowid < ?2
                  ORDER BY r.rowid DESC LIMIT ?3",
            )?;
            let rows =
                stmt.query_map(rusqlite::params![customer_id, before.unwrap_or(i64::MAX), limit as i64 + 1], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                })?;
            let mut receipts = Vec::new();
            let mut next = None;
            for row in rows {
                let (rowid, id, result, some_returned, still_open) = row?;
                if receipts.len() == limit {
                    next = Some(rowid + 1);
                    break;
                }
                let answer: wire::Calculation = serde_json::from_str(&result)?;
                let returned = match (some_returned, still_open) {
                    (0, _) => wire::Returned::None,
                    (_, 0) => wire::Returned::All,
                    _ => wire::Returned::Partly,
                };
                receipts.push(wire::ReceiptSummary {
                    id,
                    customer_id: answer.customer_id,
                    total: answer.total,
                    discount: answer.discount,
                    redeem: answer.points.redeem,
                    earn: answer.points.earn,
                    committed_at: answer.committed_at,
                    returned,
                });
            }
            Ok((receipts, next))
        })
        .await
    }

    /// How often a promo code has been used, overall and by one customer.
    pub async fn promo_usage(&self, code: String, customer_id: Option<String>) -> Result<PromoUsage, StoreError> {
        self.read(move |conn, _| promo_usage(conn, &code, customer_id.as_deref())).await
    }
}

/// The stored answer for an idempotency key, or a conflict when the key was used with another body.
fn stored_answer(
    conn: &Connection,
    table: &str,
    id: &str,
    request_hash: &RequestHash,
) -> Result<Option<String>, StoreError> {
    let sql = format!("SELECT request_hash, result FROM {table} WHERE id = ?1");
    let stored: Option<(String, String)> =
        conn.query_row(&sql, [id], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
    match stored {
        None => Ok(None),
        Some((hash, result)) if request_hash.matches(&hash) => Ok(Some(result)),
        Some(_) => Err(StoreError::Conflict {
            code: "receipt_conflict",
            message: format!(
                "receipt {id} was already committed with different contents; a new receipt needs a new id"
            ),
        }),
    }
}

/// Finds the customer a receipt names (by exactly one of id, phone, card, QR text).
pub(crate) fn resolve_customer(
    conn: &Connection,
    settings: &StoreSettings,
    reference: Option<&CustomerRef>,
) -> Result<Option<CustomerRecord>, StoreError> {
    let Some(reference) = reference else { return Ok(None) };
    let given =
        [&reference.id, &reference.phone, &reference.card, &reference.qr].iter().filter(|v| v.is_some()).count();
    if given != 1 {
        return Err(StoreError::Invalid {
            code: "invalid_customer_ref",
            message: "name the customer by exactly one of id, phone, card or qr".into(),
        });
    }
    let found = if let Some(id) = &reference.id {
        load_customer_by(conn, settings, "id", id)?
    } else if let Some(phone) = &reference.phone {
        load_customer_by(conn, settings, "phone", &normalize_phone(phone, settings)?)?
    } else if let Some(card) = &reference.card {
        match identity::normalize_card(card) {
            Some(card) => load_customer_by(conn, settings, "card", &card)?,
            None => None,
        }
    } else if let Some(qr) = &reference.qr {
        let signed = verification::signed_card(conn, qr, crate::clock::now())?;
        match signed.or_else(|| identity::parse_qr_payload(qr)) {
            Some(card) => load_customer_by(conn, settings, "card", &card)?,
            None => None,
        }
    } else {
        None
    };
    found.map(Some).ok_or_else(|| StoreError::NotFound(Missing::Customer(None)))
}

/// How a sale is booked.
#[derive(Debug, Clone, Default)]
pub struct Booking {
    /// The sale already happened elsewhere (MoySklad closed it at its till before reporting it),
    /// so points beyond what the customer can spend — spent meanwhile, or past the offline
    /// bound — do not refuse it: it is booked, the shortfall is debt, and the receipt carries an
    /// `overdraft` limit. The native API never sets this: its till asks before it sells.
    pub overdraft: bool,
    pub gift_cards: GiftCards,
}

/// What a sale paid with gift cards (payments merged per card by `gift_cards::merge_payments`).
#[derive(Debug, Clone, Default)]
pub enum GiftCards {
    #[default]
    None,
    /// Taken from this till's own cards in the sale's transaction (a standalone till).
    Take(Vec<crate::gift_cards::Payment>),
    /// Already taken by the cloud (a connected till): recorded, with the cloud's card ids.
    Settled(Vec<(crate::gift_cards::Payment, String)>),
}

impl GiftCards {
    pub fn payments(&self) -> Vec<crate::gift_cards::Payment> {
        match self {
            GiftCards::None => Vec::new(),
            GiftCards::Take(payments) => payments.clone(),
            GiftCards::Settled(payments) => payments.iter().map(|(payment, _)| payment.clone()).collect(),
        }
    }
}

/// Runs the rules for a request against the customer's current points; with `overdraft`, see
/// [`Booking::overdraft`].
#[allow(clippy::too_many_arguments)]
fn price(
    conn: &Connection,
    settings: &StoreSettings,
    program: &Program,
    customer: Option<&CustomerRecord>,
    request: &CalculateRequest,
    offline: Option<Offline>,
    now: i64,
    overdraft: bool,
) -> Result<rules::Calculation, StoreError> {
    let lines = rules_input::calc_lines(&request.lines)?;
    let redeem = rules_input::redeem(request.redeem.as_ref()).map_err(|word| StoreError::Invalid {
        code: "invalid_redeem",
        message: format!("redeem must be a whole number of points or \"max\", not {word:?}"),
    })?;
    if let Some(cashier) = &request.cashier {
        let bad = |text: &str, max: usize| text.chars().count() > max || text.chars().any(char::is_control);
        if cashier.id.trim().is_empty() || bad(&cashier.id, 64) || cashier.name.as_deref().is_some_and(|n| bad(n, 120))
        {
            return Err(StoreError::Invalid {
                code: "invalid_cashier",
                message: "cashier needs an id of 1 to 64 characters and, if given, a name of at most 120".into(),
            });
        }
    }
    if request.promo_codes.len() > 10 {
        return Err(StoreError::Invalid {
            code: "too_many_promo_codes",
            message: "at most 10 promo codes per receipt".into(),
        });
    }
    let mut promo_codes = Vec::with_capacity(request.promo_codes.len());
    for code in &request.promo_codes {
        let usage = promo_usage(conn, code, customer.map(|c| c.id.as_str()))?;
        promo_codes.push((code.clone(), usage));
    }
    let mut points = customer.map(|customer| {
        let points = customer.points(now);
        CustomerPoints { balance: points.balance, available: points.available, paid_total: customer.paid_total }
    });
    // Offline, the points the till may let the customer spend are bounded (CONTRACTS.md §sync).
    let allowance = match (offline, customer.and_then(|c| c.connected.as_ref())) {
        (Some(offline), Some(connected)) => Some(offline.allowance(program, connected, now)),
        _ => None,
    };
    let mut offline_bound = None;
    if let (Some((allowed, why)), Some(points)) = (&allowance, points.as_mut()) {
        if let Redeem::Points(requested) = redeem {
            if requested > *allowed && !overdraft {
                return Err(StoreError::InvalidWith {
                    code: "offline_limit",
                    message: format!("the till is offline: at most {allowed} points can be spent now ({why}); {requested} were asked for"),
                    params: vec![("allowed", allowed.to_string()), ("requested", requested.to_string()), why.param()],
                });
            }
        }
        if *allowed < points.available {
            points.available = *allowed;
            offline_bound = Some(format!("the till is offline: at most {allowed} points can be spent now ({why})"));
        }
    }
    let campaign_context = campaigns::context(conn, settings, program, customer, now)?;
    let input = CalcInput {
        program,
        customer: points,
        lines: &lines,
        redeem,
        promo_codes: &promo_codes,
        now,
        campaigns: &campaign_context,
    };
    let mut calculation = if overdraft { rules::calculate_booked(&input)? } else { rules::calculate(&input)? };
    // A typed card number is what someone who only knows the number would type.
    if program.redeem_requires_scan
        && !overdraft
        && request.entry == Some(wire::Entry::Typed)
        && calculation.points.redeem > 0
    {
        return Err(StoreError::Invalid {
            code: "scan_required",
            message: "this program lets points be spent only with a scanned card or the customer's page, not a typed \
                      card number; scan the card, or sell without spending points"
                .into(),
        });
    }
    if let Some(message) = offline_bound {
        calculation.limits.push(rules::LimitApplied { code: "offline_limit", message });
    }
    Ok(calculation)
}

fn promo_usage(conn: &Connection, code: &str, customer_id: Option<&str>) -> Result<PromoUsage, StoreError> {
    let code = code.trim().to_uppercase();
    let total: i64 =
        conn.prepare_cached("SELECT COUNT(*) FROM promo_uses WHERE code = ?1")?.query_row([&code], |row| row.get(0))?;
    let by_customer: i64 = match customer_id {
        Some(id) => conn
            .prepare_cached("SELECT COUNT(*) FROM promo_uses WHERE code = ?1 AND customer_id = ?2")?
            .query_row([&code, id], |row| row.get(0))?,
        None => 0,
    };
    Ok(PromoUsage { total, by_customer })
}

fn sold_lines(conn: &Connection, receipt_id: &str) -> Result<Vec<SoldLine>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT line_no, sku, quantity, paid, earn, redeem_points, returned, refunded, earn_taken_back, redeem_given_back
         FROM receipt_lines WHERE receipt_id = ?1 ORDER BY line_no",
    )?;
    let lines = stmt
        .query_map([receipt_id], |row| {
            Ok(SoldLine {
                line_no: row.get::<_, i64>(0)?.try_into().unwrap_or(usize::MAX),
                sku: row.get(1)?,
                quantity: Quantity(row.get(2)?),
                paid: Money(row.get(3)?),
                earn: row.get(4)?,
                redeem_points: row.get(5)?,
                returned: Quantity(row.get(6)?),
                refunded: Money(row.get(7)?),
                earn_taken_back: row.get(8)?,
                redeem_given_back: row.get(9)?,
                stamps: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(lines)
}

/// The lines a return asks for: `None` for everything, or the parsed list.
fn return_lines(request: &ReturnRequest) -> Result<Option<Vec<ReturnLineRequest>>, StoreError> {
    match (&request.lines, request.all) {
        (None, Some(true)) => Ok(None),
        (Some(lines), None | Some(false)) if !lines.is_empty() => {
            rules_input::return_lines(lines).map(Some).map_err(StoreError::from)
        }
        _ => Err(StoreError::Invalid {
            code: "invalid_return",
            message: "a return needs either \"lines\" (sku and quantity) or \"all\": true, not both".into(),
        }),
    }
}
