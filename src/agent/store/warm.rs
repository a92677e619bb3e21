//! The start-up warm-up: what the first lookups after a start would otherwise pay for, done
//! before the agent accepts connections. It decodes the phone metadata and compiles the default
//! region's patterns (the `phonenumber` crate does both lazily), opens the pool's read
//! connections and, on each, runs one search of every kind, so their statements are prepared
//! and the upper pages of the indexes they walk are in that connection's page cache.
//!
//! It reads only: a warm-up on an empty directory, or on a damaged one that still opened,
//! finds nothing and is done.

use std::time::{Duration, Instant};

use rusqlite::OptionalExtension;

use super::{customers, open_connection, Store, StoreError, READER_POOL};

/// What the warm-up did, for the start-up log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmUp {
    /// Example numbers of the default region's country code read through the phone rules.
    pub phone_examples: usize,
    /// Read connections opened and primed.
    pub readers: usize,
    pub took: Duration,
}

impl Store {
    /// Warms the phone rules and the read connections (see the module's comment).
    pub async fn warm_up(&self) -> Result<WarmUp, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let phone_examples = crate::identity::warm_up_phones(&inner.settings.default_region);
            let mut primed = Vec::with_capacity(READER_POOL);
            for _ in 0..READER_POOL {
                let conn = match inner.readers.lock().ok().and_then(|mut pool| pool.pop()) {
                    Some(conn) => conn,
                    None => open_connection(&inner.path)?,
                };
                prime(&conn, &inner.settings)?;
                primed.push(conn);
            }
            let readers = primed.len();
            if let Ok(mut pool) = inner.readers.lock() {
                pool.extend(primed);
                pool.truncate(READER_POOL);
            }
            Ok(WarmUp { phone_examples, readers, took: started.elapsed() })
        })
        .await
        .map_err(|_| StoreError::TaskFailed)?
    }

    /// Read connections waiting in the pool (the warm-up fills it).
    pub fn idle_readers(&self) -> usize {
        self.inner.readers.lock().map(|pool| pool.len()).unwrap_or(0)
    }
}

/// One search of each kind a till makes: by phone in two spellings, by card, by QR text, by
/// the last digits, and one that finds nobody.
fn prime(conn: &rusqlite::Connection, settings: &super::StoreSettings) -> Result<(), StoreError> {
    let someone: Option<(String, String)> = conn
        .prepare_cached("SELECT phone, card FROM customers ORDER BY rowid LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (phone, card) = someone.unwrap_or_else(|| ("+79990000000".to_owned(), "0000000000000".to_owned()));
    let digits = phone.trim_start_matches('+');
    let national = digits.get(1..).unwrap_or(digits);
    let last4 = digits.get(digits.len().saturating_sub(4)..).unwrap_or(digits);
    for query in [
        phone.as_str(),
        &format!("8 {national}"),
        national,
        card.as_str(),
        &format!("loyalty:card:{card}"),
        last4,
        "nobody@example.invalid",
    ] {
        customers::search(conn, settings, query)?;
    }
    Ok(())
}
