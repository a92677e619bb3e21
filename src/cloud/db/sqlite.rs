//! The SQLite backend: one file in the data directory, WAL with `synchronous=FULL` (a commit
//! that answered is on disk), one writer connection behind a mutex (`BEGIN IMMEDIATE`, so a
//! check and the write it guards never interleave with another writer) and a few pooled
//! readers that see consistent snapshots beside it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{schema_sqlite, AsDbError, DbError, Dialect, Mode, Row, Sql, Value};

/// How many idle read connections are kept.
const READERS: usize = 4;

#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Statements whose placeholders were checked: SQLite looks a parameter's name up by
    /// walking a list, so checking a statement of n placeholders costs n², and a bulk insert
    /// of thousands of them must pay that once, not on every execution.
    checked: Mutex<HashSet<String>>,
}

impl SqliteDb {
    pub fn open(path: &Path) -> Result<SqliteDb, DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Open(format!("{}: {e}", dir.display())))?;
        }
        let mut writer = connect(path)?;
        schema_sqlite::migrate(&mut writer)?;
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                checked: Mutex::new(HashSet::new()),
            }),
        })
    }

    pub(super) fn transaction<R, E, F>(&self, mode: Mode, work: &F) -> Result<R, E>
    where
        F: Fn(&mut dyn Sql) -> Result<R, E>,
        E: From<DbError> + AsDbError,
    {
        match mode {
            Mode::Write => {
                // A panic in an earlier use case poisons the mutex; the connection is still sound
                // (its transaction rolled back when the panic unwound past it), so keep using it.
                let mut conn = self.inner.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                in_transaction(&mut conn, &self.inner.checked, "BEGIN IMMEDIATE", work)
            }
            Mode::Read => {
                let pooled = self.inner.readers.lock().ok().and_then(|mut pool| pool.pop());
                let mut conn = match pooled {
                    Some(conn) => conn,
                    None => connect(&self.inner.path)?,
                };
                let result = in_transaction(&mut conn, &self.inner.checked, "BEGIN", work);
                if let Ok(mut pool) = self.inner.readers.lock() {
                    if pool.len() < READERS {
                        pool.push(conn);
                    }
                }
                result
            }
        }
    }
}

fn in_transaction<R, E, F>(
    conn: &mut Connection,
    checked: &Mutex<HashSet<String>>,
    begin: &str,
    work: &F,
) -> Result<R, E>
where
    F: Fn(&mut dyn Sql) -> Result<R, E>,
    E: From<DbError>,
{
    conn.execute_batch(begin).map_err(DbError::from)?;
    let mut sql = SqliteSql { conn, checked };
    let result = work(&mut sql);
    match result {
        Ok(value) => match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(E::from(map_error(e)))
            }
        },
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn connect(path: &Path) -> Result<Connection, DbError> {
    let open = |e: rusqlite::Error| DbError::Open(format!("{}: {e}", path.display()));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(open)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(open)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(open)?;
    // 32 MiB of page cache per connection (SQLite's default is 2 MiB), taken only as pages are
    // read: a push touches the receipts, lots and ledger indexes all over, and with the
    // default every chunk read most of its pages again from the file.
    conn.pragma_update(None, "cache_size", -32_768).map_err(open)?;
    // Checkpoint the WAL into the database every ~40 MiB of it rather than every ~4 MiB: the
    // index pages every push changes (receipts, ledger, lots) are then copied back once per
    // many pushes instead of once per few, which was a third of a drain's CPU.
    conn.pragma_update(None, "wal_autocheckpoint", 40_000).map_err(open)?;
    // A push takes a savepoint per event, and SQLite copies every page an event changes into
    // the savepoint's journal first: kept in a temporary file, that was one `pwrite` per page
    // (as many bytes as the WAL itself took, and a fifth of a drain's CPU). In memory it is
    // a copy, and the journal never outlives its transaction anyway.
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(open)?;
    register_functions(&conn).map_err(open)?;
    // A push chunk cycles through a few dozen statements (some built per chunk size): keep them all.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

fn map_error(e: rusqlite::Error) -> DbError {
    match &e {
        rusqlite::Error::SqliteFailure(code, message)
            if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            DbError::UniqueViolation(message.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => DbError::Sqlite(e),
    }
}

/// A connection inside a transaction, as the use cases see it.
pub(super) struct SqliteSql<'c> {
    pub(super) conn: &'c mut Connection,
    pub(super) checked: &'c Mutex<HashSet<String>>,
}

impl SqliteSql<'_> {
    fn prepare(&self, sql: &str, params: &[Value]) -> Result<rusqlite::CachedStatement<'_>, DbError> {
        super::refuse_nul(params)?;
        let stmt = self.conn.prepare_cached(sql).map_err(map_error)?;
        if stmt.parameter_count() != params.len() {
            return Err(DbError::Decode(format!(
                "the statement has {} placeholders but {} values were given",
                stmt.parameter_count(),
                params.len()
            )));
        }
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        if !checked.contains(sql) {
            check_placeholders(&stmt, params.len())?;
            checked.insert(sql.to_owned());
        }
        Ok(stmt)
    }
}

/// SQLite binds `$1, $2, …` by their position of first appearance, not by their digits: a
/// statement where `$2` appears before `$1` would silently swap the values. Refuse it.
fn check_placeholders(stmt: &rusqlite::Statement<'_>, given: usize) -> Result<(), DbError> {
    let count = stmt.parameter_count();
    if count != given {
        return Err(DbError::Decode(format!("the statement has {count} placeholders but {given} values were given")));
    }
    for index in 1..=count {
        let expected = format!("${index}");
        if stmt.parameter_name(index) != Some(expected.as_str()) {
            return Err(DbError::Decode(format!(
                "placeholder {index} is {:?}; number placeholders $1, $2, … in order of first appearance",
                stmt.parameter_name(index)
            )));
        }
    }
    Ok(())
}

/// Binds a value without copying it: a pushed chunk binds hundreds of thousands of texts, and a
/// copy of each was a tenth of what a sale cost the cloud.
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
        }))
    }
}

impl Sql for SqliteSql<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut stmt = self.prepare(sql, params)?;
        let changed = stmt.execute(rusqlite::params_from_iter(params.iter())).map_err(map_error)?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.prepare(sql, params)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(map_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(map_error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
                    other => {
                        return Err(DbError::Decode(format!(
                            "column {i} has an unexpected type {:?}",
                            other.data_type()
                        )))
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn fold_case(&self, expr: &str) -> String {
        format!("fold_case({expr})")
    }
}

/// Registers `fold_case(text)`: the text lowered by Rust's Unicode rules (`NULL` for `NULL`
/// or a number), which SQLite's own `LOWER` is not beyond ASCII. Deterministic, so SQLite may
/// call it once per row and value.
pub(super) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "fold_case",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) if text.is_ascii() => Some(text.to_ascii_lowercase()),
                    Ok(text) => Some(text.to_lowercase()),
                    Err(_) => Some(String::from_utf8_lossy(bytes).to_lowercase()),
                },
                _ => None,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        register_functions(&conn).expect("our functions");
        conn
    }

    #[test]
    fn fold_case_lowers_cyrillic_as_lower_does_not() {
        let conn = memory();
        let folded: (String, String, Option<String>) = conn
            .query_row(
                "SELECT fold_case('ИВАНОВ Пётр'), LOWER('ИВАНОВ Пётр'), fold_case(NULL)",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert_eq!(folded, ("иванов пётр".to_owned(), "ИВАНОВ Пётр".to_owned(), None));
    }

    #[test]
    fn dollar_placeholders_bind_by_position_of_first_appearance() {
        let mut conn = memory();
        let checked = Mutex::default();
        let mut sql = SqliteSql { conn: &mut conn, checked: &checked };
        sql.execute("CREATE TABLE t (a INTEGER, b TEXT, c INTEGER)", &[]).unwrap();
        // $1 used twice, and $3 after $2: both fine.
        sql.execute("INSERT INTO t (a, b, c) VALUES ($1, $2, $1 + $3)", crate::vals![7, "x", 5]).unwrap();
        let row = sql.query_one("SELECT a, b, c FROM t WHERE b = $1", crate::vals!["x"]).unwrap();
        assert_eq!((row.int(0).unwrap(), row.text(1).unwrap(), row.int(2).unwrap()), (7, "x".to_owned(), 12));
        let nulls = sql.query_one("SELECT $1, $2", &[Value::Null, Value::Text("é".into())]).unwrap();
        assert_eq!(nulls.opt_int(0).unwrap(), None);
        assert_eq!(nulls.text(1).unwrap(), "é");
    }

    #[test]
    fn placeholders_out_of_order_are_refused_not_swapped() {
        let mut conn = memory();
        let checked = Mutex::default();
        let mut sql = SqliteSql { conn: &mut conn, checked: &checked };
        sql.execute("CREATE TABLE t (a INTEGER, b INTEGER)", &[]).unwrap();
        assert!(matches!(
            sql.execute("INSERT INTO t (a, b) VALUES ($2, $1)", crate::vals![1, 2]),
            Err(DbError::Decode(_))
        ));
        assert!(matches!(
            sql.execute("INSERT INTO t (a, b) VALUES ($1, $2)", crate::vals![1]),
            Err(DbError::Decode(_))
        ));
    }

    #[test]
    fn unique_violations_are_recognised() {
        let mut conn = memory();
        let checked = Mutex::default();
        let mut sql = SqliteSql { conn: &mut conn, checked: &checked };
        sql.execute("CREATE TABLE t (a TEXT PRIMARY KEY)", &[]).unwrap();
        sql.execute("INSERT INTO t (a) VALUES ($1)", crate::vals!["k"]).unwrap();
        let again = sql.execute("INSERT INTO t (a) VALUES ($1)", crate::vals!["k"]);
        assert!(matches!(again, Err(DbError::UniqueViolation(_))), "{again:?}");
    }
}
