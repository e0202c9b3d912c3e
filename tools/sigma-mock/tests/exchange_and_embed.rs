//! Token exchange (impersonation) on the token endpoint, the user lists behind it,
//! and the secure-embed URL verifier.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use common::{assert_envelope, client_credentials, start, token_form, Mock, Reply};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A compact JWT over these JSON texts, signed HS256 with `secret`.
fn sign_raw(header: &str, claims: &str, secret: &str) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn sign(header: Value, claims: Value, secret: &str) -> String {
    sign_raw(&header.to_string(), &claims.to_string(), secret)
}

/// A subject token as a client of demo-client makes it.
fn subject(claims: Value) -> String {
    sign(json!({ "alg": "HS256", "typ": "JWT", "kid": "demo-client" }), claims, "demo-secret")
}

fn access_token(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["access_token"].as_str().unwrap().to_string()
}

fn admin_token(mock: &Mock) -> String {
    access_token(&client_credentials(mock))
}

/// The exchange as the client library sends it: the actor token both as Bearer and in the form.
fn exchange(mock: &Mock, subject_token: &str, actor: &str) -> Reply {
    exchange_with(mock, &[("authorization", &format!("Bearer {actor}"))], subject_token, actor)
}

fn exchange_with(mock: &Mock, headers: &[(&str, &str)], subject_token: &str, actor: &str) -> Reply {
    mock.post_form_with_headers(
        "/v2/auth/token",
        headers,
        &[
            ("grant_type", GRANT),
            ("subject_token", subject_token),
            ("subject_token_type", JWT_TYPE),
            ("actor_token", actor),
            ("actor_token_type", ACCESS_TYPE),
        ],
    )
}

fn whoami(mock: &Mock, token: &str) -> Reply {
    mock.get("/v2/whoami", Some(&format!("Bearer {token}")))
}

#[test]
fn an_admin_exchanges_for_a_user_token_without_refresh_that_whoami_knows() {
    let mock = start(&["--expires-in", "900"]);
    let admin = admin_token(&mock);
    let reply = exchange(&mock, &subject(json!({ "sub": "ann@example.com", "tenant": "t-42" })), &admin);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body.get("refresh_token").is_none(), "{body}");
    let user = body["access_token"].as_str().unwrap();
    assert!(user.starts_with("mock_ut_") && user.len() >= 40, "{user}");

    let who = whoami(&mock, user);
    assert_eq!(who.status, 200, "{}", who.body);
    let who = who.json();
    assert_eq!(
        (&who["email"], &who["tenant"], &who["clientId"]),
        (&json!("ann@example.com"), &json!("t-42"), &json!("demo-client"))
    );
    let admin_who = whoami(&mock, &admin).json();
    assert!(admin_who.get("email").is_none() && admin_who.get("tenant").is_none(), "{admin_who}");

    // Without Authorization the actor_token alone counts; no tenant reads as null.
    let bare = exchange_with(&mock, &[], &subject(json!({ "sub": "bob@example.com" })), &admin);
    let bob = whoami(&mock, &access_token(&bare)).json();
    assert_eq!((&bob["email"], &bob["tenant"]), (&json!("bob@example.com"), &Value::Null));

    // Other claims are accepted, a future exp included.
    let extra = json!({ "sub": "ann@example.com", "aud": "sigmacomputing", "iat": now(), "exp": now() + 300 });
    assert_eq!(exchange(&mock, &subject(extra), &admin).status, 200);

    let stats = mock.stats();
    assert_eq!(stats["exchanges_by_subject"], json!({ "ann@example.com": 2, "bob@example.com": 1 }));
    assert_eq!(stats["by_grant"][GRANT], 3);
    assert_eq!(stats["by_status"]["200"], 4);
    assert_eq!(stats["token_requests"], 4);
    assert_eq!(stats["recent_token_requests"].as_array().unwrap().last().unwrap()["grant"], GRANT);
    assert_eq!(stats["last_token_request"]["client_auth"], "bearer");
    let token_log = format!("{} {}", stats["last_token_request"], stats["recent_token_requests"]);
    assert!(!token_log.contains(&admin), "the token request log never shows the actor token");

    mock.expire(false);
    assert_envelope(&whoami(&mock, user), 401, "Token expired");
}

#[test]
fn a_malformed_exchange_request_gets_400_naming_the_field() {
    let mock = start(&[]);
    let admin = admin_token(&mock);
    let sub = subject(json!({ "sub": "ann@example.com" }));
    let full = [
        ("grant_type", GRANT),
        ("subject_token", sub.as_str()),
        ("subject_token_type", JWT_TYPE),
        ("actor_token", admin.as_str()),
        ("actor_token_type", ACCESS_TYPE),
    ];
    let without = |name: &str| -> Reply {
        let form: Vec<(&str, &str)> = full.iter().copied().filter(|(k, _)| *k != name).collect();
        token_form(&mock, &form)
    };
    let replaced = |name: &str, value: &str| -> Reply {
        let form: Vec<(&str, &str)> = full.iter().map(|&(k, v)| if k == name { (k, value) } else { (k, v) }).collect();
        token_form(&mock, &form)
    };
    assert_envelope(&without("subject_token"), 400, "subject_token is required");
    assert_envelope(&replaced("subject_token", ""), 400, "subject_token is required");
    assert_envelope(&without("subject_token_type"), 400, &format!("subject_token_type must be {JWT_TYPE}"));
    assert_envelope(
        &replaced("subject_token_type", ACCESS_TYPE),
        400,
        &format!("subject_token_type must be {JWT_TYPE}"),
    );
    assert_envelope(&without("actor_token"), 400, "actor_token is required");
    assert_envelope(&without("actor_token_type"), 400, &format!("actor_token_type must be {ACCESS_TYPE}"));
    assert_envelope(&replaced("actor_token_type", JWT_TYPE), 400, &format!("actor_token_type must be {ACCESS_TYPE}"));
    // The type checks come before the actor token is even looked at.
    let junk_actor = [("subject_token", sub.as_str()), ("actor_token", "mock_at_junk"), ("grant_type", GRANT)];
    assert_envelope(&token_form(&mock, &junk_actor), 400, &format!("subject_token_type must be {JWT_TYPE}"));

    let other = admin_token(&mock);
    let differ = exchange_with(&mock, &[("authorization", &format!("Bearer {other}"))], &sub, &admin);
    assert_envelope(&differ, 400, "Authorization and actor_token differ");
    // Bearer here is the actor token, never client credentials; Basic has no place.
    let basic = exchange_with(&mock, &[("authorization", "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=")], &sub, &admin);
    assert_eq!(basic.status, 400, "{}", basic.body);
    assert_eq!(exchange_with(&mock, &[("authorization", "Bearer ")], &sub, &admin).status, 400);
    let mut with_secret = full.to_vec();
    with_secret.extend([("client_id", "demo-client"), ("client_secret", "demo-secret")]);
    assert_eq!(token_form(&mock, &with_secret).status, 400, "the grant takes no client credentials");
    // Elsewhere a Bearer header is still refused as client authentication.
    let bearer_cc = mock.post_form_with_headers(
        "/v2/auth/token",
        &[("authorization", &format!("Bearer {admin}"))],
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(bearer_cc.status, 400);
    assert!(mock.stats()["exchanges_by_subject"].as_object().unwrap().is_empty());
}

#[test]
fn an_unknown_or_expired_actor_token_gets_401() {
    let mock = start(&[]);
    let sub = subject(json!({ "sub": "ann@example.com" }));
    assert_envelope(&exchange(&mock, &sub, "mock_at_made_up"), 401, "Invalid actor token");
    let admin = admin_token(&mock);
    mock.expire(false);
    assert_envelope(&exchange(&mock, &sub, &admin), 401, "Invalid actor token");
    // A refresh token is no access token.
    let refresh = client_credentials(&mock).json()["refresh_token"].as_str().unwrap().to_string();
    assert_envelope(&exchange(&mock, &sub, &refresh), 401, "Invalid actor token");
}

#[test]
fn only_admin_clients_can_impersonate_and_a_user_token_is_no_admin_credential() {
    let mock = start(&[
        "--client-id",
        "boss",
        "--client-secret",
        "boss-secret",
        "--client-id",
        "intern",
        "--client-secret",
        "intern-secret",
        "--non-admin-client",
        "intern",
    ]);
    let token_of = |id: &str, secret: &str| {
        access_token(&token_form(
            &mock,
            &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)],
        ))
    };
    let claims = json!({ "sub": "ann@example.com" });
    let intern = token_of("intern", "intern-secret");
    let intern_subject = sign(json!({ "alg": "HS256", "kid": "intern" }), claims.clone(), "intern-secret");
    assert_envelope(&exchange(&mock, &intern_subject, &intern), 403, "Only admin credentials can impersonate");

    let boss = token_of("boss", "boss-secret");
    let boss_subject = sign(json!({ "alg": "HS256", "kid": "boss" }), claims, "boss-secret");
    let user = access_token(&exchange(&mock, &boss_subject, &boss));
    assert_envelope(&exchange(&mock, &boss_subject, &user), 403, "Only admin credentials can impersonate");
}

#[test]
fn a_subject_token_that_is_not_signed_right_or_lacks_sub_gets_401() {
    let mock = start(&["--client-id", "a", "--client-secret", "sa", "--client-id", "b", "--client-secret", "sb"]);
    let actor = access_token(&token_form(
        &mock,
        &[("grant_type", "client_credentials"), ("client_id", "a"), ("client_secret", "sa")],
    ));
    let ann = json!({ "sub": "ann@example.com" });
    let header = |kid: &str| json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
    let good = sign(header("a"), ann.clone(), "sa");
    assert_eq!(exchange(&mock, &good, &actor).status, 200, "the control case");

    let parts: Vec<&str> = good.split('.').collect();
    let padded_signature = {
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        base64::engine::general_purpose::URL_SAFE.encode(signature)
    };
    let invalid = [
        ("wrong secret", sign(header("a"), ann.clone(), "sb")),
        ("kid of another client, signed with its secret", sign(header("b"), ann.clone(), "sb")),
        ("unknown kid", sign(header("nobody"), ann.clone(), "sa")),
        ("no kid", sign(json!({ "alg": "HS256" }), ann.clone(), "sa")),
        ("alg none", sign(json!({ "alg": "none", "kid": "a" }), ann.clone(), "sa")),
        ("alg HS512", sign(json!({ "alg": "HS512", "kid": "a" }), ann.clone(), "sa")),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("four parts", format!("{good}.x")),
        ("padded signature", format!("{}.{}.{padded_signature}", parts[0], parts[1])),
        (
            "tampered payload",
            format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(r#"{"sub":"eve@example.com"}"#), parts[2]),
        ),
        ("payload not JSON", sign_raw(&header("a").to_string(), "sub=ann", "sa")),
        ("no sub", sign(header("a"), json!({ "tenant": "t" }), "sa")),
        ("sub not a string", sign(header("a"), json!({ "sub": 7 }), "sa")),
        ("tenant not a string", sign(header("a"), json!({ "sub": "ann@example.com", "tenant": 5 }), "sa")),
        ("exp not a number", sign(header("a"), json!({ "sub": "ann@example.com", "exp": "soon" }), "sa")),
    ];
    for (why, token) in invalid {
        let reply = exchange(&mock, &token, &actor);
        assert_eq!(reply.status, 401, "{why}: {}", reply.body);
        assert_envelope(&reply, 401, "Invalid subject token");
    }
    let expired = sign(header("a"), json!({ "sub": "ann@example.com", "exp": now() - 5 }), "sa");
    assert_envelope(&exchange(&mock, &expired, &actor), 401, "Subject token expired");
    // A forgery is invalid, not expired.
    let forged_expired = sign(header("a"), json!({ "sub": "ann@example.com", "exp": now() - 5 }), "sb");
    assert_envelope(&exchange(&mock, &forged_expired, &actor), 401, "Invalid subject token");
}

#[test]
fn an_admin_user_cannot_be_impersonated() {
    let mock = start(&[]);
    let admin = admin_token(&mock);
    let as_admin = subject(json!({ "sub": "admin@example.com" }));
    assert_envelope(&exchange(&mock, &as_admin, &admin), 403, "Cannot impersonate an admin");
    let shouting = subject(json!({ "sub": "ADMIN@Example.COM" }));
    assert_envelope(&exchange(&mock, &shouting, &admin), 403, "Cannot impersonate an admin");

    let custom = start(&["--admin-user", "root@corp.example", "--admin-user", "ops@corp.example"]);
    let admin = admin_token(&custom);
    let root = subject(json!({ "sub": "root@corp.example" }));
    assert_envelope(&exchange(&custom, &root, &admin), 403, "Cannot impersonate an admin");
    let ops = subject(json!({ "sub": "ops@corp.example" }));
    assert_envelope(&exchange(&custom, &ops, &admin), 403, "Cannot impersonate an admin");
    let default_admin = subject(json!({ "sub": "admin@example.com" }));
    assert_eq!(exchange(&custom, &default_admin, &admin).status, 200, "--admin-user replaces the default");
}

#[test]
fn with_users_listed_an_unknown_subject_gets_400_and_the_lists_change_at_run_time() {
    let mock = start(&["--user", "ann@example.com", "--user", "bob@example.com"]);
    let admin = admin_token(&mock);
    let as_user = |email: &str| exchange(&mock, &subject(json!({ "sub": email })), &admin);
    assert_eq!(as_user("ann@example.com").status, 200);
    assert_eq!(as_user("bob@example.com").status, 200);
    assert_envelope(&as_user("carol@example.com"), 400, "Unknown user");
    // An admin is refused as an admin, listed among users or not.
    assert_envelope(&as_user("admin@example.com"), 403, "Cannot impersonate an admin");

    mock.set_users(&["carol@example.com"], &["bob@example.com"]);
    assert_eq!(as_user("carol@example.com").status, 200);
    assert_envelope(&as_user("ann@example.com"), 400, "Unknown user");
    assert_envelope(&as_user("bob@example.com"), 403, "Cannot impersonate an admin");
    assert_envelope(&as_user("admin@example.com"), 400, "Unknown user");

    mock.set_users(&[], &[]);
    assert_eq!(as_user("anyone@example.com").status, 200, "an empty users list means any user");
    assert_eq!(as_user("admin@example.com").status, 200, "and no admins at all");

    let answer = mock.post_json("/__mock/users", r#"{"users":["x@example.com"],"admin_users":["y@example.com"]}"#);
    assert_eq!(answer.json(), json!({ "users": ["x@example.com"], "admin_users": ["y@example.com"] }));
    assert_eq!(mock.post_json("/__mock/users", r#"{"users":[]}"#).status, 400, "both lists are required");
    assert_eq!(mock.post_json("/__mock/users", r#"{"users":[],"admin_users":[],"admins":[]}"#).status, 400);
    assert_eq!(mock.post_json("/__mock/users", "not json").status, 400);
    assert_envelope(&mock.get("/__mock/users", None), 405, "Method not allowed");
    assert_envelope(&as_user("anyone@example.com"), 400, "Unknown user");
}

#[test]
fn faults_apply_to_exchanges_and_are_counted() {
    let mock = start(&[]);
    let admin = admin_token(&mock);
    let sub = subject(json!({ "sub": "ann@example.com" }));
    mock.faults(r#"[{"kind":"status","status":503},{"kind":"delay","ms":300}]"#);
    assert_envelope(&exchange(&mock, &sub, &admin), 503, "Internal server error");
    let started = std::time::Instant::now();
    assert_eq!(exchange(&mock, &sub, &admin).status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let stats = mock.stats();
    assert_eq!(stats["by_grant"][GRANT], 2);
    assert_eq!(stats["by_status"]["503"], 1);
    assert_eq!(stats["exchanges_by_subject"]["ann@example.com"], 1, "only 200 answers count");
    mock.reset();
    assert!(mock.stats()["exchanges_by_subject"].as_object().unwrap().is_empty());
}

#[test]
fn a_non_admin_client_that_is_not_configured_is_a_usage_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sigma-mock"))
        .args(["--non-admin-client", "typo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--non-admin-client typo"));
}

// ---- Secure embed URLs ----

fn embed_claims() -> Value {
    json!({
        "sub": "ann@example.com",
        "jti": "session-1",
        "iat": now(),
        "exp": now() + 3600,
        "first_name": "Ann",
        "teams": ["Sales"],
        "user_attributes": { "region": "EU" },
    })
}

fn embed_jwt(claims: Value) -> String {
    sign(json!({ "alg": "HS256", "typ": "JWT", "kid": "demo-embed" }), claims, "demo-embed-secret")
}

fn embed_url(jwt: &str) -> String {
    format!("https://app.sigmacomputing.com/acme/workbook/w-1?:jwt={jwt}&:embed=true")
}

fn verify(mock: &Mock, url: &str) -> Value {
    let encoded: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let reply = mock.get(&format!("/__mock/embed/verify?url={encoded}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// The problems reported for these claims, signed right.
fn problems(mock: &Mock, claims: Value) -> Vec<String> {
    problems_of(&verify(mock, &embed_url(&embed_jwt(claims))))
}

fn problems_of(answer: &Value) -> Vec<String> {
    assert_eq!(answer["valid"], false, "{answer}");
    answer["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

fn with(changes: Value) -> Value {
    let mut claims = embed_claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[test]
fn a_correct_embed_url_is_valid_and_shows_its_claims() {
    let mock = start(&[]);
    let claims = embed_claims();
    let answer = verify(&mock, &embed_url(&embed_jwt(claims.clone())));
    assert_eq!(answer, json!({ "valid": true, "claims": claims }));

    let v11 = with(
        json!({ "ver": "1.1", "aud": "sigmacomputing", "oauth_token": "enc", "tenant": "t", "iss": "demo-embed" }),
    );
    assert_eq!(verify(&mock, &embed_url(&embed_jwt(v11)))["valid"], true);
    // Parameter order does not matter, and alg/typ may be left out of the header.
    let bare_header = sign(json!({ "kid": "demo-embed" }), embed_claims(), "demo-embed-secret");
    let reordered = format!("https://example.invalid/embed?:embed=true&theme=dark&:jwt={bare_header}#tab");
    assert_eq!(verify(&mock, &reordered)["valid"], true);

    let custom = start(&["--embed-client-id", "emb", "--embed-secret", "s3"]);
    let token = sign(json!({ "alg": "HS256", "typ": "JWT", "kid": "emb" }), embed_claims(), "s3");
    assert_eq!(verify(&custom, &embed_url(&token))["valid"], true);
    assert_eq!(verify(&custom, &embed_url(&embed_jwt(embed_claims())))["valid"], false);
}

#[test]
fn each_claim_problem_is_reported_in_a_sentence_naming_the_claim() {
    let mock = start(&[]);
    let only = |claims: Value, claim: &str| {
        let found = problems(&mock, claims);
        assert_eq!(found.len(), 1, "{claim}: {found:?}");
        assert!(found[0].starts_with(claim) && found[0].ends_with('.'), "{claim}: {found:?}");
    };
    only(with(json!({ "sub": null })), "sub ");
    only(with(json!({ "sub": "ann" })), "sub ");
    only(with(json!({ "sub": "ann smith@example.com" })), "sub ");
    only(with(json!({ "sub": 5 })), "sub ");
    only(with(json!({ "jti": null })), "jti ");
    only(with(json!({ "jti": "" })), "jti ");
    only(with(json!({ "iat": null })), "iat ");
    only(with(json!({ "iat": 1.5 })), "iat ");
    only(with(json!({ "iat": now() + 600, "exp": now() + 700 })), "iat ");
    only(with(json!({ "exp": null })), "exp ");
    only(with(json!({ "exp": "tomorrow" })), "exp ");
    only(with(json!({ "iat": now() - 100, "exp": now() - 10 })), "exp ");
    only(with(json!({ "exp": now() + 2_592_100 })), "exp ");
    only(with(json!({ "ver": "2.0" })), "ver ");
    only(with(json!({ "ver": 1.1 })), "ver ");
    only(with(json!({ "ver": "1.1" })), "aud ");
    only(with(json!({ "ver": "1.1", "aud": "someone-else" })), "aud ");
    only(with(json!({ "oauth_token": "enc" })), "oauth_token ");
    only(with(json!({ "ver": "1.0", "connection_oauth_tokens": {} })), "connection_oauth_tokens ");
    only(with(json!({ "teams": "Sales" })), "teams ");
    only(with(json!({ "teams": ["Sales", 3] })), "teams ");
    only(with(json!({ "user_attributes": ["region"] })), "user_attributes ");
    only(with(json!({ "user_attributes": { "level": 3 } })), "user_attributes ");
    for claim in ["first_name", "last_name", "account_type", "eval_connection_id", "tenant", "iss"] {
        let mut claims = embed_claims();
        claims[claim] = json!(1);
        only(claims, &format!("{claim} "));
    }
    // Exactly 30 days is allowed; unknown claims are ignored.
    let iat = now();
    assert_eq!(
        verify(&mock, &embed_url(&embed_jwt(with(json!({ "iat": iat, "exp": iat + 2_592_000, "color": 1 })))))["valid"],
        true
    );

    // Every problem is listed at once.
    let all = problems(&mock, json!({ "sub": "nobody", "teams": 1, "ver": "9" }));
    for claim in ["sub ", "jti ", "iat ", "exp ", "teams ", "ver "] {
        assert!(all.iter().any(|p| p.starts_with(claim)), "{claim} missing from {all:?}");
    }
}

#[test]
fn header_signature_and_url_problems_are_reported() {
    let mock = start(&[]);
    let claims = embed_claims();
    let one = |url: String, start: &str| {
        let found = problems_of(&verify(&mock, &url));
        assert_eq!(found.len(), 1, "{start}: {found:?}");
        assert!(found[0].starts_with(start), "{start}: {found:?}");
    };
    let good = embed_jwt(claims.clone());
    one(
        embed_url(&sign(json!({ "alg": "HS256", "typ": "JWT", "kid": "demo-embed" }), claims.clone(), "wrong")),
        "The signature",
    );
    one(embed_url(&sign(json!({ "alg": "HS256", "kid": "other" }), claims.clone(), "demo-embed-secret")), "kid ");
    one(embed_url(&sign(json!({ "alg": "HS256" }), claims.clone(), "demo-embed-secret")), "kid ");
    one(embed_url(&sign(json!({ "alg": "HS384", "kid": "demo-embed" }), claims.clone(), "demo-embed-secret")), "alg ");
    one(embed_url(&sign(json!({ "typ": "JWS", "kid": "demo-embed" }), claims.clone(), "demo-embed-secret")), "typ ");
    one(format!("https://app.sigmacomputing.com/w?:embed=true&jwt={good}"), ":jwt ");
    one(format!("https://app.sigmacomputing.com/w?:jwt={good}"), ":embed ");
    one(format!("https://app.sigmacomputing.com/w?:jwt={good}&:embed=false"), ":embed ");
    one(format!("https://app.sigmacomputing.com/w?:jwt={good}&:jwt={good}&:embed=true"), ":jwt ");
    one(embed_url("not-a-jwt"), ":jwt ");
    one(embed_url(&format!("{good}x")), "The signature");
}

#[test]
fn the_verifier_needs_a_url() {
    let mock = start(&[]);
    assert_envelope(&mock.get("/__mock/embed/verify", None), 400, "url is required");
    for bad in ["", "not a url", "/relative?:jwt=x&:embed=true", "ftp://host/x?:jwt=x", "https://"] {
        let encoded: String = form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let reply = mock.get(&format!("/__mock/embed/verify?url={encoded}"), None);
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.body);
    }
    assert_eq!(mock.post_empty("/__mock/embed/verify").status, 405);
}
