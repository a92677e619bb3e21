//! [`LoyaltyBackend`]: what the adapter needs from a ledger. The protocol's flows (customer
//! resolution, recalc, sale, return, codes) are written once in this module's siblings against
//! this trait; `agent::moysklad_backend` implements it over the till's SQLite store and
//! `cloud::moysklad_backend` over the cloud's authoritative ledger.
//!
//! The trait speaks our own types: customers are [`Member`]s with our ids, receipts are the
//! native API's `CalculateRequest` / `CommitRequest` / `ReturnRequest`, so each backend hands
//! them to the use cases it already has. MoySklad's ids appear only as the link (`ms_id`).

use std::future::Future;
use std::sync::Arc;

use crate::rules::{Program, RulesError};
use crate::wire::{CalculateRequest, Calculation, CommitRequest, EnrollRequest, ReturnRequest, ReturnResult};

/// Why a backend operation failed; `MsError::from` turns it into the protocol's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("{what} not found")]
    NotFound { what: String },
    /// A uniqueness or idempotency conflict (`phone_taken`, `card_taken`, `receipt_conflict`,
    /// `link_taken`, …).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Input that parsed but makes no sense to this ledger (`invalid_phone`, `offline_limit`, …).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error(transparent)]
    Rules(RulesError),
    /// Storage failed; nothing was stored.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// A customer as the adapter sees one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Ours: a UUID.
    pub id: String,
    /// MoySklad's counterparty id, when linked.
    pub ms_id: Option<String>,
    /// E.164.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub card: String,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    /// All points held (negative = debt).
    pub balance: i64,
    /// What can be spent now.
    pub available: i64,
}

/// A way to find a customer besides the link; the backend normalises the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Card(String),
    Phone(String),
}

/// What linking a MoySklad id to a customer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Linked now.
    Linked,
    /// Already linked to this id.
    Already,
    /// The customer is linked to another MoySklad id, or the id to another customer: left as is.
    Elsewhere,
}

/// What a verification code confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// A new customer's phone (`/counterparty/verify`); the subject is the E.164 phone.
    Registration,
    /// Spending points (`/retaildemand/verify`); the subject is our customer id.
    Spending,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Registration => "registration",
            CodePurpose::Spending => "spending",
        }
    }
}

/// A code to store, unless a recent one may be answered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    pub purpose: CodePurpose,
    pub subject: String,
    /// The fresh code to use if none is reused.
    pub code: String,
    pub now: i64,
    /// The code is valid until `now + ttl_seconds`.
    pub ttl_seconds: i64,
    /// A code issued less than this long ago is answered again instead of a new one.
    pub repeat_seconds: i64,
}

/// The code to answer, and whether it is new (and so must be sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    pub code: String,
    pub fresh: bool,
    /// Seconds until the till may ask again.
    pub repeat_in: i64,
}

/// A committed MoySklad sale, as a return needs it: per line its SKU and what is left to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRecord {
    pub receipt_id: String,
    pub customer_id: Option<String>,
    /// `(sku, quantity in thousandths not yet returned)`, in line order.
    pub lines: Vec<(String, i64)>,
}

/// A gift card of this program (`crate::gift_cards`: kopecks, states, payments).
pub use crate::gift_cards::{Card as GiftCard, Payment as GiftCardPayment};

/// The ledger operations the MoySklad adapter runs. `Scope` is what the access key unlocked:
/// nothing on the agent (one till, one ledger), the store and its MoySklad till in the cloud.
///
/// Every method is one use case of the backend's store, so each is one transaction there.
pub trait LoyaltyBackend: Clone + Send + Sync + 'static {
    type Scope: Clone + Send + Sync + 'static;

    /// The scope a key opens, or `None` for a wrong key. Compared in constant time or by hash.
    fn authenticate(&self, key: String) -> impl Future<Output = Result<Option<Self::Scope>, BackendError>> + Send;

    /// The program in force (its verification settings and the rules that price receipts).
    fn program(&self, scope: Self::Scope) -> impl Future<Output = Result<Arc<Program>, BackendError>> + Send;

    /// The region phone numbers without a country code belong to (`RU`).
    fn phone_region(&self) -> String;

    /// Customers matching what a cashier typed or scanned: phone, card, QR text, email.
    fn search(
        &self,
        scope: Self::Scope,
        query: String,
    ) -> impl Future<Output = Result<Vec<Member>, BackendError>> + Send;

    /// The customer linked to a MoySklad counterparty id.
    fn linked(
        &self,
        scope: Self::Scope,
        ms_id: String,
    ) -> impl Future<Output = Result<Option<Member>, BackendError>> + Send;

    /// The customer with exactly this card or phone.
    fn find(
        &self,
        scope: Self::Scope,
        lookup: Lookup,
    ) -> impl Future<Output = Result<Option<Member>, BackendError>> + Send;

    /// Links a MoySklad id to a customer that has no link yet.
    fn link(
        &self,
        scope: Self::Scope,
        ms_id: String,
        member_id: String,
    ) -> impl Future<Output = Result<Link, BackendError>> + Send;

    /// Enrolls a customer (card assigned when none is given, welcome points) linked to `ms_id`,
    /// in one transaction. Errors: `phone_taken`, `card_taken`, `email_taken`, `link_taken`.
    fn create(
        &self,
        scope: Self::Scope,
        ms_id: String,
        request: EnrollRequest,
    ) -> impl Future<Output = Result<Member, BackendError>> + Send;

    /// Prices a receipt; changes nothing.
    fn quote(
        &self,
        scope: Self::Scope,
        request: CalculateRequest,
    ) -> impl Future<Output = Result<Calculation, BackendError>> + Send;

    /// Commits a sale that already happened, idempotent by `request.id` (the same request and
    /// payments again answer the stored result; others under the same id are
    /// `receipt_conflict`). Points beyond what the customer holds are booked as debt
    /// (`rules::calculate_booked`). `gift_cards` are taken from their cards with the sale, all
    /// or nothing: a card that cannot pay refuses the sale with a `gift_card_*` code.
    fn commit_sale(
        &self,
        scope: Self::Scope,
        request: CommitRequest,
        gift_cards: Vec<GiftCardPayment>,
    ) -> impl Future<Output = Result<Calculation, BackendError>> + Send;

    /// A sale committed through MoySklad, by our receipt id.
    fn sale(
        &self,
        scope: Self::Scope,
        receipt_id: String,
    ) -> impl Future<Output = Result<Option<SaleRecord>, BackendError>> + Send;

    /// A customer's recent MoySklad sales, newest first (for returns that name no sale).
    fn recent_sales(
        &self,
        scope: Self::Scope,
        member_id: String,
    ) -> impl Future<Output = Result<Vec<SaleRecord>, BackendError>> + Send;

    /// The sale a return with this id was booked against, if it was.
    fn returned(
        &self,
        scope: Self::Scope,
        return_id: String,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send;

    /// Returns lines of a committed sale, idempotent by `request.id`.
    fn commit_return(
        &self,
        scope: Self::Scope,
        receipt_id: String,
        request: ReturnRequest,
    ) -> impl Future<Output = Result<ReturnResult, BackendError>> + Send;

    /// Stores a verification code, or answers the recent one again (see [`NewCode`]).
    fn issue_code(
        &self,
        scope: Self::Scope,
        code: NewCode,
    ) -> impl Future<Output = Result<IssuedCode, BackendError>> + Send;

    /// Uses up the newest unexpired, unused code for `subject`; whether there was one.
    fn consume_code(
        &self,
        scope: Self::Scope,
        purpose: CodePurpose,
        subject: String,
        now: i64,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;

    /// A gift card by its number (`None`: unknown here, or, on a connected agent, the cloud
    /// could not be asked — the lookup then answers `INVALID`).
    fn gift_card(
        &self,
        scope: Self::Scope,
        name: String,
    ) -> impl Future<Output = Result<Option<GiftCard>, BackendError>> + Send;
}
