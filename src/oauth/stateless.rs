//! Token requests with no cache and no client: one call, one answer.

use super::{request_token, Grant, Subject};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::observe::{Event, EventKind, Trace};
use crate::token::{self, Token};

/// Requests a new token with the client-credentials grant (no caching).
pub fn get_token(config: &Config) -> Result<Token> {
    stateless(config, Grant::ClientCredentials)
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
    stateless(config, Grant::RefreshToken(refresh_token))
}

/// One stateless request, its events delivered when it is done.
fn stateless(config: &Config, grant: Grant<'_>) -> Result<Token> {
    let mut trace = Trace::default();
    let started = std::time::Instant::now();
    let result = request_token(config, grant, config.deadline(), &mut trace);
    trace.push(match &result {
        Ok(token) => Event {
            grant: Some(grant.name()),
            duration: Some(started.elapsed()),
            serial: Some(token.serial()),
            expires_in: Some(token.expires_in()),
            ..Event::new(EventKind::TokenObtained)
        },
        Err(error) => Event {
            grant: Some(grant.name()),
            duration: Some(started.elapsed()),
            ..Event::failure(EventKind::RefreshFailed, error)
        },
    });
    trace.deliver(config.events());
    result
}

/// A token for `email` (in `tenant`, if given), without caching: a new admin
/// token with the client-credentials grant, then one exchange.
pub fn impersonate_token(config: &Config, email: &str, tenant: Option<&str>) -> Result<Token> {
    let subject = Subject::new(email, tenant)?;
    let deadline = config.deadline();
    let mut trace = Trace::default();
    let admin = request_token(config, Grant::ClientCredentials, deadline, &mut trace);
    let result = admin.and_then(|admin| {
        let subject_token = subject.token(config);
        let grant = Grant::Exchange { subject_token: &subject_token, actor_token: admin.access_token() };
        request_token(config, grant, deadline, &mut trace)
    });
    trace.deliver(config.events());
    result
}
