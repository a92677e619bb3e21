//! `loyalty-agent customers import FILE.csv`: streams a CSV of customers into the local
//! directory with a progress bar, in batches, reporting bad rows by line number.
//!
//! Columns (a header row names them, in any order): `phone` (required), `name`, `email`,
//! `card`, `points`. Rows with a bad phone, email or card, or a phone/card/email that is already
//! taken, are reported and skipped; every good row is imported.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::clock;
use super::store::{ImportRow, RejectedRow, Store};

/// Rows per transaction: large enough to amortise the fsync, small enough to keep memory flat.
const BATCH: usize = 10_000;

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: u64,
    pub rejected: Vec<RejectedRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("the file has no \"phone\" column; the header must name the columns phone, name, email, card, points")]
    NoPhoneColumn,
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
}

/// Imports `path` into `store`; `progress` shows a bar on a terminal.
pub async fn import_csv(store: &Store, path: &Path, progress: bool) -> Result<ImportReport, ImportError> {
    let open_error = |source| ImportError::Open { path: path.display().to_string(), source };
    let file = File::open(path).map_err(open_error)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if progress { ProgressBar::new(size) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {bytes}/{total_bytes} {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(BufReader::new(file));
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let phone_col = column("phone").ok_or(ImportError::NoPhoneColumn)?;
    let (name_col, email_col, card_col, points_col) =
        (column("name"), column("email"), column("card"), column("points"));

    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                report.rejected.push(RejectedRow { line, reason: format!("unreadable row: {e}") });
                continue;
            }
        };
        if !more {
            break;
        }
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).map(str::to_owned).filter(|v| !v.is_empty());
        let points = match field(points_col) {
            None => 0,
            Some(text) => match text.parse::<i64>() {
                Ok(points) => points,
                Err(_) => {
                    report
                        .rejected
                        .push(RejectedRow { line, reason: format!("points {text:?} is not a whole number") });
                    continue;
                }
            },
        };
        batch.push(ImportRow {
            line,
            phone: record.get(phone_col).unwrap_or("").to_owned(),
            name: field(name_col),
            email: field(email_col),
            card: field(card_col),
            points,
        });
        if batch.len() >= BATCH {
            flush(store, &mut batch, &mut report).await?;
            bar.set_position(reader.position().byte());
            bar.set_message(format!("{} imported", report.imported));
        }
    }
    flush(store, &mut batch, &mut report).await?;
    bar.finish_with_message(format!("{} imported, {} skipped", report.imported, report.rejected.len()));
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

async fn flush(store: &Store, batch: &mut Vec<ImportRow>, report: &mut ImportReport) -> Result<(), ImportError> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(batch);
    let count = rows.len() as u64;
    let rejected = store.import_customers(rows, clock::now()).await?;
    report.imported += count - rejected.len() as u64;
    report.rejected.extend(rejected);
    Ok(())
}
