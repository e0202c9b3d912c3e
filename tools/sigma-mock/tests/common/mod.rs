//! Test helpers over the harness; the mock's own tests use the binary cargo built
//! for this package.
#![allow(dead_code)]

pub use sigma_mock::harness::{MockServer as Mock, Reply};

pub fn start(args: &[&str]) -> Mock {
    Mock::start_binary(std::path::Path::new(env!("CARGO_BIN_EXE_sigma-mock")), args, false)
}

pub fn client_credentials(mock: &Mock) -> Reply {
    token_form(
        mock,
        &[("grant_type", "client_credentials"), ("client_id", "demo-client"), ("client_secret", "demo-secret")],
    )
}

pub fn token_form(mock: &Mock, form: &[(&str, &str)]) -> Reply {
    mock.post_form("/v2/auth/token", form)
}

/// Asserts Sigma's error envelope with the given status and message.
pub fn assert_envelope(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    let json = reply.json();
    assert_eq!(json["message"], message, "body: {}", reply.body);
    assert!(json["code"].as_str().is_some_and(|c| !c.is_empty()), "no code: {}", reply.body);
    assert!(json["requestId"].as_str().is_some_and(|r| r.len() >= 16), "no requestId: {}", reply.body);
}
