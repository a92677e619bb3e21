//! The cloud's use cases for the MoySklad adapter, part two: pricing, sales and returns.
//!
//! For a till, the cloud only checks and applies the figures the till computed. For MoySklad
//! the cloud is the till: it prices with the current program and the customer's authoritative
//! wallet (`rules::calculate`, the same code the agent runs), then records the result as an
//! event of the store's MoySklad till and applies it with the very code that applies pushed
//! events (`apply::apply_event`), in one transaction with the till row locked. So a MoySklad
//! sale gets a gapless seq, an `events` row, its receipt lines, feed rows and, when offline
//! spends elsewhere left too few points, the same `overdraft` conflict and debt as a till's.
//!
//! Idempotency: a receipt or return id already booked on the store's till answers the stored
//! result when the request is the same (by `request_hash`) and `receipt_conflict` /
//! `return_conflict` otherwise.

use super::admin::current_program;
use super::apply::{apply_event, Applied, ChunkCache, Context};
use super::customers::{load_resolved, CustomerRecord};
use super::gift_cards::{same_payments, take_payments};
use super::tills::lock_till;
use super::{publish, Changes, CloudError, Store, StoreSettings};
use crate::clock::{now, rfc3339};
use crate::cloud::db::Sql;
use crate::gift_cards::Payment;
use crate::moysklad::service::SaleRecord;
use crate::rules::{self, CalcInput, CustomerPoints, Money, Program, Quantity, ReturnLineRequest, SoldLine};
use crate::vals;
use crate::wire::to_wire;
use crate::wire::RequestHash;
use crate::wire::{
    rules_input, CalculateRequest, Calculation, CommitRequest, EventPayload, ReturnEvent, ReturnRequest, ReturnResult,
    ReturnedLine, SaleEvent, SyncEvent,
};

/// How many recent sales a return without a named sale looks through.
const RECENT_SALES: i64 = 20;

impl Store {
    /// Prices a receipt against the customer's current wallet; changes nothing.
    pub async fn moysklad_quote(&self, request: CalculateRequest) -> Result<Calculation, CloudError> {
        self.read(move |sql| {
            let at = now();
            let program = current_program(sql)?;
            let customer = customer_of(sql, &request, false)?;
            let calc = price(&program, customer.as_ref(), &request, at, false)?;
            Ok(to_wire(&calc, customer.map(|c| c.profile.id), None))
        })
        .await
    }

    /// Prices and books a sale on the store's MoySklad till, idempotent by `request.id`, and
    /// takes its gift card payments in the same transaction (a card that cannot pay refuses the
    /// whole sale; see `gift_cards::take_payments`).
    pub async fn moysklad_sale(
        &self,
        till_id: String,
        request: CommitRequest,
        payments: Vec<Payment>,
    ) -> Result<Calculation, CloudError> {
        let settings = self.settings().clone();
        let hash = RequestHash::of(&request);
        self.write(move |sql| {
            let at = now();
            let last_seq = lock_till(sql, &till_id)?;
            let stored = sql.query_opt(
                "SELECT body FROM receipts WHERE till_id = $1 AND receipt_id = $2",
                vals![&till_id, &request.id],
            )?;
            if let Some(row) = stored {
                let sale: SaleEvent = serde_json::from_str(&row.text(0)?)?;
                if RequestHash::of(&sale.request).stored() == hash.stored()
                    && same_payments(sql, &till_id, &request.id, &payments)?
                {
                    return Ok(sale.receipt);
                }
                return Err(CloudError::Conflict {
                    code: "receipt_conflict",
                    message: format!("sale {} was already recorded with different contents", request.id),
                });
            }
            if !payments.is_empty() {
                take_payments(sql, &till_id, &request.id, &payments, at)?;
            }
            let program = current_program(sql)?;
            let calculation = request.calculation();
            let customer = customer_of(sql, &calculation, true)?;
            // The goods are gone: points spent elsewhere since the recalc do not stop the sale;
            // `apply` books the shortfall as debt and an `overdraft` conflict.
            let calc = price(&program, customer.as_ref(), &calculation, at, true)?;
            let receipt = to_wire(&calc, customer.map(|c| c.profile.id), Some((&request.id, at)));
            let payload = EventPayload::Sale(Box::new(SaleEvent {
                receipt: receipt.clone(),
                request: request.clone(),
                verified: None,
            }));
            book(sql, &settings, &till_id, last_seq + 1, payload, at)?;
            Ok(receipt)
        })
        .await
    }

    /// A sale booked on the store's MoySklad till, with what is left to return per line.
    pub async fn moysklad_sale_record(
        &self,
        till_id: String,
        receipt_id: String,
    ) -> Result<Option<SaleRecord>, CloudError> {
        self.read(move |sql| sale_record(sql, &till_id, &receipt_id)).await
    }

    /// A customer's recent sales on the store's MoySklad till, newest first.
    pub async fn moysklad_recent_sales(
        &self,
        till_id: String,
        customer_id: String,
    ) -> Result<Vec<SaleRecord>, CloudError> {
        self.read(move |sql| {
            let rows = sql.query(
                "SELECT receipt_id FROM receipts WHERE till_id = $1 AND customer_id = $2
                 ORDER BY applied_at DESC, seq DESC LIMIT $3",
                vals![&till_id, &customer_id, RECENT_SALES],
            )?;
            let mut sales = Vec::with_capacity(rows.len());
            for row in rows {
                sales.extend(sale_record(sql, &till_id, &row.text(0)?)?);
            }
            Ok(sales)
        })
        .await
    }

    /// The receipt a return with this id was booked against on the store's MoySklad till.
    pub async fn moysklad_returned(&self, till_id: String, return_id: String) -> Result<Option<String>, CloudError> {
        self.read(move |sql| {
            let row = sql.query_opt(
                "SELECT receipt_id FROM returns WHERE till_id = $1 AND return_id = $2",
                vals![&till_id, &return_id],
            )?;
            Ok(match row {
                Some(row) => Some(row.text(0)?),
                None => None,
            })
        })
        .await
    }

    /// Plans and books a return of a sale on the store's MoySklad till, idempotent by its id.
    pub async fn moysklad_return(
        &self,
        till_id: String,
        receipt_id: String,
        request: ReturnRequest,
    ) -> Result<ReturnResult, CloudError> {
        let settings = self.settings().clone();
        let hash = RequestHash::of(&request);
        self.write(move |sql| {
            let at = now();
            let last_seq = lock_till(sql, &till_id)?;
            let stored = sql.query_opt(
                "SELECT receipt_id, body FROM returns WHERE till_id = $1 AND return_id = $2",
                vals![&till_id, &request.id],
            )?;
            if let Some(row) = stored {
                let earlier: ReturnEvent = serde_json::from_str(&row.text(1)?)?;
                if row.text(0)? == receipt_id && RequestHash::of(&earlier.request).stored() == hash.stored() {
                    return Ok(earlier.result);
                }
                return Err(CloudError::Conflict {
                    code: "return_conflict",
                    message: format!("return {} was already recorded with different contents", request.id),
                });
            }
            let sale = sql
                .query_opt(
                    "SELECT customer_id, body FROM receipts WHERE till_id = $1 AND receipt_id = $2",
                    vals![&till_id, &receipt_id],
                )?
                .ok_or_else(|| CloudError::NotFound(super::Missing::Receipt { id: receipt_id.clone(), till: None }))?;
            let customer_id = sale.opt_text(0)?;
            let body: SaleEvent = serde_json::from_str(&sale.text(1)?)?;
            let sold = sold_lines(sql, &till_id, &receipt_id, &body)?;
            let wanted = wanted_lines(&request)?;
            let plan = rules::plan_return(&sold, wanted.as_deref())?;
            let balance_after = match &customer_id {
                Some(id) => load_resolved(sql, id, true)?
                    .map(|c| c.wallet.balance(at) - plan.points_taken_back + plan.points_given_back),
                None => None,
            };
            let result = ReturnResult {
                id: request.id.clone(),
                receipt_id: receipt_id.clone(),
                customer_id,
                lines: plan
                    .lines
                    .iter()
                    .map(|line| ReturnedLine {
                        line: line.line_no,
                        sku: line.sku.clone(),
                        quantity: line.quantity.to_decimal_string(),
                        refund: line.refund.0,
                        points_taken_back: line.earn_back,
                        points_given_back: line.redeem_back,
                        stamps: Vec::new(),
                    })
                    .collect(),
                refund: plan.refund.0,
                points_taken_back: plan.points_taken_back,
                points_given_back: plan.points_given_back,
                balance_after,
                created_at: rfc3339(at),
            };
            let payload =
                EventPayload::Return(Box::new(ReturnEvent { result: result.clone(), request: request.clone() }));
            book(sql, &settings, &till_id, last_seq + 1, payload, at)?;
            Ok(result)
        })
        .await
    }
}

/// Applies an event of the MoySklad till with the push path's own code, records it and moves
/// the till's seq: what `push` does per event, minus the answers a till needs. A refusal here
/// means our own figures did not add up, so the whole transaction rolls back.
fn book(
    sql: &mut dyn Sql,
    settings: &StoreSettings,
    till_id: &str,
    seq: i64,
    payload: EventPayload,
    at: i64,
) -> Result<(), CloudError> {
    let event = SyncEvent {
        seq,
        event_id: uuid::Uuid::new_v4().to_string(),
        kind: payload.kind(),
        created_at: rfc3339(at),
        payload: payload.to_raw()?,
    };
    let mut changes = Changes::default();
    let cache = ChunkCache::default();
    let context = Context { settings, till_id, event: &event, at, cache: &cache };
    match apply_event(sql, &context, Ok(payload), &mut changes) {
        Ok(()) => {}
        Err(Applied::Refused(refusal)) => {
            tracing::error!(code = refusal.code, message = %refusal.message, "a MoySklad document was refused by the ledger");
            return Err(CloudError::Invalid { code: refusal.code, message: refusal.message });
        }
        Err(Applied::Failed(e)) => return Err(e),
    }
    sql.execute(
        "INSERT INTO events (event_id, till_id, seq, kind, outcome, code, message, payload, till_time, received_at)
         VALUES ($1, $2, $3, $4, 'applied', NULL, NULL, $5, $6, $7)",
        vals![
            &event.event_id,
            till_id,
            event.seq,
            event.kind.as_str(),
            super::push::kept_payload(&event, true),
            &event.created_at,
            at
        ],
    )?;
    sql.execute("UPDATE tills SET last_seq = $1 WHERE id = $2", vals![event.seq, till_id])?;
    publish(sql, &changes, at)?;
    Ok(())
}

fn customer_of(
    sql: &mut dyn Sql,
    request: &CalculateRequest,
    lock: bool,
) -> Result<Option<CustomerRecord>, CloudError> {
    match request.customer.as_ref().and_then(|c| c.id.clone()) {
        Some(id) => load_resolved(sql, &id, lock)?
            .map(Some)
            .ok_or_else(|| CloudError::NotFound(super::Missing::Customer(id.clone()))),
        None => Ok(None),
    }
}

/// `rules::calculate` for a request of the native shape. With `overdraft`, points the wallet
/// no longer holds do not refuse the receipt (`rules::calculate_booked`: every other limit
/// still does, and the receipt carries an `overdraft` limit) — the agent books them alike.
fn price(
    program: &Program,
    customer: Option<&CustomerRecord>,
    request: &CalculateRequest,
    at: i64,
    overdraft: bool,
) -> Result<rules::Calculation, CloudError> {
    let lines = rules_input::calc_lines(&request.lines)?;
    let redeem = rules_input::redeem(request.redeem.as_ref())
        .map_err(|_| super::invalid("invalid_redeem", "redeem must be points or \"max\""))?;
    let points = customer.map(|c| CustomerPoints {
        balance: c.wallet.balance(at),
        available: c.wallet.available(at),
        paid_total: c.paid_total,
    });
    let input = CalcInput {
        program,
        customer: points,
        lines: &lines,
        redeem,
        promo_codes: &[],
        now: at,
        campaigns: rules::CampaignContext::neutral(),
    };
    Ok(if overdraft { rules::calculate_booked(&input)? } else { rules::calculate(&input)? })
}

fn sale_record(sql: &mut dyn Sql, till_id: &str, receipt_id: &str) -> Result<Option<SaleRecord>, CloudError> {
    let Some(row) = sql.query_opt(
        "SELECT customer_id, body FROM receipts WHERE till_id = $1 AND receipt_id = $2",
        vals![till_id, receipt_id],
    )?
    else {
        return Ok(None);
    };
    let body: SaleEvent = serde_json::from_str(&row.text(1)?)?;
    let sold = sold_lines(sql, till_id, receipt_id, &body)?;
    Ok(Some(SaleRecord {
        receipt_id: receipt_id.to_owned(),
        customer_id: row.opt_text(0)?,
        lines: sold.into_iter().map(|l| (l.sku, (l.quantity.0 - l.returned.0).max(0))).collect(),
    }))
}

/// The sale's lines as the rules plan returns: figures from `receipt_lines`, SKUs from the
/// stored request (the cloud's line table has none).
fn sold_lines(
    sql: &mut dyn Sql,
    till_id: &str,
    receipt_id: &str,
    sale: &SaleEvent,
) -> Result<Vec<SoldLine>, CloudError> {
    let rows = sql.query(
        "SELECT line_no, quantity, paid, earn, redeem_points, returned, refunded, earn_taken_back, redeem_given_back
         FROM receipt_lines WHERE till_id = $1 AND receipt_id = $2 ORDER BY line_no",
        vals![till_id, receipt_id],
    )?;
    rows.iter()
        .map(|row| {
            let line_no = usize::try_from(row.int(0)?).unwrap_or(usize::MAX);
            Ok(SoldLine {
                line_no,
                sku: sale.request.lines.get(line_no).map(|l| l.sku.clone()).unwrap_or_default(),
                quantity: Quantity(row.int(1)?),
                paid: Money(row.int(2)?),
                earn: row.int(3)?,
                redeem_points: row.int(4)?,
                returned: Quantity(row.int(5)?),
                refunded: Money(row.int(6)?),
                earn_taken_back: row.int(7)?,
                redeem_given_back: row.int(8)?,
                // The cloud keeps no stamp cards yet, so its returns have none to reverse.
                stamps: Vec::new(),
            })
        })
        .collect()
}

fn wanted_lines(request: &ReturnRequest) -> Result<Option<Vec<ReturnLineRequest>>, CloudError> {
    match (&request.lines, request.all) {
        (None, Some(true)) => Ok(None),
        (Some(lines), _) if !lines.is_empty() => rules_input::return_lines(lines).map(Some).map_err(CloudError::from),
        _ => Err(super::invalid("invalid_return", "a return needs lines or \"all\": true")),
    }
}
