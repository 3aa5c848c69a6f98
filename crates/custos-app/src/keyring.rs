//! Rotation of the PII master key (see `docs/security.md`, "Key rotation").
//!
//! - **Which key is active** is recorded in the database (`pii_key_check` in `settings`:
//!   the active key's id and check value), so every server on one database agrees. A
//!   server whose key ring lacks that key refuses to start; a running server reads the
//!   setting every [`crate::AppConfig::pii_key_refresh`] and, meeting a key id it does
//!   not know, reads its key file again ([`Keyring::refresh_pii_key`]).
//! - **Rotation** ([`Keyring::rotate_pii_key`]) adds a new random key to the key file and,
//!   unless staged, activates it ([`Keyring::activate_pii_key`]): new values are encrypted and
//!   indexed under it at once, and the re-keying job starts (`keyring/rekey.rs`).
//! - **Retirement** ([`Keyring::retire_pii_key`]) removes a key from the ring once nothing
//!   needs it: no row holds a value under it, the re-keying finished, no sealed file
//!   (upload, export) was written with it. Its audit keys stay in the file, so old audit
//!   entries and checkpoints still verify; nothing can be decrypted with them.
//!
//! Every rotation, activation, retirement and the end of each re-keying is audited.

use serde::Serialize;

use custos_core::Violation;
use custos_store::pii_rows::PII_COLUMNS;

use crate::audit::{append, record};
use crate::pii::CHECK_SETTING;
use crate::{Actor, AppError, AppResult};

mod rekey;

pub use rekey::{RekeyJob, RekeyStep, REKEY_SETTING};

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct Rotated {
    /// The new key's id.
    pub key_id: String,
    /// The key that was active before.
    pub previous: String,
    /// Whether the new key is active (not only staged in the ring).
    pub active: bool,
    /// The key file written.
    pub file: String,
}

/// Rows still holding values under one key, per table.
#[derive(Debug, Clone, Serialize)]
pub struct KeyRows {
    pub key_id: String,
    pub table: String,
    pub rows: i64,
}

/// `custos key status`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    /// The active key (recorded in the database).
    pub active: String,
    /// The keys of this server's ring, the active one first.
    pub ring: Vec<String>,
    /// Rows holding values under a key of the ring other than the active one.
    pub to_rekey: Vec<KeyRows>,
    /// The re-keying job, if a rotation ever ran.
    pub job: Option<RekeyJob>,
}

fn refused(code: &str, zh: String, en: String) -> AppError {
    AppError::Rejected(Violation::new(code, zh, en))
}

impl Keyring<'_> {
    /// Compare the key ring with the key the database records as active (its check
    /// value, stored on first start) and make that key the active one. A ring without it
    /// is a start-up error (data encrypted with it is unreadable).
    pub async fn check_pii_key(&self) -> AppResult<()> {
        let key = &self.app.config.pii_key;
        let mut tx = self.app.db.begin().await?;
        match tx.setting(CHECK_SETTING).await? {
            Some(stored) if key.key_with_check(&stored).is_some() => {
                tx.rollback().await?;
                key.activate(id_of(&stored));
                self.app.db.set_audit_keys(key.audit_keys());
                Ok(())
            }
            Some(_)
                if tx.count_customers().await? == 0
                    && !tx
                        .audit_keyed_with_other(Some(key.audit_key().id()))
                        .await? =>
            {
                // Nothing is encrypted under the old key yet (e.g. a fresh restore of an
                // empty database) and no audit entry is keyed with it: adopt the key.
                tx.put_setting(CHECK_SETTING, &key.check_value()).await?;
                tx.commit().await?;
                tracing::warn!(
                    key_id = key.key_id(),
                    "PII key replaced: the database holds no customers"
                );
                Ok(())
            }
            Some(stored) => {
                tx.rollback().await?;
                let stored_id = id_of(&stored);
                let ring = key.ids().join(", ");
                Err(AppError::Internal(format!(
                    "数据库记录的当前个人信息密钥 (id {stored_id}) 不在本服务器的密钥环中 \
                     (id {ring})；请把该密钥加入密钥文件 / the PII key this database uses \
                     (id {stored_id}) is not in this server's key ring (ids {ring}); set \
                     CUSTOS_PII_KEY or CUSTOS_PII_KEY_FILE to a ring holding it, or restore \
                     pii.key in the data directory — without it encrypted personal data cannot \
                     be read and the audit chain cannot be verified"
                )))
            }
            None => {
                tx.put_setting(CHECK_SETTING, &key.check_value()).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    }

    /// Learn which key is active now (another server or `custos key` may have rotated
    /// it), reading the key file again when the ring lacks it. True when it changed. A
    /// ring that still lacks it is an error, logged by the caller; the server goes on with
    /// the key it has.
    pub async fn refresh_pii_key(&self) -> AppResult<bool> {
        let mut tx = self.app.db.begin_read().await?;
        let stored = tx.setting(CHECK_SETTING).await?;
        tx.rollback().await?;
        let Some(stored) = stored else {
            return Ok(false);
        };
        let key = &self.app.config.pii_key;
        if key.key_id() == id_of(&stored) {
            return Ok(false);
        }
        if key.key_with_check(&stored).is_none() {
            key.reload_for(Some(id_of(&stored)))
                .map_err(AppError::Internal)?;
        }
        if key.key_with_check(&stored).is_none() {
            return Err(AppError::Internal(format!(
                "the active PII key is now {} (rotated), which is not in this server's key \
                 ring ({}): copy the key file from the server that rotated it; until then this \
                 server encrypts with {} and cannot read values re-keyed to the new key",
                id_of(&stored),
                key.ids().join(", "),
                key.key_id()
            )));
        }
        key.activate(id_of(&stored));
        self.app.db.set_audit_keys(key.audit_keys());
        tracing::info!(key_id = id_of(&stored), "PII key changed: now active");
        Ok(true)
    }

    /// Read the key file again (SIGHUP); the active key stays the database's. Returns
    /// the ring's ids.
    pub fn reload_pii_keys(&self) -> AppResult<Vec<String>> {
        let key = &self.app.config.pii_key;
        key.reload().map_err(AppError::Internal)?;
        self.app.db.set_audit_keys(key.audit_keys());
        Ok(key.ids())
    }

    /// Add a new random key to the key ring's file (mode 0600) and, unless `stage`,
    /// make it the active key (see [`Keyring::activate_pii_key`]). Staging is for several
    /// servers: copy the file to each, then activate.
    pub async fn rotate_pii_key(&self, actor: &Actor, stage: bool) -> AppResult<Rotated> {
        actor.require("system.keys")?;
        self.refresh_pii_key().await?;
        let key = &self.app.config.pii_key;
        let previous = key.key_id();
        let file = key
            .file()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let new = key.add_new_key().map_err(|e| {
            refused(
                "pii_key.file",
                format!("无法写入密钥文件：{e}"),
                format!("cannot write the key file: {e}"),
            )
        })?;
        self.app.db.set_audit_keys(key.audit_keys());
        if stage {
            let mut tx = self.app.db.begin().await?;
            let mut r = record(actor, "pii_key.add", "pii_key", new.key_id());
            r.after = crate::to_json(&serde_json::json!({"active": previous, "file": file}));
            append(&mut tx, r).await?;
            tx.commit().await?;
        } else {
            self.activate_pii_key(actor, new.key_id()).await?;
        }
        Ok(Rotated {
            key_id: new.key_id().to_string(),
            previous,
            active: !stage,
            file,
        })
    }

    /// Make key `id` of the ring the active one for every server on the database, and
    /// start re-keying everything stored under other keys to it.
    pub async fn activate_pii_key(&self, actor: &Actor, id: &str) -> AppResult<()> {
        actor.require("system.keys")?;
        let key = &self.app.config.pii_key;
        if key.key(id).is_none() {
            key.reload().map_err(AppError::Internal)?;
        }
        let Some(new) = key.key(id) else {
            return Err(refused(
                "pii_key.unknown",
                format!("密钥环中没有密钥 {id}"),
                format!("key {id} is not in the key ring ({})", key.ids().join(", ")),
            ));
        };
        let mut tx = self.app.db.begin().await?;
        tx.lock_audit_head().await?;
        let before = tx.setting(CHECK_SETTING).await?;
        let previous = before.as_deref().map(id_of).unwrap_or_default().to_string();
        let job = RekeyJob::new(id);
        tx.put_setting(CHECK_SETTING, new.check_value()).await?;
        tx.put_setting(REKEY_SETTING, &job.to_json()).await?;
        let mut r = record(actor, "pii_key.rotate", "pii_key", id);
        r.before = crate::to_json(&serde_json::json!({ "active": previous }));
        r.after = crate::to_json(&serde_json::json!({ "active": id, "ring": key.ids() }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        key.activate(id);
        self.app.db.set_audit_keys(key.audit_keys());
        Ok(())
    }

    /// The active key, the ring, what is left to re-key and the job's progress.
    pub async fn pii_key_status(&self, actor: &Actor) -> AppResult<KeyStatus> {
        actor.require("system.keys")?;
        if let Err(e) = self.refresh_pii_key().await {
            tracing::warn!(error = %e, "PII key refresh");
        }
        let key = &self.app.config.pii_key;
        let ring = key.ids();
        let mut tx = self.app.db.begin_read().await?;
        let active = tx
            .setting(CHECK_SETTING)
            .await?
            .map(|s| id_of(&s).to_string())
            .unwrap_or_else(|| key.key_id());
        let mut to_rekey = Vec::new();
        for id in ring.iter().filter(|id| **id != active) {
            for t in PII_COLUMNS {
                let rows = tx.count_pii_rows_under(t, id).await?;
                to_rekey.push(KeyRows {
                    key_id: id.clone(),
                    table: t.table.to_string(),
                    rows,
                });
            }
        }
        let job = RekeyJob::read(&mut tx).await?;
        tx.rollback().await?;
        Ok(KeyStatus {
            active,
            ring,
            to_rekey,
            job,
        })
    }

    /// Remove key `id` from the ring, keeping its audit keys: refused while it is active,
    /// while the re-keying has not finished, while any row holds a value under it, and
    /// while a sealed upload or export file was written with it.
    pub async fn retire_pii_key(&self, actor: &Actor, id: &str) -> AppResult<()> {
        actor.require("system.keys")?;
        self.refresh_pii_key().await?;
        let key = &self.app.config.pii_key;
        if key.key(id).is_none() {
            return Err(refused(
                "pii_key.unknown",
                format!("密钥环中没有密钥 {id}"),
                format!("key {id} is not in the key ring ({})", key.ids().join(", ")),
            ));
        }
        if key.key_id() == id {
            return Err(refused(
                "pii_key.active",
                format!("密钥 {id} 是当前密钥，不能废止；请先轮换"),
                format!("key {id} is the active key and cannot be retired; rotate first"),
            ));
        }
        let mut tx = self.app.db.begin_read().await?;
        let job = RekeyJob::read(&mut tx).await?;
        if let Some(j) = job.as_ref().filter(|j| j.finished_at.is_none()) {
            tx.rollback().await?;
            return Err(refused(
                "pii_key.rekey_running",
                format!("重新加密到密钥 {} 尚未完成（custos key rekey）", j.target),
                format!(
                    "re-keying to key {} has not finished (custos key rekey)",
                    j.target
                ),
            ));
        }
        let mut held = Vec::new();
        for t in PII_COLUMNS {
            let n = tx.count_pii_rows_under(t, id).await?;
            if n > 0 {
                held.push(format!("{} {n}", t.table));
            }
        }
        tx.rollback().await?;
        if !held.is_empty() {
            let held = held.join(", ");
            return Err(refused(
                "pii_key.in_use",
                format!("仍有数据用密钥 {id} 加密（{held}）；请先完成重新加密"),
                format!("rows still hold values under key {id} ({held}); re-key them first"),
            ));
        }
        let files = self.files_sealed_with(id).await?;
        if files > 0 {
            return Err(refused(
                "pii_key.sealed_files",
                format!("仍有 {files} 个上传或导出文件用密钥 {id} 加密；待其过期删除后再废止"),
                format!(
                    "{files} upload or export files are sealed with key {id}; retire it once \
                     they expired and were deleted"
                ),
            ));
        }
        key.retire_key(id).map_err(|e| {
            refused(
                "pii_key.file",
                format!("无法写入密钥文件：{e}"),
                format!("cannot write the key file: {e}"),
            )
        })?;
        self.app.db.set_audit_keys(key.audit_keys());
        let mut tx = self.app.db.begin().await?;
        let mut r = record(actor, "pii_key.retire", "pii_key", id);
        r.after = crate::to_json(&serde_json::json!({ "ring": key.ids() }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many files in the upload and export directories are sealed with key `id`.
    async fn files_sealed_with(&self, id: &str) -> AppResult<usize> {
        let dirs = [
            self.app.imports().import_upload_dir(),
            self.app.exports().exports_dir(),
        ];
        let id = id.to_string();
        tokio::task::spawn_blocking(move || {
            let mut n = 0;
            for dir in dirs {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in entries.flatten() {
                    let path = e.path();
                    if path.is_file()
                        && custos_files::sealed::sealed_key_id(&path)
                            .ok()
                            .flatten()
                            .is_some_and(|k| k == id)
                    {
                        n += 1;
                    }
                }
            }
            n
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
    }
}

/// The key id at the start of a check value (`<id>:<hex>`).
fn id_of(check: &str) -> &str {
    check.split(':').next().unwrap_or("")
}

mod service;
#[cfg(test)]
mod tests;
pub use service::Keyring;
