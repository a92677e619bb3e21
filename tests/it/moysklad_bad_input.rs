//! Bad input to the MoySklad adapter, on any server: malformed and empty bodies, wrong types,
//! too much precision, unreadable or unsupported encodings, nulls, unknown customers, unknown
//! paths and methods. Every answer is the protocol's error body, never a 500.

use serde_json::{json, Value};

use crate::moysklad::{fixture, position, seed_recalc, MoySklad, MS_IVAN, SALE};

/// Malformed bodies, wrong types, too much precision, nulls, unknown paths and methods.
pub async fn bad_input(ms: &MoySklad) {
    let broken =
        ms.send(reqwest::Method::POST, "/retaildemand/recalc", Some(b"{\"positions\": [".to_vec()), false).await;
    broken.error(400, 40000);
    ms.send(reqwest::Method::POST, "/retaildemand/recalc", Some(Vec::new()), false).await.error(400, 40000);
    let wrong_type = ms
        .post(
            "/retaildemand/recalc",
            &seed_recalc(MS_IVAN, &[("positions", json!([position("x", json!(1), json!("abc"))]))]),
        )
        .await;
    assert_eq!(wrong_type.error(400, 40001)["parameter"], "positions[0].price");
    let precise = ms
        .post(
            "/retaildemand/recalc",
            &seed_recalc(MS_IVAN, &[("positions", json!([position("x", json!(1), json!(10.005))]))]),
        )
        .await;
    assert_eq!(precise.error(400, 40001)["parameter"], "positions[0].price");
    let quantity = ms
        .post(
            "/retaildemand/recalc",
            &seed_recalc(MS_IVAN, &[("positions", json!([position("x", json!(0.0001), json!(1))]))]),
        )
        .await;
    assert_eq!(quantity.error(400, 40001)["parameter"], "positions[0].quantity");
    let negative = ms
        .post(
            "/retaildemand/recalc",
            &seed_recalc(MS_IVAN, &[("positions", json!([position("x", json!(-1), json!(1))]))]),
        )
        .await;
    assert_eq!(negative.error(400, 40001)["parameter"], "positions[0].quantity");
    let fraction =
        ms.post("/retaildemand/recalc", &seed_recalc(MS_IVAN, &[("preferredBonusToSpend", json!(1.5))])).await;
    assert_eq!(fraction.error(400, 40001)["parameter"], "preferredBonusToSpend");
    ms.post("/retaildemand/recalc", &json!({ "positions": [] })).await.error(400, 40001);
    ms.post("/retaildemand/recalc", &json!([1, 2])).await.error(400, 40001);
    // A sale or return of `[]` or `[null]` is not "nothing to book": it is not a document.
    for path in ["/retaildemand", "/retailsalesreturn"] {
        for body in [json!([]), json!([null]), json!("sale"), json!(null)] {
            let refused = ms.post(path, &body).await;
            assert_eq!(refused.error(400, 40001)["parameter"], "body", "{path} {body}: {}", refused.text);
        }
    }
    let form = ms
        .client
        .post(format!("{}/counterparty/detail", ms.base))
        .header("Lognex-Discount-API-Auth-Token", &ms.key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .expect("POST");
    assert_eq!(form.status().as_u16(), 415);
    for (encoding, body, status) in [("gzip", b"not gzip".to_vec(), 400), ("br", b"{}".to_vec(), 415)] {
        let answer = ms
            .client
            .post(format!("{}/counterparty/detail", ms.base))
            .header("Lognex-Discount-API-Auth-Token", &ms.key)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", encoding)
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(answer.status().as_u16(), status, "{encoding}");
    }

    // Nulls everywhere the protocol allows a field: read as absent.
    let nulls = json!({ "retailStore": null, "meta": { "href": null, "id": "11111111-0000-4000-8000-000000000001" },
        "name": null, "discountCardNumber": null, "phone": "8 (999) 765-43-21", "email": null, "legalFirstName": null,
        "legalMiddleName": null, "legalLastName": null, "birthDate": null, "sex": null, "syncId": null, "statusCheck": null });
    assert_eq!(ms.post("/counterparty", &nulls).await.status, 201);
    let row = ms.get("/counterparty?search=89997654321").await;
    assert_eq!(row.ok(200)["rows"][0]["msId"], "11111111-0000-4000-8000-000000000001");
    assert_eq!(row.body["rows"][0]["name"], "+79997654321", "a nameless customer is shown by phone");
    let recalc = seed_recalc(
        "11111111-0000-4000-8000-000000000001",
        &[("preferredBonusToSpend", Value::Null), ("retailStore", Value::Null)],
    );
    assert_eq!(ms.post("/retaildemand/recalc", &recalc).await.ok(200)["bonusProgram"]["bonusValueToSpend"], 0);
    // A counterparty without a phone cannot join; without meta.id it cannot be linked.
    let phoneless = json!({ "meta": { "id": "22222222-0000-4000-8000-000000000002" }, "phone": null });
    assert_eq!(ms.post("/counterparty", &phoneless).await.error(400, 40001)["parameter"], "phone");
    assert_eq!(
        ms.post("/counterparty", &json!({ "phone": "+79990001122" })).await.error(400, 40001)["parameter"],
        "meta.id"
    );

    // An unknown customer is priced without points, not refused; spending for them is.
    let unknown = seed_recalc("33333333-0000-4000-8000-000000000003", &[]);
    let quote = ms.post("/retaildemand/recalc", &unknown).await;
    assert_eq!(quote.ok(200)["positions"][0]["discountedPrice"], json!(250.0));
    assert_eq!(quote.body["bonusProgram"]["bonusValueToEarn"], 0);
    let mut stranger_sale = fixture(
        SALE,
        &[
            ("/agent/meta/id", json!("33333333-0000-4000-8000-000000000003")),
            ("/agent/phone", json!(null)),
            ("/agent/discountCardNumber", json!(null)),
            ("/bonusProgram/bonusValueToSpend", json!(10)),
            ("/name", json!("00077")),
            ("/giftCards", json!([])),
        ],
    );
    ms.post("/retaildemand", &stranger_sale).await.error(404, 40400);
    stranger_sale["bonusProgram"]["bonusValueToSpend"] = json!(0);
    assert_eq!(ms.post("/retaildemand", &stranger_sale).await.status, 201, "an anonymous sale is still recorded");

    // Unknown paths and methods answer in the protocol's format; so does a path without "//".
    ms.get("/nothing-here").await.error(404, 40402);
    ms.send(reqwest::Method::PUT, "/counterparty", Some(b"{}".to_vec()), false).await.error(405, 40500);
    let plain = ms
        .client
        .get(format!("{}counterparty?search=89997654321", ms.base))
        .header("Lognex-Discount-API-Auth-Token", &ms.key)
        .send()
        .await
        .expect("GET");
    assert_eq!(plain.status().as_u16(), 200);
}
