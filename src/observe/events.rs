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
use std::sync::Arc;
use std::time::Duration;

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
    /// The token came from the token store shared by hosts (Redis).
    StoreHit = 9,
    /// The token store could not be used; `message` says why. The call went on without it.
    StoreUnavailable = 10,
}

impl EventKind {
    /// Every kind, in the order of their values.
    pub const ALL: [EventKind; 10] = [
        EventKind::TokenObtained,
        EventKind::RefreshStarted,
        EventKind::RefreshFailed,
        EventKind::RetryScheduled,
        EventKind::FallbackToClientCredentials,
        EventKind::Invalidated,
        EventKind::CacheHit,
        EventKind::CacheBypassed,
        EventKind::StoreHit,
        EventKind::StoreUnavailable,
    ];

    /// The kind with this value (`TokenObtained as u32` is 1), if any.
    pub fn from_value(value: u32) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|kind| *kind as u32 == value)
    }

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
            EventKind::StoreHit => "STORE_HIT",
            EventKind::StoreUnavailable => "STORE_UNAVAILABLE",
        }
    }

    /// Whether the event is worth a warning in a log (a failure, a retry, a
    /// fallback, a cache or store bypassed) rather than a debug line.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            EventKind::RefreshFailed
                | EventKind::RetryScheduled
                | EventKind::FallbackToClientCredentials
                | EventKind::CacheBypassed
                | EventKind::StoreUnavailable
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
const MAX_NESTED: usize = 8;

thread_local! {
    /// How many callbacks this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Events of requests made [`MAX_NESTED`] callbacks deep, for this
    /// thread's outermost delivery.
    static PENDING: RefCell<Vec<(EventCallback, Event)>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_callback_is_contained() {
        let mut trace = Trace::default();
        trace.push(Event::new(EventKind::CacheHit));
        let callback: EventCallback = Arc::new(|_| panic!("a bug in someone's callback"));
        trace.deliver(Some(&callback));
    }
}
