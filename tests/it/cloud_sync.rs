//! loyalty-cloud's sync API with events built by hand per `src/wire/sync.rs`, on SQLite and
//! PostgreSQL: push answers, the ledger they produce, conflicts, and the pull feed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cloud_support::{customer_created, event, full_return, sale, Backend, Cloud, Till};
use crate::cloud_test;

fn outcome(body: &Value, index: usize) -> &Value {
    &body["results"][index]
}

cloud_test!(push_sales_and_returns, push_sales_and_returns_scenario);
async fn push_sales_and_returns_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let customer = "c-till-1";
    let created = customer_created(1, customer, "8 999 555 44 33", "27000000017");
    // 250.00 earning 12 points, then 100.00 spending 10 of them (earning 4), then a return of the second.
    let first = sale(2, "r-1", customer, 25000, 0, 12);
    let second = sale(3, "r-2", customer, 10000, 10, 4);
    let back = full_return(4, "ret-1", "r-2", 9000, 4, 10);
    let events = vec![created.clone(), first.clone(), second.clone(), back.clone()];
    cloud.push_expect(&till, events.clone(), &["applied", "applied", "applied", "applied"]).await;

    let (status, found) = cloud.admin_get("/v1/admin/customers?phone=%2B79995554433").await;
    assert_eq!(status, 200);
    let shown = &found["customers"][0];
    assert_eq!(shown["id"], customer);
    assert_eq!(shown["card"], "27000000017");
    assert_eq!(shown["points"], json!({ "balance": 12, "available": 12, "pending": 0 }));
    assert_eq!(shown["paid_total"], 25000, "the returned receipt no longer counts");

    let (status, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={customer}")).await;
    assert_eq!(status, 200, "{receipts}");
    assert_eq!(receipts["receipts"].as_array().unwrap().len(), 2);
    let (status, one) = cloud.admin_get(&format!("/v1/admin/receipts/{}/r-2", till.id)).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["receipt"]["total"], 9000);
    assert_eq!(one["seq"], 3);
    assert_eq!(one["returns"][0]["id"], "ret-1");
    assert_eq!(one["returns"][0]["points_given_back"], 10);
    let (status, _) = cloud.admin_get(&format!("/v1/admin/receipts/{}/r-404", till.id)).await;
    assert_eq!(status, 404);

    // The same batch again (a lost answer): all duplicates, nothing applied twice.
    cloud.push_expect(&till, events, &["duplicate", "duplicate", "duplicate", "duplicate"]).await;
    assert_eq!(cloud.points(customer).await["balance"], 12);

    // A gap: out of order, with the seq expected; processing stops there.
    let answer = cloud.push_expect(&till, vec![sale(7, "r-7", customer, 1000, 0, 0)], &["out_of_order"]).await;
    assert_eq!(outcome(&answer, 0)["expected_seq"], 5);
    // The same seq with another event (a till restored from an old backup): a conflict, nothing overwritten.
    let impostor = sale(3, "r-other", customer, 50000, 0, 25);
    let answer =
        cloud.push_expect(&till, vec![impostor, sale(5, "r-5", customer, 1000, 0, 0)], &["sequence_conflict"]).await;
    assert_eq!(outcome(&answer, 0)["expected_seq"], 5);
    assert_eq!(cloud.points(customer).await["balance"], 12);

    // A customer edit: fields merge, an opt-out beats an older opt-in.
    let mut edit = customer_created(5, customer, "+79995554433", "27000000017");
    edit["kind"] = json!("customer_updated");
    edit["payload"]["fields"] = json!(["name", "consents"]);
    edit["payload"]["name"] = json!("Renamed at the till");
    edit["payload"]["consents"] =
        json!({ "sms": { "granted": false, "at": "2026-01-02T00:00:00Z", "source": "till" } });
    cloud.push_expect(&till, vec![edit], &["applied"]).await;
    let (_, shown) = cloud.admin_get(&format!("/v1/admin/customers/{customer}")).await;
    assert_eq!(shown["name"], "Renamed at the till");
    assert_eq!(shown["consents"]["sms"]["granted"], false);

    // A malformed batch is refused whole.
    let (status, body) = cloud.push(&till, vec![json!({ "seq": "x" })]).await;
    assert_eq!(status, 422, "{body}");
}

cloud_test!(one_batch_mixing_sales_and_adjustments, mixed_batch_scenario);
/// The cloud reads a chunk's customers once for its sales (PostgreSQL) and writes their rows
/// together; an adjustment between two sales of the same customer must still be seen by the
/// second, and a customer with two sales in one batch must count both.
async fn mixed_batch_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let (anna, boris) = ("c-mixed-anna", "c-mixed-boris");
    let adjustment = |seq: i64, customer: &str, points: i64| {
        event(
            seq,
            "adjustment",
            json!({ "id": format!("adj-{seq}"), "customer_id": customer, "points": points, "reason": "goodwill",
                    "balance_after": 0, "created_at": "2026-11-23T10:00:00Z" }),
        )
    };
    // Known to the cloud before the batch, as customers a chunk's sales name usually are.
    let created = vec![
        customer_created(1, anna, "8 999 555 10 01", "27000000108"),
        customer_created(2, boris, "8 999 555 10 02", "27000000116"),
    ];
    cloud.push_expect(&till, created, &["applied", "applied"]).await;
    let events = vec![
        sale(3, "m-1", boris, 10000, 0, 5),
        adjustment(4, anna, 100),
        sale(5, "m-2", anna, 20000, 60, 7),
        sale(6, "m-3", boris, 5000, 0, 2),
        sale(7, "m-4", boris, 5000, 4, 1),
    ];
    let outcomes = vec!["applied"; events.len()];
    cloud.push_expect(&till, events, &outcomes).await;
    assert_eq!(cloud.points(anna).await["balance"], 100 - 60 + 7);
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=overdraft").await;
    assert_eq!(
        conflicts["conflicts"].as_array().map(Vec::len),
        Some(0),
        "the sale saw the adjustment made just before it in the batch: {conflicts}"
    );
    assert_eq!(cloud.points(boris).await["balance"], 5 + 2 - 4 + 1, "three sales of one customer in one batch");
    let (_, receipts) = cloud.admin_get(&format!("/v1/admin/receipts?customer={boris}")).await;
    assert_eq!(receipts["receipts"].as_array().map(Vec::len), Some(3), "{receipts}");
}

cloud_test!(one_customer_many_sales_in_one_batch, held_customers_scenario);
/// The push path keeps a chunk's customers in memory between their sales and writes them back
/// at the end: a later sale spends what an earlier one of the same batch earned (a lot not
/// stored yet), a refused sale in between leaves nothing behind, a sale naming the customer
/// by a merged-away id changes the same customer, and a return in the next batch finds the
/// receipt's lot.
async fn held_customers_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let known = cloud.customer("+79995550021").await;
    let id = known["id"].as_str().unwrap();
    let twin = customer_created(1, "till-twin-21", "8 999 555 00 21", "27000000215");
    // Refused only once its customer was changed: a promo code no database can store.
    let mut wrong = sale(4, "h-bad", id, 7000, 2, 1);
    wrong["payload"]["receipt"]["promo_codes"] = json!([{ "code": "BAD\u{0}CODE", "discount": 0 }]);
    let (first, last) = (sale(2, "h-1", id, 25000, 0, 12), sale(5, "h-3", id, 5000, 6, 2));
    let events = vec![
        twin,
        first.clone(),
        // Spends 10 of the 12 the sale before earned, naming the merged-away id.
        sale(3, "h-2", "till-twin-21", 10000, 10, 4),
        wrong,
        last.clone(),
    ];
    cloud.push_expect(&till, events, &["applied", "applied", "applied", "rejected", "applied"]).await;
    let (status, shown) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["points"], json!({ "balance": 2, "available": 2, "pending": 0 }), "12 - 10 + 4 - 6 + 2");
    assert_eq!(shown["paid_total"], 25000 + 9000 + 4400, "the refused sale paid nothing");
    let (status, activity) = cloud.admin_get(&format!("/v1/admin/customers/{id}/activity")).await;
    assert_eq!(status, 200, "{activity}");
    let lots = activity["lots"].as_array().expect("lots");
    let remaining: i64 = lots.iter().map(|lot| lot["remaining"].as_i64().unwrap_or(0)).sum();
    assert_eq!(remaining, 2, "the stored lots hold the balance: {activity}");
    let journal: i64 =
        activity["entries"].as_array().expect("entries").iter().map(|e| e["points"].as_i64().unwrap_or(0)).sum();
    assert_eq!(journal, 2, "the journal adds up to the balance: {activity}");

    // The next batch returns the first sale: its 12 points are taken back (10 become debt).
    cloud.push_expect(&till, vec![full_return(6, "ret-h-1", "h-1", 25000, 12, 0)], &["applied"]).await;
    assert_eq!(cloud.points(id).await["balance"], -10);
    // Sent again, nothing counts twice.
    cloud.push_expect(&till, vec![first, last], &["duplicate", "duplicate"]).await;
    assert_eq!(cloud.points(id).await["balance"], -10);

    // A refused return right after a sale takes nothing of the sale with it.
    let events = vec![sale(7, "h-4", id, 1000, 0, 1), full_return(8, "ret-x", "no-such-receipt", 1000, 1, 0)];
    let answer = cloud.push_expect(&till, events, &["applied", "rejected"]).await;
    assert_eq!(outcome(&answer, 1)["code"], "unknown_receipt");
    assert_eq!(cloud.points(id).await["balance"], -9, "the sale before the refused return counts");
    let (status, receipt) = cloud.admin_get(&format!("/v1/admin/receipts/{}/h-4", till.id)).await;
    assert_eq!(status, 200, "the sale's receipt is stored: {receipt}");
}

cloud_test!(bad_arithmetic_is_rejected, bad_arithmetic_scenario);
async fn bad_arithmetic_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let customer = cloud.customer("+79991112233").await;
    let id = customer["id"].as_str().unwrap();
    let mut wrong = sale(1, "r-bad", id, 25000, 0, 12);
    wrong["payload"]["receipt"]["total"] = json!(20000);
    let answer = cloud
        .push_expect(&till, vec![wrong.clone(), sale(2, "r-good", id, 1000, 0, 1)], &["rejected", "applied"])
        .await;
    assert_eq!(outcome(&answer, 0)["code"], "bad_arithmetic");
    assert!(outcome(&answer, 0)["message"].as_str().unwrap().contains("total"));
    assert_eq!(cloud.points(id).await["balance"], 1, "only the good sale counts");
    // Sent again, a rejected event is rejected again (not turned into a success).
    let again = cloud.push_expect(&till, vec![wrong], &["rejected"]).await;
    assert_eq!(outcome(&again, 0)["code"], "bad_arithmetic");
    // An unknown customer and a payload of the wrong shape are rejected too.
    let stranger = sale(3, "r-stranger", "nobody", 1000, 0, 1);
    let shapeless = event(4, "sale", json!({ "receipt": 5 }));
    let answer = cloud.push_expect(&till, vec![stranger, shapeless], &["rejected", "rejected"]).await;
    assert_eq!(outcome(&answer, 0)["code"], "unknown_customer");
    assert_eq!(outcome(&answer, 1)["code"], "invalid_payload");

    let (status, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=rejected_event").await;
    assert_eq!(status, 200);
    let list = conflicts["conflicts"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{conflicts}");
    let bad = list.iter().find(|c| c["details"]["code"] == "bad_arithmetic").expect("the bad sale is listed");
    assert_eq!(bad["till_id"], till.id.as_str());
    assert_eq!(bad["seq"], 1);
    assert!(bad["what_happened"].as_str().unwrap().contains("total"));
    assert!(bad["what_was_done"].as_str().unwrap().contains("rejected"));
}

cloud_test!(overdraft_from_two_tills, overdraft_scenario);
async fn overdraft_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (a, b) = (cloud.till("Till A").await, cloud.till("Till B").await);
    let customer = cloud.customer("+79994445566").await;
    let id = customer["id"].as_str().unwrap();
    let (status, _) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{id}/adjustments"),
            json!({ "id": "gift", "points": 100, "reason": "gift" }),
        )
        .await;
    assert_eq!(status, 201);
    // Both tills were offline and each let the customer spend 80 of the 100 points.
    cloud.push_expect(&a, vec![sale(1, "a-1", id, 10000, 80, 1)], &["applied"]).await;
    cloud.push_expect(&b, vec![sale(1, "b-1", id, 10000, 80, 1)], &["applied"]).await;
    // 100 − 80 + 1 = 21 left after till A; till B spends 80 of them: 59 short, and its earned
    // point pays one of them off at once.
    assert_eq!(cloud.points(id).await, json!({ "balance": -58, "available": 0, "pending": 0 }));
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=overdraft").await;
    let list = conflicts["conflicts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{conflicts}");
    assert_eq!(list[0]["till_id"], b.id.as_str());
    assert_eq!(list[0]["customer_id"], id);
    assert_eq!(list[0]["receipt_id"], "b-1");
    assert_eq!(list[0]["details"]["shortfall"], 59);
    assert!(list[0]["what_was_done"].as_str().unwrap().contains("debt"));
    // Later accruals pay the debt off first.
    cloud.push_expect(&a, vec![sale(2, "a-2", id, 100000, 0, 70)], &["applied"]).await;
    assert_eq!(cloud.points(id).await["balance"], 12);
}

cloud_test!(pull_pages_and_included_seq, pull_scenario);
async fn pull_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (a, b) = (cloud.till("Till A").await, cloud.till("Till B").await);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(cloud.customer(&format!("+7999000100{n}")).await["id"].as_str().unwrap().to_owned());
    }
    // The whole feed: the first program, then a customer and a balance per customer.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = cloud.pull(&a, cursor.as_deref(), 4, 0).await;
        pages += 1;
        assert!(page["changes"].as_array().unwrap().len() <= 4);
        seen.extend(page["changes"].as_array().unwrap().iter().cloned());
        cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(pages, 3, "11 changes in pages of 4");
    assert_eq!(seen.len(), 11);
    assert_eq!(seen[0]["type"], "program");
    for id in &ids {
        assert!(seen.iter().any(|c| c["type"] == "customer" && c["id"] == id.as_str()), "{id}");
        assert!(seen.iter().any(|c| c["type"] == "balance" && c["customer_id"] == id.as_str()), "{id}");
    }
    // Many pulls at once (more than a process's 16 PostgreSQL connections) all get the same page.
    let everything = futures_join_all((0..40).map(|_| cloud.pull(&b, None, 1000, 0)).collect()).await;
    assert!(everything.iter().all(|page| page["changes"].as_array().unwrap().len() == 11));

    // Nothing new: an empty page with the same cursor.
    let empty = cloud.pull(&a, cursor.as_deref(), 4, 0).await;
    assert_eq!(empty["changes"], json!([]));
    assert_eq!(empty["next_cursor"].as_str(), cursor.as_deref());

    // Till A sells to a customer: A's balance row includes its seq, B's includes none of A's.
    cloud.push_expect(&a, vec![sale(1, "a-1", &ids[0], 10000, 0, 5)], &["applied"]).await;
    let for_a = cloud.pull(&a, cursor.as_deref(), 100, 0).await;
    let balance = for_a["changes"].as_array().unwrap().iter().find(|c| c["type"] == "balance").unwrap().clone();
    assert_eq!(balance["customer_id"], ids[0].as_str());
    assert_eq!((balance["balance"].as_i64(), balance["included_seq"].as_i64()), (Some(5), Some(1)));
    assert_eq!(balance["paid_total"], 10000);
    let for_b = cloud.pull(&b, cursor.as_deref(), 100, 0).await;
    let balance = for_b["changes"].as_array().unwrap().iter().find(|c| c["type"] == "balance").unwrap().clone();
    assert_eq!((balance["balance"].as_i64(), balance["included_seq"].as_i64()), (Some(5), Some(0)));

    // A customer changed twice appears once, in its current state.
    for name in ["One", "Two"] {
        let (status, _) = cloud.admin_patch(&format!("/v1/admin/customers/{}", ids[1]), json!({ "name": name })).await;
        assert_eq!(status, 200);
    }
    let cursor = for_a["next_cursor"].as_str().unwrap().to_owned();
    let page = cloud.pull(&a, Some(&cursor), 100, 0).await;
    let changes = page["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{page}");
    assert_eq!(changes[0]["name"], "Two");

    // A malformed or foreign cursor asks for a full refetch.
    for bad in ["garbage", "0000000000000000.3", "x.y"] {
        let page = cloud.pull(&a, Some(bad), 10, 0).await;
        assert_eq!(page["must_refetch"], true, "{bad}: {page}");
    }
}

cloud_test!(long_poll_wakes_within_a_second, long_poll_scenario);
async fn long_poll_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let head = cloud.pull(&till, None, 1000, 0).await["next_cursor"].as_str().unwrap().to_owned();
    let started = Instant::now();
    // Time the propagation from the moment the write was answered, so a loaded machine's slow
    // admin call does not count against the long-poll.
    let ((page, answered), created) =
        tokio::join!(async { (cloud.pull(&till, Some(&head), 100, 20).await, Instant::now()) }, async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cloud.customer("+79997776655").await;
            Instant::now()
        });
    let lag = answered.saturating_duration_since(created);
    assert!(lag < Duration::from_secs(1), "the long-poll answered {lag:?} after the change");
    assert!(started.elapsed() < Duration::from_secs(10), "the long-poll waited {:?}", started.elapsed());
    assert_eq!(page["changes"][0]["phone"], "+79997776655", "{page}");
    // With nothing happening it waits the time asked for, then answers an empty page.
    let started = Instant::now();
    let quiet = cloud.pull(&till, page["next_cursor"].as_str(), 100, 1).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(quiet["changes"], json!([]));
}

cloud_test!(two_processes_one_database, two_processes_scenario);
/// Two loyalty-cloud processes on one database: the same events pushed to both at once are
/// applied once; customers created through both at once all reach a puller that pages to the
/// end while they are being written (no position is skipped when commits finish out of order).
async fn two_processes_scenario(backend: Backend) {
    let first = Cloud::start(backend).await;
    let second = first.second();
    let tills: Vec<Till> = vec![first.till("Till A").await, first.till("Till B").await];
    let customer = first.customer("+79993332211").await["id"].as_str().unwrap().to_owned();

    // Each till has 60 sales of 1 point each; both processes get every batch at once.
    let mut batches = Vec::new();
    for (t, till) in tills.iter().enumerate() {
        let events: Vec<Value> = (1..=60).map(|seq| sale(seq, &format!("t{t}-{seq}"), &customer, 1000, 0, 1)).collect();
        batches.push((till.clone(), events));
    }
    let mut pushes = Vec::new();
    for (till, events) in &batches {
        for chunk in events.chunks(20) {
            for cloud in [&first, &second] {
                pushes.push(cloud.push(till, chunk.to_vec()));
            }
        }
    }

    // Meanwhile, 40 customers are created through both processes, 8 at a time.
    let done = std::sync::atomic::AtomicBool::new(false);
    let creations = async {
        let mut created = Vec::new();
        for round in 0..5 {
            let mut batch = Vec::new();
            for n in 0..8 {
                let cloud = if n % 2 == 0 { &first } else { &second };
                batch.push(cloud.customer_owned(format!("+7999201{round}{n:03}")));
            }
            for body in futures_join_all(batch).await {
                created.push(body["id"].as_str().unwrap().to_owned());
            }
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        created
    };
    // Meanwhile two pullers page continuously, each alternating between the processes, until
    // the creations are over and they have reached the end.
    let puller = |till: &'static str, start: usize| {
        let (first, second, tills, done) = (&first, &second, &tills, &done);
        async move {
            let till = if till == "a" { &tills[0] } else { &tills[1] };
            let mut seen = HashSet::new();
            let mut cursor: Option<String> = None;
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut round = start;
            loop {
                assert!(Instant::now() < deadline, "the puller never reached the end");
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                round += 1;
                let cloud = if round % 2 == 0 { first } else { second };
                let page = cloud.pull(till, cursor.as_deref(), 7, 0).await;
                let changes = page["changes"].as_array().unwrap();
                for change in changes {
                    if change["type"] == "customer" {
                        seen.insert(change["id"].as_str().unwrap().to_owned());
                    }
                }
                cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
                if finished && !page["has_more"].as_bool().unwrap() {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let (results, created, seen_a, seen_b) =
        tokio::join!(futures_join_all(pushes), creations, puller("a", 0), puller("b", 1));

    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        for result in body["results"].as_array().unwrap() {
            assert!(["applied", "duplicate", "out_of_order"].contains(&result["outcome"].as_str().unwrap()), "{body}");
        }
    }
    // Batches that arrived before their predecessors were out of order; resend until done.
    for (till, events) in &batches {
        for chunk in events.chunks(20) {
            let (_, body) = second.push(till, chunk.to_vec()).await;
            for result in body["results"].as_array().unwrap() {
                assert!(["applied", "duplicate"].contains(&result["outcome"].as_str().unwrap()), "{body}");
            }
        }
    }
    assert_eq!(first.points(&customer).await["balance"], 120, "every sale applied exactly once");
    let (_, receipts) = first.admin_get(&format!("/v1/admin/receipts?customer={customer}&limit=1000")).await;
    assert_eq!(receipts["receipts"].as_array().unwrap().len(), 120);

    assert_eq!(created.len(), 40);
    for id in &created {
        assert!(seen_a.contains(id) && seen_b.contains(id), "customer {id} was missed by a puller");
    }
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut handles = Vec::new();
    for future in futures {
        handles.push(Box::pin(future));
    }
    let mut outputs = Vec::with_capacity(handles.len());
    // Poll all at once by joining them pairwise through a select loop.
    let mut pending: Vec<_> = handles.into_iter().enumerate().map(|(i, f)| (i, Some(f))).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (i, slot) in pending.iter_mut() {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => {
                        results[*i] = Some(output);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.extend(results.into_iter().map(|r| r.expect("every future finished")));
    outputs
}

cloud_test!(a_later_commit_never_hides_an_earlier_position, held_position_scenario);
/// The trap of sequence-built cursors, made to happen on purpose: a writer takes a feed
/// position and holds its transaction open; meanwhile the cloud creates a customer (a later
/// position). A puller must not see the later one first — it would move its cursor past the
/// held position and never see it. With the counter row, the later writer waits, so the puller
/// sees neither until the first commits, then both.
async fn held_position_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    let head = cloud.pull(&till, None, 1000, 0).await["next_cursor"].as_str().unwrap().to_owned();

    // The slow writer, on its own connection: takes the next position for the program.
    let (commit, wait_commit) = std::sync::mpsc::channel::<()>();
    let (taken, wait_taken) = std::sync::mpsc::channel::<()>();
    let statements = [
        "UPDATE feed_counter SET pos = pos + 1 WHERE id = 1",
        "DELETE FROM feed WHERE kind = 'program'",
        "INSERT INTO feed (pos, kind, entity_id) SELECT pos, 'program', 'current' FROM feed_counter WHERE id = 1",
    ];
    let writer = cloud.hold_transaction(&statements, taken, wait_commit);
    wait_taken.recv().expect("the slow writer took its position");

    // A customer created now gets a later position, and must wait for the slow writer.
    let create = cloud.customer("+79998887766");
    let check = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let page = cloud.pull(&till, Some(&head), 100, 0).await;
        assert_eq!(page["changes"], json!([]), "nothing may be visible past the held position: {page}");
        commit.send(()).expect("let the slow writer commit");
    };
    let (customer, ()) = tokio::join!(create, check);
    writer.join().expect("the slow writer");

    let page = cloud.pull(&till, Some(&head), 100, 0).await;
    let kinds: Vec<&str> = page["changes"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["program", "customer", "balance"], "{page}");
    assert_eq!(page["changes"][1]["id"], customer["id"]);
}

cloud_test!(enrolment_collisions_merge_or_reassign, collisions_scenario);
/// A till enrolls a phone the cloud already knows (the same person: merged, no second welcome
/// bonus, later sales go to the known customer) and a card another customer holds (different
/// people: a fresh card from the cloud).
async fn collisions_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (status, _) = cloud.admin_put("/v1/admin/program", json!({ "welcome_points": 10 })).await;
    assert_eq!(status, 200);
    let known = cloud.customer("+79995550001").await;
    let known_id = known["id"].as_str().unwrap();
    let known_card = known["card"].as_str().unwrap();
    assert_eq!(known["points"]["balance"], 10);
    let till = cloud.till("Till 1").await;

    let same_person = customer_created(1, "till-c1", "8 999 555 00 01", "27000000017");
    let card_clash = customer_created(2, "till-c2", "+79995550002", known_card);
    let sale_to_alias = sale(3, "r-1", "till-c1", 10000, 0, 5);
    cloud.push_expect(&till, vec![same_person, card_clash, sale_to_alias], &["applied", "applied", "applied"]).await;

    assert_eq!(
        cloud.points(known_id).await["balance"],
        15,
        "no second welcome bonus; the sale went to the known customer"
    );
    let (status, via_alias) = cloud.admin_get("/v1/admin/customers/till-c1").await;
    assert_eq!(status, 200);
    assert_eq!(via_alias["id"], known_id);
    let (_, newcomer) = cloud.admin_get("/v1/admin/customers/till-c2").await;
    assert_ne!(newcomer["card"], known_card);
    assert_eq!(newcomer["points"]["balance"], 10);

    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts").await;
    let kinds: Vec<&str> =
        conflicts["conflicts"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"customer_merged") && kinds.contains(&"card_reassigned"), "{conflicts}");

    // The till learns of both through the feed, with its own seqs included.
    let page = cloud.pull(&till, None, 1000, 0).await;
    let balance = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "balance" && c["customer_id"] == known_id)
        .cloned()
        .expect("the known customer's balance");
    assert_eq!((balance["balance"].as_i64(), balance["included_seq"].as_i64()), (Some(15), Some(3)));
}

cloud_test!(a_merge_is_in_the_feed, merge_feed_scenario);
/// When a till enrolls a phone the cloud knew, every till's next pull carries
/// `{"type": "customer_merged", "from": <the till's id>, "into": <the known id>}`, after the
/// known customer's own snapshot; a first full pull carries it too.
async fn merge_feed_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let known = cloud.customer("+79995550009").await;
    let known_id = known["id"].as_str().unwrap();
    let (a, b) = (cloud.till("Till A").await, cloud.till("Till B").await);
    let head = cloud.pull(&b, None, 1000, 0).await["next_cursor"].as_str().unwrap().to_owned();

    let twin = customer_created(1, "till-a-7", "8 999 555 00 09", "27000000017");
    cloud.push_expect(&a, vec![twin], &["applied"]).await;

    let page = cloud.pull(&b, Some(&head), 1000, 0).await;
    let changes = page["changes"].as_array().unwrap();
    let merge = changes.iter().position(|c| c["type"] == "customer_merged").expect("the merge change");
    assert_eq!(changes[merge], json!({ "type": "customer_merged", "from": "till-a-7", "into": known_id }));
    let snapshot =
        changes.iter().position(|c| c["type"] == "customer" && c["id"] == known_id).expect("the known customer");
    assert!(snapshot < merge, "the survivor comes first: {page}");
    let everything = cloud.pull(&a, None, 1000, 0).await;
    assert!(everything["changes"].as_array().unwrap().iter().any(|c| c["type"] == "customer_merged"), "{everything}");
}

cloud_test!(known_events_and_the_enrolment_say_what_the_cloud_holds, known_events_scenario);
/// What a till enrolled again over a restored database asks: the enrolment answers how far the
/// cloud's numbering of the till goes, and `known-events` which of its events the cloud holds.
async fn known_events_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till known").await;
    let customer = "c-known";
    let created = customer_created(1, customer, "+79995554411", "27000000025");
    let applied = sale(2, "r-known", customer, 10000, 0, 5);
    // A sale of 100.00 spending 1000 points the customer does not have: refused for good.
    let refused = sale(3, "r-refused", customer, 10000, 1000, 0);
    cloud
        .push_expect(
            &till,
            vec![created.clone(), applied.clone(), refused.clone()],
            &["applied", "applied", "rejected"],
        )
        .await;

    let ids = json!({ "event_ids": [applied["event_id"], "never-sent", refused["event_id"], "bad\u{0}id"] });
    let (status, body) =
        cloud.send(reqwest::Method::POST, "/v1/sync/known-events", Some(&till.token), Some(ids.clone())).await;
    assert_eq!(status, 200, "{body}");
    let mut events = body["events"].as_array().expect("events").clone();
    events.sort_by_key(|e| e["outcome"].as_str().unwrap_or_default().to_owned());
    assert_eq!(events.len(), 2, "only the events the cloud holds: {body}");
    assert_eq!((&events[0]["event_id"], &events[0]["outcome"]), (&applied["event_id"], &json!("applied")));
    assert_eq!((&events[1]["event_id"], &events[1]["outcome"]), (&refused["event_id"], &json!("rejected")));
    assert!(events[1]["code"].as_str().is_some_and(|code| !code.is_empty()), "{body}");

    let (status, _) = cloud.send(reqwest::Method::POST, "/v1/sync/known-events", None, Some(ids)).await;
    assert_eq!(status, 401, "a device token is needed");
    let many: Vec<String> = (0..1001).map(|n| format!("e-{n}")).collect();
    let (status, body) = cloud
        .send(reqwest::Method::POST, "/v1/sync/known-events", Some(&till.token), Some(json!({ "event_ids": many })))
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("batch_too_large")), "{body}");

    // A new code for the same till: the enrolment says the cloud holds its events up to 3.
    let (status, code) = cloud.admin_post(&format!("/v1/admin/tills/{}/enrollment-code", till.id), json!({})).await;
    assert_eq!(status, 201, "{code}");
    let (status, enrolled) =
        cloud.send(reqwest::Method::POST, "/v1/enroll", None, Some(json!({ "code": code["enrollment_code"] }))).await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!((&enrolled["till_id"], &enrolled["last_seq"]), (&json!(till.id), &json!(3)));
    // The old token is gone with the new enrolment.
    let (status, _) = cloud
        .send(reqwest::Method::POST, "/v1/sync/known-events", Some(&till.token), Some(json!({ "event_ids": [] })))
        .await;
    assert_eq!(status, 401);
}
