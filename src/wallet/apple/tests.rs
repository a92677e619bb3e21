//! Passes built with a test WWDR and pass certificate (openssl CLI), unpacked and checked the
//! way a phone checks them; the configuration and template mistakes a chain can make.

use std::sync::OnceLock;

use super::*;
use crate::wallet::NextExpiry;

#[allow(dead_code)]
#[path = "../../../tests/it/wallet_keys.rs"]
mod wallet_keys;

use wallet_keys::{
    apple_test_keys, openssl, smime_verify, unpack_pkpass, verify_pkpass, TEST_PASS_TYPE_ID, TEST_TEAM_ID,
};

/// The keys made once for every test here (RSA generation takes a while), and the folder
/// holding their files, which lives as long as the test process.
struct Keys {
    _dir: tempfile::TempDir,
    keys: wallet_keys::AppleTestKeys,
    /// The pass key again, as PKCS#1 (`RSA PRIVATE KEY`).
    key_pkcs1_pem: String,
    /// An RSA key that is not the certificate's.
    other_key_pem: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let keys = apple_test_keys(dir.path());
        openssl(dir.path(), &["rsa", "-in", "pass.key", "-traditional", "-out", "pass.pkcs1.key"]);
        openssl(dir.path(), &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.key"]);
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("a key file");
        Keys { key_pkcs1_pem: read("pass.pkcs1.key"), other_key_pem: read("other.key"), keys, _dir: dir }
    })
}

fn config() -> AppleConfig {
    let keys = &keys().keys;
    AppleConfig {
        pass_cert_pem: keys.cert_pem.clone(),
        pass_key_pem: keys.key_pem.clone(),
        wwdr_cert_pem: keys.wwdr_pem.clone(),
        pass_type_id: TEST_PASS_TYPE_ID.into(),
        team_id: TEST_TEAM_ID.into(),
        web_service_url: "https://loyalty.example.com/wallet/apple/".into(),
        template: CardTemplate::default_for("Кофейня «Зерно»"),
    }
}

fn view() -> PassView {
    PassView {
        card: "2000000000015".into(),
        name: Some("Анна \"Аня\" Петрова".into()),
        balance: 1250,
        available: 1130,
        pending: 120,
        tier: Some("Золото".into()),
        // 2027-03-02 00:00 Moscow.
        next_expiry: Some(NextExpiry { points: 122, at: 1_803_934_800 }),
    }
}

const TOKEN: &str = "token-0123456789abcdef";

fn config_error(config: AppleConfig) -> String {
    match ApplePasses::new(config) {
        Err(WalletError::Config(message)) => message,
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("expected a configuration error, the configuration was taken"),
    }
}

#[test]
fn a_pass_verifies_as_a_phone_checks_it_and_says_what_the_card_holds() {
    let passes = ApplePasses::new(config()).expect("the test configuration");
    let pkpass = passes.build(&view(), TOKEN).expect("a pass");
    let pass = verify_pkpass(&pkpass, &keys().keys.wwdr_path);

    assert_eq!(pass["formatVersion"], 1);
    assert_eq!(pass["passTypeIdentifier"], TEST_PASS_TYPE_ID);
    assert_eq!(pass["teamIdentifier"], TEST_TEAM_ID);
    assert_eq!(pass["serialNumber"], "2000000000015");
    assert_eq!(pass["authenticationToken"], TOKEN);
    assert_eq!(pass["webServiceURL"], "https://loyalty.example.com/wallet/apple", "no trailing slash");
    assert_eq!(pass["organizationName"], "Кофейня «Зерно»");
    assert_eq!(pass["backgroundColor"], "rgb(43, 108, 176)");
    let barcode = json!({
        "format": "PKBarcodeFormatQR",
        "message": crate::identity::card_qr_payload("2000000000015"),
        "messageEncoding": "iso-8859-1",
        "altText": "2000000000015",
    });
    assert_eq!(pass["barcodes"], json!([barcode]));
    assert_eq!(pass["barcode"], barcode);

    let card = &pass["storeCard"];
    assert_eq!(
        card["primaryFields"],
        json!([{"key": "points", "label": "points.label", "value": 1250, "changeMessage": "points.changed"}])
    );
    assert_eq!(card["secondaryFields"][0]["key"], "tier");
    assert_eq!(card["secondaryFields"][0]["value"], "Золото");
    assert_eq!(card["secondaryFields"][1]["key"], "pending");
    assert_eq!(card["secondaryFields"][1]["value"], 120);
    let expiry = &card["auxiliaryFields"][0];
    assert_eq!(expiry["key"], "next_expiry");
    assert_eq!(expiry["value"], "2027-03-01T21:00:00Z");
    assert_eq!(expiry["dateStyle"], "PKDateStyleMedium");
    assert_eq!(card["backFields"][0]["value"], "2000000000015");
    assert!(!pass.to_string().contains("\"name\""), "the default template shows no name");
}

#[test]
fn the_strings_files_translate_every_label_russian_and_english() {
    let passes = ApplePasses::new(config()).expect("the test configuration");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let names = unpack_pkpass(&passes.build(&view(), TOKEN).expect("a pass"), dir.path());
    for name in ["pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png", "logo.png", "logo@2x.png"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let ru = std::fs::read_to_string(dir.path().join("ru.lproj/pass.strings")).expect("Russian strings");
    let en = std::fs::read_to_string(dir.path().join("en.lproj/pass.strings")).expect("English strings");
    assert!(ru.contains("\"points.label\" = \"Баллы\";"), "{ru}");
    assert!(ru.contains("\"points.changed\" = \"Баллов на карте: %@\";"), "{ru}");
    assert!(ru.contains("\"next_expiry.label\" = \"Сгорят 122 балла\";"), "{ru}");
    assert!(en.contains("\"points.changed\" = \"Points on the card: %@\";"), "{en}");
    assert!(en.contains("\"next_expiry.label\" = \"122 points expire\";"), "{en}");

    // Every label and change message in pass.json is a key both files translate.
    let pass: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("pass.json")).expect("pass.json")).expect("JSON");
    let card = &pass["storeCard"];
    for row in ["primaryFields", "secondaryFields", "auxiliaryFields", "backFields"] {
        for field in card[row].as_array().expect("a field row") {
            for key in ["label", "changeMessage"] {
                if let Some(text) = field[key].as_str() {
                    let line = format!("\"{text}\" = ");
                    assert!(ru.contains(&line) && en.contains(&line), "{text} translated in both");
                }
            }
        }
    }
}

#[test]
fn names_with_quotes_are_escaped_in_strings_and_json() {
    assert_eq!(escape_strings("say \"hi\"\\\n"), "say \\\"hi\\\"\\\\\\n");
    let mut template = CardTemplate::default_for("Зерно");
    template.fields.push(PassField::Name);
    let passes = ApplePasses::new(AppleConfig { template, ..config() }).expect("the configuration");
    let pass = verify_pkpass(&passes.build(&view(), TOKEN).expect("a pass"), &keys().keys.wwdr_path);
    assert_eq!(pass["storeCard"]["auxiliaryFields"][1]["value"], "Анна \"Аня\" Петрова");
}

#[test]
fn fields_without_a_value_are_left_out() {
    let passes = ApplePasses::new(config()).expect("the test configuration");
    let bare = PassView { tier: None, pending: 0, next_expiry: None, name: None, ..view() };
    let pass = verify_pkpass(&passes.build(&bare, TOKEN).expect("a pass"), &keys().keys.wwdr_path);
    assert_eq!(pass["storeCard"]["secondaryFields"], json!([]));
    assert_eq!(pass["storeCard"]["auxiliaryFields"], json!([]));
    assert_eq!(pass["storeCard"]["primaryFields"][0]["value"], 1250);
}

#[test]
fn russian_agrees_the_expiring_points_with_their_number() {
    for (points, text) in [
        (1, "Сгорит 1 балл"),
        (2, "Сгорят 2 балла"),
        (5, "Сгорят 5 баллов"),
        (11, "Сгорят 11 баллов"),
        (12, "Сгорят 12 баллов"),
        (21, "Сгорит 21 балл"),
        (104, "Сгорят 104 балла"),
        (111, "Сгорят 111 баллов"),
    ] {
        assert_eq!(russian_points_expire(points), text);
    }
    assert_eq!(english_points_expire(1), "1 point expires");
}

#[test]
fn a_tampered_manifest_fails_verification() {
    let passes = ApplePasses::new(config()).expect("the test configuration");
    let dir = tempfile::tempdir().expect("a temporary folder");
    unpack_pkpass(&passes.build(&view(), TOKEN).expect("a pass"), dir.path());
    let (signature, manifest) = (dir.path().join("signature"), dir.path().join("manifest.json"));
    let wwdr = &keys().keys.wwdr_path;
    assert!(smime_verify(&signature, &manifest, wwdr).status.success(), "the untouched pass verifies");

    let text = std::fs::read_to_string(&manifest).expect("manifest.json");
    std::fs::write(&manifest, text.replacen("pass.json", "pass.jsoN", 1)).expect("manifest rewritten");
    let tampered = smime_verify(&signature, &manifest, wwdr);
    assert!(!tampered.status.success(), "a changed manifest must not verify");
    assert!(!String::from_utf8_lossy(&tampered.stderr).contains("Verification successful"));
}

#[test]
fn a_pkcs1_key_is_read_as_well_as_pkcs8() {
    let passes =
        ApplePasses::new(AppleConfig { pass_key_pem: keys().key_pkcs1_pem.clone(), ..config() }).expect("a PKCS#1 key");
    verify_pkpass(&passes.build(&view(), TOKEN).expect("a pass"), &keys().keys.wwdr_path);
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let message = config_error(AppleConfig { pass_key_pem: keys().other_key_pem.clone(), ..config() });
    assert!(message.contains("does not match the pass certificate"), "{message}");
}

#[test]
fn unusable_identities_are_configuration_errors_that_say_what_to_do() {
    let message = config_error(AppleConfig { pass_type_id: "com.example.loyalty".into(), ..config() });
    assert!(message.contains("pass.com.example.loyalty"), "{message}");
    let message = config_error(AppleConfig { team_id: "ABCDE1234".into(), ..config() });
    assert!(message.contains("10 letters and digits"), "{message}");
    let message = config_error(AppleConfig { pass_type_id: "pass.com.example.other".into(), ..config() });
    assert!(message.contains("certificate is for pass type id"), "{message}");
    let message = config_error(AppleConfig { pass_cert_pem: "not a certificate".into(), ..config() });
    assert!(message.contains("BEGIN CERTIFICATE"), "{message}");
    // The pass certificate given as its own WWDR: not the issuer.
    let message = config_error(AppleConfig { wwdr_cert_pem: keys().keys.cert_pem.clone(), ..config() });
    assert!(message.contains("WWDR"), "{message}");
    let message = config_error(AppleConfig { pass_key_pem: keys().keys.cert_pem.clone(), ..config() });
    assert!(message.contains("private key"), "{message}");
}

#[test]
fn a_short_authentication_token_is_refused() {
    let passes = ApplePasses::new(config()).expect("the test configuration");
    match passes.build(&view(), "too-short") {
        Err(WalletError::Build(message)) => assert!(message.contains("at least 16"), "{message}"),
        other => panic!("a short token must be refused: {other:?}"),
    }
    assert!(matches!(passes.build(&view(), "sixteen chars ok"), Err(WalletError::Build(_))), "no spaces");
    assert!(passes.build(&view(), "sixteen-chars-ok").is_ok());
}

#[test]
fn a_template_folder_is_read_with_its_colours_fields_and_images() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dir.path().join("card.toml"),
        "description = \"Карта гостя\"\nbackground_color = \"#102030\"\nlabel_color = \"rgb(1,2, 3)\"\n\
         fields = [\"name\", \"points\", \"tier\"]\n",
    )
    .expect("card.toml");
    std::fs::write(dir.path().join("logo.png"), template::DEFAULT_LOGO).expect("logo.png");
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("a stray file");
    let template = CardTemplate::from_dir(dir.path(), "Зерно").expect("the folder");
    assert_eq!(template.organization_name, "Зерно");
    assert_eq!(template.description, "Карта гостя");
    assert_eq!(template.background_color, "rgb(16, 32, 48)");
    assert_eq!(template.label_color, "rgb(1, 2, 3)");
    assert_eq!(template.foreground_color, "rgb(255, 255, 255)", "a missing key keeps the default");
    assert_eq!(template.fields, [PassField::Points, PassField::Name, PassField::Tier]);
    let names: Vec<&str> = template.images.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["logo.png", "icon.png", "icon@2x.png"], "the built-in icon stands in");

    let passes = ApplePasses::new(AppleConfig { template, ..config() }).expect("the configuration");
    let pass = verify_pkpass(&passes.build(&view(), TOKEN).expect("a pass"), &keys().keys.wwdr_path);
    assert_eq!(pass["storeCard"]["secondaryFields"][0]["key"], "name");
    assert_eq!(pass["description"], "Карта гостя");
}

#[test]
fn template_mistakes_name_the_file_or_key() {
    let cases: [(&str, &[u8], &str); 5] = [
        ("card.toml", b"backgroud_color = \"#000000\"\n", "backgroud_color"),
        ("card.toml", b"background_color = \"blue\"\n", "background_color"),
        ("card.toml", b"fields = [\"points\", \"balance\"]\n", "balance"),
        ("card.toml", b"fields = [\"tier\", \"tier\"]\n", "twice"),
        ("logo.png", b"GIF89a not a png", "logo.png"),
    ];
    for (file, contents, named) in cases {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join(file), contents).expect("the file");
        match CardTemplate::from_dir(dir.path(), "Зерно") {
            Err(WalletError::Config(message)) => assert!(message.contains(named), "{file}: {message}"),
            other => panic!("{file} {:?} must be refused: {other:?}", String::from_utf8_lossy(contents)),
        }
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("strip.png"), vec![0u8; 2 * 1024 * 1024]).expect("a large file");
    let message = match CardTemplate::from_dir(dir.path(), "Зерно") {
        Err(WalletError::Config(message)) => message,
        other => panic!("a 2 MB image must be refused: {other:?}"),
    };
    assert!(message.contains("strip.png") && message.contains("smaller"), "{message}");
    assert!(CardTemplate::from_dir(&dir.path().join("missing"), "Зерно").is_err());
}

#[test]
fn colours_are_read_in_both_spellings() {
    assert_eq!(template::parse_color("#2B6cb0").as_deref(), Some("rgb(43, 108, 176)"));
    assert_eq!(template::parse_color(" rgb( 1 ,2,3 ) ").as_deref(), Some("rgb(1, 2, 3)"));
    for bad in ["#2b6cb", "#2b6cb0ff", "rgb(1, 2)", "rgb(1, 2, 3, 4)", "rgb(256, 0, 0)", "blue", "#ёёё"] {
        assert_eq!(template::parse_color(bad), None, "{bad}");
    }
}

#[test]
fn the_built_in_images_are_pngs_of_apples_sizes() {
    let template = CardTemplate::default_for("Зерно");
    let sizes: Vec<(&str, (u32, u32))> = template
        .images
        .iter()
        .map(|(name, bytes)| (name.as_str(), template::check_png(bytes).expect("a PNG")))
        .collect();
    assert_eq!(
        sizes,
        [("icon.png", (29, 29)), ("icon@2x.png", (58, 58)), ("logo.png", (160, 50)), ("logo@2x.png", (320, 100))]
    );
}

/// Draws the built-in images into assets/wallet/: the product's card glyph (assets/icon.svg:
/// a blue card, a dark stripe, a yellow coin, two light lines), on the product's blue for the
/// icon and on transparency for the logo (which sits on the pass's blue background, so its card
/// is light). Run once with `cargo test --lib regenerate_default_images -- --ignored`.
#[test]
#[ignore = "writes assets/wallet/*.png; run by hand when the images change"]
fn regenerate_default_images() {
    use image::{Rgba, RgbaImage};
    const BLUE: Rgba<u8> = Rgba([43, 108, 176, 255]);
    const NAVY: Rgba<u8> = Rgba([26, 54, 93, 255]);
    const YELLOW: Rgba<u8> = Rgba([246, 224, 94, 255]);
    const LIGHT: Rgba<u8> = Rgba([226, 232, 240, 255]);

    // A rounded rectangle in the SVG's 64-unit box, scaled by `scale`, at `offset_x`.
    fn rounded(image: &mut RgbaImage, scale: f32, offset_x: f32, rect: (f32, f32, f32, f32, f32), colour: Rgba<u8>) {
        let (x, y, w, h, r) = rect;
        for py in 0..image.height() {
            for px in 0..image.width() {
                let (ux, uy) = ((px as f32 + 0.5 - offset_x) / scale, (py as f32 + 0.5) / scale);
                if ux < x || ux > x + w || uy < y || uy > y + h {
                    continue;
                }
                let cx = ux.clamp(x + r, x + w - r);
                let cy = uy.clamp(y + r, y + h - r);
                if (ux - cx).powi(2) + (uy - cy).powi(2) <= r * r {
                    image.put_pixel(px, py, colour);
                }
            }
        }
    }
    fn glyph(image: &mut RgbaImage, scale: f32, offset_x: f32, card: Rgba<u8>, lines: Rgba<u8>) {
        rounded(image, scale, offset_x, (4.0, 12.0, 56.0, 40.0, 6.0), card);
        rounded(image, scale, offset_x, (4.0, 20.0, 56.0, 6.0, 0.0), NAVY);
        rounded(image, scale, offset_x, (39.0, 33.0, 14.0, 14.0, 7.0), YELLOW);
        rounded(image, scale, offset_x, (12.0, 34.0, 20.0, 4.0, 2.0), lines);
        rounded(image, scale, offset_x, (12.0, 42.0, 14.0, 4.0, 2.0), lines);
    }

    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/wallet");
    for (name, size) in [("icon.png", 29), ("icon@2x.png", 58)] {
        let mut icon = RgbaImage::from_pixel(size, size, BLUE);
        glyph(&mut icon, size as f32 / 64.0, 0.0, LIGHT, BLUE);
        icon.save(folder.join(name)).expect("icon written");
    }
    for (name, (width, height)) in [("logo.png", (160, 50)), ("logo@2x.png", (320, 100))] {
        // The glyph's box is 64 units square and its card fills 40 of them: the box is drawn a
        // little taller than the logo and its empty top and bottom margins are cut off.
        let scale = height as f32 / 44.0;
        let mut tall = RgbaImage::from_pixel(width, (64.0 * scale) as u32, Rgba([0, 0, 0, 0]));
        glyph(&mut tall, scale, 0.0, LIGHT, BLUE);
        let top = (10.0 * scale) as u32;
        let mut logo = RgbaImage::from_pixel(width, height, Rgba([0, 0, 0, 0]));
        for y in 0..height {
            for x in 0..width {
                if let Some(pixel) = tall.get_pixel_checked(x, y + top) {
                    logo.put_pixel(x, y, *pixel);
                }
            }
        }
        logo.save(folder.join(name)).expect("logo written");
    }
}
