//! Signed rotating QR tokens (issue 14): `loyalty:v1:<card>:<expires>:<mac>`, where `mac` is
//! the first 16 hex digits of HMAC-SHA-256 under the program's key over everything before it.
//! The customer's page shows a fresh one every minute or so; a till checks it offline with the
//! key the cloud sent, so a photo of yesterday's screen, or a token someone typed up, finds no
//! one. (A plain card number still identifies the card, as on a wallet pass.)

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What every signed token starts with.
pub const PREFIX: &str = "loyalty:v1:";
/// How long a token is valid by default.
pub const DEFAULT_LIFETIME_SECONDS: i64 = 5 * 60;
/// Hex digits of the MAC kept in the token (64 bits: a forgery is a 1 in 2^64 guess, and the
/// QR code stays small enough for a phone screen).
const MAC_HEX: usize = 16;

/// What a scanned text turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedQr {
    /// Not a signed token at all (a card number, a plain card QR, a phone).
    NotSigned,
    Valid {
        card: String,
    },
    /// Signed by the program's key, but its time is up.
    Expired {
        card: String,
        expired_at: i64,
    },
    /// Looks like a token, but the key did not sign it (or it was altered).
    Forged,
    /// A token, and this side has no key to check it with yet.
    Unverifiable,
}

fn mac_hex(key: &[u8], signed_part: &str) -> String {
    let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key) else { return String::new() };
    mac.update(signed_part.as_bytes());
    let mut hex = hex::encode(mac.finalize().into_bytes());
    hex.truncate(MAC_HEX);
    hex
}

/// The token for `card`, valid until `expires` (Unix seconds).
pub fn sign(key: &[u8], card: &str, expires: i64) -> String {
    let signed_part = format!("{PREFIX}{card}:{expires}");
    let mac = mac_hex(key, &signed_part);
    format!("{signed_part}:{mac}")
}

/// Reads a scanned text at `now` with the program's `key` (`None`: not received yet).
pub fn read(key: Option<&[u8]>, text: &str, now: i64) -> SignedQr {
    let text = text.trim();
    let Some(rest) =
        text.get(..PREFIX.len()).filter(|head| head.eq_ignore_ascii_case(PREFIX)).map(|_| &text[PREFIX.len()..])
    else {
        return SignedQr::NotSigned;
    };
    let mut parts = rest.rsplitn(3, ':');
    let (Some(mac), Some(expires), Some(card)) = (parts.next(), parts.next(), parts.next()) else {
        return SignedQr::Forged;
    };
    let Ok(expires_at) = expires.parse::<i64>() else { return SignedQr::Forged };
    if card.is_empty() || card.len() > 64 || mac.len() != MAC_HEX {
        return SignedQr::Forged;
    }
    let Some(key) = key else { return SignedQr::Unverifiable };
    let expected = mac_hex(key, &format!("{PREFIX}{card}:{expires}"));
    if !bool::from(expected.as_bytes().ct_eq(mac.to_ascii_lowercase().as_bytes())) {
        return SignedQr::Forged;
    }
    if expires_at <= now {
        return SignedQr::Expired { card: card.to_owned(), expired_at: expires_at };
    }
    SignedQr::Valid { card: card.to_owned() }
}

/// A new program key (32 random bytes), as base32 text like the customers' secrets.
pub fn new_key() -> String {
    use rand::Rng;
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    super::totp::encode_secret(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"the program's key, for this test";

    #[test]
    fn a_token_reads_back_until_it_expires() {
        let token = sign(KEY, "2700000012347", 1_000_300);
        assert!(token.starts_with("loyalty:v1:2700000012347:1000300:"), "{token}");
        assert_eq!(token.len(), "loyalty:v1:2700000012347:1000300:".len() + 16);
        assert_eq!(read(Some(KEY), &token, 1_000_000), SignedQr::Valid { card: "2700000012347".into() });
        assert_eq!(
            read(Some(KEY), &format!("  {}  ", token.to_uppercase()), 1_000_000),
            SignedQr::Valid { card: "2700000012347".into() }
        );
        assert_eq!(
            read(Some(KEY), &token, 1_000_300),
            SignedQr::Expired { card: "2700000012347".into(), expired_at: 1_000_300 }
        );
    }

    #[test]
    fn an_altered_or_foreign_token_is_forged() {
        let token = sign(KEY, "2700000012347", 1_000_300);
        let later = token.replace(":1000300:", ":9000300:");
        assert_eq!(read(Some(KEY), &later, 1_000_000), SignedQr::Forged, "a longer life is not the key's");
        let other_card = token.replace("2700000012347", "2700000012354");
        assert_eq!(read(Some(KEY), &other_card, 1_000_000), SignedQr::Forged);
        assert_eq!(read(Some(b"another chain"), &token, 1_000_000), SignedQr::Forged);
        assert_eq!(read(Some(KEY), "loyalty:v1:nonsense", 1_000_000), SignedQr::Forged);
        assert_eq!(read(None, &token, 1_000_000), SignedQr::Unverifiable);
    }

    #[test]
    fn other_texts_are_not_tokens() {
        for text in ["2700000012347", "loyalty:card:2700000012347", "+79011234567", "", "loyalty:v"] {
            assert_eq!(read(Some(KEY), text, 0), SignedQr::NotSigned, "{text}");
        }
    }

    #[test]
    fn a_new_key_decodes() {
        let key = new_key();
        assert_eq!(super::super::totp::decode_secret(&key).map(|k| k.len()), Some(32));
    }
}
