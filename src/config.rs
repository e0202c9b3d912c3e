//! What a token request needs: where, who, and how patiently.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem};

use crate::endpoint::{Endpoint, Origin};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::transport::{proxy, trust};

const MAX_CREDENTIAL_LEN: usize = 4096;

pub use pooled::Config;

/// The settings and the live connection pool, kept apart: the fields are
/// private to this module, so the only way to change the settings is
/// [`Config::edit`], which starts a new pool. A new setter cannot forget to.
mod pooled {
    use std::sync::Arc;

    use crate::settings::Settings;
    use crate::transport::{Agent, Pool, StoreLink};

    /// Everything needed to request tokens. Build one with [`Config::new`] or
    /// [`Config::from_env`], adjust it with the setters, then share it: `&Config` is
    /// safe to use from many threads, and it keeps a connection pool for reuse.
    #[derive(Clone)]
    pub struct Config {
        settings: Settings,
        /// Live connections for these settings, shared by clones of this config.
        pool: Arc<Pool>,
    }

    impl Config {
        /// A config of these settings, with a pool of its own.
        pub(crate) fn with_settings(settings: Settings) -> Config {
            Config { settings, pool: Arc::new(Pool::default()) }
        }

        /// The settings, read-only.
        pub(crate) fn settings(&self) -> &Settings {
            &self.settings
        }

        /// The settings, for a setter. Starts a new connection pool, so
        /// connections made under the old settings are never reused under the
        /// new ones.
        pub(super) fn edit(&mut self) -> &mut Settings {
            self.pool = Arc::new(Pool::default());
            &mut self.settings
        }

        /// The HTTP agent of this process for these settings (see `transport/`).
        pub(crate) fn agent(&self) -> Agent {
            self.pool.agent(&self.settings)
        }

        /// This process's link to the token store, when one is set (see
        /// `transport/redis.rs`).
        pub(crate) fn store_link(&self) -> StoreLink {
            self.pool.store(&self.settings)
        }
    }
}

impl Config {
    /// `endpoint` is a cloud name such as `"aws-us-east"` or an https base URL.
    pub fn new(endpoint: &str, client_id: &str, client_secret: &str) -> Result<Config> {
        let endpoint = Endpoint::parse(endpoint)?;
        check_credential("client id", client_id)?;
        check_credential("client secret", client_secret)?;
        let settings = Settings::new(endpoint, client_id, Secret::new(client_secret));
        Ok(Config::with_settings(settings))
    }

    /// Reads `SIGMA_CLIENT_ID`, `SIGMA_CLIENT_SECRET` and `SIGMA_BASE_URL` (a URL
    /// or a cloud name). A missing or empty one is an INVALID_ARGUMENT naming it.
    /// `SIGMA_TOKEN_CACHE`, when set, turns on the persistent token cache in
    /// that directory (see [`Config::set_token_cache`]); `SIGMA_TOKEN_STORE`,
    /// when set, the token store shared by hosts (see [`Config::set_token_store`]).
    pub fn from_env() -> Result<Config> {
        let var = |name: &str| match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(v),
            Ok(_) => Err(Error::invalid_argument(format!("{name} is set but empty"))),
            Err(std::env::VarError::NotPresent) => Err(Error::invalid_argument(format!("{name} is not set"))),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::invalid_argument(format!("{name} is not valid UTF-8")))
            }
        };
        let (base, id, secret) = (var("SIGMA_BASE_URL")?, var("SIGMA_CLIENT_ID")?, var("SIGMA_CLIENT_SECRET")?);
        let mut config = Config::new(&base, id.trim(), secret.trim())?;
        if let Some(dir) = std::env::var_os("SIGMA_TOKEN_CACHE").filter(|d| !d.is_empty()) {
            config.set_token_cache(dir)?;
        }
        match std::env::var("SIGMA_TOKEN_STORE") {
            Ok(url) if !url.trim().is_empty() => config.set_token_store(url.trim())?,
            Ok(_) | Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::invalid_argument("SIGMA_TOKEN_STORE is not valid UTF-8"))
            }
        }
        Ok(config)
    }

    /// Where tokens come from.
    pub fn endpoint(&self) -> &Endpoint {
        &self.settings().endpoint
    }

    /// The client id (the secret has no getter).
    pub fn client_id(&self) -> &str {
        &self.settings().client_id
    }

    /// When a call starting now must have its answer: now plus the timeout.
    pub(crate) fn deadline(&self) -> std::time::Instant {
        std::time::Instant::now() + self.settings().timeout
    }

    /// The proxy requests to the endpoint go through, if any, and why (from
    /// HTTPS_PROXY, ALL_PROXY and NO_PROXY: see [`ProxyChoice`](crate::ProxyChoice)).
    pub fn proxy(&self) -> proxy::ProxyChoice {
        proxy::choose(&self.settings().endpoint)
    }

    /// What HTTPS trusts, in a sentence: the CA file's certificates only, or the
    /// operating system's trust store with the bundled web roots.
    pub fn trust_description(&self) -> String {
        let trust = trust::trust(self.settings());
        if trust.only_ca_file {
            return format!("only the {} certificates of the configured CA file", trust.roots.len());
        }
        let from = match (std::env::var_os("SSL_CERT_FILE"), std::env::var_os("SSL_CERT_DIR")) {
            (Some(file), _) => format!("SSL_CERT_FILE={}", file.to_string_lossy()),
            (None, Some(dir)) => format!("SSL_CERT_DIR={}", dir.to_string_lossy()),
            (None, None) => "the system store".to_string(),
        };
        format!(
            "{} certificates from {from}, and {} web roots bundled in sigma-auth",
            trust.system,
            trust.roots.len() - trust.system
        )
    }

    /// The overall deadline of one token call, retries and waits included (default 30 s).
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<()> {
        check_duration("timeout", timeout, Duration::from_millis(1), Duration::from_secs(3600))?;
        self.edit().timeout = timeout;
        Ok(())
    }

    /// The overall deadline of one token call (see [`Config::set_timeout`]).
    pub fn timeout(&self) -> Duration {
        self.settings().timeout
    }

    /// The limit on one TCP+TLS connect (default 10 s).
    pub fn set_connect_timeout(&mut self, timeout: Duration) -> Result<()> {
        check_duration("connect timeout", timeout, Duration::from_millis(1), Duration::from_secs(3600))?;
        self.edit().connect_timeout = timeout;
        Ok(())
    }

    /// How many attempts one token call may make, the first included (default 3, 1 to 10).
    pub fn set_max_attempts(&mut self, attempts: u32) -> Result<()> {
        if !(1..=10).contains(&attempts) {
            return Err(Error::invalid_argument("max attempts must be between 1 and 10"));
        }
        self.edit().max_attempts = attempts;
        Ok(())
    }

    /// How the client id and secret are sent (default: in the form body).
    pub fn set_client_auth(&mut self, auth: crate::settings::ClientAuth) {
        self.edit().client_auth = auth;
    }

    /// How long before expiry a [`crate::Client`] refreshes in the background.
    /// Default: min(5 minutes, half the token's lifetime). Capped at half the lifetime.
    pub fn set_refresh_margin(&mut self, margin: Duration) -> Result<()> {
        check_duration("refresh margin", margin, Duration::ZERO, Duration::from_secs(24 * 3600))?;
        self.edit().refresh_margin = Some(margin);
        Ok(())
    }

    /// Shares tokens between processes through files in `dir` (created 0700 if
    /// missing): a [`crate::Client`] first looks there, and only one process at
    /// a time refreshes. Never stores the client secret. Off by default.
    pub fn set_token_cache(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        if dir.as_os_str().is_empty() {
            return Err(Error::invalid_argument("the token cache directory is empty"));
        }
        self.edit().token_cache = Some(dir.to_path_buf());
        Ok(())
    }

    /// Shares tokens between hosts through a Redis server:
    /// `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS
    /// (which trusts the CA file of [`Config::set_ca_file`] when one is set,
    /// else the operating system's store). A client with no usable token looks
    /// there first; one host at a time fetches a token and stores it, encrypted
    /// under a key derived from the client secret (whoever reads Redis without
    /// the secret gets nothing usable); refresh tokens stay on their host.
    /// The admin token and the tokens of users acted as are shared, and so is
    /// the pacing of token requests. Redis down or slow never fails a call: it
    /// proceeds without the store (a `STORE_UNAVAILABLE` event says why). A
    /// person's sign-in never goes through the store. Off by default.
    pub fn set_token_store(&mut self, url: &str) -> Result<()> {
        crate::transport::redis::StoreUrl::parse(url)?;
        self.edit().token_store = Some(Secret::new(url));
        Ok(())
    }

    /// The token store's URL with its password replaced by `***`, when one is set.
    pub fn token_store(&self) -> Option<String> {
        let url = self.settings().token_store.as_ref()?;
        crate::transport::redis::StoreUrl::parse(url.expose()).ok().map(|u| u.shown().to_string())
    }

    /// How long before expiry a token of this lifetime is due for refresh: the
    /// configured margin (default 5 minutes), at most half the lifetime.
    pub(crate) fn refresh_margin_for(&self, lifetime: Duration) -> Duration {
        self.settings().refresh_margin_for(lifetime)
    }

    /// The token cache directory, when the cache is on.
    pub fn token_cache(&self) -> Option<&Path> {
        self.settings().token_cache.as_deref()
    }

    /// Trust only the CA certificates in this PEM file for HTTPS (as curl's
    /// `--cacert` does), for private deployments. Without it, the operating
    /// system's trust store (SSL_CERT_FILE and SSL_CERT_DIR honoured) and the
    /// bundled web roots are trusted.
    pub fn set_ca_file(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let pem = std::fs::read(path)
            .map_err(|e| Error::invalid_argument(format!("cannot read the CA file {}: {e}", path.display())))?;
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(Error::invalid_argument(format!("the CA file {} holds no PEM certificate", path.display())));
        }
        self.edit().ca_certs = Some(Arc::new(certs));
        Ok(())
    }

    /// Lets HTTP adapters send tokens to `origin` (`https://host[:port]`) too,
    /// besides the endpoint's own origin: for example an API gateway in front of
    /// Sigma. Plain http only for loopback hosts.
    pub fn allow_origin(&mut self, origin: &str) -> Result<()> {
        let origin = Origin::parse(origin)?;
        if !self.allows_origin(&origin) {
            self.edit().extra_origins.push(origin);
        }
        Ok(())
    }

    /// Whether a request to `origin` may carry a token from this config: the
    /// endpoint's origin, or one added with [`Config::allow_origin`].
    pub fn allows_origin(&self, origin: &Origin) -> bool {
        self.settings().endpoint.origin() == origin || self.settings().extra_origins.contains(origin)
    }

    /// Extra claims for the subject token of an impersonation, as a JSON object,
    /// e.g. `{"aud": "sigmacomputing"}`: Sigma's sample sends only `sub` (and
    /// `tenant`), and so does this library unless asked. `sub` and `tenant`
    /// cannot be set here.
    pub fn set_subject_token_claims(&mut self, claims_json: &str) -> Result<()> {
        let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(claims_json)
            .map_err(|_| Error::invalid_argument("the subject token claims must be a JSON object"))?;
        if claims.contains_key("sub") || claims.contains_key("tenant") {
            return Err(Error::invalid_argument("the subject token claims cannot set sub or tenant"));
        }
        self.edit().subject_token_claims = claims;
        Ok(())
    }

    /// Calls `callback` with every [`crate::Event`]: tokens obtained, refreshes
    /// started and failed, retries, fallbacks, invalidations, token-cache hits
    /// and bypasses. The events of one token request are delivered once it has
    /// settled, in order, on the thread that made it, with no lock held: the
    /// callback may call the library (the events of requests it makes are
    /// delivered inside it; 8 callbacks deep, after the outermost returns). It
    /// must not block for long. Events never
    /// carry a secret or a token.
    pub fn set_event_callback(&mut self, callback: impl Fn(&crate::observe::Event) + Send + Sync + 'static) {
        self.edit().events = Some(std::sync::Arc::new(callback));
    }

    /// No event callback.
    pub fn clear_event_callback(&mut self) {
        self.edit().events = None;
    }

    pub(crate) fn events(&self) -> Option<&crate::observe::EventCallback> {
        self.settings().events.as_ref()
    }

    /// Sets the calling language named in the User-Agent (bindings set theirs).
    pub fn set_language(&mut self, language: &str) -> Result<()> {
        self.edit().language = user_agent_text("language", language)?;
        Ok(())
    }

    /// Appended to the User-Agent, e.g. `"my-exporter/1.2"`.
    pub fn set_user_agent_suffix(&mut self, suffix: &str) -> Result<()> {
        self.edit().user_agent_suffix = Some(user_agent_text("user agent suffix", suffix)?);
        Ok(())
    }

    /// The User-Agent sent with every request, e.g. `sigma-auth/0.1.0 (rust)`.
    pub fn user_agent(&self) -> String {
        self.settings().user_agent()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.settings();
        f.debug_struct("Config")
            .field("token_url", &s.endpoint.token_url())
            .field("client_id", &s.client_id)
            .field("client_secret", &s.client_secret)
            .field("timeout", &s.timeout)
            .field("connect_timeout", &s.connect_timeout)
            .field("max_attempts", &s.max_attempts)
            .field("client_auth", &s.client_auth)
            .field("refresh_margin", &s.refresh_margin)
            .field("custom_ca", &s.ca_certs.is_some())
            .field("extra_origins", &s.extra_origins.iter().map(ToString::to_string).collect::<Vec<_>>())
            .field("event_callback", &s.events.is_some())
            .field("token_cache", &s.token_cache)
            .field("token_store", &self.token_store())
            .field("signin_profile", &s.signin.as_ref().map(|s| s.profile.as_str()))
            .finish()
    }
}

fn check_credential(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid_argument(format!("the {what} is empty")));
    }
    if value.len() > MAX_CREDENTIAL_LEN {
        return Err(Error::invalid_argument(format!("the {what} is longer than {MAX_CREDENTIAL_LEN} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_argument(format!("the {what} contains control characters")));
    }
    Ok(())
}

fn check_duration(what: &str, value: Duration, min: Duration, max: Duration) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid_argument(format!("the {what} must be between {min:?} and {max:?}")));
    }
    Ok(())
}

fn user_agent_text(what: &str, value: &str) -> Result<String> {
    if value.is_empty() || value.len() > 256 || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::invalid_argument(format!("the {what} must be 1 to 256 printable ASCII characters")));
    }
    Ok(value.to_string())
}
