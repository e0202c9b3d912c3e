//! The token store shared by hosts, against a real redis-server on loopback
//! (Debian's package) and the mock Sigma server. "Hosts" are separate
//! processes: this test binary run again as a worker (`worker` below), each
//! with its own memory and no disk cache (or one of its own), so the store is
//! all they share.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{config, mock, MockServer};
use sigma_auth::{Client, Config, ErrorCode, EventKind};
use sigma_mock::redis_server::{RedisOptions, RedisServer};

fn store_config(mock: &MockServer, redis: &RedisServer) -> Config {
    let mut config = config(mock);
    config.set_token_store(&redis.url()).unwrap();
    config
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user{i}@example.com")).collect()
}

fn exchanges(mock: &MockServer) -> u64 {
    mock.grants("urn:ietf:params:oauth:grant-type:token-exchange")
}

/// What a worker was asked to do (environment variables), and what it did
/// (one JSON line on stdout).
struct Worker {
    users: Vec<String>,
    seconds: f64,
    timeout_ms: u64,
    /// Gives each worker a disk cache of its own, in this directory.
    disk_caches: Option<std::path::PathBuf>,
}

fn spawn_workers(mock: &MockServer, store: &str, count: usize, job: &Worker) -> Vec<std::process::Child> {
    (0..count)
        .map(|i| {
            let cache = job.disk_caches.as_ref().map(|d| d.join(format!("worker-{i}")));
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "worker", "--include-ignored", "--nocapture", "--test-threads=1", "--quiet"])
                .env("STORE_WORKER", "1")
                .env("STORE_WORKER_BASE_URL", &mock.url)
                .env("STORE_WORKER_STORE", store)
                .env("STORE_WORKER_USERS", job.users.join(","))
                .env("STORE_WORKER_SECONDS", job.seconds.to_string())
                .env("STORE_WORKER_TIMEOUT_MS", job.timeout_ms.to_string())
                .env("STORE_WORKER_CACHE", cache.unwrap_or_default())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start a worker")
        })
        .collect()
}

/// Each worker's report: calls made, failures (code: message), slowest call.
fn reports(children: Vec<std::process::Child>) -> Vec<serde_json::Value> {
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("worker ran");
            assert!(output.status.success(), "a worker failed: {:?}", output.status);
            let text = String::from_utf8_lossy(&output.stdout);
            let line =
                text.lines().find(|l| l.starts_with("{\"calls\"")).unwrap_or_else(|| panic!("no report: {text}"));
            serde_json::from_str(line).unwrap()
        })
        .collect()
}

fn run_workers(mock: &MockServer, store: &str, count: usize, job: &Worker) -> Vec<serde_json::Value> {
    reports(spawn_workers(mock, store, count, job))
}

/// The worker: an admin client and a client per user, each asked for its
/// token (once, or every 20 ms for `seconds`), with the store and no disk
/// cache. Only runs when a test starts it.
#[test]
#[ignore = "run by the tests below as a separate process"]
fn worker() {
    if std::env::var_os("STORE_WORKER").is_none() {
        return;
    }
    let var = |name: &str| std::env::var(name).unwrap();
    let mut config = Config::new(&var("STORE_WORKER_BASE_URL"), "demo-client", "demo-secret").unwrap();
    config.set_token_store(&var("STORE_WORKER_STORE")).unwrap();
    config.set_timeout(Duration::from_millis(var("STORE_WORKER_TIMEOUT_MS").parse().unwrap())).unwrap();
    if !var("STORE_WORKER_CACHE").is_empty() {
        config.set_token_cache(var("STORE_WORKER_CACHE")).unwrap();
    }
    let users: Vec<String> =
        var("STORE_WORKER_USERS").split(',').filter(|u| !u.is_empty()).map(str::to_string).collect();
    let seconds: f64 = var("STORE_WORKER_SECONDS").parse().unwrap();
    let admin = Client::new(config);
    let mut clients = vec![admin.clone()];
    for user in &users {
        clients.push(admin.impersonate(user, None).unwrap());
    }
    let (mut calls, mut failures, mut slowest) = (0u64, Vec::new(), Duration::ZERO);
    let started = Instant::now();
    loop {
        for client in &clients {
            let call = Instant::now();
            let result = client.token();
            slowest = slowest.max(call.elapsed());
            calls += 1;
            if let Err(e) = result {
                failures.push(format!("{}: {}", e.code().name(), e.message()));
            }
        }
        if started.elapsed().as_secs_f64() >= seconds {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = serde_json::json!({"calls": calls, "failures": failures, "slowest_ms": slowest.as_millis() as u64});
    println!("{report}");
}

fn no_failures(reports: &[serde_json::Value]) {
    for report in reports {
        assert_eq!(report["failures"].as_array().unwrap().len(), 0, "{report}");
    }
}

#[test]
fn four_processes_with_disk_caches_of_their_own_acting_as_the_same_ten_users_make_one_grant_and_ten_exchanges() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    // Each with a disk cache of its own: the store is all they share.
    let caches = std::env::temp_dir().join(format!("sigma-store-caches-{}", std::process::id()));
    let job = Worker { users: users(10), seconds: 0.0, timeout_ms: 30_000, disk_caches: Some(caches.clone()) };
    let reports = run_workers(&mock, &redis.url(), 4, &job);
    let _ = std::fs::remove_dir_all(&caches);
    no_failures(&reports);
    let by_subject = mock.stats()["exchanges_by_subject"].clone();
    assert_eq!(mock.grants("client_credentials"), 1, "{}", mock.stats());
    assert_eq!(exchanges(&mock), 10, "{by_subject}");
    for user in users(10) {
        assert_eq!(by_subject[&user], 1, "{by_subject}");
    }
}

#[test]
fn a_fleet_of_eight_processes_fetches_once_per_token_lifetime() {
    // 6 s tokens: each is due for refresh 3 s (+ up to 10% jitter) before it
    // expires, so a run of 13 s covers about four lifetimes.
    let mock = mock(&["--expires-in", "6"]);
    let redis = RedisServer::start(RedisOptions::default());
    let seconds = 13.0;
    let job = Worker { users: vec![], seconds, timeout_ms: 10_000, disk_caches: None };
    let reports = run_workers(&mock, &redis.url(), 8, &job);
    no_failures(&reports);
    let grants = mock.grants("client_credentials");
    let lifetimes = (seconds / 2.7_f64).ceil() as u64 + 1;
    assert!(
        grants <= lifetimes,
        "{grants} grants for 8 processes over {seconds} s of 6 s tokens (at most {lifetimes})"
    );
    // Calls went on past the first token's 6 s without failing: it was replaced.
    assert!(grants >= 2, "{grants}: the tokens were refreshed");
}

#[test]
fn redis_killed_and_restarted_mid_run_never_fails_a_call_nor_holds_it_past_its_deadline() {
    let mock = mock(&["--expires-in", "4"]);
    let mut redis = RedisServer::start(RedisOptions::default());
    let job = Worker { users: users(3), seconds: 9.0, timeout_ms: 5_000, disk_caches: None };
    let workers = spawn_workers(&mock, &redis.url(), 4, &job);
    std::thread::sleep(Duration::from_secs(3));
    redis.kill();
    std::thread::sleep(Duration::from_secs(3));
    redis.restart();
    let reports = reports(workers);
    no_failures(&reports);
    for report in &reports {
        assert!(report["slowest_ms"].as_u64().unwrap() < 5_000, "{report}");
    }
}

#[test]
fn a_paused_redis_holds_no_call_past_half_its_deadline() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    redis.pause();
    let job = Worker { users: users(3), seconds: 0.0, timeout_ms: 4_000, disk_caches: None };
    let reports = run_workers(&mock, &redis.url(), 4, &job);
    no_failures(&reports);
    for report in &reports {
        assert!(report["slowest_ms"].as_u64().unwrap() < 2_000, "{report}");
    }
    // In one process too: the store goes down after one timed-out command,
    // and the next calls skip it at once (its events say so).
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut config = store_config(&mock, &redis);
    config.set_timeout(Duration::from_secs(4)).unwrap();
    let seen = events.clone();
    config.set_event_callback(move |e| seen.lock().unwrap().push((e.kind, e.message.clone())));
    let admin = Client::new(config);
    let (result, took) = common::timed(|| admin.token());
    result.unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
    let user = admin.impersonate("someone@example.com", None).unwrap();
    let (result, took) = common::timed(|| user.token());
    result.unwrap();
    assert!(took < Duration::from_millis(300), "the store is known to be down: {took:?}");
    let events = events.lock().unwrap();
    let unavailable: Vec<_> = events.iter().filter(|(kind, _)| *kind == EventKind::StoreUnavailable).collect();
    assert!(unavailable.len() >= 2, "{events:?}");
    assert!(unavailable[0].1.as_deref().unwrap().contains("answer within"), "{unavailable:?}");
}

#[test]
fn a_holder_stuck_with_the_lock_delays_the_others_by_at_most_half_their_deadline() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    let mut config = store_config(&mock, &redis);
    config.set_timeout(Duration::from_secs(3)).unwrap();
    Client::new(config.clone()).token().unwrap();
    // The first client's entry tells us the key names; then a "stuck holder"
    // takes the lock for a minute, and the entry is gone.
    let mut raw = raw(&redis);
    let keys: Vec<String> = redis::cmd("KEYS").arg("sigma-auth:*:token").query(&mut raw).unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let lock = keys[0].replace(":token", ":lock");
    let _: () = redis::cmd("DEL").arg(&keys[0]).query(&mut raw).unwrap();
    let _: () = redis::cmd("SET").arg(&lock).arg("stuck").arg("PX").arg(8_000).query(&mut raw).unwrap();
    let (result, took) = common::timed(|| Client::new(config.clone()).token());
    result.unwrap();
    assert!(took >= Duration::from_millis(1_400) && took < Duration::from_millis(2_500), "{took:?}");
    assert_eq!(mock.grants("client_credentials"), 2);
    // Its token was not written over the stuck holder's lock.
    let stored: Option<Vec<u8>> = redis::cmd("GET").arg(&keys[0]).query(&mut raw).unwrap();
    assert!(stored.is_none());
    // A lock no holder of ours would set (no expiry, or a longer one than
    // sigma-auth ever sets): not waited for at all.
    for expiry in [None, Some(60_000)] {
        let mut set = redis::cmd("SET");
        set.arg(&lock).arg("planted");
        if let Some(ms) = expiry {
            set.arg("PX").arg(ms);
        }
        let _: () = set.query(&mut raw).unwrap();
        let (result, took) = common::timed(|| Client::new(config.clone()).token());
        result.unwrap();
        assert!(took < Duration::from_millis(500), "{expiry:?}: {took:?}");
        // It is removed, and the token written for the others.
        let lock_left: Option<String> = redis::cmd("GET").arg(&lock).query(&mut raw).unwrap();
        let stored: Option<Vec<u8>> = redis::cmd("GET").arg(&keys[0]).query(&mut raw).unwrap();
        assert!(lock_left.is_none() && stored.is_some(), "{expiry:?}");
        let _: () = redis::cmd("DEL").arg(&keys[0]).query(&mut raw).unwrap();
    }
}

fn raw(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.plain_url()).unwrap().get_connection().unwrap()
}

/// Every key and value in the store, as bytes.
fn dump(redis: &RedisServer) -> Vec<Vec<u8>> {
    let mut raw = raw(redis);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut raw).unwrap();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut raw).unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query(&mut raw).unwrap()],
            "hash" => redis::cmd("HGETALL").arg(&key).query(&mut raw).unwrap(),
            other => panic!("unexpected {other} at {key}"),
        };
        out.push(key.into_bytes());
        out.extend(values);
    }
    out
}

/// `needle` and the ways a store could hold it: as is, base64, hex.
fn forms(needle: &str) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(needle);
    let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
    vec![needle.as_bytes().to_vec(), b64.trim_end_matches('=').as_bytes().to_vec(), hex.into_bytes()]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_store_holds_no_token_no_refresh_token_no_email_and_no_secret_in_any_form() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    let admin = Client::new(store_config(&mock, &redis));
    let token = admin.token().unwrap();
    let email = "Someone.Private@example.com";
    let user = admin.impersonate(email, Some("tenant-7")).unwrap().token().unwrap();
    let mut needles = vec![token.access_token().to_string(), user.access_token().to_string()];
    needles.extend(token.refresh_token().map(str::to_string));
    needles.extend([email.to_string(), email.to_lowercase(), "demo-secret".into(), "demo-client".into()]);
    let dump = dump(&redis);
    assert!(dump.len() >= 4, "two entries at least");
    for value in &dump {
        for needle in &needles {
            for form in forms(needle) {
                assert!(!contains(value, &form), "the store holds {needle:?} in some form");
            }
        }
    }
    // And a second process-like client gets both from the store.
    let again = Client::new(store_config(&mock, &redis));
    assert_eq!(again.token().unwrap().access_token(), token.access_token());
    assert_eq!(
        again.impersonate(email, Some("tenant-7")).unwrap().token().unwrap().access_token(),
        user.access_token()
    );
    assert_eq!((mock.grants("client_credentials"), exchanges(&mock)), (1, 1));
}

#[test]
fn another_secret_misses_and_a_tampered_value_misses() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    let first = Client::new(store_config(&mock, &redis)).token().unwrap();
    // Same client id, another secret (refused by Sigma): it must not be
    // handed the stored token, so it asks Sigma, and is refused.
    let mut other = Config::new(&mock.url, "demo-client", "not-the-secret").unwrap();
    other.set_token_store(&redis.url()).unwrap();
    let refused = Client::new(other).token().unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidClient);
    // A value changed in the store: a miss, and a new token.
    let mut raw = raw(&redis);
    let keys: Vec<String> = redis::cmd("KEYS").arg("sigma-auth:*:token").query(&mut raw).unwrap();
    let mut value: Vec<u8> = redis::cmd("GET").arg(&keys[0]).query(&mut raw).unwrap();
    let last = value.len() - 1;
    value[last] ^= 0x01;
    let _: () = redis::cmd("SET").arg(&keys[0]).arg(value).query(&mut raw).unwrap();
    let grants = mock.grants("client_credentials");
    let second = Client::new(store_config(&mock, &redis)).token().unwrap();
    assert_ne!(second.access_token(), first.access_token());
    assert_eq!(mock.grants("client_credentials"), grants + 1);
}

#[test]
fn rediss_with_a_password_shares_tokens_over_tls() {
    let mock = mock(&[]);
    let redis =
        RedisServer::start(RedisOptions { password: Some("store-pass-xyz".into()), tls: true, ..Default::default() });
    assert!(redis.url().starts_with("rediss://"));
    let mut config = store_config(&mock, &redis);
    config.set_ca_file(redis.ca_file()).unwrap();
    assert_eq!(config.token_store().unwrap(), format!("rediss://***@127.0.0.1:{}/0", redis.port));
    assert!(!format!("{config:?}").contains("store-pass-xyz"));
    let first = Client::new(config.clone()).token().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let mut watched = config.clone();
    watched.set_event_callback(move |e| seen.lock().unwrap().push(e.kind));
    let second = Client::new(watched).token().unwrap();
    assert_eq!(second.access_token(), first.access_token());
    assert!(events.lock().unwrap().contains(&EventKind::StoreHit));
    assert_eq!(mock.grants("client_credentials"), 1);
    let probe = sigma_auth::probe_token_store(&config).unwrap();
    assert!(probe.tls && probe.error.is_none() && probe.round_trip.is_some(), "{probe:?}");
    assert!(!probe.url.contains("store-pass-xyz"));

    // Without trusting the CA, or with a wrong password: the call still
    // succeeds (without the store), and nothing says the password.
    for (ca, url) in [(false, redis.url()), (true, redis.url().replace("store-pass-xyz", "wrong-pass-xyz"))] {
        let mut config = common::config(&mock);
        config.set_token_store(&url).unwrap();
        if ca {
            config.set_ca_file(redis.ca_file()).unwrap();
        }
        let messages = Arc::new(Mutex::new(Vec::new()));
        let seen = messages.clone();
        config.set_event_callback(move |e| {
            if e.kind == EventKind::StoreUnavailable {
                seen.lock().unwrap().push(e.message.clone().unwrap_or_default());
            }
        });
        let probe = sigma_auth::probe_token_store(&config).unwrap();
        let expected = if ca { "credentials" } else { "TLS failed: invalid peer certificate" };
        assert!(probe.error.as_deref().unwrap_or("").contains(expected), "{probe:?}");
        Client::new(config).token().unwrap();
        let messages = messages.lock().unwrap();
        assert!(!messages.is_empty());
        for text in messages.iter().chain(probe.error.iter()) {
            assert!(!text.contains("pass-xyz"), "{text}");
        }
    }
}

#[test]
fn the_fleet_shares_the_pacing_of_a_throttled_endpoint() {
    // Sigma's edge lets 2 token requests a second through (a burst of 2).
    let mock = mock(&["--throttle", "2/2"]);
    let redis = RedisServer::start(RedisOptions::default());
    let job = Worker { users: users(20), seconds: 0.0, timeout_ms: 40_000, disk_caches: None };
    let reports = run_workers(&mock, &redis.url(), 4, &job);
    no_failures(&reports);
    let stats = mock.stats();
    let answered: u64 = stats["exchanges_by_subject"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert!(answered >= 20, "{stats}");
    let throttled = stats["throttled"].as_u64().unwrap();
    assert!(throttled <= 12, "{throttled} throttled answers for 21 tokens across 4 processes: {stats}");
}

#[test]
fn a_bad_store_url_is_refused_without_repeating_it_and_an_unreachable_one_is_gone_around() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    for bad in ["http://u:hunter2@host", "redis://u:hunter2@host/x", "rediss://u:hunter2@host/#insecure", ""] {
        let error = config.set_token_store(bad).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument);
        assert!(!error.message().contains("hunter2"), "{}", error.message());
    }
    config.set_token_store("redis://u:hunter2@127.0.0.1:1/2").unwrap();
    assert_eq!(config.token_store().unwrap(), "redis://u:***@127.0.0.1:1/2");
    // Nothing listens on port 1: the call goes on without the store.
    let kinds = Arc::new(Mutex::new(BTreeMap::new()));
    let seen = kinds.clone();
    config.set_event_callback(move |e| *seen.lock().unwrap().entry(e.kind.name()).or_insert(0) += 1);
    Client::new(config).token().unwrap();
    assert!(kinds.lock().unwrap().contains_key("STORE_UNAVAILABLE"), "{kinds:?}");
}

#[test]
fn a_pacing_value_planted_in_the_store_can_slow_a_call_by_half_its_deadline_but_never_fail_it() {
    // An edge that lets one request through every 10 s: the second user's
    // exchange is throttled, which writes the fleet's pacing to the store.
    let mock = mock(&["--throttle", "0.1/1"]);
    let redis = RedisServer::start(RedisOptions::default());
    let mut config = store_config(&mock, &redis);
    config.set_timeout(Duration::from_secs(3)).unwrap();
    config.set_max_attempts(1).unwrap();
    let admin = Client::new(config.clone());
    admin.token().unwrap();
    let _ = admin.impersonate("a@example.com", None).unwrap().token();
    let mut raw = raw(&redis);
    let keys: Vec<String> = redis::cmd("KEYS").arg("sigma-auth:*:pace").query(&mut raw).unwrap();
    assert_eq!(keys.len(), 1, "the throttled answer was shared: {keys:?}");
    // Whoever can write to Redis plants a slot an hour away and a huge interval.
    let _: () = redis::cmd("HSET")
        .arg(&keys[0])
        .arg("next")
        .arg("99999999999999")
        .arg("interval")
        .arg("99999999999")
        .arg("throttled")
        .arg("99999999999999")
        .query(&mut raw)
        .unwrap();
    // The edge gone (the same endpoint, restarted without it), a new user's
    // exchange waits for the planted slot half its deadline at most, then goes ahead.
    let port = mock.url.rsplit(':').next().unwrap().to_string();
    drop(mock);
    let mock = common::mock(&["--port", &port]);
    let (result, took) = common::timed(|| admin.impersonate("b@example.com", None).unwrap().token());
    result.unwrap();
    // Half the deadline for the planted slot (on top of the spacing this
    // process learned itself from the throttled answer), well within the 3 s.
    assert!(took >= Duration::from_millis(1_200) && took < Duration::from_millis(2_800), "{took:?}");
    assert!(exchanges(&mock) >= 1);
}

/// A server on loopback that answers every command with the start of a
/// 1000-byte value and then one byte every 100 ms.
fn dripping_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut stream = stream;
                let mut buf = [0u8; 1024];
                if stream.read(&mut buf).unwrap_or(0) == 0 {
                    return;
                }
                let _ = stream.write_all(b"$1000\r\n");
                for _ in 0..1000 {
                    std::thread::sleep(Duration::from_millis(100));
                    if stream.write_all(b"x").is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_store_that_answers_a_byte_at_a_time_or_with_a_huge_value_holds_no_call_past_half_its_deadline() {
    let mock = mock(&[]);
    let port = dripping_server();
    let mut config = common::config(&mock);
    config.set_token_store(&format!("redis://127.0.0.1:{port}/0")).unwrap();
    config.set_timeout(Duration::from_secs(4)).unwrap();
    let (result, took) = common::timed(|| Client::new(config.clone()).token());
    result.unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");

    // A value of 4 MiB planted where a token entry is: a miss, read no further.
    let redis = RedisServer::start(RedisOptions::default());
    let config = store_config(&mock, &redis);
    let first = Client::new(config.clone()).token().unwrap();
    let mut raw = raw(&redis);
    let keys: Vec<String> = redis::cmd("KEYS").arg("sigma-auth:*:token").query(&mut raw).unwrap();
    let _: () = redis::cmd("SETRANGE").arg(&keys[0]).arg(4 << 20).arg("x").query(&mut raw).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let mut watched = config.clone();
    watched.set_event_callback(move |e| seen.lock().unwrap().push(e.kind));
    let (second, took) = common::timed(|| Client::new(watched).token());
    assert_ne!(second.unwrap().access_token(), first.access_token());
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(!events.lock().unwrap().contains(&EventKind::StoreUnavailable), "{:?}", events.lock().unwrap());
    // The new token replaced it.
    let stored: Vec<u8> = redis::cmd("GET").arg(&keys[0]).query(&mut raw).unwrap();
    assert!(stored.len() < 4096);
}

/// Two clients one after the other: the second gets the first's token from
/// the store, at once.
fn second_client_hits(config: &Config) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let first = Client::new(config.clone()).token().unwrap();
    let seen = events.clone();
    let mut watched = config.clone();
    watched.set_event_callback(move |e| seen.lock().unwrap().push((e.kind, e.message.clone())));
    let (second, took) = common::timed(|| Client::new(watched).token());
    assert_eq!(second.unwrap().access_token(), first.access_token());
    assert!(took < Duration::from_millis(500), "{took:?}");
    let events = events.lock().unwrap();
    assert!(events.iter().any(|(kind, _)| *kind == EventKind::StoreHit), "{events:?}");
}

#[test]
fn a_redis_cluster_and_a_redis_without_scripts_share_tokens_too() {
    let mock = mock(&[]);
    let cluster = RedisServer::start(RedisOptions { cluster: true, ..Default::default() });
    second_client_hits(&store_config(&mock, &cluster));
    let args = ["--rename-command", "EVAL", "", "--rename-command", "EVALSHA", ""].map(String::from).to_vec();
    let no_scripts = RedisServer::start(RedisOptions { args, ..Default::default() });
    let config = store_config(&mock, &no_scripts);
    second_client_hits(&config);
    // No lock is left behind, and doctor's check says why pacing is not shared.
    let mut raw = raw(&no_scripts);
    let locks: Vec<String> = redis::cmd("KEYS").arg("sigma-auth:*:lock").query(&mut raw).unwrap();
    assert!(locks.is_empty(), "{locks:?}");
    let probe = sigma_auth::probe_token_store(&config).unwrap();
    assert!(probe.error.as_deref().unwrap_or("").contains("Lua scripts"), "{probe:?}");
}

#[test]
fn connections_the_server_closed_while_idle_are_replaced_without_going_around_the_store() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions { args: vec!["--timeout".into(), "1".into()], ..Default::default() });
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut config = store_config(&mock, &redis);
    let seen = events.clone();
    config.set_event_callback(move |e| seen.lock().unwrap().push((e.kind, e.message.clone())));
    let admin = Client::new(config.clone());
    admin.token().unwrap();
    for round in 0..2 {
        // Several connections in the pool (users acted as at once)...
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let admin = admin.clone();
                std::thread::spawn(move || {
                    admin.impersonate(&format!("busy{round}-{i}@example.com"), None).unwrap().token().unwrap();
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // ... all closed by Redis after a second idle.
        std::thread::sleep(Duration::from_millis(2_500));
        for user in 0..3 {
            admin.impersonate(&format!("idle{round}-{user}@example.com"), None).unwrap().token().unwrap();
        }
    }
    let events = events.lock().unwrap();
    assert!(!events.iter().any(|(kind, _)| *kind == EventKind::StoreUnavailable), "{events:?}");
    // Every user's token was stored.
    let mut raw = raw(&redis);
    let entries: Vec<String> = redis::cmd("KEYS").arg("sigma-auth:*:token").query(&mut raw).unwrap();
    assert_eq!(entries.len(), 1 + 2 * (8 + 3), "{entries:?}");
}

#[test]
fn an_error_in_one_command_of_a_pipeline_leaves_the_connection_in_step() {
    // A user whose ACL lacks GETRANGE: every read of an entry fails with
    // NOPERM in the first of its two pipelined commands.
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    let mut raw = raw(&redis);
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("app")
        .arg("on")
        .arg(">app-pass")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-getrange")
        .query(&mut raw)
        .unwrap();
    Client::new(store_config(&mock, &redis)).token().unwrap();
    let mut config = common::config(&mock);
    config.set_token_store(&format!("redis://app:app-pass@127.0.0.1:{}/0", redis.port)).unwrap();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let seen = messages.clone();
    config.set_event_callback(move |e| {
        if e.kind == EventKind::StoreUnavailable {
            seen.lock().unwrap().push(e.message.clone().unwrap_or_default());
        }
    });
    let admin = Client::new(config);
    for user in 0..3 {
        let (result, took) = common::timed(|| admin.impersonate(&format!("u{user}@example.com"), None)?.token());
        result.unwrap();
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
    // Each failure is the server's NOPERM, never a reply meant for another command.
    let messages = messages.lock().unwrap();
    assert!(!messages.is_empty());
    for message in messages.iter() {
        assert!(message.contains("NOPERM"), "{messages:?}");
    }
}

#[test]
fn configs_made_over_and_over_share_one_set_of_connections() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions { tls: true, ..Default::default() });
    for _ in 0..40 {
        let mut config = store_config(&mock, &redis);
        config.set_ca_file(redis.ca_file()).unwrap();
        Client::new(config).token().unwrap();
    }
    let mut raw = raw(&redis);
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut raw).unwrap();
    // Ours (at most 4 idle) and this one.
    assert!(clients.lines().count() <= 6, "{clients}");
}

#[test]
fn a_store_named_by_a_host_name_is_looked_up_and_shared() {
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    let mut config = common::config(&mock);
    config.set_token_store(&format!("redis://localhost:{}/0", redis.port)).unwrap();
    second_client_hits(&config);
}
