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
    /// 要导入的 CSV（UTF-8 或 GBK/GB18030）或 XLSX 文件。
    file: Option<PathBuf>,
    /// 映射文件 (mapping, TOML)：列与字段的对应、值映射、默认值。
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// 试运行 (dry run)：检查全部内容，不写入任何数据。
    #[arg(long)]
    dry_run: bool,
    /// 重复行的处理策略 (policy)：skip、review、merge 或 update。
    #[arg(long, default_value = "skip")]
    policy: String,
    /// 被拒绝和跳过的行写到这里（.xlsx 或 .csv），每个字段附原因 (report)。
    #[arg(long)]
    report: Option<PathBuf>,
    /// 抽查表 (sample) 写到这里（.xlsx 或 .csv）。
    #[arg(long)]
    sample: Option<PathBuf>,
    /// 抽查比例 (sample rate)：抽查表占导入行数的比例（建议 0.1–0.2）。
    #[arg(long, default_value_t = 0.15)]
    sample_rate: f64,
    /// 指定 CSV 编码 (encoding)：utf-8、gbk、gb18030、utf-16le、utf-16be；不给时自动识别
    /// （UTF-16 按 BOM 识别）。
    #[arg(long)]
    encoding: Option<String>,
    /// 指定 CSV 分隔符 (delimiter)：comma、tab、semicolon、pipe；不给时自动识别。
    #[arg(long)]
    delimiter: Option<String>,
    /// XLSX 工作表 (sheet)，默认第一个。
    #[arg(long)]
    sheet: Option<String>,
    /// 每个事务的行数 (chunk)。大的批次使大批导入更快（每次提交都要重写它改动过的
    /// 索引页）；写入一个批次时，内嵌数据库的其他写操作要等它完成
    /// （5,000 行约 3 秒）。
    #[arg(long, default_value_t = custos_app::import::BULK_CHUNK_ROWS)]
    chunk: usize,
    /// 续传 (resume)：服务崩溃后继续导入任务 JOB。
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
        (_, Some(job)) => app.imports().resume_import(actor, job, &progress).await?,
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
            let prepared = app.imports().prepare_import(actor, &file, options).await?;
            if let Some(id) = prepared.job_id() {
                // On stderr even with --json: the id is what a resume after a crash needs.
                b.suspend(|| {
                    eprintln!("import job #{id} (resume with: custos import --resume {id})")
                });
            }
            app.imports().run_import(actor, prepared, &progress).await?
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
        Some(id) => Ok(app.imports().import_job_headers(actor, id).await?),
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
                .imports()
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
    let bytes = app.imports().import_template(actor).await?;
    custos_files::private_files::write(file, &bytes)
        .map_err(|e| Failure(format!("cannot write {}: {e}", file.display())))?;
    outln!("template written to {}", file.display());
    Ok(())
}

#[derive(Args)]
pub struct ExportArgs {
    /// 导出格式 (format)：csv、xlsx 或 jsonl。
    #[arg(long, default_value = "csv")]
    format: String,
    /// CSV 用 GB18030/GBK 编码（供旧版 Excel），而不是带 BOM 的 UTF-8。
    #[arg(long)]
    gbk: bool,
    /// 输出文件 (output)，默认 customers.<格式>。
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// 客户编码前缀 (code prefix)。
    #[arg(long)]
    code: Option<String>,
    /// 名称包含该文字。
    #[arg(long)]
    name: Option<String>,
    /// 客户类型 (customer type)。
    #[arg(long = "type")]
    customer_type: Option<String>,
    /// 行政区划代码前缀 (region code prefix)，11 为北京。
    #[arg(long)]
    region: Option<String>,
    /// 行业代码 (industry，GB/T 4754 的门类字母或大类数字)。
    #[arg(long)]
    industry: Option<String>,
    /// 状态 (status)：active、retired、archived、merged。
    #[arg(long)]
    status: Option<String>,
    /// 客户等级 (level)，按配置，如 A、B、C。
    #[arg(long)]
    level: Option<String>,
    /// 负责人 (owner) 的用户编号。
    #[arg(long)]
    owner: Option<i64>,
    /// 部门编号 (department id)，含下级部门。
    #[arg(long)]
    department: Option<i64>,
    /// 带有此标签 (tag)。
    #[arg(long)]
    tag: Option<String>,
    /// 创建时间下限 (created from)：这一天（YYYY-MM-DD，业务时区）或这一时刻（RFC 3339）起。
    #[arg(long)]
    created_from: Option<String>,
    /// 创建时间上限 (created to)：到这一天为止（YYYY-MM-DD，含当天）或这一时刻（RFC 3339）之前。
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
        .exports()
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
