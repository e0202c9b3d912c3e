//! What an answer, or its absence, means: a stable code and a message that
//! keeps Sigma's words unless they give a secret away.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::grant::Grant;
use super::scrub::{Scrubber, WITHHELD};
use crate::error::{Error, ErrorCode};

/// Responses larger than this are refused: a token response is a few hundred bytes.
pub(crate) const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// Classifies a non-200 answer, keeping Sigma's message and requestId unless
/// they give a secret away.
pub(super) fn status_error(
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

    // Sigma answers in JSON; a 403, 429 or 503 that is not JSON (an HTML page,
    // say) comes from the CDN in front of it, throttling or challenging: a
    // wait, not a verdict on the credentials. The page itself is never kept.
    // Sigma's JSON says something: an error, a message, a code, a requestId.
    let sigmas =
        ["error", "message", "error_description", "code", "requestId"].iter().any(|name| field(name).is_some());
    if !sigmas && matches!(status, 403 | 429 | 503) {
        let page = String::from_utf8_lossy(&body[..body.len().min(512)]).trim_start().to_ascii_lowercase();
        let what = if page.is_empty() {
            "an empty body"
        } else if page.starts_with('<') {
            "an HTML page"
        } else {
            "a body that is not Sigma's JSON"
        };
        let (code, meaning) = match status {
            503 => (ErrorCode::Server, "unavailable or throttled for a moment"),
            _ => (ErrorCode::RateLimited, "throttled or blocked for a moment; not a credentials problem"),
        };
        let mut error = Error::new(code, format!("Sigma's edge answered {status} with {what}: {meaning}"))
            .with_response(status, None);
        error.retry_after = retry_after;
        return error;
    }
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
        // Only a verdict on the refresh token (or on the public client) ends a
        // sign-in; another 4xx (invalid_request, a proxy's JSON 403) does not.
        (400 | 401 | 403, Grant::PublicRefresh { .. })
            if matches!(oauth_error, Some("invalid_grant" | "invalid_client")) || (status == 401 && oauth_error.is_none()) =>
        {
            (
                ErrorCode::LoginRequired,
                "Sigma refused the stored sign-in (its refresh token was used, revoked or expired): sign in again \
                 with `sigma-token login`"
                    .to_string(),
            )
        }
        (400 | 401 | 403, Grant::PublicRefresh { .. }) => (
            ErrorCode::Http,
            format!(
                "the token endpoint did not refresh the sign-in ({status}{}); the sign-in is kept",
                oauth_error.map(|e| format!(", {e}")).unwrap_or_default()
            ),
        ),
        (400 | 401 | 403, Grant::AuthorizationCode { .. }) => {
            (ErrorCode::LoginDenied, "Sigma refused the sign-in's authorization code".to_string())
        }
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
    error.verdict = sigmas;
    error
}

pub(super) fn transport_error(error: ureq::Error) -> Error {
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

pub(super) fn body_error(error: ureq::Error) -> Error {
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
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // The edge: not JSON, 403/429/503, whatever the grant.
        let exchange = Grant::Exchange { subject_token: "s", actor_token: "a" };
        for grant in [cc, rt, exchange] {
            assert_eq!(code(403, "<!DOCTYPE html><title>Access denied</title>", grant), ErrorCode::RateLimited);
            assert_eq!(code(403, "", grant), ErrorCode::RateLimited);
            assert_eq!(code(503, "<html>busy</html>", grant), ErrorCode::Server);
        }
        let edge = status_error(403, b"<html><body>Access denied secret-page</body></html>", None, cc, &none);
        assert!(edge.message().contains("Sigma's edge answered 403 with an HTML page"), "{edge}");
        assert!(edge.message().contains("not a credentials problem") && !edge.message().contains("secret-page"));
        // Sigma's own JSON keeps its meaning.
        assert_eq!(code(403, r#"{"message":"Forbidden"}"#, exchange), ErrorCode::Forbidden);
        assert_eq!(code(403, r#"{"message":"Invalid client credentials"}"#, cc), ErrorCode::InvalidClient);
        assert_eq!(code(503, "", cc), ErrorCode::Server);
        assert_eq!(code(302, "", cc), ErrorCode::Http);
        assert_eq!(code(404, "", cc), ErrorCode::Http);
        let err = status_error(401, br#"{"message":"nope","requestId":"abc123"}"#, None, cc, &none);
        assert_eq!((err.http_status(), err.request_id()), (Some(401), Some("abc123")));
        assert!(err.message().ends_with(": nope"));
    }
}
