//! The link to a cloud, made by `loyalty-agent enroll`: the cloud's address and this till's
//! identity (`cloud.toml`) and its device token (`device_token`, readable only by its owner),
//! both in the config directory. With a link the agent runs `connected`; without, `standalone`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct CloudLink {
    /// Base address of loyalty-cloud, e.g. `https://loyalty.example.com`.
    pub url: String,
    pub till_id: String,
    pub store: String,
    #[serde(skip)]
    pub device_token: String,
}

impl std::fmt::Debug for CloudLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudLink")
            .field("url", &self.url)
            .field("till_id", &self.till_id)
            .field("store", &self.store)
            .field("device_token", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {message}; enroll the till again")]
    Invalid { path: PathBuf, message: String },
}

impl CloudLink {
    fn paths(config_dir: &Path) -> (PathBuf, PathBuf) {
        (config_dir.join("cloud.toml"), config_dir.join("device_token"))
    }

    /// The link, or `None` when the till was never enrolled.
    pub fn load(config_dir: &Path) -> Result<Option<CloudLink>, LinkError> {
        let (link_path, token_path) = CloudLink::paths(config_dir);
        let text = match std::fs::read_to_string(&link_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LinkError::Io { path: link_path, source }),
        };
        let mut link: CloudLink = toml::from_str(&text)
            .map_err(|e| LinkError::Invalid { path: link_path.clone(), message: e.to_string() })?;
        link.device_token = std::fs::read_to_string(&token_path)
            .map_err(|source| LinkError::Io { path: token_path.clone(), source })?
            .trim()
            .to_owned();
        if link.device_token.is_empty() {
            return Err(LinkError::Invalid { path: token_path, message: "the device token is empty".into() });
        }
        Ok(Some(link))
    }

    /// Writes the link: the token first (mode 0600), then `cloud.toml`, whose presence is what
    /// switches the agent to connected mode.
    pub fn save(&self, config_dir: &Path) -> Result<(), LinkError> {
        let (link_path, token_path) = CloudLink::paths(config_dir);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LinkError::Io { path, source }
        };
        std::fs::create_dir_all(config_dir).map_err(io(config_dir))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&token_path).map_err(io(&token_path))?;
        file.write_all(self.device_token.as_bytes()).map_err(io(&token_path))?;
        file.sync_all().map_err(io(&token_path))?;
        let text = toml::to_string(self)
            .map_err(|e| LinkError::Invalid { path: link_path.clone(), message: e.to_string() })?;
        std::fs::write(&link_path, text).map_err(io(&link_path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absence() {
        let dir = tempfile::tempdir().unwrap();
        assert!(CloudLink::load(dir.path()).unwrap().is_none());
        let link = CloudLink {
            url: "http://127.0.0.1:1".into(),
            till_id: "t1".into(),
            store: "s1".into(),
            device_token: "secret".into(),
        };
        link.save(dir.path()).unwrap();
        let loaded = CloudLink::load(dir.path()).unwrap().unwrap();
        assert_eq!(
            (loaded.url, loaded.till_id, loaded.device_token),
            (link.url.clone(), link.till_id.clone(), link.device_token.clone())
        );
        assert!(!std::fs::read_to_string(dir.path().join("cloud.toml")).unwrap().contains("secret"));
        assert!(!format!("{link:?}").contains("secret"));
    }
}
