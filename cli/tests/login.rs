//! `sigma-token login`, `--profile`, `profiles` and `logout`, as people use
//! them: a scripted browser ($BROWSER) that follows the sign-in's redirects,
//! processes sharing one sign-in over short-lived tokens, and processes killed
//! in the middle of refreshes.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{mock, Home, MockServer};

/// Signs in through the mock's automatic approval, as `email`.
fn login(home: &Home, mock: &MockServer, email: &str, extra: &[&str]) -> Output {
    mock.signin(&format!(r#"{{"auto_approve": "{email}"}}"#));
    let mut args = vec!["login", "--endpoint", mock.url.as_str(), "--timeout", "20"];
    args.extend_from_slice(extra);
    home.run(&args)
}

fn whoami(mock: &MockServer, token: &str) -> u16 {
    mock.get("/v2/whoami", Some(&format!("Bearer {token}"))).status
}

#[test]
fn login_then_every_form_of_the_token_by_profile_then_logout() {
    let mock = mock(&[]);
    let home = Home::new("login-forms");
    let out = login(&home, &mock, "ana@example.com", &["--scope", "api:access mcp:access"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("signed in as ana@example.com"), "{stderr}");
    assert!(out.stdout.is_empty(), "login prints nothing on stdout");

    // A profile remembers its endpoint: --profile alone is enough.
    let token = home.succeed(&["--profile", "default"]);
    assert_eq!(whoami(&mock, &token), 200);
    assert_eq!(mock.get("/mcp/v2", Some(&format!("Bearer {token}"))).status, 200);
    let header: serde_json::Value =
        serde_json::from_str(&home.succeed(&["--profile", "default", "--format", "header-json"])).unwrap();
    assert_eq!(mock.get("/mcp/v2", Some(header["Authorization"].as_str().unwrap())).status, 200);
    let env = home.succeed(&["--profile", "default", "--format", "env"]);
    assert!(env.contains(&format!("SIGMA_API_BASE_URL='{}'", mock.url)), "{env}");
    let exec = home.succeed(&["--profile", "default", "exec", "--", "sh", "-c", "printf %s \"$SIGMA_API_TOKEN\""]);
    assert_eq!(whoami(&mock, &exec), 200);
    // SIGMA_PROFILE does what --profile does.
    let by_env = home.command(&[]).env("SIGMA_PROFILE", "default").output().unwrap();
    assert!(by_env.status.success(), "{}", String::from_utf8_lossy(&by_env.stderr));
    let file = home.dir.join("out/headers.json");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    home.succeed(&["--profile", "default", "--format", "header-json", "--output-file", file.to_str().unwrap()]);
    assert!(fs::read_to_string(&file).unwrap().contains("Bearer "));

    // doctor: what is stored and whether it works; never a token.
    let doctor = home.succeed(&["--profile", "default", "doctor"]);
    assert!(doctor.contains("sign-in") && doctor.contains("profile default: ana@example.com"), "{doctor}");
    assert!(
        doctor.lines().any(|l| l.starts_with("ok") && l.contains("whoami") && l.contains("ana@example.com")),
        "{doctor}"
    );
    assert!(!doctor.contains("mock_pat_") && !doctor.contains("mock_prt_"), "{doctor}");

    // profiles: name, email, scopes; never a token.
    let listed = home.succeed(&["profiles"]);
    assert!(listed.starts_with("default\tana@example.com\tapi:access mcp:access\t"), "{listed}");
    let record = fs::read_to_string(home.store().join("login-default.json")).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&record).unwrap();
    for secret in [&stored["refresh_token"], &stored["access_token"]] {
        assert!(!listed.contains(secret.as_str().unwrap()), "{listed}");
    }

    home.succeed(&["logout"]);
    assert_eq!(mock.stats()["signin"]["revocations"].as_u64(), Some(1));
    let after = home.run(&["--profile", "default"]);
    assert_eq!(after.status.code(), Some(13), "LOGIN_REQUIRED: {}", String::from_utf8_lossy(&after.stderr));
    assert!(String::from_utf8_lossy(&after.stderr).contains("sigma-token login"));
    assert_eq!(home.succeed(&["profiles"]), "");
}

#[test]
fn no_browser_prints_the_url_and_takes_the_pasted_redirect() {
    let mock = mock(&[]);
    mock.signin(r#"{"auto_approve": "bo@example.com"}"#);
    let home = Home::new("login-paste");
    let mut child = home
        .command(&["login", "--endpoint", &mock.url, "--no-browser", "--timeout", "20", "--profile", "ssh"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let url = loop {
        let mut chunk = [0u8; 4096];
        let n = std::io::Read::read(&mut stderr, &mut chunk).unwrap();
        assert!(n > 0, "sigma-token ended before printing the URL: {seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        if let Some(line) =
            seen.lines().map(str::trim).find(|l| l.starts_with("http") && l.contains("/oauth/authorize?"))
        {
            if seen.contains("paste") {
                break line.to_string();
            }
        }
    };
    // The browser is on another machine: the person copies where it landed.
    let landed = sigma_mock::harness::Reply::from(mock.agent().get(&url).call().unwrap());
    let redirect = landed.header("location").unwrap().to_string();
    writeln!(child.stdin.as_mut().unwrap(), "{redirect}").unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{seen}{rest}");
    assert!(rest.contains("signed in as bo@example.com"), "{rest}");
    assert_eq!(whoami(&mock, &home.succeed(&["--profile", "ssh"])), 200);
}

#[test]
fn a_host_without_a_sign_in_or_pointing_elsewhere_is_refused_before_any_browser() {
    let mock = mock(&[]);
    let home = Home::new("login-refused");
    // The browser script leaves a mark if it is ever run.
    let marker = home.dir.join("browser-ran");
    fs::write(home.dir.join("browser"), format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    mock.signin(r#"{"endpoint_origin": "https://sigma-login.example.com"}"#);
    let out = home.run(&["login", "--endpoint", &mock.url]);
    assert_eq!(out.status.code(), Some(15), "LOGIN_UNAVAILABLE: {}", String::from_utf8_lossy(&out.stderr));
    mock.signin(r#"{"enabled": false}"#);
    let out = home.run(&["login", "--endpoint", &mock.url]);
    assert_eq!(out.status.code(), Some(15));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offers no browser sign-in"));
    assert!(!marker.exists(), "no browser was opened");
    assert_eq!(mock.stats()["signin"]["registrations"].as_u64(), Some(0));
    assert!(!home.store().join("login-default.json").exists());
}

/// Every call of `processes` processes, for `run_for`, gets a working token of
/// the one sign-in; refreshes happen throughout (8 s tokens); no refresh token
/// is ever presented twice.
#[test]
fn six_processes_share_one_sign_in_over_short_tokens_and_no_refresh_token_is_used_twice() {
    let mock = mock(&["--expires-in", "8"]);
    let home = Home::new("login-shared");
    assert!(login(&home, &mock, "cy@example.com", &[]).status.success());
    let run_for = Duration::from_secs(30);
    let started = Instant::now();
    // Each token is tried at once: by the end of the run the first have expired.
    let calls: Vec<(Output, u16)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let mut calls = Vec::new();
                    while started.elapsed() < run_for {
                        let out = home.run(&["--profile", "default"]);
                        let status = whoami(&mock, &String::from_utf8_lossy(&out.stdout));
                        calls.push((out, status));
                        std::thread::sleep(Duration::from_millis(150));
                    }
                    calls
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let tokens = calls.len();
    for (out, status) in calls {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(status, 200);
    }
    let signin = &mock.stats()["signin"];
    assert_eq!(signin["reuses"].as_u64(), Some(0), "{signin}");
    let refreshes = signin["refreshes"].as_u64().unwrap();
    // About one refresh per 4 s window (8 s tokens, due in their last 4 s).
    assert!((4..=12).contains(&refreshes), "{refreshes} refreshes for {tokens} calls: {signin}");
    assert!(tokens > 60, "{tokens} calls");
}

/// Processes killed at random points of their refreshes leave a store that
/// is always whole (old sign-in or new, never a torn file), and the sign-in
/// goes on working or ends cleanly in LOGIN_REQUIRED.
#[test]
fn processes_killed_during_refreshes_never_corrupt_the_store() {
    let mock = mock(&["--expires-in", "2", "--token-delay-ms", "30"]);
    let home = Home::new("login-killed");
    assert!(login(&home, &mock, "di@example.com", &[]).status.success());
    let record = home.store().join("login-default.json");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..40 {
        std::thread::sleep(Duration::from_millis(1100)); // due: a 2 s token is refreshed in its last 1 s
        let child =
            home.command(&["--profile", "default"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(rng % 60));
        // SAFETY: a child of ours, still unreaped, so its pid is not reused.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        let mut child = child;
        let _ = child.wait();
        let text = fs::read(&record).unwrap();
        let parsed: serde_json::Value =
            serde_json::from_slice(&text).unwrap_or_else(|e| panic!("round {round}: torn store: {e}"));
        assert_eq!(parsed["profile"], "default");
        assert_eq!(fs::metadata(&record).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let last = home.run(&["--profile", "default"]);
    match last.status.code() {
        Some(0) => assert_eq!(whoami(&mock, &String::from_utf8(last.stdout).unwrap()), 200),
        // A kill after Sigma rotated the token but before it was stored loses the sign-in.
        Some(13) => assert!(String::from_utf8_lossy(&last.stderr).contains("sigma-token login")),
        other => panic!("{other:?}: {}", String::from_utf8_lossy(&last.stderr)),
    }
    let leftovers: Vec<_> = fs::read_dir(home.store()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(leftovers.len() <= 3, "temp files of killed writers are swept: {leftovers:?}");
}

#[test]
fn login_options_are_checked() {
    let home = Home::new("login-usage");
    for args in [
        &["login", "--bogus"][..],
        &["--profile", "x", "--client-id", "y"],
        &["--profile", "x", "--impersonate", "a@example.com"],
        &["logout", "--endpoint", "x"],
    ] {
        let out = home.run(args);
        assert_eq!(out.status.code(), Some(64), "usage: {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = home.run(&["login", "--endpoint", "http://127.0.0.1:9", "--profile", "../x"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let out = home.run(&["--profile", "nobody"]);
    assert_eq!(out.status.code(), Some(13), "{}", String::from_utf8_lossy(&out.stderr));
}
