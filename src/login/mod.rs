//! People sign in: Sigma's browser sign-in (OAuth 2.1 for the REST API), kept
//! per profile, and configs made from it.
//!
//! A sign-in is discovered, never hard-coded (`oauth/signin.rs`): the API's
//! 401 names its resource metadata, which names the authorization server,
//! whose metadata names the endpoints, each checked before use. This program
//! registers itself as a public client for a loopback redirect, sends the
//! person to the authorization endpoint with PKCE S256 and a random `state`,
//! and takes the code back on the loopback listener (or from a pasted URL).
//! The code is exchanged, the person's email read from `/v2/whoami`, and the
//! sign-in stored (`store/login.rs`). [`Config::from_login`] then gives a
//! config whose clients refresh through the store, so any number of processes
//! share one sign-in and redeem each rotated refresh token once.

mod listener;

use std::time::{Duration, Instant, SystemTime};

use zeroize::Zeroizing;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorCode, Result};
use crate::oauth::signin::{self, Metadata, Pkce};
use crate::oauth::{self, Grant};
use crate::observe::Trace;
use crate::secret::Secret;
use crate::settings::{self, Settings};
use crate::store::login::{self as stored, Record, Store};
use listener::{Callback, Judged, Listener};

pub use crate::store::login::{Backend, DEFAULT_PROFILE};

/// The scopes asked for when none are given: the REST API only.
pub const DEFAULT_SCOPES: &str = "api:access";
/// How long a sign-in waits for the browser by default.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// A sign-in about to happen.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// A cloud name or base URL, as for [`Config::new`].
    pub endpoint: String,
    /// Where the sign-in is stored (default `default`).
    pub profile: String,
    /// Space-separated scopes: `api:access` (the REST API, the default),
    /// `mcp:access` (Sigma's hosted MCP server).
    pub scopes: String,
    /// How long to wait for the browser to come back (default 5 minutes).
    pub timeout: Duration,
}

impl LoginOptions {
    /// A sign-in to `endpoint` with the defaults.
    pub fn new(endpoint: &str) -> LoginOptions {
        LoginOptions {
            endpoint: endpoint.to_string(),
            profile: DEFAULT_PROFILE.to_string(),
            scopes: DEFAULT_SCOPES.to_string(),
            timeout: DEFAULT_LOGIN_TIMEOUT,
        }
    }
}

/// A sign-in whose browser step is under way: open [`PendingLogin::authorize_url`],
/// then [`PendingLogin::wait`] for the browser to come back to this program
/// (or [`PendingLogin::complete`] with the URL it was sent to, pasted).
pub struct PendingLogin {
    config: Config,
    metadata: Metadata,
    client_id: String,
    pkce: Pkce,
    listener: Listener,
    authorize_url: String,
    options: LoginOptions,
    started: Instant,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("profile", &self.options.profile)
            .field("redirect_uri", &self.listener.redirect_uri())
            .finish_non_exhaustive()
    }
}

/// A stored sign-in, as `sigma-token profiles` lists it (no token).
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// The person's email, from `/v2/whoami`.
    pub email: Option<String>,
    /// The scopes granted, space-separated.
    pub scopes: String,
    /// The API's base URL.
    pub base_url: String,
    /// When the stored access token expires (a refresh follows it).
    pub expires_at: Option<SystemTime>,
    /// Where it is kept.
    pub backend: Backend,
}

/// A sign-in just stored.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// What was stored.
    pub profile: Profile,
    /// Why the sign-in went to a file rather than the OS keyring, when nobody chose that.
    pub warning: Option<String>,
}

fn check_scopes(scopes: &str) -> Result<String> {
    let words: Vec<&str> = scopes.split_whitespace().collect();
    let ok = !words.is_empty()
        && words.len() <= 16
        && words.iter().all(|w| w.len() <= 64 && w.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'));
    if !ok {
        return Err(Error::invalid_argument(
            "the scopes are 1 to 16 words of visible ASCII, e.g. \"api:access mcp:access\"",
        ));
    }
    Ok(words.join(" "))
}

/// Starts a sign-in: discovers the sign-in of `options.endpoint`, listens on
/// loopback, registers this program, and makes the URL to open. Nothing is
/// stored until the browser comes back. A host that offers no sign-in, or whose
/// documents name endpoints off Sigma's hosts, is `LOGIN_UNAVAILABLE`, before
/// any browser opens.
pub fn begin_login(options: &LoginOptions) -> Result<PendingLogin> {
    stored::check_profile(&options.profile)?;
    let scopes = check_scopes(&options.scopes)?;
    if options.timeout.is_zero() || options.timeout > Duration::from_secs(3600) {
        return Err(Error::invalid_argument("the sign-in's timeout must be between 1 ms and 1 hour"));
    }
    let endpoint = Endpoint::parse(&options.endpoint)?;
    let config = Config::with_settings(Settings::new(endpoint, "", Secret::new("")));
    let metadata = signin::discover(&config)?;
    let listener = Listener::bind()?;
    let client_id = signin::register(&config, &metadata, listener.redirect_uri(), &scopes)?;
    let pkce = Pkce::new()?;
    let mut query = String::new();
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", listener.redirect_uri()),
        ("scope", scopes.as_str()),
        ("state", pkce.state.as_str()),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ] {
        oauth::append_field(&mut query, name, value);
    }
    let separator = if metadata.authorization_endpoint.contains('?') { '&' } else { '?' };
    let authorize_url = format!("{}{separator}{query}", metadata.authorization_endpoint);
    let options = LoginOptions { scopes, ..options.clone() };
    Ok(PendingLogin { config, metadata, client_id, pkce, listener, authorize_url, options, started: Instant::now() })
}

impl PendingLogin {
    /// The URL the person opens in a browser.
    pub fn authorize_url(&self) -> &str {
        &self.authorize_url
    }

    /// Where the browser is sent back: `http://127.0.0.1:PORT/oauth/callback`.
    pub fn redirect_uri(&self) -> &str {
        self.listener.redirect_uri()
    }

    /// Waits (until the options' timeout, counted from [`begin_login`]) for the
    /// browser to come back, answers it with a page saying how it went, and
    /// stores the sign-in.
    pub fn wait(self) -> Result<SignedIn> {
        self.wait_with(|| None)
    }

    /// Like [`PendingLogin::wait`], and between looks asks `pasted` for the
    /// URL the browser was sent back to, in case the person pastes it (a
    /// browser on another machine): whichever comes first completes the sign-in.
    pub fn wait_with(self, mut pasted: impl FnMut() -> Option<String>) -> Result<SignedIn> {
        let deadline = self.started + self.options.timeout;
        let prefix = format!("{}?", self.listener.redirect_uri());
        let pasted = || {
            pasted().map(|url| match url.trim().strip_prefix(prefix.as_str()) {
                Some(query) => Ok(Callback::from_query(query)),
                None => Err(not_the_redirect(self.listener.redirect_uri())),
            })
        };
        let judge = |callback: Callback| {
            if !self.state_matches(&callback) {
                return Judged::NotOurs((
                    "Not this sign-in",
                    "This link does not belong to the sign-in under way (its state does not match), so it was \
                     ignored. Nothing was signed in."
                        .to_string(),
                ));
            }
            let result = self.finish(callback);
            let page = match &result {
                Ok(done) => (
                    "Signed in",
                    format!("Signed in as {}. You can close this tab.", done.profile.email.as_deref().unwrap_or("you")),
                ),
                Err(error) => ("Not signed in", format!("{} ({})", error.message(), error.code())),
            };
            Judged::Done(result, page)
        };
        self.listener.wait(deadline, pasted, |callback| self.finish(callback), judge)
    }

    /// Completes the sign-in with the URL the browser was sent back to (for a
    /// browser on another machine: the person pastes it), and stores it.
    pub fn complete(self, redirected_url: &str) -> Result<SignedIn> {
        let redirected_url = redirected_url.trim();
        let Some(query) = redirected_url.strip_prefix(self.listener.redirect_uri()).and_then(|r| r.strip_prefix('?'))
        else {
            return Err(not_the_redirect(self.listener.redirect_uri()));
        };
        self.finish(Callback::from_query(query))
    }

    fn state_matches(&self, callback: &Callback) -> bool {
        callback.state.as_deref().is_some_and(|s| constant_time_eq(s, &self.pkce.state))
    }

    /// Judges the callback (`state` first), exchanges the code, reads who
    /// signed in, and stores the sign-in.
    fn finish(&self, callback: Callback) -> Result<SignedIn> {
        if !self.state_matches(&callback) {
            return Err(Error::new(
                ErrorCode::LoginDenied,
                "the browser came back with a state that is not this sign-in's (a stale or someone else's link): \
                 nothing was stored",
            ));
        }
        if let Some(error) = callback.error.as_deref() {
            let said: String = callback
                .error_description
                .as_deref()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            let name: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            let what =
                if name == "access_denied" { "the sign-in was declined in the browser" } else { "the sign-in failed" };
            return Err(Error::new(
                ErrorCode::LoginDenied,
                if said.is_empty() { format!("{what} ({name})") } else { format!("{what} ({name}): {said}") },
            ));
        }
        let code =
            Zeroizing::new(callback.code.clone().filter(|c| !c.is_empty()).ok_or_else(|| {
                Error::new(ErrorCode::Protocol, "the browser came back without an authorization code")
            })?);
        let mut settings = self.config.settings().clone();
        settings.client_id = self.client_id.clone();
        settings.signin = Some(settings::SignIn {
            profile: self.options.profile.clone(),
            token_url: self.metadata.token_endpoint.clone(),
        });
        let config = Config::with_settings(settings);
        let grant = Grant::AuthorizationCode {
            code: &code,
            redirect_uri: self.listener.redirect_uri(),
            code_verifier: &self.pkce.verifier,
            client_id: &self.client_id,
        };
        let mut trace = Trace::default();
        let token = oauth::request_token(&config, grant, config.deadline(), &mut trace)?;
        trace.deliver(config.events());
        // The new grant is revoked if it cannot be kept (best effort), so no
        // live refresh token is left behind.
        let drop_grant = |error: Error| {
            if let (Some(url), Some(refresh)) = (&self.metadata.revocation_endpoint, token.refresh_token()) {
                let _ = signin::revoke(&self.config, url, refresh, &self.client_id);
            }
            error
        };
        let email = signin::whoami_email(&self.config, token.access_token()).map_err(drop_grant)?;
        let record = Record::new(
            &self.options.profile,
            self.config.endpoint().api_base_url(),
            &self.client_id,
            &self.metadata.token_endpoint,
            self.metadata.revocation_endpoint.as_deref(),
            &self.options.scopes,
            email.as_deref(),
            &token,
        )
        .map_err(drop_grant)?;
        let store = Store::open().map_err(drop_grant)?;
        let replaced = {
            let _held = store.lock(&self.options.profile, config.deadline()).map_err(drop_grant)?;
            let replaced = store.load_to_revoke(&self.options.profile).ok().flatten();
            store.save(&record).map_err(drop_grant)?;
            replaced
        };
        // Signing in again replaces the profile's sign-in: the old grant is revoked (best effort).
        if let Some(old) = replaced.filter(|old| old.refresh_token != record.refresh_token) {
            let _ = revoke(&old);
        }
        Ok(SignedIn { profile: profile_of(&record, store.backend()), warning: store.warning().map(str::to_string) })
    }
}

fn not_the_redirect(redirect_uri: &str) -> Error {
    Error::invalid_argument(format!(
        "that is not the URL the browser was sent back to (it starts with {redirect_uri}?)"
    ))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn profile_of(record: &Record, backend: Backend) -> Profile {
    Profile {
        name: record.profile.clone(),
        email: record.email.clone(),
        scopes: record.scopes.clone(),
        base_url: record.base_url.clone(),
        expires_at: record.expires_at(),
        backend,
    }
}

/// Signs `profile` out: revokes its refresh token at the revocation endpoint
/// when there is one (a failure there is reported after the sign-in is
/// forgotten all the same), then forgets it. Ok(false) when there was none.
pub fn logout(profile: &str) -> Result<bool> {
    let store = Store::open()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let _held = store.lock(profile, deadline)?;
    let record = store.load_to_revoke(profile)?;
    let revoked = record.as_ref().map_or(Ok(()), revoke);
    if !store.delete(profile)? {
        return Ok(false);
    }
    revoked.map(|()| true).map_err(|e| {
        let message = format!("signed out locally, but revoking at the server failed: {}", e.message());
        e.with_message(message)
    })
}

/// Revokes a stored sign-in's refresh token at its revocation endpoint (if it
/// has one and a refresh token).
fn revoke(record: &Record) -> Result<()> {
    let (Some(url), false) = (&record.revocation_endpoint, record.refresh_token.is_empty()) else {
        return Ok(());
    };
    let endpoint = Endpoint::parse(&record.base_url)?;
    let config = Config::with_settings(Settings::new(endpoint, "", Secret::new("")));
    signin::revoke(&config, url, &record.refresh_token, &record.client_id)
}

/// Every stored sign-in (no token), by profile name.
pub fn profiles() -> Result<Vec<Profile>> {
    let store = Store::open()?;
    Ok(store.profiles()?.iter().map(|r| profile_of(r, store.backend())).collect())
}

/// The token of the sign-in `profile` for `config`: the stored one while it
/// is fresh, else a refresh made on `agent` (`sigma-token doctor` times one of
/// its own), stored as any refresh is.
pub(crate) fn token_on(agent: &ureq::Agent, config: &Config, profile: &str) -> Result<crate::token::Token> {
    let store = Store::open()?;
    let want = stored::Want {
        profile,
        deadline: config.deadline(),
        replacing: None,
        base_url: config.endpoint().api_base_url(),
        token_endpoint: config.settings().token_url(),
    };
    let fresh = |token: &crate::token::Token| token.remaining() > config.refresh_margin_for(token.expires_in());
    stored::obtain(&store, want, fresh, |record| {
        let grant = Grant::PublicRefresh { refresh_token: &record.refresh_token, client_id: &record.client_id };
        oauth::attempt_on(agent, config, grant, config.settings().timeout)
    })
}

impl Config {
    /// A config whose tokens come from the sign-in stored under `profile`
    /// (`"default"` when the person gave none): a [`crate::Client`] made from
    /// it refreshes through the store, across processes, and never hands out
    /// the rotating refresh token. `LOGIN_REQUIRED` when there is none.
    pub fn from_login(profile: &str) -> Result<Config> {
        let store = Store::open()?;
        let Some(record) = store.load(profile)? else {
            return Err(Error::new(
                ErrorCode::LoginRequired,
                format!("no sign-in is stored for profile {profile:?}: sign in with `sigma-token login`"),
            ));
        };
        let endpoint = Endpoint::parse(&record.base_url)?;
        endpoint.check_signin_url("token endpoint", &record.token_endpoint)?;
        let mut settings = Settings::new(endpoint, &record.client_id, Secret::new(""));
        settings.signin =
            Some(settings::SignIn { profile: profile.to_string(), token_url: record.token_endpoint.clone() });
        Ok(Config::with_settings(settings))
    }

    /// The profile of the sign-in this config is for, if any.
    pub fn login_profile(&self) -> Option<&str> {
        self.settings().signin.as_ref().map(|s| s.profile.as_str())
    }
}
