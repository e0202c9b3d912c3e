//! What `sigma-token` writes: the formats, `--output-file` and `--watch`.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use sigma_auth::{Client, ErrorCode, Token};
use zeroize::Zeroizing;

use crate::{failure, Failure, BASE_URL_VARIABLE, DEFAULT_TOKEN_VARIABLE};

/// What is printed (or written to `--output-file`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// The token alone; a newline follows only on a terminal.
    Token,
    /// `--json`: `{access_token, token_type, expires_in, expires_at}`, as ever.
    Json,
    HeaderJson,
    CredentialJson,
    Env,
    CurlHeader,
}

impl Format {
    const NAMES: &'static [(&'static str, Format)] = &[
        ("token", Format::Token),
        ("header-json", Format::HeaderJson),
        ("credential-json", Format::CredentialJson),
        ("env", Format::Env),
        ("curl-header", Format::CurlHeader),
        ("json", Format::Json),
    ];

    pub(crate) fn parse(name: &str) -> Result<Format, String> {
        Format::NAMES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).ok_or_else(|| {
            let names: Vec<&str> = Format::NAMES.iter().map(|(n, _)| *n).collect();
            format!("--format: unknown format {name:?} (expected one of {})", names.join(", "))
        })
    }
}

/// The output in `format`. `terminal`: the bare token gets a newline.
pub(crate) fn render(format: Format, token: &Token, base_url: &str, terminal: bool) -> Zeroizing<String> {
    let access = token.access_token();
    Zeroizing::new(match format {
        Format::Token if terminal => format!("{access}\n"),
        Format::Token => access.to_string(),
        Format::Json => {
            let json = serde_json::json!({
                "access_token": access,
                "token_type": token.token_type(),
                "expires_in": token.expires_in().as_secs(),
                "expires_at": token.expires_at_unix(),
            });
            format!("{json}\n")
        }
        Format::HeaderJson => {
            let header = Zeroizing::new(format!("Bearer {access}"));
            format!("{{\"Authorization\": {}}}\n", *json_string(&header))
        }
        Format::CredentialJson => format!(
            "{{\"version\": 1, \"token_type\": \"Bearer\", \"access_token\": {}, \"expires_at\": \"{}\"}}\n",
            *json_string(access),
            rfc3339_utc(token.expires_at_unix())
        ),
        Format::Env => format!(
            "export {DEFAULT_TOKEN_VARIABLE}={}\nexport {BASE_URL_VARIABLE}={}\n",
            *sh_quote(access),
            *sh_quote(base_url)
        ),
        Format::CurlHeader => format!("Authorization: Bearer {access}\n"),
    })
}

fn json_string(text: &str) -> Zeroizing<String> {
    Zeroizing::new(serde_json::Value::from(text).to_string())
}

/// `text` as one word for POSIX sh: single-quoted, each `'` as `'\''`. Nothing
/// inside single quotes is special to the shell, so no value can run a command.
fn sh_quote(text: &str) -> Zeroizing<String> {
    let mut quoted = Zeroizing::new(String::with_capacity(text.len() + 2));
    quoted.push('\'');
    for c in text.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// Unix seconds as RFC 3339 in UTC, e.g. `2026-11-29T10:00:00Z`.
fn rfc3339_utc(unix: i64) -> String {
    let (days, seconds) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Days to a proleptic Gregorian date (Howard Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", seconds / 3600, seconds % 3600 / 60, seconds % 60)
}

pub(crate) fn file_failure(path: &Path, error: io::Error) -> Failure {
    // Problems with the path the user gave are theirs to fix, not ours.
    let code = match error.kind() {
        io::ErrorKind::InvalidInput
        | io::ErrorKind::NotFound
        | io::ErrorKind::PermissionDenied
        | io::ErrorKind::IsADirectory
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::ReadOnlyFilesystem
        | io::ErrorKind::InvalidFilename => ErrorCode::InvalidArgument,
        _ => ErrorCode::Internal,
    };
    failure(code, format!("cannot write {}: {error}", path.display()))
}

/// Writes `content` to `path` atomically (a 0600 temp file in the same
/// directory, synced, renamed over `path`), unless `path` already holds exactly
/// that in a private regular file: then it is left alone, mtime included.
/// Returns whether it wrote. Something other than a regular file at `path` (a
/// directory, a FIFO, a device), or a symbolic link to one (`/dev/stdout`), is
/// refused; a link to a regular file (or to nothing) is replaced, its target
/// never written.
pub(crate) fn write_output_file(path: &Path, content: &[u8]) -> io::Result<bool> {
    let refused = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::metadata(path).is_ok_and(|target| !target.is_file()),
        Ok(meta) => !meta.is_file(),
        Err(_) => false,
    };
    if refused {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "it exists and is not a regular file"));
    }
    let name =
        path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    check_directory(path, dir)?;
    if holds(path, content) {
        return Ok(false);
    }
    sweep_stale_temp_files(dir, name);
    let (temp, file) = create_temp(dir, name)?;
    let written = write_synced(file, content).and_then(|()| fs::rename(&temp, path));
    if let Err(error) = written {
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    // The rename itself, durable (best effort: not every file system syncs directories).
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(true)
}

/// Where the file may be written: never under /dev, /proc or /sys (their
/// entries are the system's: `/dev/stdout` is a link that a rename would
/// replace for everyone), and a symbolic link only in a directory of this user
/// that others cannot write (elsewhere someone else may have put it there).
fn check_directory(path: &Path, dir: &Path) -> io::Result<()> {
    let real = fs::canonicalize(dir)?;
    if ["/dev", "/proc", "/sys"].iter().any(|system| real.starts_with(system)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is in {}, which holds the system's files, not ours", real.display()),
        ));
    }
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let meta = fs::metadata(&real)?;
        // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
        let uid = unsafe { libc::geteuid() };
        if meta.uid() != uid || meta.mode() & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link in a directory that is not this user's alone: it may not be ours to replace",
            ));
        }
    }
    Ok(())
}

/// Removes temp files (`.NAME.PID.NONCE.tmp`, see [`create_temp`]) left in
/// `dir` by writers that died between writing and renaming (a `--watch`
/// killed with SIGKILL): each holds a token.
fn sweep_stale_temp_files(dir: &Path, name: &std::ffi::OsStr) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let prefix = format!(".{}.", name.to_string_lossy());
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(prefix.as_str())) else { continue };
        let Some(pid) = rest.strip_suffix(".tmp").and_then(|r| r.split('.').next()).and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let alive = pid > 0
            && (unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM));
        if !alive && entry.metadata().is_ok_and(|m| m.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether `path` is a private regular file holding exactly `content`. Opened
/// without blocking or following a link and judged by what was opened, so
/// something swapped in since a check (a FIFO) is never read.
fn holds(path: &Path, content: &[u8]) -> bool {
    let mut options = OpenOptions::new();
    options.read(true);
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK | libc::O_NOFOLLOW);
    let Ok(mut file) = options.open(path) else { return false };
    let Ok(meta) = file.metadata() else { return false };
    let private = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 == 0;
    if !meta.is_file() || !private || meta.len() != content.len() as u64 {
        return false;
    }
    let mut existing = Zeroizing::new(Vec::with_capacity(content.len()));
    io::Read::read_to_end(&mut file, &mut existing).is_ok() && *existing == content
}

fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    let mut attempt = 0u32;
    loop {
        let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.{:08x}.tmp", std::process::id(), nonce ^ attempt));
        let temp = dir.join(temp_name);
        let mut open = OpenOptions::new();
        open.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        match open.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

fn write_synced(mut file: File, content: &[u8]) -> io::Result<()> {
    file.write_all(content)?;
    file.sync_all()
}

const MIN_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// `--watch`: keeps `path` holding the current token until SIGTERM or SIGINT.
///
/// The client refreshes the token in the background within its refresh
/// window (once per window, and only when asked for the token during it), so
/// this polls `cached_token()` every min(5 s, lifetime / 20) (at least 100 ms),
/// never waiting on the network itself, and rewrites the file when the token's
/// serial changes (or the file no longer holds it).
/// A request is made in the foreground (on a helper thread, so a signal is
/// still seen at once) only when no usable token is left. The first token must
/// be had and written, or the command fails; later failures keep the old file,
/// print one line and are retried with backoff.
pub(crate) fn watch(client: &Client, format: Format, base_url: &str, path: &Path) -> Result<(), Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| failure(ErrorCode::Internal, format!("cannot handle signal {signal}: {e}")))?;
    }
    let mut written: Option<Arc<Token>> = None; // the token in the file
    let mut warned: Option<u64> = None; // the token a late refresh was reported for
    let mut troubled = false; // a problem was reported since the last new token
    let mut fetch: Option<mpsc::Receiver<sigma_auth::Result<Arc<Token>>>> = None;
    let mut retry_at = Instant::now();
    let mut backoff = Duration::ZERO;
    let mut interval = MIN_POLL;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let mut current = client.cached_token();
        if current.is_some() {
            fetch = None;
        } else if let Some(result) = fetch.as_ref().map(mpsc::Receiver::try_recv) {
            match result {
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => fetch = None,
                Ok(Ok(token)) => {
                    fetch = None;
                    current = Some(token);
                }
                Ok(Err(error)) => {
                    fetch = None;
                    let Some(last) = &written else { return Err(error.into()) };
                    backoff = next_backoff(backoff, interval);
                    retry_at = now + backoff;
                    troubled = true;
                    let left = last.remaining();
                    let state =
                        if left.is_zero() { "expired".into() } else { format!("valid {} s more", left.as_secs()) };
                    eprintln!(
                        "sigma-token: {error}; {} keeps the last token ({state}); retrying in {} s",
                        path.display(),
                        backoff.as_secs()
                    );
                }
            }
        } else if now >= retry_at {
            let (sender, receiver) = mpsc::channel();
            let client = client.clone();
            std::thread::spawn(move || {
                let _ = sender.send(client.token());
            });
            fetch = Some(receiver);
        }
        if let Some(token) = current {
            let new = written.as_ref().is_none_or(|w| w.serial() != token.serial());
            if written.is_none() || now >= retry_at {
                // Unchanged content is left alone; this also puts back a file
                // that something else changed or removed.
                match write_output_file(path, render(format, &token, base_url, false).as_bytes()) {
                    Ok(_) => {
                        if new {
                            interval = (token.expires_in() / 20).clamp(MIN_POLL, MAX_POLL);
                            if troubled {
                                eprintln!("sigma-token: {} has a new token again", path.display());
                                troubled = false;
                            }
                        }
                        written = Some(Arc::clone(&token));
                        backoff = Duration::ZERO;
                    }
                    Err(error) if written.is_none() => return Err(file_failure(path, error)),
                    Err(error) => {
                        backoff = next_backoff(backoff, interval);
                        retry_at = now + backoff;
                        troubled = true;
                        eprintln!(
                            "sigma-token: cannot write {}: {error}; retrying in {} s",
                            path.display(),
                            backoff.as_secs()
                        );
                    }
                }
            }
            if !new && warned != Some(token.serial()) && refresh_overdue(&token) {
                warned = Some(token.serial());
                troubled = true;
                eprintln!(
                    "sigma-token: the token has not been refreshed yet ({:.1} s left); {} keeps it; retrying",
                    token.remaining().as_secs_f64(),
                    path.display()
                );
            }
        }
        sleep_unless(&stop, if fetch.is_some() { MIN_POLL } else { interval });
    }
    match written {
        Some(_) => Ok(()),
        // Stopped before the file ever held a token: whoever waits for it must not take that as success.
        None => Err(failure(ErrorCode::Internal, format!("stopped before a token was written to {}", path.display()))),
    }
}

/// Past the middle of the token's refresh window (the library's default:
/// min(5 min, half the lifetime)) with no new token: the background refresh
/// has been failing, or is very slow.
fn refresh_overdue(token: &Token) -> bool {
    let window = (token.expires_in() / 2).min(Duration::from_secs(300));
    token.remaining() < window / 2
}

fn next_backoff(previous: Duration, interval: Duration) -> Duration {
    if previous.is_zero() {
        interval.max(Duration::from_secs(1))
    } else {
        (previous * 2).min(MAX_BACKOFF)
    }
}

/// Sleeps for `duration`, or less when `stop` is set (checked every 50 ms).
fn sleep_unless(stop: &AtomicBool, duration: Duration) {
    let end = Instant::now() + duration;
    while !stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_946_400), "2026-11-29T10:00:00Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn sh_quoting() {
        assert_eq!(*sh_quote("abc"), "'abc'");
        assert_eq!(*sh_quote(""), "''");
        assert_eq!(*sh_quote("a'b"), "'a'\\''b'");
        assert_eq!(*sh_quote("$(x)`y`;|&"), "'$(x)`y`;|&'");
    }
}
