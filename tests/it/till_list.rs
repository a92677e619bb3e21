//! Issue 11, "Stores and tills": the back office's list of tills says, per till, when it last
//! called, its agent's version, how many events its outbox still holds and whether it is
//! online. Real agents report themselves with every sync call (CONTRACTS.md §sync); the list
//! is scoped to a manager's stores in SQL, so a page is a full page.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cloud_support::{assert_error, Backend, Cloud, Till};
use crate::cloud_test;
use crate::proxy::{Fault, FaultProxy};
use crate::restored_till::{agent_command, back_up, new_code, restore, text};
use crate::support::Agent;
use crate::sync_e2e::{enroll, eventually, wait_drained};

/// The version the agent binary reports: this crate's, as it was built.
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn sale(id: &str, customer_id: &str, price: i64) -> Value {
    json!({ "id": id, "customer": { "id": customer_id },
            "lines": [{ "sku": "beans", "quantity": "1", "price": price }] })
}

/// Seconds from an RFC 3339 time to now (negative: in the future).
fn age_seconds(at: &Value) -> i64 {
    let at = at.as_str().and_then(loyalty::clock::parse_rfc3339).unwrap_or_else(|| panic!("a time, not {at}"));
    loyalty::clock::now() - at
}

cloud_test!(a_syncing_agent_shows_its_version_and_an_empty_outbox, syncing_agent_scenario);
async fn syncing_agent_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let ivan = cloud.customer("+79995550404").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &proxy.url(), dir.path(), "reporting-till").await;
    let agent = Agent::spawn_in(dir.path(), None);

    // Three sales made while the cloud cannot be reached, then one more once it can.
    proxy.set(Fault::Refuse);
    for n in 1..=3 {
        assert_eq!(agent.post("/v1/receipts", sale(&format!("r-{n}"), &ivan_id, 10000)).await.0, 200);
    }
    proxy.set(Fault::None);
    assert_eq!(agent.post("/v1/receipts", sale("r-4", &ivan_id, 10000)).await.0, 200);
    assert_eq!(agent.post("/v1/sync", json!({})).await.0, 200);
    wait_drained(&agent, Duration::from_secs(15)).await;
    let (_, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={ivan_id}")).await;
    assert_eq!(receipts["receipts"].as_array().map(Vec::len), Some(4), "{receipts}");

    let till = cloud.till_view(&till_id).await;
    assert_eq!(till["agent_version"], VERSION, "{till}");
    assert_eq!(till["pending_events"], 0, "the outbox drained: {till}");
    assert_eq!(till["online"], true, "{till}");
    assert_eq!((till["enrolled"].clone(), till["revoked"].clone()), (json!(true), json!(false)), "{till}");
    assert_eq!(till["last_seq"], 4, "{till}");
    let seen = age_seconds(&till["last_seen_at"]);
    assert!((-5..=120).contains(&seen), "last seen {seen} s ago: {till}");
    let reported = age_seconds(&till["pending_reported_at"]);
    assert!((-5..=120).contains(&reported), "pending reported {reported} s ago: {till}");
}

cloud_test!(a_till_the_cloud_refuses_shows_the_events_it_still_holds, refused_till_scenario);
async fn refused_till_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let ivan = cloud.customer("+79995550505").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &proxy.url(), dir.path(), "held-till").await;
    let mut agent = Agent::spawn_in(dir.path(), None);

    // r-1 reaches the cloud; r-2 is still queued when the database is backed up.
    assert_eq!(agent.post("/v1/receipts", sale("r-1", &ivan_id, 10000)).await.0, 200);
    wait_drained(&agent, Duration::from_secs(10)).await;
    proxy.set(Fault::Refuse);
    assert_eq!(agent.post("/v1/receipts", sale("r-2", &ivan_id, 10000)).await.0, 200);
    agent.kill9();
    back_up(dir.path(), backup.path());
    proxy.set(Fault::None);
    agent = Agent::spawn_in(dir.path(), None);
    assert_eq!(agent.post("/v1/receipts", sale("r-3", &ivan_id, 10000)).await.0, 200);
    wait_drained(&agent, Duration::from_secs(10)).await;
    agent.kill9();

    // Restored from the backup, the till sells three more: their numbers are taken in the
    // cloud, which refuses them (`sequence_conflict`) and has none of them.
    restore(backup.path(), dir.path());
    agent = Agent::spawn_in(dir.path(), None);
    const HELD: i64 = 3;
    for n in 0..HELD {
        assert_eq!(agent.post("/v1/receipts", sale(&format!("late-{n}"), &ivan_id, 10000)).await.0, 200);
    }
    // The first push after the restart may have left before the last sale; "sync now" pushes
    // them all (r-2, answered `duplicate` by then, has left the outbox).
    let (status, synced) = agent.post("/v1/sync", json!({})).await;
    assert_eq!(status, 200, "{synced}");
    let (_, health) = agent.get("/v1/health").await;
    assert_eq!(
        (health["sync"]["state"].clone(), health["sync"]["pending"].clone()),
        (json!("auth_error"), json!(HELD))
    );

    let till = eventually(Duration::from_secs(5), "the list to show the held events", || async {
        let till = cloud.till_view(&till_id).await;
        (till["pending_events"] == HELD).then_some(till)
    })
    .await;
    assert_eq!(till["online"], true, "it calls; its sales are not in the cloud: {till}");
    assert_eq!(till["agent_version"], VERSION, "{till}");
    let (_, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={ivan_id}")).await;
    assert_eq!(receipts["receipts"].as_array().map(Vec::len), Some(3), "r-1, r-2, r-3 only: {receipts}");

    // Enrolled again, it sends them: the list says 0 at once, not a minute later.
    let code = new_code(&cloud, &till_id).await;
    let replaced = agent_command(dir.path(), &["enroll", "--cloud", &proxy.url(), "--code", &code, "--replace"]).await;
    assert!(replaced.status.success(), "enroll --replace: {}", text(&replaced));
    agent.kill9();
    agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(15)).await;
    let till = eventually(Duration::from_secs(5), "the list to show an empty outbox", || async {
        let till = cloud.till_view(&till_id).await;
        (till["pending_events"] == 0).then_some(till)
    })
    .await;
    assert_eq!(till["last_seq"], 3 + HELD, "{till}");
}

/// A created (not enrolled) till of `store`; enrolled too when `enrolled`.
async fn till_in(cloud: &Cloud, store: &str, name: &str, enrolled: bool) -> (String, Option<Till>) {
    let (status, created) = cloud.admin_post("/v1/admin/tills", json!({ "store": store, "name": name })).await;
    assert_eq!(status, 201, "{created}");
    let id = created["till_id"].as_str().unwrap().to_owned();
    if !enrolled {
        return (id, None);
    }
    let code = created["enrollment_code"].as_str().unwrap();
    let (status, body) = cloud.send(reqwest::Method::POST, "/v1/enroll", None, Some(json!({ "code": code }))).await;
    assert_eq!(status, 200, "{body}");
    (id.clone(), Some(Till { id, token: body["device_token"].as_str().unwrap().to_owned() }))
}

fn names(page: &Value) -> Vec<&str> {
    page["tills"].as_array().expect("tills").iter().map(|t| t["name"].as_str().unwrap()).collect()
}

cloud_test!(a_managers_page_of_tills_is_a_full_page_of_their_own, managers_page_scenario);
async fn managers_page_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    // Created alternately, so a page cut before filtering would hold half of them.
    for n in 1..=3 {
        till_in(&cloud, "Arbat", &format!("Arbat {n}"), false).await;
        till_in(&cloud, "Tverskaya", &format!("Tverskaya {n}"), false).await;
    }
    cloud.add_user("arbat@romashka.example", "manager", &["Arbat"], "arbat manager 1").await;
    let manager = cloud.sign_in("arbat@romashka.example", "arbat manager 1", None).await.expect("manager");

    let (status, first) = manager.get("/v1/admin/tills?limit=2").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(names(&first), ["Arbat 1", "Arbat 2"], "a full page of their own: {first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (_, second) =
        manager.get(&format!("/v1/admin/tills?limit=2&cursor={}", crate::cloud_support::urlencode(cursor))).await;
    assert_eq!(names(&second), ["Arbat 3"], "{second}");
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    let (_, theirs) = manager.get("/v1/admin/tills?store=Tverskaya").await;
    assert_eq!(names(&theirs), Vec::<&str>::new(), "another store's list is empty for them: {theirs}");
    let (_, own) = manager.get("/v1/admin/tills?store=Arbat&limit=1").await;
    assert_eq!(names(&own), ["Arbat 1"], "{own}");

    // The owner filters by store with the same paging.
    let (_, tverskaya) = cloud.admin_get("/v1/admin/tills?store=Tverskaya&limit=2").await;
    assert_eq!(names(&tverskaya), ["Tverskaya 1", "Tverskaya 2"], "{tverskaya}");
    let (_, all) = cloud.admin_get("/v1/admin/tills").await;
    assert_eq!(names(&all).len(), 6, "{all}");
    assert_error(&(cloud.admin_get("/v1/admin/tills?store=Arbat&limit=0").await), 422, "invalid_limit");
}

cloud_test!(a_tills_report_is_kept_and_what_cannot_be_read_is_ignored, report_headers_scenario);
async fn report_headers_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (new_id, _) = till_in(&cloud, "Arbat", "New", false).await;
    let (id, till) = till_in(&cloud, "Arbat", "Till 1", true).await;
    let till = till.expect("enrolled");

    // Created, never enrolled: nothing reported, not online, not revoked.
    let fresh = cloud.till_view(&new_id).await;
    for field in ["last_seen_at", "agent_version", "pending_events", "pending_reported_at"] {
        assert_eq!(fresh[field], Value::Null, "{field}: {fresh}");
    }
    assert_eq!((fresh["online"].clone(), fresh["revoked"].clone()), (json!(false), json!(false)), "{fresh}");

    let version = ("X-Loyalty-Agent-Version", "9.8.7");
    assert_eq!(cloud.pull_with_headers(&till.token, &[version, ("X-Loyalty-Pending-Events", "12")]).await, 200);
    let reported = cloud.till_view(&id).await;
    assert_eq!((reported["agent_version"].clone(), reported["pending_events"].clone()), (json!("9.8.7"), json!(12)));
    assert_eq!(reported["online"], true, "{reported}");

    // Within the minute, a changed count is written at once; unreadable values are ignored,
    // never refused, and an agent that sends nothing (an older one) changes nothing.
    assert_eq!(cloud.pull_with_headers(&till.token, &[version, ("X-Loyalty-Pending-Events", "5")]).await, 200);
    assert_eq!(cloud.till_view(&id).await["pending_events"], 5);
    for bad in ["-1", "lots", "1e3", ""] {
        let headers = [("X-Loyalty-Agent-Version", "not a version"), ("X-Loyalty-Pending-Events", bad)];
        assert_eq!(cloud.pull_with_headers(&till.token, &headers).await, 200, "{bad:?}");
    }
    assert_eq!(cloud.pull_with_headers(&till.token, &[]).await, 200);
    let kept = cloud.till_view(&id).await;
    assert_eq!((kept["agent_version"].clone(), kept["pending_events"].clone()), (json!("9.8.7"), json!(5)), "{kept}");

    // A push counts what is left once the cloud has answered: the outbox held 2 besides these.
    let ivan = uuid::Uuid::new_v4().to_string();
    let events = vec![crate::cloud_support::customer_created(1, &ivan, "+79995550606", "2700000000606")];
    let response = cloud.client_push_with_headers(&till, events, &[version, ("X-Loyalty-Pending-Events", "3")]).await;
    assert_eq!(response["results"][0]["outcome"], "applied", "{response}");
    assert_eq!(cloud.till_view(&id).await["pending_events"], 2);

    // Revoked: no longer enrolled nor online, and said so; a new code lifts it.
    let (status, revoked) = cloud.admin_post(&format!("/v1/admin/tills/{id}/revoke"), json!({})).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!((revoked["revoked"].clone(), revoked["online"].clone()), (json!(true), json!(false)), "{revoked}");
    assert_eq!(cloud.till_view(&id).await["revoked"], true);
    new_code(&cloud, &id).await;
    let waiting = cloud.till_view(&id).await;
    assert_eq!((waiting["revoked"].clone(), waiting["enrolled"].clone()), (json!(false), json!(false)), "{waiting}");
}
