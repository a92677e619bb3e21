//! `loyalty-cloud`: the server the agents sync to. Thin: parse flags, set up logging, build
//! the configuration, call the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use loyalty::cloud::config::{CloudConfig, DEFAULT_PORT};
use loyalty::cloud::server;
use loyalty::http::serve::ServeLimits;

#[derive(Parser)]
#[command(
    name = "loyalty-cloud",
    version,
    about = "The loyalty cloud: authoritative ledger, admin API and sync API for the agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8720).
        #[arg(long, env = "LOYALTY_CLOUD_LISTEN")]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        storage: Storage,
        /// Milliseconds before a failed webhook delivery is tried again (doubling each time, up
        /// to an hour).
        #[arg(long, env = "LOYALTY_CLOUD_WEBHOOK_BACKOFF_MS", default_value_t = 5000)]
        webhook_backoff_ms: u64,
        /// Attempts before a webhook delivery is marked failed.
        #[arg(long, env = "LOYALTY_CLOUD_WEBHOOK_MAX_ATTEMPTS", default_value_t = 12,
              value_parser = clap::value_parser!(i64).range(1..=100))]
        webhook_max_attempts: i64,
        /// Allow webhook receivers on loopback, private or link-local addresses (a receiver on
        /// your own network); without it such webhooks are refused at creation and delivery.
        #[arg(long, env = "LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS", value_parser = clap::builder::BoolishValueParser::new(),
              action = clap::ArgAction::SetTrue)]
        allow_private_webhooks: bool,
        /// Sign-ups the public form accepts per minute in total (besides 5 per client address
        /// and 3 per phone per hour).
        #[arg(long, env = "LOYALTY_CLOUD_SIGNUP_PER_MINUTE", default_value_t = 300)]
        signup_per_minute: u32,
        /// Read the client's address from the last X-Forwarded-For entry (only behind your
        /// own load balancer, which sets it).
        #[arg(long, env = "LOYALTY_CLOUD_TRUST_FORWARDED_FOR", value_parser = clap::builder::BoolishValueParser::new(),
              action = clap::ArgAction::SetTrue)]
        trust_forwarded_for: bool,
        /// A website origin (https://shop.example.com) whose pages may call the sign-up form;
        /// repeat the flag, or separate with commas in the variable.
        #[arg(long = "signup-origin", env = "LOYALTY_CLOUD_SIGNUP_ORIGINS", value_delimiter = ',')]
        signup_origins: Vec<String>,
        /// Who processes the customers' personal data (152-ФЗ), shown beside the consent on
        /// the sign-up page: `ООО «Ромашка», ИНН 7700000000`.
        #[arg(long, env = "LOYALTY_CLOUD_PERSONAL_DATA_OPERATOR")]
        personal_data_operator: Option<String>,
        /// The privacy policy's address, linked from the sign-up page's consent.
        #[arg(long, env = "LOYALTY_CLOUD_PRIVACY_POLICY_URL")]
        privacy_policy_url: Option<String>,
        /// The address people reach this cloud at (https://loyalty.example.com); with https
        /// the back office's session cookie is sent over https only.
        #[arg(long, env = "LOYALTY_CLOUD_PUBLIC_URL")]
        public_url: Option<String>,
        /// Where SMS codes go: `log` (development: logged, not sent), `webhook:https://…` (a
        /// POST of {"phone", "text", "id"}, signed with --sms-secret like the webhooks) or
        /// `smsru:API_KEY` (SMS.ru).
        #[arg(long, env = "LOYALTY_CLOUD_SMS", default_value = "log")]
        sms: String,
        /// The key that signs the SMS webhook's requests (X-Loyalty-Signature).
        #[arg(long, env = "LOYALTY_CLOUD_SMS_SECRET", hide_env_values = true)]
        sms_secret: Option<String>,
        /// SMS.ru's address (a stand-in for tests, or a proxy).
        #[arg(long, env = "LOYALTY_CLOUD_SMSRU_URL")]
        smsru_url: Option<String>,
        /// Days before points expire that webhooks hear `points_expiring` (0 = never).
        #[arg(long, env = "LOYALTY_CLOUD_EXPIRY_NOTICE_DAYS", default_value_t = 7,
              value_parser = clap::value_parser!(i64).range(0..=365))]
        expiry_notice_days: i64,
        /// Seconds the self-service page's signed QR code stays valid (it is renewed every
        /// minute while the page is open).
        #[arg(long = "qr-lifetime", env = "LOYALTY_CLOUD_QR_LIFETIME", default_value_t = 300,
              value_parser = clap::value_parser!(i64).range(1..=86_400))]
        qr_lifetime: i64,
        /// Milliseconds a client has to send a request's headers before its
        /// connection is closed.
        #[arg(long, env = "LOYALTY_CLOUD_HEADER_TIMEOUT_MS", default_value_t = 10_000,
              value_parser = clap::value_parser!(u64).range(1..))]
        header_timeout_ms: u64,
        /// Milliseconds an idle keep-alive connection stays open (at most the header timeout).
        #[arg(long, env = "LOYALTY_CLOUD_IDLE_TIMEOUT_MS", default_value_t = 5_000,
              value_parser = clap::value_parser!(u64).range(1..))]
        idle_timeout_ms: u64,
        /// Connections served at once; more are answered 503 server_busy (the open file limit
        /// is raised for them where the system allows).
        #[arg(long, env = "LOYALTY_CLOUD_MAX_CONNECTIONS", default_value_t = loyalty::cloud::config::MAX_CONNECTIONS)]
        max_connections: usize,
        #[command(flatten)]
        wallet: Box<WalletArgs>,
    },
    /// Manage the customer directory.
    Customers {
        #[command(subcommand)]
        command: CustomersCommand,
    },
    /// Manage back-office accounts (the first owner is created here).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

/// Apple Wallet and Google Wallet cards (README "Wallet cards"). A PEM or JSON value is the
/// text itself or the path of a file holding it.
#[derive(clap::Args)]
struct WalletArgs {
    /// The name on the cards (organisation, program).
    #[arg(long, env = "LOYALTY_CLOUD_WALLET_ORGANIZATION")]
    wallet_organization: Option<String>,
    /// A card template folder: card.toml (colours, fields), icon.png, logo.png, …
    #[arg(long, env = "LOYALTY_CLOUD_WALLET_TEMPLATE")]
    wallet_template: Option<PathBuf>,
    /// The Pass Type ID certificate (PEM).
    #[arg(long, env = "LOYALTY_CLOUD_APPLE_PASS_CERT", hide_env_values = true)]
    apple_pass_cert: Option<String>,
    /// The Pass Type ID certificate's private key (PEM).
    #[arg(long, env = "LOYALTY_CLOUD_APPLE_PASS_KEY", hide_env_values = true)]
    apple_pass_key: Option<String>,
    /// Apple's WWDR intermediate certificate (PEM).
    #[arg(long, env = "LOYALTY_CLOUD_APPLE_WWDR_CERT", hide_env_values = true)]
    apple_wwdr_cert: Option<String>,
    /// The pass type id (pass.com.example.loyalty).
    #[arg(long, env = "LOYALTY_CLOUD_APPLE_PASS_TYPE_ID")]
    apple_pass_type_id: Option<String>,
    /// The Apple developer team id (10 characters).
    #[arg(long, env = "LOYALTY_CLOUD_APPLE_TEAM_ID")]
    apple_team_id: Option<String>,
    /// APNs token auth: the .p8 key (PEM); without it the pass certificate signs in to APNs.
    #[arg(long, env = "LOYALTY_CLOUD_APNS_KEY", hide_env_values = true)]
    apns_key: Option<String>,
    /// The .p8 key's id.
    #[arg(long, env = "LOYALTY_CLOUD_APNS_KEY_ID")]
    apns_key_id: Option<String>,
    /// APNs' address (a stand-in for tests, or a proxy).
    #[arg(long, env = "LOYALTY_CLOUD_APNS_URL")]
    apns_url: Option<String>,
    /// An extra root certificate (PEM) to trust for --apns-url.
    #[arg(long, env = "LOYALTY_CLOUD_APNS_CA")]
    apns_ca: Option<String>,
    /// The Google Wallet issuer id.
    #[arg(long, env = "LOYALTY_CLOUD_GOOGLE_WALLET_ISSUER_ID")]
    google_wallet_issuer_id: Option<String>,
    /// The Google service account's key (JSON).
    #[arg(long, env = "LOYALTY_CLOUD_GOOGLE_WALLET_KEY", hide_env_values = true)]
    google_wallet_key: Option<String>,
    /// Google Wallet's API address (a stand-in for tests).
    #[arg(long, env = "LOYALTY_CLOUD_GOOGLE_WALLET_URL")]
    google_wallet_url: Option<String>,
    /// A public https address of the program's logo, for Google's card.
    #[arg(long, env = "LOYALTY_CLOUD_GOOGLE_WALLET_LOGO_URL")]
    google_wallet_logo_url: Option<String>,
    /// The Google card's colour (#rrggbb).
    #[arg(long, env = "LOYALTY_CLOUD_GOOGLE_WALLET_COLOR")]
    google_wallet_color: Option<String>,
}

impl WalletArgs {
    fn options(self) -> loyalty::cloud::wallet::WalletOptions {
        let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        loyalty::cloud::wallet::WalletOptions {
            organization: given(self.wallet_organization),
            template_dir: self.wallet_template,
            apple_pass_cert: given(self.apple_pass_cert),
            apple_pass_key: given(self.apple_pass_key),
            apple_wwdr_cert: given(self.apple_wwdr_cert),
            apple_pass_type_id: given(self.apple_pass_type_id),
            apple_team_id: given(self.apple_team_id),
            apns_key: given(self.apns_key),
            apns_key_id: given(self.apns_key_id),
            apns_url: given(self.apns_url),
            apns_ca: given(self.apns_ca),
            google_issuer_id: given(self.google_wallet_issuer_id),
            google_key: given(self.google_wallet_key),
            google_url: given(self.google_wallet_url),
            google_logo_url: given(self.google_wallet_logo_url),
            google_color: given(self.google_wallet_color),
        }
    }
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an account; the password is asked for (or read with --password-stdin).
    Add {
        email: String,
        /// owner (everything), manager (customers, tills, receipts and conflicts of their
        /// stores) or analyst (dashboards and reports, read-only).
        #[arg(long)]
        role: String,
        /// A manager's store, as the tills name it; repeat for several.
        #[arg(long = "store")]
        stores: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        storage: Storage,
    },
    /// List the accounts.
    List {
        #[command(flatten)]
        storage: Storage,
    },
    /// Disable an account and end its sessions.
    Disable {
        email: String,
        #[command(flatten)]
        storage: Storage,
    },
    /// Enable a disabled account again.
    Enable {
        email: String,
        #[command(flatten)]
        storage: Storage,
    },
    /// Set a new password (the account is unlocked and its sessions end).
    ResetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
        /// Also turn the account's second factor off (a lost phone).
        #[arg(long)]
        no_totp: bool,
        #[command(flatten)]
        storage: Storage,
    },
}

#[derive(Subcommand)]
enum CustomersCommand {
    /// Import customers from a CSV file with columns phone, name, email, card, points (a header
    /// row names them, in any order). Bad rows are reported by line number; good ones are
    /// imported and reach every till through the feed.
    Import {
        file: PathBuf,
        #[command(flatten)]
        storage: Storage,
    },
}

/// Where the data is and how identifiers are read: the same for every command.
#[derive(clap::Args)]
struct Storage {
    /// Folder for the SQLite database, the admin token file and logs.
    #[arg(long, env = "LOYALTY_CLOUD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `postgres://user@host:port/db` to use PostgreSQL instead of SQLite; add
    /// `?sslmode=verify-full&sslrootcert=CA.pem` for TLS (also `require`, `verify-ca`,
    /// `prefer`, `disable`).
    #[arg(long, env = "LOYALTY_CLOUD_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Region for phone numbers written without a country code.
    #[arg(long, env = "LOYALTY_CLOUD_DEFAULT_COUNTRY", default_value = "RU")]
    default_country: String,
    /// Digits every card number the cloud assigns starts with.
    #[arg(long, env = "LOYALTY_CLOUD_CARD_PREFIX", default_value = "2799")]
    card_prefix: String,
}

impl Storage {
    /// The configuration these flags describe, listening on `listen`.
    fn config(self, listen: Option<SocketAddr>) -> anyhow::Result<CloudConfig> {
        if self.card_prefix.len() > 12 || !self.card_prefix.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("--card-prefix must be up to 12 digits");
        }
        let data_dir = match self.data_dir.or_else(CloudConfig::default_data_dir) {
            Some(dir) => dir,
            None => anyhow::bail!("cannot find a home directory for the cloud's data; pass --data-dir"),
        };
        Ok(CloudConfig {
            listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))),
            data_dir,
            database_url: self.database_url.filter(|url| !url.trim().is_empty()),
            admin_token: std::env::var("LOYALTY_CLOUD_ADMIN_TOKEN").ok(),
            default_country: self.default_country.to_uppercase(),
            card_prefix: self.card_prefix,
            webhooks: Default::default(),
            signup_per_minute: 300,
            trust_forwarded_for: false,
            signup_origins: Vec::new(),
            personal_data: Default::default(),
            http: ServeLimits::with_max_connections(loyalty::cloud::config::MAX_CONNECTIONS),
            public_url: None,
            sms: loyalty::sms::SmsGateway::Log,
            expiry_notice_days: 7,
            qr_lifetime_s: loyalty::verification::signed_qr::DEFAULT_LIFETIME_SECONDS,
            wallet: Default::default(),
        })
    }
}

/// Exit codes a service manager or script can act on.
mod exit {
    pub const CONFIG: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOYALTY_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            storage,
            webhook_backoff_ms,
            webhook_max_attempts,
            allow_private_webhooks,
            signup_per_minute,
            trust_forwarded_for,
            signup_origins,
            personal_data_operator,
            privacy_policy_url,
            public_url,
            sms,
            sms_secret,
            smsru_url,
            expiry_notice_days,
            qr_lifetime,
            header_timeout_ms,
            idle_timeout_ms,
            max_connections,
            wallet,
        } => {
            let mut config = storage.config(listen)?;
            config.signup_per_minute = signup_per_minute.max(1);
            config.trust_forwarded_for = trust_forwarded_for;
            config.signup_origins = signup_origins.into_iter().filter(|o| !o.trim().is_empty()).collect();
            config.personal_data = loyalty::identity::personal_data_notice(
                personal_data_operator.as_deref(),
                privacy_policy_url.as_deref(),
            )
            .map_err(|why| anyhow::anyhow!("--personal-data-operator / --privacy-policy-url: {why}"))?;
            config.public_url = match public_url.map(|url| url.trim().trim_end_matches('/').to_owned()) {
                Some(url) if url.starts_with("https://") || url.starts_with("http://") => Some(url),
                Some(url) if url.is_empty() => None,
                Some(url) => anyhow::bail!("--public-url must start with https:// or http://, not {url:?}"),
                None => None,
            };
            config.sms = loyalty::sms::SmsGateway::parse(&sms, sms_secret.as_deref(), smsru_url.as_deref())
                .map_err(|why| anyhow::anyhow!("--sms: {why}"))?;
            config.expiry_notice_days = expiry_notice_days;
            config.qr_lifetime_s = qr_lifetime;
            config.wallet = wallet.options();
            config.webhooks.backoff = std::time::Duration::from_millis(webhook_backoff_ms.max(1));
            config.webhooks.max_attempts = webhook_max_attempts;
            config.webhooks.allow_private = allow_private_webhooks;
            if allow_private_webhooks {
                tracing::info!(
                    "webhooks may send to loopback, private and link-local addresses (--allow-private-webhooks)"
                );
            }
            config.http = ServeLimits {
                header_read_timeout: std::time::Duration::from_millis(header_timeout_ms),
                idle_timeout: std::time::Duration::from_millis(idle_timeout_ms),
                max_connections,
            };
            let prepared = server::prepare(&config).await?;
            let addr = prepared.listener.local_addr()?;
            // Scripts and tests read this line to learn the port (with --listen 127.0.0.1:0).
            println!("loyalty-cloud listening on http://{addr}");
            tracing::info!(%addr, database = config.database_kind(), data_dir = %config.data_dir.display(), "cloud started");
            server::run(prepared.listener, prepared.state, prepared.limits, loyalty::agent::server::shutdown_signal())
                .await?;
            tracing::info!("cloud stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Users { command } => {
            use loyalty::cloud::users_cli::{self, PasswordSource};
            let source = |stdin: bool| if stdin { PasswordSource::Stdin } else { PasswordSource::Prompt };
            match command {
                UsersCommand::Add { email, role, stores, password_stdin, storage } => {
                    let store = server::open_store(&storage.config(None)?).await?;
                    users_cli::add(&store, &email, &role, stores, source(password_stdin)).await?;
                }
                UsersCommand::List { storage } => {
                    users_cli::list(&server::open_store(&storage.config(None)?).await?).await?
                }
                UsersCommand::Disable { email, storage } => {
                    users_cli::set_disabled(&server::open_store(&storage.config(None)?).await?, &email, true).await?
                }
                UsersCommand::Enable { email, storage } => {
                    users_cli::set_disabled(&server::open_store(&storage.config(None)?).await?, &email, false).await?
                }
                UsersCommand::ResetPassword { email, password_stdin, no_totp, storage } => {
                    let store = server::open_store(&storage.config(None)?).await?;
                    users_cli::reset_password(&store, &email, source(password_stdin), no_totp).await?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Customers { command: CustomersCommand::Import { file, storage } } => {
            let config = storage.config(None)?;
            let store = server::open_store(&config).await?;
            let started = std::time::Instant::now();
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let report = loyalty::cloud::import::import_csv(&store, &file, progress).await?;
            report.print(started.elapsed());
            Ok(ExitCode::SUCCESS)
        }
    }
}
