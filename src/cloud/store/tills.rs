//! Tills and their enrollment: an admin creates a till and gets a one-time code; the till
//! exchanges the code for a device token. Only hashes of codes and tokens are stored.

use serde::Serialize;

use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{invalid, invalid_with, CloudError, Store};
use crate::clock::{now, rfc3339};
use crate::cloud::db::{Sql, Value};
use crate::cloud::token::{enrollment_code, normalize_code, random_token, secret_hash, CODE_LENGTH};
use crate::vals;
use crate::wire::{EventOutcome, KnownEvent, TillEnrollResponse};

/// How long an enrollment code may be used.
pub const CODE_LIFETIME_SECONDS: i64 = 24 * 3600;

/// The answer to creating a till (or a new code for it): the code is shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewTill {
    pub till_id: String,
    pub store: String,
    pub name: String,
    pub enrollment_code: String,
    pub code_expires_at: String,
    /// The code as an SVG QR code, to show on a screen or print for whoever installs the till.
    pub enrollment_qr_svg: Option<String>,
}

/// A till as the back office sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TillView {
    pub till_id: String,
    pub store: String,
    pub name: String,
    pub enrolled: bool,
    pub enrolled_at: Option<String>,
    /// The highest event sequence number answered for this till.
    pub last_seq: i64,
    pub created_at: String,
}

impl Store {
    pub async fn create_till(&self, store: String, name: String) -> Result<NewTill, CloudError> {
        let store = clean_label("store", &store)?;
        let name = clean_label("name", &name)?;
        let till_id = uuid::Uuid::new_v4().to_string();
        let code = enrollment_code();
        let at = now();
        let expires_at = at + CODE_LIFETIME_SECONDS;
        {
            let (till_id, code, store, name) = (till_id.clone(), code.clone(), store.clone(), name.clone());
            self.write(move |sql| {
                sql.execute(
                    "INSERT INTO tills (id, store, name, created_at) VALUES ($1, $2, $3, $4)",
                    vals![&till_id, &store, &name, at],
                )?;
                sql.execute(
                    "INSERT INTO enrollment_codes (code_hash, till_id, expires_at) VALUES ($1, $2, $3)",
                    vals![secret_hash(&code), &till_id, expires_at],
                )?;
                Ok(())
            })
            .await?;
        }
        Ok(NewTill {
            till_id,
            store,
            name,
            enrollment_qr_svg: crate::identity::render_svg(&code).ok(),
            enrollment_code: code,
            code_expires_at: rfc3339(expires_at),
        })
    }

    /// A page of tills, oldest first (in the order they were created, `list_order`): a till
    /// created during a walk comes at its end.
    pub async fn list_tills(&self, page: Page) -> Result<Paged<TillView>, CloudError> {
        self.read(move |sql| {
            let after = page.key("tills", &[KeyPart::Int])?;
            let mut query = PageQuery::new();
            query.after(&["list_order"], after, false);
            let clauses = query.clauses("list_order", page.fetch());
            let rows = sql.query(
                &format!("SELECT id, store, name, enrolled_at, last_seq, created_at, list_order FROM tills{clauses}"),
                &query.params,
            )?;
            page.finish("tills", rows, |row| key_columns(row, &[6])).try_map(|row| {
                let enrolled_at = row.opt_int(3)?;
                Ok(TillView {
                    till_id: row.text(0)?,
                    store: row.text(1)?,
                    name: row.text(2)?,
                    enrolled: enrolled_at.is_some(),
                    enrolled_at: enrolled_at.map(rfc3339),
                    last_seq: row.int(4)?,
                    created_at: rfc3339(row.int(5)?),
                })
            })
        })
        .await
    }

    /// Exchanges a one-time code for a device token. The token is returned once; the database
    /// keeps its hash. Enrolling again (with a new code) replaces the till's token.
    pub async fn enroll_till(&self, code: String) -> Result<TillEnrollResponse, CloudError> {
        let code = normalize_code(&code);
        if code.len() != CODE_LENGTH {
            return Err(unknown_code());
        }
        let token = random_token();
        let token_hash = secret_hash(&token);
        let at = now();
        let (till_id, store, last_seq) = self
            .write(move |sql| {
                let row = sql
                    .query_opt(
                        &format!(
                            "SELECT till_id, expires_at, used_at FROM enrollment_codes WHERE code_hash = $1{}",
                            sql.dialect().for_update()
                        ),
                        vals![secret_hash(&code)],
                    )?
                    .ok_or_else(unknown_code)?;
                let till_id = row.text(0)?;
                if row.opt_int(2)?.is_some() {
                    return Err(CloudError::Denied {
                        code: "enrollment_code_used",
                        message: "this enrollment code was already used; ask the back office for a new one".into(),
                    });
                }
                if row.int(1)? <= at {
                    return Err(CloudError::Denied {
                        code: "enrollment_code_expired",
                        message:
                            "this enrollment code has expired (codes live 24 hours); ask the back office for a new one"
                                .into(),
                    });
                }
                sql.execute(
                    "UPDATE enrollment_codes SET used_at = $1 WHERE code_hash = $2",
                    vals![at, secret_hash(&code)],
                )?;
                sql.execute(
                    "UPDATE tills SET token_hash = $1, enrolled_at = $2 WHERE id = $3",
                    vals![&token_hash, at, &till_id],
                )?;
                let row = sql.query_one("SELECT store, last_seq FROM tills WHERE id = $1", vals![&till_id])?;
                Ok((till_id, row.text(0)?, row.int(1)?))
            })
            .await?;
        Ok(TillEnrollResponse { till_id, store, device_token: token, last_seq: Some(last_seq) })
    }

    /// Which of `event_ids` the events table holds, from any till, with how each was answered.
    pub async fn known_events(&self, event_ids: Vec<String>) -> Result<Vec<KnownEvent>, CloudError> {
        // An id no database can take is not held: leave it out rather than fail the call.
        let ids: Vec<String> = event_ids.into_iter().filter(|id| !id.contains('\0')).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.read(move |sql| {
            let marks: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
            let params: Vec<Value> = ids.iter().map(Value::from).collect();
            let statement =
                format!("SELECT event_id, outcome, code, message FROM events WHERE event_id IN ({})", marks.join(", "));
            let mut known = Vec::new();
            for row in sql.query(&statement, &params)? {
                let outcome = if row.text(1)? == "rejected" { EventOutcome::Rejected } else { EventOutcome::Applied };
                known.push(KnownEvent {
                    event_id: row.text(0)?,
                    outcome,
                    code: row.opt_text(2)?,
                    message: row.opt_text(3)?,
                });
            }
            Ok(known)
        })
        .await
    }

    /// A new one-time code for an existing till (e.g. after a sequence conflict).
    pub async fn new_enrollment_code(&self, till_id: String) -> Result<NewTill, CloudError> {
        let code = enrollment_code();
        let at = now();
        let expires_at = at + CODE_LIFETIME_SECONDS;
        let hash = secret_hash(&code);
        let id = till_id.clone();
        let (store, name) = self
            .write(move |sql| {
                let row = sql
                    .query_opt("SELECT store, name FROM tills WHERE id = $1", vals![&id])?
                    .ok_or_else(|| CloudError::NotFound(super::Missing::Till(id.clone())))?;
                // Its seqs are the cloud's own: a device enrolled on it would collide with them.
                if super::moysklad::is_moysklad_till(sql, &id)? {
                    return Err(invalid(
                        "moysklad_till",
                        "this till books a store's MoySklad sales; it cannot be enrolled",
                    ));
                }
                sql.execute(
                    "INSERT INTO enrollment_codes (code_hash, till_id, expires_at) VALUES ($1, $2, $3)",
                    vals![&hash, &id, expires_at],
                )?;
                Ok((row.text(0)?, row.text(1)?))
            })
            .await?;
        Ok(NewTill {
            till_id,
            store,
            name,
            enrollment_qr_svg: crate::identity::render_svg(&code).ok(),
            enrollment_code: code,
            code_expires_at: rfc3339(expires_at),
        })
    }

    /// Revokes a till: its device token stops working at once and its unused enrollment codes
    /// with it. Its history stays; a new enrollment code brings it back.
    pub async fn revoke_till(&self, till_id: String) -> Result<TillView, CloudError> {
        let at = now();
        self.write(move |sql| {
            if sql.query_opt("SELECT id FROM tills WHERE id = $1", vals![&till_id])?.is_none() {
                return Err(CloudError::NotFound(super::Missing::Till(till_id.clone())));
            }
            sql.execute("UPDATE tills SET token_hash = NULL, enrolled_at = NULL WHERE id = $1", vals![&till_id])?;
            sql.execute(
                "UPDATE enrollment_codes SET used_at = $1 WHERE till_id = $2 AND used_at IS NULL",
                vals![at, &till_id],
            )?;
            let row = sql.query_one(
                "SELECT id, store, name, enrolled_at, last_seq, created_at FROM tills WHERE id = $1",
                vals![&till_id],
            )?;
            Ok(TillView {
                till_id: row.text(0)?,
                store: row.text(1)?,
                name: row.text(2)?,
                enrolled: false,
                enrolled_at: row.opt_int(3)?.map(rfc3339),
                last_seq: row.int(4)?,
                created_at: rfc3339(row.int(5)?),
            })
        })
        .await
    }

    /// The till a device token belongs to, or `None`.
    pub async fn till_for_token(&self, token: String) -> Result<Option<String>, CloudError> {
        let hash = secret_hash(&token);
        let till = self
            .read(move |sql| {
                Ok(match sql.query_opt("SELECT id FROM tills WHERE token_hash = $1", vals![&hash])? {
                    Some(row) => Some(row.text(0)?),
                    None => None,
                })
            })
            .await?;
        if let Some(till_id) = &till {
            // Every push and pull comes through here: the dashboard's "last contact".
            if let Err(e) = self.till_seen(till_id, crate::clock::now()).await {
                tracing::warn!(till = %till_id, error = %e, "could not note when the till was last seen");
            }
        }
        Ok(till)
    }
}

fn unknown_code() -> CloudError {
    CloudError::Denied {
        code: "enrollment_code_invalid",
        message: "this enrollment code is not known; check it, or ask the back office for a new one".into(),
    }
}

/// A store or till label: 1–200 characters of text.
fn clean_label(field: &str, value: &str) -> Result<String, CloudError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(invalid_with(
            "invalid_field",
            format!("{field} must be 1 to 200 characters of text"),
            // The till's `name` is not a person's: its own word in translations.
            vec![("field", if field == "name" { "till_name" } else { field }.to_owned()), ("max_label", "200".into())],
        ));
    }
    Ok(value.to_owned())
}

/// Used by the ledger: the till row, locked, with its last answered seq.
pub(crate) fn lock_till(sql: &mut dyn Sql, till_id: &str) -> Result<i64, CloudError> {
    let row = sql
        .query_opt(&format!("SELECT last_seq FROM tills WHERE id = $1{}", sql.dialect().for_update()), vals![till_id])?
        .ok_or_else(|| CloudError::NotFound(super::Missing::Till(till_id.to_owned())))?;
    Ok(row.int(0)?)
}
