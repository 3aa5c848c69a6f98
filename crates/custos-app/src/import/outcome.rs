//! How one row ended, and how a row's problems and stored values are reported.

use serde_json::{json, Map, Value};

use custos_core::{FieldError, Violation};

use super::mapping;
use crate::customers::CustomerView;
use crate::error::{AppError, AppResult};

/// How one row ended.
pub(super) enum RowResult {
    Created {
        code: String,
        sample: Option<Value>,
    },
    Updated {
        code: String,
        sample: Option<Value>,
    },
    /// Created as pending with its duplicate group queued (`review`).
    Review {
        code: String,
        detail: Value,
        /// Its group is new in the review queue (not one queued before).
        new_group: bool,
    },
    /// Merged into an existing customer (`merge`).
    Merged {
        code: String,
        sample: Option<Value>,
    },
    Skipped(Value),
    Rejected(Value),
}

pub(super) fn field_errors_json(map: &mapping::ColumnMap, errors: &[FieldError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| {
                json!({
                    "field": e.field,
                    "header": map.header_of_field(&e.field),
                    "code": e.violation.code,
                    "zh": e.violation.zh,
                    "en": e.violation.en,
                })
            })
            .collect(),
    )
}

/// A failure of one row that is not about a field (permission, taken code…).
pub(super) fn row_error(e: &AppError) -> FieldError {
    let lang_zh = e.detail(custos_core::violation::Lang::Zh);
    let lang_en = e.detail(custos_core::violation::Lang::En);
    Violation::new(e.code(), lang_zh, lang_en).on("row")
}

/// Field errors of a failed row; `Err` for failures of the database.
pub(super) fn row_failure(e: AppError) -> AppResult<Vec<FieldError>> {
    match e {
        AppError::Validation(errs) => Ok(errs),
        e @ AppError::Internal(_) => Err(e),
        AppError::Conflict(v) if v.code == "conflict.concurrent" => Err(AppError::Conflict(v)),
        e => Ok(vec![row_error(&e)]),
    }
}

/// Stored values of the mapped columns, by header (sampling file).
pub(super) fn stored_values(view: &CustomerView, map: &mapping::ColumnMap) -> Value {
    let v = serde_json::to_value(view).unwrap_or(Value::Null);
    let mut out = Map::new();
    for (h, t) in map.headers.iter().zip(&map.targets) {
        let Some(t) = t else { continue };
        let stored = if let Some(c) = t.strip_prefix("contact.") {
            v.pointer(&format!("/contacts/0/{c}")).cloned()
        } else if let Some(k) = t.strip_prefix("custom.") {
            v.pointer(&format!("/custom/{k}")).cloned()
        } else if t == "ignore" || t == "source_id" || t == "source_system" {
            None
        } else {
            v.get(t.as_str()).cloned()
        };
        if let Some(s) = stored {
            out.insert(h.clone(), s);
        }
    }
    Value::Object(out)
}
