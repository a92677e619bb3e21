//! Spending codes in the cloud (issue 14): the secret of each customer's time-based code, and
//! the code steps the tills' sales were confirmed with.
//!
//! A secret is made the first time the customer's page shows a code, and published as a
//! customer change so that every till has it before the customer reaches one (a till checks
//! the code offline). It is sent only in the tills' feed (`pull`), never in an admin answer or
//! a webhook. A till takes a code once; the same code at two tills, which no till can see
//! alone, is a `code_replayed` conflict when the second sale arrives.

use super::admin::{record_conflict, NewConflict};
use super::apply::{Applied, Context};
use super::{publish, Changes, CloudError, Store};
use crate::cloud::db::{DbError, Sql};
use crate::http::sentence::Sentence;
use crate::vals;
use crate::verification::totp;

/// The program's key for signed QR tokens (base32), made with the database. A new key is
/// published as a program change, so tills that already hold the program get it too.
pub(crate) fn ensure_qr_key(sql: &mut dyn Sql) -> Result<(), CloudError> {
    if qr_key_text(sql)?.is_some() {
        return Ok(());
    }
    sql.execute(
        "INSERT INTO meta (key, value) VALUES ('qr_key', $1) ON CONFLICT (key) DO NOTHING",
        vals![crate::verification::signed_qr::new_key()],
    )?;
    let mut changes = Changes::default();
    changes.add(super::FeedKind::Program, "current");
    publish(sql, &changes, crate::clock::now())
}

/// The program's QR key as stored (base32).
pub(crate) fn qr_key_text(sql: &mut dyn Sql) -> Result<Option<String>, DbError> {
    sql.query_opt("SELECT value FROM meta WHERE key = 'qr_key'", &[])?.map(|row| row.text(0)).transpose()
}

impl Store {
    /// A signed QR token for `card`, valid for `lifetime` seconds from `at`, and when it
    /// expires (`None` only if the key is missing, which `Store::new` prevents).
    pub async fn signed_qr(&self, card: String, at: i64, lifetime: i64) -> Result<Option<(String, i64)>, CloudError> {
        self.read(move |sql| {
            let Some(key) = qr_key_text(sql)?.as_deref().and_then(totp::decode_secret) else { return Ok(None) };
            let expires = at + lifetime;
            Ok(Some((crate::verification::signed_qr::sign(&key, &card, expires), expires)))
        })
        .await
    }
}

/// The customer's secret (base32), when they have one.
pub(crate) fn secret_of(sql: &mut dyn Sql, customer_id: &str) -> Result<Option<String>, DbError> {
    sql.query_opt("SELECT secret FROM customer_code_secrets WHERE customer_id = $1", vals![customer_id])?
        .map(|row| row.text(0))
        .transpose()
}

impl Store {
    /// The customer's time-based code secret, made and sent to the tills the first time.
    pub async fn code_secret(&self, customer_id: String, at: i64) -> Result<Vec<u8>, CloudError> {
        self.write(move |sql| {
            if let Some(secret) = secret_of(sql, &customer_id)?.as_deref().and_then(totp::decode_secret) {
                return Ok(secret);
            }
            let secret = totp::new_secret();
            sql.write(
                "INSERT INTO customer_code_secrets (customer_id, secret, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (customer_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at",
                vals![&customer_id, totp::encode_secret(&secret), at],
            )?;
            let mut changes = Changes::default();
            changes.customer(&customer_id);
            publish(sql, &changes, at)?;
            Ok(secret)
        })
        .await
    }
}

/// Notes that a till's sale was confirmed with `customer_id`'s code of `step`; the same step
/// at another till is a conflict (both sales stand: the goods are gone).
pub(super) fn record_use(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    customer_id: &str,
    step: i64,
    receipt_id: &str,
) -> Result<(), Applied> {
    sql.write(
        "INSERT INTO code_uses (customer_id, step, till_id, receipt_id, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (customer_id, step, till_id) DO NOTHING",
        vals![customer_id, step, cx.till_id, receipt_id, cx.at],
    )?;
    let others = sql.query(
        "SELECT till_id, receipt_id FROM code_uses WHERE customer_id = $1 AND step = $2 AND till_id <> $3 ORDER BY at",
        vals![customer_id, step, cx.till_id],
    )?;
    let Some(first) = others.first() else { return Ok(()) };
    let (other_till, other_receipt) = (first.text(0)?, first.text(1)?);
    record_conflict(
        sql,
        NewConflict {
            kind: "code_replayed",
            till_id: Some(cx.till_id),
            event: Some(cx.event),
            customer_id: Some(customer_id),
            receipt_id: Some(receipt_id),
            happened: Sentence::new(
                "conflict_code_replayed",
                format!(
                    "receipt {receipt_id} spent points with the customer's code that receipt {other_receipt} had already used at another till"
                ),
            )
            .with("receipt", receipt_id)
            .with("other_receipt", &other_receipt),
            done: Sentence::new(
                "conflict_code_replayed_done",
                "both sales stand; check with the customer whether they made both, and block their card if not",
            ),
            details: serde_json::json!({ "step": step, "other_till": other_till, "other_receipt": other_receipt }),
        },
        cx.at,
    )?;
    Ok(())
}
