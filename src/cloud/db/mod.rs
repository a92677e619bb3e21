//! The cloud's storage boundary: a small synchronous SQL trait ([`Sql`]) that SQLite and
//! PostgreSQL both implement, and [`Database`], which runs one use case in one transaction on
//! tokio's blocking pool.
//!
//! The use cases (`cloud::store`) are written once against [`Sql`]. All DML uses `$1, $2, …`
//! placeholders, numbered in order of first appearance: PostgreSQL reads them natively, and
//! SQLite reads `$1` as a named parameter that is bound by position — the SQLite backend checks
//! every statement's parameter names, so a placeholder out of order is an error, never a
//! silently swapped value. DDL is per dialect (`schema_sqlite.rs`, `schema_postgres.rs`).
//!
//! This module knows nothing about loyalty: it moves integers and text.

mod pg_tls;
pub mod postgres;
mod schema_postgres;
mod schema_sqlite;
pub mod sqlite;

use std::time::Duration;

/// A value bound to a placeholder or read from a column. Money and points are `Int`; there is
/// deliberately no floating-point variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

/// `vals![a, b, c]` builds the parameter slice of a statement.
#[macro_export]
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::cloud::db::Value::from($v)),*] };
}

/// One result row. Accessors answer a [`DbError::Decode`] instead of panicking when a column
/// holds something else than the use case expects.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, DbError> {
        self.0.get(i).ok_or_else(|| DbError::Decode(format!("no column {i}")))
    }
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            other => Err(DbError::Decode(format!("column {i}: expected an integer, found {other:?}"))),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            other => Err(DbError::Decode(format!("column {i}: expected text, found {other:?}"))),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
}

/// Where the two SQL dialects differ, the use cases ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The row-locking suffix for a `SELECT` inside a write transaction. SQLite has one writer
    /// at a time (`BEGIN IMMEDIATE`), so it needs none; PostgreSQL locks the rows read.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// The storage operations the use cases need. Implemented by a connection that is already
/// inside a transaction; [`Database::run`] begins and ends it.
pub trait Sql {
    /// Runs a statement and answers the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    /// Runs a query and answers its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
    fn dialect(&self) -> Dialect;

    /// `expr` folded to lower case by Unicode's rules, Cyrillic included, for a comparison
    /// that ignores case; compare it with a value lowered by [`str::to_lowercase`]. SQLite's
    /// `LOWER` and `LIKE` fold only ASCII, and PostgreSQL's `LOWER` folds by the database's
    /// locale (only ASCII under `C`), so each backend says how it folds.
    fn fold_case(&self, expr: &str) -> String;

    /// Runs a statement whose outcome nobody reads: a write, or on PostgreSQL a
    /// `SELECT … FOR UPDATE` run for its lock (SQLite's `execute` refuses a `SELECT`). PostgreSQL holds it back and sends it
    /// with whatever goes to the server next (the next query, or the commit), many statements
    /// in one round trip; its errors surface there and fail the transaction all the same.
    /// Order is kept: every later `execute` or `query` sees its effect.
    fn write(&mut self, sql: &str, params: &[Value]) -> Result<(), DbError> {
        self.execute(sql, params).map(drop)
    }

    /// Opens the savepoint one of a push's events is applied in (one at a time, never nested):
    /// [`Sql::undo_event_savepoint`] takes back that event's work alone. PostgreSQL defers it
    /// until something of the event must go to the server.
    fn open_event_savepoint(&mut self) -> Result<(), DbError> {
        self.write("SAVEPOINT event", &[])
    }
    /// Ends the event's savepoint, keeping its work.
    fn release_event_savepoint(&mut self) -> Result<(), DbError> {
        self.write("RELEASE SAVEPOINT event", &[])
    }
    /// Ends the event's savepoint, undoing its work.
    fn undo_event_savepoint(&mut self) -> Result<(), DbError> {
        self.write("ROLLBACK TO SAVEPOINT event", &[])?;
        self.write("RELEASE SAVEPOINT event", &[])
    }

    /// Lets the statements that follow, in this transaction, be planned once for any values
    /// (`true`), or again for each execution's values (`false`, how connections start). Only
    /// PostgreSQL plans that way. Inserts have one plan whatever their values, but each row they
    /// add runs its foreign keys' checks, which a connection that plans everything for its
    /// values plans again row by row: a drain's inserts spent most of PostgreSQL's time there.
    fn plan_once(&mut self, once: bool) -> Result<(), DbError> {
        let _ = once;
        Ok(())
    }

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
    /// Exactly one row (an aggregate, a row just written).
    fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, DbError> {
        self.query_opt(sql, params)?.ok_or_else(|| DbError::Decode(format!("no row from: {sql}")))
    }
}

/// Why the database failed. `is_retryable` tells [`Database::run`] to run the use case again.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// A unique constraint refused a row: another transaction (perhaps in another process)
    /// stored the same thing first. Running the use case again lets it see the winner.
    #[error("a uniqueness constraint was violated: {0}")]
    UniqueViolation(String),
    /// PostgreSQL chose this transaction as a deadlock or serialization victim.
    #[error("the transaction must be retried: {0}")]
    Retry(String),
    #[error("the database answered something unexpected: {0}")]
    Decode(String),
    #[error("cannot open the database: {0}")]
    Open(String),
    /// Text holding a NUL character: PostgreSQL cannot store it, so neither backend takes it
    /// (the same input gets the same answer on both). Bad input, not a database failure.
    #[error("text with a NUL character cannot be stored or looked up")]
    NulInText,
    #[error("a database task stopped unexpectedly")]
    TaskFailed,
}

impl DbError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, DbError::UniqueViolation(_) | DbError::Retry(_))
    }
}

/// Refuses parameters holding a NUL character (see [`DbError::NulInText`]).
pub(crate) fn refuse_nul(params: &[Value]) -> Result<(), DbError> {
    match params.iter().any(|v| matches!(v, Value::Text(text) if text.contains('\0'))) {
        true => Err(DbError::NulInText),
        false => Ok(()),
    }
}

/// Whether a transaction writes. Reads see one snapshot for all their statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

/// How many times a use case is run when the database asks for a retry.
const ATTEMPTS: usize = 4;

/// A handle on either backend. Cheap to clone.
#[derive(Clone)]
pub enum Database {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
}

impl Database {
    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Sqlite(_) => Dialect::Sqlite,
            Database::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `work` in one transaction on the blocking pool: commit on `Ok`, roll back on `Err`.
    ///
    /// `work` may run more than once: a unique violation, a deadlock or a serialization
    /// failure rolls back and runs it again, so it sees what the other transaction committed
    /// (e.g. an event another process applied first answers `duplicate` on the second run).
    pub async fn run<R, E, F>(&self, mode: Mode, work: F) -> Result<R, E>
    where
        F: Fn(&mut dyn Sql) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + AsDbError + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let result = match &db {
                    Database::Sqlite(inner) => inner.transaction(mode, &work),
                    Database::Postgres(inner) => inner.transaction(mode, &work),
                };
                match result {
                    Err(e) if attempt < ATTEMPTS && e.as_db_error().is_some_and(DbError::is_retryable) => {
                        tracing::debug!(attempt, "retrying a transaction");
                        std::thread::sleep(Duration::from_millis(5 * attempt as u64));
                    }
                    other => return other,
                }
            }
        })
        .await
        .map_err(|_| E::from(DbError::TaskFailed))?
    }
}

/// Lets [`Database::run`] see whether a use-case error came from the database.
pub trait AsDbError {
    fn as_db_error(&self) -> Option<&DbError>;
}

impl AsDbError for DbError {
    fn as_db_error(&self) -> Option<&DbError> {
        Some(self)
    }
}

/// Opens the database named by `url` (`postgres://…`) or, without one, the SQLite file at
/// `sqlite_path`, and brings its schema up to date.
pub fn open(url: Option<&str>, sqlite_path: &std::path::Path) -> Result<Database, DbError> {
    match url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Database::Postgres(postgres::PgDb::open(url)?))
        }
        Some(url) => Err(DbError::Open(format!(
            "unsupported database URL {:?}: use postgres://user@host:port/db, or none for SQLite",
            url.split('@').next_back().unwrap_or("")
        ))),
        None => Ok(Database::Sqlite(sqlite::SqliteDb::open(sqlite_path)?)),
    }
}
