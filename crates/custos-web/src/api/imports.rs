//! Import jobs (批量导入) and the import template.

use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use custos_app::import::report::ReportFormat;
use custos_app::import::source;
use custos_app::import::{DuplicatePolicy, ImportOptions, ImportReport, MappingSpec, TextEncoding};
use custos_app::AppError;
use custos_core::Violation;

use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::AppState;

/// Largest accepted upload.
pub const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;

pub(crate) const XLSX_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The multipart form of `POST /api/v1/imports`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// The CSV or XLSX file.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// Mapping file (TOML text): columns, value maps, defaults.
    mapping: Option<String>,
    /// skip (default), review, merge, update.
    policy: Option<String>,
    /// `true`: check everything, write nothing; the answer is the report.
    dry_run: Option<bool>,
    /// XLSX sheet name (first when absent).
    sheet: Option<String>,
    /// Force the CSV encoding: utf-8, gbk, gb18030, utf-16le, utf-16be.
    encoding: Option<String>,
    /// Force the CSV cell separator: comma, tab, semicolon, pipe (`,` `;` `|`).
    delimiter: Option<String>,
    /// Share of imported rows in the sampling file (default 0.15).
    sample_rate: Option<f64>,
}

fn form_error(field: &str, zh: String, en: String) -> ApiError {
    ApiError(AppError::validation(
        field,
        Violation::new("request.form", zh, en),
    ))
}

async fn text(field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let text = field.text().await.map_err(|e| {
        if crate::body_limit::over_limit(e.status()) {
            return crate::body_limit::too_large(MAX_UPLOAD_BYTES);
        }
        form_error(
            name,
            format!("无法读取表单字段 {name}：{e}"),
            format!("cannot read form field {name}: {e}"),
        )
    })?;
    // The mapping's TOML escapes are checked where it is parsed (custos-app).
    crate::guard::check_form_text(name, &text)?;
    Ok(text)
}

/// Read the multipart form of an import (the API's and the console's): the options and
/// the uploaded file, written sealed as it arrives. With `csrf` (the console), a field
/// `csrf` holding that token must come before the file, and is not an option.
pub(crate) async fn read_import_form(
    s: &AppState,
    actor: &custos_app::Actor,
    form: Result<Multipart, MultipartRejection>,
    csrf: Option<&str>,
) -> Result<(ImportOptions, custos_app::import::Upload), ApiError> {
    let mut csrf_seen = csrf.is_none();
    let mut form = form.map_err(|e| {
        form_error(
            "body",
            format!("请求体须为 multipart/form-data：{e}"),
            format!("the body must be multipart/form-data: {e}"),
        )
    })?;
    let mut options = ImportOptions::default();
    // Dropped (and deleted) on any refusal below, until its job has it.
    let mut upload = None;
    loop {
        let field = form.next_field().await.map_err(|e| {
            if crate::body_limit::over_limit(e.status()) {
                return crate::body_limit::too_large(MAX_UPLOAD_BYTES);
            }
            form_error(
                "body",
                format!("表单格式错误：{e}"),
                format!("malformed form: {e}"),
            )
        })?;
        let Some(mut field) = field else { break };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "csrf" if csrf.is_some() => {
                let given = text(field, &name).await?;
                csrf_seen = csrf.is_some_and(|c| crate::console::session::same_secret(&given, c));
            }
            "file" if !csrf_seen => {
                return Err(ApiError(AppError::Denied(Violation::new(
                    "auth.csrf",
                    "页面已过期，请刷新后重新提交",
                    "the page expired; reload it and submit again",
                ))));
            }
            "file" => {
                if upload.is_some() {
                    return Err(form_error(
                        "file",
                        "只能上传一个文件（表单字段 file 出现了不止一次）".into(),
                        "upload one file only (form field file was given more than once)".into(),
                    ));
                }
                let file_name = field.file_name().unwrap_or("upload.csv").to_string();
                crate::guard::check_form_text("file", &file_name)?;
                let mut u = s.app.imports().start_upload(actor, &file_name).await?;
                loop {
                    match field.chunk().await {
                        Ok(Some(bytes)) => u.write(&bytes).await?,
                        Ok(None) => break,
                        Err(e) if crate::body_limit::over_limit(e.status()) => {
                            return Err(crate::body_limit::too_large(MAX_UPLOAD_BYTES));
                        }
                        Err(e) => {
                            return Err(form_error(
                                "file",
                                format!(
                                    "上传文件读取失败（最大 {} MiB）：{e}",
                                    MAX_UPLOAD_BYTES >> 20
                                ),
                                format!(
                                    "cannot read the upload (at most {} MiB): {e}",
                                    MAX_UPLOAD_BYTES >> 20
                                ),
                            ));
                        }
                    }
                }
                upload = Some(u);
            }
            "mapping" => options.mapping = MappingSpec::parse(&text(field, &name).await?)?,
            "policy" => options.policy = DuplicatePolicy::parse(&text(field, &name).await?)?,
            "dry_run" => {
                options.dry_run = matches!(
                    text(field, &name).await?.trim().to_lowercase().as_str(),
                    "true" | "1" | "yes"
                )
            }
            // An empty choice (the upload form's "自动识别") means: detect it.
            "sheet" => options.sheet = given(text(field, &name).await?),
            "encoding" => {
                options.encoding = match given(text(field, &name).await?) {
                    Some(e) => Some(TextEncoding::parse(&e).map_err(AppError::from)?),
                    None => None,
                }
            }
            "delimiter" => {
                options.delimiter = match given(text(field, &name).await?) {
                    Some(d) => Some(source::parse_delimiter(&d)?),
                    None => None,
                }
            }
            "sample_rate" => {
                let t = text(field, &name).await?;
                options.sample_rate = t.trim().parse().map_err(|_| {
                    form_error(
                        "sample_rate",
                        format!("抽查比例应为 0–1 的数字（{t}）"),
                        format!("sample_rate must be a number 0–1 ({t})"),
                    )
                })?;
            }
            other => {
                return Err(form_error(
                    other,
                    format!("不认识的表单字段“{other}”"),
                    format!("unknown form field '{other}'"),
                ))
            }
        }
    }
    let Some(upload) = upload else {
        return Err(form_error(
            "file",
            "缺少上传文件（表单字段 file）".into(),
            "no file uploaded (form field file)".into(),
        ));
    };
    Ok((options, upload))
}

/// A form value, or `None` when left empty.
fn given(value: String) -> Option<String> {
    (!value.trim().is_empty()).then_some(value)
}

/// Run a prepared import in the background.
pub(crate) fn spawn_import(
    app: custos_app::App,
    actor: custos_app::Actor,
    prepared: custos_app::import::PreparedImport,
) {
    tokio::spawn(async move {
        if let Err(e) = app.imports().run_import(&actor, prepared, &|_| {}).await {
            tracing::warn!(error = %e, "import job stopped");
        }
    });
}

/// Resume a stopped job in the background.
pub(crate) fn spawn_resume(app: custos_app::App, actor: custos_app::Actor, id: i64) {
    tokio::spawn(async move {
        if let Err(e) = app.imports().resume_import(&actor, id, &|_| {}).await {
            tracing::warn!(error = %e, "import job stopped");
        }
    });
}

/// Start an import from an uploaded file (`import`, `customer.create`). The file is
/// checked first (format, encoding, sheet, columns: 4xx, nothing written); then the job
/// runs in the background — poll `GET /api/v1/imports/{id}`. A dry run answers with its
/// report directly.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", security(("bearer" = [])),
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses((status = 202, body = ImportReport), (status = 200, body = ImportReport, description = "dry run"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_import(
    State(s): State<AppState>,
    Auth(actor): Auth,
    headers: axum::http::HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    actor.require("import")?;
    if crate::body_limit::declared_over(&headers, MAX_UPLOAD_BYTES) {
        return Err(crate::body_limit::too_large(MAX_UPLOAD_BYTES));
    }
    let (options, upload) = read_import_form(&s, &actor, form, None).await?;
    let dry_run = options.dry_run;
    // The job owns the file now; it deletes it when it ends.
    let prepared = s
        .app
        .imports()
        .prepare_upload(&actor, upload, options)
        .await?;
    if dry_run {
        // The run deletes the upload when it ends.
        let out = s
            .app
            .imports()
            .run_import(&actor, prepared, &|_| {})
            .await?;
        return Ok((StatusCode::OK, Json(out.report)));
    }
    let report = prepared.report();
    spawn_import(s.app.clone(), actor, prepared);
    Ok((StatusCode::ACCEPTED, Json(report)))
}

/// State and totals of an import job (the caller's own, or any with `import` on all).
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ImportReport), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_import(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ImportReport>, ApiError> {
    let id = parse_id("import_job", &id)?;
    Ok(Json(s.app.imports().import_job(&actor, id).await?))
}

/// Continue a job that stopped (server crash) from its first uncommitted row.
#[utoipa::path(post, path = "/api/v1/imports/{id}/resume", tag = "imports", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 202, body = ImportReport), (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn resume_import(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    let id = parse_id("import_job", &id)?;
    let report = s.app.imports().import_job(&actor, id).await?;
    if report.status != "running" {
        return Err(ApiError(AppError::Rejected(Violation::new(
            "import.not_resumable",
            format!("导入任务 #{id} 状态为 {}，不能继续", report.status),
            format!(
                "import job #{id} is {} and cannot be resumed",
                report.status
            ),
        ))));
    }
    spawn_resume(s.app.clone(), actor, id);
    Ok((StatusCode::ACCEPTED, Json(report)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
}

pub(crate) fn file_response(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn report_file(
    s: &AppState,
    actor: &custos_app::Actor,
    id: &str,
    kind: &str,
    q: FileQuery,
) -> Result<Response, ApiError> {
    let id = parse_id("import_job", id)?;
    let xlsx = match q.format.as_deref().map(str::trim) {
        None | Some("csv") => false,
        Some("xlsx") => true,
        Some(other) => {
            return Err(super::bad_query(
                "format",
                other,
                "可选 csv、xlsx",
                "use csv or xlsx",
            ))
        }
    };
    let format = if xlsx {
        ReportFormat::Xlsx
    } else {
        ReportFormat::Csv
    };
    let ext = if xlsx { "xlsx" } else { "csv" };
    let bytes = s
        .app
        .imports()
        .import_report(actor, id, kind, format, None)
        .await?;
    let ct = if xlsx {
        XLSX_TYPE
    } else {
        "text/csv; charset=utf-8"
    };
    Ok(file_response(
        bytes,
        ct,
        &format!("import-{id}-{kind}.{ext}"),
    ))
}

/// Rejected and skipped rows of a job: the original cells plus one `错误:<column>` column
/// per failing field — fix them and import this file again.
#[utoipa::path(get, path = "/api/v1/imports/{id}/rejected", tag = "imports", security(("bearer" = [])),
    params(("id" = i64, Path), FileQuery),
    responses((status = 200, description = "CSV or XLSX file"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn import_rejected(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FileQuery>,
) -> Result<Response, ApiError> {
    report_file(&s, &actor, &id, "rejected", q).await
}

/// The sampling file (抽查) of a job: source values next to the stored ones.
#[utoipa::path(get, path = "/api/v1/imports/{id}/sample", tag = "imports", security(("bearer" = [])),
    params(("id" = i64, Path), FileQuery),
    responses((status = 200, description = "CSV or XLSX file"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn import_sample(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FileQuery>,
) -> Result<Response, ApiError> {
    report_file(&s, &actor, &id, "sample", q).await
}

/// The empty import template: the catalog's headers, a help row, drop-down lists.
#[utoipa::path(get, path = "/api/v1/imports/template", tag = "imports", security(("bearer" = [])),
    responses((status = 200, description = "XLSX file"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn import_template(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Response, ApiError> {
    let bytes = s.app.imports().import_template(&actor).await?;
    Ok(file_response(bytes, XLSX_TYPE, "customers-template.xlsx"))
}
