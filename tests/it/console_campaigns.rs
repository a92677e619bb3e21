//! Issue 12's campaign editor on the back office's program page, in headless Chromium against a
//! real loyalty-cloud, as a chain's marketing manager uses it: a campaign "Двойные баллы на
//! кофе" (coffee, ×2, Tuesday and Wednesday 16:00–18:00) made in the form; a schedule whose end
//! is before its start refused under that input, its campaign opened; fixed; the sample receipt
//! priced on a Tuesday at 16:30 (the draft doubles what the version in force gives) and on a
//! Monday (outside the schedule, in words); a copy made and deleted; birthday points switched
//! on; the review in words; published, and the new version holds the campaign exactly as
//! entered. Then a stamp card with stamps held: "5 из 5", and the next latte free; a new tier
//! offered to the campaign and to the sample customer; and the same page in English. Screenshots `console_campaigns-*` (the README's are copied from them).

use serde_json::{json, Value};

use crate::cloud_support::Backend;
use crate::console_page::{cloud_with_owner, open, sign_in, type_into, OWNER, PASSWORD};
use crate::webdriver::{self, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_is_made_refused_fixed_previewed_and_published() {
    if webdriver::available().is_none() {
        return;
    }
    edits_campaigns(&Browser::start("console_campaigns", "ru-RU").await, Backend::Sqlite).await;
}

/// Sets an input's (or a select's) value as its picker would, and tells the page: date, time
/// and datetime-local inputs take their value in one form whatever the browser's locale.
async fn set_value(browser: &Browser, css: &str, value: &str) {
    let found = browser
        .execute(
            "const e = document.querySelector(arguments[0]); if (!e) return false; e.value = arguments[1];
             e.dispatchEvent(new Event('input', { bubbles: true })); e.dispatchEvent(new Event('change', { bubbles: true }));
             return true;",
            vec![json!(css), json!(value)],
        )
        .await;
    assert_eq!(found, json!(true), "no input {css}");
}

/// The first campaign card's input `field` (`schedule.to`), by the name the page gives it.
fn input(row: usize, field: &str) -> String {
    format!("#campaigns [name='campaigns[{row}].{field}']")
}

/// The sample receipt's first line, then a run of the preview; answers the campaigns' table.
async fn preview(browser: &Browser, category: &str, price: &str, quantity: &str, at: &str) -> String {
    type_into(browser, "#program-preview .line-category", category).await;
    type_into(browser, "#program-preview .line-price", price).await;
    type_into(browser, "#program-preview .line-quantity", quantity).await;
    set_value(browser, "#program-preview input[name=preview_at]", at).await;
    browser.execute("document.getElementById('preview-out').textContent = '';", vec![]).await;
    browser.click_css("#run-preview").await;
    browser.wait_text("#preview-campaigns", "the campaigns of both sides", |t| !t.is_empty()).await
}

/// The preview's row (`Начислено`) as its figures, current then draft: "50 100".
async fn figures(browser: &Browser, row: &str) -> String {
    let table = browser.text_of("#preview-out table.data").await;
    let line = table.lines().find(|line| line.starts_with(row)).unwrap_or_default().to_owned();
    line[row.len()..].split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) async fn edits_campaigns(browser: &Browser, backend: crate::cloud_support::Backend) {
    let cloud = cloud_with_owner(backend).await;
    sign_in(browser, &cloud, OWNER, PASSWORD).await;
    open(browser, "#/program").await;
    browser.wait_text("#campaigns", "no campaigns yet", |t| t.contains("Акций пока нет")).await;

    // A new campaign opens as a card of fields.
    browser.click_css("#add-campaign").await;
    type_into(browser, &input(0, "name"), "Двойные баллы на кофе").await;
    type_into(browser, &input(0, "id"), "coffee-x2").await;
    type_into(browser, &input(0, "priority"), "10").await;
    let effect =
        browser.execute("return document.querySelector(arguments[0]).value;", vec![json!(input(0, "effect"))]).await;
    assert_eq!(effect, "points_multiplier", "a new campaign doubles points until told otherwise");
    type_into(browser, &input(0, "effect.points_multiplier"), "2").await;
    set_value(browser, &input(0, "valid_from"), "2026-11-01").await;
    set_value(browser, &input(0, "valid_until"), "2027-01-31").await;
    for day in ["tue", "wed"] {
        browser.click_css(&format!("#campaigns [data-field='campaigns[0].schedule.days'] input[value={day}]")).await;
    }
    // The end before the start: the server's check.
    type_into(browser, &input(0, "schedule.from"), "18:00").await;
    type_into(browser, &input(0, "schedule.to"), "16:00").await;
    type_into(browser, &input(0, "conditions.categories"), "Кофе").await;
    type_into(browser, &input(0, "limit_per_customer.count"), "1").await;
    set_value(browser, &input(0, "limit_per_customer.period"), "day").await;
    // Only the chosen effect's inputs are shown.
    let shown = browser
        .execute(
            "return [...document.querySelectorAll('#campaigns .campaign-row [data-field^=\"campaigns[0].effect.\"]')]
               .filter(e => !e.hidden).map(e => e.dataset.field);",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(["campaigns[0].effect.points_multiplier"]));
    let summary = browser.text_of("#campaigns .campaign-row .campaign-summary").await;
    for part in ["баллы ×2", "категории: Кофе", "вт, ср 18:00–16:00", "клиенту 1 раз в день"]
    {
        assert!(summary.contains(part), "{part} in {summary}");
    }
    browser
        .execute("document.querySelector('#campaigns .campaign-row').scrollIntoView({ block: 'start' });", vec![])
        .await;
    browser.screenshot("editor").await;
    browser
        .execute(
            "document.querySelector('#campaigns .campaign-section:nth-of-type(2)').scrollIntoView({ block: 'start' });",
            vec![],
        )
        .await;
    browser.screenshot("editor_2").await;

    // Collapsed, then refused: the card opens again with the sentence under the end's input.
    browser.click_css("#campaigns .campaign-edit").await;
    type_into(browser, "#program-preview .line-price", "1000").await;
    browser.click_css("#run-preview").await;
    let said = browser
        .wait_text("#campaigns [data-field='campaigns[0].schedule.to'] .error", "the refusal at the end's input", |t| {
            !t.is_empty()
        })
        .await;
    assert_eq!(said, "Конец (16:00) должен быть позже начала (18:00); окно через полночь — это две акции.");
    let banner = browser.text_of("#preview-out .notice.error").await;
    assert!(banner.starts_with("Программа не принята. Акция «Двойные баллы на кофе»: Конец (16:00)"), "{banner}");
    assert!(!banner.contains("schedule") && !banner.contains("campaigns["), "no raw paths: {banner}");
    assert_eq!(
        browser.execute("return document.activeElement && document.activeElement.name;", vec![]).await,
        "campaigns[0].schedule.to",
        "the input at fault has the focus"
    );
    browser.screenshot("refused").await;

    // Fixed: Tuesday 16:30 doubles the coffee's points in the draft; the version in force
    // gives the ordinary 5 %.
    type_into(browser, &input(0, "schedule.from"), "16:00").await;
    type_into(browser, &input(0, "schedule.to"), "18:00").await;
    type_into(browser, "#program-preview input[name=balance]", "0").await;
    let tuesday = preview(browser, "Кофе", "1000", "1", "2026-12-01T16:30").await;
    assert_eq!(figures(browser, "Начислено").await, "50 100");
    let draft = browser.text_of("#preview-campaigns tr[data-row=applied] .cmp-draft").await;
    assert_eq!(draft, "Двойные баллы на кофе: +50 баллов", "{tuesday}");
    assert_eq!(browser.text_of("#preview-campaigns tr[data-row=applied] .cmp-current").await, "нет");
    browser.execute("document.getElementById('preview-moment').scrollIntoView({ block: 'start' });", vec![]).await;
    browser.screenshot("preview_tuesday").await;

    // Monday at the same hour: outside its schedule, said in words.
    preview(browser, "Кофе", "1000", "1", "2026-11-30T16:30").await;
    assert_eq!(figures(browser, "Начислено").await, "50 50");
    let why = browser.text_of("#preview-campaigns tr[data-row=skipped] .cmp-draft").await;
    assert_eq!(why, "Двойные баллы на кофе: вне расписания: не тот день или час");
    let moment = browser.text_of("#preview-moment").await;
    assert!(moment.contains("пн") && moment.contains("30 нояб. 2026") && moment.contains("16:30"), "{moment}");
    assert!(moment.contains("Europe/Moscow"), "{moment}");
    browser.execute("document.getElementById('preview-moment').scrollIntoView({ block: 'start' });", vec![]).await;
    browser.screenshot("preview_monday").await;

    // A copy gets its own code and name; deleted after a question.
    browser.click_css("#campaigns .campaign-row[data-row='0'] .campaign-copy").await;
    assert_eq!(
        browser.execute("return document.querySelector(arguments[0]).value;", vec![json!(input(1, "id"))]).await,
        "coffee-x2-2"
    );
    let copy = browser.text_of("#campaigns .campaign-row[data-row='1'] .campaign-title").await;
    assert_eq!(copy, "Двойные баллы на кофе (копия)");
    browser.click_css("#campaigns .campaign-row[data-row='1'] .campaign-delete").await;
    browser.wait_text(".dialog", "the question", |t| t.contains("Удалить акцию?")).await;
    browser.click_css(".dialog .actions button.danger").await;
    browser
        .wait_until("the copy gone", "return !document.querySelector('#campaigns .campaign-row[data-row=\"1\"]');")
        .await;

    // Birthday points, below the campaigns: switched on, their fields appear.
    browser.click_css("#lifecycle input[name=birthday]").await;
    type_into(browser, "#lifecycle input[name='birthday.points']", "200").await;
    type_into(browser, "#lifecycle input[name='birthday.days_before']", "3").await;
    type_into(browser, "#lifecycle input[name='birthday.days_after']", "7").await;

    // The review says it in words: the campaign by its name, days as days, no JSON.
    browser.click_css("#review-changes").await;
    let review =
        browser.wait_text("#review-out", "the diff", |t| t.contains("Акция «Двойные баллы на кофе» — новая")).await;
    for part in ["Расписание · Дни", "вт, ср", "16:00", "Действие · Баллы ×", "суммируется", "день", "1 нояб. 2026"]
    {
        assert!(review.contains(part), "{part} in {review}");
    }
    for raw in ["tue", "points_multiplier", "stack", "[", "\"", "prog_"] {
        assert!(!review.contains(raw), "no {raw:?} in {review}");
    }
    browser.execute("document.getElementById('review-out').scrollIntoView({ block: 'start' });", vec![]).await;
    browser.screenshot("review").await;
    browser.click_css("#publish").await;
    browser.wait_text("#notice", "the published version", |t| t.contains("Версия 2 опубликована")).await;

    // The new version holds the campaign exactly as entered.
    let (_, stored) = cloud.admin_get("/v1/admin/program").await;
    assert_eq!(stored["version"], 2, "{stored}");
    assert_eq!(
        stored["program"]["campaigns"],
        json!([{
            "id": "coffee-x2", "name": "Двойные баллы на кофе", "priority": 10,
            "valid_from": "2026-11-01", "valid_until": "2027-01-31",
            "schedule": { "days": ["tue", "wed"], "from": "16:00", "to": "18:00" },
            "conditions": { "categories": ["Кофе"], "skus": [], "tiers": [], "tags": [], "stores": [],
                            "min_receipt": 0, "first_purchase": false },
            "effect": { "points_multiplier": 2 },
            "stacking": "stack",
            "limit_per_customer": { "count": 1, "period": "day" }
        }])
    );
    assert_eq!(
        stored["program"]["birthday"],
        json!({ "points": 200, "days_before": 3, "days_after": 7, "expiry_days": 0 })
    );
    assert!(stored["program"].get("referral").is_none(), "switched off is absent: {stored}");
    assert!(stored["program"].get("time_zone").is_none(), "the default zone, left out as the server writes it");
    assert_eq!(stored["program"]["accrual_percent"], 5, "nothing else changed");
    let (_, audit) = cloud.admin_get("/v1/admin/audit?action=program.publish").await;
    assert_eq!(audit["entries"][0]["who"], OWNER);

    // A stamp card: 4 stamps held and one latte make the card full; two, and the second is free.
    browser.wait_text("#program-version", "the new version in force", |t| t.contains("версия 2")).await;
    browser.click_css("#add-campaign").await;
    type_into(browser, &input(1, "name"), "Каждый шестой латте").await;
    type_into(browser, &input(1, "id"), "latte-card").await;
    set_value(browser, &input(1, "effect"), "stamp_card").await;
    type_into(browser, &input(1, "effect.stamp_card.stamps_for_reward"), "5").await;
    type_into(browser, &input(1, "conditions.categories"), "Латте").await;
    let latte = browser.text_of("#campaigns .campaign-row[data-row='1'] .campaign-summary").await;
    assert!(latte.contains("карта штампов: 5") && latte.contains("категории: Латте"), "{latte}");
    assert!(!latte.contains("null") && !latte.contains("Лимиты"), "no limits line without limits: {latte}");
    let stamps = "#preview-stamps input[name='preview_stamps[1]']";
    browser.wait_text("#preview-stamps", "the card's stamps field", |t| t.contains("Каждый шестой латте")).await;
    type_into(browser, stamps, "4").await;
    type_into(browser, "#program-preview input[name=balance]", "").await;
    preview(browser, "Латте", "150", "1", "2026-12-03T09:00").await;
    let full = browser.text_of("#preview-campaigns tr[data-row=applied] .cmp-draft").await;
    assert_eq!(full, "Каждый шестой латте: +1 штамп, штампов: 5 из 5 — следующий бесплатно");
    preview(browser, "Латте", "150", "2", "2026-12-03T09:00").await;
    let free = browser.text_of("#preview-campaigns tr[data-row=applied] .cmp-draft").await;
    assert_eq!(free, "Каждый шестой латте: −150,00 ₽, бесплатно: 1 шт., +1 штамп, штампов: 0 из 5");
    assert_eq!(figures(browser, "К оплате").await, "300,00 ₽ 150,00 ₽");
    browser.execute("document.getElementById('preview-out').scrollIntoView({ block: 'end' });", vec![]).await;
    browser.screenshot("stamps").await;

    // Tiers come from the draft as its form has them: a new tier is offered to the campaign
    // and to the sample customer.
    browser.click_css("#add-tier").await;
    type_into(browser, "#tiers input[name='tiers[0].name']", "Золото").await;
    type_into(browser, "#tiers input[name='tiers[0].threshold']", "5000").await;
    browser.click_css("#campaigns [data-field='campaigns[1].conditions.tiers'] input[value='Золото']").await;
    preview(browser, "Латте", "150", "1", "2026-12-03T09:00").await;
    let why = browser.text_of("#preview-campaigns tr[data-row=skipped] .cmp-draft").await;
    assert_eq!(why, "Каждый шестой латте: не тот уровень клиента");
    set_value(browser, "#program-preview select[name=preview_tier]", "Золото").await;
    preview(browser, "Латте", "150", "1", "2026-12-03T09:00").await;
    assert_eq!(figures(browser, "Уровень").await, "— Золото");
    let gold = browser.text_of("#preview-campaigns tr[data-row=applied] .cmp-draft").await;
    assert!(gold.starts_with("Каждый шестой латте: +1 штамп"), "{gold}");

    // In English: the same editor and preview in the page's words.
    browser.execute("localStorage.setItem('loyalty.console.lang', 'en'); location.reload();", vec![]).await;
    browser.find("#nav-list a").await;
    open(browser, "#/program").await;
    let card =
        browser.wait_text("#campaigns .campaign-row", "the campaign", |t| t.contains("Двойные баллы на кофе")).await;
    for part in ["points ×2", "categories: Кофе", "Tue, Wed 16:00–18:00", "1 a day per customer"] {
        assert!(card.contains(part), "{part} in {card}");
    }
    browser.click_css("#campaigns .campaign-row[data-row='0'] .campaign-edit").await;
    browser
        .execute("document.querySelector('#campaigns .campaign-row').scrollIntoView({ block: 'start' });", vec![])
        .await;
    browser.screenshot("editor_en").await;
    type_into(browser, "#program-preview input[name=balance]", "0").await;
    preview(browser, "Кофе", "1000", "1", "2026-11-30T16:30").await;
    let why = browser.text_of("#preview-campaigns tr[data-row=skipped] .cmp-current").await;
    assert_eq!(why, "Двойные баллы на кофе: outside its schedule: another day or hour");
    browser.execute("document.getElementById('preview-moment').scrollIntoView({ block: 'start' });", vec![]).await;
    browser.screenshot("preview_en").await;
    let page: Value = browser.execute("return document.querySelector('.view').innerText;", vec![]).await;
    let page = page.as_str().unwrap_or_default();
    for raw in ["why_", "campaign_", "undefined", "null", "[object", "NaN"] {
        assert!(!page.contains(raw), "no {raw:?} on the page");
    }
    browser.execute("localStorage.removeItem('loyalty.console.lang');", vec![]).await;
}
