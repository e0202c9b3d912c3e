//! The current token's serial, published in one word that readers load
//! without a lock, a reference count or a clock read.
//!
//! "Is my token still current?" is asked on every API call, from many threads.
//! Each client publishes, in a word of its own:
//! - the current token's serial while it is fresh (usable, its refresh not due),
//! - the serial with [`DUE`] set once its refresh is due (a timer thread sets
//!   the bit at the deadline: the earlier of the refresh time and the end of use),
//! - 0 when there is no current token.
//!
//! So a reader holding the token with serial `s` keeps serving it while the
//! word equals `s`: one load. When the word is `s | DUE` it asks the library
//! ([`Published::fresh_until`]), which starts the refresh and answers how long
//! (1 ms, never past the end of use) it may keep serving `s` while the refresh
//! runs; any other value means "get the token again". Bindings load the word
//! themselves (its address never changes): their hot path makes no call.
//!
//! The words live in slots that are never freed, only reused by later clients:
//! a binding racing with the close of its client may still load its word, and
//! since serial numbers are never reused within a process, it can only see a
//! value that is not its serial.
//!
//! After fork, the child's words are copies that no timer would update (the
//! timer thread did not follow): the fork handler clears them (see
//! [`after_fork_in_child`]), and the child's first check publishes its own.

use std::cmp::Ordering as Order;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Sweep;
use crate::sys;
use crate::sys::PerProcess;

/// Set in a published word once the token's refresh is due.
pub(crate) const DUE: u64 = 1 << 63;

/// How often at most a binding asks the library while a due refresh runs.
pub(crate) const RECHECK: Duration = Duration::from_millis(1);

pub(crate) struct Slot {
    /// The current serial, maybe with [`DUE`]; 0 when there is none.
    word: AtomicU64,
    /// CLOCK_MONOTONIC nanoseconds at which the current token becomes due.
    due_ns: AtomicU64,
    /// The fork generation (`sys::fork_generation`) the word was published in.
    generation: AtomicU64,
    /// Whether a fork clears it ([`after_fork_in_child`]): true for the slots
    /// of [`SLOTS`]; a slot made beyond them is published with [`DUE`] set, so
    /// readers also check their deadline (which the library gives 1 ms ahead).
    registered: bool,
}

impl Slot {
    const fn new(registered: bool) -> Slot {
        Slot { word: AtomicU64::new(0), due_ns: AtomicU64::new(0), generation: AtomicU64::new(0), registered }
    }
}

/// The slots a fork clears: a static array, so the fork handler reaches them
/// with atomic operations only. Enough for this many clients alive at once;
/// later ones get slots of their own (see [`Slot::registered`]).
const REGISTERED: usize = 4096;
static SLOTS: [Slot; REGISTERED] = [const { Slot::new(true) }; REGISTERED];
/// How many of [`SLOTS`] were ever handed out (they are then reused, never returned).
static HANDED_OUT: AtomicUsize = AtomicUsize::new(0);

/// In a child just forked (the hook this module registers with
/// `sys::on_fork_in_child` when the first client is made): clears
/// every published word. The child inherited copies that no timer will ever
/// mark due (the parent's timer thread did not follow), and a reader that
/// never calls the library (a binding whose own fork hook did not run, as
/// when a C extension forks) would trust them forever. Cleared, they send
/// every reader to the library once, which publishes the child's own words.
/// Atomic loads and stores only: async-signal-safe, as a fork handler must be.
fn after_fork_in_child() {
    let used = HANDED_OUT.load(Ordering::Acquire).min(REGISTERED);
    for slot in &SLOTS[..used] {
        slot.word.store(0, Ordering::Release);
    }
}

/// Slots given back by dropped clients. Per process: a child never waits on a
/// lock its parent held at the fork (it leaves the parent's list behind).
static FREE: PerProcess<FreeList> = PerProcess::new();

type FreeList = Mutex<Vec<&'static Slot>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn free_list() -> crate::sys::Local<FreeList> {
    FREE.get(|_| Mutex::new(Vec::new()))
}

/// A slot from `free`, else a new one (never freed).
fn take(free: &FreeList) -> &'static Slot {
    if let Some(reused) = lock(free).pop() {
        return reused;
    }
    let next = HANDED_OUT.fetch_add(1, Ordering::AcqRel);
    SLOTS.get(next).unwrap_or_else(|| Box::leak(Box::new(Slot::new(false))))
}

fn give_back(free: &FreeList, slot: &'static Slot) {
    slot.word.store(0, Ordering::Release);
    lock(free).push(slot);
}

/// A client's slot, given back when the client is dropped.
pub(crate) struct Published(&'static Slot);

impl Published {
    pub(crate) fn new() -> Published {
        sys::on_fork_in_child(after_fork_in_child);
        Published(take(&free_list()))
    }

    /// Publishes the current token: `serial`, fresh until `due` (the earlier
    /// of its refresh time and the end of its use). Called under the client's
    /// control lock (or before the client is shared), so publishers never
    /// interleave.
    pub(crate) fn publish(&self, serial: u64, due: Instant) {
        let due_ns = sys::instant_ns(due);
        self.0.due_ns.store(due_ns, Ordering::Release);
        self.0.generation.store(sys::fork_generation(), Ordering::Release);
        // Without a timer thread (none could be started) the bit is set at
        // once: readers then check the clock on every call instead.
        let timed = self.0.registered && Timer::schedule(due_ns, self.0, serial);
        let word = if timed && sys::monotonic_ns() < due_ns { serial } else { serial | DUE };
        self.0.word.store(word, Ordering::Release);
    }

    /// Publishes the token a child process inherited, unless this process
    /// already published one (another thread may have got a newer token since).
    pub(crate) fn publish_inherited(&self, serial: u64, due: Instant) {
        if self.0.generation.load(Ordering::Acquire) != sys::fork_generation() {
            self.publish(serial, due);
        }
    }

    /// There is no current token.
    pub(crate) fn clear(&self) {
        self.0.word.store(0, Ordering::Release);
    }

    /// Whether the token with `serial` is current and its refresh not due:
    /// true means the caller may keep it without asking further.
    #[inline]
    pub(crate) fn fresh(&self, serial: u64) -> bool {
        serial != 0
            && self.0.word.load(Ordering::Acquire) == serial
            && self.0.generation.load(Ordering::Acquire) == sys::fork_generation()
    }

    /// How long a binding holding the token with `serial` (the client's
    /// current, usable token) may keep it without asking the library: until it
    /// is due if it is not yet; once due, [`RECHECK`] from now but never past
    /// `usable_until`.
    pub(crate) fn fresh_until(&self, serial: u64, usable_until: Instant) -> u64 {
        let now = sys::monotonic_ns();
        let due = self.0.due_ns.load(Ordering::Acquire);
        if self.fresh(serial) && now < due {
            return due;
        }
        (now + RECHECK.as_nanos() as u64).min(sys::instant_ns(usable_until))
    }

    /// The word, for bindings. Readable for the life of the process.
    pub(crate) fn word(&self) -> &'static AtomicU64 {
        &self.0.word
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        give_back(&free_list(), self.0);
    }
}

/// A deadline: set [`DUE`] on `slot` at `at_ns` if it still holds `serial`.
struct Deadline {
    at_ns: u64,
    serial: u64,
    slot: &'static Slot,
}

impl PartialEq for Deadline {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Order::Equal
    }
}

impl Eq for Deadline {}

impl PartialOrd for Deadline {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl Ord for Deadline {
    /// Reversed: the earliest deadline on top of the (max-)heap.
    fn cmp(&self, other: &Self) -> Order {
        (other.at_ns, other.serial).cmp(&(self.at_ns, self.serial))
    }
}

/// One thread per process sets [`DUE`] on published words at their deadlines.
/// It sleeps until the earliest and is woken when an earlier one is scheduled.
/// A deadline for a token since replaced finds another value in the word and
/// leaves it alone.
struct Timer {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// The deadlines: a token replaced before its deadline leaves its entry
/// behind, so a program that replaces tokens quickly would grow the heap
/// without bound. When it has doubled since the last clean-up, the entries of
/// replaced tokens are dropped, which keeps it within twice the clients with a
/// token (one entry each).
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Deadline>,
    sweep: Sweep,
}

impl Queue {
    fn push(&mut self, deadline: Deadline) {
        self.heap.push(deadline);
        if self.sweep.due(self.heap.len()) {
            self.heap.retain(|d| d.slot.word.load(Ordering::Acquire) == d.serial);
            self.sweep.swept(self.heap.len());
        }
    }
}

/// Per process: a child starts its own thread (its parent's did not follow).
static TIMER: PerProcess<Option<Arc<Timer>>> = PerProcess::new();

impl Timer {
    /// Schedules [`DUE`] for `slot` at `at_ns`, if it still holds `serial`
    /// then. False when no timer thread could be started.
    fn schedule(at_ns: u64, slot: &'static Slot, serial: u64) -> bool {
        let timer = TIMER.get(|_| Timer::start());
        let Some(timer) = timer.as_ref() else {
            return false;
        };
        let mut queue = lock(&timer.queue);
        let earlier = queue.heap.peek().is_none_or(|top| at_ns < top.at_ns);
        queue.push(Deadline { at_ns, serial, slot });
        drop(queue);
        if earlier {
            timer.wake.notify_one();
        }
        true
    }

    fn start() -> Option<Arc<Timer>> {
        let timer = Arc::new(Timer { queue: Mutex::new(Queue::default()), wake: Condvar::new() });
        let runner = timer.clone();
        std::thread::Builder::new().name("sigma-auth-timer".into()).spawn(move || runner.run()).ok()?;
        Some(timer)
    }

    fn run(&self) {
        let mut queue = lock(&self.queue);
        loop {
            let now = sys::monotonic_ns();
            let next = queue.heap.peek().map(|top| top.at_ns);
            match next {
                Some(at) if at <= now => {
                    let Deadline { serial, slot, .. } = queue.heap.pop().expect("peeked");
                    let _ = slot.word.compare_exchange(serial, serial | DUE, Ordering::AcqRel, Ordering::Acquire);
                }
                Some(at) => {
                    let wait = Duration::from_nanos(at - now);
                    queue = self.wake.wait_timeout(queue, wait).unwrap_or_else(|e| e.into_inner()).0;
                }
                None => queue = self.wake.wait(queue).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(mut done: impl FnMut() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn a_published_token_is_fresh_until_the_timer_marks_it_due() {
        let published = Published::new();
        assert!(!published.fresh(7));
        published.publish(7, Instant::now() + Duration::from_millis(300));
        assert!(published.fresh(7) && !published.fresh(8) && !published.fresh(0));
        assert_eq!(published.word().load(Ordering::Acquire), 7);
        let until = published.fresh_until(7, Instant::now() + Duration::from_secs(120));
        assert!(until > sys::monotonic_ns() + 200_000_000, "fresh until due");
        assert!(wait_for(|| published.word().load(Ordering::Acquire) == 7 | DUE), "the timer set DUE");
        assert!(!published.fresh(7));
        // Due: a binding re-checks within RECHECK, never past usable_until.
        let soon = published.fresh_until(7, Instant::now() + Duration::from_secs(5));
        let now = sys::monotonic_ns();
        assert!(soon > now && soon <= now + RECHECK.as_nanos() as u64);
        assert!(published.fresh_until(7, Instant::now() - Duration::from_secs(1)) <= sys::monotonic_ns());
        published.clear();
        assert!(!published.fresh(7) && published.word().load(Ordering::Acquire) == 0);
    }

    #[test]
    fn a_deadline_for_a_replaced_token_leaves_the_word_alone() {
        let published = Published::new();
        published.publish(21, Instant::now() + Duration::from_millis(50));
        published.publish(22, Instant::now() + Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(200));
        assert!(published.fresh(22), "21's deadline did not touch 22");
        published.publish(23, Instant::now() - Duration::from_millis(1));
        assert_eq!(published.word().load(Ordering::Acquire), 23 | DUE, "already due when published");
    }

    #[test]
    fn earlier_deadlines_wake_the_timer() {
        let late = Published::new();
        late.publish(31, Instant::now() + Duration::from_secs(3600));
        let soon = Published::new();
        soon.publish(32, Instant::now() + Duration::from_millis(20));
        assert!(wait_for(|| soon.word().load(Ordering::Acquire) == 32 | DUE));
        assert!(late.fresh(31));
    }

    #[test]
    fn deadlines_of_replaced_tokens_do_not_pile_up() {
        let published = Published::new();
        for serial in 1_000..11_000 {
            published.publish(serial, Instant::now() + Duration::from_secs(3600));
        }
        let timer = TIMER.get(|_| Timer::start());
        let len = lock(&timer.as_ref().expect("a timer").queue).heap.len();
        assert!(len < 1_000, "{len} deadlines kept for one client and some test clients");
        assert!(published.fresh(10_999));
    }

    #[test]
    fn slots_are_handed_back_cleared_and_reused() {
        let free = FreeList::default();
        let slot = take(&free);
        assert!(slot.registered || HANDED_OUT.load(Ordering::Acquire) > REGISTERED);
        slot.word.store(11, Ordering::Release);
        give_back(&free, slot);
        assert_eq!(slot.word.load(Ordering::Acquire), 0);
        assert!(std::ptr::eq(take(&free), slot), "the freed slot is reused");
        assert!(!std::ptr::eq(take(&free), slot), "and handed out once");
    }
}
