//! The match-key postings a batch of creations reads ahead and keeps current in its
//! transaction, and the customer stamps they hold: plain data below both the
//! transaction's cache and the duplicate queries.

use std::collections::{HashMap, VecDeque};

pub(crate) type FoldMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Which version of a customer is stored (see [`crate::Tx::match_candidates`]). Plain data: a
/// batch of creations copies thousands of these around per customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CustomerStamp {
    pub id: i64,
    pub row_version: i64,
    pub updated_at: i64,
    /// The customer was merged into another (status `merged`): not a candidate.
    pub merged: bool,
}

impl CustomerStamp {
    pub(crate) fn new(id: i64, row_version: i64, updated_at: i64, status: &str) -> CustomerStamp {
        CustomerStamp {
            id,
            row_version,
            updated_at,
            merged: status == "merged",
        }
    }
}

/// The newest customers holding each of a batch's match keys, read once for the batch
/// (see [`crate::Tx::prefetch_match_candidates`]) and kept current as the batch creates
/// customers.
#[derive(Clone, Default)]
pub(crate) struct MatchPostings {
    pub(crate) per_key: i64,
    /// Per key hash, up to `per_key` stamps, newest (highest id) first.
    pub(crate) lists: FoldMap<i64, VecDeque<CustomerStamp>>,
    /// Creations added since the read-ahead.
    creations: u64,
}

impl MatchPostings {
    /// Empty postings for a read-ahead of up to `per_key` stamps per key.
    pub(crate) fn new(per_key: i64) -> MatchPostings {
        MatchPostings {
            per_key,
            ..MatchPostings::default()
        }
    }

    /// [`crate::Tx::match_candidates`] answered from memory, if every key was read ahead with
    /// the same cap: the same ranking the database does — by how many of `hashes` (as
    /// given, repeats counted) a customer holds, then newest first.
    pub(crate) fn candidates(
        &self,
        hashes: &[i64],
        per_key: i64,
        limit: i64,
    ) -> Option<Vec<CustomerStamp>> {
        if per_key != self.per_key {
            return None;
        }
        let mut hits: FoldMap<i64, (usize, CustomerStamp)> = FoldMap::default();
        for h in hashes {
            for s in self.lists.get(h)? {
                hits.entry(s.id).or_insert((0, *s)).0 += 1;
            }
        }
        let mut ranked: Vec<(usize, CustomerStamp)> = hits.into_values().collect();
        ranked.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.id.cmp(&a.1.id)));
        ranked.truncate(usize::try_from(limit).unwrap_or(0));
        Some(ranked.into_iter().map(|(_, s)| s).collect())
    }

    pub(crate) fn creations(&self) -> u64 {
        self.creations
    }

    /// A customer created in the transaction now holds `hashes` (deduplicated).
    pub(crate) fn created(&mut self, stamp: CustomerStamp, hashes: &[i64]) {
        self.creations += 1;
        let cap = usize::try_from(self.per_key).unwrap_or(0);
        for h in hashes {
            if let Some(list) = self.lists.get_mut(h) {
                // Ids grow, so the new customer is the newest holder of the key.
                list.push_front(stamp);
                list.truncate(cap);
            }
        }
    }
}
