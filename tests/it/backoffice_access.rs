//! The back office's accounts and access, as an owner and their staff meet them: the first
//! owner made with the CLI signs in, the session cookie and its CSRF value, roles checked on
//! the server, wrong passwords slowed and locked, the second factor, and the audit log.

use serde_json::{json, Value};

use crate::cloud_support::{assert_error, Backend, Cloud};
use crate::cloud_test;

const OWNER: &str = "owner@romashka.example";
const PASSWORD: &str = "correct horse battery";

async fn cloud_with_owner(backend: Backend) -> Cloud {
    let cloud = Cloud::start(backend).await;
    cloud.add_user(OWNER, "owner", &[], PASSWORD).await;
    cloud
}

cloud_test!(the_first_owner_signs_in_and_adds_staff, first_owner_signs_in_and_adds_staff);
async fn first_owner_signs_in_and_adds_staff(backend: Backend) {
    let cloud = cloud_with_owner(backend).await;
    let listed = cloud.command(&["users", "list"]).await;
    assert!(String::from_utf8_lossy(&listed.stdout).contains("owner@romashka.example\towner"), "{listed:?}");

    let refused = cloud.sign_in(OWNER, "wrong password!", None).await.err().expect("refused");
    assert_error(&refused, 401, "login_failed");
    let unknown = cloud.sign_in("nobody@romashka.example", PASSWORD, None).await.err().expect("refused");
    assert_error(&unknown, 401, "login_failed");
    assert_eq!(
        refused.1["error"]["message"], unknown.1["error"]["message"],
        "a wrong email says no more than a wrong password"
    );

    // Emails are matched whatever their case.
    let owner = cloud.sign_in("Owner@Romashka.example", PASSWORD, None).await.expect("signed in");
    assert_eq!(owner.user["role"], "owner");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(owner.set_cookie.contains(part), "{} lacks {part}", owner.set_cookie);
    }
    assert!(!owner.set_cookie.contains("Secure"), "not over https here: {}", owner.set_cookie);
    let (status, session) = owner.get("/admin/session").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user"]["email"], OWNER);
    assert_eq!(session["csrf"], owner.csrf.as_str());

    // A change without the CSRF header is refused, whatever the cookie.
    let manager = json!({ "email": "arbat@romashka.example", "role": "manager", "stores": ["Arbat"], "password": "arbat manager 1" });
    let (status, body) = owner.send_with(reqwest::Method::POST, "/v1/admin/users", Some(manager.clone()), false).await;
    assert_error(&(status, body), 403, "csrf_required");
    let (status, created) = owner.post("/v1/admin/users", manager).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["stores"], json!(["Arbat"]));
    assert!(created.get("password_hash").is_none(), "{created}");
    let (status, body) = owner
        .post(
            "/v1/admin/users",
            json!({ "email": "x@romashka.example", "role": "manager", "password": "long enough pw" }),
        )
        .await;
    assert_error(&(status, body), 422, "manager_needs_stores");
    let (status, body) = owner
        .post("/v1/admin/users", json!({ "email": "y@romashka.example", "role": "analyst", "password": "short" }))
        .await;
    assert_error(&(status, body.clone()), 422, "weak_password");
    assert_eq!(body["error"]["details"]["field"], "password");
    let (status, body) = owner
        .post(
            "/v1/admin/users",
            json!({ "email": "ARBAT@romashka.example", "role": "analyst", "password": "long enough pw" }),
        )
        .await;
    assert_error(&(status, body), 409, "user_exists");

    // The owner cannot lock the chain out of its back office.
    let own_id = owner.user["id"].as_str().unwrap().to_owned();
    let (status, body) = owner.patch(&format!("/v1/admin/users/{own_id}"), json!({ "role": "analyst" })).await;
    assert_error(&(status, body), 409, "last_owner");

    let (status, users) = owner.get("/v1/admin/users").await;
    assert_eq!(status, 200, "{users}");
    let emails: Vec<&str> = users["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["arbat@romashka.example", OWNER]);

    // Who did what, from where, with the account's view after (never a hash).
    let (status, audit) = owner.get("/v1/admin/audit").await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit["entries"].as_array().unwrap();
    let by_owner = entries.iter().find(|e| e["action"] == "user.create" && e["who"] == OWNER).expect("audited");
    assert_eq!(by_owner["address"], "127.0.0.1");
    assert_eq!(by_owner["after"]["email"], "arbat@romashka.example");
    assert!(!by_owner.to_string().contains("argon2"), "{by_owner}");
    let by_cli = entries
        .iter()
        .find(|e| e["action"] == "user.create" && e["who"] == "cli")
        .expect("the CLI's creation is audited");
    assert_eq!(by_cli["after"]["email"], OWNER);

    // Signed out: the cookie is worth nothing any more.
    let (status, _) = owner.send_with(reqwest::Method::POST, "/admin/logout", None, true).await;
    assert_eq!(status, 204);
    let after = owner.get("/v1/admin/users").await;
    assert_error(&after, 401, "not_signed_in");
    assert_error(&owner.get("/admin/session").await, 401, "not_signed_in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_session_cookie_is_secure() {
    let cloud =
        Cloud::start_with(Backend::Sqlite, &[("LOYALTY_CLOUD_PUBLIC_URL", "https://loyalty.romashka.example")]).await;
    cloud.add_user(OWNER, "owner", &[], PASSWORD).await;
    let owner = cloud.sign_in(OWNER, PASSWORD, None).await.expect("signed in");
    assert!(owner.set_cookie.contains("; Secure"), "{}", owner.set_cookie);
    // A browser's form post (no script) lands back on the console with the cookie set.
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(cloud.url("/admin/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=owner%40romashka.example&password=correct+horse+battery")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/admin/");
    assert!(response.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));
}

cloud_test!(roles_are_checked_on_the_server, roles_checked_on_the_server);
async fn roles_checked_on_the_server(backend: Backend) {
    let cloud = cloud_with_owner(backend).await;
    cloud.add_user("arbat@romashka.example", "manager", &["Arbat"], "arbat manager 1").await;
    cloud.add_user("numbers@romashka.example", "analyst", &[], "analyst password").await;
    let manager = cloud.sign_in("arbat@romashka.example", "arbat manager 1", None).await.expect("manager");
    let analyst = cloud.sign_in("numbers@romashka.example", "analyst password", None).await.expect("analyst");

    for (console, method, path) in [
        (&manager, "GET", "/v1/admin/webhooks"),
        (&manager, "GET", "/v1/admin/users"),
        (&manager, "GET", "/v1/admin/audit"),
        (&manager, "GET", "/v1/admin/gift-cards"),
        (&manager, "PUT", "/v1/admin/program"),
        (&analyst, "GET", "/v1/admin/customers"),
        (&analyst, "GET", "/v1/admin/tills"),
        (&analyst, "GET", "/v1/admin/receipts"),
        (&analyst, "PUT", "/v1/admin/program"),
        (&analyst, "POST", "/v1/admin/users"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method != reqwest::Method::GET).then(|| json!({}));
        let answer = console.send_with(method.clone(), path, body, true).await;
        assert_error(&answer, 403, "role_forbidden");
        let _ = path;
    }
    assert_eq!(manager.get("/v1/admin/program").await.0, 200);
    assert_eq!(manager.get("/v1/admin/customers").await.0, 200);
    assert_eq!(analyst.get("/v1/admin/program").await.0, 200);
    // The admin token keeps working for the whole API, as before.
    assert_eq!(cloud.admin_get("/v1/admin/users").await.0, 200);
}

cloud_test!(wrong_passwords_are_slowed_then_locked, wrong_passwords_slowed_then_locked);
async fn wrong_passwords_slowed_then_locked(backend: Backend) {
    let cloud = cloud_with_owner(backend).await;
    let started = std::time::Instant::now();
    for attempt in 1..=4 {
        let refused = cloud.sign_in(OWNER, "not the password", None).await.err().expect("refused");
        assert_error(&refused, 401, "login_failed");
        let _ = attempt;
    }
    // 0.4 + 0.8 + 1.2 + 1.6 s of pauses: a script guessing passwords gets nowhere fast.
    assert!(started.elapsed() >= std::time::Duration::from_millis(3900), "{:?}", started.elapsed());
    let locked = cloud.sign_in(OWNER, "not the password", None).await.err().expect("locked");
    assert_error(&locked, 429, "login_locked");
    assert_eq!(locked.1["error"]["details"]["scope"], "account");
    assert!(
        locked.1["error"]["details"]["retry_after_s"].as_str().unwrap().parse::<u64>().unwrap() > 800,
        "{}",
        locked.1
    );
    // Even the right password waits out the lock.
    let still = cloud.sign_in(OWNER, PASSWORD, None).await.err().expect("still locked");
    assert_error(&still, 429, "login_locked");
    // An owner who forgot: a new password from the machine unlocks the account.
    let output = cloud
        .command_with_stdin(&["users", "reset-password", OWNER, "--password-stdin"], "a brand new password\n")
        .await;
    assert!(output.status.success(), "{output:?}");
    assert!(cloud.sign_in(OWNER, PASSWORD, None).await.is_err(), "the old password is gone");
    cloud.sign_in(OWNER, "a brand new password", None).await.expect("signed in with the new password");
}

cloud_test!(a_second_factor_guards_the_account, second_factor_guards_the_account);
async fn second_factor_guards_the_account(backend: Backend) {
    let cloud = cloud_with_owner(backend).await;
    let owner = cloud.sign_in(OWNER, PASSWORD, None).await.expect("signed in");
    let (status, setup) = owner.post("/v1/admin/me/totp", json!({})).await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    assert!(setup["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"), "{setup}");
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"), "a QR code to scan");
    let wrong = owner.post("/v1/admin/me/totp/confirm", json!({ "code": "000000" })).await;
    // One in a million that 000000 is right; the step checked below makes that harmless.
    if wrong.0 != 204 {
        assert_error(&wrong, 422, "totp_failed");
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let code = loyalty::cloud::backoffice::totp::code_at(&secret, now).unwrap();
    let (status, body) = owner.post("/v1/admin/me/totp/confirm", json!({ "code": code })).await;
    assert_eq!(status, 204, "{body}");

    let asked = cloud.sign_in(OWNER, PASSWORD, None).await.err().expect("a code is asked for");
    assert_error(&asked, 401, "totp_required");
    // The code that confirmed the set-up is used up; the next step's code works once.
    let used = cloud.sign_in(OWNER, PASSWORD, Some(&code)).await.err().expect("a used code");
    assert_error(&used, 401, "totp_failed");
    let next = loyalty::cloud::backoffice::totp::code_at(&secret, now + 30).unwrap();
    let again = cloud.sign_in(OWNER, PASSWORD, Some(&next)).await.expect("signed in with the next code");
    assert_eq!(again.user["totp_enabled"], true);
    let replay = cloud.sign_in(OWNER, PASSWORD, Some(&next)).await.err().expect("a replayed code");
    assert_error(&replay, 401, "totp_failed");
    let _: Value = again.user.clone();
}

/// A created and enrolled till of `store`.
pub(crate) async fn till_of(cloud: &Cloud, store: &str, name: &str) -> crate::cloud_support::Till {
    let (status, created) = cloud.admin_post("/v1/admin/tills", json!({ "store": store, "name": name })).await;
    assert_eq!(status, 201, "{created}");
    let code = created["enrollment_code"].as_str().unwrap();
    let (status, body) = cloud.send(reqwest::Method::POST, "/v1/enroll", None, Some(json!({ "code": code }))).await;
    assert_eq!(status, 200, "{body}");
    crate::cloud_support::Till {
        id: created["till_id"].as_str().unwrap().to_owned(),
        token: body["device_token"].as_str().unwrap().to_owned(),
    }
}

cloud_test!(a_manager_sees_their_stores_only, manager_sees_their_stores_only);
async fn manager_sees_their_stores_only(backend: Backend) {
    use crate::cloud_support::customer_created;
    let cloud = cloud_with_owner(backend).await;
    let arbat = till_of(&cloud, "Arbat", "Arbat 1").await;
    let tverskaya = till_of(&cloud, "Tverskaya", "Tverskaya 1").await;
    let ours = uuid::Uuid::new_v4().to_string();
    let theirs = uuid::Uuid::new_v4().to_string();
    cloud.push_expect(&arbat, vec![customer_created(1, &ours, "+79990000101", "2700000000101")], &["applied"]).await;
    cloud
        .push_expect(&tverskaya, vec![customer_created(1, &theirs, "+79990000202", "2700000000202")], &["applied"])
        .await;

    cloud.add_user("arbat@romashka.example", "manager", &["Arbat"], "arbat manager 1").await;
    let manager = cloud.sign_in("arbat@romashka.example", "arbat manager 1", None).await.expect("manager");
    assert_eq!(manager.get(&format!("/v1/admin/customers/{ours}")).await.0, 200);
    // Another store's customer is simply not there for them: the same 404 as an unknown id.
    assert_error(&manager.get(&format!("/v1/admin/customers/{theirs}")).await, 404, "customer_not_found");
    let adjust = json!({ "id": "adj-1", "points": 100, "reason": "goodwill" });
    assert_error(
        &manager.post(&format!("/v1/admin/customers/{theirs}/adjustments"), adjust.clone()).await,
        404,
        "customer_not_found",
    );
    let (status, found) = manager.get("/v1/admin/customers?phone=89990000202").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["customers"], json!([]), "a search finds nobody of another store");
    let (_, listed) = manager.get("/v1/admin/customers").await;
    let ids: Vec<&str> = listed["customers"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ours.as_str()]);

    let (_, tills) = manager.get("/v1/admin/tills").await;
    let stores: Vec<&str> = tills["tills"].as_array().unwrap().iter().map(|t| t["store"].as_str().unwrap()).collect();
    assert_eq!(stores, ["Arbat"]);
    assert_error(
        &manager.post(&format!("/v1/admin/tills/{}/enrollment-code", tverskaya.id), json!({})).await,
        404,
        "till_not_found",
    );
    assert_error(
        &manager.post("/v1/admin/tills", json!({ "store": "Tverskaya", "name": "T2" })).await,
        403,
        "role_forbidden",
    );
    let (status, created) = manager.post("/v1/admin/tills", json!({ "store": "Arbat", "name": "Arbat 2" })).await;
    assert_eq!(status, 201, "{created}");

    // Their own customer they can help, and the audit log says who did it.
    let (status, adjusted) = manager.post(&format!("/v1/admin/customers/{ours}/adjustments"), adjust).await;
    assert_eq!(status, 201, "{adjusted}");
    let (_, audit) = cloud.admin_get("/v1/admin/audit?action=customer.adjust").await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["who"], "arbat@romashka.example");
    assert_eq!(entry["target"], ours.as_str());
    assert_eq!(entry["before"]["balance"], 0);
    assert_eq!(entry["after"]["request"]["reason"], "goodwill");
    let (_, audit) = cloud.admin_get("/v1/admin/audit?action=till.create").await;
    assert!(!audit.to_string().contains(created["enrollment_code"].as_str().unwrap()), "no codes in the log: {audit}");
}

cloud_test!(program_changes_are_audited_with_before_and_after, program_changes_audited);
async fn program_changes_audited(backend: Backend) {
    let cloud = cloud_with_owner(backend).await;
    let owner = cloud.sign_in(OWNER, PASSWORD, None).await.expect("owner");
    let (_, current) = owner.get("/v1/admin/program").await;
    let mut program = current["program"].clone();
    program["accrual_percent"] = json!(7);
    let (status, published) = owner.put("/v1/admin/program", program).await;
    assert_eq!(status, 200, "{published}");
    let (_, audit) = owner.get("/v1/admin/audit?action=program.publish").await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["who"], OWNER);
    assert_eq!(entry["before"]["version"], current["version"]);
    assert_eq!(entry["after"]["program"]["accrual_percent"], 7);
}

cloud_test!(what_the_console_pages_call, console_pages_calls);
async fn console_pages_calls(backend: Backend) {
    use crate::cloud_support::customer_created;
    let cloud = cloud_with_owner(backend).await;
    let owner = cloud.sign_in(OWNER, PASSWORD, None).await.expect("owner");
    let arbat = till_of(&cloud, "Arbat", "Arbat 1").await;
    let first = uuid::Uuid::new_v4().to_string();
    let second = uuid::Uuid::new_v4().to_string();
    cloud.push_expect(&arbat, vec![customer_created(1, &first, "+79991234567", "2700000000301")], &["applied"]).await;
    // The same phone enrolled again at the till: merged, and a conflict to look at.
    cloud.push_expect(&arbat, vec![customer_created(2, &second, "+79991234567", "2700000000302")], &["applied"]).await;
    owner.patch(&format!("/v1/admin/customers/{first}"), json!({ "name": "Иван Петров" })).await;

    // The search box: the last digits of a phone, a phone in another format, part of a name.
    for q in ["4567", "8 (999) 123-45-67", "иван", "Петров"] {
        let (status, found) = owner.get(&format!("/v1/admin/customers?q={}", crate::cloud_support::urlencode(q))).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["customers"][0]["id"], first.as_str(), "q={q}: {found}");
        assert_eq!(found["matched_by"], "q");
    }
    let (_, nobody) = owner.get("/v1/admin/customers?q=0000").await;
    assert_eq!(nobody["customers"], json!([]));

    let adjust = json!({ "id": "adj-7", "points": 250, "reason": "a complaint settled" });
    assert_eq!(owner.post(&format!("/v1/admin/customers/{first}/adjustments"), adjust).await.0, 201);
    let (status, activity) = owner.get(&format!("/v1/admin/customers/{first}/activity")).await;
    assert_eq!(status, 200, "{activity}");
    let adjusted = activity["entries"].as_array().unwrap().iter().find(|e| e["points"] == 250).expect("the adjustment");
    assert!(adjusted["kind"].as_str().unwrap().contains("adjust"), "{adjusted}");
    assert!(activity["lots"].as_array().unwrap().iter().any(|lot| lot["remaining"] == 250), "{activity}");
    let qr = reqwest::Client::new()
        .get(cloud.url(&format!("/v1/admin/customers/{first}/qr.svg")))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));

    // Conflicts: filter, mark handled with a note, and it leaves the pending list.
    let (_, pending) = owner.get("/v1/admin/conflicts?handled=false&store=Arbat").await;
    let conflict = pending["conflicts"][0].clone();
    assert!(conflict["id"].is_i64(), "a conflict to handle: {pending}");
    assert_eq!(conflict["handled"], Value::Null);
    let (_, elsewhere) = owner.get("/v1/admin/conflicts?store=Tverskaya").await;
    assert_eq!(elsewhere["conflicts"], json!([]));
    let id = conflict["id"].as_i64().unwrap();
    let (status, handled) =
        owner.post(&format!("/v1/admin/conflicts/{id}/handled"), json!({ "note": "called the customer" })).await;
    assert_eq!(status, 200, "{handled}");
    assert_eq!(handled["handled"]["by"], OWNER);
    assert_eq!(handled["handled"]["note"], "called the customer");
    let (_, pending) = owner.get("/v1/admin/conflicts?handled=false").await;
    assert!(pending["conflicts"].as_array().unwrap().iter().all(|c| c["id"] != id), "{pending}");
    let (_, audit) = owner.get("/v1/admin/audit?action=conflict.handled").await;
    assert_eq!(audit["entries"][0]["after"]["note"], "called the customer");
    assert_error(&owner.get("/v1/admin/conflicts?from=yesterday").await, 422, "invalid_date");

    // The program: every version, and a preview of a draft beside the current version.
    let (_, current) = owner.get("/v1/admin/program").await;
    let mut draft = current["program"].clone();
    draft["accrual_percent"] = json!(7);
    let receipt = json!({ "lines": [{ "sku": "coffee", "quantity": "1", "price": 100000 }], "balance": 0 });
    let (status, preview) =
        owner.post("/v1/admin/program/preview", json!({ "program": draft, "receipt": receipt })).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["current"]["calculation"]["points"]["earn"], 50, "5 % of 1000.00 ₽: {preview}");
    assert_eq!(preview["draft"]["calculation"]["points"]["earn"], 70, "7 %: {preview}");
    assert_eq!(preview["current"]["version"], current["version"]);
    let mut broken = current["program"].clone();
    broken["accrual_percent"] = json!(-1);
    let refused = owner.post("/v1/admin/program/preview", json!({ "program": broken, "receipt": receipt })).await;
    assert_error(&refused, 422, "invalid_program");
    assert_eq!(owner.put("/v1/admin/program", draft).await.0, 200);
    let (_, versions) = owner.get("/v1/admin/program/versions").await;
    let numbers: Vec<i64> =
        versions["versions"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers.len(), 2, "{versions}");
    assert!(numbers[0] > numbers[1], "newest first: {numbers:?}");

    // Tills: the code comes as a QR code too; a revoked till's token stops working at once.
    let (status, created) = owner.post("/v1/admin/tills", json!({ "store": "Arbat", "name": "Arbat 2" })).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["enrollment_qr_svg"].as_str().unwrap().contains("<svg"));
    let (status, revoked) = owner.post(&format!("/v1/admin/tills/{}/revoke", arbat.id), json!({})).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["enrolled"], false);
    let refused = cloud
        .push(&arbat, vec![customer_created(3, &uuid::Uuid::new_v4().to_string(), "+79990000999", "2700000000309")])
        .await;
    assert_error(&refused, 401, "unauthorized");
}
