//! Name resolution that reuses answers and starts no thread for an IP literal.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config as AgentConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::endpoint::unbracket;

/// How long a host name's addresses are reused for new connections.
const NAME_TTL: Duration = Duration::from_secs(30);

/// Resolves without starting a thread whenever it can. ureq asks its resolver
/// before every request, even one that will reuse a pooled connection, and its
/// default resolver starts a thread for each lookup that has a timeout (ours all
/// do). An IP literal needs no lookup at all; a host name is looked up (on a
/// thread, bounded by the timeout) at most once per [`NAME_TTL`].
#[derive(Debug, Default)]
pub(super) struct InlineResolver {
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
        let host = uri.host().map(unbracket);
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
