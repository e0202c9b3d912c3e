//! What the command's tests share: the mock, and the harness's helpers.
#![allow(dead_code, unused_imports)]

pub use sigma_mock::harness::{mkfifo, MockServer, NETWORK_VARIABLES};
pub use sigma_mock::proxy;

pub fn mock(args: &[&str]) -> MockServer {
    MockServer::start(args)
}
