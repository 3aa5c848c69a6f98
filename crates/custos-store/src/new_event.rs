//! An event about to be written to the event log, as a transaction queues it.

/// An event about to be written: everything but its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Stable id (UUID text), for consumers' de-duplication.
    pub id: String,
    /// `customer.created`, `code.issued`, …
    pub kind: String,
    pub customer_code: Option<String>,
    pub department_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// Microseconds since the Unix epoch.
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    /// JSON object.
    pub payload: String,
}
