//! A database that cannot be written: commits answer 503 `storage_unavailable` (never a 200
//! for something not stored) and health says so.

use std::process::Command;

use serde_json::json;

use crate::support::{assert_error, Agent};

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Disk full: the data directory is a small tmpfs we fill up while the agent runs.
/// Mounting needs root, which CI has; elsewhere the read-only test below covers the path.
#[tokio::test]
async fn disk_full_refuses_commits_with_503() {
    if !is_root() {
        eprintln!("disk_full_refuses_commits_with_503: needs root to mount a tmpfs; covered by the read-only test");
        return;
    }
    let mount = tempfile::tempdir().unwrap();
    let status =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"]).arg(mount.path()).status().unwrap();
    assert!(status.success(), "mount a tmpfs (CI runs as root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.path().to_path_buf());

    let agent = Agent::spawn_in(mount.path(), None);
    let customer = agent.enroll("+79995550022", "Full Disk").await;
    let id = customer["id"].as_str().unwrap().to_owned();
    let (status, _) = agent
        .post("/v1/receipts", json!({ "id": "before", "customer": { "id": id }, "lines": [{ "sku": "x", "quantity": 1, "price": 1000 }] }))
        .await;
    assert_eq!(status, 200);

    // Fill the disk.
    let filler = mount.path().join("filler");
    let _ = Command::new("dd").arg("if=/dev/zero").arg(format!("of={}", filler.display())).args(["bs=64k"]).output();

    // Commits now either fail with 503 or, if SQLite still had room in its files, are stored.
    let mut refused = 0;
    for n in 0..200 {
        let receipt_id = format!("full-{n}");
        let lines: Vec<_> = (0..50)
            .map(|i| json!({ "sku": format!("sku-{i}-{}", "x".repeat(100)), "quantity": 1, "price": 100 }))
            .collect();
        let answer =
            agent.post("/v1/receipts", json!({ "id": receipt_id, "customer": { "id": id }, "lines": lines })).await;
        if answer.0 == 200 {
            let (status, _) = agent.get(&format!("/v1/receipts/{receipt_id}")).await;
            assert_eq!(status, 200, "a 200 must mean stored");
        } else {
            assert_error(&answer, 503, "storage_unavailable");
            refused += 1;
            break;
        }
    }
    assert_eq!(refused, 1, "a full disk must make a commit fail");
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_eq!(health["storage"]["ok"], false);

    // Space again: the agent recovers by itself.
    std::fs::remove_file(&filler).unwrap();
    let (status, body) = agent
        .post(
            "/v1/receipts",
            json!({ "id": "after", "customer": { "id": id }, "lines": [{ "sku": "x", "quantity": 1, "price": 1000 }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!(health["status"], "ok", "{health}");
}

/// A data directory the agent may not write: it starts, says it is unhealthy, and refuses
/// commits with 503. As root the agent is run as `nobody` so permissions apply.
#[tokio::test]
async fn read_only_data_dir_is_unhealthy_and_refuses_commits() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("program.toml"), "").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let wrapper: Option<&[&str]> =
        if is_root() { Some(&["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]) } else { None };
    let agent = Agent::spawn_in(&dir, wrapper);

    let (status, health) = agent.get("/v1/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_eq!(health["storage"]["ok"], false);
    let answer = agent
        .post("/v1/receipts", json!({ "id": "r1", "lines": [{ "sku": "x", "quantity": 1, "price": 1000 }] }))
        .await;
    assert_error(&answer, 503, "storage_unavailable");
    assert_error(&agent.post("/v1/customers", json!({ "phone": "+79995550033" })).await, 503, "storage_unavailable");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
