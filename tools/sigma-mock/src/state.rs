//! What the mock remembers: issued tokens, queued faults and request counters.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Serialize;

use crate::faults::Fault;
use crate::users::{Directory, Standing};

pub struct State {
    clients: Vec<(String, String)>,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    /// Every token answer waits this long first (`--token-delay-ms`).
    pub token_delay: Duration,
    /// Configured clients that may not impersonate (`--non-admin-client`).
    pub non_admin_clients: Vec<String>,
    /// The embed client id and secret that `/__mock/embed/verify` checks against.
    pub embed_client_id: String,
    pub embed_secret: String,
    /// Where the mock serves, e.g. `http://127.0.0.1:41233`.
    pub base_url: String,
    /// `--throttle`: (rate per second, burst, status), and the bucket's
    /// (tokens, when last filled).
    pub throttle: Option<(f64, f64, u16)>,
    bucket: Mutex<(f64, Option<Instant>)>,
    /// People signing in (`signin.rs`).
    pub signin: crate::signin::SignIn,
    inner: Mutex<Inner>,
    token_in_flight: AtomicU64,
    started: Instant,
}

/// How many token requests `recent_token_requests` remembers.
const REQUEST_LOG: usize = 1000;

#[derive(Default)]
struct Inner {
    access: HashMap<String, Issued>,
    refresh: HashMap<String, Issued>,
    faults: VecDeque<Fault>,
    stats: Stats,
    issued_since_prune: usize,
    directory: Directory,
}

struct Issued {
    client_id: String,
    /// The impersonated user, for tokens from a token exchange.
    subject: Option<Subject>,
    expires: Instant,
}

/// Whom a token obtained by token exchange acts for.
#[derive(Clone)]
pub struct Subject {
    pub email: String,
    pub tenant: Option<String>,
}

pub enum Redeem {
    Valid { client_id: String },
    Expired,
    Unknown,
    WrongClient,
}

/// How a presented access token was judged.
pub enum Lookup {
    Valid { client_id: String, subject: Option<Subject> },
    Expired,
    Unknown,
}

#[derive(Default, Clone, Serialize)]
pub struct Stats {
    /// Token requests received, faulted ones included.
    pub token_requests: u64,
    /// By the `grant_type` sent ("none" when missing or unreadable).
    pub by_grant: BTreeMap<String, u64>,
    /// By the status answered ("dropped" when the connection was closed instead).
    pub by_status: BTreeMap<String, u64>,
    pub whoami: u64,
    pub whoami_by_status: BTreeMap<String, u64>,
    /// TCP connections accepted: tells a test whether a client kept one alive.
    pub connections: u64,
    /// The most token requests that were being served at the same moment.
    pub max_concurrent_token_requests: u64,
    pub faults_pending: usize,
    pub last_token_request: Option<RequestInfo>,
    /// The last 1000 token requests, oldest first: when each arrived and its grant.
    pub recent_token_requests: VecDeque<LoggedRequest>,
    /// The last 200 requests to anything but the token endpoint and /__mock/*,
    /// with every header as received (bearer tokens included: this is how tests
    /// see where a token went).
    pub recent_api_requests: VecDeque<ApiRequest>,
    /// Token requests the edge (`--throttle`) turned away.
    pub throttled: u64,
    /// Token exchanges answered 200, by the impersonated user's email.
    pub exchanges_by_subject: BTreeMap<String, u64>,
}

#[derive(Clone, Serialize)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Serialize)]
pub struct LoggedRequest {
    /// Milliseconds since the mock started.
    pub at_ms: u64,
    pub grant: String,
}

/// What the last token request looked like on the wire (no secrets).
#[derive(Default, Clone, Serialize)]
pub struct RequestInfo {
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    /// "basic", "form", "none", or "bearer" (the actor token of a token exchange).
    pub client_auth: String,
    /// The form's field names, in the order sent.
    pub form_fields: Vec<String>,
}

impl State {
    pub fn new(clients: Vec<(String, String)>, expires_in: u64, refresh_expires_in: u64) -> Self {
        State {
            clients,
            expires_in,
            refresh_expires_in,
            token_delay: Duration::ZERO,
            non_admin_clients: Vec::new(),
            embed_client_id: String::new(),
            embed_secret: String::new(),
            base_url: String::new(),
            throttle: None,
            bucket: Mutex::new((0.0, None)),
            signin: Default::default(),
            inner: Mutex::new(Inner::default()),
            token_in_flight: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking handler must not take the whole mock down with it.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn client_secret_matches(&self, client_id: &str, secret: &str) -> bool {
        self.clients.iter().any(|(id, s)| id == client_id && constant_time_eq(s, secret))
    }

    /// The secret of a configured client: the key of its subject tokens.
    pub fn client_secret(&self, client_id: &str) -> Option<&str> {
        self.clients.iter().find(|(id, _)| id == client_id).map(|(_, s)| s.as_str())
    }

    /// Configured clients are admin credentials unless `--non-admin-client` says otherwise.
    pub fn is_admin_client(&self, client_id: &str) -> bool {
        self.client_secret(client_id).is_some() && !self.non_admin_clients.iter().any(|c| c == client_id)
    }

    pub fn set_directory(&self, directory: Directory) {
        self.lock().directory = directory;
    }

    pub fn judge_user(&self, email: &str) -> Standing {
        self.lock().directory.judge(email)
    }

    pub fn record_exchange(&self, email: &str) {
        *self.lock().stats.exchanges_by_subject.entry(email.to_string()).or_default() += 1;
    }

    /// Counts a token request and hands back the fault it must suffer, if any.
    pub fn begin_token_request(&self) -> (InFlight<'_>, Option<Fault>) {
        let now = self.token_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let mut inner = self.lock();
        inner.stats.token_requests += 1;
        if now > inner.stats.max_concurrent_token_requests {
            inner.stats.max_concurrent_token_requests = now;
        }
        let throttled = self.throttled();
        if throttled.is_some() {
            inner.stats.throttled += 1;
        }
        let fault = throttled.or_else(|| inner.faults.pop_front());
        (InFlight(self), fault)
    }

    /// The edge's answer when its bucket is empty (see `--throttle`).
    fn throttled(&self) -> Option<Fault> {
        let (rate, burst, status) = self.throttle?;
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, filled) = *bucket;
        let tokens = match filled {
            None => burst,
            Some(at) => (tokens + now.duration_since(at).as_secs_f64() * rate).min(burst),
        };
        let (left, fault) = if tokens >= 1.0 {
            (tokens - 1.0, None)
        } else {
            (tokens, Some(Fault::Status { status, retry_after: None, html: true, message: None }))
        };
        *bucket = (left, Some(now));
        fault
    }

    pub fn record_grant(&self, grant: &str, info: RequestInfo) {
        let at_ms = self.started.elapsed().as_millis() as u64;
        let mut inner = self.lock();
        *inner.stats.by_grant.entry(grant.to_string()).or_default() += 1;
        inner.stats.last_token_request = Some(info);
        let log = &mut inner.stats.recent_token_requests;
        if log.len() == REQUEST_LOG {
            log.pop_front();
        }
        log.push_back(LoggedRequest { at_ms, grant: grant.to_string() });
    }

    pub fn record_api_request(&self, method: &str, path: &str, headers: &hyper::HeaderMap) {
        let headers =
            headers.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
        let mut inner = self.lock();
        let log = &mut inner.stats.recent_api_requests;
        if log.len() == 200 {
            log.pop_front();
        }
        log.push_back(ApiRequest { method: method.to_string(), path: path.to_string(), headers });
    }

    pub fn record_token_status(&self, status: &str) {
        *self.lock().stats.by_status.entry(status.to_string()).or_default() += 1;
    }

    pub fn record_connection(&self) {
        self.lock().stats.connections += 1;
    }

    pub fn record_whoami(&self, status: u16) {
        let mut inner = self.lock();
        inner.stats.whoami += 1;
        *inner.stats.whoami_by_status.entry(status.to_string()).or_default() += 1;
    }

    pub fn push_faults(&self, faults: Vec<Fault>) {
        self.lock().faults.extend(faults);
    }

    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        stats.faults_pending = inner.faults.len();
        stats
    }

    pub fn reset(&self, forget_tokens: bool) {
        let mut inner = self.lock();
        inner.faults.clear();
        inner.stats = Stats::default();
        if forget_tokens {
            inner.access.clear();
            inner.refresh.clear();
        }
    }

    /// Makes every issued access token (and, if asked, refresh token) expire now.
    pub fn expire(&self, refresh_too: bool) {
        let past = Instant::now() - Duration::from_millis(1);
        let mut inner = self.lock();
        inner.access.values_mut().for_each(|t| t.expires = past);
        if refresh_too {
            inner.refresh.values_mut().for_each(|t| t.expires = past);
        }
    }

    /// Issues a new access/refresh token pair to `client_id`.
    pub fn issue(&self, client_id: &str) -> (String, String) {
        let access = random_token("mock_at_");
        let refresh = random_token("mock_rt_");
        let now = Instant::now();
        let mut inner = self.lock();
        inner.prune_now_and_then(now);
        let owner = || client_id.to_string();
        inner.access.insert(
            access.clone(),
            Issued { client_id: owner(), subject: None, expires: now + Duration::from_secs(self.expires_in) },
        );
        inner.refresh.insert(
            refresh.clone(),
            Issued { client_id: owner(), subject: None, expires: now + Duration::from_secs(self.refresh_expires_in) },
        );
        (access, refresh)
    }

    /// Issues an access token (and, as Sigma does, no refresh token) with which
    /// `client_id` acts as `subject`.
    pub fn issue_for_user(&self, client_id: &str, subject: Subject) -> String {
        let access = random_token("mock_ut_");
        let now = Instant::now();
        let mut inner = self.lock();
        inner.prune_now_and_then(now);
        let issued = Issued {
            client_id: client_id.to_string(),
            subject: Some(subject),
            expires: now + Duration::from_secs(self.expires_in),
        };
        inner.access.insert(access.clone(), issued);
        access
    }

    /// Redeems a refresh token: each is good for one use only. A token presented
    /// by another client than its owner is refused and left intact, so a stranger
    /// cannot burn someone else's token.
    pub fn redeem_refresh(&self, token: &str, presenting_client: Option<&str>) -> Redeem {
        let mut inner = self.lock();
        let owner = match inner.refresh.get(token) {
            None => return Redeem::Unknown,
            Some(t) => t.client_id.clone(),
        };
        if presenting_client.is_some_and(|c| c != owner) {
            return Redeem::WrongClient;
        }
        let issued = inner.refresh.remove(token).expect("looked up under the same lock");
        if issued.expires <= Instant::now() {
            Redeem::Expired
        } else {
            Redeem::Valid { client_id: owner }
        }
    }

    pub fn lookup_access(&self, token: &str) -> Lookup {
        let inner = self.lock();
        judge(inner.access.get(token))
    }
}

impl Inner {
    fn prune_now_and_then(&mut self, now: Instant) {
        self.issued_since_prune += 1;
        if self.issued_since_prune >= 10_000 {
            // Long benchmark runs issue millions of tokens: forget the dead ones.
            self.issued_since_prune = 0;
            self.access.retain(|_, t| t.expires > now);
            self.refresh.retain(|_, t| t.expires > now);
        }
    }
}

fn judge(issued: Option<&Issued>) -> Lookup {
    match issued {
        None => Lookup::Unknown,
        Some(t) if t.expires <= Instant::now() => Lookup::Expired,
        Some(t) => Lookup::Valid { client_id: t.client_id.clone(), subject: t.subject.clone() },
    }
}

/// Decrements the in-flight counter when the response has been produced.
pub struct InFlight<'a>(&'a State);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.token_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// 256 random bits, URL-safe: unguessable and never repeated.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub fn request_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
