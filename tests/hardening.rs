//! Adversarial input through the C ABI: every case asserts the exact status and
//! that the call returned within its deadline.

mod common;

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};

use common::{mock, MockServer};
use sigma_auth::ffi::*;
use sigma_status::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Makes a config through the ABI; the status when that fails.
fn config(endpoint: &[u8], id: &[u8], secret: &[u8]) -> Result<*mut sigma_config, sigma_status> {
    let (endpoint, id, secret) = (nul(endpoint), nul(id), nul(secret));
    let mut out = ptr::null_mut();
    let mut error = ptr::null_mut();
    let status = unsafe {
        sigma_config_new(endpoint.as_ptr().cast(), id.as_ptr().cast(), secret.as_ptr().cast(), &mut out, &mut error)
    };
    if status == SIGMA_STATUS_OK {
        Ok(out)
    } else {
        unsafe {
            assert_eq!(sigma_error_code(error), status);
            assert!(!sigma_error_message(error).is_null());
            sigma_error_free(error);
        }
        assert!(out.is_null());
        Err(status)
    }
}

fn nul(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.push(0);
    v
}

/// What is tried, the endpoint, client id and secret given, and the status wanted.
type InputCase<'a> = (&'a str, &'a [u8], &'a [u8], &'a [u8], sigma_status);

#[test]
fn caller_input_gets_exact_statuses() {
    let long = "a".repeat(1 << 20);
    let long_url = format!("https://{long}.example.com");
    let cases: Vec<InputCase> = vec![
        ("empty endpoint", b"", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("empty id", b"aws-eu", b"", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("empty secret", b"aws-eu", b"id", b"", SIGMA_STATUS_INVALID_ARGUMENT),
        ("invalid UTF-8 endpoint", b"aws-\xff", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("invalid UTF-8 id", b"aws-eu", b"\xc3\x28", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("invalid UTF-8 secret", b"aws-eu", b"id", b"\xed\xa0\x80", SIGMA_STATUS_INVALID_ARGUMENT),
        ("1 MiB endpoint", long_url.as_bytes(), b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("1 MiB id", b"aws-eu", long.as_bytes(), b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("1 MiB secret", b"aws-eu", b"id", long.as_bytes(), SIGMA_STATUS_INVALID_ARGUMENT),
        ("unknown cloud", b"aws-moon", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("malformed URL", b"https://exa mple.com", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("no host", b"https://", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("other scheme", b"ftp://api.sigmacomputing.com", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("http to a remote host", b"http://api.sigmacomputing.com", b"id", b"s", SIGMA_STATUS_INSECURE_URL),
        ("http to a private address", b"http://10.1.2.3:8080", b"id", b"s", SIGMA_STATUS_INSECURE_URL),
        ("credentials in the URL", b"https://u:p@api.sigmacomputing.com", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("fragment in the URL", b"https://api.sigmacomputing.com/#x", b"id", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
        ("control character in id", b"aws-eu", b"id\r\nX: y", b"s", SIGMA_STATUS_INVALID_ARGUMENT),
    ];
    for (what, endpoint, id, secret, want) in cases {
        let started = Instant::now();
        assert_eq!(config(endpoint, id, secret).err(), Some(want), "{what}");
        assert!(started.elapsed() < Duration::from_millis(200), "{what}");
    }
    let ok = config(b"https://api.sigmacomputing.com", b"id", b"s").unwrap();
    unsafe {
        let long_path = c(&"x".repeat(1 << 20));
        assert_eq!(sigma_config_set_ca_file(ok, long_path.as_ptr(), ptr::null_mut()), SIGMA_STATUS_INVALID_ARGUMENT);
        assert_eq!(
            sigma_config_set_user_agent_suffix(ok, long_path.as_ptr(), ptr::null_mut()),
            SIGMA_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(sigma_config_set_timeout_ms(ok, u64::MAX, ptr::null_mut()), SIGMA_STATUS_INVALID_ARGUMENT);
        assert_eq!(sigma_config_set_max_attempts(ok, u32::MAX, ptr::null_mut()), SIGMA_STATUS_INVALID_ARGUMENT);
        let mut token = ptr::null_mut();
        let huge_refresh = c(&"r".repeat(1 << 20));
        assert_eq!(
            sigma_token_refresh(ok, huge_refresh.as_ptr(), &mut token, ptr::null_mut()),
            SIGMA_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(sigma_token_refresh(ok, c("").as_ptr(), &mut token, ptr::null_mut()), SIGMA_STATUS_INVALID_ARGUMENT);
        assert!(token.is_null());
        sigma_config_free(ok);
    }
}

/// Gets a token through the ABI from `mock` after queuing `faults`.
fn get_with(mock: &MockServer, faults: &str, timeout_ms: u64, attempts: u32) -> (sigma_status, Duration, String) {
    if !faults.is_empty() {
        mock.faults(faults);
    }
    let config = config(mock.url.as_bytes(), b"demo-client", b"demo-secret").unwrap();
    unsafe {
        assert_eq!(sigma_config_set_timeout_ms(config, timeout_ms, ptr::null_mut()), SIGMA_STATUS_OK);
        assert_eq!(sigma_config_set_max_attempts(config, attempts, ptr::null_mut()), SIGMA_STATUS_OK);
        let mut token = ptr::null_mut();
        let mut error = ptr::null_mut();
        let started = Instant::now();
        let status = sigma_token_get(config, &mut token, &mut error);
        let elapsed = started.elapsed();
        let message = if error.is_null() { String::new() } else { text(sigma_error_message(error)) };
        sigma_error_free(error);
        sigma_token_free(token);
        sigma_config_free(config);
        (status, elapsed, message)
    }
}

fn text(p: *const c_char) -> String {
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn body(json: &str) -> String {
    serde_json::json!([{ "kind": "body", "body": json }]).to_string()
}

#[test]
fn hostile_server_output_gets_exact_statuses_within_the_deadline() {
    let mock = mock(&[]);
    let token = |expires_in: &str| {
        body(&format!(
            r#"{{"access_token":"at","refresh_token":"rt","token_type":"bearer","expires_in":{expires_in}}}"#
        ))
    };
    let cases: Vec<(&str, String, u64, sigma_status)> = vec![
        ("HTML with 200", r#"[{"kind":"html"}]"#.into(), 5000, SIGMA_STATUS_PROTOCOL),
        ("truncated JSON", r#"[{"kind":"truncated"}]"#.into(), 5000, SIGMA_STATUS_PROTOCOL),
        ("no access_token", body(r#"{"token_type":"bearer","expires_in":3600}"#), 5000, SIGMA_STATUS_PROTOCOL),
        ("no token_type", body(r#"{"access_token":"a","expires_in":3600}"#), 5000, SIGMA_STATUS_PROTOCOL),
        ("no expires_in", body(r#"{"access_token":"a","token_type":"bearer"}"#), 5000, SIGMA_STATUS_PROTOCOL),
        (
            "access_token a number",
            body(r#"{"access_token":1,"token_type":"bearer","expires_in":3600}"#),
            5000,
            SIGMA_STATUS_PROTOCOL,
        ),
        (
            "token_type an array",
            body(r#"{"access_token":"a","token_type":[],"expires_in":3600}"#),
            5000,
            SIGMA_STATUS_PROTOCOL,
        ),
        ("a JSON array", body("[]"), 5000, SIGMA_STATUS_PROTOCOL),
        ("expires_in 0", token("0"), 5000, SIGMA_STATUS_PROTOCOL),
        ("expires_in negative", token("-3600"), 5000, SIGMA_STATUS_PROTOCOL),
        ("expires_in huge", token("1e308"), 5000, SIGMA_STATUS_PROTOCOL),
        ("expires_in a string", token(r#""3600""#), 5000, SIGMA_STATUS_PROTOCOL),
        ("expires_in fractional", token("3600.5"), 5000, SIGMA_STATUS_OK),
        (
            "token_type Bearer",
            body(r#"{"access_token":"a","token_type":"Bearer","expires_in":3600}"#),
            5000,
            SIGMA_STATUS_OK,
        ),
        (
            "extra fields",
            body(r#"{"access_token":"a","token_type":"bearer","expires_in":60,"x":{"y":[null]}}"#),
            5000,
            SIGMA_STATUS_OK,
        ),
        ("10 MiB body", r#"[{"kind":"oversize","bytes":10485760}]"#.into(), 10000, SIGMA_STATUS_PROTOCOL),
        ("headers that never come", r#"[{"kind":"delay","ms":60000}]"#.into(), 800, SIGMA_STATUS_TIMEOUT),
        ("a byte a second", r#"[{"kind":"trickle","interval_ms":1000}]"#.into(), 1500, SIGMA_STATUS_TIMEOUT),
        ("reset mid-body", r#"[{"kind":"reset"}]"#.into(), 5000, SIGMA_STATUS_NETWORK),
        (
            "Retry-After 999999",
            r#"[{"kind":"status","status":429,"retry_after":"999999"}]"#.into(),
            5000,
            SIGMA_STATUS_RATE_LIMITED,
        ),
        (
            "redirect elsewhere",
            r#"[{"kind":"redirect","location":"http://127.0.0.2:1/v2/auth/token"}]"#.into(),
            5000,
            SIGMA_STATUS_HTTP,
        ),
        ("500", r#"[{"kind":"status","status":500}]"#.into(), 5000, SIGMA_STATUS_SERVER),
        ("dropped connection", r#"[{"kind":"drop"}]"#.into(), 5000, SIGMA_STATUS_NETWORK),
    ];
    for (what, faults, timeout_ms, want) in cases {
        mock.reset();
        let (status, elapsed, message) = get_with(&mock, &faults, timeout_ms, 1);
        assert_eq!(status, want, "{what}: {message}");
        assert!(elapsed < Duration::from_millis(timeout_ms + 700), "{what}: took {elapsed:?}");
        assert!(mock.token_requests() <= 1, "{what}");
    }
}

#[test]
fn a_ten_mebibyte_body_is_stopped_at_the_cap_and_memory_stays_small() {
    let mock = mock(&[]);
    let before = rss_kib();
    for _ in 0..5 {
        let (status, _, _) = get_with(&mock, r#"[{"kind":"oversize","bytes":10485760}]"#, 10000, 1);
        assert_eq!(status, SIGMA_STATUS_PROTOCOL);
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 8 * 1024, "RSS grew by {grown} KiB reading 5 x 10 MiB bodies");
}

#[test]
fn an_untrusted_certificate_is_refused_and_never_downgraded() {
    let tls = MockServer::start_tls(&[]);
    let (status, _, message) = get_with(&tls, "", 5000, 3);
    assert_eq!(status, SIGMA_STATUS_NETWORK, "{message}");
    assert!(message.contains("TLS"), "{message}");
    assert_eq!(tls.token_requests(), 0, "no request got through, over TLS or otherwise");
}

#[test]
fn a_server_echoing_secrets_in_its_errors_is_scrubbed() {
    let mock = mock(&[]);
    let config = config(mock.url.as_bytes(), b"demo-client", b"demo-secret").unwrap();
    unsafe {
        let mut first = ptr::null_mut();
        assert_eq!(sigma_token_get(config, &mut first, ptr::null_mut()), SIGMA_STATUS_OK);
        let refresh = text(sigma_token_refresh_token(first));
        let echo = format!("bad secret demo-secret and token {refresh}");
        mock.faults(&serde_json::json!([{ "kind": "status", "status": 401, "message": echo }]).to_string());
        let mut error = ptr::null_mut();
        let mut token = ptr::null_mut();
        let refresh_c = c(&refresh);
        assert_eq!(sigma_token_refresh(config, refresh_c.as_ptr(), &mut token, &mut error), SIGMA_STATUS_INVALID_GRANT);
        let message = text(sigma_error_message(error));
        assert!(!message.contains("demo-secret") && !message.contains(&refresh), "{message}");
        assert!(message.contains("[redacted]"), "{message}");
        sigma_error_free(error);
        sigma_token_free(first);
        sigma_config_free(config);
    }
}

#[test]
fn soak_a_million_cached_gets_and_a_thousand_refreshes_keep_rss_flat() {
    let mock = mock(&[]);
    let config = config(mock.url.as_bytes(), b"demo-client", b"demo-secret").unwrap();
    let mut client = ptr::null_mut();
    unsafe {
        assert_eq!(sigma_client_new(config, &mut client, ptr::null_mut()), SIGMA_STATUS_OK);
        sigma_config_free(config);
        let cycle = |gets: usize, refreshes: usize| {
            for i in 0..gets {
                let mut token = ptr::null_mut();
                assert_eq!(sigma_client_token(client, &mut token, ptr::null_mut()), SIGMA_STATUS_OK);
                if i % (gets / refreshes.max(1)).max(1) == 0 && refreshes > 0 {
                    sigma_client_invalidate(client, sigma_token_access_token(token));
                }
                sigma_token_free(token);
            }
        };
        cycle(20_000, 20); // warm up allocator and connection pool
        let before = rss_kib();
        cycle(1_000_000, 1_000);
        let grown = rss_kib().saturating_sub(before);
        assert!(grown < 2048, "RSS grew by {grown} KiB over 1e6 gets and 1000 refreshes");
        sigma_client_free(client);
    }
    assert!(mock.token_requests() >= 1000);
}

/// The process's anonymous resident memory (heap, stacks): what a body read
/// whole or a leak would grow. Not VmRSS, which also counts the pages of the
/// test binary's own code as the calls first touch them (a debug binary's
/// grow with every dependency linked, which is no memory a call keeps).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
