//! A small W3C WebDriver client for the cashier-page tests: Debian's `chromedriver` (package
//! `chromium-driver`) driving headless `chromium`, over plain HTTP with `reqwest`.
//!
//! Each [`Browser`] starts its own chromedriver on a free port, in its own process group, and
//! ends both the browser session and that group when dropped. At most two browsers run at once
//! (the test machines have two cores). Missing binaries skip the test with a reason, except
//! under CI (`CI` set), where they fail it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64_engine::decode_base64;
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// W3C's key for element references in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long waits for the page (elements, texts) last before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

static BROWSERS: Semaphore = Semaphore::const_new(2);

/// Whether the browser tests can run here. `None`: skip (printed reason). Panics under CI.
pub fn available() -> Option<()> {
    let missing: Vec<&str> = [CHROMEDRIVER, CHROMIUM].into_iter().filter(|path| !Path::new(path).exists()).collect();
    if missing.is_empty() {
        return Some(());
    }
    let reason = format!(
        "{} not found: install the Debian packages chromium and chromium-driver (`bash scripts/test.sh` does)",
        missing.join(" and ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("CI is set and the cashier-page browser tests cannot run: {reason}");
    }
    eprintln!("skipping a cashier-page browser test: {reason}");
    None
}

/// Where screenshots go: `target/screenshots/` (or under `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

/// A chromedriver process and one browser session in it.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    client: reqwest::Client,
    test: String,
    _permit: SemaphorePermit<'static>,
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium at 1366×768 whose language is `lang`
    /// (`en-US`, `ru-RU`). `test` names the screenshots.
    pub async fn start(test: &str, lang: &str) -> Browser {
        Browser::start_with(test, lang, &[]).await
    }

    /// Like [`Browser::start`], with extra Chromium flags (e.g. a fake camera's video file).
    pub async fn start_with(test: &str, lang: &str, extra_args: &[String]) -> Browser {
        let permit = BROWSERS.acquire().await.expect("the browser semaphore is never closed");
        let mut command = Command::new(CHROMEDRIVER);
        command.arg("--port=0").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        #[cfg(unix)]
        {
            // Its own process group, so dropping the browser can end chromedriver and every
            // Chromium process it started, and nothing else.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut driver = command.spawn().expect("start chromedriver");
        let port = read_port(&mut driver);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let language = lang.split('-').next().unwrap_or(lang).to_owned();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1366,768",
            // A camera without a camera: the permission prompt is answered yes, and the
            // device plays a test pattern (or the video file given in `extra_args`).
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
        ]
        .map(str::to_owned)
        .to_vec();
        args.push(format!("--lang={lang}"));
        args.extend(extra_args.iter().cloned());
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": { "intl.accept_languages": format!("{lang},{language}") },
            },
        }}});
        let mut browser =
            Browser { driver, port, session: String::new(), client, test: test.to_owned(), _permit: permit };
        let answer = browser.call(reqwest::Method::POST, "/session", Some(capabilities)).await;
        browser.session = answer["sessionId"].as_str().expect("a session id").to_owned();
        browser
            .command(reqwest::Method::POST, "/timeouts", json!({ "implicit": 0, "pageLoad": 30000, "script": 30000 }))
            .await;
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.client.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "WebDriver {method} {path}: {status} {value}");
        value["value"].clone()
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let body = if method == reqwest::Method::GET || method == reqwest::Method::DELETE { None } else { Some(body) };
        self.call(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", Value::Null).await.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its
    /// value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// The first element matching `css` that is displayed, waiting for it up to [`WAIT`].
    pub async fn find(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            let found = self
                .execute(
                    "const el = Array.from(document.querySelectorAll(arguments[0]))\
                       .find(e => e.offsetParent !== null || e.getClientRects().length > 0); return el || null;",
                    vec![json!(css)],
                )
                .await;
            if let Some(id) = found.get(ELEMENT).and_then(Value::as_str) {
                return Element(id.to_owned());
            }
            if started.elapsed() > WAIT {
                self.screenshot("timeout").await;
                panic!("no visible element matches {css:?} after {WAIT:?}; page text: {}", self.page_text().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element with this CSS selector, displayed or not (e.g. a visually hidden file input).
    pub async fn find_any(&self, css: &str) -> Element {
        let found =
            self.command(reqwest::Method::POST, "/element", json!({ "using": "css selector", "value": css })).await;
        Element(found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css:?}")).to_owned())
    }

    pub async fn click(&self, element: &Element) {
        self.command(reqwest::Method::POST, &format!("/element/{}/click", element.0), json!({})).await;
    }

    pub async fn click_css(&self, css: &str) {
        let element = self.find(css).await;
        self.click(&element).await;
    }

    /// Types `text` into the element. `\u{E007}` is Enter, `\u{E00C}` Escape.
    pub async fn send_keys(&self, element: &Element, text: &str) {
        self.command(reqwest::Method::POST, &format!("/element/{}/value", element.0), json!({ "text": text })).await;
    }

    pub async fn clear(&self, element: &Element) {
        self.command(reqwest::Method::POST, &format!("/element/{}/clear", element.0), json!({})).await;
    }

    /// Types into whatever has the focus (keyboard-first flows).
    pub async fn type_keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({ "type": "keyDown", "value": c.to_string() }),
                    json!({ "type": "keyUp", "value": c.to_string() }),
                ]
            })
            .collect();
        self.command(
            reqwest::Method::POST,
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
    }

    /// The element's rendered text, with no-break spaces as plain spaces (WebDriver's own text
    /// command does that, `innerText` does not: both are made to agree).
    pub async fn text(&self, element: &Element) -> String {
        let text = self.command(reqwest::Method::GET, &format!("/element/{}/text", element.0), Value::Null).await;
        plain(text.as_str().unwrap_or_default())
    }

    pub async fn text_of(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.text(&element).await
    }

    pub async fn page_text(&self) -> String {
        self.execute("return document.body.innerText;", vec![]).await.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the text of the first visible `css` element satisfies `check`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self
                .execute(
                    "const el = Array.from(document.querySelectorAll(arguments[0]))\
                       .find(e => e.offsetParent !== null || e.getClientRects().length > 0);\
                     return el ? el.innerText : null;",
                    vec![json!(css)],
                )
                .await;
            if let Some(text) = text.as_str().map(plain) {
                if check(&text) {
                    return text;
                }
            }
            if started.elapsed() > WAIT {
                self.screenshot("timeout").await;
                panic!(
                    "{css:?} never showed {what} in {WAIT:?}; it shows {text}; page text: {}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` (a function body) returns something truthy; returns it.
    pub async fn wait_until(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.execute(script, vec![]).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value.as_str() != Some("")
                && value.as_i64() != Some(0);
            if truthy {
                return value;
            }
            if started.elapsed() > WAIT {
                self.screenshot("timeout").await;
                panic!("timed out after {WAIT:?} waiting for {what}; page text: {}", self.page_text().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The browser's cookies, as WebDriver reports them (`name`, `value`, `httpOnly`, `sameSite`…).
    pub async fn cookies(&self) -> Vec<Value> {
        self.command(reqwest::Method::GET, "/cookie", Value::Null).await.as_array().cloned().unwrap_or_default()
    }

    pub async fn delete_cookie(&self, name: &str) {
        self.command(reqwest::Method::DELETE, &format!("/cookie/{name}"), Value::Null).await;
    }

    /// Names the screenshots from now on `<test>-<screen>.png`: one browser serving several
    /// walks (the PostgreSQL run of the console's) keeps each walk's pictures apart.
    /// Makes the page a phone's screen, `width`×`height` CSS pixels, touch and mobile
    /// viewport included (headless Chromium keeps windows at least 500 pixels wide, so a
    /// window size alone cannot).
    pub async fn emulate_phone(&self, width: u32, height: u32) {
        let params = json!({ "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true });
        self.command(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params }),
        )
        .await;
    }

    pub fn rename(&mut self, test: &str) {
        self.test = test.to_owned();
    }

    /// Saves a PNG of the window to `target/screenshots/<test>-<screen>.png`.
    pub async fn screenshot(&self, screen: &str) -> PathBuf {
        let encoded = self.command(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let bytes = decode_base64(encoded.as_str().unwrap_or_default()).expect("a base64 screenshot");
        assert_eq!(&bytes[..4], b"\x89PNG", "a PNG screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{}-{screen}.png", self.test));
        std::fs::write(&path, bytes).expect("write the screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session (Chromium quits), then chromedriver's whole process group. A raw
        // request, since Drop cannot await.
        if !self.session.is_empty() {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.session, self.port
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut sink = Vec::new();
                    let _ = stream.read_to_end(&mut sink);
                }
            }
        }
        #[cfg(unix)]
        {
            let group = format!("-{}", self.driver.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Text with no-break and narrow no-break spaces (money formatting) as plain spaces.
pub fn plain(text: &str) -> String {
    text.replace(['\u{a0}', '\u{202f}'], " ")
}

/// Reads "ChromeDriver was started successfully on port N." from chromedriver's output.
fn read_port(driver: &mut Child) -> u16 {
    let stdout = driver.stdout.take().expect("chromedriver stdout");
    let mut reader = BufReader::new(stdout);
    let mut seen = String::new();
    for _ in 0..20 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(rest) = line.split("on port ").nth(1) {
            if let Ok(port) = rest.trim().trim_end_matches('.').parse::<u16>() {
                if line.contains("started successfully") {
                    // Keep draining its output so chromedriver never blocks on a full pipe.
                    std::thread::spawn(move || {
                        let mut sink = String::new();
                        while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                            sink.clear();
                        }
                    });
                    return port;
                }
            }
        }
    }
    panic!("chromedriver did not say its port: {seen}");
}

/// Standard base64 (RFC 4648) decoding for screenshots, without another dependency.
mod base64_engine {
    pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() * 3 / 4);
        let mut buffer = 0u32;
        let mut bits = 0;
        for byte in text.bytes() {
            let value = match byte {
                b'A'..=b'Z' => byte - b'A',
                b'a'..=b'z' => byte - b'a' + 26,
                b'0'..=b'9' => byte - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' | b'\n' | b'\r' => continue,
                _ => return None,
            };
            buffer = (buffer << 6) | u32::from(value);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
                buffer &= (1 << bits) - 1;
            }
        }
        Some(out)
    }

    #[test]
    fn decodes() {
        assert_eq!(decode_base64("iVBORw==").unwrap(), b"\x89PNG");
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
    }
}
