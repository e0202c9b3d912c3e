//! The client under load: many callers over many refresh windows, many clients
//! due at once. Each test here loads the machine (or the process's shared
//! refresher threads) on purpose, so they run alone: in this binary, in turn.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{config, mock, MockServer};
use sigma_auth::Client;

static ALONE: Mutex<()> = Mutex::new(());

/// Runs `threads` callers of `token()` for `run`, then returns the gaps between
/// consecutive token requests the mock received.
fn request_gaps(mock: &MockServer, threads: usize, run: Duration) -> Vec<u64> {
    let client = Client::new(config(mock));
    let until = Instant::now() + run;
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while Instant::now() < until {
                    client.token().expect("every call gets a token");
                }
            });
        }
    });
    let times: Vec<u64> = mock.stats()["recent_token_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["at_ms"].as_u64().unwrap())
        .collect();
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn exactly_one_request_per_refresh_window_whatever_the_number_of_callers() {
    let _turn = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    // 2 s tokens: each is due 0.9 to 1.0 s after it was requested and usable for
    // 0.8 s more, so consecutive requests are 0.9 s apart or more (less the
    // time a starved requester waits between starting a request and the mock
    // seeing it), while two refreshes in one window come milliseconds apart.
    for threads in [1, 2, 16, 64] {
        let mock = mock(&["--expires-in", "2"]);
        let gaps = request_gaps(&mock, threads, Duration::from_millis(3500));
        assert!(gaps.len() >= 3, "{threads} threads: only {} refreshes in 3.5 s", gaps.len());
        assert!(gaps.iter().all(|gap| *gap >= 500), "{threads} threads: two requests in one window: {gaps:?}");
        assert_eq!(mock.grants("client_credentials"), 1, "{threads} threads: every later token was a refresh");
    }
}

fn refresher_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("sigma-auth-refr"))
        .count()
}

#[test]
fn background_refreshes_share_a_few_threads_however_many_clients_are_due() {
    let _turn = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let mock = mock(&["--expires-in", "2"]);
    let clients: Vec<Client> = (0..100).map(|_| Client::new(config(&mock))).collect();
    for client in &clients {
        client.token().unwrap();
    }
    std::thread::sleep(Duration::from_millis(1050));
    let slow: Vec<String> = (0..100).map(|_| r#"{"kind":"delay","ms":40}"#.to_string()).collect();
    mock.faults(&format!("[{}]", slow.join(",")));
    for client in &clients {
        client.token().unwrap(); // due: queues a background refresh and returns at once
    }
    let mut most = 0;
    let started = Instant::now();
    while mock.token_requests() < 200 {
        most = most.max(refresher_threads());
        assert!(started.elapsed() < Duration::from_secs(10), "the queued refreshes did not all run");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!((1..=4).contains(&most), "{most} refresher threads for 100 due clients");
    assert_eq!(mock.grants("refresh_token"), 100, "every due client was refreshed once");
}
