//! The library half of `sigma-mock`: a harness that runs the mock binary for
//! Rust tests and benchmarks. The server itself is the binary (`src/main.rs`).

pub mod harness;
pub mod proxy;
pub mod redis_server;
