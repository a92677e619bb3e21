//! Spending codes at this till (issue 14): the SMS codes it sent (kept as salted digests, one
//! live code per customer), the customer's time-based codes (their secret comes from the cloud
//! with the directory) with every step this till accepted, and the wrong-code count that
//! locks a customer's codes for a while. The arithmetic is `crate::verification`'s.

use rusqlite::{params, Connection, OptionalExtension};

use super::records::CustomerRecord;
use super::StoreError;
use crate::rules::Program;
use crate::verification::signed_qr::{self, SignedQr};
use crate::verification::{normalize_code, sms_code, totp};
use crate::wire::{Verification, VerifiedBy};

/// What a spending asks of its code.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CodeUse<'a> {
    /// Only looks: nothing is written, a wrong code included (the caller checks again with
    /// `Check` to count it). Lets a quote with a good code stay a read.
    Peek,
    /// A quote: the code is checked (a wrong one counts) but stays usable.
    Check,
    /// A commit: the code is used up by this receipt.
    Spend { receipt_id: &'a str },
}

/// How a sale's spending stands with the program's `verify_spending`.
#[derive(Debug)]
pub(crate) enum Confirmation {
    /// Nothing to confirm (the program does not ask, or nothing is spent).
    NotNeeded,
    Verified(VerifiedBy),
    /// Refused; the wrong attempt (if it was one) is written and must be committed.
    Refused(StoreError),
}

/// A code made for a customer, to be sent.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub customer_id: String,
    pub phone: String,
    pub code: String,
    pub expires_in_s: i64,
}

struct CodeRow {
    digest: Option<String>,
    salt: Option<String>,
    sent_at: Option<i64>,
    expires_at: Option<i64>,
    used_at: Option<i64>,
    wrong: i64,
    locked_until: Option<i64>,
}

fn code_row(conn: &Connection, customer_id: &str) -> Result<Option<CodeRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT digest, salt, sent_at, expires_at, used_at, wrong, locked_until FROM spending_codes
             WHERE customer_id = ?1",
        )?
        .query_row([customer_id], |row| {
            Ok(CodeRow {
                digest: row.get(0)?,
                salt: row.get(1)?,
                sent_at: row.get(2)?,
                expires_at: row.get(3)?,
                used_at: row.get(4)?,
                wrong: row.get(5)?,
                locked_until: row.get(6)?,
            })
        })
        .optional()?)
}

/// The customer's time-based code secret, when the cloud has sent one.
pub(crate) fn code_secret(conn: &Connection, customer_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT code_secret FROM customer_secrets WHERE customer_id = ?1")?
        .query_row([customer_id], |row| row.get(0))
        .optional()?;
    Ok(text.as_deref().and_then(totp::decode_secret))
}

/// Keeps (or forgets) the secret the cloud sent for a customer.
pub(crate) fn save_code_secret(conn: &Connection, customer_id: &str, secret: Option<&str>) -> Result<(), StoreError> {
    match secret {
        Some(secret) => conn
            .prepare_cached(
                "INSERT INTO customer_secrets (customer_id, code_secret) VALUES (?1, ?2)
                 ON CONFLICT (customer_id) DO UPDATE SET code_secret = excluded.code_secret",
            )?
            .execute(params![customer_id, secret])?,
        None => conn.prepare_cached("DELETE FROM customer_secrets WHERE customer_id = ?1")?.execute([customer_id])?,
    };
    Ok(())
}

fn locked(until: i64, now: i64) -> StoreError {
    let seconds = (until - now).max(1);
    StoreError::TooSoon {
        code: "verification_locked",
        message: format!(
            "too many wrong codes for this customer: their codes are locked for {} more min; pay without points meanwhile",
            (seconds + 59) / 60
        ),
        retry_after_s: seconds,
    }
}

pub(crate) fn required(customer_id: &str) -> StoreError {
    StoreError::InvalidWith {
        code: "verification_required",
        message: format!(
            "this program confirms spending points with a code: ask the customer for the code on their page, or send one \
             by SMS with POST /v1/customers/{customer_id}/verification-codes, then send it as \"verification\": {{\"code\": \"…\"}}"
        ),
        params: vec![("customer_id", customer_id.to_owned())],
    }
}

fn signed_qr_required(customer_id: &str) -> StoreError {
    StoreError::InvalidWith {
        code: "signed_qr_required",
        message: "this program lets points be spent only with the QR code of the customer's page or their code: scan \
                  the page's QR code (send it as customer.qr), or send the customer a code by SMS"
            .into(),
        params: vec![("customer_id", customer_id.to_owned())],
    }
}

/// Why a spending without a code is refused: the program confirms every spending with a code,
/// or it wants the page's signed QR code, which the request did not name the customer by.
pub(crate) fn refusal_without_code(program: &Program, customer_id: &str) -> StoreError {
    if program.verify_spending {
        required(customer_id)
    } else {
        signed_qr_required(customer_id)
    }
}

/// Whether a request names its customer by a signed QR token that is valid now.
pub(crate) fn named_by_signed_qr(conn: &Connection, reference: Option<&crate::wire::CustomerRef>, now: i64) -> bool {
    let Some(qr) = reference.and_then(|r| r.qr.as_deref()) else { return false };
    matches!(signed_card(conn, qr, now), Ok(Some(_)))
}

/// Confirms a spending of `redeem` points by `customer` with `verification`, as the program
/// asks. A wrong code is counted here (in `conn`'s transaction, which the caller commits even
/// though it refuses); the [`sms_code::MAX_WRONG`]-th locks the customer's codes.
/// `signed_qr`: the request named the customer by a valid signed QR token, which is enough
/// under `require_signed_qr` (but not under `verify_spending`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn confirm(
    conn: &Connection,
    program: &Program,
    customer: Option<&CustomerRecord>,
    verification: Option<&Verification>,
    redeem: i64,
    signed_qr: bool,
    now: i64,
    code_use: CodeUse<'_>,
) -> Result<Confirmation, StoreError> {
    let needs_code = program.verify_spending || (program.require_signed_qr && !signed_qr);
    let (true, true, Some(customer)) = (needs_code, redeem > 0, customer) else {
        return Ok(Confirmation::NotNeeded);
    };
    let Some(verification) = verification else {
        return Ok(Confirmation::Refused(refusal_without_code(program, &customer.id)));
    };
    let row = code_row(conn, &customer.id)?;
    if let Some(until) = row.as_ref().and_then(|r| r.locked_until).filter(|until| *until > now) {
        return Ok(Confirmation::Refused(locked(until, now)));
    }
    let Some(code) = normalize_code(&verification.code) else {
        return Ok(Confirmation::Refused(StoreError::Invalid {
            code: "verification_failed",
            message: "a code is six digits; ask the customer to read it again".into(),
        }));
    };
    // The SMS code this till sent, while it lives and is unused.
    let mut checkable = false;
    if let Some(row) = &row {
        let live = row.used_at.is_none() && row.expires_at.is_some_and(|at| at > now);
        if let (true, Some(digest), Some(salt)) = (live, &row.digest, &row.salt) {
            checkable = true;
            if sms_code::matches(&code, salt, digest) {
                if let CodeUse::Spend { .. } = code_use {
                    conn.prepare_cached("UPDATE spending_codes SET used_at = ?1, wrong = 0 WHERE customer_id = ?2")?
                        .execute(params![now, customer.id])?;
                }
                return Ok(Confirmation::Verified(VerifiedBy::Sms));
            }
        }
        let spent = row.used_at.is_some() && row.expires_at.is_some_and(|at| at > now);
        if let (true, Some(digest), Some(salt)) = (spent, &row.digest, &row.salt) {
            if sms_code::matches(&code, salt, digest) {
                return Ok(Confirmation::Refused(StoreError::Invalid {
                    code: "verification_code_used",
                    message: "this code was already used for a sale; send the customer a new one".into(),
                }));
            }
        }
    }
    // The customer's time-based code, once per step at this till.
    if let Some(secret) = code_secret(conn, &customer.id)? {
        checkable = true;
        if let Some(step) = totp::verify(&secret, &code, now) {
            let used: Option<String> = conn
                .prepare_cached("SELECT receipt_id FROM totp_uses WHERE customer_id = ?1 AND step = ?2")?
                .query_row(params![customer.id, step], |row| row.get(0))
                .optional()?;
            if used.is_some() {
                return Ok(Confirmation::Refused(StoreError::Invalid {
                    code: "verification_code_used",
                    message: "this code was already used at this till; ask the customer for the next one (it changes every 30 s)"
                        .into(),
                }));
            }
            if let CodeUse::Spend { receipt_id } = code_use {
                conn.prepare_cached(
                    "INSERT INTO totp_uses (customer_id, step, receipt_id, used_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![customer.id, step, receipt_id, now])?;
                conn.prepare_cached("UPDATE spending_codes SET wrong = 0 WHERE customer_id = ?1")?
                    .execute([&customer.id])?;
            }
            return Ok(Confirmation::Verified(VerifiedBy::Totp { step }));
        }
    }
    if !checkable {
        // Nothing here to check it against (no SMS code sent from this till, and the cloud has
        // not sent the customer's own secret yet): not the customer's mistake, not counted.
        return Ok(Confirmation::Refused(StoreError::Invalid {
            code: "verification_unavailable",
            message: "this till cannot check that code: it sent the customer no SMS code, and it has not received the \
                      code of the customer's page yet; send a code by SMS, or sync the till"
                .into(),
        }));
    }
    if let CodeUse::Peek = code_use {
        return Ok(Confirmation::Refused(StoreError::Invalid { code: "verification_failed", message: String::new() }));
    }
    // Wrong: counted, and the last allowed one locks.
    let wrong = row.as_ref().map_or(0, |r| r.wrong) + 1;
    if wrong >= sms_code::MAX_WRONG {
        let until = now + sms_code::LOCK_SECONDS;
        conn.prepare_cached(
            "INSERT INTO spending_codes (customer_id, wrong, locked_until) VALUES (?1, 0, ?2)
             ON CONFLICT (customer_id) DO UPDATE SET wrong = 0, locked_until = excluded.locked_until,
                 digest = NULL, salt = NULL, expires_at = NULL",
        )?
        .execute(params![customer.id, until])?;
        tracing::warn!(customer = %customer.id, "wrong spending codes: the customer's codes are locked");
        return Ok(Confirmation::Refused(locked(until, now)));
    }
    conn.prepare_cached(
        "INSERT INTO spending_codes (customer_id, wrong) VALUES (?1, ?2)
         ON CONFLICT (customer_id) DO UPDATE SET wrong = excluded.wrong",
    )?
    .execute(params![customer.id, wrong])?;
    let left = sms_code::MAX_WRONG - wrong;
    Ok(Confirmation::Refused(StoreError::InvalidWith {
        code: "verification_failed",
        message: format!(
            "the code is wrong or expired; {left} more tries before the customer's codes are locked for 15 min"
        ),
        params: vec![("attempts_left", left.to_string())],
    }))
}

/// Makes a new SMS code for `customer`, unless their codes are locked or one was sent within
/// [`sms_code::RESEND_SECONDS`]. Only its digest is kept.
pub(crate) fn issue(conn: &Connection, customer: &CustomerRecord, now: i64) -> Result<IssuedCode, StoreError> {
    let row = code_row(conn, &customer.id)?;
    if let Some(until) = row.as_ref().and_then(|r| r.locked_until).filter(|until| *until > now) {
        return Err(locked(until, now));
    }
    if let Some(sent_at) = row.as_ref().and_then(|r| r.sent_at).filter(|at| at + sms_code::RESEND_SECONDS > now) {
        let wait = sent_at + sms_code::RESEND_SECONDS - now;
        return Err(StoreError::TooSoon {
            code: "verification_code_recent",
            message: format!("a code was sent less than a minute ago; ask the customer to check their SMS, or send another in {wait} s"),
            retry_after_s: wait,
        });
    }
    let code = sms_code::new_code();
    let salt = sms_code::new_salt();
    conn.prepare_cached(
        "INSERT INTO spending_codes (customer_id, digest, salt, sent_at, expires_at, used_at, wrong)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, 0)
         ON CONFLICT (customer_id) DO UPDATE SET digest = excluded.digest, salt = excluded.salt,
             sent_at = excluded.sent_at, expires_at = excluded.expires_at, used_at = NULL",
    )?
    .execute(params![customer.id, sms_code::digest(&code, &salt), salt, now, now + sms_code::CODE_TTL_SECONDS])?;
    Ok(IssuedCode {
        customer_id: customer.id.clone(),
        phone: customer.phone.clone(),
        code,
        expires_in_s: sms_code::CODE_TTL_SECONDS,
    })
}

/// Forgets a code that could not be sent, so another may be asked for at once.
pub(crate) fn withdraw(conn: &Connection, customer_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE spending_codes SET digest = NULL, salt = NULL, sent_at = NULL, expires_at = NULL WHERE customer_id = ?1",
    )?
    .execute([customer_id])?;
    Ok(())
}

impl super::Store {
    /// A new SMS spending code for the customer `customer_id`, to send (see [`issue`]).
    pub async fn issue_spending_code(&self, customer_id: String, now: i64) -> Result<IssuedCode, StoreError> {
        self.write(move |conn, settings| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let customer = super::records::load_customer_by(&tx, settings, "id", &customer_id)?
                .ok_or_else(|| StoreError::NotFound(super::Missing::Customer(Some(customer_id.clone()))))?;
            let issued = issue(&tx, &customer, now)?;
            tx.commit()?;
            Ok(issued)
        })
        .await
    }

    /// Forgets a code that could not be sent (see [`withdraw`]).
    pub async fn withdraw_spending_code(&self, customer_id: String) -> Result<(), StoreError> {
        self.write(move |conn, _| withdraw(conn, &customer_id)).await
    }
}

/// The card a signed QR token (`loyalty:v1:…`, the customer's page) names, checked offline
/// with the program's key from the cloud; `Ok(None)` when the text is no such token (a card
/// number, a plain card QR, a phone: looked up as before). An expired, forged or uncheckable
/// token is refused with a sentence for the cashier.
pub(crate) fn signed_card(conn: &Connection, text: &str, now: i64) -> Result<Option<String>, StoreError> {
    let trimmed = text.trim_start();
    // Every lookup passes here: the key is read only for a text that can be a token.
    if !trimmed.get(..signed_qr::PREFIX.len()).is_some_and(|head| head.eq_ignore_ascii_case(signed_qr::PREFIX)) {
        return Ok(None);
    }
    let key: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'qr_key'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    let key = key.as_deref().and_then(totp::decode_secret);
    match signed_qr::read(key.as_deref(), text, now) {
        SignedQr::NotSigned => Ok(None),
        SignedQr::Valid { card } => Ok(Some(card)),
        SignedQr::Expired { .. } => Err(StoreError::Invalid {
            code: "qr_expired",
            message:
                "this QR code has expired (the customer's page shows a new one every minute); ask the customer to \
                      show the page again"
                    .into(),
        }),
        SignedQr::Forged => Err(StoreError::Invalid {
            code: "qr_forged",
            message: "this QR code was not made by the loyalty program (altered or copied); ask for the card or the \
                      customer's page"
                .into(),
        }),
        SignedQr::Unverifiable => Err(StoreError::Invalid {
            code: "qr_unverifiable",
            message: "this till has not received the program's key for signed QR codes yet; sync it, or type the card \
                      number"
                .into(),
        }),
    }
}
