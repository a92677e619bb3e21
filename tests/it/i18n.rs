//! Messages in the reader's language (issue 9, point 11): the agent and the cloud answer an
//! error's `message` in Russian or English by `Accept-Language`, with the same `code`, and the
//! sign-up form's answer too; the pages ask in the language they show.

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud, ADMIN};
use crate::cloud_test;
use crate::support::{Agent, TOKEN};
use crate::webdriver::{self, Browser};

const RUSSIAN: &str = "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7";

/// An answer: status, body and the `Content-Language` and `Vary` headers.
struct Answer {
    status: u16,
    body: Value,
    content_language: String,
    vary: String,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

async fn answer(request: reqwest::RequestBuilder, language: Option<&str>) -> Answer {
    let request = match language {
        Some(language) => request.header("Accept-Language", language),
        None => request,
    };
    let response = request.send().await.expect("HTTP request");
    let header = |name: &str| {
        response.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", ")
    };
    let (content_language, vary) = (header("content-language"), header("vary"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), content_language, vary }
}

fn is_russian(text: &str) -> bool {
    text.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_answers_errors_in_the_readers_language() {
    let agent = Agent::start().await;
    let client = agent.client().clone();
    let enroll =
        |phone: &str| client.post(agent.url("/v1/customers")).bearer_auth(TOKEN).json(&json!({ "phone": phone }));

    // A bad phone: the same code, the sentence in the asked language, the value kept.
    let ru = answer(enroll("12ab"), Some(RUSSIAN)).await;
    assert_eq!((ru.status, ru.code()), (422, "invalid_phone"), "{}", ru.body);
    assert_eq!(ru.message(), "«12ab» — не номер телефона: в нём есть знаки, которых в номере телефона не бывает.");
    assert_eq!(ru.content_language, "ru");
    assert!(ru.vary.to_ascii_lowercase().contains("accept-language"), "{}", ru.vary);
    let en = answer(enroll("12ab"), Some("en")).await;
    assert_eq!((en.status, en.code()), (422, "invalid_phone"));
    assert!(en.message().starts_with("\"12ab\" is not a valid phone number"), "{}", en.message());
    assert_eq!(en.content_language, "en");
    // No header, a language we do not have, or Russian ruled out: English.
    for language in [None, Some("de-DE,de;q=0.9"), Some("ru;q=0, en;q=0.1"), Some("*")] {
        let other = answer(enroll("12ab"), language).await;
        assert_eq!(other.message(), en.message(), "{language:?}");
    }
    // Quality values decide, not the order.
    assert_eq!(answer(enroll("12ab"), Some("en;q=0.4, ru;q=0.8")).await.message(), ru.message());

    // The customer who holds a phone is named in Russian too.
    let ivan = agent.enroll("+79991112233", "Иван Петров").await;
    let taken = answer(enroll("8 999 111-22-33"), Some("ru")).await;
    assert_eq!((taken.status, taken.code()), (409, "phone_taken"));
    let expected = format!(
        "Этот телефон уже принадлежит клиенту Иван Петров (карта {}); откройте его карточку.",
        ivan["card"].as_str().unwrap()
    );
    assert_eq!(taken.message(), expected);
    // The holder's id is for programs: in the answer's details, not in the sentence.
    assert_eq!(taken.body["error"]["details"]["customer"], ivan["id"], "{}", taken.body);
    assert_eq!(taken.body["error"]["details"]["card"], ivan["card"], "{}", taken.body);

    // A rule's figures: at most 171 points on a 250.00 receipt that must keep 79.00 paid.
    agent.give_points(ivan["id"].as_str().unwrap(), 1000).await;
    let quote = |redeem: i64| {
        client.post(agent.url("/v1/receipts/calculate")).bearer_auth(TOKEN).json(&json!({
            "customer": { "phone": "89991112233" }, "redeem": redeem,
            "lines": [{ "sku": "coffee", "quantity": "1", "price": 25000 }]
        }))
    };
    let en_limit = answer(quote(900), None).await;
    assert_eq!(en_limit.code(), "redeem_limit", "{}", en_limit.body);
    let max = en_limit.message().split_whitespace().nth(2).unwrap().to_owned();
    let ru_limit = answer(quote(900), Some("ru")).await;
    assert_eq!(ru_limit.code(), "redeem_limit");
    assert!(
        ru_limit.message().starts_with(&format!("На этот чек можно списать не больше {max} баллов (")),
        "{}",
        ru_limit.message()
    );
    assert!(ru_limit.message().ends_with("а запрошено 900."), "{}", ru_limit.message());

    // The guards and the fallbacks answer in Russian as well.
    let no_token = answer(client.get(agent.url("/v1/customers/search?q=1234")), Some("ru")).await;
    assert_eq!((no_token.status, no_token.code()), (401, "unauthorized"));
    assert!(no_token.message().starts_with("Отправьте токен агента"), "{}", no_token.message());
    let nowhere = answer(client.get(agent.url("/v1/nowhere")).bearer_auth(TOKEN), Some("ru")).await;
    assert_eq!((nowhere.status, nowhere.code()), (404, "no_such_endpoint"));
    assert_eq!(nowhere.message(), "Такого адреса нет; список адресов API — в /openapi.json.");
    let broken = client.post(agent.url("/v1/customers")).bearer_auth(TOKEN).header("content-type", "application/json");
    let broken = answer(broken.body("{\"phone\": "), Some("ru")).await;
    assert_eq!((broken.status, broken.code()), (400, "malformed_json"));
    assert!(
        broken.message().starts_with("Тело запроса — некорректный JSON (строка 1, позиция "),
        "{}",
        broken.message()
    );
    let missing =
        answer(client.post(agent.url("/v1/receipts/calculate")).bearer_auth(TOKEN).json(&json!({})), Some("ru")).await;
    assert_eq!((missing.status, missing.code()), (422, "invalid_field"));
    assert!(missing.message().starts_with("В теле запроса нет обязательного поля «"), "{}", missing.message());

    // Success answers are left alone, and a Russian error never mixes in English words.
    let found = answer(client.get(agent.url("/v1/customers/search?q=2233")).bearer_auth(TOKEN), Some("ru")).await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["customers"][0]["name"], "Иван Петров");
    for message in [ru.message(), taken.message(), ru_limit.message(), nowhere.message(), missing.message()] {
        assert!(is_russian(message), "{message}");
    }
}

cloud_test!(the_cloud_and_its_signup_form_answer_in_the_readers_language, cloud_scenario);
async fn cloud_scenario(backend: Backend) {
    let cloud = Cloud::start_with(backend, &[("LOYALTY_CLOUD_TRUST_FORWARDED_FOR", "true")]).await;
    let client = reqwest::Client::new();
    let signup = |ip: &str, body: Value| client.post(cloud.url("/v1/signup")).header("X-Forwarded-For", ip).json(&body);

    let ru = answer(
        signup("203.0.113.70", json!({ "phone": "+79997007001", "consents": { "personal_data": true } })),
        Some(RUSSIAN),
    )
    .await;
    assert_eq!(ru.status, 202, "{}", ru.body);
    assert_eq!(ru.body["status"], "received");
    assert_eq!(ru.body["message"], "Спасибо! Номер карты скоро придёт вам в SMS или на почту.");
    let en = answer(
        signup("203.0.113.71", json!({ "phone": "+79997007002", "consents": { "personal_data": true } })),
        Some("en-GB"),
    )
    .await;
    assert_eq!(en.body["message"], "Thank you! Your loyalty card is on its way.");
    let none =
        answer(signup("203.0.113.72", json!({ "phone": "+79997007003", "consents": { "personal_data": true } })), None)
            .await;
    assert_eq!(none.body["message"], "Thank you! Your loyalty card is on its way.");

    let bad = answer(signup("203.0.113.73", json!({ "phone": "12" })), Some("ru")).await;
    assert_eq!((bad.status, bad.code()), (422, "invalid_phone"), "{}", bad.body);
    assert!(bad.message().starts_with("«12» — не номер телефона: "), "{}", bad.message());
    let birthday =
        answer(signup("203.0.113.74", json!({ "phone": "+79997007004", "birthday": "31.12.1990" })), Some("ru")).await;
    assert_eq!((birthday.status, birthday.code()), (422, "invalid_birthday"));
    assert_eq!(birthday.message(), "День рождения нужно указать датой в виде ГГГГ-ММ-ДД, например 1990-05-17.");

    // The back office's errors too, with their figures.
    let admin = answer(client.get(cloud.url("/v1/admin/tills")), Some("ru")).await;
    assert_eq!((admin.status, admin.code()), (401, "unauthorized"));
    assert!(admin.message().starts_with("Отправьте токен администратора"), "{}", admin.message());
    let long_name = client
        .post(cloud.url("/v1/admin/tills"))
        .bearer_auth(ADMIN)
        .json(&json!({ "store": "Main street", "name": "x".repeat(201) }));
    let long_name = answer(long_name, Some("ru")).await;
    assert_eq!((long_name.status, long_name.code()), (422, "invalid_field"));
    assert_eq!(long_name.message(), "Название кассы: от 1 до 200 символов текста.");
    let unknown = client.get(cloud.url("/v1/admin/customers/no-such-id")).bearer_auth(ADMIN);
    let unknown = answer(unknown, Some("ru")).await;
    assert_eq!((unknown.status, unknown.code()), (404, "customer_not_found"));
    assert_eq!(unknown.message(), "Клиент no-such-id не найден; проверьте идентификатор.");
    let english = answer(client.get(cloud.url("/v1/admin/customers/no-such-id")).bearer_auth(ADMIN), None).await;
    assert_eq!(english.message(), "customer no-such-id not found; check the identifier");
}

/// The sign-up page in a browser: its answers come in the language it shows, and follow the
/// language button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signup_page_asks_for_the_language_it_shows() {
    if webdriver::available().is_none() {
        return;
    }
    let browser = Browser::start("signup_language", "ru-RU").await;
    let cloud = Cloud::start(Backend::Sqlite).await;
    browser.goto(&cloud.url("/signup")).await;
    assert_eq!(browser.text_of("h1").await, "Карта лояльности");
    browser.send_keys(&browser.find("#phone").await, "12").await;
    browser.click_css("#consent-data").await;
    browser.click_css("#submit").await;
    let said = browser.wait_text("#answer", "the Russian refusal", |t| t.contains("не номер телефона")).await;
    assert!(said.starts_with("«12» — не номер телефона: "), "{said}");

    browser.click_css("#lang").await;
    assert_eq!(browser.text_of("h1").await, "Loyalty card");
    browser.click_css("#submit").await;
    let said = browser.wait_text("#answer", "the English refusal", |t| t.contains("not a valid phone number")).await;
    assert!(said.starts_with("\"12\" is not a valid phone number"), "{said}");

    browser.click_css("#lang").await;
    let phone = browser.find("#phone").await;
    browser.clear(&phone).await;
    browser.send_keys(&phone, "8 999 700-88-01").await;
    browser.click_css("#submit").await;
    let said = browser.wait_text("#answer", "the Russian thanks", |t| t.starts_with("Спасибо")).await;
    assert_eq!(said, "Спасибо! Номер карты скоро придёт вам в SMS или на почту.");
    browser.screenshot("thanks-ru").await;
}

/// A promo code's refusal is for the cashier: the check's answer and the calculation's error
/// both come in Russian with the figures, money written the Russian way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promo_code_answers_follow_the_language() {
    let program = "[[promo_codes]]\ncode = \"SPRING\"\nkind = \"percent\"\nvalue = 10\nmin_receipt = 100000\n";
    let agent = Agent::start_with_program(program).await;
    let client = agent.client().clone();
    let receipt = json!({ "lines": [{ "sku": "coffee", "quantity": "1", "price": 25000 }] });
    let check = |code: &str| {
        client
            .post(agent.url("/v1/promo-codes/check"))
            .bearer_auth(TOKEN)
            .json(&json!({ "code": code, "receipt": receipt }))
    };
    let ru = answer(check("spring"), Some("ru")).await;
    assert_eq!(
        (ru.status, &ru.body["valid"], &ru.body["reason"]),
        (200, &json!(false), &json!("min_receipt")),
        "{}",
        ru.body
    );
    assert_eq!(
        ru.body["message"],
        "Промокод «SPRING» действует на чек от 1\u{202f}000,00\u{a0}₽, а этот чек на 250,00\u{a0}₽."
    );
    let en = answer(check("spring"), Some("en")).await;
    assert_eq!(en.body["reason"], "min_receipt");
    assert!(en.body["message"].as_str().unwrap().contains("1000.00"), "{}", en.body);
    let unknown = answer(check("NOPE"), Some("ru")).await;
    assert_eq!(unknown.body["message"], "Промокод «NOPE» нельзя применить: такого промокода нет.");

    let calculate = client.post(agent.url("/v1/receipts/calculate")).bearer_auth(TOKEN).json(&json!({
        "lines": [{ "sku": "coffee", "quantity": "1", "price": 25000 }], "promo_codes": ["SPRING"]
    }));
    let refused = answer(calculate, Some("ru")).await;
    assert_eq!((refused.status, refused.code()), (422, "promo_rejected"), "{}", refused.body);
    assert_eq!(refused.message(), ru.body["message"].as_str().unwrap());
}

// The back office's own sentences that are not errors follow the reader's language too: a
// conflict's account, an imported line's rejection, a refused program's check (naming the
// field it is about); English without the header, as before.
cloud_test!(the_back_offices_sentences_follow_the_language, sentences_scenario);
async fn sentences_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let client = reqwest::Client::new();
    let admin = |request: reqwest::RequestBuilder| request.bearer_auth(ADMIN);

    // Two offline tills spend the same 100 points: an overdraft.
    let (a, b) = (cloud.till("Till A").await, cloud.till("Till B").await);
    let customer = cloud.customer("+79994445566").await;
    let id = customer["id"].as_str().unwrap();
    let gift = json!({ "id": "gift", "points": 100, "reason": "gift" });
    cloud.admin_post(&format!("/v1/admin/customers/{id}/adjustments"), gift).await;
    cloud.push_expect(&a, vec![crate::cloud_support::sale(1, "a-1", id, 10000, 80, 1)], &["applied"]).await;
    cloud.push_expect(&b, vec![crate::cloud_support::sale(1, "b-1", id, 10000, 80, 1)], &["applied"]).await;
    let ru = answer(admin(client.get(cloud.url("/v1/admin/conflicts"))), Some(RUSSIAN)).await;
    let conflict = &ru.body["conflicts"][0];
    assert_eq!(conflict["kind"], "overdraft", "{}", ru.body);
    let (happened, done) = (conflict["what_happened"].as_str().unwrap(), conflict["what_was_done"].as_str().unwrap());
    assert!(happened.starts_with("Чек b-1: списано баллов — 80") && happened.contains("доступно 21"), "{happened}");
    assert!(done.contains("долг в баллах — 59"), "{done}");
    assert!(conflict["details"].get("said").is_none(), "the codes stay inside: {conflict}");
    assert_eq!(conflict["details"]["shortfall"], 59, "{conflict}");
    let en = answer(admin(client.get(cloud.url("/v1/admin/conflicts"))), None).await;
    assert!(en.body["conflicts"][0]["what_happened"].as_str().unwrap().starts_with("receipt b-1 spent 80 points"));

    // A customers file: a bad phone, a phone given twice, a bad email.
    let csv = "phone,name,email\nnot a phone,Кто-то,\n+79993000002,Глеб,\n+79993000002,Дубль,\n+79993000003,Ира,ira@\n";
    let import = || {
        admin(client.post(cloud.url("/v1/admin/customers/import")))
            .header("content-type", "text/csv")
            .body(csv.to_owned())
    };
    let ru = answer(import(), Some(RUSSIAN)).await;
    assert_eq!(ru.status, 200, "{}", ru.body);
    let reasons: Vec<(u64, &str)> = ru.body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(reasons.len(), 3, "{}", ru.body);
    assert!(reasons[0].1.starts_with("«not a phone» — не номер телефона"), "{reasons:?}");
    assert_eq!(reasons[1], (4, "Этот телефон уже принадлежит другому клиенту."), "{reasons:?}");
    assert_eq!(reasons[2], (5, "«ira@» — не адрес электронной почты."), "{reasons:?}");
    let en = answer(import(), None).await;
    let reason = en.body["rejected"][1]["reason"].as_str().unwrap_or_default();
    assert_eq!(reason, "phone already belongs to another customer", "{}", en.body);

    // A program with two tiers of one name, and one with an accrual over 100 %.
    let (_, current) = cloud.admin_get("/v1/admin/program").await;
    let mut twice = current["program"].clone();
    twice["tiers"] = json!([{ "name": "Gold", "threshold": 1000 }, { "name": "gold", "threshold": 2000 }]);
    let put = |program: &Value| admin(client.put(cloud.url("/v1/admin/program"))).json(program);
    let ru = answer(put(&twice), Some(RUSSIAN)).await;
    assert_eq!((ru.status, ru.code()), (422, "invalid_program"), "{}", ru.body);
    assert_eq!(ru.message(), "Программа не принята: название уровня «Gold» встречается дважды.");
    assert_eq!(ru.body["error"]["details"]["field"], "tiers[0].name", "{}", ru.body);
    let mut high = current["program"].clone();
    high["accrual_percent"] = json!(150);
    let ru = answer(put(&high), Some(RUSSIAN)).await;
    assert_eq!(ru.message(), "Программа не принята: значение «Начисление, %» должно быть от 0 до 100, а указано 150.");
    assert_eq!(ru.body["error"]["details"]["field"], "accrual_percent");
    let en = answer(put(&high), None).await;
    assert_eq!(en.message(), "accrual_percent must be between 0 and 100, not 150.");
}
