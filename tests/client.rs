//! The cached client: single-flight, background refresh, rotation, fallback,
//! invalidation.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{config, mock};
use sigma_auth::{Client, Config, ErrorCode};

fn burst(client: &Client, threads: usize) -> Vec<String> {
    let barrier = Arc::new(Barrier::new(threads));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    client.token().expect("token").access_token().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn sixty_four_threads_on_a_cold_client_cause_one_request() {
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":300}]"#);
    let client = Client::new(config(&mock));
    let tokens = burst(&client, 64);
    assert!(tokens.iter().all(|t| *t == tokens[0]), "everyone shares the one token");
    assert_eq!(mock.token_requests(), 1);
    assert_eq!(mock.stats()["max_concurrent_token_requests"], 1);
}

#[test]
fn after_expiry_sixty_four_threads_cause_one_refresh() {
    let mock = mock(&["--expires-in", "1"]);
    let client = Client::new(config(&mock));
    let first = client.token().unwrap().access_token().to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let tokens = burst(&client, 64);
    assert!(tokens.iter().all(|t| *t == tokens[0] && *t != first));
    assert_eq!(mock.grants("client_credentials"), 1);
    assert_eq!(mock.grants("refresh_token"), 1, "the refresh grant is used first");
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn a_cached_token_is_returned_without_any_request() {
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let first = client.token().unwrap();
    for _ in 0..1000 {
        assert_eq!(client.token().unwrap().access_token(), first.access_token());
    }
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn no_caller_waits_on_the_network_during_a_background_refresh() {
    // 6 s tokens: the refresh window opens 3 s before expiry (half the
    // lifetime, up to 10% earlier); the token stays usable until 0.6 s before
    // expiry, so the 1.5 s refresh started at 3.1 s lands while it is usable.
    let mock = mock(&["--expires-in", "6"]);
    let client = Client::new(config(&mock));
    let first = client.token().unwrap().access_token().to_string();
    mock.faults(r#"[{"kind":"delay","ms":1500}]"#);
    std::thread::sleep(Duration::from_millis(3100));

    let deadline = Instant::now() + Duration::from_millis(2000);
    let (longest, saw_new) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut longest = Duration::ZERO;
                    let mut saw_new = false;
                    while Instant::now() < deadline {
                        let started = Instant::now();
                        let token = client.token().unwrap();
                        longest = longest.max(started.elapsed());
                        saw_new |= token.access_token() != first;
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    (longest, saw_new)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).fold((Duration::ZERO, false), |a, b| (a.0.max(b.0), a.1 | b.1))
    });
    assert!(longest < Duration::from_millis(100), "a caller waited {longest:?} while a usable token existed");
    assert!(saw_new, "the background refresh delivered a new token");
    assert_eq!(mock.grants("refresh_token"), 1, "exactly one background refresh");
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn rotated_refresh_tokens_are_kept_so_every_refresh_succeeds() {
    let mock = mock(&["--expires-in", "1"]);
    let client = Client::new(config(&mock));
    for _ in 0..3 {
        client.token().unwrap();
        std::thread::sleep(Duration::from_millis(1050));
    }
    client.token().unwrap();
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["client_credentials"], 1, "{stats}");
    assert_eq!(stats["by_grant"]["refresh_token"], 3, "{stats}");
    assert_eq!(stats["by_status"]["401"], serde_json::Value::Null, "no refresh token was used twice: {stats}");
}

#[test]
fn an_expired_refresh_token_falls_back_to_client_credentials_once() {
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let first = client.token().unwrap().access_token().to_string();
    mock.expire(true);
    client.invalidate(&first);
    let second = client.token().unwrap();
    assert_ne!(second.access_token(), first);
    let stats = mock.stats();
    assert_eq!(stats["by_grant"]["refresh_token"], 1);
    assert_eq!(stats["by_grant"]["client_credentials"], 2);
    assert_eq!(stats["by_status"]["401"], 1);
}

#[test]
fn invalidate_drops_only_the_rejected_token_so_a_burst_of_401s_causes_one_fetch() {
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let rejected = client.token().unwrap().access_token().to_string();
    client.invalidate("some-other-token");
    assert_eq!(client.token().unwrap().access_token(), rejected, "a stale invalidate is ignored");

    let barrier = Arc::new(Barrier::new(32));
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let barrier = barrier.clone();
                let (client, rejected) = (&client, &rejected);
                s.spawn(move || {
                    barrier.wait();
                    client.invalidate(rejected);
                    client.token().unwrap().access_token().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(tokens.iter().all(|t| *t == tokens[0] && *t != rejected));
    assert_eq!(mock.token_requests(), 2, "one fetch for the whole burst");
}

#[test]
fn concurrent_callers_share_one_failure() {
    let mock = mock(&[]);
    let client = Client::new(Config::new(&mock.url, "demo-client", "wrong").unwrap());
    let barrier = Arc::new(Barrier::new(16));
    let codes: Vec<ErrorCode> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let barrier = barrier.clone();
                let client = &client;
                s.spawn(move || {
                    barrier.wait();
                    client.token().unwrap_err().code()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(codes.iter().all(|c| *c == ErrorCode::InvalidClient));
    assert!(mock.token_requests() <= 2, "callers arriving together share a request: {}", mock.token_requests());
}

#[test]
fn a_failed_background_refresh_keeps_the_old_token_and_backs_off() {
    // 8 s tokens: refresh window from about 4 s, usable until 7.2 s.
    let mock = mock(&["--expires-in", "8"]);
    let mut config = config(&mock);
    config.set_max_attempts(1).unwrap();
    let client = Client::new(config);
    let started = Instant::now();
    let first = client.token().unwrap().access_token().to_string();
    mock.faults(r#"[{"kind":"status","status":503},{"kind":"status","status":503}]"#);

    std::thread::sleep(Duration::from_millis(4100));
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        assert_eq!(client.token().unwrap().access_token(), first, "the old token is still served");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(mock.token_requests(), 2, "one failed refresh, then a 2 s backoff, not a request per call");

    // Past the backoff, still inside the old token's life: one more attempt.
    std::thread::sleep(Duration::from_millis(6800).saturating_sub(started.elapsed()));
    assert_eq!(client.token().unwrap().access_token(), first);
    let retry_by = Instant::now() + Duration::from_millis(400);
    while mock.token_requests() < 3 && Instant::now() < retry_by {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(mock.token_requests(), 3, "{}", mock.stats());

    // Once the old token is no longer usable the caller fetches in the foreground.
    std::thread::sleep(Duration::from_millis(7400).saturating_sub(started.elapsed()));
    assert_ne!(client.token().unwrap().access_token(), first);
    assert_eq!(mock.token_requests(), 4);
}

#[test]
fn a_client_survives_its_config_and_clones_share_the_cache() {
    let mock = mock(&[]);
    let client = {
        let config = config(&mock);
        Client::new(config)
    };
    let clone = client.clone();
    let a = client.token().unwrap();
    let b = clone.token().unwrap();
    assert_eq!(a.access_token(), b.access_token());
    assert_eq!(mock.token_requests(), 1);
    assert!(!format!("{client:?}").contains("demo-secret"));
}

#[test]
fn is_current_recognises_the_held_token_without_any_request() {
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let held = client.token().unwrap();
    assert!(client.is_current(held.serial()));
    assert!(client.is_current(client.token().unwrap().serial()));
    client.invalidate(held.access_token());
    assert!(!client.is_current(held.serial()), "an invalidated token is not current");
    let fresh = client.token().unwrap();
    assert!(!client.is_current(held.serial()) && client.is_current(fresh.serial()));
    let stranger = Client::new(config(&mock)).token().unwrap();
    assert!(!client.is_current(stranger.serial()), "another client's token is not this one's");
    assert_eq!(mock.token_requests(), 3);
}

#[test]
fn a_refused_refresh_and_its_fallback_share_one_deadline() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    config.set_timeout(Duration::from_secs(4)).unwrap();
    config.set_max_attempts(1).unwrap();
    let client = Client::new(config);
    let first = client.token().unwrap();
    mock.expire(true); // the refresh token is now refused
    mock.faults(r#"[{"kind":"delay","ms":2500},{"kind":"delay","ms":2500}]"#);
    client.invalidate(first.access_token());
    let started = Instant::now();
    let error = client.token().unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.code(), ErrorCode::Timeout, "{error}");
    assert!(took < Duration::from_millis(4700), "a 4 s deadline took {took:?}");
    assert_eq!((mock.grants("refresh_token"), mock.grants("client_credentials")), (1, 2));
}
