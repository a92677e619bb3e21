//! Proof that the person spending points is the customer (issue 14): the codes a till accepts
//! before it lets points be spent. Pure: no I/O, no clock (times are passed in), no storage —
//! the agent keeps the codes it sent and the time steps it accepted, the cloud the secrets.
//!
//! - [`totp`]: the customer's time-based code (RFC 6238: HMAC-SHA-1, 30-second steps, six
//!   digits), computed by their self-service page or an authenticator app from a per-customer
//!   secret the tills hold, so a till checks it without the network.
//! - [`sms_code`]: a one-time code sent by SMS: made, kept as a salted digest (never the digits),
//!   checked in constant time.
//! - [`signed_qr`]: the rotating QR token of the customer's page, signed with the program's key.

pub mod signed_qr;
pub mod sms_code;
pub mod totp;

/// Digits in every code a cashier types (an SMS code and a time-based one look the same).
pub const CODE_DIGITS: usize = 6;

/// The code as typed: six digits, spaces and dashes a person may add left out; `None` when it
/// cannot be a code at all.
pub fn normalize_code(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_six_digits_however_it_is_typed() {
        assert_eq!(normalize_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalize_code("123-456").as_deref(), Some("123456"));
        assert_eq!(normalize_code("12345"), None);
        assert_eq!(normalize_code("1234567"), None);
        assert_eq!(normalize_code("12345a"), None);
        assert_eq!(normalize_code("١٢٣٤٥٦"), None, "only ASCII digits");
    }
}
