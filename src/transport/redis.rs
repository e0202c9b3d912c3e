//! The connection to a token store shared by hosts: a Redis server, spoken to
//! through the `redis` crate (no protocol of our own). What is stored there and
//! why is `store/redis.rs`'s business, and the pacing shared through it
//! `oauth/pacing.rs`'s; this module only gets a command answered, or says at
//! once that it cannot.
//!
//! A store never fails a call and never holds one up for long:
//! - every command runs under a short timeout ([`COMMAND_TIMEOUT`], or a
//!   quarter of the caller's time left if that is less), connecting included;
//! - a server that refuses, times out or breaks the protocol is marked down:
//!   callers skip it at once (no waiting on a dead server), while one thread
//!   of this process reconnects in the background with backoff and brings it
//!   back;
//! - connections live in a [`PerProcess`] slot, so a child after fork opens
//!   its own and never writes into its parent's socket (nor closes it).
//!
//! The URL may carry a password: it is kept in a [`Secret`], and only
//! [`StoreUrl::shown`] (password replaced by `***`) ever reaches a message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ureq::tls::Certificate;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::sys::PerProcess;

/// The longest a store command (or connect) may take.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// The first wait before reconnecting to a store that went down; doubled up to [`MAX_RECONNECT_WAIT`].
const FIRST_RECONNECT_WAIT: Duration = Duration::from_millis(250);
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(10);
/// Idle connections kept per store and process.
const MAX_IDLE: usize = 4;
const MAX_URL_LEN: usize = 4096;

/// A token store's URL: `redis://[user:password@]host[:port][/db]`, or
/// `rediss://` for TLS.
#[derive(Clone)]
pub(crate) struct StoreUrl {
    url: Secret,
    shown: String,
    tls: bool,
}

impl StoreUrl {
    /// Checks a URL; the error never repeats it (it may hold a password).
    pub(crate) fn parse(text: &str) -> Result<StoreUrl> {
        let bad = |why: &str| {
            Error::invalid_argument(format!(
                "the token store URL {why}: expected redis://[user:password@]host[:port][/db] or rediss://... (TLS)"
            ))
        };
        if text.trim().is_empty() {
            return Err(bad("is empty"));
        }
        if text.len() > MAX_URL_LEN || text.chars().any(char::is_control) {
            return Err(bad("is too long or holds control characters"));
        }
        let scheme = text.split_once("://").map_or("", |(scheme, _)| scheme);
        if !scheme.eq_ignore_ascii_case("redis") && !scheme.eq_ignore_ascii_case("rediss") {
            return Err(bad("has another scheme"));
        }
        let Some(url) = redis::parse_redis_url(text) else { return Err(bad("is not a URL")) };
        let tls = match url.scheme() {
            "redis" => false,
            "rediss" => true,
            _ => return Err(bad("has another scheme")),
        };
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else { return Err(bad("names no host")) };
        if url.fragment().is_some() || url.query().is_some() {
            return Err(bad("has a query or fragment (such as #insecure), which sigma-auth does not take"));
        }
        let db = url.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u16>().is_err() {
            return Err(bad("has a database that is not a number"));
        }
        // The redis crate's own reading of it, so a URL accepted here connects.
        redis::IntoConnectionInfo::into_connection_info(url.as_str()).map_err(|_| bad("is not one Redis accepts"))?;
        let user = match (url.username(), url.password()) {
            ("", None) => String::new(),
            ("", Some(_)) => "***@".to_string(),
            (user, None) => format!("{user}@"),
            (user, Some(_)) => format!("{user}:***@"),
        };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let db = if db.is_empty() { String::new() } else { format!("/{db}") };
        let shown = format!("{}://{user}{host}{port}{db}", url.scheme());
        Ok(StoreUrl { url: Secret::new(text), shown, tls })
    }

    /// The URL with its password replaced by `***`: the only form that is shown.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Why the store was not used: never the URL's password, never a value.
#[derive(Debug, Clone)]
pub(crate) struct Unavailable(pub(crate) String);

/// The connections of this process to one store.
pub(crate) struct Link {
    client: redis::Client,
    shown: String,
    idle: Mutex<Vec<redis::Connection>>,
    down: Mutex<Option<Down>>,
    reconnecting: AtomicBool,
}

struct Down {
    why: String,
    /// When the background thread tries again.
    retry_at: Instant,
}

static LINKS: PerProcess<Mutex<HashMap<String, Arc<Link>>>> = PerProcess::new();

/// This process's link to the store of `settings`, if it has one.
pub(crate) fn link(settings: &Settings) -> Option<std::result::Result<Arc<Link>, Unavailable>> {
    let text = settings.token_store.as_ref()?;
    let links = LINKS.get(|_| Mutex::default());
    let mut links = lock(&links);
    // A CA file changes how TLS is checked: its own link.
    let ca = settings.ca_certs.as_ref().map_or(0, |c| Arc::as_ptr(c) as usize);
    let key = format!("{ca:x}\n{}", text.expose());
    if let Some(link) = links.get(&key) {
        return Some(Ok(link.clone()));
    }
    let made = Link::new(text.expose(), settings.ca_certs.as_deref().map(Vec::as_slice));
    if let Ok(link) = &made {
        links.insert(key, link.clone());
    }
    Some(made)
}

impl Link {
    fn new(text: &str, ca: Option<&[Certificate<'static>]>) -> std::result::Result<Arc<Link>, Unavailable> {
        let url = StoreUrl::parse(text).map_err(|e| Unavailable(e.message().to_string()))?;
        let client = if url.tls {
            // With a CA file, TLS trusts what the config trusts; else the
            // operating system's store (SSL_CERT_FILE, SSL_CERT_DIR).
            let root_cert = ca.map(pem);
            redis::Client::build_with_tls(url.url.expose(), redis::TlsCertificates { client_tls: None, root_cert })
        } else {
            redis::Client::open(url.url.expose())
        };
        let client = client.map_err(|e| Unavailable(format!("{}: {}", url.shown, describe(&e))))?;
        Ok(Arc::new(Link {
            client,
            shown: url.shown,
            idle: Mutex::default(),
            down: Mutex::default(),
            reconnecting: AtomicBool::new(false),
        }))
    }

    /// Runs `command` on a connection within a short timeout bounded by
    /// `deadline`; or fails at once when the store is down. A failure that
    /// says the server is unreachable, stopped or confused marks it down and
    /// starts the background reconnect.
    pub(crate) fn run<T>(
        self: &Arc<Self>,
        deadline: Instant,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> std::result::Result<T, Unavailable> {
        if let Some(down) = lock(&self.down).as_ref() {
            return Err(Unavailable(down.why.clone()));
        }
        let budget = budget(deadline);
        let idle = lock(&self.idle).pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => match self.client.get_connection_with_timeout(budget) {
                Ok(connection) => connection,
                Err(e) => return Err(self.went_down(&e, budget)),
            },
        };
        let timeouts = connection.set_read_timeout(Some(budget)).and(connection.set_write_timeout(Some(budget)));
        if let Err(e) = timeouts {
            return Err(self.went_down(&e, budget));
        }
        match command(&mut connection) {
            Ok(value) => {
                let mut idle = lock(&self.idle);
                if idle.len() < MAX_IDLE {
                    idle.push(connection);
                }
                Ok(value)
            }
            // The server answered with an error of its own (out of memory,
            // read-only replica, no script, wrong password): the connection is
            // still in step, the store is not down, this command failed.
            Err(e) if e.kind() != redis::ErrorKind::Io && e.code().is_some() && !e.is_timeout() => {
                Err(Unavailable(format!("{}: {}", self.shown, describe(&e))))
            }
            Err(e) => Err(self.went_down(&e, budget)),
        }
    }

    /// Marks the store down and makes sure one thread brings it back.
    fn went_down(self: &Arc<Self>, error: &redis::RedisError, budget: Duration) -> Unavailable {
        let why = if error.is_timeout() {
            format!("{}: no answer within {} ms", self.shown, budget.as_millis())
        } else {
            format!("{}: {}", self.shown, describe(error))
        };
        lock(&self.idle).clear();
        *lock(&self.down) = Some(Down { why: why.clone(), retry_at: Instant::now() + FIRST_RECONNECT_WAIT });
        if !self.reconnecting.swap(true, Ordering::AcqRel) {
            let link = self.clone();
            let started = std::thread::Builder::new().name("sigma-auth-store".into()).spawn(move || link.reconnect());
            if started.is_err() {
                self.reconnecting.store(false, Ordering::Release);
            }
        }
        Unavailable(why)
    }

    /// The background reconnect: tries again with backoff until the server
    /// answers a PING, then lets callers use it again.
    fn reconnect(&self) {
        let mut wait = FIRST_RECONNECT_WAIT;
        loop {
            let retry_at = lock(&self.down).as_ref().map(|d| d.retry_at);
            let Some(retry_at) = retry_at else { break };
            std::thread::sleep(retry_at.saturating_duration_since(Instant::now()));
            let timeout = COMMAND_TIMEOUT * 4;
            let answered = self.client.get_connection_with_timeout(timeout).and_then(|mut connection| {
                connection.set_read_timeout(Some(timeout))?;
                connection.set_write_timeout(Some(timeout))?;
                redis::cmd("PING").query::<String>(&mut connection)?;
                Ok(connection)
            });
            let mut down = lock(&self.down);
            match answered {
                Ok(connection) => {
                    lock(&self.idle).push(connection);
                    *down = None;
                    break;
                }
                Err(e) => {
                    wait = (wait * 2).min(MAX_RECONNECT_WAIT);
                    let why = if e.is_timeout() {
                        format!("{}: no answer within {} ms", self.shown, timeout.as_millis())
                    } else {
                        format!("{}: {}", self.shown, describe(&e))
                    };
                    *down = Some(Down { why, retry_at: Instant::now() + wait });
                }
            }
        }
        self.reconnecting.store(false, Ordering::Release);
    }
}

/// What a check of the store found (for `sigma-token doctor`).
pub(crate) struct Checked {
    pub(crate) shown: String,
    pub(crate) tls: bool,
    /// Connecting (TLS and AUTH included), and then one PING.
    pub(crate) connect: Option<Duration>,
    pub(crate) round_trip: Option<Duration>,
    /// The server's `redis_version`.
    pub(crate) version: Option<String>,
    pub(crate) error: Option<String>,
}

/// Connects to the store of `settings` anew (not through this process's
/// link) within `timeout`, and times a PING.
pub(crate) fn check(settings: &Settings, timeout: Duration) -> Option<Checked> {
    let text = settings.token_store.as_ref()?;
    let mut checked =
        Checked { shown: String::new(), tls: false, connect: None, round_trip: None, version: None, error: None };
    let url = match StoreUrl::parse(text.expose()) {
        Ok(url) => url,
        Err(e) => {
            checked.error = Some(e.message().to_string());
            return Some(checked);
        }
    };
    checked.shown = url.shown.clone();
    checked.tls = url.tls;
    let link = match Link::new(text.expose(), settings.ca_certs.as_deref().map(Vec::as_slice)) {
        Ok(link) => link,
        Err(Unavailable(why)) => {
            checked.error = Some(why);
            return Some(checked);
        }
    };
    let started = Instant::now();
    let result = link.client.get_connection_with_timeout(timeout).and_then(|mut connection| {
        checked.connect = Some(started.elapsed());
        connection.set_read_timeout(Some(timeout))?;
        connection.set_write_timeout(Some(timeout))?;
        let ping = Instant::now();
        redis::cmd("PING").query::<String>(&mut connection)?;
        checked.round_trip = Some(ping.elapsed());
        // INFO may be renamed or disabled: then the version is unknown, no more.
        let info: Option<String> = redis::cmd("INFO").arg("server").query(&mut connection).ok();
        checked.version = info.as_deref().and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("redis_version:"))
                .map(|v| v.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').take(20).collect())
        });
        Ok(())
    });
    if let Err(e) = result {
        checked.error =
            Some(if e.is_timeout() { format!("no answer within {} ms", timeout.as_millis()) } else { describe(&e) });
    }
    Some(checked)
}

/// A command's time: [`COMMAND_TIMEOUT`], or a quarter of what is left before
/// `deadline` if that is less (at least 1 ms: a timeout of zero means none).
pub(crate) fn budget(deadline: Instant) -> Duration {
    (deadline.saturating_duration_since(Instant::now()) / 4).min(COMMAND_TIMEOUT).max(Duration::from_millis(1))
}

/// A Redis error in words of our own: its kind and the server's error code,
/// never its free text (which could quote what was sent).
pub(crate) fn describe(error: &redis::RedisError) -> String {
    if error.is_connection_refusal() {
        return "connection refused".into();
    }
    if error.is_timeout() {
        return "timed out".into();
    }
    if let Some(code) = error.code() {
        let code: String = code.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
        return match code.as_str() {
            "WRONGPASS" | "NOAUTH" => format!("the server refused the credentials in the URL ({code})"),
            "OOM" => "the server is out of memory (OOM)".into(),
            "READONLY" => "the server is a read-only replica (READONLY)".into(),
            _ => format!("the server answered {code}"),
        };
    }
    match error.kind() {
        redis::ErrorKind::AuthenticationFailed => "the server refused the credentials in the URL".into(),
        redis::ErrorKind::Io => "the connection failed or closed".into(),
        redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => {
            "the server's answer was not Redis's protocol or not what was asked".into()
        }
        kind => format!("{kind:?}").chars().filter(char::is_ascii_alphanumeric).take(40).collect(),
    }
}

fn pem(certificates: &[Certificate<'static>]) -> Vec<u8> {
    let mut out = String::new();
    for certificate in certificates {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(certificate.der());
        for line in encoded.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::StoreUrl;

    #[test]
    fn a_store_url_is_shown_without_its_password_and_bad_ones_are_refused_without_being_repeated() {
        let url = StoreUrl::parse("rediss://app:hunter2@redis.internal:6380/3").unwrap();
        assert_eq!(url.shown(), "rediss://app:***@redis.internal:6380/3");
        assert!(url.tls);
        assert_eq!(format!("{url:?}"), "rediss://app:***@redis.internal:6380/3");
        let url = StoreUrl::parse("redis://:pw@127.0.0.1").unwrap();
        assert_eq!(url.shown(), "redis://***@127.0.0.1");
        assert!(!url.tls);
        for bad in [
            "",
            "http://x:hunter2@host",
            "redis+unix:///tmp/s?pass=hunter2",
            "redis://x:hunter2@host/abc",
            "rediss://x:hunter2@host/#insecure",
            "redis://x:hunter2@/0",
            "redis://x:hunter2@host\n",
        ] {
            let error = StoreUrl::parse(bad).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(!error.message().contains("hunter2"), "{}", error.message());
        }
    }
}
