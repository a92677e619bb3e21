//! `loyalty-agent`: the till-side daemon and its command line. Thin: parse flags, set up
//! logging, load the configuration, call the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use loyalty::agent::config::{AgentConfig, Overrides, EXAMPLE_CONFIG};
use loyalty::agent::program_file::EXAMPLE_PROGRAM;
use loyalty::agent::{enroll, import, open, server, status, store, token::AgentToken};
use tracing_subscriber::Layer;

#[derive(Parser)]
#[command(
    name = "loyalty-agent",
    version,
    about = "Till-side loyalty agent: customer lookup, points and receipts, offline"
)]
struct Cli {
    /// One folder for the database, configuration and token (default: the platform's folders).
    #[arg(long, global = true, env = "LOYALTY_AGENT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent (the local HTTP API).
    Serve {
        /// Address to listen on (default 127.0.0.1:8719).
        #[arg(long, env = "LOYALTY_AGENT_LISTEN")]
        listen: Option<SocketAddr>,
        /// Do not show a tray icon (accepted now; the tray arrives later).
        #[arg(long)]
        no_tray: bool,
    },
    /// Print the agent token that API clients send as "Authorization: Bearer <token>".
    Token,
    /// Join this till to a loyalty-cloud with a one-time code from its admin, and pull the
    /// cloud's customer directory.
    Enroll {
        /// The cloud's base address, e.g. https://loyalty.example.com
        #[arg(long)]
        cloud: String,
        /// The one-time enrollment code.
        #[arg(long)]
        code: String,
    },
    /// Ask the running agent to sync with the cloud now, and say how it went.
    Sync {
        #[arg(long, env = "LOYALTY_AGENT_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Open the cashier page in the browser, signed in with a one-time link (valid 60 s).
    Open {
        #[arg(long, env = "LOYALTY_AGENT_LISTEN")]
        listen: Option<SocketAddr>,
        /// Print the link instead of starting a browser.
        #[arg(long)]
        print: bool,
    },
    /// Ask the running agent how it is.
    Status {
        #[arg(long, env = "LOYALTY_AGENT_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Manage the local customer directory.
    Customers {
        #[command(subcommand)]
        command: CustomersCommand,
    },
    /// Print commented example configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum CustomersCommand {
    /// Import customers from a CSV file with columns phone, name, email, card, points.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// An example config.toml.
    Example,
    /// An example program.toml (the loyalty rules).
    Program,
}

/// Exit codes a service manager or script can act on.
mod exit {
    pub const CONFIG: u8 = 2;
    pub const UNHEALTHY: u8 = 3;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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

/// Logs go to stderr and, for `serve`, to a daily rolling file in the data directory (kept
/// for two weeks). `LOYALTY_LOG` sets the filter (default `info`).
fn init_logging(log_dir: Option<&std::path::Path>) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || tracing_subscriber::EnvFilter::try_from_env("LOYALTY_LOG").unwrap_or_else(|_| "info".into());
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter());
    let file = log_dir.and_then(|dir| {
        std::fs::create_dir_all(dir).ok()?;
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("agent")
            .filename_suffix("log")
            .max_log_files(14)
            .build(dir)
            .ok()
    });
    match file {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file_layer =
                tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer).with_filter(filter());
            tracing_subscriber::registry().with(stderr).with(file_layer).init();
            Some(guard)
        }
        None => {
            tracing_subscriber::registry().with(stderr).init();
            None
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if !matches!(cli.command, Command::Serve { .. }) {
        init_logging(None);
    }
    let token = std::env::var("LOYALTY_AGENT_TOKEN").ok();
    let overrides = |listen| Overrides { listen, data_dir: cli.data_dir.clone(), token: token.clone() };
    match cli.command {
        Command::Serve { listen, no_tray: _ } => {
            let config = AgentConfig::load(overrides(listen))?;
            let _log_guard = init_logging(Some(&config.data_dir.join("logs")));
            let prepared = server::prepare(&config).await?;
            let addr = prepared.listener.local_addr()?;
            // Scripts and tests read this line to learn the port (with --listen 127.0.0.1:0).
            println!("loyalty-agent listening on http://{addr}");
            tracing::info!(%addr, data_dir = %config.data_dir.display(), "agent started");
            server::run(prepared, server::shutdown_signal()).await?;
            tracing::info!("agent stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token => {
            let config = AgentConfig::load(overrides(None))?;
            let token = match config.token_override {
                Some(token) => token,
                None => AgentToken::load_or_create(&config.token_path())
                    .with_context(|| format!("reading {}", config.token_path().display()))?
                    .as_str()
                    .to_owned(),
            };
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll { cloud, code } => {
            let config = AgentConfig::load(overrides(None))?;
            let report =
                enroll::enroll(&config, &cloud, &code, std::io::IsTerminal::is_terminal(&std::io::stderr())).await?;
            println!(
                "enrolled as till {} of store {} at {}; {} changes pulled.",
                report.link.till_id, report.link.store, report.link.url, report.changes_pulled
            );
            println!("Restart the agent (e.g. `systemctl restart loyalty-agent`) to run it connected.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { listen } => {
            let config = AgentConfig::load(overrides(listen))?;
            let token = match config.token_override.clone() {
                Some(token) => token,
                None => AgentToken::load_or_create(&config.token_path())?.as_str().to_owned(),
            };
            match status::sync_now(&format!("http://{}", config.listen), &token).await {
                Ok(line) => {
                    println!("{line}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(message) => {
                    println!("{message}");
                    Ok(ExitCode::from(exit::UNHEALTHY))
                }
            }
        }
        Command::Open { listen, print } => {
            let config = AgentConfig::load(overrides(listen))?;
            let token = match config.token_override.clone() {
                Some(token) => token,
                None => AgentToken::load_or_create(&config.token_path())
                    .with_context(|| format!("reading {}", config.token_path().display()))?
                    .as_str()
                    .to_owned(),
            };
            let url = match open::launch_url(&open::agent_base(config.listen), &token).await {
                Ok(url) => url,
                Err(message) => {
                    eprintln!("{message}");
                    return Ok(ExitCode::from(exit::UNHEALTHY));
                }
            };
            if print {
                println!("{url}");
            } else if let Err(why) = open::open_in_browser(&url) {
                // The link is still good for a minute: say so and let the cashier paste it.
                eprintln!("{why}; open this link in a browser within 60 seconds:");
                println!("{url}");
            } else {
                eprintln!("The cashier page is opening in the browser.");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { listen } => {
            let config = AgentConfig::load(overrides(listen))?;
            let base = format!("http://{}", config.listen);
            match status::fetch_health(&base).await {
                Ok(health) => {
                    println!("{}", status::describe(&health));
                    Ok(if health.status == "ok" { ExitCode::SUCCESS } else { ExitCode::from(exit::UNHEALTHY) })
                }
                Err(message) => {
                    println!("{message}");
                    Ok(ExitCode::from(exit::UNHEALTHY))
                }
            }
        }
        Command::Customers { command: CustomersCommand::Import { file } } => {
            let config = AgentConfig::load(overrides(None))?;
            if loyalty::agent::cloud_link::CloudLink::load(&config.config_dir)?.is_some() {
                anyhow::bail!(
                    "this till is connected to a cloud: import the customers there (`loyalty-cloud customers import FILE.csv`), and they reach every till"
                );
            }
            let settings = store::StoreSettings {
                default_region: config.default_country.clone(),
                card_prefix: config.card_prefix.clone(),
                connected: false,
            };
            let store = store::Store::open(&config.database_path(), settings)?;
            let started = std::time::Instant::now();
            let report = import::import_csv(
                &store,
                &file,
                &config.default_country,
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
            )
            .await?;
            report.print(started.elapsed());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { command } => {
            print!(
                "{}",
                match command {
                    ConfigCommand::Example => EXAMPLE_CONFIG,
                    ConfigCommand::Program => EXAMPLE_PROGRAM,
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
