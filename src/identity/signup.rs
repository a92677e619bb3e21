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

/// The sign-up link for `store` under `base` (see the module documentation for the format).
pub fn signup_link(base: &str, store: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    match store {
        Some(store) => format!("{base}/signup?store={}", percent_encode(store)),
        None => format!("{base}/signup"),
    }
}

/// Percent-encodes every UTF-8 byte outside RFC 3986's unreserved set.
fn percent_encode(text: &str) -> String {
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
