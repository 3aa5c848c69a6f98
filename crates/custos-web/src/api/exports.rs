//! Exports (数据导出): a direct download for small sets, and background jobs for large
//! ones. Files are kept sealed on disk and streamed back decrypted, a chunk at a time,
//! never read into memory whole.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

use custos_app::export::job::{ExportJob, ExportJobPage, ExportRequest};
use custos_app::export::{ExportFormat, ExportOptions};
use custos_app::search::CustomerQuery;
use custos_app::AppError;

use super::customers::custom_filters;
use super::{bad_query, parse_id};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Read size of a streamed file (a sealed file's frame).
const CHUNK: usize = 64 * 1024;

/// A body that reads `reader` (blocking reads: a decrypting reader) chunk by chunk on
/// the blocking threads, one chunk in flight. `keep` lives until the body is done (the
/// temporary directory of a direct export). A read error ends the body early (the
/// client sees a short download) and is logged.
pub(crate) fn reader_body<R, K>(reader: R, keep: K) -> Body
where
    R: Read + Send + 'static,
    K: Send + 'static,
{
    let stream = futures_util::stream::unfold(Some((reader, keep)), |state| async move {
        let (mut reader, keep) = state?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; CHUNK];
            let n = reader.read(&mut buf);
            (reader, buf, n)
        })
        .await;
        match read {
            Ok((_, _, Ok(0))) => None,
            Ok((reader, mut buf, Ok(n))) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some((reader, keep))))
            }
            Ok((_, _, Err(e))) => {
                tracing::warn!(error = %e, "export download stopped: cannot read the file");
                Some((Err(e), None))
            }
            Err(e) => Some((Err(std::io::Error::other(e)), None)),
        }
    });
    Body::from_stream(stream)
}

pub(crate) fn file_response(body: Body, content_type: &str, name: &str, len: u64) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError(AppError::Internal(format!("{what}: {e}")))
}

fn parse_bool(field: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(bad_query(
            field,
            raw,
            "应为 true 或 false",
            "use true or false",
        )),
    }
}

/// Parameters of `GET /api/v1/customers` that page or rank a list: an export writes every
/// match, so they are refused.
const LIST_ONLY: [&str; 4] = ["fuzzy", "cursor", "limit", "total"];

/// The direct export takes the list's filters but not its paging or ranking parameters:
/// the document lists only what the endpoint accepts.
pub(crate) fn document_direct_export(doc: &mut utoipa::openapi::OpenApi) {
    let Some(item) = doc.paths.paths.get_mut("/api/v1/exports") else {
        return;
    };
    if let Some(params) = item.get.as_mut().and_then(|op| op.parameters.as_mut()) {
        params.retain(|p| !LIST_ONLY.contains(&p.name.as_str()));
    }
}

/// The direct export's own parameters, `format` and `gbk`. The customer filters are those
/// of `GET /api/v1/customers` (read by `ApiQuery<CustomerQuery>` and [`custom_filters`]);
/// any other parameter is refused, naming it.
fn export_options(pairs: &[(String, String)]) -> Result<ExportOptions, ApiError> {
    let filters = CustomerQuery::into_params(|| Some(ParameterIn::Query));
    let is_filter = |k: &str| {
        k.starts_with("custom.") || (!LIST_ONLY.contains(&k) && filters.iter().any(|p| p.name == k))
    };
    let mut format = ExportFormat::Csv;
    let mut gbk = false;
    for (k, raw) in pairs {
        match k.as_str() {
            "format" => format = ExportFormat::parse(raw)?,
            "gbk" => gbk = parse_bool("gbk", raw)?,
            k if is_filter(k) => {}
            other => return Err(bad_query(other, raw, "不认识的参数", "unknown parameter")),
        }
    }
    Ok(ExportOptions::checked(format, gbk)?)
}

/// Parameters of a direct export besides the customer filters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportQuery {
    /// `csv` (default), `xlsx` or `jsonl`.
    format: Option<String>,
    /// CSV in GB18030/GBK for older Excel (CSV only).
    gbk: Option<bool>,
}

/// Export the customers a search would find (same filters as `GET /api/v1/customers`,
/// the caller's data scope, PII masked unless permitted) and stream the file; audited
/// with filter and count. For large sets use `POST /api/v1/exports` (a job).
#[utoipa::path(get, path = "/api/v1/exports", tag = "exports", security(("bearer" = [])),
    params(ExportQuery, CustomerQuery),
    responses((status = 200, description = "CSV, XLSX or JSON Lines file"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn export_customers(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(mut q): ApiQuery<CustomerQuery>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let opts = export_options(&pairs)?;
    q.custom = custom_filters(&pairs);
    // The file is sealed in a temporary directory that goes when the body is done.
    let dir = tempfile::tempdir().map_err(|e| internal("temp dir", e))?;
    let path = dir
        .path()
        .join(format!("customers.{}", opts.format.extension()));
    let (_, reader) = s
        .app
        .exports()
        .export_customers_sealed(&actor, q, opts, &path)
        .await?;
    let len = reader.plain_len();
    Ok(file_response(
        reader_body(reader, dir),
        opts.content_type(),
        &format!("customers.{}", opts.format.extension()),
        len,
    ))
}

/// Start an export job (`export`, `customer.read`): the same filters as
/// `GET /api/v1/customers` (without paging; custom fields as `filter.custom`), the
/// caller's data scope, PII masked unless permitted. Everything is checked first (422
/// naming the field); then 202 with the job, whose `Location` to poll. The job runs in
/// the background as the caller; download with `GET /api/v1/exports/{id}/file` once
/// its status is `done`.
#[utoipa::path(post, path = "/api/v1/exports", tag = "exports", security(("bearer" = [])),
    request_body = ExportRequest,
    responses((status = 202, body = ExportJob, headers(("Location" = String, description = "the job"))),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn submit_export(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(req): JsonInput<ExportRequest>,
) -> Result<Response, ApiError> {
    let job = start_export(&s, actor, req).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/exports/{}", job.id))],
        Json(job),
    )
        .into_response())
}

/// Queue an export job and run it in the background as `actor` (the API's and the
/// console's "export this list" alike).
pub(crate) async fn start_export(
    s: &AppState,
    actor: custos_app::Actor,
    req: custos_app::Input<ExportRequest>,
) -> Result<ExportJob, AppError> {
    let (job, queued) = s.app.exports().submit_export(&actor, req).await?;
    let app = s.app.clone();
    tokio::spawn(async move {
        let id = queued.id();
        if let Err(e) = app.exports().run_export_job(&actor, queued).await {
            tracing::warn!(job = id, error = %e, "export job stopped");
        }
    });
    Ok(job)
}

/// Paging of the job list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportJobQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<i64>,
}

/// Export jobs, newest first: the caller's own; with `export` and `customer.read` on
/// all data, everyone's (those holding unmasked PII only with `customer.pii.read`).
/// Jobs past their expiry are expired (file deleted) first.
#[utoipa::path(get, path = "/api/v1/exports/jobs", tag = "exports", security(("bearer" = [])),
    params(ExportJobQuery),
    responses((status = 200, body = ExportJobPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_export_jobs(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<ExportJobPage>, ApiError> {
    let mut cursor = None;
    let mut limit = None;
    for (k, raw) in pairs {
        match k.as_str() {
            "cursor" => cursor = Some(raw),
            "limit" => limit = Some(raw),
            other => return Err(bad_query(other, &raw, "不认识的参数", "unknown parameter")),
        }
    }
    Ok(Json(
        s.app
            .exports()
            .export_jobs(&actor, cursor.as_deref(), limit.as_deref())
            .await?,
    ))
}

/// State and progress of one export job (404 for another user's job unless the caller
/// may see it, see `GET /api/v1/exports/jobs`).
#[utoipa::path(get, path = "/api/v1/exports/{id}", tag = "exports", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ExportJob), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_export_job(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ExportJob>, ApiError> {
    let id = parse_id("export_job", &id)?;
    Ok(Json(s.app.exports().export_job(&actor, id).await?))
}

/// Delete the file of a job and mark it `expired` (a running job stops).
#[utoipa::path(delete, path = "/api/v1/exports/{id}", tag = "exports", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ExportJob), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_export_job(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ExportJob>, ApiError> {
    let id = parse_id("export_job", &id)?;
    Ok(Json(s.app.exports().delete_export_job(&actor, id).await?))
}

/// Download the file of a finished job, decrypted as it is streamed (the download is
/// audited). 409 while the job is queued or running, or when it failed; 410 once the file
/// expired or was deleted, or when it is damaged.
#[utoipa::path(get, path = "/api/v1/exports/{id}/file", tag = "exports", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "CSV, XLSX or JSON Lines file"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 410, body = Problem, content_type = "application/problem+json")))]
pub async fn download_export(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("export_job", &id)?;
    let f = s.app.exports().open_export_file(&actor, id).await?;
    let mut resp = file_response(
        reader_body(f.reader, ()),
        f.content_type,
        &f.file_name,
        f.byte_size,
    );
    if let Some(Ok(v)) = f.sha256.as_deref().map(HeaderValue::from_str) {
        resp.headers_mut().insert("x-content-sha256", v);
    }
    Ok(resp)
}
