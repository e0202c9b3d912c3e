//! The stateless calls: get_token and refresh_token against the mock.

mod common;

use std::time::{Duration, SystemTime};

use common::{config, impatient, mock, timed, MockServer};
use sigma_auth::{get_token, refresh_token, ClientAuth, Config, ErrorCode};

#[test]
fn get_token_returns_a_bearer_token_sent_as_sigma_documents() {
    let mock = mock(&["--expires-in", "3600"]);
    let token = get_token(&config(&mock)).unwrap();
    assert!(token.access_token().starts_with("mock_at_"));
    assert!(token.refresh_token().unwrap().starts_with("mock_rt_"));
    assert_eq!(token.token_type(), "bearer");
    assert_eq!(token.expires_in(), Duration::from_secs(3600));
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((token.expires_at_unix() - (now + 3600)).abs() <= 2);

    let last = &mock.stats()["last_token_request"];
    assert_eq!(last["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(last["client_auth"], "form");
    assert_eq!(last["form_fields"], serde_json::json!(["grant_type", "client_id", "client_secret"]));
    let agent = last["user_agent"].as_str().unwrap();
    assert_eq!(agent, format!("sigma-auth/{} (rust)", sigma_auth::VERSION));
}

#[test]
fn the_user_agent_names_the_language_and_the_suffix() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    config.set_language("python/3.11").unwrap();
    config.set_user_agent_suffix("my-job/2.0").unwrap();
    get_token(&config).unwrap();
    let agent = mock.stats()["last_token_request"]["user_agent"].as_str().unwrap().to_string();
    assert_eq!(agent, format!("sigma-auth/{} (python/3.11) my-job/2.0", sigma_auth::VERSION));
    assert_eq!(config.set_user_agent_suffix("bad\nheader").unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn basic_client_auth_sends_the_credentials_in_the_header_only() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    config.set_client_auth(ClientAuth::Basic);
    get_token(&config).unwrap();
    let last = &mock.stats()["last_token_request"];
    assert_eq!(last["client_auth"], "basic");
    assert_eq!(last["form_fields"], serde_json::json!(["grant_type"]));
}

#[test]
fn credentials_with_reserved_characters_are_encoded_both_ways() {
    let secret = "p@ss word&=+/%é:x";
    let mock = mock(&["--client-id", "id:with space", "--client-secret", secret]);
    for auth in [ClientAuth::Form, ClientAuth::Basic] {
        let mut config = Config::new(&mock.url, "id:with space", secret).unwrap();
        config.set_client_auth(auth);
        get_token(&config).unwrap_or_else(|e| panic!("{auth:?}: {e}"));
    }
}

#[test]
fn refresh_rotates_and_a_used_refresh_token_is_invalid_grant() {
    let mock = mock(&[]);
    let config = config(&mock);
    let first = get_token(&config).unwrap();
    let old = first.refresh_token().unwrap();
    let second = refresh_token(&config, old).unwrap();
    assert_ne!(second.access_token(), first.access_token());
    assert_ne!(second.refresh_token().unwrap(), old);
    assert_eq!(mock.grants("refresh_token"), 1);

    let reused = refresh_token(&config, old).unwrap_err();
    assert_eq!(reused.code(), ErrorCode::InvalidGrant);
    assert_eq!(reused.http_status(), Some(401));
    assert!(reused.request_id().is_some_and(|id| id.len() >= 16));
    assert!(reused.message().contains("Invalid refresh token"), "{reused}");
    assert!(!reused.to_string().contains(old));
    assert_eq!(mock.grants("refresh_token"), 2, "never retried");
}

#[test]
fn an_expired_refresh_token_is_invalid_grant_with_sigmas_message() {
    let mock = mock(&[]);
    let config = config(&mock);
    let token = get_token(&config).unwrap();
    mock.expire(true);
    let err = refresh_token(&config, token.refresh_token().unwrap()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidGrant);
    assert!(err.message().ends_with("Refresh token expired"), "{err}");
}

#[test]
fn a_bad_refresh_token_argument_is_refused_before_any_request() {
    let mock = mock(&[]);
    for bad in ["", "has space", "new\nline"] {
        assert_eq!(refresh_token(&config(&mock), bad).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
    assert_eq!(mock.token_requests(), 0);
}

#[test]
fn wrong_credentials_are_invalid_client_never_retried_and_never_echo_the_secret() {
    let mock = mock(&[]);
    let config = Config::new(&mock.url, "demo-client", "WRONG-SECRET-123").unwrap();
    let err = get_token(&config).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidClient);
    assert_eq!(err.http_status(), Some(401));
    assert!(err.to_string().contains("Invalid client credentials"), "{err}");
    for text in [err.to_string(), format!("{err:?}"), format!("{config:?}")] {
        assert!(!text.contains("WRONG-SECRET-123"), "{text}");
    }
    assert_eq!(mock.token_requests(), 1);
}

fn fault_error(mock: &MockServer, faults: &str, config: &Config) -> sigma_auth::Error {
    mock.faults(faults);
    get_token(config).unwrap_err()
}

#[test]
fn server_errors_are_retried_then_reported_as_server() {
    let mock = mock(&[]);
    let config = impatient(&mock, Duration::from_secs(20), 3);
    let err = fault_error(
        &mock,
        r#"[{"kind":"status","status":500},{"kind":"status","status":502},{"kind":"status","status":503}]"#,
        &config,
    );
    assert_eq!(err.code(), ErrorCode::Server);
    assert_eq!(err.http_status(), Some(503));
    assert!(err.message().contains("after 3 attempts"), "{err}");
    assert_eq!(mock.token_requests(), 3);
}

#[test]
fn a_transient_failure_then_success_returns_the_token() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"status","status":504},{"kind":"drop"}]"#);
    get_token(&config(&mock)).unwrap();
    assert_eq!(mock.token_requests(), 3);
    assert_eq!(mock.stats()["by_status"]["200"], 1);
}

#[test]
fn retry_after_is_honoured() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"status","status":429,"retry_after":"1"}]"#);
    let (result, elapsed) = timed(|| get_token(&config(&mock)));
    result.unwrap();
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn a_429_without_retry_after_waits_at_least_two_seconds() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"status","status":429,"html":true}]"#);
    let (result, elapsed) = timed(|| get_token(&config(&mock)));
    result.unwrap();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn a_retry_after_beyond_the_deadline_fails_at_once_as_rate_limited() {
    let mock = mock(&[]);
    let config = impatient(&mock, Duration::from_secs(10), 3);
    let (err, elapsed) =
        timed(|| fault_error(&mock, r#"[{"kind":"status","status":429,"retry_after":"999999"}]"#, &config));
    assert_eq!(err.code(), ErrorCode::RateLimited);
    assert!(err.message().contains("999999"), "the wait is reported: {err}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn rate_limiting_that_persists_is_rate_limited() {
    let mock = mock(&[]);
    let config = impatient(&mock, Duration::from_secs(10), 2);
    let err = fault_error(
        &mock,
        r#"[{"kind":"status","status":429,"retry_after":"0"},{"kind":"status","status":429,"retry_after":"0"}]"#,
        &config,
    );
    assert_eq!(err.code(), ErrorCode::RateLimited);
    assert_eq!(err.http_status(), Some(429));
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn malformed_200_responses_are_protocol_errors_and_not_retried() {
    let mock = mock(&[]);
    let config = config(&mock);
    for faults in [
        r#"[{"kind":"html"}]"#,
        r#"[{"kind":"truncated"}]"#,
        r#"[{"kind":"oversize","bytes":70000}]"#,
        r#"[{"kind":"body","body":"{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"3600\"}"}]"#,
        r#"[{"kind":"body","body":"{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":0}"}]"#,
        r#"[{"kind":"body","body":"{\"token_type\":\"bearer\",\"expires_in\":5}"}]"#,
    ] {
        mock.reset();
        let err = fault_error(&mock, faults, &config);
        assert_eq!(err.code(), ErrorCode::Protocol, "{faults}: {err}");
        assert_eq!(mock.token_requests(), 1, "{faults}");
    }
}

#[test]
fn a_response_under_the_size_cap_is_accepted() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"oversize","bytes":60000}]"#);
    get_token(&config(&mock)).unwrap();
}

#[test]
fn capitalised_bearer_and_fractional_lifetimes_are_accepted() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"body","body":"{\"access_token\":\"at\",\"token_type\":\"Bearer\",\"expires_in\":3600.0,\"new_field\":true}"}]"#);
    let token = get_token(&config(&mock)).unwrap();
    assert_eq!((token.token_type(), token.expires_in().as_secs(), token.refresh_token()), ("Bearer", 3600, None));
}

#[test]
fn dropped_and_reset_connections_are_network_errors_after_retries() {
    let mock = mock(&[]);
    let config = impatient(&mock, Duration::from_secs(20), 2);
    for kind in ["drop", "reset"] {
        mock.reset();
        let err = fault_error(&mock, &format!(r#"[{{"kind":"{kind}"}},{{"kind":"{kind}"}}]"#), &config);
        assert_eq!(err.code(), ErrorCode::Network, "{kind}: {err}");
        assert_eq!(mock.token_requests(), 2, "{kind}");
    }
}

#[test]
fn headers_that_never_come_hit_the_deadline() {
    let mock = mock(&[]);
    let config = impatient(&mock, Duration::from_millis(500), 3);
    let (err, elapsed) = timed(|| fault_error(&mock, r#"[{"kind":"delay","ms":5000}]"#, &config));
    assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[test]
fn a_trickled_body_cannot_stretch_the_deadline() {
    let mock = mock(&[]);
    let config = impatient(&mock, Duration::from_millis(1500), 3);
    let (err, elapsed) = timed(|| fault_error(&mock, r#"[{"kind":"trickle","interval_ms":200}]"#, &config));
    assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
}

#[test]
fn redirects_are_not_followed_and_the_credentials_stay_home() {
    let home = mock(&[]);
    let elsewhere = mock(&[]);
    let faults = format!(r#"[{{"kind":"redirect","status":307,"location":"{}/v2/auth/token"}}]"#, elsewhere.url);
    let err = fault_error(&home, &faults, &config(&home));
    assert_eq!(err.code(), ErrorCode::Http);
    assert_eq!(err.http_status(), Some(307));
    assert_eq!(elsewhere.token_requests(), 0, "nothing may reach the redirect target");
}

#[test]
fn an_unexpected_status_is_http() {
    let mock = mock(&[]);
    let err = fault_error(
        &mock,
        r#"[{"kind":"body","status":404,"body":"{\"message\":\"Not found\",\"code\":\"not_found\",\"requestId\":\"r-1\"}"}]"#,
        &config(&mock),
    );
    assert_eq!((err.code(), err.http_status(), err.request_id()), (ErrorCode::Http, Some(404), Some("r-1")));
}

#[test]
fn a_refused_connection_is_a_network_error() {
    let url = {
        let gone = mock(&[]);
        gone.url.clone()
    };
    let mut config = Config::new(&url, "demo-client", "demo-secret").unwrap();
    config.set_max_attempts(1).unwrap();
    assert_eq!(get_token(&config).unwrap_err().code(), ErrorCode::Network);
}

#[test]
fn https_works_with_the_mocks_ca_file_and_is_refused_without_it() {
    let mock = MockServer::start_tls(&[]);
    let mut trusting = config(&mock);
    trusting.set_ca_file(mock.ca_file().unwrap()).unwrap();
    get_token(&trusting).unwrap();

    let mut default_roots = config(&mock);
    default_roots.set_max_attempts(1).unwrap();
    let err = get_token(&default_roots).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Network);
    assert!(err.message().contains("TLS") || err.message().contains("certificate"), "{err}");
    assert_eq!(mock.token_requests(), 1, "only the trusted request got through");
}

#[test]
fn a_ca_file_without_certificates_is_an_invalid_argument() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    let empty = std::env::temp_dir().join(format!("sigma-empty-ca-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate").unwrap();
    assert_eq!(config.set_ca_file(&empty).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(config.set_ca_file("/nonexistent/ca.pem").unwrap_err().code(), ErrorCode::InvalidArgument);
    std::fs::remove_file(empty).unwrap();
}

#[test]
fn insecure_and_malformed_endpoints_are_refused_before_any_request() {
    assert_eq!(Config::new("http://api.sigmacomputing.com", "a", "b").unwrap_err().code(), ErrorCode::InsecureUrl);
    assert_eq!(Config::new("aws-mars", "a", "b").unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(Config::new("aws-us-east", "", "b").unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(Config::new("aws-us-east", "a", "").unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(Config::new("aws-us-east", &"a".repeat(1 << 20), "b").unwrap_err().code(), ErrorCode::InvalidArgument);
    let config = Config::new("aws-us-east", "a", "b").unwrap();
    assert_eq!(config.endpoint().token_url(), "https://api.us-a.aws.sigmacomputing.com/v2/auth/token");
}

#[test]
fn settings_are_range_checked() {
    let mut config = Config::new("aws-us-east", "a", "b").unwrap();
    assert!(config.set_timeout(Duration::ZERO).is_err());
    assert!(config.set_connect_timeout(Duration::from_secs(7200)).is_err());
    assert!(config.set_max_attempts(0).is_err());
    assert!(config.set_max_attempts(11).is_err());
    assert!(config.set_max_attempts(10).is_ok());
}
