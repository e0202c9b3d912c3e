//! Fault injection, counters, reset, TLS and process behaviour.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{assert_envelope, client_credentials, start, token_form, Mock};

#[test]
fn status_faults_answer_in_the_envelope_with_retry_after_then_service_resumes() {
    let mock = start(&[]);
    mock.faults(
        r#"[{"kind":"status","status":429,"retry_after":"7"},{"kind":"status","status":500},
                   {"kind":"status","status":502},{"kind":"status","status":503},{"kind":"status","status":504}]"#,
    );
    let first = client_credentials(&mock);
    assert_envelope(&first, 429, "Too many requests");
    assert_eq!(first.header("retry-after"), Some("7"));
    for status in [500, 502, 503, 504] {
        let reply = client_credentials(&mock);
        assert_envelope(&reply, status, "Internal server error");
        assert_eq!(reply.header("retry-after"), None);
    }
    assert_eq!(client_credentials(&mock).status, 200, "faults are used up one per request");
}

#[test]
fn a_status_fault_can_answer_with_an_html_page_and_no_retry_after() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"status","status":429,"html":true}]"#);
    let reply = client_credentials(&mock);
    assert_eq!(reply.status, 429);
    assert!(reply.header("content-type").unwrap().starts_with("text/html"));
    assert!(reply.body.starts_with("<!DOCTYPE html>"));
    assert_eq!(reply.header("retry-after"), None);
}

#[test]
fn delay_holds_the_headers_back_then_answers_normally() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"delay","ms":400}]"#);
    let started = Instant::now();
    let reply = client_credentials(&mock);
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(reply.status, 200);
    let started = Instant::now();
    client_credentials(&mock);
    assert!(started.elapsed() < Duration::from_millis(400), "only the next request is delayed");
}

#[test]
fn html_and_truncated_faults_answer_200_with_a_body_that_is_not_a_token() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"html"},{"kind":"truncated"}]"#);
    let html = client_credentials(&mock);
    assert_eq!(html.status, 200);
    assert!(html.header("content-type").unwrap().starts_with("text/html"));
    let truncated = client_credentials(&mock);
    assert_eq!(truncated.status, 200);
    assert!(truncated.body.starts_with("{\""));
    assert!(serde_json::from_str::<serde_json::Value>(&truncated.body).is_err(), "{}", truncated.body);
}

#[test]
fn oversize_pads_a_valid_token_to_the_exact_byte_count() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"oversize","bytes":200000}]"#);
    let reply = client_credentials(&mock);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 200_000);
    assert_eq!(reply.json()["token_type"], "bearer");
}

#[test]
fn body_and_redirect_faults_answer_exactly_as_told() {
    let mock = start(&[]);
    mock.faults(
        r#"[{"kind":"body","body":"{\"access_token\":42}"},
                   {"kind":"body","status":418,"content_type":"text/plain","body":"teapot"},
                   {"kind":"redirect","location":"http://127.0.0.2:9/steal"}]"#,
    );
    let custom = client_credentials(&mock);
    assert_eq!((custom.status, custom.body.as_str()), (200, r#"{"access_token":42}"#));
    let teapot = client_credentials(&mock);
    assert_eq!((teapot.status, teapot.body.as_str()), (418, "teapot"));
    assert_eq!(teapot.header("content-type"), Some("text/plain"));
    let redirect = client_credentials(&mock);
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.header("location"), Some("http://127.0.0.2:9/steal"));
}

fn raw_token_request(mock: &Mock) -> (Vec<u8>, std::io::Result<()>) {
    let mut stream = TcpStream::connect(mock.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret";
    write!(
        stream,
        "POST /v2/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut got = Vec::new();
    let result = stream.read_to_end(&mut got).map(|_| ());
    (got, result)
}

#[test]
fn drop_closes_the_connection_without_any_response() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"drop"}]"#);
    let (got, _) = raw_token_request(&mock);
    assert!(got.is_empty(), "expected no bytes, got {:?}", String::from_utf8_lossy(&got));
    assert_eq!(mock.stats()["by_status"]["dropped"], 1);
}

#[test]
fn reset_sends_headers_and_part_of_the_body_then_aborts() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"reset"}]"#);
    let (got, _) = raw_token_request(&mock);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("access_token") || text.contains("expires_in"), "part of the body was sent: {text}");
    assert!(!text.ends_with("0\r\n\r\n"), "the chunked body must not be completed: {text}");
    // Through a real client it is an error, not a short body taken as complete.
    mock.faults(r#"[{"kind":"reset"}]"#);
    let mut resp = mock
        .agent()
        .post(format!("{}/v2/auth/token", mock.url))
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ])
        .unwrap();
    assert!(resp.body_mut().read_to_string().is_err());
}

#[test]
fn trickle_sends_a_valid_answer_one_byte_at_a_time() {
    let mock = start(&["--expires-in", "1"]);
    mock.faults(r#"[{"kind":"trickle","interval_ms":2}]"#);
    let started = Instant::now();
    let reply = client_credentials(&mock);
    let bytes = reply.body.len() as u32;
    assert!(started.elapsed() >= Duration::from_millis(2) * bytes, "{:?} for {bytes} bytes", started.elapsed());
    assert_eq!(reply.json()["expires_in"], 1);
}

#[test]
fn faults_touch_token_requests_only() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"status","status":503}]"#);
    assert_eq!(mock.get("/v2/whoami", None).status, 401);
    assert_eq!(mock.stats()["faults_pending"], 1);
    assert_eq!(client_credentials(&mock).status, 503);
}

#[test]
fn a_bad_fault_list_is_refused_with_the_reason() {
    let mock = start(&[]);
    assert_eq!(mock.post_json("/__mock/faults", r#"[{"kind":"explode"}]"#).status, 400);
    assert_eq!(mock.post_json("/__mock/faults", r#"[{"kind":"status","status":200}]"#).status, 400);
    assert_eq!(mock.post_json("/__mock/faults", r#"{"kind":"drop"}"#).status, 400);
    assert_eq!(mock.stats()["faults_pending"], 0);
}

#[test]
fn stats_count_by_grant_and_status_and_reset_clears_them() {
    let mock = start(&[]);
    let token = client_credentials(&mock).json()["refresh_token"].as_str().unwrap().to_string();
    token_form(&mock, &[("grant_type", "refresh_token"), ("refresh_token", &token)]);
    token_form(&mock, &[("grant_type", "refresh_token"), ("refresh_token", &token)]);
    mock.faults(r#"[{"kind":"status","status":500}]"#);
    client_credentials(&mock);
    let stats = mock.stats();
    assert_eq!(stats["token_requests"], 4);
    assert_eq!(stats["by_grant"]["client_credentials"], 2, "faulted requests are classified too");
    assert_eq!(stats["by_grant"]["refresh_token"], 2);
    assert_eq!(stats["by_status"]["200"], 2);
    assert_eq!(stats["by_status"]["401"], 1);
    assert_eq!(stats["by_status"]["500"], 1);
    let last = &stats["last_token_request"];
    assert_eq!(last["client_auth"], "form");
    assert_eq!(last["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(last["form_fields"], serde_json::json!(["grant_type", "client_id", "client_secret"]));
    assert!(!stats.to_string().contains("demo-secret"), "stats never echo a secret");

    mock.faults(r#"[{"kind":"drop"}]"#);
    assert_eq!(mock.post_empty("/__mock/reset").status, 200);
    let stats = mock.stats();
    assert_eq!(stats["token_requests"], 0);
    assert_eq!(stats["faults_pending"], 0);
    assert_eq!(stats["by_grant"], serde_json::json!({}));
}

#[test]
fn reset_keeps_issued_tokens_unless_asked_to_forget_them() {
    let mock = start(&[]);
    let access = client_credentials(&mock).json()["access_token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {access}");
    mock.post_empty("/__mock/reset");
    assert_eq!(mock.get("/v2/whoami", Some(&bearer)).status, 200);
    mock.post_empty("/__mock/reset?tokens=1");
    assert_eq!(mock.get("/v2/whoami", Some(&bearer)).status, 401);
}

#[test]
fn max_concurrent_token_requests_records_overlap() {
    let mock = start(&[]);
    mock.faults(r#"[{"kind":"delay","ms":500},{"kind":"delay","ms":500},{"kind":"delay","ms":500}]"#);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| assert_eq!(client_credentials(&mock).status, 200));
        }
    });
    assert_eq!(mock.stats()["max_concurrent_token_requests"], 3);
}

#[test]
fn hundreds_of_concurrent_connections_are_served() {
    let mock = start(&[]);
    mock.faults(&format!("[{}]", vec![r#"{"kind":"delay","ms":300}"#; 200].join(",")));
    std::thread::scope(|s| {
        for _ in 0..200 {
            s.spawn(|| assert_eq!(client_credentials(&mock).status, 200));
        }
    });
    let stats = mock.stats();
    assert_eq!(stats["by_status"]["200"], 200);
    assert!(stats["max_concurrent_token_requests"].as_u64().unwrap() >= 100, "{stats}");
}

#[test]
fn tls_serves_https_trusted_through_the_written_ca_and_refused_without_it() {
    let mock = Mock::start_binary(std::path::Path::new(env!("CARGO_BIN_EXE_sigma-mock")), &[], true);
    assert!(mock.url.starts_with("https://127.0.0.1:"), "{}", mock.url);
    let pem = std::fs::read_to_string(mock.ca_file().unwrap()).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1);
    // The harness's agent trusts exactly that CA.
    assert_eq!(client_credentials(&mock).status, 200);

    let default_roots: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let refused =
        default_roots.post(format!("{}/v2/auth/token", mock.url)).send_form([("grant_type", "client_credentials")]);
    assert!(refused.is_err(), "a certificate from an unknown CA must be refused");
}

#[test]
fn the_url_is_printed_within_a_second_and_sigterm_or_sigint_exit_cleanly() {
    for signal in ["TERM", "INT"] {
        let started = Instant::now();
        let mut mock = start(&["--port", "0"]);
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
        assert!(mock.url.starts_with("http://127.0.0.1:"));
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &mock.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = wait_with_timeout(&mut mock.child, Duration::from_secs(5));
        assert_eq!(exit.and_then(|s| s.code()), Some(0), "SIG{signal} should exit 0");
    }
}

#[test]
fn exit_with_stdin_stops_the_mock_when_its_parent_goes_away() {
    let mut mock = start(&[]);
    drop(mock.child.stdin.take());
    let exit = wait_with_timeout(&mut mock.child, Duration::from_secs(5));
    assert_eq!(exit.and_then(|s| s.code()), Some(0));
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sigma-mock")).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("USAGE"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sigma-mock")).arg("--tls").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--tls without --cert-out");
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn echo_faults_leak_back_what_the_client_sent_in_the_chosen_field_and_encoding() {
    let mock = start(&[]);
    mock.faults(
        r#"[{"kind":"echo","field":"message","what":"secret"},
            {"kind":"echo","field":"requestId","what":"secret","encoding":"base64"},
            {"kind":"echo","field":"error_description","what":"body","encoding":"form"},
            {"kind":"echo","field":"code","what":"secret","encoding":"percent","status":400}]"#,
    );
    let raw = client_credentials(&mock);
    assert_eq!(raw.status, 401);
    assert_eq!(raw.json()["message"], "echo: demo-secret");
    assert_eq!(client_credentials(&mock).json()["requestId"], "ZGVtby1zZWNyZXQ=");
    let body = client_credentials(&mock).json()["error_description"].as_str().unwrap().to_string();
    assert!(body.contains("client_secret%3Ddemo-secret"), "{body}");
    let code = client_credentials(&mock);
    assert_eq!((code.status, code.json()["code"].as_str()), (400, Some("echo: demo%2Dsecret")));
}

#[test]
fn api_redirects_and_the_echo_endpoint_and_the_headers_they_saw() {
    let mock = start(&[]);
    let moved = mock.get("/v2/redirect?status=307&location=http%3A%2F%2F127.0.0.2%3A9%2Fx", Some("Bearer abc"));
    assert_eq!((moved.status, moved.header("location")), (307, Some("http://127.0.0.2:9/x")));
    let echoed = mock.get("/v2/echo", Some("Bearer xyz"));
    assert_eq!(echoed.status, 200);
    assert!(echoed.body.contains("Bearer xyz"), "{}", echoed.body);
    let seen = mock.stats()["recent_api_requests"].clone();
    let paths: Vec<&str> = seen.as_array().unwrap().iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/v2/redirect", "/v2/echo"]);
    assert!(seen.to_string().contains("Bearer abc") && seen.to_string().contains("Bearer xyz"));
    client_credentials(&mock);
    assert_eq!(mock.stats()["recent_api_requests"].as_array().unwrap().len(), 2, "token requests are not logged");
}
