//! `/exports` (导出): the viewer's export jobs — status, rows, times, download, delete —
//! and one job's page, which follows its progress until the file is ready. Every answer
//! comes from the export use cases the API calls (`export` permission, scope, audit of
//! the download).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::export::job::ExportJob;
use custos_app::AppError;
use custos_core::violation::Lang;

use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::api::exports::{file_response, reader_body};
use crate::AppState;
use custos_app::clock::local_minutes;

/// A job as a page shows it.
#[derive(Clone)]
pub(crate) struct JobView {
    pub id: i64,
    pub status: String,
    pub status_text: String,
    pub status_class: &'static str,
    pub format: String,
    pub rows: String,
    pub created: String,
    pub finished: String,
    pub expires: String,
    pub requested_by: String,
    pub file_name: String,
    pub error: Option<String>,
    pub pii: bool,
    pub filter: String,
    pub done: bool,
    pub running: bool,
    pub deletable: bool,
}

fn status_text(lang: Lang, status: &str) -> String {
    let key = format!("exports.status.{status}");
    match t(lang, &key) {
        k if k == key => status.to_string(),
        words => words.to_string(),
    }
}

fn job_view(job: &ExportJob, lang: Lang, tz: chrono_tz::Tz) -> JobView {
    let done = job.status == "done";
    let running = matches!(job.status.as_str(), "queued" | "running");
    JobView {
        id: job.id,
        status_text: status_text(lang, &job.status),
        status_class: match job.status.as_str() {
            "done" => "ok",
            "failed" => "danger",
            "queued" | "running" => "warn",
            _ => "",
        },
        status: job.status.clone(),
        format: job.format.to_uppercase(),
        rows: job.total_rows.unwrap_or(job.rows_done).to_string(),
        created: local_minutes(&job.created_at, tz),
        finished: job
            .finished_at
            .as_deref()
            .map(|f| local_minutes(f, tz))
            .unwrap_or_default(),
        expires: local_minutes(&job.expires_at, tz),
        requested_by: job.requested_by_name.clone(),
        file_name: job.file_name.clone(),
        error: job.error.clone(),
        pii: job.pii_revealed,
        filter: filter_text(&job.filter),
        done,
        running,
        deletable: done || running,
    }
}

/// The filter of a job as the query string a list would carry.
fn filter_text(filter: &serde_json::Value) -> String {
    let Some(map) = filter.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (k, v) in map {
        match v {
            serde_json::Value::Object(custom) => {
                for (ck, cv) in custom {
                    parts.push(format!("custom.{ck}={}", cv.as_str().unwrap_or_default()));
                }
            }
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => parts.push(format!("{k}={s}")),
            other => parts.push(format!("{k}={other}")),
        }
    }
    parts.join("  ")
}

#[derive(Template)]
#[template(path = "console/exports/list.html")]
struct ExportsPage {
    chrome: Chrome,
    jobs: Vec<JobView>,
    more_href: Option<String>,
}

#[derive(Template)]
#[template(path = "console/exports/job.html")]
struct JobPage {
    chrome: Chrome,
    job: JobView,
    progress_html: String,
}

/// The part of a job's page that follows its progress (htmx polls it while it runs).
#[derive(Template)]
#[template(path = "console/exports/progress.html")]
struct Progress {
    lang: Lang,
    job: JobView,
}

impl Progress {
    fn t<'a>(&self, key: &'a str) -> &'a str {
        t(self.lang, key)
    }
}

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/exports", "exports.title")
}

fn job_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "export_job")
}

/// `GET /exports`: the viewer's jobs, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let page = match state
        .app
        .exports()
        .export_jobs(&viewer.actor, q.get("cursor"), None)
        .await
    {
        Ok(p) => p,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let jobs = page
        .items
        .iter()
        .map(|j| job_view(j, viewer.lang, tz))
        .collect();
    let more_href = page
        .next_cursor
        .map(|c| format!("/exports?cursor={}", encode_component(&c)));
    let page = ExportsPage {
        chrome: chrome(&viewer),
        jobs,
        more_href,
    };
    render(StatusCode::OK, &page)
}

async fn one_job(state: &AppState, viewer: &Viewer, id: &str) -> Result<JobView, AppError> {
    let job = state
        .app
        .exports()
        .export_job(&viewer.actor, job_id(id)?)
        .await?;
    Ok(job_view(&job, viewer.lang, state.app.config.code_timezone))
}

/// `GET /exports/{id}`: one job, its progress followed until the file is ready.
pub(crate) async fn job(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    match one_job(&state, &viewer, &id).await {
        Ok(job) => {
            let progress_html = Progress {
                lang: viewer.lang,
                job: job.clone(),
            }
            .render()
            .unwrap_or_default();
            let page = JobPage {
                chrome: chrome(&viewer),
                job,
                progress_html,
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// `GET /exports/{id}/progress`: the progress part alone (htmx).
pub(crate) async fn progress(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    match one_job(&state, &viewer, &id).await {
        Ok(job) => render(
            StatusCode::OK,
            &Progress {
                lang: viewer.lang,
                job,
            },
        ),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// `GET /exports/{id}/file`: the finished file, through the use case that audits it.
pub(crate) async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let file = match job_id(&id) {
        Ok(id) => {
            state
                .app
                .exports()
                .open_export_file(&viewer.actor, id)
                .await
        }
        Err(e) => Err(e),
    };
    match file {
        Ok(f) => {
            let mut r = file_response(
                reader_body(f.reader, ()),
                f.content_type,
                &f.file_name,
                f.byte_size,
            );
            r.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// `POST /exports/{id}/delete`: the file goes, a running job stops.
pub(crate) async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let done = match job_id(&id) {
        Ok(id) => {
            state
                .app
                .exports()
                .delete_export_job(&viewer.actor, id)
                .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Redirect::to("/exports").into_response(),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}
