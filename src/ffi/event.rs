//! Events (`sigma_event`, `sigma_config_set_event_callback`) and counters
//! (`sigma_stats`, `sigma_client_stats`).

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::{call, guard, lend, load, read, sigma_client, sigma_config, sigma_error, sigma_status, Castable, Lent};
use crate::config::Config;
use crate::error::Error;
use crate::observe::{Event, EventKind};
use crate::sys::{PerProcess, Tagged};

/// What an event reports. The values never change; new ones may be added.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigma_event_kind {
    /// A token was obtained (from Sigma, or from the token cache).
    SIGMA_EVENT_TOKEN_OBTAINED = 1,
    /// A token request started (in the background, or for a waiting caller).
    SIGMA_EVENT_REFRESH_STARTED = 2,
    /// A token request failed for good.
    SIGMA_EVENT_REFRESH_FAILED = 3,
    /// A request failed in a way worth retrying; see `sigma_event_wait_us`.
    SIGMA_EVENT_RETRY_SCHEDULED = 4,
    /// Sigma refused the refresh token; client credentials are used instead.
    SIGMA_EVENT_FALLBACK_TO_CLIENT_CREDENTIALS = 5,
    /// A token was dropped after a caller reported it refused.
    SIGMA_EVENT_INVALIDATED = 6,
    /// The token came from the token cache shared by processes.
    SIGMA_EVENT_CACHE_HIT = 7,
    /// The token cache could not be used; `sigma_event_message` says why.
    SIGMA_EVENT_CACHE_BYPASSED = 8,
    /// The token came from the token store shared by hosts (Redis).
    SIGMA_EVENT_STORE_HIT = 9,
    /// The token store could not be used; `sigma_event_message` says why.
    /// The call went on without it.
    SIGMA_EVENT_STORE_UNAVAILABLE = 10,
}

/// One event, lent to the callback for the duration of the call only. Never
/// holds a secret or a token (a token is named by its serial).
pub struct sigma_event {
    _opaque: [u8; 0],
}

impl Castable for sigma_event {
    type Ownership = Lent;
    type RustType = EventData;
}

/// What a `sigma_event` holds: the event, with its strings ready to lend to C.
pub(crate) struct EventData {
    event: Event,
    grant: Option<&'static std::ffi::CStr>,
    request_id: Option<CString>,
    message: Option<CString>,
}

/// Called with each event: `context` is what was registered with it.
pub type sigma_event_callback = Option<unsafe extern "C" fn(context: *mut c_void, event: *const sigma_event)>;

/// One registered C callback and its context.
struct Registration {
    callback: unsafe extern "C" fn(*mut c_void, *const sigma_event),
    context: usize,
    /// Calls running now in this process (a child after fork starts at 0: the
    /// parent's threads in a call are not there), and whether it was
    /// unregistered (which a child inherits).
    running: PerProcess<AtomicUsize>,
    closed: AtomicBool,
}

/// Every registration, for `sigma_event_callback_unregister`. Lock-free, so a
/// child process after fork (whose clients still hold the parent's
/// registrations) reads it without waiting on a lock held at the fork.
static REGISTRATIONS: ArcSwapOption<Vec<Weak<Registration>>> = ArcSwapOption::const_empty();

thread_local! {
    /// The registrations whose callbacks this thread is inside, innermost
    /// last (their addresses; a callback's requests deliver their events
    /// inside it, so there may be several).
    static IN_CALLBACK: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl Registration {
    /// Owned: held across the callback, which may call the library and wait.
    fn running(&self) -> Arc<Tagged<AtomicUsize>> {
        self.running.get_full(|_| AtomicUsize::new(0))
    }

    fn deliver(&self, event: &Event) {
        let running = self.running();
        running.fetch_add(1, Ordering::SeqCst);
        if !self.closed.load(Ordering::SeqCst) {
            let data = EventData {
                event: event.clone(),
                grant: event.grant.map(|g| match g {
                    "client_credentials" => c"client_credentials",
                    "refresh_token" => c"refresh_token",
                    _ => c"token_exchange",
                }),
                request_id: event.request_id.as_deref().and_then(|id| CString::new(id).ok()),
                message: event.message.as_deref().and_then(|m| CString::new(m.replace('\0', " ")).ok()),
            };
            IN_CALLBACK.with(|c| c.borrow_mut().push(std::ptr::from_ref(self) as usize));
            // SAFETY: the callback and context are what the caller registered,
            // and the event lives until the call returns.
            unsafe { (self.callback)(self.context as *mut c_void, lend(&data)) };
            IN_CALLBACK.with(|c| c.borrow_mut().pop());
        }
        running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Calls `callback(context, event)` for every event of clients made from this
/// config afterwards (NULL: none): tokens obtained, refreshes started and
/// failed, retries, fallbacks, invalidations, token-cache hits and bypasses.
/// The events of one token request are delivered once it has settled, in
/// order, on the thread that made it (which may be a background refresh
/// thread), with no lock held: the callback may call this library, on any
/// client, and the events of requests it makes are delivered inside it (8
/// callbacks deep on one thread, after the outermost returns, so a callback
/// that retries on every failure loops rather than exhausting the stack). It
/// must not block for long, and `context` must be usable
/// from any thread. `sigma_event_callback_unregister(context)` stops it for good.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_event_callback(
    config: *mut sigma_config,
    callback: sigma_event_callback,
    context: *mut c_void,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: NULL or a live config used by this thread only, per the contract.
    unsafe {
        super::config::set(config, error_out, |config| {
            set_event_callback(config, callback, context);
            Ok(())
        })
    }
}

/// Registers `callback` with `context` and has `config` call it, or no callback.
fn set_event_callback(config: &mut Config, callback: sigma_event_callback, context: *mut c_void) {
    match callback {
        None => config.clear_event_callback(),
        Some(callback) => {
            let registration = Arc::new(Registration {
                callback,
                context: context as usize,
                running: PerProcess::new(),
                closed: AtomicBool::new(false),
            });
            REGISTRATIONS.rcu(|all| {
                let mut all: Vec<Weak<Registration>> =
                    all.iter().flat_map(|a| a.iter()).filter(|r| r.strong_count() > 0).cloned().collect();
                all.push(Arc::downgrade(&registration));
                Some(Arc::new(all))
            });
            config.set_event_callback(move |event| registration.deliver(event));
        }
    }
}

/// After this returns, no callback registered with `context` is called again,
/// by any client: calls already running are waited for (up to 5 seconds;
/// except one running in this very thread). For a runtime that cannot take
/// calls after it shuts down (Python calls this at exit).
#[no_mangle]
pub extern "C" fn sigma_event_callback_unregister(context: *mut c_void) {
    guard((), || {
        let context = context as usize;
        let all = REGISTRATIONS.load_full().unwrap_or_default();
        let ours: Vec<Arc<Registration>> =
            all.iter().filter_map(Weak::upgrade).filter(|r| r.context == context).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        for registration in ours {
            registration.closed.store(true, Ordering::SeqCst);
            // Not waiting for the calls this very unregister runs inside.
            let address = Arc::as_ptr(&registration) as usize;
            let here = IN_CALLBACK.with(|c| c.borrow().iter().filter(|&&a| a == address).count());
            while registration.running().load(Ordering::SeqCst) > here && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })
}

/// The event's kind (SIGMA_EVENT_TOKEN_OBTAINED for a NULL `event`, which is
/// never meaningful: check for NULL first).
#[no_mangle]
pub unsafe extern "C" fn sigma_event_get_kind(event: *const sigma_event) -> sigma_event_kind {
    use sigma_event_kind::*;
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe {
        read(event, SIGMA_EVENT_TOKEN_OBTAINED, |e| match e.event.kind {
            EventKind::TokenObtained => SIGMA_EVENT_TOKEN_OBTAINED,
            EventKind::RefreshStarted => SIGMA_EVENT_REFRESH_STARTED,
            EventKind::RefreshFailed => SIGMA_EVENT_REFRESH_FAILED,
            EventKind::RetryScheduled => SIGMA_EVENT_RETRY_SCHEDULED,
            EventKind::FallbackToClientCredentials => SIGMA_EVENT_FALLBACK_TO_CLIENT_CREDENTIALS,
            EventKind::Invalidated => SIGMA_EVENT_INVALIDATED,
            EventKind::CacheHit => SIGMA_EVENT_CACHE_HIT,
            EventKind::CacheBypassed => SIGMA_EVENT_CACHE_BYPASSED,
            EventKind::StoreHit => SIGMA_EVENT_STORE_HIT,
            EventKind::StoreUnavailable => SIGMA_EVENT_STORE_UNAVAILABLE,
        })
    }
}

/// The name of an event kind, e.g. "TOKEN_OBTAINED", or "UNKNOWN". Static.
/// Bindings take their names for the kinds from here.
#[no_mangle]
pub extern "C" fn sigma_event_kind_name(kind: u32) -> *const c_char {
    EventKind::from_value(kind).map_or(c"UNKNOWN", c_name).as_ptr()
}

/// [`EventKind::name`] with its NUL (a test checks that they agree).
fn c_name(kind: EventKind) -> &'static std::ffi::CStr {
    match kind {
        EventKind::TokenObtained => c"TOKEN_OBTAINED",
        EventKind::RefreshStarted => c"REFRESH_STARTED",
        EventKind::RefreshFailed => c"REFRESH_FAILED",
        EventKind::RetryScheduled => c"RETRY_SCHEDULED",
        EventKind::FallbackToClientCredentials => c"FALLBACK_TO_CLIENT_CREDENTIALS",
        EventKind::Invalidated => c"INVALIDATED",
        EventKind::CacheHit => c"CACHE_HIT",
        EventKind::CacheBypassed => c"CACHE_BYPASSED",
        EventKind::StoreHit => c"STORE_HIT",
        EventKind::StoreUnavailable => c"STORE_UNAVAILABLE",
    }
}

/// 1 when events of this kind deserve a warning in a log (a failure, a
/// retry, a fallback, a cache or store bypassed), 0 when a debug line will do or the
/// kind is unknown. Bindings take their log levels from here.
#[no_mangle]
pub extern "C" fn sigma_event_kind_is_warning(kind: u32) -> c_int {
    c_int::from(EventKind::from_value(kind).is_some_and(EventKind::is_warning))
}

/// "client_credentials", "refresh_token" or "token_exchange", or NULL. Static.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_grant(event: *const sigma_event) -> *const c_char {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, std::ptr::null(), |e| e.grant.map_or(std::ptr::null(), |g| g.as_ptr())) }
}

/// The failure's status (RETRY_SCHEDULED, REFRESH_FAILED, FALLBACK_...), else SIGMA_STATUS_OK.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_status(event: *const sigma_event) -> sigma_status {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe {
        read(event, sigma_status::SIGMA_STATUS_OK, |e| e.event.status.map_or(sigma_status::SIGMA_STATUS_OK, Into::into))
    }
}

/// The HTTP status of the response concerned, or 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_http_status(event: *const sigma_event) -> u16 {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, 0, |e| e.event.http_status.unwrap_or(0)) }
}

/// Sigma's requestId, or NULL. Valid during the callback only.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_request_id(event: *const sigma_event) -> *const c_char {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, std::ptr::null(), |e| e.request_id.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())) }
}

/// The failure's message, or why the cache was bypassed, or NULL; never a
/// secret. Valid during the callback only.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_message(event: *const sigma_event) -> *const c_char {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, std::ptr::null(), |e| e.message.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())) }
}

/// Which attempt of the request (1 for the first), or 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_attempt(event: *const sigma_event) -> u32 {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, 0, |e| e.event.attempt) }
}

/// How long before the next attempt, in microseconds (RETRY_SCHEDULED), or 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_wait_us(event: *const sigma_event) -> u64 {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, 0, |e| e.event.wait.map_or(0, |w| w.as_micros() as u64)) }
}

/// How long the request took, in microseconds (TOKEN_OBTAINED,
/// REFRESH_FAILED), or 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_duration_us(event: *const sigma_event) -> u64 {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, 0, |e| e.event.duration.map_or(0, |d| d.as_micros() as u64)) }
}

/// The serial of the token concerned, or 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_serial(event: *const sigma_event) -> u64 {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, 0, |e| e.event.serial.unwrap_or(0)) }
}

/// The token's lifetime in seconds (TOKEN_OBTAINED), or 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_expires_in(event: *const sigma_event) -> i64 {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, 0, |e| e.event.expires_in.map_or(0, |d| d.as_secs() as i64)) }
}

/// 1 when a background refresh (not a waiting caller) did it, else 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_event_background(event: *const sigma_event) -> c_int {
    // SAFETY: NULL or the event lent to the running callback, per the contract.
    unsafe { read(event, 0, |e| c_int::from(e.event.background)) }
}

/// A client's counters since it was created. Fields are only ever appended:
/// pass `sizeof(sigma_stats)` to `sigma_client_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sigma_stats {
    /// Calls that returned a token (`sigma_client_token`,
    /// `sigma_client_cached_token`, and `sigma_client_serial_is_current` or
    /// `sigma_client_token_is_current` answering 1).
    pub tokens_served: u64,
    pub client_credentials_ok: u64,
    pub client_credentials_failed: u64,
    pub refresh_token_ok: u64,
    pub refresh_token_failed: u64,
    pub token_exchange_ok: u64,
    pub token_exchange_failed: u64,
    pub background_refreshes: u64,
    /// Attempts retried after a transient failure.
    pub retries: u64,
    /// Tokens taken from the token cache or the token store shared by hosts.
    pub cache_hits: u64,
    /// Tokens dropped after a caller reported them refused.
    pub invalidations: u64,
    /// Unix milliseconds of the last token obtained / the last failed request; 0 for never.
    pub last_success_unix_ms: i64,
    pub last_failure_unix_ms: i64,
}

/// Writes the client's counters to `*stats_out`, at most `stats_size` bytes of
/// them (pass `sizeof(sigma_stats)`; a caller built against an older, shorter
/// `sigma_stats` gets the fields it knows).
#[no_mangle]
pub unsafe extern "C" fn sigma_client_stats(
    client: *const sigma_client,
    stats_out: *mut sigma_stats,
    stats_size: usize,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live client, per the contract.
        let client = unsafe { load(client, "client")? };
        if stats_out.is_null() {
            return Err(Error::invalid_argument("stats_out is NULL"));
        }
        let s = client.stats();
        let stats = sigma_stats {
            tokens_served: s.tokens_served,
            client_credentials_ok: s.client_credentials_ok,
            client_credentials_failed: s.client_credentials_failed,
            refresh_token_ok: s.refresh_token_ok,
            refresh_token_failed: s.refresh_token_failed,
            token_exchange_ok: s.token_exchange_ok,
            token_exchange_failed: s.token_exchange_failed,
            background_refreshes: s.background_refreshes,
            retries: s.retries,
            cache_hits: s.cache_hits,
            invalidations: s.invalidations,
            last_success_unix_ms: s.last_success_unix_ms,
            last_failure_unix_ms: s.last_failure_unix_ms,
        };
        let size = stats_size.min(std::mem::size_of::<sigma_stats>());
        // SAFETY: the caller lends `stats_size` writable bytes at `stats_out`.
        unsafe {
            std::ptr::copy_nonoverlapping((&stats as *const sigma_stats).cast::<u8>(), stats_out.cast::<u8>(), size)
        };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_names_and_levels_are_the_cores() {
        for kind in EventKind::ALL {
            assert_eq!(c_name(kind).to_str().unwrap(), kind.name());
            assert_eq!(sigma_event_kind_is_warning(kind as u32) == 1, kind.is_warning());
            assert_eq!(EventKind::from_value(kind as u32), Some(kind));
        }
        assert_eq!(EventKind::from_value(0), None);
        assert_eq!(EventKind::from_value(EventKind::ALL.len() as u32 + 1), None);
        assert_eq!(sigma_event_kind_is_warning(0), 0);
    }
}
