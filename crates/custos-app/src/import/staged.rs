//! Uploads kept between the steps of the import wizard: received once, mapped, dry run
//! any number of times and then run, without choosing the file again. A kept upload is
//! sealed like any upload, belongs to the user who sent it, is handed to its job by the
//! run and is deleted after [`STAGED_SECONDS`] when no job took it.

use crate::import::Imports;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::mapping::{self, BUILTIN_COLUMNS};
use super::open::remove_upload;
use super::options::ImportOptions;
use super::source::{self, FileFormat};
use super::start::PreparedImport;
use super::upload::{Upload, STAGED_PREFIX as PREFIX};
use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::to_json;

/// How long a kept upload waits for its run.
pub const STAGED_SECONDS: u64 = 2 * 3600;
/// Distinct values of a column offered for a value map (more: the column gets none).
pub const MAX_VALUE_CHOICES: usize = 20;
/// Data rows read to find a column's distinct values (bounded work per page).
const SCANNED_ROWS: usize = 2_000;

/// What is kept beside a staged file: its owner and the options of its upload form.
#[derive(Serialize, Deserialize)]
struct StagedMeta {
    user_id: i64,
    options: ImportOptions,
}

/// A column of a kept upload: its header, the target preselected for it and its
/// distinct values (for a value map; empty when there are more than
/// [`MAX_VALUE_CHOICES`]).
#[derive(Debug, Clone)]
pub struct StagedColumn {
    pub header: String,
    pub target: Option<String>,
    pub values: Vec<String>,
}

/// A field a column can be mapped to, with its labels and, for a select field, the
/// allowed values as (stored value, Chinese label, English label).
#[derive(Debug, Clone)]
pub struct MappingTarget {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub allowed: Vec<(String, String, String)>,
}

/// A kept upload as the mapping step shows it.
#[derive(Debug, Clone)]
pub struct StagedUpload {
    pub token: String,
    pub options: ImportOptions,
    pub format: String,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    pub header_row: u64,
    pub columns: Vec<StagedColumn>,
    pub targets: Vec<MappingTarget>,
}

fn staged_err(e: std::io::Error) -> AppError {
    AppError::Internal(format!("kept upload: {e}"))
}

fn targets_of(
    types: &[crate::customers::CustomerType],
    custom: &[crate::fields::FieldDefinition],
) -> Vec<MappingTarget> {
    let builtin = crate::fields::builtin_fields();
    let mut out: Vec<MappingTarget> = BUILTIN_COLUMNS
        .iter()
        .map(|(key, aliases)| {
            let def = builtin.iter().find(|d| d.key == *key);
            let label_zh = aliases.first().copied().unwrap_or(key).to_string();
            let label_en = def.map_or(key.to_string(), |d| d.label_en.clone());
            let allowed = match *key {
                "customer_type" => types
                    .iter()
                    .map(|t| (t.label_zh.clone(), t.label_zh.clone(), t.label_en.clone()))
                    .collect(),
                "scale" => crate::customers::record::SCALES
                    .iter()
                    .map(|(k, zh, en)| (k.to_string(), zh.to_string(), en.to_string()))
                    .collect(),
                _ => def
                    .map(|d| {
                        d.allowed_values
                            .iter()
                            .map(|v| (v.clone(), v.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            MappingTarget {
                key: key.to_string(),
                label_zh,
                label_en,
                allowed,
            }
        })
        .collect();
    out.extend(custom.iter().map(|d| {
        MappingTarget {
            key: format!("custom.{}", d.key),
            label_zh: d.label_zh.clone(),
            label_en: d.label_en.clone(),
            allowed: d
                .allowed_values
                .iter()
                .map(|v| (v.clone(), v.clone(), v.clone()))
                .collect(),
        }
    }));
    out
}

impl Imports<'_> {
    fn staged_paths(&self, user_id: i64, token: &str) -> (PathBuf, PathBuf) {
        let dir = self.import_upload_dir();
        (
            dir.join(format!("{PREFIX}{user_id}-{token}.upload")),
            dir.join(format!("{PREFIX}{user_id}-{token}.json")),
        )
    }

    /// Delete kept uploads older than [`STAGED_SECONDS`] (of every user).
    async fn sweep_staged(&self) {
        let Ok(entries) = std::fs::read_dir(self.import_upload_dir()) else {
            return;
        };
        let limit = std::time::Duration::from_secs(STAGED_SECONDS);
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if !name.starts_with(PREFIX) || !name.ends_with(".json") {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > limit);
            if old {
                remove_upload(&path.with_extension("upload")).await;
                remove_upload(&path).await;
            }
        }
    }

    /// Keep an upload for the mapping step (`import`): the file is checked (it opens
    /// and has a header) and kept for its sender; returns its token.
    pub async fn stage_upload(
        &self,
        actor: &Actor,
        mut upload: Upload,
        mut options: ImportOptions,
    ) -> AppResult<String> {
        actor.require("import")?;
        self.sweep_staged().await;
        upload.finish().await?;
        let from = upload.path.clone().unwrap_or_default();
        let token = format!("{:032x}", rand::random::<u128>());
        let (file, meta) = self.staged_paths(actor.user_id, &token);
        tokio::fs::rename(&from, &file).await.map_err(staged_err)?;
        upload.path = None;
        options.file_name = upload.file_name.clone();
        options.dry_run = false;
        options.uploaded = false;
        let text = to_json(&StagedMeta {
            user_id: actor.user_id,
            options,
        })
        .unwrap_or_default();
        let mut f = custos_store::private_files::create_async(&meta)
            .await
            .map_err(staged_err)?;
        {
            use tokio::io::AsyncWriteExt;
            f.write_all(text.as_bytes()).await.map_err(staged_err)?;
            f.flush().await.map_err(staged_err)?;
        }
        if let Err(e) = self.staged_upload(actor, &token).await {
            self.drop_staged(actor, &token).await;
            return Err(e);
        }
        Ok(token)
    }

    /// The kept file and its options, if the token is the caller's and has not expired.
    async fn staged_meta(&self, actor: &Actor, token: &str) -> AppResult<(PathBuf, StagedMeta)> {
        actor.require("import")?;
        let missing = || AppError::not_found("import_upload", token);
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(missing());
        }
        let (file, meta_path) = self.staged_paths(actor.user_id, token);
        let text = match tokio::fs::read_to_string(&meta_path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
            Err(e) => return Err(staged_err(e)),
        };
        let expired = std::fs::metadata(&meta_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age.as_secs() > STAGED_SECONDS);
        let meta: StagedMeta = serde_json::from_str(&text)
            .map_err(|e| AppError::Internal(format!("kept upload unreadable: {e}")))?;
        if expired || meta.user_id != actor.user_id || !Path::new(&file).exists() {
            if expired {
                self.drop_staged(actor, token).await;
            }
            return Err(missing());
        }
        Ok((file, meta))
    }

    /// Forget a kept upload (its file and its options).
    pub async fn drop_staged(&self, actor: &Actor, token: &str) {
        let (file, meta) = self.staged_paths(actor.user_id, token);
        remove_upload(&file).await;
        remove_upload(&meta).await;
    }

    /// A kept upload of the caller for the mapping step: what was detected, each column
    /// with its preselected target and distinct values, and the fields to map to.
    pub async fn staged_upload(&self, actor: &Actor, token: &str) -> AppResult<StagedUpload> {
        let (file, meta) = self.staged_meta(actor, token).await?;
        let (facts, mut table, types, custom) = self.open_source(&file, &meta.options).await?;
        let spec = &meta.options.mapping;
        let columns_spec: Vec<(String, String)> = spec
            .columns
            .iter()
            .map(|(h, t)| (source::header_key(h), t.clone()))
            .collect();
        let targets: Vec<Option<String>> = table
            .headers
            .iter()
            .map(|h| {
                let k = source::header_key(h);
                columns_spec
                    .iter()
                    .find(|(c, _)| *c == k)
                    .map(|(_, t)| t.clone())
                    .or_else(|| mapping::auto_target(h, &custom))
            })
            .collect();
        let map = mapping::ColumnMap::new(
            table.headers.clone(),
            spec.clone(),
            types.clone(),
            custom.clone(),
        )
        .ok();
        let mut seen: Vec<Option<BTreeSet<String>>> =
            vec![Some(BTreeSet::new()); table.headers.len()];
        let mut n = 0;
        while let Some(row) = table.rows.recv().await {
            let row = row?;
            if n == 0
                && map
                    .as_ref()
                    .is_some_and(|m| m.is_template_help_row(&row.cells))
            {
                continue;
            }
            n += 1;
            for (i, c) in row.cells.iter().enumerate() {
                let Some(Some(set)) = seen.get_mut(i) else {
                    continue;
                };
                let c = c.trim();
                if !c.is_empty() {
                    set.insert(c.to_string());
                }
                if set.len() > MAX_VALUE_CHOICES {
                    seen[i] = None;
                }
            }
            if n >= SCANNED_ROWS {
                break;
            }
        }
        let columns = table
            .headers
            .iter()
            .zip(targets)
            .zip(seen)
            .map(|((h, target), values)| StagedColumn {
                header: h.clone(),
                target,
                values: values.map(|s| s.into_iter().collect()).unwrap_or_default(),
            })
            .collect();
        Ok(StagedUpload {
            token: token.to_string(),
            format: match facts.format {
                FileFormat::Csv => "csv".into(),
                FileFormat::Xlsx => "xlsx".into(),
            },
            encoding: facts.encoding.map(|e| e.as_str().to_string()),
            delimiter: facts
                .encoding
                .map(|_| source::delimiter_name(facts.delimiter).to_string()),
            sheet: table.sheet.clone(),
            header_row: table.header_line,
            columns,
            targets: targets_of(&types, &custom),
            options: meta.options,
        })
    }

    /// Prepare a kept upload with the mapping and choices of the mapping step. A dry run
    /// leaves the file kept (to run next); a run hands it to its job, which deletes it
    /// when it ends. The file's reading options are those of its upload.
    pub async fn prepare_staged(
        &self,
        actor: &Actor,
        token: &str,
        choices: ImportOptions,
    ) -> AppResult<PreparedImport> {
        let (file, meta) = self.staged_meta(actor, token).await?;
        let options = ImportOptions {
            mapping: choices.mapping,
            policy: choices.policy,
            dry_run: choices.dry_run,
            sample_rate: choices.sample_rate,
            uploaded: !choices.dry_run,
            ..meta.options
        };
        let prepared = self.prepare_file(actor, &file, options).await?;
        if prepared.job_id().is_some() {
            // The job owns the file now: only the kept options go.
            let (_, meta_path) = self.staged_paths(actor.user_id, token);
            remove_upload(&meta_path).await;
        }
        Ok(prepared)
    }
}
