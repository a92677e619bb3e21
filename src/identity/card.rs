//! Card numbers: digits with a Luhn check digit, assigned as prefix + serial + check digit.

/// Whether `digits` (ASCII digits only) passes the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    match digits.split_at_checked(digits.len().saturating_sub(1)) {
        Some((body, check)) if !body.is_empty() => {
            luhn_check_digit(body).map(|d| check == d.to_string()).unwrap_or(false)
        }
        _ => false,
    }
}

/// The Luhn check digit to append to `digits`, or `None` if they are not all ASCII digits.
pub fn luhn_check_digit(digits: &str) -> Option<u8> {
    let mut sum = 0u32;
    // Walking from the right, the digit next to the check digit is doubled first.
    for (i, byte) in digits.bytes().rev().enumerate() {
        if !byte.is_ascii_digit() {
            return None;
        }
        let mut d = u32::from(byte - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    u8::try_from((10 - sum % 10) % 10).ok()
}

/// `prefix` + `serial` zero-padded to `width` digits + the Luhn check digit.
pub fn card_number(prefix: &str, serial: u64, width: usize) -> String {
    let body = format!("{prefix}{serial:0width$}");
    let check = luhn_check_digit(&body).unwrap_or(0);
    format!("{body}{check}")
}

/// A card number as typed or scanned: spaces and dashes dropped; 4 to 32 digits, else `None`.
pub fn normalize_card(input: &str) -> Option<String> {
    if input.len() > 128 {
        return None;
    }
    let cleaned: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '\u{a0}')).collect();
    let ok = (4..=32).contains(&cleaned.len()) && cleaned.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert_eq!(luhn_check_digit("7992739871"), Some(3));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("7"));
        assert!(!luhn_valid("79x27398713"));
        assert_eq!(luhn_check_digit("12a"), None);
    }

    #[test]
    fn assigned_cards_check_out() {
        let card = card_number("2700", 42, 8);
        assert_eq!(&card[..12], "270000000042");
        assert_eq!(card.len(), 13);
        assert!(luhn_valid(&card));
        for serial in 0..1000 {
            assert!(luhn_valid(&card_number("2700", serial, 8)));
        }
    }

    #[test]
    fn card_input() {
        assert_eq!(normalize_card("1234 5678-9012").as_deref(), Some("123456789012"));
        assert_eq!(normalize_card("123"), None);
        assert_eq!(normalize_card("12a4"), None);
        assert_eq!(normalize_card(&"1".repeat(33)), None);
    }
}
