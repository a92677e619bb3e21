//! The cloud's authoritative ledger: a customer's point lots kept with [`rules::Wallet`], and
//! the checks on the figures a till computed.
//!
//! The cloud re-prices nothing: a sale or return carries the points the till computed with the
//! program version it names. The cloud checks that the figures add up (see [`check_sale`] and
//! [`check_return`]) and applies them; activation, expiry, debt and tiers are its own.

use crate::cloud::db::{DbError, Row, Sql, Value};
use crate::rules::{Lot, LotSource, Program, Quantity, Timestamp, Wallet, DAY};
use crate::vals;
use crate::wire::{ReturnEvent, SaleEvent};

/// Why a till's figures were refused: a stable code and a sentence for the back office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal { code, message: message.into() }
}

fn bad(message: impl Into<String>) -> Refusal {
    refuse("bad_arithmetic", message)
}

/// The largest figure a receipt may carry (10^15 minor units or points): far beyond any real
/// sale, and far enough below `i64::MAX` that running totals such as `paid_total` cannot overflow.
pub const MAX_FIGURE: i64 = 1_000_000_000_000_000;

/// The lines of a sale the cloud keeps, to bound later returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldLine {
    pub quantity: i64,
    pub paid: i64,
    pub earn: i64,
    pub redeem_points: i64,
}

/// The figures of a sale that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleFigures {
    pub receipt_id: String,
    pub customer_id: Option<String>,
    /// Σ line amounts before any discount (what a campaign's or a referral's `min_receipt` is
    /// compared with).
    pub subtotal: i64,
    pub total: i64,
    pub earn: i64,
    pub redeem: i64,
    pub lines: Vec<SoldLine>,
    pub promo_codes: Vec<String>,
}

/// Sums that overflow are refused like any other wrong figure.
fn sum(mut values: impl Iterator<Item = i64>) -> Result<i64, Refusal> {
    values.try_fold(0i64, |acc, v| acc.checked_add(v)).ok_or_else(|| bad("the figures overflow"))
}

/// Checks a sale's arithmetic: every figure ≥ 0; per line `discount = promo + points discount`
/// and `paid = amount − discount`; Σ amount = subtotal, Σ discount = discount, Σ paid = total,
/// subtotal − discount = total, Σ earn = earn, Σ redeem = redeem; with the program the sale
/// names, the points discount is exactly `redeem × point_value`.
pub fn check_sale(sale: &SaleEvent, program: Option<&Program>) -> Result<SaleFigures, Refusal> {
    let receipt = &sale.receipt;
    let request = &sale.request;
    if receipt.id.as_deref().is_some_and(|id| id != request.id) {
        return Err(refuse("invalid_payload", "the receipt's id differs from the request's id"));
    }
    if !valid_key(&request.id) {
        return Err(refuse("invalid_payload", "the receipt id must be 1 to 128 characters without spaces"));
    }
    if receipt.lines.is_empty() || receipt.lines.len() != request.lines.len() {
        return Err(bad("the receipt's lines do not match the request's lines"));
    }
    let mut lines = Vec::with_capacity(receipt.lines.len());
    for (no, line) in receipt.lines.iter().enumerate() {
        let figures = [
            line.price,
            line.amount,
            line.promo_discount,
            line.points_discount,
            line.discount,
            line.paid,
            line.earn,
            line.redeem_points,
        ];
        if figures.iter().any(|v| !(0..=MAX_FIGURE).contains(v)) {
            return Err(bad(format!("line {no} has a figure below 0 or above {MAX_FIGURE}")));
        }
        if line.promo_discount.checked_add(line.points_discount) != Some(line.discount) {
            return Err(bad(format!("line {no}: promo_discount + points_discount ≠ discount")));
        }
        if line.amount.checked_sub(line.discount) != Some(line.paid) {
            return Err(bad(format!("line {no}: amount − discount ≠ paid")));
        }
        let quantity = Quantity::parse(&line.quantity).map_err(|e| bad(format!("line {no}: {e}")))?;
        lines.push(SoldLine {
            quantity: quantity.0,
            paid: line.paid,
            earn: line.earn,
            redeem_points: line.redeem_points,
        });
    }
    let totals = [receipt.subtotal, receipt.discount, receipt.total, receipt.points.earn, receipt.points.redeem];
    if totals.iter().any(|v| !(0..=MAX_FIGURE).contains(v)) {
        return Err(bad(format!("a total is below 0 or above {MAX_FIGURE}")));
    }
    let checks = [
        ("Σ line amount", sum(receipt.lines.iter().map(|l| l.amount))?, "subtotal", receipt.subtotal),
        ("Σ line discount", sum(receipt.lines.iter().map(|l| l.discount))?, "discount", receipt.discount),
        ("Σ line paid", sum(receipt.lines.iter().map(|l| l.paid))?, "total", receipt.total),
        ("subtotal − discount", receipt.subtotal - receipt.discount, "total", receipt.total),
        ("Σ line earn", sum(receipt.lines.iter().map(|l| l.earn))?, "points.earn", receipt.points.earn),
        (
            "Σ line redeem_points",
            sum(receipt.lines.iter().map(|l| l.redeem_points))?,
            "points.redeem",
            receipt.points.redeem,
        ),
    ];
    for (left, computed, right, stated) in checks {
        if computed != stated {
            return Err(bad(format!("{left} is {computed} but {right} is {stated}")));
        }
    }
    if let Some(program) = program {
        let points_discount = sum(receipt.lines.iter().map(|l| l.points_discount))?;
        if receipt.points.redeem.checked_mul(program.point_value) != Some(points_discount) {
            return Err(bad(format!(
                "{} points at {} minor units each do not make a points discount of {points_discount}",
                receipt.points.redeem, program.point_value
            )));
        }
    }
    check_campaigns(receipt)?;
    if receipt.customer_id.is_none() && (receipt.points.earn > 0 || receipt.points.redeem > 0) {
        return Err(refuse("invalid_payload", "a sale without a customer cannot earn or redeem points"));
    }
    Ok(SaleFigures {
        receipt_id: request.id.clone(),
        customer_id: receipt.customer_id.clone(),
        subtotal: receipt.subtotal,
        total: receipt.total,
        earn: receipt.points.earn,
        redeem: receipt.points.redeem,
        lines,
        promo_codes: receipt.promo_codes.iter().map(|p| p.code.trim().to_uppercase()).collect(),
    })
}

/// Checks what the sale says its campaigns gave: figures ≥ 0; on each line, the campaigns'
/// points within its `earn` and their discounts within its `promo_discount`; each campaign's
/// receipt total (points, discount, stamps earned and used) the sum of its lines'; a campaign
/// listed once; stamps only with a customer.
fn check_campaigns(receipt: &crate::wire::Calculation) -> Result<(), Refusal> {
    let in_range = |v: i64| (0..=MAX_FIGURE).contains(&v);
    for (no, line) in receipt.lines.iter().enumerate() {
        let mut points = 0i64;
        let mut discount = 0i64;
        for gain in &line.campaigns {
            let stamps_ok = gain.stamps.is_none_or(|s| in_range(s.earned) && in_range(s.used) && in_range(s.after));
            if !in_range(gain.points) || !in_range(gain.discount) || !stamps_ok {
                return Err(bad(format!("line {no}: campaign {} has a figure below 0 or above {MAX_FIGURE}", gain.id)));
            }
            // A campaign that gave nothing in all is listed as not applied, but may stay on its lines.
            let gives = gain.points > 0 || gain.discount > 0 || gain.stamps.is_some_and(|s| s.earned > 0 || s.used > 0);
            if gives && !receipt.campaigns.iter().any(|total| total.id == gain.id) {
                return Err(bad(format!("line {no}: campaign {} is not in the receipt's campaigns", gain.id)));
            }
            points = points.saturating_add(gain.points);
            discount = discount.saturating_add(gain.discount);
        }
        if points > line.earn || discount > line.promo_discount {
            return Err(bad(format!("line {no}: its campaigns give more than the line's earn or promo_discount")));
        }
    }
    for (index, total) in receipt.campaigns.iter().enumerate() {
        if receipt.campaigns[..index].iter().any(|other| other.id == total.id) {
            return Err(bad(format!("campaign {} is listed twice", total.id)));
        }
        let on_lines = receipt.lines.iter().flat_map(|line| &line.campaigns).filter(|gain| gain.id == total.id);
        let (mut points, mut discount, mut earned, mut used) = (0i64, 0i64, 0i64, 0i64);
        for gain in on_lines {
            points = points.saturating_add(gain.points);
            discount = discount.saturating_add(gain.discount);
            if let Some(stamps) = &gain.stamps {
                earned = earned.saturating_add(stamps.earned);
                used = used.saturating_add(stamps.used);
            }
        }
        let stamps = total.stamps.map_or((0, 0), |s| (s.earned, s.used));
        if (points, discount, stamps) != (total.points, total.discount, (earned, used)) {
            return Err(bad(format!("campaign {}: its receipt total is not the sum of its lines", total.id)));
        }
        if total.stamps.is_some() && receipt.customer_id.is_none() {
            return Err(refuse("invalid_payload", "a sale without a customer cannot move stamps"));
        }
    }
    Ok(())
}

/// What a sold line already gave back, kept per line by the cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Returned {
    pub quantity: i64,
    pub refunded: i64,
    pub earn_taken_back: i64,
    pub redeem_given_back: i64,
}

/// Checks a return against itself and the sale: figures ≥ 0, the per-line figures add up to
/// the totals, and no line gives back more than was sold (counting earlier returns).
/// Answers the new cumulative figures per line number.
pub fn check_return(event: &ReturnEvent, sold: &[(SoldLine, Returned)]) -> Result<Vec<(usize, Returned)>, Refusal> {
    let result = &event.result;
    if result.id != event.request.id || !valid_key(&result.id) {
        return Err(refuse("invalid_payload", "the return's id is missing or differs from the request's id"));
    }
    let totals = [result.refund, result.points_taken_back, result.points_given_back];
    if totals.iter().any(|v| !(0..=MAX_FIGURE).contains(v)) || result.lines.is_empty() {
        return Err(bad(format!("a return needs lines and figures from 0 to {MAX_FIGURE}")));
    }
    let sums = [
        ("refund", sum(result.lines.iter().map(|l| l.refund))?, result.refund),
        ("points_taken_back", sum(result.lines.iter().map(|l| l.points_taken_back))?, result.points_taken_back),
        ("points_given_back", sum(result.lines.iter().map(|l| l.points_given_back))?, result.points_given_back),
    ];
    for (name, computed, stated) in sums {
        if computed != stated {
            return Err(bad(format!("Σ line {name} is {computed} but {name} is {stated}")));
        }
    }
    let mut after: Vec<(usize, Returned)> = Vec::new();
    for line in &result.lines {
        let (sold_line, before) = sold
            .get(line.line)
            .ok_or_else(|| refuse("return_exceeds_sale", format!("the receipt has no line {}", line.line)))?;
        let quantity = Quantity::parse(&line.quantity).map_err(|e| bad(format!("line {}: {e}", line.line)))?;
        if line.refund < 0 || line.points_taken_back < 0 || line.points_given_back < 0 {
            return Err(bad(format!("line {} has a negative figure", line.line)));
        }
        let index = match after.iter().position(|(no, _)| *no == line.line) {
            Some(index) => index,
            None => {
                after.push((line.line, before.clone()));
                after.len() - 1
            }
        };
        let total = &mut after[index].1;
        let add = |a: i64, b: i64| a.checked_add(b).ok_or_else(|| bad("the figures overflow"));
        total.quantity = add(total.quantity, quantity.0)?;
        total.refunded = add(total.refunded, line.refund)?;
        total.earn_taken_back = add(total.earn_taken_back, line.points_taken_back)?;
        total.redeem_given_back = add(total.redeem_given_back, line.points_given_back)?;
        if total.quantity > sold_line.quantity
            || total.refunded > sold_line.paid
            || total.earn_taken_back > sold_line.earn
            || total.redeem_given_back > sold_line.redeem_points
        {
            return Err(refuse(
                "return_exceeds_sale",
                format!("line {} would give back more than the sale holds", line.line),
            ));
        }
    }
    Ok(after)
}

fn valid_key(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

/// When points credited at `at` expire under `program` (counted from activation).
pub fn expiry(program: &Program, activates_at: Timestamp) -> Option<Timestamp> {
    (program.expiry_days > 0).then(|| activates_at.saturating_add(program.expiry_days.saturating_mul(DAY)))
}

/// Credits earned points with the program's activation delay and expiry.
pub fn credit_accrual(wallet: &mut Wallet, program: &Program, points: i64, receipt_key: &str, at: Timestamp) {
    let activates_at = at.saturating_add(program.activation_days.saturating_mul(DAY));
    wallet.credit(
        points,
        LotSource::Accrual,
        Some(receipt_key.to_owned()),
        activates_at,
        expiry(program, activates_at),
    );
}

/// A manual correction: positive credits a lot, negative debits (perhaps into debt).
pub fn adjust(wallet: &mut Wallet, program: &Program, points: i64, at: Timestamp) {
    if points > 0 {
        wallet.credit(points, LotSource::Adjustment, None, at, expiry(program, at));
    } else if points < 0 {
        wallet.debit(points.saturating_neg(), at);
    }
}

/// The columns of a lot, in the order [`lot_from_row`] reads them.
pub const LOT_COLUMNS: [&str; 7] = ["id", "source", "receipt_key", "points", "remaining", "activates_at", "expires_at"];

/// The customer's lots that still hold points.
///
/// Ordered here, not with `ORDER BY`: SQLite re-plans a statement that has `ORDER BY` and an
/// equality on a bound value every time the value changes, which was a sixth of what a pushed
/// sale cost the cloud (issue 9).
pub fn load_lots(sql: &mut dyn Sql, customer_id: &str) -> Result<Vec<Lot>, DbError> {
    let rows = sql.query(
        "SELECT id, source, receipt_key, points, remaining, activates_at, expires_at
         FROM point_lots WHERE customer_id = $1 AND remaining > 0",
        vals![customer_id],
    )?;
    let mut lots = rows.iter().map(|row| lot_from_row(row, 0)).collect::<Result<Vec<Lot>, DbError>>()?;
    lots.sort_unstable_by_key(|lot| lot.id);
    Ok(lots)
}

/// A lot from [`LOT_COLUMNS`] starting at column `at` of a row.
pub fn lot_from_row(row: &Row, at: usize) -> Result<Lot, DbError> {
    Ok(Lot {
        id: row.int(at)?,
        source: source_from_str(&row.text(at + 1)?),
        receipt_id: row.opt_text(at + 2)?,
        points: row.int(at + 3)?,
        remaining: row.int(at + 4)?,
        activates_at: row.int(at + 5)?,
        expires_at: row.opt_int(at + 6)?,
    })
}

/// Writes back a wallet changed by the rules at `at`: new lots, changed remainders, the debt,
/// and each change as a `lot_moves` row, from which the liability report sums any moment's
/// balances (CONTRACTS.md §reports).
pub fn save_wallet(
    sql: &mut dyn Sql,
    customer_id: &str,
    before: &Wallet,
    after: &Wallet,
    at: Timestamp,
) -> Result<(), DbError> {
    write_moves(sql, &wallet_moves(customer_id, before, after, at))?;
    save_lots(sql, customer_id, before, after)
}

/// The `lot_moves` rows (six values each, see [`write_moves`]) that a change of wallet makes.
pub fn wallet_moves(customer_id: &str, before: &Wallet, after: &Wallet, at: Timestamp) -> Vec<Value> {
    let mut moves: Vec<Value> = Vec::new();
    for lot in &after.lots {
        let old = before.lots.iter().find(|old| lot.id != 0 && old.id == lot.id).map_or(0, |old| old.remaining);
        let change = if lot.id == 0 { lot.remaining.max(0) } else { lot.remaining - old };
        if change != 0 {
            moves.extend_from_slice(vals![customer_id, "lot", change, lot.activates_at, lot.expires_at, at]);
        }
    }
    if before.debt != after.debt {
        moves.extend_from_slice(vals![customer_id, "debt", after.debt - before.debt, None::<i64>, None::<i64>, at]);
    }
    moves
}

/// The start of a multi-row insert of lots, [`LOT_INSERT_WIDTH`] values a row (see [`lot_values`]).
pub const LOT_INSERT: &str =
    "INSERT INTO point_lots (customer_id, source, receipt_key, points, remaining, activates_at, expires_at) VALUES ";
pub const LOT_INSERT_WIDTH: usize = 7;

/// A lot's row for [`LOT_INSERT`].
pub fn lot_values(customer_id: &str, lot: &Lot) -> [Value; LOT_INSERT_WIDTH] {
    [
        Value::from(customer_id),
        Value::from(source_str(lot.source)),
        Value::from(lot.receipt_id.clone()),
        Value::Int(lot.points),
        Value::Int(lot.remaining),
        Value::Int(lot.activates_at),
        Value::from(lot.expires_at),
    ]
}

/// What storing a wallet the rules changed takes: the lots to insert, and the stored lots whose
/// remainder or points changed. A lot not stored yet has id 0 — inserted when it holds points
/// (one folded into an older lot by `Wallet::consolidate` holds nothing: no row) — or, held
/// by a push chunk across sales, a provisional id below zero: inserted whatever it holds now,
/// as it was stored when it held points.
pub fn changed_lots<'a>(before: &Wallet, after: &'a Wallet) -> (Vec<&'a Lot>, Vec<&'a Lot>) {
    let new = after.lots.iter().filter(|lot| lot.id < 0 || (lot.id == 0 && lot.remaining > 0)).collect();
    let changed = after
        .lots
        .iter()
        .filter(|lot| {
            lot.id > 0
                && before
                    .lots
                    .iter()
                    .any(|old| old.id == lot.id && (old.remaining, old.points) != (lot.remaining, lot.points))
        })
        .collect();
    (new, changed)
}

/// Writes a wallet's changed lots and debt (without their `lot_moves`, see [`wallet_moves`]).
pub fn save_lots(sql: &mut dyn Sql, customer_id: &str, before: &Wallet, after: &Wallet) -> Result<(), DbError> {
    let (new, changed) = changed_lots(before, after);
    for lot in new {
        sql.write(&format!("{LOT_INSERT}($1, $2, $3, $4, $5, $6, $7)"), &lot_values(customer_id, lot))?;
    }
    for lot in changed {
        sql.write(
            "UPDATE point_lots SET remaining = $1, points = $2 WHERE id = $3",
            vals![lot.remaining, lot.points, lot.id],
        )?;
    }
    if before.debt != after.debt {
        sql.write("UPDATE customers SET debt = $1 WHERE id = $2", vals![after.debt, customer_id])?;
    }
    Ok(())
}

/// Writes `lot_moves` rows: six values each (customer, kind, points, activates_at, expires_at,
/// at), one statement for all.
pub fn write_moves(sql: &mut dyn Sql, values: &[Value]) -> Result<(), DbError> {
    if values.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..values.len() / 6)
        .map(|r| {
            format!("(${}, ${}, ${}, ${}, ${}, ${})", r * 6 + 1, r * 6 + 2, r * 6 + 3, r * 6 + 4, r * 6 + 5, r * 6 + 6)
        })
        .collect();
    sql.write(
        &format!(
            "INSERT INTO lot_moves (customer_id, kind, points, activates_at, expires_at, at) VALUES {}",
            rows.join(", ")
        ),
        values,
    )
}

/// Appends one movement to the points journal.
pub fn journal(
    sql: &mut dyn Sql,
    customer_id: &str,
    kind: &str,
    points: i64,
    till_id: Option<&str>,
    reference: &str,
    at: Timestamp,
) -> Result<(), DbError> {
    if points != 0 {
        sql.write(
            "INSERT INTO ledger (customer_id, kind, points, till_id, reference, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            vals![customer_id, kind, points, till_id, reference, at],
        )?;
    }
    Ok(())
}

/// Records that the customer's balance now includes this till's events up to `seq`.
pub fn note_till_seq(sql: &mut dyn Sql, customer_id: &str, till_id: &str, seq: i64) -> Result<(), DbError> {
    sql.write(
        "INSERT INTO customer_till_seq (customer_id, till_id, seq) VALUES ($1, $2, $3)
         ON CONFLICT (customer_id, till_id) DO UPDATE SET seq = excluded.seq WHERE customer_till_seq.seq < excluded.seq",
        vals![customer_id, till_id, seq],
    )?;
    Ok(())
}

fn source_str(source: LotSource) -> &'static str {
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

fn source_from_str(text: &str) -> LotSource {
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

#[cfg(test)]
mod tests;
