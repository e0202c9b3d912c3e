//! Compact JSON Web Tokens signed with HS256: the only kind Sigma asks for
//! (the subject token of an impersonation, and secure-embed URLs).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

/// `header.payload.signature`, base64url without padding, signed with
/// HMAC-SHA-256 keyed by `secret`. The header is `{"alg":"HS256","kid":..,"typ":"JWT"}`.
pub(crate) fn sign_hs256(kid: &str, claims: &Map<String, Value>, secret: &str) -> Zeroizing<String> {
    let header = json!({ "alg": "HS256", "kid": kid, "typ": "JWT" });
    let payload = Zeroizing::new(serde_json::to_vec(claims).expect("a JSON map always serialises"));
    let mut token = Zeroizing::new(URL_SAFE_NO_PAD.encode(header.to_string()));
    token.push('.');
    token.push_str(&Zeroizing::new(URL_SAFE_NO_PAD.encode(payload.as_slice())));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signature = ring::hmac::sign(&key, token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
    token
}

/// A random id of 128 bits, for `jti`.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS random source does not fail on the systems this runs on; if it did,
    // a time-derived id still differs per call.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes = nanos.as_nanos().to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_three_parts_and_the_documented_header() {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("user@example.com"));
        let token = sign_hs256("cid", &claims, "secret");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "HS256", "kid": "cid", "typ": "JWT"}));
        // The signature is HMAC-SHA-256 over the first two parts.
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret");
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(ring::hmac::verify(&key, signed.as_bytes(), &URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).is_ok());
        assert_ne!(random_id(), random_id());
        assert_eq!(random_id().len(), 32);
    }
}
