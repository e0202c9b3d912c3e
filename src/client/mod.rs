//! A cached, self-refreshing, thread-safe and fork-safe token source.
//!
//! While a usable token exists no caller waits on the network: near expiry one
//! background refresh runs (on a small shared pool of threads) while callers keep
//! getting the current token. When there is no usable token, exactly one request
//! is in flight and every other caller waits for its result (single-flight).
//!
//! All mutable state lives in a [`Process`] made per process (see
//! `per_process.rs`): a child after fork starts with fresh locks, nothing in
//! flight, its own connections and refresh jitter, and keeps only what can be
//! read without a lock: the current access token.

mod impersonate;
mod process;
mod refresher;

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::events::{Counters, Stats};
use crate::per_process::PerProcess;
use crate::token::Token;

pub use impersonate::impersonate_token;
pub(crate) use impersonate::Subject;
use process::Process;

/// Holds the current token and keeps it fresh. Cheap to clone (clones share the
/// cache); safe to use from any number of threads at once, and in both parent
/// and child after `fork()`.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    source: Source,
    process: PerProcess<Process>,
    counters: Counters,
}

/// Where a client's tokens come from.
enum Source {
    /// The client's own credentials: the refresh grant, else client credentials.
    Credentials,
    /// A token exchange on behalf of `subject`, vouched for by `admin`'s token.
    Exchange { admin: Client, subject: Subject },
}

impl Shared {
    fn new(config: Config, source: Source) -> Shared {
        Shared { config, source, process: PerProcess::new(), counters: Counters::default() }
    }

    fn process(&self) -> crate::per_process::Local<Process> {
        self.process.get(|inherited| Process::new(&self.config, inherited))
    }

    fn process_full(&self) -> Arc<crate::per_process::Tagged<Process>> {
        self.process.get_full(|inherited| Process::new(&self.config, inherited))
    }

    /// Runs a background refresh that was queued for this client.
    fn run_queued(&self) {
        self.process_full().run_queued(self);
    }
}

impl Client {
    /// A client for `config`. No request is made until the first [`Client::token`].
    pub fn new(config: Config) -> Client {
        Client { shared: Arc::new(Shared::new(config, Source::Credentials)) }
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A token valid for at least the safety skew. Returns at once while one is
    /// cached; near expiry it also starts one background refresh.
    pub fn token(&self) -> Result<Arc<Token>> {
        let now = Instant::now();
        {
            let process = self.shared.process();
            if let Some(usable) = process.usable(now) {
                if usable.refresh_due {
                    process.refresh_due(&self.shared, usable.token().serial(), now);
                }
                self.shared.counters.served();
                return Ok(usable.token().clone());
            }
        }
        let token = self.shared.process_full().fetch_or_wait(&self.shared)?;
        self.shared.counters.served();
        Ok(token)
    }

    /// The client's counters since it was created.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// The current token if one is usable now, without ever waiting on the
    /// network (starting the background refresh when it is due, as `token()`
    /// would); None when a caller would have to wait for a request.
    pub fn cached_token(&self) -> Option<Arc<Token>> {
        let now = Instant::now();
        let process = self.shared.process();
        let usable = process.usable(now)?;
        if usable.refresh_due {
            process.refresh_due(&self.shared, usable.token().serial(), now);
        }
        self.shared.counters.served();
        Some(usable.token().clone())
    }

    /// Whether the token with this serial ([`Token::serial`]) is the current
    /// token and still usable, as [`Client::token`] would judge it. Never waits
    /// on the network; starts the background refresh when it is due, as
    /// `token()` would. Lets a caller that keeps a token check it cheaply; a
    /// true answer counts as a token served (the caller serves its copy).
    pub fn is_current(&self, serial: u64) -> bool {
        let now = Instant::now();
        let process = self.shared.process();
        match process.usable(now) {
            Some(usable) if usable.token().serial() == serial => {
                if usable.refresh_due {
                    process.refresh_due(&self.shared, serial, now);
                }
                self.shared.counters.served();
                true
            }
            _ => false,
        }
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
        self.shared.process().invalidate(&self.shared, |t| t.serial() == serial);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.shared.config).finish_non_exhaustive()
    }
}
