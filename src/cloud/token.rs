//! Secrets of the cloud: the admin token (256 random bits, from `LOYALTY_CLOUD_ADMIN_TOKEN` or a
//! 0600 file in the data directory created at first start), device tokens (256 bits, shown once,
//! stored only as SHA-256) and enrollment codes (short, human-typable, single use).

use std::io::Write;
use std::path::Path;

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Letters and digits nobody confuses when reading a code aloud or typing it (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters in an enrollment code: 31^10 ≈ 8·10^14 codes, enough for a code that lives a day.
pub const CODE_LENGTH: usize = 10;

/// The admin token. Compared in constant time; never printed by `Debug`.
#[derive(Clone)]
pub struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    pub fn new(value: String) -> AdminToken {
        AdminToken(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, presented: &str) -> bool {
        !self.0.is_empty() && bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Reads the token file, creating it (mode 0600 on Unix) when it does not exist.
    pub fn load_or_create(path: &Path) -> std::io::Result<AdminToken> {
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => return Ok(AdminToken(text.trim().to_owned())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let token = random_token();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        Ok(AdminToken(token))
    }
}

/// 32 bytes from the OS generator, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A fresh enrollment code, e.g. `K7QX4M2PZA`.
pub fn enrollment_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LENGTH).map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())])).collect()
}

/// A fresh referral code (`identity::normalize_referral_code`'s form), e.g. `K7QX4M2W`.
pub fn referral_code() -> String {
    let mut rng = rand::rng();
    crate::identity::referral_code_from(std::array::from_fn(|_| rng.random_range(0..31)))
}

/// How a code typed by a person is compared: case and separators do not matter.
pub fn normalize_code(input: &str) -> String {
    input.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// SHA-256, hex: what the database keeps instead of a token or a code. A lookup by this hash
/// reveals nothing about the secret through timing, since the attacker cannot choose hashes.
/// Whether a presented secret is the stored one, in constant time (an empty one never is).
pub fn same_secret(stored: &str, presented: &str) -> bool {
    !stored.is_empty() && bool::from(stored.as_bytes().ct_eq(presented.as_bytes()))
}

pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typable_and_normalised() {
        let code = enrollment_code();
        assert_eq!(code.len(), CODE_LENGTH);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(normalize_code(" k7qx-4m2p za "), "K7QX4M2PZA");
    }

    #[test]
    fn admin_token_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        let first = AdminToken::load_or_create(&path).unwrap();
        let again = AdminToken::load_or_create(&path).unwrap();
        assert_eq!(first.as_str(), again.as_str());
        assert_eq!(first.as_str().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o077, 0);
        }
        assert!(!AdminToken::new(String::new()).matches(""));
    }

    #[test]
    fn hashes_are_stable() {
        // Golden value: stored hashes must not change between versions.
        assert_eq!(secret_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
