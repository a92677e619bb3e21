//! The self-service page's use cases (`GET /me`): a shopper signs in with a code sent by SMS
//! to their phone, reads their card, points and receipts, and withdraws a consent.
//!
//! A code lives in `me_codes`, one per phone, as a salted SHA-256 (never in clear) with the
//! wrong attempts made against it: [`MAX_CODE_ATTEMPTS`] wrong ones and it is dead, whatever
//! comes next, until a new code is asked for (which the API's per-phone limit bounds). A right
//! code is used up at once. A session is the SHA-256 of its cookie, the customer and the phone
//! it was opened for: it is void once the customer's phone is no longer that phone, or the
//! customer was merged into another ([`Store::me_session`] checks both on every use).
//!
//! This module does not send SMS or rate-limit: the API does (`api::me`).

use super::customers::{holder, load_resolved};
use super::{consents, publish, Changes, CloudError, Store};
use crate::cloud::token::{random_token, secret_hash};
use crate::identity::fields;
use crate::vals;
use crate::wire::{Consents, ConsentsInput, SaleEvent};

/// How long a sign-in code may be used.
pub const CODE_SECONDS: i64 = 5 * 60;
/// Wrong codes before a code is dead.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// How long a self-service session lives (not extended by use: a lost phone's session ends).
pub const ME_SESSION_SECONDS: i64 = 7 * 24 * 3600;

/// What checking a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// The right code: a session was stored for this customer.
    SignedIn { customer_id: String },
    /// A wrong code; this many attempts are left.
    Wrong { attempts_left: i64 },
    /// Too many wrong codes: this code is dead.
    Locked,
    /// No live code for this phone (never asked for, expired, or used).
    NoCode,
}

/// One group of points expiring at the same moment.
#[derive(Debug, Clone)]
pub struct Expiring {
    pub points: i64,
    pub at: i64,
}

/// One receipt of the customer, as the page lists it.
#[derive(Debug, Clone)]
pub struct MeReceipt {
    pub at: i64,
    pub store: Option<String>,
    /// What was paid (minor units).
    pub total: i64,
    pub earned: i64,
    pub spent: i64,
}

fn code_hash(salt: &str, code: &str) -> String {
    secret_hash(&format!("{salt}:{code}"))
}

impl Store {
    /// A phone as the customer directory keys it (E.164), from any common format.
    pub fn me_phone(&self, input: &str) -> Result<String, CloudError> {
        super::customers::normalize_phone(input, self.settings())
    }

    /// Stores a fresh `code` for `phone` (E.164) when a customer has that phone, replacing any
    /// earlier one, and answers that customer's id; an unknown phone stores nothing.
    pub async fn me_new_code(&self, phone: String, code: String, at: i64) -> Result<Option<String>, CloudError> {
        self.write(move |sql| {
            sql.execute("DELETE FROM me_codes WHERE expires_at <= $1", vals![at])?;
            let Some(customer_id) = holder(sql, "phone", &phone, None)? else { return Ok(None) };
            let salt = random_token();
            sql.execute("DELETE FROM me_codes WHERE phone = $1", vals![&phone])?;
            sql.execute(
                "INSERT INTO me_codes (phone, customer_id, salt, code_hash, attempts, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, 0, $5, $6)",
                vals![&phone, &customer_id, &salt, code_hash(&salt, &code), at + CODE_SECONDS, at],
            )?;
            Ok(Some(customer_id))
        })
        .await
    }

    /// Checks `code` for `phone`; a right one is used up and opens a session stored as
    /// `token_hash`.
    pub async fn me_check_code(
        &self,
        phone: String,
        code: String,
        token_hash: String,
        at: i64,
    ) -> Result<CodeCheck, CloudError> {
        self.write(move |sql| {
            let Some(row) = sql.query_opt(
                "SELECT customer_id, salt, code_hash, attempts, expires_at FROM me_codes WHERE phone = $1",
                vals![&phone],
            )?
            else {
                return Ok(CodeCheck::NoCode);
            };
            let (customer_id, salt, stored, attempts, expires_at) =
                (row.text(0)?, row.text(1)?, row.text(2)?, row.int(3)?, row.int(4)?);
            if expires_at <= at {
                sql.execute("DELETE FROM me_codes WHERE phone = $1", vals![&phone])?;
                return Ok(CodeCheck::NoCode);
            }
            if attempts >= MAX_CODE_ATTEMPTS {
                return Ok(CodeCheck::Locked);
            }
            let given = code_hash(&salt, &code);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), stored.as_bytes())) {
                sql.execute("UPDATE me_codes SET attempts = attempts + 1 WHERE phone = $1", vals![&phone])?;
                let left = MAX_CODE_ATTEMPTS - attempts - 1;
                return Ok(if left <= 0 { CodeCheck::Locked } else { CodeCheck::Wrong { attempts_left: left } });
            }
            sql.execute("DELETE FROM me_codes WHERE phone = $1", vals![&phone])?;
            sql.execute("DELETE FROM me_sessions WHERE expires_at <= $1", vals![at])?;
            sql.execute(
                "INSERT INTO me_sessions (token_hash, customer_id, phone, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                vals![&token_hash, &customer_id, &phone, at, at + ME_SESSION_SECONDS],
            )?;
            Ok(CodeCheck::SignedIn { customer_id })
        })
        .await
    }

    /// The customer of a live session. A session past its expiry, of a customer who no longer
    /// has the phone it was opened for, or who was merged into another, is ended and `None`.
    pub async fn me_session(&self, token_hash: String, at: i64) -> Result<Option<String>, CloudError> {
        self.write(move |sql| {
            let Some(row) = sql.query_opt(
                "SELECT customer_id, phone, expires_at FROM me_sessions WHERE token_hash = $1",
                vals![&token_hash],
            )?
            else {
                return Ok(None);
            };
            let (customer_id, phone, expires_at) = (row.text(0)?, row.text(1)?, row.int(2)?);
            let current = load_resolved(sql, &customer_id, false)?;
            let valid = expires_at > at
                && current.as_ref().is_some_and(|customer| customer.id == customer_id && customer.phone == phone);
            if !valid {
                sql.execute("DELETE FROM me_sessions WHERE token_hash = $1", vals![&token_hash])?;
                return Ok(None);
            }
            Ok(Some(customer_id))
        })
        .await
    }

    /// Ends a self-service session (log out).
    pub async fn me_end_session(&self, token_hash: String) -> Result<(), CloudError> {
        self.write(move |sql| {
            sql.execute("DELETE FROM me_sessions WHERE token_hash = $1", vals![&token_hash])?;
            Ok(())
        })
        .await
    }

    /// The customer's points still to expire, grouped by moment, soonest first (at most 10).
    pub async fn me_expiring(&self, customer_id: String, at: i64) -> Result<Vec<Expiring>, CloudError> {
        self.read(move |sql| {
            sql.query(
                "SELECT expires_at, SUM(remaining) FROM point_lots
                  WHERE customer_id = $1 AND remaining > 0 AND expires_at IS NOT NULL AND expires_at > $2
                  GROUP BY expires_at ORDER BY expires_at LIMIT 10",
                vals![&customer_id, at],
            )?
            .iter()
            .map(|row| Ok(Expiring { at: row.int(0)?, points: row.int(1)? }))
            .collect()
        })
        .await
    }

    /// The customer's latest receipts (at most `limit`), newest first, with their store.
    pub async fn me_receipts(&self, customer_id: String, limit: i64) -> Result<Vec<MeReceipt>, CloudError> {
        self.read(move |sql| {
            sql.query(
                "SELECT r.applied_at, t.store, r.body FROM receipts r LEFT JOIN tills t ON t.id = r.till_id
                  WHERE r.customer_id = $1 ORDER BY r.applied_at DESC, r.till_id DESC, r.seq DESC LIMIT $2",
                vals![&customer_id, limit],
            )?
            .iter()
            .map(|row| {
                let sale: SaleEvent = serde_json::from_str(&row.text(2)?)
                    .map_err(|source| CloudError::Corrupt { what: "a receipt of the customer".to_owned(), source })?;
                Ok(MeReceipt {
                    at: row.int(0)?,
                    store: row.opt_text(1)?,
                    total: sale.receipt.total,
                    earned: sale.receipt.points.earn,
                    spent: sale.receipt.points.redeem,
                })
            })
            .collect()
        })
        .await
    }

    /// The customer withdraws their consent to `channel` (`sms` or `email`) on the
    /// self-service page: recorded with source `web` in the consent history, and sent to every
    /// till through the feed like any other change of the customer.
    pub async fn me_withdraw_consent(
        &self,
        customer_id: String,
        channel: &'static str,
    ) -> Result<Consents, CloudError> {
        let at = crate::clock::now();
        let input = match channel {
            "sms" => ConsentsInput { sms: Some(false), ..ConsentsInput::default() },
            _ => ConsentsInput { email: Some(false), ..ConsentsInput::default() },
        };
        self.write(move |sql| {
            let mut customer =
                load_resolved(sql, &customer_id, true)?.ok_or_else(|| super::customers::not_found(&customer_id))?;
            let before = customer.clone();
            let mut changes = Changes::heard_by_subscribers(sql)?;
            let given = fields::stamp_consents(Consents::default(), &input, "web", at);
            let merged = super::customer_events::merge_consents(customer.consents.clone(), &given);
            let origin = consents::ConsentOrigin::new("web");
            // Also tells `consent_changed` webhook subscribers (the chain's mailing tool).
            consents::record(sql, &customer.id, &customer.consents, &merged, &origin, at, &mut changes)?;
            if merged == customer.consents {
                return Ok(merged);
            }
            customer.consents = merged.clone();
            customer.updated_at = at;
            super::customers::save_personal(sql, &customer)?;
            super::customers::customer_updated(&mut changes, &before, &customer, "web", None);
            changes.add(super::FeedKind::Customer, &customer.id);
            publish(sql, &changes, at)?;
            Ok(merged)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_kept_salted_never_in_clear() {
        let hash = code_hash("salt", "123456");
        assert!(!hash.contains("123456"));
        assert_ne!(hash, code_hash("other", "123456"));
        assert_eq!(hash, code_hash("salt", "123456"));
    }
}
