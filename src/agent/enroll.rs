//! `loyalty-agent enroll --cloud URL --code CODE`: joins this till to a cloud, then pages the
//! cloud's whole directory into the local database with a progress display, so the till can
//! find every customer before it serves its first sale in connected mode.

use indicatif::{ProgressBar, ProgressStyle};

use super::cloud_link::CloudLink;
use super::config::AgentConfig;
use super::store::{Store, StoreSettings};
use super::sync::{pull_to_end, SyncClient, SyncError};

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("this till is already enrolled with {0}; remove cloud.toml from the config folder to enroll it elsewhere")]
    AlreadyEnrolled(String),
    #[error("enrollment failed: {0}")]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Link(#[from] super::cloud_link::LinkError),
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
}

/// What enrollment did.
pub struct EnrollReport {
    pub link: CloudLink,
    pub changes_pulled: usize,
}

pub async fn enroll(
    config: &AgentConfig,
    cloud: &str,
    code: &str,
    progress: bool,
) -> Result<EnrollReport, EnrollError> {
    if let Some(existing) = CloudLink::load(&config.config_dir)? {
        return Err(EnrollError::AlreadyEnrolled(existing.url));
    }
    let answer = SyncClient::enroll(cloud, code).await?;
    let link = CloudLink {
        url: cloud.trim_end_matches('/').to_owned(),
        till_id: answer.till_id,
        store: answer.store,
        device_token: answer.device_token,
    };
    link.save(&config.config_dir)?;

    let settings = StoreSettings {
        default_region: config.default_country.clone(),
        card_prefix: config.card_prefix.clone(),
        connected: true,
    };
    let store = Store::open(&config.database_path(), settings)?;
    let client = SyncClient::new(&link.url, &link.device_token);
    let bar = if progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let pulled = pull_to_end(&client, &store, |_, pulled| bar.set_position(pulled as u64)).await?;
    store.record_sync_success(crate::clock::now()).await?;
    bar.finish_with_message("done");
    Ok(EnrollReport { link, changes_pulled: pulled })
}
