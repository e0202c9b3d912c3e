//! `sigma-token` as a helper for other programs: `--format`, `exec`,
//! `--output-file` and `--watch`, each output read back by a real consumer
//! (serde_json, sh, curl, a child process), against the real mock.

mod common;

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{mock, MockServer};
use serde_json::Value;

const SECRET: &str = "demo-secret";
const BIN: &str = env!("CARGO_BIN_EXE_sigma-token");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigma-cli-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `sigma-token ARGS` for this endpoint, with a token cache of its own under `dir`.
fn sigma_token(endpoint: &str, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("SIGMA_BASE_URL", endpoint)
        .env("SIGMA_CLIENT_ID", "demo-client")
        .env("SIGMA_CLIENT_SECRET", SECRET)
        .env("SIGMA_TOKEN_CACHE", dir.join("cache"))
        .env_remove("SIGMA_TOKEN_STORE")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("SIGMA_API_TOKEN")
        .env_remove("SIGMA_API_BASE_URL")
        .env_remove("MY_TOKEN")
        .stdin(Stdio::null());
    command
}

fn succeed(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn whoami_status(mock: &MockServer, authorization: &str) -> u16 {
    mock.get("/v2/whoami", Some(authorization)).status
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds, counted day by day (independent of
/// the command's own conversion).
fn parse_rfc3339_utc(text: &str) -> i64 {
    let b = text.as_bytes();
    assert!(
        b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z',
        "not RFC 3339 UTC to the second: {text}"
    );
    let n = |from: usize, to: usize| text[from..to].parse::<i64>().unwrap();
    let (year, month, day) = (n(0, 4), n(5, 7), n(8, 10));
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    assert!((1..=12).contains(&month) && day >= 1 && day <= month_days[month as usize - 1] + 1, "{text}");
    let mut days = (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum::<i64>();
    for m in 1..month {
        days += month_days[m as usize - 1] + i64::from(m == 2 && leap(year));
    }
    days += day - 1;
    days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)
}

fn only_entry(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn rfc3339_parser_of_these_tests() {
    assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z"), 0);
    assert_eq!(parse_rfc3339_utc("2000-02-29T00:00:00Z"), 951_782_400);
    assert_eq!(parse_rfc3339_utc("2026-11-29T10:00:00Z"), 1_795_946_400);
}

#[test]
fn every_format_is_read_back_by_a_real_consumer() {
    let mock = mock(&[]);
    let dir = temp_dir("formats");
    // One token for the whole test, shared through the cache.
    let token = succeed(&mut sigma_token(&mock.url, &dir, &[]));
    assert!(token.starts_with("mock_at_") && !token.ends_with('\n'), "{token:?}");
    assert_eq!(succeed(&mut sigma_token(&mock.url, &dir, &["--format", "token"])), token);

    let header = succeed(&mut sigma_token(&mock.url, &dir, &["--format", "header-json"]));
    assert!(header.ends_with("}\n") && header.matches('\n').count() == 1, "{header:?}");
    let header: Value = serde_json::from_str(&header).unwrap();
    let object = header.as_object().unwrap();
    assert_eq!(object.len(), 1);
    let authorization = object["Authorization"].as_str().unwrap();
    assert_eq!(authorization, format!("Bearer {token}"));
    assert_eq!(whoami_status(&mock, authorization), 200);

    let credential = succeed(&mut sigma_token(&mock.url, &dir, &["--format", "credential-json"]));
    assert!(credential.ends_with("}\n") && credential.matches('\n').count() == 1, "{credential:?}");
    let credential: Value = serde_json::from_str(&credential).unwrap();
    assert_eq!(credential.as_object().unwrap().len(), 4, "{credential}");
    assert_eq!(credential["version"], 1);
    assert_eq!(credential["token_type"], "Bearer");
    assert_eq!(credential["access_token"], token.as_str());
    let expires_at = parse_rfc3339_utc(credential["expires_at"].as_str().unwrap());
    let expected = now_unix() + 3600;
    assert!((expected - 10..=expected + 2).contains(&expires_at), "expires_at {expires_at}, expected about {expected}");

    // The older spelling, unchanged.
    let legacy: Value = serde_json::from_str(&succeed(&mut sigma_token(&mock.url, &dir, &["--json"]))).unwrap();
    assert_eq!(legacy["access_token"], token.as_str());
    assert_eq!(legacy["token_type"], "bearer");
    assert_eq!(legacy["expires_in"], 3600);
    assert!(legacy["expires_at"].is_i64());
    let legacy_again = succeed(&mut sigma_token(&mock.url, &dir, &["--format", "json"]));
    assert_eq!(serde_json::from_str::<Value>(&legacy_again).unwrap(), legacy);

    // `curl -H @-` reads the header line from stdin.
    let line = succeed(&mut sigma_token(&mock.url, &dir, &["--format", "curl-header"]));
    assert_eq!(line, format!("Authorization: Bearer {token}\n"));
    let mut helper = sigma_token(&mock.url, &dir, &["--format", "curl-header"]).stdout(Stdio::piped()).spawn().unwrap();
    let curl = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "@-"])
        .arg(format!("{}/v2/whoami", mock.url))
        .stdin(Stdio::from(helper.stdout.take().unwrap()))
        .output()
        .expect("curl");
    assert!(helper.wait().unwrap().success());
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "200", "{}", String::from_utf8_lossy(&curl.stderr));

    // env, through sh.
    let out = succeed(
        sigma_token(&mock.url, &dir, &[])
            .env("SIGMA_TOKEN_BIN", BIN)
            .args(["-c", r#"eval "$("$SIGMA_TOKEN_BIN" --format env)"; printf '%s\n%s' "$SIGMA_API_TOKEN" "$SIGMA_API_BASE_URL""#])
            .arg0_sh(),
    );
    assert_eq!(out, format!("{token}\n{}", mock.url));

    assert_eq!(mock.token_requests(), 1, "every format came from the one cached token");
    let unknown = sigma_token(&mock.url, &dir, &["--format", "yaml"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(64));
    fs::remove_dir_all(dir).unwrap();
}

/// Runs `sh` with the arguments and environment given to a `sigma_token` command.
trait ShInstead {
    fn arg0_sh(&mut self) -> &mut Command;
}

impl ShInstead for Command {
    fn arg0_sh(&mut self) -> &mut Command {
        let mut sh = Command::new("sh");
        sh.args(self.get_args()).stdin(Stdio::null());
        for (name, value) in self.get_envs() {
            match value {
                Some(value) => sh.env(name, value),
                None => sh.env_remove(name),
            };
        }
        *self = sh;
        self
    }
}

/// A loopback proxy in front of the mock that serves it under any path prefix:
/// a request for `<prefix>/v2/auth/token` goes to the mock's `/v2/auth/token`.
/// Returns its port and the request targets it saw.
fn prefix_proxy(mock_addr: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (addr, log) = (mock_addr.clone(), Arc::clone(&log));
            thread::spawn(move || relay(client, &addr, &log));
        }
    });
    (port, seen)
}

fn relay(client: TcpStream, mock_addr: &str, log: &Mutex<Vec<String>>) -> io::Result<()> {
    let mut server = TcpStream::connect(mock_addr)?;
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let mut reader = BufReader::new(client);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let mut parts: Vec<String> = line.splitn(3, ' ').map(str::to_string).collect();
        if parts.len() == 3 {
            log.lock().unwrap().push(parts[1].clone());
            if parts[1].ends_with("/v2/auth/token") {
                parts[1] = "/v2/auth/token".into();
            }
        }
        let mut head = parts.join(" ").into_bytes();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            head.extend_from_slice(header.as_bytes());
            if let Some((name, value)) = header.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        server.write_all(&head)?;
        server.write_all(&body)?;
    }
    server.shutdown(Shutdown::Write)
}

#[test]
fn env_format_is_safe_to_eval_whatever_the_token_and_url_hold() {
    let mock = mock(&[]);
    let dir = temp_dir("env-inject");
    let marker = |n: u32| std::env::temp_dir().join(format!("pwned-sigma-cli-{}-{n}", std::process::id()));
    let markers: Vec<PathBuf> = (1..=5).map(marker).collect();
    for m in &markers {
        let _ = fs::remove_file(m);
    }
    let m = |i: usize| markers[i].display().to_string();
    // Visible ASCII, no spaces (what the library accepts), full of shell syntax.
    let token = format!("a;b$(touch${{IFS}}{})`touch${{IFS}}{}`x'y\"|&<>\\;'", m(0), m(1));
    let body = serde_json::json!({ "access_token": token, "token_type": "bearer", "expires_in": 3600 }).to_string();
    mock.faults(&serde_json::json!([{ "kind": "body", "status": 200, "body": body }]).to_string());

    // An API base URL with shell syntax too, served by the mock through a proxy.
    let (port, targets) = prefix_proxy(mock.addr());
    let base_url = format!("http://127.0.0.1:{port}/p';touch${{IFS}}{};'$(touch${{IFS}}{})\"|&\\", m(2), m(3));

    let script = r#"eval "$("$SIGMA_TOKEN_BIN" --no-cache --format env)"; printf '%s\n%s' "$SIGMA_API_TOKEN" "$SIGMA_API_BASE_URL""#;
    let out =
        sigma_token(&base_url, &dir, &[]).env("SIGMA_TOKEN_BIN", BIN).args(["-c", script]).arg0_sh().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{token}\n{base_url}"));
    for m in &markers {
        assert!(!m.exists(), "{} was created: the output ran a command", m.display());
    }
    assert_eq!(mock.token_requests(), 1);
    let targets = targets.lock().unwrap().clone();
    assert!(targets.iter().any(|t| t.starts_with("/p") && t.ends_with("/v2/auth/token")), "{targets:?}");

    // The same values through exec: no shell in between, passed as they are.
    mock.faults(&serde_json::json!([{ "kind": "body", "status": 200, "body": body }]).to_string());
    let out = succeed(&mut sigma_token(
        &base_url,
        &dir,
        &["--no-cache", "exec", "--", "sh", "-c", r#"printf '%s\n%s' "$SIGMA_API_TOKEN" "$SIGMA_API_BASE_URL""#],
    ));
    assert_eq!(out, format!("{token}\n{base_url}"));
    for m in &markers {
        assert!(!m.exists(), "{}", m.display());
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn exec_runs_the_command_with_the_token_and_passes_its_status_through() {
    let mock = mock(&[]);
    let dir = temp_dir("exec");
    let token = succeed(&mut sigma_token(&mock.url, &dir, &[]));

    let out = succeed(&mut sigma_token(
        &mock.url,
        &dir,
        &[
            "exec",
            "--",
            "sh",
            "-c",
            r#"test "$SIGMA_API_TOKEN" = "$1" && printf '%s' "$SIGMA_API_BASE_URL""#,
            "sh",
            &token,
        ],
    ));
    assert_eq!(out, mock.url);

    let out = succeed(&mut sigma_token(
        &mock.url,
        &dir,
        &[
            "exec",
            "--env",
            "MY_TOKEN",
            "--",
            "sh",
            "-c",
            r#"test -z "${SIGMA_API_TOKEN+set}" && printf '%s %s' "$MY_TOKEN" "$SIGMA_API_BASE_URL""#,
        ],
    ));
    assert_eq!(out, format!("{token} {}", mock.url));

    // The command gets a token instead of the secret, not as well as it.
    let out = succeed(&mut sigma_token(
        &mock.url,
        &dir,
        &["exec", "--", "sh", "-c", r#"printf '%s|%s' "${SIGMA_CLIENT_SECRET-unset}" "$SIGMA_CLIENT_ID""#],
    ));
    assert_eq!(out, "unset|demo-client");

    // Arguments after the command, `--` included, are the command's; stdin is its.
    let out = succeed(&mut sigma_token(&mock.url, &dir, &["exec", "--", "printf", "%s|", "--", "a b", "--env"]));
    assert_eq!(out, "--|a b|--env|");

    let seven = sigma_token(&mock.url, &dir, &["exec", "--", "sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(seven.status.code(), Some(7));

    let missing = sigma_token(&mock.url, &dir, &["exec", "--", "no-such-command-sigma-test"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-command-sigma-test") && !stderr.contains(&token) && !stderr.contains(SECRET));

    let not_executable = dir.join("not-executable");
    fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&not_executable, fs::Permissions::from_mode(0o644)).unwrap();
    let denied = sigma_token(&mock.url, &dir, &["exec", "--", not_executable.to_str().unwrap()]).output().unwrap();
    assert_eq!(denied.status.code(), Some(126));

    assert_eq!(mock.token_requests(), 1, "exec uses the cache like any run");

    // No token, no command: the command is not run, the status is sigma-token's.
    let marker = dir.join("ran");
    let refused = sigma_token(&mock.url, &dir, &["--no-cache", "exec", "--", "touch", marker.to_str().unwrap()])
        .env("SIGMA_CLIENT_SECRET", "wrong-secret")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(5), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(!marker.exists());

    // Grammar: `--` is required; exec has no output options; a bad name is refused.
    for args in [
        &["exec", "sh", "-c", "true"][..],
        &["exec", "--"],
        &["--format", "env", "exec", "--", "true"],
        &["exec", "--env", "NOT-A-NAME", "--", "true"],
    ] {
        let out = sigma_token(&mock.url, &dir, args).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn output_file_is_private_atomic_and_left_alone_when_unchanged() {
    let mock = mock(&[]);
    let dir = temp_dir("output-file");
    let out_dir = dir.join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let file = out_dir.join("sigma.json");
    let path = file.to_str().unwrap();
    let token = succeed(&mut sigma_token(&mock.url, &dir, &[]));

    let printed = succeed(&mut sigma_token(&mock.url, &dir, &["--format", "credential-json", "--output-file", path]));
    assert_eq!(printed, "", "nothing on stdout");
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    let credential: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(credential["access_token"], token.as_str());
    assert_eq!(only_entry(&out_dir), ["sigma.json"]);

    // Same token, same content: the file is not touched (mtime and inode kept).
    let past = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options().write(true).open(&file).unwrap().set_modified(past).unwrap();
    succeed(&mut sigma_token(&mock.url, &dir, &["--format", "credential-json", "--output-file", path]));
    let again = fs::metadata(&file).unwrap();
    assert_eq!(again.modified().unwrap(), past, "rewritten although unchanged");
    assert_eq!(again.ino(), meta.ino());

    // Different content: replaced by rename (a new inode), private, nothing left over.
    succeed(&mut sigma_token(&mock.url, &dir, &["--format", "env", "--output-file", path]));
    let replaced = fs::metadata(&file).unwrap();
    assert_ne!(replaced.ino(), meta.ino());
    assert_eq!(replaced.mode() & 0o777, 0o600);
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        format!("export SIGMA_API_TOKEN='{token}'\nexport SIGMA_API_BASE_URL='{}'\n", mock.url)
    );
    assert_eq!(only_entry(&out_dir), ["sigma.json"]);

    // The same content in a file others can read is replaced by a private one.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    succeed(&mut sigma_token(&mock.url, &dir, &["--format", "env", "--output-file", path]));
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);

    // The bare token: no newline in a file.
    succeed(&mut sigma_token(&mock.url, &dir, &["--output-file", path]));
    assert_eq!(fs::read_to_string(&file).unwrap(), token);
    assert_eq!(only_entry(&out_dir), ["sigma.json"]);
    assert_eq!(mock.token_requests(), 1);

    // A directory that does not exist: a failure, and nothing written.
    let nowhere = dir.join("missing").join("sigma.json");
    let out = sigma_token(&mock.url, &dir, &["--output-file", nowhere.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&token));
    assert!(!dir.join("missing").exists());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn output_file_refuses_what_is_not_a_regular_file_and_replaces_a_symlink() {
    let mock = mock(&[]);
    let dir = temp_dir("output-file-kinds");
    let fifo = dir.join("fifo");
    common::mkfifo(&fifo);
    let subdir = dir.join("a-directory");
    fs::create_dir(&subdir).unwrap();
    // A FIFO would block a writer forever; a directory or a device is not a file.
    for target in [fifo.as_path(), subdir.as_path(), Path::new("/dev/null")] {
        let out = sigma_token(&mock.url, &dir, &["--output-file", target.to_str().unwrap()]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{target:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("INVALID_ARGUMENT") && stderr.contains("not a regular file"), "{stderr}");
    }
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(subdir.is_dir());

    // A link to one of those (as /dev/stdout is) is refused too, and left in place.
    let (to_fifo, to_stdout) = (dir.join("to-fifo"), dir.join("stdout"));
    std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
    std::os::unix::fs::symlink("/proc/self/fd/1", &to_stdout).unwrap();
    for link in [to_fifo.as_path(), to_stdout.as_path()] {
        let out = sigma_token(&mock.url, &dir, &["--output-file", link.to_str().unwrap()])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{link:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(fs::symlink_metadata(link).unwrap().file_type().is_symlink(), "{link:?} was replaced");
    }

    // A symbolic link is replaced by the file; its target is never written.
    let victim = dir.join("victim");
    fs::write(&victim, "keep me").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    succeed(&mut sigma_token(&mock.url, &dir, &["--output-file", link.to_str().unwrap()]));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert!(fs::read_to_string(&link).unwrap().starts_with("mock_at_"));
    // A dangling link is replaced as well.
    let dangling = dir.join("dangling");
    std::os::unix::fs::symlink(dir.join("nothing-there"), &dangling).unwrap();
    succeed(&mut sigma_token(&mock.url, &dir, &["--output-file", dangling.to_str().unwrap()]));
    assert!(fs::symlink_metadata(&dangling).unwrap().is_file());
    assert!(!dir.join("nothing-there").exists());
    fs::remove_dir_all(dir).unwrap();
}

/// Lines of the child's stderr as they come.
fn stderr_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    receiver
}

fn signal(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

/// `sigma-token ARGS --output-file DIR/out/NAME --watch`, running.
struct Watch {
    dir: PathBuf,
    file: PathBuf,
    child: std::process::Child,
    errors: mpsc::Receiver<String>,
}

fn watch(mock: &MockServer, name: &str, file_name: &str, args: &[&str]) -> Watch {
    let dir = temp_dir(name);
    let out_dir = dir.join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let file = out_dir.join(file_name);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--output-file", file.to_str().unwrap(), "--watch"]);
    let mut child = sigma_token(&mock.url, &dir, &all).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let errors = stderr_lines(&mut child);
    Watch { dir, file, child, errors }
}

#[test]
fn watch_rewrites_the_file_once_per_refresh_and_exits_cleanly_on_sigterm() {
    let mock = mock(&["--expires-in", "4"]);
    let Watch { dir, file, mut child, errors } = watch(&mock, "watch", "headers.json", &["--format", "header-json"]);

    let started = Instant::now();
    let mut seen: Vec<(String, Instant)> = Vec::new();
    let observe = |seen: &mut Vec<(String, Instant)>| {
        if let Ok(text) = fs::read_to_string(&file) {
            if seen.last().is_none_or(|(last, _)| *last != text) {
                seen.push((text, Instant::now()));
            }
        }
    };
    while started.elapsed() < Duration::from_millis(7000) {
        observe(&mut seen);
        thread::sleep(Duration::from_millis(20));
    }
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    observe(&mut seen);
    let requests = mock.token_requests();

    assert_eq!(status.code(), Some(0), "SIGTERM ends --watch with status 0");
    // (A refresh slowed past the middle of its window by a loaded machine may
    // be reported as late; nothing may have failed.)
    let errors: Vec<String> = errors.try_iter().filter(|l| !l.contains("not been refreshed yet")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(only_entry(file.parent().unwrap()), ["headers.json"], "no temp file left");
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);

    let tokens: Vec<String> = seen
        .iter()
        .map(|(text, _)| {
            let header: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
            header["Authorization"].as_str().unwrap().to_string()
        })
        .collect();
    let mut distinct = tokens.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), tokens.len(), "a token came back");
    // One request per 4 s token's refresh window (the last 2 s): at about 0, 2, 4 and 6 s.
    assert!((3..=5).contains(&requests), "{requests} token requests in 7 s");
    assert_eq!(tokens.len() as u64, requests, "the file changed once per token request");
    for pair in seen.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(gap >= Duration::from_secs(1), "two tokens {gap:?} apart");
    }
    assert_eq!(whoami_status(&mock, tokens.last().unwrap()), 200, "the file holds a live token");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn watch_stopped_before_its_first_token_does_not_report_success() {
    let mock = mock(&["--token-delay-ms", "3000"]);
    let Watch { dir, file, mut child, errors } = watch(&mock, "watch-early", "token", &[]);
    let started = Instant::now();
    while mock.token_requests() == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "no token request");
        thread::sleep(Duration::from_millis(20));
    }
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}: the file was never written");
    assert!(!file.exists());
    let errors: Vec<String> = errors.iter().collect(); // to the end of its stderr
    assert!(errors.iter().any(|l| l.contains("stopped before a token was written")), "{errors:?}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn watch_keeps_the_old_file_through_failed_refreshes_and_recovers() {
    let mock = mock(&["--expires-in", "4"]);
    let Watch { dir, file, mut child, errors } = watch(&mock, "watch-fail", "token", &["--timeout", "2"]);

    let started = Instant::now();
    while !file.exists() {
        assert!(started.elapsed() < Duration::from_secs(3), "no file written");
        thread::sleep(Duration::from_millis(20));
    }
    let first = fs::read_to_string(&file).unwrap();
    assert!(first.starts_with("mock_at_"));
    let faults: Vec<Value> = (0..200).map(|_| serde_json::json!({ "kind": "status", "status": 503 })).collect();
    mock.faults(&Value::from(faults).to_string());

    // Refreshes fail from about 2 s, and the token expires at 4 s: a failed
    // request in the foreground is reported, and the file keeps the old token.
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("keeps the last token")) {
        assert!(started.elapsed() < Duration::from_secs(7), "no failure reported: {lines:?}");
        if let Ok(line) = errors.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
        assert_eq!(fs::read_to_string(&file).unwrap(), first, "the old file is kept");
    }
    mock.reset();
    let recovered = loop {
        assert!(started.elapsed() < Duration::from_secs(9), "not recovered: {lines:?}");
        let text = fs::read_to_string(&file).unwrap();
        if text != first {
            break text;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(whoami_status(&mock, &format!("Bearer {recovered}")), 200);
    // A file removed from under it is put back (at the next poll).
    fs::remove_file(&file).unwrap();
    while fs::read_to_string(&file).ok().as_deref() != Some(recovered.as_str()) {
        assert!(started.elapsed() < Duration::from_secs(9), "the file was not put back");
        thread::sleep(Duration::from_millis(20));
    }
    signal(&child, libc::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(0), "SIGINT ends --watch with status 0");
    lines.extend(errors.try_iter());
    for line in &lines {
        assert!(line.starts_with("sigma-token: ") && !line.contains(&first) && !line.contains(SECRET), "{line}");
    }
    assert_eq!(only_entry(file.parent().unwrap()), ["token"]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn verbose_prints_the_events_on_stderr_and_never_the_token() {
    let mock = mock(&[]);
    let dir = temp_dir("verbose");
    let first = sigma_token(&mock.url, &dir, &["-v"]).output().unwrap();
    assert!(first.status.success());
    let token = String::from_utf8(first.stdout).unwrap();
    let stderr = String::from_utf8(first.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines[0], "sigma-token: REFRESH_STARTED");
    assert!(lines[1].starts_with("sigma-token: TOKEN_OBTAINED grant=client_credentials serial=1 expires_in=3600s"));

    // The next run finds the token in the cache; a refused secret is a warning-worthy failure.
    let second = sigma_token(&mock.url, &dir, &["--verbose"]).output().unwrap();
    let stderr = String::from_utf8(second.stderr).unwrap();
    assert!(stderr.contains("CACHE_HIT serial="), "{stderr}");
    let refused =
        sigma_token(&mock.url, &dir, &["-v", "--no-cache"]).env("SIGMA_CLIENT_SECRET", "wrong").output().unwrap();
    assert_eq!(refused.status.code(), Some(5));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.contains("REFRESH_FAILED grant=client_credentials") && stderr.contains("http_status=401"),
        "{stderr}"
    );
    for text in [stderr.as_str(), &String::from_utf8(second.stdout).unwrap()[..0]] {
        assert!(!text.contains(&token) && !text.contains(SECRET) && !text.contains("mock_rt_"));
    }
}

#[test]
fn output_file_never_replaces_the_systems_dev_stdout_nor_a_link_in_a_shared_directory() {
    let mock = mock(&[]);
    let dir = temp_dir("output-file-system");
    // As measured: root, stdout redirected to a regular file, --output-file /dev/stdout.
    let redirected = fs::File::create(dir.join("redirected")).unwrap();
    let out = sigma_token(&mock.url, &dir, &["--output-file", "/dev/stdout"]).stdout(redirected).output().unwrap();
    let still_a_link = fs::symlink_metadata("/dev/stdout").map(|m| m.file_type().is_symlink()).unwrap_or(true);
    if !still_a_link {
        // Put the system back before failing.
        let _ = fs::remove_file("/dev/stdout");
        let _ = std::os::unix::fs::symlink("/proc/self/fd/1", "/dev/stdout");
    }
    assert!(still_a_link, "/dev/stdout was replaced");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("system's files"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A link in a directory others may write (as /tmp is) may be someone else's: refused, left alone.
    let shared = dir.join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let target = dir.join("target");
    fs::write(&target, "keep").unwrap();
    let link = shared.join("headers.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = sigma_token(&mock.url, &dir, &["--output-file", link.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    // A plain file there is fine: the rename replaces only our own name.
    let plain = shared.join("plain.json");
    succeed(&mut sigma_token(&mock.url, &dir, &["--output-file", plain.to_str().unwrap()]));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn output_file_sweeps_temp_files_of_killed_writers() {
    let mock = mock(&[]);
    let dir = temp_dir("output-file-litter");
    let dead = common::dead_pid();
    let litter = dir.join(format!(".out.json.{dead}.0badf00d.tmp"));
    let live = dir.join(format!(".out.json.{}.0000beef.tmp", std::process::id()));
    for path in [&litter, &live] {
        fs::write(path, "mock_at_leftover").unwrap();
    }
    succeed(&mut sigma_token(&mock.url, &dir, &["--output-file", dir.join("out.json").to_str().unwrap()]));
    assert!(!litter.exists(), "a killed writer's temp file, holding a token, was removed");
    assert!(live.exists(), "a live writer's is left alone");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn token_store_takes_no_password_on_the_command_line_and_help_says_where_it_goes() {
    let mock = mock(&[]);
    let dir = temp_dir("token-store");
    let out = sigma_token(&mock.url, &dir, &["--token-store", "redis://u:hunter2@127.0.0.1:1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "INVALID_ARGUMENT: {stderr}");
    assert!(stderr.contains("redis://u:***@127.0.0.1:1") && stderr.contains("SIGMA_TOKEN_STORE"), "{stderr}");
    assert!(!stderr.contains("hunter2") && out.stdout.is_empty(), "{stderr}");
    assert_eq!(mock.grants("client_credentials"), 0, "refused before any request");

    // A bad URL, from either place: the library's message, never the password.
    for (args, env) in
        [(&["--token-store", "http://u:hunter2@h"][..], None), (&[][..], Some("redis://u:hunter2@h/notadb"))]
    {
        let mut command = sigma_token(&mock.url, &dir, args);
        if let Some(url) = env {
            command.env("SIGMA_TOKEN_STORE", url);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("token store URL") && !stderr.contains("hunter2"), "{stderr}");
    }

    // Without a password the option is taken (and wins over SIGMA_TOKEN_STORE):
    // a store that is down never fails the run.
    let out = sigma_token(&mock.url, &dir, &["--token-store", "redis://127.0.0.1:1"])
        .env("SIGMA_TOKEN_STORE", "http://u:hunter2@h")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("mock_at_"));

    let help = succeed(Command::new(BIN).arg("--help"));
    assert!(help.contains("--token-store URL") && help.contains("$SIGMA_TOKEN_STORE"), "{help}");
    assert!(help.contains("a token store that cannot be reached is a warning"), "{help}");
}
