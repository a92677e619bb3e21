//! A local stand-in for Apple's push service: HTTP/2 over TLS (ALPN `h2`) on 127.0.0.1 with a
//! self-signed certificate the cloud is told to trust (`--apns-ca`). It checks each request's
//! ES256 JWT against the test's .p8 key, keeps every push it is sent, and answers 410 for
//! device tokens the test marked gone.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub const KEY_ID: &str = "ABC123DEFG";
pub const TEAM_ID: &str = "ABCDE12345";

/// One push as APNs received it.
#[derive(Debug, Clone)]
pub struct ApnsPush {
    pub token: String,
    pub topic: String,
    pub push_type: String,
    /// Whether the bearer JWT verified (ES256, the test key, `kid`, `iss`).
    pub token_verified: bool,
    pub http2: bool,
    /// The answer given.
    pub status: u16,
}

/// A P-256 key pair in PEM (the .p8 file Apple gives, and its public half).
pub struct ApnsKey {
    pub key_path: PathBuf,
    pub public_pem: String,
}

fn openssl(args: &[&str]) {
    let status = Command::new("openssl").args(args).status().expect("the openssl command runs");
    assert!(status.success(), "openssl {args:?}");
}

/// Makes the chain's APNs key (PKCS#8 PEM, P-256) in `dir`.
pub fn apns_key(dir: &Path) -> ApnsKey {
    let key = dir.join("AuthKey.p8");
    let public = dir.join("AuthKey.pub.pem");
    let key_s = key.to_str().unwrap();
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key_s]);
    openssl(&["pkey", "-in", key_s, "-pubout", "-out", public.to_str().unwrap()]);
    ApnsKey { key_path: key, public_pem: std::fs::read_to_string(public).unwrap() }
}

pub struct ApnsStandIn {
    pub url: String,
    /// The server's certificate (PEM file), to trust.
    pub ca_path: PathBuf,
    pushes: Arc<Mutex<Vec<ApnsPush>>>,
    gone: Arc<Mutex<HashSet<String>>>,
    _dir: tempfile::TempDir,
}

impl ApnsStandIn {
    /// Starts on a free port; JWTs are checked with `public_pem`.
    pub async fn start(public_pem: &str) -> ApnsStandIn {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("apns.pem"), dir.path().join("apns.key"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(&cert).unwrap().collect::<Result<_, _>>().unwrap();
        let private = PrivateKeyDer::from_pem_file(&key).unwrap();
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, private)
                .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let pushes = Arc::new(Mutex::new(Vec::new()));
        let gone = Arc::new(Mutex::new(HashSet::new()));
        let decoding = Arc::new(jsonwebtoken::DecodingKey::from_ec_pem(public_pem.as_bytes()).unwrap());
        let (kept, gone_tokens) = (pushes.clone(), gone.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, kept, gone, decoding) =
                    (acceptor.clone(), kept.clone(), gone_tokens.clone(), decoding.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (kept, gone, decoding) = (kept.clone(), gone.clone(), decoding.clone());
                        async move { Ok::<_, std::convert::Infallible>(answer(request, &kept, &gone, &decoding)) }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        ApnsStandIn { url, ca_path: cert, pushes, gone, _dir: dir }
    }

    /// How many pushes arrived (without copying them).
    pub fn count(&self) -> usize {
        self.pushes.lock().unwrap().len()
    }

    pub fn pushes(&self) -> Vec<ApnsPush> {
        self.pushes.lock().unwrap().clone()
    }

    /// From now on this device token is answered 410 Unregistered.
    pub fn gone(&self, token: &str) {
        self.gone.lock().unwrap().insert(token.to_owned());
    }
}

fn answer(
    request: Request<Incoming>,
    kept: &Mutex<Vec<ApnsPush>>,
    gone: &Mutex<HashSet<String>>,
    decoding: &jsonwebtoken::DecodingKey,
) -> Response<String> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let token = request.uri().path().strip_prefix("/3/device/").unwrap_or_default().to_owned();
    let jwt = header("authorization").strip_prefix("bearer ").unwrap_or_default().to_owned();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims = HashSet::from(["iss".to_owned()]);
    validation.validate_exp = false;
    validation.set_issuer(&[TEAM_ID]);
    let token_verified = jsonwebtoken::decode::<serde_json::Value>(&jwt, decoding, &validation).is_ok()
        && jsonwebtoken::decode_header(&jwt).ok().and_then(|h| h.kid).as_deref() == Some(KEY_ID);
    let (status, reason) = if !token_verified {
        (403, "InvalidProviderToken")
    } else if gone.lock().unwrap().contains(&token) {
        (410, "Unregistered")
    } else {
        (200, "")
    };
    kept.lock().unwrap().push(ApnsPush {
        token,
        topic: header("apns-topic"),
        push_type: header("apns-push-type"),
        token_verified,
        http2: request.version() == hyper::Version::HTTP_2,
        status,
    });
    let body = if reason.is_empty() { String::new() } else { format!("{{\"reason\":\"{reason}\"}}") };
    Response::builder().status(status).body(body).unwrap()
}
