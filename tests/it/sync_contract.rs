//! The sync contract is typed on both ends (issue 9, point 3): every kind of outbox event a real
//! agent writes is read back with exactly the types the cloud's push handler (`PushRequest`) and
//! its apply code (`wire::EventPayload::from_raw`) parse with, and loses nothing on the way.

use std::collections::{BTreeMap, BTreeSet};

use loyalty::wire::{EventKind, EventPayload, PushRequest, SyncEvent};
use serde_json::{json, Value};

use crate::moysklad::{fixture, MoySklad, CREATE};
use crate::support::{Agent, TOKEN};

/// The keys each payload had when agents built them by hand: rows older agents queued and the
/// rows this agent queues must look the same to the cloud.
fn keys_older_agents_wrote(kind: EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::CustomerCreated | EventKind::CustomerUpdated => {
            &["birthday", "card", "consents", "customer_id", "email", "fields", "name", "phone", "tags"]
        }
        EventKind::Sale => &["receipt", "request"],
        EventKind::Return => &["request", "return"],
        EventKind::Adjustment => &["balance_after", "created_at", "customer_id", "id", "points", "reason"],
    }
}

#[tokio::test]
async fn every_outbox_event_kind_reads_as_the_cloud_parses_it() {
    let agent = Agent::start_with_program("accrual_percent = 10\n").await;
    let customer = agent.enroll("+79995550101", "Contract Customer").await;
    let id = customer["id"].as_str().expect("id").to_owned();
    let (status, body) = agent.patch(&format!("/v1/customers/{id}"), json!({ "email": "contract@example.com" })).await;
    assert_eq!(status, 200, "{body}");
    agent.give_points(&id, 50).await;
    let sale = json!({ "id": "contract-1", "customer": { "id": id }, "lines": [{ "sku": "x", "quantity": 2, "price": 1000 }] });
    let (status, body) = agent.post("/v1/receipts", sale).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = agent
        .post(
            "/v1/receipts/contract-1/returns",
            json!({ "id": "contract-r1", "lines": [{ "sku": "x", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A MoySklad create carries the counterparty id (`external_id`), and a MoySklad lookup that
    // finds a native customer by phone links them (a `customer_updated` naming `external_id`).
    let ms = MoySklad::new(&agent.base, TOKEN);
    let ms_created = "0d0c0b0a-1111-4222-8333-444455556666";
    let create = fixture(CREATE, &[("/phone", json!("+79995550102")), ("/meta/id", json!(ms_created))]);
    assert_eq!(ms.post("/counterparty", &create).await.status, 201);
    let ms_found = "0d0c0b0a-1111-4222-8333-777788889999";
    let by_phone = json!({ "retailStore": { "meta": { "href": "h", "id": "store" } },
        "meta": { "href": "h", "id": ms_found }, "phone": "8 999 555-01-01" });
    ms.post("/counterparty/detail", &by_phone).await.ok(200);

    // The outbox as the agent's sync worker reads it, sent as the push body.
    let db = rusqlite::Connection::open(agent.dir.join("agent.db")).expect("open agent.db");
    let mut stmt = db.prepare("SELECT seq, event_id, kind, created_at, payload FROM outbox ORDER BY seq").unwrap();
    let rows: Vec<(i64, String, String, i64, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
        .unwrap()
        .map(|row| row.unwrap())
        .collect();
    let stored: BTreeMap<i64, String> = rows.iter().map(|row| (row.0, row.4.clone())).collect();
    let events: Vec<SyncEvent> = rows
        .into_iter()
        .map(|(seq, event_id, kind, created_at, payload)| SyncEvent {
            seq,
            event_id,
            kind: serde_json::from_value(Value::String(kind)).expect("a known kind"),
            created_at: created_at.to_string(),
            payload: serde_json::value::RawValue::from_string(payload).expect("stored JSON"),
        })
        .collect();
    let body = serde_json::to_string(&PushRequest { events }).unwrap();

    // The cloud's side: the push body, then each payload by its kind.
    let pushed: PushRequest = serde_json::from_str(&body).expect("the push body parses as the cloud reads it");
    let mut seen = BTreeSet::new();
    let mut linked = Vec::new();
    for event in &pushed.events {
        let payload = EventPayload::from_raw(event.kind, &event.payload).unwrap_or_else(|e| {
            panic!("{} does not fit the cloud's type: {e}: {}", event.kind.as_str(), event.payload)
        });
        assert_eq!(payload.kind(), event.kind);
        // Lossless: the typed payload says everything the agent wrote, byte for byte.
        let pushed_tree: Value = serde_json::from_str(event.payload.get()).expect("the pushed payload is JSON");
        let again = payload.to_json().unwrap();
        assert_eq!(again, pushed_tree, "a field the cloud's type does not know");
        assert_eq!(again.to_string(), stored[&event.seq], "the stored text changed shape");
        assert_eq!(event.payload.get(), stored[&event.seq], "the push carries the stored text as it is");
        let keys: BTreeSet<&str> = pushed_tree.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut expected: BTreeSet<&str> = keys_older_agents_wrote(event.kind).iter().copied().collect();
        match &payload {
            EventPayload::CustomerCreated(customer) | EventPayload::CustomerUpdated(customer) => {
                if let Some(external_id) = &customer.external_id {
                    expected.insert("external_id");
                    linked.push((event.kind, external_id.clone(), customer.fields.clone()));
                }
            }
            EventPayload::Sale(sale) => {
                assert_eq!(sale.request.id, "contract-1");
                assert_eq!(sale.receipt.customer_id.as_deref(), Some(id.as_str()));
            }
            EventPayload::Return(returned) => assert_eq!(returned.result.receipt_id, "contract-1"),
            EventPayload::Adjustment(adjustment) => {
                assert_eq!((adjustment.points, adjustment.customer_id.as_str()), (50, id.as_str()))
            }
        }
        assert_eq!(keys, expected, "{} payload keys", event.kind.as_str());
        seen.insert(event.kind.as_str());
    }
    let every: BTreeSet<&str> = EventKind::ALL.iter().map(|kind| kind.as_str()).collect();
    assert_eq!(seen, every, "the scenario covers every event kind");
    assert_eq!(
        linked,
        vec![
            (EventKind::CustomerCreated, ms_created.to_owned(), vec![]),
            (EventKind::CustomerUpdated, ms_found.to_owned(), vec!["external_id".to_owned()]),
        ]
    );
}
