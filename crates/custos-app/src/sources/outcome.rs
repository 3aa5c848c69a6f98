//! What an upsert by source key answers: the outcome and the customer or queue entry it
//! reached. Upserts, the queue and batches all build it.

use serde::{Deserialize, Serialize};

use crate::customers::duplicates::DuplicateCandidate;

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpsertOutcome {
    /// A new customer with a new code, linked to the source id.
    Created,
    /// The linked customer was changed.
    Updated,
    /// The linked customer already held these values: nothing was written.
    Unchanged,
    /// The source id was linked to the existing customer the duplicate check matched;
    /// its values were not applied (the next upsert updates it).
    Linked,
    /// The customer waits in the steward's queue (`queue_id`, 来源待确认): the steward
    /// links the source id to a customer, creates a new one, or rejects it.
    Queued,
    /// A steward rejected the queued customer with these same values; changed values
    /// are placed anew.
    Rejected,
}

/// The answer of an upsert by source key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpsertResult {
    pub outcome: UpsertOutcome,
    pub system: String,
    pub source_id: String,
    /// The customer's current code (absent while queued or rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The customer's row version after the upsert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The entry in the steward's queue (queued, rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<i64>,
    /// Possible duplicates inside the caller's scope (created under policy `create`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub possible_duplicates: Vec<DuplicateCandidate>,
}

impl UpsertResult {
    pub(super) fn new(outcome: UpsertOutcome, system: &str, source_id: &str) -> UpsertResult {
        UpsertResult {
            outcome,
            system: system.to_string(),
            source_id: source_id.to_string(),
            code: None,
            version: None,
            queue_id: None,
            possible_duplicates: Vec::new(),
        }
    }

    pub(super) fn with_customer(mut self, row: &custos_store::CustomerRow) -> UpsertResult {
        self.code = Some(row.code.clone());
        self.version = Some(row.row_version);
        self
    }

    pub(super) fn with_queue_entry(mut self, id: i64) -> UpsertResult {
        self.queue_id = Some(id);
        self
    }
}
