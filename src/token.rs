//! An access token as Sigma issued it, and the parser of the token response.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

/// The longest lifetime accepted from the server. Sigma issues one hour; a
/// value beyond a year is a broken or hostile server, not a long-lived token.
const MAX_EXPIRES_IN_SECS: u64 = 365 * 24 * 3600;
/// The longest token accepted, from the server or from a caller.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Serial numbers of the tokens made in this process; 0 is never issued.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// An access token with its refresh token and lifetime. Immutable; `Debug`
/// redacts both tokens, and they are wiped from memory on drop.
#[derive(Clone)]
pub struct Token {
    serial: u64,
    access_token: Secret,
    refresh_token: Option<Secret>,
    /// Stored followed by a NUL byte, like the tokens (see [`Secret`]).
    token_type: String,
    expires_in: Duration,
    expires_at: SystemTime,
    /// When the request was sent (monotonic): the lifetime counts from here, so
    /// network time makes the token look older, never younger.
    requested_at: Instant,
}

/// A token's fields before validation, from a response or from the token cache.
pub(crate) struct Parts<'a> {
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub token_type: &'a str,
    /// The lifetime as issued, in seconds (a fraction is rounded down).
    pub expires_in: f64,
    pub issued: Issued,
}

/// What a token's lifetime counts from.
pub(crate) enum Issued {
    /// A response: when its request was sent (monotonic), so network time makes
    /// the token look older, never younger; and the same moment by the wall clock.
    Requested { at: Instant, wall: SystemTime },
    /// The token cache: the wall-clock expiry, the only clock processes share.
    ExpiresAt(SystemTime),
}

impl Token {
    /// The one validating constructor, for responses and the token cache alike.
    /// On failure, names the field at fault (never its value).
    pub(crate) fn new(parts: Parts<'_>) -> std::result::Result<Token, String> {
        let seconds = parts.expires_in;
        if !(1.0..=MAX_EXPIRES_IN_SECS as f64).contains(&seconds) {
            return Err(format!(
                "the token response's expires_in is out of range ({seconds} s; expected 1 s to one year)"
            ));
        }
        // 3600 and 3600.0 alike; a fraction is rounded down, never up.
        let expires_in = Duration::from_secs(seconds.floor() as u64);
        for (name, value) in [("access_token", Some(parts.access_token)), ("refresh_token", parts.refresh_token)] {
            if let Some(value) = value {
                if !is_token_text(value) {
                    return Err(format!(
                        "the token response's {name} is empty, too long or has characters a token cannot have"
                    ));
                }
            }
        }
        if !parts.token_type.eq_ignore_ascii_case("bearer") {
            return Err("the token response's token_type is not bearer".into());
        }
        let (expires_at, requested_at) = match parts.issued {
            Issued::Requested { at, wall } => (wall + expires_in, at),
            Issued::ExpiresAt(expires_at) => {
                let remaining = expires_at
                    .duration_since(SystemTime::now())
                    .map_err(|_| "the cached token has expired".to_string())?
                    .min(expires_in);
                let requested_at = (Instant::now() + remaining)
                    .checked_sub(expires_in)
                    .ok_or_else(|| "the cached token's lifetime predates the monotonic clock".to_string())?;
                (expires_at, requested_at)
            }
        };
        Ok(Token {
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            access_token: Secret::new(parts.access_token),
            refresh_token: parts.refresh_token.map(Secret::new),
            token_type: format!("{}\0", parts.token_type),
            expires_in,
            expires_at,
            requested_at,
        })
    }

    /// The same token (same serial) without its refresh token: what callers of
    /// a person's sign-in get, since only the sign-in's store may redeem it.
    pub(crate) fn without_refresh_token(&self) -> Token {
        Token { refresh_token: None, ..self.clone() }
    }

    /// A number that identifies this token within the process: every token this
    /// library makes (fetched, or read from the token cache) gets a larger one
    /// than the last. Two tokens are the same token when their serials are equal.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The access token, for `Authorization: Bearer <token>`.
    pub fn access_token(&self) -> &str {
        self.access_token.expose()
    }

    /// The refresh token, when the response carried one. Sigma rotates them:
    /// each is good for one refresh.
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_ref().map(Secret::expose)
    }

    /// As the server sent it (`"bearer"` from Sigma's main grants).
    pub fn token_type(&self) -> &str {
        &self.token_type[..self.token_type.len() - 1]
    }

    /// The three strings, each followed by its NUL byte, for lending to C.
    pub(crate) fn access_token_with_nul(&self) -> &str {
        self.access_token.expose_with_nul()
    }

    pub(crate) fn refresh_token_with_nul(&self) -> Option<&str> {
        self.refresh_token.as_ref().map(Secret::expose_with_nul)
    }

    pub(crate) fn token_type_with_nul(&self) -> &str {
        &self.token_type
    }

    /// The lifetime the server gave, in seconds, as issued.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// When the token expires by the wall clock: for reporting only; expiry
    /// decisions use the monotonic clock.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// `expires_at` as Unix seconds.
    pub fn expires_at_unix(&self) -> i64 {
        self.expires_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    }

    /// The monotonic instant the token stops being valid.
    pub(crate) fn expires_at_instant(&self) -> Instant {
        self.requested_at + self.expires_in
    }

    /// The time left before expiry, by the monotonic clock.
    pub fn remaining(&self) -> Duration {
        self.expires_at_instant().saturating_duration_since(Instant::now())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("serial", &self.serial)
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("token_type", &self.token_type())
            .field("expires_in", &self.expires_in.as_secs())
            .field("expires_at", &self.expires_at_unix())
            .finish()
    }
}

/// Parses a 200 token response. Everything wrong with it is a PROTOCOL error
/// whose message names the field, never its value.
pub(crate) fn parse_response(body: &[u8], requested_at: Instant, requested_wall: SystemTime) -> Result<Token> {
    let protocol = |why: String| Error::new(ErrorCode::Protocol, why);
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let what = if body.first().is_some_and(|b| *b == b'<') { "an HTML page" } else { "not valid JSON" };
        protocol(format!("the token response is {what} (at byte {})", e.column()))
    })?;
    let object = value.as_object().ok_or_else(|| protocol("the token response is not a JSON object".into()))?;

    let text = |name: &str, required: bool| -> Result<Option<&str>> {
        match object.get(name) {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(protocol(format!("the token response has no {name}"))),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(protocol(format!("the token response's {name} is not a string"))),
        }
    };
    let access_token = text("access_token", true)?.unwrap_or_default();
    let refresh_token = text("refresh_token", false)?;
    let token_type = text("token_type", true)?.unwrap_or_default();

    let seconds = match object.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(_) => return Err(protocol("the token response's expires_in is not a number".into())),
        None => return Err(protocol("the token response has no expires_in".into())),
    };
    Token::new(Parts {
        access_token,
        refresh_token,
        token_type,
        expires_in: seconds,
        issued: Issued::Requested { at: requested_at, wall: requested_wall },
    })
    .map_err(protocol)
}

/// RFC 6750 b64token characters and the like: visible ASCII, no spaces. Anything
/// else could smuggle a header or break a caller's string handling.
pub(crate) fn is_token_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_TOKEN_LEN && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Token> {
        parse_response(body.as_bytes(), Instant::now(), SystemTime::now())
    }

    fn protocol_message(body: &str) -> String {
        let err = parse(body).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Protocol, "{body}");
        err.message().to_string()
    }

    #[test]
    fn a_sigma_response_parses_with_integer_or_float_lifetime() {
        for body in [
            r#"{"access_token":"at","refresh_token":"rt","token_type":"bearer","expires_in":3600}"#,
            r#"{"access_token":"at","refresh_token":"rt","token_type":"Bearer","expires_in":3600.0,"extra":[1]}"#,
            r#"{"access_token":"at","refresh_token":"rt","token_type":"BEARER","expires_in":3600.9}"#,
        ] {
            let token = parse(body).unwrap();
            assert_eq!(token.access_token(), "at");
            assert_eq!(token.refresh_token(), Some("rt"));
            assert_eq!(token.expires_in(), Duration::from_secs(3600));
        }
    }

    #[test]
    fn a_missing_refresh_token_is_accepted() {
        let token = parse(r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#).unwrap();
        assert_eq!(token.refresh_token(), None);
    }

    #[test]
    fn broken_responses_are_protocol_errors_naming_the_field() {
        assert!(protocol_message("<html>").contains("HTML"));
        assert!(protocol_message(r#"{"access_token":"at""#).contains("not valid JSON"));
        assert!(protocol_message("[1]").contains("not a JSON object"));
        assert!(protocol_message(r#"{"token_type":"bearer","expires_in":1}"#).contains("no access_token"));
        assert!(
            protocol_message(r#"{"access_token":42,"token_type":"bearer","expires_in":1}"#).contains("not a string")
        );
        assert!(
            protocol_message(r#"{"access_token":"a b","token_type":"bearer","expires_in":1}"#).contains("characters")
        );
        assert!(protocol_message(r#"{"access_token":"","token_type":"bearer","expires_in":1}"#).contains("empty"));
        assert!(protocol_message(r#"{"access_token":"at","token_type":"mac","expires_in":1}"#).contains("not bearer"));
        assert!(protocol_message(r#"{"access_token":"at","expires_in":1}"#).contains("no token_type"));
        assert!(protocol_message(r#"{"access_token":"at","token_type":1,"expires_in":1}"#).contains("not a string"));
        assert!(protocol_message(r#"{"access_token":"at","token_type":"bearer"}"#).contains("no expires_in"));
        assert!(protocol_message(r#"{"access_token":"at","token_type":"bearer","expires_in":"3600"}"#)
            .contains("not a number"));
        for lifetime in ["0", "-5", "0.5", "1e300", "31536001"] {
            let body = format!(r#"{{"access_token":"at","token_type":"bearer","expires_in":{lifetime}}}"#);
            assert!(protocol_message(&body).contains("out of range"), "{lifetime}");
        }
    }

    #[test]
    fn every_token_gets_a_larger_serial() {
        let body = r#"{"access_token":"at","token_type":"bearer","expires_in":60}"#;
        let (a, b) = (parse(body).unwrap(), parse(body).unwrap());
        assert!(a.serial() > 0 && b.serial() > a.serial());
    }

    #[test]
    fn messages_and_debug_never_show_the_tokens() {
        let body = r#"{"access_token":"SECRET-AT","refresh_token":"SECRET-RT","token_type":"bearer","expires_in":-1}"#;
        assert!(!format!("{:?}", parse(body).unwrap_err()).contains("SECRET"));
        let body = r#"{"access_token":"SECRET-AT","refresh_token":"SECRET-RT","token_type":"bearer","expires_in":5}"#;
        assert!(!format!("{:?}", parse(body).unwrap()).contains("SECRET"));
    }
}
