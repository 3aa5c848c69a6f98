//! Upsert by source key: how a CRM, ERP or OA pushes its customers in by its own ids.
//!
//! `PUT /sources/{system}/customers/{source_id}` finds the customer by the cross-reference
//! (system, source id) and updates it; an unknown source id goes through the duplicate
//! check, and the system's policy ([`SourcePolicy`]) decides: create the customer with a
//! new code and the cross-reference, link the source id to the customer it matches, or
//! queue it for a steward (来源待确认, see `queue`). The answer says which happened. Repeating
//! a request changes nothing more.

mod batch;
mod outcome;
mod queue;
mod service;
mod upsert;
pub use service::Sources;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use batch::{BatchItem, BatchItemResult, ItemError, SourceBatch, MAX_BATCH_ITEMS};
pub use outcome::{UpsertOutcome, UpsertResult};
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
