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
use custos_app::terms::{choices, term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::{FieldError, Lang};

use super::applications::{query_fields, query_get, show_value};
use super::customer_fields::{error_of, inputs, kept_masked, posted_json, FieldInput, Values};
use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::region_cascade::{region_cascade, RegionUse};
use super::session::Viewer;
use crate::AppState;

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

/// An option of a select list.
struct Choice {
    value: String,
    label: String,
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
    options: Vec<Choice>,
    value: String,
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
            options: Vec::new(),
            value: String::new(),
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
    /// The customer record's inputs (new customer, change), drawn by
    /// `console/customers/fields.html` as on the customer form.
    inputs: Vec<FieldInput>,
    region_html: String,
    dup_hints: bool,
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

/// The inputs of a form of `kind` besides the customer record's (those come from the
/// shared builder, `customer_fields`).
fn fields_of(lang: Lang, form: &ApplicationForm, kind: &str) -> Vec<Field> {
    let mut fields = match kind {
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
    let mut reason = Field::text("reason", t(lang, "newapp.reason").into());
    reason.control = "textarea";
    fields.push(reason);
    fields
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
        inputs: Vec::new(),
        region_html: String::new(),
        dup_hints: false,
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
    // A new customer applied for gets the duplicate hints (candidates and possible
    // family members) the customer form shows, from the same check and its rules.
    page.dup_hints = kind == "create" && viewer.actor.can("customer.read");
    page.fields = fields_of(lang, form, kind);
    if let Some(p) = posted {
        for f in &mut page.fields {
            f.value = p.get(&f.name).unwrap_or("").to_string();
        }
        if let Some(v) = p.get("version") {
            page.version = v.to_string();
        }
    }
    let mut record_errors = Vec::new();
    match error {
        Some(AppError::Validation(list)) => {
            record_errors = list
                .into_iter()
                .map(|fe| FieldError {
                    field: input_name(&fe.field).to_string(),
                    violation: fe.violation,
                })
                .collect();
        }
        Some(other) => page.errors.push(other.detail(lang)),
        None => {}
    }
    if matches!(kind, "create" | "change") {
        record_inputs(&mut page, lang, form, posted, &record_errors);
    }
    for fe in record_errors {
        let name = fe.field.as_str();
        if page
            .inputs
            .iter()
            .any(|i| error_of(std::slice::from_ref(&fe), &i.name, lang).is_some())
        {
            continue;
        }
        let msg = fe.violation.message(lang).to_string();
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
    page
}

/// The customer record's inputs of a new-customer or change application, from the same
/// builder as the customer form; a change remembers each value shown (`orig.<name>`).
fn record_inputs(
    page: &mut NewPage,
    lang: Lang,
    form: &ApplicationForm,
    posted: Option<&Posted>,
    errors: &[FieldError],
) {
    let customer = form.customer.as_ref();
    let ctype = posted
        .and_then(|p| p.get("customer_type"))
        .map(str::to_string)
        .or_else(|| customer.map(|c| c.customer_type.clone()))
        .unwrap_or_else(|| "enterprise".into());
    let values = Values { posted, customer };
    page.inputs = inputs(&form.into(), lang, &values, &ctype, errors);
    if page.kind == "change" {
        for i in &mut page.inputs {
            i.orig = Some(match posted {
                Some(p) => p.get(&format!("orig.{}", i.name)).unwrap_or("").to_string(),
                None => i.shown(),
            });
        }
    }
    let region = match posted {
        Some(p) => p.get("region_code"),
        None => customer.and_then(|c| c.region_code.as_deref()),
    };
    page.region_html = region_cascade(lang, region, RegionUse::Form).html();
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
        .applications()
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

/// The payload of a create or change from the posted record inputs (the customer form's
/// reading); a change carries only the inputs whose value differs from the one shown.
fn record_payload(
    form: &ApplicationForm,
    posted: &Posted,
    change: bool,
) -> Result<Map<String, Value>, AppError> {
    let keep = match change {
        true => kept_masked(&form.into()),
        false => Vec::new(),
    };
    let (mut body, errors) = posted_json(posted, &form.fields, change, &keep, change);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    body.remove("override_duplicates");
    if !change {
        body.remove("reason");
    }
    Ok(body)
}

fn payload_of(kind: &str, form: &ApplicationForm, posted: &Posted) -> Result<Value, AppError> {
    let get = |k: &str| posted.get(k).map(str::trim).filter(|v| !v.is_empty());
    let code = form
        .customer
        .as_ref()
        .map(|c| c.code.clone())
        .or_else(|| get("code").map(str::to_string))
        .unwrap_or_default();
    let mut p = match kind {
        "create" => record_payload(form, posted, false)?,
        "change" => {
            let mut changes = record_payload(form, posted, true)?;
            let version = get("version")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            changes.insert("version".into(), Value::from(version));
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
    Ok(Value::Object(p))
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
        .applications()
        .application_form(&viewer.actor, &kind, customer)
        .await
    {
        Ok(f) => f,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let payload = match payload_of(&kind, &form, &posted) {
        Ok(p) => p,
        Err(e) => {
            let page = new_page(&viewer, &kind, Some(&form), Some(&posted), Some(e));
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let input = NewApplication {
        kind: kind.clone(),
        payload,
        reason: posted
            .get("reason")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        draft: false,
    };
    match state
        .app
        .applications()
        .submit_application(&viewer.actor, input)
        .await
    {
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
