//! Files an import gives back: the rejected rows (original cells plus one reason column
//! per failing field, ready to fix and re-import), the sampling file (抽查: source value
//! next to stored value), and the empty template.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rust_xlsxwriter::{DataValidation, Format, Workbook};

use crate::export::xlsx::XlsxStream;
use serde_json::Value;

use super::columns::{
    builtin_help, BUILTIN_COLUMNS, REASON_PREFIX, ROW_COLUMN, TEMPLATE_LEFT_OUT, WHOLE_ROW,
};
use super::ReportedRow;
use crate::csv_cell::neutralise;
use crate::customers::{CustomerType, SCALES};
use crate::error::{AppError, AppResult};
use crate::fields::{FieldDefinition, FieldType};
use custos_core::violation::Lang;

/// How a report file speaks. By default (the command line, the API) both languages and
/// the stored codes, as machines and mixed teams read them; for a person in one language
/// (the console), that language only, stored codes as business terms (企业客户, not
/// `enterprise`) and fields by their labels. The `原行号` and `错误:` columns keep their
/// names in every language: a re-import recognises them by these names.
#[derive(Debug, Clone, Default)]
pub struct Wording {
    pub lang: Option<Lang>,
    /// Header → (stored code → business term) for columns whose codes have terms.
    pub terms: HashMap<String, HashMap<String, String>>,
}

impl Wording {
    /// A text given in both languages, as this report speaks.
    pub fn pick(&self, zh: &str, en: &str) -> String {
        match self.lang {
            None => format!("{zh} / {en}"),
            Some(Lang::Zh) => zh.to_string(),
            Some(Lang::En) => en.to_string(),
        }
    }

    /// A stored value as shown under `header`.
    pub fn stored(&self, header: &str, value: String) -> String {
        self.terms
            .get(header)
            .and_then(|t| t.get(&value))
            .cloned()
            .unwrap_or(value)
    }

    /// The report column of a failure: the file's header, or for a field no column
    /// maps its catalog label in this report's language.
    fn column(&self, headers: &[String], e: &Value) -> String {
        let header = e.get("header").and_then(Value::as_str).unwrap_or(WHOLE_ROW);
        if self.lang != Some(Lang::En) || headers.iter().any(|h| h == header) {
            return header.to_string();
        }
        let field = e.get("field").and_then(Value::as_str).unwrap_or("");
        match field {
            "row" => "row".to_string(),
            f => crate::fields::builtin_labels(f.split('[').next().unwrap_or(f))
                .map(|(_, en)| en.clone())
                .unwrap_or_else(|| header.to_string()),
        }
    }
}

/// CSV or XLSX, from a file name's extension (CSV unless `.xlsx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Xlsx,
}

impl ReportFormat {
    pub fn of_path(p: &Path) -> ReportFormat {
        match p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
        {
            Some(e) if e == "xlsx" => ReportFormat::Xlsx,
            _ => ReportFormat::Csv,
        }
    }
}

fn io_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("cannot write report: {e}"))
}

/// A table writer over CSV (UTF-8 with BOM, so Excel opens it; cells guarded against
/// formulas, see [`crate::csv_cell`]) or XLSX, into a file or into memory. XLSX is streamed (see `export::xlsx`): memory stays that of one row, and
/// nothing is written but the output, not even a temporary file.
pub struct TableWriter {
    inner: Inner,
}

enum Inner {
    Csv(Box<csv::Writer<Out>>),
    /// The workbook starts at the first row, which is its header.
    XlsxWaiting(Out, &'static str),
    Xlsx(Box<XlsxStream<Out>>),
}

/// Where the bytes go.
enum Out {
    File(std::io::BufWriter<std::fs::File>),
    Memory(Vec<u8>),
}

impl std::io::Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::File(f) => f.write(buf),
            Out::Memory(v) => v.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::File(f) => f.flush(),
            Out::Memory(_) => Ok(()),
        }
    }
}

impl Out {
    /// The bytes of a table in memory; nothing for a file (flushed).
    fn end(self) -> AppResult<Vec<u8>> {
        match self {
            Out::File(f) => {
                f.into_inner().map_err(|e| io_err(e.error()))?;
                Ok(Vec::new())
            }
            Out::Memory(v) => Ok(v),
        }
    }
}

impl TableWriter {
    /// Write to the file at `path`.
    pub fn create(path: &Path, format: ReportFormat) -> AppResult<TableWriter> {
        let file = custos_store::private_files::create(path).map_err(io_err)?;
        TableWriter::with(format, Out::File(std::io::BufWriter::new(file)))
    }

    /// Build the file in memory; [`TableWriter::finish`] returns it.
    pub fn in_memory(format: ReportFormat) -> AppResult<TableWriter> {
        TableWriter::with(format, Out::Memory(Vec::new()))
    }

    fn with(format: ReportFormat, mut out: Out) -> AppResult<TableWriter> {
        let inner = match format {
            ReportFormat::Csv => {
                use std::io::Write;
                out.write_all(b"\xEF\xBB\xBF").map_err(io_err)?;
                Inner::Csv(Box::new(csv::Writer::from_writer(out)))
            }
            ReportFormat::Xlsx => Inner::XlsxWaiting(out, "报告"),
        };
        Ok(TableWriter { inner })
    }

    pub fn write_row<S: AsRef<str>>(&mut self, cells: &[S]) -> AppResult<()> {
        if matches!(self.inner, Inner::XlsxWaiting(..)) {
            // The first row: the workbook starts with it as the header of its sheets.
            let empty = Inner::XlsxWaiting(Out::Memory(Vec::new()), "");
            if let Inner::XlsxWaiting(out, sheet) = std::mem::replace(&mut self.inner, empty) {
                let headers: Vec<&str> = cells.iter().map(|c| c.as_ref()).collect();
                let book = XlsxStream::named(out, &headers, sheet).map_err(io_err)?;
                self.inner = Inner::Xlsx(Box::new(book));
            }
            return Ok(());
        }
        match &mut self.inner {
            Inner::Csv(w) => w
                .write_record(cells.iter().map(|c| neutralise(c.as_ref()).into_owned()))
                .map_err(io_err),
            Inner::Xlsx(book) => {
                let cells: Vec<String> = cells.iter().map(|c| c.as_ref().to_string()).collect();
                book.write_row(&cells).map_err(io_err)
            }
            Inner::XlsxWaiting(..) => Ok(()),
        }
    }

    /// End the table: the bytes of an in-memory table, nothing for a file.
    pub fn finish(self) -> AppResult<Vec<u8>> {
        match self.inner {
            Inner::Csv(w) => w.into_inner().map_err(|e| io_err(e.error()))?.end(),
            Inner::Xlsx(book) => book.finish().map_err(io_err)?.end(),
            Inner::XlsxWaiting(out, sheet) => XlsxStream::named(out, &[], sheet)
                .and_then(XlsxStream::finish)
                .map_err(io_err)?
                .end(),
        }
    }
}

fn reason_text(e: &Value, wording: &Wording) -> String {
    let zh = e.get("zh").and_then(Value::as_str).unwrap_or("");
    let en = e.get("en").and_then(Value::as_str).unwrap_or("");
    wording.pick(zh, en)
}

/// Reasons of a rejected or skipped row by report column (see [`Wording::column`]).
pub fn reasons(r: &ReportedRow, headers: &[String], wording: &Wording) -> Vec<(String, String)> {
    let errors = r
        .detail
        .get("errors")
        .cloned()
        .unwrap_or_else(|| r.detail.clone());
    match errors {
        Value::Array(a) => a
            .iter()
            .map(|e| (wording.column(headers, e), reason_text(e, wording)))
            .collect(),
        Value::Object(_) => vec![(
            wording.pick("重复", "Duplicate"),
            reason_text(&errors, wording),
        )],
        _ => Vec::new(),
    }
}

/// Write rejected (and skipped) rows to `path` (CSV or XLSX by its extension); see
/// [`rejected_table`].
pub fn write_rejected(path: &Path, headers: &[String], rows: &[ReportedRow]) -> AppResult<u64> {
    write_file(path, headers, rows, rejected_table)
}

type Table = fn(&mut TableWriter, &[String], &[ReportedRow], &Wording) -> AppResult<()>;

/// Write `table` of `rows` to `path`; returns the rows written.
fn write_file(
    path: &Path,
    headers: &[String],
    rows: &[ReportedRow],
    table: Table,
) -> AppResult<u64> {
    let mut w = TableWriter::create(path, ReportFormat::of_path(path))?;
    table(&mut w, headers, rows, &Wording::default())?;
    w.finish()?;
    Ok(rows.len() as u64)
}

/// Rejected (and skipped) rows: `原行号`, the original columns, then one `错误:<column>`
/// column per column that failed in any row.
pub fn rejected_table(
    w: &mut TableWriter,
    headers: &[String],
    rows: &[ReportedRow],
    wording: &Wording,
) -> AppResult<()> {
    let mut failing: BTreeSet<String> = BTreeSet::new();
    for r in rows {
        for (h, _) in reasons(r, headers, wording) {
            failing.insert(h);
        }
    }
    let failing: Vec<String> = failing.into_iter().collect();
    let mut head = vec![ROW_COLUMN.to_string()];
    head.extend(headers.iter().cloned());
    head.extend(failing.iter().map(|h| format!("{REASON_PREFIX}{h}")));
    w.write_row(&head)?;
    for r in rows {
        let mut line = vec![r.line.to_string()];
        let mut cells = r.cells.clone();
        cells.resize(headers.len(), String::new());
        line.extend(cells);
        let rs = reasons(r, headers, wording);
        for h in &failing {
            let text: Vec<&str> = rs
                .iter()
                .filter(|(x, _)| x == h)
                .map(|(_, t)| t.as_str())
                .collect();
            line.push(text.join("；"));
        }
        w.write_row(&line)?;
    }
    Ok(())
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join("、"),
        other => other.to_string(),
    }
}

/// Write the sampling file to `path` (CSV or XLSX by its extension); see
/// [`sample_table`].
pub fn write_sample(path: &Path, headers: &[String], rows: &[ReportedRow]) -> AppResult<u64> {
    write_file(path, headers, rows, sample_table)
}

/// The sampling file (抽查): per sampled row and mapped column, the source value next to
/// the stored one.
pub fn sample_table(
    w: &mut TableWriter,
    headers: &[String],
    rows: &[ReportedRow],
    wording: &Wording,
) -> AppResult<()> {
    let head = match wording.lang {
        None => [
            ROW_COLUMN,
            "客户编码 code",
            "字段 column",
            "源值 source",
            "库中值 stored",
            "一致 same",
        ],
        Some(Lang::Zh) => [ROW_COLUMN, "客户编码", "字段", "源值", "库中值", "一致"],
        Some(Lang::En) => ["Line", "Code", "Column", "Source", "Stored", "Same"],
    };
    w.write_row(&head)?;
    for r in rows {
        let stored = r.detail.get("stored").cloned().unwrap_or(Value::Null);
        for (i, h) in headers.iter().enumerate() {
            let Some(s) = stored.get(h) else { continue };
            let src = r
                .cells
                .get(i)
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            let st = wording.stored(h, value_text(s));
            let same = match (src == st, wording.lang) {
                (true, Some(Lang::En)) => "yes",
                (false, Some(Lang::En)) => "no",
                (true, _) => "是",
                (false, _) => "否",
            };
            w.write_row(&[
                r.line.to_string(),
                r.code.clone().unwrap_or_default(),
                h.clone(),
                src,
                st,
                same.to_string(),
            ])?;
        }
    }
    Ok(())
}

/// An empty import template: the catalog's headers, a help row, and drop-down lists for
/// select fields.
pub fn template_xlsx(types: &[CustomerType], custom: &[FieldDefinition]) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("客户").map_err(io_err)?;
    let bold = Format::new().set_bold();
    let help_fmt = Format::new().set_italic().set_font_color("#666666");
    let mut col: u16 = 0;
    let mut lists: Vec<(u16, Vec<String>)> = Vec::new();
    for (target, aliases) in BUILTIN_COLUMNS {
        if TEMPLATE_LEFT_OUT.contains(target) {
            continue;
        }
        let header = aliases[0];
        sheet
            .write_string_with_format(0, col, header, &bold)
            .map_err(io_err)?;
        let h = builtin_help(target);
        sheet
            .write_string_with_format(1, col, h, &help_fmt)
            .map_err(io_err)?;
        sheet.set_column_width(col, 16).map_err(io_err)?;
        match *target {
            "customer_type" => {
                lists.push((col, types.iter().map(|t| t.label_zh.clone()).collect()))
            }
            "scale" => lists.push((col, SCALES.iter().map(|s| s.1.to_string()).collect())),
            "status" => lists.push((col, vec!["正常".into(), "待审核".into(), "休眠".into()])),
            _ => {}
        }
        col += 1;
    }
    for d in custom {
        sheet
            .write_string_with_format(0, col, &d.label_zh, &bold)
            .map_err(io_err)?;
        sheet
            .write_string_with_format(1, col, &d.label_en, &help_fmt)
            .map_err(io_err)?;
        if matches!(d.field_type, FieldType::SingleSelect) && !d.allowed_values.is_empty() {
            lists.push((col, d.allowed_values.clone()));
        }
        col += 1;
    }
    for (c, values) in lists {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        if refs.is_empty() || refs.iter().map(|s| s.len() + 1).sum::<usize>() > 255 {
            continue;
        }
        let v = DataValidation::new()
            .allow_list_strings(&refs)
            .map_err(io_err)?;
        sheet
            .add_data_validation(2, c, 100_000, c, &v)
            .map_err(io_err)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(io_err)?;
    book.save_to_buffer().map_err(io_err)
}
