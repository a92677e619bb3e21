//! Test support for loyalty-cloud: the real binary started as a process on port 0, on a fresh
//! SQLite data directory or — when `LOYALTY_TEST_DATABASE_URL` names a PostgreSQL server — on
//! its own fresh PostgreSQL database (created with `CREATE DATABASE`, so tests run in
//! parallel, and dropped afterwards). Under CI (`CI` set) a missing PostgreSQL fails the
//! PostgreSQL variant of every test instead of skipping it.
//!
//! `cloud_test!(name, scenario)` makes two tests of one scenario: `name::sqlite` and
//! `name::postgres`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

/// The admin token every test cloud uses.
pub const ADMIN: &str = "test-admin-token-0123456789abcdef0123456789abcdef0123456789abcd";

/// Which database a scenario runs on.
#[derive(Clone)]
pub enum Backend {
    Sqlite,
    Postgres(Arc<PgDatabase>),
}

impl Backend {
    /// A fresh PostgreSQL database, or `None` when no server is configured (outside CI).
    pub fn postgres() -> Option<Backend> {
        match std::env::var("LOYALTY_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(Arc::new(PgDatabase::create(&url)))),
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "CI is set but LOYALTY_TEST_DATABASE_URL is not: the PostgreSQL tests cannot be skipped under CI"
                )
            }
            _ => {
                eprintln!("LOYALTY_TEST_DATABASE_URL is not set: skipping the PostgreSQL variant");
                None
            }
        }
    }

    /// A fresh PostgreSQL database whose locale is `C` (`LOWER` folds only ASCII there), or
    /// `None` as for [`Backend::postgres`].
    pub fn postgres_c_locale() -> Option<Backend> {
        match std::env::var("LOYALTY_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(Arc::new(PgDatabase::create_with(
                &url,
                " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
            )))),
            // Skipped, or failed under CI, as the other PostgreSQL variants are.
            _ => Backend::postgres(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }
}

/// A throwaway database on the test server, dropped when the last handle goes.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

/// Runs blocking PostgreSQL client work off the test's async runtime (the `postgres` client
/// brings its own runtime, which must not start inside another).
fn on_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(work).join().expect("the PostgreSQL helper thread")
}

impl PgDatabase {
    fn create(admin_url: &str) -> PgDatabase {
        PgDatabase::create_with(admin_url, "")
    }

    /// `CREATE DATABASE` with `options` after the name.
    fn create_with(admin_url: &str, options: &str) -> PgDatabase {
        let name = format!("loyalty_test_{}", uuid::Uuid::new_v4().simple());
        let (url, statement) = (admin_url.to_owned(), format!("CREATE DATABASE {name}{options}"));
        on_thread(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at LOYALTY_TEST_DATABASE_URL: {e}"));
            client.batch_execute(&statement).expect("CREATE DATABASE");
        });
        PgDatabase { admin_url: admin_url.to_owned(), url: with_database(admin_url, &name), name }
    }

    /// This database on the server `server_url` names (its address and parameters kept): the
    /// same cluster reached another way, such as over TLS.
    pub fn url_on(&self, server_url: &str) -> String {
        with_database(server_url, &self.name)
    }
}

/// `url` with its database part (after the last '/', before any '?') replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let server = base.rsplit_once('/').map(|(server, _)| server).unwrap_or(base);
    format!("{server}/{name}{query}")
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (url, statement) = (self.admin_url.clone(), format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        on_thread(move || {
            if let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) {
                let _ = client.batch_execute(&statement);
            }
        });
    }
}

/// Makes `name::sqlite` and `name::postgres` tests that run `scenario(backend)`.
#[macro_export]
macro_rules! cloud_test {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::cloud_support::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::cloud_support::Backend::postgres() {
                    super::$scenario(backend).await;
                }
            }
        }
    };
}

/// A signed-in back-office session, calling the admin API as the console does: the cookie,
/// and the CSRF header on changes.
pub struct Console {
    base: String,
    pub cookie: String,
    /// The whole `Set-Cookie` header the sign-in answered.
    pub set_cookie: String,
    pub csrf: String,
    pub user: Value,
    client: reqwest::Client,
}

impl Console {
    /// Sends a request with the session cookie; `csrf` adds the header.
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).header("cookie", &self.cookie);
        if csrf {
            request = request.header("x-csrf-token", &self.csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send_with(reqwest::Method::GET, path, None, false).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send_with(reqwest::Method::POST, path, Some(body), true).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send_with(reqwest::Method::PATCH, path, Some(body), true).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send_with(reqwest::Method::PUT, path, Some(body), true).await
    }
}

/// A running loyalty-cloud process.
pub struct Cloud {
    child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    pub backend: Backend,
    /// Extra environment variables of the process (kept for restarts and second processes).
    env: Vec<(String, String)>,
    /// The URL the process connects to its PostgreSQL database with, when not the backend's
    /// own (the same database over TLS).
    database_url: Option<String>,
    _temp: Option<Arc<tempfile::TempDir>>,
    client: reqwest::Client,
}

impl Cloud {
    pub async fn start(backend: Backend) -> Cloud {
        Cloud::start_with(backend, &[]).await
    }

    /// Starts with extra environment variables, e.g. a short webhook backoff.
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Cloud {
        let temp = Arc::new(tempfile::tempdir().expect("temp dir"));
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut cloud = Cloud::spawn(temp.path(), backend, env, None);
        cloud._temp = Some(temp);
        cloud
    }

    /// Starts on the backend's PostgreSQL database reached through `database_url` (e.g. the
    /// test cluster's TLS address, see [`PgDatabase::url_on`]).
    pub async fn start_on_url(backend: Backend, database_url: String) -> Cloud {
        let temp = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut cloud = Cloud::spawn(temp.path(), backend, Vec::new(), Some(database_url));
        cloud._temp = Some(temp);
        cloud
    }

    /// Another process on the same database (and data directory).
    pub fn second(&self) -> Cloud {
        let mut other = Cloud::spawn(&self.dir, self.backend.clone(), self.env.clone(), self.database_url.clone());
        other._temp = self._temp.clone();
        other
    }

    fn spawn(dir: &Path, backend: Backend, env: Vec<(String, String)>, database_url: Option<String>) -> Cloud {
        let mut command = Command::new(env!("CARGO_BIN_EXE_loyalty-cloud"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("LOYALTY_CLOUD_ADMIN_TOKEN", ADMIN)
            .env_remove("LOYALTY_CLOUD_DATABASE_URL")
            .env("LOYALTY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        command.envs(env.iter().map(|(k, v)| (k, v)));
        if let Backend::Postgres(db) = &backend {
            command.arg("--database-url").arg(database_url.as_deref().unwrap_or(&db.url));
        }
        let mut child = command.spawn().expect("start loyalty-cloud");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("loyalty-cloud listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from loyalty-cloud: {line:?}"))
            .to_owned();
        Cloud {
            child: Some(child),
            base,
            dir: dir.to_path_buf(),
            backend,
            env,
            database_url,
            _temp: None,
            client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The address the cloud listens on (for a proxy in front of it).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().expect("the cloud's address")
    }

    /// Kills the process (SIGKILL), keeping its data; `restart` brings it back.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same data (on a new port: see `addr`).
    pub fn restart(&mut self) {
        self.stop();
        let mut fresh =
            Cloud::spawn(&self.dir.clone(), self.backend.clone(), self.env.clone(), self.database_url.clone());
        self.base = fresh.base.clone();
        self.child = fresh.child.take();
    }

    /// Starts the process again on the same data with `env` in place of the extra environment
    /// it had (a restart with other flags).
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        self.env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.restart();
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, Some(ADMIN), None).await
    }
    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(ADMIN), Some(body)).await
    }
    pub async fn admin_patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(ADMIN), Some(body)).await
    }
    pub async fn admin_delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, Some(ADMIN), None).await
    }
    pub async fn admin_put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(ADMIN), Some(body)).await
    }

    /// Creates a till and returns `(till_id, enrollment_code)`.
    pub async fn create_till(&self, name: &str) -> (String, String) {
        let (status, body) = self.admin_post("/v1/admin/tills", json!({ "store": "Main street", "name": name })).await;
        assert_eq!(status, 201, "create till: {body}");
        (body["till_id"].as_str().unwrap().to_owned(), body["enrollment_code"].as_str().unwrap().to_owned())
    }

    /// A created and enrolled till.
    pub async fn till(&self, name: &str) -> Till {
        let (till_id, code) = self.create_till(name).await;
        let (status, body) = self.send(reqwest::Method::POST, "/v1/enroll", None, Some(json!({ "code": code }))).await;
        assert_eq!(status, 200, "enroll: {body}");
        assert_eq!(body["till_id"], till_id.as_str());
        Till { id: till_id, token: body["device_token"].as_str().unwrap().to_owned() }
    }

    pub async fn push(&self, till: &Till, events: Vec<Value>) -> (u16, Value) {
        self.send(reqwest::Method::POST, "/v1/sync/push", Some(&till.token), Some(json!({ "events": events }))).await
    }

    /// Pushes and asserts one outcome per event, in order.
    pub async fn push_expect(&self, till: &Till, events: Vec<Value>, outcomes: &[&str]) -> Value {
        let (status, body) = self.push(till, events).await;
        assert_eq!(status, 200, "push: {body}");
        let got: Vec<&str> =
            body["results"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(got, outcomes, "push answers: {body}");
        body
    }

    /// A sync call as an agent makes it, with `headers` (its version and outbox size): a pull
    /// of one change. Answers the status.
    pub async fn pull_with_headers(&self, token: &str, headers: &[(&str, &str)]) -> u16 {
        let mut request = self.client.get(self.url("/v1/sync/pull?limit=1&wait=0")).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("HTTP request").status().as_u16()
    }

    /// A push with `headers`, as an agent sends it; answers the push's body.
    pub async fn client_push_with_headers(&self, till: &Till, events: Vec<Value>, headers: &[(&str, &str)]) -> Value {
        let mut request =
            self.client.post(self.url("/v1/sync/push")).bearer_auth(&till.token).json(&json!({ "events": events }));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("HTTP request");
        assert_eq!(response.status().as_u16(), 200, "push");
        response.json().await.expect("a push answer")
    }

    /// The till `till_id` as the admin list of tills shows it.
    pub async fn till_view(&self, till_id: &str) -> Value {
        let (status, body) = self.admin_get("/v1/admin/tills?limit=1000").await;
        assert_eq!(status, 200, "{body}");
        body["tills"]
            .as_array()
            .expect("tills")
            .iter()
            .find(|t| t["till_id"] == till_id)
            .unwrap_or_else(|| panic!("till {till_id} is not listed: {body}"))
            .clone()
    }

    pub async fn pull(&self, till: &Till, cursor: Option<&str>, limit: i64, wait: u64) -> Value {
        let mut path = format!("/v1/sync/pull?limit={limit}&wait={wait}");
        if let Some(cursor) = cursor {
            path.push_str(&format!("&cursor={}", urlencode(cursor)));
        }
        let (status, body) = self.send(reqwest::Method::GET, &path, Some(&till.token), None).await;
        assert_eq!(status, 200, "pull: {body}");
        body
    }

    /// Creates a customer through the admin API and returns their JSON.
    pub async fn customer(&self, phone: &str) -> Value {
        let (status, body) = self.admin_post("/v1/admin/customers", json!({ "phone": phone, "name": "Test" })).await;
        assert_eq!(status, 201, "create customer {phone}: {body}");
        body
    }

    /// Like [`Cloud::customer`], owning its phone, for futures collected in a list.
    pub async fn customer_owned(&self, phone: String) -> Value {
        self.customer(&phone).await
    }

    pub async fn points(&self, customer_id: &str) -> Value {
        let (status, body) = self.admin_get(&format!("/v1/admin/customers/{customer_id}")).await;
        assert_eq!(status, 200, "read customer: {body}");
        body["points"].clone()
    }

    /// Runs a `loyalty-cloud` command (not `serve`) on this cloud's data directory and database,
    /// as an operator would beside the running server.
    pub async fn command(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_loyalty-cloud"));
        command.args(args).arg("--data-dir").arg(&self.dir).env_remove("LOYALTY_CLOUD_DATABASE_URL");
        command.env("LOYALTY_LOG", "warn");
        if let Backend::Postgres(db) = &self.backend {
            command.arg("--database-url").arg(&db.url);
        }
        tokio::task::spawn_blocking(move || command.output().expect("run loyalty-cloud"))
            .await
            .expect("the command's thread")
    }

    /// [`Cloud::command`] with `stdin` piped in (a password for `users add --password-stdin`).
    pub async fn command_with_stdin(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut command = Command::new(env!("CARGO_BIN_EXE_loyalty-cloud"));
        command.args(args).arg("--data-dir").arg(&self.dir).env_remove("LOYALTY_CLOUD_DATABASE_URL");
        command.env("LOYALTY_LOG", "warn");
        if let Backend::Postgres(db) = &self.backend {
            command.arg("--database-url").arg(&db.url);
        }
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let stdin = stdin.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("run loyalty-cloud");
            child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
            child.wait_with_output().expect("loyalty-cloud's output")
        })
        .await
        .expect("the command's thread")
    }

    /// Creates a back-office account with the CLI (`users add … --password-stdin`).
    pub async fn add_user(&self, email: &str, role: &str, stores: &[&str], password: &str) {
        let mut args = vec!["users", "add", email, "--role", role, "--password-stdin"];
        for store in stores {
            args.extend(["--store", store]);
        }
        let output = self.command_with_stdin(&args, &format!("{password}\n")).await;
        assert!(
            output.status.success(),
            "users add {email}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Signs in to the back office; the session's cookie and CSRF value, or the refusal.
    pub async fn sign_in(&self, email: &str, password: &str, totp: Option<&str>) -> Result<Console, (u16, Value)> {
        let mut body = json!({ "email": email, "password": password });
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        let response = self.client.post(self.url("/admin/login")).json(&body).send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status != 200 {
            return Err((status, body));
        }
        let set_cookie = cookie.expect("a session cookie");
        let value = set_cookie.split(';').next().expect("cookie pair").to_owned();
        Ok(Console {
            base: self.base.clone(),
            cookie: value,
            set_cookie,
            csrf: body["csrf"].as_str().expect("csrf").to_owned(),
            user: body["user"].clone(),
            client: self.client.clone(),
        })
    }

    /// Runs one SQL statement on the cloud's database directly (to age a code, etc.).
    pub fn sql(&self, statement: &str) {
        match &self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.dir.join("cloud.sqlite3")).expect("open the cloud database");
                conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
                conn.execute_batch(statement).expect("run SQL");
            }
            Backend::Postgres(db) => {
                let (url, statement) = (db.url.clone(), statement.to_owned());
                on_thread(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
                    client.batch_execute(&statement).expect("run SQL");
                });
            }
        }
    }
}

impl Cloud {
    /// The first column of every row a query returns, as text (NULL as `None`).
    pub fn sql_texts(&self, query: &str) -> Vec<Option<String>> {
        match &self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.dir.join("cloud.sqlite3")).expect("open the cloud database");
                conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
                let mut statement = conn.prepare(query).expect("prepare");
                let rows = statement.query_map([], |row| row.get::<_, Option<String>>(0)).expect("query");
                rows.map(|row| row.expect("row")).collect()
            }
            Backend::Postgres(db) => {
                let (url, query) = (db.url.clone(), query.to_owned());
                on_thread(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
                    client
                        .query(&query, &[])
                        .expect("query")
                        .iter()
                        .map(|row| row.get::<_, Option<String>>(0))
                        .collect()
                })
            }
        }
    }

    /// Runs `statements` in a write transaction on a connection of its own, signals `taken`,
    /// and commits only when `commit` says so — a slow writer in another process.
    pub fn hold_transaction(
        &self,
        statements: &[&str],
        taken: std::sync::mpsc::Sender<()>,
        commit: std::sync::mpsc::Receiver<()>,
    ) -> std::thread::JoinHandle<()> {
        let statements: Vec<String> = statements.iter().map(|s| (*s).to_owned()).collect();
        let backend = self.backend.clone();
        let path = self.dir.join("cloud.sqlite3");
        std::thread::spawn(move || match backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(path).expect("open the cloud database");
                conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
                for statement in &statements {
                    conn.execute_batch(statement).expect("run SQL");
                }
                taken.send(()).expect("signal");
                commit.recv().expect("wait for the signal to commit");
                conn.execute_batch("COMMIT").expect("commit");
            }
            Backend::Postgres(db) => {
                let mut client = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
                client.batch_execute("BEGIN").expect("begin");
                for statement in &statements {
                    client.batch_execute(statement).expect("run SQL");
                }
                taken.send(()).expect("signal");
                commit.recv().expect("wait for the signal to commit");
                client.batch_execute("COMMIT").expect("commit");
            }
        })
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An enrolled till: its id and device token.
#[derive(Debug, Clone)]
pub struct Till {
    pub id: String,
    pub token: String,
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Events built by hand, per the contract in src/wire/sync.rs.

pub fn event(seq: i64, kind: &str, payload: Value) -> Value {
    json!({
        "seq": seq,
        "event_id": uuid::Uuid::new_v4().to_string(),
        "kind": kind,
        "created_at": "2026-01-01T10:00:00Z",
        "payload": payload,
    })
}

pub fn customer_created(seq: i64, customer_id: &str, phone: &str, card: &str) -> Value {
    event(
        seq,
        "customer_created",
        json!({ "customer_id": customer_id, "fields": [], "phone": phone, "name": "Till customer", "email": null,
                "card": card, "birthday": null, "tags": [], "consents": {} }),
    )
}

/// A one-line sale at 1 point = 1.00: `price` minor units, `redeem` points spent, `earn` earned.
pub fn sale(seq: i64, receipt_id: &str, customer_id: &str, price: i64, redeem: i64, earn: i64) -> Value {
    let discount = redeem * 100;
    let paid = price - discount;
    event(
        seq,
        "sale",
        json!({
            "receipt": {
                "id": receipt_id, "customer_id": customer_id, "program_version": 1, "tier": null,
                "subtotal": price, "discount": discount, "total": paid,
                "points": { "balance": 0, "available": 0, "max_redeem": redeem, "redeem": redeem, "earn": earn,
                            "balance_after": 0 },
                "lines": [{ "sku": "beans", "name": "Coffee beans", "category": null, "quantity": "1", "price": price,
                            "amount": price, "excluded": false, "promo_discount": 0, "points_discount": discount,
                            "discount": discount, "paid": paid, "earn": earn, "redeem_points": redeem }],
                "promo_codes": [], "limits": [], "committed_at": "2026-01-01T10:00:00Z"
            },
            "request": { "id": receipt_id, "customer": { "id": customer_id },
                         "lines": [{ "sku": "beans", "quantity": "1", "price": price }], "redeem": redeem }
        }),
    )
}

/// A full return of a one-line sale.
pub fn full_return(
    seq: i64,
    return_id: &str,
    receipt_id: &str,
    refund: i64,
    taken_back: i64,
    given_back: i64,
) -> Value {
    event(
        seq,
        "return",
        json!({
            "return": { "id": return_id, "receipt_id": receipt_id, "customer_id": null,
                        "lines": [{ "line": 0, "sku": "beans", "quantity": "1", "refund": refund,
                                    "points_taken_back": taken_back, "points_given_back": given_back }],
                        "refund": refund, "points_taken_back": taken_back, "points_given_back": given_back,
                        "balance_after": null, "created_at": "2026-01-01T11:00:00Z" },
            "request": { "id": return_id, "all": true }
        }),
    )
}

/// Asserts an error answer's status and code.
pub fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "expected {status} {code}, got {answer:?}");
    assert_eq!(answer.1["error"]["code"], code, "expected code {code}, got {}", answer.1);
}
