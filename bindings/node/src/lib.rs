//! The native half of the npm package `sigma-auth`: a thin Node-API layer over
//! the Rust core (napi-rs). What users call is the JavaScript in
//! `bindings/node/index.js`; this module only moves values across.
//!
//! - Nothing here waits on the network on the JavaScript thread: a token that
//!   needs a request is fetched on a thread of a small pool ([`pool`]), which
//!   settles a Promise (a Node-API deferred); the JavaScript side lets one
//!   such fetch per client run at a time, so a herd of callers costs one job.
//! - The client's published serial word ([`sigma_auth::Client::serial_word`])
//!   is handed to JavaScript as an 8-byte external ArrayBuffer, so the cached
//!   path reads it with `Atomics.load` and makes no call (see index.js).
//! - Failures come back as plain objects (code, message, HTTP status, request
//!   id) that index.js turns into `SigmaAuthError`; no secret or token is ever
//!   in one (the core's messages never hold them).

#![deny(unsafe_code)]

mod pool;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use sigma_auth::{Config, Error as SigmaError, ErrorCode, Event, Origin, Token};

/// A failure, as index.js builds a `SigmaAuthError` from it.
#[napi(object)]
pub struct Failure {
    /// The stable name of the C status, e.g. `INVALID_CLIENT`.
    pub code: String,
    pub message: String,
    pub http_status: Option<u32>,
    pub request_id: Option<String>,
}

impl From<SigmaError> for Failure {
    fn from(error: SigmaError) -> Failure {
        Failure {
            code: error.code().name().to_owned(),
            message: error.message().to_owned(),
            http_status: error.http_status().map(u32::from),
            request_id: error.request_id().map(str::to_owned),
        }
    }
}

/// A failure thrown as a JavaScript `Error` whose message index.js reads
/// (`SIGMA_AUTH_ERROR` and a JSON object: code, message, HTTP status, request
/// id) to make a `SigmaAuthError`.
fn thrown(failure: impl Into<Failure>) -> Error {
    let f = failure.into();
    let body = serde_json::json!({
        "code": f.code,
        "message": f.message,
        "httpStatus": f.http_status,
        "requestId": f.request_id,
    });
    Error::from_reason(format!("SIGMA_AUTH_ERROR{body}"))
}

fn failure(code: &str, message: impl Into<String>) -> Failure {
    Failure { code: code.to_owned(), message: message.into(), http_status: None, request_id: None }
}

/// A token, as index.js wraps it in its `Token` class.
#[napi(object)]
pub struct TokenView {
    pub access_token: String,
    pub token_type: String,
    /// Unix milliseconds.
    pub expires_at_ms: f64,
    /// The token's serial (below 2^53: one per token obtained in this process).
    pub serial: f64,
    /// CLOCK_MONOTONIC milliseconds until which the token may be served without
    /// asking again (see [`sigma_auth::Client::fresh_until`]); 0 when it is not
    /// the current token.
    pub fresh_until_ms: f64,
}

/// A token or a failure: the result of every call that can fail.
#[napi(object)]
pub struct TokenOutcome {
    pub token: Option<TokenView>,
    pub error: Option<Failure>,
}

impl TokenOutcome {
    fn of(client: &sigma_auth::Client, result: sigma_auth::Result<Arc<Token>>) -> TokenOutcome {
        match result {
            Ok(token) => TokenOutcome { token: Some(view(client, &token)), error: None },
            Err(error) => TokenOutcome { token: None, error: Some(error.into()) },
        }
    }

    fn failed(failure: Failure) -> TokenOutcome {
        TokenOutcome { token: None, error: Some(failure) }
    }
}

fn view(client: &sigma_auth::Client, token: &Token) -> TokenView {
    let expires_at_ms = token.expires_at().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64);
    TokenView {
        access_token: token.access_token().to_owned(),
        token_type: token.token_type().to_owned(),
        expires_at_ms,
        serial: token.serial() as f64,
        fresh_until_ms: client.fresh_until(token.serial()) as f64 / 1e6,
    }
}

/// Options of a client, as index.js checked and named them.
#[napi(object)]
pub struct ClientOptions {
    /// `"endpoint"` (with `endpoint`, `client_id`, `client_secret`), `"env"`
    /// (SIGMA_* variables) or `"login"` (a stored sign-in, `profile`).
    pub source: String,
    pub endpoint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub profile: Option<String>,
    pub token_cache: Option<String>,
    /// A Redis URL, which may hold a password: only ever given to the core.
    pub token_store: Option<String>,
    pub timeout_ms: Option<f64>,
    pub connect_timeout_ms: Option<f64>,
    pub max_attempts: Option<u32>,
    pub ca_file: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub user_agent_suffix: Option<String>,
}

/// One event, as `onEvent` receives it.
#[napi(object)]
pub struct EventView {
    pub kind: String,
    pub warning: bool,
    pub grant: Option<String>,
    pub status: Option<String>,
    pub http_status: Option<u32>,
    pub request_id: Option<String>,
    pub message: Option<String>,
    pub attempt: u32,
    pub wait_ms: Option<f64>,
    pub duration_ms: Option<f64>,
    pub serial: Option<f64>,
    pub expires_in_s: Option<f64>,
    pub background: bool,
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> EventView {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        EventView {
            kind: event.kind.name().to_owned(),
            warning: event.kind.is_warning(),
            grant: event.grant.map(str::to_owned),
            status: event.status.map(|code| code.name().to_owned()),
            http_status: event.http_status.map(u32::from),
            request_id: event.request_id.clone(),
            message: event.message.clone(),
            attempt: event.attempt,
            wait_ms: event.wait.map(ms),
            duration_ms: event.duration.map(ms),
            serial: event.serial.map(|s| s as f64),
            expires_in_s: event.expires_in.map(|d| d.as_secs_f64()),
            background: event.background,
        }
    }
}

/// The client's counters (see `sigma_auth::Stats`).
#[napi(object)]
pub struct StatsView {
    pub tokens_served: f64,
    pub client_credentials_ok: f64,
    pub client_credentials_failed: f64,
    pub refresh_token_ok: f64,
    pub refresh_token_failed: f64,
    pub token_exchange_ok: f64,
    pub token_exchange_failed: f64,
    pub background_refreshes: f64,
    pub retries: f64,
    pub cache_hits: f64,
    pub invalidations: f64,
    pub last_success_unix_ms: f64,
    pub last_failure_unix_ms: f64,
}

/// What settles a token Promise, on the JavaScript thread.
type Settle = Box<dyn FnOnce(Env) -> Result<TokenOutcome> + Send>;
/// What settles `createAsync`'s Promise, on the JavaScript thread.
type Made = Box<dyn FnOnce(Env) -> Result<NativeClient> + Send>;

type EventFunction = ThreadsafeFunction<EventView, (), EventView, Status, false, true>;

/// Milliseconds as a duration; the core judges the range (with its message).
fn millis(what: &str, ms: f64) -> std::result::Result<Duration, Failure> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(failure("INVALID_ARGUMENT", format!("{what} must be a number of milliseconds")));
    }
    Ok(Duration::from_secs_f64(ms.min(1e12) / 1e3))
}

fn make_config(options: ClientOptions, on_event: Option<EventFunction>) -> std::result::Result<Config, Failure> {
    let mut config = match options.source.as_str() {
        "endpoint" => Config::new(
            options.endpoint.as_deref().unwrap_or_default(),
            options.client_id.as_deref().unwrap_or_default(),
            options.client_secret.as_deref().unwrap_or_default(),
        )?,
        "env" => Config::from_env()?,
        "login" => Config::from_login(options.profile.as_deref().unwrap_or(sigma_auth::DEFAULT_PROFILE))?,
        other => return Err(failure("INVALID_ARGUMENT", format!("unknown source {other:?}"))),
    };
    config.set_language("node")?;
    if let Some(dir) = &options.token_cache {
        config.set_token_cache(dir)?;
    }
    if let Some(url) = &options.token_store {
        config.set_token_store(url)?;
    }
    if let Some(ms) = options.timeout_ms {
        config.set_timeout(millis("timeout", ms)?)?;
    }
    if let Some(ms) = options.connect_timeout_ms {
        config.set_connect_timeout(millis("connectTimeout", ms)?)?;
    }
    if let Some(attempts) = options.max_attempts {
        config.set_max_attempts(attempts)?;
    }
    if let Some(path) = &options.ca_file {
        config.set_ca_file(path)?;
    }
    for origin in options.allowed_origins.iter().flatten() {
        config.allow_origin(origin)?;
    }
    if let Some(suffix) = &options.user_agent_suffix {
        config.set_user_agent_suffix(suffix)?;
    }
    if let Some(function) = on_event {
        // Non-blocking: a full queue drops the event rather than stall a
        // request; the function is weak (unref'd), so it keeps no process alive.
        config.set_event_callback(move |event| {
            function.call(EventView::from(event), ThreadsafeFunctionCallMode::NonBlocking);
        });
    }
    Ok(config)
}

/// The core's client, until `close()`.
#[napi]
pub struct NativeClient {
    inner: Mutex<Option<Arc<sigma_auth::Client>>>,
    /// Set by `close()`: a fetch still queued then does not run.
    closed: Arc<AtomicBool>,
    /// The pool's key: the token endpoint and client id (see pool.rs).
    key: String,
    /// The client's deadline, which a fetch waiting in the pool's queue also counts.
    timeout: Duration,
    description: String,
}

fn closed() -> Failure {
    failure("CLOSED", "the client is closed")
}

impl NativeClient {
    fn wrap(client: sigma_auth::Client, description: String) -> NativeClient {
        let config = client.config();
        let key = format!("{} {}", config.endpoint().token_url(), config.client_id());
        let timeout = config.timeout();
        NativeClient {
            inner: Mutex::new(Some(Arc::new(client))),
            closed: Arc::new(AtomicBool::new(false)),
            key,
            timeout,
            description,
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<sigma_auth::Client>>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn client(&self) -> Option<Arc<sigma_auth::Client>> {
        self.slot().clone()
    }
}

fn describe(config: &Config) -> String {
    format!("{} as {:?}", config.endpoint().api_base_url(), config.client_id())
}

#[napi]
impl NativeClient {
    /// Makes a client.
    #[napi(factory)]
    pub fn create(options: ClientOptions, on_event: Option<EventFunction>) -> Result<NativeClient> {
        let config = make_config(options, on_event).map_err(thrown)?;
        let description = describe(&config);
        Ok(NativeClient::wrap(sigma_auth::Client::new(config), description))
    }

    /// Makes a client whose config is read on a thread of the pool (a stored
    /// sign-in: the keyring may take its time); rejects with a failure.
    #[napi(ts_return_type = "Promise<NativeClient>")]
    pub fn create_async<'env>(
        env: &'env Env,
        options: ClientOptions,
        on_event: Option<EventFunction>,
    ) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<NativeClient, Made>()?;
        let key = format!("config {}", options.source);
        let job = move || match make_config(options, on_event) {
            Ok(config) => {
                let description = describe(&config);
                let client = NativeClient::wrap(sigma_auth::Client::new(config), description);
                deferred.resolve(Box::new(move |_| Ok(client)));
            }
            Err(failure) => deferred.reject(thrown(failure)),
        };
        pool::run(key, Box::new(job))
            .map_err(|error| thrown(failure("INTERNAL", format!("could not start a thread: {error}"))))?;
        Ok(promise)
    }

    /// What `util.inspect` shows: the endpoint and the client id, never the secret.
    #[napi(getter)]
    pub fn description(&self) -> String {
        self.description.clone()
    }

    /// The 8 bytes of the published serial word, little-endian (see
    /// `sigma_auth::Client::serial_word`); readable for the life of the process.
    #[napi]
    pub fn word<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let Some(client) = self.client() else {
            return Err(thrown(closed()));
        };
        word_buffer(env, client.serial_word())
    }

    /// The current token if one is usable now (never waits on the network);
    /// `null` otherwise. Starts the background refresh when it is due.
    #[napi]
    pub fn cached(&self) -> TokenOutcome {
        let Some(client) = self.client() else { return TokenOutcome::failed(closed()) };
        match client.cached_token() {
            Some(token) => TokenOutcome::of(&client, Ok(token)),
            None => TokenOutcome { token: None, error: None },
        }
    }

    /// A token, from a thread of its own when it needs a request: the Promise
    /// settles with the outcome, never rejects.
    #[napi(ts_return_type = "Promise<TokenOutcome>")]
    pub fn fetch_token<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<TokenOutcome, Settle>()?;
        let Some(client) = self.client() else {
            deferred.resolve(Box::new(|_| Ok(TokenOutcome::failed(closed()))));
            return Ok(promise);
        };
        let (closed_flag, timeout, queued) = (self.closed.clone(), self.timeout, Instant::now());
        let job = move || {
            let outcome = if closed_flag.load(Ordering::Acquire) {
                TokenOutcome::failed(closed())
            } else if queued.elapsed() >= timeout {
                TokenOutcome::failed(failure(
                    "TIMEOUT",
                    format!("the deadline ({} ms) passed while the fetch waited for its turn", timeout.as_millis()),
                ))
            } else {
                TokenOutcome::of(&client, client.token())
            };
            deferred.resolve(Box::new(move |_| Ok(outcome)));
        };
        pool::run(self.key.clone(), Box::new(job))
            .map_err(|error| thrown(failure("INTERNAL", format!("could not start a thread: {error}"))))?;
        Ok(promise)
    }

    /// CLOCK_MONOTONIC milliseconds until which the token with `serial` may be
    /// served without asking again; 0 when it is not the current usable token.
    #[napi]
    pub fn fresh_until(&self, serial: f64) -> f64 {
        match self.client() {
            Some(client) => client.fresh_until(serial as u64) as f64 / 1e6,
            None => 0.0,
        }
    }

    #[napi]
    pub fn invalidate(&self, access_token: String) {
        if let Some(client) = self.client() {
            client.invalidate(&access_token);
        }
    }

    #[napi]
    pub fn invalidate_serial(&self, serial: f64) {
        if let Some(client) = self.client() {
            client.invalidate_serial(serial as u64);
        }
    }

    /// A client acting as `email` (see `sigma_auth::Client::impersonate`).
    #[napi]
    pub fn impersonate(&self, email: String, tenant: Option<String>) -> Result<NativeClient> {
        let client = self.client().ok_or_else(|| thrown(closed()))?;
        let derived = client.impersonate(&email, tenant.as_deref()).map_err(thrown)?;
        Ok(NativeClient::wrap(derived, format!("{} acting as {email:?}", self.description)))
    }

    /// Whether a request to this origin may carry the client's token.
    #[napi]
    pub fn allows_origin(&self, scheme: String, host: String, port: Option<u32>) -> bool {
        let Some(client) = self.client() else { return false };
        let port = match port.map(u16::try_from) {
            Some(Ok(port)) => Some(port),
            Some(Err(_)) => return false,
            None => None,
        };
        Origin::new(&scheme, &host, port).is_some_and(|origin| client.config().allows_origin(&origin))
    }

    #[napi]
    pub fn stats(&self) -> Option<StatsView> {
        let s = self.client()?.stats();
        Some(StatsView {
            tokens_served: s.tokens_served as f64,
            client_credentials_ok: s.client_credentials_ok as f64,
            client_credentials_failed: s.client_credentials_failed as f64,
            refresh_token_ok: s.refresh_token_ok as f64,
            refresh_token_failed: s.refresh_token_failed as f64,
            token_exchange_ok: s.token_exchange_ok as f64,
            token_exchange_failed: s.token_exchange_failed as f64,
            background_refreshes: s.background_refreshes as f64,
            retries: s.retries as f64,
            cache_hits: s.cache_hits as f64,
            invalidations: s.invalidations as f64,
            last_success_unix_ms: s.last_success_unix_ms as f64,
            last_failure_unix_ms: s.last_failure_unix_ms as f64,
        })
    }

    /// Drops this handle's client: later calls fail with CLOSED; fetches in
    /// flight finish (they hold the client) and settle.
    #[napi]
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.slot().take();
    }
}

/// CLOCK_MONOTONIC milliseconds: the clock of `freshUntil`.
#[napi]
pub fn monotonic_ms() -> f64 {
    sigma_auth::monotonic_ns() as f64 / 1e6
}

/// The stable names of the statuses, in the order of their values (1, 2, ...).
#[napi]
pub fn status_names() -> Vec<String> {
    ErrorCode::ALL.iter().map(|code| code.name().to_owned()).collect()
}

/// A signed embed URL (see `sigma_auth::sign_embed_url`); `claims` is a JSON object.
#[napi]
pub fn sign_embed_url(
    url: String,
    client_id: String,
    secret: String,
    claims_json: String,
    ttl_s: f64,
) -> Result<String> {
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&claims_json)
        .map_err(|_| thrown(failure("INVALID_ARGUMENT", "the claims must be a JSON object")))?;
    // Whole seconds (index.js checks); out of range becomes 0, which the core refuses with its message.
    let ttl = if ttl_s.is_finite() && ttl_s >= 0.0 { ttl_s.min(f64::from(u32::MAX)) as u64 } else { 0 };
    sigma_auth::sign_embed_url(&url, &client_id, &secret, &claims, Duration::from_secs(ttl)).map_err(thrown)
}

/// A warehouse OAuth token encrypted for the `oauth_token` embed claim.
#[napi]
pub fn encrypt_embed_oauth_token(oauth_token: String, secret: String) -> Result<String> {
    sigma_auth::encrypt_embed_oauth_token(&oauth_token, &secret).map_err(thrown)
}

/// An ArrayBuffer over the word's 8 bytes. The word is `'static` (the core
/// never frees its slots), so the buffer needs no finaliser.
#[allow(unsafe_code)]
fn word_buffer<'env>(env: &'env Env, word: &'static AtomicU64) -> Result<ArrayBuffer<'env>> {
    let data = word.as_ptr().cast::<u8>();
    let mut value = std::ptr::null_mut();
    // SAFETY: `data` points to 8 bytes that live for the rest of the process
    // (a `'static` atomic); no finaliser is given, so Node never frees it.
    // napi-rs's own wrapper is not used: in debug builds it refuses a pointer
    // it saw before, and a slot is reused by later clients.
    let status = unsafe {
        napi::sys::napi_create_external_arraybuffer(env.raw(), data.cast(), 8, None, std::ptr::null_mut(), &mut value)
    };
    if status != napi::sys::Status::napi_ok {
        return Err(thrown(failure("INTERNAL", "could not make the serial word's buffer")));
    }
    // SAFETY: `value` is the ArrayBuffer Node just made in this env.
    unsafe { ArrayBuffer::from_napi_value(env.raw(), value) }
}
