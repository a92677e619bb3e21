//! `loyalty-agent status`: asks the running agent for its health and says it in words.

use crate::wire::Health;

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

/// Asks the agent at `base` to sync now and returns its answer as a sentence.
pub async fn sync_now(base: &str, token: &str) -> Result<String, String> {
    let response = post_to_agent(base, "/v1/sync", token, std::time::Duration::from_secs(60)).await?;
    let ok = response.status().is_success();
    let body: serde_json::Value = response.json().await.map_err(|e| format!("unexpected answer: {e}"))?;
    let text = if ok { &body["message"] } else { &body["error"]["message"] };
    let line = format!("sync: {}", text.as_str().unwrap_or("no message"));
    if ok {
        Ok(line)
    } else {
        Err(line)
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
    lines.push(match sync.state.as_str() {
        "disabled" => format!("Sync: none (standalone); {} operations recorded locally.", sync.pending),
        "online" => format!("Sync: online, {} operations waiting.", sync.pending),
        "auth_error" => format!(
            "Sync: STOPPED — the cloud refused this till's credentials; enroll it again. {} operations waiting.",
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
