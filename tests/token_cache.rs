//! `sigma-token` and the persistent token cache shared by processes.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{mock, MockServer};
use sigma_auth::{Client, Config};

const SECRET: &str = "demo-secret";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigma-cache-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn sigma_token(mock: &MockServer, cache: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(common::sigma_token());
    command
        .args(args)
        .env("SIGMA_BASE_URL", &mock.url)
        .env("SIGMA_CLIENT_ID", "demo-client")
        .env("SIGMA_CLIENT_SECRET", SECRET)
        .env("SIGMA_TOKEN_CACHE", cache)
        .env_remove("XDG_CACHE_HOME")
        .stdin(Stdio::null());
    command
}

fn run(mock: &MockServer, cache: &Path) -> String {
    let out = sigma_token(mock, cache, &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn cache_file(dir: &Path) -> PathBuf {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a cache file")
}

fn wave(mock: &MockServer, cache: &Path, processes: usize) -> Vec<String> {
    let children: Vec<Child> = (0..processes)
        .map(|_| sigma_token(mock, cache, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        })
        .collect()
}

#[test]
fn twenty_processes_on_a_cold_cache_make_one_request_and_a_second_wave_none() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":300}]"#);
    let cache = temp_dir("wave");
    let first = wave(&mock, &cache, 20);
    assert!(first.iter().all(|t| *t == first[0] && t.starts_with("mock_at_")));
    assert_eq!(mock.token_requests(), 1, "one request for the whole wave");
    let second = wave(&mock, &cache, 20);
    assert!(second.iter().all(|t| *t == first[0]));
    assert_eq!(mock.token_requests(), 1, "the second wave is served from the cache");
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn the_cache_is_private_and_never_holds_the_secret() {
    let mock = mock(&[]);
    let cache = temp_dir("private");
    run(&mock, &cache);
    assert_eq!(fs::metadata(&cache).unwrap().mode() & 0o777, 0o700);
    let file = cache_file(&cache);
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains("mock_at_") && !text.contains(SECRET), "{text}");
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn corrupt_truncated_foreign_or_linked_cache_files_are_ignored_and_replaced() {
    let mock = mock(&[]);
    let cache = temp_dir("corrupt");
    let original = run(&mock, &cache);
    let file = cache_file(&cache);
    let good = fs::read_to_string(&file).unwrap();
    let decoy = cache.join("decoy");
    fs::write(&decoy, &good).unwrap();
    fs::set_permissions(&decoy, fs::Permissions::from_mode(0o600)).unwrap();

    type Spoil = Box<dyn Fn(&Path)>;
    let mut spoilers: Vec<(&str, Spoil)> = vec![
        ("garbage", Box::new(|f: &Path| fs::write(f, "not json at all").unwrap())),
        ("truncated", Box::new(move |f: &Path| fs::write(f, &good[..good.len() / 2]).unwrap())),
        ("world-readable", Box::new(|f: &Path| fs::set_permissions(f, fs::Permissions::from_mode(0o644)).unwrap())),
        (
            "symlink",
            Box::new(move |f: &Path| {
                fs::remove_file(f).unwrap();
                std::os::unix::fs::symlink(&decoy, f).unwrap();
            }),
        ),
    ];
    if fs::metadata("/proc/self").unwrap().uid() == 0 {
        spoilers.push((
            "foreign owner",
            Box::new(|f: &Path| std::os::unix::fs::chown(f, Some(65534), Some(65534)).unwrap()),
        ));
    }
    let mut requests = mock.token_requests();
    for (what, spoil) in spoilers {
        spoil(&file);
        let token = run(&mock, &cache);
        requests += 1;
        assert_eq!(mock.token_requests(), requests, "{what}: the spoilt file is not trusted");
        assert_ne!(token, original, "{what}");
        let meta = fs::symlink_metadata(&file).unwrap();
        assert!(meta.is_file() && meta.mode() & 0o777 == 0o600, "{what}: replaced by a private file");
        assert_eq!(run(&mock, &cache), token, "{what}: the replacement is used");
        assert_eq!(mock.token_requests(), requests);
    }
    assert_eq!(fs::read_to_string(cache.join("decoy")).unwrap().len(), fs::read_to_string(&file).unwrap().len());
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_directory_open_to_others_is_not_used() {
    let mock = mock(&[]);
    let cache = temp_dir("open-dir");
    fs::create_dir_all(&cache).unwrap();
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o755)).unwrap();
    run(&mock, &cache);
    run(&mock, &cache);
    assert_eq!(mock.token_requests(), 2);
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 0, "nothing written to an untrusted directory");
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_process_killed_while_holding_the_lock_does_not_block_the_others() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":20000}]"#);
    let cache = temp_dir("killed");
    let mut holder = sigma_token(&mock, &cache, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while mock.token_requests() == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the first process never asked");
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    let started = Instant::now();
    assert!(run(&mock, &cache).starts_with("mock_at_"));
    assert!(started.elapsed() < Duration::from_secs(3), "waited {:?}", started.elapsed());
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_reader_of_a_fresh_token_takes_no_lock() {
    let mock = mock(&[]);
    let cache = temp_dir("no-lock");
    let token = run(&mock, &cache);
    let lock_path = cache_file(&cache).with_extension("lock");
    let lock = fs::OpenOptions::new().read(true).write(true).open(&lock_path).unwrap();
    record_lock(&lock);
    let started = Instant::now();
    assert_eq!(run(&mock, &cache), token);
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(lock);
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn rotated_refresh_tokens_are_persisted_so_none_is_used_twice() {
    // 2 s tokens: fresh for the first second only, then due for refresh.
    let mock = mock(&["--expires-in", "2"]);
    let cache = temp_dir("rotation");
    let mut tokens = vec![run(&mock, &cache)];
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1200));
        tokens.push(run(&mock, &cache));
    }
    assert!(tokens[0] != tokens[1] && tokens[1] != tokens[2]);
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["client_credentials"], 1, "{stats}");
    assert_eq!(stats["by_grant"]["refresh_token"], 2, "{stats}");
    assert_eq!(stats["by_status"]["401"], serde_json::Value::Null, "{stats}");
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn an_invalidated_token_is_not_handed_back_by_the_cache() {
    let mock = mock(&[]);
    let cache = temp_dir("invalidate");
    let shared = run(&mock, &cache);
    let mut config = Config::new(&mock.url, "demo-client", SECRET).unwrap();
    config.set_token_cache(&cache).unwrap();
    let client = Client::new(config);
    assert_eq!(client.token().unwrap().access_token(), shared, "the in-process client reads the cache");
    client.invalidate(&shared);
    let fresh = client.token().unwrap().access_token().to_string();
    assert_ne!(fresh, shared);
    assert_eq!(run(&mock, &cache), fresh, "the replacement was stored for the other processes");
    assert_eq!(mock.token_requests(), 2);
    fs::remove_dir_all(cache).unwrap();
}

/// Takes the POSIX record lock the cache uses, as another process would.
fn record_lock(file: &fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed flock is valid; the descriptor is live.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    assert_eq!(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) }, 0);
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(common::sigma_token());
    command.args(args).env_remove("SIGMA_BASE_URL").env_remove("SIGMA_CLIENT_ID").env_remove("SIGMA_CLIENT_SECRET");
    command.env_remove("SIGMA_TOKEN_CACHE").stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn the_command_line_explains_itself_and_fails_with_one_line_and_the_status_code() {
    let help = cli(&["--help"], &[]);
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("EXAMPLES") && help.contains("curl -H"));

    let clouds = String::from_utf8(cli(&["--clouds"], &[]).stdout).unwrap();
    assert_eq!(clouds.lines().count(), 13);
    assert!(clouds.contains("aws-us-east  https://api.us-a.aws.sigmacomputing.com"));

    let missing = cli(&[], &[]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8(missing.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SIGMA_BASE_URL"), "{stderr}");

    let refused = cli(&["--client-secret", "x"], &[]);
    assert_eq!(refused.status.code(), Some(64));
    assert_eq!(cli(&["--bogus"], &[]).status.code(), Some(64));

    let mock = mock(&[]);
    let wrong = cli(
        &["--no-cache"],
        &[("SIGMA_BASE_URL", &mock.url), ("SIGMA_CLIENT_ID", "demo-client"), ("SIGMA_CLIENT_SECRET", "WRONG-42")],
    );
    assert_eq!(wrong.status.code(), Some(5), "INVALID_CLIENT");
    let stderr = String::from_utf8(wrong.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1);
    assert!(!stderr.contains("WRONG-42"));
    assert_eq!(
        cli(&["--no-cache", "-e", "http://example.com"], &[("SIGMA_CLIENT_ID", "a"), ("SIGMA_CLIENT_SECRET", "b")])
            .status
            .code(),
        Some(2),
        "INSECURE_URL"
    );
}

#[test]
fn json_output_and_a_secret_read_from_stdin() {
    let mock = mock(&[]);
    let mut child = Command::new(common::sigma_token())
        .args([
            "--json",
            "--no-cache",
            "--client-secret-file",
            "-",
            "--endpoint",
            &mock.url,
            "--client-id",
            "demo-client",
        ])
        .env_remove("SIGMA_CLIENT_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"demo-secret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["access_token"].as_str().unwrap().starts_with("mock_at_"));
    assert_eq!(json["expires_in"], 3600);
    assert!(json["expires_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(json.get("refresh_token").is_none(), "the refresh token stays in the cache");
}

#[test]
fn the_curl_one_liner_works() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("curl not installed; skipping");
        return;
    }
    let mock = mock(&[]);
    let cache = temp_dir("curl");
    let script = r#"curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $("$SIGMA_TOKEN_BIN")" "$SIGMA_BASE_URL/v2/whoami""#;
    let out = sigma_token(&mock, &cache, &[]);
    let mut shell = Command::new("bash");
    shell.arg("-c").arg(script);
    for (k, v) in out.get_envs() {
        match v {
            Some(v) => shell.env(k, v),
            None => shell.env_remove(k),
        };
    }
    let out = shell.env("SIGMA_TOKEN_BIN", common::sigma_token()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    fs::remove_dir_all(cache).unwrap();
}
