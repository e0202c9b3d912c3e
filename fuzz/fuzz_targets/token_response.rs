//! The token-response parser on arbitrary bytes: never panics, and whatever it
//! accepts is a token the rest of the library can rely on.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    match sigma_auth::fuzzing::parse_token_response(body) {
        Ok(token) => {
            let access = token.access_token();
            assert!(!access.is_empty() && access.bytes().all(|b| b.is_ascii_graphic()));
            if let Some(refresh) = token.refresh_token() {
                assert!(!refresh.is_empty() && refresh.bytes().all(|b| b.is_ascii_graphic()));
            }
            assert!(token.token_type().eq_ignore_ascii_case("bearer"));
            let lifetime = token.expires_in().as_secs();
            assert!((1..=365 * 24 * 3600).contains(&lifetime));
            // A token long enough not to occur in Debug's own field names by chance.
            if access.len() >= 16 {
                let shown = format!("{token:?}");
                assert!(!shown.contains(access), "Debug must not show the access token");
            }
        }
        Err(error) => {
            assert_eq!(error.code(), sigma_auth::ErrorCode::Protocol);
            assert!(error.message().len() < 512);
        }
    }
});
