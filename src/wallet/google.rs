//! Google Wallet loyalty cards: a "Save to Google Wallet" link (an RS256 JWT holding the
//! program's `loyaltyClass` and the customer's `loyaltyObject`) and updates (PATCH of the object).
//!
//! INTERFACE SKETCH — the bodies are being written; the signatures are the contract.

use super::{PassView, WalletError};

/// How the program's class looks.
#[derive(Debug, Clone)]
pub struct GoogleClassTemplate {
    pub program_name: String,
    pub issuer_name: String,
    /// `#rrggbb`.
    pub background_color: String,
    /// A public HTTPS URL of the logo (Google fetches it).
    pub logo_url: Option<String>,
}

/// What one update came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    Patched,
    /// Google has no such object: the customer has not saved the card (yet). Nothing to do.
    NotSaved,
    Retry(String),
    Refused(String),
}

pub struct GoogleWallet {
    _private: (),
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
        let _ = (issuer_id, service_account_json, template, api_base);
        Err(WalletError::Config("not built yet".into()))
    }

    /// `{issuer_id}.{card}` (characters Google refuses replaced).
    pub fn object_id(&self, card: &str) -> String {
        card.to_owned()
    }

    /// `https://pay.google.com/gp/v/save/{jwt}`; `origins` are the pages allowed to show the button.
    pub fn save_link(&self, view: &PassView, origins: &[String]) -> Result<String, WalletError> {
        let _ = (view, origins);
        Err(WalletError::Build("not built yet".into()))
    }

    /// PATCHes the customer's object to show `view`; `notify` asks Google to notify the holder.
    pub async fn patch_object(&self, view: &PassView, notify: bool) -> PatchOutcome {
        let _ = (view, notify);
        PatchOutcome::Refused("not built yet".into())
    }
}
