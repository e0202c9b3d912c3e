//! What the user chose: plain values, no live state, nothing that knows how
//! a request is made. The transport builds its HTTP agent from these; the
//! [`Config`](crate::Config) pairs them with that agent's connection pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::Certificate;

use crate::endpoint::{Endpoint, Origin};
use crate::observe::EventCallback;
use crate::secret::Secret;

/// The default refresh window: the last min(5 minutes, half the lifetime).
const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// How the client id and secret are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// In the form body, as Sigma documents (the default).
    #[default]
    Form,
    /// As `Authorization: Basic`, which Sigma's spec also allows.
    Basic,
}

/// What the user chose; plain values, no live state.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) endpoint: Endpoint,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) client_auth: ClientAuth,
    pub(crate) refresh_margin: Option<Duration>,
    pub(crate) token_cache: Option<PathBuf>,
    /// The token store shared by hosts (a Redis URL, which may hold a password).
    pub(crate) token_store: Option<Secret>,
    pub(crate) ca_certs: Option<Arc<Vec<Certificate<'static>>>>,
    pub(crate) language: String,
    pub(crate) user_agent_suffix: Option<String>,
    /// Origins besides the endpoint's that HTTP adapters may send tokens to.
    pub(crate) extra_origins: Vec<Origin>,
    /// Claims added to the subject token of an impersonation (beside `sub`, `tenant`).
    pub(crate) subject_token_claims: serde_json::Map<String, serde_json::Value>,
    /// The person's sign-in these settings are for, if any (else the client's
    /// own credentials).
    pub(crate) signin: Option<SignIn>,
    /// Who hears about what the library does.
    pub(crate) events: Option<EventCallback>,
}

/// A person's stored sign-in that a config gets its tokens from: the profile
/// it is stored under and the token endpoint its discovery named (the public
/// client's id is the settings' `client_id`; there is no secret).
#[derive(Clone, Debug)]
pub(crate) struct SignIn {
    pub(crate) profile: String,
    pub(crate) token_url: String,
}

impl Settings {
    /// The defaults for these credentials: 30 s per call, 10 s per connect,
    /// 3 attempts, credentials in the form body, no cache, no extra origins.
    pub(crate) fn new(endpoint: Endpoint, client_id: &str, client_secret: Secret) -> Settings {
        Settings {
            endpoint,
            client_id: client_id.to_string(),
            client_secret,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 3,
            client_auth: ClientAuth::Form,
            refresh_margin: None,
            token_cache: None,
            token_store: None,
            ca_certs: None,
            language: "rust".into(),
            user_agent_suffix: None,
            extra_origins: Vec::new(),
            subject_token_claims: serde_json::Map::new(),
            events: None,
            signin: None,
        }
    }

    /// Where tokens are requested: a sign-in's token endpoint, else the endpoint's.
    pub(crate) fn token_url(&self) -> &str {
        self.signin.as_ref().map_or(self.endpoint.token_url(), |s| s.token_url.as_str())
    }

    /// How long before expiry a token of this lifetime is due for refresh: the
    /// configured margin (default 5 minutes), at most half the lifetime.
    pub(crate) fn refresh_margin_for(&self, lifetime: Duration) -> Duration {
        self.refresh_margin.unwrap_or(DEFAULT_REFRESH_MARGIN).min(lifetime / 2)
    }

    pub(crate) fn user_agent(&self) -> String {
        let mut agent = format!("sigma-auth/{} ({})", env!("CARGO_PKG_VERSION"), self.language);
        if let Some(suffix) = &self.user_agent_suffix {
            agent.push(' ');
            agent.push_str(suffix);
        }
        agent
    }
}
