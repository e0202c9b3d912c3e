//! What the library did, as events for a callback, and as counters.
//!
//! An event never carries a secret or a token: a serial number stands for a
//! token, and error text has been judged by the scrubber. The events of one
//! token request (retries, a fallback, a cache hit, the outcome) are delivered
//! together once it has settled, in order, on the thread that made it, with no
//! lock held: so a callback may call the library, even `token()` on the same
//! client, without waiting on the request it is hearing about (the events of
//! that request are delivered inside it, up to a depth). A callback must not
//! block for long; a panic in one is caught and ignored.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorCode};

/// What happened. The values are part of the C ABI (`sigma_event_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A token was obtained (from Sigma, or from the token cache).
    TokenObtained = 1,
    /// A token request started (in the background, or for a waiting caller).
    RefreshStarted = 2,
    /// A token request failed for good (after its retries).
    RefreshFailed = 3,
    /// A request failed in a way worth retrying; the next attempt waits `wait`.
    RetryScheduled = 4,
    /// Sigma refused the refresh token: client credentials are used instead.
    FallbackToClientCredentials = 5,
    /// A token was dropped after a caller reported it refused (401).
    Invalidated = 6,
    /// The token came from the token cache shared by processes.
    CacheHit = 7,
    /// The token cache could not be used; `message` says why.
    CacheBypassed = 8,
}

impl EventKind {
    /// The stable upper-case name, e.g. `"TOKEN_OBTAINED"`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::TokenObtained => "TOKEN_OBTAINED",
            EventKind::RefreshStarted => "REFRESH_STARTED",
            EventKind::RefreshFailed => "REFRESH_FAILED",
            EventKind::RetryScheduled => "RETRY_SCHEDULED",
            EventKind::FallbackToClientCredentials => "FALLBACK_TO_CLIENT_CREDENTIALS",
            EventKind::Invalidated => "INVALIDATED",
            EventKind::CacheHit => "CACHE_HIT",
            EventKind::CacheBypassed => "CACHE_BYPASSED",
        }
    }

    /// Whether the event is worth a warning in a log (a failure, a retry, a
    /// fallback, a cache bypassed) rather than a debug line.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            EventKind::RefreshFailed
                | EventKind::RetryScheduled
                | EventKind::FallbackToClientCredentials
                | EventKind::CacheBypassed
        )
    }
}

/// One event. Fields that do not apply to its kind are empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// `"client_credentials"`, `"refresh_token"` or `"token_exchange"`.
    pub grant: Option<&'static str>,
    /// The failure's code (RETRY_SCHEDULED, REFRESH_FAILED).
    pub status: Option<ErrorCode>,
    /// The HTTP status of the response concerned.
    pub http_status: Option<u16>,
    /// Sigma's `requestId` from the response concerned.
    pub request_id: Option<String>,
    /// The failure's message, or why the cache was bypassed: never a secret.
    pub message: Option<String>,
    /// Which attempt of the request (1 for the first).
    pub attempt: u32,
    /// How long before the next attempt (RETRY_SCHEDULED).
    pub wait: Option<Duration>,
    /// How long the request took (TOKEN_OBTAINED, REFRESH_FAILED).
    pub duration: Option<Duration>,
    /// The token concerned, by serial number.
    pub serial: Option<u64>,
    /// The token's lifetime as issued (TOKEN_OBTAINED).
    pub expires_in: Option<Duration>,
    /// Whether a background refresh (rather than a waiting caller) did it.
    pub background: bool,
}

impl Event {
    pub(crate) fn new(kind: EventKind) -> Event {
        Event {
            kind,
            grant: None,
            status: None,
            http_status: None,
            request_id: None,
            message: None,
            attempt: 0,
            wait: None,
            duration: None,
            serial: None,
            expires_in: None,
            background: false,
        }
    }

    pub(crate) fn failure(kind: EventKind, error: &Error) -> Event {
        Event {
            status: Some(error.code()),
            http_status: error.http_status(),
            request_id: error.request_id().map(str::to_string),
            message: Some(error.to_string()),
            ..Event::new(kind)
        }
    }
}

/// One line: the kind, the fields that apply as `name=value`, then the message,
/// e.g. `TOKEN_OBTAINED grant=client_credentials serial=3 expires_in=3600s duration=41.2ms`.
impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.name())?;
        if let Some(grant) = self.grant {
            write!(f, " grant={grant}")?;
        }
        if let Some(serial) = self.serial {
            write!(f, " serial={serial}")?;
        }
        if let Some(expires_in) = self.expires_in {
            write!(f, " expires_in={}s", expires_in.as_secs())?;
        }
        if self.attempt > 0 {
            write!(f, " attempt={}", self.attempt)?;
        }
        if let Some(wait) = self.wait {
            write!(f, " wait={:.1}ms", wait.as_secs_f64() * 1e3)?;
        }
        if let Some(duration) = self.duration {
            write!(f, " duration={:.1}ms", duration.as_secs_f64() * 1e3)?;
        }
        if let Some(status) = self.http_status {
            write!(f, " http_status={status}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " request_id={id}")?;
        }
        if self.background {
            f.write_str(" background")?;
        }
        match &self.message {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

/// A callback for events: see [`crate::Config::set_event_callback`].
pub type EventCallback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Events of one request, kept until it settles.
#[derive(Default)]
pub(crate) struct Trace {
    events: Vec<Event>,
    pub(crate) background: bool,
    /// The grant of the last request made, for the event that ends it.
    pub(crate) grant: Option<&'static str>,
}

impl Trace {
    pub(crate) fn new(background: bool) -> Trace {
        Trace { events: Vec::new(), background, grant: None }
    }

    /// How many events of this kind so far.
    pub(crate) fn count(&self, kind: EventKind) -> u64 {
        self.events.iter().filter(|e| e.kind == kind).count() as u64
    }

    pub(crate) fn push(&mut self, mut event: Event) {
        event.background = self.background;
        self.events.push(event);
    }

    /// Hands every event to the callback, if there is one, catching panics.
    ///
    /// A callback may call the library, whose own events are then delivered
    /// inside it, as they settle, up to [`MAX_NESTED`] callbacks deep on one
    /// thread. Deeper ones wait until this thread's outermost delivery has
    /// returned from its callback: so a callback that asks for a token on
    /// every failure (with failures that go on) loops instead of recursing
    /// until the stack runs out.
    pub(crate) fn deliver(self, callback: Option<&EventCallback>) {
        let Some(callback) = callback else { return };
        let depth = DEPTH.with(Cell::get);
        if depth >= MAX_NESTED {
            PENDING.with(|p| p.borrow_mut().extend(self.events.into_iter().map(|e| (Arc::clone(callback), e))));
            return;
        }
        let run = |callback: &EventCallback, event: &Event, depth: usize| {
            DEPTH.with(|d| d.set(depth + 1));
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(event)));
            DEPTH.with(|d| d.set(depth));
        };
        for event in &self.events {
            run(callback, event, depth);
        }
        if depth > 0 {
            return;
        }
        // The outermost delivery: what was too deep to deliver in place.
        while let Some(batch) = PENDING.with(|p| Some(std::mem::take(&mut *p.borrow_mut())).filter(|b| !b.is_empty())) {
            for (callback, event) in &batch {
                run(callback, event, 0);
            }
        }
    }
}

/// How many callbacks deep a thread delivers events in place (see [`Trace::deliver`]).
pub(crate) const MAX_NESTED: usize = 8;

thread_local! {
    /// How many callbacks this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Events of requests made [`MAX_NESTED`] callbacks deep, for this
    /// thread's outermost delivery.
    static PENDING: RefCell<Vec<(EventCallback, Event)>> = const { RefCell::new(Vec::new()) };
}

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
    /// Tokens taken from the token cache shared by processes.
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

    #[test]
    fn a_panicking_callback_is_contained() {
        let mut trace = Trace::default();
        trace.push(Event::new(EventKind::CacheHit));
        let callback: EventCallback = Arc::new(|_| panic!("a bug in someone's callback"));
        trace.deliver(Some(&callback));
    }
}
