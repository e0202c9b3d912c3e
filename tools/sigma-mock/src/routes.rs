//! Request routing, `GET /v2/whoami`, and the `/__mock/*` control endpoints.

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{header, Method, Request};
use serde_json::json;

use crate::reply::{self, Reply};
use crate::state::{Lookup, State};
use crate::token::{self, DropConnection};
use crate::{embed, faults, signin, users};

pub async fn route(state: &State, req: Request<Incoming>) -> Result<Reply, DropConnection> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let flag = |name: &str| {
        form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == name && matches!(&*v, "1" | "true" | "yes"))
    };
    if !path.starts_with("/__mock/") && path != "/v2/auth/token" {
        state.record_api_request(req.method().as_str(), &path, req.headers());
    }
    Ok(match (req.method().clone(), path.as_str()) {
        (_, "/v2/auth/token") => return token::handle(state, req).await,
        (Method::GET, "/v2/whoami") => whoami(state, &req),
        (Method::GET, "/.well-known/oauth-protected-resource") => signin::resource_metadata(state),
        (Method::GET, "/.well-known/oauth-authorization-server") => signin::server_metadata(state),
        (Method::POST, "/oauth/register") => signin::register(state, req).await,
        (Method::GET, "/oauth/authorize") => signin::authorize_page(state, &query),
        (Method::POST, "/oauth/authorize") => signin::authorize_decision(state, req).await,
        (Method::POST, "/oauth/revoke") => signin::revoke(state, req).await,
        (_, "/mcp/v2") => signin::mcp(state, bearer(&req).as_deref()),
        (Method::POST, "/__mock/signin") => signin::configure(state, req).await,
        // An API endpoint that redirects, e.g. to another host: /v2/redirect?status=307&location=URL
        (_, "/v2/redirect") => redirect(&query),
        // Answers any method with the headers it got: 200, or ?status=N (200-599).
        (_, "/v2/echo") => {
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let status = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "status")
                .and_then(|(_, v)| v.parse::<u16>().ok())
                .filter(|s| (200..=599).contains(s))
                .unwrap_or(200);
            reply::json_value(status, &json!({ "headers": headers }))
        }
        (Method::GET, "/__mock/stats") => {
            let mut stats = json!(state.stats());
            stats["signin"] = json!(state.signin.stats());
            reply::json_value(200, &stats)
        }
        (Method::POST, "/__mock/faults") => queue_faults(state, req).await,
        (Method::POST, "/__mock/reset") => {
            state.reset(flag("tokens"));
            state.signin.reset_stats();
            reply::json_value(200, &json!({ "reset": true }))
        }
        (Method::POST, "/__mock/expire") => {
            state.expire(flag("refresh"));
            state.signin.expire();
            reply::json_value(200, &json!({ "expired": true }))
        }
        (Method::POST, "/__mock/users") => replace_users(state, req).await,
        (Method::GET, "/__mock/embed/verify") => embed::answer(state, &query),
        (
            _,
            "/v2/whoami"
            | "/__mock/stats"
            | "/__mock/faults"
            | "/__mock/reset"
            | "/__mock/expire"
            | "/__mock/users"
            | "/__mock/embed/verify"
            | "/.well-known/oauth-protected-resource"
            | "/.well-known/oauth-authorization-server"
            | "/oauth/register"
            | "/oauth/authorize"
            | "/oauth/revoke"
            | "/__mock/signin",
        ) => reply::envelope(405, "Method not allowed"),
        _ => reply::envelope(404, "Not found"),
    })
}

fn redirect(query: &str) -> Reply {
    let param =
        |name: &str| form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let status = param("status").and_then(|s| s.parse::<u16>().ok()).filter(|s| (300..=399).contains(s)).unwrap_or(302);
    let Some(location) = param("location") else {
        return reply::envelope(400, "location is required");
    };
    let mut reply = reply::envelope(status, "Moved");
    match hyper::header::HeaderValue::from_str(&location) {
        Ok(value) => {
            reply.headers_mut().insert(header::LOCATION, value);
            reply
        }
        Err(_) => reply::envelope(400, "location is not a valid header value"),
    }
}

/// The token of `Authorization: Bearer`, if any.
fn bearer(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim().to_string())
}

/// Stands for any protected endpoint: answers 200 only to a live access token
/// (a client's, or a person's who signed in). Without one it answers 401, and
/// names the sign-in (RFC 9728) unless that is switched off.
fn whoami(state: &State, req: &Request<Incoming>) -> Reply {
    let token = bearer(req);
    let person = token.as_deref().map(|t| state.signin.holder(t));
    let reply = match (token.map(|t| state.lookup_access(&t)), person) {
        (_, Some(signin::Holder::Person(person))) => reply::json_value(
            200,
            &json!({ "email": person.email, "userKind": "person", "organizationId": "mock-organization", "scope": person.scope }),
        ),
        (_, Some(signin::Holder::Expired)) => reply::envelope(401, "Token expired"),
        (None | Some(Lookup::Unknown), _) => {
            let mut reply = reply::envelope(401, "Token missing or malformed");
            if state.signin.enabled() {
                if let Ok(value) = header::HeaderValue::from_str(&signin::challenge(state)) {
                    reply.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
            }
            reply
        }
        (Some(Lookup::Expired), _) => reply::envelope(401, "Token expired"),
        (Some(Lookup::Valid { client_id, subject }), _) => {
            let mut who = json!({ "clientId": client_id, "organizationId": "mock-organization" });
            // A token from a token exchange says whom it acts for.
            if let Some(subject) = subject {
                who["email"] = json!(subject.email);
                who["tenant"] = json!(subject.tenant);
            }
            reply::json_value(200, &who)
        }
    };
    state.record_whoami(reply.status().as_u16());
    reply
}

async fn queue_faults(state: &State, req: Request<Incoming>) -> Reply {
    let Some(body) = small_body(req).await else {
        return reply::envelope(413, "Fault list too large");
    };
    match faults::parse_list(&body) {
        Ok(list) => {
            let queued = list.len();
            state.push_faults(list);
            reply::json_value(200, &json!({ "queued": queued }))
        }
        Err(message) => reply::envelope(400, &format!("Bad fault list: {message}")),
    }
}

/// Replaces the known and admin users; both lists are required, so a typo in a
/// harness is refused rather than silently emptying a list.
async fn replace_users(state: &State, req: Request<Incoming>) -> Reply {
    let Some(body) = small_body(req).await else {
        return reply::envelope(413, "User list too large");
    };
    match serde_json::from_slice::<users::Directory>(&body) {
        Ok(directory) => {
            let answer = json!(directory);
            state.set_directory(directory);
            reply::json_value(200, &answer)
        }
        Err(e) => reply::envelope(400, &format!("Bad user list: {e}")),
    }
}

/// The body of a control request, up to 1 MiB.
async fn small_body(req: Request<Incoming>) -> Option<bytes::Bytes> {
    Limited::new(req.into_body(), 1024 * 1024).collect().await.ok().map(|body| body.to_bytes())
}
