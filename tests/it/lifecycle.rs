//! Issue 12's lifecycle rewards, granted by the cloud, on SQLite and PostgreSQL: birthday
//! points once per birthday year in the window (the program's time zone), never twice after a
//! restart or from a second process, the lot's expiry, the points reaching a till that spends
//! them offline; referral codes given at a till's enrolment and on the sign-up form, both
//! rewards exactly once after the friend's first qualifying receipt (pushed again, in one
//! chunk with the referrer's own sales, past `max_per_referrer`), and nothing for oneself or
//! for a phone referred before.

use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde_json::{json, Value};

use crate::cloud_support::{customer_created, sale, Backend, Cloud, Till};
use crate::cloud_test;
use crate::proxy::{Fault, FaultProxy};
use crate::support::Agent;
use crate::sync_e2e::{enroll, eventually, wait_drained};

const DAY: i64 = 86_400;

fn moscow() -> TimeZone {
    TimeZone::get("Europe/Moscow").expect("the bundled tz database has Moscow")
}

/// Today in Moscow, the program's time zone. Waits out the last two minutes before local
/// midnight, so the day cannot change between the test's dates and the cloud's job.
async fn moscow_today() -> Date {
    loop {
        let now = moscow().to_datetime(jiff::Timestamp::now());
        if now.hour() == 23 && now.minute() >= 58 {
            tokio::time::sleep(Duration::from_secs(15)).await;
            continue;
        }
        return now.date();
    }
}

fn shifted(day: Date, days: i64) -> Date {
    day.checked_add(jiff::Span::new().days(days)).expect("a date")
}

/// A birthday in 1992 (a leap year, so any day is one) on the day `days` from `today`.
fn birthday(today: Date, days: i64) -> String {
    let day = shifted(today, days);
    format!("1992-{:02}-{:02}", day.month(), day.day())
}

/// Local midnight after `day`, as Unix seconds.
fn midnight_after(day: Date) -> i64 {
    moscow().to_timestamp(shifted(day, 1).to_datetime(Time::midnight())).expect("a moment").as_second()
}

fn seconds(rfc3339: &Value) -> i64 {
    let text = rfc3339.as_str().unwrap_or_else(|| panic!("a time, not {rfc3339}"));
    text.parse::<jiff::Timestamp>().unwrap_or_else(|e| panic!("{text}: {e}")).as_second()
}

async fn put_program(cloud: &Cloud, program: Value) {
    let (status, body) = cloud.admin_put("/v1/admin/program", program).await;
    assert_eq!(status, 200, "{body}");
}

async fn create(cloud: &Cloud, body: Value) -> String {
    let (status, created) = cloud.admin_post("/v1/admin/customers", body).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("an id").to_owned()
}

async fn grant(cloud: &Cloud) -> Value {
    let (status, body) = cloud.admin_post("/v1/admin/birthdays/grant", json!({})).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn balance(cloud: &Cloud, id: &str) -> i64 {
    cloud.points(id).await["balance"].as_i64().expect("a balance")
}

async fn customer(cloud: &Cloud, id: &str) -> Value {
    let (status, body) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn lots_of(cloud: &Cloud, id: &str, source: &str) -> Vec<Value> {
    let (status, activity) = cloud.admin_get(&format!("/v1/admin/customers/{id}/activity")).await;
    assert_eq!(status, 200, "{activity}");
    activity["lots"].as_array().expect("lots").iter().filter(|lot| lot["source"] == source).cloned().collect()
}

async fn journal_of(cloud: &Cloud, id: &str, kind: &str) -> Vec<Value> {
    let (_, activity) = cloud.admin_get(&format!("/v1/admin/customers/{id}/activity")).await;
    activity["entries"].as_array().expect("entries").iter().filter(|entry| entry["kind"] == kind).cloned().collect()
}

/// A webhook subscription to a receiver that is never there: its deliveries stay listed with
/// their bodies, which is what these tests read.
async fn subscribe(cloud: &Cloud) -> String {
    let (status, body) = cloud
        .admin_post("/v1/admin/webhooks", json!({ "url": "http://127.0.0.1:9/hook", "events": ["balance_changed"] }))
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// The `balance_changed` bodies' `data` for `reason`.
async fn balance_webhooks(cloud: &Cloud, hook: &str, reason: &str) -> Vec<Value> {
    let (status, body) = cloud.admin_get(&format!("/v1/admin/webhooks/{hook}/deliveries?limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|delivery| {
            let body = &delivery["body"];
            match body.as_str() {
                Some(text) => serde_json::from_str(text).expect("a JSON body"),
                None => body.clone(),
            }
        })
        .filter(|body: &Value| body["type"] == "balance_changed" && body["data"]["reason"] == reason)
        .map(|body| body["data"].clone())
        .collect()
}

const PRIVATE_WEBHOOKS: (&str, &str) = ("LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS", "true");

cloud_test!(birthday_points_once_in_the_window, birthday_scenario);
async fn birthday_scenario(backend: Backend) {
    let mut cloud = Cloud::start_with(backend, &[PRIVATE_WEBHOOKS]).await;
    let hook = subscribe(&cloud).await;
    let birthday_rule = json!({ "points": 300, "days_before": 3, "days_after": 3, "expiry_days": 14 });
    put_program(&cloud, json!({ "time_zone": "Europe/Moscow", "birthday": birthday_rule })).await;
    let today = moscow_today().await;
    let mut due = Vec::new();
    for (n, days) in [(1, -3), (2, 0), (3, 3)] {
        let id = create(&cloud, json!({ "phone": format!("+7999600000{n}"), "birthday": birthday(today, days) })).await;
        due.push(id);
    }
    let mut not_due = Vec::new();
    for (n, days) in [(4, -4), (5, 4), (6, 180)] {
        let id = create(&cloud, json!({ "phone": format!("+7999600000{n}"), "birthday": birthday(today, days) })).await;
        not_due.push(id);
    }
    // Born today: their first birthday is next year. Without a birthday: nothing to go by.
    let born_today = create(
        &cloud,
        json!({ "phone": "+79996000007", "birthday": format!("{}-{:02}-{:02}", today.year(), today.month(), today.day()) }),
    )
    .await;
    not_due.push(born_today);
    not_due.push(create(&cloud, json!({ "phone": "+79996000008" })).await);
    // One who withdrew the consent to the processing of their personal data is not congratulated.
    let withdrawn = create(
        &cloud,
        json!({ "phone": "+79996000009", "birthday": birthday(today, 0), "consents": { "personal_data": false } }),
    )
    .await;
    not_due.push(withdrawn);

    let run = grant(&cloud).await;
    assert_eq!(run, json!({ "granted": 3, "points": 900 }), "three birthdays' windows hold today");
    for id in &due {
        assert_eq!(balance(&cloud, id).await, 300, "{id} is in the window");
        let lots = lots_of(&cloud, id, "birthday").await;
        assert_eq!(lots.len(), 1, "{lots:?}");
        assert_eq!((lots[0]["points"].clone(), lots[0]["remaining"].clone()), (json!(300), json!(300)));
        // Active at once, expiring 14 days after the grant.
        assert_eq!(seconds(&lots[0]["expires_at"]) - seconds(&lots[0]["activates_at"]), 14 * DAY, "{lots:?}");
        assert!((seconds(&lots[0]["activates_at"]) - jiff::Timestamp::now().as_second()).abs() < 120);
        let entries = journal_of(&cloud, id, "birthday").await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["points"], 300);
        assert_eq!(customer(&cloud, id).await["next_expiry"]["points"], 300);
    }
    for id in &not_due {
        assert_eq!(balance(&cloud, id).await, 0, "{id} is not due");
    }
    let told = balance_webhooks(&cloud, &hook, "birthday").await;
    assert_eq!(told.len(), 3, "one balance_changed per grant: {told:?}");
    assert!(told.iter().all(|data| data["change"] == 300 && data["points"]["available"] == 300), "{told:?}");

    // Again, after a restart (the job runs at start), and from a second process on the same
    // database running it at the same moment: nothing more.
    assert_eq!(grant(&cloud).await["granted"], 0);
    cloud.restart();
    let second = cloud.second();
    let (first, other) = tokio::join!(grant(&cloud), grant(&second));
    assert_eq!((first["granted"].clone(), other["granted"].clone()), (json!(0), json!(0)));
    for id in &due {
        assert_eq!(balance(&cloud, id).await, 300, "{id} was granted once");
        assert_eq!(journal_of(&cloud, id, "birthday").await.len(), 1);
    }

    // A birthday given while the window is open is granted by the next run — here, the one
    // every process makes at start.
    let late = create(&cloud, json!({ "phone": "+79996000010", "birthday": birthday(today, 1) })).await;
    assert_eq!(balance(&cloud, &late).await, 0);
    drop(second);
    cloud.restart();
    eventually(Duration::from_secs(20), "the start-up run to grant the late birthday", || async {
        (balance(&cloud, &late).await == 300).then_some(())
    })
    .await;

    // With expiry_days 0 the lot lasts until the window ends: local midnight after the last day.
    let until_window = json!({ "points": 150, "days_before": 3, "days_after": 2, "expiry_days": 0 });
    put_program(&cloud, json!({ "time_zone": "Europe/Moscow", "birthday": until_window })).await;
    let windowed = create(&cloud, json!({ "phone": "+79996000011", "birthday": birthday(today, 2) })).await;
    assert_eq!(grant(&cloud).await, json!({ "granted": 1, "points": 150 }));
    let lots = lots_of(&cloud, &windowed, "birthday").await;
    assert_eq!(seconds(&lots[0]["expires_at"]), midnight_after(shifted(today, 4)), "{lots:?}");
    // The ones granted this year under the old rule are not granted again under the new one.
    for id in &due {
        assert_eq!(balance(&cloud, id).await, 300);
    }

    // When the lot expires the points go (the ledger's own expiry, moved to the past here).
    cloud.sql(&format!(
        "UPDATE point_lots SET expires_at = {} WHERE customer_id = '{}' AND source = 'birthday'",
        jiff::Timestamp::now().as_second() - 1,
        due[0]
    ));
    assert_eq!(balance(&cloud, &due[0]).await, 0, "an expired birthday lot counts no more");
}

cloud_test!(birthday_points_reach_the_till_and_are_spent_offline, birthday_offline_scenario);
async fn birthday_offline_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let rule = json!({ "points": 300, "days_before": 3, "days_after": 3, "expiry_days": 14 });
    put_program(&cloud, json!({ "birthday": rule })).await;
    let today = moscow_today().await;
    let lena = create(&cloud, json!({ "phone": "+79996100001", "name": "Lena", "birthday": birthday(today, 0) })).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(&cloud, &proxy.url(), dir.path(), "till-birthday").await;
    let agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(10)).await;

    assert_eq!(grant(&cloud).await["granted"], 1);
    let at_till = eventually(Duration::from_secs(10), "the birthday points at the till", || async {
        let (_, found) = agent.get(&format!("/v1/customers/{lena}")).await;
        (found["points"]["available"] == 300).then_some(found)
    })
    .await;
    assert_eq!(at_till["next_expiry"]["points"], 300, "{at_till}");

    // The network goes; the till spends them all the same (300 is within the offline limit).
    proxy.set(Fault::Refuse);
    eventually(Duration::from_secs(10), "offline", || async {
        let _ = agent.post("/v1/sync", json!({})).await;
        let (_, health) = agent.get("/v1/health").await;
        (health["sync"]["state"] == "offline").then_some(())
    })
    .await;
    let sale = json!({ "id": "bday-1", "customer": { "id": lena }, "redeem": 300,
                       "lines": [{ "sku": "cake", "quantity": "1", "price": 50000 }] });
    let (status, receipt) = agent.post("/v1/receipts", sale).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!((receipt["total"].clone(), receipt["points"]["redeem"].clone()), (json!(20000), json!(300)));

    proxy.set(Fault::None);
    let _ = agent.post("/v1/sync", json!({})).await;
    wait_drained(&agent, Duration::from_secs(15)).await;
    // 300 spent, 5 % of the 200.00 paid earned; no overdraft.
    eventually(Duration::from_secs(10), "the sale in the cloud", || async {
        (balance(&cloud, &lena).await == 10).then_some(())
    })
    .await;
    let (_, conflicts) = cloud.admin_get("/v1/admin/conflicts?kind=overdraft").await;
    assert_eq!(conflicts["conflicts"].as_array().map(Vec::len), Some(0), "{conflicts}");
}

const REFERRAL: &str =
    r#"{"referrer_points": 200, "friend_points": 100, "min_receipt": 50000, "max_per_referrer": 10}"#;

fn referral(max: Option<i64>) -> Value {
    let mut rule: Value = serde_json::from_str(REFERRAL).unwrap();
    rule["max_per_referrer"] = max.map_or(Value::Null, Value::from);
    if max.is_none() {
        rule.as_object_mut().unwrap().remove("max_per_referrer");
    }
    json!({ "referral": rule })
}

/// `code` as a person might type it: lower case, a dash in the middle.
fn typed(code: &str) -> String {
    format!("{}-{}", code[..4].to_lowercase(), code[4..].to_lowercase())
}

async fn code_of(cloud: &Cloud, id: &str) -> String {
    let shown = customer(cloud, id).await;
    let code = shown["referral_code"].as_str().unwrap_or_else(|| panic!("a referral code: {shown}")).to_owned();
    assert_eq!(code.len(), 8, "{code}");
    code
}

cloud_test!(a_friend_enrolled_at_a_till_rewards_both_once, referral_at_till_scenario);
async fn referral_at_till_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    put_program(&cloud, referral(Some(10))).await;
    let rita = create(&cloud, json!({ "phone": "+79996200001", "name": "Rita" })).await;
    let code = code_of(&cloud, &rita).await;
    let dir = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &cloud.base, dir.path(), "till-referral").await;
    let agent = Agent::spawn_in(dir.path(), None);

    // A mistyped code is refused at the till, offline or not: the check character catches it.
    let mut wrong = code.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let refused = agent
        .post("/v1/customers", json!({ "phone": "+79996200002", "referral_code": String::from_utf8(wrong).unwrap() }))
        .await;
    crate::support::assert_error(&refused, 422, "invalid_referral_code");
    // A well-formed code nobody has enrols the customer; the cloud ignores the code.
    let (status, nobody) =
        agent.post("/v1/customers", json!({ "phone": "+79996200003", "referral_code": "K7QX4M2W" })).await;
    assert_eq!(status, 201, "{nobody}");
    let (status, fedor) = agent
        .post("/v1/customers", json!({ "phone": "+79996200002", "name": "Fedor", "referral_code": typed(&code) }))
        .await;
    assert_eq!(status, 201, "{fedor}");
    let fedor = fedor["id"].as_str().unwrap().to_owned();
    wait_drained(&agent, Duration::from_secs(10)).await;
    let shown = customer(&cloud, &fedor).await;
    assert_eq!(shown["referred_by"], rita.as_str(), "{shown}");
    assert_eq!(shown["referral"]["state"], "pending", "{shown}");
    assert_eq!(shown["referral_code"].as_str().map(str::len), Some(8), "the friend has a code of their own");
    let nobody_shown = customer(&cloud, nobody["id"].as_str().unwrap()).await;
    assert!(nobody_shown.get("referred_by").is_none(), "{nobody_shown}");

    // A first receipt below min_receipt (500.00) gives nothing; the first one reaching it, both.
    let buy = |id: &str, price: i64| {
        json!({ "id": id, "customer": { "id": fedor }, "redeem": 0,
                "lines": [{ "sku": "beans", "quantity": "1", "price": price }] })
    };
    let (status, small) = agent.post("/v1/receipts", buy("f-1", 30000)).await;
    assert_eq!(status, 200, "{small}");
    wait_drained(&agent, Duration::from_secs(10)).await;
    assert_eq!((balance(&cloud, &rita).await, balance(&cloud, &fedor).await), (0, 15));
    assert_eq!(customer(&cloud, &fedor).await["referral"]["state"], "pending");
    for (id, price) in [("f-2", 60000), ("f-3", 70000)] {
        let (status, body) = agent.post("/v1/receipts", buy(id, price)).await;
        assert_eq!(status, 200, "{body}");
    }
    wait_drained(&agent, Duration::from_secs(10)).await;
    assert_eq!(balance(&cloud, &rita).await, 200, "the referrer, once");
    assert_eq!(balance(&cloud, &fedor).await, 15 + 30 + 35 + 100, "the friend's own points and 100, once");
    let shown = customer(&cloud, &fedor).await;
    assert_eq!(shown["referral"]["state"], "rewarded");
    assert_eq!(shown["referral"]["receipt"], format!("{till_id}/f-2"), "the first qualifying receipt");
    assert_eq!(lots_of(&cloud, &rita, "referral").await.len(), 1);
    assert_eq!(journal_of(&cloud, &fedor, "referral").await.len(), 1);

    // The till pulls the reward: the friend's and the referrer's balances there are the cloud's.
    eventually(Duration::from_secs(10), "the rewards at the till", || async {
        let (_, friend) = agent.get(&format!("/v1/customers/{fedor}")).await;
        let (_, referrer) = agent.get(&format!("/v1/customers/{rita}")).await;
        (friend["points"]["balance"] == 180 && referrer["points"]["balance"] == 200).then_some(())
    })
    .await;

    let (status, list) = cloud.admin_get(&format!("/v1/admin/customers/{rita}/referrals")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["rewarded"], 1);
    assert_eq!(list["max_per_referrer"], 10);
    let friends = list["referrals"].as_array().expect("referrals");
    assert_eq!(friends.len(), 1, "{list}");
    assert_eq!(friends[0]["friend_id"], fedor.as_str());
    assert_eq!(friends[0]["state"], "rewarded");
    assert_eq!(friends[0]["source"], "till");
    assert_eq!((friends[0]["referrer_points"].clone(), friends[0]["friend_points"].clone()), (json!(200), json!(100)));
}

/// A till's `customer_created` with a friend's code.
fn referred_customer(seq: i64, id: &str, phone: &str, card: &str, code: &str) -> Value {
    let mut created = customer_created(seq, id, phone, card);
    created["payload"]["referral_code"] = json!(code);
    created
}

/// A one-line sale of the current program version (the cloud checks its points discount).
fn sale_v(seq: i64, receipt: &str, customer: &str, price: i64, redeem: i64, earn: i64, version: i64) -> Value {
    let mut sold = sale(seq, receipt, customer, price, redeem, earn);
    sold["payload"]["receipt"]["program_version"] = json!(version);
    sold
}

async fn push_all(cloud: &Cloud, till: &Till, events: Vec<Value>) -> Value {
    let outcomes = vec!["applied"; events.len()];
    cloud.push_expect(till, events, &outcomes).await
}

async fn referral_state(cloud: &Cloud, id: &str) -> (String, Option<String>) {
    let shown = customer(cloud, id).await;
    let state = shown["referral"]["state"].as_str().unwrap_or("none").to_owned();
    (state, shown["referral"]["reason"].as_str().map(str::to_owned))
}

cloud_test!(referral_rewards_hold_their_rules, referral_rules_scenario);
async fn referral_rules_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, &[PRIVATE_WEBHOOKS, FORWARDED]).await;
    let hook = subscribe(&cloud).await;
    put_program(&cloud, referral(Some(2))).await;
    let version = 2;
    let roman = create(&cloud, json!({ "phone": "+79996300001", "name": "Roman" })).await;
    let code = code_of(&cloud, &roman).await;
    let till = cloud.till("Till 1").await;

    // Three friends enrolled at the till with Roman's code.
    let friends = [
        ("c-f1", "+79996300011", "27000001017"),
        ("c-f2", "+79996300012", "27000001025"),
        ("c-f3", "+79996300013", "27000001033"),
    ];
    let mut events: Vec<Value> = friends
        .iter()
        .enumerate()
        .map(|(i, (id, phone, card))| referred_customer(i as i64 + 1, id, phone, card, &typed(&code)))
        .collect();
    // The first friend's first receipt is below min_receipt, the second reaches it.
    events.push(sale_v(4, "f1-small", "c-f1", 40000, 0, 20, version));
    events.push(sale_v(5, "f1-big", "c-f1", 50000, 0, 25, version));
    let first_batch = events.clone();
    push_all(&cloud, &till, events).await;
    assert_eq!(balance(&cloud, &roman).await, 200);
    assert_eq!(balance(&cloud, "c-f1").await, 20 + 25 + 100);
    assert_eq!(referral_state(&cloud, "c-f1").await, ("rewarded".into(), None));
    assert_eq!(referral_state(&cloud, "c-f2").await, ("pending".into(), None));

    // The same batch again (a lost answer): duplicates, nothing paid twice.
    let again = vec!["duplicate"; first_batch.len()];
    cloud.push_expect(&till, first_batch, &again).await;
    assert_eq!((balance(&cloud, &roman).await, balance(&cloud, "c-f1").await), (200, 145));

    // One chunk: Roman's own sale running into debt (he spends 250 of his 200 offline), the
    // second friend's first qualifying sale, then Roman's next sale. The reward is credited
    // after the chunk's held wallets are written, so it pays his debt first and nothing the
    // chunk held overwrites it.
    roman_till_sales(&cloud, &till, &roman, version).await;
    assert_eq!(balance(&cloud, "c-f2").await, 30 + 100);
    // Held for the chunk: 200 − 250 = debt 50, which the third sale's 10 points pay down to 40.
    // The reward then pays the 40 first: a lot of 160, and a balance of 160.
    let reward = lots_of(&cloud, &roman, "referral").await;
    let sizes = reward.iter().map(|lot| lot["points"].as_i64().unwrap()).collect::<Vec<_>>();
    assert!(sizes.contains(&160), "the second reward paid the chunk's debt first: {reward:?}");
    assert_eq!(balance(&cloud, &roman).await, 160);

    // The third friend qualifies past max_per_referrer (2): refused, nobody is paid.
    push_all(&cloud, &till, vec![sale_v(9, "f3-big", "c-f3", 90000, 0, 45, version)]).await;
    assert_eq!(balance(&cloud, &roman).await, 160);
    assert_eq!(balance(&cloud, "c-f3").await, 45);
    assert_eq!(referral_state(&cloud, "c-f3").await, ("refused".into(), Some("limit_reached".into())));

    // Oneself: Roman's own phone enrolled at a till with his own code is Roman (merged), not
    // a friend; the sign-up form with his phone and code changes nothing either.
    push_all(&cloud, &till, vec![referred_customer(10, "c-roman-again", "+79996300001", "27000001041", &code)]).await;
    let (status, _) = signup(&cloud, json!({ "phone": "+79996300001", "referral_code": code })).await;
    assert_eq!(status, 202);
    push_all(&cloud, &till, vec![sale_v(11, "roman-big", "c-roman-again", 90000, 0, 45, version)]).await;
    assert_eq!(balance(&cloud, &roman).await, 160 + 45, "his own sale, no reward");
    assert!(customer(&cloud, &roman).await.get("referral").is_none());

    // A phone referred before never rewards again: the first friend takes a new phone, and a
    // new customer with the old one joins with another customer's code.
    let vera = create(&cloud, json!({ "phone": "+79996300002", "name": "Vera" })).await;
    let vera_code = code_of(&cloud, &vera).await;
    let (status, moved) = cloud.admin_patch("/v1/admin/customers/c-f1", json!({ "phone": "+79996300021" })).await;
    assert_eq!(status, 200, "{moved}");
    push_all(
        &cloud,
        &till,
        vec![
            referred_customer(12, "c-old-phone", "+79996300011", "27000001058", &vera_code),
            sale_v(13, "old-phone-big", "c-old-phone", 90000, 0, 45, version),
        ],
    )
    .await;
    assert_eq!(referral_state(&cloud, "c-old-phone").await, ("refused".into(), Some("phone_referred_before".into())));
    assert_eq!((balance(&cloud, &vera).await, balance(&cloud, "c-old-phone").await), (0, 45));

    let (_, list) = cloud.admin_get(&format!("/v1/admin/customers/{roman}/referrals?limit=2")).await;
    assert_eq!((list["rewarded"].clone(), list["max_per_referrer"].clone()), (json!(2), json!(2)), "{list}");
    let states: Vec<&str> =
        list["referrals"].as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states.len(), 2, "a page of two: {list}");
    let cursor = list["next_cursor"].as_str().expect("a second page").to_owned();
    let (_, rest) = cloud.admin_get(&format!("/v1/admin/customers/{roman}/referrals?cursor={cursor}")).await;
    assert_eq!(rest["referrals"].as_array().map(Vec::len), Some(1), "{rest}");
    assert!(rest["next_cursor"].is_null());

    // Every reward told subscribers: the referrer's two and the two friends'.
    let told = balance_webhooks(&cloud, &hook, "referral").await;
    let mut changes: Vec<i64> = told.iter().map(|data| data["change"].as_i64().unwrap()).collect();
    changes.sort();
    assert_eq!(changes, vec![100, 100, 200, 200], "{told:?}");
}

/// Seq 6–8 of `referral_rules_scenario`: one push chunk.
async fn roman_till_sales(cloud: &Cloud, till: &Till, roman: &str, version: i64) {
    let events = vec![
        sale_v(6, "roman-1", roman, 30000, 250, 0, version),
        sale_v(7, "f2-big", "c-f2", 60000, 0, 30, version),
        sale_v(8, "roman-2", roman, 20000, 0, 10, version),
    ];
    push_all(cloud, till, events).await;
}

async fn signup(cloud: &Cloud, body: Value) -> (u16, Value) {
    signup_in(cloud, "en", body).await
}

/// The sign-up form sent in `language`, each time from another address (behind the cloud's
/// trusted load balancer), so the per-address limit stays out of the way.
async fn signup_in(cloud: &Cloud, language: &str, mut body: Value) -> (u16, Value) {
    body["consents"] = json!({ "personal_data": true });
    let address = format!("203.0.113.{}", rand::random::<u8>());
    let response = reqwest::Client::new()
        .post(cloud.url("/v1/signup"))
        .header("Accept-Language", language)
        .header("X-Forwarded-For", address)
        .json(&body)
        .send()
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const FORWARDED: (&str, &str) = ("LOYALTY_CLOUD_TRUST_FORWARDED_FOR", "true");

cloud_test!(the_signup_form_takes_a_friends_code, signup_referral_scenario);
async fn signup_referral_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, &[FORWARDED]).await;
    put_program(&cloud, referral(None)).await;
    let nina = create(&cloud, json!({ "phone": "+79996400001", "name": "Nina" })).await;
    let code = code_of(&cloud, &nina).await;

    // A mistyped code and one nobody has are 422s with a sentence in the reader's language
    // (each from another phone: the form allows a phone three tries an hour).
    let (status, en) = signup_in(&cloud, "en", json!({ "phone": "+79996400003", "referral_code": "K7QX4M2P" })).await;
    assert_eq!((status, en["error"]["code"].as_str()), (422, Some("invalid_referral_code")), "{en}");
    assert!(en["error"]["message"].as_str().unwrap().contains("friend's code"), "{en}");
    let (status, ru) = signup_in(&cloud, "ru", json!({ "phone": "+79996400004", "referral_code": "K7QX4M2P" })).await;
    assert_eq!((status, ru["error"]["code"].as_str()), (422, Some("invalid_referral_code")), "{ru}");
    assert!(ru["error"]["message"].as_str().unwrap().contains("Код друга"), "{ru}");
    let (status, en) = signup_in(&cloud, "en", json!({ "phone": "+79996400005", "referral_code": "k7qx-4m2w" })).await;
    assert_eq!((status, en["error"]["code"].as_str()), (422, Some("unknown_referral_code")), "{en}");
    assert!(en["error"]["message"].as_str().unwrap().contains("K7QX4M2W"), "{en}");
    let (status, ru) = signup_in(&cloud, "ru", json!({ "phone": "+79996400006", "referral_code": "K7QX4M2W" })).await;
    assert_eq!((status, ru["error"]["code"].as_str()), (422, Some("unknown_referral_code")), "{ru}");
    assert!(ru["error"]["message"].as_str().unwrap().contains("Кода друга K7QX4M2W нет"), "{ru}");
    for phone in ["%2B79996400003", "%2B79996400004", "%2B79996400005", "%2B79996400006"] {
        let (_, found) = cloud.admin_get(&format!("/v1/admin/customers?phone={phone}")).await;
        assert_eq!(found["customers"].as_array().map(Vec::len), Some(0), "nothing was stored: {found}");
    }

    // A good code: the new customer is Nina's friend, rewarded after a qualifying receipt.
    let (status, body) = signup(&cloud, json!({ "phone": "+79996400002", "referral_code": typed(&code) })).await;
    assert_eq!(status, 202, "{body}");
    let (_, found) = cloud.admin_get("/v1/admin/customers?phone=%2B79996400002").await;
    let olga = found["customers"][0]["id"].as_str().expect("created").to_owned();
    assert_eq!(found["customers"][0]["referred_by"], nina.as_str(), "{found}");
    let till = cloud.till("Till 1").await;
    push_all(&cloud, &till, vec![sale_v(1, "o-1", &olga, 50000, 0, 25, 2)]).await;
    assert_eq!((balance(&cloud, &nina).await, balance(&cloud, &olga).await), (200, 125));
    let (_, list) = cloud.admin_get(&format!("/v1/admin/customers/{nina}/referrals")).await;
    assert_eq!(list["referrals"][0]["source"], "web", "{list}");
    assert!(list["max_per_referrer"].is_null());
}

cloud_test!(customers_without_a_code_get_one_when_shown, imported_codes_scenario);
/// Customers imported in bulk have no code until the back office shows them; then each has
/// its own, the same on every read.
async fn imported_codes_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let id = create(&cloud, json!({ "phone": "+79996500001" })).await;
    cloud.sql(&format!("DELETE FROM referral_codes WHERE customer_id = '{id}'"));
    let first = code_of(&cloud, &id).await;
    assert_eq!(code_of(&cloud, &id).await, first);
    let (_, listed) = cloud.admin_get("/v1/admin/customers").await;
    assert_eq!(listed["customers"][0]["referral_code"], first.as_str(), "{listed}");
    let other = create(&cloud, json!({ "phone": "+79996500002" })).await;
    assert_ne!(code_of(&cloud, &other).await, first);
}
