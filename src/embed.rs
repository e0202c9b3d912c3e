//! Signed secure-embed URLs: a Sigma embed path with `:jwt=<token>` and
//! `:embed=true` appended, the token an HS256 JWT signed with the embed secret.
//!
//! Everything Sigma documents about the claims is checked before signing, so a
//! mistake is an error naming the claim here rather than a blank iframe later.
//! The claims describe a user, not a session: do not vary them to vary access
//! per session. `oauth_token` and `connection_oauth_tokens` are passed through as
//! given; [`encrypt_embed_oauth_token`] encrypts a warehouse OAuth token the
//! way Sigma's Node embed SDK does, for `oauth_token` (ver 1.1).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use ureq::http::Uri;

use crate::endpoint::{is_loopback, percent_decode};
use crate::error::{Error, Result};
use crate::oauth::{check_email, jwt};

/// Sigma's longest allowed lifetime of an embed token: 30 days.
pub const MAX_EMBED_TTL: Duration = Duration::from_secs(2_592_000);
/// The claims of one embed token, as JSON, are at most this long (a URL
/// carries them; measured: unbounded claims made a 70 MB URL).
const MAX_CLAIMS_BYTES: usize = 16 * 1024;
/// PBKDF2-HMAC-SHA-256 iterations of an encrypted `oauth_token`, as Sigma's
/// Node embed SDK derives its key.
const OAUTH_TOKEN_ITERATIONS: u32 = 600_000;

/// Encrypts a warehouse OAuth token for the `oauth_token` claim (ver 1.1) the
/// way Sigma's Node embed SDK does: a key derived from the embed secret with
/// PBKDF2-HMAC-SHA-256 (600,000 iterations, a random 16-byte salt), then
/// AES-256-GCM (a random 12-byte IV, a 16-byte tag), written
/// `base64(salt).base64(iv).base64(tag).base64(ciphertext)`.
pub fn encrypt_embed_oauth_token(oauth_token: &str, embed_secret: &str) -> Result<String> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

    // Its encryption (base64, plus salt, IV and tag) must fit in the claims' bound.
    check_text("the OAuth token", oauth_token, 8 * 1024)?;
    if embed_secret.is_empty() {
        return Err(Error::invalid_argument("the embed secret is empty"));
    }
    let mut random = [0u8; 28];
    getrandom::fill(&mut random)
        .map_err(|e| Error::new(crate::error::ErrorCode::Internal, format!("no randomness from the system: {e}")))?;
    let (salt, iv) = random.split_at(16);
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    let iterations = std::num::NonZeroU32::new(OAUTH_TOKEN_ITERATIONS).expect("a positive count");
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, embed_secret.as_bytes(), &mut *key);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &*key).expect("a 32-byte key"));
    let nonce = Nonce::try_assume_unique_for_key(iv).expect("a 12-byte IV");
    let mut sealed = zeroize::Zeroizing::new(oauth_token.as_bytes().to_vec());
    let tag = key
        .seal_in_place_separate_tag(nonce, Aad::empty(), &mut sealed)
        .map_err(|_| Error::new(crate::error::ErrorCode::Internal, "AES-256-GCM failed"))?;
    Ok(format!(
        "{}.{}.{}.{}",
        STANDARD.encode(salt),
        STANDARD.encode(iv),
        STANDARD.encode(tag.as_ref()),
        STANDARD.encode(&*sealed)
    ))
}

/// Signs `claims` (at least `sub`, the user's email) for the embed client
/// `client_id` with `secret`, valid for `ttl`, and returns `embed_url` with the
/// token appended. Adds `jti` (128 random bits), `iat` (now), `exp` (`iat + ttl`)
/// and `iss` (the client id, unless given).
pub fn sign_embed_url(
    embed_url: &str,
    client_id: &str,
    secret: &str,
    claims: &Map<String, Value>,
    ttl: Duration,
) -> Result<String> {
    let url = check_url(embed_url)?;
    check_text("the embed client id", client_id, 256)?;
    if secret.is_empty() {
        return Err(Error::invalid_argument("the embed secret is empty"));
    }
    if ttl.is_zero() || ttl > MAX_EMBED_TTL {
        return Err(Error::invalid_argument("the ttl must be 1 second to 30 days (2592000 s), as Sigma requires"));
    }
    let mut claims = claims.clone();
    check_claims(&claims)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    claims.insert("jti".into(), Value::from(jwt::random_id()));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now + ttl.as_secs()));
    claims.entry("iss").or_insert_with(|| Value::from(client_id));
    let token = jwt::sign_hs256(client_id, &claims, secret);
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, format!("#{fragment}")),
        None => (url, String::new()),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{separator}:jwt={}&:embed=true{fragment}", token.as_str()))
}

/// An https URL (http only to loopback), without a token already in it.
fn check_url(embed_url: &str) -> Result<&str> {
    let bad = |why: &str| Error::invalid_argument(format!("the embed URL {why}"));
    let url = embed_url.trim();
    if url.len() > 8192 {
        return Err(bad("is longer than 8192 bytes"));
    }
    let uri: Uri = url.split('#').next().unwrap_or(url).parse().map_err(|_| bad("is not a valid absolute URL"))?;
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| bad("has no host"))?;
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => {}
        Some("http") if is_loopback(host) => {}
        Some("http") => return Err(bad("must be https (plain http only to loopback)")),
        _ => return Err(bad("must be an https URL")),
    }
    // Names compared as Sigma reads them: percent-decoded (%3A%6Awt is :jwt).
    let taken = |param: &str| {
        let name = percent_decode(param.split('=').next().unwrap_or("")).unwrap_or_default();
        name == ":jwt" || name == ":embed"
    };
    if uri.query().is_some_and(|q| q.split('&').any(taken)) {
        return Err(bad("already has a :jwt or :embed parameter"));
    }
    Ok(url)
}

fn check_claims(claims: &Map<String, Value>) -> Result<()> {
    let bad = |claim: &str, why: &str| Error::invalid_argument(format!("the claim {claim} {why}"));
    for owned in ["jti", "iat", "exp"] {
        if claims.contains_key(owned) {
            return Err(bad(owned, "is set by the library (use the ttl for the lifetime)"));
        }
    }
    if claims.contains_key("kid") {
        return Err(bad("kid", "belongs in the token's header, where the library puts the embed client id"));
    }
    if serde_json::to_vec(claims).map_or(true, |json| json.len() > MAX_CLAIMS_BYTES) {
        return Err(Error::invalid_argument(format!(
            "the claims are longer than {MAX_CLAIMS_BYTES} bytes of JSON: an embed URL carries them"
        )));
    }
    match claims.get("sub") {
        Some(Value::String(email)) => check_email(email).map_err(|why| bad("sub", &why))?,
        Some(_) => return Err(bad("sub", "must be a string (the user's email)")),
        None => return Err(bad("sub", "is required (the user's email)")),
    }
    let string = |name: &str| match claims.get(name) {
        None | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(bad(name, "must be a string")),
    };
    for name in ["first_name", "last_name", "account_type", "eval_connection_id", "tenant", "iss", "aud"] {
        string(name)?;
    }
    match claims.get("teams") {
        None => {}
        Some(Value::Array(teams)) if teams.iter().all(Value::is_string) => {}
        Some(_) => return Err(bad("teams", "must be a list of team names (strings)")),
    }
    match claims.get("user_attributes") {
        None => {}
        Some(Value::Object(attributes)) if attributes.values().all(Value::is_string) => {}
        Some(_) => return Err(bad("user_attributes", "must be an object whose values are strings")),
    }
    let version = match claims.get("ver") {
        None => "1.0",
        Some(Value::String(v)) if v == "1.0" || v == "1.1" => v.as_str(),
        Some(_) => return Err(bad("ver", "must be \"1.0\" or \"1.1\"")),
    };
    match (version, claims.get("aud").and_then(Value::as_str)) {
        ("1.1", Some("sigmacomputing")) | ("1.0", None | Some("sigmacomputing")) => {}
        ("1.1", _) => return Err(bad("aud", "must be \"sigmacomputing\" with ver \"1.1\"")),
        _ => return Err(bad("aud", "must be \"sigmacomputing\" when given")),
    }
    for name in ["oauth_token", "connection_oauth_tokens"] {
        if claims.contains_key(name) && version != "1.1" {
            return Err(bad(name, "needs ver \"1.1\""));
        }
    }
    string("oauth_token")?;
    match claims.get("connection_oauth_tokens") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(bad("connection_oauth_tokens", "must be an object")),
    }
}

/// A plausible email as Sigma takes it: `local@domain`, no whitespace, no
/// underscore in the domain (RFC 1035 host names), at most 320 bytes.
fn check_text(what: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(Error::invalid_argument(format!("{what} must be 1 to {max} bytes of printable text")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn sign(url: &str, value: Value) -> Result<String> {
        sign_embed_url(url, "embed-id", "embed-secret", &claims(value), Duration::from_secs(3600))
    }

    #[test]
    fn a_signed_url_carries_the_token_and_the_embed_flag() {
        let url = sign("https://app.sigmacomputing.com/org/workbook/w-1?:nonce=1", json!({"sub": "a@b.co"})).unwrap();
        let (base, rest) = url.split_once("&:jwt=").unwrap();
        assert_eq!(base, "https://app.sigmacomputing.com/org/workbook/w-1?:nonce=1");
        let (token, tail) = rest.split_once('&').unwrap();
        assert_eq!(tail, ":embed=true");
        assert_eq!(token.split('.').count(), 3);
        let plain = sign("https://app.sigmacomputing.com/org/workbook/w-1#tab", json!({"sub": "a@b.co"})).unwrap();
        assert!(plain.contains("w-1?:jwt=") && plain.ends_with("&:embed=true#tab"), "{plain}");
    }

    #[test]
    fn every_documented_rule_is_checked_and_named() {
        let cases = [
            (json!({}), "sub"),
            (json!({"sub": 7}), "sub"),
            (json!({"sub": "not an email"}), "sub"),
            (json!({"sub": "a b@c.co"}), "sub"),
            (json!({"sub": "a@b_c.co"}), "sub"),
            (json!({"sub": "a@b.co", "teams": "x"}), "teams"),
            (json!({"sub": "a@b.co", "teams": [1]}), "teams"),
            (json!({"sub": "a@b.co", "user_attributes": {"k": 1}}), "user_attributes"),
            (json!({"sub": "a@b.co", "ver": "2.0"}), "ver"),
            (json!({"sub": "a@b.co", "ver": "1.1"}), "aud"),
            (json!({"sub": "a@b.co", "ver": "1.1", "aud": "x"}), "aud"),
            (json!({"sub": "a@b.co", "oauth_token": "t"}), "oauth_token"),
            (json!({"sub": "a@b.co", "connection_oauth_tokens": {}}), "connection_oauth_tokens"),
            (json!({"sub": "a@b.co", "first_name": 1}), "first_name"),
            (json!({"sub": "a@b.co", "exp": 1}), "exp"),
            (json!({"sub": "a@b.co", "jti": "x"}), "jti"),
            (json!({"sub": "a@b.co", "kid": "x"}), "kid"),
            (json!({"sub": "a@b.co", "first_name": "x".repeat(20_000)}), "longer than"),
        ];
        for (value, claim) in cases {
            let error = sign("https://x.example.com/e", value.clone()).unwrap_err();
            assert!(error.message().contains(claim), "{value}: {error}");
        }
        let ok = json!({"sub": "a@b.co", "ver": "1.1", "aud": "sigmacomputing", "oauth_token": "enc",
            "teams": ["A"], "user_attributes": {"region": "EU"}, "account_type": "Viewer"});
        assert!(sign("https://x.example.com/e", ok).is_ok());
    }

    #[test]
    fn urls_and_lifetimes_are_checked() {
        let sub = || json!({"sub": "a@b.co"});
        assert!(sign("http://app.sigmacomputing.com/e", sub()).is_err());
        assert!(sign("http://127.0.0.1:8080/e", sub()).is_ok());
        assert!(sign("not a url", sub()).is_err());
        assert!(sign("https://x.example.com/e?:jwt=old", sub()).is_err());
        assert!(sign("https://x.example.com/e?%3Ajwt=old", sub()).is_err(), "a second :jwt, percent-encoded");
        assert!(sign("https://x.example.com/e?a=1&%3aembed=true", sub()).is_err());
        assert!(sign("https://x.example.com/e?%3A%6Awt=old", sub()).is_err(), "every character may be encoded");
        let long = sign_embed_url(
            "https://x.example.com/e",
            "id",
            "s",
            &claims(sub()),
            MAX_EMBED_TTL + Duration::from_secs(1),
        );
        assert!(long.unwrap_err().message().contains("30 days"));
        assert!(sign_embed_url("https://x.example.com/e", "id", "", &claims(sub()), Duration::from_secs(1)).is_err());
    }
}
