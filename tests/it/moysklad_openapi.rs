//! The MoySklad adapter in both servers' `GET /openapi.json` (issue 4): every route the
//! adapter's router serves (`loyalty::moysklad::ENDPOINTS`, from which the router is built) is
//! documented, nothing else is, with the `Lognex-Discount-API-Auth-Token` key and schemas that
//! resolve; and each documented route really answers on the running servers.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::cloud_support::{Backend, Cloud};
use crate::cloud_test;
use crate::moysklad::{cloud_moysklad, MoySklad};
use crate::support::{Agent, TOKEN};

/// `(METHOD, path)` of every `/moysklad/…` operation in a document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        if !path.starts_with("/moysklad/") {
            continue;
        }
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

fn served() -> BTreeSet<(String, String)> {
    loyalty::moysklad::ENDPOINTS
        .iter()
        .map(|(method, path)| (method.to_uppercase(), format!("{}{path}", loyalty::moysklad::PREFIX)))
        .collect()
}

/// Every `$ref` in `value` names a schema the document has.
fn refs_resolve(doc: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("odd $ref {target}"));
                assert!(doc["components"]["schemas"][name].is_object(), "$ref {target} does not resolve");
            }
            map.values().for_each(|v| refs_resolve(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_resolve(doc, v)),
        _ => {}
    }
}

fn check(doc: &Value) {
    let served = served();
    assert_eq!(served.len(), 9, "the adapter serves the protocol's nine endpoints: {served:?}");
    assert_eq!(documented(doc), served, "documented MoySklad operations differ from the routes served");
    let scheme = &doc["components"]["securitySchemes"]["moysklad_key"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["in"].as_str(), scheme["name"].as_str()),
        (Some("apiKey"), Some("header"), Some("Lognex-Discount-API-Auth-Token")),
        "{scheme}"
    );
    for (method, path) in &served {
        let operation = &doc["paths"][path][method.to_lowercase()];
        assert_eq!(operation["security"], json!([{ "moysklad_key": [] }]), "{method} {path}");
        assert!(operation["responses"]["401"].is_object(), "{method} {path}: the wrong-key answer");
        if method == "POST" {
            assert!(operation["requestBody"]["content"]["application/json"]["schema"].is_object(), "{method} {path}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    for name in [
        "MoySkladRecalcRequest",
        "MoySkladRecalcResponse",
        "MoySkladSaleRequest",
        "MoySkladGiftCardResponse",
        "MoySkladErrorsBody",
    ] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    // The adapter's operation ids are used by no other operation of the document.
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().into_iter().flatten().map(|(_, item)| item) {
        ids.extend(item.as_object().into_iter().flatten().filter_map(|(_, op)| op["operationId"].as_str()));
    }
    for (method, path) in &served {
        let id = doc["paths"][path][method.to_lowercase()]["operationId"].as_str().unwrap_or("");
        assert!(id.starts_with("moysklad_"), "{method} {path}: {id}");
        assert_eq!(ids.iter().filter(|other| **other == id).count(), 1, "operationId {id} is used twice");
    }
    assert!(
        schemas["MoySkladSaleRequest"]["properties"]["giftCards"].is_object(),
        "{}",
        schemas["MoySkladSaleRequest"]
    );
    refs_resolve(doc, doc);
}

/// Each documented route answers as a route (with the protocol's body), not as an unknown path
/// or a wrong method.
async fn routed(ms: &MoySklad) {
    for (method, path) in served() {
        let relative = path.trim_start_matches("/moysklad/v1");
        let reply = match method.as_str() {
            "GET" => ms.get(relative).await,
            _ => ms.post(relative, &json!({})).await,
        };
        let code = reply.body["errors"][0]["code"].as_i64();
        assert!(reply.status != 404 || code != Some(40402), "{method} {path} is not routed: {}", reply.text);
        assert!(reply.status != 405, "{method} {path}: {}", reply.text);
        assert!(reply.status < 500, "{method} {path}: {}", reply.text);
    }
    ms.get("/no-such-endpoint").await.error(404, 40402);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moysklad_in_the_agents_openapi() {
    let agent = Agent::start().await;
    let (status, doc) = agent.get("/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    check(&doc);
    routed(&MoySklad::new(&agent.base, TOKEN)).await;
}

cloud_test!(moysklad_in_the_clouds_openapi, cloud_openapi_scenario);
async fn cloud_openapi_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (status, doc) = cloud.send(reqwest::Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200, "{doc}");
    check(&doc);
    let (ms, _) = cloud_moysklad(&cloud).await;
    routed(&ms).await;
}
