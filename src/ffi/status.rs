//! `sigma_status`, `sigma_status_name` and `sigma_version`.
//!
//! The codes are one table, `ErrorCode` in `src/error.rs`. `sigma_status` repeats
//! it as a literal enum only because cbindgen cannot expand the macro that
//! declares `ErrorCode`; the assertion below and the header test in
//! `tests/ffi.rs` keep the two equal (values, names and descriptions).

use std::ffi::c_char;

use crate::error::ErrorCode;

/// The result of every fallible call. The values are part of the ABI and are
/// never renumbered; new ones are only ever appended.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigma_status {
    SIGMA_STATUS_OK = 0,
    /// An argument or setting is missing or malformed (a NULL, not UTF-8, a bad
    /// URL, an unknown cloud name).
    SIGMA_STATUS_INVALID_ARGUMENT = 1,
    /// A plain http:// endpoint that is not on loopback.
    SIGMA_STATUS_INSECURE_URL = 2,
    /// DNS, connect, TLS or a connection reset.
    SIGMA_STATUS_NETWORK = 3,
    /// The connect timeout or the overall deadline passed.
    SIGMA_STATUS_TIMEOUT = 4,
    /// Sigma refused the client id or secret.
    SIGMA_STATUS_INVALID_CLIENT = 5,
    /// Sigma refused the refresh token (unknown, used or expired).
    SIGMA_STATUS_INVALID_GRANT = 6,
    /// 429 after the retries, or a Retry-After beyond the deadline.
    SIGMA_STATUS_RATE_LIMITED = 7,
    /// 5xx after the retries.
    SIGMA_STATUS_SERVER = 8,
    /// Any other unexpected HTTP status, redirects included.
    SIGMA_STATUS_HTTP = 9,
    /// A malformed, non-JSON, oversized or incomplete response.
    SIGMA_STATUS_PROTOCOL = 10,
    /// A bug in sigma-auth, such as a caught panic.
    SIGMA_STATUS_INTERNAL = 11,
    /// Sigma refused to let these credentials act as that user (not an admin's
    /// credentials, or the user is an admin).
    SIGMA_STATUS_FORBIDDEN = 12,
    /// No stored sign-in for this profile, or Sigma refused its refresh token:
    /// sign in again (sigma-token login).
    SIGMA_STATUS_LOGIN_REQUIRED = 13,
    /// The sign-in was declined in the browser, or the authorization server
    /// refused it.
    SIGMA_STATUS_LOGIN_DENIED = 14,
    /// The host offers no browser sign-in, or its discovery documents name
    /// endpoints off Sigma's hosts (refused before any browser opens).
    SIGMA_STATUS_LOGIN_UNAVAILABLE = 15,
}

impl sigma_status {
    /// The status of an error code: the variant of the same name.
    const fn of(code: ErrorCode) -> sigma_status {
        use sigma_status::*;
        match code {
            ErrorCode::InvalidArgument => SIGMA_STATUS_INVALID_ARGUMENT,
            ErrorCode::InsecureUrl => SIGMA_STATUS_INSECURE_URL,
            ErrorCode::Network => SIGMA_STATUS_NETWORK,
            ErrorCode::Timeout => SIGMA_STATUS_TIMEOUT,
            ErrorCode::InvalidClient => SIGMA_STATUS_INVALID_CLIENT,
            ErrorCode::InvalidGrant => SIGMA_STATUS_INVALID_GRANT,
            ErrorCode::RateLimited => SIGMA_STATUS_RATE_LIMITED,
            ErrorCode::Server => SIGMA_STATUS_SERVER,
            ErrorCode::Http => SIGMA_STATUS_HTTP,
            ErrorCode::Protocol => SIGMA_STATUS_PROTOCOL,
            ErrorCode::Internal => SIGMA_STATUS_INTERNAL,
            ErrorCode::Forbidden => SIGMA_STATUS_FORBIDDEN,
            ErrorCode::LoginRequired => SIGMA_STATUS_LOGIN_REQUIRED,
            ErrorCode::LoginDenied => SIGMA_STATUS_LOGIN_DENIED,
            ErrorCode::LoginUnavailable => SIGMA_STATUS_LOGIN_UNAVAILABLE,
        }
    }
}

// Every code maps to the status with its value (the names are compared by
// `tests/ffi.rs`, which reads the header).
const _: () = {
    let mut i = 0;
    while i < ErrorCode::ALL.len() {
        let code = ErrorCode::ALL[i];
        assert!(sigma_status::of(code) as u32 == code as u32);
        i += 1;
    }
};

impl From<ErrorCode> for sigma_status {
    fn from(code: ErrorCode) -> Self {
        sigma_status::of(code)
    }
}

/// The name of a status, e.g. "INVALID_CLIENT", or "UNKNOWN" for a value this
/// version does not know. Takes the value as a plain integer so that any number
/// a C caller passes is safe. The string is static: never free it.
#[no_mangle]
pub extern "C" fn sigma_status_name(status: u32) -> *const c_char {
    let name = match status {
        0 => "OK\0",
        value => ErrorCode::from_value(value).map_or("UNKNOWN\0", ErrorCode::name_with_nul),
    };
    name.as_ptr().cast()
}

/// The library version, e.g. "0.1.0". The string is static: never free it.
#[no_mangle]
pub extern "C" fn sigma_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
