//! One process's state of one client: the current token, the request in
//! flight, the refresh token to use next. Made fresh in a child after fork.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwapOption, Guard};

use super::published::Published;
use super::{impersonate, refresher, Shared, Source};
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::oauth::{self, Grant, Subject};
use crate::observe::{Counters, Event, EventKind, Trace};
use crate::secret::Secret;
use crate::store::{cache, login, redis};
use crate::sys::random_fraction;
use crate::token::Token;

/// A token is handed out only while it stays valid for at least this long
/// (or a tenth of its lifetime, for very short-lived tokens).
const SAFETY_SKEW: Duration = Duration::from_secs(10);
/// A failed background refresh is retried after 1 s, 2 s, 4 s ... up to this.
const MAX_BACKGROUND_BACKOFF: Duration = Duration::from_secs(60);

pub(super) struct Process {
    /// Read without any lock on the fast path; written under `control`.
    current: ArcSwapOption<Cached>,
    control: Mutex<Control>,
    settled: Condvar,
    /// Mirrors `control.flight != Idle`, so the fast path need not lock.
    busy: AtomicBool,
    /// Nanoseconds after `epoch` before which a failed background refresh is not retried.
    background_not_before: AtomicU64,
    epoch: Instant,
}

pub(super) struct Cached {
    pub(super) token: Arc<Token>,
    usable_until: Instant,
    refresh_at: Instant,
}

/// What a caller found: the current usable token, and whether its refresh is due.
pub(super) struct Usable {
    cached: Guard<Option<Arc<Cached>>>,
    refresh_due: bool,
}

impl Usable {
    pub(super) fn token(&self) -> &Arc<Token> {
        &self.cached.as_ref().expect("Usable holds a token").token
    }

    pub(super) fn usable_until(&self) -> Instant {
        self.cached.as_ref().expect("Usable holds a token").usable_until
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flight {
    Idle,
    /// A background refresh waits for a refresher thread; a caller that needs a
    /// token now may take it over and run it itself.
    Queued,
    Running,
}

struct Control {
    flight: Flight,
    /// Counts settled requests, so waiters know theirs has finished.
    generation: u64,
    last_error: Option<Error>,
    /// The newest refresh token: Sigma rotates them, so only the latest is good.
    refresh_token: Option<Secret>,
    /// The access token last invalidated, until a different one is obtained.
    rejected: Option<Secret>,
    background_failures: u32,
}

impl Process {
    /// A fresh state. In a child after fork, `inherited` is the parent's state:
    /// only its current token is kept (read without a lock, with a new refresh
    /// jitter). Its refresh token is not: the parent and its other children hold
    /// the same single-use token, and only one of them could spend it. With a
    /// token cache, the cache's lock decides who does.
    pub(super) fn new(config: &Config, inherited: Option<&Process>) -> Process {
        let current = inherited
            .and_then(|p| p.current.load_full())
            .map(|c| Arc::new(Cached::new(c.token.clone(), config.refresh_margin_for(c.token.expires_in()))));
        Process {
            current: ArcSwapOption::new(current),
            control: Mutex::new(Control {
                flight: Flight::Idle,
                generation: 0,
                last_error: None,
                refresh_token: None,
                rejected: None,
                background_failures: 0,
            }),
            settled: Condvar::new(),
            busy: AtomicBool::new(false),
            background_not_before: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Publishes the token inherited from a parent process, if any (for a
    /// state just made in a child).
    pub(super) fn publish_inherited(&self, published: &Published) {
        if let Some(cached) = self.current.load().as_ref() {
            published.publish_inherited(cached.token.serial(), cached.refresh_at.min(cached.usable_until));
        }
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        // Control holds plain values that are always consistent between
        // statements, so a panic elsewhere cannot leave it half-written.
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current token if it is usable at `now`.
    pub(super) fn usable(&self, now: Instant) -> Option<Usable> {
        let cached = self.current.load();
        let (usable, refresh_due) = match cached.as_ref() {
            Some(c) => (now < c.usable_until, now >= c.refresh_at),
            None => (false, false),
        };
        usable.then_some(Usable { cached, refresh_due })
    }

    fn usable_token(&self) -> Option<Arc<Token>> {
        self.usable(Instant::now()).map(|u| u.token().clone())
    }

    /// Queues one background refresh of the token `usable` found if its
    /// refresh is due, unless one is already queued or running, a failed one
    /// is backing off, or that token is no longer the current one (it was
    /// replaced since the caller looked). Every reader calls it.
    pub(super) fn refresh_if_due(&self, shared: &Arc<Shared>, usable: &Usable, now: Instant) {
        if !usable.refresh_due {
            return;
        }
        let serial = usable.token().serial();
        if self.busy.load(Ordering::Acquire) {
            return;
        }
        let since_epoch = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        if since_epoch < self.background_not_before.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut control = self.control();
            if control.flight != Flight::Idle {
                return;
            }
            if self.current.load().as_ref().map(|c| c.token.serial()) != Some(serial) {
                return;
            }
            control.flight = Flight::Queued;
            self.busy.store(true, Ordering::Release);
        }
        refresher::submit(Arc::downgrade(shared) as Weak<Shared>);
    }

    /// Runs a queued background refresh, unless a caller took it over.
    pub(super) fn run_queued(&self, shared: &Shared) {
        {
            let mut control = self.control();
            if control.flight != Flight::Queued {
                return;
            }
            control.flight = Flight::Running;
        }
        let _ = self.exchange(shared, true);
    }

    /// The slow path: no usable token. Either make the one request, or wait for
    /// the one already running and share its result.
    pub(super) fn fetch_or_wait(&self, shared: &Shared) -> Result<Arc<Token>> {
        let wait_limit = Instant::now() + shared.config.settings().timeout + Duration::from_secs(1);
        let mut control = self.control();
        loop {
            if let Some(token) = self.usable_token() {
                return Ok(token);
            }
            if control.flight != Flight::Running {
                // Idle, or a background refresh still queued: run it here, now.
                control.flight = Flight::Running;
                self.busy.store(true, Ordering::Release);
                drop(control);
                return self.exchange(shared, false);
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
                if self.usable_token().is_none() {
                    return Err(error.clone());
                }
            }
        }
    }

    /// Drops the current token if `rejected` says it is the one refused.
    pub(super) fn invalidate(&self, shared: &Shared, rejected: impl Fn(&Token) -> bool) {
        let dropped = {
            let mut control = self.control();
            let current = self.current.load_full();
            current.filter(|c| rejected(&c.token)).map(|cached| {
                self.current.store(None);
                shared.fast.published.clear();
                // So the persistent cache does not hand the same token back.
                control.rejected = Some(Secret::new(cached.token.access_token()));
                cached.token.serial()
            })
        };
        if let Some(serial) = dropped {
            shared.fast.counters.invalidation();
            let mut trace = Trace::default();
            trace.push(Event { serial: Some(serial), ..Event::new(EventKind::Invalidated) });
            trace.deliver(shared.config.events());
        }
    }

    /// Makes the request this thread was chosen for, then settles it for
    /// everyone; then tells the event callback what happened.
    fn exchange(&self, shared: &Shared, background: bool) -> Result<Arc<Token>> {
        let mut trace = Trace::new(background);
        trace.push(Event::new(EventKind::RefreshStarted));
        if background {
            shared.fast.counters.background_refresh();
        }
        let started = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.obtain(shared, &mut trace)))
            .unwrap_or_else(|_| Err(Error::internal("a panic interrupted the token request")));
        let duration = Some(started.elapsed());
        shared.fast.counters.retries(trace.count(EventKind::RetryScheduled));
        trace.push(match &result {
            Ok(token) => Event {
                grant: token.grant,
                duration,
                serial: Some(token.token.serial()),
                expires_in: Some(token.token.expires_in()),
                ..Event::new(EventKind::TokenObtained)
            },
            Err(error) => Event { duration, grant: trace.grant, ..Event::failure(EventKind::RefreshFailed, error) },
        });
        let settled = self.settle(shared, result.map(|obtained| obtained.token), background);
        trace.deliver(shared.config.events());
        settled
    }

    /// Own credentials: the refresh grant first (Sigma asks for it), falling back
    /// once to client credentials when the refresh token is refused (expired,
    /// used, unknown). On behalf of a user: a token exchange. Everything (a wait
    /// for the token cache's lock included) shares one deadline.
    fn obtain(&self, shared: &Shared, trace: &mut Trace) -> Result<Obtained> {
        let config = &shared.config;
        let counters = &shared.fast.counters;
        let deadline = config.deadline();
        let (remembered, rejected) = {
            let control = self.control();
            (control.refresh_token.clone(), control.rejected.clone())
        };
        if let Some(signin) = &config.settings().signin {
            let held = self.current.load_full();
            let replacing = held.as_ref().map(|c| c.token.access_token()).or(rejected.as_ref().map(Secret::expose));
            return self.obtain_signed_in(shared, &signin.profile, deadline, replacing, trace);
        }
        let (subject, network): (Option<&Subject>, Box<Fetch<'_>>) = match &shared.source {
            Source::Credentials => (None, Box::new(|refresh, trace| fetch(config, refresh, deadline, trace, counters))),
            Source::Exchange { admin, subject } => (
                Some(subject),
                Box::new(|_, trace| {
                    let token = impersonate::exchange(config, admin, subject, deadline, trace, counters)?;
                    Ok(Obtained { token, grant: Some("token_exchange") })
                }),
            ),
        };
        // The token held now (if any) is the one to replace: another process's
        // newer token is welcome, the same one again is not.
        let held = self.current.load_full();
        let replacing = held.as_ref().map(|c| c.token.access_token()).or(rejected.as_ref().map(Secret::expose));
        // With a token store shared by hosts, the network is reached through it.
        let mut fetch = match config.settings().token_store.is_some() {
            false => network,
            true => through_store(config, network, redis::Want { subject, deadline, replacing }),
        };
        let Some(dir) = config.token_cache() else {
            let obtained = fetch(remembered, trace)?;
            if obtained.grant.is_none() {
                counters.cache_hit();
            }
            return Ok(obtained);
        };
        let mut grant = None;
        let want = cache::Want { subject, deadline, replacing, remembered };
        let token = cache::obtain(dir, config, want, trace, |refresh, trace| {
            let obtained = fetch(refresh, trace)?;
            grant = obtained.grant;
            Ok(obtained.token)
        })?;
        if grant.is_none() {
            counters.cache_hit();
        }
        Ok(Obtained { token, grant })
    }

    /// A person's sign-in: through its store, which serialises refreshes
    /// across processes and keeps the rotated refresh token (see
    /// `store/login.rs`); never through the token cache.
    fn obtain_signed_in(
        &self,
        shared: &Shared,
        profile: &str,
        deadline: Instant,
        replacing: Option<&str>,
        trace: &mut Trace,
    ) -> Result<Obtained> {
        let config = &shared.config;
        let counters = &shared.fast.counters;
        let store = login::Store::open()?;
        let mut grant = None;
        let want = login::Want {
            profile,
            deadline,
            replacing,
            base_url: config.endpoint().api_base_url(),
            token_endpoint: config.settings().token_url(),
        };
        let fresh = |token: &Token| token.remaining() > config.refresh_margin_for(token.expires_in());
        let token = login::obtain(&store, want, fresh, |record| {
            let grant_used =
                Grant::PublicRefresh { refresh_token: &record.refresh_token, client_id: &record.client_id };
            let result = oauth::request_token(config, grant_used, deadline, trace);
            counters.request(grant_used.name(), result.is_ok());
            grant = Some(grant_used.name());
            result
        })?;
        if grant.is_none() {
            counters.cache_hit();
            trace.push(Event { serial: Some(token.serial()), ..Event::new(EventKind::CacheHit) });
        }
        Ok(Obtained { token, grant })
    }

    fn settle(&self, shared: &Shared, result: Result<Token>, background: bool) -> Result<Arc<Token>> {
        let config = &shared.config;
        if result.is_ok() && !background {
            // This caller waited on the network anyway: it, not the one who
            // later finds the refresh due, starts the refresh thread.
            refresher::prepare();
        }
        let mut control = self.control();
        let outcome = match result {
            Ok(token) => {
                if let Some(refresh) = token.refresh_token() {
                    control.refresh_token = Some(Secret::new(refresh));
                }
                let token = Arc::new(token);
                let margin = config.refresh_margin_for(token.expires_in());
                let cached = Arc::new(Cached::new(token.clone(), margin));
                let check = cached.refresh_at.min(cached.usable_until);
                self.current.store(Some(cached));
                shared.fast.published.publish(token.serial(), check);
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
        control.flight = Flight::Idle;
        self.busy.store(false, Ordering::Release);
        control.generation = control.generation.wrapping_add(1);
        drop(control);
        self.settled.notify_all();
        outcome
    }
}

/// A token, and the grant that got it (None: it came from the token cache).
pub(super) struct Obtained {
    token: Token,
    grant: Option<&'static str>,
}

/// How a client gets a token, given the newest refresh token known.
type Fetch<'a> = dyn FnMut(Option<Secret>, &mut Trace) -> Result<Obtained> + 'a;

/// `network` behind the token store shared by hosts: a fresh stored token if
/// there is one (grant None), else `network`'s, stored for the others.
fn through_store<'a>(config: &'a Config, mut network: Box<Fetch<'a>>, want: redis::Want<'a>) -> Box<Fetch<'a>> {
    Box::new(move |refresh, trace| {
        let mut grant = None;
        let token = redis::obtain(config, want, trace, |trace| {
            let obtained = network(refresh, trace)?;
            grant = obtained.grant;
            Ok(obtained.token)
        })?;
        Ok(Obtained { token, grant })
    })
}

/// One token request: the refresh grant with `refresh` if there is one, falling
/// back once to client credentials when Sigma refuses it; both by `deadline`.
fn fetch(
    config: &Config,
    refresh: Option<Secret>,
    deadline: Instant,
    trace: &mut Trace,
    counters: &Counters,
) -> Result<Obtained> {
    let request = |grant: Grant<'_>, trace: &mut Trace| {
        let result = oauth::request_token(config, grant, deadline, trace);
        counters.request(grant.name(), result.is_ok());
        result.map(|token| Obtained { token, grant: Some(grant.name()) })
    };
    if let Some(refresh) = refresh {
        match request(Grant::RefreshToken(refresh.expose()), trace) {
            Err(e) if e.code() == ErrorCode::InvalidGrant => {
                trace.push(Event {
                    grant: Some("refresh_token"),
                    ..Event::failure(EventKind::FallbackToClientCredentials, &e)
                });
            }
            other => return other,
        }
    }
    request(Grant::ClientCredentials, trace)
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
