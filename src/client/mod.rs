//! A cached, self-refreshing, thread-safe and fork-safe token source.
//!
//! While a usable token exists no caller waits on the network: near expiry one
//! background refresh runs (on a small shared pool of threads) while callers keep
//! getting the current token. When there is no usable token, exactly one request
//! is in flight and every other caller waits for its result (single-flight).
//!
//! All mutable state lives in a [`Process`] made per process (see
//! `sys/per_process.rs`): a child after fork starts with fresh locks, nothing in
//! flight, its own connections and refresh jitter, and keeps only what can be
//! read without a lock: the current access token.

mod impersonate;
mod process;
mod published;
mod refresher;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::oauth::Subject;
use crate::observe::{Counters, Stats};
use crate::sys::PerProcess;
use crate::token::Token;

use process::Process;
use published::Published;
pub(crate) use published::DUE;

/// Nanoseconds on the clock of [`Client::fresh_until`] (CLOCK_MONOTONIC).
pub fn monotonic_ns() -> u64 {
    crate::sys::monotonic_ns()
}

/// Holds the current token and keeps it fresh. Cheap to clone (clones share the
/// cache); safe to use from any number of threads at once, and in both parent
/// and child after `fork()`.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    /// The clients acting as users derived from this one, kept (with their
    /// tokens) while this client is: see [`Client::impersonate`]. None for a
    /// client that acts as a user (it cannot act as another one).
    users: Option<Arc<impersonate::Users>>,
}

struct Shared {
    config: Config,
    source: Source,
    process: PerProcess<Process>,
    fast: Arc<Fast>,
}

/// What the "still current?" check reads: no lock, no per-process state, no
/// reference count. The C ABI keeps a reference beside each client handle.
pub(crate) struct Fast {
    pub(crate) published: Published,
    pub(crate) counters: Counters,
}

impl Fast {
    /// Whether the token with `serial` is current and needs no check (counted
    /// as served when it is).
    #[inline]
    pub(crate) fn is_current(&self, serial: u64) -> bool {
        let fresh = self.published.fresh(serial);
        if fresh {
            self.counters.served();
        }
        fresh
    }
}

/// When to clean up a collection that keeps entries no one needs any more
/// (deadlines of replaced tokens, users no one acts as): once it holds more
/// than [`Sweep::FLOOR`] entries and twice as many as the last clean-up kept,
/// so clean-ups cost O(1) per addition on average.
#[derive(Clone, Default)]
struct Sweep {
    kept: usize,
}

impl Sweep {
    /// Below this many entries, none is cleaned up on account of size.
    const FLOOR: usize = 64;

    /// Whether a collection of `len` entries is due for a clean-up.
    fn due(&self, len: usize) -> bool {
        len > Sweep::FLOOR.max(2 * self.kept)
    }

    /// A clean-up left `len` entries.
    fn swept(&mut self, len: usize) {
        self.kept = len;
    }
}

/// Where a client's tokens come from.
enum Source {
    /// The client's own credentials: the refresh grant, else client credentials.
    Credentials,
    /// A token exchange on behalf of `subject`, vouched for by `admin`'s token.
    /// (The admin's state, not its `Client`: the admin's clients keep their
    /// derived clients alive, so holding one here would make a cycle.)
    Exchange { admin: Arc<Shared>, subject: Subject },
}

impl Shared {
    fn new(config: Config, source: Source) -> Shared {
        let fast = Arc::new(Fast { published: Published::new(), counters: Counters::default() });
        Shared { config, source, process: PerProcess::new(), fast }
    }

    fn process(&self) -> crate::sys::Local<Process> {
        self.process.get(|inherited| self.new_process(inherited))
    }

    fn process_full(&self) -> Arc<crate::sys::Tagged<Process>> {
        self.process.get_full(|inherited| self.new_process(inherited))
    }

    /// This process's state: in a child after fork, seeded with the token its
    /// parent held, which is published anew (in this process's generation,
    /// with this process's timer).
    fn new_process(&self, inherited: Option<&Process>) -> Process {
        let process = Process::new(&self.config, inherited);
        process.publish_inherited(&self.fast.published);
        process
    }

    /// Runs a background refresh that was queued for this client.
    fn run_queued(&self) {
        self.process_full().run_queued(self);
    }

    /// See [`Client::token`].
    fn token(self: &Arc<Shared>) -> Result<Arc<Token>> {
        let now = Instant::now();
        {
            let process = self.process();
            if let Some(usable) = process.usable(now) {
                process.refresh_if_due(self, &usable, now);
                self.fast.counters.served();
                return Ok(usable.token().clone());
            }
        }
        let token = self.process_full().fetch_or_wait(self)?;
        self.fast.counters.served();
        Ok(token)
    }

    /// See [`Client::invalidate_serial`].
    fn invalidate_serial(&self, serial: u64) {
        self.process().invalidate(self, |t| t.serial() == serial);
    }
}

impl Client {
    /// A client for `config`. No request is made until the first [`Client::token`].
    pub fn new(config: Config) -> Client {
        Client { shared: Arc::new(Shared::new(config, Source::Credentials)), users: Some(Default::default()) }
    }

    /// The config the client was made from.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A token valid for at least the safety skew. Returns at once while one is
    /// cached; near expiry it also starts one background refresh.
    pub fn token(&self) -> Result<Arc<Token>> {
        self.shared.token()
    }

    /// The client's counters since it was created.
    pub fn stats(&self) -> Stats {
        self.shared.fast.counters.snapshot()
    }

    /// The current token if one is usable now, without ever waiting on the
    /// network (starting the background refresh when it is due, as `token()`
    /// would); None when a caller would have to wait for a request.
    pub fn cached_token(&self) -> Option<Arc<Token>> {
        let now = Instant::now();
        let process = self.shared.process();
        let usable = process.usable(now)?;
        process.refresh_if_due(&self.shared, &usable, now);
        self.shared.fast.counters.served();
        Some(usable.token().clone())
    }

    /// Whether the token with this serial ([`Token::serial`]) is the current
    /// token and still usable, as [`Client::token`] would judge it. Never waits
    /// on the network; starts the background refresh when it is due, as
    /// `token()` would. Lets a caller that keeps a token check it cheaply; a
    /// true answer counts as a token served (the caller serves its copy).
    pub fn is_current(&self, serial: u64) -> bool {
        if self.shared.fast.is_current(serial) {
            return true;
        }
        let current = self.usable_until(serial).is_some();
        if current {
            self.shared.fast.counters.served();
        }
        current
    }

    /// When the token with `serial` stops being usable, if it is the current
    /// usable token; starts its background refresh when that is due, as
    /// `token()` would.
    fn usable_until(&self, serial: u64) -> Option<Instant> {
        let now = Instant::now();
        let process = self.shared.process();
        let usable = process.usable(now).filter(|usable| usable.token().serial() == serial)?;
        process.refresh_if_due(&self.shared, &usable, now);
        Some(usable.usable_until())
    }

    /// The check a binding makes when its own deadline for the token with
    /// `serial` has passed: CLOCK_MONOTONIC nanoseconds until which it may keep
    /// serving that token without asking again, or 0 when it is not the
    /// current usable token. While the token is current and its refresh not
    /// due: until the refresh is due. Once due, this starts the background
    /// refresh (as [`Client::token`] would) and answers 1 ms from now, never
    /// past the token's end of use, so a binding asks at most once a
    /// millisecond while the refresh runs. Not counted as a token served: the
    /// binding counts what it serves. With [`Client::serial_word`], what lets a
    /// binding check its token with two loads and a clock read, and no call.
    pub fn fresh_until(&self, serial: u64) -> u64 {
        match self.usable_until(serial) {
            Some(until) if serial != 0 => self.shared.fast.published.fresh_until(serial, until),
            _ => 0,
        }
    }

    /// The word that holds the current token's serial (0 when there is none),
    /// readable with an atomic load for the life of the process. After the
    /// client is dropped the word may serve another client, whose serials are
    /// never this client's.
    pub fn serial_word(&self) -> &'static AtomicU64 {
        self.shared.fast.published.word()
    }

    /// The lock-free part of the client, for the C ABI's handles.
    pub(crate) fn fast(&self) -> &Arc<Fast> {
        &self.shared.fast
    }

    /// Drops the cached token if it is still `rejected_access_token` (an API call
    /// answered 401 with it). A burst of 401s for the same token thus causes one
    /// new fetch, not one per caller.
    pub fn invalidate(&self, rejected_access_token: &str) {
        self.shared.process().invalidate(&self.shared, |t| t.access_token() == rejected_access_token);
    }

    /// Like [`Client::invalidate`], naming the refused token by its serial
    /// ([`Token::serial`]), so a caller need not keep the token's text.
    pub fn invalidate_serial(&self, serial: u64) {
        self.shared.invalidate_serial(serial);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.shared.config).finish_non_exhaustive()
    }
}
