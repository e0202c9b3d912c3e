//! People's sign-ins, stored per profile: the base URL, the public client's
//! id, the token and revocation endpoints, the scopes, the person's email, the
//! refresh token and the current access token. Kept in the OS keyring (the
//! Secret Service, `keyring.rs`) where one runs, else in a private file (0600
//! in a 0700 directory: `$XDG_CONFIG_HOME/sigma-auth/`, default
//! `~/.config/sigma-auth/`); `SIGMA_KEYRING=secret-service|file` chooses.
//!
//! Refresh tokens are single use and rotate, and several processes share a
//! sign-in, so every refresh happens under the profile's lock (a record lock
//! on a file beside the store, `files.rs`): the holder reads the sign-in
//! again, uses an access token another process obtained if it is fresh, and
//! otherwise redeems the stored refresh token and stores the next one, durably,
//! before anyone gets the access token. Nothing is redeemed without the lock.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::files::{Held, PrivateDir};
use crate::error::{Error, ErrorCode, Result};
use crate::token::{Issued, Parts, Token};

/// The profile a sign-in is stored under when none is named.
pub const DEFAULT_PROFILE: &str = "default";
const FORMAT_VERSION: u32 = 1;
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// One stored sign-in. Its tokens are wiped when it is dropped and never
/// printed (it has no `Debug`).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) version: u32,
    pub(crate) profile: String,
    pub(crate) base_url: String,
    pub(crate) client_id: String,
    pub(crate) token_endpoint: String,
    #[serde(default)]
    pub(crate) revocation_endpoint: Option<String>,
    pub(crate) scopes: String,
    #[serde(default)]
    pub(crate) email: Option<String>,
    pub(crate) refresh_token: String,
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: u64,
    /// Unix milliseconds: processes share no monotonic clock.
    #[serde(default)]
    pub(crate) expires_at_ms: u64,
    /// Sigma refused the refresh token: every caller, in every process, is
    /// told to sign in again, without asking Sigma again.
    #[serde(default)]
    pub(crate) refused: bool,
}

impl Drop for Record {
    fn drop(&mut self) {
        self.refresh_token.zeroize();
        if let Some(access) = self.access_token.as_mut() {
            access.zeroize();
        }
    }
}

impl Record {
    /// A new sign-in's record, from the token its code exchange returned.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        profile: &str,
        base_url: &str,
        client_id: &str,
        token_endpoint: &str,
        revocation_endpoint: Option<&str>,
        scopes: &str,
        email: Option<&str>,
        token: &Token,
    ) -> Result<Record> {
        let mut record = Record {
            version: FORMAT_VERSION,
            profile: profile.to_string(),
            base_url: base_url.to_string(),
            client_id: client_id.to_string(),
            token_endpoint: token_endpoint.to_string(),
            revocation_endpoint: revocation_endpoint.map(str::to_string),
            scopes: scopes.to_string(),
            email: email.map(str::to_string),
            refresh_token: String::new(),
            access_token: None,
            expires_in: 0,
            expires_at_ms: 0,
            refused: false,
        };
        record.update(token)?;
        Ok(record)
    }

    /// Takes the token a refresh (or the code exchange) returned: its access
    /// token, and the rotated refresh token. A refresh answered without one
    /// keeps the current refresh token (RFC 6749 §6: the server did not
    /// rotate it); a sign-in that never had one could not outlive its first
    /// hour, so the code exchange must bring one.
    pub(crate) fn update(&mut self, token: &Token) -> Result<()> {
        match token.refresh_token() {
            Some(refresh) => {
                self.refresh_token.zeroize();
                self.refresh_token = refresh.to_string();
            }
            None if !self.refresh_token.is_empty() => {}
            None => {
                return Err(Error::new(
                    ErrorCode::Protocol,
                    "the token endpoint issued no refresh token, so the sign-in could not be kept",
                ))
            }
        }
        if let Some(old) = self.access_token.as_mut() {
            old.zeroize();
        }
        self.access_token = Some(token.access_token().to_string());
        self.expires_in = token.expires_in().as_secs();
        self.expires_at_ms = token.expires_at().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Ok(())
    }

    /// The stored access token, while it is usable (without its refresh token:
    /// only the store redeems that).
    pub(crate) fn token(&self) -> Option<Token> {
        let access = self.access_token.as_deref()?;
        Token::new(Parts {
            access_token: access,
            refresh_token: None,
            token_type: "Bearer",
            expires_in: self.expires_in as f64,
            issued: Issued::ExpiresAt(UNIX_EPOCH + Duration::from_millis(self.expires_at_ms)),
        })
        .ok()
    }

    /// When the stored access token expires (None when there is none).
    pub(crate) fn expires_at(&self) -> Option<SystemTime> {
        self.access_token.as_ref().map(|_| UNIX_EPOCH + Duration::from_millis(self.expires_at_ms))
    }

    fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        serde_json::to_vec(self)
            .map(Zeroizing::new)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot encode the sign-in: {e}")))
    }

    fn from_bytes(bytes: &[u8], profile: &str) -> Result<Record> {
        let record: Record = serde_json::from_slice(bytes).map_err(|_| damaged(profile))?;
        if record.version != FORMAT_VERSION
            || record.profile != profile
            || (record.refresh_token.is_empty() && !record.refused)
        {
            return Err(damaged(profile));
        }
        Ok(record)
    }
}

fn damaged(profile: &str) -> Error {
    Error::new(
        ErrorCode::LoginRequired,
        format!("the stored sign-in of profile {profile:?} is unreadable: sign in again (sigma-token login)"),
    )
}

/// A profile name: 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`.
pub(crate) fn check_profile(profile: &str) -> Result<()> {
    let ok = !profile.is_empty()
        && profile.len() <= 64
        && !profile.starts_with('.')
        && profile.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "a profile name is 1 to 64 letters, digits, '-', '_' or '.' (not starting with '.')",
        ))
    }
}

/// Where sign-ins are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC) over D-Bus.
    SecretService,
    /// A private file per profile (0600 in a 0700 directory).
    File,
}

impl Backend {
    /// `secret-service` or `file`, as `SIGMA_KEYRING` names them.
    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::File => "file",
        }
    }
}

/// The sign-in store of this user: a backend, and the private directory that
/// holds the profiles' locks (and, for the file backend, the sign-ins).
pub(crate) struct Store {
    backend: Backend,
    dir: PrivateDir,
    /// Why the file backend was chosen when nobody asked for it.
    warning: Option<String>,
}

/// `$XDG_CONFIG_HOME/sigma-auth`, else `$HOME/.config/sigma-auth`.
pub(crate) fn config_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty() && PathBuf::from(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| Error::invalid_argument("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep sign-ins"))?;
    Ok(base.join("sigma-auth"))
}

impl Store {
    /// This user's store: `SIGMA_KEYRING` when set, else the Secret Service
    /// when one answers on the session bus, else the file backend (with a
    /// warning saying so).
    pub(crate) fn open() -> Result<Store> {
        let dir = config_dir()?;
        let dir = PrivateDir::open(&dir, "sign-in directory")
            .map_err(|why| Error::invalid_argument(format!("cannot keep sign-ins: {why}")))?;
        let asked = std::env::var("SIGMA_KEYRING").ok().filter(|v| !v.is_empty());
        let (backend, warning) = match asked.as_deref() {
            Some("file") => (Backend::File, None),
            Some("secret-service") => {
                super::keyring::check()
                    .map_err(|why| Error::invalid_argument(format!("SIGMA_KEYRING=secret-service, but {why}")))?;
                (Backend::SecretService, None)
            }
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "SIGMA_KEYRING is {other:?}: it must be secret-service or file"
                )))
            }
            None => match super::keyring::check() {
                Ok(()) => (Backend::SecretService, None),
                Err(why) => (
                    Backend::File,
                    Some(format!(
                        "no OS keyring ({why}): the sign-in is kept in a private file in {} instead",
                        dir.path("").display()
                    )),
                ),
            },
        };
        Ok(Store { backend, dir, warning })
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Why the file backend is used, when nobody chose it.
    pub(crate) fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    fn file_name(profile: &str) -> String {
        format!("login-{profile}.json")
    }

    /// The sign-in stored under `profile`, if any.
    pub(crate) fn load(&self, profile: &str) -> Result<Option<Record>> {
        check_profile(profile)?;
        let bytes = match self.backend {
            Backend::File => {
                self.dir.read_checked(&Self::file_name(profile), MAX_RECORD_BYTES, true).map_err(|why| {
                    Error::new(
                        ErrorCode::LoginRequired,
                        format!(
                        "the stored sign-in {why}: sign out (sigma-token logout --profile {profile}) to revoke and \
                         remove it, then sign in again"
                    ),
                    )
                })?
            }
            Backend::SecretService => super::keyring::load(profile).map_err(|why| keyring_error(&why))?,
        };
        bytes.map(|b| Record::from_bytes(&b, profile)).transpose()
    }

    /// Stores `record` under its profile, replacing what was there, durably.
    pub(crate) fn save(&self, record: &Record) -> Result<()> {
        check_profile(&record.profile)?;
        let bytes = record.to_bytes()?;
        match self.backend {
            Backend::File => self
                .dir
                .write(&Self::file_name(&record.profile), &bytes)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot store the sign-in: {}", e.kind()))),
            Backend::SecretService => super::keyring::save(&record.profile, &bytes).map_err(|why| keyring_error(&why)),
        }
    }

    /// The sign-in under `profile` as far as it can be read to revoke it: a
    /// file others could read is read all the same (its token is exposed, and
    /// revoking it is the point); anything else as [`Store::load`].
    pub(crate) fn load_to_revoke(&self, profile: &str) -> Result<Option<Record>> {
        check_profile(profile)?;
        match self.backend {
            Backend::File => match self.dir.read_checked(&Self::file_name(profile), MAX_RECORD_BYTES, false) {
                Ok(bytes) => Ok(bytes.and_then(|b| Record::from_bytes(&b, profile).ok())),
                Err(_) => Ok(None),
            },
            Backend::SecretService => self.load(profile),
        }
    }

    /// Forgets `profile`'s sign-in (whatever is at its path); whether there was one.
    pub(crate) fn delete(&self, profile: &str) -> Result<bool> {
        check_profile(profile)?;
        match self.backend {
            Backend::File => {
                let existed = std::fs::symlink_metadata(self.dir.path(&Self::file_name(profile))).is_ok();
                self.dir
                    .remove(&Self::file_name(profile))
                    .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot remove the sign-in: {}", e.kind())))?;
                Ok(existed)
            }
            Backend::SecretService => super::keyring::delete(profile).map_err(|why| keyring_error(&why)),
        }
    }

    /// Every stored sign-in, by profile name.
    pub(crate) fn profiles(&self) -> Result<Vec<Record>> {
        let names: Vec<String> = match self.backend {
            Backend::File => self
                .dir
                .names()
                .iter()
                .filter_map(|n| n.strip_prefix("login-")?.strip_suffix(".json").map(str::to_string))
                .collect(),
            Backend::SecretService => super::keyring::profiles().map_err(|why| keyring_error(&why))?,
        };
        let mut records: Vec<Record> = names
            .iter()
            .filter(|name| check_profile(name).is_ok())
            .filter_map(|name| self.load(name).ok().flatten())
            .collect();
        records.sort_by(|a, b| a.profile.cmp(&b.profile));
        Ok(records)
    }

    /// The profile's lock, waiting at most until `deadline`.
    pub(crate) fn lock(&self, profile: &str, deadline: Instant) -> Result<Held> {
        check_profile(profile)?;
        self.dir.sweep_stale_temp_files();
        self.dir
            .lock(&format!("login-{profile}.lock"), deadline, "another process held the sign-in's lock")
            .map_err(|why| Error::new(ErrorCode::Timeout, format!("{why} until the deadline (it may be stopped)")))
    }
}

fn keyring_error(why: &str) -> Error {
    Error::new(ErrorCode::Internal, format!("the OS keyring (Secret Service) failed: {why}"))
}

/// What a caller of [`obtain`] wants.
pub(crate) struct Want<'a> {
    pub(crate) profile: &'a str,
    pub(crate) deadline: Instant,
    /// The access token the caller wants replaced (refused, or due), if any.
    pub(crate) replacing: Option<&'a str>,
    /// The API and token endpoint the caller's config was made for: a sign-in
    /// stored since for another (the profile was signed in again elsewhere)
    /// is not this caller's, and is left alone.
    pub(crate) base_url: &'a str,
    pub(crate) token_endpoint: &'a str,
}

/// A token for the sign-in of `want.profile`: the stored access token when
/// `fresh` accepts it and it is not the one being replaced, else `refresh`'s
/// (given the stored sign-in), stored before it is returned. Under the
/// profile's lock, so each refresh token is redeemed once across processes.
/// The token returned carries no refresh token.
pub(crate) fn obtain(
    store: &Store,
    want: Want<'_>,
    fresh: impl Fn(&Token) -> bool,
    refresh: impl FnOnce(&Record) -> Result<Token>,
) -> Result<Token> {
    let _held = store.lock(want.profile, want.deadline)?;
    let Some(mut record) = store.load(want.profile)? else {
        return Err(Error::new(
            ErrorCode::LoginRequired,
            format!("no sign-in is stored for profile {:?}: sign in with `sigma-token login`", want.profile),
        ));
    };
    if record.base_url != want.base_url || record.token_endpoint != want.token_endpoint {
        return Err(Error::new(
            ErrorCode::LoginRequired,
            format!(
                "profile {:?} was signed in again, to {}, since this config was made for {}: make the config again \
                 (Config::from_login)",
                want.profile, record.base_url, want.base_url
            ),
        ));
    }
    if record.refused {
        return Err(Error::new(
            ErrorCode::LoginRequired,
            format!(
                "Sigma refused the sign-in of profile {:?} (its refresh token was used elsewhere, revoked or \
                 expired): sign in again with `sigma-token login`",
                want.profile
            ),
        ));
    }
    if let Some(token) = record.token().filter(|t| fresh(t) && Some(t.access_token()) != want.replacing) {
        return Ok(token);
    }
    let token = match refresh(&record) {
        // Sigma's verdict on the refresh token (an answer, not a local check).
        Err(error) if error.code() == ErrorCode::LoginRequired && error.http_status().is_some() => {
            // Remembered, so that no process asks again with a refused token.
            record.refused = true;
            record.refresh_token.zeroize();
            if let Some(access) = record.access_token.as_mut() {
                access.zeroize();
            }
            record.access_token = None;
            let _ = store.save(&record);
            return Err(error);
        }
        other => other?,
    };
    record.update(&token)?;
    store.save(&record)?;
    Ok(token.without_refresh_token())
}
