//! Files and directories custos creates: owner-only, whatever the process umask.
//!
//! Everything custos writes holds customer data, keys or both — the SQLite database and
//! its `-wal`/`-shm`, key files, export and upload files, import reports, backups — so
//! files are created 0600 and directories 0700. The umask cannot be set without
//! `unsafe` (forbidden in this workspace), so each creation says its mode; a file that
//! already existed is narrowed to 0600 when it is opened for writing. Every place that
//! creates a file or directory goes through here.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Mode of files custos creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of directories custos creates.
pub const DIR_MODE: u32 = 0o700;

/// Create `dir` and its missing parents, each 0700. Existing directories keep their
/// mode (an operator may have chosen it).
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(DIR_MODE);
    }
    b.create(dir)
}

/// [`create_dir_all`] off the async threads.
pub async fn create_dir_all_async(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || create_dir_all(&dir))
        .await
        .map_err(std::io::Error::other)?
}

fn options(create_new: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true);
    if create_new {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(FILE_MODE);
    }
    o
}

/// Create (or truncate) `path` for writing, mode 0600.
pub fn create(path: &Path) -> std::io::Result<File> {
    let f = options(false).open(path)?;
    narrow(&f)?;
    Ok(f)
}

/// Create `path`, which must not exist yet, mode 0600.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    options(true).open(path)
}

/// Write `bytes` to a new file `path` (it must not exist), mode 0600, and sync it.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = create_new(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Write `bytes` to `path` (created or truncated), mode 0600.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = create(path)?;
    f.write_all(bytes)?;
    f.flush()
}

/// [`create`] for async code.
pub async fn create_async(path: &Path) -> std::io::Result<tokio::fs::File> {
    let f = create(path)?;
    Ok(tokio::fs::File::from_std(f))
}

/// Narrow an existing file at `path` to 0600 (nothing when it does not exist).
pub fn restrict(path: &Path) -> std::io::Result<()> {
    match File::open(path) {
        Ok(f) => narrow(&f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn narrow(f: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if f.metadata()?.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn narrow(_: &File) -> std::io::Result<()> {
    Ok(())
}

/// Before SQLite opens the database at `path`: create it empty with mode 0600 when it
/// does not exist — SQLite gives the `-wal` and `-shm` files it creates the database
/// file's mode — and narrow an existing database and its side files to 0600 (files
/// written by earlier versions were 0644).
pub fn prepare_sqlite_file(path: &Path) -> std::io::Result<()> {
    if path.as_os_str() == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir_all(dir)?;
    }
    match create_new(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => restrict(path)?,
        Err(e) => return Err(e),
    }
    for side in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_os_string();
        p.push(side);
        restrict(Path::new(&p))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_0600_directories_0700_existing_files_narrowed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("f");
        write(&f, b"x").unwrap();
        assert_eq!(mode(&f), 0o600);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&f, b"y").unwrap();
        assert_eq!(mode(&f), 0o600);
        let db = dir.join("c.db");
        std::fs::write(format!("{}-wal", db.display()), b"").unwrap();
        std::fs::set_permissions(
            format!("{}-wal", db.display()),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(Path::new(&format!("{}-wal", db.display()))), 0o600);
        assert!(write_new(&db, b"z").is_err(), "never overwrites");
    }
}
