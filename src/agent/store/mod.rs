//! The agent's storage: SQLite behind a typed front door.
//!
//! Handlers never see SQL; they call use-case methods (`search_customers`, `commit_receipt`,
//! `return_receipt`, …). One connection writes (behind a mutex, so commits are serialised and a
//! points check and the debit it guards happen in the same transaction); a small pool of
//! connections reads concurrently thanks to WAL. All SQLite work runs on tokio's blocking pool.
//!
//! Durability: WAL with `synchronous=FULL`, so when a commit returns `Ok` it survives a power
//! cut. A failed write marks the store unhealthy (health reports it) until a write succeeds.
//! A thread of its own checkpoints the WAL into the database file, so commits do not.

mod campaigns;
mod customers;
mod gift_cards;
mod import;
pub mod inspect;
mod moysklad;
mod points;
mod receipts;
mod records;
mod reports;
mod schema;
mod sync;
mod verification;
mod warm;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use customers::{CustomerUpdate, NewCustomer};
pub use import::{ImportRow, RejectedRow};
pub use points::{ConnectedPoints, Offline};
/// The rules' answer in the wire's shape; the cloud's MoySklad sales are recorded in it too.
pub use receipts::{Booking, GiftCards};
pub use records::{CustomerRecord, SearchOutcome};
pub use schema::SCHEMA_VERSION;
pub use sync::{AckSummary, PageSummary, Renumbered};
pub use warm::WarmUp;

use crate::http::ErrorParams;
use crate::rules::RulesError;

/// What a lookup did not find. Each kind answers its own error code, so the HTTP layer never
/// reads the kind out of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// A customer by id; `None` when the request named them by phone, card or QR.
    Customer(Option<String>),
    Receipt(String),
    GiftCard(String),
}

impl Missing {
    /// The stable error code of a 404 for this kind.
    pub fn code(&self) -> &'static str {
        match self {
            Missing::Customer(_) => "customer_not_found",
            Missing::Receipt(_) => "receipt_not_found",
            Missing::GiftCard(_) => "gift_card_not_found",
        }
    }

    /// The identifier that was looked for, if the caller gave one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Missing::Customer(id) => id.as_deref(),
            Missing::Receipt(id) | Missing::GiftCard(id) => Some(id),
        }
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Missing::Customer(_) => "customer",
            Missing::Receipt(_) => "receipt",
            Missing::GiftCard(_) => "gift card",
        };
        match self.id() {
            Some(id) => write!(f, "{kind} {id}"),
            None => f.write_str(kind),
        }
    }
}

/// Why a storage operation failed. Every variant maps to one HTTP status in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be read or written (read-only, disk full, I/O error, corrupt).
    #[error("the local database cannot be used: {0}")]
    Unavailable(#[source] rusqlite::Error),
    #[error("the local database could not be opened at {path}: {message}")]
    CannotOpen { path: PathBuf, message: String },
    /// One stored record (`what`: "receipt 42", …) holds JSON that cannot be read: a damaged
    /// row, not a damaged store. Only the requests needing it fail; health stays as it was.
    #[error("{what} is stored in the local database but cannot be read ({source})")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0} not found")]
    NotFound(Missing),
    /// A uniqueness or idempotency conflict; `code` is stable (`phone_taken`, `receipt_conflict`, …).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Input that passed JSON parsing but makes no sense (`invalid_phone`, `invalid_birthday`, …).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// A conflict whose sentence names values (the customer who holds a phone) that a
    /// translation must name too; `params` carries them (see `http::messages_ru`).
    #[error("{message}")]
    ConflictWith { code: &'static str, message: String, params: ErrorParams },
    /// Invalid input whose sentence names values (a field, a limit), with them in `params`.
    #[error("{message}")]
    InvalidWith { code: &'static str, message: String, params: ErrorParams },
    /// Asked again too soon, or locked for a while (`verification_locked`, …): a 429 saying
    /// how long to wait.
    #[error("{message}")]
    TooSoon { code: &'static str, message: String, retry_after_s: i64 },
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("a storage task stopped unexpectedly")]
    TaskFailed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Unavailable(e)
    }
}

/// JSON read back from a row that does not parse. Where the caller knows which record it
/// was, it says so with [`StoreError::corrupt`]; `?` names it "a stored record".
impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::corrupt("a stored record", e)
    }
}

impl StoreError {
    /// The record `what` ("receipt 42") holds JSON that does not parse.
    pub fn corrupt(what: impl Into<String>, source: serde_json::Error) -> StoreError {
        StoreError::Corrupt { what: what.into(), source }
    }
}

/// Settings the store needs to interpret identifiers.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Region for phone numbers without a country code.
    pub default_region: String,
    /// Digits every assigned card starts with.
    pub card_prefix: String,
    /// Synced to a cloud: points come from the cloud's balances plus local movements.
    pub connected: bool,
    /// The store this till belongs to (from its enrolment), for campaigns' `stores`.
    pub store: Option<String>,
}

/// A cheap, clonable handle on the agent database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    settings: StoreSettings,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The error of the last failed write, cleared by the next successful one.
    write_failure: Mutex<Option<String>>,
    /// Writes so far, so the checkpointer knows when the WAL has grown.
    writes: AtomicU64,
}

/// How often the background checkpointer looks for new WAL frames.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The writer's own automatic checkpoint, kept only as a backstop for a checkpointer that
/// falls behind: 10,000 pages (about 40 MB of WAL). SQLite's default of 1,000 pages made
/// every 50th commit or so copy the WAL into the database and sync it before answering.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// How many idle read connections are kept.
const READER_POOL: usize = 4;

impl Store {
    /// Opens (creating if needed) the database, applies migrations and checks integrity.
    pub fn open(path: &Path, settings: StoreSettings) -> Result<Store, StoreError> {
        let cannot_open = |message: String| StoreError::CannotOpen { path: path.to_owned(), message };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| cannot_open(e.to_string()))?;
        }
        let mut writer = open_connection(path).map_err(|e| cannot_open(e.to_string()))?;
        let found: i64 =
            writer.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(|e| cannot_open(e.to_string()))?;
        if found > SCHEMA_VERSION as i64 {
            return Err(cannot_open(format!(
                "it was written by a newer loyalty-agent (schema {found}, this one knows {SCHEMA_VERSION}); install that version or newer"
            )));
        }
        schema::migrate(&mut writer).map_err(|e| cannot_open(format!("migration failed: {e}")))?;
        let check: String =
            writer.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(|e| cannot_open(e.to_string()))?;
        if check != "ok" {
            return Err(cannot_open(format!(
                "integrity check failed: {check}; restore a backup or move the file away"
            )));
        }
        writer
            .pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
            .map_err(|e| cannot_open(e.to_string()))?;
        let store = Store {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                settings,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                write_failure: Mutex::new(None),
                writes: AtomicU64::new(0),
            }),
        };
        store.start_checkpointer();
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn settings(&self) -> &StoreSettings {
        &self.inner.settings
    }

    /// Moves committed WAL frames into the database file on a thread of its own, so a commit
    /// never waits for a checkpoint (its `fsync` of the database file, and the copying) before
    /// it answers. A PASSIVE checkpoint neither blocks nor waits for readers or the writer. The
    /// thread ends soon after the last handle on the store is dropped.
    fn start_checkpointer(&self) {
        let weak = Arc::downgrade(&self.inner);
        let path = self.inner.path.clone();
        let spawned = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
            let mut seen = 0;
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                let Some(inner) = weak.upgrade() else { return };
                let writes = inner.writes.load(Ordering::Relaxed);
                drop(inner);
                if writes != seen {
                    seen = writes;
                    // A connection only for the checkpoint: one held open between them would
                    // outlive the store, and SQLite folds the WAL into the file (and deletes
                    // it) only when the last connection closes.
                    let done = open_connection(&path).map_err(|e| e.to_string()).and_then(|conn| {
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).map_err(|e| e.to_string())
                    });
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "a background WAL checkpoint failed; the next one retries");
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no background checkpointer; commits checkpoint the WAL themselves");
            if let Ok(conn) = self.inner.writer.lock() {
                let _ = conn.pragma_update(None, "wal_autocheckpoint", 1000);
            }
        }
    }

    /// `None` when the last write succeeded; otherwise why it failed.
    pub fn write_failure(&self) -> Option<String> {
        self.inner.write_failure.lock().map(|guard| guard.clone()).unwrap_or(None)
    }

    /// Runs `f` on a read connection on the blocking pool.
    pub(crate) async fn read<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection, &StoreSettings) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().ok().and_then(|mut pool| pool.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&inner.path)?,
            };
            let result = f(&conn, &inner.settings);
            if let Ok(mut pool) = inner.readers.lock() {
                if pool.len() < READER_POOL {
                    pool.push(conn);
                }
            }
            result
        })
        .await
        .map_err(|_| StoreError::TaskFailed)?
    }

    /// Runs a short read on the calling thread (a tokio worker), with a pooled connection.
    ///
    /// For customer lookups only: a lookup is a few index probes, tens of microseconds, and
    /// handing it to the blocking pool and back (two thread wake-ups) cost several times
    /// that — most of a lookup's time as the till sees it (issue 9). Blocking a worker that
    /// long is cheaper than the hand-off; the other workers go on serving meanwhile.
    pub(crate) fn read_here<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection, &StoreSettings) -> Result<R, StoreError>,
    {
        let pooled = self.inner.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.inner.path)?,
        };
        let result = f(&conn, &self.inner.settings);
        if let Ok(mut pool) = self.inner.readers.lock() {
            if pool.len() < READER_POOL {
                pool.push(conn);
            }
        }
        result
    }

    /// Runs `f` with the single writer connection on the blocking pool. `f` opens its own
    /// transaction; a storage failure is remembered for health until a write succeeds.
    pub(crate) async fn write<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection, &StoreSettings) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside an earlier closure poisons the mutex; the connection itself is
            // still sound (its transaction was rolled back on drop), so keep using it.
            let mut conn = inner.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let result = f(&mut conn, &inner.settings);
            inner.writes.fetch_add(1, Ordering::Relaxed);
            let failure = match &result {
                Err(StoreError::Unavailable(e)) => Some(e.to_string()),
                _ => None,
            };
            // Only storage failures change health; a rule violation says nothing about the disk.
            if failure.is_some() || result.is_ok() {
                if let Ok(mut slot) = inner.write_failure.lock() {
                    *slot = failure;
                }
            }
            result
        })
        .await
        .map_err(|_| StoreError::TaskFailed)?
    }

    /// Records a program version (by the hash of its text) and returns its version number.
    pub async fn record_program(&self, hash: String, body: String, now: i64) -> Result<i64, StoreError> {
        self.write(move |conn, _| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing: Option<i64> = tx
                .query_row("SELECT version FROM program_versions WHERE hash = ?1", [&hash], |row| row.get(0))
                .optional()?;
            let version = match existing {
                Some(version) => version,
                None => {
                    tx.execute(
                        "INSERT INTO program_versions (version, hash, body, recorded_at)
                         VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM program_versions), ?1, ?2, ?3)",
                        rusqlite::params![hash, body, now],
                    )?;
                    tx.query_row("SELECT version FROM program_versions WHERE hash = ?1", [&hash], |row| row.get(0))?
                }
            };
            tx.commit()?;
            Ok(version)
        })
        .await
    }

    /// Events waiting for the cloud and the age of the oldest (seconds at `now`).
    pub async fn outbox_pending(&self, now: i64) -> Result<(i64, Option<i64>), StoreError> {
        self.read(move |conn, _| {
            // Health asks this every few seconds, during a drain too: the count comes from the
            // event-id index and the oldest from the first seq (events are queued in time
            // order), so neither reads the payloads — `MIN(created_at)` would scan them all.
            let count: i64 = conn.prepare_cached("SELECT COUNT(*) FROM outbox")?.query_row([], |row| row.get(0))?;
            let oldest: Option<i64> = conn
                .prepare_cached("SELECT created_at FROM outbox ORDER BY seq LIMIT 1")?
                .query_row([], |row| row.get(0))
                .optional()?;
            Ok((count, oldest.map(|at| (now - at).max(0))))
        })
        .await
    }
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A commit walks more distinct statements than rusqlite's default cache of 16 holds; past
    // that, every commit would prepare some of them again.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl From<crate::identity::fields::FieldError> for StoreError {
    fn from(e: crate::identity::fields::FieldError) -> StoreError {
        StoreError::InvalidWith { code: e.code, message: e.message, params: e.params }
    }
}
