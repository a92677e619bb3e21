//! loyalty-cloud on PostgreSQL over TLS: the test cluster of `scripts/test.sh` runs with
//! `ssl=on` and a certificate from a throwaway CA, and names it in
//! `LOYALTY_TEST_DATABASE_URL_TLS` (`sslmode=verify-full&sslrootcert=…`). The cloud serves over
//! such a connection (a till enrolled, a sale pushed and read back, and the server confirming
//! that every connection of the cloud's is encrypted); `sslmode=require` connects without a
//! CA; a CA that did not sign the server's certificate stops the start with a sentence that
//! says so. Without the variables (PostgreSQL not started by the script) the tests skip.

use std::process::Command;

use crate::cloud_support::{customer_created, sale, Backend, Cloud};

/// The TLS URL of the test cluster and the unrelated CA, or `None` (with a note) to skip.
fn tls_settings() -> Option<(String, String)> {
    match (std::env::var("LOYALTY_TEST_DATABASE_URL_TLS"), std::env::var("LOYALTY_TEST_PG_OTHER_CA")) {
        (Ok(url), Ok(other_ca)) if !url.trim().is_empty() => Some((url, other_ca)),
        _ => {
            eprintln!("LOYALTY_TEST_DATABASE_URL_TLS is not set (run scripts/test.sh): skipping the TLS tests");
            None
        }
    }
}

/// A fresh database on the test cluster, and its URL over TLS with `query` in place of the
/// TLS URL's own parameters.
fn database_over_tls(tls_url: &str, query: Option<&str>) -> Option<(Backend, String)> {
    let backend = Backend::postgres()?;
    let Backend::Postgres(db) = &backend else { return None };
    let server = match query {
        Some(query) => format!("{}?{query}", tls_url.split_once('?').map_or(tls_url, |(base, _)| base)),
        None => tls_url.to_owned(),
    };
    let url = db.url_on(&server);
    Some((backend, url))
}

/// Whether every connection the cloud holds to `database` uses TLS, as the server reports it
/// (`pg_stat_ssl`), and how many there are; asked over a plain connection of the test's own.
fn cloud_connections_encrypted(cloud: &Cloud, database: &str) -> Vec<Option<String>> {
    cloud.sql_texts(&format!(
        "SELECT s.ssl::text FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
         WHERE a.datname = '{database}' AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'"
    ))
}

fn database_name(url: &str) -> String {
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    base.rsplit('/').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_serves_over_verify_full() {
    let Some((tls_url, _)) = tls_settings() else { return };
    let Some((backend, url)) = database_over_tls(&tls_url, None) else { return };
    assert!(url.contains("sslmode=verify-full"), "{url}");
    let cloud = Cloud::start_on_url(backend, url.clone()).await;

    let till = cloud.till("Till 1").await;
    let customer = "c-tls-1";
    cloud
        .push_expect(
            &till,
            vec![
                customer_created(1, customer, "8 999 555 12 34", "27000000093"),
                sale(2, "r-1", customer, 25000, 0, 12),
            ],
            &["applied", "applied"],
        )
        .await;
    let (status, receipt) = cloud.admin_get(&format!("/v1/admin/receipts/{}/r-1", till.id)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["receipt"]["total"], 25000);
    assert_eq!(cloud.points(customer).await["balance"], 12);

    let encrypted = cloud_connections_encrypted(&cloud, &database_name(&url));
    assert!(!encrypted.is_empty(), "the cloud holds connections to its database");
    assert!(encrypted.iter().all(|ssl| ssl.as_deref() == Some("true")), "every connection is TLS: {encrypted:?}");

    // The certificate names 127.0.0.1 too: verify-full by address works as by name.
    let Some((backend, by_address)) = database_over_tls(&tls_url.replacen("@localhost:", "@127.0.0.1:", 1), None)
    else {
        return;
    };
    let second = Cloud::start_on_url(backend, by_address).await;
    let (status, health) = second.send(reqwest::Method::GET, "/v1/health", None, None).await;
    assert_eq!(status, 200, "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_without_a_ca_and_plain_urls_still_work() {
    let Some((tls_url, _)) = tls_settings() else { return };
    let Some((backend, url)) = database_over_tls(&tls_url, Some("sslmode=require")) else { return };
    let cloud = Cloud::start_on_url(backend, url.clone()).await;
    let till = cloud.till("Till 1").await;
    cloud.push_expect(&till, vec![customer_created(1, "c-req", "8 999 555 12 35", "27000000109")], &["applied"]).await;
    let encrypted = cloud_connections_encrypted(&cloud, &database_name(&url));
    assert!(!encrypted.is_empty() && encrypted.iter().all(|ssl| ssl.as_deref() == Some("true")), "{encrypted:?}");

    // The plain URL (no sslmode) to the same TLS-enabled cluster stays a plain connection.
    let Some(backend) = Backend::postgres() else { return };
    let Backend::Postgres(db) = &backend else { return };
    let name = database_name(&db.url);
    let plain = Cloud::start(backend.clone()).await;
    plain.till("Till 1").await;
    let encrypted = cloud_connections_encrypted(&plain, &name);
    assert!(!encrypted.is_empty() && encrypted.iter().all(|ssl| ssl.as_deref() == Some("false")), "{encrypted:?}");
}

/// Runs `loyalty-cloud serve` on `url`, which must fail to start; its exit code and stderr.
fn failed_start(url: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_loyalty-cloud"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--database-url")
        .arg(url)
        .env("LOYALTY_CLOUD_ADMIN_TOKEN", crate::cloud_support::ADMIN)
        .env("LOYALTY_LOG", "warn")
        .output()
        .expect("run loyalty-cloud");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening"),
        "the cloud started on {url}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_stops_the_start_with_a_clear_message() {
    let Some((tls_url, other_ca)) = tls_settings() else { return };
    let Some((_backend, url)) =
        database_over_tls(&tls_url, Some(&format!("sslmode=verify-full&sslrootcert={other_ca}")))
    else {
        return;
    };
    let (code, stderr) = failed_start(&url);
    eprintln!("loyalty-cloud with the wrong CA said: {stderr}");
    assert_eq!(code, Some(2), "a configuration error: {stderr}");
    assert!(stderr.contains("certificate is not signed by a CA in"), "{stderr}");
    assert!(stderr.contains(&format!("sslrootcert={other_ca}")), "names the CA file: {stderr}");

    // A CA file that is not there, and verify-full without any: each says what to fix.
    let missing = url.replace(&other_ca, "/nonexistent/ca.pem");
    let (code, stderr) = failed_start(&missing);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read the CA certificates in sslrootcert=/nonexistent/ca.pem"), "{stderr}");
    let (code, stderr) = failed_start(&url.replace(&format!("&sslrootcert={other_ca}"), ""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("needs the CA that signed the server's certificate"), "{stderr}");
}
