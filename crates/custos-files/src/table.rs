//! Reading an import file as a stream of rows: CSV in UTF-8 (with or without BOM) or
//! GBK/GB18030, and XLSX (first sheet or a named one). Rows are produced by a reader
//! thread into a bounded channel, so a file of any length is read in bounded memory.
//!
//! The first pass over a file ([`inspect`]) is in `table/inspect.rs`; the reader threads
//! of CSV and XLSX rows in `table/csv_rows.rs` and `table/xlsx_rows.rs`.

mod csv_rows;
mod inspect;
mod xlsx_rows;

use std::path::Path;

use tokio::sync::mpsc;

use custos_core::Violation;

use crate::error::{bad_file, FilesError, FilesResult};
use crate::import_limits::ImportLimits;
use crate::sealed::FileKey;

pub use inspect::inspect;
pub use xlsx_rows::{excel_serial_date, float_text};

/// Longest accepted cell (characters); longer cells reject their row.
pub const MAX_CELL_CHARS: usize = 10_000;
/// Most columns of a file.
pub const MAX_COLUMNS: usize = 500;
/// Rows looked at to find the header row (title rows above it are skipped).
const HEADER_SCAN_ROWS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

/// Text encodings of CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "gb18030")]
    Gb18030,
    /// Excel's "Unicode 文本" (Unicode Text): UTF-16 little-endian with a BOM, tabs.
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
}

impl TextEncoding {
    /// `utf-8`/`utf8`, `gbk`, `gb2312`, `gb18030` (GBK and GB2312 are subsets of GB18030),
    /// `utf-16`/`unicode`/`utf-16le`, `utf-16be`.
    pub fn parse(s: &str) -> FilesResult<TextEncoding> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" | "utf-8-sig" => Ok(TextEncoding::Utf8),
            "gbk" | "gb2312" | "gb18030" | "cp936" => Ok(TextEncoding::Gb18030),
            "utf-16" | "utf16" | "utf-16le" | "utf16le" | "unicode" | "ucs-2" => {
                Ok(TextEncoding::Utf16Le)
            }
            "utf-16be" | "utf16be" => Ok(TextEncoding::Utf16Be),
            other => Err(bad_file(
                "import.encoding_unknown",
                format!("不支持的编码“{other}”，可选 utf-8、gbk、gb18030、utf-16le、utf-16be"),
                format!(
                    "unsupported encoding '{other}'; use utf-8, gbk, gb18030, utf-16le or utf-16be"
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Gb18030 => "gb18030",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
        }
    }

    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Gb18030 => encoding_rs::GB18030,
            TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
            TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
        }
    }

    fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16Le | TextEncoding::Utf16Be)
    }
}

/// Cell separators of CSV (and tab-separated text) files.
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// `,`/`comma`, `tab`/`\t`, `;`/`semicolon`, `|`/`pipe`.
pub fn parse_delimiter(s: &str) -> FilesResult<char> {
    if s == "\t" {
        return Ok('\t');
    }
    match s.trim().to_ascii_lowercase().as_str() {
        "comma" | "," => Ok(','),
        "tab" | "\\t" => Ok('\t'),
        "semicolon" | ";" => Ok(';'),
        "pipe" | "|" => Ok('|'),
        other => Err(unknown_delimiter(other)),
    }
}

fn unknown_delimiter(given: &str) -> FilesError {
    FilesError::invalid(
        "delimiter",
        Violation::new(
            "import.delimiter_unknown",
            format!("不支持的分隔符“{given}”，可选 comma、tab、semicolon、pipe（, ; |）"),
            format!("unsupported delimiter '{given}'; use comma, tab, semicolon or pipe (, ; |)"),
        ),
    )
}

/// The byte of a delimiter the options give, if it is one of [`DELIMITERS`] (however
/// the options were made: the command line and the form parse names, a program may
/// give any character).
fn delimiter_byte(c: char) -> FilesResult<u8> {
    DELIMITERS
        .into_iter()
        .find(|d| char::from(*d) == c)
        .ok_or_else(|| unknown_delimiter(&c.to_string()))
}

/// How reports name a delimiter.
pub fn delimiter_name(d: u8) -> &'static str {
    match d {
        b'\t' => "tab",
        b';' => ";",
        b'|' => "|",
        _ => ",",
    }
}

/// What a first pass over the file found: its digest, size, encoding, approximate rows.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub sha256: String,
    pub bytes: u64,
    pub format: FileFormat,
    /// CSV only.
    pub encoding: Option<TextEncoding>,
    /// CSV only: the cell separator (given, or detected from the first lines).
    pub delimiter: u8,
    /// Lines (CSV) or sheet rows (XLSX), for progress; an estimate.
    pub approx_rows: u64,
}

/// One row of the source: its physical line/row number (1-based) and cells.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub line: u64,
    pub cells: Vec<String>,
}

/// An open file: its header and a stream of data rows after it. A row's error arrives
/// as `E`, the caller's error type (see [`open_table`]).
pub struct Table<E = FilesError> {
    pub headers: Vec<String>,
    pub header_line: u64,
    pub sheet: Option<String>,
    /// Data rows; an `Err` ends the stream (unreadable file part).
    pub rows: mpsc::Receiver<Result<SourceRow, E>>,
}

/// Normalise a header cell for matching: no spaces, required markers or line breaks.
pub fn header_key(h: &str) -> String {
    custos_core::normalize::to_half_width(h)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '\u{feff}')
        .collect::<String>()
        .to_lowercase()
}

/// Open the file and find its header: the row among the first ten with the most cells
/// `known` recognises (title rows above it are skipped). Errors of the rows after the
/// header reach the table's stream as `E`.
pub async fn open_table<E: From<FilesError> + Send + 'static>(
    path: &Path,
    key: &FileKey,
    facts: &FileFacts,
    sheet: Option<&str>,
    limits: &ImportLimits,
    known: impl Fn(&str) -> bool,
) -> FilesResult<Table<E>> {
    let (tx, mut rx) = mpsc::channel::<FilesResult<SourceRow>>(1024);
    let (sheet_tx, sheet_rx) = tokio::sync::oneshot::channel::<FilesResult<Option<String>>>();
    let (path, key) = (path.to_path_buf(), key.clone());
    match facts.format {
        FileFormat::Csv => {
            let enc = facts.encoding.unwrap_or(TextEncoding::Utf8);
            let delimiter = facts.delimiter;
            let record_limit = limits.row_bytes;
            let _ = sheet_tx.send(Ok(None));
            spawn_reader(tx, move |tx| {
                csv_rows::read_csv(&path, &key, enc, delimiter, record_limit, tx)
            });
        }
        FileFormat::Xlsx => {
            let sheet = sheet.map(str::to_string);
            spawn_reader(tx, move |tx| {
                xlsx_rows::read_xlsx(&path, &key, sheet, sheet_tx, tx)
            });
        }
    }
    // The sender is dropped unsent only when the reader panicked (see `spawn_reader`).
    let sheet = sheet_rx.await.map_err(|_| reader_failed())??;
    let mut first = Vec::new();
    while first.len() < HEADER_SCAN_ROWS {
        match rx.recv().await {
            Some(r) => first.push(r?),
            None => break,
        }
    }
    if first.is_empty() {
        return Err(bad_file(
            "import.file_empty",
            "文件没有任何数据行（连表头也没有）",
            "the file has no rows at all, not even a header",
        ));
    }
    let mut best = (0usize, 0usize);
    for (i, r) in first.iter().enumerate() {
        let n = r.cells.iter().filter(|c| known(&header_key(c))).count();
        if n > best.1 {
            best = (i, n);
        }
    }
    let (idx, _) = best;
    let mut rest = first.split_off(idx);
    let header = rest.remove(0);
    // Re-queue the rows read past the header in front of the stream.
    let (tx2, rx2) = mpsc::channel::<Result<SourceRow, E>>(1024);
    tokio::spawn(async move {
        for r in rest {
            if tx2.send(Ok(r)).await.is_err() {
                return;
            }
        }
        while let Some(r) = rx.recv().await {
            if tx2.send(r.map_err(E::from)).await.is_err() {
                return;
            }
        }
    });
    let mut headers: Vec<String> = header.cells.iter().map(|c| c.trim().to_string()).collect();
    while headers.last().is_some_and(|h| h.is_empty()) {
        headers.pop();
    }
    Ok(Table {
        headers,
        header_line: header.line,
        sheet,
        rows: rx2,
    })
}

fn too_many_columns(line: u64, n: usize) -> FilesError {
    bad_file(
        "import.too_many_columns",
        format!("第 {line} 行有 {n} 列，最多 {MAX_COLUMNS} 列"),
        format!("row {line} has {n} columns; at most {MAX_COLUMNS}"),
    )
}

/// Run a reader thread. A panic inside a file parser (hostile input meeting a defect of
/// ours or of a library) becomes an error row, so the consumer never takes a reader that
/// died for the end of the file and imports half of it as if it were all.
fn spawn_reader(
    tx: mpsc::Sender<FilesResult<SourceRow>>,
    read: impl FnOnce(mpsc::Sender<FilesResult<SourceRow>>) + Send + 'static,
) {
    std::thread::spawn(move || {
        let last_word = tx.clone();
        let run = std::panic::AssertUnwindSafe(move || read(tx));
        if std::panic::catch_unwind(run).is_err() {
            let _ = last_word.blocking_send(Err(reader_failed()));
        }
    });
}

/// The refusal of a file whose reader stopped on contents it could not make sense of.
fn reader_failed() -> FilesError {
    bad_file(
        "import.file_unreadable",
        "文件无法读取：其中的内容前后不一致",
        "the file cannot be read: its contents contradict each other",
    )
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn a_reader_that_panics_leaves_an_error_not_an_end_of_file() {
        let (tx, mut rx) = mpsc::channel::<FilesResult<SourceRow>>(4);
        spawn_reader(tx, |_tx| panic!("a parser defect"));
        match rx.blocking_recv() {
            Some(Err(FilesError::Invalid { violation, .. })) => {
                assert_eq!(violation.code, "import.file_unreadable")
            }
            _ => panic!("the reader's panic was taken for the end of the file"),
        }
        assert!(rx.blocking_recv().is_none());
    }
}
