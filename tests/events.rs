//! Events and counters: what a program sees of the library's work, in order,
//! never with a secret or token, and a callback that calls back in.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{config, mock, MockServer};
use sigma_auth::{Client, Config, Event, EventKind};

fn recorded(config: &mut Config) -> Arc<Mutex<Vec<Event>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    config.set_event_callback(move |event| sink.lock().unwrap().push(event.clone()));
    seen
}

fn kinds(seen: &Mutex<Vec<Event>>) -> Vec<EventKind> {
    seen.lock().unwrap().iter().map(|e| e.kind).collect()
}

#[test]
fn a_first_token_then_a_cached_one() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    let seen = recorded(&mut config);
    let client = Client::new(config);
    let token = client.token().unwrap();
    client.token().unwrap();
    assert_eq!(kinds(&seen), [EventKind::RefreshStarted, EventKind::TokenObtained]);
    let obtained = seen.lock().unwrap()[1].clone();
    assert_eq!(
        (obtained.grant, obtained.serial, obtained.background),
        (Some("client_credentials"), Some(token.serial()), false)
    );
    assert_eq!(obtained.expires_in, Some(Duration::from_secs(3600)));
    assert!(obtained.duration.is_some_and(|d| d < Duration::from_secs(5)));
    let stats = client.stats();
    assert_eq!((stats.tokens_served, stats.client_credentials_ok), (2, 1));
    assert!(stats.last_success_unix_ms > 0 && stats.last_failure_unix_ms == 0);
}

#[test]
fn retries_fallback_failure_and_invalidation_in_order() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    config.set_max_attempts(2).unwrap();
    let seen = recorded(&mut config);
    let client = Client::new(config);
    let first = client.token().unwrap();
    mock.faults(r#"[{"kind":"status","status":503}]"#);
    mock.expire(true); // the refresh token is refused next: fallback
    client.invalidate(first.access_token());
    client.token().unwrap();
    mock.faults(r#"[{"kind":"status","status":401,"message":"bad"},{"kind":"status","status":401,"message":"bad"}]"#);
    client.invalidate(client.token().unwrap().access_token());
    assert!(client.token().is_err());
    let kinds = kinds(&seen);
    use EventKind::*;
    assert_eq!(
        kinds,
        [
            RefreshStarted,
            TokenObtained, // first
            Invalidated,
            RefreshStarted,
            RetryScheduled,
            FallbackToClientCredentials,
            TokenObtained, // 503, refused refresh, cc
            Invalidated,
            RefreshStarted,
            FallbackToClientCredentials,
            RefreshFailed, // 401 refresh, 401 cc
        ]
    );
    let events = seen.lock().unwrap();
    let retry = events.iter().find(|e| e.kind == RetryScheduled).unwrap();
    assert_eq!((retry.http_status, retry.attempt, retry.grant), (Some(503), 1, Some("refresh_token")));
    assert!(retry.wait.is_some() && retry.request_id.is_some());
    let failed = events.iter().find(|e| e.kind == RefreshFailed).unwrap();
    assert_eq!(failed.status, Some(sigma_auth::ErrorCode::InvalidClient));
    let stats = client.stats();
    assert_eq!((stats.retries, stats.invalidations, stats.client_credentials_failed), (1, 2, 1));
    assert_eq!((stats.refresh_token_ok, stats.refresh_token_failed), (0, 2));
}

#[test]
fn cache_hits_and_bypasses_are_events() {
    let mock = mock(&[]);
    let dir = std::env::temp_dir().join(format!("sigma-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = config(&mock);
    config.set_token_cache(&dir).unwrap();
    Client::new(config.clone()).token().unwrap();
    let seen = recorded(&mut config);
    let client = Client::new(config);
    client.token().unwrap();
    assert_eq!(kinds(&seen), [EventKind::RefreshStarted, EventKind::CacheHit, EventKind::TokenObtained]);
    assert_eq!(seen.lock().unwrap()[2].grant, None, "from the cache, not from a grant");
    assert_eq!(client.stats().cache_hits, 1);
    std::fs::remove_dir_all(&dir).unwrap();
    let mut open = common::config(&mock);
    let shared_dir = std::env::temp_dir().join(format!("sigma-events-open-{}", std::process::id()));
    std::fs::create_dir_all(&shared_dir).unwrap();
    // A directory others can write is never used.
    std::fs::set_permissions(&shared_dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    open.set_token_cache(&shared_dir).unwrap();
    let seen = recorded(&mut open);
    Client::new(open).token().unwrap();
    let bypass = seen.lock().unwrap().iter().find(|e| e.kind == EventKind::CacheBypassed).cloned().unwrap();
    assert!(bypass.message.unwrap().contains("has mode 777: others can reach it"));
    std::fs::remove_dir_all(&shared_dir).unwrap();
}

#[test]
fn a_callback_may_call_the_library_even_for_the_same_client() {
    let mock = mock(&[]);
    let mut config = config(&mock);
    let client_slot: Arc<Mutex<Option<Client>>> = Arc::new(Mutex::new(None));
    let inner = client_slot.clone();
    let served_in_callback = Arc::new(Mutex::new(Vec::new()));
    let record = served_in_callback.clone();
    config.set_event_callback(move |event| {
        if event.kind == EventKind::TokenObtained {
            let client = inner.lock().unwrap().clone().unwrap();
            let token = client.token().expect("the callback gets the token just obtained");
            record.lock().unwrap().push(token.serial());
        }
    });
    let client = Client::new(config);
    *client_slot.lock().unwrap() = Some(client.clone());
    let token = std::thread::scope(|s| s.spawn(|| client.token().unwrap()).join().unwrap());
    assert_eq!(*served_in_callback.lock().unwrap(), [token.serial()]);
    client_slot.lock().unwrap().take();
}

#[test]
fn a_callback_that_retries_on_every_failure_loops_instead_of_recursing() {
    // With a wrong secret, each retry fails and sends another REFRESH_FAILED:
    // those are delivered inside the callback only up to 8 deep, then after
    // the outermost returns, so the stack stays bounded however long it goes
    // on (it overflowed at ~2,000 deep).
    let mock = MockServer::start(&[]);
    let mut config = Config::new(&mock.url, "demo-client", "wrong-secret").unwrap();
    config.set_max_attempts(1).unwrap();
    let slot: Arc<Mutex<Option<Client>>> = Arc::new(Mutex::new(None));
    let (inner, depth, deepest, retries) =
        (slot.clone(), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (d, dd, r) = (depth.clone(), deepest.clone(), retries.clone());
    config.set_event_callback(move |event| {
        if event.kind != EventKind::RefreshFailed || r.fetch_add(1, Ordering::SeqCst) >= 3000 {
            return;
        }
        let now = d.fetch_add(1, Ordering::SeqCst) + 1;
        dd.fetch_max(now, Ordering::SeqCst);
        let client = inner.lock().unwrap().clone().unwrap();
        assert!(client.token().is_err());
        d.fetch_sub(1, Ordering::SeqCst);
    });
    let client = Client::new(config);
    *slot.lock().unwrap() = Some(client.clone());
    assert!(client.token().is_err());
    assert_eq!(retries.load(Ordering::SeqCst), 3001);
    assert_eq!(deepest.load(Ordering::SeqCst), 8, "nested in place, 8 deep at most");
    // And the refused secret was offered to Sigma once: the 3,000 retries that
    // followed within seconds got the remembered refusal (oauth/refused.rs).
    assert_eq!(mock.token_requests(), 1);
    slot.lock().unwrap().take();
}

#[test]
fn no_event_carries_a_secret_or_a_token() {
    let mock = MockServer::start(&["--client-id", "cid1", "--client-secret", "S3CRET-VALUE-42x"]);
    let mut config = Config::new(&mock.url, "cid1", "S3CRET-VALUE-42x").unwrap();
    config.set_max_attempts(2).unwrap();
    let seen = recorded(&mut config);
    let client = Client::new(config);
    let token = client.token().unwrap();
    mock.faults(r#"[{"kind":"echo","status":503,"field":"message","what":"body"},{"kind":"echo","field":"message","what":"secret"}]"#);
    client.invalidate(token.access_token());
    let _ = client.token();
    let text = format!("{:?}", seen.lock().unwrap());
    for hidden in ["S3CRET-VALUE-42x", token.access_token(), token.refresh_token().unwrap()] {
        assert!(!text.contains(hidden), "{text}");
    }
    assert!(text.contains("RetryScheduled") && text.contains("[redacted]"), "{text}");
}
