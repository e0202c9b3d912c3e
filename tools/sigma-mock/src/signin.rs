//! People signing in, as Sigma's REST API lets them: the 401 with
//! `WWW-Authenticate` on `/v2/whoami`, the protected-resource (RFC 9728) and
//! authorization-server (RFC 8414) metadata, dynamic registration of public
//! clients (RFC 7591), an HTML sign-in page (or automatic approval for tests),
//! the code exchange with PKCE S256, rotating single-use refresh tokens whose
//! reuse revokes the whole sign-in, revocation (RFC 7009), and `/mcp/v2`,
//! which takes only people's tokens that carry `mcp:access`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{header, Request};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::reply::{self, full, Reply};
use crate::state::{constant_time_eq, random_token, State};

/// The scopes a person may ask for.
const SCOPES: [&str; 2] = ["api:access", "mcp:access"];
/// How long an authorization code may wait for its exchange.
const CODE_TTL: Duration = Duration::from_secs(60);

/// How the sign-in behaves; `POST /__mock/signin` replaces it (JSON, every
/// field optional).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Whether `/v2/whoami` advertises a sign-in at all.
    pub enabled: bool,
    /// Approve every authorization at once as this email, with no page.
    pub auto_approve: Option<String>,
    /// `authorization_servers[0]` of the resource metadata, instead of the mock itself.
    pub authorization_server: Option<String>,
    /// The origin the authorization server's endpoints are given on, instead of the mock's.
    pub endpoint_origin: Option<String>,
    /// Bytes of padding added to the authorization-server metadata.
    pub metadata_padding: usize,
    /// Offer no revocation endpoint.
    pub no_revocation: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            auto_approve: None,
            authorization_server: None,
            endpoint_origin: None,
            metadata_padding: 0,
            no_revocation: false,
        }
    }
}

/// Counters of the sign-in, in `/__mock/stats` under `signin`.
#[derive(Default, Clone, Serialize)]
pub struct Stats {
    pub registrations: u64,
    pub pages_shown: u64,
    pub approvals: u64,
    pub denials: u64,
    pub code_exchanges: u64,
    pub refreshes: u64,
    /// Refresh tokens presented a second time (each revokes its sign-in).
    pub reuses: u64,
    pub revocations: u64,
    pub mcp_accepted: u64,
    pub mcp_refused: u64,
}

#[derive(Default)]
pub struct SignIn {
    book: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    settings: Settings,
    clients: HashMap<String, Vec<String>>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Person>,
    refresh: HashMap<String, Refresh>,
    revoked: HashSet<u64>,
    next_family: u64,
    stats: Stats,
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    email: String,
    scope: String,
    issued: Instant,
}

/// An access token issued to a person.
#[derive(Clone)]
pub struct Person {
    pub email: String,
    pub scope: String,
    family: u64,
    expires: Instant,
}

struct Refresh {
    client_id: String,
    person: Person,
    used: bool,
}

/// What a bearer token is, as far as the sign-in knows.
pub enum Holder {
    Person(Person),
    Expired,
    NotOurs,
}

impl SignIn {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Approves every sign-in at once as `email` (`--auto-approve`).
    pub fn auto_approve(&self, email: String) {
        self.book().settings.auto_approve = Some(email);
    }

    pub fn enabled(&self) -> bool {
        self.book().settings.enabled
    }

    pub fn stats(&self) -> Stats {
        self.book().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.book().stats = Stats::default();
    }

    /// Makes every person's access token expire now (their refresh tokens live on).
    pub fn expire(&self) {
        let now = Instant::now();
        for person in self.book().access.values_mut() {
            person.expires = now;
        }
    }

    pub fn holder(&self, token: &str) -> Holder {
        let book = self.book();
        match book.access.get(token) {
            Some(p) if book.revoked.contains(&p.family) => Holder::NotOurs,
            Some(p) if p.expires <= Instant::now() => Holder::Expired,
            Some(p) => Holder::Person(p.clone()),
            None => Holder::NotOurs,
        }
    }
}

/// The `WWW-Authenticate` value of an unauthenticated `/v2/whoami` (RFC 9728).
pub fn challenge(state: &State) -> String {
    format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource\", scope=\"api:access\"",
        state.base_url
    )
}

pub fn resource_metadata(state: &State) -> Reply {
    let settings = state.signin.book().settings.clone();
    if !settings.enabled {
        return reply::envelope(404, "Not found");
    }
    let server = settings.authorization_server.unwrap_or_else(|| state.base_url.clone());
    reply::json_value(
        200,
        &json!({
            "resource": state.base_url,
            "authorization_servers": [server],
            "scopes_supported": SCOPES,
            "bearer_methods_supported": ["header"],
        }),
    )
}

pub fn server_metadata(state: &State) -> Reply {
    let settings = state.signin.book().settings.clone();
    if !settings.enabled {
        return reply::envelope(404, "Not found");
    }
    let origin = settings.endpoint_origin.unwrap_or_else(|| state.base_url.clone());
    let mut metadata = json!({
        "issuer": state.base_url,
        "authorization_endpoint": format!("{origin}/oauth/authorize"),
        "token_endpoint": format!("{origin}/v2/auth/token"),
        "registration_endpoint": format!("{origin}/oauth/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": SCOPES,
    });
    if !settings.no_revocation {
        metadata["revocation_endpoint"] = json!(format!("{origin}/oauth/revoke"));
    }
    if settings.metadata_padding > 0 {
        metadata["padding"] = json!("x".repeat(settings.metadata_padding));
    }
    reply::json_value(200, &metadata)
}

pub async fn configure(state: &State, req: Request<Incoming>) -> Reply {
    let Some(body) = body(req).await else {
        return reply::envelope(413, "Too large");
    };
    match serde_json::from_slice::<Settings>(&body) {
        Ok(settings) => {
            let answer = json!(settings);
            state.signin.book().settings = settings;
            reply::json_value(200, &answer)
        }
        Err(e) => reply::envelope(400, &format!("Bad sign-in settings: {e}")),
    }
}

/// `POST /oauth/register`: a public client with loopback redirect URIs.
pub async fn register(state: &State, req: Request<Incoming>) -> Reply {
    let Some(body) = body(req).await else {
        return oauth_error(413, "invalid_client_metadata", "too large");
    };
    let Ok(metadata) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return oauth_error(400, "invalid_client_metadata", "not JSON");
    };
    let uris: Vec<String> = metadata["redirect_uris"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if uris.is_empty() || !uris.iter().all(|u| is_loopback_callback(u)) {
        return oauth_error(
            400,
            "invalid_redirect_uri",
            "redirect_uris must be http://127.0.0.1:PORT/... loopback URIs",
        );
    }
    if metadata["token_endpoint_auth_method"] != "none" {
        return oauth_error(400, "invalid_client_metadata", "only public clients (token_endpoint_auth_method none)");
    }
    let client_id = random_token("mock_pub_");
    let mut book = state.signin.book();
    book.clients.insert(client_id.clone(), uris.clone());
    book.stats.registrations += 1;
    reply::json_value(
        201,
        &json!({
            "client_id": client_id,
            "client_id_issued_at": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            "redirect_uris": uris,
            "client_name": metadata["client_name"],
            "scope": metadata["scope"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }),
    )
}

fn is_loopback_callback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://127.0.0.1:") else {
        return false;
    };
    let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
    port.parse::<u16>().is_ok_and(|p| p != 0) && !path.contains(['?', '#'])
}

/// The parameters of an authorization request, checked.
struct Asked {
    client_id: String,
    redirect_uri: String,
    state: String,
    challenge: String,
    scope: String,
}

fn check_request(state: &State, params: &HashMap<String, String>) -> Result<Asked, Box<Reply>> {
    let get = |name: &str| params.get(name).cloned().unwrap_or_default();
    let (client_id, redirect_uri) = (get("client_id"), get("redirect_uri"));
    let registered = state.signin.book().clients.get(&client_id).cloned();
    let Some(uris) = registered else {
        return Err(Box::new(page(400, "Unknown client", "<p>This application is not registered.</p>")));
    };
    if !uris.contains(&redirect_uri) {
        return Err(Box::new(page(400, "Wrong redirect", "<p>The redirect URI is not the registered one.</p>")));
    }
    if get("response_type") != "code" || get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
        return Err(Box::new(page(400, "Bad request", "<p>Only the code flow with PKCE S256 is supported.</p>")));
    }
    let scope = get("scope");
    if scope.split_whitespace().next().is_none() || !scope.split_whitespace().all(|s| SCOPES.contains(&s)) {
        return Err(Box::new(page(400, "Bad scope", "<p>Unknown scope.</p>")));
    }
    Ok(Asked { client_id, redirect_uri, state: get("state"), challenge: get("code_challenge"), scope })
}

/// `GET /oauth/authorize`: the sign-in page, or at once a redirect when
/// approvals are automatic.
pub fn authorize_page(state: &State, query: &str) -> Reply {
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let asked = match check_request(state, &params) {
        Ok(asked) => asked,
        Err(reply) => return *reply,
    };
    let auto = state.signin.book().settings.auto_approve.clone();
    if let Some(email) = auto {
        return decide(state, &asked, Some(&email));
    }
    state.signin.book().stats.pages_shown += 1;
    let hidden: String =
        ["client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope", "response_type"]
            .iter()
            .map(|name| {
                format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    escape(params.get(*name).map_or("", String::as_str))
                )
            })
            .collect();
    page(
        200,
        "Sign in to Sigma (mock)",
        &format!(
            "<p>An application asks to use Sigma as you, with the scopes <code>{}</code>.</p>\
             <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
             <label>Email <input id=\"email\" name=\"email\" type=\"email\" required></label>\
             <button id=\"allow\" name=\"decision\" value=\"allow\" type=\"submit\">Allow</button>\
             <button id=\"deny\" name=\"decision\" value=\"deny\" type=\"submit\" formnovalidate>Deny</button>\
             </form>",
            escape(&asked.scope)
        ),
    )
}

/// `POST /oauth/authorize`: the person's answer from the page.
pub async fn authorize_decision(state: &State, req: Request<Incoming>) -> Reply {
    let Some(body) = body(req).await else {
        return page(413, "Too large", "");
    };
    let params: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let asked = match check_request(state, &params) {
        Ok(asked) => asked,
        Err(reply) => return *reply,
    };
    let email = params.get("email").map(|e| e.trim()).filter(|e| e.contains('@'));
    match params.get("decision").map(String::as_str) {
        Some("allow") if email.is_some() => decide(state, &asked, email),
        Some("allow") => page(400, "Email needed", "<p>Give your email address.</p>"),
        _ => decide(state, &asked, None),
    }
}

/// Redirects back to the application: with a code for `email`, or with
/// `error=access_denied` when there is none.
fn decide(state: &State, asked: &Asked, email: Option<&str>) -> Reply {
    let mut book = state.signin.book();
    let mut query = form_urlencoded::Serializer::new(String::new());
    match email {
        Some(email) => {
            let code = random_token("mock_code_");
            book.codes.insert(
                code.clone(),
                Code {
                    client_id: asked.client_id.clone(),
                    redirect_uri: asked.redirect_uri.clone(),
                    challenge: asked.challenge.clone(),
                    email: email.to_string(),
                    scope: asked.scope.clone(),
                    issued: Instant::now(),
                },
            );
            book.stats.approvals += 1;
            query.append_pair("code", &code);
        }
        None => {
            book.stats.denials += 1;
            query.append_pair("error", "access_denied").append_pair("error_description", "The person declined.");
        }
    }
    query.append_pair("state", &asked.state);
    let location = format!("{}?{}", asked.redirect_uri, query.finish());
    let mut reply = reply::with_body(302, "text/plain", full("Redirecting"));
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        reply.headers_mut().insert(header::LOCATION, value);
    }
    reply
}

/// Whether this token request is the sign-in's: the code grant, or a refresh
/// by a registered public client (a client id and no secret).
pub fn owns(state: &State, grant_type: &str, field: &dyn Fn(&str) -> Option<String>) -> bool {
    grant_type == "authorization_code"
        || (grant_type == "refresh_token"
            && field("client_secret").is_none()
            && field("client_id").is_some_and(|id| state.signin.book().clients.contains_key(&id)))
}

/// `grant_type=authorization_code` and the public client's `refresh_token`.
pub fn grant(state: &State, grant_type: &str, field: &dyn Fn(&str) -> Option<String>) -> Reply {
    let client_id = field("client_id").unwrap_or_default();
    let mut book = state.signin.book();
    if !book.clients.contains_key(&client_id) {
        return oauth_error(401, "invalid_client", "unknown client_id");
    }
    let person = if grant_type == "authorization_code" {
        let Some(code) = field("code").and_then(|c| book.codes.remove(&c)) else {
            return oauth_error(400, "invalid_grant", "unknown or used code");
        };
        let verifier = field("code_verifier").unwrap_or_default();
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
        if code.issued.elapsed() > CODE_TTL {
            return oauth_error(400, "invalid_grant", "the code expired");
        }
        if code.client_id != client_id || field("redirect_uri").as_deref() != Some(code.redirect_uri.as_str()) {
            return oauth_error(400, "invalid_grant", "the code was issued to another client or redirect_uri");
        }
        if !(43..=128).contains(&verifier.len()) || !constant_time_eq(&computed, &code.challenge) {
            return oauth_error(400, "invalid_grant", "PKCE verification failed");
        }
        book.stats.code_exchanges += 1;
        book.next_family += 1;
        Person { email: code.email, scope: code.scope, family: book.next_family, expires: Instant::now() }
    } else {
        let presented = field("refresh_token").unwrap_or_default();
        let Some(entry) = book.refresh.get(&presented) else {
            return oauth_error(400, "invalid_grant", "unknown refresh token");
        };
        if entry.client_id != client_id {
            return oauth_error(400, "invalid_grant", "the refresh token was issued to another client");
        }
        let (family, used, person) = (entry.person.family, entry.used, entry.person.clone());
        if used {
            // A reused refresh token: someone kept a copy. Revoke the whole sign-in.
            book.stats.reuses += 1;
            book.revoked.insert(family);
            return oauth_error(400, "invalid_grant", "refresh token reused; the sign-in is revoked");
        }
        if book.revoked.contains(&family) {
            return oauth_error(400, "invalid_grant", "the sign-in was revoked");
        }
        if let Some(entry) = book.refresh.get_mut(&presented) {
            entry.used = true;
        }
        book.stats.refreshes += 1;
        person
    };
    let person = Person { expires: Instant::now() + Duration::from_secs(state.expires_in), ..person };
    let access = random_token("mock_pat_");
    let refresh = random_token("mock_prt_");
    book.access.insert(access.clone(), person.clone());
    book.refresh.insert(refresh.clone(), Refresh { client_id, person: person.clone(), used: false });
    reply::json_value(
        200,
        &json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": state.expires_in,
            "refresh_token": refresh,
            "scope": person.scope,
        }),
    )
}

/// `POST /oauth/revoke` (RFC 7009): revokes the sign-in the token belongs to.
pub async fn revoke(state: &State, req: Request<Incoming>) -> Reply {
    let Some(body) = body(req).await else {
        return oauth_error(413, "invalid_request", "too large");
    };
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let (token, client_id) = (form.get("token").cloned().unwrap_or_default(), form.get("client_id"));
    let mut book = state.signin.book();
    let family = book
        .refresh
        .get(&token)
        .filter(|r| Some(&r.client_id) == client_id)
        .map(|r| r.person.family)
        .or_else(|| book.access.get(&token).map(|p| p.family));
    if let Some(family) = family {
        book.revoked.insert(family);
        book.stats.revocations += 1;
    }
    reply::json_value(200, &json!({}))
}

/// `/mcp/v2`: Sigma's hosted MCP server takes only people's tokens with `mcp:access`.
pub fn mcp(state: &State, bearer: Option<&str>) -> Reply {
    let refuse = |status: u16, message: &str| {
        state.signin.book().stats.mcp_refused += 1;
        let mut reply = reply::envelope(status, message);
        let value = format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource\", scope=\"mcp:access\"",
            state.base_url
        );
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            reply.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        reply
    };
    let Some(token) = bearer else {
        return refuse(401, "A bearer token is required");
    };
    match state.signin.holder(token) {
        Holder::Person(person) if person.scope.split_whitespace().any(|s| s == "mcp:access") => {
            state.signin.book().stats.mcp_accepted += 1;
            reply::json_value(
                200,
                &json!({ "jsonrpc": "2.0", "result": { "serverInfo": { "name": "sigma-mock-mcp" }, "user": person.email } }),
            )
        }
        Holder::Person(_) => refuse(403, "The token lacks the mcp:access scope"),
        Holder::Expired => refuse(401, "Token expired"),
        Holder::NotOurs => refuse(403, "The MCP server accepts only tokens of people who signed in (mcp:access)"),
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    reply::json_value(status, &json!({ "error": error, "error_description": description }))
}

fn page(status: u16, title: &str, body: &str) -> Reply {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    );
    reply::with_body(status, "text/html; charset=utf-8", full(html))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn body(req: Request<Incoming>) -> Option<bytes::Bytes> {
    Limited::new(req.into_body(), 64 * 1024).collect().await.ok().map(|b| b.to_bytes())
}
