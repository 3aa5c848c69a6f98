//! `/customers/new` and `/customers/{code}/edit`: the customer form generated from the
//! field catalog; on submit the same use cases as `POST` / `PATCH /api/v1/customers`,
//! errors beside their fields with the values kept. Beside it, the duplicate hints shown
//! while typing.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::customer_page::CustomerForm;
use custos_app::customers::{CustomerPatch, CustomerView, NewCustomer};
use custos_app::duplicates::DuplicateReport;
use custos_app::input::Input;
use custos_app::AppError;
use custos_core::violation::{FieldError, Lang};

use super::customer_assign::{assign_inputs, assigned_json, AssignInputs};
use super::customer_fields::{
    error_of, inputs, kept_masked, other_errors, posted_json, FieldInput, Values,
};
use super::customer_words::{duplicate_rows, family_rows, DuplicateRow};
use super::form::Posted;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::region_cascade::{region_cascade, RegionUse};
use super::session::{encode_component, Viewer};
use crate::AppState;

#[derive(Template)]
#[template(path = "console/customers/form.html")]
struct FormPage {
    chrome: Chrome,
    /// The customer being edited, none for a new one.
    code: Option<String>,
    action: String,
    cancel_href: String,
    version: i64,
    inputs: Vec<FieldInput>,
    /// The region cascader, drawn where the `region_code` input stands.
    region_html: String,
    /// Duplicate hints while typing (`console/customers/fields.html`).
    dup_hints: bool,
    /// Owner, department and contacts, as far as the viewer may set them.
    assign: AssignInputs,
    customer_type: String,
    reason: String,
    reason_error: Option<String>,
    /// Errors not about one input (and the duplicate refusal), above the form.
    messages: Vec<String>,
    /// The record looks like an existing customer: the candidates, and whether the
    /// viewer may save anyway (with a reason).
    duplicates: Vec<DuplicateRow>,
    /// Possible family members of the refused record (never merge proposals).
    family: Vec<DuplicateRow>,
    offer_override: bool,
    /// The edit lost a race: the newer values of the fields that differ.
    conflict: Vec<(String, String)>,
}

fn form_chrome(viewer: &Viewer, code: Option<&str>) -> Chrome {
    match code {
        Some(_) => Chrome::new(viewer, "/customers", "cust.edit_title"),
        None => Chrome::new(viewer, "/customers/new", "nav.new_customer"),
    }
}

/// What went wrong with a submission, to show in the form.
#[derive(Default)]
struct Trouble {
    errors: Vec<FieldError>,
    messages: Vec<String>,
    duplicates: Vec<DuplicateRow>,
    family: Vec<DuplicateRow>,
    offer_override: bool,
    conflict: Vec<(String, String)>,
}

fn form_page(
    viewer: &Viewer,
    form: &CustomerForm,
    posted: Option<&Posted>,
    trouble: Trouble,
) -> FormPage {
    let customer = form.customer.as_ref();
    let values = Values { posted, customer };
    let lang = viewer.lang;
    let ctype = match posted {
        Some(p) => p.get("customer_type").unwrap_or("").to_string(),
        None => customer
            .map(|c| c.customer_type.clone())
            .unwrap_or_else(|| "enterprise".into()),
    };
    let inputs = inputs(&form.into(), lang, &values, &ctype, &trouble.errors);
    let assign = assign_inputs(&form.assignment, customer, posted, &trouble.errors, lang);
    let mut messages = trouble.messages;
    let loose: Vec<FieldError> = trouble
        .errors
        .iter()
        .filter(|e| !assign.shows(&e.field))
        .cloned()
        .collect();
    messages.extend(other_errors(&loose, &inputs, lang));
    let region = match posted {
        Some(p) => p.get("region_code"),
        None => customer.and_then(|c| c.region_code.as_deref()),
    };
    let region_html = region_cascade(lang, region, RegionUse::Form).html();
    let code = customer.map(|c| c.code.clone());
    FormPage {
        chrome: form_chrome(viewer, code.as_deref()),
        cancel_href: match &code {
            Some(c) => format!("/customers/{}", encode_component(c)),
            None => "/customers".into(),
        },
        action: match &code {
            Some(c) => format!("/customers/{}/edit", encode_component(c)),
            None => "/customers/new".into(),
        },
        version: posted
            .and_then(|p| p.get("version"))
            .and_then(|v| v.parse().ok())
            .or(customer.map(|c| c.version))
            .unwrap_or(0),
        code,
        inputs,
        region_html,
        dup_hints: true,
        assign,
        customer_type: ctype,
        reason: posted
            .and_then(|p| p.get("reason"))
            .unwrap_or("")
            .to_string(),
        reason_error: error_of(&trouble.errors, "reason", lang),
        messages,
        duplicates: trouble.duplicates,
        family: trouble.family,
        offer_override: trouble.offer_override,
        conflict: trouble.conflict,
    }
}

/// `GET /customers/new`. A viewer who may not create customers directly applies for a
/// new one instead (the application form of kind `create`).
pub(crate) async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    match state
        .app
        .customers()
        .customer_form(&viewer.actor, None)
        .await
    {
        Ok(form) if !form.may_create => {
            Redirect::to("/applications/new?kind=create").into_response()
        }
        Ok(form) => render(
            StatusCode::OK,
            &form_page(&viewer, &form, None, Trouble::default()),
        ),
        Err(e) => PageError::new(form_chrome(&viewer, None), e).into_response(),
    }
}

/// `GET /customers/{code}/edit`.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> Response {
    match state
        .app
        .customers()
        .customer_form(&viewer.actor, Some(&code))
        .await
    {
        Ok(form) => render(
            StatusCode::OK,
            &form_page(&viewer, &form, None, Trouble::default()),
        ),
        Err(e) => PageError::new(form_chrome(&viewer, Some(&code)), e).into_response(),
    }
}

/// The refusal of a submission as something to show in the form, or the error page.
fn trouble_of(
    viewer: &Viewer,
    error: AppError,
    mut extra: Vec<FieldError>,
) -> Result<Trouble, AppError> {
    let lang = viewer.lang;
    let mut t = Trouble::default();
    match error {
        AppError::Validation(errors) => {
            extra.extend(errors);
        }
        AppError::Duplicate { violation, report } => {
            t.messages.push(violation.message(lang).to_string());
            t.duplicates = duplicate_rows(&report, lang);
            t.family = family_rows(&report, lang);
            t.offer_override = viewer.actor.can("duplicate.manage");
            if report.outside_scope_match {
                t.messages.push(outside_message(&report, lang));
            }
        }
        AppError::Rejected(v) => t.messages.push(v.message(lang).to_string()),
        e => return Err(e),
    }
    t.errors = extra;
    Ok(t)
}

fn outside_message(report: &DuplicateReport, lang: Lang) -> String {
    match lang {
        Lang::Zh => report.outside_scope_message_zh.clone(),
        Lang::En => report.outside_scope_message_en.clone(),
    }
    .unwrap_or_default()
}

/// `POST /customers/new`: create directly (`customer.create`); on success the new
/// customer's page, which shows its code.
pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(form_chrome(&viewer, None));
    }
    let form = match state
        .app
        .customers()
        .customer_form(&viewer.actor, None)
        .await
    {
        Ok(f) => f,
        Err(e) => return PageError::new(form_chrome(&viewer, None), e).into_response(),
    };
    let (mut body, mut type_errors) = posted_json(&posted, &form.fields, false, &[], false);
    type_errors.extend(assigned_json(&posted, &form.assignment, None, &mut body));
    body.entry("customer_type")
        .or_insert(serde_json::Value::String(String::new()));
    let input: Input<NewCustomer> = match type_errors.is_empty() {
        true => match serde_json::from_value::<NewCustomer>(serde_json::Value::Object(body)) {
            Ok(v) => Input::from(v),
            Err(e) => Input::invalid(AppError::Internal(format!("form body: {e}"))),
        },
        false => Input::invalid(AppError::Validation(type_errors)),
    };
    match state
        .app
        .customers()
        .create_customer(&viewer.actor, input)
        .await
    {
        Ok(created) => created_redirect(&created),
        Err(e) => match trouble_of(&viewer, e, Vec::new()) {
            Ok(t) => render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(&viewer, &form, Some(&posted), t),
            ),
            Err(e) => PageError::new(form_chrome(&viewer, None), e).into_response(),
        },
    }
}

fn created_redirect(c: &CustomerView) -> Response {
    Redirect::to(&format!(
        "/customers/{}?created=1",
        encode_component(&c.code)
    ))
    .into_response()
}

/// `POST /customers/{code}/edit`: the changes against the version read; a lost race
/// shows the newer values.
pub(crate) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    posted: Posted,
) -> Response {
    let chrome = || form_chrome(&viewer, Some(&code));
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome());
    }
    let form = match state
        .app
        .customers()
        .customer_form(&viewer.actor, Some(&code))
        .await
    {
        Ok(f) => f,
        Err(e) => return PageError::new(chrome(), e).into_response(),
    };
    let (mut body, mut type_errors) = posted_json(
        &posted,
        &form.fields,
        true,
        &kept_masked(&(&form).into()),
        false,
    );
    type_errors.extend(assigned_json(
        &posted,
        &form.assignment,
        form.customer.as_ref(),
        &mut body,
    ));
    let version = posted
        .get("version")
        .and_then(|v| v.trim().parse::<i64>().ok());
    body.insert("version".into(), serde_json::json!(version.unwrap_or(-1)));
    let patch: Result<CustomerPatch, _> = serde_json::from_value(serde_json::Value::Object(body));
    let result = match (type_errors.is_empty(), patch) {
        (true, Ok(patch)) => {
            state
                .app
                .customers()
                .update_customer(&viewer.actor, &code, patch)
                .await
        }
        (true, Err(e)) => Err(AppError::Internal(format!("form body: {e}"))),
        (false, _) => Err(AppError::Validation(type_errors)),
    };
    let error = match result {
        Ok(saved) => return created_redirect(&saved),
        Err(e) => e,
    };
    if let AppError::Conflict(v) = &error {
        if v.code == "customer.version_stale" {
            return conflict_page(&viewer, &form, &posted, v.message(viewer.lang));
        }
    }
    match trouble_of(&viewer, error, Vec::new()) {
        Ok(t) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form_page(&viewer, &form, Some(&posted), t),
        ),
        Err(e) => PageError::new(chrome(), e).into_response(),
    }
}

/// The form again after a lost race: the viewer's values kept, the newer stored values
/// listed beside, and the newer version, so saving again overwrites knowingly.
fn conflict_page(viewer: &Viewer, form: &CustomerForm, posted: &Posted, message: &str) -> Response {
    let mut page = form_page(viewer, form, Some(posted), Trouble::default());
    let newer = Values {
        posted: None,
        customer: form.customer.as_ref(),
    };
    let newer_inputs = inputs(&form.into(), viewer.lang, &newer, &page.customer_type, &[]);
    page.conflict = page
        .inputs
        .iter()
        .zip(newer_inputs)
        .filter(|(mine, theirs)| theirs.masked.is_none() && mine.value != theirs.value)
        .map(|(_, theirs)| {
            let shown = theirs
                .choices
                .iter()
                .find(|c| c.selected)
                .map(|c| c.label.clone())
                .unwrap_or(theirs.value);
            (theirs.label, shown)
        })
        .collect();
    page.messages.push(message.to_string());
    page.version = form.customer.as_ref().map(|c| c.version).unwrap_or(0);
    render(StatusCode::CONFLICT, &page)
}

#[derive(Template)]
#[template(path = "console/customers/hints.html")]
struct HintsFragment {
    chrome: Chrome,
    duplicates: Vec<DuplicateRow>,
    family: Vec<DuplicateRow>,
    outside: Option<String>,
    pii_withheld: bool,
    message: Option<String>,
}

/// `POST /customers/new/duplicates` (htmx, while typing): the duplicate check of the
/// draft — the API's use case, with its disclosure rules, limit and audit.
pub(crate) async fn hints(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/customers/new", "nav.new_customer");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let text = |k: &str| {
        posted
            .get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let draft = NewCustomer {
        customer_type: text("customer_type").unwrap_or_default(),
        name: text("name").unwrap_or_default(),
        uscc: text("uscc"),
        id_number: text("id_number"),
        mobile: text("mobile"),
        region_code: text("region_code"),
        address: text("address"),
        ..NewCustomer::default()
    };
    let nothing = draft.name.chars().count() < 2
        && draft.uscc.is_none()
        && draft.id_number.is_none()
        && draft.mobile.is_none()
        && draft.address.is_none();
    let mut page = HintsFragment {
        chrome,
        duplicates: Vec::new(),
        family: Vec::new(),
        outside: None,
        pii_withheld: false,
        message: None,
    };
    if nothing {
        return render(StatusCode::OK, &page);
    }
    match state
        .app
        .customers()
        .check_duplicates(&viewer.actor, draft)
        .await
    {
        Ok(report) => {
            page.duplicates = duplicate_rows(&report, viewer.lang);
            page.family = family_rows(&report, viewer.lang);
            page.pii_withheld = report.pii_withheld && !page.duplicates.is_empty();
            if report.outside_scope_match {
                page.outside = Some(outside_message(&report, viewer.lang));
            }
        }
        // A value the check cannot compare yet (still being typed) shows nothing.
        Err(AppError::Validation(_)) => {}
        Err(AppError::TooManyRequests { violation, .. }) => {
            page.message = Some(violation.message(viewer.lang).to_string())
        }
        Err(e) => return PageError::new(page.chrome, e).into_response(),
    }
    render(StatusCode::OK, &page)
}
