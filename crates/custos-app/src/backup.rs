//! Backup and restore of the embedded (SQLite) database.
//!
//! A backup file is a one-line magic, a one-line JSON header (format, time, size, SHA-256
//! of the payload) and the payload: a consistent SQLite snapshot taken online with
//! `VACUUM INTO`. Restore checks magic, checksum, that the payload is a custos database
//! whose audit chain verifies, and only then replaces the target.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use custos_core::Violation;
use custos_store::{ChainReport, Db, DbOptions};

use crate::error::{AppError, AppResult};

const MAGIC: &str = "CUSTOS-BACKUP";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupHeader {
    pub format: u32,
    pub created_at: String,
    pub app_version: String,
    pub size: u64,
    pub sha256: String,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> AppError {
    AppError::Rejected(Violation::new(
        "backup.io",
        format!("{what}失败（{}）：{e}", path.display()),
        format!("{what} failed ({}): {e}", path.display()),
    ))
}

fn bad_file(zh: String, en: String) -> AppError {
    AppError::Rejected(Violation::new("backup.invalid", zh, en))
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

/// Write a backup of `db` to `dest`. Returns the header written.
pub async fn write_backup(db: &Db, dest: &Path) -> AppResult<BackupHeader> {
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
    let header = tokio::task::spawn_blocking(move || package(&snapshot_path, &dest))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    drop(snapshot);
    Ok(header)
}

fn package(snapshot: &Path, dest: &Path) -> AppResult<BackupHeader> {
    let (size, sha256) = hash_file(snapshot)?;
    let header = BackupHeader {
        format: FORMAT,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        size,
        sha256,
    };
    let tmp = dest.with_extension("partial");
    {
        let mut out = std::fs::File::create(&tmp).map_err(|e| io_err("写入备份文件", &tmp, e))?;
        let line = serde_json::to_string(&header).map_err(|e| AppError::Internal(e.to_string()))?;
        write!(out, "{MAGIC} {FORMAT}\n{line}\n").map_err(|e| io_err("写入备份文件", &tmp, e))?;
        let mut input =
            std::fs::File::open(snapshot).map_err(|e| io_err("读取快照", snapshot, e))?;
        std::io::copy(&mut input, &mut out).map_err(|e| io_err("写入备份文件", &tmp, e))?;
        out.sync_all()
            .map_err(|e| io_err("写入备份文件", &tmp, e))?;
    }
    std::fs::rename(&tmp, dest).map_err(|e| io_err("写入备份文件", dest, e))?;
    Ok(header)
}

fn hash_file(path: &Path) -> AppResult<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err("读取文件", path, e))?;
    hash_reader(&mut f).map_err(|e| io_err("读取文件", path, e))
}

fn hash_reader(r: &mut impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Check a backup file and extract its payload into `out`.
fn unpack(file: &Path, out: &Path) -> AppResult<BackupHeader> {
    let f = std::fs::File::open(file).map_err(|e| io_err("读取备份文件", file, e))?;
    let mut reader = BufReader::new(f);
    let mut magic = String::new();
    let foreign = || {
        bad_file(
            format!("{} 不是 custos 备份文件", file.display()),
            format!("{} is not a custos backup file", file.display()),
        )
    };
    // A foreign binary file may have no newline for a long way: cap the line length.
    (&mut reader)
        .take(64)
        .read_line(&mut magic)
        .map_err(|_| foreign())?;
    if magic.trim_end() != format!("{MAGIC} {FORMAT}") {
        return Err(foreign());
    }
    let mut line = String::new();
    (&mut reader)
        .take(4096)
        .read_line(&mut line)
        .map_err(|_| foreign())?;
    let header: BackupHeader = serde_json::from_str(line.trim_end()).map_err(|_| foreign())?;
    let mut out_file = std::fs::File::create(out).map_err(|e| io_err("写入临时文件", out, e))?;
    let mut tee = HashingCopy {
        inner: &mut reader,
        hasher: Sha256::new(),
        size: 0,
    };
    std::io::copy(&mut tee, &mut out_file).map_err(|e| io_err("读取备份文件", file, e))?;
    out_file
        .sync_all()
        .map_err(|e| io_err("写入临时文件", out, e))?;
    let digest = hex::encode(tee.hasher.finalize());
    if tee.size != header.size || digest != header.sha256 {
        return Err(bad_file(
            format!(
                "备份文件已损坏：校验和不符（应为 {}，{} 字节；实为 {digest}，{} 字节）",
                header.sha256, header.size, tee.size
            ),
            format!(
                "the backup file is corrupted: checksum mismatch (expected {}, {} bytes; got {digest}, {} bytes)",
                header.sha256, header.size, tee.size
            ),
        ));
    }
    Ok(header)
}

struct HashingCopy<'a, R> {
    inner: &'a mut R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for HashingCopy<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub header: BackupHeader,
    pub audit_entries: i64,
    pub target: PathBuf,
}

/// Restore `file` into the SQLite database of `data_dir`. Refuses to replace a database
/// that holds users unless `force`. The server must not be running on that directory.
pub async fn restore_backup(file: &Path, data_dir: &Path, force: bool) -> AppResult<RestoreReport> {
    std::fs::create_dir_all(data_dir).map_err(|e| io_err("创建数据目录", data_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".custos-restore-")
        .tempdir_in(data_dir)
        .map_err(|e| io_err("创建临时目录", data_dir, e))?;
    let staged_db = staging.path().join(custos_store::db_file_name());
    let (file_c, staged_c) = (file.to_path_buf(), staged_db.clone());
    let header = tokio::task::spawn_blocking(move || unpack(&file_c, &staged_c))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;

    // Open the staged copy: it must be a custos database whose audit chain holds.
    let staged = Db::open(&DbOptions::sqlite(staging.path()))
        .await
        .map_err(|e| {
            bad_file(
                format!("备份内容不是有效的 custos 数据库：{e}"),
                format!("the backup does not contain a valid custos database: {e}"),
            )
        })?;
    let mut tx = staged.begin_read().await?;
    let has_users = tx.count_users().await.is_ok();
    let chain = tx.verify_audit_chain().await;
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

    let target = data_dir.join(custos_store::db_file_name());
    if target.exists() && !force {
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
    }
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        if side.exists() {
            std::fs::remove_file(&side).map_err(|e| io_err("删除旧日志文件", &side, e))?;
        }
    }
    std::fs::rename(&staged_db, &target).map_err(|e| io_err("替换数据库文件", &target, e))?;
    Ok(RestoreReport {
        header,
        audit_entries: entries,
        target,
    })
}
