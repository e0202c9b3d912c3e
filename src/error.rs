//! Errors: a stable code, a human message, and what the server said, never a secret.

use std::fmt;
use std::time::Duration;

/// What went wrong, as a stable classification. The C ABI's `sigma_status` uses
/// the same numbers, so they never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// NULL where not allowed, not UTF-8, malformed URL, unknown cloud name, ...
    InvalidArgument = 1,
    /// A plain `http://` endpoint that is not on loopback.
    InsecureUrl = 2,
    /// DNS, connect, TLS or a connection reset.
    Network = 3,
    /// The connect timeout or the overall deadline passed.
    Timeout = 4,
    /// Sigma refused the client id/secret.
    InvalidClient = 5,
    /// Sigma refused the refresh token (unknown, used, or expired).
    InvalidGrant = 6,
    /// 429 after the retries (or a Retry-After beyond the deadline).
    RateLimited = 7,
    /// 5xx after the retries.
    Server = 8,
    /// Any other unexpected HTTP status, a redirect included.
    Http = 9,
    /// A malformed, non-JSON, oversized or incomplete response.
    Protocol = 10,
    /// A bug in this library (a caught panic, a poisoned lock).
    Internal = 11,
    /// Sigma refused to let these credentials act as that user (403): they are
    /// not an admin's, or the user is an admin.
    Forbidden = 12,
}

impl ErrorCode {
    /// The stable upper-case name, e.g. `"INVALID_CLIENT"`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::InsecureUrl => "INSECURE_URL",
            ErrorCode::Network => "NETWORK",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::InvalidClient => "INVALID_CLIENT",
            ErrorCode::InvalidGrant => "INVALID_GRANT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Server => "SERVER",
            ErrorCode::Http => "HTTP",
            ErrorCode::Protocol => "PROTOCOL",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Forbidden => "FORBIDDEN",
        }
    }

    /// Whether a new attempt may succeed where this one failed.
    pub(crate) fn is_transient(self) -> bool {
        matches!(self, ErrorCode::Network | ErrorCode::Timeout | ErrorCode::RateLimited | ErrorCode::Server)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error from this library. Its message never contains the client secret, an
/// access token, a refresh token or a request body.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
    http_status: Option<u16>,
    request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

impl Error {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), http_status: None, request_id: None, retry_after: None }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidArgument, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }

    pub(crate) fn with_response(mut self, http_status: u16, request_id: Option<String>) -> Self {
        self.http_status = Some(http_status);
        self.request_id = request_id;
        self
    }

    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// What happened, in one sentence, with Sigma's own message when it sent one.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the response, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// Sigma's `requestId` from the error envelope, for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(status) = self.http_status {
            write!(f, " (HTTP {status}")?;
            if let Some(id) = &self.request_id {
                write!(f, ", requestId {id}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("http_status", &self.http_status)
            .field("request_id", &self.request_id)
            .finish()
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
