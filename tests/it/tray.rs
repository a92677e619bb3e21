//! `loyalty-agent tray` as a real process on a real (virtual) desktop: Xvfb and a D-Bus session
//! (`xvfb-run -a dbus-run-session -- loyalty-agent tray`), against a real agent. The tray's
//! log lines (`tray state: …`) say what its icon shows; the tests follow them while the agent
//! stops, comes back, and loses its cloud.
//!
//! Without xvfb-run or dbus-run-session the desktop tests skip with a reason, except under CI
//! (`CI` set), where they fail: CI installs both (scripts/test.sh).
#![cfg(feature = "tray")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cloud_support::{Backend, Cloud};
use crate::proxy::{Fault, FaultProxy};
use crate::support::{agent_binary, Agent, TOKEN};
use loyalty::agent::tray::icon;
use loyalty::agent::tray::state::Tone;

/// Whether the virtual desktop can be made here; `false` means skip (and panics under CI).
fn desktop_available(test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v xvfb-run && command -v dbus-run-session"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but xvfb-run or dbus-run-session is missing: the tray tests cannot be skipped under CI (install xvfb, xauth and dbus)"
        );
        eprintln!("{test}: skipped — xvfb-run or dbus-run-session is not installed (packages xvfb, xauth, dbus)");
    }
    found
}

/// Removes terminal colour codes, so lines can be matched whatever the log format's colours.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … final letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A tray under `xvfb-run -a dbus-run-session`, its stderr collected line by line.
struct TrayProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// The tray's own pid, from its "tray started pid=…" line: signals go to it, not to the
    /// xvfb-run script, which would leave the tray and Xvfb behind.
    pid: Option<u32>,
}

impl TrayProcess {
    fn start(agent_addr: &str) -> TrayProcess {
        TrayProcess::start_with_path(agent_addr, None)
    }

    /// `bin_first`: a folder put first on `PATH`, e.g. with a stand-in `xdg-open`.
    fn start_with_path(agent_addr: &str, bin_first: Option<&std::path::Path>) -> TrayProcess {
        let path = match bin_first {
            Some(dir) => format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default()),
            None => std::env::var("PATH").unwrap_or_default(),
        };
        let mut child = Command::new("xvfb-run")
            .args(["-a", "dbus-run-session", "--"])
            .arg(agent_binary())
            .args(["tray", "--listen", agent_addr])
            .env("LOYALTY_AGENT_TOKEN", TOKEN)
            .env("LOYALTY_LOG", "info")
            .env("NO_COLOR", "1")
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start xvfb-run");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(plain(&line));
            }
        });
        TrayProcess { child, lines, pid: None }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits for a line containing `needle` at index `from` or later; returns the index after it.
    async fn wait_line(&mut self, from: usize, needle: &str, limit: Duration) -> usize {
        let started = Instant::now();
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if self.pid.is_none() {
                    self.pid = lines
                        .iter()
                        .find_map(|l| l.split("tray started pid=").nth(1).and_then(|rest| rest.trim().parse().ok()));
                }
                if let Some(at) = lines.iter().skip(from).position(|l| l.contains(needle)) {
                    return from + at + 1;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader thread a moment to collect the last lines.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!("the tray exited ({status}) before saying {needle:?}:\n{}", self.output());
            }
            assert!(started.elapsed() < limit, "no {needle:?} from the tray within {limit:?}:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.pid.expect("the tray's pid (from its start line)");
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the tray") {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return status;
            }
            assert!(started.elapsed() < limit, "the tray did not exit within {limit:?}:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TrayProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // The tray first, so xvfb-run ends and takes Xvfb and the bus with it.
            if let Some(pid) = self.pid {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The tray as a desktop panel sees it: appindicator's StatusNotifierItem (its icon file) and
/// its `com.canonical.dbusmenu` menu, on the tray's own session bus, through `gdbus` (from
/// libglib2.0-bin, which GTK's development package brings).
struct Panel {
    address: String,
    name: String,
    item: String,
}

impl Panel {
    /// Finds the tray's item on its session bus (retrying while the tray starts).
    async fn find(tray_pid: u32) -> Panel {
        let started = Instant::now();
        loop {
            if let Some(panel) = Panel::try_find(tray_pid) {
                return panel;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no tray item on the session bus of {tray_pid}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn try_find(tray_pid: u32) -> Option<Panel> {
        let environ = std::fs::read(format!("/proc/{tray_pid}/environ")).ok()?;
        let address = environ
            .split(|b| *b == 0)
            .filter_map(|entry| std::str::from_utf8(entry).ok())
            .find_map(|entry| entry.strip_prefix("DBUS_SESSION_BUS_ADDRESS="))?
            .to_owned();
        let names =
            gdbus(&address, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames", &[])?;
        for name in names.split('\'').filter(|n| n.starts_with(':')) {
            // Names come and go (each gdbus call is one); only the tray's own matter.
            let pid = gdbus(
                &address,
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
                &[name],
            );
            if !pid.is_some_and(|pid| pid.contains(&format!("uint32 {tray_pid},"))) {
                continue;
            }
            // The process has other connections (accessibility) that never answer: ask briefly.
            let Some(xml) = gdbus_within(
                1,
                &address,
                name,
                "/org/ayatana/NotificationItem",
                "org.freedesktop.DBus.Introspectable.Introspect",
                &[],
            ) else {
                continue;
            };
            if let Some(child) = xml.split("node name=\"").nth(1).and_then(|rest| rest.split('"').next()) {
                let item = format!("/org/ayatana/NotificationItem/{child}");
                return Some(Panel { address, name: name.to_owned(), item });
            }
        }
        None
    }

    /// The menu's labels as dbusmenu serves them (the whole tree, as GVariant text).
    fn menu(&self) -> String {
        let path = format!("{}/Menu", self.item);
        gdbus(&self.address, &self.name, &path, "com.canonical.dbusmenu.GetLayout", &["0", "-1", "['label']"])
            .unwrap_or_default()
    }

    /// Clicks the menu item labelled `label`, as a panel does when the cashier picks it.
    fn click(&self, label: &str) {
        let menu = self.menu();
        let marker = format!(", {{'label': <'{label}'>}}");
        let at = menu.find(&marker).unwrap_or_else(|| panic!("no {label:?} in the menu: {menu}"));
        let id: String =
            menu[..at].chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
        let path = format!("{}/Menu", self.item);
        gdbus(&self.address, &self.name, &path, "com.canonical.dbusmenu.Event", &[&id, "clicked", "<0>", "0"])
            .unwrap_or_else(|| panic!("clicking {label:?} (item {id})"));
    }

    /// The colour at the centre of the icon the panel is told to show.
    fn icon_centre(&self) -> Option<[u8; 3]> {
        let answer = gdbus(
            &self.address,
            &self.name,
            &self.item,
            "org.freedesktop.DBus.Properties.Get",
            &["org.kde.StatusNotifierItem", "IconName"],
        )?;
        let path = answer.split('\'').nth(1)?;
        // The tray replaces the file on each change: a read may miss, and is retried.
        let image = image::open(path).ok()?.to_rgba8();
        let pixel = image.get_pixel(image.width() / 2, image.height() / 2);
        Some([pixel[0], pixel[1], pixel[2]])
    }

    async fn wait_icon(&self, tone: Tone) {
        let want = icon::fill(tone);
        let started = Instant::now();
        loop {
            let centre = self.icon_centre();
            if centre == Some(want) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "the icon is {centre:?}, not {tone:?} {want:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_menu(&self, text: &str) {
        let started = Instant::now();
        loop {
            let menu = self.menu();
            if menu.contains(text) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "no {text:?} in the menu: {menu}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One `gdbus call`; `None` when it fails (the name or object is not there yet).
fn gdbus(address: &str, dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
    gdbus_within(5, address, dest, path, method, args)
}

fn gdbus_within(seconds: u32, address: &str, dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
    let output = Command::new("gdbus")
        .args(["call", "--address", address, "--timeout", &seconds.to_string(), "--dest", dest, "--object-path", path])
        .args(["--method", method, "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn assert_clean(output: &str) {
    assert!(!output.contains("panicked"), "the tray panicked:\n{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tray_follows_the_agent_and_stops_on_sigterm() {
    if !desktop_available("tray_follows_the_agent_and_stops_on_sigterm") {
        return;
    }
    let mut agent = Agent::start().await;
    let addr = agent.addr().to_owned();
    // The desktop's browser opener, replaced by one that writes down what it was asked to open.
    let bin = tempfile::tempdir().unwrap();
    let opened = bin.path().join("opened");
    let opener = bin.path().join("xdg-open");
    std::fs::write(&opener, format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut tray = TrayProcess::start_with_path(&addr, Some(bin.path()));
    let seen = tray.wait_line(0, "tray started pid=", Duration::from_secs(30)).await;
    let seen = tray.wait_line(seen, "tray state: standalone", Duration::from_secs(15)).await;
    let panel = Panel::find(tray.pid.expect("pid")).await;
    panel.wait_icon(Tone::Neutral).await;
    panel.wait_menu("Loyalty agent: standalone (no cloud)").await;
    panel.wait_menu("Sync: none (standalone)").await;

    // The agent goes away: the icon turns grey.
    agent.kill9();
    let seen = tray.wait_line(seen, "tray state: agent_unreachable", Duration::from_secs(15)).await;
    panel.wait_icon(Tone::Grey).await;
    panel.wait_menu("Loyalty agent is not running").await;

    // It comes back on the same address: the tray notices by itself.
    let _back = Agent::spawn_listening(&agent.dir, None, &addr);
    tray.wait_line(seen, "tray state: standalone", Duration::from_secs(15)).await;
    panel.wait_icon(Tone::Neutral).await;

    // "Sync now" reaches the agent with its token, and its answer shows in the status menu.
    panel.click("Sync now");
    panel.wait_menu("Last action: sync: this agent runs standalone").await;

    // "Open cashier page" hands the browser a launch code's URL, never the token.
    panel.click("Open cashier page");
    panel.wait_menu("Last action: Opened the cashier page in the browser.").await;
    let url = std::fs::read_to_string(&opened).expect("the opener was called");
    assert!(url.trim_end().starts_with(&format!("http://{addr}/launch/")), "{url}");
    assert!(!url.contains(TOKEN), "{url}");

    tray.signal("-TERM");
    let status = tray.wait_exit(Duration::from_secs(10)).await;
    let output = tray.output();
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean exit:\n{output}");
    assert!(output.contains("tray stopped"), "{output}");
    assert_clean(&output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tray_shows_offline_with_pending_operations_when_the_cloud_is_unreachable() {
    if !desktop_available("tray_shows_offline_with_pending_operations_when_the_cloud_is_unreachable") {
        return;
    }
    let cloud = Cloud::start(Backend::Sqlite).await;
    let proxy = FaultProxy::start(cloud.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    crate::sync_e2e::enroll(&cloud, &proxy.url(), dir.path(), "till-tray").await;
    let agent = Agent::spawn_in(dir.path(), None);
    let mut tray = TrayProcess::start(agent.addr());
    let seen = tray.wait_line(0, "tray state: online", Duration::from_secs(30)).await;
    let panel = Panel::find(tray.pid.expect("pid")).await;
    panel.wait_icon(Tone::Green).await;
    panel.wait_menu("Loyalty agent: online").await;

    // The cloud becomes unreachable; a customer enrolled at the till waits in the outbox.
    proxy.set(Fault::Refuse);
    agent.enroll("+79995556677", "Tray Test").await;
    let seen = tray.wait_line(seen, "tray state: offline pending=1", Duration::from_secs(20)).await;
    panel.wait_icon(Tone::Amber).await;
    panel.wait_menu("Loyalty agent: offline — 1 operation waiting").await;

    // The cloud is back: the operation leaves, and the icon is green again.
    proxy.set(Fault::None);
    let (status, body) = agent.post("/v1/sync", json!({})).await;
    assert_eq!(status, 200, "{body}");
    tray.wait_line(seen, "tray state: online", Duration::from_secs(20)).await;
    let output = tray.output();
    let last_online = output.lines().rev().find(|l| l.contains("tray state: online")).unwrap_or("");
    assert!(!last_online.contains("pending="), "nothing waits once synced: {last_online}");
    panel.wait_icon(Tone::Green).await;

    // "Quit" closes the tray, not the agent.
    panel.click("Quit");
    let status = tray.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "Quit is a clean exit:\n{}", tray.output());
    assert_clean(&tray.output());
    let (status, _) = agent.get("/v1/health").await;
    assert_eq!(status, 200, "the agent keeps running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tray_stops_cleanly_on_sigint_with_no_agent() {
    if !desktop_available("tray_stops_cleanly_on_sigint_with_no_agent") {
        return;
    }
    // Nothing listens on port 9 of loopback (discard; not run on test machines).
    let mut tray = TrayProcess::start("127.0.0.1:9");
    let seen = tray.wait_line(0, "tray started pid=", Duration::from_secs(30)).await;
    tray.wait_line(seen, "tray state: agent_unreachable", Duration::from_secs(15)).await;
    tray.signal("-INT");
    let status = tray.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "SIGINT is a clean exit:\n{}", tray.output());
    assert_clean(&tray.output());
}

#[test]
fn tray_without_a_display_says_so() {
    let output = Command::new(agent_binary())
        .args(["tray", "--listen", "127.0.0.1:9"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("LOYALTY_LOG", "warn")
        .output()
        .expect("run loyalty-agent tray");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no graphical display (DISPLAY/WAYLAND_DISPLAY)"), "{stderr}");
    assert!(stderr.contains("the agent itself runs without it"), "{stderr}");
    assert_clean(&stderr);
}

/// The appindicator library made unloadable for one process: in a private mount namespace, the
/// library files are covered with /dev/null, so dlopen fails as if the package were missing.
/// Needs root (CI runs as root); elsewhere it skips.
#[test]
fn tray_without_appindicator_says_which_package_to_install() {
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
    if !is_root {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: this test cannot be skipped there");
        eprintln!("tray_without_appindicator_says_which_package_to_install: skipped — needs root to mount");
        return;
    }
    let libraries: Vec<String> = ["/usr/lib", "/usr/lib64", "/lib"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.filter_map(Result::ok))
        .flat_map(|entry| {
            let dir = entry.path();
            [dir.join("libayatana-appindicator3.so.1"), dir.join("libappindicator3.so.1")]
        })
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    assert!(!libraries.is_empty(), "the appindicator library is installed here (libayatana-appindicator3-1)");
    let mounts: String = libraries.iter().map(|lib| format!("mount --bind /dev/null '{lib}' && ")).collect();
    let script = format!("{mounts}exec \"$0\" tray --listen 127.0.0.1:9");
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c", &script, agent_binary()])
        // The display check comes first and only looks at the variable; nothing draws here.
        .env("DISPLAY", ":99")
        .env("LOYALTY_LOG", "warn")
        .output()
        .expect("run unshare");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("appindicator library is missing"), "{stderr}");
    assert!(stderr.contains("libayatana-appindicator3-1"), "names the Debian package: {stderr}");
    assert_clean(&stderr);
}

/// The menu's actions, called as the tray calls them, against a real agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_actions_talk_to_the_agent_with_its_token() {
    use loyalty::agent::open::launch_url;
    use loyalty::agent::tray::monitor::{perform, Action};
    use loyalty::agent::tray::TrayOptions;

    let agent = Agent::start().await;
    // "Open cashier page" opens a one-time launch link, never a URL with the token in it.
    let url = launch_url(&agent.base, TOKEN).await.expect("a cashier page address");
    assert!(url.starts_with(&format!("{}/launch/", agent.base)) && !url.contains(TOKEN), "{url}");
    let refused = launch_url(&agent.base, "wrong-token").await.expect_err("a wrong token is refused");
    assert!(refused.contains("401"), "{refused}");

    let options = |token: Option<&str>| TrayOptions {
        listen: agent.addr().parse().unwrap(),
        token: token.map(str::to_owned),
        icon_dir: agent.dir.join("icons"),
    };
    let answer = perform(Action::SyncNow, &options(Some(TOKEN))).await;
    assert!(answer.contains("standalone"), "the agent's own answer: {answer}");
    let answer = perform(Action::SyncNow, &options(None)).await;
    assert!(answer.contains("no agent token") && answer.contains("LOYALTY_AGENT_TOKEN"), "{answer}");
}
