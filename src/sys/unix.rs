//! The few Unix system calls std does not offer: record locks, process
//! existence, the monotonic clock, the effective user id.
#![allow(unsafe_code)]

/// The effective user id: cache files must belong to it.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Tries to take a POSIX record lock for writing on the whole file, without
/// waiting: Ok(true) if taken, Ok(false) if another process holds one.
///
/// Unlike `flock`, the lock belongs to this process, not to the open file
/// description: a child forked while it is held does not hold it, and it is
/// gone as soon as this process is (killed or not). It is also gone when this
/// process closes any descriptor of the file, so the caller keeps one
/// descriptor per file open at a time (see `store/cache.rs`).
pub(crate) fn try_lock_record(file: &std::fs::File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed flock is a valid value of this plain C struct.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: a valid descriptor (borrowed from `file`) and a valid flock.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) } == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(error),
    }
}

/// Releases the record lock taken by [`try_lock_record`].
pub(crate) fn unlock_record(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: as in try_lock_record.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_UNLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: a valid descriptor and a valid flock; failure leaves nothing to undo.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
}

/// Whether a process with this id exists (it may belong to another user).
pub(crate) fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Nanoseconds on CLOCK_MONOTONIC, the clock of `std::time::Instant` on Linux
/// and of Python's `time.monotonic_ns()` and Go's monotonic readings.
pub(crate) fn monotonic_ns() -> u64 {
    read_clock(libc::CLOCK_MONOTONIC)
}

fn read_clock(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; these clocks always exist.
    unsafe { libc::clock_gettime(clock, &mut now) };
    (now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64)
}

/// `instant` as CLOCK_MONOTONIC nanoseconds (0 for an instant before boot).
pub(crate) fn instant_ns(instant: std::time::Instant) -> u64 {
    let (now, now_ns) = (std::time::Instant::now(), monotonic_ns());
    match instant.checked_duration_since(now) {
        Some(ahead) => now_ns.saturating_add(ahead.as_nanos() as u64),
        None => now_ns.saturating_sub(now.duration_since(instant).as_nanos() as u64),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_exists_and_pid_zero_never_does() {
        assert!(super::process_exists(std::process::id()));
        assert!(!super::process_exists(0));
        assert!(!super::process_exists(u32::MAX));
    }
}
