//! Tills and their enrollment: an admin creates a till and gets a one-time code; the till
//! exchanges the code for a device token. Only hashes of codes and tokens are stored. Every
//! call a till makes notes when it was last seen, its agent's version and how many events its
//! outbox holds ([`Store::till_seen`]), which the back office's list of tills shows.

use serde::Serialize;

use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{invalid, invalid_with, CloudError, Store, StoreScope};
use crate::clock::{now, rfc3339};
use crate::cloud::db::{Mode, Row, Sql, Value};
use crate::cloud::token::{enrollment_code, normalize_code, random_token, secret_hash, CODE_LENGTH};
use crate::vals;
use crate::wire::{EventOutcome, KnownEvent, TillEnrollResponse, TillReport};

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

/// A till counts as online when it called within this many seconds. An idle agent long-polls
/// the cloud every 25 s and `last_seen_at` is written at most once a minute, so an online
/// till's `last_seen_at` is at most about 85 s old; five minutes is a few times that, and a
/// till that missed that many calls is really not reaching the cloud.
pub const ONLINE_WINDOW_SECONDS: i64 = 300;

/// How often `last_seen_at` is written for a till that reports nothing new.
const SEEN_WRITE_INTERVAL_SECONDS: i64 = 60;

/// A till as the back office sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TillView {
    pub till_id: String,
    pub store: String,
    pub name: String,
    /// It holds a device token (enrolled and not revoked since).
    pub enrolled: bool,
    pub enrolled_at: Option<String>,
    /// It was revoked: its token was taken away and no new enrollment code waits for it.
    pub revoked: bool,
    /// The highest event sequence number answered for this till.
    pub last_seq: i64,
    pub created_at: String,
    /// When it last called the cloud (null: never). Written at most once a minute while
    /// nothing else changes, so up to a minute behind.
    pub last_seen_at: Option<String>,
    /// Enrolled and seen within the last [`ONLINE_WINDOW_SECONDS`] (5 minutes).
    pub online: bool,
    /// The version of the agent it last reported (null: never reported; agents before
    /// 0.1 report none).
    pub agent_version: Option<String>,
    /// How many events its outbox held at its last report: sales, returns and edits the
    /// cloud has not got yet, so not in the reports yet either (null: never reported).
    pub pending_events: Option<i64>,
    /// When `pending_events` was last written: a till that keeps reporting the same count is
    /// written once a minute, so this is up to a minute behind its latest report.
    pub pending_reported_at: Option<String>,
}

/// The columns [`till_view`] reads, after `FROM tills`. A till is revoked when it holds no
/// token although it had a code (every till gets one when it is created), and none of its
/// codes is unused: revoking takes the token and uses up the codes; a new code lifts it.
const TILL_COLUMNS: &str = "id, store, name, enrolled_at, last_seq, created_at, list_order, last_seen_at,
    agent_version, pending_events, pending_reported_at,
    CAST(CASE WHEN enrolled_at IS NULL
          AND EXISTS (SELECT 1 FROM enrollment_codes c WHERE c.till_id = tills.id)
          AND NOT EXISTS (SELECT 1 FROM enrollment_codes c WHERE c.till_id = tills.id AND c.used_at IS NULL)
         THEN 1 ELSE 0 END AS BIGINT)";

/// A [`TillView`] from a row of [`TILL_COLUMNS`], online as of `now`.
fn till_view(row: &Row, now: i64) -> Result<TillView, CloudError> {
    let enrolled_at = row.opt_int(3)?;
    let last_seen_at = row.opt_int(7)?;
    let enrolled = enrolled_at.is_some();
    Ok(TillView {
        till_id: row.text(0)?,
        store: row.text(1)?,
        name: row.text(2)?,
        enrolled,
        enrolled_at: enrolled_at.map(rfc3339),
        revoked: row.int(11)? == 1,
        last_seq: row.int(4)?,
        created_at: rfc3339(row.int(5)?),
        last_seen_at: last_seen_at.map(rfc3339),
        online: enrolled && last_seen_at.is_some_and(|at| at >= now - ONLINE_WINDOW_SECONDS),
        agent_version: row.opt_text(8)?,
        pending_events: row.opt_int(9)?,
        pending_reported_at: row.opt_int(10)?.map(rfc3339),
    })
}

/// What this process last wrote of a till's report (see [`Store::till_seen`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    at: i64,
    agent_version: Option<String>,
    pending_events: Option<i64>,
}

impl Seen {
    /// Whether a call at `now` reporting `report` must be written: the minute is over, or it
    /// says something new (a version or a count that differs from what was written, so an
    /// outbox that drains shows 0 at once rather than a minute later). What a call leaves
    /// out changes nothing.
    fn must_write(last: Option<&Seen>, now: i64, report: &TillReport) -> bool {
        let Some(last) = last else { return true };
        now - last.at >= SEEN_WRITE_INTERVAL_SECONDS
            || report.agent_version.as_ref().is_some_and(|v| last.agent_version.as_ref() != Some(v))
            || report.pending_events.is_some_and(|n| last.pending_events != Some(n))
    }
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

    /// A page of the tills of `scope`'s stores, oldest first (in the order they were
    /// created, `list_order`): a till created during a walk comes at its end. The scope is a
    /// condition of the query, so a manager's page is a full page of their own tills.
    pub async fn list_tills(&self, scope: StoreScope, page: Page) -> Result<Paged<TillView>, CloudError> {
        let at = now();
        self.read(move |sql| {
            let after = page.key("tills", &[KeyPart::Int])?;
            let mut query = PageQuery::new();
            if !scope.is_all() {
                query.condition(|params| scope.condition("store", params));
            }
            query.after(&["list_order"], after, false);
            let clauses = query.clauses("list_order", page.fetch());
            let rows = sql.query(&format!("SELECT {TILL_COLUMNS} FROM tills{clauses}"), &query.params)?;
            page.finish("tills", rows, |row| key_columns(row, &[6])).try_map(|row| till_view(&row, at))
        })
        .await
    }

    /// Notes that a till called at `now`, with what it reported of itself: `last_seen_at`,
    /// and the agent's version and outbox size when it sent them. This is on the path of every
    /// sync call, so an in-memory note of what was last written keeps most calls from
    /// writing at all: a till is written at most once a minute unless its report changed.
    /// With several cloud processes each keeps its own note, so a value another process
    /// wrote may stand for up to that minute.
    pub async fn till_seen(&self, till_id: &str, now: i64, report: TillReport) -> Result<(), CloudError> {
        {
            let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if !Seen::must_write(seen.get(till_id), now, &report) {
                return Ok(());
            }
            if seen.len() > 100_000 {
                seen.clear();
            }
            let last = seen.remove(till_id).unwrap_or_default();
            let written = Seen {
                at: now,
                agent_version: report.agent_version.clone().or(last.agent_version),
                pending_events: report.pending_events.or(last.pending_events),
            };
            seen.insert(till_id.to_owned(), written);
        }
        let id = till_id.to_owned();
        let written = self
            .db
            .run(Mode::Write, move |sql| {
                // Placeholders are numbered in the order they first appear: the till's id last.
                let mut params = vec![Value::Int(now)];
                let mut sets = vec!["last_seen_at = $1".to_owned()];
                if let Some(version) = &report.agent_version {
                    params.push(Value::from(version.as_str()));
                    sets.push(format!("agent_version = ${}", params.len()));
                }
                if let Some(pending) = report.pending_events {
                    params.push(Value::Int(pending));
                    sets.push(format!("pending_events = ${}, pending_reported_at = $1", params.len()));
                }
                params.push(Value::from(id.as_str()));
                // Never back in time: a slower call of the same till, or another process.
                sql.execute(
                    &format!(
                        "UPDATE tills SET {} WHERE id = ${} AND (last_seen_at IS NULL OR last_seen_at <= $1)",
                        sets.join(", "),
                        params.len()
                    ),
                    &params,
                )?;
                Ok(())
            })
            .await;
        if written.is_err() {
            // Not written: the next call must not take it for written.
            self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(till_id);
        }
        written
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
            let row = sql.query_one(&format!("SELECT {TILL_COLUMNS} FROM tills WHERE id = $1"), vals![&till_id])?;
            till_view(&row, at)
        })
        .await
    }

    /// The till a device token belongs to, or `None`.
    pub async fn till_for_token(&self, token: String) -> Result<Option<String>, CloudError> {
        let hash = secret_hash(&token);
        self.read(move |sql| {
            Ok(match sql.query_opt("SELECT id FROM tills WHERE token_hash = $1", vals![&hash])? {
                Some(row) => Some(row.text(0)?),
                None => None,
            })
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(version: Option<&str>, pending: Option<i64>) -> TillReport {
        TillReport { agent_version: version.map(str::to_owned), pending_events: pending }
    }

    #[test]
    fn a_till_is_written_once_a_minute_unless_its_report_changed() {
        let last = Seen { at: 1000, agent_version: Some("0.1.0".into()), pending_events: Some(3) };
        assert!(Seen::must_write(None, 1000, &report(None, None)), "the first call");
        assert!(!Seen::must_write(Some(&last), 1059, &report(Some("0.1.0"), Some(3))), "nothing new");
        assert!(!Seen::must_write(Some(&last), 1059, &report(None, None)), "an old agent says nothing");
        assert!(Seen::must_write(Some(&last), 1060, &report(None, None)), "the minute is over");
        assert!(Seen::must_write(Some(&last), 1001, &report(Some("0.1.0"), Some(0))), "the outbox drained");
        assert!(Seen::must_write(Some(&last), 1001, &report(Some("0.2.0"), Some(3))), "a new version");
        let unreported = Seen { at: 1000, agent_version: None, pending_events: None };
        assert!(Seen::must_write(Some(&unreported), 1001, &report(None, Some(0))), "a first count");
    }
}
