//! Reading the loyalty program from `program.toml` in the config directory.
//!
//! The file holds the settings of CONTRACTS.md §program (every one optional; an absent file is the default
//! program). Dates of promo codes may be written as TOML dates (`2026-12-31`), date-times, or
//! RFC 3339 strings; they are turned into Unix seconds (UTC) before the rules see them.
//! A date alone means the whole day: `valid_from` at its first second, `valid_until` at its last.

use std::path::{Path, PathBuf};

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use crate::rules::Program;

#[derive(Debug, thiserror::Error)]
pub enum ProgramFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid program: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Loads the program file, or the default program when there is none.
/// Returns the program and the exact text it came from (hashed to version it).
pub fn load_program(path: &Path) -> Result<(Program, String), ProgramFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(ProgramFileError::Read { path: path.to_owned(), source }),
    };
    let program =
        parse_program(&text).map_err(|message| ProgramFileError::Invalid { path: path.to_owned(), message })?;
    Ok((program, text))
}

/// Parses program TOML text; the error is a sentence naming what is wrong.
pub fn parse_program(text: &str) -> Result<Program, String> {
    let mut value: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    if let Some(toml::Value::Array(codes)) = value.get_mut("promo_codes") {
        for code in codes.iter_mut() {
            let Some(table) = code.as_table_mut() else { continue };
            for (field, end_of_day) in [("valid_from", false), ("valid_until", true)] {
                if let Some(raw) = table.get(field) {
                    let seconds = to_unix_seconds(raw, end_of_day).ok_or_else(|| {
                        format!("promo code {field} must be a date like 2026-12-31 or 2026-12-31T18:00:00Z")
                    })?;
                    table.insert(field.to_owned(), toml::Value::Integer(seconds));
                }
            }
        }
    }
    // A campaign's days are calendar dates in the program's time zone, kept as `YYYY-MM-DD`
    // text; TOML lets the store write them bare (`valid_from = 2026-12-01`), so those are turned
    // back into that text. Anything else is left for the validator to name.
    if let Some(toml::Value::Array(campaigns)) = value.get_mut("campaigns") {
        for campaign in campaigns.iter_mut() {
            let Some(table) = campaign.as_table_mut() else { continue };
            for field in ["valid_from", "valid_until"] {
                if let Some(toml::Value::Datetime(datetime)) = table.get(field) {
                    if let (Some(date), None) = (datetime.date, datetime.time) {
                        table.insert(field.to_owned(), toml::Value::String(date.to_string()));
                    }
                }
            }
        }
    }
    let program: Program = toml::Value::Table(value).try_into().map_err(|e: toml::de::Error| e.to_string())?;
    program.validate().map_err(|problem| problem.to_string())?;
    Ok(program)
}

fn to_unix_seconds(raw: &toml::Value, end_of_day: bool) -> Option<i64> {
    let text = match raw {
        toml::Value::Integer(seconds) => return Some(*seconds),
        toml::Value::String(text) => text.clone(),
        toml::Value::Datetime(datetime) => datetime.to_string(),
        _ => return None,
    };
    if let Ok(at) = OffsetDateTime::parse(&text, &Rfc3339) {
        return Some(at.unix_timestamp());
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = Date::parse(&text, &date_format) {
        let time = if end_of_day { Time::from_hms(23, 59, 59).ok()? } else { Time::MIDNIGHT };
        return Some(PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp());
    }
    let local_format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(&text, &local_format).ok().map(|at| at.assume_utc().unix_timestamp())
}

/// A commented example `program.toml` with the defaults of CONTRACTS.md §program.
pub const EXAMPLE_PROGRAM: &str = r#"# The loyalty program. Every setting is optional; these are the defaults.
# Money is in minor units (kopecks, cents): 100 = 1.00.

point_value = 100          # one point is worth 1.00
kind = "bonus"             # "bonus" (earn and spend points) or "discount" (fixed % off)
accrual_percent = 5        # points earned as % of what is paid
discount_percent = 0       # for "discount" programs and tiers
redeem_cap_percent = 100   # at most this share of a receipt can be paid with points
min_payable = 0            # the customer always pays at least this much
accrue_on_redeemed = false # whether the part paid with points also earns
excluded_categories = []   # e.g. ["tobacco"]: no discount, no points
excluded_skus = []
activation_days = 0        # earned points become spendable after N days
expiry_days = 0            # points expire N days after activation (0 = never)
welcome_points = 0         # granted on enrollment
verify_registration = false # MoySklad: confirm a new customer's phone by SMS code
verify_spending = false    # confirm spending points with the customer's code (SMS or their page)
redeem_requires_scan = false # no spending on a typed card number (receipts' "entry": "typed")
require_signed_qr = false  # spending needs the QR code of the customer's page, or their code

# [[tiers]]
# name = "Gold"
# threshold = 5000000      # from 50,000.00 paid in total
# accrual_percent = 10

# [[promo_codes]]
# code = "WELCOME10"
# kind = "percent"          # or "amount" (minor units)
# value = 10
# min_receipt = 100000
# valid_from = 2026-01-01
# valid_until = 2026-12-31
# usage_limit = 1000        # omit for unlimited; 1 = one-time
# per_customer_limit = 1
"#;
