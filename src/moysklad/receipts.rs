//! The receipt half of the protocol: recalc (a quote), the spending code, the sale, the return
//! and the gift-card lookup.
//!
//! A sale or return becomes a receipt or return of our own ledger, so it shows in the native
//! receipts, moves points through the same code as the native API and, on the agent, syncs to
//! the cloud like any other. Its id is derived by [`document_key`] (see the module docs of
//! `crate::moysklad` for why and how).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use sha2::{Digest, Sha256};

use super::body::MsJson;
use super::convert::{self, ReadPosition};
use super::customers::{lookup, resolve, send_code, text};
use super::errors::{MsError, SALE_NOT_FOUND};
use super::number::{Kopecks, Points, Rubles};
use super::routes::Adapter;
use super::service::{CodePurpose, GiftCard, GiftCardPayment, Lookup, LoyaltyBackend, SaleRecord};
use super::wire::{
    BonusProgramOut, GiftCardPayment as GiftCardPaymentIn, GiftCardQuery, GiftCardResponse, GiftCardStatus, Meta,
    RecalcRequest, RecalcResponse, Reference, ReturnRequest, SaleRequest, SpendVerifyRequest, TransactionType,
    VerifyResponse,
};
use crate::gift_cards::State as CardState;
use crate::wire::{self as native, CalculateRequest, CommitRequest, CustomerRef, RedeemInput, ReturnLineInput};

/// Our id for a MoySklad sale or return: `moysklad:<meta.id>` when MoySklad sent an id; else
/// `moysklad:n:<hash>` of the point of sale, document number and moment; else `moysklad:b:<hash>`
/// of the body's canonical JSON. The same document sent again gets the same id.
pub fn document_key(
    meta: Option<&Meta>,
    store: Option<&Reference>,
    name: Option<&str>,
    moment: Option<&str>,
    body: &[u8],
) -> String {
    let usable = |id: &&str| id.len() <= 100 && id.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if let Some(id) = meta.and_then(Meta::id).filter(usable) {
        return format!("moysklad:{id}");
    }
    let short = |digest: &[u8]| hex::encode(digest).chars().take(32).collect::<String>();
    if let (Some(name), Some(moment)) =
        (name.map(str::trim).filter(|n| !n.is_empty()), moment.map(str::trim).filter(|m| !m.is_empty()))
    {
        let store = store.and_then(Reference::id).unwrap_or("");
        return format!("moysklad:n:{}", short(&Sha256::digest(format!("{store}\n{name}\n{moment}"))));
    }
    // Canonical: parsed and written again, so spacing and key order do not change the id.
    let canonical = serde_json::from_slice::<serde_json::Value>(body).map(|v| v.to_string()).unwrap_or_default();
    format!("moysklad:b:{}", short(&Sha256::digest(canonical.as_bytes())))
}

/// `POST /retaildemand/recalc`: every position with its discount, the points to spend and to
/// earn. Changes nothing. An unknown customer is priced without points rather than refused, so
/// the till can still sell.
pub async fn recalc<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    MsJson { value: request, .. }: MsJson<RecalcRequest>,
) -> Result<Json<RecalcResponse>, MsError> {
    let backend = &adapter.backend;
    let positions = convert::read_positions(request.positions.as_deref())?;
    // A quote changes nothing, so a customer found by card or phone is not linked here; the
    // sale links them.
    let member = match &request.agent {
        Some(agent) => lookup(backend, &scope, agent).await?,
        None => None,
    };
    let transaction_type = request.transaction_type();
    let customer = member.as_ref().map(|m| CustomerRef { id: Some(m.id.clone()), ..CustomerRef::default() });
    let quote = |redeem: Option<RedeemInput>| {
        backend.quote(
            scope.clone(),
            CalculateRequest {
                customer: customer.clone(),
                lines: convert::to_lines(&positions),
                redeem,
                promo_codes: Vec::new(),
                verification: None,
                cashier: None,
                entry: None,
            },
        )
    };
    let calc = match (transaction_type, &member) {
        (TransactionType::Spending, Some(_)) => {
            // No preference (or null) means the most that can be spent; a preference beyond that
            // is clamped, as MoySklad itself does, rather than refused.
            let max = quote(Some(RedeemInput::Word("max".into()))).await?;
            match request.preferred_bonus_to_spend() {
                Some(wanted) if wanted < max.points.redeem => quote(Some(RedeemInput::Points(wanted.max(0)))).await?,
                _ => max,
            }
        }
        _ => quote(None).await?,
    };
    let program = backend.program(scope.clone()).await?;
    let points = &calc.points;
    let paid_by_points: i64 = calc.lines.iter().map(|l| l.points_discount).sum();
    let receipt_extra_info = match &member {
        Some(_) => convert::receipt_extra_info(points.redeem, points.earn, points.balance_after),
        None if request.agent.is_some() => "Покупатель не найден в программе лояльности".to_owned(),
        None => "Покупатель не выбран: баллы не начисляются".to_owned(),
    };
    Ok(Json(RecalcResponse {
        agent: request.agent.clone(),
        positions: convert::priced_positions(&positions, &calc)?,
        bonus_program: BonusProgramOut {
            transaction_type,
            agent_bonus_balance: Points(points.balance),
            bonus_value_to_spend: Points(points.redeem),
            bonus_value_to_earn: Points(points.earn),
            agent_bonus_balance_after: Points(points.balance_after),
            paid_by_bonus_points: Rubles(paid_by_points),
            receipt_extra_info: Some(receipt_extra_info),
        },
        need_verification: transaction_type == TransactionType::Spending
            && points.redeem > 0
            && program.verify_spending,
    }))
}

/// `POST /retaildemand/verify`: a code to the customer's phone before points are spent.
pub async fn verify<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    MsJson { value: request, .. }: MsJson<SpendVerifyRequest>,
) -> Result<Json<VerifyResponse>, MsError> {
    let backend = &adapter.backend;
    // `counterpartyId` is MoySklad's id (or the till's syncId, the doc is vague); the phone is
    // the fallback. The code goes to the phone we hold: the owner of the points.
    let mut member = None;
    if let Some(id) = text(&request.counterparty_id) {
        member = backend.linked(scope.clone(), id.to_owned()).await?;
    }
    if member.is_none() {
        if let Some(phone) = text(&request.phone) {
            member = backend.find(scope.clone(), Lookup::Phone(phone.to_owned())).await?;
        }
    }
    let member = member.ok_or_else(|| MsError::customer_not_found("counterpartyId"))?;
    send_code(&adapter, scope, CodePurpose::Spending, member.id.clone(), member.phone.clone()).await.map(Json)
}

/// `POST /retaildemand`: records the sale (201, empty body). The sale is already fiscalised at
/// the till, so only what cannot be recorded at all is refused: an unknown customer spending
/// points, or points beyond what the ledger allows.
pub async fn sale<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    MsJson { value: sale, bytes }: MsJson<SaleRequest>,
) -> Result<Response, MsError> {
    let backend = &adapter.backend;
    if sale.positions.as_ref().is_none_or(Vec::is_empty) {
        if sale.gift_cards.as_ref().is_some_and(|cards| !cards.is_empty()) {
            // A sale of nothing cannot be recorded, and its card payments would have no record.
            return Err(MsError::invalid_field("positions", "a sale paid with gift cards needs its positions"));
        }
        tracing::info!("MoySklad sale without positions: nothing to record");
        return Ok(StatusCode::CREATED.into_response());
    }
    let positions = convert::read_positions(sale.positions.as_deref())?;
    let gift_cards = gift_card_payments(sale.gift_cards.as_deref())?;
    let bonus = sale.bonus_program.clone().unwrap_or_default();
    let spend = bonus.bonus_value_to_spend.map_or(0, |p| p.0);
    if spend < 0 {
        return Err(MsError::invalid_field("bonusProgram.bonusValueToSpend", "points cannot be negative"));
    }
    let member = match &sale.agent {
        Some(agent) => resolve(backend, &scope, agent).await?,
        None => None,
    };
    if member.is_none() && spend > 0 {
        return Err(MsError::customer_not_found("agent.meta.id"));
    }
    let id = document_key(
        sale.meta.as_ref(),
        sale.retail_store.as_ref(),
        sale.name.as_deref(),
        sale.moment.as_deref(),
        &bytes,
    );
    if let (Some(member), true) = (&member, spend > 0) {
        let program = backend.program(scope.clone()).await?;
        let now = crate::clock::now();
        if program.verify_spending
            && !backend.consume_code(scope.clone(), CodePurpose::Spending, member.id.clone(), now).await?
        {
            // The goods are gone and MoySklad checked the code itself; record, and say so.
            tracing::warn!(receipt = %id, customer = %member.id, "MoySklad sale spends points without a spending code issued here");
        }
    }
    let request = CommitRequest {
        id: id.clone(),
        customer: member.as_ref().map(|m| CustomerRef { id: Some(m.id.clone()), ..CustomerRef::default() }),
        lines: convert::to_lines(&positions),
        redeem: (spend > 0).then_some(RedeemInput::Points(spend)),
        promo_codes: Vec::new(),
        verification: None,
        cashier: None,
        entry: None,
    };
    let answer = backend.commit_sale(scope, request, gift_cards).await?;
    log_differences(&id, &answer, &positions, bonus.bonus_value_to_earn);
    Ok(StatusCode::CREATED.into_response())
}

/// The sale's `giftCards[]` as payments: each names its card (`name`, the number; the `id` is
/// the one our lookup answered and is not needed) and pays `paymentSum` kopecks. A zero sum
/// pays nothing and is skipped.
fn gift_card_payments(cards: Option<&[GiftCardPaymentIn]>) -> Result<Vec<GiftCardPayment>, MsError> {
    let mut payments = Vec::new();
    for (i, card) in cards.unwrap_or_default().iter().enumerate() {
        let number = text(&card.name)
            .ok_or_else(|| MsError::invalid_field(format!("giftCards[{i}].name"), "the card number is missing"))?;
        let amount = card
            .payment_sum
            .ok_or_else(|| MsError::invalid_field(format!("giftCards[{i}].paymentSum"), "the sum is missing"))?
            .0;
        if amount < 0 {
            return Err(MsError::invalid_field(format!("giftCards[{i}].paymentSum"), "a sum cannot be negative"));
        }
        if amount > 0 {
            payments.push(GiftCardPayment { number: number.to_owned(), amount });
        }
    }
    Ok(payments)
}

/// Our ledger is the authority; where the till's figures differ from ours, a log line says so.
fn log_differences(id: &str, answer: &native::Calculation, positions: &[ReadPosition], claimed_earn: Option<Points>) {
    let till_total: i128 = positions
        .iter()
        .map(|p| convert::part_sum(p.original.discounted_price.map_or(p.price, |d| d.0), p.quantity))
        .sum();
    if till_total != i128::from(answer.total) {
        tracing::warn!(receipt = %id, till_total = %till_total, ours = answer.total, "MoySklad sale total differs from ours");
    }
    if let Some(claimed) = claimed_earn.filter(|c| c.0 != answer.points.earn) {
        tracing::warn!(receipt = %id, claimed = claimed.0, ours = answer.points.earn, "MoySklad sale earn differs from ours");
    }
}

/// `POST /retailsalesreturn`: reverses points from the linked sale in proportion to what came
/// back (201, empty body). The sale is found by `demand.meta.id`; without one, among the
/// customer's recent MoySklad sales, the newest that still holds every returned position.
pub async fn sales_return<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    MsJson { value: back, bytes }: MsJson<ReturnRequest>,
) -> Result<Response, MsError> {
    let backend = &adapter.backend;
    if back.positions.as_ref().is_none_or(Vec::is_empty) {
        tracing::info!("MoySklad return without positions: nothing to reverse");
        return Ok(StatusCode::CREATED.into_response());
    }
    let positions = convert::read_positions(back.positions.as_deref())?;
    let id = document_key(
        back.meta.as_ref(),
        back.retail_store.as_ref(),
        back.name.as_deref(),
        back.moment.as_deref(),
        &bytes,
    );
    // A return sent again goes to the sale it was booked against: after a full return the
    // search below would no longer find a sale holding its positions.
    let mut sale = match backend.returned(scope.clone(), id.clone()).await? {
        Some(receipt_id) => backend.sale(scope.clone(), receipt_id).await?,
        None => None,
    };
    if let (None, Some(demand_id)) = (&sale, back.demand.as_ref().and_then(Reference::id)) {
        sale = backend.sale(scope.clone(), format!("moysklad:{demand_id}")).await?;
    }
    let member = match back.agent.as_ref().and_then(|a| a.id()) {
        Some(ms_id) => backend.linked(scope.clone(), ms_id.to_owned()).await?,
        None => None,
    };
    if sale.is_none() {
        if let Some(member) = &member {
            let recent = backend.recent_sales(scope.clone(), member.id.clone()).await?;
            sale = recent.into_iter().find(|sale| covers(sale, &positions));
        }
    }
    let Some(sale) = sale else {
        if member.is_none() {
            tracing::info!(return_id = %id, "MoySklad return names no sale and no known customer: no points to reverse");
            return Ok(StatusCode::CREATED.into_response());
        }
        return Err(MsError::new(
            StatusCode::NOT_FOUND,
            SALE_NOT_FOUND,
            "Продажа не найдена",
            "Связанная продажа не найдена в программе лояльности, баллы не пересчитаны. Укажите продажу (demand).",
        )
        .with_parameter("demand.meta.id"));
    };
    let request = native::ReturnRequest {
        id,
        lines: Some(
            positions
                .iter()
                .map(|p| ReturnLineInput {
                    sku: p.sku.clone(),
                    line: None,
                    quantity: native::QuantityInput(crate::rules::Quantity(p.quantity).to_decimal_string()),
                })
                .collect(),
        ),
        all: None,
    };
    backend.commit_return(scope, sale.receipt_id, request).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// Whether a sale still holds every returned position (quantities summed per product).
fn covers(sale: &SaleRecord, positions: &[ReadPosition]) -> bool {
    let mut wanted: Vec<(&str, i64)> = Vec::new();
    for position in positions {
        match wanted.iter_mut().find(|(sku, _)| *sku == position.sku) {
            Some((_, quantity)) => *quantity = quantity.saturating_add(position.quantity),
            None => wanted.push((&position.sku, position.quantity)),
        }
    }
    wanted.iter().all(|(sku, quantity)| {
        let left: i64 = sale.lines.iter().filter(|(s, _)| s == sku).map(|(_, left)| *left).sum();
        left >= *quantity
    })
}

/// `GET /giftcard?name=…`: a card's status and balance in kopecks. A number this program does
/// not know (or, on a connected agent, cannot ask the cloud about) is `INVALID` ("cannot be
/// used, for any reason"), with a stable id derived from it.
pub async fn gift_card<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    query: Result<Query<GiftCardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<GiftCardResponse>, MsError> {
    let Query(query) = query.map_err(|e| MsError::invalid_field("name", e.body_text()))?;
    let name =
        text(&query.name).ok_or_else(|| MsError::invalid_field("name", "the card number is missing"))?.to_owned();
    if name.chars().count() > 64 {
        return Err(MsError::invalid_field("name", "a card number has at most 64 characters"));
    }
    let card = adapter.backend.gift_card(scope, name.clone()).await?;
    let now = crate::clock::now();
    Ok(Json(match card {
        Some(card) => known_card(name, card, now),
        None => GiftCardResponse {
            id: derived_guid(&name),
            name,
            status: GiftCardStatus::Invalid,
            expire_date: None,
            current_balance: None,
            initial_balance: None,
        },
    }))
}

/// A card of ours: its state as the protocol names it, balances in kopecks. A voided card is
/// `INVALID` ("cannot be used, for any reason") and shows no balance.
fn known_card(name: String, card: GiftCard, now: i64) -> GiftCardResponse {
    let state = card.state(now);
    let status = match state {
        CardState::Active => GiftCardStatus::CanBeUsed,
        CardState::PartiallyRedeemed => GiftCardStatus::PartiallyRedeemed,
        CardState::Redeemed => GiftCardStatus::Redeemed,
        CardState::Expired => GiftCardStatus::Expired,
        CardState::Void => GiftCardStatus::Invalid,
    };
    let void = state == CardState::Void;
    GiftCardResponse {
        name,
        id: card.id,
        status,
        expire_date: card.expires_at.map(utc_moment),
        current_balance: (!void).then_some(Kopecks(card.balance.max(0))),
        initial_balance: (!void).then_some(Kopecks(card.initial)),
    }
}

/// `YYYY-MM-DD HH:mm:ss` in UTC.
fn utc_moment(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(at).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// A GUID that is always the same for the same text (SHA-256, shaped as a version-4 UUID).
fn derived_guid(text: &str) -> String {
    let digest = Sha256::digest(format!("moysklad-gift-card:{text}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_keys_are_stable() {
        let meta = Meta { id: Some("6a1f0c2e-0000-4000-8000-000000000001".into()), ..Meta::default() };
        assert_eq!(document_key(Some(&meta), None, None, None, b"{}"), "moysklad:6a1f0c2e-0000-4000-8000-000000000001");
        let empty = Meta { id: Some(String::new()), href: Some(String::new()), ..Meta::default() };
        let by_number = document_key(Some(&empty), None, Some("00001"), Some("2016-04-18 15:06:00"), b"{}");
        assert_eq!(by_number, document_key(None, None, Some(" 00001 "), Some("2016-04-18 15:06:00"), b"[1]"));
        assert!(by_number.starts_with("moysklad:n:") && by_number.len() == 43, "{by_number}");
        // Golden: the derivation is part of stored data (receipt ids), so it must not drift.
        assert_eq!(
            by_number,
            format!("moysklad:n:{}", &hex::encode(Sha256::digest("\n00001\n2016-04-18 15:06:00"))[..32])
        );
        let a = document_key(None, None, None, None, br#"{"a": 1, "b": [2]}"#);
        assert_eq!(a, document_key(None, None, None, None, br#"{"b":[2],"a":1}"#));
        assert_ne!(a, document_key(None, None, None, None, br#"{"b":[3],"a":1}"#));
        assert!(crate::http::common::validate_key("id", &a).is_ok());
    }

    #[test]
    fn unknown_gift_cards_get_a_stable_guid() {
        let id = derived_guid("123456");
        assert_eq!(id, derived_guid("123456"));
        assert_ne!(id, derived_guid("123457"));
        assert!(uuid::Uuid::parse_str(&id).is_ok());
        let card = GiftCard {
            id: "x".into(),
            number: "1234".into(),
            balance: 500,
            initial: 1000,
            expires_at: Some(86_400),
            voided_at: None,
            created_at: 0,
        };
        let partly = known_card("1234".into(), card.clone(), 0);
        assert_eq!(partly.status, GiftCardStatus::PartiallyRedeemed);
        assert_eq!(partly.expire_date.as_deref(), Some("1970-01-02 00:00:00"));
        assert_eq!((partly.current_balance, partly.initial_balance), (Some(Kopecks(500)), Some(Kopecks(1000))));
        let void = known_card("1234".into(), GiftCard { voided_at: Some(1), ..card }, 0);
        assert_eq!((void.status, void.current_balance), (GiftCardStatus::Invalid, None));
    }
}
