//! The layering rule, checked by reading the source: the pure and shared layers (`rules`,
//! `identity`, `wire`, `gift_cards`) never reach into a program (`agent`, `cloud`) or into
//! HTTP, and the cloud never reaches into the agent. A source scan is enough: an import is a
//! path that names the module.

use std::path::{Path, PathBuf};

/// Which modules each layer must not name.
const RULES: &[(&str, &[&str])] = &[
    ("rules", &["agent", "cloud", "http"]),
    ("identity", &["agent", "cloud", "http"]),
    ("wire", &["agent", "cloud", "http"]),
    ("gift_cards", &["agent", "cloud", "http"]),
    ("reports", &["agent", "cloud", "http"]),
    ("wallet", &["agent", "cloud", "http"]),
    ("verification", &["agent", "cloud", "http"]),
    ("cloud", &["agent"]),
];

/// The lines of `source` (comments left out) that name `crate::<module>` for a forbidden module.
fn offending_lines(source: &str, forbidden: &[&str]) -> Vec<String> {
    source
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//"))
        .filter(|line| {
            forbidden.iter().any(|module| {
                line.contains(&format!("crate::{module}::"))
                    || line.contains(&format!("crate::{module};"))
                    || (line.contains("crate::{") && line.contains(&format!("{module}::")))
            })
        })
        .map(str::to_owned)
        .collect()
}

/// Every `.rs` file of a module: `src/<name>.rs` and everything under `src/<name>/`.
fn module_files(src: &Path, name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = src.join(format!("{name}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let mut folders = vec![src.join(name)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn layers_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (layer, forbidden) in RULES {
        let files = module_files(&src, layer);
        assert!(!files.is_empty(), "no source found for `{layer}`");
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap_or_default();
            for line in offending_lines(&source, forbidden) {
                violations.push(format!("{}: {line}", file.display()));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layering rule:\n{}", violations.join("\n"));
}

#[test]
fn the_scan_sees_imports() {
    let forbidden = &["agent", "http"];
    assert_eq!(offending_lines("use crate::agent::clock;", forbidden).len(), 1);
    assert_eq!(offending_lines("let n = crate::agent::clock::now();", forbidden).len(), 1);
    assert_eq!(offending_lines("use crate::{http::ApiError, rules};", forbidden).len(), 1);
    assert!(offending_lines("// see crate::agent::clock", forbidden).is_empty());
    assert!(offending_lines("use crate::clock;", forbidden).is_empty());
}
