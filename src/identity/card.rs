//! Loyalty card numbers: the canonical form (ASCII digits only), the Luhn check digit, and the
//! numbers the program issues itself.
//!
//! A card number is 4 to 32 digits. Cards the program issues are `prefix + serial + Luhn digit`
//! (the same check digit bank cards use), so a mistyped digit or two swapped neighbours is
//! caught at the till; cards imported from another system need not have a check digit, so
//! [`normalize_card`] does not require one. This module does not decide whether a card exists.

/// The fewest digits a card number may have.
pub const MIN_CARD_DIGITS: usize = 4;
/// The most digits a card number may have.
pub const MAX_CARD_DIGITS: usize = 32;

/// Whether `digits` (ASCII digits only, at least two of them: a body and its check digit) ends
/// in a correct Luhn check digit. Anything else, including an empty string, is `false`.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    // With the check digit included, the doubled positions are the odd ones from the right.
    luhn_sum(digits.bytes().rev(), 1).is_multiple_of(10)
}

/// The Luhn check digit to append to `digits` (ASCII digits only, at least one), or `None` for
/// anything else.
pub fn luhn_check_digit(digits: &str) -> Option<u8> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(check_digit_of(digits.bytes()))
}

/// A card number the program issues: the digits of `prefix`, `serial` zero-padded to `width`
/// digits, and the Luhn check digit, e.g. `card_number("2700", 1234, 8) == "2700000012347"`.
///
/// Non-digit characters in `prefix` are dropped (the prefix comes from configuration, which
/// should reject them first). A serial with more than `width` digits is written in full rather
/// than cut, so two serials never give the same number.
pub fn card_number(prefix: &str, serial: u64, width: usize) -> String {
    let mut number: String = prefix.chars().filter(char::is_ascii_digit).collect();
    number.push_str(&format!("{serial:0width$}"));
    let check = check_digit_of(number.bytes());
    number.push(char::from(b'0' + check));
    number
}

/// The canonical form of a typed or scanned card number: spaces (any whitespace) and dashes
/// removed, then 4 to 32 ASCII digits. `None` for anything else.
pub fn normalize_card(input: &str) -> Option<String> {
    // Generous cap for spaced-out numbers; anything longer is not a card and is not worth
    // scanning.
    if input.len() > 4 * MAX_CARD_DIGITS {
        return None;
    }
    let mut digits = String::with_capacity(MAX_CARD_DIGITS);
    for c in input.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    (MIN_CARD_DIGITS..=MAX_CARD_DIGITS).contains(&digits.len()).then_some(digits)
}

/// The check digit for a body of ASCII digits (the caller has checked they are digits).
fn check_digit_of(body: impl DoubleEndedIterator<Item = u8>) -> u8 {
    // Without the check digit, the doubled positions are the even ones from the right (the
    // rightmost body digit is doubled).
    let sum = luhn_sum(body.rev(), 0);
    // `sum % 10` is below 10, so the result is a single digit.
    ((10 - sum % 10) % 10) as u8
}

/// The Luhn sum of ASCII digits given right to left, doubling every second one starting at
/// index `first_doubled` (0 or 1). The sum cannot overflow: every digit adds at most 9 and the
/// callers pass at most a few dozen digits (u64 would take 2e18 digits to overflow anyway).
fn luhn_sum(right_to_left: impl Iterator<Item = u8>, first_doubled: usize) -> u64 {
    right_to_left
        .enumerate()
        .map(|(i, b)| {
            let d = u64::from(b.wrapping_sub(b'0'));
            if i % 2 == first_doubled % 2 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn luhn_known_numbers() {
        let cases = [
            ("79927398713", true),
            ("79927398710", false),
            ("79927398719", false),
            ("4539578763621486", true),
            ("4111111111111111", true),
            ("4111111111111112", false),
            ("49927398716", true),
            ("49927398717", false),
            ("1234567812345670", true),
            ("1234567812345678", false),
            ("00", true),
            ("18", true),
            ("0", false),
            ("", false),
            ("7992 7398 713", false),
            ("7992739871x", false),
            ("٧٩٩٢٧٣٩٨٧١٣", false),
        ];
        for (digits, valid) in cases {
            assert_eq!(luhn_valid(digits), valid, "{digits:?}");
        }
    }

    #[test]
    fn luhn_check_digits() {
        let cases = [
            ("7992739871", Some(3)),
            ("453957876362148", Some(6)),
            ("411111111111111", Some(1)),
            ("0", Some(0)),
            ("1", Some(8)),
            ("", None),
            ("12a", None),
            ("-1", None),
        ];
        for (body, check) in cases {
            assert_eq!(luhn_check_digit(body), check, "{body:?}");
        }
    }

    #[test]
    fn issued_card_numbers() {
        let cases = [
            ("2700", 1234, 8, "2700000012347"),
            ("2700", 0, 8, "2700000000003"),
            ("2700", 1, 8, "2700000000011"),
            ("27-00", 1, 8, "2700000000011"),
            ("", 7, 3, "0075"),
            ("2700", 123_456_789, 8, "27001234567896"),
            ("9", u64::MAX, 20, "9184467440737095516154"),
        ];
        for (prefix, serial, width, want) in cases {
            let number = card_number(prefix, serial, width);
            assert_eq!(number, want, "{prefix:?} {serial} {width}");
            assert!(luhn_valid(&number), "{number}");
        }
    }

    #[test]
    fn card_normalisation() {
        let cases = [
            ("2700000012347", Some("2700000012347")),
            (" 2700 0000 1234 7 ", Some("2700000012347")),
            ("2700-0000-1234-7", Some("2700000012347")),
            ("1234", Some("1234")),
            ("0001", Some("0001")),
            ("123", None),
            ("", None),
            ("27000000123x", None),
            ("+2700000012347", None),
            ("２７００００", None),
            ("1234567890123456789012345678901234", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_card(input).as_deref(), want, "{input:?}");
        }
        assert_eq!(normalize_card(&"1".repeat(10_000)), None);
    }

    proptest! {
        #[test]
        fn every_issued_number_passes_luhn(prefix in "[0-9]{0,6}", serial: u64, width in 0usize..20) {
            let number = card_number(&prefix, serial, width);
            prop_assert!(luhn_valid(&number));
            prop_assert!(number.starts_with(&prefix));
        }

        #[test]
        fn a_changed_digit_is_caught(body in "[0-9]{4,20}", pos: prop::sample::Index, delta in 1u8..10) {
            let number = card_number(&body, 0, 0);
            let mut bytes = number.into_bytes();
            let i = pos.index(bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b = b'0' + (*b - b'0' + delta) % 10;
            }
            let changed = String::from_utf8(bytes).unwrap_or_default();
            prop_assert!(!luhn_valid(&changed));
        }

        #[test]
        fn never_panics(input in "\\PC{0,60}") {
            let _ = (normalize_card(&input), luhn_valid(&input), luhn_check_digit(&input));
        }
    }
}
