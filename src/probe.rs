//! One token request on a new connection, timed step by step, then `GET
//! /v2/whoami` with the token: what `sigma-token doctor` reports.
//!
//! The probe makes its requests exactly as a client would (the config's trust,
//! proxy, timeouts and credentials, no redirects followed) but on an agent of
//! its own, whose resolver and connectors note when each step finished.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use ureq::config::Config as AgentConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector, TcpConnector, Transport,
};

use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::oauth::scrub::Scrubber;
use crate::oauth::{self, Grant};
use crate::token::Token;
use crate::transport;
pub use crate::transport::redis::StoreProbe;

/// What [`probe`] found. Durations are of steps that finished; a step that
/// failed (or was not reached) is None, and `token` says why.
#[derive(Debug)]
pub struct Probe {
    /// Each name looked up (the endpoint's host, or the proxy's: a proxy
    /// resolves the endpoint itself), its addresses and how long it took.
    pub lookups: Vec<Lookup>,
    /// From the start to a TCP connection (through the proxy's CONNECT, if any).
    pub connect: Option<Duration>,
    /// The TLS handshake (None for plain http, which is loopback only).
    pub tls: Option<Duration>,
    /// The token request: sent to answered, on the new connection.
    pub request: Option<Duration>,
    /// The token, or why there is none.
    pub token: Result<Token>,
    /// `GET /v2/whoami` with the token, when there was one.
    pub whoami: Option<WhoAmI>,
}

/// One name resolution.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The name looked up (an IPv6 address without its brackets).
    pub host: String,
    /// What it resolved to.
    pub addresses: Vec<SocketAddr>,
    /// How long the lookup took.
    pub duration: Duration,
}

/// The fields of `/v2/whoami` that are shown, in this order; others are not.
const WHOAMI_FIELDS: [&str; 8] =
    ["email", "firstName", "lastName", "memberId", "userKind", "organizationId", "clientId", "tenant"];

/// Sigma's answer to `GET /v2/whoami`.
#[derive(Debug, Clone)]
pub struct WhoAmI {
    /// The HTTP status, or None when no answer came (`error` says why).
    pub status: Option<u16>,
    /// How long the call took.
    pub duration: Duration,
    /// The answer's fields that say who you are (email, names, memberId,
    /// userKind, organizationId, clientId, tenant), in that order, each at
    /// most 300 characters; a value that reveals the token or the secret is
    /// withheld, and all of them when only together they do.
    pub fields: Vec<(String, String)>,
    /// The server's clock minus ours, from its Date header.
    pub clock_offset: Option<f64>,
    /// Why the call failed, when it did.
    pub error: Option<String>,
}

/// Connects to the config's token store (see [`Config::set_token_store`])
/// on a new connection and times a PING; None when no store is set. Never
/// shows the URL's password.
pub fn probe_token_store(config: &Config) -> Option<StoreProbe> {
    let settings = config.settings();
    let timeout = settings.connect_timeout.min(Duration::from_secs(5));
    transport::redis::check(settings, timeout)
}

/// Requests a token with the client-credentials grant over a new connection,
/// timing each step, then calls `/v2/whoami` with it. Never uses or fills the
/// token cache, never retries. The token is the caller's to use or drop.
pub fn probe(config: &Config) -> Probe {
    let marks = Marks::default();
    let agent = match transport::agent_config(config.settings()) {
        Ok(agent_config) => agent(agent_config, &marks),
        Err(error) => {
            let no =
                Probe { lookups: vec![], connect: None, tls: None, request: None, token: Err(error), whoami: None };
            return no;
        }
    };
    let start = Instant::now();
    let token = match config.login_profile() {
        // A person's sign-in: its stored token, or a refresh on this agent.
        Some(profile) => crate::login::token_on(&agent, config, profile),
        None => oauth::attempt_on(&agent, config, Grant::ClientCredentials, config.settings().timeout),
    };
    let answered = Instant::now();
    let steps = marks.lock().clone();
    let since = |from: Instant, to: Option<Instant>| to.map(|t| t.saturating_duration_since(from));
    let connect = since(start, steps.connected);
    let tls = steps.connected.and_then(|c| since(c, steps.secured));
    let sent =
        steps.secured.or(if config.endpoint().token_url().starts_with("https:") { None } else { steps.connected });
    let got_answer = token.as_ref().map_or_else(|e| e.http_status().is_some(), |_| true);
    let request = sent.filter(|_| got_answer).map(|s| answered.saturating_duration_since(s));
    let whoami = token.as_ref().ok().map(|token| whoami(&agent, config, token));
    Probe { lookups: steps.lookups, connect, tls, request, token, whoami }
}

fn whoami(agent: &ureq::Agent, config: &Config, token: &Token) -> WhoAmI {
    let url = format!("{}/v2/whoami", config.endpoint().api_base_url());
    let start = Instant::now();
    let bearer = zeroize::Zeroizing::new(format!("Bearer {}", token.access_token()));
    let sent = agent
        .get(&url)
        .config()
        .timeout_global(Some(config.settings().timeout))
        .build()
        .header("authorization", bearer.as_str())
        .call();
    let scrubber = Scrubber::new(&[token.access_token(), config.settings().client_secret.expose()]);
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => {
            let error = scrubber.error(Error::new(ErrorCode::Network, error.to_string()));
            return WhoAmI {
                status: None,
                duration: start.elapsed(),
                fields: vec![],
                clock_offset: None,
                error: Some(error.message().to_string()),
            };
        }
    };
    let status = response.status().as_u16();
    let date =
        response.headers().get("date").and_then(|d| d.to_str().ok()).and_then(|d| httpdate::parse_http_date(d).ok());
    let clock_offset = date.map(|server| match server.duration_since(SystemTime::now()) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(behind) => -behind.duration().as_secs_f64(),
    });
    let body = response.body_mut().with_config().limit(64 * 1024).read_to_vec().unwrap_or_default();
    let duration = start.elapsed();
    let mut fields = vec![];
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) {
        // Only the fields that say who you are, in this order, under these
        // names: a server cannot spread a credential over fields of its own
        // choosing or carry it in their names.
        let known: Vec<(&str, String)> = WHOAMI_FIELDS
            .iter()
            .filter_map(|&name| {
                let text = match map.get(name)? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((name, text))
            })
            .collect();
        let values: [Option<&str>; WHOAMI_FIELDS.len()] =
            std::array::from_fn(|i| known.get(i).map(|(_, text)| text.as_str()));
        let shown = scrubber.fields(values);
        if known.iter().zip(&shown).all(|(_, shown)| shown.is_none()) && !known.is_empty() {
            fields.push(("fields".into(), "[withheld: together they reveal a credential]".into()));
        } else {
            for ((name, _), shown) in known.iter().zip(shown) {
                fields.push((name.to_string(), shown.unwrap_or_else(|| "[withheld: it reveals a credential]".into())));
            }
        }
    }
    let error = (status != 200).then(|| format!("HTTP {status}"));
    WhoAmI { status: Some(status), duration, fields, clock_offset, error }
}

/// When each step finished.
#[derive(Debug, Default, Clone)]
struct Steps {
    lookups: Vec<Lookup>,
    connected: Option<Instant>,
    secured: Option<Instant>,
}

#[derive(Debug, Default, Clone)]
struct Marks(Arc<Mutex<Steps>>);

impl Marks {
    fn lock(&self) -> MutexGuard<'_, Steps> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn agent(config: AgentConfig, marks: &Marks) -> ureq::Agent {
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(Mark { marks: marks.clone(), step: Step::Connected })
            .chain(RustlsConnector::default())
            .chain(Mark { marks: marks.clone(), step: Step::Secured });
    ureq::Agent::with_parts(config, connector, TimedResolver { marks: marks.clone() })
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Connected,
    Secured,
}

/// Notes the time a connection got through the connectors before it.
#[derive(Debug)]
struct Mark {
    marks: Marks,
    step: Step,
}

impl<In: Transport> Connector<In> for Mark {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<In>, ureq::Error> {
        if chained.is_some() {
            let mut steps = self.marks.lock();
            let now = Some(Instant::now());
            match self.step {
                Step::Connected => steps.connected = steps.connected.or(now),
                // Only an https connection was secured; a plain one passes through.
                Step::Secured if details.uri.scheme_str() == Some("https") => steps.secured = steps.secured.or(now),
                Step::Secured => {}
            }
        }
        Ok(chained)
    }
}

/// The default resolver, timed.
#[derive(Debug)]
struct TimedResolver {
    marks: Marks,
}

impl Resolver for TimedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &AgentConfig,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let start = Instant::now();
        let found = DefaultResolver::default().resolve(uri, config, timeout)?;
        let lookup = Lookup {
            host: crate::endpoint::unbracket(uri.host().unwrap_or_default()).to_string(),
            addresses: found.iter().copied().collect(),
            duration: start.elapsed(),
        };
        self.marks.lock().lookups.push(lookup);
        Ok(found)
    }
}
