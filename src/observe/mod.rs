//! What the library did: events for a callback, and counters per client.
//! Below everything that does work, so every layer can report to it.

mod events;
mod stats;

pub(crate) use events::Trace;
pub use events::{Event, EventCallback, EventKind};
pub(crate) use stats::Counters;
pub use stats::Stats;
