//! The MoySklad adapter replayed as MoySklad would call it, against the real cloud (SQLite and
//! PostgreSQL) and the real agent: a whole session with the documentation's example bodies
//! (`tests/moysklad/*.json`), then wrong keys, unknown customers, malformed bodies and nulls.
//!
//! The base address ends in `/`, as stores type it, so every call goes to `…/v1//path`.

use std::io::Write;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::support::Agent;

pub const CREATE: &str = include_str!("../moysklad/counterparty_create.json");
pub const DETAIL: &str = include_str!("../moysklad/counterparty_detail.json");
pub const VERIFY_REGISTRATION: &str = include_str!("../moysklad/counterparty_verify.json");
pub const RECALC: &str = include_str!("../moysklad/retaildemand_recalc.json");
pub const VERIFY_SPENDING: &str = include_str!("../moysklad/retaildemand_verify.json");
pub const SALE: &str = include_str!("../moysklad/retaildemand.json");
pub const RETURN: &str = include_str!("../moysklad/retailsalesreturn.json");

/// MoySklad's counterparty id in the documentation's examples.
pub const MS_IVAN: &str = "276a6f50-7ffd-11e6-8a84-bae50000005";
/// The point of sale in the examples.
pub const STORE_ID: &str = "2b5eb22f-139e-11e6-9464-e4de00000073";
/// The product of the examples.
pub const PRODUCT: &str = "9c56720c-e8a7-4fdc-aea4-7104f28207be";

/// A fixture with some fields replaced (`/agent/phone` → value).
pub fn fixture(text: &str, changes: &[(&str, Value)]) -> Value {
    let mut value: Value = serde_json::from_str(text).expect("fixtures are JSON");
    for (pointer, new) in changes {
        *value.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer} in the fixture")) = new.clone();
    }
    value
}

/// One answer: status, parsed body (or the text as a string), and the raw text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Asserts the protocol's error body with this status and code.
    pub fn error(&self, status: u16, code: i64) -> &Value {
        assert_eq!(self.status, status, "expected {status} {code}: {}", self.text);
        let error = &self.body["errors"][0];
        assert_eq!(error["code"], code, "{}", self.text);
        assert!(error["error"].as_str().is_some_and(|t| !t.is_empty()), "{}", self.text);
        assert!(error["error_message"].as_str().is_some_and(|t| t.len() > 10), "{}", self.text);
        error
    }

    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }
}

/// MoySklad's side: a base address ending in `/`, a key, and requests shaped like MoySklad's.
pub struct MoySklad {
    pub base: String,
    pub key: String,
    pub client: reqwest::Client,
}

impl MoySklad {
    /// `server` is `http://host:port`; the store types `…/moysklad/v1/` as the program address.
    pub fn new(server: &str, key: &str) -> MoySklad {
        MoySklad {
            base: format!("{server}/moysklad/v1/"),
            key: key.to_owned(),
            client: reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().expect("client"),
        }
    }

    pub fn with_key(&self, key: &str) -> MoySklad {
        MoySklad { base: self.base.clone(), key: key.to_owned(), client: self.client.clone() }
    }

    /// Sends `body` to `path` (which starts with `/`, so the URL has `//`). Like MoySklad, every
    /// request carries `Content-Type: application/json`, GETs included (with no body).
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>, gzip: bool) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("Lognex-Discount-API-Auth-Token", &self.key);
        if let Some(body) = body {
            let body = if gzip {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(&body).expect("gzip");
                request = request.header("Content-Encoding", "gzip");
                encoder.finish().expect("gzip")
            } else {
                body
            };
            request = request.body(body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Reply { status, body, text }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body.to_string().into_bytes()), false).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None, false).await
    }
}

/// Where the native side of the checks is read: the cloud's admin API or the agent's own API.
pub enum Native<'a> {
    Cloud { cloud: &'a Cloud, till_id: String },
    Agent(&'a Agent),
}

impl Native<'_> {
    /// Enrolls a customer natively (no MoySklad link); answers their id.
    pub async fn enroll(&self, phone: &str) -> String {
        let customer = match self {
            Native::Cloud { cloud, .. } => cloud.customer(phone).await,
            Native::Agent(agent) => agent.enroll(phone, "Пётр Сидоров").await,
        };
        customer["id"].as_str().expect("id").to_owned()
    }

    pub async fn give_points(&self, customer_id: &str, points: i64) {
        match self {
            Native::Cloud { cloud, .. } => {
                let body = json!({ "id": format!("adj-{}", uuid::Uuid::new_v4()), "points": points, "reason": "test" });
                let (status, answer) =
                    cloud.admin_post(&format!("/v1/admin/customers/{customer_id}/adjustments"), body).await;
                assert_eq!(status, 201, "{answer}");
            }
            Native::Agent(agent) => agent.give_points(customer_id, points).await,
        }
    }

    /// The customer as the native API shows them.
    pub async fn customer(&self, customer_id: &str) -> Value {
        let (status, body) = match self {
            Native::Cloud { cloud, .. } => cloud.admin_get(&format!("/v1/admin/customers/{customer_id}")).await,
            Native::Agent(agent) => agent.get(&format!("/v1/customers/{customer_id}")).await,
        };
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `POST` a gift card request (`""` issues, `"{id}/void"` voids): status and body.
    pub async fn gift_cards_post(&self, path: &str, body: Value) -> (u16, Value) {
        match self {
            Native::Cloud { cloud, .. } => cloud.admin_post(&format!("/v1/admin/gift-cards{path}"), body).await,
            Native::Agent(agent) => agent.post(&format!("/v1/gift-cards{path}"), body).await,
        }
    }

    /// Issues a gift card of `amount` kopecks, numbered `number` if given.
    pub async fn issue_gift_card(&self, number: Option<&str>, amount: i64) -> Value {
        let (status, card) = self.gift_cards_post("", json!({ "number": number, "amount": amount })).await;
        assert_eq!(status, 201, "{card}");
        card
    }

    /// A gift card (by id or number) as the native API shows it, with its payments.
    pub async fn gift_card(&self, key: &str) -> Value {
        let path = format!("gift-cards/{}", crate::cloud_support::urlencode(key));
        let (status, body) = match self {
            Native::Cloud { cloud, .. } => cloud.admin_get(&format!("/v1/admin/{path}")).await,
            Native::Agent(agent) => agent.get(&format!("/v1/{path}")).await,
        };
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A receipt as the native API shows it: `{receipt, returns}` (the cloud adds more).
    pub async fn receipt(&self, receipt_id: &str) -> Value {
        let encoded = crate::cloud_support::urlencode(receipt_id);
        let (status, body) = match self {
            Native::Cloud { cloud, till_id } => {
                cloud.admin_get(&format!("/v1/admin/receipts/{till_id}/{encoded}")).await
            }
            Native::Agent(agent) => agent.get(&format!("/v1/receipts/{encoded}")).await,
        };
        assert_eq!(status, 200, "receipt {receipt_id}: {body}");
        body
    }
}

/// The receipt id the adapter derives for a document without `meta.id` (see `crate::moysklad`).
pub fn derived_key(store: &str, name: &str, moment: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{store}\n{name}\n{moment}")));
    format!("moysklad:n:{}", &digest[..32])
}

/// A position of `quantity` × `price` of one product.
pub fn position(product: &str, quantity: Value, price: Value) -> Value {
    json!({ "assortment": { "meta": { "href": format!("https://api.moysklad.ru/api/remap/1.2/entity/product/{product}"),
                                      "id": product, "idType": "native", "type": "product" } },
            "quantity": quantity, "price": price })
}

/// The 250 / 171 / 79 screen: a recalc of one 250.00 position, spending.
pub fn seed_recalc(ms_id: &str, extra: &[(&str, Value)]) -> Value {
    let mut body = fixture(
        RECALC,
        &[
            ("/agent/meta/id", json!(ms_id)),
            ("/positions", json!([position("coffee", json!(1), json!(250.00))])),
            ("/bonusProgram/transactionType", json!("SPENDING")),
        ],
    );
    for (key, value) in extra {
        body[*key] = value.clone();
    }
    body
}

/// The whole session, on any server.
pub async fn session(ms: &MoySklad, native: &Native<'_>) {
    // Wrong and missing keys get the protocol's error body.
    ms.with_key("wrong").get("/counterparty?search=9991234567&retailStoreId=x").await.error(401, 40100);
    ms.with_key("").post("/retaildemand/recalc", &json!({})).await.error(401, 40100);

    // Create the documentation's counterparty with a phone of ours; its card number is not
    // digits, so the customer gets a card of ours. A repeat changes nothing.
    let create = fixture(CREATE, &[("/phone", json!("+7 (999) 123-45-67"))]);
    let created = ms.post("/counterparty", &create).await;
    assert_eq!((created.status, created.text.as_str()), (201, ""), "{created:?}");
    assert_eq!(ms.post("/counterparty", &create).await.status, 201);

    // Search by phone as the doc's example (10 digits, no +7), by card, by QR text.
    let rows = ms.get(&format!("/counterparty?search=9991234567&retailStoreId={STORE_ID}")).await;
    let row = rows.ok(200)["rows"][0].clone();
    assert_eq!(rows.body["rows"].as_array().map(Vec::len), Some(1), "{}", rows.text);
    let id = row["id"].as_str().expect("id").to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "id must be a GUID: {row}");
    assert_eq!(row["msId"], MS_IVAN);
    assert_eq!(row["name"], "Иванов Иван Иванович");
    assert_eq!(row["phone"], "+79991234567");
    assert_eq!(row["birthDate"], "2023-07-14 00:00:00");
    let card = row["discountCardNumber"].as_str().expect("card").to_owned();
    assert!(card.bytes().all(|b| b.is_ascii_digit()) && card.len() == 13, "{row}");
    for query in [card.clone(), format!("loyalty:card:{card}"), "+7 999 123-45-67".to_owned()] {
        let found = ms
            .get(&format!("/counterparty?search={}&retailStoreId={STORE_ID}", crate::cloud_support::urlencode(&query)))
            .await;
        assert_eq!(found.ok(200)["rows"][0]["id"], id.as_str(), "{query}: {}", found.text);
    }
    assert_eq!(ms.get("/counterparty?search=70000000000").await.ok(200)["rows"], json!([]));
    assert_eq!(ms.get("/counterparty").await.ok(200)["rows"], json!([]));

    // Balance by MoySklad's id only.
    native.give_points(&id, 171).await;
    let only_id = json!({ "retailStore": { "meta": { "id": STORE_ID } }, "meta": { "href": "h", "id": MS_IVAN } });
    assert_eq!(
        ms.post("/counterparty/detail", &only_id).await.ok(200),
        &json!({ "bonusProgram": { "agentBonusBalance": 171 } })
    );
    assert_eq!(
        ms.post("/counterparty/detail", &fixture(DETAIL, &[])).await.ok(200)["bonusProgram"]["agentBonusBalance"],
        171
    );
    let stranger = fixture(
        DETAIL,
        &[("/meta/id", json!("00000000-0000-0000-0000-000000000000")), ("/phone", json!("+79990000000"))],
    );
    ms.post("/counterparty/detail", &stranger).await.error(404, 40400);

    // Recalc, earning: the documentation's receipt, every position back with its discount,
    // serials and packaging echoed. 123.456 × 123.45 = 15240.64; 5 % of it is 762 points.
    let earning = ms.post("/retaildemand/recalc", &fixture(RECALC, &[])).await;
    let answer = earning.ok(200);
    let first = &answer["positions"][0];
    assert_eq!(answer["positions"].as_array().map(Vec::len), Some(1), "{}", earning.text);
    assert_eq!((first["quantity"].clone(), first["price"].clone()), (json!(123.456), json!(123.45)));
    assert_eq!((first["discountPercent"].clone(), first["discountedPrice"].clone()), (json!(0.0), json!(123.45)));
    assert_eq!(first["sn"][0]["name"], "7895545");
    assert_eq!(first["pack"]["barcode"], "2000000051420");
    assert_eq!(first["assortment"]["meta"]["id"], PRODUCT);
    assert_eq!(answer["agent"]["meta"]["id"], MS_IVAN);
    assert_eq!(
        answer["bonusProgram"],
        json!({ "transactionType": "EARNING", "agentBonusBalance": 171, "bonusValueToSpend": 0, "bonusValueToEarn": 762,
                "agentBonusBalanceAfter": 933, "paidByBonusPoints": 0.0,
                "receiptExtraInfo": "Начислено баллов: 762\nБаланс баллов: 933" })
    );
    assert_eq!(answer["needVerification"], false);
    assert!(earning.text.contains(r#""discountPercent":0.00,"discountedPrice":123.45"#), "{}", earning.text);

    // Recalc, spending: the seed's screen. 250.00, 171 points → 171.00 off, 79.00 to pay.
    let spending = ms.post("/retaildemand/recalc", &seed_recalc(MS_IVAN, &[])).await;
    let answer = spending.ok(200);
    assert_eq!(answer["positions"][0]["discountedPrice"], json!(79.0));
    assert_eq!(answer["positions"][0]["discountPercent"], json!(68.4));
    assert!(
        spending.text.contains(r#""price":250.00,"discountPercent":68.40,"discountedPrice":79.00"#),
        "{}",
        spending.text
    );
    assert!(spending.text.contains(r#""paidByBonusPoints":171.00"#), "{}", spending.text);
    let bonus = &answer["bonusProgram"];
    assert_eq!((bonus["bonusValueToSpend"].as_i64(), bonus["bonusValueToEarn"].as_i64()), (Some(171), Some(3)));
    assert_eq!((bonus["agentBonusBalance"].as_i64(), bonus["agentBonusBalanceAfter"].as_i64()), (Some(171), Some(3)));
    // preferredBonusToSpend: top level, inside bonusProgram, clamped to the maximum, null = max.
    let cases = [
        (vec![("preferredBonusToSpend", json!(100))], 100),
        (vec![("preferredBonusToSpend", json!(5000))], 171),
        (vec![("preferredBonusToSpend", Value::Null)], 171),
        (vec![("preferredBonusToSpend", json!(0))], 0),
        (vec![("bonusProgram", json!({ "transactionType": "SPENDING", "preferredBonusToSpend": 50 }))], 50),
    ];
    for (extra, expected) in cases {
        let answer = ms.post("/retaildemand/recalc", &seed_recalc(MS_IVAN, &extra)).await;
        assert_eq!(answer.ok(200)["bonusProgram"]["bonusValueToSpend"], expected, "{extra:?}: {}", answer.text);
    }
    // A line one 2-decimal price cannot carry is split: 3 × 100.00 with 100 points off must
    // cost 200.00 = 1 × 66.66 + 2 × 66.67, the serials following their units.
    let serials: Vec<Value> =
        (1..=3).map(|n| json!({ "meta": { "id": format!("sn-{n}") }, "name": format!("SN{n}") })).collect();
    let mut three = position("mug", json!(3), json!(100.00));
    three["sn"] = json!(serials);
    let split = ms
        .post(
            "/retaildemand/recalc",
            &seed_recalc(MS_IVAN, &[("positions", json!([three])), ("preferredBonusToSpend", json!(100))]),
        )
        .await;
    let parts = split.ok(200)["positions"].as_array().cloned().unwrap_or_default();
    let shape: Vec<(Value, Value, usize)> = parts
        .iter()
        .map(|p| (p["quantity"].clone(), p["discountedPrice"].clone(), p["sn"].as_array().map_or(0, Vec::len)))
        .collect();
    assert_eq!(shape, vec![(json!(1), json!(66.66), 1), (json!(2), json!(66.67), 2)], "{}", split.text);
    assert_eq!(parts[0]["sn"][0]["name"], "SN1");
    // Recalc changes no balance.
    assert_eq!(ms.post("/counterparty/detail", &only_id).await.ok(200)["bonusProgram"]["agentBonusBalance"], 171);

    // The sale of the seed's receipt, with an id: spends 171, earns 3. Sent twice, counted once;
    // the same id with other contents is a conflict.
    let sale_a = json!({
        "retailStore": { "meta": { "href": "h", "id": STORE_ID }, "name": "Магазин №1" },
        "name": "00042", "moment": "2026-11-20 10:00:00",
        "meta": { "href": "https://api.moysklad.ru/api/remap/1.2/entity/retaildemand/5a1e0000-0000-4000-8000-00000000000a",
                  "id": "5a1e0000-0000-4000-8000-00000000000a" },
        "agent": { "meta": { "href": "h", "id": MS_IVAN } },
        "positions": [{ "assortment": { "meta": { "href": "h", "id": "coffee" } }, "quantity": 1, "price": 250.00,
                        "discountPercent": 68.40, "discountedPrice": 79.00 }],
        "bonusProgram": { "bonusValueToSpend": 171, "bonusValueToEarn": 3 },
        "cashSum": 79.00, "noCashSum": 0
    });
    for _ in 0..2 {
        let answer = ms.post("/retaildemand", &sale_a).await;
        assert_eq!((answer.status, answer.text.as_str()), (201, ""), "{answer:?}");
    }
    let mut altered = sale_a.clone();
    altered["bonusProgram"]["bonusValueToSpend"] = json!(0);
    ms.post("/retaildemand", &altered).await.error(409, 40900);
    assert_eq!(native.customer(&id).await["points"]["balance"], 3);
    let receipt = native.receipt("moysklad:5a1e0000-0000-4000-8000-00000000000a").await;
    assert_eq!(
        (receipt["receipt"]["total"].as_i64(), receipt["receipt"]["points"]["redeem"].as_i64()),
        (Some(7900), Some(171))
    );
    assert_eq!(receipt["receipt"]["customer_id"], id.as_str());

    // The documentation's sale: empty meta, gift cards, payment sums that do not add up. Keyed
    // by store, number and moment; replayed gzip-compressed, counted once. Earns 762, and pays
    // 10.00 and 5.00 with the two gift cards (issued here with 10.00 and 15.00).
    native.issue_gift_card(Some("123456"), 1000).await;
    native.issue_gift_card(Some("1234567"), 1500).await;
    let doc_sale = fixture(SALE, &[]);
    assert_eq!(ms.post("/retaildemand", &doc_sale).await.status, 201);
    let gzipped = ms.send(reqwest::Method::POST, "/retaildemand", Some(doc_sale.to_string().into_bytes()), true).await;
    assert_eq!(gzipped.status, 201, "{gzipped:?}");
    assert_eq!(native.customer(&id).await["points"]["balance"], 765);
    let doc_key = derived_key(STORE_ID, "00001", "2016-04-18 15:06:00");
    assert_eq!(native.receipt(&doc_key).await["receipt"]["points"]["earn"], 762);
    let card = ms.get(&format!("/giftcard?name=123456&retailStoreId={STORE_ID}")).await;
    assert_eq!((card.ok(200)["status"].as_str(), card.body["currentBalance"].as_i64()), (Some("REDEEMED"), Some(0)));
    let card = ms.get(&format!("/giftcard?name=1234567&retailStoreId={STORE_ID}")).await;
    assert_eq!(
        (card.ok(200)["status"].as_str(), card.body["currentBalance"].as_i64(), card.body["initialBalance"].as_i64()),
        (Some("PARTIALLY_REDEEMED"), Some(1000), Some(1500)),
        "{}",
        card.text
    );
    assert_eq!(native.gift_card("1234567").await["payments"][0]["receipt_id"], doc_key.as_str());

    // The documentation's return: no sale, no customer — nothing to reverse, still 201.
    assert_eq!(ms.post("/retailsalesreturn", &fixture(RETURN, &[])).await.status, 201);
    assert_eq!(native.customer(&id).await["points"]["balance"], 765);
    // Returning sale A by its id: the 171 spent come back, the 3 earned go.
    let return_a = fixture(
        RETURN,
        &[
            ("/meta/id", json!("7e70e000-0000-4000-8000-00000000000a")),
            ("/demand/meta/id", json!("5a1e0000-0000-4000-8000-00000000000a")),
            ("/positions", json!([position("coffee", json!(1), json!(250.00))])),
        ],
    );
    for _ in 0..2 {
        assert_eq!(ms.post("/retailsalesreturn", &return_a).await.status, 201);
    }
    assert_eq!(native.customer(&id).await["points"]["balance"], 933);
    // A part of the documentation's sale, found by the flat agent (no demand): 23.456 of
    // 123.456 units take back floor(762 × 23.456 / 123.456) = 144 points.
    let partial = fixture(
        RETURN,
        &[
            ("/agent", json!({ "href": "h", "id": MS_IVAN })),
            ("/positions/0/quantity", json!(23.456)),
            ("/name", json!("00002")),
        ],
    );
    assert_eq!(ms.post("/retailsalesreturn", &partial).await.status, 201);
    assert_eq!(ms.post("/retailsalesreturn", &partial).await.status, 201);
    assert_eq!(native.customer(&id).await["points"]["balance"], 789);
    let returns = native.receipt(&doc_key).await["returns"].clone();
    assert_eq!(returns.as_array().map(Vec::len), Some(1), "{returns}");
    assert_eq!(returns[0]["points_taken_back"], 144);
    // No sale holds that much: the return cannot be placed.
    let too_much = fixture(
        RETURN,
        &[
            ("/agent", json!({ "href": "h", "id": MS_IVAN })),
            ("/demand/meta/id", json!("")),
            ("/positions/0/quantity", json!(500)),
            ("/name", json!("00003")),
        ],
    );
    ms.post("/retailsalesreturn", &too_much).await.error(404, 40401);
    // Sale A again, under a new return id: nothing is left to return, which the rules refuse.
    let mut again = return_a.clone();
    again["meta"]["id"] = json!("7e70e000-0000-4000-8000-00000000000b");
    ms.post("/retailsalesreturn", &again).await.error(422, 42200);

    // A number this program never issued is INVALID, with a stable GUID.
    let card = ms.get(&format!("/giftcard?name=999999&retailStoreId={STORE_ID}")).await;
    assert_eq!(card.ok(200)["status"], "INVALID");
    assert_eq!(card.body["name"], "999999");
    assert!(uuid::Uuid::parse_str(card.body["id"].as_str().unwrap_or("")).is_ok(), "{}", card.text);
    ms.get("/giftcard?retailStoreId=x").await.error(400, 40001);

    // Recalc changes nothing (issue 9 point 10): a customer it finds by phone is priced with
    // their points but not linked to MoySklad's id; the sale links them.
    const MS_PETR: &str = "0e3a3c8e-1d5a-11ef-0a80-00000000beef";
    let petr = native.enroll("+79995550001").await;
    native.give_points(&petr, 40).await;
    let by_id = json!({ "retailStore": { "meta": { "id": STORE_ID } }, "meta": { "href": "h", "id": MS_PETR } });
    let mut quote = seed_recalc(MS_PETR, &[]);
    quote["agent"] = json!({ "meta": { "href": "h", "id": MS_PETR }, "phone": "+79995550001" });
    let priced = ms.post("/retaildemand/recalc", &quote).await;
    assert_eq!(priced.ok(200)["bonusProgram"]["agentBonusBalance"], 40, "{}", priced.text);
    ms.post("/counterparty/detail", &by_id).await.error(404, 40400);

    crate::moysklad_bad_input::bad_input(ms).await;
}

/// A cloud with a store's MoySklad key: the MoySklad client and the store's till id.
pub async fn cloud_moysklad(cloud: &Cloud) -> (MoySklad, String) {
    let (status, key) = cloud.admin_post("/v1/admin/stores/Main%20street/moysklad-key", json!({})).await;
    assert_eq!(status, 201, "{key}");
    assert_eq!(key["base_path"], "/moysklad/v1/");
    let ms = MoySklad::new(&cloud.base, key["key"].as_str().expect("key"));
    (ms, key["till_id"].as_str().expect("till").to_owned())
}

cloud_test!(moysklad_session_on_the_cloud, cloud_session_scenario);
async fn cloud_session_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    // Keys are per store, hashed, admin-only; a new one replaces the old.
    let (status, _) =
        cloud.send(reqwest::Method::POST, "/v1/admin/stores/Main%20street/moysklad-key", None, None).await;
    assert_eq!(status, 401);
    let (_, none) = cloud.admin_get("/v1/admin/stores/moysklad-keys").await;
    assert_eq!(none, json!({ "stores": [] }));
    let (old, _) = cloud_moysklad(&cloud).await;
    let (_, listed) = cloud.admin_get("/v1/admin/stores/moysklad-keys").await;
    let first_key_at = listed["stores"][0]["key_created_at"].clone();
    let (ms, till_id) = cloud_moysklad(&cloud).await;
    old.get("/counterparty?search=1").await.error(401, 40100);
    session(&ms, &Native::Cloud { cloud: &cloud, till_id: till_id.clone() }).await;

    // The store's MoySklad till shows its sales in order, and cannot be enrolled.
    let (_, tills) = cloud.admin_get("/v1/admin/tills").await;
    let till = tills["tills"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["till_id"] == till_id.as_str()).cloned())
        .expect("till");
    assert_eq!((till["name"].as_str(), till["enrolled"].as_bool()), (Some("MoySklad"), Some(false)));
    assert!(till["last_seq"].as_i64().unwrap_or(0) >= 5, "{till}");
    let (status, body) = cloud.admin_post(&format!("/v1/admin/tills/{till_id}/enrollment-code"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("moysklad_till")), "{body}");
    // The link reaches the tills through the feed.
    let agent_till = cloud.till("Till 1").await;
    let page = cloud.pull(&agent_till, None, 1000, 0).await;
    let linked: Vec<&Value> = page["changes"]
        .as_array()
        .map(|c| c.iter().filter(|c| c["external_id"] == MS_IVAN).collect())
        .unwrap_or_default();
    assert_eq!(linked.len(), 1, "{page}");
    // Revoked, the key stops working.
    let (status, _) = cloud
        .send(
            reqwest::Method::DELETE,
            "/v1/admin/stores/Main%20street/moysklad-key",
            Some(crate::cloud_support::ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 204);
    ms.get("/counterparty?search=1").await.error(401, 40100);
    // The list: the store, since when, and now revoked (the key itself never listed); reading
    // it writes nothing to the audit log.
    let (_, audit_before) = cloud.admin_get("/v1/admin/audit").await;
    let (status, listed) = cloud.admin_get("/v1/admin/stores/moysklad-keys").await;
    assert_eq!(status, 200, "{listed}");
    let stores = listed["stores"].as_array().expect("stores");
    assert_eq!(stores.len(), 1, "{listed}");
    let store = &stores[0];
    assert_eq!((store["store"].as_str(), store["till_id"].as_str()), (Some("Main street"), Some(till_id.as_str())));
    assert_eq!((store["active"].as_bool(), store["key_created_at"].as_str()), (Some(false), None), "{store}");
    assert!(store["revoked_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{store}");
    assert!(
        first_key_at.as_str().is_some_and(|at| at.ends_with('Z')),
        "the key's time while it worked: {first_key_at}"
    );
    assert!(!listed.to_string().contains("\"key\":"), "{listed}");
    let (_, audit_after) = cloud.admin_get("/v1/admin/audit").await;
    assert_eq!(audit_before["entries"], audit_after["entries"], "listing writes no audit entry");
}

/// An agent whose `config.toml` sets a MoySklad key and whose program is `program`.
pub fn agent_with(program: &str, moysklad_key: Option<&str>) -> (Agent, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("program.toml"), program).expect("program file");
    if let Some(key) = moysklad_key {
        std::fs::write(dir.path().join("config.toml"), format!("moysklad_key = \"{key}\"\n")).expect("config file");
    }
    (Agent::spawn_in(dir.path(), None), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moysklad_session_on_the_agent() {
    let key = "moysklad-key-0123456789abcdef";
    let (agent, _dir) = agent_with("", Some(key));
    let ms = MoySklad::new(&agent.base, key);
    // The agent token works too; the native API's bearer token is not needed (nor accepted as
    // the MoySklad key's place), and the Host guard still applies.
    assert_eq!(ms.with_key(crate::support::TOKEN).get("/counterparty?search=1").await.status, 200);
    session(&ms, &Native::Agent(&agent)).await;
    let port = agent.base.rsplit(':').next().unwrap_or("0").to_owned();
    let request = format!(
        "GET /moysklad/v1/counterparty?search=1 HTTP/1.1\r\nHost: evil.example:{port}\r\nLognex-Discount-API-Auth-Token: {key}\r\nConnection: close\r\n\r\n"
    );
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
    .await
    .expect("raw request");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}
