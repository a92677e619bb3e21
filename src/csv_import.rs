//! Reading a customer CSV for a bulk import, shared by `loyalty-agent customers import` (a
//! standalone store) and `loyalty-cloud customers import` (a chain): streaming the file with a
//! progress bar, normalising each row with [`crate::identity`], reporting bad rows by line
//! number, and handing good rows to the caller in batches. Writing them is the caller's job.
//!
//! Columns (a header row names them, in any order, any case): `phone` (required), `name`,
//! `email`, `card`, `points`. Rows with a bad phone, email, card or points are reported and
//! skipped; the writer reports rows it cannot store (a phone already taken, …) the same way.
//!
//! Two stages overlap: this reader parses and normalises a batch (phone parsing is the costly
//! part) while the writer stores the previous one on its own task.

use std::fs::File;
use std::future::Future;
use std::io::BufReader;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::http::sentence::Sentence;
use crate::identity;

/// Rows per batch (one transaction each): large enough to amortise the fsync, small enough to
/// keep memory flat.
pub const BATCH: usize = 10_000;

/// One customer to import, validated and normalised.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// 1-based line number in the file, for error reports.
    pub line: u64,
    /// E.164.
    pub phone: String,
    /// Trimmed, at most 200 characters, no control characters.
    pub name: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    /// Digits; `None` assigns the next card number.
    pub card: Option<String>,
    /// ≥ 0.
    pub points: i64,
}

/// A row that was not imported, and why (in English, and with its code for other readers:
/// the console shows it in the page's language).
#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub line: u64,
    pub reason: Sentence,
}

impl RejectedRow {
    /// A row whose `field` (`phone`, `card`, `email`) another customer already holds.
    pub fn taken(line: u64, field: &str) -> RejectedRow {
        let reason =
            Sentence::new("import_taken", format!("{field} already belongs to another customer")).with("field", field);
        RejectedRow { line, reason }
    }

    /// A row the store refused as someone it has, without saying by which identifier.
    pub fn duplicate(line: u64) -> RejectedRow {
        RejectedRow { line, reason: Sentence::new("import_duplicate", "duplicates an existing customer") }
    }
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: u64,
    pub rejected: Vec<RejectedRow>,
}

impl ImportReport {
    /// What the `customers import` commands print: the skipped rows by line on stderr (the
    /// first 1,000), then one summary line on stdout.
    pub fn print(&self, elapsed: std::time::Duration) {
        for row in self.rejected.iter().take(1000) {
            eprintln!("line {}: {}", row.line, row.reason);
        }
        if self.rejected.len() > 1000 {
            eprintln!("… and {} more skipped rows", self.rejected.len() - 1000);
        }
        println!("imported {} customers, skipped {} rows, in {elapsed:.1?}", self.imported, self.rejected.len());
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("the file has no \"phone\" column; the header must name the columns phone, name, email, card, points")]
    NoPhoneColumn,
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The writer failed; the batches written before it stay written.
    #[error("cannot store the customers: {0}")]
    Write(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads `path`, normalising phones in `default_region`, and hands batches of good rows to
/// `write`, which answers the rows it could not store. `progress` shows a bar (on a terminal).
pub async fn import_csv<W, F, E>(
    path: &Path,
    default_region: &str,
    progress: bool,
    write: W,
) -> Result<ImportReport, ImportError>
where
    W: FnMut(Vec<ImportRow>) -> F,
    F: Future<Output = Result<Vec<RejectedRow>, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let open_error = |source| ImportError::Open { path: path.display().to_string(), source };
    let file = File::open(path).map_err(open_error)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    import_reader(BufReader::new(file), size, default_region, progress, write).await
}

/// [`import_csv`] from any reader of `size` bytes (an uploaded file held in memory).
pub async fn import_reader<R, W, F, E>(
    input: R,
    size: u64,
    default_region: &str,
    progress: bool,
    mut write: W,
) -> Result<ImportReport, ImportError>
where
    R: std::io::Read,
    W: FnMut(Vec<ImportRow>) -> F,
    F: Future<Output = Result<Vec<RejectedRow>, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let bar = if progress { ProgressBar::new(size) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {bytes}/{total_bytes} {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(input);
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let phone_col = column("phone").ok_or(ImportError::NoPhoneColumn)?;
    let (name_col, email_col, card_col, points_col) =
        (column("name"), column("email"), column("card"), column("points"));

    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut in_flight: Option<InFlight<E>> = None;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let reason = Sentence::new("import_unreadable", format!("unreadable row: {e}"));
                report.rejected.push(RejectedRow { line, reason });
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
                    let reason = Sentence::new("import_points", format!("points {text:?} is not a whole number"))
                        .with("text", &text);
                    report.rejected.push(RejectedRow { line, reason });
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
            in_flight = Some(start(&mut write, &mut batch));
            bar.set_position(reader.position().byte());
            bar.set_message(format!("{} imported", report.imported));
        }
    }
    if let Some(previous) = in_flight.take() {
        finish(previous, &mut report).await?;
    }
    if !batch.is_empty() {
        let last = start(&mut write, &mut batch);
        finish(last, &mut report).await?;
    }
    bar.finish_with_message(format!("{} imported, {} skipped", report.imported, report.rejected.len()));
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

/// A batch being written: how many rows it has and the task writing them.
type InFlight<E> = (u64, tokio::task::JoinHandle<Result<Vec<RejectedRow>, E>>);

fn start<W, F, E>(write: &mut W, batch: &mut Vec<ImportRow>) -> InFlight<E>
where
    W: FnMut(Vec<ImportRow>) -> F,
    F: Future<Output = Result<Vec<RejectedRow>, E>> + Send + 'static,
    E: Send + 'static,
{
    let rows = std::mem::replace(batch, Vec::with_capacity(BATCH));
    let count = rows.len() as u64;
    (count, tokio::spawn(write(rows)))
}

async fn finish<E>((count, task): InFlight<E>, report: &mut ImportReport) -> Result<(), ImportError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let rejected = match task.await {
        Ok(result) => result.map_err(|e| ImportError::Write(Box::new(e)))?,
        Err(e) => return Err(ImportError::Write(Box::new(e))),
    };
    report.imported += count.saturating_sub(rejected.len() as u64);
    report.rejected.extend(rejected);
    Ok(())
}

/// Validates and normalises one row, or says why it cannot be imported.
pub fn normalize_row(
    line: u64,
    phone: &str,
    name: Option<String>,
    email: Option<String>,
    card: Option<String>,
    points: i64,
    default_region: &str,
) -> Result<ImportRow, RejectedRow> {
    let reject = |reason: Sentence| RejectedRow { line, reason };
    // A phone is refused with the API's own words for it (`invalid_phone`).
    let phone = identity::normalize_phone(phone, default_region)
        .map_err(|e| reject(Sentence::of_error(&crate::http::ApiError::from(e))))?;
    let email = match email {
        None => None,
        Some(text) => Some(identity::normalize_email(&text).ok_or_else(|| {
            reject(Sentence::new("import_email", format!("{text:?} is not an email address")).with("text", &text))
        })?),
    };
    let card = match card {
        None => None,
        Some(text) => Some(identity::normalize_card(&text).ok_or_else(|| {
            reject(Sentence::new("import_card", format!("card {text:?} must be 4 to 32 digits")).with("text", &text))
        })?),
    };
    if points < 0 {
        return Err(reject(Sentence::new("import_negative_points", "points must be zero or more")));
    }
    // A name that is too long or holds control characters is dropped, not the whole customer.
    let name = name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty() && n.chars().count() <= 200 && !n.chars().any(char::is_control));
    Ok(ImportRow { line, phone: phone.as_str().to_owned(), name, email, card, points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_normalised_or_reported() {
        let row = normalize_row(2, "8 999 123-45-67", Some(" Ann ".into()), Some("A@X.io".into()), None, 5, "RU")
            .expect("a good row");
        assert_eq!(
            (row.phone.as_str(), row.name.as_deref(), row.email.as_deref()),
            ("+79991234567", Some("Ann"), Some("a@x.io"))
        );
        assert!(normalize_row(3, "nope", None, None, None, 0, "RU").is_err());
        assert!(normalize_row(4, "+79991234567", None, Some("nope".into()), None, 0, "RU").is_err());
        assert!(normalize_row(5, "+79991234567", None, None, Some("12a".into()), 0, "RU").is_err());
        assert_eq!(normalize_row(6, "+79991234567", None, None, None, -1, "RU").map_err(|r| r.line).err(), Some(6));
        let odd = normalize_row(7, "+79991234567", Some("a\u{7}b".into()), None, None, 0, "RU").expect("kept");
        assert_eq!(odd.name, None, "a name with a control character is dropped, the customer kept");
    }
}
