//! Admin: what the cloud applied (receipts and their returns), the program, and the conflicts.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::paging::PageParams;
use super::{audit, scoped, ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{AppliedReceipt, ConflictFilter, ConflictView, ProgramVersion};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::rules::Program;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// The customer whose receipts to list.
    pub customer: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptList {
    pub receipts: Vec<AppliedReceipt>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictQuery {
    /// Only conflicts of this kind (`overdraft`, `rejected_event`, …).
    pub kind: Option<String>,
    /// Only conflicts of this store's tills.
    pub store: Option<String>,
    /// From this day (`YYYY-MM-DD`, the chain's time) or moment (RFC 3339).
    pub from: Option<String>,
    /// Before the end of this day, or before this moment.
    pub to: Option<String>,
    /// `true`: only handled ones; `false`: only those still waiting.
    pub handled: Option<bool>,
}

/// `POST /v1/admin/conflicts/{id}/handled`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandledRequest {
    /// What was done about it (kept with the conflict and in the audit log).
    #[serde(default)]
    pub note: String,
}

/// Every program version, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgramVersionList {
    pub versions: Vec<ProgramVersion>,
}

/// A sample receipt to price under a draft program and the current one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The draft, as `PUT /v1/admin/program` would take it.
    #[schema(value_type = Object)]
    pub program: Program,
    pub receipt: PreviewReceipt,
}

/// The sample receipt: lines, points to spend, promo codes, a sample customer, and when and
/// where it is rung up (for the campaigns, CONTRACTS.md §campaigns). Every field but `lines`
/// may be left out; the fields after `paid_total` came with the campaign editor, and a request
/// without them prices as before: now, anywhere, a customer with no tags and no stamps.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewReceipt {
    pub lines: Vec<crate::wire::ReceiptLineInput>,
    pub redeem: Option<crate::wire::RedeemInput>,
    #[serde(default)]
    pub promo_codes: Vec<String>,
    /// A sample customer's points. Without it (and without `tier`, `tags`, `stamps` and
    /// `first_purchase`, which imply a customer holding 0 points) the receipt has no customer.
    pub balance: Option<i64>,
    /// The sample customer's paid total so far (minor units), which picks their tier.
    #[serde(default)]
    pub paid_total: i64,
    /// When the receipt is rung up: a local date-time in the draft's `time_zone`
    /// (`2026-12-01T16:30`, seconds optional), a local date (its midnight), or an RFC 3339
    /// moment (`2026-12-01T13:30:00Z`). Both sides are priced at this one moment. Default: now.
    #[schema(example = "2026-12-01T16:30")]
    pub at: Option<String>,
    /// The sample customer's tier, by its name in the draft (any case): they have paid exactly
    /// its threshold, which replaces `paid_total` on both sides (so the version in force puts
    /// them in whatever tier that amount reaches there). A name the draft has no tier of is a
    /// 422 `unknown_tier`.
    #[schema(example = "Золото")]
    pub tier: Option<String>,
    /// The customer's tags, for campaigns with `conditions.tags`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Stamps the customer holds, per stamp-card campaign id (`{"latte-card": 4}`).
    #[serde(default)]
    pub stamps: std::collections::BTreeMap<String, i64>,
    /// The store the till is in, for campaigns with `conditions.stores`.
    pub store: Option<String>,
    /// Whether this is the customer's first purchase, for campaigns with
    /// `conditions.first_purchase`.
    #[serde(default)]
    pub first_purchase: bool,
}

impl PreviewReceipt {
    /// Whether the fields name a customer (any of them does; none is an anonymous receipt).
    fn has_customer(&self) -> bool {
        self.balance.is_some()
            || self.tier.is_some()
            || !self.tags.is_empty()
            || !self.stamps.is_empty()
            || self.first_purchase
    }
}

/// The same receipt priced both ways.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewAnswer {
    pub current: PreviewSide,
    pub draft: PreviewSide,
    /// The moment both sides were priced at (RFC 3339, UTC): the request's `at`, or now.
    pub at: String,
}

/// One side of a preview: the version (none for the draft) and what a till would compute, or
/// why it would refuse the receipt. The calculation's `campaigns` and `campaigns_not_applied`
/// say which campaigns gave what and why the others did not.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewSide {
    pub version: Option<i64>,
    pub calculation: Option<crate::wire::Calculation>,
    pub error: Option<crate::wire::ErrorDetail>,
}

/// What both sides of a preview are priced with besides the program: the moment, the sample
/// customer's paid total, and the campaigns' context.
struct Sample {
    now: crate::rules::Timestamp,
    paid_total: i64,
    context: crate::rules::CampaignContext,
}

impl Sample {
    /// Reads the request's `at` and `tier` against the draft, which the request is about.
    fn of(receipt: &PreviewReceipt, draft: &Program) -> Result<Sample, ApiError> {
        let now = match receipt.at.as_deref().map(str::trim).filter(|at| !at.is_empty()) {
            None => crate::clock::now(),
            Some(text) => crate::clock::parse_rfc3339(text)
                .or_else(|| crate::rules::local_timestamp(&draft.time_zone, text))
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "invalid_at",
                        format!(
                            "receipt.at must be a local date-time in {} (2026-12-01T16:30), a date or an RFC 3339 time, not {text:?}",
                            draft.time_zone
                        ),
                    )
                    .with("field", "receipt.at")
                    .with("local", &draft.time_zone)
                })?,
        };
        let paid_total = match receipt.tier.as_deref() {
            None => receipt.paid_total,
            Some(name) => {
                draft
                    .tier_named(name)
                    .ok_or_else(|| {
                        ApiError::unprocessable("unknown_tier", format!("the draft has no tier named {name:?}"))
                            .with("field", "receipt.tier")
                            .with("tier", name)
                    })?
                    .threshold
                    .0
            }
        };
        let context = crate::rules::CampaignContext {
            tags: receipt.tags.clone(),
            first_purchase: receipt.first_purchase,
            store: receipt.store.clone().filter(|store| !store.trim().is_empty()),
            stamps: receipt.stamps.clone(),
            ..crate::rules::CampaignContext::default()
        };
        Ok(Sample { now, paid_total, context })
    }
}

fn price(program: &Program, receipt: &PreviewReceipt, sample: &Sample, lang: crate::http::i18n::Lang) -> PreviewSide {
    let outcome = (|| -> Result<crate::wire::Calculation, ApiError> {
        let lines = crate::wire::rules_input::calc_lines(&receipt.lines)?;
        let redeem = crate::wire::rules_input::redeem(receipt.redeem.as_ref()).map_err(|why| {
            ApiError::unprocessable("invalid_redeem", format!("redeem {why}")).with("field", "redeem")
        })?;
        let promo_codes: Vec<(String, crate::rules::PromoUsage)> =
            receipt.promo_codes.iter().map(|code| (code.clone(), Default::default())).collect();
        let customer = receipt.has_customer().then(|| {
            let balance = receipt.balance.unwrap_or(0);
            crate::rules::CustomerPoints {
                balance,
                available: balance,
                paid_total: crate::rules::Money(sample.paid_total),
            }
        });
        let input = crate::rules::CalcInput {
            program,
            customer,
            lines: &lines,
            redeem,
            promo_codes: &promo_codes,
            now: sample.now,
            campaigns: &sample.context,
        };
        let calc = crate::rules::calculate(&input)?;
        Ok(crate::wire::to_wire(&calc, None, None))
    })();
    match outcome {
        Ok(calculation) => PreviewSide { version: None, calculation: Some(calculation), error: None },
        Err(error) => PreviewSide { version: None, calculation: None, error: Some(error.detail(lang)) },
    }
}

#[utoipa::path(get, path = "/v1/admin/program/versions", tag = "admin", operation_id = "admin_program_versions",
    responses((status = 200, body = ProgramVersionList)))]
pub async fn program_versions(State(state): State<AppState>) -> Result<Json<ProgramVersionList>, ApiError> {
    Ok(Json(ProgramVersionList { versions: state.store.program_versions().await? }))
}

/// Prices a sample receipt under a draft program and under the current version, as a till
/// would, without publishing anything: at one moment (`receipt.at`, default now), for a sample
/// customer (`balance`, `tier`, `tags`, `stamps`, `first_purchase`) in a store (`store`), so
/// the draft's campaigns can be tried at the hours and for the customers they are meant for.
/// A draft that `PUT /v1/admin/program` would refuse is refused here the same way.
#[utoipa::path(post, path = "/v1/admin/program/preview", tag = "admin", operation_id = "admin_program_preview",
    request_body = PreviewRequest, responses((status = 200, body = PreviewAnswer),
        (status = 422, body = crate::wire::ErrorBody, description = "invalid_program (the draft), invalid_at, unknown_tier")))]
pub async fn preview(
    State(state): State<AppState>,
    lang: crate::http::i18n::Lang,
    ApiJson(request): ApiJson<PreviewRequest>,
) -> Result<Json<PreviewAnswer>, ApiError> {
    request.program.validate().map_err(ApiError::from)?;
    let sample = Sample::of(&request.receipt, &request.program)?;
    let current = state.store.program().await?;
    let mut current_side = price(&current.program, &request.receipt, &sample, lang);
    current_side.version = Some(current.version);
    let draft = price(&request.program, &request.receipt, &sample, lang);
    Ok(Json(PreviewAnswer { current: current_side, draft, at: crate::clock::rfc3339(sample.now) }))
}

/// The chain's days are Moscow days (UTC+3) until programs carry a time zone.
const CHAIN_OFFSET_SECONDS: i64 = 3 * 3600;

/// A `from`/`to` bound as Unix seconds: a date is its local midnight (`end`: the next one).
fn time_bound(field: &'static str, text: Option<&str>, end: bool) -> Result<Option<i64>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if let Some(at) = crate::clock::parse_rfc3339(text) {
        return Ok(Some(at));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(text, &format) {
        Ok(date) => {
            let midnight = date.midnight().assume_utc().unix_timestamp() - CHAIN_OFFSET_SECONDS;
            Ok(Some(if end { midnight + 86_400 } else { midnight }))
        }
        Err(_) => Err(ApiError::unprocessable(
            "invalid_date",
            format!("{field} must be a date (2026-12-31) or a time in RFC 3339"),
        )
        .with("field", field)),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    pub conflicts: Vec<ConflictView>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of a customer's receipts as applied, newest first.
#[utoipa::path(get, path = "/v1/admin/receipts", tag = "admin", operation_id = "admin_receipt_list", params(ReceiptQuery, PageParams),
    responses((status = 200, body = ReceiptList), (status = 404, body = crate::wire::ErrorBody), (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn receipts(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ReceiptQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<ReceiptList>, ApiError> {
    let page = state.store.receipts_of(query.customer, principal.scope.clone(), page.page()?).await?;
    Ok(Json(ReceiptList { receipts: page.items, next_cursor: page.next_cursor }))
}

/// One receipt of one till, as applied, with its returns.
#[utoipa::path(get, path = "/v1/admin/receipts/{till_id}/{receipt_id}", tag = "admin", operation_id = "admin_receipt_read",
    params(("till_id" = String, Path, description = "The till that committed the receipt"),
           ("receipt_id" = String, Path, description = "The receipt's id on that till")),
    responses((status = 200, body = AppliedReceipt), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((till_id, receipt_id)): ApiPath<(String, String)>,
) -> Result<Json<AppliedReceipt>, ApiError> {
    if scoped::till(&state, &principal, &till_id).await.is_err() {
        let missing = crate::cloud::store::Missing::Receipt { id: receipt_id, till: Some(till_id) };
        return Err(crate::cloud::store::CloudError::NotFound(missing).into());
    }
    Ok(Json(state.store.receipt(till_id, receipt_id).await?))
}

/// The current program version.
#[utoipa::path(get, path = "/v1/admin/program", tag = "admin", responses((status = 200, body = ProgramVersion)))]
pub async fn program(State(state): State<AppState>) -> Result<Json<ProgramVersion>, ApiError> {
    Ok(Json(state.store.program().await?))
}

/// Stores a new program version (CONTRACTS.md §program settings, tiers, promo codes, offline limits);
/// every till receives it with its next pull. Absent settings take their defaults.
#[utoipa::path(put, path = "/v1/admin/program", tag = "admin", request_body(content = Object),
    responses((status = 200, body = ProgramVersion), (status = 422, body = crate::wire::ErrorBody)))]
pub async fn put_program(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(program): ApiJson<Program>,
) -> Result<Json<ProgramVersion>, ApiError> {
    let before = state.store.program().await?;
    let version = state.store.put_program(program).await?;
    tracing::info!(version = version.version, "program version stored");
    audit(
        &state,
        &principal,
        "program.publish",
        Some(version.version.to_string()),
        serde_json::to_value(&before).ok(),
        serde_json::to_value(&version).ok(),
    )
    .await;
    Ok(Json(version))
}

/// A page of overdrafts, over-used promo codes, rejected events and merged customers,
/// newest first.
#[utoipa::path(get, path = "/v1/admin/conflicts", tag = "admin", operation_id = "admin_conflict_list", params(ConflictQuery, PageParams),
    responses((status = 200, body = ConflictList), (status = 422, body = crate::wire::ErrorBody, description = "invalid_limit or invalid_cursor")))]
pub async fn conflicts(
    State(state): State<AppState>,
    principal: Principal,
    lang: crate::http::Lang,
    ApiQuery(query): ApiQuery<ConflictQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<ConflictList>, ApiError> {
    let filter = ConflictFilter {
        kind: query.kind,
        store: query.store,
        from: time_bound("from", query.from.as_deref(), false)?,
        to: time_bound("to", query.to.as_deref(), true)?,
        handled: query.handled,
    };
    let page = state.store.conflicts(filter, principal.scope.clone(), page.page()?).await?;
    let conflicts = page.items.into_iter().map(|conflict| conflict.in_lang(lang)).collect();
    Ok(Json(ConflictList { conflicts, next_cursor: page.next_cursor }))
}

/// Marks a conflict handled with a note (who and when are kept with it and in the audit log).
#[utoipa::path(post, path = "/v1/admin/conflicts/{id}/handled", tag = "admin", operation_id = "admin_conflict_handled",
    request_body = HandledRequest, params(("id" = i64, Path, description = "The conflict's id")),
    responses((status = 200, body = ConflictView), (status = 404, body = crate::wire::ErrorBody)))]
pub async fn handled(
    State(state): State<AppState>,
    principal: Principal,
    lang: crate::http::Lang,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<HandledRequest>,
) -> Result<Json<ConflictView>, ApiError> {
    let (before, after) = state
        .store
        .handle_conflict(id, principal.who.clone(), request.note, principal.scope.clone(), crate::clock::now())
        .await?;
    audit(
        &state,
        &principal,
        "conflict.handled",
        Some(id.to_string()),
        serde_json::to_value(&before.handled).ok(),
        serde_json::to_value(&after.handled).ok(),
    )
    .await;
    Ok(Json(after.in_lang(lang)))
}
