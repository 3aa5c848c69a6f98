//! `/applications/new?kind=…[&customer=…]`: the form of one kind of application, and its
//! submission through the same use case as `POST /api/v1/applications`. Inputs are named
//! by the payload's keys (`name`, `uscc`, `region_code`, `custom.<key>`, `code`, `role` …);
//! the use case's field errors come back beside each input with the values kept.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Map, Value};

use custos_app::applications::{ApplicationForm, NewApplication};
use custos_app::fields::{FieldDefinition, FieldType};
use custos_app::terms::{choices, term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::Lang;

use super::applications::{query_fields, query_get, show_value};
use super::form::Posted;
use super::i18n::{t, Entry};
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;

pub(crate) const WORDS: &[Entry] = &[
    ("newapp.title", "发起申请", "New application"),
    (
        "newapp.choose",
        "选择申请类型",
        "Choose the kind of application",
    ),
    ("newapp.code", "客户编码", "Customer code"),
    ("newapp.next", "下一步", "Next"),
    ("newapp.submit", "提交申请", "Submit"),
    ("newapp.choose_option", "请选择", "Choose"),
    ("newapp.new_code", "新编码", "New code"),
    (
        "newapp.new_code_help",
        "留空则按编码规则生成。",
        "Leave empty to draw one by the code rule.",
    ),
    ("newapp.days", "调阅天数", "Days"),
    (
        "newapp.days_help",
        "默认 7 天，最多 90 天。",
        "7 days by default, at most 90.",
    ),
    ("newapp.role", "角色", "Role"),
    ("newapp.scope", "数据范围", "Data scope"),
    ("newapp.expires_at", "到期日期", "Expires on"),
    (
        "newapp.expires_help",
        "留空则长期有效。",
        "Leave empty for no end.",
    ),
    ("newapp.reason", "申请理由", "Reason"),
    (
        "newapp.unchanged_pii",
        "已脱敏；不修改请留空。",
        "Masked; leave empty to keep it.",
    ),
    ("newapp.about", "申请对象", "About"),
    ("newapp.current", "当前状态", "Status now"),
];

/// The kinds a person starts from the console (merge and split have their own pages).
const OFFERED: &[&str] = &[
    "create",
    "change",
    "change_code",
    "retire",
    "archive",
    "reactivate",
    "retrieve",
    "grant_permission",
];

/// Built-in fields a new customer's or a change's form offers (the rest — owner,
/// department, contacts, lists — have their own pages).
const RECORD_FIELDS: &[&str] = &[
    "customer_type",
    "name",
    "short_name",
    "uscc",
    "id_number",
    "legal_representative",
    "established_on",
    "registered_capital",
    "industry",
    "scale",
    "level",
    "source",
    "region_code",
    "address",
    "postal_code",
    "phone",
    "mobile",
    "email",
    "website",
    "credit_rating",
    "remarks",
];

/// An option of a select list.
struct Choice {
    value: String,
    label: String,
}

/// A labelled group of options.
struct ChoiceGroup {
    label: String,
    options: Vec<Choice>,
}

/// One input of the form.
struct Field {
    name: String,
    id: String,
    label: String,
    help: String,
    /// `input`, `select`, `textarea`.
    control: &'static str,
    input_type: &'static str,
    required: bool,
    /// Customer types for which it is required, space-separated (`*`: all).
    required_for: String,
    options: Vec<Choice>,
    groups: Vec<ChoiceGroup>,
    value: String,
    /// The value it had when the form was shown (a change sends only what differs).
    orig: Option<String>,
    error: Option<String>,
}

impl Field {
    fn text(name: &str, label: String) -> Field {
        Field {
            id: name.replace('.', "-"),
            name: name.to_string(),
            label,
            help: String::new(),
            control: "input",
            input_type: "text",
            required: false,
            required_for: String::new(),
            options: Vec::new(),
            groups: Vec::new(),
            value: String::new(),
            orig: None,
            error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "console/applications/new.html")]
struct NewPage {
    chrome: Chrome,
    /// Empty: the chooser of kinds.
    kind: String,
    kind_name: String,
    kinds: Vec<Choice>,
    /// A kind about a customer, none named yet: ask for the code first.
    ask_code: bool,
    action: String,
    about: Option<String>,
    fields: Vec<Field>,
    errors: Vec<String>,
    version: String,
}

fn kind_choices(lang: Lang) -> Vec<Choice> {
    OFFERED
        .iter()
        .map(|k| Choice {
            value: k.to_string(),
            label: term_or_code(Terms::ApplicationKind, k, lang),
        })
        .collect()
}

fn region_groups() -> Vec<ChoiceGroup> {
    use custos_core::region::{children, provinces};
    provinces()
        .into_iter()
        .map(|p| {
            let mut options = vec![Choice {
                value: p.code.to_string(),
                label: format!("{} {}", p.name, p.code),
            }];
            for c in children(p.code) {
                options.push(Choice {
                    value: c.code.to_string(),
                    label: format!("{} {}", c.name, c.code),
                });
                for d in children(c.code) {
                    options.push(Choice {
                        value: d.code.to_string(),
                        label: format!("　{} {}", d.name, d.code),
                    });
                }
            }
            ChoiceGroup {
                label: p.name.to_string(),
                options,
            }
        })
        .collect()
}

fn industry_groups() -> Vec<ChoiceGroup> {
    use custos_core::industry::{divisions, sections};
    sections()
        .into_iter()
        .map(|s| {
            let mut options = vec![Choice {
                value: s.code.to_string(),
                label: format!("{} {}", s.code, s.name),
            }];
            options.extend(divisions(s.code).into_iter().map(|d| Choice {
                value: d.code.to_string(),
                label: format!("　{} {}", d.code, d.name),
            }));
            ChoiceGroup {
                label: format!("{} {}", s.code, s.name),
                options,
            }
        })
        .collect()
}

/// The input of one catalog field (`key` as posted: `custom.<key>` for custom fields).
fn catalog_field(lang: Lang, form: &ApplicationForm, d: &FieldDefinition, key: &str) -> Field {
    let label = match lang {
        Lang::Zh => d.label_zh.clone(),
        Lang::En => d.label_en.clone(),
    };
    let mut f = Field::text(key, label);
    f.help = match lang {
        Lang::Zh => d.help_zh.clone(),
        Lang::En => d.help_en.clone(),
    }
    .unwrap_or_default();
    f.required_for = d.required_for.join(" ");
    let options = |list: Vec<(String, String)>| {
        list.into_iter()
            .map(|(value, label)| Choice { value, label })
            .collect::<Vec<_>>()
    };
    match (key, d.field_type) {
        ("customer_type", _) => {
            f.control = "select";
            f.options = options(
                form.customer_types
                    .iter()
                    .map(|c| {
                        let name = match lang {
                            Lang::Zh => c.label_zh.clone(),
                            Lang::En => c.label_en.clone(),
                        };
                        (c.key.clone(), name)
                    })
                    .collect(),
            );
        }
        ("scale", _) => {
            f.control = "select";
            f.options = options(
                choices(Terms::Scale, lang)
                    .into_iter()
                    .map(|(c, n)| (c.to_string(), n.to_string()))
                    .collect(),
            );
        }
        ("region_code", _) => {
            f.control = "select";
            f.groups = region_groups();
        }
        ("industry", _) => {
            f.control = "select";
            f.groups = industry_groups();
        }
        ("remarks" | "address", _) => f.control = "textarea",
        (_, FieldType::SingleSelect) => {
            f.control = "select";
            f.options = options(
                d.allowed_values
                    .iter()
                    .map(|v| (v.clone(), v.clone()))
                    .collect(),
            );
        }
        (_, FieldType::Boolean) => {
            f.control = "select";
            f.options = options(vec![
                ("true".into(), t(lang, "apps.yes").into()),
                ("false".into(), t(lang, "apps.no").into()),
            ]);
        }
        (_, FieldType::Number) => f.input_type = "number",
        (_, FieldType::Date) => f.input_type = "date",
        (_, _) if d.multiline => f.control = "textarea",
        _ => {}
    }
    if d.field_type == FieldType::Number {
        f.input_type = "number";
    }
    f
}

/// The fields of a new customer or a change: built-ins then custom fields.
fn record_fields(lang: Lang, form: &ApplicationForm) -> Vec<Field> {
    let mut out = Vec::new();
    for d in &form.fields {
        let key = match d.builtin {
            true if RECORD_FIELDS.contains(&d.key.as_str()) => d.key.clone(),
            true => continue,
            false if matches!(d.field_type, FieldType::Contacts) => continue,
            false => format!("custom.{}", d.key),
        };
        out.push(catalog_field(lang, form, d, &key));
    }
    out
}

/// The current value of `key` as an input shows it (masked personal data: empty).
fn current_value(form: &ApplicationForm, key: &str) -> Option<String> {
    let c = form.customer.as_ref()?;
    let v = serde_json::to_value(c).ok()?;
    let x = match key.strip_prefix("custom.") {
        Some(k) => v.get("custom")?.get(k)?.clone(),
        None => v.get(key)?.clone(),
    };
    let text = match x {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Array(a) => a
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string).or(Some(i.to_string())))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    if c.pii_masked && custos_app::customers::PII_FIELDS.contains(&key) && text.contains('*') {
        return Some(String::new());
    }
    Some(text)
}

/// The inputs of a form of `kind`.
fn fields_of(lang: Lang, form: &ApplicationForm, kind: &str) -> Vec<Field> {
    let mut fields = match kind {
        "create" | "change" => record_fields(lang, form),
        "change_code" => {
            let mut f = Field::text("new_code", t(lang, "newapp.new_code").into());
            f.help = t(lang, "newapp.new_code_help").into();
            vec![f]
        }
        "retrieve" => {
            let mut code = Field::text("code", t(lang, "newapp.code").into());
            code.required = true;
            let mut days = Field::text("days", t(lang, "newapp.days").into());
            days.input_type = "number";
            days.help = t(lang, "newapp.days_help").into();
            vec![code, days]
        }
        "grant_permission" => {
            let mut role = Field::text("role", t(lang, "newapp.role").into());
            role.control = "select";
            role.required = true;
            role.options = form
                .roles
                .iter()
                .map(|r| Choice {
                    value: r.key.clone(),
                    label: r.name.clone(),
                })
                .collect();
            let mut scope = Field::text("scope", t(lang, "newapp.scope").into());
            scope.control = "select";
            scope.options = choices(Terms::Scope, lang)
                .into_iter()
                .map(|(c, n)| Choice {
                    value: c.into(),
                    label: n.into(),
                })
                .collect();
            let mut expires = Field::text("expires_at", t(lang, "newapp.expires_at").into());
            expires.input_type = "date";
            expires.help = t(lang, "newapp.expires_help").into();
            vec![role, scope, expires]
        }
        _ => Vec::new(),
    };
    if kind == "change" {
        for f in &mut fields {
            let now = current_value(form, &f.name).unwrap_or_default();
            let masked = form.customer.as_ref().is_some_and(|c| c.pii_masked)
                && custos_app::customers::PII_FIELDS.contains(&f.name.as_str());
            if masked && now.is_empty() {
                f.help = t(lang, "newapp.unchanged_pii").into();
            }
            f.value = now.clone();
            f.orig = Some(now);
        }
    }
    let mut reason = Field::text("reason", t(lang, "newapp.reason").into());
    reason.control = "textarea";
    fields.push(reason);
    fields
}

/// Mark required fields for the customer type chosen (or now held).
fn mark_required(fields: &mut [Field], customer_type: &str) {
    for f in fields.iter_mut().filter(|f| !f.required_for.is_empty()) {
        f.required = f
            .required_for
            .split(' ')
            .any(|t| t == "*" || t == customer_type);
    }
}

/// Where a use case's field error goes: the input of that name, else the list on top.
fn input_name(field: &str) -> &str {
    let f = field.strip_prefix("payload.").unwrap_or(field);
    f.strip_prefix("changes.").unwrap_or(f)
}

fn new_page(
    viewer: &Viewer,
    kind: &str,
    form: Option<&ApplicationForm>,
    posted: Option<&Posted>,
    error: Option<AppError>,
) -> NewPage {
    let lang = viewer.lang;
    let chrome = Chrome::new(viewer, "/applications", "newapp.title");
    let mut page = NewPage {
        chrome,
        kind: kind.to_string(),
        kind_name: term_or_code(Terms::ApplicationKind, kind, lang),
        kinds: kind_choices(lang),
        ask_code: false,
        action: String::new(),
        about: None,
        fields: Vec::new(),
        errors: Vec::new(),
        version: String::new(),
    };
    let Some(form) = form else {
        return page;
    };
    let customer = form.customer.as_ref();
    page.ask_code = form.kind.is_about_customer() && kind != "retrieve" && customer.is_none();
    page.action = match customer {
        Some(c) => format!("/applications/new?kind={kind}&customer={}", c.code),
        None => format!("/applications/new?kind={kind}"),
    };
    page.about = customer.map(|c| {
        format!(
            "{} {} · {}",
            c.code,
            c.name,
            show_value(lang, "status", &Value::from(c.status.clone()))
        )
    });
    page.version = customer.map(|c| c.version.to_string()).unwrap_or_default();
    page.fields = fields_of(lang, form, kind);
    if let Some(p) = posted {
        for f in &mut page.fields {
            f.value = p.get(&f.name).unwrap_or("").to_string();
            if f.orig.is_some() {
                f.orig = Some(p.get(&format!("orig.{}", f.name)).unwrap_or("").to_string());
            }
        }
        if let Some(v) = p.get("version") {
            page.version = v.to_string();
        }
    }
    let chosen_type = page
        .fields
        .iter()
        .find(|f| f.name == "customer_type")
        .map(|f| f.value.clone())
        .filter(|v| !v.is_empty())
        .or_else(|| customer.map(|c| c.customer_type.clone()))
        .unwrap_or_else(|| "enterprise".into());
    mark_required(&mut page.fields, &chosen_type);
    if let Some(e) = error {
        match e {
            AppError::Validation(list) => {
                for fe in list {
                    let msg = fe.violation.message(lang).to_string();
                    let name = input_name(&fe.field);
                    match page.fields.iter_mut().find(|f| f.name == name) {
                        Some(f) => {
                            f.error = Some(match f.error.take() {
                                Some(prev) => format!("{prev}；{msg}"),
                                None => msg,
                            })
                        }
                        None => page.errors.push(msg),
                    }
                }
            }
            other => page.errors.push(other.detail(lang)),
        }
    }
    page
}

/// `GET /applications/new[?kind=…&customer=…]`.
pub(crate) async fn form(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_fields(raw);
    let kind = query_get(&q, "kind").unwrap_or("").to_string();
    let customer = query_get(&q, "customer");
    if kind.is_empty() {
        let page = new_page(&viewer, "", None, None, None);
        return render(StatusCode::OK, &page);
    }
    if !OFFERED.contains(&kind.as_str()) {
        let chrome = Chrome::new(&viewer, "/applications", "newapp.title");
        return PageError::new(chrome, AppError::not_found("page", &kind)).into_response();
    }
    match state
        .app
        .application_form(&viewer.actor, &kind, customer)
        .await
    {
        Ok(form) => {
            let page = new_page(&viewer, &kind, Some(&form), None, None);
            render(StatusCode::OK, &page)
        }
        Err(e) => {
            let chrome = Chrome::new(&viewer, "/applications", "newapp.title");
            PageError::new(chrome, e).into_response()
        }
    }
}

/// A posted value as JSON for a field of the catalog.
fn typed(d: Option<&FieldDefinition>, text: &str) -> Value {
    match d.map(|d| d.field_type) {
        Some(FieldType::Number) => text
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(|| Value::from(text)),
        Some(FieldType::Boolean) => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::from(other),
        },
        Some(FieldType::MultiSelect | FieldType::TextList) => Value::Array(
            text.split([',', '，', '、'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect(),
        ),
        _ => Value::from(text),
    }
}

/// The payload of a create or change from the posted record fields. A change carries
/// only the fields whose value differs from the one shown (`orig.<name>`).
fn record_payload(form: &ApplicationForm, posted: &Posted, change: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let mut custom = Map::new();
    for d in &form.fields {
        let key = match d.builtin {
            true if RECORD_FIELDS.contains(&d.key.as_str()) => d.key.clone(),
            true => continue,
            false => format!("custom.{}", d.key),
        };
        let value = posted.get(&key).unwrap_or("").trim();
        if change {
            let orig = posted.get(&format!("orig.{key}")).unwrap_or("").trim();
            if value == orig {
                continue;
            }
        } else if value.is_empty() {
            continue;
        }
        let v = match value {
            "" => Value::Null,
            text => typed(Some(d), text),
        };
        match key.strip_prefix("custom.") {
            Some(k) => {
                custom.insert(k.to_string(), v);
            }
            None => {
                out.insert(key, v);
            }
        }
    }
    if !custom.is_empty() {
        out.insert("custom".into(), Value::Object(custom));
    }
    out
}

fn payload_of(kind: &str, form: &ApplicationForm, posted: &Posted) -> Value {
    let get = |k: &str| posted.get(k).map(str::trim).filter(|v| !v.is_empty());
    let code = form
        .customer
        .as_ref()
        .map(|c| c.code.clone())
        .or_else(|| get("code").map(str::to_string))
        .unwrap_or_default();
    let mut p = match kind {
        "create" => record_payload(form, posted, false),
        "change" => {
            let mut changes = record_payload(form, posted, true);
            let version = get("version")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            changes.insert("version".into(), Value::from(version));
            if let Some(r) = get("reason") {
                changes.insert("reason".into(), Value::from(r));
            }
            let mut m = Map::new();
            m.insert("code".into(), Value::from(code.clone()));
            m.insert("changes".into(), Value::Object(changes));
            m
        }
        "grant_permission" => {
            let mut m = Map::new();
            for k in ["role", "scope", "expires_at"] {
                if let Some(v) = get(k) {
                    m.insert(k.into(), Value::from(v));
                }
            }
            m
        }
        _ => {
            let mut m = Map::new();
            m.insert("code".into(), Value::from(code.clone()));
            if let Some(v) = get("new_code").filter(|_| kind == "change_code") {
                m.insert("new_code".into(), Value::from(v));
            }
            if let Some(v) = get("days").filter(|_| kind == "retrieve") {
                m.insert(
                    "days".into(),
                    v.parse::<i64>().map(Value::from).unwrap_or(json!(v)),
                );
            }
            m
        }
    };
    if kind == "create" {
        p.remove("reason");
    }
    Value::Object(p)
}

/// `POST /applications/new?kind=…[&customer=…]`: submit; on success the application's
/// page, else the form again with the errors beside the inputs and the values kept.
pub(crate) async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/applications", "newapp.title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let q = query_fields(raw);
    let kind = query_get(&q, "kind").unwrap_or("").to_string();
    if !OFFERED.contains(&kind.as_str()) {
        return PageError::new(chrome, AppError::not_found("page", &kind)).into_response();
    }
    let customer = query_get(&q, "customer");
    let form = match state
        .app
        .application_form(&viewer.actor, &kind, customer)
        .await
    {
        Ok(f) => f,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let input = NewApplication {
        kind: kind.clone(),
        payload: payload_of(&kind, &form, &posted),
        reason: posted
            .get("reason")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        draft: false,
    };
    match state.app.submit_application(&viewer.actor, input).await {
        Ok(a) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            match e {
                AppError::Forbidden { .. } | AppError::NotFound { .. } => {
                    PageError::new(chrome, e).into_response()
                }
                e => {
                    let page = new_page(&viewer, &kind, Some(&form), Some(&posted), Some(e));
                    render(status, &page)
                }
            }
        }
    }
}
