//! The sign-up QR code a till prints on a receipt, so a customer can join from their phone:
//! a link to the chain's public sign-up page (loyalty-cloud's `GET /signup`, or a page of the
//! chain's own) that names the store it was printed in.
//!
//! The payload is a URL: `{base}/signup`, or `{base}/signup?store={store}` with the store's
//! name percent-encoded as UTF-8 (every byte outside `A–Z a–z 0–9 - . _ ~`). `base` is an
//! `http(s)://` address without a trailing `/`. A golden test pins the format: printed receipts
//! outlive software versions.

/// The longest store name a sign-up link carries, in characters.
pub const MAX_STORE_LEN: usize = 64;

/// Punctuation a store name may hold besides letters, digits and single inner spaces
/// (`Main st. 5/2`, `ТЦ «Европа»`, `Store #12 (north)`).
const STORE_PUNCTUATION: &str = "-_.,#/№'\"()&+«»:";

/// Whether `store` is a name a sign-up link may carry: 1 to [`MAX_STORE_LEN`] characters of
/// letters (any script), digits, spaces inside and a little punctuation; no control characters.
pub fn valid_store(store: &str) -> bool {
    let count = store.chars().count();
    (1..=MAX_STORE_LEN).contains(&count)
        && store.trim() == store
        && !store.contains("  ")
        && store.chars().all(|c| c.is_alphanumeric() || c == ' ' || STORE_PUNCTUATION.contains(c))
}

/// The longest operator name the personal-data notice carries, in characters.
pub const MAX_OPERATOR_LEN: usize = 300;

/// The personal-data notice from a configuration's two values (each trimmed; empty = absent),
/// or a sentence saying which one is wrong. Shared by the agent's `config.toml` and the
/// cloud's flags.
pub fn personal_data_notice(
    operator: Option<&str>,
    policy_url: Option<&str>,
) -> Result<crate::wire::PersonalDataNotice, String> {
    let operator = operator.map(str::trim).filter(|o| !o.is_empty());
    if let Some(name) = operator {
        if name.chars().count() > MAX_OPERATOR_LEN || name.chars().any(char::is_control) {
            return Err(format!(
                "the personal data operator must be a name of at most {MAX_OPERATOR_LEN} characters on one line"
            ));
        }
    }
    let policy_url = policy_url.map(str::trim).filter(|u| !u.is_empty());
    if let Some(url) = policy_url {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "the privacy policy address must be an http(s) address such as \"https://shop.example.com/privacy\", not {url:?}"
            ));
        }
    }
    Ok(crate::wire::PersonalDataNotice {
        operator: operator.map(str::to_owned),
        policy_url: policy_url.map(str::to_owned),
    })
}

/// The sign-up link for `store` under `base` (see the module documentation for the format).
pub fn signup_link(base: &str, store: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    match store {
        Some(store) => format!("{base}/signup?store={}", percent_encode(store)),
        None => format!("{base}/signup"),
    }
}

/// Percent-encodes every UTF-8 byte outside RFC 3986's unreserved set (a URL's path segment or
/// query value).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format is printed on paper: it must not drift.
    #[test]
    fn signup_links_are_stable() {
        assert_eq!(signup_link("https://loyalty.example.com", None), "https://loyalty.example.com/signup");
        assert_eq!(
            signup_link("https://loyalty.example.com/", Some("Main street #1")),
            "https://loyalty.example.com/signup?store=Main%20street%20%231"
        );
        assert_eq!(
            signup_link("http://127.0.0.1:8720", Some("ТЦ Европа")),
            "http://127.0.0.1:8720/signup?store=%D0%A2%D0%A6%20%D0%95%D0%B2%D1%80%D0%BE%D0%BF%D0%B0"
        );
        assert_eq!(
            signup_link("https://a.example", Some("a-b_c.d~e&f=g")),
            "https://a.example/signup?store=a-b_c.d~e%26f%3Dg"
        );
    }

    #[test]
    fn the_personal_data_notice_is_checked() {
        let notice = personal_data_notice(Some(" ООО «Ромашка» "), Some("https://shop.example.com/privacy")).unwrap();
        assert_eq!(notice.operator.as_deref(), Some("ООО «Ромашка»"));
        assert_eq!(notice.policy_url.as_deref(), Some("https://shop.example.com/privacy"));
        assert_eq!(personal_data_notice(Some(""), Some("  ")).unwrap(), Default::default());
        assert!(personal_data_notice(None, Some("javascript:alert(1)")).is_err());
        assert!(personal_data_notice(None, Some("https://a.example/x y")).is_err());
        assert!(personal_data_notice(Some("line\nbreak"), None).is_err());
        assert!(personal_data_notice(Some(&"x".repeat(301)), None).is_err());
    }

    #[test]
    fn store_names_are_checked() {
        for good in ["Main street", "ТЦ «Европа»", "Store #12 (north)", "5/2", &"x".repeat(64)] {
            assert!(valid_store(good), "{good:?}");
        }
        for bad in
            ["", " lead", "trail ", "two  spaces", "tab\there", "new\nline", "<script>", "a;b", "a?b", &"x".repeat(65)]
        {
            assert!(!valid_store(bad), "{bad:?}");
        }
    }
}
