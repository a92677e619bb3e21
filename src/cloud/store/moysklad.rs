//! The cloud's use cases for the MoySklad adapter, part one: a store's access key (stored as
//! SHA-256) and the till its MoySklad documents are booked on; customers found, linked and
//! created through MoySklad; verification codes. Part two (`moysklad_ledger.rs`) prices,
//! records sales and returns.
//!
//! MoySklad's counterparty id is kept in `customers.external_id`, which the change feed carries
//! to every till. A store's MoySklad connection is an ordinary till row named "MoySklad" that
//! never enrolls: its sales get gapless seqs and events like a till's, so admin receipts,
//! conflicts, balances and the feed treat them like any other.

use super::customers::{holder, insert, load_by, load_resolved, CleanCustomer, CustomerRecord};
use super::{invalid_with, publish, Changes, CloudError, FeedKind, Store};
use crate::clock::now;
use crate::cloud::db::Sql;
use crate::cloud::token::{random_token, secret_hash};
use crate::identity::{self, SearchKey};
use crate::moysklad::service::{CodePurpose, IssuedCode, Link, Lookup, NewCode};
use crate::vals;
use crate::wire::EnrollRequest;

/// The name of the till row a store's MoySklad documents are booked on.
pub const TILL_NAME: &str = "MoySklad";

/// A new access key, shown once.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MoyskladKey {
    pub store: String,
    /// Give this to MoySklad as the access key ("ключ доступа"). The cloud keeps only its hash.
    pub key: String,
    /// The till row the store's MoySklad sales and returns are booked on.
    pub till_id: String,
    /// Relative to the cloud's public address: the program address to give MoySklad.
    pub base_path: String,
}

/// A store connected to MoySklad: when, and whether its key works.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MoyskladStore {
    pub store: String,
    /// The till row its MoySklad documents are booked on.
    pub till_id: String,
    /// When its first key was made.
    pub connected_at: String,
    /// Whether MoySklad can call with its key now (`false` once revoked).
    pub active: bool,
    /// When the key in use was made (a new key replaces the old); `null` once revoked.
    pub key_created_at: Option<String>,
    /// When the key was revoked; `null` while it works.
    pub revoked_at: Option<String>,
}

/// What a key opens: the store and its MoySklad till.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoyskladScope {
    pub store: String,
    pub till_id: String,
}

impl Store {
    /// Creates the store's access key, or replaces it (the old key stops working at once).
    pub async fn moysklad_new_key(&self, store: String) -> Result<MoyskladKey, CloudError> {
        let store = store.trim().to_owned();
        if store.is_empty() || store.chars().count() > 200 || store.chars().any(char::is_control) {
            return Err(invalid_with(
                "invalid_field",
                "store must be 1 to 200 characters of text",
                vec![("field", "store".into()), ("max_label", "200".into())],
            ));
        }
        let key = random_token();
        let key_hash = secret_hash(&key);
        let new_till = uuid::Uuid::new_v4().to_string();
        let at = now();
        let (store_name, till_id) = (store.clone(), new_till.clone());
        let till_id = self
            .write(move |sql| {
                let existing = sql.query_opt(
                    &format!("SELECT till_id FROM moysklad_stores WHERE store = $1{}", sql.dialect().for_update()),
                    vals![&store_name],
                )?;
                match existing {
                    Some(row) => {
                        let till_id = row.text(0)?;
                        sql.execute(
                            "UPDATE moysklad_stores SET key_hash = $1, updated_at = $2 WHERE store = $3",
                            vals![&key_hash, at, &store_name],
                        )?;
                        Ok(till_id)
                    }
                    None => {
                        sql.execute(
                            "INSERT INTO tills (id, store, name, created_at) VALUES ($1, $2, $3, $4)",
                            vals![&till_id, &store_name, TILL_NAME, at],
                        )?;
                        sql.execute(
                            "INSERT INTO moysklad_stores (store, key_hash, till_id, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, $4)",
                            vals![&store_name, &key_hash, &till_id, at],
                        )?;
                        Ok(till_id.clone())
                    }
                }
            })
            .await?;
        Ok(MoyskladKey { store, key, till_id, base_path: "/moysklad/v1/".to_owned() })
    }

    /// Every store that has or had a key, by name. The keys themselves are not kept.
    pub async fn moysklad_stores(&self) -> Result<Vec<MoyskladStore>, CloudError> {
        self.read(|sql| {
            let rows = sql.query(
                "SELECT store, till_id, created_at, updated_at, key_hash IS NOT NULL FROM moysklad_stores ORDER BY store",
                &[],
            )?;
            rows.iter()
                .map(|row| {
                    let (changed, active) = (crate::clock::rfc3339(row.int(3)?), row.int(4)? != 0);
                    Ok(MoyskladStore {
                        store: row.text(0)?,
                        till_id: row.text(1)?,
                        connected_at: crate::clock::rfc3339(row.int(2)?),
                        active,
                        key_created_at: active.then(|| changed.clone()),
                        revoked_at: (!active).then_some(changed),
                    })
                })
                .collect()
        })
        .await
    }

    /// Revokes the store's key; its till and documents stay.
    pub async fn moysklad_revoke_key(&self, store: String) -> Result<(), CloudError> {
        let at = now();
        self.write(move |sql| {
            let changed = sql.execute(
                "UPDATE moysklad_stores SET key_hash = NULL, updated_at = $1 WHERE store = $2 AND key_hash IS NOT NULL",
                vals![at, &store],
            )?;
            if changed == 0 {
                return Err(CloudError::NotFound(super::Missing::MoyskladKey { store: store.clone() }));
            }
            Ok(())
        })
        .await
    }

    /// The store a key belongs to (looked up by its hash), or `None`.
    pub async fn moysklad_scope(&self, key: String) -> Result<Option<MoyskladScope>, CloudError> {
        let hash = secret_hash(&key);
        self.read(move |sql| {
            match sql.query_opt("SELECT store, till_id FROM moysklad_stores WHERE key_hash = $1", vals![&hash])? {
                Some(row) => Ok(Some(MoyskladScope { store: row.text(0)?, till_id: row.text(1)? })),
                None => Ok(None),
            }
        })
        .await
    }

    /// The customer linked to MoySklad's counterparty id.
    pub async fn moysklad_linked(&self, ms_id: String) -> Result<Option<CustomerRecord>, CloudError> {
        self.read(move |sql| load_by(sql, "external_id", &ms_id, false)).await
    }

    /// Customers matching what a cashier typed or scanned: a card (or QR), a whole phone, an
    /// email; the first meaning that finds someone wins. (The cloud keeps no index for the last
    /// digits of a phone, so that meaning is not tried here.)
    pub async fn moysklad_search(&self, query: String) -> Result<Vec<CustomerRecord>, CloudError> {
        let keys = identity::classify(&query, &self.settings().default_region);
        self.read(move |sql| {
            for key in &keys {
                let found = match key {
                    SearchKey::Card(card) | SearchKey::Qr(card) => load_by(sql, "card", card, false)?,
                    SearchKey::Phone(phone) => load_by(sql, "phone", phone.as_str(), false)?,
                    SearchKey::Email(email) => load_by(sql, "email", email, false)?,
                    SearchKey::PhoneSuffix(_) => None,
                };
                if let Some(customer) = found {
                    return Ok(vec![customer]);
                }
            }
            Ok(Vec::new())
        })
        .await
    }

    /// The customer with exactly this card or phone; unreadable text finds no one.
    pub async fn moysklad_find(&self, lookup: Lookup) -> Result<Option<CustomerRecord>, CloudError> {
        let found = match &lookup {
            Lookup::Card(card) => identity::normalize_card(card).map(|card| ("card", card)),
            Lookup::Phone(phone) => identity::normalize_phone(phone, &self.settings().default_region)
                .ok()
                .map(|phone| ("phone", phone.into_string())),
        };
        let Some((column, value)) = found else { return Ok(None) };
        self.read(move |sql| load_by(sql, column, &value, false)).await
    }

    /// Links MoySklad's id to a customer that has none; the feed carries it to the tills.
    pub async fn moysklad_link(&self, ms_id: String, customer_id: String) -> Result<Link, CloudError> {
        let at = now();
        self.write(move |sql| {
            let customer = load_resolved(sql, &customer_id, true)?
                .ok_or_else(|| CloudError::NotFound(super::Missing::Customer(customer_id.clone())))?;
            if customer.external_id.as_deref() == Some(ms_id.as_str()) {
                return Ok(Link::Already);
            }
            if customer.external_id.is_some() || holder(sql, "external_id", &ms_id, None)?.is_some() {
                return Ok(Link::Elsewhere);
            }
            sql.execute(
                "UPDATE customers SET external_id = $1, updated_at = $2 WHERE id = $3",
                vals![&ms_id, at, &customer.id],
            )?;
            let mut changes = Changes::default();
            changes.add(FeedKind::Customer, &customer.id);
            publish(sql, &changes, at)?;
            Ok(Link::Linked)
        })
        .await
    }

    /// Creates a customer linked to MoySklad's id in one transaction (card assigned when none
    /// is given, welcome points). Errors: `phone_taken`, `card_taken`, `email_taken`, `link_taken`.
    pub async fn moysklad_create(&self, ms_id: String, request: EnrollRequest) -> Result<CustomerRecord, CloudError> {
        let at = now();
        let clean = CleanCustomer::from_request(self.settings(), request, at, "moysklad", "moysklad")?;
        let settings = self.settings().clone();
        self.write(move |sql| {
            if holder(sql, "external_id", &ms_id, None)?.is_some() {
                return Err(CloudError::Conflict {
                    code: "link_taken",
                    message: format!("MoySklad counterparty {ms_id} is linked to a customer already"),
                });
            }
            let mut checks = vec![("phone", Some(clean.phone.clone())), ("card", clean.card.clone())];
            checks.push(("email", clean.email.clone()));
            for (column, value) in checks {
                if let Some(value) = value {
                    if let Some(id) = holder(sql, column, &value, None)? {
                        return Err(CloudError::ConflictWith {
                            code: match column {
                                "phone" => "phone_taken",
                                "card" => "card_taken",
                                _ => "email_taken",
                            },
                            message: format!("this {column} already belongs to customer {id}"),
                            params: vec![("customer", id)],
                        });
                    }
                }
            }
            let program = super::admin::current_program(sql)?;
            let mut changes = Changes::default();
            let origin = super::consents::ConsentOrigin::new("moysklad");
            let mut customer = insert(sql, &settings, clean.clone(), &program, at, &mut changes, &origin)?;
            sql.execute("UPDATE customers SET external_id = $1 WHERE id = $2", vals![&ms_id, &customer.id])?;
            customer.external_id = Some(ms_id.clone());
            publish(sql, &changes, at)?;
            Ok(customer)
        })
        .await
    }

    /// Stores a verification code, or answers the one issued less than `repeat_seconds` ago.
    pub async fn moysklad_issue_code(&self, new: NewCode) -> Result<IssuedCode, CloudError> {
        self.write(move |sql| {
            // Codes a day past expiry are of no use even to an audit; keep the table small.
            sql.execute("DELETE FROM moysklad_codes WHERE expires_at < $1", vals![new.now - 86_400])?;
            let recent = sql.query_opt(
                "SELECT code, issued_at FROM moysklad_codes
                 WHERE purpose = $1 AND subject = $2 AND used_at IS NULL AND expires_at > $3
                 ORDER BY issued_at DESC, id DESC LIMIT 1",
                vals![new.purpose.as_str(), &new.subject, new.now],
            )?;
            if let Some(row) = recent {
                let issued_at = row.int(1)?;
                if new.now - issued_at < new.repeat_seconds {
                    let repeat_in = new.repeat_seconds - (new.now - issued_at);
                    return Ok(IssuedCode { code: row.text(0)?, fresh: false, repeat_in });
                }
            }
            sql.execute(
                "INSERT INTO moysklad_codes (purpose, subject, code, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                vals![new.purpose.as_str(), &new.subject, &new.code, new.now, new.now + new.ttl_seconds],
            )?;
            Ok(IssuedCode { code: new.code.clone(), fresh: true, repeat_in: new.repeat_seconds })
        })
        .await
    }

    /// Uses up the newest valid code for `subject`; whether there was one.
    pub async fn moysklad_consume_code(
        &self,
        purpose: CodePurpose,
        subject: String,
        at: i64,
    ) -> Result<bool, CloudError> {
        self.write(move |sql| {
            let row = sql.query_opt(
                &format!(
                    "SELECT id FROM moysklad_codes WHERE purpose = $1 AND subject = $2 AND used_at IS NULL AND expires_at > $3
                     ORDER BY issued_at DESC, id DESC LIMIT 1{}",
                    sql.dialect().for_update()
                ),
                vals![purpose.as_str(), &subject, at],
            )?;
            let Some(row) = row else { return Ok(false) };
            let used = sql.execute(
                "UPDATE moysklad_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                vals![at, row.int(0)?],
            )?;
            Ok(used > 0)
        })
        .await
    }
}

/// Whether a till row is a store's MoySklad connection.
pub(crate) fn is_moysklad_till(sql: &mut dyn Sql, till_id: &str) -> Result<bool, crate::cloud::db::DbError> {
    Ok(sql.query_opt("SELECT store FROM moysklad_stores WHERE till_id = $1", vals![till_id])?.is_some())
}
