//! OAuth token requests: the grants and their form bodies, the request with its
//! retry policy, what each answer means, the scrubbing that keeps secrets out
//! of errors, the JWTs of impersonation, and the stateless calls built on them.
//! A new way to get a token (a person's sign-in) is a new grant here and a new
//! source in `client/`.

mod classify;
mod grant;
pub(crate) mod jwt;
mod pacing;
mod refused;
mod request;
pub(crate) mod scrub;
pub(crate) mod signin;
mod stateless;
mod subject;

pub(crate) use grant::{append_field, Grant};
pub(crate) use request::{attempt_on, request_token};
pub use stateless::{get_token, impersonate_token, refresh_token};
pub(crate) use subject::{check_email, Subject};
