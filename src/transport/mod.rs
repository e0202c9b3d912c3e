//! The transport: the HTTP agent (keep-alive connection pool) of one set of
//! settings, one per process, with its trust, proxy, name resolution and
//! write coalescing. It knows the settings, never the credentials' use: what
//! is sent is the token requests' business (`oauth/`).
//!
//! A child process after fork must not share its parent's pooled sockets (both
//! would write requests into, and read responses from, the same connection), so
//! the agent lives in a [`PerProcess`] slot: the child builds its own.

mod coalesce;
pub(crate) mod proxy;
pub(crate) mod redis;
mod resolver;
pub(crate) mod trust;

use ureq::config::Config as AgentConfig;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::unversioned::transport::{Connector, DefaultConnector};

use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::sys::{Local, PerProcess};
use coalesce::Coalesce;
use resolver::InlineResolver;
use trust::trust;

/// A borrowed agent (or why there is none, such as a malformed HTTPS_PROXY):
/// build a request with it, then let it go.
pub(crate) type Agent = Local<std::result::Result<ureq::Agent, Error>>;

/// This process's link to the token store of a config, if it has one (see `redis.rs`).
pub(crate) type StoreLink = Option<std::result::Result<std::sync::Arc<redis::Link>, redis::Unavailable>>;

#[derive(Default)]
pub(crate) struct Pool {
    agent: PerProcess<std::result::Result<ureq::Agent, Error>>,
    store: PerProcess<StoreLink>,
}

impl Pool {
    pub(crate) fn agent(&self, settings: &Settings) -> Agent {
        self.agent.get(|_| build(settings))
    }

    /// Looked up once per process and config (the URL and CA file are the
    /// config's), not on every token request.
    pub(crate) fn store(&self, settings: &Settings) -> StoreLink {
        (*self.store.get(|_| redis::link(settings))).clone()
    }
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
    if choice.is_socks() {
        let shown = choice.display_url().unwrap_or_default();
        return Err(Error::invalid_argument(format!(
            "the proxy {shown} ({}) is a SOCKS proxy, which sigma-auth does not support: use an HTTP CONNECT proxy \
             (HTTPS_PROXY=http://host:port), or NO_PROXY for Sigma's host",
            choice.reason
        )));
    }
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
