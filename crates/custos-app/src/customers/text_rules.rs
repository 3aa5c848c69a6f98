//! What a customer record's texts may hold, checked before anything else is done with them:
//! the count limits of its lists, then control and invisible characters in every text
//! (tab and line breaks only where the field catalog says the field is multi-line).

use custos_core::text_guard::Lines;
use custos_core::{FieldError, Violation};

use super::checks::check_len;
use super::record::{Draft, MAX_CONTACTS, MAX_FORMER_NAMES, MAX_TAGS};
use crate::fields::{lines_of, FieldDefinition, MAX_CUSTOM_LIST, MAX_CUSTOM_VALUES};
use crate::text_input::push_refused;

fn too_long(field: &str, max: usize, n: usize, zh_what: &str, en_what: &str) -> FieldError {
    Violation::new(
        "list.too_long",
        format!("{zh_what}最多 {max} 个（当前 {n} 个）"),
        format!("at most {max} {en_what} (has {n})"),
    )
    .on(field)
}

/// The lists longer than their limit, counted as given (before duplicates are removed):
/// nothing else is worth doing with a record that breaks one.
pub(super) fn list_limits(rec: &Draft) -> Vec<FieldError> {
    let mut e = Vec::new();
    if rec.tags.len() > MAX_TAGS {
        e.push(too_long("tags", MAX_TAGS, rec.tags.len(), "标签", "tags"));
    }
    if rec.former_names.len() > MAX_FORMER_NAMES {
        e.push(too_long(
            "former_names",
            MAX_FORMER_NAMES,
            rec.former_names.len(),
            "曾用名",
            "former names",
        ));
    }
    if rec.contacts.len() > MAX_CONTACTS {
        e.push(too_long(
            "contacts",
            MAX_CONTACTS,
            rec.contacts.len(),
            "联系人",
            "contacts",
        ));
    }
    e
}

/// Every text of the record holding a refused character, named as validation names it.
pub(super) fn refused_fields(rec: &Draft, custom: &[FieldDefinition]) -> Vec<FieldError> {
    let mut e = Vec::new();
    let mut one = |field: &str, v: Option<&str>| {
        if let Some(v) = v {
            push_refused(field, v, lines_of(field, custom), &mut e);
        }
    };
    one("customer_type", Some(&rec.customer_type));
    one("name", Some(&rec.name));
    one("status", Some(&rec.status));
    macro_rules! optional {
        ($($f:ident),*) => { $( one(stringify!($f), rec.$f.as_deref()); )* };
    }
    with_optional_text_fields!(optional);
    for (i, n) in rec.former_names.iter().enumerate() {
        one(&format!("former_names[{i}]"), Some(n));
    }
    for (i, t) in rec.tags.iter().enumerate() {
        one(&format!("tags[{i}]"), Some(t));
    }
    for (i, c) in rec.contacts.iter().enumerate() {
        one(&format!("contacts[{i}].name"), Some(&c.name));
        one(&format!("contacts[{i}].title"), c.title.as_deref());
        one(&format!("contacts[{i}].mobile"), c.mobile.as_deref());
        one(&format!("contacts[{i}].phone"), c.phone.as_deref());
        one(&format!("contacts[{i}].email"), c.email.as_deref());
    }
    // Over-long custom maps and lists are refused by the catalog check, unread here.
    if rec.custom.len() > MAX_CUSTOM_VALUES {
        return e;
    }
    for (k, v) in &rec.custom {
        let field = format!("custom.{}", custos_core::text_guard::display_safe(k));
        if push_refused(&field, k, Lines::Single, &mut e) {
            continue;
        }
        let lines = lines_of(&field, custom);
        match v {
            serde_json::Value::String(s) => {
                push_refused(&field, s, lines, &mut e);
            }
            serde_json::Value::Array(items) if items.len() <= MAX_CUSTOM_LIST => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = item.as_str() {
                        push_refused(&format!("{field}[{i}]"), s, lines, &mut e);
                    }
                }
            }
            _ => {}
        }
    }
    e
}

/// A multi-line text as typed, tidied line by line, or `None` when empty; length checked.
pub(super) fn multiline_text(
    field: &str,
    value: Option<&str>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = custos_core::normalize::tidy_multiline_text(value?);
    if v.is_empty() {
        return None;
    }
    check_len(field, &v, max, errors);
    Some(v)
}

/// The errors of a record with refused characters: those first, then the others on
/// fields that hold none (a refused text also fails its format check; one error says it).
pub(super) fn refused_first(refused: Vec<FieldError>, others: Vec<FieldError>) -> Vec<FieldError> {
    let fields: std::collections::HashSet<&str> =
        refused.iter().map(|e| e.field.as_str()).collect();
    let kept: Vec<FieldError> = others
        .into_iter()
        .filter(|e| !fields.contains(e.field.as_str()))
        .collect();
    refused.into_iter().chain(kept).collect()
}
