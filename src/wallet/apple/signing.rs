//! The pass's signature: the certificates and key read once from PEM and checked against each
//! other, and the detached CMS (PKCS#7) SignedData over `manifest.json` PassKit requires —
//! signer identified by issuer and serial, SHA-256, RSA PKCS#1 v1.5, signed attributes
//! content-type, message-digest and signing-time, the pass and WWDR certificates beside it.
//! The ASN.1 is the `cms` crate's builder's; nothing here encodes DER by hand.

use cms::builder::{create_signing_time_attribute, SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2_digest010::{Digest, Sha256};
use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Any, Decode, DecodePem, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use crate::wallet::WalletError;

/// id-data: the signed content is plain bytes (the manifest), carried outside the signature.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// The subject attributes Apple puts the pass type id (userId) and team id (OU) in.
const OID_USER_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
const OID_ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");

/// Apple issues pass keys as RSA 2048; a smaller one is not a key Apple made.
const MIN_KEY_BITS: usize = 2048;

/// What signing a manifest needs, parsed and checked once.
pub(super) struct PassSigner {
    key: rsa::pkcs1v15::SigningKey<Sha256>,
    signer_id: SignerIdentifier,
    certificates: [CertificateChoices; 2],
}

impl PassSigner {
    /// Reads the pass certificate, its key and the WWDR certificate, and checks they belong
    /// together and to `pass_type_id` and `team_id`.
    pub(super) fn new(
        pass_cert_pem: &str,
        pass_key_pem: &str,
        wwdr_cert_pem: &str,
        pass_type_id: &str,
        team_id: &str,
    ) -> Result<PassSigner, WalletError> {
        let pass_cert = read_certificate(pass_cert_pem, "the pass certificate")?;
        let wwdr_cert = read_certificate(wwdr_cert_pem, "the WWDR certificate")?;
        let private_key = read_private_key(pass_key_pem)?;

        let certified_key = pass_cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .ok()
            .and_then(|der| RsaPublicKey::from_public_key_der(&der).ok())
            .ok_or_else(|| {
                WalletError::Config(
                    "the pass certificate's public key is not RSA; Apple's Pass Type ID certificates are RSA \
                     — check that the file is the pass certificate"
                        .into(),
                )
            })?;
        if certified_key != private_key.to_public_key() {
            return Err(WalletError::Config(
                "the pass private key does not match the pass certificate (their public keys differ); use the \
                 key the certificate was requested with, e.g. both exported from the same .p12"
                    .into(),
            ));
        }
        if private_key.size() * 8 < MIN_KEY_BITS {
            return Err(WalletError::Config(format!(
                "the pass key has {} bits; Apple's pass keys are RSA {MIN_KEY_BITS}",
                private_key.size() * 8
            )));
        }

        if pass_cert.tbs_certificate.issuer != wwdr_cert.tbs_certificate.subject {
            return Err(WalletError::Config(format!(
                "the pass certificate was issued by \"{}\", but the WWDR certificate given is \"{}\"; download \
                 the WWDR intermediate that issued it from Apple (its generation, e.g. G4, is in the issuer)",
                pass_cert.tbs_certificate.issuer, wwdr_cert.tbs_certificate.subject
            )));
        }
        // Apple's certificates name their pass type and team; a pass signed with another
        // type's certificate is refused by every phone, so say it now rather than there.
        for (oid, configured, what) in
            [(OID_USER_ID, pass_type_id, "pass type id"), (OID_ORGANIZATIONAL_UNIT, team_id, "team id")]
        {
            if let Some(certified) = subject_text(&pass_cert, oid) {
                if certified != configured {
                    return Err(WalletError::Config(format!(
                        "the pass certificate is for {what} {certified:?}, but the configuration says \
                         {configured:?}; configure the certificate's {what}, or use that id's certificate"
                    )));
                }
            }
        }
        warn_when_expired(&pass_cert, "the pass certificate");
        warn_when_expired(&wwdr_cert, "the WWDR certificate");

        let signer_id = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: pass_cert.tbs_certificate.issuer.clone(),
            serial_number: pass_cert.tbs_certificate.serial_number.clone(),
        });
        Ok(PassSigner {
            key: rsa::pkcs1v15::SigningKey::<Sha256>::new(private_key),
            signer_id,
            certificates: [CertificateChoices::Certificate(pass_cert), CertificateChoices::Certificate(wwdr_cert)],
        })
    }

    /// The DER `signature` file for `manifest` (a detached SignedData).
    pub(super) fn sign(&self, manifest: &[u8]) -> Result<Vec<u8>, WalletError> {
        let failed =
            |what: &str, err: &dyn std::fmt::Display| WalletError::Build(format!("signing the pass: {what}: {err}"));
        let digest_algorithm = AlgorithmIdentifierOwned { oid: ID_SHA256, parameters: None };
        let content = EncapsulatedContentInfo { econtent_type: ID_DATA, econtent: None };
        let manifest_digest = Sha256::digest(manifest);
        // The builder adds the message-digest and content-type attributes itself (it refuses a
        // content-type given beside its own); signing-time is ours to add.
        let mut signer_info = SignerInfoBuilder::new(
            &self.key,
            self.signer_id.clone(),
            digest_algorithm.clone(),
            &content,
            Some(manifest_digest.as_slice()),
        )
        .map_err(|err| failed("the signer", &err))?;
        let signing_time = create_signing_time_attribute().map_err(|err| failed("the signing time", &err))?;
        signer_info.add_signed_attribute(signing_time).map_err(|err| failed("the signing time", &err))?;

        let mut signed_data = SignedDataBuilder::new(&content);
        signed_data.add_digest_algorithm(digest_algorithm).map_err(|err| failed("the digest", &err))?;
        for certificate in &self.certificates {
            signed_data.add_certificate(certificate.clone()).map_err(|err| failed("the certificates", &err))?;
        }
        signed_data
            .add_signer_info::<_, rsa::pkcs1v15::Signature>(signer_info)
            .map_err(|err| failed("the RSA signature", &err))?;
        let content_info = signed_data.build().map_err(|err| failed("the SignedData", &err))?;
        content_info.to_der().map_err(|err| failed("encoding", &err))
    }
}

/// The first `BEGIN <label>` block of a PEM text whose label is one of `labels`, so that files
/// exported with `openssl pkcs12` ("Bag Attributes" lines, the key and certificate together)
/// are read as they are.
fn pem_block<'a>(text: &'a str, labels: &[&'a str]) -> Option<(&'a str, &'a str)> {
    let mut best: Option<(usize, &str)> = None;
    for label in labels {
        let begin = format!("-----BEGIN {label}-----");
        if let Some(at) = text.find(&begin) {
            if best.is_none_or(|(first, _)| at < first) {
                best = Some((at, label));
            }
        }
    }
    let (start, label) = best?;
    let end_marker = format!("-----END {label}-----");
    let end = start + text.get(start..)?.find(&end_marker)? + end_marker.len();
    Some((label, text.get(start..end)?))
}

fn read_certificate(pem: &str, what: &str) -> Result<Certificate, WalletError> {
    let (_, block) = pem_block(pem, &["CERTIFICATE"]).ok_or_else(|| {
        WalletError::Config(format!(
            "{what} is not a PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line); convert a .cer file with \
             `openssl x509 -inform DER -in file.cer -out file.pem`"
        ))
    })?;
    Certificate::from_pem(block.as_bytes())
        .map_err(|err| WalletError::Config(format!("{what} does not parse as an X.509 certificate: {err}")))
}

fn read_private_key(pem: &str) -> Result<RsaPrivateKey, WalletError> {
    let labels = ["RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY"];
    let parsed = match pem_block(pem, &labels) {
        Some(("RSA PRIVATE KEY", block)) => RsaPrivateKey::from_pkcs1_pem(block).map_err(|err| err.to_string()),
        Some(("PRIVATE KEY", block)) => RsaPrivateKey::from_pkcs8_pem(block)
            .map_err(|err| format!("{err} (Apple's pass keys are RSA; is this one another kind?)")),
        Some(("ENCRYPTED PRIVATE KEY", _)) => Err("it is encrypted; remove the passphrase with \
             `openssl pkey -in key.pem -out plain.pem` and keep the file readable only by the server"
            .to_owned()),
        Some((_, _)) => Err("it is an EC key; Apple's pass keys are RSA".to_owned()),
        None => Err("no \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN PRIVATE KEY-----\" line; export the \
             key from the .p12 with `openssl pkcs12 -in pass.p12 -nocerts -nodes`"
            .to_owned()),
    };
    parsed.map_err(|why| WalletError::Config(format!("the pass private key cannot be read: {why}")))
}

/// A text attribute of the certificate's subject (the first with that type).
fn subject_text(certificate: &Certificate, oid: ObjectIdentifier) -> Option<String> {
    certificate
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|attribute| attribute.oid == oid)
        .and_then(|attribute| any_text(&attribute.value))
}

fn any_text(value: &Any) -> Option<String> {
    let der = value.to_der().ok()?;
    Utf8StringRef::from_der(&der)
        .map(|text| text.as_str().to_owned())
        .or_else(|_| PrintableStringRef::from_der(&der).map(|text| text.as_str().to_owned()))
        .or_else(|_| Ia5StringRef::from_der(&der).map(|text| text.as_str().to_owned()))
        .ok()
}

/// An expired certificate still signs, but phones refuse what it signed; the chain must renew
/// it (Apple's portal), and the warning says so each start.
fn warn_when_expired(certificate: &Certificate, what: &str) {
    let not_after = certificate.tbs_certificate.validity.not_after.to_system_time();
    if not_after < std::time::SystemTime::now() {
        let until = certificate.tbs_certificate.validity.not_after;
        tracing::warn!(%until, "{what} has expired; phones will refuse new passes and updates until it is renewed");
    }
}
