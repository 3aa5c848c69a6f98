//! The life cycle of customers (客户状态): a stage per customer — `prospect` 潜在客户,
//! `new` 新客户, `repeat` 老客户/复购, `dormant` 休眠, `lost` 流失 — derived from its
//! business records by the rules of [`custos_core::lifecycle`], kept apart from the master
//! record's `status`.
//!
//! The stage is evaluated again in the transaction of every event that can change it (a
//! record added, a contract signed, records moved by a merge, an unmerge or a split) and
//! by a daily job over every customer with records (time alone makes customers dormant,
//! lost or old). Each change of stage is kept with its cause: the rule, what triggered it
//! (`record` with the record's id, `merge`, `unmerge`, `split`, `daily`) and the day.
//!
//! Files: `settle` (one customer, in the caller's transaction), `daily` (the job over
//! every customer, chunked), `view` (what `GET /customers/{code}/lifecycle` answers).

mod daily;
mod service;
mod settle;
mod view;
pub use service::Lifecycle;

use custos_core::lifecycle::LifecycleRules;
use serde::{Deserialize, Serialize};

pub use daily::{run_daily_at, DailyRun};
pub(crate) use settle::Cause;
pub use view::{stage_label, LifecycleView, TransitionView};

/// Tunables of the life cycle and the daily job (`[lifecycle]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LifecycleConfig {
    pub rules: LifecycleRules,
    /// Local hour (business time zone, 0–23) the server runs the daily job at.
    pub daily_hour: u32,
    /// Days before a contract's service expiry its customer's owner is reminded.
    pub expiry_notice_days: u32,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            rules: LifecycleRules::default(),
            daily_hour: 2,
            expiry_notice_days: 30,
        }
    }
}
