//! What the benchmarks share: a tiny blocking HTTP/1.1 keep-alive client, starting a server
//! binary on port 0 and learning its address from its first stdout line, the
//! `target/bench-data/` cache folder, `/proc` readings, percentiles and a deterministic RNG.
//!
//! The client is deliberately small: on the project's 2-core machine a heavier client (reqwest,
//! a tokio runtime) would compete with the servers for the CPU and its own overhead would show
//! in the figures. It speaks just enough HTTP/1.1 for our own servers: one request at a time on
//! one connection, `Content-Length` or chunked bodies.
//!
//! Each benchmark includes this file with `mod support;` and uses a different part of it, so
//! unused items are allowed here rather than flagged per benchmark.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// HTTP

/// One keep-alive connection to a server, sending `Authorization: Bearer <token>` when a token
/// is set. Reconnects by itself when the server closed the connection after an answer.
pub struct Client {
    addr: SocketAddr,
    host: String,
    token: Option<String>,
    conn: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    read_timeout: Duration,
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self, what: &str) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{what}: the answer is not JSON ({e}): {}", self.text()))
    }
}

impl Client {
    pub fn connect(addr: SocketAddr, token: Option<&str>) -> Client {
        Client {
            addr,
            host: addr.to_string(),
            token: token.map(str::to_owned),
            conn: None,
            request: Vec::with_capacity(8192),
            read_timeout: Duration::from_secs(60),
        }
    }

    /// How long to wait for an answer (60 s unless changed).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Client {
        self.read_timeout = timeout;
        self
    }

    fn stream(&mut self) -> std::io::Result<&mut BufReader<TcpStream>> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            // One write per request, and no Nagle delay waiting for an ACK.
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(self.read_timeout))?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, stream));
        }
        Ok(self.conn.as_mut().expect("the connection was just made"))
    }

    /// Sends a request and reads the answer; an I/O failure is an error, any HTTP status is not.
    pub fn try_request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<Reply> {
        self.request.clear();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(token) = &self.token {
            let _ = write!(head, "Authorization: Bearer {token}\r\n");
        }
        if let Some(body) = body {
            let _ = write!(head, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
        }
        head.push_str("\r\n");
        self.request.extend_from_slice(head.as_bytes());
        if let Some(body) = body {
            self.request.extend_from_slice(body);
        }
        let request = std::mem::take(&mut self.request);
        let send = |client: &mut Client| -> std::io::Result<(Reply, bool)> {
            let conn = client.stream()?;
            conn.get_mut().write_all(&request)?;
            read_reply(conn)
        };
        let reused = self.conn.is_some();
        let mut result = send(self);
        // A kept-alive connection the server closed while it sat idle (its idle timeout)
        // fails before any answer: what any HTTP client does is send again on a new one.
        if reused && result.as_ref().is_err_and(closed_unanswered) {
            self.conn = None;
            result = send(self);
        }
        self.request = request;
        match result {
            Ok((reply, keep)) => {
                if !keep {
                    self.conn = None;
                }
                Ok(reply)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }

    /// Like [`Client::try_request`], panicking when the server does not answer.
    pub fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: the server at {} did not answer properly: {e}", self.addr))
    }

    /// A JSON request and its JSON answer (a non-JSON answer becomes a JSON string).
    pub fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let bytes = body.map(|body| serde_json::to_vec(body).expect("a JSON value serialises"));
        let reply = self.request(method, path, bytes.as_deref());
        let value = serde_json::from_slice(&reply.body).unwrap_or_else(|_| Value::String(reply.text()));
        (reply.status, value)
    }
}

/// The connection was gone before the server said anything.
fn closed_unanswered(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof)
        || (e.kind() == InvalidData && e.to_string() == CLOSED_UNANSWERED)
}

const CLOSED_UNANSWERED: &str = "the connection closed before an answer";

fn read_reply(conn: &mut BufReader<TcpStream>) -> std::io::Result<(Reply, bool)> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(bad(CLOSED_UNANSWERED.into()));
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad(format!("not an HTTP status line: {line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep = true;
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(bad("the connection closed inside the headers".into()));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| bad(format!("bad Content-Length {value:?}")))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep = !value.eq_ignore_ascii_case("close");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let size_text = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16).map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            let start = body.len();
            body.resize(start + size, 0);
            conn.read_exact(&mut body[start..])?;
            line.clear();
            conn.read_line(&mut line)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        conn.read_exact(&mut body)?;
    } else {
        // No length: the body runs to the end of the connection.
        conn.read_to_end(&mut body)?;
        keep = false;
    }
    Ok((Reply { status, body }, keep))
}

pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Server processes

/// A server binary started with `--listen 127.0.0.1:0`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// From spawning to the listening line.
    pub startup: Duration,
    /// When the listening line was read.
    pub listening: Instant,
}

impl Server {
    /// `loyalty-agent serve` (the binary at `agent`) on a free port with `dir` as its data
    /// folder, `token` as its token and warnings-only logs.
    pub fn agent(agent: &str, dir: &Path, token: &str) -> Server {
        let mut command = Command::new(agent);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--no-tray", "--data-dir"])
            .arg(dir)
            .env("LOYALTY_AGENT_TOKEN", token)
            .env("LOYALTY_LOG", "warn");
        Server::start(command, "loyalty-agent listening on", Duration::from_secs(300))
    }

    /// Spawns `command` (stdout is taken over here) and waits for its first stdout line,
    /// `<banner> http://ADDR`, for up to `limit`.
    pub fn start(mut command: Command, banner: &str, limit: Duration) -> Server {
        let started = Instant::now();
        let what = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} must start: {e}"));
        let stdout = child.stdout.take().expect("the server's stdout is piped");
        // Read the listening line on a thread so a stuck server ends the bench with a message
        // instead of hanging it; the thread then drains stdout until the server exits.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(limit) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not say where it listens within {limit:?}");
            }
        };
        let startup = started.elapsed();
        let prefix = format!("{banner} http://");
        let addr = line.trim().strip_prefix(&prefix).and_then(|addr| addr.parse().ok()).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unexpected first line from {what} (its stderr is above): {line:?}")
        });
        Server { child, addr, startup, listening: Instant::now() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the server to stop (SIGTERM, so it shuts down cleanly and SQLite checkpoints its
    /// WAL) and waits up to `limit` before killing it. Used before a data folder is cached.
    pub fn stop(mut self, limit: Duration) {
        let asked = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        if asked.map(|status| status.success()).unwrap_or(false) {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Drop kills what is left.
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`); `None` where there is no /proc.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field) && line[field.len()..].starts_with(':'))?;
    line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// CPU time a process has used so far (user + system), in seconds; `None` where there is no
/// /proc or the process is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    static TICKS_PER_SECOND: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let ticks_per_second = *TICKS_PER_SECOND.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().ok())
            .unwrap_or(100)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; fields count from after it.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / ticks_per_second as f64)
}

// ---------------------------------------------------------------------------------------------
// The seeded-data cache

/// `target/bench-data/`: next to cargo's per-target temporary directory, so `cargo clean`
/// removes it and nothing else does.
pub fn bench_data_root() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("bench-data")
}

/// A directory removed (with everything in it) when dropped.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies the regular files directly in `from` whose names `keep` accepts into `to` (created
/// if missing); subdirectories such as logs are left behind.
pub fn copy_files(from: &Path, to: &Path, keep: impl Fn(&str) -> bool) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot list {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", from.display()));
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && keep(&entry.file_name().to_string_lossy()) {
            let target = to.join(entry.file_name());
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", entry.path().display()));
            // On disk before a server starts on it: otherwise the kernel writes hundreds of
            // megabytes back while the first requests are timed, and they measure that.
            std::fs::File::open(&target)
                .and_then(|file| file.sync_all())
                .unwrap_or_else(|e| panic!("cannot sync {}: {e}", target.display()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Figures

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn mib(kib: Option<u64>) -> String {
    kib.map(|kib| format!("{:.1} MiB", kib as f64 / 1024.0)).unwrap_or_else(|| "unavailable".into())
}

/// What a row of a report says, given whether the run judges budgets at all.
pub fn verdict(judge: bool, pass: Option<bool>) -> &'static str {
    match (judge, pass) {
        (_, None) => "",
        (false, Some(_)) => "(not judged)",
        (true, Some(true)) => "PASS",
        (true, Some(false)) => "FAIL",
    }
}

/// splitmix64: deterministic picks without depending on a particular `rand` API.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform enough in 0..n for picking customers (n is far below 2⁶⁴).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
