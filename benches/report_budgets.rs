//! The back office's budgets (CONTRACTS.md §budgets, issue 11), measured against the real
//! `loyalty-cloud` binary on SQLite and PostgreSQL with 1,000,000 customers and 2,000,000
//! receipts: the dashboard (today, 7 and 30 days) and the liability report (now, a past date,
//! one store) answer in ≤ 500 ms p95, and the CSV export of every customer takes ≤ 60 s.
//!
//! The data is seeded in the database itself (one `INSERT … SELECT` over a generated series
//! per table, seconds instead of hours of pushes): customers spread over the last year across
//! 200 stores and five sources, one open lot each, 3,000,000 lot moves (credits, debits, debt)
//! with activations and expiries around them, 2,000,000 receipts over 400 tills, and the
//! daily rollup those receipts make. What the reports read is what the push path writes; the
//! receipts and lots are there so the tables and indexes have their real size.
//!
//! Every figure is checked too: the chain's liability (folded days plus the moves read one by
//! one) must equal a plain sum over every move computed by this bench, the dashboard's
//! receipts the seeded rollup's, and the export must hold every customer once.
//!
//! `cargo bench --bench report_budgets` runs it in full (PostgreSQL as `sync_budgets` finds
//! one: `LOYALTY_BENCH_DATABASE_URL`, else a throwaway cluster when run as root). Without
//! `--bench` (as `cargo test --all-targets` runs it) it is a quick correctness check on SQLite
//! with 10,000 customers, timings printed but not judged.

#[allow(dead_code)]
#[path = "support/cloud.rs"]
mod cloud;
mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cloud::{Backend, Cloud, ADMIN};
use serde_json::Value;
use support::{ms, percentile, thousands, verdict, Client};

const P95_BUDGET: Duration = Duration::from_millis(500);
const EXPORT_BUDGET: Duration = Duration::from_secs(60);
const DAY: i64 = 86_400;

struct Plan {
    full: bool,
    customers: i64,
    receipts: i64,
    moves: i64,
    tills: i64,
    /// Requests per measured case.
    samples: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan { full: true, customers: 1_000_000, receipts: 2_000_000, moves: 3_000_000, tills: 400, samples: 40 }
    }
    fn quick() -> Plan {
        Plan { full: false, customers: 10_000, receipts: 20_000, moves: 30_000, tills: 40, samples: 5 }
    }
}

/// The seeding statements for a dialect, `{N}` and friends filled in.
fn seed_sql(postgres: bool, plan: &Plan, now: i64) -> Vec<String> {
    let start = now - 365 * DAY;
    let today = (now + 3 * 3600) / DAY;
    // `n(i)` is a series 1..=count; `id(x)` a zero-padded text.
    let series = |count: i64, body: &str| -> String {
        if postgres {
            format!("{body} FROM generate_series(1, {count}) AS n(i)")
        } else {
            format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) {body} FROM n")
        }
    };
    let pad = |prefix: &str, expr: &str, width: usize| -> String {
        if postgres {
            format!("'{prefix}' || lpad(({expr})::text, {width}, '0')")
        } else {
            format!("printf('{prefix}%0{width}d', {expr})")
        }
    };
    let (c, tills, stores) = (plan.customers, plan.tills, 200);
    let customer_of = |expr: &str| pad("c", &format!("(({expr}) % {c}) + 1"), 8);
    let store_of = |expr: &str| pad("Store ", &format!("({expr}) % {stores}"), 3);
    let mut out = Vec::new();
    out.push(series(
        tills,
        &format!(
            "INSERT INTO tills (id, store, name, token_hash, last_seq, created_at, enrolled_at, last_seen_at)
             SELECT {}, {}, 'Till', {}, 0, {start}, {start}, {now} - (i % 3) * 3000",
            pad("t", "i", 4),
            store_of("i"),
            pad("h", "i", 8)
        ),
    ));
    out.push(series(
        c,
        &format!(
            "INSERT INTO customers (id, phone, name, card, created_at, updated_at, source, store)
             SELECT {}, {}, 'Customer', {}, {start} + i * {step}, {start} + i * {step},
                    CASE i % 5 WHEN 0 THEN 'till' WHEN 1 THEN 'web' WHEN 2 THEN 'import' WHEN 3 THEN 'admin' ELSE 'moysklad' END,
                    {}",
            pad("c", "i", 8),
            pad("+7999", "i", 7),
            pad("9", "i", 12),
            store_of("i"),
            step = (365 * DAY / c).max(1)
        ),
    ));
    out.push(series(
        c,
        &format!(
            "INSERT INTO point_lots (customer_id, source, points, remaining, activates_at, expires_at)
             SELECT {}, 'accrual', 100 + i % 500, 100 + i % 500, {start} + i * {step}, {start} + i * {step} + 400 * 86400",
            pad("c", "i", 8),
            step = (365 * DAY / c).max(1)
        ),
    ));
    // Credits, debits (every third) and debts (every fiftieth); a tenth never expire.
    out.push(series(
        plan.moves,
        &format!(
            "INSERT INTO lot_moves (customer_id, kind, points, activates_at, expires_at, at)
             SELECT {}, CASE WHEN i % 50 = 0 THEN 'debt' ELSE 'lot' END,
                    CASE WHEN i % 3 = 0 THEN -(i % 40) ELSE 10 + i % 90 END,
                    CASE WHEN i % 50 = 0 THEN NULL ELSE {start} + (i * 7919) % {year} + (i % 8) * 86400 END,
                    CASE WHEN i % 50 = 0 OR i % 10 = 1 THEN NULL ELSE {start} + (i * 7919) % {year} + (i % 8) * 86400 + 180 * 86400 END,
                    {start} + (i * 7919) % {year}",
            customer_of("i * 7"),
            year = 365 * DAY
        ),
    ));
    out.push(series(
        plan.receipts,
        &format!(
            "INSERT INTO receipts (till_id, receipt_id, customer_id, program_version, seq, event_id, body, applied_at)
             SELECT {}, {}, CASE WHEN i % 3 = 0 THEN NULL ELSE {} END, 1, i, {}, '{{}}', {start} + (i * 104729) % {year}",
            pad("t", &format!("(i % {tills}) + 1"), 4),
            pad("r", "i", 9),
            customer_of("i"),
            pad("e", "i", 9),
            year = 365 * DAY
        ),
    ));
    // The daily rollup: per till and day, receipts summing to about the seeded receipts.
    let per_day = (plan.receipts / (tills * 365)).max(2);
    out.push(series(
        tills * 365,
        &format!(
            "INSERT INTO till_days (day, till_id, store, receipts, loyalty_receipts, sales_amount, points_discount,
                                    points_earned, points_spent, first_receipt_at, last_receipt_at)
             SELECT {today} - ((i - 1) / {tills}), {}, {}, {per_day} - 1 + i % 3, {per_day} - 1, 150000 * {per_day},
                    1000, 50 * {per_day}, 10 * {per_day}, 0, 0",
            pad("t", &format!("((i - 1) % {tills}) + 1"), 4),
            store_of(&format!("((i - 1) % {tills}) + 1"))
        ),
    ));
    out
}

/// Runs `statements` against the cloud's database directly.
fn seed(cloud: &Cloud, dir: &std::path::Path, statements: &[String]) {
    match cloud.database_url() {
        None => {
            let conn = rusqlite::Connection::open(dir.join("cloud.sqlite3")).expect("open the bench SQLite database");
            conn.busy_timeout(Duration::from_secs(60)).expect("busy timeout");
            conn.execute_batch("PRAGMA synchronous = OFF").expect("pragma");
            for statement in statements {
                conn.execute_batch(statement).unwrap_or_else(|e| panic!("seed: {e}\n{statement}"));
            }
            conn.execute_batch("ANALYZE").expect("ANALYZE");
        }
        Some(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect to the bench database");
            for statement in statements {
                client.batch_execute(statement).unwrap_or_else(|e| panic!("seed: {e}\n{statement}"));
            }
            client.batch_execute("ANALYZE").expect("ANALYZE");
        }
    }
}

/// The liability at `t` as a plain sum over every move (no folding), from the database itself.
fn plain_liability(cloud: &Cloud, dir: &std::path::Path, t: i64) -> [i64; 4] {
    let horizon = ((t + 3 * 3600) / DAY + 31) * DAY - 3 * 3600;
    let query = format!(
        "SELECT
           CAST(COALESCE(SUM(CASE WHEN kind = 'lot' AND activates_at <= {t} AND (expires_at IS NULL OR expires_at > {t}) THEN points ELSE 0 END), 0) AS BIGINT),
           CAST(COALESCE(SUM(CASE WHEN kind = 'lot' AND activates_at > {t} AND (expires_at IS NULL OR expires_at > {t}) THEN points ELSE 0 END), 0) AS BIGINT),
           CAST(COALESCE(SUM(CASE WHEN kind = 'lot' AND expires_at > {t} AND expires_at < {horizon} THEN points ELSE 0 END), 0) AS BIGINT),
           CAST(COALESCE(SUM(CASE WHEN kind = 'debt' THEN points ELSE 0 END), 0) AS BIGINT)
         FROM lot_moves WHERE at <= {t}"
    );
    match cloud.database_url() {
        None => {
            let conn = rusqlite::Connection::open(dir.join("cloud.sqlite3")).expect("open");
            conn.query_row(&query, [], |row| Ok([row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?])).expect("sum")
        }
        Some(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
            let row = client.query_one(&query, &[]).expect("sum");
            [row.get(0), row.get(1), row.get(2), row.get(3)]
        }
    }
}

fn figures(body: &Value) -> [i64; 4] {
    ["active", "pending", "expiring_30d", "debt"].map(|k| body["points"][k].as_i64().unwrap_or(i64::MIN))
}

struct Row {
    backend: &'static str,
    case: String,
    figure: Duration,
    budget: Duration,
}

/// p95 of `samples` GETs of `path` (each must answer 200).
fn p95(client: &mut Client, path: &str, samples: usize) -> (Duration, Value) {
    let mut times = Vec::with_capacity(samples);
    let mut last = Value::Null;
    for _ in 0..samples {
        let started = Instant::now();
        let reply = client.request("GET", path, None);
        times.push(started.elapsed());
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
        last = reply.json(path);
    }
    times.sort();
    (percentile(&times, 95.0), last)
}

fn run(plan: &Plan, backend: &Backend, rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().expect("a folder for the cloud");
    let cloud = Cloud::start(backend, Some(dir.path().to_path_buf()));
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let started = Instant::now();
    seed(&cloud, dir.path(), &seed_sql(matches!(backend, Backend::Postgres { .. }), plan, now));
    println!(
        "{}: seeded {} customers, {} receipts, {} lot moves in {:.1?}",
        backend.name(),
        thousands(plan.customers as u64),
        thousands(plan.receipts as u64),
        thousands(plan.moves as u64),
        started.elapsed()
    );
    let mut client = Client::connect(cloud.server.addr, Some(ADMIN)).with_read_timeout(Duration::from_secs(600));
    // The first report folds a year of finished days: once, then never more than a day's.
    let started = Instant::now();
    let first = client.request("GET", "/v1/admin/reports/liability", None);
    assert_eq!(first.status, 200, "{}", first.text());
    println!("{}: the first liability report (folding 365 days) took {:.1?}", backend.name(), started.elapsed());

    let past = now - 100 * DAY;
    for (case, path) in [
        ("dashboard today", "/v1/admin/dashboard?period=today".to_owned()),
        ("dashboard 7d", "/v1/admin/dashboard?period=7d".to_owned()),
        ("dashboard 30d", "/v1/admin/dashboard?period=30d".to_owned()),
        ("dashboard 30d, one store", "/v1/admin/dashboard?period=30d&store=Store%20007".to_owned()),
        ("liability now", "/v1/admin/reports/liability".to_owned()),
        ("liability 100 days ago", format!("/v1/admin/reports/liability?at={}", rfc3339(past))),
        ("liability now, one store", "/v1/admin/reports/liability?store=Store%20007".to_owned()),
    ] {
        let (figure, body) = p95(&mut client, &path, plan.samples);
        rows.push(Row { backend: backend.name(), case: format!("{case} (p95)"), figure, budget: P95_BUDGET });
        if case == "liability now" || case == "liability 100 days ago" {
            let t = if case == "liability now" { parse(&body["at"]) } else { past };
            assert_eq!(figures(&body), plain_liability(&cloud, dir.path(), t), "{case}: {body}");
        }
        if case == "dashboard 30d" {
            let receipts = body["receipts"].as_i64().unwrap_or(-1);
            let per_day = (plan.receipts / (plan.tills * 365)).max(2);
            // 30 days × tills × (per_day − 1 + i % 3): a third of the rows each of +0, +1, +2.
            let expected = 30 * plan.tills * per_day;
            assert_eq!(receipts, expected, "the dashboard's receipts over 30 days: {body}");
            assert_eq!(body["new_customers"]["total"].as_i64().map(|n| n > 0), Some(true), "{body}");
        }
    }
    let (figure, _) = p95(
        &mut client,
        &format!("/v1/admin/reports/daily?from={}&to={}", date(now - 29 * DAY), date(now)),
        plan.samples.min(5),
    );
    println!("{}: the daily report over 30 days (p95 of {}): {}", backend.name(), plan.samples.min(5), ms(figure));

    let started = Instant::now();
    let export = client.request("GET", "/v1/admin/customers.csv", None);
    let took = started.elapsed();
    assert_eq!(export.status, 200);
    let lines = export.body.iter().filter(|&&b| b == b'\n').count() as i64;
    assert_eq!(lines, plan.customers + 1, "the export holds the header and every customer once");
    rows.push(Row {
        backend: backend.name(),
        case: "export of every customer".into(),
        figure: took,
        budget: EXPORT_BUDGET,
    });
    println!("{}: the export was {:.1} MiB", backend.name(), export.body.len() as f64 / 1048576.0);
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn date(at: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(at + 3 * 3600).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day())
}

fn parse(at: &Value) -> i64 {
    at.as_str()
        .and_then(|text| time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

fn main() -> ExitCode {
    let plan = if std::env::args().any(|arg| arg == "--bench") { Plan::full() } else { Plan::quick() };
    println!(
        "report_budgets: {} run ({} build), {} CPU(s)",
        if plan.full { "full" } else { "quick correctness" },
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    );
    let (cluster, postgres, note) = if plan.full { cloud::postgres_backend() } else { (None, None, None) };
    if let Some(note) = &note {
        println!("{note}");
    }
    let mut backends = vec![Backend::Sqlite];
    backends.extend(postgres);
    let mut rows = Vec::new();
    for backend in &backends {
        run(&plan, backend, &mut rows);
    }
    drop(cluster);
    println!("\n{:<12} {:<36} {:>14} {:>10}  verdict", "backend", "case", "figure", "budget");
    let mut failed = false;
    for row in &rows {
        let pass = row.figure <= row.budget;
        failed |= plan.full && !pass;
        println!(
            "{:<12} {:<36} {:>14} {:>10}  {}",
            row.backend,
            row.case,
            ms(row.figure),
            format!("{:?}", row.budget),
            verdict(plan.full, Some(pass))
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
