//! The customer directory: search, enrollment, edits and manual adjustments.

use super::Missing;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::records::{
    customer_from_row, enqueue, journal, load_customer_by, load_points, save_wallet, Entry, CUSTOMER_COLUMNS,
};
use super::{CustomerRecord, SearchOutcome, Store, StoreError, StoreSettings};
use crate::identity::{self, fields, CustomerProfile, SearchKey};
use crate::rules::{LotSource, Program, DAY};
use crate::wire::{
    AdjustmentRequest, AdjustmentResult, Consents, ConsentsInput, CustomerEvent, EventPayload, RequestHash,
};

/// How many customers a last-digits search answers at most.
const SUFFIX_LIMIT: usize = 20;

/// A customer to enroll, as the till sent it (not yet normalised).
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub card: Option<String>,
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub consents: Option<ConsentsInput>,
    /// Where the data came from, recorded with consents: `till`, `import`, …
    pub source: &'static str,
}

/// Fields to change; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    pub phone: Option<String>,
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub birthday: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub consents: Option<ConsentsInput>,
}

impl Store {
    /// Finds customers by phone (any format), card, QR text, email or the last 4+ phone digits.
    /// Runs on the calling thread (see [`Store::read_here`]): the till's hottest path.
    pub async fn search_customers(&self, query: String) -> Result<SearchOutcome, StoreError> {
        self.read_here(move |conn, settings| search(conn, settings, &query))
    }

    pub async fn customer(&self, id: String) -> Result<CustomerRecord, StoreError> {
        self.read(move |conn, settings| {
            load_customer_by(conn, settings, "id", &id)?
                .ok_or_else(|| StoreError::NotFound(Missing::Customer(Some(id.clone()))))
        })
        .await
    }

    /// Enrolls a customer in one transaction (with welcome points and an outbox event).
    pub async fn enroll(
        &self,
        new: NewCustomer,
        program: Arc<Program>,
        now: i64,
    ) -> Result<CustomerRecord, StoreError> {
        self.enroll_referred(new, None, program, now).await
    }

    /// [`Store::enroll`] with the friend's code the customer gave (already normalised by
    /// `identity::normalize_referral_code`). The till keeps no referrals: the code travels in
    /// the `customer_created` event, and the cloud decides what it is worth.
    pub async fn enroll_referred(
        &self,
        new: NewCustomer,
        referral_code: Option<String>,
        program: Arc<Program>,
        now: i64,
    ) -> Result<CustomerRecord, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let customer = insert_customer(&tx, settings, new, &program, now)?;
            let event = CustomerEvent { referral_code, ..customer_event(&customer, &[]) };
            let seq = enqueue(&tx, &EventPayload::CustomerCreated(event), now)?;
            let welcome = Entry {
                customer_id: &customer.id,
                kind: "welcome",
                points: customer.wallet.balance(now),
                reference: &customer.id,
                activates_at: None,
            };
            journal(&tx, &[welcome], seq, now)?;
            tx.commit()?;
            Ok(customer)
        })
        .await
    }

    /// Edits personal data and consents.
    pub async fn update_customer(
        &self,
        id: String,
        update: CustomerUpdate,
        now: i64,
    ) -> Result<CustomerRecord, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut customer = load_customer_by(&tx, settings, "id", &id)?
                .ok_or_else(|| StoreError::NotFound(Missing::Customer(Some(id.clone()))))?;
            let mut changed = Vec::new();
            if let Some(phone) = update.phone {
                let phone = normalize_phone(&phone, settings)?;
                if phone != customer.phone {
                    ensure_unique(&tx, "phone", &phone, Some(&customer.id))?;
                    customer.phone = phone;
                    changed.push("phone");
                }
            }
            if let Some(name) = update.name {
                customer.name = fields::clean_name(name)?;
                changed.push("name");
            }
            if let Some(email) = update.email {
                let email = fields::clean_email(email)?;
                if let Some(email) = &email {
                    ensure_unique(&tx, "email", email, Some(&customer.id))?;
                }
                customer.email = email;
                changed.push("email");
            }
            if let Some(birthday) = update.birthday {
                customer.birthday = fields::clean_birthday(birthday)?;
                changed.push("birthday");
            }
            if let Some(tags) = update.tags {
                customer.tags = clean_tags(tags)?;
                changed.push("tags");
            }
            if let Some(input) = update.consents {
                customer.consents = fields::stamp_consents(std::mem::take(&mut customer.consents), &input, "till", now);
                changed.push("consents");
            }
            customer.updated_at = now;
            tx.execute(
                "UPDATE customers SET phone = ?2, phone_rev = ?3, name = ?4, email = ?5, birthday = ?6, tags = ?7,
                 consents = ?8, updated_at = ?9 WHERE id = ?1",
                params![
                    customer.id,
                    customer.phone,
                    reversed_digits(&customer.phone),
                    customer.name,
                    customer.email,
                    customer.birthday,
                    serde_json::to_string(&customer.tags)?,
                    serde_json::to_string(&customer.consents)?,
                    now
                ],
            )?;
            enqueue(&tx, &EventPayload::CustomerUpdated(customer_event(&customer, &changed)), now)?;
            tx.commit()?;
            Ok(customer)
        })
        .await
    }

    /// A manual correction of points, idempotent by its id. The balance may go into debt.
    pub async fn adjust_points(
        &self,
        customer_id: String,
        request: AdjustmentRequest,
        request_hash: RequestHash,
        program: Arc<Program>,
        now: i64,
    ) -> Result<AdjustmentResult, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let stored: Option<(String, String)> = tx
                .query_row("SELECT request_hash, result FROM adjustments WHERE id = ?1", [&request.id], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            if let Some((hash, result)) = stored {
                return if request_hash.matches(&hash) {
                    serde_json::from_str(&result)
                        .map_err(|e| StoreError::corrupt(format!("adjustment {}", request.id), e))
                } else {
                    Err(StoreError::Conflict {
                        code: "adjustment_conflict",
                        message: format!(
                            "adjustment {} was already made with different data; use a new id for a new adjustment",
                            request.id
                        ),
                    })
                };
            }
            let customer = load_customer_by(&tx, settings, "id", &customer_id)?
                .ok_or_else(|| StoreError::NotFound(Missing::Customer(Some(customer_id.clone()))))?;
            let before = customer.wallet.clone();
            let mut wallet = before.clone();
            if request.points > 0 {
                let expires = (program.expiry_days > 0).then(|| now + program.expiry_days * DAY);
                wallet.credit(request.points, LotSource::Adjustment, None, now, expires);
            } else if request.points < 0 {
                wallet.debit(-request.points, now);
            }
            save_wallet(&tx, &customer.id, &before, &wallet)?;
            let result = AdjustmentResult {
                id: request.id.clone(),
                customer_id: customer.id.clone(),
                points: request.points,
                reason: request.reason.clone(),
                balance_after: customer.points(now).balance + request.points,
                created_at: crate::clock::rfc3339(now),
            };
            tx.execute(
                "INSERT INTO adjustments (id, customer_id, request_hash, result, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![request.id, customer.id, request_hash.stored(), serde_json::to_string(&result)?, now],
            )?;
            let seq = enqueue(&tx, &EventPayload::Adjustment(result.clone()), now)?;
            let entry = Entry {
                customer_id: &customer.id,
                kind: "adjustment",
                points: request.points,
                reference: &request.id,
                activates_at: None,
            };
            journal(&tx, &[entry], seq, now)?;
            tx.commit()?;
            Ok(result)
        })
        .await
    }
}

/// Tries each interpretation of the query in order; the first that finds someone wins.
pub(crate) fn search(conn: &Connection, settings: &StoreSettings, query: &str) -> Result<SearchOutcome, StoreError> {
    // The customer's page's signed QR token, checked offline (`verification::signed_card`).
    if let Some(card) = super::verification::signed_card(conn, query, crate::clock::now())? {
        let customers = load_customer_by(conn, settings, "card", &card)?.into_iter().collect();
        return Ok(SearchOutcome { matched_by: Some("qr"), customers });
    }
    for key in identity::classify(query, &settings.default_region) {
        let matched_by = identity::matched_by_name(&key);
        let found = match &key {
            SearchKey::Card(card) | SearchKey::Qr(card) => {
                load_customer_by(conn, settings, "card", card)?.into_iter().collect()
            }
            SearchKey::Phone(phone) => load_customer_by(conn, settings, "phone", phone.as_str())?.into_iter().collect(),
            SearchKey::Email(email) => load_customer_by(conn, settings, "email", email)?.into_iter().collect(),
            SearchKey::PhoneSuffix(digits) => by_phone_suffix(conn, settings, digits)?,
        };
        if !found.is_empty() {
            return Ok(SearchOutcome { matched_by: Some(matched_by), customers: found });
        }
    }
    Ok(SearchOutcome { matched_by: None, customers: Vec::new() })
}

/// Customers whose phone ends with `digits`, the first [`SUFFIX_LIMIT`] by phone.
///
/// The matches are found and ordered from the `phone_rev` index alone (the reversed digits
/// are the phone without its `+`, so they order the same): four digits match about one
/// customer in ten thousand, and reading each match's row just to sort them would cost a
/// random page each. Only the rows answered are read.
fn by_phone_suffix(
    conn: &Connection,
    settings: &StoreSettings,
    digits: &str,
) -> Result<Vec<CustomerRecord>, StoreError> {
    let low: String = digits.chars().rev().collect();
    // ':' sorts right after '9', so [low, low + ':') holds exactly the strings starting with `low`.
    let high = format!("{low}:");
    let mut matches = conn
        .prepare_cached("SELECT phone_rev, rowid FROM customers WHERE phone_rev >= ?1 AND phone_rev < ?2")?
        .query_map(params![low, high], |row| {
            let reversed: String = row.get(0)?;
            Ok((reversed.chars().rev().collect::<String>(), row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<(String, i64)>>>()?;
    matches.sort_unstable();
    matches.truncate(SUFFIX_LIMIT);
    let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE rowid = ?1");
    let mut row = conn.prepare_cached(&sql)?;
    let mut customers = Vec::with_capacity(matches.len());
    for (_, rowid) in &matches {
        if let Some(customer) = row.query_row([rowid], customer_from_row).optional()? {
            customers.push(customer);
        }
    }
    drop(row);
    for customer in &mut customers {
        load_points(conn, settings, customer)?;
    }
    Ok(customers)
}

/// Inserts a new customer inside the caller's transaction: normalises and checks every
/// identifier, assigns a card when none is given and grants the welcome points (the caller
/// journals them with the event's seq).
pub(crate) fn insert_customer(
    conn: &Connection,
    settings: &StoreSettings,
    new: NewCustomer,
    program: &Program,
    now: i64,
) -> Result<CustomerRecord, StoreError> {
    let phone = normalize_phone(&new.phone, settings)?;
    ensure_unique(conn, "phone", &phone, None)?;
    let email = match fields::clean_email(new.email)? {
        Some(email) => {
            ensure_unique(conn, "email", &email, None)?;
            Some(email)
        }
        None => None,
    };
    let card = match fields::clean_card(new.card)? {
        Some(card) => {
            ensure_unique(conn, "card", &card, None)?;
            card
        }
        None => next_card_number(conn, settings)?,
    };
    let birthday = fields::clean_birthday(new.birthday)?;
    let consents = match &new.consents {
        Some(input) => fields::stamp_consents(Consents::default(), input, new.source, now),
        None => Consents::default(),
    };
    let mut customer = CustomerRecord {
        profile: CustomerProfile {
            id: uuid::Uuid::now_v7().to_string(),
            phone,
            name: fields::clean_name(new.name)?,
            email,
            card,
            birthday,
            tags: clean_tags(new.tags)?,
            consents,
            paid_total: crate::rules::Money(0),
            created_at: now,
            updated_at: now,
        },
        wallet: Default::default(),
        connected: None,
    };
    conn.prepare_cached(
        "INSERT INTO customers (id, phone, phone_rev, name, email, card, birthday, tags, consents, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    )?
    .execute(params![
        customer.id,
        customer.phone,
        reversed_digits(&customer.phone),
        customer.name,
        customer.email,
        customer.card,
        customer.birthday,
        serde_json::to_string(&customer.tags)?,
        serde_json::to_string(&customer.consents)?,
        now
    ])?;
    if program.welcome_points > 0 {
        let before = customer.wallet.clone();
        let expires = (program.expiry_days > 0).then(|| now + program.expiry_days * DAY);
        customer.wallet.credit(program.welcome_points, LotSource::Welcome, None, now, expires);
        save_wallet(conn, &customer.id, &before, &customer.wallet)?;
    }
    Ok(customer)
}

/// The personal data an outbox event carries, so the cloud can apply it without asking back.
/// `fields` names what an edit changed (empty for a new customer).
pub(crate) fn customer_event(customer: &CustomerRecord, fields: &[&str]) -> CustomerEvent {
    CustomerEvent {
        customer_id: customer.id.clone(),
        fields: fields.iter().map(|field| (*field).to_owned()).collect(),
        phone: customer.phone.clone(),
        name: customer.name.clone(),
        email: customer.email.clone(),
        card: customer.card.clone(),
        birthday: customer.birthday.clone(),
        tags: customer.tags.clone(),
        consents: customer.consents.clone(),
        external_id: None,
        referral_code: None,
    }
}

pub(crate) fn normalize_phone(input: &str, settings: &StoreSettings) -> Result<String, StoreError> {
    Ok(fields::phone(input, &settings.default_region)?)
}

/// Fails with a 409 naming the customer who already holds `value` in `column`.
fn ensure_unique(
    conn: &Connection,
    column: &'static str,
    value: &str,
    except_id: Option<&str>,
) -> Result<(), StoreError> {
    let sql = format!("SELECT id, name, card FROM customers WHERE {column} = ?1");
    let holder: Option<(String, Option<String>, String)> =
        conn.prepare_cached(&sql)?.query_row([value], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).optional()?;
    match holder {
        Some((id, name, card)) if Some(id.as_str()) != except_id => Err(StoreError::ConflictWith {
            code: match column {
                "phone" => "phone_taken",
                "card" => "card_taken",
                _ => "email_taken",
            },
            // The id is for programs (in `details.customer`), not for the sentence a cashier reads.
            message: format!(
                "this {column} already belongs to customer {} (card {card}); open that customer instead",
                name.as_deref().unwrap_or("without a name")
            ),
            params: {
                let mut params = vec![("customer", id.clone()), ("card", card.clone())];
                params.extend(name.clone().map(|name| ("name", name)));
                params
            },
        }),
        _ => Ok(()),
    }
}

/// The next free card number: prefix + 8-digit serial + Luhn check digit.
fn next_card_number(conn: &Connection, settings: &StoreSettings) -> Result<String, StoreError> {
    let mut serial: u64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'card_serial'", [], |row| row.get::<_, String>(0))
        .optional()?
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    loop {
        serial += 1;
        let card = identity::card_number(&settings.card_prefix, serial, 8);
        let taken: bool = conn.prepare_cached("SELECT 1 FROM customers WHERE card = ?1")?.exists([&card])?;
        if !taken {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('card_serial', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [serial.to_string()],
            )?;
            return Ok(card);
        }
    }
}

pub(crate) fn reversed_digits(phone: &str) -> String {
    phone.chars().rev().filter(char::is_ascii_digit).collect()
}

// The field checks are `identity::fields`, shared with the cloud; this only says which error
// they become here.
fn clean_tags(tags: Vec<String>) -> Result<Vec<String>, StoreError> {
    Ok(fields::clean_tags(tags)?)
}
