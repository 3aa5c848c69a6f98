//! `custos dedupe --input records.csv --id-column record_id --output clusters.csv`:
//! duplicate groups in a CSV file, for data migration and benchmarks.
//!
//! Stream the CSV → prepare every row (in parallel) → blocking keys hashed to u64 →
//! sort by key → score every pair inside a block (all pairs for small blocks, a sorted
//! neighbourhood for large ones) → union-find over pairs at or above the threshold, strongest
//! first, never joining two groups that hold different valid USCCs or id numbers (that
//! stops chains through a shared phone or a look-alike name) → `record_id,cluster_id`.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use custos_app::csv_cell::neutralise;
use custos_core::matching::cluster::{cluster, ClusterOptions, Progress};
use custos_core::matching::{prepare, MatchRecord, Prepared, Thresholds};

/// Arguments of `custos dedupe`.
#[derive(Args, Debug, Clone)]
pub struct DedupeArgs {
    /// 查找数据库中的全部客户而不是文件：重复组进入查重审核队列 (review queue，
    /// `/api/v1/duplicates/groups`)，由数据管理员合并 (merge) 或判定不是重复 (dismiss)。
    #[arg(long, conflicts_with_all = ["input", "id_column", "output", "pairs"])]
    pub database: bool,
    /// CSV 文件（UTF-8，可带 BOM），表头为字段键：customer_type、name、
    /// short_name、former_names、uscc、id_number、phone、email、province、city、district、
    /// address、industry（以及 region_code、birth_date）；其他列忽略。
    #[arg(long, required_unless_present = "database")]
    pub input: Option<PathBuf>,
    /// 存放每行编号 (record id) 的列。
    #[arg(long, required_unless_present = "database")]
    pub id_column: Option<String>,
    /// `record_id,cluster_id` 写到哪里（每行一条，单独成组的也写）。
    #[arg(long, required_unless_present = "database")]
    pub output: Option<PathBuf>,
    /// 相似度 (score) 不低于此值的一对算重复（默认“确定重复” `definite` 的阈值）。
    #[arg(long)]
    pub threshold: Option<f64>,
    /// 同时把匹配的各对及其相似度写到这个 CSV。
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// 大于此数的分块 (block) 按排序邻域 (sorted neighbourhood) 比较，而不是两两比较。
    #[arg(long, default_value_t = 24)]
    pub max_block: usize,
    /// 大分块中排序邻域的窗口大小 (window)。
    #[arg(long, default_value_t = 6)]
    pub window: usize,
    /// 并查集 (union-find) 可以形成的最大重复组。
    #[arg(long, default_value_t = 200)]
    pub max_cluster: usize,
}

/// What a run did, printed as one line (or JSON with `--json`).
#[derive(Debug, serde::Serialize)]
pub struct DedupeSummary {
    pub records: usize,
    pub blocking_keys: usize,
    pub candidate_pairs: u64,
    /// Candidate pairs scored: a pair sharing several small blocks is scored once.
    pub scored_pairs: u64,
    pub matched_pairs: usize,
    pub clusters: usize,
    pub rows_in_groups: usize,
    pub threshold: f64,
    pub seconds_read: f64,
    pub seconds_block: f64,
    pub seconds_score: f64,
    pub seconds_cluster: f64,
    pub seconds_total: f64,
}

const FIELDS: [&str; 16] = [
    "customer_type",
    "name",
    "short_name",
    "former_names",
    "uscc",
    "id_number",
    "phone",
    "email",
    "province",
    "city",
    "district",
    "address",
    "industry",
    "region_code",
    "birth_date",
    "mobile",
];

/// Column index of each known field (None when the file lacks it).
struct Columns {
    id: usize,
    fields: [Option<usize>; FIELDS.len()],
}

impl Columns {
    fn from_headers(headers: &csv::StringRecord, id_column: &str) -> Result<Columns, String> {
        let clean: Vec<String> = headers
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
            .collect();
        let id_wanted = id_column.trim().to_lowercase();
        let id = clean.iter().position(|h| *h == id_wanted).ok_or_else(|| {
            format!(
                "输入文件没有编号列 {id_column}（表头：{}） / the input has no column {id_column}",
                clean.join(",")
            )
        })?;
        let mut fields = [None; FIELDS.len()];
        for (slot, key) in fields.iter_mut().zip(FIELDS) {
            *slot = clean.iter().position(|h| h == key);
        }
        Ok(Columns { id, fields })
    }

    fn get<'r>(&self, row: &'r csv::StringRecord, field: usize) -> &'r str {
        self.fields[field]
            .and_then(|i| row.get(i))
            .unwrap_or("")
            .trim()
    }

    /// Fill `r` with a row's fields, reusing its strings' buffers (one record per thread
    /// instead of a dozen new Strings per row).
    fn fill_record(&self, row: &csv::StringRecord, r: &mut MatchRecord) {
        let list = |s: &str, out: &mut Vec<String>| {
            out.extend(
                s.split([';', '；', '|', '、'])
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string),
            );
        };
        let set = |s: &mut String, field: usize| {
            s.clear();
            s.push_str(self.get(row, field));
        };
        r.phones.clear();
        list(self.get(row, 6), &mut r.phones);
        list(self.get(row, 15), &mut r.phones);
        r.former_names.clear();
        list(self.get(row, 3), &mut r.former_names);
        set(&mut r.customer_type, 0);
        set(&mut r.name, 1);
        set(&mut r.short_name, 2);
        set(&mut r.uscc, 4);
        set(&mut r.id_number, 5);
        set(&mut r.email, 7);
        set(&mut r.province, 8);
        set(&mut r.city, 9);
        set(&mut r.district, 10);
        set(&mut r.address, 11);
        set(&mut r.industry, 12);
        set(&mut r.region_code, 13);
        r.birth_date = parse_date(self.get(row, 14));
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.is_empty() {
        return None; // most rows: no date, and four failed parses cost more than the row's CSV
    }
    ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

fn progress(total: u64, message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg:>10} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Ids and prepared features of every row, in file order.
fn read_records(
    input: &Path,
    id_column: &str,
    today: NaiveDate,
) -> Result<(Vec<String>, Vec<Prepared>), String> {
    let file = File::open(input)
        .map_err(|e| format!("无法打开 {} / cannot open it: {e}", input.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let headers = reader
        .headers()
        .map_err(|e| format!("无法读取表头 / cannot read the header: {e}"))?
        .clone();
    let columns = Columns::from_headers(&headers, id_column)?;
    let bar = progress(size, "read");
    let mut ids = Vec::new();
    let mut prepared = Vec::new();
    const CHUNK: usize = 16_384;
    // One thread parses the CSV while the pool prepares the previous chunk.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<csv::StringRecord>, u64)>(2);
    let read_result = std::thread::scope(|scope| {
        let reader_thread = scope.spawn(move || -> Result<(), String> {
            let mut chunk: Vec<csv::StringRecord> = Vec::with_capacity(CHUNK);
            let mut row = csv::StringRecord::new();
            loop {
                let more = reader.read_record(&mut row).map_err(|e| {
                    format!(
                        "CSV 第 {} 行无法读取 / cannot read CSV line: {e}",
                        e.position().map_or(0, |p| p.line())
                    )
                })?;
                if more {
                    // A clone is allocated at its final size; `row` keeps its buffers for
                    // the next line (taking it made every row grow new ones from empty).
                    chunk.push(row.clone());
                }
                if chunk.len() == CHUNK || (!more && !chunk.is_empty()) {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if tx.send((full, reader.position().byte())).is_err() {
                        return Ok(());
                    }
                }
                if !more {
                    return Ok(());
                }
            }
        });
        for (chunk, position) in rx {
            let part: Vec<(String, Prepared)> = chunk
                .par_iter()
                .map_init(MatchRecord::default, |record, r| {
                    let id = r.get(columns.id).unwrap_or("").trim().to_string();
                    columns.fill_record(r, record);
                    (id, prepare(record, today))
                })
                .collect();
            if ids.is_empty() && position > 0 {
                // Reserve for the whole file, estimated from the first chunk, so that a
                // million prepared rows are not copied again and again as the vectors grow.
                let estimate = (size as f64 / position as f64 * part.len() as f64 * 1.05) as usize;
                ids.reserve(estimate.min(u32::MAX as usize));
                prepared.reserve(estimate.min(u32::MAX as usize));
            }
            for (id, p) in part {
                ids.push(id);
                prepared.push(p);
            }
            bar.set_position(position);
        }
        reader_thread
            .join()
            .unwrap_or_else(|_| Err("CSV reader thread panicked".into()))
    });
    read_result?;
    bar.finish_and_clear();
    if ids.len() > u32::MAX as usize {
        return Err("too many rows (more than 4 294 967 295)".into());
    }
    Ok((ids, prepared))
}

/// A terminal progress bar for the scoring stage.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, done: u64) {
        self.0.inc(done);
    }
}

/// Run `custos dedupe` on a file; returns the summary.
pub fn run(args: &DedupeArgs) -> Result<DedupeSummary, String> {
    let (Some(input), Some(id_column), Some(output)) = (&args.input, &args.id_column, &args.output)
    else {
        return Err("需要 --input、--id-column 和 --output（或 --database）/ \
                    --input, --id-column and --output are required (or --database)"
            .into());
    };
    let threshold = args.threshold.unwrap_or(Thresholds::default().definite);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(format!(
            "--threshold 必须在 0 到 1 之间 / must be between 0 and 1 ({threshold})"
        ));
    }
    let started = Instant::now();
    let today = chrono::Local::now().date_naive();
    let (ids, prepared) = read_records(input, id_column, today)?;
    let t_read = started.elapsed();

    let opts = ClusterOptions {
        threshold,
        max_block: args.max_block,
        window: args.window,
        max_cluster: args.max_cluster,
    };
    let bar = Bar(progress(0, "compare"));
    let clustering = cluster(&prepared, &opts, &bar, &|_, _| false);
    bar.0.finish_and_clear();
    drop(prepared);
    let t_score = started.elapsed();
    let pairs = &clustering.pairs;
    if let Some(path) = &args.pairs {
        write_pairs(path, &ids, pairs)?;
    }

    let out = custos_files::private_files::create(output)
        .map_err(|e| format!("无法写入 {} / cannot write it: {e}", output.display()))?;
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, out));
    let write_err = |e: csv::Error| format!("写入失败 / write failed: {e}");
    w.write_record(["record_id", "cluster_id"])
        .map_err(write_err)?;
    // Roots are row indices: a vector counts the group sizes (a hash map cost more).
    let mut cluster_sizes = vec![0u32; ids.len()];
    for i in 0..ids.len() as u32 {
        let root = clustering.roots[i as usize];
        cluster_sizes[root as usize] += 1;
        w.write_record([
            neutralise(&ids[i as usize]).as_ref(),
            neutralise(&ids[root as usize]).as_ref(),
        ])
        .map_err(write_err)?;
    }
    w.into_inner()
        .map_err(|e| format!("写入失败 / write failed: {e}"))?
        .flush()
        .map_err(|e| format!("写入失败 / write failed: {e}"))?;
    let t_total = started.elapsed();

    Ok(DedupeSummary {
        records: ids.len(),
        blocking_keys: clustering.blocks,
        candidate_pairs: clustering.candidates,
        scored_pairs: clustering.scored,
        matched_pairs: pairs.len(),
        clusters: cluster_sizes.iter().filter(|&&n| n > 0).count(),
        rows_in_groups: cluster_sizes
            .iter()
            .filter(|&&n| n > 1)
            .map(|&n| n as usize)
            .sum(),
        threshold,
        seconds_read: t_read.as_secs_f64(),
        seconds_block: clustering.blocking_time.as_secs_f64(),
        seconds_score: (t_score - t_read).as_secs_f64(),
        seconds_cluster: (t_total - t_score).as_secs_f64(),
        seconds_total: t_total.as_secs_f64(),
    })
}

fn write_pairs(path: &Path, ids: &[String], pairs: &[(f32, u32, u32)]) -> Result<(), String> {
    let err = |e: csv::Error| format!("写入失败 / write failed: {e}");
    let file = custos_files::private_files::create(path)
        .map_err(|e| format!("无法写入 {} / cannot write it: {e}", path.display()))?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(["record_id_a", "record_id_b", "score"])
        .map_err(err)?;
    for &(s, a, b) in pairs {
        w.write_record([
            neutralise(&ids[a as usize]).as_ref(),
            neutralise(&ids[b as usize]).as_ref(),
            &format!("{s:.4}"),
        ])
        .map_err(err)?;
    }
    w.flush()
        .map_err(|e| format!("写入失败 / write failed: {e}"))
}

/// One line for people: what was found and how long each stage took.
pub fn render(s: &DedupeSummary) -> String {
    format!(
        "{} records, {} blocks, {} candidate pairs ({} scored), {} pairs ≥ {}, {} clusters \
         ({} rows in groups); read {:.1}s, block+score {:.1}s (block {:.1}s), \
         cluster+write {:.1}s, total {:.1}s",
        s.records,
        s.blocking_keys,
        s.candidate_pairs,
        s.scored_pairs,
        s.matched_pairs,
        s.threshold,
        s.clusters,
        s.rows_in_groups,
        s.seconds_read,
        s.seconds_score,
        s.seconds_block,
        s.seconds_cluster,
        s.seconds_total
    )
}
