//! Writing audit entries from use cases, reading the log, verifying the chain.

use serde::Serialize;

use custos_store::{AuditEntry, AuditFilter, AuditRecord, ChainReport, Tx};

use crate::{Actor, App, AppResult, Context, Scope};

/// Build an audit record for something `actor` did.
pub(crate) fn record(
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: &str,
) -> AuditRecord {
    record_ctx(
        Some(actor.user_id),
        &actor.username,
        &actor.ctx,
        action,
        target_type,
        target_id,
    )
}

pub(crate) fn record_ctx(
    actor_id: Option<i64>,
    actor_name: &str,
    ctx: &Context,
    action: &str,
    target_type: &str,
    target_id: &str,
) -> AuditRecord {
    AuditRecord {
        at: custos_store::now_us(),
        actor_id,
        actor_name: actor_name.to_string(),
        source: ctx.source.as_str().to_string(),
        action: action.to_string(),
        target_type: target_type.to_string(),
        target_id: target_id.to_string(),
        before: None,
        after: None,
        reason: None,
        request_id: ctx.request_id.clone(),
        ip: ctx.ip.clone(),
    }
}

/// Append within `tx`; a thin wrapper so use cases read naturally.
pub(crate) async fn append(tx: &mut Tx, r: AuditRecord) -> AppResult<i64> {
    Ok(tx.append_audit(&r).await?)
}

/// One entry as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub hash: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        let parse = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
        AuditView {
            seq: e.seq,
            at: crate::auth::format_time(e.at),
            actor_id: e.actor_id,
            actor: e.actor_name,
            source: e.source,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            before: parse(e.before_json),
            after: parse(e.after_json),
            reason: e.reason,
            request_id: e.request_id,
            ip: e.ip,
            hash: e.hash,
        }
    }
}

impl App {
    /// Read the audit log (admins and stewards: `audit.read`), newest first.
    pub async fn list_audit(
        &self,
        actor: &Actor,
        filter: AuditFilter,
    ) -> AppResult<Vec<AuditView>> {
        let scope = actor.require("audit.read")?;
        let mut filter = filter;
        let mut tx = self.db.begin_read().await?;
        // The audit log names customers and users: a narrower scope reads only the entries
        // of the caller (own) or of the users in its department subtree.
        match scope {
            Scope::All => {}
            Scope::Own => {
                if filter.actor_id.is_some_and(|a| a != actor.user_id) {
                    filter.actor_departments = Some(Vec::new());
                }
                filter.actor_id = Some(actor.user_id);
            }
            Scope::Department => {
                filter.actor_departments = Some(match actor.department_id {
                    Some(d) => tx.department_subtree(d).await?,
                    None => Vec::new(),
                });
            }
        }
        let rows = tx.audit_entries(&filter).await?;
        tx.rollback().await?;
        Ok(rows.into_iter().map(AuditView::from).collect())
    }

    /// Walk the chain. Callable without an actor: the CLI runs it with database access.
    pub async fn verify_audit(&self) -> AppResult<ChainReport> {
        let mut tx = self.db.begin_read().await?;
        let report = tx.verify_audit_chain().await?;
        tx.rollback().await?;
        Ok(report)
    }
}
