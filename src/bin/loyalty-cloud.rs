//! `loyalty-cloud`: the server the agents sync to. Thin: parse flags, set up logging, build
//! the configuration, call the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use loyalty::cloud::config::{CloudConfig, DEFAULT_PORT};
use loyalty::cloud::server;

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
        /// Folder for the SQLite database, the admin token file and logs.
        #[arg(long, env = "LOYALTY_CLOUD_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// `postgres://user@host:port/db` to use PostgreSQL instead of SQLite.
        #[arg(long, env = "LOYALTY_CLOUD_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Region for phone numbers written without a country code.
        #[arg(long, env = "LOYALTY_CLOUD_DEFAULT_COUNTRY", default_value = "RU")]
        default_country: String,
        /// Digits every card number the cloud assigns starts with.
        #[arg(long, env = "LOYALTY_CLOUD_CARD_PREFIX", default_value = "2799")]
        card_prefix: String,
    },
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
        Command::Serve { listen, data_dir, database_url, default_country, card_prefix } => {
            if card_prefix.len() > 12 || !card_prefix.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("--card-prefix must be up to 12 digits");
            }
            let data_dir = match data_dir.or_else(CloudConfig::default_data_dir) {
                Some(dir) => dir,
                None => anyhow::bail!("cannot find a home directory for the cloud's data; pass --data-dir"),
            };
            let config = CloudConfig {
                listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))),
                data_dir,
                database_url: database_url.filter(|url| !url.trim().is_empty()),
                admin_token: std::env::var("LOYALTY_CLOUD_ADMIN_TOKEN").ok(),
                default_country: default_country.to_uppercase(),
                card_prefix,
            };
            let prepared = server::prepare(&config).await?;
            let addr = prepared.listener.local_addr()?;
            // Scripts and tests read this line to learn the port (with --listen 127.0.0.1:0).
            println!("loyalty-cloud listening on http://{addr}");
            tracing::info!(%addr, database = config.database_kind(), data_dir = %config.data_dir.display(), "cloud started");
            server::run(prepared.listener, prepared.state, loyalty::agent::server::shutdown_signal()).await?;
            tracing::info!("cloud stopped");
            Ok(ExitCode::SUCCESS)
        }
    }
}
