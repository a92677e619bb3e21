//! Issue 9, point 1: a till restored from an old backup recovers. A real `agent.db` is copied
//! (the backup), the till sells on and syncs, the copy is put back and the till sells again: the
//! cloud stops it with `sequence_conflict`, health and the doctor say what to run, and
//! `loyalty-agent enroll --replace` with a new code for the same till brings every operation to
//! the cloud exactly once, with balances that count nothing twice and lose nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::proxy::{Fault, FaultProxy};
use crate::support::{agent_binary, Agent};
use crate::sync_e2e::{enroll, eventually, wait_drained};

fn sale(id: &str, customer_id: &str, price: i64) -> Value {
    json!({ "id": id, "customer": { "id": customer_id },
            "lines": [{ "sku": "beans", "quantity": "1", "price": price }] })
}

/// The database files a backup of the data folder holds (the WAL too: the agent was killed).
const DATABASE_FILES: [&str; 2] = ["agent.db", "agent.db-wal"];

pub(crate) fn back_up(dir: &Path, backup: &Path) {
    for name in DATABASE_FILES {
        let from = dir.join(name);
        if from.exists() {
            std::fs::copy(&from, backup.join(name)).expect("copy the database");
        }
    }
}

pub(crate) fn restore(backup: &Path, dir: &Path) {
    for name in DATABASE_FILES.iter().chain(&["agent.db-shm"]) {
        let _ = std::fs::remove_file(dir.join(name));
    }
    for name in DATABASE_FILES {
        let from = backup.join(name);
        if from.exists() {
            std::fs::copy(&from, dir.join(name)).expect("restore the database");
        }
    }
}

/// Runs the real CLI against the data folder `dir`.
pub(crate) async fn agent_command(dir: &Path, args: &[&str]) -> Output {
    let (dir, args): (PathBuf, Vec<String>) = (dir.to_owned(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        Command::new(agent_binary())
            .args(&args)
            .arg("--data-dir")
            .arg(&dir)
            .env("LOYALTY_LOG", "warn")
            .output()
            .expect("run loyalty-agent")
    })
    .await
    .expect("the command's thread")
}

pub(crate) fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

pub(crate) async fn new_code(cloud: &Cloud, till_id: &str) -> String {
    let (status, body) = cloud.admin_post(&format!("/v1/admin/tills/{till_id}/enrollment-code"), json!({})).await;
    assert_eq!(status, 201, "{body}");
    body["enrollment_code"].as_str().expect("a code").to_owned()
}

async fn cloud_balance(cloud: &Cloud, customer_id: &str) -> i64 {
    cloud.points(customer_id).await["balance"].as_i64().expect("balance")
}

async fn till_balance(agent: &Agent, customer_id: &str) -> i64 {
    let (status, body) = agent.get(&format!("/v1/customers/{customer_id}")).await;
    assert_eq!(status, 200, "{body}");
    body["points"]["balance"].as_i64().expect("balance")
}

async fn cloud_receipts(cloud: &Cloud, customer_id: &str) -> Vec<String> {
    let (status, body) = cloud.admin_get(&format!("/v1/admin/receipts?customer={customer_id}")).await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<String> = body["receipts"]
        .as_array()
        .expect("receipts")
        .iter()
        .map(|r| r["receipt_id"].as_str().or(r["id"].as_str()).expect("a receipt id").to_owned())
        .collect();
    ids.sort();
    ids
}

cloud_test!(a_restored_till_recovers_with_enroll_replace, restored_till_scenario);
async fn restored_till_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let ivan = cloud.customer("+79995550101").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &proxy.url(), dir.path(), "restored-till").await;
    let mut agent = Agent::spawn_in(dir.path(), None);

    // r-1 reaches the cloud; r-2 is made offline and is still queued when the backup is taken.
    assert_eq!(agent.post("/v1/receipts", sale("r-1", &ivan_id, 10000)).await.0, 200);
    wait_drained(&agent, Duration::from_secs(10)).await;
    proxy.set(Fault::Refuse);
    assert_eq!(agent.post("/v1/receipts", sale("r-2", &ivan_id, 20000)).await.0, 200);
    agent.kill9();
    back_up(dir.path(), backup.path());

    // The till goes on: r-2 and r-3 reach the cloud, and a customer enrolled here too.
    proxy.set(Fault::None);
    agent = Agent::spawn_in(dir.path(), None);
    assert_eq!(agent.post("/v1/receipts", sale("r-3", &ivan_id, 40000)).await.0, 200);
    let olga = agent.enroll("+79995550202", "Ольга").await;
    let olga_id = olga["id"].as_str().unwrap().to_owned();
    wait_drained(&agent, Duration::from_secs(10)).await;
    // 5 % of 100.00 + 200.00 + 400.00.
    assert_eq!(cloud_balance(&cloud, &ivan_id).await, 35);
    agent.kill9();

    // The disk dies; the till is restored from the backup and sells r-4 at once.
    restore(backup.path(), dir.path());
    agent = Agent::spawn_in(dir.path(), None);
    assert_eq!(agent.post("/v1/receipts", sale("r-4", &ivan_id, 80000)).await.0, 200);
    let stopped = eventually(Duration::from_secs(15), "health to say sync stopped", || async {
        let (_, health) = agent.get("/v1/health").await;
        (health["sync"]["state"] == "auth_error").then_some(health)
    })
    .await;
    let error = stopped["sync"]["last_error"].as_str().unwrap_or_default().to_owned();
    let command = format!("loyalty-agent enroll --cloud {} --code CODE --replace", proxy.url());
    assert!(error.contains(&command) && error.contains(&till_id), "health says what to run: {stopped}");
    assert_eq!(stopped["sync"]["pending"], 1, "r-4 waits; r-2 was answered duplicate: {stopped}");

    // The doctor says the same, and plain `enroll` points at --replace.
    let doctor = agent_command(dir.path(), &["doctor", "--listen", agent.addr()]).await;
    assert!(!doctor.status.success());
    assert!(text(&doctor).contains(&command), "the doctor says what to run: {}", text(&doctor));
    let code = new_code(&cloud, &till_id).await;
    let plain = agent_command(dir.path(), &["enroll", "--cloud", &proxy.url(), "--code", &code]).await;
    assert!(!plain.status.success());
    assert!(text(&plain).contains("--replace"), "{}", text(&plain));

    // The cashier page and the tills keep working while the operator recovers; then the agent
    // is restarted with the new token, as the command says.
    let replaced = agent_command(dir.path(), &["enroll", "--cloud", &proxy.url(), "--code", &code, "--replace"]).await;
    assert!(replaced.status.success(), "enroll --replace: {}", text(&replaced));
    assert!(text(&replaced).contains(&till_id), "{}", text(&replaced));
    assert!(text(&replaced).contains("1 to send"), "r-4 is the one operation left to send: {}", text(&replaced));
    agent.kill9();
    agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(15)).await;

    // Every sale is in the cloud exactly once; both sides agree, counting nothing twice.
    assert_eq!(cloud_receipts(&cloud, &ivan_id).await, ["r-1", "r-2", "r-3", "r-4"]);
    assert_eq!(cloud_balance(&cloud, &ivan_id).await, 75);
    eventually(Duration::from_secs(10), "the till's balance to match the cloud's", || async {
        (till_balance(&agent, &ivan_id).await == 75).then_some(())
    })
    .await;
    // What the lost copy did is at the till again: the customer it enrolled is found.
    let (status, found) = agent.get(&format!("/v1/customers/{olga_id}")).await;
    assert_eq!(status, 200, "{found}");
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts").await;
    let rejected = conflicts["conflicts"]
        .as_array()
        .map(|list| list.iter().filter(|c| c["kind"] == "rejected_event").count())
        .unwrap_or(0);
    assert_eq!(rejected, 0, "nothing was refused: {conflicts}");

    // And the till goes on syncing under the cloud's numbering.
    assert_eq!(agent.post("/v1/receipts", sale("r-5", &ivan_id, 10000)).await.0, 200);
    wait_drained(&agent, Duration::from_secs(10)).await;
    assert_eq!(cloud_balance(&cloud, &ivan_id).await, 80);
    assert_eq!(till_balance(&agent, &ivan_id).await, 80);
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!(health["sync"]["state"], "online", "{health}");
}

/// `--replace` on a till the cloud has not refused asks for `--yes` and spends no code; with
/// it the till is enrolled again and syncs on as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_on_a_healthy_till_asks_for_confirmation() {
    let cloud = Cloud::start(Backend::Sqlite).await;
    let ivan = cloud.customer("+79995550303").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &cloud.base, dir.path(), "healthy-till").await;
    let mut agent = Agent::spawn_in(dir.path(), None);
    assert_eq!(agent.post("/v1/receipts", sale("h-1", &ivan_id, 10000)).await.0, 200);
    wait_drained(&agent, Duration::from_secs(10)).await;

    let code = new_code(&cloud, &till_id).await;
    let asked = agent_command(dir.path(), &["enroll", "--cloud", &cloud.base, "--code", &code, "--replace"]).await;
    assert!(!asked.status.success(), "{}", text(&asked));
    assert!(text(&asked).contains("--yes"), "{}", text(&asked));
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!(health["sync"]["state"], "online", "the refused command changed nothing: {health}");

    let done =
        agent_command(dir.path(), &["enroll", "--cloud", &cloud.base, "--code", &code, "--replace", "--yes"]).await;
    assert!(done.status.success(), "the code was not spent by the refusal: {}", text(&done));
    agent.kill9();
    agent = Agent::spawn_in(dir.path(), None);
    assert_eq!(agent.post("/v1/receipts", sale("h-2", &ivan_id, 10000)).await.0, 200);
    wait_drained(&agent, Duration::from_secs(10)).await;
    assert_eq!(cloud_balance(&cloud, &ivan_id).await, 10);
    assert_eq!(till_balance(&agent, &ivan_id).await, 10);
}
