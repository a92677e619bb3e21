//! The cloud side of the sync benchmark: a `loyalty-cloud` process on SQLite or on a fresh
//! PostgreSQL database, a throwaway PostgreSQL cluster when none is given (started the way
//! scripts/test.sh starts one), and a TCP proxy that cuts and restores the network between an
//! agent and its cloud.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{Client, Server};

const CLOUD: &str = env!("CARGO_BIN_EXE_loyalty-cloud");

/// The admin token every bench cloud is started with.
pub const ADMIN: &str = "bench-admin-0123456789abcdef0123456789abcdef0123456789abcdef0123";

pub enum Backend {
    Sqlite,
    /// A PostgreSQL server; each cloud gets a fresh database on it.
    Postgres {
        server: String,
    },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres { .. } => "PostgreSQL",
        }
    }
}

/// A running loyalty-cloud and what it stands on. Fields drop in order: the process first,
/// then its database and folder.
pub struct Cloud {
    pub server: Server,
    admin: Mutex<Client>,
    _database: Option<PgDatabase>,
    _temp: Option<tempfile::TempDir>,
}

impl Cloud {
    /// A cloud on `backend`, with its data folder in `dir` (a temporary one when `None`).
    pub fn start(backend: &Backend, dir: Option<PathBuf>) -> Cloud {
        Cloud::start_with_env(backend, dir, &[])
    }

    /// [`Cloud::start`] with more environment (the wallets' keys, say).
    pub fn start_with_env(backend: &Backend, dir: Option<PathBuf>, env: &[(&str, &str)]) -> Cloud {
        let (temp, dir) = match dir {
            Some(dir) => (None, dir),
            None => {
                let temp = tempfile::tempdir().expect("a temporary folder for the cloud");
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres { server } => Some(PgDatabase::create(server)),
        };
        let mut command = Command::new(CLOUD);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .env("LOYALTY_CLOUD_ADMIN_TOKEN", ADMIN)
            .env_remove("LOYALTY_CLOUD_DATABASE_URL")
            .env("LOYALTY_LOG", "warn")
            .envs(env.iter().copied());
        if let Some(database) = &database {
            command.arg("--database-url").arg(&database.url);
        }
        let server = Server::start(command, "loyalty-cloud listening on", Duration::from_secs(300));
        let admin = Mutex::new(Client::connect(server.addr, Some(ADMIN)));
        Cloud { server, admin, _database: database, _temp: temp }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The PostgreSQL database's URL (`None` on SQLite), for benches that seed it directly.
    #[allow(dead_code)]
    pub fn database_url(&self) -> Option<&str> {
        self._database.as_ref().map(|db| db.url.as_str())
    }

    /// An admin request that must answer `status`; returns the answer.
    pub fn admin(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let (got, answer) = self.admin.lock().expect("the admin client").call(method, path, body);
        assert_eq!(got, status, "{method} {path} must answer {status}: {answer}");
        answer
    }

    /// A request without the admin token (enrollment).
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>, status: u16) -> Value {
        let (got, answer) = Client::connect(self.server.addr, token).call(method, path, body);
        assert_eq!(got, status, "{method} {path} must answer {status}: {answer}");
        answer
    }

    /// Creates a till and returns `(till_id, enrollment_code)`.
    pub fn create_till(&self, name: &str) -> (String, String) {
        let till = self.admin("POST", "/v1/admin/tills", Some(&json!({ "store": "Bench street", "name": name })), 201);
        (
            till["till_id"].as_str().expect("a till id").to_owned(),
            till["enrollment_code"].as_str().expect("an enrollment code").to_owned(),
        )
    }
}

/// A fresh database on a PostgreSQL server, dropped with the handle.
pub struct PgDatabase {
    server: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create(server: &str) -> PgDatabase {
        let name = format!("loyalty_bench_{}", uuid::Uuid::new_v4().simple());
        let mut client = postgres::Client::connect(server, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the bench PostgreSQL server: {e}"));
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("CREATE DATABASE for the bench");
        // Replace the database part of the URL (after the last '/', before any '?').
        let (base, query) = match server.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (server, String::new()),
        };
        let host = base.rsplit_once('/').map(|(host, _)| host).unwrap_or(base);
        PgDatabase { server: server.to_owned(), url: format!("{host}/{name}{query}"), name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A PostgreSQL cluster this bench started (as scripts/test.sh does), stopped and removed when
/// dropped. Its folder is named `loyalty-bench-pg.*` so it is never mistaken for a test run's.
pub struct PgCluster {
    pub folder: tempfile::TempDir,
    pg_ctl: PathBuf,
    as_postgres: bool,
}

impl PgCluster {
    fn start() -> Result<(PgCluster, String), String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "no PostgreSQL binaries under /usr/lib/postgresql".to_owned())?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok().map(|v| (v, entry.path())))
            .max_by_key(|(version, _)| *version)
            .map(|(_, path)| path.join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())?;
        let folder = tempfile::Builder::new()
            .prefix("loyalty-bench-pg.")
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot make a folder for PostgreSQL: {e}"))?;
        // PostgreSQL refuses to run as root; as root the cluster belongs to `postgres`.
        let as_postgres = Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false);
        if as_postgres {
            run_quietly(Command::new("chown").arg("postgres:").arg(folder.path()))?;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port();
        let cluster = PgCluster { pg_ctl: bin.join("pg_ctl"), folder, as_postgres };
        let data = cluster.folder.path().join("db");
        run_quietly(cluster.command(&bin.join("initdb")).arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres"]))?;
        // Default settings (fsync on): the figures should be what a real server would give.
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", cluster.folder.path().display());
        run_quietly(
            cluster
                .command(&cluster.pg_ctl)
                .arg("-D")
                .arg(&data)
                .args(["-w", "-t", "60", "-l"])
                .arg(cluster.folder.path().join("log"))
                .args(["-o", &options, "start"]),
        )?;
        Ok((cluster, format!("postgres://postgres@127.0.0.1:{port}/postgres")))
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.folder.path().join("db");
        let _ = self
            .command(&self.pg_ctl)
            .arg("-D")
            .arg(&data)
            .args(["-m", "fast", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // The folder itself goes when `folder` drops.
    }
}

fn run_quietly(command: &mut Command) -> Result<(), String> {
    let what = format!("{command:?}");
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The PostgreSQL backend for a full run: the server named by `LOYALTY_BENCH_DATABASE_URL`, or
/// a cluster of our own, or none — with a note saying why.
pub fn postgres_backend() -> (Option<PgCluster>, Option<Backend>, Option<String>) {
    if let Ok(url) = std::env::var("LOYALTY_BENCH_DATABASE_URL") {
        if !url.trim().is_empty() {
            println!("PostgreSQL: the server in LOYALTY_BENCH_DATABASE_URL");
            return (None, Some(Backend::Postgres { server: url }), None);
        }
    }
    match PgCluster::start() {
        Ok((cluster, url)) => {
            println!("PostgreSQL: a throwaway cluster in {} ({url})", cluster.folder.path().display());
            (Some(cluster), Some(Backend::Postgres { server: url }), None)
        }
        Err(why) => (None, None, Some(format!("no PostgreSQL: set LOYALTY_BENCH_DATABASE_URL ({why})"))),
    }
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy that cuts and restores the network

/// Forwards connections to the cloud while open; while closed, drops every new connection at
/// once (to the agent, a network that is down) and has cut the ones that were open.
pub struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the proxy must bind a loopback port");
        let addr = listener.local_addr().expect("the proxy's address");
        let (open, stop) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicBool::new(false)));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (open2, stop2, live2) = (open.clone(), stop.clone(), live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if !open2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let pipes = (client.try_clone(), server.try_clone());
                let (Ok(client_in), Ok(server_in)) = pipes else { continue };
                if let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) {
                    live2.lock().expect("the proxy's connections").extend([a, b]);
                }
                std::thread::spawn(move || pipe(client_in, server));
                std::thread::spawn(move || pipe(server_in, client));
            }
        });
        Proxy { addr, open, stop, live }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
        if !open {
            for stream in self.live.lock().expect("the proxy's connections").drain(..) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.set_open(false);
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies one direction of a proxied connection until either side closes it.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}
