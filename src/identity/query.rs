//! What a search box query could mean, in the order to try it.
//!
//! A till has one search field: the cashier types a phone in any format, the last digits of a
//! phone, a card number, an email, or a scanner types a QR code's text. `classify` lists the
//! interpretations, most specific first; the store tries them in order and the first that finds
//! someone wins (and is reported as `matched_by`).

use super::{normalize_card, normalize_email, normalize_phone, parse_qr_payload, Phone};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// A card number, typed.
    Card(String),
    /// A card number read from a QR payload with a scheme or URL around it.
    Qr(String),
    Phone(Phone),
    /// The last 4–10 digits of a phone number.
    PhoneSuffix(String),
    Email(String),
}

/// The longest query we interpret; longer text matches nothing.
const MAX_QUERY: usize = 256;

/// The interpretations of `query`, most specific first.
pub fn classify(query: &str, default_region: &str) -> Vec<SearchKey> {
    let query = query.trim();
    if query.is_empty() || query.len() > MAX_QUERY {
        return Vec::new();
    }
    if query.contains('@') && !query.contains("://") {
        return normalize_email(query).map(SearchKey::Email).into_iter().collect();
    }
    let compact: String = query.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '\u{a0}')).collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if !all_digits {
        // Not a number: perhaps a QR payload that wraps a card number.
        return parse_qr_payload(query).map(SearchKey::Qr).into_iter().collect();
    }
    let mut keys = Vec::new();
    if compact.starts_with('+') {
        keys.extend(normalize_phone(query, default_region).ok().map(SearchKey::Phone));
        return keys;
    }
    keys.extend(normalize_card(digits).map(SearchKey::Card));
    let phone = normalize_phone(query, default_region).ok();
    let is_phone = phone.is_some();
    keys.extend(phone.map(SearchKey::Phone));
    if (4..=10).contains(&digits.len()) && !(is_phone && digits.len() == 10) {
        keys.push(SearchKey::PhoneSuffix(digits.to_owned()));
    }
    keys
}

/// The `matched_by` word of the API for a key.
pub fn matched_by_name(key: &SearchKey) -> &'static str {
    match key {
        SearchKey::Card(_) => "card",
        SearchKey::Qr(_) => "qr",
        SearchKey::Phone(_) => "phone",
        SearchKey::PhoneSuffix(_) => "phone_suffix",
        SearchKey::Email(_) => "email",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(query: &str) -> Vec<&'static str> {
        classify(query, "RU").iter().map(matched_by_name).collect()
    }

    #[test]
    fn interpretations_in_order() {
        assert_eq!(names("olga@example.com"), ["email"]);
        assert_eq!(names("+7 (999) 123-45-67"), ["phone"]);
        assert_eq!(names("8 999 123 45 67"), ["card", "phone"]);
        assert_eq!(names("9991234567"), ["card", "phone"]);
        assert_eq!(names("4567"), ["card", "phone_suffix"]);
        assert_eq!(names("123"), Vec::<&str>::new());
        assert_eq!(names("2700000000428"), ["card"]);
        assert_eq!(names("loyalty:card:2700000000428"), ["qr"]);
        assert_eq!(names("https://example.com/c/2700000000428"), ["qr"]);
        assert_eq!(names("hello"), Vec::<&str>::new());
        assert_eq!(names(""), Vec::<&str>::new());
        assert_eq!(names(&"1".repeat(300)), Vec::<&str>::new());
        match &classify("8 999 123 45 67", "RU")[1] {
            SearchKey::Phone(phone) => assert_eq!(phone.as_str(), "+79991234567"),
            other => panic!("{other:?}"),
        }
    }
}
