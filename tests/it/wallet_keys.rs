//! Apple Wallet test keys and a pass checker, shared by the integration tests, the library's
//! unit tests (`src/wallet/apple/tests.rs` includes this file) and `benches/wallet_budgets.rs`.
//!
//! The keys are made with the `openssl` CLI the way Apple's are shaped: a self-signed CA in
//! the place of Apple's WWDR intermediate, and an RSA 2048 pass certificate it signed whose
//! subject carries the pass type id (`UID`) and team id (`OU`). The checker does what a phone
//! does with a pass: every manifest digest, then the signature by `openssl smime -verify`.
//!
//! This file names no `loyalty` item, so that the library's own tests can include it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha1::{Digest, Sha1};

/// The pass type id and team id the test certificate is issued for.
pub const TEST_PASS_TYPE_ID: &str = "pass.com.example.loyalty";
pub const TEST_TEAM_ID: &str = "ABCDE12345";

/// A test WWDR, a pass certificate it issued, and that certificate's key (PKCS#8), as texts
/// and as the files in the directory given to [`apple_test_keys`].
pub struct AppleTestKeys {
    pub cert_pem: String,
    pub key_pem: String,
    pub wwdr_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub wwdr_path: PathBuf,
}

/// Runs openssl with `args` in `dir`; a failure stops the test with openssl's own words.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (the tests need the openssl CLI)");
    assert!(output.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    output
}

/// Makes the test WWDR (`wwdr.pem`), the pass key (`pass.key`) and certificate (`pass.pem`)
/// in `dir`, valid for a month.
pub fn apple_test_keys(dir: &Path) -> AppleTestKeys {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=Test Worldwide Developer Relations CA/OU=G4/O=Example CA/C=US",
            "-keyout",
            "wwdr.key",
            "-out",
            "wwdr.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let subject =
        format!("/UID={TEST_PASS_TYPE_ID}/CN=Pass Type ID: {TEST_PASS_TYPE_ID}/OU={TEST_TEAM_ID}/O=Example/C=RU");
    // A version 3 certificate with a client's key usage, as Apple issues: TLS libraries refuse
    // an old version 1 one as a client identity (APNs certificate auth).
    std::fs::write(
        dir.join("pass.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", &subject, "-keyout", "pass.key", "-out", "pass.csr"],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "pass.csr",
            "-CA",
            "wwdr.pem",
            "-CAkey",
            "wwdr.key",
            "-set_serial",
            "0x5a17e3c0ffee",
            "-days",
            "30",
            "-extfile",
            "pass.ext",
            "-out",
            "pass.pem",
        ],
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("a key file openssl wrote");
    AppleTestKeys {
        cert_pem: read("pass.pem"),
        key_pem: read("pass.key"),
        wwdr_pem: read("wwdr.pem"),
        cert_path: dir.join("pass.pem"),
        key_path: dir.join("pass.key"),
        wwdr_path: dir.join("wwdr.pem"),
    }
}

/// Unpacks a .pkpass into `dir` (names checked to stay inside it) and returns the file names.
pub fn unpack_pkpass(pkpass: &[u8], dir: &Path) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(pkpass)).expect("a .pkpass is a zip");
    let mut names = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).expect("a zip entry");
        let relative = entry.enclosed_name().expect("an entry name inside the archive");
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a folder for the entry");
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("the entry's bytes");
        std::fs::write(&path, bytes).expect("the entry written");
        names.push(relative.to_string_lossy().into_owned());
    }
    names
}

/// `openssl smime -verify` of a detached `signature` over `content`, trusting `wwdr` (the
/// test CA; in production Apple's root would be trusted beside the WWDR).
pub fn smime_verify(signature: &Path, content: &Path, wwdr: &Path) -> Output {
    Command::new("openssl")
        .args(["smime", "-verify", "-inform", "DER", "-in"])
        .arg(signature)
        .arg("-content")
        .arg(content)
        .arg("-CAfile")
        .arg(wwdr)
        .args(["-purpose", "any", "-out"])
        .arg(signature.with_file_name("verified-content"))
        .output()
        .expect("openssl runs")
}

/// What a phone checks: the manifest lists every other file with its right SHA-1, and the
/// signature over the manifest verifies against the WWDR. Returns pass.json.
pub fn verify_pkpass(pkpass: &[u8], wwdr_path: &Path) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let names = unpack_pkpass(pkpass, dir.path());
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).expect("manifest.json in the pass"))
            .expect("manifest.json is a JSON object");
    let mut listed: Vec<&String> = manifest.keys().collect();
    let mut files: Vec<&String> =
        names.iter().filter(|name| *name != "manifest.json" && *name != "signature").collect();
    listed.sort();
    files.sort();
    assert_eq!(listed, files, "the manifest lists exactly the pass's other files");
    for (name, digest) in &manifest {
        let bytes = std::fs::read(dir.path().join(name)).expect("a listed file");
        assert_eq!(digest.as_str(), Some(hex::encode(Sha1::digest(&bytes)).as_str()), "the SHA-1 of {name}");
    }
    let verified = smime_verify(&dir.path().join("signature"), &dir.path().join("manifest.json"), wwdr_path);
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(verified.status.success() && stderr.contains("Verification successful"), "openssl smime -verify: {stderr}");
    serde_json::from_slice(&std::fs::read(dir.path().join("pass.json")).expect("pass.json in the pass"))
        .expect("pass.json is JSON")
}
