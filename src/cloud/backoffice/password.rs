//! Passwords: Argon2id with the `argon2` crate's defaults (19 MiB, 2 passes), stored as PHC
//! strings, so the parameters can be raised later without breaking stored hashes. Hashing
//! takes tens of milliseconds by design: callers run it on the blocking pool.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};

/// The shortest password an account may have.
pub const MIN_LENGTH: usize = 10;
/// The longest (Argon2 would take more, but nobody types more, and it bounds the work).
pub const MAX_LENGTH: usize = 256;

/// Why a new password is refused; the sentence says what to do.
pub fn check_new(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("the password must have at least {MIN_LENGTH} characters"));
    }
    if length > MAX_LENGTH {
        return Err(format!("the password must have at most {MAX_LENGTH} characters"));
    }
    if password.chars().any(char::is_control) {
        return Err("the password must not contain control characters".to_owned());
    }
    Ok(())
}

/// The PHC string of `password` under a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the stored PHC string; a damaged hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so a wrong email takes as long
/// as a wrong password and does not tell which emails have accounts.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not a password anyone has").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").expect("hashes");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterx", &stored));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(hash("correct horse battery").expect("hashes"), stored, "salted");
    }

    #[test]
    fn short_and_control_passwords_are_refused() {
        assert!(check_new("short").is_err());
        assert!(check_new("long enough\u{7}").is_err());
        assert!(check_new("long enough password").is_ok());
    }
}
