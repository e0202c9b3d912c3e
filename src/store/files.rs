//! Private files that several processes share: a directory of this user's
//! (0700), files read only when they are regular files of ours that no one
//! else can read, written whole (temp file, fsync, rename, fsync of the
//! directory) or not at all, and a lock per file that a process holds alone.
//!
//! The lock is a POSIX record lock (`fcntl`), which belongs to the process: a
//! child forked while it is held never holds it, and the kernel drops it when
//! its holder dies, however. (An `flock` would belong to the open file
//! description, shared with every forked child, and outlive a killed parent.)
//! Threads of one process take turns through an in-process guard first, since
//! record locks do not exclude threads of the same process.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::sys::{self, PerProcess};

/// The lock files some thread of this process has open (and locked, or is
/// about to): one at a time per file, since closing any descriptor of a
/// file drops the process's record lock on it.
static OPEN_LOCKS: PerProcess<Mutex<HashSet<PathBuf>>> = PerProcess::new();

const LOCK_POLL: Duration = Duration::from_millis(10);
/// A temp file this old is litter whatever its writer is doing: writes take milliseconds.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// A directory only this user can reach.
pub(crate) struct PrivateDir {
    dir: PathBuf,
    uid: u32,
}

/// A lock on one file of a [`PrivateDir`]: released, its file closed, and its
/// path given back to the other threads of this process, when dropped.
pub(crate) struct Held {
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

/// Why a directory cannot hold private files, if it cannot: only a private
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

/// Whether `dir` can hold private files: Ok(true) when it is a private
/// directory of this user, Ok(false) when it does not exist yet, else why not.
pub(crate) fn check_dir(dir: &Path) -> std::result::Result<bool, String> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot read it: {}", e.kind())),
        Ok(meta) => dir_problem(&meta, sys::effective_uid()).map_or(Ok(true), Err),
    }
}

impl PrivateDir {
    /// `dir`, created (mode 700, with its parents) when missing; `what` names
    /// it in the reason it cannot be used.
    pub(crate) fn open(dir: &Path, what: &str) -> Result<PrivateDir, String> {
        let uid = sys::effective_uid();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create the {what}: {}", e.kind()))?;
        let meta = fs::symlink_metadata(dir).map_err(|e| format!("cannot read the {what}: {}", e.kind()))?;
        if let Some(problem) = dir_problem(&meta, uid) {
            return Err(format!("the {what} {problem}"));
        }
        Ok(PrivateDir { dir: dir.to_path_buf(), uid })
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Opens a file without following a symlink or blocking on a FIFO, and
    /// checks it is a regular file of ours before anyone reads it.
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

    /// The content of `name`, if it is a regular file of ours that no one
    /// else can read, of at most `max` bytes.
    pub(crate) fn read(&self, name: &str, max: u64) -> Option<Zeroizing<Vec<u8>>> {
        self.read_checked(name, max, true).ok().flatten()
    }

    /// Like [`PrivateDir::read`], telling a missing file (Ok(None)) from one
    /// that is there but not to be trusted (Err: why). With `private` false,
    /// a file others can read is read all the same (to revoke what it holds).
    pub(crate) fn read_checked(
        &self,
        name: &str,
        max: u64,
        private: bool,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        let path = self.path(name);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{} cannot be read: {}", path.display(), e.kind())),
            Ok(_) => {}
        }
        let mut file = self.open_own(&path, OpenOptions::new().read(true))?;
        let meta = file.metadata().map_err(|e| e.kind().to_string())?;
        if private && meta.mode() & 0o077 != 0 {
            return Err(format!("{} has mode {:o}: others can read it", path.display(), meta.mode() & 0o777));
        }
        if meta.len() > max {
            return Err(format!("{} is larger than {max} bytes", path.display()));
        }
        let mut text = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
        Read::by_ref(&mut file).take(max).read_to_end(&mut text).map_err(|e| e.kind().to_string())?;
        Ok(Some(text))
    }

    /// Replaces `name` with `content` (mode 600) whole, durably: a temp file
    /// (`.{name}-{pid}-{random}.tmp`) written and synced, renamed over it, and
    /// the directory synced, so a crash leaves the old file or the new one.
    pub(crate) fn write(&self, name: &str, content: &[u8]) -> std::io::Result<()> {
        let temp = self.dir.join(format!(".{name}-{}-{:08x}.tmp", std::process::id(), random_u32()));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&temp)?;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            file.write_all(content)?;
            file.sync_all()?;
            fs::rename(&temp, self.path(name))?;
            File::open(&self.dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Removes `name` (a missing file is no error).
    pub(crate) fn remove(&self, name: &str) -> std::io::Result<()> {
        match fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The names of the directory's entries.
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect()
    }

    /// Takes the lock on `name`, waiting at most until `deadline`: first this
    /// process's turn on the lock file, then the record lock on it. `too_long`
    /// says why when the deadline passes.
    pub(crate) fn lock(&self, name: &str, deadline: Instant, too_long: &str) -> Result<Held, String> {
        let path = self.path(name);
        loop {
            let open = OPEN_LOCKS.get(|_| Mutex::default());
            if open.lock().unwrap_or_else(|e| e.into_inner()).insert(path.clone()) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(too_long.to_string());
            }
            std::thread::sleep(LOCK_POLL);
        }
        let mut held = Held { file: None, path: path.clone() };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false).mode(0o600);
        let mut file = self.open_own(&path, &mut options)?;
        loop {
            match sys::try_lock_record(&file) {
                // The file locked must still be the one at the path: a sweep
                // may have removed it while this process waited on it.
                Ok(true) if !same_file(&file, &path) => {
                    sys::unlock_record(&file);
                    file = self.open_own(&path, &mut options)?;
                }
                Ok(true) => {
                    held.file = Some(file);
                    return Ok(held);
                }
                Ok(false) if Instant::now() < deadline => std::thread::sleep(LOCK_POLL),
                Ok(false) => return Err(too_long.to_string()),
                Err(e) => return Err(format!("cannot lock it: {}", e.kind())),
            }
        }
    }

    /// Removes temp files (see [`PrivateDir::write`]) left by writers killed
    /// between write and rename.
    pub(crate) fn sweep_stale_temp_files(&self) {
        for name in self.names() {
            let Some(writer) = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".tmp"))
                .and_then(|n| n.rsplit('-').nth(1))
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            let path = self.path(&name);
            let age = fs::metadata(&path).ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
            if !sys::process_exists(writer) || age.is_some_and(|a| a > STALE_TEMP_AGE) {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Whether `file` is still the file at `path` (same device and inode).
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(open), Ok(there)) => open.dev() == there.dev() && open.ino() == there.ino(),
        _ => false,
    }
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes) ^ SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}
