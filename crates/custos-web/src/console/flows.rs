//! `/flows` (审批流程): the flows of every application kind with their status, and
//! `/flows/{key}` (`/flows/new`) the editor: steps with their approvers (role, named
//! users, the applicant's department manager), any-one or all, auto-approval, and the
//! conditions; steps are added, removed and reordered by the form itself (no script), a
//! save is `POST /api/v1/flows`'s use case (a new version), and a preview shows who would
//! approve a sample application (`?applicant=…`, read-only).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use custos_app::applications::{FlowEditor, FlowPreview, FlowSample};
use custos_app::flows::{FlowView, NewFlow, KINDS};
use custos_app::terms::{term_or_code, Terms};
use custos_app::{AppError, Input};
use custos_core::violation::{FieldError, Lang};

use super::flow_form::{flow_from_form, posted_text, step_inputs_of, StepInput, StepOp};
use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::AppState;
use custos_app::clock::local_minutes;

/// The inputs outside the steps that errors are shown beside.
const TOP_FIELDS: &[&str] = &[
    "key",
    "kind",
    "name",
    "priority",
    "steps",
    "conditions.customer_types",
    "conditions.region_prefixes",
    "conditions.departments",
];

/// One flow in the list: its newest version.
struct FlowItem {
    key: String,
    name: String,
    version: i64,
    priority: i64,
    active: bool,
    builtin: bool,
    steps: String,
    conditions: String,
}

struct KindGroup {
    kind: String,
    label: String,
    flows: Vec<FlowItem>,
}

#[derive(Template)]
#[template(path = "console/flows/list.html")]
struct ListPage {
    chrome: Chrome,
    groups: Vec<KindGroup>,
    may_edit: bool,
}

/// A choice of a select list or a checkbox group.
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The sample application of the preview, as typed.
#[derive(Deserialize, Default)]
pub(crate) struct SampleQuery {
    #[serde(default)]
    applicant: Option<String>,
    #[serde(default)]
    customer_type: Option<String>,
    #[serde(default)]
    region_code: Option<String>,
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    disabled: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

struct PreviewStep {
    name: String,
    mode: String,
    approvers: String,
    fallback: bool,
    auto: bool,
}

struct PreviewView {
    name: String,
    version: i64,
    applies: bool,
    chosen_name: String,
    steps: Vec<PreviewStep>,
}

#[derive(Template)]
#[template(path = "console/flows/edit.html")]
struct EditPage {
    chrome: Chrome,
    is_new: bool,
    action: String,
    key: String,
    kind: String,
    kind_label: String,
    kinds: Vec<Choice>,
    name: String,
    priority: String,
    customer_types: Vec<Choice>,
    region_prefixes: String,
    departments: Vec<Choice>,
    steps: Vec<StepInput>,
    roles: Vec<(String, String)>,
    users: Vec<(i64, String)>,
    errors: Vec<(String, String)>,
    messages: Vec<String>,
    active: bool,
    versions: Vec<(i64, String, bool)>,
    notice: Option<String>,
    sample_region: String,
    applicants: Vec<Choice>,
    sample_types: Vec<Choice>,
    preview: Option<PreviewView>,
    preview_errors: Vec<String>,
}

impl EditPage {
    /// The error beside the input named `field` (and the fields under it).
    fn err(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn step_summary(f: &FlowView) -> String {
    f.steps
        .iter()
        .map(|s| s.name.clone())
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" → ")
}

fn condition_summary(f: &FlowView, lang: Lang) -> String {
    let c = &f.conditions;
    let mut parts = Vec::new();
    if !c.customer_types.is_empty() {
        let types: Vec<String> = c
            .customer_types
            .iter()
            .map(|x| term_or_code(Terms::CustomerType, x, lang))
            .collect();
        parts.push(format!("{}：{}", t(lang, "flows.types"), types.join("、")));
    }
    if !c.region_prefixes.is_empty() {
        parts.push(format!(
            "{}：{}",
            t(lang, "flows.regions"),
            c.region_prefixes.join("、")
        ));
    }
    if !c.departments.is_empty() {
        let ids: Vec<String> = c.departments.iter().map(|d| d.to_string()).collect();
        parts.push(format!(
            "{}：{}",
            t(lang, "flows.departments"),
            ids.join("、")
        ));
    }
    if parts.is_empty() {
        t(lang, "flows.always").to_string()
    } else {
        parts.join("；")
    }
}

/// `GET /flows` (the API's permission: `role.manage` or `application.approve`).
pub(crate) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let chrome = Chrome::new(&viewer, "/flows", "flows.title");
    let flows = match state.app.flows().list_flows(&viewer.actor).await {
        Ok(f) => f,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let lang = viewer.lang;
    let groups = KINDS
        .iter()
        .map(|(kind, _)| {
            // The newest version of each key (versions come oldest first).
            let mut items: Vec<FlowItem> = Vec::new();
            for f in flows.iter().filter(|f| f.kind == *kind) {
                let item = FlowItem {
                    key: f.key.clone(),
                    name: f.name.clone(),
                    version: f.version,
                    priority: f.priority,
                    active: f.active,
                    builtin: f.builtin,
                    steps: step_summary(f),
                    conditions: condition_summary(f, lang),
                };
                match items.iter_mut().find(|i| i.key == f.key) {
                    Some(old) => *old = item,
                    None => items.push(item),
                }
            }
            KindGroup {
                kind: kind.to_string(),
                label: term_or_code(Terms::ApplicationKind, kind, lang),
                flows: items,
            }
        })
        .collect();
    let page = ListPage {
        may_edit: viewer.actor.can("role.manage"),
        chrome,
        groups,
    };
    render(StatusCode::OK, &page)
}

/// The values of the editor: a stored flow, or what was posted.
struct Shown {
    key: String,
    kind: String,
    name: String,
    priority: String,
    customer_types: Vec<String>,
    region_prefixes: String,
    departments: Vec<String>,
    steps: Vec<StepInput>,
}

fn shown_of(f: &FlowView) -> Shown {
    Shown {
        key: f.key.clone(),
        kind: f.kind.clone(),
        name: f.name.clone(),
        priority: f.priority.to_string(),
        customer_types: f.conditions.customer_types.clone(),
        region_prefixes: f.conditions.region_prefixes.join(", "),
        departments: f
            .conditions
            .departments
            .iter()
            .map(|d| d.to_string())
            .collect(),
        steps: f.steps.iter().enumerate().map(StepInput::of).collect(),
    }
}

fn shown_posted(p: &Posted, key: Option<&str>) -> Shown {
    let all = |name: &str| -> Vec<String> {
        p.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    Shown {
        key: key
            .map(str::to_string)
            .unwrap_or_else(|| p.get("key").unwrap_or("").trim().to_string()),
        kind: p.get("kind").unwrap_or("").to_string(),
        name: p.get("name").unwrap_or("").to_string(),
        priority: p.get("priority").unwrap_or("").to_string(),
        customer_types: all("conditions.customer_types"),
        region_prefixes: posted_text(p, "conditions.region_prefixes"),
        departments: all("conditions.departments"),
        steps: step_inputs_of(p),
    }
}

/// Everything else the editor page needs besides the flow's values.
struct Extras {
    errors: Vec<FieldError>,
    notice: Option<String>,
    sample: SampleQuery,
    preview: Option<Result<FlowPreview, AppError>>,
}

fn choices(items: &[(String, String)], selected: &[String]) -> Vec<Choice> {
    items
        .iter()
        .map(|(v, l)| Choice {
            value: v.clone(),
            label: l.clone(),
            selected: selected.contains(v),
        })
        .collect()
}

fn edit_page(
    state: &AppState,
    viewer: &Viewer,
    ed: &FlowEditor,
    is_new: bool,
    s: Shown,
    x: Extras,
) -> EditPage {
    let tz = state.app.config.code_timezone;
    let lang = viewer.lang;
    let chrome = Chrome::new(viewer, "/flows", "flows.edit_title");
    let kinds: Vec<(String, String)> = KINDS
        .iter()
        .map(|(k, _)| (k.to_string(), term_or_code(Terms::ApplicationKind, k, lang)))
        .collect();
    let types: Vec<(String, String)> = ed
        .customer_types
        .iter()
        .map(|c| {
            let label = match lang {
                Lang::Zh => c.label_zh.clone(),
                Lang::En => c.label_en.clone(),
            };
            (c.key.clone(), label)
        })
        .collect();
    let depts: Vec<(String, String)> = ed
        .departments
        .iter()
        .map(|(id, n)| (id.to_string(), n.clone()))
        .collect();
    let users: Vec<(i64, String)> = ed
        .users
        .iter()
        .map(|u| (u.id, format!("{}（{}）", u.name, u.username)))
        .collect();
    let applicant_values: Vec<(String, String)> = users
        .iter()
        .map(|(id, n)| (id.to_string(), n.clone()))
        .collect();
    // Errors by the input they belong to; the rest above the form.
    let mut errors = Vec::new();
    let mut messages = Vec::new();
    let mut steps = s.steps;
    for e in &x.errors {
        let msg = e.violation.message(lang).to_string();
        if let Some(step) = steps.iter_mut().find(|st| st.claims(&e.field)) {
            step.add_error(&e.field, msg);
        } else if let Some(f) = TOP_FIELDS
            .iter()
            .find(|f| e.field == **f || e.field.starts_with(&format!("{f}[")))
        {
            errors.push((f.to_string(), msg));
        } else {
            messages.push(msg);
        }
    }
    let kind_label = term_or_code(Terms::ApplicationKind, &s.kind, lang);
    let active = ed.versions.first().is_some_and(|v| v.active);
    let versions = ed
        .versions
        .iter()
        .map(|v| {
            let at = v.created_at.as_deref().unwrap_or_default();
            (v.version, local_minutes(at, tz), v.active)
        })
        .collect();
    let (preview, preview_errors) = match x.preview {
        None => (None, Vec::new()),
        Some(Ok(p)) => (Some(preview_view(&p, lang)), Vec::new()),
        Some(Err(AppError::Validation(fs))) => (
            None,
            fs.iter()
                .map(|f| f.violation.message(lang).to_string())
                .collect(),
        ),
        Some(Err(e)) => (None, vec![e.detail(lang)]),
    };
    let sample_type = x.sample.customer_type.clone().unwrap_or_default();
    EditPage {
        action: match is_new {
            true => "/flows/new".into(),
            false => format!("/flows/{}", encode_component(&s.key)),
        },
        is_new,
        kinds: choices(&kinds, std::slice::from_ref(&s.kind)),
        kind_label,
        key: s.key,
        kind: s.kind,
        name: s.name,
        priority: s.priority,
        customer_types: choices(&types, &s.customer_types),
        region_prefixes: s.region_prefixes,
        departments: choices(&depts, &s.departments),
        steps,
        roles: ed.roles.clone(),
        users,
        errors,
        messages,
        active,
        versions,
        notice: x.notice,
        applicants: choices(
            &applicant_values,
            &[x.sample.applicant.clone().unwrap_or_default()],
        ),
        sample_types: choices(&types, std::slice::from_ref(&sample_type)),
        sample_region: x.sample.region_code.clone().unwrap_or_default(),
        preview,
        preview_errors,
        chrome,
    }
}

fn preview_view(p: &FlowPreview, lang: Lang) -> PreviewView {
    PreviewView {
        name: p.name.clone(),
        version: p.version,
        applies: p.key == p.chosen_key,
        chosen_name: p.chosen_name.clone(),
        steps: p
            .steps
            .iter()
            .map(|s| PreviewStep {
                name: s.name.clone(),
                mode: t(
                    lang,
                    match s.mode {
                        custos_app::flows::StepMode::Any => "flows.mode_any",
                        custos_app::flows::StepMode::All => "flows.mode_all",
                    },
                )
                .to_string(),
                approvers: s
                    .approvers
                    .iter()
                    .map(|u| format!("{}（{}）", u.name, u.username))
                    .collect::<Vec<_>>()
                    .join("、"),
                fallback: s.fallback,
                auto: s.auto_approve.is_some(),
            })
            .collect(),
    }
}

/// The sample of the query, when one was asked for (an applicant chosen).
fn sample_of(q: &SampleQuery, kind: &str, flow: Option<&str>) -> Option<Input<FlowSample>> {
    let applicant = q
        .applicant
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())?;
    let Ok(applicant) = applicant.parse::<i64>() else {
        let v = custos_core::Violation::new(
            "user.unknown",
            format!("用户 {applicant} 不存在"),
            format!("user {applicant} does not exist"),
        )
        .on("applicant");
        return Some(Input::invalid(AppError::Validation(vec![v])));
    };
    Some(Input::from(FlowSample {
        kind: kind.to_string(),
        applicant,
        customer_type: q.customer_type.clone().filter(|s| !s.is_empty()),
        region_code: q.region_code.clone().filter(|s| !s.is_empty()),
        flow: flow.map(str::to_string),
    }))
}

async fn preview(
    state: &AppState,
    viewer: &Viewer,
    sample: Option<Input<FlowSample>>,
) -> Option<Result<FlowPreview, AppError>> {
    let input = sample?;
    Some(match input.get() {
        Ok(s) => {
            state
                .app
                .applications()
                .preview_flow(&viewer.actor, s)
                .await
        }
        Err(e) => Err(e),
    })
}

/// `GET /flows/new?kind=…`: an empty editor (`role.manage`).
pub(crate) async fn new_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SampleQuery>,
) -> Response {
    let chrome = Chrome::new(&viewer, "/flows", "flows.edit_title");
    let ed = match state
        .app
        .applications()
        .flow_editor(&viewer.actor, None)
        .await
    {
        Ok(ed) => ed,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let kind = q.kind.clone().unwrap_or_else(|| "create".into());
    let shown = Shown {
        key: String::new(),
        kind,
        name: String::new(),
        priority: "0".into(),
        customer_types: Vec::new(),
        region_prefixes: String::new(),
        departments: Vec::new(),
        steps: vec![StepInput::empty(0)],
    };
    let x = Extras {
        errors: Vec::new(),
        notice: None,
        sample: q,
        preview: None,
    };
    render(
        StatusCode::OK,
        &edit_page(&state, &viewer, &ed, true, shown, x),
    )
}

/// `GET /flows/{key}`: the newest version in the editor, its versions, and the preview
/// of the sample in the query.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    Query(q): Query<SampleQuery>,
) -> Response {
    let chrome = Chrome::new(&viewer, "/flows", "flows.edit_title");
    let ed = match state
        .app
        .applications()
        .flow_editor(&viewer.actor, Some(&key))
        .await
    {
        Ok(ed) => ed,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let Some(newest) = ed.versions.first() else {
        return PageError::new(chrome, AppError::not_found("flow", &key)).into_response();
    };
    let shown = shown_of(newest);
    let lang = viewer.lang;
    let notice = if q.saved.is_some() {
        Some(t(lang, "flows.saved").to_string())
    } else if q.disabled.is_some() {
        Some(t(lang, "flows.disabled_notice").to_string())
    } else {
        None
    };
    let p = preview(&state, &viewer, sample_of(&q, &shown.kind, Some(&key))).await;
    let x = Extras {
        errors: Vec::new(),
        notice,
        sample: q,
        preview: p,
    };
    render(
        StatusCode::OK,
        &edit_page(&state, &viewer, &ed, false, shown, x),
    )
}

/// `POST /flows/new` and `POST /flows/{key}`: a step added, removed or moved (the form
/// again), or the flow saved as a new version.
async fn submit(state: AppState, viewer: Viewer, key: Option<String>, posted: Posted) -> Response {
    let chrome = Chrome::new(&viewer, "/flows", "flows.edit_title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let ed = match state
        .app
        .applications()
        .flow_editor(&viewer.actor, key.as_deref())
        .await
    {
        Ok(ed) => ed,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let is_new = key.is_none();
    let mut shown = shown_posted(&posted, key.as_deref());
    if let Some(k) = &key {
        // The kind of a stored flow stays.
        if let Some(v) = ed.versions.first() {
            shown.kind = v.kind.clone();
        }
        shown.key = k.clone();
    }
    let op = StepOp::of(posted.get("op").unwrap_or("save"));
    if let Some(op) = op {
        op.apply(&mut shown.steps);
        let x = Extras {
            errors: Vec::new(),
            notice: None,
            sample: SampleQuery::default(),
            preview: None,
        };
        return render(
            StatusCode::OK,
            &edit_page(&state, &viewer, &ed, is_new, shown, x),
        );
    }
    let input: Input<NewFlow> = flow_from_form(&posted, &shown.key, &shown.kind);
    match state.app.flows().create_flow(&viewer.actor, input).await {
        Ok(v) => {
            // A saved key is plain (a-z 0-9 _ - .).
            Redirect::to(&format!("/flows/{}?saved=1", v.key)).into_response()
        }
        Err(AppError::Validation(errors)) => {
            let x = Extras {
                errors,
                notice: None,
                sample: SampleQuery::default(),
                preview: None,
            };
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &edit_page(&state, &viewer, &ed, is_new, shown, x),
            )
        }
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

/// `POST /flows/{key}/disable`: every version stops being used.
pub(crate) async fn disable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/flows", "flows.edit_title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    match state.app.flows().disable_flow(&viewer.actor, &key).await {
        Ok(()) => Redirect::to(&format!("/flows/{key}?disabled=1")).into_response(),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}
