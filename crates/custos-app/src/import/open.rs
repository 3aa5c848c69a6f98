//! Opening what a job works on: its file (checked and mapped) and its stored row; and
//! deleting an upload once its job has ended.

use crate::import::Imports;
use std::path::Path;

use custos_store::imports::ImportJobRow;

use super::mapping;
use super::options::ImportOptions;
use super::source::{self, FileFormat};
use crate::actor::{Actor, Scope};
use crate::error::{AppError, AppResult};

/// Delete an upload that may already be gone (failures are logged; the start-up
/// tidying tries again).
pub(super) async fn remove_upload(path: &Path) {
    crate::sealed::remove_kept_file(path, "upload").await
}

/// Take the template's help row off the front of the table's rows; returns its line. A
/// first row that is data is put back in front of the others.
async fn skip_template_help_row(
    table: &mut source::Table,
    map: &mapping::ColumnMap,
) -> Option<u64> {
    let first = table.rows.recv().await?;
    if let Ok(r) = &first {
        if map.is_template_help_row(&r.cells) {
            return Some(r.line);
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let mut rest = std::mem::replace(&mut table.rows, rx);
    tokio::spawn(async move {
        if tx.send(first).await.is_err() {
            return;
        }
        while let Some(r) = rest.recv().await {
            if tx.send(r).await.is_err() {
                return;
            }
        }
    });
    None
}

impl Imports<'_> {
    /// Open a job's file: its facts, its rows after the header (without the template's
    /// help row, whose line is returned when the file has one) and its column map.
    pub(super) async fn open_import(
        &self,
        path: &Path,
        options: &ImportOptions,
    ) -> AppResult<(
        source::FileFacts,
        source::Table,
        mapping::ColumnMap,
        Option<u64>,
    )> {
        let spec = options.mapping.clone();
        let (facts, mut table, types, custom) = self.open_source(path, options).await?;
        let map = mapping::ColumnMap::new(table.headers.clone(), spec, types, custom)?;
        let help_row = skip_template_help_row(&mut table, &map).await;
        Ok((facts, table, map, help_row))
    }

    /// Open a file as a table (its facts, header and rows), with the customer types and
    /// custom fields its columns are mapped against.
    pub(super) async fn open_source(
        &self,
        path: &Path,
        options: &ImportOptions,
    ) -> AppResult<(
        source::FileFacts,
        source::Table,
        Vec<crate::customers::CustomerType>,
        Vec<crate::fields::FieldDefinition>,
    )> {
        let p = path.to_path_buf();
        let named_xlsx = [options.file_name.as_str(), &path.to_string_lossy()]
            .iter()
            .any(|n| n.to_ascii_lowercase().ends_with(".xlsx"));
        let format = options.format.or(named_xlsx.then_some(FileFormat::Xlsx));
        let encoding = options.encoding;
        let delimiter = options.delimiter;
        let key = self.app.config.pii_key.clone();
        let limits = self.app.config.import_limits;
        let facts = tokio::task::spawn_blocking(move || {
            source::inspect(&p, &key, format, encoding, delimiter, &limits)
        })
        .await
        .map_err(|e| AppError::Internal(format!("file check stopped: {e}")))??;
        let mut tx = self.app.db.begin_read().await?;
        let types = crate::customers::load_customer_types(&mut tx).await?;
        let custom = crate::fields::load_definitions(&mut tx).await?;
        tx.rollback().await?;
        let spec = options.mapping.clone();
        let known = {
            let (spec, custom) = (spec.clone(), custom.clone());
            move |h: &str| mapping::is_known_header(h, &spec, &custom)
        };
        let table = source::open_table(
            path,
            &self.app.config.pii_key,
            &facts,
            options.sheet.as_deref(),
            &self.app.config.import_limits,
            known,
        )
        .await?;
        Ok((facts, table, types, custom))
    }

    /// A job of the caller (or any job for a caller with the `import` permission on all
    /// data); others' jobs look missing.
    pub(super) async fn import_job_row(
        &self,
        actor: &Actor,
        job_id: i64,
    ) -> AppResult<ImportJobRow> {
        let scope = actor.require("import")?;
        let mut tx = self.app.db.begin_read().await?;
        let job = tx.import_job(job_id).await?;
        tx.rollback().await?;
        match job {
            Some(j) if scope == Scope::All || j.created_by == Some(actor.user_id) => Ok(j),
            _ => Err(AppError::not_found("import_job", job_id)),
        }
    }
}
