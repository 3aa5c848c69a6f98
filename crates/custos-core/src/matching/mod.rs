//! Duplicate detection (查重): records prepared once into comparable features, compared
//! pairwise into a score with evidence per field, and blocking keys for finding candidates
//! without scanning everything.
//!
//! ```text
//! MatchRecord ──prepare──▶ Prepared ──compare(a, b)──▶ MatchResult { score, evidence }
//!                              └──blocking_keys──▶ ["u:9111…", "n:华为技术", "y:huaweijishu", …]
//! ```
//!
//! The score is a Fellegi–Sunter model: every comparison lands in a level with an
//! m-probability (how often true duplicates look like this) and a u-probability (how often
//! two different customers that share a blocking key look like this); the level's weight
//! is `log2(m/u)`, the weights add up with a prior, and the score is the posterior
//! probability `1 / (1 + 2^-(prior + Σw))`. See [`score`] for the m/u values and why.

mod blocking;
pub mod cluster;
#[cfg(test)]
mod equality_only_tests;
mod features;
mod record;
mod score;

pub use blocking::{blocking_keys, MAX_BLOCKING_KEYS};
pub use features::{prepare, NameSource, PartyKind, Prepared, PreparedIdent, PreparedName};
pub use record::{MatchRecord, Thresholds, Verdict};
pub use score::{
    compare, compare_with, match_score, match_score_at_least, match_score_at_least_with,
    may_be_household, verdict_for_new, EqualityOnly, Evidence, EvidenceKind, MatchResult,
};
