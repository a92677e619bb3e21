//! Back-office accounts, their sessions and second factors. Passwords arrive here already
//! hashed (Argon2 runs on the blocking pool in the API layer, never inside a transaction).
//!
//! A session is a random cookie value whose SHA-256 is stored, with the CSRF value the
//! console sends back as a header and an expiry that slides forward with use (12 h). Disabling
//! an account or setting its password ends its sessions.

use serde::Serialize;

use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{invalid_with, CloudError, Missing, Store};
use crate::clock::rfc3339;
use crate::cloud::backoffice::Role;
use crate::cloud::db::{Row, Sql};
use crate::vals;

/// How long a session lives without use.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// Wrong passwords in a row before an account is locked.
pub const FAILURES_BEFORE_LOCK: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_SECONDS: i64 = 15 * 60;
/// Stores a manager may be given.
const MAX_STORES: usize = 200;

/// An account as the API shows it (no hash, no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// A manager's stores (empty for the other roles).
    pub stores: Vec<String>,
    pub disabled: bool,
    pub totp_enabled: bool,
    pub created_at: String,
}

/// What sign-in needs to know about an account.
#[derive(Debug, Clone)]
pub struct LoginAccount {
    pub user: UserView,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub locked_until: Option<i64>,
}

/// What a wrong password did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Wrong passwords in a row now.
    pub failures: i64,
    /// Set when this failure locked the account.
    pub locked_until: Option<i64>,
}

/// A change to an account; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub stores: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

const COLUMNS: &str =
    "id, email, role, stores, disabled_at, totp_secret, created_at, password_hash, totp_last_step, locked_until";

fn view(row: &Row) -> Result<UserView, CloudError> {
    let role = row.text(2)?;
    Ok(UserView {
        id: row.text(0)?,
        email: row.text(1)?,
        role: Role::parse(&role).ok_or_else(|| CloudError::Db(crate::cloud::db::DbError::Decode(role)))?,
        stores: serde_json::from_str(&row.text(3)?)?,
        disabled: row.opt_int(4)?.is_some(),
        totp_enabled: row.opt_text(5)?.is_some(),
        created_at: rfc3339(row.int(6)?),
    })
}

/// An email as accounts are keyed: trimmed, lower case, checked like a customer's.
pub fn clean_email(email: &str) -> Result<String, CloudError> {
    match crate::identity::fields::clean_email(Some(email.to_owned()))? {
        Some(email) => Ok(email.to_lowercase()),
        None => Err(invalid_with(
            "invalid_email",
            "email must be an address like manager@example.com",
            vec![("field", "email".to_owned())],
        )),
    }
}

/// A manager's stores, checked; other roles keep none.
pub fn clean_stores(role: Role, stores: Vec<String>) -> Result<Vec<String>, CloudError> {
    let mut clean: Vec<String> = Vec::new();
    for store in stores {
        let store = store.trim().to_owned();
        if !crate::identity::valid_store(&store) {
            return Err(invalid_with(
                "invalid_store",
                format!(
                    "store must be 1 to {} letters, digits, single spaces and simple punctuation, as the tills name it",
                    crate::identity::MAX_STORE_LEN
                ),
                vec![("max", crate::identity::MAX_STORE_LEN.to_string()), ("field", "stores".to_owned())],
            ));
        }
        if !clean.contains(&store) {
            clean.push(store);
        }
    }
    match role {
        Role::Manager if clean.is_empty() => Err(invalid_with(
            "manager_needs_stores",
            "a manager needs at least one store (--store NAME, or stores in the request)",
            vec![("field", "stores".to_owned())],
        )),
        Role::Manager if clean.len() > MAX_STORES => Err(invalid_with(
            "too_many_stores",
            format!("a manager may have at most {MAX_STORES} stores"),
            vec![("max", MAX_STORES.to_string()), ("field", "stores".to_owned())],
        )),
        Role::Manager => Ok(clean),
        Role::Owner | Role::Analyst => Ok(Vec::new()),
    }
}

fn load(sql: &mut dyn Sql, column: &str, value: &str) -> Result<Option<LoginAccount>, CloudError> {
    let Some(row) = sql.query_opt(&format!("SELECT {COLUMNS} FROM users WHERE {column} = $1"), vals![value])? else {
        return Ok(None);
    };
    Ok(Some(LoginAccount {
        user: view(&row)?,
        password_hash: row.text(7)?,
        totp_secret: row.opt_text(5)?,
        totp_last_step: row.opt_int(8)?,
        locked_until: row.opt_int(9)?,
    }))
}

fn user_not_found(id: &str) -> CloudError {
    CloudError::NotFound(Missing::User(id.to_owned()))
}

/// Refuses a change that would leave the chain without an owner who can sign in.
fn keep_an_owner(sql: &mut dyn Sql, changing: &str) -> Result<(), CloudError> {
    let others = sql
        .query_one(
            "SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL AND id <> $1",
            vals![changing],
        )?
        .int(0)?;
    if others == 0 {
        return Err(CloudError::Conflict {
            code: "last_owner",
            message: "this is the only owner who can sign in; make another user an owner first".to_owned(),
        });
    }
    Ok(())
}

impl Store {
    /// Creates an account. `user_exists` when the email has one.
    pub async fn add_user(
        &self,
        email: String,
        role: Role,
        stores: Vec<String>,
        password_hash: String,
        at: i64,
    ) -> Result<UserView, CloudError> {
        let email = clean_email(&email)?;
        let stores = clean_stores(role, stores)?;
        self.write(move |sql| {
            if load(sql, "email", &email)?.is_some() {
                return Err(CloudError::ConflictWith {
                    code: "user_exists",
                    message: format!("{email} already has an account; reset its password instead"),
                    params: vec![("email", email.clone())],
                });
            }
            let id = uuid::Uuid::now_v7().to_string();
            sql.execute(
                "INSERT INTO users (id, email, role, stores, password_hash, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
                vals![&id, &email, role.as_str(), serde_json::to_string(&stores)?, &password_hash, at],
            )?;
            Ok(load(sql, "id", &id)?.ok_or_else(|| user_not_found(&id))?.user)
        })
        .await
    }

    /// Every account, by email.
    pub async fn users(&self) -> Result<Vec<UserView>, CloudError> {
        self.read(|sql| {
            let rows = sql.query(&format!("SELECT {COLUMNS} FROM users ORDER BY email"), &[])?;
            rows.iter().map(view).collect()
        })
        .await
    }

    /// One account by id, or by email when `key` holds an `@`.
    pub async fn user(&self, key: String) -> Result<UserView, CloudError> {
        Ok(self.login_account(key.clone()).await?.ok_or_else(|| user_not_found(&key))?.user)
    }

    /// The account sign-in checks, by id or email.
    pub async fn login_account(&self, key: String) -> Result<Option<LoginAccount>, CloudError> {
        self.read(move |sql| match key.contains('@') {
            true => load(sql, "email", &key.trim().to_lowercase()),
            false => load(sql, "id", &key),
        })
        .await
    }

    /// Changes an account's role, stores or state; answers it before and after. Disabling ends
    /// its sessions. The last owner who can sign in cannot be demoted or disabled.
    pub async fn update_user(
        &self,
        id: String,
        change: UserChange,
        at: i64,
    ) -> Result<(UserView, UserView), CloudError> {
        self.write(move |sql| {
            let before = load(sql, "id", &id)?.ok_or_else(|| user_not_found(&id))?.user;
            let role = change.role.unwrap_or(before.role);
            let stores = clean_stores(role, change.stores.clone().unwrap_or_else(|| before.stores.clone()))?;
            let disabled = change.disabled.unwrap_or(before.disabled);
            if before.role == Role::Owner && !before.disabled && (role != Role::Owner || disabled) {
                keep_an_owner(sql, &id)?;
            }
            sql.execute(
                "UPDATE users SET role = $1, stores = $2, disabled_at = $3, updated_at = $4 WHERE id = $5",
                vals![
                    role.as_str(),
                    serde_json::to_string(&stores)?,
                    match (disabled, before.disabled) {
                        (true, _) => Some(at),
                        (false, _) => None,
                    },
                    at,
                    &id
                ],
            )?;
            if disabled {
                sql.execute("DELETE FROM sessions WHERE user_id = $1", vals![&id])?;
                sql.execute("UPDATE users SET failed_logins = 0 WHERE id = $1", vals![&id])?;
            }
            let after = load(sql, "id", &id)?.ok_or_else(|| user_not_found(&id))?.user;
            Ok((before, after))
        })
        .await
    }

    /// Sets an account's password (already hashed), unlocks it and ends its sessions but
    /// `keep_session` (the caller's own, when they change their own password).
    pub async fn set_password(
        &self,
        id: String,
        password_hash: String,
        keep_session: Option<String>,
        at: i64,
    ) -> Result<UserView, CloudError> {
        self.write(move |sql| {
            let user = load(sql, "id", &id)?.ok_or_else(|| user_not_found(&id))?.user;
            sql.execute(
                "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL, updated_at = $2 WHERE id = $3",
                vals![&password_hash, at, &id],
            )?;
            sql.execute(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2",
                vals![&id, keep_session.clone().unwrap_or_default()],
            )?;
            Ok(user)
        })
        .await
    }

    /// Counts a wrong password (or second factor); the fifth in a row locks the account.
    pub async fn login_failed(&self, id: String, at: i64) -> Result<Failure, CloudError> {
        self.write(move |sql| {
            let failures = sql
                .query_one(
                    "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
                    vals![&id],
                )?
                .int(0)?;
            if failures >= FAILURES_BEFORE_LOCK {
                let until = at + LOCK_SECONDS;
                sql.execute("UPDATE users SET failed_logins = 0, locked_until = $1 WHERE id = $2", vals![until, &id])?;
                return Ok(Failure { failures, locked_until: Some(until) });
            }
            Ok(Failure { failures, locked_until: None })
        })
        .await
    }

    /// A successful sign-in: failures forgotten, the second factor's step used up, a session
    /// stored (its cookie value hashed).
    pub async fn start_session(
        &self,
        user_id: String,
        token_hash: String,
        csrf: String,
        address: String,
        totp_step: Option<i64>,
        at: i64,
    ) -> Result<(), CloudError> {
        self.write(move |sql| {
            sql.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL,
                        totp_last_step = COALESCE($1, totp_last_step) WHERE id = $2",
                vals![totp_step, &user_id],
            )?;
            // Old sessions of anyone are cleaned up as new ones start.
            sql.execute("DELETE FROM sessions WHERE expires_at < $1", vals![at])?;
            sql.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf, address, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vals![&token_hash, &user_id, &csrf, &address, at, at + SESSION_SECONDS],
            )?;
            Ok(())
        })
        .await
    }

    /// The account and CSRF value of a live session, its expiry pushed forward (written at
    /// most once a minute, so a busy console does not write on every call).
    pub async fn session(&self, token_hash: String, at: i64) -> Result<Option<(UserView, String)>, CloudError> {
        self.write(move |sql| {
            let Some(row) = sql.query_opt(
                "SELECT user_id, csrf, expires_at FROM sessions WHERE token_hash = $1",
                vals![&token_hash],
            )?
            else {
                return Ok(None);
            };
            let (user_id, csrf, expires_at) = (row.text(0)?, row.text(1)?, row.int(2)?);
            if expires_at <= at {
                sql.execute("DELETE FROM sessions WHERE token_hash = $1", vals![&token_hash])?;
                return Ok(None);
            }
            let Some(account) = load(sql, "id", &user_id)? else { return Ok(None) };
            if account.user.disabled {
                return Ok(None);
            }
            if at + SESSION_SECONDS - expires_at >= 60 {
                sql.execute(
                    "UPDATE sessions SET expires_at = $1 WHERE token_hash = $2",
                    vals![at + SESSION_SECONDS, &token_hash],
                )?;
            }
            Ok(Some((account.user, csrf)))
        })
        .await
    }

    /// Ends a session (sign-out).
    pub async fn end_session(&self, token_hash: String) -> Result<(), CloudError> {
        self.write(move |sql| {
            sql.execute("DELETE FROM sessions WHERE token_hash = $1", vals![&token_hash])?;
            Ok(())
        })
        .await
    }

    /// Keeps a new second-factor secret until a code from it confirms it.
    pub async fn begin_totp(&self, user_id: String, secret: String) -> Result<(), CloudError> {
        self.write(move |sql| {
            sql.execute("UPDATE users SET totp_pending = $1 WHERE id = $2", vals![&secret, &user_id])?;
            Ok(())
        })
        .await
    }

    /// The secret being set up, if any.
    pub async fn pending_totp(&self, user_id: String) -> Result<Option<String>, CloudError> {
        self.read(move |sql| {
            Ok(sql
                .query_opt("SELECT totp_pending FROM users WHERE id = $1", vals![&user_id])?
                .and_then(|r| r.opt_text(0).ok().flatten()))
        })
        .await
    }

    /// Turns the pending secret on (its confirming `step` used up), or turns the second factor
    /// off with `None`.
    pub async fn set_totp(&self, user_id: String, on: Option<i64>, at: i64) -> Result<(), CloudError> {
        self.write(move |sql| {
            match on {
                Some(step) => sql.execute(
                    "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1, updated_at = $2
                     WHERE id = $3 AND totp_pending IS NOT NULL",
                    vals![step, at, &user_id],
                )?,
                None => sql.execute(
                    "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2",
                    vals![at, &user_id],
                )?,
            };
            Ok(())
        })
        .await
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    /// A user's email, or `admin-token`.
    pub who: String,
    pub address: Option<String>,
    /// What was done: `program.publish`, `customer.adjust`, `till.create`, `user.update`, …
    pub action: String,
    /// What it was done to (an id, a store).
    pub target: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// An entry to record.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub who: String,
    pub address: String,
    pub action: &'static str,
    pub target: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Store {
    /// Appends to the audit log.
    pub async fn audit(&self, record: AuditRecord, at: i64) -> Result<(), CloudError> {
        self.write(move |sql| {
            sql.execute(
                "INSERT INTO audit_log (at, who, address, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vals![
                    at,
                    &record.who,
                    &record.address,
                    record.action,
                    record.target.clone(),
                    record.before.as_ref().map(|v| v.to_string()),
                    record.after.as_ref().map(|v| v.to_string())
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// A page of the audit log, newest first, optionally of one action or one target.
    pub async fn audit_log(
        &self,
        action: Option<String>,
        target: Option<String>,
        page: Page,
    ) -> Result<Paged<AuditEntry>, CloudError> {
        self.read(move |sql| {
            let after = page.key("audit", &[KeyPart::Int])?;
            let mut query = PageQuery::new();
            if let Some(action) = &action {
                query.filter("action", action);
            }
            if let Some(target) = &target {
                query.filter("target", target);
            }
            query.after(&["id"], after, true);
            let clauses = query.clauses("id DESC", page.fetch());
            let rows = sql.query(
                &format!("SELECT id, at, who, address, action, target, before, after FROM audit_log{clauses}"),
                &query.params,
            )?;
            page.finish("audit", rows, |row| key_columns(row, &[0])).try_map(|row| {
                let json = |i| -> Result<Option<serde_json::Value>, CloudError> {
                    Ok(row.opt_text(i)?.map(|t| serde_json::from_str(&t)).transpose()?)
                };
                Ok(AuditEntry {
                    id: row.int(0)?,
                    at: rfc3339(row.int(1)?),
                    who: row.text(2)?,
                    address: row.opt_text(3)?,
                    action: row.text(4)?,
                    target: row.opt_text(5)?,
                    before: json(6)?,
                    after: json(7)?,
                })
            })
        })
        .await
    }
}
