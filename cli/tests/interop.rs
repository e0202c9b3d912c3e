//! The sign-in against an OAuth server nobody here wrote: npm's
//! `oidc-provider` (tools/oidc-interop, installed by `.ci/run` with `npm ci`),
//! with dynamic registration, PKCE, rotating refresh tokens whose reuse
//! revokes the grant, and revocation; behind a Sigma-like `/v2/whoami` that
//! names it. The browser is a script with a cookie jar (oidc-provider keeps
//! its interaction in cookies).

mod common;

use common::Home;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    url: String,
    /// Kept open: oidc-provider writes to stdout, and dies of EPIPE if nobody reads.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/oidc-interop")
}

/// The server, or None (a skip) where Node or its packages are missing outside CI.
fn start(access_token_ttl: u64) -> Option<Server> {
    let dir = interop_dir();
    if !dir.join("node_modules/oidc-provider").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must run `npm ci --prefix tools/oidc-interop` (.ci/run does)");
        eprintln!("skipped: run `npm ci --prefix tools/oidc-interop` first");
        return None;
    }
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("INTEROP_ACCESS_TOKEN_TTL", access_token_ttl.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("http://127.0.0.1:"), "the interop server printed {line:?}");
    Some(Server { child, url: line.trim().to_string(), _stdout: stdout })
}

/// The sign-in stored under `default` in `home`.
fn stored(home: &Home) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(home.store().join("login-default.json")).unwrap()).unwrap()
}

fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-sS", "-o", "-", "-w", "\n%{http_code}", url]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let out = String::from_utf8(command.output().unwrap().stdout).unwrap();
    let (body, status) = out.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-sS", "-o", "-", "-w", "\n%{http_code}", url]);
    for (name, value) in form {
        command.args(["--data-urlencode", &format!("{name}={value}")]);
    }
    let out = String::from_utf8(command.output().unwrap().stdout).unwrap();
    let (body, status) = out.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

fn stats(server: &Server) -> serde_json::Value {
    serde_json::from_str(&get(&format!("{}/__stats", server.url), None).1).unwrap()
}

#[test]
fn sign_in_refresh_rotation_and_logout_against_oidc_provider() {
    let Some(server) = start(4) else { return };
    let home = Home::with_cookies("interop-flow");
    let out = home.run(&["login", "--endpoint", &server.url, "--timeout", "20"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signed in as interop@example.com"));
    let first = home.succeed(&["--profile", "default"]);
    assert_eq!(get(&format!("{}/v2/whoami", server.url), Some(&first)).0, 200);
    let refresh_before = stored(&home)["refresh_token"].as_str().unwrap().to_string();

    std::thread::sleep(Duration::from_millis(2200)); // due: a 4 s token is refreshed in its last 2 s
    let second = home.succeed(&["--profile", "default"]);
    assert_ne!(first, second);
    assert_eq!(get(&format!("{}/v2/whoami", server.url), Some(&second)).0, 200);
    let refresh_after = stored(&home)["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh_before, refresh_after, "oidc-provider rotated the refresh token and the store kept the new one");
    let seen = stats(&server);
    assert_eq!(
        (seen["registrations"].as_u64(), seen["codes"].as_u64(), seen["refreshes"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{seen}"
    );

    home.succeed(&["logout"]);
    assert_eq!(stats(&server)["revocations"].as_u64(), Some(1));
    assert_eq!(
        get(&format!("{}/v2/whoami", server.url), Some(&second)).0,
        401,
        "revoking the refresh token ended the grant"
    );
    assert_eq!(home.run(&["--profile", "default"]).status.code(), Some(13));
}

#[test]
fn a_reused_refresh_token_revokes_the_grant_and_the_sign_in_asks_to_log_in_again() {
    let Some(server) = start(4) else { return };
    let home = Home::with_cookies("interop-reuse");
    assert!(home.run(&["login", "--endpoint", &server.url, "--timeout", "20"]).status.success());
    let stored = stored(&home);
    let (refresh, client_id) = (stored["refresh_token"].as_str().unwrap(), stored["client_id"].as_str().unwrap());
    // A copy of the refresh token is redeemed elsewhere first...
    let token_url = stored["token_endpoint"].as_str().unwrap();
    let (status, _) =
        post_form(token_url, &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", client_id)]);
    assert_eq!(status, 200);
    // ...so the sign-in's own redemption is a reuse: refused, the grant revoked.
    std::thread::sleep(Duration::from_millis(2200));
    let out = home.run(&["--profile", "default"]);
    assert_eq!(out.status.code(), Some(13), "LOGIN_REQUIRED: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sigma-token login"));
    assert_eq!(stats(&server)["reuses"].as_u64(), Some(1));
    // Remembered: the next call asks nobody.
    assert_eq!(home.run(&["--profile", "default"]).status.code(), Some(13));
    assert_eq!(stats(&server)["reuses"].as_u64(), Some(1));
}
