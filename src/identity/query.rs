//! What the text in the cashier's search box (or a scanner's output) can mean, as an ordered
//! list of keys for the store to try.
//!
//! One text can mean several things: `89991234567` may be a card number or a Russian phone,
//! `4567` the end of a phone number. [`classify`] lists every meaning that parses, most specific
//! first; the store tries them in order and the first key that finds a customer wins, and
//! [`matched_by_name`] gives the `matched_by` value the API answers with. This module does not
//! look anything up.

use super::card::{normalize_card, MAX_CARD_DIGITS, MIN_CARD_DIGITS};
use super::email::normalize_email;
use super::phone::{normalize_phone, Phone};
use super::qr::parse_structured_payload;

/// Queries longer than this (in bytes) mean nothing; they are not parsed at all.
pub const MAX_QUERY_LEN: usize = 256;

/// The shortest phone suffix searched: fewer digits match too many customers to be useful.
const MIN_SUFFIX_DIGITS: usize = 4;
/// The longest phone suffix searched (a Russian national number has 10 digits).
const MAX_SUFFIX_DIGITS: usize = 10;

/// One meaning of a search query, carrying the identifier in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// A card number (4 to 32 digits), typed or scanned as plain digits.
    Card(String),
    /// A card number read from a QR payload that can only have come from a QR code (the
    /// `loyalty:card:` scheme or a URL, see [`super::qr`]). The store looks it up exactly like
    /// [`SearchKey::Card`]; the separate variant only makes the answer say `matched_by: "qr"`.
    Qr(String),
    /// A whole phone number.
    Phone(Phone),
    /// The last 4 to 10 digits of a phone number (the store matches the end of the E.164
    /// digits).
    PhoneSuffix(String),
    /// An email address, normalised.
    Email(String),
}

/// The `matched_by` value of the API's search answer when `key` found the customer:
/// `card`, `qr`, `phone`, `phone_suffix` or `email`.
pub fn matched_by_name(key: &SearchKey) -> &'static str {
    match key {
        SearchKey::Card(_) => "card",
        SearchKey::Qr(_) => "qr",
        SearchKey::Phone(_) => "phone",
        SearchKey::PhoneSuffix(_) => "phone_suffix",
        SearchKey::Email(_) => "email",
    }
}

/// The meanings of a search query, in the order the store should try them. Empty when the
/// text means nothing searchable (or is longer than [`MAX_QUERY_LEN`]).
///
/// After trimming:
/// - a structured QR payload (`loyalty:card:…`, a card URL) → `[Qr]`;
/// - text with `@` → `[Email]` if it is an address;
/// - `+` and digits (spaces, `-`, `(`, `)`, `.` ignored) → `[Phone]` if it is a valid number;
/// - digits (same separators ignored) → `Card` if 4 to 32 digits (a card number is never
///   ambiguous, so it goes first), then `Phone` if the digits are a valid number in
///   `default_region` (or with a country code), then `PhoneSuffix` if 4 to 9 digits, or 10
///   digits that are not a whole phone number;
/// - anything else → `[Card]` if [`normalize_card`] accepts it, else nothing.
pub fn classify(q: &str, default_region: &str) -> Vec<SearchKey> {
    if q.len() > MAX_QUERY_LEN {
        return Vec::new();
    }
    let q = q.trim();
    if q.is_empty() {
        return Vec::new();
    }
    // Before the `@` test: a URL may contain `@` and is still a QR payload, never an email.
    if let Some(card) = parse_structured_payload(q) {
        return vec![SearchKey::Qr(card)];
    }
    if q.contains('@') {
        return normalize_email(q).map(SearchKey::Email).into_iter().collect();
    }
    let Some((plus, digits)) = split_digits(q) else {
        return normalize_card(q).map(SearchKey::Card).into_iter().collect();
    };
    let phone = normalize_phone(q, default_region).ok();
    if plus {
        return phone.map(SearchKey::Phone).into_iter().collect();
    }
    let mut keys = Vec::with_capacity(3);
    let len = digits.len();
    if (MIN_CARD_DIGITS..=MAX_CARD_DIGITS).contains(&len) {
        keys.push(SearchKey::Card(digits.clone()));
    }
    let suffix = match len {
        MIN_SUFFIX_DIGITS..MAX_SUFFIX_DIGITS => true,
        MAX_SUFFIX_DIGITS => phone.is_none(),
        _ => false,
    };
    keys.extend(phone.map(SearchKey::Phone));
    if suffix {
        keys.push(SearchKey::PhoneSuffix(digits));
    }
    keys
}

/// If `q` is digits (optionally after a leading `+`) once spaces, `-`, `(`, `)` and `.` are
/// removed: whether it had the `+`, and the digits.
fn split_digits(q: &str) -> Option<(bool, String)> {
    let (plus, rest) = match q.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, q),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '(' | ')' | '.' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    (!digits.is_empty()).then_some((plus, digits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A compact spelling of a key list for the table: `card:123 phone:+7… suffix:4567`.
    fn spell(keys: &[SearchKey]) -> String {
        keys.iter()
            .map(|key| {
                let value = match key {
                    SearchKey::Card(v) | SearchKey::Qr(v) | SearchKey::PhoneSuffix(v) | SearchKey::Email(v) => {
                        v.as_str()
                    }
                    SearchKey::Phone(phone) => phone.as_str(),
                };
                format!("{}:{value}", matched_by_name(key))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn classification() {
        let cases = [
            // Phones in every format; a bare digit string is tried as a card first.
            ("+7 (999) 123-45-67", "phone:+79991234567"),
            ("+79991234567", "phone:+79991234567"),
            ("8 999 123 45 67", "card:89991234567 phone:+79991234567"),
            ("8(999)1234567", "card:89991234567 phone:+79991234567"),
            ("9991234567", "card:9991234567 phone:+79991234567"),
            ("(999) 123-45-67", "card:9991234567 phone:+79991234567"),
            ("+48 601 234 567", "phone:+48601234567"),
            ("0048601234567", "card:0048601234567 phone:+48601234567"),
            // A '+' number that is not a valid phone is nothing.
            ("+7 999", ""),
            ("+2700000012347", ""),
            // Cards.
            ("2700000012347", "card:2700000012347"),
            ("2700 0000 1234 7", "card:2700000012347"),
            ("  2700-0000-1234-7\n", "card:2700000012347"),
            ("12345678901234567890123456789012", "card:12345678901234567890123456789012"),
            ("123456789012345678901234567890123", ""),
            // Phone suffixes: 4 to 9 digits, and 10 digits that are not a phone.
            ("4567", "card:4567 phone_suffix:4567"),
            ("45-67", "card:4567 phone_suffix:4567"),
            ("123456789", "card:123456789 phone_suffix:123456789"),
            ("1234567890", "card:1234567890 phone_suffix:1234567890"),
            ("123", ""),
            ("7", ""),
            // QR payloads.
            ("loyalty:card:2700000012347", "qr:2700000012347"),
            ("LOYALTY:CARD:2700000012347", "qr:2700000012347"),
            ("https://example.com/c/2700000012347", "qr:2700000012347"),
            ("https://user@example.com/c/2700000012347", "qr:2700000012347"),
            ("https://example.com/about", ""),
            // Emails.
            ("Ivan@Example.com", "email:ivan@example.com"),
            ("ivan@", ""),
            ("@", ""),
            // Nothing.
            ("", ""),
            ("   ", ""),
            ("Ivan Petrov", ""),
            ("2700000012347x", ""),
            ("--", ""),
            ("+", ""),
            ("Иван", ""),
        ];
        for (q, want) in cases {
            assert_eq!(spell(&classify(q, "RU")), want, "{q:?}");
        }
    }

    #[test]
    fn the_default_region_decides_national_numbers() {
        // Nine digits are a phone suffix candidate even when they are a whole phone number.
        assert_eq!(spell(&classify("601 234 567", "PL")), "card:601234567 phone:+48601234567 phone_suffix:601234567");
        assert_eq!(spell(&classify("601 234 567", "RU")), "card:601234567 phone_suffix:601234567");
        assert_eq!(spell(&classify("9991234567", "PL")), "card:9991234567 phone_suffix:9991234567");
    }

    #[test]
    fn long_queries_mean_nothing() {
        assert!(classify(&"1".repeat(257), "RU").is_empty());
        assert!(classify(&format!("{}@example.com", "a".repeat(300)), "RU").is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(q in "\\PC{0,300}") {
            let _ = classify(&q, "RU");
        }

        #[test]
        fn digit_strings_always_try_the_card_first(q in "[0-9]{4,32}") {
            let keys = classify(&q, "RU");
            prop_assert_eq!(keys.first(), Some(&SearchKey::Card(q.clone())));
        }
    }
}
