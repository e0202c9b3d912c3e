//! One version number for every artifact: the crate, the C library's
//! sigma_version(), the Python package, the Go module, the npm package and the pkg-config files;
//! and one list of system libraries for every way of linking the static archive.

use std::ffi::CStr;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn quoted_after(text: &str, prefix: &str) -> String {
    let line = text.lines().find(|l| l.trim_start().starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix}"));
    line.split('"').nth(1).unwrap_or_else(|| panic!("no quoted value in {line}")).to_string()
}

#[test]
fn every_artifact_has_the_crates_version() {
    let version = env!("CARGO_PKG_VERSION");
    // SAFETY: a static NUL-terminated string.
    let library = unsafe { CStr::from_ptr(sigma_auth::ffi::sigma_version()) }.to_str().unwrap();
    assert_eq!(library, version, "sigma_version()");
    assert_eq!(sigma_auth::VERSION, version);
    assert_eq!(quoted_after(&read("bindings/python/pyproject.toml"), "version ="), version, "the Python package");
    assert_eq!(quoted_after(&read("bindings/go/version.go"), "const Version ="), version, "the Go module");
    let npm = read("bindings/node/package.json");
    let npm_version =
        npm.lines().find(|l| l.trim_start().starts_with("\"version\":")).and_then(|l| l.split('"').nth(3));
    assert_eq!(npm_version, Some(version), "the npm package");
    assert_eq!(quoted_after(&read("bindings/node/Cargo.toml"), "version ="), version, "the Node.js module's crate");
    for pc in ["sigma_auth.pc.in", "sigma_auth-static.pc.in"] {
        assert!(
            read(pc).contains("Version: @VERSION@"),
            "{pc} takes its version from the Makefile, which reads Cargo.toml"
        );
    }
}

#[test]
fn the_go_binding_links_the_recorded_system_libraries() {
    let libraries = read("native-static-libs.txt");
    let libraries = libraries.trim();
    assert!(libraries.starts_with("-l"), "{libraries}");
    let cgo = read("bindings/go/cgo.go");
    assert!(
        cgo.lines().any(|l| l.starts_with("#cgo !sigma_system,linux LDFLAGS:") && l.ends_with(libraries)),
        "bindings/go/cgo.go's linux LDFLAGS must be native-static-libs.txt's: {libraries}"
    );
    assert!(read("Makefile").contains("SYSLIBS := $(shell cat native-static-libs.txt)"));
}
