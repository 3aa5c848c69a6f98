//! What a write transaction remembers of the hot rows it holds.

use std::collections::{HashMap, HashSet};

/// Hot rows a write transaction holds, and what it learnt about the code registry. Valid
/// because nobody else can change them until the transaction ends: on SQLite the writer
/// is alone (`BEGIN IMMEDIATE`); on PostgreSQL both rows are read `FOR UPDATE` (or
/// updated) before they are cached, and the lock lasts until the end of the transaction —
/// except a lock taken inside a savepoint that is rolled back, which is why a rollback to
/// a savepoint restores the cache as it was when the savepoint was taken.
#[derive(Clone, Default)]
pub(crate) struct WriteCache {
    /// The chain's head (last sequence number and hash) as the transaction left it.
    pub(crate) audit_head: Option<(i64, String)>,
    /// Next number per (rule key, scope); `dirty` when drawn here and not yet written.
    pub(crate) sequences: HashMap<(String, String), SequenceDraw>,
    /// Codes a look-ahead found absent from the registry and nobody has used since. Every
    /// writer of a code holds the audit head, so none can appear meanwhile; each is
    /// answered once (it is taken from the set when asked about or inserted).
    pub(crate) free_codes: HashSet<String>,
    /// Match-key postings read ahead for a batch of creations (see
    /// [`Tx::prefetch_match_candidates`]). Never kept across a savepoint: a rollback to
    /// one drops them, as does any change to a customer other than a creation.
    pub(crate) postings: Option<crate::match_postings::MatchPostings>,
    /// SQLite: the id the next customer inserted gets (its rowid is the largest plus
    /// one, and this transaction is the only writer). Forgotten by any other insert of
    /// a customer.
    pub(crate) next_customer_id: Option<i64>,
}

#[derive(Clone, Copy)]
pub(crate) struct SequenceDraw {
    pub(crate) next: i64,
    pub(crate) dirty: bool,
}
