//! A read-only look at an agent database for `loyalty-agent doctor`: it opens the file without
//! creating or migrating it (the agent may be running, or the file may be damaged), and answers
//! what a person checking a till needs — schema version, integrity, how many customers and
//! pending operations, and which stored records hold JSON that no longer parses (the API
//! answers `stored_data_corrupt` for those and points here).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::SCHEMA_VERSION;

/// What the database holds, as far as a read-only check can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseReport {
    /// `PRAGMA user_version`: how many migrations were applied.
    pub schema_version: i64,
    /// The schema version this build writes.
    pub known_version: i64,
    /// `ok`, or the first problems `PRAGMA quick_check` found.
    pub quick_check: String,
    /// `None` when the tables are not there yet (a schema this build does not know).
    pub customers: Option<i64>,
    pub pending: Option<i64>,
    /// The seq at which the cloud stopped this till's push with `sequence_conflict`, until the
    /// till is enrolled again over this database.
    pub sequence_conflict: Option<i64>,
    /// Records whose stored JSON does not parse, as "receipt 42" (at most
    /// [`MAX_UNREADABLE_SHOWN`] of them), and how many there are in all.
    pub unreadable: Vec<String>,
    pub unreadable_total: i64,
}

/// How many unreadable records the report names; the rest are only counted.
pub const MAX_UNREADABLE_SHOWN: usize = 10;

/// The rows holding JSON: (what a person calls one, table, its key, the JSON column).
const JSON_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("receipt", "receipts", "id", "result"),
    ("return", "returns", "id", "result"),
    ("adjustment", "adjustments", "id", "result"),
    ("outbox event", "outbox", "seq", "payload"),
    ("customer's tags", "customers", "id", "tags"),
    ("customer's consents", "customers", "id", "consents"),
];

impl DatabaseReport {
    pub fn intact(&self) -> bool {
        self.quick_check == "ok"
    }
}

/// Inspects the database at `path` read-only. An error means SQLite could not read it at all
/// ("file is not a database", a permission error, …); the message says which.
pub fn inspect(path: &Path) -> Result<DatabaseReport, rusqlite::Error> {
    // Read-only and no create: the doctor must never make a database appear, nor change one.
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    // quick_check answers one row per problem (up to 100 by default), or a single "ok".
    let mut statement = conn.prepare("PRAGMA quick_check(10)")?;
    let problems: Vec<String> = statement.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
    let quick_check = if problems.is_empty() { "no answer".to_owned() } else { problems.join("; ") };
    let count = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).ok();
    let (unreadable, unreadable_total) = unreadable_records(&conn);
    Ok(DatabaseReport {
        schema_version,
        known_version: SCHEMA_VERSION as i64,
        quick_check,
        customers: count("SELECT count(*) FROM customers"),
        pending: count("SELECT count(*) FROM outbox"),
        sequence_conflict: conn
            .query_row("SELECT value FROM meta WHERE key = 'sync_conflict'", [], |row| row.get::<_, String>(0))
            .ok()
            .and_then(|value| value.parse().ok()),
        unreadable,
        unreadable_total,
    })
}

/// Rows whose JSON column SQLite itself cannot parse (`json_valid`). A table this schema does
/// not have yet is skipped: the report on an old file must not fail for it.
fn unreadable_records(conn: &Connection) -> (Vec<String>, i64) {
    let mut shown = Vec::new();
    let mut total = 0;
    for (what, table, key, column) in JSON_COLUMNS {
        let sql = format!("SELECT CAST({key} AS TEXT) FROM {table} WHERE NOT json_valid({column}) ORDER BY {key}");
        let Ok(mut statement) = conn.prepare(&sql) else { continue };
        let Ok(rows) = statement.query_map([], |row| row.get::<_, String>(0)) else { continue };
        for key in rows.flatten() {
            total += 1;
            if shown.len() < MAX_UNREADABLE_SHOWN {
                shown.push(format!("{what} {key}"));
            }
        }
    }
    (shown, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::store::{Store, StoreSettings};

    #[test]
    fn a_fresh_database_is_intact_and_current() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let settings =
            StoreSettings { default_region: "RU".into(), card_prefix: "2700".into(), connected: false, store: None };
        drop(Store::open(&path, settings).unwrap());
        let report = inspect(&path).unwrap();
        assert!(report.intact(), "{report:?}");
        assert_eq!(report.schema_version, report.known_version);
        assert_eq!((report.customers, report.pending), (Some(0), Some(0)));
        assert_eq!((report.unreadable.len(), report.unreadable_total), (0, 0));
    }

    #[test]
    fn garbage_and_absence_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.db");
        assert!(inspect(&missing).is_err());
        assert!(!missing.exists(), "the check must not create a database");
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        let error = inspect(&garbage).unwrap_err();
        assert!(error.to_string().contains("not a database"), "{error}");
    }
}
