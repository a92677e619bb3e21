//! Phone numbers: whatever a cashier typed or a CSV holds, turned into one E.164 string.
//!
//! `+7 (999) 123-45-67`, `8 999 123 45 67`, `79991234567`, `9991234567` (with the default
//! region RU) and `810 7 999 123 45 67` are all `+79991234567`; `+48 601 234 567` and
//! `0048601234567` are `+48601234567`. A number is accepted only when the libphonenumber
//! metadata shipped in the `phonenumber` crate says it is a valid number (mobile, fixed line,
//! toll free, VoIP, …) for its country, so typos of the wrong length and garbage are refused.
//!
//! We split the digits into country code and national number ourselves and use the crate only
//! for its metadata. The crate's own parser strips a national prefix even after `+`: it reads
//! `+7 812 …` (a Saint Petersburg landline) as `+7 12 …`, which would make every number with a
//! `8xx` area code unreachable. This module is not a formatter: it never produces the national
//! display form of a number.

use std::fmt;

use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::Type;

use super::IdentityError;

/// Inputs longer than this (in bytes) are refused before any parsing. The longest sensible
/// spelling of a phone number (`+7 (999) 123-45-67` with extra spaces) is far below it.
pub const MAX_PHONE_INPUT: usize = 64;

/// At most this many digits after dropping separators: an international call prefix (up to 4
/// digits) plus the 15 digits E.164 allows.
const MAX_DIGITS: usize = 19;

/// Number types a customer's phone may be. Emergency, short codes and carrier-specific codes
/// are left out on purpose: they are never a person's number.
const VALID_TYPES: [Type; 10] = [
    Type::Mobile,
    Type::FixedLine,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::PersonalNumber,
    Type::Voip,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

/// A phone number in E.164 form: `+`, the country code and the national number, digits only.
///
/// The only way to get one is [`normalize_phone`], so two `Phone`s are equal exactly when they
/// are the same number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// The E.164 text, e.g. `+79991234567`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the leading `+`, e.g. `79991234567`.
    pub fn digits(&self) -> &str {
        self.0.strip_prefix('+').unwrap_or(&self.0)
    }

    /// The E.164 text, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whether `region` is a two-letter region code the phone metadata knows (`RU`, `pl`, …).
/// Configuration should check its default region with this at start-up: with an unknown
/// region only numbers written in international form (`+…`, `00…`) can be read.
pub fn is_known_region(region: &str) -> bool {
    region_metadata(region).is_some()
}

/// Loads the phone metadata and compiles the patterns that numbers of `default_region`'s
/// country code are checked with; returns how many example numbers it read. The `phonenumber`
/// crate decodes its metadata on first use (over 100 ms on a slow till) and compiles each
/// pattern the first time it is matched: the agent calls this at start-up, before it accepts
/// connections, so none of that lands on the first customer lookup.
pub fn warm_up(default_region: &str) -> usize {
    let Some(region) = region_metadata(default_region) else {
        // Still decode the metadata: numbers in international form need it.
        let _ = normalize_phone("+7 999 123 45 67", default_region);
        return 0;
    };
    let code = region.country_code();
    let mut read = 0;
    for meta in DATABASE.by_code(&code).into_iter().flatten() {
        let descriptors = meta.descriptors();
        for kind in VALID_TYPES {
            let Some(example) = descriptors.get(kind).and_then(|d| d.example()) else { continue };
            // The spellings a till sees: international, with the national prefix, as dialled.
            let _ = normalize_phone(&format!("+{code}{example}"), default_region);
            if let Some(prefix) = region.national_prefix() {
                let _ = normalize_phone(&format!("{prefix}{example}"), default_region);
            }
            let _ = normalize_phone(example, default_region);
            read += 1;
        }
    }
    read
}

/// Reads a phone number written in any common format and returns it in E.164.
///
/// `default_region` (an ISO 3166 two-letter code such as `RU`, any case) is the country of
/// numbers written without a country code. Numbers are read as, in this order:
/// 1. `+` and the international number;
/// 2. the region's international call prefix (`810` in Russia, `00` in Poland) or the
///    near-universal `00`, then the international number;
/// 3. a national number after the region's national prefix (`8` in Russia, `0` in Germany);
/// 4. a national number as written;
/// 5. the region's country code without the `+` (`79991234567` in Russia).
///
/// The first reading that gives a valid number wins. Spaces, `-`, `(`, `)`, `.`, `/` and
/// Unicode dashes are ignored; letters (including extensions such as `x123`) and any other
/// character are refused.
pub fn normalize_phone(input: &str, default_region: &str) -> Result<Phone, IdentityError> {
    let invalid = |why: &'static str| IdentityError::InvalidPhone { input: shorten(input), why };
    if input.len() > MAX_PHONE_INPUT {
        return Err(invalid("it is too long to be a phone number (over 64 bytes)"));
    }
    let (plus, digits) = strip_formatting(input).map_err(invalid)?;

    let found = if plus {
        international(&digits)
    } else {
        let region = region_metadata(default_region);
        from_idd(&digits, region).or_else(|| region.and_then(|meta| national(&digits, meta)))
    };
    found.ok_or_else(|| {
        invalid(if plus {
            "it is not a valid number for its country code"
        } else {
            "it is not a valid number in the default region or with a country code"
        })
    })
}

/// Drops the formatting characters and returns whether the number started with `+`, and its
/// digits.
fn strip_formatting(input: &str) -> Result<(bool, String), &'static str> {
    let mut plus = false;
    let mut digits = String::with_capacity(16);
    for c in input.chars() {
        match c {
            '0'..='9' => {
                if digits.len() == MAX_DIGITS {
                    return Err("it has too many digits");
                }
                digits.push(c);
            }
            // A `+` counts only in front of the number; `7+999` is not a phone number.
            '+' if !plus && digits.is_empty() => plus = true,
            '-' | '(' | ')' | '.' | '/' | '\u{2010}'..='\u{2015}' | '\u{2212}' => {}
            c if c.is_whitespace() => {}
            _ => return Err("it contains characters that are not part of a phone number"),
        }
    }
    if digits.is_empty() {
        return Err("it has no digits");
    }
    Ok((plus, digits))
}

/// Reads `digits` as dialled from `region` with an international call prefix in front.
fn from_idd(digits: &str, region: Option<&Metadata>) -> Option<Phone> {
    let region_idd = region
        .and_then(Metadata::international_prefix)
        .and_then(|idd| idd.find(digits))
        .filter(|m| m.start() == 0)
        .and_then(|m| digits.get(m.end()..));
    // `00` is the international prefix in most of the world; it is tried even where the region
    // uses another one (Russia dials `810`), because a national number starting with `00` is
    // never valid there either.
    region_idd.and_then(international).or_else(|| digits.strip_prefix("00").and_then(international))
}

/// Reads `digits` as country code + national number, the way it follows a `+`.
fn international(digits: &str) -> Option<Phone> {
    // Country codes are a prefix code (no code is the beginning of another), so the first
    // length that names a known country is the only candidate.
    let (code, national_number) = (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        DATABASE.by_code(&code).map(|_| (code, digits.get(len..).unwrap_or_default()))
    })?;
    if is_valid(code, national_number) {
        return Some(e164(code, national_number));
    }
    // People sometimes keep the national prefix after the country code (`+44 (0)20 …`,
    // `+7 8 999 …`); drop it only when the number as written is not valid.
    DATABASE.by_code(&code)?.into_iter().find_map(|meta| {
        let rest = national_number.strip_prefix(meta.national_prefix()?)?;
        is_valid(code, rest).then(|| e164(code, rest))
    })
}

/// Reads `digits` as a number written the way it is dialled inside `region`.
fn national(digits: &str, region: &Metadata) -> Option<Phone> {
    let code = region.country_code();
    let without_prefix = region.national_prefix().and_then(|prefix| digits.strip_prefix(prefix));
    // A Russian `8 999 …` must lose its `8`, but a ten-digit `812 …` (Saint Petersburg typed
    // without the trunk `8`) must keep it: hence try the stripped reading first and fall back.
    without_prefix
        .into_iter()
        .chain(Some(digits))
        .find(|candidate| is_valid(code, candidate))
        .map(|candidate| e164(code, candidate))
        .or_else(|| {
            // `79991234567`: the country code typed without its `+`.
            let rest = digits.strip_prefix(code.to_string().as_str())?;
            is_valid(code, rest).then(|| e164(code, rest))
        })
}

/// Whether `national_number` is a valid number for country `code` in any of the regions
/// sharing that code (`+7` is Russia and Kazakhstan, `+1` is the NANP countries).
fn is_valid(code: u16, national_number: &str) -> bool {
    // Length 2 is the shortest national number in the metadata; checking it here saves the
    // regex work for obviously short input such as `+7 99`.
    if national_number.len() < 2 {
        return false;
    }
    DATABASE.by_code(&code).is_some_and(|metas| {
        metas.iter().any(|meta| {
            let descriptors = meta.descriptors();
            descriptors.general().is_match(national_number)
                && VALID_TYPES.iter().any(|kind| descriptors.get(*kind).is_some_and(|d| d.is_match(national_number)))
        })
    })
}

fn e164(code: u16, national_number: &str) -> Phone {
    Phone(format!("+{code}{national_number}"))
}

fn region_metadata(region: &str) -> Option<&'static Metadata> {
    if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    DATABASE.by_id(region.to_ascii_uppercase().as_str())
}

/// The input as it may appear in an error message: at most [`MAX_PHONE_INPUT`] characters.
fn shorten(input: &str) -> String {
    let mut chars = input.chars();
    let mut short: String = chars.by_ref().take(MAX_PHONE_INPUT).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(input: &str, region: &str) -> String {
        match normalize_phone(input, region) {
            Ok(phone) => phone.into_string(),
            Err(e) => panic!("{input:?} in {region}: {e}"),
        }
    }

    #[test]
    fn common_formats_map_to_one_e164() {
        let cases = [
            // Russian mobile, every way cashiers and customers write it.
            ("+7 (999) 123-45-67", "RU", "+79991234567"),
            ("+79991234567", "RU", "+79991234567"),
            ("8 999 123 45 67", "RU", "+79991234567"),
            ("8(999)1234567", "RU", "+79991234567"),
            ("8-999-123-45-67", "RU", "+79991234567"),
            ("89991234567", "RU", "+79991234567"),
            ("9991234567", "RU", "+79991234567"),
            ("79991234567", "RU", "+79991234567"),
            ("7 999 123 45 67", "RU", "+79991234567"),
            ("+7 8 999 123 45 67", "RU", "+79991234567"),
            ("810 7 999 123 45 67", "RU", "+79991234567"),
            ("  +7\u{a0}999\u{2013}123\u{2013}45\u{2013}67 ", "RU", "+79991234567"),
            ("8 999 123 45 67", "ru", "+79991234567"),
            ("+7 999 123 45 67", "PL", "+79991234567"),
            ("+7 999 123 45 67", "", "+79991234567"),
            // Russian landlines, including area codes that start with the trunk digit 8.
            ("+7 495 123-45-67", "RU", "+74951234567"),
            ("8 (495) 123-45-67", "RU", "+74951234567"),
            ("+7 812 123-45-67", "RU", "+78121234567"),
            ("8 812 123-45-67", "RU", "+78121234567"),
            ("812 123 45 67", "RU", "+78121234567"),
            ("+7 (3452) 12-34-56", "RU", "+73452123456"),
            ("8 800 555 35 35", "RU", "+78005553535"),
            // Kazakhstan shares +7.
            ("+7 700 123 45 67", "RU", "+77001234567"),
            ("8 700 123 45 67", "KZ", "+77001234567"),
            // Poland: no national prefix, 00 international prefix.
            ("+48 601 234 567", "RU", "+48601234567"),
            ("0048601234567", "RU", "+48601234567"),
            ("00 48 601 234 567", "PL", "+48601234567"),
            ("601 234 567", "PL", "+48601234567"),
            ("601-234-567", "PL", "+48601234567"),
            ("48601234567", "PL", "+48601234567"),
            ("+48 22 123 45 67", "RU", "+48221234567"),
            ("22 123 45 67", "PL", "+48221234567"),
            // Others.
            ("+1 (212) 555-0100", "RU", "+12125550100"),
            ("+380 67 123 4567", "RU", "+380671234567"),
            ("+39 06 1234 5678", "RU", "+390612345678"),
            ("+49 30 123456", "RU", "+4930123456"),
            ("030 123456", "DE", "+4930123456"),
        ];
        for (input, region, want) in cases {
            assert_eq!(ok(input, region), want, "{input:?} in {region}");
        }
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let cases = [
            ("", "no digits"),
            ("   ", "no digits"),
            ("+", "no digits"),
            ("123", "default region"),
            ("abc", "characters"),
            ("+7 999", "country code"),
            ("+7 999 123 45 67 89", "country code"),
            ("8 999 123 45 6", "default region"),
            ("999 123 45 678", "default region"),
            ("+7 199 123 45 67", "country code"),
            ("+999 123 456 789", "country code"),
            ("7+9991234567", "characters"),
            ("++79991234567", "characters"),
            ("+7 999 123 45 67 x12", "characters"),
            ("tel:+79991234567", "characters"),
            ("+7 ９９９ 123 45 67", "characters"),
            ("1234567", "default region"),
            ("00000000000", "default region"),
            ("1111111111111111111111", "too many digits"),
        ];
        for (input, why) in cases {
            match normalize_phone(input, "RU") {
                Ok(phone) => panic!("{input:?} was accepted as {phone}"),
                Err(e) => {
                    assert_eq!(e.code(), "invalid_phone");
                    assert!(e.to_string().contains(why), "{input:?}: {e}");
                }
            }
        }
    }

    #[test]
    fn a_national_number_needs_a_known_region() {
        assert!(normalize_phone("9991234567", "XX").is_err());
        assert!(normalize_phone("9991234567", "RUS").is_err());
        assert!(normalize_phone("9991234567", "Р").is_err());
        assert!(is_known_region("RU") && is_known_region("pl"));
        assert!(!is_known_region("XX") && !is_known_region("") && !is_known_region("001"));
    }

    #[test]
    fn long_input_is_refused_before_parsing_and_cut_in_the_message() {
        let long = "9".repeat(10_000);
        let error = normalize_phone(&long, "RU").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("too long"), "{error}");
        assert!(error.chars().count() < 200, "{error}");
        // 64 bytes of formatting is still fine.
        let padded = format!("{:>64}", "+7 999 123 45 67");
        assert_eq!(ok(&padded, "RU"), "+79991234567");
    }

    #[test]
    fn phone_accessors() {
        let phone = normalize_phone("8 999 123 45 67", "RU").map_err(|e| e.to_string());
        let phone = phone.as_ref().map(|p| (p.as_str(), p.digits(), p.to_string()));
        assert_eq!(phone, Ok(("+79991234567", "79991234567", "+79991234567".to_string())));
    }

    // Quick cost estimate for the hot lookup path; run with
    // `cargo test --lib identity::phone -- --ignored --nocapture` (numbers from a debug build
    // overstate the release cost several times).
    #[test]
    #[ignore = "a timing estimate, not a check; run by hand"]
    fn cost_estimate() {
        let inputs = ["+7 (999) 123-45-67", "8 812 123 45 67", "9991234567", "+48 601 234 567", "123"];
        let first = std::time::Instant::now();
        let _ = is_known_region("RU");
        println!("loading the metadata: {:?}", first.elapsed());
        let first = std::time::Instant::now();
        let _ = normalize_phone(inputs[1], "RU");
        println!("first call (compiles the region's patterns): {:?}", first.elapsed());
        let rounds = 2_000;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for input in inputs {
                let _ = std::hint::black_box(normalize_phone(std::hint::black_box(input), "RU"));
            }
        }
        let per_call = start.elapsed() / (rounds * inputs.len() as u32);
        println!("normalize_phone: {per_call:?} per call");
    }

    proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,80}", region in "[A-Za-z]{0,3}") {
            let _ = normalize_phone(&input, &region);
        }

        #[test]
        fn never_panics_on_phone_like_text(input in "[+0-9 ()-]{0,40}") {
            if let Ok(phone) = normalize_phone(&input, "RU") {
                // A normalised number reads back as itself.
                prop_assert_eq!(normalize_phone(phone.as_str(), "PL").ok(), Some(phone.clone()));
                prop_assert!(phone.digits().bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}
