//! `sigma_status`, `sigma_status_name` and `sigma_version`.

use std::ffi::c_char;

use crate::error::ErrorCode;

/// The result of every fallible call. The values are part of the ABI and are
/// never renumbered; new ones are only ever appended.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigma_status {
    SIGMA_STATUS_OK = 0,
    /// NULL where not allowed, not UTF-8, malformed URL, unknown cloud name.
    SIGMA_STATUS_INVALID_ARGUMENT = 1,
    /// An `http://` endpoint that is not loopback.
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
}

impl From<ErrorCode> for sigma_status {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidArgument => sigma_status::SIGMA_STATUS_INVALID_ARGUMENT,
            ErrorCode::InsecureUrl => sigma_status::SIGMA_STATUS_INSECURE_URL,
            ErrorCode::Network => sigma_status::SIGMA_STATUS_NETWORK,
            ErrorCode::Timeout => sigma_status::SIGMA_STATUS_TIMEOUT,
            ErrorCode::InvalidClient => sigma_status::SIGMA_STATUS_INVALID_CLIENT,
            ErrorCode::InvalidGrant => sigma_status::SIGMA_STATUS_INVALID_GRANT,
            ErrorCode::RateLimited => sigma_status::SIGMA_STATUS_RATE_LIMITED,
            ErrorCode::Server => sigma_status::SIGMA_STATUS_SERVER,
            ErrorCode::Http => sigma_status::SIGMA_STATUS_HTTP,
            ErrorCode::Protocol => sigma_status::SIGMA_STATUS_PROTOCOL,
            ErrorCode::Internal => sigma_status::SIGMA_STATUS_INTERNAL,
            ErrorCode::Forbidden => sigma_status::SIGMA_STATUS_FORBIDDEN,
        }
    }
}

/// The name of a status, e.g. "INVALID_CLIENT", or "UNKNOWN" for a value this
/// version does not know. Takes the value as a plain integer so that any number
/// a C caller passes is safe. The string is static: never free it.
#[no_mangle]
pub extern "C" fn sigma_status_name(status: u32) -> *const c_char {
    let name: &'static std::ffi::CStr = match status {
        0 => c"OK",
        1 => c"INVALID_ARGUMENT",
        2 => c"INSECURE_URL",
        3 => c"NETWORK",
        4 => c"TIMEOUT",
        5 => c"INVALID_CLIENT",
        6 => c"INVALID_GRANT",
        7 => c"RATE_LIMITED",
        8 => c"SERVER",
        9 => c"HTTP",
        10 => c"PROTOCOL",
        11 => c"INTERNAL",
        12 => c"FORBIDDEN",
        _ => c"UNKNOWN",
    };
    name.as_ptr()
}

/// The library version, e.g. "0.1.0". The string is static: never free it.
#[no_mangle]
pub extern "C" fn sigma_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
