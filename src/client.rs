//! A cached, self-refreshing, thread-safe token source.
//!
//! While a usable token exists no caller waits on the network: near expiry one
//! background thread refreshes it while callers keep getting the current one.
//! When there is no usable token, exactly one request is in flight and every
//! other caller waits for its result (single-flight).

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::cache;
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{self, random_fraction, Grant};
use crate::secret::Secret;
use crate::token::Token;

/// A token is handed out only while it stays valid for at least this long
/// (or a tenth of its lifetime, for very short-lived tokens).
const SAFETY_SKEW: Duration = Duration::from_secs(10);
/// A failed background refresh is retried after 1 s, 2 s, 4 s ... up to this.
const MAX_BACKGROUND_BACKOFF: Duration = Duration::from_secs(60);

/// Holds the current token and keeps it fresh. Cheap to clone (clones share the
/// cache); safe to use from any number of threads at once.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    current: RwLock<Option<Cached>>,
    control: Mutex<Control>,
    settled: Condvar,
    /// Mirrors `Control::in_flight` so the fast path need not take the mutex.
    in_flight: AtomicBool,
    /// Nanoseconds after `epoch` before which a failed background refresh is not retried.
    background_not_before: AtomicU64,
    epoch: Instant,
}

struct Cached {
    token: Arc<Token>,
    usable_until: Instant,
    refresh_at: Instant,
}

#[derive(Default)]
struct Control {
    in_flight: bool,
    /// Counts settled requests, so waiters know theirs has finished.
    generation: u64,
    last_error: Option<Error>,
    /// The newest refresh token: Sigma rotates them, so only the latest is good.
    refresh_token: Option<Secret>,
    /// The access token last invalidated, until a different one is obtained.
    rejected: Option<Secret>,
    background_failures: u32,
}

impl Client {
    /// A client for `config`. No request is made until the first [`Client::token`].
    pub fn new(config: Config) -> Client {
        Client {
            shared: Arc::new(Shared {
                config,
                current: RwLock::new(None),
                control: Mutex::new(Control::default()),
                settled: Condvar::new(),
                in_flight: AtomicBool::new(false),
                background_not_before: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A token valid for at least the safety skew. Returns at once while one is
    /// cached; near expiry it also starts one background refresh.
    pub fn token(&self) -> Result<Arc<Token>> {
        let now = Instant::now();
        if let Some((token, refresh_due)) = self.shared.with_usable(now, |c| (c.token.clone(), now >= c.refresh_at)) {
            if refresh_due {
                self.shared.start_background_refresh(now);
            }
            return Ok(token);
        }
        self.shared.fetch_or_wait()
    }

    /// Whether `token` is the current token and still usable, as [`Client::token`]
    /// would judge it; never waits on the network, and starts the background
    /// refresh when it is due, as `token()` would. Lets a caller that holds a
    /// token skip building a new handle to the same one.
    pub fn is_current(&self, token: &Arc<Token>) -> bool {
        let now = Instant::now();
        let (current, refresh_due) =
            self.shared.with_usable(now, |c| (Arc::ptr_eq(&c.token, token), now >= c.refresh_at)).unwrap_or_default();
        if current && refresh_due {
            self.shared.start_background_refresh(now);
        }
        current
    }

    /// Drops the cached token if it is still `rejected_access_token` (an API call
    /// answered 401 with it). A burst of 401s for the same token thus causes one
    /// new fetch, not one per caller.
    pub fn invalidate(&self, rejected_access_token: &str) {
        // Lock order everywhere: control, then current.
        let mut control = self.shared.control();
        let mut current = self.shared.current.write().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|c| c.token.access_token() == rejected_access_token) {
            *current = None;
            // So the persistent cache does not hand the same token back.
            control.rejected = Some(Secret::new(rejected_access_token));
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl Shared {
    fn control(&self) -> MutexGuard<'_, Control> {
        // Control holds plain values that are always consistent between
        // statements, so a panic elsewhere cannot leave it half-written.
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the cached token under the read lock, if it is usable at `now`.
    fn with_usable<R>(&self, now: Instant, f: impl FnOnce(&Cached) -> R) -> Option<R> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|c| now < c.usable_until).map(f)
    }

    fn usable_now(&self) -> Option<Arc<Token>> {
        self.with_usable(Instant::now(), |c| c.token.clone())
    }

    fn start_background_refresh(self: &Arc<Self>, now: Instant) {
        if self.in_flight.load(Ordering::Acquire) {
            return;
        }
        let since_epoch = now.duration_since(self.epoch).as_nanos() as u64;
        if since_epoch < self.background_not_before.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut control = self.control();
            if control.in_flight {
                return;
            }
            control.in_flight = true;
            self.in_flight.store(true, Ordering::Release);
        }
        let shared = self.clone();
        let spawned = std::thread::Builder::new().name("sigma-auth-refresh".into()).spawn(move || {
            let _ = shared.exchange(true);
        });
        if spawned.is_err() {
            let _ = self.settle(Err(Error::internal("could not start the background refresh thread")), true);
        }
    }

    /// The slow path: no usable token. Either make the one request, or wait for
    /// the one already in flight and share its result.
    fn fetch_or_wait(self: &Arc<Self>) -> Result<Arc<Token>> {
        let wait_limit = Instant::now() + self.config.timeout + Duration::from_secs(1);
        let mut control = self.control();
        loop {
            if let Some(token) = self.usable_now() {
                return Ok(token);
            }
            if !control.in_flight {
                control.in_flight = true;
                self.in_flight.store(true, Ordering::Release);
                drop(control);
                return self.exchange(false);
            }
            let generation = control.generation;
            while control.generation == generation {
                let left = wait_limit.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::new(ErrorCode::Timeout, "timed out waiting for the token request in flight"));
                }
                control = self.settled.wait_timeout(control, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            if let Some(error) = &control.last_error {
                if self.usable_now().is_none() {
                    return Err(error.clone());
                }
            }
        }
    }

    /// Makes the request this thread was chosen for, then settles it for everyone.
    fn exchange(&self, background: bool) -> Result<Arc<Token>> {
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.obtain()))
            .unwrap_or_else(|_| Err(Error::internal("a panic interrupted the token request")));
        self.settle(result, background)
    }

    /// Refresh grant first (Sigma asks for it), falling back once to client
    /// credentials when the refresh token is refused (expired, used, unknown).
    fn obtain(&self) -> Result<Token> {
        let (remembered, rejected) = {
            let control = self.control();
            (control.refresh_token.clone(), control.rejected.clone())
        };
        let Some(dir) = self.config.token_cache() else {
            return self.fetch(remembered);
        };
        // The token held now (if any) is the one to replace: another process's
        // newer token is welcome, the same one again is not.
        let held = {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            current.as_ref().map(|c| c.token.clone())
        };
        let replacing = held.as_ref().map(|t| t.access_token()).or(rejected.as_ref().map(Secret::expose));
        cache::obtain(dir, &self.config, replacing, remembered, |refresh| self.fetch(refresh))
    }

    fn fetch(&self, refresh: Option<Secret>) -> Result<Token> {
        if let Some(refresh) = refresh {
            match http::request_token(&self.config, Grant::RefreshToken(refresh.expose())) {
                Err(e) if e.code() == ErrorCode::InvalidGrant => {}
                other => return other,
            }
        }
        http::request_token(&self.config, Grant::ClientCredentials)
    }

    fn settle(&self, result: Result<Token>, background: bool) -> Result<Arc<Token>> {
        let mut control = self.control();
        let outcome = match result {
            Ok(token) => {
                if let Some(refresh) = token.refresh_token() {
                    control.refresh_token = Some(Secret::new(refresh));
                }
                let token = Arc::new(token);
                let margin = self.config.refresh_margin_for(token.expires_in());
                let cached = Cached::new(token.clone(), margin);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(cached);
                control.background_failures = 0;
                control.rejected = None;
                self.background_not_before.store(0, Ordering::Relaxed);
                control.last_error = None;
                Ok(token)
            }
            Err(error) => {
                if error.code() == ErrorCode::InvalidGrant {
                    control.refresh_token = None;
                }
                if background {
                    control.background_failures += 1;
                    let backoff =
                        Duration::from_secs(1 << control.background_failures.min(6)).min(MAX_BACKGROUND_BACKOFF);
                    let not_before = Instant::now() + backoff;
                    let nanos = not_before.duration_since(self.epoch).as_nanos() as u64;
                    self.background_not_before.store(nanos, Ordering::Relaxed);
                }
                control.last_error = Some(error.clone());
                Err(error)
            }
        };
        control.in_flight = false;
        self.in_flight.store(false, Ordering::Release);
        control.generation = control.generation.wrapping_add(1);
        drop(control);
        self.settled.notify_all();
        outcome
    }
}

impl Cached {
    /// `margin` is the refresh window before expiry (`Config::refresh_margin_for`).
    fn new(token: Arc<Token>, margin: Duration) -> Cached {
        let lifetime = token.expires_in();
        let expires = token.expires_at_instant();
        let skew = SAFETY_SKEW.min(lifetime / 10);
        // Up to 10% earlier, so a fleet started together does not refresh in step.
        let jitter = margin.mul_f64(0.1 * random_fraction());
        let earliest = expires.checked_sub(lifetime).unwrap_or(expires);
        let refresh_at = expires.checked_sub(margin + jitter).unwrap_or(earliest).max(earliest);
        let usable_until = expires.checked_sub(skew).unwrap_or(earliest);
        Cached { token, usable_until, refresh_at }
    }
}
