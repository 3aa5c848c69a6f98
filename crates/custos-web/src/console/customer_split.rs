//! `/customers/{code}/split` (拆分): one new customer made out of a record that mixes two
//! (its inputs from the field catalog, the contacts that move to it ticked), the
//! original kept or retired; the split use case directly, or a split application when
//! the viewer may not split. A record that should be split in more parts is split again.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use custos_app::customers::merge::SplitRequest;
use custos_app::customers::split_sheet::{SplitOutcome, SplitSheet};
use custos_app::AppError;
use custos_core::violation::FieldError;

use super::customer_fields::{
    error_of, inputs, other_errors, posted_json, FieldInput, FormSource, Values,
};
use super::customer_words::{contact_line, duplicate_rows, family_rows, DuplicateRow};
use super::form::Posted;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::region_cascade::{region_cascade, RegionUse};
use super::session::{encode_component, Viewer};
use crate::AppState;

/// The prefix of the errors the use case reports about the one part's fields.
const PART: &str = "parts[0].customer.";

/// One contact of the original, offered to move.
struct ContactChoice {
    id: i64,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "console/customers/split.html")]
struct SplitPage {
    chrome: Chrome,
    code: String,
    code_path: String,
    name: String,
    may_split: bool,
    contacts: Vec<ContactChoice>,
    contacts_error: Option<String>,
    inputs: Vec<FieldInput>,
    region_html: String,
    dup_hints: bool,
    retire: bool,
    original_error: Option<String>,
    reason: String,
    reason_error: Option<String>,
    messages: Vec<String>,
    /// The new part looks like an existing customer: the candidates, and whether the
    /// viewer may split anyway.
    duplicates: Vec<DuplicateRow>,
    /// Possible family members of the new part (never merge proposals).
    family: Vec<DuplicateRow>,
    offer_override: bool,
}

/// What went wrong with a submission.
#[derive(Default)]
struct Trouble {
    errors: Vec<FieldError>,
    messages: Vec<String>,
    duplicates: Vec<DuplicateRow>,
    family: Vec<DuplicateRow>,
    offer_override: bool,
}

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/customers", "split.title")
}

/// The errors about the part's fields renamed to the inputs' names; the rest as sent.
fn part_errors(errors: &[FieldError]) -> Vec<FieldError> {
    errors
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(rest) = e.field.strip_prefix(PART) {
                e.field = rest.to_string();
            } else if e.field.starts_with("parts[0].contacts") {
                e.field = "contacts".into();
            }
            e
        })
        .collect()
}

fn split_page(
    viewer: &Viewer,
    sheet: &SplitSheet,
    posted: Option<&Posted>,
    trouble: Trouble,
) -> SplitPage {
    let lang = viewer.lang;
    let errors = part_errors(&trouble.errors);
    let mut messages = trouble.messages;
    let values = Values {
        posted,
        customer: None,
    };
    let ctype = posted
        .and_then(|p| p.get("customer_type"))
        .unwrap_or(&sheet.original.customer_type)
        .to_string();
    let source = FormSource {
        fields: &sheet.fields,
        customer_types: &sheet.customer_types,
        customer: None,
    };
    let inputs = inputs(&source, lang, &values, &ctype, &errors);
    let ticked: Vec<&str> = posted
        .map(|p| {
            p.fields
                .iter()
                .filter(|(k, _)| k == "contacts")
                .map(|(_, v)| v.as_str())
                .collect()
        })
        .unwrap_or_default();
    let contacts = sheet
        .original
        .contacts
        .iter()
        .map(|c| ContactChoice {
            id: c.id,
            label: contact_line(c, lang),
            checked: ticked.contains(&c.id.to_string().as_str()),
        })
        .collect();
    let shown: Vec<FieldError> = errors
        .iter()
        .filter(|e| !["contacts", "original", "reason", "parts"].contains(&e.field.as_str()))
        .cloned()
        .collect();
    messages.extend(other_errors(&shown, &inputs, lang));
    messages.extend(error_of(&errors, "parts", lang));
    let region = posted.and_then(|p| p.get("region_code"));
    SplitPage {
        chrome: chrome(viewer),
        code: sheet.original.code.clone(),
        code_path: encode_component(&sheet.original.code),
        name: sheet.original.name.clone(),
        may_split: sheet.may_split,
        contacts,
        contacts_error: error_of(&errors, "contacts", lang),
        inputs,
        region_html: region_cascade(lang, region, RegionUse::Form).html(),
        dup_hints: false,
        retire: posted.and_then(|p| p.get("original")) == Some("retire"),
        original_error: error_of(&errors, "original", lang),
        reason: posted.and_then(|p| p.get("reason")).unwrap_or("").into(),
        reason_error: error_of(&errors, "reason", lang),
        messages,
        duplicates: trouble.duplicates,
        family: trouble.family,
        offer_override: trouble.offer_override,
    }
}

/// `GET /customers/{code}/split`.
pub(crate) async fn form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> Response {
    match state
        .app
        .customers()
        .split_sheet(&viewer.actor, &code)
        .await
    {
        Ok(sheet) => render(
            StatusCode::OK,
            &split_page(&viewer, &sheet, None, Trouble::default()),
        ),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// The split request of a posted page, and the errors of values not of their type.
fn posted_request(posted: &Posted, sheet: &SplitSheet) -> (Value, Vec<FieldError>) {
    let (mut part, errors) = posted_json(posted, &sheet.fields, false, &[], false);
    part.remove("reason");
    part.entry("customer_type")
        .or_insert(Value::String(String::new()));
    let contacts: Vec<i64> = posted
        .fields
        .iter()
        .filter(|(k, _)| k == "contacts")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    let body = json!({
        "parts": [{"customer": Value::Object(part), "contacts": contacts}],
        "original": posted.get("original").unwrap_or("keep"),
        "reason": posted.get("reason").map(str::trim).filter(|r| !r.is_empty()),
    });
    (body, errors)
}

/// `POST /customers/{code}/split`: split (or apply for the split), then the original's
/// lineage or the application's page; errors beside their inputs with the values kept.
pub(crate) async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let sheet = match state
        .app
        .customers()
        .split_sheet(&viewer.actor, &code)
        .await
    {
        Ok(s) => s,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let (body, type_errors) = posted_request(&posted, &sheet);
    let done = match (
        type_errors.is_empty(),
        serde_json::from_value::<SplitRequest>(body),
    ) {
        (true, Ok(req)) => {
            state
                .app
                .customers()
                .split_or_apply(&viewer.actor, &code, req)
                .await
        }
        (true, Err(e)) => Err(AppError::Internal(format!("split form: {e}"))),
        (false, _) => Err(AppError::Validation(
            type_errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("{PART}{}", e.field);
                    e
                })
                .collect(),
        )),
    };
    let lang = viewer.lang;
    let trouble = match done {
        Ok(SplitOutcome::Split(r)) => {
            let to = format!(
                "/customers/{}?tab=codes",
                encode_component(&r.original.code)
            );
            return Redirect::to(&to).into_response();
        }
        Ok(SplitOutcome::Applied(a)) => {
            return Redirect::to(&format!("/applications/{}", a.id)).into_response();
        }
        Err(AppError::Validation(errors)) => Trouble {
            errors,
            ..Trouble::default()
        },
        Err(AppError::Duplicate { violation, report }) => Trouble {
            messages: vec![violation.message(lang).to_string()],
            duplicates: duplicate_rows(&report, lang),
            family: family_rows(&report, lang),
            offer_override: viewer.actor.can("duplicate.manage"),
            ..Trouble::default()
        },
        Err(e @ (AppError::Conflict(_) | AppError::Rejected(_))) => Trouble {
            messages: vec![e.detail(lang)],
            ..Trouble::default()
        },
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &split_page(&viewer, &sheet, Some(&posted), trouble),
    )
}
