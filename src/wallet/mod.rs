//! The customer's card in their phone's wallet: Apple Wallet passes (`apple`, signed .pkpass
//! files), the pushes that tell a device one changed (`apns`), and Google Wallet loyalty objects
//! (`google`: save links and updates).
//!
//! This layer knows the wallets' formats and protocols, not where a customer's figures come
//! from: the cloud builds a [`PassView`] from its store and hands it here (`cloud::wallet`
//! decides when a card changed and runs the outboxes). It never names `agent`, `cloud` or
//! `http`.

pub mod apns;
pub mod apple;
pub mod google;

/// What a wallet card shows, as of one moment. Money-like figures are whole points.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PassView {
    /// The card number: Apple's serial number, Google's object id suffix, and the barcode's
    /// payload (`identity::card_qr_payload`, which the tills read).
    pub card: String,
    /// The holder's name, when the directory has one.
    pub name: Option<String>,
    /// Points on the card (including points not yet spendable).
    pub balance: i64,
    /// Points that may be spent now.
    pub available: i64,
    /// Points earned but not yet spendable (the hold after a sale).
    pub pending: i64,
    /// The customer's tier (the program's group name).
    pub tier: Option<String>,
    /// The next points to expire: how many, and when (Unix seconds).
    pub next_expiry: Option<NextExpiry>,
}

/// The next points to expire on a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NextExpiry {
    pub points: i64,
    pub at: i64,
}

/// Why a wallet card could not be built, signed or sent.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The chain's configuration is unusable (a certificate that does not parse, a key that
    /// does not match it, a missing template file); the text says which and what to fix.
    #[error("wallet configuration: {0}")]
    Config(String),
    /// Building or signing a card failed.
    #[error("could not build the wallet card: {0}")]
    Build(String),
}
