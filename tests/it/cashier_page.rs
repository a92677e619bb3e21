//! The cashier page end to end: the real agent process, driven in headless Chromium over
//! WebDriver (`webdriver.rs`). Each main screen is saved to `target/screenshots/`.
//!
//! The HTTP-level guarantees of the page's sign-in (a cross-origin page cannot use the session,
//! launch codes are single use and expire) are in `cashier_session.rs`.

use std::time::Duration;

use serde_json::json;

use crate::cloud_support::{Backend, Cloud};
use crate::proxy::{Fault, FaultProxy};
use crate::support::{Agent, TOKEN};
use crate::sync_e2e::{enroll, eventually, wait_drained};
use crate::webdriver::{self, Browser};

const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const F2: &str = "\u{E032}";
const F9: &str = "\u{E039}";

/// Asks the agent for a one-time launch link, as the tray and `loyalty-agent open` do.
pub async fn launch_url(agent: &Agent) -> String {
    let (status, body) = agent.post("/v1/launch-codes", json!({})).await;
    assert_eq!(status, 201, "{body}");
    body["url"].as_str().expect("url").to_owned()
}

/// A browser with the cashier page open and signed in.
async fn open_page(agent: &Agent, test: &str, lang: &str) -> Browser {
    let browser = Browser::start(test, lang).await;
    browser.goto(&launch_url(agent).await).await;
    browser.wait_until("the page to sign in", "return document.body.dataset.ready === 'true';").await;
    browser
}

async fn search(browser: &Browser, text: &str) {
    let input = browser.find("#search").await;
    browser.clear(&input).await;
    browser.send_keys(&input, text).await;
}

/// The id of the newest receipt the agent holds, as its list answers.
async fn last_receipt_id(agent: &Agent) -> Option<String> {
    let (status, body) = agent.get("/v1/receipts?limit=1").await;
    assert_eq!(status, 200, "{body}");
    body["receipts"][0]["id"].as_str().map(str::to_owned)
}

/// The page fits a 1366×768 till screen without scrolling.
async fn assert_fits(browser: &Browser, screen: &str) {
    let sizes = browser
        .execute(
            "return [document.documentElement.scrollHeight, window.innerHeight, \
                     document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await;
    let [height, inner_height, width, inner_width] = [0, 1, 2, 3].map(|i| sizes[i].as_i64().expect("a size in pixels"));
    assert!(
        height <= inner_height && width <= inner_width,
        "{screen} scrolls: {sizes} (scroll h, inner h, scroll w, inner w)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_link_signs_the_page_in_once() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start().await;
    let browser = Browser::start("launch", "en-US").await;

    // Without a launch link the page says how to open it, and shows nothing else.
    browser.goto(&agent.url("/")).await;
    let text = browser.wait_text("#signed-out", "the signed-out notice", |t| t.contains("loyalty-agent open")).await;
    assert!(text.contains("tray"), "{text}");
    assert!(!browser.execute("return !document.getElementById('main').hidden;", vec![]).await.as_bool().unwrap());
    browser.screenshot("signed-out").await;

    let url = launch_url(&agent).await;
    browser.goto(&url).await;
    browser.wait_until("the page to sign in", "return document.body.dataset.ready === 'true';").await;
    assert_eq!(browser.current_url().await, agent.url("/"), "the launch link redirects to the page");
    let focused = browser.execute("return document.activeElement.id;", vec![]).await;
    assert_eq!(focused, "search", "keyboard first: the search box has the focus");

    let cookies = browser.cookies().await;
    let session = cookies.iter().find(|c| c["name"] == "loyalty_session").expect("the session cookie");
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Strict", "{session}");
    assert_eq!(session["path"], "/", "{session}");
    let script_sees = browser.execute("return document.cookie;", vec![]).await;
    assert!(!script_sees.as_str().unwrap_or_default().contains("loyalty_session"), "HttpOnly: {script_sees}");
    // The page's script never has the agent token either.
    assert!(!browser.page_text().await.contains(TOKEN));

    // The page works: a search answers (an empty result is an answer).
    agent.enroll("+79990001234", "Launch Test").await;
    search(&browser, "1234").await;
    browser.wait_text("#results", "the customer", |t| t.contains("Launch Test")).await;
    browser.screenshot("page").await;

    // A session that ended (here: its cookie is gone) turns the page into directions at the
    // next call, instead of failing silently.
    browser.delete_cookie("loyalty_session").await;
    search(&browser, "12345").await;
    browser.wait_text("#signed-out", "the signed-out notice", |t| t.contains("loyalty-agent open")).await;

    // The same link again is refused with directions.
    browser.goto(&url).await;
    let text = browser.wait_text("body", "the used-link page", |t| t.contains("already been used")).await;
    assert!(text.contains("loyalty-agent open"), "{text}");
    browser.screenshot("link-used").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sale_and_return_at_the_till() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start().await;
    let ivan = agent.enroll("+7 (999) 123-45-67", "Ivan Petrov").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let card = ivan["card"].as_str().unwrap().to_owned();
    agent.give_points(&ivan_id, 171).await;
    let browser = open_page(&agent, "sale", "en-US").await;

    // Any phone format, the card number, or the last digits find him while typing.
    for query in ["8 999 123 45 67", "+7 (999) 123-45-67", "89991234567", "4567", card.as_str()] {
        search(&browser, query).await;
        browser.wait_text("#results li:first-child", "Ivan", |t| t.contains("Ivan Petrov")).await;
    }
    // Esc clears the search; typing again and Enter picks the first match.
    let input = browser.find("#search").await;
    browser.send_keys(&input, ESCAPE).await;
    browser.wait_until("the search to clear", "return document.getElementById('search').value === '' && document.querySelectorAll('#results li').length === 0;").await;
    browser.type_keys("8 (999) 123-45-67").await;
    browser.wait_text("#results li:first-child", "Ivan", |t| t.contains("Ivan Petrov")).await;
    browser.send_keys(&input, ENTER).await;

    // The card: name, masked phone, card number, points, and its QR code.
    assert_eq!(browser.wait_text("#c-name", "the name", |t| !t.is_empty()).await, "Ivan Petrov");
    let phone = browser.text_of("#c-phone").await;
    assert!(phone.ends_with("45-67") && !phone.contains("123"), "masked phone: {phone}");
    assert_eq!(browser.text_of("#c-card").await, card);
    assert_eq!(browser.text_of("#c-available").await, "171");
    assert_eq!(browser.text_of("#c-balance").await, "171");
    assert_eq!(browser.text_of("#c-pending").await, "0");
    browser
        .wait_until(
            "the card's QR code",
            "const img = document.getElementById('c-qr'); return img.complete && img.naturalWidth > 0;",
        )
        .await;
    assert_eq!(
        browser.execute("return document.activeElement.id;", vec![]).await,
        "amount-0",
        "choosing a customer puts the cursor in the amount"
    );
    browser.screenshot("card").await;

    // 250.00 with 171 points: spend them all, pay 79.00, earn 3 (the worked example of CONTRACTS.md §calculation).
    browser.type_keys("250.00").await;
    browser.type_keys(ENTER).await;
    assert_eq!(browser.wait_text("#q-total", "the amount to pay", |t| !t.is_empty()).await, "79.00 ₽");
    assert_eq!(browser.text_of("#q-subtotal").await, "250.00 ₽");
    assert_eq!(browser.text_of("#q-max").await, "171");
    assert_eq!(browser.execute("return document.getElementById('q-redeem').value;", vec![]).await, "171");
    assert_eq!(browser.text_of("#q-earn").await, "3");
    browser.screenshot("quote").await;
    assert_fits(&browser, "the calculator").await;

    // Choosing fewer points re-prices the receipt; "Max" goes back.
    let redeem = browser.find("#q-redeem").await;
    browser.clear(&redeem).await;
    browser.send_keys(&redeem, &format!("100{ENTER}")).await;
    browser.wait_text("#q-total", "150.00", |t| t == "150.00 ₽").await;
    // Points typed and "Commit" pressed at once: the page prices them first and commits
    // nothing the cashier has not seen.
    browser.clear(&redeem).await;
    browser.send_keys(&redeem, "50").await;
    browser.click_css("#commit").await;
    browser.wait_text("#q-total", "200.00", |t| t == "200.00 ₽").await;
    assert_eq!(last_receipt_id(&agent).await, None, "nothing committed yet");
    browser.click_css("#q-spend-max").await;
    browser.wait_text("#q-total", "79.00", |t| t == "79.00 ₽").await;

    browser.click_css("#commit").await;
    let done = browser.wait_text("#committed-text", "the committed sale", |t| !t.is_empty()).await;
    assert!(done.contains("paid 79.00 ₽") && done.contains("discount 171.00 ₽"), "{done}");
    assert!(done.contains("171 points spent") && done.contains("Balance: 3 points"), "{done}");
    // The shopper's card leaves the screen; the cursor waits for the next one.
    assert!(browser.execute("return document.getElementById('card').hidden;", vec![]).await.as_bool().unwrap());
    assert_eq!(browser.execute("return document.activeElement.id;", vec![]).await, "search");
    browser.screenshot("committed").await;

    // The commit is on the agent, under the page's receipt id, exactly once.
    let receipt_id = last_receipt_id(&agent).await.expect("the receipt id the page used");
    assert!(uuid::Uuid::parse_str(&receipt_id).is_ok(), "a UUID per receipt: {receipt_id}");
    let (status, stored) = agent.get(&format!("/v1/receipts/{receipt_id}")).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["receipt"]["total"], 7900);
    assert_eq!(stored["receipt"]["points"]["redeem"], 171);
    assert_eq!(stored["receipt"]["customer_id"], ivan_id.as_str());

    // The return gives the 171 back and takes the 3 earned, once confirmed.
    browser.click_css("#return-all").await;
    browser.click_css("#return-confirm").await;
    let returned = browser.wait_text("#return-result", "the return", |t| !t.is_empty()).await;
    assert!(returned.contains("79.00") && returned.contains("171 points given back"), "{returned}");
    let (_, after) = agent.get(&format!("/v1/customers/{ivan_id}")).await;
    assert_eq!(after["points"]["balance"], 171, "{after}");
    let (_, stored) = agent.get(&format!("/v1/receipts/{receipt_id}")).await;
    assert_eq!(stored["returns"].as_array().map(Vec::len), Some(1), "{stored}");
    browser.screenshot("returned").await;

    // A new receipt: amounts with a comma and several lines, and a bad amount explained.
    browser.click_css("#new-receipt").await;
    // The customer is read again first; the cursor lands in the amount when they are back.
    browser.wait_until("the amount to take the cursor", "return document.activeElement.id === 'amount-0';").await;
    browser.type_keys("12,5").await;
    browser.click_css("#add-line").await;
    browser.type_keys("1 000").await;
    browser.type_keys(ENTER).await;
    browser.wait_text("#q-subtotal", "1,012.50", |t| t == "1,012.50 ₽").await;
    let second = browser.find("#amount-1").await;
    browser.clear(&second).await;
    browser.send_keys(&second, &format!("12.345{ENTER}")).await;
    let notice = browser.wait_text("#notice", "the bad amount", |t| t.contains("250.00")).await;
    assert!(notice.contains("250.00"), "{notice}");

    // Corrected, with no points spent, committed; then one line returned…
    browser.clear(&second).await;
    browser.send_keys(&second, &format!("1 000{ENTER}")).await;
    browser.wait_text("#q-subtotal", "1,012.50", |t| t == "1,012.50 ₽").await;
    browser.click_css("#q-spend-none").await;
    browser.wait_text("#q-total", "1,012.50 to pay", |t| t == "1,012.50 ₽").await;
    browser.click_css("#commit").await;
    browser.wait_text("#committed-text", "the second sale", |t| t.contains("1,012.50")).await;
    let second_id = last_receipt_id(&agent).await.expect("the second receipt");
    assert_ne!(second_id, receipt_id, "a new receipt gets a new id");
    browser.click_css("#committed-lines li:nth-child(2) input").await;
    browser.click_css("#return-selected").await;
    let returned = browser.wait_text("#return-result", "the partial return", |t| !t.is_empty()).await;
    assert!(returned.contains("refund 12.50 ₽"), "{returned}");
    let (_, stored) = agent.get(&format!("/v1/receipts/{second_id}")).await;
    assert_eq!(stored["returns"][0]["lines"].as_array().map(Vec::len), Some(1), "{stored}");
    assert_eq!(stored["returns"][0]["lines"][0]["line"], 0, "{stored}");

    // …and the rest later, from the till's list of receipts.
    browser.click_css("#new-receipt").await;
    browser.wait_until("the amount to take the cursor", "return document.activeElement.id === 'amount-0';").await;
    browser.wait_text("#recent li:first-child", "the partly returned receipt", |t| t.contains("partly")).await;
    browser.click_css("#recent li:first-child button").await;
    browser
        .wait_text("#committed-lines", "the line still open", |t| t.contains("1,000.00") && !t.contains("12.50"))
        .await;
    browser.click_css("#return-all").await;
    browser.click_css("#return-confirm").await;
    browser.wait_text("#return-result", "the second return", |t| t.contains("refund 1,000.00 ₽")).await;
    browser.wait_text("#recent li:first-child", "the receipt marked returned", |t| t.contains("returned")).await;
    let (_, stored) = agent.get(&format!("/v1/receipts/{second_id}")).await;
    assert_eq!(stored["returns"].as_array().map(Vec::len), Some(2), "{stored}");
    browser.screenshot("returns").await;
}

/// An agent whose `config.toml` names the personal-data operator, the privacy policy and the
/// sign-up page; the folder goes with the returned guard.
fn agent_with_notice() -> (Agent, tempfile::TempDir) {
    let temp = tempfile::tempdir().expect("temp dir");
    std::fs::write(temp.path().join("program.toml"), "").expect("program file");
    std::fs::write(
        temp.path().join("config.toml"),
        "personal_data_operator = \"ООО «Ромашка», ИНН 7700000000\"\n\
         privacy_policy_url = \"https://shop.example.com/privacy\"\n\
         signup_url = \"https://loyalty.example.com\"\n",
    )
    .expect("config file");
    (Agent::spawn_in(temp.path(), None), temp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_and_edit_through_the_form() {
    let Some(()) = webdriver::available() else { return };
    let (agent, _dir) = agent_with_notice();
    let browser = open_page(&agent, "enroll", "ru-RU").await;
    let browser = &browser;
    let hidden = |id: &'static str| async move {
        browser.execute(&format!("return document.getElementById('{id}').hidden;"), vec![]).await.as_bool()
    };
    let ivan = agent.enroll("+7 999 555-00-11", "Иван").await;

    // Ivan was on the screen; a phone nobody has: "nobody", and the form for the new one.
    search(browser, "+7 999 555-00-11").await;
    browser.wait_text("#results li:first-child", "Ivan", |t| t.contains("Иван")).await;
    browser.send_keys(&browser.find("#search").await, ENTER).await;
    browser.wait_text("#c-name", "Ivan's card", |t| t == "Иван").await;
    search(browser, "+7 912 000-11-22").await;
    browser.wait_text("#nothing", "nothing found", |t| t.contains("никого нет")).await;
    // The switch re-translates the line, and back.
    browser.click_css("#lang").await;
    browser.wait_text("#nothing-text", "English", |t| t.contains("Nothing found")).await;
    browser.click_css("#lang").await;
    browser.wait_text("#nothing-text", "Russian", |t| t.contains("никого нет")).await;
    browser.click_css("#enroll-this").await;
    browser.find("#f-phone").await;
    assert_eq!(browser.execute("return document.getElementById('f-phone').value;", vec![]).await, "+7 912 000-11-22");
    assert_eq!(hidden("card").await, Some(true), "Ivan's card is not under the new customer's form");
    let recent_title = browser.text_of("#recent-title").await;
    assert_eq!(recent_title, "Последние чеки на этой кассе", "Ivan's receipts are not listed under the form");
    // The consent names who processes the data and links the policy (config.toml).
    let consent = browser.text_of("label:has(#f-personal-data)").await;
    assert!(
        consent.contains("обработку персональных данных") && consent.contains("ООО «Ромашка», ИНН 7700000000"),
        "{consent}"
    );
    let policy = browser.execute("return document.getElementById('f-policy').href;", vec![]).await;
    assert_eq!(policy, "https://shop.example.com/privacy");

    // Without the consent nobody is enrolled, and the form says so beside the box.
    browser.send_keys(&browser.find("#f-name").await, "Ольга").await;
    browser.click_css("#f-sms").await;
    browser.click_css("#f-save").await;
    let refusal = browser.wait_text("#e-personal_data", "the consent asked for", |t| !t.is_empty()).await;
    assert!(refusal.contains("согласие"), "{refusal}");
    let (_, none) = agent.get("/v1/customers/search?q=89120001122").await;
    assert_eq!(none["customers"].as_array().map(Vec::len), Some(0), "nothing enrolled: {none}");
    browser.screenshot("form-consent-missing").await;

    // A bad email is said under the email, in Russian, and the top of the page stays quiet.
    browser.click_css("#f-personal-data").await;
    browser.send_keys(&browser.find("#f-email").await, "olga@").await;
    browser.click_css("#f-save").await;
    let bad = browser.wait_text("#e-email", "the email's error", |t| !t.is_empty()).await;
    assert!(bad.contains("olga@") && bad.contains("адрес"), "{bad}");
    assert_eq!(hidden("notice").await, Some(true));
    assert_eq!(hidden("e-personal_data").await, Some(true), "the consent's error went when it was ticked");
    assert_eq!(
        browser.execute("return document.getElementById('f-email').getAttribute('aria-invalid');", vec![]).await,
        "true"
    );
    browser.screenshot("form-field-error").await;
    assert_fits(browser, "the enrolment form").await;
    let email = browser.find("#f-email").await;
    browser.clear(&email).await;
    // A friend's code with a typo is said under its field (its check character catches it)…
    let referral = browser.find("#f-referral").await;
    let friend = loyalty::identity::referral_code_from([3, 1, 4, 1, 5, 9, 2]);
    let mut typo: Vec<char> = friend.chars().collect();
    typo.swap(0, 1);
    let typo: String = typo.into_iter().collect();
    assert_ne!(typo, friend);
    browser.send_keys(&referral, &typo).await;
    browser.click_css("#f-save").await;
    let wrong = browser.wait_text("#e-referral", "the code's error", |t| !t.is_empty()).await;
    assert!(wrong.contains("Код друга"), "{wrong}");
    // …and the right one enrols the customer.
    browser.clear(&referral).await;
    browser.send_keys(&referral, &friend).await;
    browser.click_css("#f-save").await;
    assert_eq!(browser.wait_text("#c-name", "the new customer", |t| t == "Ольга").await, "Ольга");
    assert_eq!(browser.text_of("#c-phone").await, "+7 912 •••-11-22");
    let consents = browser.text_of("#c-consents").await;
    assert!(consents.contains("SMS: да") && consents.contains("ПДн: да"), "{consents}");
    // The search that found no one is over: no stale "nobody" under the new customer.
    assert_eq!(hidden("nothing").await, Some(true));
    assert_eq!(browser.execute("return document.getElementById('search').value;", vec![]).await, "");

    let (_, found) = agent.get("/v1/customers/search?q=89120001122").await;
    let olga = &found["customers"][0];
    assert_eq!(olga["name"], "Ольга", "{found}");
    assert_eq!(olga["consents"]["sms"]["granted"], true, "{found}");
    assert_eq!(olga["consents"]["sms"]["source"], "till", "{found}");
    assert_eq!(olga["consents"]["personal_data"]["granted"], true, "the 152-ФЗ consent is recorded: {found}");
    assert!(olga["consents"]["email"].is_null() || olga["consents"]["email"]["granted"] == false, "{found}");
    let olga_id = olga["id"].as_str().unwrap().to_owned();

    // Edit the name; untouched consents stay as they were.
    browser.click_css("#edit").await;
    let name = browser.find("#f-name").await;
    browser.clear(&name).await;
    browser.send_keys(&name, "Ольга Иванова").await;
    browser.click_css("#f-save").await;
    browser.wait_text("#c-name", "the new name", |t| t == "Ольга Иванова").await;
    browser.screenshot("edited").await;
    let (_, edited) = agent.get(&format!("/v1/customers/{olga_id}")).await;
    assert_eq!(edited["name"], "Ольга Иванова");
    assert_eq!(edited["consents"]["sms"], olga["consents"]["sms"], "consents untouched by a name edit");
    assert_eq!(edited["consents"]["personal_data"], olga["consents"]["personal_data"]);

    // A phone that is taken: said under the phone, with a button that opens its holder.
    browser.click_css("#new-customer").await;
    assert_eq!(hidden("card").await, Some(true), "Olga's card leaves for the new customer's form");
    browser.send_keys(&browser.find("#f-phone").await, "8 999 555 00 11").await;
    browser.click_css("#f-personal-data").await;
    browser.click_css("#f-save").await;
    let taken = browser.wait_text("#e-phone", "the phone's holder", |t| !t.is_empty()).await;
    assert!(taken.starts_with("Этот телефон уже принадлежит клиенту Иван"), "{taken}");
    let open = browser.wait_text("#open-holder", "the button to open Ivan", |t| !t.is_empty()).await;
    assert!(open.contains("Иван") && !open.contains(ivan["id"].as_str().unwrap()), "no raw id on the button: {open}");
    browser.screenshot("conflict").await;
    browser.click_css("#open-holder").await;
    browser.wait_text("#c-name", "Ivan's card", |t| t == "Иван").await;
    assert_eq!(hidden("customer-form").await, Some(true));

    // The sign-up QR code for a shopper who would rather join on their phone, and Esc.
    browser.click_css("#signup-qr").await;
    browser
        .wait_until(
            "the sign-up QR code",
            "const img = document.getElementById('signup-qr-img'); return img.complete && img.naturalWidth > 0;",
        )
        .await;
    browser.screenshot("signup-qr").await;
    browser.type_keys(ESCAPE).await;
    assert_eq!(hidden("signup-box").await, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_picture_finds_the_customer() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start().await;
    let customer = agent.enroll("+79995550101", "Scanned Person").await;
    let id = customer["id"].as_str().unwrap();
    agent.enroll("+79995550202", "Someone Else").await;
    let png = card_qr_png(&agent, id).await;
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("card.png");
    std::fs::write(&picture, &png).unwrap();

    let browser = open_page(&agent, "qr", "en-US").await;
    let upload = browser.find_any("#upload").await;
    browser.send_keys(&upload, picture.to_str().unwrap()).await;
    assert_eq!(browser.wait_text("#c-name", "the scanned customer", |t| !t.is_empty()).await, "Scanned Person");
    assert_eq!(browser.text_of("#c-card").await, customer["card"].as_str().unwrap());
    let notice = browser.text_of("#notice").await;
    assert!(notice.contains(customer["card"].as_str().unwrap()), "{notice}");
    browser.screenshot("decoded").await;

    // A picture without a QR code: the agent's reason is shown.
    let blank = dir.path().join("blank.png");
    let image = image::GrayImage::from_pixel(64, 64, image::Luma([255u8]));
    image.save(&blank).unwrap();
    browser.send_keys(&browser.find_any("#upload").await, blank.to_str().unwrap()).await;
    browser
        .wait_text("#notice", "no QR found", |t| {
            t.to_lowercase().contains("qr") && !t.contains(customer["card"].as_str().unwrap())
        })
        .await;
}

/// A Y4M video (what Chromium's fake camera plays) of `png` centred on white, 640×480.
fn y4m_of(png: &[u8]) -> Vec<u8> {
    let qr = image::load_from_memory(png).expect("a PNG").to_luma8();
    let (width, height) = (640u32, 480u32);
    let mut luma = image::GrayImage::from_pixel(width, height, image::Luma([255u8]));
    let (x, y) = ((width - qr.width()) / 2, (height - qr.height()) / 2);
    image::imageops::overlay(&mut luma, &qr, i64::from(x), i64::from(y));
    let mut video = format!("YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..3 {
        video.extend_from_slice(b"FRAME\n");
        video.extend_from_slice(luma.as_raw());
        // No colour: both chroma planes (a quarter of the pixels each) at the neutral 128.
        video.extend(std::iter::repeat_n(128u8, (width * height / 2) as usize));
    }
    video
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webcam_scan_finds_the_customer() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start().await;
    let customer = agent.enroll("+79995550303", "Camera Person").await;
    let id = customer["id"].as_str().unwrap();
    let png = card_qr_png(&agent, id).await;
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("camera.y4m");
    std::fs::write(&video, y4m_of(&png)).unwrap();

    let browser =
        Browser::start_with("webcam", "en-US", &[format!("--use-file-for-fake-video-capture={}", video.display())])
            .await;
    browser.goto(&launch_url(&agent).await).await;
    browser.wait_until("the page to sign in", "return document.body.dataset.ready === 'true';").await;
    browser.click_css("#scan").await;
    // The page grabs frames from the camera, the agent decodes them, the card opens.
    assert_eq!(browser.wait_text("#c-name", "the scanned customer", |t| !t.is_empty()).await, "Camera Person");
    assert_eq!(browser.text_of("#c-card").await, customer["card"].as_str().unwrap());
    assert!(browser.execute("return document.getElementById('scanner').hidden;", vec![]).await.as_bool().unwrap());
    browser.screenshot("found").await;
}

/// A program with campaigns the cashier's lines meet (they carry no category): double points on
/// everything, 50 points for a receipt from 200.00, and one that has not started yet.
const CAMPAIGNS: &str = r#"
[[campaigns]]
id = "double"
name = "Двойные баллы"
effect = { points_multiplier = 2 }

[[campaigns]]
id = "big-receipt"
name = "Бонус за чек от 200 ₽"
conditions = { min_receipt = 20000 }
effect = { extra_points = { points = 50, per = "receipt" } }

[[campaigns]]
id = "next-year"
name = "Новогодняя"
valid_from = 2099-01-01
effect = { points_multiplier = 3 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quote_shows_the_campaigns() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start_with_program(CAMPAIGNS).await;
    agent.enroll("+7 (999) 123-45-68", "Анна Смирнова").await;
    let browser = open_page(&agent, "campaigns", "ru-RU").await;
    search(&browser, "4568").await;
    browser.wait_text("#results li:first-child", "Анна", |t| t.contains("Анна Смирнова")).await;
    browser.send_keys(&browser.find("#search").await, ENTER).await;
    browser.wait_text("#c-name", "the name", |t| !t.is_empty()).await;
    browser.type_keys("250,00").await;
    browser.type_keys(ENTER).await;
    browser.wait_text("#q-total", "the amount to pay", |t| !t.is_empty()).await;
    // 5 % of 250.00 is 12 points; doubled, 24; with the receipt bonus, 74.
    assert_eq!(browser.text_of("#q-earn").await, "74");
    let applied = browser
        .execute("return [...document.querySelectorAll('#q-campaigns li')].map((li) => li.textContent);", vec![])
        .await;
    // In the order they are evaluated everywhere: priority, then id.
    assert_eq!(applied, json!(["Бонус за чек от 200 ₽ — +50 баллов", "Двойные баллы — +12 баллов"]));
    let missed = browser.text_of("#q-campaigns-not").await;
    assert_eq!(missed, "Новогодняя: ещё не началась", "why the campaign the customer may expect gave nothing");
    assert_fits(&browser, "the quote with campaigns").await;
    browser.screenshot("quote").await;

    // The same in English (the campaigns' names are the chain's own).
    browser.click_css("#lang").await;
    browser.wait_text("#q-campaigns-label", "the English label", |t| t == "Campaigns").await;
    assert_eq!(browser.text_of("#q-campaigns-not").await, "Новогодняя: has not started yet");
    browser.screenshot("quote-en").await;
}

/// A stamp card on the cashier's lines (the page names them `line-1`, `line-2`, …): six
/// coffees on a card of five make the sixth free, and the card starts again.
const STAMP_CARD: &str = r#"
[[campaigns]]
id = "coffee-card"
name = "Шестой кофе бесплатно"
conditions = { skus = ["line-1", "line-2", "line-3", "line-4", "line-5", "line-6"] }
effect = { stamp_card = { stamps_for_reward = 5 } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stamp_card_shows_the_free_unit_and_the_count() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start_with_program(STAMP_CARD).await;
    agent.enroll("+7 (999) 123-45-69", "Олег Кофеман").await;
    let browser = open_page(&agent, "stamps", "ru-RU").await;
    search(&browser, "4569").await;
    browser.wait_text("#results li:first-child", "Олег", |t| t.contains("Олег")).await;
    browser.send_keys(&browser.find("#search").await, ENTER).await;
    browser.wait_text("#c-name", "the name", |t| !t.is_empty()).await;
    for line in 0..6 {
        if line > 0 {
            browser.click_css("#add-line").await;
        }
        browser.send_keys(&browser.find(&format!("#amount-{line}")).await, "150,00").await;
    }
    browser.type_keys(ENTER).await;
    browser.wait_text("#q-total", "the amount to pay", |t| t.contains("750,00")).await;
    let applied = browser
        .execute("return [...document.querySelectorAll('#q-campaigns li')].map((li) => li.textContent);", vec![])
        .await;
    // One free coffee (five stamps spent on it), and the card back at 0 of 5.
    assert_eq!(applied, json!(["Шестой кофе бесплатно — −150,00\u{a0}₽, бесплатно: 1, 0 из 5 штампов"]), "{applied}");
    browser.screenshot("free").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_follows_the_browser_and_switches() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start().await;
    let ivan = agent.enroll("+79991112233", "Иван").await;
    agent.give_points(ivan["id"].as_str().unwrap(), 1500).await;
    let browser = open_page(&agent, "language", "ru-RU").await;

    assert_eq!(browser.execute("return document.documentElement.lang;", vec![]).await, "ru");
    assert_eq!(browser.wait_text("#badge", "the badge", |t| !t.is_empty()).await, "Автономно");
    assert_eq!(browser.text_of("#new-customer").await, "Новый клиент");
    search(&browser, "2233").await;
    browser.wait_text("#results li:first-child", "Иван", |t| t.contains("Иван")).await;
    browser.send_keys(&browser.find("#search").await, ENTER).await;
    browser.wait_text("#c-available", "the points", |t| t == "1 500").await;
    browser.type_keys(&format!("3000{ENTER}")).await;
    // Rubles the Russian way: a comma and a narrow space between thousands.
    assert_eq!(browser.wait_text("#q-subtotal", "the subtotal", |t| !t.is_empty()).await, "3 000,00 ₽");
    let raw = browser.execute("return document.getElementById('q-subtotal').textContent;", vec![]).await;
    assert_eq!(raw, "3\u{202f}000,00\u{a0}₽", "no-break spaces, so an amount never wraps");
    assert_eq!(browser.text_of("#commit").await, "Провести продажу");
    browser.screenshot("ru").await;

    browser.click_css("#lang").await;
    browser.wait_text("#badge", "English", |t| t == "Standalone").await;
    assert_eq!(browser.text_of("#commit").await, "Commit sale");
    assert_eq!(browser.text_of("#q-subtotal").await, "3,000.00 ₽");
    assert_eq!(browser.execute("return document.documentElement.lang;", vec![]).await, "en");
    browser.screenshot("en").await;

    // The choice is remembered on this till.
    browser.goto(&agent.url("/")).await;
    browser.wait_until("the page to load", "return document.body.dataset.ready === 'true';").await;
    assert_eq!(browser.wait_text("#badge", "the badge", |t| !t.is_empty()).await, "Standalone");

    // The agent's own refusals come in the language the page shows, before and after a switch:
    // a phone that is taken.
    let browser = &browser;
    let taken = |says: &'static str| async move {
        browser.click_css("#new-customer").await;
        let phone = browser.find("#f-phone").await;
        browser.clear(&phone).await;
        browser.send_keys(&phone, "8 999 111 22 33").await;
        if browser.execute("return document.getElementById('f-personal-data').checked;", vec![]).await != true {
            browser.click_css("#f-personal-data").await;
        }
        browser.click_css("#f-save").await;
        browser.wait_text("#e-phone", "the agent's refusal", |t| t.contains(says)).await
    };
    let notice = taken("already belongs").await;
    assert!(notice.starts_with("this phone already belongs to customer Иван (card "), "{notice}");
    browser.click_css("#lang").await;
    browser.wait_text("#badge", "Russian", |t| t == "Автономно").await;
    let notice = taken("уже принадлежит").await;
    assert!(notice.starts_with("Этот телефон уже принадлежит клиенту Иван (карта "), "{notice}");
    browser.screenshot("ru-refusal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_badge_when_the_cloud_is_down() {
    let Some(()) = webdriver::available() else { return };
    let cloud = Cloud::start(Backend::Sqlite).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    cloud.customer("+79993334455").await;
    let dir = tempfile::tempdir().unwrap();
    let till_id = enroll(&cloud, &proxy.url(), dir.path(), "till-page").await;
    let agent = Agent::spawn_in(dir.path(), None);
    wait_drained(&agent, Duration::from_secs(10)).await;

    let browser = open_page(&agent, "offline", "en-US").await;
    browser.wait_text("#badge", "online", |t| t == "Online").await;
    browser.screenshot("online").await;

    proxy.set(Fault::Refuse);
    search(&browser, "3334455").await;
    browser.wait_text("#results li:first-child", "the customer", |t| t.contains("Test")).await;
    browser.send_keys(&browser.find("#search").await, ENTER).await;
    browser.wait_text("#c-name", "the card", |t| t == "Test").await;
    browser.type_keys(&format!("100{ENTER}")).await;
    browser.wait_text("#q-total", "the quote", |t| !t.is_empty()).await;
    browser.click_css("#commit").await;
    browser.wait_text("#committed-text", "the offline sale", |t| !t.is_empty()).await;

    let badge = browser.wait_text("#badge", "offline with pending operations", |t| t.starts_with("Offline ·")).await;
    let pending: i64 = browser
        .execute("return Number(document.getElementById('badge').dataset.pending);", vec![])
        .await
        .as_i64()
        .unwrap_or(0);
    assert!(pending > 0, "{badge}");
    assert!(badge.contains(&format!("{pending} pending")), "{badge}");
    assert_eq!(browser.execute("return document.getElementById('badge').dataset.state;", vec![]).await, "offline");
    browser.screenshot("offline").await;

    // The cloud comes back: the sale goes up and the badge turns online again.
    proxy.set(Fault::None);
    browser.click_css("#sync-now").await;
    browser.wait_text("#badge", "online again", |t| t == "Online").await;
    let receipt_id = last_receipt_id(&agent).await.expect("the offline sale");
    let path = format!("/v1/admin/receipts/{till_id}/{receipt_id}");
    eventually(Duration::from_secs(10), "the sale in the cloud", || async {
        (cloud.admin_get(&path).await.0 == 200).then_some(())
    })
    .await;
}

/// The customer's card QR code as the agent draws it.
async fn card_qr_png(agent: &Agent, id: &str) -> Vec<u8> {
    let response = agent
        .client()
        .get(agent.url(&format!("/v1/customers/{id}/qr.png")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the card's QR code");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("the QR code's bytes").to_vec()
}

/// Issue 10, defects 1–4, as a cashier with a scanner and a keyboard meets them (in Russian):
/// the next shopper never inherits the last one's card, a scan finds the customer wherever the
/// focus is, the ruble discount shows, and the sale ends on the keyboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_shopper_never_inherits_the_last_card() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start().await;
    let ivan = agent.enroll("+79991230001", "Иван Петров").await;
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let ivan_card = ivan["card"].as_str().unwrap().to_owned();
    agent.give_points(&ivan_id, 171).await;
    let olga = agent.enroll("+79991230002", "Ольга").await;
    let olga_id = olga["id"].as_str().unwrap().to_owned();
    let olga_card = olga["card"].as_str().unwrap().to_owned();
    let browser = open_page(&agent, "next-shopper", "ru-RU").await;
    let focused = || async { browser.execute("return document.activeElement.id;", vec![]).await };
    let hidden = |id: &'static str| {
        let browser = &browser;
        async move { browser.execute(&format!("return document.getElementById('{id}').hidden;"), vec![]).await.as_bool() }
    };

    // Ivan, 250.00, all his points: the discount in rubles, the balance after, and why 171.
    search(&browser, &ivan_card).await;
    browser.wait_text("#results li:first-child", "Ivan", |t| t.contains("Иван")).await;
    browser.type_keys(ENTER).await;
    browser.wait_text("#c-name", "Ivan's card", |t| t == "Иван Петров").await;
    browser.type_keys(&format!("250{ENTER}")).await;
    assert_eq!(browser.wait_text("#q-discount", "the discount", |t| !t.is_empty()).await, "171,00 ₽");
    assert_eq!(browser.text_of("#q-total").await, "79,00 ₽");
    assert_eq!(browser.text_of("#q-balance-after").await, "3");
    assert!(browser.text_of("#q-limits").await.contains("доступно клиенту"), "why the maximum is 171");
    assert_fits(&browser, "the calculator with the discount").await;
    browser.screenshot("quote-discount").await;

    // The next shopper is not found: Ivan's card and receipt leave the screen, and the commit
    // hotkey has nothing to commit.
    search(&browser, "+7 900 000-00-00").await;
    browser.wait_until("nobody found", "return !document.getElementById('nothing').hidden;").await;
    assert_eq!(hidden("card").await, Some(true), "the last shopper's card is gone");
    assert_eq!(hidden("receipt").await, Some(true), "and their receipt");
    assert!(!browser.page_text().await.contains("Иван"), "their name is not in view");
    browser.type_keys(F9).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, still) = agent.get(&format!("/v1/customers/{ivan_id}")).await;
    assert_eq!(still["points"]["balance"], 171, "nothing was billed to Ivan: {still}");
    browser.screenshot("not-found-cleared").await;

    // Ivan again; a card scanned into the amount field switches to Olga, and the amount stays empty.
    search(&browser, &ivan_card).await;
    browser.wait_text("#results li:first-child", "Ivan", |t| t.contains("Иван")).await;
    browser.type_keys(ENTER).await;
    browser.wait_text("#c-name", "Ivan's card", |t| t == "Иван Петров").await;
    assert_eq!(focused().await, "amount-0");
    browser.type_keys(&format!("{olga_card}{ENTER}")).await;
    browser.wait_text("#c-name", "Olga's card", |t| t == "Ольга").await;
    assert_eq!(browser.execute("return document.getElementById('amount-0').value;", vec![]).await, "");
    assert_eq!(focused().await, "amount-0", "picked by a scan, the cursor is in the amount");

    // Olga's sale ends on the keyboard: Enter prices, Enter on the unchanged quote commits.
    browser.type_keys(&format!("100{ENTER}")).await;
    browser.wait_text("#q-total", "Olga's quote", |t| t == "100,00 ₽").await;
    // Olga has nothing to spend: no points field, the cursor waits on the commit button.
    assert_eq!(focused().await, "commit");
    assert_eq!(hidden("q-redeem").await, Some(true));
    assert_eq!(hidden("q-spend-max").await, Some(true));
    assert_eq!(browser.text_of("#q-nothing").await, "списывать нечего");
    browser.type_keys(ENTER).await;
    let done = browser.wait_text("#committed-text", "Olga's sale", |t| !t.is_empty()).await;
    assert!(done.contains("оплачено 100,00 ₽") && done.contains("начислено 5 баллов"), "{done}");
    assert_eq!(hidden("card").await, Some(true), "Olga's card leaves the screen");
    assert_eq!(focused().await, "search", "the cursor waits for the next card");
    let (_, olga_now) = agent.get(&format!("/v1/customers/{olga_id}")).await;
    assert_eq!(olga_now["points"]["balance"], 5, "{olga_now}");

    // With nothing focused, a scanned card still finds the customer.
    browser.execute("document.activeElement.blur();", vec![]).await;
    browser.type_keys(&format!("{ivan_card}{ENTER}")).await;
    browser.wait_text("#c-name", "Ivan by a scan", |t| t == "Иван Петров").await;
    browser.type_keys(&format!("250{ENTER}")).await;
    browser.wait_text("#q-total", "Ivan's quote", |t| t == "79,00 ₽").await;
    browser.type_keys(F9).await;
    let done = browser.wait_text("#committed-text", "Ivan's sale", |t| !t.is_empty()).await;
    assert!(done.contains("скидка 171,00 ₽") && done.contains("списано 171 балл,"), "{done}");
    assert!(done.contains("Баланс: 3 балла"), "{done}");
    browser.screenshot("committed-summary").await;

    // "Return all" asks; Esc says no, Enter on the question says yes.
    browser.click_css("#return-all").await;
    assert_eq!(focused().await, "return-confirm");
    let question = browser.text_of("#confirm-text").await;
    assert!(question.contains("79,00 ₽"), "{question}");
    browser.screenshot("confirm-return").await;
    browser.type_keys(ESCAPE).await;
    assert_eq!(hidden("confirm-return").await, Some(true));
    let receipt_id = last_receipt_id(&agent).await.expect("Ivan's receipt");
    let (_, stored) = agent.get(&format!("/v1/receipts/{receipt_id}")).await;
    assert_eq!(stored["returns"].as_array().map(Vec::len), Some(0), "Esc returned nothing: {stored}");
    browser.click_css("#return-all").await;
    browser.type_keys(ENTER).await;
    let returned = browser.wait_text("#return-result", "the return", |t| !t.is_empty()).await;
    assert!(
        returned.contains("вернуть покупателю 79,00 ₽")
            && returned.contains("На счёт возвращены списанные баллы: 171 балл."),
        "{returned}"
    );
    let (_, stored) = agent.get(&format!("/v1/receipts/{receipt_id}")).await;
    assert_eq!(stored["returns"].as_array().map(Vec::len), Some(1), "{stored}");
    browser.screenshot("returned-summary").await;

    // F2: the next customer starts from a clean screen.
    browser.type_keys(F2).await;
    browser.wait_until("a clean screen", "return document.getElementById('committed').hidden && document.getElementById('receipt').hidden && !document.getElementById('welcome').hidden;").await;
    assert_eq!(focused().await, "search");
    assert_eq!(browser.execute("return document.getElementById('search').value;", vec![]).await, "");
    browser.screenshot("next-customer").await;
}

/// Issue 10, defect 5: the receipts come from the agent, not the browser. A sale the till's
/// integration committed is listed for its customer in a fresh browser, and a receipt found
/// by its number is returned from the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_come_from_the_agent_and_are_found_by_number() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start().await;
    let anna = agent.enroll("+79991230003", "Анна").await;
    let anna_id = anna["id"].as_str().unwrap().to_owned();
    let sale = |id: &str, price: i64| json!({ "id": id, "customer": { "id": anna_id }, "lines": [{ "sku": "tea", "quantity": "1", "price": price }] });
    assert_eq!(agent.post("/v1/receipts", sale("POS-1001", 40000)).await.0, 200);
    assert_eq!(agent.post("/v1/receipts", sale("POS-1002", 12000)).await.0, 200);

    // A browser that never saw these sales: the till's latest receipts, then Anna's.
    let browser = open_page(&agent, "receipts", "ru-RU").await;
    let latest = browser.wait_text("#recent", "the till's receipts", |t| t.contains("120,00")).await;
    assert!(latest.contains("400,00"), "{latest}");
    assert_eq!(browser.text_of("#recent-title").await, "Последние чеки на этой кассе");
    search(&browser, "+79991230003").await;
    browser.wait_text("#results li:first-child", "Anna", |t| t.contains("Анна")).await;
    browser.type_keys(ENTER).await;
    browser.wait_text("#c-name", "Anna's card", |t| t == "Анна").await;
    browser.wait_text("#recent-title", "Anna's receipts", |t| t.starts_with("Чеки клиента")).await;
    browser.wait_text("#recent", "Anna's receipts", |t| t.contains("400,00") && t.contains("120,00")).await;
    browser.screenshot("customer-receipts").await;

    // The next shopper brings POS-1001 back: found by its number, returned whole.
    browser.type_keys(F2).await;
    let number = browser.find("#receipt-number").await;
    browser.send_keys(&number, &format!("POS-1001{ENTER}")).await;
    browser.wait_text("#committed-text", "the receipt found", |t| t.contains("400,00")).await;
    browser.click_css("#return-all").await;
    browser.type_keys(ENTER).await;
    browser.wait_text("#return-result", "the return", |t| t.contains("вернуть покупателю 400,00 ₽")).await;
    let (_, stored) = agent.get("/v1/receipts/POS-1001").await;
    assert_eq!(stored["returns"].as_array().map(Vec::len), Some(1), "{stored}");
    browser.wait_text("#recent", "the receipt marked returned", |t| t.contains("возвращён")).await;
    browser.screenshot("returned-by-number").await;

    // A number the till does not know is said so, in Russian.
    browser.type_keys(F2).await;
    let number = browser.find("#receipt-number").await;
    browser.send_keys(&number, &format!("POS-9999{ENTER}")).await;
    let notice = browser.wait_text("#notice", "the unknown receipt", |t| !t.is_empty()).await;
    assert!(notice.contains("POS-9999") && notice.contains("Чек"), "{notice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promo_code_birthday_and_the_shoppers_slip() {
    let Some(()) = webdriver::available() else { return };
    let agent = Agent::start_with_program(
        "expiry_days = 20\n[[promo_codes]]\ncode = \"WINTER10\"\nkind = \"percent\"\nvalue = 10\nmin_receipt = 50000\n\
         [[tiers]]\nname = \"Золото\"\nthreshold = 500000\n",
    )
    .await;
    // Anna's birthday is in two days; she holds 300 points.
    let in_two_days = time::OffsetDateTime::now_utc().date() + time::Duration::days(2);
    let birthday = format!("1990-{:02}-{:02}", u8::from(in_two_days.month()), in_two_days.day());
    let (status, anna) =
        agent.post("/v1/customers", json!({ "phone": "+79995550022", "name": "Анна", "birthday": birthday })).await;
    assert_eq!(status, 201, "{anna}");
    agent.give_points(anna["id"].as_str().unwrap(), 300).await;
    let browser = open_page(&agent, "extras", "ru-RU").await;
    let browser = &browser;
    let hidden = |id: &'static str| async move {
        browser.execute(&format!("return document.getElementById('{id}').hidden;"), vec![]).await.as_bool()
    };

    search(browser, "5550022").await;
    browser.wait_text("#results li:first-child", "Anna", |t| t.contains("Анна")).await;
    browser.send_keys(&browser.find("#search").await, ENTER).await;
    let notice = browser.wait_text("#c-birthday", "the birthday notice", |t| !t.is_empty()).await;
    assert!(notice.starts_with("День рождения через 2 дня"), "{notice}");
    // Her 300 points expire in 20 days: the card says so, with the date.
    let expiry = browser.text_of("#c-expiry").await;
    assert!(expiry.starts_with("300 баллов сгорят ") && expiry.contains("самое время"), "{expiry}");
    let (_, anna_api) = agent.get(&format!("/v1/customers/{}", anna["id"].as_str().unwrap())).await;
    assert_eq!(anna_api["next_expiry"]["points"], 300, "{anna_api}");
    // How far the next tier is, in rubles.
    assert_eq!(browser.text_of("#c-next-tier").await, "ещё 5 000,00 ₽ до уровня «Золото»");

    // A code the program does not have is said beside the code, and no figures stay up.
    browser.type_keys("400").await;
    let promo = browser.find("#promo").await;
    browser.send_keys(&promo, &format!("NOPE{ENTER}")).await;
    let refusal = browser.wait_text("#e-promo", "the refused code", |t| !t.is_empty()).await;
    assert!(refusal.contains("NOPE"), "{refusal}");
    assert_eq!(hidden("quote").await, Some(true), "no quote for a refused code");
    browser.screenshot("promo-refused").await;
    // Below the code's minimum: the reason, in Russian, with the figures.
    browser.clear(&promo).await;
    browser.send_keys(&promo, &format!("winter10{ENTER}")).await;
    let refusal = browser.wait_text("#e-promo", "the minimum", |t| t.contains("500,00")).await;
    assert!(refusal.contains("WINTER10") && refusal.contains("400,00"), "{refusal}");

    // 1 000,00 with the code: 10% off before points, then all 300 points.
    let amount = browser.find("#amount-0").await;
    browser.clear(&amount).await;
    browser.send_keys(&amount, &format!("1000{ENTER}")).await;
    browser.wait_text("#q-promo", "the code's discount", |t| t.contains("WINTER10")).await;
    assert!(browser.text_of("#q-promo").await.contains("100,00 ₽"), "{}", browser.text_of("#q-promo").await);
    assert_eq!(browser.text_of("#q-total").await, "600,00 ₽");
    assert_eq!(browser.text_of("#q-discount").await, "400,00 ₽");
    browser.screenshot("promo-applied").await;

    // Points that cannot be spent: the old figures go, nothing can be committed.
    let redeem = browser.find("#q-redeem").await;
    browser.clear(&redeem).await;
    browser.send_keys(&redeem, "5000").await;
    browser.wait_text("#q-total", "no stale total", |t| t == "—").await;
    let why = browser.wait_text("#e-redeem", "why not", |t| !t.is_empty()).await;
    assert_eq!(why, "Введите целое число баллов от 0 до 300.");
    assert_eq!(browser.text_of("#q-discount").await, "—");
    assert_eq!(browser.execute("return document.getElementById('commit').disabled;", vec![]).await, true);
    browser.screenshot("bad-points").await;
    browser.clear(&redeem).await;
    browser.send_keys(&redeem, &format!("300{ENTER}")).await;
    browser.wait_text("#q-total", "the total again", |t| t == "600,00 ₽").await;
    browser.type_keys(ENTER).await;
    let done = browser.wait_text("#committed-text", "the sale", |t| !t.is_empty()).await;
    assert!(done.contains("списано 300 баллов"), "{done}");
    let (_, anna_now) = agent.get(&format!("/v1/customers/{}", anna["id"].as_str().unwrap())).await;
    assert_eq!(anna_now["next_tier"], json!({ "name": "Золото", "threshold": 500000, "remaining": 440000 }));
    let (_, stored) = agent.get("/v1/receipts?limit=1").await;
    let id = stored["receipts"][0]["id"].as_str().expect("the receipt").to_owned();
    let (_, receipt) = agent.get(&format!("/v1/receipts/{id}")).await;
    assert_eq!(receipt["receipt"]["promo_codes"][0]["code"], "WINTER10", "{receipt}");

    // The shopper's slip, from the print dialog (stood in for: headless Chromium prints nothing).
    browser.execute("window.print = () => { window.__printed = (window.__printed || 0) + 1; };", vec![]).await;
    browser.click_css("#print-slip").await;
    assert_eq!(browser.execute("return window.__printed;", vec![]).await, 1);
    // On screen the slip is not shown (only on paper): its text, not its rendering.
    let slip = browser.execute("return document.getElementById('slip').textContent;", vec![]).await;
    let slip = slip.as_str().unwrap_or_default().replace(['\u{a0}', '\u{202f}'], " ");
    for part in
        ["Программа лояльности", "Оплачено", "600,00 ₽", "Скидка", "400,00 ₽", "Списано", "300 баллов", "Баланс"]
    {
        assert!(slip.contains(part), "{part:?} on the slip: {slip}");
    }
    browser.screenshot("committed-with-slip").await;
}

/// A program that confirms spending with a code: the page prices the receipt without spending,
/// asks for the customer's code, sends one by SMS on a click, and with it spends 171 of 250.00
/// (pay 79.00); a wrong code is said beside the field; the next customer starts without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spending_asks_for_the_customers_code() {
    let Some(()) = webdriver::available() else { return };
    let inbox = crate::self_service::SmsInbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("program.toml"), "verify_spending = true\n").unwrap();
    let url = inbox.url.strip_prefix("webhook:").unwrap();
    std::fs::write(dir.path().join("config.toml"), format!("[sms]\nwebhook_url = \"{url}\"\nsecret = \"s3cret\"\n"))
        .unwrap();
    let agent = Agent::spawn_in(dir.path(), None);
    let anna = agent.enroll(crate::self_service::PHONE, "Анна Смирнова").await;
    agent.give_points(anna["id"].as_str().unwrap(), 171).await;
    let browser = open_page(&agent, "spending_code", "ru-RU").await;
    search(&browser, "8 901 123-45-67").await;
    browser.wait_text("#results li:first-child", "Анна", |t| t.contains("Анна")).await;
    browser.type_keys(ENTER).await;
    browser.wait_text("#c-name", "the card", |t| t.contains("Анна")).await;
    browser.type_keys("250").await;
    browser.type_keys(ENTER).await;

    // Without a code the receipt is priced without spending, and the code is asked for.
    browser.wait_until("the code field", "return !document.getElementById('spend-code').hidden;").await;
    assert_eq!(browser.wait_text("#q-total", "the amount to pay", |t| !t.is_empty()).await, "250,00 ₽");
    assert_eq!(browser.text_of("#q-max").await, "171");
    assert!(browser.text_of("#spend-code").await.contains("нужен код клиента"));
    browser.screenshot("asked").await;

    // A code the till cannot check yet (nothing sent) is said beside the field.
    let code_input = browser.find("#code").await;
    browser.send_keys(&code_input, "000000").await;
    browser.click_css("#code-apply").await;
    let refused = browser.wait_text("#e-code", "the refusal", |t| !t.is_empty()).await;
    assert!(refused.contains("не может проверить"), "{refused}");

    // The SMS: a wrong code is refused, the right one spends 171 points.
    browser.click_css("#code-send").await;
    let sent = browser.wait_text("#code-sent", "where the code went", |t| t.contains("45-67")).await;
    assert!(sent.contains("+7 *** ***-45-67"), "{sent}");
    let (code, _) = inbox.code(0).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    browser.clear(&code_input).await;
    browser.send_keys(&code_input, wrong).await;
    browser.click_css("#code-apply").await;
    browser.wait_text("#e-code", "the wrong code", |t| t.contains("неверный")).await;
    browser.clear(&code_input).await;
    browser.send_keys(&code_input, &format!("{code}{ENTER}")).await;
    browser.wait_text("#q-total", "79.00", |t| t == "79,00 ₽").await;
    assert_eq!(browser.execute("return document.getElementById('q-redeem').value;", vec![]).await, "171");
    browser.screenshot("with_code").await;
    assert_fits(&browser, "the calculator with the code").await;
    browser.click_css("#commit").await;
    let done = browser.wait_text("#committed-text", "the committed sale", |t| !t.is_empty()).await;
    assert!(done.contains("79,00"), "{done}");
    let (_, after) = agent.get(&format!("/v1/customers/{}", anna["id"].as_str().unwrap())).await;
    assert_eq!(after["points"]["balance"], 3, "171 spent, 3 earned: {after}");
    // The next shopper starts without the last one's code.
    assert!(browser.execute("return document.getElementById('spend-code').hidden;", vec![]).await.as_bool().unwrap());
    assert_eq!(browser.execute("return document.getElementById('code').value;", vec![]).await, "");
}
