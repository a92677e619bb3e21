//! Wallet cards in the cloud: the chain's configuration of Apple Wallet and Google Wallet
//! ([`WalletOptions`] → [`Wallets`], checked once at start), and the background task, one
//! per loyalty-cloud process, that keeps every card's figures true.
//!
//! The task loops over three steps, woken by every committed write and polling besides:
//! recompute the cards noted dirty (`store::wallet`; a short settle time first, so a burst of
//! changes to one customer is one update); send the due APNs pushes (each tells one device to
//! ask the web service which of its passes changed, `api::wallet`); send the due Google
//! updates (the card's figures, notifying the holder when the points changed, at most three
//! times a day). Pushes and updates are retried with a backoff (1 s doubling to 5 min, 10
//! attempts), and a gone device is forgotten.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::store::{ClaimedPatch, ClaimedPush, Delivery, Store};
use crate::clock::{now, now_ms};
use crate::wallet::apns::{Apns, ApnsAuth, PushOutcome};
use crate::wallet::apple::{AppleConfig, ApplePasses, CardTemplate};
use crate::wallet::google::{GoogleClassTemplate, GoogleWallet, PatchOutcome};

/// Apple's production push service.
pub const APNS_URL: &str = "https://api.push.apple.com";
/// Google Wallet's REST API.
pub const GOOGLE_WALLET_URL: &str = "https://walletobjects.googleapis.com";

/// Where a card's changes settle before the card is recomputed: a till's push of a receipt's
/// several events, or an adjustment right after a sale, makes one update.
pub const SETTLE: Duration = Duration::from_secs(1);
/// Cards recomputed per transaction.
const REFRESH_BATCH: i64 = 500;
/// Pushes claimed at a time (all sent at once over APNs' one HTTP/2 connection).
const PUSH_BATCH: i64 = 200;
const PATCH_BATCH: i64 = 50;
const LEASE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(500);
const BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Attempts before a push or update is `failed` (the next change queues it afresh).
pub const MAX_ATTEMPTS: i64 = 10;

/// What the chain configures, as given on the command line or in the environment. A PEM or
/// JSON value may be the text itself or the path of a file holding it.
#[derive(Clone, Default)]
pub struct WalletOptions {
    /// The name on the cards (Apple's organisation name, Google's issuer and program name).
    pub organization: Option<String>,
    /// A template folder: `card.toml`, `icon.png`, `logo.png`, … (see README "Wallet cards").
    pub template_dir: Option<PathBuf>,
    pub apple_pass_cert: Option<String>,
    pub apple_pass_key: Option<String>,
    pub apple_wwdr_cert: Option<String>,
    pub apple_pass_type_id: Option<String>,
    pub apple_team_id: Option<String>,
    /// Token auth for APNs: the .p8 key and its id; without them the pass certificate is the
    /// TLS client identity (certificate auth).
    pub apns_key: Option<String>,
    pub apns_key_id: Option<String>,
    pub apns_url: Option<String>,
    /// An extra root certificate APNs' address is trusted with (a proxy's; tests' stand-in).
    pub apns_ca: Option<String>,
    pub google_issuer_id: Option<String>,
    pub google_key: Option<String>,
    pub google_url: Option<String>,
    /// A public https address of the program's logo (Google fetches it).
    pub google_logo_url: Option<String>,
    /// `#rrggbb`.
    pub google_color: Option<String>,
}

impl std::fmt::Debug for WalletOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletOptions")
            .field("organization", &self.organization)
            .field("template_dir", &self.template_dir)
            .field("apple", &self.apple_pass_type_id)
            .field("apns_url", &self.apns_url)
            .field("google_issuer_id", &self.google_issuer_id)
            .finish_non_exhaustive()
    }
}

/// Apple Wallet as configured: the pass factory and the push client.
pub struct AppleWallet {
    pub passes: ApplePasses,
    pub apns: Apns,
}

/// The configured wallets; either may be absent.
#[derive(Default)]
pub struct Wallets {
    pub apple: Option<AppleWallet>,
    pub google: Option<GoogleWallet>,
    /// The cloud's public address: the origin Google's save button may be shown on.
    pub public_url: Option<String>,
    /// The card template's square icon, served at [`LOGO_PATH`] for Google to fetch when the
    /// chain gives no `--google-wallet-logo-url`.
    pub logo_png: Option<Vec<u8>>,
}

/// Where the cloud serves the card's logo (`api::router` names the same path).
pub const LOGO_PATH: &str = "/wallet/logo.png";

impl std::fmt::Debug for Wallets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallets").field("apple", &self.apple.is_some()).field("google", &self.google.is_some()).finish()
    }
}

/// A configured value's text: the value itself when it looks like PEM or JSON, otherwise
/// the file it names.
fn text_or_file(flag: &str, value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.starts_with("-----BEGIN") || trimmed.starts_with('{') {
        return Ok(trimmed.to_owned());
    }
    std::fs::read_to_string(trimmed).map_err(|e| format!("{flag}: cannot read {trimmed}: {e}"))
}

impl Wallets {
    /// Checks the configuration and builds the wallets; a message names the flag to fix.
    /// Apple needs all of its five values and the public URL; Google its issuer and key.
    pub fn from_options(options: &WalletOptions, public_url: Option<&str>) -> Result<Wallets, String> {
        let organization = options.organization.clone().unwrap_or_else(|| "Программа лояльности".to_owned());
        let template = match &options.template_dir {
            Some(dir) => CardTemplate::from_dir(dir, &organization).map_err(|e| format!("--wallet-template: {e}"))?,
            None => CardTemplate::default_for(&organization),
        };
        let apple_values = [
            ("--apple-pass-cert", &options.apple_pass_cert),
            ("--apple-pass-key", &options.apple_pass_key),
            ("--apple-wwdr-cert", &options.apple_wwdr_cert),
            ("--apple-pass-type-id", &options.apple_pass_type_id),
            ("--apple-team-id", &options.apple_team_id),
        ];
        let given: Vec<&str> = apple_values.iter().filter(|(_, v)| v.is_some()).map(|(flag, _)| *flag).collect();
        let apple = if given.is_empty() {
            None
        } else {
            let missing: Vec<&str> = apple_values.iter().filter(|(_, v)| v.is_none()).map(|(flag, _)| *flag).collect();
            if !missing.is_empty() {
                return Err(format!(
                    "Apple Wallet needs {} as well (or none of {})",
                    missing.join(", "),
                    given.join(", ")
                ));
            }
            let public_url = public_url.ok_or_else(|| {
                "Apple Wallet needs --public-url: passes ask it for their updates (https://loyalty.example.com)"
                    .to_owned()
            })?;
            let value = |flag: &str, v: &Option<String>| text_or_file(flag, v.as_deref().unwrap_or_default());
            let pass_cert_pem = value("--apple-pass-cert", &options.apple_pass_cert)?;
            let pass_key_pem = value("--apple-pass-key", &options.apple_pass_key)?;
            let team_id = options.apple_team_id.clone().unwrap_or_default();
            let pass_type_id = options.apple_pass_type_id.clone().unwrap_or_default();
            let passes = ApplePasses::new(AppleConfig {
                pass_cert_pem: pass_cert_pem.clone(),
                pass_key_pem: pass_key_pem.clone(),
                wwdr_cert_pem: value("--apple-wwdr-cert", &options.apple_wwdr_cert)?,
                pass_type_id: pass_type_id.clone(),
                team_id: team_id.clone(),
                web_service_url: format!("{public_url}/wallet/apple"),
                template: template.clone(),
            })
            .map_err(|e| format!("Apple Wallet: {e}"))?;
            let auth = match (&options.apns_key, &options.apns_key_id) {
                (Some(key), Some(key_id)) => {
                    ApnsAuth::Token { key_pem: text_or_file("--apns-key", key)?, key_id: key_id.clone(), team_id }
                }
                (None, None) => ApnsAuth::Certificate { cert_pem: pass_cert_pem, key_pem: pass_key_pem },
                _ => return Err("APNs token auth needs both --apns-key and --apns-key-id".to_owned()),
            };
            let ca = options.apns_ca.as_deref().map(|ca| text_or_file("--apns-ca", ca)).transpose()?;
            let apns = Apns::new(options.apns_url.as_deref().unwrap_or(APNS_URL), &pass_type_id, auth, ca.as_deref())
                .map_err(|e| format!("APNs: {e}"))?;
            Some(AppleWallet { passes, apns })
        };
        let google = match (&options.google_issuer_id, &options.google_key) {
            (None, None) => None,
            (Some(issuer), Some(key)) => {
                let account = text_or_file("--google-wallet-key", key)?;
                let background_color = options.google_color.clone().unwrap_or_else(|| "#1f6f5c".to_owned());
                // Google fetches the logo itself: the chain's own address, else ours.
                let logo_url = match (&options.google_logo_url, public_url) {
                    (Some(url), _) => url.clone(),
                    (None, Some(public_url)) => format!("{public_url}{LOGO_PATH}"),
                    (None, None) => {
                        return Err("Google Wallet needs --public-url (the cloud serves the card's logo there) \
                                    or --google-wallet-logo-url"
                            .to_owned())
                    }
                };
                let template = GoogleClassTemplate {
                    program_name: organization.clone(),
                    issuer_name: organization.clone(),
                    background_color,
                    logo_url: Some(logo_url),
                };
                Some(
                    GoogleWallet::new(
                        issuer,
                        &account,
                        template,
                        options.google_url.as_deref().unwrap_or(GOOGLE_WALLET_URL),
                    )
                    .map_err(|e| format!("Google Wallet: {e}"))?,
                )
            }
            _ => return Err("Google Wallet needs both --google-wallet-issuer-id and --google-wallet-key".to_owned()),
        };
        let logo_png = ["icon@3x.png", "icon@2x.png", "icon.png"]
            .iter()
            .find_map(|name| template.images.iter().find(|(file, _)| file == name))
            .map(|(_, png)| png.clone());
        Ok(Wallets { apple, google, public_url: public_url.map(str::to_owned), logo_png })
    }

    pub fn any(&self) -> bool {
        self.apple.is_some() || self.google.is_some()
    }
}

/// The wait before attempt `attempts + 1`, or `None` when no attempt is left.
fn retry_at(attempts: i64, now_ms: i64) -> Option<i64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).clamp(0, 16) as u32;
    let wait = BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    Some(now_ms.saturating_add(wait.as_millis() as i64))
}

/// How one push or update ended, in the outbox's words.
enum Attempt {
    Done,
    /// The device is gone (APNs) or the card was never saved (Google): nothing to retry.
    Gone,
    Retry(String),
    Refused(String),
}

impl From<PushOutcome> for Attempt {
    fn from(outcome: PushOutcome) -> Attempt {
        match outcome {
            PushOutcome::Delivered => Attempt::Done,
            PushOutcome::Unregistered => Attempt::Gone,
            PushOutcome::Retry(error) => Attempt::Retry(error),
            PushOutcome::Refused(error) => Attempt::Refused(error),
        }
    }
}

impl From<PatchOutcome> for Attempt {
    fn from(outcome: PatchOutcome) -> Attempt {
        match outcome {
            PatchOutcome::Patched => Attempt::Done,
            PatchOutcome::NotSaved => Attempt::Gone,
            PatchOutcome::Retry(error) => Attempt::Retry(error),
            PatchOutcome::Refused(error) => Attempt::Refused(error),
        }
    }
}

/// What to record of attempt number `attempts` (logged when it failed).
fn delivery(attempt: Attempt, attempts: i64, now_ms: i64, what: &'static str) -> Delivery {
    match attempt {
        Attempt::Done => Delivery::Sent,
        Attempt::Gone => Delivery::Gone,
        Attempt::Retry(error) => {
            tracing::warn!(attempts, error = %error, "{what} did not go through; trying again");
            Delivery::Retry { error, at_ms: retry_at(attempts, now_ms) }
        }
        Attempt::Refused(error) => {
            tracing::warn!(attempts, error = %error, "{what} was refused");
            Delivery::Refused(error)
        }
    }
}

/// Sends a claimed batch at once (one task each, over the services' shared connections) and
/// waits for every one.
async fn send_all<T, F, Fut>(claimed: Vec<T>, send: F)
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut sends = JoinSet::new();
    for item in claimed {
        sends.spawn(send(item));
    }
    while sends.join_next().await.is_some() {}
}

/// Starts the wallet task (nothing runs when no wallet is configured); it ends when `stop`
/// turns true.
pub fn spawn(store: Store, wallets: Arc<Wallets>, stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    wallets.any().then(|| tokio::spawn(run(store, wallets, stop)))
}

async fn run(store: Store, wallets: Arc<Wallets>, mut stop: watch::Receiver<bool>) {
    let owner = uuid::Uuid::new_v4().to_string();
    let changed = store.change_signal();
    tracing::info!(apple = wallets.apple.is_some(), google = wallets.google.is_some(), "wallet updates started");
    loop {
        if *stop.borrow() {
            return;
        }
        let mut busy = false;
        match store.wallet_refresh_dirty(now(), SETTLE, REFRESH_BATCH).await {
            Ok(n) => busy |= n as i64 == REFRESH_BATCH,
            Err(e) => tracing::warn!(error = %e, "cannot recompute wallet cards; trying again"),
        }
        if wallets.apple.is_some() {
            match store.claim_apple_pushes(owner.clone(), now_ms(), LEASE, PUSH_BATCH).await {
                Ok(claimed) => {
                    busy |= claimed.len() as i64 == PUSH_BATCH;
                    send_pushes(&store, &wallets, &owner, claimed).await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the APNs outbox"),
            }
        }
        if wallets.google.is_some() {
            match store.claim_google_patches(owner.clone(), now_ms(), LEASE, PATCH_BATCH).await {
                Ok(claimed) => {
                    busy |= claimed.len() as i64 == PATCH_BATCH;
                    send_patches(&store, &wallets, &owner, claimed).await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the Google Wallet outbox"),
            }
        }
        if busy {
            continue;
        }
        tokio::select! {
            _ = changed.notified() => {
                // Let the change settle (see SETTLE) before looking; a poll comes anyway.
                tokio::time::sleep(POLL).await;
            }
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn send_pushes(store: &Store, wallets: &Arc<Wallets>, owner: &str, claimed: Vec<ClaimedPush>) {
    send_all(claimed, |push| {
        let (store, wallets, owner) = (store.clone(), wallets.clone(), owner.to_owned());
        async move {
            let Some(apple) = &wallets.apple else { return };
            let attempt = Attempt::from(apple.apns.push(&push.push_token).await);
            let now = now_ms();
            let outcome = delivery(attempt, push.attempts, now, "an APNs push");
            if let Err(e) = store.finish_apple_push(owner, push, outcome, now).await {
                tracing::warn!(error = %e, "cannot record an APNs push; its lease runs out and it is sent again");
            }
        }
    })
    .await;
}

async fn send_patches(store: &Store, wallets: &Arc<Wallets>, owner: &str, claimed: Vec<ClaimedPatch>) {
    send_all(claimed, |patch| {
        let (store, wallets, owner) = (store.clone(), wallets.clone(), owner.to_owned());
        async move {
            let Some(google) = &wallets.google else { return };
            let attempt = Attempt::from(google.patch_object(&patch.view, patch.notify).await);
            let now = now_ms();
            let outcome = delivery(attempt, patch.attempts, now, "a Google Wallet update");
            if let Err(e) = store.finish_google_patch(owner, patch, outcome, now).await {
                tracing::warn!(error = %e, "cannot record a Google Wallet update; its lease runs out and it is sent again");
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_then_stop() {
        assert_eq!(retry_at(1, 0), Some(1_000));
        assert_eq!(retry_at(3, 0), Some(4_000));
        assert_eq!(retry_at(9, 0), Some(256_000));
        assert_eq!(retry_at(MAX_ATTEMPTS, 0), None);
    }

    #[test]
    fn apple_needs_all_of_its_values_and_a_public_url() {
        let partial = WalletOptions { apple_pass_type_id: Some("pass.com.example".into()), ..Default::default() };
        let error = Wallets::from_options(&partial, Some("https://x.example")).unwrap_err();
        assert!(error.contains("--apple-pass-cert") && error.contains("--apple-team-id"), "{error}");
        let google = WalletOptions { google_issuer_id: Some("3388".into()), ..Default::default() };
        assert!(Wallets::from_options(&google, None).unwrap_err().contains("--google-wallet-key"));
        assert!(!Wallets::from_options(&WalletOptions::default(), None).unwrap().any());
    }
}
