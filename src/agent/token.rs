//! The agent token: 256 random bits, created at first start in the config directory (readable
//! only by its owner), or given by `LOYALTY_AGENT_TOKEN`. Compared in constant time.

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

    /// Reads the token file, creating it (mode 0600 on Unix) when it does not exist.
    pub fn load_or_create(path: &Path) -> std::io::Result<AgentToken> {
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => return Ok(AgentToken(text.trim().to_owned())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
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
        Ok(token)
    }
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
}
