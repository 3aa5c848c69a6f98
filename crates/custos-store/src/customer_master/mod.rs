//! Around the customer table: change history with snapshots, the PII blind index, tags,
//! name n-grams, custom field values, cross-references, and the search and statistics
//! queries over them.

mod history;
mod indexes;
mod new_customer;
mod search;
mod source_queue;
mod write;
mod xrefs;

pub use history::HistoryRow;
pub use indexes::CustomerIndexes;
pub use new_customer::NewCustomerWrite;
pub use search::{CustomerFilter, CustomerSort, GroupCount, ScopeFilter, SqlValue, StatGroup};
pub use source_queue::SourceQueueRow;
pub use xrefs::{FieldDefinitionRow, XrefRow};

use crate::StoreError;

/// Reject a write whose constraint says the pair is taken.
pub fn is_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict { .. })
}
