//! The token-exchange grant (RFC 8693, Sigma's "impersonation"): an admin's
//! access token plus a JWT naming a user buys a token that acts as that user.
//! The checks run in a fixed order so that each refusal has one cause a client
//! library can be tested against.

use serde_json::{json, Value};

use crate::jwt;
use crate::reply::{self, Reply};
use crate::state::{constant_time_eq, Lookup, State, Subject};
use crate::users::Standing;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const SUBJECT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ACTOR_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Answers a token-exchange request whose form fields `field` reads; `bearer` is
/// the token of an `Authorization: Bearer` header, if one was sent.
pub fn grant<'a>(state: &State, field: impl Fn(&str) -> Option<&'a str>, bearer: Option<&str>) -> Reply {
    // 1. The request's shape: every field present, with the types Sigma expects.
    let present = |name: &str| field(name).filter(|v| !v.is_empty());
    let Some(subject_token) = present("subject_token") else {
        return reply::envelope(400, "subject_token is required");
    };
    if field("subject_token_type") != Some(SUBJECT_TOKEN_TYPE) {
        return reply::envelope(400, &format!("subject_token_type must be {SUBJECT_TOKEN_TYPE}"));
    }
    let Some(actor_token) = present("actor_token") else {
        return reply::envelope(400, "actor_token is required");
    };
    if field("actor_token_type") != Some(ACTOR_TOKEN_TYPE) {
        return reply::envelope(400, &format!("actor_token_type must be {ACTOR_TOKEN_TYPE}"));
    }
    // Two different tokens would leave it unclear who is acting.
    if bearer.is_some_and(|b| !constant_time_eq(b, actor_token)) {
        return reply::envelope(400, "Authorization and actor_token differ");
    }

    // 2. and 3. The actor: a live token of an admin client. A token that already
    // acts for a user is no admin credential, whichever client obtained it.
    let actor_client = match state.lookup_access(actor_token) {
        Lookup::Unknown | Lookup::Expired => return reply::envelope(401, "Invalid actor token"),
        Lookup::Valid { client_id, subject } => {
            if subject.is_some() || !state.is_admin_client(&client_id) {
                return reply::envelope(403, "Only admin credentials can impersonate");
            }
            client_id
        }
    };

    // 4. The subject token, signed by the actor's own client.
    let subject = match subject_from(state, subject_token, &actor_client) {
        Ok(subject) => subject,
        Err(message) => return reply::envelope(401, message),
    };

    // 5. and 6. Whom it names.
    match state.judge_user(&subject.email) {
        Standing::Admin => return reply::envelope(403, "Cannot impersonate an admin"),
        Standing::Unknown => return reply::envelope(400, "Unknown user"),
        Standing::User => {}
    }

    // 7. A token for that user, with no refresh token.
    let email = subject.email.clone();
    let access = state.issue_for_user(&actor_client, subject);
    state.record_exchange(&email);
    reply::json_value(200, &json!({ "access_token": access, "token_type": "Bearer", "expires_in": state.expires_in }))
}

/// Checks the subject JWT and reads whom it names, or says why not (answered
/// with 401). Every way of being wrong but expiry gets the same answer: a
/// prober learns nothing about which part failed.
fn subject_from(state: &State, token: &str, actor_client: &str) -> Result<Subject, &'static str> {
    let invalid = || "Invalid subject token";
    let jwt = jwt::decode(token).map_err(|_| invalid())?;
    let kid = jwt.header_str("kid").ok_or_else(invalid)?;
    if jwt.header_str("alg") != Some("HS256") || kid != actor_client {
        return Err(invalid());
    }
    let secret = state.client_secret(kid).ok_or_else(invalid)?;
    if !jwt.signed_with(secret) {
        return Err(invalid());
    }
    let email = jwt.claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(invalid)?;
    let tenant = match jwt.claims.get("tenant") {
        None => None,
        Some(Value::String(tenant)) => Some(tenant.clone()),
        Some(_) => return Err(invalid()),
    };
    // Only checked once the signature holds: a forgery is invalid, not expired.
    match jwt.claims.get("exp") {
        None => {}
        Some(exp) => match exp.as_f64() {
            None => return Err(invalid()),
            Some(exp) if exp <= jwt::now() as f64 => return Err("Subject token expired"),
            Some(_) => {}
        },
    }
    Ok(Subject { email: email.to_string(), tenant })
}
