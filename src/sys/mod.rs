//! The platform: system calls std lacks, fork, per-process values, randomness.
//! Unix only (the crate refuses to build elsewhere: see `lib.rs`). Together
//! with `ffi/`, the only code allowed `unsafe` (in `fork.rs` and `unix.rs`).
//! Nothing here knows about tokens or clients.

mod fork;
mod per_process;
mod random;
mod unix;

pub(crate) use fork::{fork_generation, on_fork_in_child};
pub(crate) use per_process::{Local, PerProcess, Tagged};
pub(crate) use random::random_fraction;
pub(crate) use unix::{effective_uid, instant_ns, monotonic_ns, process_exists, try_lock_record, unlock_record};
