//! The agent's configuration: one typed struct, built from defaults < `config.toml` in the config
//! directory < `LOYALTY_AGENT_…` environment < command-line flags.
//!
//! Paths come from the `directories` crate (per-user folders) unless `--data-dir` names one
//! folder for everything, which is what services and tests do. A system service keeps its data
//! in a fixed system folder ([`crate::agent::service::system_data_dir`]); the other commands,
//! run by a cashier, find that install's token there (see [`AgentConfig::client_token`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::agent::token::AgentToken;
use crate::http::serve::ServeLimits;

/// The port the agent listens on by default.
pub const DEFAULT_PORT: u16 = 8719;

/// Settings a store may put in `config.toml`; every one is optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<SocketAddr>,
    /// ISO 3166 region used for phone numbers typed without a country code ("RU").
    pub default_country: Option<String>,
    /// Digits that start every card number the agent assigns.
    pub card_prefix: Option<String>,
    /// Extra names accepted in the `Host` header besides loopback (e.g. a till's LAN name).
    pub allowed_hosts: Vec<String>,
    /// Origins (`http://till-ui.local:3000`) allowed to call the API from a browser.
    pub allowed_origins: Vec<String>,
    /// A key the MoySklad adapter (`/moysklad/v1/`) accepts besides the agent token.
    pub moysklad_key: Option<String>,
    /// The address of the public sign-up page that the sign-up QR code points to
    /// (`https://shop.example.com`; the QR then holds `{signup_url}/signup?store=…`).
    pub signup_url: Option<String>,
    /// Who processes the customers' personal data (152-ФЗ), named beside the consent on the
    /// cashier page's enrolment form, and the privacy policy's address.
    pub personal_data_operator: Option<String>,
    pub privacy_policy_url: Option<String>,
    /// Where this till sends SMS codes itself (a standalone till's MoySklad codes).
    pub sms: SmsSection,
}

/// `[sms]`: `webhook_url` (a POST of {"phone", "text", "id"}, signed with `secret` like the
/// cloud's webhooks) or `smsru_api_key` (SMS.ru); neither = codes are logged, not sent.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSection {
    pub webhook_url: Option<String>,
    pub secret: Option<String>,
    pub smsru_api_key: Option<String>,
    /// SMS.ru's address (a stand-in, a proxy).
    pub smsru_url: Option<String>,
}

/// The resolved configuration of a running agent.
#[derive(Clone)]
pub struct AgentConfig {
    pub listen: SocketAddr,
    /// Where the database and logs live.
    pub data_dir: PathBuf,
    /// Where `config.toml`, `program.toml` and the token file live.
    pub config_dir: PathBuf,
    pub default_country: String,
    pub card_prefix: String,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// From `LOYALTY_AGENT_TOKEN`; otherwise the token file is used (created on first start).
    pub token_override: Option<String>,
    /// The MoySklad adapter's extra key, from `config.toml`.
    pub moysklad_key: Option<String>,
    /// Where the sign-up QR code points, from `config.toml`; without it, the enrolled cloud.
    pub signup_url: Option<String>,
    /// The personal-data operator and policy the cashier page names, from `config.toml`.
    pub personal_data: crate::wire::PersonalDataNotice,
    /// True when the folders are the user's own (from `directories`), false with `--data-dir`.
    pub per_user: bool,
    /// The HTTP header read and idle timeouts and the connection bound
    /// (`LOYALTY_AGENT_HEADER_TIMEOUT_MS`, `…_IDLE_TIMEOUT_MS`, `…_MAX_CONNECTIONS`).
    pub http: ServeLimits,
    /// Where this till's own SMS codes go (`[sms]`).
    pub sms: crate::sms::SmsGateway,
}

/// Connections the agent serves at once: a till's programs, its cashier page and a few tools.
pub const MAX_CONNECTIONS: usize = 256;

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("config_dir", &self.config_dir)
            .field("default_country", &self.default_country)
            .field("card_prefix", &self.card_prefix)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("token_override", &self.token_override.as_ref().map(|_| "<redacted>"))
            .field("moysklad_key", &self.moysklad_key.as_ref().map(|_| "<redacted>"))
            .field("signup_url", &self.signup_url)
            .field("personal_data", &self.personal_data)
            .field("per_user", &self.per_user)
            .field("http", &self.http)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot find a home directory for the agent's data; pass --data-dir")]
    NoHomeDirectory,
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "the agent runs as a system service and its token {path} is readable only by the group `loyalty`: add this account to it (`sudo adduser $USER loyalty`), then log in again"
    )]
    SystemTokenNotReadable { path: PathBuf },
    #[error("{0}")]
    Environment(String),
}

/// What the command line and environment say, before the file is read.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub token: Option<String>,
}

impl AgentConfig {
    /// Resolves the directories, reads `config.toml` if present and applies the overrides.
    pub fn load(overrides: Overrides) -> Result<AgentConfig, ConfigError> {
        let (data_dir, config_dir) = match &overrides.data_dir {
            Some(dir) => (dir.clone(), dir.clone()),
            None => {
                let dirs =
                    directories::ProjectDirs::from("", "", "loyalty-agent").ok_or(ConfigError::NoHomeDirectory)?;
                (dirs.data_dir().to_path_buf(), dirs.config_dir().to_path_buf())
            }
        };
        let file = read_config_file(&config_dir.join("config.toml"))?;
        let card_prefix = file.card_prefix.unwrap_or_else(|| "2700".to_owned());
        if card_prefix.len() > 12 || !card_prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                path: config_dir.join("config.toml"),
                message: "card_prefix must be up to 12 digits".into(),
            });
        }
        let moysklad_key = file.moysklad_key.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty());
        if moysklad_key.as_ref().is_some_and(|k| k.chars().count() < 16) {
            return Err(ConfigError::Invalid {
                path: config_dir.join("config.toml"),
                message: "moysklad_key must be at least 16 characters (use a long random key)".into(),
            });
        }
        let signup_url = match file.signup_url.map(|u| u.trim().trim_end_matches('/').to_owned()) {
            Some(url) if url.is_empty() => None,
            Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(['?', '#']) => {
                return Err(ConfigError::Invalid {
                    path: config_dir.join("config.toml"),
                    message: "signup_url must be an http(s) address without a query, e.g. \"https://shop.example.com\""
                        .into(),
                })
            }
            url => url,
        };
        let personal_data = crate::identity::personal_data_notice(
            file.personal_data_operator.as_deref(),
            file.privacy_policy_url.as_deref(),
        )
        .map_err(|message| ConfigError::Invalid { path: config_dir.join("config.toml"), message })?;
        let sms_choice = match (&file.sms.webhook_url, &file.sms.smsru_api_key) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    path: config_dir.join("config.toml"),
                    message: "[sms] takes webhook_url or smsru_api_key, not both".into(),
                })
            }
            (Some(url), None) => format!("webhook:{url}"),
            (None, Some(key)) => format!("smsru:{key}"),
            (None, None) => "log".to_owned(),
        };
        let sms = crate::sms::SmsGateway::parse(&sms_choice, file.sms.secret.as_deref(), file.sms.smsru_url.as_deref())
            .map_err(|why| ConfigError::Invalid {
                path: config_dir.join("config.toml"),
                message: format!("[sms]: {why}"),
            })?;
        Ok(AgentConfig {
            sms,
            listen: overrides
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))),
            data_dir,
            config_dir,
            default_country: file.default_country.unwrap_or_else(|| "RU".to_owned()).to_uppercase(),
            card_prefix,
            allowed_hosts: file.allowed_hosts,
            allowed_origins: file.allowed_origins,
            token_override: overrides.token.filter(|t| !t.is_empty()),
            moysklad_key,
            signup_url,
            personal_data,
            per_user: overrides.data_dir.is_none(),
            http: ServeLimits::with_max_connections(MAX_CONNECTIONS)
                .from_env("LOYALTY_AGENT")
                .map_err(ConfigError::Environment)?,
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("agent.db")
    }

    pub fn program_path(&self) -> PathBuf {
        self.config_dir.join("program.toml")
    }

    pub fn token_path(&self) -> PathBuf {
        self.config_dir.join("token")
    }

    /// The token a client command (`token`, `sync`, …) sends to the running agent.
    ///
    /// In order: `LOYALTY_AGENT_TOKEN`; the token file in this configuration's folder; then,
    /// for a user without a token of their own (no `--data-dir`), the token of a system
    /// service install (`/var/lib/loyalty-agent/token` and its equivalents), which a cashier
    /// in the group `loyalty` may read. Only when none exists is a new one created, as the
    /// first `serve` in this folder would.
    pub fn client_token(&self) -> Result<AgentToken, ConfigError> {
        if let Some(token) = self.existing_client_token()? {
            return Ok(token);
        }
        let own = self.token_path();
        AgentToken::load_or_create(&own).map_err(|source| ConfigError::Read { path: own, source })
    }

    /// [`AgentConfig::client_token`] without creating one: for the tray, which must not leave
    /// a token file behind in a folder no agent serves from.
    pub fn existing_client_token(&self) -> Result<Option<AgentToken>, ConfigError> {
        if let Some(token) = &self.token_override {
            return Ok(Some(AgentToken::new(token.clone())));
        }
        let own = self.token_path();
        if own.exists() {
            return AgentToken::read(&own).map_err(|source| ConfigError::Read { path: own, source });
        }
        if self.per_user {
            if let Some(system) = crate::agent::service::system_data_dir().map(|dir| dir.join("token")) {
                match AgentToken::read(&system) {
                    Ok(token) => return Ok(token),
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        return Err(ConfigError::SystemTokenNotReadable { path: system })
                    }
                    Err(source) => return Err(ConfigError::Read { path: system, source }),
                }
            }
        }
        Ok(None)
    }
}

fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(source) => return Err(ConfigError::Read { path: path.to_owned(), source }),
    };
    toml::from_str(&text).map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: e.to_string() })
}

/// A commented example `config.toml`, printed by `loyalty-agent config example`.
pub const EXAMPLE_CONFIG: &str = r#"# loyalty-agent configuration. Every setting is optional.

# Address of the local API. Keep it on loopback unless a LAN relay must reach it.
# listen = "127.0.0.1:8719"

# Region for phone numbers typed without a country code.
# default_country = "RU"

# Digits every assigned card number starts with (then 8 digits and a Luhn check digit).
# card_prefix = "2700"

# Extra Host names accepted besides 127.0.0.1, localhost and [::1].
# allowed_hosts = ["till-3.local"]

# Browser origins allowed to call the API (none by default; never "*").
# allowed_origins = []

# A key MoySklad may send (Lognex-Discount-API-Auth-Token) to /moysklad/v1/ besides the
# agent token; at least 16 characters (use a long random key).
# moysklad_key = "…"

# The public sign-up page the receipt's sign-up QR code opens (GET /v1/signup-qr.svg):
# the code holds "<signup_url>/signup?store=<store>". Without it, the address of the cloud
# this till is enrolled with is used (loyalty-cloud serves that page).
# signup_url = "https://loyalty.example.com"

# Who processes the customers' personal data (152-ФЗ) and the privacy policy's address:
# the cashier page names them beside the consent on its enrolment form.
# personal_data_operator = "ООО «Ромашка», ИНН 7700000000"
# privacy_policy_url = "https://shop.example.com/privacy"

# Where this till sends SMS codes itself (its MoySklad adapter's verification codes). Without
# it, codes are logged, not sent. A webhook gets POST {"phone", "text", "id"} signed with
# `secret` (X-Loyalty-Signature: sha256=<HMAC of the body>); or use SMS.ru's API key.
# [sms]
# webhook_url = "https://sms.example.ru/send"
# secret = "…"
# smsru_api_key = "…"
"#;
