//! Phone numbers in E.164, parsed with the `phonenumber` crate (libphonenumber's metadata).
//!
//! A number typed without a country code is read in the configured default region, so in
//! Russia `8 999 123-45-67`, `+7 (999) 123-45-67` and `9991234567` are one number:
//! `+79991234567`.

use std::str::FromStr;

use phonenumber::country;

use super::IdentityError;

/// A phone number in E.164 form (`+79991234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The digits without the leading `+`.
    pub fn digits(&self) -> &str {
        self.0.trim_start_matches('+')
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest text we try to read as a phone number.
const MAX_INPUT: usize = 64;

/// Normalises a phone number typed in any common format to E.164.
pub fn normalize_phone(input: &str, default_region: &str) -> Result<Phone, IdentityError> {
    let invalid = |why| IdentityError::InvalidPhone { input: shorten(input), why };
    let text = input.trim();
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    if text.len() > MAX_INPUT {
        return Err(invalid("it is too long"));
    }
    // Only what people write in phone numbers; this also keeps odd input away from the parser.
    if !text.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.' | '\u{a0}')) {
        return Err(invalid("it may only contain digits, spaces, +, -, ( and )"));
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 || digits.len() > 15 {
        return Err(invalid("it has too few or too many digits"));
    }
    // "00" is the international call prefix in most of the world: 0048… is +48….
    let text = match text.strip_prefix("00") {
        Some(rest) if !text.starts_with('+') => format!("+{rest}"),
        _ => text.to_owned(),
    };
    let region = country::Id::from_str(&default_region.to_ascii_uppercase()).ok();
    // The parser is third-party code fed with till input; a panic in it must not take down a
    // request, so it is contained here and reported as an invalid number.
    let parsed =
        std::panic::catch_unwind(|| phonenumber::parse(region, &text).ok().filter(|n| n.is_valid())).ok().flatten();
    match parsed {
        Some(number) => Ok(Phone(number.format().mode(phonenumber::Mode::E164).to_string())),
        None => Err(invalid("it is not a valid number for its country")),
    }
}

fn shorten(input: &str) -> String {
    input.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_formats_are_one_number() {
        for input in [
            "+7 (999) 123-45-67",
            "8 999 123 45 67",
            "8(999)1234567",
            "9991234567",
            "+79991234567",
            "79991234567",
            " +7 999 123.45.67 ",
        ] {
            assert_eq!(normalize_phone(input, "RU").map(|p| p.0), Ok("+79991234567".to_owned()), "{input}");
        }
        assert_eq!(normalize_phone("+48 601 234 567", "RU").unwrap().as_str(), "+48601234567");
        assert_eq!(normalize_phone("0048601234567", "RU").unwrap().as_str(), "+48601234567");
        assert_eq!(normalize_phone("601 234 567", "PL").unwrap().as_str(), "+48601234567");
        assert_eq!(normalize_phone("8 (495) 123-45-67", "RU").unwrap().as_str(), "+74951234567", "a Moscow landline");
        assert_eq!(normalize_phone("+79991234567", "RU").unwrap().digits(), "79991234567");
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let long = "9".repeat(10_000);
        for input in [
            "",
            "123",
            "abc",
            "+7 999",
            "+",
            "++++",
            "+0000000000",
            "999-123",
            long.as_str(),
            "٩٩٩",
            "+7 999 123 45 67 89 01",
        ] {
            assert!(normalize_phone(input, "RU").is_err(), "{input}");
        }
        assert!(normalize_phone("9991234567", "ZZ").is_err(), "an unknown region cannot read national numbers");
    }
}
