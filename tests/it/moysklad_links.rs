//! MoySklad links between the till and the cloud (issue 4): a counterparty id linked on a
//! connected till reaches the cloud in the customer event's `external_id`, and one linked in
//! the cloud reaches the till through the feed. A till's link never replaces the cloud's: the
//! cloud keeps its own and lists a `moysklad_link` conflict.

use serde_json::{json, Value};

use crate::cloud_support::{customer_created, event, Backend, Cloud};
use crate::cloud_test;
use crate::moysklad::{cloud_moysklad, fixture, MoySklad, CREATE};
use crate::moysklad_flows::{drained, enroll, eventually};
use crate::support::{Agent, TOKEN};

const MS_CREATED: &str = "11111111-0000-4000-8000-00000000000a";
const MS_FOUND: &str = "11111111-0000-4000-8000-00000000000b";
const MS_CLOUD: &str = "11111111-0000-4000-8000-00000000000c";

fn detail(ms_id: &str) -> Value {
    json!({ "retailStore": { "meta": { "href": "h", "id": "store" } }, "meta": { "href": "h", "id": ms_id } })
}

cloud_test!(moysklad_links_travel_between_till_and_cloud, links_scenario);
async fn links_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (cloud_ms, _) = cloud_moysklad(&cloud).await;
    let dir = tempfile::tempdir().expect("temp dir");
    enroll(&cloud, dir.path()).await;
    let agent = Agent::spawn_in(dir.path(), None);
    let till_ms = MoySklad::new(&agent.base, TOKEN);

    // Before anything is linked, the cloud does not know the id.
    cloud_ms.post("/counterparty/detail", &detail(MS_CREATED)).await.error(404, 40400);

    // 1. A MoySklad create on the till: after sync, the cloud finds the customer by that id.
    let create = fixture(CREATE, &[("/phone", json!("+79991110001")), ("/meta/id", json!(MS_CREATED))]);
    assert_eq!(till_ms.post("/counterparty", &create).await.status, 201);
    let row = till_ms.get("/counterparty?search=79991110001").await.ok(200)["rows"][0].clone();
    let created_id = row["id"].as_str().expect("id").to_owned();
    eventually("the outbox to drain", || drained(&agent)).await;
    let found = cloud_ms.post("/counterparty/detail", &detail(MS_CREATED)).await;
    assert!(found.ok(200)["bonusProgram"]["agentBonusBalance"].is_number(), "{}", found.text);
    let cloud_row = cloud_ms.get("/counterparty?search=79991110001").await.ok(200)["rows"][0].clone();
    assert_eq!((cloud_row["id"].as_str(), cloud_row["msId"].as_str()), (Some(created_id.as_str()), Some(MS_CREATED)));
    assert_eq!(cloud.admin_get(&format!("/v1/admin/customers/{created_id}")).await.0, 200);

    // 2. A customer enrolled natively on the till, then found by MoySklad by phone: linked on the
    // till, and that link reaches the cloud too.
    let native = agent.enroll("+79991110002", "Native Customer").await;
    let native_id = native["id"].as_str().expect("id").to_owned();
    let mut by_phone = detail(MS_FOUND);
    by_phone["phone"] = json!("8 999 111-00-02");
    assert_eq!(till_ms.post("/counterparty/detail", &by_phone).await.status, 200);
    eventually("the outbox to drain", || drained(&agent)).await;
    cloud_ms.post("/counterparty/detail", &detail(MS_FOUND)).await.ok(200);
    let cloud_row = cloud_ms.get("/counterparty?search=79991110002").await.ok(200)["rows"][0].clone();
    assert_eq!((cloud_row["id"].as_str(), cloud_row["msId"].as_str()), (Some(native_id.as_str()), Some(MS_FOUND)));

    // 3. A customer MoySklad created in the cloud: the feed brings the link to the till.
    let in_cloud = fixture(CREATE, &[("/phone", json!("+79991110003")), ("/meta/id", json!(MS_CLOUD))]);
    assert_eq!(cloud_ms.post("/counterparty", &in_cloud).await.status, 201);
    eventually("the cloud's link on the till", || async {
        till_ms.post("/counterparty/detail", &detail(MS_CLOUD)).await.status == 200
    })
    .await;
    let till_row = till_ms.get("/counterparty?search=79991110003").await.ok(200)["rows"][0].clone();
    assert_eq!(till_row["msId"], MS_CLOUD);
    // No conflict anywhere on the way.
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=moysklad_link").await;
    assert_eq!(conflicts["conflicts"], json!([]), "{conflicts}");
}

/// An event with a MoySklad link, as a till that linked the customer sends it.
fn linked(mut event: Value, ms_id: &str) -> Value {
    event["payload"]["external_id"] = json!(ms_id);
    event
}

cloud_test!(moysklad_link_from_a_till_never_replaces_the_clouds, link_conflict_scenario);
async fn link_conflict_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (ms, _) = cloud_moysklad(&cloud).await;
    let till = cloud.till("Till 1").await;
    let first = "22222222-0000-4000-8000-000000000001";
    let second = "22222222-0000-4000-8000-000000000002";

    // A till's new customer with a link: the cloud takes it.
    let created = linked(customer_created(1, "till-cust-1", "+79992220001", "2700000000015"), first);
    cloud.push_expect(&till, vec![created], &["applied"]).await;
    ms.post("/counterparty/detail", &detail(first)).await.ok(200);

    // The same customer linked to another id later: the cloud keeps its own and says so.
    let update = event(
        2,
        "customer_updated",
        json!({ "customer_id": "till-cust-1", "fields": ["external_id"], "phone": "+79992220001", "name": null,
                "email": null, "card": "2700000000015", "birthday": null, "tags": [], "consents": {},
                "external_id": second }),
    );
    cloud.push_expect(&till, vec![update], &["applied"]).await;
    ms.post("/counterparty/detail", &detail(first)).await.ok(200);
    ms.post("/counterparty/detail", &detail(second)).await.error(404, 40400);

    // Another customer with an id the cloud already links elsewhere: created, without the link.
    let other = linked(customer_created(3, "till-cust-2", "+79992220002", "2700000000023"), first);
    cloud.push_expect(&till, vec![other], &["applied"]).await;
    let row = ms.get("/counterparty?search=79992220002").await.ok(200)["rows"][0].clone();
    assert_eq!((row["id"].as_str(), row.get("msId")), (Some("till-cust-2"), None), "{row}");
    let row = ms.get("/counterparty?search=79992220001").await.ok(200)["rows"][0].clone();
    assert_eq!(row["msId"], first);

    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=moysklad_link").await;
    let listed = conflicts["conflicts"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 2, "{conflicts}");
    assert!(listed.iter().all(|c| c["till_id"] == till.id.as_str()), "{conflicts}");
    let customers: Vec<&str> = listed.iter().filter_map(|c| c["customer_id"].as_str()).collect();
    assert!(customers.contains(&"till-cust-1") && customers.contains(&"till-cust-2"), "{conflicts}");

    // Events without the field (older tills) still apply and leave the link alone.
    let plain = event(
        4,
        "customer_updated",
        json!({ "customer_id": "till-cust-1", "fields": ["name"], "phone": "+79992220001", "name": "Renamed",
                "email": null, "card": "2700000000015", "birthday": null, "tags": [], "consents": {} }),
    );
    cloud.push_expect(&till, vec![plain], &["applied"]).await;
    ms.post("/counterparty/detail", &detail(first)).await.ok(200);
}
