//! The self-service page in a phone-sized headless Chromium (390×844 CSS pixels, at 2×), in Russian and English
//! (issue 13, `GET /me`): the shopper types their phone, reads the code from the SMS gateway
//! stand-in, types it, and sees their card's QR code, points, expiring points, tier and
//! purchases; then withdraws the SMS consent, which the back office's history shows as `web`.
//! Screenshots go to `target/screenshots/selfservice_*`.

use serde_json::json;

use crate::cloud_support::{sale, Backend};
use crate::google_standin::GoogleStandIn;
use crate::self_service::{customer, SmsInbox};
use crate::wallet_keys::apple_test_keys;
use crate::webdriver::{self, Browser};

async fn walk(lang: &str) {
    let inbox = SmsInbox::start().await;
    // Both wallets set up, as a chain that offers them would: the page shows both buttons.
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = apple_test_keys(keys_dir.path());
    let google = GoogleStandIn::start(keys_dir.path()).await;
    let env = crate::wallet_cards::wallet_env(&inbox, Some(&keys), None, Some(&google));
    let cloud = crate::wallet_cards::start_with_wallets(Backend::Sqlite, &env).await;
    let (status, body) = cloud
        .admin_put(
            "/v1/admin/program",
            json!({ "expiry_days": 365, "verify_spending": true,
                    "tiers": [{ "name": "Серебро", "threshold": 100000 }, { "name": "Золото", "threshold": 1000000 }] }),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
    let id = customer(&cloud).await;
    let till = cloud.till("Till 1").await;
    cloud
        .push_expect(
            &till,
            vec![sale(1, "r-1", &id, 120_000, 0, 60), sale(2, "r-2", &id, 34_050, 20, 15)],
            &["applied", "applied"],
        )
        .await;
    let (status, _) = cloud
        .admin_post(
            &format!("/v1/admin/customers/{id}/adjustments"),
            json!({ "id": "adj-1", "points": 100, "reason": "welcome" }),
        )
        .await;
    assert_eq!(status, 201);
    let ru = lang.starts_with("ru");
    let short = if ru { "ru" } else { "en" };
    let browser = Browser::start(&format!("selfservice_{short}"), lang).await;

    browser.emulate_phone(390, 844).await;
    browser.goto(&cloud.url("/me")).await;
    browser.wait_until("the phone form", "return !document.getElementById('login').hidden;").await;
    browser.screenshot("phone").await;
    browser.send_keys(&browser.find("#phone").await, "+7 901 123-45-67").await;
    browser.click_css("#send").await;
    let sent = browser.wait_text("#sent", "where the code went", |t| t.contains("45-67")).await;
    assert!(sent.contains(if ru { "SMS с кодом" } else { "a code" }), "{sent}");
    let (code, text) = inbox.code(0).await;
    assert!(text.contains(if ru { "Код для входа" } else { "sign-in code" }), "the SMS in the page's language: {text}");
    browser.send_keys(&browser.find("#code").await, &code).await;
    browser.screenshot("code").await;
    browser.click_css("#enter").await;

    let balance = browser.wait_text("#balance", "the balance", |t| !t.is_empty()).await;
    assert_eq!(balance, "155", "60 + 15 − 20 + 100");
    browser
        .wait_until(
            "the QR code drawn",
            "const i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0;",
        )
        .await;
    let (_, card) = cloud.admin_get(&format!("/v1/admin/customers/{id}")).await;
    assert_eq!(browser.text_of("#card-number").await, card["card"].as_str().unwrap());
    assert_eq!(browser.text_of("#tier").await, "Серебро");
    let next = browser.text_of("#next-tier-line").await;
    assert!(next.contains("Золото") && (next.contains("8 479,50 ₽") || next.contains("8,479.50 ₽")), "{next}");
    let expiring = browser.text_of("#expiring").await;
    // The sales were made under the first program (no expiry); the adjustment, under this one.
    assert!(expiring.contains("100") && expiring.contains("2027"), "the adjustment expires in a year: {expiring}");
    let receipts = browser.text_of("#receipts").await;
    assert!(receipts.contains("Main street") && receipts.contains("+60") && receipts.contains("−20"), "{receipts}");
    assert!(browser.cookies().await.iter().all(|c| c["name"] != "loyalty_me" || c["httpOnly"] == true));
    browser.screenshot("card").await;

    // The spending code the cashier asks for: six digits and their QR, counting down.
    let spend = browser.wait_text("#spend-code", "the spending code", |t| !t.is_empty()).await;
    let digits: String = spend.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits.len(), 6, "{spend}");
    browser
        .wait_until(
            "the code's QR drawn",
            "const i = document.getElementById('spend-qr'); return i.complete && i.naturalWidth > 0;",
        )
        .await;
    let left: i64 = browser.text_of("#spend-left").await.parse().unwrap_or(0);
    assert!((1..=30).contains(&left), "seconds until the next code: {left}");
    browser.execute("document.getElementById('spend').scrollIntoView();", vec![]).await;
    browser.screenshot("spending_code").await;

    // The wallet buttons, in the page's language; the Apple one downloads the signed pass.
    browser.execute("document.getElementById('wallet').scrollIntoView(false);", vec![]).await;
    let apple = browser.text_of("#wallet-apple").await;
    let google_button = browser.text_of("#wallet-google").await;
    assert_eq!(apple, if ru { "Добавить в Apple Wallet" } else { "Add to Apple Wallet" });
    assert_eq!(google_button, if ru { "Добавить в Google Wallet" } else { "Add to Google Wallet" });
    let download = browser
        .execute(
            "const x = new XMLHttpRequest(); x.open('GET', document.getElementById('wallet-apple').href, false); x.send();
             return [x.status, x.getResponseHeader('Content-Type') || ''];",
            vec![],
        )
        .await;
    assert_eq!(download, json!([200, "application/vnd.apple.pkpass"]), "the pass downloads with the session");
    browser.screenshot("wallet").await;

    browser.execute("document.getElementById('receipts').scrollIntoView();", vec![]).await;
    browser.screenshot("receipts").await;
    browser.click_css("#withdraw-sms").await;
    let state = browser
        .wait_text("#sms-state", "the SMS consent withdrawn", |t| {
            t == if ru { "отозвано" } else { "withdrawn" }
        })
        .await;
    assert!(!state.is_empty());
    browser.execute("document.getElementById('logout').scrollIntoView(false);", vec![]).await;
    browser.screenshot("consents").await;
    let (_, history) = cloud.admin_get(&format!("/v1/admin/customers/{id}/consents")).await;
    assert_eq!(
        (history["changes"][0]["channel"].as_str(), history["changes"][0]["source"].as_str()),
        (Some("sms"), Some("web"))
    );

    browser.click_css("#logout").await;
    browser.wait_until("the phone form again", "return !document.getElementById('login').hidden;").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_signs_in_and_withdraws_a_consent_in_russian() {
    if webdriver::available().is_none() {
        return;
    }
    walk("ru-RU").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_signs_in_and_withdraws_a_consent_in_english() {
    if webdriver::available().is_none() {
        return;
    }
    walk("en-US").await;
}
