//! Time-based one-time codes (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1 of the 30-second step
//! number under the customer's secret, truncated to six digits — what authenticator apps
//! compute, so a customer may also add their secret to one (`otpauth_uri`).
//!
//! A till accepts the code of the current step and of one step either side (a phone's clock and
//! the till's drift apart, and the cashier takes a few seconds to type). The matched step is
//! returned so that the caller can refuse a code used before.

use hmac::{KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::CODE_DIGITS;

/// Seconds one code lasts.
pub const STEP_SECONDS: i64 = 30;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation for HMAC-SHA-1).
pub const SECRET_BYTES: usize = 20;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: i64 = 1;

/// A new random secret from the OS-seeded generator.
pub fn new_secret() -> Vec<u8> {
    use rand::Rng;
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill(&mut secret[..]);
    secret
}

/// The secret as text (RFC 4648 base32 without padding), as authenticator apps take it and as
/// it is stored and synced.
pub fn encode_secret(secret: &[u8]) -> String {
    base32::encode(base32::Alphabet::Rfc4648 { padding: false }, secret)
}

/// The secret from its text; `None` when it is not base32 or too short to be one.
pub fn decode_secret(text: &str) -> Option<Vec<u8>> {
    let secret = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, text.trim())?;
    (secret.len() >= 10).then_some(secret)
}

/// The step a moment (Unix seconds) falls in.
pub fn step_at(at: i64) -> i64 {
    at.div_euclid(STEP_SECONDS)
}

/// Seconds left of the step `at` falls in.
pub fn seconds_left(at: i64) -> i64 {
    STEP_SECONDS - at.rem_euclid(STEP_SECONDS)
}

/// The code of one step.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    let Ok(mut mac) = <hmac::Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        // HMAC takes a key of any length; this cannot happen.
        return "0".repeat(CODE_DIGITS);
    };
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // RFC 4226 §5.3: dynamic truncation.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let number =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    format!("{:0width$}", number % 10u32.pow(CODE_DIGITS as u32), width = CODE_DIGITS)
}

/// The code shown at `at`.
pub fn code_at(secret: &[u8], at: i64) -> String {
    code_at_step(secret, step_at(at))
}

/// The step whose code `code` is, within [`SKEW_STEPS`] of `at`'s; `None` when it is none of
/// them. Every candidate is compared in constant time.
pub fn verify(secret: &[u8], code: &str, at: i64) -> Option<i64> {
    let now = step_at(at);
    let mut matched = None;
    for step in now - SKEW_STEPS..=now + SKEW_STEPS {
        let expected = code_at_step(secret, step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// An `otpauth://` URI for an authenticator app: the issuer (the chain) and the account (the
/// card number) label it.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let escape = |text: &str| crate::identity::url_component(text);
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={CODE_DIGITS}&period={STEP_SECONDS}",
        escape(issuer),
        escape(account),
        encode_secret(secret),
        escape(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret ("12345678901234567890").
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn the_rfc_6238_vectors_in_six_digits() {
        // Appendix B gives eight digits; six are their last six (the same truncation, mod 10^6).
        for (at, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(RFC_SECRET, at), eight[2..], "at {at}");
        }
    }

    #[test]
    fn a_code_is_taken_one_step_either_side_and_answers_its_step() {
        let at = 1_234_567_890;
        let step = step_at(at);
        assert_eq!(verify(RFC_SECRET, &code_at(RFC_SECRET, at), at), Some(step));
        assert_eq!(verify(RFC_SECRET, &code_at_step(RFC_SECRET, step - 1), at), Some(step - 1));
        assert_eq!(verify(RFC_SECRET, &code_at_step(RFC_SECRET, step + 1), at), Some(step + 1));
        assert_eq!(verify(RFC_SECRET, &code_at_step(RFC_SECRET, step - 2), at), None, "a minute old is too old");
        assert_eq!(verify(RFC_SECRET, &code_at_step(RFC_SECRET, step + 2), at), None);
        assert_eq!(verify(b"another customer's secret", &code_at(RFC_SECRET, at), at), None);
    }

    #[test]
    fn a_secret_round_trips_through_its_text() {
        let secret = new_secret();
        assert_eq!(secret.len(), SECRET_BYTES);
        let text = encode_secret(&secret);
        assert_eq!(text.len(), 32, "{text}");
        assert_eq!(decode_secret(&text), Some(secret));
        assert_eq!(decode_secret("not base32!"), None);
        assert_eq!(decode_secret("MFRA"), None, "too short to be a secret");
        assert_eq!(encode_secret(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn seconds_left_count_down_within_a_step() {
        assert_eq!(seconds_left(0), 30);
        assert_eq!(seconds_left(29), 1);
        assert_eq!(seconds_left(30), 30);
        assert_eq!(step_at(-1), -1);
    }

    #[test]
    fn an_authenticator_app_reads_the_uri() {
        let uri = otpauth_uri(RFC_SECRET, "Ромашка", "2700000012347");
        assert!(uri.starts_with("otpauth://totp/%D0%A0"), "{uri}");
        assert!(uri.contains(":2700000012347?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer="), "{uri}");
        assert!(uri.ends_with("&algorithm=SHA1&digits=6&period=30"), "{uri}");
    }
}
