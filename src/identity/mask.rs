//! Masking personal data for log lines: enough left to tell two customers apart while
//! debugging, not enough to call or write to anyone.
//!
//! Masks always use exactly three `*`, whatever they hide, so a log line does not even give
//! away the length of a name. The functions take any text (a typed query can be logged too)
//! and are Unicode-safe: they work on characters, never on byte offsets, so Cyrillic names are
//! masked as well as Latin ones. They are not a way to anonymise data for export.

use phonenumber::metadata::DATABASE;

const STARS: &str = "***";

/// Masks a phone number, keeping the country code, the first digits of the national number
/// and its last digits: `+79991234567` → `+7999***4567`, `+48601234567` → `+48601***567`.
///
/// Formatting characters are dropped. How much is kept shrinks with the length of the
/// national number so that at least three of its digits are always hidden; numbers of four
/// digits or fewer are hidden entirely. Text without a `+` is treated as a national number.
pub fn mask_phone(phone: &str) -> String {
    let international = phone.trim_start().starts_with('+');
    // Bounded: a phone has at most 15 digits, and no more need to be looked at to mask one.
    let digits: String = phone.chars().filter(char::is_ascii_digit).take(20).collect();
    let code_len = if international { country_code_len(&digits) } else { 0 };
    let (code, national) = digits.split_at(code_len.min(digits.len()));
    let (head, tail) = match national.len() {
        0..=4 => (0, 0),
        5 => (1, 1),
        6 => (1, 2),
        7..=8 => (2, 2),
        9 => (3, 3),
        _ => (3, 4),
    };
    let mut masked = String::with_capacity(20);
    if international {
        masked.push('+');
    }
    masked.push_str(code);
    masked.push_str(national.get(..head).unwrap_or_default());
    masked.push_str(STARS);
    masked.push_str(national.get(national.len().saturating_sub(tail)..).unwrap_or_default());
    masked
}

/// A phone as a person is told where a code went: the country code and the last four
/// digits, in the way Russian numbers are written — `+79991234567` → `+7 *** ***-45-67`.
/// Numbers too short to keep four digits hidden show the country code only.
pub fn phone_hint(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).take(20).collect();
    let code_len = country_code_len(&digits).min(digits.len());
    let (code, national) = digits.split_at(code_len);
    if national.len() < 8 {
        return format!("+{code} ***");
    }
    let last = &national[national.len() - 4..];
    format!("+{code} *** ***-{}-{}", &last[..2], &last[2..])
}

/// Masks a person's name word by word, keeping each word's first letter:
/// `Ivan Petrov` → `I*** P***`, `Иван Петров` → `И*** П***`.
pub fn mask_name(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .map(|first| format!("{first}{STARS}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Masks an email address, keeping the first character of the local part and the domain:
/// `ivan@example.com` → `i***@example.com`. Text without `@` keeps only its first character.
pub fn mask_email(email: &str) -> String {
    let email = email.trim();
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}{STARS}@{domain}")
        }
        None => email.chars().next().map_or_else(|| STARS.to_string(), |first| format!("{first}{STARS}")),
    }
}

/// The length of the country code at the start of `digits` (1 to 3), or 0 if none is known.
fn country_code_len(digits: &str) -> usize {
    (1..=3)
        .find(|&len| {
            digits
                .get(..len)
                .and_then(|code| code.parse::<u16>().ok())
                .is_some_and(|code| DATABASE.by_code(&code).is_some())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_phone_hint_keeps_the_country_code_and_the_last_four_digits() {
        assert_eq!(phone_hint("+79991234567"), "+7 *** ***-45-67");
        assert_eq!(phone_hint("+48601234567"), "+48 *** ***-45-67");
        assert_eq!(phone_hint("+7123"), "+7 ***");
    }

    #[test]
    fn phones() {
        let cases = [
            ("+79991234567", "+7999***4567"),
            ("+7 (999) 123-45-67", "+7999***4567"),
            ("+48601234567", "+48601***567"),
            ("+380671234567", "+380671***567"),
            ("+4930123456", "+4930***56"),
            ("89991234567", "899***4567"),
            ("1234567", "12***67"),
            ("12345", "1***5"),
            ("123456", "1***56"),
            ("1234", "***"),
            ("+7", "+7***"),
            ("", "***"),
            ("+", "+***"),
            ("Иван", "***"),
        ];
        for (phone, want) in cases {
            assert_eq!(mask_phone(phone), want, "{phone:?}");
        }
    }

    #[test]
    fn names() {
        let cases = [
            ("Ivan Petrov", "I*** P***"),
            ("Иван Петров", "И*** П***"),
            ("  Анна-Мария   Ёлкина ", "А*** Ё***"),
            ("I", "I***"),
            ("", ""),
            ("   ", ""),
            ("王 小明", "王*** 小***"),
        ];
        for (name, want) in cases {
            assert_eq!(mask_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn emails() {
        let cases = [
            ("ivan@example.com", "i***@example.com"),
            (" Иван@пример.рф ", "И***@пример.рф"),
            ("@example.com", "***@example.com"),
            ("a\"b@c\"@example.com", "a***@example.com"),
            ("ivan", "i***"),
            ("", "***"),
        ];
        for (email, want) in cases {
            assert_eq!(mask_email(email), want, "{email:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_hides_the_middle(text in "\\PC{0,80}") {
            let _ = (mask_name(&text), mask_email(&text));
            prop_assert!(mask_phone(&text).contains(STARS));
        }

        #[test]
        fn a_masked_phone_hides_at_least_three_digits(digits in "[0-9]{0,15}") {
            let kept = mask_phone(&digits).chars().filter(char::is_ascii_digit).count();
            prop_assert!(kept + 3 <= digits.len() || kept == 0, "{} kept {}", digits, kept);
        }
    }
}
