//! Masking personal data for logs: enough to tell records apart, not enough to identify anyone.

/// `+79991234567` → `+7999***4567`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 8 {
        return "***".to_owned();
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

/// `Ivan Petrov` → `I*** P***` (per word, Unicode-aware).
pub fn mask_name(name: &str) -> String {
    name.split_whitespace()
        .map(|word| word.chars().next().map(|first| format!("{first}***")).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ivan@example.com` → `i***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_phone("+79991234567"), "+7999***4567");
        assert_eq!(mask_phone("+7"), "***");
        assert_eq!(mask_name("Ivan Petrov"), "I*** P***");
        assert_eq!(mask_name("Анна Иванова"), "А*** И***");
        assert_eq!(mask_email("ivan@example.com"), "i***@example.com");
        assert_eq!(mask_email("nonsense"), "***");
    }
}
