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

/// A reason or comment: several lines allowed (CRLF kept as LF), no control or invisible
/// format characters.
pub(crate) fn clean_text(
    field: &str,
    v: Option<&str>,
    max: usize,
) -> crate::error::AppResult<Option<String>> {
    if let Some(v) = v {
        custos_core::text_guard::check_text(field, v, custos_core::text_guard::Lines::Multi)
            .map_err(|e| crate::error::AppError::Validation(vec![e]))?;
    }
    let v = v.map(custos_core::text_guard::lf_line_breaks);
    let Some(v) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(crate::error::AppError::validation(
            field,
            custos_core::Violation::new(
                "text.too_long",
                format!("{field} 最多 {max} 个字"),
                format!("{field}: at most {max} characters"),
            ),
        ));
    }
    Ok(Some(v.to_string()))
}

/// A reason that must be given: [`clean_text`], and missing or blank is refused.
pub(crate) fn required_reason(v: &str) -> crate::error::AppResult<String> {
    clean_text("reason", Some(v), 500)?.ok_or_else(|| {
        crate::error::AppError::validation(
            "reason",
            custos_core::Violation::new("reason.required", "请填写原因", "a reason is required"),
        )
    })
}
