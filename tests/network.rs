//! Corporate networks: the operating system's trust store (SSL_CERT_FILE), and
//! proxies (HTTPS_PROXY, ALL_PROXY, NO_PROXY with names and CIDR blocks, a
//! proxy that wants credentials), through a real CONNECT proxy on loopback
//! that reaches the mock under a name that is not loopback.

mod common;

use std::collections::HashMap;
use std::process::{Command, Output};

use common::proxy::ConnectProxy;
use common::MockServer;

fn sigma_token(endpoint: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(common::sigma_token());
    command.args(["--no-cache", "--timeout", "3", "--endpoint", endpoint, "--client-id", "demo-client"]);
    command.env("SIGMA_CLIENT_SECRET", "demo-secret");
    for name in common::NETWORK_VARIABLES {
        command.env_remove(name);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

fn tls_mock() -> (MockServer, String, String) {
    let mock = MockServer::start_tls(&[]);
    let port = mock.addr().rsplit(':').next().unwrap().to_string();
    let ca = mock.ca_file().unwrap().to_str().unwrap().to_string();
    (mock, port, ca)
}

fn routes(names: &[&str], port: &str) -> HashMap<String, String> {
    names.iter().map(|n| (format!("{n}:{port}"), format!("127.0.0.1:{port}"))).collect()
}

#[test]
fn the_system_trust_store_is_used_and_ssl_cert_file_honoured() {
    let (mock, _, ca) = tls_mock();
    let trusted = sigma_token(&mock.url, &[("SSL_CERT_FILE", &ca)]);
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
    let untrusted = sigma_token(&mock.url, &[]);
    assert_eq!(untrusted.status.code(), Some(3), "the mock's CA is in no store");
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("TLS"));
}

#[test]
fn https_proxy_carries_the_request_to_a_name_only_the_proxy_can_resolve() {
    let (_mock, port, ca) = tls_mock();
    let proxy = ConnectProxy::start(routes(&["sigma.test"], &port), None);
    let endpoint = format!("https://sigma.test:{port}");
    for variable in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"] {
        let out = sigma_token(&endpoint, &[(variable, &proxy.url), ("SSL_CERT_FILE", &ca)]);
        assert!(out.status.success(), "{variable}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("mock_at_"));
    }
    assert_eq!(proxy.asked(), vec![format!("sigma.test:{port}"); 3]);
    let http_only = sigma_token(&endpoint, &[("HTTP_PROXY", &proxy.url), ("SSL_CERT_FILE", &ca)]);
    assert_eq!(http_only.status.code(), Some(3), "HTTP_PROXY is not for https: sigma.test does not resolve");
    assert_eq!(proxy.asked().len(), 3);
}

#[test]
fn no_proxy_names_and_cidr_blocks_go_direct() {
    let (_mock, port, ca) = tls_mock();
    let proxy = ConnectProxy::start(routes(&["sigma.test", "192.0.2.1"], &port), None);
    let by_name = format!("https://sigma.test:{port}");
    let by_address = format!("https://192.0.2.1:{port}");
    let through = |endpoint: &str, no_proxy: &str| {
        sigma_token(endpoint, &[("HTTPS_PROXY", &proxy.url), ("NO_PROXY", no_proxy), ("SSL_CERT_FILE", &ca)])
    };
    assert!(through(&by_address, "example.com,10.0.0.0/8").status.success(), "not matched: proxied");
    assert!(through(&by_name, ".test.example").status.success());
    let asked = proxy.asked().len();
    for (endpoint, no_proxy) in
        [(&by_name, "sigma.test"), (&by_name, ".test"), (&by_name, "*"), (&by_address, "192.0.2.0/24")]
    {
        let out = through(endpoint, no_proxy);
        assert!(!out.status.success(), "{no_proxy}: went direct, where nothing answers");
    }
    assert_eq!(proxy.asked().len(), asked, "the bypassed requests never reached the proxy");
}

#[test]
fn a_proxy_that_wants_credentials_is_a_clear_error_and_credentials_in_the_url_work() {
    let (_mock, port, ca) = tls_mock();
    let proxy = ConnectProxy::start(routes(&["sigma.test"], &port), Some("me:hunter2"));
    let endpoint = format!("https://sigma.test:{port}");
    let refused = sigma_token(&endpoint, &[("HTTPS_PROXY", &proxy.url), ("SSL_CERT_FILE", &ca)]);
    assert_eq!(refused.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("407") && stderr.contains("credentials"), "{stderr}");
    let with = proxy.url.replace("http://", "http://me:hunter2@");
    let out = sigma_token(&endpoint, &[("HTTPS_PROXY", &with), ("SSL_CERT_FILE", &ca)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let garbage = sigma_token(&endpoint, &[("HTTPS_PROXY", "::not a url::"), ("SSL_CERT_FILE", &ca)]);
    assert_eq!(garbage.status.code(), Some(1), "{}", String::from_utf8_lossy(&garbage.stderr));
    assert!(!String::from_utf8_lossy(&garbage.stderr).contains("hunter2"));
}

#[test]
fn a_socks_proxy_is_invalid_argument_not_a_panic() {
    // It panicked inside the HTTP library (INTERNAL), while doctor called the proxy fine.
    let out = sigma_token("https://sigma.test", &[("ALL_PROXY", "socks5h://127.0.0.1:9")]);
    assert_eq!(out.status.code(), Some(1), "INVALID_ARGUMENT: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOCKS"), "{}", String::from_utf8_lossy(&out.stderr));
}
