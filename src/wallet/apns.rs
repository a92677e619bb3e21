//! Apple Push Notification service for passes: an empty push on the pass type id's topic tells
//! a device to ask the web service what changed.
//!
//! INTERFACE SKETCH — the bodies are being written; the signatures are the contract.

use super::WalletError;

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

/// An HTTP/2 client to APNs for one topic (the pass type id).
pub struct Apns {
    _private: (),
}

impl Apns {
    /// `base_url`: `https://api.push.apple.com` in production; tests point it at a stand-in
    /// and pass that stand-in's CA as `extra_root_pem`.
    pub fn new(base_url: &str, topic: &str, auth: ApnsAuth, extra_root_pem: Option<&str>) -> Result<Apns, WalletError> {
        let _ = (base_url, topic, auth, extra_root_pem);
        Err(WalletError::Config("not built yet".into()))
    }

    /// Sends the empty pass-update push to one device.
    pub async fn push(&self, push_token: &str) -> PushOutcome {
        let _ = push_token;
        PushOutcome::Refused("not built yet".into())
    }
}
