//! `POST /v2/auth/token`: Sigma's token endpoint, with the queued faults applied.
//! The token-exchange grant's own checks live in `exchange.rs`.

use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{header, HeaderMap, Method, Request};
use serde_json::json;

use crate::faults::{EchoEncoding, EchoField, EchoWhat, Fault};
use crate::reply::{self, full, Reply};
use crate::state::{random_token, Redeem, RequestInfo, State};
use crate::{exchange, signin};

/// The connection is to be closed without a response (the `drop` fault).
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection dropped without a response")
    }
}
impl std::error::Error for DropConnection {}

const MAX_FORM_BYTES: usize = 64 * 1024;

pub async fn handle(state: &State, req: Request<Incoming>) -> Result<Reply, DropConnection> {
    let (_in_flight, fault) = state.begin_token_request();
    let (parts, body) = req.into_parts();
    // Read and classify every request, faulted or not, so the counters by grant
    // type tell a test what the client sent even when the answer was a fault.
    let body = Limited::new(body, MAX_FORM_BYTES).collect().await.map(|c| c.to_bytes()).ok();
    let request = TokenRequest::classify(state, parts.method, &parts.headers, body);
    if !state.token_delay.is_zero() {
        tokio::time::sleep(state.token_delay).await;
    }
    let result = respond(state, &request, fault).await;
    let status = match &result {
        Ok(reply) => reply.status().as_u16().to_string(),
        Err(DropConnection) => "dropped".to_string(),
    };
    state.record_token_status(&status);
    result
}

async fn respond(state: &State, req: &TokenRequest, fault: Option<Fault>) -> Result<Reply, DropConnection> {
    let Some(fault) = fault else {
        return Ok(grant(state, req));
    };
    match fault {
        Fault::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(grant(state, req))
        }
        Fault::Status { status, retry_after, html, message } => {
            let mut reply = if html {
                reply::html(status)
            } else {
                reply::envelope(status, message.as_deref().unwrap_or(default_message(status)))
            };
            if let Some(value) = retry_after {
                let value = header::HeaderValue::from_str(&value).map_err(|_| DropConnection)?;
                reply.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(reply)
        }
        Fault::Html => Ok(reply::html(200)),
        Fault::Truncated => {
            let body = token_json(&random_token("mock_at_"), &random_token("mock_rt_"), 3600).to_string();
            Ok(reply::with_body(200, "application/json", full(body[..body.len() / 2].to_string())))
        }
        Fault::Body { status, content_type, body } => Ok(reply::with_body(status, &content_type, full(body))),
        Fault::Redirect { status, location } => {
            let mut reply = reply::envelope(status, "Moved");
            let value = header::HeaderValue::from_str(&location).map_err(|_| DropConnection)?;
            reply.headers_mut().insert(header::LOCATION, value);
            Ok(reply)
        }
        Fault::Drop => Err(DropConnection),
        Fault::Oversize { bytes } => {
            let reply = grant(state, req);
            let (parts, body) = reply.into_parts();
            let mut text = body.collect().await.map_err(|_| DropConnection)?.to_bytes().to_vec();
            if text.len() < bytes {
                text.resize(bytes, b' ');
            }
            Ok(reply::with_body(parts.status.as_u16(), "application/json", full(text)))
        }
        Fault::Trickle { interval_ms } => {
            let bytes = collected(grant(state, req)).await?;
            Ok(reply::with_body(200, "application/json", reply::trickled(bytes, Duration::from_millis(interval_ms))))
        }
        Fault::Reset => {
            let bytes = collected(grant(state, req)).await?;
            Ok(reply::with_body(200, "application/json", reply::aborted_midway(bytes)))
        }
        Fault::Echo { status, field, what, encoding } => Ok(echo(req, status, field, what, encoding)),
    }
}

/// The envelope with one field echoing, encoded, something the client sent.
fn echo(req: &TokenRequest, status: u16, field: EchoField, what: EchoWhat, encoding: EchoEncoding) -> Reply {
    let secret = req.basic.as_ref().map(|(_, s)| s.as_str()).or(req.field("client_secret"));
    let said = match what {
        EchoWhat::Secret => secret.unwrap_or_default().to_string(),
        EchoWhat::RefreshToken => req.field("refresh_token").unwrap_or_default().to_string(),
        EchoWhat::Body => String::from_utf8_lossy(&req.raw_body).into_owned(),
        EchoWhat::Authorization => req.authorization.clone().unwrap_or_default(),
    };
    let encoded = match encoding {
        EchoEncoding::Raw => said,
        EchoEncoding::Form => form_urlencoded::byte_serialize(said.as_bytes()).collect(),
        EchoEncoding::Percent => {
            percent_encoding::utf8_percent_encode(&said, percent_encoding::NON_ALPHANUMERIC).to_string()
        }
        EchoEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(said),
        EchoEncoding::Base64url => base64::engine::general_purpose::URL_SAFE.encode(said),
        EchoEncoding::Base64nopad => base64::engine::general_purpose::STANDARD_NO_PAD.encode(said),
    };
    let mut body = json!({
        "message": "Invalid client credentials",
        "code": "unauthorized",
        "requestId": crate::state::request_id(),
    });
    let key = match field {
        EchoField::Message => "message",
        EchoField::RequestId => "requestId",
        EchoField::Code => "code",
        EchoField::ErrorDescription => "error_description",
    };
    body[key] = json!(format!("echo: {encoded}"));
    if field == EchoField::RequestId {
        body[key] = json!(encoded);
    }
    reply::json_value(status, &body)
}

async fn collected(reply: Reply) -> Result<Vec<u8>, DropConnection> {
    Ok(reply.into_body().collect().await.map_err(|_| DropConnection)?.to_bytes().to_vec())
}

fn default_message(status: u16) -> &'static str {
    match status {
        429 => "Too many requests",
        500..=599 => "Internal server error",
        400 => "Bad request",
        401 => "Unauthorized",
        _ => "Error",
    }
}

fn token_json(access: &str, refresh: &str, expires_in: u64) -> serde_json::Value {
    json!({ "access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": expires_in })
}

/// A token request as read off the wire, before any judgement.
struct TokenRequest {
    /// Why the request cannot be served, when that is clear before authentication.
    rejection: Option<(u16, String)>,
    form: Vec<(String, String)>,
    basic: Option<(String, String)>,
    /// The token of `Authorization: Bearer`, read only for the token-exchange grant.
    bearer: Option<String>,
    /// As received, for the echo fault.
    raw_body: bytes::Bytes,
    authorization: Option<String>,
}

impl TokenRequest {
    fn classify(state: &State, method: Method, headers: &HeaderMap, body: Option<bytes::Bytes>) -> Self {
        let mut request = TokenRequest {
            rejection: None,
            form: Vec::new(),
            basic: None,
            bearer: None,
            raw_body: bytes::Bytes::new(),
            authorization: header_str(headers, header::AUTHORIZATION),
        };
        let mut reject = |status: u16, message: &str| {
            request.rejection.get_or_insert((status, message.to_string()));
        };
        let content_type = header_str(headers, header::CONTENT_TYPE);
        let is_form = content_type
            .as_deref()
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if method != Method::POST {
            reject(405, "Method not allowed; use POST");
        } else if !is_form {
            reject(415, "Unsupported content type; send application/x-www-form-urlencoded");
        }
        let body = body.unwrap_or_else(|| {
            reject(413, "Request body too large");
            bytes::Bytes::new()
        });
        let mut form: Vec<(String, String)> = Vec::new();
        if is_form {
            for (key, value) in form_urlencoded::parse(&body) {
                if form.iter().any(|(k, _)| *k == key) {
                    reject(400, &format!("Parameter {key} was sent more than once"));
                }
                form.push((key.into_owned(), value.into_owned()));
            }
        }
        let grant_type = form.iter().find(|(k, _)| k == "grant_type").map_or("none", |(_, v)| v.as_str());
        let is_exchange = grant_type == exchange::GRANT_TYPE;
        let (basic, bearer) = if is_exchange {
            // Here Authorization carries the actor's access token: it is not
            // client credentials, and the grant takes none.
            let bearer = bearer_token(headers).unwrap_or_else(|message| {
                reject(400, message);
                None
            });
            (None, bearer)
        } else {
            let basic = basic_credentials(headers).unwrap_or_else(|message| {
                reject(400, message);
                None
            });
            (basic, None)
        };
        let has_form_secret = form.iter().any(|(k, _)| k == "client_secret");
        let auth_kind = match (&basic, has_form_secret) {
            _ if bearer.is_some() => "bearer",
            (Some(_), true) => {
                reject(400, "Send client credentials either as HTTP Basic or in the form, not both");
                "both"
            }
            (Some(_), false) => "basic",
            (None, true) => "form",
            (None, false) => "none",
        };
        if is_exchange && form.iter().any(|(k, _)| k == "client_id" || k == "client_secret") {
            // A client that sends its secret along with an exchange leaks it for nothing.
            reject(400, "Token exchange takes no client_id or client_secret; the actor token authenticates");
        }
        let names = form.iter().map(|(k, _)| k.clone()).collect();
        state.record_grant(grant_type, request_info(headers, auth_kind, names));
        request.form = form;
        request.basic = basic;
        request.bearer = bearer;
        request.raw_body = body;
        request
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The endpoint's real behaviour: validate, authenticate, issue.
fn grant(state: &State, req: &TokenRequest) -> Reply {
    if let Some((status, message)) = &req.rejection {
        return reply::envelope(*status, message);
    }
    let field = |name: &str| req.field(name);
    let grant_type = field("grant_type").unwrap_or("none");
    if grant_type == exchange::GRANT_TYPE {
        return exchange::grant(state, field, req.bearer.as_deref());
    }
    let owned = |name: &str| req.field(name).map(str::to_string);
    if signin::owns(state, grant_type, &owned) {
        return signin::grant(state, grant_type, &owned);
    }
    let basic = req.basic.clone();
    let credentials: Option<(String, String)> = match basic {
        Some(pair) => Some(pair),
        None => match (field("client_id"), field("client_secret")) {
            (Some(id), Some(secret)) => Some((id.to_string(), secret.to_string())),
            (None, None) => None,
            _ => return reply::envelope(400, "client_id and client_secret must be sent together"),
        },
    };
    if let Some((id, secret)) = &credentials {
        if !state.client_secret_matches(id, secret) {
            return reply::envelope(401, "Invalid client credentials");
        }
    }

    match grant_type {
        "client_credentials" => match credentials {
            Some((id, _)) => issue(state, &id),
            None => reply::envelope(400, "client_id and client_secret are required"),
        },
        "refresh_token" => {
            let Some(refresh) = field("refresh_token").filter(|t| !t.is_empty()) else {
                return reply::envelope(400, "refresh_token is required");
            };
            match state.redeem_refresh(refresh, credentials.as_ref().map(|(id, _)| id.as_str())) {
                Redeem::Valid { client_id } => issue(state, &client_id),
                Redeem::Expired => reply::envelope(401, "Refresh token expired"),
                Redeem::Unknown | Redeem::WrongClient => reply::envelope(401, "Invalid refresh token"),
            }
        }
        "none" => reply::envelope(400, "grant_type is required"),
        _ => reply::envelope(400, "Unsupported grant_type"),
    }
}

fn issue(state: &State, client_id: &str) -> Reply {
    let (access, refresh) = state.issue(client_id);
    reply::json_value(200, &token_json(&access, &refresh, state.expires_in))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn request_info(headers: &HeaderMap, client_auth: &str, form_fields: Vec<String>) -> RequestInfo {
    RequestInfo {
        user_agent: header_str(headers, header::USER_AGENT),
        content_type: header_str(headers, header::CONTENT_TYPE),
        client_auth: client_auth.to_string(),
        form_fields,
    }
}

/// Reads `Authorization: Bearer <token>`, the actor token of a token exchange.
fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = "Malformed Bearer authorization header";
    let value = value.to_str().map_err(|_| malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("Token exchange takes the actor token as Bearer authorization, not client credentials");
    }
    match token.trim() {
        "" => Err(malformed),
        token => Ok(Some(token.to_string())),
    }
}

/// Reads `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = "Malformed Basic authorization header";
    let value = value.to_str().map_err(|_| malformed)?;
    let (scheme, encoded) = value.split_once(' ').ok_or(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("Only Basic authorization is accepted here");
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or(malformed)?;
    let unescape =
        |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned());
    Ok(Some((unescape(id).map_err(|_| malformed)?, unescape(secret).map_err(|_| malformed)?)))
}
