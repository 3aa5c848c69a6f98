//! Writing audit entries from use cases, reading the log, verifying the chain.

use serde::Serialize;

use custos_store::{AuditEntry, AuditFilter, AuditRecord, ChainReport, Tx};

pub use crate::audit_anchor::Due;
use crate::{Actor, App, AppError, AppResult, Context, Scope};

/// Build an audit record for something `actor` did.
pub(crate) fn record(
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: &str,
) -> AuditRecord {
    let mut r = record_ctx(
        Some(actor.user_id),
        &actor.username,
        &actor.ctx,
        action,
        target_type,
        target_id,
    );
    r.api_key = actor.api_key.clone();
    r
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
        api_key: None,
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
    /// The API key the actor used (`<id>:<prefix>`), when it used one.
    pub api_key: Option<String>,
    pub hash: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        let parse = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
        AuditView {
            seq: e.seq,
            at: crate::clock::format_time(e.at),
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
            api_key: e.api_key,
            hash: e.hash,
        }
    }
}

/// The use cases of the audit chain: reading, verifying, keying and checkpoints; `App::audit` gives it out.
pub struct Audit<'a> {
    pub(crate) app: &'a crate::App,
}

impl Audit<'_> {
    /// Read the audit log (admins and stewards: `audit.read`), newest first.
    pub async fn list_audit(
        &self,
        actor: &Actor,
        filter: AuditFilter,
    ) -> AppResult<Vec<AuditView>> {
        let scope = actor.require("audit.read")?;
        let mut filter = filter;
        let mut tx = self.app.db.begin_read().await?;
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

    /// Walk the chain and check every checkpoint against it. Callable without an actor:
    /// the CLI runs it with database access. A checkpoint line that is unreadable or
    /// fails its MAC, a checkpoint naming an entry that is gone or differs, and entries
    /// written without the key (not sealed) are reported as a break.
    pub async fn verify_audit(&self) -> AppResult<ChainReport> {
        let anchors = match self.app.config.audit_checkpoints.clone() {
            None => Vec::new(),
            Some(path) => {
                let key = self.app.config.pii_key.checkpoint_keys();
                let read = tokio::task::spawn_blocking(move || {
                    crate::audit_anchor::read_checkpoints(&path, &key)
                        .map(|r| r.map(|cps| crate::audit_anchor::anchors(&path, &cps)))
                })
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .map_err(|e| AppError::Internal(format!("audit checkpoints: {e}")))?;
                match read {
                    Ok(anchors) => anchors,
                    Err(bad) => {
                        return Ok(ChainReport::Broken {
                            seq: bad.seq,
                            reason: bad.reason,
                        })
                    }
                }
            }
        };
        let mut tx = self.app.db.begin_read().await?;
        let report = tx.verify_audit_chain_against(&anchors).await?;
        tx.rollback().await?;
        Ok(match report {
            ChainReport::Ok { unsealed, .. } if unsealed > 0 => ChainReport::Broken {
                seq: 1,
                reason: format!(
                    "entries 1-{unsealed} are not keyed and no seal entry covers them \
                     (written by an earlier version and never sealed, or rewritten without \
                     the key)"
                ),
            },
            other => other,
        })
    }

    /// Whether the checkpoint file holds any checkpoint.
    pub(crate) fn has_audit_checkpoints(&self) -> bool {
        self.app
            .config
            .audit_checkpoints
            .as_deref()
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.len() > 0)
    }

    /// Write a checkpoint of the chain's head now (`custos audit checkpoint`), after
    /// verifying the entries since the last checkpoint (all of them when there is none).
    pub async fn write_audit_checkpoint(&self) -> AppResult<CheckpointOutcome> {
        self.audit_checkpoint(None).await
    }

    /// Write a checkpoint if one is due (see [`Due`]).
    pub async fn write_audit_checkpoint_if_due(&self, due: Due) -> AppResult<CheckpointOutcome> {
        self.audit_checkpoint(Some(due)).await
    }

    async fn audit_checkpoint(&self, due: Option<Due>) -> AppResult<CheckpointOutcome> {
        let Some(path) = self.app.config.audit_checkpoints.clone() else {
            return Ok(CheckpointOutcome::NotConfigured);
        };
        let key = self.app.config.pii_key.checkpoint_keys();
        let (p, k) = (path.clone(), key.clone());
        let last = blocking(move || crate::audit_anchor::last_checkpoint_in(&p, &k)).await?;
        let last = match last {
            Ok(last) => last,
            Err(reason) => return Ok(CheckpointOutcome::Broken { seq: 0, reason }),
        };
        let mut tx = self.app.db.begin_read().await?;
        let head = tx.audit_head().await?;
        if head.0 == 0 || due.is_some_and(|d| !d.is_due(last.as_ref(), head.0)) {
            tx.rollback().await?;
            return Ok(CheckpointOutcome::NotDue);
        }
        let report = tx
            .verify_audit_since(last.map(|cp| (cp.seq, cp.hash)))
            .await?;
        tx.rollback().await?;
        let head = match report {
            ChainReport::Broken { seq, reason } => {
                tracing::error!(seq, "audit chain broken; no checkpoint written: {reason}");
                return Ok(CheckpointOutcome::Broken { seq, reason });
            }
            // The head the verification ended at (the walk checked it is the last entry).
            ChainReport::Ok { head_hash, .. } if head_hash == head.1 => head,
            ChainReport::Ok { .. } => return Ok(CheckpointOutcome::NotDue),
        };
        let written = blocking(move || {
            crate::audit_anchor::append_checkpoint(&path, &key, (head.0, &head.1), due)
                .map(|cp| cp.map(|cp| (cp, path)))
        })
        .await?
        .map_err(AppError::Internal)?;
        Ok(match written {
            Some((checkpoint, file)) => CheckpointOutcome::Written { checkpoint, file },
            None => CheckpointOutcome::NotDue,
        })
    }

    /// A checkpoint after an event that should be anchored (a backup, the chain being
    /// keyed). A failure is logged: the event itself has happened.
    pub(crate) async fn checkpoint_after(&self, event: &str) {
        match self.write_audit_checkpoint().await {
            Ok(CheckpointOutcome::Broken { seq, reason }) => {
                tracing::error!(seq, "no audit checkpoint after {event}: {reason}")
            }
            Err(e) => tracing::error!("no audit checkpoint after {event}: {e}"),
            Ok(_) => {}
        }
    }
}

impl App {
    /// Write checkpoints while the server runs: checked every minute, written when due.
    pub async fn run_audit_checkpoints(self, due: Due) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.audit().write_audit_checkpoint_if_due(due).await {
                Ok(CheckpointOutcome::Written { checkpoint, .. }) => {
                    tracing::info!(seq = checkpoint.seq, "audit checkpoint written")
                }
                Ok(CheckpointOutcome::Broken { seq, reason }) => {
                    tracing::error!(seq, "AUDIT CHAIN BROKEN: {reason}")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("audit checkpoint: {e}"),
            }
        }
    }
}

/// What [`Audit::write_audit_checkpoint`] did.
#[derive(Debug, Clone)]
pub enum CheckpointOutcome {
    Written {
        checkpoint: crate::audit_anchor::Checkpoint,
        file: std::path::PathBuf,
    },
    /// Not due, or nothing new to anchor.
    NotDue,
    /// No checkpoint file is configured.
    NotConfigured,
    /// The chain since the last checkpoint (or the checkpoint file) does not verify:
    /// nothing was written.
    Broken { seq: i64, reason: String },
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}
