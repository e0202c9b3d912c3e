//! The endpoint resolver on arbitrary text: never panics, and every accepted
//! endpoint is https (or http to loopback) with the token path and nothing else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_auth::{Endpoint, ErrorCode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Endpoint::parse(text) {
        Ok(endpoint) => {
            let url = endpoint.token_url();
            assert!(url.starts_with("https://") || url.starts_with("http://"), "{url}");
            assert!(url.ends_with("/v2/auth/token"), "{url}");
            assert!(!url.contains('#') && !url.contains('?'), "{url}");
            let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
            assert!(!authority.contains('@'), "{url}");
            assert!(!endpoint.host().is_empty());
        }
        Err(error) => assert!(matches!(error.code(), ErrorCode::InvalidArgument | ErrorCode::InsecureUrl)),
    }
});
