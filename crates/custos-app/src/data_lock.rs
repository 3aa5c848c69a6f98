//! Who may use a database at the same time as whom.
//!
//! Every process that works on a database — `custos serve` and the commands that open it
//! — holds a *shared* lock for as long as it runs; a restore holds the *exclusive* one.
//! So a restore refuses while anything uses the database (a process that kept writing
//! into the file being replaced would issue codes the restore cannot know about), and
//! nothing can start while a restore runs. Servers and commands do not exclude each
//! other: SQLite and PostgreSQL coordinate their writes themselves.
//!
//! - SQLite: an OS file lock (`flock`) on `custos.lock` beside the database file. It is
//!   released by the kernel when the process ends, however it ends.
//! - PostgreSQL: a session advisory lock keyed by the schema (see
//!   `Db::try_advisory_lock`), held by a connection of its own; servers on other
//!   machines hold it too.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use custos_core::Violation;
use custos_store::{AdvisoryLock, Db, DbOptions};

use crate::error::{AppError, AppResult};

/// Name of the lock file in the data directory.
pub const LOCK_FILE: &str = "custos.lock";

/// A held lock; dropping it (or ending the process) releases it.
pub struct DataLock {
    _file: Option<File>,
    advisory: Option<AdvisoryLock>,
}

impl DataLock {
    /// Release now (the PostgreSQL connection is closed politely).
    pub async fn release(self) {
        if let Some(a) = self.advisory {
            a.release().await;
        }
    }
}

/// The directory holding the SQLite database of `opts`, where its lock file lives;
/// `None` on PostgreSQL.
pub fn sqlite_dir(opts: &DbOptions) -> Option<PathBuf> {
    match &opts.database_url {
        None => Some(opts.data_dir.clone()),
        Some(url) if url.starts_with("sqlite:") => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let parent = Path::new(path).parent().unwrap_or(Path::new("."));
            Some(if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_path_buf()
            })
        }
        Some(_) => None,
    }
}

fn io_failure(dir: &Path, e: &std::io::Error) -> AppError {
    AppError::Rejected(Violation::new(
        "data_dir.lock_io",
        format!("无法锁定数据目录 {}：{e}", dir.display()),
        format!("cannot lock the data directory {}: {e}", dir.display()),
    ))
}

/// Open (creating, owner-only) the lock file of `dir`.
fn open_lock_file(dir: &Path) -> AppResult<File> {
    std::fs::create_dir_all(dir).map_err(|e| io_failure(dir, &e))?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(dir.join(LOCK_FILE))
        .map_err(|e| io_failure(dir, &e))
}

/// Who holds the lock, as the holder wrote it (`pid purpose`), for the message.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.take(200).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "?".into()
    } else {
        text.to_string()
    }
}

/// Take the shared lock on the SQLite directory `dir` for a process that uses the
/// database. Refused while a restore runs there.
pub fn lock_dir_shared(dir: &Path) -> AppResult<DataLock> {
    let mut file = open_lock_file(dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(DataLock {
            _file: Some(file),
            advisory: None,
        }),
        Err(TryLockError::WouldBlock) => {
            let who = holder(&mut file);
            Err(AppError::Conflict(Violation::new(
                "data_dir.restoring",
                format!(
                    "数据目录 {} 正在恢复备份（{who}），请等恢复完成后再启动",
                    dir.display()
                ),
                format!(
                    "a restore is running in the data directory {} ({who}); start again when it is done",
                    dir.display()
                ),
            )))
        }
        Err(TryLockError::Error(e)) => Err(io_failure(dir, &e)),
    }
}

/// Take the exclusive lock on the SQLite directory `dir` for a restore. Refused while a
/// server or another command uses the database.
pub fn lock_dir_exclusive(dir: &Path) -> AppResult<DataLock> {
    let mut file = open_lock_file(dir)?;
    match file.try_lock() {
        Ok(()) => {
            // For the message of whoever is refused meanwhile; the lock is what counts.
            let _ = file.set_len(0);
            let _ = write!(file, "pid {} restore", std::process::id());
            let _ = file.flush();
            Ok(DataLock {
                _file: Some(file),
                advisory: None,
            })
        }
        Err(TryLockError::WouldBlock) => Err(AppError::Conflict(Violation::new(
            "restore.in_use",
            format!(
                "数据目录 {} 正被运行中的 custos 服务或命令使用：请先停止服务（及导入等命令）再恢复",
                dir.display()
            ),
            format!(
                "the data directory {} is in use by a running custos server or command: stop it (and imports or other commands) before restoring",
                dir.display()
            ),
        ))),
        Err(TryLockError::Error(e)) => Err(io_failure(dir, &e)),
    }
}

/// The lock a process that uses `db` holds for its lifetime: the shared lock of its
/// SQLite directory, or the shared advisory lock on PostgreSQL.
pub async fn lock_for_use(db: &Db, opts: &DbOptions) -> AppResult<DataLock> {
    if let Some(dir) = sqlite_dir(opts) {
        return lock_dir_shared(&dir);
    }
    match db.try_advisory_lock(false).await? {
        Some(advisory) => Ok(DataLock {
            _file: None,
            advisory: Some(advisory),
        }),
        None => Err(AppError::Conflict(Violation::new(
            "database.maintenance",
            "PostgreSQL 数据库正由维护操作独占（例如 custos code resume-after-restore），请等其完成后再启动",
            "a maintenance command holds the PostgreSQL database exclusively (e.g. custos code resume-after-restore); start again when it is done",
        ))),
    }
}

/// The exclusive advisory lock on PostgreSQL, for maintenance that must not run beside a
/// server or command (after `pg_restore`, nothing else holds code issuing back). Refused
/// while any custos process uses the database.
pub async fn lock_pg_exclusive(db: &Db) -> AppResult<DataLock> {
    match db.try_advisory_lock(true).await? {
        Some(advisory) => Ok(DataLock {
            _file: None,
            advisory: Some(advisory),
        }),
        None => Err(AppError::Conflict(Violation::new(
            "database.in_use",
            "有 custos 服务或命令正在使用该 PostgreSQL 数据库：请先停止所有服务再执行",
            "custos servers or commands are using this PostgreSQL database: stop all of them first",
        ))),
    }
}
