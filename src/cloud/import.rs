//! `loyalty-cloud customers import FILE.csv`: the chain's bulk import. The CSV is read by the
//! shared [`crate::csv_import`] (the same reader and rules as the agent's import) and written
//! by [`Store::import_customers`] in batches of 10,000 rows, one transaction each. Every
//! imported customer reaches the tills through the change feed.
//!
//! It opens the database itself, so it runs beside a serving loyalty-cloud (SQLite in WAL
//! mode takes turns with it per batch; PostgreSQL needs nothing special).

use std::path::Path;

use super::store::Store;
use crate::clock;
pub use crate::csv_import::{ImportError, ImportReport};

/// Imports `path` into `store`; `progress` shows a bar on a terminal.
pub async fn import_csv(store: &Store, path: &Path, progress: bool) -> Result<ImportReport, ImportError> {
    let region = store.settings().default_region.clone();
    crate::csv_import::import_csv(path, &region, progress, |rows| {
        let store = store.clone();
        async move { store.import_customers(rows, clock::now()).await }
    })
    .await
}

/// Imports an uploaded CSV held in memory (`POST /v1/admin/customers/import`), by the same
/// reader and batches as the command.
pub async fn import_bytes(store: &Store, body: bytes::Bytes) -> Result<ImportReport, ImportError> {
    let region = store.settings().default_region.clone();
    let size = body.len() as u64;
    crate::csv_import::import_reader(std::io::Cursor::new(body), size, &region, false, |rows| {
        let store = store.clone();
        async move { store.import_customers(rows, clock::now()).await }
    })
    .await
}
