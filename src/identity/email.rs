//! Email addresses, normalised for lookup: trimmed and lower-case.

/// A usable email address in lower case, or `None`.
pub fn normalize_email(input: &str) -> Option<String> {
    let email = input.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let sane = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    sane.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Olga@Example.COM ").as_deref(), Some("olga@example.com"));
        assert_eq!(normalize_email("анна@пример.рф").as_deref(), Some("анна@пример.рф"));
        for bad in ["", "plain", "@example.com", "a@b", "a@@b.c", "a b@c.d", "a@.com", "a@com.", "a@b..c"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
