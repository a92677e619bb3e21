//! Verification codes: how they are made, how long they live, and who delivers them.
//!
//! The protocol sends the code itself back to MoySklad, whose till compares it with what the
//! customer says; so the code's secrecy protects nothing on our side. What we enforce is the
//! life of a code: it expires after [`CODE_TTL_SECONDS`], is used up once (a `CHECKED`
//! registration or a spending sale consumes it), and a till asking again within
//! [`REPEAT_SECONDS`] gets the same code back instead of another SMS.
//!
//! Delivery is a [`CodeSender`]. Only the development sender exists: it logs the code (the phone
//! masked) instead of sending it. A real SMS gateway implements the same trait.

use std::future::Future;
use std::pin::Pin;

use rand::Rng;

use super::service::CodePurpose;
use crate::identity::mask_phone;

/// How long a code is valid.
pub const CODE_TTL_SECONDS: i64 = 5 * 60;
/// How long the till must wait before asking for another code (`timeForRepeat`).
pub const REPEAT_SECONDS: i64 = 60;
/// Digits in a code: what a cashier types in a few seconds.
pub const CODE_DIGITS: usize = 4;

/// One code to deliver.
#[derive(Debug, Clone)]
pub struct CodeMessage {
    /// E.164.
    pub phone: String,
    pub code: String,
    pub purpose: CodePurpose,
}

impl CodeMessage {
    /// The SMS text.
    pub fn text(&self) -> String {
        match self.purpose {
            CodePurpose::Registration => format!("Код подтверждения регистрации: {}", self.code),
            CodePurpose::Spending => format!("Код для списания баллов: {}", self.code),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the code could not be sent: {0}")]
pub struct SendError(pub String);

/// Delivers verification codes to customers.
pub trait CodeSender: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a CodeMessage)
        -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;
}

/// The development sender: logs the code (visible) and the phone (masked); sends nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSender;

impl CodeSender for LogSender {
    fn send<'a>(
        &'a self,
        message: &'a CodeMessage,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(async move {
            tracing::info!(
                phone = %mask_phone(&message.phone),
                code = %message.code,
                purpose = message.purpose.as_str(),
                "verification code (development sender: logged, not sent)"
            );
            Ok(())
        })
    }
}

/// A fresh code of [`CODE_DIGITS`] digits from the OS-seeded generator.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// The cashier's note, at most 140 characters as the protocol asks.
pub fn message_for_cashier(phone: &str, fresh: bool) -> String {
    let text = if fresh {
        format!("Код отправлен покупателю на номер {}", mask_phone(phone))
    } else {
        format!("Код уже отправлен на номер {}; повторите его покупателю", mask_phone(phone))
    };
    text.chars().take(140).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits() {
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(code.len(), CODE_DIGITS);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(message_for_cashier("+79991234567", true).chars().count() <= 140);
        assert!(!message_for_cashier("+79991234567", true).contains("1234567"));
    }
}
