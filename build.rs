//! Generates include/sigma_auth.h from src/ffi with the pinned cbindgen.
//!
//! The header is committed. It is rewritten only when its content changes, so a
//! build of an unchanged tree (including `cargo package`'s verify build) never
//! modifies the source directory.

fn main() {
    // The shared library's SONAME: libsigma_auth.so.MAJOR, or .so.0.MINOR while
    // the major version is 0 (where a minor release may break the ABI).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let abi = if major == "0" { format!("0.{minor}") } else { major };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsigma_auth.so.{abi}");
    }
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let header = std::path::Path::new(&crate_dir).join("include").join("sigma_auth.h");
    let config = match cbindgen::Config::from_file(std::path::Path::new(&crate_dir).join("cbindgen.toml")) {
        Ok(config) => config,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml unreadable, header not regenerated: {e}");
            return;
        }
    };
    match cbindgen::Builder::new().with_crate(&crate_dir).with_config(config).generate() {
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        Err(e) => println!("cargo:warning=cbindgen failed, header not regenerated: {e}"),
    }
}
