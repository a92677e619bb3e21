//! The agent token: 256 random bits, created at first start in the config directory, or given
//! by `LOYALTY_AGENT_TOKEN`. Compared in constant time.
//!
//! Who may read the file: only its owner (0600), except in a folder set up for a system
//! service. Such a folder admits its group and shuts out everyone else (mode 0750, owner
//! `loyalty-agent`, group `loyalty`, as the Debian package and the launchd steps make it): there
//! the token is created 0640 and given the folder's group, so the cashiers in that group can
//! run the tray and `loyalty-agent open`, which need the token. The folder's mode is the switch
//! because it is the one thing an administrator sets on purpose; a folder the agent creates
//! itself is 0700, and one others may enter (0755) keeps the token private.

use std::io::Write;
use std::path::Path;

use rand::RngCore;
use subtle::ConstantTimeEq;

/// The token a request must present as `Authorization: Bearer …`.
#[derive(Clone)]
pub struct AgentToken(String);

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentToken(<redacted>)")
    }
}

impl AgentToken {
    pub fn new(value: String) -> AgentToken {
        AgentToken(value)
    }

    /// A fresh random token: 32 bytes from the OS generator, hex-encoded.
    pub fn generate() -> AgentToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        AgentToken(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, so the time an answer takes says nothing about the token.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// Reads a token file: `None` when it does not exist or is empty.
    pub fn read(path: &Path) -> std::io::Result<Option<AgentToken>> {
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(AgentToken(text.trim().to_owned()))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads the token file, creating it when it does not exist: mode 0600, or 0640 with the
    /// folder's group in a service folder (see the module documentation).
    pub fn load_or_create(path: &Path) -> std::io::Result<AgentToken> {
        if let Some(token) = AgentToken::read(path)? {
            return Ok(token);
        }
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let token = AgentToken::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        file.write_all(token.0.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        #[cfg(unix)]
        share_with_service_group(path)?;
        Ok(token)
    }
}

/// Creates `dir` and its missing parents; the last one only its owner may enter (0700 on Unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Whether a folder with this mode is a service folder: its group may enter and read it, and
/// nobody else may do anything.
#[cfg(unix)]
pub fn is_service_folder_mode(mode: u32) -> bool {
    mode & 0o050 == 0o050 && mode & 0o007 == 0
}

/// Gives a freshly written token file its folder's group and mode 0640 when the folder is a
/// service folder. The group is changed before the mode, so no other group can read it even
/// for a moment; a group this process may not hand files to is an error, not a silent 0600.
#[cfg(unix)]
fn share_with_service_group(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let folder = std::fs::metadata(dir)?;
    if !is_service_folder_mode(folder.mode()) {
        return Ok(());
    }
    std::os::unix::fs::chown(path, None, Some(folder.gid()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let first = AgentToken::load_or_create(&path).unwrap();
        let again = AgentToken::load_or_create(&path).unwrap();
        assert_eq!(first.as_str(), again.as_str());
        assert_eq!(first.as_str().len(), 64, "256 bits, hex-encoded");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the token");
        }
        assert!(first.matches(again.as_str()));
        assert!(!first.matches("nope"));
    }

    #[cfg(unix)]
    #[test]
    fn a_service_folder_shares_the_token_with_its_group_and_nobody_else() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        for (folder_mode, token_mode) in [(0o750, 0o640), (0o710, 0o600), (0o755, 0o600), (0o700, 0o600)] {
            let folder = dir.path().join(format!("{folder_mode:o}"));
            std::fs::create_dir(&folder).unwrap();
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(folder_mode)).unwrap();
            AgentToken::load_or_create(&folder.join("token")).unwrap();
            assert_eq!(mode(&folder.join("token")), token_mode, "in a {folder_mode:o} folder");
            let group = |p: &Path| std::fs::metadata(p).unwrap().gid();
            assert_eq!(group(&folder.join("token")), group(&folder));
        }
        // A folder the agent makes for itself is private, and so is the token in it.
        let made = dir.path().join("new/deeper");
        AgentToken::load_or_create(&made.join("token")).unwrap();
        assert_eq!((mode(&made), mode(&made.join("token"))), (0o700, 0o600));
    }
}
