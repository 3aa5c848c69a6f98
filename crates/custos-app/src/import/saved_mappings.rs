//! Mappings of the import wizard saved by name: each user keeps their own (permission
//! `import`), to pick on a later upload of a file with the same columns.

use crate::import::Imports;
use custos_core::Violation;
use custos_store::imports::ImportMappingRow;

use super::mapping::MappingSpec;
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};

/// Saved mappings a user may keep.
pub const MAX_SAVED_MAPPINGS: i64 = 100;
const MAX_NAME_CHARS: usize = 64;

fn checked_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::validation(
            "mapping_name",
            Violation::new(
                "import.mapping_name",
                format!("映射名称须为 1–{MAX_NAME_CHARS} 个字符"),
                format!("a mapping name has 1–{MAX_NAME_CHARS} characters"),
            ),
        ));
    }
    Ok(name.to_string())
}

impl Imports<'_> {
    /// Save the caller's mapping under `name` (replacing one of that name); audited.
    pub async fn save_import_mapping(
        &self,
        actor: &Actor,
        name: &str,
        spec: MappingSpec,
    ) -> AppResult<()> {
        actor.require("import")?;
        let name = checked_name(name)?;
        let spec = spec.checked()?;
        let text = serde_json::to_string(&spec)
            .map_err(|e| AppError::Internal(format!("mapping json: {e}")))?;
        let mut tx = self.app.db.begin().await?;
        let names = tx
            .import_mappings(actor.user_id, MAX_SAVED_MAPPINGS + 1)
            .await?;
        if names.len() as i64 >= MAX_SAVED_MAPPINGS && !names.iter().any(|m| m.name == name) {
            tx.rollback().await?;
            return Err(AppError::validation(
                "mapping_name",
                Violation::new(
                    "import.mapping_limit",
                    format!("最多保存 {MAX_SAVED_MAPPINGS} 个映射"),
                    format!("at most {MAX_SAVED_MAPPINGS} mappings are kept"),
                ),
            ));
        }
        let row = ImportMappingRow {
            name: name.clone(),
            spec: text.clone(),
            updated_at: custos_store::now_us(),
        };
        tx.save_import_mapping(actor.user_id, &row).await?;
        let mut r = record(actor, "import.mapping_saved", "import_mapping", &name);
        r.after = Some(text);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The names of the caller's saved mappings, in name order.
    pub async fn import_mapping_names(&self, actor: &Actor) -> AppResult<Vec<String>> {
        actor.require("import")?;
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx
            .import_mappings(actor.user_id, MAX_SAVED_MAPPINGS)
            .await?;
        tx.rollback().await?;
        Ok(rows.into_iter().map(|m| m.name).collect())
    }

    /// The caller's mapping saved as `name`.
    pub async fn saved_import_mapping(&self, actor: &Actor, name: &str) -> AppResult<MappingSpec> {
        actor.require("import")?;
        let mut tx = self.app.db.begin_read().await?;
        let row = tx.import_mapping(actor.user_id, name.trim()).await?;
        tx.rollback().await?;
        let row = row.ok_or_else(|| AppError::not_found("import_mapping", name))?;
        serde_json::from_str(&row.spec)
            .map_err(|e| AppError::Internal(format!("saved mapping {name}: {e}")))
    }
}
