//! Apple Wallet: a `storeCard` pass per customer, signed as PassKit requires.
//!
//! INTERFACE SKETCH — the bodies are being written; the signatures are the contract the cloud
//! codes against.

use super::{PassView, WalletError};

/// Which figures the card shows, in order (the points field always comes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassField {
    Points,
    Tier,
    Pending,
    NextExpiry,
    Name,
}

/// How the chain's card looks: read from a template folder (`card.toml`, `logo.png`,
/// `icon.png`, optional `@2x` files) or the built-in defaults.
#[derive(Debug, Clone)]
pub struct CardTemplate {
    pub organization_name: String,
    pub description: String,
    pub logo_text: Option<String>,
    /// CSS-style `rgb(r, g, b)` colours, as pass.json takes them.
    pub foreground_color: String,
    pub background_color: String,
    pub label_color: String,
    pub fields: Vec<PassField>,
    /// PNG files by their name in the pass (`icon.png`, `icon@2x.png`, `logo.png`, …).
    pub images: Vec<(String, Vec<u8>)>,
}

impl CardTemplate {
    /// The built-in card: the product's colours and icon, points/tier/pending/next expiry.
    pub fn default_for(organization_name: &str) -> CardTemplate {
        let _ = organization_name;
        unimplemented_template()
    }

    /// Reads a template folder; a missing `card.toml` key falls back to the default.
    pub fn from_dir(dir: &std::path::Path, organization_name: &str) -> Result<CardTemplate, WalletError> {
        let _ = (dir, organization_name);
        Err(WalletError::Config("not built yet".into()))
    }
}

fn unimplemented_template() -> CardTemplate {
    CardTemplate {
        organization_name: String::new(),
        description: String::new(),
        logo_text: None,
        foreground_color: String::new(),
        background_color: String::new(),
        label_color: String::new(),
        fields: Vec::new(),
        images: Vec::new(),
    }
}

/// The chain's Apple pass identity: the Pass Type ID certificate and its key, Apple's WWDR
/// intermediate, the pass type id and team id, and where the web service lives.
pub struct ApplePasses {
    _private: (),
}

/// The PEM texts and identifiers [`ApplePasses::new`] checks and keeps.
pub struct AppleConfig {
    pub pass_cert_pem: String,
    pub pass_key_pem: String,
    pub wwdr_cert_pem: String,
    pub pass_type_id: String,
    pub team_id: String,
    /// `{public_url}/wallet/apple`.
    pub web_service_url: String,
    pub template: CardTemplate,
}

impl ApplePasses {
    /// Parses and checks the configuration once (the key matches the certificate, the
    /// certificate is not expired is only warned about), so signing a pass cannot fail on it.
    pub fn new(config: AppleConfig) -> Result<ApplePasses, WalletError> {
        let _ = config;
        Err(WalletError::Config("not built yet".into()))
    }

    pub fn pass_type_id(&self) -> &str {
        ""
    }

    /// The signed .pkpass (a zip) for one customer's card. `authentication_token` is the pass's
    /// own web-service token; `change_message` is shown by the points field when it changes.
    pub fn build(&self, view: &PassView, authentication_token: &str) -> Result<Vec<u8>, WalletError> {
        let _ = (view, authentication_token);
        Err(WalletError::Build("not built yet".into()))
    }
}
