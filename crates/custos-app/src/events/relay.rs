//! Relays hand the event log on to another system (a NATS JetStream stream) through an
//! [`EventSink`], in order, at least once: a batch is handed on and only then is the
//! relay's cursor moved past it, so a crash between the two hands the batch on again
//! with the same event ids (the receiver drops them as duplicates by id).
//!
//! Of several servers on one database, one relays at a time: the relay's row carries a
//! lease the holder renews; when it stops renewing (crash, shutdown, network), another
//! takes over after the lease runs out. Relays see every event (no data scope): what
//! the receiving system lets its consumers read is configured there.

use crate::events::Events;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use custos_store::now_us;

use super::feed::{view, EventView};
use crate::error::{AppError, AppResult};
use crate::App;

/// How long a lease lasts by default; it is renewed when half of it is left.
const LEASE: Duration = Duration::from_secs(30);
/// How often an idle relay looks for new events (as the feed's long-poll does).
const POLL: Duration = Duration::from_millis(200);
/// How often a server that does not hold the lease looks whether it is free.
const STANDBY: Duration = Duration::from_secs(5);
/// Longest wait after a failure (the wait doubles from one second up to this).
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What [`EventSink::publish`] returns: a future borrowing the sink and the events.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// A system events are handed on to.
pub trait EventSink: Send + Sync {
    /// Hand on every event of the batch, in order, or fail (the whole batch is handed on
    /// again later; the receiver de-duplicates by event id).
    fn publish<'a>(&'a self, events: &'a [EventView]) -> SinkFuture<'a>;
}

/// Where a relay seen for the first time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayStart {
    /// With the oldest event still kept.
    Oldest,
    /// With the next event committed.
    Latest,
}

/// One relay of this server: its name (its row in the database), this server's lease
/// holder id, where it starts and how many events it hands on per batch.
#[derive(Debug, Clone)]
pub struct EventRelay {
    pub name: String,
    pub holder: String,
    pub start: RelayStart,
    pub batch: u32,
    /// How long a lease lasts: after a crash, another server takes over this much later.
    pub lease: Duration,
    lease_until: i64,
    cursor: i64,
}

impl EventRelay {
    /// A relay named `name` held by this process (a fresh holder id).
    pub fn new(name: &str, start: RelayStart, batch: u32) -> EventRelay {
        EventRelay {
            name: name.to_string(),
            holder: uuid::Uuid::new_v4().to_string(),
            start,
            batch: batch.clamp(1, super::MAX_LIMIT),
            lease: LEASE,
            lease_until: 0,
            cursor: 0,
        }
    }
}

/// What one round of a relay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayStep {
    /// Another server holds the lease.
    Standby,
    /// Nothing new.
    Idle,
    /// This many events were handed on.
    Relayed(usize),
}

impl Events<'_> {
    /// One round of `relay`: take or renew its lease when due, read the next batch after
    /// its cursor, hand it to `sink` and move the cursor past it. A sink's failure moves
    /// nothing and is returned.
    pub async fn relay_events_once(
        &self,
        relay: &mut EventRelay,
        sink: &dyn EventSink,
    ) -> AppResult<RelayStep> {
        let now = now_us();
        let lease_us = i64::try_from(relay.lease.as_micros()).unwrap_or(i64::MAX / 4);
        if now + lease_us / 2 > relay.lease_until {
            let mut tx = self.app.db.begin().await?;
            let head = tx.event_log_head().await?;
            let start = match relay.start {
                RelayStart::Oldest => head.pruned_through,
                RelayStart::Latest => head.last,
            };
            let until = now + lease_us;
            let claimed = tx
                .claim_event_relay(&relay.name, &relay.holder, start, now, until)
                .await?;
            tx.commit().await?;
            match claimed {
                Some(seq) => {
                    relay.lease_until = until;
                    relay.cursor = seq;
                }
                None => {
                    relay.lease_until = 0;
                    return Ok(RelayStep::Standby);
                }
            }
        }
        let cursor = relay.cursor;
        let limit = i64::from(relay.batch);
        let (rows, next) = match self.events_page(cursor, &[], limit).await {
            Ok(page) => page,
            Err(AppError::Gone(_)) => {
                // Retention deleted events this relay had not handed on: they cannot be
                // relayed any more; say so loudly and go on from the oldest kept.
                let head = {
                    let mut tx = self.app.db.begin_read().await?;
                    let head = tx.event_log_head().await?;
                    tx.rollback().await?;
                    head
                };
                tracing::error!(
                    relay = %relay.name,
                    from = cursor + 1,
                    through = head.pruned_through,
                    "events were pruned before this relay handed them on; they are skipped"
                );
                self.advance_relay(relay, head.pruned_through).await?;
                return Ok(RelayStep::Idle);
            }
            Err(e) => return Err(e),
        };
        if rows.is_empty() {
            if next > cursor {
                self.advance_relay(relay, next).await?;
            }
            return Ok(RelayStep::Idle);
        }
        let events: Vec<EventView> = rows.into_iter().map(view).collect();
        sink.publish(&events).await.map_err(|e| {
            AppError::Internal(format!(
                "relay {} could not hand on events: {e}",
                relay.name
            ))
        })?;
        self.advance_relay(relay, next).await?;
        Ok(RelayStep::Relayed(events.len()))
    }
}

impl App {
    /// Run `relay` until the task is stopped: rounds back to back while there is work,
    /// a short pause when idle, a longer one on standby, growing pauses after failures.
    pub async fn run_event_relay(self, mut relay: EventRelay, sink: Box<dyn EventSink>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self
                .events()
                .relay_events_once(&mut relay, sink.as_ref())
                .await
            {
                Ok(RelayStep::Relayed(_)) => backoff = Duration::from_secs(1),
                Ok(RelayStep::Idle) => {
                    backoff = Duration::from_secs(1);
                    tokio::time::sleep(POLL).await;
                }
                Ok(RelayStep::Standby) => tokio::time::sleep(STANDBY).await,
                Err(e) => {
                    tracing::warn!(relay = %relay.name, error = %e, "event relay failed; will retry");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

impl Events<'_> {
    /// Give up this server's lease of `relay` (on shutdown).
    pub async fn release_event_relay(&self, relay: &EventRelay) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
        tx.release_event_relay(&relay.name, &relay.holder).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Where each relay stands (`events.read`): name, the last event handed on, and the
    /// newest event.
    pub async fn event_relay_positions(
        &self,
        actor: &crate::Actor,
    ) -> AppResult<(Vec<(String, i64)>, i64)> {
        actor.require("events.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let relays = tx.event_relays().await?;
        let head = tx.event_log_head().await?;
        tx.rollback().await?;
        Ok((
            relays
                .into_iter()
                .map(|(name, seq, _, _)| (name, seq))
                .collect(),
            head.last,
        ))
    }

    async fn advance_relay(&self, relay: &mut EventRelay, seq: i64) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
        let moved = tx
            .advance_event_relay(&relay.name, &relay.holder, seq, now_us())
            .await?;
        tx.commit().await?;
        relay.cursor = seq;
        if !moved {
            // The lease went to another server meanwhile (this one stalled past it):
            // claim again next round; what was handed on twice carries the same ids.
            relay.lease_until = 0;
        }
        Ok(())
    }
}
