//! The HTTP client of the sync API: enrollment, push, pull. Knows which failures are worth
//! retrying and what the cloud asked for (`Retry-After`).

use std::time::Duration;

use reqwest::StatusCode;

use crate::wire::{
    GiftCardPayment, GiftCardRedeem, GiftCardRedeemed, GiftCardView, KnownEvent, KnownEventsRequest,
    KnownEventsResponse, PullResponse, PushRequest, PushResponse, SyncEvent, TillEnrollRequest, TillEnrollResponse,
};

/// Why a sync call failed, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The network or the cloud is down, slow or overloaded: try again later.
    #[error("the cloud is unreachable: {0}")]
    Unreachable(String),
    /// The cloud answered 5xx or 429; it may say when to come back.
    #[error("the cloud is busy or failing (HTTP {status})")]
    Busy { status: u16, retry_after: Option<Duration> },
    /// The device token was refused: retrying will not help until the till is enrolled again.
    #[error("the cloud refused this till's credentials (HTTP {0}); enroll the till again")]
    Unauthorized(u16),
    /// The cloud holds other events under this till's sequence numbers (a till restored from an
    /// old backup): nothing is overwritten; `enroll --replace` with a new code recovers it.
    #[error(
        "this till's database is older than what the cloud holds (restored from a backup?): sync has stopped and nothing was overwritten. Ask the back office for a new enrollment code for till {till_id}, then run `loyalty-agent enroll --cloud {cloud} --code CODE --replace`"
    )]
    SequenceConflict { cloud: String, till_id: String },
    /// The cloud wants events this till no longer has.
    #[error("the cloud expects event {expected}, but this till's outbox starts at {first}")]
    Gap { expected: i64, first: i64 },
    /// The cloud refused the request itself (4xx): a bug on one side; retried with backoff.
    #[error("the cloud refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error(transparent)]
    Store(#[from] crate::agent::store::StoreError),
}

impl SyncError {
    /// Whether the loop should keep retrying on its own.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SyncError::Unauthorized(_) | SyncError::SequenceConflict { .. })
    }

    /// The word health shows for this failure.
    pub fn state(&self) -> crate::wire::SyncState {
        match self {
            SyncError::Unauthorized(_) | SyncError::SequenceConflict { .. } => crate::wire::SyncState::AuthError,
            _ => crate::wire::SyncState::Offline,
        }
    }
}

/// A client bound to one cloud and one device token.
#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    token: String,
    /// The till the token belongs to, for messages that tell a person what to run.
    till_id: String,
    /// The outbox whose size every sync call reports (`X-Loyalty-Pending-Events`), once
    /// [`SyncClient::reporting`] gave it one.
    outbox: Option<crate::agent::store::Store>,
}

/// How long a single request may take, not counting a long-poll's wait.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

impl SyncClient {
    pub fn new(base: &str, token: &str) -> SyncClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        SyncClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            till_id: String::new(),
            outbox: None,
        }
    }

    /// The client of an enrolled till.
    pub fn for_link(link: &crate::agent::cloud_link::CloudLink) -> SyncClient {
        SyncClient { till_id: link.till_id.clone(), ..SyncClient::new(&link.url, &link.device_token) }
    }

    /// This client with the till's store: from now on every sync call tells the cloud how many
    /// events the outbox holds, for the back office's list of tills.
    pub fn reporting(self, store: crate::agent::store::Store) -> SyncClient {
        SyncClient { outbox: Some(store), ..self }
    }

    /// A sync call with this till's headers (CONTRACTS.md §sync): its token, the agent's
    /// version and the outbox's size as it is now. The count is read when the call leaves, so
    /// a push reports the events it carries as still pending: the cloud subtracts those it
    /// answers for (see `cloud::api::sync::push`), and every other call reports the count as
    /// it stands, so a drained outbox is recorded as 0 by the push that drained it and again
    /// by the pull that follows. A count that cannot be read is left out, never guessed.
    async fn sync_call(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request =
            request.bearer_auth(&self.token).header(crate::wire::AGENT_VERSION_HEADER, env!("CARGO_PKG_VERSION"));
        let Some(store) = &self.outbox else { return request };
        match store.outbox_pending(crate::clock::now()).await {
            Ok((pending, _)) => request.header(crate::wire::PENDING_EVENTS_HEADER, pending.max(0).to_string()),
            Err(e) => {
                tracing::debug!(error = %e, "the outbox could not be counted for the cloud");
                request
            }
        }
    }

    /// The error for a push the cloud stopped with `sequence_conflict`.
    pub fn sequence_conflict(&self) -> SyncError {
        SyncError::SequenceConflict { cloud: self.base.clone(), till_id: self.till_id.clone() }
    }

    /// Exchanges a one-time enrollment code for this till's identity and device token.
    pub async fn enroll(base: &str, code: &str) -> Result<TillEnrollResponse, SyncError> {
        let client = SyncClient::new(base, "");
        let response = client
            .http
            .post(format!("{}/v1/enroll", client.base))
            .timeout(REQUEST_TIMEOUT)
            .json(&TillEnrollRequest { code: code.trim().to_owned() })
            .send()
            .await
            .map_err(unreachable)?;
        parse(response).await
    }

    pub async fn push(&self, events: Vec<SyncEvent>) -> Result<PushResponse, SyncError> {
        let request = self.sync_call(self.http.post(format!("{}/v1/sync/push", self.base))).await;
        let response =
            request.timeout(REQUEST_TIMEOUT).json(&PushRequest { events }).send().await.map_err(unreachable)?;
        parse(response).await
    }

    /// Which of `event_ids` the cloud already holds (see `KnownEventsRequest`).
    pub async fn known_events(&self, event_ids: Vec<String>) -> Result<Vec<KnownEvent>, SyncError> {
        let request = self.sync_call(self.http.post(format!("{}/v1/sync/known-events", self.base))).await;
        let response = request
            .timeout(REQUEST_TIMEOUT)
            .json(&KnownEventsRequest { event_ids })
            .send()
            .await
            .map_err(unreachable)?;
        Ok(parse::<KnownEventsResponse>(response).await?.events)
    }

    /// A page of changes after `cursor`; with `wait` > 0 the cloud holds the request until
    /// something changes or the wait is over.
    pub async fn pull(&self, cursor: Option<&str>, limit: u32, wait: u32) -> Result<PullResponse, SyncError> {
        let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string()), ("wait", wait.to_string())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        let request = self.sync_call(self.http.get(format!("{}/v1/sync/pull", self.base))).await;
        let response = request
            .query(&query)
            .timeout(REQUEST_TIMEOUT + Duration::from_secs(u64::from(wait)))
            .send()
            .await
            .map_err(unreachable)?;
        parse(response).await
    }
}

/// Why the cloud did not take a sale's gift card payments.
#[derive(Debug, thiserror::Error)]
pub enum GiftCardError {
    /// The cloud refused them for good (`gift_card_unknown`, `gift_card_short`, …, or
    /// `receipt_conflict`): the sale must not be recorded as paid with them.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The cloud could not be asked or did not answer: nothing is known to be taken.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// How long an online gift card call may take: MoySklad is waiting for the answer.
const GIFT_CARD_TIMEOUT: Duration = Duration::from_secs(10);

impl SyncClient {
    /// A gift card in the cloud by its number (`None`: the cloud knows no such card).
    pub async fn gift_card(&self, number: &str) -> Result<Option<GiftCardView>, SyncError> {
        let mut url = reqwest::Url::parse(&format!("{}/v1/sync/gift-cards/", self.base))
            .map_err(|e| SyncError::Unreachable(format!("the cloud address is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| SyncError::Unreachable("the cloud address cannot take a path".into()))?
            .pop_if_empty()
            .push(number);
        let response =
            self.sync_call(self.http.get(url)).await.timeout(GIFT_CARD_TIMEOUT).send().await.map_err(unreachable)?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse(response).await.map(Some)
    }

    /// Asks the cloud to take a sale's gift card payments now; idempotent by the receipt id.
    pub async fn redeem_gift_cards(
        &self,
        receipt_id: &str,
        payments: Vec<GiftCardPayment>,
    ) -> Result<GiftCardRedeemed, GiftCardError> {
        let request = self.sync_call(self.http.post(format!("{}/v1/sync/gift-cards/redeem", self.base))).await;
        let response = request
            .timeout(GIFT_CARD_TIMEOUT)
            .json(&GiftCardRedeem { receipt_id: receipt_id.to_owned(), payments })
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let error = &body["error"];
            let code = match error["code"].as_str().unwrap_or("") {
                "gift_card_unknown" => "gift_card_unknown",
                "gift_card_void" => "gift_card_void",
                "gift_card_expired" => "gift_card_expired",
                "gift_card_redeemed" => "gift_card_redeemed",
                "gift_card_short" => "gift_card_short",
                "receipt_conflict" => "receipt_conflict",
                _ => "gift_card_refused",
            };
            let message = error["message"].as_str().unwrap_or("the cloud refused the gift card payment").to_owned();
            return Err(GiftCardError::Refused { code, message });
        }
        Ok(parse(response).await?)
    }
}

/// Why the cloud did not send a spending code.
#[derive(Debug, thiserror::Error)]
pub enum SpendingCodeError {
    /// The cloud knows no such customer (enrolled here and not synced yet).
    #[error("the cloud does not know this customer yet")]
    UnknownCustomer,
    /// It refused with a sentence for the cashier (`verification_code_recent`, …).
    #[error("{message}")]
    Refused { code: &'static str, message: String, retry_after_s: Option<i64> },
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl SyncClient {
    /// Asks the cloud to send `customer_id` the spending code this till made.
    pub async fn send_spending_code(
        &self,
        customer_id: &str,
        code: &str,
    ) -> Result<crate::wire::SpendingCodeQueued, SpendingCodeError> {
        let request = self.sync_call(self.http.post(format!("{}/v1/sync/spending-codes", self.base))).await;
        let body = crate::wire::SpendingCodeRequest { customer_id: customer_id.to_owned(), code: code.to_owned() };
        let response = request.timeout(GIFT_CARD_TIMEOUT).json(&body).send().await.map_err(unreachable)?;
        match response.status() {
            StatusCode::NOT_FOUND => return Err(SpendingCodeError::UnknownCustomer),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::UNPROCESSABLE_ENTITY => {
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let error = &body["error"];
                let code = match error["code"].as_str().unwrap_or("") {
                    "verification_code_recent" => "verification_code_recent",
                    _ => "sms_unavailable",
                };
                let retry_after_s = error["details"]["retry_after_s"].as_str().and_then(|s| s.parse().ok());
                let message = error["message"].as_str().unwrap_or("the cloud did not send the code").to_owned();
                return Err(SpendingCodeError::Refused { code, message, retry_after_s });
            }
            _ => {}
        }
        Ok(parse(response).await?)
    }
}

fn unreachable(e: reqwest::Error) -> SyncError {
    SyncError::Unreachable(e.to_string())
}

async fn parse<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, SyncError> {
    let status = response.status();
    if status.is_success() {
        // A body cut off on the way is a network failure like any other: retry.
        return response.json::<T>().await.map_err(unreachable);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let message = response.text().await.unwrap_or_default();
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SyncError::Unauthorized(status.as_u16()),
        StatusCode::TOO_MANY_REQUESTS => SyncError::Busy { status: status.as_u16(), retry_after },
        s if s.is_server_error() => SyncError::Busy { status: s.as_u16(), retry_after },
        s => SyncError::Refused { status: s.as_u16(), message: message.chars().take(500).collect() },
    })
}
