//! Applying one till event to the authoritative ledger: sales, returns and adjustments here,
//! customer events in `customer_events.rs`. Runs inside the push transaction; a refusal is
//! rolled back to the event's savepoint by the caller.

use super::admin::{current_program, program_version, record_conflict, NewConflict};
use super::customers::{load_many_locked, load_resolved, points_of};
use super::{Changes, CloudError, FeedKind, StoreSettings};
use crate::cloud::db::{DbError, Dialect, Sql, Value};
use crate::cloud::ledger::{self, check_return, check_sale, Refusal, Returned, SoldLine};
use crate::http::sentence::Sentence;
use crate::reports::ShiftTotals;
use crate::rules::{LotSource, Timestamp, Wallet, DAY};
use crate::vals;
use crate::wire::{
    AdjustmentResult, BalanceChangedData, EventPayload, ReturnEvent, SaleEvent, SyncEvent, WebhookEventType,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What one event's application came to, besides success.
pub(super) enum Applied {
    /// The event is refused for good (recorded, listed in the conflicts, the queue moves on).
    Refused(Refusal),
    /// Storage failed: the whole transaction rolls back and the till retries.
    Failed(CloudError),
}

impl From<CloudError> for Applied {
    fn from(e: CloudError) -> Applied {
        match e {
            CloudError::Db(e) => e.into(),
            e => Applied::Failed(e),
        }
    }
}
impl From<DbError> for Applied {
    fn from(e: DbError) -> Applied {
        match e {
            // Input no database can take is the event's fault: refuse it, so it cannot block
            // the till's queue the way a storage failure (retried) would.
            DbError::NulInText => refuse("invalid_payload", "the event holds text with a NUL character"),
            e => Applied::Failed(e.into()),
        }
    }
}
impl From<Refusal> for Applied {
    fn from(r: Refusal) -> Applied {
        Applied::Refused(r)
    }
}

pub(super) fn refuse(code: &'static str, message: impl Into<String>) -> Applied {
    Applied::Refused(Refusal { code, message: message.into() })
}

/// Everything an event is applied with.
pub(super) struct Context<'a> {
    pub settings: &'a StoreSettings,
    pub till_id: &'a str,
    pub event: &'a SyncEvent,
    /// The cloud's clock.
    pub at: Timestamp,
    /// What this transaction already read, so events after the first need not read it again.
    pub cache: &'a ChunkCache,
}

/// Reads shared by the events of one push transaction: program versions (a stored version
/// never changes) and which of the chunk's receipts the till already has (read in one query
/// up front instead of one per sale, then kept up to date as sales are applied).
#[derive(Default)]
pub(super) struct ChunkCache {
    programs: RefCell<HashMap<i64, crate::rules::Program>>,
    /// Receipt ids looked up (`checked`), and those of them the cloud holds (`stored`).
    receipts: RefCell<(HashSet<String>, HashSet<String>)>,
    /// Rows the chunk's sales add, and the customers they change, when they are held for
    /// [`ChunkCache::write_held`].
    held: Option<RefCell<HeldRows>>,
}

/// A customer the chunk's sales read: their wallet as stored, and as the sales since left it
/// (written back by [`ChunkCache::write_held`], a hundred customers a statement, instead of
/// two statements for each sale). New lots get provisional ids below zero, so the next sale's
/// moves match them as they would match stored lots.
struct HeldCustomer {
    stored: Wallet,
    current: Wallet,
    /// `paid_total` as stored.
    paid_stored: i64,
    /// What the held sales add to `paid_total`.
    paid_added: i64,
    changed: bool,
}

/// The tables whose rows a sale only adds and nothing in the push reads back — except a
/// return, which reads its sale's receipt: held rows are written before any other kind of
/// event is applied, and at the end of the chunk. One statement for a hundred rows instead of
/// one for each is most of what a pushed sale costs PostgreSQL.
#[derive(Clone, Copy)]
pub(super) enum Held {
    Receipt,
    ReceiptLine,
    Journal,
    LotMove,
}

impl Held {
    fn insert(self) -> (&'static str, usize) {
        match self {
            Held::Receipt => (
                "INSERT INTO receipts (till_id, receipt_id, customer_id, program_version, seq, event_id, body, applied_at) VALUES ",
                8,
            ),
            Held::ReceiptLine => {
                ("INSERT INTO receipt_lines (till_id, receipt_id, line_no, quantity, paid, earn, redeem_points) VALUES ", 7)
            }
            Held::Journal => ("INSERT INTO ledger (customer_id, kind, points, till_id, reference, created_at) VALUES ", 6),
            Held::LotMove => ("INSERT INTO lot_moves (customer_id, kind, points, activates_at, expires_at, at) VALUES ", 6),
        }
    }
}

/// Held rows per table (in [`Held`] order, which is the order they must be written in), the
/// newest seq of this till per customer (`customer_till_seq`), and the chunk's sales summed per
/// local day (`till_days`: one upsert per day and chunk instead of one per sale).
#[derive(Default)]
struct HeldRows {
    rows: [Vec<Value>; 4],
    till_seq: HashMap<String, i64>,
    days: BTreeMap<i64, ShiftTotals>,
    /// By customer id; on PostgreSQL the customers the chunk's sales name are locked and read
    /// in one round trip up front.
    customers: HashMap<String, HeldCustomer>,
    /// The customer id a sale named (an alias left by a merge) -> the customer's own.
    names: HashMap<String, String>,
    /// The last provisional lot id handed out (they count down from -1).
    last_lot: i64,
    /// What `till_seq` and `days` held before each change, newest last: a refused event's
    /// changes are undone from here (copying the maps at every event's start instead cost
    /// more than the event itself once a chunk had seen hundreds of customers).
    undo: Vec<Undo>,
}

enum Undo {
    TillSeq(String, Option<i64>),
    Day(i64, Option<ShiftTotals>),
    /// A held customer's wallet, `paid_added` and `changed` before a sale.
    Customer(String, Wallet, i64, bool),
}

/// How much was held when an event began, so a refused event's rows can be dropped.
pub(super) struct HeldMark([usize; 4], usize);

impl ChunkCache {
    /// A cache that already knows which receipts the chunk's sales name are stored, and holds
    /// the rows they add until [`ChunkCache::write_held`].
    pub fn for_events(sql: &mut dyn Sql, till_id: &str, payloads: &[ParsedPayload]) -> Result<ChunkCache, CloudError> {
        let cache = ChunkCache { held: Some(RefCell::default()), ..ChunkCache::default() };
        let sales = || {
            payloads.iter().filter_map(|payload| match payload {
                Some(Ok(EventPayload::Sale(sale))) => Some(sale),
                _ => None,
            })
        };
        let ids: Vec<String> = sales().map(|sale| sale.request.id.clone()).filter(|id| !id.contains('\0')).collect();
        if sql.dialect() == Dialect::Postgres {
            let mut customers: Vec<String> = sales()
                .filter_map(|sale| sale.receipt.customer_id.clone())
                .filter(|id| !id.contains('\0') && id.len() <= 128)
                .collect();
            customers.sort();
            customers.dedup();
            if let Some(held) = &cache.held {
                held.borrow_mut().customers = load_many_locked(sql, &customers)?
                    .into_iter()
                    .map(|(id, customer)| {
                        let paid = customer.paid_total.0;
                        (id, HeldCustomer::read(customer.wallet, paid))
                    })
                    .collect();
            }
        }
        if ids.is_empty() {
            return Ok(cache);
        }
        let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
        let mut params = vec![Value::from(till_id)];
        params.extend(ids.iter().map(Value::from));
        let rows = sql.query(
            &format!("SELECT receipt_id FROM receipts WHERE till_id = $1 AND receipt_id IN ({})", marks.join(", ")),
            &params,
        )?;
        {
            let mut receipts = cache.receipts.borrow_mut();
            for row in rows {
                receipts.1.insert(row.text(0)?);
            }
            receipts.0.extend(ids);
        }
        Ok(cache)
    }

    /// Whether the till's receipt is stored: from the cache when the chunk's read covered it.
    fn receipt_stored(&self, sql: &mut dyn Sql, till_id: &str, receipt_id: &str) -> Result<bool, DbError> {
        {
            let receipts = self.receipts.borrow();
            if receipts.0.contains(receipt_id) {
                return Ok(receipts.1.contains(receipt_id));
            }
        }
        Ok(sql
            .query_opt("SELECT seq FROM receipts WHERE till_id = $1 AND receipt_id = $2", vals![till_id, receipt_id])?
            .is_some())
    }

    /// Adds rows (a whole number of them) to `table`: held when this cache holds rows, else
    /// written now.
    fn add_row(&self, sql: &mut dyn Sql, table: Held, row: Vec<Value>) -> Result<(), DbError> {
        let (insert, width) = table.insert();
        debug_assert_eq!(row.len() % width, 0);
        // Refused now, with the event, rather than when the rows are written for the chunk.
        crate::cloud::db::refuse_nul(&row)?;
        match &self.held {
            Some(held) => held.borrow_mut().rows[table as usize].extend(row),
            None => write_rows(sql, insert, width, &row)?,
        }
        Ok(())
    }

    /// Adds a sale to its till's day in `till_days`: held when this cache holds rows.
    fn add_sale_to_day(
        &self,
        sql: &mut dyn Sql,
        till_id: &str,
        sale: crate::reports::SaleFigures,
        happened: i64,
    ) -> Result<(), DbError> {
        let day = crate::reports::local_day(happened);
        match &self.held {
            Some(held) => {
                let held = &mut *held.borrow_mut();
                let totals = held.days.entry(day).or_default();
                held.undo.push(Undo::Day(day, Some(totals.clone()).filter(|t| *t != ShiftTotals::default())));
                totals.add_sale(sale, happened);
                Ok(())
            }
            None => {
                let mut totals = ShiftTotals::default();
                totals.add_sale(sale, happened);
                super::reports::bump_day(sql, day, till_id, "", &totals, 0)
            }
        }
    }

    /// The customer's balance includes this till's events up to `seq`.
    fn note_till_seq(&self, sql: &mut dyn Sql, customer_id: &str, till_id: &str, seq: i64) -> Result<(), DbError> {
        match &self.held {
            Some(held) => {
                let held = &mut *held.borrow_mut();
                let before = held.till_seq.get(customer_id).copied();
                held.undo.push(Undo::TillSeq(customer_id.to_owned(), before));
                held.till_seq.insert(customer_id.to_owned(), before.map_or(seq, |newest| newest.max(seq)));
                Ok(())
            }
            None => ledger::note_till_seq(sql, customer_id, till_id, seq),
        }
    }

    /// The customer a sale names (following a merge's alias) and their wallet as the chunk's
    /// sales left it, or `None` when the cloud knows nobody by that id.
    fn customer_wallet(&self, sql: &mut dyn Sql, named: &str) -> Result<Option<(String, Wallet)>, CloudError> {
        let Some(held) = &self.held else {
            return Ok(load_resolved(sql, named, true)?.map(|customer| (customer.profile.id, customer.wallet)));
        };
        {
            let held = held.borrow();
            let id = held.names.get(named).map_or(named, String::as_str);
            if let Some(customer) = held.customers.get(id) {
                return Ok(Some((id.to_owned(), customer.current.clone())));
            }
        }
        let Some(customer) = load_resolved(sql, named, true)? else { return Ok(None) };
        let held = &mut *held.borrow_mut();
        let paid = customer.paid_total.0;
        let wallet = customer.wallet;
        let id = customer.profile.id;
        if named != id {
            held.names.insert(named.to_owned(), id.clone());
        }
        // Read through an alias, the customer may already be held under their own id.
        let customer = held.customers.entry(id.clone()).or_insert_with(|| HeldCustomer::read(wallet, paid));
        Ok(Some((id, customer.current.clone())))
    }

    /// What the customer has paid in all, the chunk's held sales included.
    fn paid_total(&self, sql: &mut dyn Sql, customer_id: &str) -> Result<i64, DbError> {
        if let Some(held) = &self.held {
            if let Some(customer) = held.borrow().customers.get(customer_id) {
                return Ok(customer.paid_stored.saturating_add(customer.paid_added));
            }
        }
        sql.query_one("SELECT paid_total FROM customers WHERE id = $1", vals![customer_id])?.int(0)
    }

    /// Stores what a sale made of a customer's wallet (`before` as [`Self::customer_wallet`]
    /// gave it) and adds `paid` to what they paid: held when this cache holds rows.
    fn save_customer(
        &self,
        sql: &mut dyn Sql,
        customer_id: &str,
        before: &Wallet,
        mut after: Wallet,
        paid: i64,
        at: i64,
    ) -> Result<(), DbError> {
        let Some(held) = &self.held else {
            ledger::save_lots(sql, customer_id, before, &after)?;
            return sql.write(
                "UPDATE customers SET paid_total = paid_total + $1, updated_at = $2 WHERE id = $3",
                vals![paid, at, customer_id],
            );
        };
        let held = &mut *held.borrow_mut();
        // A new lot holding nothing (folded into an older one) would never be stored: drop it,
        // as reading the wallet again would. The others get their provisional ids.
        after.lots.retain(|lot| lot.id != 0 || lot.remaining > 0);
        for lot in after.lots.iter_mut().filter(|lot| lot.id == 0) {
            held.last_lot -= 1;
            lot.id = held.last_lot;
        }
        let Some(customer) = held.customers.get_mut(customer_id) else {
            return Err(DbError::Decode(format!("customer {customer_id} was not read before their sale was applied")));
        };
        let wallet = std::mem::replace(&mut customer.current, after);
        held.undo.push(Undo::Customer(customer_id.to_owned(), wallet, customer.paid_added, customer.changed));
        customer.paid_added += paid;
        customer.changed = true;
        Ok(())
    }

    pub fn mark(&self) -> Option<HeldMark> {
        let held = self.held.as_ref()?.borrow();
        Some(HeldMark(held.rows.each_ref().map(Vec::len), held.undo.len()))
    }

    /// Forgets what was held since `mark` (the event was refused and rolled back).
    pub fn back_to(&self, mark: Option<HeldMark>) {
        if let (Some(held), Some(HeldMark(lengths, undone))) = (&self.held, mark) {
            let held = &mut *held.borrow_mut();
            for (rows, length) in held.rows.iter_mut().zip(lengths) {
                rows.truncate(length);
            }
            while held.undo.len() > undone {
                match held.undo.pop() {
                    Some(Undo::TillSeq(customer_id, Some(seq))) => {
                        held.till_seq.insert(customer_id, seq);
                    }
                    Some(Undo::TillSeq(customer_id, None)) => {
                        held.till_seq.remove(&customer_id);
                    }
                    Some(Undo::Day(day, Some(totals))) => {
                        held.days.insert(day, totals);
                    }
                    Some(Undo::Day(day, None)) => {
                        held.days.remove(&day);
                    }
                    Some(Undo::Customer(customer_id, wallet, paid_added, changed)) => {
                        if let Some(customer) = held.customers.get_mut(&customer_id) {
                            customer.current = wallet;
                            customer.paid_added = paid_added;
                            customer.changed = changed;
                        }
                    }
                    None => break,
                }
            }
        }
    }

    /// Writes the held rows, many a statement.
    pub fn write_held(&self, sql: &mut dyn Sql, till_id: &str, at: i64) -> Result<(), DbError> {
        let Some(held) = &self.held else { return Ok(()) };
        let HeldRows { rows, till_seq, days, customers, .. } = std::mem::take(&mut *held.borrow_mut());
        write_customers(sql, customers, at)?;
        // From here on only inserts and upserts by key (see `Sql::plan_once`).
        sql.plan_once(true)?;
        for (day, totals) in &days {
            super::reports::bump_day(sql, *day, till_id, "", totals, 0)?;
        }
        for (table, rows) in [Held::Receipt, Held::ReceiptLine, Held::Journal, Held::LotMove].into_iter().zip(rows) {
            let (insert, width) = table.insert();
            for part in rows.chunks(width * 100) {
                write_rows(sql, insert, width, part)?;
            }
        }
        let mut till_seq: Vec<(String, i64)> = till_seq.into_iter().collect();
        till_seq.sort();
        for part in till_seq.chunks(100) {
            let mut values = Vec::with_capacity(part.len() * 3);
            for (customer_id, seq) in part {
                values.extend([Value::from(customer_id.as_str()), Value::from(till_id), Value::Int(*seq)]);
            }
            let marks = value_marks(3, part.len());
            sql.write(
                &format!(
                    "INSERT INTO customer_till_seq (customer_id, till_id, seq) VALUES {marks}
                     ON CONFLICT (customer_id, till_id) DO UPDATE SET seq = excluded.seq
                     WHERE customer_till_seq.seq < excluded.seq"
                ),
                &values,
            )?;
        }
        sql.plan_once(false)
    }

    /// A receipt was stored by this transaction.
    fn note_receipt(&self, receipt_id: &str) {
        let mut receipts = self.receipts.borrow_mut();
        receipts.0.insert(receipt_id.to_owned());
        receipts.1.insert(receipt_id.to_owned());
    }
}

impl HeldCustomer {
    fn read(wallet: Wallet, paid_stored: i64) -> HeldCustomer {
        HeldCustomer { stored: wallet.clone(), current: wallet, paid_stored, paid_added: 0, changed: false }
    }
}

/// Writes back what the held sales changed of their customers: new lots, changed lots, and
/// the customers' `paid_total`, `debt` and `updated_at`, many rows a statement.
fn write_customers(sql: &mut dyn Sql, customers: HashMap<String, HeldCustomer>, at: i64) -> Result<(), DbError> {
    let mut changed: Vec<(String, HeldCustomer)> = customers.into_iter().filter(|(_, c)| c.changed).collect();
    // In id order, as PostgreSQL locked them.
    changed.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut inserts, mut updates, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (id, customer) in &changed {
        let (new, altered) = ledger::changed_lots(&customer.stored, &customer.current);
        for lot in new {
            inserts.extend(ledger::lot_values(id, lot));
        }
        for lot in altered {
            updates.extend([Value::Int(lot.id), Value::Int(lot.remaining), Value::Int(lot.points)]);
        }
        rows.extend([
            Value::from(id.as_str()),
            Value::Int(customer.paid_added),
            Value::Int(at),
            Value::Int(customer.current.debt),
        ]);
    }
    for part in inserts.chunks(ledger::LOT_INSERT_WIDTH * 100) {
        write_rows(sql, ledger::LOT_INSERT, ledger::LOT_INSERT_WIDTH, part)?;
    }
    for part in updates.chunks(3 * 100) {
        sql.write(
            &format!(
                "UPDATE point_lots SET remaining = v.column2, points = v.column3
                   FROM (VALUES {}) AS v WHERE point_lots.id = v.column1",
                cast_marks(&["BIGINT", "BIGINT", "BIGINT"], part.len() / 3)
            ),
            part,
        )?;
    }
    for part in rows.chunks(4 * 100) {
        sql.write(
            &format!(
                "UPDATE customers SET paid_total = customers.paid_total + v.column2, updated_at = v.column3,
                        debt = v.column4
                   FROM (VALUES {}) AS v WHERE customers.id = v.column1",
                cast_marks(&["TEXT", "BIGINT", "BIGINT", "BIGINT"], part.len() / 4)
            ),
            part,
        )?;
    }
    Ok(())
}

/// `(CAST($1 AS TEXT), CAST($2 AS BIGINT)), ...` for `rows` rows of values of `types`: a
/// `VALUES` list PostgreSQL can type without a column to take the types from.
fn cast_marks(types: &[&str], rows: usize) -> String {
    let width = types.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let casts: Vec<String> =
                types.iter().enumerate().map(|(k, t)| format!("CAST(${} AS {t})", r * width + k + 1)).collect();
            format!("({})", casts.join(", "))
        })
        .collect();
    tuples.join(", ")
}

/// `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `width` values.
///
/// Every chunk writes its rows a hundred at a time with the same few widths, so the text is
/// built once per width (for as many rows as asked so far) and each statement takes a prefix:
/// formatting the marks anew was 4 % of what a pushed sale cost.
pub(super) fn value_marks(width: usize, rows: usize) -> String {
    thread_local! {
        /// Per width: the marks of the rows built so far, and where each row's tuple ends.
        static BUILT: RefCell<HashMap<usize, (String, Vec<usize>)>> = RefCell::default();
    }
    if rows == 0 {
        return String::new();
    }
    BUILT.with_borrow_mut(|built| {
        let (text, ends) = built.entry(width).or_default();
        while ends.len() < rows {
            let r = ends.len();
            if r > 0 {
                text.push_str(", ");
            }
            text.push('(');
            for k in 1..=width {
                if k > 1 {
                    text.push_str(", ");
                }
                text.push('$');
                text.push_str(&(r * width + k).to_string());
            }
            text.push(')');
            ends.push(text.len());
        }
        text[..ends[rows - 1]].to_owned()
    })
}

/// One multi-row INSERT of `values` (a whole number of rows of `width`).
fn write_rows(sql: &mut dyn Sql, insert: &str, width: usize, values: &[Value]) -> Result<(), DbError> {
    if values.is_empty() {
        return Ok(());
    }
    sql.write(&format!("{insert}{}", value_marks(width, values.len() / width)), values)
}

impl Context<'_> {
    /// The stored program `version`, if the cloud issued it.
    fn program_version(&self, sql: &mut dyn Sql, version: i64) -> Result<Option<crate::rules::Program>, CloudError> {
        if let Some(program) = self.cache.programs.borrow().get(&version) {
            return Ok(Some(program.clone()));
        }
        let found = program_version(sql, version)?;
        if let Some(program) = &found {
            self.cache.programs.borrow_mut().insert(version, program.clone());
        }
        Ok(found)
    }

    /// When the event happened: the till's clock, which may be wrong, kept within the last 30
    /// days and never in the future. Activation windows count from here, so points earned
    /// offline yesterday activate when they would have on the till.
    pub fn happened_at(&self) -> Timestamp {
        let format = &time::format_description::well_known::Rfc3339;
        time::OffsetDateTime::parse(&self.event.created_at, format)
            .map(|t| t.unix_timestamp())
            .unwrap_or(self.at)
            .clamp(self.at - 30 * DAY, self.at)
    }

    /// Appends a movement of this event to the points journal (held with the chunk's rows).
    fn journal(
        &self,
        sql: &mut dyn Sql,
        customer_id: &str,
        kind: &str,
        points: i64,
        reference: &str,
    ) -> Result<(), DbError> {
        if points == 0 {
            return Ok(());
        }
        self.cache.add_row(
            sql,
            Held::Journal,
            vals![customer_id, kind, points, self.till_id, reference, self.at].to_vec(),
        )
    }

    /// Lots credited for a receipt are keyed by till and receipt, which are only unique together.
    pub fn receipt_key(&self, receipt_id: &str) -> String {
        format!("{}/{}", self.till_id, receipt_id)
    }
}

/// A pushed event's payload read into its type (or why it does not fit), once per event;
/// `None` once it was handed to [`apply_event`].
pub(super) type ParsedPayload = Option<Result<EventPayload, serde_json::Error>>;

/// Reads each event's payload into its type: one pass over the pushed text per event.
pub(super) fn parse_payloads(events: &[SyncEvent]) -> Vec<ParsedPayload> {
    events.iter().map(|event| Some(EventPayload::from_raw(event.kind, &event.payload))).collect()
}

pub(super) fn apply_event(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    payload: Result<EventPayload, serde_json::Error>,
    changes: &mut Changes,
) -> Result<(), Applied> {
    if cx.event.event_id.is_empty() || cx.event.event_id.len() > 128 {
        return Err(refuse("invalid_payload", "event_id must be 1 to 128 characters"));
    }
    let mark = cx.cache.mark();
    let applied = apply_kind(sql, cx, payload, changes);
    if applied.is_err() {
        cx.cache.back_to(mark);
    }
    applied
}

fn apply_kind(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    payload: Result<EventPayload, serde_json::Error>,
    changes: &mut Changes,
) -> Result<(), Applied> {
    let payload = payload.map_err(|e| {
        refuse("invalid_payload", format!("the {} payload does not fit the contract: {e}", cx.event.kind.as_str()))
    })?;
    match payload {
        EventPayload::CustomerCreated(event) => super::customer_events::created(sql, cx, event, changes),
        EventPayload::CustomerUpdated(event) => super::customer_events::updated(sql, cx, event, changes),
        EventPayload::Sale(event) => sale(sql, cx, *event, changes),
        EventPayload::Return(event) => return_lines(sql, cx, *event, changes),
        EventPayload::Adjustment(event) => adjustment(sql, cx, event, changes),
    }
}

fn sale(sql: &mut dyn Sql, cx: &Context<'_>, sale: SaleEvent, changes: &mut Changes) -> Result<(), Applied> {
    let named = cx.program_version(sql, sale.receipt.program_version)?;
    let figures = check_sale(&sale, named.as_ref())?;
    if cx.cache.receipt_stored(sql, cx.till_id, &figures.receipt_id)? {
        return Err(refuse("duplicate_receipt", format!("receipt {} was already applied", figures.receipt_id)));
    }
    // The sale names the version that priced it; one the cloud never issued (a till that ran
    // standalone before it enrolled) is read as the current program.
    let program = match named {
        Some(program) => program,
        None => current_program(sql)?,
    };
    let key = cx.receipt_key(&figures.receipt_id);
    let mut customer_id = None;
    if let Some(id) = &figures.customer_id {
        let (customer, before) = cx
            .cache
            .customer_wallet(sql, id)?
            .ok_or_else(|| refuse("unknown_customer", format!("customer {id} is not known to the cloud")))?;
        let mut wallet = before.clone();
        if figures.redeem > 0 {
            let available = wallet.available(cx.at);
            wallet.debit(figures.redeem, cx.at);
            cx.journal(sql, &customer, "redemption", -figures.redeem, &key)?;
            if figures.redeem > available {
                // The goods are gone: apply it anyway, the shortfall is debt, and tell the office.
                let shortfall = figures.redeem - available;
                record_conflict(
                    sql,
                    NewConflict {
                        kind: "overdraft",
                        till_id: Some(cx.till_id),
                        event: Some(cx.event),
                        customer_id: Some(&customer),
                        receipt_id: Some(&figures.receipt_id),
                        happened: Sentence::new(
                            "conflict_overdraft",
                            format!(
                                "receipt {} spent {} points while {} were available in the cloud (offline spends on several tills)",
                                figures.receipt_id, figures.redeem, available
                            ),
                        )
                        .with("receipt", &figures.receipt_id)
                        .with("redeemed", figures.redeem)
                        .with("available", available),
                        done: Sentence::new(
                            "conflict_overdraft_done",
                            format!(
                                "applied anyway; the customer's balance went {} points into debt, which later accruals pay off",
                                wallet.debt.min(shortfall)
                            ),
                        )
                        .with("debt", wallet.debt.min(shortfall)),
                        details: serde_json::json!({ "redeemed": figures.redeem, "available": available, "shortfall": shortfall, "debt": wallet.debt }),
                    },
                    cx.at,
                )?;
            }
        }
        if figures.earn > 0 {
            ledger::credit_accrual(&mut wallet, &program, figures.earn, &key, cx.happened_at());
            cx.journal(sql, &customer, "accrual", figures.earn, &key)?;
        }
        // Every sale reads the customer's open lots: keep them few.
        wallet.consolidate(cx.at);
        // The moves are held with the chunk's rows: nothing in a push reads them back.
        cx.cache.add_row(sql, Held::LotMove, ledger::wallet_moves(&customer, &before, &wallet, cx.at))?;
        cx.cache.note_till_seq(sql, &customer, cx.till_id, cx.event.seq)?;
        changes.add(FeedKind::Balance, &customer);
        balance_changed(changes, cx, &customer, &wallet, figures.earn - figures.redeem, "sale", &figures.receipt_id);
        if !program.tiers.is_empty() && figures.total > 0 && changes.hears(WebhookEventType::TierChanged) {
            let paid = cx.cache.paid_total(sql, &customer)?;
            let move_ = TierMove { paid_before: paid, paid_after: paid.saturating_add(figures.total), reason: "sale" };
            tier_changed(changes, cx, &program, &customer, move_, &figures.receipt_id);
        }
        cx.cache.save_customer(sql, &customer, &before, wallet, figures.total, cx.at)?;
        super::lifecycle::after_sale(sql, cx, &customer, &figures, changes)?;
        customer_id = Some(customer);
    }
    cx.cache.add_row(
        sql,
        Held::Receipt,
        vals![
            cx.till_id,
            &figures.receipt_id,
            customer_id.clone(),
            sale.receipt.program_version,
            cx.event.seq,
            &cx.event.event_id,
            // The pushed text as it came: the sale as the till described it (`SaleEvent`).
            cx.event.payload.get(),
            cx.at
        ]
        .to_vec(),
    )?;
    for (no, line) in figures.lines.iter().enumerate() {
        cx.cache.add_row(
            sql,
            Held::ReceiptLine,
            vals![cx.till_id, &figures.receipt_id, no as i64, line.quantity, line.paid, line.earn, line.redeem_points]
                .to_vec(),
        )?;
    }
    for code in &figures.promo_codes {
        promo_use(sql, cx, &program, code, &figures.receipt_id, customer_id.as_deref())?;
    }
    if let (Some(crate::wire::VerifiedBy::Totp { step }), Some(customer)) = (sale.verified, customer_id.as_deref()) {
        super::spending_codes::record_use(sql, cx, customer, step, &figures.receipt_id)?;
    }
    if !sale.receipt.campaigns.is_empty() {
        let customer = customer_id.as_deref();
        super::campaigns::record_sale(sql, cx, &program, customer, &figures.receipt_id, &sale.receipt, changes)?;
    }
    cx.cache.add_sale_to_day(sql, cx.till_id, crate::reports::SaleFigures::of(&sale.receipt), cx.happened_at())?;
    // Only now: a refusal above is rolled back, and the receipt with it.
    cx.cache.note_receipt(&figures.receipt_id);
    Ok(())
}

/// Counts a promo code's use; a use past its limit (one-time codes used offline on two tills)
/// is kept — the receipt is done — and reported: the cloud keeps the first use.
fn promo_use(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    program: &crate::rules::Program,
    code: &str,
    receipt_id: &str,
    customer_id: Option<&str>,
) -> Result<(), Applied> {
    let total = sql.query_one("SELECT COUNT(*) FROM promo_uses WHERE code = $1", vals![code])?.int(0)?;
    let by_customer = match customer_id {
        Some(id) => sql
            .query_one("SELECT COUNT(*) FROM promo_uses WHERE code = $1 AND customer_id = $2", vals![code, id])?
            .int(0)?,
        None => 0,
    };
    sql.write(
        "INSERT INTO promo_uses (code, till_id, receipt_id, customer_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (code, till_id, receipt_id) DO NOTHING",
        vals![code, cx.till_id, receipt_id, customer_id],
    )?;
    let Some(promo) = program.find_promo(code) else { return Ok(()) };
    let over_total = promo.usage_limit.is_some_and(|limit| total >= limit);
    let over_customer = customer_id.is_some() && promo.per_customer_limit.is_some_and(|limit| by_customer >= limit);
    if over_total || over_customer {
        let limit = if over_total { promo.usage_limit } else { promo.per_customer_limit };
        record_conflict(
            sql,
            NewConflict {
                kind: "promo_code_overused",
                till_id: Some(cx.till_id),
                event: Some(cx.event),
                customer_id,
                receipt_id: Some(receipt_id),
                happened: {
                    let english = format!(
                        "promo code {code} was used on receipt {receipt_id} past its limit of {} use(s){}",
                        limit.unwrap_or(0),
                        if over_total { "" } else { " per customer" }
                    );
                    let said = Sentence::new("conflict_promo_overused", english)
                        .with("promo", code)
                        .with("receipt", receipt_id)
                        .with("limit", limit.unwrap_or(0));
                    if over_total {
                        said
                    } else {
                        said.with("per_customer", "")
                    }
                },
                done: Sentence::new(
                    "conflict_promo_overused_done",
                    "the receipt was applied as the till sold it; the earlier use is kept as the valid one",
                ),
                details: serde_json::json!({ "code": code, "uses_before": total, "customer_uses_before": by_customer }),
            },
            cx.at,
        )?;
    }
    Ok(())
}

fn return_lines(sql: &mut dyn Sql, cx: &Context<'_>, event: ReturnEvent, changes: &mut Changes) -> Result<(), Applied> {
    let receipt_id = event.result.receipt_id.clone();
    let receipt = sql
        .query_opt(
            "SELECT customer_id, program_version FROM receipts WHERE till_id = $1 AND receipt_id = $2",
            vals![cx.till_id, &receipt_id],
        )?
        .ok_or_else(|| {
            refuse("unknown_receipt", format!("receipt {receipt_id} of this till is not known to the cloud"))
        })?;
    let exists = sql.query_opt(
        "SELECT seq FROM returns WHERE till_id = $1 AND return_id = $2",
        vals![cx.till_id, &event.result.id],
    )?;
    if exists.is_some() {
        return Err(refuse("duplicate_return", format!("return {} was already applied", event.result.id)));
    }
    let rows = sql.query(
        "SELECT quantity, paid, earn, redeem_points, returned, refunded, earn_taken_back, redeem_given_back
         FROM receipt_lines WHERE till_id = $1 AND receipt_id = $2 ORDER BY line_no",
        vals![cx.till_id, &receipt_id],
    )?;
    let sold = rows
        .iter()
        .map(|row| {
            Ok((
                SoldLine { quantity: row.int(0)?, paid: row.int(1)?, earn: row.int(2)?, redeem_points: row.int(3)? },
                Returned {
                    quantity: row.int(4)?,
                    refunded: row.int(5)?,
                    earn_taken_back: row.int(6)?,
                    redeem_given_back: row.int(7)?,
                },
            ))
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    let after = check_return(&event, &sold)?;
    for (line_no, totals) in &after {
        sql.write(
            "UPDATE receipt_lines SET returned = $1, refunded = $2, earn_taken_back = $3, redeem_given_back = $4
             WHERE till_id = $5 AND receipt_id = $6 AND line_no = $7",
            vals![
                totals.quantity,
                totals.refunded,
                totals.earn_taken_back,
                totals.redeem_given_back,
                cx.till_id,
                &receipt_id,
                *line_no as i64
            ],
        )?;
    }
    let customer_id = receipt.opt_text(0)?;
    if let Some(id) = &customer_id {
        let customer = load_resolved(sql, id, true)?
            .ok_or_else(|| refuse("unknown_customer", format!("customer {id} is not known to the cloud")))?;
        let program = match cx.program_version(sql, receipt.int(1)?)? {
            Some(program) => program,
            None => current_program(sql)?,
        };
        let key = cx.receipt_key(&receipt_id);
        let result = &event.result;
        let mut wallet = customer.wallet.clone();
        // Earned points go first (pending ones voided first), then spent ones come back; a
        // balance already spent goes into debt rather than being floored.
        wallet.take_back_accrual(&key, result.points_taken_back, cx.at);
        wallet.credit(
            result.points_given_back,
            LotSource::ReturnRefund,
            Some(key.clone()),
            cx.at,
            ledger::expiry(&program, cx.at),
        );
        ledger::save_wallet(sql, &customer.id, &customer.wallet, &wallet, cx.at)?;
        ledger::journal(sql, &customer.id, "return_accrual", -result.points_taken_back, Some(cx.till_id), &key, cx.at)?;
        ledger::journal(
            sql,
            &customer.id,
            "return_redemption",
            result.points_given_back,
            Some(cx.till_id),
            &key,
            cx.at,
        )?;
        sql.write(
            "UPDATE customers SET paid_total = CASE WHEN paid_total > $1 THEN paid_total - $1 ELSE 0 END, updated_at = $2
             WHERE id = $3",
            vals![result.refund, cx.at, &customer.id],
        )?;
        if result.lines.iter().any(|line| !line.stamps.is_empty()) {
            super::campaigns::record_return(sql, &customer.id, result, cx.at)?;
        }
        ledger::note_till_seq(sql, &customer.id, cx.till_id, cx.event.seq)?;
        changes.add(FeedKind::Balance, &customer.id);
        let change = result.points_given_back - result.points_taken_back;
        balance_changed(changes, cx, &customer.id, &wallet, change, "return", &result.id);
        if !program.tiers.is_empty() && result.refund > 0 && changes.hears(WebhookEventType::TierChanged) {
            let paid = customer.paid_total.0;
            let move_ = TierMove { paid_before: paid, paid_after: (paid - result.refund).max(0), reason: "return" };
            tier_changed(changes, cx, &program, &customer.id, move_, &result.id);
        }
    }
    sql.write(
        "INSERT INTO returns (till_id, return_id, receipt_id, customer_id, seq, event_id, body, applied_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vals![
            cx.till_id,
            &event.result.id,
            &receipt_id,
            customer_id,
            cx.event.seq,
            &cx.event.event_id,
            serde_json::to_string(&event).map_err(CloudError::from)?,
            cx.at
        ],
    )?;
    let mut day = crate::reports::ShiftTotals::default();
    day.add_return(crate::reports::ReturnFigures::of(&event.result));
    super::reports::bump_day(sql, crate::reports::local_day(cx.happened_at()), cx.till_id, "", &day, 0)?;
    Ok(())
}

fn adjustment(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    adjustment: AdjustmentResult,
    changes: &mut Changes,
) -> Result<(), Applied> {
    if adjustment.points.unsigned_abs() > crate::identity::fields::MAX_ADJUSTMENT_POINTS {
        return Err(refuse("invalid_payload", "an adjustment must be within ±1,000,000,000 points"));
    }
    let id = &adjustment.customer_id;
    let customer = load_resolved(sql, id, true)?
        .ok_or_else(|| refuse("unknown_customer", format!("customer {id} is not known to the cloud")))?;
    let program = current_program(sql)?;
    let mut wallet = customer.wallet.clone();
    ledger::adjust(&mut wallet, &program, adjustment.points, cx.at);
    ledger::save_wallet(sql, &customer.id, &customer.wallet, &wallet, cx.at)?;
    let reference = cx.receipt_key(&adjustment.id);
    ledger::journal(sql, &customer.id, "adjustment", adjustment.points, Some(cx.till_id), &reference, cx.at)?;
    ledger::note_till_seq(sql, &customer.id, cx.till_id, cx.event.seq)?;
    let day = crate::reports::local_day(cx.happened_at());
    super::reports::bump_day(sql, day, cx.till_id, "", &Default::default(), adjustment.points)?;
    changes.add(FeedKind::Balance, &customer.id);
    balance_changed(changes, cx, &customer.id, &wallet, adjustment.points, "adjustment", &adjustment.id);
    Ok(())
}

/// A customer's paid total before and after a sale or a return.
struct TierMove {
    paid_before: i64,
    paid_after: i64,
    reason: &'static str,
}

/// Tells `tier_changed` subscribers when a paid total crossed a tier's threshold.
fn tier_changed(
    changes: &mut Changes,
    cx: &Context<'_>,
    program: &crate::rules::Program,
    customer_id: &str,
    paid: TierMove,
    reference: &str,
) {
    let old = program.settings_for(crate::rules::Money(paid.paid_before)).tier;
    let new = program.settings_for(crate::rules::Money(paid.paid_after)).tier;
    if old == new {
        return;
    }
    changes.webhook(
        WebhookEventType::TierChanged,
        crate::wire::TierChangedData {
            customer_id: customer_id.to_owned(),
            old,
            new,
            paid_total: paid.paid_after,
            reason: paid.reason.to_owned(),
            till_id: Some(cx.till_id.to_owned()),
            reference: Some(reference.to_owned()),
        },
    );
}

/// Tells `balance_changed` subscribers about a movement of `change` points at this till
/// (nothing when the points did not move, e.g. a sale that neither earned nor spent).
fn balance_changed(
    changes: &mut Changes,
    cx: &Context<'_>,
    customer_id: &str,
    wallet: &crate::rules::Wallet,
    change: i64,
    reason: &str,
    reference: &str,
) {
    if change == 0 || !changes.hears(WebhookEventType::BalanceChanged) {
        return;
    }
    changes.webhook(
        WebhookEventType::BalanceChanged,
        BalanceChangedData {
            customer_id: customer_id.to_owned(),
            change,
            reason: reason.to_owned(),
            till_id: Some(cx.till_id.to_owned()),
            reference: Some(reference.to_owned()),
            points: points_of(wallet, cx.at),
        },
    );
}
