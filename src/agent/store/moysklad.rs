//! The agent store's use cases for the MoySklad adapter: the link between MoySklad's
//! counterparty ids and our customers, enrolling a linked customer, the MoySklad sales a return
//! can name, and verification codes. Sales and returns themselves go through
//! `commit_receipt` and `return_receipt`, like any other.
//!
//! A link is looked up in `moysklad_links` (made on this till) and then in
//! `customers.external_id` (made in the cloud and pulled here). A link made here travels to the
//! cloud in the customer event's `external_id` (`customer_created` for a MoySklad create,
//! `customer_updated` naming only `external_id` for a later link); the cloud keeps its own link
//! when it already has a different one, and pulls bring the cloud's back into `external_id`.

use super::Missing;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::customers::{customer_event, insert_customer, normalize_phone, search};
use super::records::{enqueue, journal, load_customer_by, Entry};
use super::{CustomerRecord, NewCustomer, Store, StoreError, StoreSettings};
use crate::identity;
use crate::moysklad::service::{CodePurpose, IssuedCode, Link, Lookup, NewCode, SaleRecord};
use crate::rules::Program;
use crate::wire::{CustomerEvent, EventPayload};

/// How many recent sales a return without a named sale looks through.
const RECENT_SALES: i64 = 20;

/// A customer and the MoySklad id linked to them, if any.
pub type Linked = (CustomerRecord, Option<String>);

impl Store {
    /// The customer linked to MoySklad's counterparty id.
    pub async fn moysklad_linked(&self, ms_id: String) -> Result<Option<Linked>, StoreError> {
        self.read(move |conn, settings| {
            let id: Option<String> = conn
                .prepare_cached(
                    "SELECT customer_id FROM moysklad_links WHERE ms_id = ?1
                     UNION ALL SELECT id FROM customers WHERE external_id = ?1 LIMIT 1",
                )?
                .query_row([&ms_id], |row| row.get(0))
                .optional()?;
            match id {
                Some(id) => with_link(conn, load_customer_by(conn, settings, "id", &id)?),
                None => Ok(None),
            }
        })
        .await
    }

    /// Customers matching a search box text, each with their MoySklad link.
    pub async fn moysklad_search(&self, query: String) -> Result<Vec<Linked>, StoreError> {
        self.read(move |conn, settings| {
            let found = search(conn, settings, &query)?;
            let mut linked = Vec::with_capacity(found.customers.len());
            for customer in found.customers {
                let ms_id = ms_id_of(conn, &customer.id)?;
                linked.push((customer, ms_id));
            }
            Ok(linked)
        })
        .await
    }

    /// The customer with exactly this card or phone (normalised here; unreadable text finds
    /// no one).
    pub async fn moysklad_find(&self, lookup: Lookup) -> Result<Option<Linked>, StoreError> {
        self.read(move |conn, settings| {
            let found = match &lookup {
                Lookup::Card(card) => match identity::normalize_card(card) {
                    Some(card) => load_customer_by(conn, settings, "card", &card)?,
                    None => None,
                },
                Lookup::Phone(phone) => match normalize_phone(phone, settings) {
                    Ok(phone) => load_customer_by(conn, settings, "phone", &phone)?,
                    Err(_) => None,
                },
            };
            with_link(conn, found)
        })
        .await
    }

    /// Links MoySklad's id to a customer; one id per customer and one customer per id.
    /// A new link goes to the cloud as a `customer_updated` event naming only `external_id`.
    pub async fn moysklad_link(&self, ms_id: String, customer_id: String, now: i64) -> Result<Link, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let link = link(&tx, settings, &ms_id, &customer_id, now)?;
            tx.commit()?;
            Ok(link)
        })
        .await
    }

    /// Enrolls a customer linked to MoySklad's id in one transaction: the customer, their
    /// welcome points, the link and the outbox event. `link_taken` when the id is linked already.
    pub async fn moysklad_enroll(
        &self,
        ms_id: String,
        new: NewCustomer,
        program: Arc<Program>,
        now: i64,
    ) -> Result<Linked, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if linked_id(&tx, &ms_id)?.is_some() {
                return Err(StoreError::Conflict {
                    code: "link_taken",
                    message: format!("MoySklad counterparty {ms_id} is linked to a customer already"),
                });
            }
            let customer = insert_customer(&tx, settings, new, &program, now)?;
            let seq = enqueue(&tx, &EventPayload::CustomerCreated(linked_event(&customer, &[], &ms_id)), now)?;
            let welcome = Entry {
                customer_id: &customer.id,
                kind: "welcome",
                points: customer.wallet.balance(now),
                reference: &customer.id,
                activates_at: None,
            };
            journal(&tx, &[welcome], seq, now)?;
            tx.execute(
                "INSERT INTO moysklad_links (ms_id, customer_id, created_at) VALUES (?1, ?2, ?3)",
                params![ms_id, customer.id, now],
            )?;
            tx.commit()?;
            Ok((customer, Some(ms_id)))
        })
        .await
    }

    /// A MoySklad sale by its receipt id, with what is left to return per line.
    pub async fn moysklad_sale(&self, receipt_id: String) -> Result<Option<SaleRecord>, StoreError> {
        self.read(move |conn, _| sale_record(conn, &receipt_id)).await
    }

    /// A customer's recent MoySklad sales, newest first.
    pub async fn moysklad_recent_sales(&self, customer_id: String) -> Result<Vec<SaleRecord>, StoreError> {
        self.read(move |conn, _| {
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT id FROM receipts WHERE customer_id = ?1 AND id LIKE 'moysklad:%'
                     ORDER BY created_at DESC, rowid DESC LIMIT ?2",
                )?
                .query_map(params![customer_id, RECENT_SALES], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut sales = Vec::with_capacity(ids.len());
            for id in ids {
                sales.extend(sale_record(conn, &id)?);
            }
            Ok(sales)
        })
        .await
    }

    /// The receipt a return with this id was made against.
    pub async fn moysklad_returned(&self, return_id: String) -> Result<Option<String>, StoreError> {
        self.read(move |conn, _| {
            Ok(conn
                .prepare_cached("SELECT receipt_id FROM returns WHERE id = ?1")?
                .query_row([&return_id], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    /// Stores a verification code, or answers the one issued less than `repeat_seconds` ago.
    pub async fn moysklad_issue_code(&self, new: NewCode) -> Result<IssuedCode, StoreError> {
        self.write(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Codes a day past expiry are of no use even to an audit; keep the table small.
            tx.execute("DELETE FROM moysklad_codes WHERE expires_at < ?1", [new.now - 86_400])?;
            let recent: Option<(String, i64)> = tx
                .query_row(
                    "SELECT code, issued_at FROM moysklad_codes
                     WHERE purpose = ?1 AND subject = ?2 AND used_at IS NULL AND expires_at > ?3
                     ORDER BY issued_at DESC, id DESC LIMIT 1",
                    params![new.purpose.as_str(), new.subject, new.now],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let issued = match recent {
                Some((code, issued_at)) if new.now - issued_at < new.repeat_seconds => {
                    IssuedCode { code, fresh: false, repeat_in: new.repeat_seconds - (new.now - issued_at) }
                }
                _ => {
                    tx.execute(
                        "INSERT INTO moysklad_codes (purpose, subject, code, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![new.purpose.as_str(), new.subject, new.code, new.now, new.now + new.ttl_seconds],
                    )?;
                    IssuedCode { code: new.code.clone(), fresh: true, repeat_in: new.repeat_seconds }
                }
            };
            tx.commit()?;
            Ok(issued)
        })
        .await
    }

    /// Uses up the newest valid code for `subject`; whether there was one.
    pub async fn moysklad_consume_code(
        &self,
        purpose: CodePurpose,
        subject: String,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let used = tx.execute(
                "UPDATE moysklad_codes SET used_at = ?3 WHERE id = (
                     SELECT id FROM moysklad_codes
                     WHERE purpose = ?1 AND subject = ?2 AND used_at IS NULL AND expires_at > ?3
                     ORDER BY issued_at DESC, id DESC LIMIT 1)",
                params![purpose.as_str(), subject, now],
            )?;
            tx.commit()?;
            Ok(used > 0)
        })
        .await
    }
}

fn linked_id(conn: &Connection, ms_id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT customer_id FROM moysklad_links WHERE ms_id = ?1
             UNION ALL SELECT id FROM customers WHERE external_id = ?1 LIMIT 1",
        )?
        .query_row([ms_id], |row| row.get(0))
        .optional()?)
}

/// The MoySklad id linked to a customer: made here, else pulled from the cloud.
fn ms_id_of(conn: &Connection, customer_id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT ms_id FROM moysklad_links WHERE customer_id = ?1
             UNION ALL SELECT external_id FROM customers WHERE id = ?1 AND external_id IS NOT NULL LIMIT 1",
        )?
        .query_row([customer_id], |row| row.get(0))
        .optional()?)
}

fn with_link(conn: &Connection, customer: Option<CustomerRecord>) -> Result<Option<Linked>, StoreError> {
    match customer {
        Some(customer) => {
            let ms_id = ms_id_of(conn, &customer.id)?;
            Ok(Some((customer, ms_id)))
        }
        None => Ok(None),
    }
}

/// A customer event that carries the MoySklad link, so the cloud (and through it every till)
/// learns it: `external_id` in `wire::CustomerEvent`.
fn linked_event(customer: &CustomerRecord, fields: &[&str], ms_id: &str) -> CustomerEvent {
    CustomerEvent { external_id: Some(ms_id.to_owned()), ..customer_event(customer, fields) }
}

fn link(
    conn: &Connection,
    settings: &StoreSettings,
    ms_id: &str,
    customer_id: &str,
    now: i64,
) -> Result<Link, StoreError> {
    let by_id = linked_id(conn, ms_id)?;
    let of_customer = ms_id_of(conn, customer_id)?;
    Ok(match (by_id, of_customer) {
        (Some(holder), _) if holder == customer_id => Link::Already,
        (Some(_), _) | (None, Some(_)) => Link::Elsewhere,
        (None, None) => {
            let customer = load_customer_by(conn, settings, "id", customer_id)?
                .ok_or_else(|| StoreError::NotFound(Missing::Customer(Some(customer_id.to_owned()))))?;
            conn.execute(
                "INSERT INTO moysklad_links (ms_id, customer_id, created_at) VALUES (?1, ?2, ?3)",
                params![ms_id, customer.id, now],
            )?;
            enqueue(conn, &EventPayload::CustomerUpdated(linked_event(&customer, &["external_id"], ms_id)), now)?;
            Link::Linked
        }
    })
}

fn sale_record(conn: &Connection, receipt_id: &str) -> Result<Option<SaleRecord>, StoreError> {
    let customer: Option<Option<String>> = conn
        .prepare_cached("SELECT customer_id FROM receipts WHERE id = ?1")?
        .query_row([receipt_id], |row| row.get(0))
        .optional()?;
    let Some(customer_id) = customer else { return Ok(None) };
    let lines = conn
        .prepare_cached("SELECT sku, quantity - returned FROM receipt_lines WHERE receipt_id = ?1 ORDER BY line_no")?
        .query_map([receipt_id], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(SaleRecord { receipt_id: receipt_id.to_owned(), customer_id, lines }))
}
