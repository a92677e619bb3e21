//! The Debian package: `cargo deb` builds it from the binary this test run already built (no
//! second build), and the test reads it back with `dpkg-deb` — control fields, files, maintainer
//! scripts — then checks the systemd unit with `systemd-analyze verify` (when present) and by
//! starting the packaged command line.
//!
//! Needs `cargo-deb` and `dpkg-deb`: without them the test says why and passes, except under CI
//! (`CI` set), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::installers::{service_command_starts, unit_value, unit_values};
use crate::support::agent_binary;

/// Runs a command to completion, failing the test with its output when it cannot start.
fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether a tool the test needs is there; if not, skips (or fails under CI) with the reason.
fn have(tool: &str, mut probe: Command) -> bool {
    if probe.output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    let reason = format!("{tool} is not installed (scripts/test.sh installs it)");
    assert!(std::env::var_os("CI").is_none(), "CI is set, so the package test may not skip: {reason}");
    eprintln!("skipping the Debian package test: {reason}");
    false
}

/// Builds the package into `out` from the already built debug binary.
///
/// `--no-build` keeps cargo-deb from building again: this runs inside `cargo test`, which has
/// built the binary with the package's features (`--features tray`) in the dev profile.
/// `--profile dev` points cargo-deb's `target/release/…` asset at that binary (cargo-deb warns
/// that the dev profile is meant for releases only; `-q` keeps that out of the test output).
fn build_package(out: &Path) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = run(Command::new(cargo)
        .args(["deb", "--no-build", "--profile", "dev", "--no-strip", "--fast", "-q", "--manifest-path"])
        .arg(&manifest)
        .arg("--output")
        .arg(out));
    assert!(output.status.success(), "cargo deb failed: {}", String::from_utf8_lossy(&output.stderr));
    let deb = PathBuf::from(stdout(&output).trim().lines().last().unwrap_or_default());
    assert!(deb.is_file(), "cargo deb named no package file: {}", stdout(&output));
    deb
}

#[test]
fn the_debian_package_installs_the_service_the_tray_and_the_docs() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cargo_deb = Command::new(cargo);
    cargo_deb.args(["deb", "--version"]);
    let mut dpkg_deb = Command::new("dpkg-deb");
    dpkg_deb.arg("--version");
    if !have("cargo-deb", cargo_deb) || !have("dpkg-deb", dpkg_deb) {
        return;
    }
    let built = Path::new(agent_binary());
    assert!(built.is_file(), "the test build's binary is missing: {}", built.display());

    let dir = tempfile::tempdir().unwrap();
    let deb = build_package(dir.path());
    assert!(deb.starts_with(dir.path()), "the package went elsewhere: {}", deb.display());

    // Control fields.
    let field = |name: &str| stdout(&run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name))).trim().to_owned();
    assert_eq!(field("Package"), "loyalty-agent");
    assert!(field("Maintainer").contains('@'), "{}", field("Maintainer"));
    let depends = field("Depends");
    assert!(depends.contains("adduser"), "postinst uses adduser: {depends}");
    assert!(depends.contains("libc6"), "$auto found no libraries: {depends}");
    assert!(!depends.contains("appindicator"), "the tray library is optional: {depends}");
    assert!(field("Recommends").contains("libayatana-appindicator3-1"), "{}", field("Recommends"));
    assert!(field("Description").contains("loyalty"));

    // Files: the binary (the one this test run built), the unit, the tray at logon, the docs.
    let listing = stdout(&run(Command::new("dpkg-deb").arg("-c").arg(&deb)));
    let entry = |path: &str| listing.lines().find(|line| line.ends_with(&format!(" .{path}"))).map(str::to_owned);
    let binary = entry("/usr/bin/loyalty-agent").unwrap_or_else(|| panic!("no binary in:\n{listing}"));
    assert!(binary.starts_with("-rwxr-xr-x"), "{binary}");
    let size = std::fs::metadata(built).unwrap().len().to_string();
    assert!(binary.split_whitespace().any(|word| word == size), "not the binary just built ({size}): {binary}");
    let unit_path = ["/usr/lib/systemd/system/loyalty-agent.service", "/lib/systemd/system/loyalty-agent.service"]
        .into_iter()
        .find(|path| entry(path).is_some())
        .unwrap_or_else(|| panic!("no systemd unit in:\n{listing}"));
    for path in [
        "/etc/xdg/autostart/loyalty-agent-tray.desktop",
        "/usr/share/doc/loyalty-agent/README.md",
        "/usr/share/doc/loyalty-agent/copyright",
        "/usr/share/icons/hicolor/scalable/apps/loyalty-agent.svg",
    ] {
        assert!(entry(path).is_some(), "{path} is missing from:\n{listing}");
    }

    // Maintainer scripts: present, valid shell, and the user exists before systemd starts the
    // service (cargo-deb puts its systemd section where the #DEBHELPER# marker was).
    let control = dir.path().join("control");
    assert!(run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control)).status.success());
    for script in ["postinst", "postrm", "prerm"] {
        let path = control.join(script);
        assert!(path.is_file(), "no {script}");
        let check = run(Command::new("sh").arg("-n").arg(&path));
        assert!(check.status.success(), "{script}: {}", String::from_utf8_lossy(&check.stderr));
    }
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(!postinst.contains("#DEBHELPER#"), "cargo-deb left the marker in place");
    let at = |needle: &str| postinst.find(needle).unwrap_or_else(|| panic!("postinst lacks {needle:?}:\n{postinst}"));
    assert!(at("set -e") < at("addgroup --quiet --system loyalty"));
    assert!(at("addgroup --quiet --system loyalty") < at("adduser --quiet --system --group"));
    assert!(at("adduser --quiet --system --group") < at("install -d -o loyalty-agent -g loyalty -m 0750"));
    assert!(at("install -d -o loyalty-agent -g loyalty -m 0750") < at("deb-systemd-helper enable loyalty-agent"));
    assert!(at("deb-systemd-helper enable loyalty-agent") < at("deb-systemd-invoke $_dh_action loyalty-agent"));
    let postrm = std::fs::read_to_string(control.join("postrm")).unwrap();
    let purge = postrm.find(r#"if [ "$1" = purge ]; then"#).expect("postrm handles purge");
    assert!(postrm[purge..]
        .trim_start_matches(|c| c != '\n')
        .trim_start()
        .starts_with("rm -rf /var/lib/loyalty-agent"));
    assert_eq!(postrm.matches("rm -rf").count(), 1, "only purge removes data:\n{postrm}");

    // The unit and the autostart entry, as installed.
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let members = [format!(".{unit_path}"), "./etc/xdg/autostart/loyalty-agent-tray.desktop".to_owned()];
    let extract = run(Command::new("sh")
        .arg("-c")
        .arg(r#"dpkg-deb --fsys-tarfile "$0" | tar -x -C "$1" "$2" "$3""#)
        .arg(&deb)
        .arg(&files)
        .args(&members));
    assert!(extract.status.success(), "{}", String::from_utf8_lossy(&extract.stderr));
    let unit = std::fs::read_to_string(files.join(&unit_path[1..])).unwrap();
    for (key, value) in [
        ("User", "loyalty-agent"),
        ("Group", "loyalty"),
        ("UMask", "0077"),
        ("ExecStart", "/usr/bin/loyalty-agent serve --no-tray --data-dir /var/lib/loyalty-agent"),
        ("StateDirectory", "loyalty-agent"),
        ("StateDirectoryMode", "0750"),
        ("Restart", "on-failure"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("ReadWritePaths", "/var/lib/loyalty-agent"),
        ("WantedBy", "multi-user.target"),
    ] {
        assert_eq!(unit_values(&unit, key), [value], "{key}= in the unit:\n{unit}");
    }
    // The command line the unit runs is one the binary accepts, and it serves with the token
    // shared with the cashiers' group in a folder set up as postinst does.
    let exec = unit_value(&unit, "ExecStart").unwrap();
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    service_command_starts(&args);
    if Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success()) {
        // verify also checks that ExecStart's program exists: point it at this build's binary.
        let copy = dir.path().join("loyalty-agent.service");
        std::fs::write(&copy, unit.replace("/usr/bin/loyalty-agent", agent_binary())).unwrap();
        let verify = run(Command::new("systemd-analyze").arg("verify").arg(&copy));
        let complaints = String::from_utf8_lossy(&verify.stderr);
        // Unknown keys are only warnings (exit 0), so any output counts as a failure.
        assert!(verify.status.success() && complaints.trim().is_empty(), "systemd-analyze verify: {complaints}");
    } else {
        eprintln!("systemd-analyze is not installed: the unit was checked by its key lines only");
    }

    let desktop = std::fs::read_to_string(files.join("etc/xdg/autostart/loyalty-agent-tray.desktop")).unwrap();
    let desktop_value = |key: &str| unit_value(&desktop, key);
    assert_eq!(desktop_value("Type").as_deref(), Some("Application"));
    assert_eq!(desktop_value("Exec").as_deref(), Some("/usr/bin/loyalty-agent tray"));
    assert_eq!(desktop_value("Icon").as_deref(), Some("loyalty-agent"));
    assert!(desktop.starts_with("[Desktop Entry]\n"), "{desktop}");
}
