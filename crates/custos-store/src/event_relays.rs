//! Cursors of the relays that hand the event log on to other systems (a NATS stream):
//! the last event number each has handed on, and a lease so that of several servers on
//! one database only one relays at a time.

use crate::{on_tx, StoreResult, Tx};

impl Tx {
    /// Take or renew the lease of relay `name` for `owner` until `until` (µs) when it is
    /// free, expired (before `now`) or already `owner`'s. A relay seen for the first time
    /// starts at `start`. Returns the relay's cursor when the lease is `owner`'s.
    pub async fn claim_event_relay(
        &mut self,
        name: &str,
        owner: &str,
        start: i64,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<i64>> {
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO event_relays (name, seq, lease_owner, lease_until, updated_at) \
             VALUES ($1, $2, NULL, 0, $3) ON CONFLICT (name) DO NOTHING"
        )
        .bind(name)
        .bind(start)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "UPDATE event_relays SET lease_owner = $2, lease_until = $3 \
             WHERE name = $1 AND (lease_owner = $2 OR lease_owner IS NULL OR lease_until < $4) \
             RETURNING seq"
        )
        .bind(name)
        .bind(owner)
        .bind(until)
        .bind(now)
        .fetch_optional(c)
        .await)?)
    }

    /// Move relay `name`'s cursor to `seq` if `owner` still holds its lease (and the
    /// cursor is behind `seq`). Returns whether it moved.
    pub async fn advance_event_relay(
        &mut self,
        name: &str,
        owner: &str,
        seq: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let moved = on_tx!(self, |c| sqlx::query(
            "UPDATE event_relays SET seq = $3, updated_at = $4 \
             WHERE name = $1 AND lease_owner = $2 AND seq < $3"
        )
        .bind(name)
        .bind(owner)
        .bind(seq)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(moved == 1)
    }

    /// Give up `owner`'s lease of relay `name` (on shutdown), so another server can take
    /// over at once.
    pub async fn release_event_relay(&mut self, name: &str, owner: &str) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "UPDATE event_relays SET lease_owner = NULL, lease_until = 0 \
             WHERE name = $1 AND lease_owner = $2"
        )
        .bind(name)
        .bind(owner)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Every relay's name, cursor and lease holder, by name.
    pub async fn event_relays(&mut self) -> StoreResult<Vec<(String, i64, Option<String>, i64)>> {
        Ok(on_tx!(self, |c| sqlx::query_as(
            "SELECT name, seq, lease_owner, lease_until FROM event_relays ORDER BY name"
        )
        .fetch_all(c)
        .await)?)
    }
}
