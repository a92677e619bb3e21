//! `loyalty-agent enroll --cloud URL --code CODE`: joins this till to a cloud, then pages the
//! cloud's whole directory into the local database with a progress display, so the till can
//! find every customer before it serves its first sale in connected mode.
//!
//! With `--replace` the till is enrolled again over its own database — the way back for a till
//! restored from an old backup, which the cloud stops with `sequence_conflict` because it holds
//! other events under the same numbers (CONTRACTS.md §sync). The cloud says how far its numbering
//! of this till goes and which of the till's unsent events it already holds; those leave the
//! outbox, the rest are numbered after the cloud's (`Store::renumber_outbox`), and the directory
//! and balances are pulled again from the beginning, so what the lost copy sold (which the cloud
//! holds) is in the balances once and what this copy sold since reaches the cloud once.

use indicatif::{ProgressBar, ProgressStyle};

use super::cloud_link::CloudLink;
use super::config::AgentConfig;
use super::store::{Renumbered, Store, StoreSettings};
use super::sync::{pull_to_end, SyncClient, SyncError};
use crate::wire::MAX_KNOWN_EVENTS;

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(
        "this till is already enrolled with {0}. To enroll it again over its own database (e.g. after a restore from a backup), add --replace; to join another cloud from scratch, remove cloud.toml from the config folder"
    )]
    AlreadyEnrolled(String),
    #[error(
        "this till is enrolled with {cloud} and the cloud has not refused its numbering: --replace renumbers the operations it has not sent yet after the cloud's and pulls everything again. Run it again with --yes if that is what you want"
    )]
    NotInConflict { cloud: String },
    #[error(
        "the cloud at {0} does not say how far its numbering of this till goes (it is older than this agent); upgrade the cloud, then run enroll --replace with a new code"
    )]
    CloudTooOld(String),
    #[error("enrollment failed: {0}")]
    Sync(#[from] SyncError),
    #[error(
        "the till was enrolled again (its new token is saved), but its unsent operations could not be renumbered: {0}. Sync stays stopped; ask the back office for another code and run enroll --replace again"
    )]
    Recovery(SyncError),
    #[error(transparent)]
    Link(#[from] super::cloud_link::LinkError),
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
}

/// How the till is enrolled: as a new one, or again over its own database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Enrolment {
    #[default]
    New,
    /// `--replace`; `confirmed` is `--yes`, needed when the cloud has not refused the till.
    Replace { confirmed: bool },
}

/// What enrollment did.
pub struct EnrollReport {
    pub link: CloudLink,
    pub changes_pulled: usize,
    /// With `--replace`: what became of the operations the till had not sent.
    pub renumbered: Option<Renumbered>,
}

pub async fn enroll(
    config: &AgentConfig,
    cloud: &str,
    code: &str,
    enrolment: Enrolment,
    progress: bool,
) -> Result<EnrollReport, EnrollError> {
    let settings = StoreSettings {
        default_region: config.default_country.clone(),
        card_prefix: config.card_prefix.clone(),
        connected: true,
        store: None,
    };
    let existing = CloudLink::load(&config.config_dir)?;
    let store = match (&existing, enrolment) {
        (Some(existing), Enrolment::New) => return Err(EnrollError::AlreadyEnrolled(existing.url.clone())),
        (Some(existing), Enrolment::Replace { confirmed: false }) => {
            let store = Store::open(&config.database_path(), settings)?;
            if store.sequence_conflict().await?.is_none() {
                return Err(EnrollError::NotInConflict { cloud: existing.url.clone() });
            }
            store
        }
        _ => Store::open(&config.database_path(), settings)?,
    };

    let answer = SyncClient::enroll(cloud, code).await?;
    let link = CloudLink {
        url: cloud.trim_end_matches('/').to_owned(),
        till_id: answer.till_id,
        store: answer.store,
        device_token: answer.device_token,
    };
    // The cloud has replaced the till's token: save the new one whatever happens next.
    link.save(&config.config_dir)?;
    let client = SyncClient::for_link(&link).reporting(store.clone());

    let renumbered = match enrolment {
        Enrolment::New => None,
        Enrolment::Replace { .. } => {
            let last_seq = answer.last_seq.ok_or_else(|| EnrollError::CloudTooOld(link.url.clone()))?;
            Some(recover_numbering(&client, &store, last_seq).await.map_err(EnrollError::Recovery)?)
        }
    };

    let bar = if progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let pulled = pull_to_end(&client, &store, |_, pulled| bar.set_position(pulled as u64)).await?;
    store.record_sync_success(crate::clock::now()).await?;
    bar.finish_with_message("done");
    Ok(EnrollReport { link, changes_pulled: pulled, renumbered })
}

/// Asks the cloud which unsent events it holds, then renumbers the outbox after `last_seq`.
async fn recover_numbering(client: &SyncClient, store: &Store, last_seq: i64) -> Result<Renumbered, SyncError> {
    let ids = store.outbox_event_ids().await?;
    let mut known = Vec::new();
    for chunk in ids.chunks(MAX_KNOWN_EVENTS) {
        known.extend(client.known_events(chunk.to_vec()).await?);
    }
    let report = store.renumber_outbox(known, last_seq, crate::clock::now()).await?;
    tracing::info!(
        already_held = report.already_held,
        rejected = report.rejected,
        renumbered = report.renumbered,
        first_seq = report.first_seq,
        "the outbox now follows the cloud's numbering"
    );
    Ok(report)
}
