//! The core's layers: `src/lib.rs` declares its modules bottom up, and each
//! module may use only the modules declared before it. So no two modules
//! import each other in a circle, and the contents page says which way
//! dependencies run. `ffi/` (the C face, above everything) is not checked.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The modules `lib.rs` declares (`mod x;`), in order, without `ffi`.
fn layers() -> Vec<String> {
    let lib = fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    lib.lines().filter_map(|line| line.trim().strip_prefix("mod ")?.strip_suffix(';').map(str::to_string)).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`store/cache.rs` -> `store`).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(SRC).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_str().unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// The crate-level names a piece of code reaches through `crate::`: the
/// first segment of every `crate::x::...` path and of every name in a
/// `crate::{x, y::z}` group. Comments are skipped (doc links are not uses).
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inside = &group[..group.find('}').unwrap_or(group.len())];
                for item in inside.split(',') {
                    let name = item.trim().split("::").next().unwrap_or("").trim();
                    if !name.is_empty() {
                        found.insert(name.to_string());
                    }
                }
            } else {
                let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
            rest = after;
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let layers = layers();
    assert!(layers.len() >= 10, "lib.rs declares its layers: {layers:?}");
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(file);
        if module == "lib" || module == "ffi" {
            continue;
        }
        let Some(level) = layers.iter().position(|m| *m == module) else {
            problems.push(format!("{}: module {module} is not declared in lib.rs", file.display()));
            continue;
        };
        for used in crate_paths(&fs::read_to_string(file).unwrap()) {
            if used == module {
                continue;
            }
            match layers.iter().position(|m| *m == used) {
                Some(at) if at < level => {}
                Some(_) => problems.push(format!("{}: {module} uses {used}, a layer above it", file.display())),
                // A name lib.rs re-exports (crate::Config) hides which module it is from.
                None => problems.push(format!("{}: uses crate::{used}; name its module instead", file.display())),
            }
        }
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
}

#[test]
fn the_path_scanner_sees_plain_paths_and_groups_and_skips_comments() {
    let code = "use crate::a::B;\nuse crate::{c, d::E};\n/// [crate::Z]\nlet x = crate::f::g();";
    let found: Vec<String> = crate_paths(code).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "f"]);
}
