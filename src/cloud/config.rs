//! The cloud's configuration: one typed struct. Defaults < `LOYALTY_CLOUD_…` environment <
//! flags (the binary reads both with clap). Secrets are redacted in `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The port loyalty-cloud listens on by default.
pub const DEFAULT_PORT: u16 = 8720;

#[derive(Clone)]
pub struct CloudConfig {
    pub listen: SocketAddr,
    /// The SQLite database (when no URL is given), the admin token file and logs live here.
    pub data_dir: PathBuf,
    /// `postgres://…`; `None` = SQLite in the data directory.
    pub database_url: Option<String>,
    /// From `LOYALTY_CLOUD_ADMIN_TOKEN`; otherwise the token file is used (created on first start).
    pub admin_token: Option<String>,
    /// Region for phone numbers typed without a country code.
    pub default_country: String,
    /// Digits that start every card number the cloud assigns. Distinct from the agents' default
    /// ("2700") so a card the cloud assigns never collides with one a till assigned offline.
    pub card_prefix: String,
    /// Webhook retries and timeouts.
    pub webhooks: crate::cloud::webhooks::WebhookSettings,
    /// The sign-up form: sign-ups a minute in total, whether `X-Forwarded-For` names the
    /// client (behind our own load balancer only), and the website origins allowed by CORS.
    pub signup_per_minute: u32,
    pub trust_forwarded_for: bool,
    pub signup_origins: Vec<String>,
    /// The operator of personal data and the privacy policy, shown on the sign-up page.
    pub personal_data: crate::wire::PersonalDataNotice,
    /// The HTTP header read and idle timeouts and the connection bound.
    pub http: crate::http::serve::ServeLimits,
    /// The address people reach this cloud at (`https://loyalty.example.com`); with https the
    /// back office's session cookie is `Secure`.
    pub public_url: Option<String>,
    /// Where SMS codes go (`--sms`).
    pub sms: crate::sms::SmsGateway,
    /// Days before points expire that webhooks hear `points_expiring` (0 = never).
    pub expiry_notice_days: i64,
    /// Seconds a signed QR token of the self-service page stays valid (`--qr-lifetime`).
    pub qr_lifetime_s: i64,
    /// Apple Wallet and Google Wallet (none configured by default).
    pub wallet: crate::cloud::wallet::WalletOptions,
}

/// Connections the cloud serves at once by default: every till keeps one open (its long poll),
/// and a chain of 200 stores has a thousand tills or so.
pub const MAX_CONNECTIONS: usize = 4096;

impl std::fmt::Debug for CloudConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|url| redact_url(url)))
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<redacted>"))
            .field("default_country", &self.default_country)
            .field("card_prefix", &self.card_prefix)
            .field("webhooks", &self.webhooks)
            .field("signup_per_minute", &self.signup_per_minute)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("signup_origins", &self.signup_origins)
            .field("personal_data", &self.personal_data)
            .field("http", &self.http)
            .field("sms", &self.sms)
            .field("wallet", &self.wallet)
            .finish()
    }
}

impl CloudConfig {
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("cloud.sqlite3")
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join("admin-token")
    }

    /// The default data directory: the platform's per-user data folder.
    pub fn default_data_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "loyalty-cloud").map(|dirs| dirs.data_dir().to_path_buf())
    }

    pub fn database_kind(&self) -> &'static str {
        if self.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact_url("postgres://app:s3cret@db:5432/loyalty"), "postgres://app:***@db:5432/loyalty");
        assert_eq!(super::redact_url("postgres://db/loyalty"), "postgres://db/loyalty");
    }
}
