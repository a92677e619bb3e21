//! Customer identifiers: phone numbers, card numbers, emails, search queries and QR codes.
//!
//! Pure functions (no I/O, no clock) shared by the agent — search, enrollment, logs — and, later,
//! the cloud. Every function takes arbitrary text from a till or a web form and never panics.

mod card;
mod email;
mod mask;
mod phone;
mod qr;
mod query;

pub use card::{card_number, luhn_check_digit, luhn_valid, normalize_card};
pub use email::normalize_email;
pub use mask::{mask_email, mask_name, mask_phone};
pub use phone::{normalize_phone, Phone};
pub use qr::{card_qr_payload, decode_image, parse_qr_payload, render_png, render_svg};
pub use query::{classify, matched_by_name, SearchKey};

/// Why an identifier or an image was refused. `code()` is the API's stable error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("{input:?} is not a phone number we can use: {why}")]
    InvalidPhone { input: String, why: &'static str },
    #[error("the QR code could not be drawn: {0}")]
    QrRender(String),
    #[error("the upload is not a PNG or JPEG image we can read")]
    NotAnImage,
    #[error("the image is too large ({width}×{height}); send at most 20 megapixels")]
    ImageTooLarge { width: u32, height: u32 },
    #[error("no QR code was found in the image; hold the code flat and closer to the camera")]
    NoQrFound,
}

impl IdentityError {
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::InvalidPhone { .. } => "invalid_phone",
            IdentityError::QrRender(_) => "qr_render_failed",
            IdentityError::NotAnImage => "not_an_image",
            IdentityError::ImageTooLarge { .. } => "image_too_large",
            IdentityError::NoQrFound => "no_qr_found",
        }
    }
}
