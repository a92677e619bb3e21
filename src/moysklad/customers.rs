//! The customer half of the protocol: search, create (with the 412 / 28001 confirmation),
//! balance, the registration code, and [`resolve`], which every call naming a customer uses.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::body::MsJson;
use super::errors::MsError;
use super::number::Points;
use super::routes::Adapter;
use super::service::{BackendError, CodePurpose, Link, Lookup, LoyaltyBackend, Member, NewCode};
use super::verify::{self, CodeMessage};
use super::wire::{
    BalanceOnly, Counterparty, CounterpartyRequest, DetailResponse, SearchQuery, SearchResponse, SearchRow,
    StatusCheck, VerifyResponse,
};
use crate::identity;
use crate::wire::EnrollRequest;

/// Customers created through MoySklad carry this tag, so the back office can tell them apart.
pub const TAG: &str = "moysklad";

/// Trims a text field; blank counts as absent (real traffic sends `null` and `""` alike).
pub(super) fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The customer a request names. By the link to MoySklad's counterparty id first; failing that
/// by the card number, then by the phone the request carries. A customer found that way who has
/// no link yet is linked to the id, so later calls that carry only the id find them.
pub(super) async fn resolve<B: LoyaltyBackend>(
    backend: &B,
    scope: &B::Scope,
    agent: &Counterparty,
) -> Result<Option<Member>, MsError> {
    let mut found = lookup(backend, scope, agent).await?;
    if let (Some(member), Some(ms_id)) = (found.as_mut(), agent.ms_id()) {
        if member.ms_id.is_none()
            && backend.link(scope.clone(), ms_id.to_owned(), member.id.clone()).await? == Link::Linked
        {
            tracing::info!(customer = %member.id, "MoySklad counterparty linked by card or phone");
            member.ms_id = Some(ms_id.to_owned());
        }
    }
    Ok(found)
}

/// The customer a request names, found as [`resolve`] finds them but never linked: for calls
/// that change nothing (recalc).
pub(super) async fn lookup<B: LoyaltyBackend>(
    backend: &B,
    scope: &B::Scope,
    agent: &Counterparty,
) -> Result<Option<Member>, MsError> {
    let ms_id = agent.ms_id();
    if let Some(ms_id) = ms_id {
        if let Some(member) = backend.linked(scope.clone(), ms_id.to_owned()).await? {
            return Ok(Some(member));
        }
    }
    let mut found = None;
    if let Some(card) = text(&agent.discount_card_number).and_then(identity::normalize_card) {
        found = backend.find(scope.clone(), Lookup::Card(card)).await?;
    }
    if found.is_none() {
        if let Some(phone) = text(&agent.phone) {
            found = backend.find(scope.clone(), Lookup::Phone(phone.to_owned())).await?;
        }
    }
    Ok(found)
}

/// `GET /counterparty?search=…`: rows whose `id` is ours and `msId` MoySklad's. Nothing found
/// is an empty list.
pub async fn search<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResponse>, MsError> {
    let Query(query) = query.map_err(|e| MsError::invalid_field("search", e.body_text()))?;
    let rows = match text(&query.search) {
        Some(q) => adapter.backend.search(scope, q.to_owned()).await?.into_iter().map(search_row).collect(),
        None => Vec::new(),
    };
    Ok(Json(SearchResponse { rows }))
}

fn search_row(member: Member) -> SearchRow {
    SearchRow {
        name: member.name.clone().unwrap_or_else(|| member.phone.clone()),
        id: member.id,
        ms_id: member.ms_id,
        discount_card_number: Some(member.card),
        phone: Some(member.phone),
        email: member.email,
        birth_date: member.birthday.map(|day| format!("{day} 00:00:00")),
    }
}

/// `POST /counterparty/detail`: the balance of the one customer `meta.id` names.
pub async fn detail<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    MsJson { value: request, .. }: MsJson<CounterpartyRequest>,
) -> Result<Json<DetailResponse>, MsError> {
    let member = resolve(&adapter.backend, &scope, &request.counterparty)
        .await?
        .ok_or_else(|| MsError::customer_not_found("meta.id"))?;
    Ok(Json(DetailResponse { bonus_program: BalanceOnly { agent_bonus_balance: Points(member.balance) } }))
}

/// `POST /counterparty`: 201 with an empty body once the customer exists here and is linked to
/// MoySklad's id. A customer we already know by phone is linked rather than created twice. When
/// the program confirms registrations by code, an `UNCHECKED` (or unstated) new customer gets
/// 412 / 28001, and a `CHECKED` one must use up a code we issued for that phone.
pub async fn create<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    MsJson { value: request, .. }: MsJson<CounterpartyRequest>,
) -> Result<Response, MsError> {
    let backend = &adapter.backend;
    let person = &request.counterparty;
    let ms_id =
        person.ms_id().ok_or_else(|| MsError::invalid_field("meta.id", "MoySklad's counterparty id is needed"))?;
    if backend.linked(scope.clone(), ms_id.to_owned()).await?.is_some() {
        return Ok(StatusCode::CREATED.into_response());
    }
    let raw_phone = text(&person.phone)
        .ok_or_else(|| MsError::invalid_field("phone", "a phone number is needed to join the loyalty program"))?;
    let phone = identity::normalize_phone(raw_phone, &backend.phone_region())
        .map_err(|e| MsError::invalid_field("phone", e))?
        .into_string();
    if let Some(member) = backend.find(scope.clone(), Lookup::Phone(phone.clone())).await? {
        let link = backend.link(scope.clone(), ms_id.to_owned(), member.id.clone()).await?;
        tracing::info!(customer = %member.id, ?link, "MoySklad created a counterparty for a known customer");
        return Ok(StatusCode::CREATED.into_response());
    }
    let program = backend.program(scope.clone()).await?;
    if program.verify_registration {
        let confirmed = match request.status_check {
            Some(StatusCheck::Ignore) => true,
            Some(StatusCheck::Checked) => {
                let now = crate::clock::now();
                backend.consume_code(scope.clone(), CodePurpose::Registration, phone.clone(), now).await?
            }
            Some(StatusCheck::Unchecked) | None => false,
        };
        if !confirmed {
            return Err(MsError::confirmation_required());
        }
    }
    let mut enroll = enroll_request(person, &phone);
    // MoySklad's card numbers may be letters, or already someone else's: the customer then gets
    // a card of ours (MoySklad keeps its own on the counterparty). A taken email is dropped.
    for _ in 0..3 {
        match backend.create(scope.clone(), ms_id.to_owned(), enroll.clone()).await {
            Ok(member) => {
                tracing::info!(customer = %member.id, phone = %identity::mask_phone(&member.phone), "customer created through MoySklad");
                return Ok(StatusCode::CREATED.into_response());
            }
            Err(BackendError::Conflict { code: "card_taken", .. }) if enroll.card.is_some() => enroll.card = None,
            Err(BackendError::Conflict { code: "email_taken", .. }) if enroll.email.is_some() => enroll.email = None,
            // Another request created or linked them meanwhile (a retry racing the first).
            Err(BackendError::Conflict { code: "link_taken" | "phone_taken", .. }) => {
                if let Some(member) = backend.find(scope.clone(), Lookup::Phone(phone.clone())).await? {
                    backend.link(scope.clone(), ms_id.to_owned(), member.id).await?;
                }
                return Ok(StatusCode::CREATED.into_response());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(MsError::unavailable("the customer could not be created"))
}

/// Our enrollment from MoySklad's counterparty: the name (or the legal name parts), a valid
/// email, a digits-only card, the birth date's day.
fn enroll_request(person: &Counterparty, phone: &str) -> EnrollRequest {
    let legal: Vec<&str> = [&person.legal_last_name, &person.legal_first_name, &person.legal_middle_name]
        .into_iter()
        .filter_map(text)
        .collect();
    let name = text(&person.name).map(str::to_owned).or_else(|| (!legal.is_empty()).then(|| legal.join(" ")));
    let birthday = text(&person.birth_date).and_then(|b| b.get(..10)).filter(|day| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(day, &format).is_ok()
    });
    EnrollRequest {
        phone: phone.to_owned(),
        name: name.map(|n| n.chars().take(200).collect()),
        email: text(&person.email).and_then(identity::normalize_email),
        card: text(&person.discount_card_number).and_then(identity::normalize_card),
        birthday: birthday.map(str::to_owned),
        tags: vec![TAG.to_owned()],
        consents: None,
        referral_code: None,
    }
}

/// `POST /counterparty/verify`: sends a registration code to the phone and answers it.
pub async fn verify<B: LoyaltyBackend>(
    State(adapter): State<Adapter<B>>,
    Extension(scope): Extension<B::Scope>,
    MsJson { value: request, .. }: MsJson<CounterpartyRequest>,
) -> Result<Json<VerifyResponse>, MsError> {
    let raw_phone = text(&request.counterparty.phone)
        .ok_or_else(|| MsError::invalid_field("phone", "a phone number is needed to send the code"))?;
    let phone = identity::normalize_phone(raw_phone, &adapter.backend.phone_region())
        .map_err(|e| MsError::invalid_field("phone", e))?
        .into_string();
    send_code(&adapter, scope, CodePurpose::Registration, phone.clone(), phone).await.map(Json)
}

/// Issues (or repeats) a code for `subject` and sends a fresh one to `phone`.
pub(super) async fn send_code<B: LoyaltyBackend>(
    adapter: &Adapter<B>,
    scope: B::Scope,
    purpose: CodePurpose,
    subject: String,
    phone: String,
) -> Result<VerifyResponse, MsError> {
    let now = crate::clock::now();
    let issued = adapter
        .backend
        .issue_code(
            scope,
            NewCode {
                purpose,
                subject,
                code: verify::new_code(),
                now,
                ttl_seconds: verify::CODE_TTL_SECONDS,
                repeat_seconds: verify::REPEAT_SECONDS,
            },
        )
        .await?;
    if issued.fresh {
        let message = CodeMessage { phone: phone.clone(), code: issued.code.clone(), purpose };
        adapter.sender.send(&message).await.map_err(|e| {
            tracing::error!(error = %e, "verification code not sent");
            MsError::unavailable(e)
        })?;
    }
    Ok(VerifyResponse {
        message_for_cashier: Some(verify::message_for_cashier(&phone, issued.fresh)),
        verification_code: issued.code,
        time_for_repeat: Some(issued.repeat_in),
    })
}
