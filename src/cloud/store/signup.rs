//! The public sign-up form's use case: a new phone becomes a customer (welcome points, a card
//! from the cloud's series, a feed row so every till finds them, a `customer_created` webhook
//! with source `web`); a phone the cloud already knows changes nothing. Either way the attempt
//! is logged in `signups` — the proof of consent a marketing opt-in needs, and a write on both
//! paths, so the two take about as long (the answer must not reveal which one it was).
//!
//! An email someone else already uses is dropped rather than refused, for the same reason;
//! the back office sees an `email_taken` conflict.
//!
//! The store a person signed up in (from a receipt's sign-up QR code) is logged with the
//! attempt, as where the consent was given.
//!
//! A friend's code (`referral_code`) must be one a customer has, else 422; a new customer who
//! gave one is recorded as that customer's referral (`lifecycle.rs`). A known phone changes
//! nothing, the code included.

use super::admin::{current_program, record_conflict, NewConflict};
use super::customers::{self, holder, CleanCustomer};
use super::lifecycle;
use super::{publish, Changes, CloudError, Store};
use crate::clock::now;
use crate::vals;
use crate::wire::{EnrollRequest, SignupRequest};

/// What a sign-up did; the HTTP answer is the same for both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupOutcome {
    Created { customer_id: String },
    AlreadyKnown,
}

impl Store {
    /// Registers `request` from `client_ip`. Invalid input is refused before anything is stored.
    pub async fn signup(&self, request: SignupRequest, client_ip: String) -> Result<SignupOutcome, CloudError> {
        let at = now();
        let store = request.store.filter(|s| !s.is_empty());
        if store.as_deref().is_some_and(|s| !crate::identity::valid_store(s)) {
            return Err(CloudError::InvalidWith {
                code: "invalid_store",
                message: format!(
                    "store must be 1 to {} letters, digits, single spaces and simple punctuation; send the store's name as the sign-up link gave it",
                    crate::identity::MAX_STORE_LEN
                ),
                params: vec![("max", crate::identity::MAX_STORE_LEN.to_string())],
            });
        }
        let enroll = EnrollRequest {
            phone: request.phone,
            name: request.name,
            email: request.email,
            card: None,
            birthday: request.birthday,
            tags: Vec::new(),
            consents: request.consents,
            referral_code: None,
        };
        let mut clean = CleanCustomer::from_request(self.settings(), enroll, at, "web", "web")?;
        clean.store = store.clone();
        // 152-ФЗ: no personal data is kept without the person's consent to its processing.
        if clean.consents.personal_data.as_ref().is_none_or(|consent| !consent.granted) {
            return Err(CloudError::InvalidWith {
                code: "personal_data_consent_required",
                message: "tick the box agreeing to the processing of your personal data (consents.personal_data = true); without it the form cannot be accepted".to_owned(),
                params: vec![("field", "personal_data".to_owned())],
            });
        }
        // A friend's code is checked before anything about the person: a code nobody has is a
        // 422 whether the phone is new or known, so the answer says nothing about the phone.
        let referral_code = match request.referral_code.as_deref().map(str::trim).filter(|code| !code.is_empty()) {
            Some(code) => Some(crate::identity::normalize_referral_code(code)?),
            None => None,
        };
        let settings = self.settings().clone();
        self.write(move |sql| {
            if let Some(code) = &referral_code {
                if lifecycle::code_holder(sql, code)?.is_none() {
                    return Err(lifecycle::unknown_code(code));
                }
            }
            let mut clean = clean.clone();
            let log = |sql: &mut dyn crate::cloud::db::Sql, customer_id: &str, outcome: &str| {
                sql.execute(
                    "INSERT INTO signups (id, phone, customer_id, outcome, client_ip, consents, created_at, store)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    vals![
                        uuid::Uuid::now_v7().to_string(),
                        &clean.phone,
                        customer_id,
                        outcome,
                        &client_ip,
                        serde_json::to_string(&clean.consents).unwrap_or_default(),
                        at,
                        store.as_deref()
                    ],
                )
            };
            if let Some(existing) = holder(sql, "phone", &clean.phone, None)? {
                log(sql, &existing, "existing")?;
                return Ok(SignupOutcome::AlreadyKnown);
            }
            let mut email_taken = None;
            if let Some(email) = &clean.email {
                if let Some(other) = holder(sql, "email", email, None)? {
                    email_taken = Some(other);
                    clean.email = None;
                }
            }
            let program = current_program(sql)?;
            let mut changes = Changes::default();
            let origin =
                super::consents::ConsentOrigin { store: store.clone(), ..super::consents::ConsentOrigin::new("web") };
            let customer = customers::insert(sql, &settings, clean.clone(), &program, at, &mut changes, &origin)?;
            if let Some(code) = &referral_code {
                lifecycle::referred(sql, &customer, code, lifecycle::Origin { source: "web", till_id: None }, at)?;
            }
            if let Some(other) = email_taken {
                record_conflict(
                    sql,
                    NewConflict {
                        kind: "email_taken",
                        till_id: None,
                        event: None,
                        customer_id: Some(&customer.id),
                        receipt_id: None,
                        happened: crate::http::sentence::Sentence::new(
                            "conflict_email_taken_signup",
                            format!(
                                "the sign-up form gave customer {} an email customer {other} already uses",
                                customer.id
                            ),
                        )
                        .with("customer", &customer.id)
                        .with("other", &other),
                        done: crate::http::sentence::Sentence::new(
                            "conflict_no_email",
                            "the customer was created without the email",
                        ),
                        details: serde_json::json!({ "source": "web" }),
                    },
                    at,
                )?;
            }
            log(sql, &customer.id, "created")?;
            publish(sql, &changes, at)?;
            Ok(SignupOutcome::Created { customer_id: customer.profile.id })
        })
        .await
    }
}
