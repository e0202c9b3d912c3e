//! Acting as a user (Sigma's token exchange): one admin token for any number of
//! users, one exchange per user, background refreshes, a refused admin token
//! retried once, every refusal mapped, bad emails refused before any request.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{config, mock, MockServer};
use sigma_auth::{Client, Config, ErrorCode};

fn whoami_email(mock: &MockServer, token: &str) -> String {
    let reply = mock.get("/v2/whoami", Some(&format!("Bearer {token}")));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["email"].as_str().unwrap_or_default().to_string()
}

#[test]
fn an_admin_gets_a_users_token_and_the_api_sees_that_user() {
    let mock = mock(&[]);
    let admin = Client::new(config(&mock));
    let viewer = admin.impersonate("viewer@example.com", None).unwrap();
    let token = viewer.token().unwrap();
    assert_eq!(token.refresh_token(), None, "an exchange gives no refresh token");
    assert_eq!(whoami_email(&mock, token.access_token()), "viewer@example.com");
    assert_eq!(viewer.token().unwrap().serial(), token.serial(), "cached");
    let again = admin.impersonate("viewer@example.com", None).unwrap();
    assert_eq!(again.token().unwrap().serial(), token.serial(), "the same user shares one client");
    let tenant = admin.impersonate("viewer@example.com", Some("tenant-1")).unwrap().token().unwrap();
    assert_ne!(tenant.serial(), token.serial(), "another tenant is another token");
    let reply = mock.get("/v2/whoami", Some(&format!("Bearer {}", tenant.access_token())));
    assert_eq!(reply.json()["tenant"], "tenant-1");
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["client_credentials"], 1, "{stats}");
    assert_eq!(stats["by_grant"]["urn:ietf:params:oauth:grant-type:token-exchange"], 2, "{stats}");
}

#[test]
fn sixty_four_threads_for_eight_users_make_one_admin_token_and_one_exchange_each() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":200}]"#);
    let admin = Client::new(config(&mock));
    let barrier = Arc::new(Barrier::new(64));
    std::thread::scope(|s| {
        for i in 0..64 {
            let (admin, barrier) = (admin.clone(), barrier.clone());
            s.spawn(move || {
                let email = format!("user{}@example.com", i % 8);
                barrier.wait();
                let token = admin.impersonate(&email, None).unwrap().token().unwrap();
                assert!(token.access_token().starts_with("mock_ut_"));
            });
        }
    });
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["client_credentials"], 1, "{stats}");
    let exchanges = stats["exchanges_by_subject"].as_object().unwrap();
    assert_eq!(exchanges.len(), 8, "{stats}");
    assert!(exchanges.values().all(|n| n == 1), "{stats}");
}

#[test]
fn a_client_derived_per_request_and_dropped_makes_one_exchange_per_user() {
    let mock = mock(&[]);
    let admin = Client::new(config(&mock));
    let mut serials = std::collections::HashMap::new();
    for round in 0..20 {
        for user in 0..3 {
            let email = format!("user{user}@example.com");
            let viewer = admin.impersonate(&email, None).unwrap();
            let serial = viewer.token().unwrap().serial();
            assert_eq!(*serials.entry(user).or_insert(serial), serial, "round {round}: {email} got a new token");
            drop(viewer);
        }
    }
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["client_credentials"], 1, "{stats}");
    assert_eq!(stats["by_grant"]["urn:ietf:params:oauth:grant-type:token-exchange"], 3, "{stats}");
}

#[test]
fn a_users_client_outlives_its_admins_client() {
    let mock = mock(&[]);
    let admin = Client::new(config(&mock));
    let viewer = admin.impersonate("viewer@example.com", None).unwrap();
    let first = viewer.token().unwrap();
    drop(admin);
    viewer.invalidate_serial(first.serial());
    let second = viewer.token().unwrap();
    assert_ne!(second.serial(), first.serial());
    assert_eq!(whoami_email(&mock, second.access_token()), "viewer@example.com");
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["client_credentials"], 1, "the admin token is still shared: {stats}");
    assert_eq!(stats["by_grant"]["urn:ietf:params:oauth:grant-type:token-exchange"], 2, "{stats}");
}

#[test]
fn a_users_token_is_refreshed_in_the_background_without_waiting_callers() {
    // 6 s tokens: due from about 2.7 s, usable until 5.4 s.
    let mock = mock(&["--expires-in", "6"]);
    let admin = Client::new(config(&mock));
    let viewer = admin.impersonate("viewer@example.com", None).unwrap();
    let first = viewer.token().unwrap();
    std::thread::sleep(Duration::from_millis(3100));
    mock.faults(r#"[{"kind":"delay","ms":1000}]"#);
    let mut longest = Duration::ZERO;
    let until = Instant::now() + Duration::from_millis(1500);
    let mut newest = first.serial();
    while Instant::now() < until {
        let started = Instant::now();
        newest = viewer.token().unwrap().serial();
        longest = longest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(longest < Duration::from_millis(100), "a caller waited {longest:?} during the refresh");
    assert!(newest > first.serial(), "the background exchange replaced the token");
    assert_eq!(mock.stats()["exchanges_by_subject"]["viewer@example.com"], 2);
}

#[test]
fn a_refused_admin_token_is_replaced_once_and_the_exchange_retried() {
    let mock = mock(&[]);
    let admin = Client::new(config(&mock));
    let viewer = admin.impersonate("viewer@example.com", None).unwrap();
    let first = viewer.token().unwrap();
    mock.expire(false); // every access token, the admin's included, is now refused
    viewer.invalidate(first.access_token());
    let fresh = viewer.token().unwrap();
    assert_ne!(fresh.access_token(), first.access_token());
    let stats = mock.stats();
    assert_eq!(stats["by_status"]["401"], 1, "one refused exchange: {stats}");
    assert_eq!(stats["by_grant"]["refresh_token"], 1, "the admin's token was refreshed: {stats}");
    assert_eq!(stats["exchanges_by_subject"]["viewer@example.com"], 2, "{stats}");
}

#[test]
fn every_refusal_has_its_status_and_sigmas_words() {
    let mock = mock(&[
        "--client-id",
        "demo-client",
        "--client-secret",
        "demo-secret",
        "--client-id",
        "viewer-client",
        "--client-secret",
        "viewer-secret",
        "--non-admin-client",
        "viewer-client",
        "--user",
        "known@example.com",
        "--admin-user",
        "boss@example.com",
    ]);
    let admin = Client::new(config(&mock));
    let code = |client: &Client, email: &str| client.impersonate(email, None).unwrap().token().unwrap_err();
    let error = code(&admin, "boss@example.com");
    assert_eq!(error.code(), ErrorCode::Forbidden, "{error}");
    assert_eq!(error.http_status(), Some(403));
    assert!(error.to_string().contains("Cannot impersonate an admin") && error.request_id().is_some(), "{error}");
    let error = code(&admin, "stranger@example.com");
    assert_eq!(error.code(), ErrorCode::InvalidGrant, "{error}");
    assert!(error.to_string().contains("Unknown user"), "{error}");
    let viewer = Client::new(Config::new(&mock.url, "viewer-client", "viewer-secret").unwrap());
    let error = code(&viewer, "known@example.com");
    assert_eq!(error.code(), ErrorCode::Forbidden, "{error}");
    assert!(admin.impersonate("known@example.com", None).unwrap().token().is_ok());
}

#[test]
fn bad_emails_and_tenants_are_refused_before_any_request() {
    let mock = mock(&[]);
    let admin = Client::new(config(&mock));
    let long = format!("{}@example.com", "a".repeat(320));
    for email in ["", "   ", "no-at-sign", "two words@example.com", "tab\t@example.com", long.as_str()] {
        let error = admin.impersonate(email, None).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument, "{email:?}: {error}");
    }
    for tenant in ["", "has space", "x\u{7}"] {
        assert_eq!(admin.impersonate("a@example.com", Some(tenant)).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
    let error = admin.impersonate("a@example.com", None).unwrap().impersonate("b@example.com", None).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert_eq!(mock.token_requests(), 0);
}

#[test]
fn the_one_shot_call_and_extra_subject_claims() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    config.set_subject_token_claims(r#"{"aud":"sigmacomputing"}"#).unwrap();
    assert!(config.set_subject_token_claims(r#"{"sub":"x"}"#).is_err());
    assert!(config.set_subject_token_claims("[1]").is_err());
    let token = sigma_auth::impersonate_token(&config, "viewer@example.com", None).unwrap();
    assert_eq!(whoami_email(&mock, token.access_token()), "viewer@example.com");
    let error = sigma_auth::impersonate_token(&config, "admin@example.com", None).unwrap_err();
    assert_eq!(error.code(), ErrorCode::Forbidden);
}

#[test]
fn a_server_echoing_the_exchange_never_gets_the_subject_token_or_the_admin_token_out() {
    let mock = mock(&[]);
    let admin = Client::new(config(&mock));
    let admin_token = admin.token().unwrap().access_token().to_string();
    mock.faults(r#"[{"kind":"echo","status":400,"field":"message","what":"body","encoding":"raw"}]"#);
    let error = admin.impersonate("viewer@example.com", None).unwrap().token().unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains(&admin_token) && !text.contains("eyJ"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

#[test]
fn users_tokens_are_shared_through_the_token_cache_one_entry_per_user() {
    let mock = mock(&[]);
    let dir = std::env::temp_dir().join(format!("sigma-impersonation-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |email: &str| {
        let out = std::process::Command::new(common::sigma_token())
            .args(["--impersonate", email, "--cache-dir", dir.to_str().unwrap()])
            .env("SIGMA_BASE_URL", &mock.url)
            .env("SIGMA_CLIENT_ID", "demo-client")
            .env("SIGMA_CLIENT_SECRET", "demo-secret")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let a = run("a@example.com");
    assert_eq!(run("a@example.com"), a, "the second process reads the user's token from the cache");
    let b = run("b@example.com");
    assert_ne!(a, b);
    assert_eq!(whoami_email(&mock, &b), "b@example.com");
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["client_credentials"], 1, "the admin token is cached too: {stats}");
    assert_eq!(stats["exchanges_by_subject"]["a@example.com"], 1, "{stats}");
    std::fs::remove_dir_all(&dir).unwrap();
}
