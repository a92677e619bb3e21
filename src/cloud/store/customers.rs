//! The customer directory: rows, identifiers and their checks, and the admin's use cases
//! (create, read, find, edit, adjust). Tills' customer events reuse the row helpers here.

use serde::Deserialize;

use super::consents::{self, ConsentOrigin};
use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{invalid_with, publish, Changes, CloudError, Store, StoreSettings};
use crate::clock::{now, rfc3339};
use crate::cloud::db::{DbError, Dialect, Row, Sql, Value};
use crate::cloud::ledger;
use crate::identity::{self, fields, CustomerProfile};
use crate::rules::{LotSource, Money, Program, Wallet};
use crate::vals;
use crate::wire::{
    AdjustmentRequest, AdjustmentResult, BalanceChangedData, Consents, CustomerCreatedData, CustomerPatch,
    CustomerSnapshot, EnrollRequest, PointsBalance, RequestHash, WebhookEventType,
};

/// A customer of the cloud's directory, with their points.
#[derive(Debug, Clone)]
pub struct CustomerRecord {
    pub profile: CustomerProfile,
    /// The id the chain's own systems know the customer by (an import's `external_id`).
    pub external_id: Option<String>,
    pub wallet: Wallet,
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

/// How to find customers: exactly one of the fields.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerInput {
    pub phone: Option<String>,
    pub card: Option<String>,
    pub email: Option<String>,
    /// Any text a person types: a phone in any format or its last digits, a card, an email,
    /// part of a name (the back office's search box).
    pub q: Option<String>,
}

impl CustomerInput {
    /// No field given: the caller lists the directory rather than finding someone.
    pub fn is_empty(&self) -> bool {
        self.phone.is_none() && self.card.is_none() && self.email.is_none() && self.q.is_none()
    }
}

/// A customer's points lots and ledger entries, as the customer card shows them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerActivity {
    pub lots: Vec<LotView>,
    pub entries: Vec<LedgerEntryView>,
}

/// One lot of points: where it came from, what is left, when it activates and expires.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LotView {
    pub source: String,
    pub points: i64,
    pub remaining: i64,
    pub activates_at: String,
    pub expires_at: Option<String>,
}

/// One movement of points: a sale's earn or spend, a return, an adjustment, an expiry, …
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LedgerEntryView {
    pub at: String,
    pub kind: String,
    pub points: i64,
    pub till_id: Option<String>,
    pub store: Option<String>,
    /// The receipt, return or adjustment it belongs to.
    pub reference: Option<String>,
}

const COLUMNS: &str =
    "id, phone, name, email, card, birthday, tags, consents, external_id, paid_total, created_at, updated_at, debt";

fn from_row(row: &Row) -> Result<CustomerRecord, DbError> {
    Ok(CustomerRecord {
        profile: CustomerProfile {
            id: row.text(0)?,
            phone: row.text(1)?,
            name: row.opt_text(2)?,
            email: row.opt_text(3)?,
            card: row.text(4)?,
            birthday: row.opt_text(5)?,
            tags: serde_json::from_str(&row.text(6)?).unwrap_or_default(),
            consents: serde_json::from_str(&row.text(7)?).unwrap_or_default(),
            paid_total: Money(row.int(9)?),
            created_at: row.int(10)?,
            updated_at: row.int(11)?,
        },
        external_id: row.opt_text(8)?,
        wallet: Wallet { lots: Vec::new(), debt: row.int(12)? },
    })
}

/// Loads one customer by a unique column (`id`, `phone`, `card`, `email`), lots included.
/// With `lock`, the row is locked until commit (PostgreSQL), so the caller's read-modify-write
/// of the wallet cannot interleave with another process's.
pub(crate) fn load_by(
    sql: &mut dyn Sql,
    column: &'static str,
    value: &str,
    lock: bool,
) -> Result<Option<CustomerRecord>, CloudError> {
    if sql.dialect() == Dialect::Sqlite {
        // In-process: two simple queries cost no round trip, and are cheaper than the join
        // below (a pull reads a customer this way for every change it sends).
        let query = format!("SELECT {COLUMNS} FROM customers WHERE {column} = $1");
        let Some(row) = sql.query_opt(&query, vals![value])? else { return Ok(None) };
        let mut customer = from_row(&row)?;
        customer.wallet.lots = ledger::load_lots(sql, &customer.id)?;
        return Ok(Some(customer));
    }
    // PostgreSQL: the customer and their open lots in one query (a row per lot, or one with no
    // lot): every sale a till pushes loads a customer, and a round trip saved there is saved
    // per event. The row is locked by a statement of its own, before: a statement that waits
    // for a lock keeps the snapshot it started with, and would read the lots as they were
    // before the other writer committed. Nobody needs its rows, so it goes out with the writes
    // held back (see `Sql::write`) and costs no round trip of its own.
    if lock {
        sql.write(&format!("SELECT 1 FROM customers WHERE {column} = $1 FOR UPDATE"), vals![value])?;
    }
    let customer_columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect();
    let lot_columns: Vec<String> = ledger::LOT_COLUMNS.iter().map(|c| format!("l.{c}")).collect();
    let query = format!(
        "SELECT {}, {} FROM customers c LEFT JOIN point_lots l ON l.customer_id = c.id AND l.remaining > 0
         WHERE c.{column} = $1 ORDER BY l.id",
        customer_columns.join(", "),
        lot_columns.join(", ")
    );
    let rows = sql.query(&query, vals![value])?;
    let Some(first) = rows.first() else { return Ok(None) };
    let mut customer = from_row(first)?;
    let lots_at = COLUMNS.split(", ").count();
    for row in &rows {
        if row.opt_int(lots_at)?.is_some() {
            customer.wallet.lots.push(ledger::lot_from_row(row, lots_at)?);
        }
    }
    Ok(Some(customer))
}

/// The open lots of `customers`, in one query (a page of the directory holds up to a thousand).
fn load_lots_of(sql: &mut dyn Sql, customers: &mut [CustomerRecord]) -> Result<(), CloudError> {
    if customers.is_empty() {
        return Ok(());
    }
    let marks: Vec<String> = (1..=customers.len()).map(|i| format!("${i}")).collect();
    let params: Vec<Value> = customers.iter().map(|c| Value::from(c.id.as_str())).collect();
    let rows = sql.query(
        &format!(
            "SELECT customer_id, {} FROM point_lots WHERE remaining > 0 AND customer_id IN ({})",
            ledger::LOT_COLUMNS.join(", "),
            marks.join(", ")
        ),
        &params,
    )?;
    let mut lots: std::collections::HashMap<String, Vec<crate::rules::Lot>> = std::collections::HashMap::new();
    for row in &rows {
        lots.entry(row.text(0)?).or_default().push(ledger::lot_from_row(row, 1)?);
    }
    for customer in customers {
        let mut own = lots.remove(&customer.id).unwrap_or_default();
        // In lot order, as `ledger::load_lots` answers them.
        own.sort_by_key(|lot| lot.id);
        customer.wallet.lots = own;
    }
    Ok(())
}

/// PostgreSQL: the customers `ids` name, locked (in id order, so two processes cannot
/// deadlock on them) and loaded with their open lots, in one round trip. Ids naming nobody
/// (an alias, a typo) are simply absent.
pub(crate) fn load_many_locked(
    sql: &mut dyn Sql,
    ids: &[String],
) -> Result<std::collections::HashMap<String, CustomerRecord>, CloudError> {
    let mut found = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(found);
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let params: Vec<Value> = ids.iter().map(|id| Value::from(id.as_str())).collect();
    // Locked first, by a statement of its own (see `load_by`).
    sql.write(&format!("SELECT 1 FROM customers WHERE id IN ({}) ORDER BY id FOR UPDATE", marks.join(", ")), &params)?;
    let customer_columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect();
    let lot_columns: Vec<String> = ledger::LOT_COLUMNS.iter().map(|c| format!("l.{c}")).collect();
    let rows = sql.query(
        &format!(
            "SELECT {}, {} FROM customers c LEFT JOIN point_lots l ON l.customer_id = c.id AND l.remaining > 0
             WHERE c.id IN ({}) ORDER BY c.id, l.id",
            customer_columns.join(", "),
            lot_columns.join(", "),
            marks.join(", ")
        ),
        &params,
    )?;
    let lots_at = COLUMNS.split(", ").count();
    for row in &rows {
        let id = row.text(0)?;
        if !found.contains_key(&id) {
            found.insert(id.clone(), from_row(row)?);
        }
        if row.opt_int(lots_at)?.is_some() {
            if let Some(customer) = found.get_mut(&id) {
                customer.wallet.lots.push(ledger::lot_from_row(row, lots_at)?);
            }
        }
    }
    Ok(found)
}

/// The customer an id names, following the alias a merge left behind.
pub(crate) fn load_resolved(sql: &mut dyn Sql, id: &str, lock: bool) -> Result<Option<CustomerRecord>, CloudError> {
    if let Some(customer) = load_by(sql, "id", id, lock)? {
        return Ok(Some(customer));
    }
    match sql.query_opt("SELECT customer_id FROM customer_aliases WHERE alias_id = $1", vals![id])? {
        Some(row) => load_by(sql, "id", &row.text(0)?, lock),
        None => Ok(None),
    }
}

pub(super) fn not_found(id: &str) -> CloudError {
    CloudError::NotFound(super::Missing::Customer(id.to_owned()))
}

/// Personal data, checked and normalised, ready to store.
#[derive(Debug, Clone)]
pub(crate) struct CleanCustomer {
    pub id: String,
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `None` = assign one.
    pub card: Option<String>,
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub consents: Consents,
    /// Where the customer joined, as `customer_created` webhooks say: `admin`, `till`, `web`.
    pub source: &'static str,
    /// The store they joined at (a till's, a sign-up link's, a store manager's), if any.
    pub store: Option<String>,
}

impl CleanCustomer {
    /// Checks what the back office (`source` "admin", consents stamped "cloud") or the sign-up
    /// form (both "web") sent to create a customer.
    pub(crate) fn from_request(
        settings: &StoreSettings,
        request: EnrollRequest,
        at: i64,
        source: &'static str,
        consent_source: &str,
    ) -> Result<CleanCustomer, CloudError> {
        Ok(CleanCustomer {
            source,
            store: None,
            id: uuid::Uuid::new_v4().to_string(),
            phone: normalize_phone(&request.phone, settings)?,
            name: clean_name(request.name)?,
            email: clean_email(request.email)?,
            card: fields::clean_card(request.card)?,
            birthday: clean_birthday(request.birthday)?,
            tags: clean_tags(request.tags)?,
            consents: match &request.consents {
                Some(input) => fields::stamp_consents(Consents::default(), input, consent_source, at),
                None => Consents::default(),
            },
        })
    }
}

/// Inserts a checked customer with welcome points, notes the feed rows, and enters the
/// consents they joined with into their history as coming from `origin`.
pub(crate) fn insert(
    sql: &mut dyn Sql,
    settings: &StoreSettings,
    clean: CleanCustomer,
    program: &Program,
    at: i64,
    changes: &mut Changes,
    origin: &ConsentOrigin,
) -> Result<CustomerRecord, CloudError> {
    let card = match clean.card {
        Some(card) => card,
        None => next_card_number(sql, settings)?,
    };
    sql.execute(
        "INSERT INTO customers (id, phone, name, email, card, birthday, tags, consents, created_at, updated_at, source, store)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
        vals![
            &clean.id,
            &clean.phone,
            clean.name.clone(),
            clean.email.clone(),
            &card,
            clean.birthday.clone(),
            serde_json::to_string(&clean.tags)?,
            serde_json::to_string(&clean.consents)?,
            at,
            clean.source,
            clean.store.clone()
        ],
    )?;
    let mut customer = CustomerRecord {
        profile: CustomerProfile {
            id: clean.id.clone(),
            phone: clean.phone.clone(),
            name: clean.name.clone(),
            email: clean.email.clone(),
            card,
            birthday: clean.birthday.clone(),
            tags: clean.tags.clone(),
            consents: clean.consents.clone(),
            paid_total: Money(0),
            created_at: at,
            updated_at: at,
        },
        external_id: None,
        wallet: Wallet::default(),
    };
    consents::record(sql, &customer.id, &Consents::default(), &customer.consents, origin, at, changes)?;
    super::lifecycle::give_code(sql, &customer.id)?;
    if program.welcome_points > 0 {
        let before = customer.wallet.clone();
        let expires = ledger::expiry(program, at);
        customer.wallet.credit(program.welcome_points, LotSource::Welcome, None, at, expires);
        ledger::save_wallet(sql, &customer.id, &before, &customer.wallet, at)?;
        ledger::journal(sql, &customer.id, "welcome", program.welcome_points, None, &customer.id, at)?;
    }
    changes.customer(&customer.id);
    changes.webhook(
        WebhookEventType::CustomerCreated,
        CustomerCreatedData {
            customer: snapshot(&customer),
            points: points_of(&customer.wallet, at),
            source: clean.source.to_owned(),
        },
    );
    Ok(customer)
}

/// Tells `customer_updated` subscribers what an edit changed of a customer's personal data
/// and tags (nothing when nothing did: a consent alone is `consent_changed`).
pub(crate) fn customer_updated(
    changes: &mut Changes,
    before: &CustomerRecord,
    after: &CustomerRecord,
    source: &str,
    till_id: Option<&str>,
) {
    if !changes.hears(WebhookEventType::CustomerUpdated) {
        return;
    }
    let fields = [
        ("phone", before.phone != after.phone),
        ("name", before.name != after.name),
        ("email", before.email != after.email),
        ("birthday", before.birthday != after.birthday),
        ("tags", before.tags != after.tags),
    ];
    let changed: Vec<String> =
        fields.iter().filter(|(_, differs)| *differs).map(|(name, _)| (*name).to_owned()).collect();
    if changed.is_empty() {
        return;
    }
    changes.webhook(
        WebhookEventType::CustomerUpdated,
        crate::wire::CustomerUpdatedData {
            customer: snapshot(after),
            changed,
            source: source.to_owned(),
            till_id: till_id.map(str::to_owned),
        },
    );
}

/// A customer as the feed and webhooks show them.
pub(crate) fn snapshot(customer: &CustomerRecord) -> CustomerSnapshot {
    CustomerSnapshot {
        id: customer.id.clone(),
        phone: customer.phone.clone(),
        name: customer.name.clone(),
        email: customer.email.clone(),
        card: customer.card.clone(),
        birthday: customer.birthday.clone(),
        tags: customer.tags.clone(),
        consents: customer.consents.clone(),
        external_id: customer.external_id.clone(),
        updated_at: rfc3339(customer.updated_at),
        // Only the tills' feed carries it (`pull`), never a webhook.
        code_secret: None,
    }
}

/// A wallet's points at `at`, as the API shows them.
pub(crate) fn points_of(wallet: &Wallet, at: i64) -> PointsBalance {
    PointsBalance { balance: wallet.balance(at), available: wallet.available(at), pending: wallet.pending(at) }
}

/// Writes a customer's personal data back.
pub(crate) fn save_personal(sql: &mut dyn Sql, customer: &CustomerRecord) -> Result<(), CloudError> {
    sql.execute(
        "UPDATE customers SET phone = $1, name = $2, email = $3, card = $4, birthday = $5, tags = $6, consents = $7,
         updated_at = $8 WHERE id = $9",
        vals![
            &customer.phone,
            customer.name.clone(),
            customer.email.clone(),
            &customer.card,
            customer.birthday.clone(),
            serde_json::to_string(&customer.tags)?,
            serde_json::to_string(&customer.consents)?,
            customer.updated_at,
            &customer.id
        ],
    )?;
    Ok(())
}

/// The id of whoever other than `except` holds `value` in `column`.
pub(crate) fn holder(
    sql: &mut dyn Sql,
    column: &'static str,
    value: &str,
    except: Option<&str>,
) -> Result<Option<String>, CloudError> {
    let row = sql.query_opt(&format!("SELECT id FROM customers WHERE {column} = $1"), vals![value])?;
    match row {
        Some(row) => {
            let id = row.text(0)?;
            Ok((Some(id.as_str()) != except).then_some(id))
        }
        None => Ok(None),
    }
}

fn ensure_unique(sql: &mut dyn Sql, column: &'static str, value: &str, except: Option<&str>) -> Result<(), CloudError> {
    match holder(sql, column, value, except)? {
        Some(id) => Err(CloudError::ConflictWith {
            code: match column {
                "phone" => "phone_taken",
                "card" => "card_taken",
                _ => "email_taken",
            },
            message: format!("this {column} already belongs to customer {id}; open that customer instead"),
            // `field` puts the error under its input in the console's dialogs.
            params: vec![("customer", id), ("field", column.to_owned())],
        }),
        None => Ok(()),
    }
}

/// The next free card number the cloud assigns: prefix + 8-digit serial + Luhn check digit.
pub(crate) fn next_card_number(sql: &mut dyn Sql, settings: &StoreSettings) -> Result<String, CloudError> {
    sql.execute("INSERT INTO meta (key, value) VALUES ('card_serial', '0') ON CONFLICT (key) DO NOTHING", &[])?;
    let row =
        sql.query_one(&format!("SELECT value FROM meta WHERE key = 'card_serial'{}", sql.dialect().for_update()), &[])?;
    let mut serial: u64 = row.text(0)?.parse().unwrap_or(0);
    loop {
        serial += 1;
        let card = identity::card_number(&settings.card_prefix, serial, 8);
        if holder(sql, "card", &card, None)?.is_none() {
            sql.execute("UPDATE meta SET value = $1 WHERE key = 'card_serial'", vals![serial.to_string()])?;
            return Ok(card);
        }
    }
}

impl Store {
    /// Creates a customer from the back office; `store` is where they joined (a store
    /// manager's store), if anywhere; `who` (a user's email, `admin-token`) goes into the
    /// consents' history.
    pub async fn create_customer(
        &self,
        request: EnrollRequest,
        store: Option<String>,
        who: String,
    ) -> Result<(CustomerRecord, Program), CloudError> {
        let at = now();
        let mut clean = CleanCustomer::from_request(self.settings(), request, at, "admin", "cloud")?;
        clean.store = store;
        let settings = self.settings().clone();
        self.write(move |sql| {
            let clean = clean.clone();
            ensure_unique(sql, "phone", &clean.phone, None)?;
            if let Some(card) = &clean.card {
                ensure_unique(sql, "card", card, None)?;
            }
            if let Some(email) = &clean.email {
                ensure_unique(sql, "email", email, None)?;
            }
            let program = super::admin::current_program(sql)?;
            let mut changes = Changes::default();
            let origin = ConsentOrigin { who: Some(who.clone()), ..ConsentOrigin::new("cloud") };
            let customer = insert(sql, &settings, clean, &program, at, &mut changes, &origin)?;
            publish(sql, &changes, at)?;
            Ok((customer, program))
        })
        .await
    }

    pub async fn customer(&self, id: String) -> Result<(CustomerRecord, Program), CloudError> {
        self.read(move |sql| {
            let customer = load_resolved(sql, &id, false)?.ok_or_else(|| not_found(&id))?;
            Ok((customer, super::admin::current_program(sql)?))
        })
        .await
    }

    /// Customers by exactly one of phone (any format), card or email.
    pub async fn find_customers(&self, by: CustomerInput) -> Result<(Vec<CustomerRecord>, Program), CloudError> {
        let (column, value): (&'static str, String) = match (by.phone, by.card, by.email) {
            (Some(phone), None, None) => ("phone", normalize_phone(&phone, self.settings())?),
            (None, Some(card), None) => ("card", normalize_card(&card)?),
            (None, None, Some(email)) => ("email", clean_email(Some(email))?.unwrap_or_default()),
            _ => {
                return Err(invalid_with(
                    "invalid_query",
                    "give exactly one of phone, card or email",
                    vec![("one_of", String::new())],
                ))
            }
        };
        self.read(move |sql| {
            let found = load_by(sql, column, &value, false)?;
            Ok((found.into_iter().collect(), super::admin::current_program(sql)?))
        })
        .await
    }

    /// A page of the customers a person at the back office means by `query`, the latest changed
    /// first, within `scope` (filtered in SQL, so a page is full): a phone in any format or its
    /// last 4–10 digits, a card number, an email, or part of a name (in any case, Cyrillic
    /// included).
    pub async fn search_customers(
        &self,
        query: String,
        scope: super::StoreScope,
        page: Page,
    ) -> Result<(Paged<CustomerRecord>, Program), CloudError> {
        let text = query.trim().to_owned();
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let phone_like =
            !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) && !digits.is_empty();
        let full_phone = if phone_like { normalize_phone(&text, self.settings()).ok() } else { None };
        // Names compare folded to lower case by Unicode's rules on both backends
        // (`Sql::fold_case`): "иванов", "ИВАНОВ" and "Иван" all find "Иванов Пётр".
        let folded = text.to_lowercase();
        self.read(move |sql| {
            let mut conditions: Vec<String> = Vec::new();
            let mut params: Vec<Value> = Vec::new();
            let mark = |params: &mut Vec<Value>, value: Value| {
                params.push(value);
                format!("${}", params.len())
            };
            if let Some(phone) = &full_phone {
                let m = mark(&mut params, Value::from(phone.as_str()));
                conditions.push(format!("phone = {m}"));
            }
            if phone_like {
                let m = mark(&mut params, Value::from(digits.as_str()));
                conditions.push(format!("card = {m}"));
                if (4..=10).contains(&digits.len()) {
                    let m = mark(&mut params, Value::from(format!("%{digits}")));
                    conditions.push(format!("phone LIKE {m}"));
                }
            } else if text.contains('@') {
                // Stored emails are lowered by the same Unicode rules (`identity::normalize_email`),
                // so the unique index answers.
                let m = mark(&mut params, Value::from(folded.as_str()));
                conditions.push(format!("email = {m}"));
            } else if text.chars().count() >= 2 {
                let escaped = folded.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                let m = mark(&mut params, Value::from(format!("%{escaped}%")));
                conditions.push(format!("{} LIKE {m} ESCAPE '\\'", sql.fold_case("name")));
            }
            if conditions.is_empty() {
                return Ok((Paged { items: Vec::new(), next_cursor: None }, super::admin::current_program(sql)?));
            }
            let after = page.key("customer_search", &[KeyPart::Int, KeyPart::Text])?;
            let mut query = PageQuery { conditions: vec![format!("({})", conditions.join(" OR "))], params };
            if !scope.is_all() {
                query.condition(|params| scope.customers_condition("customers", params));
            }
            query.after(&["updated_at", "id"], after, true);
            let clauses = query.clauses("updated_at DESC, id DESC", page.fetch());
            let rows = sql.query(&format!("SELECT {COLUMNS} FROM customers{clauses}"), &query.params)?;
            let mut found =
                page.finish("customer_search", rows, |row| key_columns(row, &[11, 0])).try_map(|row| from_row(&row))?;
            load_lots_of(sql, &mut found.items)?;
            Ok((found, super::admin::current_program(sql)?))
        })
        .await
    }

    /// A customer's point lots (with their dates) and latest ledger entries (with till and
    /// store), newest first, for the back office's customer card.
    pub async fn customer_activity(&self, id: String, entries: i64) -> Result<CustomerActivity, CloudError> {
        self.read(move |sql| {
            let lots = sql
                .query(
                    "SELECT source, points, remaining, activates_at, expires_at FROM point_lots
                      WHERE customer_id = $1 ORDER BY activates_at DESC, id DESC LIMIT 500",
                    vals![&id],
                )?
                .iter()
                .map(|row| {
                    Ok(LotView {
                        source: row.text(0)?,
                        points: row.int(1)?,
                        remaining: row.int(2)?,
                        activates_at: rfc3339(row.int(3)?),
                        expires_at: row.opt_int(4)?.map(rfc3339),
                    })
                })
                .collect::<Result<Vec<_>, CloudError>>()?;
            let entries = sql
                .query(
                    "SELECT l.created_at, l.kind, l.points, l.till_id, t.store, l.reference FROM ledger l
                       LEFT JOIN tills t ON t.id = l.till_id
                      WHERE l.customer_id = $1 ORDER BY l.id DESC LIMIT $2",
                    vals![&id, entries],
                )?
                .iter()
                .map(|row| {
                    Ok(LedgerEntryView {
                        at: rfc3339(row.int(0)?),
                        kind: row.text(1)?,
                        points: row.int(2)?,
                        till_id: row.opt_text(3)?,
                        store: row.opt_text(4)?,
                        reference: row.opt_text(5)?,
                    })
                })
                .collect::<Result<Vec<_>, CloudError>>()?;
            Ok(CustomerActivity { lots, entries })
        })
        .await
    }

    /// A page of the whole directory, by id. Ids are not in creation order (a till makes its
    /// own), so a customer created during a walk may fall before its cursor and be left out;
    /// every customer who existed when the walk began is answered exactly once.
    /// Within `scope`, filtered in SQL: a manager's page is a full page of their customers.
    pub async fn list_customers(
        &self,
        page: Page,
        scope: super::StoreScope,
    ) -> Result<(Paged<CustomerRecord>, Program), CloudError> {
        self.read(move |sql| {
            let after = page.key("customers", &[KeyPart::Text])?;
            let mut query = PageQuery::new();
            if !scope.is_all() {
                query.condition(|params| scope.customers_condition("customers", params));
            }
            query.after(&["id"], after, false);
            let clauses = query.clauses("id", page.fetch());
            let rows = sql.query(&format!("SELECT {COLUMNS} FROM customers{clauses}"), &query.params)?;
            let mut customers =
                page.finish("customers", rows, |row| key_columns(row, &[0])).try_map(|row| from_row(&row))?;
            load_lots_of(sql, &mut customers.items)?;
            Ok((customers, super::admin::current_program(sql)?))
        })
        .await
    }

    /// Edits personal data and consents from the back office. Absent fields stay as they are;
    /// a consent that changes enters the history with `who` (a user's email, `admin-token`).
    pub async fn update_customer(
        &self,
        id: String,
        patch: CustomerPatch,
        who: String,
    ) -> Result<(CustomerRecord, Program), CloudError> {
        let at = now();
        let settings = self.settings().clone();
        let phone = match &patch.phone {
            Some(phone) => Some(normalize_phone(phone, &settings)?),
            None => None,
        };
        let email = match &patch.email {
            Some(email) => Some(clean_email(email.clone())?),
            None => None,
        };
        let name = match &patch.name {
            Some(name) => Some(clean_name(name.clone())?),
            None => None,
        };
        let birthday = match &patch.birthday {
            Some(birthday) => Some(clean_birthday(birthday.clone())?),
            None => None,
        };
        let tags = match &patch.tags {
            Some(tags) => Some(clean_tags(tags.clone())?),
            None => None,
        };
        self.write(move |sql| {
            let mut customer = load_resolved(sql, &id, true)?.ok_or_else(|| not_found(&id))?;
            let before = customer.clone();
            let mut changes = Changes::heard_by_subscribers(sql)?;
            if let Some(phone) = &phone {
                ensure_unique(sql, "phone", phone, Some(&customer.id))?;
                customer.phone = phone.clone();
            }
            if let Some(email) = &email {
                if let Some(email) = email {
                    ensure_unique(sql, "email", email, Some(&customer.id))?;
                }
                customer.email = email.clone();
            }
            if let Some(name) = &name {
                customer.name = name.clone();
            }
            if let Some(birthday) = &birthday {
                customer.birthday = birthday.clone();
            }
            if let Some(tags) = &tags {
                customer.tags = tags.clone();
            }
            if let Some(input) = &patch.consents {
                // Merged like a till's, not overwritten: an opt-out recorded in this very second
                // (a till's, dated when received) still beats this opt-in.
                let given = fields::stamp_consents(Consents::default(), input, "cloud", at);
                let merged = super::customer_events::merge_consents(customer.consents.clone(), &given);
                let origin = ConsentOrigin { who: Some(who.clone()), ..ConsentOrigin::new("cloud") };
                consents::record(sql, &customer.id, &customer.consents, &merged, &origin, at, &mut changes)?;
                customer.consents = merged;
            }
            customer.updated_at = at;
            save_personal(sql, &customer)?;
            customer_updated(&mut changes, &before, &customer, "admin", None);
            changes.add(super::FeedKind::Customer, &customer.id);
            publish(sql, &changes, at)?;
            Ok((customer, super::admin::current_program(sql)?))
        })
        .await
    }

    /// A manual correction from the back office, idempotent by its id; may leave debt.
    pub async fn adjust_points(
        &self,
        customer_id: String,
        request: AdjustmentRequest,
        request_hash: RequestHash,
    ) -> Result<AdjustmentResult, CloudError> {
        let at = now();
        self.write(move |sql| {
            if let Some(row) =
                sql.query_opt("SELECT request_hash, result FROM adjustments WHERE id = $1", vals![&request.id])?
            {
                return if request_hash.matches(&row.text(0)?) {
                    Ok(serde_json::from_str(&row.text(1)?)?)
                } else {
                    Err(CloudError::Conflict {
                        code: "adjustment_conflict",
                        message: format!(
                            "adjustment {} was already made with different data; use a new id for a new adjustment",
                            request.id
                        ),
                    })
                };
            }
            let customer = load_resolved(sql, &customer_id, true)?.ok_or_else(|| not_found(&customer_id))?;
            let program = super::admin::current_program(sql)?;
            let mut wallet = customer.wallet.clone();
            ledger::adjust(&mut wallet, &program, request.points, at);
            ledger::save_wallet(sql, &customer.id, &customer.wallet, &wallet, at)?;
            ledger::journal(sql, &customer.id, "adjustment", request.points, None, &request.id, at)?;
            let home = sql.query_one("SELECT COALESCE(store, '') FROM customers WHERE id = $1", vals![&customer.id])?;
            let day = crate::reports::local_day(at);
            super::reports::bump_day(sql, day, "", &home.text(0)?, &Default::default(), request.points)?;
            let result = AdjustmentResult {
                id: request.id.clone(),
                customer_id: customer.id.clone(),
                points: request.points,
                reason: request.reason.clone(),
                balance_after: wallet.balance(at),
                created_at: rfc3339(at),
            };
            sql.execute(
                "INSERT INTO adjustments (id, customer_id, request_hash, result, created_at) VALUES ($1, $2, $3, $4, $5)",
                vals![&request.id, &customer.id, request_hash.stored(), serde_json::to_string(&result)?, at],
            )?;
            let mut changes = Changes::default();
            changes.add(super::FeedKind::Balance, &customer.id);
            changes.webhook(
                WebhookEventType::BalanceChanged,
                BalanceChangedData {
                    customer_id: customer.id.clone(),
                    change: request.points,
                    reason: "adjustment".into(),
                    till_id: None,
                    reference: Some(request.id.clone()),
                    points: points_of(&wallet, at),
                },
            );
            publish(sql, &changes, at)?;
            Ok(result)
        })
        .await
    }
}

// The field checks are `identity::fields`, shared with the agent; these only say which error
// they become here.
pub(crate) fn normalize_phone(input: &str, settings: &StoreSettings) -> Result<String, CloudError> {
    Ok(fields::phone(input, &settings.default_region)?)
}

pub(crate) fn normalize_card(input: &str) -> Result<String, CloudError> {
    Ok(fields::card(input)?)
}

pub(crate) fn clean_email(input: Option<String>) -> Result<Option<String>, CloudError> {
    Ok(fields::clean_email(input)?)
}

pub(crate) fn clean_name(value: Option<String>) -> Result<Option<String>, CloudError> {
    Ok(fields::clean_name(value)?)
}

pub(crate) fn clean_tags(tags: Vec<String>) -> Result<Vec<String>, CloudError> {
    Ok(fields::clean_tags(tags)?)
}

pub(crate) fn clean_birthday(value: Option<String>) -> Result<Option<String>, CloudError> {
    Ok(fields::clean_birthday(value)?)
}
