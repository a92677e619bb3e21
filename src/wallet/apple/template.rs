//! How a chain's card looks: the built-in default, or a template folder (`card.toml` and PNG
//! files). Everything is read and checked here, once, so that building a pass only copies it.
//!
//! A template folder is written by a person, so a mistake in it is reported by file and key
//! with what to do about it, and nothing is silently dropped: an unknown `card.toml` key is an
//! error (a typo must not vanish), a file we do not use is named in a warning.

use std::path::Path;

use super::{CardTemplate, PassField};
use crate::wallet::WalletError;

/// The images a `storeCard` pass may carry, by their name in the pass. Apple shows no
/// thumbnail or background on a store card, so those are not taken.
pub(super) const KNOWN_IMAGES: [&str; 9] = [
    "icon.png",
    "icon@2x.png",
    "icon@3x.png",
    "logo.png",
    "logo@2x.png",
    "logo@3x.png",
    "strip.png",
    "strip@2x.png",
    "strip@3x.png",
];

/// Larger images make every pass larger (each one is fetched again on every update); Apple's
/// own recommended sizes are a few kilobytes.
pub(super) const MAX_IMAGE_BYTES: u64 = 1024 * 1024;
/// `card.toml` is a dozen lines; anything much larger is the wrong file.
const MAX_CARD_TOML_BYTES: u64 = 64 * 1024;

/// The built-in images, drawn by `tests::regenerate_default_images` (run it with
/// `--ignored` to draw them again).
const DEFAULT_ICON: &[u8] = include_bytes!("../../../assets/wallet/icon.png");
const DEFAULT_ICON_2X: &[u8] = include_bytes!("../../../assets/wallet/icon@2x.png");
pub(super) const DEFAULT_LOGO: &[u8] = include_bytes!("../../../assets/wallet/logo.png");
const DEFAULT_LOGO_2X: &[u8] = include_bytes!("../../../assets/wallet/logo@2x.png");

/// The product's colours (assets/icon.svg): white text on its blue, labels in its light grey.
const DEFAULT_FOREGROUND: &str = "rgb(255, 255, 255)";
const DEFAULT_BACKGROUND: &str = "rgb(43, 108, 176)";
const DEFAULT_LABEL: &str = "rgb(226, 232, 240)";

/// `card.toml` as written; every key may be left out.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CardToml {
    organization_name: Option<String>,
    description: Option<String>,
    logo_text: Option<String>,
    foreground_color: Option<String>,
    background_color: Option<String>,
    label_color: Option<String>,
    fields: Option<Vec<PassField>>,
}

impl CardTemplate {
    /// The built-in card: the product's colours and icon, points/tier/pending/next expiry.
    pub fn default_for(organization_name: &str) -> CardTemplate {
        CardTemplate {
            organization_name: organization_name.to_owned(),
            description: format!("Карта лояльности {organization_name}"),
            logo_text: Some(organization_name.to_owned()),
            foreground_color: DEFAULT_FOREGROUND.to_owned(),
            background_color: DEFAULT_BACKGROUND.to_owned(),
            label_color: DEFAULT_LABEL.to_owned(),
            fields: vec![PassField::Points, PassField::Tier, PassField::Pending, PassField::NextExpiry],
            images: vec![
                ("icon.png".to_owned(), DEFAULT_ICON.to_vec()),
                ("icon@2x.png".to_owned(), DEFAULT_ICON_2X.to_vec()),
                ("logo.png".to_owned(), DEFAULT_LOGO.to_vec()),
                ("logo@2x.png".to_owned(), DEFAULT_LOGO_2X.to_vec()),
            ],
        }
    }

    /// Reads a template folder; a missing `card.toml` key falls back to the default.
    ///
    /// `card.toml` itself may be absent (a folder of images only). Images are taken by their
    /// names in [`KNOWN_IMAGES`]; `icon.png`, which Apple requires, falls back to the built-in
    /// icon (with its `@2x`) when the folder has none. The built-in logo is not used for a
    /// folder: a chain without a logo file shows its `logo_text` alone.
    pub fn from_dir(dir: &Path, organization_name: &str) -> Result<CardTemplate, WalletError> {
        let listing = std::fs::read_dir(dir).map_err(|err| {
            WalletError::Config(format!(
                "cannot read the card template folder {}: {err}; check the path in the configuration",
                dir.display()
            ))
        })?;
        let mut present = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|err| {
                WalletError::Config(format!("cannot list the card template folder {}: {err}", dir.display()))
            })?;
            present.push(entry.file_name().to_string_lossy().into_owned());
        }
        for name in &present {
            if name != "card.toml" && !name.starts_with('.') && !KNOWN_IMAGES.contains(&name.as_str()) {
                tracing::warn!(
                    folder = %dir.display(),
                    file = %name,
                    "the card template has a file the pass does not use (images taken: {})",
                    KNOWN_IMAGES.join(", ")
                );
            }
        }

        let card = if present.iter().any(|name| name == "card.toml") {
            read_card_toml(&dir.join("card.toml"))?
        } else {
            CardToml::default()
        };
        let mut template = CardTemplate::default_for(card.organization_name.as_deref().unwrap_or(organization_name));
        if let Some(description) = card.description {
            template.description = required_text("description", description)?;
        }
        if let Some(logo_text) = card.logo_text {
            // An empty logo text is how a chain whose logo already shows its name turns it off.
            template.logo_text = Some(logo_text).filter(|text| !text.trim().is_empty());
        }
        if let Some(name) = &card.organization_name {
            required_text("organization_name", name.clone())?;
        }
        for (key, value, slot) in [
            ("foreground_color", card.foreground_color, &mut template.foreground_color),
            ("background_color", card.background_color, &mut template.background_color),
            ("label_color", card.label_color, &mut template.label_color),
        ] {
            if let Some(value) = value {
                *slot = parse_color(&value).ok_or_else(|| {
                    WalletError::Config(format!(
                        "card.toml: {key} = {value:?} is not a colour; write it as \"#rrggbb\" or \"rgb(r, g, b)\""
                    ))
                })?;
            }
        }
        if let Some(fields) = card.fields {
            template.fields = ordered_fields(fields)?;
        }

        template.images.clear();
        for name in KNOWN_IMAGES {
            if present.iter().any(|file| file == name) {
                template.images.push((name.to_owned(), read_png(&dir.join(name), name)?));
            }
        }
        if !template.images.iter().any(|(name, _)| name == "icon.png") {
            template.images.retain(|(name, _)| !name.starts_with("icon"));
            template.images.push(("icon.png".to_owned(), DEFAULT_ICON.to_vec()));
            template.images.push(("icon@2x.png".to_owned(), DEFAULT_ICON_2X.to_vec()));
        }
        Ok(template)
    }
}

fn read_card_toml(path: &Path) -> Result<CardToml, WalletError> {
    let size = std::fs::metadata(path)
        .map_err(|err| WalletError::Config(format!("cannot read {}: {err}", path.display())))?
        .len();
    if size > MAX_CARD_TOML_BYTES {
        return Err(WalletError::Config(format!(
            "{} is {size} bytes, more than a card template needs ({MAX_CARD_TOML_BYTES}); is it the right file?",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|err| WalletError::Config(format!("cannot read {} as UTF-8 text: {err}", path.display())))?;
    // toml's message names the key (an unknown one, with the keys allowed) and the line.
    toml::from_str(&text).map_err(|err| {
        WalletError::Config(format!(
            "{}: {err}; allowed keys: organization_name, description, logo_text, foreground_color, \
             background_color, label_color, fields",
            path.display()
        ))
    })
}

fn required_text(key: &str, value: String) -> Result<String, WalletError> {
    if value.trim().is_empty() {
        return Err(WalletError::Config(format!("card.toml: {key} is empty; give it a text or leave the key out")));
    }
    Ok(value)
}

/// The points field first (Apple's primary field, shown whether listed or not), then the others
/// in the template's order; another field listed twice is a mistake worth saying.
fn ordered_fields(fields: Vec<PassField>) -> Result<Vec<PassField>, WalletError> {
    let mut ordered = vec![PassField::Points];
    for field in fields {
        if field == PassField::Points {
            continue;
        }
        if ordered.contains(&field) {
            return Err(WalletError::Config(format!("card.toml: fields lists {field:?} twice; list each field once")));
        }
        ordered.push(field);
    }
    Ok(ordered)
}

/// `#rrggbb` or `rgb(r, g, b)`, as pass.json takes it: `rgb(r, g, b)`.
pub(super) fn parse_color(text: &str) -> Option<String> {
    let text = text.trim();
    let (r, g, b) = if let Some(hex) = text.strip_prefix('#') {
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let channel = |at: usize| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok();
        (channel(0)?, channel(2)?, channel(4)?)
    } else {
        let inner = text.strip_prefix("rgb(")?.strip_suffix(')')?;
        let mut channels = inner.split(',').map(|part| part.trim().parse::<u8>().ok());
        let rgb = (channels.next()??, channels.next()??, channels.next()??);
        if channels.next().is_some() {
            return None;
        }
        rgb
    };
    Some(format!("rgb({r}, {g}, {b})"))
}

fn read_png(path: &Path, name: &str) -> Result<Vec<u8>, WalletError> {
    let size = std::fs::metadata(path)
        .map_err(|err| WalletError::Config(format!("cannot read the card image {}: {err}", path.display())))?
        .len();
    if size > MAX_IMAGE_BYTES {
        return Err(WalletError::Config(format!(
            "the card image {name} is {size} bytes, more than {MAX_IMAGE_BYTES}; every update sends it to \
             the phone again, so export it smaller (Apple's sizes: icon 29×29, logo up to 160×50, strip 375×144 \
             points)"
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|err| WalletError::Config(format!("cannot read the card image {}: {err}", path.display())))?;
    check_png(&bytes).map_err(|why| {
        WalletError::Config(format!("the card image {name} is not a usable PNG ({why}); export it again as PNG"))
    })?;
    Ok(bytes)
}

/// Reads the PNG header (not the pixels): enough to know Wallet will take the file.
pub(super) fn check_png(bytes: &[u8]) -> Result<(u32, u32), String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return Err("it does not start with the PNG signature".into());
    }
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png);
    let (width, height) = reader.into_dimensions().map_err(|err| err.to_string())?;
    if width == 0 || height == 0 {
        return Err("it has no pixels".into());
    }
    Ok((width, height))
}
