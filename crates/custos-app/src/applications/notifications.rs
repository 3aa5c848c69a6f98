//! Notifications of applications: a user's list, marking one read, and reminders of
//! overdue tasks.

use crate::applications::Applications;
use custos_store::now_us;

use super::records::notify;
use super::views::NotificationView;
use crate::actor::Actor;
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::flows::kind_zh;

impl Applications<'_> {
    /// My notifications, newest first.
    pub async fn notifications(
        &self,
        actor: &Actor,
        unread_only: bool,
    ) -> AppResult<Vec<NotificationView>> {
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.notifications(actor.user_id, unread_only, 200).await?;
        tx.rollback().await?;
        Ok(rows
            .into_iter()
            .map(|n| NotificationView {
                id: n.id,
                application_id: n.application_id,
                kind: n.kind,
                title: n.title,
                body: n.body,
                created_at: format_time(n.created_at),
                read: n.read_at.is_some(),
            })
            .collect())
    }

    pub async fn mark_notification_read(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
        if !tx
            .mark_notification_read(id, actor.user_id, now_us())
            .await?
        {
            return Err(AppError::not_found("notification", id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Remind approvers of tasks pending longer than `older_than` (one reminder per task
    /// per period). Returns how many reminders were written.
    pub async fn remind_overdue_tasks(&self, older_than: std::time::Duration) -> AppResult<usize> {
        let period = older_than.as_micros() as i64;
        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        let mut n = 0;
        for t in tx.pending_tasks_older_than(now - period).await? {
            let recent = tx
                .notifications(t.user_id, false, 200)
                .await?
                .into_iter()
                .any(|x| {
                    x.kind == "reminder"
                        && x.application_id == Some(t.application_id)
                        && x.created_at > now - period
                });
            if recent {
                continue;
            }
            let Some(a) = tx.application(t.application_id).await? else {
                continue;
            };
            notify(
                &mut tx,
                t.user_id,
                a.id,
                "reminder",
                format!("催办：{} #{}", kind_zh(&a.kind), a.id),
                format!(
                    "申请单 #{} 自 {} 起等待您审批。",
                    a.id,
                    format_time(t.created_at)
                ),
            )
            .await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }
}
