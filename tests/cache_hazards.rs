//! The token cache among misbehaving neighbours: a lock holder that is stopped
//! or whose forked child keeps the lock, FIFOs, directories and symlinks where
//! files should be, a read-only directory, litter from killed writers, and a
//! different secret. In every case each caller gets a token within its own
//! deadline.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{mkfifo, mock, wait_for_requests, MockServer};
use sigma_auth::{Client, Config};

const SECRET: &str = "demo-secret";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigma-hazard-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn sigma_token(mock: &MockServer, cache: &Path, timeout_secs: &str) -> Command {
    sigma_token_at(&common::sigma_token(), mock, cache, timeout_secs)
}

fn sigma_token_at(program: &Path, mock: &MockServer, cache: &Path, timeout_secs: &str) -> Command {
    let mut command = Command::new(program);
    command
        .args(["--timeout", timeout_secs])
        .env("SIGMA_BASE_URL", &mock.url)
        .env("SIGMA_CLIENT_ID", "demo-client")
        .env("SIGMA_CLIENT_SECRET", SECRET)
        .env("SIGMA_TOKEN_CACHE", cache)
        .stdin(Stdio::null());
    command
}

/// Runs sigma-token and returns its token and how long it took; fails the test
/// if it failed.
fn timed_run(command: &mut Command) -> (String, Duration) {
    let started = Instant::now();
    let out = command.output().unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "sigma-token failed after {took:?}: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).unwrap(), took)
}

/// The slot's files after one run: (token file, lock file).
fn slot_files(mock: &MockServer, cache: &Path) -> (PathBuf, PathBuf) {
    timed_run(&mut sigma_token(mock, cache, "5"));
    let file = fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a cache file");
    let lock = file.with_extension("lock");
    (file, lock)
}

#[test]
fn a_stopped_lock_holder_costs_the_others_at_most_half_their_deadline() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":20000}]"#);
    let cache = temp_dir("stopped");
    let mut holder = sigma_token(&mock, &cache, "30").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_requests(&mock, 1);
    // SAFETY: stops our own child.
    unsafe { libc::kill(holder.id() as i32, libc::SIGSTOP) };
    let (token, took) = timed_run(&mut sigma_token(&mock, &cache, "4"));
    assert!(token.starts_with("mock_at_"));
    assert!(took < Duration::from_secs(4), "waited {took:?} with a 4 s deadline");
    // What the bypass fetched is shared: the next process reads it.
    assert_eq!(timed_run(&mut sigma_token(&mock, &cache, "4")).0, token);
    unsafe { libc::kill(holder.id() as i32, libc::SIGKILL) };
    holder.wait().unwrap();
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_child_forked_during_a_refresh_does_not_keep_the_lock() {
    // 2 s tokens: due after about 1 s, so the second process must lock to refresh.
    let mock = mock(&["--expires-in", "2"]);
    let cache = temp_dir("forked-holder");
    let mut config = Config::new(&mock.url, "demo-client", SECRET).unwrap();
    config.set_token_cache(&cache).unwrap();
    let client = Client::new(config);
    client.token().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    mock.faults(r#"[{"kind":"delay","ms":800}]"#);
    let refreshing = {
        let client = Client::new(client.config().clone());
        std::thread::spawn(move || client.token().map(|t| t.access_token().to_string()))
    };
    wait_for_requests(&mock, 2);
    // A child forked now shares the lock's open file description, and lives on.
    // SAFETY: the child only sleeps until it is killed.
    let child = unsafe { libc::fork() };
    if child == 0 {
        loop {
            unsafe { libc::pause() };
        }
    }
    let refreshed = refreshing.join().unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // the new token is due in turn
    let grants_before = mock.grants("refresh_token");
    let (token, took) = timed_run(&mut sigma_token(&mock, &cache, "10"));
    assert_ne!(token, refreshed);
    assert!(took < Duration::from_secs(2), "waited {took:?} for a lock the parent released");
    assert_eq!(mock.grants("refresh_token"), grants_before + 1, "refreshed under the lock, not around it");
    unsafe { libc::kill(child, libc::SIGKILL) };
    unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_stopped_lock_holder_and_a_slow_server_together_stay_within_the_deadline() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":20000},{"kind":"delay","ms":9000}]"#);
    let cache = temp_dir("stopped-slow");
    let mut holder = sigma_token(&mock, &cache, "30").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_requests(&mock, 1);
    // SAFETY: stops our own child.
    unsafe { libc::kill(holder.id() as i32, libc::SIGSTOP) };
    let started = Instant::now();
    let out = sigma_token(&mock, &cache, "6").output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(4), "TIMEOUT: {}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_millis(6700), "a 6 s deadline took {took:?}: the lock wait and the fetch share it");
    unsafe { libc::kill(holder.id() as i32, libc::SIGKILL) };
    holder.wait().unwrap();
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_child_forked_during_a_refresh_keeps_no_lock_even_when_its_parent_is_killed() {
    // 2 s tokens: due after about 1 s, so the last process must lock to refresh.
    let mock = mock(&["--expires-in", "2"]);
    let cache = temp_dir("orphan");
    timed_run(&mut sigma_token(&mock, &cache, "5"));
    std::thread::sleep(Duration::from_millis(1100));
    mock.faults(r#"[{"kind":"delay","ms":3000}]"#);
    let mut config = Config::new(&mock.url, "demo-client", SECRET).unwrap();
    config.set_token_cache(&cache).unwrap();
    // A "master" process refreshes under the lock, forks a worker that lives on,
    // and is killed mid-refresh: the worker must not keep the lock.
    // SAFETY: the master child runs the library and _exit()s; the worker only sleeps.
    let master = unsafe { libc::fork() };
    if master == 0 {
        let refreshing = std::thread::spawn(move || Client::new(config).token().is_ok());
        std::thread::sleep(Duration::from_millis(500)); // the refresh holds the lock
        if unsafe { libc::fork() } == 0 {
            unsafe { libc::alarm(30) };
            loop {
                unsafe { libc::pause() };
            }
        }
        let _ = refreshing;
        unsafe { libc::_exit(0) }; // as if killed: nothing unlocks, nothing closes cleanly
    }
    unsafe { libc::waitpid(master, std::ptr::null_mut(), 0) };
    let (token, took) = timed_run(&mut sigma_token(&mock, &cache, "10"));
    assert!(token.starts_with("mock_at_"));
    assert!(took < Duration::from_secs(2), "waited {took:?}: the forked worker kept the dead master's lock");
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn fifos_directories_and_symlinks_in_place_of_the_cache_files_never_block_or_fail() {
    let mock = mock(&[]);
    type Plant = fn(&Path);
    let plants: [(&str, bool, Plant); 4] = [
        ("a FIFO as the token file", false, |p| mkfifo(p)),
        ("a FIFO as the lock file", true, |p| mkfifo(p)),
        ("a directory as the lock file", true, |p| fs::create_dir(p).unwrap()),
        ("a symlink as the lock file", true, |p| std::os::unix::fs::symlink("/dev/null", p).unwrap()),
    ];
    for (i, (what, at_lock, plant)) in plants.into_iter().enumerate() {
        let cache = temp_dir(&format!("plant-{i}"));
        let (file, lock) = slot_files(&mock, &cache);
        fs::remove_file(&file).unwrap(); // so the next run has to lock and fetch
        let target = if at_lock { &lock } else { &file };
        let _ = fs::remove_file(target);
        plant(target);
        let (token, took) = timed_run(&mut sigma_token(&mock, &cache, "4"));
        assert!(token.starts_with("mock_at_"), "{what}");
        assert!(took < Duration::from_secs(3), "{what}: took {took:?}");
        fs::remove_dir_all(cache).unwrap();
    }
}

#[test]
fn a_read_only_cache_directory_still_gives_tokens() {
    let mock = mock(&[]);
    let cache = temp_dir("read-only");
    fs::create_dir_all(&cache).unwrap();
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o500)).unwrap();
    // Root writes anywhere: run as nobody, in nobody's read-only directory,
    // a copy of the command that nobody can reach (the build tree may sit in
    // a private directory, such as a clone in `mktemp -d`).
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let bin = temp_dir("read-only-bin");
    let mut command = if as_root {
        fs::create_dir_all(&bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let program = bin.join("sigma-token");
        fs::copy(common::sigma_token(), &program).unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&cache, Some(65534), Some(65534)).unwrap();
        let mut command = sigma_token_at(&program, &mock, &cache, "4");
        std::os::unix::process::CommandExt::uid(&mut command, 65534);
        std::os::unix::process::CommandExt::gid(&mut command, 65534);
        command
    } else {
        sigma_token(&mock, &cache, "4")
    };
    for _ in 0..2 {
        let (token, took) = timed_run(&mut command);
        assert!(token.starts_with("mock_at_") && took < Duration::from_secs(3));
    }
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 0);
    fs::remove_dir_all(cache).unwrap();
    let _ = fs::remove_dir_all(bin);
}

#[test]
fn temp_files_of_killed_writers_are_swept_and_live_ones_kept() {
    let mock = mock(&["--expires-in", "2"]);
    let cache = temp_dir("litter");
    slot_files(&mock, &cache);
    let dead = sigma_mock::harness::dead_pid();
    let litter = cache.join(format!(".token-{dead}-0badf00d.tmp"));
    let live = cache.join(format!(".token-{}-0000beef.tmp", std::process::id()));
    for path in [&litter, &live] {
        fs::write(path, r#"{"access_token":"leftover"}"#).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(1100)); // due: the next run locks
    timed_run(&mut sigma_token(&mock, &cache, "4"));
    assert!(!litter.exists(), "the dead writer's temp file holding a token was removed");
    assert!(live.exists(), "a live writer's recent temp file is left alone");
    fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_different_secret_never_gets_the_cached_token() {
    let mock = mock(&[]);
    let cache = temp_dir("secret");
    let (file, _) = slot_files(&mock, &cache);
    let before = fs::read_to_string(&file).unwrap();
    let out = sigma_token(&mock, &cache, "4").env("SIGMA_CLIENT_SECRET", "wrong-secret").output().unwrap();
    assert_eq!(out.status.code(), Some(5), "INVALID_CLIENT: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_eq!(fs::read_to_string(&file).unwrap(), before, "the good entry is left in place");
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    // A rotated secret the server accepts replaces the entry at once.
    let rotated = mock_with_two_secrets();
    let cache2 = temp_dir("secret-rotated");
    let first = timed_run(&mut sigma_token(&rotated, &cache2, "4")).0;
    let second = timed_run(sigma_token(&rotated, &cache2, "4").env("SIGMA_CLIENT_SECRET", "demo-secret-2")).0;
    assert_ne!(first, second, "the new secret does not get the old secret's token");
    fs::remove_dir_all(cache).unwrap();
    fs::remove_dir_all(cache2).unwrap();
}

fn mock_with_two_secrets() -> MockServer {
    // The mock accepts either secret for demo-client, as Sigma does while a
    // rotated secret and its predecessor are both valid.
    mock(&[
        "--client-id",
        "demo-client",
        "--client-secret",
        SECRET,
        "--client-id",
        "demo-client",
        "--client-secret",
        "demo-secret-2",
    ])
}

#[test]
fn entries_of_users_no_one_acts_as_any_more_are_removed_a_day_after_they_expired() {
    // As measured: 10,000 users acted as left 20,002 files that stayed forever.
    let mock = mock(&["--expires-in", "2"]);
    let cache = temp_dir("forgotten");
    let (file, _) = slot_files(&mock, &cache);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let write = |key: u32, expires_at_ms: u64| {
        let json = cache.join(format!("token-{key:016x}.json"));
        fs::write(&json, format!(r#"{{"expires_at_ms": {expires_at_ms}}}"#)).unwrap();
        fs::set_permissions(&json, fs::Permissions::from_mode(0o600)).unwrap();
        let lock = json.with_extension("lock");
        fs::write(&lock, "").unwrap();
        fs::set_permissions(&lock, fs::Permissions::from_mode(0o600)).unwrap();
    };
    for key in 0..300 {
        write(key, now_ms - 25 * 3600 * 1000);
    }
    write(1000, now_ms - 3600 * 1000); // expired an hour ago: kept a while longer
    std::thread::sleep(Duration::from_millis(1100)); // due: the next run locks, and sweeps
    timed_run(&mut sigma_token(&mock, &cache, "5"));
    let mut left: Vec<String> =
        fs::read_dir(&cache).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left.len(), 4, "the live entry and the recent one, with their locks: {:?}", &left[..left.len().min(6)]);
    assert!(file.exists() && cache.join(format!("token-{:016x}.json", 1000)).exists());
    fs::remove_dir_all(cache).unwrap();
}
