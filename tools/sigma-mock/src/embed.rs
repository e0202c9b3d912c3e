//! `GET /__mock/embed/verify?url=`: checks a signed secure-embed URL the way
//! Sigma's "JSON web token claims reference" describes, and lists every problem
//! at once, so a test of a URL builder learns all it got wrong in one go.

use serde_json::{json, Map, Value};

use crate::jwt;
use crate::reply::{self, Reply};
use crate::state::State;

/// The longest session Sigma accepts: `exp - iat`, 30 days.
const MAX_LIFETIME_S: i64 = 2_592_000;
/// How far `iat` may run ahead of our clock.
const CLOCK_SKEW_S: i64 = 60;
/// Optional claims that, when present, must be strings.
const STRING_CLAIMS: [&str; 6] = ["first_name", "last_name", "account_type", "eval_connection_id", "tenant", "iss"];

pub fn answer(state: &State, query: &str) -> Reply {
    let Some(url) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "url").map(|(_, v)| v.into_owned())
    else {
        return reply::envelope(400, "url is required");
    };
    let Some(embed_query) = query_of(&url) else {
        return reply::envelope(400, "url is not an absolute http(s) URL");
    };
    let answer = match check(&state.embed_client_id, &state.embed_secret, &embed_query, jwt::now()) {
        Ok(claims) => json!({ "valid": true, "claims": claims }),
        Err(problems) => json!({ "valid": false, "problems": problems }),
    };
    reply::json_value(200, &answer)
}

/// The query of an absolute http(s) URL ("" when it has none); None if `url` is not one.
fn query_of(url: &str) -> Option<String> {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let uri: hyper::Uri = without_fragment.parse().ok()?;
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    let host = uri.host().is_some_and(|h| !h.is_empty());
    (web && host).then(|| uri.query().unwrap_or("").to_string())
}

/// The claims of a valid embed URL's JWT, or one sentence per problem found.
fn check(client_id: &str, secret: &str, query: &str, now: i64) -> Result<Map<String, Value>, Vec<String>> {
    let mut problems = Vec::new();
    let values = |name: &str| -> Vec<String> {
        form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()).collect()
    };
    if values(":embed") != ["true"] {
        problems.push(":embed must appear once in the URL's query, as :embed=true.".to_string());
    }
    let tokens = values(":jwt");
    let [token] = &tokens[..] else {
        problems.push(format!(":jwt must appear once in the URL's query; it appears {} times.", tokens.len()));
        return Err(problems);
    };
    let jwt = match jwt::decode(token) {
        Ok(jwt) => jwt,
        Err(why) => {
            problems.push(format!(":jwt is not a JWT: {why}."));
            return Err(problems);
        }
    };

    // Sigma's docs make alg optional but, when given, HS256; kid is required.
    if jwt.header.get("alg").is_some_and(|alg| alg != "HS256") {
        problems.push("alg in the JWT header must be HS256.".to_string());
    }
    if jwt.header.get("typ").is_some_and(|typ| typ != "JWT") {
        problems.push("typ in the JWT header must be JWT.".to_string());
    }
    if jwt.header_str("kid") != Some(client_id) {
        problems.push("kid in the JWT header must be the embed client id.".to_string());
    }
    if !jwt.signed_with(secret) {
        problems.push("The signature is not HMAC-SHA-256 with the embed secret.".to_string());
    }
    claim_problems(&jwt.claims, now, &mut problems);
    if problems.is_empty() {
        Ok(jwt.claims)
    } else {
        Err(problems)
    }
}

fn claim_problems(claims: &Map<String, Value>, now: i64, problems: &mut Vec<String>) {
    let mut say = |sentence: String| problems.push(sentence);

    match claims.get("sub") {
        None => say("sub is required: the user's email.".into()),
        Some(Value::String(sub)) if sub.contains('@') && !sub.chars().any(char::is_whitespace) => {}
        Some(_) => say("sub must be an email address, with an @ and no whitespace.".into()),
    }
    match claims.get("jti") {
        None => say("jti is required: a unique id for the session.".into()),
        Some(Value::String(jti)) if !jti.is_empty() => {}
        Some(_) => say("jti must be a non-empty string.".into()),
    }
    let mut seconds = |name: &str| match claims.get(name) {
        None => {
            say(format!("{name} is required: seconds since the Unix epoch."));
            None
        }
        Some(value) => value.as_i64().or_else(|| {
            say(format!("{name} must be an integer number of seconds since the Unix epoch."));
            None
        }),
    };
    let (iat, exp) = (seconds("iat"), seconds("exp"));
    if exp.is_some_and(|exp| exp <= now) {
        say("exp is not in the future: the URL has expired.".into());
    }
    if iat.is_some_and(|iat| iat > now + CLOCK_SKEW_S) {
        say(format!("iat is more than {CLOCK_SKEW_S} seconds in the future."));
    }
    if let (Some(iat), Some(exp)) = (iat, exp) {
        if exp - iat > MAX_LIFETIME_S {
            say(format!("exp is more than {MAX_LIFETIME_S} seconds (30 days) after iat."));
        }
    }

    let ver = claims.get("ver");
    let v1_1 = ver.is_some_and(|v| v == "1.1");
    if ver.is_some_and(|v| v != "1.0" && v != "1.1") {
        say(r#"ver must be "1.0" or "1.1"."#.into());
    }
    if v1_1 && claims.get("aud").is_none_or(|aud| aud != "sigmacomputing") {
        say(r#"aud must be "sigmacomputing" when ver is "1.1"."#.into());
    }
    for name in ["oauth_token", "connection_oauth_tokens"] {
        if claims.contains_key(name) && !v1_1 {
            say(format!(r#"{name} is only allowed with ver "1.1"."#));
        }
    }

    let strings = |value: &Value| value.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    if claims.get("teams").is_some_and(|teams| !strings(teams)) {
        say("teams must be an array of strings.".into());
    }
    let string_values = |value: &Value| value.as_object().is_some_and(|o| o.values().all(Value::is_string));
    if claims.get("user_attributes").is_some_and(|attributes| !string_values(attributes)) {
        say("user_attributes must be an object whose values are strings.".into());
    }
    for name in STRING_CLAIMS {
        if claims.get(name).is_some_and(|value| !value.is_string()) {
            say(format!("{name} must be a string."));
        }
    }
}
