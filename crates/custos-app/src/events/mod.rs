//! The ordered event log and its change feed (`events.read`).
//!
//! Use cases emit events into their transaction (`emit`); the store numbers and writes
//! them at the commit, so a change and its event commit together, in commit order,
//! without gaps. The feed reads them after a cursor, skipping events about customers
//! outside the caller's data scope (the cursor still moves past them), and can wait for
//! new ones. Retention (`[events] retention_days`) prunes old events once a day.

mod emit;
mod feed;
mod relay;
mod service;
pub use service::Events;

pub use emit::EVENT_TYPES;
pub(crate) use emit::*;
pub(crate) use feed::view as event_view;
pub use feed::{EventPage, EventQuery, EventView, MAX_LIMIT, MAX_WAIT_SECONDS};
pub use relay::{EventRelay, EventSink, RelayStart, RelayStep, SinkFuture};

/// `[events]` settings.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Events older than this many days are deleted by the daily job (default 90).
    pub retention_days: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig { retention_days: 90 }
    }
}
