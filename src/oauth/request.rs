//! One token request over HTTP, and the retry policy around it.

use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use zeroize::Zeroizing;

use super::classify::{body_error, parse_retry_after, status_error, transport_error, MAX_RESPONSE_BYTES};
use super::grant::{append_field, encode_into, Grant, TOKEN_EXCHANGE};
use super::scrub::Scrubber;
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::observe::{Event, EventKind, Trace};
use crate::settings::ClientAuth;
use crate::sys::random_fraction;
use crate::token::{self, Token};

/// Without a Retry-After, a 429 waits at least this long (Sigma's CDN may send none).
const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_secs(2);
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// Requests a token, retrying network errors, 429 and 5xx with backoff and
/// jitter, never past `deadline` (which the caller may share between several
/// requests of one call: the refresh grant and its fallback, a wait for the
/// token cache's lock).
///
/// Each retry is noted in `trace` (a RETRY_SCHEDULED event).
pub(crate) fn request_token(config: &Config, grant: Grant<'_>, deadline: Instant, trace: &mut Trace) -> Result<Token> {
    let settings = config.settings();
    trace.grant = Some(grant.name());
    let mut attempts = 0;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::new(ErrorCode::Timeout, "the overall deadline passed before a token was obtained"));
        }
        let error = match attempt(config, grant, remaining) {
            Ok(token) => return Ok(token),
            Err(error) => error,
        };
        if !error.code().is_transient() || attempts >= settings.max_attempts {
            return Err(after_attempts(error, attempts));
        }
        let wait = wait_before_retry(&error, attempts);
        let remaining = deadline.saturating_duration_since(Instant::now());
        if wait >= remaining {
            let message = match error.retry_after {
                Some(asked) => format!(
                    "{}; the server asked to wait {} s, beyond the remaining deadline of {} ms",
                    error.message(),
                    asked.as_secs(),
                    remaining.as_millis()
                ),
                None => error.message().to_string(),
            };
            return Err(after_attempts(error.with_message(message), attempts));
        }
        trace.push(Event {
            grant: Some(grant.name()),
            attempt: attempts,
            wait: Some(wait),
            ..Event::failure(EventKind::RetryScheduled, &error)
        });
        std::thread::sleep(wait);
    }
}

fn after_attempts(error: Error, attempts: u32) -> Error {
    if attempts < 2 {
        return error;
    }
    let message = format!("{} (after {attempts} attempts)", error.message());
    error.with_message(message)
}

/// Full-jitter exponential backoff; a server's Retry-After wins; a 429 without
/// one waits at least 2 s.
fn wait_before_retry(error: &Error, attempts: u32) -> Duration {
    if let Some(asked) = error.retry_after {
        return asked;
    }
    let ceiling = BACKOFF_BASE.saturating_mul(1 << attempts.min(16)).min(BACKOFF_CAP);
    let jittered = ceiling.mul_f64(random_fraction());
    if error.code() == ErrorCode::RateLimited {
        jittered.max(MIN_RATE_LIMIT_WAIT)
    } else {
        jittered
    }
}

/// One request and its response, within `remaining`. No error carries a secret
/// of the request in any form a server could echo it (see `scrub.rs`).
fn attempt(config: &Config, grant: Grant<'_>, remaining: Duration) -> Result<Token> {
    let agent = config.agent();
    attempt_on(agent.as_ref().map_err(Clone::clone)?, config, grant, remaining)
}

/// [`attempt`] on a given agent (`sigma-token doctor` times one of its own).
pub(crate) fn attempt_on(agent: &ureq::Agent, config: &Config, grant: Grant<'_>, remaining: Duration) -> Result<Token> {
    let settings = config.settings();
    let scrubber = || {
        let mut secrets = vec![settings.client_secret.expose()];
        match grant {
            Grant::ClientCredentials => {}
            Grant::RefreshToken(refresh) => secrets.push(refresh),
            Grant::Exchange { subject_token, actor_token } => secrets.extend([subject_token, actor_token]),
        }
        Scrubber::new(&secrets)
    };
    exchange(agent, config, grant, remaining, &scrubber)
}

fn exchange(
    agent: &ureq::Agent,
    config: &Config,
    grant: Grant<'_>,
    remaining: Duration,
    scrubber: &dyn Fn() -> Scrubber,
) -> Result<Token> {
    let requested_at = Instant::now();
    let requested_wall = SystemTime::now();

    let mut form = Zeroizing::new(String::with_capacity(256));
    match grant {
        Grant::ClientCredentials => append_field(&mut form, "grant_type", "client_credentials"),
        Grant::RefreshToken(refresh) => {
            append_field(&mut form, "grant_type", "refresh_token");
            append_field(&mut form, "refresh_token", refresh);
        }
        Grant::Exchange { subject_token, actor_token } => {
            append_field(&mut form, "grant_type", TOKEN_EXCHANGE);
            append_field(&mut form, "subject_token", subject_token);
            append_field(&mut form, "subject_token_type", "urn:ietf:params:oauth:token-type:jwt");
            append_field(&mut form, "actor_token", actor_token);
            append_field(&mut form, "actor_token_type", "urn:ietf:params:oauth:token-type:access_token");
        }
    }
    let settings = config.settings();
    let mut request = agent
        .post(settings.endpoint.token_url())
        .config()
        .timeout_global(Some(remaining))
        .build()
        .header("content-type", "application/x-www-form-urlencoded");
    match (grant, settings.client_auth) {
        (Grant::Exchange { actor_token, .. }, _) => {
            request = request.header("authorization", Zeroizing::new(format!("Bearer {actor_token}")).as_str());
        }
        (_, ClientAuth::Form) => {
            append_field(&mut form, "client_id", &settings.client_id);
            append_field(&mut form, "client_secret", settings.client_secret.expose());
        }
        (_, ClientAuth::Basic) => {
            // RFC 6749 §2.3.1: each part form-encoded, then base64.
            let mut pair = Zeroizing::new(String::new());
            encode_into(&mut pair, &settings.client_id);
            pair.push(':');
            encode_into(&mut pair, settings.client_secret.expose());
            let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
            request = request.header("authorization", format!("Basic {}", encoded.as_str()));
        }
    }

    let mut response = request.send(form.as_bytes()).map_err(|e| scrubber().error(transport_error(e)))?;
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(|e| scrubber().error(body_error(e)))?;

    if status == 200 {
        return token::parse_response(&body, requested_at, requested_wall);
    }
    Err(status_error(status, &body, retry_after, grant, &scrubber()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_below_its_cap_and_429_waits_two_seconds() {
        for attempts in 1..6 {
            let wait = wait_before_retry(&Error::new(ErrorCode::Server, "x"), attempts);
            assert!(wait <= BACKOFF_CAP);
            let wait = wait_before_retry(&Error::new(ErrorCode::RateLimited, "x"), attempts);
            assert!(wait >= MIN_RATE_LIMIT_WAIT);
        }
    }
}
