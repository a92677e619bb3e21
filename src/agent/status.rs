//! `loyalty-agent status`: asks the running agent for its health and says it in words.

use crate::wire::{Health, SyncState};

/// Fetches `/v1/health` from the agent at `base` (e.g. `http://127.0.0.1:8719`).
pub async fn fetch_health(base: &str) -> Result<Health, String> {
    let client =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    fetch_health_with(&client, base).await
}

/// [`fetch_health`] with a client the caller keeps, for callers that ask often (the tray).
pub async fn fetch_health_with(client: &reqwest::Client, base: &str) -> Result<Health, String> {
    let url = format!("{}/v1/health", base.trim_end_matches('/'));
    let response =
        client.get(&url).send().await.map_err(|e| format!("no agent answers at {base} ({e}); is it running?"))?;
    response.json::<Health>().await.map_err(|e| format!("the agent at {base} answered something unexpected: {e}"))
}

/// POSTs an empty JSON body to the running agent with its token: what the command line and
/// the tray ask it to do. An agent that does not answer is a sentence saying so.
pub async fn post_to_agent(
    base: &str,
    path: &str,
    token: &str,
    timeout: std::time::Duration,
) -> Result<reqwest::Response, String> {
    let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
    client
        .post(format!("{}{path}", base.trim_end_matches('/')))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .map_err(|e| {
            format!("no agent answers at {base} ({e}); start it (`loyalty-agent serve`, or the loyalty-agent service) and try again")
        })
}

/// Asks the agent at `base` to sync now and returns its answer as a sentence: how the sync
/// went, or (when it is still running after `wait_s` seconds) how far it has come.
pub async fn sync_now(base: &str, token: &str) -> Result<String, String> {
    sync_request(base, token, 10).await.map(|answer| answer.line)
}

/// What `POST /v1/sync` answered.
struct SyncAnswer {
    line: String,
    /// 202: the sync goes on after the answer.
    running: bool,
}

async fn sync_request(base: &str, token: &str, wait_s: u64) -> Result<SyncAnswer, String> {
    let path = format!("/v1/sync?wait={wait_s}");
    let response = post_to_agent(base, &path, token, std::time::Duration::from_secs(wait_s + 20)).await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(|e| format!("unexpected answer: {e}"))?;
    let ok = status.is_success();
    let text = if ok { &body["message"] } else { &body["error"]["message"] };
    let line = format!("sync: {}", text.as_str().unwrap_or("no message"));
    if ok {
        Ok(SyncAnswer { line, running: status == reqwest::StatusCode::ACCEPTED })
    } else {
        Err(line)
    }
}

/// `loyalty-agent sync`: asks the agent to sync now and, when that takes longer than a moment
/// (a queue built up offline), follows the drain in the agent's health until the outbox is
/// empty and the cycle has finished: a progress bar on a terminal (`bar`), a line every few
/// seconds otherwise. Returns the closing sentence; `Err` when the sync stopped on a failure.
pub async fn follow_sync(base: &str, token: &str, bar: bool) -> Result<String, String> {
    use indicatif::{ProgressBar, ProgressStyle};
    use std::time::{Duration, Instant};

    let before = fetch_health(base).await?;
    let answer = sync_request(base, token, 2).await?;
    if !answer.running {
        return Ok(answer.line);
    }
    let progress = if bar { ProgressBar::new(0) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} operations sent, {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut sent_total: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let health = match fetch_health(base).await {
            Ok(health) => health,
            Err(e) => {
                progress.abandon();
                return Err(format!("sync: lost the agent while following the sync: {e}"));
            }
        };
        let sync = &health.sync;
        if let Some(drain) = sync.drain {
            sent_total = sent_total.max(drain.sent);
            progress.set_length(drain.sent + drain.left);
            progress.set_position(drain.sent);
            progress.set_message(format!("{} left, {}/s", drain.left, drain.rate_per_s));
            if !bar && last_line.elapsed() >= Duration::from_secs(5) {
                println!("sync: {} operations sent, {} left, {}/s", drain.sent, drain.left, drain.rate_per_s);
                last_line = Instant::now();
            }
            continue;
        }
        // Not pushing: either the cycle is done (online, and it finished after we asked), or it
        // failed (a failure newer than the ones before we asked), or it is still pulling.
        let finished = sync.state == SyncState::Online
            && (sync.pending == 0 || sync.last_success_at != before.sync.last_success_at);
        let failed = sync.state == SyncState::AuthError || sync.consecutive_failures > before.sync.consecutive_failures;
        if finished {
            progress.finish_and_clear();
            return Ok(format!(
                "sync: done in {:.1} s{}; everything committed here has reached the cloud",
                started.elapsed().as_secs_f64(),
                if sent_total > 0 { format!(", {sent_total} operations sent") } else { String::new() }
            ));
        }
        if failed {
            progress.abandon();
            return Err(format!(
                "sync: stopped — {}; {} operations still waiting (the agent retries by itself)",
                sync.last_error.as_deref().unwrap_or("the cloud could not be reached"),
                sync.pending
            ));
        }
    }
}

/// Health as sentences for a person at the till.
pub fn describe(health: &Health) -> String {
    let mut lines = Vec::new();
    lines.push(format!(
        "loyalty-agent {} is running ({}), {}.",
        health.version,
        health.mode,
        if health.status == "ok" { "healthy" } else { "UNHEALTHY" }
    ));
    if health.storage.ok {
        lines.push("Local database: writable.".to_owned());
    } else {
        lines.push(format!(
            "Local database: NOT writable — {}. Sales cannot be committed; check the disk.",
            health.storage.error.as_deref().unwrap_or("unknown error")
        ));
    }
    let sync = &health.sync;
    lines.push(match sync.state {
        SyncState::Disabled => format!("Sync: none (standalone); {} operations recorded locally.", sync.pending),
        SyncState::Online => format!("Sync: online, {} operations waiting.", sync.pending),
        SyncState::AuthError => format!(
            "Sync: STOPPED — {}. {} operations waiting.",
            sync.last_error.as_deref().unwrap_or("the cloud refused this till's credentials; enroll it again"),
            sync.pending
        ),
        other => format!(
            "Sync: {other}, {} operations waiting{}{}.",
            sync.pending,
            sync.oldest_pending_seconds.map(|s| format!(", the oldest for {s} s")).unwrap_or_default(),
            sync.last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default()
        ),
    });
    if let Some(at) = &sync.last_success_at {
        lines.push(format!("Last successful sync: {at}."));
    }
    lines.join("\n")
}
