//! Service installs on every platform, as far as this Linux machine can check them: who may read
//! the token in a service folder and in per-user folders, how client commands find a system
//! install's token, the macOS launchd plists and the Windows installer definition (well-formed
//! XML naming command lines the binary accepts), and `service run` off Windows.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::agent_binary;

fn installer(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("installer").join(path)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Every value of `key` in a systemd unit or desktop entry (`Key=value` lines; comments and
/// section headers skipped).
pub fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with(';') && !line.starts_with('['))
        .filter_map(|line| line.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

pub fn unit_value(text: &str, key: &str) -> Option<String> {
    unit_values(text, key).into_iter().next()
}

/// A minimal HTTP/1.1 GET with a bearer token: (status, body).
fn http_get(base: &str, path: &str, token: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the agent");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

/// A running `loyalty-agent` started with exactly the given arguments (plus a port-0 listen
/// address), killed on drop.
struct Served {
    child: std::process::Child,
    base: String,
}

impl Served {
    fn start(args: &[&str], env: &[(&str, &Path)]) -> Served {
        let mut command = Command::new(agent_binary());
        command
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("LOYALTY_AGENT_TOKEN")
            .env_remove("LOYALTY_AGENT_DATA_DIR")
            .env("LOYALTY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start loyalty-agent");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the listening line");
        let base = line
            .trim()
            .strip_prefix("loyalty-agent listening on ")
            .unwrap_or_else(|| panic!("{args:?} did not start the agent: {line:?}"))
            .to_owned();
        Served { child, base }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with a service's command line (`serve --no-tray --data-dir <system
/// folder>`, from a unit or a plist), the system folder replaced by a temporary one set up as
/// the installers set it up (mode 0750). The token must then be 0640 with the folder's group —
/// what the cashiers' tray needs — and be the token the agent accepts.
pub fn service_command_starts(args: &[&str]) {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("system");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o750)).unwrap();
    let data_dir = args.iter().position(|a| *a == "--data-dir").map(|i| i + 1).expect("the command names --data-dir");
    let folder_text = folder.to_str().unwrap();
    let args: Vec<&str> =
        args.iter().enumerate().map(|(i, arg)| if i == data_dir { folder_text } else { *arg }).collect();
    let served = Served::start(&args, &[]);
    let token_path = folder.join("token");
    assert_eq!(mode(&token_path), 0o640, "{args:?}: the token in a service folder is readable by its group");
    assert_eq!(std::fs::metadata(&token_path).unwrap().gid(), std::fs::metadata(&folder).unwrap().gid());
    let token = std::fs::read_to_string(&token_path).unwrap();
    let (status, body) = http_get(&served.base, "/v1/customers/search?q=2700", token.trim());
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_token_is_private_unless_its_folder_is_a_service_folder() {
    // A folder given with --data-dir that others may enter (0755): private token.
    let temp = tempfile::tempdir().unwrap();
    let open = temp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _served = Served::start(&["serve", "--no-tray", "--data-dir", open.to_str().unwrap()], &[]);
    assert_eq!(mode(&open.join("token")), 0o600);

    // The per-user folders (no --data-dir): created private, the token too.
    let home = temp.path().join("home");
    let env = [
        ("HOME", home.as_path()),
        ("XDG_CONFIG_HOME", &home.join(".config")),
        ("XDG_DATA_HOME", &home.join(".local/share")),
    ];
    let _user = Served::start(&["serve", "--no-tray"], &env);
    let config = home.join(".config/loyalty-agent");
    assert_eq!((mode(&config), mode(&config.join("token"))), (0o700, 0o600));

    // A service folder (0750, as postinst and the macOS steps make it): shared with its group.
    service_command_starts(&["serve", "--no-tray", "--data-dir", "/var/lib/loyalty-agent"]);
}

/// `loyalty-agent token` in a cashier's session: the user has no token of their own, so the
/// system install's is used; with --data-dir, that folder's own token; and a user outside the
/// group `loyalty` is told how to get in instead of being given a useless new token.
#[test]
fn client_commands_find_the_system_installs_token() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let system = temp.path().join("system");
    std::fs::create_dir(&system).unwrap();
    std::fs::set_permissions(&system, std::fs::Permissions::from_mode(0o750)).unwrap();
    let system_token = "5".repeat(64);
    std::fs::write(system.join("token"), format!("{system_token}\n")).unwrap();
    let home = temp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();

    let token = |wrapper: &[&str], extra: &[&str]| {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(agent_binary());
                command
            }
            None => Command::new(agent_binary()),
        };
        command
            .arg("token")
            .args(extra)
            .env_remove("LOYALTY_AGENT_TOKEN")
            .env_remove("LOYALTY_AGENT_DATA_DIR")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("LOYALTY_AGENT_SYSTEM_DIR", &system)
            .output()
            .expect("run loyalty-agent token")
    };

    let found = token(&[], &[]);
    assert!(found.status.success(), "{}", String::from_utf8_lossy(&found.stderr));
    assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), system_token);
    assert!(!home.join(".config/loyalty-agent/token").exists(), "no useless per-user token is made");

    let own_dir = temp.path().join("own");
    let own = token(&[], &["--data-dir", own_dir.to_str().unwrap()]);
    assert!(own.status.success());
    let own_token = String::from_utf8_lossy(&own.stdout).trim().to_owned();
    assert_ne!(own_token, system_token, "--data-dir names an agent of its own");
    assert_eq!(std::fs::read_to_string(own_dir.join("token")).unwrap().trim(), own_token);

    // Someone outside the group cannot read the system token: told what to do, exit code 2.
    if is_root() && Command::new("setpriv").arg("--version").output().is_ok() {
        let outsider = token(&["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], &[]);
        let said = String::from_utf8_lossy(&outsider.stderr);
        assert_eq!(outsider.status.code(), Some(2), "{said}");
        assert!(said.contains("adduser") && said.contains("loyalty"), "{said}");
        assert!(outsider.stdout.is_empty());
    } else {
        eprintln!("not root or no setpriv: the unreadable system token case is not checked");
    }
}

#[test]
fn service_run_points_to_the_service_manager_off_windows() {
    let output = Command::new(agent_binary()).args(["service", "run"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("systemctl") && said.contains("launchctl"), "{said}");
}

/// An element of a parsed XML document, in document order, with its nesting depth.
#[derive(Debug)]
struct Element {
    name: String,
    depth: usize,
    attributes: Vec<(String, String)>,
    text: String,
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').ok_or_else(|| format!("unterminated entity in {text:?}"))? + at;
        match &rest[at + 1..end] {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            other => return Err(format!("unknown entity &{other};")),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
}

/// A small well-formedness check (there is no XML parser among the dependencies and no
/// `plutil` here): the prolog, comments without `--`, attributes quoted and unique, entities
/// known, every element closed in order, one root. Returns the elements.
fn parse_xml(text: &str) -> Result<Vec<Element>, String> {
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut roots = 0;
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        let between = unescape(&rest[..at])?;
        if open.is_empty() && !between.trim().is_empty() {
            return Err(format!("text outside the root element: {between:?}"));
        }
        if let Some((_, index)) = open.last() {
            elements[*index].text.push_str(&between);
        }
        rest = &rest[at..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").ok_or("unterminated comment")?;
            if body[..end].contains("--") {
                return Err(format!("a comment holds \"--\": {:?}", &body[..end]));
            }
            rest = &body[end + 3..];
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!DOCTYPE") {
            if roots > 0 || !open.is_empty() {
                return Err("a declaration after the root element began".into());
            }
            let end = rest.find('>').ok_or("unterminated declaration")?;
            rest = &rest[end + 1..];
            continue;
        }
        let end = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some((expected, _)) if expected == name.trim() => continue,
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(tag) => (tag, true),
            None => (tag, false),
        };
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = &tag[..name_end];
        if !valid_name(name) {
            return Err(format!("bad element name {name:?}"));
        }
        let mut attributes = Vec::new();
        let mut attrs = tag[name_end..].trim_start();
        while !attrs.is_empty() {
            let eq = attrs.find('=').ok_or_else(|| format!("attribute without a value in <{name}>"))?;
            let key = attrs[..eq].trim();
            let value = attrs[eq + 1..].trim_start();
            let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'').ok_or("unquoted attribute")?;
            let close = value[1..].find(quote).ok_or("unterminated attribute")? + 1;
            if !valid_name(key) || attributes.iter().any(|(k, _)| k == key) || value[1..close].contains('<') {
                return Err(format!("bad or repeated attribute {key:?} in <{name}>"));
            }
            attributes.push((key.to_owned(), unescape(&value[1..close])?));
            attrs = value[close + 1..].trim_start();
        }
        if open.is_empty() {
            roots += 1;
        }
        elements.push(Element { name: name.to_owned(), depth: open.len(), attributes, text: String::new() });
        if !empty {
            open.push((name.to_owned(), elements.len() - 1));
        }
    }
    if !rest.trim().is_empty() || !open.is_empty() || roots != 1 {
        return Err(format!("unclosed elements {open:?}, {roots} roots, trailing {rest:?}"));
    }
    Ok(elements)
}

/// The strings of the array under `key` in a plist's top dictionary.
fn plist_array(elements: &[Element], key: &str) -> Vec<String> {
    let at = elements.iter().position(|e| e.name == "key" && e.text == key).unwrap_or_else(|| panic!("no {key}"));
    let array = &elements[at + 1];
    assert_eq!(array.name, "array", "{key} is not an array");
    elements[at + 2..].iter().take_while(|e| e.depth > array.depth).map(|e| e.text.clone()).collect()
}

/// The element right after `<key>key</key>` in a plist's top dictionary.
fn plist_value<'a>(elements: &'a [Element], key: &str) -> &'a Element {
    let at = elements.iter().position(|e| e.name == "key" && e.text == key).unwrap_or_else(|| panic!("no {key}"));
    &elements[at + 1]
}

#[test]
fn the_xml_check_catches_what_plutil_would() {
    for bad in [
        "<plist><dict></plist>",
        "<plist><dict/></plist><plist/>",
        "<plist><!-- a -- b --></plist>",
        "<plist a=\"1\" a=\"2\"/>",
        "<plist>AT&T</plist>",
        "<plist><string>x</dict></plist>",
        "<plist x=1/>",
        "text<plist/>",
    ] {
        assert!(parse_xml(bad).is_err(), "{bad} passed");
    }
    let good = parse_xml("<?xml version=\"1.0\"?>\n<!-- ok -->\n<a b='&quot;x&quot;'><c/>t&amp;t</a>\n").unwrap();
    assert_eq!((good[0].attribute("b"), good[0].text.as_str(), good[1].depth), (Some("\"x\""), "t&t", 1));
}

#[test]
fn the_macos_plists_are_well_formed_and_run_the_right_commands() {
    let daemon_path = installer("macos/com.loyalty-agent.agent.plist");
    let tray_path = installer("macos/com.loyalty-agent.tray.plist");
    let daemon = parse_xml(&std::fs::read_to_string(&daemon_path).unwrap()).unwrap();
    let tray = parse_xml(&std::fs::read_to_string(&tray_path).unwrap()).unwrap();
    // Python's plistlib, when there is one, reads them as launchd would (types included).
    if let Ok(python) = Command::new("python3").arg("--version").output() {
        if python.status.success() {
            let check = Command::new("python3")
                .args(["-c", "import plistlib, sys\nfor p in sys.argv[1:]:\n    plistlib.load(open(p, 'rb'))"])
                .arg(&daemon_path)
                .arg(&tray_path)
                .output()
                .unwrap();
            assert!(check.status.success(), "plistlib: {}", String::from_utf8_lossy(&check.stderr));
        }
    }
    assert_eq!(plist_value(&daemon, "Label").text, "com.loyalty-agent.agent");
    let args = plist_array(&daemon, "ProgramArguments");
    assert_eq!(
        args,
        [
            "/usr/local/bin/loyalty-agent",
            "serve",
            "--no-tray",
            "--data-dir",
            "/Library/Application Support/loyalty-agent"
        ]
    );
    assert_eq!(plist_value(&daemon, "UserName").text, "_loyalty-agent");
    assert_eq!(plist_value(&daemon, "GroupName").text, "loyalty");
    assert_eq!(plist_value(&daemon, "RunAtLoad").name, "true");
    assert_eq!(plist_value(&daemon, "KeepAlive").name, "dict");
    assert_eq!(
        (plist_value(&daemon, "Umask").name.as_str(), plist_value(&daemon, "Umask").text.as_str()),
        ("integer", "63")
    );
    let args: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    service_command_starts(&args);

    assert_eq!(plist_value(&tray, "Label").text, "com.loyalty-agent.tray");
    assert_eq!(plist_array(&tray, "ProgramArguments"), ["/usr/local/bin/loyalty-agent", "tray"]);
    assert_eq!(plist_value(&tray, "LimitLoadToSessionType").text, "Aqua");
    assert_eq!(plist_value(&tray, "RunAtLoad").name, "true");
}

#[test]
fn the_windows_installer_registers_the_service_and_the_tray() {
    let wxs = parse_xml(&std::fs::read_to_string(installer("windows/loyalty-agent.wxs")).unwrap()).unwrap();
    let element = |name: &str| wxs.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("no <{name}>"));
    let service = element("ServiceInstall");
    for (key, value) in [
        ("Name", "loyalty-agent"),
        ("Arguments", "service run"),
        ("Start", "auto"),
        ("Type", "ownProcess"),
        ("Account", "LocalSystem"),
    ] {
        assert_eq!(service.attribute(key), Some(value), "ServiceInstall {key}");
    }
    let restart = element("util:ServiceConfig");
    assert_eq!(restart.attribute("FirstFailureActionType"), Some("restart"));
    assert_eq!(element("ServiceControl").attribute("Start"), Some("install"));
    let file = element("File");
    assert_eq!(file.attribute("Name"), Some("loyalty-agent.exe"));
    let program_files =
        wxs.iter().position(|e| e.attribute("Id") == Some("ProgramFiles64Folder")).expect("Program Files");
    assert_eq!(wxs[program_files + 1].attribute("Name"), Some("loyalty-agent"));
    let data = wxs.iter().position(|e| e.attribute("Id") == Some("CommonAppDataFolder")).expect("ProgramData");
    assert_eq!(wxs[data + 1].attribute("Name"), Some("loyalty-agent"));
    let run = element("RegistryValue");
    assert_eq!(run.attribute("Root"), Some("HKLM"));
    assert_eq!(run.attribute("Key"), Some(r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run"));
    assert_eq!(run.attribute("Value"), Some("\"[INSTALLDIR]loyalty-agent.exe\" tray"));
    // The service's arguments are a command this binary knows (here it says to use systemd).
    let output = Command::new(agent_binary()).args(["service", "run", "--help"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
