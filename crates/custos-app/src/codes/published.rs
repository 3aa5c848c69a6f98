//! A published code rule read and parsed once per transaction: what issuing draws from and
//! what a transaction's lookups keep, below both.

use std::sync::Arc;

use custos_core::code_rule::Segment;
use custos_store::CodeRuleRow;

use super::{applies_of, segments_of, AppliesTo};
use crate::error::AppError;

/// A published rule as a creation uses it: read and parsed once per transaction.
pub(crate) struct PublishedRule {
    pub(super) row: CodeRuleRow,
    pub(super) applies: AppliesTo,
    /// The segments, or why the stored text could not be read.
    pub(super) segments: Result<Arc<Vec<Segment>>, String>,
}

impl PublishedRule {
    pub(crate) fn new(row: CodeRuleRow) -> PublishedRule {
        PublishedRule {
            applies: applies_of(&row),
            segments: segments_of(&row).map(Arc::new).map_err(|e| match e {
                AppError::Internal(m) => m,
                other => other.to_string(),
            }),
            row,
        }
    }
}
