//! The finance reports against the real cloud on SQLite and PostgreSQL: the liability at
//! several moments equals what the test's own model of every lot and debt says, before and
//! after finished days are folded; the daily report, the dashboard and the shift report count
//! what the till pushed; the customer export and the uploaded import.

use crate::cloud_support::{assert_error, customer_created, full_return, sale, Backend, Cloud, Till};
use crate::cloud_test;
use serde_json::{json, Value};

const DAY: i64 = 86_400;
const OFFSET: i64 = 3 * 3600;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The local (UTC+3) date of `at`, `YYYY-MM-DD`.
fn local_date(at: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(at + OFFSET).unwrap();
    format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day())
}

/// An event made on the till at `at`, naming program `version`.
fn at_till(mut event: Value, at: i64, version: i64) -> Value {
    event["created_at"] = json!(rfc3339(at));
    if event["payload"]["receipt"].is_object() {
        event["payload"]["receipt"]["program_version"] = json!(version);
    }
    event
}

/// One change of a lot's remaining points (`act` = Some) or of a debt (`act` = None), made
/// within the test's phase `phase`, for `customer`.
#[derive(Clone, Copy)]
struct Move {
    phase: usize,
    customer: usize,
    points: i64,
    act: Option<i64>,
    exp: i64,
}

/// What the liability must be at `t`, given the phases that ended before it: the test's own
/// bookkeeping of the lots it made, independent of how the cloud stores them.
fn expected(moves: &[Move], phases_done: usize, t: i64, only: Option<usize>) -> [i64; 4] {
    let horizon = ((t + OFFSET).div_euclid(DAY) + 31) * DAY - OFFSET;
    let mut out = [0i64; 4];
    for m in moves.iter().filter(|m| m.phase < phases_done && only.is_none_or(|c| c == m.customer)) {
        match m.act {
            None => out[3] += m.points,
            Some(act) if m.exp > t => {
                if act <= t {
                    out[0] += m.points;
                } else {
                    out[1] += m.points;
                }
                if m.exp < horizon {
                    out[2] += m.points;
                }
            }
            Some(_) => {}
        }
    }
    out
}

async fn liability(cloud: &Cloud, query: &str) -> Value {
    let (status, body) = cloud.admin_get(&format!("/v1/admin/reports/liability{query}")).await;
    assert_eq!(status, 200, "liability{query}: {body}");
    body
}

fn assert_liability(body: &Value, want: [i64; 4], point_value: i64, what: &str) {
    let got = [
        body["points"]["active"].as_i64().unwrap(),
        body["points"]["pending"].as_i64().unwrap(),
        body["points"]["expiring_30d"].as_i64().unwrap(),
        body["points"]["debt"].as_i64().unwrap(),
    ];
    assert_eq!(got, want, "{what}: [active, pending, expiring_30d, debt] in {body}");
    assert_eq!(body["money"]["active"].as_i64().unwrap(), want[0] * point_value, "{what}: {body}");
    assert_eq!(body["money"]["debt"].as_i64().unwrap(), want[3] * point_value, "{what}: {body}");
}

async fn pause() {
    // Moments between phases must differ from the cloud's seconds on both sides.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
}

struct Setup {
    cloud: Cloud,
    till: Till,
    moves: Vec<Move>,
    /// The end of each phase (a moment after it and before the next).
    after: Vec<i64>,
    before_all: i64,
    t0: i64,
}

/// Three phases of sales, returns and adjustments at known times (activation 1 day, expiry
/// 20 days). C1 joined at the till (home store "Main street"), C2 and C3 in the back office.
async fn three_phases(backend: Backend) -> Setup {
    let cloud = Cloud::start(backend).await;
    let (status, program) =
        cloud.admin_put("/v1/admin/program", json!({ "activation_days": 1, "expiry_days": 20 })).await;
    assert_eq!(status, 200, "{program}");
    let v = program["version"].as_i64().unwrap();
    let till = cloud.till("Till 1").await;
    let before_all = now() - 1;
    pause().await;
    let t0 = now();
    // Phase 0.
    let c1 = "till-customer-1".to_owned();
    cloud
        .push_expect(
            &till,
            vec![at_till(customer_created(1, &c1, "+79990001001", "2000000000011"), t0, v)],
            &["applied"],
        )
        .await;
    let c2 = cloud.customer("+79990001002").await["id"].as_str().unwrap().to_owned();
    let c3 = cloud.customer("+79990001003").await["id"].as_str().unwrap().to_owned();
    let (s1_at, s3_at) = (t0 - 10 * DAY, t0 - 25 * DAY);
    cloud
        .push_expect(
            &till,
            vec![
                at_till(sale(2, "s1", &c1, 5000, 0, 50), s1_at, v),
                at_till(sale(3, "s2", &c2, 3000, 0, 30), t0, v),
                at_till(sale(4, "s3", &c3, 2000, 0, 20), s3_at, v),
            ],
            &["applied", "applied", "applied"],
        )
        .await;
    let mut moves = vec![
        Move { phase: 0, customer: 1, points: 50, act: Some(s1_at + DAY), exp: s1_at + 21 * DAY },
        Move { phase: 0, customer: 2, points: 30, act: Some(t0 + DAY), exp: t0 + 21 * DAY },
        // Expired four days ago, before it was even credited: never in the liability.
        Move { phase: 0, customer: 3, points: 20, act: Some(s3_at + DAY), exp: s3_at + 21 * DAY },
    ];
    let mut after = vec![now()];
    pause().await;
    // Phase 1: C1 spends 30 of their one active lot; C2, with only pending points, is
    // adjusted by −100 into debt.
    cloud.push_expect(&till, vec![at_till(sale(5, "s4", &c1, 4000, 30, 0), now(), v)], &["applied"]).await;
    let (status, body) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{c2}/adjustments"),
            json!({ "id": "adj-1", "points": -100, "reason": "test" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    moves.push(Move { phase: 1, customer: 1, points: -30, act: Some(s1_at + DAY), exp: s1_at + 21 * DAY });
    moves.push(Move { phase: 1, customer: 2, points: 100, act: None, exp: 0 });
    after.push(now());
    pause().await;
    // Phase 2: s4 returned (30 spent points come back as a new lot), s2 returned (its pending
    // 30 taken back), C2 adjusted +40 (pays debt).
    let t2 = now();
    cloud
        .push_expect(
            &till,
            vec![
                at_till(full_return(6, "r4", "s4", 1000, 0, 30), t2, v),
                at_till(full_return(7, "r2", "s2", 3000, 30, 0), t2, v),
            ],
            &["applied", "applied"],
        )
        .await;
    let (status, body) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{c2}/adjustments"),
            json!({ "id": "adj-2", "points": 40, "reason": "test" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let t2_end = now();
    moves.push(Move { phase: 2, customer: 1, points: 30, act: Some(t2), exp: t2 + 20 * DAY });
    moves.push(Move { phase: 2, customer: 2, points: -30, act: Some(t0 + DAY), exp: t0 + 21 * DAY });
    moves.push(Move { phase: 2, customer: 2, points: -40, act: None, exp: 0 });
    // The refund lot is dated by the cloud's clock within phase 2: it is active from then on.
    assert!(t2_end - t2 <= 2, "phase 2 took too long to date its lot");
    after.push(t2_end + 1);
    pause().await;
    Setup { cloud, till, moves, after, before_all, t0 }
}

async fn liability_scenario(backend: Backend) {
    let Setup { cloud, moves, after, before_all, t0, .. } = three_phases(backend).await;
    let point_value = 100;
    // (query, moment, phases done before it); a date's moment is its last second, read back.
    let moments: Vec<(String, Option<i64>, usize)> = vec![
        (format!("?at={}", rfc3339(before_all)), Some(before_all), 0),
        (format!("?at={}", local_date(before_all - 2 * DAY)), None, 0),
        (format!("?at={}", rfc3339(after[0] + 1)), Some(after[0] + 1), 1),
        (format!("?at={}", rfc3339(after[1] + 1)), Some(after[1] + 1), 2),
        (String::new(), Some(now()), 3),
        (format!("?at={}", rfc3339(t0 + 12 * DAY)), Some(t0 + 12 * DAY), 3),
        (format!("?at={}", local_date(t0 + 5 * DAY)), None, 3),
    ];
    for (query, t, phases) in moments {
        let body = liability(&cloud, &query).await;
        let t = t.unwrap_or_else(|| parse_at(&body["at"]));
        assert_liability(&body, expected(&moves, phases, t, None), point_value, &format!("chain at {query}"));
        let separator = if query.is_empty() { "?" } else { "&" };
        let scoped = liability(&cloud, &format!("{query}{separator}store=Main%20street")).await;
        assert_liability(
            &scoped,
            expected(&moves, phases, t, Some(1)),
            point_value,
            &format!("Main street at {query}"),
        );
        let (all, home) = if phases == 0 { (0, 0) } else { (3, 1) };
        assert_eq!((body["customers"].as_i64(), scoped["customers"].as_i64()), (Some(all), Some(home)), "{query}");
    }
    // Date every move ten days earlier (as if made then): those days are finished, so the next
    // report folds them, and the chain's figures come from the folded days — the same figures.
    let shift = 10 * DAY;
    cloud.sql(&format!(
        "UPDATE lot_moves SET at = at - {shift}; UPDATE meta SET value = '-1' WHERE key = 'lot_moves_folded_through'"
    ));
    for (phases, t) in [(1usize, after[0] - shift + 1), (2, after[1] - shift + 1), (3, now()), (3, t0 + 12 * DAY)] {
        let body = liability(&cloud, &format!("?at={}", rfc3339(t))).await;
        // The moves' times moved; their lots' activation and expiry did not.
        assert_liability(&body, expected(&moves, phases, t, None), point_value, &format!("folded chain at {t}"));
        let scoped = liability(&cloud, &format!("?at={}&store=Main%20street", rfc3339(t))).await;
        assert_liability(&scoped, expected(&moves, phases, t, Some(1)), point_value, &format!("folded store at {t}"));
    }
    let folded = cloud.sql_texts("SELECT value FROM meta WHERE key = 'lot_moves_folded_through'");
    assert_ne!(folded, vec![Some("-1".to_owned())], "the report folded the finished days");
    let buckets = cloud.sql_texts("SELECT CAST(COUNT(*) AS TEXT) FROM lot_move_days");
    assert_ne!(buckets, vec![Some("0".to_owned())], "the folded days hold the moves");
    // Bad moments are refused with a code.
    assert_error(&cloud.admin_get("/v1/admin/reports/liability?at=yesterday").await, 422, "invalid_at");
    assert_error(&cloud.admin_get("/v1/admin/reports/liability?at=2026-02-30").await, 422, "invalid_at");
}
cloud_test!(liability_equals_the_ledger_at_every_moment, liability_scenario);

fn parse_at(at: &Value) -> i64 {
    let text = at.as_str().unwrap();
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
}

async fn daily_dashboard_shift_scenario(backend: Backend) {
    let Setup { cloud, till, t0, .. } = three_phases(backend).await;
    let today = local_date(t0);
    let from = local_date(t0 - 30 * DAY);
    let (status, body) = cloud.admin_get(&format!("/v1/admin/reports/daily?from={from}&to={today}")).await;
    assert_eq!(status, 200, "{body}");
    let days = body["days"].as_array().unwrap();
    let row = |date: &str, store: &str| {
        days.iter()
            .find(|d| d["date"] == date && d["store"] == store)
            .cloned()
            .unwrap_or_else(|| panic!("no {date} {store} in {body}"))
    };
    let main = row(&today, "Main street");
    assert_eq!(main["receipts"], 2, "{main}");
    assert_eq!(main["loyalty_receipts"], 2);
    assert_eq!(main["sales_amount"], 3000 + 1000, "s2 paid 3000, s4 4000 − 3000 by points");
    assert_eq!(main["points_discount"], 3000);
    assert_eq!(main["points_earned"], 30);
    assert_eq!(main["points_spent"], 30);
    assert_eq!(main["returns"], 2);
    assert_eq!(main["refund_amount"], 4000);
    assert_eq!(main["points_taken_back"], 30);
    assert_eq!(main["points_given_back"], 30);
    assert_eq!(main["new_customers"], 1, "C1 joined at the till");
    let office = row(&today, "");
    assert_eq!(office["points_adjusted"], -60, "{office}");
    assert_eq!(office["new_customers"], 2);
    assert_eq!(row(&local_date(t0 - 10 * DAY), "Main street")["points_earned"], 50);
    assert_eq!(row(&local_date(t0 - 25 * DAY), "Main street")["receipts"], 1);
    // C3's 20 points (home store none) expired four days ago.
    assert_eq!(row(&local_date(t0 - 4 * DAY), "")["points_expired"], 20);
    // Scoped to a store: only its rows.
    let (_, scoped) =
        cloud.admin_get(&format!("/v1/admin/reports/daily?from={from}&to={today}&store=Main%20street")).await;
    assert!(scoped["days"].as_array().unwrap().iter().all(|d| d["store"] == "Main street"), "{scoped}");
    // CSV: a header row and a line per row, as an attachment.
    let response = reqwest::Client::new()
        .get(cloud.url(&format!("/v1/admin/reports/daily?from={from}&to={today}&format=csv")))
        .bearer_auth(crate::cloud_support::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"daily-{from}-{today}.csv\"").as_str()
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("date,store,receipts,loyalty_receipts,sales_amount"), "{text}");
    assert_eq!(lines.len(), days.len() + 1, "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{today},Main street,2,2,4000,3000,30,30,0,30,30,0,2,4000,1"))),
        "{text}"
    );
    // Ranges and formats are checked.
    for (query, code) in [
        (format!("from={today}&to={from}"), "invalid_range"),
        (format!("from={}&to={today}", local_date(t0 - 400 * DAY)), "range_too_long"),
        (format!("from=08.03.2026&to={today}"), "invalid_date"),
        (format!("from={from}&to={today}&format=xlsx"), "invalid_format"),
    ] {
        assert_error(&cloud.admin_get(&format!("/v1/admin/reports/daily?{query}")).await, 422, code);
    }

    // A rejected event is a pending conflict; the till was seen by its pushes.
    cloud.push_expect(&till, vec![at_till(sale(8, "s9", "nobody", 100, 0, 1), now(), 2)], &["rejected"]).await;
    let (status, dash) = cloud.admin_get("/v1/admin/dashboard?period=7d").await;
    assert_eq!(status, 200, "{dash}");
    assert_eq!(dash["period"], "7d");
    assert_eq!(dash["series"].as_array().unwrap().len(), 7, "{dash}");
    assert_eq!(dash["receipts"], 2, "s2 and s4 within 7 days: {dash}");
    assert_eq!(dash["loyalty_receipts"], 2);
    assert_eq!(dash["loyalty_share_bp"], 10_000);
    assert_eq!(dash["points"], json!({ "earned": 30, "spent": 30, "expired": 20 }), "{dash}");
    assert_eq!(dash["new_customers"]["total"], 3);
    assert_eq!(dash["new_customers"]["till"], 1);
    assert_eq!(dash["new_customers"]["admin"], 2);
    assert_eq!(dash["tills"], json!({ "total": 1, "active": 1, "not_seen_1h": 0 }), "{dash}");
    assert_eq!(dash["pending_conflicts"], 1, "{dash}");
    let series_today = dash["series"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(series_today["date"], today.as_str());
    assert_eq!(series_today["receipts"], 2);
    let (_, today_only) = cloud.admin_get("/v1/admin/dashboard").await;
    assert_eq!(today_only["period"], "today");
    assert_eq!(today_only["points"]["expired"], 0, "nothing expired today: {today_only}");
    // A till not heard from for two hours.
    cloud.sql(&format!("UPDATE tills SET last_seen_at = {}", now() - 7200));
    let (_, dash) = cloud.admin_get("/v1/admin/dashboard?period=30d&store=Main%20street").await;
    assert_eq!(dash["tills"], json!({ "total": 1, "active": 0, "not_seen_1h": 1 }), "{dash}");
    assert_eq!(dash["new_customers"]["total"], 1, "only C1's home store: {dash}");
    assert_eq!(dash["points"]["earned"], 30 + 50 + 20, "s2, s1 and s3 at its till: {dash}");
    let (_, other) = cloud.admin_get("/v1/admin/dashboard?period=30d&store=Elsewhere").await;
    assert_eq!((other["receipts"].clone(), other["tills"]["total"].clone()), (json!(0), json!(0)), "{other}");
    assert_error(&cloud.admin_get("/v1/admin/dashboard?period=week").await, 422, "invalid_period");

    // The shift report of the till's day.
    let (status, shift) = cloud.admin_get(&format!("/v1/admin/reports/shift?till={}&date={today}", till.id)).await;
    assert_eq!(status, 200, "{shift}");
    assert_eq!((shift["receipts"].clone(), shift["returns"].clone()), (json!(2), json!(2)), "{shift}");
    assert_eq!(shift["store"], "Main street");
    assert!(shift["first_receipt_at"].as_i64().unwrap() <= shift["last_receipt_at"].as_i64().unwrap());
    assert_error(&cloud.admin_get("/v1/admin/reports/shift?till=nope").await, 404, "till_not_found");
}
cloud_test!(daily_dashboard_and_shift_count_what_the_till_pushed, daily_dashboard_shift_scenario);

async fn export_import_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let till = cloud.till("Till 1").await;
    // Uploaded: two good rows, one bad phone, one duplicate of the first.
    let csv = "phone,name,email,card,points\n+79991112201,Anna,anna@example.com,,15\n89991112202,Boris,,,0\nnot a phone,X,,,\n+79991112201,Again,,,\n";
    let response = reqwest::Client::new()
        .post(cloud.url("/v1/admin/customers/import"))
        .bearer_auth(crate::cloud_support::ADMIN)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["imported"], 2, "{report}");
    let lines: Vec<i64> = report["rejected"].as_array().unwrap().iter().map(|r| r["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, vec![4, 5], "{report}");
    assert!(report["rejected"][0]["reason"].as_str().unwrap().len() > 3);
    let (status, json_body) = cloud.admin_post("/v1/admin/customers/import", json!({ "phone": "x" })).await;
    assert_eq!((status, json_body["error"]["code"].clone()), (415, json!("unsupported_media_type")), "{json_body}");
    let response = reqwest::Client::new()
        .post(cloud.url("/v1/admin/customers/import"))
        .bearer_auth(crate::cloud_support::ADMIN)
        .header("content-type", "text/csv")
        .body("name,email\nAnna,a@b.c\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csv_no_phone_column");
    // A till customer with points, so balance and store show.
    cloud.push_expect(&till, vec![customer_created(1, "till-c", "+79991112203", "2000000000028")], &["applied"]).await;
    cloud.push_expect(&till, vec![at_till(sale(2, "e1", "till-c", 1000, 0, 7), now(), 1)], &["applied"]).await;
    // More than one page of the export, so keyset paging is exercised.
    let mut bulk = String::from("phone\n");
    for n in 0..2_100 {
        bulk.push_str(&format!("+7999300{n:04}\n"));
    }
    let response = reqwest::Client::new()
        .post(cloud.url("/v1/admin/customers/import"))
        .bearer_auth(crate::cloud_support::ADMIN)
        .header("content-type", "text/csv; charset=utf-8")
        .body(bulk)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["imported"], 2_100, "{report}");

    let response = reqwest::Client::new()
        .get(cloud.url("/v1/admin/customers.csv"))
        .bearer_auth(crate::cloud_support::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "id",
            "phone",
            "name",
            "email",
            "card",
            "birthday",
            "tags",
            "balance",
            "available",
            "pending",
            "tier",
            "paid_total",
            "source",
            "store",
            "created_at"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2 + 1 + 2_100, "every customer once");
    let mut ids: Vec<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "no customer twice (ids ascending)");
    let anna = rows.iter().find(|r| r.get(1) == Some("+79991112201")).unwrap();
    assert_eq!(
        (anna.get(2), anna.get(7), anna.get(8), anna.get(12)),
        (Some("Anna"), Some("15"), Some("15"), Some("import"))
    );
    let till_c = rows.iter().find(|r| r.get(1) == Some("+79991112203")).unwrap();
    assert_eq!(
        (till_c.get(7), till_c.get(11), till_c.get(12), till_c.get(13)),
        (Some("7"), Some("1000"), Some("till"), Some("Main street"))
    );
    // A manager of another store sees none of them.
    cloud.add_user("m@example.com", "manager", &["Elsewhere"], "correct horse battery").await;
    let console = cloud.sign_in("m@example.com", "correct horse battery", None).await.unwrap();
    let (status, text) = console.get("/v1/admin/customers.csv").await;
    assert_eq!(status, 200);
    assert_eq!(text.as_str().unwrap().lines().count(), 1, "the header only: {text}");
    let (status, _) = console.get("/v1/admin/reports/liability").await;
    assert_eq!(status, 200);
}
cloud_test!(customers_export_streams_every_customer_and_import_reports_rejected_lines, export_import_scenario);
