//! `/rules/new` and `/rules/{key}/edit` (规则设计器): compose a rule from segments, each
//! change checked on the server by the engine (`Codes::check_code_rule`) with a preview of
//! the next codes for a sample customer, consuming nothing; 保存草稿 is the API's
//! `POST /api/v1/code-rules` use case. The form posts to `/rules/designer`; htmx swaps
//! the designer's body, and without scripts the whole page comes back.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use custos_app::codes::{code_rule_templates, rule_as_new, NewCodeRule, RuleCheck};
use custos_app::AppError;
use custos_core::violation::{FieldError, Lang};

use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::rule_form::{kind_fields, RuleForm, KINDS};
use super::session::Viewer;
use crate::AppState;

/// One segment as the designer shows it.
pub(crate) struct SegmentRow {
    pub index: usize,
    pub kind: String,
    /// `(field, value typed, error)` in the kind's order.
    pub fields: Vec<(&'static str, String, Option<String>)>,
    pub errors: Vec<String>,
    pub first: bool,
    pub last: bool,
}

/// The designer's body: the form's inputs, the errors beside them and the preview.
#[derive(Template)]
#[template(path = "console/rules/designer_body.html")]
pub(crate) struct DesignerBody {
    lang: Lang,
    form: RuleForm,
    rows: Vec<SegmentRow>,
    kinds: &'static [&'static str],
    key_error: Option<String>,
    name_error: Option<String>,
    types_error: Option<String>,
    regions_error: Option<String>,
    sample_error: Option<String>,
    /// Errors about the segments as a whole and refusals of the save.
    messages: Vec<String>,
    codes: Vec<String>,
    scope: Option<String>,
    examples_only: bool,
    checked: bool,
}

impl DesignerBody {
    fn t<'a>(&self, key: &'a str) -> &'a str {
        t(self.lang, key)
    }

    /// The word for a choice of a segment field (`rules.reset.daily`), or the value.
    fn choice(&self, field: &str, value: &str) -> String {
        let key = format!("rules.{field}.{value}");
        match t(self.lang, &key) {
            w if w == key => value.to_string(),
            w => w.to_string(),
        }
    }

    fn is(&self, a: &str, b: &str) -> bool {
        a == b
    }

    /// The values a select field offers.
    fn options(&self, field: &str) -> &'static [&'static str] {
        match field {
            "level" => &["province", "city", "county"],
            "format" => &["yyyy", "yy", "yyyyMM", "yyyyMMdd"],
            "reset" => &["never", "yearly", "monthly", "daily"],
            "algorithm" => &["mod11-2", "mod37-2", "luhn"],
            _ => &[],
        }
    }
}

#[derive(Template)]
#[template(path = "console/rules/designer.html")]
struct DesignerPage {
    chrome: Chrome,
    templates: Vec<(&'static str, &'static str)>,
    editing: Option<String>,
    body_html: String,
}

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/rules", "rules.designer")
}

fn error_on(errors: &[FieldError], field: &str, lang: Lang) -> Option<String> {
    let found: Vec<&str> = errors
        .iter()
        .filter(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
        .map(|e| e.violation.message(lang))
        .collect();
    (!found.is_empty()).then(|| found.join("；"))
}

fn body(lang: Lang, form: RuleForm, check: RuleCheck, mut messages: Vec<String>) -> DesignerBody {
    let errors = &check.errors;
    let rows = form
        .segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let prefix = format!("segments[{i}]");
            // In the kind's own order (width before start before reset).
            let fields = kind_fields(&seg.kind)
                .iter()
                .map(|(name, _)| {
                    (
                        *name,
                        seg.fields.get(name).cloned().unwrap_or_default(),
                        error_on(errors, &format!("{prefix}.{name}"), lang),
                    )
                })
                .collect();
            let segment_errors = errors
                .iter()
                .filter(|e| {
                    e.field == prefix
                        || (e.field.starts_with(&format!("{prefix}."))
                            && !seg
                                .fields
                                .keys()
                                .any(|n| e.field == format!("{prefix}.{n}")))
                })
                .map(|e| e.violation.message(lang).to_string())
                .collect();
            SegmentRow {
                index: i,
                kind: seg.kind.clone(),
                fields,
                errors: segment_errors,
                first: i == 0,
                last: i + 1 == form.segments.len(),
            }
        })
        .collect();
    let placed = |f: &str| {
        f == "key"
            || f == "name"
            || f.starts_with("applies_to")
            || f.starts_with("segments[")
            || f == "date"
            || f == "sample"
            || f == "attributes"
    };
    messages.extend(
        errors
            .iter()
            .filter(|e| !placed(&e.field))
            .map(|e| e.violation.message(lang).to_string()),
    );
    let sample_error = ["sample", "date", "attributes"]
        .iter()
        .filter_map(|f| error_on(errors, f, lang))
        .reduce(|a, b| format!("{a}；{b}"));
    let key_error = error_on(errors, "key", lang);
    let name_error = error_on(errors, "name", lang);
    let types_error = error_on(errors, "applies_to.customer_types", lang);
    let regions_error = error_on(errors, "applies_to.region_prefixes", lang);
    let checked = errors.is_empty();
    let (codes, scope, examples_only) = match check.preview {
        Some(p) => (p.codes, p.scope, p.examples_only),
        None => (Vec::new(), None, false),
    };
    DesignerBody {
        lang,
        key_error,
        name_error,
        types_error,
        regions_error,
        sample_error,
        messages,
        checked,
        codes,
        scope,
        examples_only,
        rows,
        kinds: KINDS,
        form,
    }
}

/// Check the form with the engine: the form's own type errors first (then no preview).
async fn checked(
    state: &AppState,
    viewer: &Viewer,
    form: &RuleForm,
) -> Result<RuleCheck, AppError> {
    let (rule, sample, form_errors) = form.rule();
    let mut check = state
        .app
        .codes()
        .check_code_rule(&viewer.actor, rule, sample)
        .await?;
    if let Some(mut errors) = form_errors {
        // Segments were left out: the engine's segment positions would not match.
        check
            .errors
            .retain(|e| !e.field.starts_with("segments") && !e.field.starts_with("sample"));
        errors.append(&mut check.errors);
        check.errors = errors;
        check.preview = None;
    }
    Ok(check)
}

fn page(viewer: &Viewer, status: StatusCode, body: DesignerBody) -> Response {
    let editing = body.form.editing.then(|| body.form.key.clone());
    let body_html = match body.render() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "designer template failed");
            String::new()
        }
    };
    let templates = code_rule_templates()
        .into_iter()
        .map(|tpl| {
            let title = match viewer.lang {
                Lang::Zh => tpl.title_zh,
                Lang::En => tpl.title_en,
            };
            (tpl.id, title)
        })
        .collect();
    render(
        status,
        &DesignerPage {
            chrome: chrome(viewer),
            templates,
            editing,
            body_html,
        },
    )
}

async fn start(state: &AppState, viewer: &Viewer, form: RuleForm) -> Response {
    match checked(state, viewer, &form).await {
        Ok(check) => page(
            viewer,
            StatusCode::OK,
            body(viewer.lang, form, check, Vec::new()),
        ),
        Err(e) => PageError::new(chrome(viewer), e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct NewQuery {
    template: Option<String>,
}

/// `GET /rules/new[?template=by-type]`: an empty rule (a constant and a sequence) or one
/// of the seed 001 templates.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NewQuery>,
) -> Response {
    let templates = code_rule_templates();
    let form = match q
        .template
        .as_deref()
        .and_then(|id| templates.iter().find(|tpl| tpl.id == id))
    {
        Some(tpl) => RuleForm::of(&tpl.rule, false),
        None => {
            let mut form = RuleForm::of(
                &NewCodeRule {
                    key: String::new(),
                    name: String::new(),
                    applies_to: Default::default(),
                    segments: Vec::new(),
                },
                false,
            );
            form.apply("add", "constant");
            form.apply("add", "sequence");
            form
        }
    };
    start(&state, &viewer, form).await
}

/// `GET /rules/{key}/edit`: the newest version as the start of the next one.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> Response {
    let view = match state.app.codes().get_code_rule(&viewer.actor, &key).await {
        Ok(v) => v,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    match rule_as_new(&view) {
        Some(rule) => start(&state, &viewer, RuleForm::of(&rule, true)).await,
        None => {
            PageError::new(chrome(&viewer), AppError::not_found("code_rule", key)).into_response()
        }
    }
}

/// A designer answer: the body alone for htmx, else the whole page.
fn answer(viewer: &Viewer, htmx: bool, status: StatusCode, body: DesignerBody) -> Response {
    match htmx {
        true => render(status, &body),
        false => page(viewer, status, body),
    }
}

/// `POST /rules/designer`: apply `op` (add / remove / up / down / check), check with the
/// engine and show the preview; `op=save` stores the rule as a draft version and opens
/// the rule's page.
pub(crate) async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let htmx = headers.contains_key("hx-request");
    let mut form = RuleForm::posted(&posted);
    let op = posted.get("op").unwrap_or("check");
    let add_kind = form.add_kind.clone();
    form.apply(op, &add_kind);
    let check = match checked(&state, &viewer, &form).await {
        Ok(c) => c,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    if op != "save" {
        let status = match check.errors.is_empty() {
            true => StatusCode::OK,
            false => StatusCode::UNPROCESSABLE_ENTITY,
        };
        return answer(
            &viewer,
            htmx,
            status,
            body(viewer.lang, form, check, Vec::new()),
        );
    }
    let (rule, _, form_errors) = form.rule();
    if form_errors.is_some() || !check.errors.is_empty() {
        let b = body(viewer.lang, form, check, Vec::new());
        return answer(&viewer, htmx, StatusCode::UNPROCESSABLE_ENTITY, b);
    }
    match state
        .app
        .codes()
        .create_code_rule(&viewer.actor, rule)
        .await
    {
        Ok(view) => {
            // A stored key is lower-case letters, digits, - and _: a path as it is.
            let to = format!("/rules/{}", view.key);
            if htmx {
                let mut r = StatusCode::NO_CONTENT.into_response();
                if let Ok(v) = HeaderValue::from_str(&to) {
                    r.headers_mut().insert("hx-redirect", v);
                }
                return r;
            }
            Redirect::to(&to).into_response()
        }
        Err(AppError::Validation(errors)) => {
            let check = RuleCheck {
                errors,
                preview: check.preview,
            };
            let b = body(viewer.lang, form, check, Vec::new());
            answer(&viewer, htmx, StatusCode::UNPROCESSABLE_ENTITY, b)
        }
        // A draft already waiting, a concurrent change: said above the form, kept as typed.
        Err(e @ (AppError::Conflict(_) | AppError::Rejected(_))) => {
            let message = vec![e.detail(viewer.lang)];
            let b = body(viewer.lang, form, check, message);
            answer(&viewer, htmx, StatusCode::UNPROCESSABLE_ENTITY, b)
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}
