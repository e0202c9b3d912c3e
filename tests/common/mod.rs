//! Shared helpers: a mock per test, and a config pointing at it.
#![allow(dead_code, unused_imports)]

use std::time::{Duration, Instant};

use sigma_auth::Config;
pub use sigma_mock::harness::{mkfifo, sigma_token, MockServer, NETWORK_VARIABLES};
pub use sigma_mock::proxy;

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
