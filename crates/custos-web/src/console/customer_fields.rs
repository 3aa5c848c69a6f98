//! The one builder of a customer record's inputs, generated from the field catalog, for
//! the customer form (新增 / 编辑客户) and the application form (new customer, change);
//! and a posted form read back into the use cases' input (`NewCustomer`, `CustomerPatch`,
//! an application's payload), keyed by the API's field names (`custom.<key>` for custom
//! fields). Both pages draw the inputs with `console/customers/fields.html`.

use serde_json::{Map, Value};

use custos_app::applications::ApplicationForm;
use custos_app::customer_page::CustomerForm;
use custos_app::customers::{CustomerType, CustomerView};
use custos_app::fields::{FieldDefinition, FieldType};
use custos_app::terms::{choices, term_or_code, Terms};
use custos_core::violation::{FieldError, Lang};
use custos_core::{industry, Violation};

use super::form::Posted;

/// Built-in fields the catalog's inputs leave out: the owner, department and contacts
/// are offered apart, only where the writer may set them (`customer_assign`).
const NOT_IN_FORM: &[&str] = &["owner_id", "department_id", "contacts"];

/// Fields holding a list, typed as one text separated by commas or line breaks.
const LIST_FIELDS: &[&str] = &["former_names", "tags"];

/// What the inputs are built from: the field catalog, the customer types and the record
/// being changed (personal data masked), as the page's use case returned them.
pub(crate) struct FormSource<'a> {
    pub fields: &'a [FieldDefinition],
    pub customer_types: &'a [CustomerType],
    pub customer: Option<&'a CustomerView>,
}

impl<'a> From<&'a CustomerForm> for FormSource<'a> {
    fn from(f: &'a CustomerForm) -> Self {
        FormSource {
            fields: &f.fields,
            customer_types: &f.customer_types,
            customer: f.customer.as_ref(),
        }
    }
}

impl<'a> From<&'a ApplicationForm> for FormSource<'a> {
    fn from(f: &'a ApplicationForm) -> Self {
        FormSource {
            fields: &f.fields,
            customer_types: &f.customer_types,
            customer: f.customer.as_ref(),
        }
    }
}

/// One choice of a select list.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One input of the form, as the template draws it.
pub(crate) struct FieldInput {
    /// The input's name: the API's field key.
    pub name: String,
    /// The element id (`f-` and the key, dots as dashes).
    pub id: String,
    pub label: String,
    pub help: Option<String>,
    /// `text`, `textarea`, `number`, `date`, `select`, `multi` or `region`.
    pub kind: &'static str,
    pub value: String,
    pub choices: Vec<Choice>,
    /// Customer types for which the field is required (`*`: all), space-separated.
    pub required_for: String,
    pub required: bool,
    pub error: Option<String>,
    /// Personal data shown masked: the current value, as a placeholder.
    pub masked: Option<String>,
    pub major: bool,
    pub max_length: usize,
    /// The value shown when the form was drawn, posted back as `orig.<name>` so that a
    /// change application asks for only what the applicant changed.
    pub orig: Option<String>,
}

impl FieldInput {
    /// The value as posted back unchanged: a multiple choice's values joined by commas.
    pub(crate) fn shown(&self) -> String {
        match self.kind {
            "multi" => self
                .choices
                .iter()
                .filter(|c| c.selected)
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>()
                .join(","),
            _ => self.value.clone(),
        }
    }
}

/// What the form shows in its inputs: the posted values (after an error) or the record's.
pub(crate) struct Values<'a> {
    pub posted: Option<&'a Posted>,
    pub customer: Option<&'a CustomerView>,
}

impl Values<'_> {
    fn of(&self, key: &str) -> Vec<String> {
        if let Some(p) = self.posted {
            return p
                .fields
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .collect();
        }
        let Some(c) = self.customer else {
            return Vec::new();
        };
        stored_values(c, key)
    }
}

/// A record's value of `key` as the form shows it (masked personal data: none).
fn stored_values(c: &CustomerView, key: &str) -> Vec<String> {
    if let Some(k) = key.strip_prefix("custom.") {
        return match c.custom.get(k) {
            Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
            Some(v) => scalar(v).into_iter().collect(),
            None => Vec::new(),
        };
    }
    let json = serde_json::to_value(c).unwrap_or(Value::Null);
    match json.get(key) {
        Some(Value::Array(items)) if LIST_FIELDS.contains(&key) => {
            vec![items
                .iter()
                .filter_map(scalar)
                .collect::<Vec<_>>()
                .join("，")]
        }
        Some(v) => scalar(v).into_iter().collect(),
        None => Vec::new(),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn input_kind(def: &FieldDefinition) -> &'static str {
    match (def.key.as_str(), def.field_type) {
        ("region_code", _) => "region",
        ("industry" | "scale" | "status" | "customer_type", _) => "select",
        (_, FieldType::SingleSelect | FieldType::Boolean) => "select",
        (_, FieldType::MultiSelect) => "multi",
        (_, FieldType::Number) => "number",
        (_, FieldType::Date) => "date",
        (_, _) if def.multiline => "textarea",
        _ => "text",
    }
}

/// The choices of a select field, the current values selected.
fn field_choices(
    def: &FieldDefinition,
    form: &FormSource,
    lang: Lang,
    current: &[String],
) -> Vec<Choice> {
    let pairs: Vec<(String, String)> = match def.key.as_str() {
        "customer_type" => form
            .customer_types
            .iter()
            .map(|t| {
                let label = match lang {
                    Lang::Zh => t.label_zh.clone(),
                    Lang::En => t.label_en.clone(),
                };
                (t.key.clone(), label)
            })
            .collect(),
        "scale" => choices(Terms::Scale, lang)
            .into_iter()
            .map(|(c, l)| (c.to_string(), l.to_string()))
            .collect(),
        "status" => def
            .allowed_values
            .iter()
            .map(|s| (s.clone(), term_or_code(Terms::CustomerStatus, s, lang)))
            .collect(),
        "industry" => industry_choices(),
        _ if def.field_type == FieldType::Boolean => vec![
            ("true".into(), yes_no(lang, true).into()),
            ("false".into(), yes_no(lang, false).into()),
        ],
        _ => def
            .allowed_values
            .iter()
            .map(|s| (s.clone(), s.clone()))
            .collect(),
    };
    pairs
        .into_iter()
        .map(|(value, label)| Choice {
            selected: current.contains(&value),
            value,
            label,
        })
        .collect()
}

fn yes_no(lang: Lang, yes: bool) -> &'static str {
    match (lang, yes) {
        (Lang::Zh, true) => "是",
        (Lang::Zh, false) => "否",
        (Lang::En, true) => "Yes",
        (Lang::En, false) => "No",
    }
}

/// Industry sections, each followed by its divisions (`C13 农副食品加工业`).
fn industry_choices() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in industry::sections() {
        out.push((s.code.to_string(), format!("{} {}", s.code, s.name)));
        for d in industry::divisions(s.code) {
            out.push((d.code.to_string(), format!("　{} {}", d.code, d.name)));
        }
    }
    out
}

/// The inputs of the form for customer type `ctype`, with `errors` beside their fields.
pub(crate) fn inputs(
    form: &FormSource,
    lang: Lang,
    values: &Values,
    ctype: &str,
    errors: &[FieldError],
) -> Vec<FieldInput> {
    let masked = form.customer.is_some_and(|c| c.pii_masked);
    form.fields
        .iter()
        .filter(|d| !NOT_IN_FORM.contains(&d.key.as_str()))
        .map(|def| {
            let name = match def.builtin {
                true => def.key.clone(),
                false => format!("custom.{}", def.key),
            };
            let mut current = values.of(&name);
            if name == "customer_type" && current.is_empty() {
                current.push(ctype.to_string());
            }
            let pii_hidden =
                masked && kept_masked(form).contains(&def.key) && values.posted.is_none();
            let masked_value = match (pii_hidden, values.customer) {
                (true, Some(c)) => stored_values(c, &name).into_iter().next(),
                _ => None,
            };
            let value = match pii_hidden {
                true => String::new(),
                false => current.first().cloned().unwrap_or_default(),
            };
            let required = def.required_for.iter().any(|t| t == "*" || t == ctype);
            FieldInput {
                id: format!("f-{}", name.replace('.', "-")),
                label: match lang {
                    Lang::Zh => def.label_zh.clone(),
                    Lang::En => def.label_en.clone(),
                },
                help: match lang {
                    Lang::Zh => def.help_zh.clone(),
                    Lang::En => def.help_en.clone(),
                },
                kind: input_kind(def),
                choices: field_choices(def, form, lang, &current),
                required_for: def.required_for.join(" "),
                required,
                error: error_of(errors, &name, lang),
                masked: masked_value,
                major: def.major,
                max_length: def.max_length.unwrap_or(2000).min(2000) * 4,
                orig: None,
                value,
                name,
            }
        })
        .collect()
}

/// The built-in fields an edit form shows masked (and keeps when left empty): personal
/// data, an address only for individuals (as the record masks it).
pub(crate) fn kept_masked(form: &FormSource) -> Vec<String> {
    let Some(c) = form.customer.filter(|c| c.pii_masked) else {
        return Vec::new();
    };
    form.fields
        .iter()
        .filter(|d| d.builtin && d.pii && d.field_type != FieldType::Contacts)
        .filter(|d| d.key != "address" || c.customer_type == "individual")
        .map(|d| d.key.clone())
        .collect()
}

/// The messages for `name` (and its sub-fields, `custom.x[0]`), joined.
pub(crate) fn error_of(errors: &[FieldError], name: &str, lang: Lang) -> Option<String> {
    let found: Vec<&str> = errors
        .iter()
        .filter(|e| {
            e.field == name
                || e.field.starts_with(&format!("{name}["))
                || e.field.starts_with(&format!("{name}."))
        })
        .map(|e| e.violation.message(lang))
        .collect();
    (!found.is_empty()).then(|| found.join("；"))
}

/// Errors about fields the form has no input for (shown above the form).
pub(crate) fn other_errors(
    errors: &[FieldError],
    inputs: &[FieldInput],
    lang: Lang,
) -> Vec<String> {
    errors
        .iter()
        .filter(|e| {
            e.field != "reason"
                && !inputs.iter().any(|i| {
                    e.field == i.name
                        || e.field.starts_with(&format!("{}[", i.name))
                        || e.field.starts_with(&format!("{}.", i.name))
                })
        })
        .map(|e| e.violation.message(lang).to_string())
        .collect()
}

/// The posted form as the JSON body of the API (what `NewCustomer` / `CustomerPatch`
/// read), and the errors of values that are not of their field's type. `clear_empty`:
/// an empty input clears the field (an edit); otherwise it is left out. Fields shown
/// masked (`keep_empty`) stay as they are when left empty. `only_changed`: a field
/// whose posted value is the one shown (`orig.<name>`) is left out.
pub(crate) fn posted_json(
    posted: &Posted,
    defs: &[FieldDefinition],
    clear_empty: bool,
    keep_empty: &[String],
    only_changed: bool,
) -> (Map<String, Value>, Vec<FieldError>) {
    let mut body = Map::new();
    let mut custom = Map::new();
    let mut errors = Vec::new();
    for def in defs
        .iter()
        .filter(|d| !NOT_IN_FORM.contains(&d.key.as_str()))
    {
        let name = match def.builtin {
            true => def.key.clone(),
            false => format!("custom.{}", def.key),
        };
        let given: Vec<&str> = posted
            .fields
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
            .collect();
        if given.is_empty() && (!clear_empty || keep_empty.contains(&def.key)) {
            continue;
        }
        if only_changed
            && given.join(",").trim() == posted.get(&format!("orig.{name}")).unwrap_or("").trim()
        {
            continue;
        }
        let value = match typed(def, &name, &given) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match def.builtin {
            true => body.insert(def.key.clone(), value),
            false => custom.insert(def.key.clone(), value),
        };
    }
    if !custom.is_empty() {
        body.insert("custom".into(), Value::Object(custom));
    }
    for key in ["reason"] {
        if let Some(v) = posted.get(key).filter(|v| !v.trim().is_empty()) {
            body.insert(key.into(), Value::String(v.to_string()));
        }
    }
    if posted.get("override_duplicates") == Some("true") {
        body.insert("override_duplicates".into(), Value::Bool(true));
    }
    (body, errors)
}

/// The JSON value of a posted field, by the type its definition says.
fn typed(def: &FieldDefinition, name: &str, given: &[&str]) -> Result<Value, FieldError> {
    let Some(first) = given.first().map(|s| s.trim()) else {
        return Ok(match def.field_type {
            FieldType::TextList | FieldType::MultiSelect => Value::Array(Vec::new()),
            _ => Value::Null,
        });
    };
    if LIST_FIELDS.contains(&def.key.as_str()) {
        let items = first
            .split([',', '，', '、', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
            .collect();
        return Ok(Value::Array(items));
    }
    match def.field_type {
        FieldType::Number => match first.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(serde_json::json!(n)),
            _ => Err(Violation::new(
                "field.number",
                format!("应为数字（{first}）"),
                format!("expected a number ({first})"),
            )
            .on(name)),
        },
        FieldType::Boolean => Ok(Value::Bool(first == "true")),
        FieldType::MultiSelect => Ok(Value::Array(
            given.iter().map(|s| Value::String(s.to_string())).collect(),
        )),
        _ => Ok(Value::String(first.to_string())),
    }
}
