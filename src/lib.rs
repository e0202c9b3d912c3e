//! sigma-auth: obtain, cache and refresh access tokens for the Sigma Computing
//! REST API.
//!
//! The core is plain safe Rust ([`Config`], [`get_token`], [`refresh_token`],
//! [`Client`]). The C ABI over it (`include/sigma_auth.h`) is not part of the
//! Rust API.
//!
//! ```no_run
//! let config = sigma_auth::Config::new("aws-us-east", "my-client-id", "my-secret")?;
//! let client = sigma_auth::Client::new(config);
//! let token = client.token()?; // cached; refreshed in the background near expiry
//! println!("Authorization: Bearer {}", token.access_token());
//! # Ok::<(), sigma_auth::Error>(())
//! ```

// The library's own contract, beside the workspace's lints (Cargo.toml): unsafe
// code lives in two places only, `ffi` (the C ABI) and `os` (the few system
// calls std lacks), each of which allows it explicitly; every unsafe block says
// why it is sound; the public API is documented.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod cache;
mod client;
mod config;
mod embed;
mod endpoint;
mod error;
mod events;
mod http;
mod jwt;
mod origin;
mod os;
mod per_process;
mod pool;
mod probe;
mod proxy;
mod scrub;
mod secret;
mod token;

/// The C ABI (`include/sigma_auth.h`). Public only so that the tests can call
/// it from Rust; not part of the Rust API.
#[doc(hidden)]
#[allow(unsafe_code)]
pub mod ffi;

pub use cache::check_dir as check_token_cache_dir;
pub use client::{impersonate_token, monotonic_ns, Client};
pub use config::{ClientAuth, Config};
pub use embed::{sign_embed_url, MAX_EMBED_TTL};
pub use endpoint::{Endpoint, CLOUDS};
pub use error::{Error, ErrorCode, Result};
pub use events::{Event, EventCallback, EventKind, Stats};
pub use origin::Origin;
pub use probe::{probe, Lookup, Probe, WhoAmI};
pub use proxy::ProxyChoice;
pub use token::Token;

/// Requests a new token with the client-credentials grant (no caching).
pub fn get_token(config: &Config) -> Result<Token> {
    stateless(config, http::Grant::ClientCredentials)
}

/// Exchanges a refresh token for a new token. Sigma's refresh tokens are single
/// use: keep the refresh token of the returned token for next time.
pub fn refresh_token(config: &Config, refresh_token: &str) -> Result<Token> {
    if !token::is_token_text(refresh_token) {
        return Err(Error::invalid_argument(format!(
            "the refresh token must be 1 to {} visible ASCII characters",
            token::MAX_TOKEN_LEN
        )));
    }
    stateless(config, http::Grant::RefreshToken(refresh_token))
}

/// One stateless request, its events delivered when it is done.
fn stateless(config: &Config, grant: http::Grant<'_>) -> Result<Token> {
    let mut trace = events::Trace::default();
    let started = std::time::Instant::now();
    let result = http::request_token(config, grant, config.deadline(), &mut trace);
    trace.push(match &result {
        Ok(token) => events::Event {
            grant: Some(grant.name()),
            duration: Some(started.elapsed()),
            serial: Some(token.serial()),
            expires_in: Some(token.expires_in()),
            ..events::Event::new(events::EventKind::TokenObtained)
        },
        Err(error) => events::Event {
            grant: Some(grant.name()),
            duration: Some(started.elapsed()),
            ..events::Event::failure(events::EventKind::RefreshFailed, error)
        },
    });
    trace.deliver(config.events());
    result
}

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing` only).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// The token-response parser, as applied to a 200 body.
    pub fn parse_token_response(body: &[u8]) -> crate::Result<crate::Token> {
        crate::token::parse_response(body, std::time::Instant::now(), std::time::SystemTime::now())
    }
}

/// This library's version, e.g. `"0.1.0"`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
