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
use crate::identity;

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

/// Imports `path` into `store`; `progress` shows a bar on a terminal. Phones are read in
/// `default_region`.
///
/// Two stages overlap: this task reads and normalises a batch (phone parsing is the costly part)
/// while the store writes the previous one on its own thread.
pub async fn import_csv(
    store: &Store,
    path: &Path,
    default_region: &str,
    progress: bool,
) -> Result<ImportReport, ImportError> {
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
    let mut in_flight: Option<Batch> = None;
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
        match normalize_row(
            line,
            record.get(phone_col).unwrap_or(""),
            field(name_col),
            field(email_col),
            field(card_col),
            points,
            default_region,
        ) {
            Ok(row) => batch.push(row),
            Err(rejected) => report.rejected.push(rejected),
        }
        if batch.len() >= BATCH {
            if let Some(previous) = in_flight.take() {
                finish(previous, &mut report).await?;
            }
            in_flight = Some(start_batch(store, &mut batch));
            bar.set_position(reader.position().byte());
            bar.set_message(format!("{} imported", report.imported));
        }
    }
    if let Some(previous) = in_flight.take() {
        finish(previous, &mut report).await?;
    }
    if !batch.is_empty() {
        finish(start_batch(store, &mut batch), &mut report).await?;
    }
    bar.finish_with_message(format!("{} imported, {} skipped", report.imported, report.rejected.len()));
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

/// A batch being written: how many rows it has and the task writing them.
type Batch = (u64, tokio::task::JoinHandle<Result<Vec<RejectedRow>, super::store::StoreError>>);

fn start_batch(store: &Store, batch: &mut Vec<ImportRow>) -> Batch {
    let rows = std::mem::replace(batch, Vec::with_capacity(BATCH));
    let count = rows.len() as u64;
    let store = store.clone();
    (count, tokio::spawn(async move { store.import_customers(rows, clock::now()).await }))
}

async fn finish((count, task): Batch, report: &mut ImportReport) -> Result<(), ImportError> {
    let rejected = task.await.map_err(|_| ImportError::Store(super::store::StoreError::TaskFailed))??;
    report.imported += count - rejected.len() as u64;
    report.rejected.extend(rejected);
    Ok(())
}

/// Validates and normalises one row, or says why it cannot be imported.
fn normalize_row(
    line: u64,
    phone: &str,
    name: Option<String>,
    email: Option<String>,
    card: Option<String>,
    points: i64,
    default_region: &str,
) -> Result<ImportRow, RejectedRow> {
    let reject = |reason: String| RejectedRow { line, reason };
    let phone = identity::normalize_phone(phone, default_region).map_err(|e| reject(e.to_string()))?;
    let email = match email {
        None => None,
        Some(text) => {
            Some(identity::normalize_email(&text).ok_or_else(|| reject(format!("{text:?} is not an email address")))?)
        }
    };
    let card = match card {
        None => None,
        Some(text) => Some(
            identity::normalize_card(&text).ok_or_else(|| reject(format!("card {text:?} must be 4 to 32 digits")))?,
        ),
    };
    if points < 0 {
        return Err(reject("points must be zero or more".into()));
    }
    let name = name.filter(|n| n.chars().count() <= 200 && !n.chars().any(char::is_control));
    Ok(ImportRow { line, phone: phone.as_str().to_owned(), name, email, card, points })
}
