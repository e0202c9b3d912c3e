//! What the command's tests share: the mock, and the harness's helpers.
#![allow(dead_code, unused_imports)]

pub use sigma_mock::harness::{dead_pid, mkfifo, MockServer, NETWORK_VARIABLES};
pub use sigma_mock::proxy;

pub fn mock(args: &[&str]) -> MockServer {
    MockServer::start(args)
}

/// A `$BROWSER` for the sign-in tests, written in `dir`: curl visiting the URL
/// it is given and every redirect after it (with a cookie jar in `dir` when
/// `cookies`: some authorization servers keep their interaction in cookies).
pub fn browser_script(dir: &std::path::Path, cookies: bool) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let jar = dir.join("cookie-jar");
    let jar = if cookies { format!("-c '{0}' -b '{0}' ", jar.display()) } else { String::new() };
    let browser = dir.join("browser");
    std::fs::write(&browser, format!("#!/bin/sh\nexec curl -sS -L --max-redirs 20 {jar}-o /dev/null \"$1\"\n"))
        .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    browser
}
