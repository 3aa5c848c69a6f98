//! The approver's queue (待办) as a person reads it: each task naming the customer it is
//! about, and the count of waiting tasks the navigation shows.

use crate::actor::Actor;
use crate::applications::Applications;
use crate::error::AppResult;

use super::records::frozen;
use super::views::{summary, ApplicationSummary};

/// Most tasks one queue shows (the oldest first); the rest wait for these to be decided.
pub const QUEUE_LIMIT: usize = 200;

/// One task waiting for the reader's decision.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub task_id: i64,
    pub step_name: String,
    /// Microseconds since the epoch: when the task was created.
    pub waiting_since: i64,
    pub application: ApplicationSummary,
    /// The name of the customer it is about (the requested name for a new customer).
    pub customer_name: Option<String>,
}

/// The reader's waiting tasks, oldest first.
#[derive(Debug, Clone)]
pub struct ApprovalQueue {
    pub items: Vec<QueueItem>,
    /// How many tasks wait in all (more than `items` beyond [`QUEUE_LIMIT`]).
    pub total: usize,
}

impl Applications<'_> {
    /// The tasks waiting for `actor`'s decision (`application.approve`).
    pub async fn approval_queue(&self, actor: &Actor) -> AppResult<ApprovalQueue> {
        actor.require("application.approve")?;
        let mut tx = self.app.db.begin_read().await?;
        let tasks = tx.pending_tasks_of_user(actor.user_id).await?;
        // Live tasks only, the same count as the navigation's badge.
        let total = tx.count_pending_tasks_of_user(actor.user_id).await? as usize;
        let mut items = Vec::new();
        for t in tasks.into_iter().take(QUEUE_LIMIT) {
            let Some(a) = tx.application(t.application_id).await? else {
                continue;
            };
            if a.round != t.round || a.current_step != t.step {
                continue;
            }
            let step_name = frozen(&a)
                .ok()
                .and_then(|f| f.steps.get(t.step as usize).map(|s| s.name.clone()))
                .unwrap_or_default();
            let customer_name = match (&a.target, a.kind.as_str()) {
                (_, "create") => self
                    .open_payload(&a)
                    .ok()
                    .and_then(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_string)),
                (Some(code), _) => tx.customer_by_code(code).await?.map(|c| c.name),
                (None, _) => None,
            };
            items.push(QueueItem {
                task_id: t.id,
                step_name,
                waiting_since: t.created_at,
                application: summary(&a),
                customer_name,
            });
        }
        tx.rollback().await?;
        Ok(ApprovalQueue { items, total })
    }

    /// How many tasks wait for `actor`'s decision; `None` for someone who does not
    /// approve (`application.approve`). One COUNT on the index of pending tasks by user,
    /// computed on every console page for the badge, so no task is loaded.
    pub async fn pending_task_count(&self, actor: &Actor) -> AppResult<Option<i64>> {
        if !actor.can("application.approve") {
            return Ok(None);
        }
        let mut tx = self.app.db.begin_read().await?;
        let n = tx.count_pending_tasks_of_user(actor.user_id).await?;
        tx.rollback().await?;
        Ok(Some(n))
    }
}
