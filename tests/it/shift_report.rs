//! The shift report on the till and in the cloud: a connected agent sells and takes a
//! return, answers its shift report from its own records, and after the outbox drains the
//! cloud's shift report for that till and day says the same; the cloud's stopping does not
//! stop the till's report.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::support::Agent;
use crate::sync_e2e::{enroll, wait_drained};

/// The fields both reports share.
const FIELDS: [&str; 12] = [
    "receipts",
    "loyalty_receipts",
    "sales_amount",
    "points_discount",
    "points_earned",
    "points_spent",
    "returns",
    "refund_amount",
    "points_taken_back",
    "points_given_back",
    "first_receipt_at",
    "last_receipt_at",
];

fn sale(id: &str, customer: Option<&str>, price: i64, redeem: i64) -> Value {
    let mut sale =
        json!({ "id": id, "redeem": redeem, "lines": [{ "sku": "beans", "quantity": "1", "price": price }] });
    if let Some(customer) = customer {
        sale["customer"] = json!({ "id": customer });
    }
    sale
}

fn shared(report: &Value) -> Vec<Value> {
    FIELDS.iter().map(|field| report[field].clone()).collect()
}

cloud_test!(the_till_s_shift_report_matches_the_cloud_s_after_sync, shift_scenario);
async fn shift_scenario(backend: Backend) {
    let mut cloud = Cloud::start(backend).await;
    let ivan = cloud.customer("+79991234568").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let (status, body) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{ivan_id}/adjustments"),
            json!({ "id": "gift", "points": 100, "reason": "test" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &cloud.base, dir.path(), "till-1").await;
    let agent = Agent::spawn_in(dir.path(), None);

    for (id, customer, price, redeem) in
        [("r-1", Some(ivan_id.as_str()), 25000, 50), ("r-2", None, 1200, 0), ("r-3", Some(ivan_id.as_str()), 9900, 0)]
    {
        let (status, body) = agent.post("/v1/receipts", sale(id, customer, price, redeem)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = agent.post("/v1/receipts/r-3/returns", json!({ "id": "ret-1", "all": true })).await;
    assert_eq!(status, 200, "{body}");

    let (status, till) = agent.get("/v1/reports/shift").await;
    assert_eq!(status, 200, "{till}");
    assert_eq!((till["receipts"].clone(), till["loyalty_receipts"].clone()), (json!(3), json!(2)), "{till}");
    assert_eq!(till["points_spent"], 50);
    assert_eq!(till["points_discount"], 5000, "50 points at 1.00");
    assert_eq!(till["sales_amount"], 25000 - 5000 + 1200 + 9900);
    assert_eq!(till["returns"], 1);
    assert_eq!(till["refund_amount"], 9900);
    assert!(till["points_earned"].as_i64().unwrap() > 0, "{till}");
    assert_eq!(till["points_taken_back"], till["points_earned"].as_i64().unwrap() - earned_by_r1(&agent).await);

    wait_drained(&agent, Duration::from_secs(15)).await;
    let date = till["date"].as_str().unwrap().to_owned();
    let (status, office) = cloud.admin_get(&format!("/v1/admin/reports/shift?till={till_id}&date={date}")).await;
    assert_eq!(status, 200, "{office}");
    assert_eq!(shared(&office), shared(&till), "the cloud's {office} and the till's {till}");
    assert_eq!(office["till_id"], till_id.as_str());

    // Offline, the till still answers, and counts what it sells meanwhile.
    cloud.stop();
    let (status, body) = agent.post("/v1/receipts", sale("r-4", None, 500, 0)).await;
    assert_eq!(status, 200, "{body}");
    let (status, offline) = agent.get(&format!("/v1/reports/shift?date={date}")).await;
    assert_eq!(status, 200, "{offline}");
    assert_eq!(offline["receipts"], 4, "{offline}");
    let (status, other_day) = agent.get("/v1/reports/shift?date=2020-01-01").await;
    assert_eq!((status, other_day["receipts"].clone()), (200, json!(0)), "{other_day}");
    let (status, bad) = agent.get("/v1/reports/shift?date=yesterday").await;
    assert_eq!((status, bad["error"]["code"].clone()), (422, json!("invalid_date")), "{bad}");
}

/// What r-1 earned, read back from the till (the return took back r-3's earn only).
async fn earned_by_r1(agent: &Agent) -> i64 {
    let (status, receipt) = agent.get("/v1/receipts/r-1").await;
    assert_eq!(status, 200, "{receipt}");
    receipt["receipt"]["points"]["earn"].as_i64().expect("the receipt's earn")
}
