//! One token exchange over HTTP, and the retry policy around it.

use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{ClientAuth, Config};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, EventKind, Trace};
use crate::scrub::{Scrubber, WITHHELD};
use crate::token::{self, Token};

/// Responses larger than this are refused: a token response is a few hundred bytes.
pub(crate) const MAX_RESPONSE_BYTES: u64 = 64 * 1024;
/// Without a Retry-After, a 429 waits at least this long (Sigma's CDN may send none).
const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_secs(2);
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// Which OAuth grant a request uses.
#[derive(Clone, Copy)]
pub(crate) enum Grant<'a> {
    ClientCredentials,
    RefreshToken(&'a str),
    /// RFC 8693 token exchange (Sigma's impersonation): a token for the user
    /// named by `subject_token` (a JWT signed with the client secret), asked for
    /// by the admin whose access token is `actor_token`. No client credentials
    /// are sent: the admin's token, also as `Authorization: Bearer`, vouches.
    Exchange {
        subject_token: &'a str,
        actor_token: &'a str,
    },
}

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

impl Grant<'_> {
    /// The grant's name in events and counters.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::Exchange { .. } => "token_exchange",
        }
    }
}

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

pub(crate) fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
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

/// Classifies a non-200 answer, keeping Sigma's message and requestId unless
/// they give a secret away.
fn status_error(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    grant: Grant<'_>,
    scrubber: &Scrubber,
) -> Error {
    let envelope: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| envelope.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str);
    let oauth_error = field("error");
    let request_id = field("requestId").filter(|id| Scrubber::plausible_request_id(id));
    let [message, description, code, request_id] =
        scrubber.fields([field("message"), field("error_description"), field("code"), request_id]);
    let withheld = (field("message").is_some() && message.is_none())
        || (field("error_description").is_some() && description.is_none())
        || (field("code").is_some() && code.is_none());
    let server_message = match (message.or(description), withheld) {
        (_, true) => Some(WITHHELD.to_string()),
        (said, false) => said,
    };

    let about_client = oauth_error == Some("invalid_client")
        || field("message").or(field("error_description")).is_some_and(|m| m.to_ascii_lowercase().contains("client"));
    let (code, what) = match (status, grant) {
        (401, Grant::Exchange { .. }) => {
            (ErrorCode::InvalidClient, "Sigma refused the admin's token or the signed subject token".to_string())
        }
        (403, Grant::Exchange { .. }) => (
            ErrorCode::Forbidden,
            "Sigma refused to let these credentials act as this user (they must be an admin's, and the user not an admin)"
                .to_string(),
        ),
        (400 | 404, Grant::Exchange { .. }) => (ErrorCode::InvalidGrant, "Sigma refused the user to act as".to_string()),
        (400 | 401 | 403, Grant::RefreshToken(_)) if !about_client => {
            (ErrorCode::InvalidGrant, "Sigma refused the refresh token".to_string())
        }
        (400 | 401 | 403, _) => (ErrorCode::InvalidClient, "Sigma refused the client credentials".to_string()),
        (429, _) => (ErrorCode::RateLimited, "Sigma is rate limiting token requests".to_string()),
        (500..=599, _) => (ErrorCode::Server, format!("Sigma answered with server error {status}")),
        (300..=399, _) => (
            ErrorCode::Http,
            format!("the token endpoint answered with redirect {status}, which is never followed (credentials stay with the configured host)"),
        ),
        _ => (ErrorCode::Http, format!("the token endpoint answered with unexpected status {status}")),
    };
    let message = match server_message {
        Some(said) if !said.trim().is_empty() => format!("{what}: {said}"),
        _ => what,
    };
    let mut error = Error::new(code, message).with_response(status, request_id);
    error.retry_after = retry_after;
    error
}

fn transport_error(error: ureq::Error) -> Error {
    use ureq::Error as E;
    match error {
        E::Timeout(what) => Error::new(ErrorCode::Timeout, format!("the token request timed out ({what})")),
        E::HostNotFound => Error::new(ErrorCode::Network, "the token endpoint's host name did not resolve"),
        E::ConnectionFailed => Error::new(ErrorCode::Network, "could not connect to the token endpoint"),
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            Error::new(ErrorCode::Timeout, "the token request timed out")
        }
        // rustls reports certificate problems as InvalidData I/O errors.
        E::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            Error::new(ErrorCode::Network, format!("TLS failed: {io}"))
        }
        E::Io(io) => Error::new(ErrorCode::Network, format!("network error talking to the token endpoint: {io}")),
        E::Tls(what) => Error::new(ErrorCode::Network, format!("TLS failed: {what}")),
        E::Rustls(e) => Error::new(ErrorCode::Network, format!("TLS failed: {e}")),
        E::Protocol(e) => Error::new(ErrorCode::Protocol, format!("the server broke the HTTP protocol: {e}")),
        E::ConnectProxyFailed(why) if why.contains("407") => Error::new(
            ErrorCode::Network,
            "the proxy refused to connect to Sigma: it wants credentials (407 Proxy Authentication Required); \
             give them in the proxy URL, as HTTPS_PROXY=http://user:password@proxy:port",
        ),
        E::ConnectProxyFailed(why) => {
            Error::new(ErrorCode::Network, format!("the proxy could not connect to Sigma ({why})"))
        }
        E::InvalidProxyUrl => Error::invalid_argument("the proxy URL (HTTPS_PROXY or ALL_PROXY) is not valid"),
        E::BodyExceedsLimit(_) => body_error(error),
        other => Error::new(ErrorCode::Network, format!("the token request failed: {other}")),
    }
}

fn body_error(error: ureq::Error) -> Error {
    match error {
        ureq::Error::BodyExceedsLimit(_) => Error::new(
            ErrorCode::Protocol,
            format!("the token response is larger than {} KiB", MAX_RESPONSE_BYTES / 1024),
        ),
        ureq::Error::Timeout(_) => {
            Error::new(ErrorCode::Timeout, "the token response did not arrive within the deadline")
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            Error::new(ErrorCode::Timeout, "the token response did not arrive within the deadline")
        }
        ureq::Error::Io(io) => Error::new(
            ErrorCode::Network,
            format!("the connection broke while reading the token response: {}", io.kind()),
        ),
        other => transport_error(other),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn append_field(form: &mut String, name: &str, value: &str) {
    if !form.is_empty() {
        form.push('&');
    }
    encode_into(form, name);
    form.push('=');
    encode_into(form, value);
}

/// application/x-www-form-urlencoded, as browsers and curl's --data-urlencode do.
fn encode_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(byte >> 4) as usize] as char);
                out.push(HEX[(byte & 15) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_everything_but_unreserved() {
        let mut out = String::new();
        append_field(&mut out, "client_secret", "a b&c=d/é+");
        append_field(&mut out, "x", "-._*~");
        assert_eq!(out, "client_secret=a+b%26c%3Dd%2F%C3%A9%2B&x=-._*%7E");
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let parsed = parse_retry_after(&later).unwrap();
        assert!(parsed > Duration::from_secs(27) && parsed <= Duration::from_secs(30), "{parsed:?}");
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_is_jittered_below_its_cap_and_429_waits_two_seconds() {
        for attempts in 1..6 {
            let wait = wait_before_retry(&Error::new(ErrorCode::Server, "x"), attempts);
            assert!(wait <= BACKOFF_CAP);
            let wait = wait_before_retry(&Error::new(ErrorCode::RateLimited, "x"), attempts);
            assert!(wait >= MIN_RATE_LIMIT_WAIT);
        }
    }

    #[test]
    fn statuses_map_to_stable_codes() {
        let cc = Grant::ClientCredentials;
        let rt = Grant::RefreshToken("r");
        let none = Scrubber::new(&[]);
        let code = |status, body: &str, grant| status_error(status, body.as_bytes(), None, grant, &none).code();
        assert_eq!(code(401, r#"{"message":"Invalid client credentials"}"#, cc), ErrorCode::InvalidClient);
        assert_eq!(code(400, "", cc), ErrorCode::InvalidClient);
        assert_eq!(code(401, r#"{"message":"Refresh token expired"}"#, rt), ErrorCode::InvalidGrant);
        assert_eq!(code(400, r#"{"error":"invalid_grant"}"#, rt), ErrorCode::InvalidGrant);
        assert_eq!(code(401, r#"{"message":"Invalid client credentials"}"#, rt), ErrorCode::InvalidClient);
        assert_eq!(code(429, "<html>", cc), ErrorCode::RateLimited);
        assert_eq!(code(503, "", cc), ErrorCode::Server);
        assert_eq!(code(302, "", cc), ErrorCode::Http);
        assert_eq!(code(404, "", cc), ErrorCode::Http);
        let err = status_error(401, br#"{"message":"nope","requestId":"abc123"}"#, None, cc, &none);
        assert_eq!((err.http_status(), err.request_id()), (Some(401), Some("abc123")));
        assert!(err.message().ends_with(": nope"));
    }
}
