//! The system page's use cases: what runs (version, database, its size), the last
//! backup and how to take one, the mail relay and a test message to it; and the audit
//! chain verified on request by a person, within a bound.

use serde::Serialize;

use custos_core::Violation;
use custos_store::{AuditFilter, Backend, ChainReport};

use crate::actor::Actor;
use crate::audit::{append, record, AuditView};
use crate::error::{AppError, AppResult};
use crate::mail::{address_ok, send_mail, Mail};
use crate::to_json;

/// The most audit entries a verification started from a page walks; a longer chain is
/// verified by `custos audit verify` (the same walk, without a request's time limit).
pub const AUDIT_VERIFY_ONLINE_MAX: i64 = 200_000;

/// The backup the audit log last recorded.
#[derive(Debug, Clone, Serialize)]
pub struct BackupNote {
    pub at: String,
    pub actor: String,
    pub file: Option<String>,
    pub encrypted: Option<bool>,
}

/// The mail relay as configured (no secret: the relay takes no credentials).
#[derive(Debug, Clone, Serialize)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub from: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemOverview {
    pub version: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    pub database_bytes: i64,
    /// Whether `custos backup` works on this database (SQLite); PostgreSQL uses pg_dump.
    pub backup_supported: bool,
    pub last_backup: Option<BackupNote>,
    pub mail: Option<MailSettings>,
    /// Entries in the audit log (the chain's head).
    pub audit_entries: i64,
    pub audit_checkpoints: bool,
}

/// The result of verifying the chain from a page.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    pub report: ChainReport,
    /// The first broken entry, when it can still be read and the caller may read it.
    pub broken_entry: Option<AuditView>,
}

/// The use cases of the system page: what runs, test mail, audit verification on request; `App::system` gives it out.
pub struct System<'a> {
    pub(crate) app: &'a crate::App,
}

impl System<'_> {
    /// Version, database, last backup, mail relay (`system.backup`).
    pub async fn system_overview(&self, actor: &Actor) -> AppResult<SystemOverview> {
        actor.require("system.backup")?;
        let mut tx = self.app.db.begin_read().await?;
        let database_bytes = tx.database_bytes().await?;
        let (audit_entries, _) = tx.audit_head().await?;
        let last = tx
            .audit_entries(&AuditFilter {
                action: Some("system.backup".into()),
                limit: 1,
                ..AuditFilter::default()
            })
            .await?;
        tx.rollback().await?;
        let last_backup = last.into_iter().next().map(|e| {
            let after: serde_json::Value = e
                .after_json
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            BackupNote {
                at: crate::clock::format_time(e.at),
                actor: e.actor_name,
                file: after.get("file").and_then(|f| f.as_str()).map(String::from),
                encrypted: after.get("encrypted").and_then(|f| f.as_bool()),
            }
        });
        Ok(SystemOverview {
            version: env!("CARGO_PKG_VERSION"),
            backend: match self.app.db.backend() {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            },
            database_bytes,
            backup_supported: crate::backup::check_backup_supported(&self.app.db).is_ok(),
            last_backup,
            mail: self.app.config.smtp.as_ref().map(|s| MailSettings {
                host: s.host.clone(),
                port: s.port,
                from: s.from.clone(),
            }),
            audit_entries,
            audit_checkpoints: self.app.config.audit_checkpoints.is_some(),
        })
    }

    /// Send one test message to `to` through the configured relay (`system.backup`;
    /// audited as `system.test_mail`, sent or not). The relay's refusal is the answer.
    pub async fn send_test_mail(&self, actor: &Actor, to: &str) -> AppResult<()> {
        actor.require("system.backup")?;
        let to = to.trim();
        crate::text_input::refuse_single_line([("to", Some(to))])?;
        if !address_ok(to) {
            return Err(AppError::Validation(vec![Violation::new(
                "email.format",
                format!("“{to}”不是有效的电子邮件地址"),
                format!("'{to}' is not a valid e-mail address"),
            )
            .on("to")]));
        }
        let Some(smtp) = self.app.config.smtp.clone() else {
            return Err(AppError::Rejected(Violation::new(
                "mail.not_configured",
                "未配置邮件服务器：在配置文件的 [mail] 中设置 smtp_host 与 from（或环境变量 CUSTOS_SMTP_HOST）",
                "no mail relay is configured: set smtp_host and from in [mail] of the configuration file (or CUSTOS_SMTP_HOST)",
            )));
        };
        let mail = Mail {
            to: to.to_string(),
            subject: "custos 测试邮件 / test message".into(),
            body: format!(
                "这是 {} 从系统页发送的测试邮件。\nA test message sent by {} from the system page.",
                actor.display_name, actor.display_name
            ),
        };
        let sent = send_mail(&smtp, std::slice::from_ref(&mail)).await;
        let mut tx = self.app.db.begin().await?;
        let mut r = record(actor, "system.test_mail", "mail", to);
        r.after = to_json(&serde_json::json!({"sent": sent.is_ok()}));
        append(&mut tx, r).await?;
        tx.commit().await?;
        sent.map_err(|e| {
            AppError::Rejected(Violation::new(
                "mail.failed",
                format!("测试邮件未能发出：{e}"),
                format!("the test message was not sent: {e}"),
            ))
        })
    }

    /// Verify the audit chain for a person (`audit.verify`), as `custos audit verify`
    /// does, if it has at most [`AUDIT_VERIFY_ONLINE_MAX`] entries; a longer chain is
    /// refused with the command to run. A break names its first entry.
    pub async fn verify_audit_chain(&self, actor: &Actor) -> AppResult<ChainCheck> {
        actor.require("audit.verify")?;
        let mut tx = self.app.db.begin_read().await?;
        let (entries, _) = tx.audit_head().await?;
        tx.rollback().await?;
        if entries > AUDIT_VERIFY_ONLINE_MAX {
            return Err(AppError::Rejected(Violation::new(
                "audit.verify_too_long",
                format!(
                    "操作日志共 {entries} 条，超过页面校验的上限 {AUDIT_VERIFY_ONLINE_MAX} 条：请在服务器上运行 custos audit verify"
                ),
                format!(
                    "the audit log holds {entries} entries, more than the page verifies ({AUDIT_VERIFY_ONLINE_MAX}): run custos audit verify on the server"
                ),
            )));
        }
        let report = self.app.audit().verify_audit().await?;
        let broken_entry = match &report {
            ChainReport::Broken { seq, .. } if actor.can("audit.read") => {
                self.audit_entry(actor, *seq).await.ok()
            }
            _ => None,
        };
        Ok(ChainCheck {
            report,
            broken_entry,
        })
    }

    /// One audit entry by its number (`audit.read`, within the caller's audit scope).
    pub async fn audit_entry(&self, actor: &Actor, seq: i64) -> AppResult<AuditView> {
        let filter = AuditFilter {
            before_seq: seq.checked_add(1),
            limit: 1,
            ..AuditFilter::default()
        };
        self.app
            .audit()
            .list_audit(actor, filter)
            .await?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or_else(|| AppError::not_found("audit_entry", seq))
    }
}
