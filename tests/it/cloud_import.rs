//! `loyalty-cloud customers import FILE.csv`, run as an operator would beside the serving
//! cloud, on SQLite and PostgreSQL: good rows in (with feed rows the tills pull), bad rows
//! reported by line, batches of 10,000; and a connected till refusing its own import.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

use crate::cloud_support::{Backend, Cloud, Till};
use crate::cloud_test;
use crate::support::agent_binary;
use crate::sync_e2e::enroll;

/// Every change a till pulls from the start, paging to the end.
async fn pull_all(cloud: &Cloud, till: &Till) -> Vec<Value> {
    let mut changes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = cloud.pull(till, cursor.as_deref(), 5000, 0).await;
        changes.extend(page["changes"].as_array().unwrap().iter().cloned());
        cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
        if !page["has_more"].as_bool().unwrap() {
            return changes;
        }
    }
}

cloud_test!(csv_import_reports_bad_rows_and_feeds_the_tills, csv_import_scenario);
async fn csv_import_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let known = cloud.customer("+79990000001").await;
    let till = cloud.till("Till 1").await;
    let csv = cloud.dir.join("customers.csv");
    // Columns in another order than the agent's example; line numbers count the header as 1.
    std::fs::write(
        &csv,
        "Name,points,phone,card,email\n\
         Ann,120,+7 999 100-00-01,,ann@example.com\n\
         Bob,0,89991000002,5555000011,\n\
         Bad,,not-a-phone,,\n\
         Duplicate in the file,,+79991000001,,\n\
         Bad points,lots,+79991000003,,\n\
         Bad email,,+79991000004,,nope\n\
         Carl,7,9991000005,,\n\
         Known already,,+79990000001,,\n\
         Card taken,,+79991000006,5555000011,\n\
         Email taken,,+79991000007,,ANN@example.com\n",
    )
    .unwrap();
    let output = cloud.command(&["customers", "import", csv.to_str().unwrap()]).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("imported 3 customers, skipped 7 rows"), "{stdout}");
    for (line, reason) in [
        ("line 4:", "not a valid phone"),
        ("line 5:", "phone already belongs"),
        ("line 6:", "not a whole number"),
        ("line 7:", "not an email"),
        ("line 9:", "phone already belongs"),
        ("line 10:", "card already belongs"),
        ("line 11:", "email already belongs"),
    ] {
        let reported = stderr.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("{line}: {stderr}"));
        assert!(reported.contains(reason), "{reported}");
    }

    // The serving cloud sees them at once, with their points and a card of the cloud's series.
    let (_, ann) = cloud.admin_get("/v1/admin/customers?email=ann@example.com").await;
    assert_eq!(ann["customers"][0]["points"]["balance"], 120, "{ann}");
    assert_eq!(ann["customers"][0]["name"], "Ann");
    assert!(ann["customers"][0]["card"].as_str().unwrap().starts_with("2799"), "{ann}");
    let (_, bob) = cloud.admin_get("/v1/admin/customers?card=5555000011").await;
    assert_eq!(bob["customers"][0]["phone"], "+79991000002");
    assert_eq!(bob["customers"][0]["points"]["balance"], 0);
    let (_, carl) = cloud.admin_get("/v1/admin/customers?phone=%2B79991000005").await;
    assert_eq!(carl["customers"][0]["points"]["available"], 7);
    let (_, still) = cloud.admin_get(&format!("/v1/admin/customers/{}", known["id"].as_str().unwrap())).await;
    assert_eq!(still["name"], "Test", "an existing customer is left as it was");

    // A till pulls each imported customer, and a balance for those imported with points.
    let changes = pull_all(&cloud, &till).await;
    let phones: HashSet<&str> =
        changes.iter().filter(|c| c["type"] == "customer").filter_map(|c| c["phone"].as_str()).collect();
    for phone in ["+79990000001", "+79991000001", "+79991000002", "+79991000005"] {
        assert!(phones.contains(phone), "{phone} in the feed");
    }
    let ann_id = ann["customers"][0]["id"].as_str().unwrap();
    let balance = changes.iter().find(|c| c["type"] == "balance" && c["customer_id"] == ann_id).expect("Ann's balance");
    assert_eq!(balance["balance"], 120);

    // A larger file goes in several batches of 10,000; card numbers never repeat.
    let mut big = String::from("phone,name,points\n");
    for n in 0..25_000 {
        writeln!(big, "+7998{n:07},Customer {n},{}", n % 3).unwrap();
    }
    writeln!(big, "+79980000001,Repeated,1").unwrap();
    let big_csv = cloud.dir.join("big.csv");
    std::fs::write(&big_csv, big).unwrap();
    let output = cloud.command(&["customers", "import", big_csv.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("imported 25000 customers, skipped 1 rows"), "{stdout}");
    let changes = pull_all(&cloud, &till).await;
    let customers: Vec<&Value> = changes.iter().filter(|c| c["type"] == "customer").collect();
    assert_eq!(customers.len(), 1 + 3 + 25_000, "every customer once in the feed");
    let cards: HashSet<&str> = customers.iter().filter_map(|c| c["card"].as_str()).collect();
    assert_eq!(cards.len(), customers.len(), "no card number twice");
    let balances = changes.iter().filter(|c| c["type"] == "balance").count();
    assert_eq!(balances, 1 + 2 + 16_666, "a balance for the admin's customer and each one imported with points");
    let (_, last) = cloud.admin_get("/v1/admin/customers?phone=%2B79980024999").await;
    assert_eq!(last["customers"][0]["points"]["balance"], 24_999 % 3);
}

cloud_test!(a_connected_till_refuses_its_own_import, connected_import_scenario);
async fn connected_import_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &cloud.base, dir.path(), "till-import").await;
    let csv = dir.path().join("customers.csv");
    std::fs::write(&csv, "phone\n+79991230000\n").unwrap();
    let output = Command::new(agent_binary())
        .args(["customers", "import"])
        .arg(&csv)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("loyalty-cloud customers import"), "{stderr}");
}
