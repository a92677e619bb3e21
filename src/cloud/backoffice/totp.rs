//! The optional second factor: RFC 6238 codes (6 digits, 30 s, SHA-1, ±1 step), which every
//! authenticator app reads from an `otpauth://` link or its QR code. A step that was accepted
//! once is never accepted again (the account row keeps the last one).

use totp_rs::{Algorithm, Secret, Totp};

/// Issuer shown in authenticator apps.
const ISSUER: &str = "loyalty-cloud";

/// A new random secret, base32 (160 bits, as RFC 4226 recommends).
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    Secret::from(bytes).to_base32()
}

fn totp(secret: &str, account: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret).ok()?;
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .ok()
}

/// The `otpauth://totp/…` link an authenticator app reads.
pub fn otpauth_url(secret: &str, account: &str) -> Option<String> {
    totp(secret, account)?.to_url().ok()
}

/// The step `code` is valid for at Unix time `now` (±1 step), if any. Anything but six
/// digits (spaces allowed) is simply wrong.
pub fn check(secret: &str, code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "account")?;
    totp.check(&code, u64::try_from(now).ok()?).and_then(|step| i64::try_from(step).ok())
}

/// The code for Unix time `now` (tests, and the setup's confirmation in tests).
pub fn code_at(secret: &str, now: i64) -> Option<String> {
    let totp = totp(secret, "account")?;
    Some(totp.generate(u64::try_from(now).ok()?).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_6238_vector_and_its_window() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", T = 59 → 94287082 (8
        // digits); with 6 digits the last six: 287082.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 59).as_deref(), Some("287082"));
        assert_eq!(check(&secret, "287 082", 59), Some(1));
        assert_eq!(check(&secret, "287082", 59 + 30), Some(1), "one step late is accepted");
        assert_eq!(check(&secret, "287082", 59 + 90), None, "three steps late is not");
        assert_eq!(check(&secret, "28708", 59), None);
        assert_eq!(check(&secret, "abcdef", 59), None);
        assert_eq!(check("not base32!", "287082", 59), None);
    }

    #[test]
    fn a_new_secret_makes_a_link() {
        let secret = new_secret();
        let url = otpauth_url(&secret, "owner@example.com").expect("a link");
        assert!(url.starts_with("otpauth://totp/loyalty-cloud:owner%40example.com?"), "{url}");
        assert!(url.contains(&format!("secret={secret}")), "{url}");
    }
}
