//! Customers enrolled or edited at a till.
//!
//! Enrolment collisions, decided here:
//! - the phone already belongs to another customer: a phone is a person, so it is the same
//!   person enrolled twice. The till's customer id becomes an alias of the existing customer
//!   (later events naming it apply to the existing one), the existing customer keeps its data
//!   and gains what it lacked (name, email, birthday), no second welcome bonus is given, a
//!   `customer_merged` conflict says so, and the feed carries a `customer_merged` change so
//!   tills re-point their copy of the till's id;
//! - only the card is taken: card numbers assigned offline by two tills can collide, but the
//!   people differ. The newcomer is created with a fresh card from the cloud (tills receive it
//!   in the next pull) and a `card_reassigned` conflict says so;
//! - only the email is taken: the newcomer is created without it (`email_taken` conflict).
//!
//! A new customer's `referral_code` (a friend's) is recorded as a referral (`lifecycle.rs`); a
//! code no customer has is logged and ignored, and a phone already known is nobody's friend.
//!
//! Edits merge last-writer-wins per field in the cloud's receive order; consents compare
//! their own timestamps (a till's never later than when the cloud received it), and an
//! opt-out beats an opt-in that is not newer — the same rule for the back office's edits.

use super::admin::{current_program, record_conflict, NewConflict};
use super::apply::{refuse, Applied, Context};
use super::consents::{self, ConsentOrigin};
use super::customers::{
    self, clean_birthday, clean_email, clean_name, clean_tags, holder, load_resolved, CleanCustomer,
};
use super::{lifecycle, Changes, FeedKind};
use crate::cloud::db::Sql;
use crate::cloud::ledger;
use crate::http::sentence::Sentence;
use crate::vals;
use crate::wire::{Consent, Consents, CustomerEvent};

fn invalid(e: super::CloudError) -> Applied {
    match e {
        super::CloudError::Invalid { code, message } => refuse(code, message),
        other => Applied::Failed(other),
    }
}

fn conflict(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    kind: &'static str,
    customer_id: &str,
    happened: Sentence,
    done: Sentence,
) -> Result<(), Applied> {
    record_conflict(
        sql,
        NewConflict {
            kind,
            till_id: Some(cx.till_id),
            event: Some(cx.event),
            customer_id: Some(customer_id),
            receipt_id: None,
            happened,
            done,
            details: serde_json::json!({}),
        },
        cx.at,
    )?;
    Ok(())
}

pub(super) fn created(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    event: CustomerEvent,
    changes: &mut Changes,
) -> Result<(), Applied> {
    if event.customer_id.is_empty() || event.customer_id.len() > 128 {
        return Err(refuse("invalid_payload", "customer_id must be 1 to 128 characters"));
    }
    if load_resolved(sql, &event.customer_id, false)?.is_some() {
        // Already known (the same customer sent again under a new event id): an edit of all fields.
        let mut all = event;
        all.fields = ["phone", "name", "email", "birthday", "tags", "consents"].map(str::to_owned).to_vec();
        if all.external_id.is_some() {
            all.fields.push("external_id".to_owned());
        }
        return updated(sql, cx, all, changes);
    }
    let phone = customers::normalize_phone(&event.phone, cx.settings).map_err(invalid)?;
    let card = customers::normalize_card(&event.card).map_err(invalid)?;
    let origin = till_origin(sql, cx)?;
    let mut clean = CleanCustomer {
        id: event.customer_id.clone(),
        phone,
        name: clean_name(event.name.clone()).map_err(invalid)?,
        email: clean_email(event.email.clone()).map_err(invalid)?,
        card: Some(card),
        birthday: clean_birthday(event.birthday.clone()).map_err(invalid)?,
        tags: clean_tags(event.tags.clone()).map_err(invalid)?,
        consents: received_consents(&event.consents, cx.at),
        source: "till",
        store: origin.store.clone(),
    };

    if let Some(existing_id) = holder(sql, "phone", &clean.phone, None)? {
        let mut existing = load_resolved(sql, &existing_id, true)?
            .ok_or_else(|| refuse("unknown_customer", "the phone's holder vanished"))?;
        if event.referral_code.is_some() {
            // Not a new customer, so nobody's friend: their own code, or anyone's, gives nothing.
            tracing::info!(customer = %existing.id, till = %cx.till_id, "a friend's code came with a phone the cloud already knows; no referral");
        }
        sql.execute(
            "INSERT INTO customer_aliases (alias_id, customer_id) VALUES ($1, $2)",
            vals![&clean.id, &existing.id],
        )?;
        let mut gained = Vec::new();
        if existing.name.is_none() && clean.name.is_some() {
            existing.name = clean.name.clone();
            gained.push("name");
        }
        if existing.email.is_none() {
            if let Some(email) = &clean.email {
                if holder(sql, "email", email, None)?.is_none() {
                    existing.email = Some(email.clone());
                    gained.push("email");
                }
            }
        }
        if existing.birthday.is_none() && clean.birthday.is_some() {
            existing.birthday = clean.birthday.clone();
            gained.push("birthday");
        }
        let merged = merge_consents(existing.consents.clone(), &clean.consents);
        consents::record(sql, &existing.id, &existing.consents, &merged, &origin, cx.at, changes)?;
        existing.consents = merged;
        existing.updated_at = cx.at;
        customers::save_personal(sql, &existing)?;
        if let Some(ms_id) = &event.external_id {
            take_link(sql, cx, &existing.id, existing.external_id.as_deref(), ms_id)?;
        }
        conflict(
            sql,
            cx,
            "customer_merged",
            &existing.id,
            Sentence::new(
                "conflict_customer_merged",
                format!(
                    "the till enrolled customer {} with phone {} which already belongs to customer {}",
                    clean.id,
                    crate::identity::mask_phone(&clean.phone),
                    existing.id
                ),
            )
            .with("customer", &clean.id)
            .with("phone", crate::identity::mask_phone(&clean.phone))
            .with("existing", &existing.id),
            {
                let said = Sentence::new(
                    "conflict_customer_merged_done",
                    format!(
                        "treated as the same person: {} is now an alias of {} (later receipts go to {}); no second welcome bonus{}",
                        clean.id,
                        existing.id,
                        existing.id,
                        if gained.is_empty() { String::new() } else { format!("; filled in {}", gained.join(", ")) }
                    ),
                )
                .with("customer", &clean.id)
                .with("existing", &existing.id);
                if gained.is_empty() {
                    said.with("nothing_filled", "")
                } else {
                    said.with("filled", gained.join(", "))
                }
            },
        )?;
        ledger::note_till_seq(sql, &existing.id, cx.till_id, cx.event.seq)?;
        changes.customer(&existing.id);
        // After the survivor's own rows, so a till has `into` before it re-points `from`.
        changes.add(FeedKind::Merge, &clean.id);
        return Ok(());
    }

    let mut notes = Vec::new();
    if let Some(card) = &clean.card {
        if let Some(other) = holder(sql, "card", card, None)? {
            notes.push((
                "card_reassigned",
                Sentence::new(
                    "conflict_card_reassigned",
                    format!(
                        "the till enrolled customer {} with card {card}, which customer {other} already holds",
                        clean.id
                    ),
                )
                .with("customer", &clean.id)
                .with("card", card)
                .with("other", &other),
                Sentence::new(
                    "conflict_card_reassigned_done",
                    "the customer was created with a new card number from the cloud; tills receive it with the customer",
                ),
            ));
            clean.card = None;
        }
    }
    if let Some(email) = &clean.email {
        if let Some(other) = holder(sql, "email", email, None)? {
            notes.push((
                "email_taken",
                Sentence::new(
                    "conflict_email_taken_enroll",
                    format!("the till enrolled customer {} with an email customer {other} already uses", clean.id),
                )
                .with("customer", &clean.id)
                .with("other", &other),
                Sentence::new("conflict_no_email", "the customer was created without the email"),
            ));
            clean.email = None;
        }
    }
    let program = current_program(sql)?;
    let customer = customers::insert(sql, cx.settings, clean, &program, cx.at, changes, &origin)?;
    if let Some(ms_id) = &event.external_id {
        take_link(sql, cx, &customer.id, None, ms_id)?;
    }
    if let Some(code) = &event.referral_code {
        let origin = lifecycle::Origin { source: "till", till_id: Some(cx.till_id) };
        if lifecycle::referred(sql, &customer, code, origin, cx.at)? == lifecycle::Referred::UnknownCode {
            // The customer is enrolled all the same: the till could not check the code offline.
            tracing::warn!(customer = %customer.id, till = %cx.till_id, "a till enrolled a customer with a friend's code no customer has; no referral");
        }
    }
    for (kind, happened, done) in notes {
        conflict(sql, cx, kind, &customer.id, happened, done)?;
    }
    ledger::note_till_seq(sql, &customer.id, cx.till_id, cx.event.seq)?;
    Ok(())
}

pub(super) fn updated(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    event: CustomerEvent,
    changes: &mut Changes,
) -> Result<(), Applied> {
    let id = &event.customer_id;
    let mut customer = load_resolved(sql, id, true)?
        .ok_or_else(|| refuse("unknown_customer", format!("customer {id} is not known to the cloud")))?;
    let before = customer.clone();
    for field in &event.fields {
        match field.as_str() {
            "phone" => {
                let phone = customers::normalize_phone(&event.phone, cx.settings).map_err(invalid)?;
                match holder(sql, "phone", &phone, Some(&customer.id))? {
                    Some(other) => conflict(
                        sql,
                        cx,
                        "phone_taken",
                        &customer.id,
                        Sentence::new(
                            "conflict_phone_taken_update",
                            format!("the till changed customer {}'s phone to one customer {other} holds", customer.id),
                        )
                        .with("customer", &customer.id)
                        .with("other", &other),
                        Sentence::new("conflict_phone_kept", "the phone was left unchanged; other fields were applied"),
                    )?,
                    None => customer.phone = phone,
                }
            }
            "email" => {
                let email = clean_email(event.email.clone()).map_err(invalid)?;
                let taken = match &email {
                    Some(email) => holder(sql, "email", email, Some(&customer.id))?,
                    None => None,
                };
                match taken {
                    Some(other) => conflict(
                        sql,
                        cx,
                        "email_taken",
                        &customer.id,
                        Sentence::new(
                            "conflict_email_taken_update",
                            format!("the till changed customer {}'s email to one customer {other} uses", customer.id),
                        )
                        .with("customer", &customer.id)
                        .with("other", &other),
                        Sentence::new("conflict_email_kept", "the email was left unchanged; other fields were applied"),
                    )?,
                    None => customer.email = email,
                }
            }
            "name" => customer.name = clean_name(event.name.clone()).map_err(invalid)?,
            "birthday" => customer.birthday = clean_birthday(event.birthday.clone()).map_err(invalid)?,
            "tags" => customer.tags = clean_tags(event.tags.clone()).map_err(invalid)?,
            "consents" => {
                // Only what takes effect is history: a consent older than the one held changes nothing.
                let merged = merge_consents(customer.consents.clone(), &received_consents(&event.consents, cx.at));
                if merged != customer.consents {
                    let origin = till_origin(sql, cx)?;
                    consents::record(sql, &customer.id, &customer.consents, &merged, &origin, cx.at, changes)?;
                }
                customer.consents = merged;
            }
            "external_id" => {
                if let Some(ms_id) = &event.external_id {
                    if take_link(sql, cx, &customer.id, customer.external_id.as_deref(), ms_id)? {
                        customer.external_id = Some(ms_id.trim().to_owned());
                    }
                }
            }
            // A field this cloud does not know (a newer agent) is ignored, not refused.
            _ => {}
        }
    }
    customer.updated_at = cx.at;
    customers::save_personal(sql, &customer)?;
    customers::customer_updated(changes, &before, &customer, "till", Some(cx.till_id));
    ledger::note_till_seq(sql, &customer.id, cx.till_id, cx.event.seq)?;
    changes.add(FeedKind::Customer, &customer.id);
    changes.add(FeedKind::Balance, &customer.id);
    Ok(())
}

/// A MoySklad link a till made (`external_id`, MoySklad's counterparty id). The cloud takes it
/// when the customer has no link and no one else holds the id; otherwise the cloud's link stays
/// (the feed sends it back to the till, which then knows the customer by both ids) and a
/// `moysklad_link` conflict says so. Whether the link was taken.
fn take_link(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    customer_id: &str,
    current: Option<&str>,
    ms_id: &str,
) -> Result<bool, Applied> {
    let ms_id = ms_id.trim();
    if ms_id.is_empty() || ms_id.len() > 128 || ms_id.chars().any(char::is_control) {
        // Not worth refusing the customer over: the link is dropped, the rest applies.
        tracing::warn!(customer = %customer_id, "a till sent an unusable MoySklad id; the link was not taken");
        return Ok(false);
    }
    if current == Some(ms_id) {
        return Ok(false);
    }
    let other = holder(sql, "external_id", ms_id, Some(customer_id))?;
    if current.is_none() && other.is_none() {
        sql.execute("UPDATE customers SET external_id = $1 WHERE id = $2", vals![ms_id, customer_id])?;
        return Ok(true);
    }
    let happened = match (current, &other) {
        (Some(ours), _) => Sentence::new(
            "conflict_moysklad_link",
            format!(
                "the till linked customer {customer_id} to MoySklad counterparty {ms_id}, but the cloud links them to {ours}"
            ),
        )
        .with("ours", ours),
        (None, other) => {
            let said = Sentence::new(
                "conflict_moysklad_link",
                format!(
                    "the till linked customer {customer_id} to MoySklad counterparty {ms_id}, which the cloud links to customer {}",
                    other.as_deref().unwrap_or("another customer")
                ),
            );
            match other {
                Some(other) => said.with("other", other),
                None => said,
            }
        }
    }
    .with("customer", customer_id)
    .with("ms_id", ms_id);
    record_conflict(
        sql,
        NewConflict {
            kind: "moysklad_link",
            till_id: Some(cx.till_id),
            event: Some(cx.event),
            customer_id: Some(customer_id),
            receipt_id: None,
            happened,
            done: Sentence::new(
                "conflict_moysklad_link_done",
                "the cloud kept its own link; MoySklad calls naming the till's id reach the customer only on that till",
            ),
            details: serde_json::json!({ "till_link": ms_id, "cloud_link": current, "linked_customer": other }),
        },
        cx.at,
    )?;
    Ok(false)
}

/// A till's changes as the consents' history records them: the till and its store.
fn till_origin(sql: &mut dyn Sql, cx: &Context<'_>) -> Result<ConsentOrigin, Applied> {
    let store = sql
        .query_opt("SELECT store FROM tills WHERE id = $1", vals![cx.till_id])?
        .map(|row| row.text(0))
        .transpose()?;
    Ok(ConsentOrigin { till_id: Some(cx.till_id.to_owned()), store, ..ConsentOrigin::new("till") })
}

/// A till's consents as the cloud keeps them: a time in the future (a till whose clock runs
/// ahead) or one that cannot be read becomes the time the cloud received it. Otherwise a
/// skewed till's opt-in could outrank every later opt-out made in the back office.
pub(crate) fn received_consents(consents: &Consents, received_at: i64) -> Consents {
    let clamp = |consent: &Option<Consent>| {
        consent.clone().map(|mut consent| {
            match unix_time(&consent.at) {
                Some(at) if at <= received_at => {}
                _ => consent.at = crate::clock::rfc3339(received_at),
            }
            consent
        })
    };
    Consents { sms: clamp(&consents.sms), email: clamp(&consents.email), personal_data: clamp(&consents.personal_data) }
}

fn unix_time(at: &str) -> Option<i64> {
    crate::clock::parse_rfc3339(at)
}

/// Per channel, the newer consent wins; at the same time (or when a time cannot be read) an
/// opt-out wins. So an opt-out always beats an older opt-in, and a customer who opts in again
/// later is subscribed again.
pub(crate) fn merge_consents(current: Consents, incoming: &Consents) -> Consents {
    Consents {
        sms: merge_one(current.sms, incoming.sms.as_ref()),
        email: merge_one(current.email, incoming.email.as_ref()),
        personal_data: merge_one(current.personal_data, incoming.personal_data.as_ref()),
    }
}

fn merge_one(current: Option<Consent>, incoming: Option<&Consent>) -> Option<Consent> {
    let Some(incoming) = incoming else { return current };
    let Some(current) = current else { return Some(incoming.clone()) };
    let newer = match (unix_time(&incoming.at), unix_time(&current.at)) {
        (Some(new), Some(old)) if new != old => new > old,
        // Same moment or unreadable: the opt-out wins.
        _ => !incoming.granted,
    };
    Some(if newer { incoming.clone() } else { current })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(granted: bool, at: &str) -> Option<Consent> {
        Some(Consent { granted, at: at.into(), source: "till".into() })
    }

    #[test]
    fn an_opt_out_beats_an_older_opt_in_and_loses_to_a_newer_one() {
        let merged = |current, incoming: Option<Consent>| merge_one(current, incoming.as_ref()).map(|c| c.granted);
        assert_eq!(merged(consent(true, "2026-01-01T10:00:00Z"), consent(false, "2026-01-02T10:00:00Z")), Some(false));
        assert_eq!(merged(consent(false, "2026-01-02T10:00:00Z"), consent(true, "2026-01-01T10:00:00Z")), Some(false));
        assert_eq!(merged(consent(false, "2026-01-01T10:00:00Z"), consent(true, "2026-01-02T10:00:00Z")), Some(true));
        assert_eq!(merged(consent(true, "2026-01-01T10:00:00Z"), consent(false, "2026-01-01T10:00:00Z")), Some(false));
        assert_eq!(merged(consent(false, "2026-01-01T10:00:00Z"), consent(true, "2026-01-01T10:00:00Z")), Some(false));
        assert_eq!(merged(None, consent(true, "x")), Some(true));
        assert_eq!(merged(consent(true, "x"), None), Some(true));
    }

    #[test]
    fn a_till_consent_from_the_future_is_dated_when_received() {
        let received = 1_767_225_600; // 2026-01-01T00:00:00Z
        let consents = Consents {
            sms: consent(true, "2099-01-01T00:00:00Z"),
            email: consent(false, "2025-12-31T10:00:00Z"),
            personal_data: None,
        };
        let kept = received_consents(&consents, received);
        assert_eq!(kept.sms.map(|c| (c.granted, c.at)), Some((true, "2026-01-01T00:00:00Z".to_owned())));
        assert_eq!(kept.email.map(|c| c.at), Some("2025-12-31T10:00:00Z".to_owned()), "a past time is kept");
        let garbled = Consents { sms: consent(false, "yesterday"), email: None, personal_data: None };
        assert_eq!(received_consents(&garbled, received).sms.map(|c| c.at), Some("2026-01-01T00:00:00Z".to_owned()));
    }
}
