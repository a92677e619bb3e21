//! Admin: the finance reports (liability, daily, shift), the dashboard, and the customer
//! directory out (`customers.csv`, streamed) and in (an uploaded CSV). Thin: dates and
//! formats are checked here, the figures come from `store::reports` (`docs/CONTRACTS.md`
//! §reports).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{audit, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{CloudError, DailyRow, Dashboard, LiabilityReport, ShiftReport, StoreScope, EXPORT_HEADER};
use crate::http::extract::ApiQuery;
use crate::reports::{day_start, format_day, local_day, parse_date};

/// The longest range the daily report covers, in days.
pub const MAX_DAILY_DAYS: i64 = 366;

/// The one place a report handler decides what the caller may see: the caller's stores (all
/// for the admin token, owners and analysts; a manager's own), narrowed to `?store=` when given.
fn scope(principal: &Principal, store: Option<&str>) -> StoreScope {
    principal.scope.narrowed(store)
}

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code, message)
}

/// `YYYY-MM-DD` → its local day, or a 422 naming the parameter.
fn date_param(name: &'static str, text: &str) -> Result<i64, ApiError> {
    parse_date(text).ok_or_else(|| {
        invalid("invalid_date", format!("{name} must be a date as YYYY-MM-DD, such as 2026-03-08")).with("param", name)
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiabilityQuery {
    /// A date (`YYYY-MM-DD`: its end, local time UTC+3) or an RFC 3339 moment; now if absent.
    pub at: Option<String>,
    /// Only customers whose home store this is.
    pub store: Option<String>,
}

#[utoipa::path(get, path = "/v1/admin/reports/liability", tag = "reports", operation_id = "admin_report_liability",
    params(LiabilityQuery),
    responses((status = 200, body = LiabilityReport), (status = 422, body = crate::wire::ErrorBody, description = "invalid_at")))]
pub async fn liability(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<LiabilityQuery>,
) -> Result<Json<LiabilityReport>, ApiError> {
    let now = crate::clock::now();
    let at = match query.at.as_deref().map(str::trim) {
        None | Some("") => now,
        Some(text) => match (parse_date(text), crate::clock::parse_rfc3339(text)) {
            (Some(day), _) => day_start(day + 1) - 1,
            (None, Some(at)) => at,
            (None, None) => return Err(invalid(
                "invalid_at",
                "at must be a date (YYYY-MM-DD) or an RFC 3339 time, such as 2026-03-08 or 2026-03-08T18:00:00+03:00",
            )),
        },
    };
    let scope = scope(&principal, query.store.as_deref());
    Ok(Json(state.store.liability(at, now, scope).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// The first local day, `YYYY-MM-DD`.
    pub from: String,
    /// The last local day, `YYYY-MM-DD` (at most 366 days after `from`, counting both).
    pub to: String,
    /// Only this store.
    pub store: Option<String>,
    /// `json` (the default) or `csv`.
    pub format: Option<String>,
}

/// The daily report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DailyReport {
    pub from: String,
    pub to: String,
    pub days: Vec<DailyRow>,
}

/// The daily report's CSV columns, in this order.
const DAILY_HEADER: [&str; 15] = [
    "date",
    "store",
    "receipts",
    "loyalty_receipts",
    "sales_amount",
    "points_discount",
    "points_earned",
    "points_spent",
    "points_expired",
    "points_taken_back",
    "points_given_back",
    "points_adjusted",
    "returns",
    "refund_amount",
    "new_customers",
];

fn daily_fields(row: &DailyRow) -> [String; 15] {
    let n = |v: i64| v.to_string();
    [
        row.date.clone(),
        row.store.clone(),
        n(row.receipts),
        n(row.loyalty_receipts),
        n(row.sales_amount),
        n(row.points_discount),
        n(row.points_earned),
        n(row.points_spent),
        n(row.points_expired),
        n(row.points_taken_back),
        n(row.points_given_back),
        n(row.points_adjusted),
        n(row.returns),
        n(row.refund_amount),
        n(row.new_customers),
    ]
}

#[utoipa::path(get, path = "/v1/admin/reports/daily", tag = "reports", operation_id = "admin_report_daily",
    params(DailyQuery),
    responses(
        (status = 200, body = DailyReport, description = "JSON, or with format=csv a text/csv attachment with the same columns"),
        (status = 422, body = crate::wire::ErrorBody, description = "invalid_date, invalid_range, range_too_long or invalid_format")))]
pub async fn daily(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<DailyQuery>,
) -> Result<Response, ApiError> {
    let from = date_param("from", query.from.trim())?;
    let to = date_param("to", query.to.trim())?;
    if to < from {
        return Err(invalid("invalid_range", "to must be the same day as from or later"));
    }
    if to - from + 1 > MAX_DAILY_DAYS {
        return Err(invalid(
            "range_too_long",
            format!("the daily report covers at most {MAX_DAILY_DAYS} days; ask for a shorter range"),
        )
        .with("max", MAX_DAILY_DAYS));
    }
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(invalid("invalid_format", "format must be json or csv")),
    };
    let scope = scope(&principal, query.store.as_deref());
    let days = state.store.daily_report(from, to, crate::clock::now(), scope).await?;
    let (from, to) = (format_day(from), format_day(to));
    if !csv {
        return Ok(Json(DailyReport { from, to, days }).into_response());
    }
    let write = || -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(DAILY_HEADER)?;
        for row in &days {
            writer.write_record(daily_fields(row))?;
        }
        Ok(writer.into_inner().map_err(|e| e.into_error())?)
    };
    let body = write().map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", format!("the CSV could not be written: {e}"))
    })?;
    Ok(csv_response(body, &format!("daily-{from}-{to}.csv")))
}

fn csv_response(body: impl Into<Body>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        body.into(),
    )
        .into_response()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// `today` (the default), `7d` or `30d`: local days up to and including today.
    pub period: Option<String>,
    /// Only this store.
    pub store: Option<String>,
}

#[utoipa::path(get, path = "/v1/admin/dashboard", tag = "reports", operation_id = "admin_dashboard",
    params(DashboardQuery),
    responses((status = 200, body = Dashboard), (status = 422, body = crate::wire::ErrorBody, description = "invalid_period")))]
pub async fn dashboard(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<DashboardQuery>,
) -> Result<Json<Dashboard>, ApiError> {
    let (period, days) = match query.period.as_deref() {
        None | Some("today") => ("today", 1),
        Some("7d") => ("7d", 7),
        Some("30d") => ("30d", 30),
        Some(_) => return Err(invalid("invalid_period", "period must be today, 7d or 30d")),
    };
    let scope = scope(&principal, query.store.as_deref());
    Ok(Json(state.store.dashboard(period, days, crate::clock::now(), scope).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftQuery {
    /// The till.
    pub till: String,
    /// The local day, `YYYY-MM-DD`; today if absent.
    pub date: Option<String>,
}

#[utoipa::path(get, path = "/v1/admin/reports/shift", tag = "reports", operation_id = "admin_report_shift",
    params(ShiftQuery),
    responses((status = 200, body = ShiftReport), (status = 404, body = crate::wire::ErrorBody, description = "till_not_found"),
        (status = 422, body = crate::wire::ErrorBody, description = "invalid_date")))]
pub async fn shift(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ShiftQuery>,
) -> Result<Json<ShiftReport>, ApiError> {
    let day = match query.date.as_deref() {
        None => local_day(crate::clock::now()),
        Some(text) => date_param("date", text.trim())?,
    };
    let scope = scope(&principal, None);
    Ok(Json(state.store.shift_report(query.till, day, scope).await?))
}

#[utoipa::path(get, path = "/v1/admin/customers.csv", tag = "customers", operation_id = "admin_customers_export",
    responses((status = 200, content_type = "text/csv", description = "every customer in the caller's stores (by home store), one row each, streamed: id, phone, name, email, card, birthday, tags (;-separated), balance, available, pending, tier, paid_total, source, store, created_at")))]
pub async fn export(State(state): State<AppState>, principal: Principal) -> Response {
    let scope = scope(&principal, None);
    let store = state.store.clone();
    // One page of customers per chunk of the body: a keyset read, written as CSV, sent, then
    // the next; nothing but the page in hand is in memory. A failure mid-way ends the body
    // with an error, so the client sees a broken transfer, not a short file that looks whole.
    let pages = futures_util::stream::unfold(Some((None::<String>, true)), move |cursor| {
        let (store, scope) = (store.clone(), scope.clone());
        async move {
            let (after, first) = cursor?;
            let page = match store.export_customers(after, scope, crate::clock::now()).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = %e, "the customer export stopped");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
            };
            if page.is_empty() && !first {
                return None;
            }
            let written = (|| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
                let mut writer = csv::Writer::from_writer(Vec::new());
                if first {
                    writer.write_record(EXPORT_HEADER)?;
                }
                for row in &page {
                    writer.write_record(row.fields())?;
                }
                Ok(writer.into_inner().map_err(|e| e.into_error())?)
            })();
            let chunk = match written {
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
            };
            let next = if page.len() < crate::cloud::store::EXPORT_PAGE {
                None
            } else {
                page.last().map(|row| (Some(row.id.clone()), false))
            };
            Some((Ok(Bytes::from(chunk)), next))
        }
    });
    csv_response(Body::from_stream(pages), "customers.csv")
}

/// What an uploaded import did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportAnswer {
    pub imported: u64,
    pub rejected: Vec<RejectedLine>,
}

/// A line of the file that was not imported.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RejectedLine {
    /// 1-based, counting the header.
    pub line: u64,
    /// Why, in the reader's language (`Accept-Language`).
    pub reason: String,
}

#[utoipa::path(post, path = "/v1/admin/customers/import", tag = "customers", operation_id = "admin_customers_import",
    request_body(content = String, content_type = "text/csv", description = "a CSV with a header naming phone and optionally name, email, card, points (as `loyalty-cloud customers import` reads it); up to 16 MB"),
    responses((status = 200, body = ImportAnswer), (status = 403, body = crate::wire::ErrorBody, description = "role_forbidden: imports are for the whole chain"),
        (status = 415, body = crate::wire::ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = crate::wire::ErrorBody, description = "csv_no_phone_column or invalid_csv")))]
pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
    lang: crate::http::Lang,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<ImportAnswer>, ApiError> {
    if !principal.scope.is_all() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "role_forbidden",
            "your role cannot do this; ask an owner of the chain's back office",
        ));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(essence.as_str(), "text/csv" | "text/plain" | "application/csv") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the CSV file as the body with \"Content-Type: text/csv\"",
        )
        .with("csv", ""));
    }
    let report = crate::cloud::import::import_bytes(&state.store, body).await.map_err(|e| match e {
        crate::csv_import::ImportError::NoPhoneColumn => invalid(
            "csv_no_phone_column",
            "the file has no \"phone\" column; the header must name the columns phone, name, email, card, points",
        ),
        crate::csv_import::ImportError::Write(e) => match e.downcast::<CloudError>() {
            Ok(e) => ApiError::from(*e),
            Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", e.to_string()),
        },
        e => {
            invalid("invalid_csv", format!("the file is not a CSV this import can read ({e}); save it as CSV in UTF-8"))
        }
    })?;
    let answer = ImportAnswer {
        imported: report.imported,
        rejected: report
            .rejected
            .into_iter()
            .map(|r| RejectedLine { line: r.line, reason: r.reason.say(lang) })
            .collect(),
    };
    audit(
        &state,
        &principal,
        "customers.import",
        None,
        None,
        Some(serde_json::json!({ "imported": answer.imported, "rejected": answer.rejected.len() })),
    )
    .await;
    Ok(Json(answer))
}
