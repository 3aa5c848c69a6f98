//! `/imports` (导入): the viewer's import jobs, and a wizard over the import use cases
//! the API calls — upload (with the template to download), a dry run that shows the
//! rejected rows and the duplicates without writing anything, the run with its progress,
//! the report with the rejected rows (XLSX, to fix and import again) and the sample for
//! checking (抽查), and the resumption of a stopped job.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use custos_app::import::report::{reasons, ReportFormat, Wording};
use custos_app::import::{ImportReport, ReportedRow};
use custos_app::AppError;
use custos_core::violation::Lang;

use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::api::imports::{file_response, read_import_form, spawn_resume, XLSX_TYPE};
use crate::AppState;

/// A reported row as a table shows it: its cells, those that failed marked.
pub(crate) struct RowView {
    pub line: u64,
    pub cells: Vec<(String, bool)>,
    pub reasons: Vec<(String, String)>,
}

/// A sampled row: per column, the source value next to the stored one.
pub(crate) struct SampleView {
    pub row_no: i64,
    pub line: u64,
    pub code: String,
    pub pairs: Vec<(String, String, String, bool)>,
    /// Who marked the row checked, and when (local time); a job's report only.
    pub checked: Option<(String, String)>,
}

/// How far a job's sample is checked (a dry run has no marks).
pub(crate) struct CheckSummary {
    pub job_id: i64,
    pub checked: i64,
    pub sample_size: i64,
}

/// What a dry run or a job reports, ready to show.
pub(crate) struct ReportView {
    pub totals: Vec<(&'static str, i64)>,
    pub headers: Vec<String>,
    pub rejected: Vec<RowView>,
    pub duplicates: Vec<RowView>,
    pub samples: Vec<SampleView>,
    pub more: bool,
    pub checks: Option<CheckSummary>,
}

const SHOWN_ROWS: usize = 100;

fn row_view(r: &ReportedRow, headers: &[String], wording: &Wording) -> RowView {
    let reasons = reasons(r, headers, wording);
    let cells = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let text = r.cells.get(i).cloned().unwrap_or_default();
            (text, reasons.iter().any(|(c, _)| c == h))
        })
        .collect();
    RowView {
        line: r.line,
        cells,
        reasons,
    }
}

fn sample_view(r: &ReportedRow, headers: &[String], wording: &Wording) -> SampleView {
    let stored = r.detail.get("stored").cloned().unwrap_or(Value::Null);
    let pairs = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let s = stored.get(h)?;
            let text = match s {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()))
                    .collect::<Vec<_>>()
                    .join("、"),
                other => other.to_string(),
            };
            let st = wording.stored(h, text);
            let src = r
                .cells
                .get(i)
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            let same = src == st;
            Some((h.clone(), src, st, same))
        })
        .collect();
    SampleView {
        row_no: r.row_no,
        line: r.line,
        code: r.code.clone().unwrap_or_default(),
        pairs,
        checked: None,
    }
}

pub(crate) fn report_view(
    report: &ImportReport,
    headers: &[String],
    rows: &[ReportedRow],
    wording: &Wording,
) -> ReportView {
    fn of<'a>(rows: &'a [ReportedRow], outcome: &'a str) -> impl Iterator<Item = &'a ReportedRow> {
        rows.iter().filter(move |r| r.outcome == outcome)
    }
    let rejected_all = of(rows, "rejected").count();
    let skipped_all = of(rows, "skipped").count();
    ReportView {
        totals: vec![
            ("imports.read", report.read),
            ("imports.created", report.created),
            ("imports.updated", report.updated),
            ("imports.merged", report.merged),
            ("imports.skipped", report.skipped),
            ("imports.rejected", report.rejected),
        ],
        headers: headers.to_vec(),
        rejected: of(rows, "rejected")
            .take(SHOWN_ROWS)
            .map(|r| row_view(r, headers, wording))
            .collect(),
        duplicates: of(rows, "skipped")
            .take(SHOWN_ROWS)
            .map(|r| row_view(r, headers, wording))
            .collect(),
        samples: of(rows, "sampled")
            .take(SHOWN_ROWS / 2)
            .map(|r| sample_view(r, headers, wording))
            .collect(),
        more: rejected_all > SHOWN_ROWS
            || skipped_all > SHOWN_ROWS
            || report.rejected as usize > rejected_all,
        checks: None,
    }
}

/// A job as the list and its page show it.
pub(crate) struct JobView {
    pub id: i64,
    pub file_name: String,
    pub status: String,
    pub status_text: String,
    pub status_class: &'static str,
    pub report: ImportReport,
    pub rate: String,
    pub eta: String,
    pub stopped: bool,
    pub running: bool,
}

/// A job as the page shows it; `app` tells whether this server runs it now.
pub(crate) fn job_view(app: &custos_app::App, r: ImportReport, lang: Lang) -> JobView {
    let id = r.job_id.unwrap_or(0);
    let key = format!("imports.status.{}", r.status);
    let status_text = match t(lang, &key) {
        k if k == key => r.status.clone(),
        w => w.to_string(),
    };
    let running = r.status == "running";
    let per_second = if r.seconds > 0.0 {
        r.read as f64 / r.seconds
    } else {
        0.0
    };
    let left = (r.rows_estimate as i64 - r.read).max(0);
    JobView {
        id,
        file_name: r.file_name.clone(),
        status_class: match r.status.as_str() {
            "done" => "ok",
            "failed" => "danger",
            _ => "warn",
        },
        status: r.status.clone(),
        status_text,
        rate: format!("{per_second:.0}"),
        eta: if per_second > 0.0 && running {
            format!("{:.0}", left as f64 / per_second)
        } else {
            "—".into()
        },
        stopped: running && !app.imports().import_running_here(id),
        running,
        report: r,
    }
}

pub(crate) fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/imports", "imports.title")
}

fn job_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "import_job")
}

#[derive(Template)]
#[template(path = "console/imports/list.html")]
struct ListPage {
    chrome: Chrome,
    jobs: Vec<JobView>,
}

/// `GET /imports`: the viewer's import jobs, newest first.
pub(crate) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    match state.app.imports().import_jobs(&viewer.actor, 50).await {
        Ok(jobs) => render(
            StatusCode::OK,
            &ListPage {
                chrome: chrome(&viewer),
                jobs: jobs
                    .into_iter()
                    .map(|j| job_view(&state.app, j, viewer.lang))
                    .collect(),
            },
        ),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "console/imports/new.html")]
struct NewPage {
    chrome: Chrome,
    errors: Vec<(String, String)>,
}

fn new_page(viewer: &Viewer, status: StatusCode, errors: Vec<(String, String)>) -> Response {
    render(
        status,
        &NewPage {
            chrome: chrome(viewer),
            errors,
        },
    )
}

/// `GET /imports/new`: the upload step.
pub(crate) async fn new_form(viewer: Viewer) -> Response {
    match viewer.actor.require("import") {
        Ok(_) => new_page(&viewer, StatusCode::OK, Vec::new()),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// A refusal of the form: field errors beside the form, anything else as its page.
fn refused(viewer: &Viewer, e: AppError) -> Response {
    match e {
        AppError::Validation(errors) => {
            let errors = errors
                .into_iter()
                .map(|f| {
                    (
                        f.field.clone(),
                        f.violation.message(viewer.lang).to_string(),
                    )
                })
                .collect();
            new_page(viewer, StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
        e => PageError::new(chrome(viewer), e).into_response(),
    }
}

/// `POST /imports/new` (multipart, fields named as the API's): the file is kept for
/// its sender and the mapping step follows.
pub(crate) async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let (options, upload) =
        match read_import_form(&state, &viewer.actor, form, Some(&viewer.csrf)).await {
            Ok(x) => x,
            Err(e) => return refused(&viewer, e.0),
        };
    match state
        .app
        .imports()
        .stage_upload(&viewer.actor, upload, options)
        .await
    {
        Ok(token) => Redirect::to(&format!("/imports/upload/{token}")).into_response(),
        Err(e) => refused(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "console/imports/job.html")]
struct JobPage {
    chrome: Chrome,
    job: JobView,
    progress_html: String,
    view: Option<ReportView>,
}

#[derive(Template)]
#[template(path = "console/imports/progress.html")]
struct Progress {
    lang: Lang,
    job: JobView,
}

impl Progress {
    fn t<'a>(&self, key: &'a str) -> &'a str {
        t(self.lang, key)
    }
}

/// The report of an ended job: its first rejected, skipped and sampled rows.
async fn job_report_view(
    state: &AppState,
    viewer: &Viewer,
    report: &ImportReport,
) -> Result<ReportView, AppError> {
    let (app, actor, id) = (&state.app, &viewer.actor, report.job_id.unwrap_or(0));
    let headers = app.imports().import_job_headers(actor, id).await?;
    let wording = app
        .imports()
        .import_wording(actor, id, &headers, viewer.lang)
        .await?;
    let mut rows = Vec::new();
    for (outcome, n) in [("rejected", 101), ("skipped", 101), ("sampled", 50)] {
        rows.extend(
            app.imports()
                .import_job_rows(actor, id, outcome, 0, n)
                .await?,
        );
    }
    let mut view = report_view(report, &headers, &rows, &wording);
    let (from, to) = match (view.samples.first(), view.samples.last()) {
        (Some(a), Some(b)) => (a.row_no, b.row_no),
        _ => (1, 0),
    };
    let marks = app
        .imports()
        .import_sample_checks(actor, id, from, to)
        .await?;
    for s in &mut view.samples {
        if let Some(m) = marks.rows.iter().find(|m| m.row_no == s.row_no) {
            s.checked = Some((m.checked_by.clone(), app.local_time_us(m.checked_at)));
        }
    }
    view.checks = Some(CheckSummary {
        job_id: id,
        checked: marks.checked,
        sample_size: marks.sample_size,
    });
    Ok(view)
}

/// `GET /imports/{id}`: a job — its progress while it runs, its report once ended.
pub(crate) async fn job(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let report = match job_id(&id) {
        Ok(id) => state.app.imports().import_job(&viewer.actor, id).await,
        Err(e) => Err(e),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let view = if report.status == "running" {
        None
    } else {
        match job_report_view(&state, &viewer, &report).await {
            Ok(v) => Some(v),
            Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
        }
    };
    let job = job_view(&state.app, report, viewer.lang);
    let progress_html = Progress {
        lang: viewer.lang,
        job: job_view(&state.app, job.report.clone(), viewer.lang),
    }
    .render()
    .unwrap_or_default();
    render(
        StatusCode::OK,
        &JobPage {
            chrome: chrome(&viewer),
            job,
            progress_html,
            view,
        },
    )
}

/// `GET /imports/{id}/progress`: the progress part alone (htmx polls it); a job that
/// ended sends the browser to its page, which shows the report.
pub(crate) async fn progress(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let report = match job_id(&id) {
        Ok(id) => state.app.imports().import_job(&viewer.actor, id).await,
        Err(e) => Err(e),
    };
    match report {
        Ok(r) if r.status != "running" => {
            let mut resp = StatusCode::OK.into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!("/imports/{id}")) {
                resp.headers_mut().insert("HX-Redirect", v);
            }
            resp
        }
        Ok(r) => render(
            StatusCode::OK,
            &Progress {
                lang: viewer.lang,
                job: job_view(&state.app, r, viewer.lang),
            },
        ),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

async fn report_file(state: &AppState, viewer: &Viewer, id: &str, kind: &str) -> Response {
    let bytes = match job_id(id) {
        Ok(n) => {
            state
                .app
                .imports()
                .import_report(
                    &viewer.actor,
                    n,
                    kind,
                    ReportFormat::Xlsx,
                    Some(viewer.lang),
                )
                .await
        }
        Err(e) => Err(e),
    };
    match bytes {
        Ok(b) => file_response(b, XLSX_TYPE, &format!("import-{id}-{kind}.xlsx")),
        Err(e) => PageError::new(chrome(viewer), e).into_response(),
    }
}

/// `GET /imports/{id}/rejected.xlsx`: the rejected rows in the viewer's language.
pub(crate) async fn rejected_xlsx(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    report_file(&state, &viewer, &id, "rejected").await
}

/// `GET /imports/{id}/sample.xlsx`: the sample for checking.
pub(crate) async fn sample_xlsx(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    report_file(&state, &viewer, &id, "sample").await
}

/// `POST /imports/{id}/sample/{row}/check`: mark a sampled row checked (已核对), back to
/// the report at that row.
pub(crate) async fn check_sample(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, row)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let row_no = row.parse::<i64>().ok().filter(|n| *n > 0);
    let marked = match (job_id(&id), row_no) {
        (Ok(n), Some(r)) => state
            .app
            .imports()
            .check_import_sample(&viewer.actor, n, r)
            .await
            .map(|_| (n, r)),
        (Err(e), _) => Err(e),
        (_, None) => Err(AppError::not_found("import_sample_row", row)),
    };
    match marked {
        Ok((n, r)) => Redirect::to(&format!("/imports/{n}#sample-{r}")).into_response(),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// `GET /imports/template`: the empty template.
pub(crate) async fn template(State(state): State<AppState>, viewer: Viewer) -> Response {
    match state.app.imports().import_template(&viewer.actor).await {
        Ok(b) => file_response(b, XLSX_TYPE, "customers-template.xlsx"),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// `POST /imports/{id}/resume`: continue a stopped job.
pub(crate) async fn resume(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let report = match job_id(&id) {
        Ok(n) => state.app.imports().import_job(&viewer.actor, n).await,
        Err(e) => Err(e),
    };
    match report {
        Ok(r) => {
            let n = r.job_id.unwrap_or(0);
            if r.status == "running" && !state.app.imports().import_running_here(n) {
                spawn_resume(state.app.clone(), viewer.actor.clone(), n);
            }
            Redirect::to(&format!("/imports/{n}")).into_response()
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}
