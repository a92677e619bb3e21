//! `loyalty-agent customers import FILE.csv`: good rows in, bad rows reported by line number.

use std::process::Command;

use crate::support::{agent_binary, Agent};

#[tokio::test]
async fn csv_import_reports_bad_rows_and_imports_the_rest() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let csv = temp.path().join("customers.csv");
    std::fs::write(
        &csv,
        "phone,name,email,card,points\n\
         +7 999 100-00-01,Ann,ann@example.com,,120\n\
         89991000002,Bob,,5555000011,0\n\
         not-a-phone,Bad,,,\n\
         +79991000001,Duplicate phone,,,\n\
         +79991000003,Bad points,,,lots\n\
         +79991000004,Bad email,nope,,\n\
         9991000005,Carl,,,7\n",
    )
    .unwrap();
    let output = Command::new(agent_binary())
        .args(["customers", "import"])
        .arg(&csv)
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("imported 3 customers, skipped 4 rows"), "{stdout}");
    for line in ["line 4:", "line 5:", "line 6:", "line 7:"] {
        assert!(stderr.contains(line), "{line} must be reported: {stderr}");
    }
    assert!(stderr.contains("phone already belongs"), "{stderr}");

    let agent = Agent::spawn_in(&dir, None);
    let (_, ann) = agent.get("/v1/customers/search?q=ann@example.com").await;
    assert_eq!(ann["customers"][0]["points"]["balance"], 120);
    let (_, bob) = agent.get("/v1/customers/search?q=5555000011").await;
    assert_eq!(bob["customers"][0]["name"], "Bob");
    let (_, carl) = agent.get("/v1/customers/search?q=%2B79991000005").await;
    assert_eq!(carl["customers"][0]["points"]["balance"], 7);
    assert!(carl["customers"][0]["card"].as_str().unwrap().starts_with("2700"));
}
