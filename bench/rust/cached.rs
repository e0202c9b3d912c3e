//! Cached token access through the Rust API, 1 to 64 threads. Prints one JSON
//! line per thread count. Timing only.
//!
//!     cargo bench --bench cached                                (starts a mock of its own)
//!     cargo bench --bench cached -- <mock url> [calls per thread]  (bench/run.sh)

use std::time::Instant;

use sigma_mock::harness::MockServer;

fn main() {
    // cargo passes `--bench`, and a plain `cargo bench FILTER` its filter: only
    // an argument that is a URL names the mock.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (url, _mock) = match args.first().filter(|a| a.contains("://")) {
        Some(url) => (url.clone(), None),
        // A plain `cargo bench`: a mock of our own, stopped when `_mock` drops.
        None => {
            let mock = MockServer::start(&[]);
            (mock.url.clone(), Some(mock))
        }
    };
    let calls: u64 = args.get(1).map_or(1_000_000, |c| c.parse().expect("calls per thread must be a number"));
    let config = sigma_auth::Config::new(&url, "demo-client", "demo-secret").expect("config");
    let client = sigma_auth::Client::new(config);
    client.token().expect("first token");
    for threads in [1u64, 2, 8, 64] {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..calls {
                        std::hint::black_box(client.token().expect("token"));
                    }
                });
            }
        });
        let elapsed = start.elapsed().as_nanos() as f64;
        println!(
            "{{\"suite\":\"cached\",\"lang\":\"rust\",\"threads\":{threads},\"calls\":{},\"ns_per_call\":{:.1},\"calls_per_sec\":{:.0}}}",
            calls * threads,
            elapsed / calls as f64,
            (calls * threads) as f64 / (elapsed / 1e9)
        );
    }
}
