//! Google Wallet loyalty cards: a "Save to Google Wallet" link (an RS256 JWT holding the
//! program's `loyaltyClass` and the customer's `loyaltyObject`) and updates (a PATCH of the
//! object through Google's REST API).
//!
//! The chain's service account signs both: the save link directly, the API calls through an
//! OAuth access token obtained by the JWT-bearer grant at the key's `token_uri` and reused until
//! shortly before it expires. A PATCH of an object Google does not have answers 404: the
//! customer has not saved the card yet, and their next save link carries the current figures.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{NextExpiry, PassView, WalletError};

/// Where a save link sends the shopper.
const SAVE_URL: &str = "https://pay.google.com/gp/v/save/";
/// The OAuth scope of the Wallet API.
const SCOPE: &str = "https://www.googleapis.com/auth/wallet_object.issuer";
/// How long one API call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// An access token is renewed this long before Google says it expires.
const TOKEN_MARGIN_S: i64 = 120;

/// How the program's class looks.
#[derive(Debug, Clone)]
pub struct GoogleClassTemplate {
    pub program_name: String,
    pub issuer_name: String,
    /// `#rrggbb`.
    pub background_color: String,
    /// A public HTTPS URL of the logo (Google fetches it; a class needs one).
    pub logo_url: Option<String>,
}

/// What one update came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    Patched,
    /// Google has no such object: the customer has not saved the card (yet). Nothing to do.
    NotSaved,
    /// Worth trying again later (5xx, 429, network); the text says what happened.
    Retry(String),
    /// Google refused it for a reason a retry will not fix (a bad key, a malformed object).
    Refused(String),
}

/// The parts of a service account key file this module uses.
#[derive(serde::Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

/// An access token and the Unix second from which it is renewed.
struct AccessToken {
    value: String,
    renew_at: i64,
}

/// Signs save links and updates one issuer's loyalty objects.
pub struct GoogleWallet {
    issuer_id: String,
    client_email: String,
    token_uri: String,
    key: EncodingKey,
    key_id: Option<String>,
    template: GoogleClassTemplate,
    api_base: String,
    client: reqwest::Client,
    /// One token for every concurrent update; the lock is held while a new one is fetched so a
    /// burst asks Google once.
    access: tokio::sync::Mutex<Option<AccessToken>>,
}

impl std::fmt::Debug for GoogleWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleWallet").field("issuer_id", &self.issuer_id).field("api_base", &self.api_base).finish()
    }
}

impl GoogleWallet {
    /// `service_account_json`: the key file Google Cloud gives (`client_email`, `private_key`,
    /// `token_uri`). `api_base`: `https://walletobjects.googleapis.com` in production.
    pub fn new(
        issuer_id: &str,
        service_account_json: &str,
        template: GoogleClassTemplate,
        api_base: &str,
    ) -> Result<GoogleWallet, WalletError> {
        let issuer_id = issuer_id.trim();
        if issuer_id.is_empty() || !issuer_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(WalletError::Config(format!(
                "the Google Wallet issuer id is the number the Google Pay & Wallet Console shows, not {issuer_id:?}"
            )));
        }
        let account: ServiceAccount = serde_json::from_str(service_account_json).map_err(|e| {
            WalletError::Config(format!(
                "the Google Wallet key is not a service account key file (JSON with client_email and private_key): {e}"
            ))
        })?;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes()).map_err(|e| {
            WalletError::Config(format!("the service account's private_key is not an RSA key in PEM: {e}"))
        })?;
        if !account.client_email.contains('@') {
            return Err(WalletError::Config("the service account key has no client_email".into()));
        }
        if !template.background_color.starts_with('#') || template.background_color.len() != 7 {
            return Err(WalletError::Config(format!(
                "the Google Wallet colour is #rrggbb, not {:?}",
                template.background_color
            )));
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("loyalty-cloud/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| WalletError::Config(format!("cannot build the Google Wallet client: {e}")))?;
        Ok(GoogleWallet {
            issuer_id: issuer_id.to_owned(),
            client_email: account.client_email,
            token_uri: account.token_uri,
            key,
            key_id: account.private_key_id,
            template,
            api_base: api_base.trim_end_matches('/').to_owned(),
            client,
            access: tokio::sync::Mutex::new(None),
        })
    }

    /// The program's one class: `{issuer_id}.loyalty`.
    pub fn class_id(&self) -> String {
        format!("{}.loyalty", self.issuer_id)
    }

    /// `{issuer_id}.{card}`, characters Google refuses (anything but letters, digits, `.`, `_`
    /// and `-`) replaced by `_`.
    pub fn object_id(&self, card: &str) -> String {
        let suffix: String =
            card.trim().chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        format!("{}.{suffix}", self.issuer_id)
    }

    /// `https://pay.google.com/gp/v/save/{jwt}`; `origins` are the pages allowed to show the button.
    pub fn save_link(&self, view: &PassView, origins: &[String]) -> Result<String, WalletError> {
        let claims = json!({
            "iss": self.client_email,
            "aud": "google",
            "typ": "savetowallet",
            "iat": crate::clock::now(),
            "origins": origins,
            "payload": {
                "loyaltyClasses": [self.class_json()],
                "loyaltyObjects": [self.object_json(view)],
            },
        });
        let jwt = jsonwebtoken::encode(&self.header(), &claims, &self.key)
            .map_err(|e| WalletError::Build(format!("cannot sign the save link: {e}")))?;
        Ok(format!("{SAVE_URL}{jwt}"))
    }

    /// PATCHes the customer's object to show `view`; `notify` asks Google to notify the holder
    /// (Google allows three notified updates per pass a day; the caller counts them).
    pub async fn patch_object(&self, view: &PassView, notify: bool) -> PatchOutcome {
        let mut body = self.object_json(view);
        if notify {
            body["notifyPreference"] = Value::String("NOTIFY_ON_UPDATE".into());
        }
        let url = format!("{}/walletobjects/v1/loyaltyObject/{}", self.api_base, self.object_id(&view.card));
        let mut renewed = false;
        loop {
            let token = match self.access_token(renewed).await {
                Ok(token) => token,
                Err(outcome) => return outcome,
            };
            let response = match self.client.patch(&url).bearer_auth(&token).json(&body).send().await {
                Ok(response) => response,
                Err(e) => return PatchOutcome::Retry(format!("Google Wallet could not be reached: {e}")),
            };
            let status = response.status().as_u16();
            if status == 401 && !renewed {
                // The token was revoked or expired early: one fresh token, one more try.
                renewed = true;
                continue;
            }
            return match status {
                200..=299 => PatchOutcome::Patched,
                404 => PatchOutcome::NotSaved,
                408 | 429 | 500..=599 => PatchOutcome::Retry(format!("Google Wallet answered {status}")),
                _ => PatchOutcome::Refused(format!(
                    "Google Wallet refused the update: {status} {}",
                    google_message(response).await
                )),
            };
        }
    }

    fn header(&self) -> Header {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        header
    }

    /// The token to call the API with: the one held while it is fresh, else a new one
    /// (`renew` forces a new one).
    async fn access_token(&self, renew: bool) -> Result<String, PatchOutcome> {
        let mut held = self.access.lock().await;
        let now = crate::clock::now();
        if let Some(token) = held.as_ref().filter(|token| !renew && now < token.renew_at) {
            return Ok(token.value.clone());
        }
        let assertion = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let assertion = jsonwebtoken::encode(&self.header(), &assertion, &self.key)
            .map_err(|e| PatchOutcome::Refused(format!("cannot sign the Google token request: {e}")))?;
        let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.as_str())];
        let response = self
            .client
            .post(&self.token_uri)
            .form(&form)
            .send()
            .await
            .map_err(|e| PatchOutcome::Retry(format!("Google's token endpoint could not be reached: {e}")))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let detail = google_message(response).await;
            return Err(if status == 429 || status >= 500 {
                PatchOutcome::Retry(format!("Google's token endpoint answered {status}"))
            } else {
                PatchOutcome::Refused(format!(
                    "Google refused the service account (check the key and that it may use the Wallet API): {status} {detail}"
                ))
            });
        }
        #[derive(serde::Deserialize)]
        struct Granted {
            access_token: String,
            #[serde(default)]
            expires_in: Option<i64>,
        }
        let granted: Granted = response
            .json()
            .await
            .map_err(|e| PatchOutcome::Retry(format!("Google's token answer could not be read: {e}")))?;
        let lifetime = granted.expires_in.unwrap_or(3600).max(0);
        let renew_at = now + (lifetime - TOKEN_MARGIN_S).max(0);
        *held = Some(AccessToken { value: granted.access_token.clone(), renew_at });
        Ok(granted.access_token)
    }

    fn class_json(&self) -> Value {
        let template = &self.template;
        let mut class = json!({
            "id": self.class_id(),
            "issuerName": template.issuer_name,
            "programName": template.program_name,
            "hexBackgroundColor": template.background_color,
            "reviewStatus": "UNDER_REVIEW",
            "countryCode": "RU",
            "multipleDevicesAndHoldersAllowedStatus": "ONE_USER_ALL_DEVICES",
        });
        if let Some(logo) = &template.logo_url {
            class["programLogo"] = json!({
                "sourceUri": {"uri": logo},
                "contentDescription": localized(&template.program_name, &template.program_name),
            });
        }
        class
    }

    /// The customer's object: the card's QR (what the tills read), the points, what may be
    /// spent now, and the tier, pending points and next expiry as text modules.
    fn object_json(&self, view: &PassView) -> Value {
        let card = view.card.as_str();
        let name = view.name.as_deref().map(str::trim).filter(|name| !name.is_empty()).unwrap_or(card);
        let mut modules = Vec::new();
        if let Some(tier) = view.tier.as_deref().map(str::trim).filter(|tier| !tier.is_empty()) {
            modules.push(text_module("tier", ("Уровень", "Tier"), (tier, tier)));
        }
        if view.pending > 0 {
            let pending = view.pending.to_string();
            modules.push(text_module("pending", ("Ожидают начисления", "Pending"), (&pending, &pending)));
        }
        if let Some((points, date)) = next_expiry(view.next_expiry) {
            let ru = format!("{points} — {date}");
            modules.push(text_module("next_expiry", ("Скоро сгорят", "Expiring soon"), (&ru, &ru)));
        }
        json!({
            "id": self.object_id(card),
            "classId": self.class_id(),
            "state": "ACTIVE",
            "accountId": card,
            "accountName": name,
            "barcode": {
                "type": "QR_CODE",
                "value": crate::identity::card_qr_payload(card),
                "alternateText": card,
            },
            "loyaltyPoints": {
                "label": "Баллы",
                "localizedLabel": localized("Баллы", "Points"),
                "balance": {"int": view.balance},
            },
            "secondaryLoyaltyPoints": {
                "label": "Можно потратить",
                "localizedLabel": localized("Можно потратить", "Available"),
                "balance": {"int": view.available},
            },
            "textModulesData": modules,
        })
    }
}

/// A Google `LocalizedString`: Russian by default, English beside it.
fn localized(ru: &str, en: &str) -> Value {
    json!({
        "defaultValue": {"language": "ru", "value": ru},
        "translatedValues": [{"language": "en", "value": en}],
    })
}

fn text_module(id: &str, header: (&str, &str), body: (&str, &str)) -> Value {
    json!({
        "id": id,
        "header": header.0,
        "body": body.0,
        "localizedHeader": localized(header.0, header.1),
        "localizedBody": localized(body.0, body.1),
    })
}

/// The next points to expire and their day (`YYYY-MM-DD`, UTC), when any are about to.
fn next_expiry(expiry: Option<NextExpiry>) -> Option<(i64, String)> {
    let expiry = expiry.filter(|expiry| expiry.points > 0)?;
    let date = time::OffsetDateTime::from_unix_timestamp(expiry.at).ok()?.date();
    Some((expiry.points, date.to_string()))
}

/// Google's error sentence (`{"error": {"message"}}`), or nothing.
async fn google_message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let error = &body["error"];
    let message = error["message"].as_str().or_else(|| error.as_str()).unwrap_or_default();
    message.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RSA key in PKCS#8 PEM and its public half, made for this test only.
    fn rsa_keys() -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let public = dir.path().join("public.pem");
        let made = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        let exported = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&public)
            .status()
            .unwrap();
        assert!(exported.success());
        (std::fs::read_to_string(key).unwrap(), std::fs::read_to_string(public).unwrap())
    }

    fn template() -> GoogleClassTemplate {
        GoogleClassTemplate {
            program_name: "Ромашка".into(),
            issuer_name: "Ромашка".into(),
            background_color: "#1f6f5c".into(),
            logo_url: Some("https://loyalty.example/wallet/logo.png".into()),
        }
    }

    fn view() -> PassView {
        PassView {
            card: "2700000012347".into(),
            name: Some("Анна".into()),
            balance: 171,
            available: 96,
            pending: 75,
            tier: Some("Золото".into()),
            next_expiry: Some(NextExpiry { points: 20, at: 1_800_000_000 }),
        }
    }

    #[test]
    fn a_save_link_is_an_rs256_jwt_with_the_class_and_the_customers_object() {
        let (key, public) = rsa_keys();
        let account = json!({"client_email": "wallet@chain.iam.gserviceaccount.com", "private_key": key,
                              "private_key_id": "k1"});
        let google =
            GoogleWallet::new("3388000000022", &account.to_string(), template(), "http://127.0.0.1:1").unwrap();
        let link = google.save_link(&view(), &["https://loyalty.example".into()]).unwrap();
        let jwt = link.strip_prefix(SAVE_URL).expect("a pay.google.com save link");
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&["google"]);
        validation.required_spec_claims.clear();
        let decoded = jsonwebtoken::decode::<Value>(
            jwt,
            &jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
            &validation,
        )
        .expect("the link verifies with the service account's public key");
        assert_eq!(decoded.header.kid.as_deref(), Some("k1"));
        let claims = decoded.claims;
        assert_eq!(claims["typ"], "savetowallet");
        assert_eq!(claims["iss"], "wallet@chain.iam.gserviceaccount.com");
        assert_eq!(claims["origins"], json!(["https://loyalty.example"]));
        let class = &claims["payload"]["loyaltyClasses"][0];
        assert_eq!(class["id"], "3388000000022.loyalty");
        assert_eq!(class["programLogo"]["sourceUri"]["uri"], "https://loyalty.example/wallet/logo.png");
        let object = &claims["payload"]["loyaltyObjects"][0];
        assert_eq!(object["id"], "3388000000022.2700000012347");
        assert_eq!(object["classId"], "3388000000022.loyalty");
        assert_eq!(
            object["barcode"],
            json!({"type": "QR_CODE", "value": "2700000012347", "alternateText": "2700000012347"})
        );
        assert_eq!(object["loyaltyPoints"]["balance"], json!({"int": 171}));
        assert_eq!(object["secondaryLoyaltyPoints"]["balance"], json!({"int": 96}));
        assert_eq!(object["loyaltyPoints"]["localizedLabel"]["translatedValues"][0]["value"], "Points");
        let modules: Vec<&str> =
            object["textModulesData"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(modules, ["tier", "pending", "next_expiry"]);
        assert_eq!(object["textModulesData"][0]["body"], "Золото");
        assert_eq!(object["textModulesData"][2]["body"], "20 — 2027-01-15");
    }

    #[test]
    fn object_ids_keep_only_what_google_takes() {
        let (key, _) = rsa_keys();
        let account = json!({"client_email": "w@x.iam.gserviceaccount.com", "private_key": key});
        let google = GoogleWallet::new("3388", &account.to_string(), template(), "http://127.0.0.1:1").unwrap();
        assert_eq!(google.object_id(" VIP 7/é "), "3388.VIP_7__");
        assert_eq!(google.object_id("2700-01.x_y"), "3388.2700-01.x_y");
    }

    #[test]
    fn an_unusable_configuration_says_what_to_fix() {
        let (key, _) = rsa_keys();
        let account = json!({"client_email": "w@x.iam.gserviceaccount.com", "private_key": key}).to_string();
        let message = |result: Result<GoogleWallet, WalletError>| match result {
            Err(WalletError::Config(message)) => message,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("an unusable configuration was taken"),
        };
        assert!(message(GoogleWallet::new("issuer", &account, template(), "x")).contains("issuer id"));
        assert!(message(GoogleWallet::new("3388", "{}", template(), "x")).contains("service account key"));
        let bad_key = json!({"client_email": "w@x", "private_key": "nope"}).to_string();
        assert!(message(GoogleWallet::new("3388", &bad_key, template(), "x")).contains("RSA"));
        let colour = GoogleClassTemplate { background_color: "green".into(), ..template() };
        assert!(message(GoogleWallet::new("3388", &account, colour, "x")).contains("#rrggbb"));
    }
}
