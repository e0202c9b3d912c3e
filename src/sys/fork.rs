//! Fork: a generation number that is one higher in each child, and hooks that
//! the modules above register to run in a child just forked. This layer never
//! calls up: whoever needs to act after a fork says so with
//! [`on_fork_in_child`].
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static WATCHING_FORKS: AtomicBool = AtomicBool::new(false);

/// Room for this many hooks; the library registers one.
const MAX_HOOKS: usize = 4;
/// The hooks, as `fn()` pointers cast to `usize` (0: an empty slot). Atomics,
/// not a lock: the fork handler reads them in a child that may have been
/// forked while another thread was registering one.
static HOOKS: [AtomicUsize; MAX_HOOKS] = [const { AtomicUsize::new(0) }; MAX_HOOKS];

/// How many forks separate this process from the one that first asked: 0 there,
/// one more in each child. Costs one atomic load; the count is bumped by a
/// `pthread_atfork` child handler, so no system call is made per check.
pub(crate) fn fork_generation() -> u64 {
    if !WATCHING_FORKS.load(Ordering::Acquire) {
        watch_forks();
    }
    FORK_GENERATION.load(Ordering::Acquire)
}

/// Runs `hook` in every child forked from now on, inside the fork handler,
/// before `fork()` returns there. The hook must be async-signal-safe (atomic
/// operations only), as anything run in the child of a multi-threaded
/// process must be. Registering the same hook again does nothing.
///
/// # Panics
/// When more than [`MAX_HOOKS`] different hooks are registered: a bug here.
pub(crate) fn on_fork_in_child(hook: fn()) {
    watch_forks();
    let wanted = hook as usize;
    for slot in &HOOKS {
        match slot.compare_exchange(0, wanted, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(taken) if taken == wanted => return,
            Err(_) => {}
        }
    }
    panic!("more than {MAX_HOOKS} fork hooks");
}

#[cold]
fn watch_forks() {
    // A flag, not a `Once`: a fork during a `Once` would leave the child waiting
    // forever on an initialisation no thread of it will finish.
    if WATCHING_FORKS.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: registers a child handler that only does atomic operations and
    // calls hooks that promise the same, which are async-signal-safe as a
    // handler run in the child of fork() must be.
    unsafe {
        libc::pthread_atfork(None, None, Some(after_fork_in_child));
    }
}

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::AcqRel);
    for slot in &HOOKS {
        let hook = slot.load(Ordering::Acquire);
        if hook != 0 {
            // SAFETY: only `fn()` pointers cast to usize are ever stored (see
            // `on_fork_in_child`), so this is one of them, and it is valid for
            // the life of the program.
            let hook = unsafe { std::mem::transmute::<usize, fn()>(hook) };
            hook();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    static RAN: AtomicU64 = AtomicU64::new(0);

    fn count() {
        RAN.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn a_hook_runs_once_per_fork_in_the_child_and_registering_it_twice_changes_nothing() {
        super::on_fork_in_child(count);
        super::on_fork_in_child(count);
        let before = super::fork_generation();
        // SAFETY: the child only reads atomics and exits at once.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = RAN.load(Ordering::SeqCst) == 1 && super::fork_generation() == before + 1;
            // SAFETY: _exit is async-signal-safe and ends the child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked; `status` is writable.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the hook ran once in the child");
        assert_eq!(RAN.load(Ordering::SeqCst), 0, "and never in the parent");
    }
}
