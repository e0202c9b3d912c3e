//! A client's counters: what it served and requested, cheap to update from
//! any thread.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Counters since a client was created. Cheap to update from any thread;
/// `tokens served` is sharded so that many threads taking cached tokens do not
/// contend on one cache line.
#[derive(Default)]
pub(crate) struct Counters {
    served: Sharded,
    requests: [AtomicU64; 6],
    background_refreshes: AtomicU64,
    retries: AtomicU64,
    cache_hits: AtomicU64,
    invalidations: AtomicU64,
    last_success_ms: AtomicI64,
    last_failure_ms: AtomicI64,
}

/// A snapshot of a client's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls that returned a token (`token()`, and its C and binding forms).
    pub tokens_served: u64,
    /// Client-credentials requests that succeeded.
    pub client_credentials_ok: u64,
    /// Client-credentials requests that failed.
    pub client_credentials_failed: u64,
    /// Refresh-token requests that succeeded.
    pub refresh_token_ok: u64,
    /// Refresh-token requests that failed.
    pub refresh_token_failed: u64,
    /// Token exchanges (impersonation) that succeeded.
    pub token_exchange_ok: u64,
    /// Token exchanges (impersonation) that failed.
    pub token_exchange_failed: u64,
    /// Requests made by a background refresh (rather than for a waiting caller).
    pub background_refreshes: u64,
    /// Attempts retried after a transient failure.
    pub retries: u64,
    /// Tokens taken from the token cache shared by processes, or from the
    /// token store shared by hosts.
    pub cache_hits: u64,
    /// Tokens dropped after a caller reported them refused.
    pub invalidations: u64,
    /// Unix milliseconds of the last token obtained, or 0 for never.
    pub last_success_unix_ms: i64,
    /// Unix milliseconds of the last failed request, or 0 for never.
    pub last_failure_unix_ms: i64,
}

impl Counters {
    pub(crate) fn served(&self) {
        self.served.add();
    }

    /// One token request of `grant` ("client_credentials", "refresh_token",
    /// "token_exchange") that succeeded or not.
    pub(crate) fn request(&self, grant: &str, ok: bool) {
        let index = match grant {
            "client_credentials" => 0,
            "refresh_token" => 2,
            _ => 4,
        } + usize::from(!ok);
        self.requests[index].fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        if ok { &self.last_success_ms } else { &self.last_failure_ms }.store(now, Ordering::Relaxed);
    }

    pub(crate) fn background_refresh(&self) {
        self.background_refreshes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retries(&self, count: u64) {
        self.retries.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        self.last_success_ms.store(now, Ordering::Relaxed);
    }

    pub(crate) fn invalidation(&self) {
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let r = |i: usize| self.requests[i].load(Ordering::Relaxed);
        Stats {
            tokens_served: self.served.sum(),
            client_credentials_ok: r(0),
            client_credentials_failed: r(1),
            refresh_token_ok: r(2),
            refresh_token_failed: r(3),
            token_exchange_ok: r(4),
            token_exchange_failed: r(5),
            background_refreshes: self.background_refreshes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            last_success_unix_ms: self.last_success_ms.load(Ordering::Relaxed),
            last_failure_unix_ms: self.last_failure_ms.load(Ordering::Relaxed),
        }
    }
}

/// A counter spread over cache lines, one picked per thread.
#[derive(Default)]
struct Sharded {
    shards: [Padded; 16],
}

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl Sharded {
    fn add(&self) {
        self.shards[shard()].0.fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.shards.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// This thread's shard: threads are numbered as they first count.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % 16;
    }
    SHARD.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_across_threads() {
        let counters = Counters::default();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| (0..1000).for_each(|_| counters.served()));
            }
        });
        counters.request("refresh_token", false);
        counters.request("token_exchange", true);
        let stats = counters.snapshot();
        assert_eq!(stats.tokens_served, 8000);
        assert_eq!((stats.refresh_token_failed, stats.token_exchange_ok), (1, 1));
        assert!(stats.last_failure_unix_ms > 0 && stats.last_success_unix_ms > 0);
    }
}
