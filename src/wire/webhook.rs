//! Webhooks (CONTRACTS.md §webhooks): what loyalty-cloud POSTs to a subscriber, and the admin API bodies
//! that manage subscriptions.
//!
//! A delivery is `POST <url>` with the JSON body [`WebhookBody`] and the headers
//! `X-Loyalty-Event` (the type), `X-Loyalty-Delivery` (the body's `id`, the same on every
//! retry: the receiver's deduplication key) and `X-Loyalty-Signature: sha256=<hex>` — the
//! HMAC-SHA256 of the exact body bytes, keyed with the webhook's secret as UTF-8 text
//! ([`signature`]). Any 2xx answer is success; anything else is retried with exponential
//! backoff, and after the last attempt the delivery is marked `failed` and listed.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use super::{CustomerSnapshot, PointsBalance};

/// What a subscriber can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventType {
    /// A customer's points moved: a sale, a return, an adjustment (till or back office).
    BalanceChanged,
    /// A customer joined: created in the back office, at a till, by the sign-up form or an import.
    CustomerCreated,
    /// A customer's personal data or tags changed, from any side (a till, the back office).
    CustomerUpdated,
    /// A consent was given or withdrawn (sms, email, personal_data), from any side.
    ConsentChanged,
    /// A customer's tier changed: a sale took their paid total over a threshold, or a return
    /// below one.
    TierChanged,
    /// A customer's points will expire within the cloud's notice period (once per expiry).
    PointsExpiring,
    /// A customer's points expired unspent (once per expiry).
    PointsExpired,
}

impl WebhookEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::BalanceChanged => "balance_changed",
            WebhookEventType::CustomerCreated => "customer_created",
            WebhookEventType::CustomerUpdated => "customer_updated",
            WebhookEventType::ConsentChanged => "consent_changed",
            WebhookEventType::TierChanged => "tier_changed",
            WebhookEventType::PointsExpiring => "points_expiring",
            WebhookEventType::PointsExpired => "points_expired",
        }
    }
}

/// The body of every delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookBody {
    /// The delivery's id (a UUIDv7), also sent as `X-Loyalty-Delivery`; the same on retries.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: WebhookEventType,
    /// When the change happened in the cloud (RFC 3339).
    pub created_at: String,
    /// [`CustomerCreatedData`], [`BalanceChangedData`], [`CustomerUpdatedData`],
    /// [`ConsentChangedData`], [`TierChangedData`] or [`PointsExpiryData`], by `type`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `data` of `customer_created`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerCreatedData {
    pub customer: CustomerSnapshot,
    /// The points the customer starts with (a welcome bonus, imported points).
    pub points: PointsBalance,
    /// Where the customer joined: `admin`, `till`, `web` (the sign-up form) or `import`.
    pub source: String,
}

/// `data` of `customer_updated`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerUpdatedData {
    /// The customer as they are now.
    pub customer: CustomerSnapshot,
    /// The fields that changed: `phone`, `name`, `email`, `birthday`, `tags`.
    pub changed: Vec<String>,
    /// `till` or `admin` (the back office).
    pub source: String,
    /// The till, when a till changed them.
    pub till_id: Option<String>,
}

/// `data` of `consent_changed`: one channel's consent, as it was and as it is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentChangedData {
    pub customer_id: String,
    /// `sms`, `email` or `personal_data`.
    pub channel: String,
    /// `true` given, `false` withdrawn, `null` never asked.
    pub old: Option<bool>,
    pub new: bool,
    /// `till`, `web` (the sign-up form or the self-service page), `cloud` (the back office),
    /// `moysklad`.
    pub source: String,
    pub till_id: Option<String>,
    pub store: Option<String>,
    /// RFC 3339: when the customer gave or withdrew it.
    pub at: String,
}

/// `data` of `points_expiring` and `points_expired`: the customer's points that expire (or
/// expired) at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PointsExpiryData {
    pub customer_id: String,
    pub points: i64,
    /// RFC 3339.
    pub expires_at: String,
}

/// `data` of `tier_changed`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierChangedData {
    pub customer_id: String,
    /// The tier's name before and after; `null` is the base (no tier).
    pub old: Option<String>,
    pub new: Option<String>,
    /// What the customer has paid in all after the change (minor units).
    pub paid_total: i64,
    /// `sale` or `return`.
    pub reason: String,
    pub till_id: Option<String>,
    /// The receipt or return id.
    pub reference: Option<String>,
}

/// `data` of `balance_changed`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceChangedData {
    pub customer_id: String,
    /// The movement: positive credited, negative debited.
    pub change: i64,
    /// `sale`, `return` or `adjustment`.
    pub reason: String,
    /// The till it happened at; none for the back office.
    pub till_id: Option<String>,
    /// The receipt, return or adjustment id.
    pub reference: Option<String>,
    /// The customer's points after the change.
    pub points: PointsBalance,
}

/// `POST /v1/admin/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreate {
    /// `https://…` (or `http://…`) where deliveries are POSTed.
    pub url: String,
    pub events: Vec<WebhookEventType>,
}

/// The answer to creating a webhook: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookCreated {
    pub id: String,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    /// 256 random bits, hex: the HMAC key of `X-Loyalty-Signature`. Keep it; it is not shown again.
    pub secret: String,
    pub created_at: String,
}

/// A webhook as listed (without its secret), with its deliveries counted by status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    pub created_at: String,
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// One delivery as the back office sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `failed` (no more attempts).
    pub status: String,
    pub attempts: i64,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<String>,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// When it was delivered or given up.
    pub done_at: Option<String>,
    /// The body as sent.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `X-Loyalty-Signature`'s value for `body`: `sha256=` and the lower-case hex HMAC-SHA256 of
/// the body bytes, keyed with the secret's UTF-8 bytes.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts a key of any length, so this cannot fail; an empty tag would never verify.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_hex() {
        // Golden value (RFC 4231 test case 2): receivers verify against this exact format.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
