//! One token request over HTTP, and the retry policy around it.

use std::time::{Duration, Instant, SystemTime};

use super::classify::{body_error, parse_retry_after, status_error, transport_error, MAX_RESPONSE_BYTES};
use super::grant::Grant;
use super::scrub::Scrubber;
use super::{pacing, refused};
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::observe::{Event, EventKind, Trace};
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
    // The grants that present the client's own secret: a refusal of it is remembered.
    let credential = grant.uses_client_secret().then(|| refused::key(settings));
    if let Some(refusal) = credential.as_deref().and_then(refused::recent) {
        return Err(refusal);
    }
    let result = attempts(config, grant, deadline, trace);
    if let Some(key) = credential {
        match &result {
            // Only Sigma's own verdict (its JSON), not a proxy's or an edge's page.
            Err(error) if error.code() == ErrorCode::InvalidClient && error.verdict => refused::remember(key, error),
            Ok(_) => refused::forget(&key),
            Err(_) => {}
        }
    }
    result
}

/// The attempts of one request, retried as the policy says, by `deadline`.
fn attempts(config: &Config, grant: Grant<'_>, deadline: Instant, trace: &mut Trace) -> Result<Token> {
    let settings = config.settings();
    let mut attempts = 0;
    loop {
        attempts += 1;
        // This endpoint's turn (see pacing.rs): queued within our deadline.
        let turn = pacing::turn(config, deadline).map_err(|e| after_attempts(e, attempts - 1))?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::new(ErrorCode::Timeout, "the overall deadline passed before a token was obtained"));
        }
        let error = match attempt(config, grant, remaining) {
            Ok(token) => return Ok(token),
            Err(error) => error,
        };
        if error.code() == ErrorCode::RateLimited && error.http_status().is_some() {
            turn.throttled();
        }
        drop(turn);
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

/// Full-jitter exponential backoff. A rate limit waits at least 2 s (a
/// `Retry-After` of 0 included: Sigma's edge sends none or too little), with
/// jitter above that floor so that clients throttled together do not retry in
/// step; a longer `Retry-After` is honoured, with the same jitter.
fn wait_before_retry(error: &Error, attempts: u32) -> Duration {
    let ceiling = BACKOFF_BASE.saturating_mul(1 << attempts.min(16)).min(BACKOFF_CAP);
    let jittered = ceiling.mul_f64(random_fraction());
    if error.code() == ErrorCode::RateLimited {
        let floor = error.retry_after.unwrap_or(Duration::ZERO).max(MIN_RATE_LIMIT_WAIT);
        return floor + ceiling.mul_f64(0.5 * random_fraction());
    }
    match error.retry_after {
        Some(asked) => asked,
        None => jittered,
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
        secrets.extend(grant.secrets());
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

    let settings = config.settings();
    let body = grant.body(settings);
    let mut request = agent
        .post(settings.token_url())
        .config()
        .timeout_global(Some(remaining))
        .build()
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(authorization) = &body.authorization {
        request = request.header("authorization", authorization.as_str());
    }

    let mut response = request.send(body.form.as_bytes()).map_err(|e| scrubber().error(transport_error(e)))?;
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
    fn backoff_is_jittered_below_its_cap_and_a_rate_limit_waits_two_seconds_and_more() {
        for attempts in 1..6 {
            let wait = wait_before_retry(&Error::new(ErrorCode::Server, "x"), attempts);
            assert!(wait <= BACKOFF_CAP);
            let wait = wait_before_retry(&Error::new(ErrorCode::RateLimited, "x"), attempts);
            assert!(wait >= MIN_RATE_LIMIT_WAIT && wait <= MIN_RATE_LIMIT_WAIT + BACKOFF_CAP);
            let mut zero = Error::new(ErrorCode::RateLimited, "x");
            zero.retry_after = Some(Duration::ZERO);
            assert!(wait_before_retry(&zero, attempts) >= MIN_RATE_LIMIT_WAIT, "Retry-After: 0 waits the floor");
        }
        // Not in lockstep: clients throttled together spread their retries.
        let waits: std::collections::HashSet<u128> =
            (0..20).map(|_| wait_before_retry(&Error::new(ErrorCode::RateLimited, "x"), 1).as_millis()).collect();
        assert!(waits.len() > 5, "{waits:?}");
    }
}
