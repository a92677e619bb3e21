//! `loyalty-agent doctor`: checks what a till needs and says, for each thing, ✓ or ✗ and what
//! to do. The port (is the agent answering, is the port free or taken), the database (there,
//! readable, intact, a known schema; free disk), the cloud (reachable; the till's clock against
//! the cloud's `Date`), and the token files' permissions.
//!
//! It changes nothing: the database is opened read-only, and a free port is only bound for
//! the instant it takes to learn that it is free.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agent::cloud_link::CloudLink;
use crate::agent::config::AgentConfig;
use crate::agent::status;
use crate::agent::store::inspect;
use crate::clock;

/// Below this much free space in the data folder, the disk check fails: a full disk stops
/// sales (commits answer 503), and SQLite needs room for its journal.
pub const MIN_FREE_BYTES: u64 = 200 * 1024 * 1024;

/// A clock further than this from the cloud's fails: offline spending windows, activation
/// delays and expiry are all computed from the till's clock.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 120;

/// One checked thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    /// What was checked: `port`, `database`, `disk`, `cloud`, `clock`, `token file`, …
    pub name: &'static str,
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { ok: true, name, detail: detail.into(), fix: None }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { ok: false, name, detail: detail.into(), fix: Some(fix.into()) }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = if self.ok { '✓' } else { '✗' };
        write!(f, "{mark} {}: {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, " — {fix}")?;
        }
        Ok(())
    }
}

/// Every check, in the order they are printed.
#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Runs every check for the agent `config` describes.
pub async fn run(config: &AgentConfig) -> Report {
    let mut checks = port(config.listen).await;
    let (database_path, data_dir) = (config.database_path(), config.data_dir.clone());
    // SQLite and statvfs block: off the async threads.
    let local = tokio::task::spawn_blocking(move || {
        let mut checks = vec![database(&database_path)];
        checks.push(disk(&data_dir));
        (checks, inspect::inspect(&database_path).ok().and_then(|report| report.sequence_conflict))
    })
    .await
    .unwrap_or_else(|_| {
        (vec![Check::fail("database", "the check stopped unexpectedly", "run the doctor again")], None)
    });
    let (local, conflict) = local;
    checks.extend(local);
    checks.extend(cloud(&config.config_dir).await);
    // The database remembers a refused numbering even when the agent is not running to say so.
    if let (Some(seq), false) = (conflict, checks.iter().any(|check| check.name == "sync" && !check.ok)) {
        if let Ok(Some(link)) = CloudLink::load(&config.config_dir) {
            checks.push(Check::fail(
                "sync",
                format!(
                    "the cloud refused this till's operation {seq}: it holds other operations under this till's numbers (the database was restored from a backup?); nothing is synced"
                ),
                format!(
                    "ask the back office for a new enrollment code for till {}, then run `loyalty-agent enroll --cloud {} --code CODE --replace`",
                    link.till_id, link.url
                ),
            ));
        }
    }
    checks.extend(token_files(config));
    Report { checks }
}

/// Is our agent answering at `listen`; if not, is the port free or held by something else.
async fn port(listen: SocketAddr) -> Vec<Check> {
    match status::fetch_health(&format!("http://{listen}")).await {
        Ok(health) => {
            let mut checks = vec![Check::pass(
                "port",
                format!("loyalty-agent {} answers at {listen} ({})", health.version, health.mode),
            )];
            if health.sync.state == crate::wire::SyncState::AuthError {
                // The worker's error names the cause and the command (with the cloud's address
                // and the till's id); the generic advice is for an agent too old to say.
                let (what, fix) = match health.sync.last_error.as_deref() {
                    Some(error) if error.contains("--replace") => {
                        ("the cloud holds other operations under this till's numbers; nothing is synced", error)
                    }
                    _ => (
                        "the cloud refuses this till's credentials; nothing is synced",
                        "enroll the till again with a new code (`loyalty-agent enroll --cloud URL --code CODE`)",
                    ),
                };
                checks.push(Check::fail("sync", what, fix));
            }
            if !health.storage.ok {
                checks.push(Check::fail(
                    "agent",
                    format!(
                        "the running agent cannot write its database: {}",
                        health.storage.error.as_deref().unwrap_or("unknown error")
                    ),
                    "free disk space and check the data folder's permissions; sales are refused until a write succeeds",
                ));
            }
            checks
        }
        Err(_) => vec![match std::net::TcpListener::bind(listen) {
            Ok(listener) => {
                drop(listener);
                Check::fail(
                    "port",
                    format!("no agent is running at {listen}"),
                    "start it with `loyalty-agent serve` or the service (`sudo systemctl start loyalty-agent`)",
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Check::fail(
                "port",
                format!("port {} on {} is taken by another program, not loyalty-agent", listen.port(), listen.ip()),
                "stop that program, or run the agent on another port with `--listen 127.0.0.1:PORT` (and give the till software and the tray the same address)",
            ),
            Err(e) => Check::fail(
                "port",
                format!("cannot tell whether {listen} is free: {e}"),
                "check that the address belongs to this machine, or pass the agent's with `--listen`",
            ),
        }],
    }
}

/// The database file: there, readable, intact, a schema this build knows.
fn database(path: &Path) -> Check {
    let shown = path.display();
    if !path.exists() {
        return Check::fail(
            "database",
            format!("no database at {shown}"),
            "start the agent once (`loyalty-agent serve`) to create it, or pass the folder it uses with `--data-dir`",
        );
    }
    match inspect::inspect(path) {
        Err(e) => Check::fail(
            "database",
            format!("{shown} cannot be read: {e}"),
            "if it is damaged, stop the agent, move the file away and restore a backup (an enrolled till pulls its customers from the cloud again); if it is a permission error, run the doctor as the agent's user",
        ),
        Ok(report) if !report.intact() => Check::fail(
            "database",
            format!("{shown} is damaged (integrity check: {})", report.quick_check),
            "stop the agent, move the file away and restore a backup (an enrolled till pulls its customers from the cloud again)",
        ),
        Ok(report) if report.unreadable_total > 0 => Check::fail(
            "database",
            format!(
                "{shown}: {} stored record(s) cannot be read (damaged JSON): {}{}",
                report.unreadable_total,
                report.unreadable.join(", "),
                if report.unreadable_total as usize > report.unreadable.len() { ", …" } else { "" }
            ),
            "the rest of the till works; to get these records back, stop the agent and restore agent.db from a backup made before the damage (an enrolled till pulls its customers from the cloud again)",
        ),
        Ok(report) if report.schema_version > report.known_version => Check::fail(
            "database",
            format!(
                "{shown} was written by a newer loyalty-agent (schema {}, this one knows {})",
                report.schema_version, report.known_version
            ),
            "install that version of loyalty-agent or a newer one",
        ),
        Ok(report) => {
            let counts = match (report.customers, report.pending) {
                (Some(customers), Some(pending)) => {
                    format!(", {customers} customers, {pending} operations in the outbox")
                }
                _ => String::new(),
            };
            let upgrade = if report.schema_version < report.known_version {
                " (upgraded at the agent's next start)"
            } else {
                ""
            };
            Check::pass(
                "database",
                format!("{shown}: integrity ok, schema {}{upgrade}{counts}", report.schema_version),
            )
        }
    }
}

/// Free space where the database lives.
fn disk(data_dir: &Path) -> Check {
    // The folder may not exist yet: measure the nearest one that does.
    let mut probe: PathBuf = data_dir.to_path_buf();
    while !probe.exists() {
        match probe.parent() {
            Some(parent) => probe = parent.to_path_buf(),
            None => break,
        }
    }
    match free_bytes(&probe) {
        Ok(Some(free)) if free < MIN_FREE_BYTES => Check::fail(
            "disk",
            format!("only {} MB free in {}", free / (1024 * 1024), probe.display()),
            format!("free at least {} MB: with a full disk the agent refuses sales", MIN_FREE_BYTES / (1024 * 1024)),
        ),
        Ok(Some(free)) => Check::pass("disk", format!("{} MB free in {}", free / (1024 * 1024), probe.display())),
        Ok(None) => Check::pass("disk", "free space is not checked on this platform"),
        Err(e) => Check::fail(
            "disk",
            format!("cannot read the free space of {}: {e}", probe.display()),
            "check that the data folder exists and is readable",
        ),
    }
}

#[cfg(unix)]
fn free_bytes(path: &Path) -> std::io::Result<Option<u64>> {
    let stats = rustix::fs::statvfs(path)?;
    Ok(Some(stats.f_bavail.saturating_mul(stats.f_frsize)))
}

#[cfg(not(unix))]
fn free_bytes(_path: &Path) -> std::io::Result<Option<u64>> {
    Ok(None)
}

/// The cloud, when the till is enrolled: reachable, healthy, and its clock against ours.
async fn cloud(config_dir: &Path) -> Vec<Check> {
    let link = match CloudLink::load(config_dir) {
        Ok(None) => return vec![Check::pass("cloud", "standalone (not enrolled to a cloud); nothing to reach")],
        Ok(Some(link)) => link,
        Err(e) => {
            return vec![Check::fail("cloud", e.to_string(), "enroll the till again with `loyalty-agent enroll`")]
        }
    };
    let url = link.url.trim_end_matches('/').to_owned();
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(client) => client,
        Err(e) => return vec![Check::fail("cloud", format!("cannot make an HTTP client: {e}"), "report this bug")],
    };
    let response = match client.get(format!("{url}/v1/health")).send().await {
        Ok(response) => response,
        Err(e) => {
            return vec![Check::fail(
                "cloud",
                format!("{url} is unreachable ({})", error_chain(&e)),
                "check the network, proxy and firewall between this till and the cloud; sales go on offline and sync when it is back",
            )]
        }
    };
    let received_at = clock::now();
    let mut checks = vec![if response.status().is_success() {
        Check::pass("cloud", format!("{url} reachable (till {} of store {})", link.till_id, link.store))
    } else {
        Check::fail(
            "cloud",
            format!("{url} answers {} to its health check", response.status()),
            "the cloud is up but unhealthy: tell its administrator (its database may be down)",
        )
    }];
    let cloud_time = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| httpdate::parse_http_date(text).ok())
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|since| i64::try_from(since.as_secs()).ok());
    checks.push(match cloud_time {
        None => Check::pass("clock", "the cloud sent no Date header; the clock was not compared"),
        Some(cloud_now) => clock_check(received_at - cloud_now),
    });
    checks
}

/// `skew` is our clock minus the cloud's, in seconds. The `Date` header has whole seconds and
/// the answer took some time, so a second or two either way means nothing.
fn clock_check(skew: i64) -> Check {
    let amount = skew.unsigned_abs();
    if skew.abs() > MAX_CLOCK_SKEW_SECONDS {
        let direction = if skew > 0 { "ahead of" } else { "behind" };
        Check::fail(
            "clock",
            format!("this till's clock is {amount} s {direction} the cloud's"),
            "fix the till's clock (turn on network time, e.g. `sudo timedatectl set-ntp true`): offline points windows and expiry depend on it",
        )
    } else {
        Check::pass("clock", format!("within {amount} s of the cloud's"))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The agent token and the device token must not be readable by every user of the machine.
fn token_files(config: &AgentConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    let agent_token = config.token_path();
    if agent_token.exists() {
        checks.push(private_file("token file", &agent_token));
    } else if config.token_override.is_some() {
        checks.push(Check::pass("token file", "none; the token comes from LOYALTY_AGENT_TOKEN"));
    } else {
        checks.push(Check::pass(
            "token file",
            format!("none yet at {}; the agent creates it, private, at its first start", agent_token.display()),
        ));
    }
    let device_token = config.config_dir.join("device_token");
    if device_token.exists() {
        checks.push(private_file("device token file", &device_token));
    }
    checks
}

#[cfg(unix)]
fn private_file(name: &'static str, path: &Path) -> Check {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o007 == 0 {
                Check::pass(name, format!("{} is not readable by other users (mode {mode:04o})", path.display()))
            } else {
                Check::fail(
                    name,
                    format!("{} can be read by every user of this machine (mode {mode:04o})", path.display()),
                    format!("run `chmod 600 {}` (or `chmod 640` when a cashiers' group must read it)", path.display()),
                )
            }
        }
        Err(e) => Check::fail(
            name,
            format!("cannot read the permissions of {}: {e}", path.display()),
            "run the doctor as the agent's user",
        ),
    }
}

#[cfg(not(unix))]
fn private_file(name: &'static str, path: &Path) -> Check {
    Check::pass(name, format!("{} exists; its permissions are not checked on this platform", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_what_to_do() {
        let failed = Check::fail("port", "no agent is running at 127.0.0.1:1", "start it");
        assert_eq!(failed.to_string(), "✗ port: no agent is running at 127.0.0.1:1 — start it");
        assert_eq!(Check::pass("disk", "1 MB free").to_string(), "✓ disk: 1 MB free");
    }

    #[test]
    fn clock_skew_limits() {
        assert!(clock_check(0).ok);
        assert!(clock_check(MAX_CLOCK_SKEW_SECONDS).ok);
        assert!(clock_check(-MAX_CLOCK_SKEW_SECONDS).ok);
        let ahead = clock_check(MAX_CLOCK_SKEW_SECONDS + 1);
        assert!(!ahead.ok && ahead.detail.contains("ahead of"), "{ahead}");
        let behind = clock_check(-3600);
        assert!(!behind.ok && behind.detail.contains("3600 s behind"), "{behind}");
        assert!(behind.fix.unwrap().contains("fix the till's clock"));
    }

    #[test]
    fn damaged_pages_fail_the_database_check() {
        use crate::agent::store::{Store, StoreSettings};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let settings =
            StoreSettings { default_region: "RU".into(), card_prefix: "2700".into(), connected: false, store: None };
        drop(Store::open(&path, settings).unwrap());
        assert!(database(&path).ok, "{}", database(&path));
        // Page 1 (the header and schema) intact, every other page garbage.
        let mut bytes = std::fs::read(&path).unwrap();
        let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
        assert!(bytes.len() > 2 * page, "the database has more than one page");
        for byte in &mut bytes[page..] {
            *byte = 0xa5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let check = database(&path);
        assert!(!check.ok, "{check}");
        assert!(check.fix.as_deref().unwrap_or("").contains("restore a backup"), "{check}");
    }

    #[cfg(unix)]
    #[test]
    fn token_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "x").unwrap();
        for (mode, ok) in [(0o600, true), (0o640, true), (0o644, false), (0o606, false)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let check = private_file("token file", &path);
            assert_eq!(check.ok, ok, "{mode:o}: {check}");
            if !ok {
                assert!(check.fix.unwrap().contains(&format!("chmod 600 {}", path.display())));
            }
        }
    }
}
