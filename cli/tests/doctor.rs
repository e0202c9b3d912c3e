//! `sigma-token doctor` against a healthy mock, a wrong secret, a dead port, a
//! CA nobody trusts, a proxy, a bad cache directory and missing settings: the
//! right line fails with advice, the exit status is the failure's, and no
//! secret, token or proxy password is ever printed.

mod common;

use sigma_mock::redis_server::{RedisOptions, RedisServer};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::proxy::ConnectProxy;
use common::MockServer;

const SECRET: &str = "demo-secret";

struct Doctor {
    code: Option<i32>,
    out: String,
}

impl Doctor {
    /// The finding about `topic`, if any: `ok|warn|fail  TOPIC  text`.
    fn find(&self, topic: &str) -> Option<&str> {
        self.out.lines().find(|l| {
            let mut words = l.split_whitespace();
            ["ok", "warn", "fail"].contains(&words.next().unwrap_or_default()) && words.next() == Some(topic)
        })
    }

    /// The finding about `topic`, which must exist.
    fn line(&self, topic: &str) -> &str {
        self.find(topic).unwrap_or_else(|| panic!("no {topic} line in:\n{}", self.out))
    }

    fn level(&self, topic: &str) -> &str {
        self.line(topic).split_whitespace().next().unwrap()
    }

    fn levels(&self) -> Vec<&str> {
        self.out
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| ["ok", "warn", "fail"].contains(w))
            .collect()
    }

    /// Never a secret, a token or a proxy password, in any line.
    fn assert_clean(&self, also: &[&str]) {
        for hidden in [SECRET, "mock_at_", "mock_rt_"].iter().chain(also) {
            assert!(!self.out.contains(hidden), "{hidden:?} printed:\n{}", self.out);
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigma-doctor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn doctor(endpoint: Option<&str>, secret: Option<&str>, cache: &Path, env: &[(&str, &str)]) -> Doctor {
    doctor_with(&[], endpoint, secret, cache, env)
}

/// [`doctor`] with more options before `doctor`.
fn doctor_with(
    args: &[&str],
    endpoint: Option<&str>,
    secret: Option<&str>,
    cache: &Path,
    env: &[(&str, &str)],
) -> Doctor {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sigma-token"));
    command.args(["--timeout", "5", "--client-id", "demo-client", "--cache-dir"]).arg(cache).args(args);
    if let Some(endpoint) = endpoint {
        command.args(["--endpoint", endpoint]);
    }
    command
        .arg("doctor")
        .env_remove("SIGMA_BASE_URL")
        .env_remove("SIGMA_CLIENT_SECRET")
        .env_remove("SIGMA_TOKEN_STORE");
    if let Some(secret) = secret {
        command.env("SIGMA_CLIENT_SECRET", secret);
    }
    for name in common::NETWORK_VARIABLES {
        command.env_remove(name);
    }
    let output = command.envs(env.iter().copied()).output().unwrap();
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    Doctor { code: output.status.code(), out: String::from_utf8(output.stdout).unwrap() }
}

#[test]
fn a_healthy_setup_passes_every_check_and_shows_who_you_are() {
    let mock = common::mock(&[]);
    let cache = temp_dir("healthy").join("cache");
    let report = doctor(Some(&mock.url), Some(SECRET), &cache, &[]);
    assert_eq!(report.code, Some(0), "{}", report.out);
    assert!(report.levels().iter().all(|l| *l == "ok"), "{}", report.out);
    for topic in
        ["endpoint", "credentials", "proxy", "trust", "dns", "connect", "tls", "token", "whoami", "clock", "cache"]
    {
        report.line(topic);
    }
    assert!(report.line("whoami").contains("clientId=demo-client"), "{}", report.out);
    assert!(report.line("token").contains("expires in 3600 s"));
    assert!(report.line("cache").contains("made (mode 700) on first use"));
    assert_eq!(mock.grants("client_credentials"), 1);
    assert_eq!(mock.stats()["whoami"].as_u64(), Some(1));
    report.assert_clean(&[]);
    assert!(!cache.exists(), "doctor only looks at the cache");
}

#[test]
fn a_wrong_secret_fails_the_token_line_with_advice_and_exit_status_5() {
    let mock = common::mock(&[]);
    let cache = temp_dir("wrong");
    let report = doctor(Some(&mock.url), Some("wrong-secret"), &cache, &[]);
    assert_eq!(report.code, Some(5), "{}", report.out);
    assert_eq!(report.level("token"), "fail");
    assert!(report.out.contains("check the client id and secret"), "{}", report.out);
    assert_eq!((report.level("connect"), report.level("cache")), ("ok", "ok"));
    report.assert_clean(&["wrong-secret"]);

    // A server that echoes the secret back in its error: still never printed.
    for what in ["secret", "body"] {
        mock.faults(&format!(r#"[{{"kind":"echo","field":"message","what":"{what}"}}]"#));
        let report = doctor(Some(&mock.url), Some(SECRET), &cache, &[]);
        assert_eq!(report.code, Some(5), "{}", report.out);
        report.assert_clean(&["ZGVtby1zZWNyZXQ"]); // base64 of the secret, too
    }
}

#[test]
fn a_token_the_api_refuses_fails_whoami_and_is_never_printed() {
    let mock = common::mock(&[]);
    let fake = "KNOWN-BUT-UNKNOWN-TOKEN-4242";
    let body = format!(r#"{{\"access_token\":\"{fake}\",\"token_type\":\"bearer\",\"expires_in\":3600}}"#);
    mock.faults(&format!(r#"[{{"kind":"body","body":"{body}"}}]"#));
    let report = doctor(Some(&mock.url), Some(SECRET), &temp_dir("refused"), &[]);
    assert_eq!(report.code, Some(9), "{}", report.out);
    assert_eq!((report.level("token"), report.level("whoami")), ("ok", "fail"));
    assert!(report.line("whoami").contains("HTTP 401"));
    report.assert_clean(&[fake]);
}

#[test]
fn a_dead_port_fails_the_connect_line_with_exit_status_3() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let report = doctor(Some(&format!("http://127.0.0.1:{port}")), Some(SECRET), &temp_dir("dead"), &[]);
    assert_eq!(report.code, Some(3), "{}", report.out);
    assert_eq!(report.level("connect"), "fail");
    assert!(report.out.contains("firewall"), "{}", report.out);
    assert!(report.find("token").is_none(), "no token line after a failed connection:\n{}", report.out);
}

#[test]
fn a_ca_nobody_trusts_fails_the_tls_line_and_ssl_cert_file_fixes_it() {
    let mock = MockServer::start_tls(&[]);
    let ca = mock.ca_file().unwrap().to_str().unwrap().to_string();
    let cache = temp_dir("tls");
    let untrusted = doctor(Some(&mock.url), Some(SECRET), &cache, &[]);
    assert_eq!(untrusted.code, Some(3), "{}", untrusted.out);
    assert_eq!((untrusted.level("connect"), untrusted.level("tls")), ("ok", "fail"));
    assert!(untrusted.line("tls").contains("TLS"), "{}", untrusted.out);
    assert!(untrusted.out.contains("SSL_CERT_FILE"));
    let trusted = doctor(Some(&mock.url), Some(SECRET), &cache, &[("SSL_CERT_FILE", &ca)]);
    assert_eq!(trusted.code, Some(0), "{}", trusted.out);
    assert!(trusted.line("tls").contains("handshake"));
    assert!(trusted.line("trust").contains("SSL_CERT_FILE="));
}

#[test]
fn the_proxy_in_use_is_shown_without_its_password() {
    let mock = MockServer::start_tls(&[]);
    let port = mock.addr().rsplit(':').next().unwrap().to_string();
    let ca = mock.ca_file().unwrap().to_str().unwrap().to_string();
    let routes = HashMap::from([(format!("sigma.test:{port}"), format!("127.0.0.1:{port}"))]);
    let proxy = ConnectProxy::start(routes, Some("alice:hunter2"));
    let with_password = proxy.url.replace("http://", "http://alice:hunter2@");
    let endpoint = format!("https://sigma.test:{port}");
    let env = [("HTTPS_PROXY", with_password.as_str()), ("SSL_CERT_FILE", ca.as_str())];
    let report = doctor(Some(&endpoint), Some(SECRET), &temp_dir("proxy"), &env);
    assert_eq!(report.code, Some(0), "{}", report.out);
    assert!(report.line("proxy").contains("[redacted]@127.0.0.1"), "{}", report.out);
    assert!(!report.out.contains("alice"), "the proxy's user name is not shown either: {}", report.out);
    assert!(report.line("proxy").contains("from HTTPS_PROXY"));
    assert!(report.line("connect").contains("through the proxy"));
    assert_eq!(proxy.asked(), vec![format!("sigma.test:{port}")]);
    report.assert_clean(&["hunter2"]);

    // The proxy refuses the tunnel without credentials: a proxy finding, not a TLS one.
    let bare = [("HTTPS_PROXY", proxy.url.as_str()), ("SSL_CERT_FILE", ca.as_str())];
    let report = doctor(Some(&endpoint), Some(SECRET), &temp_dir("proxy"), &bare);
    assert_eq!(report.code, Some(3), "{}", report.out);
    let refused = report.out.lines().find(|l| l.starts_with("fail")).unwrap_or_else(|| panic!("{}", report.out));
    assert!(refused.split_whitespace().nth(1) == Some("proxy") && refused.contains("407"), "{}", report.out);
    assert!(report.find("tls").is_none(), "{}", report.out);

    // HTTP_PROXY alone is not used for https (as with curl): a warning, then sigma.test does not resolve.
    let report = doctor(Some(&endpoint), Some(SECRET), &temp_dir("proxy"), &[("HTTP_PROXY", &proxy.url)]);
    assert_eq!(report.level("proxy"), "warn", "{}", report.out);
    assert_eq!(report.code, Some(3), "{}", report.out);
}

#[test]
fn a_cache_directory_others_can_reach_fails_with_exit_status_1() {
    let mock = common::mock(&[]);
    let cache = temp_dir("open");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = doctor(Some(&mock.url), Some(SECRET), &cache, &[]);
    assert_eq!(report.code, Some(1), "{}", report.out);
    assert_eq!((report.level("token"), report.level("cache")), ("ok", "fail"));
    assert!(report.line("cache").contains("mode 755"), "{}", report.out);
    assert!(report.out.contains("chmod 700"));
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    let report = doctor(Some(&mock.url), Some(SECRET), &cache, &[]);
    assert_eq!(report.code, Some(0), "{}", report.out);
    assert!(report.line("cache").contains("a private directory of this user"));
}

#[test]
fn missing_settings_are_each_named_with_what_to_set() {
    let report = doctor(None, None, &temp_dir("missing"), &[]);
    assert_eq!(report.code, Some(1), "{}", report.out);
    assert_eq!(report.level("endpoint"), "fail");
    assert_eq!(report.level("secret"), "fail");
    assert!(report.out.contains("SIGMA_BASE_URL") && report.out.contains("SIGMA_CLIENT_SECRET"));
    assert!(report.find("dns").is_none(), "no network checks without settings:\n{}", report.out);
}

/// A fake Sigma on loopback whose whoami echoes the bearer token cut up by
/// `shape`, as a hostile or buggy server might: answers until dropped.
fn echoing_sigma(shape: fn(&str) -> String) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            loop {
                let (mut head, mut line) = (Vec::new(), String::new());
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    head.push(std::mem::take(&mut line));
                }
                let Some(request) = head.first() else { break };
                let header = |name: &str| {
                    head.iter()
                        .find_map(|h| h.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)))
                        .map(|(_, v)| v.trim().to_string())
                };
                let length: usize = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                reader.by_ref().take(length as u64).read_to_end(&mut Vec::new()).unwrap();
                let body = if request.starts_with("POST") {
                    r#"{"access_token":"tokABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzZ","token_type":"bearer","expires_in":3600}"#.to_string()
                } else {
                    let token = header("authorization").unwrap_or_default().replace("Bearer ", "");
                    shape(&token)
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if writer.write_all(reply.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    url
}

#[test]
fn a_whoami_that_spells_the_token_across_fields_shows_none_of_them() {
    fn pieces(token: &str, as_names: bool) -> String {
        let chunks: Vec<String> = token.as_bytes().chunks(7).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let fields: Vec<String> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| if as_names { format!("\"{c}\":\"x\"") } else { format!("\"f{i:02}\":\"{c}\"") })
            .collect();
        format!("{{{}}}", fields.join(","))
    }
    // The token over the fields doctor shows, in its order, or in reverse, or
    // over fields (and names) of the server's own choosing.
    fn known(token: &str, reversed: bool) -> String {
        let names = ["email", "firstName", "lastName", "memberId", "userKind", "organizationId", "clientId", "tenant"];
        let size = token.len().div_ceil(names.len());
        let mut chunks: Vec<&[u8]> = token.as_bytes().chunks(size).collect();
        if reversed {
            chunks.reverse();
        }
        let fields: Vec<String> =
            names.iter().zip(chunks).map(|(n, c)| format!("\"{n}\":\"{}\"", String::from_utf8_lossy(c))).collect();
        format!("{{{}}}", fields.join(","))
    }
    let urls = [
        (echoing_sigma(|t| known(t, false)), true),
        (echoing_sigma(|t| known(t, true)), true),
        (echoing_sigma(|t| pieces(t, false)), false),
        (echoing_sigma(|t| pieces(t, true)), false),
    ];
    for (url, shown) in urls {
        let report = doctor(Some(&url), Some(SECRET), &temp_dir("echo"), &[]);
        if shown {
            assert!(report.line("whoami").contains("withheld"), "{}", report.out);
        } else {
            assert!(report.line("whoami").contains("named no one"), "{}", report.out);
        }
        for window in "tokABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzZ".as_bytes().windows(7) {
            assert!(!report.out.contains(std::str::from_utf8(window).unwrap()), "{}", report.out);
        }
    }
}

#[test]
fn a_socks_proxy_is_refused_clearly_and_doctor_says_so() {
    // Not loopback (loopback is never proxied): a name only the proxy could resolve.
    let env = [("ALL_PROXY", "socks5h://bob:pw@127.0.0.1:9")];
    let report = doctor(Some("https://sigma.test"), Some(SECRET), &temp_dir("socks"), &env);
    assert_eq!(report.code, Some(1), "{}", report.out);
    assert!(report.line("proxy").starts_with("fail") && report.line("proxy").contains("SOCKS"), "{}", report.out);
    assert!(!report.out.contains("bob"), "{}", report.out);
}

/// A port nothing listens on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_token_store_that_is_down_is_a_warning_without_its_password_and_tokens_still_pass() {
    let mock = common::mock(&[]);
    let url = format!("redis://u:hunter2@127.0.0.1:{}/2", free_port());
    let report = doctor(Some(&mock.url), Some(SECRET), &temp_dir("store-down"), &[("SIGMA_TOKEN_STORE", &url)]);
    assert_eq!(report.code, Some(0), "a store that is down is a warning, not a failure:\n{}", report.out);
    assert_eq!((report.level("token"), report.level("whoami"), report.level("store")), ("ok", "ok", "warn"));
    let line = report.line("store");
    assert!(line.contains(&url.replace("hunter2", "***")) && line.contains("TLS no"), "{}", report.out);
    assert!(line.contains("unreachable") && line.contains("connection refused"), "{}", report.out);
    assert!(report.out.contains("calls go on without it"), "{}", report.out);
    report.assert_clean(&["hunter2"]);

    // No store set: no store line.
    let report = doctor(Some(&mock.url), Some(SECRET), &temp_dir("store-none"), &[]);
    assert!(report.find("store").is_none(), "{}", report.out);
}

#[test]
fn a_token_store_url_the_library_refuses_fails_the_settings_without_its_password() {
    let mock = common::mock(&[]);
    let env = [("SIGMA_TOKEN_STORE", "http://u:hunter2@127.0.0.1:1")];
    let report = doctor(Some(&mock.url), Some(SECRET), &temp_dir("store-bad"), &env);
    assert_eq!(report.code, Some(1), "{}", report.out);
    assert_eq!(report.level("settings"), "fail");
    assert!(report.line("settings").contains("token store URL"), "{}", report.out);
    report.assert_clean(&["hunter2"]);

    // --token-store wins over SIGMA_TOKEN_STORE.
    let flag = format!("redis://127.0.0.1:{}", free_port());
    let report = doctor_with(&["--token-store", &flag], Some(&mock.url), Some(SECRET), &temp_dir("store-bad"), &env);
    assert_eq!(report.code, Some(0), "{}", report.out);
    assert!(report.line("store").contains(&flag), "{}", report.out);
    report.assert_clean(&["hunter2"]);
}

#[test]
fn a_reachable_token_store_is_timed_with_its_version_and_a_wrong_password_is_a_warning() {
    // A real redis-server (Debian's package; .ci/run installs it).
    let options = RedisOptions { password: Some("hunter2".into()), ..Default::default() };
    let redis = RedisServer::start(options);
    let mock = common::mock(&[]);
    let url = format!("redis://:hunter2@127.0.0.1:{}", redis.port);
    let report = doctor(Some(&mock.url), Some(SECRET), &temp_dir("store-up"), &[("SIGMA_TOKEN_STORE", &url)]);
    assert_eq!(report.code, Some(0), "{}", report.out);
    assert!(report.levels().iter().all(|l| *l == "ok"), "{}", report.out);
    let line = report.line("store");
    let shown = format!("redis://***@127.0.0.1:{}:", redis.port);
    assert!(line.contains(&shown) && line.contains("TLS no"), "{}", report.out);
    assert!(line.contains("connect ") && line.contains("round trip ") && line.contains(" ms"), "{}", report.out);
    let version = line.rsplit("server ").next().unwrap();
    assert!(version.chars().next().is_some_and(|c| c.is_ascii_digit()), "no server version: {}", report.out);
    report.assert_clean(&["hunter2"]);

    let wrong = format!("redis://:wrong-pass-77@127.0.0.1:{}", redis.port);
    let report = doctor(Some(&mock.url), Some(SECRET), &temp_dir("store-up"), &[("SIGMA_TOKEN_STORE", &wrong)]);
    assert_eq!(report.code, Some(0), "{}", report.out);
    assert_eq!(report.level("store"), "warn", "{}", report.out);
    assert!(report.line("store").contains("credentials"), "{}", report.out);
    report.assert_clean(&["hunter2", "wrong-pass-77"]);
}
