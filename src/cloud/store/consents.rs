//! The history of customers' consents: a row of `consent_changes` for every change of a
//! channel's state (sms, email, personal_data) that took effect in the cloud, written in the
//! transaction of that change, and the page the back office's customer card lists.
//!
//! Every path that sets consents goes through [`record`] with the consents before and after:
//! a till's enrolment or edit (after the merge, so a consent the merge overruled leaves no
//! row), the sign-up form, the back office's creation and edit, MoySklad's creation. The CSV
//! import carries no consents and writes none. Re-confirming the state a channel already has
//! is not a change and leaves no row.

use serde::Serialize;

use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{Changes, CloudError, Store};
use crate::clock::rfc3339;
use crate::cloud::db::Sql;
use crate::vals;
use crate::wire::{Consent, ConsentChangedData, Consents, WebhookEventType};

/// Who changed a consent, as the history shows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsentOrigin {
    /// `till`, `web` (the sign-up form), `cloud` (the back office), `moysklad`.
    pub source: &'static str,
    /// The till that recorded it.
    pub till_id: Option<String>,
    /// That till's store, or the store of the sign-up link.
    pub store: Option<String>,
    /// The back-office user's email, or `admin-token`.
    pub who: Option<String>,
}

impl ConsentOrigin {
    pub(crate) fn new(source: &'static str) -> ConsentOrigin {
        ConsentOrigin { source, ..ConsentOrigin::default() }
    }
}

/// The channels, by the names the history stores.
fn channels(consents: &Consents) -> [(&'static str, Option<&Consent>); 3] {
    [
        ("sms", consents.sms.as_ref()),
        ("email", consents.email.as_ref()),
        ("personal_data", consents.personal_data.as_ref()),
    ]
}

/// The channels whose state differs between `before` and `after` (a consent given for the
/// first time, withdrawn, or given again), with their consent after.
fn changed<'a>(before: &Consents, after: &'a Consents) -> Vec<(&'static str, &'a Consent)> {
    channels(before)
        .into_iter()
        .zip(channels(after))
        .filter_map(|((channel, was), (_, now))| {
            let now = now?;
            was.is_none_or(|was| was.granted != now.granted).then_some((channel, now))
        })
        .collect()
}

/// Writes a row for each channel whose state differs between `before` and `after`, and tells
/// `consent_changed` subscribers ("unsubscribe both ways": an opt-out at a till reaches the
/// chain's mailing tool).
pub(crate) fn record(
    sql: &mut dyn Sql,
    customer_id: &str,
    before: &Consents,
    after: &Consents,
    origin: &ConsentOrigin,
    recorded_at: i64,
    changes: &mut Changes,
) -> Result<(), CloudError> {
    let was: std::collections::HashMap<&str, Option<bool>> =
        channels(before).into_iter().map(|(channel, consent)| (channel, consent.map(|c| c.granted))).collect();
    for (channel, now) in changed(before, after) {
        if changes.hears(WebhookEventType::ConsentChanged) {
            changes.webhook(
                WebhookEventType::ConsentChanged,
                ConsentChangedData {
                    customer_id: customer_id.to_owned(),
                    channel: channel.to_owned(),
                    old: was.get(channel).copied().flatten(),
                    new: now.granted,
                    source: origin.source.to_owned(),
                    till_id: origin.till_id.clone(),
                    store: origin.store.clone(),
                    at: now.at.clone(),
                },
            );
        }
        sql.write(
            "INSERT INTO consent_changes (customer_id, channel, granted, at, source, till_id, store, who, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vals![
                customer_id,
                channel,
                i64::from(now.granted),
                now.at.as_str(),
                origin.source,
                origin.till_id.as_deref(),
                origin.store.as_deref(),
                origin.who.as_deref(),
                recorded_at
            ],
        )?;
    }
    Ok(())
}

/// One change of a consent, as the customer card lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsentChange {
    /// `sms`, `email` or `personal_data`.
    pub channel: String,
    /// `true` given, `false` withdrawn.
    pub granted: bool,
    /// RFC 3339: when the customer gave or withdrew it (a till's time, never later than when
    /// the cloud received it). Empty for a consent recorded before the history existed without
    /// a time.
    pub at: String,
    /// `till`, `web`, `cloud`, `moysklad`; for consents the customer held when the history
    /// began, the source they were stamped with.
    pub source: String,
    pub till_id: Option<String>,
    /// The till's store, or the sign-up link's.
    pub store: Option<String>,
    /// The back-office user (an email, or `admin-token`) who made the change.
    pub who: Option<String>,
    /// RFC 3339: when the cloud recorded it.
    pub recorded_at: String,
}

impl Store {
    /// A page of a customer's consent history (already resolved through merges), newest first.
    pub async fn consent_history(&self, customer_id: String, page: Page) -> Result<Paged<ConsentChange>, CloudError> {
        self.read(move |sql| {
            let after = page.key("consents", &[KeyPart::Int])?;
            let mut query = PageQuery::new();
            query.filter("customer_id", customer_id.as_str()).after(&["id"], after, true);
            let clauses = query.clauses("id DESC", page.fetch());
            let rows = sql.query(
                &format!(
                    "SELECT id, channel, granted, at, source, till_id, store, who, recorded_at FROM consent_changes{clauses}"
                ),
                &query.params,
            )?;
            page.finish("consents", rows, |row| key_columns(row, &[0])).try_map(|row| {
                Ok(ConsentChange {
                    channel: row.text(1)?,
                    granted: row.int(2)? != 0,
                    at: row.text(3)?,
                    source: row.text(4)?,
                    till_id: row.opt_text(5)?,
                    store: row.opt_text(6)?,
                    who: row.opt_text(7)?,
                    recorded_at: rfc3339(row.int(8)?),
                })
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(granted: bool) -> Option<Consent> {
        Some(Consent { granted, at: "2026-01-01T00:00:00Z".into(), source: "till".into() })
    }

    fn names(before: &Consents, after: &Consents) -> Vec<&'static str> {
        changed(before, after).into_iter().map(|(channel, _)| channel).collect()
    }

    #[test]
    fn only_a_change_of_state_is_history() {
        let none = Consents::default();
        let sms = Consents { sms: consent(true), ..Consents::default() };
        assert_eq!(names(&none, &sms), vec!["sms"]);
        assert_eq!(names(&sms, &sms), Vec::<&str>::new());
        let withdrawn = Consents { sms: consent(false), email: consent(true), ..Consents::default() };
        assert_eq!(names(&sms, &withdrawn), vec!["sms", "email"]);
        // A channel the change leaves out keeps its state: no row.
        assert_eq!(names(&withdrawn, &none), Vec::<&str>::new());
    }
}
