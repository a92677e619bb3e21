//! The MoySklad adapter on the cloud's authoritative ledger: [`CloudBackend`] implements
//! [`LoyaltyBackend`] over [`Store`]. The access key is a store's key from
//! `POST /v1/admin/stores/{store}/moysklad-key`, looked up by its SHA-256; it opens that store's
//! [`MoyskladScope`], whose till row the store's sales and returns are booked on.

use std::sync::Arc;

use super::store::{CloudError, CustomerRecord, MoyskladScope, Store};
use crate::clock;
use crate::moysklad::service::{
    BackendError, CodePurpose, GiftCard, GiftCardPayment, IssuedCode, Link, Lookup, LoyaltyBackend, Member, NewCode,
    SaleRecord,
};
use crate::rules::Program;
use crate::wire::{CalculateRequest, Calculation, CommitRequest, EnrollRequest, ReturnRequest, ReturnResult};

/// The cloud as a MoySklad backend. Cheap to clone.
#[derive(Clone)]
pub struct CloudBackend {
    store: Store,
}

impl CloudBackend {
    pub fn new(store: Store) -> CloudBackend {
        CloudBackend { store }
    }
}

impl From<CloudError> for BackendError {
    fn from(e: CloudError) -> BackendError {
        match e {
            CloudError::NotFound(missing) => BackendError::NotFound { what: missing.to_string() },
            CloudError::Conflict { code, message } | CloudError::ConflictWith { code, message, .. } => {
                BackendError::Conflict { code, message }
            }
            CloudError::Invalid { code, message }
            | CloudError::InvalidWith { code, message, .. }
            | CloudError::Denied { code, message } => BackendError::Invalid { code, message },
            CloudError::Rules(rule) => BackendError::Rules(rule),
            CloudError::Db(e) => BackendError::Unavailable(e.to_string()),
            corrupt @ CloudError::Corrupt { .. } => BackendError::Unavailable(corrupt.to_string()),
        }
    }
}

fn member(customer: CustomerRecord) -> Member {
    let now = clock::now();
    let CustomerRecord { profile, external_id, wallet } = customer;
    Member {
        balance: wallet.balance(now),
        available: wallet.available(now),
        id: profile.id,
        ms_id: external_id,
        phone: profile.phone,
        name: profile.name,
        email: profile.email,
        card: profile.card,
        birthday: profile.birthday,
    }
}

impl LoyaltyBackend for CloudBackend {
    type Scope = MoyskladScope;

    async fn authenticate(&self, key: String) -> Result<Option<MoyskladScope>, BackendError> {
        Ok(self.store.moysklad_scope(key).await?)
    }

    async fn program(&self, _: MoyskladScope) -> Result<Arc<Program>, BackendError> {
        Ok(Arc::new(self.store.program().await?.program))
    }

    fn phone_region(&self) -> String {
        self.store.settings().default_region.clone()
    }

    async fn search(&self, _: MoyskladScope, query: String) -> Result<Vec<Member>, BackendError> {
        Ok(self.store.moysklad_search(query).await?.into_iter().map(member).collect())
    }

    async fn linked(&self, _: MoyskladScope, ms_id: String) -> Result<Option<Member>, BackendError> {
        Ok(self.store.moysklad_linked(ms_id).await?.map(member))
    }

    async fn find(&self, _: MoyskladScope, lookup: Lookup) -> Result<Option<Member>, BackendError> {
        Ok(self.store.moysklad_find(lookup).await?.map(member))
    }

    async fn link(&self, _: MoyskladScope, ms_id: String, member_id: String) -> Result<Link, BackendError> {
        Ok(self.store.moysklad_link(ms_id, member_id).await?)
    }

    async fn create(&self, _: MoyskladScope, ms_id: String, request: EnrollRequest) -> Result<Member, BackendError> {
        Ok(member(self.store.moysklad_create(ms_id, request).await?))
    }

    async fn quote(&self, _: MoyskladScope, request: CalculateRequest) -> Result<Calculation, BackendError> {
        Ok(self.store.moysklad_quote(request).await?)
    }

    async fn commit_sale(
        &self,
        scope: MoyskladScope,
        request: CommitRequest,
        gift_cards: Vec<GiftCardPayment>,
    ) -> Result<Calculation, BackendError> {
        Ok(self.store.moysklad_sale(scope.till_id, request, gift_cards).await?)
    }

    async fn sale(&self, scope: MoyskladScope, receipt_id: String) -> Result<Option<SaleRecord>, BackendError> {
        Ok(self.store.moysklad_sale_record(scope.till_id, receipt_id).await?)
    }

    async fn recent_sales(&self, scope: MoyskladScope, member_id: String) -> Result<Vec<SaleRecord>, BackendError> {
        Ok(self.store.moysklad_recent_sales(scope.till_id, member_id).await?)
    }

    async fn returned(&self, scope: MoyskladScope, return_id: String) -> Result<Option<String>, BackendError> {
        Ok(self.store.moysklad_returned(scope.till_id, return_id).await?)
    }

    async fn commit_return(
        &self,
        scope: MoyskladScope,
        receipt_id: String,
        request: ReturnRequest,
    ) -> Result<ReturnResult, BackendError> {
        Ok(self.store.moysklad_return(scope.till_id, receipt_id, request).await?)
    }

    async fn issue_code(&self, _: MoyskladScope, code: NewCode) -> Result<IssuedCode, BackendError> {
        Ok(self.store.moysklad_issue_code(code).await?)
    }

    async fn consume_code(
        &self,
        _: MoyskladScope,
        purpose: CodePurpose,
        subject: String,
        now: i64,
    ) -> Result<bool, BackendError> {
        Ok(self.store.moysklad_consume_code(purpose, subject, now).await?)
    }

    async fn gift_card(&self, _: MoyskladScope, name: String) -> Result<Option<GiftCard>, BackendError> {
        Ok(self.store.gift_card_by_number(name).await?)
    }
}
