//! Refusing control and invisible characters in the inputs of use cases, before anything
//! reaches the database (PostgreSQL answers a NUL with an error) or a log, an export or an
//! audit entry (where BEL, ESC and bidi overrides do harm). The rules are
//! [`custos_core::text_guard`]'s; this module applies them to commands. The web layer
//! checks every request string too, but the CLI, the importer and programs call the use
//! cases directly.

use serde::Serialize;

use custos_core::text_guard::{self, Lines};
use custos_core::FieldError;

use crate::error::{AppError, AppResult};

/// Push an error when `s` holds a character a field of `lines` may not; true when it did.
pub(crate) fn push_refused(
    field: &str,
    s: &str,
    lines: Lines,
    errors: &mut Vec<FieldError>,
) -> bool {
    match text_guard::check_text(field, s, lines) {
        Ok(()) => false,
        Err(e) => {
            errors.push(e);
            true
        }
    }
}

/// Refuse the command when one of the single-line `fields` (name, value) holds a refused
/// character; every such field is named.
pub(crate) fn refuse_single_line<'a, F: AsRef<str>>(
    fields: impl IntoIterator<Item = (F, Option<&'a str>)>,
) -> AppResult<()> {
    let mut errors = Vec::new();
    for (field, value) in fields {
        if let Some(v) = value {
            push_refused(field.as_ref(), v, Lines::Single, &mut errors);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Refuse a command (any serialisable input) when one of its strings or object keys
/// holds a refused character, each named by its path under `root` (`""` for top-level
/// names). Tab and line breaks are left to the field's own rules.
pub(crate) fn refuse_in<T: Serialize + ?Sized>(root: &str, input: &T) -> AppResult<()> {
    let value = serde_json::to_value(input)
        .map_err(|e| AppError::Internal(format!("input not serialisable: {e}")))?;
    refuse_in_value(root, &value)
}

/// [`refuse_in`] for a JSON value.
pub(crate) fn refuse_in_value(root: &str, value: &serde_json::Value) -> AppResult<()> {
    let mut errors = Vec::new();
    text_guard::check_json(root, value, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}
