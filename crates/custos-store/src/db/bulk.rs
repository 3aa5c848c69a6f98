//! What a write transaction that creates customers in bulk keeps beyond a plain one: the
//! queue of lookup rows not written yet, whether they go aside (see `lookups`), and the
//! background checkpointer its commit hands SQLite's write-ahead log to (see
//! `checkpoint`). A plain transaction has none of it: [`Tx`](super::Tx) holds this as
//! one optional field, and commit, rollback and savepoints each make one call here.

use std::sync::Arc;

use super::checkpoint::Checkpointer;
use crate::lookups::{Marks, PendingLookups};

pub(crate) struct BulkWrites {
    /// Set by [`Tx::set_bulk`](super::Tx::set_bulk).
    bulk: bool,
    /// SQLite write transactions: the background checkpointer.
    checkpointer: Option<Arc<Checkpointer>>,
    /// Bulk writes go aside from this many customers (SQLite writers; `i64::MAX` else).
    aside_from: i64,
    /// Lookup rows were written aside (see `lookups`): the commit considers a move.
    wrote_aside: bool,
    /// Lookup rows of new customers not written yet (SQLite; see `lookups`).
    pub(crate) pending: PendingLookups,
    /// How far the queue had got when the open savepoint was taken.
    saved_pending: Option<Marks>,
}

impl Default for BulkWrites {
    fn default() -> Self {
        BulkWrites {
            bulk: false,
            checkpointer: None,
            aside_from: i64::MAX,
            wrote_aside: false,
            pending: PendingLookups::default(),
            saved_pending: None,
        }
    }
}

impl BulkWrites {
    /// SQLite's writer: its checkpointer, and from how many customers bulk writes go
    /// aside.
    pub(super) fn sqlite_writer(checkpointer: Arc<Checkpointer>, aside_from: i64) -> Self {
        BulkWrites {
            checkpointer: Some(checkpointer),
            aside_from,
            ..BulkWrites::default()
        }
    }

    pub(super) fn set_bulk(&mut self) {
        self.bulk = true;
    }

    /// Whether the queued rows are written aside now, given the next customer id; once
    /// they are, the commit considers moving them.
    pub(super) fn write_aside(&mut self, next_customer_id: Option<i64>) -> bool {
        // `aside_from` is only below `i64::MAX` on SQLite's writer.
        let aside = self.bulk && next_customer_id.is_some_and(|next| next >= self.aside_from);
        self.wrote_aside |= aside;
        aside
    }

    pub(super) fn wrote_aside(&self) -> bool {
        self.wrote_aside
    }

    /// The checkpointer a bulk commit raises the mark for and hands the log to.
    pub(super) fn take_bulk_checkpointer(&mut self) -> Option<Arc<Checkpointer>> {
        self.checkpointer.take().filter(|_| self.bulk)
    }

    pub(super) fn savepoint(&mut self) {
        self.saved_pending = Some(self.pending.marks());
    }

    pub(super) fn release_savepoint(&mut self) {
        self.saved_pending = None;
    }

    /// Back to the queue as it was when the savepoint was taken.
    pub(super) fn rollback_to_savepoint(&mut self) {
        if let Some(marks) = self.saved_pending.take() {
            self.pending.restore(marks);
        }
    }
}
