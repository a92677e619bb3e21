//! The customer's Apple Wallet card end to end (issue 13): a shopper signs in on the
//! self-service page with an SMS code, downloads their pass (signed, verified with openssl as a
//! phone would), their phone registers with the PassKit web service, a till's sale syncs, and
//! the cloud sends exactly one push over HTTP/2 to a local APNs stand-in; the web service then
//! lists the serial as updated and serves the pass with the new balance (304 when asked again
//! with its Last-Modified). A device APNs calls gone is forgotten. Both backends.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, IF_MODIFIED_SINCE, LAST_MODIFIED, LOCATION};
use serde_json::{json, Value};

use crate::apns_standin::{apns_key, ApnsKey, ApnsStandIn, KEY_ID};
use crate::cloud_support::{sale, Backend, Cloud};
use crate::cloud_test;
use crate::google_standin::{GooglePatch, GoogleStandIn, ISSUER_ID};
use crate::self_service::{customer, sign_in, SmsInbox};
use crate::sync_e2e::eventually;
use crate::wallet_keys::{apple_test_keys, verify_pkpass, AppleTestKeys, TEST_PASS_TYPE_ID, TEST_TEAM_ID};

const PUBLIC_URL: &str = "https://loyalty.example.test";
const DEVICE: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const PUSH_TOKEN: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const OTHER_TOKEN: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/// The points a pass shows: its primary field's value.
fn pass_points(pass: &Value) -> i64 {
    let field = &pass["storeCard"]["primaryFields"][0];
    field["value"].as_i64().unwrap_or_else(|| panic!("a number of points: {field}"))
}

/// The cloud's environment for the wallets a test sets up (with the SMS inbox and the public
/// URL every wallet test needs): Apple's keys, the APNs stand-in and its key, Google's stand-in.
pub(crate) fn wallet_env(
    inbox: &SmsInbox,
    apple: Option<&AppleTestKeys>,
    apns: Option<(&ApnsKey, &ApnsStandIn)>,
    google: Option<&GoogleStandIn>,
) -> Vec<(&'static str, String)> {
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let mut env = vec![
        ("LOYALTY_CLOUD_SMS", inbox.url.clone()),
        ("LOYALTY_CLOUD_SMS_SECRET", "s3cret".to_owned()),
        ("LOYALTY_CLOUD_PUBLIC_URL", PUBLIC_URL.to_owned()),
    ];
    if let Some(keys) = apple {
        env.extend([
            ("LOYALTY_CLOUD_APPLE_PASS_CERT", path(&keys.cert_path)),
            ("LOYALTY_CLOUD_APPLE_PASS_KEY", path(&keys.key_path)),
            ("LOYALTY_CLOUD_APPLE_WWDR_CERT", path(&keys.wwdr_path)),
            ("LOYALTY_CLOUD_APPLE_PASS_TYPE_ID", TEST_PASS_TYPE_ID.to_owned()),
            ("LOYALTY_CLOUD_APPLE_TEAM_ID", TEST_TEAM_ID.to_owned()),
        ]);
    }
    if let Some((key, standin)) = apns {
        env.extend([
            ("LOYALTY_CLOUD_APNS_KEY", path(&key.key_path)),
            ("LOYALTY_CLOUD_APNS_KEY_ID", KEY_ID.to_owned()),
            ("LOYALTY_CLOUD_APNS_URL", standin.url.clone()),
            ("LOYALTY_CLOUD_APNS_CA", path(&standin.ca_path)),
        ]);
    }
    if let Some(google) = google {
        env.extend([
            ("LOYALTY_CLOUD_GOOGLE_WALLET_ISSUER_ID", ISSUER_ID.to_owned()),
            ("LOYALTY_CLOUD_GOOGLE_WALLET_KEY", path(&google.key_path)),
            ("LOYALTY_CLOUD_GOOGLE_WALLET_URL", google.url.clone()),
        ]);
    }
    env
}

/// [`Cloud::start_with`] for [`wallet_env`].
pub(crate) async fn start_with_wallets(backend: Backend, env: &[(&'static str, String)]) -> Cloud {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Cloud::start_with(backend, &env).await
}

cloud_test!(a_pass_shows_the_new_balance_after_a_sale_syncs, pass_scenario);
async fn pass_scenario(backend: Backend) {
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = apple_test_keys(keys_dir.path());
    let apns = apns_key(keys_dir.path());
    let standin = ApnsStandIn::start(&apns.public_pem).await;
    let inbox = SmsInbox::start().await;
    let cloud = start_with_wallets(backend, &wallet_env(&inbox, Some(&keys), Some((&apns, &standin)), None)).await;
    let http = reqwest::Client::new();
    let id = customer(&cloud).await;
    let cookie = sign_in(&cloud, &inbox, 0).await;

    // The page offers the Apple button; the download is a pass a phone accepts.
    let me: Value = http.get(cloud.url("/v1/me")).header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["wallet"], json!({ "apple": "/v1/me/wallet.pkpass", "google": null }), "{me}");
    let download = http.get(cloud.url("/v1/me/wallet.pkpass")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()[CONTENT_TYPE], "application/vnd.apple.pkpass");
    let first_modified = download.headers()[LAST_MODIFIED].to_str().unwrap().to_owned();
    let pass = verify_pkpass(&download.bytes().await.unwrap(), &keys.wwdr_path);
    let serial = pass["serialNumber"].as_str().unwrap().to_owned();
    assert_eq!(serial, me["card"].as_str().unwrap(), "the serial is the card number");
    assert_eq!(pass["webServiceURL"], format!("{PUBLIC_URL}/wallet/apple"));
    assert_eq!(pass["passTypeIdentifier"], TEST_PASS_TYPE_ID);
    assert_eq!(pass["barcodes"][0]["message"], me["card"], "the QR code the tills read");
    assert_eq!(pass_points(&pass), 0);
    let token = pass["authenticationToken"].as_str().unwrap().to_owned();
    let apple_pass = format!("ApplePass {token}");
    let no_cookie = http.get(cloud.url("/v1/me/wallet.pkpass")).send().await.unwrap();
    assert_eq!(no_cookie.status(), 401, "only the signed-in shopper gets their pass");

    // The phone registers; a wrong token is refused.
    let registration = format!("/wallet/apple/v1/devices/{DEVICE}/registrations/{TEST_PASS_TYPE_ID}/{serial}");
    let register = |auth: String, push: &'static str| {
        http.post(cloud.url(&registration)).header(AUTHORIZATION, auth).json(&json!({ "pushToken": push })).send()
    };
    assert_eq!(register(apple_pass.clone(), PUSH_TOKEN).await.unwrap().status(), 201);
    assert_eq!(register(apple_pass.clone(), PUSH_TOKEN).await.unwrap().status(), 200, "already registered");
    assert_eq!(register("ApplePass wrong-token-0000000000".into(), PUSH_TOKEN).await.unwrap().status(), 401);
    let list = format!("/wallet/apple/v1/devices/{DEVICE}/registrations/{TEST_PASS_TYPE_ID}");
    let listed: Value = http.get(cloud.url(&list)).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["serialNumbers"], json!([serial]), "{listed}");
    let tag = listed["lastUpdated"].as_str().unwrap().to_owned();
    let since = |tag: &str| cloud.url(&format!("{list}?passesUpdatedSince={tag}"));
    assert_eq!(http.get(since(&tag)).send().await.unwrap().status(), 204, "nothing changed since");

    // A till's sale syncs: one push to the device, over HTTP/2, with a JWT that verifies.
    let till = cloud.till("Till 1").await;
    cloud.push_expect(&till, vec![sale(1, "r-1", &id, 150_000, 0, 75)], &["applied"]).await;
    let pushes = eventually(Duration::from_secs(20), "the APNs push", || async {
        let pushes = standin.pushes();
        (!pushes.is_empty()).then_some(pushes)
    })
    .await;
    let push = &pushes[0];
    assert_eq!((push.token.as_str(), push.topic.as_str(), push.status), (PUSH_TOKEN, TEST_PASS_TYPE_ID, 200));
    assert!(push.http2 && push.token_verified, "{push:?}");
    let updated: Value = http.get(since(&tag)).send().await.unwrap().json().await.unwrap();
    assert_eq!(updated["serialNumbers"], json!([serial]), "{updated}");
    assert!(updated["lastUpdated"].as_str().unwrap().parse::<i64>().unwrap() > tag.parse::<i64>().unwrap());

    // The latest pass shows the sale's points; asked again with its date, 304.
    let passes = format!("/wallet/apple/v1/passes/{TEST_PASS_TYPE_ID}/{serial}");
    let latest = http
        .get(cloud.url(&passes))
        .header(AUTHORIZATION, &apple_pass)
        .header(IF_MODIFIED_SINCE, &first_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(latest.status(), 200);
    let modified = latest.headers()[LAST_MODIFIED].to_str().unwrap().to_owned();
    assert_ne!(modified, first_modified);
    assert_eq!(pass_points(&verify_pkpass(&latest.bytes().await.unwrap(), &keys.wwdr_path)), 75);
    let again =
        http.get(cloud.url(&passes)).header(AUTHORIZATION, &apple_pass).header(IF_MODIFIED_SINCE, &modified).send();
    assert_eq!(again.await.unwrap().status(), 304);
    let wrong = http.get(cloud.url(&passes)).header(AUTHORIZATION, "ApplePass nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(standin.pushes().len(), 1, "exactly one push for one change: {:?}", standin.pushes());

    // A second phone whose token APNs calls gone: after the next change it is forgotten.
    let other = format!("/wallet/apple/v1/devices/other-device-1/registrations/{TEST_PASS_TYPE_ID}/{serial}");
    let registered = http
        .post(cloud.url(&other))
        .header(AUTHORIZATION, &apple_pass)
        .json(&json!({ "pushToken": OTHER_TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    standin.gone(OTHER_TOKEN);
    let (status, adjusted) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{id}/adjustments"),
            json!({ "id": "adj-1", "points": 25, "reason": "gift" }),
        )
        .await;
    assert_eq!(status, 201, "{adjusted}");
    let status = eventually(Duration::from_secs(20), "the gone device forgotten", || async {
        let (_, status) = cloud.admin_get("/v1/admin/wallet").await;
        (status["apple_pushes"]["gone"] == 1 && status["apple_pushes"]["sent"] == 1).then_some(status)
    })
    .await;
    assert_eq!((status["apple"].as_bool(), status["apple_devices"].as_i64()), (Some(true), Some(1)), "{status}");
    assert_eq!(status["cards"], 1);
    let to_first = standin.pushes().iter().filter(|p| p.token == PUSH_TOKEN).count();
    assert_eq!(to_first, 2, "one push per change to the device that stays");

    // The back office downloads the same card.
    let admin = http
        .get(cloud.url(&format!("/v1/admin/customers/{id}/wallet.pkpass")))
        .bearer_auth(crate::cloud_support::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    assert_eq!(pass_points(&verify_pkpass(&admin.bytes().await.unwrap(), &keys.wwdr_path)), 100);
}

cloud_test!(wallets_that_are_not_set_up_say_so, unconfigured_scenario);
async fn unconfigured_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let id = customer(&cloud).await;
    let (status, body) = cloud.admin_get(&format!("/v1/admin/customers/{id}/wallet.pkpass")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("wallet_not_configured")), "{body}");
    let (status, body) = cloud.admin_get("/v1/admin/wallet").await;
    assert_eq!((status, body["apple"].as_bool(), body["google"].as_bool()), (200, Some(false), Some(false)), "{body}");
    let listed = reqwest::get(cloud.url("/wallet/apple/v1/devices/d1/registrations/pass.x")).await.unwrap();
    assert_eq!(listed.status(), 404);
}

/// Waits until Google has received `n` updates and returns them.
async fn patches_reach(google: &GoogleStandIn, n: usize) -> Vec<GooglePatch> {
    eventually(Duration::from_secs(20), "the Google Wallet update", || async {
        let patches = google.patches();
        (patches.len() >= n).then_some(patches)
    })
    .await
}

cloud_test!(a_google_card_is_patched_once_per_change_and_notifies_three_times_a_day, google_scenario);
async fn google_scenario(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let google = GoogleStandIn::start(dir.path()).await;
    let inbox = SmsInbox::start().await;
    let cloud = start_with_wallets(backend, &wallet_env(&inbox, None, None, Some(&google))).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let id = customer(&cloud).await;
    let cookie = sign_in(&cloud, &inbox, 0).await;

    // The page offers the Google button; it sends the shopper to Google with a signed card.
    let me: Value = http.get(cloud.url("/v1/me")).header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["wallet"], json!({ "apple": null, "google": "/v1/me/wallet/google" }), "{me}");
    let card = me["card"].as_str().unwrap().to_owned();
    let redirect = http.get(cloud.url("/v1/me/wallet/google")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(redirect.status(), 303);
    let link = redirect.headers()[LOCATION].to_str().unwrap().to_owned();
    let claims = google.save(&link);
    assert_eq!(claims["origins"], json!([PUBLIC_URL]), "{claims}");
    let class = &claims["payload"]["loyaltyClasses"][0];
    assert_eq!(class["id"], format!("{ISSUER_ID}.loyalty"));
    let logo = class["programLogo"]["sourceUri"]["uri"].as_str().unwrap();
    assert_eq!(logo, format!("{PUBLIC_URL}/wallet/logo.png"), "the cloud serves the logo Google fetches");
    let served = http.get(cloud.url("/wallet/logo.png")).send().await.unwrap();
    assert_eq!((served.status().as_u16(), served.headers()[CONTENT_TYPE].to_str().unwrap()), (200, "image/png"));
    assert!(served.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let object = &claims["payload"]["loyaltyObjects"][0];
    let object_id = format!("{ISSUER_ID}.{card}");
    assert_eq!(object["id"], object_id.as_str());
    assert_eq!(object["barcode"]["value"], card.as_str(), "the QR code the tills read");
    assert_eq!(object["loyaltyPoints"]["balance"]["int"], 0);
    let no_cookie = http.get(cloud.url("/v1/me/wallet/google")).send().await.unwrap();
    assert_eq!(no_cookie.status(), 401, "only the signed-in shopper gets their link");

    // A till's sale syncs: one PATCH, with a token from the service account, notifying.
    let till = cloud.till("Till 1").await;
    cloud.push_expect(&till, vec![sale(1, "r-1", &id, 150_000, 0, 75)], &["applied"]).await;
    let patches = patches_reach(&google, 1).await;
    assert_eq!((patches[0].object_id.as_str(), patches[0].status, patches[0].notify), (object_id.as_str(), 200, true));
    assert_eq!(google.object(&object_id).unwrap()["loyaltyPoints"]["balance"]["int"], 75);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(google.patches().len(), 1, "exactly one update for one change: {:?}", google.patches());
    assert_eq!(google.token_requests(), 1);

    // Balance changes notify three times a day; the fourth is silent.
    for (n, points) in [(2, 10), (3, 10), (4, 10)] {
        let (status, body) = cloud
            .admin_post(
                &format!("/v1/admin/customers/{id}/adjustments"),
                json!({ "id": format!("adj-{n}"), "points": points, "reason": "gift" }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        patches_reach(&google, n).await;
    }
    let notified: Vec<bool> = google.patches().iter().map(|p| p.notify).collect();
    assert_eq!(notified, [true, true, true, false], "Google allows three notified updates a day");
    assert_eq!(google.object(&object_id).unwrap()["loyaltyPoints"]["balance"]["int"], 105);
    assert_eq!(google.token_requests(), 1, "one access token for every update");

    // Google revokes the token: the cloud asks for a new one and the update still lands.
    google.revoke_tokens();
    let (status, _) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{id}/adjustments"),
            json!({ "id": "adj-5", "points": -5, "reason": "correction" }),
        )
        .await;
    assert_eq!(status, 201);
    let patches = patches_reach(&google, 6).await;
    let statuses: Vec<u16> = patches[4..].iter().map(|p| p.status).collect();
    assert_eq!(statuses, [401, 200]);
    assert_eq!(google.token_requests(), 2);
    assert_eq!(google.object(&object_id).unwrap()["loyaltyPoints"]["balance"]["int"], 100);

    // A card whose link was made but never saved: Google answers 404 once, nothing is retried.
    let other = crate::self_service::customer_with_phone(&cloud, "+79990001122").await;
    let (status, link) = cloud.admin_get(&format!("/v1/admin/customers/{other}/wallet/google")).await;
    assert_eq!(status, 200, "{link}");
    assert!(link["url"].as_str().unwrap().starts_with("https://pay.google.com/gp/v/save/"), "{link}");
    let (status, _) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{other}/adjustments"),
            json!({ "id": "adj-other", "points": 30, "reason": "gift" }),
        )
        .await;
    assert_eq!(status, 201);
    let summary = eventually(Duration::from_secs(20), "the unsaved card noted", || async {
        let (_, summary) = cloud.admin_get("/v1/admin/wallet").await;
        (summary["google_updates"]["gone"] == 1).then_some(summary)
    })
    .await;
    assert_eq!((summary["google"].as_bool(), summary["google_cards"].as_i64()), (Some(true), Some(2)), "{summary}");
    assert_eq!(summary["google_updates"]["sent"], 1, "{summary}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to_other = google.patches().iter().filter(|p| p.object_id != object_id).count();
    assert_eq!(to_other, 1, "an unsaved card is not asked again: {:?}", google.patches());
}

cloud_test!(a_web_sign_up_carries_both_wallet_cards_through_a_sale, sign_up_scenario);
/// The issue's whole walk: a shopper signs up on the web form, signs in to the self-service
/// page with the SMS code, adds the card to Apple Wallet (a phone registers) and to Google
/// Wallet (saved), buys at a till; after the sale syncs the APNs stand-in got exactly one push
/// and Google exactly one update, and both cards show the new balance.
async fn sign_up_scenario(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let keys = apple_test_keys(dir.path());
    let apns = apns_key(dir.path());
    let standin = ApnsStandIn::start(&apns.public_pem).await;
    let google = GoogleStandIn::start(dir.path()).await;
    let inbox = SmsInbox::start().await;
    let env = wallet_env(&inbox, Some(&keys), Some((&apns, &standin)), Some(&google));
    let cloud = start_with_wallets(backend, &env).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // The web form: the answer sends the shopper to their page's wallet buttons.
    let signed_up = http
        .post(cloud.url("/v1/signup"))
        .json(&json!({ "phone": "8 901 123-45-67", "name": "Анна",
                       "consents": { "personal_data": true, "sms": true } }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 202);
    let accepted: Value = signed_up.json().await.unwrap();
    assert_eq!(accepted["wallet"], "/me#wallet", "{accepted}");
    let cookie = sign_in(&cloud, &inbox, 0).await;
    let me: Value = http.get(cloud.url("/v1/me")).header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["wallet"], json!({ "apple": "/v1/me/wallet.pkpass", "google": "/v1/me/wallet/google" }));
    let (_, found) = cloud.admin_get("/v1/admin/customers?phone=%2B79011234567").await;
    let id =
        found["customers"][0]["id"].as_str().unwrap_or_else(|| panic!("the signed-up customer: {found}")).to_owned();

    // Apple: the pass downloaded, a phone registered.
    let download = http.get(cloud.url("/v1/me/wallet.pkpass")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let pass = verify_pkpass(&download.bytes().await.unwrap(), &keys.wwdr_path);
    let serial = pass["serialNumber"].as_str().unwrap().to_owned();
    let token = pass["authenticationToken"].as_str().unwrap().to_owned();
    let registered = http
        .post(cloud.url(&format!("/wallet/apple/v1/devices/{DEVICE}/registrations/{TEST_PASS_TYPE_ID}/{serial}")))
        .header(AUTHORIZATION, format!("ApplePass {token}"))
        .json(&json!({ "pushToken": PUSH_TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    // Google: the save link followed and the card saved.
    let redirect = http.get(cloud.url("/v1/me/wallet/google")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(redirect.status(), 303);
    google.save(redirect.headers()[LOCATION].to_str().unwrap());
    let object_id = format!("{ISSUER_ID}.{serial}");
    assert_eq!(google.object(&object_id).unwrap()["loyaltyPoints"]["balance"]["int"], 0);

    // The sale at a till syncs: one push, one update, and both cards show 75 points.
    let till = cloud.till("Till 1").await;
    cloud.push_expect(&till, vec![sale(1, "r-1", &id, 150_000, 0, 75)], &["applied"]).await;
    eventually(Duration::from_secs(20), "the push and the update", || async {
        (standin.count() >= 1 && !google.patches().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(standin.count(), 1, "exactly one push: {:?}", standin.pushes());
    assert_eq!(google.patches().len(), 1, "exactly one update: {:?}", google.patches());
    assert_eq!(google.object(&object_id).unwrap()["loyaltyPoints"]["balance"]["int"], 75);
    let latest = http
        .get(cloud.url(&format!("/wallet/apple/v1/passes/{TEST_PASS_TYPE_ID}/{serial}")))
        .header(AUTHORIZATION, format!("ApplePass {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pass_points(&verify_pkpass(&latest.bytes().await.unwrap(), &keys.wwdr_path)), 75);
}
