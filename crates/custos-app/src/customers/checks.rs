//! Checks of single values shared by every validation of a customer: required, length,
//! normalised text, core-parsed identifiers, closed lists and dates. Each reports into
//! the caller's list of errors so that all failures are collected.

use chrono::NaiveDate;

use custos_core::normalize::{normalize_text, tidy_text};
use custos_core::{FieldError, Violation};

/// The built-in field `field` has no value; the messages name it by its catalog label.
pub(super) fn required_builtin(field: &str, errors: &mut Vec<FieldError>) {
    let (zh, en) = crate::fields::builtin_labels(field)
        .map(|(zh, en)| (zh.as_str(), en.as_str()))
        .unwrap_or((field, field));
    required(field, zh, en, errors);
}

/// `field` has no value; the messages name it by its label (`zh`, `en`) and its key.
pub(super) fn required(field: &str, zh: &str, en: &str, errors: &mut Vec<FieldError>) {
    errors.push(
        Violation::new(
            "required",
            format!("{zh}为必填项（{field}）"),
            format!("{en} is required ({field})"),
        )
        .on(field),
    );
}

/// A short preview of an offending value for messages.
fn preview(v: &str) -> String {
    if v.chars().count() > 24 {
        format!("{}…", v.chars().take(24).collect::<String>())
    } else {
        v.to_string()
    }
}

pub(super) fn check_len(field: &str, v: &str, max: usize, errors: &mut Vec<FieldError>) {
    let n = v.chars().count();
    if n > max {
        errors.push(
            Violation::new(
                "length.max",
                format!(
                    "字段“{field}”不能超过 {max} 个字符（当前 {n} 个：{}）",
                    preview(v)
                ),
                format!(
                    "field '{field}' must not exceed {max} characters (has {n}: {})",
                    preview(v)
                ),
            )
            .on(field),
        );
    }
}

/// A name or free text as typed (full-width brackets and punctuation kept, see
/// [`tidy_text`]) or `None` when empty; length checked.
pub(super) fn typed_text(
    field: &str,
    value: Option<&str>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    cleaned(field, value, max, errors, tidy_text)
}

/// Normalised text (a classification such as a level, compared for equality) or `None`
/// when empty; length checked.
pub(super) fn text(
    field: &str,
    value: Option<&str>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    cleaned(field, value, max, errors, normalize_text)
}

/// `value` cleaned by `clean`, `None` when empty; length checked.
fn cleaned(
    field: &str,
    value: Option<&str>,
    max: usize,
    errors: &mut Vec<FieldError>,
    clean: fn(&str) -> String,
) -> Option<String> {
    let v = clean(value?);
    if v.is_empty() {
        return None;
    }
    check_len(field, &v, max, errors);
    Some(v)
}

/// Texts of a list as typed, each checked like [`typed_text`], repeats removed (first kept).
pub(super) fn typed_text_list(
    field: &str,
    items: &[String],
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let texts = items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| typed_text(&format!("{field}[{i}]"), Some(t), max, errors));
    custos_core::lists::dedup_keep_first(texts)
}

/// Normalised texts of a list (tags), each checked like [`text`], repeats removed (first kept).
pub(super) fn text_list(
    field: &str,
    items: &[String],
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let texts = items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| text(&format!("{field}[{i}]"), Some(t), max, errors));
    custos_core::lists::dedup_keep_first(texts)
}

/// Parse with a core validator into its canonical text.
pub(super) fn parsed<T>(
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, Violation>,
    canon: impl Fn(&T) -> String,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    parsed_as(field, value, parse, errors).map(|t| canon(&t))
}

/// Parse with a core validator into its type (`None` when empty or refused).
pub(super) fn parsed_as<T>(
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, Violation>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let v = value.map(str::trim).filter(|s| !s.is_empty())?;
    match parse(v) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(e.on(field));
            None
        }
    }
}

pub(super) fn one_of(
    field: &str,
    value: Option<&str>,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = normalize_text(value?).to_lowercase();
    if v.is_empty() {
        return None;
    }
    if !allowed.contains(&v.as_str()) {
        errors.push(
            Violation::new(
                "value.not_allowed",
                format!(
                    "字段“{field}”的取值“{v}”不在允许范围内：{}",
                    allowed.join("、")
                ),
                format!(
                    "field '{field}' value '{v}' is not allowed; choose one of {}",
                    allowed.join(", ")
                ),
            )
            .on(field),
        );
        return None;
    }
    Some(v)
}

pub(super) fn parse_date(
    field: &str,
    value: Option<&str>,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let raw = normalize_text(value?);
    if raw.is_empty() {
        return None;
    }
    let v = raw.replace(['/', '.'], "-");
    match NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
        Ok(d) if d > today => {
            errors.push(
                Violation::new(
                    "date.future",
                    format!("字段“{field}”的日期不能晚于今天（{raw}）"),
                    format!("field '{field}' must not be a future date ({raw})"),
                )
                .on(field),
            );
            None
        }
        Ok(d) if d < NaiveDate::from_ymd_opt(1800, 1, 1).unwrap_or(d) => {
            errors.push(
                Violation::new(
                    "date.range",
                    format!("字段“{field}”的日期早于 1800 年（{raw}）"),
                    format!("field '{field}' is before 1800 ({raw})"),
                )
                .on(field),
            );
            None
        }
        Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
        Err(_) => {
            errors.push(
                Violation::new(
                    "date.format",
                    format!("字段“{field}”不是有效日期，应为 YYYY-MM-DD（{raw}）"),
                    format!("field '{field}' is not a valid date YYYY-MM-DD ({raw})"),
                )
                .on(field),
            );
            None
        }
    }
}
