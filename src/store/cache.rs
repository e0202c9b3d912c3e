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
//! The lock is a POSIX record lock (`fcntl`), which belongs to the process: a
//! child forked while it is held never holds it, and the kernel drops it when
//! its holder dies, however. (An `flock` would belong to the open file
//! description, shared with every forked child, and outlive a killed parent.)
//! Threads of one process take turns through an in-process guard first, since
//! record locks do not exclude threads of the same process.
//!
//! The cache never makes a caller wait past its own deadline because of another
//! process, and never fails a call by itself: a lock held past half the time
//! left (its holder is stopped, say), a lock or cache path that is not a
//! regular file we own, or a directory we cannot trust or write means "fetch
//! without the cache", by the same deadline; the error says so only if that
//! fetch fails. Anything untrustworthy in a cache file (wider
//! permissions, another owner, a symlink, a FIFO, bad content, another endpoint,
//! client or secret) is ignored and replaced.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
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
use crate::sys::{self, PerProcess};
use crate::token::{Issued, Parts, Token};

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
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot read it: {}", e.kind())),
        Ok(meta) => dir_problem(&meta, sys::effective_uid()).map_or(Ok(true), Err),
    }
}

/// The lock files some thread of this process has open (and locked, or is
/// about to): one at a time per file, since closing any descriptor of a
/// file drops the process's record lock on it.
static OPEN_LOCKS: PerProcess<Mutex<HashSet<PathBuf>>> = PerProcess::new();

const FORMAT_VERSION: u32 = 2;
const MAX_FILE_BYTES: u64 = 64 * 1024;
const LOCK_POLL: Duration = Duration::from_millis(10);
/// A temp file this old is litter whatever its writer is doing: writes take milliseconds.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);
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
    slot.sweep_stale_temp_files();
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

/// Fresh: usable and not yet in its refresh window, so nobody needs to refresh.
fn is_fresh(token: &Token, config: &Config) -> bool {
    token.remaining() > config.refresh_margin_for(token.expires_in())
}

/// The files of one (endpoint, client id, subject).
struct Slot {
    file: PathBuf,
    lock: PathBuf,
    dir: PathBuf,
    token_url: String,
    client_id: String,
    subject: Option<Subject>,
    fingerprint: String,
    uid: u32,
}

/// The slot's lock: released, its file closed, and its path given back to
/// the other threads of this process, when dropped.
struct Held {
    file: Option<File>,
    path: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            sys::unlock_record(&file);
        }
        let open = OPEN_LOCKS.get(|_| Mutex::default());
        open.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.path);
    }
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

/// Why a directory cannot hold the cache, if it cannot: only a private
/// directory of this user will do.
fn dir_problem(meta: &fs::Metadata, uid: u32) -> Option<String> {
    if meta.file_type().is_symlink() {
        Some("is a symbolic link, not a directory".into())
    } else if !meta.is_dir() {
        Some("is not a directory".into())
    } else if meta.uid() != uid {
        Some(format!("belongs to user {}, not to this user ({uid})", meta.uid()))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!("has mode {:o}: others can reach it (it must be 700)", meta.mode() & 0o777))
    } else {
        None
    }
}

impl Slot {
    fn open(dir: &Path, config: &Config, subject: Option<&Subject>) -> Result<Slot, String> {
        let uid = sys::effective_uid();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create the cache directory: {}", e.kind()))?;
        let meta = fs::symlink_metadata(dir).map_err(|e| format!("cannot read the cache directory: {}", e.kind()))?;
        if let Some(problem) = dir_problem(&meta, uid) {
            return Err(format!("the cache directory {problem}"));
        }
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
            file: dir.join(format!("token-{key}.json")),
            lock: dir.join(format!("token-{key}.lock")),
            dir: dir.to_path_buf(),
            token_url,
            client_id,
            subject: subject.cloned(),
            fingerprint: fingerprint(settings.client_secret.expose()),
            uid,
        })
    }

    /// Opens a file of the slot without following a symlink or blocking on a
    /// FIFO, and checks it is a regular file of ours before anyone reads it.
    fn open_own(&self, path: &Path, options: &mut OpenOptions) -> Result<File, String> {
        let file = options
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| format!("cannot open {}: {}", path.display(), e.kind()))?;
        let meta = file.metadata().map_err(|e| e.kind().to_string())?;
        if !meta.is_file() || meta.uid() != self.uid {
            return Err(format!("{} is not a regular file of this user", path.display()));
        }
        Ok(file)
    }

    /// The cached token, if the file is ours, private, well-formed and for this
    /// slot and secret.
    fn read(&self) -> Option<Token> {
        let mut file = self.open_own(&self.file, OpenOptions::new().read(true)).ok()?;
        let meta = file.metadata().ok()?;
        if meta.mode() & 0o077 != 0 || meta.len() > MAX_FILE_BYTES {
            return None;
        }
        let mut text = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
        Read::by_ref(&mut file).take(MAX_FILE_BYTES).read_to_end(&mut text).ok()?;
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

        let temp = self.dir.join(format!(".token-{}-{:08x}.tmp", std::process::id(), random_u32()));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&temp)?;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            file.write_all(&text)?;
            file.sync_all()?;
            fs::rename(&temp, &self.file)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Takes the slot's lock, waiting at most until `deadline`: first this
    /// process's turn on the lock file, then the record lock on it.
    fn lock(&self, deadline: Instant) -> Result<Held, String> {
        let too_long = || "another process held its lock past half of this call's time".to_string();
        loop {
            let open = OPEN_LOCKS.get(|_| Mutex::default());
            if open.lock().unwrap_or_else(|e| e.into_inner()).insert(self.lock.clone()) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(too_long());
            }
            std::thread::sleep(LOCK_POLL);
        }
        let mut held = Held { file: None, path: self.lock.clone() };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false).mode(0o600);
        let file = self.open_own(&self.lock, &mut options)?;
        loop {
            match sys::try_lock_record(&file) {
                Ok(true) => {
                    held.file = Some(file);
                    return Ok(held);
                }
                Ok(false) if Instant::now() < deadline => std::thread::sleep(LOCK_POLL),
                Ok(false) => return Err(too_long()),
                Err(e) => return Err(format!("cannot lock it: {}", e.kind())),
            }
        }
    }

    /// Removes temp files left by writers killed between write and rename.
    fn sweep_stale_temp_files(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(writer) = name
                .to_str()
                .and_then(|n| n.strip_prefix(".token-"))
                .and_then(|n| n.strip_suffix(".tmp"))
                .and_then(|n| n.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            let age = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
            if !sys::process_exists(writer) || age.is_some_and(|a| a > STALE_TEMP_AGE) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Hex HMAC-SHA-256 of a fixed label, keyed by the secret.
fn fingerprint(secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::sign(&key, FINGERPRINT_LABEL).as_ref().iter().map(|b| format!("{b:02x}")).collect()
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

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes) ^ SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fingerprint_depends_on_the_secret_and_never_contains_it() {
        let a = super::fingerprint("secret-one");
        assert_eq!(a.len(), 64);
        assert_eq!(a, super::fingerprint("secret-one"));
        assert_ne!(a, super::fingerprint("secret-two"));
        assert!(!a.contains("secret"));
    }
}
