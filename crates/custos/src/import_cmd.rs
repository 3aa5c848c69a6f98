//! `custos import`, `custos template` and `custos export`: thin wrappers over the
//! import/export use cases, with a progress bar on a terminal and `--json` for scripts.

use crate::output::outln;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use custos_app::export::{ExportFormat, ExportOptions};
use custos_app::import::report::{write_rejected, write_sample};
use custos_app::import::{
    DuplicatePolicy, ImportOptions, ImportOutcome, ImportProgress, ImportReport, MappingSpec,
    ReportedRow, TextEncoding,
};
use custos_app::search::CustomerQuery;
use custos_app::{Actor, App};

use crate::{print_json, Failure};

#[derive(Args)]
pub struct ImportArgs {
    /// CSV (UTF-8 or GBK/GB18030) or XLSX file.
    file: Option<PathBuf>,
    /// Mapping file (TOML): columns, value maps, defaults.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Check everything, commit nothing.
    #[arg(long)]
    dry_run: bool,
    /// Duplicates: skip, review, merge or update.
    #[arg(long, default_value = "skip")]
    policy: String,
    /// Write rejected and skipped rows here (.xlsx or .csv), reasons per field.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the sampling (抽查) file here (.xlsx or .csv).
    #[arg(long)]
    sample: Option<PathBuf>,
    /// Share of imported rows in the sampling file (0.1–0.2 recommended).
    #[arg(long, default_value_t = 0.15)]
    sample_rate: f64,
    /// Force the CSV encoding (utf-8, gbk, gb18030, utf-16le, utf-16be); detected when
    /// absent (UTF-16 by its BOM).
    #[arg(long)]
    encoding: Option<String>,
    /// Force the CSV cell separator (comma, tab, semicolon, pipe); detected when absent.
    #[arg(long)]
    delimiter: Option<String>,
    /// XLSX sheet (first when absent).
    #[arg(long)]
    sheet: Option<String>,
    /// Rows per transaction. Large chunks make large imports faster (each commit
    /// rewrites every index page it touched); while one is written, other writers of an
    /// embedded database wait for it (about 3 s for 5,000 rows).
    #[arg(long, default_value_t = custos_app::import::BULK_CHUNK_ROWS)]
    chunk: usize,
    /// Continue import job JOB after a crash.
    #[arg(long, value_name = "JOB", conflicts_with = "file")]
    resume: Option<i64>,
}

fn bar(json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec}, ETA {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

pub async fn run_import(
    app: &App,
    actor: &Actor,
    args: &ImportArgs,
    json: bool,
) -> Result<(), Failure> {
    let b = bar(json);
    let progress = {
        let b = b.clone();
        move |p: &ImportProgress| {
            if b.length() != Some(p.rows_estimate) && p.rows_estimate > 0 {
                b.set_length(p.rows_estimate.max(p.rows_done as u64));
            }
            b.set_position(p.rows_done as u64);
            b.set_message(format!("created {} rejected {}", p.created, p.rejected));
        }
    };
    let started = Instant::now();
    let outcome = match (&args.file, args.resume) {
        (_, Some(job)) => app.resume_import(actor, job, &progress).await?,
        (Some(file), None) => {
            let mapping = match &args.mapping {
                Some(p) => {
                    let text = std::fs::read_to_string(p).map_err(|e| {
                        Failure(format!("cannot read mapping file {}: {e}", p.display()))
                    })?;
                    MappingSpec::parse(&text)?
                }
                None => MappingSpec::default(),
            };
            let options = ImportOptions {
                file_name: file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                format: None,
                encoding: args
                    .encoding
                    .as_deref()
                    .map(|s| TextEncoding::parse(s).map_err(custos_app::AppError::from))
                    .transpose()?,
                delimiter: args
                    .delimiter
                    .as_deref()
                    .map(custos_app::import::source::parse_delimiter)
                    .transpose()?,
                sheet: args.sheet.clone(),
                mapping,
                policy: DuplicatePolicy::parse(&args.policy)?,
                dry_run: args.dry_run,
                sample_rate: args.sample_rate,
                chunk_rows: args.chunk,
                uploaded: false,
            };
            let file = std::fs::canonicalize(file)
                .map_err(|e| Failure(format!("cannot open {}: {e}", file.display())))?;
            let prepared = app.prepare_import(actor, &file, options).await?;
            if let Some(id) = prepared.job_id() {
                // On stderr even with --json: the id is what a resume after a crash needs.
                b.suspend(|| {
                    eprintln!("import job #{id} (resume with: custos import --resume {id})")
                });
            }
            app.run_import(actor, prepared, &progress).await?
        }
        (None, None) => return Err(Failure("give a FILE to import or --resume JOB".into())),
    };
    b.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let (rejected, sampled) = rows_of(app, actor, &outcome).await?;
    let headers = report_headers(app, actor, &outcome).await?;
    if let Some(p) = &args.report {
        write_rejected(p, &headers, &rejected)?;
    }
    if let Some(p) = &args.sample {
        write_sample(p, &headers, &sampled)?;
    }
    if json {
        print_json(&serde_json::json!({
            "report": outcome.report,
            "seconds": secs,
            "rejected_file": args.report,
            "sample_file": args.sample,
        }));
    } else {
        print_summary(&outcome.report, secs);
        if let Some(p) = &args.report {
            outln!(
                "rejected/skipped rows: {} → {}",
                rejected.len(),
                p.display()
            );
        }
        if let Some(p) = &args.sample {
            outln!(
                "sampling file (抽查): {} rows → {}",
                sampled.len(),
                p.display()
            );
        }
    }
    Ok(())
}

async fn report_headers(
    app: &App,
    actor: &Actor,
    outcome: &ImportOutcome,
) -> Result<Vec<String>, Failure> {
    if !outcome.headers.is_empty() {
        return Ok(outcome.headers.clone());
    }
    match outcome.report.job_id {
        Some(id) => Ok(app.import_job_headers(actor, id).await?),
        None => Ok(Vec::new()),
    }
}

/// Rejected+skipped rows and sampled rows: from memory for a dry run, else from the job.
async fn rows_of(
    app: &App,
    actor: &Actor,
    outcome: &ImportOutcome,
) -> Result<(Vec<ReportedRow>, Vec<ReportedRow>), Failure> {
    let Some(job) = outcome.report.job_id else {
        let rejected = outcome
            .rows
            .iter()
            .filter(|r| r.outcome != "sampled")
            .cloned()
            .collect();
        let sampled = outcome
            .rows
            .iter()
            .filter(|r| r.outcome == "sampled")
            .cloned()
            .collect();
        return Ok((rejected, sampled));
    };
    let mut all = Vec::new();
    let mut sampled = Vec::new();
    for outcome in ["rejected", "skipped", "sampled"] {
        let into = if outcome == "sampled" {
            &mut sampled
        } else {
            &mut all
        };
        let mut after = 0;
        loop {
            let page = app
                .import_job_rows(actor, job, outcome, after, 5000)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.row_no;
            into.extend(page);
        }
    }
    all.sort_by_key(|r| r.row_no);
    Ok((all, sampled))
}

fn print_summary(r: &ImportReport, secs: f64) {
    let mut t = comfy_table::Table::new();
    t.set_header(["", ""]);
    let job = r
        .job_id
        .map(|j| format!("#{j}"))
        .unwrap_or_else(|| "dry run (nothing written)".into());
    for (k, v) in [
        ("job 任务", job),
        ("status 状态", r.status.clone()),
        ("file 文件", r.file_name.clone()),
        (
            "format 格式",
            format!(
                "{} {}{}{}",
                r.format,
                r.encoding.clone().unwrap_or_default(),
                r.delimiter
                    .as_ref()
                    .map(|d| format!(" delimiter {d}"))
                    .unwrap_or_default(),
                r.sheet
                    .as_ref()
                    .map(|s| format!(" sheet {s}"))
                    .unwrap_or_default()
            ),
        ),
        ("policy 策略", format!("{:?}", r.policy).to_lowercase()),
        ("read 读取", r.read.to_string()),
        ("created 新建", r.created.to_string()),
        ("updated 更新", r.updated.to_string()),
        ("merged 合并", r.merged.to_string()),
        ("skipped 跳过", r.skipped.to_string()),
        ("rejected 拒绝", r.rejected.to_string()),
        (
            "rate 速度",
            format!("{:.0} rows/s", r.read as f64 / secs.max(0.001)),
        ),
    ] {
        t.add_row([k.to_string(), v]);
    }
    outln!("{t}");
    if !r.unknown_columns.is_empty() {
        outln!(
            "unknown columns, not imported (未识别的列): {}",
            r.unknown_columns.join(", ")
        );
    }
}

pub async fn run_template(app: &App, actor: &Actor, file: &Path) -> Result<(), Failure> {
    let bytes = app.import_template(actor).await?;
    custos_files::private_files::write(file, &bytes)
        .map_err(|e| Failure(format!("cannot write {}: {e}", file.display())))?;
    outln!("template written to {}", file.display());
    Ok(())
}

#[derive(Args)]
pub struct ExportArgs {
    /// csv, xlsx or jsonl.
    #[arg(long, default_value = "csv")]
    format: String,
    /// CSV in GB18030/GBK (for older Excel) instead of UTF-8 with BOM.
    #[arg(long)]
    gbk: bool,
    /// Output file (default customers.<format>).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Code prefix.
    #[arg(long)]
    code: Option<String>,
    /// Name contains.
    #[arg(long)]
    name: Option<String>,
    /// Customer type.
    #[arg(long = "type")]
    customer_type: Option<String>,
    /// Region code prefix (11 = Beijing).
    #[arg(long)]
    region: Option<String>,
    /// Industry code (GB/T 4754 letter or digits).
    #[arg(long)]
    industry: Option<String>,
    /// Status: active, retired, archived, merged.
    #[arg(long)]
    status: Option<String>,
    /// Customer level (as configured, e.g. A, B, C).
    #[arg(long)]
    level: Option<String>,
    /// Owner's user id.
    #[arg(long)]
    owner: Option<i64>,
    /// Department id (and its sub-departments).
    #[arg(long)]
    department: Option<i64>,
    /// Has this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Created on or after this day (YYYY-MM-DD, business time zone) or time (RFC 3339).
    #[arg(long)]
    created_from: Option<String>,
    /// Created up to this day (YYYY-MM-DD, the whole day included) or before this time (RFC 3339).
    #[arg(long)]
    created_to: Option<String>,
}

pub async fn run_export(
    app: &App,
    actor: &Actor,
    a: &ExportArgs,
    json: bool,
) -> Result<(), Failure> {
    let format = ExportFormat::parse(&a.format)?;
    let out = a
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("customers.{}", format.extension())));
    let q = CustomerQuery {
        code: a.code.clone(),
        name: a.name.clone(),
        customer_type: a.customer_type.clone(),
        region: a.region.clone(),
        industry: a.industry.clone(),
        status: a.status.clone(),
        level: a.level.clone(),
        owner: a.owner,
        department: a.department,
        tag: a.tag.clone(),
        created_from: a.created_from.clone(),
        created_to: a.created_to.clone(),
        ..Default::default()
    };
    let started = Instant::now();
    let rows = app
        .export_customers(actor, q, ExportOptions { format, gbk: a.gbk }, &out)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    if json {
        print_json(&serde_json::json!({"rows": rows, "file": out, "seconds": secs}));
    } else {
        outln!(
            "exported {rows} customers to {} in {secs:.1} s",
            out.display()
        );
    }
    Ok(())
}
