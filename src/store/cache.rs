//! An opt-in token cache shared by processes, on disk.
//!
//! One file per (token endpoint, client id, and for a client acting as a user,
//! the user and tenant), mode 0600 in a 0700 directory,
//! never holding the client secret (only a keyed fingerprint of it, so a
//! different secret is a miss). A reader that finds a fresh token takes no lock.
//! Anyone about to request a token takes a lock on a lock file beside it,
//! reads the file again (another process may have just refreshed), and only
//! then requests, writes by temp file + rename, and unlocks; so one process
//! refreshes at a time and each rotated refresh token is used once.
//!
//! The files and their lock are `files.rs`'s: private, written whole, and
//! locked with a record lock that dies with its holder and that no forked
//! child inherits.
//!
//! The cache never makes a caller wait past its own deadline because of another
//! process, and never fails a call by itself: a lock held past half the time
//! left (its holder is stopped, say), a lock or cache path that is not a
//! regular file we own, or a directory we cannot trust or write means "fetch
//! without the cache", by the same deadline; the error says so only if that
//! fetch fails. Anything untrustworthy in a cache file (wider
//! permissions, another owner, a symlink, a FIFO, bad content, another endpoint,
//! client or secret) is ignored and replaced.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::Result;
use crate::oauth::Subject;
use crate::observe::{Event, EventKind, Trace};
use crate::secret::Secret;
use crate::sys::PerProcess;
use crate::token::{Issued, Parts, Token};

use super::files::{self, PrivateDir};

/// What a caller of `obtain` wants: whose token (None: the client's own), by
/// when, which token it wants replaced (if any), and the newest refresh token
/// it knows.
pub(crate) struct Want<'a> {
    pub subject: Option<&'a Subject>,
    pub deadline: std::time::Instant,
    pub replacing: Option<&'a str>,
    pub remembered: Option<Secret>,
}

/// Whether `dir` can hold a token cache (`sigma-token doctor` asks): Ok(true)
/// when it is a private directory of this user, Ok(false) when it does not
/// exist yet (it is made, mode 700, on first use), else why the cache would not
/// use it (and fetch without it).
pub fn check_dir(dir: &Path) -> std::result::Result<bool, String> {
    files::check_dir(dir)
}

const FORMAT_VERSION: u32 = 2;
const MAX_FILE_BYTES: u64 = 64 * 1024;
const FINGERPRINT_LABEL: &[u8] = b"sigma-auth token cache: client secret fingerprint v1";

/// Gets a token through the cache in `dir`: a fresh cached one other than
/// `replacing` (the token the caller wants replaced, if any), or one from
/// `fetch` (given the newest refresh token known) made under the lock and then
/// stored.
pub(crate) fn obtain(
    dir: &Path,
    config: &Config,
    want: Want<'_>,
    trace: &mut Trace,
    mut fetch: impl FnMut(Option<Secret>, &mut Trace) -> Result<Token>,
) -> Result<Token> {
    let Want { subject, deadline, replacing, remembered } = want;
    let slot = match Slot::open(dir, config, subject) {
        Ok(slot) => slot,
        Err(why) => {
            trace.push(Event { message: Some(why.clone()), ..Event::new(EventKind::CacheBypassed) });
            return bypassed(&why, fetch(remembered, trace));
        }
    };
    let usable = |token: &Token| is_fresh(token, config) && Some(token.access_token()) != replacing;
    let hit = |token: Token, trace: &mut Trace| {
        trace.push(Event { serial: Some(token.serial()), ..Event::new(EventKind::CacheHit) });
        Ok(token)
    };
    if let Some(token) = slot.read().filter(usable) {
        return hit(token, trace);
    }
    // At most half the time left goes to waiting for another process.
    let now = Instant::now();
    let lock = match slot.lock(now + deadline.saturating_duration_since(now) / 2) {
        Ok(lock) => lock,
        Err(why) => {
            // Not the refresh token: the process holding the lock may be
            // spending it. What we get is shared with the others all the same.
            trace.push(Event { message: Some(why.clone()), ..Event::new(EventKind::CacheBypassed) });
            let result = fetch(None, trace);
            if let Ok(token) = &result {
                let _ = slot.write(token);
            }
            return bypassed(&why, result);
        }
    };
    sweep_if_due(&slot.dir);
    let cached = slot.read();
    if let Some(token) = cached.as_ref().filter(|t| usable(t)) {
        return hit(token.clone(), trace);
    }
    let newest = cached.and_then(|t| t.refresh_token().map(Secret::new)).or(remembered);
    let token = fetch(newest, trace)?;
    // The token is good whether or not it could be stored; a failed write only
    // costs another process a request.
    let _ = slot.write(&token);
    drop(lock);
    Ok(token)
}

fn bypassed(why: &str, result: Result<Token>) -> Result<Token> {
    result.map_err(|error| {
        let message = format!("{} (the token cache was not used: {why})", error.message());
        error.with_message(message)
    })
}

/// When this process last swept each cache directory.
static SWEPT: PerProcess<Mutex<HashMap<PathBuf, Instant>>> = PerProcess::new();
/// A process sweeps a directory at most this often: a sweep reads every entry,
/// and a refresh must not cost more as users accumulate.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// An entry this long past its token's expiry is nobody's any more (a user no
/// one acts as): it and its lock file are removed.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The expiry of a cache entry, all a sweep reads of it.
#[derive(Deserialize)]
struct Expiry {
    expires_at_ms: u64,
}

/// Removes the litter of a cache directory, at most once a minute per
/// process: temp files of writers killed before their rename, and entries
/// (with their lock files) whose token expired a day ago or more. An entry
/// whose lock another process holds is left for a later sweep.
fn sweep_if_due(dir: &PrivateDir) {
    {
        let swept = SWEPT.get(|_| Mutex::default());
        let mut swept = swept.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if swept.get(&dir.path("")).is_some_and(|at| now.duration_since(*at) < SWEEP_EVERY) {
            return;
        }
        swept.insert(dir.path(""), now);
    }
    dir.sweep_stale_temp_files();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let forget_before = now_ms.saturating_sub(FORGET_AFTER.as_millis() as u64);
    for name in dir.names() {
        let Some(key) = name.strip_prefix("token-").and_then(|n| n.strip_suffix(".json")) else { continue };
        let expired = dir
            .read(&name, MAX_FILE_BYTES)
            .and_then(|text| serde_json::from_slice::<Expiry>(&text).ok())
            .is_some_and(|e| e.expires_at_ms < forget_before);
        if !expired {
            continue;
        }
        let lock = format!("token-{key}.lock");
        // One try: a lock someone holds means the entry is in use after all.
        if let Ok(held) = dir.lock(&lock, Instant::now(), "in use") {
            let _ = dir.remove(&name);
            let _ = dir.remove(&lock);
            drop(held);
        }
    }
}

/// Fresh: usable and not yet in its refresh window, so nobody needs to refresh.
fn is_fresh(token: &Token, config: &Config) -> bool {
    token.remaining() > config.refresh_margin_for(token.expires_in())
}

/// The files of one (endpoint, client id, subject).
struct Slot {
    dir: PrivateDir,
    file: String,
    lock: String,
    token_url: String,
    client_id: String,
    subject: Option<Subject>,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    token_url: String,
    client_id: String,
    /// HMAC-SHA-256 of a fixed label keyed by the client secret: a different
    /// secret misses, and the file reveals nothing about the secret.
    secret_fingerprint: String,
    access_token: String,
    refresh_token: Option<String>,
    token_type: String,
    expires_in: u64,
    /// Unix milliseconds: processes share no monotonic clock.
    expires_at_ms: u64,
    /// For a client acting as a user: who, and in which tenant.
    #[serde(default)]
    subject_email: Option<String>,
    #[serde(default)]
    subject_tenant: Option<String>,
}

impl Slot {
    fn open(dir: &Path, config: &Config, subject: Option<&Subject>) -> Result<Slot, String> {
        let dir = PrivateDir::open(dir, "cache directory")?;
        let settings = config.settings();
        let token_url = settings.endpoint.token_url().to_string();
        let client_id = settings.client_id.clone();
        let (email, tenant) = subject.map_or(("", ""), |s| (s.email.as_str(), s.tenant.as_deref().unwrap_or("")));
        let key = format!(
            "{:016x}",
            fnv1a(&[
                token_url.as_bytes(),
                b"\n",
                client_id.as_bytes(),
                b"\n",
                email.as_bytes(),
                b"\n",
                tenant.as_bytes()
            ])
        );
        Ok(Slot {
            dir,
            file: format!("token-{key}.json"),
            lock: format!("token-{key}.lock"),
            token_url,
            client_id,
            subject: subject.cloned(),
            fingerprint: settings.client_secret.fingerprint(FINGERPRINT_LABEL),
        })
    }

    /// The cached token, if the file is ours, private, well-formed and for this
    /// slot and secret.
    fn read(&self) -> Option<Token> {
        let text = self.dir.read(&self.file, MAX_FILE_BYTES)?;
        let stored: Stored = serde_json::from_slice(&text).ok()?;
        let access = Zeroizing::new(stored.access_token);
        let refresh = stored.refresh_token.map(Zeroizing::new);
        if stored.version != FORMAT_VERSION
            || stored.token_url != self.token_url
            || stored.client_id != self.client_id
            || stored.secret_fingerprint != self.fingerprint
            || stored.subject_email.as_deref() != self.subject.as_ref().map(|s| s.email.as_str())
            || stored.subject_tenant.as_deref() != self.subject.as_ref().and_then(|s| s.tenant.as_deref())
        {
            return None;
        }
        Token::new(Parts {
            access_token: &access,
            refresh_token: refresh.as_deref().map(String::as_str),
            token_type: &stored.token_type,
            expires_in: stored.expires_in as f64,
            issued: Issued::ExpiresAt(UNIX_EPOCH + Duration::from_millis(stored.expires_at_ms)),
        })
        .ok()
    }

    fn write(&self, token: &Token) -> std::io::Result<()> {
        let expires_at_ms = token.expires_at().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let stored = Stored {
            version: FORMAT_VERSION,
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            secret_fingerprint: self.fingerprint.clone(),
            access_token: token.access_token().to_string(),
            refresh_token: token.refresh_token().map(str::to_string),
            token_type: token.token_type().to_string(),
            expires_in: token.expires_in().as_secs(),
            expires_at_ms,
            subject_email: self.subject.as_ref().map(|s| s.email.clone()),
            subject_tenant: self.subject.as_ref().and_then(|s| s.tenant.clone()),
        };
        let text = Zeroizing::new(serde_json::to_vec(&stored).map_err(std::io::Error::other)?);
        let Stored { access_token, refresh_token, .. } = stored;
        drop((Zeroizing::new(access_token), refresh_token.map(Zeroizing::new)));

        self.dir.write(&self.file, &text)
    }

    /// Takes the slot's lock, waiting at most until `deadline`.
    fn lock(&self, deadline: Instant) -> Result<files::Held, String> {
        self.dir.lock(&self.lock, deadline, "another process held its lock past half of this call's time")
    }
}

/// FNV-1a: a stable file name for the slot (its content is checked anyway).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use crate::secret::Secret;

    #[test]
    fn the_fingerprint_depends_on_the_secret_and_never_contains_it() {
        let fingerprint = |secret: &str| Secret::new(secret).fingerprint(super::FINGERPRINT_LABEL);
        let a = fingerprint("secret-one");
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint("secret-one"));
        assert_ne!(a, fingerprint("secret-two"));
        assert!(!a.contains("secret"));
    }
}
