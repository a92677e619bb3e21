//! The JSON of MoySklad Loyalty API 1.0, field for field as the protocol documents it
//! (`/work/shared/moysklad-loyalty-api.md` summarises the source). Nothing here knows our
//! ledger: `convert.rs` maps these types to ours.
//!
//! Reading is lenient where real traffic differs from the examples: every field the adapter can
//! do without is optional, `null` counts as absent, and unknown fields are ignored (MoySklad
//! adds fields over time). Numbers use the exact types of `number.rs`. Writing is strict:
//! optional fields are left out rather than sent as `null`, money always has two decimals.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::number::{Kopecks, Percent, Points, Qty, Rubles};

/// `{href, id}`: a reference to a MoySklad entity. Key on `id`; `href` is never parsed.
/// Positions' `assortment.meta` also carries `idType` (`native` or `sync`) and `type`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladMeta)]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "idType", default, skip_serializing_if = "Option::is_none")]
    pub id_type: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Meta {
    /// The id when it is there and not blank (the sale and return examples send `""`).
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref().map(str::trim).filter(|id| !id.is_empty())
    }
}

/// `{meta, name?}`: the point of sale (`retailStore`) or the linked sale (`demand`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladReference)]
pub struct Reference {
    #[serde(default)]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Reference {
    pub fn id(&self) -> Option<&str> {
        self.meta.as_ref().and_then(Meta::id)
    }
}

/// A counterparty ("agent", the customer) as MoySklad describes it: `meta.id` is MoySklad's own
/// counterparty id; the rest is informational and may be `null`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladCounterparty)]
pub struct Counterparty {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "discountCardNumber", default, skip_serializing_if = "Option::is_none")]
    pub discount_card_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "legalFirstName", default, skip_serializing_if = "Option::is_none")]
    pub legal_first_name: Option<String>,
    #[serde(rename = "legalMiddleName", default, skip_serializing_if = "Option::is_none")]
    pub legal_middle_name: Option<String>,
    #[serde(rename = "legalLastName", default, skip_serializing_if = "Option::is_none")]
    pub legal_last_name: Option<String>,
    /// `YYYY-MM-DD HH:mm:ss` (the verify example adds milliseconds).
    #[serde(rename = "birthDate", default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// `MALE` or `FEMALE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
}

impl Counterparty {
    /// MoySklad's counterparty id, when given and not blank.
    pub fn ms_id(&self) -> Option<&str> {
        self.meta.as_ref().and_then(Meta::id)
    }
}

/// Whether the till checked a new customer with a code (`POST /counterparty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladStatusCheck)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusCheck {
    Unchecked,
    Checked,
    /// The check was skipped; MoySklad keeps the counterparty whatever we answer.
    Ignore,
}

/// `POST /counterparty` (create), `POST /counterparty/detail` (balance) and
/// `POST /counterparty/verify` (registration code) all send a counterparty plus these.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladCounterpartyRequest)]
pub struct CounterpartyRequest {
    #[serde(rename = "retailStore", default)]
    pub retail_store: Option<Reference>,
    #[serde(flatten)]
    pub counterparty: Counterparty,
    /// The id the till gave the customer (create only).
    #[serde(rename = "syncId", default)]
    pub sync_id: Option<String>,
    /// Create only; absent from tills older than 2023.
    #[serde(rename = "statusCheck", default)]
    pub status_check: Option<StatusCheck>,
}

/// `GET /counterparty?search=…&retailStoreId=…`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladSearchQuery)]
pub struct SearchQuery {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(rename = "retailStoreId", default)]
    pub retail_store_id: Option<String>,
}

/// One row of the search answer: `id` is ours (a GUID), `msId` MoySklad's when we know it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladSearchRow)]
pub struct SearchRow {
    pub id: String,
    #[serde(rename = "msId", default, skip_serializing_if = "Option::is_none")]
    pub ms_id: Option<String>,
    pub name: String,
    #[serde(rename = "discountCardNumber", default, skip_serializing_if = "Option::is_none")]
    pub discount_card_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "birthDate", default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladSearchResponse)]
pub struct SearchResponse {
    pub rows: Vec<SearchRow>,
}

/// `POST /counterparty/detail` answer: exactly one balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladDetailResponse)]
pub struct DetailResponse {
    #[serde(rename = "bonusProgram")]
    pub bonus_program: BalanceOnly,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladBalanceOnly)]
pub struct BalanceOnly {
    #[serde(rename = "agentBonusBalance")]
    pub agent_bonus_balance: Points,
}

/// The answer to both verify calls: the code goes back to MoySklad, which compares it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladVerifyResponse)]
pub struct VerifyResponse {
    #[serde(rename = "verificationCode")]
    pub verification_code: String,
    /// Seconds before the till may ask for a new code.
    #[serde(rename = "timeForRepeat", default, skip_serializing_if = "Option::is_none")]
    pub time_for_repeat: Option<i64>,
    /// At most 140 characters, shown to the cashier.
    #[serde(rename = "messageForCashier", default, skip_serializing_if = "Option::is_none")]
    pub message_for_cashier: Option<String>,
}

/// `POST /retaildemand/verify`: a code before spending points.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladSpendVerifyRequest)]
pub struct SpendVerifyRequest {
    #[serde(rename = "retailStore", default)]
    pub retail_store: Option<Reference>,
    /// "The counterparty id needed for synchronisation": MoySklad's id or the till's syncId.
    #[serde(rename = "counterpartyId", default)]
    pub counterparty_id: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// `EARNING` (the default) or `SPENDING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladTransactionType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionType {
    #[default]
    Earning,
    Spending,
}

/// `assortment`: the product or service of a position.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladAssortment)]
pub struct Assortment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(rename = "syncId", default, skip_serializing_if = "Option::is_none")]
    pub sync_id: Option<String>,
}

impl Assortment {
    /// What identifies the product: `meta.id`, else the till's `syncId`.
    pub fn key(&self) -> Option<&str> {
        self.meta
            .as_ref()
            .and_then(Meta::id)
            .or_else(|| self.sync_id.as_deref().map(str::trim).filter(|id| !id.is_empty()))
    }
}

/// A receipt position. In recalc requests `discountPercent` and `discountedPrice` are absent;
/// in sales and returns they carry what the till charged. `sn` and `pack` are echoed untouched.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladPosition)]
pub struct Position {
    #[serde(default)]
    pub assortment: Assortment,
    /// Required; 3 decimals.
    #[serde(default)]
    pub quantity: Option<Qty>,
    /// Required; per unit, 2 decimals.
    #[serde(default)]
    pub price: Option<Rubles>,
    #[serde(rename = "discountPercent", default, skip_serializing_if = "Option::is_none")]
    pub discount_percent: Option<Percent>,
    #[serde(rename = "discountedPrice", default, skip_serializing_if = "Option::is_none")]
    pub discounted_price: Option<Rubles>,
    /// Serial numbers `{meta, name}`: one per unit when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub sn: Option<Vec<Box<RawValue>>>,
    /// Packaging `{id, name, quantity, barcode}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub pack: Option<Box<RawValue>>,
}

/// `bonusProgram` as the till sends it: the transaction type in recalc, the points spent and
/// earned in a sale. `preferredBonusToSpend` belongs at the top level, but one implementation
/// reads it here, so it is accepted in both places.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladBonusProgramIn)]
pub struct BonusProgramIn {
    #[serde(rename = "transactionType", default)]
    pub transaction_type: Option<TransactionType>,
    #[serde(rename = "preferredBonusToSpend", default)]
    pub preferred_bonus_to_spend: Option<Points>,
    #[serde(rename = "bonusValueToSpend", default)]
    pub bonus_value_to_spend: Option<Points>,
    #[serde(rename = "bonusValueToEarn", default)]
    pub bonus_value_to_earn: Option<Points>,
}

/// `POST /retaildemand/recalc`: the receipt before any discount.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladRecalcRequest)]
pub struct RecalcRequest {
    #[serde(rename = "retailStore", default)]
    pub retail_store: Option<Reference>,
    #[serde(default)]
    pub agent: Option<Counterparty>,
    #[serde(default)]
    pub positions: Option<Vec<Position>>,
    #[serde(rename = "bonusProgram", default)]
    pub bonus_program: Option<BonusProgramIn>,
    #[serde(rename = "preferredBonusToSpend", default)]
    pub preferred_bonus_to_spend: Option<Points>,
}

impl RecalcRequest {
    pub fn transaction_type(&self) -> TransactionType {
        self.bonus_program.as_ref().and_then(|b| b.transaction_type).unwrap_or_default()
    }

    /// The points the customer wants to spend: top level first, then inside `bonusProgram`.
    pub fn preferred_bonus_to_spend(&self) -> Option<i64> {
        self.preferred_bonus_to_spend
            .or_else(|| self.bonus_program.as_ref().and_then(|b| b.preferred_bonus_to_spend))
            .map(|p| p.0)
    }
}

/// The recalc answer's `bonusProgram`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladBonusProgramOut)]
pub struct BonusProgramOut {
    #[serde(rename = "transactionType")]
    pub transaction_type: TransactionType,
    /// Before the sale.
    #[serde(rename = "agentBonusBalance")]
    pub agent_bonus_balance: Points,
    #[serde(rename = "bonusValueToSpend")]
    pub bonus_value_to_spend: Points,
    #[serde(rename = "bonusValueToEarn")]
    pub bonus_value_to_earn: Points,
    /// before − spend + earn.
    #[serde(rename = "agentBonusBalanceAfter")]
    pub agent_bonus_balance_after: Points,
    /// The money the spent points pay, 2 decimals.
    #[serde(rename = "paidByBonusPoints")]
    pub paid_by_bonus_points: Rubles,
    #[serde(rename = "receiptExtraInfo", default, skip_serializing_if = "Option::is_none")]
    pub receipt_extra_info: Option<String>,
}

/// `POST /retaildemand/recalc` answer: every position with its discount, and the points.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladRecalcResponse)]
pub struct RecalcResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Counterparty>,
    pub positions: Vec<Position>,
    #[serde(rename = "bonusProgram")]
    pub bonus_program: BonusProgramOut,
    #[serde(rename = "needVerification")]
    pub need_verification: bool,
}

/// A gift card paid with in a sale; `paymentSum` is in kopecks.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladGiftCardPayment)]
pub struct GiftCardPayment {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "paymentSum", default)]
    pub payment_sum: Option<Kopecks>,
}

/// `POST /retaildemand`: a completed (fiscalised) sale. The documented example sends `meta`
/// with empty `href` and `id`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladSaleRequest)]
pub struct SaleRequest {
    #[serde(rename = "retailStore", default)]
    pub retail_store: Option<Reference>,
    /// The sale's number, e.g. `00001`.
    #[serde(default)]
    pub name: Option<String>,
    /// `YYYY-MM-DD HH:mm:ss`, time zone unstated.
    #[serde(default)]
    pub moment: Option<String>,
    #[serde(default)]
    pub meta: Option<Meta>,
    #[serde(default)]
    pub agent: Option<Counterparty>,
    #[serde(default)]
    pub positions: Option<Vec<Position>>,
    #[serde(rename = "bonusProgram", default)]
    pub bonus_program: Option<BonusProgramIn>,
    /// Rubles. Payments are informational: points never depend on them.
    #[serde(rename = "cashSum", default)]
    #[schema(value_type = Option<f64>)]
    pub cash_sum: Option<Box<RawValue>>,
    /// Rubles (stated since October 2024).
    #[serde(rename = "noCashSum", default)]
    #[schema(value_type = Option<f64>)]
    pub no_cash_sum: Option<Box<RawValue>>,
    #[serde(rename = "giftCards", default)]
    pub gift_cards: Option<Vec<GiftCardPayment>>,
}

/// The customer of a return: a flat `{href, id}`, not `{meta: {…}}` (a documented quirk; the
/// example is `{}`). A nested `meta` is read too, in case MoySklad ever fixes the quirk.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladFlatAgent)]
pub struct FlatAgent {
    #[serde(default)]
    pub href: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

impl FlatAgent {
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref().map(str::trim).filter(|id| !id.is_empty()).or_else(|| self.meta.as_ref().and_then(Meta::id))
    }
}

/// `POST /retailsalesreturn`: a completed return. It carries no points: the loyalty side works
/// them out from the linked sale (`demand`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladReturnRequest)]
pub struct ReturnRequest {
    #[serde(rename = "retailStore", default)]
    pub retail_store: Option<Reference>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub moment: Option<String>,
    #[serde(default)]
    pub meta: Option<Meta>,
    #[serde(default)]
    pub demand: Option<Reference>,
    #[serde(default)]
    pub agent: Option<FlatAgent>,
    #[serde(default)]
    pub positions: Option<Vec<Position>>,
    /// Rubles.
    #[serde(rename = "cashSum", default)]
    #[schema(value_type = Option<f64>)]
    pub cash_sum: Option<Box<RawValue>>,
    /// Documented as kopecks, but the example (`283100.0` for 283.10) is ×1000: never used.
    #[serde(rename = "noCashSum", default)]
    #[schema(value_type = Option<f64>)]
    pub no_cash_sum: Option<Box<RawValue>>,
}

/// `GET /giftcard?name=…&retailStoreId=…`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MoySkladGiftCardQuery)]
pub struct GiftCardQuery {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "retailStoreId", default)]
    pub retail_store_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladGiftCardStatus)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GiftCardStatus {
    CanBeUsed,
    PartiallyRedeemed,
    Expired,
    Redeemed,
    Invalid,
}

/// The gift-card answer; balances in kopecks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladGiftCardResponse)]
pub struct GiftCardResponse {
    pub name: String,
    /// Our card id, a GUID.
    pub id: String,
    pub status: GiftCardStatus,
    /// `YYYY-MM-DD HH:mm:ss`, UTC.
    #[serde(rename = "expireDate", default, skip_serializing_if = "Option::is_none")]
    pub expire_date: Option<String>,
    #[serde(rename = "currentBalance", default, skip_serializing_if = "Option::is_none")]
    pub current_balance: Option<Kopecks>,
    #[serde(rename = "initialBalance", default, skip_serializing_if = "Option::is_none")]
    pub initial_balance: Option<Kopecks>,
}

/// Every error answer: `{"errors": [{error, parameter?, code, error_message}]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladErrorsBody)]
pub struct ErrorsBody {
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = MoySkladErrorItem)]
pub struct ErrorItem {
    /// A title.
    pub error: String,
    /// The field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    pub code: i64,
    pub error_message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shapes_and_nulls() {
        let recalc: RecalcRequest = serde_json::from_str(
            r#"{"agent": {"meta": {"href": "h", "id": "ms-1"}, "name": null, "sex": null},
                "positions": [{"assortment": {"meta": {"href": "h", "id": "p-1", "idType": "native", "type": "product"}},
                               "quantity": 123.456, "price": 123.45, "sn": [{"meta": {"id": "s"}, "name": "7895545"}],
                               "pack": {"id": "x", "quantity": 1.5}}],
                "bonusProgram": {"transactionType": "SPENDING", "preferredBonusToSpend": 7},
                "extraField": [1, 2]}"#,
        )
        .unwrap();
        assert_eq!(recalc.agent.as_ref().and_then(Counterparty::ms_id), Some("ms-1"));
        assert_eq!(recalc.transaction_type(), TransactionType::Spending);
        assert_eq!(recalc.preferred_bonus_to_spend(), Some(7));
        let position = &recalc.positions.as_ref().unwrap()[0];
        assert_eq!((position.quantity, position.price), (Some(Qty(123_456)), Some(Rubles(12_345))));
        assert_eq!(position.assortment.key(), Some("p-1"));
        // sn and pack are echoed exactly as they came.
        let echoed = serde_json::to_string(position).unwrap();
        assert!(echoed.contains(r#""pack":{"id": "x", "quantity": 1.5}"#), "{echoed}");

        let top: RecalcRequest =
            serde_json::from_str(r#"{"preferredBonusToSpend": 3, "bonusProgram": {"preferredBonusToSpend": 9}}"#)
                .unwrap();
        assert_eq!(top.preferred_bonus_to_spend(), Some(3));
        assert_eq!(RecalcRequest::default().transaction_type(), TransactionType::Earning);

        let back: ReturnRequest =
            serde_json::from_str(r#"{"agent": {}, "demand": {"meta": {"href": "", "id": ""}}, "noCashSum": 283100.0}"#)
                .unwrap();
        assert_eq!(back.agent.as_ref().and_then(FlatAgent::id), None);
        assert_eq!(back.demand.as_ref().and_then(Reference::id), None);
        let flat: FlatAgent = serde_json::from_str(r#"{"href": "h", "id": "ms-2"}"#).unwrap();
        assert_eq!(flat.id(), Some("ms-2"));

        let create: CounterpartyRequest =
            serde_json::from_str(r#"{"meta": {"id": "ms-3"}, "phone": "+7 999", "statusCheck": "UNCHECKED"}"#).unwrap();
        assert_eq!(create.counterparty.ms_id(), Some("ms-3"));
        assert_eq!(create.status_check, Some(StatusCheck::Unchecked));
    }

    #[test]
    fn writes_optional_fields_only_when_present() {
        let row = SearchRow {
            id: "a".into(),
            ms_id: None,
            name: "Ivan".into(),
            discount_card_number: Some("2700".into()),
            phone: None,
            email: None,
            birth_date: None,
        };
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"id":"a","name":"Ivan","discountCardNumber":"2700"}"#);
    }
}
