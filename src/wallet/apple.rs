//! Apple Wallet: a `storeCard` pass per customer, signed as PassKit requires.
//!
//! A pass is a zip: `pass.json` (what the card says), the template's images, a
//! `pass.strings` per language, `manifest.json` (the SHA-1 of every other file) and
//! `signature` (a detached CMS signature over the manifest, by the chain's Pass Type ID
//! certificate). [`ApplePasses::new`] reads and checks the certificates, key and template once;
//! [`ApplePasses::build`] only writes JSON, hashes and signs, so it fails only on the pass's own
//! data (a short token, an empty card number) — never on configuration.
//!
//! Labels are localisation keys (`points.label`), translated by `ru.lproj/pass.strings` and
//! `en.lproj/pass.strings`: a phone set to Russian reads Russian. The strings are written per
//! pass because one label carries a number ("Сгорят 120 баллов").
//!
//! Not here: when a card changed, the web service Apple's devices call, the pushes (`apns`).

mod signing;
mod template;
#[cfg(test)]
mod tests;

use std::io::Write;

use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use super::{NextExpiry, PassView, WalletError};
use signing::PassSigner;

/// Apple refuses a web-service token shorter than this.
pub const MIN_AUTHENTICATION_TOKEN_LEN: usize = 16;

/// Which figures the card shows, in order (the points field always comes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassField {
    Points,
    Tier,
    Pending,
    NextExpiry,
    Name,
}

/// How the chain's card looks: read from a template folder (`card.toml`, `logo.png`,
/// `icon.png`, optional `@2x` files) or the built-in defaults.
#[derive(Debug, Clone)]
pub struct CardTemplate {
    pub organization_name: String,
    pub description: String,
    pub logo_text: Option<String>,
    /// CSS-style `rgb(r, g, b)` colours, as pass.json takes them.
    pub foreground_color: String,
    pub background_color: String,
    pub label_color: String,
    pub fields: Vec<PassField>,
    /// PNG files by their name in the pass (`icon.png`, `icon@2x.png`, `logo.png`, …).
    pub images: Vec<(String, Vec<u8>)>,
}

/// The chain's Apple pass identity: the Pass Type ID certificate and its key, Apple's WWDR
/// intermediate, the pass type id and team id, and where the web service lives.
pub struct ApplePasses {
    signer: PassSigner,
    pass_type_id: String,
    team_id: String,
    web_service_url: String,
    template: CardTemplate,
    /// The template's images with their manifest digests, hashed once.
    images: Vec<PassFile>,
}

/// The PEM texts and identifiers [`ApplePasses::new`] checks and keeps.
pub struct AppleConfig {
    pub pass_cert_pem: String,
    pub pass_key_pem: String,
    pub wwdr_cert_pem: String,
    pub pass_type_id: String,
    pub team_id: String,
    /// `{public_url}/wallet/apple`.
    pub web_service_url: String,
    pub template: CardTemplate,
}

/// One file of the archive and its SHA-1 (hex) for the manifest.
struct PassFile {
    name: String,
    bytes: Vec<u8>,
    sha1: String,
}

impl PassFile {
    fn new(name: &str, bytes: Vec<u8>) -> PassFile {
        let sha1 = hex::encode(Sha1::digest(&bytes));
        PassFile { name: name.to_owned(), bytes, sha1 }
    }
}

impl ApplePasses {
    /// Parses and checks the configuration once (the key matches the certificate, the
    /// certificate is not expired is only warned about), so signing a pass cannot fail on it.
    pub fn new(config: AppleConfig) -> Result<ApplePasses, WalletError> {
        check_pass_type_id(&config.pass_type_id)?;
        check_team_id(&config.team_id)?;
        let web_service_url = check_web_service_url(&config.web_service_url)?;
        let template = check_template(config.template)?;
        let signer = PassSigner::new(
            &config.pass_cert_pem,
            &config.pass_key_pem,
            &config.wwdr_cert_pem,
            &config.pass_type_id,
            &config.team_id,
        )?;
        let images = template.images.iter().map(|(name, bytes)| PassFile::new(name, bytes.clone())).collect();
        Ok(ApplePasses {
            signer,
            pass_type_id: config.pass_type_id,
            team_id: config.team_id,
            web_service_url,
            template,
            images,
        })
    }

    pub fn pass_type_id(&self) -> &str {
        &self.pass_type_id
    }

    /// The template the passes are drawn with (checked by [`ApplePasses::new`]).
    pub fn template(&self) -> &CardTemplate {
        &self.template
    }

    /// The signed .pkpass (a zip) for one customer's card. `authentication_token` is the pass's
    /// own web-service token (at least [`MIN_AUTHENTICATION_TOKEN_LEN`] characters). The points
    /// field carries a change message, so the phone says when the balance changes.
    pub fn build(&self, view: &PassView, authentication_token: &str) -> Result<Vec<u8>, WalletError> {
        check_authentication_token(authentication_token)?;
        if view.card.trim().is_empty() {
            return Err(WalletError::Build("the card number is empty; a pass needs it as its serial number".into()));
        }
        let strings = Strings::for_view(view);
        let pass_json = self.pass_json(view, authentication_token);
        let pass_json =
            serde_json::to_vec_pretty(&pass_json).map_err(|err| WalletError::Build(format!("pass.json: {err}")))?;

        let mut files: Vec<PassFile> = Vec::with_capacity(self.images.len() + 3);
        files.push(PassFile::new("pass.json", pass_json));
        files.push(PassFile::new("ru.lproj/pass.strings", strings.file(Language::Russian)));
        files.push(PassFile::new("en.lproj/pass.strings", strings.file(Language::English)));
        let manifest: serde_json::Map<String, Value> = files
            .iter()
            .chain(&self.images)
            .map(|file| (file.name.clone(), Value::String(file.sha1.clone())))
            .collect();
        let manifest = serde_json::to_vec(&Value::Object(manifest))
            .map_err(|err| WalletError::Build(format!("manifest.json: {err}")))?;
        let signature = self.signer.sign(&manifest)?;
        write_zip(files.iter().chain(&self.images), &manifest, &signature)
    }

    fn pass_json(&self, view: &PassView, authentication_token: &str) -> Value {
        let template = &self.template;
        let card = view.card.as_str();
        let barcode = json!({
            "format": "PKBarcodeFormatQR",
            "message": crate::identity::card_qr_payload(card),
            "messageEncoding": "iso-8859-1",
            "altText": card,
        });
        let mut pass = json!({
            "formatVersion": 1,
            "passTypeIdentifier": self.pass_type_id,
            "serialNumber": card,
            "teamIdentifier": self.team_id,
            "organizationName": template.organization_name,
            "description": template.description,
            "foregroundColor": template.foreground_color,
            "backgroundColor": template.background_color,
            "labelColor": template.label_color,
            "authenticationToken": authentication_token,
            "webServiceURL": self.web_service_url,
            "barcodes": [barcode.clone()],
            // iOS 8 and older read only the single `barcode`.
            "barcode": barcode,
            "storeCard": store_card(&template.fields, view),
        });
        if let Some(logo_text) = &template.logo_text {
            pass["logoText"] = Value::String(logo_text.clone());
        }
        pass
    }
}

/// The card's front and back: the points as the primary field, the template's other fields
/// (those with a value) two in the secondary row, then the auxiliary row.
fn store_card(fields: &[PassField], view: &PassView) -> Value {
    let mut primary = Vec::new();
    let mut others = Vec::new();
    for field in fields {
        match field {
            PassField::Points => primary.push(json!({
                "key": "points",
                "label": "points.label",
                "value": view.balance,
                "changeMessage": "points.changed",
            })),
            PassField::Tier => {
                if let Some(tier) = view.tier.as_deref().filter(|tier| !tier.trim().is_empty()) {
                    others.push(json!({
                        "key": "tier", "label": "tier.label", "value": tier, "changeMessage": "tier.changed",
                    }));
                }
            }
            PassField::Pending => {
                // "0 pending" says nothing to a shopper; the field appears with the first hold.
                if view.pending > 0 {
                    others.push(json!({"key": "pending", "label": "pending.label", "value": view.pending}));
                }
            }
            PassField::NextExpiry => {
                if let Some(date) = view.next_expiry.and_then(expiry_date) {
                    others.push(json!({
                        "key": "next_expiry",
                        "label": "next_expiry.label",
                        "value": date,
                        "dateStyle": "PKDateStyleMedium",
                        "timeStyle": "PKDateStyleNone",
                    }));
                }
            }
            PassField::Name => {
                if let Some(name) = view.name.as_deref().filter(|name| !name.trim().is_empty()) {
                    others.push(json!({"key": "name", "label": "name.label", "value": name}));
                }
            }
        }
    }
    let auxiliary = others.split_off(others.len().min(2));
    json!({
        "primaryFields": primary,
        "secondaryFields": others,
        "auxiliaryFields": auxiliary,
        "backFields": [
            {"key": "card_number", "label": "back.card.label", "value": view.card},
            {"key": "updates", "label": "back.updates.label", "value": "back.updates.text"},
        ],
    })
}

/// The expiry moment as ISO 8601 in UTC; the phone shows the date in its own time zone.
/// Nothing to show when no points are about to expire.
fn expiry_date(expiry: NextExpiry) -> Option<String> {
    if expiry.points <= 0 {
        return None;
    }
    let at = time::OffsetDateTime::from_unix_timestamp(expiry.at).ok()?;
    at.format(&time::format_description::well_known::Rfc3339).ok()
}

#[derive(Clone, Copy)]
enum Language {
    Russian,
    English,
}

/// The translations of one pass's keys: Russian first, English beside it.
struct Strings {
    entries: Vec<(&'static str, String, String)>,
}

impl Strings {
    fn for_view(view: &PassView) -> Strings {
        let fixed = |key: &'static str, ru: &str, en: &str| (key, ru.to_owned(), en.to_owned());
        let mut entries = vec![
            fixed("points.label", "Баллы", "Points"),
            fixed("points.changed", "Баллов на карте: %@", "Points on the card: %@"),
            fixed("tier.label", "Уровень", "Tier"),
            fixed("tier.changed", "Ваш уровень теперь: %@", "Your tier is now %@"),
            fixed("pending.label", "Ожидают начисления", "Pending"),
            fixed("name.label", "Владелец", "Card holder"),
            fixed("back.card.label", "Номер карты", "Card number"),
            fixed("back.updates.label", "Баланс", "Balance"),
            fixed(
                "back.updates.text",
                "Баланс на этой карте обновляется сам после каждой покупки. Покажите QR-код на кассе, чтобы \
                 получить или потратить баллы.",
                "The balance on this card updates itself after every purchase. Show the QR code at the till to \
                 earn or spend points.",
            ),
        ];
        if let Some(expiry) = view.next_expiry {
            entries.push((
                "next_expiry.label",
                russian_points_expire(expiry.points),
                english_points_expire(expiry.points),
            ));
        }
        Strings { entries }
    }

    /// A `pass.strings` file: `"key" = "value";` lines in UTF-8, which iOS reads (the
    /// format's older UTF-16 is not required).
    fn file(&self, language: Language) -> Vec<u8> {
        let mut text = String::new();
        for (key, ru, en) in &self.entries {
            let value = match language {
                Language::Russian => ru,
                Language::English => en,
            };
            text.push_str(&format!("\"{}\" = \"{}\";\n", escape_strings(key), escape_strings(value)));
        }
        text.into_bytes()
    }
}

/// Quotes, backslashes and line breaks escaped as a `.strings` file needs them.
fn escape_strings(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            _ => escaped.push(ch),
        }
    }
    escaped
}

/// «Сгорит 1 балл», «Сгорят 3 балла», «Сгорят 120 баллов»: Russian agrees the verb and noun
/// with the number.
fn russian_points_expire(points: i64) -> String {
    let (last, last_two) = (points.rem_euclid(10), points.rem_euclid(100));
    if last == 1 && last_two != 11 {
        format!("Сгорит {points} балл")
    } else if (2..=4).contains(&last) && !(12..=14).contains(&last_two) {
        format!("Сгорят {points} балла")
    } else {
        format!("Сгорят {points} баллов")
    }
}

fn english_points_expire(points: i64) -> String {
    if points == 1 {
        "1 point expires".to_owned()
    } else {
        format!("{points} points expire")
    }
}

fn write_zip<'a>(
    files: impl Iterator<Item = &'a PassFile>,
    manifest: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>, WalletError> {
    let failed = |err: &dyn std::fmt::Display| WalletError::Build(format!("writing the .pkpass archive: {err}"));
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // PNGs are compressed already; deflating them again costs time and saves nothing.
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let entries = files
        .map(|file| (file.name.as_str(), file.bytes.as_slice()))
        .chain([("manifest.json", manifest), ("signature", signature)]);
    for (name, bytes) in entries {
        let options = if name.ends_with(".png") { stored } else { deflated };
        archive.start_file(name, options).map_err(|err| failed(&err))?;
        archive.write_all(bytes).map_err(|err| failed(&err))?;
    }
    Ok(archive.finish().map_err(|err| failed(&err))?.into_inner())
}

fn check_pass_type_id(pass_type_id: &str) -> Result<(), WalletError> {
    let well_formed = pass_type_id.strip_prefix("pass.").is_some_and(|rest| {
        !rest.is_empty()
            && rest.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            })
    });
    if !well_formed {
        return Err(WalletError::Config(format!(
            "the Apple pass type id {pass_type_id:?} is not one: it looks like \"pass.com.example.loyalty\" \
             (Apple Developer → Identifiers → Pass Type IDs)"
        )));
    }
    Ok(())
}

fn check_team_id(team_id: &str) -> Result<(), WalletError> {
    if team_id.len() != 10 || !team_id.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        return Err(WalletError::Config(format!(
            "the Apple team id {team_id:?} is not one: it is 10 letters and digits, e.g. \"ABCDE12345\" (Apple \
             Developer → Membership details; also the OU of the pass certificate)"
        )));
    }
    Ok(())
}

/// Devices append `/v1/devices/…` to the URL, so a trailing slash is dropped. Apple requires
/// HTTPS outside development; plain HTTP is allowed (tests, a phone set to allow it) but warned.
fn check_web_service_url(url: &str) -> Result<String, WalletError> {
    let url = url.trim().trim_end_matches('/');
    let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    if host.is_none_or(str::is_empty) {
        return Err(WalletError::Config(format!(
            "the wallet web service URL {url:?} is not an https:// address; set the cloud's public URL"
        )));
    }
    if url.starts_with("http://") {
        tracing::warn!(url, "the wallet web service URL is plain HTTP; phones update passes only over HTTPS");
    }
    Ok(url.to_owned())
}

/// A template built in code (not read by `from_dir`) is checked here too: the images must be
/// PNGs and `icon.png` must be there.
fn check_template(template: CardTemplate) -> Result<CardTemplate, WalletError> {
    for (key, value) in [("organization_name", &template.organization_name), ("description", &template.description)] {
        if value.trim().is_empty() {
            return Err(WalletError::Config(format!("the card template's {key} is empty; Apple requires it")));
        }
    }
    for (key, value) in [
        ("foreground_color", &template.foreground_color),
        ("background_color", &template.background_color),
        ("label_color", &template.label_color),
    ] {
        if template::parse_color(value).as_deref() != Some(value.as_str()) {
            return Err(WalletError::Config(format!(
                "the card template's {key} {value:?} is not an \"rgb(r, g, b)\" colour"
            )));
        }
    }
    for (name, bytes) in &template.images {
        if !template::KNOWN_IMAGES.contains(&name.as_str()) {
            return Err(WalletError::Config(format!(
                "the card template has an image named {name:?}; a store card takes {}",
                template::KNOWN_IMAGES.join(", ")
            )));
        }
        if bytes.len() as u64 > template::MAX_IMAGE_BYTES {
            return Err(WalletError::Config(format!("the card image {name} is larger than 1 MB; export it smaller")));
        }
        template::check_png(bytes)
            .map_err(|why| WalletError::Config(format!("the card image {name} is not a usable PNG ({why})")))?;
    }
    if !template.images.iter().any(|(name, _)| name == "icon.png") {
        return Err(WalletError::Config("the card template has no icon.png, which Apple requires".into()));
    }
    Ok(template)
}

fn check_authentication_token(token: &str) -> Result<(), WalletError> {
    if token.chars().count() < MIN_AUTHENTICATION_TOKEN_LEN {
        return Err(WalletError::Build(format!(
            "the pass's authentication token has {} characters; Apple requires at least \
             {MIN_AUTHENTICATION_TOKEN_LEN}",
            token.chars().count()
        )));
    }
    // Devices send it back in an `Authorization: ApplePass <token>` header.
    if !token.chars().all(|ch| ch.is_ascii_graphic()) {
        return Err(WalletError::Build(
            "the pass's authentication token must be printable ASCII without spaces (it travels in a header)".into(),
        ));
    }
    Ok(())
}
