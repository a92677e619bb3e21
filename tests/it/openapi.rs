//! Issue 9 point 9: the OpenAPI documents both servers serve are right. Each document is
//! fetched from the running server (`GET /openapi.json`) and must have
//!
//! - every `{param}` of a path declared as an `in: path` parameter of each of its operations,
//!   and no path parameter that is not in the path (query parameters are `in: query`);
//! - unique operation ids;
//! - the same operations as the router serves (read from the router's source, and the
//!   MoySklad adapter's `ENDPOINTS` table), apart from the pages, files and redirects named
//!   below, which are not part of the API;
//! - the answers the layers in front of every handler give: 401 behind a credential; 400,
//!   413, 415 and 422 for a JSON body;
//! - and every status the running server really answers to requests that go wrong (no
//!   credential, broken JSON, a wrong content type, an empty object, unknown ids): listed.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::Value;

use crate::cloud_support::{Backend, Cloud, ADMIN};
use crate::cloud_test;
use crate::support::{Agent, TOKEN};

const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "options"];

/// `(METHOD, path)` of every route a router's source declares with `.route("…", …)`.
fn routes_in_source(file: &str) -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).expect("router source");
    let mut routes = BTreeSet::new();
    // `.route(` then the path's string, on the same line or (as rustfmt breaks long calls) the next.
    for (at, _) in source.match_indices(".route(") {
        let rest = source[at + ".route(".len()..].trim_start();
        let Some(rest) = rest.strip_prefix('"') else { continue };
        let path = &rest[..rest.find('"').expect("the path's closing quote")];
        // The route call's text, to its closing parenthesis.
        let mut depth = 1;
        let mut end = 0;
        for (i, c) in source[at + ".route(".len()..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = i;
                break;
            }
        }
        let call = &source[at + ".route(".len()..at + ".route(".len() + end];
        // A method router is an identifier among METHODS followed by `(`.
        let mut ident = String::new();
        for c in call.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                ident.push(c);
                continue;
            }
            if c == '(' && METHODS.contains(&ident.as_str()) {
                routes.insert((ident.to_uppercase(), path.to_owned()));
            }
            ident.clear();
        }
    }
    for (method, path) in loyalty::moysklad::ENDPOINTS {
        routes.insert((method.to_uppercase(), format!("{}{path}", loyalty::moysklad::PREFIX)));
    }
    routes
}

/// `(METHOD, path)` → operation, for every operation of a document.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut found = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if METHODS.contains(&method.as_str()) || method == "head" || method == "trace" {
                found.insert((method.to_uppercase(), path.clone()), operation.clone());
            }
        }
    }
    found
}

/// The `{name}`s of a path.
fn path_names(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// A parameter, following a `$ref` into `components.parameters`.
fn resolve<'a>(doc: &'a Value, parameter: &'a Value) -> &'a Value {
    match parameter["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/parameters/")) {
        Some(name) => &doc["components"]["parameters"][name],
        None => parameter,
    }
}

/// Whether an operation needs a credential: its own `security`, else the document's, holds
/// no empty requirement.
fn secured(doc: &Value, operation: &Value) -> Option<String> {
    let requirements = operation.get("security").unwrap_or(&doc["security"]);
    let list = requirements.as_array()?;
    if list.is_empty() || list.iter().any(|r| r.as_object().is_some_and(|m| m.is_empty())) {
        return None;
    }
    list[0].as_object()?.keys().next().cloned()
}

fn has_json_body(operation: &Value) -> bool {
    operation["requestBody"]["content"]
        .as_object()
        .is_some_and(|content| content.keys().any(|media| media.starts_with("application/json")))
}

/// Every fault of the document the checks find, one line each (all of them, not the first).
fn faults(doc: &Value, served: &BTreeSet<(String, String)>, not_api: &[(&str, &str)]) -> Vec<String> {
    let mut faults = Vec::new();
    let operations = operations(doc);
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((method, path), operation) in &operations {
        let name = format!("{method} {path}");
        // Path parameters: declared on the operation or its path item, exactly the path's.
        let mut declared_path = BTreeSet::new();
        let item_parameters = doc["paths"][path]["parameters"].as_array().cloned().unwrap_or_default();
        let own = operation["parameters"].as_array().cloned().unwrap_or_default();
        for parameter in item_parameters.iter().chain(&own) {
            let parameter = resolve(doc, parameter);
            let parameter_name = parameter["name"].as_str().unwrap_or("").to_owned();
            match parameter["in"].as_str() {
                Some("path") => {
                    if parameter["required"] != Value::Bool(true) {
                        faults.push(format!("{name}: path parameter {parameter_name} is not required"));
                    }
                    declared_path.insert(parameter_name);
                }
                Some("query" | "header" | "cookie") => {}
                other => faults.push(format!("{name}: parameter {parameter_name} is in {other:?}")),
            }
        }
        let in_path = path_names(path);
        for missing in in_path.difference(&declared_path) {
            faults.push(format!("{name}: {{{missing}}} is not declared as an in: path parameter"));
        }
        for extra in declared_path.difference(&in_path) {
            faults.push(format!("{name}: {extra} is declared in: path but is not in the path"));
        }
        match operation["operationId"].as_str() {
            Some(id) => ids.entry(id.to_owned()).or_default().push(name.clone()),
            None => faults.push(format!("{name}: no operationId")),
        }
        // The layers' answers.
        let listed = |status: &str| operation["responses"].get(status).is_some();
        if secured(doc, operation).is_some() && !listed("401") {
            faults.push(format!("{name}: needs a credential but does not list 401"));
        }
        if has_json_body(operation) {
            for status in ["400", "413", "415", "422"] {
                if !listed(status) {
                    faults.push(format!("{name}: takes a JSON body but does not list {status}"));
                }
            }
        }
    }
    for (id, users) in ids {
        if users.len() > 1 {
            faults.push(format!("operationId {id} is used by {users:?}"));
        }
    }
    let documented: BTreeSet<(String, String)> = operations.keys().cloned().collect();
    let not_api: BTreeSet<(String, String)> = not_api.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    for route in served.difference(&documented) {
        if !not_api.contains(route) {
            faults.push(format!("{} {} is served but not documented", route.0, route.1));
        }
    }
    for route in documented.difference(served) {
        faults.push(format!("{} {} is documented but not served", route.0, route.1));
    }
    for route in not_api.intersection(&documented) {
        faults.push(format!("{} {} is named as not part of the API but is documented", route.0, route.1));
    }
    faults
}

/// Requests that go wrong, sent to every documented operation of a running server; answers
/// the faults: a status the document does not list, or an operation the router does not know.
async fn probe(base: &str, doc: &Value, token_for: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut faults = Vec::new();
    for ((method, path), operation) in operations(doc) {
        // Unknown ids, or the example a parameter names (a file name the route expects).
        let example = |name: &str| {
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            let found = parameters.iter().find(|p| p["name"] == name).cloned().unwrap_or(Value::Null);
            found["example"].as_str().or(found["schema"]["example"].as_str()).unwrap_or("nope-1").to_owned()
        };
        let concrete: String = path
            .split('/')
            .map(|part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => example(name),
                None => part.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        let url = format!("{base}{concrete}");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let token = secured(doc, &operation).and_then(|scheme| token_for(&scheme));
        let mut attempts: Vec<(&str, reqwest::RequestBuilder)> =
            vec![("no credential", client.request(method.clone(), &url))];
        if let Some(token) = token.filter(|_| !path.starts_with("/moysklad/")) {
            let authorised = || client.request(method.clone(), &url).bearer_auth(&token);
            if has_json_body(&operation) {
                attempts.push(("broken JSON", authorised().header("Content-Type", "application/json").body("{")));
                attempts.push(("a text body", authorised().header("Content-Type", "text/plain").body("{}")));
                attempts.push(("an empty object", authorised().header("Content-Type", "application/json").body("{}")));
                attempts.push(("a JSON array", authorised().header("Content-Type", "application/json").body("[1]")));
            } else {
                attempts.push(("unknown ids", authorised()));
                attempts.push(("a bad query", authorised().query(&[("limit", "x"), ("status", "x"), ("wait", "x")])));
                attempts.push(("a bad cursor", authorised().query(&[("cursor", "x"), ("customer", "x")])));
            }
        }
        for (what, request) in attempts {
            let response = request.send().await.expect("HTTP request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let name = format!("{method} {path} with {what}");
            if status == 405 || (status == 404 && body["error"]["code"] == "no_such_endpoint") {
                faults.push(format!("{name}: not routed ({status} {body})"));
            } else if status >= 500 && status != 503 {
                faults.push(format!("{name}: {status} {body}"));
            } else if operation["responses"].get(status.to_string()).is_none() {
                faults.push(format!(
                    "{name}: answered {status} ({}) but the document does not list it",
                    body["error"]["code"]
                ));
            }
        }
    }
    faults
}

fn assert_no_faults(what: &str, faults: &[String]) {
    assert!(faults.is_empty(), "{what}: {} faults\n{}", faults.len(), faults.join("\n"));
}

/// Served by the agent but not part of its API: the cashier page, its files, and the launch
/// link a browser follows (a redirect with a cookie).
const AGENT_NOT_API: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/favicon.ico"),
    ("GET", "/assets/cashier/{file}"),
    ("GET", "/launch/{code}"),
    ("GET", "/openapi.json"),
];

/// Served by the cloud but not part of its API: the sign-up page and its files, the CORS
/// preflight of the sign-up form, the back-office console's page and files, the shopper's
/// self-service page and its files.
const CLOUD_NOT_API: &[(&str, &str)] = &[
    ("GET", "/signup"),
    ("GET", "/me"),
    ("GET", "/me.js"),
    ("GET", "/me.css"),
    ("GET", "/admin"),
    ("GET", "/admin/"),
    ("GET", "/admin/assets/{file}"),
    ("GET", "/signup.js"),
    ("GET", "/signup.css"),
    ("OPTIONS", "/v1/signup"),
    ("GET", "/openapi.json"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_openapi_document_is_right() {
    let agent = Agent::start().await;
    let (status, doc) = agent.get("/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    let served = routes_in_source("src/agent/api/mod.rs");
    assert!(served.len() > 20, "the route scan found the router: {served:?}");
    assert_no_faults("the agent's document", &faults(&doc, &served, AGENT_NOT_API));
    let probed = probe(&agent.base, &doc, |_| Some(TOKEN.to_owned())).await;
    assert_no_faults("the agent's answers", &probed);
}

cloud_test!(the_clouds_openapi_document_is_right, cloud_scenario);
async fn cloud_scenario(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let (status, doc) = cloud.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200, "{doc}");
    let served = routes_in_source("src/cloud/api/mod.rs");
    assert!(served.len() > 20, "the route scan found the router: {served:?}");
    assert_no_faults("the cloud's document", &faults(&doc, &served, CLOUD_NOT_API));
    // The fuzzer's case: the deliveries list's filters are query parameters, the id the path's.
    let deliveries = &doc["paths"]["/v1/admin/webhooks/{id}/deliveries"]["get"]["parameters"];
    let placed: BTreeMap<&str, &str> = deliveries
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| (p["name"].as_str().unwrap_or(""), p["in"].as_str().unwrap_or("")))
        .collect();
    let expected: BTreeMap<&str, &str> =
        [("id", "path"), ("status", "query"), ("limit", "query"), ("cursor", "query")].into_iter().collect();
    assert_eq!(placed, expected, "{deliveries}");
    let till = cloud.till("Till 1").await;
    let probed = probe(&cloud.base, &doc, |scheme| match scheme {
        "admin_token" => Some(ADMIN.to_owned()),
        "device_token" => Some(till.token.clone()),
        _ => None,
    })
    .await;
    assert_no_faults("the cloud's answers", &probed);
}

/// The checks themselves find each kind of fault the fuzzer reported, on a small document.
#[test]
fn the_checks_find_each_kind_of_fault() {
    let doc = serde_json::json!({
        "security": [{ "admin_token": [] }],
        "paths": {
            "/v1/things/{id}": {
                "get": { "operationId": "thing", "responses": { "200": {} } },
                "patch": { "operationId": "thing",
                           "parameters": [{ "name": "id", "in": "path", "required": true },
                                          { "name": "limit", "in": "path", "required": true }],
                           "requestBody": { "content": { "application/json": {} } },
                           "responses": { "200": {}, "401": {}, "422": {} } }
            }
        }
    });
    let served: BTreeSet<(String, String)> =
        [("GET", "/v1/things/{id}"), ("POST", "/v1/other")].iter().map(|(m, p)| ((*m).into(), (*p).into())).collect();
    let found = faults(&doc, &served, &[]).join("\n");
    for expected in [
        "GET /v1/things/{id}: {id} is not declared as an in: path parameter",
        "PATCH /v1/things/{id}: limit is declared in: path but is not in the path",
        "operationId thing is used by",
        "GET /v1/things/{id}: needs a credential but does not list 401",
        "PATCH /v1/things/{id}: takes a JSON body but does not list 413",
        "PATCH /v1/things/{id}: takes a JSON body but does not list 415",
        "POST /v1/other is served but not documented",
        "PATCH /v1/things/{id} is documented but not served",
    ] {
        assert!(found.contains(expected), "missing fault {expected:?} in\n{found}");
    }
}
