//! A value that belongs to one process.
//!
//! After `fork()` the child has copies of the parent's locks, connection pool and
//! flags, but not the threads that would release or settle them: a lock held at
//! the moment of the fork stays held in the child forever. So each piece of
//! mutable state lives in a [`PerProcess`] slot tagged with the fork generation
//! it was made in. A child notices the changed generation on its next use, makes
//! a fresh value (seeded from what it can read without waiting on a lock, if it
//! wants) and never drops the parent's, even when what holds the slot is dropped
//! in the child first: dropping it could free memory a parent thread was
//! half-way through writing.

use std::ops::Deref;
use std::sync::Arc;

use arc_swap::{ArcSwapOption, Guard};

use super::fork::fork_generation;

pub(crate) struct PerProcess<T> {
    slot: ArcSwapOption<Tagged<T>>,
}

pub(crate) struct Tagged<T> {
    generation: u64,
    value: T,
}

impl<T> Deref for Tagged<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A short-lived borrow of the current process's value (no reference count is
/// touched). Hold it for the duration of one call, not across a network wait:
/// use [`PerProcess::get_full`] for that.
pub(crate) struct Local<T>(Guard<Option<Arc<Tagged<T>>>>);

impl<T> Deref for Local<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("a Local always holds a value")
    }
}

impl<T> Default for PerProcess<T> {
    fn default() -> Self {
        PerProcess::new()
    }
}

impl<T> PerProcess<T> {
    pub(crate) const fn new() -> Self {
        PerProcess { slot: ArcSwapOption::const_empty() }
    }

    /// This process's value, made by `make` on first use and after each fork.
    /// `make` receives the value of an earlier generation, if any, to read from.
    pub(crate) fn get(&self, make: impl Fn(Option<&T>) -> T) -> Local<T> {
        let generation = fork_generation();
        loop {
            let current = self.slot.load();
            if current.as_ref().is_some_and(|v| v.generation == generation) {
                return Local(current);
            }
            self.renew(&current, generation, &make);
        }
    }

    /// Like [`PerProcess::get`], as an owned reference for long operations.
    pub(crate) fn get_full(&self, make: impl Fn(Option<&T>) -> T) -> Arc<Tagged<T>> {
        let local = self.get(make);
        Arc::clone(local.0.as_ref().expect("a Local always holds a value"))
    }

    #[cold]
    fn renew(&self, stale: &Option<Arc<Tagged<T>>>, generation: u64, make: impl Fn(Option<&T>) -> T) {
        let fresh = Arc::new(Tagged { generation, value: make(stale.as_deref().map(|t| &t.value)) });
        let previous = self.slot.compare_and_swap(stale, Some(fresh));
        let replaced = match (&*previous, stale) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if replaced {
            if let Some(old) = stale {
                // Leak one reference: the parent's value is never dropped here.
                std::mem::forget(Arc::clone(old));
            }
        }
        // Otherwise another thread installed its own first; the loop reads it.
    }
}

impl<T> Drop for PerProcess<T> {
    /// A value made before the last fork belongs to the parent, even when the
    /// child drops what holds it before using it since the fork: it is leaked.
    fn drop(&mut self) {
        if let Some(value) = self.slot.load_full() {
            if value.generation != fork_generation() {
                std::mem::forget(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PerProcess;

    #[test]
    fn the_value_is_made_once_per_process() {
        let slot: PerProcess<u32> = PerProcess::new();
        let made = std::sync::atomic::AtomicU32::new(0);
        let make = |_: Option<&u32>| made.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 7;
        assert_eq!(*slot.get(make), 7);
        assert_eq!(*slot.get(make), 7);
        assert_eq!(**slot.get_full(make), 7);
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
