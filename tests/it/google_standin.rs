//! A local stand-in for Google Wallet: the OAuth token endpoint a service account key names
//! (`token_uri`, the JWT-bearer grant, the assertion checked against the key's public half and
//! the Wallet scope) and the REST API's `PATCH /walletobjects/v1/loyaltyObject/{id}` (the bearer
//! token checked; 404 for an object no one saved). "Saving" a card is what a phone does with a
//! save link: [`GoogleStandIn::save`] verifies the link's JWT and keeps its object.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

pub const ISSUER_ID: &str = "3388000000022";
pub const CLIENT_EMAIL: &str = "wallet@romashka-loyalty.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/wallet_object.issuer";

/// One PATCH as Google received it.
#[derive(Debug, Clone)]
pub struct GooglePatch {
    pub object_id: String,
    pub body: Value,
    /// Whether the body asked Google to notify the holder.
    pub notify: bool,
    pub status: u16,
}

#[derive(Default)]
struct Seen {
    tokens: Vec<String>,
    token_requests: usize,
    saved: HashMap<String, Value>,
    patches: Vec<GooglePatch>,
}

#[derive(Clone)]
struct Shared {
    public_pem: String,
    token_uri: String,
    seen: Arc<Mutex<Seen>>,
}

pub struct GoogleStandIn {
    /// `--google-wallet-url`.
    pub url: String,
    /// The service account key file (JSON) whose `token_uri` is this stand-in.
    pub key_path: std::path::PathBuf,
    shared: Shared,
}

impl GoogleStandIn {
    /// Makes a service account key in `dir` and starts the stand-in.
    pub async fn start(dir: &Path) -> GoogleStandIn {
        let key = dir.join("google-key.pem");
        let public = dir.join("google-key.pub.pem");
        crate::wallet_keys::openssl(
            dir,
            &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key.to_str().unwrap()],
        );
        crate::wallet_keys::openssl(
            dir,
            &["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()],
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let token_uri = format!("{url}/token");
        let key_path = dir.join("service-account.json");
        let account = json!({
            "type": "service_account",
            "project_id": "romashka-loyalty",
            "private_key_id": "test-key-1",
            "private_key": std::fs::read_to_string(&key).unwrap(),
            "client_email": CLIENT_EMAIL,
            "token_uri": token_uri,
        });
        std::fs::write(&key_path, account.to_string()).unwrap();
        let shared =
            Shared { public_pem: std::fs::read_to_string(public).unwrap(), token_uri, seen: Default::default() };
        let app = axum::Router::new()
            .route("/token", axum::routing::post(token))
            .route("/walletobjects/v1/loyaltyObject/{id}", axum::routing::patch(patch))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        GoogleStandIn { url, key_path, shared }
    }

    /// What a phone does with a save link: checks the JWT (RS256, the service account's key,
    /// `aud: google`, `typ: savetowallet`) and keeps its object as saved. Returns the claims.
    pub fn save(&self, link: &str) -> Value {
        let jwt =
            link.strip_prefix("https://pay.google.com/gp/v/save/").unwrap_or_else(|| panic!("a save link: {link}"));
        let claims = self.verify(jwt, "google").unwrap_or_else(|e| panic!("the save link does not verify: {e}"));
        assert_eq!(claims["typ"], "savetowallet", "{claims}");
        assert_eq!(claims["iss"], CLIENT_EMAIL, "{claims}");
        let object = claims["payload"]["loyaltyObjects"][0].clone();
        let id = object["id"].as_str().unwrap_or_else(|| panic!("an object id: {claims}")).to_owned();
        self.shared.seen.lock().unwrap().saved.insert(id, object);
        claims
    }

    fn verify(&self, jwt: &str, audience: &str) -> Result<Value, String> {
        verify(&self.shared.public_pem, jwt, audience)
    }

    pub fn patches(&self) -> Vec<GooglePatch> {
        self.shared.seen.lock().unwrap().patches.clone()
    }

    /// The object as Google holds it now.
    pub fn object(&self, id: &str) -> Option<Value> {
        self.shared.seen.lock().unwrap().saved.get(id).cloned()
    }

    pub fn token_requests(&self) -> usize {
        self.shared.seen.lock().unwrap().token_requests
    }

    /// Forgets every access token it gave (as when Google revokes them): the next call is 401.
    pub fn revoke_tokens(&self) {
        self.shared.seen.lock().unwrap().tokens.clear();
    }
}

fn verify(public_pem: &str, jwt: &str, audience: &str) -> Result<Value, String> {
    let key = DecodingKey::from_rsa_pem(public_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.required_spec_claims.clear();
    let decoded = jsonwebtoken::decode::<Value>(jwt, &key, &validation).map_err(|e| e.to_string())?;
    if decoded.header.kid.as_deref() != Some("test-key-1") {
        return Err(format!("the key id is {:?}", decoded.header.kid));
    }
    Ok(decoded.claims)
}

fn google_error(status: StatusCode, message: &str) -> axum::response::Response {
    (status, Json(json!({"error": {"code": status.as_u16(), "message": message}}))).into_response()
}

async fn token(
    State(shared): State<Shared>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> axum::response::Response {
    shared.seen.lock().unwrap().token_requests += 1;
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return google_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let claims =
        match verify(&shared.public_pem, form.get("assertion").map(String::as_str).unwrap_or(""), &shared.token_uri) {
            Ok(claims) => claims,
            Err(e) => return google_error(StatusCode::BAD_REQUEST, &format!("invalid_grant: {e}")),
        };
    if claims["scope"] != SCOPE || claims["iss"] != CLIENT_EMAIL {
        return google_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    let access_token = format!("ya29.test-{}", uuid::Uuid::new_v4().simple());
    shared.seen.lock().unwrap().tokens.push(access_token.clone());
    Json(json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

async fn patch(
    State(shared): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let mut seen = shared.seen.lock().unwrap();
    let notify = body.get("notifyPreference").and_then(Value::as_str) == Some("NOTIFY_ON_UPDATE");
    let status = if !bearer.is_some_and(|token| seen.tokens.iter().any(|t| t == token)) {
        StatusCode::UNAUTHORIZED
    } else if !seen.saved.contains_key(&id) {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    seen.patches.push(GooglePatch { object_id: id.clone(), body: body.clone(), notify, status: status.as_u16() });
    match status {
        StatusCode::UNAUTHORIZED => return google_error(status, "Request had invalid authentication credentials."),
        StatusCode::NOT_FOUND => return google_error(status, "Requested entity was not found."),
        _ => {}
    }
    let Some(object) = seen.saved.get_mut(&id) else { return google_error(StatusCode::NOT_FOUND, "gone") };
    if let (Some(object), Some(fields)) = (object.as_object_mut(), body.as_object()) {
        for (key, value) in fields {
            if key != "notifyPreference" {
                object.insert(key.clone(), value.clone());
            }
        }
    }
    Json(object.clone()).into_response()
}
