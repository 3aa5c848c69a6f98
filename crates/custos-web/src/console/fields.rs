//! `/fields` (字段目录): the catalog of built-in and custom fields, and `/fields/new`,
//! `/fields/{key}/edit`: a custom field added or changed by `PUT /api/v1/fields`'s use
//! case. Before a change is saved its effect on existing customers is shown (how many
//! would miss a now-required value or hold a value the new definition refuses); a save
//! that would break customers asks to be confirmed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use custos_app::field_effect::{FieldCatalog, FieldEffect};
use custos_app::fields::{FieldDefinition, FieldType};
use custos_app::{AppError, Input};
use custos_core::violation::{FieldError, Lang};
use custos_core::Violation;

use super::flows::Choice;
use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::AppState;

/// Custom field types an administrator may choose.
const CUSTOM_TYPES: &[&str] = &[
    "text",
    "number",
    "date",
    "single_select",
    "multi_select",
    "boolean",
];

fn type_key(t: FieldType) -> &'static str {
    match t {
        FieldType::Text => "text",
        FieldType::Number => "number",
        FieldType::Date => "date",
        FieldType::SingleSelect => "single_select",
        FieldType::MultiSelect => "multi_select",
        FieldType::Boolean => "boolean",
        FieldType::TextList => "text_list",
        FieldType::Contacts => "contacts",
    }
}

fn type_label(lang: Lang, t: &str) -> String {
    t_owned(lang, &format!("fields.type_{t}"))
}

fn t_owned(lang: Lang, key: &str) -> String {
    t(lang, key).to_string()
}

struct FieldItem {
    key: String,
    label_zh: String,
    label_en: String,
    type_label: String,
    length: String,
    pattern: String,
    allowed: String,
    required_for: String,
    pii: bool,
    major: bool,
    help: String,
    builtin: bool,
    edit_href: String,
}

#[derive(Template)]
#[template(path = "console/fields/list.html")]
struct ListPage {
    chrome: Chrome,
    items: Vec<FieldItem>,
    saved: Option<String>,
    /// Keys the standard-fields button just added.
    standard: Option<String>,
}

fn type_names(cat: &FieldCatalog, lang: Lang, keys: &[String]) -> String {
    keys.iter()
        .map(|k| match k.as_str() {
            "*" => t_owned(lang, "fields.all_types"),
            k => cat
                .customer_types
                .iter()
                .find(|c| c.key == k)
                .map(|c| match lang {
                    Lang::Zh => c.label_zh.clone(),
                    Lang::En => c.label_en.clone(),
                })
                .unwrap_or_else(|| k.to_string()),
        })
        .collect::<Vec<_>>()
        .join("、")
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    standard: Option<String>,
}

/// `GET /fields` (`field.manage`).
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Response {
    let chrome = Chrome::new(&viewer, "/fields", "fields.title");
    let cat = match state.app.fields().field_catalog(&viewer.actor).await {
        Ok(c) => c,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let lang = viewer.lang;
    let items = cat
        .fields
        .iter()
        .map(|f| FieldItem {
            key: f.key.clone(),
            label_zh: f.label_zh.clone(),
            label_en: f.label_en.clone(),
            type_label: type_label(lang, type_key(f.field_type)),
            length: f.max_length.map(|n| n.to_string()).unwrap_or_default(),
            pattern: f.pattern.clone().unwrap_or_default(),
            allowed: f.allowed_values.join("、"),
            required_for: type_names(&cat, lang, &f.required_for),
            pii: f.pii,
            major: f.major,
            help: match lang {
                Lang::Zh => f.help_zh.clone(),
                Lang::En => f.help_en.clone(),
            }
            .unwrap_or_default(),
            builtin: f.builtin,
            edit_href: format!("/fields/{}/edit", encode_component(&f.key)),
        })
        .collect();
    let page = ListPage {
        chrome,
        items,
        saved: q.saved,
        standard: q.standard,
    };
    render(StatusCode::OK, &page)
}

struct EffectView {
    total: i64,
    missing: Vec<(String, i64)>,
    refused: i64,
    examples: Vec<(String, String)>,
    capped: bool,
    values_capped: bool,
}

#[derive(Template)]
#[template(path = "console/fields/form.html")]
struct FormPage {
    chrome: Chrome,
    is_new: bool,
    action: String,
    key: String,
    label_zh: String,
    label_en: String,
    types: Vec<Choice>,
    max_length: String,
    multiline: bool,
    pattern: String,
    allowed_values: String,
    min: String,
    max: String,
    required_for: Vec<Choice>,
    help_zh: String,
    help_en: String,
    errors: Vec<(String, String)>,
    messages: Vec<String>,
    effect: Option<EffectView>,
    /// The effect breaks customers: saving needs the confirmation, which names these
    /// values by their fingerprint.
    confirm: Option<String>,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// A definition's values as the form shows them (typed strings).
#[derive(Debug)]
struct Values {
    key: String,
    label_zh: String,
    label_en: String,
    field_type: String,
    max_length: String,
    multiline: bool,
    pattern: String,
    allowed_values: String,
    min: String,
    max: String,
    required_for: Vec<String>,
    help_zh: String,
    help_en: String,
}

/// What a confirmation of "save anyway" answers for: the values whose effect was shown.
/// A form changed after the check carries another fingerprint and is checked again.
fn fingerprint(v: &Values) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{v:?}").as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn num<T: ToString>(v: Option<T>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn values_of(d: &FieldDefinition) -> Values {
    Values {
        key: d.key.clone(),
        label_zh: d.label_zh.clone(),
        label_en: d.label_en.clone(),
        field_type: type_key(d.field_type).into(),
        max_length: num(d.max_length),
        multiline: d.multiline,
        pattern: d.pattern.clone().unwrap_or_default(),
        allowed_values: d.allowed_values.join("\n"),
        min: num(d.min),
        max: num(d.max),
        required_for: d.required_for.clone(),
        help_zh: d.help_zh.clone().unwrap_or_default(),
        help_en: d.help_en.clone().unwrap_or_default(),
    }
}

fn values_posted(p: &Posted, key: Option<&str>) -> Values {
    let get = |n: &str| p.get(n).unwrap_or("").to_string();
    Values {
        key: key.map(str::to_string).unwrap_or_else(|| get("key")),
        label_zh: get("label_zh"),
        label_en: get("label_en"),
        field_type: get("type"),
        max_length: get("max_length"),
        multiline: get("multiline") == "true",
        pattern: get("pattern"),
        allowed_values: get("allowed_values"),
        min: get("min"),
        max: get("max"),
        required_for: p
            .fields
            .iter()
            .filter(|(k, _)| k == "required_for")
            .map(|(_, v)| v.clone())
            .collect(),
        help_zh: get("help_zh"),
        help_en: get("help_en"),
    }
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The form's values as the use case's input; numbers that are not numbers and an
/// unknown type are refused here, naming their field.
fn definition_of(v: &Values) -> Input<FieldDefinition> {
    let mut errors: Vec<FieldError> = Vec::new();
    let bad_number = |field: &str, text: &str| {
        Violation::new(
            "field.number",
            format!("应为数字（{text}）"),
            format!("expected a number ({text})"),
        )
        .on(field)
    };
    let max_length = match opt(&v.max_length) {
        None => None,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(bad_number("max_length", &s));
                None
            }
        },
    };
    let mut float = |field: &str, text: &str| match opt(text) {
        None => None,
        Some(s) => match s.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                errors.push(bad_number(field, &s));
                None
            }
        },
    };
    let min = float("min", &v.min);
    let max = float("max", &v.max);
    let field_type: Option<FieldType> =
        serde_json::from_value(serde_json::Value::String(v.field_type.clone())).ok();
    let Some(field_type) = field_type else {
        errors.push(
            Violation::new(
                "field.type",
                "自定义字段类型须为 text、number、date、single_select、multi_select 或 boolean",
                "custom field type must be text, number, date, single_select, multi_select or boolean",
            )
            .on("type"),
        );
        return Input::invalid(AppError::Validation(errors));
    };
    if !errors.is_empty() {
        return Input::invalid(AppError::Validation(errors));
    }
    Input::from(FieldDefinition {
        key: v.key.trim().to_string(),
        label_zh: v.label_zh.clone(),
        label_en: v.label_en.clone(),
        field_type,
        max_length,
        multiline: v.multiline,
        pattern: opt(&v.pattern),
        allowed_values: v
            .allowed_values
            .lines()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        min,
        max,
        required_for: v.required_for.clone(),
        pii: false,
        major: false,
        help_zh: opt(&v.help_zh),
        help_en: opt(&v.help_en),
        builtin: false,
    })
}

fn effect_view(e: &FieldEffect, cat: &FieldCatalog, lang: Lang) -> EffectView {
    EffectView {
        total: e.total(),
        missing: e
            .missing_required
            .iter()
            .map(|(k, n)| (type_names(cat, lang, std::slice::from_ref(k)), *n))
            .collect(),
        refused: e.refused_values,
        examples: e.examples.clone(),
        capped: e.capped,
        values_capped: e.values_capped,
    }
}

fn form_page(
    viewer: &Viewer,
    cat: &FieldCatalog,
    is_new: bool,
    v: Values,
    errors: Vec<FieldError>,
    effect: Option<&FieldEffect>,
) -> FormPage {
    let v_print = fingerprint(&v);
    let lang = viewer.lang;
    let title = if is_new {
        "fields.new"
    } else {
        "fields.edit_title"
    };
    let known = [
        "key",
        "label_zh",
        "label_en",
        "type",
        "max_length",
        "multiline",
        "pattern",
        "allowed_values",
        "min",
        "max",
        "required_for",
        "help_zh",
        "help_en",
    ];
    let mut shown = Vec::new();
    let mut messages = Vec::new();
    for e in &errors {
        let msg = e.violation.message(lang).to_string();
        match known
            .iter()
            .find(|k| e.field == **k || e.field.starts_with(&format!("{k}[")))
        {
            Some(k) => shown.push((k.to_string(), msg)),
            None => messages.push(msg),
        }
    }
    let mut type_choices: Vec<(String, String)> = CUSTOM_TYPES
        .iter()
        .map(|k| (k.to_string(), type_label(lang, k)))
        .collect();
    if !CUSTOM_TYPES.contains(&v.field_type.as_str()) && !v.field_type.is_empty() {
        type_choices.push((v.field_type.clone(), v.field_type.clone()));
    }
    let mut required: Vec<(String, String)> = vec![("*".into(), t_owned(lang, "fields.all_types"))];
    required.extend(cat.customer_types.iter().map(|c| {
        (
            c.key.clone(),
            match lang {
                Lang::Zh => c.label_zh.clone(),
                Lang::En => c.label_en.clone(),
            },
        )
    }));
    let to_choices = |items: &[(String, String)], sel: &[String]| -> Vec<Choice> {
        items
            .iter()
            .map(|(v, l)| Choice {
                value: v.clone(),
                label: l.clone(),
                selected: sel.contains(v),
            })
            .collect()
    };
    FormPage {
        chrome: Chrome::new(viewer, "/fields", title),
        is_new,
        action: match is_new {
            true => "/fields/new".into(),
            false => format!("/fields/{}/edit", encode_component(&v.key)),
        },
        types: to_choices(&type_choices, std::slice::from_ref(&v.field_type)),
        required_for: to_choices(&required, &v.required_for),
        key: v.key,
        label_zh: v.label_zh,
        label_en: v.label_en,
        max_length: v.max_length,
        multiline: v.multiline,
        pattern: v.pattern,
        allowed_values: v.allowed_values,
        min: v.min,
        max: v.max,
        help_zh: v.help_zh,
        help_en: v.help_en,
        errors: shown,
        messages,
        confirm: effect.is_some_and(|e| e.total() > 0).then_some(v_print),
        effect: effect.map(|e| effect_view(e, cat, lang)),
    }
}

/// The custom field `key` of the catalog; a built-in or unknown key is the 404 page.
fn custom_of(cat: &FieldCatalog, key: &str) -> Result<FieldDefinition, AppError> {
    cat.fields
        .iter()
        .find(|f| f.key == key && !f.builtin)
        .cloned()
        .ok_or_else(|| AppError::not_found("field", key))
}

/// `GET /fields/new`.
pub(crate) async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    let chrome = Chrome::new(&viewer, "/fields", "fields.new");
    match state.app.fields().field_catalog(&viewer.actor).await {
        Ok(cat) => {
            let mut v = values_of(&FieldDefinition {
                key: String::new(),
                label_zh: String::new(),
                label_en: String::new(),
                field_type: FieldType::Text,
                max_length: None,
                multiline: false,
                pattern: None,
                allowed_values: Vec::new(),
                min: None,
                max: None,
                required_for: Vec::new(),
                pii: false,
                major: false,
                help_zh: None,
                help_en: None,
                builtin: false,
            });
            v.key = String::new();
            render(
                StatusCode::OK,
                &form_page(&viewer, &cat, true, v, Vec::new(), None),
            )
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `GET /fields/{key}/edit` (custom fields only).
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> Response {
    let chrome = Chrome::new(&viewer, "/fields", "fields.edit_title");
    let found = match state.app.fields().field_catalog(&viewer.actor).await {
        Ok(cat) => custom_of(&cat, &key).map(|d| (cat, d)),
        Err(e) => Err(e),
    };
    match found {
        Ok((cat, d)) => render(
            StatusCode::OK,
            &form_page(&viewer, &cat, false, values_of(&d), Vec::new(), None),
        ),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /fields/new` and `POST /fields/{key}/edit`: `op=check` shows the effect;
/// saving shows it instead when it breaks customers and the save is not confirmed.
async fn submit(state: AppState, viewer: Viewer, key: Option<String>, posted: Posted) -> Response {
    let chrome = Chrome::new(&viewer, "/fields", "fields.title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let cat = match state.app.fields().field_catalog(&viewer.actor).await {
        Ok(c) => c,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    if let Some(k) = &key {
        if let Err(e) = custom_of(&cat, k) {
            return PageError::new(chrome, e).into_response();
        }
    }
    let is_new = key.is_none();
    let values = values_posted(&posted, key.as_deref());
    let checking = posted.get("op") == Some("check");
    let confirmed = posted.get("confirmed") == Some(fingerprint(&values).as_str());
    let refused = |values: Values, errors: Vec<FieldError>| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form_page(&viewer, &cat, is_new, values, errors, None),
        )
    };
    if checking || !confirmed {
        match state
            .app
            .fields()
            .field_effect(&viewer.actor, definition_of(&values))
            .await
        {
            Ok(effect) if checking || effect.total() > 0 => {
                return render(
                    StatusCode::OK,
                    &form_page(&viewer, &cat, is_new, values, Vec::new(), Some(&effect)),
                );
            }
            Ok(_) => {}
            Err(AppError::Validation(errors)) => return refused(values, errors),
            Err(e) => return PageError::new(chrome, e).into_response(),
        }
    }
    let saved = match is_new {
        true => {
            state
                .app
                .fields()
                .add_field(&viewer.actor, definition_of(&values))
                .await
        }
        false => {
            state
                .app
                .fields()
                .put_field(&viewer.actor, definition_of(&values))
                .await
        }
    };
    match saved {
        Ok(d) => Redirect::to(&format!("/fields?saved={}", d.key)).into_response(),
        Err(AppError::Validation(errors)) => refused(values, errors),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    submit(state, viewer, None, posted).await
}

pub(crate) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    posted: Posted,
) -> Response {
    submit(state, viewer, Some(key), posted).await
}

/// `POST /fields/standard`: add the standard fields the catalog lacks, back to the list.
pub(crate) async fn add_standard(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/fields", "fields.title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    match state.app.fields().add_standard_fields(&viewer.actor).await {
        Ok(done) => Redirect::to(&format!(
            "/fields?standard={}",
            encode_component(&done.added.join(","))
        ))
        .into_response(),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}
