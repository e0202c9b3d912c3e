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
// code lives in two places only, `ffi` (the C ABI) and `sys` (the few system
// calls std lacks), each of whose files that need it allows it explicitly;
// every unsafe block says why it is sound; the public API is documented.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

// The token cache relies on Unix file modes, record locks and fork; nothing
// here has been built or tested elsewhere, so nothing pretends to be.
#[cfg(not(unix))]
compile_error!("sigma-auth supports Unix systems (Linux, macOS) only");

// The layers, bottom up: each module uses only those above it in this list
// (tests/layers.rs checks it). ARCHITECTURE.md draws them.

// The vocabulary every layer speaks.
mod error;
mod secret;
mod token;
// The platform: system calls, fork and per-process values, randomness.
mod sys;
// Events and counters.
mod observe;
// Where tokens come from and may go: endpoints, origins, hosts.
mod endpoint;
// What the user chose, as plain values.
mod settings;
// The HTTP agent: trust, proxy, resolver, connection pool.
mod transport;
// Settings with their connection pool: what every call takes.
mod config;
// Token requests: grants, retries, what answers mean, scrubbing, JWTs.
mod oauth;
// Where tokens are kept beyond one client: the token cache on disk.
mod store;
// The cached, self-refreshing, fork-safe token source.
mod client;
// People sign in: the browser flow, and configs from a stored sign-in.
mod login;
// Signed embed URLs.
mod embed;
// A timed probe of the endpoint, for `sigma-token doctor`.
mod probe;

/// The C ABI (`include/sigma_auth.h`). Public only so that the tests can call
/// it from Rust; not part of the Rust API.
#[doc(hidden)]
#[allow(unsafe_code)]
pub mod ffi;

pub use client::{monotonic_ns, Client};
pub use config::Config;
pub use embed::{encrypt_embed_oauth_token, sign_embed_url, MAX_EMBED_TTL};
pub use endpoint::{Endpoint, Origin, CLOUDS};
pub use error::{Error, ErrorCode, Result};
pub use login::{
    begin_login, logout, profiles, Backend as LoginBackend, LoginOptions, PendingLogin, Profile, SignedIn,
    DEFAULT_LOGIN_TIMEOUT, DEFAULT_PROFILE, DEFAULT_SCOPES,
};
pub use oauth::{get_token, impersonate_token, refresh_token};
pub use observe::{Event, EventCallback, EventKind, Stats};
pub use probe::{probe, probe_token_store, Lookup, Probe, StoreProbe, WhoAmI};
pub use settings::ClientAuth;
pub use store::cache::check_dir as check_token_cache_dir;
pub use token::Token;
pub use transport::proxy::ProxyChoice;

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
