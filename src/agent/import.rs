//! `loyalty-agent customers import FILE.csv`: a standalone store's bulk import. The CSV is read
//! and normalised by the shared [`crate::csv_import`] (the same reader loyalty-cloud's import
//! uses); this module hands its batches to the agent's store. A till connected to a cloud
//! refuses its own import (the binary checks): the chain imports in the cloud.

use std::path::Path;

use super::store::Store;
use crate::clock;
pub use crate::csv_import::{ImportError, ImportReport};

/// Imports `path` into `store`; `progress` shows a bar on a terminal. Phones are read in
/// `default_region`.
pub async fn import_csv(
    store: &Store,
    path: &Path,
    default_region: &str,
    progress: bool,
) -> Result<ImportReport, ImportError> {
    crate::csv_import::import_csv(path, default_region, progress, |rows| {
        let store = store.clone();
        async move { store.import_customers(rows, clock::now()).await }
    })
    .await
}
