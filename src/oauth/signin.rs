//! The requests of a person's sign-in besides the token grants: discovery of
//! the authorization server (RFC 9728, then RFC 8414), dynamic registration of
//! a public client (RFC 7591), revocation (RFC 7009), `GET /v2/whoami` with a
//! token, and the PKCE verifier and `state` (RFC 7636). Every endpoint a
//! document names is checked (`Endpoint::check_signin_url`) before anything is
//! sent there, so a discovery document pointing elsewhere stops the sign-in
//! before any browser opens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use zeroize::Zeroizing;

use super::classify::MAX_RESPONSE_BYTES;
use super::grant::append_field;
use super::scrub::Scrubber;
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};

/// What discovery found: the endpoints of the sign-in, each checked.
#[derive(Clone, Debug)]
pub(crate) struct Metadata {
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    pub(crate) registration_endpoint: String,
    pub(crate) revocation_endpoint: Option<String>,
}

/// An answer to one of these requests.
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    body: Vec<u8>,
}

/// One request of the sign-in (no redirects followed, 64 KiB at most).
fn call(config: &Config, url: &str, what: &str, send: Option<(&str, &[u8])>, bearer: Option<&str>) -> Result<Answer> {
    let agent = config.agent();
    let agent = agent.as_ref().map_err(Clone::clone)?;
    let failed = |e: ureq::Error| {
        let code = match e {
            ureq::Error::Timeout(_) => ErrorCode::Timeout,
            ureq::Error::BodyExceedsLimit(_) => ErrorCode::Protocol,
            _ => ErrorCode::Network,
        };
        let why = match e {
            ureq::Error::BodyExceedsLimit(_) => format!("it is larger than {} KiB", MAX_RESPONSE_BYTES / 1024),
            other => other.to_string(),
        };
        Error::new(code, format!("fetching the sign-in's {what} failed: {why}"))
    };
    let timeout = Some(config.settings().timeout);
    let mut response = match send {
        Some((content_type, body)) => {
            let mut request =
                agent.post(url).config().timeout_global(timeout).build().header("content-type", content_type);
            if let Some(token) = bearer {
                request = request.header("authorization", Zeroizing::new(format!("Bearer {token}")).as_str());
            }
            request.send(body)
        }
        None => {
            let mut request = agent.get(url).config().timeout_global(timeout).build();
            if let Some(token) = bearer {
                request = request.header("authorization", Zeroizing::new(format!("Bearer {token}")).as_str());
            }
            request.call()
        }
    }
    .map_err(failed)?;
    let status = response.status().as_u16();
    let www_authenticate = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec().map_err(failed)?;
    Ok(Answer { status, www_authenticate, body })
}

fn json(answer: &Answer, what: &str) -> Result<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::new(ErrorCode::Protocol, format!("the sign-in's {what} is not a JSON object"))),
    }
}

/// `resource_metadata="..."` of a `WWW-Authenticate: Bearer ...` header.
fn resource_metadata_url(header: &str) -> Option<String> {
    let (scheme, params) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let at = params.find("resource_metadata=")?;
    let rest = &params[at + "resource_metadata=".len()..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => rest.split([',', ' ']).next()?,
    };
    Some(value.to_string())
}

/// Finds the sign-in of `config`'s API: `GET /v2/whoami` without a token
/// must answer 401 naming the resource metadata, which names the
/// authorization server, whose metadata names the endpoints.
pub(crate) fn discover(config: &Config) -> Result<Metadata> {
    let endpoint = config.endpoint();
    let unavailable = |why: String| Error::new(ErrorCode::LoginUnavailable, why);
    let whoami = format!("{}/v2/whoami", endpoint.api_base_url());
    let answer = call(config, &whoami, "discovery (GET /v2/whoami)", None, None)?;
    let Some(resource) = answer.www_authenticate.as_deref().and_then(resource_metadata_url) else {
        return Err(unavailable(format!(
            "{} offers no browser sign-in (GET /v2/whoami answered {} without a WWW-Authenticate resource_metadata); \
             use a client id and secret instead",
            endpoint.host(),
            answer.status
        )));
    };
    endpoint.check_signin_url("resource metadata", &resource)?;
    let document = json(&call(config, &resource, "resource metadata", None, None)?, "resource metadata")?;
    let issuer = document
        .get("authorization_servers")
        .and_then(Value::as_array)
        .and_then(|servers| servers.first())
        .and_then(Value::as_str)
        .ok_or_else(|| unavailable("the resource metadata names no authorization server".into()))?;
    endpoint.check_signin_url("authorization server", issuer)?;
    let url = format!("{}/.well-known/oauth-authorization-server", issuer.trim_end_matches('/'));
    let document =
        json(&call(config, &url, "authorization server metadata", None, None)?, "authorization server metadata")?;
    let field = |name: &str| -> Result<Option<String>> {
        match document.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(url)) => {
                endpoint.check_signin_url(name, url)?;
                Ok(Some(url.clone()))
            }
            Some(_) => Err(Error::new(ErrorCode::Protocol, format!("the authorization server's {name} is not a URL"))),
        }
    };
    let required =
        |name: &str| field(name)?.ok_or_else(|| unavailable(format!("the authorization server names no {name}")));
    let methods = document.get("code_challenge_methods_supported").and_then(Value::as_array);
    if methods.is_some_and(|m| !m.iter().any(|v| v == "S256")) {
        return Err(unavailable("the authorization server does not support PKCE S256".into()));
    }
    Ok(Metadata {
        authorization_endpoint: required("authorization_endpoint")?,
        token_endpoint: required("token_endpoint")?,
        registration_endpoint: required("registration_endpoint")?,
        revocation_endpoint: field("revocation_endpoint")?,
    })
}

/// Registers a public client for `redirect_uri` (RFC 7591); its client id.
pub(crate) fn register(config: &Config, metadata: &Metadata, redirect_uri: &str, scopes: &str) -> Result<String> {
    let request = serde_json::json!({
        "redirect_uris": [redirect_uri],
        "client_name": format!("sigma-auth {}", env!("CARGO_PKG_VERSION")),
        "scope": scopes,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    })
    .to_string();
    let answer = call(
        config,
        &metadata.registration_endpoint,
        "registration",
        Some(("application/json", request.as_bytes())),
        None,
    )?;
    if !(200..300).contains(&answer.status) {
        let said = json(&answer, "registration")
            .ok()
            .and_then(|d| d.get("error_description").or(d.get("error")).and_then(Value::as_str).map(str::to_string));
        let said = said.and_then(|s| Scrubber::new(&[]).fields([Some(s.as_str())])[0].clone());
        return Err(Error::new(
            ErrorCode::LoginUnavailable,
            format!(
                "the authorization server refused to register this program ({}){}",
                answer.status,
                said.map_or(String::new(), |s| format!(": {s}"))
            ),
        )
        .with_response(answer.status, None));
    }
    let document = json(&answer, "registration")?;
    document
        .get("client_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| Error::new(ErrorCode::Protocol, "the registration answer has no usable client_id"))
}

/// Revokes `token` (RFC 7009). Best effort: the answer is not judged.
pub(crate) fn revoke(config: &Config, url: &str, token: &str, client_id: &str) -> Result<()> {
    config.endpoint().check_signin_url("revocation endpoint", url)?;
    let mut form = Zeroizing::new(String::new());
    append_field(&mut form, "token", token);
    append_field(&mut form, "token_type_hint", "refresh_token");
    append_field(&mut form, "client_id", client_id);
    let answer = call(config, url, "revocation", Some(("application/x-www-form-urlencoded", form.as_bytes())), None)
        .map_err(|e| Scrubber::new(&[token]).error(e))?;
    if answer.status >= 400 {
        return Err(Error::new(ErrorCode::Http, format!("the revocation endpoint answered {}", answer.status))
            .with_response(answer.status, None));
    }
    Ok(())
}

/// The signed-in person's email, from `GET /v2/whoami` with their token.
pub(crate) fn whoami_email(config: &Config, access_token: &str) -> Result<Option<String>> {
    let url = format!("{}/v2/whoami", config.endpoint().api_base_url());
    let answer =
        call(config, &url, "whoami", None, Some(access_token)).map_err(|e| Scrubber::new(&[access_token]).error(e))?;
    if answer.status != 200 {
        return Err(Error::new(
            ErrorCode::Http,
            format!("GET /v2/whoami with the new token answered {}", answer.status),
        )
        .with_response(answer.status, None));
    }
    let email = json(&answer, "whoami answer")?.get("email").and_then(Value::as_str).map(str::to_string);
    let scrubbed = email.and_then(|e| Scrubber::new(&[access_token]).fields([Some(e.as_str())])[0].clone());
    Ok(scrubbed.filter(|e| e.len() <= 320 && !e.chars().any(char::is_control)))
}

/// A PKCE pair (S256) and a `state`, from the operating system's generator.
pub(crate) struct Pkce {
    pub(crate) verifier: Zeroizing<String>,
    pub(crate) challenge: String,
    pub(crate) state: String,
}

impl Pkce {
    pub(crate) fn new() -> Result<Pkce> {
        let random = |n: usize| -> Result<String> {
            let mut bytes = Zeroizing::new(vec![0u8; n]);
            getrandom::fill(&mut bytes).map_err(|e| {
                Error::new(ErrorCode::Internal, format!("no randomness from the operating system: {e}"))
            })?;
            Ok(URL_SAFE_NO_PAD.encode(&*bytes))
        };
        // 64 bytes: an 86-character verifier (43 to 128 allowed); 32 bytes of state.
        let verifier = Zeroizing::new(random(64)?);
        let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
        Ok(Pkce { verifier, challenge, state: random(32)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_metadata_url_is_read_from_the_challenge() {
        let url = "https://x.example/.well-known/oauth-protected-resource";
        assert_eq!(
            resource_metadata_url(&format!("Bearer resource_metadata=\"{url}\", scope=\"api:access\"")).as_deref(),
            Some(url)
        );
        assert_eq!(
            resource_metadata_url(&format!("bearer scope=\"a\", resource_metadata={url}")).as_deref(),
            Some(url)
        );
        assert_eq!(resource_metadata_url("Basic realm=\"x\""), None);
        assert_eq!(resource_metadata_url("Bearer realm=\"x\""), None);
    }

    #[test]
    fn pkce_follows_rfc_7636() {
        let pkce = Pkce::new().unwrap();
        assert!((43..=128).contains(&pkce.verifier.len()));
        assert_eq!(pkce.challenge.len(), 43);
        assert!(pkce.state.len() >= 22, "at least 128 bits");
        assert_ne!(Pkce::new().unwrap().state, pkce.state);
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
