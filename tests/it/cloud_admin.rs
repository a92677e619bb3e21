//! loyalty-cloud's admin API and enrollment, on SQLite and PostgreSQL.

use reqwest::Method;
use serde_json::json;

use crate::cloud_support::{assert_error, Backend, Cloud, ADMIN};
use crate::cloud_test;

cloud_test!(tills_and_enrollment, tills_and_enrollment_scenario);
async fn tills_and_enrollment_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (status, health) = cloud.send(Method::GET, "/v1/health", None, None).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], if cloud.backend.is_postgres() { "postgres" } else { "sqlite" });

    // Admin endpoints need the admin token.
    let body = json!({ "store": "Main street", "name": "Till 1" });
    assert_error(&cloud.send(Method::POST, "/v1/admin/tills", None, Some(body.clone())).await, 401, "unauthorized");
    assert_error(
        &cloud.send(Method::POST, "/v1/admin/tills", Some("wrong"), Some(body.clone())).await,
        401,
        "unauthorized",
    );
    assert_error(&cloud.admin_post("/v1/admin/tills", json!({ "store": "", "name": "x" })).await, 422, "invalid_field");

    let (till_id, code) = cloud.create_till("Till 1").await;
    assert_eq!(code.len(), 10);
    // The code works once, typed in lower case with a dash.
    let typed = format!("{}-{}", &code[..5], &code[5..]).to_lowercase();
    let (status, enrolled) = cloud.send(Method::POST, "/v1/enroll", None, Some(json!({ "code": typed }))).await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!(enrolled["till_id"], till_id.as_str());
    assert_eq!(enrolled["store"], "Main street");
    let token = enrolled["device_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    let again = cloud.send(Method::POST, "/v1/enroll", None, Some(json!({ "code": code }))).await;
    assert_error(&again, 401, "enrollment_code_used");
    let unknown = cloud.send(Method::POST, "/v1/enroll", None, Some(json!({ "code": "ABCDEFGHJK" }))).await;
    assert_error(&unknown, 401, "enrollment_code_invalid");
    let garbage = cloud.send(Method::POST, "/v1/enroll", None, Some(json!({ "code": "x".repeat(5000) }))).await;
    assert_error(&garbage, 401, "enrollment_code_invalid");

    // An expired code is refused.
    let (_, old_code) = cloud.create_till("Till 2").await;
    cloud.sql("UPDATE enrollment_codes SET expires_at = 0 WHERE used_at IS NULL");
    let expired = cloud.send(Method::POST, "/v1/enroll", None, Some(json!({ "code": old_code }))).await;
    assert_error(&expired, 401, "enrollment_code_expired");

    // Sync endpoints need the device token; the admin token is not one.
    for token in [None, Some("wrong"), Some(ADMIN)] {
        assert_error(&cloud.send(Method::GET, "/v1/sync/pull", token, None).await, 401, "unauthorized");
        let push = cloud.send(Method::POST, "/v1/sync/push", token, Some(json!({ "events": [] }))).await;
        assert_error(&push, 401, "unauthorized");
    }
    let (status, page) = cloud.send(Method::GET, "/v1/sync/pull", Some(&token), None).await;
    assert_eq!(status, 200, "{page}");

    // A new code for the till re-enrolls it and replaces the old token.
    let (status, fresh) = cloud.admin_post(&format!("/v1/admin/tills/{till_id}/enrollment-code"), json!({})).await;
    assert_eq!(status, 201, "{fresh}");
    let (status, re) =
        cloud.send(Method::POST, "/v1/enroll", None, Some(json!({ "code": fresh["enrollment_code"] }))).await;
    assert_eq!(status, 200, "{re}");
    assert_error(&cloud.send(Method::GET, "/v1/sync/pull", Some(&token), None).await, 401, "unauthorized");

    let (status, tills) = cloud.admin_get("/v1/admin/tills").await;
    assert_eq!(status, 200);
    assert_eq!(tills["tills"].as_array().unwrap().len(), 2, "{tills}");

    // Unknown routes and bad bodies answer in our error format.
    assert_error(&cloud.admin_get("/v1/admin/nothing").await, 404, "no_such_endpoint");
    let (status, body) = cloud.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(body["paths"]["/v1/sync/push"].is_object());
    for path in ["/v1/signup", "/v1/admin/webhooks", "/v1/admin/webhooks/{id}/deliveries"] {
        assert!(body["paths"][path].is_object(), "{path} is described");
    }
    assert!(body["components"]["schemas"]["WebhookBody"].is_object(), "the delivery body is described");
}

cloud_test!(customers, customers_scenario);
async fn customers_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (status, created) = cloud
        .admin_post(
            "/v1/admin/customers",
            json!({ "phone": "8 999 123-45-67", "name": "Ivan Petrov", "email": "Ivan@Example.com",
                    "consents": { "sms": true } }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["phone"], "+79991234567");
    assert_eq!(created["email"], "ivan@example.com");
    assert_eq!(created["points"], json!({ "balance": 0, "available": 0, "pending": 0 }));
    assert_eq!(created["consents"]["sms"]["granted"], true);
    assert_eq!(created["consents"]["sms"]["source"], "cloud");
    let card = created["card"].as_str().unwrap().to_owned();
    assert!(card.starts_with("2799"), "{card}");

    assert_error(
        &cloud.admin_post("/v1/admin/customers", json!({ "phone": "+7 999 123 45 67" })).await,
        409,
        "phone_taken",
    );
    assert_error(&cloud.admin_post("/v1/admin/customers", json!({ "phone": "12" })).await, 422, "invalid_phone");
    assert_error(&cloud.admin_post("/v1/admin/customers", json!({ "phone": 5 })).await, 422, "invalid_field");

    for query in
        ["phone=%2B7%20(999)%20123-45-67".to_owned(), format!("card={card}"), "email=IVAN%40example.com".into()]
    {
        let (status, found) = cloud.admin_get(&format!("/v1/admin/customers?{query}")).await;
        assert_eq!(status, 200, "{query}: {found}");
        assert_eq!(found["customers"][0]["id"], id.as_str(), "{query}");
    }
    let (_, none) = cloud.admin_get("/v1/admin/customers?phone=%2B79990000000").await;
    assert_eq!(none["customers"], json!([]));
    assert_error(&cloud.admin_get("/v1/admin/customers?phone=1&card=2").await, 422, "invalid_query");
    assert_error(&cloud.admin_get("/v1/admin/customers/nobody").await, 404, "customer_not_found");

    let (status, edited) =
        cloud.admin_patch(&format!("/v1/admin/customers/{id}"), json!({ "name": "Ivan P.", "email": null })).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!((edited["name"].as_str(), edited["email"].as_str()), (Some("Ivan P."), None));

    // Adjustments: idempotent by id, a different body under the same id is a conflict, debt allowed.
    let adjust = |id: &str, points: i64| json!({ "id": id, "points": points, "reason": "goodwill" });
    let path = format!("/v1/admin/customers/{id}/adjustments");
    let (status, first) = cloud.admin_post(&path, adjust("adj-1", 171)).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["balance_after"], 171);
    let (status, again) = cloud.admin_post(&path, adjust("adj-1", 171)).await;
    assert_eq!((status, &again), (201, &first));
    assert_error(&cloud.admin_post(&path, adjust("adj-1", 5)).await, 409, "adjustment_conflict");
    assert_error(&cloud.admin_post(&path, adjust("adj-2", 0)).await, 422, "invalid_points");
    let (_, debt) = cloud.admin_post(&path, adjust("adj-3", -200)).await;
    assert_eq!(debt["balance_after"], -29);
    assert_eq!(cloud.points(&id).await, json!({ "balance": -29, "available": 0, "pending": 0 }));

    // Programs: a new version; contradictions are refused.
    let (status, program) = cloud.admin_get("/v1/admin/program").await;
    assert_eq!(status, 200);
    assert_eq!(program["version"], 1);
    let (status, v2) = cloud
        .admin_put(
            "/v1/admin/program",
            json!({ "accrual_percent": 7, "offline_redeem_limit": 300, "welcome_points": 50,
                    "tiers": [{ "name": "gold", "threshold": 100000, "kind": null, "accrual_percent": 10,
                                "discount_percent": null, "redeem_cap_percent": null }],
                    "promo_codes": [{ "code": "ONCE", "kind": "percent", "value": 10, "usage_limit": 1 }] }),
        )
        .await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["program"]["offline_redeem_limit"], 300);
    assert_error(
        &cloud.admin_put("/v1/admin/program", json!({ "accrual_percent": 150 })).await,
        422,
        "invalid_program",
    );
    assert_error(&cloud.admin_put("/v1/admin/program", json!({ "acrual_percent": 5 })).await, 422, "invalid_field");
    // Welcome points of the new version go to new customers.
    let newcomer = cloud.customer("+79990000001").await;
    assert_eq!(newcomer["points"]["balance"], 50);
}
