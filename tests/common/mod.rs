//! Shared helpers: a mock per test, and a config pointing at it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use sigma_auth::Config;
pub use sigma_mock::harness::MockServer;

pub mod proxy;

pub fn mock(args: &[&str]) -> MockServer {
    MockServer::start(args)
}

pub fn config(mock: &MockServer) -> Config {
    Config::new(&mock.url, "demo-client", "demo-secret").expect("config for the mock")
}

/// A config with a short deadline and one attempt, for fault tests.
pub fn impatient(mock: &MockServer, timeout: Duration, attempts: u32) -> Config {
    let mut config = config(mock);
    config.set_timeout(timeout).unwrap();
    config.set_max_attempts(attempts).unwrap();
    config
}

/// The variables that choose a proxy or a trust store, which the network
/// tests set themselves.
pub const NETWORK_VARIABLES: [&str; 10] = [
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Waits (up to 10 s) until the mock has seen `count` token requests.
pub fn wait_for_requests(mock: &MockServer, count: u64) {
    let started = Instant::now();
    while mock.token_requests() < count {
        assert!(started.elapsed() < Duration::from_secs(10), "the request never reached the mock");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

/// Makes a FIFO at `path` (mode 0600): what blocks a reader or writer forever.
pub fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}
