//! Customer edits from tills (the push API) and the back office (the admin API), on SQLite and
//! PostgreSQL: fields merge last-writer-wins per field in the cloud's receive order; consents
//! compare their timestamps and an opt-out beats an older opt-in, in both directions — with a
//! till's clock running behind or far ahead.

use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cloud_support::{customer_created, Backend, Cloud, Till};
use crate::cloud_test;

/// RFC 3339 for now + `offset` seconds, on the machine's clock (the cloud's too).
fn at(offset: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(offset))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// A `customer_updated` event from a till: `fields` changed, the rest of the payload as given.
fn edit(seq: i64, id: &str, fields: &[&str], changes: Value) -> Value {
    let mut event = customer_created(seq, id, "+79996660001", "27000000017");
    event["kind"] = json!("customer_updated");
    event["payload"]["fields"] = json!(fields);
    event["payload"]["name"] = Value::Null;
    for (key, value) in changes.as_object().unwrap() {
        event["payload"][key] = value.clone();
    }
    event
}

fn consent(granted: bool, at: &str) -> Value {
    json!({ "granted": granted, "at": at, "source": "till" })
}

struct Subject<'a> {
    cloud: &'a Cloud,
    till: &'a Till,
    id: String,
    seq: i64,
}

impl Subject<'_> {
    async fn push(&mut self, fields: &[&str], changes: Value) {
        self.seq += 1;
        let event = edit(self.seq, &self.id, fields, changes);
        self.cloud.push_expect(self.till, vec![event], &["applied"]).await;
    }
    async fn admin(&self, patch: Value) {
        let (status, body) = self.cloud.admin_patch(&format!("/v1/admin/customers/{}", self.id), patch).await;
        assert_eq!(status, 200, "{body}");
    }
    async fn read(&self) -> Value {
        let (status, body) = self.cloud.admin_get(&format!("/v1/admin/customers/{}", self.id)).await;
        assert_eq!(status, 200, "{body}");
        body
    }
    async fn granted(&self, channel: &str) -> bool {
        self.read().await["consents"][channel]["granted"].as_bool().expect("a consent")
    }
}

/// Seconds on the cloud's clock move on (consent times have one-second resolution).
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

cloud_test!(consents_opt_out_beats_an_older_opt_in_both_ways, consents_scenario);
async fn consents_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let (status, created) = cloud
        .admin_post(
            "/v1/admin/customers",
            json!({ "phone": "+79996660001", "consents": { "sms": true, "email": true } }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let mut subject = Subject { cloud: &cloud, till: &till, id: created["id"].as_str().unwrap().to_owned(), seq: 0 };

    // SMS — a till's opt-out against the back office's opt-in.
    // An opt-out older than the opt-in loses (the customer opted in after it)…
    subject.push(&["consents"], json!({ "consents": { "sms": consent(false, &at(-86_400)) } })).await;
    assert!(subject.granted("sms").await, "an older opt-out does not undo a newer opt-in");
    // …one made now wins (a tie in the same second goes to the opt-out as well)…
    subject.push(&["consents"], json!({ "consents": { "sms": consent(false, &at(0)) } })).await;
    let shown = subject.read().await;
    assert_eq!(
        (shown["consents"]["sms"]["granted"].as_bool(), shown["consents"]["sms"]["source"].as_str()),
        (Some(false), Some("till"))
    );
    // …and the back office opting in again later subscribes the customer again.
    next_second().await;
    subject.admin(json!({ "consents": { "sms": true } })).await;
    let shown = subject.read().await;
    assert_eq!(
        (shown["consents"]["sms"]["granted"].as_bool(), shown["consents"]["sms"]["source"].as_str()),
        (Some(true), Some("cloud"))
    );

    // Email — the back office's opt-out against a till's opt-in.
    // A till whose clock runs years ahead opts in: the cloud dates it when it received it…
    subject.push(&["consents"], json!({ "consents": { "email": consent(true, "2099-01-01T00:00:00Z") } })).await;
    let kept = subject.read().await["consents"]["email"]["at"].as_str().unwrap().to_owned();
    assert!(kept <= at(1), "a future consent time is not kept: {kept}");
    // …so the back office's opt-out now beats it (not outranked by the year 2099)…
    subject.admin(json!({ "consents": { "email": false } })).await;
    assert!(!subject.granted("email").await, "the back office's opt-out beats the till's earlier opt-in");
    // …an older opt-in from a till (its clock behind, or an edit queued offline) loses…
    subject.push(&["consents"], json!({ "consents": { "email": consent(true, &at(-3600)) } })).await;
    assert!(!subject.granted("email").await, "an opt-in older than the opt-out does not resubscribe");
    // …and a newer one from the till wins.
    next_second().await;
    subject.push(&["consents"], json!({ "consents": { "email": consent(true, &at(0)) } })).await;
    assert!(subject.granted("email").await, "a later opt-in at the till subscribes again");

    // Other fields: the last one the cloud received wins, field by field, whatever the till's clock.
    subject.admin(json!({ "email": "olga@example.com", "name": "Admin name" })).await;
    subject.push(&["name"], json!({ "name": "Till name" })).await;
    let shown = subject.read().await;
    assert_eq!((shown["name"].as_str(), shown["email"].as_str()), (Some("Till name"), Some("olga@example.com")));
    subject.admin(json!({ "name": "Admin again" })).await;
    let mut stale = edit(subject.seq + 1, &subject.id, &["name"], json!({ "name": "Old till edit" }));
    stale["created_at"] = json!("2020-01-01T00:00:00Z");
    cloud.push_expect(&till, vec![stale], &["applied"]).await;
    subject.seq += 1;
    let shown = subject.read().await;
    assert_eq!(shown["name"], "Old till edit", "receive order, not the till's clock");
    assert_eq!(shown["email"], "olga@example.com", "a name edit leaves the email alone");
    assert_eq!(shown["consents"]["sms"]["granted"], true, "and the consents");

    // A customer enrolled at a till with a consent from the future is dated on arrival too.
    let mut enrolled = customer_created(subject.seq + 1, "till-c-9", "+79996660002", "27000000025");
    enrolled["payload"]["consents"] = json!({ "sms": consent(true, "2099-01-01T00:00:00Z") });
    cloud.push_expect(&till, vec![enrolled], &["applied"]).await;
    let (_, newcomer) = cloud.admin_get("/v1/admin/customers/till-c-9").await;
    assert!(newcomer["consents"]["sms"]["at"].as_str().unwrap() <= at(1).as_str(), "{newcomer}");
}

/// A receiver of webhook deliveries that keeps each body (`cloud_webhooks.rs` checks their
/// signatures and retries).
pub(crate) async fn collecting_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, bodies)
}

cloud_test!(edits_and_consents_are_told_to_subscribers_from_every_side, lifecycle_webhooks_scenario);
async fn lifecycle_webhooks_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, &[("LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS", "true")]).await;
    let (url, bodies) = collecting_receiver().await;
    let (status, hook) = cloud
        .admin_post(
            "/v1/admin/webhooks",
            json!({ "url": url, "events": ["customer_updated", "consent_changed", "tier_changed"] }),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let silver = json!({ "name": "Silver", "threshold": 10000, "kind": null, "accrual_percent": 7,
                         "discount_percent": null, "redeem_cap_percent": null });
    let (status, program) = cloud.admin_put("/v1/admin/program", json!({ "tiers": [silver] })).await;
    assert_eq!(status, 200, "{program}");
    let till = cloud.till("Till 1").await;
    let (status, created) =
        cloud.admin_post("/v1/admin/customers", json!({ "phone": "+79996660001", "consents": { "sms": true } })).await;
    assert_eq!(status, 201, "{created}");
    let mut subject = Subject { cloud: &cloud, till: &till, id: created["id"].as_str().unwrap().to_owned(), seq: 0 };
    // The back office renames and tags; a till withdraws the SMS consent; the back office
    // changes nothing but re-confirms the tags (no event).
    subject.admin(json!({ "name": "Анна", "tags": ["vip"] })).await;
    subject.push(&["consents"], json!({ "consents": { "sms": consent(false, &at(0)) } })).await;
    subject.admin(json!({ "tags": ["vip"] })).await;
    // A sale of 150.00 reaches Silver (from 100.00 paid); its return takes them back to the base.
    let mut sold = crate::cloud_support::sale(subject.seq + 1, "r-1", &subject.id, 15000, 0, 10);
    sold["payload"]["receipt"]["program_version"] = program["version"].clone();
    let returned = crate::cloud_support::full_return(subject.seq + 2, "back-1", "r-1", 15000, 10, 0);
    cloud.push_expect(&till, vec![sold, returned], &["applied", "applied"]).await;

    let received = crate::sync_e2e::eventually(Duration::from_secs(20), "five deliveries", || async {
        let bodies = bodies.lock().unwrap().clone();
        (bodies.len() >= 5).then_some(bodies)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received =
        if bodies.lock().unwrap().len() > received.len() { bodies.lock().unwrap().clone() } else { received };
    let of = |kind: &str| received.iter().filter(|b| b["type"] == kind).map(|b| b["data"].clone()).collect::<Vec<_>>();
    // Deliveries are sent concurrently: each is found by what it says, not by its order.
    let consents = of("consent_changed");
    assert_eq!(consents.len(), 2, "given at creation, withdrawn at the till: {received:?}");
    let given = consents.iter().find(|c| c["new"] == true).expect("the consent given");
    assert_eq!(
        (given["channel"].as_str(), given["old"].clone(), given["source"].as_str()),
        (Some("sms"), Value::Null, Some("cloud"))
    );
    let withdrawn = consents.iter().find(|c| c["new"] == false).expect("the consent withdrawn");
    assert_eq!(withdrawn["old"], true);
    assert_eq!((withdrawn["source"].as_str(), withdrawn["till_id"].as_str()), (Some("till"), Some(till.id.as_str())));
    let updates = of("customer_updated");
    assert_eq!(updates.len(), 1, "a consent alone or an edit that changes nothing is not an update: {received:?}");
    assert_eq!(updates[0]["changed"], json!(["name", "tags"]));
    assert_eq!((updates[0]["source"].as_str(), updates[0]["customer"]["name"].as_str()), (Some("admin"), Some("Анна")));
    let tiers = of("tier_changed");
    assert_eq!(tiers.len(), 2, "{received:?}");
    let by = |reason: &str| tiers.iter().find(|t| t["reason"] == reason).cloned().expect(reason);
    let (up, down) = (by("sale"), by("return"));
    assert_eq!((up["old"].clone(), up["new"].as_str()), (Value::Null, Some("Silver")), "{up}");
    assert_eq!((up["paid_total"].as_i64(), up["reference"].as_str()), (Some(15000), Some("r-1")));
    assert_eq!(
        (down["old"].as_str(), down["new"].clone(), down["paid_total"].as_i64()),
        (Some("Silver"), Value::Null, Some(0))
    );
}

cloud_test!(expiring_and_expired_points_are_told_once, expiry_notices_scenario);
async fn expiry_notices_scenario(backend: Backend) {
    let mut cloud = Cloud::start_with(
        backend,
        &[("LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS", "true"), ("LOYALTY_CLOUD_EXPIRY_NOTICE_DAYS", "7")],
    )
    .await;
    let (url, bodies) = collecting_receiver().await;
    let (status, hook) = cloud
        .admin_post("/v1/admin/webhooks", json!({ "url": url, "events": ["points_expiring", "points_expired"] }))
        .await;
    assert_eq!(status, 201, "{hook}");
    // Points that expire in 3 days (the program's expiry), and a lot that expired an hour ago.
    let (status, _) = cloud.admin_put("/v1/admin/program", json!({ "expiry_days": 3 })).await;
    assert_eq!(status, 200);
    let customer = cloud.customer("+79996660002").await;
    let id = customer["id"].as_str().unwrap().to_owned();
    for (adjustment, points) in [("soon", 40), ("gone", 25)] {
        let (status, body) = cloud
            .admin_post(
                &format!("/v1/admin/customers/{id}/adjustments"),
                json!({ "id": adjustment, "points": points, "reason": "test" }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    cloud.sql(&format!("UPDATE point_lots SET expires_at = {} WHERE points = 25", now - 3600));
    // The job runs at start (then hourly): a restart runs it, a second restart sends nothing again.
    cloud.restart();
    let received = crate::sync_e2e::eventually(Duration::from_secs(20), "two notices", || async {
        let bodies = bodies.lock().unwrap().clone();
        (bodies.len() >= 2).then_some(bodies)
    })
    .await;
    cloud.restart();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received_again = bodies.lock().unwrap().clone();
    assert_eq!(received_again.len(), 2, "each expiry is told once: {received_again:?}");
    let of = |kind: &str| received.iter().find(|b| b["type"] == kind).map(|b| b["data"].clone()).expect(kind);
    let expiring = of("points_expiring");
    assert_eq!(
        (expiring["customer_id"].as_str(), expiring["points"].as_i64()),
        (Some(id.as_str()), Some(40)),
        "{expiring}"
    );
    let expired = of("points_expired");
    assert_eq!(expired["points"], 25, "{expired}");
}
