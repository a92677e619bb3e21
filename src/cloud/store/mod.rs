//! The cloud's use cases, written once over [`db::Sql`](crate::cloud::db::Sql): each public
//! method of [`Store`] is one transaction on either backend. Handlers never see SQL.
//!
//! - `tills.rs`: tills, enrollment codes, device tokens.
//! - `customers.rs`: the customer directory and its rows.
//! - `consents.rs`: the history of every consent's changes, written with the change.
//! - `import.rs`: the bulk CSV import, many rows per statement.
//! - `export.rs`: the directory as CSV rows, a keyset page at a time.
//! - `push.rs`: applying a till's events in order, exactly once.
//! - `pull.rs`: the change feed.
//! - `signup.rs`: the public sign-up form (a new customer, or nothing for a known phone).
//! - `admin.rs`: receipts, programs and conflicts for the back office.
//! - `reports.rs`: the liability, daily and shift reports, the dashboard, and their rollups.
//! - `paging.rs`: the keyset pages every admin list answers (`limit`, `cursor`, `next_cursor`).
//! - `gift_cards.rs`: gift cards, and taking a sale's payments from them.
//! - `webhooks.rs`: subscriptions and the delivery outbox, written in the changing transaction.
//! - `lifecycle.rs`: referral codes, referrals and their rewards, the birthday job's grants.
//! - `moysklad.rs`, `moysklad_ledger.rs`: the MoySklad adapter's keys, links, codes, sales, returns.
//!
//! Invariant: every writing use case that changes something an agent mirrors ends with
//! [`publish`], which takes feed positions from the counter row as its last statement before
//! commit (see `pull.rs` for why that keeps pullers from missing changes).

mod admin;
mod apply;
mod campaigns;
mod consents;
mod customer_events;
mod customers;
mod expiry_notices;
mod export;
mod gift_cards;
mod import;
mod lifecycle;
mod moysklad;
mod moysklad_ledger;
mod paging;
mod pull;
mod push;
mod reports;
mod scope;
mod self_service;
mod signup;
mod sms;
mod spending_codes;
mod tills;
mod users;
mod wallet;
mod webhooks;

use std::sync::Arc;

use tokio::sync::Notify;

pub use admin::{AppliedReceipt, ConflictFilter, ConflictHandled, ConflictView, ProgramVersion};
pub use campaigns::{CampaignReport, CampaignStatus, CampaignUseView, CustomerCampaigns, StampCardView};
pub use consents::ConsentChange;
pub use customers::{CustomerActivity, CustomerInput, CustomerRecord, LedgerEntryView, LotView};
pub use expiry_notices::ExpiryRun;
pub use export::{ExportRow, EXPORT_HEADER, EXPORT_PAGE};
pub use lifecycle::{BirthdayRun, ReferralView, ReferredFriend, ReferredFriends};
pub use moysklad::{MoyskladKey, MoyskladScope, MoyskladStore};
pub use paging::{Page, Paged, DEFAULT_PAGE, MAX_PAGE};
pub use pull::{DEFAULT_LIMIT, MAX_LIMIT, MAX_WAIT_SECONDS};
pub use push::MAX_BATCH;
pub use reports::{
    DailyRow, Dashboard, DashboardDay, DashboardPoints, DashboardTills, LiabilityAmounts, LiabilityReport,
    NewCustomers, ShiftReport,
};
pub use scope::StoreScope;
pub use self_service::{CodeCheck, Expiring, MeReceipt, CODE_SECONDS, MAX_CODE_ATTEMPTS, ME_SESSION_SECONDS};
pub use signup::SignupOutcome;
pub use sms::{ClaimedSms, SmsView};
pub use tills::{NewTill, TillView};
pub use users::{
    clean_email, clean_stores as users_clean_stores, AuditEntry, AuditRecord, Failure, LoginAccount, UserChange,
    UserView, FAILURES_BEFORE_LOCK, LOCK_SECONDS, SESSION_SECONDS,
};
pub use wallet::{
    ClaimedPatch, ClaimedPush, Delivery, OutboxCounts, Registration, WalletCard, WalletSummary, GOOGLE_NOTIFIED_PER_DAY,
};
pub use webhooks::{AttemptOutcome, ClaimedDelivery, RetryPolicy, MAX_WEBHOOKS};

use super::db::{AsDbError, Database, DbError, Mode, Sql, Value};
use crate::http::ErrorParams;
use crate::rules::{Program, RulesError};
use crate::vals;
use crate::wire::WebhookEventType;
use std::collections::{HashMap, HashSet};

/// Why a use case failed. Every variant maps to one HTTP answer in `cloud::api`.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0} not found")]
    NotFound(Missing),
    /// One stored record (`what`: "receipt 42 of till t1", …) holds JSON that cannot be read:
    /// a damaged row, not a failing database; only the requests needing it fail.
    #[error("{what} is stored in the cloud's database but cannot be read ({source})")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A uniqueness or idempotency conflict; `code` is stable (`phone_taken`, …).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Input that parsed but makes no sense (`invalid_phone`, `invalid_program`, …).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// A conflict whose sentence names values (the customer who holds a phone) that a
    /// translation must name too; `params` carries them (see `http::messages_ru`).
    #[error("{message}")]
    ConflictWith { code: &'static str, message: String, params: ErrorParams },
    /// Invalid input whose sentence names values (a field, a limit), with them in `params`.
    #[error("{message}")]
    InvalidWith { code: &'static str, message: String, params: ErrorParams },
    /// A credential that is wrong, used or expired (enrollment codes).
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    #[error(transparent)]
    Rules(#[from] RulesError),
}

impl AsDbError for CloudError {
    fn as_db_error(&self) -> Option<&DbError> {
        match self {
            CloudError::Db(e) => Some(e),
            _ => None,
        }
    }
}

/// JSON read back from a row that does not parse (`?` names it "a stored record").
impl From<serde_json::Error> for CloudError {
    fn from(e: serde_json::Error) -> Self {
        CloudError::Corrupt { what: "a stored record".to_owned(), source: e }
    }
}

/// What a lookup did not find. Each kind answers its own error code, so the HTTP layer never
/// reads the kind out of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Customer(String),
    /// A receipt, with the till it was looked for on when the caller named one.
    Receipt {
        id: String,
        till: Option<String>,
    },
    Till(String),
    GiftCard(String),
    Webhook(String),
    /// A failed webhook delivery.
    Delivery(String),
    /// A back-office account.
    User(String),
    Conflict(String),
    /// No MoySklad key is configured for this store.
    MoyskladKey {
        store: String,
    },
}

impl Missing {
    /// The stable error code of a 404 for this kind.
    pub fn code(&self) -> &'static str {
        match self {
            Missing::Customer(_) => "customer_not_found",
            Missing::Receipt { .. } => "receipt_not_found",
            Missing::Till(_) => "till_not_found",
            Missing::GiftCard(_) => "gift_card_not_found",
            Missing::Webhook(_) => "webhook_not_found",
            Missing::Delivery(_) => "delivery_not_found",
            Missing::User(_) => "user_not_found",
            Missing::Conflict(_) => "conflict_not_found",
            Missing::MoyskladKey { .. } => "not_found",
        }
    }

    /// The values the sentence names, under the names `messages_ru` uses.
    pub fn params(&self) -> ErrorParams {
        match self {
            Missing::Receipt { id, till: Some(till) } => vec![("id", id.clone()), ("till", till.clone())],
            Missing::Customer(id)
            | Missing::Receipt { id, till: None }
            | Missing::Till(id)
            | Missing::GiftCard(id)
            | Missing::Webhook(id)
            | Missing::Delivery(id)
            | Missing::User(id)
            | Missing::Conflict(id) => vec![("id", id.clone())],
            Missing::MoyskladKey { store } => vec![("moysklad_store", store.clone())],
        }
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Customer(id) => write!(f, "customer {id}"),
            Missing::Receipt { id, till: Some(till) } => write!(f, "receipt {id} of till {till}"),
            Missing::Receipt { id, till: None } => write!(f, "receipt {id}"),
            Missing::Till(id) => write!(f, "till {id}"),
            Missing::GiftCard(id) => write!(f, "gift card {id}"),
            Missing::Webhook(id) => write!(f, "webhook {id}"),
            Missing::Delivery(id) => write!(f, "failed delivery {id}"),
            Missing::User(id) => write!(f, "user {id}"),
            Missing::Conflict(id) => write!(f, "conflict {id}"),
            Missing::MoyskladKey { store } => write!(f, "MoySklad key of store {store}"),
        }
    }
}

pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> CloudError {
    CloudError::Invalid { code, message: message.into() }
}

/// Invalid input with the values its sentence names, for translations.
pub(crate) fn invalid_with(code: &'static str, message: impl Into<String>, params: ErrorParams) -> CloudError {
    CloudError::InvalidWith { code, message: message.into(), params }
}

/// A program refused by its checks, with the same code and values as the API answers it.
impl From<crate::rules::ProgramProblem> for CloudError {
    fn from(problem: crate::rules::ProgramProblem) -> CloudError {
        let error = crate::http::ApiError::from(problem);
        invalid_with(error.code, error.message, error.params)
    }
}

impl From<crate::identity::fields::FieldError> for CloudError {
    fn from(e: crate::identity::fields::FieldError) -> CloudError {
        invalid_with(e.code, e.message, e.params)
    }
}

/// Settings the use cases need to interpret identifiers.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub default_region: String,
    pub card_prefix: String,
}

/// The cloud's storage front door. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Database,
    settings: Arc<StoreSettings>,
    /// Signalled after every local commit that published feed rows: long-polls wake on it.
    changed: Arc<Notify>,
    /// What this process last wrote of each till's report (see `tills::till_seen`).
    seen: Arc<std::sync::Mutex<std::collections::HashMap<String, tills::Seen>>>,
}

/// What kind of entity a feed row names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedKind {
    Customer,
    Balance,
    Program,
    /// A till's customer id that became an alias (the entity id is the alias).
    Merge,
    /// What a budgeted campaign has given (the entity id is the campaign's).
    CampaignBudget,
}

impl FeedKind {
    fn as_str(self) -> &'static str {
        match self {
            FeedKind::Customer => "customer",
            FeedKind::Balance => "balance",
            FeedKind::Program => "program",
            FeedKind::Merge => "merge",
            FeedKind::CampaignBudget => "campaign_budget",
        }
    }
}

/// What a transaction will publish: feed rows (without repeats) and webhook events.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// In the order they were noted.
    feed: Vec<(FeedKind, String)>,
    /// The same entries, to find a repeat without walking the list (a push chunk notes a
    /// thousand customers).
    noted: HashMap<FeedKind, HashSet<String>>,
    webhooks: Vec<webhooks::WebhookEvent>,
    /// The webhook event kinds someone subscribes to, when the transaction looked them up:
    /// events of other kinds are not even built. `None`: every kind is kept.
    heard: Option<Vec<WebhookEventType>>,
    /// Friends' sales that may settle a referral once a push chunk's held rows are written
    /// (`lifecycle::settle_noted`); dropped with a refused event's changes.
    qualified: Vec<lifecycle::Qualified>,
}

impl Changes {
    /// Changes that keep only the webhook events of kinds someone subscribes to.
    pub(crate) fn heard_by_subscribers(sql: &mut dyn Sql) -> Result<Changes, CloudError> {
        Ok(Changes { heard: Some(webhooks::subscribed_kinds(sql)?), ..Changes::default() })
    }

    /// Empty changes that keep the webhook events these keep (an event's, absorbed later).
    pub(crate) fn empty_like(&self) -> Changes {
        Changes { heard: self.heard.clone(), ..Changes::default() }
    }

    pub(crate) fn add(&mut self, kind: FeedKind, id: &str) {
        let noted = self.noted.entry(kind).or_default();
        if !noted.contains(id) {
            noted.insert(id.to_owned());
            self.feed.push((kind, id.to_owned()));
        }
    }

    /// Whether a webhook event of `kind` is kept (worth building).
    pub(crate) fn hears(&self, kind: WebhookEventType) -> bool {
        self.heard.as_ref().is_none_or(|kinds| kinds.contains(&kind))
    }

    /// Takes in what another set of changes holds (an event's, once it applied).
    pub(crate) fn absorb(&mut self, other: Changes) {
        for (kind, id) in other.feed {
            self.add(kind, &id);
        }
        self.webhooks.extend(other.webhooks);
        self.qualified.extend(other.qualified);
    }
    pub(crate) fn customer(&mut self, id: &str) {
        self.add(FeedKind::Customer, id);
        self.add(FeedKind::Balance, id);
    }
}

/// Writes the webhook outbox rows, then appends the changes to the feed. Must be the last
/// thing a writing transaction does.
///
/// The counter row's update takes its row lock in PostgreSQL until commit, so a second writer
/// waits here until the first has committed: positions become visible strictly in order. Doing
/// it last keeps that serialised window to the end of each transaction. An entity's older feed
/// rows are deleted, so the feed holds one row per entity and a first pull pages through the
/// directory once, not through its history.
pub(crate) fn publish(sql: &mut dyn Sql, changes: &Changes, at: i64) -> Result<(), CloudError> {
    webhooks::enqueue(sql, &changes.webhooks, at)?;
    if changes.feed.is_empty() {
        return Ok(());
    }
    // The customers whose wallet card may show something else now (`store::wallet`).
    let touched: Vec<&str> = changes
        .feed
        .iter()
        .filter(|(kind, _)| matches!(kind, FeedKind::Balance | FeedKind::Customer))
        .map(|(_, id)| id.as_str())
        .collect();
    wallet::mark_dirty(sql, &touched)?;
    let count = changes.feed.len() as i64;
    let last =
        sql.query_one("UPDATE feed_counter SET pos = pos + $1 WHERE id = 1 RETURNING pos", vals![count])?.int(0)?;
    // Many rows a statement (`Changes` holds each entity once): their older rows go, then the new ones.
    let mut pos = last - count;
    for part in changes.feed.chunks(200) {
        // A row-value list, not an OR chain: PostgreSQL plans an OR of 200 pairs as 200 bitmap
        // index scans (3 ms a statement), the list as one join on the index.
        let mut delete = String::from("DELETE FROM feed WHERE (kind, entity_id) IN (VALUES ");
        let mut insert = String::from("INSERT INTO feed (pos, kind, entity_id) VALUES ");
        let mut keys: Vec<Value> = Vec::with_capacity(part.len() * 2);
        let mut rows: Vec<Value> = Vec::with_capacity(part.len() * 3);
        for (i, (kind, id)) in part.iter().enumerate() {
            let (k, r) = (keys.len(), rows.len());
            let comma = if i > 0 { ", " } else { "" };
            delete.push_str(&format!("{comma}(${}, ${})", k + 1, k + 2));
            insert.push_str(&format!("{}(${}, ${}, ${})", if i > 0 { ", " } else { "" }, r + 1, r + 2, r + 3));
            pos += 1;
            keys.extend([Value::from(kind.as_str()), Value::from(id.as_str())]);
            rows.extend([Value::Int(pos), Value::from(kind.as_str()), Value::from(id.as_str())]);
        }
        delete.push(')');
        sql.write(&delete, &keys)?;
        sql.write(&insert, &rows)?;
    }
    Ok(())
}

/// [`publish`] for a bulk import: customers created in this very transaction have no older
/// feed rows to delete, so the rows go in many at a time. A balance row is published only for
/// those imported with points (a till reads no balance row as zero). Must come last, likewise.
pub(crate) fn publish_new_customers(sql: &mut dyn Sql, ids: &[&str], with_points: &[&str]) -> Result<(), DbError> {
    let rows: Vec<(&str, &str)> = ids
        .iter()
        .map(|id| (FeedKind::Customer.as_str(), *id))
        .chain(with_points.iter().map(|id| (FeedKind::Balance.as_str(), *id)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let count = rows.len() as i64;
    let last =
        sql.query_one("UPDATE feed_counter SET pos = pos + $1 WHERE id = 1 RETURNING pos", vals![count])?.int(0)?;
    let mut pos = last - count;
    for chunk in rows.chunks(500) {
        let mut statement = String::from("INSERT INTO feed (pos, kind, entity_id) VALUES ");
        let mut params = Vec::with_capacity(chunk.len() * 3);
        for (i, (kind, id)) in chunk.iter().enumerate() {
            let n = params.len();
            statement.push_str(&format!("{}(${}, ${}, ${})", if i > 0 { ", " } else { "" }, n + 1, n + 2, n + 3));
            pos += 1;
            params.extend([Value::Int(pos), Value::from(*kind), Value::from(*id)]);
        }
        sql.write(&statement, &params)?;
    }
    Ok(())
}

impl Store {
    /// Wraps an open database and makes sure it holds what every start needs: the feed's
    /// epoch (which makes cursors of another database recognisable) and a first program.
    pub async fn new(db: Database, settings: StoreSettings) -> Result<Store, CloudError> {
        let store = Store { db, settings: Arc::new(settings), changed: Arc::new(Notify::new()), seen: Arc::default() };
        store
            .write(|sql| {
                let epoch = crate::cloud::token::random_token()[..16].to_owned();
                sql.execute(
                    "INSERT INTO meta (key, value) VALUES ('feed_epoch', $1) ON CONFLICT (key) DO NOTHING",
                    vals![epoch],
                )?;
                if sql.query_opt("SELECT version FROM program_versions LIMIT 1", &[])?.is_none() {
                    admin::insert_program(sql, Program::default(), crate::clock::now())?;
                }
                spending_codes::ensure_qr_key(sql)?;
                Ok(())
            })
            .await?;
        Ok(store)
    }

    /// Signalled after every write this process commits (long-polls and webhook delivery wait on it).
    pub fn change_signal(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    pub fn dialect_name(&self) -> &'static str {
        self.db.dialect().name()
    }

    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// Runs a writing use case in one transaction and wakes long-polls after it committed.
    async fn write<R, F>(&self, work: F) -> Result<R, CloudError>
    where
        F: Fn(&mut dyn Sql) -> Result<R, CloudError> + Send + 'static,
        R: Send + 'static,
    {
        let result = self.db.run(Mode::Write, work).await;
        if result.is_ok() {
            self.changed.notify_waiters();
        }
        result
    }

    async fn read<R, F>(&self, work: F) -> Result<R, CloudError>
    where
        F: Fn(&mut dyn Sql) -> Result<R, CloudError> + Send + 'static,
        R: Send + 'static,
    {
        self.db.run(Mode::Read, work).await
    }

    /// A trivial query, for health.
    pub async fn ping(&self) -> Result<(), CloudError> {
        self.read(|sql| {
            sql.query_one("SELECT pos FROM feed_counter WHERE id = 1", &[])?;
            Ok(())
        })
        .await
    }
}
