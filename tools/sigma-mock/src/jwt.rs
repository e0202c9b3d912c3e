//! Compact JWTs signed HS256, as Sigma reads them: the subject token of a token
//! exchange and the token of a secure-embed URL. Only what the mock must check.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// A JWT split and decoded, its signature not yet checked.
pub struct Jwt<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `<header>.<payload>` as received: what the signature covers.
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// Splits `token` into its three base64url parts (no padding, as RFC 7515 wants)
/// and decodes the header and claims, which must be JSON objects.
pub fn decode(token: &str) -> Result<Jwt<'_>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(format!("it has {} dot-separated parts instead of 3", parts.len()));
    };
    let object = |part: &str, what: &str| -> Result<Map<String, Value>, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| format!("its {what} is not base64url without padding"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("its {what} is not a JSON object")),
        }
    };
    Ok(Jwt {
        header: object(header, "header")?,
        claims: object(payload, "payload")?,
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature: URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "its signature is not base64url without padding".to_string())?,
    })
}

impl Jwt<'_> {
    /// Whether the signature is HMAC-SHA-256 of the signing input with `secret`,
    /// compared in constant time (ring's verify).
    pub fn signed_with(&self, secret: &str) -> bool {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::verify(&key, self.signing_input.as_bytes(), &self.signature).is_ok()
    }

    /// A header field, if it is a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }
}

/// Seconds since the Unix epoch, the unit of `iat` and `exp`.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
