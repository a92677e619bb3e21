//! Customer identifiers: phone numbers, card numbers, emails, QR codes, and what a cashier's
//! search box text means.
//!
//! Everything here is a pure function: no I/O, no clock, no database. The agent uses it to
//! normalise what a cashier types (search, enrollment), to draw and read card QR codes, and to
//! mask personal data before it reaches a log line; the cloud uses the same code so that both
//! sides store identifiers in one canonical form:
//!
//! - a phone is E.164 (`+79991234567`), see [`normalize_phone`];
//! - a card number is a string of 4 to 32 ASCII digits, see [`normalize_card`] (cards the
//!   program issues itself also carry a Luhn check digit, see [`card_number`]);
//! - an email is trimmed and lowercased, see [`normalize_email`];
//! - a referral code is eight characters with a check character, see
//!   [`normalize_referral_code`].
//!
//! What a search query can mean, and in which order the store should try the meanings, is
//! [`classify`]. The QR payload formats the agent reads are listed in the [`qr`] module; the
//! sign-up link a receipt's QR code holds is [`signup_link`].
//!
//! Nothing in this module panics on any input, and the parsers refuse over-long input before
//! doing any real work (a phone over 64 bytes, a query over 256, an image over 20 megapixels).
//!
//! The phone metadata (the `phonenumber` crate's database) is loaded on first use, which takes
//! a noticeable moment (about 0.3 s in a debug build); [`is_known_region`], called when the
//! configuration is checked, loads it before the first customer is searched for.

mod card;
mod email;
pub mod fields;
mod mask;
mod phone;
mod profile;
pub mod qr;
mod query;
mod referral;
mod signup;

pub use card::{card_number, luhn_check_digit, luhn_valid, normalize_card, MAX_CARD_DIGITS, MIN_CARD_DIGITS};
pub use email::{normalize_email, MAX_EMAIL_LEN};
pub use mask::{mask_email, mask_name, mask_phone, phone_hint};
pub use phone::{is_known_region, normalize_phone, warm_up as warm_up_phones, Phone, MAX_PHONE_INPUT};
pub use profile::CustomerProfile;
pub use qr::{
    card_qr_payload, decode_image, parse_qr_payload, render_png, render_svg, MAX_IMAGE_PIXELS, MAX_MODULE_PX,
};
pub use query::{classify, matched_by_name, SearchKey, MAX_QUERY_LEN};
pub use referral::{normalize_referral_code, referral_code_from, REFERRAL_ALPHABET, REFERRAL_CODE_LEN};
pub use signup::{percent_encode as url_component, personal_data_notice, signup_link, valid_store, MAX_STORE_LEN};

/// Why an identifier could not be read or drawn.
///
/// Each variant has a stable snake_case [`code`](IdentityError::code) for the API's error body
/// and a sentence for the cashier (`Display`). A phone's text is kept in the message: it comes
/// from the cashier who typed it, so showing it back to them leaks nothing (log lines must still
/// mask it, see [`mask_phone`]).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The text is not a phone number we can store. `input` is cut to
    /// [`MAX_PHONE_INPUT`] characters so that a 10 KB paste does not end up in a message.
    #[error("{input:?} is not a valid phone number: {why}")]
    InvalidPhone { input: String, why: &'static str },
    /// The text cannot be drawn as a QR code (usually: too long for the largest QR version).
    #[error("cannot draw the QR code: {source}")]
    QrRenderFailed {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The bytes are not a PNG or JPEG image we can read (unknown or unsupported format, or
    /// corrupt data).
    #[error("the upload is not a readable PNG or JPEG image: {source}")]
    NotAnImage {
        #[source]
        source: image::ImageError,
    },
    /// The image has more pixels than [`MAX_IMAGE_PIXELS`], or decoding it would need more
    /// memory than that many 8-bit RGBA pixels. Checked from the image's header, before the
    /// pixels are decoded.
    #[error("the image is too large: at most {} megapixels are accepted", MAX_IMAGE_PIXELS / 1_000_000)]
    ImageTooLarge,
    /// The image was read, but no decodable QR code was found in it.
    #[error("no readable QR code was found in the image")]
    NoQrFound,
}

impl IdentityError {
    /// The stable machine-readable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::InvalidPhone { .. } => "invalid_phone",
            IdentityError::QrRenderFailed { .. } => "qr_render_failed",
            IdentityError::NotAnImage { .. } => "not_an_image",
            IdentityError::ImageTooLarge => "image_too_large",
            IdentityError::NoQrFound => "no_qr_found",
        }
    }

    /// The values the sentence names, under the names the translations use (`input`, `why`,
    /// `megapixels`), so a store's error or an API answer can carry them.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            IdentityError::InvalidPhone { input, why } => vec![("input", input.clone()), ("why", (*why).to_owned())],
            IdentityError::ImageTooLarge => vec![("megapixels", (MAX_IMAGE_PIXELS / 1_000_000).to_string())],
            IdentityError::QrRenderFailed { .. } | IdentityError::NotAnImage { .. } | IdentityError::NoQrFound => {
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The codes are part of the HTTP contract: a test pins them so a rename is deliberate.
    #[test]
    fn error_codes_are_stable() {
        let cases: [(IdentityError, &str); 4] = [
            (IdentityError::InvalidPhone { input: "1".into(), why: "x" }, "invalid_phone"),
            (IdentityError::QrRenderFailed { source: "x".into() }, "qr_render_failed"),
            (IdentityError::ImageTooLarge, "image_too_large"),
            (IdentityError::NoQrFound, "no_qr_found"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
        let not_an_image = decode_image(b"not an image").map(|_| ());
        assert!(matches!(&not_an_image, Err(e) if e.code() == "not_an_image"), "{not_an_image:?}");
    }
}
