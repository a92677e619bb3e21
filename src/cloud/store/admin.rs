//! What the back office reads and sets besides customers: program versions, the receipts and
//! returns the cloud applied, and the conflicts it recorded.

use serde::Serialize;

use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{publish, Changes, CloudError, FeedKind, Store, StoreScope};
use crate::clock::{now, rfc3339};
use crate::cloud::db::{DbError, Row, Sql, Value};
use crate::http::sentence::Sentence;
use crate::http::Lang;
use crate::rules::Program;
use crate::vals;
use crate::wire::{Calculation, CommitRequest, ReturnEvent, ReturnResult, SaleEvent, SyncEvent};

/// A receipt as the cloud applied it, with its returns.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppliedReceipt {
    pub till_id: String,
    pub receipt_id: String,
    /// The customer the points went to (after a merge, the surviving customer).
    pub customer_id: Option<String>,
    pub program_version: i64,
    pub seq: i64,
    pub event_id: String,
    pub applied_at: String,
    /// The figures the till computed, as pushed.
    pub receipt: Calculation,
    pub request: CommitRequest,
    pub returns: Vec<ReturnResult>,
}

/// One conflict: what happened and what the cloud did about it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub id: i64,
    /// `overdraft`, `promo_code_overused`, `campaign_budget_exceeded`, `rejected_event`,
    /// `customer_merged`, `card_reassigned`, `email_taken`, `phone_taken`, `code_replayed`.
    pub kind: String,
    pub till_id: Option<String>,
    pub event_id: Option<String>,
    pub seq: Option<i64>,
    pub customer_id: Option<String>,
    pub receipt_id: Option<String>,
    /// In the reader's language (`Accept-Language`); English for conflicts recorded before
    /// their sentences had codes.
    pub what_happened: String,
    pub what_was_done: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: String,
    /// Set once someone marked it handled; `null` while it waits.
    pub handled: Option<ConflictHandled>,
    /// The two sentences with their codes, for [`ConflictView::in_lang`].
    #[serde(skip)]
    #[schema(ignore)]
    said: (Sentence, Sentence),
}

impl ConflictView {
    /// The conflict with its account in `lang`.
    pub fn in_lang(mut self, lang: Lang) -> ConflictView {
        self.what_happened = self.said.0.say(lang);
        self.what_was_done = self.said.1.say(lang);
        self
    }
}

/// A program version as stored.
/// Which conflicts a list answers.
#[derive(Debug, Clone, Default)]
pub struct ConflictFilter {
    pub kind: Option<String>,
    /// Only conflicts of this store's tills.
    pub store: Option<String>,
    /// Unix seconds: created at or after.
    pub from: Option<i64>,
    /// Unix seconds: created before.
    pub to: Option<i64>,
    /// Only handled (`true`) or pending (`false`) ones.
    pub handled: Option<bool>,
}

/// The key of `details` that keeps the sentences' codes and values (see [`record_conflict`]);
/// it is taken out of the `details` answered.
const SAID: &str = "said";

fn conflict_view(row: &Row) -> Result<ConflictView, CloudError> {
    let mut details: serde_json::Value = serde_json::from_str(&row.text(9)?).unwrap_or_default();
    let said = details.as_object_mut().and_then(|details| details.remove(SAID)).unwrap_or_default();
    let (happened, done) = (row.text(7)?, row.text(8)?);
    Ok(ConflictView {
        said: (
            Sentence::from_stored(happened.clone(), said.get("happened")),
            Sentence::from_stored(done.clone(), said.get("done")),
        ),
        id: row.int(0)?,
        kind: row.text(1)?,
        till_id: row.opt_text(2)?,
        event_id: row.opt_text(3)?,
        seq: row.opt_int(4)?,
        customer_id: row.opt_text(5)?,
        receipt_id: row.opt_text(6)?,
        what_happened: happened,
        what_was_done: done,
        details,
        created_at: rfc3339(row.int(10)?),
        handled: match row.opt_int(11)? {
            Some(at) => Some(ConflictHandled {
                at: rfc3339(at),
                by: row.text(12)?,
                note: row.opt_text(13)?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

/// Who marked a conflict handled, when, and their note.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictHandled {
    pub at: String,
    pub by: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgramVersion {
    pub version: i64,
    #[schema(value_type = Object)]
    pub program: Program,
    pub created_at: String,
}

pub(crate) struct NewConflict<'a> {
    pub kind: &'static str,
    pub till_id: Option<&'a str>,
    pub event: Option<&'a SyncEvent>,
    pub customer_id: Option<&'a str>,
    pub receipt_id: Option<&'a str>,
    pub happened: Sentence,
    pub done: Sentence,
    pub details: serde_json::Value,
}

/// Stores a conflict: its sentences in English in `happened` and `done` (what tools reading the
/// table and English readers see), their codes and values in `details.said`, from which a
/// reader of another language gets them in theirs.
pub(crate) fn record_conflict(sql: &mut dyn Sql, conflict: NewConflict<'_>, at: i64) -> Result<(), DbError> {
    let mut details = conflict.details;
    if let Some(object) = details.as_object_mut() {
        let said = serde_json::json!({ "happened": conflict.happened.to_json(), "done": conflict.done.to_json() });
        object.insert(SAID.to_owned(), said);
    }
    sql.write(
        "INSERT INTO conflicts (kind, till_id, event_id, seq, customer_id, receipt_id, happened, done, details, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vals![
            conflict.kind,
            conflict.till_id,
            conflict.event.map(|e| e.event_id.clone()),
            conflict.event.map(|e| e.seq),
            conflict.customer_id,
            conflict.receipt_id,
            conflict.happened.english,
            conflict.done.english,
            details.to_string(),
            at
        ],
    )?;
    Ok(())
}

/// The newest program version.
pub(crate) fn current_program(sql: &mut dyn Sql) -> Result<Program, CloudError> {
    let row = sql.query_one("SELECT version, body FROM program_versions ORDER BY version DESC LIMIT 1", &[])?;
    program_from_row(&row)
}

/// A given program version, if the cloud issued it.
pub(crate) fn program_version(sql: &mut dyn Sql, version: i64) -> Result<Option<Program>, CloudError> {
    match sql.query_opt("SELECT version, body FROM program_versions WHERE version = $1", vals![version])? {
        Some(row) => program_from_row(&row).map(Some),
        None => Ok(None),
    }
}

fn program_from_row(row: &Row) -> Result<Program, CloudError> {
    let mut program: Program = serde_json::from_str(&row.text(1)?)?;
    program.version = row.int(0)?;
    Ok(program)
}

/// Stores `program` as the next version and publishes it to the feed.
pub(crate) fn insert_program(sql: &mut dyn Sql, mut program: Program, at: i64) -> Result<Program, CloudError> {
    // The counter is the program table itself: locking its newest row would not stop a second
    // writer from reading the same maximum, so the unique primary key settles a race (the
    // loser's transaction is retried by `Database::run` and takes the next number).
    let version = sql.query_one("SELECT COALESCE(MAX(version), 0) + 1 FROM program_versions", &[])?.int(0)?;
    program.version = version;
    sql.execute(
        "INSERT INTO program_versions (version, body, created_at) VALUES ($1, $2, $3)",
        vals![version, serde_json::to_string(&program)?, at],
    )?;
    let mut changes = Changes::default();
    changes.add(FeedKind::Program, "current");
    publish(sql, &changes, at)?;
    Ok(program)
}

fn receipt_from_row(sql: &mut dyn Sql, row: &Row) -> Result<AppliedReceipt, CloudError> {
    let till_id = row.text(0)?;
    let receipt_id = row.text(1)?;
    let sale: SaleEvent = serde_json::from_str(&row.text(6)?)
        .map_err(|source| CloudError::Corrupt { what: format!("receipt {receipt_id} of till {till_id}"), source })?;
    let returns = sql
        .query(
            "SELECT body FROM returns WHERE till_id = $1 AND receipt_id = $2 ORDER BY seq",
            vals![&till_id, &receipt_id],
        )?
        .iter()
        .map(|r| Ok(serde_json::from_str::<ReturnEvent>(&r.text(0)?)?.result))
        .collect::<Result<Vec<_>, CloudError>>()?;
    Ok(AppliedReceipt {
        till_id,
        receipt_id,
        customer_id: row.opt_text(2)?,
        program_version: row.int(3)?,
        seq: row.int(4)?,
        event_id: row.text(5)?,
        applied_at: rfc3339(row.int(7)?),
        receipt: sale.receipt,
        request: sale.request,
        returns,
    })
}

const RECEIPT_COLUMNS: &str = "till_id, receipt_id, customer_id, program_version, seq, event_id, body, applied_at";

impl Store {
    pub async fn put_program(&self, program: Program) -> Result<ProgramVersion, CloudError> {
        program.validate()?;
        let at = now();
        let program = self.write(move |sql| insert_program(sql, program.clone(), at)).await?;
        Ok(ProgramVersion { version: program.version, program, created_at: rfc3339(at) })
    }

    /// Every program version, newest first (a chain publishes a handful a year).
    pub async fn program_versions(&self) -> Result<Vec<ProgramVersion>, CloudError> {
        self.read(|sql| {
            let rows =
                sql.query("SELECT version, body, created_at FROM program_versions ORDER BY version DESC", &[])?;
            rows.iter()
                .map(|row| {
                    Ok(ProgramVersion {
                        version: row.int(0)?,
                        program: program_from_row(row)?,
                        created_at: rfc3339(row.int(2)?),
                    })
                })
                .collect()
        })
        .await
    }

    pub async fn program(&self) -> Result<ProgramVersion, CloudError> {
        self.read(|sql| {
            let row = sql.query_one(
                "SELECT version, body, created_at FROM program_versions ORDER BY version DESC LIMIT 1",
                &[],
            )?;
            Ok(ProgramVersion {
                version: row.int(0)?,
                program: program_from_row(&row)?,
                created_at: rfc3339(row.int(2)?),
            })
        })
        .await
    }

    pub async fn receipt(&self, till_id: String, receipt_id: String) -> Result<AppliedReceipt, CloudError> {
        self.read(move |sql| {
            let row = sql
                .query_opt(
                    &format!("SELECT {RECEIPT_COLUMNS} FROM receipts WHERE till_id = $1 AND receipt_id = $2"),
                    vals![&till_id, &receipt_id],
                )?
                .ok_or_else(|| {
                    CloudError::NotFound(super::Missing::Receipt {
                        id: receipt_id.clone(),
                        till: Some(till_id.clone()),
                    })
                })?;
            receipt_from_row(sql, &row)
        })
        .await
    }

    /// A page of a customer's receipts, newest first: ordered by when the cloud applied them,
    /// then till and seq (unique together), so a walk answers each receipt once.
    /// Within `scope`, in SQL: a manager's page holds the receipts of their stores' tills and is full.
    pub async fn receipts_of(
        &self,
        customer_id: String,
        scope: StoreScope,
        page: Page,
    ) -> Result<Paged<AppliedReceipt>, CloudError> {
        self.read(move |sql| {
            let after = page.key("receipts", &[KeyPart::Int, KeyPart::Text, KeyPart::Int])?;
            let id = match super::customers::load_resolved(sql, &customer_id, false)? {
                Some(customer) => customer.profile.id,
                None => return Err(CloudError::NotFound(super::Missing::Customer(customer_id.clone()))),
            };
            let mut query = PageQuery::new();
            query.filter("customer_id", id);
            if !scope.is_all() {
                query.condition(|params| {
                    format!("till_id IN (SELECT id FROM tills WHERE {})", scope.condition("store", params))
                });
            }
            query.after(&["applied_at", "till_id", "seq"], after, true);
            let clauses = query.clauses("applied_at DESC, till_id DESC, seq DESC", page.fetch());
            let rows = sql.query(&format!("SELECT {RECEIPT_COLUMNS} FROM receipts{clauses}"), &query.params)?;
            page.finish("receipts", rows, |row| key_columns(row, &[7, 0, 4])).try_map(|row| receipt_from_row(sql, &row))
        })
        .await
    }

    /// A page of conflicts, newest first (by id), filtered as asked and limited to `scope`
    /// (a conflict without a till belongs to the whole chain).
    pub async fn conflicts(
        &self,
        filter: ConflictFilter,
        scope: StoreScope,
        page: Page,
    ) -> Result<Paged<ConflictView>, CloudError> {
        self.read(move |sql| {
            let after = page.key("conflicts", &[KeyPart::Int])?;
            let columns =
                "id, kind, till_id, event_id, seq, customer_id, receipt_id, happened, done, details, created_at, \
                           handled_at, handled_by, handled_note";
            let mut query = PageQuery::new();
            if let Some(kind) = &filter.kind {
                query.filter("kind", kind);
            }
            let scope = scope.narrowed(filter.store.as_deref());
            if !scope.is_all() {
                query.condition(|params| {
                    format!("till_id IN (SELECT id FROM tills WHERE {})", scope.condition("store", params))
                });
            }
            if let Some(from) = filter.from {
                query.condition(|params| {
                    params.push(Value::Int(from));
                    format!("created_at >= ${}", params.len())
                });
            }
            if let Some(to) = filter.to {
                query.condition(|params| {
                    params.push(Value::Int(to));
                    format!("created_at < ${}", params.len())
                });
            }
            match filter.handled {
                Some(true) => {
                    query.condition(|_| "handled_at IS NOT NULL".to_owned());
                }
                Some(false) => {
                    query.condition(|_| "handled_at IS NULL".to_owned());
                }
                None => {}
            }
            query.after(&["id"], after, true);
            let clauses = query.clauses("id DESC", page.fetch());
            let rows = sql.query(&format!("SELECT {columns} FROM conflicts{clauses}"), &query.params)?;
            page.finish("conflicts", rows, |row| key_columns(row, &[0])).try_map(|row| conflict_view(&row))
        })
        .await
    }

    /// Marks a conflict handled, with who did it and a note; answers it before and after.
    /// Marking it again replaces the note.
    pub async fn handle_conflict(
        &self,
        id: i64,
        who: String,
        note: String,
        scope: StoreScope,
        at: i64,
    ) -> Result<(ConflictView, ConflictView), CloudError> {
        let note = crate::identity::fields::clean_text(Some(note), "note", crate::identity::fields::MAX_REASON_CHARS)?
            .unwrap_or_default();
        self.write(move |sql| {
            let select = "SELECT id, kind, till_id, event_id, seq, customer_id, receipt_id, happened, done, details, \
                          created_at, handled_at, handled_by, handled_note FROM conflicts WHERE id = $1";
            let not_found = || CloudError::NotFound(super::Missing::Conflict(id.to_string()));
            let before = conflict_view(&sql.query_opt(select, vals![id])?.ok_or_else(not_found)?)?;
            let allowed = match &before.till_id {
                Some(till) => sql
                    .query_opt("SELECT store FROM tills WHERE id = $1", vals![till])?
                    .map(|row| row.text(0))
                    .transpose()?
                    .is_some_and(|store| scope.allows(&store)),
                None => scope.is_all(),
            };
            if !allowed {
                return Err(not_found());
            }
            sql.execute(
                "UPDATE conflicts SET handled_at = $1, handled_by = $2, handled_note = $3 WHERE id = $4",
                vals![at, &who, &note, id],
            )?;
            let after = conflict_view(&sql.query_opt(select, vals![id])?.ok_or_else(not_found)?)?;
            Ok((before, after))
        })
        .await
    }
}
