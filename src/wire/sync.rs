//! The sync contract between an agent and loyalty-cloud (CONTRACTS.md §sync): enrollment, pushing the
//! outbox, pulling the change feed.
//!
//! Invariants both sides rely on:
//! - `seq` is per till, starts at 1 and has no gaps; the cloud applies each `(till, seq)` and
//!   each `event_id` at most once.
//! - An event leaves the agent's outbox only after the cloud answered `applied`, `duplicate` or
//!   `rejected` for it.
//! - A pull page and its `next_cursor` are applied by the agent in one local transaction.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AdjustmentResult, CommitRequest, Consents, ReturnRequest, ReturnResult};

/// The header in which an agent sends its version (`CARGO_PKG_VERSION`) with every sync call.
pub const AGENT_VERSION_HEADER: &str = "X-Loyalty-Agent-Version";
/// The header in which an agent sends how many events its outbox holds (sent, not yet
/// answered, or not sent at all) when the call leaves it.
pub const PENDING_EVENTS_HEADER: &str = "X-Loyalty-Pending-Events";
/// The longest agent version the cloud records.
pub const MAX_AGENT_VERSION_LEN: usize = 64;

/// What a till says about itself in the headers of a sync call. A header that is absent or
/// cannot be read is `None` (an older agent sends neither): never an error, and never a
/// reason to forget what an earlier call said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TillReport {
    pub agent_version: Option<String>,
    pub pending_events: Option<i64>,
}

impl TillReport {
    /// Reads the two header values as they came: a version of 1 to
    /// [`MAX_AGENT_VERSION_LEN`] printable ASCII characters, and a count that is a whole
    /// number from 0 up.
    pub fn read(agent_version: Option<&[u8]>, pending_events: Option<&[u8]>) -> TillReport {
        let agent_version = agent_version
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= MAX_AGENT_VERSION_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned);
        let pending_events = pending_events
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<i64>().ok());
        TillReport { agent_version, pending_events }
    }
}

/// `POST /v1/enroll`: a one-time code from the cloud's admin, exchanged for a device token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TillEnrollRequest {
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TillEnrollResponse {
    pub till_id: String,
    pub store: String,
    /// Sent as `Authorization: Bearer …` on every sync call. Shown once; the cloud keeps a hash.
    pub device_token: String,
    /// The highest `seq` the cloud holds from this till (0 for a new one). A till enrolled again
    /// over its own database (`enroll --replace`, after a restore from a backup) numbers its
    /// unsent events from here. Absent from clouds older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}

/// `POST /v1/sync/known-events`: which of these events the cloud already holds (from any till),
/// so a till recovering from a restored backup drops them instead of sending them under new
/// sequence numbers. At most [`MAX_KNOWN_EVENTS`] ids per call.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnownEventsRequest {
    pub event_ids: Vec<String>,
}

/// The most event ids one `known-events` call may ask about.
pub const MAX_KNOWN_EVENTS: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KnownEventsResponse {
    /// Only the ids the cloud holds; an id it does not hold is left out.
    pub events: Vec<KnownEvent>,
}

/// An event the cloud holds: `applied` (its effects are in the cloud's balances) or
/// `rejected` (refused for good, with the reason).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct KnownEvent {
    pub event_id: String,
    pub outcome: EventOutcome,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// What happened on the till, in commit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    CustomerCreated,
    CustomerUpdated,
    Sale,
    Return,
    Adjustment,
}

impl EventKind {
    /// Every kind, for tests that must cover them all.
    pub const ALL: [EventKind; 5] = [
        EventKind::CustomerCreated,
        EventKind::CustomerUpdated,
        EventKind::Sale,
        EventKind::Return,
        EventKind::Adjustment,
    ];

    /// The kind as the JSON (and the agent's `outbox.kind` column) spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CustomerCreated => "customer_created",
            EventKind::CustomerUpdated => "customer_updated",
            EventKind::Sale => "sale",
            EventKind::Return => "return",
            EventKind::Adjustment => "adjustment",
        }
    }
}

/// One outbox event. `payload` is an [`EventPayload`] of `kind`, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncEvent {
    pub seq: i64,
    pub event_id: String,
    pub kind: EventKind,
    /// The till's clock, which may be wrong; the cloud records its own time too.
    pub created_at: String,
    /// Kept as the JSON text it came in: the cloud reads it once, straight into its
    /// [`EventPayload`] type, and stores the text as it is (no tree in between).
    #[schema(value_type = Object)]
    pub payload: Box<serde_json::value::RawValue>,
}

/// An outbox event's payload, typed by its kind: the agent builds its outbox rows from this and
/// the cloud parses pushed payloads into it, so a field renamed on one side fails to compile
/// (or fails the round-trip test) instead of showing up as rejected events in production.
///
/// The envelope (`SyncEvent::payload`) stays raw JSON text, so one event that does not fit
/// is refused on its own (`invalid_payload`) instead of failing the whole batch, and rows queued
/// by older agents are pushed as they were stored.
#[derive(Debug, Clone)]
pub enum EventPayload {
    CustomerCreated(CustomerEvent),
    CustomerUpdated(CustomerEvent),
    Sale(Box<SaleEvent>),
    Return(Box<ReturnEvent>),
    Adjustment(AdjustmentResult),
}

impl EventPayload {
    pub fn kind(&self) -> EventKind {
        match self {
            EventPayload::CustomerCreated(_) => EventKind::CustomerCreated,
            EventPayload::CustomerUpdated(_) => EventKind::CustomerUpdated,
            EventPayload::Sale(_) => EventKind::Sale,
            EventPayload::Return(_) => EventKind::Return,
            EventPayload::Adjustment(_) => EventKind::Adjustment,
        }
    }

    /// The payload as JSON. Through `serde_json::Value`, whose objects keep their keys sorted,
    /// so the text is the same as the hand-built payloads earlier agents stored.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            EventPayload::CustomerCreated(event) | EventPayload::CustomerUpdated(event) => serde_json::to_value(event),
            EventPayload::Sale(event) => serde_json::to_value(event),
            EventPayload::Return(event) => serde_json::to_value(event),
            EventPayload::Adjustment(event) => serde_json::to_value(event),
        }
    }

    /// The payload as the JSON text a [`SyncEvent`] carries (keys in `to_json`'s order).
    pub fn to_raw(&self) -> Result<Box<serde_json::value::RawValue>, serde_json::Error> {
        serde_json::value::to_raw_value(&self.to_json()?)
    }

    /// Reads a pushed payload as the struct its `kind` names, in one pass over the text.
    pub fn from_raw(kind: EventKind, payload: &serde_json::value::RawValue) -> Result<Self, serde_json::Error> {
        let text = payload.get();
        Ok(match kind {
            EventKind::CustomerCreated => EventPayload::CustomerCreated(serde_json::from_str(text)?),
            EventKind::CustomerUpdated => EventPayload::CustomerUpdated(serde_json::from_str(text)?),
            EventKind::Sale => EventPayload::Sale(Box::new(serde_json::from_str(text)?)),
            EventKind::Return => EventPayload::Return(Box::new(serde_json::from_str(text)?)),
            EventKind::Adjustment => EventPayload::Adjustment(serde_json::from_str(text)?),
        })
    }
}

/// Payload of `customer_created` and `customer_updated`: the customer's personal data after
/// the change; `fields` names what an edit changed (empty on creation).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerEvent {
    pub customer_id: String,
    #[serde(default)]
    pub fields: Vec<String>,
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub card: String,
    pub birthday: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub consents: Consents,
    /// MoySklad's counterparty id, when the till linked the customer to one (a MoySklad create,
    /// or a MoySklad call that found them by card or phone). Absent in older events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// `customer_created` only: the friend's code the customer enrolled with, normalised by the
    /// till (`identity::normalize_referral_code`). Absent in older events; a cloud that does not
    /// know the field ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<String>,
}

/// Payload of `sale`: the answer the till gave (with per-line points) and the request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SaleEvent {
    pub receipt: super::Calculation,
    /// The request as committed, without its `verification` (a code is not kept anywhere).
    pub request: CommitRequest,
    /// How the customer proved they were there, when the sale spent points with a code; the
    /// cloud lists a time-based code used on two tills as a `code_replayed` conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<VerifiedBy>,
}

/// The kind of code a sale's spending was confirmed with.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum VerifiedBy {
    /// The code of an SMS this till sent.
    Sms,
    /// The customer's time-based code of this 30-second step (RFC 6238's counter).
    Totp { step: i64 },
}

/// Payload of `return`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReturnEvent {
    #[serde(rename = "return")]
    pub result: ReturnResult,
    pub request: ReturnRequest,
}

/// `POST /v1/sync/push`: events in `seq` order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushRequest {
    pub events: Vec<SyncEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    /// Applied now.
    Applied,
    /// Applied before (a retry after a lost answer): success.
    Duplicate,
    /// Refused for good (`code`, `message`); recorded on both sides, the queue moves on.
    Rejected,
    /// Not the next event; resend from `expected_seq`.
    OutOfOrder,
    /// This `seq` was applied with another `event_id` (a till restored from an old backup):
    /// the push stops until the till is enrolled again with `--replace`, which numbers its
    /// unsent events after the cloud's. Nothing is overwritten.
    SequenceConflict,
}

impl EventOutcome {
    /// Whether the event leaves the till's outbox with this answer.
    pub fn is_final(self) -> bool {
        matches!(self, EventOutcome::Applied | EventOutcome::Duplicate | EventOutcome::Rejected)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventResult {
    pub seq: i64,
    pub event_id: String,
    pub outcome: EventOutcome,
    pub code: Option<String>,
    pub message: Option<String>,
    pub expected_seq: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushResponse {
    pub results: Vec<EventResult>,
}

/// `GET /v1/sync/pull?cursor=…&limit=…&wait=…` answers a page of changes after `cursor`
/// (opaque; absent = from the beginning). Each change is the entity's state when the page was
/// read, so a page never goes back in time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PullResponse {
    pub changes: Vec<Change>,
    pub next_cursor: String,
    pub has_more: bool,
    /// The cursor is too old or unknown: drop the local directory and page it all again.
    #[serde(default)]
    pub must_refetch: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Customer(Box<CustomerSnapshot>),
    Balance(BalanceSnapshot),
    Program(ProgramSnapshot),
    /// A customer a till enrolled had a phone the cloud already knew: the same person. `from`
    /// (the till's customer id) is now an alias of `into`; events naming `from` apply to `into`.
    /// A till holding a local `from` re-points it to `into`. Comes after `into`'s snapshot:
    /// `{"type": "customer_merged", "from": "…", "into": "…"}`.
    CustomerMerged {
        from: String,
        into: String,
    },
    /// What a budgeted campaign has given, as the cloud counts it (CONTRACTS.md §campaigns):
    /// published whenever a till's sales give its points, so the other tills stop it when the
    /// budget is spent.
    CampaignBudget(CampaignBudgetSnapshot),
    /// A kind of change this build does not know (a newer cloud): skipped, so an older till
    /// keeps syncing instead of failing on every page.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct CustomerSnapshot {
    pub id: String,
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub card: String,
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub consents: Consents,
    /// MoySklad's counterparty id, when linked.
    pub external_id: Option<String>,
    pub updated_at: String,
    /// The secret of the customer's time-based spending code, once they have one (their
    /// self-service page made it), so a till checks the code without the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_secret: Option<CodeSecret>,
}

/// A customer's time-based code secret (RFC 4648 base32), as the cloud hands it to its tills:
/// `Debug` shows nothing, and no admin answer carries it.
#[derive(Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(transparent)]
pub struct CodeSecret(pub String);

impl std::fmt::Debug for CodeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeSecret(…)")
    }
}

/// A customer's points as the cloud has them, and how far this till's own events are in them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BalanceSnapshot {
    pub customer_id: String,
    pub balance: i64,
    pub available: i64,
    pub pending: i64,
    pub paid_total: i64,
    /// The highest `seq` of the pulling till whose effects this balance includes (0 = none).
    /// The agent drops its local entries up to here from its own sum (CONTRACTS.md §storage).
    pub included_seq: i64,
    /// The next points to expire in the cloud's lots (absent from an older cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_expiry: Option<super::PointsExpiry>,
    /// The stamps the customer holds on each stamp card, counting this till's events up to
    /// `included_seq` like the balance (cards at 0 left out). Absent from an older cloud, which
    /// counts no stamps: the till then keeps its own count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamps: Option<Vec<StampsHeld>>,
    /// The customer's uses, at other tills, of campaigns with a `limit_per_customer`, since
    /// the start of each limit's current period: a till adds its own. Absent from an older cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_uses: Option<Vec<CampaignUse>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StampsHeld {
    pub campaign_id: String,
    pub stamps: i64,
}

/// One receipt a campaign applied to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct CampaignUse {
    pub campaign_id: String,
    /// RFC 3339: when the sale happened (the till's clock).
    pub used_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct CampaignBudgetSnapshot {
    pub campaign_id: String,
    /// Points the campaign gave on every till's applied sales.
    pub given: i64,
    /// The part of `given` from other tills than the pulling one: the pulling till adds its own.
    pub given_elsewhere: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProgramSnapshot {
    pub version: i64,
    /// The program (CONTRACTS.md §program settings) as JSON.
    #[schema(value_type = Object)]
    pub program: serde_json::Value,
    /// The key the customers' signed QR tokens are made with (base32), for the tills to check
    /// them offline; not part of the program the back office edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_key: Option<CodeSecret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: `customer_created` carries the friend's code the customer enrolled with. An
    /// older agent's payload (no field) reads as no code, a payload without a code is written as
    /// older agents wrote it, and one with a code keeps it.
    #[test]
    fn a_customer_event_carries_the_friends_code_only_when_there_is_one() {
        let older = r#"{"customer_id": "c1", "fields": [], "phone": "+79990000001", "name": null, "email": null,
                        "card": "27000000017", "birthday": null, "tags": [], "consents": {}}"#;
        let read: CustomerEvent = serde_json::from_str(older).expect("an older agent's event");
        assert_eq!(read.referral_code, None);
        let written = serde_json::to_value(&read).unwrap();
        assert!(written.get("referral_code").is_none(), "{written}");
        let with_code = CustomerEvent { referral_code: Some("K7QX4M2W".into()), ..read };
        let payload = EventPayload::CustomerCreated(with_code).to_raw().unwrap();
        match EventPayload::from_raw(EventKind::CustomerCreated, &payload).unwrap() {
            EventPayload::CustomerCreated(event) => assert_eq!(event.referral_code.as_deref(), Some("K7QX4M2W")),
            other => panic!("{other:?}"),
        }
    }

    /// A page from a newer cloud, with a change kind this build does not know, still reads.
    #[test]
    fn unknown_change_kinds_are_skipped_not_fatal() {
        let page: PullResponse = serde_json::from_str(
            r#"{"changes": [{"type": "gift_card", "number": "1"}, {"type": "customer_merged", "from": "a", "into": "b"}],
                "next_cursor": "1.2", "has_more": false}"#,
        )
        .expect("a page with an unknown change");
        assert!(matches!(page.changes[0], Change::Unknown));
        assert!(matches!(&page.changes[1], Change::CustomerMerged { from, into } if from == "a" && into == "b"));
    }
}

#[cfg(test)]
mod till_report_tests {
    use super::TillReport;

    #[test]
    fn a_header_that_cannot_be_read_is_left_out() {
        let read = |v: &str, p: &str| TillReport::read(Some(v.as_bytes()), Some(p.as_bytes()));
        assert_eq!(read("0.4.1", "17"), TillReport { agent_version: Some("0.4.1".into()), pending_events: Some(17) });
        assert_eq!(read(" 0.4.1 ", " 0 ").pending_events, Some(0));
        for bad in ["-1", "1.5", "", "12a", "99999999999999999999", "+3"] {
            assert_eq!(read("1", bad).pending_events, None, "{bad:?}");
        }
        for bad in ["", "1 2", "версия", &"9".repeat(65), "1\u{7f}"] {
            assert_eq!(read(bad, "1").agent_version, None, "{bad:?}");
        }
        assert_eq!(TillReport::read(None, None), TillReport::default());
        assert_eq!(TillReport::read(Some(&[0xff, 0xfe]), Some(&[0xff])), TillReport::default());
    }
}

/// `POST /v1/sync/spending-codes`: a connected till asks the cloud to send a customer the
/// spending code the till made (the till keeps its digest and checks it at the sale); the
/// cloud sends it with its SMS gateway, through its outbox.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendingCodeRequest {
    pub customer_id: String,
    pub code: String,
}

impl std::fmt::Debug for SpendingCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpendingCodeRequest").field("customer_id", &self.customer_id).finish_non_exhaustive()
    }
}

/// Where the cloud sends the code: the phone as a cashier may read it (`+7 *** ***-45-67`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SpendingCodeQueued {
    pub sent_to: String,
}
