//! Storage for custos: one database handle over SQLite (embedded default) or PostgreSQL,
//! transactions, and the tables' repositories.
//!
//! Both backends run the same SQL text wherever the dialects agree (numbered `$1`
//! parameters work on both); the `on_tx!` macro compiles each query once per backend so a
//! repository function is written once and cannot drift between them. Schemas live in
//! separate migration folders because DDL differs (identity columns, triggers).

mod activities;
mod api_keys;
mod applications;
mod audit;
pub mod audit_chain;
mod audit_entry;
mod code_carry;
mod codes;
mod customer_flow;
mod customers;
mod db;
pub mod duplicates;
mod error;
mod event_log;
mod event_relays;
mod hierarchy;
mod identities;
mod lifecycle;
mod login_throttle;
mod lookups;
mod match_postings;
mod new_event;
mod org;
mod org_admin;
pub mod pii_rows;
pub mod quality;
mod tx_query;
/// Owner-only files and directories (kept at this path for the store's callers).
pub use custos_files::private_files;
mod notification_channels;
mod rate_limits;
mod reminders;
mod sql_text;
mod webhooks;

pub use activities::{ActivityRow, OrderTotalsRow};
pub use api_keys::ApiKeyRow;
pub use applications::{
    ApplicationFilter, ApplicationRow, EventRow, FlowRow, NotificationRow, TaskRow,
};
pub use audit::AuditFilter;
pub use audit_chain::{Anchor, AuditKey, AuditKeys, LegacyScan, LegacySeal, SEAL_ACTION};
pub use audit_entry::{AuditEntry, AuditRecord, ChainReport, GENESIS_HASH};
pub use code_carry::{AdvisoryLock, SequenceRow};
pub use codes::{CodeRow, CodeRuleRow, PeriodIssues, ScopeUsage, StatusCount};
pub use customer_flow::{BuyerCount, MonthBuyers, MonthCount};
pub use customers::CustomerRow;
pub use db::{
    db_file_name, inspect, migrations_of, redact_url, Backend, Db, DbOptions, Inspection,
    SchemaState, Tx, TxConn, UPGRADE_BACKUP_DIR, WITHOUT_BACKUP_ENV,
};
pub use error::{StoreError, StoreResult};
pub use event_log::{EventLogHead, EventLogRow, NewEvent};
pub use hierarchy::ParentRow;
pub use identities::{IdentityRow, OidcRequestRow};
pub use lifecycle::{LifecycleRow, RecordFacts, TransitionRow};
pub use login_throttle::ThrottleRow;
pub use notification_channels::{ChannelDeliveryCounts, ChannelDeliveryRow, ChannelRow};
pub use org::{
    username_key, DepartmentRow, RoleGrantRow, RoleRow, SessionRow, UserRow, LOCAL_SOURCE,
    SERVICE_KIND,
};
pub use org_admin::GrantListRow;
pub use quality::{QualityRow, WorklistFilter};
pub use reminders::{DueItem, ReminderRow};
pub use webhooks::{
    ClaimedDelivery, DeliveryCounts, DeliveryOutcome, NewDelivery, WebhookAttemptRow, WebhookRow,
};

/// Current time in microseconds since the Unix epoch, the unit every table uses.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub mod customer_master;

pub mod imports;

pub mod exports;
