//! Applications (申请单), their approval tasks and trail, flows (审批流程), in-app
//! notifications and time-limited retrievals of archived customers.

use crate::{on_tx, Backend, StoreError, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRow {
    pub id: i64,
    pub key: String,
    pub version: i64,
    pub kind: String,
    pub name: String,
    pub priority: i64,
    /// JSON object of conditions.
    pub conditions: String,
    /// JSON array of steps.
    pub steps: String,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub applicant_id: i64,
    pub department_id: Option<i64>,
    /// What the application is about (customer code, rule key, user id), for filters.
    pub target: Option<String>,
    /// JSON of the request as normalised at submission.
    pub payload: String,
    pub reason: Option<String>,
    /// JSON of the flow frozen at submission.
    pub flow: String,
    /// Index of the step under review (0-based).
    pub current_step: i64,
    /// Increments on every resubmission; tasks belong to a round.
    pub round: i64,
    pub duplicates: Option<String>,
    pub result: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub row_version: i64,
    /// Why nobody can decide the current step (JSON), while it waits for an administrator.
    pub needs_admin: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub application_id: i64,
    pub round: i64,
    pub step: i64,
    pub user_id: i64,
    pub decision: Option<String>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    pub delegated_from: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub application_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub step: Option<i64>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub comment: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub user_id: i64,
    pub application_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// Filters of the application list.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub applicant_id: Option<i64>,
    /// Applications where this user has or had a task.
    pub involving: Option<i64>,
    pub kind: Option<String>,
    pub state: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Newest first: only ids below this.
    pub before_id: Option<i64>,
    /// Only open applications waiting for an administrator.
    pub needs_admin: bool,
    pub limit: i64,
}

const FLOW_COLS: &str = "id, key, version, kind, name, priority, conditions, steps, active, \
    created_by, created_at";
const APP_COLS: &str = "id, kind, state, applicant_id, department_id, target, payload, reason, \
    flow, current_step, round, duplicates, result, created_at, updated_at, closed_at, row_version, \
    needs_admin";
const TASK_COLS: &str = "id, application_id, round, step, user_id, decision, decided_at, \
    comment, delegated_from, created_at";
const EVENT_COLS: &str = "id, application_id, at, actor_id, actor_name, action, step, \
    from_state, to_state, comment, detail";
const NOTE_COLS: &str = "id, user_id, application_id, kind, title, body, created_at, read_at";

impl Tx {
    /// Up to `limit` applications about `target` (a customer's code) created before a
    /// point, newest first: those created at `before_at` count only with an id below
    /// `before_id` (the timeline's cursor).
    pub async fn applications_about(
        &mut self,
        target: &str,
        before_at: i64,
        before_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<ApplicationRow>> {
        let sql = format!(
            "SELECT {APP_COLS} FROM applications WHERE target = $1 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApplicationRow>(&sql)
            .bind(target)
            .bind(before_at)
            .bind(before_id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }
    // ---- flows ----

    /// Insert a flow version and make it the only active version of its key.
    pub async fn insert_flow(&mut self, f: &FlowRow) -> StoreResult<i64> {
        on_tx!(self, |c| sqlx::query(
            "UPDATE flows SET active = FALSE WHERE key = $1"
        )
        .bind(&f.key)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        let sql = "INSERT INTO flows (key, version, kind, name, priority, conditions, steps, \
                   active, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                   $10) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&f.key)
            .bind(f.version)
            .bind(&f.kind)
            .bind(&f.name)
            .bind(f.priority)
            .bind(&f.conditions)
            .bind(&f.steps)
            .bind(f.active)
            .bind(f.created_by)
            .bind(f.created_at)
            .fetch_one(c)
            .await)?)
    }

    /// Every version of every flow, by key then version.
    pub async fn flows(&mut self) -> StoreResult<Vec<FlowRow>> {
        let sql = format!("SELECT {FLOW_COLS} FROM flows ORDER BY key, version");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, FlowRow>(&sql)
            .fetch_all(c)
            .await)?)
    }

    /// Active flows of a kind, highest priority first.
    pub async fn active_flows(&mut self, kind: &str) -> StoreResult<Vec<FlowRow>> {
        let sql = format!(
            "SELECT {FLOW_COLS} FROM flows WHERE kind = $1 AND active = TRUE \
             ORDER BY priority DESC, id DESC"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, FlowRow>(&sql)
            .bind(kind)
            .fetch_all(c)
            .await)?)
    }

    pub async fn flow_max_version(&mut self, key: &str) -> StoreResult<i64> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(MAX(version), 0) FROM flows WHERE key = $1"
        )
        .bind(key)
        .fetch_one(c)
        .await)?)
    }

    /// Deactivate every version of a flow; returns how many were active.
    pub async fn deactivate_flow(&mut self, key: &str) -> StoreResult<u64> {
        Ok(on_tx!(self, |c| sqlx::query(
            "UPDATE flows SET active = FALSE WHERE key = $1 AND active = TRUE"
        )
        .bind(key)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
    }

    // ---- applications ----

    pub async fn insert_application(&mut self, a: &ApplicationRow) -> StoreResult<i64> {
        let sql = "INSERT INTO applications (kind, state, applicant_id, department_id, target, \
                   payload, reason, flow, current_step, round, duplicates, result, created_at, \
                   updated_at, closed_at, row_version, needs_admin) VALUES ($1, $2, $3, $4, $5, \
                   $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, 1, $15) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&a.kind)
            .bind(&a.state)
            .bind(a.applicant_id)
            .bind(a.department_id)
            .bind(&a.target)
            .bind(&a.payload)
            .bind(&a.reason)
            .bind(&a.flow)
            .bind(a.current_step)
            .bind(a.round)
            .bind(&a.duplicates)
            .bind(&a.result)
            .bind(a.created_at)
            .bind(a.closed_at)
            .bind(&a.needs_admin)
            .fetch_one(c)
            .await)?)
    }

    pub async fn application(&mut self, id: i64) -> StoreResult<Option<ApplicationRow>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApplicationRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// Fetch an application and lock it until the transaction ends: concurrent decisions
    /// on one application queue here (PostgreSQL row lock; SQLite writers are exclusive).
    pub async fn application_for_update(&mut self, id: i64) -> StoreResult<Option<ApplicationRow>> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE id = $1{lock}");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApplicationRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// Write back an application if nobody changed it since `a.row_version` was read.
    pub async fn update_application(&mut self, a: &ApplicationRow) -> StoreResult<()> {
        let sql = "UPDATE applications SET state = $2, payload = $3, reason = $4, \
                   current_step = $5, round = $6, duplicates = $7, result = $8, \
                   updated_at = $9, closed_at = $10, target = $11, flow = $13, \
                   needs_admin = $14, row_version = row_version + 1 WHERE id = $1 AND row_version = $12";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(a.id)
            .bind(&a.state)
            .bind(&a.payload)
            .bind(&a.reason)
            .bind(a.current_step)
            .bind(a.round)
            .bind(&a.duplicates)
            .bind(&a.result)
            .bind(a.updated_at)
            .bind(a.closed_at)
            .bind(&a.target)
            .bind(a.row_version)
            .bind(&a.flow)
            .bind(&a.needs_admin)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::Busy);
        }
        Ok(())
    }

    /// Applications matching a filter, newest first.
    pub async fn applications(
        &mut self,
        f: &ApplicationFilter,
    ) -> StoreResult<Vec<ApplicationRow>> {
        // Values are bound; only fixed fragments are concatenated.
        let mut sql = format!("SELECT {APP_COLS} FROM applications a WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if f.applicant_id.is_some() {
            sql.push_str(&format!(" AND a.applicant_id = ${}", next()));
        }
        if f.involving.is_some() {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM application_tasks t WHERE t.application_id = a.id \
                 AND t.user_id = ${})",
                next()
            ));
        }
        if f.kind.is_some() {
            sql.push_str(&format!(" AND a.kind = ${}", next()));
        }
        if f.state.is_some() {
            sql.push_str(&format!(" AND a.state = ${}", next()));
        }
        if f.created_from.is_some() {
            sql.push_str(&format!(" AND a.created_at >= ${}", next()));
        }
        if f.created_to.is_some() {
            sql.push_str(&format!(" AND a.created_at < ${}", next()));
        }
        if f.before_id.is_some() {
            sql.push_str(&format!(" AND a.id < ${}", next()));
        }
        if f.needs_admin {
            sql.push_str(
                " AND a.needs_admin IS NOT NULL AND a.state IN ('submitted', 'in_review')",
            );
        }
        sql.push_str(&format!(" ORDER BY a.id DESC LIMIT ${}", next()));
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, ApplicationRow>(&sql);
            if let Some(v) = f.applicant_id {
                q = q.bind(v);
            }
            if let Some(v) = f.involving {
                q = q.bind(v);
            }
            if let Some(v) = &f.kind {
                q = q.bind(v);
            }
            if let Some(v) = &f.state {
                q = q.bind(v);
            }
            if let Some(v) = f.created_from {
                q = q.bind(v);
            }
            if let Some(v) = f.created_to {
                q = q.bind(v);
            }
            if let Some(v) = f.before_id {
                q = q.bind(v);
            }
            q.bind(f.limit).fetch_all(c).await
        })?)
    }

    // ---- tasks ----

    pub async fn insert_task(&mut self, t: &TaskRow) -> StoreResult<i64> {
        let sql = "INSERT INTO application_tasks (application_id, round, step, user_id, \
                   decision, decided_at, comment, delegated_from, created_at) VALUES \
                   ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(t.application_id)
            .bind(t.round)
            .bind(t.step)
            .bind(t.user_id)
            .bind(&t.decision)
            .bind(t.decided_at)
            .bind(&t.comment)
            .bind(t.delegated_from)
            .bind(t.created_at)
            .fetch_one(c)
            .await)?)
    }

    pub async fn tasks_of(&mut self, application_id: i64) -> StoreResult<Vec<TaskRow>> {
        let sql = format!(
            "SELECT {TASK_COLS} FROM application_tasks WHERE application_id = $1 ORDER BY id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, TaskRow>(&sql)
            .bind(application_id)
            .fetch_all(c)
            .await)?)
    }

    /// Record a decision on a task that is still pending; `false` when someone decided it
    /// first.
    pub async fn decide_task(
        &mut self,
        id: i64,
        decision: &str,
        comment: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE application_tasks SET decision = $2, comment = $3, decided_at = $4 \
                   WHERE id = $1 AND decision IS NULL";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(decision)
            .bind(comment)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Close every pending task of an application (step finished, application closed).
    pub async fn close_pending_tasks(
        &mut self,
        application_id: i64,
        decision: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let sql = "UPDATE application_tasks SET decision = $2, decided_at = $3 \
                   WHERE application_id = $1 AND decision IS NULL";
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .bind(application_id)
            .bind(decision)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Pending tasks of a user, oldest first.
    pub async fn pending_tasks_of_user(&mut self, user_id: i64) -> StoreResult<Vec<TaskRow>> {
        let sql = format!(
            "SELECT {TASK_COLS} FROM application_tasks WHERE user_id = $1 AND decision IS NULL \
             ORDER BY id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, TaskRow>(&sql)
            .bind(user_id)
            .fetch_all(c)
            .await)?)
    }

    /// How many of a user's pending tasks are live: the application is still at the task's
    /// round and step (the tasks the inbox lists). Counted on the index by user, without
    /// loading the rows.
    pub async fn count_pending_tasks_of_user(&mut self, user_id: i64) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM application_tasks t \
                   JOIN applications a ON a.id = t.application_id \
                   WHERE t.user_id = $1 AND t.decision IS NULL \
                   AND a.round = t.round AND a.current_step = t.step";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(user_id)
            .fetch_one(c)
            .await)?)
    }

    /// Pending tasks created before `before` (reminders).
    pub async fn pending_tasks_older_than(&mut self, before: i64) -> StoreResult<Vec<TaskRow>> {
        let sql = format!(
            "SELECT {TASK_COLS} FROM application_tasks WHERE decision IS NULL AND created_at < $1 \
             ORDER BY id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, TaskRow>(&sql)
            .bind(before)
            .fetch_all(c)
            .await)?)
    }

    // ---- trail ----

    pub async fn insert_application_event(&mut self, e: &EventRow) -> StoreResult<i64> {
        let sql = "INSERT INTO application_events (application_id, at, actor_id, actor_name, \
                   action, step, from_state, to_state, comment, detail) VALUES \
                   ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(e.application_id)
            .bind(e.at)
            .bind(e.actor_id)
            .bind(&e.actor_name)
            .bind(&e.action)
            .bind(e.step)
            .bind(&e.from_state)
            .bind(&e.to_state)
            .bind(&e.comment)
            .bind(&e.detail)
            .fetch_one(c)
            .await)?)
    }

    pub async fn application_events(&mut self, application_id: i64) -> StoreResult<Vec<EventRow>> {
        let sql = format!(
            "SELECT {EVENT_COLS} FROM application_events WHERE application_id = $1 ORDER BY id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, EventRow>(&sql)
            .bind(application_id)
            .fetch_all(c)
            .await)?)
    }

    // ---- notifications ----

    pub async fn insert_notification(&mut self, n: &NotificationRow) -> StoreResult<i64> {
        let sql = "INSERT INTO notifications (user_id, application_id, kind, title, body, \
                   created_at, read_at) VALUES ($1, $2, $3, $4, $5, $6, NULL) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(n.user_id)
            .bind(n.application_id)
            .bind(&n.kind)
            .bind(&n.title)
            .bind(&n.body)
            .bind(n.created_at)
            .fetch_one(c)
            .await)?)
    }

    /// A user's notifications, newest first.
    pub async fn notifications(
        &mut self,
        user_id: i64,
        unread_only: bool,
        limit: i64,
    ) -> StoreResult<Vec<NotificationRow>> {
        let unread = if unread_only {
            " AND read_at IS NULL"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {NOTE_COLS} FROM notifications WHERE user_id = $1{unread} \
             ORDER BY id DESC LIMIT $2"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, NotificationRow>(
            &sql
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    pub async fn count_unread_notifications(&mut self, user_id: i64) -> StoreResult<i64> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL"
        )
        .bind(user_id)
        .fetch_one(c)
        .await)?)
    }

    /// Mark one of a user's notifications read; `false` when it is not theirs.
    pub async fn mark_notification_read(
        &mut self,
        id: i64,
        user_id: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE notifications SET read_at = COALESCE(read_at, $3) \
                   WHERE id = $1 AND user_id = $2";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Take up to `limit` notifications to e-mail: not sent yet, newer than
    /// `created_after`, fewer than `max_attempts` tries, not leased by another sender,
    /// addressed to an enabled user with an e-mail address. Each gets a lease until
    /// `lease_until`, so several servers never send one twice at the same time.
    /// Returns (notification, address).
    pub async fn claim_email_notifications(
        &mut self,
        now: i64,
        lease_until: i64,
        created_after: i64,
        max_attempts: i64,
        limit: i64,
    ) -> StoreResult<Vec<(NotificationRow, String)>> {
        let free = "emailed_at IS NULL AND (email_lease IS NULL OR email_lease < $4)";
        let sql = format!(
            "UPDATE notifications SET email_lease = $1, email_attempts = email_attempts + 1 \
             WHERE {free} AND id IN (SELECT n.id FROM notifications n JOIN users u \
             ON u.id = n.user_id WHERE n.{free_n} AND n.created_at > $2 \
             AND n.email_attempts < $3 AND u.email IS NOT NULL AND u.email <> '' \
             AND u.disabled = FALSE ORDER BY n.id LIMIT $5) RETURNING id",
            free_n = "emailed_at IS NULL AND (n.email_lease IS NULL OR n.email_lease < $4)"
        );
        let ids: Vec<i64> = on_tx!(self, |c| sqlx::query_scalar::<_, i64>(&sql)
            .bind(lease_until)
            .bind(created_after)
            .bind(max_attempts)
            .bind(now)
            .bind(limit)
            .fetch_all(c)
            .await)?;
        let mut out = Vec::new();
        for id in ids {
            let row = on_tx!(self, |c| sqlx::query_as::<_, NotificationRow>(&format!(
                "SELECT {NOTE_COLS} FROM notifications WHERE id = $1"
            ))
            .bind(id)
            .fetch_one(c)
            .await)?;
            let email: Option<String> = on_tx!(self, |c| sqlx::query_scalar::<_, Option<String>>(
                "SELECT email FROM users WHERE id = $1"
            )
            .bind(row.user_id)
            .fetch_one(c)
            .await)?;
            if let Some(e) = email {
                out.push((row, e));
            }
        }
        Ok(out)
    }

    /// One notification by id.
    pub async fn notification(&mut self, id: i64) -> StoreResult<Option<NotificationRow>> {
        let sql = format!("SELECT {NOTE_COLS} FROM notifications WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, NotificationRow>(
            &sql
        )
        .bind(id)
        .fetch_optional(c)
        .await)?)
    }

    /// Record that a notification was e-mailed.
    pub async fn mark_notification_emailed(&mut self, id: i64, now: i64) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "UPDATE notifications SET emailed_at = $2, email_lease = NULL WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    // ---- retrievals ----

    pub async fn insert_retrieval(
        &mut self,
        customer_id: i64,
        user_id: i64,
        application_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<i64> {
        let sql = "INSERT INTO retrievals (customer_id, user_id, application_id, expires_at, \
                   created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(customer_id)
            .bind(user_id)
            .bind(application_id)
            .bind(expires_at)
            .bind(now)
            .fetch_one(c)
            .await)?)
    }

    /// The latest expiry of a user's retrievals of a customer that are still open at `now`.
    pub async fn open_retrieval(
        &mut self,
        customer_id: i64,
        user_id: i64,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(expires_at) FROM retrievals WHERE customer_id = $1 AND user_id = $2 \
             AND expires_at > $3"
        )
        .bind(customer_id)
        .bind(user_id)
        .bind(now)
        .fetch_one(c)
        .await)?)
    }

    // ---- approvers ----

    /// Enabled users holding a role (grant unexpired at `now`).
    pub async fn users_with_role(&mut self, role_key: &str, now: i64) -> StoreResult<Vec<i64>> {
        let sql = "SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id \
                   JOIN roles r ON r.id = ur.role_id WHERE r.key = $1 AND u.disabled = FALSE \
                   AND (ur.expires_at IS NULL OR ur.expires_at > $2) ORDER BY u.id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(role_key)
            .bind(now)
            .fetch_all(c)
            .await)?)
    }
}
