//! Sigma's edge: throttling and HTML pages from the CDN in front of the token
//! endpoint, as measured. The mock plays the edge with `--throttle` (a token
//! bucket; past it 429 or 403 with an HTML page and no Retry-After) or with
//! queued faults.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{config, impatient, mock, timed};
use sigma_auth::{Client, Config, ErrorCode};

const EDGE_403: &str = r#"{"kind":"status","status":403,"html":true}"#;

#[test]
fn an_edge_403_twice_then_200_is_a_token_after_waiting_not_a_wrong_secret() {
    let mock = mock(&[]);
    mock.faults(&format!("[{EDGE_403},{EDGE_403}]"));
    let (token, took) = timed(|| Client::new(config(&mock)).token());
    assert!(token.is_ok(), "{:?}", token.err());
    assert_eq!(mock.grants("client_credentials"), 3);
    assert!(took >= Duration::from_secs(4), "two waits of at least 2 s each: {took:?}");
}

#[test]
fn an_edge_403_forever_is_rate_limited_within_the_deadline_and_never_carries_the_page() {
    let mock = mock(&[]);
    mock.faults(&format!("[{}]", [EDGE_403; 10].join(",")));
    let mut config = impatient(&mock, Duration::from_secs(6), 10);
    config.set_connect_timeout(Duration::from_secs(2)).unwrap();
    let (result, took) = timed(|| Client::new(config).token());
    let error = result.unwrap_err();
    assert_eq!(error.code(), ErrorCode::RateLimited, "{error}");
    assert!(error.message().contains("Sigma's edge answered 403 with an HTML page"), "{error}");
    assert!(error.message().contains("not a credentials problem"), "{error}");
    assert!(
        !error.message().to_ascii_lowercase().contains("<html")
            && !error.to_string().contains("could not be satisfied")
    );
    assert!(took < Duration::from_millis(6500), "{took:?}");
}

#[test]
fn the_exchange_grant_behind_an_edge_403_is_rate_limited_not_forbidden() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    config.set_max_attempts(1).unwrap();
    let admin = Client::new(config);
    admin.token().unwrap();
    mock.faults(&format!("[{EDGE_403}]"));
    let error = admin.impersonate("viewer@example.com", None).unwrap().token().unwrap_err();
    assert_eq!(error.code(), ErrorCode::RateLimited, "{error}");
}

#[test]
fn a_429_with_retry_after_zero_still_waits_the_two_second_floor() {
    let mock = mock(&[]);
    mock.faults(
        r#"[{"kind":"status","status":429,"retry_after":"0"},{"kind":"status","status":429,"retry_after":"0"}]"#,
    );
    let (token, took) = timed(|| Client::new(config(&mock)).token());
    assert!(token.is_ok());
    assert!(took >= Duration::from_secs(4), "measured before: 3 requests in 0.00 s; {took:?}");
}

/// As measured: 20 users acted as at once through one admin client against 2
/// requests a second: 8 of 20 failed, and the endpoint answered 36 throttled
/// requests of 49.
fn twenty_users_at_once(edge_status: u16) {
    let mock = mock(&["--throttle", &format!("2/2/{edge_status}")]);
    let admin = Arc::new(Client::new(config(&mock)));
    let started = Instant::now();
    let users: Vec<_> = (0..20)
        .map(|i| {
            let admin = admin.clone();
            thread::spawn(move || admin.impersonate(&format!("user{i}@example.com"), None).unwrap().token())
        })
        .collect();
    let results: Vec<_> = users.into_iter().map(|u| u.join().unwrap()).collect();
    let failed: Vec<String> = results.iter().filter_map(|r| r.as_ref().err().map(ToString::to_string)).collect();
    assert!(failed.is_empty(), "{} of 20 failed: {failed:?}", failed.len());
    let stats = mock.stats();
    let throttled = stats["throttled"].as_u64().unwrap();
    assert!(throttled <= 6, "the edge turned away {throttled} requests: {stats}");
    assert!(started.elapsed() < Duration::from_secs(30), "within the default deadline: {:?}", started.elapsed());
}

#[test]
fn twenty_users_acted_as_at_once_against_two_requests_a_second_all_get_tokens() {
    twenty_users_at_once(429);
}

#[test]
fn twenty_users_at_once_behind_an_edge_that_blocks_with_403_pages_all_get_tokens() {
    twenty_users_at_once(403);
}

#[test]
fn a_wrong_secret_retried_in_a_tight_loop_reaches_sigma_at_most_once_a_window() {
    // As measured: 69 token requests in 3 s.
    let mock = mock(&[]);
    let config = Config::new(&mock.url, "demo-client", "wrong-secret").unwrap();
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let error = sigma_auth::get_token(&config).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidClient);
        calls += 1;
    }
    assert!(calls > 100, "{calls}");
    let requests = mock.grants("client_credentials");
    assert!(requests <= 3, "{requests} token requests in 3 s");
    // Another secret is another credential: asked at once.
    assert!(sigma_auth::get_token(&common::config(&mock)).is_ok());
}

#[test]
fn two_hung_requests_hold_back_another_caller_two_seconds_at_most() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":8000},{"kind":"delay","ms":8000}]"#);
    let hung: Vec<_> = (0..2)
        .map(|_| {
            let config = impatient(&mock, Duration::from_secs(12), 1);
            thread::spawn(move || Client::new(config).token().map(|_| ()))
        })
        .collect();
    common::wait_for_requests(&mock, 2);
    let (token, took) = timed(|| Client::new(impatient(&mock, Duration::from_secs(5), 1)).token());
    assert!(token.is_ok(), "{:?}", token.err());
    assert!(took < Duration::from_secs(4), "queued behind the hung ones for {took:?}");
    for h in hung {
        assert!(h.join().unwrap().is_ok());
    }
}

#[test]
fn a_page_that_is_not_sigmas_json_never_locks_out_the_secret() {
    let mock = mock(&[]);
    // A proxy's or an edge's 401 page: not Sigma's verdict on the secret.
    mock.faults(r#"[{"kind":"status","status":401,"html":true}]"#);
    let config = config(&mock);
    let mut one_try = config.clone();
    one_try.set_max_attempts(1).unwrap();
    assert!(sigma_auth::get_token(&one_try).is_err());
    assert!(sigma_auth::get_token(&config).is_ok(), "asked again at once");
    assert_eq!(mock.grants("client_credentials"), 2);
}
