//! The documents that cite code cite code that exists: every path in
//! backquotes in SECURITY.md and ARCHITECTURE.md names a file or folder of the
//! repository (a pattern such as `src/ffi/<type>.rs` aside), every
//! `file::name` names something in that file, and every Python or C
//! (`test_...`), Go (`Test...`) and Node.js (`node: name`) test SECURITY.md
//! names is defined.

use std::fs;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TOP: [&str; 11] =
    ["src/", "tests/", "cli/", "bindings/", "tools/", "include/", "bench/", "fuzz/", "scripts/", "examples/", "docs/"];

/// The text between each pair of backquotes.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn read_all(dir: &Path, suffix: &str, into: &mut String) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_all(&path, suffix, into);
        } else if path.to_string_lossy().ends_with(suffix) {
            into.push_str(&fs::read_to_string(&path).unwrap());
        }
    }
}

fn missing_paths(document: &str) -> Vec<String> {
    let text = fs::read_to_string(Path::new(ROOT).join(document)).unwrap();
    let mut missing = Vec::new();
    for cited in quoted(&text) {
        if !TOP.iter().any(|top| cited.starts_with(top)) || cited.contains([' ', '*', '<']) {
            continue;
        }
        let (path, item) = match cited.split_once("::") {
            Some((path, item)) => (path, Some(item)),
            None => (cited, None),
        };
        let file = Path::new(ROOT).join(path);
        if !file.exists() {
            missing.push(format!("{document}: `{cited}`: no such file"));
        } else if let Some(item) = item {
            if !fs::read_to_string(&file).unwrap().contains(item) {
                missing.push(format!("{document}: `{cited}`: {path} has no {item}"));
            }
        }
    }
    missing
}

#[test]
fn every_path_the_architecture_and_security_documents_cite_exists() {
    let mut missing = missing_paths("SECURITY.md");
    missing.extend(missing_paths("ARCHITECTURE.md"));
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_binding_test_security_md_names_exists() {
    let text = fs::read_to_string(Path::new(ROOT).join("SECURITY.md")).unwrap();
    let (mut python_and_c, mut go, mut node) = (String::new(), String::new(), String::new());
    read_all(&Path::new(ROOT).join("bindings/python/tests"), ".py", &mut python_and_c);
    read_all(&Path::new(ROOT).join("tests/c"), ".c", &mut python_and_c);
    read_all(&Path::new(ROOT).join("bindings/go"), "_test.go", &mut go);
    read_all(&Path::new(ROOT).join("bindings/node/test"), ".test.js", &mut node);
    let mut missing = Vec::new();
    for name in quoted(&text) {
        if let Some(title) = name.strip_prefix("node: ") {
            if !node.contains(&format!("test('{title}'")) {
                missing.push(format!("Node.js {title:?}"));
            }
            continue;
        }
        let is_name = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let defined = |def: &str| python_and_c.contains(&format!("{def} {name}("));
        if is_name && name.starts_with("test_") && !defined("def") && !defined("void") {
            missing.push(format!("Python or C {name}"));
        }
        if is_name && name.starts_with("Test") && !go.contains(&format!("func {name}(")) {
            missing.push(format!("Go {name}"));
        }
    }
    assert!(missing.is_empty(), "SECURITY.md names tests that do not exist: {}", missing.join(", "));
}
