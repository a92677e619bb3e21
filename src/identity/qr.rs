//! Card QR codes: what they carry, drawing them (SVG, PNG) and reading them back from a photo.
//!
//! # QR payload formats
//!
//! The QR codes the agent draws carry the card number as **plain digits**
//! (`2700000012347`): a till's barcode scanner types the payload into whatever field has focus,
//! and digits survive every keyboard layout and scanner configuration.
//!
//! When reading a scanned or decoded payload ([`parse_qr_payload`]), the agent accepts:
//!
//! | form | example | card |
//! |---|---|---|
//! | plain card digits (spaces and dashes ignored) | `2700 0000 1234 7` | `2700000012347` |
//! | `loyalty:card:` + digits (scheme in any case) | `LOYALTY:CARD:2700000012347` | `2700000012347` |
//! | `http(s)` URL with a `card=` query parameter | `https://example.com/l?card=2700000012347` | `2700000012347` |
//! | `http(s)` URL whose last path segment is the digits | `https://example.com/c/2700000012347` | `2700000012347` |
//!
//! Card digits are 4 to 32 ASCII digits. Surrounding whitespace (scanners often add a line
//! break) is ignored. A URL's `card=` parameter wins over its path, and a `#fragment` is
//! ignored. Anything else is not a card payload; in particular the signed, expiring tokens from
//! the customer's app are verified elsewhere, with the program's key.
//!
//! # Reading images
//!
//! [`decode_image`] takes a PNG or JPEG (a webcam frame, a screenshot of the customer's
//! phone). It reads the image size from the header and refuses images over
//! [`MAX_IMAGE_PIXELS`] before decoding any pixel, so a small compressed file cannot make the
//! agent allocate gigabytes.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::codecs::png::PngEncoder;
use image::error::{ImageFormatHint, UnsupportedError, UnsupportedErrorKind};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, Luma};
use qrcode::QrCode;

use super::card::{normalize_card, MAX_CARD_DIGITS, MIN_CARD_DIGITS};
use super::IdentityError;

/// The most pixels [`decode_image`] accepts (20 megapixels: more than any webcam frame or phone
/// screenshot).
pub const MAX_IMAGE_PIXELS: u64 = 20_000_000;

/// The most bytes the decoded image may take: [`MAX_IMAGE_PIXELS`] of 8-bit RGBA. A 16-bit
/// image is accepted up to half the pixels.
const MAX_DECODED_BYTES: u64 = MAX_IMAGE_PIXELS * 4;

/// The largest module size [`render_png`] draws, in pixels. A card's QR code is about 25
/// modules wide, so this still gives an 1,100-pixel-wide image, and a caller cannot ask for a
/// gigapixel one.
pub const MAX_MODULE_PX: u32 = 32;

/// The module size of [`render_svg`] output, in SVG user units. An SVG scales, so this only
/// sets the size a browser shows it at when nothing else does.
const SVG_MODULE_UNITS: u32 = 8;

/// Text longer than this is not looked at: a QR code holds at most 2,953 bytes.
const MAX_PAYLOAD_LEN: usize = 4096;

const SCHEME: &str = "loyalty:card:";

/// The text to put in a card's QR code: the card's digits, without spaces or dashes.
///
/// `card` is expected to be a card number already; if it is not one [`normalize_card`]
/// accepts, it is used as it is (trimmed), so the QR code shows exactly what is stored.
pub fn card_qr_payload(card: &str) -> String {
    normalize_card(card).unwrap_or_else(|| card.trim().to_string())
}

/// The card number a scanned or decoded QR payload names, in any of the formats listed in the
/// module documentation, or `None`.
pub fn parse_qr_payload(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() > MAX_PAYLOAD_LEN {
        return None;
    }
    parse_structured_payload(text).or_else(|| normalize_card(text))
}

/// The card number in a payload that is unmistakably a QR code's (the `loyalty:card:` scheme
/// or a URL), as opposed to plain digits, which could just as well have been typed. Search
/// uses this to answer `matched_by: "qr"` only when the text really came from a QR code.
pub(crate) fn parse_structured_payload(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() > MAX_PAYLOAD_LEN {
        return None;
    }
    if let Some(rest) = strip_prefix_ignore_case(text, SCHEME) {
        return normalize_card(rest);
    }
    card_from_url(text)
}

/// Draws `text` as a QR code in SVG (black on white, with the standard 4-module quiet zone).
pub fn render_svg(text: &str) -> Result<String, IdentityError> {
    let code = qr_code(text)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .module_dimensions(SVG_MODULE_UNITS, SVG_MODULE_UNITS)
        .quiet_zone(true)
        .build())
}

/// Draws `text` as a QR code in an 8-bit greyscale PNG, `module_px` pixels per module (clamped
/// to 1..=[`MAX_MODULE_PX`]), black on white with the standard 4-module quiet zone.
pub fn render_png(text: &str, module_px: u32) -> Result<Vec<u8>, IdentityError> {
    let code = qr_code(text)?;
    let px = module_px.clamp(1, MAX_MODULE_PX);
    let image = code.render::<Luma<u8>>().module_dimensions(px, px).quiet_zone(true).build();
    let mut png = Vec::new();
    image
        .write_with_encoder(PngEncoder::new(&mut png))
        .map_err(|e| IdentityError::QrRenderFailed { source: Box::new(e) })?;
    Ok(png)
}

/// Finds a QR code in a PNG or JPEG image and returns its text (the payload as it is, not
/// parsed: pass it to [`parse_qr_payload`] for a card number). If the image holds several
/// QR codes, the first one that decodes wins.
///
/// Errors: [`IdentityError::NotAnImage`] for bytes that are not a PNG or JPEG we can read,
/// [`IdentityError::ImageTooLarge`] over [`MAX_IMAGE_PIXELS`], [`IdentityError::NoQrFound`]
/// when the image holds no readable QR code.
pub fn decode_image(bytes: &[u8]) -> Result<String, IdentityError> {
    let image = read_image(bytes)?;
    let luma = image.into_luma8();
    // rqrr has a history of panicking on unusual images (index out of bounds in grid
    // sampling). The photo comes from outside and no photo may take the agent down, so a panic
    // in the decoder is treated as "no QR code here". It holds no locks or shared state, so
    // nothing is left inconsistent by unwinding out of it.
    catch_unwind(AssertUnwindSafe(move || {
        let mut prepared = rqrr::PreparedImage::prepare(luma);
        prepared.detect_grids().iter().find_map(|grid| grid.decode().ok().map(|(_meta, text)| text))
    }))
    .ok()
    .flatten()
    .ok_or(IdentityError::NoQrFound)
}

/// Decodes a PNG or JPEG, refusing a too-large one from its header alone.
fn read_image(bytes: &[u8]) -> Result<DynamicImage, IdentityError> {
    let not_an_image = |source| IdentityError::NotAnImage { source };
    let format = image::guess_format(bytes).map_err(not_an_image)?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        let hint = ImageFormatHint::Exact(format);
        let unsupported = UnsupportedError::from_format_and_kind(hint.clone(), UnsupportedErrorKind::Format(hint));
        return Err(not_an_image(ImageError::Unsupported(unsupported)));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let from_image_error = |e: ImageError| match e {
        ImageError::Limits(_) => IdentityError::ImageTooLarge,
        source => IdentityError::NotAnImage { source },
    };
    // Building the decoder reads only the header, so the size is known before any pixel data
    // is decoded or allocated.
    let decoder = reader.into_decoder().map_err(from_image_error)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS || decoder.total_bytes() > MAX_DECODED_BYTES {
        return Err(IdentityError::ImageTooLarge);
    }
    DynamicImage::from_decoder(decoder).map_err(from_image_error)
}

fn qr_code(text: &str) -> Result<QrCode, IdentityError> {
    if text.len() > MAX_PAYLOAD_LEN {
        return Err(IdentityError::QrRenderFailed { source: "the text is too long for a QR code".into() });
    }
    QrCode::new(text.as_bytes()).map_err(|e| IdentityError::QrRenderFailed { source: Box::new(e) })
}

/// The card digits in an `http`/`https` URL: its `card=` query parameter, else its last path
/// segment.
fn card_from_url(text: &str) -> Option<String> {
    let rest = strip_prefix_ignore_case(text, "https://").or_else(|| strip_prefix_ignore_case(text, "http://"))?;
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let from_query = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, value)| *name == "card" && is_card_digits(value))
        .map(|(_, value)| value);
    // The authority (host and port) ends at the first `/`; without a path there is no segment.
    let from_path = || {
        let (_authority, path) = before_query.split_once('/')?;
        let last = path.trim_end_matches('/').rsplit('/').next()?;
        is_card_digits(last).then_some(last)
    };
    from_query.or_else(from_path).map(str::to_string)
}

fn is_card_digits(text: &str) -> bool {
    (MIN_CARD_DIGITS..=MAX_CARD_DIGITS).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    // `get` returns `None` when the prefix length falls inside a multi-byte character.
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| text.get(prefix.len()..)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::GrayImage;
    use proptest::prelude::*;

    #[test]
    fn payload_of_a_card_is_its_digits() {
        // Golden: this is what every printed and displayed card QR code carries.
        assert_eq!(card_qr_payload("2700000012347"), "2700000012347");
        assert_eq!(card_qr_payload(" 2700 0000-1234 7 "), "2700000012347");
        assert_eq!(card_qr_payload(" VIP-7 "), "VIP-7");
    }

    #[test]
    fn payload_formats() {
        let cases = [
            ("2700000012347", Some("2700000012347")),
            ("2700000012347\r\n", Some("2700000012347")),
            ("2700 0000 1234 7", Some("2700000012347")),
            ("loyalty:card:2700000012347", Some("2700000012347")),
            ("LOYALTY:Card:2700000012347", Some("2700000012347")),
            ("loyalty:card:", None),
            ("loyalty:card:12", None),
            ("loyalty:card:27000000x", None),
            ("loyalty:points:2700000012347", None),
            ("https://example.com/c/2700000012347", Some("2700000012347")),
            ("HTTPS://EXAMPLE.COM/c/2700000012347/", Some("2700000012347")),
            ("http://example.com:8080/2700000012347", Some("2700000012347")),
            ("https://example.com/c/2700000012347?utm_source=qr#top", Some("2700000012347")),
            ("https://example.com/l?card=2700000012347", Some("2700000012347")),
            ("https://example.com/l?a=1&card=2700000012347&b=2", Some("2700000012347")),
            ("https://example.com/c/1111?card=2700000012347", Some("2700000012347")),
            ("https://example.com/c/2700000012347?card=abc", Some("2700000012347")),
            ("https://example.com/?card=", None),
            ("https://2700000012347", None),
            ("https://example.com/c/card", None),
            ("https://example.com/c/27000000123471234567890123456789012", None),
            ("ftp://example.com/c/2700000012347", None),
            ("example.com/c/2700000012347", None),
            ("hello", None),
            ("", None),
            ("https://пример.рф/к/2700000012347", Some("2700000012347")),
        ];
        for (text, want) in cases {
            assert_eq!(parse_qr_payload(text).as_deref(), want, "{text:?}");
        }
        assert_eq!(parse_structured_payload("2700000012347"), None);
        assert_eq!(parse_qr_payload(&"1".repeat(5_000)), None);
    }

    #[test]
    fn svg_is_an_svg() {
        let svg = render_svg("2700000012347").map_err(|e| e.to_string());
        assert!(svg.as_ref().is_ok_and(|s| s.contains("<svg") && s.ends_with("</svg>")), "{svg:?}");
    }

    #[test]
    fn png_round_trip() {
        for text in ["2700000012347", "loyalty:card:2700000012347", "https://example.com/c/2700000012347", "Иван"] {
            let png = render_png(text, 4).map_err(|e| e.to_string());
            let decoded = png.and_then(|png| decode_image(&png).map_err(|e| e.to_string()));
            assert_eq!(decoded.as_deref(), Ok(text));
        }
    }

    #[test]
    fn jpeg_round_trip() {
        let text = "2700000012347";
        let luma =
            render_png(text, 6).ok().and_then(|png| image::load_from_memory(&png).ok()).map(DynamicImage::into_luma8);
        let mut jpeg = Vec::new();
        let encoded = luma.map(|luma| luma.write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, 80)));
        assert!(matches!(encoded, Some(Ok(()))), "{encoded:?}");
        assert_eq!(decode_image(&jpeg).map_err(|e| e.to_string()).as_deref(), Ok(text));
    }

    #[test]
    fn module_size_is_clamped() {
        let size = |px| {
            render_png("2700000012347", px)
                .ok()
                .and_then(|png| image::load_from_memory(&png).ok())
                .map(|image| image.width())
        };
        // 21 modules (version 1) plus a 4-module quiet zone on each side.
        assert_eq!(size(0), Some(29));
        assert_eq!(size(1), Some(29));
        assert_eq!(size(u32::MAX), Some(29 * MAX_MODULE_PX));
    }

    #[test]
    fn text_too_long_for_a_qr_code() {
        for text in ["x".repeat(3_000), "x".repeat(100_000)] {
            let error = render_png(&text, 4).err().map(|e| e.code());
            assert_eq!(error, Some("qr_render_failed"));
            assert_eq!(render_svg(&text).err().map(|e| e.code()), Some("qr_render_failed"));
        }
    }

    #[test]
    fn bytes_that_are_not_an_image() {
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".as_slice();
        let truncated_png =
            render_png("2700000012347", 4).ok().and_then(|png| png.get(..60).map(<[u8]>::to_vec)).unwrap_or_default();
        for bytes in
            [b"".as_slice(), b"hello", b"\x89PNG\r\n\x1a\n", gif, &truncated_png, &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]]
        {
            let error = decode_image(bytes).err().map(|e| e.code());
            assert_eq!(error, Some("not_an_image"), "{bytes:?}");
        }
    }

    #[test]
    fn a_blank_image_has_no_qr_code() {
        for (shade, size) in [(255, 200), (0, 200), (128, 1)] {
            let blank = GrayImage::from_pixel(size, size, Luma([shade]));
            let mut png = Vec::new();
            let written = blank.write_with_encoder(PngEncoder::new(&mut png));
            assert!(written.is_ok(), "{written:?}");
            assert_eq!(decode_image(&png).err().map(|e| e.code()), Some("no_qr_found"));
        }
    }

    #[test]
    fn a_huge_image_is_refused_from_its_header() {
        // A PNG that claims 5000x5000 pixels (25 MP) but holds almost no data: decoding it
        // would allocate before noticing the data is missing, so the size must stop it first.
        assert_eq!(decode_image(&png_header_only(5000, 5000)).err().map(|e| e.code()), Some("image_too_large"));
        assert_eq!(decode_image(&png_header_only(100_000, 300)).err().map(|e| e.code()), Some("image_too_large"));
        // The same trick under the limit is a broken image, not a large one.
        assert_eq!(decode_image(&png_header_only(4000, 5000)).err().map(|e| e.code()), Some("not_an_image"));
    }

    /// A PNG signature, an IHDR chunk for an 8-bit greyscale image and an empty IDAT chunk.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        for (kind, data) in [(b"IHDR", ihdr.as_slice()), (b"IDAT", &[]), (b"IEND", &[])] {
            png.extend_from_slice(&u32::try_from(data.len()).unwrap_or_default().to_be_bytes());
            let start = png.len();
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            let crc = crc32(png.get(start..).unwrap_or_default());
            png.extend_from_slice(&crc.to_be_bytes());
        }
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn garbage_bytes_are_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            prop_assert!(decode_image(&bytes).is_err());
        }

        #[test]
        fn a_png_with_garbage_after_the_signature_is_an_error(tail in prop::collection::vec(any::<u8>(), 0..512)) {
            let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
            bytes.extend(tail);
            prop_assert!(decode_image(&bytes).is_err());
        }

        #[test]
        fn payload_parsing_never_panics(text in "\\PC{0,120}") {
            let _ = parse_qr_payload(&text);
        }

        #[test]
        fn every_card_payload_reads_back(card in "[0-9]{4,32}") {
            prop_assert_eq!(parse_qr_payload(&card_qr_payload(&card)), Some(card));
        }
    }
}
