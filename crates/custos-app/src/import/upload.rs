//! Uploaded import files: received sealed, handed to their job, and tidied at start-up.

use crate::import::Imports;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use custos_store::imports::ImportJobRow;

use super::open::remove_upload;
use super::options::{ImportOptions, StoredOptions};
use super::start::PreparedImport;
use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::to_json;

/// How the names of uploads kept for the mapping step (`staged`) begin; the sweep of
/// unclaimed uploads leaves them to expire on their own.
pub(super) const STAGED_PREFIX: &str = "staged-";

/// A file being uploaded for import: written sealed (see [`crate::sealed`]) into
/// [`Imports::import_upload_dir`] as it arrives, and deleted when dropped unless handed to
/// its job by [`Imports::prepare_upload`] (so a refused form or file leaves nothing behind).
pub struct Upload {
    /// `None` once a job has the file.
    pub(super) path: Option<PathBuf>,
    file: tokio::fs::File,
    /// `None` once the last frame is written.
    sealer: Option<crate::sealed::Sealer>,
    pub(super) file_name: String,
}

impl Upload {
    /// Where the sealed file is (until its job has it).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Append received bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> AppResult<()> {
        use tokio::io::AsyncWriteExt;
        let sealer = self
            .sealer
            .as_mut()
            .ok_or_else(|| AppError::Internal("upload: written to after its end".into()))?;
        let sealed = sealer.push(bytes).map_err(upload_err)?;
        self.file.write_all(&sealed).await.map_err(upload_err)
    }

    /// Write the last frame; the file is complete.
    pub(super) async fn finish(&mut self) -> AppResult<()> {
        use tokio::io::AsyncWriteExt;
        if let Some(sealer) = self.sealer.take() {
            let sealed = sealer.finish().map_err(upload_err)?;
            self.file.write_all(&sealed).await.map_err(upload_err)?;
        }
        self.file.flush().await.map_err(upload_err)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete upload");
                }
            }
        }
    }
}

fn upload_err(e: std::io::Error) -> AppError {
    AppError::Internal(format!("upload: {e}"))
}

impl Imports<'_> {
    /// Start receiving a file for import (`import`), named `file_name` by its sender.
    pub async fn start_upload(&self, actor: &Actor, file_name: &str) -> AppResult<Upload> {
        actor.require("import")?;
        let dir = self.import_upload_dir();
        custos_store::private_files::create_dir_all_async(&dir)
            .await
            .map_err(|e| AppError::Internal(format!("upload dir {}: {e}", dir.display())))?;
        let ext = if file_name.to_lowercase().ends_with(".xlsx") {
            "xlsx"
        } else {
            "csv"
        };
        let path = dir.join(format!(
            "{}-{:08x}.{ext}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            rand::random::<u32>()
        ));
        let file = custos_store::private_files::create_async(&path)
            .await
            .map_err(upload_err)?;
        Ok(Upload {
            path: Some(path),
            file,
            sealer: Some(crate::sealed::Sealer::new(
                &self.app.config.pii_key.file_key(),
            )),
            file_name: file_name.to_string(),
        })
    }

    /// [`Imports::prepare_import`] for an upload: the job owns the sealed file from now on and
    /// deletes it when it ends (done, failed, or a dry run); if the file is refused here
    /// it is deleted at once.
    pub async fn prepare_upload(
        &self,
        actor: &Actor,
        mut upload: Upload,
        mut options: ImportOptions,
    ) -> AppResult<PreparedImport> {
        upload.finish().await?;
        let path = upload.path.clone().unwrap_or_default();
        options.file_name = upload.file_name.clone();
        options.uploaded = true;
        let prepared = self.prepare_file(actor, &path, options).await?;
        upload.path = None;
        Ok(prepared)
    }

    /// Where uploaded import files are kept, sealed, while their jobs run (so they can
    /// be resumed): beside the SQLite database, or the temporary directory on PostgreSQL.
    pub fn import_upload_dir(&self) -> PathBuf {
        match self.app.db.sqlite_path().and_then(Path::parent) {
            Some(dir) => dir.join("imports"),
            None => std::env::temp_dir().join("custos-imports"),
        }
    }

    /// Bring the upload directory to what this version keeps there: only the sealed
    /// files of running jobs. Uploads that earlier versions kept in plaintext are sealed
    /// in place (running jobs) or deleted (ended jobs, after their headers are stored
    /// with the job for its reports); files of ended jobs (a crash between the end and
    /// the deletion) and plaintext files of no job are deleted. Run at start-up.
    /// Returns the files sealed and deleted.
    pub async fn tidy_import_uploads(&self) -> AppResult<(u64, u64)> {
        let dir = self.import_upload_dir();
        let files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(AppError::Internal(format!("{}: {e}", dir.display()))),
        };
        if files.is_empty() {
            return Ok((0, 0));
        }
        let mut tx = self.app.db.begin_read().await?;
        let jobs = tx.import_jobs(None, i64::MAX).await?;
        tx.rollback().await?;
        let mut by_path: HashMap<PathBuf, (ImportJobRow, StoredOptions)> = HashMap::new();
        for job in jobs {
            if let Ok(stored) = serde_json::from_str::<StoredOptions>(&job.options) {
                by_path.insert(stored.path.clone(), (job, stored));
            }
        }
        let key = self.app.config.pii_key.clone();
        let (mut sealed, mut deleted) = (0, 0);
        for path in files {
            // Uploads kept for the mapping step expire on their own (see `staged`).
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(STAGED_PREFIX))
            {
                continue;
            }
            let meta = std::fs::metadata(&path)
                .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
            let is_sealed = crate::sealed::is_sealed(&path)
                .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
            let Some((job, mut stored)) = by_path.remove(&path) else {
                // No job: a plaintext leftover is deleted. A sealed file is left alone:
                // it may be an upload on its way to its job, or another database's (on
                // PostgreSQL the directory is the machine's temporary one).
                if !is_sealed && meta.len() >= 16 {
                    remove_upload(&path).await;
                    deleted += 1;
                }
                continue;
            };
            // Jobs of earlier versions: mark the file as an upload (deleted when the job
            // ends) and keep its headers (its reports need them once the file is gone).
            let mut changed = !stored.options.uploaded;
            stored.options.uploaded = true;
            if stored.headers.is_empty() {
                if let Ok((_, table, _, _)) = self.open_import(&path, &stored.options).await {
                    stored.headers = table.headers;
                    changed = true;
                }
            }
            if changed {
                let text = to_json(&stored).unwrap_or_default();
                let mut tx = self.app.db.begin().await?;
                tx.set_import_job_options(job.id, &text).await?;
                tx.commit().await?;
            }
            if job.status != "running" {
                remove_upload(&path).await;
                deleted += 1;
            } else if !is_sealed {
                let (from, k) = (path.clone(), key.clone());
                tokio::task::spawn_blocking(move || {
                    crate::sealed::seal_file(&from, &from, &k.file_key())
                })
                .await
                .map_err(|e| AppError::Internal(format!("sealing task: {e}")))?
                .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
                sealed += 1;
            }
        }
        if sealed + deleted > 0 {
            tracing::info!(sealed, deleted, "import uploads tidied");
        }
        Ok((sealed, deleted))
    }
}
