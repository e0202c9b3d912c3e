//! A client used on both sides of fork(), as gunicorn --preload, Celery prefork
//! and multiprocessing do: the child gets fresh locks, nothing in flight, its
//! own connections, and never the parent's refresh token.
//!
//! Fork tests take FORKING in turn, so no two fork at once in this binary.

mod common;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{config, mock, wait_for_requests};
use sigma_auth::{Client, ErrorCode};

static FORKING: Mutex<()> = Mutex::new(());

/// Runs `child` in a forked child that is killed by SIGALRM after `seconds`;
/// returns its exit code, or 128 + the signal that ended it.
fn in_child(seconds: u32, child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs only `child` and then _exit()s; see the callers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain system calls in the child.
        unsafe { libc::alarm(seconds) };
        let code = std::panic::catch_unwind(AssertUnwindSafe(child)).unwrap_or(99);
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just made.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

#[test]
fn a_child_forked_during_a_foreground_request_gets_its_own_token() {
    let _turn = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&[]);
    mock.faults(r#"[{"kind":"delay","ms":2000}]"#);
    let client = Client::new(config(&mock));
    let parent = {
        let client = client.clone();
        std::thread::spawn(move || client.token().map(|t| t.access_token().to_string()))
    };
    wait_for_requests(&mock, 1);
    let code = in_child(8, || match client.token() {
        Ok(token) if token.access_token().starts_with("mock_at_") => 0,
        Ok(_) => 2,
        Err(e) if e.code() == ErrorCode::Timeout => 3,
        Err(_) => 4,
    });
    assert_eq!(code, 0, "the child waited on the parent's request in flight, or failed");
    assert!(parent.join().unwrap().is_ok(), "the parent's own request still completes");
    assert_eq!(mock.grants("client_credentials"), 2);
}

#[test]
fn a_child_forked_during_a_background_refresh_keeps_the_token_and_refreshes_on_its_own() {
    let _turn = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    // 2 s tokens: due from about 0.9 s, usable until 1.8 s.
    let mock = mock(&["--expires-in", "2"]);
    let client = Client::new(config(&mock));
    let inherited = client.token().unwrap().access_token().to_string();
    std::thread::sleep(Duration::from_millis(1100));
    mock.faults(r#"[{"kind":"delay","ms":4000}]"#);
    assert_eq!(client.token().unwrap().access_token(), inherited, "due, still usable: starts the refresh");
    wait_for_requests(&mock, 2);
    let code = in_child(8, || {
        // Right after the fork the inherited token is still served...
        if client.token().map(|t| t.access_token() == inherited) != Ok(true) {
            return 2;
        }
        // ... and once it is no longer usable the child has a new one of its own,
        // although the parent's refresh is still held by the mock. (Not so long
        // that the new one is due: the child would exit mid-refresh.)
        std::thread::sleep(Duration::from_millis(750));
        match client.token() {
            Ok(token) if token.access_token() != inherited => 0,
            Ok(_) => 3,
            Err(_) => 4,
        }
    });
    assert_eq!(code, 0);
    let stats = mock.stats();
    // The child's first fetch used client credentials, not the parent's refresh
    // token (which the parent was spending): no refresh was refused.
    assert_eq!(stats["by_grant"]["client_credentials"], 2, "{stats}");
    assert_eq!(stats["by_status"].as_object().unwrap().len(), 1, "only 200s: {stats}");
}

#[test]
fn children_forked_while_threads_hold_the_clients_locks_never_hang() {
    let _turn = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    client.token().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|i| {
            let (client, stop) = (client.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(token) = client.token() {
                        if i % 2 == 0 {
                            client.invalidate(token.access_token());
                        }
                    }
                }
            })
        })
        .collect();
    let mut codes = Vec::new();
    for _ in 0..40 {
        codes.push(in_child(8, || match client.token() {
            Ok(_) => 0,
            Err(_) => 2,
        }));
    }
    stop.store(true, Ordering::Relaxed);
    workers.into_iter().for_each(|w| w.join().unwrap());
    assert!(codes.iter().all(|c| *c == 0), "exit codes (142 = hung until the alarm): {codes:?}");
}

#[test]
fn a_child_does_not_reuse_the_parents_pooled_connection() {
    let _turn = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let first = client.token().unwrap().access_token().to_string();
    // Parent and child each fetch twice on what would be one shared keep-alive
    // socket; every answer must be a well-formed token for the right request.
    let code = in_child(8, || {
        for _ in 0..20 {
            client.invalidate(&client.token().map(|t| t.access_token().to_string()).unwrap_or_default());
            if client.token().is_err() {
                return 2;
            }
        }
        0
    });
    for _ in 0..20 {
        client.invalidate(client.token().unwrap().access_token());
        client.token().unwrap();
    }
    assert_eq!(code, 0);
    assert_ne!(client.token().unwrap().access_token(), first);
    let stats = mock.stats();
    let bad = stats["by_status"].as_object().unwrap().keys().filter(|k| *k != "200").count();
    assert_eq!(bad, 0, "the mock saw requests it could not parse: {stats}");
}

#[test]
fn the_lock_free_check_carries_nothing_stale_across_fork() {
    let _turn = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&[]);
    let client = Client::new(config(&mock));
    let kept = client.token().unwrap();
    let dropped = {
        let spare = Client::new(config(&mock));
        let token = spare.token().unwrap();
        spare.invalidate(token.access_token());
        (spare, token.serial())
    };
    let code = in_child(8, || {
        // The inherited token is still current; the one invalidated before the fork is not.
        if !client.is_current(kept.serial()) || dropped.0.is_current(dropped.1) {
            return 1;
        }
        // The child's invalidation and new token are its own.
        client.invalidate(kept.access_token());
        if client.is_current(kept.serial()) {
            return 2;
        }
        match client.token() {
            Ok(token) if token.serial() != kept.serial() && client.is_current(token.serial()) => 0,
            _ => 3,
        }
    });
    assert_eq!(code, 0);
    assert!(client.is_current(kept.serial()), "the parent's token is untouched by its child");
    assert_eq!(client.serial_word().load(std::sync::atomic::Ordering::Acquire), kept.serial());
}

#[test]
fn a_child_keeps_the_users_its_parent_acted_as_and_never_hangs_deriving_more() {
    let _turn = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&[]);
    let admin = Client::new(config(&mock));
    let serial = admin.impersonate("viewer@example.com", None).unwrap().token().unwrap().serial();
    let code = in_child(8, || match admin.impersonate("viewer@example.com", None).map(|v| v.token()) {
        Ok(Ok(token)) if token.serial() == serial => 0,
        Ok(Ok(_)) => 2,
        _ => 3,
    });
    assert_eq!(code, 0, "the child made a new exchange for a user its parent already had a token for");
    assert_eq!(mock.grants("urn:ietf:params:oauth:grant-type:token-exchange"), 1);

    // Threads deriving (and dropping) clients for users while the main thread forks.
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (admin, stop) = (admin.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let _ = admin.impersonate(&format!("user{i}-{}@example.com", n % 100), None);
                    n += 1;
                }
            })
        })
        .collect();
    let mut codes = Vec::new();
    for _ in 0..30 {
        codes.push(in_child(8, || match admin.impersonate("other@example.com", None).map(|v| v.token()) {
            Ok(Ok(_)) => 0,
            _ => 2,
        }));
    }
    stop.store(true, Ordering::Relaxed);
    workers.into_iter().for_each(|w| w.join().unwrap());
    assert!(codes.iter().all(|c| *c == 0), "exit codes (142 = hung until the alarm): {codes:?}");
}

/// Sets DROPPED when dropped: lets a child see whether it dropped its parent's state.
struct Sentinel;
static DROPPED: AtomicBool = AtomicBool::new(false);
impl Drop for Sentinel {
    fn drop(&mut self) {
        DROPPED.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_child_that_frees_an_admin_client_first_thing_never_drops_its_parents_users() {
    let _turn = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&[]);
    let mut config = config(&mock);
    let sentinel = Sentinel;
    config.set_event_callback(move |_| {
        let _ = &sentinel;
    });
    let admin = Client::new(config);
    admin.impersonate("viewer@example.com", None).unwrap().token().unwrap();
    // In the child the admin's last client goes first: its users map (and
    // through it the user's state, the admin's state and the config) was
    // made by the parent, where a thread may have been changing it.
    let code = in_child(8, move || {
        drop(admin);
        if DROPPED.load(Ordering::SeqCst) {
            2
        } else {
            0
        }
    });
    assert_eq!(code, 0, "the child dropped state its parent made");
}

#[test]
fn children_forked_while_threads_use_the_token_store_use_connections_of_their_own() {
    use sigma_auth::EventKind;
    use sigma_mock::redis_server::{RedisOptions, RedisServer};
    let _forking = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&[]);
    let redis = RedisServer::start(RedisOptions::default());
    let mut config = config(&mock);
    config.set_token_store(&redis.url()).unwrap();
    let unavailable = Arc::new(Mutex::new(Vec::new()));
    let seen = unavailable.clone();
    config.set_event_callback(move |e| {
        if e.kind == EventKind::StoreUnavailable {
            seen.lock().unwrap().push(e.message.clone());
        }
    });
    let admin = Client::new(config.clone());
    let token = admin.token().unwrap();
    // Threads keep store commands in flight (each user a store miss, a lock,
    // an exchange and a write) while the main thread forks.
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let (admin, stop) = (admin.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    admin.impersonate(&format!("t{t}-{n}@example.com"), None).unwrap().token().unwrap();
                    n += 1;
                }
            })
        })
        .collect();
    for round in 0..8 {
        std::thread::sleep(Duration::from_millis(15));
        let config = config.clone();
        let expected = token.access_token().to_string();
        let code = in_child(10, move || {
            // A new client in the child: the admin token from the store, and a
            // user's token made and stored, over the child's own connection.
            let client = Client::new(config);
            let ok = client.token().is_ok_and(|t| t.access_token() == expected)
                && client.impersonate(&format!("child{round}@example.com"), None).unwrap().token().is_ok();
            i32::from(!ok)
        });
        assert_eq!(code, 0, "child {round}");
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    // The parent's connections are still in step: more reads and writes, no failure.
    for round in 0..8 {
        let user = admin.impersonate(&format!("child{round}@example.com"), None).unwrap();
        user.token().unwrap();
    }
    assert_eq!(mock.grants("client_credentials"), 1);
    assert!(unavailable.lock().unwrap().is_empty(), "{:?}", unavailable.lock().unwrap());
}
