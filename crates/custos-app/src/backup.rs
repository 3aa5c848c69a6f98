//! Backup and restore of the embedded (SQLite) database.
//!
//! A backup is a consistent SQLite snapshot taken online with `VACUUM INTO`, written in
//! the backup file format of [`custos_files::backup_format`] (magic, JSON header with
//! size, SHA-256 and the PII key's check value, the payload — encrypted under a
//! passphrase, and then carrying the PII master key, or plain).
//!
//! Restore checks all of this into a staging directory — magic, checksum, decryption,
//! that the payload is a custos database whose audit chain verifies, that the PII key in
//! place fits — and only then renames the database (and the key file) into place.
//! Format 1 files (plain, no key check value in the header) are still read.

use std::path::{Path, PathBuf};

use serde::Serialize;

use custos_core::Violation;
use custos_files::backup_format::{self, Sealing, CHUNK_SIZE};
use custos_store::{ChainReport, Db, DbOptions};

use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;

pub use custos_files::backup_format::{BackupHeader, Encryption, KdfParams};

/// Name of the PII key file in the data directory (see the binary's configuration).
pub const PII_KEY_FILE: &str = "pii.key";

/// A backup passphrase. Its `Debug` output hides it.
#[derive(Clone)]
pub struct Passphrase(String);

impl Passphrase {
    /// Reject an empty passphrase: encrypting with it would protect nothing.
    pub fn new(text: String) -> AppResult<Passphrase> {
        if text.is_empty() {
            return Err(AppError::Rejected(Violation::new(
                "backup.passphrase",
                "备份口令不能为空",
                "the backup passphrase must not be empty",
            )));
        }
        Ok(Passphrase(text))
    }

    /// The passphrase's text, for the key derivation.
    fn text(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> AppError {
    backup_format::io_err(what, path, e).into()
}

fn bad_file(zh: String, en: String) -> AppError {
    backup_format::bad_file(zh, en).into()
}

/// Online backups are for the embedded SQLite database; PostgreSQL has pg_dump.
pub fn check_backup_supported(db: &Db) -> AppResult<()> {
    if db.sqlite_path().is_none() {
        return Err(AppError::Rejected(Violation::new(
            "backup.postgres",
            "PostgreSQL 数据库请使用 pg_dump 备份，例如：pg_dump --format=custom --file=custos.dump \"$CUSTOS_DATABASE_URL\"；恢复用 pg_restore",
            "back up PostgreSQL with pg_dump, e.g. pg_dump --format=custom --file=custos.dump \"$CUSTOS_DATABASE_URL\"; restore with pg_restore",
        )));
    }
    Ok(())
}

/// Write a backup of `db`, whose personal data is encrypted with `pii_key`, to `dest`;
/// encrypted (and carrying `pii_key`) when a passphrase is given. Returns the header.
pub async fn write_backup(
    db: &Db,
    dest: &Path,
    pii_key: &PiiKey,
    passphrase: Option<&Passphrase>,
) -> AppResult<BackupHeader> {
    check_backup_supported(db)?;
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let snapshot = tempfile::Builder::new()
        .prefix(".custos-snapshot-")
        .tempfile_in(dir)
        .map_err(|e| io_err("创建临时文件", dir, e))?
        .into_temp_path();
    // VACUUM INTO refuses to overwrite an existing file.
    std::fs::remove_file(&snapshot).map_err(|e| io_err("清理临时文件", &snapshot, e))?;
    db.sqlite_snapshot(&snapshot).await?;
    let snapshot_path = snapshot.to_path_buf();
    let dest = dest.to_path_buf();
    let (key, pass) = (pii_key.pinned(), passphrase.cloned());
    let header = tokio::task::spawn_blocking(move || {
        let sealing = pass
            .map(|p| Sealing::new(p.text(), KdfParams::default(), CHUNK_SIZE))
            .transpose()?;
        backup_format::package(
            &snapshot_path,
            &dest,
            &key.master(),
            &key.check_value(),
            sealing.as_ref(),
        )
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    drop(snapshot);
    Ok(header)
}

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Replace a database that holds data, and a PII key that differs from the backup's.
    pub force: bool,
    /// Passphrase of an encrypted backup.
    pub passphrase: Option<Passphrase>,
    /// The key from `CUSTOS_PII_KEY` / `CUSTOS_PII_KEY_FILE`, which takes precedence over
    /// `pii.key` in the data directory.
    pub env_key: Option<PiiKey>,
}

/// What happened to the PII key on restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKeyOutcome {
    /// The key in place is the backup's key.
    Matches,
    /// The backup holds no customers: any key will do.
    NotNeeded,
    /// The backup's key was written to `pii.key`.
    Written,
    /// `pii.key` held another key (kept as `pii.key.replaced-…`) and was replaced (`--force`).
    Replaced,
    /// No key is in place and the backup does not carry one: put the backup's key in
    /// place before starting.
    Missing,
    /// The key in effect differs from the backup's and the restore was forced: encrypted
    /// personal data cannot be read until the backup's key is configured.
    Mismatch,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub header: BackupHeader,
    pub audit_entries: i64,
    pub target: PathBuf,
    pub pii_key: PiiKeyOutcome,
    /// Id of the backup's PII key, when known.
    pub pii_key_id: Option<String>,
    /// What was carried from the replaced database so no code is issued twice, or why
    /// issuing is on hold (see `restore_guard`).
    pub codes: crate::restore_guard::CodeCarry,
}

fn key_id_of(check: &str) -> &str {
    check.split(':').next().unwrap_or("?")
}

fn key_mismatch(backup_check: &str, in_place: &PiiKey, source: &str) -> AppError {
    let (b, p) = (key_id_of(backup_check), in_place.key_id());
    AppError::Conflict(Violation::new(
        "restore.pii_key_mismatch",
        format!(
            "备份中的个人信息用密钥 {b} 加密，而 {source} 中是密钥 {p}：恢复后将无法读取加密数据。\
             请换上备份时的密钥后再恢复；确认仍要恢复请加 --force"
        ),
        format!(
            "the backup's personal data is encrypted with key {b}, but {source} holds key {p}: \
             it could not be read after the restore. Put the backup's key in place and retry, \
             or add --force to restore anyway"
        ),
    ))
}

/// The keys to verify the backup's audit chain with: the one it carries, else the ring
/// in effect if it holds the backup's key. Without one only the chain's structure is checked
/// (the keyed hashes are checked by `custos audit verify` once the key is in place).
fn staged_audit_key(
    check: Option<&str>,
    carried: Option<&PiiKey>,
    env_key: &Option<PiiKey>,
    data_dir: &Path,
) -> Option<PiiKey> {
    if let Some(k) = carried {
        return Some(k.clone());
    }
    let in_effect = env_key.clone().or_else(|| {
        PiiKey::load_file(&data_dir.join(PII_KEY_FILE))
            .ok()
            .flatten()
    })?;
    match check {
        Some(check) if in_effect.key_with_check(check).is_none() => None,
        _ => Some(in_effect),
    }
}

/// What becomes of the PII key: the backup's key (`backup_check`) against the key in
/// effect (`env_key`, else `file_key` from `pii.key`); refused on a mismatch unless
/// `force`. Also the carried key to write to `pii.key`, and whether an existing
/// file is set aside.
fn pii_key_outcome<'a>(
    needs_key: bool,
    backup_check: Option<&str>,
    env_key: Option<&'a PiiKey>,
    force: bool,
    file_key: Option<&'a PiiKey>,
    carried_key: Option<&'a PiiKey>,
) -> AppResult<(PiiKeyOutcome, Option<(&'a PiiKey, bool)>)> {
    // The key the server would use: the environment's, else the file's.
    let in_effect = match (env_key, file_key) {
        (Some(k), _) => Some((k, "CUSTOS_PII_KEY")),
        (None, Some(k)) => Some((k, PII_KEY_FILE)),
        (None, None) => None,
    };
    let mut outcome = if needs_key {
        PiiKeyOutcome::Matches
    } else {
        PiiKeyOutcome::NotNeeded
    };
    // The carried key to write to pii.key, and whether an existing file is set aside.
    let mut new_key_file: Option<(&'a PiiKey, bool)> = None;
    match (in_effect, backup_check) {
        (Some((key, source)), Some(check)) if needs_key && key.key_with_check(check).is_none() => {
            if !force {
                return Err(key_mismatch(check, key, source));
            }
            outcome = PiiKeyOutcome::Mismatch;
            if let (None, Some(carried)) = (env_key, carried_key) {
                new_key_file = Some((carried, true));
                outcome = PiiKeyOutcome::Replaced;
            }
        }
        (None, _) if needs_key && carried_key.is_none() => outcome = PiiKeyOutcome::Missing,
        _ => {}
    }
    if let (None, Some(carried)) = (file_key, carried_key) {
        new_key_file = Some((carried, false));
        if outcome != PiiKeyOutcome::Mismatch {
            outcome = PiiKeyOutcome::Written;
        }
    }
    Ok((outcome, new_key_file))
}

/// Refuse to replace the database at `target` when it holds users.
async fn refuse_non_empty_target(data_dir: &Path, target: &Path) -> AppResult<()> {
    let existing = Db::open(&DbOptions::sqlite(data_dir)).await?;
    let mut tx = existing.begin_read().await?;
    let users = tx.count_users().await?;
    tx.rollback().await?;
    existing.close().await;
    if users > 0 {
        return Err(AppError::Conflict(Violation::new(
            "restore.target_not_empty",
            format!(
                "目标数据库 {} 已有数据；确认覆盖请加 --force",
                target.display()
            ),
            format!(
                "the target database {} is not empty; add --force to overwrite it",
                target.display()
            ),
        )));
    }
    Ok(())
}

/// Restore `file` into the SQLite database of `data_dir`. Refuses to replace a database
/// that holds users, or to restore data under a PII key that does not fit, unless
/// `force`; refuses while a server or command uses the directory (and keeps them from
/// starting until it is done). Codes issued since the backup are carried over from the
/// database it replaces, or issuing is put on hold (see `restore_guard`).
pub async fn restore_backup(
    file: &Path,
    data_dir: &Path,
    opts: RestoreOptions,
) -> AppResult<RestoreReport> {
    custos_store::private_files::create_dir_all(data_dir)
        .map_err(|e| io_err("创建数据目录", data_dir, e))?;
    let _lock = crate::data_lock::lock_dir_exclusive(data_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".custos-restore-")
        .tempdir_in(data_dir)
        .map_err(|e| io_err("创建临时目录", data_dir, e))?;
    let staged_db = staging.path().join(custos_store::db_file_name());
    let (file_c, staged_c, pass) = (file.to_path_buf(), staged_db.clone(), opts.passphrase);
    let (header, carried_master) = tokio::task::spawn_blocking(move || {
        backup_format::unpack(&file_c, &staged_c, pass.as_ref().map(Passphrase::text))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    let carried_key = carried_master.map(|m| PiiKey::from_master(&m));

    // Open the staged copy: it must be a custos database whose audit chain holds.
    let staged = Db::open(&DbOptions::sqlite(staging.path()))
        .await
        .map_err(|e| {
            bad_file(
                format!("备份内容不是有效的 custos 数据库：{e}"),
                format!("the backup does not contain a valid custos database: {e}"),
            )
        })?;
    // Format 1 headers do not name the key; the database's check value does.
    let mut tx = staged.begin_read().await?;
    let stored_check = tx.setting(crate::pii::CHECK_SETTING).await.ok().flatten();
    tx.rollback().await?;
    let check = header.pii_key_check.as_deref().or(stored_check.as_deref());
    let audit_keys = staged_audit_key(check, carried_key.as_ref(), &opts.env_key, data_dir)
        .map(|key| key.audit_keys());
    if let Some(keys) = &audit_keys {
        staged.set_audit_keys(keys.clone());
    }
    let mut tx = staged.begin_read().await?;
    let has_users = tx.count_users().await.is_ok();
    let chain = tx.verify_audit_chain().await;
    let customers = tx.count_customers().await.unwrap_or(0);
    let audit_keyed = tx.audit_keyed_with_other(None).await.unwrap_or(false);
    tx.rollback().await?;
    staged.close().await;
    if !has_users {
        return Err(bad_file(
            "备份内容不是 custos 数据库".into(),
            "the backup does not contain a custos database".into(),
        ));
    }
    let entries = match chain? {
        ChainReport::Ok { entries, .. } => entries,
        ChainReport::Broken { seq, reason } => {
            return Err(bad_file(
                format!("备份中的操作日志链在第 {seq} 条断裂：{reason}"),
                format!("the audit chain in the backup is broken at entry {seq}: {reason}"),
            ))
        }
    };

    // The PII key. Format 1 headers do not name it; the database's own check value does.
    let backup_check = carried_key
        .as_ref()
        .map(|k| k.check_value().to_string())
        .or_else(|| header.pii_key_check.clone())
        .or(stored_check);
    let key_path = data_dir.join(PII_KEY_FILE);
    let file_key = PiiKey::load_file(&key_path).map_err(|e| {
        AppError::Rejected(Violation::new(
            "restore.pii_key",
            format!("无法读取数据目录中的 pii.key：{e}"),
            format!("cannot use pii.key in the data directory: {e}"),
        ))
    })?;
    // Personal data, and the keyed audit chain, need the backup's key.
    let needs_key = customers > 0 || audit_keyed;
    let (outcome, new_key_file) = pii_key_outcome(
        needs_key,
        backup_check.as_deref(),
        opts.env_key.as_ref(),
        opts.force,
        file_key.as_ref(),
        carried_key.as_ref(),
    )?;

    let target = data_dir.join(custos_store::db_file_name());
    if target.exists() && !opts.force {
        refuse_non_empty_target(data_dir, &target).await?;
    }

    // Everything is verified. Bring over what the live database issued since the backup
    // (or hold issuing), then stage the key file next to its place, then rename.
    let codes =
        crate::restore_guard::carry_codes(data_dir, staging.path(), &header.created_at, audit_keys)
            .await?;
    let staged_key = staging.path().join(PII_KEY_FILE);
    if let Some((key, _)) = new_key_file {
        key.write_new_file(&staged_key)
            .map_err(|e| io_err("写入 pii.key", &staged_key, e))?;
    }
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        if side.exists() {
            std::fs::remove_file(&side).map_err(|e| io_err("删除旧日志文件", &side, e))?;
        }
    }
    std::fs::rename(&staged_db, &target).map_err(|e| io_err("替换数据库文件", &target, e))?;
    if let Some((_, set_aside)) = new_key_file {
        if set_aside {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let old = data_dir.join(format!("{PII_KEY_FILE}.replaced-{stamp}"));
            std::fs::rename(&key_path, &old).map_err(|e| io_err("保留旧 pii.key", &old, e))?;
        }
        std::fs::rename(&staged_key, &key_path)
            .map_err(|e| io_err("写入 pii.key", &key_path, e))?;
    }
    Ok(RestoreReport {
        pii_key_id: backup_check.as_deref().map(|c| key_id_of(c).to_string()),
        header,
        audit_entries: entries,
        target,
        pii_key: outcome,
        codes,
    })
}

/// The use cases of backups, restore and its guards; `App::backups` gives it out.
pub struct Backups<'a> {
    pub(crate) app: &'a crate::App,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::customers::NewCustomer;
    use crate::{Actor, App};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use custos_files::backup_format::{hash_file, package, ALG, KDF, MAGIC};
    use custos_files::sealed::TAG_LEN;
    use sha2::{Digest, Sha256};

    const ID_NUMBER: &str = "110101199003074258";
    const MOBILE: &str = "13812345678";
    /// Cheap KDF costs for tests that exercise the format rather than the KDF.
    const FAST: KdfParams = KdfParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn pass(text: &str) -> Passphrase {
        Passphrase::new(text.into()).unwrap()
    }

    /// An app in `dir` with an admin and, when `customer`, one individual customer
    /// whose ID number and mobile are encrypted with `key`.
    async fn app_in(dir: &Path, key: &PiiKey, customer: bool) -> (App, Actor) {
        let (app, admin) = crate::test_support::app_in_dir(dir, key).await;
        if customer {
            app.demo().ensure_default_code_rules(&admin).await.unwrap();
            app.customers()
                .create_customer(
                    &admin,
                    NewCustomer {
                        customer_type: "individual".into(),
                        name: "张三".into(),
                        id_number: Some(ID_NUMBER.into()),
                        mobile: Some(MOBILE.into()),
                        region_code: Some("110101".into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        (app, admin)
    }

    /// A snapshot of a fresh database with one customer, for the format-level tests.
    async fn snapshot(dir: &Path, key: &PiiKey) -> PathBuf {
        let (app, _) = app_in(&dir.join("src"), key, true).await;
        let path = dir.join("snapshot.db");
        app.db.sqlite_snapshot(&path).await.unwrap();
        app.db.close().await;
        path
    }

    /// ID number and mobile of the one customer, decrypted.
    async fn read_back(app: &App, admin: &Actor) -> (Option<String>, Option<String>) {
        let query = crate::search::CustomerQuery::default();
        let page = app
            .customers()
            .search_customers(admin, query)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let view = app
            .customers()
            .get_customer(admin, &page.items[0].code)
            .await
            .unwrap();
        (view.id_number, view.mobile)
    }

    fn code_of(e: &AppError) -> String {
        e.code()
    }

    /// Byte offset where the payload starts (after magic and header lines).
    fn payload_start(bytes: &[u8]) -> usize {
        let first = bytes.iter().position(|b| *b == b'\n').unwrap();
        first + 1 + bytes[first + 1..].iter().position(|b| *b == b'\n').unwrap() + 1
    }

    /// Replace the header line so that size and checksum fit `payload` again: what an
    /// attacker rewriting the file could do.
    fn with_fixed_header(bytes: &[u8], payload: &[u8]) -> Vec<u8> {
        let start = payload_start(bytes);
        let first = bytes.iter().position(|b| *b == b'\n').unwrap();
        let mut header: BackupHeader =
            serde_json::from_slice(&bytes[first + 1..start - 1]).unwrap();
        header.size = payload.len() as u64;
        header.sha256 = hex::encode(Sha256::digest(payload));
        let mut out = bytes[..=first].to_vec();
        out.extend_from_slice(serde_json::to_string(&header).unwrap().as_bytes());
        out.push(b'\n');
        out.extend_from_slice(payload);
        out
    }

    async fn restore(file: &Path, dir: &Path, opts: RestoreOptions) -> AppResult<RestoreReport> {
        restore_backup(file, dir, opts).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plain_round_trip_names_the_key_but_does_not_carry_it() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let (app, admin) = app_in(&work.path().join("a"), &key, true).await;
        let file = work.path().join("plain.backup");
        let header = app.demo().backup(&admin, &file, None).await.unwrap();
        assert_eq!(header.format, 2);
        assert!(header.encryption.is_none());
        assert_eq!(
            header.pii_key_check.as_deref(),
            Some(key.check_value().as_str())
        );
        let bytes = std::fs::read(&file).unwrap();
        let master_b64 = STANDARD.encode(key.master());
        assert!(!String::from_utf8_lossy(&bytes).contains(&master_b64));

        // Into an empty directory: restored, but the key must be brought separately.
        let target = work.path().join("b");
        let report = restore(&file, &target, RestoreOptions::default())
            .await
            .unwrap();
        assert_eq!(report.pii_key, PiiKeyOutcome::Missing);
        assert_eq!(report.pii_key_id.as_deref(), Some(key.key_id().as_str()));
        assert!(!target.join(PII_KEY_FILE).exists());
        // With the key put in place by hand, the data reads back.
        let (restored, admin) = app_in(&target, &key, false).await;
        let (id_number, mobile) = read_back(&restored, &admin).await;
        assert_eq!(id_number.as_deref(), Some(ID_NUMBER));
        assert_eq!(mobile.as_deref(), Some(MOBILE));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn encrypted_backup_restores_the_pii_key_into_an_empty_directory() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let (app, admin) = app_in(&work.path().join("a"), &key, true).await;
        let file = work.path().join("enc.backup");
        let header = app
            .demo()
            .backup(&admin, &file, Some(&pass("correct horse battery staple")))
            .await
            .unwrap();
        let enc = header.encryption.as_ref().unwrap();
        assert_eq!((enc.alg.as_str(), enc.kdf.as_str()), (ALG, KDF));
        assert_eq!(enc.params, KdfParams::default());
        // Nothing readable in the file: no SQLite header, no key.
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("SQLite format 3"));
        assert!(!text.contains(&STANDARD.encode(key.master())));

        let target = work.path().join("b");
        let opts = RestoreOptions {
            passphrase: Some(pass("correct horse battery staple")),
            ..Default::default()
        };
        let report = restore(&file, &target, opts).await.unwrap();
        assert_eq!(report.pii_key, PiiKeyOutcome::Written);
        let restored_key = PiiKey::load_file(&target.join(PII_KEY_FILE))
            .unwrap()
            .unwrap();
        assert_eq!(restored_key.check_value(), key.check_value());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(target.join(PII_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // The restored directory opens with the restored key and the personal data reads back.
        let (restored, admin) = app_in(&target, &restored_key, false).await;
        let (id_number, mobile) = read_back(&restored, &admin).await;
        assert_eq!(id_number.as_deref(), Some(ID_NUMBER));
        assert_eq!(mobile.as_deref(), Some(MOBILE));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_or_missing_passphrase_is_rejected_and_nothing_is_replaced() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let snap = snapshot(work.path(), &key).await;
        let file = work.path().join("enc.backup");
        let sealing = Sealing::new(pass("right").text(), FAST, 4096).unwrap();
        package(
            &snap,
            &file,
            &key.master(),
            &key.check_value(),
            Some(&sealing),
        )
        .unwrap();

        let target = work.path().join("t");
        let wrong = RestoreOptions {
            passphrase: Some(pass("wrong")),
            ..Default::default()
        };
        let e = restore(&file, &target, wrong).await.unwrap_err();
        assert_eq!(code_of(&e), "backup.passphrase");
        assert!(matches!(e, AppError::Rejected(_)));
        let e = restore(&file, &target, RestoreOptions::default())
            .await
            .unwrap_err();
        assert_eq!(code_of(&e), "backup.passphrase");
        assert!(!target.join(custos_store::db_file_name()).exists());
        assert!(!target.join(PII_KEY_FILE).exists());
        assert!(Passphrase::new(String::new()).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn altered_reordered_or_truncated_ciphertext_is_invalid() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let snap = snapshot(work.path(), &key).await;
        let file = work.path().join("enc.backup");
        let sealing = Sealing::new(pass("pw").text(), FAST, 4096).unwrap();
        package(
            &snap,
            &file,
            &key.master(),
            &key.check_value(),
            Some(&sealing),
        )
        .unwrap();
        let good = std::fs::read(&file).unwrap();
        let start = payload_start(&good);
        let payload = &good[start..];
        let first = 32 + TAG_LEN;
        let sealed_chunk = 4096 + TAG_LEN;
        let db_chunks = (payload.len() - first).div_ceil(sealed_chunk);
        assert!(db_chunks >= 3, "{db_chunks} chunks");

        let mut flipped = good.clone();
        flipped[start + first + 10] ^= 0x20;
        // Checksum fixed too: the chunk's tag still catches it.
        let mut flipped_payload = payload.to_vec();
        flipped_payload[first + 10] ^= 0x20;
        let forged = with_fixed_header(&good, &flipped_payload);
        // The last chunk dropped, with and without a matching checksum.
        let last_start = first + (db_chunks - 1) * sealed_chunk;
        let truncated = good[..start + last_start].to_vec();
        let truncated_forged = with_fixed_header(&good, &payload[..last_start]);
        // Two chunks swapped.
        let mut swapped = payload[..first].to_vec();
        swapped.extend_from_slice(&payload[first + sealed_chunk..first + 2 * sealed_chunk]);
        swapped.extend_from_slice(&payload[first..first + sealed_chunk]);
        swapped.extend_from_slice(&payload[first + 2 * sealed_chunk..]);
        let swapped = with_fixed_header(&good, &swapped);
        // Data appended after the last chunk.
        let mut appended = payload.to_vec();
        appended.extend_from_slice(&[0u8; 64]);
        let appended = with_fixed_header(&good, &appended);

        let target = work.path().join("t");
        for (name, bytes, expect) in [
            ("flipped", flipped, "校验和"),
            ("forged", forged, "第 1 块"),
            ("truncated", truncated, "校验和"),
            ("truncated_forged", truncated_forged, "未通过认证"),
            ("swapped", swapped, "第 1 块"),
            ("appended", appended, "未通过认证"),
        ] {
            let path = work.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let opts = RestoreOptions {
                passphrase: Some(pass("pw")),
                ..Default::default()
            };
            let e = restore(&path, &target, opts).await.unwrap_err();
            assert_eq!(code_of(&e), "backup.invalid", "{name}: {e:?}");
            let AppError::Rejected(v) = &e else {
                panic!("{name}: {e:?}")
            };
            assert!(v.zh.contains(expect), "{name}: {}", v.zh);
            assert!(!target.join(custos_store::db_file_name()).exists());
        }

        // The intact file restores.
        let opts = RestoreOptions {
            passphrase: Some(pass("pw")),
            ..Default::default()
        };
        restore(&file, &target, opts).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn format_1_files_still_restore() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let snap = snapshot(work.path(), &key).await;
        let (size, sha256) = hash_file(&snap).unwrap();
        let header = serde_json::json!({
            "format": 1,
            "created_at": "2025-01-01T00:00:00Z",
            "app_version": "0.1.0",
            "size": size,
            "sha256": sha256,
        });
        let mut bytes = format!("{MAGIC} 1\n{header}\n").into_bytes();
        bytes.extend_from_slice(&std::fs::read(&snap).unwrap());
        let file = work.path().join("v1.backup");
        std::fs::write(&file, bytes).unwrap();

        let target = work.path().join("t");
        std::fs::create_dir_all(&target).unwrap();
        key.write_new_file(&target.join(PII_KEY_FILE)).unwrap();
        let report = restore(&file, &target, RestoreOptions::default())
            .await
            .unwrap();
        assert_eq!(report.header.format, 1);
        assert_eq!(report.pii_key, PiiKeyOutcome::Matches);
        // The key id comes from the database's own check value.
        assert_eq!(report.pii_key_id.as_deref(), Some(key.key_id().as_str()));

        // And a format-1 backup is still checked against the key in place.
        let other = work.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        PiiKey::random()
            .write_new_file(&other.join(PII_KEY_FILE))
            .unwrap();
        let e = restore(&file, &other, RestoreOptions::default())
            .await
            .unwrap_err();
        assert_eq!(code_of(&e), "restore.pii_key_mismatch");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pii_key_mismatch_is_refused_unless_forced() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let snap = snapshot(work.path(), &key).await;
        let plain = work.path().join("plain.backup");
        package(&snap, &plain, &key.master(), &key.check_value(), None).unwrap();
        let enc = work.path().join("enc.backup");
        let sealing = Sealing::new(pass("pw").text(), FAST, CHUNK_SIZE).unwrap();
        package(
            &snap,
            &enc,
            &key.master(),
            &key.check_value(),
            Some(&sealing),
        )
        .unwrap();
        let other = PiiKey::random();

        // A different pii.key in the target directory.
        let target = work.path().join("t");
        std::fs::create_dir_all(&target).unwrap();
        other.write_new_file(&target.join(PII_KEY_FILE)).unwrap();
        let e = restore(&plain, &target, RestoreOptions::default())
            .await
            .unwrap_err();
        assert_eq!(code_of(&e), "restore.pii_key_mismatch");
        let AppError::Conflict(v) = &e else {
            panic!("{e:?}")
        };
        assert!(v.zh.contains(&key.key_id()) && v.zh.contains(&other.key_id()));
        assert!(v.en.contains("--force"));
        let enc_opts = |force| RestoreOptions {
            force,
            passphrase: Some(pass("pw")),
            env_key: None,
        };
        let e = restore(&enc, &target, enc_opts(false)).await.unwrap_err();
        assert_eq!(code_of(&e), "restore.pii_key_mismatch");
        assert!(!target.join(custos_store::db_file_name()).exists());

        // Forced: the encrypted backup's key replaces pii.key; the old one is kept.
        let report = restore(&enc, &target, enc_opts(true)).await.unwrap();
        assert_eq!(report.pii_key, PiiKeyOutcome::Replaced);
        let now = PiiKey::load_file(&target.join(PII_KEY_FILE))
            .unwrap()
            .unwrap();
        assert_eq!(now.check_value(), key.check_value());
        let kept: Vec<_> = std::fs::read_dir(&target)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("pii.key.replaced-")
            })
            .collect();
        assert_eq!(kept.len(), 1);

        // A key from the environment is compared the same way, and is never overwritten.
        let env_target = work.path().join("env");
        let with_env = |force| RestoreOptions {
            force,
            passphrase: None,
            env_key: Some(other.clone()),
        };
        let e = restore(&plain, &env_target, with_env(false))
            .await
            .unwrap_err();
        assert_eq!(code_of(&e), "restore.pii_key_mismatch");
        let AppError::Conflict(v) = &e else {
            panic!("{e:?}")
        };
        assert!(v.en.contains("CUSTOS_PII_KEY"));
        let report = restore(&plain, &env_target, with_env(true)).await.unwrap();
        assert_eq!(report.pii_key, PiiKeyOutcome::Mismatch);
        // The matching environment key is fine.
        let ok = RestoreOptions {
            force: true,
            passphrase: None,
            env_key: Some(key.clone()),
        };
        let report = restore(&plain, &env_target, ok).await.unwrap();
        assert_eq!(report.pii_key, PiiKeyOutcome::Matches);
    }
}
