//! Bodies of the agent's native API (CONTRACTS.md §api).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::QuantityInput;

/// Every error answer: `{"error": {"code": "snake_case", "message": "a sentence"}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable.
    pub code: String,
    /// What happened and what to do, for a person.
    pub message: String,
    /// The values the sentence names, for a program to act on (`field`, `max`, the `customer`
    /// who already holds a phone, …); absent when there are none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub details: std::collections::BTreeMap<String, String>,
}

impl ErrorDetail {
    pub fn new(code: &str, message: String, values: &[(&'static str, String)]) -> ErrorDetail {
        let details = values.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect();
        ErrorDetail { code: code.to_owned(), message, details }
    }
}

// ---------------------------------------------------------------------------------------------
// Health

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unhealthy` when storage cannot be written.
    pub status: String,
    pub version: String,
    /// `standalone` (the local ledger is the authority) or `connected` (synced to a cloud).
    pub mode: String,
    pub sync: SyncHealth,
    pub storage: StorageHealth,
}

/// What the agent's sync is doing, as health, `POST /v1/sync` and the tray name it. Behaviour
/// (the offline spending limit, the tray's colour, the doctor's advice) is chosen by this, never
/// by comparing words; the JSON spells it in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Standalone: there is no cloud.
    Disabled,
    /// Connected, and no sync attempt has finished since the agent started.
    Connecting,
    /// The last cycle pushed everything and pulled the cloud's changes.
    Online,
    /// The cloud could not be reached (or failed); the agent retries by itself.
    Offline,
    /// The cloud does not accept this till (a revoked token, a restored till's sequence
    /// conflict): a person has to act; `loyalty-agent doctor` says what to run.
    AuthError,
    /// `POST /v1/sync` answered before the cycle finished (202): it goes on.
    Syncing,
    /// A state a newer agent names, read by an older tray or CLI: treated as not online.
    #[serde(other)]
    Unknown,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Disabled => "disabled",
            SyncState::Connecting => "connecting",
            SyncState::Online => "online",
            SyncState::Offline => "offline",
            SyncState::AuthError => "auth_error",
            SyncState::Syncing => "syncing",
            SyncState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for SyncState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncHealth {
    /// `online`, `offline`, `connecting`, `auth_error`, or `disabled` in standalone mode.
    pub state: SyncState,
    /// Operations committed here and not yet confirmed by the cloud.
    pub pending: i64,
    pub oldest_pending_seconds: Option<i64>,
    pub last_success_at: Option<String>,
    pub consecutive_failures: i64,
    /// Why the last attempt failed, while sync is failing.
    #[serde(default)]
    pub last_error: Option<String>,
    /// While the outbox is being pushed: how far the push has come. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainProgress>,
}

/// How far a push of the outbox has come: a till back online after a long outage sends its
/// queue in batches, which can take minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DrainProgress {
    /// Operations the cloud has answered for since this push began.
    pub sent: u64,
    /// Operations still waiting in the outbox.
    pub left: u64,
    /// Operations per second so far in this push.
    pub rate_per_s: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StorageHealth {
    pub ok: bool,
    /// Why the last write failed, while it is failing.
    pub error: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Customers

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PointsBalance {
    /// Everything the customer holds, pending included; negative when in debt.
    pub balance: i64,
    /// What can be spent now.
    pub available: i64,
    /// Earned but not yet spendable (activation delay).
    pub pending: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Consent {
    pub granted: bool,
    /// RFC 3339 time the customer gave or withdrew it.
    pub at: String,
    /// Where it was given: `till`, `import`, `cloud`, `web`, …
    pub source: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Consents {
    pub sms: Option<Consent>,
    pub email: Option<Consent>,
    /// Consent to the processing of personal data (152-ФЗ), given at enrolment or sign-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<Consent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: String,
    /// E.164.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub card: String,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    /// The tier the customer is in, if the program has tiers.
    pub group: Option<String>,
    pub tags: Vec<String>,
    pub consents: Consents,
    pub points: PointsBalance,
    /// Cumulative amount paid (minor units), which sets the tier.
    pub paid_total: i64,
    /// The tier above the customer's, if the program has one: what to say at the till ("1 200 ₽
    /// more to Gold").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_tier: Option<NextTier>,
    /// The next points to expire (the earliest expiry with points left), if any will.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_expiry: Option<PointsExpiry>,
    /// The cloud's admin API only: the code this customer gives friends (absent at a till,
    /// and for a customer imported in bulk until the back office first shows them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<String>,
    /// The cloud's admin API only: the id of the customer whose code this customer joined with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referred_by: Option<String>,
    /// The cloud's admin API only: where that referral stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralStatus>,
    pub created_at: String,
    pub updated_at: String,
}

/// Where a referral stands (CONTRACTS.md §campaigns, `referral`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReferralStatus {
    /// `pending` (waiting for the friend's first receipt of at least `min_receipt`),
    /// `rewarded`, or `refused` (never rewards; `reason` says why).
    pub state: String,
    /// For `refused`: `self` (the customer's own code), `phone_referred_before` (the phone was
    /// referred once already) or `limit_reached` (the referrer had `max_per_referrer` rewarded
    /// friends when this one qualified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339: when the friend joined with the code.
    pub created_at: String,
    /// RFC 3339: when it was rewarded or refused; absent while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The friend's qualifying receipt, `till_id/receipt_id`, once rewarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

/// Points that expire at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PointsExpiry {
    pub points: i64,
    /// RFC 3339.
    pub at: String,
}

impl PointsExpiry {
    pub fn of((points, at): (i64, i64)) -> PointsExpiry {
        PointsExpiry { points, at: crate::clock::rfc3339(at) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NextTier {
    pub name: String,
    /// Its threshold of cumulative paid amount (minor units).
    pub threshold: i64,
    /// How much more the customer must pay to reach it (minor units).
    pub remaining: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResult {
    /// `phone`, `card`, `qr`, `email` or `phone_suffix`; null when nothing matched.
    pub matched_by: Option<String>,
    pub customers: Vec<Customer>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentsInput {
    pub sms: Option<bool>,
    pub email: Option<bool>,
    /// The customer agreed to the processing of their personal data (152-ФЗ): the cashier
    /// page asks for it at enrolment, the sign-up page requires it.
    #[serde(default)]
    pub personal_data: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// Any common format; normalised to E.164 with the configured default country.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Assigned (prefix + digits + Luhn check digit) when absent.
    pub card: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub consents: Option<ConsentsInput>,
    /// The code of the friend who brought the customer (8 letters and digits, case, spaces
    /// and dashes ignored). A till checks its check character (422 `invalid_referral_code`)
    /// and sends it to the cloud with the customer; a code the cloud does not know is ignored
    /// there and the customer stays enrolled (CONTRACTS.md §campaigns, `referral`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<String>,
}

/// Fields to change; absent fields stay as they are, `null` or `""` clears an optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub birthday: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub consents: Option<ConsentsInput>,
}

fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// Idempotency key chosen by the caller.
    pub id: String,
    /// Positive adds, negative takes away (the balance may go into debt).
    pub points: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdjustmentResult {
    pub id: String,
    pub customer_id: String,
    pub points: i64,
    pub reason: String,
    pub balance_after: i64,
    pub created_at: String,
}

// ---------------------------------------------------------------------------------------------
// Receipts

/// Who the receipt is for: exactly one of the fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CustomerRef {
    pub id: Option<String>,
    pub phone: Option<String>,
    pub card: Option<String>,
    pub qr: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLineInput {
    pub sku: String,
    pub name: Option<String>,
    pub category: Option<String>,
    /// Up to 3 decimals.
    pub quantity: QuantityInput,
    /// Price of one unit in minor units.
    pub price: i64,
}

/// An integer number of points, or `"max"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RedeemInput {
    Points(i64),
    Word(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CalculateRequest {
    pub customer: Option<CustomerRef>,
    pub lines: Vec<ReceiptLineInput>,
    /// Points to spend: an integer or `"max"`; none when absent.
    pub redeem: Option<RedeemInput>,
    #[serde(default)]
    pub promo_codes: Vec<String>,
    /// The customer's code when the program confirms spending (`verify_spending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Who is at the till (reports and the anomaly checks read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<Cashier>,
    /// How the customer was identified; with `redeem_requires_scan`, `typed` cannot spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
}

/// The cashier of a receipt, as the till's software knows them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cashier {
    /// The till software's own id for the cashier (1–64 characters).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How the customer was identified at the till.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// A card's barcode or QR code read by a scanner.
    Scanned,
    /// A card number typed by hand.
    Typed,
    /// Found by the phone number.
    Phone,
    /// The QR code of the customer's page.
    Qr,
    /// The chain's app.
    App,
}

/// Proof that the customer is at the till when their points are spent: the code of the SMS
/// the till sent (`POST /v1/customers/{id}/verification-codes`), or the code the customer's
/// own page shows. Six digits; spaces and dashes are ignored.
#[derive(Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    pub code: String,
}

/// A code is a credential for a few minutes: never printed.
impl std::fmt::Debug for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verification { code: \"…\" }")
    }
}

/// A commit: the calculation request plus the till's receipt id (the idempotency key).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    pub id: String,
    pub customer: Option<CustomerRef>,
    pub lines: Vec<ReceiptLineInput>,
    pub redeem: Option<RedeemInput>,
    #[serde(default)]
    pub promo_codes: Vec<String>,
    /// As in [`CalculateRequest`]; not part of the receipt's identity (a retry with another
    /// code is the same receipt), and never sent on to the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<Cashier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
}

impl CommitRequest {
    pub fn calculation(&self) -> CalculateRequest {
        CalculateRequest {
            customer: self.customer.clone(),
            lines: self.lines.clone(),
            redeem: self.redeem.clone(),
            promo_codes: self.promo_codes.clone(),
            verification: self.verification.clone(),
            cashier: self.cashier.clone(),
            entry: self.entry,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PointsQuote {
    pub balance: i64,
    pub available: i64,
    pub max_redeem: i64,
    pub redeem: i64,
    pub earn: i64,
    pub balance_after: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineResult {
    pub sku: String,
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: String,
    pub price: i64,
    pub amount: i64,
    pub excluded: bool,
    pub promo_discount: i64,
    pub points_discount: i64,
    pub discount: i64,
    pub paid: i64,
    pub earn: i64,
    pub redeem_points: i64,
    /// What each campaign gave on this line: its points are part of `earn`, its discount part of
    /// `promo_discount`. Absent when none applied (and in receipts priced before campaigns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<CampaignApplied>,
}

/// What one campaign gave (CONTRACTS.md §campaigns), on a line or on the whole receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CampaignApplied {
    pub id: String,
    pub name: String,
    /// Points, included in the line's (the receipt's) `earn`.
    pub points: i64,
    /// Minor units, included in the line's `promo_discount` (the receipt's `discount`).
    pub discount: i64,
    /// A stamp card's stamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamps: Option<StampsMoved>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StampsMoved {
    /// Stamps earned by the matching units bought.
    pub earned: i64,
    /// Stamps spent on free units.
    pub used: i64,
    /// The customer's count afterwards ("4 of 5").
    pub after: i64,
    /// The stamps that make a reward (the card's `stamps_for_reward`; 0 in receipts priced
    /// before it was sent).
    #[serde(default)]
    pub for_reward: i64,
}

/// A campaign with lines on the receipt that gave nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CampaignNotApplied {
    pub id: String,
    pub name: String,
    /// `not_yet_valid`, `expired`, `outside_schedule`, `condition_not_met`, `no_customer`,
    /// `discount_group`, `limit_reached`, `budget_spent`, `till_allowance_spent`,
    /// `exclusive_overridden`, `nothing_to_give`, `unsupported_effect`.
    pub reason: String,
    /// The condition not met, a date, the limit, or the winning exclusive campaign's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LimitApplied {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromoApplied {
    pub code: String,
    pub discount: i64,
}

/// A priced receipt: the answer to calculate, and (with `id`, `committed_at`) to commit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Calculation {
    /// The till's receipt id (commits only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub customer_id: Option<String>,
    pub program_version: i64,
    pub tier: Option<String>,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub points: PointsQuote,
    pub lines: Vec<LineResult>,
    pub promo_codes: Vec<PromoApplied>,
    pub limits: Vec<LimitApplied>,
    /// The campaigns that applied, in evaluation order (priority, then id), with what each gave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<CampaignApplied>,
    /// Campaigns with lines on the receipt that gave nothing, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns_not_applied: Vec<CampaignNotApplied>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineInput {
    pub sku: String,
    /// 0-based line of the receipt, when several lines carry the same SKU.
    pub line: Option<usize>,
    pub quantity: QuantityInput,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// The return's own id (idempotency key).
    pub id: String,
    pub lines: Option<Vec<ReturnLineInput>>,
    /// Return everything not yet returned.
    pub all: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReturnedLine {
    pub line: usize,
    pub sku: String,
    pub quantity: String,
    /// Money to give back for this line.
    pub refund: i64,
    pub points_taken_back: i64,
    pub points_given_back: i64,
    /// Per stamp card, the stamps the return took from the customer (`earned_back`) and gave
    /// back (`used_back`). Absent when the line moved none (and in older returns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stamps: Vec<StampsReturned>,
}

/// A return's effect on one stamp card of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StampsReturned {
    pub campaign_id: String,
    pub earned_back: i64,
    pub used_back: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReturnResult {
    pub id: String,
    pub receipt_id: String,
    pub customer_id: Option<String>,
    pub lines: Vec<ReturnedLine>,
    pub refund: i64,
    pub points_taken_back: i64,
    pub points_given_back: i64,
    /// The customer's balance after the return (negative = debt).
    pub balance_after: Option<i64>,
    pub created_at: String,
}

/// How much of a receipt has been returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Returned {
    None,
    Partly,
    All,
}

/// A committed receipt in a list: enough to recognise it and open it for a return.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptSummary {
    pub id: String,
    pub customer_id: Option<String>,
    pub total: i64,
    pub discount: i64,
    pub redeem: i64,
    pub earn: i64,
    pub committed_at: Option<String>,
    pub returned: Returned,
}

/// `GET /v1/receipts` and `GET /v1/customers/{id}/receipts`: newest first, a page at a time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptList {
    pub receipts: Vec<ReceiptSummary>,
    /// The `cursor` of the next page; null on the last one. New receipts never shift a walk.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    pub receipt: Calculation,
    pub returns: Vec<ReturnResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoCheckRequest {
    pub code: String,
    pub receipt: Option<CalculateRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromoCheckResult {
    pub code: String,
    pub valid: bool,
    /// Why not, as a stable code (`unknown`, `expired`, `min_receipt`, `used_up`, …).
    pub reason: Option<String>,
    pub message: String,
    /// The discount on the given receipt, when one was given and the code applies.
    pub discount: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QrDecoded {
    pub text: String,
    /// The card number the text carries, when it is one of ours.
    pub card: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncResult {
    pub state: SyncState,
    pub message: String,
    /// With a 202 (the sync is still running): how far it has come. Follow it in
    /// `GET /v1/health` (`sync.drain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<DrainProgress>,
}

// ---------------------------------------------------------------------------------------------
// The cashier page's sign-in (CONTRACTS.md §security)

/// A one-time launch code for the cashier page, minted with the agent token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LaunchCode {
    /// Random, 256 bits, URL-safe; good for one exchange.
    pub code: String,
    /// The page's address with the code: open it in a browser within `expires_in_s` seconds.
    pub url: String,
    pub expires_in_s: u64,
}

/// The cashier page's session, as the page itself reads it (same origin only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// Send this as the `X-Loyalty-CSRF` header on every API call made with the session cookie.
    pub csrf: String,
    /// When the session ends if it is not used again (RFC 3339); each call extends it.
    pub expires_at: String,
    /// The personal-data operator and privacy policy the enrolment form names (`config.toml`).
    pub personal_data: crate::wire::PersonalDataNotice,
    /// Whether the agent can draw the sign-up QR code (`GET /v1/signup-qr.svg`): it knows the
    /// sign-up page's address (`signup_url`, or an enrolled cloud).
    pub signup_qr: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The health answer's `sync.state` words are a contract (the tray, scripts, monitoring
    /// read them): the enum must spell exactly what the strings did.
    #[test]
    fn sync_states_keep_their_words() {
        let words = [
            (SyncState::Disabled, "disabled"),
            (SyncState::Connecting, "connecting"),
            (SyncState::Online, "online"),
            (SyncState::Offline, "offline"),
            (SyncState::AuthError, "auth_error"),
            (SyncState::Syncing, "syncing"),
        ];
        for (state, word) in words {
            assert_eq!(serde_json::to_value(state).unwrap(), serde_json::Value::from(word));
            assert_eq!(state.as_str(), word);
            assert_eq!(serde_json::from_value::<SyncState>(word.into()).unwrap(), state);
        }
        assert_eq!(serde_json::from_value::<SyncState>("something_new".into()).unwrap(), SyncState::Unknown);
    }
}
