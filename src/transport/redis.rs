//! The connection to a token store shared by hosts: a Redis server. The
//! commands, scripts and reply parser are the `redis` crate's (no protocol of
//! our own); the connection under them is ours ([`Connection`]: TCP, rustls
//! for `rediss://`, AUTH and SELECT), because the crate's bounds each read
//! only, not a whole answer. What is stored there and why is
//! `store/redis.rs`'s business, and the pacing shared through it
//! `oauth/pacing.rs`'s; this module only gets a command answered, or says at
//! once that it cannot.
//!
//! A store never fails a call and never holds one up for long:
//! - every command must have its whole answer (at most 256 KiB) within a short
//!   time ([`COMMAND_TIMEOUT`], or a quarter of the caller's time left if that
//!   is less), connecting included;
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
        connection_info(text).map_err(|_| bad("is not one Redis accepts"))?;
        // A user name alone is shown as `***` too: some clients (Lettuce)
        // read `redis://secret@host` as a password.
        let user = match (url.username(), url.password()) {
            ("", None) => String::new(),
            (_, None) | ("", Some(_)) => "***@".to_string(),
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

/// The redis crate's reading of a URL's user, password and database. (It
/// reads `rediss://` only when built with a TLS of its own; the TLS here is
/// ours, so the URL is read as `redis://`.)
fn connection_info(text: &str) -> redis::RedisResult<redis::ConnectionInfo> {
    let plain = match text.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("rediss") => format!("redis://{rest}"),
        _ => text.to_string(),
    };
    let plain = zeroize::Zeroizing::new(plain);
    redis::IntoConnectionInfo::into_connection_info(plain.as_str())
}

/// Why the store was not used: never the URL's password, never a value.
#[derive(Debug, Clone)]
pub(crate) struct Unavailable(pub(crate) String);

/// The connections of this process to one store.
pub(crate) struct Link {
    target: Target,
    shown: String,
    idle: Mutex<Vec<Connection>>,
    down: Mutex<Option<Down>>,
    reconnecting: AtomicBool,
}

struct Down {
    why: String,
    /// When the background thread tries again.
    retry_at: Instant,
}

static LINKS: PerProcess<Mutex<HashMap<String, Arc<Link>>>> = PerProcess::new();

/// This process's link to the store of `settings`, if it has one. Configs
/// with the same URL and the same trust share one. (`Config::store_link` keeps
/// it per config, so this runs once per config and process.)
pub(crate) fn link(settings: &Settings) -> Option<std::result::Result<Arc<Link>, Unavailable>> {
    let text = settings.token_store.as_ref()?;
    let links = LINKS.get(|_| Mutex::default());
    let mut links = lock(&links);
    // A CA file changes how TLS is checked: a link per set of CA certificates.
    let mut key = text.expose().to_string();
    if let Some(certificates) = &settings.ca_certs {
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        for certificate in certificates.iter() {
            digest.update(&(certificate.der().len() as u64).to_le_bytes());
            digest.update(certificate.der());
        }
        key.extend(digest.finish().as_ref().iter().map(|b| format!("{b:02x}")));
    }
    if let Some(link) = links.get(&key) {
        return Some(Ok(link.clone()));
    }
    let made = Link::new(text.expose(), settings.ca_certs.as_deref().map(Vec::as_slice));
    if let Ok(link) = &made {
        links.insert(key, link.clone());
    }
    Some(made)
}

/// Where and how to connect, read once from the URL.
struct Target {
    /// Without IPv6 brackets.
    host: String,
    port: u16,
    tls: Option<(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
    username: Option<Secret>,
    password: Option<Secret>,
    db: i64,
    /// A host name's addresses and when they were looked up.
    resolved: Mutex<Option<(Vec<std::net::SocketAddr>, Instant)>>,
}

/// How long a host name's addresses are reused (as the HTTP transport does).
const NAME_TTL: Duration = Duration::from_secs(30);

impl Target {
    fn new(url: &StoreUrl, ca: Option<&[Certificate<'static>]>) -> std::result::Result<Target, String> {
        let parsed = redis::parse_redis_url(url.url.expose()).ok_or("not a URL")?;
        let info = connection_info(url.url.expose()).map_err(|e| describe(&e))?;
        let redis = info.redis_settings();
        let host = parsed.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = match url.tls {
            false => None,
            true => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|_| "its host is not a name TLS can check".to_string())?;
                Some((Arc::new(tls_config(ca)?), name))
            }
        };
        Ok(Target {
            port: parsed.port().unwrap_or(6379),
            host,
            tls,
            username: redis.username().map(Secret::new),
            password: redis.password().map(Secret::new),
            db: redis.db(),
            resolved: Mutex::default(),
        })
    }

    /// The host's addresses by `deadline`: an IP literal at once; a host name
    /// looked up on a thread of its own (getaddrinfo has no timeout) at most
    /// once per [`NAME_TTL`], the caller waiting no later than `deadline`.
    fn addresses(&self, deadline: Instant) -> std::io::Result<Vec<std::net::SocketAddr>> {
        if let Ok(ip) = self.host.parse::<std::net::IpAddr>() {
            return Ok(vec![std::net::SocketAddr::new(ip, self.port)]);
        }
        if let Some((addresses, _)) = lock(&self.resolved).as_ref().filter(|(_, at)| at.elapsed() < NAME_TTL) {
            return Ok(addresses.clone());
        }
        let (sender, receiver) = std::sync::mpsc::channel();
        let name = (self.host.clone(), self.port);
        std::thread::Builder::new().name("sigma-auth-store-dns".into()).spawn(move || {
            use std::net::ToSocketAddrs;
            let _ = sender.send(name.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
        })?;
        let addresses = receiver.recv_timeout(time_left(deadline)?).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "the host name's lookup did not finish in time")
        })??;
        *lock(&self.resolved) = Some((addresses.clone(), Instant::now()));
        Ok(addresses)
    }

    /// A new connection, ready for commands (TLS, AUTH and SELECT done), by `deadline`.
    fn connect(&self, deadline: Instant) -> redis::RedisResult<Connection> {
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        let mut tcp = None;
        for address in self.addresses(deadline)? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last = std::io::ErrorKind::TimedOut.into();
                break;
            }
            match std::net::TcpStream::connect_timeout(&address, left) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let tcp = tcp.ok_or(last)?;
        tcp.set_nodelay(true)?;
        let socket = Socket { tcp, deadline, read: 0 };
        let stream = match &self.tls {
            None => Stream::Plain(socket),
            Some((config, name)) => {
                let session = rustls::ClientConnection::new(config.clone(), name.clone())
                    .map_err(|_| std::io::Error::other("TLS"))?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(session, socket)))
            }
        };
        let mut connection = Connection {
            reader: std::io::BufReader::new(stream),
            parser: redis::Parser::new(),
            db: self.db,
            open: true,
        };
        if let Some(password) = &self.password {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = &self.username {
                auth.arg(user.expose());
            }
            auth.arg(password.expose()).query::<()>(&mut connection)?;
        }
        if self.db != 0 {
            redis::cmd("SELECT").arg(self.db).query::<()>(&mut connection)?;
        }
        Ok(connection)
    }
}

/// TLS that trusts the config's CA file when it has one, else the operating
/// system's store (SSL_CERT_FILE, SSL_CERT_DIR).
fn tls_config(ca: Option<&[Certificate<'static>]>) -> std::result::Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(certificates) => {
            roots.add_parsable_certificates(certificates.iter().map(|c| c.der().to_vec().into()));
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err("no CA certificates to check its TLS certificate with".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| "TLS is not available".to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A connection whose every command (its reply read whole, TLS included)
/// ends by one deadline and reads at most [`MAX_REPLY_BYTES`]: the redis
/// crate's own connection bounds each read only, so a server sending a byte
/// at a time (or a huge value) could hold a call for as long as it liked.
/// The commands and replies are the crate's (`redis::cmd`, `redis::Parser`).
pub(crate) struct Connection {
    reader: std::io::BufReader<Stream>,
    parser: redis::Parser,
    db: i64,
    open: bool,
}

const TLS_FAILED: &str = "TLS failed: ";

/// The most a reply may take: a token entry is 64 KiB at most.
const MAX_REPLY_BYTES: usize = 256 * 1024;

enum Stream {
    Plain(Socket),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Socket>>),
}

/// The TCP socket under TLS, which checks the deadline and counts bytes on every read.
struct Socket {
    tcp: std::net::TcpStream,
    deadline: Instant,
    read: usize,
}

impl Stream {
    fn socket(&mut self) -> &mut Socket {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(stream) => &mut stream.sock,
        }
    }
}

fn time_left(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::ErrorKind::TimedOut.into());
    }
    Ok(left)
}

/// A timed-out socket says WouldBlock on Unix; it is a timeout.
fn timed_out(error: std::io::Error) -> std::io::Error {
    match error.kind() {
        std::io::ErrorKind::WouldBlock => std::io::ErrorKind::TimedOut.into(),
        _ => error,
    }
}

impl std::io::Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.tcp.set_read_timeout(Some(time_left(self.deadline)?))?;
        let n = self.tcp.read(buf).map_err(timed_out)?;
        self.read += n;
        if self.read > MAX_REPLY_BYTES + 16 * 1024 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the reply is too large"));
        }
        Ok(n)
    }
}

impl std::io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.set_write_timeout(Some(time_left(self.deadline)?))?;
        self.tcp.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

impl std::io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buf),
            Stream::Tls(stream) => stream.read(buf),
        }
    }
}

impl std::io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write(buf),
            Stream::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(socket) => socket.flush(),
            Stream::Tls(stream) => stream.flush(),
        }
    }
}

impl Connection {
    /// The deadline of the commands that follow.
    fn arm(&mut self, deadline: Instant) {
        let socket = self.reader.get_mut().socket();
        socket.deadline = deadline;
        socket.read = 0;
    }

    fn send(&mut self, packed: &[u8]) -> redis::RedisResult<()> {
        use std::io::Write as _;
        let stream = self.reader.get_mut();
        stream.socket().read = 0;
        let sent = stream.write_all(packed).and_then(|()| stream.flush());
        let Err(error) = sent else { return Ok(()) };
        self.open = false;
        // The handshake runs on the first write: say what TLS refused
        // (rustls's words: an alert or a certificate problem, nothing sent).
        if let Some(tls) = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            let said: String = tls.to_string().chars().filter(|c| !c.is_control()).take(120).collect();
            return Err(redis::RedisError::from((redis::ErrorKind::Io, "TLS", format!("{TLS_FAILED}{said}"))));
        }
        Err(error.into())
    }

    fn receive(&mut self) -> redis::RedisResult<redis::Value> {
        match self.parser.parse_value(&mut self.reader) {
            // A server error is a reply: the connection is still in step.
            Ok(value) => value.extract_error(),
            Err(e) => {
                self.open = false;
                Err(e)
            }
        }
    }
}

impl redis::ConnectionLike for Connection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        self.send(cmd)?;
        self.receive()
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        self.send(cmd)?;
        // Every reply is read, even after a server error in one of them, so
        // the connection stays in step; the first error is the answer.
        let mut replies = Vec::with_capacity(count);
        let mut first_error = None;
        for i in 0..offset + count {
            match self.receive() {
                Ok(reply) if i >= offset => replies.push(reply),
                Ok(_) => {}
                Err(e) if !self.open => return Err(e),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(replies),
        }
    }

    fn get_db(&self) -> i64 {
        self.db
    }

    fn check_connection(&mut self) -> bool {
        redis::cmd("PING").query::<String>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        self.open
    }
}

/// A budget this short is the caller's haste, not the store's slowness: a
/// timeout within it does not mark the store down for everyone.
const SHORT_BUDGET: Duration = Duration::from_millis(100);

impl Link {
    fn new(text: &str, ca: Option<&[Certificate<'static>]>) -> std::result::Result<Arc<Link>, Unavailable> {
        let url = StoreUrl::parse(text).map_err(|e| Unavailable(e.message().to_string()))?;
        let target = Target::new(&url, ca).map_err(|why| Unavailable(format!("{}: {why}", url.shown)))?;
        Ok(Arc::new(Link {
            target,
            shown: url.shown,
            idle: Mutex::default(),
            down: Mutex::default(),
            reconnecting: AtomicBool::new(false),
        }))
    }

    /// Runs `command` on a connection within a short timeout bounded by
    /// `deadline` (its whole reply included); or fails at once when the store
    /// is down. A pooled connection the server has closed meanwhile (an idle
    /// timeout, a load balancer) is replaced and the command sent once more.
    /// A failure that says the server is unreachable, stopped or confused
    /// marks it down and starts the background reconnect.
    pub(crate) fn run<T>(
        self: &Arc<Self>,
        deadline: Instant,
        command: impl Fn(&mut Connection) -> redis::RedisResult<T>,
    ) -> std::result::Result<T, Unavailable> {
        if let Some(down) = lock(&self.down).as_ref() {
            return Err(Unavailable(down.why.clone()));
        }
        let budget = budget(deadline);
        let until = Instant::now() + budget;
        for attempt in 0..2 {
            // A second attempt always opens a new connection.
            let pooled = if attempt == 0 { lock(&self.idle).pop() } else { None };
            let reused = pooled.is_some();
            let mut connection = match pooled {
                Some(connection) => connection,
                None => match self.target.connect(until) {
                    Ok(connection) => connection,
                    Err(e) => return Err(self.failed(&e, budget)),
                },
            };
            connection.arm(until);
            match command(&mut connection) {
                Ok(value) => {
                    let mut idle = lock(&self.idle);
                    if idle.len() < MAX_IDLE {
                        idle.push(connection);
                    }
                    return Ok(value);
                }
                // The server answered with an error of its own (out of memory,
                // read-only replica, scripts refused, wrong password): the
                // connection is still in step, the store is not down, this
                // command failed.
                Err(e) if connection.open && e.code().is_some() => {
                    let mut idle = lock(&self.idle);
                    if idle.len() < MAX_IDLE {
                        idle.push(connection);
                    }
                    return Err(Unavailable(format!("{}: {}", self.shown, describe(&e))));
                }
                // The server closed it while idle (its timeout, a restart, a
                // load balancer): so it did the others kept; all go, and the
                // command is sent again on a new connection.
                Err(e) if reused && !e.is_timeout() && e.kind() == redis::ErrorKind::Io => {
                    lock(&self.idle).clear();
                    continue;
                }
                Err(e) => return Err(self.failed(&e, budget)),
            }
        }
        Err(Unavailable(format!("{}: the connection failed or closed", self.shown)))
    }

    /// Why a command failed; the store is marked down unless it was only
    /// this caller's short budget that ran out.
    fn failed(self: &Arc<Self>, error: &redis::RedisError, budget: Duration) -> Unavailable {
        if error.is_timeout() && budget < SHORT_BUDGET {
            return Unavailable(format!("{}: no answer within this call's last {} ms", self.shown, budget.as_millis()));
        }
        self.went_down(error, budget)
    }

    /// Marks the store down and makes sure one thread brings it back.
    fn went_down(self: &Arc<Self>, error: &redis::RedisError, budget: Duration) -> Unavailable {
        let why = if error.is_timeout() {
            format!("{}: no whole answer within {} ms", self.shown, budget.as_millis())
        } else {
            format!("{}: {}", self.shown, describe(error))
        };
        lock(&self.idle).clear();
        // `down` and `reconnecting` change together under this lock, so a
        // reconnect thread that is just finishing never leaves the store
        // marked down with no thread to bring it back.
        let mut down = lock(&self.down);
        *down = Some(Down { why: why.clone(), retry_at: Instant::now() + FIRST_RECONNECT_WAIT });
        if !self.reconnecting.swap(true, Ordering::AcqRel) {
            let link = self.clone();
            let started = std::thread::Builder::new().name("sigma-auth-store".into()).spawn(move || link.reconnect());
            if started.is_err() {
                // No thread to bring it back: the next call tries it itself.
                self.reconnecting.store(false, Ordering::Release);
                *down = None;
            }
        }
        Unavailable(why)
    }

    /// The background reconnect: tries again with backoff until the server
    /// answers a PING, then lets callers use it again.
    fn reconnect(&self) {
        let mut wait = FIRST_RECONNECT_WAIT;
        loop {
            let retry_at = {
                let down = lock(&self.down);
                let Some(retry_at) = down.as_ref().map(|d| d.retry_at) else {
                    self.reconnecting.store(false, Ordering::Release);
                    return;
                };
                retry_at
            };
            std::thread::sleep(retry_at.saturating_duration_since(Instant::now()));
            let timeout = COMMAND_TIMEOUT * 4;
            let answered = self.target.connect(Instant::now() + timeout).and_then(|mut connection| {
                connection.arm(Instant::now() + timeout);
                redis::cmd("PING").query::<String>(&mut connection)?;
                Ok(connection)
            });
            let mut down = lock(&self.down);
            match answered {
                Ok(connection) => {
                    lock(&self.idle).push(connection);
                    *down = None;
                    self.reconnecting.store(false, Ordering::Release);
                    return;
                }
                Err(e) => {
                    wait = (wait * 2).min(MAX_RECONNECT_WAIT);
                    let why = if e.is_timeout() {
                        format!("{}: no whole answer within {} ms", self.shown, timeout.as_millis())
                    } else {
                        format!("{}: {}", self.shown, describe(&e))
                    };
                    *down = Some(Down { why, retry_at: Instant::now() + wait });
                }
            }
        }
    }
}

/// What [`probe_token_store`](crate::probe_token_store) found about the token
/// store shared by hosts.
#[derive(Debug, Clone)]
pub struct StoreProbe {
    /// The store's URL, its password replaced by `***`.
    pub url: String,
    /// Whether it is `rediss://` (TLS).
    pub tls: bool,
    /// How long connecting took (TCP, TLS and the password included).
    pub connect: Option<Duration>,
    /// One PING's round trip on that connection.
    pub round_trip: Option<Duration>,
    /// The server's version, as it says.
    pub version: Option<String>,
    /// Why the store cannot be used, when it cannot (calls then go on without it).
    pub error: Option<String>,
}

/// Connects to the store of `settings` anew (not through this process's
/// link) within `timeout`, and times a PING.
pub(crate) fn check(settings: &Settings, timeout: Duration) -> Option<StoreProbe> {
    let text = settings.token_store.as_ref()?;
    let mut checked =
        StoreProbe { url: String::new(), tls: false, connect: None, round_trip: None, version: None, error: None };
    let url = match StoreUrl::parse(text.expose()) {
        Ok(url) => url,
        Err(e) => {
            checked.error = Some(e.message().to_string());
            return Some(checked);
        }
    };
    checked.url = url.shown.clone();
    checked.tls = url.tls;
    let target = match Target::new(&url, settings.ca_certs.as_deref().map(Vec::as_slice)) {
        Ok(target) => target,
        Err(why) => {
            checked.error = Some(why);
            return Some(checked);
        }
    };
    let started = Instant::now();
    let result = target.connect(started + timeout).and_then(|mut connection| {
        checked.connect = Some(started.elapsed());
        connection.arm(Instant::now() + timeout);
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
        // The store's writes and its shared pacing are Lua scripts.
        redis::cmd("EVAL").arg("return 1").arg(0).query::<i64>(&mut connection).map_err(|e| {
            let why = format!("the server refuses Lua scripts (EVAL: {}), which sharing tokens needs", describe(&e));
            redis::RedisError::from((redis::ErrorKind::Client, "scripts", why))
        })?;
        Ok(())
    });
    if let Err(e) = result {
        checked.error = Some(match (e.is_timeout(), e.kind(), e.detail()) {
            (true, _, _) => format!("no whole answer within {} ms", timeout.as_millis()),
            (_, redis::ErrorKind::Client, Some(why)) => why.to_string(),
            _ => describe(&e),
        });
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
    if let Some(tls) = error.detail().filter(|d| d.starts_with(TLS_FAILED)) {
        return tls.to_string();
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
        assert_eq!(StoreUrl::parse("redis://Sup3rSecret@127.0.0.1").unwrap().shown(), "redis://***@127.0.0.1");
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
