//! `loyalty-agent`: the till-side daemon and its command line. Thin: parse flags, set up
//! logging, load the configuration, call the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use loyalty::agent::config::{AgentConfig, Overrides, EXAMPLE_CONFIG};
use loyalty::agent::program_file::EXAMPLE_PROGRAM;
use loyalty::agent::{doctor, enroll, import, open, server, status, store};
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
        /// Do not show a tray icon. `serve` never shows one (it is the headless service); the
        /// flag is accepted so service units can say so. The tray is `loyalty-agent tray`.
        #[arg(long)]
        no_tray: bool,
    },
    /// Show the agent's state as a tray icon in this desktop session (online, offline,
    /// operations waiting), with a menu: open the cashier page, sync now, status, quit.
    Tray {
        /// The agent's address (default 127.0.0.1:8719).
        #[arg(long, env = "LOYALTY_AGENT_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Check this till: the agent's port, the database, free disk, the cloud and the clock,
    /// the token files' permissions. Prints ✓ or ✗ and what to do; exits 1 if anything fails.
    Doctor {
        #[arg(long, env = "LOYALTY_AGENT_LISTEN")]
        listen: Option<SocketAddr>,
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
        /// Enroll again over this till's own database: after a restore from a backup, when the
        /// cloud stopped sync with `sequence_conflict`. Operations not sent yet are numbered
        /// after the cloud's; nothing is lost or counted twice.
        #[arg(long)]
        replace: bool,
        /// With --replace on a till the cloud has not refused: do it anyway.
        #[arg(long, requires = "replace")]
        yes: bool,
    },
    /// Ask the running agent to sync with the cloud now, and follow it (a progress bar while a
    /// queue drains) until everything committed here has reached the cloud.
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
    /// The Windows service (elsewhere systemd or launchd run `serve`).
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// What the Windows service manager starts: `serve` with the data in
    /// %ProgramData%\loyalty-agent, stopped by the service manager.
    Run,
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
    // The Windows service makes its own runtime on the thread the service manager calls it on,
    // so it must start before (and outside) the one below.
    if let Command::Service { command: ServiceCommand::Run } = cli.command {
        return run_service(cli.data_dir);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Tray { listen } = cli.command {
        let code = tray(cli.data_dir, listen, &runtime);
        // An action's browser opener may still be waiting; the tray does not wait for it.
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        return code;
    }
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

/// `loyalty-agent tray`. Outside `block_on`: the desktop's event loop must own the main
/// thread, and the tray's background work runs on `runtime` beside it.
fn tray(data_dir: Option<PathBuf>, listen: Option<SocketAddr>, runtime: &tokio::runtime::Runtime) -> ExitCode {
    init_logging(None);
    #[cfg(not(feature = "tray"))]
    {
        let _ = (data_dir, listen, runtime);
        eprintln!(
            "error: this build of loyalty-agent has no tray icon. Install a release package, or build with `cargo build --release --features tray` (on Linux it needs libgtk-3-dev and libayatana-appindicator3-dev). The agent itself runs without it."
        );
        ExitCode::from(exit::CONFIG)
    }
    #[cfg(feature = "tray")]
    {
        use loyalty::agent::tray;
        let token = std::env::var("LOYALTY_AGENT_TOKEN").ok();
        let config = match AgentConfig::load(Overrides { listen, data_dir, token }) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::CONFIG);
            }
        };
        match tray::run(tray::TrayOptions::from_config(&config), runtime.handle()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(windows)]
fn run_service(data_dir: Option<PathBuf>) -> ExitCode {
    let data_dir = data_dir.or_else(loyalty::agent::service::system_data_dir);
    let token = std::env::var("LOYALTY_AGENT_TOKEN").ok();
    let config = match AgentConfig::load(Overrides { listen: None, data_dir, token }) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let _log_guard = init_logging(Some(&config.data_dir.join("logs")));
    match loyalty::agent::service::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the Windows service failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(windows))]
fn run_service(_data_dir: Option<PathBuf>) -> ExitCode {
    eprintln!("{}", loyalty::agent::service::MANAGED_ELSEWHERE);
    ExitCode::from(exit::CONFIG)
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
            println!("{}", config.client_token()?.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll { cloud, code, replace, yes } => {
            let config = AgentConfig::load(overrides(None))?;
            let enrolment =
                if replace { enroll::Enrolment::Replace { confirmed: yes } } else { enroll::Enrolment::New };
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let report = enroll::enroll(&config, &cloud, &code, enrolment, progress).await?;
            println!(
                "enrolled as till {} of store {} at {}; {} changes pulled.",
                report.link.till_id, report.link.store, report.link.url, report.changes_pulled
            );
            if let Some(renumbered) = &report.renumbered {
                println!(
                    "Operations not sent yet: {} to send, numbered from {}; {} the cloud already had; {} it had refused.",
                    renumbered.renumbered,
                    renumbered.first_seq.map_or_else(|| "—".to_owned(), |seq| seq.to_string()),
                    renumbered.already_held,
                    renumbered.rejected
                );
            }
            println!("Restart the agent (e.g. `systemctl restart loyalty-agent`) to run it connected.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { listen } => {
            let config = AgentConfig::load(overrides(listen))?;
            let token = config.client_token()?;
            let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
            match status::follow_sync(&format!("http://{}", config.listen), token.as_str(), bar).await {
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
            let token = config.client_token()?;
            let url = match open::launch_url(&open::agent_base(config.listen), token.as_str()).await {
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
        Command::Doctor { listen } => {
            let config = AgentConfig::load(overrides(listen))?;
            let report = doctor::run(&config).await;
            for check in &report.checks {
                println!("{check}");
            }
            Ok(if report.all_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        // Handled in `main`, before the runtime is entered.
        Command::Tray { .. } => Ok(ExitCode::from(exit::CONFIG)),
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
                store: None,
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
        // Handled in `main`, before this runtime exists (the Windows service makes its own).
        Command::Service { .. } => Ok(ExitCode::from(exit::CONFIG)),
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
