//! The MoySklad adapter on the till's own ledger: [`AgentBackend`] implements
//! [`LoyaltyBackend`] over the agent's [`Store`](super::store::Store) and its application state.
//!
//! Everything goes through the same use cases as the native API: a sale is
//! `Store::commit_receipt` (so it lands in the outbox and syncs to the cloud), a return is
//! `Store::return_receipt`, quotes use the offline spending bounds of a connected till. The key
//! is the agent token or the `moysklad_key` of `config.toml`; both are compared in constant time.
//!
//! Gift cards: a standalone till keeps its own and takes a sale's payments in the sale's
//! transaction; a connected till asks the cloud online (lookup, and taking the payments before
//! the sale is recorded) and refuses rather than guess when the cloud cannot be reached.

use std::sync::Arc;

use super::state::AppState;
use super::state::Mode;
use super::store::{Booking, CustomerRecord, GiftCards, NewCustomer, Store, StoreError};
use super::sync::GiftCardError;
use crate::clock;
use crate::moysklad::service::{
    BackendError, CodePurpose, GiftCard, GiftCardPayment, IssuedCode, Link, Lookup, LoyaltyBackend, Member, NewCode,
    SaleRecord,
};
use crate::rules::Program;
use crate::wire::{CalculateRequest, Calculation, CommitRequest, EnrollRequest, ReturnRequest, ReturnResult};

/// The agent as a MoySklad backend. Cheap to clone.
#[derive(Clone)]
pub struct AgentBackend {
    state: AppState,
}

impl AgentBackend {
    pub fn new(state: AppState) -> AgentBackend {
        AgentBackend { state }
    }

    fn store(&self) -> Result<&Store, BackendError> {
        self.state.store().map_err(|e| BackendError::Unavailable(e.message))
    }
}

impl From<StoreError> for BackendError {
    fn from(e: StoreError) -> BackendError {
        match e {
            StoreError::NotFound(missing) => BackendError::NotFound { what: missing.to_string() },
            StoreError::Conflict { code, message } | StoreError::ConflictWith { code, message, .. } => {
                BackendError::Conflict { code, message }
            }
            StoreError::Invalid { code, message }
            | StoreError::InvalidWith { code, message, .. }
            | StoreError::TooSoon { code, message, .. } => BackendError::Invalid { code, message },
            StoreError::Rules(rule) => BackendError::Rules(rule),
            other @ (StoreError::Unavailable(_)
            | StoreError::CannotOpen { .. }
            | StoreError::Corrupt { .. }
            | StoreError::TaskFailed) => BackendError::Unavailable(other.to_string()),
        }
    }
}

fn member((customer, ms_id): (CustomerRecord, Option<String>)) -> Member {
    let points = customer.points(clock::now());
    let profile = customer.profile;
    Member {
        id: profile.id,
        ms_id,
        phone: profile.phone,
        name: profile.name,
        email: profile.email,
        card: profile.card,
        birthday: profile.birthday,
        balance: points.balance,
        available: points.available,
    }
}

impl LoyaltyBackend for AgentBackend {
    /// One till, one ledger: the key opens everything or nothing.
    type Scope = ();

    async fn authenticate(&self, key: String) -> Result<Option<()>, BackendError> {
        let by_config = self.state.moysklad_key.as_ref().is_some_and(|k| k.matches(&key));
        Ok((self.state.token.matches(&key) || by_config).then_some(()))
    }

    async fn program(&self, _: ()) -> Result<Arc<Program>, BackendError> {
        Ok(self.state.program())
    }

    fn phone_region(&self) -> String {
        match self.store() {
            Ok(store) => store.settings().default_region.clone(),
            Err(_) => "RU".to_owned(),
        }
    }

    async fn search(&self, _: (), query: String) -> Result<Vec<Member>, BackendError> {
        Ok(self.store()?.moysklad_search(query).await?.into_iter().map(member).collect())
    }

    async fn linked(&self, _: (), ms_id: String) -> Result<Option<Member>, BackendError> {
        Ok(self.store()?.moysklad_linked(ms_id).await?.map(member))
    }

    async fn find(&self, _: (), lookup: Lookup) -> Result<Option<Member>, BackendError> {
        Ok(self.store()?.moysklad_find(lookup).await?.map(member))
    }

    async fn link(&self, _: (), ms_id: String, member_id: String) -> Result<Link, BackendError> {
        let link = self.store()?.moysklad_link(ms_id, member_id, clock::now()).await?;
        if link == Link::Linked {
            // The link is an outbox event for the cloud.
            self.state.outbox_changed();
        }
        Ok(link)
    }

    async fn create(&self, _: (), ms_id: String, request: EnrollRequest) -> Result<Member, BackendError> {
        let new = NewCustomer {
            phone: request.phone,
            name: request.name,
            email: request.email,
            card: request.card,
            birthday: request.birthday,
            tags: request.tags,
            consents: request.consents,
            source: "moysklad",
        };
        let created = self.store()?.moysklad_enroll(ms_id, new, self.state.program(), clock::now()).await?;
        self.state.outbox_changed();
        Ok(member(created))
    }

    async fn quote(&self, _: (), request: CalculateRequest) -> Result<Calculation, BackendError> {
        // MoySklad confirms spending with its own codes (`/retaildemand/verify`).
        Ok(self.store()?.quote(request, self.state.program(), self.state.offline(), clock::now()).await?)
    }

    async fn commit_sale(
        &self,
        _: (),
        request: CommitRequest,
        gift_cards: Vec<GiftCardPayment>,
    ) -> Result<Calculation, BackendError> {
        let hash = crate::wire::RequestHash::of(&request);
        let store = self.store()?;
        let payments = crate::gift_cards::merge_payments(&gift_cards)
            .map_err(|r| BackendError::Invalid { code: r.code, message: r.message })?;
        let gift_cards = if payments.is_empty() {
            GiftCards::None
        } else if self.state.mode == Mode::Connected {
            self.settle_online(store, &request, payments).await?
        } else {
            GiftCards::Take(payments)
        };
        // MoySklad closed the sale before reporting it: points spent meanwhile become debt
        // (flagged on the receipt), as in the cloud; refusing would only lose the record.
        let booking = Booking { overdraft: true, gift_cards };
        let answer =
            store.commit_sale(request, hash, self.state.program(), self.state.offline(), clock::now(), booking).await?;
        self.state.outbox_changed();
        Ok(answer)
    }

    async fn sale(&self, _: (), receipt_id: String) -> Result<Option<SaleRecord>, BackendError> {
        Ok(self.store()?.moysklad_sale(receipt_id).await?)
    }

    async fn recent_sales(&self, _: (), member_id: String) -> Result<Vec<SaleRecord>, BackendError> {
        Ok(self.store()?.moysklad_recent_sales(member_id).await?)
    }

    async fn returned(&self, _: (), return_id: String) -> Result<Option<String>, BackendError> {
        Ok(self.store()?.moysklad_returned(return_id).await?)
    }

    async fn commit_return(
        &self,
        _: (),
        receipt_id: String,
        request: ReturnRequest,
    ) -> Result<ReturnResult, BackendError> {
        let hash = crate::wire::RequestHash::of(&request);
        let answer =
            self.store()?.return_receipt(receipt_id, request, hash, self.state.program(), clock::now()).await?;
        self.state.outbox_changed();
        Ok(answer)
    }

    async fn issue_code(&self, _: (), code: NewCode) -> Result<IssuedCode, BackendError> {
        Ok(self.store()?.moysklad_issue_code(code).await?)
    }

    async fn consume_code(&self, _: (), purpose: CodePurpose, subject: String, now: i64) -> Result<bool, BackendError> {
        Ok(self.store()?.moysklad_consume_code(purpose, subject, now).await?)
    }

    /// Standalone, the till's own cards. Connected, the cloud's, asked online: a card the cloud
    /// cannot be asked about looks up as unknown (`INVALID`), never as spendable from a stale
    /// copy, so it cannot be spent twice while the till is offline.
    async fn gift_card(&self, _: (), name: String) -> Result<Option<GiftCard>, BackendError> {
        if self.state.mode == Mode::Standalone {
            return Ok(self.store()?.gift_card_by_number(name).await?);
        }
        let Some(sync) = &self.state.sync else {
            tracing::warn!(
                "gift card looked up as INVALID: this connected till has no sync client (local storage failed)"
            );
            return Ok(None);
        };
        match sync.client().gift_card(&name).await {
            Ok(card) => Ok(card.map(card_of_view)),
            Err(e) => {
                tracing::warn!(error = %e, "gift card looked up as INVALID: the cloud, which keeps the gift cards, cannot be asked");
                Ok(None)
            }
        }
    }
}

impl AgentBackend {
    /// A connected till's sale paid with gift cards: the cloud takes the payments online first
    /// (idempotent by the receipt id), and only then is the sale recorded here. Offline, the sale
    /// is refused: a card's balance lives in the cloud alone, so a till that took it offline
    /// could let another till spend the same money.
    async fn settle_online(
        &self,
        store: &Store,
        request: &CommitRequest,
        payments: Vec<crate::gift_cards::Payment>,
    ) -> Result<GiftCards, BackendError> {
        let receipt_id = request.id.as_str();
        if store.receipt_exists(receipt_id.to_owned()).await? {
            // Sent again: the commit answers the stored sale after comparing its payments.
            return Ok(GiftCards::Settled(payments.into_iter().map(|p| (p, String::new())).collect()));
        }
        // A sale the rules would refuse must not take money from a card first.
        store
            .check_booked_sale(request.calculation(), self.state.program(), self.state.offline(), clock::now())
            .await?;
        let Some(sync) = &self.state.sync else {
            return Err(BackendError::Invalid {
                code: "gift_card_offline",
                message: "this connected till has no connection to the cloud (local storage failed)".into(),
            });
        };
        match sync.client().redeem_gift_cards(receipt_id, payments.clone()).await {
            Ok(redeemed) => {
                let settled = payments
                    .into_iter()
                    .map(|payment| {
                        let id = redeemed.cards.iter().find(|c| c.number == payment.number).map(|c| c.id.clone());
                        (payment, id.unwrap_or_default())
                    })
                    .collect();
                tracing::info!(receipt = %receipt_id, "gift card payments taken by the cloud");
                Ok(GiftCards::Settled(settled))
            }
            Err(GiftCardError::Refused { code: "receipt_conflict", message }) => {
                Err(BackendError::Conflict { code: "receipt_conflict", message })
            }
            Err(GiftCardError::Refused { code, message }) => Err(BackendError::Invalid { code, message }),
            Err(GiftCardError::Sync(e)) => {
                tracing::warn!(receipt = %receipt_id, error = %e, "MoySklad sale with gift cards refused: the cloud cannot be reached");
                Err(BackendError::Invalid { code: "gift_card_offline", message: e.to_string() })
            }
        }
    }
}

/// A card as the cloud showed it, in the shape the adapter judges. A time that cannot be read
/// counts as already past: a card must never look more usable than it is.
fn card_of_view(view: crate::wire::GiftCardView) -> GiftCard {
    let at = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .unwrap_or(0)
    };
    GiftCard {
        expires_at: view.expires_at.as_deref().map(at),
        voided_at: match view.voided_at.as_deref() {
            Some(text) => Some(at(text)),
            None => (view.status == "void").then_some(0),
        },
        created_at: at(&view.created_at),
        id: view.id,
        number: view.number,
        initial: view.initial,
        balance: view.balance,
    }
}
