//! Errors: a stable code, a human message, and what the server said, never a secret.

use std::fmt;
use std::time::Duration;

/// Declares [`ErrorCode`] from one table: value, variant, stable name and
/// description. Everything else about the codes (the C `sigma_status`, the
/// header, the command's exit statuses) is derived from or checked against it.
macro_rules! error_codes {
    ($($value:literal $variant:ident $name:literal $description:literal,)*) => {
        /// What went wrong, as a stable classification. The C ABI's `sigma_status`
        /// uses the same numbers and names, so they never change once published.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(#[doc = $description] $variant = $value,)*
        }

        impl ErrorCode {
            /// Every code, in order of value (1, 2, 3, ...).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The stable upper-case name, e.g. `"INVALID_CLIENT"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The name followed by a NUL byte, for lending to C.
            pub(crate) fn name_with_nul(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => concat!($name, "\0"),)*
                }
            }

            /// What the code means, in one sentence (its documentation here and
            /// in the C header, and the command's help).
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $description,)*
                }
            }
        }
    };
}

error_codes! {
    1 InvalidArgument "INVALID_ARGUMENT" "An argument or setting is missing or malformed (a NULL, not UTF-8, a bad URL, an unknown cloud name).",
    2 InsecureUrl "INSECURE_URL" "A plain http:// endpoint that is not on loopback.",
    3 Network "NETWORK" "DNS, connect, TLS or a connection reset.",
    4 Timeout "TIMEOUT" "The connect timeout or the overall deadline passed.",
    5 InvalidClient "INVALID_CLIENT" "Sigma refused the client id or secret.",
    6 InvalidGrant "INVALID_GRANT" "Sigma refused the refresh token (unknown, used or expired).",
    7 RateLimited "RATE_LIMITED" "429 after the retries, or a Retry-After beyond the deadline.",
    8 Server "SERVER" "5xx after the retries.",
    9 Http "HTTP" "Any other unexpected HTTP status, redirects included.",
    10 Protocol "PROTOCOL" "A malformed, non-JSON, oversized or incomplete response.",
    11 Internal "INTERNAL" "A bug in sigma-auth, such as a caught panic.",
    12 Forbidden "FORBIDDEN" "Sigma refused to let these credentials act as that user (not an admin's credentials, or the user is an admin).",
    13 LoginRequired "LOGIN_REQUIRED" "No stored sign-in for this profile, or Sigma refused its refresh token: sign in again (sigma-token login).",
    14 LoginDenied "LOGIN_DENIED" "The sign-in was declined in the browser, or the authorization server refused it.",
    15 LoginUnavailable "LOGIN_UNAVAILABLE" "The host offers no browser sign-in, or its discovery documents name endpoints off Sigma's hosts (refused before any browser opens).",
}

// `ALL` lists the codes in order of value, with no gap: ALL[i] has value i + 1.
const _: () = {
    let mut i = 0;
    while i < ErrorCode::ALL.len() {
        assert!(ErrorCode::ALL[i] as usize == i + 1);
        i += 1;
    }
};

impl ErrorCode {
    /// The code with this value (as in `sigma_status`), if there is one.
    pub(crate) fn from_value(value: u32) -> Option<ErrorCode> {
        let index = usize::try_from(value).ok()?.checked_sub(1)?;
        ErrorCode::ALL.get(index).copied()
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
    /// Whether the answer was Sigma's own JSON (not a proxy's or an edge's page).
    pub(crate) verdict: bool,
}

impl Error {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), http_status: None, request_id: None, retry_after: None, verdict: false }
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

    /// What went wrong, as a stable code.
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

/// A result whose error is this library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
