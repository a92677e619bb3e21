//! The PostgreSQL backend, over the synchronous `postgres` crate (run on tokio's blocking pool
//! like everything in `db`).
//!
//! Writes run at READ COMMITTED and lock what they check (`SELECT … FOR UPDATE`: the till row
//! before its events, the customer row before their lots, the feed counter last), so two
//! loyalty-cloud processes on one database serialise exactly where they must and nowhere else.
//! Reads run at REPEATABLE READ: every statement of a pull sees the same snapshot.
//!
//! The pool is a mutex of idle connections plus a cap on how many exist, each with its own
//! prepared-statement cache. Connections use TLS as the URL's `sslmode` says (`pg_tls`).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, Statement};

use super::pg_tls::PgTarget;
use super::{schema_postgres, AsDbError, DbError, Dialect, Mode, Row, Sql, Value};

/// Connections one process opens at most; more callers wait for a free one.
const MAX_CONNECTIONS: usize = 16;
/// How long a caller waits for a free connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// A lock id for the migration advisory lock ("LC" + 8720).
const MIGRATION_LOCK: i64 = 0x4C43_2210;

#[derive(Clone)]
pub struct PgDb {
    pool: Arc<Pool>,
}

struct Pool {
    target: PgTarget,
    /// How this database folds case (probed once at open, see [`CaseFold`]).
    fold: std::sync::OnceLock<CaseFold>,
    state: Mutex<PoolState>,
    /// Signalled when a connection goes back to the pool or a slot frees up.
    freed: Condvar,
}

struct PoolState {
    idle: Vec<PgConn>,
    /// Connections that may still be opened: the cap minus those that exist (idle or leased).
    free_slots: usize,
}

struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgDb {
    /// Connects, then applies the migrations not yet recorded. Call from a blocking thread.
    pub fn open(url: &str) -> Result<PgDb, DbError> {
        let target = PgTarget::from_url(url)?;
        let db = PgDb {
            pool: Arc::new(Pool {
                target,
                fold: std::sync::OnceLock::new(),
                state: Mutex::new(PoolState { idle: Vec::new(), free_slots: MAX_CONNECTIONS }),
                freed: Condvar::new(),
            }),
        };
        db.transaction(Mode::Write, &|sql: &mut dyn Sql| migrate(sql))?;
        let fold = db.transaction(Mode::Read, &|sql: &mut dyn Sql| CaseFold::probe(sql))?;
        if fold == CaseFold::AsciiOnly {
            tracing::warn!(
                "this PostgreSQL database folds only ASCII case (its locale is C) and has no ICU collation: \
                 a search for a name matches Cyrillic only as typed; create the database with a UTF-8 locale"
            );
        }
        let _ = db.pool.fold.set(fold);
        Ok(db)
    }

    pub(super) fn transaction<R, E, F>(&self, mode: Mode, work: &F) -> Result<R, E>
    where
        F: Fn(&mut dyn Sql) -> Result<R, E>,
        E: From<DbError> + AsDbError,
    {
        let mut lease = self.pool.acquire()?;
        let begin = match mode {
            Mode::Write => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Mode::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let conn = lease.conn.as_mut().ok_or_else(|| DbError::Open("no connection".into()))?;
        conn.client.batch_execute(begin).map_err(map_error)?;
        let fold = self.pool.fold.get().copied().unwrap_or(CaseFold::Locale);
        let mut sql = PgSql { conn, held: String::new(), savepoint: EventSavepoint::None, fold };
        let result = work(&mut sql);
        let mut held = std::mem::take(&mut sql.held);
        let conn = lease.conn.as_mut().ok_or_else(|| DbError::Open("no connection".into()))?;
        let result = match result {
            // Held-back writes go with the commit: if one fails, the rest of the string,
            // COMMIT included, is skipped, and the transaction is rolled back below.
            Ok(value) => {
                held.push_str("COMMIT");
                match conn.client.batch_execute(&held) {
                    Ok(()) => return Ok(value),
                    Err(e) if conn.client.is_closed() => {
                        lease.discard();
                        return Err(E::from(map_error(e)));
                    }
                    Err(e) => Err(E::from(map_error(e))),
                }
            }
            Err(e) => Err(e),
        };
        if conn.client.batch_execute("ROLLBACK").is_err() {
            lease.discard();
        }
        result
    }
}

impl Pool {
    /// An idle connection, or a new one while fewer than the cap exist, or — when all are in
    /// use — the next one returned, waiting at most [`ACQUIRE_TIMEOUT`].
    fn acquire(self: &Arc<Pool>) -> Result<Lease, DbError> {
        let deadline = std::time::Instant::now() + ACQUIRE_TIMEOUT;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            while let Some(conn) = state.idle.pop() {
                if !conn.client.is_closed() {
                    return Ok(Lease { pool: self.clone(), conn: Some(conn) });
                }
                state.free_slots += 1;
            }
            if state.free_slots > 0 {
                state.free_slots -= 1;
                drop(state);
                // Connect without holding the lock: it takes a network round trip or more.
                return match connect(&self.target) {
                    Ok(conn) => Ok(Lease { pool: self.clone(), conn: Some(conn) }),
                    Err(e) => {
                        self.give_back_slot();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(DbError::Open("all database connections are busy".into()));
            }
            state = self.freed.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn give_back_slot(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.free_slots += 1;
        self.freed.notify_one();
    }

    fn give_back(&self, conn: PgConn) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.idle.push(conn);
        self.freed.notify_one();
    }
}

impl Drop for Pool {
    /// A `postgres::Client` owns a small tokio runtime, which must not be dropped on an async
    /// thread; the last handle may well go away on one, so the connections close elsewhere.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let idle = std::mem::take(&mut state.idle);
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// A connection on loan; it goes back to the pool when dropped, unless it was discarded.
struct Lease {
    pool: Arc<Pool>,
    conn: Option<PgConn>,
}

impl Lease {
    fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn);
            self.pool.give_back_slot();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.client.is_closed() {
                drop(conn);
                self.pool.give_back_slot();
            } else {
                // An idle connection keeps its slot: slots count connections, not leases.
                self.pool.give_back(conn);
            }
        }
    }
}

fn connect(target: &PgTarget) -> Result<PgConn, DbError> {
    let mut client = target.connect()?;
    // No statement may hang a request forever; a pull never holds a transaction while waiting.
    // Every prepared statement is planned for its values: a generic plan made while a table
    // was small (a new database, the first pushes) is kept for the connection's life and goes
    // on scanning the table once it holds millions of rows — on a fresh cluster, the chunk's
    // `receipt_id IN (…)` lookup came to take most of a drain.
    client
        .batch_execute(
            "SET statement_timeout = '30s'; SET lock_timeout = '20s'; SET standard_conforming_strings = on;
             SET plan_cache_mode = force_custom_plan",
        )
        .map_err(map_error)?;
    Ok(PgConn { client, statements: HashMap::new() })
}

fn map_error(e: postgres::Error) -> DbError {
    match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => DbError::UniqueViolation(e.to_string()),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE => {
            DbError::Retry(e.to_string())
        }
        _ => DbError::Postgres(e),
    }
}

fn migrate(sql: &mut dyn Sql) -> Result<(), DbError> {
    sql.query("SELECT pg_advisory_xact_lock($1)", crate::vals![MIGRATION_LOCK])?;
    sql.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        &[],
    )?;
    let found = sql.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.int(0)?;
    let known = schema_postgres::MIGRATIONS.len() as i64;
    if found > known {
        return Err(DbError::Open(format!(
            "the database was written by a newer loyalty-cloud (schema {found}, this one knows {known})"
        )));
    }
    for (index, migration) in schema_postgres::MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        sql.execute(migration, &[])?;
        sql.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            crate::vals![index as i64 + 1, crate::clock::now()],
        )?;
    }
    Ok(())
}

/// How `LOWER` is made to fold Cyrillic: the database's own locale when it does (a UTF-8
/// locale), else ICU's root collation, else (a server built without ICU) ASCII only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaseFold {
    Locale,
    Icu,
    AsciiOnly,
}

impl CaseFold {
    fn probe(sql: &mut dyn Sql) -> Result<CaseFold, DbError> {
        let row = sql.query_one(
            "SELECT CASE WHEN LOWER('ЁЖ') = 'ёж' THEN 1 ELSE 0 END,
                    CASE WHEN EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN 1 ELSE 0 END",
            &[],
        )?;
        Ok(match (row.int(0)?, row.int(1)?) {
            (1, _) => CaseFold::Locale,
            (_, 1) => CaseFold::Icu,
            _ => CaseFold::AsciiOnly,
        })
    }
}

struct PgSql<'c> {
    conn: &'c mut PgConn,
    fold: CaseFold,
    /// Writes held back by [`Sql::write`], as one simple-query string, until the next
    /// statement or the commit takes them to the server.
    held: String,
    savepoint: EventSavepoint,
}

/// An event's savepoint (`Sql::open_event_savepoint`). Most events send nothing to the server
/// before the next one begins — their writes are all held — so undoing one is cutting its
/// statements off `held`, and no savepoint is needed. It is taken only when something of the
/// event is about to be sent: then `SAVEPOINT` goes in front of the event's held statements.
/// That saves the server a subtransaction and two statements per event.
enum EventSavepoint {
    None,
    /// Opened, not yet taken: the event's writes start at this offset of `held`.
    Deferred(usize),
    /// Taken on the server.
    Sent,
}

/// Held-back writes are sent once they reach this size, so a long import cannot grow them
/// without bound.
const HELD_LIMIT: usize = 256 * 1024;

impl PgSql<'_> {
    /// Sends the held-back writes, if any, in one round trip.
    fn flush(&mut self) -> Result<(), DbError> {
        // Whatever goes to the server now may belong to the event: take its savepoint first.
        if let EventSavepoint::Deferred(start) = self.savepoint {
            self.held.insert_str(start, "SAVEPOINT event;\n");
            self.savepoint = EventSavepoint::Sent;
        }
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        self.conn.client.batch_execute(&held).map_err(map_error)
    }

    fn statement(&mut self, sql: &str, params: &[Value]) -> Result<Statement, DbError> {
        super::refuse_nul(params)?;
        if let Some(statement) = self.conn.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.conn.client.prepare(sql).map_err(map_error)?;
        self.conn.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl Sql for PgSql<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.flush()?;
        if params.is_empty() && sql.contains(';') {
            // Migrations: several statements, no parameters.
            self.conn.client.batch_execute(sql).map_err(map_error)?;
            return Ok(0);
        }
        let statement = self.statement(sql, params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        self.conn.client.execute(&statement, &refs).map_err(map_error)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        self.flush()?;
        let statement = self.statement(sql, params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = self.conn.client.query(&statement, &refs).map_err(map_error)?;
        rows.iter().map(decode_row).collect()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn plan_once(&mut self, once: bool) -> Result<(), DbError> {
        let mode = if once { "auto" } else { "force_custom_plan" };
        self.write(&format!("SET LOCAL plan_cache_mode = {mode}"), &[])
    }

    fn open_event_savepoint(&mut self) -> Result<(), DbError> {
        if !matches!(self.savepoint, EventSavepoint::None) {
            self.release_event_savepoint()?;
        }
        self.savepoint = EventSavepoint::Deferred(self.held.len());
        Ok(())
    }

    fn release_event_savepoint(&mut self) -> Result<(), DbError> {
        if let EventSavepoint::Sent = std::mem::replace(&mut self.savepoint, EventSavepoint::None) {
            self.write("RELEASE SAVEPOINT event", &[])?;
        }
        Ok(())
    }

    fn undo_event_savepoint(&mut self) -> Result<(), DbError> {
        match std::mem::replace(&mut self.savepoint, EventSavepoint::None) {
            EventSavepoint::Deferred(start) => self.held.truncate(start),
            EventSavepoint::Sent => self.write("ROLLBACK TO SAVEPOINT event; RELEASE SAVEPOINT event", &[])?,
            EventSavepoint::None => {}
        }
        Ok(())
    }

    fn fold_case(&self, expr: &str) -> String {
        match self.fold {
            CaseFold::Icu => format!("LOWER(({expr}) COLLATE \"und-x-icu\")"),
            CaseFold::Locale | CaseFold::AsciiOnly => format!("LOWER({expr})"),
        }
    }

    /// The synchronous client cannot pipeline, and a push writes a dozen rows per event: held
    /// back and sent as one simple query with the next statement, they cost one round trip
    /// instead of a dozen. The parameters are written into the text as literals.
    fn write(&mut self, sql: &str, params: &[Value]) -> Result<(), DbError> {
        super::refuse_nul(params)?;
        inline_params(sql, params, &mut self.held)?;
        self.held.push_str(";\n");
        if self.held.len() >= HELD_LIMIT {
            self.flush()?;
        }
        Ok(())
    }
}

/// Appends `sql` with each `$n` outside a quoted string replaced by the literal of `params[n-1]`:
/// integers as numbers (negative ones in parentheses, so `- $1` cannot become a `--` comment),
/// text single-quoted with quotes doubled (the connection pins `standard_conforming_strings`,
/// so a backslash is just a backslash), NULL as `NULL`. A literal's type is inferred from
/// where it stands, as a parameter's is.
fn inline_params(sql: &str, params: &[Value], out: &mut String) -> Result<(), DbError> {
    use std::fmt::Write as _;
    let mut chars = sql.char_indices().peekable();
    let mut quoted = false;
    while let Some((_, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '$' || quoted || !chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) {
            out.push(c);
            continue;
        }
        let mut index = 0usize;
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            index = index.saturating_mul(10).saturating_add(d as usize - '0' as usize);
            chars.next();
        }
        let value = index
            .checked_sub(1)
            .and_then(|i| params.get(i))
            .ok_or_else(|| DbError::Decode(format!("statement names ${index} but has {} parameters", params.len())))?;
        match value {
            Value::Null => out.push_str("NULL"),
            Value::Int(v) if *v < 0 => {
                let _ = write!(out, "({v})");
            }
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Text(text) => {
                out.push('\'');
                out.push_str(&text.replace('\'', "''"));
                out.push('\'');
            }
        }
    }
    Ok(())
}

fn decode_row(row: &postgres::Row) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let bad = |e: postgres::Error| DbError::Decode(format!("column {}: {e}", column.name()));
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(bad)?.map(Value::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(i).map_err(bad)?.map(|v| Value::Int(v.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(i).map_err(bad)?.map(|v| Value::Int(v.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(i).map_err(bad)?.map(|v| Value::Int(v.into())),
            Type::VOID => None,
            _ => row.try_get::<_, Option<String>>(i).map_err(bad)?.map(Value::Text),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound to a {ty} parameter").into()),
            },
            Value::Text(v) => v.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`: a NULL fits any column type.
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(sql: &str, params: &[Value]) -> String {
        let mut out = String::new();
        inline_params(sql, params, &mut out).expect("inlines");
        out
    }

    #[test]
    fn parameters_become_literals_that_cannot_escape_their_quotes() {
        let params = [Value::from("it's; DROP TABLE x --"), Value::Int(-5), Value::Null, Value::Int(12)];
        assert_eq!(
            inline("INSERT INTO t (a, b, c, d) VALUES ($1, $2, $3, $4)", &params),
            "INSERT INTO t (a, b, c, d) VALUES ('it''s; DROP TABLE x --', (-5), NULL, 12)"
        );
        // `x -$2` must not turn into a `--` comment; `$10` is not `$1` followed by a 0.
        assert_eq!(inline("SELECT x -$2", &params), "SELECT x -(-5)");
        let many: Vec<Value> = (1..=10).map(Value::Int).collect();
        assert_eq!(inline("SELECT $10, $1", &many), "SELECT 10, 1");
        // A `$` inside a quoted string of the statement is left alone.
        assert_eq!(inline("SELECT '$1', $1", &[Value::from("a\\b")]), "SELECT '$1', 'a\\b'");
    }

    #[test]
    fn a_missing_parameter_is_an_error_not_a_panic() {
        let mut out = String::new();
        assert!(inline_params("SELECT $3", &[Value::Int(1)], &mut out).is_err());
        assert!(inline_params("SELECT $0", &[Value::Int(1)], &mut out).is_err());
        assert!(inline_params("SELECT $99999999999999999999999", &[], &mut out).is_err());
    }
}
