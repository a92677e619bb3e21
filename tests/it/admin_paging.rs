//! Issue 9 point 8: the back office's lists page instead of stopping silently at 500.
//!
//! Every list (receipts, customers, conflicts, webhook deliveries, tills, gift cards) is walked
//! page by page with `limit` and `next_cursor` on both databases: each row exactly once, in
//! the list's order, also while rows are inserted between the page fetches; filters keep
//! working with paging; a bad `limit` or `cursor` is a 422 that says what to send.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::cloud_support::{assert_error, sale, urlencode, Backend, Cloud};
use crate::cloud_test;

/// One page: the rows under `field` and the next cursor (`None` when the answer says null).
async fn page(
    cloud: &Cloud,
    path: &str,
    field: &str,
    limit: i64,
    cursor: Option<&str>,
) -> (Vec<Value>, Option<String>) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{sep}limit={limit}");
    if let Some(cursor) = cursor {
        url.push_str(&format!("&cursor={}", urlencode(cursor)));
    }
    let (status, body) = cloud.admin_get(&url).await;
    assert_eq!(status, 200, "{url}: {body}");
    assert!(body.get("next_cursor").is_some(), "{url}: next_cursor is always present: {body}");
    let rows = body[field].as_array().unwrap_or_else(|| panic!("{url}: no {field}: {body}")).clone();
    assert!(rows.len() as i64 <= limit, "{url}: {} rows past limit {limit}", rows.len());
    let next = body["next_cursor"].as_str().map(str::to_owned);
    if next.is_some() {
        assert_eq!(rows.len() as i64, limit, "{url}: a page that is not the last is full");
    }
    (rows, next)
}

/// Walks a list to its end, calling `between` after every page but the last (to insert rows
/// while the walk goes on), and answers the value of `key` of every row, in order.
async fn walk<F, Fut>(cloud: &Cloud, path: &str, field: &str, key: &str, limit: i64, mut between: F) -> Vec<String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page_no in 0.. {
        assert!(page_no < 10_000, "{path}: the walk never ends");
        let (rows, next) = page(cloud, path, field, limit, cursor.as_deref()).await;
        seen.extend(rows.iter().map(|row| match &row[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
        match next {
            Some(next) => {
                between(page_no).await;
                cursor = Some(next);
            }
            None => break,
        }
    }
    seen
}

fn assert_each_once(seen: &[String], expected: &[String], what: &str) {
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "{what}: a row was answered twice");
    assert_eq!(seen, expected, "{what}: every row exactly once, in the list's order");
}

cloud_test!(tills_page_oldest_first_and_new_ones_come_at_the_end, tills_scenario);
async fn tills_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    for i in 0..23 {
        cloud.create_till(&format!("Till {i}")).await;
    }
    // Without a limit: 100 at most; here all 23 and no next page.
    let (status, all) = cloud.admin_get("/v1/admin/tills").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["tills"].as_array().unwrap().len(), 23);
    assert_eq!(all["next_cursor"], Value::Null);
    let before: Vec<String> =
        all["tills"].as_array().unwrap().iter().map(|t| t["till_id"].as_str().unwrap().to_owned()).collect();

    // Tills created while the walk goes on, within the same second as the others, come after
    // every till that was there, each once.
    let added = std::cell::RefCell::new(Vec::new());
    let (cloud_ref, added_ref) = (&cloud, &added);
    let seen = walk(cloud_ref, "/v1/admin/tills", "tills", "till_id", 5, |page_no| async move {
        let (id, _) = cloud_ref.create_till(&format!("New {page_no}")).await;
        added_ref.borrow_mut().push(id);
    })
    .await;
    let added = added.into_inner();
    assert!(added.len() >= 4, "23 tills at 5 a page: at least 4 pages with a next one");
    assert_each_once(&seen[..23], &before, "tills");
    let tail: HashSet<&String> = seen[23..].iter().collect();
    assert_eq!(tail, added.iter().collect(), "every till created during the walk comes at its end");
    assert_eq!(seen.len(), 23 + added.len(), "none twice");
}

cloud_test!(gift_cards_page_newest_first_without_rows_added_meanwhile, gift_cards_scenario);
async fn gift_cards_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    for _ in 0..17 {
        let (status, card) = cloud.admin_post("/v1/admin/gift-cards", json!({ "amount": 1000 })).await;
        assert_eq!(status, 201, "{card}");
    }
    let (_, all) = cloud.admin_get("/v1/admin/gift-cards?limit=1000").await;
    let before: Vec<String> =
        all["gift_cards"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(before.len(), 17);
    // A newest-first walk answers the cards that were there exactly once: a card issued
    // meanwhile is newer than its first page and belongs to the next walk.
    let cloud_ref = &cloud;
    let seen = walk(cloud_ref, "/v1/admin/gift-cards", "gift_cards", "id", 4, |_| async move {
        let (status, _) = cloud_ref.admin_post("/v1/admin/gift-cards", json!({ "amount": 500 })).await;
        assert_eq!(status, 201);
    })
    .await;
    assert_each_once(&seen, &before, "gift cards");
    let (_, after) = cloud.admin_get("/v1/admin/gift-cards?limit=1000").await;
    let after = after["gift_cards"].as_array().unwrap();
    assert_eq!(after.len(), 17 + 4, "a new walk starts with the cards issued meanwhile");
    assert!(after[..4].iter().all(|c| c["initial"] == 500), "newest first: {after:?}");
}

cloud_test!(receipts_page_per_customer_past_the_old_cap, receipts_scenario);
async fn receipts_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let anna = cloud.customer("+79991112233").await["id"].as_str().unwrap().to_owned();
    let boris = cloud.customer("+79991112244").await["id"].as_str().unwrap().to_owned();
    // 520 sales of Anna (more than the old cap of 500), Boris's in between.
    let mut seq = 0;
    let mut events = Vec::new();
    let mut annas = Vec::new();
    for i in 0..560 {
        seq += 1;
        let (who, receipt) = if i % 14 == 13 { (&boris, format!("b-{i}")) } else { (&anna, format!("a-{i}")) };
        if who == &anna {
            annas.push(receipt.clone());
        }
        events.push(sale(seq, &receipt, who, 10000, 0, 5));
    }
    assert_eq!(annas.len(), 520);
    for chunk in events.chunks(280) {
        let outcomes = vec!["applied"; chunk.len()];
        cloud.push_expect(&till, chunk.to_vec(), &outcomes).await;
    }
    // Newest first: applied later, or in the same second at a higher seq.
    let (_, first) = cloud.admin_get(&format!("/v1/admin/receipts?customer={anna}")).await;
    assert_eq!(first["receipts"].as_array().unwrap().len(), 100, "the default page is 100");
    let mut expected: Vec<(String, i64, String)> = Vec::new();
    let (_, all) = cloud.admin_get(&format!("/v1/admin/receipts?customer={anna}&limit=1000")).await;
    for r in all["receipts"].as_array().unwrap() {
        expected.push((
            r["applied_at"].as_str().unwrap().to_owned(),
            r["seq"].as_i64().unwrap(),
            r["receipt_id"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(expected.len(), 520, "one page of 1000 holds them all");
    let mut sorted = expected.clone();
    sorted.sort_by(|a, b| (&b.0, b.1).cmp(&(&a.0, a.1)));
    assert_eq!(expected, sorted, "newest first");
    let expected_ids: Vec<String> = expected.iter().map(|e| e.2.clone()).collect();
    let mut sorted_ids = expected_ids.clone();
    sorted_ids.sort();
    let mut annas_sorted = annas.clone();
    annas_sorted.sort();
    assert_eq!(sorted_ids, annas_sorted, "only Anna's receipts, all of them");

    // Walk 99 at a time while the till keeps selling to Anna.
    let path = format!("/v1/admin/receipts?customer={anna}");
    let next_seq = std::cell::Cell::new(seq);
    let (cloud_ref, till_ref, anna_ref, next_seq_ref) = (&cloud, &till, &anna, &next_seq);
    let seen = walk(cloud_ref, &path, "receipts", "receipt_id", 99, |page_no| async move {
        let seq = next_seq_ref.get() + 1;
        next_seq_ref.set(seq);
        let sale = sale(seq, &format!("late-{page_no}"), anna_ref, 10000, 0, 5);
        cloud_ref.push_expect(till_ref, vec![sale], &["applied"]).await;
    })
    .await;
    assert_each_once(&seen, &expected_ids, "receipts");
    let (_, fresh) = cloud.admin_get(&format!("{path}&limit=10")).await;
    assert_eq!(fresh["receipts"][0]["receipt_id"], "late-4", "a new walk starts with the newest: {fresh}");

    // A customer who does not exist is still a 404, with or without a page.
    assert_error(&cloud.admin_get("/v1/admin/receipts?customer=nobody&limit=5").await, 404, "customer_not_found");
}

cloud_test!(conflicts_page_by_kind_over_a_thousand, conflicts_scenario);
async fn conflicts_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    // Conflicts are written by pushes; here straight into the table, 1100 of them, each named
    // by its `receipt_id`, a third of them overdrafts.
    let insert = |from: usize, to: usize| {
        let rows: Vec<String> = (from..to)
            .map(|i| {
                let kind = if i % 3 == 0 { "overdraft" } else { "rejected_event" };
                format!("('{kind}', 'r-{i}', 'h', 'd', '{{}}', {})", 1_700_000_000 + i)
            })
            .collect();
        format!(
            "INSERT INTO conflicts (kind, receipt_id, happened, done, details, created_at) VALUES {}",
            rows.join(", ")
        )
    };
    cloud.sql(&insert(0, 1100));
    let (_, first) = cloud.admin_get("/v1/admin/conflicts").await;
    assert_eq!(first["conflicts"].as_array().unwrap().len(), 100);
    let (_, max) = cloud.admin_get("/v1/admin/conflicts?limit=1000").await;
    assert_eq!(max["conflicts"].as_array().unwrap().len(), 1000);
    assert!(max["next_cursor"].is_string(), "1100 conflicts do not fit in one page: {}", max["next_cursor"]);

    // Newest first: by id, descending.
    let everything = walk(&cloud, "/v1/admin/conflicts", "conflicts", "receipt_id", 1000, |_| async {}).await;
    let expected: Vec<String> = (0..1100).rev().map(|i| format!("r-{i}")).collect();
    assert_each_once(&everything, &expected, "conflicts");

    // A kind filter with paging, while conflicts keep arriving (they are newer: not in the walk).
    let cloud_ref = &cloud;
    let overdrafts = walk(cloud_ref, "/v1/admin/conflicts?kind=overdraft", "conflicts", "receipt_id", 7, |page_no| {
        let statement = insert(5000 + page_no * 3, 5000 + page_no * 3 + 3);
        async move { cloud_ref.sql(&statement) }
    })
    .await;
    let expected: Vec<String> = (0..1100).rev().filter(|i| i % 3 == 0).map(|i| format!("r-{i}")).collect();
    assert_each_once(&overdrafts, &expected, "overdrafts");
    let (_, fresh) = cloud.admin_get("/v1/admin/conflicts?kind=overdraft&limit=1").await;
    assert_eq!(fresh["conflicts"][0]["kind"], "overdraft");
    assert_ne!(fresh["conflicts"][0]["receipt_id"], "r-1098", "a new walk sees the conflicts added meanwhile");
}

cloud_test!(webhook_deliveries_page_with_their_status_filter, deliveries_scenario);
async fn deliveries_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    // The subscription exists only to own the rows; the rows are written directly, already
    // delivered or failed, so the delivery task has nothing to send.
    let now = 1_700_000_000_000_i64;
    let id = "0190f3d6-0000-7000-8000-000000000000";
    cloud.sql(&format!(
        "INSERT INTO webhooks (id, url, events, secret, created_at) VALUES ('{id}', 'https://example.invalid/hook', '[\"customer_created\"]', 's', 1)"
    ));
    let insert = |from: usize, to: usize| {
        let rows: Vec<String> = (from..to)
            .map(|i| {
                let status = if i % 2 == 0 { "delivered" } else { "failed" };
                format!("('d-{i:06}', '{id}', 'customer_created', '{{}}', '{status}', 1, {now}, {now}, {now})")
            })
            .collect();
        format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_type, body, status, attempts, next_attempt_ms, created_at, done_at) VALUES {}",
            rows.join(", ")
        )
    };
    cloud.sql(&insert(0, 240));
    let path = format!("/v1/admin/webhooks/{id}/deliveries");
    let expected: Vec<String> = (0..240).rev().map(|i| format!("d-{i:06}")).collect();
    let cloud_ref = &cloud;
    let seen = walk(cloud_ref, &path, "deliveries", "id", 50, |page_no| {
        let statement = insert(1000 + page_no, 1001 + page_no);
        async move { cloud_ref.sql(&statement) }
    })
    .await;
    assert_each_once(&seen, &expected, "deliveries");
    let failed = walk(cloud_ref, &format!("{path}?status=failed"), "deliveries", "id", 13, |_| async {}).await;
    let expected: Vec<String> =
        (0..240).chain(1000..1004).rev().filter(|i| i % 2 == 1).map(|i| format!("d-{i:06}")).collect();
    assert_each_once(&failed, &expected, "failed deliveries");
}

cloud_test!(customers_page_through_the_directory, customers_scenario);
async fn customers_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let mut ids = Vec::new();
    for i in 0..45 {
        ids.push(cloud.customer(&format!("+7999100{i:04}")).await["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    let cloud_ref = &cloud;
    let added = std::cell::RefCell::new(Vec::new());
    let added_ref = &added;
    let seen = walk(cloud_ref, "/v1/admin/customers", "customers", "id", 10, |page_no| async move {
        let created = cloud_ref.customer(&format!("+7999200{page_no:04}")).await;
        added_ref.borrow_mut().push(created["id"].as_str().unwrap().to_owned());
    })
    .await;
    // Ordered by id; every customer that was there once; one created meanwhile at most once.
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a customer answered twice: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "by id");
    let before: Vec<&String> = seen.iter().filter(|id| !added.borrow().contains(id)).collect();
    assert_eq!(before, ids.iter().collect::<Vec<_>>(), "every customer who was there, exactly once");
    // A search still answers as before, with a null cursor.
    let (status, found) = cloud.admin_get("/v1/admin/customers?phone=%2B79991000003&limit=3").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["matched_by"], "phone");
    assert_eq!(found["customers"].as_array().unwrap().len(), 1);
    assert_eq!(found["next_cursor"], Value::Null);
    // The points are the customer's own on a page too.
    let (_, one) = cloud.admin_get("/v1/admin/customers?limit=1").await;
    assert!(one["customers"][0]["points"]["balance"].is_i64(), "{one}");
}

cloud_test!(bad_limits_and_cursors_are_422, bad_paging_scenario);
async fn bad_paging_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let customer = cloud.customer("+79991112233").await["id"].as_str().unwrap().to_owned();
    cloud.create_till("Till 1").await;
    cloud.create_till("Till 2").await;
    let hook = "0190f3d6-0000-7000-8000-000000000001";
    cloud.sql(&format!(
        "INSERT INTO webhooks (id, url, events, secret, created_at) VALUES ('{hook}', 'https://example.invalid/hook', '[\"customer_created\"]', 's', 1)"
    ));
    let lists = [
        format!("/v1/admin/receipts?customer={customer}"),
        "/v1/admin/customers?x=1".to_owned(),
        "/v1/admin/conflicts?x=1".to_owned(),
        format!("/v1/admin/webhooks/{hook}/deliveries?x=1"),
        "/v1/admin/tills?x=1".to_owned(),
        "/v1/admin/gift-cards?x=1".to_owned(),
    ];
    let (_, tills) = cloud.admin_get("/v1/admin/tills?limit=1").await;
    let tills_cursor = tills["next_cursor"].as_str().expect("two tills, one a page").to_owned();
    for list in &lists {
        for limit in ["0", "-1", "1001", "abc", "1.5", "", "99999999999999999999"] {
            let answer = cloud.admin_get(&format!("{list}&limit={limit}")).await;
            assert_error(&answer, 422, "invalid_limit");
            assert!(answer.1["error"]["message"].as_str().unwrap().contains("1 to 1000"), "{answer:?}");
        }
        for limit in ["1", "1000"] {
            assert_eq!(cloud.admin_get(&format!("{list}&limit={limit}")).await.0, 200, "{list} limit={limit}");
        }
        let foreign = if list.starts_with("/v1/admin/tills") { None } else { Some(tills_cursor.as_str()) };
        for cursor in ["garbage", "%FF%FE", "W10", "WyJ0aWxscyJd", &"A".repeat(3000)].into_iter().chain(foreign) {
            let answer = cloud.admin_get(&format!("{list}&cursor={}", urlencode(cursor))).await;
            assert_error(&answer, 422, "invalid_cursor");
        }
    }
    // In Russian too, naming the bound.
    let response = reqwest::Client::new()
        .get(cloud.url("/v1/admin/tills?limit=0"))
        .bearer_auth(crate::cloud_support::ADMIN)
        .header("Accept-Language", "ru")
        .send()
        .await
        .expect("HTTP request");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "invalid_limit");
    assert!(body["error"]["message"].as_str().unwrap().contains("от 1 до 1000"), "{body}");
}
