//! The agent's receipt lists (`GET /v1/receipts`, `GET /v1/customers/{id}/receipts`): newest
//! first, a page at a time, every receipt exactly once while new ones are committed, and bad
//! paging values answered with their own codes.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::support::{assert_error, Agent};

fn sale(id: &str, customer_id: &str, price: i64) -> Value {
    json!({ "id": id, "customer": { "id": customer_id }, "lines": [{ "sku": "tea", "quantity": "1", "price": price }] })
}

async fn page(agent: &Agent, path: &str) -> (Vec<String>, Option<String>) {
    let (status, body) = agent.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let ids = body["receipts"].as_array().expect("receipts").iter().map(|r| r["id"].as_str().unwrap().to_owned());
    (ids.collect(), body["next_cursor"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_page_newest_first_and_never_skip_or_repeat() {
    let agent = Agent::start().await;
    let ivan = agent.enroll("+79990004401", "Ivan").await["id"].as_str().unwrap().to_owned();
    let olga = agent.enroll("+79990004402", "Olga").await["id"].as_str().unwrap().to_owned();
    for n in 0..25 {
        let who = if n % 5 == 0 { &olga } else { &ivan };
        assert_eq!(agent.post("/v1/receipts", sale(&format!("r-{n:02}"), who, 1000 + n)).await.0, 200);
    }
    assert_eq!(agent.post("/v1/receipts/r-03/returns", json!({ "id": "ret-3", "all": true })).await.0, 200);

    // Walk Ivan's receipts 7 at a time while new sales arrive between the pages.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut extra = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/customers/{ivan}/receipts?limit=7&cursor={c}"),
            None => format!("/v1/customers/{ivan}/receipts?limit=7"),
        };
        let (ids, next) = page(&agent, &path).await;
        assert!(ids.len() <= 7);
        seen.extend(ids);
        agent.post("/v1/receipts", sale(&format!("new-{extra}"), &ivan, 500)).await;
        extra += 1;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().filter(|n| n % 5 != 0).map(|n| format!("r-{n:02}")).collect();
    assert_eq!(seen, expected, "Ivan's 20 receipts, newest first, each once, none of the later ones");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 20);

    // The till's list holds everyone's; the summary says what was returned.
    let (status, all) = agent.get("/v1/receipts?limit=1000").await;
    assert_eq!(status, 200);
    let receipts = all["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 25 + extra);
    let r03 = receipts.iter().find(|r| r["id"] == "r-03").expect("r-03");
    assert_eq!((r03["returned"].clone(), r03["total"].clone()), (json!("all"), json!(1003)), "{r03}");
    assert_eq!(r03["customer_id"], ivan.as_str());
    assert!(all["next_cursor"].is_null());
    let (status, default) = agent.get("/v1/receipts").await;
    assert_eq!(status, 200);
    assert_eq!(default["receipts"].as_array().unwrap().len(), 25 + extra, "the default page is 100");

    // Bad paging values, an unknown customer.
    for bad in ["0", "1001", "-3", "ten", "1.5"] {
        assert_error(&agent.get(&format!("/v1/receipts?limit={bad}")).await, 422, "invalid_limit");
    }
    for bad in ["abc", "-1", "0", "9999999999999999999999"] {
        assert_error(&agent.get(&format!("/v1/receipts?cursor={bad}")).await, 422, "invalid_cursor");
    }
    assert_error(&agent.get("/v1/customers/nobody/receipts").await, 404, "customer_not_found");
}
