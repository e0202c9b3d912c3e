//! The "still current?" check without a lock (`Client::is_current`, the serial
//! word and `fresh_until` that bindings use): behaviour only, timing lives in
//! `make bench`. After an invalidation the next check in every thread says no;
//! after a background refresh the next check sees the new serial; no fast path
//! ever vouches for a token past its end of use; a fork carries nothing stale.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{config, mock};
use sigma_auth::{monotonic_ns, Client};

#[test]
fn after_an_invalidation_the_next_check_in_every_thread_says_no() {
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let token = client.token().unwrap();
    let word = client.serial_word();
    assert_eq!(word.load(Ordering::Acquire), token.serial());
    let threads = 8;
    let invalidated = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (client, invalidated) = (client.clone(), invalidated.clone());
            let serial = token.serial();
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while checks < 10_000 {
                    assert!(client.is_current(serial), "current before the invalidation");
                    checks += 1;
                }
                invalidated.wait(); // the invalidation happened before this returns
                client.is_current(serial)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    client.invalidate(token.access_token());
    invalidated.wait();
    for worker in workers {
        assert!(!worker.join().unwrap(), "a check after the invalidation said yes");
    }
    assert_eq!(word.load(Ordering::Acquire), 0);
    assert_eq!(client.fresh_until(token.serial()), 0);
    let next = client.token().unwrap();
    assert_ne!(next.serial(), token.serial());
    assert!(client.is_current(next.serial()) && !client.is_current(token.serial()));
    assert_eq!(word.load(Ordering::Acquire), next.serial());
}

#[test]
fn after_a_background_refresh_the_next_check_sees_the_new_serial() {
    let mock = mock(&["--expires-in", "4"]);
    let mut config = config(&mock);
    config.set_refresh_margin(Duration::from_secs(3)).unwrap();
    let client = Client::new(config);
    let first = client.token().unwrap();
    let until = client.fresh_until(first.serial());
    let now = monotonic_ns();
    assert!(until > now && until <= now + 4_000_000_000, "fresh until the refresh is due");
    let started = Instant::now();
    while client.is_current(first.serial()) {
        assert!(started.elapsed() < Duration::from_secs(4), "the refresh never replaced the token");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Replaced (not expired): the word holds the new serial, which checks out.
    // (The refresh stores the token, then publishes its word: a reader in
    // between sees "not current" and asks the library, which has the new one.)
    let second = client.token().unwrap();
    assert!(second.serial() > first.serial());
    let published = Instant::now();
    while client.serial_word().load(Ordering::Acquire) != second.serial() {
        assert!(published.elapsed() < Duration::from_secs(1), "the new serial was never published");
        std::thread::yield_now();
    }
    assert!(client.is_current(second.serial()));
    assert!(client.stats().background_refreshes >= 1);
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn no_fast_path_vouches_for_a_token_past_its_end_of_use() {
    // A 2 s token whose refreshes all fail: it must stop being "current" before
    // it expires, however often it is checked.
    let mock = mock(&["--expires-in", "2"]);
    let mut config = config(&mock);
    config.set_max_attempts(1).unwrap();
    let client = Client::new(config);
    let token = client.token().unwrap();
    let obtained = Instant::now();
    mock.faults(&format!("[{}]", vec![r#"{"kind":"status","status":503}"#; 200].join(",")));
    let mut last_yes = None;
    let mut bound_seen = 0u64;
    while obtained.elapsed() < Duration::from_secs(3) {
        let now = Instant::now();
        if client.is_current(token.serial()) {
            last_yes = Some(now);
        }
        let until = client.fresh_until(token.serial());
        bound_seen = bound_seen.max(until);
    }
    let last_yes = last_yes.expect("current at first");
    // The library keeps a safety margin of a tenth of a short lifetime (0.2 s).
    assert!(last_yes.duration_since(obtained) < Duration::from_millis(2000), "vouched for an expired token");
    assert!(!client.is_current(token.serial()));
    let expiry_ns = monotonic_ns() - obtained.elapsed().as_nanos() as u64 + 2_000_000_000;
    assert!(bound_seen > 0 && bound_seen < expiry_ns, "fresh_until past the expiry");
}

#[test]
fn the_word_of_a_dropped_client_never_shows_its_serial_again() {
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let serial = client.token().unwrap().serial();
    let word = client.serial_word();
    drop(client);
    assert_eq!(word.load(Ordering::Acquire), 0);
    // Another client may get the same word; its serials are its own.
    let other = Client::new(config(&mock));
    let other_serial = other.token().unwrap().serial();
    assert_ne!(other_serial, serial);
    assert_ne!(word.load(Ordering::Acquire), serial);
}
