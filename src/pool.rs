//! The HTTP agent (keep-alive connection pool) of one config, one per process.
//!
//! A child process after fork must not share its parent's pooled sockets (both
//! would write requests into, and read responses from, the same connection), so
//! the agent lives in a [`PerProcess`] slot: the child builds its own.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config as AgentConfig;
use ureq::http::Uri;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::config::Settings;
use crate::per_process::{Local, PerProcess};

/// How long a host name's addresses are reused for new connections.
const NAME_TTL: Duration = Duration::from_secs(30);

/// A borrowed agent: build a request with it, then let it go.
pub(crate) type Agent = Local<ureq::Agent>;

#[derive(Default)]
pub(crate) struct Pool {
    agent: PerProcess<ureq::Agent>,
}

impl Pool {
    pub(crate) fn agent(&self, settings: &Settings) -> Agent {
        self.agent.get(|_| build(settings))
    }
}

fn build(settings: &Settings) -> ureq::Agent {
    let mut tls = TlsConfig::builder();
    if let Some(certs) = &settings.ca_certs {
        tls = tls.root_certs(RootCerts::Specific(certs.clone()));
    }
    // The proxy cannot reach our loopback; everything else honours
    // HTTPS_PROXY / NO_PROXY.
    let proxy = if settings.endpoint.is_loopback() { None } else { ureq::Proxy::try_from_env() };
    let config: AgentConfig = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(settings.connect_timeout))
        .user_agent(settings.user_agent())
        .accept("application/json")
        .proxy(proxy)
        .tls_config(tls.build())
        .build();
    ureq::Agent::with_parts(config, DefaultConnector::new(), InlineResolver::default())
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
