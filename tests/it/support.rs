//! Test support: the real `loyalty-agent` binary started as a process on port 0 against a
//! temporary data directory, and a small HTTP client. Dropping an [`Agent`] kills it and
//! removes its directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The token every test agent uses.
pub const TOKEN: &str = "test-token-0123456789abcdef0123456789abcdef0123456789abcdef0123";

pub fn agent_binary() -> &'static str {
    env!("CARGO_BIN_EXE_loyalty-agent")
}

/// A running agent process.
pub struct Agent {
    child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    client: reqwest::Client,
}

impl Agent {
    /// Starts an agent with the default program.
    pub async fn start() -> Agent {
        Agent::start_with_program("").await
    }

    /// Starts an agent whose `program.toml` holds `program`.
    pub async fn start_with_program(program: &str) -> Agent {
        let temp = tempfile::tempdir().expect("temp dir");
        std::fs::write(temp.path().join("program.toml"), program).expect("program file");
        let dir = temp.path().to_path_buf();
        let mut agent = Agent::spawn_in(&dir, None);
        agent._temp = Some(temp);
        agent
    }

    /// Starts an agent with the default program and extra environment variables.
    pub async fn start_with_env(env: &[(&str, &str)]) -> Agent {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut agent = Agent::spawn_with_env(&dir, None, "127.0.0.1:0", env);
        agent._temp = Some(temp);
        agent
    }

    /// Starts an agent on an existing data directory (which the caller keeps alive), optionally
    /// through a wrapper command (e.g. `setpriv` to drop privileges).
    pub fn spawn_in(dir: &Path, wrapper: Option<&[&str]>) -> Agent {
        Agent::spawn_listening(dir, wrapper, "127.0.0.1:0")
    }

    /// Starts an agent on `listen` (e.g. the address of one that was stopped, so a client that
    /// knows only that address sees it come back).
    pub fn spawn_listening(dir: &Path, wrapper: Option<&[&str]>, listen: &str) -> Agent {
        Agent::spawn_with_env(dir, wrapper, listen, &[])
    }

    fn spawn_with_env(dir: &Path, wrapper: Option<&[&str]>, listen: &str, env: &[(&str, &str)]) -> Agent {
        let mut command = match wrapper {
            Some(wrapper) => {
                let mut command = Command::new(wrapper[0]);
                command.args(&wrapper[1..]).arg(agent_binary());
                command
            }
            None => Command::new(agent_binary()),
        };
        command
            .args(["serve", "--listen", listen, "--no-tray", "--data-dir"])
            .arg(dir)
            .env("LOYALTY_AGENT_TOKEN", TOKEN)
            .env("LOYALTY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("start loyalty-agent");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("loyalty-agent listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the agent: {line:?}"))
            .to_owned();
        Agent {
            child: Some(child),
            base,
            dir: dir.to_path_buf(),
            _temp: None,
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
        }
    }

    /// Kills the process with SIGKILL — no chance to flush anything — and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the agent and starts a new one on the same data directory.
    pub fn restart(&mut self) {
        self.kill9();
        let mut fresh = Agent::spawn_in(&self.dir.clone(), None);
        self.base = fresh.base.clone();
        self.child = fresh.child.take();
    }

    /// The `host:port` the agent listens on.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).bearer_auth(TOKEN).send().await.expect("GET");
        into_pair(response).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.client.post(self.url(path)).bearer_auth(TOKEN).json(&body).send().await.expect("POST");
        into_pair(response).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.client.patch(self.url(path)).bearer_auth(TOKEN).json(&body).send().await.expect("PATCH");
        into_pair(response).await
    }

    /// A POST with a raw body and content type, for bad-input tests.
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut request = self.client.post(self.url(path)).bearer_auth(TOKEN).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        into_pair(request.send().await.expect("POST")).await
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Enrolls a customer and returns their JSON.
    pub async fn enroll(&self, phone: &str, name: &str) -> Value {
        let (status, body) = self.post("/v1/customers", serde_json::json!({ "phone": phone, "name": name })).await;
        assert_eq!(status, 201, "enroll {phone}: {body}");
        body
    }

    /// Gives a customer `points` with a manual adjustment.
    pub async fn give_points(&self, customer_id: &str, points: i64) {
        let id = format!("adj-{}", uuid::Uuid::new_v4());
        let (status, body) = self
            .post(
                &format!("/v1/customers/{customer_id}/adjustments"),
                serde_json::json!({ "id": id, "points": points, "reason": "test" }),
            )
            .await;
        assert_eq!(status, 201, "adjust: {body}");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

async fn into_pair(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Asserts an error answer's status and code, and that it carries a sentence.
pub fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "expected {status} {code}, got {answer:?}");
    assert_eq!(answer.1["error"]["code"], code, "expected code {code}, got {}", answer.1);
    let message = answer.1["error"]["message"].as_str().unwrap_or("");
    assert!(message.len() > 10, "the error needs a sentence: {}", answer.1);
}
