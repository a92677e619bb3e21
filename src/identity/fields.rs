//! One definition of a valid customer, for both ledgers: the free-text fields (name, email,
//! tags, birthday), the phone and card as they are stored, consents as they are stamped, and
//! the bounds of a manual points adjustment.
//!
//! The agent (enrolment and edits at the till) and the cloud (the admin API, the sign-up form,
//! tills' events) both call these, so a value one of them stores can never be refused by the
//! other. Each check
//! answers a [`FieldError`] with a stable code, an English sentence and the values a
//! translation needs; each store turns it into its own error.
//!
//! Text is trimmed; empty means absent. Too long, control characters, and invisible format
//! characters are refused rather than cut or stripped: a right-to-left override (U+202E) can
//! make a name read backwards on the cashier's screen and in the back office, and a zero-width
//! space makes two names that look the same different, so the person typing must see the
//! refusal and type the value again.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::wire::{Consent, Consents, ConsentsInput};

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The most tags a customer carries, and the longest tag.
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 64;
/// The longest card text read before it is normalised (digits with spaces or dashes).
pub const MAX_CARD_TEXT_CHARS: usize = 40;
/// The largest manual adjustment, either way, in points.
pub const MAX_ADJUSTMENT_POINTS: u64 = 1_000_000_000;
/// The longest reason an adjustment records, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Why a field was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    /// Named values for the translations (`field`, `max`, …).
    pub params: Vec<(&'static str, String)>,
}

/// Characters that draw nothing but change how text reads or compares: Unicode's format
/// characters (general category Cf: bidi overrides and isolates, zero-width space, joiner and
/// non-joiner, the byte-order mark, soft hyphen, tag characters).
pub fn is_invisible(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// Whether `text` holds an invisible character that is not doing a joiner's honest job. The
/// zero-width joiner and non-joiner are part of emoji sequences (👩‍💼) and of Persian and
/// Indic spelling; between two characters of scripts that never use them (Latin, Greek,
/// Cyrillic, Armenian — everything below U+0590), or at either end, they only hide.
fn hides_something(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        if !is_invisible(c) {
            return false;
        }
        if c != '\u{200C}' && c != '\u{200D}' {
            return true;
        }
        let joins = |n: Option<&char>| n.is_some_and(|&n| u32::from(n) >= 0x0590 && !is_invisible(n));
        !(i > 0 && joins(chars.get(i - 1)) && joins(chars.get(i + 1)))
    })
}

/// Trims a text field; empty means absent. Over `max` characters, control characters or
/// invisible format characters are refused.
pub fn clean_text(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, FieldError> {
    let Some(value) = value else { return Ok(None) };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if hides_something(trimmed) {
        return Err(FieldError {
            code: "invisible_characters",
            message: format!(
                "{field} contains invisible formatting characters (such as a right-to-left override or a zero-width space); type it again"
            ),
            params: vec![("field", field.to_owned())],
        });
    }
    if trimmed.chars().count() > max || trimmed.chars().any(char::is_control) {
        return Err(FieldError {
            code: "invalid_field",
            message: format!("{field} must be at most {max} characters of text without control characters"),
            params: vec![("field", field.to_owned()), ("max", max.to_string())],
        });
    }
    Ok(Some(trimmed.to_owned()))
}

/// A customer's name.
pub fn clean_name(value: Option<String>) -> Result<Option<String>, FieldError> {
    clean_text(value, "name", MAX_NAME_CHARS)
}

/// An email address in its canonical form (see [`super::normalize_email`]).
pub fn clean_email(value: Option<String>) -> Result<Option<String>, FieldError> {
    match clean_text(value, "email", super::MAX_EMAIL_LEN)? {
        Some(email) => super::normalize_email(&email).map(Some).ok_or_else(|| FieldError {
            code: "invalid_email",
            message: format!("{email:?} is not an email address"),
            params: vec![("input", email.clone())],
        }),
        None => Ok(None),
    }
}

/// Tags: each cleaned like text, empty ones dropped, duplicates kept once, in their order.
pub fn clean_tags(tags: Vec<String>) -> Result<Vec<String>, FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError {
            code: "invalid_field",
            message: format!("a customer can have at most {MAX_TAGS} tags"),
            params: vec![("max_tags", MAX_TAGS.to_string())],
        });
    }
    let mut cleaned = Vec::with_capacity(tags.len());
    for tag in tags {
        if let Some(tag) = clean_text(Some(tag), "tag", MAX_TAG_CHARS)? {
            if !cleaned.contains(&tag) {
                cleaned.push(tag);
            }
        }
    }
    Ok(cleaned)
}

/// A birthday written `YYYY-MM-DD`, a real date.
pub fn clean_birthday(value: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(text) = clean_text(value, "birthday", 10)? else { return Ok(None) };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(&text, &format).map(|_| Some(text.clone())).map_err(|_| FieldError {
        code: "invalid_birthday",
        message: format!("birthday {text:?} must be a date written as YYYY-MM-DD"),
        params: Vec::new(),
    })
}

/// A phone number as both ledgers store it: E.164 (see [`super::normalize_phone`]), numbers
/// without a country code read in `default_region`.
pub fn phone(input: &str, default_region: &str) -> Result<String, FieldError> {
    super::normalize_phone(input, default_region).map(|phone| phone.as_str().to_owned()).map_err(|e| FieldError {
        code: e.code(),
        message: e.to_string(),
        params: e.params(),
    })
}

/// A card number as both ledgers store it: its digits (see [`super::normalize_card`]).
pub fn card(input: &str) -> Result<String, FieldError> {
    super::normalize_card(input).ok_or_else(|| FieldError {
        code: "invalid_card",
        message: format!(
            "card number {input:?} must be {} to {} digits",
            super::MIN_CARD_DIGITS,
            super::MAX_CARD_DIGITS
        ),
        params: Vec::new(),
    })
}

/// A card number a customer brings to enrolment: trimmed like text (empty means "assign
/// one"), then [`card`].
pub fn clean_card(value: Option<String>) -> Result<Option<String>, FieldError> {
    match clean_text(value, "card", MAX_CARD_TEXT_CHARS)? {
        Some(text) => card(&text).map(Some),
        None => Ok(None),
    }
}

/// Consents the customer just gave or withdrew, each stamped with the time and where it was
/// given (`till`, `cloud`, `web`, `import`, …); those not named stay as they were.
pub fn stamp_consents(mut consents: Consents, input: &ConsentsInput, source: &str, at: i64) -> Consents {
    let stamp = |granted: bool| Consent { granted, at: crate::clock::rfc3339(at), source: source.to_owned() };
    if let Some(granted) = input.sms {
        consents.sms = Some(stamp(granted));
    }
    if let Some(granted) = input.email {
        consents.email = Some(stamp(granted));
    }
    if let Some(granted) = input.personal_data {
        consents.personal_data = Some(stamp(granted));
    }
    consents
}

/// Whether `points` fit an adjustment: a whole number, not zero, within
/// ±[`MAX_ADJUSTMENT_POINTS`]. Tills' adjustment events are held to the same bound.
pub fn adjustment_points_fit(points: i64) -> bool {
    points != 0 && points.unsigned_abs() <= MAX_ADJUSTMENT_POINTS
}

/// A manual adjustment as the back office or a standalone till may make it: points that fit
/// ([`adjustment_points_fit`]) and a reason of 1 to [`MAX_REASON_CHARS`] characters.
pub fn check_adjustment(points: i64, reason: &str) -> Result<(), FieldError> {
    if !adjustment_points_fit(points) {
        return Err(FieldError {
            code: "invalid_points",
            message: "points must be a non-zero whole number within ±1,000,000,000".to_owned(),
            params: Vec::new(),
        });
    }
    if reason.trim().is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(FieldError {
            code: "invalid_reason",
            message: format!("give a reason of 1 to {MAX_REASON_CHARS} characters"),
            params: Vec::new(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_refused_in_names_emails_and_tags() {
        for sneaky in
            ["Ivan\u{202E}vorteP", "Iv\u{200B}an", "\u{FEFF}Ivan", "Ivan\u{2066}x", "I\u{00AD}van", "Iv\u{200D}an"]
        {
            let refused = clean_name(Some(sneaky.into())).unwrap_err();
            assert_eq!(refused.code, "invisible_characters", "{sneaky:?}");
            assert_eq!(refused.params, vec![("field", "name".to_owned())]);
        }
        assert_eq!(clean_email(Some("ivan\u{200B}@example.com".into())).unwrap_err().code, "invisible_characters");
        assert_eq!(clean_tags(vec!["vip\u{202E}".into()]).unwrap_err().code, "invisible_characters");
        for hidden in ["Иван\u{200D}ов", "\u{200D}👩", "👩\u{200D}", "a\u{200C}b", "👩\u{200D}\u{200B}💼"]
        {
            assert_eq!(clean_name(Some(hidden.into())).unwrap_err().code, "invisible_characters", "{hidden:?}");
        }
    }

    #[test]
    fn joiners_doing_their_job_pass() {
        for name in ["Анна 👩\u{200D}💼 O'Brien", "👨\u{200D}👩\u{200D}👧", "می\u{200C}خواهم", "क्\u{200D}ष"]
        {
            assert_eq!(clean_name(Some(name.into())).unwrap().as_deref(), Some(name), "{name:?}");
        }
    }

    #[test]
    fn ordinary_text_in_any_script_passes() {
        for name in ["Иван Петров", "Ivan Petrov", "محمد", "李小龍", "Łukasz Żółć", "O'Brien-Smith", "José 🙂"]
        {
            assert_eq!(clean_name(Some(format!("  {name} "))).unwrap().as_deref(), Some(name));
        }
        assert_eq!(clean_name(Some("   ".into())).unwrap(), None);
        assert_eq!(clean_email(Some(" Ivan@Example.COM ".into())).unwrap().as_deref(), Some("ivan@example.com"));
        assert_eq!(clean_tags(vec!["vip".into(), "".into(), "vip".into(), "b2b".into()]).unwrap(), ["vip", "b2b"]);
        assert_eq!(clean_birthday(Some("1990-02-28".into())).unwrap().as_deref(), Some("1990-02-28"));
    }

    #[test]
    fn the_old_refusals_keep_their_codes() {
        assert_eq!(clean_name(Some("x".repeat(201))).unwrap_err().code, "invalid_field");
        assert_eq!(clean_name(Some("a\u{7}b".into())).unwrap_err().code, "invalid_field");
        assert_eq!(clean_email(Some("not-an-email".into())).unwrap_err().code, "invalid_email");
        assert_eq!(clean_tags(vec!["t".into(); 51]).unwrap_err().params, vec![("max_tags", "50".to_owned())]);
        assert_eq!(clean_birthday(Some("1990-02-30".into())).unwrap_err().code, "invalid_birthday");
    }

    #[test]
    fn phones_and_cards_are_stored_in_one_form() {
        assert_eq!(phone("8 (999) 123-45-67", "RU").unwrap(), "+79991234567");
        let refused = phone("12ab", "RU").unwrap_err();
        assert_eq!(refused.code, "invalid_phone");
        assert!(refused.params.iter().any(|(name, value)| *name == "input" && value == "12ab"), "{refused:?}");
        assert_eq!(card(" 1234-5678 ").unwrap(), "12345678");
        assert_eq!(card("12").unwrap_err().code, "invalid_card");
        assert_eq!(clean_card(Some("  ".into())).unwrap(), None);
        assert_eq!(clean_card(Some(" 1234 5678 ".into())).unwrap().as_deref(), Some("12345678"));
        assert_eq!(clean_card(Some("1".repeat(41))).unwrap_err().code, "invalid_field");
        assert_eq!(clean_card(Some("abcd".into())).unwrap_err().code, "invalid_card");
    }

    #[test]
    fn consents_are_stamped_and_the_rest_kept() {
        let earlier =
            stamp_consents(Consents::default(), &ConsentsInput { sms: Some(true), ..Default::default() }, "till", 0);
        let later =
            stamp_consents(earlier.clone(), &ConsentsInput { email: Some(false), ..Default::default() }, "web", 86_400);
        assert_eq!(later.sms, earlier.sms);
        let email = later.email.expect("stamped");
        assert_eq!((email.granted, email.source.as_str(), email.at.as_str()), (false, "web", "1970-01-02T00:00:00Z"));
    }

    #[test]
    fn adjustments_are_bounded() {
        for points in [1, -1, 1_000_000_000, -1_000_000_000] {
            assert_eq!(check_adjustment(points, "fix"), Ok(()), "{points}");
        }
        for points in [0, 1_000_000_001, -1_000_000_001, i64::MIN] {
            assert_eq!(check_adjustment(points, "fix").unwrap_err().code, "invalid_points", "{points}");
        }
        for reason in ["", "   ", &"x".repeat(501)] {
            assert_eq!(check_adjustment(5, reason).unwrap_err().code, "invalid_reason", "{reason:?}");
        }
        assert_eq!(check_adjustment(5, &"я".repeat(500)), Ok(()));
    }
}
