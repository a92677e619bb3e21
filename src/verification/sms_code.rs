//! One-time codes sent by SMS. The till that asked for one keeps only a salted digest of it
//! (HMAC-SHA-256 under a random salt), so its database and logs never hold a code a reader
//! could use; a typed code is compared with the digest in constant time.

use hmac::{KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::CODE_DIGITS;

/// How long a sent code is valid.
pub const CODE_TTL_SECONDS: i64 = 5 * 60;
/// How long before another code may be sent for the same customer.
pub const RESEND_SECONDS: i64 = 60;
/// Wrong codes before the customer's codes are locked…
pub const MAX_WRONG: i64 = 5;
/// …for this long.
pub const LOCK_SECONDS: i64 = 15 * 60;

/// A fresh code of [`CODE_DIGITS`] digits.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A random salt, hex.
pub fn new_salt() -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    hex::encode(salt)
}

/// The digest kept for `code` under `salt`, hex.
pub fn digest(code: &str, salt: &str) -> String {
    let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(salt.as_bytes()) else {
        return String::new();
    };
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `code` is the one whose digest under `salt` is `expected`.
pub fn matches(code: &str, salt: &str, expected: &str) -> bool {
    let got = digest(code, salt);
    !expected.is_empty() && bool::from(got.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_digest_only() {
        let code = new_code();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let salt = new_salt();
        let kept = digest(&code, &salt);
        assert!(!kept.contains(&code), "the digest does not show the code");
        assert!(matches(&code, &salt, &kept));
        let other = if code == "000000" { "000001" } else { "000000" };
        assert!(!matches(other, &salt, &kept));
        assert!(!matches(&code, &new_salt(), &kept), "the salt is part of it");
        assert!(!matches(&code, &salt, ""));
    }
}
