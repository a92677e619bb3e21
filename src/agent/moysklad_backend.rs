//! The MoySklad adapter on the till's own ledger: [`AgentBackend`] implements
//! [`LoyaltyBackend`] over the agent's [`Store`](super::store::Store) and its application state.
//!
//! Everything goes through the same use cases as the native API: a sale is
//! `Store::commit_receipt` (so it lands in the outbox and syncs to the cloud), a return is
//! `Store::return_receipt`, quotes use the offline spending bounds of a connected till. The key
//! is the agent token or the `moysklad_key` of `config.toml`; both are compared in constant time.

use std::sync::Arc;

use super::api::AppState;
use super::clock;
use super::store::{Booking, CustomerRecord, NewCustomer, Store, StoreError};
use crate::moysklad::service::{
    BackendError, CodePurpose, GiftCard, IssuedCode, Link, Lookup, LoyaltyBackend, Member, NewCode, SaleRecord,
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
            StoreError::NotFound { what } => BackendError::NotFound { what },
            StoreError::Conflict { code, message } => BackendError::Conflict { code, message },
            StoreError::Invalid { code, message } => BackendError::Invalid { code, message },
            StoreError::Rules(rule) => BackendError::Rules(rule),
            other @ (StoreError::Unavailable(_) | StoreError::CannotOpen { .. } | StoreError::TaskFailed) => {
                BackendError::Unavailable(other.to_string())
            }
        }
    }
}

fn member((customer, ms_id): (CustomerRecord, Option<String>)) -> Member {
    let points = customer.points(clock::now());
    Member {
        id: customer.id,
        ms_id,
        phone: customer.phone,
        name: customer.name,
        email: customer.email,
        card: customer.card,
        birthday: customer.birthday,
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
        Ok(self.store()?.calculate(request, self.state.program(), self.state.offline(), clock::now()).await?)
    }

    async fn commit_sale(&self, _: (), request: CommitRequest) -> Result<Calculation, BackendError> {
        let hash = crate::http::common::request_hash(&request);
        let store = self.store()?;
        // MoySklad closed the sale before reporting it: points spent meanwhile become debt
        // (flagged on the receipt), as in the cloud; refusing would only lose the record.
        let booking = Booking { overdraft: true };
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
        let hash = crate::http::common::request_hash(&request);
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

    /// The program issues no gift cards.
    async fn gift_card(&self, _: (), _name: String) -> Result<Option<GiftCard>, BackendError> {
        Ok(None)
    }
}
