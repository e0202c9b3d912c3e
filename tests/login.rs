//! A person signs in: the whole chain against the mock (discovery,
//! registration, PKCE, the loopback callback, the code exchange, rotation of
//! single-use refresh tokens, revocation), and what a hostile host or browser
//! can do to it. Sign-ins go to the file store in a directory of this test
//! binary's; each test uses a profile of its own.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use common::{mock, MockServer};
use sigma_auth::{begin_login, Client, Config, ErrorCode, LoginOptions};

/// The sign-in directory of this test binary (set before any store opens).
fn store_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("sigma-login-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        // Set once, before any store is opened by a test of this binary.
        std::env::set_var("XDG_CONFIG_HOME", &base);
        std::env::set_var("SIGMA_KEYRING", "file");
        base.join("sigma-auth")
    })
}

fn options(mock: &MockServer, profile: &str, scopes: &str) -> LoginOptions {
    store_dir();
    let mut options = LoginOptions::new(&mock.url);
    options.profile = profile.to_string();
    options.scopes = scopes.to_string();
    options.timeout = Duration::from_secs(20);
    options
}

/// Signs in as `email` through the mock's automatic approval, the browser's
/// visit made by `browse` on another thread.
fn sign_in(mock: &MockServer, profile: &str, scopes: &str, email: &str) -> sigma_auth::SignedIn {
    mock.signin(&format!(r#"{{"auto_approve": "{email}"}}"#));
    let pending = begin_login(&options(mock, profile, scopes)).expect("begin");
    let url = pending.authorize_url().to_string();
    let waiter = thread::spawn(move || pending.wait());
    let page = mock.browse(&url);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("Signed in as {email}")), "{}", page.body);
    waiter.join().unwrap().expect("signed in")
}

fn stored(profile: &str) -> Option<String> {
    std::fs::read_to_string(store_dir().join(format!("login-{profile}.json"))).ok()
}

#[test]
fn a_person_signs_in_and_their_token_works_for_the_api_and_the_mcp_server() {
    let mock = mock(&[]);
    let done = sign_in(&mock, "both", "api:access mcp:access", "ana@example.com");
    assert_eq!(done.profile.email.as_deref(), Some("ana@example.com"));
    assert_eq!(done.profile.scopes, "api:access mcp:access");

    let client = Client::new(Config::from_login("both").unwrap());
    let token = client.token().unwrap();
    assert!(token.refresh_token().is_none(), "the rotating refresh token stays in the store");
    let bearer = format!("Bearer {}", token.access_token());
    let who = mock.get("/v2/whoami", Some(&bearer));
    assert_eq!((who.status, who.json()["email"].as_str()), (200, Some("ana@example.com")));
    assert_eq!(mock.get("/mcp/v2", Some(&bearer)).status, 200);

    let stats = &mock.stats()["signin"];
    assert_eq!((stats["registrations"].as_u64(), stats["code_exchanges"].as_u64()), (Some(1), Some(1)));
    // The store: a private file in a private directory, naming no secret of the client.
    let dir = std::fs::metadata(store_dir()).unwrap().permissions().mode() & 0o777;
    let file = std::fs::metadata(store_dir().join("login-both.json")).unwrap().permissions().mode() & 0o777;
    assert_eq!((dir, file), (0o700, 0o600));
}

#[test]
fn sigmas_mcp_server_refuses_client_credentials_and_a_token_without_mcp_access() {
    let mock = mock(&[]);
    let machine = Client::new(common::config(&mock)).token().unwrap();
    assert_eq!(mock.get("/mcp/v2", Some(&format!("Bearer {}", machine.access_token()))).status, 403);
    sign_in(&mock, "api-only", "api:access", "bo@example.com");
    let person = Client::new(Config::from_login("api-only").unwrap()).token().unwrap();
    let bearer = format!("Bearer {}", person.access_token());
    assert_eq!(mock.get("/v2/whoami", Some(&bearer)).status, 200);
    assert_eq!(mock.get("/mcp/v2", Some(&bearer)).status, 403);
}

#[test]
fn refresh_tokens_rotate_through_the_store_and_none_is_used_twice() {
    let mock = mock(&["--expires-in", "4"]);
    sign_in(&mock, "rotate", "api:access", "cy@example.com");
    let first = stored("rotate").unwrap();
    for round in 0..3 {
        // Due: a 4 s token is refreshed in its last 2 s.
        thread::sleep(Duration::from_millis(2100));
        // A new client each round, as a new process would be: it finds the
        // stored token expired and refreshes with the stored refresh token.
        let token = Client::new(Config::from_login("rotate").unwrap()).token().unwrap();
        let who = mock.get("/v2/whoami", Some(&format!("Bearer {}", token.access_token())));
        assert_eq!(who.status, 200, "round {round}");
    }
    let stats = &mock.stats()["signin"];
    assert_eq!((stats["refreshes"].as_u64(), stats["reuses"].as_u64()), (Some(3), Some(0)));
    assert_ne!(stored("rotate").unwrap(), first, "the rotated refresh token was stored");
}

#[test]
fn a_refused_refresh_ends_in_login_required_and_no_loop() {
    let mock = mock(&[]);
    sign_in(&mock, "stolen", "api:access", "di@example.com");
    // Someone else redeems the stored refresh token first (a copy was taken):
    // the sign-in's next refresh is a reuse, and the server revokes it.
    let record: serde_json::Value = serde_json::from_str(&stored("stolen").unwrap()).unwrap();
    let reply = mock.post_form(
        "/v2/auth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", record["refresh_token"].as_str().unwrap()),
            ("client_id", record["client_id"].as_str().unwrap()),
        ],
    );
    assert_eq!(reply.status, 200);
    // The API refuses the stored access token (revoked, say): the caller
    // invalidates it, and the sign-in's next token needs a refresh.
    let client = Client::new(Config::from_login("stolen").unwrap());
    client.invalidate(client.token().unwrap().access_token());
    let error = client.token().unwrap_err();
    assert_eq!(error.code(), ErrorCode::LoginRequired, "{error}");
    assert!(error.message().contains("sigma-token login"), "{error}");
    let requests = mock.stats()["signin"]["refreshes"].as_u64();
    assert_eq!(client.token().unwrap_err().code(), ErrorCode::LoginRequired);
    assert_eq!(mock.stats()["signin"]["reuses"].as_u64(), Some(1), "one refused refresh, not a loop");
    assert_eq!(mock.stats()["signin"]["refreshes"].as_u64(), requests);
}

#[test]
fn logout_revokes_at_the_server_and_forgets() {
    let mock = mock(&[]);
    sign_in(&mock, "leaving", "api:access", "ed@example.com");
    let token = Client::new(Config::from_login("leaving").unwrap()).token().unwrap();
    assert!(sigma_auth::logout("leaving").unwrap());
    assert_eq!(mock.stats()["signin"]["revocations"].as_u64(), Some(1));
    assert!(stored("leaving").is_none());
    assert_eq!(Config::from_login("leaving").unwrap_err().code(), ErrorCode::LoginRequired);
    assert_eq!(mock.get("/v2/whoami", Some(&format!("Bearer {}", token.access_token()))).status, 401);
    assert!(!sigma_auth::logout("leaving").unwrap(), "nothing left to sign out");
}

#[test]
fn a_declined_sign_in_is_login_denied_and_stores_nothing() {
    let mock = mock(&[]);
    let pending = begin_login(&options(&mock, "declined", "api:access")).unwrap();
    let url = pending.authorize_url().to_string();
    let waiter = thread::spawn(move || pending.wait());
    // The page, then the person presses Deny.
    let page = mock.browse(&url);
    assert!(page.body.contains("id=\"deny\""), "{}", page.body);
    let query = url.split_once('?').unwrap().1;
    let mut form: Vec<(String, String)> = query
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .map(|(k, v)| {
            (
                k.to_string(),
                percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8().unwrap().into_owned(),
            )
        })
        .collect();
    form.push(("decision".into(), "deny".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let redirect = mock.post_form("/oauth/authorize", &pairs);
    assert_eq!(redirect.status, 302);
    let page = mock.browse(redirect.header("location").unwrap());
    assert!(page.body.contains("declined"), "{}", page.body);
    let error = waiter.join().unwrap().unwrap_err();
    assert_eq!(error.code(), ErrorCode::LoginDenied, "{error}");
    assert!(stored("declined").is_none());
}

#[test]
fn a_wrong_or_missing_state_is_answered_400_and_ignored_and_the_real_callback_still_wins() {
    let mock = mock(&[]);
    mock.signin(r#"{"auto_approve": "ci@example.com"}"#);
    let pending = begin_login(&options(&mock, "states", "api:access")).unwrap();
    let url = pending.authorize_url().to_string();
    let redirect_uri = pending.redirect_uri().to_string();
    let waiter = thread::spawn(move || pending.wait());
    // Another page, or a local process scanning ports, cannot end the sign-in.
    for query in ["code=anything&state=not-ours", "code=anything", "", "error=access_denied&state=x"] {
        let page = mock.browse(&format!("{redirect_uri}?{query}"));
        assert_eq!(page.status, 400, "{query}: {}", page.body);
        assert!(page.body.contains("ignored"), "{}", page.body);
    }
    let page = mock.browse(&url);
    assert!(page.body.contains("Signed in as ci@example.com"), "{}", page.body);
    waiter.join().unwrap().unwrap();
    assert_eq!(mock.stats()["signin"]["code_exchanges"].as_u64(), Some(1), "the strays' codes were never sent");
}

#[test]
fn a_trickling_connection_cannot_keep_the_listener_past_its_timeout() {
    let mock = mock(&[]);
    let mut options = options(&mock, "slow", "api:access");
    options.timeout = Duration::from_secs(3);
    let pending = begin_login(&options).unwrap();
    let address = pending.redirect_uri().trim_start_matches("http://").split('/').next().unwrap().to_string();
    let started = std::time::Instant::now();
    let waiter = thread::spawn(move || pending.wait());
    let trickle = thread::spawn(move || {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        for byte in b"GET /oauth/callback?state=x HTTP/1.1\r\n".iter().take(8) {
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(900));
        }
    });
    let error = waiter.join().unwrap().unwrap_err();
    assert_eq!(error.code(), ErrorCode::Timeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    trickle.join().unwrap();
}

#[test]
fn strays_and_a_flood_at_the_listener_are_answered_404_and_the_real_callback_still_wins() {
    let mock = mock(&[]);
    mock.signin(r#"{"auto_approve": "fi@example.com"}"#);
    let pending = begin_login(&options(&mock, "flooded", "api:access")).unwrap();
    let url = pending.authorize_url().to_string();
    let base = pending.redirect_uri().trim_end_matches("/oauth/callback").to_string();
    let waiter = thread::spawn(move || pending.wait());
    for path in ["/favicon.ico", "/", "/oauth/callbackx", "/oauth/other?code=x&state=y"] {
        assert_eq!(mock.browse(&format!("{base}{path}")).status, 404, "{path}");
    }
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let base = base.clone();
            thread::spawn(move || {
                use std::io::Write;
                let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
                // Half send junk, half send nothing and hang up.
                if i % 2 == 0 {
                    let _ = stream.write_all(b"POST /oauth/callback HTTP/1.1\r\nHost: x\r\n\r\n");
                }
            })
        })
        .collect();
    flood.into_iter().for_each(|t| t.join().unwrap());
    let page = mock.browse(&url);
    assert!(page.body.contains("Signed in as fi@example.com"), "{}", page.body);
    assert!(waiter.join().unwrap().is_ok());
}

#[test]
fn discovery_pointing_at_another_host_is_refused_before_any_registration_or_browser() {
    let mock = mock(&[]);
    // Nothing listens at these: a request there would fail differently.
    for settings in [
        r#"{"authorization_server": "https://login.example.com"}"#,
        r#"{"endpoint_origin": "http://192.0.2.1"}"#,
        // A loopback API's sign-in stays on loopback, even at Sigma's own hosts.
        r#"{"endpoint_origin": "https://login.sigmacomputing.com"}"#,
    ] {
        mock.signin(settings);
        let error = begin_login(&options(&mock, "elsewhere", "api:access")).unwrap_err();
        assert_eq!(error.code(), ErrorCode::LoginUnavailable, "{settings}: {error}");
    }
    assert_eq!(mock.stats()["signin"]["registrations"].as_u64(), Some(0));
    mock.signin(r#"{"enabled": false}"#);
    let error = begin_login(&options(&mock, "elsewhere", "api:access")).unwrap_err();
    assert_eq!(error.code(), ErrorCode::LoginUnavailable, "{error}");
    assert!(error.message().contains("offers no browser sign-in"), "{error}");
}

#[test]
fn an_oversized_metadata_document_and_an_html_token_answer_are_clear_errors_and_store_nothing() {
    let mock = mock(&[]);
    mock.signin(r#"{"metadata_padding": 200000}"#);
    let error = begin_login(&options(&mock, "huge", "api:access")).unwrap_err();
    assert_eq!(error.code(), ErrorCode::Protocol, "{error}");
    assert!(error.message().contains("larger than"), "{error}");

    mock.signin(r#"{"auto_approve": "gu@example.com"}"#);
    let pending = begin_login(&options(&mock, "html", "api:access")).unwrap();
    let url = pending.authorize_url().to_string();
    mock.faults(r#"[{"kind": "html"}]"#);
    let waiter = thread::spawn(move || pending.wait());
    let page = mock.browse(&url);
    assert_eq!(page.status, 400);
    let error = waiter.join().unwrap().unwrap_err();
    assert_eq!(error.code(), ErrorCode::Protocol, "{error}");
    assert!(!error.message().contains("<html"), "{error}");
    assert!(stored("html").is_none() && stored("huge").is_none());
}

#[test]
fn a_pasted_redirect_url_completes_the_sign_in() {
    let mock = mock(&[]);
    mock.signin(r#"{"auto_approve": "ha@example.com"}"#);
    let pending = begin_login(&options(&mock, "pasted", "api:access")).unwrap();
    // The browser is elsewhere: the mock's redirect is read, not followed.
    let redirect = Reply::location(&mock, pending.authorize_url());
    assert!(pending.complete("http://127.0.0.1:1/oauth/callback?code=x").is_err());
    let pending = begin_login(&options(&mock, "pasted", "api:access")).unwrap();
    let redirect_again = Reply::location(&mock, pending.authorize_url());
    assert_ne!(redirect, redirect_again);
    let done = pending.complete(&redirect_again).unwrap();
    assert_eq!(done.profile.email.as_deref(), Some("ha@example.com"));
    assert!(stored("pasted").is_some());
}

#[test]
fn a_client_of_a_sign_in_cannot_impersonate() {
    let mock = mock(&[]);
    sign_in(&mock, "no-acting", "api:access", "io@example.com");
    let client = Client::new(Config::from_login("no-acting").unwrap());
    assert_eq!(client.impersonate("other@example.com", None).unwrap_err().code(), ErrorCode::InvalidArgument);
}

struct Reply;

impl Reply {
    /// Where the mock sends the browser from `url` (no redirect followed).
    fn location(mock: &MockServer, url: &str) -> String {
        let reply = sigma_mock::harness::Reply::from(mock.agent().get(url).call().unwrap());
        assert_eq!(reply.status, 302, "{}", reply.body);
        reply.header("location").unwrap().to_string()
    }
}

#[test]
fn a_config_made_before_the_profile_was_signed_in_elsewhere_gets_none_of_the_new_sign_in_and_leaves_it_alone() {
    let (first, second) = (mock(&[]), mock(&[]));
    sign_in(&first, "moved", "api:access", "jo@example.com");
    let old = Client::new(Config::from_login("moved").unwrap());
    sign_in(&second, "moved", "api:access", "jo@example.com");
    // The old client's token is gone (say refused): the store holds a sign-in for another API.
    let error = old.token().and_then(|t| {
        old.invalidate(t.access_token());
        old.token()
    });
    let error = error.unwrap_err();
    assert_eq!(error.code(), ErrorCode::LoginRequired, "{error}");
    assert!(error.message().contains("signed in again"), "{error}");
    let fresh = Client::new(Config::from_login("moved").unwrap()).token().unwrap();
    assert_eq!(second.get("/v2/whoami", Some(&format!("Bearer {}", fresh.access_token()))).status, 200);
    assert_eq!(first.stats()["signin"]["revocations"].as_u64(), Some(1), "signing in again revoked the old grant");
}

#[test]
fn a_refresh_refused_for_another_reason_than_the_token_keeps_the_sign_in() {
    let mock = mock(&[]);
    sign_in(&mock, "kept", "api:access", "ka@example.com");
    let client = Client::new(Config::from_login("kept").unwrap());
    client.invalidate(client.token().unwrap().access_token());
    mock.faults(r#"[{"kind": "body", "status": 400, "content_type": "application/json", "body": "{\"error\":\"invalid_request\",\"error_description\":\"try again\"}"}]"#);
    let error = client.token().unwrap_err();
    assert_eq!(error.code(), ErrorCode::Http, "{error}");
    let token = client.token().unwrap();
    assert_eq!(mock.get("/v2/whoami", Some(&format!("Bearer {}", token.access_token()))).status, 200);
}

#[test]
fn a_sign_in_file_others_can_read_is_reported_and_logout_still_revokes_and_removes_it() {
    let mock = mock(&[]);
    sign_in(&mock, "exposed", "api:access", "lu@example.com");
    let file = store_dir().join("login-exposed.json");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = Config::from_login("exposed").unwrap_err();
    assert_eq!(error.code(), ErrorCode::LoginRequired);
    assert!(error.message().contains("others can read it") && error.message().contains("logout"), "{error}");
    assert!(sigma_auth::logout("exposed").unwrap());
    assert!(!file.exists());
    assert_eq!(mock.stats()["signin"]["revocations"].as_u64(), Some(1), "the exposed refresh token was revoked");
}

#[test]
fn a_refresh_answered_without_a_new_refresh_token_keeps_the_current_one() {
    let mock = mock(&[]);
    sign_in(&mock, "unrotated", "api:access", "mo@example.com");
    let before: serde_json::Value = serde_json::from_str(&stored("unrotated").unwrap()).unwrap();
    let client = Client::new(Config::from_login("unrotated").unwrap());
    client.invalidate(client.token().unwrap().access_token());
    // RFC 6749 §6: a server that does not rotate answers with no refresh token.
    mock.faults(r#"[{"kind":"body","status":200,"body":"{\"access_token\":\"mock_at_unrotated\",\"token_type\":\"Bearer\",\"expires_in\":3600}"}]"#);
    assert_eq!(client.token().unwrap().access_token(), "mock_at_unrotated");
    let after: serde_json::Value = serde_json::from_str(&stored("unrotated").unwrap()).unwrap();
    assert_eq!(after["refresh_token"], before["refresh_token"], "kept, and still good:");
    client.invalidate("mock_at_unrotated");
    let token = client.token().unwrap();
    assert_eq!(mock.get("/v2/whoami", Some(&format!("Bearer {}", token.access_token()))).status, 200);
}
