//! Email addresses: the canonical form we store and search by.
//!
//! This is a sanity check, not RFC 5322: it refuses what is certainly not a deliverable address
//! (no `@`, no dot in the domain, spaces, control characters, over-long text) and lowercases
//! the rest so that `Ivan@Example.com` and `ivan@example.com` are one customer. Whether the
//! mailbox exists is not its business.

/// The longest address we accept, in bytes: the longest address that fits in an SMTP path.
pub const MAX_EMAIL_LEN: usize = 254;

/// The longest local part (before the `@`), in bytes, per RFC 5321.
const MAX_LOCAL_LEN: usize = 64;

/// The canonical form of an email address: trimmed and lowercased, exactly one `@`, a
/// non-empty local part of at most 64 bytes, a domain with a dot and no empty label, at most
/// [`MAX_EMAIL_LEN`] bytes, and no whitespace or control characters. `None` otherwise.
pub fn normalize_email(input: &str) -> Option<String> {
    let trimmed = input.trim();
    // Lowercasing can change the length in bytes (`K` is three bytes, `k` one), so the limits
    // are checked on the result; this first cut only keeps a pasted novel from being copied.
    if trimmed.len() > 4 * MAX_EMAIL_LEN {
        return None;
    }
    let email = trimmed.to_lowercase();
    if email.len() > MAX_EMAIL_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || local.len() > MAX_LOCAL_LEN || domain.contains('@') {
        return None;
    }
    // `a@b..c`, `a@.b.c` and `a@b.c.` are typos, never addresses.
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return None;
    }
    Some(email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_normalisation() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_domain = format!("a@{}.com", "b".repeat(250));
        let cases = [
            ("ivan@example.com", Some("ivan@example.com")),
            ("  Ivan.Petrov@Example.COM \n", Some("ivan.petrov@example.com")),
            ("ivan+loyalty@mail.example.ru", Some("ivan+loyalty@mail.example.ru")),
            ("Иван@Пример.РФ", Some("иван@пример.рф")),
            ("ivan@localhost", None),
            ("ivan@", None),
            ("@example.com", None),
            ("ivan", None),
            ("ivan@@example.com", None),
            ("ivan@exa@mple.com", None),
            ("iv an@example.com", None),
            ("ivan@example\u{0}.com", None),
            ("ivan@example..com", None),
            ("ivan@.example.com", None),
            ("ivan@example.com.", None),
            ("", None),
            (long_local.as_str(), None),
            (long_domain.as_str(), None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_email(input).as_deref(), want, "{input:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_is_idempotent(input in "\\PC{0,300}") {
            if let Some(email) = normalize_email(&input) {
                prop_assert_eq!(normalize_email(&email), Some(email.clone()));
            }
        }
    }
}
