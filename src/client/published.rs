//! The current token's serial and how long it needs no check, published in
//! two words that readers load without a lock or a reference count.
//!
//! "Is my token still current?" is asked on every API call, from many threads:
//! answered from these words it is two loads and a coarse clock read, with no
//! write to memory other threads read. Bindings answer it without calling the
//! library at all: they load the serial word themselves (its address never
//! changes, see [`Published::serial_word`]) and keep the deadline beside their
//! copy of the token.
//!
//! The words live in slots that are never freed, only reused by later clients:
//! a binding racing with the close of its client may still load its word, and
//! since serial numbers are never reused within a process, it can only see a
//! serial that is not its own (and so ask the library, which answers for the
//! closed client). A child after fork has copies of its parent's words, which
//! describe the token it inherits; its first request publishes its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::os;
use crate::per_process::PerProcess;

/// How often at most a binding asks the library, while a due refresh runs.
pub(crate) const RECHECK: Duration = Duration::from_millis(1);

pub(crate) struct Slot {
    /// The current token's serial, or 0 when there is none.
    serial: AtomicU64,
    /// CLOCK_MONOTONIC nanoseconds before which that token is usable and its
    /// refresh not yet due (0: ask).
    check_ns: AtomicU64,
}

/// Slots given back by dropped clients. Per process: a child never waits on a
/// lock its parent held at the fork (it leaves the parent's list behind).
static FREE: PerProcess<Mutex<Vec<&'static Slot>>> = PerProcess::new();

/// A client's slot, given back when the client is dropped.
pub(crate) struct Published(&'static Slot);

type FreeList = Mutex<Vec<&'static Slot>>;

fn free_list() -> crate::per_process::Local<FreeList> {
    FREE.get(|_| Mutex::new(Vec::new()))
}

/// A slot from `free`, else a new one.
fn take(free: &FreeList) -> &'static Slot {
    let reused = free.lock().unwrap_or_else(|e| e.into_inner()).pop();
    reused.unwrap_or_else(|| Box::leak(Box::new(Slot { serial: AtomicU64::new(0), check_ns: AtomicU64::new(0) })))
}

fn give_back(free: &FreeList, slot: &'static Slot) {
    slot.check_ns.store(0, Ordering::Release);
    slot.serial.store(0, Ordering::Release);
    free.lock().unwrap_or_else(|e| e.into_inner()).push(slot);
}

impl Published {
    pub(crate) fn new() -> Published {
        Published(take(&free_list()))
    }

    /// Publishes the current token: `serial`, usable with no check until
    /// `check` (the earlier of its refresh time and the end of its use). Called
    /// under the client's control lock, so publishers never interleave.
    pub(crate) fn publish(&self, serial: u64, check: Instant) {
        // A reader that loads the new deadline then loads the new serial (see
        // `fresh`); one that loads an older deadline gets at most the old pair.
        self.0.check_ns.store(0, Ordering::Release);
        self.0.serial.store(serial, Ordering::Release);
        self.0.check_ns.store(os::instant_ns(check), Ordering::Release);
    }

    /// There is no current token.
    pub(crate) fn clear(&self) {
        self.0.check_ns.store(0, Ordering::Release);
        self.0.serial.store(0, Ordering::Release);
    }

    /// Whether the token with `serial` is current, usable and not due for a
    /// refresh: true means the caller may keep it without asking further.
    #[inline]
    pub(crate) fn fresh(&self, serial: u64) -> bool {
        let check = self.0.check_ns.load(Ordering::Acquire);
        serial != 0 && self.0.serial.load(Ordering::Acquire) == serial && os::coarse_monotonic_ns() < check
    }

    /// How long a binding holding the token with `serial` may keep it without
    /// asking the library: the published deadline while it is current and not
    /// due; once its refresh is due (and runs), [`RECHECK`] from `now` but never
    /// past `usable_until`; 0 when it is not the current token.
    pub(crate) fn fresh_until(&self, serial: u64, usable_until: Instant) -> u64 {
        let check = self.0.check_ns.load(Ordering::Acquire);
        if serial == 0 || self.0.serial.load(Ordering::Acquire) != serial {
            return 0;
        }
        let now = os::monotonic_ns();
        if now < check {
            return check;
        }
        (now + RECHECK.as_nanos() as u64).min(os::instant_ns(usable_until))
    }

    /// The word holding the current serial, for bindings. Readable for the life
    /// of the process.
    pub(crate) fn serial_word(&self) -> &'static AtomicU64 {
        &self.0.serial
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        give_back(&free_list(), self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_token_is_fresh_until_its_deadline_and_clear_ends_it() {
        let published = Published::new();
        assert!(!published.fresh(7));
        published.publish(7, Instant::now() + Duration::from_secs(60));
        assert!(published.fresh(7) && !published.fresh(8) && !published.fresh(0));
        let until = published.fresh_until(7, Instant::now() + Duration::from_secs(120));
        assert!(until > os::monotonic_ns() + 59_000_000_000);
        published.publish(8, Instant::now() - Duration::from_millis(50)); // beyond a clock tick
        assert!(!published.fresh(8), "past its deadline");
        // Due: a binding re-checks within RECHECK, never past usable_until.
        let soon = published.fresh_until(8, Instant::now() + Duration::from_secs(5));
        let now = os::monotonic_ns();
        assert!(soon > now && soon <= now + RECHECK.as_nanos() as u64);
        assert!(published.fresh_until(8, Instant::now() - Duration::from_secs(1)) <= os::monotonic_ns());
        published.clear();
        assert!(!published.fresh(8) && published.fresh_until(8, Instant::now()) == 0);
    }

    #[test]
    fn slots_are_handed_back_cleared_and_reused() {
        let free = FreeList::default();
        let slot = take(&free);
        slot.serial.store(11, Ordering::Release);
        slot.check_ns.store(u64::MAX, Ordering::Release);
        give_back(&free, slot);
        assert_eq!((slot.serial.load(Ordering::Acquire), slot.check_ns.load(Ordering::Acquire)), (0, 0));
        assert!(std::ptr::eq(take(&free), slot), "the freed slot is reused");
        assert!(!std::ptr::eq(take(&free), slot), "and handed out once");
    }

    #[test]
    fn the_coarse_clock_is_never_ahead_of_the_precise_one() {
        for _ in 0..1000 {
            let coarse = os::coarse_monotonic_ns();
            assert!(coarse <= os::monotonic_ns());
        }
    }
}
