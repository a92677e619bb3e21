//! QR codes: what a card's QR code holds, drawing it (SVG, PNG), and reading one back from a
//! photo (PNG or JPEG, e.g. a webcam frame).
//!
//! # Payload formats
//! - A card's QR code holds the card number as plain digits (`2700000000428`). Scanners that
//!   type into a till's search field then produce exactly the card number.
//! - Also understood when scanned: `loyalty:card:<digits>` (scheme in any case), and a URL whose
//!   `card=` query parameter or last path segment is the card number
//!   (`https://example.com/c/2700000000428`, `https://example.com/join?card=2700000000428`).

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};
use qrcode::QrCode;

use super::{normalize_card, IdentityError};

/// The largest image we decode, in pixels (a 20-megapixel photo).
const MAX_PIXELS: u64 = 20_000_000;

/// The text a card's QR code holds.
pub fn card_qr_payload(card: &str) -> String {
    card.to_owned()
}

/// The card number a scanned QR text carries, if it is one of the formats above.
pub fn parse_qr_payload(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() > 512 {
        return None;
    }
    if let Some(card) = normalize_card(text) {
        return Some(card);
    }
    if text.len() > 13 && text[..13].eq_ignore_ascii_case("loyalty:card:") {
        return normalize_card(&text[13..]);
    }
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"))?;
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let from_query =
        query.and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("card=")).and_then(normalize_card));
    from_query.or_else(|| {
        let path = path.split('#').next().unwrap_or(path).trim_end_matches('/');
        let (host, segments) = path.split_once('/')?;
        let _ = host;
        segments.rsplit('/').next().and_then(normalize_card)
    })
}

/// The QR code of `text` as an SVG document.
pub fn render_svg(text: &str) -> Result<String, IdentityError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| IdentityError::QrRender(e.to_string()))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// The QR code of `text` as a PNG, `module_px` pixels per module, with the quiet zone.
pub fn render_png(text: &str, module_px: u32) -> Result<Vec<u8>, IdentityError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| IdentityError::QrRender(e.to_string()))?;
    let px = module_px.clamp(1, 32);
    let image = code.render::<image::Luma<u8>>().module_dimensions(px, px).quiet_zone(true).build();
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).map_err(|e| IdentityError::QrRender(e.to_string()))?;
    Ok(png)
}

/// Reads the first QR code found in a PNG or JPEG image.
pub fn decode_image(bytes: &[u8]) -> Result<String, IdentityError> {
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, IdentityError> {
        let reader =
            ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| IdentityError::NotAnImage)?;
        match reader.format() {
            Some(ImageFormat::Png | ImageFormat::Jpeg) => Ok(reader),
            _ => Err(IdentityError::NotAnImage),
        }
    };
    // Look at the header first, so a huge image is refused before any pixel is allocated.
    let (width, height) = reader()?.into_dimensions().map_err(|_| IdentityError::NotAnImage)?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(IdentityError::ImageTooLarge { width, height });
    }
    let mut reader = reader()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + (16 << 20));
    reader.limits(limits);
    let luma = reader.decode().map_err(|_| IdentityError::NotAnImage)?.to_luma8();
    // rqrr is third-party code fed with camera frames; a panic in it is contained and reported
    // as "no QR code found" rather than taking the request down.
    let found = std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare(luma);
        prepared.detect_grids().into_iter().find_map(|grid| grid.decode().ok().map(|(_, text)| text))
    });
    found.ok().flatten().ok_or(IdentityError::NoQrFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(parse_qr_payload("2700000000428").as_deref(), Some("2700000000428"));
        assert_eq!(parse_qr_payload("LOYALTY:CARD:2700000000428").as_deref(), Some("2700000000428"));
        assert_eq!(parse_qr_payload("https://example.com/c/2700000000428").as_deref(), Some("2700000000428"));
        assert_eq!(parse_qr_payload("https://example.com/c/2700000000428/").as_deref(), Some("2700000000428"));
        assert_eq!(
            parse_qr_payload("https://example.com/join?card=2700000000428&x=1").as_deref(),
            Some("2700000000428")
        );
        assert_eq!(parse_qr_payload("https://example.com/"), None);
        assert_eq!(parse_qr_payload("https://example.com"), None);
        assert_eq!(parse_qr_payload("loyalty:card:"), None);
        assert_eq!(parse_qr_payload("hello"), None);
        assert_eq!(parse_qr_payload("ftp://x/2700000000428"), None);
    }

    #[test]
    fn png_and_jpeg_round_trip() {
        let png = render_png("2700000000428", 6).unwrap();
        assert_eq!(decode_image(&png).unwrap(), "2700000000428");

        let luma = image::load_from_memory(&png).unwrap().to_luma8();
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageLuma8(luma).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        assert_eq!(decode_image(&jpeg).unwrap(), "2700000000428");
        assert!(render_svg("2700000000428").unwrap().starts_with("<?xml"));
    }

    #[test]
    fn not_images_and_blank_images() {
        assert_eq!(decode_image(b"nope"), Err(IdentityError::NotAnImage));
        assert_eq!(decode_image(&[]), Err(IdentityError::NotAnImage));
        let blank = image::GrayImage::from_pixel(50, 50, image::Luma([255]));
        let mut png = Vec::new();
        image::DynamicImage::ImageLuma8(blank).write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
        assert_eq!(decode_image(&png), Err(IdentityError::NoQrFound));
        // A PNG header claiming to be enormous is refused before decoding.
        let mut huge = png.clone();
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(
            decode_image(&huge),
            Err(IdentityError::ImageTooLarge { .. }) | Err(IdentityError::NotAnImage)
        ));
    }
}
