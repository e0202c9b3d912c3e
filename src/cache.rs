//! An opt-in token cache shared by processes, on disk.
//!
//! One file per (token endpoint, client id), mode 0600 in a 0700 directory,
//! never holding the client secret. A reader that finds a fresh token takes no
//! lock. Anyone about to request a token takes an advisory lock (flock) on a
//! lock file beside it, reads the file again (another process may have just
//! refreshed), and only then requests, writes by temp file + rename, and
//! unlocks; so one process refreshes at a time and each rotated refresh token is
//! used exactly once. The kernel drops the lock of a process that dies.
//!
//! Anything untrustworthy (wider permissions, another owner, a symlink, a file
//! that does not parse or belongs to another endpoint or client) is ignored and
//! replaced, never trusted.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;
use crate::token::Token;

const FORMAT_VERSION: u32 = 1;
const MAX_FILE_BYTES: u64 = 64 * 1024;
const LOCK_POLL: Duration = Duration::from_millis(10);

/// Gets a token through the cache in `dir`: a fresh cached one other than
/// `replacing` (the token the caller wants replaced, if any), or one from `fetch`
/// (given the newest refresh token known) made under the lock and then stored.
/// When the directory cannot be trusted, `fetch` runs without the cache.
pub(crate) fn obtain(
    dir: &Path,
    config: &Config,
    replacing: Option<&str>,
    remembered: Option<Secret>,
    fetch: impl FnOnce(Option<Secret>) -> Result<Token>,
) -> Result<Token> {
    let Some(slot) = Slot::open(dir, config) else {
        return fetch(remembered);
    };
    let usable = |entry: &Entry| entry.is_fresh(config) && Some(entry.token.access_token()) != replacing;
    if let Some(entry) = slot.read().filter(usable) {
        return Ok(entry.token);
    }
    let _lock = slot.lock(Instant::now() + config.timeout)?;
    let cached = slot.read();
    if let Some(entry) = cached.as_ref().filter(|e| usable(e)) {
        return Ok(entry.token.clone());
    }
    let newest = cached.and_then(|e| e.token.refresh_token().map(Secret::new)).or(remembered);
    let token = fetch(newest)?;
    // The token is good whether or not it could be stored; a failed write only
    // costs another process a request.
    let _ = slot.write(&token);
    Ok(token)
}

/// The files of one (endpoint, client id) pair.
struct Slot {
    file: PathBuf,
    lock: PathBuf,
    dir: PathBuf,
    token_url: String,
    client_id: String,
    uid: u32,
}

struct Entry {
    token: Token,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    token_url: String,
    client_id: String,
    access_token: String,
    refresh_token: Option<String>,
    token_type: String,
    expires_in: u64,
    /// Unix milliseconds: processes share no monotonic clock.
    expires_at_ms: u64,
}

impl Slot {
    fn open(dir: &Path, config: &Config) -> Option<Slot> {
        let uid = current_uid()?;
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).ok()?;
        let meta = fs::symlink_metadata(dir).ok()?;
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
            return None;
        }
        let token_url = config.endpoint().token_url().to_string();
        let client_id = config.client_id().to_string();
        let key = format!("{:016x}", fnv1a(&[token_url.as_bytes(), b"\n", client_id.as_bytes()]));
        Some(Slot {
            file: dir.join(format!("token-{key}.json")),
            lock: dir.join(format!("token-{key}.lock")),
            dir: dir.to_path_buf(),
            token_url,
            client_id,
            uid,
        })
    }

    /// The cached token, if the file is ours, private, well-formed and for this slot.
    fn read(&self) -> Option<Entry> {
        let mut file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&self.file).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.uid() != self.uid || meta.mode() & 0o077 != 0 || meta.len() > MAX_FILE_BYTES {
            return None;
        }
        let mut text = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
        Read::by_ref(&mut file).take(MAX_FILE_BYTES).read_to_end(&mut text).ok()?;
        let stored: Stored = serde_json::from_slice(&text).ok()?;
        if stored.version != FORMAT_VERSION || stored.token_url != self.token_url || stored.client_id != self.client_id
        {
            return None;
        }
        let token = Token::restore(
            stored.access_token,
            stored.refresh_token,
            stored.token_type,
            Duration::from_secs(stored.expires_in),
            UNIX_EPOCH + Duration::from_millis(stored.expires_at_ms),
        )?;
        Some(Entry { token })
    }

    fn write(&self, token: &Token) -> std::io::Result<()> {
        let expires_at_ms = token.expires_at().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let stored = Stored {
            version: FORMAT_VERSION,
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            access_token: token.access_token().to_string(),
            refresh_token: token.refresh_token().map(str::to_string),
            token_type: token.token_type().to_string(),
            expires_in: token.expires_in().as_secs(),
            expires_at_ms,
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

    /// Takes the slot's advisory lock, waiting at most until `deadline`.
    fn lock(&self, deadline: Instant) -> Result<File> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.lock)
            .map_err(|e| Error::new(ErrorCode::InvalidArgument, format!("cannot open the token cache lock: {e}")))?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(LOCK_POLL),
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::new(
                        ErrorCode::Timeout,
                        "timed out waiting for another process refreshing the cached token",
                    ))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::new(ErrorCode::Internal, format!("cannot lock the token cache: {e}")))
                }
            }
        }
    }
}

impl Entry {
    /// Fresh: usable and not yet in its refresh window, so nobody needs to refresh.
    fn is_fresh(&self, config: &Config) -> bool {
        self.token.remaining() > config.refresh_margin_for(self.token.expires_in())
    }
}

/// The effective user id, read without unsafe code: /proc/self belongs to it.
fn current_uid() -> Option<u32> {
    fs::metadata("/proc/self").ok().map(|m| m.uid())
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
