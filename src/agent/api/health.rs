//! `GET /v1/health` and `POST /v1/sync`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppState, Mode};
use crate::clock;
use crate::http::extract::ApiQuery;
use crate::http::Lang;
use crate::wire::{DrainProgress, Health, StorageHealth, SyncHealth, SyncResult, SyncState};

/// How long `POST /v1/sync` waits for the cycle unless asked otherwise, and at most: both well
/// inside the request deadline, so a long drain is answered with its progress, never a timeout.
const SYNC_WAIT_DEFAULT_S: u64 = 10;
const SYNC_WAIT_MAX_S: u64 = 20;

/// Health of the agent: storage, mode and sync. Needs no token.
#[utoipa::path(get, path = "/v1/health", tag = "agent", responses((status = 200, body = Health)), security(()))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let (storage, pending, oldest) = match &state.storage {
        Err(why) => (StorageHealth { ok: false, error: Some(why.to_string()) }, 0, None),
        Ok(store) => {
            let (pending, oldest, read_error) = match store.outbox_pending(clock::now()).await {
                Ok((pending, oldest)) => (pending, oldest, None),
                Err(e) => (0, None, Some(e.to_string())),
            };
            let error = store.write_failure().or(read_error);
            (StorageHealth { ok: error.is_none(), error }, pending, oldest)
        }
    };
    let sync = state.sync.as_ref().map(|handle| handle.status());
    let state_word = match (&state.mode, &sync) {
        (Mode::Standalone, _) => SyncState::Disabled,
        (Mode::Connected, Some(status)) => status.state,
        (Mode::Connected, None) => SyncState::Offline,
    };
    Json(Health {
        status: if storage.ok { "ok" } else { "unhealthy" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: state.mode.as_str().to_owned(),
        sync: SyncHealth {
            state: state_word,
            pending,
            oldest_pending_seconds: oldest,
            last_success_at: sync.as_ref().and_then(|s| s.last_success_at).map(clock::rfc3339),
            consecutive_failures: sync.as_ref().map(|s| s.consecutive_failures).unwrap_or(0),
            last_error: sync.as_ref().and_then(|s| s.last_error.clone()),
            drain: sync.as_ref().and_then(|s| s.drain),
        },
        storage,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncNowQuery {
    /// Seconds to wait for the sync to finish before answering 202 with its progress
    /// (0–20, default 10; more is read as 20).
    pub wait: Option<u64>,
}

/// Sync now: push and pull at once, skipping any backoff. Answers 200 when the attempt is done
/// within `wait` seconds, else 202 with how far it has come (it goes on; health's `sync.drain`
/// follows it). In standalone mode there is no cloud: the answer says so.
#[utoipa::path(post, path = "/v1/sync", tag = "agent", params(SyncNowQuery),
    responses((status = 200, body = SyncResult), (status = 202, body = SyncResult),
        (status = 409, body = crate::wire::ErrorBody), (status = 503, body = crate::wire::ErrorBody)))]
pub async fn sync_now(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SyncNowQuery>,
    lang: Lang,
) -> Result<(StatusCode, Json<SyncResult>), ApiError> {
    match state.mode {
        Mode::Standalone => Err(ApiError::new(
            StatusCode::CONFLICT,
            "sync_disabled",
            "this agent runs standalone (no cloud); enroll it with `loyalty-agent enroll` to sync",
        )),
        Mode::Connected => {
            let Some(handle) = &state.sync else {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sync_unavailable",
                    "the sync worker is not running because the local database is unavailable",
                ));
            };
            let wait = Duration::from_secs(query.wait.unwrap_or(SYNC_WAIT_DEFAULT_S).min(SYNC_WAIT_MAX_S));
            let Some(status) = handle.sync_now_within(wait).await else {
                let progress = match handle.status().drain {
                    Some(progress) => progress,
                    // Not pushing at this instant (the cycle is pulling, or has not begun):
                    // what is left is what the outbox holds.
                    None => {
                        let left = state.store()?.outbox_pending(clock::now()).await?.0;
                        DrainProgress { sent: 0, left: u64::try_from(left).unwrap_or(0), rate_per_s: 0 }
                    }
                };
                let message = match lang {
                    Lang::En => format!(
                        "sync is running: {} operations sent, {} left ({} per second); follow it with `loyalty-agent sync` or in /v1/health (sync.drain)",
                        progress.sent, progress.left, progress.rate_per_s
                    ),
                    Lang::Ru => format!(
                        "Синхронизация идёт: отправлено операций — {}, осталось — {} ({} в секунду). Следить за ней можно командой `loyalty-agent sync`.",
                        progress.sent, progress.left, progress.rate_per_s
                    ),
                };
                let answer = SyncResult { state: SyncState::Syncing, message, progress: Some(progress) };
                return Ok((StatusCode::ACCEPTED, Json(answer)));
            };
            let message = match lang {
                Lang::En => match (status.state, &status.last_error) {
                    (SyncState::Online, _) => {
                        "everything committed here has reached the cloud, and its changes are here".to_owned()
                    }
                    (_, Some(error)) => format!("sync did not complete: {error}"),
                    (state, None) => format!("sync is {state}"),
                },
                Lang::Ru => sync_message_ru(status.state).to_owned(),
            };
            Ok((StatusCode::OK, Json(SyncResult { state: status.state, message, progress: None })))
        }
    }
}

/// "Sync now"'s answer for a Russian reader, by the state sync ended in. The English names the
/// technical cause; a cashier needs what it means and what to do (`loyalty-agent doctor` and
/// the health's `sync.last_error` have the cause).
fn sync_message_ru(state: SyncState) -> &'static str {
    match state {
        SyncState::Online => "Всё, что проведено на этой кассе, уже в облаке, а изменения из облака — здесь.",
        SyncState::Offline => {
            "Синхронизация не завершилась: облако недоступно. Продажи продолжаются и уйдут в облако, когда связь вернётся."
        }
        SyncState::AuthError => {
            "Синхронизация не завершилась: облако не принимает эту кассу. Запустите `loyalty-agent doctor` — он подскажет, что сделать."
        }
        SyncState::Disabled
        | SyncState::Connecting
        | SyncState::Syncing
        | SyncState::Unknown => "Синхронизация ещё не завершилась; повторите чуть позже.",
    }
}
