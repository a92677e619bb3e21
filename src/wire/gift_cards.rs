//! Gift cards in the native and admin APIs (`/v1/gift-cards` on a standalone agent,
//! `/v1/admin/gift-cards` on the cloud) and in the sync API a connected agent uses to look a
//! card up and take a payment from it online (`/v1/sync/gift-cards/…`). Amounts are kopecks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::gift_cards::Payment as GiftCardPayment;

/// Issues a card: `{amount}` in kopecks, optionally the card's `number` (else one is generated:
/// a Luhn number) and when it expires.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardIssue {
    /// 4 to 32 letters or digits; spaces and dashes are dropped. Generated when absent.
    #[serde(default)]
    pub number: Option<String>,
    /// Kopecks: 100000 is 1,000.00.
    pub amount: i64,
    /// RFC 3339; the card cannot be used from then on. Never, when absent.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A gift card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GiftCardView {
    /// A UUID; MoySklad's `id` of the card.
    pub id: String,
    pub number: String,
    /// `active`, `partially_redeemed`, `redeemed`, `expired` or `void`.
    pub status: String,
    /// Kopecks issued.
    pub initial: i64,
    /// Kopecks left.
    pub balance: i64,
    pub expires_at: Option<String>,
    pub voided_at: Option<String>,
    pub created_at: String,
    /// The sales paid with it, oldest first (only when one card is read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<GiftCardPaymentView>,
}

/// One sale paid (partly) with a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GiftCardPaymentView {
    /// The till (in the cloud; a store's MoySklad sales are on its `MoySklad` till).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub till_id: Option<String>,
    pub receipt_id: String,
    /// Kopecks.
    pub amount: i64,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GiftCardList {
    /// Newest first, at most 1000.
    pub gift_cards: Vec<GiftCardView>,
}

/// `POST /v1/sync/gift-cards/redeem`: a connected till takes payments for one of its sales
/// from cards in the cloud, before it records the sale. Idempotent by `(till, receipt_id)`: the
/// same payments again answer the same; other payments under that receipt are a 409.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardRedeem {
    pub receipt_id: String,
    pub payments: Vec<GiftCardPayment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GiftCardRedeemed {
    pub receipt_id: String,
    /// The cards after the payments.
    pub cards: Vec<GiftCardView>,
}

impl GiftCardView {
    /// A stored card as the APIs show it at `now`.
    pub fn of(card: &crate::gift_cards::Card, now: i64, payments: Vec<GiftCardPaymentView>) -> GiftCardView {
        let rfc3339 = crate::clock::rfc3339;
        GiftCardView {
            id: card.id.clone(),
            number: card.number.clone(),
            status: card.state(now).as_str().to_owned(),
            initial: card.initial,
            balance: card.balance,
            expires_at: card.expires_at.map(rfc3339),
            voided_at: card.voided_at.map(rfc3339),
            created_at: rfc3339(card.created_at),
            payments,
        }
    }
}
