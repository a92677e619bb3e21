//! The back office's customer directory, on SQLite and PostgreSQL: every consent change in its
//! history (a till's, the sign-up form's, the back office's) with where it came from; a new
//! customer's store as a manager may choose it; a name search that ignores case in Cyrillic
//! (also on a PostgreSQL database whose locale is `C`); and a manager's pages, scoped in SQL,
//! full to their `limit`.

use serde_json::{json, Value};

use crate::backoffice_access::till_of;
use crate::cloud_support::{assert_error, customer_created, sale, Backend, Cloud};
use crate::cloud_test;

const OWNER: &str = "owner@romashka.example";
const PASSWORD: &str = "correct horse battery";

fn consent(granted: bool, at: &str) -> Value {
    json!({ "granted": granted, "at": at, "source": "till" })
}

/// `(channel, granted, source, till_id, store, who)` of a change.
type Row = (String, bool, String, Option<String>, Option<String>, Option<String>);

/// The rows of a page of the history, newest first.
fn rows(history: &Value) -> Vec<Row> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    history["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().unwrap().to_owned(),
                c["granted"].as_bool().unwrap(),
                c["source"].as_str().unwrap().to_owned(),
                text(&c["till_id"]),
                text(&c["store"]),
                text(&c["who"]),
            )
        })
        .collect()
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

cloud_test!(every_consent_change_is_in_the_history, consent_history);
async fn consent_history(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    cloud.add_user(OWNER, "owner", &[], PASSWORD).await;
    let arbat = till_of(&cloud, "Arbat", "Arbat 1").await;
    let tverskaya = till_of(&cloud, "Tverskaya", "Tverskaya 1").await;

    // Enrolled at a till with SMS given; then the till withdraws it; an older opt-in from the
    // till (its clock behind) takes no effect and leaves no row; then the back office opts in
    // to email.
    let id = uuid::Uuid::new_v4().to_string();
    let mut enrolled = customer_created(1, &id, "+79990001001", "2700000001001");
    enrolled["payload"]["consents"] = json!({ "sms": consent(true, "2026-01-01T10:00:00Z") });
    cloud.push_expect(&arbat, vec![enrolled], &["applied"]).await;
    let mut edit = customer_created(2, &id, "+79990001001", "2700000001001");
    edit["kind"] = json!("customer_updated");
    edit["payload"]["fields"] = json!(["consents"]);
    edit["payload"]["consents"] = json!({ "sms": consent(false, "2026-01-02T10:00:00Z") });
    cloud.push_expect(&arbat, vec![edit.clone()], &["applied"]).await;
    let mut stale = edit.clone();
    stale["seq"] = json!(3);
    stale["event_id"] = json!(uuid::Uuid::new_v4().to_string());
    stale["payload"]["consents"] = json!({ "sms": consent(true, "2026-01-01T12:00:00Z") });
    cloud.push_expect(&arbat, vec![stale], &["applied"]).await;
    let owner = cloud.sign_in(OWNER, PASSWORD, None).await.expect("owner");
    let (status, body) =
        owner.patch(&format!("/v1/admin/customers/{id}"), json!({ "consents": { "email": true } })).await;
    assert_eq!(status, 200, "{body}");
    // The same state again is no change.
    let (status, body) =
        owner.patch(&format!("/v1/admin/customers/{id}"), json!({ "consents": { "email": true } })).await;
    assert_eq!(status, 200, "{body}");

    let (status, history) = owner.get(&format!("/v1/admin/customers/{id}/consents")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        rows(&history),
        vec![
            ("email".into(), true, "cloud".into(), None, None, some(OWNER)),
            ("sms".into(), false, "till".into(), some(&arbat.id), some("Arbat"), None),
            ("sms".into(), true, "till".into(), some(&arbat.id), some("Arbat"), None),
        ]
    );
    assert_eq!(history["changes"][1]["at"], "2026-01-02T10:00:00Z", "when the customer withdrew it");
    assert!(history["changes"][0]["recorded_at"].as_str().is_some_and(|at| at.starts_with("20")), "{history}");

    // Paged, newest first, like the other lists.
    let (_, first) = owner.get(&format!("/v1/admin/customers/{id}/consents?limit=2")).await;
    assert_eq!(rows(&first).len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let (_, second) = owner.get(&format!("/v1/admin/customers/{id}/consents?limit=2&cursor={cursor}")).await;
    assert_eq!(rows(&second), rows(&history)[2..].to_vec());
    assert_eq!(second["next_cursor"], Value::Null);

    // The sign-up form: its store; the admin token: `admin-token`, at creation.
    let response = reqwest::Client::new()
        .post(cloud.url("/v1/signup"))
        .json(&json!({ "phone": "+79990001002", "consents": { "personal_data": true, "sms": true }, "store": "Tverskaya" }))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(response.status().as_u16(), 202);
    let (_, found) = cloud.admin_get("/v1/admin/customers?phone=%2B79990001002").await;
    let signed_up = found["customers"][0].clone();
    let (_, history) = owner.get(&format!("/v1/admin/customers/{}/consents", signed_up["id"].as_str().unwrap())).await;
    let mut got = rows(&history);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("personal_data".into(), true, "web".into(), None, some("Tverskaya"), None),
            ("sms".into(), true, "web".into(), None, some("Tverskaya"), None),
        ]
    );
    let (status, created) = cloud
        .admin_post("/v1/admin/customers", json!({ "phone": "+79990001003", "consents": { "email": false } }))
        .await;
    assert_eq!(status, 201, "{created}");
    let (_, history) =
        cloud.admin_get(&format!("/v1/admin/customers/{}/consents", created["id"].as_str().unwrap())).await;
    assert_eq!(rows(&history), vec![("email".into(), false, "cloud".into(), None, None, some("admin-token"))]);

    // A till enrolling the same phone again merges; the consent it brings is history too.
    let twin = uuid::Uuid::new_v4().to_string();
    let mut again = customer_created(1, &twin, "+79990001003", "2700000001003");
    again["payload"]["consents"] = json!({ "email": consent(true, "2026-01-01T09:00:00Z") });
    cloud.push_expect(&tverskaya, vec![again], &["applied"]).await;
    let (_, history) =
        cloud.admin_get(&format!("/v1/admin/customers/{}/consents", created["id"].as_str().unwrap())).await;
    assert_eq!(rows(&history).len(), 1, "an older opt-in than the back office's opt-out changes nothing: {history}");

    // A manager: their customer's history, and 404 for another store's.
    cloud.add_user("tverskaya@romashka.example", "manager", &["Tverskaya"], "tverskaya manager").await;
    let manager = cloud.sign_in("tverskaya@romashka.example", "tverskaya manager", None).await.expect("manager");
    assert_error(&manager.get(&format!("/v1/admin/customers/{id}/consents")).await, 404, "customer_not_found");
    let (status, _) = manager.get(&format!("/v1/admin/customers/{}/consents", signed_up["id"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    assert_error(&owner.get(&format!("/v1/admin/customers/{id}/consents?limit=0")).await, 422, "invalid_limit");
    assert_error(&owner.get("/v1/admin/customers/nobody/consents").await, 404, "customer_not_found");
}

cloud_test!(a_managers_new_customer_joins_at_their_store, managers_new_customer);
async fn managers_new_customer(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    cloud.add_user("one@romashka.example", "manager", &["Arbat"], "arbat manager 1").await;
    cloud.add_user("two@romashka.example", "manager", &["Arbat", "Tverskaya"], "two stores manager").await;
    let one = cloud.sign_in("one@romashka.example", "arbat manager 1", None).await.expect("one");
    let two = cloud.sign_in("two@romashka.example", "two stores manager", None).await.expect("two");

    // One store: theirs, without asking; they see the customer, with consents and tags.
    let body = json!({ "phone": "+79990002001", "name": "Анна", "tags": ["vip"], "consents": { "sms": true, "personal_data": true } });
    let (status, created) = one.post("/v1/admin/customers", body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["tags"], json!(["vip"]));
    assert_eq!(one.get(&format!("/v1/admin/customers/{}", created["id"].as_str().unwrap())).await.0, 200);
    let (_, audit) = cloud.admin_get("/v1/admin/audit?action=customer.create").await;
    assert_eq!(audit["entries"][0]["after"]["store"], "Arbat", "{audit}");
    assert_error(
        &one.post("/v1/admin/customers", json!({ "phone": "+79990002002", "store": "Tverskaya" })).await,
        403,
        "store_forbidden",
    );

    // Several stores: they choose, and only among theirs.
    let answer = two.post("/v1/admin/customers", json!({ "phone": "+79990002003" })).await;
    assert_error(&answer, 422, "store_required");
    assert_eq!(answer.1["error"]["details"]["field"], "store");
    let (status, created) =
        two.post("/v1/admin/customers", json!({ "phone": "+79990002003", "store": "Tverskaya" })).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_error(&one.get(&format!("/v1/admin/customers/{id}")).await, 404, "customer_not_found");
    assert_eq!(two.get(&format!("/v1/admin/customers/{id}")).await.0, 200);
    let answer = two.post("/v1/admin/customers", json!({ "phone": "+79990002004", "store": "Lubyanka" })).await;
    assert_error(&answer, 403, "store_forbidden");
    assert_eq!(answer.1["error"]["details"]["store"], "Lubyanka");

    // A taken phone names its holder and the field, so the console can offer their card.
    let answer = two.post("/v1/admin/customers", json!({ "phone": "8 999 000-20-03", "store": "Arbat" })).await;
    assert_error(&answer, 409, "phone_taken");
    assert_eq!(
        (answer.1["error"]["details"]["customer"].as_str(), answer.1["error"]["details"]["field"].as_str()),
        (Some(id.as_str()), Some("phone"))
    );
    // The whole chain may name any store, or none.
    let (status, _) =
        cloud.admin_post("/v1/admin/customers", json!({ "phone": "+79990002005", "store": "Lubyanka" })).await;
    assert_eq!(status, 201);
    assert_error(
        &cloud.admin_post("/v1/admin/customers", json!({ "phone": "+79990002006", "store": "a\u{202e}b" })).await,
        422,
        "invalid_store",
    );
}

/// The ids of a page of customers.
fn ids(list: &Value) -> Vec<String> {
    list["customers"].as_array().expect("customers").iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

async fn finds(cloud: &Cloud, q: &str) -> Vec<String> {
    let (status, found) =
        cloud.admin_get(&format!("/v1/admin/customers?q={}", crate::cloud_support::urlencode(q))).await;
    assert_eq!(status, 200, "{found}");
    ids(&found)
}

async fn name_search(cloud: Cloud) {
    let (_, ivanov) =
        cloud.admin_post("/v1/admin/customers", json!({ "phone": "+79990003001", "name": "Иванов Пётр" })).await;
    let (_, other) =
        cloud.admin_post("/v1/admin/customers", json!({ "phone": "+79990003002", "name": "Петрова Анна" })).await;
    let (_, email) = cloud
        .admin_post(
            "/v1/admin/customers",
            json!({ "phone": "+79990003003", "name": "Ольга", "email": "Ольга@Пример.рф" }),
        )
        .await;
    let ivanov = ivanov["id"].as_str().unwrap().to_owned();
    for q in ["иванов", "ИВАНОВ", "Иван", "пётр", "ов п"] {
        assert_eq!(finds(&cloud, q).await, vec![ivanov.clone()], "{q:?}");
    }
    assert_eq!(finds(&cloud, "ПЕТРОВ").await, vec![other["id"].as_str().unwrap().to_owned()]);
    assert_eq!(finds(&cloud, "ОЛЬГА@пример.РФ").await, vec![email["id"].as_str().unwrap().to_owned()]);
    assert!(finds(&cloud, "%").await.is_empty(), "a wildcard is a character, not a pattern");
    assert!(finds(&cloud, "иванова").await.is_empty());
}

cloud_test!(a_name_search_ignores_case_in_cyrillic, name_search_scenario);
async fn name_search_scenario(backend: Backend) {
    name_search(Cloud::start(backend).await).await;
}

/// Where `LOWER` folds only ASCII, the cloud folds through ICU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_search_ignores_case_on_a_c_locale_postgres() {
    if let Some(backend) = Backend::postgres_c_locale() {
        name_search(Cloud::start(backend).await).await;
    }
}

cloud_test!(a_managers_pages_are_full, managers_pages_are_full);
async fn managers_pages_are_full(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let arbat = till_of(&cloud, "Arbat", "Arbat 1").await;
    let tverskaya = till_of(&cloud, "Tverskaya", "Tverskaya 1").await;
    // Ten of another store's customers, and three of the manager's, interleaved (customer
    // ids, the directory's order, are random), all named alike for `q`.
    let mut theirs_seq = 0;
    let mut ours = Vec::new();
    for n in 0..13 {
        let id = uuid::Uuid::new_v4().to_string();
        let (till, seq) = if n % 4 == 1 {
            ours.push(id.clone());
            (&arbat, ours.len() as i64)
        } else {
            theirs_seq += 1;
            (&tverskaya, theirs_seq)
        };
        let event = customer_created(seq, &id, &format!("+799900040{n:02}"), &format!("27000000040{n:02}"));
        cloud.push_expect(till, vec![event], &["applied"]).await;
    }
    assert_eq!(ours.len(), 3);
    cloud.add_user("arbat@romashka.example", "manager", &["Arbat"], "arbat manager 1").await;
    let manager = cloud.sign_in("arbat@romashka.example", "arbat manager 1", None).await.expect("manager");

    for base in ["/v1/admin/customers?limit=2", "/v1/admin/customers?q=till%20cust&limit=2"] {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut path = base.to_owned();
        loop {
            let (status, page) = manager.get(&path).await;
            assert_eq!(status, 200, "{page}");
            sizes.push(ids(&page).len());
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("{base}&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(sizes, [2, 1], "{base}");
        seen.sort();
        let mut expected = ours.clone();
        expected.sort();
        assert_eq!(seen, expected, "{base}: their customers, and nobody else's");
    }

    // Receipts: one of our customers buys twice here and three times at the other store.
    let customer = &ours[0];
    let mut here = Vec::new();
    // Interleaved with the other store's, so a page filtered after the query would come short.
    for n in 0..3 {
        let receipt = format!("tv-r{n}");
        cloud.push_expect(&tverskaya, vec![sale(11 + n, &receipt, customer, 10_000, 0, 100)], &["applied"]).await;
        if n < 2 {
            let receipt = format!("arbat-r{n}");
            here.push(receipt.clone());
            cloud.push_expect(&arbat, vec![sale(4 + n, &receipt, customer, 10_000, 0, 100)], &["applied"]).await;
        }
    }
    let base = format!("/v1/admin/receipts?customer={customer}&limit=1");
    let mut path = base.clone();
    let mut seen = Vec::new();
    loop {
        let (status, page) = manager.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let receipts = page["receipts"].as_array().unwrap();
        assert_eq!(receipts.len(), 1, "every page is full: {page}");
        seen.extend(receipts.iter().map(|r| r["receipt_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{base}&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, here, "their store's receipts only");
    let (_, all) = cloud.admin_get(&format!("/v1/admin/receipts?customer={customer}")).await;
    assert_eq!(all["receipts"].as_array().unwrap().len(), 5, "the owner sees all five");
}
