//! The mapping step of `/imports`: a kept upload's columns, each with a drop-down of
//! target fields (recognised ones preselected, the rest "不导入"), value maps for the
//! column's distinct values and defaults for fields without a column. The form makes
//! the same mapping the import use case takes (the TOML text stays as an advanced
//! alternative, applied over the drop-downs); a dry run shows its report under the same
//! form, so the run that follows imports the same file.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::import::report::Wording;
use custos_app::import::{DuplicatePolicy, ImportOptions, MappingSpec, StagedUpload};
use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::Violation;

use super::form::Posted;
use super::imports::{chrome, job_view, report_view, JobView, ReportView};
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::api::imports::spawn_import;
use crate::AppState;

/// One distinct value of a column and what it becomes.
pub(crate) struct ValueView {
    pub source: String,
    pub mapped: String,
}

/// A column of the file with its chosen target and value maps.
pub(crate) struct ColumnView {
    pub header: String,
    pub target: String,
    pub values: Vec<ValueView>,
    /// Allowed values of the chosen target (a select), as (value, label); empty: free text.
    pub choices: Vec<(String, String)>,
}

/// The mapping form, filled in.
pub(crate) struct MappingView {
    pub token: String,
    pub file_name: String,
    pub format: String,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    pub header_row: u64,
    pub columns: Vec<ColumnView>,
    /// (key, label, default typed).
    pub targets: Vec<(String, String, String)>,
    pub policy: String,
    pub sample_rate: String,
    pub advanced: String,
    pub errors: Vec<(String, String)>,
    /// The viewer's saved mappings (by name), the one picked or saved, and whether it was
    /// just saved.
    pub saved: Vec<String>,
    pub mapping_name: String,
    pub just_saved: bool,
}

fn mapping_view(
    s: StagedUpload,
    spec: &MappingSpec,
    advanced: String,
    errors: Vec<(String, String)>,
    lang: Lang,
) -> MappingView {
    let label = |zh: &str, en: &str| match lang {
        Lang::Zh => zh.to_string(),
        _ => en.to_string(),
    };
    let columns = s
        .columns
        .iter()
        .map(|c| {
            let target = spec
                .columns
                .get(&c.header)
                .cloned()
                .or(c.target.clone())
                .filter(|t| t != "ignore")
                .unwrap_or_default();
            let maps = spec.values.get(&target);
            let values = c
                .values
                .iter()
                .map(|v| ValueView {
                    source: v.clone(),
                    mapped: maps.and_then(|m| m.get(v)).cloned().unwrap_or_default(),
                })
                .collect();
            let choices = s
                .targets
                .iter()
                .find(|t| t.key == target)
                .map(|t| {
                    t.allowed
                        .iter()
                        .map(|(v, zh, en)| (v.clone(), label(zh, en)))
                        .collect()
                })
                .unwrap_or_default();
            ColumnView {
                header: c.header.clone(),
                target,
                values,
                choices,
            }
        })
        .collect();
    let targets = s
        .targets
        .iter()
        .map(|t| {
            (
                t.key.clone(),
                format!("{}（{}）", label(&t.label_zh, &t.label_en), t.key),
                spec.defaults.get(&t.key).cloned().unwrap_or_default(),
            )
        })
        .collect();
    MappingView {
        token: s.token,
        file_name: s.options.file_name.clone(),
        format: s.format,
        encoding: s.encoding,
        delimiter: s.delimiter,
        sheet: s.sheet,
        header_row: s.header_row,
        columns,
        targets,
        policy: s.options.policy.as_str().to_string(),
        sample_rate: s.options.sample_rate.to_string(),
        advanced,
        errors,
        saved: Vec::new(),
        mapping_name: String::new(),
        just_saved: false,
    }
}

#[derive(Template)]
#[template(path = "console/imports/mapping.html")]
struct MappingPage {
    chrome: Chrome,
    m: MappingView,
}

#[derive(Template)]
#[template(path = "console/imports/dry_run.html")]
struct DryRunPage {
    chrome: Chrome,
    m: MappingView,
    job: JobView,
    view: ReportView,
}

/// `GET /imports/upload/{token}`: the mapping step of a kept upload; with
/// `?mapping_name=…`, the viewer's mapping saved under that name applied.
pub(crate) async fn mapping_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(token): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (app, actor) = (&state.app, &viewer.actor);
    let q = ListQuery::parse(raw.as_deref());
    let picked = q.get("mapping_name").filter(|n| !n.is_empty());
    let page = async {
        let s = app.imports().staged_upload(actor, &token).await?;
        let spec = match picked {
            Some(name) => app.imports().saved_import_mapping(actor, name).await?,
            None => s.options.mapping.clone(),
        };
        let mut m = mapping_view(s, &spec, String::new(), Vec::new(), viewer.lang);
        m.saved = app.imports().import_mapping_names(actor).await?;
        m.mapping_name = picked.unwrap_or_default().to_string();
        Ok::<_, AppError>(m)
    };
    match page.await {
        Ok(m) => render(
            StatusCode::OK,
            &MappingPage {
                chrome: chrome(&viewer),
                m,
            },
        ),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

fn invalid(field: &str, zh: String, en: String) -> AppError {
    AppError::validation(field, Violation::new("import.form", zh, en))
}

/// The import choices of the mapping form: drop-downs, value maps and defaults (fields
/// `column.<n>`, `source.<n>.<m>`/`value.<n>.<m>`, `default.<target>`), then the
/// advanced mapping text over them; policy and sample share as the API names them.
fn posted_choices(posted: &Posted, s: &StagedUpload) -> Result<ImportOptions, AppError> {
    let mut spec = MappingSpec::default();
    for (i, c) in s.columns.iter().enumerate() {
        let target = posted
            .get(&format!("column.{i}"))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("ignore")
            .to_string();
        for j in 0..c.values.len().min(custos_app::import::MAX_VALUE_CHOICES) {
            let (Some(from), Some(to)) = (
                posted.get(&format!("source.{i}.{j}")),
                posted.get(&format!("value.{i}.{j}")),
            ) else {
                continue;
            };
            if target != "ignore" && !to.trim().is_empty() && to.trim() != from {
                spec.values
                    .entry(target.clone())
                    .or_insert_with(BTreeMap::new)
                    .insert(from.to_string(), to.trim().to_string());
            }
        }
        spec.columns.insert(c.header.clone(), target);
    }
    for t in &s.targets {
        if let Some(v) = posted.get(&format!("default.{}", t.key)) {
            if !v.trim().is_empty() {
                spec.defaults.insert(t.key.clone(), v.trim().to_string());
            }
        }
    }
    let advanced = posted.get("mapping").unwrap_or("").trim();
    if !advanced.is_empty() {
        let extra = MappingSpec::parse(advanced)?;
        spec.columns.extend(extra.columns);
        for (t, m) in extra.values {
            spec.values.entry(t).or_default().extend(m);
        }
        spec.defaults.extend(extra.defaults);
        spec.source_system = extra.source_system.or(spec.source_system);
    }
    let mut options = ImportOptions {
        mapping: spec.checked()?,
        ..ImportOptions::default()
    };
    if let Some(p) = posted.get("policy") {
        options.policy = DuplicatePolicy::parse(p)?;
    }
    if let Some(r) = posted.get("sample_rate").filter(|r| !r.trim().is_empty()) {
        options.sample_rate = r.trim().parse().map_err(|_| {
            invalid(
                "sample_rate",
                format!("抽查比例须为 0–1 之间的数字（{r}）"),
                format!("sample_rate must be a number 0–1 ({r})"),
            )
        })?;
    }
    options.dry_run = posted.get("dry_run") == Some("true");
    Ok(options)
}

fn errors_of(e: &AppError, lang: Lang) -> Option<Vec<(String, String)>> {
    match e {
        AppError::Validation(errors) => Some(
            errors
                .iter()
                .map(|f| (f.field.clone(), f.violation.message(lang).to_string()))
                .collect(),
        ),
        _ => None,
    }
}

/// `POST /imports/upload/{token}`: a dry run shows its report under the form; a run
/// starts the job (which takes the file) and leads to its page. Refusals come back
/// beside the form with what was chosen kept.
pub(crate) async fn mapping_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(token): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let (app, actor, lang) = (&state.app, &viewer.actor, viewer.lang);
    let staged = match app.imports().staged_upload(actor, &token).await {
        Ok(s) => s,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let advanced = posted.get("mapping").unwrap_or("").to_string();
    let saved = app
        .imports()
        .import_mapping_names(actor)
        .await
        .unwrap_or_default();
    let mapping_name = posted.get("mapping_name").unwrap_or("").trim().to_string();
    let form_view = |staged: StagedUpload, spec: &MappingSpec, errors| {
        let mut m = mapping_view(staged, spec, advanced.clone(), errors, lang);
        m.saved = saved.clone();
        m.mapping_name = mapping_name.clone();
        m
    };
    let refused = |staged: StagedUpload, spec: &MappingSpec, e: AppError| match errors_of(&e, lang)
    {
        Some(errors) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MappingPage {
                chrome: chrome(&viewer),
                m: form_view(staged, spec, errors),
            },
        ),
        None => PageError::new(chrome(&viewer), e).into_response(),
    };
    let options = match posted_choices(&posted, &staged) {
        Ok(o) => o,
        Err(e) => {
            let spec = staged.options.mapping.clone();
            return refused(staged, &spec, e);
        }
    };
    let spec = options.mapping.clone();
    let dry_run = options.dry_run;
    // The form shown again (after a dry run or a refusal) keeps what was chosen.
    let mut staged = staged;
    staged.options.policy = options.policy;
    staged.options.sample_rate = options.sample_rate;
    if posted.get("save_mapping") == Some("true") {
        return match app
            .imports()
            .save_import_mapping(actor, &mapping_name, spec.clone())
            .await
        {
            Ok(()) => {
                let mut m = form_view(staged, &spec, Vec::new());
                m.saved = app
                    .imports()
                    .import_mapping_names(actor)
                    .await
                    .unwrap_or_default();
                m.just_saved = true;
                render(
                    StatusCode::OK,
                    &MappingPage {
                        chrome: chrome(&viewer),
                        m,
                    },
                )
            }
            Err(e) => refused(staged, &spec, e),
        };
    }
    let prepared = match app.imports().prepare_staged(actor, &token, options).await {
        Ok(p) => p,
        Err(e) => return refused(staged, &spec, e),
    };
    if !dry_run {
        let id = prepared.job_id().unwrap_or(0);
        spawn_import(app.clone(), actor.clone(), prepared);
        return Redirect::to(&format!("/imports/{id}")).into_response();
    }
    let out = match app.imports().run_import(actor, prepared, &|_| {}).await {
        Ok(o) => o,
        Err(e) => return refused(staged, &spec, e),
    };
    let wording = Wording {
        lang: Some(lang),
        ..Default::default()
    };
    let view = report_view(&out.report, &out.headers, &out.rows, &wording);
    render(
        StatusCode::OK,
        &DryRunPage {
            chrome: chrome(&viewer),
            m: form_view(staged, &spec, Vec::new()),
            job: job_view(app, out.report, lang),
            view,
        },
    )
}
