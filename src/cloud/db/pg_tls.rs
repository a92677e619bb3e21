//! PostgreSQL over TLS: the database URL's `sslmode` and `sslrootcert`, read as libpq reads
//! them, turned into a `postgres::Config` and a rustls connector.
//!
//! | `sslmode`     | the connection                                                               |
//! |---------------|------------------------------------------------------------------------------|
//! | (absent)      | plain, as before TLS was supported                                           |
//! | `disable`     | plain                                                                        |
//! | `prefer`      | TLS when the server offers it, plain otherwise; the certificate is not checked |
//! | `require`     | TLS or no connection; the certificate is not checked (with `sslrootcert`: as `verify-ca`) |
//! | `verify-ca`   | TLS; the certificate must chain to `sslrootcert`                             |
//! | `verify-full` | TLS; the certificate must chain to `sslrootcert` and name the host           |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the machine's trust store;
//! `verify-ca` and `verify-full` need it (libpq's `~/.postgresql/root.crt` default is not read:
//! a service's home directory is no place to look for a trust anchor). Client certificates
//! (`sslcert`, `sslkey`) are not supported and are refused by name rather than ignored. The
//! `postgres` crate parses everything else in the URL; it knows only `disable`, `prefer` and
//! `require`, so the two parameters are taken out before it sees them.
//!
//! A failed handshake becomes a sentence naming the problem ([`explain`]): a certificate from
//! another CA, one that does not name the host, a server without TLS.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use postgres::config::SslMode as PgSslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;

/// How the connection is protected, from the URL's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, DbError> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` (plain first, TLS if refused) protects nothing a plain
            // connection does not; say what to use instead.
            other => {
                return Err(DbError::Open(format!(
                    "sslmode={other} is not supported in the database URL: use disable, prefer, require, verify-ca or \
                     verify-full"
                )))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    File(PathBuf),
    System,
}

impl fmt::Display for RootCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootCert::File(path) => write!(f, "sslrootcert={}", path.display()),
            RootCert::System => f.write_str("sslrootcert=system"),
        }
    }
}

/// Everything needed to open connections: the parsed configuration and, for TLS, the
/// connector (shared by every connection of the pool).
#[derive(Clone)]
pub struct PgTarget {
    pub config: postgres::Config,
    pub mode: SslMode,
    pub root_cert: Option<RootCert>,
    pub tls: Option<MakeRustlsConnect>,
}

impl PgTarget {
    /// Reads a `postgres://` URL; with TLS, loads the CA certificates now, so a missing or
    /// unreadable `sslrootcert` stops the start with its own message.
    pub fn from_url(url: &str) -> Result<PgTarget, DbError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut mode, mut root_cert) = (None, None);
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => mode = Some(SslMode::parse(&percent_decode(value)?)?),
                "sslrootcert" => {
                    let value = percent_decode(value)?;
                    root_cert =
                        Some(if value == "system" { RootCert::System } else { RootCert::File(PathBuf::from(value)) });
                }
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                    return Err(DbError::Open(format!(
                        "{key} in the database URL is not supported: loyalty-cloud does not present client \
                         certificates or read revocation lists; authenticate with a password"
                    )))
                }
                _ => rest.push(pair),
            }
        }
        let plain = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
        let mut config: postgres::Config =
            plain.parse().map_err(|e| DbError::Open(format!("the database URL cannot be read: {e}")))?;
        // With a CA file, `require` checks the chain, as libpq's does.
        let mode = match (mode.unwrap_or(SslMode::Disable), &root_cert) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        };
        let tls = match mode {
            SslMode::Disable => None,
            SslMode::Prefer | SslMode::Require => Some(connector(Arc::new(EncryptOnly(provider())))?),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let Some(root) = &root_cert else {
                    return Err(DbError::Open(format!(
                        "sslmode={} needs the CA that signed the server's certificate: add \
                         sslrootcert=/path/to/ca.pem (or sslrootcert=system for the machine's trust store) to the \
                         database URL",
                        mode.as_str()
                    )));
                };
                let roots = Arc::new(load_roots(root)?);
                let checker = WebPkiServerVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| DbError::Open(format!("cannot use the CA certificates of {root}: {e}")))?;
                if mode == SslMode::VerifyFull {
                    Some(connector(checker)?)
                } else {
                    Some(connector(Arc::new(ChainOnly(checker)))?)
                }
            }
        };
        config.ssl_mode(match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
        Ok(PgTarget { config, mode, root_cert, tls })
    }

    /// Opens one connection as the URL says.
    pub fn connect(&self) -> Result<postgres::Client, DbError> {
        let connected = match &self.tls {
            None => self.config.connect(postgres::NoTls),
            Some(tls) => self.config.connect(tls.clone()),
        };
        connected.map_err(|e| DbError::Open(explain(&e, self)))
    }
}

/// The process's crypto: the aws-lc-rs provider, which reqwest's rustls already builds.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn connector(verifier: Arc<dyn ServerCertVerifier>) -> Result<MakeRustlsConnect, DbError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Open(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn load_roots(root: &RootCert) -> Result<RootCertStore, DbError> {
    let mut roots = RootCertStore::empty();
    match root {
        RootCert::File(path) => {
            let unreadable = |e: &dyn fmt::Display| {
                DbError::Open(format!(
                    "cannot read the CA certificates in {root}: {e}; name a readable PEM file of the CA that signed \
                     the PostgreSQL server's certificate"
                ))
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| unreadable(&e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| unreadable(&e))?;
            if certs.is_empty() {
                return Err(unreadable(&"the file holds no PEM certificate"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| unreadable(&e))?;
            }
        }
        RootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(DbError::Open(format!(
                    "sslrootcert=system, but no trusted CA certificates were found on this machine ({} errors); \
                     name a CA file instead",
                    found.errors.len()
                )));
            }
        }
    }
    Ok(roots)
}

/// A connection failure as a sentence: the TLS problems get their own, with what to change.
fn explain(error: &postgres::Error, target: &PgTarget) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return explain_tls(tls, target);
        }
        // tokio-rustls reports a failed handshake as an `io::Error` holding the rustls error,
        // and `io::Error::source` skips what it holds: look inside.
        if let Some(tls) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return explain_tls(tls, target);
        }
        cause = current.source();
    }
    let text = error.to_string();
    if text.contains("server does not support TLS") {
        return format!(
            "PostgreSQL: the server does not accept TLS, but the database URL says sslmode={}; turn ssl on in the \
             server, or use sslmode=disable on a network you trust",
            target.mode.as_str()
        );
    }
    format!("PostgreSQL: {text}")
}

fn explain_tls(error: &rustls::Error, target: &PgTarget) -> String {
    let root = target.root_cert.as_ref().map(ToString::to_string).unwrap_or_else(|| "sslrootcert".into());
    let host = match target.config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(name)) => name.clone(),
        _ => String::new(),
    };
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => format!(
            "PostgreSQL TLS: the server's certificate is not signed by a CA in {root} ({error}); name the CA that \
             signed the server's certificate in sslrootcert"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "PostgreSQL TLS: the server's certificate does not name the host {host} ({error}); connect by a name \
             the certificate holds, or use sslmode=verify-ca to check only the CA"
        ),
        rustls::Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            format!("PostgreSQL TLS: the server's certificate has expired ({error}); renew it on the server")
        }
        other => format!("PostgreSQL TLS: the handshake with the server failed: {other}"),
    }
}

/// `%XX` escapes of a URL's query value.
fn percent_decode(text: &str) -> Result<String, DbError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return Err(DbError::Open("the database URL has a bad %-escape in its parameters".into()));
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DbError::Open("the database URL's parameters are not UTF-8".into()))
}

/// `prefer` and `require` without a CA: the traffic is encrypted and the server proves it
/// holds the certificate's key, but who issued the certificate is not checked (libpq's
/// behaviour for these modes).
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full check, less the host name. rustls checks the chain before the name,
/// so a name mismatch means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(url: &str) -> String {
        match PgTarget::from_url(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn modes_are_read_and_taken_out_of_the_url() {
        let plain = PgTarget::from_url("postgres://app@db:5432/loyalty").unwrap();
        assert_eq!((plain.mode, plain.tls.is_none()), (SslMode::Disable, true));
        assert_eq!(plain.config.get_ssl_mode(), PgSslMode::Disable);
        let disabled = PgTarget::from_url("postgres://app@db/loyalty?sslmode=disable&connect_timeout=5").unwrap();
        assert_eq!(disabled.mode, SslMode::Disable);
        assert_eq!(disabled.config.get_connect_timeout(), Some(&std::time::Duration::from_secs(5)));
        let required = PgTarget::from_url("postgres://app@db/loyalty?sslmode=require").unwrap();
        assert_eq!((required.mode, required.tls.is_some()), (SslMode::Require, true));
        assert_eq!(required.config.get_ssl_mode(), PgSslMode::Require);
        let preferred = PgTarget::from_url("postgresql://app@db/loyalty?sslmode=prefer").unwrap();
        assert_eq!(preferred.config.get_ssl_mode(), PgSslMode::Prefer);
    }

    #[test]
    fn bad_tls_settings_are_refused_by_name() {
        assert!(error_of("postgres://db/x?sslmode=verify-full").contains("sslrootcert=/path/to/ca.pem"));
        assert!(error_of("postgres://db/x?sslmode=verify-ca").contains("needs the CA"));
        assert!(error_of("postgres://db/x?sslmode=allow").contains("sslmode=allow is not supported"));
        assert!(error_of("postgres://db/x?sslmode=require&sslcert=/c.pem").contains("sslcert"));
        let missing = error_of("postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca%20file.pem");
        assert!(missing.contains("sslrootcert=/nonexistent/ca file.pem"), "{missing}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let url = format!("postgres://db/x?sslmode=verify-full&sslrootcert={}", empty.display());
        assert!(error_of(&url).contains("no PEM certificate"), "{}", error_of(&url));
        assert!(error_of("postgres://db/x?sslmode=require&sslrootcert=%zz").contains("%-escape"));
    }
}
