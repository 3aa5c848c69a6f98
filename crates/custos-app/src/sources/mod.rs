//! Upsert by source key: how a CRM, ERP or OA pushes its customers in by its own ids.
//!
//! `PUT /sources/{system}/customers/{source_id}` finds the customer by the cross-reference
//! (system, source id) and updates it; an unknown source id goes through the duplicate
//! check, and the system's policy ([`SourcePolicy`]) decides: create the customer with a
//! new code and the cross-reference, link the source id to the customer it matches, or
//! queue it for a steward (来源待确认, see `queue`). The answer says which happened. Repeating
//! a request changes nothing more.

mod batch;
mod queue;
mod upsert;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::customers::duplicates::DuplicateCandidate;

pub use batch::{BatchItem, BatchItemResult, ItemError, SourceBatch, MAX_BATCH_ITEMS};
pub use queue::{
    QueueDecision, QueueEntrySheet, QueueEntryView, QueueFilter, QueuedValue, MAX_QUEUE_PAGE,
};

/// What an upsert does with a definite duplicate-check match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDefinite {
    /// Link the source id to the one matching customer inside the caller's scope that has
    /// no id of this system yet; otherwise queue.
    Link,
    /// Always queue for a steward.
    Queue,
}

/// What an upsert does with a possible duplicate-check match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnPossible {
    /// Create the customer (the candidates are returned with it).
    Create,
    /// Queue for a steward.
    Queue,
}

/// How a source system's unknown customers are placed (`[sources.<system>]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePolicy {
    pub definite: OnDefinite,
    pub possible: OnPossible,
}

impl Default for SourcePolicy {
    /// A definite match is linked, a possible one goes to a steward: a machine cannot
    /// read the warning a person gets.
    fn default() -> Self {
        SourcePolicy {
            definite: OnDefinite::Link,
            possible: OnPossible::Queue,
        }
    }
}

/// The policies of source systems; systems not named follow `default`.
#[derive(Debug, Clone, Default)]
pub struct SourcesConfig {
    pub default: SourcePolicy,
    pub systems: BTreeMap<String, SourcePolicy>,
}

impl SourcesConfig {
    pub fn policy(&self, system: &str) -> SourcePolicy {
        self.systems.get(system).copied().unwrap_or(self.default)
    }
}

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
    fn new(outcome: UpsertOutcome, system: &str, source_id: &str) -> UpsertResult {
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

    fn with_customer(mut self, row: &custos_store::CustomerRow) -> UpsertResult {
        self.code = Some(row.code.clone());
        self.version = Some(row.row_version);
        self
    }

    fn with_queue_entry(mut self, id: i64) -> UpsertResult {
        self.queue_id = Some(id);
        self
    }
}

/// The use cases of upserts by source key, the source queue and cross-references; `App::sources` gives it out.
pub struct Sources<'a> {
    pub(crate) app: &'a crate::App,
}
