//! `loyalty-agent doctor` against real things: a running agent, a stopped one, a port held by
//! another program, a damaged database file, a world-readable token file, and a cloud behind
//! the fault proxy, reachable and then refusing.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::cloud_support::{Backend, Cloud};
use crate::proxy::{Fault, FaultProxy};
use crate::support::{agent_binary, Agent};

pub(crate) struct Doctor {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
}

impl Doctor {
    /// The check line `name` (`✓ name: …` or `✗ name: …`).
    pub(crate) fn line(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(&format!("✓ {name}:")) || l.starts_with(&format!("✗ {name}:")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{}", self.stdout))
    }

    fn passed(&self, name: &str) -> bool {
        self.line(name).starts_with('✓')
    }
}

/// Runs the doctor for the agent at `listen` with data in `dir`, as a separate process.
pub(crate) async fn doctor(listen: &str, dir: &Path) -> Doctor {
    let (listen, dir) = (listen.to_owned(), dir.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(agent_binary())
            .args(["doctor", "--listen", &listen, "--data-dir"])
            .arg(&dir)
            .env_remove("LOYALTY_AGENT_TOKEN")
            .env("LOYALTY_LOG", "warn")
            .output()
            .expect("run loyalty-agent doctor")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    for line in stdout.lines() {
        assert!(line.starts_with("✓ ") || line.starts_with("✗ "), "every line is a check: {line:?}\n{stdout}");
        if line.starts_with('✗') {
            assert!(line.contains(" — "), "a failure says what to do: {line}");
        }
    }
    Doctor { code: output.status.code(), stdout }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_standalone_till_passes_every_check() {
    let agent = Agent::start().await;
    let report = doctor(agent.addr(), &agent.dir).await;
    assert_eq!(report.code, Some(0), "{}", report.stdout);
    for name in ["port", "database", "disk", "cloud", "token file"] {
        assert!(report.passed(name), "{name}:\n{}", report.stdout);
    }
    assert!(report.line("port").contains("(standalone)"), "{}", report.stdout);
    assert!(report.line("database").contains("integrity ok"), "{}", report.stdout);
    assert!(report.line("cloud").contains("standalone"), "{}", report.stdout);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_readable_token_file_fails_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt;
    let agent = Agent::start().await;
    let token = agent.dir.join("token");
    std::fs::write(&token, format!("{}\n", crate::support::TOKEN)).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let report = doctor(agent.addr(), &agent.dir).await;
    assert_eq!(report.code, Some(1), "{}", report.stdout);
    let line = report.line("token file");
    assert!(line.starts_with('✗') && line.contains("mode 0644"), "{line}");
    assert!(line.contains(&format!("chmod 600 {}", token.display())), "{line}");

    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = doctor(agent.addr(), &agent.dir).await;
    assert_eq!(report.code, Some(0), "fixed:\n{}", report.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_agent_and_a_port_taken_by_another_program_fail_the_port_check() {
    let mut agent = Agent::start().await;
    let addr = agent.addr().to_owned();
    agent.kill9();
    let report = doctor(&addr, &agent.dir).await;
    assert_eq!(report.code, Some(1), "{}", report.stdout);
    let line = report.line("port");
    assert!(line.starts_with('✗') && line.contains("no agent is running"), "{line}");
    assert!(line.contains("loyalty-agent serve"), "{line}");
    assert!(report.passed("database"), "the file is fine while the agent is stopped:\n{}", report.stdout);

    // Something else listens there (and never answers HTTP).
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().to_string();
    let report = doctor(&taken, &agent.dir).await;
    let line = report.line("port");
    assert!(line.starts_with('✗') && line.contains("taken by another program"), "{line}");
    assert!(line.contains("--listen"), "says how to pick another port: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_fails_the_database_check() {
    let mut agent = Agent::start().await;
    let addr = agent.addr().to_owned();
    agent.kill9();
    // The whole file overwritten, and the WAL that could still hold good pages removed.
    let database = agent.dir.join("agent.db");
    let size = std::fs::metadata(&database).unwrap().len().max(8192) as usize;
    std::fs::write(&database, vec![0x5a_u8; size]).unwrap();
    for side in ["agent.db-wal", "agent.db-shm"] {
        let _ = std::fs::remove_file(agent.dir.join(side));
    }
    let report = doctor(&addr, &agent.dir).await;
    assert_eq!(report.code, Some(1), "{}", report.stdout);
    let line = report.line("database");
    assert!(line.starts_with('✗') && line.contains("not a database"), "{line}");
    assert!(line.contains("restore a backup"), "{line}");
    assert_eq!(std::fs::read(&database).unwrap(), vec![0x5a_u8; size], "the doctor changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_till_checks_the_cloud_and_the_clock() {
    let cloud = Cloud::start(Backend::Sqlite).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    crate::sync_e2e::enroll(&cloud, &proxy.url(), dir.path(), "till-doctor").await;
    let agent = Agent::spawn_in(dir.path(), None);

    let report = doctor(agent.addr(), dir.path()).await;
    assert_eq!(report.code, Some(0), "{}", report.stdout);
    assert!(report.line("port").contains("(connected)"), "{}", report.stdout);
    assert!(report.line("cloud").contains("reachable"), "{}", report.stdout);
    assert!(report.line("clock").contains("within"), "{}", report.stdout);
    assert!(report.passed("device token file"), "{}", report.stdout);

    proxy.set(Fault::Refuse);
    let report = doctor(agent.addr(), dir.path()).await;
    assert_eq!(report.code, Some(1), "{}", report.stdout);
    let line = report.line("cloud");
    assert!(line.starts_with('✗') && line.contains("unreachable"), "{line}");
    assert!(line.contains("sales go on offline"), "{line}");
}
