//! Apple Push Notification service for passes: an empty push on the pass type id's topic tells
//! a device to ask the web service which of its passes changed (PassKit's "Updating a pass").
//!
//! One HTTP/2 connection carries every push (APNs requires HTTP/2; the client offers `h2` in
//! TLS's ALPN and each request asks for it). Token auth signs an ES256 JWT with the chain's
//! .p8 key and reuses it: Apple refuses tokens renewed more often than every 20 minutes and
//! older than an hour, so it is renewed after [`TOKEN_LIFETIME`].

use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::WalletError;

/// How long one JWT is used before a new one is signed.
pub const TOKEN_LIFETIME: i64 = 40 * 60;
/// How long one push may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How the cloud proves itself to APNs.
#[derive(Debug, Clone)]
pub enum ApnsAuth {
    /// Token auth: the chain's .p8 key (PKCS#8 PEM, P-256), its key id and the team id; each
    /// request carries an ES256 JWT, renewed before Apple's one-hour limit.
    Token { key_pem: String, key_id: String, team_id: String },
    /// Certificate auth: the Pass Type ID certificate and key as a TLS client identity.
    Certificate { cert_pem: String, key_pem: String },
}

/// What one push came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Delivered,
    /// The device token is no longer valid (410, or 400 `BadDeviceToken`): forget the device.
    Unregistered,
    /// Worth trying again later (5xx, 429, network); the text says what happened.
    Retry(String),
    /// APNs refused it for a reason a retry will not fix (a bad topic, bad auth).
    Refused(String),
}

struct Signer {
    key: EncodingKey,
    key_id: String,
    team_id: String,
    /// The JWT in use and when it was signed.
    current: Mutex<Option<(String, i64)>>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

impl Signer {
    /// The JWT to send at `now`: the one in use while it is young enough, else a new one.
    /// `renew` forces a new one (APNs said the old one expired).
    fn token(&self, now: i64, renew: bool) -> Result<String, String> {
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((token, signed_at)) = current.as_ref() {
            if !renew && now.saturating_sub(*signed_at) < TOKEN_LIFETIME {
                return Ok(token.clone());
            }
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(&header, &Claims { iss: &self.team_id, iat: now }, &self.key)
            .map_err(|e| format!("cannot sign the APNs token: {e}"))?;
        *current = Some((token.clone(), now));
        Ok(token)
    }
}

/// An HTTP/2 client to APNs for one topic (the pass type id).
pub struct Apns {
    client: reqwest::Client,
    base_url: String,
    topic: String,
    signer: Option<Signer>,
}

impl Apns {
    /// `base_url`: `https://api.push.apple.com` in production; tests point it at a stand-in
    /// and pass that stand-in's CA as `extra_root_pem`.
    pub fn new(base_url: &str, topic: &str, auth: ApnsAuth, extra_root_pem: Option<&str>) -> Result<Apns, WalletError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("loyalty-cloud/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5));
        if let Some(pem) = extra_root_pem {
            let root = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| WalletError::Config(format!("the extra APNs root certificate is not PEM: {e}")))?;
            builder = builder.add_root_certificate(root);
        }
        let signer = match auth {
            ApnsAuth::Token { key_pem, key_id, team_id } => {
                let key = EncodingKey::from_ec_pem(key_pem.as_bytes()).map_err(|e| {
                    WalletError::Config(format!(
                        "the APNs key is not a P-256 private key in PEM (the .p8 file Apple gives): {e}"
                    ))
                })?;
                if key_id.trim().is_empty() || team_id.trim().is_empty() {
                    return Err(WalletError::Config("APNs token auth needs the key id and the team id".into()));
                }
                Some(Signer { key, key_id, team_id, current: Mutex::new(None) })
            }
            ApnsAuth::Certificate { cert_pem, key_pem } => {
                let identity =
                    reqwest::Identity::from_pem(format!("{cert_pem}\n{key_pem}").as_bytes()).map_err(|e| {
                        WalletError::Config(format!("the pass certificate and key cannot sign in to APNs: {e}"))
                    })?;
                builder = builder.identity(identity);
                None
            }
        };
        let client = builder.build().map_err(|e| {
            // reqwest's own text is "builder error"; the reason (a certificate TLS refuses as a
            // client identity, say) is in its source.
            let reason = std::error::Error::source(&e).map(|source| format!(": {source}")).unwrap_or_default();
            WalletError::Config(format!(
                "cannot build the APNs client ({e}{reason}); check the pass certificate and key"
            ))
        })?;
        Ok(Apns { client, base_url: base_url.trim_end_matches('/').to_owned(), topic: topic.to_owned(), signer })
    }

    /// Sends the empty pass-update push to one device.
    pub async fn push(&self, push_token: &str) -> PushOutcome {
        // A device token is hex; anything else never reaches a URL path.
        if push_token.len() < 16 || push_token.len() > 200 || !push_token.chars().all(|c| c.is_ascii_hexdigit()) {
            return PushOutcome::Unregistered;
        }
        let mut renewed = false;
        loop {
            let outcome = self.send(push_token, renewed).await;
            match outcome {
                Sent::ExpiredToken if !renewed && self.signer.is_some() => renewed = true,
                Sent::ExpiredToken => return PushOutcome::Refused("APNs says the provider token expired".into()),
                Sent::Outcome(outcome) => return outcome,
            }
        }
    }

    async fn send(&self, push_token: &str, renew: bool) -> Sent {
        let mut request = self
            .client
            .post(format!("{}/3/device/{push_token}", self.base_url))
            .version(reqwest::Version::HTTP_2)
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "background")
            .header("apns-priority", "5")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}");
        if let Some(signer) = &self.signer {
            match signer.token(crate::clock::now(), renew) {
                Ok(token) => request = request.header(reqwest::header::AUTHORIZATION, format!("bearer {token}")),
                Err(e) => return Sent::Outcome(PushOutcome::Refused(e)),
            }
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Sent::Outcome(PushOutcome::Retry(format!("APNs could not be reached: {e}"))),
        };
        let status = response.status().as_u16();
        if status == 200 {
            return Sent::Outcome(PushOutcome::Delivered);
        }
        let reason = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| body.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
            .unwrap_or_default();
        Sent::Outcome(match (status, reason.as_str()) {
            (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => PushOutcome::Unregistered,
            (403, "ExpiredProviderToken") => return Sent::ExpiredToken,
            (429, _) | (500..=599, _) => PushOutcome::Retry(format!("APNs answered {status} {reason}")),
            _ => PushOutcome::Refused(format!("APNs refused the push: {status} {reason}")),
        })
    }
}

enum Sent {
    Outcome(PushOutcome),
    ExpiredToken,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 key in PKCS#8 PEM, made for this test only.
    fn key_pem() -> Option<String> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("key.p8");
        let made = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
            .arg(&path)
            .status()
            .ok()?;
        made.success().then(|| std::fs::read_to_string(&path).ok()).flatten()
    }

    #[test]
    fn a_token_is_reused_until_it_is_old_and_renewed_on_request() {
        let pem = key_pem().expect("openssl makes a P-256 key");
        let signer = Signer {
            key: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            key_id: "ABC123DEFG".into(),
            team_id: "ABCDE12345".into(),
            current: Mutex::new(None),
        };
        let first = signer.token(1_000, false).unwrap();
        assert_eq!(signer.token(1_000 + TOKEN_LIFETIME - 1, false).unwrap(), first);
        let later = signer.token(1_000 + TOKEN_LIFETIME, false).unwrap();
        assert_ne!(later, first, "an old token is renewed");
        assert_ne!(signer.token(1_000 + TOKEN_LIFETIME + 5, true).unwrap(), later, "a forced renewal signs anew");
        let header = jsonwebtoken::decode_header(&first).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("ABC123DEFG"));
    }

    #[test]
    fn a_key_that_is_not_p256_pem_is_a_configuration_error() {
        let auth = ApnsAuth::Token { key_pem: "not a key".into(), key_id: "K".into(), team_id: "T".into() };
        match Apns::new("https://127.0.0.1:1", "pass.x", auth, None) {
            Err(WalletError::Config(message)) => assert!(message.contains(".p8"), "{message}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a bad key was taken"),
        }
    }
}
