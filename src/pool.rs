//! The HTTP agent (keep-alive connection pool) of one config, one per process.
//!
//! A child process after fork must not share its parent's pooled sockets (both
//! would write requests into, and read responses from, the same connection), so
//! the agent lives in a [`PerProcess`] slot: the child builds its own.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use ureq::config::Config as AgentConfig;
use ureq::http::Uri;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, LazyBuffers, NextTimeout, Transport,
};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::per_process::{Local, PerProcess};
use crate::proxy;

/// How long a host name's addresses are reused for new connections.
const NAME_TTL: Duration = Duration::from_secs(30);

/// A borrowed agent (or why there is none, such as a malformed HTTPS_PROXY):
/// build a request with it, then let it go.
pub(crate) type Agent = Local<std::result::Result<ureq::Agent, Error>>;

#[derive(Default)]
pub(crate) struct Pool {
    agent: PerProcess<std::result::Result<ureq::Agent, Error>>,
}

impl Pool {
    pub(crate) fn agent(&self, settings: &Settings) -> Agent {
        self.agent.get(|_| build(settings))
    }
}

/// The CAs a config trusts: only the configured CA file's, or else the
/// operating system's trust store (which honours SSL_CERT_FILE and
/// SSL_CERT_DIR, so a TLS-inspecting corporate proxy's CA installed by IT is
/// trusted) together with the web roots bundled in this library (so a stale or
/// missing system store still works).
pub(crate) fn trust(settings: &Settings) -> Trust {
    match &settings.ca_certs {
        Some(certs) => Trust { roots: certs.clone(), system: 0, only_ca_file: true },
        None => SYSTEM_ROOTS.get(|_| load_system_roots()).clone(),
    }
}

#[derive(Clone)]
pub(crate) struct Trust {
    pub(crate) roots: Arc<Vec<Certificate<'static>>>,
    /// How many came from the operating system (0: none found).
    pub(crate) system: usize,
    pub(crate) only_ca_file: bool,
}

/// Loaded once per process (a few milliseconds of reading /etc/ssl).
static SYSTEM_ROOTS: PerProcess<Trust> = PerProcess::new();

fn load_system_roots() -> Trust {
    let found = rustls_native_certs::load_native_certs();
    let system = found.certs.len();
    let roots = found
        .certs
        .iter()
        .map(|c| c.as_ref())
        .chain(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|c| c.as_ref()))
        .map(|der| Certificate::from_der(der).to_owned())
        .collect();
    Trust { roots: Arc::new(roots), system, only_ca_file: false }
}

fn build(settings: &Settings) -> Result<ureq::Agent> {
    Ok(ureq::Agent::with_parts(
        agent_config(settings)?,
        DefaultConnector::new().chain(Coalesce),
        InlineResolver::default(),
    ))
}

/// How every request of a config is made: its trust, its proxy, no redirects.
pub(crate) fn agent_config(settings: &Settings) -> Result<AgentConfig> {
    let tls = TlsConfig::builder().root_certs(RootCerts::Specific(trust(settings).roots));
    let choice = proxy::choose(&settings.endpoint);
    let proxy = match &choice.url {
        Some(url) if proxy::credentials_need_encoding(url) => {
            let shown = choice.display_url().unwrap_or_default();
            return Err(Error::invalid_argument(format!(
                "the proxy {shown} ({}) has '/', '?' or '#' in its user name or password, which would end its host: \
                 percent-encode them (%2F, %3F, %23)",
                choice.reason
            )));
        }
        Some(url) => Some(ureq::Proxy::new(url).map_err(|_| {
            let shown = choice.display_url().unwrap_or_default();
            Error::invalid_argument(format!("the proxy {shown} ({}) is not a valid proxy URL", choice.reason))
        })?),
        None => None,
    };
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(settings.connect_timeout))
        .user_agent(settings.user_agent())
        .accept("application/json")
        .proxy(proxy)
        .tls_config(tls.build())
        .build())
}

/// Wraps every connection (above TLS) in [`Coalescing`].
#[derive(Debug)]
struct Coalesce;

impl Connector<Box<dyn Transport>> for Coalesce {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let config = details.config;
        Ok(chained.map(|inner| {
            let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
            Box::new(Coalescing { inner, out: Pending { buffers, held: 0 } }) as Box<dyn Transport>
        }))
    }
}

/// Sends a request's head and body in one write. ureq transmits them
/// separately, and a server that gets the head alone has to wake up again for
/// the body: a round of scheduling per request on a busy host. Output is held
/// until the response is awaited (or the buffer is half full); input is passed
/// through.
#[derive(Debug)]
struct Coalescing {
    inner: Box<dyn Transport>,
    out: Pending,
}

/// Our buffers: output written after what is held, input moved over from the
/// inner transport's buffers.
#[derive(Debug)]
struct Pending {
    buffers: LazyBuffers,
    held: usize,
}

impl Coalescing {
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let mut sent = 0;
        while sent < self.out.held {
            let target = self.inner.buffers().output();
            let n = target.len().min(self.out.held - sent);
            target[..n].copy_from_slice(&self.out.buffers.output()[sent..sent + n]);
            self.inner.transmit_output(n, timeout)?;
            sent += n;
        }
        self.out.held = 0;
        Ok(())
    }
}

impl Transport for Coalescing {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.out
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.out.held += amount;
        if self.out.held * 2 > self.out.buffers.output().len() {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        let source = self.inner.buffers().input();
        let target = self.out.buffers.input_append_buf();
        let n = source.len().min(target.len());
        target[..n].copy_from_slice(&source[..n]);
        self.out.buffers.input_appended(n);
        self.inner.buffers().input_consume(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl Buffers for Pending {
    fn output(&mut self) -> &mut [u8] {
        let held = self.held;
        &mut self.buffers.output()[held..]
    }

    fn input(&self) -> &[u8] {
        self.buffers.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.buffers.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.buffers.input_appended(amount)
    }

    fn input_consume(&mut self, amount: usize) {
        self.buffers.input_consume(amount)
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        let held = self.held;
        let (tmp, output) = self.buffers.tmp_and_output();
        (tmp, &mut output[held..])
    }

    fn can_use_input(&self) -> bool {
        self.buffers.can_use_input()
    }
}

/// Resolves without starting a thread whenever it can. ureq asks its resolver
/// before every request, even one that will reuse a pooled connection, and its
/// default resolver starts a thread for each lookup that has a timeout (ours all
/// do). An IP literal needs no lookup at all; a host name is looked up (on a
/// thread, bounded by the timeout) at most once per [`NAME_TTL`].
#[derive(Debug, Default)]
struct InlineResolver {
    names: Mutex<Option<Resolved>>,
}

#[derive(Debug)]
struct Resolved {
    key: String,
    addrs: ResolvedSocketAddrs,
    at: Instant,
}

impl Resolver for InlineResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &AgentConfig,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let port = uri.port_u16().or_else(|| match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        let host = uri.host().map(|h| h.trim_start_matches('[').trim_end_matches(']'));
        if let (Some(host), Some(port)) = (host, port) {
            if let Ok(ip) = host.parse::<IpAddr>() {
                let mut addrs = self.empty();
                addrs.push(SocketAddr::new(ip, port));
                return Ok(addrs);
            }
            let key = format!("{host}:{port}");
            let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(found) = names.as_ref().filter(|r| r.key == key && r.at.elapsed() < NAME_TTL) {
                return Ok(found.addrs.clone());
            }
            drop(names);
            let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
            *self.names.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Resolved { key, addrs: addrs.clone(), at: Instant::now() });
            return Ok(addrs);
        }
        DefaultResolver::default().resolve(uri, config, timeout)
    }
}
