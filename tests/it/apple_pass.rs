//! An Apple Wallet pass through the library's API, checked as a phone checks it.

use loyalty::wallet::apple::{AppleConfig, ApplePasses, CardTemplate};
use loyalty::wallet::{NextExpiry, PassView};

use crate::wallet_keys::{apple_test_keys, verify_pkpass, TEST_PASS_TYPE_ID, TEST_TEAM_ID};

#[test]
fn a_customers_pass_is_signed_and_shows_their_points() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let keys = apple_test_keys(dir.path());
    let passes = ApplePasses::new(AppleConfig {
        pass_cert_pem: keys.cert_pem.clone(),
        pass_key_pem: keys.key_pem.clone(),
        wwdr_cert_pem: keys.wwdr_pem.clone(),
        pass_type_id: TEST_PASS_TYPE_ID.into(),
        team_id: TEST_TEAM_ID.into(),
        web_service_url: "https://loyalty.example.com/wallet/apple".into(),
        template: CardTemplate::default_for("Зерно"),
    })
    .expect("the test configuration");
    assert_eq!(passes.pass_type_id(), TEST_PASS_TYPE_ID);
    let view = PassView {
        card: "2000000000015".into(),
        name: None,
        balance: 300,
        available: 300,
        pending: 0,
        tier: Some("Серебро".into()),
        next_expiry: Some(NextExpiry { points: 50, at: 1_803_934_800 }),
    };
    let pass = verify_pkpass(&passes.build(&view, "integration-token-0001").expect("a pass"), &keys.wwdr_path);
    assert_eq!(pass["serialNumber"], "2000000000015");
    assert_eq!(pass["storeCard"]["primaryFields"][0]["value"], 300);
    assert_eq!(pass["storeCard"]["secondaryFields"][0]["value"], "Серебро");
    assert_eq!(pass["barcodes"][0]["format"], "PKBarcodeFormatQR");
}
